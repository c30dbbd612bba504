/* SPDX-License-Identifier: MIT */
#include "dmemu.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "checkpoint.h"
#include "io.h"
#include "util.h"

#define DEVS 4
#define ENTRY_MAGIC 0x74506358u /* "XcPt" */
#define ENTRY_CHECK 0x9e3779b9u

/* A snapshot store as the kernel holds it in memory once its table is loaded. */
struct store {
	int fd; /* the COW file, held open like the kernel's bdev */
	bool valid, merge_failed;
	uint32_t count, capacity; /* exceptions, and how many the file has room for */
	uint64_t cow_sectors;
	uint32_t chunk[DMEMU_MAX_EXCEPTIONS]; /* exception i: data chunk chunk[i], COW chunk
	                                         DMEMU_FIRST_COW_CHUNK + i */
};

struct table {
	char type[DM_MAX_TYPE_NAME];
	char params[256];
	uint64_t length;
	struct store *store; /* snapshot, snapshot-merge */
};

struct dev {
	bool used, suspended, active; /* active: resumed once with its live table */
	char name[DM_NAME_LEN];
	struct table live, inactive;
};

static struct {
	char data[512], cow[512];
	struct dev dev[DEVS];
	struct dmemu_stats stats;
	void (*observer)(void *, bool);
	void *observer_data;
} emu;

void dmemu_set_merge_observer(void (*fn)(void *userdata, bool begin), void *userdata)
{
	emu.observer = fn;
	emu.observer_data = userdata;
}

static void store_free(struct store *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd); /* the kernel letting go of the device: no I/O to observe */
	free(s);
}

static void table_clear(struct table *t)
{
	store_free(t->store);
	memset(t, 0, sizeof(*t));
}

void dmemu_reset(void)
{
	for (int i = 0; i < DEVS; i++) {
		table_clear(&emu.dev[i].live);
		table_clear(&emu.dev[i].inactive);
		memset(&emu.dev[i], 0, sizeof(emu.dev[i]));
	}
}

void dmemu_init(const char *data, const char *cow)
{
	dmemu_reset();
	snprintf(emu.data, sizeof(emu.data), "%s", data);
	snprintf(emu.cow, sizeof(emu.cow), "%s", cow);
	memset(&emu.stats, 0, sizeof(emu.stats));
}

void dmemu_stats(struct dmemu_stats *ret)
{
	*ret = emu.stats;
}

static struct dev *find(const char *name)
{
	for (int i = 0; i < DEVS; i++)
		if (emu.dev[i].used && strcmp(emu.dev[i].name, name) == 0)
			return &emu.dev[i];
	return NULL;
}

static void entry_encode(uint8_t e[DMEMU_ENTRY_SIZE], uint32_t data_chunk, uint32_t cow_chunk)
{
	util_put_le32(e, ENTRY_MAGIC);
	util_put_le32(e + 4, data_chunk);
	util_put_le32(e + 8, cow_chunk);
	util_put_le32(e + 12, ENTRY_MAGIC ^ data_chunk ^ (cow_chunk * ENTRY_CHECK));
}

/* The data chunk of entry i, or -1 when it does not check (the table ends there). */
static int64_t entry_decode(const uint8_t *e, uint32_t i)
{
	uint32_t d = util_le32(e + 4), c = util_le32(e + 8);

	if (util_le32(e) != ENTRY_MAGIC || c != DMEMU_FIRST_COW_CHUNK + i ||
	    util_le32(e + 12) != (ENTRY_MAGIC ^ d ^ (c * ENTRY_CHECK)))
		return -1;
	return d;
}

static int cow_sync_write(int fd, const void *buf, size_t len, uint64_t off)
{
	int r = io_pwrite_all(fd, buf, len, off);
	return r < 0 ? r : io_sync(fd);
}

/* The kernel's invalidation: the header says valid = 0, durably (best effort). */
static void invalidate(struct store *s)
{
	uint8_t h[16];

	if (!s->valid)
		return;
	s->valid = false;
	emu.stats.invalidations++;
	util_put_le32(h, CHECKPOINT_SNAP_MAGIC);
	util_put_le32(h + 4, 0);
	util_put_le32(h + 8, CHECKPOINT_SNAP_VERSION);
	util_put_le32(h + 12, CHECKPOINT_CHUNK_SECTORS);
	if (cow_sync_write(s->fd, h, sizeof(h), 0) < 0)
		emu.stats.untraced++;
}

/* A snapshot's constructor: the store read (or started, over a zero magic). */
static int store_load(const char *cow, struct store **ret)
{
	uint8_t buf[DMEMU_CHUNK];
	uint64_t size;
	struct store *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->fd = io_open(cow, O_RDWR, 0);
	int r = s->fd < 0 ? s->fd : io_size(s->fd, &size);
	if (r >= 0)
		r = io_pread_all(s->fd, buf, sizeof(buf), 0);
	if (r >= 0 && size < (DMEMU_FIRST_COW_CHUNK + 1) * (uint64_t)DMEMU_CHUNK)
		r = -EINVAL;
	uint32_t magic = r >= 0 ? util_le32(buf) : 0;
	if (r >= 0 && magic == 0) {
		/* A new store: the table zeroed and the header written, in one flushed chunk. */
		memset(buf, 0, sizeof(buf));
		util_put_le32(buf, CHECKPOINT_SNAP_MAGIC);
		util_put_le32(buf + 4, 1);
		util_put_le32(buf + 8, CHECKPOINT_SNAP_VERSION);
		util_put_le32(buf + 12, CHECKPOINT_CHUNK_SECTORS);
		r = cow_sync_write(s->fd, buf, sizeof(buf), 0);
	} else if (r >= 0 && (magic != CHECKPOINT_SNAP_MAGIC ||
	                      util_le32(buf + 8) != CHECKPOINT_SNAP_VERSION ||
	                      util_le32(buf + 12) != CHECKPOINT_CHUNK_SECTORS)) {
		r = -EINVAL; /* dm-snap-persistent: "Invalid or corrupt snapshot" */
	}
	if (r < 0) {
		store_free(s);
		return r == -EINVAL ? r : -EIO;
	}
	s->valid = util_le32(buf + 4) == 1;
	s->cow_sectors = size / 512;
	s->capacity = (uint32_t)MIN((uint64_t)DMEMU_MAX_EXCEPTIONS,
	                            size / DMEMU_CHUNK - DMEMU_FIRST_COW_CHUNK);
	while (s->valid && s->count < s->capacity) {
		int64_t d =
		        entry_decode(buf + DMEMU_TABLE_OFF + s->count * DMEMU_ENTRY_SIZE, s->count);
		if (d < 0)
			break;
		s->chunk[s->count++] = (uint32_t)d;
	}
	*ret = s;
	return 0;
}

static int64_t exception_of(const struct store *s, uint64_t chunk)
{
	for (uint32_t i = 0; i < s->count; i++)
		if (s->chunk[i] == chunk)
			return i;
	return -1;
}

/* Copy-on-write of one data chunk into s, durable before the origin write goes on. */
static void cow_chunk(struct store *s, int data_fd, uint64_t chunk)
{
	uint8_t buf[DMEMU_CHUNK], e[DMEMU_ENTRY_SIZE];

	if (!s->valid || exception_of(s, chunk) >= 0)
		return;
	if (s->count >= s->capacity) {
		invalidate(s); /* full: a "P" store without "O" is invalidated */
		return;
	}
	uint32_t cow = DMEMU_FIRST_COW_CHUNK + s->count;
	entry_encode(e, (uint32_t)chunk, cow);
	int r = io_pread_all(data_fd, buf, sizeof(buf), chunk * DMEMU_CHUNK);
	if (r >= 0)
		r = cow_sync_write(s->fd, buf, sizeof(buf), (uint64_t)cow * DMEMU_CHUNK);
	if (r >= 0)
		r = cow_sync_write(s->fd, e, sizeof(e),
		                   DMEMU_TABLE_OFF + (uint64_t)s->count * DMEMU_ENTRY_SIZE);
	if (r < 0) {
		invalidate(s); /* dm-snap.c pending_complete(): an I/O error invalidates */
		return;
	}
	s->chunk[s->count++] = (uint32_t)chunk;
	emu.stats.cow_copies++;
}

/* The snapshot-merge target's work, all of it when resumed; resumable from the file. */
static void merge(struct store *s)
{
	uint8_t buf[DMEMU_CHUNK], zero[DMEMU_ENTRY_SIZE] = {0};

	if (!s->valid || s->merge_failed)
		return;
	if (emu.observer)
		emu.observer(emu.observer_data, true);
	int fd = io_open(emu.data, O_RDWR, 0);
	if (fd < 0)
		s->merge_failed = true;
	while (fd >= 0 && s->count > 0) {
		uint32_t i = s->count - 1;
		int r = io_pread_all(s->fd, buf, sizeof(buf),
		                     (uint64_t)(DMEMU_FIRST_COW_CHUNK + i) * DMEMU_CHUNK);
		if (r >= 0)
			r = io_pwrite_all(fd, buf, sizeof(buf),
			                  (uint64_t)s->chunk[i] * DMEMU_CHUNK);
		if (r >= 0)
			r = io_sync(fd); /* the origin flushed before the exception is dropped */
		if (r >= 0)
			r = cow_sync_write(s->fd, zero, sizeof(zero),
			                   DMEMU_TABLE_OFF + (uint64_t)i * DMEMU_ENTRY_SIZE);
		if (r < 0) {
			s->merge_failed = true;
			break;
		}
		s->count--;
		emu.stats.merged++;
	}
	if (fd >= 0)
		close(fd);
	if (emu.observer)
		emu.observer(emu.observer_data, false);
}

static bool is_snapshot(const char *type)
{
	return strcmp(type, "snapshot") == 0 || strcmp(type, "snapshot-merge") == 0;
}

/* Does any device (live or inactive table) hold a store on this COW already? */
static bool cow_in_use(void)
{
	for (int i = 0; i < DEVS; i++)
		if (emu.dev[i].used && (emu.dev[i].live.store || emu.dev[i].inactive.store))
			return true;
	return false;
}

/* "data cow P 8": the two device paths must be ours. */
static int check_params(const struct table *t)
{
	char want[600];

	if (strcmp(t->type, "linear") == 0)
		snprintf(want, sizeof(want), "%s 0", emu.data);
	else if (strcmp(t->type, "snapshot-origin") == 0)
		snprintf(want, sizeof(want), "%s", emu.data);
	else if (is_snapshot(t->type))
		snprintf(want, sizeof(want), "%s %s P %u", emu.data, emu.cow,
		         CHECKPOINT_CHUNK_SECTORS);
	else
		return -EINVAL;
	return strcmp(want, t->params) == 0 ? 0 : -EINVAL;
}

static int table_load(struct dev *d, struct dm_ioctl *io)
{
	struct table t = {0};
	const struct dm_target_spec *sp =
	        (const struct dm_target_spec *)((const uint8_t *)io + io->data_start);

	if (io->target_count != 1 || io->data_start + sizeof(*sp) > io->data_size)
		return -EINVAL;
	memcpy(t.type, sp->target_type, sizeof(t.type) - 1);
	snprintf(t.params, sizeof(t.params), "%s", (const char *)(sp + 1));
	t.length = sp->length;
	if (sp->sector_start != 0 || check_params(&t) < 0)
		return -EINVAL;
	if (is_snapshot(t.type)) {
		/* The kernel would hand the store over; ours refuses two holders outright. */
		if (cow_in_use())
			return -EBUSY;
		int r = store_load(emu.cow, &t.store);
		if (r < 0)
			return r;
	}
	table_clear(&d->inactive);
	d->inactive = t;
	return 0;
}

static int suspend(struct dev *d, const struct dm_ioctl *io)
{
	if (io->flags & DM_SUSPEND_FLAG) {
		d->suspended = true;
		return 0;
	}
	if (d->inactive.type[0]) {
		table_clear(&d->live);
		d->live = d->inactive;
		memset(&d->inactive, 0, sizeof(d->inactive));
	}
	if (!d->live.type[0])
		return -EINVAL; /* nothing to resume */
	d->suspended = false;
	d->active = true;
	if (strcmp(d->live.type, "snapshot-merge") == 0)
		merge(d->live.store);
	return 0;
}

static void status_line(const struct table *t, char *line, size_t size)
{
	const struct store *s = t->store;

	if (!s) {
		line[0] = '\0'; /* linear, snapshot-origin: no status words */
		return;
	}
	if (!s->valid) {
		snprintf(line, size, "Invalid");
		return;
	}
	if (s->merge_failed) {
		snprintf(line, size, "Merge failed");
		return;
	}
	uint64_t meta = (uint64_t)DMEMU_FIRST_COW_CHUNK * (DMEMU_CHUNK / 512);
	snprintf(line, size, "%llu/%llu %llu",
	         (unsigned long long)(meta + (uint64_t)s->count * (DMEMU_CHUNK / 512)),
	         (unsigned long long)s->cow_sectors, (unsigned long long)meta);
}

/* DM_TABLE_STATUS: the one target, its params (table) or status line; next from data_start. */
static int table_status(struct dev *d, struct dm_ioctl *io)
{
	char line[300];
	struct dm_target_spec *sp = (struct dm_target_spec *)((uint8_t *)io + io->data_start);
	const struct table *t = &d->live;

	io->target_count = t->type[0] ? 1 : 0;
	if (!t->type[0])
		return 0;
	if (io->flags & DM_STATUS_TABLE_FLAG)
		snprintf(line, sizeof(line), "%s", t->params);
	else
		status_line(t, line, sizeof(line));
	size_t need = (sizeof(*sp) + strlen(line) + 1 + 7) & ~(size_t)7;
	if (io->data_start + need > io->data_size) {
		io->flags |= DM_BUFFER_FULL_FLAG;
		return 0;
	}
	memset(sp, 0, sizeof(*sp));
	sp->length = t->length;
	snprintf(sp->target_type, sizeof(sp->target_type), "%s", t->type);
	memcpy(sp + 1, line, strlen(line) + 1);
	sp->next = (uint32_t)need;
	io->data_size = io->data_start + (uint32_t)need;
	return 0;
}

static int create(const struct dm_ioctl *io, struct dm_ioctl *out)
{
	if (find(io->name))
		return -EBUSY;
	for (int i = 0; i < DEVS; i++)
		if (!emu.dev[i].used) {
			memset(&emu.dev[i], 0, sizeof(emu.dev[i]));
			emu.dev[i].used = true;
			snprintf(emu.dev[i].name, sizeof(emu.dev[i].name), "%s", io->name);
			out->dev = 0; /* no device nodes (io.h) */
			return 0;
		}
	return -ENOMEM;
}

int dmemu_ioctl(void *userdata, unsigned long cmd, void *buf)
{
	struct dm_ioctl *io = buf;
	unsigned nr = _IOC_NR(cmd);

	(void)userdata;
	if (io->version[0] != DM_VERSION_MAJOR)
		return -EINVAL;
	io->version[1] = DM_VERSION_MINOR;
	io->flags &= ~(uint32_t)DM_BUFFER_FULL_FLAG;
	if (nr == DM_VERSION_CMD)
		return 0;
	if (nr == DM_DEV_CREATE_CMD)
		return create(io, io);
	struct dev *d = find(io->name);
	if (!d)
		return -ENXIO;
	switch (nr) {
	case DM_DEV_REMOVE_CMD:
		table_clear(&d->live);
		table_clear(&d->inactive);
		memset(d, 0, sizeof(*d));
		return 0;
	case DM_DEV_STATUS_CMD:
		return 0;
	case DM_TABLE_LOAD_CMD:
		return table_load(d, io);
	case DM_TABLE_CLEAR_CMD:
		table_clear(&d->inactive);
		return 0;
	case DM_DEV_SUSPEND_CMD:
		return suspend(d, io);
	case DM_TABLE_STATUS_CMD:
		return table_status(d, io);
	}
	return -ENOTTY;
}

const char *dmemu_data_type(void)
{
	struct dev *d = find(CHECKPOINT_DATA_NAME);

	return d && d->live.type[0] ? d->live.type : NULL;
}

static struct store *live_snapshot(void)
{
	struct dev *d = find(CHECKPOINT_SNAP_NAME);

	if (!d || !d->active || strcmp(d->live.type, "snapshot") != 0)
		return NULL;
	return d->live.store;
}

bool dmemu_checkpoint_valid(void)
{
	struct store *s = live_snapshot();

	return s && s->valid;
}

int dmemu_write(uint64_t off, const void *buf, size_t len)
{
	struct dev *d = find(CHECKPOINT_DATA_NAME);

	if (!d || !d->live.type[0])
		return -ENXIO;
	if (d->suspended)
		return -EAGAIN;
	if (strcmp(d->live.type, "snapshot-merge") == 0)
		return -EBUSY;
	_cleanup_(io_closep) int fd = io_open(emu.data, O_RDWR, 0);
	if (fd < 0)
		return fd;
	const uint8_t *p = buf;
	struct store *s = strcmp(d->live.type, "snapshot-origin") == 0 ? live_snapshot() : NULL;
	while (len > 0) {
		uint64_t chunk = off / DMEMU_CHUNK;
		size_t n = MIN(len, (size_t)((chunk + 1) * DMEMU_CHUNK - off));
		if (s)
			cow_chunk(s, fd, chunk);
		int r = io_pwrite_all(fd, p, n, off);
		if (r < 0)
			return r;
		p += n;
		off += n;
		len -= n;
	}
	return io_sync(fd);
}

int dmemu_read(uint64_t off, void *buf, size_t len)
{
	struct dev *d = find(CHECKPOINT_DATA_NAME);
	uint8_t *p = buf;

	if (!d || !d->live.type[0])
		return -ENXIO;
	int fd = open(emu.data, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	const struct store *s = strcmp(d->live.type, "snapshot-merge") == 0 && d->live.store->valid
	                                ? d->live.store
	                                : NULL;
	int r = 0;
	while (len > 0 && r == 0) {
		uint64_t chunk = off / DMEMU_CHUNK;
		size_t n = MIN(len, (size_t)((chunk + 1) * DMEMU_CHUNK - off));
		int64_t e = s ? exception_of(s, chunk) : -1;
		uint64_t from = off;
		int src = fd;
		if (e >= 0) {
			src = s->fd; /* not merged yet: the merged view reads the old bytes */
			from = (DMEMU_FIRST_COW_CHUNK + (uint64_t)e) * DMEMU_CHUNK +
			       off % DMEMU_CHUNK;
		}
		if (pread(src, p, n, (off_t)from) != (ssize_t)n)
			r = -EIO;
		p += n;
		off += n;
		len -= n;
	}
	close(fd);
	return r;
}
