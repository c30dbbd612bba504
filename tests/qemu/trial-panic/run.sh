#!/bin/bash
# A new version whose kernel panics (as a crashing driver would): each panic
# reboots (panic=), the try was counted before the boot, and the panic
# message, kept in pstore (ramoops), is named in the history. After 3 tries
# the device runs version 1 from slot A again.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck disable=SC2016 # expanded in the guest
panic='[ "$version" = 2 ] && { echo "TEST: panicking"; echo c > /proc/sysrq-trigger; }'
session "$panic" "$panic" "$panic" 'systemota history; after=poweroff'
[ "$(booted_sequence)" = "2B 2B 2B 1A" ] || fail "booted: $(booted_sequence), expected 2B 2B 2B 1A"
history_has 'trial-failed .*try 1 of 3: kernel panic: sysrq triggered crash' \
	'try 3 of 3: kernel panic: sysrq triggered crash' 'rollback .*not confirmed after 3 trial boots'
expect_state '"state": "idle"' '"active": "A"' '"B": \{ "status": "bad"'
finish
