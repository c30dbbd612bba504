/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Fuzz targets: each fuzz-<parser>.c defines LLVMFuzzerTestOneInput. Built
 * with clang's libFuzzer (make fuzz), or with replay.c's main (make check
 * replays the committed corpus in tests/fuzz/corpus/<target>/ with the
 * normal compiler), so a finding stays a regression test.
 */

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A file with these bytes, for parsers that read files (a memfd). Closed by the caller. */
int fuzz_memfd(const uint8_t *data, size_t size);
