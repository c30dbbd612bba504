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
}

static void remember_rejected(struct state_record *r,
                              const uint8_t fingerprint[STATE_FINGERPRINT_SIZE]);

/* The transaction failed for good: never install it (or its file) again. */
static void fail_transaction(const struct state_record *cur, int error, const char *why,
                             struct state_record *next)
{
	clear_transaction(next);
	memcpy(next->last_failed, cur->txn, STATE_DIGEST_SIZE);
	remember_rejected(next, cur->txn_file);
	set_reason(next, error, why);
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
	/* A device-side permission to downgrade is good for that one install. */
	if (next->allow_version == in->version)
		next->allow_version = 0;
	/* A new transaction: an earlier failure's reason no longer applies. */
	next->last_error = 0;
	memset(next->last_reason, 0, sizeof(next->last_reason));
	/* From this commit on the target's old contents are gone: it must never boot. */
	next->slot[next->target].status = SLOT_INCOMPLETE;
	next->slot[next->target].version = 0;
	memset(next->slot[next->target].label, 0, STATE_LABEL_SIZE);
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
	set_reason(next, error, reason);
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

int boot_mark_good(const struct state_record *cur, uint8_t booted, struct state_record *next)
{
	*next = *cur;
	if (cur->state == STATE_TRYING && booted == cur->target) {
		clear_transaction(next);
		next->active = cur->target;
		next->target = !cur->target;
		next->slot[cur->target].status = SLOT_GOOD;
		/* Confirmed: from now on nothing older than its floor is ever installed. */
		next->version_floor = MAX(cur->version_floor, cur->target_floor);
		memcpy(next->last_done, cur->txn, STATE_DIGEST_SIZE);
		next->last_error = 0;
		memset(next->last_reason, 0, sizeof(next->last_reason));
		return 1;
	}
	if (booted != cur->active)
		return fail(-EPERM, "booted slot %c is neither on trial nor the active slot %c",
		            state_slot_letter(booted), state_slot_letter(cur->active));
	if (cur->slot[booted].status == SLOT_GOOD)
		return 0;
	/* The factory slot, never confirmed yet: confirming it is what mark-good means. */
	next->slot[booted].status = SLOT_GOOD;
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

void boot_reinit(const char *why, struct state_record *next)
{
	char reason[STATE_REASON_SIZE];

	state_init(next);
	snprintf(reason, sizeof(reason), "state record unreadable, re-initialised (%s)", why);
	set_reason(next, -EBADMSG, reason);
}
