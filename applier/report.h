/* SPDX-License-Identifier: MIT */
#pragma once

/* What `systemota status` and `systemota bundle info` print, as text or JSON. */

#include <stdbool.h>
#include <stdio.h>

#include "bundle.h"
#include "state.h"

struct report_staged {
	char name[128];
	uint64_t version;
	char label[32];
	char verdict[160]; /* "pending", "rejected: ...", ... */
};

struct history_entry;
struct checkpoint_usage;

struct report_status {
	const struct state_record *st; /* NULL when the record cannot be read */
	const char *state_error;       /* why, when st is NULL */
	int booted;                    /* 0 = A, 1 = B, -1 unknown */
	const struct report_staged *staged;
	size_t n_staged;
	const struct history_entry *history; /* the latest entries, oldest first */
	size_t n_history;
	bool checkpointed;                       /* a COW store is there (configured, found) */
	const struct checkpoint_usage *cp_usage; /* the live checkpoint; NULL: none mapped */
};

void report_status(FILE *f, const struct report_status *s, bool json);
void report_bundle(FILE *f, const struct bundle *b, const char *verdict, bool json);
void report_history(FILE *f, const struct history_entry *e, size_t n, bool json);
