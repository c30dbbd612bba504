/* SPDX-License-Identifier: MIT */
#include "stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bundle.h"
#include "dropin.h"
#include "fail.h"
#include "io.h"
#include "log.h"
#include "payload.h"
#include "staged.h"
#include "testpoint.h"
#include "util.h"

#define STAGE_TEMP ".update.sota.tmp"
#define STAGE_REMOVE_ROUNDS 64 /* of STAGED_SCAN_MAX names: 16384 entries */

/* Copies the verified bundle into fd: the signed head as read, then each chunk once verified. */
static int copy_verified(const struct bundle *b, int fd)
{
	struct payload p;
	struct payload_chunk c;
	uint64_t off = b->payload_offset;
	int r;

	r = io_pwrite_all(fd, b->head, b->head_len, 0);
	if (r < 0)
		return fail(r, "writing staged bundle: %s", strerror(-r));
	/* Every chunk checked against its signed digest; decompression is the applier's. */
	r = payload_open_stored(&p, b);
	if (r < 0)
		return r;
	while ((r = payload_next(&p, &c)) > 0) {
		r = io_pwrite_all(fd, c.stored, c.stored_size, off);
		if (r < 0) {
			r = fail(r, "writing staged bundle: %s", strerror(-r));
			break;
		}
		off += c.stored_size;
	}
	payload_close(&p);
	return r;
}

static int flush_dir(int dirfd, int removed)
{
	int r = removed ? io_sync(dirfd) : 0;

	return r < 0 ? fail(r, "flushing drop-in directory: %s", strerror(-r)) : removed;
}

/*
 * Removes every "*.sota" entry but keep: one update is staged at a time. In
 * rounds of STAGED_SCAN_MAX names, each listing from the start again, so that
 * more entries than one listing holds all go; at most STAGE_REMOVE_ROUNDS,
 * since entries that cannot be removed come back in every round.
 */
static int remove_others(int dirfd, const char *keep)
{
	char *names[STAGED_SCAN_MAX];
	size_t n;
	int removed = 0, before, round = 0, r;

	do {
		r = staged_names(dirfd, names, STAGED_SCAN_MAX, &n);
		if (r < 0)
			return r;
		before = removed;
		for (size_t i = 0; i < n; i++)
			if (strcmp(names[i], keep) != 0 && io_unlinkat(dirfd, names[i], 0) == 0) {
				log_info("removed %s", names[i]);
				removed++;
			}
		staged_names_free(names, n);
	} while ((n == STAGED_SCAN_MAX || r == 1) && removed > before &&
	         ++round < STAGE_REMOVE_ROUNDS);
	if (n == STAGED_SCAN_MAX || r == 1)
		log_warn("removed %d older *.sota entries; more may be left in the drop-in "
		         "directory",
		         removed);
	return flush_dir(dirfd, removed);
}

/* Removes the staged bundles whose transaction the record lists as done. */
static int remove_done(const struct staged_list *list, const struct crypto_keyset *keys,
                       const struct state_record *st)
{
	const struct keyring *adopted = NULL;
	struct keyring buf;
	int removed = 0;

	if (keyring_adopted(st, &buf, &adopted) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < list->n; i++) {
		struct bundle b;
		if (staged_open(list, &list->files[i], keys, adopted, &b) < 0)
			continue;
		int done = memcmp(b.txn, st->last_done, CRYPTO_DIGEST_SIZE) == 0;
		bundle_close(&b);
		if (done && io_unlinkat(list->dirfd, list->files[i].name, 0) == 0) {
			log_info("removed %s", list->files[i].name);
			removed++;
		}
	}
	if (removed)
		testpoint("mark-good-cleaned");
	return flush_dir(list->dirfd, removed);
}

static int write_staged(const struct bundle *b, int dirfd)
{
	int fd, r;

	(void)io_unlinkat(dirfd, STAGE_TEMP, 0);
	fd = io_openat(dirfd, STAGE_TEMP, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return fail(fd, "cannot create %s: %s", STAGE_TEMP, strerror(-fd));
	r = copy_verified(b, fd);
	if (r == 0) {
		r = io_sync(fd);
		if (r < 0)
			r = fail(r, "flushing staged bundle: %s", strerror(-r));
	}
	int c = io_close(fd);
	if (r == 0 && c < 0)
		r = fail(c, "closing staged bundle: %s", strerror(-c));
	/* Only a complete, flushed file takes the name the applier looks for. */
	if (r == 0) {
		testpoint("stage-copied");
		r = io_renameat(dirfd, STAGE_TEMP, dirfd, STAGE_NAME);
		if (r < 0)
			r = fail(r, "renaming staged bundle: %s", strerror(-r));
	}
	if (r < 0) {
		(void)io_unlinkat(dirfd, STAGE_TEMP, 0);
		return r;
	}
	testpoint("stage-renamed");
	/*
	 * The rename is the commit point: from here the bundle is staged. A
	 * failed directory flush only means a power cut could still undo it,
	 * which loses nothing (the old state stands) and is said as a warning.
	 */
	int e = io_sync(dirfd);
	if (e < 0)
		log_warn("staged, but flushing the drop-in directory failed (%s): a power cut "
		         "before the next sync may undo the staging",
		         strerror(-e));
	return 0;
}

int stage_bundle(const char *src, const char *data_dir, const char *dropin,
                 const struct crypto_keyset *keys, const char *compatible,
                 const struct state_record *st, uint64_t slot_size, struct stage_info *ret)
{
	_cleanup_(bundle_close) struct bundle b = {.fd = -1};
	_cleanup_(io_closep) int dirfd = -1;
	const struct keyring *adopted = NULL;
	struct keyring buf;

	int r = keyring_adopted(st, &buf, &adopted);
	if (r < 0)
		return r;
	r = bundle_open(src, &b);
	if (r < 0)
		return r;
	r = bundle_verify(&b, keys, adopted);
	if (r == 0) {
		r = staged_check(&b, compatible, st, slot_size);
		if (r == STAGED_SKIP)
			r = fail(-EALREADY, "version %llu was already installed or failed before",
			         (unsigned long long)b.manifest.version);
	}
	if (r < 0)
		return r;
	/* Created as needed, no component followed through a symlink: it could point anywhere. */
	dirfd = dropin_open(data_dir, dropin, true);
	if (dirfd < 0)
		return dirfd;
	r = write_staged(&b, dirfd);
	if (r == 0) {
		log_info("staged version %llu (%s) as %s/%s/%s; reboot to apply",
		         (unsigned long long)b.manifest.version, b.manifest.label, data_dir, dropin,
		         STAGE_NAME);
		if (ret) {
			ret->version = b.manifest.version;
			memcpy(ret->label, b.manifest.label, sizeof(ret->label));
		}
		int n = remove_others(dirfd, STAGE_NAME);
		if (n < 0)
			log_warn("could not remove older staged bundles: %s", fail_reason());
	}
	return r;
}

int stage_cleanup(const char *data_dir, const char *dropin, const struct crypto_keyset *keys,
                  const struct state_record *st)
{
	struct staged_list list;
	int r = staged_list(data_dir, dropin, st, &list);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	r = remove_done(&list, keys, st);
	staged_list_free(&list);
	return r;
}
