#!/bin/bash
# make fuzz: runs each libFuzzer target for SECONDS, starting from the
# committed corpus, and prints the executions of each and the total.
#   tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...
set -u
dir=$1 secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
total=0 crashed=0
for t in "$@"; do
	mkdir -p "$dir/corpus-$t" "$dir/artifacts-$t"
	log=$dir/fuzz-$t.log
	"$dir/fuzz-$t" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$dir/artifacts-$t/" \
		-max_len=1048576 "$dir/corpus-$t" "$here/corpus/$t" > "$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	execs=${execs:-0}
	total=$((total + execs))
	if [ "$rc" -ne 0 ]; then
		crashed=$((crashed + 1))
		echo "$t: $execs executions, FAILED (exit $rc): see $log and $dir/artifacts-$t/"
	else
		echo "$t: $execs executions, no crash"
	fi
done
echo "total: $total executions in $# targets, $crashed with a finding"
[ "$crashed" -eq 0 ]
