/* SPDX-License-Identifier: MIT */
/*
 * A whole staged file: opened as the applier opens it (header, sizes against
 * the file, the signed part read once, manifest, signature block), its
 * signature checked against the development key, and, if that passes, its
 * payload streamed.
 */
#include <stdlib.h>
#include <unistd.h>

#include "bundle.h"
#include "crypto.h"
#include "fuzz.h"
#include "payload.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct crypto_keyset *keys;
	struct payload_chunk c;
	struct payload p;
	struct bundle b;

	if (!keys && crypto_keyset_load(TOP_SRCDIR "/keys/trusted", &keys) < 0)
		abort();
	int fd = fuzz_memfd(data, size);
	if (fd < 0 || bundle_open_fd(fd, &b) < 0)
		return 0;
	if (bundle_verify(&b, keys, NULL) == 0 && payload_open(&p, &b) == 0) {
		while (payload_next(&p, &c) > 0)
			;
		payload_close(&p);
	}
	bundle_close(&b);
	return 0;
}
