#!/bin/bash
# Static checks, one test per file: shellcheck for every shell script,
# clang-format (the house .clang-format) for every C file.
set -u
cd "$(dirname "$0")/.." || exit 2
passed=0 failed=0
check() { # check NAME COMMAND...
	local name=$1
	shift
	if "$@" > /dev/null 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL $name: $*"
		"$@" 2>&1 | head -n 20 | sed 's/^/    /'
	fi
}
while IFS= read -r f; do
	# shellcheck disable=SC2016 # expanded by the inner shell
	check "shellcheck $f" bash -c 'cd "$(dirname "$1")" && shellcheck -x "$(basename "$1")"' _ "$f"
done < <(git ls-files -co --exclude-standard | grep -v '^build/' | while IFS= read -r f; do
	case $f in *.sh | .ci/* | qemu/rootfs/init) echo "$f" ;; esac
done)
while IFS= read -r f; do
	check "clang-format $f" clang-format --dry-run -Werror "$f"
done < <(git ls-files -co --exclude-standard -- '*.c' '*.h')
# The device's static binary (the initramfs') is linked without the build
# host's part: no zstd compressor, and bundle create says where it runs.
static=${BUILD:-build}/systemota.static
# shellcheck disable=SC2016 # expanded by the inner shell
check "device binary has no zstd compressor" bash -c \
	'nm "$1" | grep -q " T ZSTD_decompressStream$" && ! nm "$1" | grep -q " T ZSTD_compressStream2$"' _ "$static"
# shellcheck disable=SC2016
check "device binary refuses bundle create" bash -c \
	'! out=$("$1" bundle create 2>&1) && grep -q "device build of systemota" <<< "$out"' _ "$static"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
