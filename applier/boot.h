/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The boot decision: every transition of the boot-state record, as pure
 * functions from the current record (plus an event) to the next one. No I/O
 * happens here, so tests/unit/test-boot.c can check every state exhaustively.
 * The applier (apply.c) and mark-good/mark-bad (main path) commit what these
 * return, one commit per transition:
 *
 *   IDLE --valid bundle--> WRITING --written, read back, verified--> TRYING
 *   WRITING --bundle corrupt--> IDLE (file remembered as rejected, reason)
 *   WRITING --device error--> WRITING (reason), retried at the next boot
 *   WRITING --post-install hook failed--> IDLE (last_failed, reason)
 *   WRITING found at boot --attempts < max--> WRITING (attempts+1), retry
 *   WRITING found at boot --attempts = max--> IDLE (last_failed, reason)
 *   TRYING --tries_left > 0--> TRYING (tries_left-1), boot target
 *   TRYING --clean shutdown of the target--> TRYING (tries_left+1, bounded)
 *   TRYING --tries_left = 0--> IDLE, target BAD, boot active (rollback)
 *   TRYING --trial boot failed in the initramfs--> TRYING (reason), reboot;
 *          after the last try: IDLE, target BAD (rollback, that reason)
 *   TRYING --mark-good from target--> IDLE, active = target
 *   TRYING --mark-bad from target--> IDLE, target BAD
 *   TRYING, the target fails its check at boot--> IDLE, target BAD (rollback)
 *   IDLE, the active slot fails its check, the other GOOD and verified-->
 *          IDLE, the other active, the damaged one BAD
 * and the data checkpoint (data_cp, docs/data-rollback.md), one commit each:
 *   WRITING, before the post-install hooks --> checkpoint ACTIVE
 *   any transaction ending unconfirmed (to IDLE above) --> ACTIVE becomes MERGING
 *   mark-good --> checkpoint NONE (dropped), in the commit that makes the slot active
 *   ACTIVE found outside a trial (hooks cut short) --> MERGING
 *   MERGING, merged back --> NONE
 *   the COW store overflowed --> ACTIVE on trial becomes OVERFLOWED (kept data,
 *          said in the reason); MERGING becomes NONE (not rolled back, said)
 *   both copies invalid, a slot checks out --> IDLE, that slot active,
 *           versions unknown (installs refused), what the history kept
 */

#include <stdbool.h>
#include <stdint.h>

#include "history.h"
#include "state.h"

#define BOOT_MAX_APPLY_ATTEMPTS 3
#define BOOT_DEFAULT_TRIES 3

/* What a verified bundle asks to install. */
struct boot_install {
	uint8_t txn[STATE_DIGEST_SIZE];
	uint8_t image_digest[STATE_DIGEST_SIZE];
	uint64_t image_size;
	uint64_t version;
	uint64_t floor; /* the bundle's floor: raised on the device when it is confirmed */
	bool verity;    /* a verity image: the slot will carry its footer (state.h) */
	char label[STATE_LABEL_SIZE];
	uint8_t fingerprint[STATE_FINGERPRINT_SIZE]; /* of the staged file (staged.h) */
	/* The keyring the bundle brings, newer than the adopted one (0: none): pending. */
	uint16_t keyring_len;
	const uint8_t *keyring;
};

/*
 * IDLE -> WRITING into the inactive slot, attempt 1. Whenever a transaction
 * fails for good (gave up, rolled back, marked bad), its transaction id is
 * recorded as last_failed and its file is remembered as refused, so that no
 * set of staged updates can be installed in turn forever.
 */
void boot_begin_install(const struct state_record *cur, const struct boot_install *in,
                        struct state_record *next);

/*
 * WRITING found at boot: the last attempt was interrupted. Returns 0 with the
 * attempt counted (WRITING, attempts + 1) when another attempt is allowed, or
 * 1 with the install abandoned (IDLE, last_failed, reason) when it is not.
 */
int boot_resume_install(const struct state_record *cur, struct state_record *next);

/*
 * Records a failure that may pass (an I/O error on a slot or on the data
 * partition) without changing the state: WRITING stays WRITING, so the next
 * boot retries the install as after a power cut (until BOOT_MAX_APPLY_ATTEMPTS
 * attempts were made); IDLE stays IDLE, and the next boot looks again.
 */
void boot_note_failure(const struct state_record *cur, int error, const char *reason,
                       struct state_record *next);

/*
 * WRITING, the slot written and verified, before the post-install hooks: from
 * this commit on a checkpoint of the data exists (the caller zeroed the COW
 * header before, so the store can only hold this checkpoint). next is cur when
 * not WRITING or a checkpoint is already recorded (the caller merges first).
 */
void boot_checkpoint_begin(const struct state_record *cur, struct state_record *next);

/*
 * At the start of every boot: a checkpoint ACTIVE outside a trial belongs to
 * a transaction whose post-install hooks were cut short; the data goes back
 * to before them (MERGING). Returns 1 with next to commit, 0 when cur stands.
 */
int boot_checkpoint_resolve(const struct state_record *cur, struct state_record *next);

/* MERGING -> NONE: the data is byte for byte as before version cp_version. */
void boot_checkpoint_merged(const struct state_record *cur, struct state_record *next);

/*
 * The checkpoint is gone (the COW store overflowed and the kernel invalidated
 * it; why says so). ACTIVE on trial -> OVERFLOWED: the trial goes on, and if
 * it fails the rollback says the data was not rolled back. MERGING -> NONE,
 * the reason saying the data was not rolled back. Returns 1 with next to
 * commit, 0 when there is no checkpoint to lose.
 */
int boot_checkpoint_lost(const struct state_record *cur, const char *why,
                         struct state_record *next);

/* WRITING -> TRYING with tries trial boots allowed. */
void boot_install_done(const struct state_record *cur, uint8_t tries, struct state_record *next);

/*
 * WRITING -> IDLE after a failed install (corrupt payload, device error). The
 * target stays INCOMPLETE. Only the file's fingerprint is recorded, not the
 * transaction, so a good copy of the same update can still be staged.
 */
void boot_install_failed(const struct state_record *cur, int error, const char *reason,
                         const uint8_t fingerprint[STATE_FINGERPRINT_SIZE],
                         struct state_record *next);

/*
 * WRITING -> IDLE when a post-install hook of the new image failed: the
 * update is refused for good (last_failed), its slot stays INCOMPLETE.
 */
void boot_hook_failed(const struct state_record *cur, int error, const char *reason,
                      struct state_record *next);

/* IDLE, a staged file refused before anything was written: record why. */
void boot_reject(const struct state_record *cur, int error, const char *reason,
                 const uint8_t fingerprint[STATE_FINGERPRINT_SIZE], struct state_record *next);

/* Whether the record remembers the staged file with this fingerprint as refused. */
bool boot_is_rejected(const struct state_record *r,
                      const uint8_t fingerprint[STATE_FINGERPRINT_SIZE]);

/*
 * The boot itself. Sets *ret_slot to the slot to boot and returns 1 when next
 * must be committed before booting it, 0 when cur stands as is:
 *   IDLE:    the active slot, no commit
 *   TRYING:  tries left: the target, with one try consumed
 *            none left: roll back (IDLE, target BAD, reason), the active slot
 *   WRITING: never reaches here (the applier resolves it first); boots active
 */
int boot_choose(const struct state_record *cur, struct state_record *next, uint8_t *ret_slot);

/*
 * The trial boot of the target failed before its system ran, for a reason
 * the initramfs knows (a second kexec in one boot was refused, kexec.h); the
 * try was counted when this boot began (boot_choose). The reason goes into
 * the record, and the trial boot is over (trial_booted cleared: the next boot
 * does not report it again as one that stopped without deciding). Returns 0
 * with the target still on trial (the next cold boot counts the next try),
 * or 1 when that was the last try: rolled back (IDLE, target BAD, the reason
 * kept), as boot_choose() would do at the next boot, but saying why. Not on
 * trial: 0, next is cur.
 */
int boot_try_failed(const struct state_record *cur, int error, const char *reason,
                    struct state_record *next);

/*
 * The slot to boot failed its check at boot (bootcheck.h: a block that fails
 * its hash, a footer that does not verify). The active slot of an IDLE
 * record, when the other one is GOOD (and the caller found it verified):
 * IDLE, the other slot active, the damaged one BAD and the target (so the
 * history entry names it), the reason saying where. Returns 1 with next to
 * commit, 0 when the other slot is not GOOD (next is cur: nothing better to
 * boot).
 */
int boot_slot_damaged(const struct state_record *cur, const char *reason,
                      struct state_record *next);

/*
 * The slot on trial failed its check at boot: a failed try, and the last one,
 * since the same bytes fail every try: rolled back (boot_try_failed()).
 * Returns 1 with next to commit; 0 (next is cur) when not on trial.
 */
int boot_trial_damaged(const struct state_record *cur, const char *reason,
                       struct state_record *next);

/*
 * mark-good from the running system, booted from slot booted. Returns 1 with
 * next to commit, 0 when already done (idempotent), or -errno with a reason:
 * -EPERM when the booted slot is not the one on trial or not the active one.
 */
int boot_mark_good(const struct state_record *cur, uint8_t booted, struct state_record *next);

/*
 * A clean shutdown of the system on trial, before it decided: the try this
 * boot used is given back (tries_left + 1), at most max_tries times per
 * update. Returns 1 with next to commit (trial_booted cleared, and the try
 * given back unless that bound is reached), 0 when not on trial from booted.
 */
int boot_clean_reboot(const struct state_record *cur, uint8_t booted, struct state_record *next);

/*
 * mark-bad: TRYING -> IDLE with the target BAD, the reason saying why (because
 * may be NULL). Returns 1 with next to commit, or -EPERM.
 */
int boot_mark_bad(const struct state_record *cur, uint8_t booted, const char *because,
                  struct state_record *next);

/*
 * What is still known when the record is lost (both copies invalid, or not
 * readable): gathered by recover.c from the history ring, from copies that
 * are damaged but still say something, and from the slots themselves.
 */
struct boot_evidence {
	bool checked[2];   /* the slot starts with a filesystem superblock (ext4, squashfs) */
	uint8_t status[2]; /* the history's last word on each slot (enum slot_status) */
	uint64_t version[2];
	char label[2][STATE_LABEL_SIZE];
	int confirmed;   /* the slot of the newest confirmed entry, -1 if none */
	uint64_t floor;  /* the highest version ever confirmed, or a damaged copy's floor */
	bool unreadable; /* a piece could not be read (it may read again): commit nothing */
	/* The adopted keyring of the newest salvaged copy that still holds one. */
	uint64_t keyring_seq;
	uint16_t keyring_len;
	uint8_t keyring[STATE_KEYRING_MAX];
};

/* Nothing known: no slot checked, every status unknown, no floor. */
void boot_evidence_init(struct boot_evidence *ev);

/* Replays history entries (oldest first) into ev: installs, confirmations, failures. */
void boot_evidence_history(struct boot_evidence *ev, const struct history_entry *e, size_t n);

/*
 * A copy whose CRC no longer matches (state_decode_salvage()): any byte may be
 * wrong, so it only raises the floor (installs are refused until versions are
 * re-stated anyway) and keeps its adopted keyring (checked by its own CRC):
 * a lost record must not give back the trust its keyring took away. It never
 * chooses a slot.
 */
void boot_evidence_salvaged(struct boot_evidence *ev, const struct state_record *r);

/*
 * The slot to boot when the record is lost. Returns 1 when *ret_slot checked
 * out (a superblock, not half-written), preferring the last confirmed slot,
 * then a good one, then one never judged, then one on trial, then a bad
 * one: it may be made active. Returns 0 when no slot checked out: *ret_slot is
 * then only the best guess, to boot without making it active.
 */
int boot_recover_slot(const struct boot_evidence *ev, uint8_t *ret_slot);

/*
 * Fills next with the conservative re-initialised record: IDLE, slot active
 * (one boot_recover_slot() checked), the versions and the floor the evidence
 * gives, STATE_FLAG_VERSIONS_UNKNOWN set, and the reason (why: what the
 * load found) in last_reason.
 */
void boot_reinit(const struct boot_evidence *ev, uint8_t slot, const char *why,
                 struct state_record *next);
