#!/bin/bash
# Runs every QEMU test case (tests/qemu/*/run.sh), or those named as arguments.
# Each case is one test; the last line is "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 failed_names=()
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
	for d in "$here"/*/; do
		d=${d%/}
		cases+=("${d##*/}")
	done
fi
for c in "${cases[@]}"; do
	start=$(date +%s)
	if "$here/$c/run.sh"; then
		passed=$((passed + 1))
		echo "ok   qemu/$c ($(($(date +%s) - start)) s)"
	else
		failed=$((failed + 1))
		failed_names+=("$c")
		echo "FAIL qemu/$c ($(($(date +%s) - start)) s)"
	fi
done
[ "$failed" -eq 0 ] || echo "failed cases: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
