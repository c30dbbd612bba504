/* SPDX-License-Identifier: MIT */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dm.h"
#include "fail.h"
#include "io.h"
#include "util.h"

/* A header chunk_size above this (sectors) is not one we would reset blindly: 1 MiB. */
#define HEADER_CHUNK_MAX 2048u

int checkpoint_parse_header(const void *buf, size_t len, struct checkpoint_header *ret)
{
	const uint8_t *p = buf;
	struct checkpoint_header h = {0};

	if (len < 16)
		return fail(-EBADMSG, "COW header shorter than 16 bytes");
	uint32_t magic = util_le32(p), valid = util_le32(p + 4), version = util_le32(p + 8),
	         chunk = util_le32(p + 12);
	if (magic == 0) {
		/* The kernel's read_header(): magic 0 means a new store, nothing else is read. */
		*ret = h;
		return 0;
	}
	if (magic != CHECKPOINT_SNAP_MAGIC)
		return fail(-EBADMSG, "COW header magic %#x is not a snapshot's", magic);
	if (version != CHECKPOINT_SNAP_VERSION)
		return fail(-EPROTO, "COW header version %u", version);
	if (valid > 1 || chunk == 0 || (chunk & (chunk - 1)) != 0)
		return fail(-EBADMSG, "COW header fields out of range");
	h.present = true;
	h.valid = valid == 1;
	h.chunk_sectors = chunk;
	*ret = h;
	return 0;
}

int checkpoint_cow_header(const char *cow, struct checkpoint_header *ret)
{
	uint8_t buf[512];
	_cleanup_(io_closep) int fd = io_open(cow, O_RDONLY, 0);
	if (fd < 0)
		return fail(fd, "cannot open %s: %s", cow, strerror(-fd));
	int r = io_pread_all(fd, buf, sizeof(buf), 0);
	if (r < 0)
		return fail(r, "cannot read the COW header of %s: %s", cow, strerror(-r));
	return checkpoint_parse_header(buf, sizeof(buf), ret);
}

int checkpoint_reset(const char *cow)
{
	struct checkpoint_header h = {0};
	size_t chunk = CHECKPOINT_CHUNK_SECTORS * 512u;
	_cleanup_free_ void *buf = NULL;

	/* An old store with bigger chunks: its first metadata area lies further out. */
	if (checkpoint_cow_header(cow, &h) >= 0 && h.present && h.chunk_sectors <= HEADER_CHUNK_MAX)
		chunk = MAX(chunk, (size_t)h.chunk_sectors * 512u);
	fail_clear();
	_cleanup_(io_closep) int fd = io_open(cow, O_RDWR | O_DIRECT, 0);
	if (fd < 0)
		return fail(fd, "cannot open %s: %s", cow, strerror(-fd));
	/* 4096 covers every logical block size O_DIRECT may ask for; chunk is a multiple of it. */
	if (posix_memalign(&buf, 4096, 2 * chunk) != 0)
		return fail(-ENOMEM, "no memory to reset the COW");
	memset(buf, 0, 2 * chunk);
	int r = io_pwrite_all(fd, buf, 2 * chunk, 0);
	if (r < 0)
		return fail(r, "cannot reset the COW header of %s: %s", cow, strerror(-r));
	r = io_sync(fd);
	if (r < 0)
		return fail(r, "cannot sync the COW reset of %s: %s", cow, strerror(-r));
	return 0;
}

/* What a device is: absent (0), else 1 with its single target's type in type. */
static int live_type(const char *name, char type[DM_TARGET_TYPE_MAX])
{
	struct dm_target_info t[DM_TARGETS_MAX];
	int r = dm_exists(name);
	if (r <= 0)
		return r;
	r = dm_table(name, true, t, DM_TARGETS_MAX);
	if (r < 0)
		return r;
	if (r != 1)
		return fail(-EBADMSG, "%s has %d targets, not one", name, r);
	memcpy(type, t[0].type, DM_TARGET_TYPE_MAX);
	return 1;
}

static int sectors(const char *dev, uint64_t *ret)
{
	uint64_t size;
	_cleanup_(io_closep) int fd = io_open(dev, O_RDONLY, 0);
	if (fd < 0)
		return fail(fd, "cannot open %s: %s", dev, strerror(-fd));
	int r = io_size(fd, &size);
	if (r < 0)
		return fail(r, "cannot size %s: %s", dev, strerror(-r));
	if (size < 512)
		return fail(-ENOSPC, "%s is empty", dev);
	*ret = size / 512;
	return 0;
}

/* Creates or replaces name's table with one target. */
static int put(const char *name, bool exists, const struct dm_target *t)
{
	return exists ? dm_replace(name, t, 1) : dm_create(name, t, 1);
}

static int map_plain(const char *data, uint64_t len, int data_live, int snap_live, const char *type)
{
	struct dm_target lin = {0, len, "linear", NULL};
	char params[DM_PARAMS_MAX];

	snprintf(params, sizeof(params), "%s 0", data);
	lin.params = params;
	if (!data_live || strcmp(type, "linear") != 0) {
		int r = put(CHECKPOINT_DATA_NAME, data_live, &lin);
		if (r < 0)
			return r;
	}
	/* The origin no longer points at the snapshot: it can go without a suspend. */
	return snap_live ? dm_remove(CHECKPOINT_SNAP_NAME) : 0;
}

/*
 * The resume to snapshot-origin failed: back to the linear table, without the
 * snapshot, keeping the first error's reason.
 */
static void undo_trial(int code)
{
	char reason[FAIL_REASON_MAX];

	snprintf(reason, sizeof(reason), "%s", fail_reason());
	(void)dm_clear(CHECKPOINT_DATA_NAME);
	if (dm_resume(CHECKPOINT_DATA_NAME) >= 0)
		(void)dm_remove(CHECKPOINT_SNAP_NAME);
	fail(code, "%s", reason);
}

/*
 * LVM's order: the origin is suspended while the snapshot is created, so no
 * write reaches the data partition between the snapshot's start and the
 * origin's switch to snapshot-origin.
 */
static int map_trial(const char *data, const char *cow, uint64_t len, int data_live)
{
	char sp[DM_PARAMS_MAX], op[DM_PARAMS_MAX];
	snprintf(sp, sizeof(sp), "%s %s P %u", data, cow, CHECKPOINT_CHUNK_SECTORS);
	snprintf(op, sizeof(op), "%s", data);
	struct dm_target snap = {0, len, "snapshot", sp}, orig = {0, len, "snapshot-origin", op};

	if (!data_live) {
		int r = dm_create(CHECKPOINT_SNAP_NAME, &snap, 1);
		if (r < 0)
			return r;
		r = dm_create(CHECKPOINT_DATA_NAME, &orig, 1);
		if (r < 0)
			(void)dm_remove(CHECKPOINT_SNAP_NAME);
		return r;
	}
	int r = dm_suspend(CHECKPOINT_DATA_NAME);
	if (r < 0)
		return r;
	r = dm_create(CHECKPOINT_SNAP_NAME, &snap, 1);
	if (r >= 0) {
		r = dm_load(CHECKPOINT_DATA_NAME, &orig, 1);
		if (r < 0)
			(void)dm_remove(CHECKPOINT_SNAP_NAME);
	}
	/* Resume in every case: a suspended data device would hang the system. */
	int q = dm_resume(CHECKPOINT_DATA_NAME);
	if (r >= 0 && q < 0)
		undo_trial(q);
	return r < 0 ? r : q;
}

int checkpoint_map(const char *data, const char *cow, enum checkpoint_map how)
{
	char type[DM_TARGET_TYPE_MAX] = "";
	uint64_t len;

	if (how == CHECKPOINT_TRIAL && !cow)
		return fail(-EINVAL, "a trial mapping needs a COW device");
	int r = sectors(data, &len);
	if (r < 0)
		return r;
	int data_live = live_type(CHECKPOINT_DATA_NAME, type);
	if (data_live < 0)
		return data_live;
	int snap_live = dm_exists(CHECKPOINT_SNAP_NAME);
	if (snap_live < 0)
		return snap_live;
	/* A half-done merge left as it is would be data half old, half new: merge finishes it. */
	if (data_live && strcmp(type, "snapshot-merge") == 0)
		return fail(-EBUSY, "a checkpoint merge is under way on %s", CHECKPOINT_DATA_NAME);
	if (how == CHECKPOINT_PLAIN)
		return map_plain(data, len, data_live, snap_live, type);
	if (data_live && strcmp(type, "snapshot-origin") == 0 && snap_live)
		return 0;
	if (data_live && strcmp(type, "linear") != 0)
		return fail(-EBUSY, "%s is a %s: not mapping a trial over it", CHECKPOINT_DATA_NAME,
		            type);
	if (snap_live) {
		r = dm_remove(CHECKPOINT_SNAP_NAME); /* a leftover without its origin */
		if (r < 0)
			return r;
	}
	return map_trial(data, cow, len, data_live);
}

static int status_of(const char *name, struct dm_snapshot_status *ret)
{
	struct dm_target_info t[DM_TARGETS_MAX];
	int r = dm_table(name, false, t, DM_TARGETS_MAX);
	if (r < 0)
		return r;
	if (r != 1)
		return fail(-EBADMSG, "%s has %d targets, not one", name, r);
	return dm_parse_snapshot_status(t[0].params, ret);
}

/* The merge is done when only the metadata is left allocated (snapshot.rst). */
static int wait_merge(void (*progress)(void *, uint64_t, uint64_t), void *u)
{
	uint64_t start = util_now_ms(), total = 0;

	for (;;) {
		struct dm_snapshot_status s;
		int r = status_of(CHECKPOINT_DATA_NAME, &s);
		if (r < 0)
			return r;
		if (s.invalid || s.overflow || s.merge_failed)
			return fail(-EIO, "the checkpoint merge failed");
		uint64_t left = s.allocated - s.metadata;
		total = MAX(total, left);
		if (progress)
			progress(u, total - left, total);
		if (left == 0)
			return 0;
		if (util_now_ms() - start > CHECKPOINT_MERGE_TIMEOUT_MS)
			return fail(-ETIMEDOUT, "the checkpoint merge did not end in %u ms",
			            CHECKPOINT_MERGE_TIMEOUT_MS);
		nanosleep(&(struct timespec){0, CHECKPOINT_MERGE_POLL_MS * 1000000L}, NULL);
	}
}

int checkpoint_merge(const char *data, const char *cow,
                     void (*progress)(void *, uint64_t done, uint64_t total), void *u)
{
	struct checkpoint_header h;
	char type[DM_TARGET_TYPE_MAX] = "", params[DM_PARAMS_MAX];
	uint64_t len;

	int r = checkpoint_cow_header(cow, &h);
	if (r < 0)
		return r;
	if (!h.present)
		return checkpoint_map(data, NULL, CHECKPOINT_PLAIN); /* nothing to merge */
	if (!h.valid)
		return fail(-ENOSPC, "the checkpoint on %s overflowed: it cannot be merged", cow);
	r = sectors(data, &len);
	if (r < 0)
		return r;
	int data_live = live_type(CHECKPOINT_DATA_NAME, type);
	if (data_live < 0)
		return data_live;
	if (!data_live || strcmp(type, "snapshot-merge") != 0) {
		/* The kernel merges only a COW no snapshot device holds. */
		r = dm_exists(CHECKPOINT_SNAP_NAME);
		if (r > 0)
			r = dm_remove(CHECKPOINT_SNAP_NAME);
		if (r < 0)
			return r;
		snprintf(params, sizeof(params), "%s %s P %u", data, cow, h.chunk_sectors);
		struct dm_target m = {0, len, "snapshot-merge", params};
		r = put(CHECKPOINT_DATA_NAME, data_live, &m);
		if (r < 0)
			return r;
	}
	r = wait_merge(progress, u);
	if (r < 0)
		return r;
	/* The store stays as the kernel left it (merged: empty) until the record says so. */
	return map_plain(data, len, 1, 0, "snapshot-merge");
}

int checkpoint_drop(const char *cow)
{
	int r = dm_exists(CHECKPOINT_SNAP_NAME);
	if (r < 0)
		return r;
	if (r > 0) {
		/* Suspended, the origin has no write in flight toward the snapshot's COW. */
		r = dm_suspend(CHECKPOINT_DATA_NAME);
		if (r < 0)
			return r;
		r = dm_remove(CHECKPOINT_SNAP_NAME);
		int q = dm_resume(CHECKPOINT_DATA_NAME);
		if (r < 0 || q < 0)
			return r < 0 ? r : q;
	} else {
		/* Nothing mapped: reset only a store that holds something (mark-good repeats). */
		struct checkpoint_header h;
		r = checkpoint_cow_header(cow, &h);
		if (r == 0 && !h.present)
			return 0;
	}
	return checkpoint_reset(cow);
}

int checkpoint_usage(struct checkpoint_usage *ret)
{
	struct checkpoint_usage c = {0};
	struct dm_snapshot_status s;
	char type[DM_TARGET_TYPE_MAX] = "";
	const char *name = CHECKPOINT_SNAP_NAME;

	int r = dm_exists(CHECKPOINT_SNAP_NAME);
	if (r == 0) {
		r = live_type(CHECKPOINT_DATA_NAME, type);
		if (r == 0 || (r > 0 && strcmp(type, "snapshot-merge") != 0))
			return fail(-ENOENT, "no checkpoint is mapped");
		name = CHECKPOINT_DATA_NAME;
		c.merging = true;
	}
	if (r < 0)
		return r;
	r = status_of(name, &s);
	if (r < 0)
		return r;
	c.mapped = true;
	c.invalid = s.invalid || s.merge_failed;
	c.overflow = s.overflow;
	c.used_sectors = s.allocated;
	c.total_sectors = s.total;
	c.metadata_sectors = s.metadata;
	*ret = c;
	return 0;
}

void checkpoint_data_node(char *buf, size_t size)
{
	dm_node_path(CHECKPOINT_DATA_NAME, buf, size);
}

int checkpoint_unmap(void)
{
	static const char *const names[] = {CHECKPOINT_SNAP_NAME, CHECKPOINT_DATA_NAME};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		int r = dm_exists(names[i]);
		if (r > 0)
			r = dm_remove(names[i]);
		if (r < 0)
			return r;
	}
	return 0;
}
