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
	p->b = b;
	p->file_offset = b->payload_offset;
	p->in = malloc(codec_bound(m->chunk_size));
	p->out = malloc(m->chunk_size);
	r = p->in && p->out ? codec_new(&p->codec) : -ENOMEM;
	if (r < 0) {
		payload_close(p);
		return r;
	}
	crypto_sha256_init(&p->image_hash);
	p->inflate = true;
	return 0;
}

int payload_open_stored(struct payload *p, const struct bundle *b)
{
	int r = payload_open(p, b);

	if (r == 0)
		p->inflate = false;
	return r;
}

int payload_next(struct payload *p, struct payload_chunk *ret)
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
		if (p->inflate && memcmp(digest, m->image_digest, sizeof(digest)) != 0)
			return fail(-EBADMSG,
			            "inflated image does not match the manifest's digest");
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
	const uint8_t *data = p->in;
	if (!p->inflate) {
		data = NULL;
	} else if (m->compression == CODEC_ZSTD) {
		r = codec_decompress(p->codec, p->in, c.stored_size, p->out, c.size);
		if (r < 0)
			return fail_context(r, "chunk %u", p->next);
		data = p->out;
	}
	if (data)
		crypto_sha256_update(&p->image_hash, data, c.size);
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
	free(p->in);
	free(p->out);
	memset(p, 0, sizeof(*p));
}
