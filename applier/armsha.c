/* SPDX-License-Identifier: MIT */
#include "sha256hw.h"

#ifdef SHA256HW_ARMSHA
#ifdef __clang__
#define SHA2_TARGET /* clang: the feature is on the command line (sha256hw.h) */
#else
#define SHA2_TARGET __attribute__((target("+crypto")))
#endif

#include <arm_neon.h>
#include <asm/hwcap.h>
#include <sys/auxv.h>

bool armsha_available(void)
{
	return (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
}

/*
 * Four rounds per SHA256H/SHA256H2 pair; SHA256SU0/SU1 extend the message
 * schedule four words at a time. The state loads as it is stored: ABCD, EFGH.
 */
SHA2_TARGET void armsha_blocks(uint32_t state[8], const uint8_t *data, size_t n)
{
	uint32x4_t abcd = vld1q_u32(&state[0]);
	uint32x4_t efgh = vld1q_u32(&state[4]);

	for (; n > 0; n--, data += 64) {
		uint32x4_t abcd0 = abcd, efgh0 = efgh, w[4];

		/* Big-endian words from the message bytes. */
		for (int i = 0; i < 4; i++)
			w[i] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(data + 16 * i)));
		for (int i = 0; i < 16; i++) {
			uint32x4_t wk = vaddq_u32(w[i % 4], vld1q_u32(&sha256hw_k[4 * i]));
			uint32x4_t prev = abcd;

			/* Words 16.. from the four groups before them. */
			if (i < 12)
				w[i % 4] =
				        vsha256su1q_u32(vsha256su0q_u32(w[i % 4], w[(i + 1) % 4]),
				                        w[(i + 2) % 4], w[(i + 3) % 4]);
			abcd = vsha256hq_u32(abcd, efgh, wk);
			efgh = vsha256h2q_u32(efgh, prev, wk);
		}
		abcd = vaddq_u32(abcd, abcd0);
		efgh = vaddq_u32(efgh, efgh0);
	}
	vst1q_u32(&state[0], abcd);
	vst1q_u32(&state[4], efgh);
}

#endif
