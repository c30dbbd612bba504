/* SPDX-License-Identifier: MIT */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fail.h"
#include "io.h"
#include "util.h"

/*
 * Byte layout of one copy, little-endian (docs/state-record.md):
 *
 *   0  magic "SOST"        4  format u16     6  record size u16
 *   8  sequence u64
 *  16  state u8   17 active u8   18 target u8   19 tries_left u8
 *  20  max_tries u8   21 apply_attempts u8   22 clean_reboots u8   23 trial_booted u8
 *  24  last_error u32 (positive errno)    28 flags u8 (STATE_FLAG_*)   29 data_cp u8
 *  30  reserved[2] (0)
 *  32  slot A: version u64, status u8, verity u8 (0/1), reserved[6]
 *  48  slot B: version u64, status u8, verity u8 (0/1), reserved[6]
 *  64  txn[32]   96 image_digest[32]
 * 128  image_size u64   136 target_version u64   144 version_floor u64   152 allow_version u64
 * 160  last_done[32]   192 last_failed[32]   224 rejected[4][8]
 * 256  slot A label[32]   288 slot B label[32]   320 target label[32]
 * 352  last_reason[128]
 * 480  txn_file[8]   488 target_floor u64   496 cp_version u64   504 reserved[4] (0)
 * 508  CRC32 of bytes 0..507
 */
enum {
	OFF_MAGIC = 0,
	OFF_FORMAT = 4,
	OFF_SIZE = 6,
	OFF_SEQ = 8,
	OFF_STATE = 16,
	OFF_ACTIVE = 17,
	OFF_TARGET = 18,
	OFF_TRIES = 19,
	OFF_MAX_TRIES = 20,
	OFF_ATTEMPTS = 21,
	OFF_CLEAN_REBOOTS = 22,
	OFF_TRIAL_BOOTED = 23,
	OFF_LAST_ERROR = 24,
	OFF_FLAGS = 28,
	OFF_DATA_CP = 29,
	OFF_SLOT = 32, /* 16 bytes per slot */
	OFF_TXN = 64,
	OFF_IMAGE_DIGEST = 96,
	OFF_IMAGE_SIZE = 128,
	OFF_TARGET_VERSION = 136,
	OFF_VERSION_FLOOR = 144,
	OFF_ALLOW_VERSION = 152,
	OFF_LAST_DONE = 160,
	OFF_LAST_FAILED = 192,
	OFF_REJECTED = 224,
	OFF_LABEL = 256, /* 32 bytes per slot */
	OFF_TARGET_LABEL = 320,
	OFF_REASON = 352,
	OFF_TXN_FILE = 480,
	OFF_TARGET_FLOOR = 488,
	OFF_CP_VERSION = 496,
	OFF_CRC = 508,
};

/* Copies a string field, NUL-padding after its first NUL: the encoding never depends on stale
 * bytes. */
static void encode_string(uint8_t *out, const char *field, size_t size)
{
	size_t n = strnlen(field, size - 1);

	memcpy(out, field, n);
	memset(out + n, 0, size - n);
}

void state_encode(const struct state_record *r, uint8_t out[STATE_RECORD_SIZE])
{
	memset(out, 0, STATE_RECORD_SIZE);
	memcpy(out + OFF_MAGIC, STATE_MAGIC, 4);
	util_put_le16(out + OFF_FORMAT, STATE_FORMAT);
	util_put_le16(out + OFF_SIZE, STATE_RECORD_SIZE);
	util_put_le64(out + OFF_SEQ, r->seq);
	out[OFF_STATE] = r->state;
	out[OFF_ACTIVE] = r->active;
	out[OFF_TARGET] = r->target;
	out[OFF_TRIES] = r->tries_left;
	out[OFF_MAX_TRIES] = r->max_tries;
	out[OFF_ATTEMPTS] = r->apply_attempts;
	out[OFF_CLEAN_REBOOTS] = r->clean_reboots;
	out[OFF_TRIAL_BOOTED] = r->trial_booted;
	util_put_le32(out + OFF_LAST_ERROR, (uint32_t)r->last_error);
	out[OFF_FLAGS] = r->flags;
	out[OFF_DATA_CP] = r->data_cp;
	for (int i = 0; i < 2; i++) {
		util_put_le64(out + OFF_SLOT + 16 * i, r->slot[i].version);
		out[OFF_SLOT + 16 * i + 8] = r->slot[i].status;
		out[OFF_SLOT + 16 * i + 9] = r->slot[i].verity;
		encode_string(out + OFF_LABEL + STATE_LABEL_SIZE * i, r->slot[i].label,
		              STATE_LABEL_SIZE);
	}
	memcpy(out + OFF_TXN, r->txn, STATE_DIGEST_SIZE);
	memcpy(out + OFF_IMAGE_DIGEST, r->image_digest, STATE_DIGEST_SIZE);
	util_put_le64(out + OFF_IMAGE_SIZE, r->image_size);
	util_put_le64(out + OFF_TARGET_VERSION, r->target_version);
	util_put_le64(out + OFF_VERSION_FLOOR, r->version_floor);
	util_put_le64(out + OFF_ALLOW_VERSION, r->allow_version);
	memcpy(out + OFF_LAST_DONE, r->last_done, STATE_DIGEST_SIZE);
	memcpy(out + OFF_LAST_FAILED, r->last_failed, STATE_DIGEST_SIZE);
	memcpy(out + OFF_REJECTED, r->rejected, sizeof(r->rejected));
	encode_string(out + OFF_TARGET_LABEL, r->target_label, STATE_LABEL_SIZE);
	encode_string(out + OFF_REASON, r->last_reason, STATE_REASON_SIZE);
	memcpy(out + OFF_TXN_FILE, r->txn_file, STATE_FINGERPRINT_SIZE);
	util_put_le64(out + OFF_TARGET_FLOOR, r->target_floor);
	util_put_le64(out + OFF_CP_VERSION, r->cp_version);
	util_put_le32(out + OFF_CRC, util_crc32(0, out, OFF_CRC));
}

static int decode_string(char *dst, size_t size, const uint8_t *src, const char *what)
{
	if (!util_is_clean_string(src, size))
		return fail(-EBADMSG, "state record: %s is not a clean string", what);
	memcpy(dst, src, size);
	return 0;
}

int state_decode(const uint8_t *buf, size_t len, struct state_record *ret)
{
	struct state_record r = {0};
	int e;

	if (len < STATE_RECORD_SIZE)
		return fail(-EBADMSG, "state record: %zu bytes, need %d", len, STATE_RECORD_SIZE);
	if (memcmp(buf + OFF_MAGIC, STATE_MAGIC, 4) != 0)
		return fail(-EBADMSG, "state record: bad magic");
	if (util_le32(buf + OFF_CRC) != util_crc32(0, buf, OFF_CRC))
		return fail(-EBADMSG, "state record: CRC mismatch");
	if (util_le16(buf + OFF_FORMAT) != STATE_FORMAT)
		return fail(-EBADMSG, "state record: unknown format %u",
		            util_le16(buf + OFF_FORMAT));
	if (util_le16(buf + OFF_SIZE) != STATE_RECORD_SIZE)
		return fail(-EBADMSG, "state record: bad size field");
	/* Reserved bytes are zero: a record that decodes encodes back to the same bytes. */
	if (!util_is_zero(buf + OFF_DATA_CP + 1, 2) || !util_is_zero(buf + OFF_SLOT + 10, 6) ||
	    !util_is_zero(buf + OFF_SLOT + 16 + 10, 6) ||
	    !util_is_zero(buf + OFF_CP_VERSION + 8, 4))
		return fail(-EBADMSG, "state record: reserved bytes are not zero");

	r.seq = util_le64(buf + OFF_SEQ);
	r.state = buf[OFF_STATE];
	r.active = buf[OFF_ACTIVE];
	r.target = buf[OFF_TARGET];
	r.tries_left = buf[OFF_TRIES];
	r.max_tries = buf[OFF_MAX_TRIES];
	r.apply_attempts = buf[OFF_ATTEMPTS];
	r.clean_reboots = buf[OFF_CLEAN_REBOOTS];
	r.trial_booted = buf[OFF_TRIAL_BOOTED];
	r.flags = buf[OFF_FLAGS];
	r.data_cp = buf[OFF_DATA_CP];
	if (r.data_cp > DATA_CP_OVERFLOWED)
		return fail(-EBADMSG, "state record: data checkpoint state out of range");
	if (r.flags & ~STATE_FLAGS_KNOWN)
		return fail(-EBADMSG, "state record: unknown flags 0x%02x", r.flags);
	if (r.trial_booted > 1 || r.clean_reboots > STATE_MAX_TRIES)
		return fail(-EBADMSG, "state record: trial fields out of range");
	r.last_error = (int32_t)util_le32(buf + OFF_LAST_ERROR);
	if (r.state > STATE_TRYING || r.active > 1 || r.target > 1)
		return fail(-EBADMSG, "state record: state or slot out of range");
	if (r.max_tries > STATE_MAX_TRIES || r.tries_left > r.max_tries)
		return fail(-EBADMSG, "state record: tries out of range");
	if (r.state != STATE_IDLE && r.target == r.active)
		return fail(-EBADMSG, "state record: target slot is the active slot");
	if (r.last_error < 0 || r.last_error > 4095)
		return fail(-EBADMSG, "state record: last error out of range");
	for (int i = 0; i < 2; i++) {
		r.slot[i].version = util_le64(buf + OFF_SLOT + 16 * i);
		r.slot[i].status = buf[OFF_SLOT + 16 * i + 8];
		r.slot[i].verity = buf[OFF_SLOT + 16 * i + 9];
		if (r.slot[i].status > SLOT_BAD || r.slot[i].verity > 1)
			return fail(-EBADMSG, "state record: slot status out of range");
		e = decode_string(r.slot[i].label, STATE_LABEL_SIZE,
		                  buf + OFF_LABEL + STATE_LABEL_SIZE * i, "slot label");
		if (e < 0)
			return e;
	}
	memcpy(r.txn, buf + OFF_TXN, STATE_DIGEST_SIZE);
	memcpy(r.image_digest, buf + OFF_IMAGE_DIGEST, STATE_DIGEST_SIZE);
	r.image_size = util_le64(buf + OFF_IMAGE_SIZE);
	r.target_version = util_le64(buf + OFF_TARGET_VERSION);
	r.version_floor = util_le64(buf + OFF_VERSION_FLOOR);
	r.allow_version = util_le64(buf + OFF_ALLOW_VERSION);
	memcpy(r.last_done, buf + OFF_LAST_DONE, STATE_DIGEST_SIZE);
	memcpy(r.last_failed, buf + OFF_LAST_FAILED, STATE_DIGEST_SIZE);
	memcpy(r.rejected, buf + OFF_REJECTED, sizeof(r.rejected));
	memcpy(r.txn_file, buf + OFF_TXN_FILE, STATE_FINGERPRINT_SIZE);
	r.target_floor = util_le64(buf + OFF_TARGET_FLOOR);
	r.cp_version = util_le64(buf + OFF_CP_VERSION);
	e = decode_string(r.target_label, STATE_LABEL_SIZE, buf + OFF_TARGET_LABEL, "target label");
	if (e < 0)
		return e;
	e = decode_string(r.last_reason, STATE_REASON_SIZE, buf + OFF_REASON, "last reason");
	if (e < 0)
		return e;
	*ret = r;
	return 0;
}

int state_decode_salvage(const uint8_t *buf, size_t len, struct state_record *ret)
{
	uint8_t copy[STATE_RECORD_SIZE];

	if (len < STATE_RECORD_SIZE)
		return fail(-EBADMSG, "state record: %zu bytes, need %d", len, STATE_RECORD_SIZE);
	/* Everything but the CRC must hold: re-seal a copy, and decode that. */
	memcpy(copy, buf, STATE_RECORD_SIZE);
	util_put_le32(copy + OFF_CRC, util_crc32(0, copy, OFF_CRC));
	return state_decode(copy, sizeof(copy), ret);
}

void state_init(struct state_record *r)
{
	memset(r, 0, sizeof(*r));
	r->state = STATE_IDLE;
	r->active = 0;
	r->target = 1;
}

const char *state_kind_name(uint8_t state)
{
	static const char *const names[] = {"idle", "writing", "trying"};
	return state < ARRAY_SIZE(names) ? names[state] : "invalid";
}

const char *state_data_cp_name(uint8_t data_cp)
{
	static const char *const names[] = {"none", "active", "merging", "overflowed"};
	return data_cp < ARRAY_SIZE(names) ? names[data_cp] : "invalid";
}

const char *state_slot_status_name(uint8_t status)
{
	static const char *const names[] = {"unknown", "good", "incomplete", "unconfirmed", "bad"};
	return status < ARRAY_SIZE(names) ? names[status] : "invalid";
}

int state_open(const char *path, bool writable, struct state_dev *ret)
{
	uint64_t size;
	int fd, r;

	/*
	 * O_DIRECT|O_DSYNC: the commit must reach the medium, not the page cache.
	 * Plain files on tmpfs refuse O_DIRECT; tests use those, and there the
	 * explicit io_sync() in state_commit() is what counts.
	 */
	int flags = (writable ? O_RDWR | O_DSYNC : O_RDONLY);
	for (int attempt = 0; attempt < STATE_IO_ATTEMPTS; attempt++) {
		fd = io_open(path, flags | O_DIRECT, 0);
		if (fd == -EINVAL)
			fd = io_open(path, flags, 0);
		if (fd >= 0 || fd == -ENOENT)
			break;
	}
	if (fd < 0)
		return fail(fd, "cannot open state device %s", path);
	r = io_size(fd, &size);
	if (r < 0 || size < STATE_MIN_DEVICE_SIZE) {
		io_close(fd);
		return fail(r < 0 ? r : -ENOSPC, "state device %s is too small or unreadable",
		            path);
	}
	ret->fd = fd;
	ret->size = size;
	ret->copy_offset[0] = 0;
	/* Copy 1 sits at the middle of the partition, rounded down to a block. */
	ret->copy_offset[1] = (size / 2) & ~(uint64_t)(STATE_BLOCK_SIZE - 1);
	ret->current = -1;
	ret->seq = 0;
	memset(ret->copy, STATE_COPY_UNKNOWN, sizeof(ret->copy));
	memset(ret->copy_error, 0, sizeof(ret->copy_error));
	return 0;
}

void state_close(struct state_dev *d)
{
	if (d->fd >= 0)
		io_close(d->fd);
	d->fd = -1;
}

static uint8_t *block_alloc(void)
{
	void *p = NULL;

	/* O_DIRECT needs buffers aligned to the logical block size; 4096 covers every device. */
	if (posix_memalign(&p, STATE_BLOCK_SIZE, STATE_BLOCK_SIZE) != 0)
		return NULL;
	memset(p, 0, STATE_BLOCK_SIZE);
	return p;
}

static unsigned retry_delay_ms = STATE_RETRY_DELAY_MS;

void state_set_retry_delay(unsigned ms)
{
	retry_delay_ms = ms;
}

static void retry_pause(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (ms && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Reads copy i into block. A flash hiccup should not hide the newer copy: a
 * failed read is tried again, with a growing pause, before it counts.
 */
static int read_copy(struct state_dev *d, int i, uint8_t *block)
{
	unsigned delay = retry_delay_ms;
	int r = -EIO;

	for (int attempt = 0; attempt < STATE_READ_ATTEMPTS; attempt++) {
		if (attempt > 0) {
			retry_pause(delay);
			delay *= 2;
		}
		r = io_pread_all(d->fd, block, STATE_BLOCK_SIZE, d->copy_offset[i]);
		/* A partition that ends early is a fact, not a hiccup. */
		if (r == 0 || r == -ENODATA)
			break;
	}
	return r;
}

/*
 * The keyring area, little-endian, at STATE_AREA_OFFSET of the block:
 *    0  magic "SOKR"   4  format u16 (1)   6  keyring_len u16   8  pending_len u16
 *   10  reserved u16 (0)   12  CRC32 of bytes 0..11 and 16..24+keyring_len+pending_len
 *   16  sequence u64 (the record's)   24  the adopted keyring, then the pending one
 * and zeros to the end of the block.
 */
#define AREA_MAGIC "SOKR"
#define AREA_FORMAT 1
#define AREA_SIZE (STATE_BLOCK_SIZE - STATE_AREA_OFFSET)

_Static_assert(STATE_AREA_HEADER_SIZE + 2 * STATE_KEYRING_MAX <= AREA_SIZE,
               "two keyrings must fit the block after the record");

static uint32_t area_crc(const uint8_t *a, size_t data_len)
{
	return util_crc32(util_crc32(0, a, 12), a + 16, STATE_AREA_HEADER_SIZE - 16 + data_len);
}

void state_encode_block(const struct state_record *r, uint8_t out[STATE_BLOCK_SIZE])
{
	struct state_record flagged = *r;
	uint8_t *a = out + STATE_AREA_OFFSET;
	size_t k = MIN(r->keyring_len, STATE_KEYRING_MAX),
	       p = MIN(r->pending_len, STATE_KEYRING_MAX);

	/*
	 * A record without keyrings is written as before they existed (flag clear,
	 * area zero), so an initramfs older than keyrings, which a deployed device
	 * keeps for ever, still reads what a newer running system commits.
	 */
	memset(out, 0, STATE_BLOCK_SIZE);
	if (!k && !p) {
		state_encode(r, out);
		return;
	}
	flagged.flags |= STATE_FLAG_KEYRINGS;
	state_encode(&flagged, out);
	memcpy(a, AREA_MAGIC, 4);
	util_put_le16(a + 4, AREA_FORMAT);
	util_put_le16(a + 6, (uint16_t)k);
	util_put_le16(a + 8, (uint16_t)p);
	util_put_le64(a + 16, r->seq);
	memcpy(a + STATE_AREA_HEADER_SIZE, r->keyring, k);
	memcpy(a + STATE_AREA_HEADER_SIZE + k, r->pending, p);
	util_put_le32(a + 12, area_crc(a, k + p));
}

static bool keyring_len_ok(uint16_t n)
{
	/* 0, or a plausible document: keyring.h's parser judges its contents. */
	return n == 0 || (n >= STATE_KEYRING_MIN && n <= STATE_KEYRING_MAX);
}

int state_decode_block(const uint8_t *buf, size_t len, struct state_record *ret)
{
	struct state_record r;
	const uint8_t *a = buf + STATE_AREA_OFFSET;
	int e;

	if (len < STATE_BLOCK_SIZE)
		return fail(-EBADMSG, "state block: %zu bytes, need %d", len, STATE_BLOCK_SIZE);
	e = state_decode(buf, STATE_RECORD_SIZE, &r);
	if (e < 0)
		return e;
	/* The flag says how the block is laid out, not what the record says: never shown. */
	bool area = r.flags & STATE_FLAG_KEYRINGS;
	r.flags &= (uint8_t)~STATE_FLAG_KEYRINGS;
	if (!area) {
		*ret = r;
		return 0;
	}
	uint16_t k = util_le16(a + 6), p = util_le16(a + 8);
	if (memcmp(a, AREA_MAGIC, 4) != 0 || util_le16(a + 4) != AREA_FORMAT ||
	    !keyring_len_ok(k) || !keyring_len_ok(p) || !util_is_zero(a + 10, 2))
		return fail(-EBADMSG, "state record: keyring area missing or malformed");
	if (!k && !p)
		return fail(-EBADMSG, "state record: a keyring area without a keyring");
	size_t end = STATE_AREA_HEADER_SIZE + (size_t)k + p;
	if (util_le32(a + 12) != area_crc(a, (size_t)k + p) || util_le64(a + 16) != r.seq)
		return fail(-EBADMSG, "state record: keyring area torn (CRC or sequence)");
	if (!util_is_zero(a + end, AREA_SIZE - end))
		return fail(-EBADMSG, "state record: bytes after the keyring area are not zero");
	r.keyring_len = k;
	r.pending_len = p;
	memcpy(r.keyring, a + STATE_AREA_HEADER_SIZE, k);
	memcpy(r.pending, a + STATE_AREA_HEADER_SIZE + k, p);
	*ret = r;
	return 0;
}

int state_load(struct state_dev *d, struct state_record *ret)
{
	_cleanup_free_ uint8_t *block = block_alloc();
	struct state_record copy[2];
	char why[2][FAIL_REASON_MAX];

	if (!block)
		return fail(-ENOMEM, "no memory for a state record block");
	for (int i = 0; i < 2; i++) {
		int r = read_copy(d, i, block);
		d->copy_error[i] = r == -ENODATA ? 0 : r;
		if (r < 0 && r != -ENODATA) {
			d->copy[i] = STATE_COPY_UNREADABLE;
			snprintf(why[i], sizeof(why[i]), "unreadable, %s", fail_code_name(r));
			continue;
		}
		if (r == 0 && state_decode_block(block, STATE_BLOCK_SIZE, &copy[i]) == 0) {
			d->copy[i] = STATE_COPY_VALID;
			continue;
		}
		d->copy[i] = STATE_COPY_INVALID;
		snprintf(why[i], sizeof(why[i]), "%s", r == 0 ? fail_reason() : "short partition");
	}
	bool valid[2] = {d->copy[0] == STATE_COPY_VALID, d->copy[1] == STATE_COPY_VALID};
	if (!valid[0] && !valid[1]) {
		d->current = -1;
		if (state_unreadable(d) >= 0)
			return fail(-EIO, "state record unreadable (copy 0: %s; copy 1: %s)",
			            why[0], why[1]);
		return fail(-ENODATA, "no valid state record (copy 0: %s; copy 1: %s)", why[0],
		            why[1]);
	}
	int pick = !valid[0] || (valid[1] && copy[1].seq > copy[0].seq);
	d->current = pick;
	d->seq = copy[pick].seq;
	*ret = copy[pick];
	return 0;
}

int state_unreadable(const struct state_dev *d)
{
	for (int i = 0; i < 2; i++)
		if (d->copy[i] == STATE_COPY_UNREADABLE)
			return i;
	return -1;
}

/* A salvaged copy's adopted keyring, if its area's own CRC still holds (its sequence may not). */
static void salvage_area(const uint8_t *block, struct state_record *r)
{
	const uint8_t *a = block + STATE_AREA_OFFSET;
	uint16_t k = util_le16(a + 6), p = util_le16(a + 8);

	r->keyring_len = r->pending_len = 0;
	if (memcmp(a, AREA_MAGIC, 4) != 0 || util_le16(a + 4) != AREA_FORMAT ||
	    !keyring_len_ok(k) || !keyring_len_ok(p) ||
	    util_le32(a + 12) != area_crc(a, (size_t)k + p))
		return;
	r->keyring_len = k;
	memcpy(r->keyring, a + STATE_AREA_HEADER_SIZE, k);
}

int state_salvage(struct state_dev *d, int i, struct state_record *ret)
{
	_cleanup_free_ uint8_t *block = block_alloc();

	if (!block)
		return fail(-ENOMEM, "no memory for a state record block");
	int r = io_pread_all(d->fd, block, STATE_BLOCK_SIZE, d->copy_offset[i]);
	if (r < 0)
		return fail(r, "cannot read state record copy %d", i);
	r = state_decode_salvage(block, STATE_RECORD_SIZE, ret);
	if (r == 0)
		salvage_area(block, ret);
	return r;
}

/* One attempt: write, flush, read back, compare. */
static int commit_once(struct state_dev *d, int target, const uint8_t *block, uint8_t *check)
{
	int e = io_pwrite_all(d->fd, block, STATE_BLOCK_SIZE, d->copy_offset[target]);
	if (e < 0)
		return fail(e, "writing state record copy %d failed", target);
	e = io_sync(d->fd);
	if (e < 0)
		return fail(e, "flushing state record copy %d failed", target);
	e = io_pread_all(d->fd, check, STATE_BLOCK_SIZE, d->copy_offset[target]);
	if (e < 0)
		return fail(e, "reading back state record copy %d failed", target);
	if (memcmp(block, check, STATE_BLOCK_SIZE) != 0)
		return fail(-EIO, "state record copy %d read back different", target);
	return 0;
}

int state_commit(struct state_dev *d, struct state_record *r)
{
	_cleanup_free_ uint8_t *block = block_alloc();
	_cleanup_free_ uint8_t *check = block_alloc();
	int target = d->current < 0 ? 0 : !d->current;
	struct state_record next = *r;
	int e;

	if (!block || !check)
		return fail(-ENOMEM, "no memory for a state record block");
	/* It may hold a newer record than the one in use: overwriting it could lose that. */
	if (d->copy[target] == STATE_COPY_UNREADABLE)
		return fail(-EIO,
		            "state record copy %d could not be read (%s); not writing over it",
		            target, fail_code_name(d->copy_error[target]));
	next.seq = d->seq + 1;
	state_encode_block(&next, block);
	/* Never write a copy that would not load: it would silently lose the transition. */
	e = state_decode_block(block, STATE_BLOCK_SIZE, &next);
	if (e < 0)
		return fail_context(e, "refusing to commit an invalid record");
	/* Rewriting the same copy with the same sequence is harmless, so a failure is retried. */
	for (int attempt = 0; attempt < STATE_IO_ATTEMPTS; attempt++) {
		e = commit_once(d, target, block, check);
		if (e == 0)
			break;
	}
	if (e < 0)
		return e;
	d->current = target;
	d->seq = next.seq;
	d->copy[target] = STATE_COPY_VALID;
	*r = next;
	return 0;
}
