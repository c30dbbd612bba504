#!/bin/sh
# Regenerates the bundle test vector documented in docs/bundle-format.md:
#   image: 100000 bytes, byte i = (i * 7) mod 251
#   bundle: compatible "test-vector", version 7, label "7.0", chunk size 65536
#           (2 chunks), zstd level 3, created 1700000000, signed with keys/dev-private.key
# ECDSA signing is deterministic (RFC 6979), so the same inputs give the same file
# with the same zstd version (Debian 12: 1.5.4).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$here/../..
perl -e 'print join("", map { chr(($_ * 7) % 251) } 0 .. 99999)' > "$here/vector1.img"
"$top/build/systemota" -q --config /dev/null bundle create --image "$here/vector1.img" \
	--key "$top/keys/dev-private.key" --compatible test-vector --version 7 --label 7.0 \
	--chunk-size 65536 --level 3 --window-log 0 --created 1700000000 -o "$here/vector1.sota"
# vector2: the same image as one zstd stream (compression 2), window 2^17.
"$top/build/systemota" -q --config /dev/null bundle create --image "$here/vector1.img" \
	--key "$top/keys/dev-private.key" --compatible test-vector --version 8 --label 8.0 \
	--chunk-size 65536 --level 3 --window-log 17 --created 1700000000 -o "$here/vector2.sota"
# vector3: format 2. Keyring 1 (root: the development key; signing:
# tests/vectors/signing.pem, a test-only key whose private half is committed),
# and the same image as vector2, version 9, signed by the signing key under it.
"$top/build/systemota" -q --config /dev/null keyring create --version 1 \
	--root "$top/keys/trusted/dev.pem" --signing "$here/signing.pem" --created 1700000000 \
	--key "$top/keys/dev-private.key" -o "$here/keyring1"
"$top/build/systemota" -q --config /dev/null bundle create --image "$here/vector1.img" \
	--key "$here/signing-private.key" --keyring "$here/keyring1" --compatible test-vector \
	--version 9 --label 9.0 --chunk-size 65536 --level 3 --window-log 17 --created 1700000000 \
	-o "$here/vector3.sota"
# vector4: the dm-verity root hash in the manifest (header flag 1): the image
# 102400 bytes (25 whole blocks of 4096), byte i = (i * 7) mod 251, as a
# stream like vector2, version 10.
perl -e 'print join("", map { chr(($_ * 7) % 251) } 0 .. 102399)' > "$here/vector4.img"
"$top/build/systemota" -q --config /dev/null bundle create --image "$here/vector4.img" \
	--key "$top/keys/dev-private.key" --compatible test-vector --version 10 --label 10.0 \
	--chunk-size 65536 --level 3 --window-log 17 --created 1700000000 --verity \
	-o "$here/vector4.sota"
rm -f "$here/vector1.img" "$here/vector4.img"
