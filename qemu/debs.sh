#!/bin/bash
# Debian 12 packages of another architecture, downloaded and extracted, never
# installed: the host's dpkg and apt configuration are not touched (no
# `dpkg --add-architecture`). A private apt state under DIR/apt reads the
# host's sources (Debian's archive) for ARCH only.
#
#   qemu/debs.sh download ARCH DIR PKG...   the .debs into DIR/debs (kept)
#   qemu/debs.sh sysroot ARCH DIR PKG...    ... and extracted into DIR/sysroot
#   qemu/debs.sh closure ARCH DIR PKG...    PKG and everything they depend on,
#                                           a name a line (the first of each
#                                           alternative; no recommends)
#   qemu/debs.sh apt-cache ARCH DIR ARGS... apt-cache on that state
#
# The cross build of the device binary uses the sysroot of the -dev packages
# (Makefile, `make ARCH=arm64`); qemu/build.sh takes the guest's kernel and
# busybox from here for ARCH=arm64.
set -euo pipefail
verb=${1:?usage: qemu/debs.sh download|sysroot|closure|apt-cache ARCH DIR PKG...} arch=${2:?ARCH} dir=${3:?DIR}
shift 3
dir=$(mkdir -p "$dir" && cd "$dir" && pwd) # apt wants it absolute
[ "$#" -gt 0 ] || { echo "qemu/debs.sh: no packages named" >&2; exit 2; }
apt_opts=(-q -o "Dir::State=$dir/apt/state" -o "Dir::Cache=$dir/apt/cache"
	-o "Dir::State::status=/dev/null" -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"
	-o APT::Sandbox::User=root)

mkdir -p "$dir/apt/state/lists/partial" "$dir/apt/cache/archives/partial" "$dir/debs"
# The package lists: fetched once, then kept (apt-get update again to refresh).
if [ ! -f "$dir/apt/.updated" ]; then
	echo "==> reading Debian's $arch package lists (private apt state in $dir/apt)"
	apt-get "${apt_opts[@]}" update > "$dir/apt/update.log" 2>&1 ||
		{ cat "$dir/apt/update.log" >&2; echo "qemu/debs.sh: apt-get update for $arch failed" >&2; exit 1; }
	touch "$dir/apt/.updated"
fi
case $verb in
apt-cache)
	exec apt-cache "${apt_opts[@]}" "$@"
	;;
closure)
	apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances "$@" | grep -v -e '^ ' -e '^<' | sort -u
	exit
	;;
download | sysroot) ;;
*)
	echo "qemu/debs.sh: unknown verb $verb" >&2
	exit 2
	;;
esac
# Only what is not here yet: a package is named by its name, the .deb by name_version_arch.
want=()
for p in "$@"; do
	ls "$dir/debs/${p}_"*"_$arch.deb" "$dir/debs/${p}_"*_all.deb > /dev/null 2>&1 || want+=("$p")
done
if [ "${#want[@]}" -gt 0 ]; then
	echo "==> downloading ${want[*]} ($arch, not installed on this host)"
	(cd "$dir/debs" && apt-get "${apt_opts[@]}" download "${want[@]}" > /dev/null)
fi
[ "$verb" = sysroot ] || exit 0
rm -rf "$dir/sysroot.tmp" && mkdir -p "$dir/sysroot.tmp"
for p in "$@"; do
	for deb in "$dir/debs/${p}_"*"_$arch.deb" "$dir/debs/${p}_"*_all.deb; do
		if [ -f "$deb" ]; then dpkg-deb -x "$deb" "$dir/sysroot.tmp"; fi
	done
done
rm -rf "$dir/sysroot" && mv "$dir/sysroot.tmp" "$dir/sysroot"
