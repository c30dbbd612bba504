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
 * A hook that exits non-zero, runs longer than HOOKS_TIMEOUT seconds, or
 * would take the hooks together past HOOKS_TOTAL_TIMEOUT, aborts the update:
 * the slot is never tried, and the reason names the hook. An image with more
 * than HOOKS_MAX hooks is refused the same way (none of them is run).
 * Hooks must be idempotent: a power cut during them makes them run again.
 *
 * Each hook runs in its own process group, with the applier as the child
 * subreaper: when the hook ends or is killed, whatever it started in its group
 * is killed and reaped with it, so nothing a hook left behind runs on into the
 * boot (a process that leaves the group with setsid escapes this; only a
 * cgroup would hold it). No watchdog is armed while hooks run (it is armed
 * only for the trial boot, after the switch is committed, so that a failed
 * hook can boot the old slot without a reset pending): HOOKS_TOTAL_TIMEOUT is
 * what bounds the time the boot can spend in them.
 */

#include <stdint.h>

#define HOOKS_DIR "/usr/lib/systemota/post-install.d"
#define HOOKS_MAX 64
#define HOOKS_TIMEOUT 300       /* seconds, one hook */
#define HOOKS_TOTAL_TIMEOUT 900 /* seconds, all of them together */

struct hooks_env {
	char slot;
	uint64_t version;
	const char *label;
	uint64_t from_version;
};

/*
 * Runs the hooks of the image in slot_path, with the data partition mounted
 * (read-only, by the applier) at data_mount. 0 when all passed or there are
 * none; -ECANCELED with a reason when one failed or timed out, or there are
 * more than HOOKS_MAX; another -errno when they could not be run at all.
 */
int hooks_run(const char *slot_path, const char *data_mount, const struct hooks_env *env);

struct hooks_limits {
	unsigned hook_ms;  /* HOOKS_TIMEOUT */
	unsigned total_ms; /* HOOKS_TOTAL_TIMEOUT */
};

/*
 * The part of hooks_run that mounts nothing (the unit tests call it): runs
 * the hooks in root's directory dir (a path inside root), chrooted into root
 * unless root is "/", within the limits.
 */
int hooks_run_in(const char *root, const char *dir, const struct hooks_env *env,
                 const struct hooks_limits *limits);
