/* SPDX-License-Identifier: MIT */
/*
 * Streaming a verified bundle's payload: create -> open -> verify -> payload
 * reproduces the image exactly; a tampered chunk is refused before any of its
 * bytes come out; well-signed hostile chunks (decompression bombs) are
 * refused by the decompressor's bounds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "bundle.h"
#include "codec.h"
#include "create.h"
#include "fail.h"
#include "helpers.h"
#include "payload.h"
#include "test.h"
#include "util.h"

/* Streams the whole payload of a verified bundle into out, checking every chunk's place. */
static int read_payload(const struct bundle *b, uint8_t *out, uint64_t cap)
{
	struct payload p;
	struct payload_chunk c;
	uint32_t n = 0;
	int r = payload_open(&p, b);

	if (r < 0)
		return r;
	while ((r = payload_next(&p, &c)) > 0) {
		CHECK_EQ(c.index, n);
		CHECK_EQ(c.image_offset, (uint64_t)n * b->manifest.chunk_size);
		CHECK(c.image_offset + c.size <= cap);
		if (b->manifest.compression == CODEC_NONE)
			CHECK_EQ(c.stored_size, c.size);
		if (c.image_offset + c.size <= cap)
			memcpy(out + c.image_offset, c.data, c.size);
		n++;
	}
	if (r == 0) {
		CHECK_EQ(n, b->manifest.chunk_count);
		CHECK_EQ(payload_next(&p, &c), -EINVAL); /* no second end */
	}
	payload_close(&p);
	return r;
}

/* The payload layouts a bundle can have, as create makes them. */
static const struct layout {
	const char *name;
	int level;
	unsigned window_log;
	uint32_t frame_size;
	uint8_t compression;
} layouts[] = {
        {"stored raw", 0, 0, 0, CODEC_NONE},
        {"a frame per chunk", 3, 0, 0, CODEC_ZSTD},
        {"one stream, 4 MiB window", 3, 22, 0, CODEC_ZSTD_STREAM},
        {"frames of 2 chunks, 1 KiB window", 3, 10, 2 * HELPERS_CHUNK_SIZE, CODEC_ZSTD_STREAM},
        {"frames of 1 chunk, level 19", 19, 16, HELPERS_CHUNK_SIZE, CODEC_ZSTD_STREAM},
};

static int layout_bundle(const struct layout *l, const char *key, uint64_t size, unsigned threads)
{
	struct create_options o;
	int r = helpers_image(test_path("b.img"), size, 7);

	helpers_bundle_options(&o, test_path("b.img"), test_path("b.sota"), key, 2);
	o.level = l->level;
	o.window_log = l->window_log;
	o.frame_size = l->frame_size;
	o.threads = threads;
	return r < 0 ? r : create_bundle(&o);
}

TEST(payload_round_trip_reproduces_image)
{
	const uint64_t sizes[] = {1, HELPERS_CHUNK_SIZE, HELPERS_CHUNK_SIZE + 1,
	                          3 * HELPERS_CHUNK_SIZE + 123, 7 * HELPERS_CHUNK_SIZE};
	struct crypto_keyset *kr = NULL;
	struct helpers_key k;

	REQUIRE(helpers_trusted_key("dev", &k, &kr) == 0);
	for (size_t li = 0; li < ARRAY_SIZE(layouts); li++) {
		for (size_t si = 0; si < ARRAY_SIZE(sizes); si++) {
			uint8_t *image = NULL, *out = NULL, *file = NULL;
			size_t image_len = 0, file_len = 0;
			uint8_t txn[CRYPTO_DIGEST_SIZE];
			struct bundle b;
			int failed_before = test_failed();

			REQUIRE(layout_bundle(&layouts[li], k.priv, sizes[si], 0) == 0);
			REQUIRE(helpers_read_file(test_path("b.img"), &image, &image_len) == 0);
			REQUIRE(helpers_read_file(test_path("b.sota"), &file, &file_len) == 0);
			REQUIRE(image_len == sizes[si]);
			out = calloc(1, image_len);
			REQUIRE(bundle_open(test_path("b.sota"), &b) == 0);
			CHECK_EQ(b.manifest.image_size, sizes[si]);
			CHECK_EQ(b.manifest.chunk_count,
			         (sizes[si] + HELPERS_CHUNK_SIZE - 1) / HELPERS_CHUNK_SIZE);
			CHECK_EQ(b.manifest.compression, layouts[li].compression);
			CHECK_EQ(b.manifest.window_log, layouts[li].window_log);
			CHECK_EQ(b.manifest.version, 2);
			CHECK(strcmp(b.manifest.compatible, HELPERS_COMPATIBLE) == 0);
			CHECK_EQ(b.file_size, file_len);
			CHECK_EQ(b.payload_offset + b.header.payload_size, file_len);
			crypto_sha256(file, BUNDLE_HEADER_SIZE + b.header.manifest_size, txn);
			CHECK(memcmp(txn, b.txn, sizeof(txn)) == 0);
			CHECK_EQ(bundle_verify(&b, kr, NULL), 0);
			CHECK_EQ(read_payload(&b, out, image_len), 0);
			CHECK(memcmp(out, image, image_len) == 0);
			if (test_failed() && !failed_before)
				fprintf(stderr, "  size %llu, %s\n", (unsigned long long)sizes[si],
				        layouts[li].name);
			bundle_close(&b);
			free(image);
			free(out);
			free(file);
		}
	}
	crypto_keyset_free(kr);
}

/* Compressing in parallel changes nothing in the bundle: same bytes for 1, 2 or 3 threads. */
TEST(payload_stream_bytes_do_not_depend_on_threads)
{
	struct helpers_key k;
	struct crypto_keyset *kr = NULL;
	uint8_t *first = NULL;
	size_t first_len = 0;

	REQUIRE(helpers_trusted_key("dev", &k, &kr) == 0);
	for (unsigned threads = 1; threads <= 3; threads++) {
		uint8_t *file = NULL;
		size_t len = 0;
		REQUIRE(layout_bundle(&layouts[3], k.priv, 9 * HELPERS_CHUNK_SIZE + 5, threads) ==
		        0);
		REQUIRE(helpers_read_file(test_path("b.sota"), &file, &len) == 0);
		if (!first) {
			first = file, first_len = len;
			continue;
		}
		CHECK(len == first_len && memcmp(file, first, len) == 0);
		free(file);
	}
	free(first);
	crypto_keyset_free(kr);
}

static void check_flipped_payload(int level)
{
	struct crypto_keyset *kr = NULL;
	struct payload_chunk c, sentinel;
	struct helpers_key k;
	struct payload p;
	struct bundle b;
	struct bundle_chunk c0, c1;

	REQUIRE(helpers_trusted_key("dev", &k, &kr) == 0);
	REQUIRE(helpers_sized_bundle(k.priv, HELPERS_IMAGE_SIZE, level) == 0);
	REQUIRE(bundle_open(test_path("b.sota"), &b) == 0);
	bundle_chunk(&b.manifest, 0, &c0);
	bundle_chunk(&b.manifest, 1, &c1);
	uint64_t off = b.payload_offset + c0.stored_size + c1.stored_size + 17;
	bundle_close(&b);
	REQUIRE(helpers_flip_byte(test_path("b.sota"), off) == 0);

	REQUIRE(bundle_open(test_path("b.sota"), &b) == 0);
	CHECK_EQ(bundle_verify(&b, kr, NULL), 0); /* the signed part is intact */
	REQUIRE(payload_open(&p, &b) == 0);
	CHECK_EQ(payload_next(&p, &c), 1);
	CHECK_EQ(payload_next(&p, &c), 1);
	CHECK_EQ(c.index, 1);
	memset(&c, 0xa5, sizeof(c));
	sentinel = c;
	CHECK_EQ(payload_next(&p, &c), -EBADMSG);
	CHECK(memcmp(&c, &sentinel, sizeof(c)) == 0);
	/* Refused by its digest, before the decompressor could complain about it. */
	CHECK(strstr(fail_reason(), "chunk 2") != NULL);
	CHECK(strstr(fail_reason(), "digest mismatch") != NULL);
	payload_close(&p);
	bundle_close(&b);
	crypto_keyset_free(kr);
}

TEST(payload_flipped_byte_zstd)
{
	check_flipped_payload(HELPERS_LEVEL);
}

TEST(payload_flipped_byte_raw)
{
	check_flipped_payload(0);
}

TEST(payload_refuses_unverified_bundle)
{
	struct crypto_keyset *kr = NULL, *other_kr = NULL;
	struct helpers_key k, other;
	struct payload p;
	struct bundle b;

	REQUIRE(helpers_trusted_key("dev", &k, &kr) == 0);
	REQUIRE(helpers_sized_bundle(k.priv, HELPERS_IMAGE_SIZE, HELPERS_LEVEL) == 0);
	REQUIRE(helpers_keypair("other", &other) == 0);
	REQUIRE(crypto_keyset_load(other.dir, &other_kr) == 0);
	REQUIRE(bundle_open(test_path("b.sota"), &b) == 0);
	CHECK_EQ(payload_open(&p, &b), -EPERM);
	payload_close(&p);
	/* A failed verification leaves it unusable too, even after an earlier success. */
	CHECK_EQ(bundle_verify(&b, kr, NULL), 0);
	CHECK_EQ(bundle_verify(&b, other_kr, NULL), -ENOKEY);
	CHECK_EQ(payload_open(&p, &b), -EPERM);
	payload_close(&p);
	bundle_close(&b);
	crypto_keyset_free(kr);
	crypto_keyset_free(other_kr);
}

/* --- well-signed hostile payloads -------------------------------------------------------- */

/* One zstd frame of n zero bytes, with or without the content size in its header. */
static size_t zstd_zeros(uint8_t *dst, size_t cap, size_t n, int with_size)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	uint8_t *src = calloc(1, n);
	size_t r;

	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, with_size);
	r = ZSTD_compress2(c, dst, cap, src, n);
	ZSTD_freeCCtx(c);
	free(src);
	return ZSTD_isError(r) ? 0 : r;
}

/*
 * A bundle whose signed table declares one 64 KiB chunk of zeros (digests all
 * correct, signature good) but whose stored frame is the given one.
 */
static void check_hostile_frame(const uint8_t *frame, uint32_t frame_len, const char *what)
{
	struct bundle_manifest m = {.version = 2, .image_size = HELPERS_CHUNK_SIZE};
	uint8_t *zeros = calloc(1, HELPERS_CHUNK_SIZE);
	struct crypto_keyset *kr = NULL;
	struct payload_chunk c;
	struct helpers_key k;
	struct payload p;
	struct bundle b;

	util_set_string(m.compatible, sizeof(m.compatible), HELPERS_COMPATIBLE);
	util_set_string(m.label, sizeof(m.label), "bomb");
	m.chunk_size = HELPERS_CHUNK_SIZE;
	m.chunk_count = 1;
	m.compression = CODEC_ZSTD;
	crypto_sha256(zeros, HELPERS_CHUNK_SIZE, m.image_digest);
	free(zeros);
	REQUIRE(helpers_keypair("dev", &k) == 0);
	REQUIRE(crypto_keyset_load(k.dir, &kr) == 0);
	REQUIRE(helpers_write_bundle(test_path("bomb.sota"), k.priv, &m, &frame, &frame_len) == 0);
	REQUIRE(bundle_open(test_path("bomb.sota"), &b) == 0);
	CHECK_EQ(bundle_verify(&b, kr, NULL), 0);
	REQUIRE(payload_open(&p, &b) == 0);
	int r = payload_next(&p, &c);
	if (r != -EBADMSG)
		fprintf(stderr, "  %s: payload_next %d\n", what, r);
	CHECK_EQ(r, -EBADMSG);
	payload_close(&p);
	bundle_close(&b);
	crypto_keyset_free(kr);
}

TEST(payload_honest_crafted_chunk_passes)
{
	/* The crafting itself is sound: the right frame in the same wrapping inflates fine. */
	uint8_t frame[1024];
	size_t n = zstd_zeros(frame, sizeof(frame), HELPERS_CHUNK_SIZE, 1);
	struct bundle_manifest m = {.version = 2, .image_size = HELPERS_CHUNK_SIZE};
	uint8_t *zeros = calloc(1, HELPERS_CHUNK_SIZE);
	const uint8_t *chunks[1] = {frame};
	uint32_t sizes[1] = {(uint32_t)n};
	struct crypto_keyset *kr = NULL;
	struct payload_chunk c;
	struct helpers_key k;
	struct payload p;
	struct bundle b;

	REQUIRE(n > 0);
	util_set_string(m.compatible, sizeof(m.compatible), HELPERS_COMPATIBLE);
	m.chunk_size = HELPERS_CHUNK_SIZE;
	m.chunk_count = 1;
	m.compression = CODEC_ZSTD;
	crypto_sha256(zeros, HELPERS_CHUNK_SIZE, m.image_digest);
	REQUIRE(helpers_keypair("dev", &k) == 0);
	REQUIRE(crypto_keyset_load(k.dir, &kr) == 0);
	REQUIRE(helpers_write_bundle(test_path("ok.sota"), k.priv, &m, chunks, sizes) == 0);
	REQUIRE(bundle_open(test_path("ok.sota"), &b) == 0);
	CHECK_EQ(bundle_verify(&b, kr, NULL), 0);
	REQUIRE(payload_open(&p, &b) == 0);
	CHECK_EQ(payload_next(&p, &c), 1);
	CHECK(c.size == HELPERS_CHUNK_SIZE && memcmp(c.data, zeros, c.size) == 0);
	CHECK_EQ(payload_next(&p, &c), 0);
	payload_close(&p);
	bundle_close(&b);
	crypto_keyset_free(kr);
	free(zeros);
}

TEST(payload_decompression_bomb_declared_size)
{
	uint8_t frame[4096];
	size_t n = zstd_zeros(frame, sizeof(frame), 4u << 20, 1); /* says 4 MiB, and is */

	REQUIRE(n > 0 && n <= codec_bound(HELPERS_CHUNK_SIZE));
	check_hostile_frame(frame, (uint32_t)n, "4 MiB frame, size declared");
}

TEST(payload_decompression_bomb_undeclared_size)
{
	uint8_t frame[4096];
	size_t n =
	        zstd_zeros(frame, sizeof(frame), 4u << 20, 0); /* says nothing, inflates to 4 MiB */

	REQUIRE(n > 0 && n <= codec_bound(HELPERS_CHUNK_SIZE));
	check_hostile_frame(frame, (uint32_t)n, "4 MiB frame, size not declared");
}

TEST(payload_short_frame_is_refused)
{
	uint8_t frame[4096];
	size_t n = zstd_zeros(frame, sizeof(frame), 1000, 0);

	REQUIRE(n > 0);
	check_hostile_frame(frame, (uint32_t)n, "short frame, size not declared");
}

TEST(payload_two_frames_in_a_chunk_are_refused)
{
	/* Two frames of 32 KiB each: the right total, but not one frame. */
	uint8_t frame[4096];
	size_t n = zstd_zeros(frame, sizeof(frame) / 2, HELPERS_CHUNK_SIZE / 2, 1);
	REQUIRE(n > 0);
	memcpy(frame + n, frame, n);
	check_hostile_frame(frame, (uint32_t)(2 * n), "two frames");
}
