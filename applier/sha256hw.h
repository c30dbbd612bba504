/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * SHA-256 on the CPU's own instructions: the x86 SHA extensions (SHA-NI,
 * shani.c) or the Armv8 SHA2 instructions (armsha.c), whichever this CPU
 * has, chosen at run time. Hashing bounds the apply where the medium does
 * not: mbedTLS's portable code runs at about a quarter of their speed.
 * crypto.c uses this engine when sha256hw_engine() names one (and the
 * environment does not say SYSTEMOTA_SHA=generic), else mbedTLS; the unit
 * tests cross-check it with mbedTLS, and tests/arm runs the Arm code under
 * qemu-aarch64 against digests mbedTLS made on the host.
 *
 * No mbedTLS here: a streaming state, the padding, and the block functions.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "sha-ni", "armv8-sha2", or NULL where the CPU has neither. */
const char *sha256hw_engine(void);

/* A streaming hash on the engine; only when sha256hw_engine() is not NULL. */
struct sha256hw {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
};

void sha256hw_init(struct sha256hw *s);
void sha256hw_update(struct sha256hw *s, const void *data, size_t len);
void sha256hw_final(struct sha256hw *s, uint8_t out[32]);

/*
 * The engines this build has; each processes n 64-byte blocks into state
 * (eight words, host order), on a CPU whose *_available() says so. GCC builds
 * the Arm code whatever -march says (a target attribute turns the
 * instructions on for that one function); clang (14) honours no such
 * attribute, so there the feature must be on the command line
 * (-march=armv8-a+crypto, or +sha2), else the build has no Arm engine and
 * mbedTLS hashes.
 */
#if defined(__x86_64__) || defined(__i386__)
#define SHA256HW_SHANI 1
bool shani_available(void);
void shani_blocks(uint32_t state[8], const uint8_t *data, size_t n);
#endif
#if defined(__aarch64__) &&                                                                        \
        (!defined(__clang__) || defined(__ARM_FEATURE_SHA2) || defined(__ARM_FEATURE_CRYPTO))
#define SHA256HW_ARMSHA 1
bool armsha_available(void);
void armsha_blocks(uint32_t state[8], const uint8_t *data, size_t n);
#endif

/* SHA-256's round constants, 16-byte aligned for vector loads. */
extern const uint32_t sha256hw_k[64] __attribute__((aligned(16)));
