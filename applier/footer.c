/* SPDX-License-Identifier: MIT */
#include "footer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"
#include "io.h"
#include "util.h"

#define LOCATOR_USED 64

static uint64_t round_block(uint64_t n)
{
	return (n + VERITY_BLOCK_SIZE - 1) / VERITY_BLOCK_SIZE * VERITY_BLOCK_SIZE;
}

uint64_t footer_space(const struct bundle *b)
{
	return b->manifest.verity.hash_size + round_block(b->head_len) + FOOTER_LOCATOR_SIZE;
}

void footer_locator_of(const struct bundle *b, struct footer_locator *ret)
{
	ret->head_size = (uint32_t)b->head_len;
	ret->head_offset = b->manifest.image_size + b->manifest.verity.hash_size;
	crypto_sha256(b->head, b->head_len, ret->head_digest);
}

void footer_encode(const struct footer_locator *l, uint8_t out[FOOTER_LOCATOR_SIZE])
{
	memset(out, 0, FOOTER_LOCATOR_SIZE);
	memcpy(out, FOOTER_MAGIC, 8);
	util_put_le32(out + 8, FOOTER_FORMAT);
	util_put_le32(out + 12, l->head_size);
	util_put_le64(out + 16, l->head_offset);
	memcpy(out + 24, l->head_digest, CRYPTO_DIGEST_SIZE);
	util_put_le32(out + 56, util_crc32(0, out, 56));
}

int footer_decode(const uint8_t in[FOOTER_LOCATOR_SIZE], uint64_t slot_size,
                  struct footer_locator *ret)
{
	struct footer_locator l;

	if (memcmp(in, FOOTER_MAGIC, 8) != 0)
		return fail(-ENOENT, "the slot has no verity footer");
	if (util_le32(in + 56) != util_crc32(0, in, 56))
		return fail(-EBADMSG, "the slot's verity footer is damaged (CRC)");
	if (util_le32(in + 8) != FOOTER_FORMAT)
		return fail(-EBADMSG, "verity footer format %u; this applier reads %d",
		            util_le32(in + 8), FOOTER_FORMAT);
	if (!util_is_zero(in + 60, FOOTER_LOCATOR_SIZE - 60))
		return fail(-EBADMSG, "the slot's verity footer has bytes after its end");
	l.head_size = util_le32(in + 12);
	l.head_offset = util_le64(in + 16);
	memcpy(l.head_digest, in + 24, CRYPTO_DIGEST_SIZE);
	uint64_t max_head = BUNDLE_HEADER_SIZE + BUNDLE_MAX_MANIFEST_SIZE + BUNDLE_SIGBLOCK_SIZE +
	                    KEYRING_MAX_CHAIN * KEYRING_MAX_SIZE;
	if (l.head_size < BUNDLE_HEADER_SIZE || l.head_size > max_head ||
	    l.head_offset % VERITY_BLOCK_SIZE || slot_size < FOOTER_LOCATOR_SIZE ||
	    l.head_offset > slot_size - FOOTER_LOCATOR_SIZE ||
	    l.head_size > slot_size - FOOTER_LOCATOR_SIZE - l.head_offset)
		return fail(-EBADMSG,
		            "the slot's verity footer points outside the slot (%u bytes at %llu)",
		            l.head_size, (unsigned long long)l.head_offset);
	*ret = l;
	return 0;
}

int footer_clear(int fd, uint64_t slot_size)
{
	static const uint8_t zero[LOCATOR_USED];

	if (slot_size < FOOTER_LOCATOR_SIZE)
		return 0;
	int r = io_pwrite_all(fd, zero, sizeof(zero), slot_size - FOOTER_LOCATOR_SIZE);
	return r < 0 ? fail(-EIO, "clearing the slot's verity footer: %s", strerror(-r)) : 0;
}

int footer_write(int fd, uint64_t slot_size, const struct bundle *b)
{
	struct footer_locator l;
	uint8_t *loc = malloc(FOOTER_LOCATOR_SIZE);

	if (!loc)
		return fail(-ENOMEM, "no memory for the verity footer");
	footer_locator_of(b, &l);
	footer_encode(&l, loc);
	/* The head first, then the locator that points at it. */
	int r = io_pwrite_all(fd, b->head, b->head_len, l.head_offset);
	if (r == 0)
		r = io_pwrite_all(fd, loc, FOOTER_LOCATOR_SIZE, slot_size - FOOTER_LOCATOR_SIZE);
	free(loc);
	return r < 0 ? fail(-EIO, "writing the slot's verity footer: %s", strerror(-r)) : 0;
}

int footer_read(int fd, uint64_t slot_size, struct bundle *ret)
{
	struct footer_locator l;
	uint8_t digest[CRYPTO_DIGEST_SIZE];
	uint8_t *loc = malloc(FOOTER_LOCATOR_SIZE), *head = NULL;
	int r = loc ? 0 : fail(-ENOMEM, "no memory for the verity footer");

	memset(ret, 0, sizeof(*ret));
	ret->fd = -1;
	if (r == 0 && slot_size < FOOTER_LOCATOR_SIZE)
		r = fail(-ENOENT, "the slot is too small for a verity footer");
	if (r == 0) {
		r = io_pread_all(fd, loc, FOOTER_LOCATOR_SIZE, slot_size - FOOTER_LOCATOR_SIZE);
		if (r < 0)
			r = fail(-EIO, "reading the slot's verity footer: %s", strerror(-r));
	}
	if (r == 0)
		r = footer_decode(loc, slot_size, &l);
	if (r == 0 && !(head = malloc(l.head_size)))
		r = fail(-ENOMEM, "no memory for the slot's bundle head");
	if (r == 0) {
		r = io_pread_all(fd, head, l.head_size, l.head_offset);
		if (r < 0)
			r = fail(-EIO, "reading the slot's bundle head: %s", strerror(-r));
	}
	if (r == 0) {
		crypto_sha256(head, l.head_size, digest);
		if (memcmp(digest, l.head_digest, sizeof(digest)) != 0)
			r = fail(-EBADMSG, "the slot's bundle head does not match its footer");
	}
	if (r == 0)
		r = bundle_open_head(head, l.head_size, ret);
	if (r == 0 &&
	    (!ret->manifest.verity.on ||
	     l.head_offset != ret->manifest.image_size + ret->manifest.verity.hash_size)) {
		bundle_close(ret);
		r = fail(-EBADMSG, "the slot's footer does not sit after its image and tree");
	}
	free(head);
	free(loc);
	return r;
}
