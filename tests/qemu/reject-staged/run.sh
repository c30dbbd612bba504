#!/bin/bash
# Bad files dropped into the drop-in directory by a plain copy, four at
# once: a bundle cut short (still being copied), a FIFO, a symlink to a good
# bundle, and a bundle for another device. The applier judges each (the first
# four by name), refuses each with its own reason in the history, writes
# nothing to either slot, and version 1 keeps booting from slot A; the next
# boot judges none of them again.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
head -c 100000 "$QEMU_BUILD/v2.sota" > "$work/ctl/cut.sota"
cp "$QEMU_BUILD/v2.sota" "$work/ctl/"
"$sota" -q --config /dev/null bundle create --image "$QEMU_BUILD/root-v2.img" --key "$top/keys/dev-private.key" \
	--compatible another-board --version 2 --label 2.0-other --level 3 -o "$work/ctl/other.sota"
b_before=$(slot_digest B $((SLOT_SECTORS * 512)))
# shellcheck disable=SC2016 # expanded in the guest
SESSION_FROM=factory session 'd=/data/systemota/staged
cp /ctl/cut.sota $d/a.sota; mkfifo $d/b.sota; ln -s /ctl/v2.sota $d/c.sota; cp /ctl/other.sota $d/d.sota
sync; after=reboot' 'after=reboot' 'systemota status; after=poweroff'
[ "$(booted_sequence)" = "1A 1A 1A" ] || fail "booted: $(booted_sequence), expected 1A 1A 1A"
history_has 'rejected +slot B .*EBADMSG: a.sota: bundle truncated: 100000 bytes, header declares' \
	'rejected +slot B .*EBADMSG: b.sota: b.sota: not a regular file' \
	'rejected +slot B .*EBADMSG: c.sota: c.sota: a symlink, not a bundle' \
	'rejected +slot B .*EMEDIUMTYPE: d.sota: bundle is for .another-board., this device is .demo-x86_64.'
[ "$(grep -c 'rejected before; ignoring it' "$work/session.log")" = 4 ] ||
	fail "the third boot judged a refused file again"
expect_state '"state": "idle"' '"active": "A"'
expect_slot_holds A "$QEMU_BUILD/root-v1.img"
[ "$(slot_digest B $((SLOT_SECTORS * 512)))" = "$b_before" ] || fail "slot B was written"
finish
