/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/*
 * The hardware watchdog, for trial boots. Before a slot on trial boots, the
 * applier arms the watchdog and lets go of it without the magic close, so it
 * keeps running: a new system that hangs is reset, and the reset is a failed
 * try. mark-good disarms it (magic close), unless another process (systemd
 * with RuntimeWatchdogSec=) holds it, which then keeps it alive itself.
 */

/* The config names a watchdog: path is neither empty nor "none". */
bool watchdog_configured(const char *path);

/* Arms the watchdog at path with timeout seconds and leaves it running. */
int watchdog_arm(const char *path, int timeout);

/* Stops the watchdog at path with the magic close. -EBUSY if another process holds it. */
int watchdog_disarm(const char *path);

/*
 * The watchdog core's policy at reboot, and so at kexec: true only where the
 * kernel command line says watchdog.stop_on_reboot=0 (else most drivers stop
 * their watchdog at every reboot, and a kexec'd kernel boots unguarded).
 */
#define WATCHDOG_STOP_ON_REBOOT "/sys/module/watchdog/parameters/stop_on_reboot"
bool watchdog_runs_across_reboot(const char *param_path);
