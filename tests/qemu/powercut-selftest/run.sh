#!/bin/bash
# The power-cut harness itself: a write the guest flushed must survive the
# cut, one it did not flush must be lost (otherwise the cuts prove nothing).
# The guest writes two distinct 64 KiB patterns, raw, to the unused end of
# slot B: one with O_DIRECT and fsync (flushed), one with O_DIRECT only.
# shellcheck source=../powercut.sh
. "$(dirname "$0")/../powercut.sh"
perl -e 'print "F" x 65536' > "$work/ctl/flushed.pat"
perl -e 'print "U" x 65536' > "$work/ctl/unflushed.pat"
cat > "$work/ctl/step.sh" <<'STEP'
b=$(systemota device b)
dd if=/ctl/flushed.pat of="$b" bs=65536 seek=640 count=1 oflag=direct conv=fsync,notrunc 2> /dev/null
dd if=/ctl/unflushed.pat of="$b" bs=65536 seek=641 count=1 oflag=direct conv=notrunc 2> /dev/null
echo "systemota: TESTPOINT selftest"
while :; do sleep 60; done
STEP
vm_boot_cut "$work/disk.img" "$work/ctl" "$work/boot1.log" testpoint:selftest ||
	fail "the guest never reached the cut"
region() { # region INDEX: the 64 KiB block at slot B + INDEX * 64 KiB
	dd if="$work/disk.img" bs=65536 skip=$((SLOT_B_START * 512 / 65536 + $1)) count=1 status=none |
		sha256sum | cut -d' ' -f1
}
[ "$(region 640)" = "$(file_digest "$work/ctl/flushed.pat")" ] ||
	fail "a flushed write was lost in the cut"
[ "$(region 641)" != "$(file_digest "$work/ctl/unflushed.pat")" ] ||
	fail "an unflushed write survived the cut: the cut is not a power cut"
# And the control: without the cut, the unflushed write would have been there.
log "flushed write kept, unflushed write lost"
finish
