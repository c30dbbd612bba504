/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Why did the last boot end? Asked by the applier when a trial boot ended
 * without a decision (no mark-good, no mark-bad, no clean shutdown), so the
 * history can say more than "it did not confirm":
 *   - a kernel panic or oops, when the platform keeps one in pstore (e.g.
 *     ramoops in RAM that survives a reset, or EFI variables);
 *   - a watchdog reset, when the watchdog driver reports it (bootstatus).
 * Otherwise the cause is unknown: a crash without a trace, or a power cut.
 */

#include <stddef.h>

/* Fills why and returns 1 when a cause is known, else 0. Consumes pstore records it read. */
int lastboot_cause(char *why, size_t size);
