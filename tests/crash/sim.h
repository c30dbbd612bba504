/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A simulated device for the power-cut tests: the unit tests' plain-file
 * device (state, slot A, slot B, drop-in directory with a staged version 2
 * bundle) driven through whole boot sequences, with the invariants of
 * docs/power-cut-safety.md checked at every boot:
 *
 *   - the slot that boots holds exactly the old image (slot A's factory bytes)
 *     or exactly the new one (the bundle's image);
 *   - an unconfirmed slot boots at most `tries` times;
 *   - the state record always reads back as a valid record;
 *   - a record saying TRYING always names a slot holding exactly the new image;
 *   - the sequence ends where it must: version 2 confirmed in slot B when the
 *     new system confirms itself, version 1 in slot A (B bad) when it never does.
 *
 * The new system's behaviour is the scenario: it runs mark-good, or never does.
 */

#include <stdbool.h>
#include <stdint.h>

#include "helpers.h"

enum sim_scenario {
	SIM_CONFIRMS,       /* version 2 runs mark-good when it boots */
	SIM_NEVER_CONFIRMS, /* version 2 never confirms: tries run out, rollback */
	SIM_CORRUPT,        /* the staged bundle has a corrupt chunk: refused, A stays */
	SIM_KEXEC_LOOP,     /* version 2's kernel is not its boot id's: each try fails at the
	                       second kexec (kexec.h), recorded; tries run out, rollback */
};

struct sim {
	struct helpers_device dev;
	enum sim_scenario scenario;
	uint8_t a_digest[CRYPTO_DIGEST_SIZE]; /* slot A's factory bytes, whole slot */
	uint8_t v2_digest[CRYPTO_DIGEST_SIZE];
	uint64_t v2_size;
	int unconfirmed_boots; /* boots of version 2 while it was on trial */
	int boots;
	/* Called at the start of each boot, and after the applier chose a slot. */
	void (*before_boot)(struct sim *s);
	void (*after_apply)(struct sim *s, bool trial);
	int last_apply; /* what apply_run returned at the last boot */
	/* I/O hooks active while the applier and mark-good run (not during the checks). */
	const struct io_hooks *hooks;
	void *userdata;
	char violation[256];           /* the first invariant broken, "" if none */
	char root_b[HELPERS_PATH_MAX]; /* SIM_KEXEC_LOOP: slot B as mounted (its boot id) */
};

/* Builds the device in the test's tmpdir with the scenario's bundle staged. */
int sim_setup(struct sim *s, enum sim_scenario scenario);

/*
 * After the recorded devices were set back to a crash state: puts the staged
 * bundle back if the run removed it (mark-good's clean-up, after its commit).
 * The data partition is not a recorded device, and at any cut before that
 * clean-up the bundle was still there; the states after it are covered by
 * the uninterrupted run. Only a missing file is replaced, so a file the
 * record remembers (by its fingerprint) stays the same file.
 */
int sim_restore_dropin(struct sim *s);
void sim_free(struct sim *s);

/*
 * One boot: the applier decides, the slot is checked, and the booted system
 * acts (mark-good or not). Returns the version that booted (1 or 2), or 0
 * after recording a violation.
 */
int sim_boot(struct sim *s);

/*
 * Boots until the sequence has settled (idle two boots in a row, at most
 * max_boots) and checks where it ended. Returns true when no invariant was broken.
 */
bool sim_run_to_end(struct sim *s, int max_boots);

/* Records the first violation; returns false. */
bool sim_violation(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
