/* SPDX-License-Identifier: MIT */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct io_hooks *hooks;

void io_set_hooks(const struct io_hooks *h)
{
	hooks = h;
}

bool io_serial(void)
{
	return hooks != NULL && !hooks->threads;
}

static int before(enum io_op op, int fd, const char *path, size_t len)
{
	if (!hooks || !hooks->before)
		return 0;
	return hooks->before(hooks->userdata, op, fd, path, len);
}

int io_open(const char *path, int flags, mode_t mode)
{
	return io_openat(AT_FDCWD, path, flags, mode);
}

int io_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int r = before(IO_OPEN, -1, path, 0);
	if (r < 0)
		return r;
	do
		r = openat(dirfd, path, flags | O_CLOEXEC, mode);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

int io_close(int fd)
{
	/* Our own close hook lets fault injection reach close, where NFS-like errors surface. */
	int r = before(IO_CLOSE, fd, NULL, 0);
	int c = close(fd);
	if (r < 0)
		return r;
	return c < 0 && errno != EINTR ? -errno : 0;
}

static int read_loop(int fd, uint8_t *p, size_t len, uint64_t off, int positional)
{
	while (len > 0) {
		int r = before(IO_READ, fd, NULL, len);
		if (r < 0)
			return r;
		ssize_t n = positional ? pread(fd, p, len, (off_t)off) : read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA;
		if (hooks && hooks->after_read)
			hooks->after_read(hooks->userdata, fd, p, (size_t)n, off);
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int io_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	return read_loop(fd, buf, len, off, 1);
}

int io_read_all(int fd, void *buf, size_t len)
{
	return read_loop(fd, buf, len, 0, 0);
}

int io_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		size_t want = len;
		int r = before(IO_WRITE, fd, NULL, len);
		if (r < 0)
			return r;
		if (r > 0 && (size_t)r < len)
			want = (size_t)r; /* injected short write */
		ssize_t n = pwrite(fd, p, want, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		if (hooks && hooks->after_write)
			hooks->after_write(hooks->userdata, fd, p, (size_t)n, off);
		if (want != len)
			return -EIO; /* the injected short write: the device gave up */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int io_sync(int fd)
{
	int r = before(IO_SYNC, fd, NULL, 0);
	if (r < 0)
		return r;
	if (fsync(fd) < 0)
		return -errno;
	if (hooks && hooks->after_sync)
		hooks->after_sync(hooks->userdata, fd);
	return 0;
}

int io_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	int r = before(IO_RENAME, -1, newpath, 0);
	if (r < 0)
		return r;
	return renameat(olddirfd, oldpath, newdirfd, newpath) < 0 ? -errno : 0;
}

int io_unlinkat(int dirfd, const char *path, int flags)
{
	int r = before(IO_UNLINK, -1, path, 0);
	if (r < 0)
		return r;
	return unlinkat(dirfd, path, flags) < 0 ? -errno : 0;
}

int io_dm_ioctl(int fd, unsigned long cmd, void *dm_ioctl_buf)
{
	int r = before(IO_IOCTL_DM, fd, NULL, 0);
	if (r < 0)
		return r;
	if (hooks && hooks->dm_ioctl)
		return hooks->dm_ioctl(hooks->userdata, cmd, dm_ioctl_buf);
	do
		r = ioctl(fd, cmd, dm_ioctl_buf);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

int io_size(int fd, uint64_t *ret_size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*ret_size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t size;
		if (ioctl(fd, BLKGETSIZE64, &size) < 0)
			return -errno;
		*ret_size = size;
		return 0;
	}
	return -EBADF;
}

int io_block_size(int fd, size_t *ret_size)
{
	struct stat st;
	int bs = 512;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode) && ioctl(fd, BLKSSZGET, &bs) < 0)
		return -errno;
#ifdef STATX_DIOALIGN
	struct statx sx;
	if (S_ISREG(st.st_mode) && statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
	    (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align > 512)
		bs = (int)sx.stx_dio_offset_align;
#endif
	if (bs < 512 || (bs & (bs - 1)) != 0)
		return -EINVAL;
	*ret_size = (size_t)bs;
	return 0;
}
