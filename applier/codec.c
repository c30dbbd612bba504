/* SPDX-License-Identifier: MIT */
#include "codec.h"

#include <errno.h>
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "fail.h"
#include "util.h"

struct codec {
	ZSTD_DCtx *d;
	bool frame_open;     /* stream: the last chunk ended inside a frame */
	unsigned window_log; /* stream: the largest window allowed */
};

size_t codec_bound(size_t len)
{
	return ZSTD_COMPRESSBOUND(len);
}

int codec_new(struct codec **ret)
{
	struct codec *c = calloc(1, sizeof(*c));

	if (!c)
		return fail(-ENOMEM, "no memory for the decompressor");
	c->d = ZSTD_createDCtx();
	if (!c->d) {
		free(c);
		return fail(-ENOMEM, "zstd cannot make a decompression context");
	}
	*ret = c;
	return 0;
}

void codec_free(struct codec *c)
{
	if (!c)
		return;
	ZSTD_freeDCtx(c->d);
	free(c);
}

/*
 * The window a frame asks for, from its header (RFC 8878, 3.1.1.1): the
 * Window_Descriptor unless the frame is a single segment, whose window is its
 * content (checked against the chunk size separately). 0 if none is stated.
 */
static uint64_t frame_window(const uint8_t *src, size_t len)
{
	if (len < 6)
		return 0;
	uint8_t fhd = src[4];
	if (fhd & 0x20) /* Single_Segment_flag */
		return 0;
	uint8_t wd = src[5];
	uint64_t base = (uint64_t)1 << (10 + (wd >> 3));
	return base + (base / 8) * (wd & 7);
}

int codec_decompress(struct codec *c, const uint8_t *src, size_t src_len, uint8_t *dst,
                     size_t expected)
{
	/* The frame must span the chunk exactly: no second frame, no trailing bytes. */
	size_t frame = ZSTD_findFrameCompressedSize(src, src_len);
	if (ZSTD_isError(frame) || frame != src_len)
		return fail(-EBADMSG, "chunk is not exactly one zstd frame");
	/*
	 * Our frames never need a window larger than their content. One-shot
	 * decompression would not allocate it anyway, but a frame asking for more
	 * was not made by us: refuse it rather than rely on how zstd is called.
	 */
	uint64_t window = frame_window(src, src_len);
	if (window > MAX((uint64_t)expected, (uint64_t)1 << 17))
		return fail(-EBADMSG, "zstd frame asks for a %llu-byte window, for %zu bytes",
		            (unsigned long long)window, expected);
	unsigned long long content = ZSTD_getFrameContentSize(src, src_len);
	if (content == ZSTD_CONTENTSIZE_ERROR)
		return fail(-EBADMSG, "corrupt zstd frame header");
	if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != expected)
		return fail(-EBADMSG, "zstd frame declares %llu bytes, chunk holds %zu", content,
		            expected);
	/*
	 * One-shot decompression writes straight into dst and cannot go past
	 * dst's end (zstd reports dstSize_tooSmall instead), so a frame that
	 * declares nothing or lies still cannot exceed the chunk.
	 */
	size_t n = ZSTD_decompressDCtx(c->d, dst, expected, src, src_len);
	if (ZSTD_isError(n))
		return fail(-EBADMSG, "zstd: %s", ZSTD_getErrorName(n));
	if (n != expected)
		return fail(-EBADMSG, "chunk decompressed to %zu bytes, expected %zu", n, expected);
	return 0;
}

int codec_stream_begin(struct codec *c, unsigned window_log)
{
	if (window_log < CODEC_MIN_WINDOW_LOG || window_log > CODEC_MAX_WINDOW_LOG)
		return fail(-EBADMSG, "stream window 2^%u outside 2^%d..2^%d", window_log,
		            CODEC_MIN_WINDOW_LOG, CODEC_MAX_WINDOW_LOG);
	size_t r = ZSTD_DCtx_reset(c->d, ZSTD_reset_session_and_parameters);
	/* zstd refuses (frameParameter_windowTooLarge) any frame asking for more. */
	if (!ZSTD_isError(r))
		r = ZSTD_DCtx_setParameter(c->d, ZSTD_d_windowLogMax, (int)window_log);
	if (ZSTD_isError(r))
		return fail(-EIO, "zstd: %s", ZSTD_getErrorName(r));
	c->frame_open = false;
	c->window_log = window_log;
	return 0;
}

int codec_stream_chunk(struct codec *c, const uint8_t *src, size_t src_len, uint8_t *dst,
                       size_t expected, bool last)
{
	ZSTD_inBuffer in = {src, src_len, 0};
	ZSTD_outBuffer out = {dst, expected, 0};
	size_t r = 0;

	while (in.pos < in.size) {
		size_t in0 = in.pos, out0 = out.pos;
		r = ZSTD_decompressStream(c->d, &out, &in);
		if (ZSTD_isError(r) &&
		    ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge)
			return fail(-EBADMSG,
			            "zstd frame asks for a window above the bundle's 2^%u",
			            c->window_log);
		if (ZSTD_isError(r))
			return fail(-EBADMSG, "zstd: %s", ZSTD_getErrorName(r));
		if (in.pos == in0 && out.pos == out0)
			return fail(-EBADMSG, "chunk inflates to more than its %zu bytes",
			            expected);
	}
	if (out.pos == out.size) {
		/* Full: anything still inside the decoder would belong to no chunk. */
		uint8_t extra;
		ZSTD_outBuffer probe = {&extra, 1, 0};
		ZSTD_inBuffer none = {NULL, 0, 0};
		size_t p = ZSTD_decompressStream(c->d, &probe, &none);
		if (ZSTD_isError(p))
			return fail(-EBADMSG, "zstd: %s", ZSTD_getErrorName(p));
		if (probe.pos)
			return fail(-EBADMSG, "chunk inflates to more than its %zu bytes",
			            expected);
	}
	if (out.pos != expected)
		return fail(-EBADMSG, "chunk inflates to %zu bytes, expected %zu", out.pos,
		            expected);
	/* r is 0 exactly when a frame has just ended, with nothing of the next one begun. */
	c->frame_open = r != 0;
	if (last && c->frame_open)
		return fail(-EBADMSG, "zstd stream does not end with the last chunk");
	return 0;
}

const char *codec_name(uint8_t kind)
{
	switch (kind) {
	case CODEC_NONE:
		return "none";
	case CODEC_ZSTD:
		return "zstd";
	case CODEC_ZSTD_STREAM:
		return "zstd-stream";
	default:
		return "unknown";
	}
}
