/* SPDX-License-Identifier: MIT */
/*
 * The manifest's verity section (header flag BUNDLE_FLAG_VERITY): every
 * field the parser must refuse; `bundle create --verity` signs the root hash
 * of the image's tree (the same as verity.c's of the image file); a
 * well-signed bundle whose root hash is not its image's is refused when its
 * payload is checked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "codec.h"
#include "create.h"
#include "fail.h"
#include "helpers.h"
#include "payload.h"
#include "test.h"
#include "util.h"
#include "verity.h"

/* A 256 KiB image in four raw 64 KiB chunks: 64 data blocks, one hash block. */
#define V_IMAGE (4u * HELPERS_CHUNK_SIZE)
#define V_CHUNKS 4u
#define V_MLEN                                                                                     \
	(BUNDLE_MANIFEST_FIXED_SIZE + BUNDLE_CHUNK_ENTRY_SIZE * V_CHUNKS + BUNDLE_VERITY_SIZE)
#define V_SECTION (V_MLEN - BUNDLE_VERITY_SIZE)

struct vparts {
	struct bundle_header h;
	uint8_t man[V_MLEN];
};

static void make_vparts(struct vparts *p)
{
	struct bundle_manifest m = {.version = 2, .image_size = V_IMAGE};
	struct bundle_verity v = {.on = true, .hash_size = VERITY_BLOCK_SIZE};
	uint8_t digest[CRYPTO_DIGEST_SIZE] = {0};

	util_set_string(m.compatible, sizeof(m.compatible), HELPERS_COMPATIBLE);
	m.chunk_size = HELPERS_CHUNK_SIZE;
	m.chunk_count = V_CHUNKS;
	m.compression = CODEC_NONE;
	memset(p, 0, sizeof(*p));
	bundle_write_manifest_fixed(&m, p->man);
	for (uint32_t i = 0; i < V_CHUNKS; i++)
		bundle_write_chunk_entry(p->man + BUNDLE_MANIFEST_FIXED_SIZE +
		                                 BUNDLE_CHUNK_ENTRY_SIZE * i,
		                         HELPERS_CHUNK_SIZE, digest);
	memset(v.root, 0x11, sizeof(v.root));
	memset(v.salt, 0x22, sizeof(v.salt));
	bundle_write_verity(&v, p->man + V_SECTION);
	p->h = (struct bundle_header){.format = BUNDLE_FORMAT,
	                              .manifest_size = V_MLEN,
	                              .sigblock_size = BUNDLE_SIGBLOCK_SIZE,
	                              .flags = BUNDLE_FLAG_VERITY,
	                              .payload_size = V_IMAGE};
}

TEST(bundle_verity_section_parses)
{
	struct bundle_manifest m;
	struct vparts p;
	uint8_t hdr[BUNDLE_HEADER_SIZE];
	struct bundle_header h;

	make_vparts(&p);
	bundle_write_header(&p.h, hdr);
	CHECK_EQ(bundle_parse_header(hdr, sizeof(hdr), &h), 0);
	CHECK_EQ(h.flags, BUNDLE_FLAG_VERITY);
	REQUIRE(bundle_parse_manifest(p.man, sizeof(p.man), &p.h, &m) == 0);
	CHECK(m.verity.on);
	CHECK_EQ(m.verity.hash_size, VERITY_BLOCK_SIZE);
	CHECK_EQ(m.verity.root[31], 0x11);
	CHECK_EQ(m.verity.salt[0], 0x22);
	/* Without the flag the same manifest has 96 bytes too many; a plain one has no section. */
	p.h.flags = 0;
	CHECK_EQ(bundle_parse_manifest(p.man, sizeof(p.man), &p.h, &m), -EBADMSG);
	p.h.manifest_size = V_SECTION;
	REQUIRE(bundle_parse_manifest(p.man, V_SECTION, &p.h, &m) == 0);
	CHECK(!m.verity.on);
	/* With the flag, a manifest without the section is short. */
	p.h.flags = BUNDLE_FLAG_VERITY;
	CHECK_EQ(bundle_parse_manifest(p.man, V_SECTION, &p.h, &m), -EBADMSG);
}

TEST(bundle_verity_section_refuses_each_bad_field)
{
	const struct {
		const char *what;
		unsigned off;
		uint8_t value;
		int code;
	} cases[] = {
	        {"hash algorithm 2", 0, 2, -EPROTO},
	        {"hash algorithm 0", 0, 0, -EPROTO},
	        {"data blocks of 8 KiB", 1, 13, -EPROTO},
	        {"hash blocks of 1 KiB", 2, 10, -EPROTO},
	        {"salt of 16 bytes", 3, 16, -EPROTO},
	        {"reserved 4", 4, 1, -EBADMSG},
	        {"reserved 7", 7, 0x80, -EBADMSG},
	        {"tree one block larger", 9, 0x20, -EBADMSG}, /* hash_size 4096 + 8192 */
	        {"tree of no block", 9, 0, -EBADMSG},
	        {"tree size's top byte", 15, 1, -EBADMSG},
	        {"reserved 80", 80, 1, -EBADMSG},
	        {"reserved 95", 95, 1, -EBADMSG},
	};
	struct bundle_manifest m;
	struct vparts p;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		make_vparts(&p);
		p.man[V_SECTION + cases[i].off] = cases[i].value;
		int r = bundle_parse_manifest(p.man, sizeof(p.man), &p.h, &m);
		if (r != cases[i].code)
			fprintf(stderr, "  verity case: %s\n", cases[i].what);
		CHECK_EQ(r, cases[i].code);
	}
	/* An image that is not whole blocks has no tree: the last chunk 4095 bytes short. */
	make_vparts(&p);
	util_put_le64(p.man + 72, V_IMAGE - 4095);
	util_put_le32(p.man + BUNDLE_MANIFEST_FIXED_SIZE + 3 * BUNDLE_CHUNK_ENTRY_SIZE,
	              HELPERS_CHUNK_SIZE - 4095);
	p.h.payload_size -= 4095;
	CHECK_EQ(bundle_parse_manifest(p.man, sizeof(p.man), &p.h, &m), -EBADMSG);
}

/* The root hash of an image file, by verity.c. */
static int image_root(const char *path, const uint8_t *salt, uint8_t root[CRYPTO_DIGEST_SIZE])
{
	uint8_t *img;
	size_t len;
	struct verity_geometry g;
	static struct verity_tree t;
	int r = helpers_read_file(path, &img, &len);

	if (r == 0)
		r = verity_geometry(len / VERITY_BLOCK_SIZE, &g);
	if (r == 0) {
		verity_begin(&t, &g, salt, NULL, NULL);
		r = verity_feed(&t, img, len);
	}
	if (r == 0)
		r = verity_finish(&t, root);
	free(img);
	return r;
}

static int verify_all(const char *path, struct crypto_keyset *keys)
{
	struct bundle b;
	struct payload p;
	struct payload_chunk c;
	int r = bundle_open(path, &b);

	if (r == 0)
		r = bundle_verify(&b, keys, NULL);
	if (r == 0)
		r = payload_open(&p, &b);
	while (r == 0 && (r = payload_next(&p, &c)) > 0)
		r = 0;
	if (b.verified)
		payload_close(&p);
	bundle_close(&b);
	return r;
}

TEST(bundle_create_verity_signs_the_images_root_hash)
{
	struct helpers_key key;
	struct crypto_keyset *keys = NULL;
	struct create_options o;
	struct bundle b;
	uint8_t root[CRYPTO_DIGEST_SIZE];
	char img[256], out[256];

	REQUIRE(helpers_trusted_key("k", &key, &keys) == 0);
	snprintf(img, sizeof(img), "%s", test_path("v.img"));
	snprintf(out, sizeof(out), "%s", test_path("v.sota"));
	/* 129 data blocks: two levels; zstd per chunk and as a stream, and raw. */
	REQUIRE(helpers_image(img, 129 * VERITY_BLOCK_SIZE, 5) == 0);
	for (int mode = 0; mode < 3; mode++) {
		helpers_bundle_options(&o, img, out, key.priv, 3);
		o.verity = true;
		o.level = mode == 0 ? 0 : 3;
		o.window_log = mode == 2 ? o.window_log : 0;
		REQUIRE(create_bundle(&o) == 0);
		REQUIRE(bundle_open(out, &b) == 0);
		CHECK_EQ(b.header.flags, BUNDLE_FLAG_VERITY);
		CHECK(b.manifest.verity.on);
		CHECK_EQ(b.manifest.verity.hash_size, 3 * VERITY_BLOCK_SIZE);
		REQUIRE(image_root(img, b.manifest.verity.salt, root) == 0);
		CHECK(memcmp(root, b.manifest.verity.root, sizeof(root)) == 0);
		bundle_close(&b);
		CHECK_EQ(verify_all(out, keys), 0);
	}
	/* The salt is the release's: another version, another salt; the same, the same bytes. */
	uint8_t salt3[VERITY_SALT_SIZE];
	REQUIRE(bundle_open(out, &b) == 0);
	memcpy(salt3, b.manifest.verity.salt, sizeof(salt3));
	bundle_close(&b);
	helpers_bundle_options(&o, img, test_path("v4.sota"), key.priv, 4);
	o.verity = true;
	REQUIRE(create_bundle(&o) == 0);
	REQUIRE(bundle_open(test_path("v4.sota"), &b) == 0);
	CHECK(memcmp(salt3, b.manifest.verity.salt, sizeof(salt3)) != 0);
	bundle_close(&b);
	/* An image of a byte more than whole blocks cannot have a tree. */
	REQUIRE(helpers_image(img, 129 * VERITY_BLOCK_SIZE + 1, 5) == 0);
	helpers_bundle_options(&o, img, out, key.priv, 3);
	o.verity = true;
	CHECK_EQ(create_bundle(&o), -EINVAL);
	crypto_keyset_free(keys);
}

/* Writes an ext4 superblock's magic and block size (1024 << log) into an image. */
static int set_ext4_block_log(const char *path, uint32_t log)
{
	uint8_t sb[64] = {0};
	FILE *f = fopen(path, "r+b");

	if (!f)
		return -errno;
	util_put_le32(sb + 24, log);
	sb[56] = 0x53;
	sb[57] = 0xEF;
	int r = fseek(f, 1024, SEEK_SET) == 0 && fwrite(sb, sizeof(sb), 1, f) == 1 ? 0 : -EIO;
	return fclose(f) == 0 ? r : -EIO;
}

/* An ext4 of 1 KiB or 2 KiB blocks does not mount on dm-verity: refused when built. */
TEST(bundle_create_verity_refuses_ext4_with_small_blocks)
{
	struct helpers_key key;
	struct crypto_keyset *keys = NULL;
	struct create_options o;
	char img[256], out[256];

	REQUIRE(helpers_trusted_key("k", &key, &keys) == 0);
	snprintf(img, sizeof(img), "%s", test_path("fs.img"));
	snprintf(out, sizeof(out), "%s", test_path("fs.sota"));
	for (uint32_t log = 0; log < 3; log++) {
		REQUIRE(helpers_image(img, 16 * VERITY_BLOCK_SIZE, 5) == 0);
		REQUIRE(set_ext4_block_log(img, log) == 0);
		helpers_bundle_options(&o, img, out, key.priv, 3);
		o.verity = true;
		if (log < 2) {
			CHECK_EQ(create_bundle(&o), -EINVAL);
			CHECK(strstr(fail_reason(), "mkfs.ext4 -b 4096"));
			CHECK(!helpers_exists(out));
		} else {
			CHECK_EQ(create_bundle(&o), 0);
		}
		/* Without --verity any block size is the image's business. */
		o.verity = false;
		CHECK_EQ(create_bundle(&o), 0);
		unlink(out);
	}
	crypto_keyset_free(keys);
}

TEST(bundle_verity_root_not_the_images_is_refused)
{
	struct helpers_key key;
	struct crypto_keyset *keys = NULL;
	struct create_options o;
	struct bundle b;
	char img[256], out[256], bad[256];

	REQUIRE(helpers_trusted_key("k", &key, &keys) == 0);
	snprintf(img, sizeof(img), "%s", test_path("v.img"));
	snprintf(out, sizeof(out), "%s", test_path("v.sota"));
	snprintf(bad, sizeof(bad), "%s", test_path("bad.sota"));
	REQUIRE(helpers_image(img, 40 * VERITY_BLOCK_SIZE, 9) == 0);
	helpers_bundle_options(&o, img, out, key.priv, 3);
	o.verity = true;
	REQUIRE(create_bundle(&o) == 0);
	REQUIRE(bundle_open(out, &b) == 0);
	uint64_t at = BUNDLE_HEADER_SIZE + b.header.manifest_size - BUNDLE_VERITY_SIZE + 16;
	bundle_close(&b);
	/* The root hash changed, then signed again: a well-signed lie. */
	REQUIRE(helpers_flip_byte(out, at) == 0);
	REQUIRE(create_resign(out, key.priv, NULL, bad) == 0);
	CHECK_EQ(verify_all(bad, keys), -EBADMSG);
	CHECK(strstr(fail_reason(), "verity root hash") != NULL);
	crypto_keyset_free(keys);
}
