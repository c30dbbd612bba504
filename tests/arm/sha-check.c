/* SPDX-License-Identifier: MIT */
/*
 * Arm side of the SHA-256 check, built for aarch64 and run under
 * qemu-aarch64: reads the host's vectors (vectors.h) on stdin and hashes
 * each case with the engine sha256hw.c chooses on this CPU, in three pieces.
 *
 *   sha-check ENGINE < vectors
 *
 * Fails unless the engine chosen is ENGINE ("armv8-sha2") and every digest
 * matches mbedTLS's; ENGINE "none" expects no engine (a CPU without SHA2,
 * where mbedTLS hashes) and checks nothing more. Ends with "N passed, N
 * failed".
 */
#include <stdio.h>
#include <string.h>

#include "sha256hw.h"
#include "vectors.h"

static uint8_t data[VECTORS_DATA_MAX];

int main(int argc, char **argv)
{
	const char *engine = sha256hw_engine();
	unsigned passed = 0, failed = 0, cases = 0;
	size_t len, cut1, cut2;
	char want[65];

	if (argc != 2) {
		fprintf(stderr, "usage: sha-check ENGINE < vectors\n");
		return 2;
	}
	if (strcmp(argv[1], "none") == 0 && !engine) {
		printf("ok   no engine on this CPU\n1 passed, 0 failed\n");
		return 0;
	}
	if (!engine || strcmp(engine, argv[1]) != 0) {
		printf("FAIL engine: %s, expected %s\n", engine ? engine : "none", argv[1]);
		printf("0 passed, 1 failed\n");
		return 1;
	}
	printf("ok   engine %s\n", engine);
	passed++;
	vectors_fill(data, sizeof(data), VECTORS_SEED);
	while (scanf("%zu %zu %zu %64s", &len, &cut1, &cut2, want) == 4) {
		struct sha256hw s;
		uint8_t d[32];
		char got[65];

		cases++;
		if (len > sizeof(data) || cut1 > cut2 || cut2 > len) {
			printf("FAIL vector %u: bad line\n", cases);
			failed++;
			continue;
		}
		sha256hw_init(&s);
		sha256hw_update(&s, data, cut1);
		sha256hw_update(&s, data + cut1, cut2 - cut1);
		sha256hw_update(&s, data + cut2, len - cut2);
		sha256hw_final(&s, d);
		for (int i = 0; i < 32; i++)
			snprintf(got + 2 * i, 3, "%02x", d[i]);
		if (strcmp(got, want) != 0) {
			printf("FAIL vector %u: length %zu cut at %zu and %zu: %s, mbedTLS %s\n",
			       cases, len, cut1, cut2, got, want);
			failed++;
		}
	}
	if (cases == 0) {
		printf("FAIL no vectors on stdin\n");
		failed++;
	} else if (failed == 0) {
		printf("ok   %u vectors match mbedTLS\n", cases);
		passed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
