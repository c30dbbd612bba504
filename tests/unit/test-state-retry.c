/* SPDX-License-Identifier: MIT */
/* Transient I/O errors on the state device: retried, so they change nothing. */
#include <errno.h>

#include "helpers.h"
#include "state.h"
#include "test.h"

TEST(state_commit_retries_a_transient_write_error)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_fault f = {.op = IO_WRITE, .suffix = "/state", .nth = 1, .error = -EIO};
	struct state_record st, got;
	struct state_dev dev;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(state_open(d.state, true, &dev) == 0);
	REQUIRE(state_load(&dev, &st) == 0);
	uint64_t seq = st.seq;
	st.version_floor = 7;
	helpers_fault_set(&f);
	CHECK_EQ(state_commit(&dev, &st), 0);
	helpers_fault_set(NULL);
	state_close(&dev);
	CHECK_EQ(f.failed, 1);
	CHECK_EQ(st.seq, seq + 1);
	REQUIRE(helpers_read_state(d.state, &got) == 0);
	CHECK_EQ(got.seq, seq + 1);
	CHECK_EQ(got.version_floor, 7);
}

TEST(state_load_retries_a_transient_read_error)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_fault f = {.op = IO_READ, .suffix = "/state", .nth = 1, .error = -EIO};
	struct state_record st, got;
	struct state_dev dev;

	/* Two commits, so copy 0 (the one read first) holds the newest record. */
	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	st.version_floor = 5;
	REQUIRE(helpers_write_state(d.state, &st) == 0);
	REQUIRE(state_open(d.state, false, &dev) == 0);
	helpers_fault_set(&f);
	CHECK_EQ(state_load(&dev, &got), 0);
	helpers_fault_set(NULL);
	state_close(&dev);
	CHECK_EQ(f.failed, 1);
	CHECK_EQ(got.seq, st.seq);
	CHECK_EQ(got.version_floor, 5);
}
