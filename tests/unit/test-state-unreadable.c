/* SPDX-License-Identifier: MIT */
/*
 * A copy of the record that cannot be read is not a copy that is invalid
 * (issue 10, defect 3): the applier must never commit over it, and boots the
 * readable copy's active slot without deciding anything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "boot.h"
#include "fail.h"
#include "helpers.h"
#include "history.h"
#include "recover.h"
#include "test.h"

/* The raw 4096-byte block of copy i. */
static int read_copy(const char *path, int i, uint8_t block[STATE_BLOCK_SIZE])
{
	uint8_t *all;
	size_t len;
	int r = helpers_read_file(path, &all, &len);

	if (r < 0)
		return r;
	memcpy(block, all + (i ? HELPERS_STATE_SIZE / 2 : 0), STATE_BLOCK_SIZE);
	free(all);
	return 0;
}

/*
 * tries = 1: install, the try counted, mark-good: the confirmed record (IDLE,
 * active B) is in copy 0, the TRYING one with no try left in copy 1.
 */
static void confirm_with_one_try(struct helpers_device *d)
{
	struct state_record st, next;
	uint8_t slot = 9;

	d->cfg.tries = 1;
	REQUIRE(helpers_update("v2", d->key.priv, 2) == 0);
	REQUIRE(helpers_drop(d, "v2") == 0);
	REQUIRE(helpers_apply(d, &slot) == 0);
	REQUIRE(slot == 1);
	REQUIRE(helpers_read_state(d->state, &st) == 0);
	REQUIRE(st.state == STATE_TRYING && st.tries_left == 0);
	REQUIRE(helpers_mark_good(d, 1) == 0); /* which removes the applied bundle */
	REQUIRE(helpers_read_state(d->state, &next) == 0);
	REQUIRE(next.state == STATE_IDLE && next.active == 1);
	REQUIRE(next.seq % 2 == 1); /* seq 1 in copy 0, 2 in copy 1, ...: odd is copy 0 */
	REQUIRE(!helpers_exists(test_path("data/systemota/staged/update.sota")));
}

TEST(state_unreadable_newest_copy_is_never_overwritten)
{
	_cleanup_device_ struct helpers_device d = {0};
	/* Every read of copy 0 fails, through all of the load's retries. */
	struct helpers_fault f = {.op = IO_READ,
	                          .suffix = "/state",
	                          .nth = 1,
	                          .count = STATE_READ_ATTEMPTS,
	                          .error = -EIO};
	uint8_t before[2][STATE_BLOCK_SIZE], after[2][STATE_BLOCK_SIZE];
	struct state_record c0, c1, st;
	uint8_t slot = 9;

	state_set_retry_delay(0);
	REQUIRE(helpers_device(&d) == 0);
	confirm_with_one_try(&d);
	for (int i = 0; i < 2; i++)
		REQUIRE(read_copy(d.state, i, before[i]) == 0);
	REQUIRE(state_decode(before[0], STATE_RECORD_SIZE, &c0) == 0);
	REQUIRE(state_decode(before[1], STATE_RECORD_SIZE, &c1) == 0);
	REQUIRE(c0.state == STATE_IDLE && c0.active == 1);
	REQUIRE(c1.state == STATE_TRYING && c1.tries_left == 0);

	helpers_fault_set(&f);
	int r = helpers_apply(&d, &slot);
	helpers_fault_set(NULL);
	CHECK_EQ(f.failed, STATE_READ_ATTEMPTS);
	CHECK(r < 0);
	/* The readable copy's active slot, nothing decided: no rollback, no commit. */
	CHECK_EQ(slot, 0);
	for (int i = 0; i < 2; i++) {
		REQUIRE(read_copy(d.state, i, after[i]) == 0);
		CHECK(memcmp(before[i], after[i], STATE_BLOCK_SIZE) == 0);
	}
	REQUIRE(state_decode(after[0], STATE_RECORD_SIZE, &c0) == 0);
	CHECK_EQ(c0.state, STATE_IDLE);
	CHECK_EQ(c0.active, 1);
	CHECK_EQ(c0.slot[1].status, SLOT_GOOD);
	/* Why, for the running system: the history's newest entry says it. */
	struct history_entry e[HISTORY_ENTRIES];
	struct state_dev dev;
	size_t n = 0;
	REQUIRE(state_open(d.state, false, &dev) == 0);
	REQUIRE(history_read(&dev, e, HISTORY_ENTRIES, &n) == 0);
	state_close(&dev);
	REQUIRE(n > 0);
	CHECK_EQ(e[n - 1].kind, HISTORY_NOTE);
	CHECK(strstr(e[n - 1].reason, "copy 0 unreadable") != NULL);

	/* Copy 0 reads again: the confirmed update is still there, slot B boots. */
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.active, 1);
	CHECK_EQ(st.seq, c0.seq);
}

TEST(state_unreadable_copy_refuses_a_commit_over_it)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_fault f = {.op = IO_READ,
	                          .suffix = "/state",
	                          .nth = 1,
	                          .count = STATE_READ_ATTEMPTS,
	                          .error = -EIO};
	uint8_t before[STATE_BLOCK_SIZE], after[STATE_BLOCK_SIZE];
	struct state_record st;
	struct state_dev dev;

	/* Copy 0 holds seq 1 (the fresh record); one more commit puts seq 2 in copy 1. */
	state_set_retry_delay(0);
	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	REQUIRE(helpers_write_state(d.state, &st) == 0);
	REQUIRE(read_copy(d.state, 0, before) == 0);
	REQUIRE(state_open(d.state, true, &dev) == 0);
	helpers_fault_set(&f);
	CHECK_EQ(state_load(&dev, &st), 0);
	helpers_fault_set(NULL);
	CHECK_EQ(state_unreadable(&dev), 0);
	CHECK_EQ(dev.copy[1], STATE_COPY_VALID);
	CHECK_EQ(dev.copy_error[0], -EIO);
	/* Any transition (mark-good, a rollback) would go to copy 0: refused, with the reason. */
	CHECK_EQ(state_commit(&dev, &st), -EIO);
	CHECK(strstr(fail_reason(), "copy 0 could not be read") != NULL);
	state_close(&dev);
	REQUIRE(read_copy(d.state, 0, after) == 0);
	CHECK(memcmp(before, after, sizeof(before)) == 0);
}

TEST(state_load_retries_with_a_growing_pause)
{
	_cleanup_device_ struct helpers_device d = {0};
	/* Four failures: back-to-back retries (the old three) would have given up. */
	struct helpers_fault f = {.op = IO_READ,
	                          .suffix = "/state",
	                          .nth = 1,
	                          .count = STATE_READ_ATTEMPTS - 1,
	                          .error = -EIO};
	struct state_record st;
	struct state_dev dev;
	struct timespec t0, t1;

	state_set_retry_delay(1);
	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(state_open(d.state, false, &dev) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	helpers_fault_set(&f);
	CHECK_EQ(state_load(&dev, &st), 0);
	helpers_fault_set(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	state_set_retry_delay(0);
	CHECK_EQ(state_unreadable(&dev), -1);
	CHECK_EQ(dev.current, 0);
	state_close(&dev);
	/* 1 + 2 + 4 + 8 ms of pauses. */
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 15);
}

/* boot-slot (the mount hook's fallback) without a record: the slot that checks out, not A. */
TEST(state_lost_boot_slot_is_the_slot_that_checks_out)
{
	_cleanup_device_ struct helpers_device d = {0};
	static const uint8_t ext4_magic[2] = {0x53, 0xef};
	const char *slots[2];
	uint8_t slot = 9;

	state_set_retry_delay(0);
	REQUIRE(helpers_device(&d) == 0);
	slots[0] = d.slot[0];
	slots[1] = d.slot[1];
	REQUIRE(helpers_image(d.state, HELPERS_STATE_SIZE, 99) == 0);
	/* Neither slot holds a filesystem: A, but only as a guess. */
	CHECK_EQ(recover_choose(d.state, slots, &slot), 0);
	CHECK_EQ(slot, 0);
	FILE *f = fopen(d.slot[1], "r+b");
	REQUIRE(f);
	CHECK(fseek(f, 1080, SEEK_SET) == 0 && fwrite(ext4_magic, 1, 2, f) == 2);
	fclose(f);
	CHECK_EQ(recover_choose(d.state, slots, &slot), 1);
	CHECK_EQ(slot, 1);
	/* A squashfs in A too: both check out, nothing tells them apart: A. */
	f = fopen(d.slot[0], "r+b");
	REQUIRE(f);
	CHECK(fwrite("hsqs", 1, 4, f) == 4);
	fclose(f);
	CHECK_EQ(recover_choose(d.state, slots, &slot), 1);
	CHECK_EQ(slot, 0);
	/* The state device missing altogether: the slots alone decide. */
	CHECK_EQ(recover_choose(test_path("no-such-state"), slots, &slot), 1);
	CHECK_EQ(slot, 0);
}
