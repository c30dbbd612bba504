/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The bundle: a signed update file. docs/bundle-format.md documents it byte by
 * byte; in short (all integers little-endian):
 *
 *   +-----------------+ 0
 *   | header    32 B  |  magic "SOTABNDL", format, manifest size, signature
 *   |                 |  block size, flags, payload size
 *   +-----------------+ 32
 *   | manifest        |  compatible, version, image size and SHA-256, chunk
 *   |  192 B + 36 B   |  size and count, compression, label, then one entry
 *   |  per chunk      |  per chunk: stored size u32 + SHA-256 of stored bytes
 *   +-----------------+ 32 + M
 *   | signature 128 B |  key id (SHA-256 of the DER public key), DER ECDSA
 *   |                 |  P-256 signature over SHA-256(header || manifest)
 *   +-----------------+ 160 + M
 *   | payload         |  the chunks' stored bytes, back to back: each one a
 *   |                 |  zstd frame (or raw), chunk_size bytes when inflated
 *   +-----------------+ 160 + M + payload size = file size, exactly
 *
 * The signed part (header and manifest) is read once into memory and parsed
 * from there, so nothing the applier uses can change under it. Its SHA-256 is
 * the transaction id. A bundle refuses to hand out payload until
 * bundle_verify() has checked the signature; every payload chunk is then
 * checked against its signed digest before it is decompressed (payload.h).
 */

#include <stdbool.h>
#include <stdint.h>

#include "crypto.h"
#include "keyring.h"
#include "verity.h"

#define BUNDLE_MAGIC "SOTABNDL"
#define BUNDLE_FORMAT 1
/* Format 2: the signature block is followed by the keyring chain the bundle is signed under. */
#define BUNDLE_FORMAT_KEYRING 2
#define BUNDLE_HEADER_SIZE 32
#define BUNDLE_MANIFEST_FIXED_SIZE 192
#define BUNDLE_CHUNK_ENTRY_SIZE 36
#define BUNDLE_SIGBLOCK_SIZE 128
#define BUNDLE_COMPATIBLE_SIZE 64
#define BUNDLE_LABEL_SIZE 32
/* Header flag: the manifest ends with the verity section (the image's dm-verity root hash). */
#define BUNDLE_FLAG_VERITY 0x1u
#define BUNDLE_VERITY_SIZE 96

/* Named maxima: every length in the file is checked against these before use. */
#define BUNDLE_MIN_CHUNK_SIZE (64u * 1024)
#define BUNDLE_MAX_CHUNK_SIZE (4u * 1024 * 1024)
#define BUNDLE_MAX_CHUNKS 16384u
#define BUNDLE_MAX_MANIFEST_SIZE                                                                   \
	(BUNDLE_MANIFEST_FIXED_SIZE + BUNDLE_CHUNK_ENTRY_SIZE * BUNDLE_MAX_CHUNKS +                \
	 BUNDLE_VERITY_SIZE)
#define BUNDLE_MAX_IMAGE_SIZE ((uint64_t)BUNDLE_MAX_CHUNKS * BUNDLE_MAX_CHUNK_SIZE)

struct bundle_header {
	uint32_t format;
	uint32_t manifest_size;
	uint32_t sigblock_size;
	uint32_t flags;
	uint64_t payload_size;
};

struct bundle_manifest {
	char compatible[BUNDLE_COMPATIBLE_SIZE];
	uint64_t version;
	uint64_t image_size;
	uint8_t image_digest[CRYPTO_DIGEST_SIZE];
	uint32_t chunk_size;
	uint32_t chunk_count;
	uint8_t compression; /* enum codec_kind */
	uint8_t window_log;  /* CODEC_ZSTD_STREAM: the stream's window is at most 2^window_log */
	uint64_t created;
	char label[BUNDLE_LABEL_SIZE];
	uint64_t floor;       /* once this version is confirmed, older ones are refused */
	const uint8_t *table; /* chunk_count entries, inside the bundle's verified buffer */
	/* The verity section (header flag BUNDLE_FLAG_VERITY): the image's dm-verity tree. */
	struct bundle_verity {
		bool on;
		uint64_t hash_size; /* bytes of the tree, which follows the image on the slot */
		uint8_t root[CRYPTO_DIGEST_SIZE];
		uint8_t salt[VERITY_SALT_SIZE];
	} verity;
};

struct bundle_sigblock {
	uint8_t key_id[CRYPTO_KEY_ID_SIZE];
	uint16_t sig_len;
	uint8_t sig[CRYPTO_SIG_MAX];
};

struct bundle_chunk {
	uint32_t stored_size;
	uint32_t size; /* inflated size: chunk_size, or the remainder for the last chunk */
	const uint8_t *digest;
};

/* Pure parsers: each checks every field against the format and the named maxima. */
int bundle_parse_header(const uint8_t *buf, size_t len, struct bundle_header *ret);
int bundle_parse_manifest(const uint8_t *buf, size_t len, const struct bundle_header *h,
                          struct bundle_manifest *ret);
int bundle_parse_sigblock(const uint8_t *buf, size_t len, struct bundle_sigblock *ret);

/* Chunk i of a parsed manifest (i < chunk_count). */
void bundle_chunk(const struct bundle_manifest *m, uint32_t i, struct bundle_chunk *ret);

/* Serialisers for `bundle create` and tests. */
void bundle_write_header(const struct bundle_header *h, uint8_t out[BUNDLE_HEADER_SIZE]);
void bundle_write_manifest_fixed(const struct bundle_manifest *m,
                                 uint8_t out[BUNDLE_MANIFEST_FIXED_SIZE]);
void bundle_write_chunk_entry(uint8_t *out, uint32_t stored_size, const uint8_t *digest);
void bundle_write_sigblock(const struct bundle_sigblock *s, uint8_t out[BUNDLE_SIGBLOCK_SIZE]);
void bundle_write_verity(const struct bundle_verity *v, uint8_t out[BUNDLE_VERITY_SIZE]);

/* Pure: the manifest's size for chunk_count chunks, with or without the verity section. */
uint32_t bundle_manifest_size(uint32_t chunk_count, bool verity);

/* Pure: the tree's shape for a verity image of image_size bytes (a multiple of 4096). */
int bundle_verity_geometry(const struct bundle_manifest *m, struct verity_geometry *ret);

struct bundle {
	int fd;
	uint64_t file_size;
	uint8_t *head; /* header + manifest + signature block, as read, once */
	size_t head_len;
	struct bundle_header header;
	struct bundle_manifest manifest;
	struct bundle_sigblock sig;
	uint8_t txn[CRYPTO_DIGEST_SIZE]; /* SHA-256(header || manifest) */
	uint64_t payload_offset;
	struct keyring *chain; /* format 2: the keyring chain, parsed at open (not yet trusted) */
	size_t chain_len;
	const struct keyring *keyring; /* after bundle_verify: the keyring that judged it */
	bool verified;
};

/*
 * Opens a bundle from fd (which it takes over, closed by bundle_close even on
 * failure): reads and parses the signed part, checks that the file is exactly
 * as long as declared. The bundle is not yet trusted.
 */
int bundle_open_fd(int fd, struct bundle *ret);
int bundle_open(const char *path, struct bundle *ret);

/*
 * The head alone (header, manifest, signature block, chain: exactly as long as
 * its header says), from memory, copied: a slot's footer (footer.h). No
 * payload: payload_open() refuses it.
 */
int bundle_open_head(const uint8_t *buf, size_t len, struct bundle *ret);

/*
 * Checks the signature against the device's trust: its adopted keyring
 * (adopted; NULL while it has none) and its key set (keys, from the key
 * directory: the root keys of the first keyring). Only then is the bundle
 * usable. A format 2 bundle is judged by its keyring chain (keyring_judge()).
 * A format 1 bundle carries no keyring: keys judge it as signing keys, but
 * only while the device has adopted no keyring (-ENOKEY after that, and
 * -EKEYREVOKED for a key the adopted keyring revokes).
 */
int bundle_verify(struct bundle *b, const struct crypto_keyset *keys,
                  const struct keyring *adopted);

/* After bundle_verify(): the keyring the bundle brings, newer than adopted, or NULL. */
const struct keyring *bundle_new_keyring(const struct bundle *b, const struct keyring *adopted);

void bundle_close(struct bundle *b);
