#!/bin/sh
# ldd for a foreign (arm64) binary in a sysroot, for dracut's DRACUT_LDD when
# it builds an initramfs with --sysroot: the sysroot's own dynamic loader,
# run under qemu-aarch64, lists the libraries as the target would load them
# (paths as on the target). A static binary is "not a dynamic executable", as
# ldd says.
#
#   CROSS_SYSROOT=DIR qemu/cross-ldd.sh FILE
set -eu
root=${CROSS_SYSROOT:?CROSS_SYSROOT names the sysroot}
if ! readelf -l "$1" 2> /dev/null | grep -q 'Requesting program interpreter'; then
	echo "	not a dynamic executable"
	exit 1
fi
qemu-aarch64 -L "$root" "$root/lib/ld-linux-aarch64.so.1" --list "$1" | sed "s| => $root/| => /|"
