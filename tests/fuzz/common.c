/* SPDX-License-Identifier: MIT */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"

int fuzz_memfd(const uint8_t *data, size_t size)
{
	static int quiet;
	int fd;

	if (!quiet) {
		log_set_level(LOG_LEVEL_SILENT);
		quiet = 1;
	}
	fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	return fd;
}
