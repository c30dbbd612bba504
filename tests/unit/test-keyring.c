/* SPDX-License-Identifier: MIT */
/*
 * keyring.h: the document's parser (every rule, one malformed copy each), the
 * chain walk from the initramfs's roots or an adopted keyring, and the bundle
 * judgement, with every refusal's exact code. The field story of issue 13 in
 * miniature: keyring 1 (root R1, signing K1), 2 (K1, K2), 3 (K2, revokes K1),
 * 4 (R1 hands over to R2), 5 (signed by R2).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "fail.h"
#include "helpers.h"
#include "keyring.h"
#include "test.h"
#include "util.h"

struct cast {
	struct helpers_key r1, r2, k1, k2;
	uint8_t pr1[CRYPTO_POINT_SIZE], pr2[CRYPTO_POINT_SIZE];
	uint8_t pk1[CRYPTO_POINT_SIZE], pk2[CRYPTO_POINT_SIZE];
	uint8_t id_k1[CRYPTO_KEY_ID_SIZE], id_k2[CRYPTO_KEY_ID_SIZE];
	struct crypto_keyset *roots; /* the initramfs: R1 */
};

static int cast_make(struct cast *c)
{
	uint8_t id[CRYPTO_KEY_ID_SIZE];
	int r = helpers_trusted_key("r1", &c->r1, &c->roots);

	if (r == 0)
		r = helpers_keypair("r2", &c->r2);
	if (r == 0)
		r = helpers_keypair("k1", &c->k1);
	if (r == 0)
		r = helpers_keypair("k2", &c->k2);
	if (r == 0)
		r = crypto_point_of_file(c->r1.pub, c->pr1, id);
	if (r == 0)
		r = crypto_point_of_file(c->r2.pub, c->pr2, id);
	if (r == 0)
		r = crypto_point_of_file(c->k1.pub, c->pk1, c->id_k1);
	if (r == 0)
		r = crypto_point_of_file(c->k2.pub, c->pk2, c->id_k2);
	return r;
}

static void cast_free(struct cast *c)
{
	crypto_keyset_free(c->roots);
}

static void add_key(struct keyring *k, uint8_t role, const uint8_t point[CRYPTO_POINT_SIZE],
                    uint64_t until)
{
	struct keyring_key *e = &k->keys[k->n_keys++];

	e->role = role;
	e->until_version = until;
	memcpy(e->point, point, CRYPTO_POINT_SIZE);
}

/* The story's keyrings: version v, signed by signer. */
static int story(const struct cast *c, uint64_t v, const char *signer, struct keyring *k)
{
	memset(k, 0, sizeof(*k));
	k->version = v;
	k->created = 1700000000 + v;
	add_key(k, KEYRING_ROOT, v >= 4 ? c->pr2 : c->pr1, 0);
	if (v <= 2)
		add_key(k, KEYRING_SIGNING, c->pk1, 0);
	if (v >= 2)
		add_key(k, KEYRING_SIGNING, c->pk2, 0);
	if (v >= 3)
		memcpy(k->revoked[k->n_revoked++], c->id_k1, CRYPTO_KEY_ID_SIZE);
	return keyring_sign(k, signer);
}

TEST(keyring_round_trip)
{
	struct cast c = {0};
	struct keyring k, p;

	REQUIRE(cast_make(&c) == 0);
	REQUIRE(story(&c, 3, c.r1.priv, &k) == 0);
	CHECK(k.size == 64 + 2 * 80 + 32 + 128);
	REQUIRE(keyring_parse(k.raw, k.size, &p) == 0);
	CHECK(p.version == 3 && p.n_keys == 2 && p.n_revoked == 1);
	CHECK(memcmp(p.digest, k.digest, CRYPTO_DIGEST_SIZE) == 0);
	CHECK(memcmp(p.keys[1].id, c.id_k2, CRYPTO_KEY_ID_SIZE) == 0);
	CHECK(keyring_revokes(&p, c.id_k1) && !keyring_find(&p, c.id_k1));
	CHECK(keyring_find(&p, c.id_k2)->role == KEYRING_SIGNING);
	/* A longer buffer is fine (the document says its size); a shorter one is not. */
	uint8_t big[KEYRING_MAX_SIZE + 10] = {0};
	memcpy(big, k.raw, k.size);
	CHECK(keyring_parse(big, sizeof(big), &p) == 0 && p.size == k.size);
	CHECK(keyring_parse(k.raw, k.size - 1u, &p) == -EBADMSG);
	cast_free(&c);
}

/* One byte-level change of a valid document, and what the parser must say. */
struct mutation {
	const char *what;
	size_t off;
	uint8_t value;
	const char *reason;
};

TEST(keyring_parse_refuses_every_malformed_field)
{
	static const struct mutation m[] = {
	        {"bad magic", 0, 'X', "bad magic"},
	        {"format 2", 8, 2, "unsupported format"},
	        {"size off by one", 12, 0xd1, "size 465"},
	        {"version 0", 16, 0, "version 0"}, /* version 3: its low byte */
	        {"no keys", 32, 0, "keys (1..8)"},
	        {"nine keys", 32, 9, "keys (1..8)"},
	        {"25 revoked", 33, 25, "revoked keys"},
	        {"reserved header byte", 40, 1, "reserved header"},
	        {"unknown role", 64, 3, "unknown role"},
	        {"reserved key byte", 65, 1, "reserved bytes"},
	        {"a root with until_version", 64 + 8, 5, "root key 0 has an until_version"},
	        {"a point off the curve", 64 + 16 + 63, 0x55, "not a P-256 public key"},
	        {"no root", 64, KEYRING_SIGNING, "no root key"},
	        {"sig_len 0", 64 + 3 * 80 + 32 + 32, 0, "signature length"},
	        {"sig_len 73", 64 + 3 * 80 + 32 + 32, 73, "signature length"},
	        {"garbage after the signature", 64 + 3 * 80 + 32 + 127, 1, "after the signature"},
	};
	struct cast c = {0};
	struct keyring k, p;

	REQUIRE(cast_make(&c) == 0);
	REQUIRE(story(&c, 3, c.r1.priv, &k) == 0);
	/* Three keys: R1, K2, and K1 moved from revoked to listed below for "listed twice". */
	k.n_revoked = 0;
	add_key(&k, KEYRING_SIGNING, c.pk2, 0);
	memcpy(k.revoked[k.n_revoked++], c.id_k1, CRYPTO_KEY_ID_SIZE);
	k.sig_len = 0;
	REQUIRE(keyring_encode(&k) == 0);
	/* The duplicate K2 is refused as such; fix it to K1 and the rest of the cases hold. */
	uint8_t doc[KEYRING_MAX_SIZE];
	size_t size = 64 + 3 * 80 + 32 + 128;
	memcpy(doc, k.raw, size);
	doc[64 + 3 * 80 + 32 + 32] = 70; /* a plausible sig_len, zeros after it: parses */
	CHECK(keyring_parse(doc, size, &p) == -EBADMSG);
	CHECK(strstr(fail_reason(), "key 2 is listed twice"));
	memcpy(doc + 64 + 2 * 80 + 16, c.pk1, CRYPTO_POINT_SIZE);
	CHECK(keyring_parse(doc, size, &p) == -EBADMSG);
	CHECK(strstr(fail_reason(), "both listed and revoked"));
	memset(doc + 64 + 3 * 80, 0xff, 32); /* revoke an id nobody lists: now valid */
	REQUIRE(keyring_parse(doc, size, &p) == 0);
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		uint8_t bad[KEYRING_MAX_SIZE];
		memcpy(bad, doc, size);
		bad[m[i].off] = m[i].value;
		int r = keyring_parse(bad, size, &p);
		if (r != -EBADMSG || !strstr(fail_reason(), m[i].reason))
			fprintf(stderr, "  %s: %d, %s\n", m[i].what, r, fail_reason());
		CHECK(r == -EBADMSG && strstr(fail_reason(), m[i].reason));
	}
	cast_free(&c);
}

TEST(keyring_parse_refuses_unsorted_revocations_and_truncation)
{
	struct cast c = {0};
	struct keyring k, p;

	REQUIRE(cast_make(&c) == 0);
	REQUIRE(story(&c, 2, c.r1.priv, &k) == 0);
	k.n_revoked = 2;
	memset(k.revoked[0], 0x22, CRYPTO_KEY_ID_SIZE);
	memset(k.revoked[1], 0x11, CRYPTO_KEY_ID_SIZE);
	CHECK(keyring_sign(&k, c.r1.priv) == -EBADMSG);
	CHECK(strstr(fail_reason(), "strictly ascending"));
	memset(k.revoked[1], 0x22, CRYPTO_KEY_ID_SIZE); /* a duplicate is not ascending either */
	CHECK(keyring_sign(&k, c.r1.priv) == -EBADMSG);
	memset(k.revoked[1], 0x33, CRYPTO_KEY_ID_SIZE);
	REQUIRE(keyring_sign(&k, c.r1.priv) == 0);
	for (size_t n = 0; n < k.size; n++)
		if (keyring_parse(k.raw, n, &p) != -EBADMSG) {
			fprintf(stderr, "  truncated to %zu: parsed\n", n);
			CHECK(0);
			break;
		}
	cast_free(&c);
}

TEST(keyring_chain_parse)
{
	struct cast c = {0};
	struct keyring k[3], chain[KEYRING_MAX_CHAIN];
	uint8_t buf[3 * KEYRING_MAX_SIZE];
	size_t len = 0, n = 0;

	REQUIRE(cast_make(&c) == 0);
	for (int i = 0; i < 3; i++) {
		REQUIRE(story(&c, (uint64_t)i + 1, c.r1.priv, &k[i]) == 0);
		memcpy(buf + len, k[i].raw, k[i].size);
		len += k[i].size;
	}
	REQUIRE(keyring_parse_chain(buf, len, chain, &n) == 0);
	CHECK(n == 3 && chain[2].version == 3);
	CHECK(keyring_parse_chain(buf, 0, chain, &n) == -EBADMSG);
	CHECK(keyring_parse_chain(buf, len - 1, chain, &n) == -EBADMSG);
	/* 1, 2, 3 then 1 again: not ascending. */
	memcpy(buf + len, k[0].raw, k[0].size);
	CHECK(keyring_parse_chain(buf, len + k[0].size, chain, &n) == -EBADMSG);
	CHECK(strstr(fail_reason(), "version 1 after 3"));
	cast_free(&c);
}

/* Walks chain from adopted (or the initramfs's R1) and judges a bundle signed by key. */
static int judge(const struct cast *c, const struct keyring *adopted, const struct keyring *chain,
                 size_t n, const struct helpers_key *key, uint64_t version)
{
	const struct keyring *eff = NULL;
	uint8_t digest[CRYPTO_DIGEST_SIZE], sig[CRYPTO_SIG_MAX], id[CRYPTO_KEY_ID_SIZE];
	size_t sig_len = 0;
	int r;

	crypto_sha256(&version, sizeof(version), digest);
	r = crypto_sign(key->priv, digest, sig, &sig_len, id);
	if (r == 0)
		r = keyring_judge(adopted, c->roots, chain, n, version, digest, id, sig, sig_len,
		                  &eff);
	if (r == 0 && eff != &chain[n - 1] && eff != adopted)
		r = -EFAULT; /* the effective keyring is the chain's last link or the adopted one */
	return r;
}

TEST(keyring_field_story)
{
	struct cast c = {0};
	struct keyring k[6], forged;

	REQUIRE(cast_make(&c) == 0);
	for (int v = 1; v <= 3; v++)
		REQUIRE(story(&c, (uint64_t)v, c.r1.priv, &k[v]) == 0);
	REQUIRE(story(&c, 4, c.r1.priv, &k[4]) == 0); /* R1 names R2: the rotation */
	REQUIRE(story(&c, 5, c.r2.priv, &k[5]) == 0);

	/* No keyring adopted: the initramfs's R1 judges keyring 1. */
	CHECK(judge(&c, NULL, &k[1], 1, &c.k1, 10) == 0);
	CHECK(judge(&c, NULL, &k[1], 1, &c.k2, 10) == -ENOKEY);
	CHECK(judge(&c, NULL, &k[1], 1, &c.r1, 10) == -ENOKEY); /* a root signs no bundle */
	CHECK(strstr(fail_reason(), "not a signing key"));
	/* Keyring 2 adopted: K2 is trusted, so is K1 still. */
	CHECK(judge(&c, &k[1], &k[2], 1, &c.k2, 11) == 0);
	CHECK(judge(&c, &k[2], &k[2], 1, &c.k1, 11) == 0);
	/* Keyring 3 revokes K1: refused with it, and with a replayed keyring 2 too. */
	CHECK(judge(&c, &k[2], &k[3], 1, &c.k1, 12) == -EKEYREVOKED);
	CHECK(judge(&c, &k[3], &k[3], 1, &c.k1, 12) == -EKEYREVOKED);
	CHECK(judge(&c, &k[3], &k[2], 1, &c.k1, 12) == -EKEYREVOKED);
	CHECK(strstr(fail_reason(), "signed by revoked key") && strstr(fail_reason(), "device's"));
	/* The old keyring with a key it still trusts: refused as older. */
	CHECK(judge(&c, &k[3], &k[2], 1, &c.k2, 12) == -ESTALE);
	/* A device offline since keyring 1 follows 2..5 from one bundle, root rotation included. */
	CHECK(judge(&c, &k[1], &k[2], 4, &c.k2, 13) == 0);
	CHECK(judge(&c, NULL, &k[1], 5, &c.k2, 13) == 0);
	/* After the rotation R1 signs nothing: a keyring 6 by R1 is refused. */
	REQUIRE(story(&c, 6, c.r1.priv, &forged) == 0);
	CHECK(judge(&c, &k[5], &forged, 1, &c.k2, 14) == -ENOKEY);
	CHECK(strstr(fail_reason(), "not a root of keyring 5"));
	/* A broken link: 5 (by R2) straight after 3 (which knows only R1). */
	CHECK(judge(&c, &k[3], &k[5], 1, &c.k2, 14) == -ENOKEY);
	CHECK(strstr(fail_reason(), "broken chain"));
	cast_free(&c);
}

TEST(keyring_chain_rules)
{
	struct cast c = {0};
	struct keyring k[4], bad;

	REQUIRE(cast_make(&c) == 0);
	for (int v = 1; v <= 3; v++)
		REQUIRE(story(&c, (uint64_t)v, c.r1.priv, &k[v]) == 0);
	/* Keyring 4 signed by the signing key K2 instead of a root. */
	REQUIRE(story(&c, 4, c.k2.priv, &bad) == 0);
	CHECK(judge(&c, &k[3], &bad, 1, &c.k2, 20) == -ENOKEY);
	CHECK(strstr(fail_reason(), "a signing key of keyring 3, not a root"));
	/* Keyring 1 signed by a key the initramfs does not hold. */
	REQUIRE(story(&c, 1, c.r2.priv, &bad) == 0);
	CHECK(judge(&c, NULL, &bad, 1, &c.k1, 20) == -ENOKEY);
	CHECK(strstr(fail_reason(), "initramfs roots"));
	/* A different keyring 3 (same version, K1 not revoked): a fork. */
	REQUIRE(story(&c, 2, c.r1.priv, &bad) == 0);
	bad.version = 3;
	REQUIRE(keyring_sign(&bad, c.r1.priv) == 0);
	CHECK(judge(&c, &k[3], &bad, 1, &c.k2, 20) == -EKEYREJECTED);
	CHECK(strstr(fail_reason(), "differs from the device's keyring 3"));
	/* Keyring 4 that forgets keyring 3's revocation of K1 (and lists it again). */
	REQUIRE(story(&c, 2, c.r1.priv, &bad) == 0);
	bad.version = 4;
	REQUIRE(keyring_sign(&bad, c.r1.priv) == 0);
	CHECK(judge(&c, &k[3], &bad, 1, &c.k1, 20) == -EKEYREVOKED); /* the device remembers */
	CHECK(judge(&c, &k[3], &bad, 1, &c.k2, 20) == -EKEYREJECTED);
	CHECK(strstr(fail_reason(), "drops keyring 3's revocation"));
	/* A keyring whose signature was tampered with. */
	bad = k[3];
	bad.version = 4;
	bad.sig[bad.sig_len - 1] ^= 1; /* signed digest is of version 3's body */
	REQUIRE(keyring_encode(&bad) == 0);
	CHECK(judge(&c, &k[2], &bad, 1, &c.k2, 20) == -EKEYREJECTED);
	/* An expired signing key: keyring 4 allows K2 up to version 30. */
	REQUIRE(story(&c, 3, c.r1.priv, &bad) == 0);
	bad.version = 4;
	bad.keys[1].until_version = 30;
	REQUIRE(keyring_sign(&bad, c.r1.priv) == 0);
	CHECK(judge(&c, &k[3], &bad, 1, &c.k2, 30) == 0);
	CHECK(judge(&c, &k[3], &bad, 1, &c.k2, 31) == -EKEYEXPIRED);
	CHECK(strstr(fail_reason(), "up to version 30"));
	/* An initramfs root that its own revoked file lists signs no keyring 1. */
	char hex[2 * CRYPTO_KEY_ID_SIZE + 1], path[HELPERS_PATH_MAX];
	uint8_t id[CRYPTO_KEY_ID_SIZE];
	REQUIRE(crypto_key_id_of_file(c.r1.pub, id) == 0);
	util_hex(hex, id, sizeof(id));
	snprintf(path, sizeof(path), "%s/revoked", c.r1.dir);
	FILE *f = fopen(path, "w");
	REQUIRE(f);
	fprintf(f, "%s\n", hex);
	fclose(f);
	crypto_keyset_free(c.roots);
	REQUIRE(crypto_keyset_load(c.r1.dir, &c.roots) == 0);
	CHECK(judge(&c, NULL, &k[1], 1, &c.k1, 20) == -EKEYREVOKED);
	cast_free(&c);
}
