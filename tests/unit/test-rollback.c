/* SPDX-License-Identifier: MIT */
/* Anti-rollback: the version floor a confirmed bundle raises, and allowed downgrades. */
#include <errno.h>
#include <string.h>

#include "apply.h"
#include "boot.h"
#include "helpers.h"
#include "test.h"

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
