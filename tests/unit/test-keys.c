/* SPDX-License-Identifier: MIT */
/*
 * Keys over a device's life: rotation without a flag day, re-signing, and
 * revocation, as docs/security.md describes the sequence.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bundle.h"
#include "create.h"
#include "fail.h"
#include "helpers.h"
#include "test.h"
#include "util.h"

/* Opens path and verifies it against the keys in dir: the code, 0 if accepted. */
static int verdict(const char *path, const char *dir)
{
	struct crypto_keyset *kr = NULL;
	struct bundle b;
	int r = crypto_keyset_load(dir, &kr);

	if (r == 0)
		r = bundle_open(path, &b);
	if (r == 0) {
		r = bundle_verify(&b, kr, NULL);
		bundle_close(&b);
	}
	crypto_keyset_free(kr);
	return r;
}

static int write_revoked(const char *dir, const char *pub)
{
	uint8_t id[CRYPTO_KEY_ID_SIZE];
	char hex[2 * CRYPTO_KEY_ID_SIZE + 1], path[HELPERS_PATH_MAX + 16];
	int r = crypto_key_id_of_file(pub, id);
	FILE *f;

	if (r < 0)
		return r;
	util_hex(hex, id, sizeof(id));
	snprintf(path, sizeof(path), "%s/revoked", dir);
	if (!(f = fopen(path, "w")))
		return -errno;
	fprintf(f, "%s  # retired 2026\n", hex);
	return fclose(f) == 0 ? 0 : -EIO;
}

TEST(keys_rotation_resign_and_revocation)
{
	struct helpers_key old, new;
	char both[HELPERS_PATH_MAX], cmd[4 * HELPERS_PATH_MAX];
	uint8_t txn_old[CRYPTO_DIGEST_SIZE], txn_resigned[CRYPTO_DIGEST_SIZE];

	REQUIRE(helpers_keypair("old", &old) == 0);
	REQUIRE(helpers_keypair("new", &new) == 0);
	REQUIRE(helpers_update("v2", old.priv, 2) == 0);

	/* 1. The device trusts the old key: its bundle is accepted, the new key's is not. */
	CHECK_EQ(verdict(test_path("v2.sota"), old.dir), 0);
	REQUIRE(helpers_update("v3", new.priv, 3) == 0);
	CHECK_EQ(verdict(test_path("v3.sota"), old.dir), -ENOKEY);

	/* 2. A new initramfs trusts both: both are accepted. */
	snprintf(both, sizeof(both), "%s", test_path("both-keys"));
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s %s %s/", both, old.pub, new.pub, both);
	REQUIRE(system(cmd) == 0);
	CHECK_EQ(verdict(test_path("v2.sota"), both), 0);
	CHECK_EQ(verdict(test_path("v3.sota"), both), 0);

	/* 3. An old bundle re-signed with the new key: accepted, same transaction. */
	REQUIRE(create_resign(test_path("v2.sota"), new.priv, NULL, test_path("v2-new.sota")) == 0);
	CHECK_EQ(verdict(test_path("v2-new.sota"), both), 0);
	REQUIRE(helpers_bundle_txn(test_path("v2.sota"), txn_old) == 0);
	REQUIRE(helpers_bundle_txn(test_path("v2-new.sota"), txn_resigned) == 0);
	CHECK(memcmp(txn_old, txn_resigned, sizeof(txn_old)) == 0);

	/* 4. The old key revoked: its bundles are refused, and named as revoked. */
	REQUIRE(write_revoked(both, old.pub) == 0);
	CHECK_EQ(verdict(test_path("v2.sota"), both), -EKEYREVOKED);
	CHECK(strstr(fail_reason(), "revoked") != NULL);
	CHECK_EQ(verdict(test_path("v2-new.sota"), both), 0);
	CHECK_EQ(verdict(test_path("v3.sota"), both), 0);
}
