/* SPDX-License-Identifier: MIT */
/*
 * The data checkpoint's transitions (boot.h, docs/data-rollback.md), over
 * every state the record can be in with every checkpoint state: the one
 * property that matters is that no transition lets the old slot meet the new
 * data. A transaction that ends unconfirmed leaves its checkpoint MERGING
 * (or says the data was not rolled back); only mark-good drops it.
 */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "record-eq.h"
#include "state.h"
#include "test.h"
#include "util.h"

#define CP_RECORDS 256

/* Every state (IDLE, WRITING attempts 1..max, TRYING tries 0..3) with every data_cp. */
static size_t gen(struct state_record *out)
{
	size_t n = 0;

	for (uint8_t cp = DATA_CP_NONE; cp <= DATA_CP_OVERFLOWED; cp++) {
		for (uint8_t active = 0; active < 2; active++) {
			struct state_record r;
			state_init(&r);
			r.active = active;
			r.target = !active;
			r.slot[active].version = 4;
			r.slot[active].status = SLOT_GOOD;
			r.target_version = 5;
			r.cp_version = cp ? 5 : 0;
			r.data_cp = cp;
			memset(r.txn, 0x5a, sizeof(r.txn));
			out[n++] = r;
			r.state = STATE_WRITING;
			r.slot[!active].status = SLOT_INCOMPLETE;
			for (uint8_t a = 1; a <= BOOT_MAX_APPLY_ATTEMPTS; a++) {
				out[n] = r;
				out[n++].apply_attempts = a;
			}
			r.state = STATE_TRYING;
			r.slot[!active].status = SLOT_UNCONFIRMED;
			r.slot[!active].version = 5;
			r.max_tries = 3;
			for (uint8_t t = 0; t <= 3; t++) {
				out[n] = r;
				out[n++].tries_left = t;
			}
		}
	}
	return n;
}

static int violations;

/* A transaction that ended (IDLE from WRITING or TRYING): where did its data go? */
static void check_end(const struct state_record *cur, const struct state_record *next,
                      const char *what)
{
	uint8_t want;

	if (cur->state == STATE_IDLE || next->state != STATE_IDLE)
		return;
	if (next->active != cur->active) /* confirmed: the trial's data is the data */
		want = DATA_CP_NONE;
	else if (cur->data_cp == DATA_CP_ACTIVE || cur->data_cp == DATA_CP_MERGING)
		want = DATA_CP_MERGING;
	else
		want = DATA_CP_NONE;
	if (next->data_cp != want) {
		violations++;
		fprintf(stderr, "  %s from %s/%s: data_cp %s, want %s\n", what,
		        state_kind_name(cur->state), state_data_cp_name(cur->data_cp),
		        state_data_cp_name(next->data_cp), state_data_cp_name(want));
	}
	if (cur->data_cp == DATA_CP_OVERFLOWED && next->active == cur->active &&
	    !strstr(next->last_reason, "data NOT rolled back")) {
		violations++;
		fprintf(stderr, "  %s: an overflowed checkpoint ended silently: '%s'\n", what,
		        next->last_reason);
	}
}

TEST(checkpoint_no_transition_puts_the_old_slot_on_new_data)
{
	struct state_record recs[CP_RECORDS], next;
	size_t n = gen(recs);
	uint8_t slot;

	violations = 0;
	for (size_t i = 0; i < n; i++) {
		const struct state_record *c = &recs[i];
		if (boot_choose(c, &next, &slot) > 0)
			check_end(c, &next, "choose");
		for (uint8_t b = 0; b < 2; b++) {
			if (boot_mark_good(c, b, &next) > 0)
				check_end(c, &next, "mark-good");
			if (boot_mark_bad(c, b, NULL, &next) > 0)
				check_end(c, &next, "mark-bad");
		}
		if (boot_try_failed(c, -ELOOP, "kexec refused", &next) > 0)
			check_end(c, &next, "try-failed");
		if (c->state == STATE_WRITING) {
			boot_resume_install(c, &next);
			check_end(c, &next, "resume-install");
			boot_install_failed(c, -EIO, "write failed", c->txn_file, &next);
			check_end(c, &next, "install-failed");
			boot_hook_failed(c, -ECANCELED, "hook failed", &next);
			check_end(c, &next, "hook-failed");
		}
	}
	CHECK_EQ(violations, 0);
}

TEST(checkpoint_begin_only_from_writing_without_one)
{
	struct state_record recs[CP_RECORDS], next;
	size_t n = gen(recs);

	for (size_t i = 0; i < n; i++) {
		struct state_record want = recs[i];
		boot_checkpoint_begin(&recs[i], &next);
		if (recs[i].state == STATE_WRITING && recs[i].data_cp == DATA_CP_NONE) {
			want.data_cp = DATA_CP_ACTIVE;
			want.cp_version = recs[i].target_version;
		}
		CHECK(record_eq(&next, &want));
	}
}

TEST(checkpoint_resolve_merges_an_active_one_outside_a_trial)
{
	struct state_record recs[CP_RECORDS], next;
	size_t n = gen(recs);

	for (size_t i = 0; i < n; i++) {
		const struct state_record *c = &recs[i];
		struct state_record want = *c;
		int r = boot_checkpoint_resolve(c, &next);
		bool merge = c->data_cp == DATA_CP_ACTIVE && c->state != STATE_TRYING;
		CHECK_EQ(r, merge ? 1 : 0);
		if (merge)
			want.data_cp = DATA_CP_MERGING;
		CHECK(record_eq(&next, &want));
	}
}

TEST(checkpoint_lost_says_so)
{
	struct state_record recs[CP_RECORDS], next;
	size_t n = gen(recs);

	for (size_t i = 0; i < n; i++) {
		const struct state_record *c = &recs[i];
		int r = boot_checkpoint_lost(c, "COW store full", &next);
		if (c->data_cp == DATA_CP_ACTIVE && c->state == STATE_TRYING) {
			CHECK_EQ(r, 1);
			CHECK_EQ(next.data_cp, DATA_CP_OVERFLOWED);
			CHECK_EQ(next.state, STATE_TRYING); /* the trial goes on */
			CHECK(strstr(next.last_reason, "cannot be rolled back") != NULL);
		} else if (c->data_cp == DATA_CP_MERGING) {
			CHECK_EQ(r, 1);
			CHECK_EQ(next.data_cp, DATA_CP_NONE);
			CHECK(strstr(next.last_reason, "data NOT rolled back") != NULL);
		} else {
			CHECK_EQ(r, 0);
			CHECK(record_eq(&next, c));
		}
		if (r)
			CHECK_EQ(next.last_error, ENOSPC);
	}
}

/* Commits as a device does: encoded, decoded, sequence + 1. */
static void commit(struct state_record *dev, const struct state_record *next)
{
	uint8_t buf[STATE_RECORD_SIZE];
	struct state_record n = *next;

	n.seq = dev->seq + 1;
	state_encode(&n, buf);
	REQUIRE(state_decode(buf, sizeof(buf), dev) == 0);
}

TEST(checkpoint_whole_trial_that_fails_merges_then_forgets)
{
	struct state_record dev, next;
	struct boot_install in = {.version = 9, .label = "9.0"};
	uint8_t slot;

	state_init(&dev);
	dev.slot[0].status = SLOT_GOOD;
	memset(in.txn, 0x77, sizeof(in.txn));
	boot_begin_install(&dev, &in, &next);
	commit(&dev, &next);
	boot_checkpoint_begin(&dev, &next);
	commit(&dev, &next);
	CHECK_EQ(dev.data_cp, DATA_CP_ACTIVE);
	CHECK_EQ(dev.cp_version, 9);
	boot_install_done(&dev, 2, &next);
	commit(&dev, &next);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(boot_choose(&dev, &next, &slot), 1);
		CHECK_EQ(slot, 1);
		commit(&dev, &next);
		CHECK_EQ(boot_checkpoint_resolve(&dev, &next), 0); /* on trial: it stays */
	}
	CHECK_EQ(boot_choose(&dev, &next, &slot), 1);
	CHECK_EQ(slot, 0);
	commit(&dev, &next);
	CHECK_EQ(dev.state, STATE_IDLE);
	CHECK_EQ(dev.data_cp, DATA_CP_MERGING); /* until merged, at every boot */
	boot_checkpoint_merged(&dev, &next);
	commit(&dev, &next);
	CHECK_EQ(dev.data_cp, DATA_CP_NONE);
	CHECK_EQ(dev.cp_version, 9); /* "data rolled back to before version 9" */
}

TEST(checkpoint_confirmed_trial_drops_it_in_the_same_commit)
{
	struct state_record dev, next;
	uint8_t slot;

	state_init(&dev);
	dev.state = STATE_WRITING;
	dev.target = 1;
	dev.target_version = 3;
	boot_checkpoint_begin(&dev, &next);
	commit(&dev, &next);
	boot_install_done(&dev, 3, &next);
	commit(&dev, &next);
	CHECK_EQ(boot_choose(&dev, &next, &slot), 1);
	commit(&dev, &next);
	CHECK_EQ(boot_mark_good(&dev, 1, &next), 1);
	CHECK_EQ(next.active, 1);
	CHECK_EQ(next.data_cp, DATA_CP_NONE);
}

TEST(checkpoint_state_out_of_range_is_invalid)
{
	struct state_record r, back;
	uint8_t buf[STATE_RECORD_SIZE];

	state_init(&r);
	r.data_cp = DATA_CP_MERGING;
	r.cp_version = 0x0102030405060708ull;
	state_encode(&r, buf);
	REQUIRE(state_decode(buf, sizeof(buf), &back) == 0);
	CHECK(record_eq(&back, &r));
	CHECK_EQ(buf[29], DATA_CP_MERGING);
	CHECK_EQ(util_le64(buf + 496), 0x0102030405060708ull);
	r.data_cp = DATA_CP_OVERFLOWED + 1;
	state_encode(&r, buf);
	CHECK_EQ(state_decode(buf, sizeof(buf), &back), -EBADMSG);
	CHECK(strcmp(state_data_cp_name(DATA_CP_OVERFLOWED + 1), "invalid") == 0);
}
