#!/bin/bash
# A clean reboot during the trial, before the new system decided (here: its
# shutdown path runs /etc/init.d/systemota stop): the try is given back, so
# the next trial boot again has 2 of 3 tries left; then it confirms.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
session 'systemota status --json | grep tries_left; /etc/init.d/systemota stop; after=reboot' \
	'systemota status --json | grep tries_left; /etc/init.d/systemota start; after=poweroff'
[ "$(booted_sequence)" = "2B 2B" ] || fail "booted: $(booted_sequence), expected 2B 2B"
[ "$(grep -c '"tries_left": 2,' "$work/session.log")" = 2 ] ||
	fail "the second trial boot did not get the try back"
history_has 'clean-reboot +slot B +version 2 \(2.0\): clean shutdown before deciding: the try is given back' \
	'confirmed +slot B +version 2'
! grep -q "ended badly" "$work/session.log" || fail "a clean reboot was taken for a failed try"
expect_state '"state": "idle"' '"active": "B"' '"B": \{ "status": "good", "version": 2'
finish
