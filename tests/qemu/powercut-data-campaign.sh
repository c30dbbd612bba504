#!/bin/bash
# make powercut-data N=200 [SEED=1]: N random power cuts through updates whose
# hook and trial write the data (powercut-data, seeds SEED..SEED+N-1: even
# seeds end in a failed trial and the rollback's merge, odd ones confirm),
# QEMU_JOBS at a time, then a summary: cuts by phase, outcomes, failures (rerun
# one with: tests/qemu/run-all.sh powercut-data:fail:random:SEED). RESUME=1
# goes on with an interrupted campaign.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
n=${1:-200} seed=${2:-1}
out=$top/build/powercut-data
mkdir -p "$out"
mode_of() { if [ $(($1 % 2)) = 0 ]; then echo fail; else echo confirm; fi; }
cases=()
for ((i = 0; i < n; i++)); do
	s=$((seed + i))
	c="$(mode_of "$s"):random:$s"
	[ "${RESUME:-0}" = 1 ] && [ -f "$top/build/tests/qemu/powercut-data-$c/result" ] && continue
	cases+=("powercut-data:$c")
done
start=$SECONDS
echo "==> $n random power cuts through data-writing updates, seeds $seed..$((seed + n - 1)), ${#cases[@]} to run, log in $out/campaign.log"
status=0
if [ "${#cases[@]}" -gt 0 ]; then
	"$here/run-all.sh" "${cases[@]}" >> "$out/campaign.log" 2>&1 || status=$?
fi
elapsed=$((SECONDS - start))

phase_of() { # the phase a cut hit, from the last console line before it
	case $1 in
	none | "") echo "kernel and initramfs start" ;;
	*"rolling the data back"* | *"merging the data back"*) echo "rollback: merging the data back" ;;
	*"data rolled back"*) echo "rollback: merged, before version 1 starts" ;;
	*"data checkpointed"* | *"post-install hook"* | migrate:*) echo "install: checkpoint and migration hook" ;;
	*"systemota: state:"* | *"installing version"* | *"image written"* | *"interrupted"* | *"cut short"*) echo "install: writing slot B" ;;
	*"written and verified"* | *"trial boot of slot"* | *"watchdog"* | *"booting slot"*) echo "switch: trial counted, mounting B" ;;
	*"running version 2"* | "PC: version=2"* | "PC: app.conf"* | "PC: files"* | *"demo: boot"*) echo "trial: writing the data, before deciding" ;;
	*"marked bad"* | *"MARKED BAD"* | *"is good"* | *"CONFIRMED"* | *"removed update.sota"*) echo "trial: decided" ;;
	*"rebooting"* | *"powering off"*) echo "reboot" ;;
	*) echo "other ($1)" ;;
	esac
}

# shellcheck source=campaign.sh
. "$here/campaign.sh"
results=()
for ((i = 0; i < n; i++)); do
	s=$((seed + i))
	results+=("$s=$top/build/tests/qemu/powercut-data-$(mode_of "$s"):random:$s/result")
done
campaign_summary "Power-cut campaign through data-writing updates: $n random cuts (seeds $seed..$((seed + n - 1)))" \
	"Command: \`make powercut-data N=$n SEED=$seed${RESUME:+ RESUME=$RESUME}\`; $elapsed s for the ${#cases[@]} runs made now, with QEMU_JOBS=${QEMU_JOBS:-$(nproc)}; $(date -u +%Y-%m-%d)." \
	"recovered, every invariant held (version 1 on its own data; confirmed: the trial's data)" "$out" "${results[@]}" || status=1
[ "$status" = 0 ]
