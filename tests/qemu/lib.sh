# shellcheck shell=bash
# Shared helpers for the QEMU test cases (tests/qemu/<case>/run.sh), sourced.
#
# A case boots the demo device (qemu/build.sh's factory disk, copied) one boot
# at a time with `boot N 'step script'`, then asserts on what matters: the
# console log of each boot, the boot-state record read from the disk image on
# the host, and the bytes of each slot. Any failed assertion fails the case;
# run.sh exits 0 only if none did.

set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../qemu/layout.sh
. "$top/qemu/layout.sh"
# shellcheck source=../../qemu/vm.sh
. "$top/qemu/vm.sh"
sota=$top/build/systemota
# A case directory with a "cases" file runs once per line, the line as $1.
case_name=$(basename "$(cd "$(dirname "$0")" && pwd)")${1:+-$1}
# ARCH=arm64 (run-all.sh's case@arm64): the arm64 device behind U-Boot;
# BOOT=uefi (case@uefi): the x86 device behind OVMF and systemd-boot.
[ "${ARCH:-x86_64}" = x86_64 ] || case_name=$case_name@$ARCH
[ "${BOOT:-}" != uefi ] || case_name=$case_name@uefi
work=$top/build/tests/qemu/$case_name
failures=0

rm -rf "$work" && mkdir -p "$work/ctl"
cp --sparse=always "$QEMU_BUILD/disk.img" "$work/disk.img"

log() { printf '  [%s] %s\n' "$case_name" "$*"; }

fail() {
	log "FAIL: $*"
	failures=$((failures + 1))
}

# boot N STEP: one boot of the device, running STEP (shell) in its init.
boot() {
	printf '%s\n' "$2" > "$work/ctl/step.sh"
	if ! vm_boot "$work/disk.img" "$work/ctl" "$work/boot$1.log"; then
		fail "boot $1: QEMU failed or timed out (log: $work/boot$1.log)"
	fi
	log "boot $1: $(grep -o 'running version [0-9]* from slot [AB]' "$work/boot$1.log" || echo 'no system came up')"
}

# expect_booted N VERSION SLOT: boot N ran VERSION from SLOT.
expect_booted() {
	grep -q "running version $2 from slot $3 \*\*\*" "$work/boot$1.log" ||
		fail "boot $1 did not run version $2 from slot $3"
}

# expect_log N PATTERN: boot N's console has a line matching PATTERN (grep -E).
expect_log() {
	grep -qE -- "$2" "$work/boot$1.log" || fail "boot $1: no console line matches '$2'"
}

expect_no_log() {
	! grep -qE -- "$2" "$work/boot$1.log" || fail "boot $1: unexpected console line '$2'"
}

# state_json: the boot-state record as `systemota status --json`, read on the host.
state_json() {
	vm_part "$work/disk.img" "$STATE_START" "$STATE_SECTORS" "$work/state.img"
	"$sota" --config /dev/null --state "$work/state.img" --slot-a /dev/zero --slot-b /dev/null \
		--data-dir /nonexistent status --json
}

# expect_state PATTERN...: each grep -E pattern matches the record's JSON.
expect_state() {
	local json p
	json=$(state_json)
	for p in "$@"; do
		grep -qE -- "$p" <<< "$json" || fail "state record does not match '$p': $(tr -d '\n' <<< "$json")"
	done
}

# slot_digest A|B SIZE: SHA-256 of the first SIZE bytes of a slot on the disk image.
slot_digest() {
	local start=$SLOT_A_START
	[ "$1" = B ] && start=$SLOT_B_START
	dd if="$work/disk.img" bs=512 skip="$start" count="$SLOT_SECTORS" status=none |
		head -c "$2" | sha256sum | cut -d' ' -f1
}

# flip_byte FILE OFFSET: inverts the lowest bit of one byte in place.
flip_byte() {
	perl -e 'open(my $f, "+<", $ARGV[0]) or die; seek($f, $ARGV[1], 0); read($f, my $b, 1) == 1 or die;
		seek($f, $ARGV[1], 0); print $f chr(ord($b) ^ 1); close($f) or die' "$1" "$2"
}

file_digest() { sha256sum < "$1" | cut -d' ' -f1; }

# expect_slot_holds A|B IMAGE: the slot's bytes are exactly IMAGE's.
expect_slot_holds() {
	[ "$(slot_digest "$1" "$(stat -c %s "$2")")" = "$(file_digest "$2")" ] ||
		fail "slot $1 does not hold $(basename "$2")"
}

# staged_disk: the factory disk after one boot that staged version 2 (made
# once, shared under a lock), for cases that are not about staging.
staged_disk() {
	local disk=$QEMU_BUILD/disk-staged.img
	(
		flock 9
		[ "$disk" -nt "$QEMU_BUILD/disk.img" ] && exit 0
		rm -f "$disk" # a stale one must not stand in if this fails
		local tmp=$QEMU_BUILD/staging
		rm -rf "$tmp" && mkdir -p "$tmp/ctl"
		cp "$QEMU_BUILD/v2.sota" "$tmp/ctl/"
		cp --sparse=always "$QEMU_BUILD/disk.img" "$tmp/disk.img"
		echo 'systemota stage /ctl/v2.sota && echo "PC: STAGED"' > "$tmp/ctl/step.sh"
		vm_boot "$tmp/disk.img" "$tmp/ctl" "$tmp/boot.log" && grep -q "^PC: STAGED" "$tmp/boot.log" &&
			mv "$tmp/disk.img" "$disk"
	) 9> "$QEMU_BUILD/disk-staged.lock"
	[ -f "$disk" ] && echo "$disk"
}

finish() {
	if [ "$failures" -eq 0 ]; then
		log "passed"
		# The disk image of a passed case is of no more use (and 40 MB).
		rm -f "$work/disk.img" "$work/state.img"
		exit 0
	fi
	log "failed ($failures assertions; logs in $work)"
	exit 1
}

# session STEP1 STEP2 ... : one QEMU run in which the guest reboots in place
# (so RAM, pstore and the watchdog's reset flag survive, as on hardware), with
# STEPn as the step of its n-th boot (the last one for any later boot). The
# device starts from the disk where version 2 is staged (SESSION_FROM=factory:
# from the factory disk, nothing staged). The whole console
# goes to $work/session.log; boot_log N extracts boot N's part of it.
# SESSION_APPEND: more kernel arguments for every boot of the session.
session() {
	local i=0 last
	mkdir -p "$work/ctl/steps"
	echo "$RANDOM$RANDOM" > "$work/ctl/run-id"
	local staged=$QEMU_BUILD/disk.img
	[ "${SESSION_FROM:-staged}" = factory ] || staged=$(staged_disk) || fail "cannot make the staged disk"
	cp --sparse=always "$staged" "$work/disk.img"
	# SESSION_PREPARE: a function that changes the disk's copy before the first boot.
	[ -z "${SESSION_PREPARE:-}" ] || "$SESSION_PREPARE" "$work/disk.img"
	for last in "$@"; do
		i=$((i + 1))
		printf '%s\n' "$last" > "$work/ctl/steps/$i.sh"
	done
	printf '%s\n' "$last" > "$work/ctl/step.sh"
	VM_SESSION=1 VM_APPEND="$PSTORE_APPEND${SESSION_APPEND:+ $SESSION_APPEND}" vm_boot "$work/disk.img" "$work/ctl" "$work/session.log" ||
		fail "the session did not end by itself (log: $work/session.log)"
	log "$(grep -c '^demo: \*\*\* running' "$work/session.log") boots: $(grep -o 'running version [0-9]* from slot [AB]' "$work/session.log" | sed 's/running version \([0-9]*\) from slot \(.\)/v\1@\2/' | tr '\n' ' ')"
}

# ramoops in 1 MiB of RAM kept out of the kernel's use: a panic is still there after a reset.
# shellcheck disable=SC2016 # memmap=1M$256M is the kernel's syntax, not a variable
PSTORE_APPEND='memmap=1M$256M ramoops.mem_address=0x10000000 ramoops.mem_size=0x100000 ramoops.record_size=0x20000 rd.driver.pre=ramoops'
# arm64 has no memmap=: the kernel gets the first 256 MiB of the board's 512
# (RAM starts at 0x40000000) and ramoops the MiB after them, below where U-Boot
# relocates itself at the top of RAM and above where it loads the kernel and
# initramfs, so a reset keeps it.
[ "${ARCH:-x86_64}" = arm64 ] &&
	PSTORE_APPEND='mem=256M ramoops.mem_address=0x50000000 ramoops.mem_size=0x100000 ramoops.record_size=0x20000 rd.driver.pre=ramoops'

# history_has PATTERN...: the device's history (read on the host) matches each grep -E pattern.
history_has() {
	local h p
	vm_part "$work/disk.img" "$STATE_START" "$STATE_SECTORS" "$work/state.img"
	h=$("$sota" --config /dev/null --state "$work/state.img" --slot-a /dev/zero --slot-b /dev/null \
		history)
	for p in "$@"; do
		grep -qE -- "$p" <<< "$h" || fail "the history has no line matching '$p':
$h"
	done
}

# expect_log_in PATTERN: the session's console has a line matching PATTERN (grep -E).
expect_log_in() {
	grep -qE -- "$1" "$work/session.log" || fail "no console line matches '$1'"
}

# booted_sequence: the versions and slots that booted in the session, e.g. "2B 2B 2B 1A".
booted_sequence() {
	grep -o 'running version [0-9]* from slot [AB]' "$work/session.log" |
		sed 's/running version \([0-9]*\) from slot \(.\)/\1\2/' | tr '\n' ' ' | sed 's/ $//'
}

# DATA_FILES: a step's shell expression for one digest of every file on the data
# partition, names and contents (lost+found and the boot counter aside).
# shellcheck disable=SC2016,SC2034 # expanded in the guest; used by the cases
DATA_FILES='$(cd /data && find . -path ./lost+found -prune -o -type f ! -name ".demo-boots-*" -print | sort | xargs sha256sum | sha256sum | cut -c1-64)'

# HOLD_WATCHDOG: a step's command for a trial that does long I/O before it
# decides (on a loaded TCG host that can take longer than watchdog-timeout):
# a watchdog daemon takes the armed watchdog over, as a product's would.
# shellcheck disable=SC2034 # used by the cases
HOLD_WATCHDOG='watchdog -t 2 -T 120 /dev/watchdog 2> /dev/null'

# data_part: the data partition of the disk image, copied to $work/data.img.
data_part() {
	vm_part "$work/disk.img" "$DATA_START" "$DATA_SECTORS" "$work/data.img"
}

# data_file PATH: a file of the data partition, read on the host (debugfs, no mount).
data_file() {
	data_part
	debugfs -R "cat $1" "$work/data.img" 2> /dev/null
}

# expect_cow_reset: the COW store's header is zero (no checkpoint left behind).
expect_cow_reset() {
	local h
	h=$(dd if="$work/disk.img" bs=512 skip="$COW_START" count=1 status=none | head -c 16 | od -An -tx1 | tr -d ' \n')
	[ "$h" = 00000000000000000000000000000000 ] || fail "the COW store still holds a header: $h"
}

# last_value PREFIX: the value of the session's last console line "PREFIX value".
last_value() {
	grep "^$1 " "$work/session.log" | tail -n 1 | cut -d' ' -f$(($(wc -w <<< "$1") + 1))
}
