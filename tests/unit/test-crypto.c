/* SPDX-License-Identifier: MIT */
/*
 * crypto.h: SHA-256 known answers, and ECDSA P-256 signing and verification
 * against a key set directory, with every refusal's exact code.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "crypto.h"
#include "test.h"
#include "util.h"

static int digest_is(const uint8_t d[CRYPTO_DIGEST_SIZE], const char *hex)
{
	char got[2 * CRYPTO_DIGEST_SIZE + 1];

	util_hex(got, d, CRYPTO_DIGEST_SIZE);
	if (strcmp(got, hex) == 0)
		return 1;
	fprintf(stderr, "  digest %s\n  wanted %s\n", got, hex);
	return 0;
}

/* FIPS 180-2, appendix B. */
TEST(crypto_sha256_known_answers)
{
	uint8_t d[CRYPTO_DIGEST_SIZE];

	crypto_sha256("abc", 3, d);
	CHECK(digest_is(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	crypto_sha256("", 0, d);
	CHECK(digest_is(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	crypto_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
	CHECK(digest_is(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
}

TEST(crypto_sha256_streamed_million_a)
{
	static const size_t pieces[] = {1, 7, 63, 64, 65, 1000, 4093, 127};
	static uint8_t a[5000];
	struct crypto_sha256 h;
	uint8_t d[CRYPTO_DIGEST_SIZE], whole[CRYPTO_DIGEST_SIZE];
	size_t done = 0;

	memset(a, 'a', sizeof(a));
	crypto_sha256_init(&h);
	for (size_t i = 0; done < 1000000; i++) {
		size_t n = pieces[i % ARRAY_SIZE(pieces)];
		if (n > 1000000 - done)
			n = 1000000 - done;
		crypto_sha256_update(&h, a, n);
		done += n;
	}
	crypto_sha256_update(&h, a, 0); /* an empty update changes nothing */
	crypto_sha256_final(&h, d);
	CHECK(digest_is(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));

	/* Streaming the two-block message byte by byte gives the one-shot answer. */
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	crypto_sha256_init(&h);
	for (size_t i = 0; m[i]; i++)
		crypto_sha256_update(&h, m + i, 1);
	crypto_sha256_final(&h, d);
	crypto_sha256(m, strlen(m), whole);
	CHECK(memcmp(d, whole, sizeof(d)) == 0);
}

/* ---- keys ---- */

struct keys {
	char priv[2][512]; /* outside every ring */
	char ring1[512];   /* key 1's public key */
	char ring2[512];   /* key 2's public key only */
	char ring12[512];  /* both */
	uint8_t id[2][CRYPTO_KEY_ID_SIZE];
};

static int copy_file(const char *from, const char *to)
{
	char buf[4096];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	n = out < 0 ? -1 : read(in, buf, sizeof(buf));
	int r = n > 0 && write(out, buf, (size_t)n) == n ? 0 : -EIO;
	close(in);
	if (out >= 0)
		close(out);
	return r;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	int r = fputs(text, f) >= 0 ? 0 : -EIO;
	return fclose(f) == 0 ? r : -EIO;
}

/* Two fresh key pairs, and three key sets made of their public halves. */
static int make_keys(struct keys *k)
{
	const char *rings[] = {"ring1", "ring2", "ring12"};
	char *ring_paths[] = {k->ring1, k->ring2, k->ring12};
	char pub[2][512], to[600];
	int r;

	for (int i = 0; i < 3; i++) {
		snprintf(ring_paths[i], sizeof(k->ring1), "%s", test_path(rings[i]));
		if (mkdir(ring_paths[i], 0755) < 0)
			return -errno;
	}
	for (int i = 0; i < 2; i++) {
		snprintf(k->priv[i], sizeof(k->priv[i]), "%s/key%d.key", test_tmpdir(), i + 1);
		snprintf(pub[i], sizeof(pub[i]), "%s/key%d.pem", test_tmpdir(), i + 1);
		r = crypto_keygen(k->priv[i], pub[i]);
		if (r == 0)
			r = crypto_key_id_of_file(pub[i], k->id[i]);
		if (r < 0)
			return r;
		snprintf(to, sizeof(to), "%s/key%d.pem", i ? k->ring2 : k->ring1, i + 1);
		r = copy_file(pub[i], to);
		snprintf(to, sizeof(to), "%s/key%d.pem", k->ring12, i + 1);
		if (r == 0)
			r = copy_file(pub[i], to);
		if (r < 0)
			return r;
	}
	return 0;
}

static int verify_in(const char *ring, const uint8_t digest[CRYPTO_DIGEST_SIZE],
                     const uint8_t id[CRYPTO_KEY_ID_SIZE], const uint8_t *sig, size_t len)
{
	struct crypto_keyset *kr;
	int r = crypto_keyset_load(ring, &kr);

	if (r < 0)
		return r;
	r = crypto_verify(kr, digest, id, sig, len);
	crypto_keyset_free(kr);
	return r;
}

/* Hashes data in pieces cut at the given points, with the current implementation. */
static void hash_split(const uint8_t *data, size_t len, size_t cut1, size_t cut2,
                       uint8_t out[CRYPTO_DIGEST_SIZE])
{
	struct crypto_sha256 h;

	crypto_sha256_init(&h);
	crypto_sha256_update(&h, data, cut1);
	crypto_sha256_update(&h, data + cut1, cut2 - cut1);
	crypto_sha256_update(&h, data + cut2, len - cut2);
	crypto_sha256_final(&h, out);
}

/*
 * The SHA extensions path (shani.c) against mbedTLS: every length around the
 * block and padding boundaries, then random lengths cut at random points.
 */
TEST(crypto_sha256_hardware_matches_mbedtls)
{
	static uint8_t data[20000];
	uint32_t seed = 12345;
	bool hw = crypto_sha256_hardware();

	if (!hw)
		fprintf(stderr, "  (no SHA extensions on this CPU: generic against generic)\n");
	for (size_t i = 0; i < sizeof(data); i++) {
		seed = seed * 1103515245 + 12345;
		data[i] = (uint8_t)(seed >> 16);
	}
	for (int round = 0; round < 600; round++) {
		size_t len;
		if (round < 200)
			len = (size_t)round;
		else {
			seed = seed * 1103515245 + 12345;
			len = (seed >> 8) % sizeof(data);
		}
		seed = seed * 1103515245 + 12345;
		size_t cut1 = len ? (seed >> 8) % (len + 1) : 0;
		seed = seed * 1103515245 + 12345;
		size_t cut2 = cut1 + (len - cut1 ? (seed >> 8) % (len - cut1 + 1) : 0);
		uint8_t a[CRYPTO_DIGEST_SIZE], b[CRYPTO_DIGEST_SIZE];

		crypto_sha256_force_generic(false);
		hash_split(data, len, cut1, cut2, a);
		crypto_sha256_force_generic(true);
		hash_split(data, len, 0, 0, b);
		crypto_sha256_force_generic(false);
		if (memcmp(a, b, sizeof(a)) != 0) {
			fprintf(stderr, "  length %zu cut at %zu and %zu\n", len, cut1, cut2);
			CHECK(!"hardware and mbedTLS SHA-256 differ");
			break;
		}
	}
	CHECK(crypto_sha256_hardware() == hw);
}

/*
 * Past 2^32 bits (512 MiB + 3 bytes, in 1 MiB pieces): the message length in
 * the padding needs all 64 bits. About 2 s; not under valgrind (minutes).
 */
TEST(crypto_sha256_hardware_long_message_matches_mbedtls)
{
	static uint8_t data[1 << 20];
	uint8_t a[CRYPTO_DIGEST_SIZE], b[CRYPTO_DIGEST_SIZE];

	if (!crypto_sha256_hardware() || RUNNING_ON_VALGRIND) {
		fprintf(stderr, "  (skipped: %s)\n",
		        RUNNING_ON_VALGRIND ? "under valgrind" : "no SHA instructions on this CPU");
		return;
	}
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + (i >> 12));
	for (int generic = 0; generic <= 1; generic++) {
		struct crypto_sha256 h;

		crypto_sha256_force_generic(generic);
		crypto_sha256_init(&h);
		for (int i = 0; i < 512; i++)
			crypto_sha256_update(&h, data, sizeof(data));
		crypto_sha256_update(&h, data, 3);
		crypto_sha256_final(&h, generic ? b : a);
	}
	crypto_sha256_force_generic(false);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
}

TEST(crypto_keygen_and_key_ids)
{
	struct keys k;
	uint8_t id_priv[CRYPTO_KEY_ID_SIZE];
	struct stat st;

	REQUIRE(make_keys(&k) == 0);
	/* The private and the public file name the same key; the two keys differ. */
	REQUIRE(crypto_key_id_of_file(k.priv[0], id_priv) == 0);
	CHECK(memcmp(id_priv, k.id[0], CRYPTO_KEY_ID_SIZE) == 0);
	CHECK(memcmp(k.id[0], k.id[1], CRYPTO_KEY_ID_SIZE) != 0);
	REQUIRE(stat(k.priv[0], &st) == 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	/* keygen never overwrites a key. */
	CHECK_EQ(crypto_keygen(k.priv[0], test_path("other.pem")), -EEXIST);
	CHECK_EQ(crypto_key_id_of_file(test_path("missing.pem"), id_priv), -ENOENT);
}

TEST(crypto_sign_and_verify)
{
	struct keys k;
	uint8_t digest[CRYPTO_DIGEST_SIZE], other[CRYPTO_DIGEST_SIZE];
	uint8_t sig[CRYPTO_SIG_MAX], sig2[CRYPTO_SIG_MAX + 1], id[CRYPTO_KEY_ID_SIZE];
	size_t len, len2;

	REQUIRE(make_keys(&k) == 0);
	crypto_sha256("the signed manifest", 19, digest);
	crypto_sha256("another manifest", 16, other);
	REQUIRE(crypto_sign(k.priv[0], digest, sig, &len, id) == 0);
	CHECK(len > 8 && len <= CRYPTO_SIG_MAX);
	CHECK(memcmp(id, k.id[0], CRYPTO_KEY_ID_SIZE) == 0);

	CHECK_EQ(verify_in(k.ring1, digest, id, sig, len), 0);
	CHECK_EQ(verify_in(k.ring12, digest, id, sig, len), 0);
	/* Not in the ring. */
	CHECK_EQ(verify_in(k.ring2, digest, id, sig, len), -ENOKEY);
	/* The wrong digest. */
	CHECK_EQ(verify_in(k.ring1, other, id, sig, len), -EKEYREJECTED);
	/* Claimed to be key 2's: it is in the ring, the signature does not match it. */
	CHECK_EQ(verify_in(k.ring12, digest, k.id[1], sig, len), -EKEYREJECTED);
	/* Cut short, or with a byte more. */
	CHECK_EQ(verify_in(k.ring1, digest, id, sig, len - 1), -EKEYREJECTED);
	memcpy(sig2, sig, len);
	sig2[len] = 0;
	CHECK_EQ(verify_in(k.ring1, digest, id, sig2, len + 1), -EKEYREJECTED);

	/* Deterministic (RFC 6979): the same key and digest, the same bytes. */
	REQUIRE(crypto_sign(k.priv[0], digest, sig2, &len2, id) == 0);
	CHECK_EQ(len2, len);
	CHECK(memcmp(sig, sig2, len) == 0);
	/* Key 2 signs differently, and verifies with its own id. */
	REQUIRE(crypto_sign(k.priv[1], digest, sig2, &len2, id) == 0);
	CHECK(memcmp(id, k.id[1], CRYPTO_KEY_ID_SIZE) == 0);
	CHECK(len2 != len || memcmp(sig, sig2, len) != 0);
	CHECK_EQ(verify_in(k.ring12, digest, id, sig2, len2), 0);
	CHECK_EQ(verify_in(k.ring1, digest, id, sig2, len2), -ENOKEY);
}

TEST(crypto_every_corrupted_signature_byte_is_rejected)
{
	struct keys k;
	struct crypto_keyset *kr;
	uint8_t digest[CRYPTO_DIGEST_SIZE], sig[CRYPTO_SIG_MAX], id[CRYPTO_KEY_ID_SIZE];
	size_t len;

	REQUIRE(make_keys(&k) == 0);
	crypto_sha256("abc", 3, digest);
	REQUIRE(crypto_sign(k.priv[0], digest, sig, &len, id) == 0);
	REQUIRE(crypto_keyset_load(k.ring1, &kr) == 0);
	REQUIRE(crypto_verify(kr, digest, id, sig, len) == 0);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			sig[i] ^= (uint8_t)(1 << bit);
			int r = crypto_verify(kr, digest, id, sig, len);
			sig[i] ^= (uint8_t)(1 << bit);
			if (r != -EKEYREJECTED) {
				fprintf(stderr, "  byte %zu bit %d: %d\n", i, bit, r);
				CHECK_EQ(r, -EKEYREJECTED);
			}
		}
	}
	/* The digest too: one flipped bit anywhere. */
	for (size_t i = 0; i < sizeof(digest); i += 5) {
		digest[i] ^= 0x80;
		CHECK_EQ(crypto_verify(kr, digest, id, sig, len), -EKEYREJECTED);
		digest[i] ^= 0x80;
	}
	crypto_keyset_free(kr);
}

TEST(crypto_revoked_key)
{
	struct keys k;
	uint8_t digest[CRYPTO_DIGEST_SIZE], sig[2][CRYPTO_SIG_MAX], id[2][CRYPTO_KEY_ID_SIZE];
	char hex[2 * CRYPTO_KEY_ID_SIZE + 1], text[300], path[600];
	size_t len[2];
	struct crypto_keyset *kr;

	REQUIRE(make_keys(&k) == 0);
	crypto_sha256("abc", 3, digest);
	for (int i = 0; i < 2; i++)
		REQUIRE(crypto_sign(k.priv[i], digest, sig[i], &len[i], id[i]) == 0);
	util_hex(hex, k.id[0], CRYPTO_KEY_ID_SIZE);
	snprintf(text, sizeof(text), "# rotated out in 2024\n\n%s  # key 1\n", hex);
	snprintf(path, sizeof(path), "%s/revoked", k.ring12);
	REQUIRE(write_text(path, text) == 0);

	REQUIRE(crypto_keyset_load(k.ring12, &kr) == 0);
	CHECK_EQ(crypto_keyset_count(kr), 2);
	for (size_t i = 0; i < crypto_keyset_count(kr); i++) {
		uint8_t kid[CRYPTO_KEY_ID_SIZE];
		const char *name;
		int revoked;
		crypto_keyset_key(kr, i, kid, &revoked, &name);
		/* Sorted by file name: key1.pem, then key2.pem. */
		CHECK_EQ(strcmp(name, i ? "key2.pem" : "key1.pem"), 0);
		CHECK(memcmp(kid, k.id[i], CRYPTO_KEY_ID_SIZE) == 0);
		CHECK_EQ(revoked, i == 0);
	}
	/* Revoked, not merely unknown: even a valid signature is refused. */
	CHECK_EQ(crypto_verify(kr, digest, id[0], sig[0], len[0]), -EKEYREVOKED);
	CHECK_EQ(crypto_verify(kr, digest, id[1], sig[1], len[1]), 0);
	crypto_keyset_free(kr);

	/* A revoked file that is not a list of key ids is an error, not "nothing revoked". */
	REQUIRE(write_text(path, "not-a-key-id\n") == 0);
	CHECK_EQ(crypto_keyset_load(k.ring12, &kr), -EBADMSG);
}

TEST(crypto_keyset_load_refusals)
{
	struct crypto_keyset *kr = NULL;
	char dir[512], path[600];

	/* A directory with no *.pem: no key. */
	snprintf(dir, sizeof(dir), "%s", test_path("empty"));
	REQUIRE(mkdir(dir, 0755) == 0);
	snprintf(path, sizeof(path), "%s/key1.pub", dir);
	REQUIRE(write_text(path, "not a pem name\n") == 0);
	CHECK_EQ(crypto_keyset_load(dir, &kr), -ENOKEY);
	CHECK_EQ(crypto_keyset_load(test_path("missing"), &kr), -ENOKEY);

	/* A *.pem that is garbage fails the whole ring. */
	snprintf(path, sizeof(path), "%s/garbage.pem", dir);
	REQUIRE(write_text(path, "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n"
	                         "-----END PUBLIC KEY-----\n") == 0);
	CHECK_EQ(crypto_keyset_load(dir, &kr), -EBADMSG);
	REQUIRE(write_text(path, "") == 0);
	CHECK_EQ(crypto_keyset_load(dir, &kr), -EBADMSG);

	/* A private key is not a trusted public key. */
	struct keys k;
	REQUIRE(make_keys(&k) == 0);
	snprintf(path, sizeof(path), "%s/private.pem", k.ring2);
	REQUIRE(copy_file(k.priv[0], path) == 0);
	CHECK_EQ(crypto_keyset_load(k.ring2, &kr), -EBADMSG);
	CHECK(kr == NULL);
}
