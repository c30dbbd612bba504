/* SPDX-License-Identifier: MIT */
#include "verbs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "devices.h"
#include "fail.h"
#include "log.h"
#include "running.h"
#include "slot.h"
#include "util.h"

/* What a verb's engine call needs, resolved from the command line and the config. */
struct resolved {
	struct devices d;
	struct crypto_keyset *keys;
	char *cow;
	struct running_config rc;
};

static void resolved_free(struct resolved *x)
{
	crypto_keyset_free(x->keys);
	x->keys = NULL;
	free(x->cow);
	x->cow = NULL;
	devices_free(&x->d);
}

enum {
	NEED_BOOTED = 1 << 0, /* fails when the booted slot cannot be told */
	NEED_KEYS = 1 << 1,   /* fails without trusted keys (else they are only used if there) */
};

static int resolve(struct cli *c, unsigned need, struct resolved *x)
{
	uint8_t booted;
	int r = devices_resolve(&c->cfg, &x->d);

	if (r < 0)
		return r;
	x->rc = (struct running_config){
	        .state_path = x->d.state,
	        .slot_path = {x->d.slot[0], x->d.slot[1]},
	        .booted = -1,
	        .compatible = c->cfg.compatible,
	        .watchdog = c->cfg.watchdog,
	        .watchdog_handover = c->cfg.watchdog_handover,
	};
	r = devices_booted(&x->d, c->booted, &booted);
	if (r == 0)
		x->rc.booted = booted;
	else if (need & NEED_BOOTED)
		return r;
	r = crypto_keyset_load(c->cfg.keys, &x->keys);
	if (r < 0 && (need & NEED_KEYS))
		return r;
	x->rc.keys = x->keys;
	x->rc.data_dir = c->cfg.data_dir;
	x->rc.dropin = c->cfg.dropin;
	if (c->cfg.cow[0] && slot_resolve(c->cfg.cow, &x->cow) < 0)
		log_warn("the COW store is unavailable: %s", fail_reason());
	x->rc.cow = x->cow;
	return 0;
}

static int parse_version(const char *s, uint64_t *ret)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || errno || v == 0 || s[0] == '-')
		return fail(-EINVAL, "not a version: '%s'", s);
	*ret = v;
	return 0;
}

static int verb_stage(struct cli *c, const struct running_config *rc, char **argv)
{
	(void)c;
	return running_stage(rc, argv[1]);
}

static int verb_status(struct cli *c, const struct running_config *rc, char **argv)
{
	(void)argv;
	return running_status(rc, stdout, c->json);
}

static int verb_history(struct cli *c, const struct running_config *rc, char **argv)
{
	(void)argv;
	return running_history(rc, stdout, c->json);
}

static int verb_mark_good(struct cli *c, const struct running_config *rc, char **argv)
{
	(void)c, (void)argv;
	return running_mark_good(rc);
}

static int verb_mark_bad(struct cli *c, const struct running_config *rc, char **argv)
{
	(void)argv;
	return running_mark_bad(rc, c->reason);
}

static int verb_clean_shutdown(struct cli *c, const struct running_config *rc, char **argv)
{
	(void)c, (void)argv;
	return running_clean_shutdown(rc);
}

static int verb_allow_downgrade(struct cli *c, const struct running_config *rc, char **argv)
{
	uint64_t v = 0;

	(void)c;
	if (strcmp(argv[1], "revoke") == 0)
		return running_revoke_downgrade(rc);
	int r = parse_version(argv[1], &v);
	return r < 0 ? r : running_allow_downgrade(rc, v);
}

static const struct verb {
	const char *name;
	int argc;
	unsigned need;
	const char *usage;
	int (*run)(struct cli *c, const struct running_config *rc, char **argv);
} verbs[] = {
        {"stage", 2, NEED_KEYS, "stage FILE", verb_stage},
        {"status", 1, 0, "status [--json]", verb_status},
        {"history", 1, 0, "history [--json]", verb_history},
        {"mark-good", 1, NEED_BOOTED, "mark-good", verb_mark_good},
        {"mark-bad", 1, NEED_BOOTED, "mark-bad [--reason TEXT]", verb_mark_bad},
        {"clean-shutdown", 1, NEED_BOOTED, "clean-shutdown", verb_clean_shutdown},
        {"allow-downgrade", 2, 0, "allow-downgrade VERSION|revoke", verb_allow_downgrade},
};

int verbs_dispatch(struct cli *c, int argc, char **argv)
{
	_cleanup_(resolved_free) struct resolved x = {0};
	const struct verb *v = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(verbs) && argc > 0; i++)
		if (strcmp(argv[0], verbs[i].name) == 0)
			v = &verbs[i];
	if (!v)
		return -ENOSYS;
	if (argc != v->argc)
		return fail(-EINVAL, "usage: systemota %s", v->usage);
	int r = resolve(c, v->need, &x);
	return r < 0 ? r : v->run(c, &x.rc, argv);
}
