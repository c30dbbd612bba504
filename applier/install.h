/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Writing a verified bundle's image into a slot. The work is a pipeline of
 * threads (install.c): this one reads each chunk, checks it against its
 * signed digest and inflates it; a writer writes it to the slot; a reader
 * reads it back through the device (O_DIRECT: not from the kernel's page
 * cache); a hasher hashes what was read. The SHA-256 of everything read back
 * must equal the manifest's image digest, and the slot is flushed, before the
 * slot may be tried.
 *
 * The read-back comes before the flush, so a drive with a volatile write
 * cache may answer it from that cache: it proves what the device returns, not
 * what its medium holds (a flush first would not prove that either: a drive
 * may serve reads from its cache after a flush; docs/security.md has the
 * measured cost). A few chunk buffers go round between the threads: memory
 * stays constant whatever the image size.
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
 * Streams b (verified) into the slot at path, which the caller chose as not
 * the active slot: that choice is what protects the active slot (O_EXCL here
 * refuses only a mounted device, and nothing is mounted in the initramfs).
 * Never writes past the declared
 * image size; -ENOSPC if the image is larger than the slot. -EBADMSG when the
 * bundle's payload is corrupt, -EIO when the device fails or reads back
 * different. Every failure leaves a reason (fail.h).
 */
int install_image(const struct bundle *b, const char *path, bool read_back);
