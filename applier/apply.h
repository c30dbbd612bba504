/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The applier, run by the initramfs before the root filesystem is mounted:
 * load the boot-state record, finish or abandon an interrupted install,
 * install a staged bundle into the inactive slot, and decide which slot boots
 * (counting a trial boot, or rolling back). Every transition is one commit of
 * the record, computed by boot.c.
 *
 * The applier never writes the active slot, and always returns a slot to
 * boot: on any failure, the last good one. It writes the data partition only
 * through the post-install hooks and to merge a checkpoint back: a slot
 * boots on the data its own version left, never on a failed update's.
 */

#include <stdbool.h>
#include <stdint.h>

#include "crypto.h"

struct apply_config {
	const char *state_path;
	const char *slot_path[2];
	const char *data_dir; /* the data partition's files; NULL when it could not be mounted */
	const char *dropin;   /* the drop-in directory, relative to data_dir (staged.h) */
	const struct crypto_keyset *keys;
	const char *compatible;
	uint8_t tries;
	const char *watchdog; /* armed before a trial boot; NULL or "" for none */
	int watchdog_timeout;
	bool no_read_back;    /* trust the medium: hash what was written, not what reads back */
	bool probe_last_boot; /* ask pstore and the watchdog why a trial boot ended (initramfs) */
	const char *
	        data_mount; /* the data partition (read-only), for post-install hooks; NULL: none */
	bool after_kexec;   /* started by kexec from an earlier initramfs of this boot, */
	uint8_t kexec_slot; /* which chose this slot */
	/*
	 * The initramfs: the data partition's device, mounted read-only at
	 * data_mount_dir (as data_fstype) when the applier needs it, unless
	 * data_dir is given. Then data_dir and data_mount are that mount.
	 */
	const char *data_dev;
	const char *data_fstype;
	const char *data_mount_dir;
	/*
	 * The data checkpoint (docs/data-rollback.md, checkpoint.h): the config
	 * names a COW store, so the data is used through the device-mapper
	 * (data_dev must be set), and cow is that store (NULL: it is missing).
	 */
	bool checkpointed;
	const char *cow;
	/*
	 * The check of the slot to boot (bootcheck.h) maps it through dm-verity
	 * (the initramfs); without, it is checked and booted as the slot itself.
	 * device_out (device_out_size bytes), when set, receives what to mount:
	 * the mapping, the slot, or "none" when no slot can be trusted.
	 */
	bool verity_map;
	char *device_out;
	size_t device_out_size;
};

/*
 * Runs the whole boot-time sequence. *ret_slot is always set to the slot to
 * boot. Returns 0, or -errno when something failed (the slot is then the
 * last good one, or A if the state device itself is unusable).
 */
int apply_run(const struct apply_config *cfg, uint8_t *ret_slot);
