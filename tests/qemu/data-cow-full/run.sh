#!/bin/bash
# The trial writes more than the COW store holds (10 MiB into 8 MiB): the
# kernel invalidates the checkpoint. Never silently: the next trial boot
# records it (status and the history say the data can no longer be rolled
# back), the device stays bootable, and the rollback that follows keeps the
# data and says it was NOT rolled back.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck disable=SC2016 # expanded in the guest
session \
	"$HOLD_WATCHDOG"'; head -c 10485760 /dev/zero > /data/big.bin; sync; systemota status; after=reboot' \
	"$HOLD_WATCHDOG"'; systemota status; systemota mark-bad; after=reboot' \
	'ls -l /data/big.bin && echo "TEST: big.bin kept"; systemota status'
[ "$(booted_sequence)" = "2B 2B 1A" ] || fail "booted: $(booted_sequence), expected 2B 2B 1A"
expect_log_in '^COW store: +overflowed: this trial.s data can no longer be rolled back$'
expect_log_in '^systemota: error: the data checkpoint of version 2 is lost: the COW store overflowed$'
expect_log_in '^Data: +checkpoint overflowed \(the data before version 2\): it can no longer be rolled back$'
expect_log_in '^TEST: big.bin kept$'
expect_state '"state": "idle"' '"active": "A"' '"data_checkpoint": "none"' 'data NOT rolled back'
history_has 'checkpoint +slot B +version 2 .* ENOSPC: the COW store overflowed; the data of version 2.s trial cannot be rolled back$' \
	'marked-bad +slot B .*; data NOT rolled back \(checkpoint overflowed\)$'
finish
