/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The check of a slot at every boot (docs/verity.md), before anything on it
 * is read for use, the kernel and initrd a kexec starts included:
 *
 *   1. the footer (footer.h): the bundle head the slot was installed from;
 *   2. its signature, against the device's trust (the adopted keyring, or the
 *      key directory while none is adopted), its compatible string, its
 *      version against the record's for that slot and against the floor;
 *   3. a scan of the whole image and hash tree from the raw slot: every data
 *      block's digest and every hash block as the tree computed anew has
 *      them, up to the signed root hash; the first block that differs is
 *      named, so the history can say where the slot is damaged;
 *   4. (map) the kernel's dm-verity mapping over the slot, read-only, in its
 *      default mode (a block that fails its hash reads as EIO, never as
 *      other bytes), and one block read through it, so the kernel has proved
 *      the root hash too. That mapping is what the initramfs mounts: every
 *      later read is checked again by the kernel.
 *
 * The scan costs one read of the image per boot (docs/performance.md); it is
 * what finds a damaged block the boot itself would not read, before the slot
 * runs, so that a confirmed slot found damaged is left for the other one
 * without ever running it (no boot loop).
 */

#include <stdbool.h>
#include <stdint.h>

#include "crypto.h"
#include "keyring.h"

#define BOOTCHECK_NO_BLOCK UINT64_MAX
#define BOOTCHECK_UNVERIFIED 1

struct bootcheck_config {
	const char *path;   /* the slot's device */
	uint8_t slot;       /* 0 = A, 1 = B: names the mapping and the messages */
	bool expect_footer; /* the record says the slot holds a verity image (state.h) */
	uint64_t version;   /* the record's version of the slot; 0: not known */
	uint64_t floor;
	const char *compatible;
	const struct crypto_keyset *keys;
	const struct keyring *adopted;
	bool map; /* make the mapping and read through it (the initramfs) */
	/*
	 * Map a slot whose footer verifies even when its scan finds a damaged
	 * block (the last resort, when no slot passes): its damaged blocks then
	 * read as EIO. The check still fails; ret->device names the mapping.
	 */
	bool map_damaged;
};

struct bootcheck {
	uint64_t version;   /* the footer's */
	uint64_t bad_block; /* the first data block (4 KiB, from 0) that fails, or NO_BLOCK */
	uint64_t bad_hash; /* the first hash block (from the tree's start) that differs, or NO_BLOCK
	                    */
	char device[128];  /* what to mount: the mapping, or the slot itself (unverified) */
};

/*
 * Checks the slot. Returns 0 when it is verified (and mapped, when asked),
 * BOOTCHECK_UNVERIFIED when it has no footer and none is expected (a slot
 * installed before verity: it boots as it always did), or -errno with a
 * reason: -EBADMSG damaged (a block, the tree, the footer, or a footer
 * missing that the record expects), -EKEY* / -ENOKEY a signature the device
 * does not trust, -ESTALE a version other than the record's or below the
 * floor, -EIO the slot could not be read. ret->device is always set.
 */
int bootcheck_slot(const struct bootcheck_config *c, struct bootcheck *ret);

/* Removes slot's mapping if there is one (a slot that is not booted after all). */
void bootcheck_unmap(uint8_t slot);

/* The mapping's name: "systemota-verity-a" or "-b". */
const char *bootcheck_map_name(uint8_t slot);
