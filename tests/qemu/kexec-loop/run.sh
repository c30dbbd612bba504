#!/bin/bash
# Version 2 carries its own kernel, but its /boot/systemota-boot-id
# (v2-loop-kernel) is not the id its own initramfs has (v2-kernel): in that
# kernel the slot still looks like one "with another kernel", and a second
# kexec would follow the first, and so on forever (no try counted, the
# watchdog petted each round). At most one kexec per cold boot: the slot's
# initramfs refuses the second one, records the failed try and reboots; the
# next cold boot counts the next try, and after the last (2 here,
# systemota.tries=2, to keep make check short) the device rolls back to slot A
# with the reason recorded.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# Two cold boots, each two kernels, then slot A: a loop runs into this bound.
export VM_TIMEOUT=${KEXEC_LOOP_TIMEOUT:-900} SESSION_APPEND=systemota.tries=2
cp "$QEMU_BUILD/v2-loop-kernel.sota" "$work/ctl/"
SESSION_FROM=factory session 'systemota stage /ctl/v2-loop-kernel.sota; after=reboot' \
	'systemota status; after=poweroff'
log=$work/session.log
[ "$(booted_sequence)" = "1A 1A" ] || fail "booted: $(booted_sequence), expected 1A 1A"
# A cold boot begins where the boot kernel's applier decides ("state: ...");
# the kexec'd initramfs does not decide. Count the kexecs between two decisions.
most=$(awk '/systemota: state: / { n = 0 } /carries its own kernel .*: starting it/ { if (++n > m) m = n }
	END { print m + 0 }' "$log")
[ "$most" = 1 ] || fail "$most kexecs in one cold boot, expected at most 1"
starts=$(grep -c 'slot B carries its own kernel (boot id v2-loop-kernel): starting it' "$log")
[ "$starts" = 2 ] || fail "slot B's kernel was started $starts times, expected 2 (one per try)"
for t in 1 0; do
	[ "$(grep -c "trial boot of slot B: $t more tries after this one" "$log")" = 1 ] ||
		fail "the try leaving $t was not counted exactly once"
done
refused='systemota: error: second kexec in one boot refused \(boot id v2-loop-kernel, initramfs v2-kernel\)'
[ "$(grep -cE "$refused" "$log")" = 2 ] || fail "the second kexec was not refused exactly 2 times"
expect_log_in 'systemota: error: slot B failed try 1 of 2; rebooting'
expect_log_in 'systemota: error: slot B failed try 2 of 2 and is rolled back to slot A; rebooting'
history_has 'trial-failed +slot B .*try 1 of 2: second kexec in one boot refused' \
	'rollback +slot B .*failed try 2 of 2, rolled back to slot A: second kexec in one boot refused'
expect_state '"state": "idle"' '"active": "A"' '"B": \{ "status": "bad"' \
	'"last_error": \{ "code": "[^"]*", "errno": 40, "reason": "slot B .*try 2 of 2, rolled back to slot A: second kexec'
expect_slot_holds A "$QEMU_BUILD/root-v1.img"
finish
