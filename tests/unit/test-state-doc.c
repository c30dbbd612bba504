/* SPDX-License-Identifier: MIT */
/*
 * docs/state-record.md's byte layout against the encoder: the table must
 * cover the 512 bytes exactly, a row called reserved must be zero in a record
 * whose every field is set, every other row must hold something, and the
 * scalar fields must sit where the table says.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "test.h"
#include "util.h"

/* A record with every field non-zero, each scalar a distinct value. */
static void full_record(struct state_record *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = 0x1111111111111111ull;
	r->state = STATE_TRYING;
	r->active = 1;
	r->target = 1;
	r->tries_left = 2;
	r->max_tries = 3;
	r->apply_attempts = 1;
	r->clean_reboots = 1;
	r->trial_booted = 1;
	r->last_error = 5;
	r->flags = STATE_FLAG_VERSIONS_UNKNOWN;
	r->data_cp = DATA_CP_MERGING;
	r->cp_version = 0x2c2c2c2c2cull;
	for (int i = 0; i < 2; i++) {
		r->slot[i].version = 100 + (uint64_t)i;
		r->slot[i].status = SLOT_GOOD;
		r->slot[i].verity = 1;
		snprintf(r->slot[i].label, sizeof(r->slot[i].label), "slot %d", i);
	}
	memset(r->txn, 0x21, sizeof(r->txn));
	memset(r->image_digest, 0x22, sizeof(r->image_digest));
	r->image_size = 0x2323232323ull;
	r->target_version = 0x2424242424ull;
	r->version_floor = 0x2525252525ull;
	r->allow_version = 0x2626262626ull;
	r->target_floor = 0x2727272727ull;
	memset(r->last_done, 0x28, sizeof(r->last_done));
	memset(r->last_failed, 0x29, sizeof(r->last_failed));
	memset(r->rejected, 0x2a, sizeof(r->rejected));
	memset(r->txn_file, 0x2b, sizeof(r->txn_file));
	snprintf(r->target_label, sizeof(r->target_label), "target");
	snprintf(r->last_reason, sizeof(r->last_reason), "reason");
}

/* The scalar fields whose place the table names, and their values in full_record(). */
static int expected(const char *field, const struct state_record *r, uint64_t *ret)
{
	static const struct {
		const char *name;
		size_t off; /* in struct state_record */
		size_t size;
	} scalars[] = {
	        {"sequence", offsetof(struct state_record, seq), 8},
	        {"image size", offsetof(struct state_record, image_size), 8},
	        {"target version", offsetof(struct state_record, target_version), 8},
	        {"version floor", offsetof(struct state_record, version_floor), 8},
	        {"allow_version", offsetof(struct state_record, allow_version), 8},
	        {"target_floor", offsetof(struct state_record, target_floor), 8},
	        {"last_error", offsetof(struct state_record, last_error), 4},
	        {"flags", offsetof(struct state_record, flags), 1},
	        {"data_cp", offsetof(struct state_record, data_cp), 1},
	        {"cp_version", offsetof(struct state_record, cp_version), 8},
	        {"tries_left", offsetof(struct state_record, tries_left), 1},
	        {"max_tries", offsetof(struct state_record, max_tries), 1},
	};
	for (size_t i = 0; i < ARRAY_SIZE(scalars); i++) {
		if (strcmp(field, scalars[i].name) != 0)
			continue;
		uint64_t v = 0;
		memcpy(&v, (const uint8_t *)r + scalars[i].off,
		       scalars[i].size); /* little-endian host */
		*ret = v;
		return (int)scalars[i].size;
	}
	return 0;
}

TEST(state_doc_layout_matches_the_encoder)
{
	uint8_t buf[STATE_RECORD_SIZE];
	struct state_record r;
	char line[1024];
	size_t next_off = 0, rows = 0;
	bool in_layout = false;

	full_record(&r);
	state_encode(&r, buf);
	/* SYSTEMOTA_STATE_DOC: another copy of the document to check (an older one). */
	const char *doc = getenv("SYSTEMOTA_STATE_DOC");
	FILE *f = fopen(doc ? doc : TOP_SRCDIR "/docs/state-record.md", "r");
	REQUIRE(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "## ", 3) == 0)
			in_layout = strncmp(line, "## Byte layout", 14) == 0;
		unsigned off, size;
		char field[128];
		if (!in_layout || sscanf(line, "| %u | %u | %127[^|]|", &off, &size, field) != 3)
			continue;
		for (size_t n = strlen(field); n && field[n - 1] == ' '; n--)
			field[n - 1] = '\0';
		rows++;
		CHECK_EQ(off, next_off); /* no gap, no overlap */
		REQUIRE(off + size <= STATE_RECORD_SIZE);
		next_off = off + size;
		bool zero = util_is_zero(buf + off, size);
		if (strcmp(field, "reserved") == 0) {
			if (!zero)
				fprintf(stderr,
				        "  bytes %u..%u are documented reserved, but hold data\n",
				        off, off + size - 1);
			CHECK(zero);
			continue;
		}
		CHECK(!zero);
		uint64_t want = 0, got = 0;
		int n = expected(field, &r, &want);
		if (n == 0)
			continue;
		CHECK_EQ((unsigned)n, size);
		memcpy(&got, buf + off, (size_t)n);
		if (got != want)
			fprintf(stderr, "  %s is documented at %u, which holds another field\n",
			        field, off);
		CHECK(got == want);
	}
	fclose(f);
	CHECK(rows > 20);
	CHECK_EQ(next_off, STATE_RECORD_SIZE);
}
