/* SPDX-License-Identifier: MIT */
#pragma once

/* The running system's commands: stage, status, mark-good, mark-bad, history, clean-shutdown. */

#include <stdbool.h>

#include "cmd.h"

int running_stage(struct cli *c, const char *file);
int running_status(struct cli *c);
int running_mark(struct cli *c, bool good);
int running_history(struct cli *c);
/* From the shutdown path of a system on trial: a clean reboot gives its try back. */
int running_clean_shutdown(struct cli *c);
/* A deliberate downgrade: the next install may be exactly this version, not newer. */
int running_allow_downgrade(struct cli *c, const char *version);
