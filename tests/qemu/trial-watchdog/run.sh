#!/bin/bash
# A new version that hangs: the initramfs armed the watchdog before each
# trial boot, so each hang is reset, counted, and named as a watchdog reset
# in the history; after the tries (2 here, systemota.tries=2, to keep make check
# short) the device runs version 1 from slot A again.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# Three boots, two of them waiting out the watchdog, in one QEMU session: 25 s
# (systemota.watchdog-timeout=, instead of the demo's 60 s) is ample for a
# version that hangs, and keeps make check short.
export VM_TIMEOUT=${TRIAL_WATCHDOG_TIMEOUT:-600} SESSION_APPEND='systemota.watchdog-timeout=25 systemota.tries=2'
# shellcheck disable=SC2016 # expanded in the guest
hang='[ "$version" = 2 ] && { echo "TEST: hanging"; while :; do sleep 60; done; }'
session "$hang" "$hang" 'systemota history; after=poweroff'
[ "$(booted_sequence)" = "2B 2B 1A" ] || fail "booted: $(booted_sequence), expected 2B 2B 1A"
history_has 'trial-failed +slot B +version 2 \(2.0\) +ECANCELED: try 1 of 2: reset by the watchdog' \
	'try 2 of 2: reset by the watchdog' \
	'rollback +slot B +version 2 \(2.0\) +ETIMEDOUT: slot B \(version 2\) not confirmed after 2 trial boots'
expect_state '"state": "idle"' '"active": "A"' '"B": \{ "status": "bad"'
expect_log_in 'watchdog /dev/watchdog armed: 25 s to confirm'
expect_slot_holds A "$QEMU_BUILD/root-v1.img"
finish
