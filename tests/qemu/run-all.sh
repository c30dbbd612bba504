#!/bin/bash
# Runs the QEMU test cases: every tests/qemu/<case>/run.sh, once, or once per
# line of <case>/cases (the line is the argument), then once on the arm64
# device behind U-Boot for every line of tests/qemu/arm64.cases, and once on
# the x86 device behind UEFI for every line of tests/qemu/uefi.cases; or those
# named as arguments ("case", "case:arg", and "case@arm64" or "case:arg@arm64"
# for the arm64 device, build/qemu-arm64, "case@uefi" for the UEFI one,
# build/qemu-uefi). QEMU_JOBS cases
# run at a time (default: the number of CPUs). Each case is one test; the
# last line is "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
jobs=${QEMU_JOBS:-$(nproc)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
	for d in "$here"/*/; do
		d=${d%/}
		name=${d##*/}
		if [ -f "$d/cases" ]; then
			while read -r arg; do
				[ -n "$arg" ] && tests+=("$name:$arg")
			done < "$d/cases"
		else
			tests+=("$name")
		fi
	done
	for platform in arm64 uefi; do
		while read -r t; do
			[ -n "$t" ] && [ "${t:0:1}" != "#" ] && tests+=("$t@$platform")
		done < "$here/$platform.cases"
	done
fi

run_one() { # run_one INDEX TEST: output to $out/INDEX.log, status to $out/INDEX.rc
	local spec=${2%@*} arch=x86_64 start=$SECONDS
	[[ $2 == *@* ]] && arch=${2##*@}
	local name=${spec%%:*} arg=""
	[[ $spec == *:* ]] && arg=${spec#*:}
	if [ "$arch" = arm64 ]; then
		ARCH=arm64 QEMU_BUILD=$(cd "$here/../.." && pwd)/build/qemu-arm64 \
			"$here/$name/run.sh" ${arg:+"$arg"} > "$out/$1.log" 2>&1
	elif [ "$arch" = uefi ]; then
		BOOT=uefi QEMU_BUILD=$(cd "$here/../.." && pwd)/build/qemu-uefi \
			"$here/$name/run.sh" ${arg:+"$arg"} > "$out/$1.log" 2>&1
	else
		"$here/$name/run.sh" ${arg:+"$arg"} > "$out/$1.log" 2>&1
	fi
	echo "$? $((SECONDS - start))" > "$out/$1.rc"
}

passed=0 failed=0 failed_names=() next=0 reported=0
running=()
while [ "$reported" -lt ${#tests[@]} ]; do
	# Start cases while there are free job slots.
	while [ "$next" -lt ${#tests[@]} ] && [ ${#running[@]} -lt "$jobs" ]; do
		run_one "$next" "${tests[$next]}" &
		running+=("$!")
		next=$((next + 1))
	done
	wait -n 2> /dev/null || true
	alive=()
	for pid in "${running[@]}"; do
		kill -0 "$pid" 2> /dev/null && alive+=("$pid")
	done
	running=("${alive[@]}")
	# Report finished cases in order.
	while [ "$reported" -lt "$next" ] && [ -f "$out/$reported.rc" ]; do
		read -r rc secs < "$out/$reported.rc"
		cat "$out/$reported.log"
		if [ "$rc" = 0 ]; then
			passed=$((passed + 1))
			echo "ok   qemu/${tests[$reported]} ($secs s)"
		else
			failed=$((failed + 1))
			failed_names+=("${tests[$reported]}")
			echo "FAIL qemu/${tests[$reported]} ($secs s)"
		fi
		reported=$((reported + 1))
	done
done
[ "$failed" -eq 0 ] || echo "failed cases: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
