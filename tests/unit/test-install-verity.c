/* SPDX-License-Identifier: MIT */
/*
 * Installing a verity bundle: the slot ends up holding the image, then its
 * hash tree exactly as verity.c (and so veritysetup) makes it, then the
 * bundle's head, found through the locator in the slot's last 4096 bytes.
 * A tree or footer the medium returns different fails the install (-EIO,
 * before the slot may be tried); a slot without room for them is -ENOSPC;
 * and any install first clears the footer a slot held before.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "create.h"
#include "fail.h"
#include "footer.h"
#include "helpers.h"
#include "install.h"
#include "state.h"
#include "test.h"
#include "verity.h"

static int open_verified(const char *path, const struct helpers_device *d, struct bundle *b)
{
	int r = bundle_open(path, b);
	return r < 0 ? r : bundle_verify(b, d->keys, NULL);
}

/* The footer of slot i: its head parsed, or the error. */
static int read_footer(const struct helpers_device *d, int i, struct bundle *ret)
{
	int fd = open(d->slot[i], O_RDONLY);
	int r = fd < 0 ? -errno : footer_read(fd, HELPERS_SLOT_SIZE, ret);
	if (fd >= 0)
		close(fd);
	return r;
}

struct area {
	uint8_t *bytes;
};

static int put(void *ctx, uint64_t index, unsigned level, const uint8_t *block)
{
	(void)level;
	memcpy(((struct area *)ctx)->bytes + index * VERITY_BLOCK_SIZE, block, VERITY_BLOCK_SIZE);
	return 0;
}

TEST(install_verity_slot_holds_image_tree_and_footer)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct bundle b, f;
	struct verity_geometry g;
	static struct verity_tree t;
	struct state_record st;
	uint8_t *img = NULL, *slot = NULL, root[CRYPTO_DIGEST_SIZE];
	size_t img_len, slot_len;
	uint8_t booted = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_verity_update("v2", d.key.priv, 2, HELPERS_IMAGE_SIZE) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	CHECK_EQ(helpers_apply(&d, &booted), 0);
	CHECK_EQ(booted, 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	/* Slot B: the image, then its tree, byte for byte. */
	REQUIRE(helpers_read_file(test_path("v2.img"), &img, &img_len) == 0);
	REQUIRE(helpers_read_file(d.slot[1], &slot, &slot_len) == 0);
	REQUIRE(slot_len == HELPERS_SLOT_SIZE);
	CHECK(memcmp(slot, img, img_len) == 0);
	REQUIRE(verity_geometry(img_len / VERITY_BLOCK_SIZE, &g) == 0);
	struct area a = {calloc(g.hash_blocks, VERITY_BLOCK_SIZE)};
	REQUIRE(open_verified(test_path("v2.sota"), &d, &b) == 0);
	verity_begin(&t, &g, b.manifest.verity.salt, put, &a);
	REQUIRE(verity_feed(&t, img, img_len) == 0);
	REQUIRE(verity_finish(&t, root) == 0);
	CHECK(memcmp(root, b.manifest.verity.root, sizeof(root)) == 0);
	CHECK(memcmp(slot + img_len, a.bytes, g.hash_blocks * VERITY_BLOCK_SIZE) == 0);
	/* The footer: the bundle's head, which still verifies. */
	REQUIRE(read_footer(&d, 1, &f) == 0);
	CHECK(memcmp(f.txn, b.txn, sizeof(b.txn)) == 0);
	CHECK_EQ(f.head_len, b.head_len);
	CHECK(memcmp(f.head, b.head, b.head_len) == 0);
	CHECK_EQ(bundle_verify(&f, d.keys, NULL), 0);
	CHECK(memcmp(f.manifest.verity.root, root, sizeof(root)) == 0);
	bundle_close(&f);
	/* Slot A, from the factory, has none. */
	CHECK_EQ(read_footer(&d, 0, &f), -ENOENT);
	/* A plain install into B clears B's footer before it writes the image. */
	struct bundle plain;
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	REQUIRE(open_verified(test_path("v3.sota"), &d, &plain) == 0);
	CHECK_EQ(install_image(&plain, d.slot[1], true), 0);
	CHECK_EQ(read_footer(&d, 1, &f), -ENOENT);
	bundle_close(&plain);
	bundle_close(&b);
	free(a.bytes);
	free(img);
	free(slot);
}

/* Reads of slot B in a whole install: the image's read-back, the tree's, the footer's. */
static int count_reads(struct helpers_device *d, struct bundle *b)
{
	struct helpers_fault f = {.op = IO_READ, .suffix = "/slot-b", .nth = 0};

	helpers_fault_set(&f);
	int r = install_image(b, d->slot[1], true);
	helpers_fault_set(NULL);
	return r < 0 ? r : f.calls;
}

TEST(install_verity_tree_or_footer_reading_back_different_is_eio)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct bundle b, f;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_verity_update("v2", d.key.priv, 2, HELPERS_IMAGE_SIZE) == 0);
	REQUIRE(open_verified(test_path("v2.sota"), &d, &b) == 0);
	int n = count_reads(&d, &b);
	/* 5 chunks, the tree's one level (75 digests: one block), the head and the locator. */
	CHECK_EQ(n, 5 + 1 + 2);
	/* The fault flips the middle byte of the read: for the head's block (a head of ~500
	 * bytes), a byte of the block's unused tail, which nothing reads: no failure. */
	const struct {
		int nth, code;
		const char *reason;
	} cases[] = {
	        {n - 2, -EIO, "verity tree (level 0) reads back different"},
	        {n - 1, 0, ""},
	        {n, -EIO, "verity footer reads back different"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct helpers_fault c = {
		        .op = IO_READ, .suffix = "/slot-b", .nth = cases[i].nth, .corrupt = true};
		helpers_fault_set(&c);
		int r = install_image(&b, d.slot[1], true);
		helpers_fault_set(NULL);
		CHECK_EQ(c.failed, 1);
		CHECK_EQ(r, cases[i].code);
		if (r == 0)
			continue;
		if (!strstr(fail_reason(), cases[i].reason))
			fprintf(stderr, "  read %d: '%s'\n", cases[i].nth, fail_reason());
		CHECK(strstr(fail_reason(), cases[i].reason) != NULL);
	}
	/* And without a fault, the same install passes and leaves its footer. */
	CHECK_EQ(install_image(&b, d.slot[1], true), 0);
	CHECK_EQ(read_footer(&d, 1, &f), 0);
	bundle_close(&f);
	bundle_close(&b);
}

TEST(install_verity_needs_room_for_tree_and_footer)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct bundle b;

	REQUIRE(helpers_device(&d) == 0);
	/* An image that leaves one block of the slot: no room for tree, head and locator. */
	REQUIRE(helpers_verity_update("big", d.key.priv, 2,
	                              HELPERS_SLOT_SIZE - VERITY_BLOCK_SIZE) == 0);
	REQUIRE(open_verified(test_path("big.sota"), &d, &b) == 0);
	CHECK_EQ(install_image(&b, d.slot[1], true), -ENOSPC);
	CHECK(strstr(fail_reason(), "verity tree and footer") != NULL);
	bundle_close(&b);
}
