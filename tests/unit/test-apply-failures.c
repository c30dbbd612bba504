/* SPDX-License-Identifier: MIT */
/*
 * The applier refusing what it must refuse, and surviving device faults: in
 * every case slot A boots untouched, the record says why, and a bad file is
 * not judged again at every boot until it is replaced.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "boot.h"
#include "bundle.h"
#include "helpers.h"
#include "state.h"
#include "test.h"

#define DIGEST_EQ(a, b) (memcmp((a), (b), CRYPTO_DIGEST_SIZE) == 0)

/*
 * dropin/update.sota is there and must be refused with code. Checks the
 * boot, the record and both slots, then that the next boot neither judges
 * the file again nor commits anything.
 */
static void check_rejected(struct helpers_device *d, int code, bool writes_b)
{
	uint8_t a0[CRYPTO_DIGEST_SIZE], a1[CRYPTO_DIGEST_SIZE], b0[CRYPTO_DIGEST_SIZE],
	        b1[CRYPTO_DIGEST_SIZE], fp[STATE_FINGERPRINT_SIZE];
	struct state_record st, again;
	uint8_t slot = 9;

	REQUIRE(helpers_slot_digest(d, 0, a0) == 0);
	REQUIRE(helpers_slot_digest(d, 1, b0) == 0);
	REQUIRE(helpers_fingerprint(d, "update.sota", fp) == 0);
	CHECK_EQ(helpers_apply(d, &slot), code);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d->state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 0);
	CHECK_EQ(st.last_error, -code);
	CHECK(st.last_reason[0] != '\0');
	CHECK(boot_is_rejected(&st, fp));
	CHECK(memcmp(st.rejected[0], fp, STATE_FINGERPRINT_SIZE) == 0);
	CHECK_EQ(st.slot[0].status, SLOT_GOOD);
	CHECK_EQ(st.slot[0].version, 1);
	/* Refused before writing: B as it was. Refused while writing: B never boots. */
	CHECK_EQ(st.slot[1].status, writes_b ? SLOT_INCOMPLETE : SLOT_UNKNOWN);
	REQUIRE(helpers_slot_digest(d, 0, a1) == 0);
	CHECK(DIGEST_EQ(a0, a1));
	REQUIRE(helpers_slot_digest(d, 1, b1) == 0);
	if (!writes_b)
		CHECK(DIGEST_EQ(b0, b1));

	/* Next boot: the same file is not judged again, nothing is written. */
	struct helpers_fault watch_b = {.op = IO_WRITE, .suffix = "/slot-b"};
	helpers_fault_set(&watch_b);
	helpers_apply(d, &slot);
	helpers_fault_set(NULL);
	CHECK_EQ(slot, 0);
	CHECK_EQ(watch_b.calls, 0);
	REQUIRE(helpers_read_state(d->state, &again) == 0);
	CHECK_EQ(again.seq, st.seq);
	REQUIRE(helpers_slot_digest(d, 1, b0) == 0);
	CHECK(DIGEST_EQ(b0, b1));
}

/* Good update v2 in dropin/update.sota (the previous file replaced): it installs. */
static void check_good_update_installs(struct helpers_device *d)
{
	uint8_t want[CRYPTO_DIGEST_SIZE], got[CRYPTO_DIGEST_SIZE];
	struct state_record st;
	uint8_t slot = 9;

	if (!helpers_exists(test_path("v2.sota")))
		REQUIRE(helpers_update("v2", d->key.priv, 2) == 0);
	REQUIRE(helpers_drop(d, "v2") == 0);
	CHECK_EQ(helpers_apply(d, &slot), 0);
	CHECK_EQ(slot, 1);
	REQUIRE(helpers_read_state(d->state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	CHECK_EQ(st.slot[1].version, 2);
	REQUIRE(helpers_sha256_file(test_path("v2.img"), HELPERS_IMAGE_SIZE, want) == 0);
	REQUIRE(helpers_sha256_file(d->slot[1], HELPERS_IMAGE_SIZE, got) == 0);
	CHECK(DIGEST_EQ(got, want));
}

TEST(apply_rejects_untrusted_key_until_replaced)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_key other;
	struct state_record st, again;
	uint8_t fp[CRYPTO_DIGEST_SIZE], slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_keypair("other", &other) == 0);
	REQUIRE(helpers_update("evil", other.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "evil") == 0);
	check_rejected(&d, -ENOKEY, false);

	/* A new copy of the same file is a new file: judged (and refused) again. */
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	REQUIRE(helpers_drop(&d, "evil") == 0);
	REQUIRE(helpers_fingerprint(&d, "update.sota", fp) == 0);
	CHECK(!boot_is_rejected(&st, fp));
	CHECK_EQ(helpers_apply(&d, &slot), -ENOKEY);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &again) == 0);
	CHECK_EQ(again.seq, st.seq + 1);
	CHECK(memcmp(again.rejected[0], fp, STATE_FINGERPRINT_SIZE) == 0);
	CHECK_EQ(again.last_error, ENOKEY);

	/* Replaced by a good bundle: installed. */
	check_good_update_installs(&d);
}

TEST(apply_rejects_bad_signature)
{
	_cleanup_device_ struct helpers_device d = {0};

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_copy_file(test_path("v2.sota"), test_path("forged.sota")) == 0);
	/* Version 2 -> 3 in the signed manifest. */
	REQUIRE(helpers_flip_byte(test_path("forged.sota"), BUNDLE_HEADER_SIZE + 64) == 0);
	REQUIRE(helpers_drop(&d, "forged") == 0);
	check_rejected(&d, -EKEYREJECTED, false);
}

TEST(apply_rejects_corrupt_payload_then_takes_good_copy)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct bundle b;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(bundle_open(test_path("v2.sota"), &b) == 0);
	uint64_t off = b.payload_offset + b.header.payload_size - 100; /* in the last chunk */
	bundle_close(&b);
	REQUIRE(helpers_copy_file(test_path("v2.sota"), test_path("bad.sota")) == 0);
	REQUIRE(helpers_flip_byte(test_path("bad.sota"), off) == 0);
	REQUIRE(helpers_drop(&d, "bad") == 0);
	check_rejected(&d, -EBADMSG, true);
	/* The failure was this file's, not the update's: a good copy of it still installs. */
	check_good_update_installs(&d);
}

TEST(apply_rejects_wrong_compatible)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct create_options o;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_image(test_path("x.img"), HELPERS_IMAGE_SIZE, 2) == 0);
	helpers_bundle_options(&o, test_path("x.img"), test_path("x.sota"), d.key.priv, 2);
	o.compatible = "other-board";
	REQUIRE(create_bundle(&o) == 0);
	REQUIRE(helpers_drop(&d, "x") == 0);
	check_rejected(&d, -EMEDIUMTYPE, false);
}

TEST(apply_rejects_version_not_newer)
{
	_cleanup_device_ struct helpers_device d = {0};

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v1", d.key.priv, 1) == 0); /* slot A holds version 1 */
	REQUIRE(helpers_drop(&d, "v1") == 0);
	check_rejected(&d, -ESTALE, false);
}

TEST(apply_rejects_version_below_floor)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	st.version_floor = 5;
	REQUIRE(helpers_write_state(d.state, &st) == 0);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	REQUIRE(helpers_drop(&d, "v3") == 0);
	check_rejected(&d, -ESTALE, false);
}

TEST(apply_rejects_image_larger_than_slot)
{
	_cleanup_device_ struct helpers_device d = {0};

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(truncate(d.slot[1], HELPERS_IMAGE_SIZE - 1) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	check_rejected(&d, -ENOSPC, false);
}

TEST(apply_two_bad_files_do_not_commit_every_boot)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_fault state_writes = {.op = IO_WRITE, .suffix = "/state"};
	struct helpers_key other;
	struct state_record first, st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_keypair("other", &other) == 0);
	REQUIRE(helpers_update("evil", other.priv, 2) == 0);
	REQUIRE(helpers_update("v1", d.key.priv, 1) == 0);
	REQUIRE(helpers_copy_file(test_path("evil.sota"),
	                          test_path("data/systemota/staged/a.sota")) == 0);
	REQUIRE(helpers_copy_file(test_path("v1.sota"),
	                          test_path("data/systemota/staged/b.sota")) == 0);
	CHECK_EQ(helpers_apply(&d, &slot), -ENOKEY); /* the first rejection is returned */
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &first) == 0);
	/* Both are remembered; the reason shown is the latest (b.sota: not newer). */
	uint8_t fp_a[STATE_FINGERPRINT_SIZE], fp_b[STATE_FINGERPRINT_SIZE];
	REQUIRE(helpers_fingerprint(&d, "a.sota", fp_a) == 0);
	REQUIRE(helpers_fingerprint(&d, "b.sota", fp_b) == 0);
	CHECK(boot_is_rejected(&first, fp_a));
	CHECK(boot_is_rejected(&first, fp_b));
	CHECK_EQ(first.last_error, ESTALE);
	/* Nothing changes in the drop-in directory: nothing may be written to the record. */
	helpers_fault_set(&state_writes);
	for (int boot = 2; boot <= 5; boot++) {
		helpers_apply(&d, &slot);
		CHECK_EQ(slot, 0);
	}
	helpers_fault_set(NULL);
	if (state_writes.calls)
		fprintf(stderr, "  the record was written %d times in 4 boots\n",
		        state_writes.calls);
	CHECK_EQ(state_writes.calls, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.seq, first.seq);
}

TEST(apply_records_a_shorter_reason_after_a_longer_one)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_key other;
	struct state_record first, st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_keypair("other", &other) == 0);
	REQUIRE(helpers_update("evil", other.priv, 2) == 0);
	REQUIRE(helpers_update("v1", d.key.priv, 1) == 0);
	REQUIRE(helpers_drop(&d, "evil") == 0);
	CHECK_EQ(helpers_apply(&d, &slot), -ENOKEY);
	REQUIRE(helpers_read_state(d.state, &first) == 0);
	CHECK_EQ(first.last_error, ENOKEY);
	/* Replaced by a stale bundle, refused with a reason shorter than the last one. */
	REQUIRE(helpers_drop(&d, "v1") == 0);
	CHECK_EQ(helpers_apply(&d, &slot), -ESTALE);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.seq, first.seq + 1);
	CHECK_EQ(st.last_error, ESTALE);
	CHECK(strstr(st.last_reason, "not newer") != NULL);
}

TEST(apply_corrupt_and_untrusted_files_do_not_rewrite_slot_every_boot)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_fault writes_b = {.op = IO_WRITE, .suffix = "/slot-b"};
	struct helpers_key other;
	struct bundle b;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_keypair("other", &other) == 0);
	REQUIRE(helpers_update("evil", other.priv, 2) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(bundle_open(test_path("v2.sota"), &b) == 0);
	uint64_t off = b.payload_offset + b.header.payload_size - 100;
	bundle_close(&b);
	REQUIRE(helpers_flip_byte(test_path("v2.sota"), off) == 0);
	REQUIRE(helpers_copy_file(test_path("v2.sota"),
	                          test_path("data/systemota/staged/a.sota")) == 0);
	REQUIRE(helpers_copy_file(test_path("evil.sota"),
	                          test_path("data/systemota/staged/b.sota")) == 0);
	CHECK_EQ(helpers_apply(&d, &slot), -EBADMSG);
	CHECK_EQ(slot, 0);
	/* The corrupt file was streamed into B once; it must not be streamed again. */
	helpers_fault_set(&writes_b);
	for (int boot = 2; boot <= 5; boot++) {
		helpers_apply(&d, &slot);
		CHECK_EQ(slot, 0);
	}
	helpers_fault_set(NULL);
	if (writes_b.calls)
		fprintf(stderr, "  slot B written %d times in 4 boots\n", writes_b.calls);
	CHECK_EQ(writes_b.calls, 0);
}

/*
 * An update v2 dropped, one I/O fault on slot B during the install: A boots,
 * the record stays WRITING and says why, and the next boot retries the
 * install (attempt 2) and tries slot B.
 */
static void check_io_fault(struct helpers_fault *f, const char *reason_part)
{
	_cleanup_device_ struct helpers_device d = {0};
	uint8_t a0[CRYPTO_DIGEST_SIZE], a1[CRYPTO_DIGEST_SIZE], want[CRYPTO_DIGEST_SIZE],
	        got[CRYPTO_DIGEST_SIZE];
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	REQUIRE(helpers_slot_digest(&d, 0, a0) == 0);
	helpers_fault_set(f);
	int r = helpers_apply(&d, &slot);
	helpers_fault_set(NULL);
	CHECK_EQ(f->failed, 1);
	CHECK_EQ(f->from_threads > 0, f->threads); /* which path ran: threaded or serial */
	CHECK_EQ(r, -EIO);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_WRITING);
	CHECK_EQ(st.apply_attempts, 1);
	CHECK_EQ(st.active, 0);
	CHECK_EQ(st.last_error, EIO);
	CHECK_EQ(st.slot[1].status, SLOT_INCOMPLETE);
	if (!strstr(st.last_reason, reason_part))
		fprintf(stderr, "  reason: '%s'\n", st.last_reason);
	CHECK(strstr(st.last_reason, reason_part) != NULL);
	REQUIRE(helpers_slot_digest(&d, 0, a1) == 0);
	CHECK(DIGEST_EQ(a0, a1));
	/* The next boot, fault gone: attempt 2 installs and tries B. */
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	REQUIRE(helpers_sha256_file(test_path("v2.img"), HELPERS_IMAGE_SIZE, want) == 0);
	REQUIRE(helpers_sha256_file(d.slot[1], HELPERS_IMAGE_SIZE, got) == 0);
	CHECK(DIGEST_EQ(got, want));
}

TEST(apply_fault_transient_state_write_is_retried)
{
	_cleanup_device_ struct helpers_device d = {0};
	/* The TRYING commit (write 3, after WRITING and its history) fails once: retried. */
	struct helpers_fault f = {.op = IO_WRITE, .suffix = "/state", .nth = 3, .error = -EIO};
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	helpers_fault_set(&f);
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	helpers_fault_set(NULL);
	CHECK_EQ(f.failed, 1);
	CHECK_EQ(slot, 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	CHECK_EQ(st.tries_left, HELPERS_TRIES - 1);
}

/* The first write to the slot clears its verity footer (footer.h), before any image byte. */
TEST(apply_fault_first_slot_write_fails)
{
	struct helpers_fault f = {.op = IO_WRITE, .suffix = "/slot-b", .nth = 1, .error = -EIO};

	check_io_fault(&f, "clearing the slot's verity footer");
}

TEST(apply_fault_first_image_write_fails)
{
	struct helpers_fault f = {.op = IO_WRITE, .suffix = "/slot-b", .nth = 2, .error = -EIO};

	check_io_fault(&f, "writing slot at offset 0");
}

TEST(apply_fault_slot_write_fails_midway)
{
	struct helpers_fault f = {.op = IO_WRITE, .suffix = "/slot-b", .nth = 4, .error = -EIO};

	check_io_fault(&f, "offset 131072");
}

TEST(apply_fault_short_slot_write)
{
	/* A positive count: the device takes 100 bytes of the chunk and gives up. */
	struct helpers_fault f = {.op = IO_WRITE, .suffix = "/slot-b", .nth = 2, .error = 100};

	check_io_fault(&f, "writing slot");
}

TEST(apply_fault_slot_flush_fails)
{
	struct helpers_fault f = {.op = IO_SYNC, .suffix = "/slot-b", .nth = 1, .error = -EIO};

	check_io_fault(&f, "flushing slot");
}

TEST(apply_fault_slot_read_back_fails)
{
	struct helpers_fault f = {.op = IO_READ, .suffix = "/slot-b", .nth = 1, .error = -EIO};

	check_io_fault(&f, "reading back");
}

/* A medium that takes the write but gives back one wrong byte: never tried, retried next boot. */
TEST(apply_fault_slot_reads_back_different)
{
	struct helpers_fault f = {
	        .op = IO_READ, .suffix = "/slot-b", .nth = 2, .error = 0, .corrupt = true};

	check_io_fault(&f, "reads back different");
}

/*
 * The same faults with the install's threads running (the hooks are
 * thread-safe): whichever stage fails, the others stop, and the reason is
 * the failing stage's.
 */
TEST(apply_threads_slot_write_fails_midway)
{
	struct helpers_fault f = {
	        .op = IO_WRITE, .suffix = "/slot-b", .nth = 3, .error = -EIO, .threads = true};

	check_io_fault(&f, "writing slot");
}

TEST(apply_threads_slot_read_back_fails_midway)
{
	struct helpers_fault f = {
	        .op = IO_READ, .suffix = "/slot-b", .nth = 3, .error = -EIO, .threads = true};

	check_io_fault(&f, "reading back");
}

TEST(apply_threads_slot_reads_back_different)
{
	struct helpers_fault f = {.op = IO_READ,
	                          .suffix = "/slot-b",
	                          .nth = 2,
	                          .error = 0,
	                          .corrupt = true,
	                          .threads = true};

	check_io_fault(&f, "reads back different");
}

/* With read-back off the same lie goes unseen: the option trusts the medium, as documented. */
static void check_without_read_back(bool threads)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_fault f = {.op = IO_READ,
	                          .suffix = "/slot-b",
	                          .nth = 1,
	                          .error = 0,
	                          .corrupt = true,
	                          .threads = threads};
	uint8_t want[CRYPTO_DIGEST_SIZE], got[CRYPTO_DIGEST_SIZE];
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	d.cfg.no_read_back = true;
	helpers_fault_set(&f);
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	helpers_fault_set(NULL);
	CHECK_EQ(f.calls, 1); /* the slot was never read back: only its footer, at the boot check */
	CHECK_EQ(f.from_threads > 0, threads);
	CHECK_EQ(slot, 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	/* What was written is still checked against the image. */
	REQUIRE(helpers_sha256_file(test_path("v2.img"), HELPERS_IMAGE_SIZE, want) == 0);
	REQUIRE(helpers_sha256_file(d.slot[1], HELPERS_IMAGE_SIZE, got) == 0);
	CHECK(DIGEST_EQ(got, want));
}

TEST(apply_without_read_back_trusts_the_medium)
{
	check_without_read_back(false);
}

/* The threaded path: the hasher hashes each chunk while the writer writes it. */
TEST(apply_threads_without_read_back_trusts_the_medium)
{
	check_without_read_back(true);
}

TEST(apply_fault_commit_after_install_fails_then_resumes)
{
	_cleanup_device_ struct helpers_device d = {0};
	/*
	 * Writes to the state device: 1 the WRITING commit, 2 its history entry,
	 * 3 the TRYING commit (this one fails, through every retry), ...
	 */
	struct helpers_fault f = {.op = IO_WRITE,
	                          .suffix = "/state",
	                          .nth = 3,
	                          .count = STATE_IO_ATTEMPTS,
	                          .error = -EIO};
	uint8_t want[CRYPTO_DIGEST_SIZE], got[CRYPTO_DIGEST_SIZE];
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	helpers_fault_set(&f);
	CHECK_EQ(helpers_apply(&d, &slot), -EIO);
	helpers_fault_set(NULL);
	CHECK_EQ(f.failed, STATE_IO_ATTEMPTS);
	CHECK_EQ(slot, 0); /* the try could not be recorded: never boot B uncounted */
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_WRITING);
	CHECK_EQ(st.apply_attempts, 1);

	/* Next boot: the interrupted install is counted, redone and tried. */
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 1);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	CHECK_EQ(st.tries_left, HELPERS_TRIES - 1);
	REQUIRE(helpers_sha256_file(test_path("v2.img"), HELPERS_IMAGE_SIZE, want) == 0);
	REQUIRE(helpers_sha256_file(d.slot[1], HELPERS_IMAGE_SIZE, got) == 0);
	CHECK(DIGEST_EQ(got, want));
}

TEST(apply_fault_commit_of_trial_boot_fails_boots_active)
{
	_cleanup_device_ struct helpers_device d = {0};
	/*
	 * Writes to the state device: 1 WRITING, 2 its history, 3 TRYING, 4 its
	 * history, 5 the first try counted (this one fails, through every retry).
	 */
	struct helpers_fault f = {.op = IO_WRITE,
	                          .suffix = "/state",
	                          .nth = 5,
	                          .count = STATE_IO_ATTEMPTS,
	                          .error = -EIO};
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	helpers_fault_set(&f);
	CHECK_EQ(helpers_apply(&d, &slot), -EIO);
	helpers_fault_set(NULL);
	CHECK_EQ(f.failed, STATE_IO_ATTEMPTS);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	CHECK_EQ(st.tries_left, HELPERS_TRIES);
	CHECK_EQ(helpers_apply(&d, &slot), 0);
	CHECK_EQ(slot, 1);
}
