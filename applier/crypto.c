/* SPDX-License-Identifier: MIT */
#include "crypto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fail.h"
#include "sha256hw.h"
#include "util.h"

/*
 * SHA-256: on the CPU's SHA instructions when it has them (sha256hw.c), else
 * mbedTLS. The choice is made once, at the first hash.
 */
struct sha_state {
	int hw;
	union {
		mbedtls_sha256_context mb;
		struct sha256hw hw;
	} u;
};

_Static_assert(sizeof(struct sha_state) <= sizeof(struct crypto_sha256),
               "crypto_sha256 too small for the SHA-256 state");

static int use_hw = -1;

bool crypto_sha256_hardware(void)
{
	if (use_hw < 0) {
		const char *e = getenv("SYSTEMOTA_SHA");
		use_hw = sha256hw_engine() && !(e && strcmp(e, "generic") == 0);
	}
	return use_hw;
}

const char *crypto_sha256_engine(void)
{
	return crypto_sha256_hardware() ? sha256hw_engine() : "mbedtls";
}

void crypto_sha256_force_generic(bool generic)
{
	use_hw = generic ? 0 : -1; /* -1: choose again, as at start */
}

void crypto_sha256_init(struct crypto_sha256 *h)
{
	struct sha_state *s = (struct sha_state *)h->opaque;

	s->hw = crypto_sha256_hardware();
	if (s->hw) {
		sha256hw_init(&s->u.hw);
		return;
	}
	mbedtls_sha256_init(&s->u.mb);
	/* With a valid context and is224 = 0 these cannot fail in mbedTLS 2.28. */
	(void)mbedtls_sha256_starts_ret(&s->u.mb, 0);
}

void crypto_sha256_update(struct crypto_sha256 *h, const void *data, size_t len)
{
	struct sha_state *s = (struct sha_state *)h->opaque;

	if (s->hw)
		sha256hw_update(&s->u.hw, data, len);
	else
		(void)mbedtls_sha256_update_ret(&s->u.mb, data, len);
}

void crypto_sha256_final(struct crypto_sha256 *h, uint8_t out[CRYPTO_DIGEST_SIZE])
{
	struct sha_state *s = (struct sha_state *)h->opaque;

	if (s->hw) {
		sha256hw_final(&s->u.hw, out);
		return;
	}
	(void)mbedtls_sha256_finish_ret(&s->u.mb, out);
	mbedtls_sha256_free(&s->u.mb);
}

void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_DIGEST_SIZE])
{
	struct crypto_sha256 h;

	crypto_sha256_init(&h);
	crypto_sha256_update(&h, data, len);
	crypto_sha256_final(&h, out);
}

struct crypto_key {
	/* A pointer, because mbedtls_pk_verify() takes a non-const context even to read it. */
	mbedtls_pk_context *pk;
	uint8_t id[CRYPTO_KEY_ID_SIZE];
	int revoked;
	char name[64];
};

struct crypto_keyset {
	size_t n;
	struct crypto_key keys[CRYPTO_MAX_KEYS];
};

static int key_id(mbedtls_pk_context *pk, uint8_t ret_id[CRYPTO_KEY_ID_SIZE])
{
	uint8_t der[256];
	/* mbedtls_pk_write_pubkey_der writes at the end of the buffer and returns the length. */
	int n = mbedtls_pk_write_pubkey_der(pk, der, sizeof(der));
	if (n <= 0)
		return fail(-EBADMSG, "cannot encode public key (mbedTLS -0x%04x)", (unsigned)-n);
	crypto_sha256(der + sizeof(der) - n, (size_t)n, ret_id);
	return 0;
}

static int check_p256(mbedtls_pk_context *pk, const char *path)
{
	if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY ||
	    mbedtls_pk_ec(*pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1)
		return fail(-EBADMSG, "%s: not an EC P-256 key", path);
	return 0;
}

/* Key files are small; refuse anything else before mbedTLS reads it whole. */
static int check_key_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return fail(-errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > CRYPTO_MAX_KEY_FILE)
		return fail(-EBADMSG, "%s: not a regular key file of at most %d bytes", path,
		            CRYPTO_MAX_KEY_FILE);
	return 0;
}

static int load_public(const char *path, mbedtls_pk_context *pk)
{
	int r = check_key_file(path);
	if (r < 0)
		return r;
	mbedtls_pk_init(pk);
	r = mbedtls_pk_parse_public_keyfile(pk, path);
	if (r == 0)
		r = check_p256(pk, path);
	else
		r = fail(-EBADMSG, "%s: cannot parse public key (mbedTLS -0x%04x)", path,
		         (unsigned)-r);
	if (r < 0)
		mbedtls_pk_free(pk);
	return r;
}

static int load_private(const char *path, mbedtls_pk_context *pk)
{
	int r = check_key_file(path);
	if (r < 0)
		return r;
	mbedtls_pk_init(pk);
	r = mbedtls_pk_parse_keyfile(pk, path, NULL);
	if (r == 0)
		r = check_p256(pk, path);
	else
		r = fail(-EBADMSG, "%s: cannot parse private key (mbedTLS -0x%04x)", path,
		         (unsigned)-r);
	if (r < 0)
		mbedtls_pk_free(pk);
	return r;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Marks keys listed in dir/revoked. A missing file means nothing is revoked. */
static int load_revocations(struct crypto_keyset *kr, const char *dir)
{
	char path[4096], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/revoked", dir);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : fail(-errno, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		uint8_t id[CRYPTO_KEY_ID_SIZE];
		line[strcspn(line, " \t\r\n#")] = '\0';
		if (!line[0])
			continue;
		if (util_unhex(id, sizeof(id), line) < 0) {
			fclose(f);
			return fail(-EBADMSG, "%s: not a 64-digit key id: %s", path, line);
		}
		for (size_t i = 0; i < kr->n; i++)
			if (memcmp(kr->keys[i].id, id, sizeof(id)) == 0)
				kr->keys[i].revoked = 1;
	}
	fclose(f);
	return 0;
}

static int keyring_add(struct crypto_keyset *kr, const char *dir, const char *name)
{
	char path[4096];
	struct crypto_key *k = &kr->keys[kr->n];
	int r;

	if (kr->n == CRYPTO_MAX_KEYS)
		return fail(-EFBIG, "%s: more than %d keys", dir, CRYPTO_MAX_KEYS);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	k->pk = malloc(sizeof(*k->pk));
	if (!k->pk)
		return fail(-ENOMEM, "no memory for key %s", path);
	r = load_public(path, k->pk);
	if (r == 0) {
		r = key_id(k->pk, k->id);
		if (r < 0)
			mbedtls_pk_free(k->pk);
	}
	if (r < 0) {
		free(k->pk);
		return r;
	}
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->revoked = 0;
	kr->n++;
	return 0;
}

int crypto_keyset_load(const char *dir, struct crypto_keyset **ret)
{
	struct crypto_keyset *kr = calloc(1, sizeof(*kr));
	char *names[CRYPTO_MAX_KEYS + 1];
	size_t n = 0;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (!kr)
		return fail(-ENOMEM, "no memory for the key set");
	d = opendir(dir);
	if (!d) {
		int e = errno;
		free(kr);
		return fail(e == ENOENT ? -ENOKEY : -e, "key directory %s: %s", dir, strerror(e));
	}
	/* Sorted, so that key order (and so every message) is the same on every boot. */
	while ((de = readdir(d)) && n <= CRYPTO_MAX_KEYS)
		if (ends_with(de->d_name, ".pem"))
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			r = names[i] ? keyring_add(kr, dir, names[i]) : -ENOMEM;
		free(names[i]);
	}
	if (r == 0)
		r = load_revocations(kr, dir);
	if (r == 0 && kr->n == 0)
		r = fail(-ENOKEY, "key directory %s holds no *.pem public key", dir);
	if (r < 0) {
		crypto_keyset_free(kr);
		return r;
	}
	*ret = kr;
	return 0;
}

void crypto_keyset_free(struct crypto_keyset *kr)
{
	if (!kr)
		return;
	for (size_t i = 0; i < kr->n; i++) {
		mbedtls_pk_free(kr->keys[i].pk);
		free(kr->keys[i].pk);
	}
	free(kr);
}

size_t crypto_keyset_count(const struct crypto_keyset *kr)
{
	return kr->n;
}

void crypto_keyset_key(const struct crypto_keyset *kr, size_t i, uint8_t ret_id[CRYPTO_KEY_ID_SIZE],
                       int *ret_revoked, const char **ret_name)
{
	memcpy(ret_id, kr->keys[i].id, CRYPTO_KEY_ID_SIZE);
	*ret_revoked = kr->keys[i].revoked;
	*ret_name = kr->keys[i].name;
}

int crypto_verify(const struct crypto_keyset *kr, const uint8_t digest[CRYPTO_DIGEST_SIZE],
                  const uint8_t key_id_in[CRYPTO_KEY_ID_SIZE], const uint8_t *sig, size_t sig_len)
{
	char hex[2 * CRYPTO_KEY_ID_SIZE + 1];

	util_hex(hex, key_id_in, 8);
	for (size_t i = 0; i < kr->n; i++) {
		const struct crypto_key *k = &kr->keys[i];
		if (memcmp(k->id, key_id_in, CRYPTO_KEY_ID_SIZE) != 0)
			continue;
		if (k->revoked)
			return fail(-EKEYREVOKED, "signed by revoked key %s (%s)", hex, k->name);
		int r = mbedtls_pk_verify(k->pk, MBEDTLS_MD_SHA256, digest, CRYPTO_DIGEST_SIZE, sig,
		                          sig_len);
		if (r != 0)
			return fail(-EKEYREJECTED, "signature does not verify with key %s (%s)",
			            hex, k->name);
		return 0;
	}
	return fail(-ENOKEY, "signed by key %s, which is not trusted", hex);
}

struct rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

static int rng_init(struct rng *g)
{
	mbedtls_entropy_init(&g->entropy);
	mbedtls_ctr_drbg_init(&g->drbg);
	int r = mbedtls_ctr_drbg_seed(&g->drbg, mbedtls_entropy_func, &g->entropy,
	                              (const uint8_t *)"systemota", 9);
	return r ? fail(-EIO, "cannot seed random generator (mbedTLS -0x%04x)", (unsigned)-r) : 0;
}

static void rng_free(struct rng *g)
{
	mbedtls_ctr_drbg_free(&g->drbg);
	mbedtls_entropy_free(&g->entropy);
}

int crypto_sign(const char *key_path, const uint8_t digest[CRYPTO_DIGEST_SIZE],
                uint8_t sig[CRYPTO_SIG_MAX], size_t *ret_sig_len,
                uint8_t ret_key_id[CRYPTO_KEY_ID_SIZE])
{
	uint8_t buf[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	mbedtls_pk_context pk;
	struct rng g;
	size_t len = 0;
	int r;

	r = load_private(key_path, &pk);
	if (r < 0)
		return r;
	r = rng_init(&g);
	if (r == 0) {
		/* The RNG only blinds the computation; MBEDTLS_ECDSA_DETERMINISTIC picks k. */
		r = mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, digest, CRYPTO_DIGEST_SIZE, buf, &len,
		                    mbedtls_ctr_drbg_random, &g.drbg);
		if (r != 0 || len > CRYPTO_SIG_MAX)
			r = fail(-EIO, "signing failed (mbedTLS -0x%04x)", (unsigned)-r);
		rng_free(&g);
	}
	if (r == 0)
		r = key_id(&pk, ret_key_id);
	mbedtls_pk_free(&pk);
	if (r < 0)
		return r;
	memcpy(sig, buf, len);
	*ret_sig_len = len;
	return 0;
}

int crypto_key_id_of_file(const char *path, uint8_t ret_id[CRYPTO_KEY_ID_SIZE])
{
	mbedtls_pk_context pk;
	int r = load_public(path, &pk);

	if (r < 0) {
		r = load_private(path, &pk);
		if (r < 0)
			return fail(r, "%s: neither a public nor a private P-256 key", path);
	}
	r = key_id(&pk, ret_id);
	mbedtls_pk_free(&pk);
	return r;
}

/* A pk context holding the P-256 public key point (X || Y). */
static int pk_of_point(const uint8_t point[CRYPTO_POINT_SIZE], mbedtls_pk_context *pk)
{
	uint8_t sec1[1 + CRYPTO_POINT_SIZE] = {0x04};
	mbedtls_ecp_keypair *ec;
	int r;

	mbedtls_pk_init(pk);
	r = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (r != 0) {
		mbedtls_pk_free(pk);
		return fail(-ENOMEM, "no memory for a public key (mbedTLS -0x%04x)", (unsigned)-r);
	}
	ec = mbedtls_pk_ec(*pk);
	memcpy(sec1 + 1, point, CRYPTO_POINT_SIZE);
	r = mbedtls_ecp_group_load(&ec->grp, MBEDTLS_ECP_DP_SECP256R1);
	if (r == 0)
		r = mbedtls_ecp_point_read_binary(&ec->grp, &ec->Q, sec1, sizeof(sec1));
	if (r == 0)
		r = mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q);
	if (r != 0) {
		mbedtls_pk_free(pk);
		return fail(-EBADMSG, "not a P-256 public key (mbedTLS -0x%04x)", (unsigned)-r);
	}
	return 0;
}

int crypto_point_id(const uint8_t point[CRYPTO_POINT_SIZE], uint8_t ret_id[CRYPTO_KEY_ID_SIZE])
{
	mbedtls_pk_context pk;
	int r = pk_of_point(point, &pk);

	if (r < 0)
		return r;
	r = key_id(&pk, ret_id);
	mbedtls_pk_free(&pk);
	return r;
}

int crypto_verify_point(const uint8_t point[CRYPTO_POINT_SIZE],
                        const uint8_t digest[CRYPTO_DIGEST_SIZE], const uint8_t *sig,
                        size_t sig_len)
{
	mbedtls_pk_context pk;
	int r = pk_of_point(point, &pk);

	if (r < 0)
		return r;
	r = mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, digest, CRYPTO_DIGEST_SIZE, sig, sig_len);
	mbedtls_pk_free(&pk);
	return r ? -EKEYREJECTED : 0;
}

int crypto_point_of_file(const char *path, uint8_t ret_point[CRYPTO_POINT_SIZE],
                         uint8_t ret_id[CRYPTO_KEY_ID_SIZE])
{
	uint8_t sec1[1 + CRYPTO_POINT_SIZE];
	mbedtls_pk_context pk;
	size_t len = 0;
	int r = load_public(path, &pk);

	if (r < 0) {
		r = load_private(path, &pk);
		if (r < 0)
			return fail(r, "%s: neither a public nor a private P-256 key", path);
	}
	r = mbedtls_ecp_point_write_binary(&mbedtls_pk_ec(pk)->grp, &mbedtls_pk_ec(pk)->Q,
	                                   MBEDTLS_ECP_PF_UNCOMPRESSED, &len, sec1, sizeof(sec1));
	if (r != 0 || len != sizeof(sec1))
		r = fail(-EBADMSG, "%s: cannot export the public point", path);
	else
		r = key_id(&pk, ret_id);
	mbedtls_pk_free(&pk);
	if (r == 0)
		memcpy(ret_point, sec1 + 1, CRYPTO_POINT_SIZE);
	return r;
}

static int write_new_file(const char *path, const uint8_t *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return fail(-errno, "%s: %s", path, strerror(errno));
	ssize_t n = write(fd, buf, len);
	int r = n == (ssize_t)len && fsync(fd) == 0 ? 0 : -EIO;
	close(fd);
	return r < 0 ? fail(r, "%s: write failed", path) : 0;
}

int crypto_keygen(const char *private_path, const char *public_path)
{
	uint8_t buf[1024];
	mbedtls_pk_context pk;
	struct rng g;
	int r;

	mbedtls_pk_init(&pk);
	r = rng_init(&g);
	if (r < 0)
		return r;
	r = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (r == 0)
		r = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
		                        mbedtls_ctr_drbg_random, &g.drbg);
	if (r == 0)
		r = mbedtls_pk_write_key_pem(&pk, buf, sizeof(buf));
	if (r != 0)
		r = fail(-EIO, "key generation failed (mbedTLS -0x%04x)", (unsigned)-r);
	if (r == 0)
		r = write_new_file(private_path, buf, strlen((char *)buf), 0600);
	if (r == 0) {
		r = mbedtls_pk_write_pubkey_pem(&pk, buf, sizeof(buf));
		if (r != 0)
			r = fail(-EIO, "public key export failed (mbedTLS -0x%04x)", (unsigned)-r);
		else
			r = write_new_file(public_path, buf, strlen((char *)buf), 0644);
	}
	mbedtls_platform_zeroize(buf, sizeof(buf));
	mbedtls_pk_free(&pk);
	rng_free(&g);
	return r;
}
