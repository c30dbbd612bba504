/* SPDX-License-Identifier: MIT */
#include "verity.h"

#include <errno.h>
#include <string.h>

#define DIGESTS_LOG 7 /* log2(VERITY_DIGESTS_PER_BLOCK) */

int verity_geometry(uint64_t data_blocks, struct verity_geometry *ret)
{
	struct verity_geometry g = {.data_blocks = data_blocks};

	if (data_blocks == 0 || data_blocks > (1ull << 32))
		return -EFBIG;
	/* The kernel's count: the fewest levels under which the data blocks fit. */
	while ((data_blocks - 1) >> (DIGESTS_LOG * g.levels))
		g.levels++;
	for (unsigned i = 0; i < g.levels; i++) {
		unsigned shift = DIGESTS_LOG * (i + 1);
		g.level_blocks[i] = (data_blocks + (1ull << shift) - 1) >> shift;
	}
	/* Top level first: level i starts after every level above it. */
	for (unsigned i = g.levels; i-- > 0;) {
		g.level_start[i] = g.hash_blocks;
		g.hash_blocks += g.level_blocks[i];
	}
	*ret = g;
	return 0;
}

void verity_digest(const uint8_t salt[VERITY_SALT_SIZE], const uint8_t *block,
                   uint8_t out[CRYPTO_DIGEST_SIZE])
{
	struct crypto_sha256 h;

	crypto_sha256_init(&h);
	crypto_sha256_update(&h, salt, VERITY_SALT_SIZE);
	crypto_sha256_update(&h, block, VERITY_BLOCK_SIZE);
	crypto_sha256_final(&h, out);
}

void verity_begin(struct verity_tree *t, const struct verity_geometry *g,
                  const uint8_t salt[VERITY_SALT_SIZE], verity_emit_fn emit, void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->g = *g;
	memcpy(t->salt, salt, VERITY_SALT_SIZE);
	t->emit = emit;
	t->ctx = ctx;
}

/* Level i's block is complete (or the last, padded): out it goes, its digest one level up. */
static int close_block(struct verity_tree *t, unsigned i)
{
	uint8_t d[CRYPTO_DIGEST_SIZE];
	uint8_t *block = t->level[i].block;

	if (t->emit) {
		int r = t->emit(t->ctx, t->g.level_start[i] + t->level[i].done, i, block);
		if (r < 0)
			return r;
	}
	verity_digest(t->salt, block, d);
	t->level[i].done++;
	t->level[i].fill = 0;
	memset(block, 0, VERITY_BLOCK_SIZE);
	if (i + 1 == t->g.levels) {
		memcpy(t->top, d, sizeof(d));
		return 0;
	}
	memcpy(t->level[i + 1].block + CRYPTO_DIGEST_SIZE * t->level[i + 1].fill++, d, sizeof(d));
	return t->level[i + 1].fill == VERITY_DIGESTS_PER_BLOCK ? close_block(t, i + 1) : 0;
}

int verity_feed(struct verity_tree *t, const uint8_t *data, size_t len)
{
	if (len % VERITY_BLOCK_SIZE || len / VERITY_BLOCK_SIZE > t->g.data_blocks - t->fed)
		return -EFBIG;
	for (size_t off = 0; off < len; off += VERITY_BLOCK_SIZE) {
		t->fed++;
		if (t->g.levels == 0) { /* one block: its digest is the root */
			verity_digest(t->salt, data + off, t->top);
			continue;
		}
		verity_digest(t->salt, data + off,
		              t->level[0].block + CRYPTO_DIGEST_SIZE * t->level[0].fill++);
		if (t->level[0].fill == VERITY_DIGESTS_PER_BLOCK) {
			int r = close_block(t, 0);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int verity_finish(struct verity_tree *t, uint8_t root[CRYPTO_DIGEST_SIZE])
{
	if (t->fed != t->g.data_blocks)
		return -EINVAL;
	/* Each level's partial block, lowest first: closing one can only fill the next. */
	for (unsigned i = 0; i < t->g.levels; i++) {
		if (t->level[i].fill) {
			int r = close_block(t, i);
			if (r < 0)
				return r;
		}
		if (t->level[i].done != t->g.level_blocks[i])
			return -EINVAL; /* cannot happen: the geometry and the feed disagree */
	}
	memcpy(root, t->top, CRYPTO_DIGEST_SIZE);
	return 0;
}
