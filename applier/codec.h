/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The only file that talks to zstd. A bundle's payload is a sequence of
 * chunks, decompressed one at a time into a caller-provided buffer of the
 * chunk's exact expected size, so memory is bounded by the chunk size (and
 * the stream's window) no matter what the data claims, and a chunk that
 * would produce more is refused. Two layouts:
 *
 *   CODEC_ZSTD         each chunk is one complete zstd frame (independent);
 *   CODEC_ZSTD_STREAM  the chunks are consecutive pieces of one zstd stream
 *                      (one or more frames) with a window of at most
 *                      2^window_log bytes, flushed at every chunk boundary,
 *                      so that each chunk inflates to exactly its bytes.
 *                      Compresses like one whole-image frame of that window
 *                      (within 2% at 4 MiB), instead of a restart per chunk.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum codec_kind { CODEC_NONE = 0, CODEC_ZSTD = 1, CODEC_ZSTD_STREAM = 2 };

/* A stream's window: 2^10 .. 2^22 bytes (4 MiB: what the decoder may allocate). */
#define CODEC_MIN_WINDOW_LOG 10
#define CODEC_MAX_WINDOW_LOG 22

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

/*
 * A stream (CODEC_ZSTD_STREAM), decoded chunk by chunk, in order: begin once,
 * then each chunk's verified stored bytes. -EBADMSG (with a reason) for
 * corrupt data, a frame asking for a window above 2^window_log, a chunk that
 * inflates to any size but expected, or a stream that does not end with the
 * last chunk.
 */
int codec_stream_begin(struct codec *c, unsigned window_log);
int codec_stream_chunk(struct codec *c, const uint8_t *src, size_t src_len, uint8_t *dst,
                       size_t expected, bool last);

/* Making these layouts is compress.h's business (build host only). */

const char *codec_name(uint8_t kind);
