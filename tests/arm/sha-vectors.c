/* SPDX-License-Identifier: MIT */
/*
 * Host side of the Arm SHA-256 check: digests of lengths around the block
 * and padding boundaries (0..199), 400 random lengths up to 20,000, and
 * 1 MiB, computed by mbedTLS (crypto.c with the portable code forced).
 * Prints the vectors (vectors.h) on stdout.
 */
#include <stdio.h>
#include <stdlib.h>

#include "crypto.h"
#include "vectors.h"

int main(void)
{
	static uint8_t data[VECTORS_DATA_MAX];
	uint32_t seed = 2026;

	vectors_fill(data, sizeof(data), VECTORS_SEED);
	crypto_sha256_force_generic(true);
	for (int i = 0; i < 601; i++) {
		size_t len, cut1, cut2;
		uint8_t d[CRYPTO_DIGEST_SIZE];

		seed = seed * 1103515245 + 12345;
		if (i < 200)
			len = (size_t)i;
		else if (i < 600)
			len = (seed >> 8) % 20001;
		else
			len = sizeof(data);
		seed = seed * 1103515245 + 12345;
		cut1 = len ? (seed >> 8) % (len + 1) : 0;
		seed = seed * 1103515245 + 12345;
		cut2 = cut1 + (len - cut1 ? (seed >> 8) % (len - cut1 + 1) : 0);
		crypto_sha256(data, len, d);
		printf("%zu %zu %zu ", len, cut1, cut2);
		for (size_t j = 0; j < sizeof(d); j++)
			printf("%02x", d[j]);
		printf("\n");
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
