#!/bin/bash
# A device without a systemota-cow partition (its config names one) keeps
# today's behaviour: the update applies, its hook migrates the data, and
# status says the data is not checkpointed.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
cp "$QEMU_BUILD/v2-hooks.sota" "$work/ctl/"
# shellcheck disable=SC2317 # called by session, as SESSION_PREPARE
without_cow() { sfdisk -q --delete "$1" 5; }
# shellcheck disable=SC2016 # expanded in the guest
SESSION_FROM=factory SESSION_PREPARE=without_cow session \
	'echo format=1 > /data/app.conf; systemota stage /ctl/v2-hooks.sota; after=reboot' \
	'echo "TEST: app.conf $(cat /data/app.conf)"; systemota status; systemota mark-good; after=poweroff'
[ "$(booted_sequence)" = "1A 2B" ] || fail "booted: $(booted_sequence), expected 1A 2B"
expect_log_in '^systemota: warning: the COW store is missing: version 2.s changes to the data cannot be rolled back$'
expect_log_in '^TEST: app.conf format=2$'
expect_log_in '^Data: +not checkpointed \(no COW store\)'
expect_state '"state": "idle"' '"active": "B"' '"data_checkpoint": "none"'
finish
