/* SPDX-License-Identifier: MIT */
#pragma once

/* The commands behind the command line (main.c parses, cmd.c acts). */

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "create.h"

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
};

/* Runs the command named by argv[0] (and argv[1] for "bundle", "key", "state"). */
int cmd_dispatch(struct cli *c, int argc, char **argv);
