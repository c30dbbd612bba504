/* SPDX-License-Identifier: MIT */
/*
 * The data checkpoint's scenarios (sim.h SIM_CP_*) run once each, without a
 * cut or a fault, over the device-mapper emulator (dmemu.h): the invariants
 * hold, and the emulator did the work the scenario is about (copies on
 * write, a merge, an overflow), so the crash and fault tests built on them
 * cut and fault something real.
 */
#include <stdio.h>

#include "dmemu.h"
#include "sim.h"
#include "test.h"

static void run(enum sim_scenario scenario, const char *name, bool merges, bool overflows)
{
	struct dmemu_stats st;
	struct sim s;

	REQUIRE(sim_setup(&s, scenario) == 0);
	bool ok = sim_run_to_end(&s, HELPERS_TRIES + 4);
	if (!ok)
		fprintf(stderr, "  %s: %s\n", name, s.violation);
	CHECK(ok);
	dmemu_stats(&st);
	printf("     %s: %d boots, %ld chunks copied on write, %ld merged back, %ld invalidated\n",
	       name, s.boots, st.cow_copies, st.merged, st.invalidations);
	CHECK(st.cow_copies >= 5);
	CHECK(merges ? st.merged > 0 : st.merged == 0);
	CHECK(overflows ? st.invalidations == 1 : st.invalidations == 0);
	sim_free(&s);
}

TEST(data_checkpoint_confirmed)
{
	run(SIM_CP_CONFIRMS, "hook, trial writes, mark-good", false, false);
}

TEST(data_checkpoint_never_confirmed)
{
	run(SIM_CP_NEVER_CONFIRMS, "hook, trial writes, tries run out", true, false);
}

TEST(data_checkpoint_marked_bad)
{
	run(SIM_CP_MARK_BAD, "hook, trial writes, mark-bad", true, false);
}

TEST(data_checkpoint_overflow)
{
	run(SIM_CP_OVERFLOW, "hook, the trial overflows the COW, tries run out", false, true);
}

TEST(data_checkpoint_overflow_confirmed)
{
	run(SIM_CP_OVERFLOW_CONFIRMS, "hook, the trial overflows the COW, mark-good", false, true);
}
