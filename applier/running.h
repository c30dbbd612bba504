/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The running system's engine: every transition the booted system makes on
 * the boot-state record (mark-good, mark-bad, clean-shutdown, allow-downgrade),
 * and its other jobs (stage, status, history), over resolved devices. It knows
 * nothing of the command line: verbs.c turns a command line into a
 * running_config, and the tests and the crash simulator call these functions
 * directly, so they exercise the real transitions.
 *
 * Each transition is one commit computed by boot.c, made under an exclusive
 * lock on the state device (flock): two commands that race (a clean-shutdown
 * during a mark-good) are serialised, and each one loads the record only after
 * it holds the lock, so neither can commit over the other's transition.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto.h"

#define RUNNING_LOCK_TIMEOUT_MS 10000 /* how long a transition waits for another one */

struct running_config {
	const char *state_path;
	const char *slot_path[2];
	int booted;           /* the slot the running root is on: 0 = A, 1 = B, -1 unknown */
	const char *data_dir; /* the data partition's files; NULL: not available */
	const char *dropin;   /* the drop-in directory, relative to data_dir (dropin.h) */
	const struct crypto_keyset *keys; /* NULL: staged bundles are neither judged nor removed */
	const char *compatible;
	const char *watchdog;   /* stopped after mark-good; NULL, "" or "none": none */
	bool watchdog_handover; /* mark-good leaves the watchdog running for another daemon */
	int lock_timeout_ms;    /* 0: RUNNING_LOCK_TIMEOUT_MS */
	const char *cow; /* the data checkpoint's COW store (docs/data-rollback.md); NULL: none */
};

/*
 * mark-good from the booted slot: TRYING -> IDLE with the target active (or
 * nothing, when it already is: idempotent), then the data checkpoint is
 * dropped (the record already says there is none), the watchdog released and
 * the applied bundle removed. -EPERM when the booted slot is neither.
 */
int running_mark_good(const struct running_config *cfg);

/* mark-bad: the trial of the booted slot ends, the target BAD (because may be NULL). */
int running_mark_bad(const struct running_config *cfg, const char *because);

/* From the shutdown path of a system on trial: a clean reboot gives its try back. */
int running_clean_shutdown(const struct running_config *cfg);

/*
 * A deliberate downgrade: the next install may be exactly this version, not
 * newer. It holds for one install only: any install, and any mark-good, ends it.
 */
int running_allow_downgrade(const struct running_config *cfg, uint64_t version);

/* Withdraws an allowed downgrade. 0 also when none was allowed. */
int running_revoke_downgrade(const struct running_config *cfg);

/* Verifies file and stages it in the drop-in directory (stage.h). */
int running_stage(const struct running_config *cfg, const char *file);

/* Prints the booted and active slots, the record, the staged files and recent history. */
int running_status(const struct running_config *cfg, FILE *out, bool json);

/* Prints the whole history. */
int running_history(const struct running_config *cfg, FILE *out, bool json);
