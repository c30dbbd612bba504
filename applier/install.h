/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Writing a verified bundle's image into a slot. The work is a pipeline of
 * threads (install.c): this one reads each chunk, checks it against its
 * signed digest and inflates it; a writer writes it to the slot; a reader
 * reads it back from the medium (O_DIRECT: not from the page cache); a hasher
 * hashes what was read. The SHA-256 of everything read back must equal the
 * manifest's image digest, and the slot is flushed, before the slot may be
 * tried. A few chunk buffers go round between the threads: memory stays
 * constant whatever the image size.
 *
 * With read_back off the hasher hashes what is written instead (the image is
 * still checked; the medium is trusted). When a test has hooked the I/O layer
 * serially (io_serial()) every stage runs in this thread, so that the
 * sequence of I/O calls is the same on every run.
 */

#include <stdbool.h>
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
int install_image(const struct bundle *b, const char *path, bool read_back);
