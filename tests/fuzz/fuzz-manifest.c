/* SPDX-License-Identifier: MIT */
/*
 * The manifest and chunk table parsers: the input is a header (32 bytes)
 * followed by a manifest; the header's manifest size is forced to the
 * manifest's length, so the fuzzer explores the manifest itself. Every chunk
 * of an accepted manifest is then looked up.
 */
#include "bundle.h"
#include "fuzz.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_manifest m;
	struct bundle_header h;
	struct bundle_chunk c;

	if (size < BUNDLE_HEADER_SIZE)
		return 0;
	if (bundle_parse_header(data, BUNDLE_HEADER_SIZE, &h) < 0) {
		/* Still fuzz the manifest, with a header that claims exactly what follows. */
		h.format = BUNDLE_FORMAT;
		h.sigblock_size = BUNDLE_SIGBLOCK_SIZE;
		h.flags = util_le32(data + 20) & BUNDLE_FLAG_VERITY; /* the verity section too */
		h.payload_size = util_le64(data + 24);
	}
	h.manifest_size = (uint32_t)MIN(size - BUNDLE_HEADER_SIZE, (size_t)UINT32_MAX);
	if (bundle_parse_manifest(data + BUNDLE_HEADER_SIZE, size - BUNDLE_HEADER_SIZE, &h, &m) < 0)
		return 0;
	for (uint32_t i = 0; i < m.chunk_count; i++)
		bundle_chunk(&m, i, &c);
	return 0;
}
