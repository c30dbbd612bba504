#!/bin/bash
# Version 2 carries a post-install hook that migrates a setting on the data
# partition: it runs in the initramfs, in the new slot, after the slot was
# verified and before the switch, with the documented environment; version 2
# then finds the setting migrated, writes a file, and confirms: the data
# keeps both (the checkpoint is dropped, not merged).
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
cp "$QEMU_BUILD/v2-hooks.sota" "$work/ctl/"
# shellcheck disable=SC2016 # expanded in the guest
SESSION_FROM=factory session \
	'echo format=1 > /data/app.conf; sync; systemota stage /ctl/v2-hooks.sota; after=reboot' \
	'echo "TEST: app.conf $(cat /data/app.conf)"; echo kept > /data/trial.txt; systemota mark-good; after=poweroff'
[ "$(booted_sequence)" = "1A 2B" ] || fail "booted: $(booted_sequence), expected 1A 2B"
expect_log_in 'systemota: post-install hook 10-migrate'
expect_log_in 'migrate: slot B, version 1 -> 2 \(2.0-hooks\)'
expect_log_in 'TEST: app.conf format=2'
# The hook ran before the switch: its lines come before the slot is tried.
[ "$(grep -n 'migrate: format=2' "$work/session.log" | cut -d: -f1)" -lt \
	"$(grep -n 'trial boot of slot B' "$work/session.log" | cut -d: -f1)" ] ||
	fail "the hook did not run before the switch"
expect_state '"state": "idle"' '"active": "B"' '"data_checkpoint": "none"'
# Confirmed: the trial's data is the data, and no checkpoint is left behind.
[ "$(data_file /app.conf)" = format=2 ] || fail "app.conf on the disk: $(data_file /app.conf)"
[ "$(data_file /trial.txt)" = kept ] || fail "the trial's file is not on the disk"
expect_cow_reset
finish
