#!/usr/bin/env bash
# What the verity tree costs the install (docs/performance.md): the same
# image installed from a plain bundle and from a --verity one (tree computed
# from the read-back bytes, written after the image, read back, footer), on
# the host with file slots on tmpfs, so the figure is the CPU's work, not a
# disk's. Alternating runs, the median of each, and their ratio.
#
#   bench/verity.sh [WORKDIR]     prints a markdown section on stdout
#   VB_MIB (default 256): the image's size; VB_RUNS (default 5): runs of each.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$top/bench/lib.sh"
sota=$top/build/systemota
[ -x "$sota" ] || die "no $sota: make first"
mib=${VB_MIB:-256} runs=${VB_RUNS:-5}
w=${1:-/dev/shm/systemota-bench-verity}
rm -rf "$w" && mkdir -p "$w/data/systemota/staged"
trap 'rm -rf "$w"' EXIT
# An image like a filesystem's: half incompressible, half zero, in 1 MiB runs.
say "a $mib MiB image, and its bundles (zstd level 1)"
for ((i = 0; i < mib; i++)); do
	if ((i % 2)); then head -c 1048576 /dev/zero; else head -c 1048576 /dev/urandom; fi
done > "$w/image"
for kind in plain verity; do
	extra=()
	[ "$kind" = verity ] && extra=(--verity)
	"$sota" -q --config /dev/null --compatible bench bundle create --image "$w/image" \
		--key "$top/keys/dev-private.key" --version 2 --level 1 "${extra[@]}" -o "$w/$kind.sota"
done
slot_mib=$((mib + mib / 64 + 8))
# One install: a fresh record, the bundle dropped, `systemota apply`; its wall time in ms.
install() {
	truncate -s 0 "$w/state" "$w/a" "$w/b"
	truncate -s 1M "$w/state"
	truncate -s "${slot_mib}M" "$w/a" "$w/b"
	"$sota" -q --config /dev/null --state "$w/state" state init --slot-version 1
	cp "$w/$1.sota" "$w/data/systemota/staged/update.sota"
	local t0 t1
	t0=$(date +%s%N)
	"$sota" -q --config /dev/null --state "$w/state" --slot-a "$w/a" --slot-b "$w/b" \
		--data-dir "$w/data" --keys "$top/keys/trusted" --compatible bench apply > /dev/null
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
plain=() verity=()
say "$runs installs of each, alternating"
for ((i = 0; i < runs; i++)); do
	plain+=("$(install plain)")
	verity+=("$(install verity)")
done
p=$(median "${plain[@]}") v=$(median "${verity[@]}")
tree=$("$sota" --config /dev/null bundle info --json "$w/verity.sota" | sed -n 's/.*"verity_hash_size": \([0-9]*\).*/\1/p')
awk -v m="$mib" -v p="$p" -v v="$v" -v t="$tree" -v n="$runs" 'BEGIN {
	printf "## The verity tree during the install\n\n"
	printf "The same %d MiB image installed %d times from each bundle, on the host (file slots on tmpfs: the CPU'"'"'s work), median:\n\n", m, n
	printf "| bundle | ms | MiB/s | ratio |\n| --- | ---: | ---: | ---: |\n"
	printf "| plain (SHA-256 of the image) | %d | %.0f | 1.00 |\n", p, m * 1000 / p
	printf "| --verity (tree, its read-back, footer) | %d | %.0f | %.3f |\n", v, m * 1000 / v, v / p
	printf "\nThe tree is %d bytes, %.2f %% of the image.\n\n", t, t * 100 / (m * 1048576)
}'
