/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Device-mapper: the one owner of /dev/mapper/control. Every ioctl goes through
 * io_dm_ioctl() (fault injection, the host-side emulator). All functions return
 * >= 0 on success and -errno on failure (-ENXIO: no such device, -EPROTO: the
 * kernel's dm interface is not version 4), with a reason set by fail().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DM_TARGET_TYPE_MAX 16 /* the kernel's DM_MAX_TYPE_NAME */
#define DM_PARAMS_MAX 1024    /* ours: our tables are two device paths and a few words */
#define DM_TARGETS_MAX 8      /* ours: a table we load or read has at most this many */

struct dm_target {
	uint64_t start;  /* sectors */
	uint64_t length; /* sectors */
	const char *type;
	const char *params;
};

/* One target of a table or status, as read back. */
struct dm_target_info {
	uint64_t start, length;
	char type[DM_TARGET_TYPE_MAX];
	char params[DM_PARAMS_MAX];
};

/*
 * Pure: fills buf (size bytes, 8-aligned) with a dm_ioctl for device name,
 * with flags and, when n > 0, the target specs of a table load. Returns the
 * bytes used, -ENAMETOOLONG, -EINVAL or -ENOBUFS (does not fit).
 */
int dm_build(void *buf, size_t size, const char *name, uint32_t flags, const struct dm_target *t,
             size_t n);

/*
 * Pure: checks a dm_ioctl result (size bytes of buffer) and parses the target
 * specs of a DM_TABLE_STATUS answer into ret (at most max). Returns the target
 * count, -ENOBUFS when DM_BUFFER_FULL_FLAG is set, -EBADMSG for a malformed answer.
 */
int dm_parse_targets(const void *buf, size_t size, struct dm_target_info *ret, size_t max);

/* The status line of a snapshot or snapshot-merge target. */
struct dm_snapshot_status {
	bool invalid;  /* "Invalid": the store overflowed or failed; the checkpoint is lost */
	bool overflow; /* "Overflow": the store is full (snapshot-merge reports it so too) */
	bool merge_failed;
	uint64_t allocated, total, metadata; /* sectors; valid when none of the above */
};

/* Pure: "A/T M", "Invalid", "Overflow", "Merge failed". -EBADMSG otherwise. */
int dm_parse_snapshot_status(const char *line, struct dm_snapshot_status *ret);

/* 1 when the device exists, 0 when not. */
int dm_exists(const char *name);

/* Create + load + resume; on failure the half-made device is removed. Ensures /dev/mapper/name. */
int dm_create(const char *name, const struct dm_target *t, size_t n);

/* The same, read-only (DM_READONLY_FLAG on the table): a verity target accepts nothing else. */
int dm_create_readonly(const char *name, const struct dm_target *t, size_t n);

/* Replaces a live device's table: load + suspend (with lockfs) + resume. */
int dm_replace(const char *name, const struct dm_target *t, size_t n);

/* Loads an inactive table; the next dm_resume() makes it live. */
int dm_load(const char *name, const struct dm_target *t, size_t n);

/* Drops an inactive table, so a resume brings back the live one. */
int dm_clear(const char *name);

int dm_suspend(const char *name);
int dm_resume(const char *name);

/* Removes the device and its node. -ENXIO when absent. */
int dm_remove(const char *name);

/* The live table (table) or status (!table): the target count, targets in ret (at most max). */
int dm_table(const char *name, bool table, struct dm_target_info *ret, size_t max);

/* Tests: the directory of the control device and the nodes (default "/dev/mapper"). */
void dm_set_dir(const char *dir);

/* The node of device name, as dm_create makes it: "<dir>/<name>". */
void dm_node_path(const char *name, char *buf, size_t size);
