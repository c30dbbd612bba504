# shellcheck shell=bash
# Helpers shared by the benchmark scripts (sourced, not run).

say() { printf '==> %s\n' "$*" >&2; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# need_packages PKG...: install the Debian packages that are missing.
need_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]} (run as root to install them)"
	say "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >/dev/null 2>&1 || {
		apt-get update -q >/dev/null 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			"${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
	}
}

# hash_of FILE|-...: a short hex digest of the files' contents (- is stdin).
hash_of() { cat "$@" | sha256sum | cut -c1-12; }

# file_size FILE: its size in bytes (following symlinks).
file_size() { stat -L -c %s "$1"; }

# mib BYTES: BYTES in MiB, 1 decimal (2 below 10 MiB).
mib() { awk -v b="$1" 'BEGIN { m = b / 1048576; printf (m < 10 ? "%.2f" : "%.1f"), m }'; }

# median N...: the median of the numbers (mean of the two middle ones if even).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# shared_libs BIN: the shared libraries BIN loads (resolved paths), one a line,
# glibc's own (libc, libm, ld.so, libpthread, libdl, librt, libresolv) left out.
shared_libs() {
	ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
		while IFS= read -r l; do
			case ${l##*/} in
			libc.so.* | libm.so.* | ld-linux* | libpthread.so.* | libdl.so.* | librt.so.* | libresolv.so.*) ;;
			*) readlink -f "$l" ;;
			esac
		done | sort -u
}


# sum_sizes FILE...: total size in bytes.
sum_sizes() {
	local f t=0
	for f in "$@"; do t=$((t + $(file_size "$f"))); done
	echo "$t"
}
