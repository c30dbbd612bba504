/* SPDX-License-Identifier: MIT */
/*
 * The history entry, both ways:
 * - the input's first 512 bytes as a sector of the ring, as they are and with their CRC
 *   made right (a fuzzer seldom guesses one, and the checks behind it deserve its time): an
 *   entry that decodes encodes back to the same fields and the same bytes (reserved bytes
 *   and CRC aside: the decoder does not look at the reserved ones) and decodes again;
 * - the input as an entry's fields, strings unterminated and holding any byte (a file name):
 *   whatever history_encode writes must decode, or the entry would vanish on read and its
 *   sequence number be handed out again.
 */
#include <string.h>

#include "fuzz.h"
#include "history.h"
#include "util.h"

/* Bytes of the sector that carry fields: up to the reserved u16, then up to the reserved tail. */
#define FIELDS_END 34
#define STRINGS_START 36
#define STRINGS_END 208
#define CRC_AT (HISTORY_ENTRY_SIZE - 4)

static void check_same(const struct history_entry *a, const struct history_entry *b)
{
	if (a->seq != b->seq || a->record_seq != b->record_seq || a->time != b->time ||
	    a->kind != b->kind || a->slot != b->slot || a->error != b->error ||
	    a->version != b->version || memcmp(a->label, b->label, sizeof(a->label)) != 0 ||
	    memcmp(a->reason, b->reason, sizeof(a->reason)) != 0)
		__builtin_trap();
}

static void sector_round_trip(const uint8_t sector[HISTORY_ENTRY_SIZE])
{
	uint8_t again[HISTORY_ENTRY_SIZE];
	struct history_entry e, e2;

	if (history_decode(sector, &e) != 0)
		return;
	history_encode(&e, again);
	if (memcmp(again, sector, FIELDS_END) != 0 ||
	    memcmp(again + STRINGS_START, sector + STRINGS_START, STRINGS_END - STRINGS_START) != 0)
		__builtin_trap();
	if (history_decode(again, &e2) != 0)
		__builtin_trap();
	check_same(&e, &e2);
}

/* Takes n bytes from the input, zeros once it runs out. */
static void take(void *out, size_t n, const uint8_t **p, size_t *left)
{
	size_t k = n < *left ? n : *left;

	memset(out, 0, n);
	if (k)
		memcpy(out, *p, k);
	*p += k;
	*left -= k;
}

static void any_entry_decodes(const uint8_t *data, size_t size)
{
	uint8_t sector[HISTORY_ENTRY_SIZE];
	struct history_entry e, got;
	uint32_t error;

	take(&e.seq, sizeof(e.seq), &data, &size);
	take(&e.record_seq, sizeof(e.record_seq), &data, &size);
	take(&e.time, sizeof(e.time), &data, &size);
	take(&e.kind, sizeof(e.kind), &data, &size);
	take(&e.slot, sizeof(e.slot), &data, &size);
	take(&error, sizeof(error), &data, &size);
	take(&e.version, sizeof(e.version), &data, &size);
	take(e.label, sizeof(e.label), &data, &size);
	take(e.reason, sizeof(e.reason), &data, &size);
	e.error = (int32_t)error;
	/* The slot is the caller's to get right (0 or 1); the strings come from outside. */
	e.slot &= 1;
	history_encode(&e, sector);
	if (history_decode(sector, &got) != 0)
		__builtin_trap();
	if (got.seq != e.seq || got.version != e.version || got.kind != e.kind ||
	    strnlen(got.reason, sizeof(got.reason)) != strnlen(e.reason, sizeof(e.reason) - 1) ||
	    strnlen(got.label, sizeof(got.label)) != strnlen(e.label, sizeof(e.label) - 1))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sector[HISTORY_ENTRY_SIZE] = {0};

	if (size)
		memcpy(sector, data, size < sizeof(sector) ? size : sizeof(sector));
	sector_round_trip(sector);
	util_put_le32(sector + CRC_AT, util_crc32(0, sector, CRC_AT));
	sector_round_trip(sector);
	any_entry_decodes(data, size);
	return 0;
}
