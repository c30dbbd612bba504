/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The dm-verity hash tree of an image (the kernel's format, version 1:
 * Documentation/admin-guide/device-mapper/verity.rst), built in one pass and
 * in constant memory. SHA-256, 4096-byte data and hash blocks, so a hash
 * block holds 128 digests and each 512 KiB of image is one block of the
 * lowest level. Every digest is SHA-256(salt || block).
 *
 * Level 0 holds the digests of the data blocks, level i + 1 those of level
 * i's blocks, each level's last block zero-padded, up to a top level of one
 * block; the root hash is the digest of that block. On the device the levels
 * follow each other top first (the kernel's layout): level i starts at hash
 * block sum(blocks of the levels above it). An image of one block has no
 * level, and its root hash is that block's digest.
 *
 * The builder is fed the image's blocks in order; each hash block is handed
 * to a callback as soon as it is complete, with its place in the hash area,
 * and each level's blocks come in order. Memory: one block per level.
 */

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define VERITY_BLOCK_SIZE 4096u
#define VERITY_DIGESTS_PER_BLOCK (VERITY_BLOCK_SIZE / CRYPTO_DIGEST_SIZE) /* 128 */
#define VERITY_SALT_SIZE 32u
/* 128^5 blocks of 4 KiB is 128 TiB: any image a bundle can hold has fewer levels. */
#define VERITY_MAX_LEVELS 5u

struct verity_geometry {
	uint64_t data_blocks;
	unsigned levels;
	uint64_t level_start[VERITY_MAX_LEVELS];  /* in hash blocks from the hash area's start */
	uint64_t level_blocks[VERITY_MAX_LEVELS]; /* blocks of level i */
	uint64_t hash_blocks;                     /* of all levels: the hash area's size */
};

/* Pure: the tree of data_blocks blocks (1..2^32). -EFBIG beyond that. */
int verity_geometry(uint64_t data_blocks, struct verity_geometry *ret);

/* Pure: SHA-256(salt || block), one VERITY_BLOCK_SIZE block. */
void verity_digest(const uint8_t salt[VERITY_SALT_SIZE], const uint8_t *block,
                   uint8_t out[CRYPTO_DIGEST_SIZE]);

/*
 * Called with each finished hash block: its index in the hash area and level,
 * and its bytes. A negative return stops the build with that error.
 */
typedef int (*verity_emit_fn)(void *ctx, uint64_t index, unsigned level, const uint8_t *block);

struct verity_tree {
	struct verity_geometry g;
	uint8_t salt[VERITY_SALT_SIZE];
	verity_emit_fn emit;
	void *ctx;
	uint64_t fed; /* data blocks so far */
	uint8_t top[CRYPTO_DIGEST_SIZE];
	struct {
		uint8_t block[VERITY_BLOCK_SIZE];
		unsigned fill; /* digests in block */
		uint64_t done; /* blocks of this level emitted */
	} level[VERITY_MAX_LEVELS];
};

/* Starts a tree of g's shape (emit may be NULL: only the root hash is wanted). */
void verity_begin(struct verity_tree *t, const struct verity_geometry *g,
                  const uint8_t salt[VERITY_SALT_SIZE], verity_emit_fn emit, void *ctx);

/*
 * The next len bytes of the image (a multiple of VERITY_BLOCK_SIZE). -EFBIG
 * past the geometry's data blocks; or the callback's error.
 */
int verity_feed(struct verity_tree *t, const uint8_t *data, size_t len);

/* After every data block: the partial blocks, then the root hash. -EINVAL if blocks are missing. */
int verity_finish(struct verity_tree *t, uint8_t root[CRYPTO_DIGEST_SIZE]);
