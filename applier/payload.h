/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Streaming the payload of a verified bundle, one chunk at a time, in
 * constant memory (two buffers of at most the chunk size and its zstd bound).
 * Each chunk is read once, hashed, compared with its signed digest, and only
 * then decompressed. The SHA-256 of the whole inflated image, and for a
 * verity bundle the root hash of its tree, are checked against the manifest
 * after the last chunk.
 */

#include <stdbool.h>
#include <stdint.h>

#include "bundle.h"
#include "crypto.h"

struct codec;

struct payload_chunk {
	uint32_t index;
	uint64_t image_offset;
	const uint8_t *stored; /* the verified stored bytes */
	uint32_t stored_size;
	const uint8_t *data; /* the inflated bytes */
	uint32_t size;
};

struct payload {
	const struct bundle *b;
	struct codec *codec;
	uint8_t *in;
	uint8_t *out;
	uint32_t next;
	bool inflate; /* false: chunks are verified, not decompressed (no data, no image digest) */
	bool check_image; /* the SHA-256 of the inflated image is checked here */
	uint64_t file_offset;
	struct crypto_sha256 image_hash;
	struct verity_tree *tree; /* a verity bundle's: its root hash is checked too */
};

/* -EPERM when the bundle's signature has not been verified. */
int payload_open(struct payload *p, const struct bundle *b);

/*
 * Like payload_open, but the chunks are only read and checked against their
 * signed digests, not decompressed: for copying a bundle (staging) at the
 * cost of hashing its compressed bytes only. Each chunk's data is NULL.
 */
int payload_open_stored(struct payload *p, const struct bundle *b);

/*
 * The next chunk: returns 1 and fills ret, or 0 after the last chunk once
 * the image digest matched, or -errno with a reason (-EBADMSG for a chunk or
 * image digest mismatch or a corrupt frame, -EIO for a read error). The
 * chunk's buffers are valid until the next call.
 */
int payload_next(struct payload *p, struct payload_chunk *ret);

/*
 * Like payload_next, but inflates into dst (chunk_size bytes) instead of the
 * payload's own buffer: for a caller that keeps several chunks in flight.
 * NULL: the payload's own buffer.
 */
int payload_next_into(struct payload *p, uint8_t *dst, struct payload_chunk *ret);

/*
 * The caller checks the inflated image itself (install's read-back hashes
 * what the slot holds against the manifest): no second hash here, and the
 * end of the payload no longer vouches for the image digest.
 */
void payload_leave_image_digest(struct payload *p);

void payload_close(struct payload *p);
