/* SPDX-License-Identifier: MIT */
#include "staged.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "boot.h"
#include "dropin.h"
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

/*
 * Calls fn(name, userdata) for each "*.sota" entry of dirfd, reading at most
 * STAGED_SCAN_ENTRIES entries from the directory's start: the offset is
 * shared with every dup of dirfd, and a listing that went on from where the
 * previous one stopped skipped entries. fn returns 0 to go on, > 0 to stop,
 * or -errno. Returns 0, 1 when the bound stopped it, or -errno.
 */
static int scan(int dirfd, int (*fn)(const char *name, void *userdata), void *userdata)
{
	struct dirent *de;
	size_t seen = 0;
	bool truncated = false;
	int r = 0, fd = dup(dirfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (!d) {
		r = fail(-EIO, "cannot list the drop-in directory: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	rewinddir(d);
	while (r == 0) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0)
				r = fail(-EIO, "cannot list the drop-in directory: %s",
				         strerror(errno));
			break;
		}
		if (++seen > STAGED_SCAN_ENTRIES) {
			truncated = true;
			break;
		}
		if (is_bundle_name(de->d_name) && strlen(de->d_name) < STAGED_NAME_MAX)
			r = fn(de->d_name, userdata);
	}
	closedir(d);
	return r < 0 ? r : truncated;
}

struct names {
	char **names;
	size_t n, max;
};

static int add_name(const char *name, void *userdata)
{
	struct names *c = userdata;

	if (c->n == c->max)
		return 1;
	c->names[c->n] = strdup(name);
	if (!c->names[c->n])
		return fail(-ENOMEM, "out of memory listing the drop-in directory");
	c->n++;
	return 0;
}

int staged_names(int dirfd, char **ret_names, size_t max, size_t *ret_n)
{
	struct names c = {.names = ret_names, .max = max};
	int r = scan(dirfd, add_name, &c);

	if (r < 0) {
		staged_names_free(ret_names, c.n);
		return r;
	}
	qsort(ret_names, c.n, sizeof(ret_names[0]), name_cmp);
	*ret_n = c.n;
	return r;
}

void staged_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
}

/* The STAGED_LIST_MAX first names by name, of all the directory holds: no sorting of them all. */
struct first_names {
	char names[STAGED_LIST_MAX][STAGED_NAME_MAX];
	size_t n, total;
};

static int keep_first(const char *name, void *userdata)
{
	struct first_names *f = userdata;
	size_t i = f->n;

	f->total++;
	while (i > 0 && strcmp(name, f->names[i - 1]) < 0)
		i--;
	if (i == STAGED_LIST_MAX)
		return 0;
	size_t moved = f->n - i - (f->n == STAGED_LIST_MAX);
	memmove(f->names[i + 1], f->names[i], moved * STAGED_NAME_MAX);
	snprintf(f->names[i], STAGED_NAME_MAX, "%s", name);
	f->n += f->n < STAGED_LIST_MAX;
	return 0;
}

/*
 * In name order, the first STAGED_MAX_FILES names st does not remember as
 * refused, and the remembered ones before them. At most STATE_REJECTED_FILES
 * are remembered, so the first STAGED_LIST_MAX names hold them all.
 */
static void pick(int fd, const struct first_names *first, const struct state_record *st,
                 struct staged_list *ret)
{
	size_t judged = 0;

	for (size_t i = 0; i < first->n && judged < STAGED_MAX_FILES; i++) {
		struct staged_file *f = &ret->files[ret->n];
		snprintf(f->name, sizeof(f->name), "%s", first->names[i]);
		if (staged_fingerprint(fd, f->name, f->fingerprint) < 0)
			continue; /* gone since it was listed */
		f->refused = st && boot_is_rejected(st, f->fingerprint);
		judged += !f->refused;
		ret->n++;
	}
	if (first->total > ret->n)
		log_warn("%zu staged files; only the first %zu by name that were not refused "
		         "before are considered",
		         first->total, judged);
}

int staged_list(const char *data_dir, const char *dropin, const struct state_record *st,
                struct staged_list *ret)
{
	struct first_names first = {.n = 0};
	int fd, r;

	memset(ret, 0, sizeof(*ret));
	ret->dirfd = -1;
	/* No component followed through a symlink: it could point anywhere. */
	fd = dropin_open(data_dir, dropin, false);
	if (fd < 0)
		return fd;
	r = scan(fd, keep_first, &first);
	if (r == 1)
		log_warn("the drop-in directory has more than %d entries; only the first %d read "
		         "were looked at",
		         STAGED_SCAN_ENTRIES, STAGED_SCAN_ENTRIES);
	if (r >= 0)
		pick(fd, &first, st, ret);
	if (r < 0) {
		io_close(fd);
		return r;
	}
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
                const struct crypto_keyset *keys, const struct keyring *adopted, struct bundle *ret)
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
		r = bundle_verify(ret, keys, adopted);
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
