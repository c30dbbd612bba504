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

: "${QEMU_BUILD:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/qemu$([ "${ARCH:-}" = arm64 ] && echo -arm64)$([ "${BOOT:-}" = uefi ] && echo -uefi)}"
: "${VM_TIMEOUT:=240}"
# ARCH=arm64: Debian's U-Boot for QEMU's virt board (package u-boot-qemu).
: "${VM_UBOOT:=/usr/lib/u-boot/qemu_arm64/u-boot.bin}"
# Kernel arguments of every boot; the platform's own (e.g. ramoops) go here.
: "${VM_APPEND:=}"
# The kernel command line both kinds of boot start with. mitigations=off: the
# CPU vulnerability mitigations cost ~0.7 s of a ~11.5 s boot under TCG (the
# emulated CPU has none of those flaws to mitigate); nothing the tests look at
# depends on them. watchdog.stop_on_reboot=0: the watchdog armed for a trial
# keeps running across the kexec into a slot's own kernel (the watchdog core
# would stop it at the kexec, and a hanging kernel would hang the device for
# good: tests/qemu/kernel-update-hang).
VM_CMDLINE="console=ttyS0 root=systemota ro quiet panic=-1 rd.emergency=reboot mitigations=off watchdog.stop_on_reboot=0"

vm_ctl_image() { # vm_ctl_image DIR IMAGE
	local mib
	mib=$(($(du -sm "$1" | cut -f1) * 2 + 8))
	rm -f "$2"
	mkfs.ext4 -q -F -L ctl -d "$1" "$2" "${mib}M" > /dev/null
}

# vm_machine DISK KERNEL_ARGS: sets VM_MACHINE to the QEMU command of this
# ARCH up to its firmware or kernel, for a boot with KERNEL_ARGS added to the
# command line. x86_64: QEMU loads the kernel and initramfs itself. arm64:
# U-Boot, as the firmware, loads them from the disk's boot partition, and the
# command line is that partition's extlinux.conf (qemu/extlinux.conf). A test
# boot with arguments of its own gets them written into the disk's copy of
# that file first (mtools, offset BOOT_START), and the next boot without any
# gets the original back; the demo passes none, and checks at its end that
# the boot partition never changed.
# BOOT=uefi: OVMF loads systemd-boot from the EFI system partition, which
# loads the kernel and initramfs of its one entry
# (qemu/systemd-boot/systemota.conf, whose options line gets a test boot's
# arguments the same way). The firmware's variable store is the disk's own,
# DISK.ovmf-vars.fd, made from the device's empty one on the first boot and
# kept from boot to boot as a board's flash keeps it.
VM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${VM_OVMF_CODE:=/usr/share/OVMF/OVMF_CODE_4M.fd}"
vm_machine() {
	local disk=$1 args=$2 src dst key
	if [ "${ARCH:-x86_64}" = arm64 ]; then
		src=$VM_TOP/qemu/extlinux.conf dst=::/extlinux/extlinux.conf key=append
	elif [ "${BOOT:-}" = uefi ]; then
		src=$VM_TOP/qemu/systemd-boot/systemota.conf dst=::/loader/entries/systemota.conf key=options
	else
		VM_MACHINE=(qemu-system-x86_64 -accel tcg -kernel "$QEMU_BUILD/vmlinuz" -initrd "$QEMU_BUILD/initrd.img"
			-append "$VM_CMDLINE $args")
		return 0
	fi
	local part=$disk@@$((${BOOT_START:?vm_machine: no boot partition in this layout} * 512)) conf=$disk.bootconf
	if [ -n "${args// /}" ]; then
		awk -v key="$key" -v args="$args" '$1 == key { $0 = $0 " " args } { print }' "$src" > "$conf"
		mcopy -o -i "$part" "$conf" "$dst" || return 1
	elif [ -f "$conf" ]; then
		mcopy -o -i "$part" "$src" "$dst" || return 1
		rm -f "$conf"
	fi
	if [ "${ARCH:-x86_64}" = arm64 ]; then
		VM_MACHINE=(qemu-system-aarch64 -accel tcg -M virt -cpu cortex-a72 -bios "$VM_UBOOT")
		return 0
	fi
	[ -f "$disk.ovmf-vars.fd" ] || cp "$QEMU_BUILD/ovmf-vars.fd" "$disk.ovmf-vars.fd" || return 1
	VM_MACHINE=(qemu-system-x86_64 -accel tcg
		-drive "if=pflash,format=raw,unit=0,readonly=on,file=$VM_OVMF_CODE"
		-drive "if=pflash,format=raw,unit=1,file=$disk.ovmf-vars.fd")
}

# vm_drives DISK_FILE CTL_FILE CTL_OPTS: sets VM_DRIVES to the two disks'
# QEMU arguments. BOOT=uefi pins both to PCI addresses of their own: the
# firmware keeps its boot entries by device path and drops the ones whose
# device moved, and a power-cut boot (no watchdog device before the disks)
# would otherwise move the disk, leaving the next boot in the UEFI shell.
vm_drives() {
	if [ "${BOOT:-}" = uefi ]; then
		VM_DRIVES=(-drive "if=none,id=disk,file=$1,format=raw" -device "virtio-blk-pci,drive=disk,addr=0x10"
			-drive "if=none,id=ctl,file=$2,format=raw$3" -device "virtio-blk-pci,drive=ctl,addr=0x11")
	else
		VM_DRIVES=(-drive "file=$1,format=raw,if=virtio" -drive "file=$2,format=raw,if=virtio$3")
	fi
}

vm_boot() {
	local disk=$1 ctl=$2 log=$3
	shift 3
	local ctl_img=$log.ctl.img rc=0
	vm_ctl_image "$ctl" "$ctl_img"
	# VM_SESSION=1: the guest reboots in place (RAM, the watchdog's reset flag and
	# pstore survive, as on hardware) until it powers off; otherwise a reboot ends QEMU.
	local reboot=-no-reboot ctl_ro=,readonly=on
	# ... and its init counts the boots on the control disk, which it may write.
	[ "${VM_SESSION:-0}" = 1 ] && reboot='' ctl_ro=
	vm_machine "$disk" "$VM_APPEND $*" || return 2
	vm_drives "$disk" "$ctl_img" "$ctl_ro"
	local cmd=(timeout --kill-after=10 "$VM_TIMEOUT" "${VM_MACHINE[@]}"
		-m 512 -smp 1 -nodefaults -no-user-config -display none -serial stdio ${reboot:+"$reboot"}
		-device i6300esb -action watchdog=reset "${VM_DRIVES[@]}")
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

# vm_boot_cut DISK CTL_DIR LOG CUT [KERNEL_ARGS...]: one boot whose power is cut.
#
# The disk is served by nbdkit through its cache filter in write-back mode,
# so a write the guest did not flush lives only in nbdkit's cache; killing
# nbdkit (first) and QEMU (SIGKILL both) loses it, as a power cut loses what
# a disk's volatile cache held. Flushed writes are in the disk image.
# CUT is "testpoint:NAME" (cut when the console shows "TESTPOINT NAME"; the
# caller arms it on the kernel command line), "after:SECONDS", or
# "after:SECONDS:PATTERN" (SECONDS after a console line matches). Returns 0
# when the power was cut, 3 when the guest stopped by itself first.
vm_boot_cut() {
	local disk=$1 ctl=$2 log=$3 cut=$4
	shift 4
	local ctl_img=$log.ctl.img sock=$log.nbd cache=$log.cache rc=3
	vm_ctl_image "$ctl" "$ctl_img"
	vm_machine "$disk" "$*" || return 2
	rm -rf "$sock" "$cache" && mkdir -p "$cache"
	TMPDIR=$cache nbdkit --foreground --exit-with-parent --unix "$sock" \
		--filter=cache file "$disk" cache=writeback 2> "$log.nbdkit" &
	local npid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	: > "$log" # before QEMU's shell opens it: the loops below read it at once
	vm_drives "nbd:unix:$sock" "$ctl_img" ,readonly=on
	"${VM_MACHINE[@]}" -m 512 -smp 1 -nodefaults -no-user-config -display none \
		-serial stdio -no-reboot "${VM_DRIVES[@]}" < /dev/null > "$log" 2>&1 &
	local qpid=$! deadline=$((SECONDS + VM_TIMEOUT))
	case $cut in
	testpoint:*)
		while kill -0 "$qpid" 2> /dev/null && [ "$SECONDS" -lt "$deadline" ]; do
			if grep -q "TESTPOINT ${cut#testpoint:}" "$log"; then
				rc=0
				break
			fi
			sleep 0.05
		done
		;;
	after:*)
		# after:SECONDS, or after:SECONDS:PATTERN (counted from the console line).
		local spec=${cut#after:} secs pattern="" until_ms now_ms
		secs=${spec%%:*}
		[[ $spec == *:* ]] && pattern=${spec#*:}
		while [ -n "$pattern" ] && kill -0 "$qpid" 2> /dev/null &&
			[ "$SECONDS" -lt "$deadline" ] && ! grep -q -- "$pattern" "$log"; do
			sleep 0.02
		done
		until_ms=$(($(date +%s%3N) + $(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000 }')))
		while kill -0 "$qpid" 2> /dev/null; do
			now_ms=$(date +%s%3N)
			if [ "$now_ms" -ge "$until_ms" ]; then
				rc=0
				break
			fi
			sleep 0.02
		done
		;;
	esac
	# The cut: the write-back cache goes first, so nothing more reaches the image.
	kill -KILL "$npid" "$qpid" 2> /dev/null
	wait "$qpid" "$npid" 2> /dev/null
	tr -d '\r' < "$log" > "$log.tmp" && mv "$log.tmp" "$log"
	rm -rf "$ctl_img" "$sock" "$cache"
	return "$rc"
}
