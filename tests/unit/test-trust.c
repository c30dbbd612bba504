/* SPDX-License-Identifier: MIT */
/*
 * Trust that changes in the field (issue 13), on a device of plain files: the
 * whole story through the real applier, stage and mark-good, with the device
 * key "dev" as the initramfs's root key R1. Keyring 1 trusts K1; 2 trusts K1
 * and K2; 3 revokes K1; 4 hands the root over to R2; 5 is signed by R2.
 * Each step checks what the record has adopted, not just the return codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fail.h"
#include "helpers.h"
#include "keyring.h"
#include "stage.h"
#include "test.h"

struct story {
	struct helpers_device d;
	struct helpers_key k1, k2, r2;
	uint8_t slot; /* the slot the device last booted */
};

/* Keyring v of the story, written to tmpdir/keyringV. */
static int make_keyring(struct story *s, uint64_t v, struct keyring *k)
{
	uint8_t id[CRYPTO_KEY_ID_SIZE];
	char name[32];
	int r;

	memset(k, 0, sizeof(*k));
	k->version = v;
	r = helpers_keyring_key(k, v >= 4 ? s->r2.pub : s->d.key.pub, KEYRING_ROOT, 0);
	if (r == 0 && v <= 2)
		r = helpers_keyring_key(k, s->k1.pub, KEYRING_SIGNING, 0);
	if (r == 0 && v >= 2)
		r = helpers_keyring_key(k, s->k2.pub, KEYRING_SIGNING, 0);
	if (r == 0 && v >= 3) {
		r = crypto_key_id_of_file(s->k1.pub, id);
		memcpy(k->revoked[k->n_revoked++], id, sizeof(id));
	}
	if (r == 0)
		r = keyring_sign(k, v >= 5 ? s->r2.priv : s->d.key.priv);
	snprintf(name, sizeof(name), "keyring%llu", (unsigned long long)v);
	FILE *f = r == 0 ? fopen(test_path(name), "w") : NULL;
	if (r == 0 && (!f || fwrite(k->raw, k->size, 1, f) != 1))
		r = -EIO;
	if (f && fclose(f) != 0)
		r = -EIO;
	return r;
}

/* tmpdir/NAME.sota: version, signed by key, under the chain of keyrings from..to. */
static int make_bundle(const char *name, const struct helpers_key *key, uint64_t version, int from,
                       int to)
{
	char img[HELPERS_PATH_MAX], out[HELPERS_PATH_MAX], chain[HELPERS_PATH_MAX];
	char part[32];
	struct create_options o;
	int r;

	snprintf(img, sizeof(img), "%s", test_path("img"));
	snprintf(out, sizeof(out), "%s/%s.sota", test_tmpdir(), name);
	snprintf(chain, sizeof(chain), "%s/%s.chain", test_tmpdir(), name);
	r = helpers_image(img, HELPERS_IMAGE_SIZE, (uint32_t)version);
	FILE *f = fopen(chain, "w");
	for (int v = from; r == 0 && f && from && v <= to; v++) {
		uint8_t buf[KEYRING_MAX_SIZE];
		snprintf(part, sizeof(part), "keyring%d", v);
		FILE *in = fopen(test_path(part), "r");
		size_t n = in ? fread(buf, 1, sizeof(buf), in) : 0;
		if (!in || !n || fwrite(buf, n, 1, f) != 1)
			r = -EIO;
		if (in)
			fclose(in);
	}
	if (!f || fclose(f) != 0)
		r = -EIO;
	helpers_bundle_options(&o, img, out, key->priv, version);
	o.keyring = from ? chain : NULL;
	return r == 0 ? create_bundle(&o) : r;
}

static int setup(struct story *s)
{
	struct keyring k;
	int r = helpers_device(&s->d);

	if (r == 0)
		r = helpers_keypair("k1", &s->k1);
	if (r == 0)
		r = helpers_keypair("k2", &s->k2);
	if (r == 0)
		r = helpers_keypair("r2", &s->r2);
	for (uint64_t v = 1; r == 0 && v <= 5; v++)
		r = make_keyring(s, v, &k);
	s->slot = 0;
	return r;
}

/* The version of the keyring the record has adopted (0: none), -1 if it does not parse. */
static int adopted(const struct story *s)
{
	const struct keyring *k = NULL;
	struct keyring buf;
	struct state_record st;

	if (helpers_read_state(s->d.state, &st) < 0 || keyring_adopted(&st, &buf, &k) < 0)
		return -1;
	return k ? (int)k->version : 0;
}

/* Stages NAME (as `systemota stage` does) and boots: the applier's verdict. */
static int stage_and_apply(struct story *s, const char *name)
{
	char src[HELPERS_PATH_MAX];
	struct state_record st;
	int r = helpers_read_state(s->d.state, &st);

	snprintf(src, sizeof(src), "%s/%s.sota", test_tmpdir(), name);
	if (r == 0)
		r = stage_bundle(src, s->d.data, HELPERS_DROPIN, s->d.keys, HELPERS_COMPATIBLE, &st,
		                 HELPERS_SLOT_SIZE, NULL);
	int staged = r;
	/* A bundle stage refuses is dropped by hand: the applier must refuse it the same way. */
	if (r < 0 && helpers_drop(&s->d, name) < 0)
		return -EIO;
	r = helpers_apply(&s->d, &s->slot);
	/* Stage and the applier refuse with the same code, or the test says -EFAULT. */
	if (staged < 0)
		return r == staged ? r : -EFAULT;
	return r;
}

/* The boot after an install: the new slot confirms. */
static int confirm(struct story *s)
{
	return helpers_mark_good(&s->d, s->slot);
}

TEST(trust_field_story)
{
	static struct story s;
	struct state_record st;
	int r;

	memset(&s, 0, sizeof(s));
	REQUIRE(setup(&s) == 0);
	CHECK_EQ(adopted(&s), 0);

	/* v2 by K2 under keyrings 1, 2: installed, on trial with keyring 2 pending, confirmed. */
	REQUIRE(make_bundle("v2", &s.k2, 2, 1, 2) == 0);
	CHECK_EQ(stage_and_apply(&s, "v2"), 0);
	CHECK_EQ(s.slot, 1);
	REQUIRE(helpers_read_state(s.d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	CHECK(st.pending_len > 0 && st.keyring_len == 0);
	CHECK_EQ(adopted(&s), 0); /* not before the confirmation */
	CHECK_EQ(confirm(&s), 0);
	CHECK_EQ(adopted(&s), 2);

	/* v3 by K2 under 1..3, which revokes K1: confirmed, keyring 3. */
	REQUIRE(make_bundle("v3", &s.k2, 3, 1, 3) == 0);
	CHECK_EQ(stage_and_apply(&s, "v3"), 0);
	CHECK_EQ(confirm(&s), 0);
	CHECK_EQ(adopted(&s), 3);

	/* K1 signs a higher version: refused as revoked, under keyring 3 and under the old 2. */
	REQUIRE(make_bundle("k1-under-3", &s.k1, 9, 1, 3) == 0);
	CHECK_EQ(stage_and_apply(&s, "k1-under-3"), -EKEYREVOKED);
	REQUIRE(make_bundle("k1-under-2", &s.k1, 9, 1, 2) == 0);
	CHECK_EQ(stage_and_apply(&s, "k1-under-2"), -EKEYREVOKED);
	REQUIRE(helpers_read_state(s.d.state, &st) == 0);
	CHECK(strstr(st.last_reason, "signed by revoked key"));
	/* The old keyring with a key it still trusts: older than the device's. */
	REQUIRE(make_bundle("k2-under-2", &s.k2, 9, 1, 2) == 0);
	CHECK_EQ(stage_and_apply(&s, "k2-under-2"), -ESTALE);
	/* A format 1 bundle, with no keyring at all. */
	REQUIRE(make_bundle("flat", &s.d.key, 9, 0, 0) == 0);
	CHECK_EQ(stage_and_apply(&s, "flat"), -ENOKEY);
	CHECK_EQ(adopted(&s), 3);

	/* v4 under 1..4 (the root rotation) never confirms: rolled back, keyring 3 stays. */
	REQUIRE(make_bundle("v4", &s.k2, 4, 1, 4) == 0);
	CHECK_EQ(stage_and_apply(&s, "v4"), 0);
	uint8_t trial = s.slot;
	for (int i = 0; i < HELPERS_TRIES + 1; i++)
		REQUIRE(helpers_apply(&s.d, &s.slot) == 0);
	CHECK(s.slot != trial);
	REQUIRE(helpers_read_state(s.d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.pending_len, 0);
	CHECK_EQ(adopted(&s), 3);
	CHECK_EQ(stage_and_apply(&s, "k1-under-2"), -EKEYREVOKED); /* still in force */

	/* v5 under 1..4 confirmed: R2 is the root now; a keyring 5 signed by R1 is refused. */
	REQUIRE(make_bundle("v5", &s.k2, 5, 1, 4) == 0);
	CHECK_EQ(stage_and_apply(&s, "v5"), 0);
	CHECK_EQ(confirm(&s), 0);
	CHECK_EQ(adopted(&s), 4);
	struct keyring forged;
	REQUIRE(make_keyring(&s, 5, &forged) == 0);
	forged.keys[0].role = KEYRING_ROOT;
	REQUIRE(keyring_sign(&forged, s.d.key.priv) == 0); /* R1, no longer a root */
	FILE *f = fopen(test_path("keyring5"), "w");
	REQUIRE(f && fwrite(forged.raw, forged.size, 1, f) == 1);
	fclose(f);
	REQUIRE(make_bundle("v6-forged", &s.k2, 6, 1, 5) == 0);
	r = stage_and_apply(&s, "v6-forged");
	CHECK_EQ(r, -ENOKEY);
	CHECK(strstr(fail_reason(), "not a root of keyring 4"));
	/* The genuine keyring 5, by R2: accepted. */
	REQUIRE(make_keyring(&s, 5, &forged) == 0);
	REQUIRE(make_bundle("v6", &s.k2, 6, 1, 5) == 0);
	CHECK_EQ(stage_and_apply(&s, "v6"), 0);
	CHECK_EQ(confirm(&s), 0);
	CHECK_EQ(adopted(&s), 5);
	helpers_device_free(&s.d);
}

/*
 * Both copies of the record lost (a byte of each flipped, the keyring areas
 * intact): the re-initialised record keeps the adopted keyring, so a lost
 * record gives back no trust that a keyring took away; `state init --force`
 * (re-stating the versions) keeps it too.
 */
TEST(trust_lost_record_keeps_the_keyring)
{
	static struct story s;
	struct state_record st;

	memset(&s, 0, sizeof(s));
	REQUIRE(setup(&s) == 0);
	REQUIRE(make_bundle("v2", &s.k2, 2, 1, 3) == 0);
	REQUIRE(stage_and_apply(&s, "v2") == 0);
	REQUIRE(confirm(&s) == 0);
	REQUIRE(adopted(&s) == 3);
	state_set_retry_delay(0);
	REQUIRE(helpers_flip_byte(s.d.state, 508) == 0); /* copy 0: its CRC */
	REQUIRE(helpers_flip_byte(s.d.state, HELPERS_STATE_SIZE / 2 + 508) == 0);
	CHECK(helpers_read_state(s.d.state, &st) < 0);
	/* A superblock on the confirmed slot, so the evidence lets the record be re-made. */
	static const uint8_t ext4_magic[2] = {0x53, 0xef};
	int fd = open(s.d.slot[s.slot], O_WRONLY | O_CLOEXEC);
	REQUIRE(fd >= 0);
	REQUIRE(pwrite(fd, ext4_magic, 2, 1080) == 2);
	close(fd);
	CHECK_EQ(helpers_apply(&s.d, &s.slot), 0);
	REQUIRE(helpers_read_state(s.d.state, &st) == 0);
	CHECK(st.flags & STATE_FLAG_VERSIONS_UNKNOWN);
	CHECK_EQ(adopted(&s), 3);
	/* Still judged by keyring 3: K1 is refused as revoked, not merely as unknown versions. */
	REQUIRE(make_bundle("k1", &s.k1, 9, 1, 2) == 0);
	REQUIRE(helpers_drop(&s.d, "k1") == 0);
	CHECK_EQ(helpers_apply(&s.d, &s.slot), -EKEYREVOKED);
	helpers_device_free(&s.d);
}
