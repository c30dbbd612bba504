/* SPDX-License-Identifier: MIT */
/* The boot-state record and the history entry: the raw bytes of the state partition. */
#include <string.h>

#include "fuzz.h"
#include "history.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sector[HISTORY_ENTRY_SIZE] = {0}, again[STATE_RECORD_SIZE];
	struct history_entry e;
	struct state_record r;

	/* A record that decodes must encode back to the very same bytes. */
	if (state_decode(data, size, &r) == 0) {
		state_encode(&r, again);
		if (memcmp(again, data, STATE_RECORD_SIZE) != 0)
			__builtin_trap();
	}
	/* Likewise a whole block with its keyring area (a copy as the device holds it). */
	static uint8_t block[STATE_BLOCK_SIZE];
	static struct state_record b;
	if (state_decode_block(data, size, &b) == 0) {
		state_encode_block(&b, block);
		if (memcmp(block, data, STATE_BLOCK_SIZE) != 0)
			__builtin_trap();
	}
	memcpy(sector, data, size < sizeof(sector) ? size : sizeof(sector));
	(void)history_decode(sector, &e);
	return 0;
}
