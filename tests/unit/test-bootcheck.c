/* SPDX-License-Identifier: MIT */
/*
 * The check of a slot at every boot (bootcheck.h) and the corruption policy
 * of apply.c: a verity slot boots only when its footer verifies and every
 * block of its image and tree is the signed one; a damaged block is named;
 * a trial slot found damaged is rolled back at once; a confirmed slot found
 * damaged gives way to the other one when that one is good and verified; a
 * slot that predates verity boots as before, unverified.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootcheck.h"
#include "bundle.h"
#include "create.h"
#include "fail.h"
#include "footer.h"
#include "helpers.h"
#include "history.h"
#include "state.h"
#include "test.h"
#include "verity.h"

/* Stages NAME (a verity bundle of version), applies (installs, boots on trial), confirms. */
static int install_confirmed(struct helpers_device *d, const char *name, uint64_t version)
{
	uint8_t booted = 9;
	int r = helpers_verity_update(name, d->key.priv, version, HELPERS_IMAGE_SIZE);

	if (r == 0)
		r = helpers_drop(d, name);
	if (r == 0)
		r = helpers_apply(d, &booted);
	if (r == 0)
		r = helpers_mark_good(d, booted);
	return r;
}

/* bootcheck_slot() on slot i of d, as its record describes it. */
static int check(const struct helpers_device *d, int i, struct bootcheck *ret)
{
	struct state_record st;
	int r = helpers_read_state(d->state, &st);

	if (r < 0)
		return r;
	struct bootcheck_config c = {.path = d->slot[i],
	                             .slot = (uint8_t)i,
	                             .expect_footer = st.slot[i].verity,
	                             .version = st.slot[i].version,
	                             .floor = st.version_floor,
	                             .compatible = HELPERS_COMPATIBLE,
	                             .keys = d->keys};
	return bootcheck_slot(&c, ret);
}

/* The newest history entry of d. */
static int last_history(const struct helpers_device *d, struct history_entry *ret)
{
	static struct history_entry e[HISTORY_ENTRIES];
	struct state_dev dev;
	size_t n = 0;
	int r = state_open(d->state, false, &dev);

	if (r < 0)
		return r;
	r = history_read(&dev, e, HISTORY_ENTRIES, &n);
	state_close(&dev);
	if (r == 0 && n == 0)
		r = -ENOENT;
	if (r == 0)
		*ret = e[n - 1];
	return r;
}

TEST(bootcheck_verity_slot_verifies_and_an_old_one_is_unverified)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;
	struct bootcheck bc;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(install_confirmed(&d, "v2", 2) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.active, 1);
	CHECK_EQ(st.slot[1].verity, 1);
	CHECK_EQ(st.slot[0].verity, 0);
	CHECK_EQ(check(&d, 1, &bc), 0);
	CHECK_EQ(bc.version, 2);
	CHECK_EQ(bc.bad_block, BOOTCHECK_NO_BLOCK);
	CHECK_EQ(strcmp(bc.device, d.slot[1]), 0);
	/* The factory slot has no footer and the record expects none. */
	CHECK_EQ(check(&d, 0, &bc), BOOTCHECK_UNVERIFIED);
	CHECK_EQ(strcmp(bc.device, d.slot[0]), 0);
}

TEST(bootcheck_names_the_damaged_data_block_or_hash_block)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct bootcheck bc;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(install_confirmed(&d, "v2", 2) == 0);
	/* Data block 37, a byte in its middle. */
	REQUIRE(helpers_flip_byte(d.slot[1], 37 * VERITY_BLOCK_SIZE + 2000) == 0);
	CHECK_EQ(check(&d, 1, &bc), -EBADMSG);
	CHECK_EQ(bc.bad_block, 37);
	CHECK(strstr(fail_reason(), "slot B: data block 37 (offset 151552) fails its hash"));
	REQUIRE(helpers_flip_byte(d.slot[1], 37 * VERITY_BLOCK_SIZE + 2000) == 0);
	CHECK_EQ(check(&d, 1, &bc), 0);
	/* The last data block (74 of 75). */
	REQUIRE(helpers_flip_byte(d.slot[1], HELPERS_IMAGE_SIZE - 1) == 0);
	CHECK_EQ(check(&d, 1, &bc), -EBADMSG);
	CHECK_EQ(bc.bad_block, 74);
	REQUIRE(helpers_flip_byte(d.slot[1], HELPERS_IMAGE_SIZE - 1) == 0);
	/* The tree (one block for 75 data blocks): the hash block is named, no data block. */
	REQUIRE(helpers_flip_byte(d.slot[1], HELPERS_IMAGE_SIZE + 40) == 0);
	CHECK_EQ(check(&d, 1, &bc), -EBADMSG);
	CHECK_EQ(bc.bad_block, BOOTCHECK_NO_BLOCK);
	CHECK_EQ(bc.bad_hash, 0);
	CHECK(strstr(fail_reason(), "hash block 0 of the verity tree is damaged"));
}

TEST(bootcheck_refuses_a_footer_that_is_missing_forged_or_older)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_key other;
	struct bootcheck bc;
	uint8_t zero[FOOTER_LOCATOR_SIZE] = {0};
	uint8_t *slot3 = NULL;
	size_t len;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(install_confirmed(&d, "v2", 2) == 0);
	REQUIRE(install_confirmed(&d, "v3", 3) == 0); /* slot A */
	CHECK_EQ(check(&d, 0, &bc), 0);
	REQUIRE(helpers_read_file(d.slot[0], &slot3, &len) == 0);
	/* Slot A's footer erased: the record says it had one. */
	REQUIRE(helpers_poke(d.slot[0], HELPERS_SLOT_SIZE - FOOTER_LOCATOR_SIZE, zero,
	                     sizeof(zero)) == 0);
	CHECK_EQ(check(&d, 0, &bc), -EBADMSG);
	CHECK(strstr(fail_reason(), "no verity footer, but it was installed with one"));
	/* Slot B's whole content (an older, validly signed version 2) written over slot A. */
	REQUIRE(helpers_copy_file(d.slot[1], d.slot[0]) == 0);
	CHECK_EQ(check(&d, 0, &bc), -ESTALE);
	CHECK(strstr(fail_reason(), "its footer is version 2, the record says 3"));
	/* A bundle signed by a key the device does not trust, installed over slot A by hand. */
	REQUIRE(helpers_keypair("other", &other) == 0);
	REQUIRE(helpers_verity_update("v3x", other.priv, 3, HELPERS_IMAGE_SIZE) == 0);
	REQUIRE(helpers_poke(d.slot[0], 0, slot3, len) == 0);
	struct bundle b;
	REQUIRE(bundle_open(test_path("v3x.sota"), &b) == 0);
	int fd = open(d.slot[0], O_RDWR);
	REQUIRE(fd >= 0);
	CHECK_EQ(footer_write(fd, HELPERS_SLOT_SIZE, &b), 0);
	close(fd);
	bundle_close(&b);
	CHECK(check(&d, 0, &bc) < 0);
	CHECK(strstr(fail_reason(), "its footer's signature"));
	free(slot3);
}

/* apply_run() on d, and what it says to mount. */
static int boot(struct helpers_device *d, uint8_t *slot, char *device, size_t size)
{
	d->cfg.device_out = device;
	d->cfg.device_out_size = size;
	int r = helpers_apply(d, slot);
	d->cfg.device_out = NULL;
	return r;
}

TEST(apply_damaged_trial_slot_is_rolled_back_at_once)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;
	struct history_entry e;
	char device[128];
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_verity_update("v2", d.key.priv, 2, HELPERS_IMAGE_SIZE) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	CHECK_EQ(boot(&d, &slot, device, sizeof(device)), 0);
	CHECK_EQ(slot, 1);
	CHECK_EQ(strcmp(device, d.slot[1]), 0);
	/* Before the next boot, a byte of block 10 of the trial slot changes. */
	REQUIRE(helpers_flip_byte(d.slot[1], 10 * VERITY_BLOCK_SIZE) == 0);
	CHECK_EQ(boot(&d, &slot, device, sizeof(device)), 0);
	CHECK_EQ(slot, 0);
	CHECK_EQ(strcmp(device, d.slot[0]), 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 0);
	CHECK_EQ(st.slot[1].status, SLOT_BAD);
	CHECK_EQ(st.last_error, EBADMSG);
	CHECK(strstr(st.last_reason,
	             "slot B failed its check on try 2 of 3, rolled back to slot A"));
	CHECK(strstr(st.last_reason, "data block 10 "));
	REQUIRE(last_history(&d, &e) == 0);
	CHECK_EQ(e.kind, HISTORY_DAMAGED);
	CHECK_EQ(e.slot, 1);
}

TEST(apply_damaged_active_slot_gives_way_to_the_other_good_verified_one)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;
	struct history_entry e;
	char device[128];
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(install_confirmed(&d, "v2", 2) == 0);
	REQUIRE(install_confirmed(&d, "v3", 3) == 0);
	CHECK_EQ(boot(&d, &slot, device, sizeof(device)), 0);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_flip_byte(d.slot[0], 3 * VERITY_BLOCK_SIZE + 5) == 0);
	CHECK_EQ(boot(&d, &slot, device, sizeof(device)), 0);
	CHECK_EQ(slot, 1);
	CHECK_EQ(strcmp(device, d.slot[1]), 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 1);
	CHECK_EQ(st.slot[0].status, SLOT_BAD);
	CHECK_EQ(st.slot[1].status, SLOT_GOOD);
	CHECK(strstr(st.last_reason, "slot A damaged, slot B (version 2) active now: slot A: data "
	                             "block 3 (offset 12288) fails its hash"));
	REQUIRE(last_history(&d, &e) == 0);
	CHECK_EQ(e.kind, HISTORY_DAMAGED);
	CHECK_EQ(e.slot, 0);
	/* The next boot: slot B, nothing more to decide. */
	uint64_t seq = st.seq;
	CHECK_EQ(boot(&d, &slot, device, sizeof(device)), 0);
	CHECK_EQ(slot, 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.seq, seq);
}

TEST(apply_damaged_active_slot_without_a_verified_fallback_is_not_booted_unchecked)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;
	char device[128];
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(install_confirmed(&d, "v2", 2) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	uint64_t seq = st.seq;
	REQUIRE(helpers_flip_byte(d.slot[1], 0) == 0);
	/* Slot A is the factory's, unverified: no fallback. Without a mapping: nothing boots. */
	CHECK_EQ(boot(&d, &slot, device, sizeof(device)), 0);
	CHECK_EQ(slot, 1);
	CHECK_EQ(strcmp(device, "none"), 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.seq, seq);
	CHECK_EQ(st.active, 1);
}

/* No trusted keys: a verity slot cannot be verified, nothing is judged, nothing boots. */
TEST(apply_without_keys_judges_no_verity_slot_and_boots_none)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record before, after;
	char device[128];
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(install_confirmed(&d, "v2", 2) == 0);
	REQUIRE(helpers_read_state(d.state, &before) == 0);
	d.cfg.keys = NULL;
	boot(&d, &slot, device, sizeof(device));
	CHECK_EQ(slot, 1);
	CHECK_EQ(strcmp(device, "none"), 0);
	REQUIRE(helpers_read_state(d.state, &after) == 0);
	CHECK_EQ(after.active, 1);
	CHECK_EQ(after.slot[1].status, SLOT_GOOD);
	CHECK_EQ(after.slot[0].status, SLOT_GOOD);
	CHECK_EQ(after.last_error, before.last_error);
}
