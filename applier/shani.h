/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * SHA-256 compression with the x86 SHA extensions (SHA-NI): about 2-3 times
 * the speed of mbedTLS's portable code here, where hashing bounds the apply.
 * crypto.c chooses it at run time when the CPU has it (and the environment
 * does not say SYSTEMOTA_SHA=generic); tests cross-check it with mbedTLS.
 * On other CPUs (and Arm, for now) shani_available() is false.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool shani_available(void);

/* Processes n 64-byte blocks into state (SHA-256's eight words, host order). */
void shani_blocks(uint32_t state[8], const uint8_t *data, size_t n);
