/* SPDX-License-Identifier: MIT */
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "io.h"

static struct record *active;

static int device_of(const struct record *r, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	for (int i = 0; i < r->ndev; i++)
		if ((uint64_t)st.st_ino == r->ino[i])
			return i;
	return -1;
}

static struct record_op *push(struct record *r)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct record_op *ops = realloc(r->ops, cap * sizeof(*ops));
		if (!ops)
			abort();
		r->ops = ops;
		r->cap = cap;
	}
	memset(&r->ops[r->n], 0, sizeof(r->ops[0]));
	return &r->ops[r->n++];
}

static void after_write(void *ud, int fd, const void *buf, size_t len, uint64_t off)
{
	struct record *r = ud;
	int dev = device_of(r, fd);

	if (dev < 0)
		return;
	struct record_op *op = push(r);
	op->kind = RECORD_WRITE;
	op->dev = dev;
	op->dsync = (fcntl(fd, F_GETFL) & O_DSYNC) == O_DSYNC;
	op->off = off;
	op->len = len;
	op->data = malloc(len);
	if (!op->data)
		abort();
	memcpy(op->data, buf, len);
}

static void after_sync(void *ud, int fd)
{
	struct record *r = ud;
	int dev = device_of(r, fd);

	if (dev < 0)
		return;
	struct record_op *op = push(r);
	op->kind = RECORD_SYNC;
	op->dev = dev;
}

static struct io_hooks hooks = {.after_write = after_write, .after_sync = after_sync};

int record_start(struct record *r, const char *const paths[RECORD_DEVICES])
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < RECORD_DEVICES && paths[i]; i++) {
		struct stat st;
		r->ndev = i + 1;
		r->path[i] = paths[i];
		if (stat(paths[i], &st) < 0)
			return -errno;
		r->ino[i] = (uint64_t)st.st_ino;
		int e = helpers_read_file(paths[i], &r->initial[i], &r->size[i]);
		if (e < 0)
			return e;
	}
	active = r;
	hooks.userdata = r;
	io_set_hooks(&hooks);
	return 0;
}

const struct io_hooks *record_io_hooks(void)
{
	return active ? &hooks : NULL;
}

void record_stop(struct record *r)
{
	(void)r;
	io_set_hooks(NULL);
	active = NULL;
}

void record_free(struct record *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->ops[i].data);
	free(r->ops);
	for (int i = 0; i < r->ndev; i++)
		free(r->initial[i]);
	memset(r, 0, sizeof(*r));
}

/* Is write op i durable by the time op cut is in flight? */
static bool flushed(const struct record *r, size_t i, size_t cut)
{
	if (r->ops[i].dsync)
		return true;
	for (size_t j = i + 1; j < cut; j++)
		if (r->ops[j].kind == RECORD_SYNC && r->ops[j].dev == r->ops[i].dev)
			return true;
	return false;
}

size_t record_unflushed(const struct record *r, size_t cut, size_t *idx, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cut && i < r->n; i++)
		if (r->ops[i].kind == RECORD_WRITE && !flushed(r, i, cut) && n < max)
			idx[n++] = i;
	return n;
}

static void put(uint8_t *dev, size_t size, uint64_t off, const uint8_t *data, size_t len)
{
	if (off >= size)
		return;
	memcpy(dev + off, data, MIN(len, (size_t)(size - off)));
}

/*
 * Writes want over the file at path, only the 4 KiB blocks that differ from
 * what it holds (read 64 KiB at a time: a crash state is rebuilt thousands
 * of times, and small reads were most of its cost).
 */
static int sync_file(const char *path, const uint8_t *want, size_t size)
{
	static uint8_t cur[64 * 1024];
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < size; off += sizeof(cur)) {
		size_t len = MIN(sizeof(cur), size - off);
		bool have = pread(fd, cur, len, (off_t)off) == (ssize_t)len;
		for (size_t b = 0; b < len; b += 4096) {
			size_t n = MIN((size_t)4096, len - b);
			if (have && memcmp(want + off + b, cur + b, n) == 0)
				continue;
			if (pwrite(fd, want + off + b, n, (off_t)(off + b)) != (ssize_t)n) {
				close(fd);
				return -EIO;
			}
		}
	}
	close(fd);
	return 0;
}

int record_apply(const struct record *r, const struct record_crash *c,
                 uint8_t *scratch[RECORD_DEVICES])
{
	uint8_t *dev[RECORD_DEVICES];
	size_t unflushed[64], nu = record_unflushed(r, c->cut, unflushed, 64), u = 0;

	for (int i = 0; i < r->ndev; i++) {
		dev[i] = scratch[i];
		memcpy(dev[i], r->initial[i], r->size[i]);
	}
	for (size_t i = 0; i < c->cut && i < r->n; i++) {
		const struct record_op *op = &r->ops[i];
		if (op->kind != RECORD_WRITE)
			continue;
		if (u < nu && unflushed[u] == i) {
			bool keep = (c->kept >> u) & 1;
			u++;
			if (!keep)
				continue;
		}
		put(dev[op->dev], r->size[op->dev], op->off, op->data, op->len);
	}
	if (c->cut < r->n && r->ops[c->cut].kind == RECORD_WRITE) {
		const struct record_op *op = &r->ops[c->cut];
		size_t torn = MIN(c->torn_sectors * RECORD_SECTOR, op->len);
		put(dev[op->dev], r->size[op->dev], op->off, op->data, torn);
		if (c->garbage && torn < op->len) {
			uint8_t junk[RECORD_SECTOR];
			for (size_t k = 0; k < sizeof(junk); k++)
				junk[k] = (uint8_t)(k * 131 + c->cut * 7 + 0x5a);
			put(dev[op->dev], r->size[op->dev], op->off + torn, junk,
			    MIN(sizeof(junk), op->len - torn));
		}
	}
	for (int i = 0; i < r->ndev; i++) {
		int e = sync_file(r->path[i], dev[i], r->size[i]);
		if (e < 0)
			return e;
	}
	return 0;
}
