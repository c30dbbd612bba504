/* SPDX-License-Identifier: MIT */
#include "apply.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "boot.h"
#include "bootcheck.h"
#include "bundle.h"
#include "checkpoint.h"
#include "fail.h"
#include "history.h"
#include "hooks.h"
#include "install.h"
#include "io.h"
#include "lastboot.h"
#include "log.h"
#include "mount.h"
#include "recover.h"
#include "staged.h"
#include "state.h"
#include "testpoint.h"
#include "util.h"
#include "watchdog.h"

struct ctx {
	const struct apply_config *cfg;
	struct state_dev dev;
	struct state_record st;
	bool reinitialised;     /* the record was lost this boot: install nothing */
	bool undecided;         /* the record cannot be acted on: boot slot, commit nothing */
	uint8_t slot;           /* ... that slot */
	bool noted;             /* a passing failure was recorded this boot */
	const char *data_dir;   /* cfg->data_dir, or where apply_run mounted the data */
	const char *data_mount; /* cfg->data_mount, or that mount (hooks) */
	bool mounted;           /* apply_run mounted it: it releases it */
	bool data_blocked;      /* the data must not be used this boot (a merge is owed) */
	char device[128];       /* what to mount: the slot's verity mapping, the slot, or "none" */
};

/*
 * Commits next as the new record; on success it becomes the current one, and
 * the transition goes into the history as kind, about the target slot, with
 * the formatted reason (or the record's last reason when fmt is NULL).
 */
static int commit(struct ctx *x, struct state_record *next, uint8_t kind, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int commit(struct ctx *x, struct state_record *next, uint8_t kind, const char *fmt, ...)
{
	struct history_entry e;
	char why[HISTORY_REASON_SIZE];
	int r = state_commit(&x->dev, next);

	if (r < 0) {
		log_error("cannot commit boot state: %s", fail_reason());
		return r;
	}
	x->st = *next;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	} else {
		snprintf(why, sizeof(why), "%s", x->st.last_reason);
	}
	history_fill(&e, kind, x->st.target, x->st.target_version, x->st.target_label,
	             kind == HISTORY_TRIAL_BOOT || kind == HISTORY_INSTALLED ? 0 : x->st.last_error,
	             "%s", why);
	history_note(&x->dev, &e);
	return 0;
}

static void fill_install(const struct bundle *b, const struct staged_file *f,
                         const struct keyring *adopted, struct boot_install *in)
{
	const struct keyring *k = bundle_new_keyring(b, adopted);

	in->keyring = k ? k->raw : NULL;
	in->keyring_len = k ? k->size : 0;
	memcpy(in->fingerprint, f->fingerprint, sizeof(in->fingerprint));
	memcpy(in->txn, b->txn, sizeof(in->txn));
	memcpy(in->image_digest, b->manifest.image_digest, sizeof(in->image_digest));
	in->image_size = b->manifest.image_size;
	in->version = b->manifest.version;
	in->floor = b->manifest.floor;
	in->verity = b->manifest.verity.on;
	memcpy(in->label, b->manifest.label, sizeof(in->label));
}

/*
 * The new image's post-install hooks, after its slot was verified and before
 * the switch is committed. A failing hook refuses the update for good.
 */
static int run_hooks(struct ctx *x, const struct bundle *b)
{
	struct state_record next;
	struct hooks_env env = {
	        .slot = state_slot_letter(x->st.target),
	        .version = b->manifest.version,
	        .label = b->manifest.label,
	        .from_version = x->st.slot[x->st.active].version,
	};

	if (!x->data_mount)
		return 0;
	int r = hooks_run(x->cfg->slot_path[x->st.target], x->data_mount, &env);
	if (r == 0)
		return 0;
	char why[STATE_REASON_SIZE];
	snprintf(why, sizeof(why), "%s", fail_reason_for(r));
	log_error("%s", why);
	if (r == -ECANCELED) {
		boot_hook_failed(&x->st, r, why, &next);
		commit(x, &next, HISTORY_HOOK_FAILED, NULL);
	} else {
		boot_note_failure(&x->st, r, why, &next);
		commit(x, &next, HISTORY_INSTALL_FAILED, NULL);
	}
	return r;
}

/* The checkpoint could not be made: WRITING stays (reason), the next boot retries. */
static int checkpoint_failed(struct ctx *x, int r)
{
	struct state_record next;
	char why[STATE_REASON_SIZE];

	snprintf(why, sizeof(why), "cannot checkpoint the data: %s", fail_reason_for(r));
	log_error("%s; the install is retried at the next boot", why);
	boot_note_failure(&x->st, r, why, &next);
	commit(x, &next, HISTORY_INSTALL_FAILED, NULL);
	return r;
}

/*
 * The data checkpoint, before anything of the new version writes the data
 * (its post-install hooks, then its trial): the COW store is emptied first,
 * so that the record can only ever name this checkpoint; then the record
 * says ACTIVE; then the data partition is mapped as an origin with the
 * snapshot beside it (under the applier's read-only mount). A failure leaves
 * the install to be retried at the next boot, which merges back whatever
 * was begun.
 */
static int begin_checkpoint(struct ctx *x)
{
	struct state_record next;
	int r;

	if (!x->cfg->checkpointed)
		return 0;
	/* An earlier checkpoint is not resolved: no new version writes the data before. */
	if (x->st.data_cp != DATA_CP_NONE || x->data_blocked)
		return checkpoint_failed(
		        x, fail(-EBUSY, "the data is not rolled back from an earlier update yet"));
	if (!x->cfg->cow) {
		log_warn("the COW store is missing: version %llu's changes to the data cannot be "
		         "rolled back",
		         (unsigned long long)x->st.target_version);
		return 0;
	}
	r = checkpoint_reset(x->cfg->cow);
	if (r == 0) {
		boot_checkpoint_begin(&x->st, &next);
		r = commit(x, &next, HISTORY_CHECKPOINT,
		           "the data checkpointed before version %llu",
		           (unsigned long long)next.cp_version);
		if (r < 0)
			return r;
		testpoint("checkpoint-committed");
		r = checkpoint_map(x->cfg->data_dev, x->cfg->cow, CHECKPOINT_TRIAL);
	}
	if (r < 0)
		return checkpoint_failed(x, r);
	log_info("data checkpointed: version %llu's changes to it can be rolled back",
	         (unsigned long long)x->st.cp_version);
	return 0;
}

/*
 * WRITING -> stream, read back -> TRYING. A corrupt bundle goes back to IDLE
 * (the file is remembered as refused); a device error stays WRITING, to be
 * retried at the next boot like an interrupted install.
 */
static int install(struct ctx *x, const struct bundle *b, const uint8_t fp[STATE_FINGERPRINT_SIZE])
{
	struct state_record next;
	uint8_t target = x->st.target;

	log_info("installing version %llu (%s) into slot %c, attempt %u",
	         (unsigned long long)b->manifest.version, b->manifest.label,
	         state_slot_letter(target), x->st.apply_attempts);
	int r = install_image(b, x->cfg->slot_path[target], !x->cfg->no_read_back);
	if (r < 0) {
		char why[STATE_REASON_SIZE];
		snprintf(why, sizeof(why), "%s", fail_reason_for(r));
		log_error("install failed: %s", why);
		if (r == -EBADMSG || r == -EPROTO) {
			boot_install_failed(&x->st, r, why, fp, &next);
		} else {
			log_warn(
			        "slot %c stays incomplete; the install is retried at the next boot",
			        state_slot_letter(target));
			boot_note_failure(&x->st, r, why, &next);
		}
		commit(x, &next, HISTORY_INSTALL_FAILED, NULL);
		return r;
	}
	r = begin_checkpoint(x);
	if (r < 0)
		return r;
	r = run_hooks(x, b);
	if (r < 0)
		return r;
	testpoint("hooks-done");
	boot_install_done(&x->st, x->cfg->tries, &next);
	r = commit(x, &next, HISTORY_INSTALLED, "slot %c written, read back and verified",
	           state_slot_letter(target));
	if (r == 0)
		testpoint("trying-committed");
	if (r == 0)
		log_info("slot %c written and verified; trying it (%u boots)",
		         state_slot_letter(target), x->cfg->tries);
	return r;
}

/*
 * Records a failure that may pass: the first of this boot (in name order, so
 * the same one every boot), unless the record already says exactly that.
 */
static void note(struct ctx *x, int error, const char *reason)
{
	struct state_record next;

	if (x->noted || (x->st.last_error == -error && strcmp(x->st.last_reason, reason) == 0))
		return;
	x->noted = true;
	boot_note_failure(&x->st, error, reason, &next);
	commit(x, &next, HISTORY_NOTE, NULL);
}

struct merge_seen {
	unsigned tenths; /* shown so far */
	uint64_t total;  /* sectors to merge, as the kernel first said */
};

static void merge_progress(void *u, uint64_t done, uint64_t total)
{
	struct merge_seen *m = u;
	unsigned tenth = total ? (unsigned)(done * 10 / total) : 10;

	m->total = total;
	if (tenth > m->tenths) {
		m->tenths = tenth;
		log_info("merging the data back: %u%%", tenth * 10);
	}
}

/*
 * MERGING: the failed update's changes to the data are merged back before
 * any system sees it; the record says NONE once they are, with the history
 * "data rolled back to before version N". An overflowed checkpoint cannot be
 * merged: NONE, and the reason says the data was not rolled back. Any other
 * failure leaves MERGING (resumed at the next boot) and the data unused this
 * boot: a system without its data is better than the old one on the new data.
 */
static int rollback_data(struct ctx *x)
{
	struct state_record next;
	char why[STATE_REASON_SIZE];
	struct merge_seen seen = {0};
	uint64_t start = util_now_ms();
	int r = -ENODEV;

	log_info("rolling the data back to before version %llu",
	         (unsigned long long)x->st.cp_version);
	if (x->cfg->cow)
		r = checkpoint_merge(x->cfg->data_dev, x->cfg->cow, merge_progress, &seen);
	else
		fail(r, "the COW store is missing");
	if (r == -ENOSPC || r == -EBADMSG || r == -EPROTO) {
		/*
		 * Overflowed, or a header torn by a cut while it was written: nothing
		 * to merge from. Said as not rolled back (a header torn as the store
		 * was made held no change yet; one torn as the kernel invalidated it
		 * cannot be merged): never a merge owed for good.
		 */
		snprintf(why, sizeof(why), "%s", fail_reason_for(r));
		log_error("%s: the data stays as version %llu left it", why,
		          (unsigned long long)x->st.cp_version);
		boot_checkpoint_lost(&x->st, why, &next);
		r = commit(x, &next, HISTORY_CHECKPOINT, NULL);
		x->data_blocked = r < 0; /* the record must say so before the data is used */
		if (r == 0 && checkpoint_reset(x->cfg->cow) < 0)
			log_warn("%s", fail_reason());
		return r;
	}
	if (r < 0) {
		snprintf(why, sizeof(why), "cannot roll the data back: %s", fail_reason_for(r));
		log_error("%s; the data is not used until it is", why);
		x->data_blocked = true;
		note(x, r, why);
		return r;
	}
	boot_checkpoint_merged(&x->st, &next);
	r = commit(x, &next, HISTORY_DATA_ROLLBACK, "data rolled back to before version %llu",
	           (unsigned long long)x->st.cp_version);
	if (r < 0) {
		/* Merged, but the record says MERGING still: the next boot merges nothing again. */
		x->data_blocked = true;
		return r;
	}
	testpoint("data-rolled-back");
	/* The record says merged: the store may go (a cut here leaves it empty, harmless). */
	if (checkpoint_reset(x->cfg->cow) < 0)
		log_warn("%s", fail_reason());
	log_info("data rolled back to before version %llu (%" PRIu64 " KiB merged in %" PRIu64
	         " ms)",
	         (unsigned long long)x->st.cp_version, seen.total / 2, util_now_ms() - start);
	return 0;
}

/*
 * No checkpoint recorded, yet the store holds a header: what a cut left after
 * the commit that ended its checkpoint (mark-good, a merge, a loss) and
 * before the store's reset. Nothing refers to it: cleared, so that only a
 * checkpoint the record names is ever found on it.
 */
static int clear_stale_store(struct ctx *x)
{
	struct checkpoint_header h;
	int r = checkpoint_cow_header(x->cfg->cow, &h);

	if (r == 0 && !h.present)
		return 0;
	if (r == -EIO)
		return r; /* unreadable now: looked at again next boot */
	log_info("clearing a COW store no checkpoint is recorded for");
	r = checkpoint_reset(x->cfg->cow);
	if (r < 0)
		log_warn("%s", fail_reason());
	return r;
}

/*
 * Before the data is used: a checkpoint that outlived its transaction (hooks
 * cut short, or failed) is merged back, a merge cut short is finished, and
 * (check_trial, at the start of a boot) a trial's checkpoint that the kernel
 * invalidated (the COW store overflowed) is recorded as lost.
 */
static int settle_checkpoint(struct ctx *x, bool check_trial)
{
	struct state_record next;
	struct checkpoint_header h = {0};
	char why[STATE_REASON_SIZE];

	if (!x->cfg->checkpointed)
		return 0;
	if (boot_checkpoint_resolve(&x->st, &next)) {
		log_warn("version %llu's post-install hooks were cut short: undoing them",
		         (unsigned long long)x->st.cp_version);
		int r = commit(x, &next, HISTORY_CHECKPOINT,
		               "version %llu's post-install hooks were cut short",
		               (unsigned long long)x->st.cp_version);
		if (r < 0) {
			x->data_blocked = true;
			return r;
		}
	}
	if (x->st.data_cp == DATA_CP_MERGING)
		return rollback_data(x);
	if (x->st.data_cp == DATA_CP_NONE && check_trial && x->cfg->cow)
		return clear_stale_store(x);
	if (x->st.data_cp != DATA_CP_ACTIVE || !check_trial)
		return 0;
	int r = x->cfg->cow ? checkpoint_cow_header(x->cfg->cow, &h)
	                    : fail(-ENODEV, "the COW store is missing");
	if (r == -EIO) {
		x->data_blocked = true; /* may read next time: the trial runs without the data */
		snprintf(why, sizeof(why), "cannot read the checkpoint: %s", fail_reason_for(r));
		log_error("%s", why);
		note(x, r, why);
		return r;
	}
	if (r == 0 && h.present && h.valid)
		return 0;
	snprintf(why, sizeof(why), "%s",
	         r < 0       ? fail_reason_for(r)
	         : h.present ? "the COW store overflowed"
	                     : "the COW store is empty");
	log_error("the data checkpoint of version %llu is lost: %s",
	          (unsigned long long)x->st.cp_version, why);
	boot_checkpoint_lost(&x->st, why, &next);
	return commit(x, &next, HISTORY_CHECKPOINT, NULL);
}

/* The device the data is mounted from: the mapping when checkpointed. */
static const char *data_node(const struct ctx *x, char *buf, size_t size)
{
	if (!x->cfg->checkpointed)
		return x->cfg->data_dev;
	checkpoint_data_node(buf, size);
	return buf;
}

/* Outside a trial: the data, mounted read-only, for the drop-in directory and the hooks. */
static void mount_data(struct ctx *x)
{
	char node[MOUNT_DEV_SIZE];

	/* Without keys no bundle can be looked at: nothing to mount for. */
	if (x->data_dir || !x->cfg->data_dev || !x->cfg->keys || x->data_blocked)
		return;
	if (x->cfg->checkpointed && checkpoint_map(x->cfg->data_dev, NULL, CHECKPOINT_PLAIN) < 0) {
		log_warn("cannot map the data partition, not looking for updates: %s",
		         fail_reason());
		return;
	}
	mkdir(x->cfg->data_mount_dir, 0700);
	if (mount_data_ro(data_node(x, node, sizeof(node)), x->cfg->data_mount_dir,
	                  x->cfg->data_fstype) < 0) {
		log_warn("%s; not looking for updates", fail_reason());
		return;
	}
	x->mounted = true;
	x->data_dir = x->data_mount = x->cfg->data_mount_dir;
}

/*
 * Last, for the slot that boots: the data as it must see it. A rollback's
 * merge happens here, before the old system starts; a trial of the target
 * with its checkpoint gets the origin and the snapshot; anything else the
 * plain mapping (a commit dropped the checkpoint already).
 */
static void map_data(struct ctx *x, uint8_t slot)
{
	if (x->mounted && mount_data_release(x->data_mount) < 0)
		log_warn("%s", fail_reason());
	x->mounted = false;
	x->data_dir = x->data_mount = NULL;
	if (!x->cfg->checkpointed)
		return;
	if (!x->data_blocked)
		settle_checkpoint(x, false);
	bool trial = x->st.state == STATE_TRYING && slot == x->st.target &&
	             x->st.data_cp == DATA_CP_ACTIVE;
	/*
	 * A merge owed, or a checkpoint of a trial this boot is not (a commit
	 * failed on the way): no system sees the data, rather than the old one
	 * the new version's (the snapshot removed, its writes would bypass it).
	 */
	if (x->data_blocked || x->st.data_cp == DATA_CP_MERGING ||
	    (x->st.data_cp == DATA_CP_ACTIVE && !trial)) {
		log_error("the data is not used this boot: a rollback of it is owed");
		if (checkpoint_unmap() < 0)
			log_warn("%s", fail_reason());
		return;
	}
	if (checkpoint_map(x->cfg->data_dev, x->cfg->cow,
	                   trial ? CHECKPOINT_TRIAL : CHECKPOINT_PLAIN) < 0)
		log_error("the data partition is not mapped: %s", fail_reason());
}

/*
 * Records a refusal: once per file, since the file is then remembered and not
 * judged again. A file that could not be read is not judged at all: the next
 * boot looks again.
 */
static void reject(struct ctx *x, const struct staged_file *f, int error)
{
	struct state_record next;

	if (!staged_is_verdict(error)) {
		log_warn("cannot read %s (%s); looking again at the next boot", f->name,
		         fail_reason_for(error));
		note(x, error, fail_reason_for(error));
		return;
	}
	log_error("rejected %s: %s", f->name, fail_reason_for(error));
	boot_reject(&x->st, error, fail_reason_for(error), f->fingerprint, &next);
	commit(x, &next, HISTORY_REJECTED, "%s: %s", f->name, x->st.last_reason);
}

/* Opens, verifies and judges one staged file: 0 (install it), STAGED_SKIP, or -errno. */
static int judge(struct ctx *x, const struct staged_list *list, const struct staged_file *f,
                 const struct keyring *adopted, struct bundle *b)
{
	uint64_t slot_size;
	int r;

	if (boot_is_rejected(&x->st, f->fingerprint)) {
		log_info("%s: rejected before; ignoring it", f->name);
		return STAGED_SKIP;
	}
	r = staged_open(list, f, x->cfg->keys, adopted, b);
	if (r < 0)
		return r;
	r = install_slot_size(x->cfg->slot_path[!x->st.active], &slot_size);
	if (r == 0)
		r = staged_check(b, x->cfg->compatible, &x->st, slot_size);
	if (r != 0)
		bundle_close(b);
	return r;
}

/* IDLE: look in the drop-in directory and install the first acceptable bundle. */
static int apply_staged(struct ctx *x)
{
	struct staged_list list;
	struct state_record next;
	const struct keyring *adopted = NULL;
	struct keyring adopted_buf;
	int r, first_error = 0;

	/* The device's adopted keyring judges every bundle; one that does not parse judges none. */
	r = keyring_adopted(&x->st, &adopted_buf, &adopted);
	if (r < 0) {
		log_error("%s: no update can be judged", fail_reason());
		note(x, r, fail_reason());
		return r;
	}
	r = staged_list(x->data_dir, x->cfg->dropin, &x->st, &list);
	if (r == -ENOENT)
		return 0; /* no drop-in directory: nothing was ever staged */
	if (r < 0) {
		log_warn("cannot read the drop-in directory: %s", fail_reason());
		note(x, r, fail_reason());
		return r;
	}
	for (size_t i = 0; i < list.n; i++) {
		struct staged_file *f = &list.files[i];
		struct bundle b;
		r = judge(x, &list, f, adopted, &b);
		if (r == STAGED_SKIP)
			continue;
		if (r < 0) {
			/* New to the record (judged files were skipped). */
			reject(x, f, r);
			first_error = first_error ? first_error : r;
			continue;
		}
		struct boot_install in;
		fill_install(&b, f, adopted, &in);
		boot_begin_install(&x->st, &in, &next);
		r = commit(x, &next, HISTORY_INSTALLING, "%s into slot %c", f->name,
		           state_slot_letter(next.target));
		if (r == 0) {
			testpoint("writing-committed");
			r = install(x, &b, f->fingerprint);
		}
		bundle_close(&b);
		staged_list_free(&list);
		return r;
	}
	staged_list_free(&list);
	return first_error;
}

/*
 * Looks for the interrupted transaction's bundle: 0 with *ret open, -ENOENT
 * when the drop-in directory was read and it is not there, or another error
 * when it could not be looked for (then it may still be there next boot).
 */
static int find_transaction(struct ctx *x, struct bundle *ret, struct staged_file *ret_file)
{
	struct staged_list list;
	const struct keyring *adopted = NULL;
	struct keyring adopted_buf;
	int r, unreadable = 0;

	if (!x->data_dir || !x->cfg->keys)
		return fail(-EIO, "the data partition or the keys are unavailable");
	r = keyring_adopted(&x->st, &adopted_buf, &adopted);
	if (r < 0)
		return r;
	r = staged_list(x->data_dir, x->cfg->dropin, &x->st, &list);
	if (r < 0)
		return r == -ENOENT ? fail(r, "the drop-in directory is gone") : r;
	for (size_t i = 0; i < list.n; i++) {
		r = staged_open(&list, &list.files[i], x->cfg->keys, adopted, ret);
		if (r < 0) {
			unreadable = staged_is_verdict(r) ? unreadable : r;
			continue;
		}
		if (memcmp(ret->txn, x->st.txn, CRYPTO_DIGEST_SIZE) == 0) {
			*ret_file = list.files[i];
			staged_list_free(&list);
			return 0;
		}
		bundle_close(ret);
	}
	staged_list_free(&list);
	if (unreadable)
		return fail(unreadable, "a staged file could not be read");
	return fail(-ENOENT, "the bundle of the interrupted install is no longer staged");
}

/* WRITING found at boot: the previous attempt was cut short (or failed on a device error). */
static int resume(struct ctx *x)
{
	struct state_record next;
	struct staged_file f;
	struct bundle b;
	int r;

	log_warn("an install of version %llu into slot %c was interrupted (attempt %u of %d)",
	         (unsigned long long)x->st.target_version, state_slot_letter(x->st.target),
	         x->st.apply_attempts, BOOT_MAX_APPLY_ATTEMPTS);
	/* Count this attempt before making it, so a crash in it is counted too. */
	int gave_up = boot_resume_install(&x->st, &next);
	if (gave_up)
		r = commit(x, &next, HISTORY_INSTALL_FAILED, NULL);
	else
		r = commit(x, &next, HISTORY_INSTALLING, "attempt %u, after an interrupted one",
		           next.apply_attempts);
	if (r < 0 || gave_up) {
		if (gave_up)
			log_error("%s", x->st.last_reason);
		return r;
	}
	r = find_transaction(x, &b, &f);
	if (r == 0) {
		r = install(x, &b, f.fingerprint);
		bundle_close(&b);
		return r;
	}
	log_error("%s", fail_reason_for(r));
	if (r == -ENOENT) {
		/* Really gone: nothing to retry. */
		boot_install_failed(&x->st, r, fail_reason_for(r), x->st.txn_file, &next);
	} else {
		/* Not readable now: stay WRITING (this attempt is counted) and look again. */
		boot_note_failure(&x->st, r, fail_reason_for(r), &next);
	}
	commit(x, &next, HISTORY_INSTALL_FAILED, NULL);
	return r;
}

/*
 * The last trial boot began and never ended cleanly (no mark-good, mark-bad
 * or clean shutdown): say so in the history, with the cause when known.
 */
static void trial_ended_badly(struct ctx *x)
{
	struct history_entry e;
	char why[HISTORY_REASON_SIZE];

	if (!x->cfg->probe_last_boot || !lastboot_cause(why, sizeof(why)))
		snprintf(why, sizeof(why),
		         "the system stopped without deciding (crash, hang "
		         "without a watchdog, or power loss)");
	log_warn("the last trial boot of slot %c ended badly: %s", state_slot_letter(x->st.target),
	         why);
	history_fill(&e, HISTORY_TRIAL_FAILED, x->st.target, x->st.target_version,
	             x->st.target_label, ECANCELED, "try %u of %u: %s",
	             x->st.max_tries - x->st.tries_left, x->st.max_tries, why);
	history_note(&x->dev, &e);
}

/* A trial slot boots with the hardware watchdog running: a hang is then a failed try. */
static void arm_watchdog(struct ctx *x)
{
	const char *wd = x->cfg->watchdog;

	if (!watchdog_configured(wd))
		return;
	if (watchdog_arm(wd, x->cfg->watchdog_timeout) < 0)
		log_warn("%s; a hang of the new system will need a power cycle", fail_reason());
	else
		log_info("watchdog %s armed: %d s to confirm", wd, x->cfg->watchdog_timeout);
}

/*
 * In the slot's own kernel, started by an earlier initramfs of this same boot
 * that already decided (and counted the try): boot that slot, deciding
 * nothing again. False when the record does not agree (then decide normally).
 */
static bool continue_after_kexec(struct ctx *x, uint8_t *ret_slot)
{
	uint8_t slot = x->cfg->kexec_slot;
	bool trial = x->st.state == STATE_TRYING && x->st.target == slot && x->st.trial_booted;

	if (!trial && !(x->st.state == STATE_IDLE && x->st.active == slot)) {
		log_warn("started in slot %c's kernel, but the record does not say to boot it",
		         state_slot_letter(slot));
		return false;
	}
	log_info("in slot %c's own kernel now: booting it, nothing decided twice",
	         state_slot_letter(slot));
	/* The watchdog may not have survived the kexec: a trial must still be guarded. */
	if (trial)
		arm_watchdog(x);
	*ret_slot = slot;
	return true;
}

/* Checks slot s as the record describes it (bootcheck.h). */
static int check_one(struct ctx *x, uint8_t s, bool map_damaged, struct bootcheck *ret)
{
	const struct keyring *adopted = NULL;
	struct keyring buf;
	int r = keyring_adopted(&x->st, &buf, &adopted);

	if (r < 0) {
		/* The record's keyring, not the slot, is at fault: nothing is judged. */
		memset(ret, 0, sizeof(*ret));
		snprintf(ret->device, sizeof(ret->device), "%s", x->cfg->slot_path[s]);
		return fail_context(r == -ENOMEM ? r : -ENOKEY, "slot %c", state_slot_letter(s));
	}
	struct bootcheck_config c = {
	        .path = x->cfg->slot_path[s],
	        .slot = s,
	        .expect_footer = x->st.slot[s].verity,
	        .version = x->st.flags & STATE_FLAG_VERSIONS_UNKNOWN ? 0 : x->st.slot[s].version,
	        .floor = x->st.version_floor,
	        .compatible = x->cfg->compatible,
	        .keys = x->cfg->keys,
	        .adopted = adopted,
	        .map = x->cfg->verity_map,
	        .map_damaged = map_damaged,
	};
	return bootcheck_slot(&c, ret);
}

/*
 * The slot to boot, checked before anything on it is used (bootcheck.h), and
 * the corruption policy (docs/verity.md). Returns the slot to boot; x->device
 * is what to mount. When decide is false (the record cannot be committed)
 * nothing is committed and no other slot is chosen.
 *   - verified, or unverified as the record allows (installed before verity): boot it;
 *   - the slot on trial fails: a failed try and the last (the same bytes fail
 *     every try): rolled back, and the active slot is checked in its turn;
 *   - the active slot fails and the other is GOOD and passes: the other becomes
 *     active, the failed one BAD, the history naming the slot and the block;
 *   - else nothing passes: a slot whose footer verifies is booted through its
 *     mapping even so (its damaged blocks read as EIO: never other bytes); one
 *     whose footer does not is not booted at all ("none": the hook stops).
 */
static uint8_t check_boot_slot(struct ctx *x, uint8_t slot, bool decide)
{
	struct state_record next;
	struct bootcheck bc, other;
	char why[HISTORY_REASON_SIZE];
	int r = check_one(x, slot, true, &bc);

	snprintf(x->device, sizeof(x->device), "%s", bc.device);
	if (r >= 0)
		return slot;
	snprintf(why, sizeof(why), "%s", fail_reason_for(r));
	log_error("%s", why);
	/*
	 * A slot that cannot be read now, or with no keys to judge it by, is not
	 * judged: nothing is recorded against it.
	 */
	bool verdict = r != -EIO && r != -ENOMEM && r != -ENOKEY;
	if (decide && verdict && boot_trial_damaged(&x->st, why, &next)) {
		bootcheck_unmap(slot);
		if (commit(x, &next, HISTORY_DAMAGED, NULL) == 0)
			testpoint("damaged-committed");
		/* Committed or not, the trial slot is not booted: the active one is. */
		return check_boot_slot(x, x->st.active, decide && x->st.state == STATE_IDLE);
	}
	if (x->st.state == STATE_TRYING && slot == x->st.target) {
		/* The try was counted: the next boot makes the next one. */
		bootcheck_unmap(slot);
		return check_boot_slot(x, x->st.active, false);
	}
	uint8_t alt = !slot;
	if (slot == x->st.active && x->st.slot[alt].status == SLOT_GOOD) {
		int ro = check_one(x, alt, false, &other);
		if (ro == 0) {
			bool committed = decide && verdict &&
			                 boot_slot_damaged(&x->st, why, &next) &&
			                 commit(x, &next, HISTORY_DAMAGED, NULL) == 0;
			if (committed)
				testpoint("damaged-committed");
			else
				log_warn("booting slot %c, deciding nothing",
				         state_slot_letter(alt));
			bootcheck_unmap(slot);
			snprintf(x->device, sizeof(x->device), "%s", other.device);
			return alt;
		}
		log_error("slot %c is no fallback: %s", state_slot_letter(alt),
		          ro > 0 ? "it is not verified" : fail_reason());
	}
	/* No mapping could be made: no signed root hash guards this slot's reads. */
	if (strcmp(x->device, x->cfg->slot_path[slot]) == 0) {
		log_error("slot %c is not booted: nothing on it can be trusted",
		          state_slot_letter(slot));
		snprintf(x->device, sizeof(x->device), "none");
	}
	return slot;
}

/*
 * The record cannot be acted on (a copy unreadable, or no slot checks out):
 * boot slot and decide nothing, no commit, no install. The reason goes to the
 * log and, best effort, to the history, where `systemota status` shows it.
 */
static void undecided(struct ctx *x, uint8_t slot, const char *why)
{
	struct history_entry e = {.kind = HISTORY_NOTE, .slot = slot, .error = EIO};

	log_error("%s; booting slot %c, deciding nothing", why, state_slot_letter(slot));
	x->undecided = true;
	x->slot = slot;
	snprintf(e.reason, sizeof(e.reason), "booted slot %c, nothing decided: %s",
	         state_slot_letter(slot), why);
	if (x->dev.fd >= 0 && history_supported(&x->dev) && history_append(&x->dev, &e) < 0)
		log_warn("%s", fail_reason());
}

/*
 * Both copies lost: re-initialise conservatively from what is still known
 * (boot.h, recover.h), but only with a slot that checked out; else decide
 * nothing. why is what the load found.
 */
static int load_lost(struct ctx *x, int error, const char *why)
{
	struct state_record next;
	struct boot_evidence ev;
	uint8_t slot;

	/* Nothing of a record that does not load is used (the slot check reads st). */
	state_init(&x->st);
	recover_evidence(x->dev.fd >= 0 ? &x->dev : NULL, x->cfg->slot_path, &ev);
	int checked = boot_recover_slot(&ev, &slot);
	if (error != -ENODATA || !checked || ev.unreadable) {
		/*
		 * A copy, the history or a slot unreadable (it may read again, and
		 * say more), or no slot checks out: nothing is made active.
		 */
		char full[FAIL_REASON_MAX];
		snprintf(full, sizeof(full), "%s%s", why,
		         ev.unreadable ? "; the history or a slot unreadable too" : "");
		undecided(x, slot, full);
		return error == -ENODATA && ev.unreadable ? fail(-EIO, "%s", full) : error;
	}
	log_error("%s; re-initialising the record with slot %c active", why,
	          state_slot_letter(slot));
	boot_reinit(&ev, slot, why, &next);
	int r = commit(x, &next, HISTORY_REINIT, NULL);
	if (r < 0) {
		undecided(x, slot, "the re-initialised record could not be committed");
		return r;
	}
	/* The versions are unknown: no install this boot, nor later (the record's flag). */
	x->reinitialised = true;
	return 0;
}

static int load(struct ctx *x)
{
	char why[FAIL_REASON_MAX];
	int r = state_open(x->cfg->state_path, true, &x->dev);

	if (r < 0) {
		snprintf(why, sizeof(why), "%s", fail_reason());
		return load_lost(x, r, why);
	}
	r = state_load(&x->dev, &x->st);
	int u = state_unreadable(&x->dev);
	if (r == 0 && u >= 0) {
		/* The other copy may be the newest: acting on this one could undo it. */
		snprintf(why, sizeof(why),
		         "state record copy %d unreadable (%s); copy %d may be older", u,
		         fail_code_name(x->dev.copy_error[u]), !u);
		undecided(x, x->st.active, why);
		return fail(-EIO, "%s", why);
	}
	if (r == 0)
		return 0;
	snprintf(why, sizeof(why), "%s", fail_reason());
	return load_lost(x, r, why);
}

/* Hands what to mount to the caller. */
static void finish_device(const struct ctx *x)
{
	if (x->cfg->device_out)
		snprintf(x->cfg->device_out, x->cfg->device_out_size, "%s", x->device);
}

int apply_run(const struct apply_config *cfg, uint8_t *ret_slot)
{
	struct ctx x = {.cfg = cfg,
	                .dev = {.fd = -1},
	                .data_dir = cfg->data_dir,
	                .data_mount = cfg->data_mount};
	struct state_record next;
	uint8_t slot;
	int r, err;

	*ret_slot = 0;
	r = load(&x);
	if (r < 0 || x.undecided) {
		/* Nothing decided: the slot is checked, and booted as found. */
		*ret_slot = check_boot_slot(&x, x.slot, false);
		finish_device(&x);
		state_close(&x.dev);
		return r < 0 ? r : -EIO;
	}
	*ret_slot = x.st.active;
	testpoint("apply-loaded");
	if (cfg->after_kexec && continue_after_kexec(&x, ret_slot)) {
		/* A new kernel: the mappings are gone. Its first kernel decided: check, decide
		 * nothing. */
		*ret_slot = check_boot_slot(&x, *ret_slot, false);
		finish_device(&x);
		map_data(&x, *ret_slot);
		state_close(&x.dev);
		return 0;
	}
	log_info("state: %s, active slot %c (version %llu)", state_kind_name(x.st.state),
	         state_slot_letter(x.st.active),
	         (unsigned long long)x.st.slot[x.st.active].version);

	settle_checkpoint(&x, true);
	/* A trial boot needs nothing from the data: it is not mounted (a mount can write). */
	if (x.st.state != STATE_TRYING)
		mount_data(&x);
	err = 0;
	if (x.st.state == STATE_WRITING)
		err = resume(&x);
	else if (x.st.state == STATE_IDLE && x.data_dir && cfg->keys && !x.reinitialised)
		err = apply_staged(&x);

	if (x.st.state == STATE_WRITING) {
		/* An attempt failed or could not start: boot the active slot, retry next boot. */
		*ret_slot = check_boot_slot(&x, x.st.active, true);
		finish_device(&x);
		map_data(&x, x.st.active);
		state_close(&x.dev);
		return err ? err : -EIO;
	}
	if (x.st.state == STATE_TRYING && x.st.trial_booted)
		trial_ended_badly(&x);
	if (boot_choose(&x.st, &next, &slot)) {
		if (next.state == STATE_IDLE)
			log_error("%s", next.last_reason);
		if (next.state == STATE_TRYING)
			r = commit(&x, &next, HISTORY_TRIAL_BOOT, "try %u of %u",
			           next.max_tries - next.tries_left, next.max_tries);
		else
			r = commit(&x, &next, HISTORY_ROLLBACK, NULL);
		if (r < 0) {
			/* The try could not be counted: never boot a trial slot uncounted. */
			slot = x.st.active;
			err = r;
		} else if (next.state == STATE_TRYING) {
			log_info("trial boot of slot %c: %u more tries after this one",
			         state_slot_letter(slot), next.tries_left);
			arm_watchdog(&x);
			testpoint("try-counted");
		} else {
			testpoint("rollback-committed");
		}
	}
	*ret_slot = slot = check_boot_slot(&x, slot, r >= 0);
	finish_device(&x);
	map_data(&x, slot);
	state_close(&x.dev);
	return err;
}
