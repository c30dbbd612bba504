/* SPDX-License-Identifier: MIT */
#include "tool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bundle.h"
#include "crypto.h"
#include "fail.h"
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
		r = bundle_verify(&b, keys);
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
			            "usage: systemota bundle resign --key KEY -o OUT FILE");
		if (!create_resign)
			return host_only("bundle resign");
		return create_resign(argv[1], c->create.key, c->create.output);
	}
	return fail(-EINVAL, "usage: systemota bundle create|info FILE|verify FILE|resign FILE");
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
	state_init(&st);
	st.active = (uint8_t)c->active;
	st.target = !st.active;
	st.slot[st.active].version = c->slot_version;
	st.slot[st.active].status = SLOT_GOOD;
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
