/* SPDX-License-Identifier: MIT */
#include "dropin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "fail.h"
#include "io.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW)

/*
 * Opens the component name of parent, which is shown in reasons as
 * data_dir/shown (the path up to and including it).
 */
static int open_component(int parent, const char *name, const char *data_dir, int shown_len,
                          const char *shown, bool create)
{
	struct stat st;
	int fd = io_openat(parent, name, DIR_FLAGS, 0);

	if (fd == -ENOENT && create) {
		/* EEXIST: made meanwhile, by a racing stage or a planter; the open judges it. */
		if (mkdirat(parent, name, DROPIN_DIR_MODE) < 0 && errno != EEXIST)
			return fail(-errno, "cannot create %s/%.*s: %s", data_dir, shown_len, shown,
			            strerror(errno));
		fd = io_openat(parent, name, DIR_FLAGS, 0);
	}
	if (fd >= 0)
		return fd;
	/* O_DIRECTORY | O_NOFOLLOW gives ENOTDIR for a link too: tell the two apart. */
	if (fd == -ENOTDIR || fd == -ELOOP) {
		if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			return fail(-ELOOP,
			            "%s/%.*s is a symlink; the drop-in path is not followed "
			            "through links",
			            data_dir, shown_len, shown);
		return fail(-ENOTDIR, "%s/%.*s is not a directory", data_dir, shown_len, shown);
	}
	if (fd == -ENOENT)
		return fail(-ENOENT, "%s/%.*s does not exist", data_dir, shown_len, shown);
	return fail(fd, "cannot open %s/%.*s: %s", data_dir, shown_len, shown, strerror(-fd));
}

/* Copies the component at *s (up to the next '/') into name, and moves *s past it. */
static int next_component(const char **s, char name[NAME_MAX + 1])
{
	size_t len = strcspn(*s, "/");

	if (len > NAME_MAX)
		return fail(-ENAMETOOLONG, "drop-in path component too long");
	memcpy(name, *s, len);
	name[len] = '\0';
	*s += len;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return fail(-EINVAL, "drop-in path has a '%s' component", name);
	return 0;
}

/* Checked whole before the walk, so that a bad path creates nothing. */
static int check_path(const char *path)
{
	char name[NAME_MAX + 1];
	int components = 0, r = 0;

	if (path[0] == '/')
		return fail(-EINVAL, "drop-in path %s is not relative to the data directory", path);
	for (const char *s = path; *s && r == 0;) {
		if (*s == '/') {
			s++;
			continue;
		}
		r = next_component(&s, name);
		components++;
	}
	if (r == 0 && components == 0)
		r = fail(-EINVAL, "the drop-in path is empty");
	return r;
}

int dropin_open(const char *data_dir, const char *path, bool create)
{
	char name[NAME_MAX + 1];
	const char *s = path;
	int fd, r = check_path(path);

	if (r < 0)
		return r;
	fd = io_open(data_dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fail(fd, "cannot open the data directory %s: %s", data_dir, strerror(-fd));
	while (*s) {
		if (*s == '/') {
			s++;
			continue;
		}
		(void)next_component(&s, name); /* checked above */
		int next = open_component(fd, name, data_dir, (int)(s - path), path, create);
		io_close(fd);
		if (next < 0)
			return next;
		fd = next;
	}
	return fd;
}
