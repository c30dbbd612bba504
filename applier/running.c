/* SPDX-License-Identifier: MIT */
#include "running.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "bundle.h"
#include "crypto.h"
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

static void judge_staged(const struct cli *c, const struct state_record *st,
                         const struct staged_list *list, struct report_staged *out)
{
	struct crypto_keyring *keys = NULL;
	int rk = crypto_keyring_load(c->cfg.keys, &keys);

	for (size_t i = 0; i < list->n; i++) {
		const struct staged_file *f = &list->files[i];
		struct report_staged *o = &out[i];
		struct bundle b;
		int r;
		memset(o, 0, sizeof(*o));
		snprintf(o->name, sizeof(o->name), "%s", f->name);
		r = rk < 0 ? rk : staged_open(list, f, keys, &b);
		if (r == 0) {
			o->version = b.manifest.version;
			memcpy(o->label, b.manifest.label, sizeof(o->label));
			r = staged_check(&b, c->cfg.compatible, st, 0);
			if (st->state != STATE_IDLE &&
			    memcmp(b.txn, st->txn, CRYPTO_DIGEST_SIZE) == 0)
				r = 2; /* the transaction in progress */
			bundle_close(&b);
		}
		if (r == 2)
			snprintf(o->verdict, sizeof(o->verdict), "being installed or on trial");
		else if (boot_is_rejected(st, f->fingerprint) &&
		         memcmp(st->rejected[0], f->fingerprint, STATE_FINGERPRINT_SIZE) == 0)
			snprintf(o->verdict, sizeof(o->verdict), "rejected at boot: %s",
			         st->last_reason);
		else if (boot_is_rejected(st, f->fingerprint))
			snprintf(o->verdict, sizeof(o->verdict), "rejected at boot (see its log)");
		else if (r == STAGED_SKIP)
			snprintf(o->verdict, sizeof(o->verdict),
			         "installed or failed before; ignored");
		else if (r < 0)
			snprintf(o->verdict, sizeof(o->verdict), "will be rejected: %s",
			         fail_reason());
		else
			snprintf(o->verdict, sizeof(o->verdict), "pending: applied at next boot");
	}
	crypto_keyring_free(keys);
}

int running_status(struct cli *c)
{
	struct report_staged staged[STAGED_LIST_MAX];
	struct report_status s = {.booted = -1};
	struct staged_list list = {.dirfd = -1};
	struct state_record st;
	struct devices d;
	uint8_t booted;

	int r = devices_resolve(&c->cfg, &d);
	if (r < 0)
		return r;
	if (devices_booted(&d, c->booted, &booted) == 0)
		s.booted = booted;
	struct history_entry recent[5];
	struct state_dev dev;
	if (state_open(d.state, false, &dev) == 0) {
		if (history_supported(&dev) &&
		    history_read(&dev, recent, ARRAY_SIZE(recent), &s.n_history) == 0)
			s.history = recent;
		state_close(&dev);
	}
	if (devices_read_state(d.state, &st) == 0) {
		s.st = &st;
		r = staged_list(c->cfg.data_dir, c->cfg.dropin, &st, &list);
		if (r == 0) {
			judge_staged(c, &st, &list, staged);
			s.staged = staged;
			s.n_staged = list.n;
		} else if (r != -ENOENT) {
			log_warn("not listing staged bundles: %s", fail_reason());
		}
	} else {
		s.state_error = fail_reason();
	}
	report_status(stdout, &s, c->json);
	staged_list_free(&list);
	devices_free(&d);
	return 0;
}

/* An entry about slot, whose version the record st gives, into the history (best effort). */
static void add_history(struct state_dev *dev, uint8_t kind, uint8_t slot,
                        const struct state_record *st, int error, const char *reason)
{
	struct history_entry e = {.kind = kind, .slot = slot, .error = error};
	bool trial = st->state != STATE_IDLE && st->target == slot;

	e.version = trial ? st->target_version : st->slot[slot].version;
	memcpy(e.label, trial ? st->target_label : st->slot[slot].label, sizeof(e.label));
	snprintf(e.reason, sizeof(e.reason), "%s", reason);
	if (history_supported(dev) && history_append(dev, &e) < 0)
		log_warn("%s", fail_reason());
}

/*
 * After mark-good, the trial's watchdog is no longer needed: stop it, unless
 * another daemon was told to take it over (watchdog-handover) or holds it.
 */
static void release_watchdog(const struct config *cfg)
{
	if (!cfg->watchdog[0] || strcmp(cfg->watchdog, "none") == 0 || cfg->watchdog_handover)
		return;
	if (access(cfg->watchdog, F_OK) < 0)
		return;
	int r = watchdog_disarm(cfg->watchdog);
	if (r == -EBUSY)
		log_info("watchdog %s is held by another process; leaving it to it", cfg->watchdog);
	else if (r < 0)
		log_warn("%s", fail_reason());
	else
		log_info("watchdog %s stopped", cfg->watchdog);
}

/* The record, open for one transition made from the running system. */
struct transition {
	struct devices d;
	struct state_dev dev;
	struct state_record st;
	uint8_t booted;
};

/* Resolves the devices, finds the booted slot (when asked), opens and loads the record. */
static int transition_open(struct cli *c, bool booted, struct transition *t)
{
	int r = devices_resolve(&c->cfg, &t->d);

	if (r == 0 && booted)
		r = devices_booted(&t->d, c->booted, &t->booted);
	if (r == 0)
		r = state_open(t->d.state, true, &t->dev);
	if (r < 0) {
		devices_free(&t->d);
		return r;
	}
	r = state_load(&t->dev, &t->st);
	if (r < 0) {
		state_close(&t->dev);
		devices_free(&t->d);
	}
	return r;
}

static void transition_close(struct transition *t)
{
	state_close(&t->dev);
	devices_free(&t->d);
}

/* mark-good and mark-bad: one transition, from the slot we are running on. */
int running_mark(struct cli *c, bool good)
{
	struct transition t;
	struct state_record next;

	int r = transition_open(c, true, &t);
	if (r < 0)
		return r;
	r = good ? boot_mark_good(&t.st, t.booted, &next)
	         : boot_mark_bad(&t.st, t.booted, c->reason, &next);
	if (r > 0) {
		r = state_commit(&t.dev, &next);
		if (r == 0 && good)
			testpoint("mark-good-committed");
		if (r == 0)
			add_history(&t.dev, good ? HISTORY_CONFIRMED : HISTORY_MARKED_BAD, t.booted,
			            &t.st, good ? 0 : next.last_error,
			            good ? "slot confirmed by mark-good" : next.last_reason);
	} else if (r == 0) {
		next = t.st;
	}
	if (r == 0)
		log_info("slot %c %s", state_slot_letter(t.booted),
		         good ? "is good" : "marked bad; reboot to return to the previous slot");
	if (r == 0 && good) {
		struct crypto_keyring *keys;
		release_watchdog(&c->cfg);
		if (crypto_keyring_load(c->cfg.keys, &keys) == 0) {
			if (stage_cleanup(c->cfg.data_dir, c->cfg.dropin, keys, &next) < 0)
				log_warn("cannot remove the applied bundle: %s", fail_reason());
			crypto_keyring_free(keys);
		}
	}
	transition_close(&t);
	return r;
}

int running_stage(struct cli *c, const char *file)
{
	struct crypto_keyring *keys;
	struct state_record st;
	struct devices d;
	uint64_t slot_size = 0;

	int r = devices_resolve(&c->cfg, &d);
	if (r < 0)
		return r;
	r = devices_read_state(d.state, &st);
	if (r < 0) {
		devices_free(&d);
		return fail_context(r, "cannot check the version against the boot state");
	}
	if (install_slot_size(d.slot[!st.active], &slot_size) < 0)
		log_warn("cannot size slot %c: %s", state_slot_letter(!st.active), fail_reason());
	r = crypto_keyring_load(c->cfg.keys, &keys);
	if (r == 0) {
		struct stage_info staged;
		r = stage_bundle(file, c->cfg.data_dir, c->cfg.dropin, keys, c->cfg.compatible, &st,
		                 slot_size, &staged);
		crypto_keyring_free(keys);
		if (r == 0)
			devices_history(d.state, HISTORY_STAGED, !st.active, staged.version,
			                staged.label, 0, "%s", file);
	}
	devices_free(&d);
	return r;
}

int running_history(struct cli *c)
{
	struct history_entry *entries = calloc(HISTORY_ENTRIES, sizeof(*entries));
	struct state_dev dev;
	struct devices d;
	size_t n = 0;

	if (!entries)
		return -ENOMEM;
	int r = devices_resolve(&c->cfg, &d);
	if (r == 0)
		r = state_open(d.state, false, &dev);
	if (r == 0) {
		r = history_read(&dev, entries, HISTORY_ENTRIES, &n);
		state_close(&dev);
	}
	if (r == 0)
		report_history(stdout, entries, n, c->json);
	devices_free(&d);
	free(entries);
	return r;
}

int running_clean_shutdown(struct cli *c)
{
	struct transition t;
	struct state_record next;

	int r = transition_open(c, true, &t);
	if (r < 0)
		return r;
	r = boot_clean_reboot(&t.st, t.booted, &next);
	if (r > 0) {
		r = state_commit(&t.dev, &next);
		bool back = next.tries_left > t.st.tries_left;
		if (r == 0) {
			log_info("clean shutdown during the trial of slot %c: %s",
			         state_slot_letter(t.booted),
			         back ? "the try is given back"
			              : "no try given back (limit reached)");
			add_history(&t.dev, HISTORY_CLEAN_REBOOT, t.booted, &t.st, 0,
			            back ? "clean shutdown before deciding: the try is given back"
			                 : "clean shutdown before deciding: limit reached, the try "
			                   "counts");
		}
	}
	transition_close(&t);
	return r;
}

int running_allow_downgrade(struct cli *c, const char *version)
{
	struct transition t;
	char *end;

	errno = 0;
	unsigned long long v = strtoull(version, &end, 10);
	if (!*version || *end || errno || v == 0)
		return fail(-EINVAL, "not a version: '%s'", version);
	int r = transition_open(c, false, &t);
	if (r < 0)
		return r;
	if (v < t.st.version_floor)
		r = fail(-ESTALE, "version %llu is below this device's floor %llu: never again", v,
		         (unsigned long long)t.st.version_floor);
	else if (t.st.state != STATE_IDLE)
		r = fail(-EBUSY, "an update is in progress (%s); decide it first",
		         state_kind_name(t.st.state));
	if (r == 0) {
		t.st.allow_version = v;
		r = state_commit(&t.dev, &t.st);
	}
	if (r == 0) {
		char why[96];
		snprintf(why, sizeof(why), "a downgrade to version %llu is allowed once", v);
		add_history(&t.dev, HISTORY_NOTE, t.st.active, &t.st, 0, why);
		log_info("%s", why);
	}
	transition_close(&t);
	return r;
}
