/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The I/O layer. Every open, read, write, flush, rename and unlink that the
 * applier, mark-good and stage make goes through these functions, so that a
 * test can record the writes and flushes (to enumerate crash states) or fail
 * any single call (fault injection). In production no hooks are set and each
 * function is a thin, EINTR-safe wrapper around the system call.
 *
 * All functions return >= 0 on success and -errno on failure. The *_all
 * variants either transfer every byte or fail; a short transfer that makes no
 * progress is reported as -EIO.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum io_op { IO_OPEN, IO_READ, IO_WRITE, IO_SYNC, IO_RENAME, IO_UNLINK, IO_CLOSE, IO_IOCTL_DM };

/*
 * Test hooks. before() is called before each operation, with the file
 * descriptor it acts on, or for open, rename and unlink (fd -1) the path; if it returns a
 * negative errno, the operation is not performed and that error is returned.
 * For IO_WRITE it may instead return a positive byte count smaller than len,
 * to simulate a short write (that many bytes are written, then the call
 * reports the short count to its caller). after_write() and after_sync() are
 * called after a successful write or flush, with what was done.
 */
struct io_hooks {
	int (*before)(void *userdata, enum io_op op, int fd, const char *path, size_t len);
	void (*after_write)(void *userdata, int fd, const void *buf, size_t len, uint64_t off);
	void (*after_sync)(void *userdata, int fd);
	/* After a successful read, with the bytes read: a test may change them (a lying medium). */
	void (*after_read)(void *userdata, int fd, void *buf, size_t len, uint64_t off);
	/*
	 * A device-mapper emulator. When set, io_dm_ioctl() calls it INSTEAD of
	 * ioctl(2) (after before() allowed the call). Contract: buf is a struct
	 * dm_ioctl of <linux/dm-ioctl.h> whose data_size is the whole buffer; the
	 * emulator SHALL behave as the kernel does (fill the result fields, set
	 * DM_BUFFER_FULL_FLAG when the result does not fit, return -errno as the
	 * kernel's errno: -ENXIO for a missing device, -EBUSY for a busy one) and
	 * returns 0 on success. An emulator has no device nodes: it SHALL report
	 * dev = 0 on DM_DEV_CREATE, and dm.c then makes no /dev/mapper node.
	 */
	int (*dm_ioctl)(void *userdata, unsigned long cmd, void *buf);
	void *userdata;
	/*
	 * The hooks may be called from several threads at once, and never ask
	 * for a short write: code keeps its threads (and its O_DIRECT writes)
	 * with them. Without it, io_serial() is true.
	 */
	bool threads;
};

/* Installs hooks (NULL removes them). Tests only. */
void io_set_hooks(const struct io_hooks *hooks);

/*
 * Whether hooks are installed that want every call from one thread. Code
 * that would spread its I/O over threads keeps it in one thread then, so that
 * a test sees the same sequence of calls on every run (fault injection counts
 * them, crash-state enumeration records them).
 */
bool io_serial(void);

int io_open(const char *path, int flags, mode_t mode);
int io_openat(int dirfd, const char *path, int flags, mode_t mode);
int io_close(int fd);

/* For _cleanup_(io_closep) int fd = -1: a close through this layer, so tests see it. */
static inline void io_closep(int *fd)
{
	if (*fd >= 0)
		io_close(*fd);
	*fd = -1;
}

/* Reads exactly len bytes at off. A file that ends first gives -ENODATA. */
int io_pread_all(int fd, void *buf, size_t len, uint64_t off);

/* Reads exactly len bytes from the current position; -ENODATA at a premature end. */
int io_read_all(int fd, void *buf, size_t len);

/* Writes exactly len bytes at off. */
int io_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

/* Flushes the file's data (and the metadata needed to read it back) to stable storage. */
int io_sync(int fd);

int io_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int io_unlinkat(int dirfd, const char *path, int flags);

/*
 * A device-mapper ioctl on the control device fd (dm.c is its only caller):
 * before(IO_IOCTL_DM, fd, NULL, 0), then the dm_ioctl hook if set, else
 * ioctl(2) (EINTR-safe). 0 or -errno.
 */
int io_dm_ioctl(int fd, unsigned long cmd, void *dm_ioctl_buf);

/* The size of a regular file or a block device, in bytes. */
int io_size(int fd, uint64_t *ret_size);

/*
 * The unit an O_DIRECT write to fd must be sized and aligned in: a block device's logical
 * block size (4096 on UFS and 4K-LBA media), a regular file's direct-I/O alignment where the
 * kernel reports it, else 512. Always a power of two, at least 512.
 */
int io_block_size(int fd, size_t *ret_size);
