/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A verity slot carries its own proof, as Android's partitions carry their
 * vbmeta: after the image, its dm-verity hash tree; after the tree, a copy of
 * the bundle's head (header, manifest with the signed root hash, signature
 * block, keyring chain); and in the slot's last 4096 bytes the locator, which
 * says where that copy is. docs/verity.md has the layout byte by byte.
 *
 *   0               image_size         + hash_size      head_offset + head_size   slot_size - 4096
 *   | image         | hash tree         | head copy      | (unused)                | locator |
 *
 * Locator (the first 64 bytes of the last 4096; the rest zero):
 *   0 magic "SOTAVFTR"  8 format u32 (1)  12 head_size u32  16 head_offset u64
 *  24 head_sha256[32]  56 crc32 u32 (of bytes 0..55)  60 reserved u32 (0)
 *
 * The installer zeroes the locator before it writes anything else, so a slot
 * being written never shows the footer of what it held before.
 */

#include <stdint.h>

#include "bundle.h"

#define FOOTER_MAGIC "SOTAVFTR"
#define FOOTER_FORMAT 1
#define FOOTER_LOCATOR_SIZE 4096u

struct footer_locator {
	uint32_t head_size;
	uint64_t head_offset;
	uint8_t head_digest[CRYPTO_DIGEST_SIZE];
};

/* Pure: the bytes a verity bundle needs on the slot after its image (tree, head, locator). */
uint64_t footer_space(const struct bundle *b);

/* Pure: where the head copy goes (right after the tree) and the locator's bytes. */
void footer_locator_of(const struct bundle *b, struct footer_locator *ret);
void footer_encode(const struct footer_locator *l, uint8_t out[FOOTER_LOCATOR_SIZE]);

/*
 * Pure: parses a slot's last FOOTER_LOCATOR_SIZE bytes. -ENOENT when there is
 * no footer (all zero, or no magic: a slot from before verity, or one being
 * written), -EBADMSG when the locator is damaged or points outside the slot.
 */
int footer_decode(const uint8_t in[FOOTER_LOCATOR_SIZE], uint64_t slot_size,
                  struct footer_locator *ret);

/* Writes b's head copy and then the locator into the slot open as fd (slot_size bytes). */
int footer_write(int fd, uint64_t slot_size, const struct bundle *b);

/* Zeroes the locator (if the slot has room for one): the first write of every install. */
int footer_clear(int fd, uint64_t slot_size);

/*
 * Reads the footer of the slot open as fd: its head copy, checked against the
 * locator's digest and parsed into ret (not yet verified: bundle_verify()).
 * -ENOENT: no footer; -EBADMSG: a damaged one; -EIO: the slot cannot be read.
 */
int footer_read(int fd, uint64_t slot_size, struct bundle *ret);
