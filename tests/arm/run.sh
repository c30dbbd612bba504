#!/bin/bash
# SystemOTA on Arm, without an Arm machine:
#
#   tests/arm/run.sh BUILD_DIR
#
# The arm64 device binary (make ARCH=arm64: BUILD_DIR/arm64/systemota.static)
# takes one update through its life on file-backed partitions beside the
# host's binary, under qemu-aarch64: every boot-state record it writes is the
# host's, byte for byte, and each reads the other's (device_records below).
#
# The Armv8 SHA-256 engine (applier/armsha.c) on emulated Arm CPUs:
# BUILD_DIR/arm/sha-vectors (the host, mbedTLS) writes digests of 601
# inputs; BUILD_DIR/arm/sha-check (aarch64, static) hashes the same inputs
# with the engine sha256hw.c picks on the emulated CPU, in three pieces each,
# under qemu-aarch64 for two CPU models (on an aarch64 host: natively, once).
# A negative control feeds it one wrong digest, which it must report. Ends
# with "N passed, N failed".
set -u
build=${1:?usage: tests/arm/run.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/../.." && pwd)
vectors=$build/arm/sha-vectors check=$build/arm/sha-check
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# run_on CPU ARGS...: the checker on an emulated CPU model, or natively
run_on() {
	local cpu=$1
	shift
	if [ "$cpu" = native ]; then "$check" "$@"; else qemu-aarch64 -cpu "$cpu" "$check" "$@"; fi
}
if [ "$(uname -m)" = aarch64 ]; then
	cpus=(native)
	engine=none
	grep -qw sha2 /proc/cpuinfo && engine=armv8-sha2
else
	cpus=(max cortex-a53)
	engine=armv8-sha2
fi
missing=''
for f in "$vectors" "$check"; do [ -x "$f" ] || missing="$missing $f"; done
[ "${cpus[0]}" = native ] || command -v qemu-aarch64 >/dev/null || missing="$missing qemu-aarch64"
if [ -n "$missing" ]; then
	ko "arm: missing$missing (make check builds the programs; .ci/deps installs qemu-user)"
	echo "$pass passed, $fail failed"
	exit 1
fi
if ! "$vectors" >"$tmp/vectors" || [ "$(wc -l <"$tmp/vectors")" -ne 601 ]; then
	ko "arm: the host's vectors"
	echo "$pass passed, $fail failed"
	exit 1
fi

# The arm64 device binary (make ARCH=arm64) against the host's, step by step
# through one update's life on file-backed partitions: factory record, stage,
# install and trial, a second trial boot, mark-bad, the rollback, a corrupt
# staged bundle refused. After every step both copies of the boot-state record
# (512 bytes at offset 0 and at half the partition) and slot B must be byte
# for byte the same. (The history beside them holds the clock's time.)
device_records() {
	local host=$build/systemota.static arm=$build/arm64/systemota.static.stripped d=$tmp/records
	if [ ! -x "$arm" ]; then
		ko "arm64 device binary: $arm missing (make ARCH=arm64 builds it)"
		return
	fi
	mkdir -p "$d"
	head -c 3000000 /dev/urandom >"$d/img"
	SOURCE_DATE_EPOCH=1 "$build/systemota" -q --config /dev/null bundle create --image "$d/img" \
		--key "$top/keys/dev-private.key" --compatible arm-test --version 2 -o "$d/v2.sota" || {
		ko "arm64 device binary: cannot make the test bundle"
		return
	}
	SOURCE_DATE_EPOCH=1 "$build/systemota" -q --config /dev/null bundle create --image "$d/img" \
		--key "$top/keys/dev-private.key" --compatible arm-test --version 3 -o "$d/v3.sota"
	# version 3 with 100 KB of its payload zeroed: signed, but refused at install
	{ head -c 5000 "$d/v3.sota"; head -c 100000 /dev/zero; tail -c +105001 "$d/v3.sota"; } >"$d/corrupt.sota"
	local who step
	for who in host arm; do
		mkdir -p "$d/$who/data/systemota/staged"
		truncate -s 1M "$d/$who/state"
		truncate -s 8M "$d/$who/a" "$d/$who/b"
	done
	# masked RECORDS: both copies, without what names the staged file by its
	# inode and times (two trees, two inodes): rejected[4][8] at 224, txn_file[8]
	# at 480 (applier/state.c), and so the CRC at 508.
	masked() {
		local c
		for c in 0 512; do
			head -c $((c + 224)) "$1" | tail -c 224
			head -c 32 /dev/zero
			head -c $((c + 480)) "$1" | tail -c 224
			head -c 8 /dev/zero
			head -c $((c + 508)) "$1" | tail -c 20
		done
	}
	# sota WHO ARGS...: one step on WHO's partitions, by WHO's binary
	sota() { sota_on "$1" "$@"; }
	# sota_on BINARY WHO ARGS...: BINARY (host or arm) on WHO's partitions
	sota_on() {
		local bin=$host
		if [ "$1" = arm ]; then
			bin=$arm
			[ "${cpus[0]}" = native ] || bin="qemu-aarch64 -cpu cortex-a72 $arm"
		fi
		local who=$2
		shift 2
		# shellcheck disable=SC2086 # the command and its emulator
		$bin -q --config /dev/null --state "$d/$who/state" --slot-a "$d/$who/a" --slot-b "$d/$who/b" \
			--data-dir "$d/$who/data" --keys "$top/keys/trusted" --compatible arm-test --tries 2 "$@"
	}
	status() { sota_on "$1" "$2" status --json 2>&1 | sed 's/"time": [0-9]*, //'; }
	local steps=("state init --active A --slot-version 1 --slot-label 1.0" "stage $d/v2.sota" "apply"
		"apply" "--booted B mark-bad --reason arm-test" "apply" "copy-corrupt" "apply")
	local n=0 differ=""
	for step in "${steps[@]}"; do
		n=$((n + 1))
		for who in host arm; do
			if [ "$step" = copy-corrupt ]; then
				cp "$d/corrupt.sota" "$d/$who/data/systemota/staged/update.sota"
			else
				# shellcheck disable=SC2086 # the step's words
				sota "$who" $step >"$d/$who/out.$n" 2>&1
				echo "rc=$?" >>"$d/$who/out.$n"
			fi
			{ head -c 512 "$d/$who/state"; tail -c +$((512 * 1024 + 1)) "$d/$who/state" | head -c 512; } >"$d/$who/rec.$n"
			masked "$d/$who/rec.$n" >"$d/$who/masked.$n"
		done
		cmp -s "$d/host/masked.$n" "$d/arm/masked.$n" || differ="$differ record after '$step';"
		# ... and each binary reads the other's record and history as its own
		# (status --json without the history's clock times).
		[ "$(status host host)" = "$(status arm arm)" ] && [ "$(status arm host)" = "$(status host host)" ] &&
			[ "$(status host arm)" = "$(status arm arm)" ] || differ="$differ status after '$step';"
		cmp -s "$d/host/b" "$d/arm/b" || differ="$differ slot B after '$step';"
		[ "$(tail -n1 "$d/host/out.$n" 2>/dev/null)" = "$(tail -n1 "$d/arm/out.$n" 2>/dev/null)" ] ||
			differ="$differ exit status of '$step';"
	done
	# The run went where it should: slot B installed, then rolled back to A, and the corrupt file refused.
	local boot="" refused=""
	boot=$(sota arm boot-slot 2>/dev/null)
	boot=${boot%% *}
	refused=$(sota arm history 2>/dev/null | grep -c 'version 3.*EBADMSG')
	if [ -n "$differ" ]; then
		ko "arm64 device binary: differs from the host's:$differ"
	elif ! cmp -s <(head -c 3000000 "$d/arm/b") "$d/img" || [ "$boot" != A ] ||
		! grep -q "^B .*/b$" "$d/arm/out.3" || [ "$refused" != 1 ]; then
		ko "arm64 device binary: the update did not go as planned (boot-slot '$boot', $refused refusals of version 3)"
		tail -n 3 "$d"/arm/out.* | sed 's/^/  /' | head -n 40
	else
		ok "arm64 device binary: $n steps, both record copies and slot B byte-identical to the host's"
	fi
}
device_records

if [ "$engine" = none ]; then # a native CPU without SHA2: nothing to cross-check
	if run_on native none <"$tmp/vectors"; then ok "arm/native: no SHA2, mbedTLS hashes"; else ko "arm/native"; fi
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
fi
for cpu in "${cpus[@]}"; do
	if run_on "$cpu" "$engine" <"$tmp/vectors" >"$tmp/out.$cpu" 2>&1 &&
		grep -q '^ok   601 vectors match mbedTLS$' "$tmp/out.$cpu"; then
		ok "arm/$cpu: $engine chosen, 601 digests equal mbedTLS's"
	else
		sed 's/^/  /' "$tmp/out.$cpu" | head -n 20
		ko "arm/$cpu"
	fi
done

# Negative control: one digest changed (vector 300); the check must name it.
awk 'NR == 300 { $4 = substr($4, 1, 63) (substr($4, 64, 1) == "0" ? "1" : "0") } { print }' \
	"$tmp/vectors" >"$tmp/bad"
if ! run_on "${cpus[0]}" "$engine" <"$tmp/bad" >"$tmp/out.bad" 2>&1 &&
	grep -q '^FAIL vector 300:' "$tmp/out.bad"; then
	ok "arm: a wrong digest is caught (vector 300)"
else
	sed 's/^/  /' "$tmp/out.bad" | head -n 20
	ko "arm: a wrong digest went unnoticed"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
