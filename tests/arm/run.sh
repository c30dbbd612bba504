#!/bin/bash
# The Armv8 SHA-256 engine (applier/armsha.c) on emulated Arm CPUs:
#
#   tests/arm/run.sh BUILD_DIR
#
# BUILD_DIR/arm/sha-vectors (the host, mbedTLS) writes digests of 601
# inputs; BUILD_DIR/arm/sha-check (aarch64, static) hashes the same inputs
# with the engine sha256hw.c picks on the emulated CPU, in three pieces each,
# under qemu-aarch64 for two CPU models (on an aarch64 host: natively, once).
# A negative control feeds it one wrong digest, which it must report. Ends
# with "N passed, N failed".
set -u
build=${1:?usage: tests/arm/run.sh BUILD_DIR}
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
