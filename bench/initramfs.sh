#!/usr/bin/env bash
# What our dracut module adds to a stock dracut initramfs.
#
#   bench/initramfs.sh WORKDIR      prints a markdown section on stdout
#
# Three uncompressed (--no-compress) initramfs images are built with the
# same dracut command line as qemu/build.sh (dracut run from a private copy of
# /usr/lib/dracut, so nothing is installed on the host): stock (modules
# "base udev-rules kernel-modules", the demo's drivers plus ext4), the same plus our module with the static
# binary (what the QEMU demo ships), and plus our module with the dynamic
# binary (what `make install` puts in /usr/sbin, whose libraries dracut then
# copies too). The kernel is the one qemu/build.sh left in BUILD/qemu*/kernel;
# without one, dracut runs with --no-kernel. The file lists (cpio -itv) are
# compared: every file the module adds, and every file whose size changed.
#
# Environment: BUILD (default ./build), SYSTEMOTA_STATIC, SYSTEMOTA_DYNAMIC
# (default BUILD/systemota.static, BUILD/systemota). The result is cached in
# WORKDIR, keyed by the binaries, the module, the keys and dracut's version.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$top/bench/lib.sh"

[ $# -eq 1 ] || die "usage: $0 WORKDIR"
w=$1
BUILD=${BUILD:-$top/build}
static=${SYSTEMOTA_STATIC:-$BUILD/systemota.static}
dynamic=${SYSTEMOTA_DYNAMIC:-$BUILD/systemota}
conf=$top/initramfs/system.conf.example
keys=$top/keys/trusted
if [ ! -x "$static" ] || [ ! -x "$dynamic" ]; then die "build $static and $dynamic first"; fi
need_packages dracut-core cpio zstd kmod
mkdir -p "$w"
w=$(cd "$w" && pwd)

kmoddir='' kver='' kernel_note=''
for d in "$BUILD"/qemu/kernel/lib/modules/* "$BUILD"/qemu*/kernel/lib/modules/*; do
	if [ -d "$d" ]; then kmoddir=$d kver=${d##*/}; break; fi
done
dracut_version=$(dpkg-query -W -f='${Version}' dracut-core)
if [ -n "$kmoddir" ]; then
	kernel_note="kernel $kver with its modules from ${kmoddir#"$top"/} (qemu/build.sh)"
else
	kver=$(uname -r)
	kernel_note="no kernel in $BUILD/qemu*: dracut --no-kernel (no kernel modules)"
fi

key=$( {
	cat "$static" "$dynamic" "$conf" "$keys"/* "$top"/initramfs/90systemota/* "$0"
	echo "$dracut_version $kmoddir"
} | hash_of -)
if [ -s "$w/result-$key.md" ]; then
	cat "$w/result-$key.md"
	exit 0
fi
rm -f "$w"/result-*.md "$w/added.tsv.new"

# A private dracut tree with our module, as qemu/build.sh makes it.
rm -rf "$w/dracut" "$w/conf.d"
mkdir -p "$w/conf.d"
cp -a /usr/lib/dracut "$w/dracut"
cp -a "$top/initramfs/90systemota" "$w/dracut/modules.d/"

build() { # build OUT MODULES [BINARY]
	local out=$1 modules=$2 bin=${3:-$static}
	local -a kargs=(--kver "$kver")
	if [ -n "$kmoddir" ]; then
		kargs+=(--kmoddir "$kmoddir" --drivers "virtio_blk virtio_pci i6300esb ramoops ext4")
	else
		kargs+=(--no-kernel)
	fi
	dracutbasedir=$w/dracut SYSTEMOTA_BINARY=$bin SYSTEMOTA_CONF=$conf SYSTEMOTA_KEYS=$keys \
		SYSTEMOTA_BOOT_ID=bench dracut --quiet --force --no-hostonly --no-hostonly-cmdline \
		--conf /dev/null --confdir "$w/conf.d" "${kargs[@]}" --modules "$modules" \
		--no-early-microcode --no-compress "$out" >"$out.log" 2>&1 ||
		{ cat "$out.log" >&2; die "dracut failed for $out"; }
	# "TYPE SIZE PATH" for every entry (symlinks: size of the link).
	cpio -itv --quiet <"$out" | awk '{ t = substr($1, 1, 1); p = $9; for (i = 10; i <= NF && $i != "->"; i++) p = p " " $i; print t, $5, p }' |
		sort -k3 >"$out.list"
}
say "initramfs: dracut, stock"
build "$w/stock.img" "base udev-rules kernel-modules"
say "initramfs: dracut, with systemota (static binary)"
build "$w/static.img" "base udev-rules kernel-modules systemota" "$static"
say "initramfs: dracut, with systemota (dynamic binary)"
build "$w/dynamic.img" "base udev-rules kernel-modules systemota" "$dynamic"

zsize() { zstd -3 -q -c "$1" | wc -c; }
stock=$(file_size "$w/stock.img") zstock=$(zsize "$w/stock.img")

kind() {
	case $1 in
	usr/sbin/systemota) echo "binary" ;;
	*.so | *.so.*) echo "library" ;;
	*/hooks/*) echo "hook" ;;
	etc/systemota/keys/*) echo "key" ;;
	etc/systemota/*) echo "config" ;;
	*.ko | *.ko.*) echo "kernel module" ;;
	usr/lib/modules/* | lib/modules/*) echo "kernel module index" ;;
	*) echo "other" ;;
	esac
}

# changes VARIANT: "what type bytes kind path" for every entry added
# (what=added) or whose size changed (what=changed, bytes = the difference).
changes() {
	awk 'NR == FNR { s[$3] = $2; next }
		!($3 in s) { print "added", $1, ($1 == "d" ? 0 : $2), $3; next }
		$1 == "-" && s[$3] != $2 { print "changed", $1, $2 - s[$3], $3 }' \
		"$w/stock.img.list" "$w/$1.img.list" |
		while read -r what type size path; do
			case $type in
			d) k=directory ;;
			l) k=symlink ;;
			*) k=$(kind "$path") ;;
			esac
			printf '%s\t%s\t%s\t%s\t%s\n' "$what" "$type" "$size" "$k" "$path"
		done
}
changes static >"$w/static.changes"
changes dynamic >"$w/dynamic.changes"

rows() { # rows CHANGES: markdown rows
	while IFS=$'\t' read -r what _ size k path; do
		case $what:$k in
		added:directory) echo "| \`/$path\` | directory | — |" ;;
		added:*) echo "| \`/$path\` | $k | $size |" ;;
		*) echo "| \`/$path\` | $k, size changed | $(printf '%+d' "$size") |" ;;
		esac
	done <"$1"
}
by_kind() { # by_kind CHANGES KIND: total bytes of that kind
	awk -F'\t' -v k="$2" '$4 == k { t += $3 } END { printf "%d", t }' "$1"
}

{
	echo "### Initramfs cost"
	echo
	echo "dracut $dracut_version, $kernel_note; modules \`base udev-rules kernel-modules\` and the demo's \`--drivers\` (as qemu/build.sh calls it) plus ext4, \`--no-compress\` (cpio sizes, headers included); zstd -3 as the demo compresses it. dracut strips debug information (\`strip -g\`) from what it copies."
	echo
	echo "| initramfs | uncompressed bytes | added by systemota | zstd -3 bytes | added |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	echo "| stock | $stock | — | $zstock | — |"
	declare -A total h
	for v in static dynamic; do
		s=$(file_size "$w/$v.img") z=$(zsize "$w/$v.img")
		total[$v]=$((s - stock))
		case $v in
		static) label="+ systemota, static binary (QEMU demo)" ;;
		dynamic) label="+ systemota, dynamic binary (\`make install\`)" ;;
		esac
		echo "| $label | $s | **$((s - stock))** | $z | $((z - zstock)) |"
		printf '%s\t%s\n' "$v" "$((s - stock))" >>"$w/added.tsv.new"
	done
	mv "$w/added.tsv.new" "$w/added.tsv" # for run.sh's targets
	echo
	echo "What the added bytes are (file contents; the rest is cpio headers and padding):"
	echo
	echo "| kind | static variant | dynamic variant |"
	echo "| --- | ---: | ---: |"
	for k in binary library hook config key "kernel module" "kernel module index" symlink other; do
		a=$(by_kind "$w/static.changes" "$k") b=$(by_kind "$w/dynamic.changes" "$k")
		[ "$a" -eq 0 ] && [ "$b" -eq 0 ] && continue
		echo "| $k | $a | $b |"
	done
	for v in static dynamic; do
		c=$(awk -F'\t' '{ t += $3 } END { printf "%d", t }' "$w/$v.changes")
		h[$v]=$((${total[$v]} - c))
	done
	echo "| cpio headers, padding | ${h[static]} | ${h[dynamic]} |"
	km=$(($(by_kind "$w/static.changes" "kernel module") + $(by_kind "$w/static.changes" "kernel module index")))
	echo
	echo "Every variant gets the demo's \`--drivers\` plus ext4, as any initramfs that mounts an ext4 root has it (dracut's rootfs-block adds the root's filesystem on a host-only build); so the kernel modules above are what our module's \`installkernel\` adds beyond that (squashfs, for squashfs slots). Without them the module adds $((total[static] - km)) bytes (static binary)."
	echo
	echo "Entries added with the static binary ($(file_size "$static") bytes before dracut's strip):"
	echo
	echo "| path | kind | bytes |"
	echo "| --- | --- | ---: |"
	rows "$w/static.changes"
	echo
	echo "With the dynamic binary instead ($(file_size "$dynamic") bytes before strip), these entries differ from the list above (the libraries are those the stock image lacks):"
	echo
	echo "| path | kind | bytes |"
	echo "| --- | --- | ---: |"
	awk -F'\t' 'NR == FNR { a[$5] = $3; next } !($5 in a) || a[$5] != $3' \
		"$w/static.changes" "$w/dynamic.changes" >"$w/dynamic-only.changes"
	rows "$w/dynamic-only.changes"
} >"$w/result-$key.md"
cat "$w/result-$key.md"
