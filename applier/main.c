/* SPDX-License-Identifier: MIT */

/*
 * systemota: one binary for the build host (bundle, key), the running system
 * (stage, status, mark-good, mark-bad) and the initramfs (apply, boot-slot).
 * This file only parses the command line and wires modules together.
 */

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "config.h"
#include "create.h"
#include "fail.h"
#include "log.h"
#include "util.h"

static const char usage[] =
        "usage: systemota [options] COMMAND\n"
        "\n"
        "Build host:\n"
        "  bundle create --image IMG --key KEY --compatible C --version N [--label L]\n"
        "                [--floor N] [--chunk-size BYTES] [--level N] [--window-log N]\n"
        "                [--threads N] [--keyring CHAIN] [--verity] -o OUT\n"
        "  bundle resign --key KEY [--keyring CHAIN] -o OUT FILE\n"
        "                                   sign a bundle again, with another key\n"
        "  bundle info [--json] FILE        show a bundle's manifest\n"
        "  bundle verify FILE               check signature, every chunk and the image digest\n"
        "  bundle install FILE SLOT         factory: write a bundle into a slot (device or\n"
        "                                   file), with its verity tree and footer\n"
        "  key generate PRIVATE PUBLIC      make a P-256 key pair\n"
        "  key id FILE                      print a key's id\n"
        "  keyring create --version N --root PEM... --signing PEM[:UNTIL]... [--revoke\n"
        "                 KEY|ID]... [--previous FILE] [--key ROOT] -o OUT\n"
        "                                   a keyring, signed by the root key ROOT (or an\n"
        "                                   unsigned draft without --key)\n"
        "  keyring sign --key ROOT -o OUT FILE   sign a keyring (a draft, or again)\n"
        "  keyring info FILE                show a keyring, or each keyring of a chain\n"
        "  state init [--active A|B] [--slot-version N] [--slot-label L] [--floor N]\n"
        "             [--verity] [--force]  write a fresh boot-state record (factory, or\n"
        "                                   re-stating the versions after a lost record)\n"
        "Running system:\n"
        "  stage FILE                       verify a bundle and stage it for the next boot\n"
        "  status [--json]                  booted and active slot, state, versions, last error\n"
        "  mark-good                        confirm the booted slot\n"
        "  mark-bad [--reason TEXT]         refuse the slot on trial (reboot to roll back)\n"
        "  history [--json]                 what happened to updates, and why\n"
        "  allow-downgrade VERSION|revoke   let the next install (only) be exactly VERSION,\n"
        "                                   though not newer (never below the floor)\n"
        "  clean-shutdown                   from the shutdown path: a clean reboot during\n"
        "                                   a trial gives its try back (bounded)\n"
        "  device state|a|b|data|all        print partition device paths\n"
        "Initramfs:\n"
        "  apply                            install a staged bundle, pick the slot to boot,\n"
        "                                   print \"SLOT DEVICE\"\n"
        "  boot-slot                        print the last good slot, changing nothing\n"
        "  kexec ROOT SLOT                  start the kernel of the slot mounted at ROOT,\n"
        "                                   if it carries one other than the running one\n"
        "\n"
        "Options: --config FILE, --state DEV, --slot-a DEV, --slot-b DEV, --data DEV,\n"
        "  --data-dir DIR, --keys DIR, --compatible STR, --tries N, --booted A|B, -v, -q\n";

static int parse_slot(const char *s)
{
	if (strcmp(s, "A") == 0 || strcmp(s, "a") == 0)
		return 0;
	if (strcmp(s, "B") == 0 || strcmp(s, "b") == 0)
		return 1;
	return -1;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (!*s || *end || errno || s[0] == '-')
		return fail(-EINVAL, "not a number: '%s'", s);
	*ret = v;
	return 0;
}

enum {
	OPT_CONFIG = 256,
	OPT_STATE,
	OPT_SLOT_A,
	OPT_SLOT_B,
	OPT_DATA,
	OPT_DATA_DIR,
	OPT_KEYS,
	OPT_COMPATIBLE,
	OPT_TRIES,
	OPT_BOOTED,
	OPT_JSON,
	OPT_IMAGE,
	OPT_KEY,
	OPT_VERSION,
	OPT_FLOOR,
	OPT_LABEL,
	OPT_CHUNK_SIZE,
	OPT_LEVEL,
	OPT_WINDOW_LOG,
	OPT_THREADS,
	OPT_CREATED,
	OPT_ACTIVE,
	OPT_SLOT_VERSION,
	OPT_SLOT_LABEL,
	OPT_FORCE,
	OPT_REASON,
	OPT_ROOT,
	OPT_SIGNING,
	OPT_REVOKE,
	OPT_PREVIOUS,
	OPT_KEYRING,
	OPT_VERITY,
};

static const struct option options[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"state", required_argument, NULL, OPT_STATE},
        {"slot-a", required_argument, NULL, OPT_SLOT_A},
        {"slot-b", required_argument, NULL, OPT_SLOT_B},
        {"data", required_argument, NULL, OPT_DATA},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"keys", required_argument, NULL, OPT_KEYS},
        {"compatible", required_argument, NULL, OPT_COMPATIBLE},
        {"tries", required_argument, NULL, OPT_TRIES},
        {"booted", required_argument, NULL, OPT_BOOTED},
        {"json", no_argument, NULL, OPT_JSON},
        {"image", required_argument, NULL, OPT_IMAGE},
        {"key", required_argument, NULL, OPT_KEY},
        {"version", required_argument, NULL, OPT_VERSION},
        {"floor", required_argument, NULL, OPT_FLOOR},
        {"label", required_argument, NULL, OPT_LABEL},
        {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"window-log", required_argument, NULL, OPT_WINDOW_LOG},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"created", required_argument, NULL, OPT_CREATED},
        {"active", required_argument, NULL, OPT_ACTIVE},
        {"slot-version", required_argument, NULL, OPT_SLOT_VERSION},
        {"slot-label", required_argument, NULL, OPT_SLOT_LABEL},
        {"force", no_argument, NULL, OPT_FORCE},
        {"reason", required_argument, NULL, OPT_REASON},
        {"root", required_argument, NULL, OPT_ROOT},
        {"signing", required_argument, NULL, OPT_SIGNING},
        {"revoke", required_argument, NULL, OPT_REVOKE},
        {"previous", required_argument, NULL, OPT_PREVIOUS},
        {"keyring", required_argument, NULL, OPT_KEYRING},
        {"verity", no_argument, NULL, OPT_VERITY},
        {"output", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0},
};

/* Options that set a config key, in the order of the enum above. */
static const char *const config_keys[] = {
        [OPT_STATE - OPT_STATE] = "state",           [OPT_SLOT_A - OPT_STATE] = "slot-a",
        [OPT_SLOT_B - OPT_STATE] = "slot-b",         [OPT_DATA - OPT_STATE] = "data",
        [OPT_DATA_DIR - OPT_STATE] = "data-dir",     [OPT_KEYS - OPT_STATE] = "keys",
        [OPT_COMPATIBLE - OPT_STATE] = "compatible", [OPT_TRIES - OPT_STATE] = "tries",
};

/* Appends arg to a repeatable option's list. */
static int add_to_list(const char **list, unsigned *n, const char *arg, const char *what)
{
	if (*n == CLI_MAX_LIST)
		return fail(-EINVAL, "more than %d %s options", CLI_MAX_LIST, what);
	list[(*n)++] = arg;
	return 0;
}

static int parse_option(struct cli *c, int opt, const char *arg)
{
	struct keyring_options *k = &c->keyring;

	uint64_t v;
	int r = 0;

	switch (opt) {
	case OPT_IMAGE:
		c->create.image = arg;
		break;
	case OPT_KEY:
		c->create.key = arg;
		break;
	case OPT_LABEL:
		c->create.label = arg;
		break;
	case 'o':
		c->create.output = arg;
		break;
	case OPT_FLOOR:
		r = parse_u64(arg, &c->create.floor);
		break;
	case OPT_VERSION:
		r = parse_u64(arg, &c->create.version);
		break;
	case OPT_CREATED:
		r = parse_u64(arg, &c->create.created);
		break;
	case OPT_CHUNK_SIZE:
		r = parse_u64(arg, &v);
		c->create.chunk_size = v > UINT32_MAX ? 0 : (uint32_t)v;
		break;
	case OPT_LEVEL:
		r = parse_u64(arg, &v);
		if (r == 0 && v > 22)
			r = fail(-EINVAL, "zstd level must be 0..22");
		c->create.level = (int)v;
		break;
	case OPT_WINDOW_LOG:
		r = parse_u64(arg, &v);
		c->create.window_log = v > 255 ? 255 : (unsigned)v; /* checked by create */
		break;
	case OPT_THREADS:
		r = parse_u64(arg, &v);
		if (r == 0 && (v < 1 || v > 64))
			r = fail(-EINVAL, "threads must be 1..64");
		c->create.threads = (unsigned)v;
		break;
	case OPT_SLOT_VERSION:
		r = parse_u64(arg, &c->slot_version);
		break;
	case OPT_ROOT:
		return add_to_list(k->root, &k->n_root, arg, "--root");
	case OPT_SIGNING:
		return add_to_list(k->signing, &k->n_signing, arg, "--signing");
	case OPT_REVOKE:
		return add_to_list(k->revoke, &k->n_revoke, arg, "--revoke");
	case OPT_PREVIOUS:
		k->previous = arg;
		break;
	case OPT_KEYRING:
		c->create.keyring = arg;
		break;
	case OPT_VERITY:
		c->create.verity = true;
		break;
	case OPT_SLOT_LABEL:
		c->slot_label = arg;
		break;
	case OPT_ACTIVE:
	case OPT_BOOTED: {
		int s = parse_slot(arg);
		if (s < 0)
			return fail(-EINVAL, "a slot is A or B, not '%s'", arg);
		*(opt == OPT_ACTIVE ? &c->active : &c->booted) = s;
		break;
	}
	default:
		return fail(-EINVAL, "unexpected option");
	}
	return r;
}

/* Parses options into c; leaves the command words in argv[optind..]. */
static int parse_args(struct cli *c, int argc, char **argv)
{
	const char *overrides[OPT_TRIES - OPT_STATE + 1] = {0};
	int opt, r;

	c->booted = -1;
	c->active = 0;
	c->create.chunk_size = CREATE_DEFAULT_CHUNK_SIZE;
	c->create.level = CREATE_DEFAULT_LEVEL;
	c->create.window_log = CREATE_DEFAULT_WINDOW_LOG;
	c->create.label = "";
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	c->create.created = epoch ? strtoull(epoch, NULL, 10) : (uint64_t)time(NULL);
	while ((opt = getopt_long(argc, argv, "o:vqh", options, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage, stdout);
			exit(EXIT_SUCCESS);
		} else if (opt == 'v') {
			log_set_level(LOG_LEVEL_DEBUG);
		} else if (opt == 'q') {
			log_set_level(LOG_LEVEL_WARN);
		} else if (opt == OPT_CONFIG) {
			c->config_path = optarg;
		} else if (opt == OPT_JSON) {
			c->json = true;
		} else if (opt == OPT_REASON) {
			c->reason = optarg;
		} else if (opt == OPT_FORCE) {
			c->force = true;
		} else if (opt >= OPT_STATE && opt <= OPT_TRIES) {
			overrides[opt - OPT_STATE] = optarg;
			c->data_dir_given |= opt == OPT_DATA_DIR;
		} else if (opt == '?') {
			return fail(-EINVAL, "see systemota --help");
		} else if ((r = parse_option(c, opt, optarg)) < 0) {
			return r;
		}
	}
	config_defaults(&c->cfg);
	r = config_load(&c->cfg, c->config_path ? c->config_path : CONFIG_DEFAULT_PATH,
	                !c->config_path);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(overrides); i++)
		if (overrides[i])
			r = config_set(&c->cfg, config_keys[i], overrides[i]);
	return r;
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	int r = parse_args(&c, argc, argv);

	if (r == 0)
		r = cmd_dispatch(&c, argc - optind, argv + optind);
	if (r < 0) {
		log_error("%s", fail_reason()[0] ? fail_reason() : strerror(-r));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
