#!/usr/bin/env bash
# The static binary's size, and each library's share of it.
#
#   bench/linkmap.sh WORKDIR      prints a markdown section on stdout
#
# Reads the link map the Makefile writes with the static binary
# (BUILD/systemota.static.map, -Wl,-Map) and adds up the loaded input sections
# it assigns to each archive or object (code, read-only data, data, unwind
# tables: what `size` calls text + data; .bss and debug sections are left
# out). WORKDIR keeps the per-unit figures (units.tsv).
#
# Environment: BUILD (default ./build).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$top/bench/lib.sh"

[ $# -eq 1 ] || die "usage: $0 WORKDIR"
w=$1
BUILD=${BUILD:-$top/build}
mkdir -p "$w"
map=$BUILD/systemota.static.map
for f in "$BUILD/systemota.static" "$map"; do
	[ -f "$f" ] || die "no $f: build the binaries first (make)"
done

# "bytes<TAB>unit" for each unit (archive, or object outside an archive).
sed -n '/^Linker script and memory map/,$p' "$map" | awk '
	function add(sec, size, file,   u) {
		if (sec ~ /^\.(debug|comment|note|gnu|bss|tbss|stab)/ || sec == "COMMON") return
		u = file
		if (u ~ /\.a\(/) sub(/\(.*$/, "", u)
		sub(/^.*\//, "", u)
		t[u] += strtonum_(size)
	}
	function strtonum_(h,   i, c, v) {
		v = 0; h = tolower(substr(h, 3))
		for (i = 1; i <= length(h); i++) { c = index("0123456789abcdef", substr(h, i, 1)) - 1; v = v * 16 + c }
		return v
	}
	/^ [.A-Z][^ ]*$/ { pending = $1; next }
	/^ [.A-Z][^ ]* +0x[0-9a-f]+ +0x[0-9a-f]+ +[^ ]/ { add($1, $3, $4); pending = ""; next }
	pending != "" && /^ +0x[0-9a-f]+ +0x[0-9a-f]+ +[^ ]/ { add(pending, $2, $3); pending = ""; next }
	{ pending = "" }
	END { for (u in t) printf "%d\t%s\n", t[u], u }' | sort -rn >"$w/units.tsv"

read -r text data bss _ < <(size "$BUILD/systemota.static" | awk 'NR == 2')
total=$(awk -F'\t' '{ t += $1 } END { printf "%d", t }' "$w/units.tsv")
{
	echo "### Static binary"
	echo
	echo "\`$(basename "$BUILD")/systemota.static\`: $(file_size "$BUILD/systemota.static") bytes as built (with -g), $(file_size "$BUILD/systemota.static.stripped") stripped (\`systemota.static.stripped\`); \`size\`: text $text, data $data, bss $bss."
	echo
	echo "Share of text + data by library, from the link map of that link (\`$(basename "$BUILD")/systemota.static.map\`, the Makefile's \`-Wl,-Map\`):"
	echo
	echo "| archive / object | bytes | share |"
	echo "| --- | ---: | ---: |"
	awk -F'\t' -v t="$total" '
		function label(u) {
			if (u == "libsystemota.a" || u == "main.o") return u " (SystemOTA)"
			if (u == "libc.a") return u " (glibc)"
			return u
		}
		$1 >= t / 1000 { printf "| %s | %d | %.1f %% |\n", label($2), $1, 100 * $1 / t; next }
		{ rest += $1 }
		END { if (rest) printf "| others (each < 0.1 %%) | %d | %.1f %% |\n", rest, 100 * rest / t
			printf "| **total** | %d | 100 %% |\n", t }' "$w/units.tsv"
	echo
	echo "(\`size\` counts $((text + data)) bytes of text + data: the difference is alignment and tables the linker makes.)"
}
