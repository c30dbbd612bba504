/* SPDX-License-Identifier: MIT */
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bundle.h"
#include "crypto.h"
#include "fail.h"
#include "install.h"
#include "io.h"
#include "keyring.h"
#include "log.h"
#include "payload.h"
#include "report.h"
#include "slot.h"
#include "state.h"
#include "util.h"

/*
 * Making and signing bundles is the build host's job: the device's static
 * binary (the initramfs') is linked without create.o and compress.o, and so
 * without zstd's compressor (Makefile, HOST_OBJS). The references are weak,
 * so there they are NULL and the commands say where they run instead.
 */
#pragma weak create_bundle
#pragma weak create_resign

static int host_only(const char *what)
{
	return fail(-ENOTSUP,
	            "%s: this is the device build of systemota, which cannot make "
	            "bundles; run it on the build host",
	            what);
}

static int bundle_create(struct cli *c)
{
	struct create_options *o = &c->create;

	if (!create_bundle)
		return host_only("bundle create");
	if (!o->image || !o->key || !o->output || !c->cfg.compatible[0] || !o->version)
		return fail(-EINVAL, "bundle create needs --image, --key, --compatible, --version "
		                     "and -o");
	o->compatible = c->cfg.compatible;
	return create_bundle(o);
}

/* Streams the whole payload: every chunk digest, every frame, the image digest. */
static int verify_payload(const struct bundle *b)
{
	struct payload p;
	struct payload_chunk ch;
	int r = payload_open(&p, b);

	if (r < 0)
		return r;
	while ((r = payload_next(&p, &ch)) > 0)
		;
	payload_close(&p);
	return r;
}

static int bundle_show(struct cli *c, const char *path, bool full)
{
	_cleanup_(crypto_keyset_freep) struct crypto_keyset *keys = NULL;
	_cleanup_(bundle_close) struct bundle b = {.fd = -1};
	char verdict[FAIL_REASON_MAX + 32];
	int r = bundle_open(path, &b);

	if (r < 0)
		return r;
	r = crypto_keyset_load(c->cfg.keys, &keys);
	if (r == 0)
		r = bundle_verify(&b, keys, NULL);
	if (r == 0 && full)
		r = verify_payload(&b);
	if (r == 0)
		snprintf(verdict, sizeof(verdict),
		         full ? "valid (signature, payload and image)" : "valid");
	else
		snprintf(verdict, sizeof(verdict), "%s: %s", fail_code_name(r), fail_reason());
	report_bundle(stdout, &b, verdict, c->json);
	/* info describes even a bundle it cannot trust; verify fails for one. */
	return full ? r : 0;
}

/*
 * Factory provisioning: writes a bundle's image into a slot (a device or an
 * image file of the slot's size) exactly as the applier does, with the hash
 * tree and footer of a verity bundle, read back and checked.
 */
static int bundle_install(struct cli *c, const char *path, const char *slot)
{
	_cleanup_(crypto_keyset_freep) struct crypto_keyset *keys = NULL;
	_cleanup_(bundle_close) struct bundle b = {.fd = -1};
	int r = bundle_open(path, &b);

	if (r == 0)
		r = crypto_keyset_load(c->cfg.keys, &keys);
	if (r == 0)
		r = bundle_verify(&b, keys, NULL);
	if (r == 0)
		r = install_image(&b, slot, true);
	if (r == 0)
		log_info("wrote version %llu into %s%s", (unsigned long long)b.manifest.version,
		         slot, b.manifest.verity.on ? " with its verity tree and footer" : "");
	return r;
}

int tool_bundle(struct cli *c, int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "";

	if (strcmp(sub, "create") == 0 && argc == 1)
		return bundle_create(c);
	if (strcmp(sub, "info") == 0 && argc == 2)
		return bundle_show(c, argv[1], false);
	if (strcmp(sub, "verify") == 0 && argc == 2)
		return bundle_show(c, argv[1], true);
	if (strcmp(sub, "resign") == 0 && argc == 2) {
		if (!c->create.key || !c->create.output)
			return fail(-EINVAL,
			            "usage: systemota bundle resign --key KEY [--keyring CHAIN] -o "
			            "OUT FILE");
		if (!create_resign)
			return host_only("bundle resign");
		return create_resign(argv[1], c->create.key, c->create.keyring, c->create.output);
	}
	if (strcmp(sub, "install") == 0 && argc == 3)
		return bundle_install(c, argv[1], argv[2]);
	return fail(-EINVAL, "usage: systemota bundle create|info FILE|verify FILE|"
	                     "resign FILE|install FILE SLOT");
}

int tool_key(struct cli *c, int argc, char **argv)
{
	(void)c;
	if (argc == 3 && strcmp(argv[0], "generate") == 0) {
		int r = crypto_keygen(argv[1], argv[2]);
		if (r == 0)
			log_info("wrote private key %s and public key %s", argv[1], argv[2]);
		return r;
	}
	if (argc == 2 && strcmp(argv[0], "id") == 0) {
		uint8_t id[CRYPTO_KEY_ID_SIZE];
		char hex[2 * CRYPTO_KEY_ID_SIZE + 1];
		int r = crypto_key_id_of_file(argv[1], id);
		if (r == 0) {
			util_hex(hex, id, sizeof(id));
			printf("%s\n", hex);
		}
		return r;
	}
	return fail(-EINVAL, "usage: systemota key generate PRIVATE PUBLIC | key id FILE");
}

/* Writes buf to path through a temporary name, flushed, then renamed. */
static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	char tmp[4096];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return fail(-ENAMETOOLONG, "output path too long");
	fd = io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fail(fd, "cannot create %s: %s", tmp, strerror(-fd));
	r = io_pwrite_all(fd, buf, len, 0);
	if (r == 0)
		r = io_sync(fd);
	io_close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return fail(r, "writing %s: %s", path, strerror(-r));
	}
	return 0;
}

/* FILE or FILE:N (N all digits): a signing key and the last version it may sign. */
static int add_signing(struct keyring *k, const char *arg)
{
	char path[4096];
	const char *colon = strrchr(arg, ':');
	uint64_t until = 0;
	uint8_t id[CRYPTO_KEY_ID_SIZE];

	snprintf(path, sizeof(path), "%s", arg);
	if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
		until = strtoull(colon + 1, NULL, 10);
		path[colon - arg] = '\0';
		if (until == 0)
			return fail(-EINVAL, "%s: an until-version is at least 1", arg);
	}
	struct keyring_key *e = &k->keys[k->n_keys++];
	e->role = KEYRING_SIGNING;
	e->until_version = until;
	return crypto_point_of_file(path, e->point, id);
}

/* A key file or a 64-digit key id, kept sorted (the format wants them ascending). */
static int add_revoked(struct keyring *k, const char *arg)
{
	uint8_t id[CRYPTO_KEY_ID_SIZE];
	unsigned i;

	if (util_unhex(id, sizeof(id), arg) < 0 && crypto_key_id_of_file(arg, id) < 0)
		return fail(-EINVAL, "--revoke %s: neither a key id nor a key file", arg);
	for (i = 0; i < k->n_revoked; i++) {
		int c = memcmp(id, k->revoked[i], sizeof(id));
		if (c == 0)
			return 0;
		if (c < 0)
			break;
	}
	if (k->n_revoked == KEYRING_MAX_REVOKED)
		return fail(-EINVAL, "a keyring revokes at most %d keys", KEYRING_MAX_REVOKED);
	memmove(k->revoked[i + 1], k->revoked[i], (k->n_revoked - i) * sizeof(id));
	memcpy(k->revoked[i], id, sizeof(id));
	k->n_revoked++;
	return 0;
}

static int keyring_create_cmd(struct cli *c)
{
	const struct keyring_options *o = &c->keyring;
	static struct keyring k, prev[KEYRING_MAX_CHAIN];
	uint8_t id[CRYPTO_KEY_ID_SIZE];
	size_t n_prev = 0;
	int r = 0;

	if (!c->create.version || !o->n_root || !c->create.output)
		return fail(-EINVAL, "keyring create needs --version, at least one --root and -o");
	if (o->n_root + o->n_signing > KEYRING_MAX_KEYS)
		return fail(-EINVAL, "a keyring lists at most %d keys", KEYRING_MAX_KEYS);
	memset(&k, 0, sizeof(k));
	k.version = c->create.version;
	k.created = c->create.created;
	for (unsigned i = 0; r == 0 && i < o->n_root; i++) {
		struct keyring_key *e = &k.keys[k.n_keys++];
		e->role = KEYRING_ROOT;
		r = crypto_point_of_file(o->root[i], e->point, id);
	}
	for (unsigned i = 0; r == 0 && i < o->n_signing; i++)
		r = add_signing(&k, o->signing[i]);
	if (r == 0 && o->previous) {
		r = keyring_load_file(o->previous, true, prev, &n_prev);
		const struct keyring *p = &prev[n_prev ? n_prev - 1 : 0];
		if (r == 0 && p->version >= k.version)
			r = fail(-EINVAL, "--version %llu is not above the previous keyring's %llu",
			         (unsigned long long)k.version, (unsigned long long)p->version);
		/* A keyring keeps every revocation of the one before it (keyring.h). */
		for (unsigned i = 0; r == 0 && i < p->n_revoked; i++) {
			char hex[2 * CRYPTO_KEY_ID_SIZE + 1];
			util_hex(hex, p->revoked[i], CRYPTO_KEY_ID_SIZE);
			r = add_revoked(&k, hex);
		}
	}
	for (unsigned i = 0; r == 0 && i < o->n_revoke; i++)
		r = add_revoked(&k, o->revoke[i]);
	if (r == 0)
		r = c->create.key ? keyring_sign(&k, c->create.key) : keyring_encode(&k);
	if (r == 0)
		r = write_file(c->create.output, k.raw, k.size);
	if (r == 0)
		log_info("wrote keyring %llu to %s (%s)", (unsigned long long)k.version,
		         c->create.output, c->create.key ? "signed" : "an unsigned draft");
	return r;
}

static int keyring_sign_cmd(struct cli *c, const char *path)
{
	static struct keyring k[KEYRING_MAX_CHAIN];
	size_t n = 0;
	int r;

	if (!c->create.key || !c->create.output)
		return fail(-EINVAL, "usage: systemota keyring sign --key ROOT -o OUT FILE");
	r = keyring_load_file(path, true, k, &n);
	if (r == 0 && n != 1)
		r = fail(-EINVAL, "%s holds %zu keyrings: sign them one at a time", path, n);
	if (r == 0)
		r = keyring_sign(&k[0], c->create.key);
	if (r == 0)
		r = write_file(c->create.output, k[0].raw, k[0].size);
	return r;
}

static void print_keyring(const struct keyring *k)
{
	char hex[2 * CRYPTO_KEY_ID_SIZE + 1], when[32] = "";
	time_t t = (time_t)k->created;
	struct tm tm;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	util_hex(hex, k->digest, CRYPTO_DIGEST_SIZE);
	printf("keyring %llu (%u bytes), created %s\n  digest  %s\n",
	       (unsigned long long)k->version, k->size, when, hex);
	for (unsigned i = 0; i < k->n_keys; i++) {
		util_hex(hex, k->keys[i].id, CRYPTO_KEY_ID_SIZE);
		printf("  %-7s %s", keyring_role_name(k->keys[i].role), hex);
		if (k->keys[i].until_version)
			printf(" until version %llu", (unsigned long long)k->keys[i].until_version);
		printf("\n");
	}
	for (unsigned i = 0; i < k->n_revoked; i++) {
		util_hex(hex, k->revoked[i], CRYPTO_KEY_ID_SIZE);
		printf("  revoked %s\n", hex);
	}
	util_hex(hex, k->signer, CRYPTO_KEY_ID_SIZE);
	printf("  signed  %s\n", k->sig_len ? hex : "(no: an unsigned draft)");
}

int tool_keyring(struct cli *c, int argc, char **argv)
{
	static struct keyring k[KEYRING_MAX_CHAIN];
	const char *sub = argc > 0 ? argv[0] : "";
	size_t n = 0;

	if (strcmp(sub, "create") == 0 && argc == 1)
		return keyring_create_cmd(c);
	if (strcmp(sub, "sign") == 0 && argc == 2)
		return keyring_sign_cmd(c, argv[1]);
	if (strcmp(sub, "info") == 0 && argc == 2) {
		int r = keyring_load_file(argv[1], true, k, &n);
		for (size_t i = 0; r == 0 && i < n; i++)
			print_keyring(&k[i]);
		return r;
	}
	return fail(-EINVAL, "usage: systemota keyring create|sign FILE|info FILE");
}

/* Factory provisioning: a fresh record with the factory slot active. */
static int state_init_cmd(struct cli *c)
{
	_cleanup_free_ char *path = NULL;
	struct state_record st;
	struct state_dev dev;
	int r = slot_resolve(c->cfg.state, &path);

	if (r < 0)
		return r;
	r = state_open(path, true, &dev);
	if (r < 0)
		return r;
	r = state_load(&dev, &st);
	if (r == 0 && !c->force) {
		state_close(&dev);
		return fail(-EEXIST, "%s already holds a valid record (use --force)", path);
	}
	/* Re-stating versions keeps the trust the device has: its adopted keyring stays. */
	uint16_t keyring_len = r == 0 ? st.keyring_len : 0;
	uint8_t keyring[STATE_KEYRING_MAX];
	memcpy(keyring, st.keyring, sizeof(keyring));
	state_init(&st);
	st.keyring_len = keyring_len;
	memcpy(st.keyring, keyring, sizeof(keyring));
	st.active = (uint8_t)c->active;
	st.target = !st.active;
	st.slot[st.active].version = c->slot_version;
	st.slot[st.active].status = SLOT_GOOD;
	/* Provisioned from a verity bundle (bundle install): it boots only with its footer. */
	st.slot[st.active].verity = c->create.verity;
	/* Re-stating after a lost record: the floor too (a fresh record clears versions-unknown).
	 */
	st.version_floor = c->create.floor;
	if (c->slot_label &&
	    util_set_string(st.slot[st.active].label, STATE_LABEL_SIZE, c->slot_label) < 0)
		r = fail(-EINVAL, "slot label too long");
	else
		r = state_commit(&dev, &st);
	state_close(&dev);
	if (r == 0)
		log_info("initialised %s: slot %c active, version %llu", path,
		         state_slot_letter(st.active), (unsigned long long)c->slot_version);
	return r;
}

int tool_state(struct cli *c, int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "init") == 0)
		return state_init_cmd(c);
	return fail(-EINVAL, "usage: systemota state init [--active A|B] [--slot-version N] "
	                     "[--floor N]");
}
