/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The only file that talks to mbedTLS: SHA-256, ECDSA P-256 signatures, and
 * the trusted key set. mbedTLS errors are translated to our codes here:
 *   -ENOKEY        the signing key is not in the key set
 *   -EKEYREVOKED   the signing key is revoked
 *   -EKEYREJECTED  the signature does not verify
 *   -EBADMSG       a key file or signature cannot be parsed
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_DIGEST_SIZE 32
#define CRYPTO_KEY_ID_SIZE 32
#define CRYPTO_SIG_MAX 72 /* DER ECDSA P-256 signature */
#define CRYPTO_MAX_KEYS 16
#define CRYPTO_MAX_KEY_FILE (16 * 1024)

/* Streaming SHA-256, caller-allocated (init, update..., final). */
struct crypto_sha256 {
	_Alignas(16) uint8_t opaque[144];
};

void crypto_sha256_init(struct crypto_sha256 *h);
void crypto_sha256_update(struct crypto_sha256 *h, const void *data, size_t len);
void crypto_sha256_final(struct crypto_sha256 *h, uint8_t out[CRYPTO_DIGEST_SIZE]);
void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_DIGEST_SIZE]);

/* Whether SHA-256 runs on the CPU's SHA instructions; tests can force the portable code. */
bool crypto_sha256_hardware(void);
/* What computes SHA-256 here: "sha-ni", "armv8-sha2" or "mbedtls". */
const char *crypto_sha256_engine(void);
void crypto_sha256_force_generic(bool generic);

struct crypto_keyset;

/*
 * Loads every "*.pem" public key (EC P-256) in dir, at most CRYPTO_MAX_KEYS.
 * A key whose id is listed in the file "revoked" in the same directory (one
 * hex key id per line, '#' comments) is kept but marked revoked, so a
 * signature by it is refused with -EKEYREVOKED rather than -ENOKEY.
 * -ENOKEY when the directory holds no usable key.
 */
int crypto_keyset_load(const char *dir, struct crypto_keyset **ret);
void crypto_keyset_free(struct crypto_keyset *kr);

/* For _cleanup_(crypto_keyset_freep) struct crypto_keyset *keys = NULL. */
static inline void crypto_keyset_freep(struct crypto_keyset **kr)
{
	crypto_keyset_free(*kr);
	*kr = NULL;
}
size_t crypto_keyset_count(const struct crypto_keyset *kr);
/* The id of key i (its SHA-256 over the DER public key) and whether it is revoked. */
void crypto_keyset_key(const struct crypto_keyset *kr, size_t i, uint8_t ret_id[CRYPTO_KEY_ID_SIZE],
                       int *ret_revoked, const char **ret_name);

/* Verifies sig over digest with the ring's key whose id is key_id. */
int crypto_verify(const struct crypto_keyset *kr, const uint8_t digest[CRYPTO_DIGEST_SIZE],
                  const uint8_t key_id[CRYPTO_KEY_ID_SIZE], const uint8_t *sig, size_t sig_len);

/*
 * Signs digest with the private key in key_path (PEM, EC P-256). Deterministic
 * (RFC 6979): the same key and digest always give the same signature.
 */
int crypto_sign(const char *key_path, const uint8_t digest[CRYPTO_DIGEST_SIZE],
                uint8_t sig[CRYPTO_SIG_MAX], size_t *ret_sig_len,
                uint8_t ret_key_id[CRYPTO_KEY_ID_SIZE]);

/* The key id of a public or private key file. */
int crypto_key_id_of_file(const char *path, uint8_t ret_id[CRYPTO_KEY_ID_SIZE]);

/* Generates a P-256 key pair: private key PEM (mode 0600) and public key PEM. */
int crypto_keygen(const char *private_path, const char *public_path);

/*
 * A P-256 public key as a keyring document carries it (keyring.h): the point's
 * X and Y coordinates, 32 bytes each, big-endian (SEC 1 uncompressed, without
 * its 0x04 prefix). Its key id is the same as the key file's: the SHA-256 of
 * its DER SubjectPublicKeyInfo.
 */
#define CRYPTO_POINT_SIZE 64

/* Checks that point is on the curve (-EBADMSG if not) and gives its key id. */
int crypto_point_id(const uint8_t point[CRYPTO_POINT_SIZE], uint8_t ret_id[CRYPTO_KEY_ID_SIZE]);

/* Verifies sig over digest with point: 0, -EKEYREJECTED, or -EBADMSG (not a point). */
int crypto_verify_point(const uint8_t point[CRYPTO_POINT_SIZE],
                        const uint8_t digest[CRYPTO_DIGEST_SIZE], const uint8_t *sig,
                        size_t sig_len);

/* The point and key id of a public or private key file. */
int crypto_point_of_file(const char *path, uint8_t ret_point[CRYPTO_POINT_SIZE],
                         uint8_t ret_id[CRYPTO_KEY_ID_SIZE]);
