/* SPDX-License-Identifier: MIT */
/*
 * Regressions found in review: each test is the reproducer of a bug that was
 * fixed, so that it stays fixed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "apply.h"
#include "boot.h"
#include "bundle.h"
#include "helpers.h"
#include "stage.h"
#include "staged.h"
#include "state.h"
#include "test.h"

/* Two valid bundles that each fail their trial were installed in turn forever. */
TEST(regress_two_failing_updates_are_not_installed_in_turn)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_fault slot_b_writes = {.op = IO_WRITE, .suffix = "/slot-b"};
	struct state_record st;
	uint8_t slot = 9;
	int installs = 0;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	REQUIRE(helpers_copy_file(test_path("v2.sota"),
	                          test_path("data/systemota/staged/a.sota")) == 0);
	REQUIRE(helpers_copy_file(test_path("v3.sota"),
	                          test_path("data/systemota/staged/b.sota")) == 0);
	helpers_fault_set(&slot_b_writes);
	for (int boot = 1; boot <= 40; boot++) {
		int before = slot_b_writes.calls;
		helpers_apply(&d, &slot);
		if (slot_b_writes.calls > before)
			installs++;
	}
	helpers_fault_set(NULL);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	/* Each installed once, tried, rolled back; then neither again. */
	CHECK_EQ(installs, 2);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 0);
}

/* A transient failure to size the target slot refused a good bundle for good. */
TEST(regress_transient_slot_error_does_not_refuse_a_good_bundle)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;
	uint8_t slot = 9;
	char saved[HELPERS_PATH_MAX];

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	/* Slot B device not there yet (e.g. slow probe): rename it away for one boot. */
	snprintf(saved, sizeof(saved), "%s.away", d.slot[1]);
	REQUIRE(rename(d.slot[1], saved) == 0);
	helpers_apply(&d, &slot);
	REQUIRE(rename(saved, d.slot[1]) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.last_error, EIO);
	/* Device healthy again: the update must now be installed. */
	helpers_apply(&d, &slot);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	CHECK_EQ(slot, 1);
}

/* With more than 4 *.sota entries, the 4 considered were in directory order, not name order. */
TEST(regress_staged_list_takes_the_first_four_by_name)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct staged_list l;
	char name[64];

	REQUIRE(helpers_device(&d) == 0);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "%s/f%02d.sota", d.dropin, i);
		int fd = open(name, O_CREAT | O_WRONLY, 0644);
		REQUIRE(fd >= 0);
		close(fd);
	}
	REQUIRE(staged_list(d.data, HELPERS_DROPIN, NULL, &l) == 0);
	CHECK_EQ(l.n, 4);
	CHECK(strcmp(l.files[0].name, "f00.sota") == 0 && strcmp(l.files[3].name, "f03.sota") == 0);
	staged_list_free(&l);
}

/* Junk *.sota entries could hide a bundle staged with `systemota stage`. */
TEST(regress_stage_is_not_hidden_by_junk_files)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;
	uint8_t slot = 9;
	char name[HELPERS_PATH_MAX];

	REQUIRE(helpers_device(&d) == 0);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "%s/f%02d.sota", d.dropin, i);
		int fd = open(name, O_CREAT | O_WRONLY, 0644);
		REQUIRE(fd >= 0);
		close(fd);
	}
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	REQUIRE(stage_bundle(test_path("v2.sota"), d.data, HELPERS_DROPIN, d.keys,
	                     HELPERS_COMPATIBLE, &st, HELPERS_SLOT_SIZE, NULL) == 0);
	for (int boot = 1; boot <= 3; boot++)
		helpers_apply(&d, &slot);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	/* stage removed every other *.sota entry. */
	CHECK(!helpers_exists(test_path("data/systemota/staged/f00.sota")));
}

/* Two entries that cannot be opened (UNIX sockets) made the record be rewritten every boot. */
TEST(regress_two_unreadable_entries_do_not_commit_every_boot)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_fault state_writes = {.op = IO_WRITE, .suffix = "/state"};
	uint8_t slot = 9;
	const char *names[] = {"a.sota", "b.sota"};

	REQUIRE(helpers_device(&d) == 0);
	for (int i = 0; i < 2; i++) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", d.dropin, names[i]);
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		REQUIRE(s >= 0);
		REQUIRE(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
		close(s);
	}
	helpers_apply(&d, &slot); /* first boot: may record */
	helpers_fault_set(&state_writes);
	for (int boot = 2; boot <= 5; boot++) {
		helpers_apply(&d, &slot);
		CHECK_EQ(slot, 0);
	}
	helpers_fault_set(NULL);
	CHECK_EQ(state_writes.calls, 0);
}

/* The give-up reason quoted a stale, unrelated last_reason. */
TEST(regress_give_up_reason_is_not_stale)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_key other;
	struct state_record st, next;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_keypair("other", &other) == 0);
	REQUIRE(helpers_update("evil", other.priv, 2) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_copy_file(test_path("evil.sota"),
	                          test_path("data/systemota/staged/a.sota")) == 0);
	helpers_apply(&d, &slot); /* a.sota rejected: ENOKEY */
	REQUIRE(helpers_copy_file(test_path("v2.sota"),
	                          test_path("data/systemota/staged/b.sota")) == 0);
	/* v2's install begins; then three power cuts mid-write (simulated by forcing WRITING back).
	 */
	for (int cut = 0; cut < 4; cut++) {
		REQUIRE(helpers_read_state(d.state, &st) == 0);
		if (st.state ==
		    STATE_TRYING) { /* undo the finished install: as if cut before TRYING */
			next = st;
			next.state = STATE_WRITING;
			next.tries_left = 0;
			next.apply_attempts = cut;
			next.slot[1].status = SLOT_INCOMPLETE;
			REQUIRE(helpers_write_state(d.state, &next) == 0);
		}
		helpers_apply(&d, &slot);
	}
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK(strstr(st.last_reason, "not trusted") == NULL);
}
