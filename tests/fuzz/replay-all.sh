#!/bin/bash
# make check: every fuzz target's committed corpus through its parser, built
# with the normal compiler (tests/fuzz/replay.c). One test per input file.
set -u
build=$1
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0
for d in "$here"/corpus/*/; do
	t=$(basename "$d")
	out=$("$build/fuzz-replay-$t" "$d" 2>&1)
	rc=$?
	last=$(tail -n 1 <<< "$out")
	if [[ $rc -eq 0 && $last =~ ^([0-9]+)\ passed,\ 0\ failed$ ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		echo "ok   $t: ${BASH_REMATCH[1]} inputs"
	else
		failed=$((failed + 1))
		echo "FAIL $t (exit $rc)"
		echo "$out" | tail -n 20
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
