/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A device-mapper emulator for the crash simulator, installed as
 * io_hooks.dm_ioctl: it models the BYTES of the data checkpoint
 * (docs/data-rollback.md), not just the ioctl sequence. Two files stand for
 * the partitions: the data partition and the COW store. The devices it knows
 * are the ones checkpoint.c makes: systemota-data (linear, snapshot-origin or
 * snapshot-merge over the data file) and systemota-checkpoint (snapshot,
 * persistent, on the COW file).
 *
 * Every byte it moves goes through io.h on those two files, so the crash
 * recorder sees each write and flush and fault injection can fail each one:
 *
 *   - a write through snapshot-origin while a valid, resumed snapshot exists
 *     first copies the chunk's old bytes into the COW file and makes that
 *     exception durable (copy, flush, exception entry, flush), then writes
 *     the data; a full store invalidates the snapshot (header valid = 0,
 *     flushed) and later writes go straight to the data, as the kernel does
 *     for a "P" store without the overflow feature; a failed COW write
 *     invalidates it too, and the data write still goes through (kernel);
 *   - snapshot-merge, when resumed, copies each exception back (last first:
 *     read COW chunk, write data, flush data, drop the entry, flush COW), so a
 *     cut mid-merge is resumed by the next load; status allocated == metadata
 *     when done, "Merge failed" after an I/O error;
 *   - status lines as dm-snap.c prints them: "A/T M" (sectors), "Invalid".
 *
 * The COW file: chunk 0 holds the kernel-compatible 16-byte header (magic
 * "SnAp", valid, version 1, chunk size in sectors, little-endian) and after
 * it our own exception table: up to DMEMU_MAX_EXCEPTIONS entries of 16
 * bytes (magic "XcPt", data chunk, COW chunk, check word), the table ending
 * at the first entry that does not check (so a torn or garbage entry write is
 * no exception). The rest of what the applier's reset zeroes (two of the
 * kernel's chunks) stands for the kernel's first metadata area; exception
 * i's copy lives in chunk DMEMU_FIRST_COW_CHUNK + i. A table is read when a snapshot or
 * snapshot-merge table is loaded; a zero magic starts a new store there (header written and
 * flushed).
 *
 * What lives only in kernel memory (the devices, their tables, the loaded
 * exception tables) is dropped by dmemu_reset(), which the simulator calls at
 * every boot, like a reboot. One emulator per process (a singleton: the hook
 * ignores its userdata, so it can ride on any test's io_hooks).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"

/*
 * The emulator's own chunk, smaller than the kernel's (CHECKPOINT_CHUNK_SECTORS)
 * so that the simulated devices stay small; the status reports it in sectors.
 */
#define DMEMU_CHUNK 4096u
#define DMEMU_ENTRY_SIZE 16u
#define DMEMU_TABLE_OFF 16u
#define DMEMU_MAX_EXCEPTIONS ((DMEMU_CHUNK - DMEMU_TABLE_OFF) / DMEMU_ENTRY_SIZE)
/* The copies start past what checkpoint_reset() zeroes (two of the kernel's chunks). */
#define DMEMU_FIRST_COW_CHUNK (2u * CHECKPOINT_CHUNK_SECTORS * 512u / DMEMU_CHUNK)

/* The files standing for the data partition and the COW store; resets everything. */
void dmemu_init(const char *data, const char *cow);

/* A reboot: every device and table gone (nothing is written). */
void dmemu_reset(void);

/* The io_hooks.dm_ioctl contract (io.h). */
int dmemu_ioctl(void *userdata, unsigned long cmd, void *buf);

/*
 * A write through /dev/mapper/systemota-data, as the running system or a
 * post-install hook makes it, then a flush (fsync): through io.h. -ENXIO when
 * systemota-data is not mapped (nothing may write the data behind the
 * checkpoint's back), -EAGAIN when it is suspended, -EBUSY during a merge
 * (nothing writes then in the simulator), -errno of a failed data write.
 */
int dmemu_write(uint64_t off, const void *buf, size_t len);

/*
 * What /dev/mapper/systemota-data shows (a snapshot-merge shows the merged
 * view), read with plain pread (no hooks: this is the test looking). -ENXIO
 * when not mapped.
 */
int dmemu_read(uint64_t off, void *buf, size_t len);

/* The live table's type of systemota-data, or NULL when it is not there. */
const char *dmemu_data_type(void);

/* Whether systemota-checkpoint is live (resumed) and valid: the origin's writes are COWed. */
bool dmemu_checkpoint_valid(void);

/* Called when a merge begins (true) and ends (false): tests mark the ops in between. */
void dmemu_set_merge_observer(void (*fn)(void *userdata, bool begin), void *userdata);

/* Counters since dmemu_init, for the tests' output. */
struct dmemu_stats {
	long cow_copies;    /* exceptions made durable */
	long invalidations; /* snapshots invalidated (overflow or COW I/O error) */
	long untraced;      /* ... of which the invalid header could not be written */
	long merged;        /* chunks merged back */
};
void dmemu_stats(struct dmemu_stats *ret);
