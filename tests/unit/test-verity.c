/* SPDX-License-Identifier: MIT */
/*
 * verity.h: the tree's shape is the kernel's (levels, sizes, top level
 * first), and the tree and root hash are byte for byte what cryptsetup's
 * veritysetup makes of the same image and salt (format 1, no superblock),
 * at every size where the shape changes: one block (no level), one full
 * block of digests, one more, and past a full second level.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "test.h"
#include "util.h"
#include "verity.h"

TEST(verity_geometry_is_the_kernels)
{
	struct verity_geometry g;

	CHECK_EQ(verity_geometry(0, &g), -EFBIG);
	CHECK_EQ(verity_geometry((1ull << 32) + 1, &g), -EFBIG);
	REQUIRE(verity_geometry(1, &g) == 0);
	CHECK_EQ(g.levels, 0);
	CHECK_EQ(g.hash_blocks, 0);
	REQUIRE(verity_geometry(128, &g) == 0);
	CHECK_EQ(g.levels, 1);
	CHECK_EQ(g.hash_blocks, 1);
	REQUIRE(verity_geometry(129, &g) == 0);
	CHECK_EQ(g.levels, 2);
	CHECK_EQ(g.level_blocks[0], 2);
	CHECK_EQ(g.level_blocks[1], 1);
	CHECK_EQ(g.level_start[1], 0); /* the top level first */
	CHECK_EQ(g.level_start[0], 1);
	CHECK_EQ(g.hash_blocks, 3);
	/* A 16 MiB image (the demo's): 4096 blocks, 32 + 1 hash blocks, 0.8 %. */
	REQUIRE(verity_geometry(4096, &g) == 0);
	CHECK_EQ(g.levels, 2);
	CHECK_EQ(g.hash_blocks, 33);
	/* 64 GiB, the largest image a bundle holds: four levels. */
	REQUIRE(verity_geometry(1ull << 24, &g) == 0);
	CHECK_EQ(g.levels, 4);
	CHECK_EQ(g.level_blocks[0], 131072);
	CHECK_EQ(g.level_blocks[3], 1);
	CHECK_EQ(g.hash_blocks, 131072 + 1024 + 8 + 1);
	CHECK_EQ(g.level_start[0], 1024 + 8 + 1);
}

/* The hash area as the builder emits it. */
struct area {
	uint8_t *bytes;
	uint64_t blocks;
	unsigned last_level;
	uint64_t last_index[VERITY_MAX_LEVELS];
	int out_of_order;
};

static int put_block(void *ctx, uint64_t index, unsigned level, const uint8_t *block)
{
	struct area *a = ctx;

	if (index >= a->blocks)
		return -ENOSPC;
	/* Within a level, blocks come in order. */
	if (a->last_index[level] && index != a->last_index[level] + 1)
		a->out_of_order++;
	a->last_index[level] = index;
	memcpy(a->bytes + index * VERITY_BLOCK_SIZE, block, VERITY_BLOCK_SIZE);
	return 0;
}

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* Builds the tree of blocks pseudo-random blocks, fed in pieces of piece blocks. */
static int build(uint64_t blocks, size_t piece, const uint8_t *data, const uint8_t *salt,
                 struct area *a, uint8_t root[CRYPTO_DIGEST_SIZE])
{
	struct verity_geometry g;
	struct verity_tree *t = malloc(sizeof(*t));
	int r = t ? verity_geometry(blocks, &g) : -ENOMEM;

	if (r == 0) {
		memset(a, 0, sizeof(*a));
		a->blocks = g.hash_blocks;
		a->bytes = calloc(g.hash_blocks ? g.hash_blocks : 1, VERITY_BLOCK_SIZE);
		verity_begin(t, &g, salt, put_block, a);
	}
	for (uint64_t b = 0; r == 0 && b < blocks; b += piece) {
		uint64_t n = blocks - b < piece ? blocks - b : piece;
		r = verity_feed(t, data + b * VERITY_BLOCK_SIZE, n * VERITY_BLOCK_SIZE);
	}
	if (r == 0)
		r = verity_finish(t, root);
	free(t);
	return r;
}

/* veritysetup's root hash and hash area for the same data and salt; 0 when it agrees. */
static int against_veritysetup(uint64_t blocks, const uint8_t *data, const uint8_t *salt,
                               const struct area *a, const uint8_t *root)
{
	char salt_hex[2 * VERITY_SALT_SIZE + 1], root_hex[2 * CRYPTO_DIGEST_SIZE + 1], cmd[1024];
	char line[256], *got = NULL;
	const char *dpath = test_path("data"), *hpath = test_path("hash");
	int fd = open(dpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		return -1;
	CHECK(write(fd, data, blocks * VERITY_BLOCK_SIZE) == (ssize_t)(blocks * VERITY_BLOCK_SIZE));
	close(fd);
	unlink(hpath);
	util_hex(salt_hex, salt, VERITY_SALT_SIZE);
	util_hex(root_hex, root, CRYPTO_DIGEST_SIZE);
	snprintf(cmd, sizeof(cmd),
	         "veritysetup format --no-superblock --hash=sha256 --data-block-size=4096 "
	         "--hash-block-size=4096 --salt=%s %s %s",
	         salt_hex, dpath, hpath);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		if (strncmp(line, "Root hash:", 10) == 0)
			got = strdup(line + 10 + strspn(line + 10, " \t"));
	CHECK(pclose(p) == 0);
	if (!got)
		return -1;
	got[strcspn(got, "\n")] = 0;
	int same = strcmp(got, root_hex) == 0;
	if (!same)
		fprintf(stderr, "  %llu blocks: veritysetup %s, ours %s\n",
		        (unsigned long long)blocks, got, root_hex);
	free(got);
	/* Its hash area, byte for byte (veritysetup makes the file at least as long). */
	uint8_t *theirs = calloc(a->blocks ? a->blocks : 1, VERITY_BLOCK_SIZE);
	fd = open(hpath, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, theirs, a->blocks * VERITY_BLOCK_SIZE) : -1;
	if (fd >= 0)
		close(fd);
	same = same && n == (ssize_t)(a->blocks * VERITY_BLOCK_SIZE) &&
	       memcmp(theirs, a->bytes, a->blocks * VERITY_BLOCK_SIZE) == 0;
	free(theirs);
	return same ? 0 : -1;
}

TEST(verity_tree_and_root_are_veritysetups)
{
	/* 16385 blocks: a second level of 129 blocks, so a third level (64 MiB of data). */
	static const uint64_t sizes[] = {1, 2, 127, 128, 129, 300, 16384 + 128 * 3 + 1};
	uint8_t salt[VERITY_SALT_SIZE], root[CRYPTO_DIGEST_SIZE];

	if (system("command -v veritysetup > /dev/null") != 0) {
		CHECK(!"veritysetup (cryptsetup-bin) is missing: .ci/deps installs it");
		return;
	}
	fill(salt, sizeof(salt), 42);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t blocks = sizes[i];
		if (blocks > 1000 && RUNNING_ON_VALGRIND)
			continue; /* minutes of hashing under valgrind; the shape is the same */
		uint8_t *data = malloc(blocks * VERITY_BLOCK_SIZE);
		struct area a;
		REQUIRE(data);
		fill(data, blocks * VERITY_BLOCK_SIZE, (uint32_t)blocks);
		/* Fed a block at a time, and in pieces of 128 blocks: the same tree. */
		REQUIRE(build(blocks, 1, data, salt, &a, root) == 0);
		uint8_t *first = a.bytes, root1[CRYPTO_DIGEST_SIZE];
		memcpy(root1, root, sizeof(root));
		CHECK_EQ(a.out_of_order, 0);
		REQUIRE(build(blocks, 128, data, salt, &a, root) == 0);
		CHECK(memcmp(root1, root, sizeof(root)) == 0);
		CHECK(memcmp(first, a.bytes, a.blocks * VERITY_BLOCK_SIZE) == 0);
		CHECK_EQ(against_veritysetup(blocks, data, salt, &a, root), 0);
		free(first);
		free(a.bytes);
		free(data);
	}
}

TEST(verity_feed_refuses_what_does_not_fit)
{
	static uint8_t block[2 * VERITY_BLOCK_SIZE];
	uint8_t salt[VERITY_SALT_SIZE] = {0}, root[CRYPTO_DIGEST_SIZE];
	struct verity_geometry g;
	static struct verity_tree t;

	REQUIRE(verity_geometry(3, &g) == 0);
	verity_begin(&t, &g, salt, NULL, NULL);
	CHECK_EQ(verity_feed(&t, block, 100), -EFBIG); /* not whole blocks */
	CHECK_EQ(verity_feed(&t, block, sizeof(block)), 0);
	CHECK_EQ(verity_finish(&t, root), -EINVAL);              /* a block short */
	CHECK_EQ(verity_feed(&t, block, sizeof(block)), -EFBIG); /* one past the end */
	CHECK_EQ(verity_feed(&t, block, VERITY_BLOCK_SIZE), 0);
	CHECK_EQ(verity_finish(&t, root), 0);
}
