/* SPDX-License-Identifier: MIT */
#include "sha256hw.h"

#ifdef SHA256HW_SHANI
#include <cpuid.h>
#include <immintrin.h>

bool shani_available(void)
{
	unsigned a, b, c, d;

	/* Leaf 7: EBX bit 29 is SHA; SSSE3 and SSE4.1 (leaf 1, ECX bits 9 and 19) come with it. */
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 29)))
		return false;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	return (c & (1u << 9)) && (c & (1u << 19));
}

__attribute__((target("sha,sse4.1,ssse3"))) void shani_blocks(uint32_t state[8],
                                                              const uint8_t *data, size_t n)
{
	/* Big-endian words from the message bytes. */
	const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);
	__m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);

	/* The instructions want the state as ABEF and CDGH. */
	tmp = _mm_shuffle_epi32(tmp, 0xB1);
	s1 = _mm_shuffle_epi32(s1, 0x1B);
	__m128i s0 = _mm_alignr_epi8(tmp, s1, 8);
	s1 = _mm_blend_epi16(s1, tmp, 0xF0);

	for (; n > 0; n--, data += 64) {
		__m128i w[16], abef = s0, cdgh = s1;
		for (int i = 0; i < 4; i++)
			w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)),
			                        swap);
		/* The message schedule, four words at a time. */
		for (int i = 4; i < 16; i++) {
			__m128i t = _mm_sha256msg1_epu32(w[i - 4], w[i - 3]);
			t = _mm_add_epi32(t, _mm_alignr_epi8(w[i - 1], w[i - 2], 4));
			w[i] = _mm_sha256msg2_epu32(t, w[i - 1]);
		}
		for (int i = 0; i < 16; i++) {
			__m128i m = _mm_add_epi32(
			        w[i], _mm_load_si128((const __m128i *)&sha256hw_k[4 * i]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, m);
			m = _mm_shuffle_epi32(m, 0x0E);
			s0 = _mm_sha256rnds2_epu32(s0, s1, m);
		}
		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
	}
	/* Back to ABCD and EFGH. */
	tmp = _mm_shuffle_epi32(s0, 0x1B);
	s1 = _mm_shuffle_epi32(s1, 0xB1);
	s0 = _mm_blend_epi16(tmp, s1, 0xF0);
	s1 = _mm_alignr_epi8(s1, tmp, 8);
	_mm_storeu_si128((__m128i *)&state[0], s0);
	_mm_storeu_si128((__m128i *)&state[4], s1);
}

#endif
