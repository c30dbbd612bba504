/* SPDX-License-Identifier: MIT */
/*
 * A lost record (issue 10, defect 4): the slot chosen from every combination
 * of evidence, and the conservative re-initialised record built from it.
 */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "record-eq.h"
#include "test.h"

/* Whether slot s of ev may be made active: a superblock, and not half-written. */
static bool usable(const struct boot_evidence *ev, uint8_t s)
{
	return ev->checked[s] && ev->status[s] != SLOT_INCOMPLETE;
}

/*
 * Every combination of evidence a lost record can leave: which slots have a
 * superblock, what the history last said of each, which was confirmed last.
 */
TEST(boot_recover_every_evidence)
{
	int cases = 0, reinits = 0;

	for (int mask = 0; mask < 4; mask++)
		for (uint8_t s0 = SLOT_UNKNOWN; s0 <= SLOT_BAD; s0++)
			for (uint8_t s1 = SLOT_UNKNOWN; s1 <= SLOT_BAD; s1++)
				for (int conf = -1; conf <= 1; conf++) {
					struct boot_evidence ev;
					struct state_record next, back;
					uint8_t slot = 9, buf[STATE_RECORD_SIZE];

					boot_evidence_init(&ev);
					ev.checked[0] = mask & 1;
					ev.checked[1] = mask & 2;
					ev.status[0] = s0;
					ev.status[1] = s1;
					ev.confirmed = conf;
					ev.version[0] = 5;
					ev.version[1] = 6;
					ev.floor = 6;
					cases++;
					int r = boot_recover_slot(&ev, &slot);
					REQUIRE(slot < 2);
					if (r == 0) {
						/* A guess only when nothing checks out. */
						CHECK(!usable(&ev, 0) && !usable(&ev, 1));
						continue;
					}
					CHECK_EQ(r, 1);
					CHECK(usable(&ev, slot));
					uint8_t o = !slot;
					/* The last confirmed slot wins if usable; a bad one never
					 * wins over a usable other. */
					if (usable(&ev, o) && ev.confirmed == o &&
					    ev.status[o] == SLOT_GOOD)
						CHECK(!"the confirmed slot was passed over");
					if (ev.status[slot] == SLOT_BAD && usable(&ev, o))
						CHECK(ev.status[o] == SLOT_BAD);
					boot_reinit(&ev, slot, "copy 0: CRC mismatch", &next);
					reinits++;
					state_encode(&next, buf);
					REQUIRE(state_decode(buf, sizeof(buf), &back) == 0);
					CHECK(record_eq(&back, &next));
					CHECK_EQ(next.state, STATE_IDLE);
					CHECK_EQ(next.active, slot);
					CHECK_EQ(next.target, o);
					CHECK_EQ(next.flags, STATE_FLAG_VERSIONS_UNKNOWN);
					CHECK_EQ(next.version_floor, 6);
					CHECK_EQ(next.slot[0].version, 5);
					CHECK_EQ(next.slot[1].version, 6);
					CHECK_EQ(next.slot[slot].status,
					         ev.status[slot] == SLOT_GOOD ? SLOT_GOOD
					                                      : SLOT_UNKNOWN);
					CHECK(next.slot[o].status != SLOT_GOOD);
					if (!usable(&ev, o))
						CHECK_EQ(next.slot[o].status, SLOT_INCOMPLETE);
					CHECK_EQ(next.last_error, EBADMSG);
					CHECK(strstr(next.last_reason, "versions unknown") != NULL);
				}
	CHECK_EQ(cases, 4 * 5 * 5 * 3);
	CHECK(reinits > 0);
}

TEST(boot_recover_prefers_the_good_slot_over_a_half_written_one)
{
	struct boot_evidence ev;
	struct history_entry h[4] = {
	        {.kind = HISTORY_INSTALLING, .slot = 1, .version = 2},
	        {.kind = HISTORY_INSTALLED, .slot = 1, .version = 2},
	        {.kind = HISTORY_CONFIRMED, .slot = 1, .version = 2},
	        {.kind = HISTORY_INSTALLING, .slot = 0, .version = 3},
	};
	uint8_t slot = 9;

	/* A was being written when the record was lost; both still have a superblock. */
	boot_evidence_init(&ev);
	boot_evidence_history(&ev, h, 4);
	ev.checked[0] = ev.checked[1] = true;
	CHECK_EQ(ev.status[0], SLOT_INCOMPLETE);
	CHECK_EQ(ev.status[1], SLOT_GOOD);
	CHECK_EQ(ev.confirmed, 1);
	CHECK_EQ(ev.floor, 2);
	CHECK_EQ(boot_recover_slot(&ev, &slot), 1);
	CHECK_EQ(slot, 1);
	/* No history, A's superblock garbage: B, the one slot that checks out. */
	boot_evidence_init(&ev);
	ev.checked[1] = true;
	CHECK_EQ(boot_recover_slot(&ev, &slot), 1);
	CHECK_EQ(slot, 1);
	/* A label the history kept with bytes the record refuses: made printable, still commits. */
	struct state_record next, back;
	uint8_t buf[STATE_RECORD_SIZE];
	memcpy(ev.label[1], "v2\x01\xc3\xa9", 6);
	boot_reinit(&ev, 1, "lost", &next);
	state_encode(&next, buf);
	CHECK_EQ(state_decode(buf, sizeof(buf), &back), 0);
	CHECK_EQ(strcmp(next.slot[1].label, "v2???"), 0);
	/* Neither checks out: B (last confirmed) is only a guess, never made active. */
	boot_evidence_history(&ev, h, 3);
	ev.checked[1] = false;
	CHECK_EQ(boot_recover_slot(&ev, &slot), 0);
	CHECK_EQ(slot, 1);
}
