#!/usr/bin/env bash
# A realistic, reproducible root filesystem image for the benchmark:
#
#   bench/mkimage.sh SIZE_MIB OUT.img
#
# An ext4 image of exactly SIZE_MIB MiB made with `mkfs.ext4 -d` (nothing is
# mounted), nearly full (BENCH_FILL of its free blocks, default 0.92) of
# regular files copied from the host's /usr.
#
# Determinism (same host /usr, same e2fsprogs => same bytes):
# - the candidate files (regular, readable, at most 16 MiB, no odd names) are
#   taken in an order fixed by a keyed hash of their path (`sort -R` with a
#   fixed --random-source), so that every size gets the same mix of /usr
#   (binaries, libraries, text, data) rather than only /usr/bin; the chosen
#   list is then sorted (LC_ALL=C) and copied in that order with tar;
# - mkfs.ext4 with fixed options: -T default (4 KiB blocks, 256-byte inodes,
#   1 inode per 16 KiB at every size), -U and -E hash_seed= a fixed UUID,
#   -E root_owner=0:0, a fixed label, E2FSPROGS_FAKE_TIME and
#   SOURCE_DATE_EPOCH for the superblock's times;
# - every file's mtime is set to SOURCE_DATE_EPOCH before mkfs, and since
#   mkfs.ext4 -d copies atime and ctime from the copy (which the kernel sets
#   to now), debugfs rewrites both in the image for every used inode.
set -euo pipefail

die() { echo "mkimage.sh: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 SIZE_MIB OUT.img"
size_mib=$1 out=$2
case $size_mib in '' | *[!0-9]*) die "SIZE_MIB must be a number" ;; esac
[ "$size_mib" -ge 16 ] || die "SIZE_MIB must be at least 16"

EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
UUID=5e5e0b1a-0000-4000-8000-00000000be7c
FILL=${BENCH_FILL:-0.92}
SRC=${BENCH_SOURCE:-/usr}
export SOURCE_DATE_EPOCH=$EPOCH E2FSPROGS_FAKE_TIME=$EPOCH LC_ALL=C

tmp=$(mktemp -d "${out}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

mkfs_img() { # mkfs_img IMG [TREE]
	local -a d=()
	[ $# -ge 2 ] && d=(-d "$2")
	rm -f "$1"
	mkfs.ext4 -q -F -T default -b 4096 -I 256 -L bench-root -U "$UUID" \
		-E "root_owner=0:0,hash_seed=$UUID" "${d[@]}" "$1" "${size_mib}M" >"$tmp/mkfs.log" 2>&1
}

# The capacity: free blocks of the empty filesystem.
mkfs_img "$tmp/empty.img" || { cat "$tmp/mkfs.log" >&2; die "mkfs.ext4 failed"; }
dumpe2fs -h "$tmp/empty.img" 2>/dev/null >"$tmp/empty.sb"
free_blocks=$(awk -F: '/^Free blocks:/ { print $2 + 0 }' "$tmp/empty.sb")
free_inodes=$(awk -F: '/^Free inodes:/ { print $2 + 0 }' "$tmp/empty.sb")
rm -f "$tmp/empty.img"
[ -n "$free_blocks" ] || die "cannot read the free block count"

# Candidates: "blocks<TAB>path" (path relative to /, regular files only).
(cd / && find "${SRC#/}" -xdev -type f -readable -size -16385k -printf '%s\t%p\n') 2>/dev/null |
	awk -F'\t' 'NF == 2 && $2 !~ /[^A-Za-z0-9._+@,=:\/-]/ { printf "%d\t%s\n", int(($1 + 4095) / 4096), $2 }' |
	sort -t "$(printf '\t')" -k2,2 >"$tmp/candidates"

# Whole directories (their files, not subdirectories) are taken in an order
# fixed by a keyed hash of their name, each only if it fits in what is left
# of BENCH_FILL of the free blocks and of the free inodes (its new parent
# directories counted too, one block and one inode each).
awk -F'\t' '{ d = $2; sub(/\/[^\/]*$/, "", d); b[d] += $1; n[d]++ }
	END { for (d in b) printf "%s\t%d\t%d\n", d, b[d], n[d] }' "$tmp/candidates" |
	sort -R --random-source=<(yes systemota-bench-image) -t "$(printf '\t')" -k1,1 >"$tmp/dirs"
awk -F'\t' -v bbudget="$(awk -v f="$free_blocks" -v x="$FILL" 'BEGIN { printf "%d", f * x }')" \
	-v ibudget="$(awk -v f="$free_inodes" 'BEGIN { printf "%d", f * 0.97 }')" '
	{
		m = split($1, p, "/"); extra = 0; d = ""; k = 0
		for (i = 1; i <= m; i++) { d = (i == 1 ? "" : d "/") p[i]; if (!(d in seen)) { nd[++k] = d; extra++ } }
		if (blocks + $2 + extra > bbudget || inodes + $3 + extra > ibudget) next
		for (i = 1; i <= k; i++) seen[nd[i]] = 1
		blocks += $2 + extra; inodes += $3 + extra; print $1
	}' "$tmp/dirs" >"$tmp/chosen-dirs"
awk -F'\t' 'NR == FNR { want[$0] = 1; next }
	{ d = $2; sub(/\/[^\/]*$/, "", d); if (d in want) print $2 }' "$tmp/chosen-dirs" "$tmp/candidates" |
	sort >"$tmp/list"
[ -s "$tmp/list" ] || die "no files chosen from $SRC"

mkdir "$tmp/tree"
tar -C / --no-recursion -T "$tmp/list" -cf - 2>/dev/null | tar -C "$tmp/tree" -xpf -
find "$tmp/tree" -exec touch -h -d "@$EPOCH" {} +

# mkfs -d; if the estimate was too tight, retry with fewer files.
tries=0
until mkfs_img "$tmp/img" "$tmp/tree"; do
	tries=$((tries + 1))
	[ "$tries" -le 5 ] || { cat "$tmp/mkfs.log" >&2; die "mkfs.ext4 -d failed"; }
	n=$(wc -l <"$tmp/list")
	tail -n $((n / 50 + 1)) "$tmp/list" | while IFS= read -r f; do rm -f "$tmp/tree/$f"; done
	head -n $((n - n / 50 - 1)) "$tmp/list" >"$tmp/list.new" && mv "$tmp/list.new" "$tmp/list"
done

# Fixed atime and ctime for every used inode (root, lost+found, then ours).
time_str=$(date -u -d "@$EPOCH" +%Y%m%d%H%M%S)
dumpe2fs "$tmp/img" 2>/dev/null | awk -v t="$time_str" '
	/^Inodes per group:/ { ipg = $4 }
	/^Group [0-9]+:/ { g = $2 + 0; first = g * ipg + 1; last = first + ipg - 1 }
	/^  Free inodes:/ {
		sub(/^  Free inodes: */, ""); delete fr; m = split($0, r, /, */)
		for (i = 1; i <= m; i++) {
			if (r[i] == "") continue
			if (split(r[i], ab, "-") == 2) { for (j = ab[1]; j <= ab[2]; j++) fr[j] = 1 } else fr[r[i]] = 1
		}
		for (j = first; j <= last; j++)
			if (!(j in fr) && (j == 2 || j >= 11)) {
				printf "sif <%d> atime %s\nsif <%d> ctime %s\n", j, t, j, t
			}
	}' >"$tmp/debugfs.cmd"
debugfs -w -f "$tmp/debugfs.cmd" "$tmp/img" >/dev/null 2>"$tmp/debugfs.log" ||
	{ cat "$tmp/debugfs.log" >&2; die "debugfs failed"; }
e2fsck -fn "$tmp/img" >/dev/null 2>&1 || die "e2fsck finds the image inconsistent"

mv "$tmp/img" "$out"
