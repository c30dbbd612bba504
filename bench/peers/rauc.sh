#!/usr/bin/env bash
# RAUC 1.8 (Debian 12) as a benchmark peer of SystemOTA.
#
#   rauc.sh prepare IMAGE WORKDIR   build a throwaway CA + signer, a RAUC bundle
#                                   holding IMAGE, and a system.conf (silent)
#   rauc.sh install WORKDIR SLOT    install that bundle into SLOT (block device
#                                   or plain file) the way a device does it:
#                                   `rauc install` talking to `rauc service`
#
# Settings (see the RAUC reference, docs/reference.rst):
# - bundle format: `verity` when the kernel has device-mapper (RAUC installs a
#   verity bundle through dm-verity on a loop device), else `plain`;
# - image `rootfs.ext4` into a `type=ext4` slot: RAUC copies it raw, block for
#   block (no resize, no mkfs);
# - compression: RAUC has no per-image compression for block slots (only the
#   squashfs the bundle is made of), so the bundle squashfs is built with
#   `--mksquashfs-args` = zstd (level 19, 1 MiB blocks), the fastest codec to
#   decompress that mksquashfs and the kernel offer with a ratio close to xz;
#   RAUC_MKSQUASHFS_ARGS overrides it (e.g. "-noD -noF" for no compression);
# - a central status file in `data-directory`, so RAUC does not mount the
#   freshly written ext4 slot to store a per-slot status file in it (that
#   would change the slot's bytes);
# - `bootloader=noop`, booted slot given by `--override-boot-slot=A`, the
#   target slot B's device being WORKDIR/slot-b, a symlink to SLOT made by
#   `install` (as /dev/disk/by-partlabel/... on a device).
#
# RAUC installs only through its D-Bus service. `install` starts a private
# D-Bus session bus and `rauc service` as its own children, runs
# `rauc install`, then stops both and reaps them, so that a caller timing
# `install` (wall, CPU, peak RSS with /usr/bin/time -v) counts the service,
# which does all the work. RAUC_BENCH_STATS (see measured_install) says what
# the install alone cost, the service being already up.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh" # die, need_packages

prepare() {
	local image=$1 w=$2 fmt
	[ -f "$image" ] || die "no image $image"
	need_packages rauc squashfs-tools openssl dbus-daemon libglib2.0-bin
	mkdir -p "$w"
	w=$(cd "$w" && pwd)
	rm -rf "${w:?}/content" "${w:?}/data" "${w:?}/mnt" "${w:?}/run" "${w:?}/bundle.raucb"
	mkdir -p "$w/content" "$w/data" "$w/mnt" "$w/run"

	# Throwaway PKI: a CA (the device's keyring) and a signer it certifies.
	openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
		-keyout "$w/ca.key" -out "$w/ca.pem" -subj "/CN=bench RAUC CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$w/signer.key" \
		-out "$w/signer.csr" -subj "/CN=bench RAUC signer" 2>/dev/null
	printf '%s\n' "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature" \
		"subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" >"$w/signer.ext"
	openssl x509 -req -sha256 -days 3650 -in "$w/signer.csr" -CA "$w/ca.pem" \
		-CAkey "$w/ca.key" -CAcreateserial -extfile "$w/signer.ext" \
		-out "$w/signer.pem" 2>/dev/null

	# verity needs the kernel's device-mapper (dm-verity); fall back to plain.
	if grep -qw device-mapper /proc/misc 2>/dev/null || [ -e /dev/mapper/control ]; then
		fmt=verity
	else
		fmt=plain
	fi
	echo "$fmt" >"$w/format"

	ln -f "$image" "$w/content/rootfs.ext4" 2>/dev/null || cp "$image" "$w/content/rootfs.ext4"
	cat >"$w/content/manifest.raucm" <<-EOF
		[update]
		compatible=systemota-bench
		version=2

		[bundle]
		format=$fmt

		[image.rootfs]
		filename=rootfs.ext4
	EOF
	local -a sqargs
	read -r -a sqargs <<<"${RAUC_MKSQUASHFS_ARGS:--comp zstd -Xcompression-level 19 -b 1M}"
	rauc bundle --cert="$w/signer.pem" --key="$w/signer.key" --keyring="$w/ca.pem" \
		--mksquashfs-args="${sqargs[*]}" "$w/content" "$w/bundle.raucb" >"$w/bundle.log" 2>&1 ||
		{ cat "$w/bundle.log" >&2; die "rauc bundle failed"; }
	rm -rf "${w:?}/content"

	# Slot A is the "booted" one (never written); slot B is the target.
	: >"$w/slot-a"
	cat >"$w/system.conf" <<-EOF
		[system]
		compatible=systemota-bench
		bootloader=noop
		bundle-formats=$fmt
		mountprefix=$w/mnt
		data-directory=$w/data

		[keyring]
		path=$w/ca.pem

		[slot.rootfs.0]
		device=$w/slot-a
		type=ext4
		bootname=A

		[slot.rootfs.1]
		device=$w/slot-b
		type=ext4
		bootname=B
	EOF
}

# CPU seconds (its own and its reaped children's) of process $1, from /proc.
proc_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13 + $14 + $15) / hz }' "/proc/$1/stat"
}

# With RAUC_BENCH_STATS=FILE, `install` also writes there, as key=value lines,
# what the service did for this one `rauc install` (the service being already
# up, as on a device): install_wall (seconds, `rauc install` alone),
# service_cpu (user+sys seconds of `rauc service` and its children during the
# install), service_hwm_kb (the service's peak RSS, VmHWM), and the client's
# own client_cpu and client_maxrss_kb (/usr/bin/time).
measured_install() {
	local w=$1 stats=$2 t0 t1 c0 c1 rc=0
	c0=$(proc_cpu "$svc_pid")
	t0=$EPOCHREALTIME
	/usr/bin/time -f '%U %S %M' -o "$w/run/client.time" \
		rauc install "$w/bundle.raucb" >"$w/run/install.log" 2>&1 || rc=$?
	t1=$EPOCHREALTIME
	c1=$(proc_cpu "$svc_pid")
	{
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "install_wall=%.6f\n", b - a }'
		awk -v a="$c0" -v b="$c1" 'BEGIN { printf "service_cpu=%.2f\n", b - a }'
		awk '/^VmHWM:/ { print "service_hwm_kb=" $2 }' "/proc/$svc_pid/status"
		awk '{ printf "client_cpu=%.2f\nclient_maxrss_kb=%d\n", $1 + $2, $3 }' "$w/run/client.time"
	} >"$stats"
	return "$rc"
}

install_bundle() {
	local w=$1 slot=$2 bus_pid='' svc_pid='' rc=0 i
	if [ ! -f "$w/system.conf" ] || [ ! -f "$w/bundle.raucb" ]; then die "$w is not prepared"; fi
	[ -e "$slot" ] || die "no slot $slot"
	w=$(cd "$w" && pwd)
	case $slot in /*) ;; *) slot=$PWD/$slot ;; esac
	ln -sfn "$slot" "$w/slot-b"
	rm -f "$w/run/bus" "$w/run/bus.addr"

	cleanup() {
		if [ -n "$svc_pid" ]; then kill "$svc_pid" 2>/dev/null || true; wait "$svc_pid" 2>/dev/null || true; fi
		if [ -n "$bus_pid" ]; then kill "$bus_pid" 2>/dev/null || true; wait "$bus_pid" 2>/dev/null || true; fi
		svc_pid='' bus_pid=''
	}
	trap cleanup EXIT

	dbus-daemon --session --nofork --nosyslog --address="unix:path=$w/run/bus" \
		--print-address=3 3>"$w/run/bus.addr" >/dev/null 2>&1 &
	bus_pid=$!
	for ((i = 0; i < 500; i++)); do
		[ -s "$w/run/bus.addr" ] && break
		kill -0 "$bus_pid" 2>/dev/null || die "dbus-daemon did not start"
		sleep 0.01
	done
	[ -s "$w/run/bus.addr" ] || die "dbus-daemon did not start"
	export DBUS_SESSION_BUS_ADDRESS="unix:path=$w/run/bus" DBUS_STARTER_BUS_TYPE=session

	rauc service --conf="$w/system.conf" --mount="$w/mnt" \
		--override-boot-slot=A >"$w/run/service.log" 2>&1 &
	svc_pid=$!
	gdbus wait --session --timeout 20 de.pengutronix.rauc >/dev/null 2>&1 ||
		{ cat "$w/run/service.log" >&2; die "rauc service did not come up"; }

	if [ -n "${RAUC_BENCH_STATS:-}" ]; then
		measured_install "$w" "$RAUC_BENCH_STATS" || rc=$?
	else
		rauc install "$w/bundle.raucb" >"$w/run/install.log" 2>&1 || rc=$?
	fi
	cleanup
	trap - EXIT
	if [ "$rc" -ne 0 ]; then
		cat "$w/run/install.log" "$w/run/service.log" >&2
		die "rauc install failed ($rc)"
	fi
}

case ${1:-} in
prepare) [ $# -eq 3 ] || die "usage: $0 prepare IMAGE WORKDIR"; prepare "$2" "$3" ;;
install) [ $# -eq 3 ] || die "usage: $0 install WORKDIR SLOT"; install_bundle "$2" "$3" ;;
*) die "usage: $0 prepare IMAGE WORKDIR | install WORKDIR SLOT" ;;
esac
