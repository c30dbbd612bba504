# shellcheck shell=bash
# Booting the demo device once, for the demo and the QEMU tests (sourced).
#
#   vm_boot DISK CTL_DIR LOG [KERNEL_ARGS...]
#
# Makes an ext4 control disk from CTL_DIR (its step.sh tells the device's init
# what to do this boot, see qemu/rootfs/init), boots the device with QEMU
# (always -accel tcg), and returns when the guest powers off or reboots
# (-no-reboot turns a reboot into an exit, so each boot is one call). The
# serial console goes to LOG and, with VM_ECHO=1, to stdout as well.
# VM_TIMEOUT (default 240 s) bounds every boot; a timeout returns 124.

: "${QEMU_BUILD:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/qemu}"
: "${VM_TIMEOUT:=240}"

vm_ctl_image() { # vm_ctl_image DIR IMAGE
	local mib
	mib=$(($(du -sm "$1" | cut -f1) * 2 + 8))
	rm -f "$2"
	mkfs.ext4 -q -F -L ctl -d "$1" "$2" "${mib}M" > /dev/null
}

vm_boot() {
	local disk=$1 ctl=$2 log=$3
	shift 3
	local ctl_img=$log.ctl.img rc=0
	vm_ctl_image "$ctl" "$ctl_img"
	local cmd=(timeout --kill-after=10 "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -m 512 -smp 1
		-nodefaults -no-user-config -display none -serial stdio -no-reboot
		-kernel "$QEMU_BUILD/vmlinuz" -initrd "$QEMU_BUILD/initrd.img"
		-append "console=ttyS0 root=systemota ro quiet panic=-1 rd.emergency=reboot $*"
		-drive "file=$disk,format=raw,if=virtio"
		-drive "file=$ctl_img,format=raw,if=virtio,readonly=on")
	if [ "${VM_ECHO:-0}" = 1 ]; then
		"${cmd[@]}" < /dev/null 2>&1 | tr -d '\r' | tee "$log" || rc=${PIPESTATUS[0]}
	else
		"${cmd[@]}" < /dev/null > "$log" 2>&1 || rc=$?
		tr -d '\r' < "$log" > "$log.tmp" && mv "$log.tmp" "$log"
	fi
	rm -f "$ctl_img"
	return "$rc"
}

# vm_part DISK START SECTORS OUT: copies a partition of the disk image to a file.
vm_part() {
	dd if="$1" of="$4" bs=512 skip="$2" count="$3" status=none
}
