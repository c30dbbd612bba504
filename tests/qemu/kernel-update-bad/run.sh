#!/bin/bash
# Version 2 carries a kernel whose initramfs is garbage: after the kexec the
# new kernel cannot boot the slot and panics; each such boot was counted, so
# after the tries (2 here, systemota.tries=2, to keep make check short) the
# factory initramfs rolls back and version 1 runs again.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# Four boots, two of them two kernels, in one QEMU session (with 3 tries the default
# bound, 240 s, was nearly reached on a loaded 2-core machine).
export VM_TIMEOUT=${KERNEL_UPDATE_TIMEOUT:-600} SESSION_APPEND=systemota.tries=2
cp "$QEMU_BUILD/v2-bad-kernel.sota" "$work/ctl/"
SESSION_FROM=factory session 'systemota stage /ctl/v2-bad-kernel.sota; after=reboot' \
	'systemota history; after=poweroff'
[ "$(booted_sequence)" = "1A 1A" ] || fail "booted: $(booted_sequence), expected 1A 1A"
[ "$(grep -c 'carries its own kernel (boot id v2-bad-kernel): starting it' "$work/session.log")" = 2 ] ||
	fail "the bad kernel was not started exactly 2 times"
history_has 'kexec +slot B' 'trial-failed .*try 2 of 2' \
	'rollback +slot B .*not confirmed after 2 trial boots; rolled back to slot A'
expect_state '"state": "idle"' '"active": "A"' '"B": \{ "status": "bad"'
expect_slot_holds A "$QEMU_BUILD/root-v1.img"
finish
