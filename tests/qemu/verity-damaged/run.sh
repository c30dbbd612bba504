#!/bin/bash
# A slot's bytes change after they were installed and verified (a flash cell
# decays, or someone with the raw device rewrites it): the boot check finds the
# block before anything on the slot runs (docs/verity.md).
#   trial        version 2 on trial in B, a byte of /bin/busybox flipped before
#                its second try: a failed try and the last, rolled back to A
#                at once, B bad;
#   active-file  version 2 confirmed in B, then a byte of /bin/busybox flipped:
#                B gives way to A (good, verified), A active, B bad, the history
#                says "damaged" and the block; the next boot stays on A;
#   active-free  the same, the byte in free space at the end of the image, no
#                file's: every block is checked, not only those in use;
#   kernel       version 2 with its own kernel confirmed in B, then a byte of
#                its /boot/initrd.img flipped: caught before the kexec, which
#                never happens; A boots with the factory kernel;
#   cut-committed  active-file with the power cut right after the record says
#                "damaged" (testpoint damaged-committed), before A is mounted;
#   cut-during   active-file with the power cut 0.1 s into the applier's run
#                (during the scan, or the commit, or after it): either way the
#                next whole boot ends on A, B bad, and stays there.
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
mode=${1:?trial, active-file, active-free, kernel, cut-committed or cut-during}
image=$QEMU_BUILD/root-v2.img file=/bin/busybox
if [ "$mode" = kernel ]; then
	image=$QEMU_BUILD/root-v2-kernel.img file=/boot/initrd.img
	cp "$QEMU_BUILD/v2-kernel.sota" "$work/ctl/"
	boot 0 'systemota stage /ctl/v2-kernel.sota && echo "STAGED"; after=reboot'
	expect_log 0 '^STAGED$'
else
	staged=$(staged_disk) || fail "cannot make the staged disk"
	cp --sparse=always "$staged" "$work/disk.img"
fi

# The byte to flip, as an offset in the image: in a block of the file's data,
# or in the image's last block (free space in this ext4).
if [ "$mode" = active-free ]; then
	offset=$(($(stat -c %s "$image") - 4096 + 100))
else
	blk=$(debugfs -R "bmap $file 10" "$image" 2> /dev/null)
	[[ $blk =~ ^[0-9]+$ ]] || fail "debugfs found no block of $file: '$blk'"
	offset=$((blk * 4096 + 100))
fi
block=$((offset / 4096))
damage_b() {
	flip_byte "$work/disk.img" $((SLOT_B_START * 512 + offset))
	expect_slot_holds A "$QEMU_BUILD/root-v1.img"
	[ "$(slot_digest B "$(stat -c %s "$image")")" != "$(file_digest "$image")" ] ||
		fail "slot B's byte was not flipped"
}
reason="slot B: data block $block \\(offset $((block * 4096))\\) fails its hash"

if [ "$mode" = trial ]; then
	boot 1 'systemota status --json'
	expect_booted 1 2 B
	expect_log 1 'systemota: slot B verified: version 2, '
	damage_b
	boot 2 'systemota status'
	expect_booted 2 1 A
	expect_log 2 "systemota: error: $reason\$"
	expect_log 2 'systemota: slot A verified: version 1, '
	expect_state '"state": "idle"' '"active": "A"' '"B": \{ "status": "bad"' '"code": "EBADMSG"' \
		"\"reason\": \"slot B failed its check on try 2 of 3, rolled back to slot A: $reason"
	history_has " damaged +slot B +version 2 .*$reason"
else
	boot 1 'systemota mark-good && echo "MARKED-GOOD"'
	expect_booted 1 2 B
	expect_log 1 '^MARKED-GOOD$'
	[ "$mode" != kernel ] || expect_log 1 'slot B carries its own kernel \(boot id v2-kernel\): starting it'
	expect_state '"state": "idle"' '"active": "B"' '"B": \{ "status": "good", "version": 2'
	damage_b
	if [[ $mode == cut-* ]]; then
		how="after:0.1:systemota: state:" args=()
		[ "$mode" = cut-committed ] &&
			how=testpoint:damaged-committed args=(systemota.testpoint=damaged-committed)
		echo 'systemota status' > "$work/ctl/step.sh"
		vm_boot_cut "$work/disk.img" "$work/ctl" "$work/boot2cut.log" "$how" "${args[@]}" ||
			fail "boot 2's power was not cut ($how)"
		[ "$mode" != cut-committed ] || expect_state '"active": "A"' '"B": \{ "status": "bad"'
		[ "$mode" != cut-during ] || log "cut after: $(grep -E '^systemota:' "$work/boot2cut.log" | tail -n 1)"
	fi
	boot 2 'systemota status'
	expect_booted 2 1 A
	# Unless the cut came after the decision: the next boot found it already made.
	grep -q '^systemota: state: idle, active slot A' "$work/boot2.log" ||
		expect_log 2 "systemota: error: $reason\$"
	expect_log 2 'systemota: slot A verified: version 1, '
	expect_state '"state": "idle"' '"active": "A"' '"B": \{ "status": "bad"' '"code": "EBADMSG"' \
		"\"reason\": \"slot B damaged, slot A \\(version 1\\) active now: $reason"
	# A cut may lose the history's entry of a committed decision (it is written after).
	[[ $mode == cut-* ]] || history_has " damaged +slot B .*$reason"
	# No boot loop: the next boot stays on A and decides nothing new about B.
	boot 3 'true'
	expect_booted 3 1 A
	expect_no_log 3 'fails its hash'
	expect_state '"active": "A"' '"B": \{ "status": "bad"'
	# The damaged slot's kernel was never started.
	[ "$mode" != kernel ] || expect_no_log 2 'carries its own kernel'
fi
expect_slot_holds A "$QEMU_BUILD/root-v1.img"
finish
