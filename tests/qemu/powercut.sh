# shellcheck shell=bash
# Power cuts in QEMU (sourced by the powercut-* cases, on top of lib.sh).
#
# pc_run CUT runs one whole update of the demo device with one power cut in
# it, then boots on until the device settles, and checks after every boot:
#   - the slot that booted holds exactly the image of the version it runs;
#   - the record on the disk reads back;
#   - the canary file written at the factory is intact;
#   - an unconfirmed slot boots at most 3 times;
#   - the record holds no keyring, or keyring 1 (which version 2 brings) once
#     version 2 is confirmed, never before;
#   - the update ends applied and confirmed: if `systemota stage` had
#     reported success before the cut, without staging again (never
#     half-applied and forgotten); otherwise the user stages again.
# CUT: "testpoint:NAME" (see applier/testpoint.h; "trial-running" is a point
# in the new system before mark-good) or "random:SEED" (a boot, and a moment
# in it, chosen from the seed).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PC_MAX_BOOTS=10
PC_TRIES=3

# The device's init runs this at every boot of a power-cut scenario.
pc_step() {
	cat <<'STEP'
if (cd /data && sha256sum -c /ctl/canary.sha256 > /dev/null 2>&1); then echo "PC: canary ok"; else echo "PC: canary BAD"; fi
version=$(cat /etc/demo-version)
json=$(systemota status --json)
state=$(echo "$json" | sed -n 's/.*"state": "\([a-z]*\)".*/\1/p')
active=$(echo "$json" | sed -n 's/.*"active": "\(.\)".*/\1/p')
echo "PC: version=$version state=$state active=$active"
after=reboot
if [ "$version" = 1 ]; then
	if [ ! -e /data/systemota/staged/update.sota ] && [ -e /ctl/restage ]; then
		systemota stage /ctl/v2.sota && echo "PC: STAGED"
	fi
elif [ "$state" = trying ]; then
	if [ -e /ctl/trial-cut ]; then echo "systemota: TESTPOINT trial-running"; while :; do sleep 60; done; fi
	systemota mark-good && echo "PC: CONFIRMED"
elif [ "$active" = B ]; then
	echo "PC: DONE"
	after=poweroff
fi
STEP
}

# pc_plan CUT_DONE CUT N CUT_BOOT DELAY: how boot N is to be cut, in how (""
# not: also once CUT_DONE is 1) and args (kernel arguments); trial-running is
# armed by a flag on the control disk.
pc_plan() {
	how="" args=()
	rm -f "$work/ctl/trial-cut"
	[ "$1" = 1 ] && return 0
	shift
	case $1 in
	testpoint:trial-running)
		: > "$work/ctl/trial-cut"
		how=$1
		;;
	testpoint:*) args=("systemota.testpoint=${1#testpoint:}") how=$1 ;;
	random:*) [ "$2" = "$3" ] && how="after:$4" ;;
	esac
}

# pc_boot N HOW [KERNEL_ARGS...]: boot N, its power cut as HOW says, or whole
# when HOW is "". Returns 0 when the power was cut, 3 when the boot ended.
pc_boot() {
	local n=$1 how=$2
	shift 2
	if [ -n "$how" ]; then
		vm_boot_cut "$work/disk.img" "$work/ctl" "$work/boot$n.log" "$how" "$@"
		return
	fi
	vm_boot "$work/disk.img" "$work/ctl" "$work/boot$n.log" || fail "boot $n: QEMU failed"
	return 3
}

pc_image_of() { # the image a version runs from
	echo "$QEMU_BUILD/root-v$1.img"
}

# pc_booted N IMAGE_OF: the version and slot boot N ran (pc_version,
# pc_slot), the slot's bytes checked against the image "IMAGE_OF VERSION"
# names, and a trial boot of version 2 counted against the tries (pc_trials).
# Returns 1 when no system came up.
pc_booted() {
	local log=$work/boot$1.log line
	line=$(grep -o 'running version [0-9]* from slot [AB]' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		fail "boot $1: no system came up"
		return 1
	fi
	pc_version=${line#running version }
	pc_version=${pc_version%% *}
	pc_slot=${line##* }
	expect_slot_holds "$pc_slot" "$("$2" "$pc_version")"
	if grep -q "^PC: version=2 state=trying" "$log"; then
		pc_trials=$((pc_trials + 1))
		[ "$pc_trials" -le "$PC_TRIES" ] || fail "boot $1: unconfirmed version 2 booted $pc_trials times"
	fi
}

# pc_check_boot N: the invariants after boot N that ran to its end.
pc_check_boot() {
	pc_booted "$1" pc_image_of || return
	grep -q "PC: canary ok" "$work/boot$1.log" || fail "boot $1: the canary file is damaged"
}

# pc_check_keyring N: version 2 carries keyring 1, which the factory device
# has not adopted: after any boot, cut or not, the record holds none or keyring
# 1, and keyring 1 exactly when version 2 is confirmed (docs/keyring.md).
pc_check_keyring() {
	local json adopted confirmed=0
	json=$(state_json) || return
	adopted=$(sed -n 's/.*"keyring_version": \([0-9a-z]*\).*/\1/p' <<< "$json")
	grep -qE '"B": \{ "status": "good", "version": 2' <<< "$json" && confirmed=1
	case $adopted,$confirmed in
	null,0 | 1,1) ;;
	*) fail "boot $1: keyring ${adopted:-missing} adopted, version 2 confirmed: $confirmed" ;;
	esac
}

pc_run() {
	local cut=$1 n=0 cut_done=0 staged=0 rc phase="none" cut_boot=0 delay=0 first=1
	pc_trials=0
	cp "$QEMU_BUILD/v2.sota" "$work/ctl/"
	cp "$QEMU_BUILD/canary.sha256" "$work/ctl/"
	if [[ $cut == random:* ]]; then
		# A boot, then a moment after a point of it where the update is at work
		# (measured under TCG here: staging takes ~0.5 s from the init's start;
		# install, read-back, switch, trial and mark-good ~2.3 s from the
		# applier's start). Boot 1 stages, boot 2 gets two thirds of the cuts.
		local anchors=("" "demo: \\*\\*\\*" "systemota: state:") spans=(0 600 2400) ms
		RANDOM=${cut#random:}
		cut_boot=$((RANDOM % 3 == 0 ? 1 : 2))
		ms=$((RANDOM % ${spans[$cut_boot]}))
		delay=$((ms / 1000)).$(printf '%03d' $((ms % 1000))):${anchors[$cut_boot]}
		log "cut: boot $cut_boot, $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s after '${anchors[$cut_boot]}' (seed ${cut#random:})"
	fi
	# Unless the cut is about staging, start from the disk where it is done.
	if [ "$cut_boot" = 2 ] || { [[ $cut == testpoint:* ]] && [[ $cut != testpoint:stage-* ]]; }; then
		local disk
		disk=$(staged_disk) || fail "cannot make the staged disk"
		cp --sparse=always "$disk" "$work/disk.img"
		staged=1 first=2 cut_boot=$((cut_boot == 2 ? 2 : 0))
		log "starting from the disk with version 2 staged"
	fi
	n=$((first - 1))
	while [ "$n" -lt "$PC_MAX_BOOTS" ]; do
		n=$((n + 1))
		pc_step > "$work/ctl/step.sh"
		rm -f "$work/ctl/restage"
		[ "$staged" = 1 ] || : > "$work/ctl/restage"
		local args=() how=""
		pc_plan "$cut_done" "$cut" "$n" "$cut_boot" "$delay"
		pc_boot "$n" "$how" "${args[@]}"
		rc=$?
		grep -q "^PC: STAGED" "$work/boot$n.log" && staged=1
		if [ "$rc" = 0 ]; then
			cut_done=1
			phase=$(grep -E '^(systemota|PC|demo):' "$work/boot$n.log" | tail -n 1)
			log "boot $n: power cut (last line: ${phase:-none})"
		else
			pc_check_boot "$n"
			log "boot $n: $(grep -o 'running version [0-9]* from slot [AB]' "$work/boot$n.log" || echo 'no system')"
		fi
		state_json > /dev/null || fail "boot $n: the state record does not read back"
		pc_check_keyring "$n"
		# Done when version 2 confirmed itself (or found itself confirmed) on a whole boot.
		[ "$rc" = 3 ] && grep -qE "^PC: (DONE|CONFIRMED)" "$work/boot$n.log" && break
	done
	[ "$cut_done" = 1 ] || [[ $cut == random:* ]] || fail "the power was never cut at $cut"
	grep -qE "^PC: (DONE|CONFIRMED)" "$work/boot$n.log" ||
		fail "no confirmed version 2 after $n boots"
	expect_state '"state": "idle"' '"active": "B"' '"B": \{ "status": "good", "version": 2' \
		'"keyring_version": 1,' '"keyring_pending_version": null'
	echo "$cut|$cut_done|$n|$failures|$phase" > "$work/result"
}
