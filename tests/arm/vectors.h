/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The SHA-256 cross-check between machines: the host (mbedTLS) writes one
 * line per case, "LEN CUT1 CUT2 DIGEST"; the Arm checker makes the same
 * bytes and must get the same digest, hashing them in three pieces cut at
 * CUT1 and CUT2. A case's bytes are the first LEN of VECTORS_DATA_MAX bytes
 * from vectors_fill(..., VECTORS_SEED).
 */

#include <stddef.h>
#include <stdint.h>

#define VECTORS_DATA_MAX (1u << 20)
#define VECTORS_SEED 7u

/* Deterministic bytes (xorshift32), the same on every machine. */
static inline void vectors_fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed ? seed : 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)(x >> 24);
	}
}
