/* SPDX-License-Identifier: MIT */
#include "cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "boot.h"
#include "bundle.h"
#include "checkpoint.h"
#include "cmdline.h"
#include "crypto.h"
#include "devices.h"
#include "fail.h"
#include "history.h"
#include "install.h"
#include "kexec.h"
#include "log.h"
#include "mount.h"
#include "payload.h"
#include "recover.h"
#include "report.h"
#include "slot.h"
#include "stage.h"
#include "staged.h"
#include "state.h"
#include "testpoint.h"
#include "tool.h"
#include "util.h"
#include "verbs.h"

#define APPLY_MOUNT_DIR "/run/systemota/data"

/*
 * The data partition and the checkpoint's COW store, as apply_run needs them:
 * the applier mounts the data itself, once it knows the data may be used.
 */
static void resolve_data(const struct config *cfg, char **ret_data, char **ret_cow)
{
	if (slot_resolve(cfg->data, ret_data) < 0)
		log_warn("data partition unavailable, not looking for updates: %s", fail_reason());
	if (cfg->cow[0] && slot_resolve(cfg->cow, ret_cow) < 0)
		log_error("the COW store is unavailable, the data cannot be checkpointed: %s",
		          fail_reason());
}

/*
 * systemota.watchdog-timeout=N and systemota.tries=N on the kernel command
 * line override the config's watchdog-timeout and tries for the initramfs
 * (the bootloader's entry may know the board better than the one initramfs
 * every board shares); each checked as the config's, ignored with a warning
 * when out of range. Tries are fixed when an update is installed: the record
 * keeps the count of a trial under way.
 */
static void config_from_cmdline(struct config *cfg)
{
	static const char *const keys[] = {"watchdog-timeout", "tries"};
	char name[32], v[16];

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		snprintf(name, sizeof(name), "systemota.%s", keys[i]);
		if (cmdline_get(name, v, sizeof(v)) == 0 && config_set(cfg, keys[i], v) < 0)
			log_warn("ignoring %s=%s: %s", name, v, fail_reason());
	}
}

static int cmd_apply(struct cli *c)
{
	struct crypto_keyset *keys = NULL;
	_cleanup_free_ char *data = NULL, *cow = NULL;
	struct devices d;
	uint8_t slot;

	char device[128];
	config_from_cmdline(&c->cfg);
	int r = devices_resolve(&c->cfg, &d);
	if (r < 0)
		return r; /* the hook falls back to slot A by label */
	int kexec = c->data_dir_given ? -1 : kexec_marker();
	/* The keys judge staged bundles and, at every boot, the footer of the slot to boot. */
	if (crypto_keyset_load(c->cfg.keys, &keys) < 0)
		log_error("no trusted keys: no update is looked for, no verity slot boots: %s",
		          fail_reason());
	if (!c->data_dir_given)
		resolve_data(&c->cfg, &data, &cow);
	mkdir("/run/systemota", 0700);
	struct apply_config ac = {
	        .state_path = d.state,
	        .slot_path = {d.slot[0], d.slot[1]},
	        .data_dir = c->data_dir_given && keys ? c->cfg.data_dir : NULL,
	        .dropin = c->cfg.dropin,
	        .keys = keys,
	        .compatible = c->cfg.compatible,
	        .tries = c->cfg.tries,
	        .watchdog = c->cfg.watchdog,
	        .watchdog_timeout = c->cfg.watchdog_timeout,
	        .no_read_back = !c->cfg.read_back,
	        /* Only in the initramfs, where pstore and the watchdog are the device's own. */
	        .probe_last_boot = !c->data_dir_given,
	        .after_kexec = kexec >= 0,
	        .kexec_slot = kexec >= 0 ? (uint8_t)kexec : 0,
	        .data_dev = data,
	        .data_fstype = c->cfg.data_fstype,
	        .data_mount_dir = APPLY_MOUNT_DIR,
	        .checkpointed = c->cfg.cow[0] && data,
	        .cow = cow,
	        /* The initramfs mounts the slot through its dm-verity mapping. */
	        .verity_map = !c->data_dir_given,
	        .device_out = device,
	        .device_out_size = sizeof(device),
	};
	r = apply_run(&ac, &slot);
	log_info("booting slot %c (%s)", state_slot_letter(slot), device);
	/* Whatever went wrong, a slot was chosen: the hook mounts it ("none": it must not). */
	printf("%c %s\n", state_slot_letter(slot), device);
	crypto_keyset_free(keys);
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
	r = devices_read_state(d.state, &st);
	uint8_t slot = r == 0 ? st.active : 0;
	/* No record to read: what the history and the slots still tell, never blindly A. */
	if (r < 0 &&
	    recover_choose(d.state, (const char *const[]){d.slot[0], d.slot[1]}, &slot) == 0)
		log_warn("no slot checks out; slot %c is a guess", state_slot_letter(slot));
	printf("%c %s\n", state_slot_letter(slot), d.slot[slot]);
	devices_free(&d);
	return 0;
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
	if (strcmp(name, "data") == 0 && c->cfg.cow[0]) {
		/* Checkpointed: the data is only ever used through its mapping, never beside it. */
		char node[MOUNT_DEV_SIZE];
		checkpoint_data_node(node, sizeof(node));
		if (access(node, F_OK) < 0)
			return fail(-ENOENT,
			            "the data partition is not mapped (%s is missing): the "
			            "initramfs did not map it, or a rollback of it is owed",
			            node);
		printf("%s\n", node);
		return 0;
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

/*
 * After the hook mounted the slot to boot at root: start the slot's own kernel
 * if it has one, at most once per boot (kexec.h). 0: boot the slot here.
 */
static int cmd_kexec(struct cli *c, const char *root, const char *slot_name)
{
	char id[KEXEC_ID_SIZE];
	struct devices d;
	int slot = strcmp(slot_name, "A") == 0 ? 0 : strcmp(slot_name, "B") == 0 ? 1 : -1;

	if (slot < 0)
		return fail(-EINVAL, "a slot is A or B, not '%s'", slot_name);
	kexec_boot_id(id, sizeof(id));
	config_from_cmdline(&c->cfg);
	bool have = devices_resolve(&c->cfg, &d) == 0;
	struct kexec_request rq = {.state_path = have ? d.state : NULL,
	                           .root = root,
	                           .slot = (uint8_t)slot,
	                           .marker = kexec_marker(),
	                           .own_id = id,
	                           .watchdog = c->cfg.watchdog,
	                           .watchdog_timeout = c->cfg.watchdog_timeout};
	enum kexec_action a = kexec_run(&rq);
	/* Returns only when the kernel could not be started: never silently. */
	if (a == KEXEC_START)
		a = kexec_not_started(&rq, kexec_start(&rq));
	if (have)
		devices_free(&d);
	if (a == KEXEC_FAIL_TRY)
		return kexec_reboot();
	return a == KEXEC_REFUSE ? fail(-ELOOP, "slot %s boots with this kernel", slot_name) : 0;
}

static int need_args(int argc, int n, const char *what)
{
	return argc == n ? 0 : fail(-EINVAL, "usage: systemota %s", what);
}

int cmd_dispatch(struct cli *c, int argc, char **argv)
{
	const char *cmd = argc > 0 ? argv[0] : "";
	int r = verbs_dispatch(c, argc, argv);

	if (r != -ENOSYS)
		return r;

	if (strcmp(cmd, "apply") == 0)
		return (r = need_args(argc, 1, "apply")) < 0 ? r : cmd_apply(c);
	if (strcmp(cmd, "kexec") == 0)
		return (r = need_args(argc, 3, "kexec ROOT SLOT")) < 0
		               ? r
		               : cmd_kexec(c, argv[1], argv[2]);
	if (strcmp(cmd, "boot-slot") == 0)
		return (r = need_args(argc, 1, "boot-slot")) < 0 ? r : cmd_boot_slot(c);
	if (strcmp(cmd, "device") == 0)
		return (r = need_args(argc, 2, "device NAME")) < 0 ? r : cmd_device(c, argv[1]);
	if (strcmp(cmd, "bundle") == 0)
		return tool_bundle(c, argc - 1, argv + 1);
	if (strcmp(cmd, "keyring") == 0)
		return tool_keyring(c, argc - 1, argv + 1);
	if (strcmp(cmd, "key") == 0)
		return tool_key(c, argc - 1, argv + 1);
	if (strcmp(cmd, "state") == 0)
		return tool_state(c, argc - 1, argv + 1);
	return fail(-EINVAL, "unknown command '%s'; see systemota --help", cmd);
}
