/* SPDX-License-Identifier: MIT */
/*
 * The bundle test vector of docs/bundle-format.md: the committed file must
 * parse to exactly the documented fields, verify with the development key,
 * and inflate to the documented image.
 */
#include <stdlib.h>

#include "bundle.h"
#include "codec.h"
#include "crypto.h"
#include "payload.h"
#include "test.h"
#include "util.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

static void expect_hex(const uint8_t *digest, const char *hex)
{
	char got[2 * CRYPTO_DIGEST_SIZE + 1];

	util_hex(got, digest, CRYPTO_DIGEST_SIZE);
	if (strcmp(got, hex) != 0)
		fprintf(stderr, "  got %s\n  want %s\n", got, hex);
	CHECK(strcmp(got, hex) == 0);
}

/* Every byte of the image: byte i = (i * 7) mod 251, 100000 bytes. */
static void check_image(const struct bundle *b)
{
	struct payload p;
	struct payload_chunk c;
	uint64_t inflated = 0;
	int r, mismatch = 0;

	REQUIRE(payload_open(&p, b) == 0);
	while ((r = payload_next(&p, &c)) > 0) {
		for (uint32_t i = 0; i < c.size; i++)
			mismatch |= c.data[i] != (uint8_t)(((c.image_offset + i) * 7) % 251);
		inflated += c.size;
	}
	CHECK_EQ(r, 0);
	CHECK_EQ(inflated, 100000);
	CHECK(!mismatch);
	payload_close(&p);
}

static void check_common(struct bundle *b)
{
	struct crypto_keyset *keys = NULL;

	CHECK(strcmp(b->manifest.compatible, "test-vector") == 0);
	CHECK_EQ(b->manifest.image_size, 100000);
	CHECK_EQ(b->manifest.chunk_size, 65536);
	CHECK_EQ(b->manifest.chunk_count, 2);
	CHECK_EQ(b->manifest.created, 1700000000);
	expect_hex(b->manifest.image_digest,
	           "96ad0ddabe9c733d4550fde750255a94806811029be67504bd9bd68e556686b9");
	expect_hex(b->sig.key_id,
	           "07214c8650fd2118a88897cb5fd3e998d96d2cecbd5c3ae77b9e312bea2e251b");
	REQUIRE(crypto_keyset_load(TOP_SRCDIR "/keys/trusted", &keys) == 0);
	CHECK_EQ(bundle_verify(b, keys, NULL), 0);
	check_image(b);
	crypto_keyset_free(keys);
}

/* Compression 1: a zstd frame per chunk. */
TEST(vector1_fields_signature_and_image)
{
	struct bundle b;

	REQUIRE(bundle_open(TOP_SRCDIR "/tests/vectors/vector1.sota", &b) == 0);
	CHECK_EQ(b.file_size, 966);
	CHECK_EQ(b.header.manifest_size, 264);
	CHECK_EQ(b.header.payload_size, 542);
	CHECK(strcmp(b.manifest.label, "7.0") == 0);
	CHECK_EQ(b.manifest.version, 7);
	CHECK_EQ(b.manifest.compression, CODEC_ZSTD);
	CHECK_EQ(b.manifest.window_log, 0);
	CHECK_EQ(b.sig.sig_len, 71);
	expect_hex(b.txn, "4b0ef04c1fb386da40852e2f455e8e06ea007512306709a0ef5a180f67f08964");
	check_common(&b);
	bundle_close(&b);
}

/* Compression 2: one zstd stream, window 2^17, flushed at the chunk boundary. */
TEST(vector2_stream_fields_signature_and_image)
{
	struct bundle b;

	REQUIRE(bundle_open(TOP_SRCDIR "/tests/vectors/vector2.sota", &b) == 0);
	CHECK_EQ(b.file_size, 709);
	CHECK_EQ(b.header.manifest_size, 264);
	CHECK_EQ(b.header.payload_size, 285);
	CHECK(strcmp(b.manifest.label, "8.0") == 0);
	CHECK_EQ(b.manifest.version, 8);
	CHECK_EQ(b.manifest.compression, CODEC_ZSTD_STREAM);
	CHECK_EQ(b.manifest.window_log, 17);
	expect_hex(b.txn, "a07c2d51268e2b6ca4bc34fc2d28bc9d6e1beae296d1a6f4a99c89d09607cbf4");
	check_common(&b);
	bundle_close(&b);
}

/*
 * Format 2: vector2's image (version 9), signed by tests/vectors/signing.pem
 * under keyring 1, whose root is the development key: the initramfs's key
 * directory (keys/trusted) judges the keyring, the keyring the bundle.
 */
TEST(vector3_keyring_chain_signature_and_image)
{
	struct crypto_keyset *keys = NULL;
	struct bundle b;

	REQUIRE(bundle_open(TOP_SRCDIR "/tests/vectors/vector3.sota", &b) == 0);
	CHECK_EQ(b.file_size, 1061);
	CHECK_EQ(b.header.format, BUNDLE_FORMAT_KEYRING);
	CHECK_EQ(b.header.sigblock_size, 128 + 352);
	CHECK_EQ(b.manifest.version, 9);
	CHECK(strcmp(b.manifest.label, "9.0") == 0);
	expect_hex(b.txn, "a093d92fdb4576b3550be6ce436e9cd9383cc7d114245b74bb04800f3cfac31c");
	expect_hex(b.sig.key_id,
	           "b3d24319e4061c7190dc6e73757421fd225ef2a3c8fab109ede88eba759cdabc");
	REQUIRE(b.chain_len == 1);
	CHECK_EQ(b.chain[0].version, 1);
	CHECK_EQ(b.chain[0].created, 1700000000);
	expect_hex(b.chain[0].digest,
	           "21483eda182d9e76560d6daeb7f1244bc456d057dc7fe0f7c5cc6bf1890c1768");
	expect_hex(b.chain[0].signer,
	           "07214c8650fd2118a88897cb5fd3e998d96d2cecbd5c3ae77b9e312bea2e251b");
	REQUIRE(crypto_keyset_load(TOP_SRCDIR "/keys/trusted", &keys) == 0);
	CHECK_EQ(bundle_verify(&b, keys, NULL), 0);
	CHECK(bundle_new_keyring(&b, NULL) == &b.chain[0]);
	check_image(&b);
	crypto_keyset_free(keys);
	bundle_close(&b);
}

/*
 * The verity section (header flag 1): an image of 25 whole blocks, as a
 * stream like vector2, version 10. Its root hash is veritysetup's for the
 * same image and salt (`veritysetup format --no-superblock --salt=...`).
 */
TEST(vector4_verity_root_hash)
{
	struct crypto_keyset *keys = NULL;
	struct bundle b;

	REQUIRE(bundle_open(TOP_SRCDIR "/tests/vectors/vector4.sota", &b) == 0);
	CHECK_EQ(b.file_size, 805);
	CHECK_EQ(b.header.flags, BUNDLE_FLAG_VERITY);
	CHECK_EQ(b.header.manifest_size, 192 + 2 * 36 + 96);
	CHECK_EQ(b.manifest.image_size, 102400);
	REQUIRE(b.manifest.verity.on);
	CHECK_EQ(b.manifest.verity.hash_size, 4096);
	expect_hex(b.manifest.verity.root,
	           "316827241855219a746faecacc8ba986963fe2141ab543a0d1af799a88e23a17");
	expect_hex(b.manifest.verity.salt,
	           "2bc6616a269a9d0808badb6ee94b18edd2e37b25f16b2a3fb184ae208d5b0603");
	expect_hex(b.txn, "d6060b55bc495a5f5b172ad31f3d328cc92146172781d1d6fa5f53160fe49e86");
	REQUIRE(crypto_keyset_load(TOP_SRCDIR "/keys/trusted", &keys) == 0);
	CHECK_EQ(bundle_verify(&b, keys, NULL), 0);
	struct payload p;
	struct payload_chunk c;
	int r = payload_open(&p, &b);
	while (r == 0 && (r = payload_next(&p, &c)) > 0)
		r = 0;
	CHECK_EQ(r, 0); /* image digest and root hash both hold */
	payload_close(&p);
	crypto_keyset_free(keys);
	bundle_close(&b);
}
