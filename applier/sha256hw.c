/* SPDX-License-Identifier: MIT */
#include "sha256hw.h"

#include <pthread.h>
#include <string.h>

#include "util.h"

const uint32_t sha256hw_k[64] __attribute__((aligned(16))) = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
};

typedef void blocks_fn(uint32_t state[8], const uint8_t *data, size_t n);

static blocks_fn *blocks;
static const char *engine;
static pthread_once_t chosen = PTHREAD_ONCE_INIT;

static void choose(void)
{
#ifdef SHA256HW_SHANI
	if (shani_available()) {
		blocks = shani_blocks;
		engine = "sha-ni";
	}
#endif
#ifdef SHA256HW_ARMSHA
	if (armsha_available()) {
		blocks = armsha_blocks;
		engine = "armv8-sha2";
	}
#endif
}

const char *sha256hw_engine(void)
{
	pthread_once(&chosen, choose);
	return engine;
}

void sha256hw_init(struct sha256hw *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	pthread_once(&chosen, choose);
	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
}

void sha256hw_update(struct sha256hw *s, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t have = s->len % 64;

	if (len == 0)
		return; /* (data may be NULL) */
	s->len += len;
	if (have) {
		size_t take = MIN(64 - have, len);
		memcpy(s->buf + have, p, take);
		p += take;
		len -= take;
		if (have + take < 64)
			return;
		blocks(s->h, s->buf, 1);
	}
	if (len >= 64)
		blocks(s->h, p, len / 64);
	if (len % 64)
		memcpy(s->buf, p + len / 64 * 64, len % 64);
}

void sha256hw_final(struct sha256hw *s, uint8_t out[32])
{
	uint64_t bits = s->len * 8;
	size_t have = s->len % 64;
	uint8_t pad[128] = {0x80};
	size_t n = have < 56 ? 56 - have : 120 - have;

	for (int i = 0; i < 8; i++)
		pad[n + i] = (uint8_t)(bits >> (56 - 8 * i));
	/* The length counts the message only: the padding goes through update's path. */
	uint64_t len = s->len;
	sha256hw_update(s, pad, n + 8);
	s->len = len;
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(s->h[i] >> (24 - 8 * j));
}
