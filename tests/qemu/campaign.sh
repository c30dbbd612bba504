# shellcheck shell=bash
# The summary of a power-cut campaign (sourced by powercut-campaign.sh and
# powercut-data-campaign.sh; each defines phase_of LINE, the phase a cut hit
# from the last console line before it).
#
# campaign_summary TITLE INTRO RECOVERED OUT SEED=RESULT_FILE...: tallies the
# runs' results (lines "CASE|CUT_DONE|BOOTS|FAILURES|LAST_LINE"), writes the
# tables to OUT/summary.md and stdout. RECOVERED names what a passed run
# showed. Returns 1 when a run failed or left no result.
campaign_summary() {
	local title=$1 intro=$2 recovered=$3 out=$4 item s r was_cut errs last p
	shift 4
	local -A by_phase=()
	local nocut=0 pass=0 fail=0 failures=()
	for item in "$@"; do
		s=${item%%=*} r=${item#*=}
		if [ ! -f "$r" ]; then
			fail=$((fail + 1)) failures+=("$s (no result)")
			continue
		fi
		IFS="|" read -r _ was_cut _ errs last < "$r"
		if [ "$was_cut" = 1 ]; then
			p=$(phase_of "$last")
			by_phase[$p]=$((${by_phase[$p]:-0} + 1))
		else
			nocut=$((nocut + 1))
		fi
		if [ "$errs" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)) failures+=("$s"); fi
	done
	{
		echo "## $title"
		echo
		echo "$intro"
		echo
		echo "| phase the cut hit | cuts |"
		echo "| --- | ---: |"
		for p in "${!by_phase[@]}"; do echo "| $p | ${by_phase[$p]} |"; done | sort
		echo "| (the update finished before the chosen moment: no cut) | $nocut |"
		echo
		echo "| outcome | runs |"
		echo "| --- | ---: |"
		echo "| $recovered | $pass |"
		echo "| failed | $fail |"
		echo
		if [ "$fail" -gt 0 ]; then echo "Failed seeds: ${failures[*]}"; else echo "Failed seeds: none"; fi
	} | tee "$out/summary.md"
	[ "$fail" = 0 ]
}
