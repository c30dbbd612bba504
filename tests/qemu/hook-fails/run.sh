#!/bin/bash
# Version 2's second post-install hook fails: the update is aborted before
# the switch, slot B is never tried, the reason names the hook, and version 1
# keeps running; the update is not retried.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
cp "$QEMU_BUILD/v2-bad-hook.sota" "$work/ctl/"
SESSION_FROM=factory session 'systemota stage /ctl/v2-bad-hook.sota; after=reboot' \
	'systemota status; after=reboot' 'after=poweroff'
[ "$(booted_sequence)" = "1A 1A 1A" ] || fail "booted: $(booted_sequence), expected 1A 1A 1A"
grep -q 'cannot convert the database' "$work/session.log" || fail "the failing hook did not run"
! grep -q 'trial boot of slot B' "$work/session.log" || fail "slot B was tried"
[ "$(grep -c 'installing version 2' "$work/session.log")" = 1 ] || fail "the update was retried"
history_has 'hook-failed +slot B +version 2 \(2.0-bad-hook\) +ECANCELED: post-install hook 20-fails failed \(exit 3\)'
expect_state '"state": "idle"' '"active": "A"' '"B": \{ "status": "incomplete"' \
	'"reason": "post-install hook 20-fails failed \(exit 3\)"'
finish
