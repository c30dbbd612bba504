/* SPDX-License-Identifier: MIT */
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"
#include "checkpoint.h"
#include "create.h"
#include "dm.h"
#include "dmemu.h"
#include "footer.h"
#include "history.h"
#include "install.h"
#include "io.h"
#include "kexec.h"
#include "keyring.h"
#include "record.h"
#include "running.h"
#include "state.h"
#include "test.h"
#include "testpoint.h"

/* SIM_CP_*: what the hook migrates, what the trial writes (chunks of the data file). */
#define HOOK_FIRST 2
#define HOOK_CHUNKS 2
#define TRIAL_FIRST 6
#define TRIAL_CHUNKS 3
#define OVERFLOW_CHUNKS 6 /* with the hook's 2: more than the COW's 6 exceptions */
#define DATA_SIZE ((size_t)SIM_DATA_CHUNKS * DMEMU_CHUNK)

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

static int put_tree_block(void *ctx, uint64_t index, unsigned level, const uint8_t *block)
{
	(void)level;
	memcpy(*(uint8_t **)ctx + index * VERITY_BLOCK_SIZE, block, VERITY_BLOCK_SIZE);
	return 0;
}

static bool is_cp(enum sim_scenario scenario)
{
	return scenario >= SIM_CP_CONFIRMS;
}

static bool overflows(enum sim_scenario scenario)
{
	return scenario == SIM_CP_OVERFLOW || scenario == SIM_CP_OVERFLOW_CONFIRMS;
}

static bool confirms(enum sim_scenario scenario)
{
	return scenario == SIM_CONFIRMS || scenario == SIM_CP_CONFIRMS ||
	       scenario == SIM_CP_OVERFLOW_CONFIRMS || scenario == SIM_KEYRING_CONFIRMS ||
	       scenario == SIM_VERITY_CONFIRMS;
}

/* SIM_VERITY_*: version 2 as a verity bundle; the digest of its tree as verity.c makes it. */
static int setup_verity(struct sim *s)
{
	static struct verity_tree t;
	struct create_options o;
	struct verity_geometry g;
	struct bundle b;
	uint8_t *img = NULL, *tree = NULL, root[CRYPTO_DIGEST_SIZE];
	size_t len;

	helpers_bundle_options(&o, test_path("v2.img"), test_path("v2.sota"), s->dev.key.priv, 2);
	o.verity = true;
	int r = create_bundle(&o);
	if (r == 0)
		r = bundle_open(test_path("v2.sota"), &b);
	if (r < 0)
		return r;
	memcpy(s->v2_txn, b.txn, sizeof(s->v2_txn));
	r = helpers_read_file(test_path("v2.img"), &img, &len);
	if (r == 0)
		r = verity_geometry(len / VERITY_BLOCK_SIZE, &g);
	if (r == 0 && !(tree = calloc(g.hash_blocks, VERITY_BLOCK_SIZE)))
		r = -ENOMEM;
	if (r == 0) {
		verity_begin(&t, &g, b.manifest.verity.salt, put_tree_block, &tree);
		r = verity_feed(&t, img, len);
	}
	if (r == 0)
		r = verity_finish(&t, root);
	if (r == 0) {
		s->tree_size = g.hash_blocks * VERITY_BLOCK_SIZE;
		crypto_sha256(tree, s->tree_size, s->tree_digest);
	}
	bundle_close(&b);
	free(tree);
	free(img);
	return r;
}

/* Slot i holds version 2's tree after its image and version 2's head in its footer. */
static bool verity_slot_ok(struct sim *s, int i)
{
	uint8_t *slot = NULL, digest[CRYPTO_DIGEST_SIZE];
	size_t len;
	struct bundle b;
	bool ok = false;

	if (helpers_read_file(s->dev.slot[i], &slot, &len) < 0 || len < s->v2_size + s->tree_size)
		goto out;
	crypto_sha256(slot + s->v2_size, s->tree_size, digest);
	if (memcmp(digest, s->tree_digest, sizeof(digest)) != 0)
		goto out;
	int fd = open(s->dev.slot[i], O_RDONLY);
	if (fd >= 0 && footer_read(fd, len, &b) == 0) {
		ok = memcmp(b.txn, s->v2_txn, sizeof(b.txn)) == 0;
		bundle_close(&b);
	}
	if (fd >= 0)
		close(fd);
out:
	free(slot);
	return ok;
}

static bool is_damaged(enum sim_scenario scenario)
{
	return scenario == SIM_VERITY_TRIAL_DAMAGED || scenario == SIM_VERITY_ACTIVE_DAMAGED;
}

/*
 * SIM_VERITY_*_DAMAGED: version 2 (a verity bundle, staged by setup_verity)
 * installed in B and booted on trial, confirmed too when active; slot A, for
 * the active case, a verity version 1 first. Then a byte of B's data block 2
 * changes. Nothing of this is recorded: the run starts from there.
 */
static int setup_damaged(struct sim *s)
{
	struct create_options o;
	struct bundle b;
	struct state_record st;
	uint8_t slot;
	int r = 0;

	if (s->scenario == SIM_VERITY_ACTIVE_DAMAGED) {
		r = helpers_image(test_path("v1.img"), HELPERS_IMAGE_SIZE, 1);
		helpers_bundle_options(&o, test_path("v1.img"), test_path("v1.sota"),
		                       s->dev.key.priv, 1);
		o.verity = true;
		if (r == 0)
			r = create_bundle(&o);
		if (r == 0)
			r = bundle_open(test_path("v1.sota"), &b);
		if (r == 0) {
			r = bundle_verify(&b, s->dev.keys, NULL);
			if (r == 0)
				r = install_image(&b, s->dev.slot[0], true);
			bundle_close(&b);
		}
		if (r == 0)
			r = helpers_read_state(s->dev.state, &st);
		if (r == 0) {
			st.slot[0].verity = 1;
			r = helpers_write_state(s->dev.state, &st);
		}
		if (r == 0)
			r = helpers_slot_digest(&s->dev, 0, s->a_digest);
	}
	if (r == 0)
		r = apply_run(&s->dev.cfg, &slot);
	if (r == 0 && slot != 1)
		r = -EINVAL;
	if (r == 0 && s->scenario == SIM_VERITY_ACTIVE_DAMAGED)
		r = helpers_mark_good(&s->dev, 1);
	if (r == 0)
		r = helpers_flip_byte(s->dev.slot[1], 2 * VERITY_BLOCK_SIZE + 100);
	s->damaged = true;
	return r;
}

static bool has_keyrings(enum sim_scenario scenario)
{
	return scenario == SIM_KEYRING_CONFIRMS || scenario == SIM_KEYRING_NEVER_CONFIRMS;
}

/* Keyring v: root the device's key, signing "sign" (and "old" in 1; 2 revokes it). */
static int make_keyring(struct sim *s, uint64_t v, const struct helpers_key *sign,
                        const struct helpers_key *old, struct keyring *k)
{
	uint8_t id[CRYPTO_KEY_ID_SIZE], pt[CRYPTO_POINT_SIZE];
	int r;

	memset(k, 0, sizeof(*k));
	k->version = v;
	k->n_keys = v == 1 ? 3 : 2;
	k->keys[0].role = KEYRING_ROOT;
	k->keys[1].role = k->keys[2].role = KEYRING_SIGNING;
	r = crypto_point_of_file(s->dev.key.pub, k->keys[0].point, id);
	if (r == 0)
		r = crypto_point_of_file(sign->pub, k->keys[1].point, id);
	if (r == 0)
		r = crypto_point_of_file(old->pub, pt, id);
	if (r == 0 && v == 1)
		memcpy(k->keys[2].point, pt, CRYPTO_POINT_SIZE);
	if (r == 0 && v == 2) {
		memcpy(k->revoked[0], id, CRYPTO_KEY_ID_SIZE);
		k->n_revoked = 1;
	}
	if (r == 0)
		r = keyring_sign(k, s->dev.key.priv);
	if (r == 0)
		memcpy(s->keyring_digest[v - 1], k->digest, CRYPTO_DIGEST_SIZE);
	return r;
}

/* Keyring 1 adopted at the factory; tmpdir/v2.sota re-made under the chain 1, 2. */
static int setup_keyrings(struct sim *s)
{
	static struct keyring k[2];
	struct helpers_key sign, old;
	struct create_options o;
	struct state_record st;
	int r = helpers_keypair("sign", &sign);

	if (r == 0)
		r = helpers_keypair("old", &old);
	for (int i = 0; r == 0 && i < 2; i++)
		r = make_keyring(s, (uint64_t)i + 1, &sign, &old, &k[i]);
	FILE *f = r == 0 ? fopen(test_path("chain"), "w") : NULL;
	if (r == 0 && (!f || fwrite(k[0].raw, k[0].size, 1, f) != 1 ||
	               fwrite(k[1].raw, k[1].size, 1, f) != 1))
		r = -EIO;
	if (f && fclose(f) != 0)
		r = -EIO;
	if (r == 0)
		r = helpers_read_state(s->dev.state, &st);
	if (r == 0) {
		st.keyring_len = k[0].size;
		memcpy(st.keyring, k[0].raw, k[0].size);
		r = helpers_write_state(s->dev.state, &st);
	}
	helpers_bundle_options(&o, test_path("v2.img"), test_path("v2.sota"), sign.priv, 2);
	o.keyring = test_path("chain");
	return r == 0 ? create_bundle(&o) : r;
}

/* SIM_KEYRING_*: keyring 1 or 2, never none; 2 exactly when version 2 is confirmed. */
static bool check_keyring(struct sim *s, const struct state_record *st)
{
	const struct keyring *a = NULL, *p = NULL;
	struct keyring abuf, pbuf;

	if (keyring_adopted(st, &abuf, &a) < 0 || keyring_pending(st, &pbuf, &p) < 0)
		return sim_violation(s, "boot %d: a stored keyring does not parse", s->boots);
	if (!a)
		return sim_violation(s, "boot %d: no keyring adopted", s->boots);
	int v = memcmp(a->digest, s->keyring_digest[0], CRYPTO_DIGEST_SIZE) == 0   ? 1
	        : memcmp(a->digest, s->keyring_digest[1], CRYPTO_DIGEST_SIZE) == 0 ? 2
	                                                                           : 0;
	if (!v)
		return sim_violation(s, "boot %d: an unknown keyring is adopted", s->boots);
	bool confirmed = st->active == 1 && st->slot[1].status == SLOT_GOOD;
	if ((v == 2) != confirmed)
		return sim_violation(s, "boot %d: keyring %d adopted, version 2 %sconfirmed",
		                     s->boots, v, confirmed ? "" : "not ");
	if (p && memcmp(p->digest, s->keyring_digest[1], CRYPTO_DIGEST_SIZE) != 0)
		return sim_violation(s, "boot %d: the pending keyring is not keyring 2", s->boots);
	return true;
}

static int trial_chunks(const struct sim *s)
{
	return overflows(s->scenario) ? OVERFLOW_CHUNKS : TRIAL_CHUNKS;
}

/* The migration: each byte from the old one, so that a second run on the same data shows. */
static uint8_t migrate(uint8_t b)
{
	return b ^ 0xa5;
}

static void trial_pattern(uint8_t *chunk, int index)
{
	for (size_t i = 0; i < DMEMU_CHUNK; i++)
		chunk[i] = (uint8_t)(index * 7 + i * 13 + 'T');
}

static void hooks_on(struct sim *s)
{
	if (!s->checkpointed) {
		if (s->hooks)
			io_set_hooks(s->hooks);
		return;
	}
	/* The test's hooks (faults) or the recorder's, with the emulator as the kernel. */
	const struct io_hooks *inner = s->hooks ? s->hooks : record_io_hooks();
	s->io = inner ? *inner : (struct io_hooks){0};
	s->io.dm_ioctl = dmemu_ioctl;
	io_set_hooks(&s->io);
}

static void hooks_off(struct sim *s)
{
	if (!s->checkpointed) {
		if (s->hooks)
			io_set_hooks(NULL);
		return;
	}
	io_set_hooks(record_io_hooks());
}

/* The post-install hook, at "hooks-done": migrates its region through the mapping. */
static void hook_runs(struct sim *s)
{
	uint8_t chunk[DMEMU_CHUNK];
	const char *type = dmemu_data_type();

	if (!type || strcmp(type, "snapshot-origin") != 0 || !dmemu_checkpoint_valid()) {
		sim_violation(s,
		              "boot %d: the post-install hook ran on data not behind a valid "
		              "checkpoint (systemota-data: %s)",
		              s->boots, type ? type : "not mapped");
		return;
	}
	for (int c = HOOK_FIRST; c < HOOK_FIRST + HOOK_CHUNKS; c++) {
		uint64_t off = (uint64_t)c * DMEMU_CHUNK;
		if (dmemu_read(off, chunk, sizeof(chunk)) < 0)
			abort();
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = migrate(chunk[i]);
		if (dmemu_write(off, chunk, sizeof(chunk)) < 0) {
			/* A testpoint cannot fail the install: the checks know it went on. */
			s->hook_failed = true;
			return;
		}
	}
}

static bool data_is(const uint8_t *want, size_t from, size_t len)
{
	uint8_t *got = malloc(len);

	if (!got)
		abort();
	bool same = dmemu_read(from, got, len) == 0 && memcmp(got, want + from, len) == 0;
	free(got);
	return same;
}

static void on_testpoint(const char *name, void *userdata)
{
	struct sim *s = userdata;

	if (strcmp(name, "hooks-done") == 0)
		hook_runs(s);
	else if (strcmp(name, "data-rolled-back") == 0 && !data_is(s->data_v1, 0, DATA_SIZE))
		sim_violation(s, "boot %d: the data rolled back is not the data before the update",
		              s->boots);
}

/* Does the record, or its history, say the data was NOT rolled back? */
static bool not_rolled_back_said(const struct sim *s)
{
	struct state_record st;
	struct history_entry e[64];
	struct state_dev dev;
	size_t n = 0;

	/* "... cannot be rolled back" when a trial's loss is recorded, "NOT rolled back" after. */
	if (helpers_read_state(s->dev.state, &st) == 0 &&
	    (strstr(st.last_reason, "NOT rolled back") ||
	     strstr(st.last_reason, "cannot be rolled back")))
		return true;
	if (state_open(s->dev.state, false, &dev) < 0)
		return false;
	int r = history_read(&dev, e, ARRAY_SIZE(e), &n);
	state_close(&dev);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (strstr(e[i].reason, "NOT rolled back") ||
		    strstr(e[i].reason, "cannot be rolled back"))
			return true;
	return false;
}

static int setup_data(struct sim *s)
{
	size_t len;
	int r;

	s->checkpointed = true;
	snprintf(s->data_img, sizeof(s->data_img), "%s", test_path("data.img"));
	snprintf(s->cow_img, sizeof(s->cow_img), "%s", test_path("cow.img"));
	r = helpers_image(s->data_img, DATA_SIZE, 0xd);
	/* A partition that never held a store: anything but a header. */
	if (r == 0)
		r = helpers_image(s->cow_img, (uint64_t)SIM_COW_CHUNKS * DMEMU_CHUNK, 0xc);
	if (r == 0)
		r = helpers_read_file(s->data_img, &s->data_v1, &len);
	if (r == 0 && len != DATA_SIZE)
		r = -EIO;
	if (r == 0 && !(s->data_v2 = malloc(DATA_SIZE)))
		r = -ENOMEM;
	if (r < 0)
		return r;
	memcpy(s->data_v2, s->data_v1, DATA_SIZE);
	for (size_t i = HOOK_FIRST * DMEMU_CHUNK; i < (HOOK_FIRST + HOOK_CHUNKS) * DMEMU_CHUNK; i++)
		s->data_v2[i] = migrate(s->data_v2[i]);
	for (int c = TRIAL_FIRST; c < TRIAL_FIRST + trial_chunks(s); c++)
		trial_pattern(s->data_v2 + (size_t)c * DMEMU_CHUNK, c);
	FILE *f = fopen(test_path("control"), "we"); /* dm.c opens it; the emulator answers */
	if (!f || fclose(f) != 0)
		return -EIO;
	dm_set_dir(test_tmpdir());
	dmemu_init(s->data_img, s->cow_img);
	testpoint_set_handler(on_testpoint, s);
	s->dev.cfg.checkpointed = true;
	s->dev.cfg.data_dev = s->data_img;
	s->dev.cfg.cow = s->cow_img;
	return 0;
}

void sim_record_paths(const struct sim *s, const char *paths[])
{
	paths[0] = s->dev.state;
	paths[1] = s->dev.slot[0];
	paths[2] = s->dev.slot[1];
	paths[3] = s->checkpointed ? s->data_img : NULL;
	paths[4] = s->checkpointed ? s->cow_img : NULL;
}

/*
 * SIM_CP_*: the device's files on tmpfs when there is one (the test's tmpdir
 * becomes a link to it). Durability is the recorder's model, not the host
 * file system's: a real fsync only costs time, some 40 ms a crash state on
 * an ext4 tmpdir, and these scenarios boot through thousands of states.
 */
static void use_tmpfs(struct sim *s)
{
	char dir[] = "/dev/shm/systemota-sim-XXXXXX";
	char link[HELPERS_PATH_MAX];

	if (access("/dev/shm", W_OK) < 0 || !mkdtemp(dir))
		return;
	snprintf(link, sizeof(link), "%s/shm", test_tmpdir());
	if (symlink(dir, link) < 0 || test_subdir("shm") < 0) {
		rmdir(dir);
		return;
	}
	snprintf(s->shm, sizeof(s->shm), "%s", dir);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

int sim_setup(struct sim *s, enum sim_scenario scenario)
{
	char img[HELPERS_PATH_MAX];
	int r;

	memset(s, 0, sizeof(*s));
	s->scenario = scenario;
	if (is_cp(scenario))
		use_tmpfs(s);
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
	if (r == 0 && is_cp(scenario))
		r = setup_data(s);
	if (r == 0 && has_keyrings(scenario))
		r = setup_keyrings(s) ?: helpers_drop(&s->dev, "v2");
	if (r == 0 && (scenario == SIM_VERITY_CONFIRMS || is_damaged(scenario)))
		r = setup_verity(s) ?: helpers_drop(&s->dev, "v2");
	if (r == 0 && is_damaged(scenario))
		r = setup_damaged(s);
	return r;
}

int sim_restore_dropin(struct sim *s)
{
	char path[HELPERS_PATH_MAX];

	snprintf(path, sizeof(path), "%s/update.sota", s->dev.dropin);
	/* The damaged scenarios start after mark-good took it away. */
	if (s->scenario == SIM_VERITY_ACTIVE_DAMAGED)
		return 0;
	return helpers_exists(path) ? 0 : helpers_drop(&s->dev, "v2");
}

void sim_free(struct sim *s)
{
	if (s->checkpointed) {
		testpoint_set_handler(NULL, NULL);
		dm_set_dir(NULL);
		dmemu_reset();
	}
	free(s->data_v1);
	free(s->data_v2);
	helpers_device_free(&s->dev);
	if (s->shm[0])
		nftw(s->shm, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
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

/* What the booted system does: version 2 confirms itself where the scenario confirms (real
 * mark-good).
 */
static bool system_runs(struct sim *s, int version, uint8_t slot, bool trial)
{
	if (version != 2 || (!confirms(s->scenario) && !s->checkpointed))
		return true;
	struct running_config rc;
	helpers_running(&s->dev, slot, &rc);
	rc.cow = s->checkpointed ? s->cow_img : NULL;
	hooks_on(s);
	/* On trial, with its data: it writes; a write that fails fails its health check. */
	bool healthy = !s->checkpointed || !trial;
	if (s->checkpointed && trial && dmemu_data_type()) {
		healthy = true;
		for (int c = TRIAL_FIRST; healthy && c < TRIAL_FIRST + trial_chunks(s); c++) {
			uint64_t off = (uint64_t)c * DMEMU_CHUNK;
			healthy = dmemu_write(off, s->data_v2 + off, DMEMU_CHUNK) == 0;
		}
		s->trial_failed |= !healthy;
	}
	/* The confirm hook runs at every boot of version 2 (mark-good is idempotent). */
	int r = 0;
	if (confirms(s->scenario) && healthy)
		r = running_mark_good(&rc);
	else if (s->scenario == SIM_CP_MARK_BAD && trial)
		r = running_mark_bad(&rc, "health check failed");
	hooks_off(s);
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

/* The first differing chunk of what systemota-data shows against want, or -1. */
static int differs(const uint8_t *want)
{
	for (int c = 0; c < SIM_DATA_CHUNKS; c++)
		if (!data_is(want, (size_t)c * DMEMU_CHUNK, DMEMU_CHUNK))
			return c;
	return -1;
}

/* SIM_CP_*: the data as the booted system sees it. */
static bool check_data(struct sim *s, int version, bool trial, const struct state_record *st)
{
	const char *type = dmemu_data_type();
	int c;

	if (!type)
		return true; /* the system runs without its data this boot (a fault): nothing seen
		              */
	if (version == 1) {
		/*
		 * A snapshot-merge left by a failed merge shows the rolled-back data
		 * (the kernel's merged view) and is resumed by the next boot: the
		 * bytes below decide. The origin of a trial never.
		 */
		if (strcmp(type, "linear") != 0 && strcmp(type, "snapshot-merge") != 0)
			return sim_violation(s, "boot %d: version 1 booted on systemota-data as %s",
			                     s->boots, type);
		if ((c = differs(s->data_v1)) >= 0 && !not_rolled_back_said(s))
			return sim_violation(
			        s,
			        "boot %d: version 1 sees data that is not the data "
			        "before the update (chunk %d differs, data_cp %s), and "
			        "nothing says it was not rolled back",
			        s->boots, c, state_data_cp_name(st->data_cp));
		return true;
	}
	/*
	 * The origin, not necessarily a valid checkpoint: the kernel may have
	 * invalidated it since this boot's start (the hook's writes overflowed
	 * it, a COW write failed); the next boot records it as lost.
	 */
	if (trial && st->data_cp == DATA_CP_ACTIVE && strcmp(type, "snapshot-origin") != 0)
		return sim_violation(
		        s,
		        "boot %d: version 2 on trial on systemota-data as %s, the record "
		        "saying ACTIVE",
		        s->boots, type);
	if (!s->hook_failed &&
	    !data_is(s->data_v2, HOOK_FIRST * DMEMU_CHUNK, HOOK_CHUNKS * DMEMU_CHUNK))
		return sim_violation(s,
		                     "boot %d: version 2 sees data the hook did not migrate "
		                     "(or migrated twice)",
		                     s->boots);
	return true;
}

int sim_boot(struct sim *s)
{
	struct state_record st;
	uint8_t slot = 9;

	if (s->boots == 0)
		s->hook_failed = s->trial_failed = false; /* a new run */
	s->boots++;
	if (s->checkpointed)
		dmemu_reset(); /* a reboot: the kernel's tables are gone */
	if (s->before_boot)
		s->before_boot(s);
	hooks_on(s);
	s->dev.cfg.device_out = s->device;
	s->dev.cfg.device_out_size = sizeof(s->device);
	s->last_apply = apply_run(&s->dev.cfg, &slot);
	s->dev.cfg.device_out = NULL;
	bool looped = s->scenario == SIM_KEXEC_LOOP && slot == 1 && !kexec_loop(s);
	hooks_off(s);
	if (s->violation[0])
		return 0; /* seen while the applier ran (the hook, the merge) */
	if (looped)
		return sim_violation(s, "boot %d: a second kexec in one boot", s->boots);
	if (helpers_read_state(s->dev.state, &st) < 0)
		return sim_violation(s, "boot %d: the state record does not read back", s->boots);
	if (slot > 1)
		return sim_violation(s, "boot %d: no slot chosen", s->boots);
	if (s->damaged && strcmp(s->device, "none") == 0)
		return SIM_NOTHING_BOOTED;
	if (s->damaged && slot == 1)
		return sim_violation(s, "boot %d: the damaged slot B booted", s->boots);
	int version = slot_version(s, slot);
	if (!version)
		return sim_violation(s, "boot %d: slot %c booted with neither image's bytes",
		                     s->boots, state_slot_letter(slot));
	/* Damaged after its install, B can only be tried again (and be found damaged). */
	if (st.state == STATE_TRYING && !s->damaged && slot_version(s, st.target) != 2)
		return sim_violation(s,
		                     "boot %d: TRYING slot %c, which does not hold the new image",
		                     s->boots, state_slot_letter(st.target));
	if (has_keyrings(s->scenario) && !check_keyring(s, &st))
		return 0;
	if (s->scenario == SIM_VERITY_CONFIRMS && st.state == STATE_TRYING &&
	    !verity_slot_ok(s, st.target))
		return sim_violation(s,
		                     "boot %d: TRYING slot %c without version 2's tree and footer",
		                     s->boots, state_slot_letter(st.target));
	if (s->scenario == SIM_VERITY_CONFIRMS && version == 2 && !verity_slot_ok(s, slot))
		return sim_violation(s,
		                     "boot %d: version 2 runs from slot %c without its tree "
		                     "and footer",
		                     s->boots, state_slot_letter(slot));
	bool trial = st.state == STATE_TRYING && st.target == slot;
	if (s->after_apply)
		s->after_apply(s, trial);
	if (trial && ++s->unconfirmed_boots > HELPERS_TRIES)
		return sim_violation(s, "boot %d: unconfirmed slot booted %d times (tries %d)",
		                     s->boots, s->unconfirmed_boots, HELPERS_TRIES);
	if (s->checkpointed && !check_data(s, version, trial, &st))
		return 0;
	if (!system_runs(s, version, slot, trial))
		return 0;
	return version;
}

/* SIM_CP_*: where the data ends. */
static bool check_end_data(struct sim *s, const struct state_record *st)
{
	struct checkpoint_header h = {0};
	const char *type = dmemu_data_type();
	int c;

	if (st->data_cp != DATA_CP_NONE)
		return sim_violation(s, "ended with data_cp %s", state_data_cp_name(st->data_cp));
	if (!type || strcmp(type, "linear") != 0)
		return sim_violation(s, "ended with systemota-data %s", type ? type : "not mapped");
	/* A checkpoint given up as lost is not reset (nothing reads it): any header then. */
	bool given_up = s->scenario == SIM_CP_OVERFLOW || not_rolled_back_said(s);
	int r = given_up ? 0 : checkpoint_cow_header(s->cow_img, &h);
	if (r < 0 || h.present)
		return sim_violation(s, "ended with a COW header %s",
		                     r < 0     ? "that does not parse"
		                     : h.valid ? "valid"
		                               : "invalid");
	if (confirms(s->scenario)) {
		/* A hook write that failed (a fault the install went on past): around it. */
		for (c = 0; c < SIM_DATA_CHUNKS; c++)
			if ((!s->hook_failed || c < HOOK_FIRST || c >= HOOK_FIRST + HOOK_CHUNKS) &&
			    !data_is(s->data_v2, (size_t)c * DMEMU_CHUNK, DMEMU_CHUNK))
				return sim_violation(
				        s,
				        "version 2 confirmed, but chunk %d of the data "
				        "is not the trial's",
				        c);
		return true;
	}
	/* A checkpoint lost (overflow, a COW write that failed) may leave it: never unsaid. */
	if ((c = differs(s->data_v1)) >= 0 && !not_rolled_back_said(s))
		return sim_violation(s,
		                     "ended rolled back, but chunk %d of the data is not the "
		                     "data before the update, and nothing says so",
		                     c);
	return true;
}

/* The history holds a "damaged" entry for slot B. */
static bool damaged_said(struct sim *s)
{
	static struct history_entry e[HISTORY_ENTRIES];
	struct state_dev dev;
	size_t n = 0;
	bool said = false;

	if (state_open(s->dev.state, false, &dev) < 0)
		return false;
	if (history_read(&dev, e, HISTORY_ENTRIES, &n) == 0)
		for (size_t i = 0; i < n; i++)
			said |= e[i].kind == HISTORY_DAMAGED && e[i].slot == 1;
	state_close(&dev);
	return said;
}

static bool check_end(struct sim *s, int last_version)
{
	struct state_record st;

	if (helpers_read_state(s->dev.state, &st) < 0)
		return sim_violation(s, "the final record does not read back");
	if (st.state != STATE_IDLE)
		return sim_violation(s, "ended in state %s", state_kind_name(st.state));
	if (s->checkpointed && !check_end_data(s, &st))
		return false;
	if (has_keyrings(s->scenario) && !check_keyring(s, &st))
		return false;
	switch (s->scenario) {
	case SIM_KEYRING_CONFIRMS:
	case SIM_VERITY_CONFIRMS:
	case SIM_CP_CONFIRMS:
	case SIM_CP_OVERFLOW_CONFIRMS:
	case SIM_CONFIRMS:
		if (last_version != 2 || st.active != 1 || st.slot[1].status != SLOT_GOOD)
			return sim_violation(s,
			                     "did not end on version 2 confirmed in slot B "
			                     "(last booted %d, active %c, B %s)",
			                     last_version, state_slot_letter(st.active),
			                     state_slot_status_name(st.slot[1].status));
		break;
	case SIM_NEVER_CONFIRMS:
	case SIM_KEYRING_NEVER_CONFIRMS:
	case SIM_KEXEC_LOOP:
	case SIM_CP_NEVER_CONFIRMS:
	case SIM_CP_MARK_BAD:
	case SIM_CP_OVERFLOW:
		if (last_version != 1 || st.active != 0 || st.slot[1].status != SLOT_BAD)
			return sim_violation(s, "did not end rolled back to slot A with B bad");
		break;
	case SIM_VERITY_TRIAL_DAMAGED:
	case SIM_VERITY_ACTIVE_DAMAGED:
		/*
		 * The record names the block; the history entry after it is best
		 * effort. A trial cut short at every check may run out of tries first.
		 */
		if (last_version != 1 || st.active != 0 || st.slot[1].status != SLOT_BAD ||
		    (!strstr(st.last_reason, "slot B: data block 2 ") && !damaged_said(s) &&
		     !(s->scenario == SIM_VERITY_TRIAL_DAMAGED && st.last_error == ETIMEDOUT)))
			return sim_violation(s,
			                     "did not end on slot A with B bad and said damaged "
			                     "(last booted %d, active %c, B %s, said %d)",
			                     last_version, state_slot_letter(st.active),
			                     state_slot_status_name(st.slot[1].status),
			                     damaged_said(s));
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
		int booted = sim_boot(s);
		if (!booted)
			return false;
		if (booted == SIM_NOTHING_BOOTED) {
			idle = 0;
			continue;
		}
		version = booted;
		if (helpers_read_state(s->dev.state, &st) < 0)
			return sim_violation(s, "the record does not read back after boot %d",
			                     s->boots);
		idle = st.state == STATE_IDLE ? idle + 1 : 0;
	}
	return check_end(s, version);
}
