/* SPDX-License-Identifier: MIT */
/*
 * The boot-state record: encoding, validation, and the two-copy commit on a
 * plain file, including torn writes and injected I/O failures.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "record-eq.h"
#include "state.h"
#include "test.h"
#include "util.h"

/* Offsets from the documented byte layout (state.c, docs/state-record.md), for tampering. */
enum {
	OFF_FORMAT = 4,
	OFF_SIZE = 6,
	OFF_STATE = 16,
	OFF_ACTIVE = 17,
	OFF_TARGET = 18,
	OFF_TRIES = 19,
	OFF_MAX_TRIES = 20,
	OFF_LAST_ERROR = 24,
	OFF_FLAGS = 28,
	OFF_SLOT_STATUS = 40, /* slot i at 40 + 16 * i */
	OFF_TARGET_VERSION = 136,
	OFF_LABEL = 256, /* slot i at 256 + 32 * i */
	OFF_TARGET_LABEL = 320,
	OFF_REASON = 352,
	OFF_CRC = 508,
};

#define DEV_SIZE (1024 * 1024)

/* len printable ASCII characters ('!'..'~'), NUL-padded. */
static void fill_string(char *field, size_t size, size_t len, unsigned seed)
{
	memset(field, 0, size);
	for (size_t i = 0; i < len; i++)
		field[i] = (char)(0x21 + (seed + i) % 94);
}

/* A record with every field set to something distinctive; variant changes them all. */
static void make_record(struct state_record *r, unsigned variant)
{
	memset(r, 0, sizeof(*r));
	r->seq = 0x0102030405060708ull + variant;
	r->state = (uint8_t)(variant % 3);
	r->active = (uint8_t)(variant & 1);
	r->target = (uint8_t)!r->active;
	r->max_tries = (uint8_t)(STATE_MAX_TRIES - variant % 4);
	r->tries_left = (uint8_t)(r->max_tries - 1);
	r->apply_attempts = (uint8_t)(2 + variant);
	r->last_error = (int32_t)(4095 - variant);
	for (int i = 0; i < 2; i++) {
		r->slot[i].version = 0xfedcba9876543210ull - variant - (uint64_t)i;
		r->slot[i].status = (uint8_t)((variant + (unsigned)i) % 5);
		fill_string(r->slot[i].label, STATE_LABEL_SIZE, STATE_LABEL_SIZE - 1,
		            variant * 3 + (unsigned)i);
	}
	uint8_t *digests[] = {r->txn, r->image_digest, r->last_done, r->last_failed,
	                      r->rejected[0]}; /* the 4 x 8 rejected fingerprints: 32 bytes */
	for (unsigned d = 0; d < ARRAY_SIZE(digests); d++)
		for (unsigned k = 0; k < STATE_DIGEST_SIZE; k++)
			digests[d][k] = (uint8_t)(k * (7 + 2 * d) + variant + d + 1);
	r->image_size = 0x8000000000000001ull + variant;
	r->target_version = 0x7000000000000002ull + variant;
	r->version_floor = 0x6000000000000003ull + variant;
	r->allow_version = 0x5000000000000004ull + variant;
	r->target_floor = 0x4000000000000005ull + variant;
	r->flags = (uint8_t)(variant & STATE_FLAG_VERSIONS_UNKNOWN);
	fill_string(r->target_label, STATE_LABEL_SIZE, STATE_LABEL_SIZE - 1, variant * 5 + 40);
	fill_string(r->last_reason, STATE_REASON_SIZE, STATE_REASON_SIZE - 1, variant * 7 + 60);
}

static void reseal(uint8_t *buf)
{
	util_put_le32(buf + OFF_CRC, util_crc32(0, buf, OFF_CRC));
}

TEST(state_encode_decode_round_trip)
{
	for (unsigned v = 0; v < 6; v++) {
		struct state_record in, out;
		uint8_t buf[STATE_RECORD_SIZE], again[STATE_RECORD_SIZE];

		make_record(&in, v);
		state_encode(&in, buf);
		REQUIRE(state_decode(buf, sizeof(buf), &out) == 0);
		CHECK(record_eq(&in, &out));
		CHECK_EQ(strlen(out.slot[1].label), STATE_LABEL_SIZE - 1);
		CHECK_EQ(strlen(out.last_reason), STATE_REASON_SIZE - 1);
		/* Encoding is canonical: encode(decode(x)) == x. */
		state_encode(&out, again);
		CHECK(memcmp(buf, again, sizeof(buf)) == 0);
		CHECK_EQ(state_decode(buf, STATE_RECORD_SIZE - 1, &out), -EBADMSG);
	}
}

TEST(state_decode_rejects_every_single_byte_corruption)
{
	static const uint8_t masks[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff};

	for (unsigned v = 0; v < 3; v++) {
		struct state_record in, out, sentinel;
		uint8_t buf[STATE_RECORD_SIZE], bad[STATE_RECORD_SIZE];
		int failures = 0;

		make_record(&in, v);
		state_encode(&in, buf);
		memset(&sentinel, 0xa5, sizeof(sentinel));
		for (size_t i = 0; i < sizeof(buf); i++) {
			for (size_t m = 0; m < ARRAY_SIZE(masks); m++) {
				memcpy(bad, buf, sizeof(buf));
				bad[i] ^= masks[m];
				out = sentinel;
				int r = state_decode(bad, sizeof(bad), &out);
				/* Rejected, and the out-parameter left alone. */
				if (r != -EBADMSG || memcmp(&out, &sentinel, sizeof(out)) != 0) {
					if (!failures++)
						fprintf(stderr, "  byte %zu ^ 0x%02x: r = %d\n", i,
						        masks[m], r);
				}
			}
		}
		CHECK_EQ(failures, 0);
	}
}

/* Encodes a valid record, stores val (width 1, 2 or 4 bytes) at off, re-seals the CRC, decodes. */
static int tamper(const struct state_record *r, size_t off, uint32_t val, int width)
{
	uint8_t buf[STATE_RECORD_SIZE];
	struct state_record out;

	state_encode(r, buf);
	if (width == 1)
		buf[off] = (uint8_t)val;
	else if (width == 2)
		util_put_le16(buf + off, (uint16_t)val);
	else
		util_put_le32(buf + off, val);
	reseal(buf);
	return state_decode(buf, sizeof(buf), &out);
}

TEST(state_decode_field_checks)
{
	struct state_record r;

	make_record(&r, 0); /* IDLE, active 0, target 1, max_tries 16, tries 15 */
	REQUIRE(r.state == STATE_IDLE && r.tries_left == 15);
	/* Control: re-sealing an untouched record is accepted. */
	CHECK_EQ(tamper(&r, OFF_STATE, STATE_IDLE, 1), 0);

	CHECK_EQ(tamper(&r, 0, 'X', 1), -EBADMSG);
	CHECK_EQ(tamper(&r, 3, 'S', 1), -EBADMSG);
	CHECK_EQ(tamper(&r, OFF_FORMAT, 0, 2), -EBADMSG);
	CHECK_EQ(tamper(&r, OFF_FORMAT, STATE_FORMAT + 1, 2), -EBADMSG);
	CHECK_EQ(tamper(&r, OFF_SIZE, STATE_RECORD_SIZE / 2, 2), -EBADMSG);

	CHECK_EQ(tamper(&r, OFF_STATE, STATE_TRYING, 1), 0);
	CHECK_EQ(tamper(&r, OFF_STATE, STATE_TRYING + 1, 1), -EBADMSG);
	CHECK_EQ(tamper(&r, OFF_STATE, 0xff, 1), -EBADMSG);
	CHECK_EQ(tamper(&r, OFF_ACTIVE, 2, 1), -EBADMSG);
	CHECK_EQ(tamper(&r, OFF_TARGET, 2, 1), -EBADMSG);
	CHECK_EQ(tamper(&r, OFF_TARGET, 0xff, 1), -EBADMSG);

	CHECK_EQ(tamper(&r, OFF_TRIES, STATE_MAX_TRIES, 1), 0);
	CHECK_EQ(tamper(&r, OFF_TRIES, STATE_MAX_TRIES + 1, 1), -EBADMSG);
	CHECK_EQ(tamper(&r, OFF_MAX_TRIES, STATE_MAX_TRIES + 1, 1), -EBADMSG);
	CHECK_EQ(tamper(&r, OFF_MAX_TRIES, 15, 1), 0);
	CHECK_EQ(tamper(&r, OFF_MAX_TRIES, 14, 1), -EBADMSG);

	CHECK_EQ(tamper(&r, OFF_SLOT_STATUS, SLOT_BAD, 1), 0);
	CHECK_EQ(tamper(&r, OFF_SLOT_STATUS, SLOT_BAD + 1, 1), -EBADMSG);
	CHECK_EQ(tamper(&r, OFF_SLOT_STATUS + 16, SLOT_BAD + 1, 1), -EBADMSG);

	/* flags: byte 28, zero in every older record; only known bits; 30..31 stay reserved. */
	CHECK_EQ(tamper(&r, OFF_FLAGS, 0, 1), 0);
	CHECK_EQ(tamper(&r, OFF_FLAGS, STATE_FLAG_VERSIONS_UNKNOWN, 1), 0);
	CHECK_EQ(tamper(&r, OFF_FLAGS, STATE_FLAG_KEYRINGS, 1), 0);
	CHECK_EQ(tamper(&r, OFF_FLAGS, 0x04, 1), -EBADMSG);
	/* data_cp: byte 29, one of the four checkpoint states. */
	CHECK_EQ(tamper(&r, OFF_FLAGS + 1, DATA_CP_OVERFLOWED, 1), 0);
	CHECK_EQ(tamper(&r, OFF_FLAGS + 1, DATA_CP_OVERFLOWED + 1, 1), -EBADMSG);
	CHECK_EQ(tamper(&r, OFF_FLAGS + 2, 1, 1), -EBADMSG);
	CHECK_EQ(tamper(&r, OFF_FLAGS + 3, 1, 1), -EBADMSG);

	CHECK_EQ(tamper(&r, OFF_LAST_ERROR, 4095, 4), 0);
	CHECK_EQ(tamper(&r, OFF_LAST_ERROR, 4096, 4), -EBADMSG);
	CHECK_EQ(tamper(&r, OFF_LAST_ERROR, 0xffffffffu, 4), -EBADMSG);

	/* target == active is the normal IDLE form, and impossible in any other state. */
	for (uint8_t st = STATE_IDLE; st <= STATE_TRYING; st++) {
		r.state = st;
		CHECK_EQ(tamper(&r, OFF_TARGET, 1, 1), 0);
		CHECK_EQ(tamper(&r, OFF_TARGET, 0, 1), st == STATE_IDLE ? 0 : -EBADMSG);
	}
}

TEST(state_decode_rejects_unclean_strings)
{
	static const size_t fields[][2] = {{OFF_LABEL, STATE_LABEL_SIZE},
	                                   {OFF_LABEL + STATE_LABEL_SIZE, STATE_LABEL_SIZE},
	                                   {OFF_TARGET_LABEL, STATE_LABEL_SIZE},
	                                   {OFF_REASON, STATE_REASON_SIZE}};
	static const uint8_t bad_chars[] = {0x01, 0x0a, 0x1f, 0x7f, 0x80, 0xff};
	struct state_record r, out;

	make_record(&r, 2);
	for (size_t f = 0; f < ARRAY_SIZE(fields); f++) {
		size_t off = fields[f][0], size = fields[f][1];
		uint8_t buf[STATE_RECORD_SIZE];

		/* A control character, DEL, a high byte. */
		for (size_t i = 0; i < ARRAY_SIZE(bad_chars); i++)
			CHECK_EQ(tamper(&r, off + 3, bad_chars[i], 1), -EBADMSG);

		/* Control: "ab" is clean. Then something after its NUL; then no NUL at all. */
		state_encode(&r, buf);
		memset(buf + off, 0, size);
		memcpy(buf + off, "ab", 2);
		reseal(buf);
		CHECK_EQ(state_decode(buf, sizeof(buf), &out), 0);
		buf[off + 5] = 'c';
		reseal(buf);
		CHECK_EQ(state_decode(buf, sizeof(buf), &out), -EBADMSG);
		memset(buf + off, 'x', size);
		reseal(buf);
		CHECK_EQ(state_decode(buf, sizeof(buf), &out), -EBADMSG);
	}
}

TEST(state_decode_salvage_ignores_only_the_crc)
{
	struct state_record r, out;
	uint8_t buf[STATE_RECORD_SIZE];

	make_record(&r, 1);
	state_encode(&r, buf);
	buf[OFF_TARGET_VERSION] ^= 0x01; /* a flipped bit: the CRC no longer matches */
	CHECK_EQ(state_decode(buf, sizeof(buf), &out), -EBADMSG);
	REQUIRE(state_decode_salvage(buf, sizeof(buf), &out) == 0);
	CHECK_EQ(out.version_floor, r.version_floor);
	CHECK(out.target_version != r.target_version);
	/* Every other check still holds: a bad magic or an out-of-range field is refused. */
	state_encode(&r, buf);
	buf[OFF_STATE] = 7;
	CHECK_EQ(state_decode_salvage(buf, sizeof(buf), &out), -EBADMSG);
	state_encode(&r, buf);
	buf[0] = 'X';
	CHECK_EQ(state_decode_salvage(buf, sizeof(buf), &out), -EBADMSG);
	CHECK_EQ(state_decode_salvage(buf, STATE_RECORD_SIZE - 1, &out), -EBADMSG);
}

/* ---- the two copies on a plain file ---- */

/* A sparse, zeroed file standing in for the state partition. */
static const char *make_dev(const char *name, uint64_t size)
{
	const char *path = test_path(name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ok = fd >= 0 && ftruncate(fd, (off_t)size) == 0;

	if (fd >= 0)
		close(fd);
	return ok ? path : NULL;
}

/* Reads or writes (and flushes) the file behind the applier's back. */
static int raw_io(const char *path, bool write, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
	int r = n == (ssize_t)len && (!write || fsync(fd) == 0) ? 0 : -EIO;
	close(fd);
	return r;
}

/* Decodes the record stored in copy i, straight from the file. */
static int raw_decode(const char *path, int i, struct state_record *ret)
{
	uint8_t block[STATE_BLOCK_SIZE];
	uint64_t off = i ? DEV_SIZE / 2 : 0;

	if (raw_io(path, false, off, block, sizeof(block)) < 0)
		return -EIO;
	return state_decode_block(block, sizeof(block), ret);
}

/* A fresh load through a new handle, as the next boot would do it. */
static int fresh_load(const char *path, struct state_record *ret, int *ret_current)
{
	struct state_dev d;
	int r = state_open(path, false, &d);

	*ret_current = -2;
	if (r < 0)
		return r;
	r = state_load(&d, ret);
	*ret_current = d.current;
	state_close(&d);
	return r;
}

/* A fresh load (as the next boot does it) must find want in copy. */
#define EXPECT_LOAD(path, want, copy)                                                              \
	do {                                                                                       \
		struct state_record _got;                                                          \
		int _cur;                                                                          \
		CHECK_EQ(fresh_load(path, &_got, &_cur), 0);                                       \
		CHECK_EQ(_cur, copy);                                                              \
		CHECK(record_eq(&_got, want));                                                     \
	} while (0)

TEST(state_first_load_is_nodata_then_commit_round_trips)
{
	const char *path = make_dev("state", DEV_SIZE);
	struct state_record in, out;
	struct state_dev d;

	REQUIRE(path);
	CHECK_EQ(state_open(make_dev("small", STATE_MIN_DEVICE_SIZE - 1), true, &d), -ENOSPC);
	CHECK_EQ(state_open(test_path("missing"), true, &d), -ENOENT);
	make_record(&in, 3);
	in.seq = 999; /* ignored: the sequence is the device's */
	REQUIRE(state_open(path, true, &d) == 0);
	CHECK_EQ(state_load(&d, &out), -ENODATA); /* a zeroed partition */
	CHECK_EQ(d.current, -1);
	REQUIRE(state_commit(&d, &in) == 0);
	CHECK_EQ(in.seq, 1);
	CHECK_EQ(d.current, 0);
	state_close(&d);
	EXPECT_LOAD(path, &in, 0);
}

TEST(state_commits_alternate_copies)
{
	const char *path = make_dev("state", DEV_SIZE);
	struct state_record rec[5], got;
	struct state_dev d;

	REQUIRE(path);
	REQUIRE(state_open(path, true, &d) == 0);
	CHECK_EQ(d.copy_offset[1], DEV_SIZE / 2);
	for (int k = 1; k <= 4; k++) {
		int copy = (k - 1) % 2;
		make_record(&rec[k], (unsigned)k);
		REQUIRE(state_commit(&d, &rec[k]) == 0);
		CHECK_EQ(rec[k].seq, k);
		CHECK_EQ(d.current, copy);
		/* The new copy holds this commit; the other still holds the previous one. */
		REQUIRE(raw_decode(path, copy, &got) == 0);
		CHECK(record_eq(&got, &rec[k]));
		if (k > 1) {
			REQUIRE(raw_decode(path, !copy, &got) == 0);
			CHECK(record_eq(&got, &rec[k - 1]));
		}
	}
	state_close(&d);
}

/* Writes a record with sequence seq straight into copy i. */
static int plant(const char *path, int i, unsigned variant, uint64_t seq)
{
	uint8_t block[STATE_BLOCK_SIZE] = {0};
	struct state_record r;

	make_record(&r, variant);
	r.seq = seq;
	state_encode(&r, block);
	return raw_io(path, true, i ? DEV_SIZE / 2 : 0, block, sizeof(block));
}

TEST(state_load_picks_highest_sequence)
{
	static const struct {
		uint64_t seq0, seq1;
		int pick;
	} cases[] = {{7, 5, 0}, {5, 9, 1}, {1, 0x100000000ull, 1}, {0x100000001ull, 3, 0}};

	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		const char *path = make_dev("state", DEV_SIZE);
		struct state_record got, want, next;
		struct state_dev d;
		uint64_t top = cases[c].pick ? cases[c].seq1 : cases[c].seq0;

		REQUIRE(path);
		REQUIRE(plant(path, 0, 0, cases[c].seq0) == 0);
		REQUIRE(plant(path, 1, 1, cases[c].seq1) == 0);
		REQUIRE(state_open(path, true, &d) == 0);
		REQUIRE(state_load(&d, &got) == 0);
		make_record(&want, (unsigned)cases[c].pick);
		want.seq = top;
		CHECK(record_eq(&got, &want));
		CHECK_EQ(d.current, cases[c].pick);
		/* The next commit continues the sequence, over the other copy. */
		next = want;
		REQUIRE(state_commit(&d, &next) == 0);
		CHECK_EQ(next.seq, top + 1);
		CHECK_EQ(d.current, !cases[c].pick);
		state_close(&d);
	}
}

/* Two commits: copy 0 holds A (variant 0, seq 1), copy 1 holds B (variant 1, seq 2). */
static int setup_two(const char *path, struct state_record *ret_a, struct state_record *ret_b)
{
	struct state_dev d;
	int r = state_open(path, true, &d);

	if (r < 0)
		return r;
	make_record(ret_a, 0);
	make_record(ret_b, 1);
	r = state_commit(&d, ret_a);
	if (r == 0)
		r = state_commit(&d, ret_b);
	state_close(&d);
	return r;
}

TEST(state_torn_write_keeps_previous_record)
{
	const char *path = make_dev("state", DEV_SIZE);
	uint8_t old[STATE_BLOCK_SIZE], next[STATE_BLOCK_SIZE], torn[STATE_BLOCK_SIZE];
	struct state_record a, b, c, got;
	int cur, failures = 0;

	REQUIRE(path);
	REQUIRE(setup_two(path, &a, &b) == 0);
	REQUIRE(raw_io(path, false, 0, old, sizeof(old)) == 0);
	/* The block the third commit would write over copy 0. */
	make_record(&c, 5);
	c.seq = 3;
	memset(next, 0, sizeof(next));
	state_encode(&c, next);
	/* Every prefix of the new record that stops short of its end, over the old copy 0. */
	for (size_t k = 1; k < STATE_RECORD_SIZE; k++) {
		memcpy(torn, old, sizeof(torn));
		memcpy(torn, next, k);
		REQUIRE(raw_io(path, true, 0, torn, sizeof(torn)) == 0);
		int r = fresh_load(path, &got, &cur);
		if (r != 0 || cur != 1 || !record_eq(&got, &b)) {
			if (!failures++)
				fprintf(stderr, "  prefix %zu: r = %d, copy %d\n", k, r, cur);
		}
	}
	CHECK_EQ(failures, 0);

	/*
	 * The first 512 bytes of the block hold the whole record: a write torn
	 * after them is a complete commit, and the new record (seq 3) is in charge.
	 */
	memcpy(torn, old, sizeof(torn));
	memcpy(torn, next, STATE_RECORD_SIZE);
	REQUIRE(raw_io(path, true, 0, torn, sizeof(torn)) == 0);
	EXPECT_LOAD(path, &c, 0);
}

TEST(state_garbage_copies)
{
	const char *path = make_dev("state", DEV_SIZE);
	uint8_t garbage[STATE_BLOCK_SIZE];
	struct state_record a, b, got;
	int cur;

	REQUIRE(path);
	srand(42);
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)rand();
	memcpy(garbage, STATE_MAGIC, 4); /* even with a plausible magic */

	/* Garbage over the older copy: B stands. */
	REQUIRE(setup_two(path, &a, &b) == 0);
	REQUIRE(raw_io(path, true, 0, garbage, sizeof(garbage)) == 0);
	EXPECT_LOAD(path, &b, 1);

	/* Garbage over the newest copy: the older one is the fallback. */
	REQUIRE(setup_two(make_dev("state", DEV_SIZE), &a, &b) == 0);
	REQUIRE(raw_io(path, true, DEV_SIZE / 2, garbage, sizeof(garbage)) == 0);
	EXPECT_LOAD(path, &a, 0);

	/* Both garbage: no record. */
	REQUIRE(raw_io(path, true, 0, garbage, sizeof(garbage)) == 0);
	CHECK_EQ(fresh_load(path, &got, &cur), -ENODATA);
	CHECK_EQ(cur, -1);
}

/* ---- injected I/O failures during a commit ---- */

struct fault {
	enum io_op op;
	int result; /* -errno */
	int count;  /* how many calls of op fail */
	int calls;
	const char *path; /* for flip_after_write */
};

static int fault_before(void *userdata, enum io_op op, int fd, const char *path, size_t len)
{
	struct fault *f = userdata;

	(void)path;
	(void)fd, (void)len;
	if (op != f->op)
		return 0;
	return f->calls++ < f->count ? f->result : 0;
}

/* The medium keeps something else than what was written: one bit flips on the way. */
static void flip_after_write(void *userdata, int fd, const void *buf, size_t len, uint64_t off)
{
	struct fault *f = userdata;
	uint8_t copy[STATE_BLOCK_SIZE];

	(void)fd;
	f->calls++;
	if (len != sizeof(copy))
		return;
	memcpy(copy, buf, len);
	copy[OFF_TARGET_VERSION] ^= 0x10;
	raw_io(f->path, true, off, copy, len);
}

/*
 * After two commits, the third fails: op fails once with -EIO, or (op < 0) the
 * medium keeps other bytes than were written. When nothing valid reached the
 * medium (a failed write, a mismatch) the second record must stay in charge;
 * when the write went through but its flush or read-back failed, the outcome
 * is unknown (state.h) and the next load finds one of the two complete records.
 */
static void commit_fails_keeps_previous(int op)
{
	bool unknown = op == IO_SYNC || op == IO_READ;
	const char *path = make_dev("state", DEV_SIZE);
	struct state_record a, b, c, got;
	/* The fault outlasts state_commit's retries. */
	struct fault fault = {
	        .op = (enum io_op)op, .result = -EIO, .count = STATE_IO_ATTEMPTS, .path = path};
	struct io_hooks hooks = {.before = fault_before, .userdata = &fault};
	struct fault *f = &fault;
	struct state_dev d;

	if (op < 0)
		hooks = (struct io_hooks){.after_write = flip_after_write, .userdata = &fault};
	REQUIRE(path);
	REQUIRE(setup_two(path, &a, &b) == 0);
	REQUIRE(state_open(path, true, &d) == 0);
	REQUIRE(state_load(&d, &got) == 0);
	make_record(&c, 5);
	c.seq = 77;
	io_set_hooks(&hooks);
	int r = state_commit(&d, &c);
	io_set_hooks(NULL);
	CHECK_EQ(f->calls, STATE_IO_ATTEMPTS);
	CHECK_EQ(r, -EIO);
	/* Nothing about the failed commit is taken as done. */
	CHECK_EQ(c.seq, 77);
	CHECK_EQ(d.current, 1);
	CHECK_EQ(d.seq, 2);

	if (unknown) {
		/* Either the previous record (copy 1) or the new one (copy 0, sequence 3). */
		struct state_record want_new = c;
		int cur;
		want_new.seq = 3;
		CHECK_EQ(fresh_load(path, &got, &cur), 0);
		CHECK((cur == 1 && record_eq(&got, &b)) ||
		      (cur == 0 && record_eq(&got, &want_new)));
	} else {
		EXPECT_LOAD(path, &b, 1);
	}

	/* A retry on the same handle goes to the same copy, with the same sequence. */
	make_record(&c, 5);
	REQUIRE(state_commit(&d, &c) == 0);
	CHECK_EQ(c.seq, 3);
	CHECK_EQ(d.current, 0);
	state_close(&d);
	EXPECT_LOAD(path, &c, 0);
	REQUIRE(raw_decode(path, 1, &got) == 0);
	CHECK(record_eq(&got, &b));
}

TEST(state_commit_write_error_keeps_previous)
{
	commit_fails_keeps_previous(IO_WRITE);
}

TEST(state_commit_sync_error_loads_either_record)
{
	commit_fails_keeps_previous(IO_SYNC);
}

TEST(state_commit_readback_error_loads_either_record)
{
	commit_fails_keeps_previous(IO_READ);
}

TEST(state_commit_readback_mismatch_keeps_previous)
{
	commit_fails_keeps_previous(-1);
}

TEST(state_load_read_error_is_eio)
{
	const char *path = make_dev("state", DEV_SIZE);
	struct state_record a, b, got;
	struct fault f = {.op = IO_READ, .result = -EIO, .count = 2 * STATE_READ_ATTEMPTS};
	struct io_hooks hooks = {.before = fault_before, .userdata = &f};
	struct state_dev d;

	REQUIRE(path);
	REQUIRE(setup_two(path, &a, &b) == 0);
	REQUIRE(state_open(path, false, &d) == 0);
	state_set_retry_delay(0);
	/* Both copies unreadable: -EIO, not -ENODATA (the device is sick, not the record). */
	io_set_hooks(&hooks);
	CHECK_EQ(state_load(&d, &got), -EIO);
	io_set_hooks(NULL);
	CHECK_EQ(d.current, -1);
	CHECK_EQ(d.copy[0], STATE_COPY_UNREADABLE);
	CHECK_EQ(d.copy[1], STATE_COPY_UNREADABLE);
	/* Only copy 0 unreadable: copy 1 (B) is loaded, and copy 0 named as unreadable. */
	f = (struct fault){.op = IO_READ, .result = -EIO, .count = STATE_READ_ATTEMPTS};
	io_set_hooks(&hooks);
	CHECK_EQ(state_load(&d, &got), 0);
	io_set_hooks(NULL);
	CHECK_EQ(d.current, 1);
	CHECK(record_eq(&got, &b));
	CHECK_EQ(state_unreadable(&d), 0);
	/* Copy 0 garbage instead: invalid, not unreadable. */
	uint8_t zero[STATE_BLOCK_SIZE] = {0};
	REQUIRE(raw_io(path, true, 0, zero, sizeof(zero)) == 0);
	CHECK_EQ(state_load(&d, &got), 0);
	CHECK_EQ(d.copy[0], STATE_COPY_INVALID);
	CHECK_EQ(state_unreadable(&d), -1);
	state_close(&d);
}

/*
 * The keyring area (docs/state-record.md): a record without keyrings is the
 * block an older binary writes (flag clear, zeros after the record); one with
 * keyrings round-trips; an area of another commit (its sequence), a torn one
 * (its CRC) or a missing one makes the copy invalid.
 */
TEST(state_block_keyring_area)
{
	static uint8_t block[STATE_BLOCK_SIZE], old[STATE_RECORD_SIZE];
	static struct state_record r, back;

	make_record(&r, 7);
	state_encode(&r, old);
	state_encode_block(&r, block);
	CHECK(memcmp(block, old, STATE_RECORD_SIZE) == 0);
	CHECK(util_is_zero(block + STATE_RECORD_SIZE, STATE_BLOCK_SIZE - STATE_RECORD_SIZE));

	r.keyring_len = 352;
	memset(r.keyring, 0x5a, r.keyring_len);
	r.pending_len = 272;
	memset(r.pending, 0xa5, r.pending_len);
	state_encode_block(&r, block);
	CHECK(block[28] & STATE_FLAG_KEYRINGS);
	REQUIRE(state_decode_block(block, sizeof(block), &back) == 0);
	CHECK(record_eq(&back, &r));
	CHECK(!(back.flags & STATE_FLAG_KEYRINGS)); /* the layout's flag, never shown */

	struct state_record other = r;
	other.seq++; /* the area of the next commit, under this record */
	static uint8_t next[STATE_BLOCK_SIZE];
	state_encode_block(&other, next);
	memcpy(next, block, STATE_RECORD_SIZE);
	CHECK_EQ(state_decode_block(next, sizeof(next), &back), -EBADMSG);
	memcpy(next, block, sizeof(block));
	next[STATE_RECORD_SIZE + 24 + 100] ^= 1; /* a byte of the adopted keyring */
	CHECK_EQ(state_decode_block(next, sizeof(next), &back), -EBADMSG);
	memcpy(next, block, sizeof(block));
	memset(next + STATE_RECORD_SIZE, 0, STATE_BLOCK_SIZE - STATE_RECORD_SIZE);
	CHECK_EQ(state_decode_block(next, sizeof(next), &back), -EBADMSG);
	memcpy(next, block, sizeof(block));
	next[STATE_BLOCK_SIZE - 1] = 1; /* after the area */
	CHECK_EQ(state_decode_block(next, sizeof(next), &back), -EBADMSG);
}
