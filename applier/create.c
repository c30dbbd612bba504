/* SPDX-License-Identifier: MIT */
#include "create.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "codec.h"
#include "compress.h"
#include "crypto.h"
#include "fail.h"
#include "io.h"
#include "log.h"
#include "util.h"
#include "verity.h"

struct builder {
	const struct create_options *o;
	int in, out;
	struct bundle_header h;
	struct bundle_manifest m;
	uint8_t *manifest; /* fixed part + chunk table */
	struct compressor *z;
	uint8_t *raw, *stored;
	uint8_t *chain; /* format 2: the keyring chain, as it goes after the signature */
	size_t chain_len;
	struct crypto_sha256 image;
	struct verity_tree *tree; /* with --verity: the root hash, in the same pass */
};

/*
 * Reads the keyring chain file for a format 2 bundle. A signing key that the
 * chain's last keyring does not trust is said as a warning, not refused: the
 * device refuses such a bundle (and tests make them on purpose).
 */
static int load_chain(const char *path, const char *key, uint8_t **ret, size_t *ret_len)
{
	static struct keyring k[KEYRING_MAX_CHAIN];
	uint8_t id[CRYPTO_KEY_ID_SIZE];
	size_t n = 0, len = 0;
	int r = keyring_load_file(path, false, k, &n);

	if (r < 0)
		return r;
	uint8_t *buf = malloc(n * KEYRING_MAX_SIZE);
	if (!buf)
		return fail(-ENOMEM, "no memory for the keyring chain");
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + len, k[i].raw, k[i].size);
		len += k[i].size;
	}
	const struct keyring_key *e =
	        crypto_key_id_of_file(key, id) == 0 ? keyring_find(&k[n - 1], id) : NULL;
	if (!e || e->role != KEYRING_SIGNING || keyring_revokes(&k[n - 1], id))
		log_warn("%s is not a signing key of keyring %llu: devices will refuse the bundle",
		         key, (unsigned long long)k[n - 1].version);
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int check_options(const struct create_options *o, uint64_t image_size)
{
	uint32_t cs = o->chunk_size;

	if (cs < BUNDLE_MIN_CHUNK_SIZE || cs > BUNDLE_MAX_CHUNK_SIZE || (cs & (cs - 1)))
		return fail(-EINVAL, "chunk size must be a power of two in %u..%u",
		            BUNDLE_MIN_CHUNK_SIZE, BUNDLE_MAX_CHUNK_SIZE);
	if (image_size == 0 || image_size > (uint64_t)BUNDLE_MAX_CHUNKS * cs)
		return fail(-EFBIG, "image of %llu bytes: must be 1..%llu bytes at this chunk size",
		            (unsigned long long)image_size,
		            (unsigned long long)BUNDLE_MAX_CHUNKS * cs);
	if (!o->compatible[0] || strlen(o->compatible) >= BUNDLE_COMPATIBLE_SIZE)
		return fail(-EINVAL, "compatible string must be 1..%d characters",
		            BUNDLE_COMPATIBLE_SIZE - 1);
	if (strlen(o->label) >= BUNDLE_LABEL_SIZE)
		return fail(-EINVAL, "label must be at most %d characters", BUNDLE_LABEL_SIZE - 1);
	if (!util_is_clean_string((const uint8_t *)o->compatible, strlen(o->compatible) + 1) ||
	    !util_is_clean_string((const uint8_t *)o->label, strlen(o->label) + 1))
		return fail(-EINVAL, "compatible and label must be printable ASCII");
	if (o->version == 0)
		return fail(-EINVAL, "version must be at least 1");
	if (o->floor > o->version)
		return fail(-EINVAL, "the floor (%llu) cannot be above the version (%llu)",
		            (unsigned long long)o->floor, (unsigned long long)o->version);
	if (o->verity && image_size % VERITY_BLOCK_SIZE)
		return fail(-EINVAL,
		            "--verity: the image must be whole %u-byte blocks; %llu bytes is not "
		            "(a filesystem image always is)",
		            VERITY_BLOCK_SIZE, (unsigned long long)image_size);
	if (o->window_log &&
	    (o->window_log < CODEC_MIN_WINDOW_LOG || o->window_log > CODEC_MAX_WINDOW_LOG))
		return fail(-EINVAL, "window log must be 0 (a frame per chunk) or %d..%d",
		            CODEC_MIN_WINDOW_LOG, CODEC_MAX_WINDOW_LOG);
	return 0;
}

/* Reads chunk i of the image into buf; its size in c. */
static int read_image_chunk(const struct builder *bld, uint32_t i, uint8_t *buf,
                            struct bundle_chunk *c)
{
	bundle_chunk(&bld->m, i, c);
	int r = io_pread_all(bld->in, buf, c->size, (uint64_t)i * bld->m.chunk_size);
	return r < 0 ? fail(r, "reading image chunk %u", i) : 0;
}

/*
 * The salt of a release's tree: SHA-256("SystemOTA verity salt" || compatible
 * || version), so the same image and version always give the same bundle, and
 * each release of a device family its own salt.
 */
static void verity_salt(const struct bundle_manifest *m, uint8_t out[VERITY_SALT_SIZE])
{
	static const char tag[] = "SystemOTA verity salt";
	struct crypto_sha256 h;
	uint8_t v[8];

	util_put_le64(v, m->version);
	crypto_sha256_init(&h);
	crypto_sha256_update(&h, tag, sizeof(tag) - 1);
	crypto_sha256_update(&h, m->compatible, BUNDLE_COMPATIBLE_SIZE);
	crypto_sha256_update(&h, v, sizeof(v));
	crypto_sha256_final(&h, out);
}

/*
 * A dm-verity device has 4096-byte logical blocks: a filesystem with smaller
 * ones does not mount on it (ext4: "bad block size 1024"), and mkfs.ext4 makes
 * 1 KiB blocks for images below 512 MiB unless told. Caught here, not on the
 * device at its first boot.
 */
static int check_fs_block_size(int fd)
{
	uint8_t sb[1024];

	if (io_pread_all(fd, sb, sizeof(sb), 1024) < 0)
		return 0; /* smaller than an ext4 superblock: not ext4 */
	if (util_le16(sb + 56) != 0xEF53)
		return 0;
	uint32_t log = util_le32(sb + 24);
	if (log < 2)
		return fail(-EINVAL,
		            "--verity: ext4 of %u-byte blocks does not mount on dm-verity; "
		            "use mkfs.ext4 -b 4096",
		            1024u << log);
	return 0;
}

/* The image's digests, over its chunks in order: SHA-256, and the verity tree's root. */
static int image_begin(struct builder *bld)
{
	crypto_sha256_init(&bld->image);
	if (!bld->o->verity)
		return 0;
	struct verity_geometry g;
	int r = check_fs_block_size(bld->in);
	if (r < 0)
		return r;
	r = bundle_verity_geometry(&bld->m, &g);
	if (r < 0)
		return r;
	bld->tree = malloc(sizeof(*bld->tree));
	if (!bld->tree)
		return fail(-ENOMEM, "no memory for the verity tree");
	bld->m.verity.on = true;
	bld->m.verity.hash_size = g.hash_blocks * VERITY_BLOCK_SIZE;
	verity_salt(&bld->m, bld->m.verity.salt);
	verity_begin(bld->tree, &g, bld->m.verity.salt, NULL, NULL);
	return 0;
}

static int image_add(struct builder *bld, const uint8_t *data, size_t len)
{
	crypto_sha256_update(&bld->image, data, len);
	int r = bld->tree ? verity_feed(bld->tree, data, len) : 0;
	return r < 0 ? fail(r, "verity tree: %s", strerror(-r)) : 0;
}

static int image_end(struct builder *bld)
{
	crypto_sha256_final(&bld->image, bld->m.image_digest);
	int r = bld->tree ? verity_finish(bld->tree, bld->m.verity.root) : 0;
	return r < 0 ? fail(r, "verity tree: %s", strerror(-r)) : 0;
}

/* Enters chunk i's stored size and the digest of its stored bytes in the table. */
static void record_chunk(struct builder *bld, uint32_t i, const uint8_t *stored, size_t len)
{
	uint8_t digest[CRYPTO_DIGEST_SIZE];

	crypto_sha256(stored, len, digest);
	bundle_write_chunk_entry(bld->manifest + BUNDLE_MANIFEST_FIXED_SIZE +
	                                 (size_t)BUNDLE_CHUNK_ENTRY_SIZE * i,
	                         (uint32_t)len, digest);
}

/* Compresses and writes every chunk, filling the chunk table and the image digest. */
static int write_chunks(struct builder *bld, uint64_t offset)
{
	uint64_t total = 0;

	/* The table is filled as we go; bundle_chunk() below only derives each chunk's size. */
	bld->m.table = bld->manifest + BUNDLE_MANIFEST_FIXED_SIZE;
	for (uint32_t i = 0; i < bld->m.chunk_count; i++) {
		struct bundle_chunk c;
		const uint8_t *stored = bld->raw;
		size_t stored_len;

		int r = read_image_chunk(bld, i, bld->raw, &c);
		if (r == 0)
			r = image_add(bld, bld->raw, c.size);
		if (r < 0)
			return r;
		stored_len = c.size;
		if (bld->m.compression == CODEC_ZSTD) {
			r = compress_chunk(bld->z, bld->o->level, bld->raw, c.size, bld->stored,
			                   codec_bound(bld->m.chunk_size), &stored_len);
			if (r < 0)
				return r;
			stored = bld->stored;
		}
		record_chunk(bld, i, stored, stored_len);
		r = io_pwrite_all(bld->out, stored, stored_len, offset + total);
		if (r < 0)
			return fail(r, "writing bundle");
		total += stored_len;
	}
	bld->h.payload_size = total;
	return 0;
}

/* One frame of a stream: chunks first..first+count-1, compressed into out. */
struct frame_job {
	struct builder *bld;
	uint32_t first, count;
	uint8_t *out;
	size_t out_len;
	int r;
	char reason[FAIL_REASON_MAX];
};

static void *compress_frame(void *arg)
{
	struct frame_job *j = arg;
	const struct bundle_manifest *m = &j->bld->m;
	uint64_t start = (uint64_t)j->first * m->chunk_size;
	uint64_t len = MIN((uint64_t)j->count * m->chunk_size, m->image_size - start);
	size_t cap = (size_t)j->count * codec_bound(m->chunk_size);
	struct compressor *z = NULL;
	uint8_t *raw = malloc(m->chunk_size);
	int r;

	j->out = malloc(cap);
	r = raw && j->out ? compressor_new(&z) : -ENOMEM;
	if (r == 0)
		r = compress_frame_begin(z, j->bld->o->level, m->window_log, len);
	for (uint32_t i = j->first; r == 0 && i < j->first + j->count; i++) {
		struct bundle_chunk c;
		size_t n;
		r = read_image_chunk(j->bld, i, raw, &c);
		if (r < 0)
			break;
		r = compress_frame_chunk(z, raw, c.size, i + 1 == j->first + j->count,
		                         j->out + j->out_len, cap - j->out_len, &n);
		if (r < 0)
			break;
		record_chunk(j->bld, i, j->out + j->out_len, n);
		j->out_len += n;
	}
	if (r < 0)
		snprintf(j->reason, sizeof(j->reason), "%s", fail_reason());
	j->r = r;
	compressor_free(z);
	free(raw);
	return NULL;
}

/*
 * The payload as one zstd stream: frames of CREATE_FRAME_SIZE image bytes,
 * each flushed at every chunk boundary, compressed `threads` at a time and
 * written in order. The bytes do not depend on the number of threads.
 */
static int write_stream(struct builder *bld, uint64_t offset)
{
	const struct bundle_manifest *m = &bld->m;
	uint32_t frame = bld->o->frame_size ? bld->o->frame_size : CREATE_FRAME_SIZE;
	uint32_t per_frame = MAX(frame / m->chunk_size, 1u);
	uint32_t frames = (m->chunk_count + per_frame - 1) / per_frame;
	unsigned threads = bld->o->threads;
	uint64_t total = 0;
	int r = 0;

	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)MIN(n, 64L) : 1;
	}
	for (uint32_t f = 0; r == 0 && f < frames; f += threads) {
		struct frame_job jobs[64] = {0};
		pthread_t tid[64];
		bool started[64] = {0};
		unsigned n = (unsigned)MIN((uint32_t)threads, frames - f);
		for (unsigned t = 0; t < n; t++) {
			jobs[t].bld = bld;
			jobs[t].first = (f + t) * per_frame;
			jobs[t].count = MIN(per_frame, m->chunk_count - jobs[t].first);
			started[t] = pthread_create(&tid[t], NULL, compress_frame, &jobs[t]) == 0;
			if (!started[t])
				compress_frame(&jobs[t]); /* no thread to be had: do it here */
		}
		for (unsigned t = 0; t < n; t++) {
			if (started[t])
				pthread_join(tid[t], NULL);
			if (r == 0 && jobs[t].r < 0)
				r = fail(jobs[t].r, "%s", jobs[t].reason);
			if (r == 0) {
				r = io_pwrite_all(bld->out, jobs[t].out, jobs[t].out_len,
				                  offset + total);
				if (r < 0)
					r = fail(r, "writing bundle");
				total += jobs[t].out_len;
			}
			free(jobs[t].out);
		}
	}
	bld->h.payload_size = total;
	return r;
}

/* The image's digests, in a pass of their own (a stream is compressed in parallel). */
static int hash_image(struct builder *bld)
{
	int r = 0;

	for (uint32_t i = 0; r == 0 && i < bld->m.chunk_count; i++) {
		struct bundle_chunk c;
		r = read_image_chunk(bld, i, bld->raw, &c);
		if (r == 0)
			r = image_add(bld, bld->raw, c.size);
	}
	return r;
}

/* Writes header, manifest and signature in front of the payload. */
static int write_head(struct builder *bld)
{
	size_t mlen = bld->h.manifest_size;
	size_t signed_len = BUNDLE_HEADER_SIZE + mlen;
	uint8_t *head = malloc(signed_len + bld->h.sigblock_size);
	uint8_t digest[CRYPTO_DIGEST_SIZE];
	struct bundle_sigblock s;
	size_t sig_len;
	int r;

	if (!head)
		return fail(-ENOMEM, "no memory for the bundle head");
	bundle_write_manifest_fixed(&bld->m, bld->manifest);
	if (bld->m.verity.on)
		bundle_write_verity(&bld->m.verity, bld->manifest + mlen - BUNDLE_VERITY_SIZE);
	bundle_write_header(&bld->h, head);
	memcpy(head + BUNDLE_HEADER_SIZE, bld->manifest, mlen);
	crypto_sha256(head, signed_len, digest);
	r = crypto_sign(bld->o->key, digest, s.sig, &sig_len, s.key_id);
	if (r == 0) {
		s.sig_len = (uint16_t)sig_len;
		bundle_write_sigblock(&s, head + signed_len);
		if (bld->chain_len)
			memcpy(head + signed_len + BUNDLE_SIGBLOCK_SIZE, bld->chain,
			       bld->chain_len);
		r = io_pwrite_all(bld->out, head, signed_len + bld->h.sigblock_size, 0);
		if (r < 0)
			r = fail(r, "writing bundle");
	}
	free(head);
	return r;
}

static int build(struct builder *bld, uint64_t image_size)
{
	const struct create_options *o = bld->o;
	int r;

	memset(&bld->m, 0, sizeof(bld->m));
	util_set_string(bld->m.compatible, sizeof(bld->m.compatible), o->compatible);
	util_set_string(bld->m.label, sizeof(bld->m.label), o->label);
	bld->m.version = o->version;
	bld->m.floor = o->floor;
	bld->m.image_size = image_size;
	bld->m.chunk_size = o->chunk_size;
	bld->m.chunk_count = (uint32_t)((image_size + o->chunk_size - 1) / o->chunk_size);
	bld->m.compression = o->level == 0   ? CODEC_NONE
	                     : o->window_log ? CODEC_ZSTD_STREAM
	                                     : CODEC_ZSTD;
	bld->m.window_log = bld->m.compression == CODEC_ZSTD_STREAM ? (uint8_t)o->window_log : 0;
	bld->m.created = o->created;
	if (o->keyring) {
		r = load_chain(o->keyring, o->key, &bld->chain, &bld->chain_len);
		if (r < 0)
			return r;
	}
	bld->h.format = bld->chain_len ? BUNDLE_FORMAT_KEYRING : BUNDLE_FORMAT;
	bld->h.sigblock_size = (uint32_t)(BUNDLE_SIGBLOCK_SIZE + bld->chain_len);
	bld->h.flags = o->verity ? BUNDLE_FLAG_VERITY : 0;
	bld->h.manifest_size = bundle_manifest_size(bld->m.chunk_count, o->verity);

	bld->manifest = calloc(1, bld->h.manifest_size);
	bld->raw = malloc(o->chunk_size);
	bld->stored = malloc(codec_bound(o->chunk_size));
	if (!bld->manifest || !bld->raw || !bld->stored)
		return fail(-ENOMEM, "no memory for the chunk buffers");
	r = compressor_new(&bld->z);
	if (r < 0)
		return r;
	uint64_t payload = BUNDLE_HEADER_SIZE + bld->h.manifest_size + bld->h.sigblock_size;
	r = image_begin(bld);
	if (r == 0 && bld->m.compression == CODEC_ZSTD_STREAM) {
		bld->m.table = bld->manifest + BUNDLE_MANIFEST_FIXED_SIZE;
		r = hash_image(bld);
		if (r == 0)
			r = write_stream(bld, payload);
	} else if (r == 0) {
		r = write_chunks(bld, payload);
	}
	if (r == 0)
		r = image_end(bld);
	if (r < 0)
		return r;
	r = write_head(bld);
	if (r < 0)
		return r;
	r = io_sync(bld->out);
	return r < 0 ? fail(r, "flushing bundle") : 0;
}

int create_bundle(const struct create_options *o)
{
	struct builder bld = {.o = o, .in = -1, .out = -1};
	char tmp[4096];
	uint64_t size;
	int r;

	bld.in = io_open(o->image, O_RDONLY, 0);
	if (bld.in < 0)
		return fail(bld.in, "cannot open image %s: %s", o->image, strerror(-bld.in));
	r = io_size(bld.in, &size);
	if (r == 0)
		r = check_options(o, size);
	if (r == 0 && snprintf(tmp, sizeof(tmp), "%s.tmp", o->output) >= (int)sizeof(tmp))
		r = fail(-ENAMETOOLONG, "output path too long");
	if (r == 0) {
		bld.out = io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (bld.out < 0)
			r = fail(bld.out, "cannot create %s: %s", tmp, strerror(-bld.out));
	}
	if (r == 0)
		r = build(&bld, size);
	if (bld.out >= 0)
		io_close(bld.out);
	io_close(bld.in);
	if (r == 0 && rename(tmp, o->output) < 0)
		r = fail(-errno, "cannot rename %s to %s: %s", tmp, o->output, strerror(errno));
	if (r < 0 && bld.out >= 0)
		unlink(tmp);
	if (r == 0)
		log_info("created %s: version %llu (%s), %u chunks, payload %llu of %llu bytes",
		         o->output, (unsigned long long)o->version, o->label, bld.m.chunk_count,
		         (unsigned long long)bld.h.payload_size, (unsigned long long)size);
	compressor_free(bld.z);
	free(bld.tree);
	free(bld.chain);
	free(bld.manifest);
	free(bld.raw);
	free(bld.stored);
	return r;
}

int create_resign(const char *in, const char *key, const char *keyring, const char *out)
{
	uint8_t buf[65536], sigblock[BUNDLE_SIGBLOCK_SIZE];
	struct bundle_sigblock s;
	struct bundle b;
	char tmp[4096];
	size_t sig_len;
	uint8_t *chain = NULL, *head = NULL;
	size_t chain_len = 0;
	int r, fd = -1;

	r = bundle_open(in, &b);
	if (r < 0)
		return r;
	size_t signed_len = BUNDLE_HEADER_SIZE + b.header.manifest_size;
	/* The chain: a new one, or the bundle's own (which the signature does not cover). */
	if (keyring)
		r = load_chain(keyring, key, &chain, &chain_len);
	else if (b.header.format == BUNDLE_FORMAT_KEYRING) {
		chain_len = b.header.sigblock_size - BUNDLE_SIGBLOCK_SIZE;
		chain = malloc(chain_len);
		if (chain)
			memcpy(chain, b.head + signed_len + BUNDLE_SIGBLOCK_SIZE, chain_len);
		else
			r = fail(-ENOMEM, "no memory for the keyring chain");
	}
	head = r == 0 ? malloc(signed_len) : NULL;
	if (r == 0 && !head)
		r = fail(-ENOMEM, "no memory for the bundle head");
	if (r == 0) {
		/*
		 * Same chain length, same header, same transaction id: only the
		 * signature block and the chain differ. A chain of another length
		 * changes the header (format, signature block size): a new id.
		 */
		struct bundle_header h = b.header;
		h.format = chain_len ? BUNDLE_FORMAT_KEYRING : BUNDLE_FORMAT;
		h.sigblock_size = (uint32_t)(BUNDLE_SIGBLOCK_SIZE + chain_len);
		memcpy(head, b.head, signed_len);
		bundle_write_header(&h, head);
		if (memcmp(head, b.head, BUNDLE_HEADER_SIZE) != 0)
			log_warn("the header changes with the keyring chain: %s gets a new "
			         "transaction id",
			         out);
		uint8_t digest[CRYPTO_DIGEST_SIZE];
		crypto_sha256(head, signed_len, digest);
		r = crypto_sign(key, digest, s.sig, &sig_len, s.key_id);
	}
	if (r == 0 && snprintf(tmp, sizeof(tmp), "%s.tmp", out) >= (int)sizeof(tmp))
		r = fail(-ENAMETOOLONG, "output path too long");
	if (r == 0) {
		fd = io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			r = fail(fd, "cannot create %s: %s", tmp, strerror(-fd));
	}
	if (r == 0) {
		s.sig_len = (uint16_t)sig_len;
		bundle_write_sigblock(&s, sigblock);
		uint64_t at = signed_len + sizeof(sigblock) + chain_len;
		r = io_pwrite_all(fd, head, signed_len, 0);
		if (r == 0)
			r = io_pwrite_all(fd, sigblock, sizeof(sigblock), signed_len);
		if (r == 0 && chain_len)
			r = io_pwrite_all(fd, chain, chain_len, signed_len + sizeof(sigblock));
		/* The payload, copied as it is: its chunks are checked against the signed table. */
		for (uint64_t off = b.payload_offset; r == 0 && off < b.file_size;) {
			size_t n = (size_t)MIN((uint64_t)sizeof(buf), b.file_size - off);
			r = io_pread_all(b.fd, buf, n, off);
			if (r == 0)
				r = io_pwrite_all(fd, buf, n, at);
			off += n;
			at += n;
		}
		if (r == 0)
			r = io_sync(fd);
		if (r < 0)
			r = fail(r, "writing %s: %s", tmp, strerror(-r));
	}
	if (fd >= 0)
		io_close(fd);
	if (r == 0 && rename(tmp, out) < 0)
		r = fail(-errno, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
	if (r < 0 && fd >= 0)
		unlink(tmp);
	if (r == 0)
		log_info("re-signed %s as %s", in, out);
	free(chain);
	free(head);
	bundle_close(&b);
	return r;
}
