#!/bin/sh
# Writes the seed corpus of every fuzz target into tests/fuzz/corpus/ from
# known-good inputs (the test vector, a fresh state record and history entry,
# the development key, the example config). Findings of `make fuzz` that are
# worth keeping are added next to them (libFuzzer's -merge=1).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$here/../..
sota=$top/build/systemota
c=$here/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$c/header" "$c/manifest" "$c/bundle" "$c/codec" "$c/state" "$c/history" "$c/keys" "$c/keyring" "$c/config"
v=$top/tests/vectors/vector1.sota
head -c 32 "$v" > "$c/header/vector1"
head -c $((32 + 264)) "$v" > "$c/manifest/vector1"
cp "$v" "$c/bundle/vector1"
cp "$top/tests/vectors/vector3.sota" "$c/bundle/vector3"
cp "$top/tests/vectors/vector4.sota" "$c/bundle/vector4"
head -c $((32 + 360)) "$top/tests/vectors/vector4.sota" > "$c/manifest/vector4"
head -c 500 "$v" > "$c/bundle/vector1-truncated"
# The vector's first chunk: a zstd frame of 271 bytes after the signed part and signature.
# Byte 0 picks the layout in fuzz-codec.c: even, a frame per chunk.
{ printf '\000'; dd if="$v" bs=1 skip=$((32 + 264 + 128)) count=271 status=none; } > "$c/codec/vector1-chunk0"
# Odd: a stream. vector2's two chunks, each as stored length (2 bytes), inflated
# length (3 bytes) and the stored bytes; window log 17 = 10 + 7.
v2=$top/tests/vectors/vector2.sota
le32() { od -An -tu4 -j "$2" -N 4 "$1" | tr -d ' '; }
s0=$(le32 "$v2" $((32 + 192))) s1=$(le32 "$v2" $((32 + 192 + 36)))
# shellcheck disable=SC2059 # an octal escape, built on purpose
byte() { printf "\\$(printf %03o $(($1 & 255)))"; }
le16() { byte "$1"; byte $(($1 >> 8)); }
le24() { le16 "$1"; byte $(($1 >> 16)); }
{
	printf '\001\007'
	le16 "$s0"
	le24 $((65536 - 1))
	dd if="$v2" bs=1 skip=$((32 + 264 + 128)) count="$s0" status=none
	le16 "$s1"
	le24 $((100000 - 65536 - 1))
	dd if="$v2" bs=1 skip=$((32 + 264 + 128 + s0)) count="$s1" status=none
} > "$c/codec/vector2-stream"
# A fresh record (copy 0) and a history entry, from a device of plain files.
truncate -s 1M "$tmp/state"
"$sota" -q --config /dev/null --state "$tmp/state" state init --slot-version 1 --slot-label 1.0
head -c 512 "$tmp/state" > "$c/state/record"
mkdir -p "$tmp/data/systemota/staged"
truncate -s 1M "$tmp/a" "$tmp/b"
"$sota" -q --config /dev/null --state "$tmp/state" --slot-a "$tmp/a" --slot-b "$tmp/b" \
	--data-dir "$tmp/data" --keys "$top/keys/trusted" --compatible test-vector --booted A \
	stage "$v"
dd if="$tmp/state" bs=512 skip=$((64 * 1024 / 512 + 1)) count=1 status=none > "$c/state/history-entry"
# The history: that entry, and the same bundle staged again under a UTF-8 name
# (entry 2), which the writer sanitises so that it decodes.
cp "$c/state/history-entry" "$c/history/staged"
u=$(printf '%s/upd\303\244te.sota' "$tmp")
cp "$v" "$u"
"$sota" -q --config /dev/null --state "$tmp/state" --slot-a "$tmp/a" --slot-b "$tmp/b" \
	--data-dir "$tmp/data" --keys "$top/keys/trusted" --compatible test-vector --booted A \
	stage "$u"
dd if="$tmp/state" bs=512 skip=$((64 * 1024 / 512 + 2)) count=1 status=none > "$c/history/staged-utf8-name"
# fuzz-history.c also reads its input as an entry's fields (38 bytes of numbers, label,
# reason): here both strings unterminated, of UTF-8 and control bytes.
{
	head -c 38 /dev/zero
	for _ in $(seq 16); do printf '\303\251'; done
	for _ in $(seq 32); do printf '\033[\177\n'; done
} > "$c/history/fields-utf8"
cp "$top/keys/trusted/dev.pem" "$c/keys/dev.pem"
{ cat "$top/keys/trusted/dev.pem"; "$sota" key id "$top/keys/trusted/dev.pem"; } > "$c/keys/dev-and-revoked"
cp "$top/initramfs/system.conf.example" "$c/config/example"
cp "$top/qemu/system.conf" "$c/config/demo"
# Keyrings: 1 (the development key as root, a signing key), a draft of 2 that
# revokes nothing, 2 signed, and the chain 1..2 back to back.
"$sota" key generate "$tmp/sign.key" "$tmp/sign.pem" > /dev/null
dev=$top/keys/dev-private.key
SOURCE_DATE_EPOCH=1700000000 "$sota" -q --config /dev/null keyring create --version 1 \
	--root "$top/keys/trusted/dev.pem" --signing "$tmp/sign.pem" --key "$dev" -o "$c/keyring/keyring1"
SOURCE_DATE_EPOCH=1700000000 "$sota" -q --config /dev/null keyring create --version 2 \
	--root "$top/keys/trusted/dev.pem" --signing "$tmp/sign.pem:40" --revoke "$(printf '%064d' 7)" \
	--previous "$c/keyring/keyring1" -o "$c/keyring/keyring2-draft"
"$sota" -q --config /dev/null keyring sign --key "$dev" -o "$tmp/k2" "$c/keyring/keyring2-draft"
cat "$c/keyring/keyring1" "$tmp/k2" > "$c/keyring/chain1-2"
# A whole copy's block with the keyring area (adopted and pending: vector 3's
# keyring), as a device that adopted a keyring holds it: see fuzz-state.c. It
# was written once by a small program over state_encode_block(); kept as it is.
