/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Opening the drop-in directory, data_dir/path, without following a symlink
 * anywhere below data_dir.
 *
 * data_dir is the caller's (the applier's own mount point, or the configured
 * data directory) and is opened as given: it may itself be a symlink an
 * integrator made. What lies below it is on the data partition, which other
 * writers share: a link they plant in place of any component (not only the
 * last) would otherwise make root's stage write, and its clean-up delete,
 * in a directory of their choosing. So path is walked one component at a
 * time with openat(O_NOFOLLOW | O_DIRECTORY) from the directory before it.
 * (openat2's RESOLVE_NO_SYMLINKS would do the same in one call, but only on
 * Linux 5.6 and later, and without saying which component was refused.)
 */

#include <stdbool.h>

#define DROPIN_DIR_MODE 0755 /* of components that dropin_open() creates */

/*
 * Opens data_dir/path as a directory (O_RDONLY). path is relative, with no
 * "." or ".." component (empty components, as in "a//b", are skipped). With
 * create, missing components are made (mode DROPIN_DIR_MODE), and each is
 * still opened without following a link, so one planted between the mkdir
 * and the open is refused too.
 *
 * Returns the fd, or -errno with a reason naming the component:
 * -ENOENT (data_dir or, without create, a component is missing),
 * -ELOOP (a component is a symlink), -ENOTDIR (a component is something
 * other than a directory), -EINVAL (path is absolute, empty or has "." or
 * ".."), -ENAMETOOLONG, or the error of the open or mkdir itself.
 */
int dropin_open(const char *data_dir, const char *path, bool create);
