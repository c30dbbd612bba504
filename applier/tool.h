/* SPDX-License-Identifier: MIT */
#pragma once

/* Build-host and factory commands: bundle create/info/verify, key, state init. */

#include "cmd.h"

int tool_bundle(struct cli *c, int argc, char **argv);
int tool_key(struct cli *c, int argc, char **argv);
int tool_keyring(struct cli *c, int argc, char **argv);
int tool_state(struct cli *c, int argc, char **argv);
