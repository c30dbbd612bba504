#!/bin/bash
# Trust changed in the field (docs/keyring.md), on one device, in one QEMU
# session, with the boot partition's initramfs never rebuilt: its key
# directory holds R1 (the development key), the root of every keyring below.
#   keyring 1: R1, K1    2: R1, K1, K2    3: R1, K2, revokes K1
#   keyring 4: R2, K2, revokes K1 (signed by R1: the root rotation)
#   keyring 5, forged: signed by R1 after the rotation
# Version 2 (K2, under 1..2) and 3 (K2, under 1..3) are confirmed, adopting
# keyrings 2 and 3; then a bundle signed by K1 (a valid signature, a higher
# version) is refused with EKEYREVOKED by stage and by the initramfs, under
# keyring 3 and under the old keyring 2; version 4 brings keyring 4 and is
# marked bad: the rollback leaves keyring 3 and the revocation in force;
# version 5 brings keyring 4 again and is confirmed; the forged keyring 5 is
# refused.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
export VM_TIMEOUT=${KEYRING_TIMEOUT:-600}
r1=$top/keys/dev-private.key
ctl=$work/ctl
for k in k1 k2 r2; do "$sota" -q key generate "$work/$k.key" "$work/$k.pem"; done
kr() { # kr N SIGNER ARGS...: keyring N, signed by SIGNER, into $work/keyring-N
	local n=$1 key=$2
	shift 2
	SOURCE_DATE_EPOCH=1700000000 "$sota" -q --config /dev/null keyring create --version "$n" \
		--key "$key" -o "$work/keyring-$n" "$@" || fail "cannot make keyring $n"
}
kr 1 "$r1" --root "$top/keys/trusted/dev.pem" --signing "$work/k1.pem"
kr 2 "$r1" --root "$top/keys/trusted/dev.pem" --signing "$work/k1.pem" --signing "$work/k2.pem"
kr 3 "$r1" --root "$top/keys/trusted/dev.pem" --signing "$work/k2.pem" --revoke "$work/k1.pem"
kr 4 "$r1" --root "$work/r2.pem" --signing "$work/k2.pem" --previous "$work/keyring-3"
kr 5 "$r1" --root "$top/keys/trusted/dev.pem" --signing "$work/k2.pem" --previous "$work/keyring-4"
chain() { # chain N...: the keyrings, back to back, into $work/chain-N...
	local out n
	out=$work/chain-$(IFS=-; echo "$*")
	: > "$out"
	for n in "$@"; do cat "$work/keyring-$n" >> "$out"; done
	echo "$out"
}
bundle() { # bundle NAME VERSION KEY CHAIN: root-v2.img, signed by KEY under CHAIN
	"$sota" -q --config /dev/null bundle create --image "$QEMU_BUILD/root-v2.img" --key "$3" \
		--keyring "$4" --compatible "$COMPATIBLE" --version "$2" --label "$2.0" --level 3 \
		-o "$ctl/$1.sota" 2> /dev/null || fail "cannot make $1"
}
bundle v2 2 "$work/k2.key" "$(chain 1 2)"
bundle v3 3 "$work/k2.key" "$(chain 1 2 3)"
bundle k1-under-3 9 "$work/k1.key" "$(chain 1 2 3)"
bundle k1-under-2 9 "$work/k1.key" "$(chain 1 2)"
bundle v4 4 "$work/k2.key" "$(chain 1 2 3 4)"
bundle v5 5 "$work/k2.key" "$(chain 1 2 3 4)"
bundle v6-forged 6 "$work/k2.key" "$(chain 1 2 3 4 5)"
initrd_before=$(file_digest "$QEMU_BUILD/initrd.img")

refused() { # a step's command: stage FILE, which must be refused
	echo "systemota stage /ctl/$1.sota || echo \"TEST: stage refused $1\";"
}
# shellcheck disable=SC2016 # expanded in the guest
SESSION_FROM=factory session 'systemota stage /ctl/v2.sota; after=reboot' \
	'systemota mark-good && systemota stage /ctl/v3.sota; after=reboot' \
	"systemota mark-good; $(refused k1-under-3) $(refused k1-under-2)
	 cp /ctl/k1-under-2.sota /data/systemota/staged/a-k1.sota
	 cp /ctl/v4.sota /data/systemota/staged/b-v4.sota; sync; after=reboot" \
	'systemota status --json | grep -q "\"keyring_pending_version\": 4" && echo "TEST: keyring 4 pending"
	 systemota mark-bad --reason "keyring test: not this one"; after=reboot' \
	"systemota status --json | grep -q '\"keyring_version\": 3,' && echo 'TEST: keyring 3 after the rollback'
	 $(refused k1-under-2) systemota stage /ctl/v5.sota; after=reboot" \
	"systemota mark-good; systemota status; $(refused v6-forged) after=poweroff"

[ "$(booted_sequence)" = "1A 2B 2A 2B 2A 2B" ] ||
	fail "booted: $(booted_sequence), expected 1A 2B 2A 2B 2A 2B"
# The running system refuses K1 under keyring 3 and under the replayed keyring 2, twice.
[ "$(grep -c '^TEST: stage refused k1-under-3$' "$work/session.log")" = 1 ] || fail "k1-under-3 was not refused by stage"
[ "$(grep -c '^TEST: stage refused k1-under-2$' "$work/session.log")" = 2 ] ||
	fail "k1-under-2 was not refused by stage before and after the rollback"
[ "$(grep -cE 'systemota: error: signed by revoked key [0-9a-f]{16} \(the device.s keyring 3\)' "$work/session.log")" = 3 ] ||
	fail "stage did not say EKEYREVOKED by the device's keyring 3 three times"
# The initramfs refuses the hand-copied K1 bundle the same way, and installs version 4.
expect_log_in 'rejected a-k1\.sota: signed by revoked key [0-9a-f]{16} \(the device.s keyring 3\)'
expect_log_in '^TEST: keyring 4 pending$'
expect_log_in '^TEST: keyring 3 after the rollback$'
# After the rotation, keyring 5 signed by the old root signs nothing.
expect_log_in '^TEST: stage refused v6-forged$'
expect_log_in 'systemota: error: keyring 5: signed by [0-9a-f]{16}, not a root of keyring 4 \(broken chain\)'
expect_log_in '^Keyring: +version 4, 2 keys, 1 revoked$'
history_has 'keyring +slot B .*keyring 2 adopted' 'keyring +slot A .*keyring 3 adopted' \
	'keyring +slot B .*keyring 4 adopted' 'rejected .*a-k1\.sota: signed by revoked key' \
	'marked-bad +slot B' 'rollback'
[ "$(state_json | grep -c '"keyring_pending_version": null')" = 1 ] || fail "a keyring is still pending"
expect_state '"state": "idle"' '"active": "B"' '"B": \{ "status": "good", "version": 5' \
	'"keyring_version": 4,' "\"keyring_revoked\": \\[\"$("$sota" key id "$work/k1.pem")\"\\]"
expect_slot_holds B "$QEMU_BUILD/root-v2.img"
[ "$(file_digest "$QEMU_BUILD/initrd.img")" = "$initrd_before" ] || fail "the initramfs changed"
finish
