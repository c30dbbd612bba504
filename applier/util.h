/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Small helpers shared by every module: little-endian field access, CRC32,
 * hex formatting and cleanup attributes. Everything here is pure.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline uint16_t util_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t util_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t util_le64(const uint8_t *p)
{
	return (uint64_t)util_le32(p) | (uint64_t)util_le32(p + 4) << 32;
}

static inline void util_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void util_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void util_put_le64(uint8_t *p, uint64_t v)
{
	util_put_le32(p, (uint32_t)v);
	util_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* CRC-32 as in zlib and Ethernet (reflected, polynomial 0xEDB88320). */
uint32_t util_crc32(uint32_t crc, const void *buf, size_t len);

/* Writes 2*len lowercase hex digits and a NUL into out (size >= 2*len+1). */
void util_hex(char *out, const uint8_t *buf, size_t len);

/* Parses exactly 2*len hex digits. Returns 0 or -EINVAL. */
int util_unhex(uint8_t *out, size_t len, const char *hex);

/*
 * True when the fixed-size field holds a NUL-terminated string of printable
 * ASCII followed only by NULs: the form every string in our formats must have.
 */
int util_is_clean_string(const uint8_t *field, size_t size);

/* Copies a C string into a fixed field, NUL-padding the rest. -ENAMETOOLONG if it does not fit. */
int util_set_string(char *field, size_t size, const char *s);

int util_is_zero(const void *buf, size_t len);

/* Milliseconds on CLOCK_MONOTONIC (timeouts, and how long a step took). */
uint64_t util_now_ms(void);

/* Cleanup helpers in the style of systemd's _cleanup_. */
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void util_freep(void *p)
{
	free(*(void **)p);
}

static inline void util_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define _cleanup_free_ _cleanup_(util_freep)
#define _cleanup_close_ _cleanup_(util_closep)
