/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Every mount the applier makes: the data partition (read-only, to find the
 * staged bundle; writable for the post-install hooks) and a slot (read-only,
 * to run its hooks). One owner, so the options are decided in one place.
 *
 * The data partition is mounted with the type system.conf names (data-fstype),
 * never the one its superblock claims, and with explicit options: nothing in
 * the filesystem's own defaults (ext4 errors=panic is a boot loop) applies.
 * A read-only mount must not write: a journaled filesystem replays its journal
 * even when mounted read-only, so a journal that needs recovery is not loaded
 * (ext4 noload, xfs and f2fs norecovery, btrfs nologreplay); and ext4 cleans
 * up orphan inodes even on a read-only mount, so the block device itself is
 * made read-only (BLKROSET) while the applier has it mounted read-only.
 */

#include <stdbool.h>
#include <stddef.h>

/* Where the data partition's superblock may not have its way. */
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256 /* Linux 5.10 */
#endif

#define MOUNT_DATA_SIZE 64
#define MOUNT_DEV_SIZE 256

/* -EINVAL unless fstype is one the applier knows how to mount safely. */
int mount_fstype_supported(const char *fstype);

/*
 * Pure: the flags and the data string for a read-only mount of the data
 * partition as fstype, given whether its journal needs recovery (when that
 * is not known, say true). -EINVAL for an unknown type.
 */
int mount_data_options(const char *fstype, bool journal_dirty, unsigned long *ret_flags,
                       char data[MOUNT_DATA_SIZE]);

/*
 * Whether an ext2/3/4 superblock on dev says its journal needs recovery (or
 * has orphans to clean up): 1 yes, 0 no, -errno when it cannot be read or is
 * not ext*. Other types answer 1 (assume the worst).
 */
int mount_journal_dirty(const char *dev, const char *fstype);

/*
 * Mounts dev at dir as fstype read-only with mount_data_options(), the block
 * device set read-only first (a warning if it cannot be). On a kernel without
 * MS_NOSYMFOLLOW (before 5.10) mounts again without it and says so. 0 or
 * -errno with a reason. Undo with mount_data_release().
 */
int mount_data_ro(const char *dev, const char *dir, const char *fstype);

/*
 * For the post-install hooks: the data partition mounted at dir (by
 * mount_data_ro) made writable, device and mount, or back to read-only.
 * -EROFS with a reason when its journal was not loaded (it needed recovery):
 * writing past an unreplayed journal corrupts the filesystem when the journal
 * is replayed later.
 */
int mount_data_writable(const char *dir, bool writable);

/* Unmounts the data partition at dir and makes its block device writable again. */
int mount_data_release(const char *dir);

/* Mounts slot device dev at dir read-only (nodev, nosuid), ext4 without its journal. */
int mount_slot(const char *dev, const char *dir);
