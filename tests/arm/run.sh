#!/bin/bash
# The Armv8 SHA-256 engine (applier/armsha.c) on emulated Arm CPUs:
#
#   tests/arm/run.sh BUILD_DIR
#
# BUILD_DIR/arm/sha-vectors (the host, mbedTLS) writes digests of 601
# inputs; BUILD_DIR/arm/sha-check (aarch64, static) hashes the same inputs
# with the engine sha256hw.c picks on the emulated CPU, in three pieces each,
# under qemu-aarch64 for two CPU models. A negative control feeds it one
# wrong digest, which it must report. Ends with "N passed, N failed".
set -u
build=${1:?usage: tests/arm/run.sh BUILD_DIR}
vectors=$build/arm/sha-vectors check=$build/arm/sha-check
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -x "$vectors" ] || [ ! -x "$check" ] || ! command -v qemu-aarch64 >/dev/null; then
	ko "arm: missing $vectors, $check or qemu-aarch64 (make check builds them; .ci/deps installs qemu-user)"
	echo "$pass passed, $fail failed"
	exit 1
fi
if ! "$vectors" >"$tmp/vectors" || [ "$(wc -l <"$tmp/vectors")" -ne 601 ]; then
	ko "arm: the host's vectors"
	echo "$pass passed, $fail failed"
	exit 1
fi

for cpu in max cortex-a53; do
	if qemu-aarch64 -cpu "$cpu" "$check" armv8-sha2 <"$tmp/vectors" >"$tmp/out.$cpu" 2>&1 &&
		grep -q '^ok   601 vectors match mbedTLS$' "$tmp/out.$cpu"; then
		ok "arm/$cpu: armv8-sha2 chosen, 601 digests equal mbedTLS's"
	else
		sed 's/^/  /' "$tmp/out.$cpu" | head -n 20
		ko "arm/$cpu"
	fi
done

# Negative control: one digest changed (vector 300); the check must name it.
awk 'NR == 300 { $4 = substr($4, 1, 63) (substr($4, 64, 1) == "0" ? "1" : "0") } { print }' \
	"$tmp/vectors" >"$tmp/bad"
if ! qemu-aarch64 -cpu max "$check" armv8-sha2 <"$tmp/bad" >"$tmp/out.bad" 2>&1 &&
	grep -q '^FAIL vector 300:' "$tmp/out.bad"; then
	ok "arm: a wrong digest is caught (vector 300)"
else
	sed 's/^/  /' "$tmp/out.bad" | head -n 20
	ko "arm: a wrong digest went unnoticed"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
