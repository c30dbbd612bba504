#!/bin/bash
# make check: runs every suite, then sums their "N passed, N failed" lines.
#   tests/run.sh [SUITE...]   suites: lint unit asan valgrind fuzz crash arm qemu (default: all)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
total_pass=0 total_fail=0 summary=()

# A suite started early runs beside the others (the machine has two cores and
# most suites use one); its output is shown, whole, in its turn.
bg=$(mktemp -d)
trap 'rm -rf "$bg"' EXIT
start_early() { # start_early NAME COMMAND...
	local name=$1
	shift
	("$@" > "$bg/$name.out" 2>&1; echo $? > "$bg/$name.rc") &
	echo "$!" > "$bg/$name.pid"
}

run_suite() { # run_suite NAME COMMAND...
	local name=$1 out last p f start=$SECONDS rc
	shift
	echo "==> $name"
	out=$(mktemp)
	if [ -f "$bg/$name.pid" ]; then
		wait "$(cat "$bg/$name.pid")"
		tee "$out" < "$bg/$name.out"
		rc=$(cat "$bg/$name.rc")
		start=$bg_start
	else
		"$@" 2>&1 | tee "$out"
		rc=${PIPESTATUS[0]}
	fi
	last=$(tail -n 1 "$out")
	rm -f "$out"
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
	else
		p=0 f=1 # a suite that cannot report has failed
		echo "$name: no summary line"
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # e.g. a sanitizer or valgrind report after all tests passed
		echo "$name: exit status $rc"
	fi
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
	summary+=("$(printf '%-8s %4d passed, %d failed  (%d s)' "$name" "$p" "$f" $((SECONDS - start)))")
}

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(lint unit asan valgrind fuzz crash arm qemu)
bg_start=$SECONDS
# The crash suite is the longest of those on one core: beside the others,
# when they run too (and before the QEMU suite, which takes both cores).
if [[ " ${suites[*]} " == *" crash "* ]] && [ ${#suites[@]} -gt 2 ]; then
	start_early crash "$build/crash-tests"
fi
for s in "${suites[@]}"; do
	case $s in
	lint) run_suite lint "$top/tests/lint.sh" ;;
	unit) run_suite unit "$build/unit-tests" ;;
	asan) ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		run_suite asan "$build/asan/unit-tests" ;;
	valgrind) run_suite valgrind valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite "$build/unit-tests" ;;
	fuzz) run_suite fuzz "$top/tests/fuzz/replay-all.sh" "$build" ;;
	crash) run_suite crash "$build/crash-tests" ;;
	arm) run_suite arm "$top/tests/arm/run.sh" "$build" ;;
	qemu) run_suite qemu "$top/tests/qemu/run-all.sh" ;;
	*) echo "unknown suite $s" >&2; exit 2 ;;
	esac
done
echo "==> summary"
printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
