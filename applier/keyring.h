/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The keyring: a small signed document that says which keys may sign bundles
 * (docs/keyring-format.md has it byte by byte). Two tiers, as in TUF:
 *
 *   - root keys, kept offline by the vendor, sign keyrings. The initramfs
 *     carries the first ones (its key directory); after that the roots of the
 *     device's adopted keyring are the only ones that can sign the next.
 *   - signing keys, online, sign bundles, and only while a keyring lists them.
 *
 *   +-----------------+ 0
 *   | header    64 B  |  magic "SOTAKEYR", format 1, size, version, key and
 *   |                 |  revocation counts, created
 *   +-----------------+ 64
 *   | keys   80 B × n |  role (root / signing), until_version, P-256 point
 *   +-----------------+ 64 + 80 n
 *   | revoked 32 B × m|  key ids, strictly ascending
 *   +-----------------+ 64 + 80 n + 32 m           (end of the signed part)
 *   | signature 128 B |  key id, DER ECDSA P-256 over SHA-256(signed part)
 *   +-----------------+ size = 192 + 80 n + 32 m
 *
 * A bundle of format 2 carries a chain of keyrings, each signed by a root of
 * the one before it (the first by a root of the device's adopted keyring, or
 * of the initramfs), so a device that was offline through several keyrings
 * (root rotations included) follows them all from one bundle.
 *
 * Parsing is pure (the curve check is arithmetic). The judgements below return
 * one of the crypto codes, with the reason set:
 *   -ENOKEY        a key is not trusted for what it signed
 *   -EKEYREVOKED   a key is revoked
 *   -EKEYREJECTED  a signature does not verify, or a keyring breaks a rule of
 *                  its predecessor (a fork of the same version, a dropped revocation)
 *   -EKEYEXPIRED   the signing key may not sign a bundle of this version
 *   -ESTALE        the bundle's keyring is older than the device's
 *   -EBADMSG       a keyring that does not parse
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define KEYRING_MAGIC "SOTAKEYR"
#define KEYRING_FORMAT 1
#define KEYRING_HEADER_SIZE 64
#define KEYRING_KEY_SIZE 80
#define KEYRING_REVOKED_SIZE CRYPTO_KEY_ID_SIZE
#define KEYRING_SIG_SIZE 128
#define KEYRING_MAX_KEYS 8
#define KEYRING_MAX_REVOKED 24
#define KEYRING_MIN_SIZE (KEYRING_HEADER_SIZE + KEYRING_KEY_SIZE + KEYRING_SIG_SIZE)
#define KEYRING_MAX_SIZE                                                                           \
	(KEYRING_HEADER_SIZE + KEYRING_KEY_SIZE * KEYRING_MAX_KEYS +                               \
	 KEYRING_REVOKED_SIZE * KEYRING_MAX_REVOKED + KEYRING_SIG_SIZE)
#define KEYRING_MAX_CHAIN 8

enum keyring_role { KEYRING_ROOT = 1, KEYRING_SIGNING = 2 };

struct keyring_key {
	uint8_t role; /* enum keyring_role */
	/* A signing key may sign bundles up to this version; 0: no limit (always 0 for roots). */
	uint64_t until_version;
	uint8_t point[CRYPTO_POINT_SIZE];
	uint8_t id[CRYPTO_KEY_ID_SIZE];
};

struct keyring {
	uint64_t version;
	uint64_t created; /* seconds since 1970, informational */
	uint8_t n_keys;
	uint8_t n_revoked;
	struct keyring_key keys[KEYRING_MAX_KEYS];
	uint8_t revoked[KEYRING_MAX_REVOKED][CRYPTO_KEY_ID_SIZE];
	uint8_t signer[CRYPTO_KEY_ID_SIZE];
	uint16_t sig_len;
	uint8_t sig[CRYPTO_SIG_MAX];
	uint8_t digest[CRYPTO_DIGEST_SIZE]; /* SHA-256 of the signed part: names this keyring */
	uint16_t size;                      /* bytes of raw */
	uint8_t raw[KEYRING_MAX_SIZE];      /* the document, as parsed or encoded */
};

/*
 * Parses the document at the start of buf (len bytes available; the document
 * says its own size, which must fit). Every field is checked: magic, format,
 * size = 192 + 80 n + 32 m exactly, 1 <= n <= 8, m <= 24, reserved bytes zero,
 * roles known, at least one root, until_version 0 on roots, every point on the
 * curve, no key listed twice, the revoked ids strictly ascending and none of
 * them listed as a key, version >= 1, a signature length of 1..72 with zeros
 * after it. The signature itself is not checked here (keyring_chain_walk).
 */
int keyring_parse(const uint8_t *buf, size_t len, struct keyring *ret);

/*
 * Like keyring_parse(), but also takes an unsigned draft (a signature block
 * of zeros, sig_len 0), as `systemota keyring create` writes it without --key
 * for the offline root's host to sign.
 */
int keyring_parse_draft(const uint8_t *buf, size_t len, struct keyring *ret);

/*
 * Parses a chain: 1..KEYRING_MAX_CHAIN documents back to back, filling len
 * exactly, versions strictly ascending. ret has room for KEYRING_MAX_CHAIN.
 */
int keyring_parse_chain(const uint8_t *buf, size_t len, struct keyring *ret, size_t *ret_n);

/*
 * Reads the file at path (build host: a keyring, or a chain of them back to
 * back) and parses it as a chain; unsigned drafts too when draft.
 */
int keyring_load_file(const char *path, bool draft, struct keyring *ret, size_t *ret_n);

/*
 * Encodes k's fields (version, created, keys, revoked, signature) into k->raw,
 * and sets k->size, k->digest and the key ids. -EINVAL on counts out of range.
 * The document is checked by keyring_parse() before this returns.
 */
int keyring_encode(struct keyring *k);

/* The key with this id, or NULL. */
const struct keyring_key *keyring_find(const struct keyring *k,
                                       const uint8_t id[CRYPTO_KEY_ID_SIZE]);
bool keyring_revokes(const struct keyring *k, const uint8_t id[CRYPTO_KEY_ID_SIZE]);
const char *keyring_role_name(uint8_t role);

/*
 * Judges a bundle's signature (sig by key_id over digest, its transaction
 * id) at the bundle's version, against the device's trust: its adopted
 * keyring (adopted, NULL while it has none) or else the initramfs's key set
 * (roots), and the keyring chain the bundle carries (n >= 1):
 *
 *   1. a key the adopted keyring revokes is refused, whatever the chain says;
 *   2. the chain is followed: links older than the adopted keyring are history
 *      the device has passed and are skipped, one of the same version must be
 *      the adopted keyring itself, and every newer link must be signed by a
 *      root key of the link before it (the adopted keyring, or the initramfs's
 *      roots for the first), not by a signing key, and keep every revocation
 *      of it;
 *   3. the effective keyring, the chain's last link, must not be older than
 *      the adopted one; the key must be one of its signing keys, not revoked,
 *      with an until_version that allows this version, and the signature
 *      must verify.
 *
 * With no chain (n == 0: a format 1 bundle) the key set judges the key
 * itself, but only while the device has adopted no keyring (-ENOKEY after
 * that, -EKEYREVOKED for a key the adopted keyring revokes).
 *
 * On success *ret_effective points at the keyring that judged it (the adopted
 * one, or a link of chain; NULL for no chain): newer than adopted when the
 * bundle brings a keyring to adopt.
 */
int keyring_judge(const struct keyring *adopted, const struct crypto_keyset *roots,
                  const struct keyring *chain, size_t n, uint64_t version,
                  const uint8_t digest[CRYPTO_DIGEST_SIZE],
                  const uint8_t key_id[CRYPTO_KEY_ID_SIZE], const uint8_t *sig, size_t sig_len,
                  const struct keyring **ret_effective);

struct state_record;

/*
 * The keyring the record has adopted, parsed into buf: *ret is buf, or NULL
 * when the record holds none (the initramfs's roots judge). -EBADMSG when the
 * stored bytes (CRC-checked by the state module) do not parse: nothing is
 * judged then, never a fallback to the roots.
 */
int keyring_adopted(const struct state_record *st, struct keyring *buf, const struct keyring **ret);
/* Likewise the pending one, brought by the transaction in progress. */
int keyring_pending(const struct state_record *st, struct keyring *buf, const struct keyring **ret);

/*
 * Signs k with the root's private key (build host): encodes the draft, signs
 * its digest, encodes and checks the document. k->signer becomes the key's id.
 */
int keyring_sign(struct keyring *k, const char *private_key_path);
