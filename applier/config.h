/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Device configuration, /etc/systemota/system.conf: "key = value" lines, '#'
 * comments. The same file serves the initramfs (the dracut module copies it)
 * and the running system. Command-line options override single keys; tests
 * use that to point everything at plain files.
 *
 *   compatible = demo-x86_64              must match a bundle's compatible string
 *   keys       = /etc/systemota/keys      trusted public keys (*.pem), revoked list
 *   tries      = 3                        trial boots before rolling back (1..16)
 *   state      = PARTLABEL=systemota-state
 *   slot-a     = PARTLABEL=systemota-a
 *   slot-b     = PARTLABEL=systemota-b
 *   data       = PARTLABEL=systemota-data the data partition (the initramfs mounts it read-only)
 *   data-fstype = ext4                    its type: the initramfs mounts it as that, never as
 *                                         its superblock says (mount.h)
 *   data-dir   = /data                    where the running system mounts it
 *   cow        =                          the copy-on-write store of the data checkpoint
 *                                         (docs/data-rollback.md), e.g. PARTLABEL=systemota-cow;
 *                                         empty (default): the data is not checkpointed
 *   dropin     = systemota/staged         drop-in directory, relative to the data partition
 *   watchdog   = /dev/watchdog            armed before a trial boot ("none": not used)
 *   watchdog-timeout = 60                 seconds the new system has to confirm or pet it
 *   watchdog-handover = no                yes: mark-good leaves it running for another daemon
 *   read-back  = yes                      re-read the written slot from the medium and
 *                                         check its digest before switching (no: trust the
 *                                         write and check the digest of what was written)
 *
 * A device is either a path or PARTLABEL=<name>, looked up with libblkid.
 */

#include <stdint.h>

#define CONFIG_DEFAULT_PATH "/etc/systemota/system.conf"
#define CONFIG_VALUE_MAX 256

struct config {
	char compatible[64];
	char keys[CONFIG_VALUE_MAX];
	uint8_t tries;
	char state[CONFIG_VALUE_MAX];
	char slot[2][CONFIG_VALUE_MAX];
	char data[CONFIG_VALUE_MAX];
	char data_fstype[16];
	char data_dir[CONFIG_VALUE_MAX];
	char cow[CONFIG_VALUE_MAX]; /* "": no data checkpoint */
	char dropin[CONFIG_VALUE_MAX];
	char watchdog[CONFIG_VALUE_MAX]; /* "" or "none": no watchdog for trial boots */
	int watchdog_timeout;            /* seconds */
	int watchdog_handover;           /* 1: mark-good leaves the watchdog to another daemon */
	int read_back;                   /* 1 (default): verify the slot by reading it back */
};

void config_defaults(struct config *c);

/* Reads path over the defaults. A missing file is fine when optional is set. */
int config_load(struct config *c, const char *path, int optional);

/* Sets one key as the file would ("slot-a", "tries", ...). -EINVAL with a reason for a bad key or
 * value. */
int config_set(struct config *c, const char *key, const char *value);
