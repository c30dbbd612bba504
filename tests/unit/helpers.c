/* SPDX-License-Identifier: MIT */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "keyring.h"
#include "staged.h"
#include "test.h"
#include "util.h"

static void copy_path(char dst[HELPERS_PATH_MAX], const char *src)
{
	snprintf(dst, HELPERS_PATH_MAX, "%s", src);
}

int helpers_keypair(const char *name, struct helpers_key *ret)
{
	char buf[HELPERS_PATH_MAX];

	snprintf(buf, sizeof(buf), "%s.key", name);
	copy_path(ret->priv, test_path(buf));
	snprintf(buf, sizeof(buf), "%s-keys", name);
	copy_path(ret->dir, test_path(buf));
	snprintf(ret->pub, sizeof(ret->pub), "%s/%s.pem", ret->dir, name);
	if (mkdir(ret->dir, 0755) < 0)
		return -errno;
	return crypto_keygen(ret->priv, ret->pub);
}

int helpers_keyring_key(struct keyring *k, const char *pem, uint8_t role, uint64_t until)
{
	uint8_t id[CRYPTO_KEY_ID_SIZE];
	struct keyring_key *e = &k->keys[k->n_keys++];

	e->role = role;
	e->until_version = until;
	return crypto_point_of_file(pem, e->point, id);
}

int helpers_trusted_key(const char *name, struct helpers_key *ret, struct crypto_keyset **ret_ring)
{
	int r = helpers_keypair(name, ret);

	return r < 0 ? r : crypto_keyset_load(ret->dir, ret_ring);
}

/* xorshift32: cheap, deterministic, never 0 from a non-zero state. */
static uint32_t next_random(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

int helpers_image(const char *path, uint64_t size, uint32_t seed)
{
	uint8_t block[4096];
	uint32_t rnd = seed * 2654435761u + 1;
	uint64_t off = 0;
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	while (off < size) {
		int n = snprintf((char *)block, sizeof(block), "seed %u block %llu: ", seed,
		                 (unsigned long long)(off / sizeof(block)));
		for (size_t i = 0; i < 1024; i++)
			block[n + i] = (uint8_t)next_random(&rnd);
		for (size_t i = (size_t)n + 1024; i < sizeof(block); i++)
			block[i] =
			        (uint8_t)("the quick brown fox jumps over the lazy dog "[i % 44]);
		size_t len = (size_t)MIN((uint64_t)sizeof(block), size - off);
		if (fwrite(block, 1, len, f) != len)
			break;
		off += len;
	}
	if (fclose(f) != 0 || off != size)
		return -EIO;
	return 0;
}

void helpers_bundle_options(struct create_options *o, const char *image, const char *output,
                            const char *key, uint64_t version)
{
	static char labels[8][16];
	static int next;
	char *label = labels[next++ % 8];

	snprintf(label, sizeof(labels[0]), "v%llu", (unsigned long long)version);
	*o = (struct create_options){
	        .image = image,
	        .output = output,
	        .key = key,
	        .compatible = HELPERS_COMPATIBLE,
	        .label = label,
	        .version = version,
	        .chunk_size = HELPERS_CHUNK_SIZE,
	        .level = HELPERS_LEVEL,
	        .window_log = CODEC_MAX_WINDOW_LOG, /* the largest a device takes */
	        .created = 1700000000,
	};
}

int helpers_bundle(const char *output, const char *image, const char *key, uint64_t version)
{
	struct create_options o;

	helpers_bundle_options(&o, image, output, key, version);
	return create_bundle(&o);
}

int helpers_sized_bundle(const char *key, uint64_t size, int level)
{
	char img[HELPERS_PATH_MAX];
	struct create_options o;
	int r;

	copy_path(img, test_path("b.img"));
	r = helpers_image(img, size, 7);
	helpers_bundle_options(&o, img, test_path("b.sota"), key, 2);
	o.level = level;
	return r < 0 ? r : create_bundle(&o);
}

int helpers_bundle_txn(const char *path, uint8_t ret[CRYPTO_DIGEST_SIZE])
{
	struct bundle b;
	int r = bundle_open(path, &b);

	if (r < 0)
		return r;
	memcpy(ret, b.txn, CRYPTO_DIGEST_SIZE);
	bundle_close(&b);
	return 0;
}

static int write_file(const char *path, const uint8_t *const parts[], const size_t lens[], size_t n)
{
	FILE *f = fopen(path, "w");
	int r = 0;

	if (!f)
		return -errno;
	for (size_t i = 0; i < n && r == 0; i++)
		if (lens[i] && fwrite(parts[i], 1, lens[i], f) != lens[i])
			r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -EIO;
	return r;
}

int helpers_write_bundle(const char *path, const char *key, const struct bundle_manifest *m,
                         const uint8_t *const chunks[], const uint32_t stored_sizes[])
{
	struct bundle_header h = {.format = BUNDLE_FORMAT, .sigblock_size = BUNDLE_SIGBLOCK_SIZE};
	uint8_t digest[CRYPTO_DIGEST_SIZE];
	struct bundle_sigblock s;
	size_t sig_len;
	int r;

	h.manifest_size = BUNDLE_MANIFEST_FIXED_SIZE + BUNDLE_CHUNK_ENTRY_SIZE * m->chunk_count;
	size_t signed_len = BUNDLE_HEADER_SIZE + h.manifest_size;
	uint8_t *head = calloc(1, signed_len + BUNDLE_SIGBLOCK_SIZE);
	if (!head)
		return -ENOMEM;
	bundle_write_manifest_fixed(m, head + BUNDLE_HEADER_SIZE);
	for (uint32_t i = 0; i < m->chunk_count; i++) {
		crypto_sha256(chunks[i], stored_sizes[i], digest);
		bundle_write_chunk_entry(head + BUNDLE_HEADER_SIZE + BUNDLE_MANIFEST_FIXED_SIZE +
		                                 (size_t)BUNDLE_CHUNK_ENTRY_SIZE * i,
		                         stored_sizes[i], digest);
		h.payload_size += stored_sizes[i];
	}
	bundle_write_header(&h, head);
	crypto_sha256(head, signed_len, digest);
	r = crypto_sign(key, digest, s.sig, &sig_len, s.key_id);
	if (r == 0) {
		s.sig_len = (uint16_t)sig_len;
		bundle_write_sigblock(&s, head + signed_len);
		const uint8_t *parts[1] = {head};
		size_t lens[1] = {signed_len + BUNDLE_SIGBLOCK_SIZE};
		r = write_file(path, parts, lens, 1);
	}
	free(head);
	for (uint32_t i = 0; i < m->chunk_count && r == 0; i++) {
		FILE *f = fopen(path, "a");
		if (!f)
			return -errno;
		if (fwrite(chunks[i], 1, stored_sizes[i], f) != stored_sizes[i])
			r = -EIO;
		if (fclose(f) != 0 && r == 0)
			r = -EIO;
	}
	return r;
}

/* `systemota state init`: slot A active and GOOD at version 1. */
static int state_init_file(const char *path)
{
	const uint8_t *parts[1];
	size_t lens[1] = {HELPERS_STATE_SIZE};
	struct state_record st;
	uint8_t *zero = calloc(1, HELPERS_STATE_SIZE);
	int r;

	if (!zero)
		return -ENOMEM;
	parts[0] = zero;
	r = write_file(path, parts, lens, 1);
	free(zero);
	if (r < 0)
		return r;
	state_init(&st);
	st.active = 0;
	st.target = 1;
	st.slot[0].version = 1;
	st.slot[0].status = SLOT_GOOD;
	util_set_string(st.slot[0].label, STATE_LABEL_SIZE, "v1");
	return helpers_write_state(path, &st);
}

static int mkdir_p(const char *path)
{
	char buf[HELPERS_PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

int helpers_device(struct helpers_device *d)
{
	int r;

	memset(d, 0, sizeof(*d));
	copy_path(d->state, test_path("state"));
	copy_path(d->slot[0], test_path("slot-a"));
	copy_path(d->slot[1], test_path("slot-b"));
	copy_path(d->data, test_path("data"));
	snprintf(d->dropin, sizeof(d->dropin), "%s/%s", d->data, HELPERS_DROPIN);
	r = helpers_keypair("dev", &d->key);
	if (r == 0)
		r = crypto_keyset_load(d->key.dir, &d->keys);
	if (r == 0)
		r = state_init_file(d->state);
	if (r == 0)
		r = helpers_image(d->slot[0], HELPERS_SLOT_SIZE, HELPERS_SLOT_A_SEED);
	if (r == 0)
		r = helpers_image(d->slot[1], HELPERS_SLOT_SIZE, HELPERS_SLOT_B_SEED);
	if (r == 0)
		r = mkdir_p(d->dropin);
	d->cfg = (struct apply_config){
	        .state_path = d->state,
	        .slot_path = {d->slot[0], d->slot[1]},
	        .data_dir = d->data,
	        .dropin = HELPERS_DROPIN,
	        .keys = d->keys,
	        .compatible = HELPERS_COMPATIBLE,
	        .tries = HELPERS_TRIES,
	};
	return r;
}

void helpers_device_free(struct helpers_device *d)
{
	crypto_keyset_free(d->keys);
	d->keys = NULL;
}

int helpers_update(const char *name, const char *key, uint64_t version)
{
	char img[HELPERS_PATH_MAX], out[HELPERS_PATH_MAX];
	char buf[HELPERS_PATH_MAX];
	int r;

	snprintf(buf, sizeof(buf), "%s.img", name);
	copy_path(img, test_path(buf));
	snprintf(buf, sizeof(buf), "%s.sota", name);
	copy_path(out, test_path(buf));
	r = helpers_image(img, HELPERS_IMAGE_SIZE, (uint32_t)version);
	return r < 0 ? r : helpers_bundle(out, img, key, version);
}

int helpers_verity_update(const char *name, const char *key, uint64_t version, uint64_t size)
{
	char img[HELPERS_PATH_MAX], out[HELPERS_PATH_MAX];
	struct create_options o;

	snprintf(img, sizeof(img), "%s/%s.img", test_tmpdir(), name);
	snprintf(out, sizeof(out), "%s/%s.sota", test_tmpdir(), name);
	int r = helpers_image(img, size, (uint32_t)version);
	helpers_bundle_options(&o, img, out, key, version);
	o.verity = true;
	return r < 0 ? r : create_bundle(&o);
}

int helpers_drop(const struct helpers_device *d, const char *name)
{
	char src[HELPERS_PATH_MAX], dst[HELPERS_PATH_MAX + 16];

	snprintf(src, sizeof(src), "%s.sota", name);
	copy_path(src, test_path(src));
	snprintf(dst, sizeof(dst), "%s/update.sota", d->dropin);
	return helpers_copy_file(src, dst);
}

int helpers_fingerprint(const struct helpers_device *d, const char *name,
                        uint8_t ret[STATE_FINGERPRINT_SIZE])
{
	int dirfd = open(d->dropin, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (dirfd < 0)
		return -errno;
	r = staged_fingerprint(dirfd, name, ret);
	close(dirfd);
	return r;
}

int helpers_slot_digest(const struct helpers_device *d, int i, uint8_t ret[CRYPTO_DIGEST_SIZE])
{
	struct stat st;

	if (stat(d->slot[i], &st) < 0)
		return -errno;
	return helpers_sha256_file(d->slot[i], (uint64_t)st.st_size, ret);
}

void helpers_running(const struct helpers_device *d, int booted, struct running_config *ret)
{
	*ret = (struct running_config){
	        .state_path = d->state,
	        .slot_path = {d->slot[0], d->slot[1]},
	        .booted = booted,
	        .data_dir = d->data,
	        .dropin = HELPERS_DROPIN,
	        .keys = d->keys,
	        .compatible = HELPERS_COMPATIBLE,
	};
}

int helpers_mark_good(const struct helpers_device *d, int booted)
{
	struct running_config rc;

	helpers_running(d, booted, &rc);
	return running_mark_good(&rc);
}

int helpers_apply(struct helpers_device *d, uint8_t *ret_slot)
{
	return apply_run(&d->cfg, ret_slot);
}

int helpers_read_state(const char *path, struct state_record *ret)
{
	struct state_dev dev;
	int r = state_open(path, false, &dev);

	if (r < 0)
		return r;
	r = state_load(&dev, ret);
	state_close(&dev);
	return r;
}

int helpers_write_state(const char *path, struct state_record *r)
{
	struct state_record cur;
	struct state_dev dev;
	int e = state_open(path, true, &dev);

	if (e < 0)
		return e;
	e = state_load(&dev, &cur);
	if (e == 0 || e == -ENODATA)
		e = state_commit(&dev, r);
	state_close(&dev);
	return e;
}

int helpers_sha256_file(const char *path, uint64_t n, uint8_t ret[CRYPTO_DIGEST_SIZE])
{
	struct crypto_sha256 h;
	uint8_t buf[65536];
	uint64_t off = 0;
	int r = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	crypto_sha256_init(&h);
	while (off < n && r == 0) {
		size_t want = (size_t)MIN((uint64_t)sizeof(buf), n - off);
		r = io_pread_all(fd, buf, want, off);
		if (r == 0)
			crypto_sha256_update(&h, buf, want);
		off += want;
	}
	crypto_sha256_final(&h, ret);
	close(fd);
	return r;
}

int helpers_poke(const char *path, uint64_t off, const void *buf, size_t len)
{
	FILE *f = fopen(path, "r+b");
	int r = f && fseek(f, (long)off, SEEK_SET) == 0 && fwrite(buf, 1, len, f) == len ? 0 : -EIO;

	if (f && fclose(f) != 0)
		r = -EIO;
	return r;
}

int helpers_flip_byte(const char *path, uint64_t off)
{
	uint8_t b;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = io_pread_all(fd, &b, 1, off);
	if (r == 0) {
		b ^= 0x01;
		r = io_pwrite_all(fd, &b, 1, off);
	}
	close(fd);
	return r;
}

int helpers_read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	r = buf ? io_pread_all(fd, buf, (size_t)st.st_size, 0) : -ENOMEM;
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = (size_t)st.st_size;
	return 0;
}

int helpers_copy_file(const char *src, const char *dst)
{
	char tmp[HELPERS_PATH_MAX + 16];
	uint8_t *buf;
	size_t len;
	int r = helpers_read_file(src, &buf, &len);

	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.copying", dst);
	const uint8_t *parts[1] = {buf};
	size_t lens[1] = {len};
	r = write_file(tmp, parts, lens, 1);
	free(buf);
	if (r == 0 && rename(tmp, dst) < 0)
		r = -errno;
	return r;
}

bool helpers_files_equal(const char *a, const char *b)
{
	uint8_t *x = NULL, *y = NULL;
	size_t xl = 0, yl = 0;
	bool eq = helpers_read_file(a, &x, &xl) == 0 && helpers_read_file(b, &y, &yl) == 0 &&
	          xl == yl && memcmp(x, y, xl) == 0;

	free(x);
	free(y);
	return eq;
}

bool helpers_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static bool fd_has_suffix(int fd, const char *suffix)
{
	char link[64], target[HELPERS_PATH_MAX];
	ssize_t n;

	if (fd < 0)
		return false;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	size_t ls = strlen(suffix);
	return (size_t)n >= ls && strcmp(target + n - ls, suffix) == 0;
}

static int fault_before(void *userdata, enum io_op op, int fd, const char *path, size_t len)
{
	struct helpers_fault *f = userdata;

	(void)path;
	(void)len;
	if (f->suffix && !fd_has_suffix(fd, f->suffix))
		return 0;
	if (gettid() != getpid()) /* the code under test runs its own threads */
		__atomic_add_fetch(&f->from_threads, 1, __ATOMIC_SEQ_CST);
	if (op != f->op)
		return 0;
	/* Atomic: with f->threads, several threads may call at once. */
	int n = __atomic_add_fetch(&f->calls, 1, __ATOMIC_SEQ_CST);
	if (f->nth > 0 && n >= f->nth && n < f->nth + MAX(f->count, 1)) {
		__atomic_add_fetch(&f->failed, 1, __ATOMIC_SEQ_CST);
		/* (reads of one file come from one thread: its next read is this one) */
		if (!f->corrupt)
			return f->error;
		__atomic_store_n(&f->flip_next, true, __ATOMIC_SEQ_CST);
		return 0;
	}
	return 0;
}

static void fault_after_read(void *userdata, int fd, void *buf, size_t len, uint64_t off)
{
	struct helpers_fault *f = userdata;

	(void)off;
	/* Only the matching file's read: another thread may read another file meanwhile. */
	if (!__atomic_load_n(&f->flip_next, __ATOMIC_SEQ_CST) ||
	    (f->suffix && !fd_has_suffix(fd, f->suffix)))
		return;
	if (len > 0)
		((uint8_t *)buf)[len / 2] ^= 0x10;
	__atomic_store_n(&f->flip_next, false, __ATOMIC_SEQ_CST);
}

void helpers_fault_set(struct helpers_fault *f)
{
	if (!f) {
		io_set_hooks(NULL);
		return;
	}
	/* Threads take the O_DIRECT path, where a short write cannot be asked for. */
	if (f->threads && f->op == IO_WRITE && f->error > 0) {
		fprintf(stderr, "helpers_fault_set: no short writes with threads\n");
		abort();
	}
	f->calls = 0;
	f->failed = 0;
	f->from_threads = 0;
	f->flip_next = false;
	f->hooks = (struct io_hooks){.before = fault_before,
	                             .after_read = fault_after_read,
	                             .userdata = f,
	                             .threads = f->threads};
	io_set_hooks(&f->hooks);
}
