/* SPDX-License-Identifier: MIT */
#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec.h"
#include "fail.h"
#include "io.h"
#include "util.h"

/*
 * Header, 32 bytes:
 *   0 magic[8] "SOTABNDL"   8 format u32 (1 or 2)   12 manifest_size u32
 *  16 sigblock_size u32 (format 1: 128; format 2: 128 + the keyring chain)
 *  20 flags u32 (0, or BUNDLE_FLAG_VERITY)   24 payload_size u64
 */
int bundle_parse_header(const uint8_t *buf, size_t len, struct bundle_header *ret)
{
	struct bundle_header h;

	if (len < BUNDLE_HEADER_SIZE)
		return fail(-EBADMSG, "bundle truncated: %zu bytes, no room for the header", len);
	if (memcmp(buf, BUNDLE_MAGIC, 8) != 0)
		return fail(-EBADMSG, "not a SystemOTA bundle (bad magic)");
	h.format = util_le32(buf + 8);
	h.manifest_size = util_le32(buf + 12);
	h.sigblock_size = util_le32(buf + 16);
	h.flags = util_le32(buf + 20);
	h.payload_size = util_le64(buf + 24);
	if (h.format != BUNDLE_FORMAT && h.format != BUNDLE_FORMAT_KEYRING)
		return fail(-EPROTO, "unsupported bundle format %u (this applier reads %d and %d)",
		            h.format, BUNDLE_FORMAT, BUNDLE_FORMAT_KEYRING);
	if (h.flags & ~BUNDLE_FLAG_VERITY)
		return fail(-EPROTO, "unsupported bundle flags 0x%x", h.flags);
	if (h.format == BUNDLE_FORMAT && h.sigblock_size != BUNDLE_SIGBLOCK_SIZE)
		return fail(-EBADMSG, "signature block size %u, must be %d", h.sigblock_size,
		            BUNDLE_SIGBLOCK_SIZE);
	if (h.format == BUNDLE_FORMAT_KEYRING &&
	    (h.sigblock_size < BUNDLE_SIGBLOCK_SIZE + KEYRING_MIN_SIZE ||
	     h.sigblock_size > BUNDLE_SIGBLOCK_SIZE + KEYRING_MAX_CHAIN * KEYRING_MAX_SIZE))
		return fail(-EBADMSG, "signature block size %u outside %d..%d (a keyring chain)",
		            h.sigblock_size, BUNDLE_SIGBLOCK_SIZE + KEYRING_MIN_SIZE,
		            BUNDLE_SIGBLOCK_SIZE + KEYRING_MAX_CHAIN * KEYRING_MAX_SIZE);
	if (h.manifest_size < BUNDLE_MANIFEST_FIXED_SIZE ||
	    h.manifest_size > BUNDLE_MAX_MANIFEST_SIZE)
		return fail(-EBADMSG, "manifest size %u outside %d..%d", h.manifest_size,
		            BUNDLE_MANIFEST_FIXED_SIZE, BUNDLE_MAX_MANIFEST_SIZE);
	if (h.payload_size > BUNDLE_MAX_CHUNKS * (uint64_t)codec_bound(BUNDLE_MAX_CHUNK_SIZE))
		return fail(-EFBIG, "payload size %llu exceeds the maximum",
		            (unsigned long long)h.payload_size);
	*ret = h;
	return 0;
}

/*
 * Manifest, 192 bytes then the chunk table:
 *   0 compatible[64]  64 version u64  72 image_size u64  80 image_sha256[32]
 * 112 chunk_size u32  116 chunk_count u32  120 compression u8  121 window_log u8
 * 122 reserved[6] (0)
 * 128 created u64  136 label[32]  168 floor u64  176 reserved[16] (0)
 * 192 chunk_count x { stored_size u32, sha256[32] }
 * then, with BUNDLE_FLAG_VERITY, the verity section (96 bytes):
 *   0 hash u8 (1: SHA-256)  1 data_block_log u8 (12)  2 hash_block_log u8 (12)
 *   3 salt_size u8 (32)  4 reserved[4] (0)  8 hash_size u64  16 root_hash[32]
 *  48 salt[32]  80 reserved[16] (0)
 */
#define VERITY_HASH_SHA256 1
#define VERITY_BLOCK_LOG 12

uint32_t bundle_manifest_size(uint32_t chunk_count, bool verity)
{
	return BUNDLE_MANIFEST_FIXED_SIZE + BUNDLE_CHUNK_ENTRY_SIZE * chunk_count +
	       (verity ? BUNDLE_VERITY_SIZE : 0);
}

int bundle_verity_geometry(const struct bundle_manifest *m, struct verity_geometry *ret)
{
	if (m->image_size % VERITY_BLOCK_SIZE)
		return fail(-EINVAL, "a verity image is whole 4096-byte blocks; %llu bytes is not",
		            (unsigned long long)m->image_size);
	int r = verity_geometry(m->image_size / VERITY_BLOCK_SIZE, ret);
	return r < 0 ? fail(r, "image of %llu bytes is too large for a verity tree",
	                    (unsigned long long)m->image_size)
	             : 0;
}

static int parse_verity(const uint8_t *v, struct bundle_manifest *m)
{
	struct verity_geometry g;

	if (v[0] != VERITY_HASH_SHA256 || v[1] != VERITY_BLOCK_LOG || v[2] != VERITY_BLOCK_LOG ||
	    v[3] != VERITY_SALT_SIZE)
		return fail(
		        -EPROTO,
		        "unsupported verity tree (hash %u, blocks 2^%u and 2^%u, salt %u bytes): "
		        "this applier reads SHA-256, 4096-byte blocks, a 32-byte salt",
		        v[0], v[1], v[2], v[3]);
	if (!util_is_zero(v + 4, 4) || !util_is_zero(v + 80, 16))
		return fail(-EBADMSG, "manifest verity section's reserved bytes are not zero");
	m->verity.on = true;
	m->verity.hash_size = util_le64(v + 8);
	memcpy(m->verity.root, v + 16, CRYPTO_DIGEST_SIZE);
	memcpy(m->verity.salt, v + 48, VERITY_SALT_SIZE);
	if (m->image_size % VERITY_BLOCK_SIZE)
		return fail(-EBADMSG, "verity image size %llu is not whole 4096-byte blocks",
		            (unsigned long long)m->image_size);
	verity_geometry(m->image_size / VERITY_BLOCK_SIZE, &g); /* image_size is bounded */
	if (m->verity.hash_size != g.hash_blocks * VERITY_BLOCK_SIZE)
		return fail(-EBADMSG, "verity tree of %llu bytes; an image of %llu bytes has %llu",
		            (unsigned long long)m->verity.hash_size,
		            (unsigned long long)m->image_size,
		            (unsigned long long)(g.hash_blocks * VERITY_BLOCK_SIZE));
	return 0;
}
static int check_table(const struct bundle_manifest *m, const struct bundle_header *h)
{
	uint64_t total = 0;

	for (uint32_t i = 0; i < m->chunk_count; i++) {
		struct bundle_chunk c;
		bundle_chunk(m, i, &c);
		if (c.stored_size == 0)
			return fail(-EBADMSG, "chunk %u has stored size 0", i);
		if (m->compression == CODEC_NONE && c.stored_size != c.size)
			return fail(-EBADMSG, "uncompressed chunk %u stores %u bytes for %u", i,
			            c.stored_size, c.size);
		if (c.stored_size > codec_bound(c.size))
			return fail(-EBADMSG, "chunk %u stored size %u exceeds the bound %zu", i,
			            c.stored_size, codec_bound(c.size));
		total += c.stored_size;
	}
	if (total != h->payload_size)
		return fail(-EBADMSG, "chunk sizes add up to %llu, header declares %llu",
		            (unsigned long long)total, (unsigned long long)h->payload_size);
	return 0;
}

int bundle_parse_manifest(const uint8_t *buf, size_t len, const struct bundle_header *h,
                          struct bundle_manifest *ret)
{
	struct bundle_manifest m;

	if (len != h->manifest_size || len < BUNDLE_MANIFEST_FIXED_SIZE)
		return fail(-EBADMSG, "manifest is %zu bytes, header declares %u", len,
		            h->manifest_size);
	if (!util_is_clean_string(buf, BUNDLE_COMPATIBLE_SIZE) || buf[0] == 0)
		return fail(-EBADMSG, "manifest compatible string is empty or not clean ASCII");
	if (!util_is_clean_string(buf + 136, BUNDLE_LABEL_SIZE))
		return fail(-EBADMSG, "manifest label is not clean ASCII");
	if (!util_is_zero(buf + 122, 6) || !util_is_zero(buf + 176, 16))
		return fail(-EBADMSG, "manifest reserved bytes are not zero");
	memcpy(m.compatible, buf, BUNDLE_COMPATIBLE_SIZE);
	m.version = util_le64(buf + 64);
	m.image_size = util_le64(buf + 72);
	memcpy(m.image_digest, buf + 80, CRYPTO_DIGEST_SIZE);
	m.chunk_size = util_le32(buf + 112);
	m.chunk_count = util_le32(buf + 116);
	m.compression = buf[120];
	m.window_log = buf[121];
	m.created = util_le64(buf + 128);
	m.floor = util_le64(buf + 168);
	memcpy(m.label, buf + 136, BUNDLE_LABEL_SIZE);
	m.table = buf + BUNDLE_MANIFEST_FIXED_SIZE;
	memset(&m.verity, 0, sizeof(m.verity));

	if (m.floor > m.version)
		return fail(-EBADMSG, "manifest floor %llu is above its own version %llu",
		            (unsigned long long)m.floor, (unsigned long long)m.version);
	if (m.compression > CODEC_ZSTD_STREAM)
		return fail(-EPROTO, "unsupported compression %u", m.compression);
	if (m.compression != CODEC_ZSTD_STREAM && m.window_log != 0)
		return fail(-EBADMSG, "window_log %u set for compression %u", m.window_log,
		            m.compression);
	if (m.compression == CODEC_ZSTD_STREAM && m.window_log > CODEC_MAX_WINDOW_LOG)
		return fail(-EPROTO, "zstd window 2^%u is above this device's 2^%d", m.window_log,
		            CODEC_MAX_WINDOW_LOG);
	if (m.compression == CODEC_ZSTD_STREAM && m.window_log < CODEC_MIN_WINDOW_LOG)
		return fail(-EBADMSG, "zstd window 2^%u is below zstd's 2^%d", m.window_log,
		            CODEC_MIN_WINDOW_LOG);
	if (m.chunk_size < BUNDLE_MIN_CHUNK_SIZE || m.chunk_size > BUNDLE_MAX_CHUNK_SIZE ||
	    (m.chunk_size & (m.chunk_size - 1)))
		return fail(-EBADMSG, "chunk size %u is not a power of two in %u..%u", m.chunk_size,
		            BUNDLE_MIN_CHUNK_SIZE, BUNDLE_MAX_CHUNK_SIZE);
	if (m.image_size == 0 || m.image_size > BUNDLE_MAX_IMAGE_SIZE)
		return fail(-EFBIG, "image size %llu outside 1..%llu",
		            (unsigned long long)m.image_size,
		            (unsigned long long)BUNDLE_MAX_IMAGE_SIZE);
	if (m.chunk_count > BUNDLE_MAX_CHUNKS ||
	    m.chunk_count != (m.image_size + m.chunk_size - 1) / m.chunk_size)
		return fail(-EBADMSG, "chunk count %u does not cover image size %llu",
		            m.chunk_count, (unsigned long long)m.image_size);
	bool verity = h->flags & BUNDLE_FLAG_VERITY;
	if ((uint64_t)len != bundle_manifest_size(m.chunk_count, verity))
		return fail(-EBADMSG, "manifest size %zu does not match %u chunk entries%s", len,
		            m.chunk_count, verity ? " and the verity section" : "");
	int r = verity ? parse_verity(buf + len - BUNDLE_VERITY_SIZE, &m) : 0;
	if (r == 0)
		r = check_table(&m, h);
	if (r < 0)
		return r;
	*ret = m;
	return 0;
}

/* Signature block, 128 bytes: 0 key_id[32]  32 sig_len u16 (1..72)  34 sig[94], zero-padded */
int bundle_parse_sigblock(const uint8_t *buf, size_t len, struct bundle_sigblock *ret)
{
	struct bundle_sigblock s;

	if (len != BUNDLE_SIGBLOCK_SIZE)
		return fail(-EBADMSG, "signature block is %zu bytes, must be %d", len,
		            BUNDLE_SIGBLOCK_SIZE);
	memcpy(s.key_id, buf, CRYPTO_KEY_ID_SIZE);
	s.sig_len = util_le16(buf + 32);
	if (s.sig_len == 0 || s.sig_len > CRYPTO_SIG_MAX)
		return fail(-EBADMSG, "signature length %u outside 1..%d", s.sig_len,
		            CRYPTO_SIG_MAX);
	if (!util_is_zero(buf + 34 + s.sig_len, BUNDLE_SIGBLOCK_SIZE - 34 - s.sig_len))
		return fail(-EBADMSG, "signature block padding is not zero");
	memcpy(s.sig, buf + 34, s.sig_len);
	*ret = s;
	return 0;
}

void bundle_chunk(const struct bundle_manifest *m, uint32_t i, struct bundle_chunk *ret)
{
	const uint8_t *e = m->table + (size_t)BUNDLE_CHUNK_ENTRY_SIZE * i;
	uint64_t start = (uint64_t)i * m->chunk_size;

	ret->stored_size = util_le32(e);
	ret->digest = e + 4;
	ret->size = (uint32_t)MIN((uint64_t)m->chunk_size, m->image_size - start);
}

void bundle_write_header(const struct bundle_header *h, uint8_t out[BUNDLE_HEADER_SIZE])
{
	memset(out, 0, BUNDLE_HEADER_SIZE);
	memcpy(out, BUNDLE_MAGIC, 8);
	util_put_le32(out + 8, h->format);
	util_put_le32(out + 12, h->manifest_size);
	util_put_le32(out + 16, h->sigblock_size);
	util_put_le32(out + 20, h->flags);
	util_put_le64(out + 24, h->payload_size);
}

void bundle_write_manifest_fixed(const struct bundle_manifest *m,
                                 uint8_t out[BUNDLE_MANIFEST_FIXED_SIZE])
{
	memset(out, 0, BUNDLE_MANIFEST_FIXED_SIZE);
	memcpy(out, m->compatible, BUNDLE_COMPATIBLE_SIZE);
	util_put_le64(out + 64, m->version);
	util_put_le64(out + 72, m->image_size);
	memcpy(out + 80, m->image_digest, CRYPTO_DIGEST_SIZE);
	util_put_le32(out + 112, m->chunk_size);
	util_put_le32(out + 116, m->chunk_count);
	out[120] = m->compression;
	out[121] = m->window_log;
	util_put_le64(out + 128, m->created);
	util_put_le64(out + 168, m->floor);
	memcpy(out + 136, m->label, BUNDLE_LABEL_SIZE);
}

void bundle_write_chunk_entry(uint8_t *out, uint32_t stored_size, const uint8_t *digest)
{
	util_put_le32(out, stored_size);
	memcpy(out + 4, digest, CRYPTO_DIGEST_SIZE);
}

void bundle_write_verity(const struct bundle_verity *v, uint8_t out[BUNDLE_VERITY_SIZE])
{
	memset(out, 0, BUNDLE_VERITY_SIZE);
	out[0] = VERITY_HASH_SHA256;
	out[1] = VERITY_BLOCK_LOG;
	out[2] = VERITY_BLOCK_LOG;
	out[3] = VERITY_SALT_SIZE;
	util_put_le64(out + 8, v->hash_size);
	memcpy(out + 16, v->root, CRYPTO_DIGEST_SIZE);
	memcpy(out + 48, v->salt, VERITY_SALT_SIZE);
}

void bundle_write_sigblock(const struct bundle_sigblock *s, uint8_t out[BUNDLE_SIGBLOCK_SIZE])
{
	memset(out, 0, BUNDLE_SIGBLOCK_SIZE);
	memcpy(out, s->key_id, CRYPTO_KEY_ID_SIZE);
	util_put_le16(out + 32, s->sig_len);
	memcpy(out + 34, s->sig, s->sig_len);
}

/* Parses the signed part (and signature block, and chain) in b->head, head_len bytes. */
static int parse_head(struct bundle *b)
{
	crypto_sha256(b->head, BUNDLE_HEADER_SIZE + b->header.manifest_size, b->txn);
	int r = bundle_parse_manifest(b->head + BUNDLE_HEADER_SIZE, b->header.manifest_size,
	                              &b->header, &b->manifest);
	if (r < 0)
		return r;
	const uint8_t *sig = b->head + BUNDLE_HEADER_SIZE + b->header.manifest_size;
	r = bundle_parse_sigblock(sig, BUNDLE_SIGBLOCK_SIZE, &b->sig);
	if (r < 0 || b->header.format != BUNDLE_FORMAT_KEYRING)
		return r;
	/* Format 2: the keyring chain the bundle was signed under, right after the signature. */
	b->chain = calloc(KEYRING_MAX_CHAIN, sizeof(*b->chain));
	if (!b->chain)
		return fail(-ENOMEM, "no memory for the bundle's keyring chain");
	r = keyring_parse_chain(sig + BUNDLE_SIGBLOCK_SIZE,
	                        b->header.sigblock_size - BUNDLE_SIGBLOCK_SIZE, b->chain,
	                        &b->chain_len);
	return r < 0 ? fail_context(r, "bundle's keyring chain") : 0;
}

static int read_head(struct bundle *b)
{
	uint8_t hdr[BUNDLE_HEADER_SIZE];
	int r;

	if (b->file_size < BUNDLE_HEADER_SIZE)
		return fail(-EBADMSG, "bundle truncated: %llu bytes, no room for the header",
		            (unsigned long long)b->file_size);
	r = io_pread_all(b->fd, hdr, sizeof(hdr), 0);
	if (r < 0)
		return fail(r == -ENODATA ? r : -EIO, "cannot read bundle header: %s",
		            strerror(-r));
	r = bundle_parse_header(hdr, sizeof(hdr), &b->header);
	if (r < 0)
		return r;
	/* Every size below is bounded by the header's checked maxima, so no sum can overflow. */
	b->head_len = BUNDLE_HEADER_SIZE + b->header.manifest_size + b->header.sigblock_size;
	b->payload_offset = b->head_len;
	uint64_t want = b->payload_offset + b->header.payload_size;
	if (b->file_size < want)
		return fail(-EBADMSG, "bundle truncated: %llu bytes, header declares %llu",
		            (unsigned long long)b->file_size, (unsigned long long)want);
	if (b->file_size > want)
		return fail(-EBADMSG, "bundle has %llu trailing bytes after the payload",
		            (unsigned long long)(b->file_size - want));
	b->head = malloc(b->head_len);
	if (!b->head)
		return fail(-ENOMEM, "no memory for the bundle's head (%zu bytes)", b->head_len);
	/* The one and only read of the signed part: everything after parses this copy. */
	r = io_pread_all(b->fd, b->head, b->head_len, 0);
	if (r < 0)
		return fail(r == -ENODATA ? r : -EIO, "cannot read bundle manifest: %s",
		            strerror(-r));
	if (memcmp(b->head, hdr, sizeof(hdr)) != 0)
		return fail(-EBADMSG, "bundle header changed while being read");
	return parse_head(b);
}

int bundle_open_head(const uint8_t *buf, size_t len, struct bundle *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->fd = -1;
	int r = bundle_parse_header(buf, len, &ret->header);
	if (r < 0)
		return r;
	ret->head_len = BUNDLE_HEADER_SIZE + ret->header.manifest_size + ret->header.sigblock_size;
	if (len != ret->head_len)
		return fail(-EBADMSG, "a bundle's head of %zu bytes; its header declares %zu", len,
		            ret->head_len);
	ret->head = malloc(len);
	if (!ret->head)
		return fail(-ENOMEM, "no memory for the bundle's head (%zu bytes)", len);
	memcpy(ret->head, buf, len);
	r = parse_head(ret);
	if (r < 0)
		bundle_close(ret);
	return r;
}

int bundle_open_fd(int fd, struct bundle *ret)
{
	struct stat st;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->fd = fd;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		bundle_close(ret);
		return fail(-EIO, "cannot stat bundle: %s", strerror(-r));
	}
	if (!S_ISREG(st.st_mode)) {
		bundle_close(ret);
		return fail(-EBADMSG, "bundle is not a regular file");
	}
	ret->file_size = (uint64_t)st.st_size;
	r = read_head(ret);
	if (r < 0)
		bundle_close(ret);
	return r;
}

int bundle_open(const char *path, struct bundle *ret)
{
	int fd = io_open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);

	if (fd < 0) {
		memset(ret, 0, sizeof(*ret));
		ret->fd = -1;
		return fail(fd, "cannot open bundle %s", path);
	}
	return bundle_open_fd(fd, ret);
}

int bundle_verify(struct bundle *b, const struct crypto_keyset *keys, const struct keyring *adopted)
{
	int r;

	/* Format 1 has no chain (chain_len 0): keyring_judge() says what that may sign. */
	b->keyring = NULL;
	r = keyring_judge(adopted, keys, b->chain, b->chain_len, b->manifest.version, b->txn,
	                  b->sig.key_id, b->sig.sig, b->sig.sig_len, &b->keyring);
	b->verified = r == 0;
	return r;
}

const struct keyring *bundle_new_keyring(const struct bundle *b, const struct keyring *adopted)
{
	if (!b->verified || !b->keyring)
		return NULL;
	return !adopted || b->keyring->version > adopted->version ? b->keyring : NULL;
}

void bundle_close(struct bundle *b)
{
	if (b->fd >= 0)
		io_close(b->fd);
	free(b->head);
	b->head = NULL;
	free(b->chain);
	b->chain = NULL;
	b->chain_len = 0;
	b->keyring = NULL;
	b->fd = -1;
	b->verified = false;
}
