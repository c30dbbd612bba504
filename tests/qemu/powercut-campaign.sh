#!/bin/bash
# make powercut N=500 [SEED=1]: N random power cuts (powercut-random with
# seeds SEED..SEED+N-1), QEMU_JOBS at a time, then a summary: cuts by the
# phase the update was in, outcomes, and every failure with its seed (rerun
# one with: tests/qemu/run-all.sh powercut-random:SEED). RESUME=1 goes on with
# an interrupted campaign: seeds that already have a result are not run again.
# ARCH=arm64 (make powercut ARCH=arm64): on the arm64 device behind U-Boot,
# summary in build/powercut-arm64.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
n=${1:-500} seed=${2:-1}
at='' # the case suffix and result-directory suffix of the device
[ "${ARCH:-x86_64}" = x86_64 ] || at=@$ARCH
out=$top/build/powercut${at:+-$ARCH}
mkdir -p "$out"
cases=()
for ((i = 0; i < n; i++)); do
	s=$((seed + i))
	[ "${RESUME:-0}" = 1 ] && [ -f "$top/build/tests/qemu/powercut-random-$s$at/result" ] && continue
	cases+=("powercut-random:$s$at")
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
	*"data checkpointed"*) echo "install: data checkpointed, switching to B" ;;
	*"written and verified"* | *"trial boot of slot"* | *"booting slot"*) echo "switch: trial counted, mounting B" ;;
	*"running version 2"* | "PC: version=2"*) echo "trial boot, before mark-good" ;;
	*"is good"* | *"removed update.sota"* | "PC: CONFIRMED"*) echo "mark-good and clean-up" ;;
	*"rebooting"* | *"powering off"*) echo "reboot" ;;
	*"demo: boot 1, step "*) echo "staging (version 1 running)" ;;
	*"demo: boot "*", step "*) echo "trial boot, before mark-good" ;;
	*) echo "other ($1)" ;;
	esac
}

# shellcheck source=campaign.sh
. "$here/campaign.sh"
results=()
for ((i = 0; i < n; i++)); do
	s=$((seed + i))
	results+=("$s=$top/build/tests/qemu/powercut-random-$s$at/result")
done
campaign_summary "Power-cut campaign: $n random cuts (seeds $seed..$((seed + n - 1)))${at:+ on the $ARCH device}" \
	"Command: \`make powercut N=$n SEED=$seed${RESUME:+ RESUME=$RESUME}${at:+ ARCH=$ARCH}\`; $elapsed s for the ${#cases[@]} runs made now, with QEMU_JOBS=${QEMU_JOBS:-$(nproc)}; $(date -u +%Y-%m-%d)." \
	"recovered: version 2 confirmed in slot B, every invariant held" "$out" "${results[@]}" || status=1
[ "$status" = 0 ]
