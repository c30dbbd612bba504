/* SPDX-License-Identifier: MIT */
/*
 * The keyring document and a bundle's keyring chain (keyring.h). A document
 * that parses must encode back to the very same bytes: the parser accepts
 * exactly one spelling of every keyring.
 */
#include <string.h>

#include "fuzz.h"
#include "keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct keyring k, again, chain[KEYRING_MAX_CHAIN];
	size_t n = 0;

	if (keyring_parse(data, size, &k) == 0) {
		again = k;
		if (keyring_encode(&again) != 0 || again.size != k.size ||
		    memcmp(again.raw, data, k.size) != 0)
			__builtin_trap();
	}
	(void)keyring_parse_chain(data, size, chain, &n);
	return 0;
}
