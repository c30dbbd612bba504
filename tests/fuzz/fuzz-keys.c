/* SPDX-License-Identifier: MIT */
/*
 * The key list: a key directory holding the input as a public key file and,
 * from its first newline on, as the revocation list (mbedTLS's PEM and DER
 * parsers, and ours for the list).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "fuzz.h"

static int put(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int r = fd >= 0 && (size == 0 || write(fd, data, size) == (ssize_t)size) ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64], key[96], revoked[96];
	struct crypto_keyset *kr = NULL;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/systemota-fuzz-keys-%d", (int)getpid());
		mkdir(dir, 0700);
		snprintf(key, sizeof(key), "%s/k.pem", dir);
		snprintf(revoked, sizeof(revoked), "%s/revoked", dir);
	}
	const uint8_t *nl = memchr(data, '\n', size);
	size_t cut = nl ? (size_t)(nl - data) : size;
	if (put(key, data, size) < 0 || put(revoked, data + cut, size - cut) < 0)
		return 0;
	if (crypto_keyset_load(dir, &kr) == 0)
		crypto_keyset_free(kr);
	return 0;
}
