/* SPDX-License-Identifier: MIT */
/*
 * Crash-state enumeration: record every write and flush of a whole update
 * (install, trial boots, mark-good or rollback), then, for every cut point,
 * rebuild the devices as a power cut could have left them (record.h), boot on
 * from there, and check the invariants (sim.h). The recovery from a cut is
 * recorded and cut again (two power cuts in a row), for the paths that only
 * a recovery takes: resuming an interrupted install, a try already counted.
 * Prints how many crash states each scenario checked.
 *
 * The data checkpoint's scenarios (sim.h SIM_CP_*) record five devices and
 * several times the ops; all their crash states would take minutes. They
 * are sampled with a fixed-seed PRNG (the same states every run), and say
 * so: every cut point with its unflushed writes all lost, all kept and all
 * but one kept, then random ones of the other states up to a budget; the second cuts start
 * from every cut point inside a merge (and a few others), and cut the
 * recovery at every point of its own merge and at sampled others.
 */
#include <stdio.h>
#include <stdlib.h>

#include "dmemu.h"
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
	struct {
		size_t from, to; /* ops recorded when a merge began and ended */
	} merges[8];
	int nmerges;
};

/* How the data scenarios are sampled; all zero: everything (the other scenarios). */
struct plan {
	size_t first; /* crash states after one cut */
	/* First cuts whose recovery is recorded and cut: inside a merge, and outside. */
	size_t second_starts_merge, second_starts;
	/* Cut points of each recovery: inside its merges, and outside. */
	size_t second_cuts_merge, second_cuts;
};

struct enumeration {
	struct sim s;
	struct trace *recording; /* the trace the boot hook adds to */
	uint8_t *scratch[RECORD_DEVICES];
	uint32_t rnd;
	long states, violations;
	struct plan plan;
	struct record_crash *pending; /* plan.first: the candidates, sampled at the end */
	size_t npending, cap;
};

static void mark_merge(void *userdata, bool begin)
{
	struct enumeration *e = userdata;
	struct trace *t = e->recording;

	if (!t || (begin && t->nmerges == (int)ARRAY_SIZE(t->merges)))
		return;
	if (begin)
		t->merges[t->nmerges].from = t->merges[t->nmerges].to = t->rec.n;
	else if (t->nmerges < (int)ARRAY_SIZE(t->merges))
		t->merges[t->nmerges++].to = t->rec.n;
}

/* Is cut inside a merge, or in the few ops after it (the reset, the commit)? */
static bool in_merge(const struct trace *t, size_t cut)
{
	for (int i = 0; i < t->nmerges; i++)
		if (cut >= t->merges[i].from && cut <= t->merges[i].to + 6)
			return true;
	return false;
}

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
	dmemu_set_merge_observer(mark_merge, e);
	s->unconfirmed_boots = trials;
	s->boots = 0;
	s->violation[0] = '\0';
	s->after_apply = mark_boot;
	bool ok = sim_run_to_end(s, RECOVERY_BOOTS);
	s->after_apply = NULL;
	dmemu_set_merge_observer(NULL, NULL);
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

/* A first cut's crash state: checked now, or a candidate for the sample. */
static void visit(struct enumeration *e, struct trace *t, const struct record_crash *c)
{
	if (!e->plan.first) {
		check_state(e, t, c);
		return;
	}
	if (e->npending == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 1024;
		e->pending = realloc(e->pending, e->cap * sizeof(*e->pending));
		if (!e->pending)
			abort();
	}
	e->pending[e->npending++] = *c;
}

/*
 * The sample: every cut with its unflushed writes all lost, all kept, and all
 * but one kept (each one in turn); then random others up to the budget.
 */
static size_t check_sample(struct enumeration *e, struct trace *t)
{
	size_t idx[64], n = e->npending, k = 0, left = e->plan.first;

	for (size_t i = 0; i < n; i++) {
		const struct record_crash *c = &e->pending[i];
		size_t nu = record_unflushed(&t->rec, c->cut, idx, ARRAY_SIZE(idx));
		uint64_t all = nu >= 64 ? ~0ull : (1ull << nu) - 1;
		/* Lost: none, all, or exactly one of them (an ordering bug shows there). */
		bool core = !c->torn_sectors && !c->garbage &&
		            (c->kept == 0 || __builtin_popcountll(all & ~c->kept) <= 1);
		struct record_crash tmp = e->pending[k];
		if (core) {
			e->pending[k] = *c;
			e->pending[i] = tmp;
			k++;
		}
	}
	for (size_t i = 0; i < k; i++)
		check_state(e, t, &e->pending[i]);
	left = left > k ? left - k : 0;
	/* A partial Fisher-Yates shuffle of the rest: left of them, fixed seed. */
	for (size_t i = k; i < n && left > 0; i++, left--) {
		size_t j = i + rnd(e) % (n - i);
		struct record_crash tmp = e->pending[i];
		e->pending[i] = e->pending[j];
		e->pending[j] = tmp;
		check_state(e, t, &e->pending[i]);
	}
	return n;
}

/* Every crash state of one cut point: all (or sampled) subsets, and torn writes. */
static void enumerate_cut(struct enumeration *e, struct trace *t, size_t cut)
{
	size_t idx[64], tear[12];
	uint64_t masks[48];
	size_t nu = record_unflushed(&t->rec, cut, idx, ARRAY_SIZE(idx));
	size_t nm = subsets(e, nu, masks, ARRAY_SIZE(masks));

	for (size_t m = 0; m < nm; m++)
		visit(e, t, &(struct record_crash){.cut = cut, .kept = masks[m]});
	if (cut == t->rec.n || t->rec.ops[cut].kind != RECORD_WRITE)
		return;
	/* The write in flight, torn: with none or all of the unflushed writes kept. */
	size_t nt = tears(e, t->rec.ops[cut].len, tear, ARRAY_SIZE(tear));
	uint64_t all = nu >= 64 ? ~0ull : (1ull << nu) - 1;
	for (size_t i = 0; i < nt; i++)
		for (int g = 0; g < 2; g++)
			for (int k = 0; k < 2; k++)
				visit(e, t,
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
static void shuffle(struct enumeration *e, size_t *v, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		size_t j = i + rnd(e) % (n - i), tmp = v[i];
		v[i] = v[j];
		v[j] = tmp;
	}
}

/*
 * Picks of the n cut points at most in_max inside a merge and out_max outside
 * (at random, fixed seed); both 0: all of them.
 */
static size_t pick_cuts(struct enumeration *e, const struct trace *t, size_t n, size_t in_max,
                        size_t out_max, size_t *out)
{
	size_t k = 0;

	for (size_t c = 0; c < n; c++)
		out[k++] = c;
	if (!in_max && !out_max)
		return n;
	size_t *in = out, *rest = out + n, nin = 0, nrest = 0;
	for (size_t c = 0; c < n; c++)
		if (in_merge(t, c))
			in[nin++] = c;
		else
			rest[nrest++] = c;
	shuffle(e, in, nin);
	shuffle(e, rest, nrest);
	nin = MIN(nin, in_max);
	memmove(out + nin, rest, MIN(nrest, out_max) * sizeof(size_t));
	return nin + MIN(nrest, out_max);
}

/* The recovery's states at cut j: its unflushed writes all lost, all kept, a torn write. */
static void check_second(struct enumeration *e, struct trace *second, size_t j)
{
	size_t idx[64];
	size_t n2 = record_unflushed(&second->rec, j, idx, ARRAY_SIZE(idx));
	uint64_t all = n2 >= 64 ? ~0ull : (1ull << n2) - 1;

	check_state(e, second, &(struct record_crash){.cut = j, .kept = 0});
	check_state(e, second, &(struct record_crash){.cut = j, .kept = all});
	if (j < second->rec.n && second->rec.ops[j].kind == RECORD_WRITE)
		check_state(e, second, &(struct record_crash){.cut = j, .torn_sectors = 1});
}

/*
 * A second cut: from the first cut's state at each point (the unflushed
 * writes all lost, or all kept), record the recovery and cut it everywhere,
 * with the unflushed writes of the recovery all lost or all kept, and its
 * in-flight write torn after one sector. With a plan: from the points the
 * plan picks, cutting the recovery at the points it picks.
 */
static void enumerate_second_cuts(struct enumeration *e, struct trace *first)
{
	struct trace *second = calloc(1, sizeof(*second));
	size_t idx[64], *starts = calloc(2 * (first->rec.n + 1), sizeof(size_t));
	size_t *cuts = NULL;

	REQUIRE(second && starts);
	size_t nstarts = pick_cuts(e, first, first->rec.n, e->plan.second_starts_merge,
	                           e->plan.second_starts, starts);
	for (size_t si = 0; si < nstarts; si++) {
		size_t cut = starts[si];
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
			free(cuts);
			REQUIRE((cuts = calloc(2 * (second->rec.n + 1), sizeof(size_t))));
			size_t nc = pick_cuts(e, second, second->rec.n + 1,
			                      e->plan.second_cuts_merge, e->plan.second_cuts, cuts);
			for (size_t j = 0; j < nc; j++)
				check_second(e, second, cuts[j]);
			record_free(&second->rec);
		}
	}
	free(cuts);
	free(starts);
	free(second);
}

static void enumerate_planned(enum sim_scenario scenario, const char *name, bool second_cuts,
                              struct plan plan)
{
	struct enumeration *e = calloc(1, sizeof(*e));
	struct trace *t = calloc(1, sizeof(*t));

	REQUIRE(e && t);
	e->rnd = 0x5eed1234;
	e->plan = plan;
	/* CRASH_FULL=1: every crash state after one cut, no sample (minutes). */
	if (getenv("CRASH_FULL"))
		e->plan.first = 0;
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
	/* CRASH_CUT=N checks only the first cut's point N (TEST_VERBOSE=1 shows the applier). */
	const char *only = getenv("CRASH_CUT");
	for (size_t cut = 0; cut <= t->rec.n; cut++)
		if (!only || cut == (size_t)atol(only))
			enumerate_cut(e, t, cut);
	size_t candidates = e->plan.first ? check_sample(e, t) : 0;
	long first = e->states;
	if (second_cuts)
		enumerate_second_cuts(e, t);
	printf("     %s: %zu writes and flushes recorded, %ld crash states after one cut", name,
	       t->rec.n, first);
	if (e->plan.first)
		printf(" (sampled of %zu)", candidates);
	printf(", %ld after two%s, %ld violations", e->states - first,
	       plan.second_starts ? " (sampled)" : "", e->violations);
	printf("\n");
	CHECK_EQ(e->violations, 0);
	/* Something was recorded, and each cut point gave at least one state. */
	CHECK(t->rec.n > 0);
	CHECK(e->states > (long)t->rec.n);
	for (int i = 0; i < RECORD_DEVICES; i++)
		free(e->scratch[i]);
	free(e->pending);
	record_free(&t->rec);
	sim_free(&e->s);
	free(t);
	free(e);
}

static void enumerate(enum sim_scenario scenario, const char *name, bool second_cuts)
{
	enumerate_planned(scenario, name, second_cuts, (struct plan){0});
}

/* The data scenarios' budget: some 5 s each on a loaded 2-core machine. */
static const struct plan data_plan = {.first = 450,
                                      .second_starts_merge = 6,
                                      .second_starts = 2,
                                      .second_cuts_merge = 6,
                                      .second_cuts = 3};

TEST(crash_states_update_confirmed)
{
	enumerate(SIM_CONFIRMS, "install, trial boot, mark-good", true);
}

TEST(crash_states_update_never_confirmed)
{
	enumerate(SIM_NEVER_CONFIRMS, "install, trial boots, rollback", true);
}

TEST(crash_states_keyring_adopted)
{
	enumerate(SIM_KEYRING_CONFIRMS, "install under keyring 2, mark-good adopts it", true);
}

TEST(crash_states_keyring_never_adopted)
{
	/* One cut: the recoveries a second cut would exercise are crash_states_update_*'s. */
	enumerate(SIM_KEYRING_NEVER_CONFIRMS, "install under keyring 2, rollback keeps 1", false);
}

TEST(crash_states_verity_footer)
{
	/* Every state after one cut; a sample after two (their recoveries are the same
	 * re-install that crash_states_update_confirmed cuts everywhere). */
	enumerate_planned(SIM_VERITY_CONFIRMS, "install with verity tree and footer, mark-good",
	                  true, (struct plan){.second_starts = 8, .second_cuts = 6});
}

TEST(crash_states_trial_slot_damaged)
{
	enumerate(SIM_VERITY_TRIAL_DAMAGED, "trial slot found damaged at boot, rolled back", true);
}

TEST(crash_states_active_slot_damaged)
{
	enumerate(SIM_VERITY_ACTIVE_DAMAGED, "active slot found damaged, the other made active",
	          true);
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
	enumerate_planned(SIM_CP_CONFIRMS, "data checkpoint: hook, trial writes, mark-good", true,
	                  data_plan);
}

TEST(crash_states_data_never_confirmed)
{
	enumerate_planned(SIM_CP_NEVER_CONFIRMS,
	                  "data checkpoint: trial writes, tries run out, merge", true, data_plan);
}

TEST(crash_states_data_marked_bad)
{
	enumerate_planned(SIM_CP_MARK_BAD, "data checkpoint: trial writes, mark-bad, merge", true,
	                  data_plan);
}

TEST(crash_states_data_overflow)
{
	enumerate_planned(SIM_CP_OVERFLOW, "data checkpoint: the trial overflows the COW, rollback",
	                  true, data_plan);
}

TEST(crash_states_data_overflow_confirmed)
{
	enumerate_planned(SIM_CP_OVERFLOW_CONFIRMS,
	                  "data checkpoint: the trial overflows, mark-good", true, data_plan);
}
