/* SPDX-License-Identifier: MIT */
/*
 * The applier on a device of plain files: installing a staged bundle, the
 * trial boots and their rollback, resuming an interrupted install, and an
 * unreadable record. Rejections and injected faults: test-apply-failures.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "boot.h"
#include "bundle.h"
#include "helpers.h"
#include "stage.h"
#include "state.h"
#include "test.h"

#define DIGEST_EQ(a, b) (memcmp((a), (b), CRYPTO_DIGEST_SIZE) == 0)

/* The image of update NAME, as it must appear at the start of slot B. */
static int image_digest(const char *name, uint8_t ret[CRYPTO_DIGEST_SIZE])
{
	char buf[HELPERS_PATH_MAX];

	snprintf(buf, sizeof(buf), "%s.img", name);
	return helpers_sha256_file(test_path(buf), HELPERS_IMAGE_SIZE, ret);
}

static int txn_of(const char *name, uint8_t ret[CRYPTO_DIGEST_SIZE])
{
	char buf[HELPERS_PATH_MAX];

	snprintf(buf, sizeof(buf), "%s.sota", name);
	return helpers_bundle_txn(test_path(buf), ret);
}

/* Checks a freshly installed update NAME: on trial in slot B with one try spent. */
static void check_installed(const struct helpers_device *d, const char *name, uint64_t version)
{
	uint8_t want[CRYPTO_DIGEST_SIZE], got[CRYPTO_DIGEST_SIZE], txn[CRYPTO_DIGEST_SIZE];
	struct state_record st;

	REQUIRE(helpers_read_state(d->state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	CHECK_EQ(st.active, 0);
	CHECK_EQ(st.target, 1);
	CHECK_EQ(st.max_tries, d->cfg.tries);
	CHECK_EQ(st.tries_left, d->cfg.tries - 1);
	CHECK_EQ(st.apply_attempts, 0);
	CHECK_EQ(st.slot[0].status, SLOT_GOOD);
	CHECK_EQ(st.slot[0].version, 1);
	CHECK_EQ(st.slot[1].status, SLOT_UNCONFIRMED);
	CHECK_EQ(st.slot[1].version, version);
	REQUIRE(txn_of(name, txn) == 0);
	CHECK(DIGEST_EQ(st.txn, txn));
	REQUIRE(image_digest(name, want) == 0);
	REQUIRE(helpers_sha256_file(d->slot[1], HELPERS_IMAGE_SIZE, got) == 0);
	CHECK(DIGEST_EQ(got, want));
	CHECK(DIGEST_EQ(st.image_digest, want));
	CHECK_EQ(st.image_size, HELPERS_IMAGE_SIZE);
}

TEST(apply_installs_staged_bundle_then_mark_good)
{
	_cleanup_device_ struct helpers_device d = {0};
	uint8_t a_before[CRYPTO_DIGEST_SIZE], a_after[CRYPTO_DIGEST_SIZE], txn[CRYPTO_DIGEST_SIZE];
	struct helpers_fault watch_a = {.op = IO_WRITE, .suffix = "/slot-a"};
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	REQUIRE(stage_bundle(test_path("v2.sota"), d.data, HELPERS_DROPIN, d.keys,
	                     HELPERS_COMPATIBLE, &st, HELPERS_SLOT_SIZE, NULL) == 0);
	REQUIRE(helpers_slot_digest(&d, 0, a_before) == 0);

	helpers_fault_set(&watch_a);
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	helpers_fault_set(NULL);
	CHECK_EQ(slot, 1);
	CHECK_EQ(watch_a.calls, 0); /* not one write to the active slot */
	check_installed(&d, "v2", 2);
	REQUIRE(helpers_slot_digest(&d, 0, a_after) == 0);
	CHECK(DIGEST_EQ(a_before, a_after));

	/* The new system confirms: IDLE, B active and good, the transaction done. */
	CHECK_EQ(helpers_mark_good(&d, 1), 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 1);
	CHECK_EQ(st.slot[1].status, SLOT_GOOD);
	CHECK_EQ(st.last_error, 0);
	REQUIRE(txn_of("v2", txn) == 0);
	CHECK(DIGEST_EQ(st.last_done, txn));
	CHECK_EQ(helpers_mark_good(&d, 1), 0); /* idempotent */
	/* mark-good removed the applied bundle. */
	CHECK(!helpers_exists(test_path("data/systemota/staged/update.sota")));

	/* Next boot: B, no commit, even though the bundle is staged again (say, by hand). */
	REQUIRE(helpers_drop(&d, "v2") == 0);
	uint64_t seq = st.seq;
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.seq, seq);
	CHECK_EQ(st.state, STATE_IDLE);
	/* The running system's clean-up then removes it. */
	CHECK_EQ(stage_cleanup(d.data, HELPERS_DROPIN, d.keys, &st), 1);
	CHECK(!helpers_exists(test_path("data/systemota/staged/update.sota")));
}

TEST(apply_mark_good_after_an_earlier_rejection)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_key other;
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	/* First a refused file, which leaves a long reason in the record... */
	REQUIRE(helpers_keypair("other", &other) == 0);
	REQUIRE(helpers_update("evil", other.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "evil") == 0);
	REQUIRE(helpers_apply(&d, &slot) == -ENOKEY);
	/* ...then a good update, installed and confirmed: the reason is cleared. */
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 1);
	check_installed(&d, "v2", 2);
	CHECK_EQ(helpers_mark_good(&d, 1), 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 1);
	CHECK_EQ(st.last_error, 0);
	CHECK_EQ(st.last_reason[0], '\0');
	/* And it stays confirmed: B boots on, with no trial to run out. */
	for (int i = 0; i < HELPERS_TRIES + 1; i++) {
		helpers_apply(&d, &slot);
		CHECK_EQ(slot, 1);
	}
}

/*
 * The threaded pipeline over sixteen chunks (the ring of three or four
 * buffers wraps several times) and a last chunk that is no whole number of
 * 4096-byte blocks (written through the page cache, read back rounded up),
 * read-back on and off: the slot holds the image, each chunk was read back
 * once (or never), by the install's own threads.
 */
static void check_threads_odd_image(bool read_back)
{
	_cleanup_device_ struct helpers_device d = {0};
	const uint64_t size = 15 * HELPERS_CHUNK_SIZE + 1000;
	struct helpers_fault watch = {.op = IO_READ, .suffix = "/slot-b", .threads = true};
	uint8_t want[CRYPTO_DIGEST_SIZE], got[CRYPTO_DIGEST_SIZE];
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_sized_bundle(d.key.priv, size, HELPERS_LEVEL) == 0);
	REQUIRE(helpers_drop(&d, "b") == 0);
	d.cfg.no_read_back = !read_back;
	helpers_fault_set(&watch);
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	helpers_fault_set(NULL);
	CHECK_EQ(slot, 1);
	CHECK(watch.from_threads > 0);
	/* The read-back's reads, and the boot check's one of the slot's footer (none: unverified).
	 */
	CHECK_EQ(watch.calls, (read_back ? 16 : 0) + 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	CHECK_EQ(st.slot[1].version, 2);
	REQUIRE(helpers_sha256_file(test_path("b.img"), size, want) == 0);
	REQUIRE(helpers_sha256_file(d.slot[1], size, got) == 0);
	CHECK(DIGEST_EQ(got, want));
}

TEST(apply_threads_odd_sized_image_read_back)
{
	check_threads_odd_image(true);
}

TEST(apply_threads_odd_sized_image_no_read_back)
{
	check_threads_odd_image(false);
}

TEST(apply_installs_plain_copy_uncompressed)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct create_options o;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_image(test_path("v5.img"), HELPERS_IMAGE_SIZE, 5) == 0);
	helpers_bundle_options(&o, test_path("v5.img"), test_path("v5.sota"), d.key.priv, 5);
	o.level = 0;
	REQUIRE(create_bundle(&o) == 0);
	REQUIRE(helpers_drop(&d, "v5") == 0);
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 1);
	check_installed(&d, "v5", 5);
}

/* Installs v2, then boots again and again without mark-good. */
static void check_never_confirmed(uint8_t tries)
{
	_cleanup_device_ struct helpers_device d = {0};
	uint8_t a_before[CRYPTO_DIGEST_SIZE], a_after[CRYPTO_DIGEST_SIZE], txn[CRYPTO_DIGEST_SIZE];
	struct state_record st;
	int boots_b = 0, boots = 0;
	uint8_t slot = 1;

	REQUIRE(helpers_device(&d) == 0);
	d.cfg.tries = tries;
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	REQUIRE(helpers_slot_digest(&d, 0, a_before) == 0);
	/* The install boot counts as the first trial boot. */
	while (slot == 1 && boots < 3 * STATE_MAX_TRIES) {
		CHECK_EQ(helpers_apply(&d, &slot), 0);
		boots++;
		boots_b += slot == 1;
	}
	CHECK_EQ(boots_b, tries);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 0);
	CHECK_EQ(st.slot[0].status, SLOT_GOOD);
	CHECK_EQ(st.slot[1].status, SLOT_BAD);
	CHECK_EQ(st.last_error, ETIMEDOUT);
	CHECK(st.last_reason[0] != '\0');
	REQUIRE(txn_of("v2", txn) == 0);
	CHECK(DIGEST_EQ(st.last_failed, txn));
	REQUIRE(helpers_slot_digest(&d, 0, a_after) == 0);
	CHECK(DIGEST_EQ(a_before, a_after));

	/* The same bundle, still staged, is not installed again: A, and nothing committed. */
	for (int i = 0; i < 2; i++) {
		struct state_record again;
		CHECK_EQ(helpers_apply(&d, &slot), 0);
		CHECK_EQ(slot, 0);
		REQUIRE(helpers_read_state(d.state, &again) == 0);
		CHECK_EQ(again.seq, st.seq);
	}
}

TEST(apply_rolls_back_unconfirmed_update_after_3_tries)
{
	check_never_confirmed(3);
}

TEST(apply_rolls_back_unconfirmed_update_after_1_try)
{
	check_never_confirmed(1);
}

/* Without the data partition (or its drop-in directory) trial boots still count down. */
static void check_trial_without_dropin(const char *dropin)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	REQUIRE(helpers_apply(&d, &slot) == 0);
	REQUIRE(slot == 1);
	d.cfg.data_dir = dropin ? d.cfg.data_dir : NULL; /* NULL: no data partition */
	d.cfg.dropin = dropin ? dropin : d.cfg.dropin;
	for (int left = HELPERS_TRIES - 2; left >= 0; left--) {
		helpers_apply(&d, &slot);
		CHECK_EQ(slot, 1);
		REQUIRE(helpers_read_state(d.state, &st) == 0);
		CHECK_EQ(st.state, STATE_TRYING);
		CHECK_EQ(st.tries_left, left);
	}
	helpers_apply(&d, &slot);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.slot[1].status, SLOT_BAD);
	CHECK_EQ(st.last_error, ETIMEDOUT);
}

TEST(apply_counts_trial_boots_without_dropin_dir)
{
	check_trial_without_dropin(NULL);
}

TEST(apply_counts_trial_boots_with_missing_dropin_dir)
{
	check_trial_without_dropin("no-such-dir");
}

/* As if power was lost during an install: the record says WRITING with update NAME's txn. */
static int interrupt_install(const struct helpers_device *d, const char *name, uint8_t attempts)
{
	char path[HELPERS_PATH_MAX];
	struct state_record st, next;
	struct boot_install in = {0};
	struct bundle b;
	int r;

	snprintf(path, sizeof(path), "%s.sota", name);
	r = bundle_open(test_path(path), &b);
	if (r < 0)
		return r;
	memcpy(in.txn, b.txn, sizeof(in.txn));
	memcpy(in.image_digest, b.manifest.image_digest, sizeof(in.image_digest));
	in.image_size = b.manifest.image_size;
	in.version = b.manifest.version;
	memcpy(in.label, b.manifest.label, sizeof(in.label));
	bundle_close(&b);
	r = helpers_read_state(d->state, &st);
	if (r < 0)
		return r;
	boot_begin_install(&st, &in, &next);
	next.apply_attempts = attempts;
	r = helpers_write_state(d->state, &next);
	/* Half an image on the target, as the cut left it. */
	return r < 0 ? r : helpers_image(d->slot[1], HELPERS_SLOT_SIZE / 2, 99);
}

TEST(apply_resumes_interrupted_install)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record before, st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	REQUIRE(interrupt_install(&d, "v2", 1) == 0);
	REQUIRE(helpers_read_state(d.state, &before) == 0);
	REQUIRE(before.state == STATE_WRITING);
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 1);
	check_installed(&d, "v2", 2);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	/* Attempt counted, install done, try counted: three commits. */
	CHECK_EQ(st.seq, before.seq + 3);
}

TEST(apply_gives_up_after_max_interrupted_attempts)
{
	_cleanup_device_ struct helpers_device d = {0};
	uint8_t a_before[CRYPTO_DIGEST_SIZE], a_after[CRYPTO_DIGEST_SIZE];
	uint8_t b_before[CRYPTO_DIGEST_SIZE], b_after[CRYPTO_DIGEST_SIZE], txn[CRYPTO_DIGEST_SIZE];
	struct state_record st, again;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	REQUIRE(interrupt_install(&d, "v2", BOOT_MAX_APPLY_ATTEMPTS) == 0);
	REQUIRE(helpers_slot_digest(&d, 0, a_before) == 0);
	REQUIRE(helpers_slot_digest(&d, 1, b_before) == 0);
	helpers_apply(&d, &slot);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 0);
	CHECK_EQ(st.last_error, ECANCELED);
	CHECK(st.last_reason[0] != '\0');
	CHECK_EQ(st.slot[1].status, SLOT_INCOMPLETE);
	REQUIRE(txn_of("v2", txn) == 0);
	CHECK(DIGEST_EQ(st.last_failed, txn));
	REQUIRE(helpers_slot_digest(&d, 0, a_after) == 0);
	REQUIRE(helpers_slot_digest(&d, 1, b_after) == 0);
	CHECK(DIGEST_EQ(a_before, a_after));
	CHECK(DIGEST_EQ(b_before, b_after)); /* no fourth attempt */

	/* And it stays given up: still staged, never retried, nothing committed. */
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &again) == 0);
	CHECK_EQ(again.seq, st.seq);
}

TEST(apply_interrupted_install_whose_bundle_is_gone)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(interrupt_install(&d, "v2", 1) == 0);
	CHECK_EQ(helpers_apply(&d, &slot), -ENOENT);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.last_error, ENOENT);
	CHECK_EQ(st.slot[1].status, SLOT_INCOMPLETE);
}

TEST(apply_reinitialises_unreadable_record)
{
	_cleanup_device_ struct helpers_device d = {0};
	static const uint8_t ext4_magic[2] = {0x53, 0xef};
	uint8_t *before, *after;
	size_t n_before, n_after;
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	/* Both copies garbage (the whole partition, history included). */
	REQUIRE(helpers_image(d.state, HELPERS_STATE_SIZE, 1234) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == -ENODATA);
	/* Neither slot holds a filesystem: A is booted as a guess, and nothing is made active. */
	REQUIRE(helpers_read_file(d.state, &before, &n_before) == 0);
	CHECK_EQ(helpers_apply(&d, &slot), -ENODATA);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_file(d.state, &after, &n_after) == 0);
	/* Both copies as they were (the history may have gained a note). */
	REQUIRE(n_before == HELPERS_STATE_SIZE && n_after == n_before);
	CHECK(memcmp(before, after, STATE_BLOCK_SIZE) == 0);
	CHECK(memcmp(before + n_before / 2, after + n_before / 2, STATE_BLOCK_SIZE) == 0);
	free(before);
	free(after);
	/* Slot A has an ext4 superblock: it is checked, re-initialised as active. */
	int fd = open(d.slot[0], O_WRONLY | O_CLOEXEC);
	REQUIRE(fd >= 0);
	REQUIRE(pwrite(fd, ext4_magic, 2, 1080) == 2);
	close(fd);
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 0);
	CHECK_EQ(st.flags, STATE_FLAG_VERSIONS_UNKNOWN);
	CHECK_EQ(st.last_error, EBADMSG);
	CHECK(strstr(st.last_reason, "re-initialised") != NULL);
	/* It boots on from the fresh record, committing nothing more. */
	uint64_t seq = st.seq;
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.seq, seq);
}

TEST(apply_uses_the_newer_copy_when_one_is_torn)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	REQUIRE(helpers_apply(&d, &slot) == 0 && slot == 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	/* Tear the newest copy (the TRYING commit): the previous one is in charge again. */
	uint64_t copy = (st.seq % 2 == 1) ? 0 : HELPERS_STATE_SIZE / 2;
	REQUIRE(helpers_flip_byte(d.state, copy + 100) == 0);
	struct state_record older;
	REQUIRE(helpers_read_state(d.state, &older) == 0);
	CHECK_EQ(older.seq, st.seq - 1);
	CHECK_EQ(older.state, STATE_TRYING);
	CHECK_EQ(older.tries_left, HELPERS_TRIES); /* the install commit, try not yet counted */
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.seq, older.seq + 1);
	CHECK_EQ(st.state, STATE_TRYING);
	CHECK_EQ(st.tries_left, HELPERS_TRIES - 1);
}
