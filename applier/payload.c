/* SPDX-License-Identifier: MIT */
#include "payload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fail.h"
#include "io.h"

int payload_open(struct payload *p, const struct bundle *b)
{
	const struct bundle_manifest *m = &b->manifest;
	int r;

	memset(p, 0, sizeof(*p));
	if (!b->verified)
		return fail(-EPERM, "bundle payload requested before its signature was verified");
	if (b->fd < 0)
		return fail(-EINVAL, "a bundle's head alone has no payload");
	p->b = b;
	p->file_offset = b->payload_offset;
	p->in = malloc(codec_bound(m->chunk_size));
	r = p->in ? codec_new(&p->codec) : -ENOMEM;
	if (r == 0 && m->compression == CODEC_ZSTD_STREAM)
		r = codec_stream_begin(p->codec, m->window_log);
	if (r < 0) {
		payload_close(p);
		return r;
	}
	crypto_sha256_init(&p->image_hash);
	if (m->verity.on) {
		struct verity_geometry g;
		r = bundle_verity_geometry(m, &g);
		if (r == 0 && !(p->tree = malloc(sizeof(*p->tree))))
			r = fail(-ENOMEM, "no memory for the verity tree");
		if (r < 0) {
			payload_close(p);
			return r;
		}
		verity_begin(p->tree, &g, m->verity.salt, NULL, NULL);
	}
	p->inflate = true;
	p->check_image = true;
	return 0;
}

void payload_leave_image_digest(struct payload *p)
{
	p->check_image = false;
	free(p->tree);
	p->tree = NULL;
}

int payload_open_stored(struct payload *p, const struct bundle *b)
{
	int r = payload_open(p, b);

	if (r == 0)
		p->inflate = false;
	free(p->tree);
	p->tree = NULL;
	return r;
}

int payload_next(struct payload *p, struct payload_chunk *ret)
{
	return payload_next_into(p, NULL, ret);
}

/* The verified chunk in p->in, inflated into dst (or the payload's own buffer). */
static int inflate(struct payload *p, const struct bundle_chunk *c, uint8_t *dst,
                   const uint8_t **ret)
{
	const struct bundle_manifest *m = &p->b->manifest;
	int r = 0;

	if (!dst && m->compression == CODEC_NONE) {
		*ret = p->in; /* stored raw: nothing to do */
		return 0;
	}
	if (!dst && !p->out && !(p->out = malloc(m->chunk_size)))
		return fail(-ENOMEM, "no memory for a chunk buffer");
	if (!dst)
		dst = p->out;
	if (m->compression == CODEC_NONE)
		memcpy(dst, p->in, c->size);
	else if (m->compression == CODEC_ZSTD)
		r = codec_decompress(p->codec, p->in, c->stored_size, dst, c->size);
	else
		r = codec_stream_chunk(p->codec, p->in, c->stored_size, dst, c->size,
		                       p->next + 1 == m->chunk_count);
	*ret = dst;
	return r;
}

int payload_next_into(struct payload *p, uint8_t *dst, struct payload_chunk *ret)
{
	const struct bundle_manifest *m = &p->b->manifest;
	uint8_t digest[CRYPTO_DIGEST_SIZE];
	struct bundle_chunk c;
	int r;

	if (p->next > m->chunk_count)
		return fail(-EINVAL, "payload read past its end");
	if (p->next == m->chunk_count) {
		p->next++; /* the hash context is finished: no second end */
		crypto_sha256_final(&p->image_hash, digest);
		if (p->inflate && p->check_image &&
		    memcmp(digest, m->image_digest, sizeof(digest)) != 0)
			return fail(-EBADMSG,
			            "inflated image does not match the manifest's digest");
		if (p->tree && (verity_finish(p->tree, digest) < 0 ||
		                memcmp(digest, m->verity.root, sizeof(digest)) != 0))
			return fail(
			        -EBADMSG,
			        "inflated image does not match the manifest's verity root hash");
		return 0;
	}
	bundle_chunk(m, p->next, &c);
	r = io_pread_all(p->b->fd, p->in, c.stored_size, p->file_offset);
	if (r < 0)
		return fail(r == -ENODATA ? -EBADMSG : -EIO,
		            "chunk %u: cannot read %u bytes at %llu", p->next, c.stored_size,
		            (unsigned long long)p->file_offset);
	crypto_sha256(p->in, c.stored_size, digest);
	if (memcmp(digest, c.digest, sizeof(digest)) != 0)
		return fail(-EBADMSG, "chunk %u (bundle offset %llu): digest mismatch", p->next,
		            (unsigned long long)p->file_offset);
	/* Only now, verified, may these bytes reach the decompressor. */
	const uint8_t *data = NULL;
	if (p->inflate) {
		r = inflate(p, &c, dst, &data);
		if (r < 0)
			return fail_context(r, "chunk %u", p->next);
		if (p->check_image)
			crypto_sha256_update(&p->image_hash, data, c.size);
		if (p->tree && (r = verity_feed(p->tree, data, c.size)) < 0)
			return fail(-EBADMSG, "chunk %u: not whole verity blocks", p->next);
	}
	ret->index = p->next;
	ret->image_offset = (uint64_t)p->next * m->chunk_size;
	ret->stored = p->in;
	ret->stored_size = c.stored_size;
	ret->data = data;
	ret->size = data ? c.size : 0;
	p->file_offset += c.stored_size;
	p->next++;
	return 1;
}

void payload_close(struct payload *p)
{
	codec_free(p->codec);
	free(p->tree);
	free(p->in);
	free(p->out);
	memset(p, 0, sizeof(*p));
}
