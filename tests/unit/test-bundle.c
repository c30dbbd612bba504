/* SPDX-License-Identifier: MIT */
/*
 * The bundle's signed part: every field the pure parsers must refuse, and
 * real files truncated, padded or tampered with, refused by bundle_open() or
 * bundle_verify() with a specific code. The payload: test-payload.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "codec.h"
#include "helpers.h"
#include "test.h"
#include "util.h"

/* --- the pure parsers ------------------------------------------------------------------ */

/* A well-formed signed part: 200000-byte image in four 64 KiB chunks. */
#define T_IMAGE 200000u
#define T_CHUNKS 4u
#define T_LAST (T_IMAGE - 3 * HELPERS_CHUNK_SIZE)
#define T_MLEN (BUNDLE_MANIFEST_FIXED_SIZE + BUNDLE_CHUNK_ENTRY_SIZE * T_CHUNKS)

struct parts {
	struct bundle_header h;
	uint8_t man[T_MLEN];
};

/* Fills p with a valid manifest (zstd: stored 1000 bytes a chunk; raw: the inflated size). */
static void make_parts(struct parts *p, uint8_t compression)
{
	struct bundle_manifest m = {.version = 2, .image_size = T_IMAGE};
	uint8_t digest[CRYPTO_DIGEST_SIZE];

	util_set_string(m.compatible, sizeof(m.compatible), HELPERS_COMPATIBLE);
	util_set_string(m.label, sizeof(m.label), "v2");
	m.chunk_size = HELPERS_CHUNK_SIZE;
	m.chunk_count = T_CHUNKS;
	m.compression = compression;
	m.window_log = compression == CODEC_ZSTD_STREAM ? 22 : 0;
	m.created = 1700000000;
	memset(p, 0, sizeof(*p));
	bundle_write_manifest_fixed(&m, p->man);
	for (uint32_t i = 0; i < T_CHUNKS; i++) {
		uint32_t raw = i == T_CHUNKS - 1 ? T_LAST : HELPERS_CHUNK_SIZE;
		uint32_t stored = compression == CODEC_NONE ? raw : 1000;
		memset(digest, (int)i + 1, sizeof(digest));
		bundle_write_chunk_entry(p->man + BUNDLE_MANIFEST_FIXED_SIZE +
		                                 BUNDLE_CHUNK_ENTRY_SIZE * i,
		                         stored, digest);
		p->h.payload_size += stored;
	}
	p->h.format = BUNDLE_FORMAT;
	p->h.manifest_size = T_MLEN;
	p->h.sigblock_size = BUNDLE_SIGBLOCK_SIZE;
}

static int parse_manifest(const struct parts *p)
{
	struct bundle_manifest m;

	return bundle_parse_manifest(p->man, sizeof(p->man), &p->h, &m);
}

static int parse_header(const struct bundle_header *h)
{
	uint8_t buf[BUNDLE_HEADER_SIZE];
	struct bundle_header out;

	bundle_write_header(h, buf);
	return bundle_parse_header(buf, sizeof(buf), &out);
}

static void put_le(uint8_t *p, unsigned width, uint64_t v)
{
	for (unsigned i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

TEST(bundle_parse_header_accepts_valid_and_boundaries)
{
	struct parts p;
	uint8_t buf[BUNDLE_HEADER_SIZE];
	struct bundle_header out;

	make_parts(&p, CODEC_ZSTD);
	bundle_write_header(&p.h, buf);
	CHECK_EQ(bundle_parse_header(buf, sizeof(buf), &out), 0);
	CHECK_EQ(out.manifest_size, T_MLEN);
	CHECK_EQ(out.payload_size, 4000);
	p.h.manifest_size = BUNDLE_MANIFEST_FIXED_SIZE;
	CHECK_EQ(parse_header(&p.h), 0);
	p.h.manifest_size = BUNDLE_MAX_MANIFEST_SIZE;
	CHECK_EQ(parse_header(&p.h), 0);
	p.h.payload_size = BUNDLE_MAX_CHUNKS * (uint64_t)codec_bound(BUNDLE_MAX_CHUNK_SIZE);
	CHECK_EQ(parse_header(&p.h), 0);
}

TEST(bundle_parse_header_refuses_each_bad_field)
{
	const uint64_t max_payload =
	        BUNDLE_MAX_CHUNKS * (uint64_t)codec_bound(BUNDLE_MAX_CHUNK_SIZE);
	const struct {
		unsigned off, width;
		uint64_t value;
		int code;
	} cases[] = {
	        {0, 1, 'X', -EBADMSG},         /* magic */
	        {7, 1, 'l', -EBADMSG},         /* magic, last byte */
	        {8, 4, 3, -EPROTO},            /* format 3 */
	        {8, 4, 2, -EBADMSG},           /* format 2 with a 128-byte signature block */
	        {8, 4, 0, -EPROTO},            /* format 0 */
	        {20, 4, 2, -EPROTO},           /* flags: only bit 0 (verity) is defined */
	        {20, 4, 0x80000000u, -EPROTO}, /* flags, top bit */
	        {16, 4, 127, -EBADMSG},        /* sigblock size */
	        {16, 4, 129, -EBADMSG},        /* sigblock size */
	        {16, 4, 0, -EBADMSG},          /* sigblock size */
	        {12, 4, 191, -EBADMSG},        /* manifest below the fixed part */
	        {12, 4, 0, -EBADMSG},          /* manifest size 0 */
	        {12, 4, BUNDLE_MAX_MANIFEST_SIZE + 1, -EBADMSG},
	        {12, 4, 0xffffffffu, -EBADMSG},
	        {24, 8, max_payload + 1, -EFBIG},
	        {24, 8, UINT64_MAX, -EFBIG},
	};
	struct parts p;
	uint8_t buf[BUNDLE_HEADER_SIZE];
	struct bundle_header out;

	make_parts(&p, CODEC_ZSTD);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		bundle_write_header(&p.h, buf);
		put_le(buf + cases[i].off, cases[i].width, cases[i].value);
		memset(&out, 0xa5, sizeof(out));
		int r = bundle_parse_header(buf, sizeof(buf), &out);
		if (r != cases[i].code)
			fprintf(stderr, "  header case %zu (offset %u)\n", i, cases[i].off);
		CHECK_EQ(r, cases[i].code);
		/* ret_* out-parameters are written only on success. */
		CHECK(((uint8_t *)&out)[0] == 0xa5 && out.format == 0xa5a5a5a5u);
	}
	bundle_write_header(&p.h, buf);
	CHECK_EQ(bundle_parse_header(buf, BUNDLE_HEADER_SIZE - 1, &out), -EBADMSG);
	CHECK_EQ(bundle_parse_header(buf, 0, &out), -EBADMSG);
}

TEST(bundle_parse_manifest_accepts_valid)
{
	struct bundle_manifest m;
	struct bundle_chunk c;
	struct parts p;

	for (int comp = CODEC_NONE; comp <= CODEC_ZSTD_STREAM; comp++) {
		make_parts(&p, (uint8_t)comp);
		REQUIRE(bundle_parse_manifest(p.man, sizeof(p.man), &p.h, &m) == 0);
		CHECK_EQ(m.image_size, T_IMAGE);
		CHECK_EQ(m.chunk_count, T_CHUNKS);
		CHECK_EQ(m.compression, comp);
		CHECK_EQ(m.window_log, comp == CODEC_ZSTD_STREAM ? 22 : 0);
		CHECK(strcmp(m.compatible, HELPERS_COMPATIBLE) == 0);
		CHECK(strcmp(m.label, "v2") == 0);
		bundle_chunk(&m, 0, &c);
		CHECK_EQ(c.size, HELPERS_CHUNK_SIZE);
		bundle_chunk(&m, T_CHUNKS - 1, &c);
		CHECK_EQ(c.size, T_LAST);
		CHECK_EQ(c.stored_size, comp == CODEC_NONE ? T_LAST : 1000);
		CHECK_EQ(c.digest[0], T_CHUNKS);
	}
	/* A chunk may store exactly zstd's bound, not one byte more (next test). */
	make_parts(&p, CODEC_ZSTD);
	put_le(p.man + BUNDLE_MANIFEST_FIXED_SIZE, 4, codec_bound(HELPERS_CHUNK_SIZE));
	p.h.payload_size += codec_bound(HELPERS_CHUNK_SIZE) - 1000;
	CHECK_EQ(parse_manifest(&p), 0);
}

TEST(bundle_parse_manifest_refuses_each_bad_field)
{
	const unsigned T = BUNDLE_MANIFEST_FIXED_SIZE; /* chunk table */
	const struct {
		const char *what;
		unsigned off, width;
		uint64_t value;
		int code;
	} cases[] = {
	        {"compatible: control char", 3, 1, 0x01, -EBADMSG},
	        {"compatible: high byte", 0, 1, 0x80, -EBADMSG},
	        {"compatible: byte after NUL", 40, 1, 'x', -EBADMSG},
	        {"compatible: last byte", 63, 1, 'x', -EBADMSG},
	        {"label: DEL", 137, 1, 0x7f, -EBADMSG},
	        {"label: last byte", 167, 1, 'x', -EBADMSG},
	        {"window_log for per-chunk zstd", 121, 1, 22, -EBADMSG},
	        {"reserved 122", 122, 1, 1, -EBADMSG},
	        {"reserved 127", 127, 1, 0x80, -EBADMSG},
	        {"reserved 176", 176, 1, 1, -EBADMSG},
	        {"floor above its own version", 168, 8, 1000, -EBADMSG},
	        {"reserved 191", 191, 1, 1, -EBADMSG},
	        {"compression 7", 120, 1, 7, -EPROTO},
	        {"compression 3", 120, 1, 3, -EPROTO},
	        {"stream without a window_log", 120, 1, 2, -EBADMSG},
	        {"chunk size 3*64K", 112, 4, 3 * 65536, -EBADMSG},
	        {"chunk size 64K+1", 112, 4, 65537, -EBADMSG},
	        {"chunk size 32K", 112, 4, 32768, -EBADMSG},
	        {"chunk size 8M", 112, 4, 8u << 20, -EBADMSG},
	        {"chunk size 0", 112, 4, 0, -EBADMSG},
	        {"image size 0", 72, 8, 0, -EFBIG},
	        {"image size max+1", 72, 8, BUNDLE_MAX_IMAGE_SIZE + 1, -EFBIG},
	        {"image size 2^64-1", 72, 8, UINT64_MAX, -EFBIG},
	        {"chunk count 3", 116, 4, 3, -EBADMSG},
	        {"chunk count 5", 116, 4, 5, -EBADMSG},
	        {"chunk count 0", 116, 4, 0, -EBADMSG},
	        {"chunk count 2^32-1", 116, 4, 0xffffffffu, -EBADMSG},
	        {"chunk 0 stored size 0", T, 4, 0, -EBADMSG},
	        {"chunk 3 stored size 0", T + 3 * 36, 4, 0, -EBADMSG},
	        {"chunk 1 over zstd bound", T + 36, 4, codec_bound(HELPERS_CHUNK_SIZE) + 1,
	         -EBADMSG},
	        {"last chunk over zstd bound", T + 3 * 36, 4, codec_bound(T_LAST) + 1, -EBADMSG},
	        {"chunk 2 stored size +1", T + 2 * 36, 4, 1001, -EBADMSG}, /* sum != payload */
	};
	struct parts p;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		make_parts(&p, CODEC_ZSTD);
		put_le(p.man + cases[i].off, cases[i].width, cases[i].value);
		int r = parse_manifest(&p);
		if (r != cases[i].code)
			fprintf(stderr, "  manifest case: %s\n", cases[i].what);
		CHECK_EQ(r, cases[i].code);
	}
	make_parts(&p, CODEC_ZSTD);
	memset(p.man, 0, BUNDLE_COMPATIBLE_SIZE); /* empty, but clean */
	CHECK_EQ(parse_manifest(&p), -EBADMSG);
	memset(p.man, 'a', BUNDLE_COMPATIBLE_SIZE); /* printable, but no NUL */
	CHECK_EQ(parse_manifest(&p), -EBADMSG);
	make_parts(&p, CODEC_ZSTD);
	memset(p.man + 136, 'a', BUNDLE_LABEL_SIZE);
	CHECK_EQ(parse_manifest(&p), -EBADMSG);
}

/* A stream's window: 2^10..2^22; above is a window this device will not allocate. */
TEST(bundle_parse_manifest_stream_window)
{
	static const struct {
		uint8_t log;
		int code;
	} cases[] = {{10, 0}, {22, 0}, {9, -EBADMSG}, {0, -EBADMSG}, {23, -EPROTO}, {255, -EPROTO}};
	struct parts p;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		make_parts(&p, CODEC_ZSTD_STREAM);
		p.man[121] = cases[i].log;
		CHECK_EQ(parse_manifest(&p), cases[i].code);
	}
}

TEST(bundle_parse_manifest_refuses_inconsistent_sizes)
{
	struct bundle_manifest m;
	struct parts p;

	/* The sum of the stored sizes must be the header's payload size, exactly. */
	make_parts(&p, CODEC_ZSTD);
	p.h.payload_size++;
	CHECK_EQ(parse_manifest(&p), -EBADMSG);
	p.h.payload_size -= 2;
	CHECK_EQ(parse_manifest(&p), -EBADMSG);
	/* Raw chunks store exactly their inflated size. */
	make_parts(&p, CODEC_NONE);
	put_le(p.man + BUNDLE_MANIFEST_FIXED_SIZE, 4, HELPERS_CHUNK_SIZE - 1);
	p.h.payload_size--;
	CHECK_EQ(parse_manifest(&p), -EBADMSG);
	make_parts(&p, CODEC_NONE);
	put_le(p.man + BUNDLE_MANIFEST_FIXED_SIZE + 3 * 36, 4, HELPERS_CHUNK_SIZE);
	p.h.payload_size += HELPERS_CHUNK_SIZE - T_LAST;
	CHECK_EQ(parse_manifest(&p), -EBADMSG);
	/* The buffer must be as long as the header says, and hold exactly chunk_count entries. */
	make_parts(&p, CODEC_ZSTD);
	CHECK_EQ(bundle_parse_manifest(p.man, sizeof(p.man) - 1, &p.h, &m), -EBADMSG);
	p.h.manifest_size = T_MLEN - 36;
	CHECK_EQ(bundle_parse_manifest(p.man, T_MLEN - 36, &p.h, &m), -EBADMSG);
	p.h.manifest_size = BUNDLE_MANIFEST_FIXED_SIZE - 1;
	CHECK_EQ(bundle_parse_manifest(p.man, BUNDLE_MANIFEST_FIXED_SIZE - 1, &p.h, &m), -EBADMSG);
	/* Five chunks' image with four entries: count and image agree, the length does not. */
	make_parts(&p, CODEC_ZSTD);
	put_le(p.man + 72, 8, 5 * HELPERS_CHUNK_SIZE);
	put_le(p.man + 116, 4, 5);
	CHECK_EQ(parse_manifest(&p), -EBADMSG);
}

TEST(bundle_parse_sigblock_checks_length_and_padding)
{
	uint8_t buf[BUNDLE_SIGBLOCK_SIZE] = {0};
	struct bundle_sigblock s;

	memset(buf, 0x11, CRYPTO_KEY_ID_SIZE);
	put_le(buf + 32, 2, 70);
	memset(buf + 34, 0x22, 70);
	REQUIRE(bundle_parse_sigblock(buf, sizeof(buf), &s) == 0);
	CHECK_EQ(s.sig_len, 70);
	CHECK(s.key_id[31] == 0x11 && s.sig[69] == 0x22);
	CHECK_EQ(bundle_parse_sigblock(buf, sizeof(buf) - 1, &s), -EBADMSG);
	put_le(buf + 32, 2, 72);
	memset(buf + 34, 0x22, 72);
	CHECK_EQ(bundle_parse_sigblock(buf, sizeof(buf), &s), 0);
	for (unsigned bad_len = 0; bad_len < 0x10000; bad_len += bad_len < 80 ? 1 : 0x1000) {
		if (bad_len >= 1 && bad_len <= CRYPTO_SIG_MAX)
			continue;
		put_le(buf + 32, 2, bad_len);
		CHECK_EQ(bundle_parse_sigblock(buf, sizeof(buf), &s), -EBADMSG);
	}
	put_le(buf + 32, 2, 0xffff);
	CHECK_EQ(bundle_parse_sigblock(buf, sizeof(buf), &s), -EBADMSG);
	/* Non-zero padding after a 70-byte signature, right after it and at the very end. */
	memset(buf + 34, 0, sizeof(buf) - 34);
	put_le(buf + 32, 2, 70);
	memset(buf + 34, 0x22, 70);
	buf[34 + 70] = 1;
	CHECK_EQ(bundle_parse_sigblock(buf, sizeof(buf), &s), -EBADMSG);
	buf[34 + 70] = 0;
	buf[BUNDLE_SIGBLOCK_SIZE - 1] = 0x80;
	CHECK_EQ(bundle_parse_sigblock(buf, sizeof(buf), &s), -EBADMSG);
}

/* --- real files ------------------------------------------------------------------------- */

TEST(bundle_open_refuses_truncation_and_trailing_bytes)
{
	struct crypto_keyset *kr = NULL;
	struct helpers_key k;
	struct bundle b;
	uint8_t *file;
	size_t len;

	REQUIRE(helpers_trusted_key("dev", &k, &kr) == 0);
	REQUIRE(helpers_sized_bundle(k.priv, HELPERS_IMAGE_SIZE, HELPERS_LEVEL) == 0);
	crypto_keyset_free(kr);
	REQUIRE(helpers_read_file(test_path("b.sota"), &file, &len) == 0);
	const size_t m = util_le32(file + 12), pay = BUNDLE_HEADER_SIZE + m + BUNDLE_SIGBLOCK_SIZE;
	const size_t cuts[] = {
	        0,
	        1,
	        BUNDLE_HEADER_SIZE - 1,
	        BUNDLE_HEADER_SIZE,
	        BUNDLE_HEADER_SIZE + 1,
	        BUNDLE_HEADER_SIZE + BUNDLE_MANIFEST_FIXED_SIZE,
	        BUNDLE_HEADER_SIZE + m - 1,
	        BUNDLE_HEADER_SIZE + m,
	        BUNDLE_HEADER_SIZE + m + 1,
	        pay - 1,
	        pay,
	        pay + 1,
	        len - 1,
	};
	for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
		REQUIRE(helpers_copy_file(test_path("b.sota"), test_path("cut.sota")) == 0);
		REQUIRE(truncate(test_path("cut.sota"), (off_t)cuts[i]) == 0);
		int r = bundle_open(test_path("cut.sota"), &b);
		if (r != -EBADMSG)
			fprintf(stderr, "  truncated at %zu of %zu\n", cuts[i], len);
		CHECK_EQ(r, -EBADMSG);
		CHECK_EQ(b.fd, -1);
	}
	for (size_t extra = 1; extra <= 65536; extra *= 256) {
		REQUIRE(helpers_copy_file(test_path("b.sota"), test_path("long.sota")) == 0);
		REQUIRE(truncate(test_path("long.sota"), (off_t)(len + extra)) == 0);
		CHECK_EQ(bundle_open(test_path("long.sota"), &b), -EBADMSG);
	}
	CHECK_EQ(bundle_open(test_path("b.sota"), &b), 0);
	bundle_close(&b);
	free(file);
}

/* Copies b.sota, flips the byte at off and returns what open (then verify) says. */
static int open_flipped(const struct crypto_keyset *kr, uint64_t off, bool *opened)
{
	struct bundle b;
	int r;

	*opened = false;
	if (helpers_copy_file(test_path("b.sota"), test_path("f.sota")) < 0 ||
	    helpers_flip_byte(test_path("f.sota"), off) < 0)
		return -999;
	r = bundle_open(test_path("f.sota"), &b);
	if (r < 0)
		return r;
	*opened = true;
	r = bundle_verify(&b, kr, NULL);
	bundle_close(&b);
	return r;
}

TEST(bundle_flipped_byte_in_signed_part_is_refused)
{
	struct crypto_keyset *kr = NULL;
	struct helpers_key k;
	struct bundle b;

	REQUIRE(helpers_trusted_key("dev", &k, &kr) == 0);
	REQUIRE(helpers_sized_bundle(k.priv, HELPERS_IMAGE_SIZE, HELPERS_LEVEL) == 0);
	REQUIRE(bundle_open(test_path("b.sota"), &b) == 0);
	const uint64_t M = BUNDLE_HEADER_SIZE, T = M + BUNDLE_MANIFEST_FIXED_SIZE;
	const uint64_t S = M + b.header.manifest_size, sig_len = b.sig.sig_len;
	const uint64_t last_entry = T + BUNDLE_CHUNK_ENTRY_SIZE * (b.manifest.chunk_count - 1);
	bundle_close(&b);
	const struct {
		const char *what;
		uint64_t off;
		bool opens; /* caught by the signature, not the parser */
		int code;
	} cases[] = {
	        {"header magic", 0, false, -EBADMSG},
	        {"header format", 8, false, -EPROTO},
	        {"header manifest size", 12, false, -EBADMSG},
	        {"header sigblock size", 16, false, -EBADMSG},
	        {"header flags (the verity bit: a section the manifest lacks)", 20, false,
	         -EBADMSG},
	        {"header payload size", 24, false, -EBADMSG},
	        {"header payload size, top byte", 31, false, -EFBIG},
	        {"manifest compatible", M + 0, true, -EKEYREJECTED},
	        {"manifest version", M + 64, true, -EKEYREJECTED},
	        {"manifest image size", M + 72, true, -EKEYREJECTED},
	        {"manifest image digest", M + 80 + 31, true, -EKEYREJECTED},
	        {"manifest created", M + 128, true, -EKEYREJECTED},
	        {"manifest label", M + 136, true, -EKEYREJECTED},
	        {"manifest chunk size", M + 112, false, -EBADMSG},
	        {"manifest compression (2 -> 3)", M + 120, false, -EPROTO},
	        {"manifest window log (22 -> 23)", M + 121, false, -EPROTO},
	        {"manifest reserved", M + 122, false, -EBADMSG},
	        {"chunk table: stored size", T, false, -EBADMSG},
	        {"chunk table: first digest", T + 4, true, -EKEYREJECTED},
	        {"chunk table: last digest", last_entry + 4 + 31, true, -EKEYREJECTED},
	        {"sigblock key id", S, true, -ENOKEY},
	        {"sigblock length, high byte", S + 33, false, -EBADMSG},
	        {"sigblock DER tag", S + 34, true, -EKEYREJECTED},
	        {"sigblock signature middle", S + 34 + sig_len / 2, true, -EKEYREJECTED},
	        {"sigblock signature last", S + 34 + sig_len - 1, true, -EKEYREJECTED},
	        {"sigblock padding", S + BUNDLE_SIGBLOCK_SIZE - 1, false, -EBADMSG},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		bool opened;
		int r = open_flipped(kr, cases[i].off, &opened);
		if (r != cases[i].code || opened != cases[i].opens)
			fprintf(stderr, "  flipped %s (offset %llu): %d, opened %d\n",
			        cases[i].what, (unsigned long long)cases[i].off, r, opened);
		CHECK_EQ(r, cases[i].code);
		CHECK_EQ(opened, cases[i].opens);
	}
	crypto_keyset_free(kr);
}

/* One flipped payload byte in chunk 2: chunks 0 and 1 come out, chunk 2 never does. */
TEST(bundle_untrusted_and_revoked_keys)
{
	struct crypto_keyset *kr = NULL, *other_kr = NULL;
	struct helpers_key k, other;
	uint8_t id[CRYPTO_KEY_ID_SIZE];
	char hex[2 * CRYPTO_KEY_ID_SIZE + 2];
	struct bundle b;

	REQUIRE(helpers_trusted_key("dev", &k, &kr) == 0);
	REQUIRE(helpers_sized_bundle(k.priv, HELPERS_IMAGE_SIZE, HELPERS_LEVEL) == 0);
	REQUIRE(helpers_keypair("other", &other) == 0);
	REQUIRE(crypto_keyset_load(other.dir, &other_kr) == 0);
	REQUIRE(bundle_open(test_path("b.sota"), &b) == 0);
	CHECK_EQ(bundle_verify(&b, other_kr, NULL), -ENOKEY);
	CHECK(!b.verified);
	bundle_close(&b);
	crypto_keyset_free(kr);
	kr = NULL;

	REQUIRE(crypto_key_id_of_file(k.pub, id) == 0);
	util_hex(hex, id, sizeof(id));
	FILE *f = fopen(test_path("dev-keys/revoked"), "w");
	REQUIRE(f);
	fprintf(f, "# rotated out\n%s\n", hex);
	fclose(f);
	REQUIRE(crypto_keyset_load(k.dir, &kr) == 0);
	REQUIRE(bundle_open(test_path("b.sota"), &b) == 0);
	CHECK_EQ(bundle_verify(&b, kr, NULL), -EKEYREVOKED);
	CHECK(!b.verified);
	bundle_close(&b);
	crypto_keyset_free(kr);
	crypto_keyset_free(other_kr);
}
