/* SPDX-License-Identifier: MIT */
#include "dm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fail.h"
#include "io.h"
#include "util.h"

/* A status answer that does not fit is retried with a doubled buffer, up to this. */
#define DM_BUF_MIN (16u * 1024)
#define DM_BUF_MAX (1024u * 1024)

static const char *dm_dir = "/dev/mapper";

void dm_set_dir(const char *dir)
{
	dm_dir = dir ? dir : "/dev/mapper";
}

void dm_node_path(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", dm_dir, name);
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static int check_name(const char *name)
{
	size_t len = strlen(name);
	if (len >= DM_NAME_LEN || strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return fail(-ENAMETOOLONG, "device-mapper name '%.32s' is not usable", name);
	return 0;
}

/*
 * The load layout: struct dm_ioctl, then at data_start one dm_target_spec per
 * target, each followed by its NUL-terminated params and padding to 8 bytes;
 * spec->next is the offset from THIS spec to the next one (on the way back, in
 * a status answer, the kernel makes next an offset from data_start instead).
 */
int dm_build(void *buf, size_t size, const char *name, uint32_t flags, const struct dm_target *t,
             size_t n)
{
	struct dm_ioctl *io = buf;
	size_t off = sizeof(*io);

	if (size < sizeof(*io) || size > UINT32_MAX || n > DM_TARGETS_MAX)
		return fail(-EINVAL, "device-mapper buffer or table size out of range");
	if (*name && check_name(name) < 0)
		return -ENAMETOOLONG;
	memset(buf, 0, size);
	io->version[0] = DM_VERSION_MAJOR;
	io->data_size = (uint32_t)size;
	io->data_start = (uint32_t)sizeof(*io);
	io->flags = flags;
	io->target_count = (uint32_t)n;
	memcpy(io->name, name, strlen(name));
	for (size_t i = 0; i < n; i++) {
		size_t tl = strlen(t[i].type), pl = strlen(t[i].params);
		size_t need = align8(sizeof(struct dm_target_spec) + pl + 1);
		if (tl == 0 || tl >= DM_MAX_TYPE_NAME || pl >= DM_PARAMS_MAX || t[i].length == 0)
			return fail(-EINVAL, "device-mapper target %zu is malformed", i);
		if (need > size - off)
			return fail(-ENOBUFS, "device-mapper table does not fit the buffer");
		struct dm_target_spec *s = (struct dm_target_spec *)((uint8_t *)buf + off);
		s->sector_start = t[i].start;
		s->length = t[i].length;
		memcpy(s->target_type, t[i].type, tl);
		memcpy(s + 1, t[i].params, pl);
		s->next = (uint32_t)need;
		off += need;
	}
	return (int)off;
}

static int parse_one(const uint8_t *out, size_t avail, size_t off, size_t *next,
                     struct dm_target_info *ret)
{
	struct dm_target_spec s;

	if (off > avail || avail - off < sizeof(s))
		return fail(-EBADMSG, "device-mapper answer: a target spec is cut off");
	memcpy(&s, out + off, sizeof(s));
	size_t p = off + sizeof(s), end = avail;
	const uint8_t *nul = memchr(out + p, 0, end - p);
	if (!nul || !memchr(s.target_type, 0, sizeof(s.target_type)) || s.length == 0)
		return fail(-EBADMSG, "device-mapper answer: a target is malformed");
	size_t pl = (size_t)(nul - (out + p));
	if (pl >= DM_PARAMS_MAX)
		return fail(-EBADMSG, "device-mapper answer: target parameters too long");
	if (ret) {
		ret->start = s.sector_start;
		ret->length = s.length;
		memcpy(ret->type, s.target_type, sizeof(ret->type));
		memcpy(ret->params, out + p, pl);
		ret->params[pl] = '\0';
	}
	*next = s.next;
	if (*next <= off || *next < p + pl + 1)
		*next = SIZE_MAX; /* only the last target may have no usable next */
	return 0;
}

int dm_parse_targets(const void *buf, size_t size, struct dm_target_info *ret, size_t max)
{
	struct dm_ioctl io;

	if (size < sizeof(io))
		return fail(-EBADMSG, "device-mapper answer shorter than its header");
	memcpy(&io, buf, sizeof(io));
	if (io.version[0] != DM_VERSION_MAJOR)
		return fail(-EPROTO, "device-mapper answer version %u", io.version[0]);
	if (io.flags & DM_BUFFER_FULL_FLAG)
		return -ENOBUFS;
	if (io.data_size > size || io.data_start < sizeof(io) || io.data_start > io.data_size)
		return fail(-EBADMSG, "device-mapper answer sizes out of range");
	if (io.target_count > max)
		return fail(-EBADMSG, "device-mapper answer: %u targets", io.target_count);
	const uint8_t *out = (const uint8_t *)buf + io.data_start;
	size_t avail = io.data_size - io.data_start, off = 0;
	for (uint32_t i = 0; i < io.target_count; i++) {
		size_t next = SIZE_MAX;
		if (off == SIZE_MAX)
			return fail(-EBADMSG,
			            "device-mapper answer: a target's next is out of range");
		int r = parse_one(out, avail, off, &next, ret ? &ret[i] : NULL);
		if (r < 0)
			return r;
		off = next;
	}
	return (int)io.target_count;
}

static int parse_u64(const char *s, char stop, uint64_t *ret, const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EBADMSG;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p != stop)
		return -EBADMSG;
	*ret = v;
	*end = p;
	return 0;
}

/* The kernel's snapshot_status(): "allocated/total metadata", or one of three words. */
int dm_parse_snapshot_status(const char *line, struct dm_snapshot_status *ret)
{
	struct dm_snapshot_status s = {0};
	const char *p;

	if (strcmp(line, "Invalid") == 0)
		s.invalid = true;
	else if (strcmp(line, "Overflow") == 0)
		s.overflow = true;
	else if (strcmp(line, "Merge failed") == 0)
		s.merge_failed = true;
	else if (parse_u64(line, '/', &s.allocated, &p) < 0 ||
	         parse_u64(p + 1, ' ', &s.total, &p) < 0 ||
	         parse_u64(p + 1, '\0', &s.metadata, &p) < 0 || s.allocated > s.total ||
	         s.metadata > s.allocated)
		return fail(-EBADMSG, "snapshot status '%.40s' is malformed", line);
	*ret = s;
	return 0;
}

static int control_open(void)
{
	char path[256];
	uint8_t buf[sizeof(struct dm_ioctl)];

	snprintf(path, sizeof(path), "%s/control", dm_dir);
	int fd = io_open(path, O_RDWR, 0);
	if (fd < 0)
		return fail(fd, "cannot open %s: %s", path, strerror(-fd));
	int r = dm_build(buf, sizeof(buf), "", 0, NULL, 0);
	if (r >= 0)
		r = io_dm_ioctl(fd, DM_VERSION, buf);
	if (r < 0) {
		io_close(fd);
		return fail(r, "device-mapper version query failed: %s", strerror(-r));
	}
	if (((struct dm_ioctl *)buf)->version[0] != DM_VERSION_MAJOR) {
		io_close(fd);
		return fail(-EPROTO, "device-mapper interface version %u, want %u",
		            ((struct dm_ioctl *)buf)->version[0], DM_VERSION_MAJOR);
	}
	return fd;
}

/* One ioctl with a fresh buffer; *ret_buf (of *ret_size bytes) holds the answer. */
static int call(int fd, unsigned long cmd, const char *name, uint32_t flags,
                const struct dm_target *t, size_t n, size_t size, uint8_t **ret_buf)
{
	_cleanup_free_ uint8_t *buf = malloc(size);
	if (!buf)
		return fail(-ENOMEM, "no memory for a device-mapper buffer");
	int r = dm_build(buf, size, name, flags, t, n);
	if (r < 0)
		return r;
	r = io_dm_ioctl(fd, cmd, buf);
	if (r < 0)
		return fail(r, "device-mapper ioctl %lu on %s: %s", cmd & 0xff, name, strerror(-r));
	if (((struct dm_ioctl *)buf)->data_size > size)
		return fail(-EBADMSG, "device-mapper answer claims more than the buffer");
	if (ret_buf) {
		*ret_buf = buf;
		buf = NULL;
	}
	return 0;
}

/* The dev_t a dm answer carries is the kernel's huge_encode_dev(), not glibc's makedev(). */
static dev_t decode_dev(uint64_t d)
{
	return makedev((unsigned)((d & 0xfff00) >> 8),
	               (unsigned)((d & 0xff) | ((d >> 12) & 0xfff00)));
}

/* In an initramfs no udev may make the node: make it, replacing a stale one left by a remove. */
static int ensure_node(const char *name, uint64_t dev)
{
	char path[512];
	struct stat st;

	if (dev == 0)
		return 0; /* the emulator's devices have no node (io.h) */
	if (mkdir(dm_dir, 0755) < 0 && errno != EEXIST)
		return fail(-errno, "cannot create %s: %m", dm_dir);
	dm_node_path(name, path, sizeof(path));
	if (stat(path, &st) == 0) {
		if (S_ISBLK(st.st_mode) && st.st_rdev == decode_dev(dev))
			return 0;
		if (unlink(path) < 0)
			return fail(-errno, "cannot remove the stale node %s: %m", path);
	}
	if (mknod(path, S_IFBLK | 0600, decode_dev(dev)) < 0 && errno != EEXIST)
		return fail(-errno, "cannot make the node %s: %m", path);
	return 0;
}

/* One ioctl on its own control device, no answer kept. */
static int call_once(unsigned long cmd, const char *name, uint32_t flags, const struct dm_target *t,
                     size_t n)
{
	_cleanup_(io_closep) int fd = control_open();
	if (fd < 0)
		return fd;
	return call(fd, cmd, name, flags, t, n, DM_BUF_MIN, NULL);
}

int dm_exists(const char *name)
{
	int r = call_once(DM_DEV_STATUS, name, 0, NULL, 0);
	if (r == -ENXIO) {
		fail_clear();
		return 0;
	}
	return r < 0 ? r : 1;
}

static int create(const char *name, uint32_t flags, const struct dm_target *t, size_t n)
{
	_cleanup_free_ uint8_t *ans = NULL;
	_cleanup_(io_closep) int fd = control_open();
	if (fd < 0)
		return fd;
	int r = call(fd, DM_DEV_CREATE, name, 0, NULL, 0, DM_BUF_MIN, &ans);
	if (r < 0)
		return r;
	uint64_t dev = ((struct dm_ioctl *)ans)->dev;
	r = call(fd, DM_TABLE_LOAD, name, flags, t, n, DM_BUF_MIN, NULL);
	if (r >= 0)
		r = call(fd, DM_DEV_SUSPEND, name, 0, NULL, 0, DM_BUF_MIN, NULL);
	if (r >= 0)
		r = ensure_node(name, dev);
	if (r < 0) {
		/* Leave nothing half-made; the first error's reason stays. */
		char reason[FAIL_REASON_MAX];
		snprintf(reason, sizeof(reason), "%s", fail_reason());
		(void)call(fd, DM_DEV_REMOVE, name, 0, NULL, 0, DM_BUF_MIN, NULL);
		return fail(r, "%s", reason);
	}
	return 0;
}

int dm_create(const char *name, const struct dm_target *t, size_t n)
{
	return create(name, 0, t, n);
}

int dm_create_readonly(const char *name, const struct dm_target *t, size_t n)
{
	return create(name, DM_READONLY_FLAG, t, n);
}

int dm_load(const char *name, const struct dm_target *t, size_t n)
{
	return call_once(DM_TABLE_LOAD, name, 0, t, n);
}

int dm_clear(const char *name)
{
	return call_once(DM_TABLE_CLEAR, name, 0, NULL, 0);
}

/* No DM_SKIP_LOCKFS_FLAG: a mounted filesystem is frozen and consistent under the new table. */
int dm_suspend(const char *name)
{
	return call_once(DM_DEV_SUSPEND, name, DM_SUSPEND_FLAG, NULL, 0);
}

int dm_resume(const char *name)
{
	return call_once(DM_DEV_SUSPEND, name, 0, NULL, 0);
}

int dm_replace(const char *name, const struct dm_target *t, size_t n)
{
	_cleanup_(io_closep) int fd = control_open();
	if (fd < 0)
		return fd;
	int r = call(fd, DM_TABLE_LOAD, name, 0, t, n, DM_BUF_MIN, NULL);
	if (r < 0)
		return r;
	r = call(fd, DM_DEV_SUSPEND, name, DM_SUSPEND_FLAG, NULL, 0, DM_BUF_MIN, NULL);
	if (r < 0) {
		/* Not suspended: drop the loaded inactive table so the device stays as it was. */
		char reason[FAIL_REASON_MAX];
		snprintf(reason, sizeof(reason), "%s", fail_reason());
		(void)call(fd, DM_TABLE_CLEAR, name, 0, NULL, 0, DM_BUF_MIN, NULL);
		return fail(r, "%s", reason);
	}
	/* A resume swaps in the new table; a failed one leaves the device suspended (reported). */
	return call(fd, DM_DEV_SUSPEND, name, 0, NULL, 0, DM_BUF_MIN, NULL);
}

int dm_remove(const char *name)
{
	char path[512];
	_cleanup_(io_closep) int fd = control_open();
	if (fd < 0)
		return fd;
	int r = call(fd, DM_DEV_REMOVE, name, 0, NULL, 0, DM_BUF_MIN, NULL);
	if (r < 0)
		return r;
	/* Without udev our node would stay, and point at the next device that gets its minor. */
	snprintf(path, sizeof(path), "%s/%s", dm_dir, name);
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISBLK(st.st_mode))
		(void)unlink(path);
	return 0;
}

int dm_table(const char *name, bool table, struct dm_target_info *ret, size_t max)
{
	_cleanup_(io_closep) int fd = control_open();
	if (fd < 0)
		return fd;
	for (size_t size = DM_BUF_MIN; size <= DM_BUF_MAX; size *= 2) {
		_cleanup_free_ uint8_t *ans = NULL;
		int r = call(fd, DM_TABLE_STATUS, name, table ? DM_STATUS_TABLE_FLAG : 0, NULL, 0,
		             size, &ans);
		if (r < 0)
			return r;
		r = dm_parse_targets(ans, size, ret, max);
		if (r != -ENOBUFS)
			return r;
	}
	return fail(-EFBIG, "device-mapper status of %s exceeds %u bytes", name, DM_BUF_MAX);
}
