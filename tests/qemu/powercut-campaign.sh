#!/bin/bash
# make powercut N=500 [SEED=1]: N random power cuts (powercut-random with
# seeds SEED..SEED+N-1), QEMU_JOBS at a time, then a summary: cuts by the
# phase the update was in, outcomes, and every failure with its seed (rerun
# one with: tests/qemu/run-all.sh powercut-random:SEED). RESUME=1 goes on with
# an interrupted campaign: seeds that already have a result are not run again.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
n=${1:-500} seed=${2:-1}
out=$top/build/powercut
mkdir -p "$out"
cases=()
for ((i = 0; i < n; i++)); do
	s=$((seed + i))
	[ "${RESUME:-0}" = 1 ] && [ -f "$top/build/tests/qemu/powercut-random-$s/result" ] && continue
	cases+=("powercut-random:$s")
done
start=$SECONDS
echo "==> $n random power cuts, seeds $seed..$((seed + n - 1)), ${#cases[@]} to run, log in $out/campaign.log"
status=0
if [ "${#cases[@]}" -gt 0 ]; then
	"$here/run-all.sh" "${cases[@]}" >> "$out/campaign.log" 2>&1 || status=$?
fi
elapsed=$((SECONDS - start))

# Which phase a cut hit, from the last console line before it.
phase_of() {
	case $1 in
	*"TESTPOINT"*) echo "test point" ;;
	none | "") echo "kernel and initramfs start" ;;
	*"running version 1"* | "PC: version=1"* | *"staged version"* | "PC: canary"* | "PC: STAGED"*) echo "staging (version 1 running)" ;;
	*"systemota: state:"* | *"installing version"* | *"interrupted"*) echo "install: writing and reading back slot B" ;;
	*"reading it back"* | *"image written"*) echo "install: flushing slot B" ;;
	*"written and verified"* | *"trial boot of slot"* | *"booting slot"*) echo "switch: trial counted, mounting B" ;;
	*"running version 2"* | "PC: version=2"*) echo "trial boot, before mark-good" ;;
	*"is good"* | *"removed update.sota"* | "PC: CONFIRMED"*) echo "mark-good and clean-up" ;;
	*"rebooting"* | *"powering off"*) echo "reboot" ;;
	*"demo: boot 1, step "*) echo "staging (version 1 running)" ;;
	*"demo: boot "*", step "*) echo "trial boot, before mark-good" ;;
	*) echo "other ($1)" ;;
	esac
}

declare -A by_phase
cut=0 nocut=0 pass=0 fail=0 failures=()
for ((i = 0; i < n; i++)); do
	s=$((seed + i))
	r=$top/build/tests/qemu/powercut-random-$s/result
	if [ ! -f "$r" ]; then
		fail=$((fail + 1)) failures+=("$s (no result)")
		continue
	fi
	IFS="|" read -r _ was_cut _ errs last < "$r"
	if [ "$was_cut" = 1 ]; then
		cut=$((cut + 1))
		p=$(phase_of "$last")
		by_phase[$p]=$((${by_phase[$p]:-0} + 1))
	else
		nocut=$((nocut + 1))
	fi
	if [ "$errs" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)) failures+=("$s"); fi
done

{
	echo "## Power-cut campaign: $n random cuts (seeds $seed..$((seed + n - 1)))"
	echo
	echo "Command: \`make powercut N=$n SEED=$seed${RESUME:+ RESUME=$RESUME}\`; $elapsed s for the ${#cases[@]} runs made now, with QEMU_JOBS=${QEMU_JOBS:-$(nproc)}; $(date -u +%Y-%m-%d)."
	echo
	echo "| phase the cut hit | cuts |"
	echo "| --- | ---: |"
	for p in "${!by_phase[@]}"; do echo "| $p | ${by_phase[$p]} |"; done | sort
	echo "| (the update finished before the chosen moment: no cut) | $nocut |"
	echo
	echo "| outcome | runs |"
	echo "| --- | ---: |"
	echo "| recovered: version 2 confirmed in slot B, every invariant held | $pass |"
	echo "| failed | $fail |"
	echo
	if [ "$fail" -gt 0 ]; then echo "Failed seeds: ${failures[*]}"; else echo "Failed seeds: none"; fi
} | tee "$out/summary.md"
[ "$status" = 0 ] && [ "$fail" = 0 ]
