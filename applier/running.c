/* SPDX-License-Identifier: MIT */
#include "running.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "bundle.h"
#include "checkpoint.h"
#include "devices.h"
#include "fail.h"
#include "history.h"
#include "install.h"
#include "log.h"
#include "report.h"
#include "stage.h"
#include "staged.h"
#include "state.h"
#include "testpoint.h"
#include "util.h"
#include "watchdog.h"

/* The record, open, locked and loaded for one transition made from the running system. */
struct transition {
	struct state_dev dev;
	struct state_record st;
	uint8_t booted; /* when the transition needs it */
};

static void transition_close(struct transition *t)
{
	state_close(&t->dev); /* closing the descriptor drops the lock */
}

/*
 * Waits for the exclusive lock on the state device, at most the configured
 * time: a transition is a few milliseconds, so a holder that keeps it longer
 * is stuck, and a command that waits forever would hang the boot or the
 * shutdown that runs it.
 */
static int lock_record(int fd, int timeout_ms)
{
	const int step_ms = 10;

	for (int waited = 0;; waited += step_ms) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return fail(-errno, "cannot lock the boot state: %s", strerror(errno));
		if (waited >= timeout_ms)
			return fail(-EBUSY,
			            "another systemota command holds the boot state (waited %d ms)",
			            timeout_ms);
		usleep(step_ms * 1000);
	}
}

/* Opens the record for writing, takes the lock, and only then loads it. */
static int transition_open(const struct running_config *cfg, bool need_booted, struct transition *t)
{
	int r;

	t->dev.fd = -1;
	if (need_booted && (cfg->booted < 0 || cfg->booted > 1))
		return fail(-ENODEV, "cannot tell which slot is booted");
	t->booted = need_booted ? (uint8_t)cfg->booted : 0;
	r = state_open(cfg->state_path, true, &t->dev);
	if (r < 0)
		return r;
	r = lock_record(t->dev.fd,
	                cfg->lock_timeout_ms > 0 ? cfg->lock_timeout_ms : RUNNING_LOCK_TIMEOUT_MS);
	if (r == 0)
		r = state_load(&t->dev, &t->st);
	if (r < 0)
		transition_close(t);
	return r;
}

/* An entry about slot, whose version the record st gives, into the history (best effort). */
static void add_history(struct state_dev *dev, uint8_t kind, uint8_t slot,
                        const struct state_record *st, int error, const char *reason)
{
	struct history_entry e;
	bool trial = st->state != STATE_IDLE && st->target == slot;

	history_fill(&e, kind, slot, trial ? st->target_version : st->slot[slot].version,
	             trial ? st->target_label : st->slot[slot].label, error, "%s", reason);
	history_note(dev, &e);
}

/*
 * Commits next (computed by boot.c from t->st) and writes its history entry.
 * r is what the transition returned: > 0 commit, 0 nothing to do, < 0 refused.
 */
static int transition_commit(struct transition *t, int r, struct state_record *next, uint8_t kind,
                             uint8_t slot, int error, const char *reason)
{
	if (r <= 0) {
		*next = t->st;
		return r;
	}
	r = state_commit(&t->dev, next);
	if (r == 0)
		add_history(&t->dev, kind, slot, &t->st, error, reason);
	return r;
}

/*
 * After mark-good, the trial's watchdog is no longer needed: stop it, unless
 * another daemon was told to take it over (watchdog-handover) or holds it.
 */
static void release_watchdog(const struct running_config *cfg)
{
	const char *wd = cfg->watchdog;

	if (!watchdog_configured(wd) || cfg->watchdog_handover)
		return;
	if (access(wd, F_OK) < 0)
		return;
	int r = watchdog_disarm(wd);
	if (r == -EBUSY)
		log_info("watchdog %s is held by another process; leaving it to it", wd);
	else if (r < 0)
		log_warn("%s", fail_reason());
	else
		log_info("watchdog %s stopped", wd);
}

/* The history says which keyring the confirmation adopted, and what it trusts now. */
static void note_keyring_adopted(const struct running_config *cfg, const struct state_record *st,
                                 uint8_t booted)
{
	const struct keyring *k = NULL;
	struct keyring buf;
	struct history_entry e;
	unsigned signing = 0;

	if (keyring_adopted(st, &buf, &k) < 0 || !k)
		return;
	for (unsigned i = 0; i < k->n_keys; i++)
		signing += k->keys[i].role == KEYRING_SIGNING;
	const char *plural = signing == 1 ? "" : "s";
	log_info("keyring %llu adopted: %u signing key%s trusted, %u revoked",
	         (unsigned long long)k->version, signing, plural, k->n_revoked);
	history_fill(&e, HISTORY_KEYRING, booted, st->slot[booted].version, st->slot[booted].label,
	             0, "keyring %llu adopted: %u signing key%s, %u revoked",
	             (unsigned long long)k->version, signing, plural, k->n_revoked);
	history_note_path(cfg->state_path, &e);
}

int running_mark_good(const struct running_config *cfg)
{
	_cleanup_(transition_close) struct transition t = {.dev = {.fd = -1}};
	struct state_record next;

	int r = transition_open(cfg, true, &t);
	if (r < 0)
		return r;
	uint8_t booted = t.booted;
	r = boot_mark_good(&t.st, booted, &next);
	bool committed = r > 0;
	r = transition_commit(&t, r, &next, HISTORY_CONFIRMED, booted, 0,
	                      "slot confirmed by mark-good");
	if (r < 0)
		return r;
	if (committed)
		testpoint("mark-good-committed");
	log_info("slot %c is good", state_slot_letter(booted));
	if (committed && t.st.pending_len)
		note_keyring_adopted(cfg, &next, booted);
	/* The trial's data is now the data: the checkpoint goes (the next boot maps it plain). */
	if (cfg->cow && next.data_cp == DATA_CP_NONE && checkpoint_drop(cfg->cow) < 0)
		log_warn("cannot drop the data checkpoint: %s", fail_reason());
	release_watchdog(cfg);
	if (cfg->data_dir && cfg->keys &&
	    stage_cleanup(cfg->data_dir, cfg->dropin, cfg->keys, &next) < 0)
		log_warn("cannot remove the applied bundle: %s", fail_reason());
	return 0;
}

int running_mark_bad(const struct running_config *cfg, const char *because)
{
	_cleanup_(transition_close) struct transition t = {.dev = {.fd = -1}};
	struct state_record next;

	int r = transition_open(cfg, true, &t);
	if (r < 0)
		return r;
	uint8_t booted = t.booted;
	r = boot_mark_bad(&t.st, booted, because, &next);
	r = transition_commit(&t, r, &next, HISTORY_MARKED_BAD, booted, next.last_error,
	                      next.last_reason);
	if (r == 0)
		log_info("slot %c marked bad; reboot to return to the previous slot",
		         state_slot_letter(booted));
	return r;
}

int running_clean_shutdown(const struct running_config *cfg)
{
	_cleanup_(transition_close) struct transition t = {.dev = {.fd = -1}};
	struct state_record next;

	int r = transition_open(cfg, true, &t);
	if (r < 0)
		return r;
	uint8_t booted = t.booted;
	r = boot_clean_reboot(&t.st, booted, &next);
	bool back = r > 0 && next.tries_left > t.st.tries_left;
	const char *why = back ? "clean shutdown before deciding: the try is given back"
	                       : "clean shutdown before deciding: limit reached, the try counts";
	bool committed = r > 0;
	r = transition_commit(&t, r, &next, HISTORY_CLEAN_REBOOT, booted, 0, why);
	if (r == 0 && committed)
		log_info("clean shutdown during the trial of slot %c: %s",
		         state_slot_letter(booted),
		         back ? "the try is given back" : "no try given back (limit reached)");
	return r;
}

/* The one transition that is not boot.c's: version is 0 to revoke. */
static int set_downgrade(const struct running_config *cfg, uint64_t version)
{
	_cleanup_(transition_close) struct transition t = {.dev = {.fd = -1}};
	char why[96];

	int r = transition_open(cfg, false, &t);
	if (r < 0)
		return r;
	if (version && version < t.st.version_floor)
		return fail(-ESTALE,
		            "version %" PRIu64 " is below this device's floor %" PRIu64
		            ": never again",
		            version, t.st.version_floor);
	if (version && t.st.state != STATE_IDLE)
		return fail(-EBUSY, "an update is in progress (%s); decide it first",
		            state_kind_name(t.st.state));
	if (t.st.allow_version == version)
		return 0; /* already so: nothing to commit */
	if (version)
		snprintf(why, sizeof(why), "a downgrade to version %" PRIu64 " is allowed once",
		         version);
	else
		snprintf(why, sizeof(why),
		         "the allowed downgrade to version %" PRIu64 " is revoked",
		         t.st.allow_version);
	struct state_record next = t.st;
	next.allow_version = version;
	r = transition_commit(&t, 1, &next, HISTORY_NOTE, t.st.active, 0, why);
	if (r == 0)
		log_info("%s", why);
	return r;
}

int running_allow_downgrade(const struct running_config *cfg, uint64_t version)
{
	if (version == 0)
		return fail(-EINVAL, "version 0 cannot be installed");
	return set_downgrade(cfg, version);
}

int running_revoke_downgrade(const struct running_config *cfg)
{
	return set_downgrade(cfg, 0);
}

int running_stage(const struct running_config *cfg, const char *file)
{
	struct state_record st;
	struct stage_info staged;
	uint64_t slot_size = 0;

	if (!cfg->data_dir || !cfg->keys)
		return fail(-ENOENT, "no data directory or no trusted keys");
	int r = devices_read_state(cfg->state_path, &st);
	if (r < 0)
		return fail_context(r, "cannot check the version against the boot state");
	if (install_slot_size(cfg->slot_path[!st.active], &slot_size) < 0)
		log_warn("cannot size slot %c: %s", state_slot_letter(!st.active), fail_reason());
	r = stage_bundle(file, cfg->data_dir, cfg->dropin, cfg->keys, cfg->compatible, &st,
	                 slot_size, &staged);
	if (r < 0)
		return r;
	struct history_entry e;
	history_fill(&e, HISTORY_STAGED, !st.active, staged.version, staged.label, 0, "%s", file);
	history_note_path(cfg->state_path, &e);
	return 0;
}

static void judge_one(const struct running_config *cfg, const struct state_record *st,
                      const struct staged_list *list, const struct staged_file *f,
                      struct report_staged *o)
{
	const struct keyring *adopted = NULL;
	struct keyring buf;
	struct bundle b;
	int r;

	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", f->name);
	r = keyring_adopted(st, &buf, &adopted);
	if (r == 0)
		r = cfg->keys ? staged_open(list, f, cfg->keys, adopted, &b)
		              : fail(-ENOKEY, "no trusted keys to check it with");
	if (r == 0) {
		o->version = b.manifest.version;
		memcpy(o->label, b.manifest.label, sizeof(o->label));
		r = staged_check(&b, cfg->compatible, st, 0);
		if (st->state != STATE_IDLE && memcmp(b.txn, st->txn, CRYPTO_DIGEST_SIZE) == 0)
			r = 2; /* the transaction in progress */
		bundle_close(&b);
	}
	if (r == 2)
		snprintf(o->verdict, sizeof(o->verdict), "being installed or on trial");
	else if (boot_is_rejected(st, f->fingerprint) &&
	         memcmp(st->rejected[0], f->fingerprint, STATE_FINGERPRINT_SIZE) == 0)
		snprintf(o->verdict, sizeof(o->verdict), "rejected at boot: %s", st->last_reason);
	else if (boot_is_rejected(st, f->fingerprint))
		snprintf(o->verdict, sizeof(o->verdict), "rejected at boot (see its log)");
	else if (r == STAGED_SKIP)
		snprintf(o->verdict, sizeof(o->verdict), "installed or failed before; ignored");
	else if (r < 0)
		snprintf(o->verdict, sizeof(o->verdict), "will be rejected: %s", fail_reason());
	else
		snprintf(o->verdict, sizeof(o->verdict), "pending: applied at next boot");
}

int running_status(const struct running_config *cfg, FILE *out, bool json)
{
	struct report_staged staged[STAGED_LIST_MAX];
	struct report_status s = {.booted = cfg->booted};
	struct staged_list list = {.dirfd = -1};
	struct history_entry recent[5];
	struct state_record st;
	struct state_dev dev;

	if (state_open(cfg->state_path, false, &dev) == 0) {
		if (history_supported(&dev) &&
		    history_read(&dev, recent, ARRAY_SIZE(recent), &s.n_history) == 0)
			s.history = recent;
		state_close(&dev);
	}
	if (devices_read_state(cfg->state_path, &st) == 0) {
		s.st = &st;
		int r = cfg->data_dir ? staged_list(cfg->data_dir, cfg->dropin, &st, &list)
		                      : -ENOENT;
		if (r == 0) {
			for (size_t i = 0; i < list.n; i++)
				judge_one(cfg, &st, &list, &list.files[i], &staged[i]);
			s.staged = staged;
			s.n_staged = list.n;
		} else if (r != -ENOENT) {
			log_warn("not listing staged bundles: %s", fail_reason());
		}
	} else {
		s.state_error = fail_reason();
	}
	struct checkpoint_usage u;
	s.checkpointed = cfg->cow != NULL;
	if (cfg->cow && checkpoint_usage(&u) == 0)
		s.cp_usage = &u;
	report_status(out, &s, json);
	staged_list_free(&list);
	return 0;
}

int running_history(const struct running_config *cfg, FILE *out, bool json)
{
	_cleanup_free_ struct history_entry *entries = calloc(HISTORY_ENTRIES, sizeof(*entries));
	struct state_dev dev;
	size_t n = 0;

	if (!entries)
		return fail(-ENOMEM, "no memory for the history");
	int r = state_open(cfg->state_path, false, &dev);
	if (r < 0)
		return r;
	r = history_read(&dev, entries, HISTORY_ENTRIES, &n);
	state_close(&dev);
	if (r == 0)
		report_history(out, entries, n, json);
	return r;
}
