/* SPDX-License-Identifier: MIT */
/*
 * Crash-state enumeration: record every write and flush of a whole update
 * (install, trial boots, mark-good or rollback), then, for every cut point,
 * rebuild the devices as a power cut could have left them (record.h), boot on
 * from there, and check the invariants (sim.h). Prints how many crash states
 * each scenario checked.
 */
#include <stdio.h>
#include <stdlib.h>

#include "record.h"
#include "sim.h"
#include "test.h"

#define RECOVERY_BOOTS (HELPERS_TRIES + 4)
#define MAX_REPORTS 5

struct boot_mark {
	size_t ops; /* ops recorded when the applier had decided */
	bool trial;
};

struct enumeration {
	struct sim s;
	struct record rec;
	struct boot_mark boots[32];
	int nboots;
	uint8_t *scratch[RECORD_DEVICES];
	uint32_t rnd;
	long states, violations;
};

static void mark_boot(struct sim *s, bool trial)
{
	struct enumeration *e = s->userdata;

	if (e->nboots < (int)ARRAY_SIZE(e->boots))
		e->boots[e->nboots++] = (struct boot_mark){e->rec.n, trial};
}

static uint32_t rnd(struct enumeration *e)
{
	e->rnd ^= e->rnd << 13;
	e->rnd ^= e->rnd >> 17;
	e->rnd ^= e->rnd << 5;
	return e->rnd;
}

/* Boots on from one crash state and checks every invariant. */
static void check_state(struct enumeration *e, const struct record_crash *c)
{
	struct sim *s = &e->s;
	int before = 0;

	e->states++;
	if (record_apply(&e->rec, c, e->scratch) < 0) {
		CHECK(!"cannot build the crash state");
		return;
	}
	/* Trial boots that happened before the cut count against the same budget. */
	for (int b = 0; b < e->nboots; b++)
		if (e->boots[b].ops <= c->cut && e->boots[b].trial)
			before++;
	s->unconfirmed_boots = before;
	s->boots = 0;
	s->violation[0] = '\0';
	s->after_apply = NULL;
	if (sim_run_to_end(s, RECOVERY_BOOTS))
		return;
	if (e->violations++ < MAX_REPORTS)
		fprintf(stderr, "  cut before op %zu/%zu, kept 0x%llx, torn %zu sectors%s: %s\n",
		        c->cut, e->rec.n, (unsigned long long)c->kept, c->torn_sectors,
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

static void enumerate_cut(struct enumeration *e, size_t cut)
{
	size_t idx[64], tear[12];
	uint64_t masks[48];
	size_t nu = record_unflushed(&e->rec, cut, idx, ARRAY_SIZE(idx));
	size_t nm = subsets(e, nu, masks, ARRAY_SIZE(masks));

	for (size_t m = 0; m < nm; m++)
		check_state(e, &(struct record_crash){.cut = cut, .kept = masks[m]});
	if (cut == e->rec.n || e->rec.ops[cut].kind != RECORD_WRITE)
		return;
	/* The write in flight, torn: with none or all of the unflushed writes kept. */
	size_t nt = tears(e, e->rec.ops[cut].len, tear, ARRAY_SIZE(tear));
	uint64_t all = nu >= 64 ? ~0ull : (1ull << nu) - 1;
	for (size_t t = 0; t < nt; t++)
		for (int g = 0; g < 2; g++)
			for (int k = 0; k < 2; k++)
				check_state(e, &(struct record_crash){.cut = cut,
				                                      .kept = k ? all : 0,
				                                      .torn_sectors = tear[t],
				                                      .garbage = g});
}

static void enumerate(enum sim_scenario scenario, const char *name)
{
	struct enumeration *e = calloc(1, sizeof(*e));

	REQUIRE(e);
	e->rnd = 0x5eed1234;
	REQUIRE(sim_setup(&e->s, scenario) == 0);
	const char *paths[RECORD_DEVICES] = {e->s.dev.state, e->s.dev.slot[0], e->s.dev.slot[1]};
	REQUIRE(record_start(&e->rec, paths) == 0);
	e->s.after_apply = mark_boot;
	e->s.userdata = e;
	bool ok = sim_run_to_end(&e->s, RECOVERY_BOOTS);
	record_stop(&e->rec);
	if (!ok)
		fprintf(stderr, "  the uninterrupted run: %s\n", e->s.violation);
	REQUIRE(ok);
	for (int i = 0; i < RECORD_DEVICES; i++) {
		e->scratch[i] = malloc(e->rec.size[i]);
		REQUIRE(e->scratch[i]);
	}
	for (size_t cut = 0; cut <= e->rec.n; cut++)
		enumerate_cut(e, cut);
	printf("     %s: %zu writes and flushes recorded, %ld crash states checked, %ld "
	       "violations\n",
	       name, e->rec.n, e->states, e->violations);
	CHECK_EQ(e->violations, 0);
	CHECK(e->states > 100);
	for (int i = 0; i < RECORD_DEVICES; i++)
		free(e->scratch[i]);
	record_free(&e->rec);
	sim_free(&e->s);
	free(e);
}

TEST(crash_states_update_confirmed)
{
	enumerate(SIM_CONFIRMS, "install, trial boot, mark-good");
}

TEST(crash_states_update_never_confirmed)
{
	enumerate(SIM_NEVER_CONFIRMS, "install, trial boots, rollback");
}

TEST(crash_states_corrupt_bundle_refused)
{
	enumerate(SIM_CORRUPT, "install of a corrupt bundle, refused");
}
