/* SPDX-License-Identifier: MIT */
#include "history.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fail.h"
#include "io.h"
#include "log.h"
#include "util.h"

/*
 * One entry, one sector, little-endian:
 *   0 magic "SOHI"  4 format u16 (1)  6 size u16 (512)  8 seq u64  16 record_seq u64
 *  24 time u64  32 kind u8  33 slot u8  34 reserved u16  36 error u32  40 version u64
 *  48 label[32]  80 reason[128]  208 reserved[300] (0)  508 CRC32 of bytes 0..507
 */
enum {
	OFF_SEQ = 8,
	OFF_RECORD_SEQ = 16,
	OFF_TIME = 24,
	OFF_KIND = 32,
	OFF_SLOT = 33,
	OFF_ERROR = 36,
	OFF_VERSION = 40,
	OFF_LABEL = 48,
	OFF_REASON = 80,
	OFF_CRC = 508,
};

/*
 * Reasons quote file names, which may hold any byte; decoding accepts printable ASCII only
 * (as the record does), so each other byte is written as '?': what is written always reads
 * back, and its sequence number is never handed out again.
 */
static void put_string(uint8_t *out, const char *s, size_t size)
{
	size_t n = strnlen(s, size - 1);

	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)s[i] < 0x20 || (uint8_t)s[i] > 0x7e ? '?' : (uint8_t)s[i];
	memset(out + n, 0, size - n);
}

void history_encode(const struct history_entry *e, uint8_t out[HISTORY_ENTRY_SIZE])
{
	memset(out, 0, HISTORY_ENTRY_SIZE);
	memcpy(out, "SOHI", 4);
	util_put_le16(out + 4, 1);
	util_put_le16(out + 6, HISTORY_ENTRY_SIZE);
	util_put_le64(out + OFF_SEQ, e->seq);
	util_put_le64(out + OFF_RECORD_SEQ, e->record_seq);
	util_put_le64(out + OFF_TIME, e->time);
	out[OFF_KIND] = e->kind;
	out[OFF_SLOT] = e->slot;
	util_put_le32(out + OFF_ERROR, (uint32_t)e->error);
	util_put_le64(out + OFF_VERSION, e->version);
	put_string(out + OFF_LABEL, e->label, STATE_LABEL_SIZE);
	put_string(out + OFF_REASON, e->reason, HISTORY_REASON_SIZE);
	util_put_le32(out + OFF_CRC, util_crc32(0, out, OFF_CRC));
}

int history_decode(const uint8_t *buf, struct history_entry *ret)
{
	struct history_entry e = {0};

	if (memcmp(buf, "SOHI", 4) != 0 || util_le16(buf + 4) != 1 ||
	    util_le16(buf + 6) != HISTORY_ENTRY_SIZE ||
	    util_le32(buf + OFF_CRC) != util_crc32(0, buf, OFF_CRC))
		return -EBADMSG;
	if (!util_is_clean_string(buf + OFF_LABEL, STATE_LABEL_SIZE) ||
	    !util_is_clean_string(buf + OFF_REASON, HISTORY_REASON_SIZE) || buf[OFF_SLOT] > 1)
		return -EBADMSG;
	e.seq = util_le64(buf + OFF_SEQ);
	e.record_seq = util_le64(buf + OFF_RECORD_SEQ);
	e.time = util_le64(buf + OFF_TIME);
	e.kind = buf[OFF_KIND];
	e.slot = buf[OFF_SLOT];
	e.error = (int32_t)util_le32(buf + OFF_ERROR);
	e.version = util_le64(buf + OFF_VERSION);
	memcpy(e.label, buf + OFF_LABEL, STATE_LABEL_SIZE);
	memcpy(e.reason, buf + OFF_REASON, HISTORY_REASON_SIZE);
	*ret = e;
	return 0;
}

int history_supported(const struct state_dev *d)
{
	/* The ring must end before copy 1 begins. */
	return d->copy_offset[1] >= HISTORY_OFFSET + (uint64_t)HISTORY_ENTRIES * HISTORY_ENTRY_SIZE;
}

#define RING_SIZE ((size_t)HISTORY_ENTRIES * HISTORY_ENTRY_SIZE)

/* Reads the whole ring: the entries are few and small, so one read. */
static int read_ring(struct state_dev *d, uint8_t **ret)
{
	void *buf = NULL;

	if (!history_supported(d))
		return fail(-ENOSPC, "the state partition is too small for a history");
	/* Aligned for O_DIRECT. */
	if (posix_memalign(&buf, 4096, RING_SIZE) != 0)
		return fail(-ENOMEM, "cannot allocate the history ring");
	int r = io_pread_all(d->fd, buf, RING_SIZE, HISTORY_OFFSET);
	if (r < 0) {
		free(buf);
		return fail(-EIO, "cannot read the history: %s", strerror(-r));
	}
	*ret = buf;
	return 0;
}

static int seq_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct history_entry *)a)->seq;
	uint64_t y = ((const struct history_entry *)b)->seq;
	return x < y ? -1 : x > y;
}

int history_read(struct state_dev *d, struct history_entry *ret, size_t max, size_t *ret_n)
{
	_cleanup_free_ uint8_t *ring = NULL;
	struct history_entry all[HISTORY_ENTRIES];
	size_t n = 0;
	int r = read_ring(d, &ring);

	if (r < 0)
		return r;
	for (size_t i = 0; i < HISTORY_ENTRIES; i++)
		if (history_decode(ring + i * HISTORY_ENTRY_SIZE, &all[n]) == 0 &&
		    all[n].seq % HISTORY_ENTRIES == i)
			n++;
	qsort(all, n, sizeof(all[0]), seq_cmp);
	/* The newest max of them, still oldest first. */
	size_t skip = n > max ? n - max : 0;
	memcpy(ret, all + skip, (n - skip) * sizeof(all[0]));
	*ret_n = n - skip;
	return 0;
}

/* The sequence number after the newest valid entry of the ring, 1 for an empty ring. */
static uint64_t next_seq(const uint8_t *ring)
{
	uint64_t last = 0;
	int any = 0;

	for (size_t i = 0; i < HISTORY_ENTRIES; i++) {
		struct history_entry old;
		if (history_decode(ring + i * HISTORY_ENTRY_SIZE, &old) == 0 &&
		    (!any || old.seq > last)) {
			last = old.seq;
			any = 1;
		}
	}
	return any ? last + 1 : 1;
}

int history_append(struct state_dev *d, struct history_entry *e)
{
	_cleanup_free_ uint8_t *ring = NULL;
	size_t bs = 0;
	int r = read_ring(d, &ring);

	if (r < 0)
		return r;
	r = io_block_size(d->fd, &bs);
	if (r < 0 || bs > RING_SIZE)
		return fail(r < 0 ? r : -EINVAL, "the state device's block size is unusable");
	e->seq = next_seq(ring);
	e->record_seq = d->seq;
	if (!e->time)
		e->time = (uint64_t)time(NULL);
	/*
	 * O_DIRECT writes whole logical blocks: on a device of 4096-byte blocks, the entry's
	 * block is written, its seven neighbours with the bytes just read from it.
	 */
	size_t at = (size_t)(e->seq % HISTORY_ENTRIES) * HISTORY_ENTRY_SIZE;
	size_t start = at & ~(bs - 1);
	history_encode(e, ring + at);
	r = io_pwrite_all(d->fd, ring + start, bs, HISTORY_OFFSET + start);
	if (r == 0)
		r = io_sync(d->fd);
	return r < 0 ? fail(-EIO, "cannot write the history: %s", strerror(-r)) : 0;
}

const char *history_kind_name(uint8_t kind)
{
	static const char *const names[] = {
	        "?",        "staged",       "installing",    "installed",   "install-failed",
	        "rejected", "trial-boot",   "trial-failed",  "confirmed",   "marked-bad",
	        "rollback", "clean-reboot", "reinitialised", "hook-failed", "kexec",
	        "note",     "checkpoint",   "data-rollback", "keyring",     "damaged",
	};
	return kind < ARRAY_SIZE(names) ? names[kind] : "?";
}

void history_fill(struct history_entry *e, uint8_t kind, uint8_t slot, uint64_t version,
                  const char *label, int error, const char *fmt, ...)
{
	va_list ap;

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->slot = slot;
	e->version = version;
	e->error = error < 0 ? -error : error;
	snprintf(e->label, sizeof(e->label), "%s", label ? label : "");
	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
}

void history_note(struct state_dev *d, struct history_entry *e)
{
	if (history_supported(d) && history_append(d, e) < 0)
		log_warn("%s", fail_reason());
}

void history_note_path(const char *state_path, struct history_entry *e)
{
	struct state_record st;
	struct state_dev dev;

	if (state_open(state_path, true, &dev) < 0)
		return;
	/* Loading gives the record's sequence, which the entry carries. */
	if (state_load(&dev, &st) == 0)
		history_note(&dev, e);
	state_close(&dev);
}
