/* SPDX-License-Identifier: MIT */
#include "staged.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fail.h"
#include "io.h"
#include "log.h"
#include "util.h"

#define SUFFIX ".sota"

int staged_fingerprint(int dirfd, const char *name, uint8_t ret[STATE_FINGERPRINT_SIZE])
{
	uint8_t digest[CRYPTO_DIGEST_SIZE];
	struct crypto_sha256 h;
	struct stat st;
	uint8_t buf[56];

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	util_put_le64(buf, (uint64_t)st.st_ino);
	util_put_le64(buf + 8, (uint64_t)st.st_size);
	util_put_le64(buf + 16, (uint64_t)st.st_mtim.tv_sec);
	util_put_le64(buf + 24, (uint64_t)st.st_mtim.tv_nsec);
	util_put_le64(buf + 32, (uint64_t)st.st_ctim.tv_sec);
	util_put_le64(buf + 40, (uint64_t)st.st_ctim.tv_nsec);
	util_put_le64(buf + 48, (uint64_t)st.st_mode);
	crypto_sha256_init(&h);
	crypto_sha256_update(&h, name, strlen(name));
	crypto_sha256_update(&h, buf, sizeof(buf));
	crypto_sha256_final(&h, digest);
	memcpy(ret, digest, STATE_FINGERPRINT_SIZE);
	/* Zero means "no file" in the record; a real fingerprint never is. */
	if (util_is_zero(ret, STATE_FINGERPRINT_SIZE))
		ret[0] = 1;
	return 0;
}

static int is_bundle_name(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > strlen(SUFFIX) &&
	       strcmp(name + n - strlen(SUFFIX), SUFFIX) == 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int staged_names(int dirfd, char **ret_names, size_t max, size_t *ret_n)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = fdopendir(dup(dirfd));

	if (!d)
		return fail(-EIO, "cannot list the drop-in directory: %s", strerror(errno));
	while ((de = readdir(d))) {
		if (!is_bundle_name(de->d_name) || strlen(de->d_name) >= STAGED_NAME_MAX)
			continue;
		if (n == max) {
			log_warn("more than %zu *.sota entries; ignoring the rest", max);
			break;
		}
		ret_names[n] = strdup(de->d_name);
		if (!ret_names[n]) {
			closedir(d);
			staged_names_free(ret_names, n);
			return -ENOMEM;
		}
		n++;
	}
	closedir(d);
	qsort(ret_names, n, sizeof(ret_names[0]), name_cmp);
	*ret_n = n;
	return 0;
}

void staged_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
}

int staged_list(const char *dir, struct staged_list *ret)
{
	char *names[STAGED_SCAN_MAX];
	size_t n;
	int fd, r;

	memset(ret, 0, sizeof(*ret));
	ret->dirfd = -1;
	/* O_NOFOLLOW: the drop-in directory itself must not be a symlink to elsewhere. */
	fd = io_open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return fail(fd == -ENOENT ? -ENOENT : -EIO, "cannot open drop-in directory %s: %s",
		            dir, strerror(-fd));
	r = staged_names(fd, names, STAGED_SCAN_MAX, &n);
	if (r < 0) {
		io_close(fd);
		return r;
	}
	/* The first ones by name, whatever order the directory lists them in. */
	for (size_t i = 0; i < n && ret->n < STAGED_MAX_FILES; i++) {
		struct staged_file *f = &ret->files[ret->n];
		snprintf(f->name, sizeof(f->name), "%s", names[i]);
		if (staged_fingerprint(fd, f->name, f->fingerprint) == 0)
			ret->n++;
	}
	if (n > STAGED_MAX_FILES)
		log_warn("%zu staged files; only the first %d by name are considered", n,
		         STAGED_MAX_FILES);
	staged_names_free(names, n);
	ret->dirfd = fd;
	return 0;
}

void staged_list_free(struct staged_list *l)
{
	if (l->dirfd >= 0)
		io_close(l->dirfd);
	l->dirfd = -1;
	l->n = 0;
}

int staged_open(const struct staged_list *l, const struct staged_file *f,
                const struct crypto_keyring *keys, struct bundle *ret)
{
	struct stat st;
	int fd, r;

	memset(ret, 0, sizeof(*ret));
	ret->fd = -1;
	/* Look before opening: opening a device node, FIFO or socket can itself have effects. */
	if (fstatat(l->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(errno == ENOENT ? -ENOENT : -EIO, "cannot stat %s: %s", f->name,
		            strerror(errno));
	if (S_ISLNK(st.st_mode))
		return fail(-EBADMSG, "%s: a symlink, not a bundle", f->name);
	if (!S_ISREG(st.st_mode))
		return fail(-EBADMSG, "%s: not a regular file", f->name);
	/* Still O_NOFOLLOW and O_NONBLOCK: it may have been swapped since the look. */
	fd = io_openat(l->dirfd, f->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0) {
		if (fd == -ELOOP)
			return fail(-EBADMSG, "%s: a symlink, not a bundle", f->name);
		return fail(fd == -ENOENT ? -ENOENT : -EIO, "cannot open %s: %s", f->name,
		            strerror(-fd));
	}
	r = bundle_open_fd(fd, ret);
	if (r == 0) {
		r = bundle_verify(ret, keys);
		if (r < 0)
			bundle_close(ret);
	}
	return r;
}

bool staged_is_verdict(int error)
{
	switch (-error) {
	case EBADMSG:
	case EPROTO:
	case EFBIG:
	case ENOKEY:
	case EKEYREJECTED:
	case EKEYREVOKED:
	case EMEDIUMTYPE:
	case ESTALE:
	case ENOSPC:
		return true;
	default:
		return false;
	}
}

int staged_check(const struct bundle *b, const char *compatible, const struct state_record *st,
                 uint64_t slot_size)
{
	const struct bundle_manifest *m = &b->manifest;
	uint64_t installed = st->slot[st->active].version;

	if (memcmp(b->txn, st->last_done, CRYPTO_DIGEST_SIZE) == 0) {
		log_info("version %llu is already installed", (unsigned long long)m->version);
		return STAGED_SKIP;
	}
	if (memcmp(b->txn, st->last_failed, CRYPTO_DIGEST_SIZE) == 0) {
		log_info("version %llu failed before (%s); not retrying it",
		         (unsigned long long)m->version, st->last_reason);
		return STAGED_SKIP;
	}
	if (strncmp(m->compatible, compatible, sizeof(m->compatible)) != 0)
		return fail(-EMEDIUMTYPE, "bundle is for '%s', this device is '%s'", m->compatible,
		            compatible);
	/* After the record was lost nothing tells a downgrade: refused until re-stated. */
	if (st->flags & STATE_FLAG_VERSIONS_UNKNOWN)
		return fail(-ESTALE,
		            "installed versions unknown since the record was "
		            "re-initialised; re-state them (systemota state init --force)");
	/* Not newer is refused, unless the device itself allowed exactly this version. */
	if (m->version <= installed && !(st->allow_version && m->version == st->allow_version))
		return fail(-ESTALE, "version %llu is not newer than the installed %llu",
		            (unsigned long long)m->version, (unsigned long long)installed);
	if (m->version < st->version_floor)
		return fail(-ESTALE, "version %llu is below the minimum version %llu",
		            (unsigned long long)m->version, (unsigned long long)st->version_floor);
	if (slot_size && m->image_size > slot_size)
		return fail(-ENOSPC, "image of %llu bytes does not fit the %llu-byte slot",
		            (unsigned long long)m->image_size, (unsigned long long)slot_size);
	return 0;
}
