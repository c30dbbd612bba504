/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Writing a verified bundle's image into a slot: stream, flush, then read the
 * slot back from the medium (bypassing the page cache) and compare its
 * SHA-256 with the manifest's. Only after that may the slot be tried.
 */

#include <stdint.h>

#include "bundle.h"

/* The size of the slot device at path: what an image must fit in. */
int install_slot_size(const char *path, uint64_t *ret_size);

/*
 * Streams b (verified) into the slot at path. Never writes past the declared
 * image size; -ENOSPC if the image is larger than the slot. -EBADMSG when the
 * bundle's payload is corrupt, -EIO when the device fails or reads back
 * different. Every failure leaves a reason (fail.h).
 */
int install_image(const struct bundle *b, const char *path);

/* Reads size bytes of the device at path, from the medium, and hashes them. */
int install_read_back(const char *path, uint64_t size, uint8_t ret_digest[CRYPTO_DIGEST_SIZE]);
