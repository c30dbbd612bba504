#!/bin/bash
# The genuine version 2 bundle with one payload byte flipped: the signature
# still verifies, but the chunk's digest does not, so the applier stops before
# that chunk reaches the decompressor or the disk. Version 1 keeps booting from
# A, the reason (EBADMSG, which chunk) is in `systemota status`, slot A's
# bytes are unchanged, slot B is marked incomplete.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
cp "$QEMU_BUILD/v2.sota" "$work/ctl/flipped.sota"
# 4 KiB before the end: inside the last chunk's stored bytes.
flip_byte "$work/ctl/flipped.sota" $(($(stat -c %s "$work/ctl/flipped.sota") - 4096))
cmp -s "$QEMU_BUILD/v2.sota" "$work/ctl/flipped.sota" && fail "the byte was not flipped"

boot 1 'systemota stage /ctl/flipped.sota || echo "STAGE-REFUSED"
cp /ctl/flipped.sota /data/systemota/staged/update.sota && sync; after=reboot'
expect_booted 1 1 A
expect_log 1 '^STAGE-REFUSED$'
expect_log 1 'digest mismatch'

boot 2 'systemota status'
expect_booted 2 1 A
expect_log 2 'systemota: error: install failed: chunk [0-9]+ \(bundle offset [0-9]+\): digest mismatch'
expect_log 2 'Last error: +EBADMSG: chunk [0-9]+ .*digest mismatch'
expect_state '"state": "idle"' '"active": "A"' '"code": "EBADMSG"' '"B": \{ "status": "incomplete"' \
	'"A": \{ "status": "good", "version": 1'
expect_slot_holds A "$QEMU_BUILD/root-v1.img"
finish
