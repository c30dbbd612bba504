/* SPDX-License-Identifier: MIT */
/*
 * The boot decision, as a table over every state the record can be in: each
 * transition's exact next record, plus properties that must hold for all of
 * them (the active slot is only ever changed by mark-good, every next record
 * can be committed and read back).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot.h"
#include "fail.h"
#include "record-eq.h"
#include "state.h"
#include "test.h"
#include "util.h"

#define MAX_RECORDS 128

/* What a device carries around: versions, labels, and the reason of an earlier event. */
static void base_record(struct state_record *r, uint8_t active)
{
	state_init(r);
	r->seq = 41;
	r->active = active;
	r->target = !active;
	r->slot[0].version = 5;
	r->slot[1].version = 6;
	util_set_string(r->slot[0].label, STATE_LABEL_SIZE, "rootfs-a 5");
	util_set_string(r->slot[1].label, STATE_LABEL_SIZE, "rootfs-b 6");
	memset(r->txn, 0x11, STATE_DIGEST_SIZE);
	memset(r->image_digest, 0x22, STATE_DIGEST_SIZE);
	r->image_size = 1 << 20;
	r->target_version = 7;
	r->version_floor = 3;
	r->allow_version = 2; /* a downgrade once allowed, to a version no install below uses */
	r->target_floor = 6;
	memset(r->last_done, 0x33, STATE_DIGEST_SIZE);
	memset(r->last_failed, 0x44, STATE_DIGEST_SIZE);
	memset(r->rejected, 0x55, sizeof(r->rejected));
	util_set_string(r->target_label, STATE_LABEL_SIZE, "release 7");
	r->last_error = EKEYREJECTED;
	util_set_string(r->last_reason, STATE_REASON_SIZE,
	                "an earlier bundle was refused: signature does not verify with key "
	                "0123456789abcdef (release-2023.pem), so it was ignored");
}

/*
 * Every state: IDLE (any target status), WRITING with attempts 1..max,
 * TRYING with tries_left 0..max_tries for max_tries 1..4; both values of
 * active; an active slot that is GOOD or still the unconfirmed factory image.
 */
static size_t gen_records(struct state_record *out)
{
	size_t n = 0;

	for (uint8_t active = 0; active < 2; active++) {
		for (uint8_t as = SLOT_UNKNOWN; as <= SLOT_GOOD; as++) {
			struct state_record r;
			base_record(&r, active);
			r.slot[active].status = as;
			for (uint8_t ts = SLOT_UNKNOWN; ts <= SLOT_BAD; ts++) {
				out[n] = r;
				out[n++].slot[!active].status = ts;
			}
			r.state = STATE_WRITING;
			r.slot[!active].status = SLOT_INCOMPLETE;
			for (uint8_t att = 1; att <= BOOT_MAX_APPLY_ATTEMPTS; att++) {
				out[n] = r;
				out[n++].apply_attempts = att;
			}
			r.state = STATE_TRYING;
			r.slot[!active].status = SLOT_UNCONFIRMED;
			r.slot[!active].version = r.target_version;
			for (uint8_t max = 1; max <= 4; max++) {
				for (uint8_t t = 0; t <= max; t++) {
					out[n] = r;
					out[n].max_tries = max;
					out[n++].tries_left = t;
				}
			}
		}
	}
	return n;
}

static const uint8_t fingerprint[STATE_FINGERPRINT_SIZE] = {0xf1, 0xf2, 0xf3, [7] = 0xff};

static void sample_install(struct boot_install *in)
{
	memset(in, 0, sizeof(*in));
	memset(in->txn, 0xa1, sizeof(in->txn));
	memset(in->image_digest, 0xb2, sizeof(in->image_digest));
	in->image_size = 123456789;
	in->version = 8;
	in->floor = 4;
	util_set_string(in->label, sizeof(in->label), "release 8");
	memset(in->fingerprint, 0xc3, sizeof(in->fingerprint));
}

TEST(boot_choose_every_state)
{
	struct state_record recs[MAX_RECORDS];
	size_t n = gen_records(recs);

	CHECK_EQ(n, 2 * 2 * (5 + BOOT_MAX_APPLY_ATTEMPTS + (2 + 3 + 4 + 5)));
	for (size_t i = 0; i < n; i++) {
		const struct state_record *cur = &recs[i];
		struct state_record next, want = *cur;
		uint8_t slot = 0xee, buf[STATE_RECORD_SIZE];
		int r = boot_choose(cur, &next, &slot);

		state_encode(cur, buf); /* the table holds only records a device can hold */
		REQUIRE(state_decode(buf, sizeof(buf), &want) == 0);
		want = *cur;

		if (cur->state != STATE_TRYING) {
			/* IDLE boots the active slot; WRITING was resolved before, boots it too. */
			CHECK_EQ(r, 0);
			CHECK_EQ(slot, cur->active);
		} else if (cur->tries_left > 0) {
			/* The try is paid for before the target boots. */
			CHECK_EQ(r, 1);
			CHECK_EQ(slot, cur->target);
			want.tries_left--;
			want.trial_booted = 1; /* ended cleanly or not, the next boot will know */
		} else {
			CHECK_EQ(r, 1);
			CHECK_EQ(slot, cur->active);
			want.state = STATE_IDLE;
			want.tries_left = 0;
			want.apply_attempts = 0;
			want.clean_reboots = 0;
			want.trial_booted = 0;
			want.slot[cur->target].status = SLOT_BAD;
			memcpy(want.last_failed, cur->txn, STATE_DIGEST_SIZE);
			want.last_error = ETIMEDOUT;
			CHECK(next.last_reason[0] != '\0');
			CHECK(strcmp(next.last_reason, cur->last_reason) != 0);
			memcpy(want.last_reason, next.last_reason, STATE_REASON_SIZE);
		}
		CHECK(record_eq(&next, &want));
	}
}

TEST(boot_resume_install_counts_then_gives_up)
{
	struct state_record recs[MAX_RECORDS];
	size_t n = gen_records(recs), seen = 0;

	for (size_t i = 0; i < n; i++) {
		const struct state_record *cur = &recs[i];
		struct state_record next, want = *cur;

		if (cur->state != STATE_WRITING)
			continue;
		seen++;
		int r = boot_resume_install(cur, &next);
		if (cur->apply_attempts < BOOT_MAX_APPLY_ATTEMPTS) {
			CHECK_EQ(r, 0);
			want.apply_attempts++;
		} else {
			CHECK_EQ(r, 1);
			want.state = STATE_IDLE;
			want.apply_attempts = 0;
			memcpy(want.last_failed, cur->txn, STATE_DIGEST_SIZE);
			want.last_error = ECANCELED;
			CHECK(next.last_reason[0] != '\0');
			memcpy(want.last_reason, next.last_reason, STATE_REASON_SIZE);
		}
		CHECK(record_eq(&next, &want));
	}
	CHECK_EQ(seen, 4 * BOOT_MAX_APPLY_ATTEMPTS);
}

TEST(boot_begin_install_then_done)
{
	struct state_record recs[MAX_RECORDS];
	struct boot_install in;
	size_t n = gen_records(recs);

	sample_install(&in);
	for (size_t i = 0; i < n; i++) {
		const struct state_record *cur = &recs[i];
		struct state_record writing, want = *cur;
		uint8_t t = !cur->active;

		if (cur->state != STATE_IDLE)
			continue;
		boot_begin_install(cur, &in, &writing);
		want.state = STATE_WRITING;
		want.target = t;
		want.apply_attempts = 1;
		want.tries_left = 0;
		memcpy(want.txn, in.txn, STATE_DIGEST_SIZE);
		memcpy(want.image_digest, in.image_digest, STATE_DIGEST_SIZE);
		want.image_size = in.image_size;
		want.target_version = in.version;
		want.target_floor = in.floor;
		memcpy(want.target_label, in.label, STATE_LABEL_SIZE);
		want.slot[t].status = SLOT_INCOMPLETE;
		want.slot[t].version = 0;
		memset(want.slot[t].label, 0, STATE_LABEL_SIZE);
		memcpy(want.txn_file, in.fingerprint, STATE_FINGERPRINT_SIZE);
		/* A new transaction starts with no error of an earlier one. */
		want.last_error = 0;
		memset(want.last_reason, 0, STATE_REASON_SIZE);
		/* and ends any permission to downgrade: it was for this one install. */
		want.allow_version = 0;
		CHECK(record_eq(&writing, &want));

		for (uint8_t tries = 1; tries <= 4; tries++) {
			struct state_record trying, want2 = writing;
			boot_install_done(&writing, tries, &trying);
			want2.state = STATE_TRYING;
			want2.tries_left = tries;
			want2.max_tries = tries;
			want2.apply_attempts = 0;
			want2.slot[t].status = SLOT_UNCONFIRMED;
			want2.slot[t].version = in.version;
			memcpy(want2.slot[t].label, in.label, STATE_LABEL_SIZE);
			CHECK(record_eq(&trying, &want2));
		}
	}
}

TEST(boot_install_failed_and_reject)
{
	struct state_record recs[MAX_RECORDS];
	size_t n = gen_records(recs);
	const char *why = "chunk 3 does not match its digest";

	for (size_t i = 0; i < n; i++) {
		const struct state_record *cur = &recs[i];
		struct state_record next, want = *cur;

		if (cur->state == STATE_WRITING) {
			/* Back to IDLE; the target stays INCOMPLETE; only the file is blamed. */
			boot_install_failed(cur, -EBADMSG, why, fingerprint, &next);
			want.state = STATE_IDLE;
			want.tries_left = 0;
			want.apply_attempts = 0;
		} else if (cur->state == STATE_IDLE) {
			boot_reject(cur, -EBADMSG, why, fingerprint, &next);
		} else {
			continue;
		}
		/* Remembered newest first; the oldest of the four is forgotten. */
		memmove(want.rejected[1], want.rejected[0],
		        (STATE_REJECTED_FILES - 1) * STATE_FINGERPRINT_SIZE);
		memcpy(want.rejected[0], fingerprint, STATE_FINGERPRINT_SIZE);
		want.last_error = EBADMSG;
		util_set_string(want.last_reason, STATE_REASON_SIZE, why);
		CHECK(record_eq(&next, &want));
	}
}

TEST(boot_mark_good_every_state)
{
	struct state_record recs[MAX_RECORDS];
	size_t n = gen_records(recs);

	for (size_t i = 0; i < n; i++) {
		const struct state_record *cur = &recs[i];
		for (uint8_t booted = 0; booted < 2; booted++) {
			struct state_record next, again, want = *cur;
			int r = boot_mark_good(cur, booted, &next);

			if (cur->state == STATE_TRYING && booted == cur->target) {
				/* Confirmed, even with no tries left (the last trial). */
				CHECK_EQ(r, 1);
				want.state = STATE_IDLE;
				want.tries_left = 0;
				want.apply_attempts = 0;
				want.active = cur->target;
				want.target = cur->active;
				want.slot[cur->target].status = SLOT_GOOD;
				want.version_floor = MAX(cur->version_floor, cur->target_floor);
				memcpy(want.last_done, cur->txn, STATE_DIGEST_SIZE);
				want.last_error = 0;
				memset(want.last_reason, 0, STATE_REASON_SIZE);
				want.allow_version = 0; /* a confirmation ends a permission */
			} else if (booted != cur->active) {
				CHECK_EQ(r, -EPERM);
			} else if (cur->slot[booted].status == SLOT_GOOD) {
				CHECK_EQ(r, 0);
			} else {
				/* The factory slot's first confirmation. */
				CHECK_EQ(r, 1);
				want.slot[booted].status = SLOT_GOOD;
				want.allow_version = 0;
			}
			if (r >= 0)
				CHECK(record_eq(&next, &want));
			if (r != 1)
				continue;
			/* Idempotent: a second mark-good from the same slot changes nothing. */
			CHECK_EQ(boot_mark_good(&next, booted, &again), 0);
			CHECK(record_eq(&again, &next));
		}
	}
}

TEST(boot_mark_bad_every_state)
{
	struct state_record recs[MAX_RECORDS];
	size_t n = gen_records(recs);

	for (size_t i = 0; i < n; i++) {
		const struct state_record *cur = &recs[i];
		for (uint8_t booted = 0; booted < 2; booted++) {
			struct state_record next, want = *cur;
			int r = boot_mark_bad(cur, booted, NULL, &next);

			if (cur->state != STATE_TRYING || booted != cur->target) {
				CHECK_EQ(r, -EPERM);
				continue;
			}
			CHECK_EQ(r, 1);
			want.state = STATE_IDLE;
			want.tries_left = 0;
			want.apply_attempts = 0;
			want.slot[cur->target].status = SLOT_BAD;
			memcpy(want.last_failed, cur->txn, STATE_DIGEST_SIZE);
			want.last_error = ECANCELED;
			CHECK(next.last_reason[0] != '\0');
			memcpy(want.last_reason, next.last_reason, STATE_REASON_SIZE);
			CHECK(record_eq(&next, &want));
		}
	}
}

/* ---- properties over every transition of every record ---- */

typedef void (*visit_fn)(const struct state_record *cur, const struct state_record *next,
                         const char *what, int is_mark_good);

/* Applies choose, mark-good and mark-bad to cur, and the others where their source state allows. */
static void for_each_transition(const struct state_record *cur, visit_fn visit)
{
	struct state_record next;
	struct boot_install in;
	uint8_t slot;

	sample_install(&in);
	if (boot_choose(cur, &next, &slot) > 0)
		visit(cur, &next, "choose", 0);
	for (uint8_t booted = 0; booted < 2; booted++) {
		if (boot_mark_good(cur, booted, &next) > 0)
			visit(cur, &next, "mark-good", 1);
		if (boot_mark_bad(cur, booted, NULL, &next) > 0)
			visit(cur, &next, "mark-bad", 0);
	}
	if (cur->state == STATE_IDLE) {
		boot_begin_install(cur, &in, &next);
		visit(cur, &next, "begin-install", 0);
		boot_reject(cur, -EMEDIUMTYPE, "for another device", fingerprint, &next);
		visit(cur, &next, "reject", 0);
		boot_reject(cur, -ESTALE, "old", fingerprint, &next);
		visit(cur, &next, "reject (short reason)", 0);
	}
	if (cur->state == STATE_WRITING) {
		boot_resume_install(cur, &next);
		visit(cur, &next, "resume-install", 0);
		boot_install_done(cur, BOOT_DEFAULT_TRIES, &next);
		visit(cur, &next, "install-done", 0);
		boot_install_failed(cur, -EIO, "slot write failed", fingerprint, &next);
		visit(cur, &next, "install-failed", 0);
	}
}

static int property_failures;

/* Counts a failure, and names each failing transition once. */
static void property_fail(const char *what, const struct state_record *cur, const char *msg)
{
	static const char *named[16];
	size_t i = 0;

	if (property_failures++ == 0)
		memset(named, 0, sizeof(named));
	while (i < ARRAY_SIZE(named) && named[i] && named[i] != what)
		i++;
	if (i < ARRAY_SIZE(named) && !named[i]) {
		named[i] = what;
		fprintf(stderr, "  %s (e.g. from %s, active %c): %s\n", what,
		        state_kind_name(cur->state), state_slot_letter(cur->active), msg);
	}
}

static void check_active_untouched(const struct state_record *cur, const struct state_record *next,
                                   const char *what, int is_mark_good)
{
	uint8_t a = cur->active;
	int ok;

	if (!is_mark_good)
		ok = next->active == a && next->slot[a].status == cur->slot[a].status;
	else if (next->active != a) /* the trial slot confirmed: the old slot is left as it was */
		ok = cur->state == STATE_TRYING && next->active == cur->target &&
		     next->slot[next->active].status == SLOT_GOOD &&
		     next->slot[a].status == cur->slot[a].status;
	else /* only the unconfirmed factory slot may become GOOD */
		ok = next->slot[a].status == cur->slot[a].status ||
		     (cur->slot[a].status == SLOT_UNKNOWN && next->slot[a].status == SLOT_GOOD);
	if (!ok)
		property_fail(what, cur, "touched the active slot");
}

TEST(boot_only_mark_good_changes_the_active_slot)
{
	struct state_record recs[MAX_RECORDS];
	size_t n = gen_records(recs);

	property_failures = 0;
	for (size_t i = 0; i < n; i++)
		for_each_transition(&recs[i], check_active_untouched);
	CHECK_EQ(property_failures, 0);
}

/* What is committed must be what the next boot reads back, or the transition is lost. */
static void check_persists(const struct state_record *cur, const struct state_record *next,
                           const char *what, int is_mark_good)
{
	uint8_t buf[STATE_RECORD_SIZE];
	struct state_record back;

	(void)is_mark_good;
	state_encode(next, buf);
	int r = state_decode(buf, sizeof(buf), &back);
	if (r != 0 || !record_eq(&back, next))
		property_fail(what, cur, r ? fail_reason() : "reads back different");
}

TEST(boot_every_transition_persists)
{
	struct state_record recs[MAX_RECORDS];
	size_t n = gen_records(recs);

	property_failures = 0;
	for (size_t i = 0; i < n; i++)
		for_each_transition(&recs[i], check_persists);
	CHECK_EQ(property_failures, 0);
}

/* ---- whole sequences, each step committed and read back as a device would ---- */

/*
 * Commits next over *dev as a device does: *dev becomes what the next boot
 * reads back. A record that does not decode is lost, and *dev stays as it was.
 */
static int commit_(struct state_record *dev, const struct state_record *next)
{
	uint8_t buf[STATE_RECORD_SIZE];
	struct state_record n = *next;

	n.seq = dev->seq + 1;
	state_encode(&n, buf);
	return state_decode(buf, sizeof(buf), dev);
}

#define COMMIT(dev, next)                                                                          \
	do {                                                                                       \
		if (commit_(dev, next) != 0)                                                       \
			test_fail(__FILE__, __LINE__,                                              \
			          "commit lost: the record does not read back");                   \
	} while (0)

TEST(boot_trial_without_mark_good_rolls_back_after_n_boots)
{
	struct boot_install in;

	sample_install(&in);
	for (uint8_t active = 0; active < 2; active++) {
		for (uint8_t tries = 1; tries <= 4; tries++) {
			struct state_record st, next;
			int target_boots = 0;

			state_init(&st);
			st.active = active;
			st.target = !active;
			st.slot[active].status = SLOT_GOOD;
			boot_begin_install(&st, &in, &next);
			COMMIT(&st, &next);
			boot_install_done(&st, tries, &next);
			COMMIT(&st, &next);
			for (int boot = 1; boot <= tries + 5; boot++) {
				uint8_t slot;
				int commit = boot_choose(&st, &next, &slot);
				/* Boots 1..N: the target, each counted; N+1: the rollback; then
				 * quiet. */
				CHECK_EQ(commit, boot <= tries + 1);
				CHECK_EQ(slot, boot <= tries ? !active : active);
				target_boots += slot != active;
				if (commit) {
					COMMIT(&st, &next);
				}
			}
			CHECK_EQ(target_boots, tries);
			CHECK_EQ(st.state, STATE_IDLE);
			CHECK_EQ(st.active, active);
			CHECK_EQ(st.slot[active].status, SLOT_GOOD);
			CHECK_EQ(st.slot[!active].status, SLOT_BAD);
			CHECK(memcmp(st.last_failed, in.txn, STATE_DIGEST_SIZE) == 0);
			CHECK_EQ(st.last_error, ETIMEDOUT);
		}
	}
}

TEST(boot_interrupted_install_gives_up_after_max_attempts)
{
	struct state_record st, next;
	struct boot_install in;
	int retries = 0;

	sample_install(&in);
	state_init(&st);
	boot_begin_install(&st, &in, &next);
	COMMIT(&st, &next);
	/* Power is lost in every attempt: each boot finds WRITING again. */
	for (int boot = 0; boot < 10 && st.state == STATE_WRITING; boot++) {
		int gave_up = boot_resume_install(&st, &next);
		COMMIT(&st, &next);
		if (!gave_up)
			retries++;
	}
	CHECK_EQ(retries, BOOT_MAX_APPLY_ATTEMPTS - 1);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 0);
	CHECK_EQ(st.slot[1].status, SLOT_INCOMPLETE);
	CHECK(memcmp(st.last_failed, in.txn, STATE_DIGEST_SIZE) == 0);
	CHECK(st.last_reason[0] != '\0');
}

/* A device that once rolled back must still be able to confirm its next update. */
TEST(boot_mark_good_on_the_last_try_after_an_earlier_rollback)
{
	struct state_record st, next;
	struct boot_install in;
	uint8_t slot;

	sample_install(&in);
	state_init(&st);
	st.slot[0].status = SLOT_GOOD;
	/* Update 1 is never confirmed: one trial boot, then the rollback. */
	boot_begin_install(&st, &in, &next);
	COMMIT(&st, &next);
	boot_install_done(&st, 1, &next);
	COMMIT(&st, &next);
	boot_choose(&st, &next, &slot);
	COMMIT(&st, &next);
	REQUIRE(boot_choose(&st, &next, &slot) == 1 && slot == 0);
	COMMIT(&st, &next);
	REQUIRE(st.state == STATE_IDLE && st.last_reason[0] != '\0');

	/* Update 2 gets two trial boots and is confirmed in the second. */
	memset(in.txn, 0xc3, sizeof(in.txn));
	in.version = 9;
	boot_begin_install(&st, &in, &next);
	COMMIT(&st, &next);
	boot_install_done(&st, 2, &next);
	COMMIT(&st, &next);
	for (int boot = 0; boot < 2; boot++) {
		REQUIRE(boot_choose(&st, &next, &slot) == 1 && slot == 1);
		COMMIT(&st, &next);
	}
	CHECK_EQ(st.tries_left, 0);
	REQUIRE(boot_mark_good(&st, 1, &next) == 1);
	COMMIT(&st, &next);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 1);
	CHECK_EQ(st.slot[1].status, SLOT_GOOD);
	CHECK_EQ(st.slot[1].version, 9);
	CHECK(memcmp(st.last_done, in.txn, STATE_DIGEST_SIZE) == 0);
	/* From now on slot B boots, without a commit; a mark-bad is too late. */
	for (int boot = 0; boot < 3; boot++) {
		CHECK_EQ(boot_choose(&st, &next, &slot), 0);
		CHECK_EQ(slot, 1);
	}
	CHECK_EQ(boot_mark_bad(&st, 1, NULL, &next), -EPERM);
}
