/* SPDX-License-Identifier: MIT */
/* The bundle header parser, on any 32 bytes (and any other length). */
#include "bundle.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_header h;

	(void)bundle_parse_header(data, size, &h);
	return 0;
}
