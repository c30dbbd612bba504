/* SPDX-License-Identifier: MIT */
#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <mntent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fail.h"
#include "log.h"
#include "slot.h"
#include "util.h"

#define DATA_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOSYMFOLLOW)

/*
 * What each type is told. errors: what the filesystem does on an error it
 * finds (ext4's errors=panic in the superblock would reset the device at
 * every boot; continue lets the applier decide). norecovery: the option that
 * leaves a dirty journal alone on a read-only mount.
 */
static const struct fstype_options {
	const char *name;
	const char *errors;
	const char *norecovery;
} fstypes[] = {
        {"ext4", "errors=continue", "noload"},
        {"ext3", "errors=continue", "noload"},
        {"ext2", "errors=continue", NULL},
        {"xfs", NULL, "norecovery"},
        {"btrfs", NULL, "nologreplay"},
        {"f2fs", NULL, "norecovery"},
        {"vfat", NULL, NULL},
};

static const struct fstype_options *find_fstype(const char *fstype)
{
	for (size_t i = 0; i < ARRAY_SIZE(fstypes); i++)
		if (strcmp(fstype, fstypes[i].name) == 0)
			return &fstypes[i];
	return NULL;
}

static bool is_ext(const char *fstype)
{
	return strncmp(fstype, "ext", 3) == 0;
}

int mount_fstype_supported(const char *fstype)
{
	if (find_fstype(fstype))
		return 0;
	return fail(-EINVAL,
	            "data-fstype '%s' is not one of ext4, ext3, ext2, xfs, btrfs, f2fs, vfat",
	            fstype);
}

int mount_data_options(const char *fstype, bool journal_dirty, unsigned long *ret_flags,
                       char data[MOUNT_DATA_SIZE])
{
	const struct fstype_options *o = find_fstype(fstype);

	if (!o)
		return mount_fstype_supported(fstype);
	snprintf(data, MOUNT_DATA_SIZE, "%s%s%s", o->errors ? o->errors : "",
	         o->errors && journal_dirty && o->norecovery ? "," : "",
	         journal_dirty && o->norecovery ? o->norecovery : "");
	*ret_flags = DATA_FLAGS;
	return 0;
}

/* ext2/3/4 superblock, at byte 1024: the fields that say a mount would write. */
#define EXT_SB_OFFSET 1024
#define EXT_MAGIC_AT 0x38
#define EXT_MAGIC 0xef53
#define EXT_INCOMPAT_AT 0x60
#define EXT_INCOMPAT_RECOVER 0x4
#define EXT_LAST_ORPHAN_AT 0xe8

static uint32_t le32_at(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int mount_journal_dirty(const char *dev, const char *fstype)
{
	uint8_t sb[256];

	if (!is_ext(fstype))
		return 1;
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(-errno, "cannot open %s: %s", dev, strerror(errno));
	ssize_t n = pread(fd, sb, sizeof(sb), EXT_SB_OFFSET);
	int err = errno;
	close(fd);
	if (n != (ssize_t)sizeof(sb))
		return fail(-EIO, "cannot read the superblock of %s: %s", dev,
		            n < 0 ? strerror(err) : "short read");
	if ((sb[EXT_MAGIC_AT] | sb[EXT_MAGIC_AT + 1] << 8) != EXT_MAGIC)
		return fail(-EINVAL, "%s is not %s (no ext superblock)", dev, fstype);
	return (le32_at(sb + EXT_INCOMPAT_AT) & EXT_INCOMPAT_RECOVER) ||
	       le32_at(sb + EXT_LAST_ORPHAN_AT) != 0;
}

/*
 * Sets the block device dev read-only (1) or writable (0) for the kernel: with
 * it read-only no filesystem can write it, whatever it decides (ext4 cleans up
 * orphans even on a read-only mount, noload or not). A file (tests) is left
 * alone.
 */
static int set_device_ro(const char *dev, int ro)
{
	struct stat st;

	if (stat(dev, &st) < 0 || !S_ISBLK(st.st_mode))
		return 0;
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(-errno, "cannot open %s: %s", dev, strerror(errno));
	int r = ioctl(fd, BLKROSET, &ro) < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return fail(r, "cannot make %s %s: %s", dev, ro ? "read-only" : "writable",
		            strerror(-r));
	return 0;
}

int mount_data_ro(const char *dev, const char *dir, const char *fstype)
{
	unsigned long flags;
	char data[MOUNT_DATA_SIZE];
	int dirty = mount_journal_dirty(dev, fstype);
	int r = mount_data_options(fstype, dirty != 0, &flags, data);

	if (r < 0)
		return r;
	if (dirty > 0)
		log_info("data partition %s: journal needs recovery; mounting it without (%s)", dev,
		         data);
	if (set_device_ro(dev, 1) < 0)
		log_warn("%s; mounting it read-only all the same", fail_reason());
	if (mount(dev, dir, fstype, flags, data) == 0)
		return 0;
	/* Before Linux 5.10 an unknown flag is EINVAL: the rest still holds. */
	if (errno == EINVAL && mount(dev, dir, fstype, flags & ~MS_NOSYMFOLLOW, data) == 0) {
		log_warn("kernel without nosymfollow: data partition mounted following symlinks");
		return 0;
	}
	int err = errno;
	(void)set_device_ro(dev, 0);
	return fail(-EIO, "cannot mount data partition %s (%s, %s): %s", dev, fstype, data,
	            strerror(err));
}

/* The device mounted at dir, and whether its journal was left unloaded (norecovery). */
static int find_mount(const char *dir, char dev[MOUNT_DEV_SIZE], bool *ret_norecovery)
{
	FILE *f = setmntent("/proc/self/mounts", "re");
	struct mntent *m, me;
	char buf[4096];
	int r = -ENOENT;

	if (!f)
		return fail(-errno, "cannot read /proc/self/mounts: %s", strerror(errno));
	while ((m = getmntent_r(f, &me, buf, sizeof(buf)))) {
		if (strcmp(m->mnt_dir, dir) != 0)
			continue;
		r = util_set_string(dev, MOUNT_DEV_SIZE, m->mnt_fsname) < 0 ? -ENAMETOOLONG : 0;
		*ret_norecovery = hasmntopt(m, "norecovery") || hasmntopt(m, "noload") ||
		                  hasmntopt(m, "nologreplay");
	}
	endmntent(f);
	return r < 0 ? fail(r, "no data partition mounted at %s", dir) : 0;
}

static int remount(const char *dir, unsigned long flags)
{
	if (mount(NULL, dir, NULL, MS_REMOUNT | flags, NULL) == 0)
		return 0;
	if (errno == EINVAL &&
	    mount(NULL, dir, NULL, MS_REMOUNT | (flags & ~MS_NOSYMFOLLOW), NULL) == 0)
		return 0;
	return -errno;
}

int mount_data_writable(const char *dir, bool writable)
{
	char dev[MOUNT_DEV_SIZE];
	bool norecovery = false;
	int r = find_mount(dir, dev, &norecovery);

	if (r < 0)
		return r;
	if (writable && norecovery)
		return fail(-EROFS, "the data partition's journal needs recovery, which "
		                    "the running system does: not writing it before");
	if (writable) {
		r = set_device_ro(dev, 0);
		if (r == 0 && (r = remount(dir, DATA_FLAGS & ~MS_RDONLY)) < 0)
			(void)set_device_ro(dev, 1);
	} else if ((r = remount(dir, DATA_FLAGS)) == 0) {
		(void)set_device_ro(dev, 1);
	}
	if (r < 0)
		return fail(-EIO, "cannot make the data partition %s: %s",
		            writable ? "writable" : "read-only", strerror(-r));
	return 0;
}

int mount_data_release(const char *dir)
{
	char dev[MOUNT_DEV_SIZE];
	bool norecovery;
	int r = find_mount(dir, dev, &norecovery);

	if (r < 0)
		return r;
	r = umount(dir) < 0 ? -errno : 0;
	/* Even if it stays mounted: the running system must be able to write it. */
	(void)set_device_ro(dev, 0);
	return r < 0 ? fail(r, "cannot unmount the data partition: %s", strerror(-r)) : 0;
}

int mount_slot(const char *dev, const char *dir)
{
	_cleanup_free_ char *fstype = NULL;
	int r = slot_fstype(dev, &fstype);

	if (r < 0)
		return r;
	/* The slot was just verified: its bytes must stay those (no journal replay). */
	bool journaled = strcmp(fstype, "ext4") == 0 || strcmp(fstype, "ext3") == 0;
	if (mount(dev, dir, fstype, MS_RDONLY | MS_NODEV | MS_NOSUID, journaled ? "noload" : NULL) <
	    0)
		return fail(-EIO, "cannot mount the new slot: %s", strerror(errno));
	return 0;
}
