/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Finding the device's partitions: the only file that talks to libblkid.
 * Partitions are named by GPT partition label (PARTLABEL), so the same image
 * works whatever the disk is called (/dev/vda, /dev/mmcblk0, /dev/sda).
 */

#include <stddef.h>
#include <stdint.h>

/*
 * Resolves a device spec: "PARTLABEL=<name>" is looked up among all block
 * devices in /proc/partitions; anything else is taken as a path. *ret is
 * malloc'ed. -ENOENT when no partition has the label, -EEXIST when several do.
 */
int slot_resolve(const char *spec, char **ret);

/* The filesystem type libblkid finds on a device ("ext4"), malloc'ed. */
int slot_fstype(const char *path, char **ret);

/* -EINVAL (with a reason) unless the n paths name n different files or devices. */
int slot_distinct(const char *const *paths, size_t n);

/*
 * Which of the two slot devices the running root filesystem is on (0 = A,
 * 1 = B), by comparing the device of "/" with theirs. -ENODEV if neither.
 */
int slot_booted(char *const slot_path[2], uint8_t *ret);
