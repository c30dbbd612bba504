/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * zstd's compressing side, for `bundle create` on the build host only: the
 * device's binary (systemota.static, in the initramfs) is linked without
 * this file and therefore without zstd's compressor (see Makefile). The
 * layouts it makes are those codec.h decodes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct compressor;

int compressor_new(struct compressor **ret);
void compressor_free(struct compressor *z);

/*
 * A stream (CODEC_ZSTD_STREAM): one frame of frame_len bytes, fed a chunk at
 * a time (flushed after each; the frame ends with its last chunk). A payload
 * may be several such frames one after the other (made in parallel).
 */
int compress_frame_begin(struct compressor *z, int level, unsigned window_log, uint64_t frame_len);
int compress_frame_chunk(struct compressor *z, const uint8_t *src, size_t src_len, bool last,
                         uint8_t *dst, size_t dst_cap, size_t *ret_len);

/* Compresses src into one frame at level (CODEC_ZSTD). The frame's size in *ret_len. */
int compress_chunk(struct compressor *z, int level, const uint8_t *src, size_t src_len,
                   uint8_t *dst, size_t dst_cap, size_t *ret_len);
