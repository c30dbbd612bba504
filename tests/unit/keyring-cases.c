/* SPDX-License-Identifier: MIT */
#include "keyring-cases.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keyring.h"
#include "test.h"

struct cast {
	struct helpers_key k1, k2, other;
	const struct helpers_device *d;
};

/* Keyring v of the story, signed by signer; until: K2's until_version. */
static int story(const struct cast *c, uint64_t v, const char *signer, uint64_t until, bool revoke,
                 struct keyring *k)
{
	uint8_t id[CRYPTO_KEY_ID_SIZE];
	int r;

	memset(k, 0, sizeof(*k));
	k->version = v;
	r = helpers_keyring_key(k, c->d->key.pub, KEYRING_ROOT, 0);
	if (r == 0 && v <= 2)
		r = helpers_keyring_key(k, c->k1.pub, KEYRING_SIGNING, 0);
	if (r == 0 && v >= 2)
		r = helpers_keyring_key(k, c->k2.pub, KEYRING_SIGNING, until);
	if (r == 0 && revoke) {
		r = crypto_key_id_of_file(c->k1.pub, id);
		memcpy(k->revoked[k->n_revoked++], id, sizeof(id));
	}
	return r == 0 ? keyring_sign(k, signer) : r;
}

static int adopt(const struct helpers_device *d, const struct keyring *k)
{
	struct state_record st;
	int r = helpers_read_state(d->state, &st);

	if (r == 0) {
		st.keyring_len = k->size;
		memcpy(st.keyring, k->raw, k->size);
		r = helpers_write_state(d->state, &st);
	}
	return r;
}

/* Version 2, signed by key, under the chain, staged. */
static int stage(const char *staged, const char *key, const struct keyring *const chain[], size_t n,
                 size_t corrupt_at)
{
	struct create_options o;
	const char *path = test_path("chain");
	FILE *f = fopen(path, "w");
	int r = f ? 0 : -EIO;

	for (size_t i = 0; r == 0 && i < n; i++)
		if (fwrite(chain[i]->raw, chain[i]->size, 1, f) != 1)
			r = -EIO;
	if (f && fclose(f) != 0)
		r = -EIO;
	helpers_bundle_options(&o, test_path("v2.img"), test_path("case.sota"), key, 2);
	o.keyring = n ? path : NULL;
	if (r == 0)
		r = create_bundle(&o);
	if (r == 0)
		r = helpers_copy_file(test_path("case.sota"), staged);
	if (r == 0 && corrupt_at) {
		/* The chain is not signed as a whole: a flip there reaches the keyring parser. */
		struct bundle b;
		r = bundle_open(staged, &b);
		uint64_t off = BUNDLE_HEADER_SIZE + b.header.manifest_size + BUNDLE_SIGBLOCK_SIZE;
		bundle_close(&b);
		if (r == 0)
			r = helpers_flip_byte(staged, off + corrupt_at);
	}
	return r;
}

int keyring_case_stage(struct helpers_device *d, const char *staged, enum keyring_case c)
{
	static struct keyring k1, k2, k3, bad;
	const char *root = d->key.priv;
	struct cast cast = {.d = d};
	int r = helpers_keypair("k1", &cast.k1);

	if (r == 0)
		r = helpers_keypair("k2", &cast.k2);
	if (r == 0)
		r = helpers_keypair("other", &cast.other);
	if (r == 0)
		r = story(&cast, 1, root, 0, false, &k1);
	if (r == 0)
		r = story(&cast, 2, root, 0, false, &k2);
	if (r == 0)
		r = story(&cast, 3, root, 0, true, &k3);
	if (r < 0)
		return r;
	const struct keyring *all[] = {&k1, &k2, &k3}, *old[] = {&k1, &k2};
	switch (c) {
	case KEYRING_CASE_REVOKED:
		r = adopt(d, &k3);
		return r ?: stage(staged, cast.k1.priv, all, 3, 0);
	case KEYRING_CASE_REPLAYED:
		r = adopt(d, &k3);
		return r ?: stage(staged, cast.k1.priv, old, 2, 0);
	case KEYRING_CASE_OLDER:
		r = adopt(d, &k3);
		return r ?: stage(staged, cast.k2.priv, old, 2, 0);
	case KEYRING_CASE_BY_SIGNING_KEY:
		r = adopt(d, &k2) ?: story(&cast, 3, cast.k2.priv, 0, true, &bad);
		return r
		               ?: stage(staged, cast.k2.priv, (const struct keyring *[]){&k2, &bad},
		                        2, 0);
	case KEYRING_CASE_BROKEN_LINK:
		r = adopt(d, &k1) ?: story(&cast, 3, cast.other.priv, 0, true, &bad);
		return r ?: stage(staged, cast.k2.priv, (const struct keyring *[]){&bad}, 1, 0);
	case KEYRING_CASE_DROPS:
		r = adopt(d, &k3) ?: story(&cast, 4, root, 0, false, &bad);
		return r ?: stage(staged, cast.k2.priv, (const struct keyring *[]){&bad}, 1, 0);
	case KEYRING_CASE_FORK:
		r = adopt(d, &k3) ?: story(&cast, 3, root, 0, false, &bad);
		return r ?: stage(staged, cast.k2.priv, (const struct keyring *[]){&bad}, 1, 0);
	case KEYRING_CASE_EXPIRED:
		r = adopt(d, &k1) ?: story(&cast, 2, root, 1, false, &bad);
		return r ?: stage(staged, cast.k2.priv, (const struct keyring *[]){&bad}, 1, 0);
	case KEYRING_CASE_FLAT:
		r = adopt(d, &k1);
		return r ?: stage(staged, root, NULL, 0, 0);
	case KEYRING_CASE_BY_ROOT:
		r = adopt(d, &k1);
		return r ?: stage(staged, root, all, 1, 0);
	case KEYRING_CASE_MALFORMED:
		/* Keyring 1's first key entry: a reserved byte. */
		return stage(staged, cast.k1.priv, all, 1, KEYRING_HEADER_SIZE + 1);
	}
	return -EINVAL;
}
