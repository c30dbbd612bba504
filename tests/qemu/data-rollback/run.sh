#!/bin/bash
# The data partition inside the transaction (docs/data-rollback.md). Version
# 2's post-install hook migrates app.conf; its trial writes 2 MiB, deletes a
# file and rewrites another, then marks itself bad. Version 1 boots on its
# data exactly as it left it: every file, and the partition's bytes after its
# last clean unmount (read before anything mounts it again).
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
cp "$QEMU_BUILD/v2-hooks.sota" "$work/ctl/"
: > "$work/ctl/data-digest"
# shellcheck disable=SC2016 # expanded in the guest
SESSION_FROM=factory session \
	'echo format=1 > /data/app.conf; head -c 2097152 /dev/urandom > /data/old.bin
	 systemota stage /ctl/v2-hooks.sota; sync; echo "TEST: files '"$DATA_FILES"'"
	 umount /data && echo "TEST: unmounted $(sha256sum < "$data" | cut -c1-64)"; after=reboot' \
	"$HOLD_WATCHDOG"'; echo "TEST: app.conf $(cat /data/app.conf)"; rm /data/old.bin; echo format=3 > /data/app.conf
	 head -c 2097152 /dev/urandom > /data/trial.bin; sync; systemota status
	 systemota mark-bad --reason "the trial failed its own test"; after=reboot' \
	'echo "TEST: files '"$DATA_FILES"'"; echo "TEST: app.conf $(cat /data/app.conf)"; systemota status'
[ "$(booted_sequence)" = "1A 2B 1A" ] || fail "booted: $(booted_sequence), expected 1A 2B 1A"
expect_log_in '^TEST: app.conf format=2$'
expect_log_in '^COW store: +[0-9]+ of 8192 KiB used'
expect_log_in '^systemota: rolling the data back to before version 2$'
expect_log_in '^systemota: data rolled back to before version 2 \([0-9]+ KiB merged in [0-9]+ ms\)$'
before=$(grep '^TEST: files ' "$work/session.log" | head -n 1 | cut -d' ' -f3)
after=$(last_value 'TEST: files')
if [ -z "$before" ] || [ "$before" != "$after" ]; then
	fail "the files differ: before $before, after $after"
fi
unmounted=$(last_value 'TEST: unmounted')
found=$(last_value 'demo: data partition digest')
if [ -z "$unmounted" ] || [ "$unmounted" != "$found" ]; then
	fail "the partition's bytes differ: after version 1's unmount $unmounted, at the rollback's boot $found"
fi
[ "$(last_value 'TEST: app.conf')" = format=1 ] || fail "app.conf is $(last_value 'TEST: app.conf'), not format=1"
expect_state '"state": "idle"' '"active": "A"' '"B": \{ "status": "bad"' '"data_checkpoint": "none"'
history_has 'data-rollback +slot B +version 2 .*: data rolled back to before version 2$' \
	'checkpoint +slot B +version 2 .*: the data checkpointed before version 2$'
expect_cow_reset
finish
