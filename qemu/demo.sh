#!/bin/bash
# The SystemOTA demo (make demo): a QEMU device updates itself from version 1
# to version 2, whose hook migrates the device's settings; then version 3,
# broken, migrates them again and fails its health check on its first trial,
# and the device returns to version 2 with version 2's data exactly as it was.
# Every boot's serial console is shown; lines from the applier in the
# initramfs start with "systemota:", lines from the device's own init with
# "demo:".
#
# FLAVOUR=debian: the device runs systemd Debian 12 root filesystems, and the
# new version confirms itself through systemota-confirm.service.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
FLAVOUR=${FLAVOUR:-busybox}
if [ "$FLAVOUR" = debian ]; then
	work=$top/build/demo-debian
	export QEMU_BUILD=$top/build/qemu-debian
	# A 250 MiB image and systemd under TCG: a boot can take minutes.
	export VM_TIMEOUT=${VM_TIMEOUT:-900}
elif [ "${ARCH:-x86_64}" = arm64 ]; then
	work=$top/build/demo-arm64
elif [ "${BOOT:-}" = uefi ]; then
	work=$top/build/demo-uefi
else
	work=$top/build/demo
fi
# shellcheck source=layout.sh
. "$top/qemu/layout.sh"
# shellcheck source=vm.sh
. "$top/qemu/vm.sh"
sota=$top/build/systemota

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
note() { printf '    %s\n' "$*"; }

boot() { # boot N: boots the device once with $work/ctl/step.sh, echoing its console
	VM_ECHO=1 vm_boot "$work/disk.img" "$work/ctl" "$work/boot$1.log" | sed 's/\x1b\[[0-9;=]*[A-Za-z]//g' |
		grep -v -e '^Starting systemd-udevd' -e '^$' -e '^\[' -e '^demo: boot [0-9]*, step ' | sed 's/^/    | /'
}

rm -rf "$work" && mkdir -p "$work/ctl"
cp --sparse=always "$QEMU_BUILD/disk.img" "$work/disk.img"
v2=v2
[ "$FLAVOUR" = debian ] || v2='v2-hooks' # the busybox device's data is checkpointed
cp "$QEMU_BUILD/$v2.sota" "$work/ctl/v2.sota"
[ "$FLAVOUR" = debian ] || cp "$QEMU_BUILD/v3-broken.sota" "$work/ctl/v3.sota"

say "The device: one disk, GPT partitions found by label"
sfdisk -l "$work/disk.img" | sed -n '/^Device/,$p' | sed 's/^/    /'
note "state: the boot-state record (two copies); a, b: root slots; data: ext4 with the drop-in directory"
[ "$FLAVOUR" = debian ] || note "cow: the data checkpoint's store: a failed update's changes to the data are rolled back"
if [ "${BOOT:-}" = uefi ]; then
	note "boot: the EFI system partition (FAT), read by OVMF and systemd-boot (EFI/BOOT/BOOTX64.EFI, loader/, vmlinuz, initrd.img); nothing writes it"
elif [ -n "${BOOT_START:-}" ]; then
	note "boot: FAT, read by U-Boot's distro boot (extlinux/extlinux.conf, vmlinuz, initrd.img); nothing writes it"
fi
note "Factory state: version 1 in slot A (good), slot B empty."

say "The update: version 2, signed with the development key"
"$sota" --config /dev/null --keys "$top/keys/trusted" bundle info "$work/ctl/v2.sota" | sed 's/^/    /'

say "Boot 1: version 1 runs; it stages the update with 'systemota stage', then reboots"
cat > "$work/ctl/step.sh" <<'STEP'
echo format=1 > /data/app.conf
echo "demo: the device's settings: /data/app.conf says $(cat /data/app.conf)"
echo "demo: \$ systemota stage /ctl/v2.sota"
systemota stage /ctl/v2.sota
echo "demo: \$ systemota status"
systemota status
after=reboot
STEP
boot 1
# BOOT=uefi: the firmware's variables after the first boot, when OVMF has
# made its boot entries; from then on only its own boot counter may change.
[ "${BOOT:-}" != uefi ] || perl "$top/qemu/efivars.pl" "$work/disk.img.ovmf-vars.fd" > "$work/efivars-before"

if [ "$FLAVOUR" = debian ]; then
	say "Boot 2: the initramfs applies the staged bundle into slot B and boots it on trial; systemd's systemota-confirm.service runs the health checks and confirms it"
	cat > "$work/ctl/step.sh" <<'STEP'
echo "demo: \$ journalctl -b -u systemota-confirm.service"
journalctl -b -o cat -u systemota-confirm.service --no-pager
echo "demo: \$ systemota status"
systemota status
after=reboot
STEP
else
	say "Boot 2: the initramfs applies the staged bundle into slot B, checkpoints the data, runs version 2's hook (it migrates app.conf) and boots slot B on trial; the new system confirms itself"
	cat > "$work/ctl/step.sh" <<'STEP'
echo "demo: /data/app.conf says $(cat /data/app.conf)"
echo "version 2's own data" > /data/notes.txt
echo "demo: \$ systemota status"
systemota status
echo "demo: \$ systemota mark-good"
systemota mark-good
after=reboot
STEP
fi
boot 2

say "Boot 3: an ordinary reboot; the device stays on the confirmed version 2"
last=3
if [ "$FLAVOUR" = debian ]; then
	cat > "$work/ctl/step.sh" <<'STEP'
echo "demo: \$ systemota status --json"
systemota status --json
after=poweroff
STEP
	boot 3
else
	# shellcheck disable=SC2016 # expanded in the guest
	files='$(cd /data && find . -path ./lost+found -prune -o -type f ! -name ".demo-boots-*" -print | sort | xargs sha256sum | sha256sum | cut -c1-64)'
	cat > "$work/ctl/step.sh" <<STEP
echo "demo: /data/app.conf says \$(cat /data/app.conf); notes.txt says \$(cat /data/notes.txt)"
echo "demo: \\$ systemota stage /ctl/v3.sota   (version 3: it will fail its health check)"
systemota stage /ctl/v3.sota
sync
echo "demo: every file on /data, digested: $files"
after=reboot
STEP
	boot 3
	say "Boot 4: version 3 is installed; its hook migrates app.conf on the checkpointed data; on trial it rewrites the data, then its health check fails and it marks itself bad"
	cat > "$work/ctl/step.sh" <<'STEP'
echo "demo: /data/app.conf says $(cat /data/app.conf)"
echo "version 3 rewrote this" > /data/notes.txt; head -c 1048576 /dev/urandom > /data/v3-cache.bin; sync
echo "demo: \$ /usr/lib/systemota/confirm"
SYSTEMOTA_REBOOT=true /usr/lib/systemota/confirm
after=reboot
STEP
	boot 4
	say "Boot 5: the initramfs merges the checkpoint back before version 2 starts: version 2 finds its data exactly as it left it"
	cat > "$work/ctl/step.sh" <<STEP
echo "demo: /data/app.conf says \$(cat /data/app.conf); notes.txt says \$(cat /data/notes.txt); v3-cache.bin: \$(ls /data/v3-cache.bin 2>&1 | sed 's/.*: //')"
echo "demo: every file on /data, digested: $files"
echo "demo: \\$ systemota history"
systemota history | tail -n 6
echo "demo: \\$ systemota status --json"
systemota status --json
after=poweroff
STEP
	boot 5
	last=5
	before=$(sed -n 's/^demo: every file on \/data, digested: //p' "$work/boot3.log")
	after=$(sed -n 's/^demo: every file on \/data, digested: //p' "$work/boot5.log")
	note "every file on /data before version 3: $before"
	note "every file on /data after its rollback: $after"
	if [ -z "$before" ] || [ "$before" != "$after" ] || ! grep -q 'running version 2 from slot B' "$work/boot5.log"; then
		say "FAILED: version 2 did not come back on its own data"
		exit 1
	fi
fi

say "Checking the result from the host, on the disk image itself"
vm_part "$work/disk.img" "$STATE_START" "$STATE_SECTORS" "$work/state.img"
vm_part "$work/disk.img" "$SLOT_B_START" "$SLOT_SECTORS" "$work/slot-b.img"
status=$("$sota" --config /dev/null --state "$work/state.img" --slot-a /dev/zero --slot-b /dev/null \
	--data-dir /nonexistent status --json)
if [ -n "${BOOT_START:-}" ]; then
	# The bootloader's partition is never written: the same kernel and
	# initramfs on every boot, before and after every update.
	vm_part "$QEMU_BUILD/disk.img" "$BOOT_START" "$BOOT_SECTORS" "$work/boot-factory.img"
	vm_part "$work/disk.img" "$BOOT_START" "$BOOT_SECTORS" "$work/boot-after.img"
	boot_before=$(sha256sum < "$work/boot-factory.img" | cut -d' ' -f1)
	boot_after=$(sha256sum < "$work/boot-after.img" | cut -d' ' -f1)
	note "boot partition sha256, factory:     $boot_before"
	note "boot partition sha256, after it all: $boot_after"
	if [ "${BOOT:-}" = uefi ]; then
		note "OVMF started the EFI system partition's loader (systemd-boot) in $(cat "$work"/boot*.log | grep -c 'BdsDxe: starting Boot[0-9A-F]* "UEFI Misc Device"') boots, and it the kernel of its one entry (/vmlinuz, /initrd.img)"
	else
		note "U-Boot loaded /vmlinuz and /initrd.img from it in $(cat "$work"/boot*.log | grep -c '^Retrieving file: /vmlinuz$') boots"
	fi
	if [ "$boot_before" != "$boot_after" ]; then
		say "FAILED: the boot partition changed"
		exit 1
	fi
fi
if [ "${BOOT:-}" = uefi ]; then
	# The firmware's variable store: from boot 1 (OVMF's own boot entries
	# made) to the end, nothing changes in it but MTC, the monotonic counter
	# the firmware itself raises on every boot. No boot entry, no BootNext,
	# no systemd-boot variable: SystemOTA writes none.
	perl "$top/qemu/efivars.pl" "$work/disk.img.ovmf-vars.fd" > "$work/efivars-after"
	mtc() { sed -n 's/^eb704011-1402-11d3-8e77-00a0c969723b MTC .* \([0-9a-f]*\)$/\1/p' "$1"; }
	vars_before=$(grep -v ' MTC ' "$work/efivars-before" | sha256sum | cut -d' ' -f1)
	vars_after=$(grep -v ' MTC ' "$work/efivars-after" | sha256sum | cut -d' ' -f1)
	note "OVMF variables after boot 1:  $(wc -l < "$work/efivars-before") live, sha256 of all but MTC $vars_before (MTC $(mtc "$work/efivars-before"))"
	note "OVMF variables after it all:  $(wc -l < "$work/efivars-after") live, sha256 of all but MTC $vars_after (MTC $(mtc "$work/efivars-after"))"
	if [ "$vars_before" != "$vars_after" ]; then
		say "FAILED: an EFI variable changed"
		diff "$work/efivars-before" "$work/efivars-after" | sed 's/^/    /'
		exit 1
	fi
fi
image=$QEMU_BUILD/root-$v2.img
want=$(sha256sum < "$image" | cut -d' ' -f1)
got=$(head -c "$(stat -c %s "$image")" "$work/slot-b.img" | sha256sum | cut -d' ' -f1)
note "slot B sha256: $got"
note "root-$v2.img:   $want"
if grep -q '"active": "B"' <<< "$status" && grep -q '"state": "idle"' <<< "$status" &&
	grep -q 'running version 2 from slot B' "$work/boot$last.log" && [ "$got" = "$want" ]; then
	say "Done: the device runs version 2 from slot B, confirmed (state idle, active slot B)$([ "$FLAVOUR" = debian ] || echo ", on its own data after version 3's rollback")."
else
	say "FAILED: the device did not end on a confirmed version 2 in slot B"
	echo "$status"
	exit 1
fi
