/* SPDX-License-Identifier: MIT */
/* Anti-rollback: the version floor a confirmed bundle raises, and allowed downgrades. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "boot.h"
#include "helpers.h"
#include "history.h"
#include "test.h"
#include "tool.h"

/* Installs and confirms path's bundle on d (trial boot, then mark-good from B). */
static void install_and_confirm(struct helpers_device *d, uint8_t to)
{
	uint8_t slot = 9;

	REQUIRE(helpers_apply(d, &slot) == 0);
	CHECK_EQ(slot, to);
	REQUIRE(helpers_mark_good(d, to) == 0);
}

TEST(rollback_floor_rises_when_its_version_is_confirmed)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct create_options o;
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	/* Version 5 with floor 4: while on trial, the floor is still 0. */
	REQUIRE(helpers_image(test_path("v5.img"), HELPERS_IMAGE_SIZE, 5) == 0);
	helpers_bundle_options(&o, test_path("v5.img"), test_path("v5.sota"), d.key.priv, 5);
	o.floor = 4;
	REQUIRE(create_bundle(&o) == 0);
	REQUIRE(helpers_copy_file(test_path("v5.sota"),
	                          test_path("data/systemota/staged/update.sota")) == 0);
	REQUIRE(helpers_apply(&d, &slot) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.version_floor, 0);
	CHECK_EQ(st.target_floor, 4);
	REQUIRE(helpers_mark_good(&d, 1) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.version_floor, 4);

	/* Even a device-side downgrade cannot go below it: version 3 is refused. */
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	st.allow_version = 3;
	REQUIRE(helpers_write_state(d.state, &st) == 0);
	REQUIRE(helpers_copy_file(test_path("v3.sota"),
	                          test_path("data/systemota/staged/update.sota")) == 0);
	CHECK_EQ(helpers_apply(&d, &slot), -ESTALE);
	CHECK_EQ(slot, 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK(strstr(st.last_reason, "below the minimum version 4") != NULL);
}

TEST(rollback_downgrade_only_when_the_device_allows_exactly_that_version)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	REQUIRE(helpers_drop(&d, "v3") == 0);
	install_and_confirm(&d, 1);

	/* Version 2 after 3: refused. */
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	CHECK_EQ(helpers_apply(&d, &slot), -ESTALE);
	CHECK_EQ(slot, 1);

	/* The device allows version 1, not 2: still refused (a new copy, judged again). */
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	st.allow_version = 1;
	REQUIRE(helpers_write_state(d.state, &st) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	CHECK_EQ(helpers_apply(&d, &slot), -ESTALE);

	/* It allows exactly 2: installed into A, and the permission is used up. */
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	st.allow_version = 2;
	REQUIRE(helpers_write_state(d.state, &st) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	CHECK_EQ(st.target_version, 2);
	CHECK_EQ(st.allow_version, 0);
}

/* The kind of the newest history entry, 0 if none. */
static uint8_t last_history_kind(const char *state)
{
	struct history_entry e[HISTORY_ENTRIES];
	struct state_dev dev;
	size_t n = 0;

	if (state_open(state, false, &dev) < 0)
		return 0;
	int r = history_read(&dev, e, HISTORY_ENTRIES, &n);
	state_close(&dev);
	return r == 0 && n ? e[n - 1].kind : 0;
}

/*
 * Issue 10, defect 4: B confirmed at version 2 (floor 2), A half-written
 * (garbage where its superblock would be), both record copies damaged. The
 * applier must boot B, make B active, keep the floor, and refuse installs
 * until the versions are known again.
 */
TEST(rollback_lost_record_keeps_the_good_slot_and_the_floor)
{
	_cleanup_device_ struct helpers_device d = {0};
	static const uint8_t ext4_magic[2] = {0x53, 0xef};
	struct create_options o;
	struct state_record st;
	uint8_t garbage[8192];
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_image(test_path("v2.img"), HELPERS_IMAGE_SIZE, 2) == 0);
	/* The image is an ext4 filesystem, as far as its superblock's magic tells. */
	REQUIRE(helpers_poke(test_path("v2.img"), 1080, ext4_magic, 2) == 0);
	helpers_bundle_options(&o, test_path("v2.img"), test_path("v2.sota"), d.key.priv, 2);
	o.floor = 2;
	REQUIRE(create_bundle(&o) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	REQUIRE(helpers_apply(&d, &slot) == 0 && slot == 1);
	REQUIRE(helpers_mark_good(&d, 1) == 0); /* the record, the history, the clean-up */
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	REQUIRE(st.version_floor == 2);
	REQUIRE(!helpers_exists(test_path("data/systemota/staged/update.sota")));

	/* A half-written: its first blocks garbage. Both copies: a flipped byte (CRC). */
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)(i * 131 + 7);
	REQUIRE(helpers_poke(d.slot[0], 0, garbage, sizeof(garbage)) == 0);
	REQUIRE(helpers_flip_byte(d.state, 100) == 0);
	REQUIRE(helpers_flip_byte(d.state, HELPERS_STATE_SIZE / 2 + 100) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == -ENODATA);

	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 1);
	CHECK(st.version_floor >= 2);
	CHECK_EQ(st.slot[1].version, 2);
	CHECK(st.slot[0].status != SLOT_GOOD);
	CHECK_EQ(st.flags, STATE_FLAG_VERSIONS_UNKNOWN);
	CHECK_EQ(st.last_error, EBADMSG);
	CHECK(strstr(st.last_reason, "versions unknown") != NULL);
	CHECK(last_history_kind(d.state) == HISTORY_REINIT);

	/* A validly signed old bundle (and even a newer one) is refused, with the reason. */
	REQUIRE(helpers_update("v1", d.key.priv, 1) == 0);
	REQUIRE(helpers_drop(&d, "v1") == 0);
	CHECK_EQ(helpers_apply(&d, &slot), -ESTALE);
	CHECK_EQ(slot, 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 1);
	CHECK(strstr(st.last_reason, "versions") != NULL);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	REQUIRE(helpers_drop(&d, "v3") == 0);
	CHECK_EQ(helpers_apply(&d, &slot), -ESTALE);
	CHECK_EQ(slot, 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);

	/* The operator re-states the versions: installs are judged again, v3 goes into A. */
	struct cli c = {.active = 1, .slot_version = 2, .force = true, .create = {.floor = 2}};
	char *argv[] = {"init", NULL};
	snprintf(c.cfg.state, sizeof(c.cfg.state), "%s", d.state);
	REQUIRE(tool_state(&c, 1, argv) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.flags, 0);
	CHECK_EQ(st.version_floor, 2);
	REQUIRE(helpers_drop(&d, "v3") == 0);
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	CHECK_EQ(st.target_version, 3);
}
