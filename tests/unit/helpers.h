/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Shared fixtures for the unit tests: keys, images, bundles, and a "device"
 * made of plain files in the test's tmpdir (state partition, slot A, slot B,
 * data directory with the drop-in directory), initialised the way
 * `systemota state init` does it. Everything lives under test_tmpdir(), which
 * the runner removes after each test.
 *
 * Functions return 0 or -errno, like the code under test. Paths handed back
 * are copied into the caller's structures, never test_path()'s rotating buffers.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "bundle.h"
#include "create.h"
#include "crypto.h"
#include "io.h"
#include "running.h"
#include "state.h"
#include "util.h"

#define HELPERS_PATH_MAX 512
#define HELPERS_COMPATIBLE "test-board"
#define HELPERS_CHUNK_SIZE (64u * 1024)
#define HELPERS_LEVEL 3
#define HELPERS_STATE_SIZE (1024u * 1024)
#define HELPERS_SLOT_SIZE (1024u * 1024)
#define HELPERS_IMAGE_SIZE (300u * 1024) /* five chunks, the last one partial */
#define HELPERS_TRIES 3
#define HELPERS_DROPIN "systemota/staged" /* the drop-in directory, relative to data */
#define HELPERS_SLOT_A_SEED 0xa
#define HELPERS_SLOT_B_SEED 0xb

/* A P-256 key pair, and a key directory trusting only its public key. */
struct helpers_key {
	char priv[HELPERS_PATH_MAX];
	char pub[HELPERS_PATH_MAX]; /* inside dir */
	char dir[HELPERS_PATH_MAX];
};

/* Makes tmpdir/NAME.key, and tmpdir/NAME-keys/NAME.pem as the only trusted key. */
int helpers_keypair(const char *name, struct helpers_key *ret);

struct keyring;
/* Appends the key in pem (a public or private key file) to k, with role and until_version. */
int helpers_keyring_key(struct keyring *k, const char *pem, uint8_t role, uint64_t until);

/* helpers_keypair(), and a key set trusting only that key. */
int helpers_trusted_key(const char *name, struct helpers_key *ret, struct crypto_keyset **ret_ring);

/*
 * Writes size deterministic bytes to path (created or truncated): per 4 KiB,
 * a stretch of pseudo-random bytes then text, so zstd has work to do and
 * every chunk differs. The same seed always gives the same bytes.
 */
int helpers_image(const char *path, uint64_t size, uint32_t seed);

/* Options for create_bundle(): the test compatible string, 64 KiB chunks, zstd level 3. */
void helpers_bundle_options(struct create_options *o, const char *image, const char *output,
                            const char *key, uint64_t version);

/* create_bundle() with helpers_bundle_options(). */
int helpers_bundle(const char *output, const char *image, const char *key, uint64_t version);

/* tmpdir/b.img of size bytes (seed 7), and tmpdir/b.sota: version 2 of it at level (0: raw). */
int helpers_sized_bundle(const char *key, uint64_t size, int level);

/* The transaction id (digest of the signed part) of the bundle at path. */
int helpers_bundle_txn(const char *path, uint8_t ret[CRYPTO_DIGEST_SIZE]);

/*
 * Writes a bundle from parts, as create_bundle() would but without its
 * checks: m's fixed fields as given, a chunk table with the stored size and
 * SHA-256 of each of m->chunk_count stored chunks, a header declaring their
 * total, all signed with key. For crafting well-signed hostile bundles.
 */
int helpers_write_bundle(const char *path, const char *key, const struct bundle_manifest *m,
                         const uint8_t *const chunks[], const uint32_t stored_sizes[]);

/* A device of plain files, with a trusted key and an apply_config pointing at it all. */
struct helpers_device {
	char state[HELPERS_PATH_MAX];
	char slot[2][HELPERS_PATH_MAX];
	char data[HELPERS_PATH_MAX];
	char dropin[HELPERS_PATH_MAX]; /* data/HELPERS_DROPIN, created empty */
	struct helpers_key key;
	struct crypto_keyset *keys;
	struct apply_config cfg; /* tries HELPERS_TRIES; tests may change any field */
};

/*
 * Creates the device: a zeroed 1 MiB state file holding a fresh record (slot A
 * active, GOOD, version 1: `systemota state init`), slots A and B of
 * HELPERS_SLOT_SIZE filled with distinct patterns, the drop-in directory, and
 * a key "dev" trusted by the device. Free with helpers_device_free() (usable
 * as a _cleanup_ function on a zeroed struct).
 */
int helpers_device(struct helpers_device *d);
void helpers_device_free(struct helpers_device *d);
#define _cleanup_device_ _cleanup_(helpers_device_free)

/*
 * Makes tmpdir/NAME.img (HELPERS_IMAGE_SIZE bytes, the version as seed) and
 * tmpdir/NAME.sota: version, signed with key, for HELPERS_COMPATIBLE.
 */
int helpers_update(const char *name, const char *key, uint64_t version);

/* tmpdir/NAME.sota: a verity bundle (--verity) of tmpdir/NAME.img, size bytes (seed version). */
int helpers_verity_update(const char *name, const char *key, uint64_t version, uint64_t size);

/* Copies tmpdir/NAME.sota into d's drop-in directory as update.sota (a plain copy, new inode). */
int helpers_drop(const struct helpers_device *d, const char *name);

/* The drop-in fingerprint (staged.h) of d's staged file name. */
int helpers_fingerprint(const struct helpers_device *d, const char *name,
                        uint8_t ret[STATE_FINGERPRINT_SIZE]);

/* SHA-256 of the whole slot i (HELPERS_SLOT_SIZE bytes, or less if it was shrunk). */
int helpers_slot_digest(const struct helpers_device *d, int i, uint8_t ret[CRYPTO_DIGEST_SIZE]);

/*
 * The running system's engine on d, booted from slot booted (-1: unknown):
 * no watchdog, d's drop-in directory and keys. Paths point into d.
 */
void helpers_running(const struct helpers_device *d, int booted, struct running_config *ret);

/* `systemota mark-good` from slot booted: the real transition (running.h). */
int helpers_mark_good(const struct helpers_device *d, int booted);

/* apply_run() with d->cfg. */
int helpers_apply(struct helpers_device *d, uint8_t *ret_slot);

/* Reads the current record of the state file, without writing. */
int helpers_read_state(const char *path, struct state_record *ret);

/* Commits r as the state file's next record (as a transition would). */
int helpers_write_state(const char *path, struct state_record *r);

/* SHA-256 of the first n bytes of path; -ENODATA if it is shorter. */
int helpers_sha256_file(const char *path, uint64_t n, uint8_t ret[CRYPTO_DIGEST_SIZE]);

/* Writes len bytes at off of path (a slot, the state file), behind the code's back. */
int helpers_poke(const char *path, uint64_t off, const void *buf, size_t len);

/* Flips the lowest bit of the byte at off: the smallest change, ASCII stays printable. */
int helpers_flip_byte(const char *path, uint64_t off);

/* Reads a whole file into a malloc'ed buffer. */
int helpers_read_file(const char *path, uint8_t **ret, size_t *ret_len);

/* Copies src to dst through a temporary name and a rename: dst always gets a new inode. */
int helpers_copy_file(const char *src, const char *dst);

/* True when both files exist and have the same bytes. */
bool helpers_files_equal(const char *a, const char *b);

bool helpers_exists(const char *path);

/*
 * Fault injection and observation through io_set_hooks(): counts the calls of
 * kind op (on a file descriptor whose path ends with suffix, when suffix is
 * set: then only fd-based calls match) and fails the nth of them with error
 * (nth 0: never fail, only count), and the count - 1 after it (a fault that
 * persists through the code's retries). helpers_fault_set(NULL) removes the hooks.
 */
struct helpers_fault {
	enum io_op op;
	const char *suffix;
	int nth;
	int error;
	int calls;    /* matching calls seen */
	int failed;   /* calls made to fail */
	int count;    /* consecutive calls to fail from the nth on; 0 means 1 */
	bool corrupt; /* IO_READ: instead of failing, the call succeeds with a byte flipped */
	bool flip_next;
	bool threads;     /* let the code under test keep its threads (io_hooks.threads) */
	int from_threads; /* calls on the file made from threads other than the test's */
	struct io_hooks hooks;
};

void helpers_fault_set(struct helpers_fault *f);
