/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * When the boot-state record is lost (both copies invalid, or not readable):
 * gather what is still known, for boot.c to decide on. The evidence is the
 * history ring on the same partition, copies that are damaged but still
 * decode apart from their CRC, and the slots' own first blocks: a slot counts
 * as checked only when it starts with a filesystem superblock we boot
 *
 *   ext4:     magic 0xEF53 (little-endian) at byte 1080 (superblock at 1024, s_magic at 56)
 *   squashfs: "hsqs" at byte 0
 *
 * so a half-written slot (whose first blocks are written last, or are garbage)
 * is never made active over a good one. Reading changes nothing.
 */

#include <stdbool.h>
#include <stdint.h>

#include "boot.h"
#include "state.h"

/* 1 when the slot at path starts with a superblock of a filesystem we boot, 0 if not, -errno. */
int recover_slot_checked(const char *path);

/*
 * Fills ev. d may be NULL (the state device could not be opened): then only
 * the slots are looked at. A piece that cannot be read is left out, and
 * ev->unreadable set: it may read at the next boot, so nothing is committed.
 */
void recover_evidence(struct state_dev *d, const char *const slot_path[2],
                      struct boot_evidence *ev);

/*
 * The boot-slot fallback, without a usable record: opens the state device
 * read-only (if it can), gathers the evidence, and chooses as
 * boot_recover_slot() does (1: the slot checked out, 0: a guess).
 */
int recover_choose(const char *state_path, const char *const slot_path[2], uint8_t *ret_slot);
