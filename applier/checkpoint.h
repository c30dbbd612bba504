/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The data checkpoint of a trial boot: the kernel's dm-snapshot with a
 * persistent COW store on the systemota-cow partition, over dm.c.
 *
 * The running system always mounts /dev/mapper/systemota-data (one fstab
 * line). PLAIN: it is a linear map of the data partition. TRIAL: it is a
 * snapshot-origin of the data partition and systemota-checkpoint a snapshot
 * whose COW keeps the blocks as they were, so a rollback can merge them back.
 *
 * All functions return >= 0 on success, -errno on failure with a reason
 * (fail.h): -ENOENT nothing mapped, -EBADMSG a COW header that is not the
 * kernel's, -EPROTO an unknown header version, -ENOSPC an overflowed
 * (invalid) checkpoint that cannot be merged, -ETIMEDOUT a merge that did not
 * finish in CHECKPOINT_MERGE_TIMEOUT_MS.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHECKPOINT_DATA_NAME "systemota-data"
#define CHECKPOINT_SNAP_NAME "systemota-checkpoint"

/*
 * 128 sectors = 64 KiB. Measured (bench/checkpoint.sh, 6 MiB of fsynced 1 MiB
 * writes through the origin against the straight mapping, one QEMU run each):
 * 4 KiB chunks 29.8x slower, 16 KiB 2.24x, 64 KiB 1.44x. The cost is the
 * store's metadata commit (a flush) per batch of copied chunks; the price of
 * bigger chunks is COW space: a 4 KiB write takes a whole chunk of the store.
 */
#define CHECKPOINT_CHUNK_SECTORS 128

/* Polling of a merge: every 50 ms, for at most 30 minutes (a full 8 MiB.. GiB COW on slow eMMC). */
#define CHECKPOINT_MERGE_POLL_MS 50
#define CHECKPOINT_MERGE_TIMEOUT_MS (30u * 60 * 1000)

/* The kernel's persistent store header (dm-snap-persistent.c, struct disk_header). */
#define CHECKPOINT_SNAP_MAGIC 0x70416e53u /* "SnAp" */
#define CHECKPOINT_SNAP_VERSION 1u

struct checkpoint_header {
	bool present; /* the magic matches: a store the kernel will load (magic 0: a new one) */
	bool valid;   /* the kernel has not invalidated it (overflow, I/O error) */
	uint32_t chunk_sectors;
};

/*
 * Pure. The first 16 bytes of the COW device, little-endian:
 *   0 magic  4 valid  8 version  12 chunk_size (sectors)
 * Magic 0: not present (the kernel starts a new store; the rest is not
 * looked at). Another magic: -EBADMSG. Version != 1: -EPROTO. valid not 0/1,
 * chunk_size 0 or not a power of two: -EBADMSG. len < 16: -EBADMSG.
 */
int checkpoint_parse_header(const void *buf, size_t len, struct checkpoint_header *ret);

/* Reads the header of the COW device (its first sector) through io.h. */
int checkpoint_cow_header(const char *cow, struct checkpoint_header *ret);

/*
 * Invalidates any checkpoint on cow: zeroes its first two chunks (the header
 * and the first metadata area; the kernel writes a new header before it
 * zeroes that area, so an old area must not survive a crash between), with
 * O_DIRECT, then syncs.
 */
int checkpoint_reset(const char *cow);

enum checkpoint_map { CHECKPOINT_PLAIN, CHECKPOINT_TRIAL };

/*
 * Maps data (and cow for TRIAL; may be NULL for PLAIN) as asked. Idempotent;
 * a device mapped the other way gets its live table replaced (it may be
 * mounted). TRIAL over a zero header starts an empty checkpoint; over a valid
 * one the kernel loads its exceptions. TRIAL -> PLAIN keeps the new data
 * (the checkpoint is removed, not merged).
 */
int checkpoint_map(const char *data, const char *cow, enum checkpoint_map how);

/*
 * Rollback: merges the checkpoint back into data, waiting for the end (progress
 * called on each poll, if given), then maps PLAIN. Resumable after a power cut
 * with the same arguments, also once done (the merged store is empty): the
 * caller resets cow (checkpoint_reset) only after its record says the merge is
 * done, so that a cut in the reset cannot leave a merge owed on a torn header.
 * A cow with no header: maps PLAIN, 0. An invalid (overflowed) checkpoint:
 * -ENOSPC, nothing changed; a header that is not the kernel's: -EBADMSG or
 * -EPROTO, nothing changed.
 */
int checkpoint_merge(const char *data, const char *cow,
                     void (*progress)(void *, uint64_t done, uint64_t total), void *u);

/*
 * Commit: removes systemota-checkpoint (systemota-data stays, writes pass
 * through), resets cow; with nothing mapped, resets cow only if it holds a
 * header (so that a repeated mark-good writes nothing).
 */
int checkpoint_drop(const char *cow);

struct checkpoint_usage {
	bool mapped, merging, invalid, overflow;
	uint64_t used_sectors, total_sectors, metadata_sectors;
};

/* From the live checkpoint (or the merging data device). -ENOENT when none is mapped. */
int checkpoint_usage(struct checkpoint_usage *ret);

/* The node the data is used through, /dev/mapper/systemota-data (dm.h's directory). */
void checkpoint_data_node(char *buf, size_t size);

/* Removes both devices, the checkpoint first (tests, tooling). */
int checkpoint_unmap(void);
