/* SPDX-License-Identifier: MIT */
#include "boot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fail.h"
#include "util.h"

static void set_reason(struct state_record *r, int error, const char *reason)
{
	r->last_error = error < 0 ? -error : error;
	memset(r->last_reason, 0, sizeof(r->last_reason));
	snprintf(r->last_reason, sizeof(r->last_reason), "%s", reason);
	/* Reasons quote file names; the record holds printable ASCII only. */
	for (char *p = r->last_reason; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
}

static void clear_transaction(struct state_record *r)
{
	r->state = STATE_IDLE;
	r->tries_left = 0;
	r->apply_attempts = 0;
	r->clean_reboots = 0;
	r->trial_booted = 0;
	/* The keyring it brought is adopted by mark-good, before this, or never. */
	r->pending_len = 0;
	memset(r->pending, 0, sizeof(r->pending));
	/*
	 * A transaction that ends without being confirmed takes its data back:
	 * the checkpoint is merged before any system sees the data (mark-good
	 * drops it instead). An overflowed one has nothing left to merge.
	 */
	if (r->data_cp == DATA_CP_ACTIVE)
		r->data_cp = DATA_CP_MERGING;
	else if (r->data_cp == DATA_CP_OVERFLOWED)
		r->data_cp = DATA_CP_NONE;
}

static void remember_rejected(struct state_record *r,
                              const uint8_t fingerprint[STATE_FINGERPRINT_SIZE]);

/* The reason a transaction ended unconfirmed, and, never silently, when its data stays. */
static void set_end_reason(const struct state_record *cur, int error, const char *why,
                           struct state_record *next)
{
	char full[STATE_REASON_SIZE];

	if (cur->data_cp != DATA_CP_OVERFLOWED) {
		set_reason(next, error, why);
		return;
	}
	snprintf(full, sizeof(full), "%.60s; data NOT rolled back (checkpoint overflowed)", why);
	set_reason(next, error, full);
}

/* The transaction failed for good: never install it (or its file) again. */
static void fail_transaction(const struct state_record *cur, int error, const char *why,
                             struct state_record *next)
{
	clear_transaction(next);
	memcpy(next->last_failed, cur->txn, STATE_DIGEST_SIZE);
	remember_rejected(next, cur->txn_file);
	set_end_reason(cur, error, why, next);
}

void boot_checkpoint_begin(const struct state_record *cur, struct state_record *next)
{
	*next = *cur;
	if (cur->state != STATE_WRITING || cur->data_cp != DATA_CP_NONE)
		return;
	next->data_cp = DATA_CP_ACTIVE;
	next->cp_version = cur->target_version;
}

int boot_checkpoint_resolve(const struct state_record *cur, struct state_record *next)
{
	*next = *cur;
	if (cur->data_cp != DATA_CP_ACTIVE || cur->state == STATE_TRYING)
		return 0;
	/* WRITING: the hooks were cut short; they run again on the data as it was. */
	next->data_cp = DATA_CP_MERGING;
	return 1;
}

void boot_checkpoint_merged(const struct state_record *cur, struct state_record *next)
{
	*next = *cur;
	if (cur->data_cp == DATA_CP_MERGING)
		next->data_cp = DATA_CP_NONE;
}

int boot_checkpoint_lost(const struct state_record *cur, const char *why, struct state_record *next)
{
	char full[STATE_REASON_SIZE];

	*next = *cur;
	if (cur->data_cp == DATA_CP_ACTIVE && cur->state == STATE_TRYING) {
		snprintf(full, sizeof(full),
		         "%.60s; the data of version %llu's trial cannot be "
		         "rolled back",
		         why, (unsigned long long)cur->cp_version);
		next->data_cp = DATA_CP_OVERFLOWED;
	} else if (cur->data_cp == DATA_CP_MERGING) {
		snprintf(full, sizeof(full), "data NOT rolled back to before version %llu: %.60s",
		         (unsigned long long)cur->cp_version, why);
		next->data_cp = DATA_CP_NONE;
	} else {
		return 0;
	}
	set_reason(next, -ENOSPC, full);
	return 1;
}

void boot_begin_install(const struct state_record *cur, const struct boot_install *in,
                        struct state_record *next)
{
	*next = *cur;
	next->state = STATE_WRITING;
	next->target = !cur->active;
	next->apply_attempts = 1;
	next->tries_left = 0;
	next->clean_reboots = 0;
	next->trial_booted = 0;
	memcpy(next->txn, in->txn, STATE_DIGEST_SIZE);
	memcpy(next->image_digest, in->image_digest, STATE_DIGEST_SIZE);
	next->image_size = in->image_size;
	next->target_version = in->version;
	memcpy(next->target_label, in->label, STATE_LABEL_SIZE);
	memcpy(next->txn_file, in->fingerprint, STATE_FINGERPRINT_SIZE);
	next->target_floor = in->floor;
	/* The keyring the bundle brings waits for the confirmation (mark-good) to be adopted. */
	next->pending_len = in->keyring_len;
	memset(next->pending, 0, sizeof(next->pending));
	if (in->keyring_len)
		memcpy(next->pending, in->keyring, MIN(in->keyring_len, sizeof(next->pending)));
	/*
	 * A device-side permission to downgrade is good for the next install
	 * only, whichever version that is: left standing, it would let an old,
	 * validly signed bundle in long after the upgrades that followed.
	 */
	next->allow_version = 0;
	/* A new transaction: an earlier failure's reason no longer applies. */
	next->last_error = 0;
	memset(next->last_reason, 0, sizeof(next->last_reason));
	/* From this commit on the target's old contents are gone: it must never boot. */
	next->slot[next->target].status = SLOT_INCOMPLETE;
	next->slot[next->target].version = 0;
	memset(next->slot[next->target].label, 0, STATE_LABEL_SIZE);
	/* From here on a verity slot must show its footer to boot, whatever it held before. */
	next->slot[next->target].verity = in->verity;
}

int boot_resume_install(const struct state_record *cur, struct state_record *next)
{
	*next = *cur;
	if (cur->apply_attempts < BOOT_MAX_APPLY_ATTEMPTS) {
		next->apply_attempts++;
		return 0;
	}
	char why[STATE_REASON_SIZE];
	if (cur->last_error)
		snprintf(why, sizeof(why), "install of version %llu gave up after %u attempts: %s",
		         (unsigned long long)cur->target_version, cur->apply_attempts,
		         cur->last_reason);
	else
		snprintf(why, sizeof(why), "install of version %llu interrupted %u times; gave up",
		         (unsigned long long)cur->target_version, cur->apply_attempts);
	fail_transaction(cur, -ECANCELED, why, next);
	return 1;
}

void boot_note_failure(const struct state_record *cur, int error, const char *reason,
                       struct state_record *next)
{
	*next = *cur;
	set_reason(next, error, reason);
}

void boot_install_done(const struct state_record *cur, uint8_t tries, struct state_record *next)
{
	*next = *cur;
	next->state = STATE_TRYING;
	next->tries_left = tries;
	next->max_tries = tries;
	next->apply_attempts = 0;
	next->slot[cur->target].status = SLOT_UNCONFIRMED;
	next->slot[cur->target].version = cur->target_version;
	memcpy(next->slot[cur->target].label, cur->target_label, STATE_LABEL_SIZE);
}

bool boot_is_rejected(const struct state_record *r,
                      const uint8_t fingerprint[STATE_FINGERPRINT_SIZE])
{
	for (int i = 0; i < STATE_REJECTED_FILES; i++)
		if (memcmp(r->rejected[i], fingerprint, STATE_FINGERPRINT_SIZE) == 0)
			return !util_is_zero(fingerprint, STATE_FINGERPRINT_SIZE);
	return false;
}

/* Remembers a refused file, newest first; the oldest is forgotten. */
static void remember_rejected(struct state_record *r,
                              const uint8_t fingerprint[STATE_FINGERPRINT_SIZE])
{
	if (util_is_zero(fingerprint, STATE_FINGERPRINT_SIZE) || boot_is_rejected(r, fingerprint))
		return;
	memmove(r->rejected[1], r->rejected[0],
	        (STATE_REJECTED_FILES - 1) * STATE_FINGERPRINT_SIZE);
	memcpy(r->rejected[0], fingerprint, STATE_FINGERPRINT_SIZE);
}

void boot_install_failed(const struct state_record *cur, int error, const char *reason,
                         const uint8_t fingerprint[STATE_FINGERPRINT_SIZE],
                         struct state_record *next)
{
	*next = *cur;
	clear_transaction(next);
	remember_rejected(next, fingerprint);
	set_end_reason(cur, error, reason, next);
}

void boot_reject(const struct state_record *cur, int error, const char *reason,
                 const uint8_t fingerprint[STATE_FINGERPRINT_SIZE], struct state_record *next)
{
	*next = *cur;
	remember_rejected(next, fingerprint);
	set_reason(next, error, reason);
}

int boot_choose(const struct state_record *cur, struct state_record *next, uint8_t *ret_slot)
{
	*next = *cur;
	if (cur->state != STATE_TRYING) {
		*ret_slot = cur->active;
		return 0;
	}
	if (cur->tries_left > 0) {
		/* Count the try before booting: a crash in the new slot has then already paid. */
		next->tries_left--;
		next->trial_booted = 1;
		*ret_slot = cur->target;
		return 1;
	}
	char why[STATE_REASON_SIZE];
	snprintf(
	        why, sizeof(why),
	        "slot %c (version %llu) not confirmed after %u trial boots; rolled back to slot %c",
	        state_slot_letter(cur->target), (unsigned long long)cur->target_version,
	        cur->max_tries, state_slot_letter(cur->active));
	fail_transaction(cur, -ETIMEDOUT, why, next);
	next->slot[cur->target].status = SLOT_BAD;
	*ret_slot = cur->active;
	return 1;
}

int boot_try_failed(const struct state_record *cur, int error, const char *reason,
                    struct state_record *next)
{
	char why[STATE_REASON_SIZE];
	unsigned int used = (unsigned int)(cur->max_tries - cur->tries_left);

	*next = *cur;
	if (cur->state != STATE_TRYING)
		return 0;
	next->trial_booted = 0;
	if (cur->tries_left > 0) {
		snprintf(why, sizeof(why), "try %u of %u: %s", used, cur->max_tries, reason);
		set_reason(next, error, why);
		return 0;
	}
	snprintf(why, sizeof(why), "slot %c failed try %u of %u, rolled back to slot %c: %s",
	         state_slot_letter(cur->target), used, cur->max_tries,
	         state_slot_letter(cur->active), reason);
	fail_transaction(cur, error, why, next);
	next->slot[cur->target].status = SLOT_BAD;
	return 1;
}

int boot_slot_damaged(const struct state_record *cur, const char *reason, struct state_record *next)
{
	char why[STATE_REASON_SIZE];
	uint8_t bad = cur->active, other = !cur->active;

	*next = *cur;
	if (cur->state != STATE_IDLE || cur->slot[other].status != SLOT_GOOD)
		return 0;
	snprintf(why, sizeof(why), "slot %c damaged, slot %c (version %llu) active now: %s",
	         state_slot_letter(bad), state_slot_letter(other),
	         (unsigned long long)cur->slot[other].version, reason);
	next->active = other;
	next->target = bad;
	next->slot[bad].status = SLOT_BAD;
	set_reason(next, -EBADMSG, why);
	return 1;
}

int boot_trial_damaged(const struct state_record *cur, const char *reason,
                       struct state_record *next)
{
	char why[STATE_REASON_SIZE];

	*next = *cur;
	if (cur->state != STATE_TRYING)
		return 0;
	/* The same bytes fail every try: no try is left to make. */
	snprintf(why, sizeof(why),
	         "slot %c failed its check on try %u of %u, rolled back to slot %c: %s",
	         state_slot_letter(cur->target), (unsigned int)(cur->max_tries - cur->tries_left),
	         cur->max_tries, state_slot_letter(cur->active), reason);
	fail_transaction(cur, -EBADMSG, why, next);
	next->slot[cur->target].status = SLOT_BAD;
	return 1;
}

int boot_mark_good(const struct state_record *cur, uint8_t booted, struct state_record *next)
{
	*next = *cur;
	if (cur->state == STATE_TRYING && booted == cur->target) {
		/*
		 * The keyring the update brought is adopted in the very commit that
		 * confirms it: from now on it judges every bundle, and no rollback
		 * can take its revocations back.
		 */
		if (cur->pending_len) {
			next->keyring_len = cur->pending_len;
			memcpy(next->keyring, cur->pending, sizeof(next->keyring));
		}
		clear_transaction(next);
		/* The trial's data is the data now: its checkpoint is dropped, in this commit. */
		next->data_cp = DATA_CP_NONE;
		next->active = cur->target;
		next->target = !cur->target;
		next->slot[cur->target].status = SLOT_GOOD;
		/* Confirmed: from now on nothing older than its floor is ever installed. */
		next->version_floor = MAX(cur->version_floor, cur->target_floor);
		memcpy(next->last_done, cur->txn, STATE_DIGEST_SIZE);
		next->last_error = 0;
		memset(next->last_reason, 0, sizeof(next->last_reason));
		/* A permission to downgrade was given for the slot as it was: a confirmation ends
		 * it. */
		next->allow_version = 0;
		return 1;
	}
	if (booted != cur->active)
		return fail(-EPERM, "booted slot %c is neither on trial nor the active slot %c",
		            state_slot_letter(booted), state_slot_letter(cur->active));
	if (cur->slot[booted].status == SLOT_GOOD)
		return 0; /* nothing committed: a standing permission stays (idempotent) */
	/* The factory slot, never confirmed yet: confirming it is what mark-good means. */
	next->slot[booted].status = SLOT_GOOD;
	next->allow_version = 0;
	return 1;
}

void boot_hook_failed(const struct state_record *cur, int error, const char *reason,
                      struct state_record *next)
{
	*next = *cur;
	/* The update cannot migrate this device: never again, and its slot stays incomplete. */
	fail_transaction(cur, error, reason, next);
}

int boot_clean_reboot(const struct state_record *cur, uint8_t booted, struct state_record *next)
{
	*next = *cur;
	if (cur->state != STATE_TRYING || booted != cur->target || !cur->trial_booted)
		return 0;
	next->trial_booted = 0;
	/* Bounded: a system that only ever reboots cleanly still runs out of tries. */
	if (cur->clean_reboots >= cur->max_tries || cur->tries_left >= cur->max_tries)
		return 1;
	next->tries_left++;
	next->clean_reboots++;
	return 1;
}

int boot_mark_bad(const struct state_record *cur, uint8_t booted, const char *because,
                  struct state_record *next)
{
	*next = *cur;
	if (cur->state != STATE_TRYING || booted != cur->target)
		return fail(-EPERM, "booted slot %c is not on trial; nothing to mark bad",
		            state_slot_letter(booted));
	char why[STATE_REASON_SIZE];
	snprintf(why, sizeof(why), "slot %c (version %llu) marked bad by the running system%s%s",
	         state_slot_letter(cur->target), (unsigned long long)cur->target_version,
	         because && *because ? ": " : "", because ? because : "");
	fail_transaction(cur, -ECANCELED, why, next);
	next->slot[cur->target].status = SLOT_BAD;
	return 1;
}

void boot_evidence_init(struct boot_evidence *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->confirmed = -1;
}

/* What the entry says about its slot, as the record would have said it. */
static void evidence_entry(struct boot_evidence *ev, const struct history_entry *e)
{
	uint8_t s = e->slot;

	switch (e->kind) {
	case HISTORY_INSTALLING:
	case HISTORY_INSTALL_FAILED:
	case HISTORY_HOOK_FAILED:
		/* The slot's old contents are gone, and the new ones are not complete. */
		ev->status[s] = SLOT_INCOMPLETE;
		break;
	case HISTORY_INSTALLED:
		ev->status[s] = SLOT_UNCONFIRMED;
		ev->version[s] = e->version;
		memcpy(ev->label[s], e->label, STATE_LABEL_SIZE);
		break;
	case HISTORY_CONFIRMED:
		ev->status[s] = SLOT_GOOD;
		ev->version[s] = e->version;
		memcpy(ev->label[s], e->label, STATE_LABEL_SIZE);
		ev->confirmed = s;
		ev->floor = MAX(ev->floor, e->version);
		break;
	case HISTORY_MARKED_BAD:
	case HISTORY_ROLLBACK:
	case HISTORY_DAMAGED:
		ev->status[s] = SLOT_BAD;
		break;
	default:
		/* Staged, rejected, trial boots, notes, kexec: nothing about what a slot holds. */
		break;
	}
}

void boot_evidence_history(struct boot_evidence *ev, const struct history_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (e[i].slot < 2)
			evidence_entry(ev, &e[i]);
}

void boot_evidence_salvaged(struct boot_evidence *ev, const struct state_record *r)
{
	ev->floor = MAX(ev->floor, r->version_floor);
	if (r->keyring_len && (!ev->keyring_len || r->seq > ev->keyring_seq)) {
		ev->keyring_seq = r->seq;
		ev->keyring_len = r->keyring_len;
		memcpy(ev->keyring, r->keyring, sizeof(ev->keyring));
	}
}

/* How much a slot is to be trusted, -1 if it must not be made active. */
static int trust(const struct boot_evidence *ev, uint8_t s)
{
	static const int by_status[] = {
	        [SLOT_UNKNOWN] = 2, [SLOT_GOOD] = 3, [SLOT_UNCONFIRMED] = 1, [SLOT_BAD] = 0};

	if (!ev->checked[s] || ev->status[s] == SLOT_INCOMPLETE || ev->status[s] > SLOT_BAD)
		return -1;
	if (ev->confirmed == s && ev->status[s] == SLOT_GOOD)
		return 4;
	return by_status[ev->status[s]];
}

int boot_recover_slot(const struct boot_evidence *ev, uint8_t *ret_slot)
{
	int a = trust(ev, 0), b = trust(ev, 1);

	if (a >= 0 || b >= 0) {
		/* A tie (two plausible slots nothing tells apart) goes to A, the factory slot. */
		*ret_slot = b > a;
		return 1;
	}
	/* Nothing checks out: a slot with a superblock, else the last confirmed one, else A. */
	if (ev->checked[0] != ev->checked[1])
		*ret_slot = ev->checked[1];
	else
		*ret_slot = ev->confirmed == 1;
	return 0;
}

void boot_reinit(const struct boot_evidence *ev, uint8_t slot, const char *why,
                 struct state_record *next)
{
	char reason[STATE_REASON_SIZE];
	uint8_t other = !slot;

	state_init(next);
	next->active = slot;
	next->target = other;
	next->flags = STATE_FLAG_VERSIONS_UNKNOWN;
	next->version_floor = ev->floor;
	next->keyring_len = ev->keyring_len;
	memcpy(next->keyring, ev->keyring, sizeof(next->keyring));
	for (int i = 0; i < 2; i++) {
		next->slot[i].version = ev->version[i];
		memcpy(next->slot[i].label, ev->label[i], STATE_LABEL_SIZE);
		next->slot[i].label[STATE_LABEL_SIZE - 1] = '\0';
		/* The record holds printable ASCII only: a label it refuses would lose the commit.
		 */
		for (char *p = next->slot[i].label; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				*p = '?';
	}
	next->slot[slot].status = ev->status[slot] == SLOT_GOOD ? SLOT_GOOD : SLOT_UNKNOWN;
	/* The other slot is never booted on this evidence: only an install makes it usable. */
	if (!ev->checked[other] || ev->status[other] == SLOT_INCOMPLETE)
		next->slot[other].status = SLOT_INCOMPLETE;
	else if (ev->status[other] == SLOT_BAD)
		next->slot[other].status = SLOT_BAD;
	snprintf(reason, sizeof(reason),
	         "state record lost, re-initialised: slot %c active, floor %llu, versions unknown "
	         "(installs refused); %s",
	         state_slot_letter(slot), (unsigned long long)ev->floor, why);
	set_reason(next, -EBADMSG, reason);
}
