/* SPDX-License-Identifier: MIT */
#pragma once

/* The commands behind the command line (main.c parses, cmd.c acts). */

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "create.h"

/* keyring create: the keys and revocations named on the command line. */
#define CLI_MAX_LIST 32
struct keyring_options {
	const char *root[CLI_MAX_LIST];
	const char *signing[CLI_MAX_LIST]; /* FILE or FILE:UNTIL_VERSION */
	const char *revoke[CLI_MAX_LIST];  /* a key file or a 64-digit key id */
	unsigned n_root, n_signing, n_revoke;
	const char *previous; /* the keyring this one follows: its revocations carry over */
};

struct cli {
	struct config cfg;
	const char *config_path;
	bool json, force, data_dir_given;
	int booted; /* -1: find out from the root filesystem's device */
	struct create_options create;
	int active;
	uint64_t slot_version;
	const char *slot_label;
	const char *reason; /* mark-bad --reason */
	struct keyring_options keyring;
};

/* Runs the command named by argv[0] (and argv[1] for "bundle", "key", "state"). */
int cmd_dispatch(struct cli *c, int argc, char **argv);
