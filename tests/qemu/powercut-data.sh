# shellcheck shell=bash
# Power cuts through updates whose migration and trial write the data
# (sourced by powercut-data; docs/data-rollback.md). pcd_run MODE CUT runs one
# update of version 2-hooks from a device whose data holds app.conf (format=1)
# and old.bin, with one power cut in it, and boots on until it settles. The
# hook migrates app.conf to format=2; the trial checks that, deletes old.bin,
# writes format=3 and 2 MiB of trial.bin, then (MODE) confirms or marks itself
# bad. After every boot and at the end:
#   - version 1, whenever it boots, sees every file exactly as before the
#     update (names and contents): never the new version's data;
#   - version 2 on trial sees app.conf migrated (or as its earlier trial boot
#     left it: the checkpoint spans the whole trial);
#   - confirm: the update ends confirmed with the trial's data; fail: it ends
#     rolled back, the history says "data rolled back to before version 2";
#   - the record says no checkpoint and the COW store's header is zero.
# CUT: testpoint:NAME, or random:SEED (a boot and a moment in it: the install
# with its hook, the trial's writes, or the rollback's merge).

# shellcheck source=powercut.sh
. "$(dirname "${BASH_SOURCE[0]}")/powercut.sh"



pcd_step() {
	cat <<STEP
version=\$(cat /etc/demo-version)
json=\$(systemota status --json)
state=\$(echo "\$json" | sed -n 's/.*"state": "\([a-z]*\)".*/\1/p')
active=\$(echo "\$json" | sed -n 's/.*"active": "\(.\)".*/\1/p')
b=\$(echo "\$json" | sed -n 's/.*"B": { "status": "\([a-z]*\)".*/\1/p')
echo "PC: version=\$version state=\$state active=\$active B=\$b"
echo "PC: files $DATA_FILES"
after=reboot
if [ "\$version" = 2 ] && [ "\$state" = trying ]; then
	$HOLD_WATCHDOG
	echo "PC: app.conf \$(cat /data/app.conf)"
	rm -f /data/old.bin; echo format=3 > /data/app.conf
	yes trial | head -c 1048576 > /data/trial.bin; sync
	if [ -e /ctl/trial-cut ]; then echo "systemota: TESTPOINT trial-running"; while :; do sleep 60; done; fi
	yes trial | head -c 2097152 > /data/trial.bin; sync
	if [ -e /ctl/confirm ]; then systemota mark-good && echo "PC: CONFIRMED"
	else systemota mark-bad --reason "the trial failed" && echo "PC: MARKED BAD"; fi
elif [ "\$version" = 2 ] || { [ "\$state" = idle ] && [ "\$b" = bad ]; }; then
	echo "PC: DONE app.conf=\$(cat /data/app.conf) trial.bin=\$(sha256sum < /data/trial.bin 2> /dev/null | cut -c1-16) old.bin=\$([ -e /data/old.bin ] && echo there || echo gone)"
	after=poweroff
fi
STEP
}

# The factory disk after one boot of version 1 that wrote the data and staged
# version 2-hooks (made once, shared under a lock); its files' digest beside it.
pcd_disk() {
	local disk=$QEMU_BUILD/disk-data.img
	(
		flock 9
		[ "$disk" -nt "$QEMU_BUILD/disk.img" ] && exit 0
		rm -f "$disk" "$disk.files" # a stale one must not stand in if this fails
		local tmp=$QEMU_BUILD/staging-data
		rm -rf "$tmp" && mkdir -p "$tmp/ctl"
		cp "$QEMU_BUILD/v2-hooks.sota" "$tmp/ctl/"
		cp --sparse=always "$QEMU_BUILD/disk.img" "$tmp/disk.img"
		cat > "$tmp/ctl/step.sh" <<-STEP
			echo format=1 > /data/app.conf; yes old | head -c 1048576 > /data/old.bin
			systemota stage /ctl/v2-hooks.sota && sync && echo "PC: files $DATA_FILES"
		STEP
		vm_boot "$tmp/disk.img" "$tmp/ctl" "$tmp/boot.log" &&
			sed -n 's/^PC: files \([0-9a-f]\{64\}\)$/\1/p' "$tmp/boot.log" > "$disk.files" &&
			[ -s "$disk.files" ] && mv "$tmp/disk.img" "$disk"
	) 9> "$QEMU_BUILD/disk-data.lock"
	[ -f "$disk" ] && echo "$disk"
}

pcd_image_of() { # the image a version runs from: version 2 is 2-hooks here
	echo "$QEMU_BUILD/root-v$1$([ "$1" = 2 ] && echo -hooks).img"
}

pcd_check_boot() { # pcd_check_boot N: the invariants after boot N that ran to its end
	local log=$work/boot$1.log files
	pc_booted "$1" pcd_image_of || return
	files=$(sed -n 's/^PC: files \([0-9a-f]\{64\}\)$/\1/p' "$log")
	[ "$pc_version" != 1 ] || [ "$files" = "$pcd_files" ] ||
		fail "boot $1: version 1 runs on other data than its own (files $files, before the update $pcd_files)"
	# Migrated by the hook (2), or already rewritten by an earlier trial boot (3).
	if grep -q "^PC: version=2 state=trying" "$log"; then
		grep -qE "^PC: app.conf format=[23]$" "$log" || fail "boot $1: the trial does not see app.conf migrated"
	fi
}

pcd_run() {
	local mode=$1 cut=$2 n=0 cut_done=0 rc how cut_boot=0 delay="" disk phase=none
	pc_trials=0
	disk=$(pcd_disk) || { fail "cannot make the disk with the data and version 2 staged"; finish; }
	pcd_files=$(cat "$disk.files")
	cp --sparse=always "$disk" "$work/disk.img"
	[ "$mode" = confirm ] && : > "$work/ctl/confirm"
	if [[ $cut == random:* ]]; then
		# The phase: the install with its hook and the trial's writes are both
		# in boot 1 (the initramfs installs, then boots the trial); the
		# rollback's merge (fail only) in boot 2. Spans measured under TCG here.
		local anchors=("systemota: state:" "demo: \\*\\*\\*" "systemota: rolling the data back")
		local spans=(2500 1500 800) boot_of=(1 1 2) phases=2 phase ms
		# From a hash of the seed: bash's RANDOM follows a small seed closely
		# (its first values for seeds 1, 2, 3 are 16807, 846, 17653).
		local h
		h=$(printf 'powercut-data %s' "${cut#random:}" | cksum | cut -d' ' -f1)
		[ "$mode" = fail ] && phases=3
		phase=$((h % phases))
		cut_boot=${boot_of[$phase]}
		ms=$((h / 3 % ${spans[$phase]}))
		delay=$((ms / 1000)).$(printf '%03d' $((ms % 1000))):${anchors[$phase]}
		log "cut: boot $cut_boot, $delay (seed ${cut#random:})"
	fi
	while [ "$n" -lt "$PC_MAX_BOOTS" ]; do
		n=$((n + 1))
		pcd_step > "$work/ctl/step.sh"
		local args=() how=""
		pc_plan "$cut_done" "$cut" "$n" "$cut_boot" "$delay"
		pc_boot "$n" "$how" "${args[@]}"
		rc=$?
		if [ "$rc" = 0 ]; then
			cut_done=1
			phase=$(grep -E '^(systemota|PC|demo|migrate):' "$work/boot$n.log" | tail -n 1)
			log "boot $n: power cut (last line: ${phase:-none})"
		else
			pcd_check_boot "$n"
			log "boot $n: $(grep -o 'running version [0-9]* from slot [AB]' "$work/boot$n.log" || echo 'no system')"
		fi
		state_json > /dev/null || fail "boot $n: the state record does not read back"
		[ "$rc" = 3 ] && grep -q "^PC: DONE" "$work/boot$n.log" && break
	done
	[ "$cut_done" = 1 ] || [[ $cut == random:* ]] || fail "the power was never cut at $cut"
	local settled
	settled=$(grep -h "^PC: DONE" "$work/boot$n.log")
	if [ "$mode" = confirm ]; then
		expect_state '"state": "idle"' '"active": "B"' '"data_checkpoint": "none"'
		[ "$settled" = "PC: DONE app.conf=format=3 trial.bin=$(yes trial | head -c 2097152 | sha256sum | cut -c1-16) old.bin=gone" ] ||
			fail "the confirmed update does not keep the trial's data: ${settled:-no DONE boot}"
	else
		expect_state '"state": "idle"' '"active": "A"' '"B": \{ "status": "bad"' '"data_checkpoint": "none"'
		[ "$settled" = "PC: DONE app.conf=format=1 trial.bin= old.bin=there" ] ||
			fail "version 1 does not end on its own data: ${settled:-no DONE boot}"
		history_has 'data-rollback +slot B +version 2 .*: data rolled back to before version 2$'
	fi
	expect_cow_reset
	echo "$mode:$cut|$cut_done|$n|$failures|$phase" > "$work/result"
}
