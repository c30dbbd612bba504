/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one comparison of two boot-state records for the unit tests: every
 * field, one by one (the struct has padding; strings compare up to their NUL,
 * as the encoding does). A field added to struct state_record must be added
 * here too: the size check below fails until it is, so no field can be
 * silently left out of every transition table again (one that fits in
 * padding does not change the size: check the list when adding one).
 */

#include <stdio.h>
#include <string.h>

#include "state.h"

_Static_assert(sizeof(struct state_record) == 3712,
               "struct state_record changed: compare the new field in record_eq()");

#define RECORD_SAME(f)                                                                             \
	(memcmp(&a->f, &b->f, sizeof(a->f)) == 0 ||                                                \
	 (fprintf(stderr, "  field %s differs\n", #f), 0))
#define RECORD_SAME_STR(f)                                                                         \
	(strncmp(a->f, b->f, sizeof(a->f)) == 0 ||                                                 \
	 (fprintf(stderr, "  field %s differs: '%.*s' / '%.*s'\n", #f, (int)sizeof(a->f), a->f,    \
	          (int)sizeof(b->f), b->f),                                                        \
	  0))

static inline int record_eq(const struct state_record *a, const struct state_record *b)
{
	int same = 1;

	/* Every field is compared (no short cut), so a failure names all that differ. */
	same &= RECORD_SAME(seq);
	same &= RECORD_SAME(state);
	same &= RECORD_SAME(active);
	same &= RECORD_SAME(target);
	same &= RECORD_SAME(tries_left);
	same &= RECORD_SAME(max_tries);
	same &= RECORD_SAME(apply_attempts);
	same &= RECORD_SAME(clean_reboots);
	same &= RECORD_SAME(trial_booted);
	same &= RECORD_SAME(flags);
	same &= RECORD_SAME(data_cp);
	same &= RECORD_SAME(cp_version);
	same &= RECORD_SAME(last_error);
	for (int i = 0; i < 2; i++) {
		same &= RECORD_SAME(slot[i].version);
		same &= RECORD_SAME(slot[i].status);
		same &= RECORD_SAME_STR(slot[i].label);
	}
	same &= RECORD_SAME(txn);
	same &= RECORD_SAME(image_digest);
	same &= RECORD_SAME(image_size);
	same &= RECORD_SAME(target_version);
	same &= RECORD_SAME(version_floor);
	same &= RECORD_SAME(allow_version);
	same &= RECORD_SAME(target_floor);
	same &= RECORD_SAME(last_done);
	same &= RECORD_SAME(last_failed);
	same &= RECORD_SAME(rejected);
	same &= RECORD_SAME(txn_file);
	same &= RECORD_SAME_STR(target_label);
	same &= RECORD_SAME_STR(last_reason);
	same &= RECORD_SAME(keyring_len);
	same &= RECORD_SAME(pending_len);
	same &= a->keyring_len != b->keyring_len ||
	        memcmp(a->keyring, b->keyring, a->keyring_len) == 0 ||
	        (fprintf(stderr, "  field keyring differs\n"), 0);
	same &= a->pending_len != b->pending_len ||
	        memcmp(a->pending, b->pending, a->pending_len) == 0 ||
	        (fprintf(stderr, "  field pending differs\n"), 0);
	return same;
}
