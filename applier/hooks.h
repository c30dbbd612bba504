/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Post-install (migration) hooks. A new image may carry executables in
 * /usr/lib/systemota/post-install.d/. After its slot was written and read
 * back, and before the switch to it is committed, the applier mounts the slot
 * read-only, mounts the data partition read-write inside it at /data, and
 * runs each hook in name order, chrooted into the new slot, with:
 *
 *   SYSTEMOTA_SLOT          the slot being installed (A or B)
 *   SYSTEMOTA_VERSION       its version, SYSTEMOTA_LABEL its label
 *   SYSTEMOTA_FROM_VERSION  the version of the slot running until now
 *   SYSTEMOTA_DATA          /data, the data partition, read-write
 *   PATH                    /usr/sbin:/usr/bin:/sbin:/bin
 *
 * /proc, /sys and /dev are there too; stdout and stderr both go to the console.
 * A hook that exits non-zero, or runs longer than HOOKS_TIMEOUT seconds,
 * aborts the update: the slot is never tried, and the reason names the hook.
 * Hooks must be idempotent: a power cut during them makes them run again.
 */

#include <stdint.h>

#define HOOKS_DIR "/usr/lib/systemota/post-install.d"
#define HOOKS_TIMEOUT 300

struct hooks_env {
	char slot;
	uint64_t version;
	const char *label;
	uint64_t from_version;
};

/*
 * Runs the hooks of the image in slot_path, with the data partition mounted
 * (read-only, by the applier) at data_mount. 0 when all passed or there are
 * none; -ECANCELED with a reason when one failed; another -errno when they
 * could not be run at all.
 */
int hooks_run(const char *slot_path, const char *data_mount, const struct hooks_env *env);
