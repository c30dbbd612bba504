/* SPDX-License-Identifier: MIT */
/* How the applier mounts: the options it asks for, and a dirty ext4 left unchanged. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "helpers.h"
#include "mount.h"
#include "test.h"

#define SAFE (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOSYMFOLLOW)

TEST(mount_data_options_per_type)
{
	unsigned long flags = 0;
	char data[MOUNT_DATA_SIZE];

	REQUIRE(mount_data_options("ext4", false, &flags, data) == 0);
	CHECK_EQ(flags, SAFE);
	CHECK(strcmp(data, "errors=continue") == 0);
	REQUIRE(mount_data_options("ext4", true, &flags, data) == 0);
	CHECK_EQ(flags, SAFE);
	CHECK(strcmp(data, "errors=continue,noload") == 0);
	REQUIRE(mount_data_options("ext2", true, &flags, data) == 0);
	CHECK(strcmp(data, "errors=continue") == 0);
	REQUIRE(mount_data_options("xfs", true, &flags, data) == 0);
	CHECK(strcmp(data, "norecovery") == 0);
	REQUIRE(mount_data_options("btrfs", true, &flags, data) == 0);
	CHECK(strcmp(data, "nologreplay") == 0);
	REQUIRE(mount_data_options("vfat", true, &flags, data) == 0);
	CHECK_EQ(flags, SAFE);
	CHECK(strcmp(data, "") == 0);
	CHECK_EQ(mount_data_options("ntfs", false, &flags, data), -EINVAL);
	CHECK_EQ(mount_fstype_supported("ext4"), 0);
	CHECK_EQ(mount_fstype_supported(""), -EINVAL);
}

/* Runs a shell command in the tmpdir; its first output line into out (if given). */
__attribute__((format(printf, 3, 4))) static int sh(char *out, size_t size, const char *fmt, ...)
{
	char cmd[2048], line[256] = "";
	va_list ap;

	snprintf(cmd, sizeof(cmd), "cd '%s' && ", test_tmpdir());
	va_start(ap, fmt);
	vsnprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), fmt, ap);
	va_end(ap);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -errno;
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	int status = pclose(p);
	line[strcspn(line, "\n")] = '\0';
	if (out)
		snprintf(out, size, "%s", line);
	return status == 0 ? 0 : -EIO;
}

/*
 * An ext4 image whose journal needs recovery: copied while it was mounted
 * read-write, after a write and a sync (the journal holds the transaction, the
 * superblock says needs_recovery).
 */
static int dirty_ext4(void)
{
	return sh(NULL, 0,
	          "truncate -s 16M clean.img && mkfs.ext4 -q -F clean.img && mkdir -p m && "
	          "L=$(losetup -f --show clean.img) && mount \"$L\" m && "
	          "echo staged > m/update.sota && sync && cp clean.img %s && umount m && "
	          "losetup -d \"$L\"",
	          "dirty.img");
}

/*
 * The image's sha256 after a mount with mount_data_ro (fixed) or with the
 * applier's old options; *ret_ok: the file was there (and, fixed, the device
 * was read-only while mounted and writable again after mount_data_release).
 */
static int mounted_digest(const char *img, bool fixed, char digest[65], bool *ret_ok)
{
	char dev[64], dir[HELPERS_PATH_MAX];
	int r = sh(dev, sizeof(dev), "losetup -f --show %s", img);

	if (r < 0)
		return r;
	snprintf(dir, sizeof(dir), "%s", test_path("m"));
	if (fixed)
		r = mount_data_ro(dev, dir, "ext4");
	else
		r = mount(dev, dir, "ext4", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0
		            ? -errno
		            : 0;
	if (r == 0) {
		char ro[8] = "";
		*ret_ok = helpers_exists(test_path("m/update.sota"));
		/* Read-only down to the device while mounted, writable again after. */
		if (fixed)
			*ret_ok &= sh(ro, sizeof(ro), "blockdev --getro %s", dev) == 0 &&
			           strcmp(ro, "1") == 0;
		if (fixed)
			r = mount_data_release(dir);
		else
			umount(dir);
		if (fixed)
			*ret_ok &= sh(ro, sizeof(ro), "blockdev --getro %s", dev) == 0 &&
			           strcmp(ro, "0") == 0;
	}
	sh(NULL, 0, "losetup -d %s", dev);
	if (r < 0)
		return r;
	return sh(digest, 65, "sha256sum %s | cut -c1-64", img);
}

TEST(mount_data_ro_leaves_a_dirty_ext4_journal_alone)
{
	char before[65], old[65], fixed[65];
	bool read_old = false, read_fixed = false;

	if (geteuid() != 0 || sh(NULL, 0, "command -v mkfs.ext4 losetup %s", "> /dev/null") < 0 ||
	    dirty_ext4() < 0) {
		printf("  (skipped: needs root, loop devices and mkfs.ext4)\n");
		return;
	}
	REQUIRE(sh(NULL, 0, "cp dirty.img %s", "old.img") == 0);
	REQUIRE(sh(before, sizeof(before), "sha256sum %s | cut -c1-64", "dirty.img") == 0);
	/* The control: the options the applier used to mount with replay the journal. */
	REQUIRE(mounted_digest("old.img", false, old, &read_old) == 0);
	CHECK(read_old);
	CHECK(strcmp(before, old) != 0);
	REQUIRE(mounted_digest("dirty.img", true, fixed, &read_fixed) == 0);
	CHECK(read_fixed);
	CHECK(strcmp(before, fixed) == 0);
	if (test_failed())
		printf("  before %s\n  old    %s\n  fixed  %s\n", before, old, fixed);
}

/*
 * An orphan in the superblock (an open, unlinked or truncated file when the
 * power went): ext4 cleans it up even on a read-only noload mount, writing
 * the partition without its journal, unless the block device is read-only.
 */
TEST(mount_data_ro_leaves_ext4_orphans_alone)
{
	char before[65], old[65], fixed[65];
	bool ok_old = false, ok_fixed = false;

	if (geteuid() != 0 || sh(NULL, 0, "command -v debugfs losetup %s", "> /dev/null") < 0 ||
	    dirty_ext4() < 0 ||
	    sh(NULL, 0, "cp clean.img orphan.img && debugfs -w -R 'ssv last_orphan 12' %s",
	       "orphan.img > /dev/null 2>&1") < 0) {
		printf("  (skipped: needs root, loop devices, mkfs.ext4 and debugfs)\n");
		return;
	}
	REQUIRE(sh(NULL, 0, "cp orphan.img %s", "old.img") == 0);
	REQUIRE(sh(before, sizeof(before), "sha256sum %s | cut -c1-64", "orphan.img") == 0);
	REQUIRE(mounted_digest("old.img", false, old, &ok_old) == 0);
	CHECK(ok_old);
	CHECK(strcmp(before, old) != 0);
	REQUIRE(mounted_digest("orphan.img", true, fixed, &ok_fixed) == 0);
	CHECK(ok_fixed);
	CHECK(strcmp(before, fixed) == 0);
	if (test_failed())
		printf("  before %s\n  old    %s\n  fixed  %s\n", before, old, fixed);
}
