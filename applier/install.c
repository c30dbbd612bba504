/* SPDX-License-Identifier: MIT */
#include "install.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "fail.h"
#include "footer.h"
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
 * The image goes through a ring of a few chunk buffers, each chunk through up
 * to four stages, each stage in its own thread (unless io_serial()):
 * - inflate (the caller): read the chunk, check it against its signed digest,
 *   inflate it into a free buffer;
 * - write: to the slot, with O_DIRECT where the medium allows (no copy into
 *   the page cache, and the bytes are on the medium when the write returns);
 * - read back (read-back on): read the written chunk back from the medium
 *   into the same buffer, poisoned first (a read that delivers nothing cannot
 *   pass for the data);
 * - hash: SHA-256 of the buffer, chunk after chunk in image order, so that
 *   hash is the image's: of what was read back, or without read-back of what
 *   was written (then hashing runs alongside the write, on the same bytes).
 * Each stage follows the one before it; I/O and hashing of different chunks
 * overlap, so neither waits for the other. A buffer comes free when its
 * chunk is written and hashed.
 */
struct writer {
	const struct bundle *b;
	int fd;      /* the slot, for writing (buffered) */
	int dfd;     /* the slot, O_DIRECT, for whole-block chunks; -1 where refused */
	int rfd;     /* the slot again, O_DIRECT where the medium allows, for reading back */
	bool direct; /* rfd is O_DIRECT: reads are rounded up to whole blocks */
	bool read_back;
	uint64_t dev_size;
	struct crypto_sha256 image; /* of what was read back (or written) */
	/* A verity bundle: the tree of what was read back (or written) instead of the SHA-256. */
	struct verity_tree *tree;
	struct crypto_sha256 level[VERITY_MAX_LEVELS]; /* of each level's blocks, as written */
};

/* A chunk in the ring. */
struct piece {
	uint8_t *buf; /* chunk_size bytes, aligned for O_DIRECT */
	uint64_t off;
	uint32_t size, index;
};

static int write_piece(struct writer *w, struct piece *p)
{
	int r = -EINVAL;

	/* Whole blocks go straight to the medium; a short last chunk through the page cache. */
	if (w->dfd >= 0 && p->size % DIRECT_ALIGN == 0) {
		r = io_pwrite_all(w->dfd, p->buf, p->size, p->off);
		if (r == -EINVAL) { /* the medium wants other alignment after all */
			io_close(w->dfd);
			w->dfd = -1;
		}
	}
	if (r == -EINVAL)
		r = io_pwrite_all(w->fd, p->buf, p->size, p->off);
	if (r < 0)
		return fail(r == -ENOSPC ? -ENOSPC : -EIO, "writing slot at offset %llu: %s",
		            (unsigned long long)p->off, strerror(-r));
	if (p->index == w->b->manifest.chunk_count / 2)
		testpoint("mid-write");
	return 0;
}

/* Reads a written chunk back from the medium into its buffer. */
static int read_piece(struct writer *w, struct piece *p)
{
	size_t rd = p->size;

	/*
	 * O_DIRECT reads whole blocks: round the tail up to 4096 while that stays
	 * inside the device, else to 512 (a block device's size is a multiple of
	 * its logical block size, and that is 512 wherever 4096 does not fit).
	 * Chunks are multiples of 64 KiB, so only the last one is ever rounded,
	 * and never beyond the buffer.
	 */
	if (w->direct && rd % DIRECT_ALIGN) {
		size_t up = (rd + DIRECT_ALIGN - 1) & ~(size_t)(DIRECT_ALIGN - 1);
		if (p->off + up > w->dev_size)
			up = (rd + 511) & ~(size_t)511;
		rd = up;
	}
	memset(p->buf, 0xa5, rd);
	int r = io_pread_all(w->rfd, p->buf, rd, p->off);
	if (r < 0)
		return fail(-EIO, "reading back slot at offset %llu failed: %s",
		            (unsigned long long)p->off, strerror(-r));
	if (p->index == w->b->manifest.chunk_count / 2)
		testpoint("mid-verify");
	return 0;
}

static int hash_piece(struct writer *w, struct piece *p)
{
	if (!w->tree) {
		crypto_sha256_update(&w->image, p->buf, p->size);
		return 0;
	}
	/* The tree's digests are the image's hashing: each byte is still hashed once. */
	int r = verity_feed(w->tree, p->buf, p->size);
	return r == -EFBIG ? fail(-EBADMSG, "chunk %u: not whole verity blocks", p->index)
	       : r < 0     ? r
	                   : 0;
}

/* A finished block of the tree goes to the slot, after the image (the hashing thread). */
static int write_hash_block(void *ctx, uint64_t index, unsigned level, const uint8_t *block)
{
	struct writer *w = ctx;
	uint64_t off = w->b->manifest.image_size + index * VERITY_BLOCK_SIZE;
	int r = io_pwrite_all(w->fd, block, VERITY_BLOCK_SIZE, off);

	if (r < 0)
		return fail(-EIO, "writing the verity tree at offset %llu: %s",
		            (unsigned long long)off, strerror(-r));
	crypto_sha256_update(&w->level[level], block, VERITY_BLOCK_SIZE);
	return 0;
}

/* Reads len bytes at off back from the medium (block-aligned, through rfd) into buf. */
static int read_back(struct writer *w, uint8_t *buf, size_t len, uint64_t off)
{
	memset(buf, 0xa5, len);
	int r = io_pread_all(w->rfd, buf, len, off);
	return r < 0 ? fail(-EIO, "reading back slot at offset %llu failed: %s",
	                    (unsigned long long)off, strerror(-r))
	             : 0;
}

/*
 * The tree as the medium returns it, level by level, against the digests of
 * what was written: a tree the medium does not return as written would fail
 * at boot, so it fails now, before the slot may be tried.
 */
static int read_back_tree(struct writer *w, uint8_t *buf)
{
	const struct verity_geometry *g = &w->tree->g;
	uint64_t base = w->b->manifest.image_size;
	const uint64_t per_read = w->b->manifest.chunk_size / VERITY_BLOCK_SIZE; /* buf's size */

	for (unsigned i = 0; i < g->levels; i++) {
		struct crypto_sha256 h;
		uint8_t want[CRYPTO_DIGEST_SIZE], got[CRYPTO_DIGEST_SIZE];
		crypto_sha256_init(&h);
		for (uint64_t b = 0; b < g->level_blocks[i]; b += per_read) {
			uint64_t n = MIN(per_read, g->level_blocks[i] - b);
			int r = read_back(w, buf, n * VERITY_BLOCK_SIZE,
			                  base + (g->level_start[i] + b) * VERITY_BLOCK_SIZE);
			if (r < 0)
				return r;
			crypto_sha256_update(&h, buf, n * VERITY_BLOCK_SIZE);
		}
		crypto_sha256_final(&h, got);
		crypto_sha256_final(&w->level[i], want);
		if (memcmp(got, want, sizeof(got)) != 0)
			return fail(-EIO, "slot's verity tree (level %u) reads back different", i);
	}
	return 0;
}

/* The footer as the medium returns it: the head copy and the locator, byte for byte. */
static int read_back_footer(struct writer *w)
{
	struct footer_locator l;
	uint8_t *loc = NULL, *buf = NULL;
	const struct bundle *b = w->b;

	footer_locator_of(b, &l);
	size_t len = (b->head_len + VERITY_BLOCK_SIZE - 1) / VERITY_BLOCK_SIZE * VERITY_BLOCK_SIZE;
	int r = posix_memalign((void **)&buf, DIRECT_ALIGN, len + FOOTER_LOCATOR_SIZE) == 0
	                ? 0
	                : fail(-ENOMEM, "no memory to read back the verity footer");
	if (r == 0 && !(loc = malloc(FOOTER_LOCATOR_SIZE)))
		r = fail(-ENOMEM, "no memory to read back the verity footer");
	if (r == 0)
		r = read_back(w, buf, len, l.head_offset);
	if (r == 0)
		r = read_back(w, buf + len, FOOTER_LOCATOR_SIZE, w->dev_size - FOOTER_LOCATOR_SIZE);
	if (r == 0) {
		footer_encode(&l, loc);
		if (memcmp(buf, b->head, b->head_len) != 0 ||
		    memcmp(buf + len, loc, FOOTER_LOCATOR_SIZE) != 0)
			r = fail(-EIO, "slot's verity footer reads back different");
	}
	free(loc);
	free(buf);
	return r;
}

/*
 * Buffers in the ring: one for each stage that works at once. Without
 * read-back the write and the hash of a chunk share one, and one more lets
 * the inflater run ahead; with it four stages, four buffers (more bought
 * nothing measurable: docs/performance.md).
 */
#define PIPE_DEPTH_MAX 4

enum { STAGE_WRITE, STAGE_READ, STAGE_HASH, STAGES };

struct pipe {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct piece piece[PIPE_DEPTH_MAX];
	unsigned depth;        /* buffers in the ring */
	unsigned produced;     /* chunks inflated into the ring */
	unsigned done[STAGES]; /* chunks past each stage */
	bool end;              /* nothing more will be produced */
	int error;             /* the first failure, of any thread: everyone stops */
	char reason[FAIL_REASON_MAX];
	struct writer *w;
};

/* A stage: what it does to a chunk, and the stage whose chunks it takes. */
struct stage {
	struct pipe *q;
	int id;
	int (*run)(struct writer *w, struct piece *p);
	const unsigned *after; /* done[] of the stage before, or produced */
};

/* Records a thread's failure (the first one wins), under the lock. */
static void pipe_fail(struct pipe *q, int r)
{
	if (!q->error) {
		q->error = r;
		snprintf(q->reason, sizeof(q->reason), "%s", fail_reason());
	}
	pthread_cond_broadcast(&q->changed);
}

static void *stage_main(void *arg)
{
	struct stage *s = arg;
	struct pipe *q = s->q;
	unsigned *done = &q->done[s->id];

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (*done == *s->after && !q->error && !(q->end && *done == q->produced))
			pthread_cond_wait(&q->changed, &q->lock);
		if (q->error || *done == *s->after)
			break; /* failed, or finished: the stage before has ended */
		struct piece *p = &q->piece[*done % q->depth];
		pthread_mutex_unlock(&q->lock);
		int r = s->run(q->w, p);
		pthread_mutex_lock(&q->lock);
		if (r < 0) {
			pipe_fail(q, r);
			break;
		}
		++*done;
		pthread_cond_broadcast(&q->changed);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Whether stage i takes part: reading back only with read-back on. */
static bool stage_used(const struct pipe *q, int i)
{
	return i != STAGE_READ || q->w->read_back;
}

/* Every stage in turn, here: the serial way (io_serial(), or no thread to be had). */
static int run_stages(struct pipe *q, const struct stage *st, struct piece *p)
{
	int r = 0;

	for (int i = 0; i < STAGES && r == 0; i++)
		if (stage_used(q, i))
			r = st[i].run(q->w, p);
	return r;
}

/* Chunks whose buffer is free again: written and hashed. */
static unsigned released(const struct pipe *q)
{
	unsigned w = q->done[STAGE_WRITE], h = q->done[STAGE_HASH];
	return w < h ? w : h;
}

/* Hands a filled piece over (threaded) or runs it through every stage here. */
static int hand_over(struct pipe *q, const struct stage *st, bool threaded)
{
	if (!threaded)
		return run_stages(q, st, &q->piece[q->produced++ % q->depth]);
	pthread_mutex_lock(&q->lock);
	q->produced++;
	pthread_cond_broadcast(&q->changed);
	/* Wait for the next buffer to come free (or for a thread to fail). */
	while (q->produced - released(q) == q->depth && !q->error)
		pthread_cond_wait(&q->changed, &q->lock);
	int r = q->error;
	pthread_mutex_unlock(&q->lock);
	return r ? fail(r, "%s", q->reason) : 0;
}

/*
 * Nothing more will be produced (r < 0: the inflater failed, and the others
 * stop too): the started stages finish their chunks, or stop, and end.
 */
static void end_stages(struct pipe *q, pthread_t *thread, bool *started, int r)
{
	pthread_mutex_lock(&q->lock);
	q->end = true;
	if (r < 0)
		pipe_fail(q, r);
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
	for (int i = 0; i < STAGES; i++)
		if (started[i])
			pthread_join(thread[i], NULL);
	memset(started, 0, STAGES * sizeof(*started));
}

static int stream(struct pipe *q, struct payload *p)
{
	bool read_back = q->w->read_back;
	struct stage st[STAGES] = {
	        [STAGE_WRITE] = {q, STAGE_WRITE, write_piece, &q->produced},
	        [STAGE_READ] = {q, STAGE_READ, read_piece, &q->done[STAGE_WRITE]},
	        [STAGE_HASH] = {q, STAGE_HASH, hash_piece,
	                        read_back ? &q->done[STAGE_READ] : &q->produced},
	};
	pthread_t thread[STAGES];
	bool started[STAGES] = {false};
	bool threaded = !io_serial();
	int r = 0;

	for (int i = 0; i < STAGES && threaded; i++) {
		if (!stage_used(q, i))
			continue;
		started[i] = pthread_create(&thread[i], NULL, stage_main, &st[i]) == 0;
		if (!started[i]) {
			/* A thread could not be had: those started end (nothing was produced), and
			 * the install runs serially, as under test hooks. */
			end_stages(q, thread, started, 0);
			q->end = false;
			threaded = false;
		}
	}
	while (r == 0) {
		struct piece *pc = &q->piece[q->produced % q->depth];
		struct payload_chunk c;
		r = payload_next_into(p, pc->buf, &c);
		if (r <= 0)
			break;
		pc->off = c.image_offset;
		pc->size = c.size;
		pc->index = c.index;
		r = hand_over(q, st, threaded);
	}
	if (threaded) {
		end_stages(q, thread, started, r);
		if (r == 0 && q->error)
			r = fail(q->error, "%s", q->reason);
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
	struct pipe q = {.lock = PTHREAD_MUTEX_INITIALIZER,
	                 .changed = PTHREAD_COND_INITIALIZER,
	                 .depth = w->read_back ? 4 : 3,
	                 .w = w};
	struct timespec t0, t1;
	struct payload p;
	uint8_t digest[CRYPTO_DIGEST_SIZE];
	int r = 0;

	for (unsigned i = 0; i < q.depth && r == 0; i++)
		if (posix_memalign((void **)&q.piece[i].buf, DIRECT_ALIGN, m->chunk_size) != 0)
			r = fail(-ENOMEM, "cannot allocate %u buffers of %u bytes for the install",
			         q.depth, m->chunk_size);
	if (r == 0)
		r = payload_open(&p, b);
	if (r == 0) {
		/* The hashing stage hashes the image; no need to do it twice. */
		payload_leave_image_digest(&p);
		crypto_sha256_init(&w->image);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = stream(&q, &p);
		payload_close(&p);
		crypto_sha256_final(&w->image, digest);
		/* A verity image's identity is its root hash (which covers every byte). */
		if (r == 0 && w->tree)
			r = verity_finish(w->tree, digest);
	}
	if (r == 0 && memcmp(digest, w->tree ? m->verity.root : m->image_digest, sizeof(digest)))
		r = blame(b, path, w->read_back);
	if (r == 0 && w->tree && w->read_back)
		r = read_back_tree(w, q.piece[0].buf);
	for (unsigned i = 0; i < q.depth; i++)
		free(q.piece[i].buf);
	if (r < 0)
		return r;
	testpoint("written");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	log_info("image %swritten%s (%llu bytes, %.0f MiB/s, SHA-256 on %s)",
	         w->tree ? "and its verity tree " : "", w->read_back ? " and read back" : "",
	         (unsigned long long)m->image_size,
	         s > 0 ? (double)m->image_size / (1024.0 * 1024.0) / s : 0.0,
	         crypto_sha256_engine());
	return 0;
}

int install_image(const struct bundle *b, const char *path, bool read_back)
{
	struct writer w = {.b = b, .fd = -1, .dfd = -1, .rfd = -1, .read_back = read_back};
	uint64_t slot_size;
	int r;

	/* O_EXCL refuses a mounted block device: on a host only; in the initramfs nothing
	 * is mounted, and the caller's choice of target protects the active slot. */
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
	if (r == 0 && b->manifest.verity.on && footer_space(b) > slot_size - b->manifest.image_size)
		r = fail(-ENOSPC,
		         "image of %llu bytes and its verity tree and footer (%llu bytes) do not "
		         "fit "
		         "slot of %llu bytes",
		         (unsigned long long)b->manifest.image_size,
		         (unsigned long long)footer_space(b), (unsigned long long)slot_size);
	w.dev_size = slot_size;
	/* Before anything else: a slot being written shows no footer of what it held. */
	if (r == 0)
		r = footer_clear(w.fd, slot_size);
	if (r == 0 && b->manifest.verity.on) {
		struct verity_geometry g;
		r = bundle_verity_geometry(&b->manifest, &g);
		if (r == 0 && !(w.tree = malloc(sizeof(*w.tree))))
			r = fail(-ENOMEM, "no memory for the verity tree");
		if (r == 0) {
			verity_begin(w.tree, &g, b->manifest.verity.salt, write_hash_block, &w);
			for (unsigned i = 0; i < g.levels; i++)
				crypto_sha256_init(&w.level[i]);
		}
	}
	/*
	 * Direct writes are a way to go faster, not a need: without them, the page
	 * cache. Not under serial test hooks, whose injected short writes assume
	 * any length.
	 */
	if (r == 0 && !io_serial() && (w.dfd = io_open(path, O_WRONLY | O_DIRECT, 0)) < 0)
		w.dfd = -1;
	if (r == 0 && read_back)
		r = open_read_back(&w, path);
	if (r == 0)
		r = write_slot(b, path, &w);
	if (r == 0 && w.tree)
		r = footer_write(w.fd, slot_size, b);
	if (r == 0) {
		/* Only a flushed slot may be tried: the record's TRYING commit comes after this. */
		r = io_sync(w.fd);
		if (r < 0)
			r = fail(-EIO, "flushing slot %s failed: %s", path, strerror(-r));
		else
			testpoint("flushed");
	}
	/* After the flush, as the medium keeps it (a footer in the write cache only proves less).
	 */
	if (r == 0 && w.tree && read_back)
		r = read_back_footer(&w);
	free(w.tree);
	if (w.rfd >= 0)
		io_close(w.rfd);
	if (w.dfd >= 0)
		io_close(w.dfd);
	int c = io_close(w.fd);
	if (r == 0 && c < 0)
		r = fail(-EIO, "closing slot %s failed: %s", path, strerror(-c));
	return r;
}
