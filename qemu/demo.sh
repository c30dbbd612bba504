#!/bin/bash
# The SystemOTA demo (make demo): a QEMU device updates itself from version 1
# to version 2. Every boot's serial console is shown; lines from the applier in
# the initramfs start with "systemota:", lines from the device's own init with
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
	VM_ECHO=1 vm_boot "$work/disk.img" "$work/ctl" "$work/boot$1.log" |
		grep -v -e '^Starting systemd-udevd' -e '^$' -e '^\[' | sed 's/^/    | /'
}

rm -rf "$work" && mkdir -p "$work/ctl"
cp --sparse=always "$QEMU_BUILD/disk.img" "$work/disk.img"
cp "$QEMU_BUILD/v2.sota" "$work/ctl/"

say "The device: one disk, four GPT partitions, found by label"
sfdisk -l "$work/disk.img" | sed -n '/^Device/,$p' | sed 's/^/    /'
note "state: the boot-state record (two copies); a, b: root slots; data: ext4 with the drop-in directory"
note "Factory state: version 1 in slot A (good), slot B empty."

say "The update: version 2, signed with the development key"
"$sota" --config /dev/null --keys "$top/keys/trusted" bundle info "$work/ctl/v2.sota" | sed 's/^/    /'

say "Boot 1: version 1 runs; it stages the update with 'systemota stage', then reboots"
cat > "$work/ctl/step.sh" <<'STEP'
echo "demo: \$ systemota stage /ctl/v2.sota"
systemota stage /ctl/v2.sota
echo "demo: \$ systemota status"
systemota status
after=reboot
STEP
boot 1

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
	say "Boot 2: the initramfs applies the staged bundle into slot B and boots it on trial; the new system confirms itself"
	cat > "$work/ctl/step.sh" <<'STEP'
echo "demo: \$ systemota status"
systemota status
echo "demo: \$ systemota mark-good"
systemota mark-good
after=reboot
STEP
fi
boot 2

say "Boot 3: an ordinary reboot; the device stays on the confirmed version 2"
cat > "$work/ctl/step.sh" <<'STEP'
echo "demo: \$ systemota status --json"
systemota status --json
after=poweroff
STEP
boot 3

say "Checking the result from the host, on the disk image itself"
vm_part "$work/disk.img" "$STATE_START" "$STATE_SECTORS" "$work/state.img"
vm_part "$work/disk.img" "$SLOT_B_START" "$SLOT_SECTORS" "$work/slot-b.img"
status=$("$sota" --config /dev/null --state "$work/state.img" --slot-a /dev/zero --slot-b /dev/null \
	--data-dir /nonexistent status --json)
want=$(sha256sum < "$QEMU_BUILD/root-v2.img" | cut -d' ' -f1)
got=$(head -c "$(stat -c %s "$QEMU_BUILD/root-v2.img")" "$work/slot-b.img" | sha256sum | cut -d' ' -f1)
note "slot B sha256: $got"
note "root-v2.img:   $want"
if grep -q '"active": "B"' <<< "$status" && grep -q '"state": "idle"' <<< "$status" &&
	grep -q 'running version 2 from slot B' "$work/boot3.log" && [ "$got" = "$want" ]; then
	say "Done: the device runs version 2 from slot B, confirmed (state idle, active slot B)."
else
	say "FAILED: the device did not end on a confirmed version 2 in slot B"
	echo "$status"
	exit 1
fi
