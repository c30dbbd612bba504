/* SPDX-License-Identifier: MIT */
#include "install.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"
#include "io.h"
#include "log.h"
#include "payload.h"
#include "testpoint.h"
#include "util.h"

#define READ_BACK_BLOCK (1024 * 1024)
#define DIRECT_ALIGN 4096

int install_slot_size(const char *path, uint64_t *ret_size)
{
	int fd = io_open(path, O_RDONLY, 0);

	if (fd < 0)
		return fail(-EIO, "cannot open slot %s: %s", path, strerror(-fd));
	int r = io_size(fd, ret_size);
	io_close(fd);
	return r < 0 ? fail(-EIO, "cannot size slot %s: %s", path, strerror(-r)) : 0;
}

static int stream(const struct bundle *b, int fd)
{
	struct payload p;
	struct payload_chunk c;
	int r = payload_open(&p, b);

	if (r < 0)
		return r;
	while ((r = payload_next(&p, &c)) > 0) {
		r = io_pwrite_all(fd, c.data, c.size, c.image_offset);
		if (r < 0) {
			r = fail(r == -ENOSPC ? -ENOSPC : -EIO, "writing slot at offset %llu: %s",
			         (unsigned long long)c.image_offset, strerror(-r));
			break;
		}
		if (c.index == b->manifest.chunk_count / 2)
			testpoint("mid-write");
	}
	payload_close(&p);
	if (r == 0)
		testpoint("written");
	return r;
}

int install_read_back(const char *path, uint64_t size, uint8_t ret_digest[CRYPTO_DIGEST_SIZE])
{
	struct crypto_sha256 h;
	void *buf = NULL;
	uint64_t off = 0, dev_size;
	int r = 0;

	/*
	 * O_DIRECT reads what the medium holds, not what we left in the page
	 * cache. Files on tmpfs (tests) refuse it; those have no medium anyway.
	 */
	int fd = io_open(path, O_RDONLY | O_DIRECT, 0);
	int direct = fd >= 0;
	if (fd == -EINVAL)
		fd = io_open(path, O_RDONLY, 0);
	if (fd < 0)
		return fail(fd, "cannot open slot %s for read-back", path);
	if (io_size(fd, &dev_size) < 0 || dev_size < size) {
		io_close(fd);
		return fail(-EIO, "slot %s shrank below the image size", path);
	}
	if (posix_memalign(&buf, DIRECT_ALIGN, READ_BACK_BLOCK) != 0) {
		io_close(fd);
		return -ENOMEM;
	}
	crypto_sha256_init(&h);
	while (off < size) {
		size_t want = (size_t)MIN((uint64_t)READ_BACK_BLOCK, size - off);
		size_t rd = want;
		/*
		 * O_DIRECT reads whole blocks: round the tail up to 4096 while that stays
		 * inside the device, else to 512 (a block device's size is a multiple
		 * of its logical block size, and that is 512 wherever 4096 does not fit).
		 */
		if (direct && rd % DIRECT_ALIGN) {
			size_t up = (rd + DIRECT_ALIGN - 1) & ~(size_t)(DIRECT_ALIGN - 1);
			if (off + up > dev_size)
				up = (rd + 511) & ~(size_t)511;
			rd = up;
		}
		r = io_pread_all(fd, buf, rd, off);
		if (r < 0) {
			r = fail(-EIO, "reading back slot at offset %llu failed",
			         (unsigned long long)off);
			break;
		}
		crypto_sha256_update(&h, buf, want);
		if (off < size / 2 && off + want >= size / 2)
			testpoint("mid-verify");
		off += want;
	}
	crypto_sha256_final(&h, ret_digest);
	free(buf);
	io_close(fd);
	return r;
}

int install_image(const struct bundle *b, const char *path)
{
	uint8_t digest[CRYPTO_DIGEST_SIZE];
	uint64_t slot_size;
	int fd, r;

	/* O_EXCL on a block device fails if it is mounted: the running root can never be the
	 * target. */
	fd = io_open(path, O_RDWR | O_EXCL, 0);
	if (fd < 0)
		return fail(fd == -EBUSY ? -EBUSY : -EIO, "cannot open target slot %s: %s", path,
		            strerror(-fd));
	r = io_size(fd, &slot_size);
	if (r == 0 && b->manifest.image_size > slot_size)
		r = fail(-ENOSPC, "image of %llu bytes does not fit slot of %llu bytes",
		         (unsigned long long)b->manifest.image_size, (unsigned long long)slot_size);
	if (r == 0)
		r = stream(b, fd);
	if (r == 0) {
		r = io_sync(fd);
		if (r < 0)
			r = fail(-EIO, "flushing slot %s failed: %s", path, strerror(-r));
		else
			testpoint("flushed");
	}
	int c = io_close(fd);
	if (r == 0 && c < 0)
		r = fail(-EIO, "closing slot %s failed: %s", path, strerror(-c));
	if (r < 0)
		return r;
	log_info("image written (%llu bytes); reading it back",
	         (unsigned long long)b->manifest.image_size);
	r = install_read_back(path, b->manifest.image_size, digest);
	if (r < 0)
		return r;
	if (memcmp(digest, b->manifest.image_digest, sizeof(digest)) != 0)
		return fail(-EIO, "slot %s reads back different from the image written", path);
	return 0;
}
