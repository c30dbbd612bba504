/* SPDX-License-Identifier: MIT */
/*
 * The running system's own transitions (running.h) under power cuts and I/O
 * faults: a clean shutdown during a trial, mark-bad, an allowed downgrade and
 * its revocation, each the real command on the simulated device.
 *
 * Crash states: the whole sequence is recorded once; at every cut point (all
 * unflushed writes lost or kept, the in-flight write torn, with or without a
 * garbage sector) the record must load, and be the record before or after
 * the transition the cut fell in, never anything else.
 *
 * Faults: each transition again from its starting record, with its n-th I/O
 * call failing (EIO), for every n: a transition that reports success has
 * committed; one that fails leaves the record before or after it (a failed
 * flush or read-back leaves the outcome open, both are whole states); and the
 * same command, run again without the fault, completes the transition.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "record.h"
#include "running.h"
#include "sim.h"
#include "test.h"

enum { STEP_CLEAN_SHUTDOWN, STEP_MARK_BAD, STEP_ALLOW, STEP_REVOKE, STEPS };

static const char *const step_names[STEPS] = {"clean-shutdown", "mark-bad", "allow-downgrade 1",
                                              "allow-downgrade revoke"};

static int run_step(const struct sim *s, int step)
{
	struct running_config rc;

	helpers_running(&s->dev, 1, &rc);
	switch (step) {
	case STEP_CLEAN_SHUTDOWN:
		return running_clean_shutdown(&rc);
	case STEP_MARK_BAD:
		return running_mark_bad(&rc, "health check failed");
	case STEP_ALLOW:
		return running_allow_downgrade(&rc, 1);
	default:
		return running_revoke_downgrade(&rc);
	}
}

/* The record's content, sequence and CRC aside: what a transition decides. */
static void content(const struct state_record *r, uint8_t out[STATE_RECORD_SIZE])
{
	struct state_record c = *r;

	c.seq = 0;
	state_encode(&c, out);
	memset(out + STATE_RECORD_SIZE - 4, 0, 4);
}

static bool same(const struct state_record *a, const struct state_record *b)
{
	uint8_t x[STATE_RECORD_SIZE], y[STATE_RECORD_SIZE];

	content(a, x);
	content(b, y);
	return memcmp(x, y, sizeof(x)) == 0;
}

/* The sequence's records: rec[0] before the first step, rec[i + 1] after step i. */
struct chain {
	struct state_record rec[STEPS + 1];
	size_t ops_after[STEPS]; /* recorded ops when step i had returned */
};

/* A device with version 2 on trial in slot B (one try used), the sequence's start. */
static int setup(struct sim *s)
{
	int r = sim_setup(s, SIM_NEVER_CONFIRMS);

	if (r == 0)
		r = sim_boot(s) == 2 ? 0 : -EIO;
	return r;
}

TEST(crash_states_running_transitions)
{
	struct sim s;
	struct chain ch;
	struct record rec;
	uint8_t *scratch[RECORD_DEVICES];
	long states = 0, violations = 0;

	REQUIRE(setup(&s) == 0);
	REQUIRE(helpers_read_state(s.dev.state, &ch.rec[0]) == 0);
	REQUIRE(ch.rec[0].state == STATE_TRYING);
	const char *paths[RECORD_DEVICES] = {s.dev.state, s.dev.slot[0], s.dev.slot[1]};
	REQUIRE(record_start(&rec, paths) == 0);
	for (int i = 0; i < STEPS; i++) {
		int r = run_step(&s, i);
		ch.ops_after[i] = rec.n;
		if (r != 0 || helpers_read_state(s.dev.state, &ch.rec[i + 1]) != 0) {
			record_stop(&rec);
			CHECK(!"a step failed without faults");
			return;
		}
	}
	record_stop(&rec);
	CHECK_EQ(ch.rec[1].tries_left, ch.rec[0].tries_left + 1);
	CHECK_EQ(ch.rec[2].state, STATE_IDLE);
	CHECK_EQ(ch.rec[2].slot[1].status, SLOT_BAD);
	CHECK_EQ(ch.rec[3].allow_version, 1);
	CHECK_EQ(ch.rec[4].allow_version, 0);
	for (int i = 0; i < RECORD_DEVICES; i++)
		REQUIRE((scratch[i] = malloc(rec.size[i])));

	size_t idx[64];
	for (size_t cut = 0; cut <= rec.n; cut++) {
		int step = 0;
		while (step < STEPS && ch.ops_after[step] <= cut)
			step++;
		size_t nu = record_unflushed(&rec, cut, idx, ARRAY_SIZE(idx));
		bool write = cut < rec.n && rec.ops[cut].kind == RECORD_WRITE;
		size_t sectors = write ? rec.ops[cut].len / RECORD_SECTOR : 0;
		for (int k = 0; k < 2; k++)
			for (size_t torn = 0; torn <= sectors; torn++)
				for (int g = 0; g < (write ? 2 : 1); g++) {
					struct record_crash c = {
					        .cut = cut,
					        .kept = k ? (nu >= 64 ? ~0ull : (1ull << nu) - 1)
					                  : 0,
					        .torn_sectors = torn,
					        .garbage = g};
					struct state_record got;
					states++;
					REQUIRE(record_apply(&rec, &c, scratch) == 0);
					bool ok = helpers_read_state(s.dev.state, &got) == 0 &&
					          (same(&got, &ch.rec[step]) ||
					           (step < STEPS && same(&got, &ch.rec[step + 1])));
					if (!ok && violations++ < 5)
						fprintf(stderr,
						        "  cut before op %zu/%zu in %s: the record "
						        "is "
						        "neither before nor after it\n",
						        cut, rec.n,
						        step < STEPS ? step_names[step]
						                     : "the end");
				}
	}
	printf("     running transitions: %zu writes and flushes recorded, %ld crash states, "
	       "%ld violations\n",
	       rec.n, states, violations);
	CHECK_EQ(violations, 0);
	for (int i = 0; i < RECORD_DEVICES; i++)
		free(scratch[i]);
	record_free(&rec);
	sim_free(&s);
}

struct counter {
	int calls, nth;
	struct io_hooks hooks;
};

static int count_and_fail(void *userdata, enum io_op op, int fd, const char *path, size_t len)
{
	struct counter *c = userdata;

	(void)op, (void)fd, (void)path, (void)len;
	return ++c->calls == c->nth ? -EIO : 0;
}

/* Runs step with call nth failing (0: none); returns what it returned, and the calls made. */
static int faulted(const struct sim *s, int step, int nth, int *ret_calls)
{
	struct counter c = {.nth = nth};

	c.hooks = (struct io_hooks){.before = count_and_fail, .userdata = &c};
	io_set_hooks(&c.hooks);
	int r = run_step(s, step);
	io_set_hooks(NULL);
	*ret_calls = c.calls;
	return r;
}

TEST(faults_running_transitions)
{
	struct sim s;
	struct state_record before, after, got;
	long runs = 0, violations = 0, total_calls = 0;

	REQUIRE(setup(&s) == 0);
	for (int step = 0; step < STEPS; step++) {
		int calls;
		REQUIRE(helpers_read_state(s.dev.state, &before) == 0);
		REQUIRE(faulted(&s, step, 0, &calls) == 0);
		REQUIRE(helpers_read_state(s.dev.state, &after) == 0);
		total_calls += calls;
		for (int n = 1; n <= calls; n++) {
			int unused;
			runs++;
			REQUIRE(helpers_write_state(s.dev.state, &before) == 0);
			int r = faulted(&s, step, n, &unused);
			bool ok = helpers_read_state(s.dev.state, &got) == 0 &&
			          (r == 0 ? same(&got, &after)
			                  : same(&got, &before) || same(&got, &after));
			/* Not made: again, without the fault, the transition completes. */
			int again = 0;
			if (ok && same(&got, &before)) {
				again = run_step(&s, step);
				ok = again == 0 && helpers_read_state(s.dev.state, &got) == 0 &&
				     same(&got, &after);
			}
			if (!ok && violations++ < 5)
				fprintf(stderr,
				        "  %s, I/O call %d of %d failing: returned %d, then %d\n",
				        step_names[step], n, calls, r, again);
		}
		REQUIRE(helpers_write_state(s.dev.state, &after) == 0);
	}
	printf("     running transitions: %ld I/O calls, %ld faulted runs, %ld violations\n",
	       total_calls, runs, violations);
	CHECK_EQ(violations, 0);
	sim_free(&s);
}
