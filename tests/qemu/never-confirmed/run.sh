#!/bin/bash
# Version 2 is installed but never confirms (its init powers off without
# mark-good). It gets exactly `tries` (3) boots; the next boot rolls back to
# version 1 in slot A, marks B bad and says why; the update is not retried.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
cp "$QEMU_BUILD/v2.sota" "$work/ctl/"

boot 1 'systemota stage /ctl/v2.sota; after=reboot'
expect_booted 1 1 A
for n in 2 3 4; do
	boot $n 'systemota status'
	expect_booted $n 2 B
done
expect_log 2 'trial boot of slot B: 2 more tries'
expect_log 4 'trial boot of slot B: 0 more tries'

boot 5 'systemota status'
expect_booted 5 1 A
expect_log 5 'not confirmed after 3 trial boots; rolled back to slot A'
expect_log 5 'Last error: +ETIMEDOUT: slot B \(version 2\) not confirmed after 3 trial boots'
expect_state '"state": "idle"' '"active": "A"' '"B": \{ "status": "bad"' '"code": "ETIMEDOUT"' \
	'"last_failed": "[0-9a-f]{64}"'
expect_slot_holds A "$QEMU_BUILD/root-v1.img"

boot 6 'true'
expect_booted 6 1 A
expect_log 6 'failed before'
expect_no_log 6 '^systemota: installing'
finish
