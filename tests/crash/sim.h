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
 *
 * The SIM_KEYRING_* scenarios start with keyring 1 adopted (root: the device's
 * key; signing: "sign" and "old") and stage version 2 signed by "sign" under
 * the chain 1, 2, where keyring 2 revokes "old". Checked at every boot: the
 * record holds keyring 1 or keyring 2, never none and never another; keyring 2
 * is adopted exactly when version 2 is confirmed; pending is keyring 2 or none.
 *
 * SIM_VERITY_CONFIRMS installs a verity bundle: the image, its hash tree and
 * the footer. Checked at every boot: a record saying TRYING, or a confirmed
 * version 2, names a slot whose tree is exactly the image's and whose footer
 * holds version 2's head (footer.h).
 *
 * The SIM_VERITY_*_DAMAGED scenarios start where a block of slot B went bad
 * after its install (bootcheck.h): on trial (version 2 installed and its first
 * try counted) or confirmed (and slot A a verified version 1). Checked at
 * every boot: slot B never boots; at the end: slot A active, B bad, the
 * history holding a "damaged" entry for B.
 *
 * The SIM_CP_* scenarios put the data partition inside the transaction
 * (docs/data-rollback.md): a data file and a COW file, used through the
 * device-mapper emulator (dmemu.h). The post-install hook rewrites a region
 * of the data at "hooks-done" (each byte from the old one, so a hook run
 * twice on the same data shows); version 2 on trial writes more (a fixed
 * pattern). Checked too, at every boot and at the end:
 *
 *   - version 1 sees (through the mapping) exactly the data as it was before
 *     the update, unless the record or the history says it was NOT rolled
 *     back (an overflowed checkpoint); it never boots on the trial's origin;
 *   - the hook writes only behind a valid checkpoint; a trial boot sees the
 *     hook's data, and its writes go behind the checkpoint unless the record
 *     already knows it lost it;
 *   - at the end: data_cp NONE, the data mapped, the COW header zero (unless
 *     an overflowed checkpoint was given up), and the data version 2's
 *     (migrated and written) when it confirmed, the old data when it did not.
 */

#include <stdbool.h>
#include <stdint.h>

#include "dmemu.h"
#include "helpers.h"

enum sim_scenario {
	SIM_CONFIRMS,         /* version 2 runs mark-good when it boots */
	SIM_NEVER_CONFIRMS,   /* version 2 never confirms: tries run out, rollback */
	SIM_CORRUPT,          /* the staged bundle has a corrupt chunk: refused, A stays */
	SIM_KEXEC_LOOP,       /* version 2's kernel is not its boot id's: each try fails at the
	                         second kexec (kexec.h), recorded; tries run out, rollback */
	SIM_KEYRING_CONFIRMS, /* keyring 1 adopted; version 2 brings keyring 2, confirms */
	SIM_KEYRING_NEVER_CONFIRMS, /* ... never confirms: keyring 1 stays */
	SIM_VERITY_CONFIRMS,        /* version 2 is a verity bundle (tree and footer), confirms */
	SIM_VERITY_TRIAL_DAMAGED,   /* version 2 (verity) on trial in B, a block of B damaged */
	SIM_VERITY_ACTIVE_DAMAGED, /* A verity version 1, B verity version 2 confirmed, B damaged */
	SIM_CP_CONFIRMS,           /* checkpointed data: hook, trial writes, mark-good */
	SIM_CP_NEVER_CONFIRMS,     /* ... trial writes, tries run out: rollback and merge */
	SIM_CP_MARK_BAD,           /* ... trial writes, then mark-bad: rollback and merge */
	SIM_CP_OVERFLOW,          /* ... the trial writes more than the COW holds, never confirms */
	SIM_CP_OVERFLOW_CONFIRMS, /* ... the trial overflows the COW, then confirms */
};

/* The simulated data partition (SIM_CP_*), in 4 KiB chunks. */
#define SIM_DATA_CHUNKS 16
#define SIM_COW_CHUNKS (DMEMU_FIRST_COW_CHUNK + 6) /* header and reset area, 6 exceptions */

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
	/* SIM_CP_*: the data checkpoint. */
	bool checkpointed;
	char data_img[HELPERS_PATH_MAX], cow_img[HELPERS_PATH_MAX];
	uint8_t *data_v1;  /* the data before the update */
	uint8_t *data_v2;  /* ... migrated by the hook and written by the trial */
	bool hook_failed;  /* this run: a write of the hook failed (a fault), the install went on */
	bool trial_failed; /* this run: a trial write failed */
	/* Installed while the applier runs: s->hooks or the recorder's, with dmemu. */
	struct io_hooks io;
	char shm[HELPERS_PATH_MAX]; /* the tmpfs directory holding the device, "" if none */
	uint8_t keyring_digest[2][CRYPTO_DIGEST_SIZE]; /* SIM_KEYRING_*: keyrings 1 and 2 */
	uint8_t tree_digest[CRYPTO_DIGEST_SIZE];       /* SIM_VERITY_*: of version 2's tree */
	uint64_t tree_size;
	uint8_t v2_txn[CRYPTO_DIGEST_SIZE];
	bool damaged;     /* SIM_VERITY_*_DAMAGED: slot B must never boot */
	char device[128]; /* what the applier said to mount ("none": nothing boots) */
};

/* The devices a recording of s covers (3, or 5 with the data and COW files), NULL-ended. */
void sim_record_paths(const struct sim *s, const char *paths[]);

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
 * acts (mark-good or not). Returns the version that booted (1 or 2),
 * SIM_NOTHING_BOOTED when the applier said no slot can be trusted (the
 * device stops, and is restarted), or 0 after recording a violation.
 */
#define SIM_NOTHING_BOOTED 3
int sim_boot(struct sim *s);

/*
 * Boots until the sequence has settled (idle two boots in a row, at most
 * max_boots) and checks where it ended. Returns true when no invariant was broken.
 */
bool sim_run_to_end(struct sim *s, int max_boots);

/* Records the first violation; returns false. */
bool sim_violation(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
