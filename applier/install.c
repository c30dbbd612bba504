/* SPDX-License-Identifier: MIT */
#include "install.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fail.h"
#include "io.h"
#include "log.h"
#include "payload.h"
#include "testpoint.h"
#include "util.h"

#define DIRECT_ALIGN 4096

int install_slot_size(const char *path, uint64_t *ret_size)
{
	int fd = io_open(path, O_RDONLY, 0);

	if (fd < 0)
		return fail(-EIO, "cannot open slot %s: %s", path, strerror(-fd));
	int r = io_size(fd, ret_size);
	io_close(fd);
	return r < 0 ? fail(-EIO, "cannot size slot %s: %s", path, strerror(-r)) : 0;
}

/*
 * The writer's half: each inflated chunk is written and its writeback
 * started; a few chunks later (READ_LAG_BYTES behind the write, so that the
 * medium works on both at once) it is read back from the medium into a
 * poisoned buffer, so a read that delivers nothing cannot pass for the data,
 * and hashed. Chunks come in image order, so the hash is the image's.
 */
#define READ_LAG_BYTES (4u << 20)
#define READ_LAG_MAX 64

/* A written chunk whose read-back is still to come. */
struct span {
	uint64_t off;
	uint32_t size, index;
};

struct writer {
	const struct bundle *b;
	int fd;      /* the slot, for writing */
	int rfd;     /* the slot again, O_DIRECT where the medium allows, for reading back */
	bool direct; /* rfd is O_DIRECT: reads are rounded up to whole blocks */
	bool read_back;
	uint64_t dev_size;
	uint8_t *rbuf;                 /* chunk_size bytes, aligned: what was read back */
	struct span lag[READ_LAG_MAX]; /* written, not yet read back, oldest first (a ring) */
	unsigned lag_first, lag_count, lag_max;
	struct crypto_sha256 image; /* of what was read back (or written) */
	char reason[FAIL_REASON_MAX];
};

/* A chunk handed from the inflating thread to the writer. */
struct piece {
	uint8_t *buf; /* chunk_size bytes, aligned for O_DIRECT */
	uint64_t off;
	uint32_t size, index;
};

static int read_back(struct writer *w, uint8_t *buf, uint32_t size, uint64_t off)
{
	size_t rd = size;

	/*
	 * O_DIRECT reads whole blocks: round the tail up to 4096 while that stays
	 * inside the device, else to 512 (a block device's size is a multiple of
	 * its logical block size, and that is 512 wherever 4096 does not fit).
	 * Chunks are multiples of 64 KiB, so only the last one is ever rounded,
	 * and never beyond the buffer.
	 */
	if (w->direct && rd % DIRECT_ALIGN) {
		size_t up = (rd + DIRECT_ALIGN - 1) & ~(size_t)(DIRECT_ALIGN - 1);
		if (off + up > w->dev_size)
			up = (rd + 511) & ~(size_t)511;
		rd = up;
	}
	memset(buf, 0xa5, rd);
	int r = io_pread_all(w->rfd, buf, rd, off);
	if (r < 0)
		return fail(-EIO, "reading back slot at offset %llu failed: %s",
		            (unsigned long long)off, strerror(-r));
	return 0;
}

/* Reads back and hashes the oldest written chunk not yet read back. */
static int verify_oldest(struct writer *w)
{
	const struct span *s = &w->lag[w->lag_first];
	int r = read_back(w, w->rbuf, s->size, s->off);

	if (r < 0)
		return r;
	if (s->index == w->b->manifest.chunk_count / 2)
		testpoint("mid-verify");
	crypto_sha256_update(&w->image, w->rbuf, s->size);
	w->lag_first = (w->lag_first + 1) % READ_LAG_MAX;
	w->lag_count--;
	return 0;
}

/* Reads back whatever is still behind: after the last chunk was written. */
static int verify_rest(struct writer *w)
{
	int r = 0;

	while (r == 0 && w->lag_count)
		r = verify_oldest(w);
	return r;
}

static int write_piece(struct writer *w, const struct piece *p)
{
	int r = io_pwrite_all(w->fd, p->buf, p->size, p->off);

	if (r < 0)
		return fail(r == -ENOSPC ? -ENOSPC : -EIO, "writing slot at offset %llu: %s",
		            (unsigned long long)p->off, strerror(-r));
	if (p->index == w->b->manifest.chunk_count / 2)
		testpoint("mid-write");
	if (!w->read_back) {
		crypto_sha256_update(&w->image, p->buf, p->size);
		return 0;
	}
	io_start_writeback(w->fd, p->off, p->size);
	if (w->lag_count == w->lag_max) {
		r = verify_oldest(w);
		if (r < 0)
			return r;
	}
	w->lag[(w->lag_first + w->lag_count++) % READ_LAG_MAX] =
	        (struct span){.off = p->off, .size = p->size, .index = p->index};
	return 0;
}

/*
 * The hand-off: PIPE_DEPTH buffers go round; the inflating thread fills
 * piece[produced % PIPE_DEPTH], the writer empties piece[consumed % PIPE_DEPTH].
 */
#define PIPE_DEPTH 2

struct pipe {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct piece piece[PIPE_DEPTH];
	unsigned produced, consumed;
	bool end;  /* nothing more will be produced */
	int error; /* the writer's first failure: stop producing */
	struct writer *w;
};

static void *writer_main(void *arg)
{
	struct pipe *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (q->consumed == q->produced && !q->end)
			pthread_cond_wait(&q->changed, &q->lock);
		if (q->consumed == q->produced)
			break;
		pthread_mutex_unlock(&q->lock);
		int r = write_piece(q->w, &q->piece[q->consumed % PIPE_DEPTH]);
		pthread_mutex_lock(&q->lock);
		q->consumed++;
		if (r < 0) {
			snprintf(q->w->reason, sizeof(q->w->reason), "%s", fail_reason());
			q->error = r;
		}
		pthread_cond_broadcast(&q->changed);
		if (r < 0)
			break;
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Hands a filled piece over (threaded) or writes it here. */
static int hand_over(struct pipe *q, bool threaded)
{
	if (!threaded) {
		int r = write_piece(q->w, &q->piece[q->produced % PIPE_DEPTH]);
		q->produced++;
		return r;
	}
	pthread_mutex_lock(&q->lock);
	q->produced++;
	pthread_cond_broadcast(&q->changed);
	/* Wait for the next buffer to come free (or for the writer to fail). */
	while (q->produced - q->consumed == PIPE_DEPTH && !q->error)
		pthread_cond_wait(&q->changed, &q->lock);
	int r = q->error;
	pthread_mutex_unlock(&q->lock);
	return r ? fail(r, "%s", q->w->reason) : 0;
}

static int stream(struct pipe *q, struct payload *p)
{
	bool threaded = !io_hooked();
	pthread_t tid;
	int r = 0;

	if (threaded && pthread_create(&tid, NULL, writer_main, q) != 0)
		threaded = false; /* no thread to be had: both halves here */
	for (;;) {
		struct piece *pc = &q->piece[q->produced % PIPE_DEPTH];
		struct payload_chunk c;
		r = payload_next_into(p, pc->buf, &c);
		if (r <= 0)
			break;
		pc->off = c.image_offset;
		pc->size = c.size;
		pc->index = c.index;
		r = hand_over(q, threaded);
		if (r < 0)
			break;
	}
	if (threaded) {
		pthread_mutex_lock(&q->lock);
		q->end = true;
		pthread_cond_broadcast(&q->changed);
		pthread_mutex_unlock(&q->lock);
		pthread_join(tid, NULL);
		if (r == 0 && q->error)
			r = fail(q->error, "%s", q->w->reason);
	}
	return r;
}

/* Opens the slot a second time, for reading back: O_DIRECT where the medium allows it. */
static int open_read_back(struct writer *w, const char *path)
{
	/* Files on tmpfs (tests) refuse O_DIRECT; those have no medium anyway. */
	w->rfd = io_open(path, O_RDONLY | O_DIRECT, 0);
	w->direct = w->rfd >= 0;
	if (w->rfd == -EINVAL)
		w->rfd = io_open(path, O_RDONLY, 0);
	if (w->rfd < 0)
		return fail(-EIO, "cannot open slot %s for read-back: %s", path, strerror(-w->rfd));
	return 0;
}

/*
 * A slot that does not hash to the image: the medium, or the bundle's own
 * image digest? Only on this failure path, inflate the payload once more
 * without writing anything, and tell the two apart (a bad bundle is refused
 * for good; a device error is retried at the next boot).
 */
static int blame(const struct bundle *b, const char *path, bool read_back)
{
	struct payload p;
	struct payload_chunk c;
	int r = payload_open(&p, b);

	while (r == 0 && (r = payload_next(&p, &c)) > 0)
		r = 0;
	payload_close(&p);
	if (r == -EBADMSG)
		return r; /* the reason says what the bundle got wrong */
	if (r < 0)
		return fail(
		        -EIO,
		        "slot %s does not match the image, and the bundle cannot be re-read: %s",
		        path, fail_reason());
	return fail(-EIO, "slot %s %s different from the image", path,
	            read_back ? "reads back" : "was written");
}

static int write_slot(const struct bundle *b, const char *path, struct writer *w)
{
	const struct bundle_manifest *m = &b->manifest;
	struct pipe q = {
	        .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER, .w = w};
	struct timespec t0, t1;
	struct payload p;
	uint8_t digest[CRYPTO_DIGEST_SIZE];
	int r = 0;

	for (int i = 0; i < PIPE_DEPTH && r == 0; i++)
		if (posix_memalign((void **)&q.piece[i].buf, DIRECT_ALIGN, m->chunk_size) != 0)
			r = -ENOMEM;
	if (r == 0 && w->read_back &&
	    posix_memalign((void **)&w->rbuf, DIRECT_ALIGN, m->chunk_size) != 0)
		r = -ENOMEM;
	w->lag_max = READ_LAG_BYTES / m->chunk_size;
	w->lag_max = w->lag_max < 1 ? 1 : w->lag_max > READ_LAG_MAX ? READ_LAG_MAX : w->lag_max;
	if (r == 0)
		r = payload_open(&p, b);
	if (r == 0) {
		/* The writer hashes the image; no need to do it twice. */
		payload_leave_image_digest(&p);
		crypto_sha256_init(&w->image);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = stream(&q, &p);
		if (r == 0)
			r = verify_rest(w);
		payload_close(&p);
		crypto_sha256_final(&w->image, digest);
	}
	for (int i = 0; i < PIPE_DEPTH; i++)
		free(q.piece[i].buf);
	free(w->rbuf);
	w->rbuf = NULL;
	if (r < 0)
		return r;
	if (memcmp(digest, m->image_digest, sizeof(digest)) != 0)
		return blame(b, path, w->read_back);
	testpoint("written");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	log_info("image written%s (%llu bytes, %.0f MiB/s)", w->read_back ? " and read back" : "",
	         (unsigned long long)m->image_size,
	         s > 0 ? (double)m->image_size / (1024.0 * 1024.0) / s : 0.0);
	return 0;
}

int install_image(const struct bundle *b, const char *path, bool read_back)
{
	struct writer w = {.b = b, .fd = -1, .rfd = -1, .read_back = read_back};
	uint64_t slot_size;
	int r;

	/* O_EXCL on a block device fails if it is mounted: the running root can never be the
	 * target. */
	w.fd = io_open(path, O_RDWR | O_EXCL, 0);
	if (w.fd < 0)
		return fail(w.fd == -EBUSY ? -EBUSY : -EIO, "cannot open target slot %s: %s", path,
		            strerror(-w.fd));
	r = io_size(w.fd, &slot_size);
	if (r < 0)
		r = fail(-EIO, "cannot size slot %s: %s", path, strerror(-r));
	if (r == 0 && b->manifest.image_size > slot_size)
		r = fail(-ENOSPC, "image of %llu bytes does not fit slot of %llu bytes",
		         (unsigned long long)b->manifest.image_size, (unsigned long long)slot_size);
	w.dev_size = slot_size;
	if (r == 0 && read_back)
		r = open_read_back(&w, path);
	if (r == 0)
		r = write_slot(b, path, &w);
	if (r == 0) {
		/* Only a flushed slot may be tried: the record's TRYING commit comes after this. */
		r = io_sync(w.fd);
		if (r < 0)
			r = fail(-EIO, "flushing slot %s failed: %s", path, strerror(-r));
		else
			testpoint("flushed");
	}
	if (w.rfd >= 0)
		io_close(w.rfd);
	int c = io_close(w.fd);
	if (r == 0 && c < 0)
		r = fail(-EIO, "closing slot %s failed: %s", path, strerror(-c));
	return r;
}
