/* SPDX-License-Identifier: MIT */
/*
 * codec.h: one zstd frame per chunk, decompressed into a buffer of exactly the
 * expected size. Anything but exactly one frame of exactly that content is
 * refused, and nothing is written past the buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "codec.h"
#include "compress.h"
#include "fail.h"
#include "test.h"
#include "util.h"

#define CANARY 64

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rng_state ^= rng_state << 13;
		rng_state ^= rng_state >> 7;
		rng_state ^= rng_state << 17;
		p[i] = (uint8_t)rng_state;
	}
}

/* Compressible, but not trivially: runs of a few values. */
static void fill_text(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)("the quick brown fox "[(i / 3) % 20] + (i / 997) % 3);
}

/* A dst buffer of expected bytes followed by a canary that must survive. */
struct out {
	uint8_t *buf;
	size_t expected;
};

static int out_new(struct out *o, size_t expected)
{
	o->expected = expected;
	o->buf = malloc(expected + CANARY);
	if (!o->buf)
		return -ENOMEM;
	memset(o->buf, 0xcc, expected + CANARY);
	return 0;
}

static int canary_intact(const struct out *o)
{
	for (size_t i = 0; i < CANARY; i++)
		if (o->buf[o->expected + i] != 0xcc)
			return 0;
	return 1;
}

static int decompress_into(struct codec *c, const uint8_t *src, size_t len, size_t expected)
{
	struct out o;
	int r = out_new(&o, expected);

	if (r < 0)
		return r;
	r = codec_decompress(c, src, len, o.buf, expected);
	if (!canary_intact(&o)) {
		test_fail(__FILE__, __LINE__, "decompression wrote past the buffer");
		r = -EFAULT;
	}
	free(o.buf);
	return r;
}

/* Compresses src (level) into a fresh buffer of codec_bound() bytes. */
static uint8_t *compress(int level, const uint8_t *src, size_t n, size_t *ret_len)
{
	size_t cap = codec_bound(n);
	uint8_t *dst = malloc(cap);
	struct compressor *z = NULL;
	int r = dst ? compressor_new(&z) : -ENOMEM;

	if (r == 0)
		r = compress_chunk(z, level, src, n, dst, cap, ret_len);
	compressor_free(z);
	if (r == 0)
		return dst;
	free(dst);
	return NULL;
}

TEST(codec_round_trip)
{
	static const size_t sizes[] = {0, 1, 2, 100, 4095, 4096, 65536, 1 << 20, (1 << 20) + 7};
	static const int levels[] = {1, 3, 19};
	struct codec *c;

	REQUIRE(codec_new(&c) == 0);
	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		size_t n = sizes[s];
		uint8_t *src = malloc(n + 1);
		REQUIRE(src);
		for (int kind = 0; kind < 3; kind++) {
			if (kind == 0)
				memset(src, 0, n);
			else if (kind == 1)
				fill_random(src, n);
			else
				fill_text(src, n);
			for (size_t l = 0; l < ARRAY_SIZE(levels); l++) {
				size_t len = 0;
				struct out o;
				if (levels[l] > 3 && n > 65536)
					continue; /* slow, and adds nothing */
				uint8_t *z = compress(levels[l], src, n, &len);
				REQUIRE(z && out_new(&o, n) == 0);
				CHECK(len <= codec_bound(n));
				if (kind == 0 && n >= 4096)
					CHECK(len < n / 50); /* zeros do compress */
				CHECK_EQ(codec_decompress(c, z, len, o.buf, n), 0);
				CHECK(memcmp(o.buf, src, n) == 0);
				CHECK(canary_intact(&o));
				free(o.buf);
				free(z);
			}
		}
		free(src);
	}
	codec_free(c);
}

TEST(codec_bound_covers_incompressible_data)
{
	static const size_t sizes[] = {0, 1, 31, 128, 1000, 4096, 100000, 1 << 20};
	struct codec *c;

	REQUIRE(codec_new(&c) == 0);
	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		size_t n = sizes[s], len = 0;
		uint8_t *src = malloc(n + 1);
		REQUIRE(src);
		fill_random(src, n);
		uint8_t *z = compress(19, src, n, &len);
		CHECK(z != NULL);
		CHECK(len >= n && len <= codec_bound(n)); /* random data does not shrink */
		CHECK(codec_bound(n) >= n);
		free(z);
		free(src);
	}
	/* A buffer below the bound may be too small: refused, not overrun. */
	uint8_t src[4096], dst[100];
	size_t len = 0;
	fill_random(src, sizeof(src));
	struct compressor *z;
	REQUIRE(compressor_new(&z) == 0);
	CHECK(compress_chunk(z, 3, src, sizeof(src), dst, sizeof(dst), &len) < 0);
	compressor_free(z);
	codec_free(c);
}

TEST(codec_refuses_wrong_content_size)
{
	uint8_t src[5000];
	size_t len = 0;
	struct codec *c;

	REQUIRE(codec_new(&c) == 0);
	fill_text(src, sizeof(src));
	uint8_t *z = compress(3, src, sizeof(src), &len);
	REQUIRE(z);
	CHECK_EQ(decompress_into(c, z, len, sizeof(src)), 0);
	/* The frame declares 5000 bytes: a chunk of any other size is refused. */
	CHECK_EQ(decompress_into(c, z, len, sizeof(src) - 1), -EBADMSG);
	CHECK_EQ(decompress_into(c, z, len, 1), -EBADMSG);
	CHECK_EQ(decompress_into(c, z, len, 0), -EBADMSG);
	CHECK_EQ(decompress_into(c, z, len, sizeof(src) + 1), -EBADMSG);
	CHECK_EQ(decompress_into(c, z, len, 2 * sizeof(src)), -EBADMSG);
	free(z);
	codec_free(c);
}

/* A frame that does not declare its content size (as a streaming compressor may make it). */
static uint8_t *frame_without_size(const uint8_t *src, size_t n, size_t *ret_len)
{
	ZSTD_CCtx *z = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(n);
	uint8_t *dst = malloc(cap);
	size_t r = (size_t)-1; /* an error code */

	if (z && dst) {
		ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 0);
		r = ZSTD_compress2(z, dst, cap, src, n);
	}
	ZSTD_freeCCtx(z);
	if (!dst || ZSTD_isError(r) ||
	    ZSTD_getFrameContentSize(dst, r) != ZSTD_CONTENTSIZE_UNKNOWN) {
		free(dst);
		return NULL;
	}
	*ret_len = r;
	return dst;
}

TEST(codec_refuses_undeclared_size_mismatch)
{
	uint8_t src[20000];
	size_t len = 0;
	struct codec *c;

	REQUIRE(codec_new(&c) == 0);
	fill_text(src, sizeof(src));
	uint8_t *z = frame_without_size(src, sizeof(src), &len);
	REQUIRE(z);
	/* The exact size works; more content than the chunk is never written past it. */
	CHECK_EQ(decompress_into(c, z, len, sizeof(src)), 0);
	CHECK_EQ(decompress_into(c, z, len, sizeof(src) - 1), -EBADMSG);
	CHECK_EQ(decompress_into(c, z, len, 4096), -EBADMSG);
	CHECK_EQ(decompress_into(c, z, len, sizeof(src) + 1), -EBADMSG);
	free(z);
	codec_free(c);
}

TEST(codec_refuses_anything_but_one_exact_frame)
{
	uint8_t src[3000], two[8192], garbage[2048];
	size_t len = 0;
	struct codec *c;

	REQUIRE(codec_new(&c) == 0);
	fill_text(src, sizeof(src));
	uint8_t *z = compress(3, src, sizeof(src), &len);
	REQUIRE(z && 2 * len + 16 <= sizeof(two));

	/* Two frames back to back, each fine alone: 3000 + 3000 bytes or just the first. */
	memcpy(two, z, len);
	memcpy(two + len, z, len);
	CHECK_EQ(decompress_into(c, two, 2 * len, sizeof(src)), -EBADMSG);
	CHECK_EQ(decompress_into(c, two, 2 * len, 2 * sizeof(src)), -EBADMSG);

	/* Trailing bytes: one zero, or some garbage. */
	two[len] = 0;
	CHECK_EQ(decompress_into(c, two, len + 1, sizeof(src)), -EBADMSG);
	fill_random(two + len, 16);
	CHECK_EQ(decompress_into(c, two, len + 16, sizeof(src)), -EBADMSG);

	/* Truncated anywhere. */
	for (size_t cut = 0; cut < len; cut++)
		if (decompress_into(c, z, cut, sizeof(src)) != -EBADMSG) {
			CHECK_EQ(decompress_into(c, z, cut, sizeof(src)), -EBADMSG);
			break;
		}

	/* Random garbage, and garbage behind a valid magic number. */
	for (int round = 0; round < 64; round++) {
		size_t n = 1 + (size_t)round * 31;
		fill_random(garbage, n);
		if (round % 2)
			memcpy(garbage, z, n < 4 ? n : 4);
		CHECK_EQ(decompress_into(c, garbage, n, sizeof(src)), -EBADMSG);
	}

	/* A skippable frame carries no content at all. */
	uint8_t skip[16] = {0x50, 0x2a, 0x4d, 0x18, 8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
	CHECK_EQ(decompress_into(c, skip, sizeof(skip), sizeof(src)), -EBADMSG);
	CHECK_EQ(decompress_into(c, skip, sizeof(skip), 8), -EBADMSG);
	free(z);
	codec_free(c);
}

/* ---- streams (CODEC_ZSTD_STREAM) ---- */

#define SCHUNK 4096
#define SCHUNKS 6

/* A stream of SCHUNKS chunks of text, flushed at every chunk: stored bytes and their sizes. */
static uint8_t *make_stream(unsigned window_log, const uint8_t *src, size_t sizes[SCHUNKS],
                            size_t *ret_len)
{
	size_t cap = SCHUNKS * codec_bound(SCHUNK), len = 0;
	uint8_t *dst = malloc(cap);
	struct compressor *z = NULL;

	if (!dst || compressor_new(&z) < 0 ||
	    compress_frame_begin(z, 3, window_log, SCHUNKS * SCHUNK) < 0)
		goto fail;
	for (int i = 0; i < SCHUNKS; i++) {
		if (compress_frame_chunk(z, src + i * SCHUNK, SCHUNK, i == SCHUNKS - 1, dst + len,
		                         cap - len, &sizes[i]) < 0)
			goto fail;
		len += sizes[i];
	}
	compressor_free(z);
	*ret_len = len;
	return dst;
fail:
	compressor_free(z);
	free(dst);
	return NULL;
}

/* Feeds the chunks of a stream, each expecting SCHUNK bytes; returns the first failure. */
static int decode_stream(struct codec *c, unsigned window_log, const uint8_t *z,
                         const size_t sizes[SCHUNKS], uint8_t *out)
{
	int r = codec_stream_begin(c, window_log);

	for (int i = 0; r == 0 && i < SCHUNKS; i++) {
		struct out o;
		if (out_new(&o, SCHUNK) < 0)
			return -ENOMEM;
		r = codec_stream_chunk(c, z, sizes[i], o.buf, SCHUNK, i == SCHUNKS - 1);
		CHECK(canary_intact(&o));
		if (out)
			memcpy(out + i * SCHUNK, o.buf, SCHUNK);
		free(o.buf);
		z += sizes[i];
	}
	return r;
}

TEST(codec_stream_round_trip_chunk_by_chunk)
{
	static uint8_t src[SCHUNKS * SCHUNK], out[SCHUNKS * SCHUNK];
	size_t sizes[SCHUNKS], len;
	struct codec *c;

	REQUIRE(codec_new(&c) == 0);
	fill_text(src, sizeof(src));
	fill_random(src + SCHUNK, SCHUNK); /* one incompressible chunk */
	for (unsigned wl = CODEC_MIN_WINDOW_LOG; wl <= CODEC_MAX_WINDOW_LOG; wl += 4) {
		uint8_t *z = make_stream(wl, src, sizes, &len);
		REQUIRE(z);
		memset(out, 0, sizeof(out));
		CHECK_EQ(decode_stream(c, wl, z, sizes, out), 0);
		CHECK(memcmp(out, src, sizeof(src)) == 0);
		/* Each chunk fits zstd's bound, the frame header included. */
		for (int i = 0; i < SCHUNKS; i++)
			CHECK(sizes[i] <= codec_bound(SCHUNK));
		free(z);
	}
	/* Windows outside 2^10..2^22 are refused before anything is decoded. */
	CHECK_EQ(codec_stream_begin(c, 9), -EBADMSG);
	CHECK_EQ(codec_stream_begin(c, 23), -EBADMSG);
	codec_free(c);
}

TEST(codec_stream_refuses_misaligned_or_unfinished_chunks)
{
	static uint8_t src[SCHUNKS * SCHUNK];
	size_t sizes[SCHUNKS], len, moved[SCHUNKS];
	struct codec *c;

	REQUIRE(codec_new(&c) == 0);
	fill_text(src, sizeof(src));
	uint8_t *z = make_stream(16, src, sizes, &len);
	REQUIRE(z);

	/* Chunk boundaries moved by one byte: a chunk ends inside a block. */
	memcpy(moved, sizes, sizeof(moved));
	moved[1] -= 1, moved[2] += 1;
	CHECK_EQ(decode_stream(c, 16, z, moved, NULL), -EBADMSG);
	CHECK(strstr(fail_reason(), "chunk inflates to") != NULL);

	/* Two chunks' bytes as one: inflates to more than the chunk. */
	memcpy(moved, sizes, sizeof(moved));
	moved[0] += moved[1], moved[1] = 0;
	REQUIRE(codec_stream_begin(c, 16) == 0);
	uint8_t *buf = malloc(SCHUNK);
	CHECK_EQ(codec_stream_chunk(c, z, moved[0], buf, SCHUNK, false), -EBADMSG);
	CHECK(strstr(fail_reason(), "more than") != NULL);

	/* The stream cut before its end: the last chunk leaves the frame open. */
	REQUIRE(codec_stream_begin(c, 16) == 0);
	CHECK_EQ(codec_stream_chunk(c, z, sizes[0], buf, SCHUNK, true), -EBADMSG);
	CHECK(strstr(fail_reason(), "does not end") != NULL);

	/* A window the frame asks for above the device's limit (stream decoded at 2^12). */
	CHECK_EQ(decode_stream(c, 12, z, sizes, NULL), -EBADMSG);
	CHECK(strstr(fail_reason(), "indow") != NULL);

	/* Garbage after the stream's end, in the last chunk. */
	uint8_t *z2 = malloc(len + 4);
	REQUIRE(z2);
	memcpy(z2, z, len);
	memcpy(z2 + len, "junk", 4);
	memcpy(moved, sizes, sizeof(moved));
	moved[SCHUNKS - 1] += 4;
	CHECK_EQ(decode_stream(c, 16, z2, moved, NULL), -EBADMSG);
	free(z2);
	free(buf);
	free(z);
	codec_free(c);
}

TEST(codec_names)
{
	CHECK_EQ(strcmp(codec_name(CODEC_NONE), "none"), 0);
	CHECK_EQ(strcmp(codec_name(CODEC_ZSTD), "zstd"), 0);
	CHECK_EQ(strcmp(codec_name(CODEC_ZSTD_STREAM), "zstd-stream"), 0);
	CHECK_EQ(strcmp(codec_name(3), "unknown"), 0);
	CHECK_EQ(strcmp(codec_name(255), "unknown"), 0);
}
