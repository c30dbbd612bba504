/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The running system's verbs: thin adapters from the command line to the
 * engine in running.h. Each one resolves the devices, the booted slot and the
 * keys into a running_config, parses its own arguments, and calls one engine
 * function; none of them touches the record itself.
 */

#include "cmd.h"

/*
 * Runs argv[0] if it is a running-system verb (stage, status, mark-good,
 * mark-bad, history, clean-shutdown, allow-downgrade). Returns -ENOSYS without
 * a reason when it is not one.
 */
int verbs_dispatch(struct cli *c, int argc, char **argv);
