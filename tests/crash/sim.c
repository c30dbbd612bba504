/* SPDX-License-Identifier: MIT */
#include "sim.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "boot.h"
#include "io.h"
#include "kexec.h"
#include "state.h"
#include "test.h"

bool sim_violation(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (s->violation[0])
		return false;
	va_start(ap, fmt);
	vsnprintf(s->violation, sizeof(s->violation), fmt, ap);
	va_end(ap);
	return false;
}

/* root/boot/systemota-boot-id, saying id. */
static int write_boot_id(const char *root, const char *id)
{
	char path[HELPERS_PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/boot", root);
	if (mkdir(root, 0755) < 0 || mkdir(path, 0755) < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/boot/systemota-boot-id", root);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	int r = fprintf(f, "%s\n", id) < 0 ? -EIO : 0;
	if (fclose(f) != 0)
		r = -EIO;
	return r;
}

int sim_setup(struct sim *s, enum sim_scenario scenario)
{
	char img[HELPERS_PATH_MAX];
	int r;

	memset(s, 0, sizeof(*s));
	s->scenario = scenario;
	r = helpers_device(&s->dev);
	if (r == 0)
		r = helpers_update("v2", s->dev.key.priv, 2);
	if (r == 0 && scenario == SIM_CORRUPT) {
		/* A byte in the last chunk: the install starts, then stops at that chunk. */
		struct bundle b;
		r = bundle_open(test_path("v2.sota"), &b);
		uint64_t off = r == 0 ? b.file_size - 100 : 0;
		if (r == 0)
			bundle_close(&b);
		if (r == 0)
			r = helpers_flip_byte(test_path("v2.sota"), off);
	}
	if (r == 0)
		r = helpers_drop(&s->dev, "v2");
	snprintf(img, sizeof(img), "%s", test_path("v2.img"));
	s->v2_size = HELPERS_IMAGE_SIZE;
	if (r == 0)
		r = helpers_sha256_file(img, s->v2_size, s->v2_digest);
	if (r == 0)
		r = helpers_slot_digest(&s->dev, 0, s->a_digest);
	/* Slot B as the mount hook sees it: a boot id that is not its initramfs's (v2-kernel). */
	snprintf(s->root_b, sizeof(s->root_b), "%s", test_path("root-b"));
	if (r == 0 && scenario == SIM_KEXEC_LOOP)
		r = write_boot_id(s->root_b, "v2-loop-kernel");
	return r;
}

int sim_restore_dropin(struct sim *s)
{
	char path[HELPERS_PATH_MAX];

	snprintf(path, sizeof(path), "%s/update.sota", s->dev.dropin);
	return helpers_exists(path) ? 0 : helpers_drop(&s->dev, "v2");
}

void sim_free(struct sim *s)
{
	helpers_device_free(&s->dev);
}

/* Which image the booted slot holds: 1 (old), 2 (new), or 0 (neither). */
static int slot_version(struct sim *s, uint8_t slot)
{
	uint8_t digest[CRYPTO_DIGEST_SIZE];

	if (slot == 0 && helpers_slot_digest(&s->dev, 0, digest) == 0 &&
	    memcmp(digest, s->a_digest, sizeof(digest)) == 0)
		return 1;
	if (slot == 1 && helpers_sha256_file(s->dev.slot[1], s->v2_size, digest) == 0 &&
	    memcmp(digest, s->v2_digest, sizeof(digest)) == 0)
		return 2;
	return 0;
}

/* What the booted system does: version 2 confirms itself in SIM_CONFIRMS, with the real mark-good.
 */
static bool system_runs(struct sim *s, int version, uint8_t slot)
{
	if (version != 2 || s->scenario != SIM_CONFIRMS)
		return true;
	if (s->hooks)
		io_set_hooks(s->hooks);
	int r = helpers_mark_good(&s->dev, slot);
	if (s->hooks)
		io_set_hooks(NULL);
	/*
	 * A failed mark-good (an injected fault) is what a real system sees too: it
	 * stays on trial, and the invariants decide whether that is handled.
	 */
	(void)r;
	return true;
}

/*
 * SIM_KEXEC_LOOP, slot B chosen: the mount hook starts B's kernel, whose
 * initramfs boots B without deciding and is asked again; the second kexec is
 * refused and recorded, and the device reboots. False on a second kexec.
 */
static bool kexec_loop(struct sim *s)
{
	struct kexec_request rq = {
	        .state_path = s->dev.state, .root = s->root_b, .slot = 1, .marker = -ENOENT};
	uint8_t slot;

	rq.own_id = "factory";
	if (kexec_run(&rq) != KEXEC_START)
		return true; /* the record could not be read: B boots with this kernel */
	s->dev.cfg.after_kexec = true;
	s->dev.cfg.kexec_slot = 1;
	apply_run(&s->dev.cfg, &slot);
	s->dev.cfg.after_kexec = false;
	rq.marker = 1;
	rq.own_id = "v2-kernel";
	return slot != 1 || kexec_run(&rq) != KEXEC_START;
}

int sim_boot(struct sim *s)
{
	struct state_record st;
	uint8_t slot = 9;

	s->boots++;
	if (s->before_boot)
		s->before_boot(s);
	if (s->hooks)
		io_set_hooks(s->hooks);
	s->last_apply = apply_run(&s->dev.cfg, &slot);
	bool looped = s->scenario == SIM_KEXEC_LOOP && slot == 1 && !kexec_loop(s);
	if (s->hooks)
		io_set_hooks(NULL);
	if (looped)
		return sim_violation(s, "boot %d: a second kexec in one boot", s->boots);
	if (helpers_read_state(s->dev.state, &st) < 0)
		return sim_violation(s, "boot %d: the state record does not read back", s->boots);
	if (slot > 1)
		return sim_violation(s, "boot %d: no slot chosen", s->boots);
	int version = slot_version(s, slot);
	if (!version)
		return sim_violation(s, "boot %d: slot %c booted with neither image's bytes",
		                     s->boots, state_slot_letter(slot));
	if (st.state == STATE_TRYING && slot_version(s, st.target) != 2)
		return sim_violation(s,
		                     "boot %d: TRYING slot %c, which does not hold the new image",
		                     s->boots, state_slot_letter(st.target));
	bool trial = st.state == STATE_TRYING && st.target == slot;
	if (s->after_apply)
		s->after_apply(s, trial);
	if (trial && ++s->unconfirmed_boots > HELPERS_TRIES)
		return sim_violation(s, "boot %d: unconfirmed slot booted %d times (tries %d)",
		                     s->boots, s->unconfirmed_boots, HELPERS_TRIES);
	if (!system_runs(s, version, slot))
		return 0;
	return version;
}

static bool check_end(struct sim *s, int last_version)
{
	struct state_record st;

	if (helpers_read_state(s->dev.state, &st) < 0)
		return sim_violation(s, "the final record does not read back");
	if (st.state != STATE_IDLE)
		return sim_violation(s, "ended in state %s", state_kind_name(st.state));
	switch (s->scenario) {
	case SIM_CONFIRMS:
		if (last_version != 2 || st.active != 1 || st.slot[1].status != SLOT_GOOD)
			return sim_violation(s,
			                     "did not end on version 2 confirmed in slot B "
			                     "(last booted %d, active %c, B %s)",
			                     last_version, state_slot_letter(st.active),
			                     state_slot_status_name(st.slot[1].status));
		break;
	case SIM_NEVER_CONFIRMS:
	case SIM_KEXEC_LOOP:
		if (last_version != 1 || st.active != 0 || st.slot[1].status != SLOT_BAD)
			return sim_violation(s, "did not end rolled back to slot A with B bad");
		break;
	case SIM_CORRUPT:
		if (last_version != 1 || st.active != 0 || !st.last_error)
			return sim_violation(s, "a corrupt bundle did not end refused on slot A");
		break;
	}
	return true;
}

bool sim_run_to_end(struct sim *s, int max_boots)
{
	struct state_record st;
	int version = 0, idle = 0;

	for (int i = 0; i < max_boots && idle < 2; i++) {
		version = sim_boot(s);
		if (!version)
			return false;
		if (helpers_read_state(s->dev.state, &st) < 0)
			return sim_violation(s, "the record does not read back after boot %d",
			                     s->boots);
		idle = st.state == STATE_IDLE ? idle + 1 : 0;
	}
	return check_end(s, version);
}
