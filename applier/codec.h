/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The only file that talks to zstd. A bundle's payload is a sequence of
 * chunks, each one complete zstd frame (or stored raw). Chunks are
 * decompressed one at a time into a caller-provided buffer of the chunk's
 * exact expected size, so memory is bounded by the chunk size no matter what
 * the frame claims, and a frame that would produce more is refused.
 */

#include <stddef.h>
#include <stdint.h>

enum codec_kind { CODEC_NONE = 0, CODEC_ZSTD = 1 };

/* The largest stored size a chunk of len bytes may have: zstd's worst-case bound. */
size_t codec_bound(size_t len);

struct codec;

int codec_new(struct codec **ret);
void codec_free(struct codec *c);

/*
 * Decompresses exactly one frame src[0..src_len) into dst, which must come
 * out exactly expected bytes long. -EBADMSG (with a reason) for a corrupt
 * frame, trailing bytes, or any other output size.
 */
int codec_decompress(struct codec *c, const uint8_t *src, size_t src_len, uint8_t *dst,
                     size_t expected);

/* Compresses src into one frame at level. Returns the frame size in *ret_len. */
int codec_compress(struct codec *c, int level, const uint8_t *src, size_t src_len, uint8_t *dst,
                   size_t dst_cap, size_t *ret_len);

const char *codec_name(uint8_t kind);
