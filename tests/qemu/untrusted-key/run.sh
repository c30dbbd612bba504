#!/bin/bash
# A bundle signed by a key the device does not trust: `systemota stage`
# refuses it; a plain copy into the drop-in directory is refused at boot with
# ENOKEY, version 1 keeps booting from A, the reason is in `systemota status`,
# slot A's bytes are unchanged and slot B was never written.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
"$sota" -q key generate "$work/rogue.key" "$work/rogue.pem"
"$sota" -q --config /dev/null bundle create --image "$QEMU_BUILD/root-v2.img" --key "$work/rogue.key" \
	--compatible "$COMPATIBLE" --version 2 --label 2.0-rogue --level 3 -o "$work/ctl/rogue.sota"
b_before=$(slot_digest B $((SLOT_SECTORS * 512)))

boot 1 'systemota stage /ctl/rogue.sota || echo "STAGE-REFUSED"
cp /ctl/rogue.sota /data/systemota/staged/update.sota && sync; after=reboot'
expect_booted 1 1 A
expect_log 1 '^STAGE-REFUSED$'
expect_log 1 'not trusted'

boot 2 'systemota status'
expect_booted 2 1 A
expect_log 2 'systemota: error: rejected update.sota: signed by key [0-9a-f]+, which is not trusted'
expect_log 2 'Last error: +ENOKEY: signed by key'
expect_state '"state": "idle"' '"active": "A"' '"code": "ENOKEY"' '"reason": "signed by key [0-9a-f]+, which is not trusted"'
expect_slot_holds A "$QEMU_BUILD/root-v1.img"
[ "$(slot_digest B $((SLOT_SECTORS * 512)))" = "$b_before" ] || fail "slot B was written"

# The same rejected file on the next boot: not judged again, no new commit.
seq_before=$(state_json | sed -n 's/.*"sequence": \([0-9]*\).*/\1/p')
boot 3 'true'
expect_booted 3 1 A
expect_log 3 'rejected before'
[ "$(state_json | sed -n 's/.*"sequence": \([0-9]*\).*/\1/p')" = "$seq_before" ] ||
	fail "the record was rewritten for an already rejected file"
finish
