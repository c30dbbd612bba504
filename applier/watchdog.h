/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The hardware watchdog, for trial boots. Before a slot on trial boots, the
 * applier arms the watchdog and lets go of it without the magic close, so it
 * keeps running: a new system that hangs is reset, and the reset is a failed
 * try. mark-good disarms it (magic close), unless another process (systemd
 * with RuntimeWatchdogSec=) holds it, which then keeps it alive itself.
 */

/* Arms the watchdog at path with timeout seconds and leaves it running. */
int watchdog_arm(const char *path, int timeout);

/* Stops the watchdog at path with the magic close. -EBUSY if another process holds it. */
int watchdog_disarm(const char *path);
