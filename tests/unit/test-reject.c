/* SPDX-License-Identifier: MIT */
/*
 * The rejection matrix: every bad input an attacker with write access to the
 * data partition can stage, each refused by the applier with its own error
 * and reason, the active slot's bytes unchanged, the device still booting its
 * active slot. docs/security.md shows this very list (reject_matrix_documented
 * fails when the two differ; SYSTEMOTA_MATRIX=FILE writes the table).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <zstd.h>

#include "bundle.h"
#include "fail.h"
#include "helpers.h"
#include "keyring-cases.h"
#include "state.h"
#include "test.h"
#include "util.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

struct ctx {
	struct helpers_device d;
	char good[HELPERS_PATH_MAX];   /* version 2, signed with the device's key */
	char staged[HELPERS_PATH_MAX]; /* where a case stages: drop-in/update.sota */
	struct bundle b;               /* the good bundle, open: its layout */
	struct helpers_fault fault;
};

static int copy_to_staged(struct ctx *x, const char *src)
{
	return helpers_copy_file(src, x->staged);
}

/* Overwrites len bytes at off of the staged file. */
static int poke(struct ctx *x, uint64_t off, const void *data, size_t len)
{
	int fd = open(x->staged, O_WRONLY);
	int r = fd >= 0 && pwrite(fd, data, len, (off_t)off) == (ssize_t)len ? 0 : -EIO;

	if (fd >= 0)
		close(fd);
	return r;
}

static int truncate_staged(struct ctx *x, uint64_t size)
{
	int r = copy_to_staged(x, x->good);
	return r < 0 ? r : truncate(x->staged, (off_t)size) < 0 ? -errno : 0;
}

/* Signs the staged file's (changed) header and manifest again with the device's key. */
static int resign(struct ctx *x)
{
	uint8_t digest[CRYPTO_DIGEST_SIZE], block[BUNDLE_SIGBLOCK_SIZE];
	struct bundle_sigblock s;
	size_t head = BUNDLE_HEADER_SIZE + x->b.header.manifest_size, sig_len;
	uint8_t *buf = NULL;
	size_t len;
	int r = helpers_read_file(x->staged, &buf, &len);

	if (r < 0)
		return r;
	crypto_sha256(buf, head, digest);
	r = crypto_sign(x->d.key.priv, digest, s.sig, &sig_len, s.key_id);
	free(buf);
	if (r < 0)
		return r;
	s.sig_len = (uint16_t)sig_len;
	bundle_write_sigblock(&s, block);
	return poke(x, head, block, sizeof(block));
}

static int flip(struct ctx *x, uint64_t off)
{
	int r = copy_to_staged(x, x->good);
	return r < 0 ? r : helpers_flip_byte(x->staged, off);
}

static int set_le(struct ctx *x, uint64_t off, int width, uint64_t v, bool sign)
{
	uint8_t b[8];
	int r = copy_to_staged(x, x->good);

	for (int i = 0; i < width; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	if (r == 0)
		r = poke(x, off, b, (size_t)width);
	return r == 0 && sign ? resign(x) : r;
}

#define MAN(off) (BUNDLE_HEADER_SIZE + (off))
#define SIG (BUNDLE_HEADER_SIZE + x->b.header.manifest_size)

static int wrong_key(struct ctx *x)
{
	struct helpers_key other;
	int r = helpers_keypair("other", &other);
	if (r == 0)
		r = helpers_update("rogue", other.priv, 2);
	return r < 0 ? r : copy_to_staged(x, test_path("rogue.sota"));
}

static int revoked_key(struct ctx *x)
{
	uint8_t id[CRYPTO_KEY_ID_SIZE];
	char hex[2 * CRYPTO_KEY_ID_SIZE + 2], path[HELPERS_PATH_MAX + 16];
	int r = crypto_key_id_of_file(x->d.key.pub, id);
	FILE *f;

	if (r < 0)
		return r;
	util_hex(hex, id, sizeof(id));
	snprintf(path, sizeof(path), "%s/revoked", x->d.key.dir);
	if (!(f = fopen(path, "w")))
		return -errno;
	fprintf(f, "# compromised\n%s\n", hex);
	fclose(f);
	crypto_keyset_free(x->d.keys);
	r = crypto_keyset_load(x->d.key.dir, &x->d.keys);
	x->d.cfg.keys = x->d.keys;
	return r < 0 ? r : copy_to_staged(x, x->good);
}

static int corrupt_signature(struct ctx *x)
{
	return flip(x, SIG + 34 + 10);
}

static int signature_of_another_manifest(struct ctx *x)
{
	uint8_t block[BUNDLE_SIGBLOCK_SIZE];
	int r = helpers_update("v3", x->d.key.priv, 3), fd;

	if (r < 0)
		return r;
	fd = open(test_path("v3.sota"), O_RDONLY);
	if (fd < 0 || pread(fd, block, sizeof(block), SIG) != (ssize_t)sizeof(block))
		r = -EIO;
	if (fd >= 0)
		close(fd);
	return r < 0                                  ? r
	       : (r = copy_to_staged(x, x->good)) < 0 ? r
	                                              : poke(x, SIG, block, sizeof(block));
}

static int empty_file(struct ctx *x)
{
	return truncate_staged(x, 0);
}
static int cut_in_header(struct ctx *x)
{
	return truncate_staged(x, 31);
}
static int cut_in_manifest(struct ctx *x)
{
	return truncate_staged(x, MAN(100));
}
static int cut_in_chunk_table(struct ctx *x)
{
	return truncate_staged(x, MAN(BUNDLE_MANIFEST_FIXED_SIZE + 40));
}
static int cut_in_signature(struct ctx *x)
{
	return truncate_staged(x, SIG + 10);
}
static int cut_in_payload(struct ctx *x)
{
	return truncate_staged(x, x->b.file_size - 1);
}
static int still_being_copied(struct ctx *x)
{
	return truncate_staged(x, x->b.payload_offset + (x->b.file_size - x->b.payload_offset) / 2);
}

static int trailing_garbage(struct ctx *x)
{
	int r = copy_to_staged(x, x->good);
	return r < 0 ? r : poke(x, x->b.file_size, "garbage", 7);
}

static int flip_header_magic(struct ctx *x)
{
	return flip(x, 2);
}
static int flip_manifest_version(struct ctx *x)
{
	return flip(x, MAN(64));
}
static int flip_chunk_table(struct ctx *x)
{
	return flip(x, MAN(BUNDLE_MANIFEST_FIXED_SIZE + 36 + 10));
}
static int flip_payload(struct ctx *x)
{
	return flip(x, x->b.file_size - 100);
}
static int unknown_format(struct ctx *x)
{
	return set_le(x, 8, 4, 3, false);
}
static int unknown_flags(struct ctx *x)
{
	return set_le(x, 20, 4, 2, false); /* bit 0 is BUNDLE_FLAG_VERITY */
}
static int manifest_size_overflows(struct ctx *x)
{
	return set_le(x, 12, 4, 0xffffffffu, false);
}
static int payload_size_overflows(struct ctx *x)
{
	return set_le(x, 24, 8, (uint64_t)1 << 63, false);
}
static int chunk_count_inconsistent(struct ctx *x)
{
	return set_le(x, MAN(116), 4, x->b.manifest.chunk_count + 1, true);
}
static int chunk_sizes_inconsistent(struct ctx *x)
{
	struct bundle_chunk c;
	bundle_chunk(&x->b.manifest, 1, &c);
	/* Signed, but the sizes no longer add up to the header's payload size. */
	return set_le(x, MAN(BUNDLE_MANIFEST_FIXED_SIZE + 36), 4, c.stored_size + 1, true);
}
static int unsupported_compression(struct ctx *x)
{
	return set_le(x, MAN(120), 1, 7, true);
}
static int wrong_compatible(struct ctx *x)
{
	struct create_options o;
	helpers_bundle_options(&o, test_path("v2.img"), test_path("other.sota"), x->d.key.priv, 2);
	o.compatible = "another-board";
	int r = create_bundle(&o);
	return r < 0 ? r : copy_to_staged(x, test_path("other.sota"));
}
static int downgrade(struct ctx *x)
{
	int r = helpers_update("v1", x->d.key.priv, 1);
	return r < 0 ? r : copy_to_staged(x, test_path("v1.sota"));
}
static int below_floor(struct ctx *x)
{
	struct state_record st;
	int r = helpers_read_state(x->d.state, &st);
	if (r == 0) {
		st.version_floor = 5; /* a confirmed bundle raised it */
		r = helpers_write_state(x->d.state, &st);
	}
	return r < 0 ? r : copy_to_staged(x, x->good);
}
static int image_larger_than_slot(struct ctx *x)
{
	int r = helpers_image(test_path("big.img"), HELPERS_SLOT_SIZE + 65536, 9);
	if (r == 0)
		r = helpers_bundle(test_path("big.sota"), test_path("big.img"), x->d.key.priv, 2);
	return r < 0 ? r : copy_to_staged(x, test_path("big.sota"));
}

/* A signed bundle of one 64 KiB chunk whose frame is made by make_frame. */
static int crafted_chunk(struct ctx *x, size_t (*make)(uint8_t *out, size_t cap))
{
	static uint8_t frame[1 << 20];
	struct bundle_manifest m = {0};
	size_t n = make(frame, sizeof(frame));
	const uint8_t *chunks[1] = {frame};
	uint32_t sizes[1] = {(uint32_t)n};

	if (!n)
		return -EIO;
	util_set_string(m.compatible, sizeof(m.compatible), HELPERS_COMPATIBLE);
	util_set_string(m.label, sizeof(m.label), "crafted");
	m.version = 2;
	m.image_size = HELPERS_CHUNK_SIZE;
	m.chunk_size = HELPERS_CHUNK_SIZE;
	m.chunk_count = 1;
	m.compression = 1;
	int r = helpers_write_bundle(test_path("crafted.sota"), x->d.key.priv, &m, chunks, sizes);
	return r < 0 ? r : copy_to_staged(x, test_path("crafted.sota"));
}
static size_t bomb_frame(uint8_t *out, size_t cap)
{
	/* 16 MiB of zeros in a frame, for a 64 KiB chunk. */
	size_t len = 16u << 20;
	uint8_t *zeros = calloc(1, len);
	size_t n = zeros ? ZSTD_compress(out, cap, zeros, len, 3) : 0;
	free(zeros);
	return ZSTD_isError(n) ? 0 : n;
}
static size_t big_window_frame(uint8_t *out, size_t cap)
{
	/* The chunk's own 64 KiB, but in a frame that asks for a 128 MiB window. */
	uint8_t data[HELPERS_CHUNK_SIZE] = {0};
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 27);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
	ZSTD_outBuffer o = {out, cap, 0};
	/* In two pieces, so zstd cannot shrink the window to the input it already knows. */
	ZSTD_inBuffer i = {data, sizeof(data) / 2, 0};
	size_t r = ZSTD_compressStream2(c, &o, &i, ZSTD_e_continue);
	ZSTD_inBuffer rest = {data + sizeof(data) / 2, sizeof(data) / 2, 0};
	if (!ZSTD_isError(r))
		r = ZSTD_compressStream2(c, &o, &rest, ZSTD_e_end);
	ZSTD_freeCCtx(c);
	return r == 0 ? o.pos : 0;
}
static int decompression_bomb(struct ctx *x)
{
	return crafted_chunk(x, bomb_frame);
}
static int window_too_large(struct ctx *x)
{
	return crafted_chunk(x, big_window_frame);
}

static int directory(struct ctx *x)
{
	return mkdir(x->staged, 0755) < 0 ? -errno : 0;
}
static int fifo(struct ctx *x)
{
	return mkfifo(x->staged, 0644) < 0 ? -errno : 0;
}
static int symlink_to_bundle(struct ctx *x)
{
	return symlink(x->good, x->staged) < 0 ? -errno : 0;
}
static int device_node(struct ctx *x)
{
	return mknod(x->staged, S_IFCHR | 0644, makedev(1, 3)) < 0 ? -errno : 0;
}

/* Rewrites the last chunk in the file while the applier streams the first ones. */
static int modify_during_apply(void *ud, enum io_op op, int fd, const char *path, size_t len)
{
	struct ctx *x = ud;
	(void)path;
	if (op == IO_READ && len > 0 && fd >= 0 && ++x->fault.calls == 4) {
		int w = open(x->staged, O_WRONLY);
		if (w >= 0) {
			uint8_t junk[256];
			memset(junk, 0xa5, sizeof(junk));
			(void)!pwrite(w, junk, sizeof(junk), (off_t)(x->b.file_size - 300));
			close(w);
		}
	}
	return 0;
}
static int modified_during_apply(struct ctx *x)
{
	x->fault.hooks = (struct io_hooks){.before = modify_during_apply, .userdata = x};
	return copy_to_staged(x, x->good);
}

#define KEYRING_CASE(name, which)                                                                  \
	static int name(struct ctx *x)                                                             \
	{                                                                                          \
		return keyring_case_stage(&x->d, x->staged, which);                                \
	}
KEYRING_CASE(kr_revoked, KEYRING_CASE_REVOKED)
KEYRING_CASE(kr_replayed, KEYRING_CASE_REPLAYED)
KEYRING_CASE(kr_older, KEYRING_CASE_OLDER)
KEYRING_CASE(kr_by_signing_key, KEYRING_CASE_BY_SIGNING_KEY)
KEYRING_CASE(kr_broken_link, KEYRING_CASE_BROKEN_LINK)
KEYRING_CASE(kr_drops, KEYRING_CASE_DROPS)
KEYRING_CASE(kr_fork, KEYRING_CASE_FORK)
KEYRING_CASE(kr_expired, KEYRING_CASE_EXPIRED)
KEYRING_CASE(kr_flat, KEYRING_CASE_FLAT)
KEYRING_CASE(kr_by_root, KEYRING_CASE_BY_ROOT)
KEYRING_CASE(kr_malformed, KEYRING_CASE_MALFORMED)

struct reject_case {
	const char *input; /* the bad input, as docs/security.md names it */
	int (*stage)(struct ctx *x);
	int code;
	const char *reason; /* what `systemota status` shows, in part */
	bool writes_b;      /* refused while streaming: slot B is incomplete, not untouched */
};

static const struct reject_case cases[] = {
        {"signed by a key the device does not trust", wrong_key, -ENOKEY, "which is not trusted"},
        {"signed by a revoked key", revoked_key, -EKEYREVOKED, "signed by revoked key"},
        {"corrupt signature", corrupt_signature, -EKEYREJECTED, "signature does not verify"},
        {"signature over a different manifest", signature_of_another_manifest, -EKEYREJECTED,
         "signature does not verify"},
        {"empty file", empty_file, -EBADMSG, "no room for the header"},
        {"truncated in the header", cut_in_header, -EBADMSG, "no room for the header"},
        {"truncated in the manifest", cut_in_manifest, -EBADMSG, "bundle truncated"},
        {"truncated in the chunk table", cut_in_chunk_table, -EBADMSG, "bundle truncated"},
        {"truncated in the signature", cut_in_signature, -EBADMSG, "bundle truncated"},
        {"truncated in the payload", cut_in_payload, -EBADMSG, "bundle truncated"},
        {"still being copied (half of it there)", still_being_copied, -EBADMSG, "bundle truncated"},
        {"trailing garbage", trailing_garbage, -EBADMSG, "trailing bytes after the payload"},
        {"one flipped byte in the header", flip_header_magic, -EBADMSG, "bad magic"},
        {"one flipped byte in the manifest", flip_manifest_version, -EKEYREJECTED,
         "signature does not verify"},
        {"one flipped byte in the chunk table", flip_chunk_table, -EKEYREJECTED,
         "signature does not verify"},
        {"one flipped byte in the payload", flip_payload, -EBADMSG, "digest mismatch", true},
        {"unknown format version", unknown_format, -EPROTO, "unsupported bundle format 3"},
        {"unknown header flags", unknown_flags, -EPROTO, "unsupported bundle flags"},
        {"manifest length that overflows", manifest_size_overflows, -EBADMSG, "manifest size"},
        {"payload length that overflows", payload_size_overflows, -EFBIG,
         "payload size 9223372036854775808 exceeds the maximum"},
        {"chunk count inconsistent with the image (signed)", chunk_count_inconsistent, -EBADMSG,
         "does not cover image size"},
        {"chunk sizes inconsistent with the payload (signed)", chunk_sizes_inconsistent, -EBADMSG,
         "chunk sizes add up to"},
        {"unsupported compression (signed)", unsupported_compression, -EPROTO,
         "unsupported compression 7"},
        {"declared image larger than the slot", image_larger_than_slot, -ENOSPC,
         "does not fit the"},
        {"decompression bomb (signed)", decompression_bomb, -EBADMSG, "chunk 0:", true},
        {"zstd frame asking for a 128 MiB window (signed)", window_too_large, -EBADMSG,
         "asks for a 134217728-byte window", true},
        {"wrong compatible string", wrong_compatible, -EMEDIUMTYPE,
         "bundle is for 'another-board'"},
        {"downgrade (older than installed)", downgrade, -ESTALE, "is not newer than the installed"},
        {"below the version floor", below_floor, -ESTALE, "below the minimum version"},
        {"a directory named x.sota", directory, -EBADMSG, "not a regular file"},
        {"a FIFO named x.sota", fifo, -EBADMSG, "not a regular file"},
        {"a symlink (to a good bundle) named x.sota", symlink_to_bundle, -EBADMSG,
         "a symlink, not a bundle"},
        {"a device node named x.sota", device_node, -EBADMSG, "not a regular file"},
        {"modified on disk while being applied", modified_during_apply, -EBADMSG, "digest mismatch",
         true},
        {"signed by a key the device's keyring revokes", kr_revoked, -EKEYREVOKED,
         "signed by revoked key"},
        {"a replayed older keyring that still trusts the revoked key", kr_replayed, -EKEYREVOKED,
         "signed by revoked key"},
        {"an older keyring than the device's", kr_older, -ESTALE,
         "older than the device's keyring 3"},
        {"a keyring signed by a signing key, not a root key", kr_by_signing_key, -ENOKEY,
         "a signing key of keyring 2, not a root"},
        {"a keyring chain with a broken link", kr_broken_link, -ENOKEY, "(broken chain)"},
        {"a keyring that drops a revocation", kr_drops, -EKEYREJECTED,
         "drops keyring 3's revocation"},
        {"another keyring of the device's keyring's version", kr_fork, -EKEYREJECTED,
         "differs from the device's keyring 3"},
        {"signed by a key past its until_version", kr_expired, -EKEYEXPIRED,
         "allows it up to version 1"},
        {"a format 1 bundle once a keyring is adopted", kr_flat, -ENOKEY,
         "format 1 bundle, without a keyring"},
        {"signed by a root key, not a signing key", kr_by_root, -ENOKEY,
         "a root key of keyring 1, not a signing key"},
        {"a keyring in the chain that does not parse", kr_malformed, -EBADMSG,
         "reserved bytes are not zero"},
};

/* Runs one case on a fresh device: refused, as it says, and nothing else changed. */
static void run_case(const struct reject_case *c, size_t i)
{
	uint8_t a0[CRYPTO_DIGEST_SIZE], a1[CRYPTO_DIGEST_SIZE], b0[CRYPTO_DIGEST_SIZE],
	        b1[CRYPTO_DIGEST_SIZE];
	struct ctx *x = calloc(1, sizeof(*x));
	struct state_record st;
	char sub[16];
	uint8_t slot = 9;

	REQUIRE(x);
	snprintf(sub, sizeof(sub), "case%02zu", i);
	REQUIRE(test_subdir(sub) == 0);
	REQUIRE(helpers_device(&x->d) == 0);
	REQUIRE(helpers_update("v2", x->d.key.priv, 2) == 0);
	snprintf(x->good, sizeof(x->good), "%s", test_path("v2.sota"));
	snprintf(x->staged, sizeof(x->staged), "%s/update.sota", x->d.dropin);
	REQUIRE(bundle_open(x->good, &x->b) == 0); /* its layout: sizes, offsets, chunk table */
	REQUIRE(helpers_slot_digest(&x->d, 0, a0) == 0);
	REQUIRE(helpers_slot_digest(&x->d, 1, b0) == 0);
	int r = c->stage(x);
	if (r < 0)
		fprintf(stderr, "  %s: cannot stage it (%d)\n", c->input, r);
	REQUIRE(r == 0);
	if (x->fault.hooks.before)
		io_set_hooks(&x->fault.hooks);
	r = apply_run(&x->d.cfg, &slot);
	io_set_hooks(NULL);
	REQUIRE(helpers_read_state(x->d.state, &st) == 0);
	bool ok = r == c->code && slot == 0 && st.state == STATE_IDLE && st.active == 0 &&
	          st.last_error == -c->code && strstr(st.last_reason, c->reason);
	if (!ok)
		fprintf(stderr, "  %s: got %d (%s), slot %c, reason '%s'; want %s, '%s'\n",
		        c->input, r, fail_code_name(r), state_slot_letter(slot), st.last_reason,
		        fail_code_name(c->code), c->reason);
	CHECK(ok);
	REQUIRE(helpers_slot_digest(&x->d, 0, a1) == 0);
	CHECK(memcmp(a0, a1, sizeof(a0)) == 0); /* the active slot, never written */
	REQUIRE(helpers_slot_digest(&x->d, 1, b1) == 0);
	if (!c->writes_b)
		CHECK(memcmp(b0, b1, sizeof(b0)) == 0);
	else
		CHECK_EQ(st.slot[1].status, SLOT_INCOMPLETE);
	bundle_close(&x->b);
	helpers_device_free(&x->d);
	free(x);
}

TEST(reject_matrix)
{
	CHECK(ARRAY_SIZE(cases) >= 25);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		run_case(&cases[i], i);
}

/* The table of docs/security.md, from the list above. */
static void write_table(FILE *f)
{
	fprintf(f, "| # | bad input | error | the reason says (`systemota status`) |\n");
	fprintf(f, "| ---: | --- | --- | --- |\n");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		fprintf(f, "| %zu | %s | `%s` | ...%s... |\n", i + 1, cases[i].input,
		        fail_code_name(cases[i].code), cases[i].reason);
}

TEST(reject_matrix_documented)
{
	char *table = NULL, *doc = NULL;
	size_t tlen = 0, dlen = 0;
	FILE *f = open_memstream(&table, &tlen);

	REQUIRE(f);
	write_table(f);
	fclose(f);
	const char *out = getenv("SYSTEMOTA_MATRIX");
	if (out && (f = fopen(out, "w"))) {
		fputs(table, f);
		fclose(f);
	}
	REQUIRE(helpers_read_file(TOP_SRCDIR "/docs/security.md", (uint8_t **)&doc, &dlen) == 0);
	doc = realloc(doc, dlen + 1);
	REQUIRE(doc);
	doc[dlen] = '\0';
	if (!strstr(doc, table))
		fprintf(stderr, "  docs/security.md does not hold the matrix: run make docs\n");
	CHECK(strstr(doc, table) != NULL);
	free(doc);
	free(table);
}
