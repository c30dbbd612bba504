/* SPDX-License-Identifier: MIT */
/*
 * The decompressor, on frames a signed but hostile bundle could carry (their
 * digests match, so only the codec's own checks stand between them and the
 * slot): any bytes, into a 64 KiB chunk.
 */
#include <stdlib.h>

#include "codec.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct codec *c;
	static uint8_t out[64 * 1024];

	if (!c && codec_new(&c) < 0)
		abort();
	(void)codec_decompress(c, data, size, out, sizeof(out));
	/* The last chunk of an image may be shorter. */
	if (size > 0)
		(void)codec_decompress(c, data, size, out, data[0] * 256u + 1);
	return 0;
}
