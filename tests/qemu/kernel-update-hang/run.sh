#!/bin/bash
# Version 2 carries a kernel that hangs once started: its initramfs sleeps
# forever and never opens the watchdog. The watchdog the factory initramfs
# armed for the try must still be running across the kexec and reset the
# device: each such boot is a failed try ("reset by the watchdog"), and after
# the tries (2 here: systemota.tries=2 on the command line, to keep make check
# short) the factory initramfs rolls back and version 1 runs again.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# Four boots, two of them two kernels and a watchdog timeout, in one QEMU session.
# The watchdog at 35 s (systemota.watchdog-timeout=, not the demo's 60 s): the
# slot kernel reaches its initramfs well within it (18 s from the kexec here).
export VM_TIMEOUT=${KERNEL_UPDATE_TIMEOUT:-600} SESSION_APPEND='systemota.watchdog-timeout=35 systemota.tries=2'
cp "$QEMU_BUILD/v2-hang-kernel.sota" "$work/ctl/"
SESSION_FROM=factory session 'systemota stage /ctl/v2-hang-kernel.sota; after=reboot' \
	'systemota history; after=poweroff'
[ "$(booted_sequence)" = "1A 1A" ] || fail "booted: $(booted_sequence), expected 1A 1A"
[ "$(grep -c '^TEST: the slot kernel hangs$' "$work/session.log")" = 2 ] ||
	fail "the hanging kernel did not run exactly 2 times"
history_has 'trial-failed .*try 1 of 2: reset by the watchdog' \
	'trial-failed .*try 2 of 2: reset by the watchdog' \
	'rollback +slot B .*not confirmed after 2 trial boots; rolled back to slot A'
expect_state '"state": "idle"' '"active": "A"' '"B": \{ "status": "bad"'
expect_log_in 'watchdog /dev/watchdog armed: 35 s to confirm'
expect_slot_holds A "$QEMU_BUILD/root-v1.img"
finish
