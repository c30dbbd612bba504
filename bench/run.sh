#!/usr/bin/env bash
# `make bench`: SystemOTA's installer against baselines, side by side.
#
# Everything lives in BENCH_DIR (default build/bench): cache/ keeps the
# images, their zstd -19 files, our bundles and the peers' bundles between
# runs (keyed by size and by what makes them, so a rerun is fast), work/ the
# slots and scratch files, results/ the raw figures of this run, report.md
# the report, which is also printed on stdout (progress goes to stderr).
#
# What is measured (see the report's notes for the details):
# - per installer, at BENCH_MAIN_SIZE: wall, CPU (user+sys, children
#   included), peak RSS, image MiB/s; REPS repetitions, interleaved, median;
#   installers: our apply (read-back yes, and no), dd, zstd -dc | dd, RAUC
#   (bench/peers/rauc.sh), SWUpdate (bench/peers/swupdate.sh);
# - our apply (read-back yes) at every size of BENCH_SIZES (scaling);
# - the boot decision with nothing staged (median wall, callgrind Ir);
# - the bundle size against zstd -19, the installers' binary + library
#   sizes, the static binaries' make-up, x86 and arm64 (bench/linkmap.sh), the apply's
#   instructions per MiB on arm64 against x86 (bench/insns.sh) and what our dracut
#   module adds to an initramfs (bench/initramfs.sh).
# The target is a loop device (a plain file when loop devices are
# unavailable), discarded (zeroed) before every run, with the page cache
# dropped; after every run the slot must hold the image (sha256), or the
# benchmark fails (exit 1, after the report).
#
# Settings (environment, or make variables: make bench REPS=5):
#   REPS=3                   repetitions of every measurement
#   BENCH_SIZES="64 256 1024" image sizes, MiB (BENCH_SIZES="64 256": quick)
#   BENCH_MAIN_SIZE=256      the size of the side-by-side table (default 256,
#                            or the largest of BENCH_SIZES without 256)
#   BENCH_BOOT_RUNS=20       runs of the nothing-staged boot decision
#   BENCH_BUNDLE_OPTS=       more options for `systemota bundle create`
#                            (e.g. "--window-log 27"); part of the cache key
#   BENCH_SKIP=              any of: rauc swupdate boot initramfs linkmap insns
#   BENCH_FILL=0.92          how full the images are (bench/mkimage.sh)
#   BENCH_TARGET=loop        "file": a plain file as the slot, not a loop device
#   BENCH_DIR=build/bench    SYSTEMOTA=build/systemota
#   SYSTEMOTA_STATIC=build/systemota.static
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$top/bench/lib.sh"

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
BUILD=${BUILD:-$top/build}
OUT=${BENCH_DIR:-$BUILD/bench}
REPS=${REPS:-3}
SIZES=${BENCH_SIZES:-64 256 1024}
BOOT_RUNS=${BENCH_BOOT_RUNS:-20}
BUNDLE_OPTS=${BENCH_BUNDLE_OPTS:-}
SKIP=" ${BENCH_SKIP:-} "
SOTA=${SYSTEMOTA:-$BUILD/systemota}
SOTA_STATIC=${SYSTEMOTA_STATIC:-$BUILD/systemota.static}
KEY=$top/keys/dev-private.key
TRUSTED=$top/keys/trusted
COMMAND=${BENCH_COMMAND:-bench/run.sh}
MiB=1048576

# ---------------------------------------------------------------- checks
isnum() { case $1 in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }
posnum() { isnum "$1" && [ "$1" -ge "$2" ]; }
posnum "$REPS" 1 || die "REPS must be a positive number"
posnum "$BOOT_RUNS" 1 || die "BENCH_BOOT_RUNS must be a positive number"
read -r -a SIZES <<<"$SIZES"
[ "${#SIZES[@]}" -ge 1 ] || die "BENCH_SIZES is empty"
for s in "${SIZES[@]}"; do posnum "$s" 16 || die "bad size '$s' in BENCH_SIZES (MiB, >= 16)"; done
mapfile -t SIZES < <(printf '%s\n' "${SIZES[@]}" | sort -n -u)
if [ -n "${BENCH_MAIN_SIZE:-}" ]; then
	MAIN=$BENCH_MAIN_SIZE
	posnum "$MAIN" 16 || die "bad BENCH_MAIN_SIZE"
	mapfile -t SIZES < <(printf '%s\n' "${SIZES[@]}" "$MAIN" | sort -n -u)
elif printf '%s\n' "${SIZES[@]}" | grep -qx 256; then
	MAIN=256
else
	MAIN=${SIZES[-1]}
fi
skipped() { case $SKIP in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

[ "$(id -u)" -eq 0 ] || die "run as root (loop devices, dropping the page cache)"
[ -x "$SOTA" ] || die "no $SOTA: make build/systemota first"
[ -x "$SOTA_STATIC" ] || die "no $SOTA_STATIC: make build/systemota.static first"
for f in "$KEY" "$TRUSTED"; do [ -e "$f" ] || die "no $f"; done
need_packages e2fsprogs zstd time util-linux coreutils binutils gcc libc-bin cpio
skipped boot || need_packages valgrind
skipped initramfs || need_packages dracut-core kmod
for t in mkfs.ext4 debugfs dumpe2fs e2fsck zstd /usr/bin/time losetup blkdiscard sha256sum strip size ldd; do
	command -v "$t" >/dev/null || die "no $t"
done

CACHE=$OUT/cache WORK=$OUT/work RES=$OUT/results
mkdir -p "$CACHE" "$WORK" "$RES"
OUT=$(cd "$OUT" && pwd) CACHE=$OUT/cache WORK=$OUT/work RES=$OUT/results
rm -rf "${WORK:?}"/* "${RES:?}"/*
# A snapshot of the binaries: a rebuild during the run must not change them.
SOTA_SRC=$SOTA SOTA_STATIC_SRC=$SOTA_STATIC
mkdir -p "$WORK/bin"
cp "$SOTA_SRC" "$WORK/bin/systemota"
cp "$SOTA_STATIC_SRC" "$WORK/bin/systemota.static"
if [ -f "$SOTA_STATIC_SRC.stripped" ]; then
	cp "$SOTA_STATIC_SRC.stripped" "$WORK/bin/systemota.static.stripped"
else
	strip -o "$WORK/bin/systemota.static.stripped" "$SOTA_STATIC_SRC"
fi
SOTA=$WORK/bin/systemota SOTA_STATIC=$WORK/bin/systemota.static
SOTA_BUILT=$(date -u -r "$SOTA_SRC" '+%Y-%m-%d %H:%M UTC')
RUNS=$RES/runs.tsv
printf 'id\tsize\trep\tstatus\twall\tcpu\trss_kb\tflush\tnote\n' >"$RUNS"
FAILURES=()
LOOPS=()

cleanup() {
	local l m
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null || true; done
	LOOPS=()
	# RAUC mounts its bundle under its work directory; leave nothing mounted.
	awk -v p="$OUT/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
		while IFS= read -r m; do umount -l "$m" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

load_start=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load_start" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
	say "WARNING: the machine is busy (load $load_start on $(nproc) cores): figures will be noisy"
fi

# ---------------------------------------------------------------- inputs
img_key=$({ cat "$top/bench/mkimage.sh"; echo "${BENCH_FILL:-} ${SOURCE_DATE_EPOCH:-} ${BENCH_SOURCE:-}"; } | hash_of -)
image() { echo "$CACHE/root-${1}M-$img_key.img"; }
image_sha() { cat "$(image "$1").sha256"; }

ensure_image() {
	local f
	f=$(image "$1")
	[ -s "$f" ] && [ -s "$f.sha256" ] && return 0
	rm -f "$CACHE/root-${1}M-"*
	say "building the ${1} MiB image from /usr (bench/mkimage.sh)"
	"$top/bench/mkimage.sh" "$1" "$f"
	sha256sum "$f" | cut -c1-64 >"$f.sha256"
}

ensure_zst() {
	local f
	f=$(image "$1")
	[ -s "$f.zst" ] && return 0
	say "zstd -19 of the ${1} MiB image (the size baseline)"
	# -T0: several workers give the same bytes as the default (-T1).
	zstd -q -19 -T0 -f "$f" -o "$f.zst.tmp"
	mv "$f.zst.tmp" "$f.zst"
}

# Our bundle, keyed by the image, the options and the writer's sources.
bundle_key() {
	{
		image_sha "$1"
		echo "$BUNDLE_OPTS"
		"$SOTA" --help 2>&1 || true
		cat "$top"/applier/create.[ch] "$top"/applier/compress.[ch] "$top"/applier/codec.[ch] "$top"/applier/bundle.[ch]
	} | hash_of -
}
# (the key is computed once per run: the sources may change meanwhile)
declare -A BUNDLES
bundle() { echo "${BUNDLES[$1]}"; }
ensure_bundle() {
	local b t0 t1
	BUNDLES[$1]=$CACHE/bundle-${1}M-$(bundle_key "$1").sota
	b=$(bundle "$1")
	if [ -s "$b" ] && ! "$SOTA" bundle info "$b" >/dev/null 2>&1; then
		say "cached bundle $b refused by $SOTA: making it again"
		rm -f "$b"
	fi
	[ -s "$b" ] && return 0
	rm -f "$CACHE/bundle-${1}M-"*
	say "our bundle of the ${1} MiB image (bundle create --level 19 $BUNDLE_OPTS)"
	local -a opts
	read -r -a opts <<<"$BUNDLE_OPTS"
	t0=$EPOCHREALTIME
	"$SOTA" bundle create --image "$(image "$1")" --key "$KEY" --compatible bench --version 2 \
		--level 19 "${opts[@]}" -o "$b.tmp" >"$b.log" 2>&1 || { cat "$b.log" >&2; die "bundle create failed"; }
	t1=$EPOCHREALTIME
	mv "$b.tmp" "$b"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' >"$b.time"
}

# A peer's prepared bundle, keyed by the image, its script and its settings
# (computed once per run, like our bundle's key).
declare -A PEERS
peer_dir() { echo "${PEERS[$1-$2]}"; } # peer_dir NAME SIZE
ensure_peer() {
	local d
	PEERS[$1-$2]=$CACHE/$1-${2}M-$({
		image_sha "$2"
		cat "$top/bench/peers/$1.sh"
		echo "${RAUC_MKSQUASHFS_ARGS:-} ${SWUPDATE_ZSTD_LEVEL:-}"
	} | hash_of -)
	d=$(peer_dir "$1" "$2")
	[ -e "$d/.done" ] && return 0
	rm -rf "$CACHE/$1-${2}M-"*
	say "preparing the $1 bundle of the ${2} MiB image (bench/peers/$1.sh prepare)"
	"$top/bench/peers/$1.sh" prepare "$(image "$2")" "$d"
	: >"$d/.done"
}

# ---------------------------------------------------------------- the slot
SLOT='' SLOT_BACKING='' SLOT_KIND=''
attach_slot() { # attach_slot SIZE: a slot 16 MiB larger than the image
	local l dio=on
	SLOT_BACKING=$WORK/slot-${1}M.img
	rm -f "$SLOT_BACKING"
	truncate -s "$(($1 + 16))M" "$SLOT_BACKING"
	if [ "${BENCH_TARGET:-loop}" = file ]; then
		l=''
	else
		l=$(losetup -f --show --direct-io=on "$SLOT_BACKING" 2>/dev/null) ||
			{ dio=off; l=$(losetup -f --show "$SLOT_BACKING" 2>/dev/null); } || l=''
	fi
	if [ -n "$l" ]; then
		LOOPS+=("$l")
		SLOT=$l
		SLOT_KIND="loop device (direct I/O $dio) on a sparse file in ${OUT#"$top"/}/work"
	else
		SLOT=$SLOT_BACKING
		if [ "${BENCH_TARGET:-loop}" = file ]; then
			SLOT_KIND="PLAIN FILE in ${OUT#"$top"/}/work (BENCH_TARGET=file)"
		else
			SLOT_KIND="PLAIN FILE in ${OUT#"$top"/}/work: loop devices are unavailable here"
			say "WARNING: no loop device available; the slot is a plain file"
		fi
	fi
}
detach_slot() {
	local l keep=()
	if [ -b "$SLOT" ]; then
		losetup -d "$SLOT"
		for l in "${LOOPS[@]}"; do [ "$l" = "$SLOT" ] || keep+=("$l"); done
		LOOPS=("${keep[@]}")
	fi
	rm -f "$SLOT_BACKING"
	SLOT=''
}
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}
# Zero the slot so that no installer benefits from its predecessor's bytes.
reset_slot() { # reset_slot SIZE
	local size=$1
	if [ -b "$SLOT" ]; then
		blkdiscard -f "$SLOT" >/dev/null 2>&1 ||
			dd if=/dev/zero of="$SLOT" bs=1M count="$((size + 16))" conv=fsync status=none
	else
		truncate -s 0 "$SLOT"
		truncate -s "$((size + 16))M" "$SLOT"
	fi
	drop_caches
	if ! cmp -s -n "$MiB" "$SLOT" /dev/zero ||
		! dd if="$SLOT" bs=1M skip="$((size - 1))" count=1 status=none | cmp -s -n "$MiB" - /dev/zero; then
		die "the slot $SLOT is not zero after discarding it"
	fi
}
# check_slot SIZE: the slot's first SIZE MiB read back from the medium.
check_slot() {
	local got
	drop_caches
	got=$(head -c "$(($1 * MiB))" "$SLOT" | sha256sum | cut -c1-64)
	[ "$got" = "$(image_sha "$1")" ]
}

# ---------------------------------------------------------------- one run
declare -A NAMES=([ours-yes]="systemota apply, read-back yes" [ours-no]="systemota apply, read-back no"
	[ours-static]="systemota.static apply, read-back yes"
	[dd]="dd (raw copy, conv=fsync)" [zstd-dd]="zstd -dc \\| dd (no verification)"
	[medium]="slot I/O alone: write, then read back (dd, O_DIRECT)")

ours_setup() { # ours_setup DIR SIZE READBACK [STAGE]: a device in DIR, slot A active
	local d=$1
	rm -rf "$d"
	mkdir -p "$d/data/systemota/staged"
	if [ "${4:-stage}" = stage ]; then
		ln "$(bundle "$2")" "$d/data/systemota/staged/u.sota" 2>/dev/null ||
			cp "$(bundle "$2")" "$d/data/systemota/staged/u.sota"
	fi
	truncate -s 1M "$d/state"
	truncate -s "$2M" "$d/a"
	printf 'watchdog = none\nread-back = %s\n' "$3" >"$d/conf"
	"$SOTA" --config "$d/conf" --state "$d/state" state init --force --active A --slot-version 1 \
		>/dev/null 2>"$d/init.log" || { cat "$d/init.log" >&2; die "state init failed"; }
}
ours_args() { # the device's options, as the initramfs passes them
	printf '%s\n' --config "$1/conf" --state "$1/state" --slot-a "$1/a" --slot-b "$2" \
		--data-dir "$1/data" --keys "$TRUSTED"
}

fail_run() { # fail_run ID SIZE REP REASON LOG...
	local id=$1 size=$2 rep=$3 why=$4 log=$RES/fail-$1-${2}M-$3.log
	shift 4
	cat "$@" >"$log" 2>/dev/null || true
	FAILURES+=("$id at ${size} MiB, run $rep: $why (log: ${log#"$top"/})")
	printf '\n!!!!!!!! BENCHMARK RUN FAILED: %s at %s MiB, run %s: %s\n!!!!!!!! log: %s\n\n' \
		"$id" "$size" "$rep" "$why" "$log" >&2
	record "$id" "$size" "$rep" FAIL 0 0 0 0 "$why"
}
record() { local IFS=$'\t'; echo "$*" >>"$RUNS"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }

run_one() { # run_one ID SIZE REP
	local id=$1 size=$2 rep=$3 img rc=0 t0 t1 f0 f1 wall cpu rss note='' d=$WORK/dev
	local tf=$WORK/time.txt out=$WORK/out.txt err=$WORK/err.txt
	img=$(image "$size")
	: >"$out"
	: >"$err"
	reset_slot "$size"
	case $id in
	ours-yes | ours-static) ours_setup "$d" "$size" yes ;;
	ours-no) ours_setup "$d" "$size" no ;;
	esac
	local -a args
	mapfile -t args < <(ours_args "$d" "$SLOT")
	drop_caches
	# The medium's own figure: the image comes from the page cache, not timed.
	[ "$id" = medium ] && cat "$img" >/dev/null
	say "run $rep/$REPS: $id, ${size} MiB"
	t0=$EPOCHREALTIME
	case $id in
	ours-*)
		local bin=$SOTA
		[ "$id" = ours-static ] && bin=$SOTA_STATIC
		/usr/bin/time -f '%U %S %M' -o "$tf" "$bin" "${args[@]}" --compatible bench apply \
			>"$out" 2>"$err" || rc=$?
		;;
	dd)
		/usr/bin/time -f '%U %S %M' -o "$tf" dd if="$img" of="$SLOT" bs=1M conv=fsync status=none \
			>"$out" 2>"$err" || rc=$?
		;;
	medium)
		# shellcheck disable=SC2016 # expanded by the inner shell
		/usr/bin/time -f '%U %S %M' -o "$tf" bash -c 'set -e
			dd if="$1" of="$2" bs=512K oflag=direct conv=fsync status=none
			dd if="$2" of=/dev/null bs=512K iflag=direct count="$3" status=none' \
			_ "$img" "$SLOT" "$((size * 2))" >"$out" 2>"$err" || rc=$?
		;;
	zstd-dd)
		# shellcheck disable=SC2016 # expanded by the inner shell
		/usr/bin/time -f '%U %S %M' -o "$tf" bash -c 'set -o pipefail
			/usr/bin/time -f %M -o "$1" zstd -dc "$2" |
				/usr/bin/time -f %M -o "$3" dd of="$4" bs=1M conv=fsync status=none' \
			_ "$WORK/zstd.rss" "$img.zst" "$WORK/dd.rss" "$SLOT" >"$out" 2>"$err" || rc=$?
		;;
	rauc)
		rm -f "$WORK/rauc.stats"
		RAUC_BENCH_STATS=$WORK/rauc.stats /usr/bin/time -f '%U %S %M' -o "$tf" \
			"$top/bench/peers/rauc.sh" install "$(peer_dir rauc "$size")" "$SLOT" >"$out" 2>"$err" || rc=$?
		;;
	swupdate)
		/usr/bin/time -f '%U %S %M' -o "$tf" \
			"$top/bench/peers/swupdate.sh" install "$(peer_dir swupdate "$size")" "$SLOT" >"$out" 2>"$err" || rc=$?
		;;
	*) die "unknown installer $id" ;;
	esac
	t1=$EPOCHREALTIME
	# Whatever the installer left in the page cache, on the medium: timed too.
	f0=$EPOCHREALTIME
	sync "$SLOT"
	f1=$EPOCHREALTIME

	if [ "$rc" -ne 0 ]; then
		fail_run "$id" "$size" "$rep" "exit status $rc" "$out" "$err"
		return 0
	fi
	read -r cpu rss < <(tail -n 1 "$tf" | awk '{ printf "%.2f %d\n", $1 + $2, $3 }')
	wall=$(secs "$t0" "$t1")
	case $id in
	ours-*)
		if [ "$(cat "$out")" != "B $SLOT" ]; then
			fail_run "$id" "$size" "$rep" "printed '$(head -c 200 "$out")', not 'B $SLOT'" "$out" "$err"
			return 0
		fi
		"$SOTA" "${args[@]}" status --json >"$WORK/status.json" 2>>"$err" || true
		if ! grep -q '"state": "trying"' "$WORK/status.json" || ! grep -q '"target": "B"' "$WORK/status.json"; then
			fail_run "$id" "$size" "$rep" "status --json does not show slot B on trial" "$WORK/status.json" "$err"
			return 0
		fi
		;;
	zstd-dd)
		local zr dr
		zr=$(tail -n 1 "$WORK/zstd.rss") dr=$(tail -n 1 "$WORK/dd.rss")
		rss=$((zr > dr ? zr : dr))
		note="zstd $(mib $((zr * 1024))) MiB, dd $(mib $((dr * 1024))) MiB"
		;;
	rauc)
		# The service was up before `rauc install`, as on a device: the
		# install's own wall, the service's CPU during it and its peak RSS.
		local iw sc cc hwm
		if [ ! -s "$WORK/rauc.stats" ]; then
			fail_run "$id" "$size" "$rep" "rauc.sh wrote no RAUC_BENCH_STATS" "$out" "$err"
			return 0
		fi
		iw=$(sed -n 's/^install_wall=//p' "$WORK/rauc.stats")
		sc=$(sed -n 's/^service_cpu=//p' "$WORK/rauc.stats")
		cc=$(sed -n 's/^client_cpu=//p' "$WORK/rauc.stats")
		hwm=$(sed -n 's/^service_hwm_kb=//p' "$WORK/rauc.stats")
		note="the whole rauc.sh install, D-Bus and service start included, took $(printf '%.3f' "$wall") s"
		wall=$iw
		cpu=$(awk -v a="$sc" -v b="$cc" 'BEGIN { printf "%.2f", a + b }')
		rss=$hwm
		;;
	esac
	if ! check_slot "$size"; then
		fail_run "$id" "$size" "$rep" "WRONG SLOT CONTENT: the slot's first ${size} MiB do not have the image's sha256" "$out" "$err"
		return 0
	fi
	local flush
	flush=$(secs "$f0" "$f1")
	wall=$(awk -v a="$wall" -v b="$flush" 'BEGIN { printf "%.6f", a + b }')
	record "$id" "$size" "$rep" ok "$wall" "$cpu" "$rss" "$flush" "$note"
}

# ---------------------------------------------------------------- measure
for s in "${SIZES[@]}"; do
	ensure_image "$s"
	ensure_zst "$s"
	ensure_bundle "$s"
done
MAIN_IDS=(ours-yes ours-no ours-static)
MAIN_IDS+=(dd zstd-dd medium)
for p in rauc swupdate; do
	skipped "$p" && continue
	ensure_peer "$p" "$MAIN"
	MAIN_IDS+=("$p")
done
NAMES[rauc]="RAUC $(rauc --version 2>/dev/null | awk '{ print $2 }')"
NAMES[swupdate]="SWUpdate $(dpkg-query -W -f='${Version}' swupdate 2>/dev/null | cut -d+ -f1)"

measure_start=$SECONDS
attach_slot "$MAIN"
MAIN_SLOT_KIND=$SLOT_KIND
for ((rep = 1; rep <= REPS; rep++)); do
	for id in "${MAIN_IDS[@]}"; do run_one "$id" "$MAIN" "$rep"; done
done
detach_slot
for s in "${SIZES[@]}"; do
	[ "$s" = "$MAIN" ] && continue
	attach_slot "$s"
	for ((rep = 1; rep <= REPS; rep++)); do run_one ours-yes "$s" "$rep"; done
	detach_slot
done
measure_secs=$((SECONDS - measure_start))

# The boot decision with nothing staged: state idle, empty drop-in directory.
if ! skipped boot; then
	say "boot decision with nothing staged: $BOOT_RUNS runs each, callgrind"
	bd=$WORK/boot
	ours_setup "$bd" 16 yes nostage
	truncate -s 16M "$bd/b"
	mapfile -t bargs < <(ours_args "$bd" "$bd/b")
	boot_median() { # boot_median BINARY: median ms over BOOT_RUNS (2 warm-up runs)
		local i t0 t1 o v=()
		for ((i = 0; i < BOOT_RUNS + 2; i++)); do
			t0=$EPOCHREALTIME
			o=$("$@" 2>/dev/null) || die "the nothing-staged apply failed ($*)"
			t1=$EPOCHREALTIME
			[ "${o%% *}" = A ] || die "the nothing-staged apply printed '$o', not 'A ...'"
			[ "$i" -ge 2 ] && v+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1000 }')")
		done
		echo "$(median "${v[@]}") $(printf '%s\n' "${v[@]}" | sort -g | head -n1) $(printf '%s\n' "${v[@]}" | sort -g | tail -n1)"
	}
	read -r BOOT_DYN BOOT_DYN_MIN BOOT_DYN_MAX < <(boot_median "$SOTA" "${bargs[@]}" --compatible bench apply)
	read -r BOOT_STA BOOT_STA_MIN BOOT_STA_MAX < <(boot_median "$SOTA_STATIC" "${bargs[@]}" --compatible bench apply)
	read -r BOOT_TRUE _ _ < <(boot_median /bin/echo A)
	callgrind_ir() {
		valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" "$@" >/dev/null 2>"$WORK/callgrind.log" ||
			{ cat "$WORK/callgrind.log" >&2; die "valgrind failed"; }
		awk '/^(summary|totals):/ { print $2; exit }' "$WORK/callgrind.out"
	}
	IR_DYN=$(callgrind_ir "$SOTA" "${bargs[@]}" --compatible bench apply)
	IR_STA=$(callgrind_ir "$SOTA_STATIC" "${bargs[@]}" --compatible bench apply)
	cp "$WORK/callgrind.out" "$RES/callgrind.static.out"
	BOOT_OUT=$("$SOTA" "${bargs[@]}" --compatible bench apply 2>/dev/null)
fi

# ---------------------------------------------------------------- footprint
say "binary sizes"
mkdir -p "$WORK/sizes"
strip -o "$WORK/sizes/systemota" "$SOTA"
footprint() { # footprint LABEL BINARY...: "total<TAB>description" (libraries without glibc)
	local label=$1 b libs=() bins=0 l
	shift
	for b in "$@"; do bins=$((bins + $(file_size "$b"))); done
	mapfile -t libs < <(for b in "$@"; do shared_libs "$b"; done | sort -u)
	local ls=0
	[ "${#libs[@]}" -gt 0 ] && ls=$(sum_sizes "${libs[@]}")
	printf '%s\t%s\t%s\t%s\t' "$label" "$((bins + ls))" "$bins" "${#libs[@]}"
	for l in "${libs[@]}"; do printf '%s %s\n' "$(file_size "$l")" "${l##*/}"; done | sort -rn | head -n 3 |
		awk '{ printf "%s%s %.1f MiB", (NR > 1 ? ", " : ""), $2, $1 / 1048576 }'
	echo
}
{
	footprint ours-dyn "$WORK/sizes/systemota"
	footprint ours-static "$SOTA_STATIC.stripped"
	footprint dd "$(command -v dd)"
	footprint zstd-dd "$(command -v zstd)" "$(command -v dd)"
	skipped rauc || footprint rauc "$(command -v rauc)"
	skipped swupdate || footprint swupdate "$(command -v swupdate)"
} >"$RES/footprint.tsv"
fp_cell() { # the table's "binary + libraries" cell
	awk -F'\t' -v k="$1" '$1 == k {
		if ($4 > 0) printf "%.2f MiB (%.2f + %d libs)", $2 / 1048576, $3 / 1048576, $4
		else printf "%.2f MiB", $2 / 1048576 }' "$RES/footprint.tsv"
}

LINKMAP='' INITRAMFS='' INSNS=''
if ! skipped linkmap; then
	say "link map of the static binary (bench/linkmap.sh)"
	LINKMAP=$(BUILD=$BUILD "$top/bench/linkmap.sh" "$OUT/map")
	# ... and of the arm64 one (make ARCH=arm64), the same sources cross-built.
	if [ -f "$BUILD/arm64/systemota.static.map" ]; then
		LINKMAP="$LINKMAP

$(BUILD=$BUILD/arm64 "$top/bench/linkmap.sh" "$OUT/map-arm64" | sed '1s/^### Static binary/### Static binary, arm64/')"
	fi
fi
if ! skipped insns && [ -f "$BUILD/arm64/systemota.static" ]; then
	say "the apply's instructions per MiB, arm64 and x86 (bench/insns.sh)"
	INSNS=$(BUILD=$BUILD "$top/bench/insns.sh" "$OUT/insns")
fi
if ! skipped initramfs; then
	say "initramfs with and without our dracut module (bench/initramfs.sh)"
	INITRAMFS=$(BUILD=$BUILD SYSTEMOTA_STATIC=$SOTA_STATIC SYSTEMOTA_DYNAMIC=$SOTA "$top/bench/initramfs.sh" "$OUT/initramfs")
fi

# ---------------------------------------------------------------- figures
# fig ID SIZE FIELD: median of the ok runs (FIELD: wall cpu flush), or max for rss
fig() {
	local col
	case $3 in wall) col=5 ;; cpu) col=6 ;; rss) col=7 ;; flush) col=8 ;; esac
	mapfile -t v < <(awk -F'\t' -v i="$1" -v s="$2" -v c="$col" '$1 == i && $2 == s && $4 == "ok" { print $c }' "$RUNS")
	if [ "${#v[@]}" -eq 0 ]; then echo nan; return; fi
	if [ "$3" = rss ]; then printf '%s\n' "${v[@]}" | sort -n | tail -n 1; else median "${v[@]}"; fi
}
range() { # range ID SIZE: "min–max" of wall
	awk -F'\t' -v i="$1" -v s="$2" '$1 == i && $2 == s && $4 == "ok" {
		if (n++ == 0 || $5 < lo) lo = $5; if ($5 > hi) hi = $5 }
		END { if (n) printf "%.3f–%.3f", lo, hi; else printf "—" }' "$RUNS"
}
okruns() { awk -F'\t' -v i="$1" -v s="$2" '$1 == i && $2 == s && $4 == "ok"' "$RUNS" | wc -l; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "nan") print "—"; else printf f, v }'; }
tput_of() { awk -v s="$2" -v w="$(fig "$1" "$2" wall)" 'BEGIN { if (w == "nan" || w <= 0) print "nan"; else printf "%.3f", s / w }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b <= 0) print "nan"; else printf "%.2f", a / b }'; }

T_YES=$(tput_of ours-yes "$MAIN")
T_NO=$(tput_of ours-no "$MAIN")
T_ZD=$(tput_of zstd-dd "$MAIN")
R_RAUC=nan R_SWU=nan
skipped rauc || R_RAUC=$(ratio "$T_YES" "$(tput_of rauc "$MAIN")")
skipped swupdate || R_SWU=$(ratio "$T_YES" "$(tput_of swupdate "$MAIN")")
R_ZD=$(ratio "$T_NO" "$T_ZD")
R_DD=$(ratio "$T_NO" "$(tput_of dd "$MAIN")")
T_MEDIUM=$(tput_of medium "$MAIN")
R_MEDIUM=$(ratio "$T_YES" "$T_MEDIUM")

met() { # met VALUE OP LIMIT
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		if (v == "nan" || v == "") { print "not measured"; exit }
		ok = (op == ">=") ? (v >= l) : (v <= l); print (ok ? "**met**" : "**NOT MET**") }'
}

machine_cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
git_rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$top" diff --quiet HEAD -- applier 2>/dev/null || git_rev="$git_rev + uncommitted changes in applier/"
fs_info=$(df -PT "$OUT" | awk 'NR == 2 { print $2 " on " $1 }')
load_end=$(cut -d' ' -f1 /proc/loadavg)

REPORT=$OUT/report.md
{
	echo "# SystemOTA benchmark"
	echo
	if [ "${#FAILURES[@]}" -gt 0 ]; then
		echo "**BENCHMARK FAILED: ${#FAILURES[@]} run(s) went wrong; their figures are left out:**"
		echo
		for f in "${FAILURES[@]}"; do echo "- **$f**"; done
		echo
	fi
	echo "- Machine: $machine_cpu, $(nproc) cores, $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r), Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
	echo "- Date: $started; load average $load_start at the start, $load_end at the end"
	echo "- Command: \`$COMMAND\` (REPS=$REPS BENCH_SIZES=\"${SIZES[*]}\" BENCH_MAIN_SIZE=$MAIN BENCH_BOOT_RUNS=$BOOT_RUNS BENCH_BUNDLE_OPTS=\"$BUNDLE_OPTS\" BENCH_SKIP=\"${BENCH_SKIP:-}\")"
	echo "- SystemOTA: $git_rev; \`${SOTA_SRC#"$top"/}\` sha256 $(sha256sum "$SOTA" | cut -c1-12), built $SOTA_BUILT (a copy taken at the start is what ran); read-back measured: yes no"
	echo "- Target: $MAIN_SLOT_KIND ($fs_info); discarded (zeroed) and page cache dropped before every run; after every run its first IMAGE_SIZE bytes are read back and must have the image's sha256"
	echo "- Images: ext4 from the host's /usr (bench/mkimage.sh, $(dumpe2fs -h "$(image "$MAIN")" 2>/dev/null | awk -F: '/^Block count/ { b = $2 } /^Free blocks/ { f = $2 } END { printf "%.0f %%", 100 * (b - f) / b }') of the ${MAIN} MiB one used), sha256 ${MAIN} MiB: $(image_sha "$MAIN" | cut -c1-16)…"
	echo "- Measuring took $((measure_secs / 60)) min $((measure_secs % 60)) s; the whole run $((SECONDS / 60)) min $((SECONDS % 60)) s"
	echo
	echo "## Installers side by side (${MAIN} MiB image, median of $REPS)"
	echo
	echo "| installer | image MiB/s | wall s (min–max) | CPU s | peak RSS MiB | binary + libraries | ratio |"
	echo "| --- | ---: | ---: | ---: | ---: | --- | --- |"
	for id in "${MAIN_IDS[@]}"; do
		t=$(tput_of "$id" "$MAIN") w=$(fig "$id" "$MAIN" wall) c=$(fig "$id" "$MAIN" cpu) r=$(fig "$id" "$MAIN" rss)
		case $id in
		ours-yes | ours-no) fpc="$(fp_cell ours-static) static; $(fp_cell ours-dyn) dynamic" ;;
		ours-static) fpc="$(fp_cell ours-static)" ;;
		medium) fpc="— (dd; a floor, not an installer)" ;;
		*) fpc=$(fp_cell "$id") ;;
		esac
		case $id in
		ours-yes) rc="reference" ;;
		ours-no) rc="$(ratio "$T_NO" "$T_YES")× ours (read-back yes)" ;;
		ours-static) rc="$(ratio "$t" "$T_YES")× ours (dynamic, read-back yes)" ;;
		dd) rc="ours (no) / dd = $(fmt "$R_DD" %.2f)" ;;
		zstd-dd) rc="ours (no) / this = **$(fmt "$R_ZD" %.2f)**" ;;
		medium) rc="ours (yes) / this = $(fmt "$R_MEDIUM" %.2f)" ;;
		rauc) rc="ours (yes) / this = **$(fmt "$R_RAUC" %.2f)**" ;;
		swupdate) rc="ours (yes) / this = **$(fmt "$R_SWU" %.2f)**" ;;
		esac
		n=$(okruns "$id" "$MAIN")
		[ "$n" -lt "$REPS" ] && rc="$rc; only $n of $REPS runs ok"
		echo "| ${NAMES[$id]} | $(fmt "$t" %.1f) | $(fmt "$w" %.3f) ($(range "$id" "$MAIN")) | $(fmt "$c" %.2f) | $(awk -v k="$r" 'BEGIN { if (k == "nan") print "—"; else printf "%.1f", k / 1024 }') | $fpc | $rc |"
	done
	echo
	echo "Notes:"
	echo
	echo "- wall: the installer's process from start to exit, plus a \`sync\` of the slot right after it (what it left in the page cache is flushed too; median flush $(fmt "$(fig swupdate "$MAIN" flush)" %.3f) s for SWUpdate, $(fmt "$(fig ours-yes "$MAIN" flush)" %.3f) s for ours); image MiB/s = image size / wall; ratios are of throughput in this run."
	echo "- CPU: user + sys of the process and its children (\`/usr/bin/time\`); peak RSS: the largest over the runs of the process doing the work."
	echo "- systemota.static: the same apply with the static binary (\`${SOTA_STATIC_SRC#"$top"/}\`, no shared libraries, no bundle making), what the QEMU demo's initramfs runs: the same code, fewer pages of libraries touched (its peak RSS)."
	echo "- systemota: exactly the initramfs' command (\`${SOTA_SRC#"$top"/} --config CONF --state STATE --slot-a A --slot-b SLOT --data-dir D --keys keys/trusted --compatible bench apply\`, state initialised, bundle staged); each run checks it printed \"B SLOT\" and that \`status --json\` shows slot B on trial."
	echo "- slot I/O alone: what any installer that reads the slot back must do, and nothing else: \`dd if=IMAGE of=SLOT bs=512K oflag=direct conv=fsync\`, then \`dd if=SLOT of=/dev/null bs=512K iflag=direct\` over the image's size, the image already in the page cache (read before the clock starts); no decompression, no hashing. A pipelined installer overlaps the two, so it can beat this row, but not by much: it is the medium's figure, not ours."
	echo "- zstd -dc | dd: the whole pipeline's wall, CPU summed over both processes, peak RSS the larger of the two ($(awk -F'\t' -v s="$MAIN" '$1 == "zstd-dd" && $2 == s && $4 == "ok" { n = $9 } END { print n }' "$RUNS"))."
	skipped rauc || echo "- RAUC: \`rauc install\` of a $(cat "$(peer_dir rauc "$MAIN")/format" 2>/dev/null) bundle (squashfs, zstd 19, 1 MiB blocks; verity needs device-mapper) talking to \`rauc service\` already running, as on a device: wall of \`rauc install\`, CPU of the service (and its children) during it plus the client's, peak RSS of the service (VmHWM); in the last run $(awk -F'\t' -v s="$MAIN" '$1 == "rauc" && $2 == s && $4 == "ok" { n = $9 } END { print n }' "$RUNS"). The D-Bus daemon is not counted in the binary size."
	skipped swupdate || echo "- SWUpdate: \`swupdate -i\` of a signed .swu (zstd 19, installed-directly, sha256 in the signed sw-description), whole process. Its \`-i\` path waits for the installer with a 1 s sleep (a 1.000 s clock_nanosleep under strace): about 1 s of each of its walls is that wait."
	echo "- binary + libraries: stripped binaries plus the shared libraries \`ldd\` lists, glibc's own left out everywhere (ours: the static binary, or the dynamic one plus libmbedcrypto, libzstd, libblkid)."
	echo
	echo "## Scaling: our apply, read-back yes"
	echo
	echo "| image | bundle | wall s (min–max) | MiB/s | CPU s | peak RSS MiB |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
	for s in "${SIZES[@]}"; do
		echo "| $s MiB | $(mib "$(file_size "$(bundle "$s")")") MiB | $(fmt "$(fig ours-yes "$s" wall)" %.3f) ($(range ours-yes "$s")) | $(fmt "$(tput_of ours-yes "$s")" %.1f) | $(fmt "$(fig ours-yes "$s" cpu)" %.2f) | $(awk -v k="$(fig ours-yes "$s" rss)" 'BEGIN { if (k == "nan") print "—"; else printf "%.2f", k / 1024 }') |"
	done
	if [ "${#SIZES[@]}" -ge 2 ]; then
		# least squares over the medians: wall = fixed + per_mib * size
		for s in "${SIZES[@]}"; do echo "$s $(fig ours-yes "$s" wall) $(fig ours-yes "$s" rss)"; done |
			awk '$2 != "nan" { x[++n] = $1; y[n] = $2; r[n] = $3 }
			END {
				if (n < 2) exit
				for (i = 1; i <= n; i++) { sx += x[i]; sy += y[i] }
				mx = sx / n; my = sy / n
				for (i = 1; i <= n; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) ^ 2 }
				b = sxy / sxx; a = my - b * mx
				for (i = 1; i <= n; i++) { d = (y[i] - (a + b * x[i])) / y[i]; if (d < 0) d = -d; if (d > dev) dev = d }
				lo = r[1]; hi = r[1]; for (i = 2; i <= n; i++) { if (r[i] < lo) lo = r[i]; if (r[i] > hi) hi = r[i] }
				printf "Least-squares fit of the median walls: **%.3f s + %.2f ms per MiB** (%.0f MiB/s once started), the worst point %.1f %% off the line. ", a, 1000 * b, 1 / b, 100 * dev
				printf "Peak RSS from %.2f to %.2f MiB across the sizes.", lo / 1024, hi / 1024
			}'
		echo " Baselines were measured at ${MAIN} MiB only."
	fi
	echo
	echo "## Boot cost with nothing staged"
	echo
	if skipped boot; then
		echo "(skipped)"
	else
		echo "The same apply command, state idle, empty drop-in directory (it prints \"$BOOT_OUT\"); page cache warm; median of $BOOT_RUNS runs after 2 warm-up runs, fork and exec included."
		echo
		echo "| binary | median ms (min–max) | instructions (callgrind Ir) |"
		echo "| --- | ---: | ---: |"
		echo "| \`${SOTA_SRC#"$top"/}\` (dynamic) | $BOOT_DYN ($BOOT_DYN_MIN–$BOOT_DYN_MAX) | $IR_DYN |"
		echo "| \`${SOTA_STATIC_SRC#"$top"/}\` (what the initramfs runs) | $BOOT_STA ($BOOT_STA_MIN–$BOOT_STA_MAX) | $IR_STA |"
		echo "| \`/bin/echo\` (the floor: fork + exec) | $BOOT_TRUE | — |"
	fi
	echo
	echo "## Bundle size"
	echo
	echo "| image | image bytes | zstd -19 bytes | our bundle bytes | bundle / zstd -19 | bundle create s |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
	for s in "${SIZES[@]}"; do
		b=$(bundle "$s") z=$(file_size "$(image "$s").zst")
		echo "| $s MiB | $(file_size "$(image "$s")") | $z | $(file_size "$b") | $(ratio "$(file_size "$b")" "$z") | $(cat "$b.time" 2>/dev/null || echo —) |"
	done
	echo
	echo "Our bundle: \`systemota bundle create --level 19 $BUNDLE_OPTS\` (at ${MAIN} MiB: $(sed -n 's/.*created [^:]*: //p' "$(bundle "$MAIN").log" 2>/dev/null || true)); the binary offers \`$("$SOTA" --help 2>&1 | awk '/^ *bundle create/ { on = 1 } /^ *bundle resign/ { on = 0 } on' | tr -s ' \n' ' ' | sed 's/ *$//')\`. zstd: \`zstd -19\` of the whole image, no --long."
	skipped rauc || echo "At ${MAIN} MiB the peers' bundles: RAUC $(file_size "$(peer_dir rauc "$MAIN")/bundle.raucb") bytes, SWUpdate $(file_size "$(peer_dir swupdate "$MAIN")/update.swu" 2>/dev/null || echo '?') bytes."
	echo
	[ -n "$LINKMAP" ] && { echo "${LINKMAP/\#\#\# /## }"; echo; }
	[ -n "$INSNS" ] && { echo "${INSNS/\#\#\# /## }"; echo; }
	[ -n "$INITRAMFS" ] && { echo "${INITRAMFS/\#\#\# /## }"; echo; }
	echo "## Targets"
	echo
	max_rss=$(awk -F'\t' '$1 ~ /^ours-/ && $4 == "ok" && $7 > m { m = $7 } END { print m + 0 }' "$RUNS")
	# (ratio prints no newline: one line per size, or sort sees one number)
	max_ratio=$(for s in "${SIZES[@]}"; do
		ratio "$(file_size "$(bundle "$s")")" "$(file_size "$(image "$s").zst")"
		echo
	done | sort -g | tail -n 1)
	echo "| target | measured | |"
	echo "| --- | ---: | --- |"
	echo "| apply with read-back ≥ 2× RAUC | $(fmt "$R_RAUC" %.2f)× | $(met "$R_RAUC" ">=" 2) |"
	echo "| apply with read-back ≥ 4× SWUpdate | $(fmt "$R_SWU" %.2f)× | $(met "$R_SWU" ">=" 4) |"
	echo "| apply without read-back ≥ 0.85× zstd -dc \\| dd | $(fmt "$R_ZD" %.2f)× | $(met "$R_ZD" ">=" 0.85) |"
	echo "| peak RSS ≤ 8 MiB at every size | $(awk -v k="$max_rss" 'BEGIN { printf "%.2f", k / 1024 }') MiB (max) | $(met "$max_rss" "<=" 8192) |"
	echo "| bundle ≤ 1.05× zstd -19 | $(fmt "$max_ratio" %.2f)× (worst size) | $(met "$max_ratio" "<=" 1.05) |"
	if skipped boot; then
		echo "| decision ≤ 5 ms | — | not measured |"
	else
		echo "| decision ≤ 5 ms | $BOOT_DYN ms (dynamic), $BOOT_STA ms (static) | $(met "$BOOT_DYN" "<=" 5) |"
	fi
	if [ -s "$OUT/initramfs/added.tsv" ] && ! skipped initramfs; then
		add_dyn=$(awk -F'\t' '$1 == "dynamic" { print $2 }' "$OUT/initramfs/added.tsv")
		add_sta=$(awk -F'\t' '$1 == "static" { print $2 }' "$OUT/initramfs/added.tsv")
		echo "| added to a stock dracut initramfs ≤ 1 MiB (it carries glibc, libzstd, libblkid) | $(mib "$add_dyn") MiB dynamic binary; $(mib "$add_sta") MiB static | $(met "$add_dyn" "<=" 1048576) |"
	else
		echo "| added to a stock dracut initramfs ≤ 1 MiB | — | not measured |"
	fi
	echo
	if [ "$R_RAUC" != nan ] && [ "$T_MEDIUM" != nan ]; then
		echo "What bounds the read-back targets: 2× RAUC is $(awk -v t="$(tput_of rauc "$MAIN")" 'BEGIN { printf "%.0f", 2 * t }') MiB/s with read-back; this medium wrote the image and read it back, with nothing else to do, at $(fmt "$T_MEDIUM" %.0f) MiB/s (the slot I/O row), and ours ran at $(fmt "$R_MEDIUM" %.2f)× that."
		echo
	fi
	echo "Raw figures: \`${RUNS#"$top"/}\`."
} >"$REPORT"
cat "$REPORT"
say "report: $REPORT ($((SECONDS / 60)) min $((SECONDS % 60)) s)"
if [ "${#FAILURES[@]}" -gt 0 ]; then
	printf '\n!!!!!!!! BENCHMARK FAILED: %s run(s) went wrong (see the top of the report)\n' "${#FAILURES[@]}" >&2
	exit 1
fi
