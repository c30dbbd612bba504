/* SPDX-License-Identifier: MIT */
/* Trial boots: clean reboots during a trial, and what the next boot is told. */
#include <string.h>

#include "boot.h"
#include "test.h"
#include "util.h"

static void sample_install(struct boot_install *in)
{
	memset(in, 0, sizeof(*in));
	memset(in->txn, 0xa1, sizeof(in->txn));
	memset(in->image_digest, 0xb2, sizeof(in->image_digest));
	in->image_size = 123456789;
	in->version = 8;
	memset(in->fingerprint, 0xc3, sizeof(in->fingerprint));
}

TEST(boot_clean_reboot_gives_the_try_back_a_bounded_number_of_times)
{
	struct state_record st, next;
	struct boot_install in;
	uint8_t slot;

	state_init(&st);
	st.slot[0].status = SLOT_GOOD;
	sample_install(&in);
	boot_begin_install(&st, &in, &next);
	boot_install_done(&next, 2, &st);
	/* Not on trial from slot A, and not before a trial boot began: nothing to give back. */
	CHECK_EQ(boot_clean_reboot(&st, 0, &next), 0);
	CHECK_EQ(boot_clean_reboot(&st, 1, &next), 0);
	/* Each trial boot that ends with a clean reboot gets its try back, twice (max_tries). */
	for (int i = 0; i < 2; i++) {
		REQUIRE(boot_choose(&st, &next, &slot) == 1);
		CHECK_EQ(slot, 1);
		CHECK_EQ(next.tries_left, 1);
		CHECK_EQ(next.trial_booted, 1);
		st = next;
		CHECK_EQ(boot_clean_reboot(&st, 1, &next), 1);
		CHECK_EQ(next.tries_left, 2);
		CHECK_EQ(next.clean_reboots, i + 1);
		CHECK_EQ(next.trial_booted, 0);
		st = next;
	}
	/* The third: the reboot is recorded as clean, but the try stays used. */
	REQUIRE(boot_choose(&st, &next, &slot) == 1);
	st = next;
	CHECK_EQ(boot_clean_reboot(&st, 1, &next), 1);
	CHECK_EQ(next.tries_left, 1);
	CHECK_EQ(next.trial_booted, 0);
	/* So a system that only ever reboots cleanly still rolls back in the end. */
	st = next;
	int boots = 0;
	while (st.state == STATE_TRYING && boots < 20) {
		boot_choose(&st, &next, &slot);
		st = next;
		if (st.state == STATE_TRYING) {
			boots++;
			boot_clean_reboot(&st, 1, &next);
			st = next;
		}
	}
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 0);
	CHECK_EQ(st.slot[1].status, SLOT_BAD);
}
