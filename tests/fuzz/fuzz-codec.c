/* SPDX-License-Identifier: MIT */
/*
 * The decompressor, on data a signed but hostile bundle could carry (its
 * digests match, so only the codec's own checks stand between it and the
 * slot). Input byte 0 picks the layout:
 *   even: one frame per chunk, the rest of the input into a 64 KiB chunk
 *         (and into a shorter last chunk);
 *   odd:  a stream (compression 2): byte 1 the window log (10 + n % 13),
 *         then up to four chunks, each a 2-byte stored length, a 3-byte
 *         inflated length (at most 256 KiB) and the stored bytes.
 * Every output buffer is a fresh allocation of exactly the expected size,
 * so that ASan sees any byte written past it.
 */
#include <stdlib.h>

#include "codec.h"
#include "fuzz.h"

static void one(struct codec *c, const uint8_t *d, size_t n, size_t expected)
{
	uint8_t *out = malloc(expected);

	if (!out)
		abort();
	(void)codec_decompress(c, d, n, out, expected);
	free(out);
}

static void stream(struct codec *c, const uint8_t *d, size_t n)
{
	if (n < 2 || codec_stream_begin(c, CODEC_MIN_WINDOW_LOG + d[1] % 13) < 0)
		return;
	d += 2, n -= 2;
	for (int i = 0; i < 4 && n >= 5; i++) {
		size_t len = (size_t)(d[0] | d[1] << 8);
		size_t expected = (size_t)(d[2] | d[3] << 8 | d[4] << 16) % (256 * 1024) + 1;
		d += 5, n -= 5;
		if (len > n || len == 0)
			len = n;
		bool last = i == 3 || len == n;
		uint8_t *out = malloc(expected);
		if (!out)
			abort();
		int r = codec_stream_chunk(c, d, len, out, expected, last);
		free(out);
		if (r < 0 || last)
			return;
		d += len, n -= len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct codec *c;

	if (!c && codec_new(&c) < 0)
		abort();
	if (size == 0)
		return 0;
	if (data[0] & 1) {
		stream(c, data, size);
		return 0;
	}
	one(c, data + 1, size - 1, 64 * 1024);
	/* The last chunk of an image may be shorter. */
	if (size > 1)
		one(c, data + 1, size - 1, data[1] * 256u + 1);
	return 0;
}
