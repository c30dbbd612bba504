/* SPDX-License-Identifier: MIT */
#include "compress.h"

#include <errno.h>
#include <stdlib.h>
#include <zstd.h>

#include "fail.h"

struct compressor {
	ZSTD_CCtx *c;
};

int compressor_new(struct compressor **ret)
{
	struct compressor *z = calloc(1, sizeof(*z));

	if (!z)
		return fail(-ENOMEM, "no memory for the compressor");
	z->c = ZSTD_createCCtx();
	if (!z->c) {
		free(z);
		return fail(-ENOMEM, "zstd cannot make a compression context");
	}
	*ret = z;
	return 0;
}

void compressor_free(struct compressor *z)
{
	if (!z)
		return;
	ZSTD_freeCCtx(z->c);
	free(z);
}

/* A new frame at level, without zstd's checksum (every chunk has its SHA-256). */
static size_t new_frame(struct compressor *z, int level)
{
	ZSTD_CCtx_reset(z->c, ZSTD_reset_session_and_parameters);
	size_t r = ZSTD_CCtx_setParameter(z->c, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z->c, ZSTD_c_checksumFlag, 0);
	return r;
}

int compress_frame_begin(struct compressor *z, int level, unsigned window_log, uint64_t frame_len)
{
	size_t r = new_frame(z, level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z->c, ZSTD_c_windowLog, (int)window_log);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setPledgedSrcSize(z->c, frame_len);
	if (ZSTD_isError(r))
		return fail(-EINVAL, "zstd: %s", ZSTD_getErrorName(r));
	return 0;
}

int compress_frame_chunk(struct compressor *z, const uint8_t *src, size_t src_len, bool last,
                         uint8_t *dst, size_t dst_cap, size_t *ret_len)
{
	ZSTD_inBuffer in = {src, src_len, 0};
	ZSTD_outBuffer out = {dst, dst_cap, 0};
	size_t r;

	/* Flush (or end) until zstd has nothing left: the chunk's bytes are all in dst. */
	do {
		r = ZSTD_compressStream2(z->c, &out, &in, last ? ZSTD_e_end : ZSTD_e_flush);
		if (ZSTD_isError(r))
			return fail(-EIO, "zstd compression failed: %s", ZSTD_getErrorName(r));
		if (r && out.pos == out.size)
			return fail(-EIO, "zstd output of a chunk exceeds %zu bytes", dst_cap);
	} while (r != 0);
	*ret_len = out.pos;
	return 0;
}

int compress_chunk(struct compressor *z, int level, const uint8_t *src, size_t src_len,
                   uint8_t *dst, size_t dst_cap, size_t *ret_len)
{
	size_t r = new_frame(z, level);
	/* The content size goes in the frame header; the reader checks it against the table. */
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z->c, ZSTD_c_contentSizeFlag, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_compress2(z->c, dst, dst_cap, src, src_len);
	if (ZSTD_isError(r))
		return fail(-EIO, "zstd compression failed: %s", ZSTD_getErrorName(r));
	*ret_len = r;
	return 0;
}
