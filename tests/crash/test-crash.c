/* SPDX-License-Identifier: MIT */
/*
 * Crash-state enumeration: record every write and flush of a whole update
 * (install, trial boots, mark-good or rollback), then, for every cut point,
 * rebuild the devices as a power cut could have left them (record.h), boot on
 * from there, and check the invariants (sim.h). The recovery from a cut is
 * recorded and cut again (two power cuts in a row), for the paths that only
 * a recovery takes: resuming an interrupted install, a try already counted.
 * Prints how many crash states each scenario checked.
 */
#include <stdio.h>
#include <stdlib.h>

#include "record.h"
#include "sim.h"
#include "test.h"

#define RECOVERY_BOOTS (HELPERS_TRIES + 4)
#define MAX_REPORTS 5

/* One recorded run: its writes and flushes, and where its boots happened. */
struct trace {
	struct record rec;
	struct {
		size_t ops; /* ops recorded when the applier had decided */
		bool trial;
	} boots[32];
	int nboots;
	int trials_before; /* trial boots before this run began (an earlier cut's run) */
	const char *which; /* "" for the update's run, "second " for a recovery's */
};

struct enumeration {
	struct sim s;
	struct trace *recording; /* the trace the boot hook adds to */
	uint8_t *scratch[RECORD_DEVICES];
	uint32_t rnd;
	long states, violations;
};

static void mark_boot(struct sim *s, bool trial)
{
	struct enumeration *e = s->userdata;
	struct trace *t = e->recording;

	if (t && t->nboots < (int)ARRAY_SIZE(t->boots)) {
		t->boots[t->nboots].ops = t->rec.n;
		t->boots[t->nboots++].trial = trial;
	}
}

static uint32_t rnd(struct enumeration *e)
{
	e->rnd ^= e->rnd << 13;
	e->rnd ^= e->rnd >> 17;
	e->rnd ^= e->rnd << 5;
	return e->rnd;
}

/* Trial boots that happened before cut c of t: they count against the same budget. */
static int trials_before(const struct trace *t, size_t cut)
{
	int n = t->trials_before;

	for (int b = 0; b < t->nboots; b++)
		if (t->boots[b].ops <= cut && t->boots[b].trial)
			n++;
	return n;
}

/* Records a whole run from the devices as they are now, to the end. */
static bool record_run(struct enumeration *e, struct trace *t, int trials, const char *which)
{
	struct sim *s = &e->s;
	const char *paths[RECORD_DEVICES];

	sim_record_paths(s, paths);
	memset(t, 0, sizeof(*t));
	t->trials_before = trials;
	t->which = which;
	if (record_start(&t->rec, paths) < 0)
		return false;
	e->recording = t;
	s->unconfirmed_boots = trials;
	s->boots = 0;
	s->violation[0] = '\0';
	s->after_apply = mark_boot;
	bool ok = sim_run_to_end(s, RECOVERY_BOOTS);
	s->after_apply = NULL;
	e->recording = NULL;
	record_stop(&t->rec);
	return ok;
}

/* Boots on from one crash state of t and checks every invariant. */
static void check_state(struct enumeration *e, struct trace *t, const struct record_crash *c)
{
	struct sim *s = &e->s;

	e->states++;
	if (record_apply(&t->rec, c, e->scratch) < 0 || sim_restore_dropin(s) < 0) {
		CHECK(!"cannot build the crash state");
		return;
	}
	s->unconfirmed_boots = trials_before(t, c->cut);
	s->boots = 0;
	s->violation[0] = '\0';
	if (sim_run_to_end(s, RECOVERY_BOOTS))
		return;
	if (e->violations++ < MAX_REPORTS)
		fprintf(stderr, "  %scut before op %zu/%zu, kept 0x%llx, torn %zu sectors%s: %s\n",
		        t->which, c->cut, t->rec.n, (unsigned long long)c->kept, c->torn_sectors,
		        c->garbage ? " + garbage" : "", s->violation);
}

/* The subsets of the n unflushed writes to try: all when few, a sample beyond. */
static size_t subsets(struct enumeration *e, size_t n, uint64_t *out, size_t max)
{
	size_t k = 0;

	if (n <= 6) {
		for (uint64_t m = 0; m < (1ull << n) && k < max; m++)
			out[k++] = m;
		return k;
	}
	uint64_t all = n >= 64 ? ~0ull : (1ull << n) - 1;
	out[k++] = 0;
	out[k++] = all;
	for (size_t i = 0; i < n && k + 2 < max; i++) {
		out[k++] = 1ull << i;          /* only this one */
		out[k++] = all & ~(1ull << i); /* all but this one */
	}
	while (k < max)
		out[k++] = (((uint64_t)rnd(e) << 32) | rnd(e)) & all;
	return k;
}

/* The torn prefixes (in sectors) of an in-flight write of len bytes. */
static size_t tears(struct enumeration *e, size_t len, size_t *out, size_t max)
{
	size_t sectors = (len + RECORD_SECTOR - 1) / RECORD_SECTOR, k = 0;

	if (sectors <= 9) {
		for (size_t j = 0; j < sectors && k < max; j++)
			out[k++] = j;
		return k;
	}
	size_t fixed[] = {0, 1, 2, sectors / 2, sectors - 1};
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		out[k++] = fixed[i];
	while (k < max)
		out[k++] = 1 + rnd(e) % (sectors - 1);
	return k;
}

/* Every crash state of one cut point: all (or sampled) subsets, and torn writes. */
static void enumerate_cut(struct enumeration *e, struct trace *t, size_t cut)
{
	size_t idx[64], tear[12];
	uint64_t masks[48];
	size_t nu = record_unflushed(&t->rec, cut, idx, ARRAY_SIZE(idx));
	size_t nm = subsets(e, nu, masks, ARRAY_SIZE(masks));

	for (size_t m = 0; m < nm; m++)
		check_state(e, t, &(struct record_crash){.cut = cut, .kept = masks[m]});
	if (cut == t->rec.n || t->rec.ops[cut].kind != RECORD_WRITE)
		return;
	/* The write in flight, torn: with none or all of the unflushed writes kept. */
	size_t nt = tears(e, t->rec.ops[cut].len, tear, ARRAY_SIZE(tear));
	uint64_t all = nu >= 64 ? ~0ull : (1ull << nu) - 1;
	for (size_t i = 0; i < nt; i++)
		for (int g = 0; g < 2; g++)
			for (int k = 0; k < 2; k++)
				check_state(e, t,
				            &(struct record_crash){.cut = cut,
				                                   .kept = k ? all : 0,
				                                   .torn_sectors = tear[i],
				                                   .garbage = g});
}

/*
 * A second cut: from the first cut's state at each point (the unflushed
 * writes all lost, or all kept), record the recovery and cut it everywhere,
 * with the unflushed writes of the recovery all lost or all kept, and its
 * in-flight write torn after one sector.
 */
static void enumerate_second_cuts(struct enumeration *e, struct trace *first)
{
	struct trace *second = calloc(1, sizeof(*second));
	size_t idx[64];

	REQUIRE(second);
	for (size_t cut = 0; cut < first->rec.n; cut++) {
		for (int k = 0; k < 2; k++) {
			size_t nu = record_unflushed(&first->rec, cut, idx, ARRAY_SIZE(idx));
			struct record_crash c = {
			        .cut = cut, .kept = k ? (nu >= 64 ? ~0ull : (1ull << nu) - 1) : 0};
			REQUIRE(record_apply(&first->rec, &c, e->scratch) == 0);
			REQUIRE(sim_restore_dropin(&e->s) == 0);
			if (!record_run(e, second, trials_before(first, cut), "second ")) {
				e->violations++;
				fprintf(stderr, "  recovery from cut %zu: %s\n", cut,
				        e->s.violation);
				continue;
			}
			for (size_t j = 0; j <= second->rec.n; j++) {
				size_t n2 = record_unflushed(&second->rec, j, idx, ARRAY_SIZE(idx));
				uint64_t all = n2 >= 64 ? ~0ull : (1ull << n2) - 1;
				check_state(e, second, &(struct record_crash){.cut = j, .kept = 0});
				check_state(e, second,
				            &(struct record_crash){.cut = j, .kept = all});
				if (j < second->rec.n && second->rec.ops[j].kind == RECORD_WRITE)
					check_state(e, second,
					            &(struct record_crash){.cut = j,
					                                   .torn_sectors = 1});
			}
			record_free(&second->rec);
		}
	}
	free(second);
}

static void enumerate(enum sim_scenario scenario, const char *name, bool second_cuts)
{
	struct enumeration *e = calloc(1, sizeof(*e));
	struct trace *t = calloc(1, sizeof(*t));

	REQUIRE(e && t);
	e->rnd = 0x5eed1234;
	REQUIRE(sim_setup(&e->s, scenario) == 0);
	e->s.userdata = e;
	bool ok = record_run(e, t, 0, "");
	if (!ok)
		fprintf(stderr, "  the uninterrupted run: %s\n", e->s.violation);
	REQUIRE(ok);
	for (int i = 0; i < RECORD_DEVICES; i++) {
		e->scratch[i] = malloc(t->rec.size[i]);
		REQUIRE(e->scratch[i]);
	}
	for (size_t cut = 0; cut <= t->rec.n; cut++)
		enumerate_cut(e, t, cut);
	long first = e->states;
	if (second_cuts)
		enumerate_second_cuts(e, t);
	printf("     %s: %zu writes and flushes recorded, %ld crash states after one cut, %ld "
	       "after two, %ld violations\n",
	       name, t->rec.n, first, e->states - first, e->violations);
	CHECK_EQ(e->violations, 0);
	CHECK(e->states > 100);
	for (int i = 0; i < RECORD_DEVICES; i++)
		free(e->scratch[i]);
	record_free(&t->rec);
	sim_free(&e->s);
	free(t);
	free(e);
}

TEST(crash_states_update_confirmed)
{
	enumerate(SIM_CONFIRMS, "install, trial boot, mark-good", true);
}

TEST(crash_states_update_never_confirmed)
{
	enumerate(SIM_NEVER_CONFIRMS, "install, trial boots, rollback", true);
}

TEST(crash_states_corrupt_bundle_refused)
{
	enumerate(SIM_CORRUPT, "install of a corrupt bundle, refused", false);
}

TEST(crash_states_kexec_loop_rolled_back)
{
	enumerate(SIM_KEXEC_LOOP, "install, trials failed at a second kexec, rollback", true);
}

TEST(crash_states_data_confirmed)
{
	enumerate(SIM_CP_CONFIRMS, "data checkpoint: hook, trial writes, mark-good", true);
}

TEST(crash_states_data_never_confirmed)
{
	enumerate(SIM_CP_NEVER_CONFIRMS, "data checkpoint: trial writes, tries run out, merge",
	          true);
}

TEST(crash_states_data_marked_bad)
{
	enumerate(SIM_CP_MARK_BAD, "data checkpoint: trial writes, mark-bad, merge", true);
}

TEST(crash_states_data_overflow)
{
	enumerate(SIM_CP_OVERFLOW, "data checkpoint: the trial overflows the COW, rollback", true);
}

TEST(crash_states_data_overflow_confirmed)
{
	enumerate(SIM_CP_OVERFLOW_CONFIRMS, "data checkpoint: the trial overflows, mark-good",
	          true);
}
