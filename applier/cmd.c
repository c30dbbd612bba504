/* SPDX-License-Identifier: MIT */
#include "cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "apply.h"
#include "boot.h"
#include "bundle.h"
#include "crypto.h"
#include "fail.h"
#include "install.h"
#include "log.h"
#include "payload.h"
#include "report.h"
#include "slot.h"
#include "stage.h"
#include "staged.h"
#include "state.h"
#include "testpoint.h"
#include "tool.h"
#include "util.h"

#define APPLY_MOUNT_DIR "/run/systemota/data"

/* The three devices every state-aware command needs, resolved from the config. */
struct devices {
	char *state;
	char *slot[2];
};

static void devices_free(struct devices *d)
{
	free(d->state);
	free(d->slot[0]);
	free(d->slot[1]);
}

static int devices_resolve(const struct config *cfg, struct devices *d)
{
	int r;

	memset(d, 0, sizeof(*d));
	r = slot_resolve(cfg->state, &d->state);
	if (r == 0)
		r = slot_resolve(cfg->slot[0], &d->slot[0]);
	if (r == 0)
		r = slot_resolve(cfg->slot[1], &d->slot[1]);
	/* A misconfiguration must not let one write land on another's device. */
	if (r == 0)
		r = slot_distinct((const char *const[]){d->state, d->slot[0], d->slot[1]}, 3);
	if (r < 0)
		devices_free(d);
	return r;
}

/* Reads the record without writing anything. */
static int read_state(const char *path, struct state_record *ret)
{
	struct state_dev dev;
	int r = state_open(path, false, &dev);

	if (r < 0)
		return r;
	r = state_load(&dev, ret);
	state_close(&dev);
	return r;
}

static int booted_slot(const struct cli *c, const struct devices *d, uint8_t *ret)
{
	if (c->booted >= 0) {
		*ret = (uint8_t)c->booted;
		return 0;
	}
	return slot_booted(d->slot, ret);
}

static void dropin_path(const struct config *cfg, const char *data_dir, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", data_dir, cfg->dropin);
}

/* Mounts the data partition read-only for the applier. Returns the mount point or NULL. */
static const char *mount_data(const struct config *cfg)
{
	_cleanup_free_ char *dev = NULL, *fstype = NULL;
	int r = slot_resolve(cfg->data, &dev);

	if (r == 0)
		r = slot_fstype(dev, &fstype);
	if (r < 0) {
		log_warn("data partition unavailable, not looking for updates: %s", fail_reason());
		return NULL;
	}
	mkdir("/run/systemota", 0700);
	mkdir(APPLY_MOUNT_DIR, 0700);
	if (mount(dev, APPLY_MOUNT_DIR, fstype, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
	          NULL) < 0) {
		log_warn("cannot mount data partition %s (%s): %s; not looking for updates", dev,
		         fstype, strerror(errno));
		return NULL;
	}
	return APPLY_MOUNT_DIR;
}

static int cmd_apply(struct cli *c)
{
	struct crypto_keyring *keys = NULL;
	struct devices d;
	char dropin[4096];
	const char *data = NULL;
	uint8_t slot;

	struct state_record st;
	int r = devices_resolve(&c->cfg, &d);
	if (r < 0)
		return r; /* the hook falls back to slot A by label */
	/*
	 * A trial boot needs nothing from the data partition: do not mount it
	 * (a mount can replay its journal) before the try is counted.
	 */
	bool trying = read_state(d.state, &st) == 0 && st.state == STATE_TRYING;
	if (!trying) {
		if (crypto_keyring_load(c->cfg.keys, &keys) < 0)
			log_error("no trusted keys, not looking for updates: %s", fail_reason());
		else
			data = c->data_dir_given ? c->cfg.data_dir : mount_data(&c->cfg);
	}
	if (data)
		dropin_path(&c->cfg, data, dropin, sizeof(dropin));
	struct apply_config ac = {
	        .state_path = d.state,
	        .slot_path = {d.slot[0], d.slot[1]},
	        .dropin_dir = data ? dropin : NULL,
	        .keys = keys,
	        .compatible = c->cfg.compatible,
	        .tries = c->cfg.tries,
	};
	r = apply_run(&ac, &slot);
	if (data && !c->data_dir_given && umount(data) < 0)
		log_warn("cannot unmount the data partition: %s", strerror(errno));
	log_info("booting slot %c (%s)", state_slot_letter(slot), d.slot[slot]);
	/* Whatever went wrong, a slot was chosen: the hook mounts it. */
	printf("%c %s\n", state_slot_letter(slot), d.slot[slot]);
	crypto_keyring_free(keys);
	devices_free(&d);
	return fflush(stdout) == 0 ? 0 : -EIO;
}

static int cmd_boot_slot(struct cli *c)
{
	struct state_record st;
	struct devices d;
	int r = devices_resolve(&c->cfg, &d);

	if (r < 0)
		return r;
	r = read_state(d.state, &st);
	uint8_t slot = r == 0 ? st.active : 0;
	printf("%c %s\n", state_slot_letter(slot), d.slot[slot]);
	devices_free(&d);
	return 0;
}

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

static int cmd_status(struct cli *c)
{
	struct report_staged staged[STAGED_MAX_FILES];
	struct report_status s = {.booted = -1};
	struct staged_list list = {.dirfd = -1};
	struct state_record st;
	struct devices d;
	char dropin[4096];
	uint8_t booted;

	int r = devices_resolve(&c->cfg, &d);
	if (r < 0)
		return r;
	if (booted_slot(c, &d, &booted) == 0)
		s.booted = booted;
	if (read_state(d.state, &st) == 0) {
		s.st = &st;
		dropin_path(&c->cfg, c->cfg.data_dir, dropin, sizeof(dropin));
		if (staged_list(dropin, &list) == 0) {
			judge_staged(c, &st, &list, staged);
			s.staged = staged;
			s.n_staged = list.n;
		}
	} else {
		s.state_error = fail_reason();
	}
	report_status(stdout, &s, c->json);
	staged_list_free(&list);
	devices_free(&d);
	return 0;
}

/* mark-good and mark-bad: one transition, from the slot we are running on. */
static int cmd_mark(struct cli *c, bool good)
{
	struct state_record st, next;
	struct state_dev dev;
	struct devices d;
	uint8_t booted;

	int r = devices_resolve(&c->cfg, &d);
	if (r == 0)
		r = booted_slot(c, &d, &booted);
	if (r == 0)
		r = state_open(d.state, true, &dev);
	if (r < 0) {
		devices_free(&d);
		return r;
	}
	r = state_load(&dev, &st);
	if (r == 0)
		r = good ? boot_mark_good(&st, booted, &next) : boot_mark_bad(&st, booted, &next);
	if (r > 0) {
		r = state_commit(&dev, &next);
		if (r == 0 && good)
			testpoint("mark-good-committed");
	} else if (r == 0) {
		next = st;
	}
	state_close(&dev);
	if (r == 0)
		log_info("slot %c %s", state_slot_letter(booted),
		         good ? "is good" : "marked bad; reboot to return to the previous slot");
	if (r == 0 && good) {
		struct crypto_keyring *keys;
		char dropin[4096];
		dropin_path(&c->cfg, c->cfg.data_dir, dropin, sizeof(dropin));
		if (crypto_keyring_load(c->cfg.keys, &keys) == 0) {
			if (stage_cleanup(dropin, keys, &next) < 0)
				log_warn("cannot remove the applied bundle: %s", fail_reason());
			crypto_keyring_free(keys);
		}
	}
	devices_free(&d);
	return r;
}

static int cmd_stage(struct cli *c, const char *file)
{
	struct crypto_keyring *keys;
	struct state_record st;
	struct devices d;
	char dropin[4096];
	uint64_t slot_size = 0;

	int r = devices_resolve(&c->cfg, &d);
	if (r < 0)
		return r;
	r = read_state(d.state, &st);
	if (r < 0) {
		devices_free(&d);
		return fail_context(r, "cannot check the version against the boot state");
	}
	if (install_slot_size(d.slot[!st.active], &slot_size) < 0)
		log_warn("cannot size slot %c: %s", state_slot_letter(!st.active), fail_reason());
	r = crypto_keyring_load(c->cfg.keys, &keys);
	if (r == 0) {
		dropin_path(&c->cfg, c->cfg.data_dir, dropin, sizeof(dropin));
		r = stage_bundle(file, dropin, keys, c->cfg.compatible, &st, slot_size);
		crypto_keyring_free(keys);
	}
	devices_free(&d);
	return r;
}

static int cmd_device(struct cli *c, const char *name)
{
	static const char *const names[] = {"state", "a", "b", "data"};
	const char *specs[] = {c->cfg.state, c->cfg.slot[0], c->cfg.slot[1], c->cfg.data};
	_cleanup_free_ char *path = NULL;

	if (strcmp(name, "all") == 0) {
		/* What the initramfs waits for: the record and both slots, each exactly once. */
		struct devices d;
		int r = devices_resolve(&c->cfg, &d);
		if (r == 0)
			printf("%s\n%s\n%s\n", d.state, d.slot[0], d.slot[1]);
		devices_free(&d);
		return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(name, names[i]) != 0)
			continue;
		int r = slot_resolve(specs[i], &path);
		if (r == 0)
			printf("%s\n", path);
		return r;
	}
	return fail(-EINVAL, "unknown device '%s' (state, a, b, data or all)", name);
}

static int need_args(int argc, int n, const char *what)
{
	return argc == n ? 0 : fail(-EINVAL, "usage: systemota %s", what);
}

int cmd_dispatch(struct cli *c, int argc, char **argv)
{
	const char *cmd = argc > 0 ? argv[0] : "";
	int r;

	if (strcmp(cmd, "apply") == 0)
		return (r = need_args(argc, 1, "apply")) < 0 ? r : cmd_apply(c);
	if (strcmp(cmd, "boot-slot") == 0)
		return (r = need_args(argc, 1, "boot-slot")) < 0 ? r : cmd_boot_slot(c);
	if (strcmp(cmd, "status") == 0)
		return (r = need_args(argc, 1, "status [--json]")) < 0 ? r : cmd_status(c);
	if (strcmp(cmd, "mark-good") == 0 || strcmp(cmd, "mark-bad") == 0)
		return (r = need_args(argc, 1, cmd)) < 0 ? r : cmd_mark(c, cmd[5] == 'g');
	if (strcmp(cmd, "stage") == 0)
		return (r = need_args(argc, 2, "stage FILE")) < 0 ? r : cmd_stage(c, argv[1]);
	if (strcmp(cmd, "device") == 0)
		return (r = need_args(argc, 2, "device NAME")) < 0 ? r : cmd_device(c, argv[1]);
	if (strcmp(cmd, "bundle") == 0)
		return tool_bundle(c, argc - 1, argv + 1);
	if (strcmp(cmd, "key") == 0)
		return tool_key(c, argc - 1, argv + 1);
	if (strcmp(cmd, "state") == 0)
		return tool_state(c, argc - 1, argv + 1);
	return fail(-EINVAL, "unknown command '%s'; see systemota --help", cmd);
}
