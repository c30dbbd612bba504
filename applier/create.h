/* SPDX-License-Identifier: MIT */
#pragma once

/* Building a bundle on the build host: `systemota bundle create`. */

#include <stdbool.h>
#include <stdint.h>

struct create_options {
	const char *image;      /* raw filesystem image */
	const char *output;     /* bundle to write (atomically: temp file, rename) */
	const char *key;        /* private key, PEM, EC P-256 */
	const char *compatible; /* device family, checked by the device */
	const char *label;      /* human-readable version, e.g. "2.0" */
	uint64_t version;       /* monotonic version, for anti-rollback */
	uint64_t floor;         /* once confirmed, versions below are refused (0: none) */
	uint32_t chunk_size;    /* inflated bytes per chunk, power of two */
	int level;              /* zstd level; 0 stores the chunks raw */
	unsigned window_log;    /* 10..22: one zstd stream with this window; 0: a frame per chunk */
	unsigned threads;    /* compressing in parallel (0: one per CPU); the bytes do not change */
	uint32_t frame_size; /* stream: image bytes per frame, a multiple of the chunk size
	                        (0: CREATE_FRAME_SIZE) */
	uint64_t created;    /* seconds since the epoch */
	/* A keyring chain file (keyring.h): the bundle is format 2 and carries it. */
	const char *keyring;
	/* The manifest carries the image's dm-verity root hash (the image: whole 4 KiB blocks). */
	bool verity;
};

#define CREATE_DEFAULT_CHUNK_SIZE (512u * 1024)
#define CREATE_DEFAULT_LEVEL 19
#define CREATE_DEFAULT_WINDOW_LOG 21
/*
 * A stream is cut into independent frames of this many image bytes, so that
 * they can be compressed in parallel; each restart costs a window's worth of
 * history (about 0.3% of the bundle at 32 MiB, see docs/performance.md).
 */
#define CREATE_FRAME_SIZE (32u * 1024 * 1024)

int create_bundle(const struct create_options *o);

/*
 * Writes out: the bundle in, signed again with key (its transaction id does
 * not change), carrying the keyring chain in the file keyring (NULL: the
 * bundle's own). For key rotation: bundles made before a new key can be
 * re-signed instead of rebuilt. A chain of another length than the bundle's
 * changes the header, and so the transaction id (a warning says so).
 */
int create_resign(const char *in, const char *key, const char *keyring, const char *out);
