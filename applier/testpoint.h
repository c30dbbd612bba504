/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Test points for the QEMU power-cut tests. When the kernel command line holds
 * systemota.testpoint=NAME (or the environment SYSTEMOTA_TESTPOINT=NAME),
 * testpoint(NAME) prints "systemota: TESTPOINT NAME" to stderr and stops the
 * process for good, so that the test harness can cut the power at exactly that
 * instant. Every other call returns at once. A production command line never
 * names a test point; if one did, the device would stop there (and its
 * watchdog reset it) without any other effect.
 *
 * The points, in the order an update reaches them (docs/power-cut-safety.md):
 *   stage-copied stage-renamed apply-loaded writing-committed mid-write written
 *   flushed mid-verify checkpoint-committed hooks-done trying-committed
 *   try-counted rollback-committed data-rolled-back mark-good-committed
 *   mark-good-cleaned
 */

void testpoint(const char *name);

/*
 * In-process tests (the crash simulator): handler(name, userdata) is called at
 * every point reached, armed or not, so a test can act there (write the data
 * as a post-install hook would). NULL removes it.
 */
void testpoint_set_handler(void (*handler)(const char *name, void *userdata), void *userdata);
