#!/usr/bin/env bash
# The apply's instructions per MiB, arm64 against x86: both static binaries
# run the initramfs' apply under QEMU's user-mode emulator with a plugin that
# counts the guest instructions executed (bench/insns.c), on the same two
# bundles; the difference between a big and a small image divided by their
# difference in MiB leaves out the fixed costs (signature, setup).
#
#   bench/insns.sh WORKDIR      prints a markdown section on stdout
#
# Instruction counts are deterministic enough to compare across machines,
# unlike wall time under emulation. x86 runs as `-cpu max` (SHA-NI present),
# arm64 as `-cpu cortex-a72` (the Armv8 SHA-2 instructions present): each
# binary hashes with its CPU's instructions, as on a device.
# Environment: BUILD (default ./build), INSNS_SIZES (default "16 48", MiB).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$top/bench/lib.sh"

[ $# -eq 1 ] || die "usage: $0 WORKDIR"
w=$1
BUILD=${BUILD:-$top/build}
read -r small big <<< "${INSNS_SIZES:-16 48}"
mkdir -p "$w"
gcc -O2 -Wall -Wextra -shared -fPIC -o "$w/insns.so" "$top/bench/insns.c"

# count ARCH SIZE SHA: instructions of one apply of the SIZE MiB bundle into
# slot B; SHA "generic" hashes with mbedTLS' C code (SYSTEMOTA_SHA=generic).
count() {
	local arch=$1 size=$2 sha=$3 d=$w/$1-$2-$3 bin qemu
	if [ "$arch" = arm64 ]; then
		bin=$BUILD/arm64/systemota.static qemu=(qemu-aarch64 -cpu cortex-a72)
	else
		bin=$BUILD/systemota.static qemu=(qemu-x86_64 -cpu max)
	fi
	rm -rf "$d" && mkdir -p "$d/data/systemota/staged"
	cp "$w/bundle-$size.sota" "$d/data/systemota/staged/u.sota"
	truncate -s 1M "$d/state"
	truncate -s "${size}M" "$d/a" "$d/b"
	printf 'watchdog = none\nread-back = yes\n' > "$d/conf"
	"$BUILD/systemota" --config "$d/conf" --state "$d/state" state init --force --active A \
		--slot-version 1 > /dev/null
	SYSTEMOTA_SHA=$sha "${qemu[@]}" -plugin "$w/insns.so" "$bin" --config "$d/conf" --state "$d/state" \
		--slot-a "$d/a" --slot-b "$d/b" --data-dir "$d/data" --keys "$top/keys/trusted" \
		--compatible bench apply > "$d/out" 2> "$d/err" || { cat "$d/err" >&2; die "$arch apply of $size MiB failed"; }
	cmp -s -n "$((size * 1048576))" "$w/image-$size.img" "$d/b" || die "$arch: slot B does not hold the image"
	grep -o 'SHA-256 on [a-zA-Z0-9-]*' "$d/err" | head -n1 > "$d/sha"
	grep -o 'insns [0-9]*' "$d/err" | tail -n1 | cut -d' ' -f2
}

for size in "$small" "$big"; do
	"$top/bench/mkimage.sh" "$size" "$w/image-$size.img" > /dev/null
	"$BUILD/systemota" -q --config /dev/null bundle create --image "$w/image-$size.img" \
		--key "$top/keys/dev-private.key" --compatible bench --version 2 --level 3 \
		-o "$w/bundle-$size.sota" > /dev/null
done
declare -A n
for sha in generic auto; do
	for arch in x86_64 arm64; do
		for size in "$small" "$big"; do
			n[$arch-$size-$sha]=$(count "$arch" "$size" "$sha")
		done
	done
done
per() { echo $(((n[$1-$big-$2] - n[$1-$small-$2]) / (big - small))); }
base=$(per x86_64 generic)
row() { # row ARCH CPU SHA
	local p
	p=$(per "$1" "$3")
	echo "| $1 static | $2 | $(cat "$w/$1-$big-$3/sha") | ${n[$1-$small-$3]} | ${n[$1-$big-$3]} | $p | $(awk -v a="$p" -v x="$base" 'BEGIN { printf "%.2f", a / x }') |"
}
echo "### The apply's instructions per MiB, arm64 and x86"
echo
echo "Guest instructions counted by a QEMU plugin (bench/insns.c) over one apply (read-back yes) of a ${small} MiB and a ${big} MiB bundle (bench/mkimage.sh images, zstd level 3), per MiB of their difference; ratio against x86 with mbedTLS' C SHA-256, the same code on both (QEMU 7.2's TCG has no SHA-NI, so x86 cannot show its hardware hash here; arm64 can):"
echo
echo "| binary | CPU (QEMU user mode) | hash | ${small} MiB | ${big} MiB | per MiB | ratio |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: |"
row x86_64 max generic
row arm64 cortex-a72 generic
row arm64 cortex-a72 auto
