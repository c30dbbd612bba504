/* SPDX-License-Identifier: MIT */
#pragma once

/* The running system's commands: stage, status, mark-good, mark-bad, history. */

#include <stdbool.h>

#include "cmd.h"

int running_stage(struct cli *c, const char *file);
int running_status(struct cli *c);
int running_mark(struct cli *c, bool good);
int running_history(struct cli *c);
