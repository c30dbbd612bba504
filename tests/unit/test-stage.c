/* SPDX-License-Identifier: MIT */
/*
 * Staging from the running system: only a completely verified bundle takes
 * the name update.sota, atomically; a refused one, or a failed write, leaves
 * the drop-in directory exactly as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "helpers.h"
#include "stage.h"
#include "state.h"
#include "test.h"

#define SNAPSHOT_MAX 4096

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "name inode size sha256-prefix" for every entry of dir, in name order; "" if dir is missing. */
static void snapshot(const char *dir, char out[SNAPSHOT_MAX])
{
	char *names[64];
	size_t n = 0, len = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	out[0] = '\0';
	if (!d)
		return;
	while ((de = readdir(d)) && n < 64)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char path[HELPERS_PATH_MAX * 2];
		uint8_t digest[CRYPTO_DIGEST_SIZE] = {0};
		struct stat st = {0};
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		lstat(path, &st);
		helpers_sha256_file(path, (uint64_t)st.st_size, digest);
		len += (size_t)snprintf(
		        out + len, SNAPSHOT_MAX - len, "%s %llu %llu %02x%02x%02x%02x\n", names[i],
		        (unsigned long long)st.st_ino, (unsigned long long)st.st_size, digest[0],
		        digest[1], digest[2], digest[3]);
		free(names[i]);
	}
}

/* The number of entries in dir. */
static int count_entries(const char *dir)
{
	char snap[SNAPSHOT_MAX];
	int n = 0;

	snapshot(dir, snap);
	for (const char *s = snap; *s; s++)
		n += *s == '\n';
	return n;
}

static const char *staged(const struct helpers_device *d, const char *name)
{
	static char buf[4][HELPERS_PATH_MAX * 2];
	static int next;
	char *b = buf[next++ % 4];

	snprintf(b, sizeof(buf[0]), "%s/%s", d->dropin, name);
	return b;
}

/* stage_bundle() of tmpdir/NAME.sota onto d, as `systemota stage` does it. */
static int stage(const struct helpers_device *d, const char *name, uint64_t slot_size)
{
	char src[HELPERS_PATH_MAX];
	struct state_record st;
	int r = helpers_read_state(d->state, &st);

	if (r < 0)
		return r;
	snprintf(src, sizeof(src), "%s.sota", name);
	return stage_bundle(test_path(src), d->data, HELPERS_DROPIN, d->keys, HELPERS_COMPATIBLE,
	                    &st, slot_size, NULL);
}

TEST(stage_good_bundle_is_byte_identical)
{
	_cleanup_device_ struct helpers_device d = {0};

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	CHECK_EQ(stage(&d, "v2", HELPERS_SLOT_SIZE), 0);
	CHECK(helpers_files_equal(test_path("v2.sota"), staged(&d, "update.sota")));
	CHECK(!helpers_exists(staged(&d, ".update.sota.tmp")));
	CHECK_EQ(count_entries(d.dropin), 1);
	/* Without a known slot size (0) the size is simply not checked. */
	CHECK_EQ(stage(&d, "v2", 0), 0);
	CHECK(helpers_files_equal(test_path("v2.sota"), staged(&d, "update.sota")));
}

TEST(stage_creates_missing_dropin_dir)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	struct stage_info staged = {.version = 99};
	REQUIRE(mkdir(test_path("fresh"), 0755) == 0);
	CHECK_EQ(stage_bundle(test_path("v2.sota"), test_path("fresh"), HELPERS_DROPIN, d.keys,
	                      HELPERS_COMPATIBLE, &st, HELPERS_SLOT_SIZE, &staged),
	         0);
	CHECK(helpers_files_equal(test_path("v2.sota"),
	                          test_path("fresh/systemota/staged/update.sota")));
	/* What was staged, for the history entry `systemota stage` writes. */
	CHECK_EQ(staged.version, 2);
	CHECK(strcmp(staged.label, "v2") == 0);
}

TEST(stage_second_bundle_replaces_first_and_others)
{
	_cleanup_device_ struct helpers_device d = {0};

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	/* Left there by hand: an older copy, an unrelated file. */
	REQUIRE(helpers_copy_file(test_path("v2.sota"), staged(&d, "old.sota")) == 0);
	REQUIRE(helpers_copy_file(test_path("v2.img"), staged(&d, "notes.txt")) == 0);

	CHECK_EQ(stage(&d, "v2", HELPERS_SLOT_SIZE), 0);
	CHECK(helpers_files_equal(test_path("v2.sota"), staged(&d, "update.sota")));
	CHECK(!helpers_exists(staged(&d, "old.sota")));
	CHECK(helpers_exists(staged(&d, "notes.txt")));

	REQUIRE(helpers_copy_file(test_path("v2.sota"), staged(&d, "zzz.sota")) == 0);
	CHECK_EQ(stage(&d, "v3", HELPERS_SLOT_SIZE), 0);
	CHECK(helpers_files_equal(test_path("v3.sota"), staged(&d, "update.sota")));
	CHECK(!helpers_exists(staged(&d, "zzz.sota")));
	CHECK(helpers_exists(staged(&d, "notes.txt")));
	CHECK(!helpers_exists(staged(&d, ".update.sota.tmp")));
	CHECK_EQ(count_entries(d.dropin), 2);
}

/* Entries of dir by readdir, without snapshot()'s cap of 64. */
static int count_all(const char *dir)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

/*
 * With more *.sota entries than one listing holds, later rounds went on from
 * where the last one stopped (the directory's offset is shared by every dup of
 * its fd): 445 of 700 junk files stayed, and sorted before the staged update.
 */
TEST(stage_removes_every_other_of_700_junk_files)
{
	_cleanup_device_ struct helpers_device d = {0};
	char name[32];

	REQUIRE(helpers_device(&d) == 0);
	for (int i = 0; i < 700; i++) {
		snprintf(name, sizeof(name), "j%03d.sota", i);
		FILE *f = fopen(staged(&d, name), "w");
		REQUIRE(f != NULL);
		fclose(f);
	}
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	CHECK_EQ(count_all(d.dropin), 700);
	CHECK_EQ(stage(&d, "v2", HELPERS_SLOT_SIZE), 0);
	int left = count_all(d.dropin);
	if (left != 1)
		fprintf(stderr, "  %d entries left after staging\n", left);
	CHECK_EQ(left, 1);
	CHECK(helpers_files_equal(test_path("v2.sota"), staged(&d, "update.sota")));
}

/* tmpdir/NAME.sota must be refused with code, the drop-in directory untouched. */
static void check_refused(const struct helpers_device *d, const char *name, uint64_t slot_size,
                          int code)
{
	char before[SNAPSHOT_MAX], after[SNAPSHOT_MAX];

	snapshot(d->dropin, before);
	int r = stage(d, name, slot_size);
	if (r != code)
		fprintf(stderr, "  staging %s: %d\n", name, r);
	CHECK_EQ(r, code);
	snapshot(d->dropin, after);
	if (strcmp(before, after) != 0)
		fprintf(stderr, "  %s changed the drop-in directory:\n%s--- to ---\n%s", name,
		        before, after);
	CHECK(strcmp(before, after) == 0);
}

/* A device with v2 already staged and a stray file, so "unchanged" means something. */
static int staged_device(struct helpers_device *d)
{
	int r = helpers_device(d);

	if (r == 0)
		r = helpers_update("v2", d->key.priv, 2);
	if (r == 0)
		r = stage(d, "v2", HELPERS_SLOT_SIZE);
	if (r == 0)
		r = helpers_copy_file(test_path("v2.img"), staged(d, "notes.txt"));
	return r;
}

TEST(stage_refuses_untrusted_key)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_key other;

	REQUIRE(staged_device(&d) == 0);
	REQUIRE(helpers_keypair("other", &other) == 0);
	REQUIRE(helpers_update("evil", other.priv, 3) == 0);
	check_refused(&d, "evil", HELPERS_SLOT_SIZE, -ENOKEY);
}

TEST(stage_refuses_bad_signature_and_truncation)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct stat st;

	REQUIRE(staged_device(&d) == 0);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	REQUIRE(helpers_copy_file(test_path("v3.sota"), test_path("forged.sota")) == 0);
	REQUIRE(helpers_flip_byte(test_path("forged.sota"), BUNDLE_HEADER_SIZE + 72) == 0);
	check_refused(&d, "forged", HELPERS_SLOT_SIZE, -EKEYREJECTED);
	REQUIRE(helpers_copy_file(test_path("v3.sota"), test_path("short.sota")) == 0);
	REQUIRE(stat(test_path("short.sota"), &st) == 0);
	REQUIRE(truncate(test_path("short.sota"), st.st_size - 1) == 0);
	check_refused(&d, "short", HELPERS_SLOT_SIZE, -EBADMSG);
}

TEST(stage_refuses_flipped_payload_byte)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct bundle b;

	REQUIRE(staged_device(&d) == 0);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	REQUIRE(bundle_open(test_path("v3.sota"), &b) == 0);
	uint64_t first = b.payload_offset + 5, last = b.payload_offset + b.header.payload_size - 1;
	bundle_close(&b);
	REQUIRE(helpers_copy_file(test_path("v3.sota"), test_path("bad0.sota")) == 0);
	REQUIRE(helpers_flip_byte(test_path("bad0.sota"), first) == 0);
	check_refused(&d, "bad0", HELPERS_SLOT_SIZE, -EBADMSG);
	/* In the last chunk: refused after most of the file was copied into the temporary. */
	REQUIRE(helpers_copy_file(test_path("v3.sota"), test_path("bad4.sota")) == 0);
	REQUIRE(helpers_flip_byte(test_path("bad4.sota"), last) == 0);
	check_refused(&d, "bad4", HELPERS_SLOT_SIZE, -EBADMSG);
}

TEST(stage_refuses_wrong_compatible)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct create_options o;

	REQUIRE(staged_device(&d) == 0);
	REQUIRE(helpers_image(test_path("x.img"), HELPERS_IMAGE_SIZE, 3) == 0);
	helpers_bundle_options(&o, test_path("x.img"), test_path("x.sota"), d.key.priv, 3);
	o.compatible = "test-board-2";
	REQUIRE(create_bundle(&o) == 0);
	check_refused(&d, "x", HELPERS_SLOT_SIZE, -EMEDIUMTYPE);
}

TEST(stage_refuses_older_version_and_oversize)
{
	_cleanup_device_ struct helpers_device d = {0};

	REQUIRE(staged_device(&d) == 0);
	REQUIRE(helpers_update("v1", d.key.priv, 1) == 0);
	check_refused(&d, "v1", HELPERS_SLOT_SIZE, -ESTALE);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	check_refused(&d, "v3", HELPERS_IMAGE_SIZE - 1, -ENOSPC);
}

TEST(stage_refuses_bundle_already_installed_or_failed)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;

	REQUIRE(staged_device(&d) == 0);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	REQUIRE(helpers_bundle_txn(test_path("v3.sota"), st.last_failed) == 0);
	REQUIRE(helpers_write_state(d.state, &st) == 0);
	check_refused(&d, "v3", HELPERS_SLOT_SIZE, -EALREADY);
}

TEST(stage_cleanup_removes_only_the_done_bundle)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_key other;
	struct state_record st;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_keypair("other", &other) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	REQUIRE(helpers_update("evil", other.priv, 2) == 0);
	REQUIRE(helpers_copy_file(test_path("v2.sota"), staged(&d, "update.sota")) == 0);
	REQUIRE(helpers_copy_file(test_path("v3.sota"), staged(&d, "next.sota")) == 0);
	REQUIRE(helpers_copy_file(test_path("evil.sota"), staged(&d, "evil.sota")) == 0);
	REQUIRE(helpers_copy_file(test_path("v2.img"), staged(&d, "junk.sota")) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	REQUIRE(helpers_bundle_txn(test_path("v2.sota"), st.last_done) == 0);

	CHECK_EQ(stage_cleanup(d.data, HELPERS_DROPIN, d.keys, &st), 1);
	CHECK(!helpers_exists(staged(&d, "update.sota")));
	CHECK(helpers_files_equal(test_path("v3.sota"), staged(&d, "next.sota")));
	CHECK(helpers_exists(staged(&d, "evil.sota")));
	CHECK(helpers_exists(staged(&d, "junk.sota")));
	CHECK_EQ(stage_cleanup(d.data, HELPERS_DROPIN, d.keys, &st), 0);
	CHECK_EQ(stage_cleanup(d.data, "no-such-dir", d.keys, &st), 0);
}

/*
 * Stages v3 with one I/O call failing, over an empty drop-in directory or
 * over one where v2 is staged: the call fails, no temporary file is left,
 * and update.sota is what it was (absent, or v2).
 */
static void check_stage_fault(struct helpers_fault f, bool v2_staged)
{
	_cleanup_device_ struct helpers_device d = {0};
	char before[SNAPSHOT_MAX], after[SNAPSHOT_MAX];

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	if (v2_staged) {
		REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
		REQUIRE(stage(&d, "v2", HELPERS_SLOT_SIZE) == 0);
	}
	snapshot(d.dropin, before);
	helpers_fault_set(&f);
	int r = stage(&d, "v3", HELPERS_SLOT_SIZE);
	helpers_fault_set(NULL);
	CHECK_EQ(f.failed, 1);
	CHECK_EQ(r, -EIO);
	CHECK(!helpers_exists(staged(&d, ".update.sota.tmp")));
	if (v2_staged)
		CHECK(helpers_files_equal(test_path("v2.sota"), staged(&d, "update.sota")));
	else
		CHECK(!helpers_exists(staged(&d, "update.sota")));
	snapshot(d.dropin, after);
	if (strcmp(before, after) != 0)
		fprintf(stderr, "  drop-in directory changed:\n%s--- to ---\n%s", before, after);
	CHECK(strcmp(before, after) == 0);
}

#define TMP_SUFFIX "/.update.sota.tmp"

TEST(stage_fault_temp_fsync_fails)
{
	check_stage_fault((struct helpers_fault){IO_SYNC, TMP_SUFFIX, 1, -EIO}, false);
}

TEST(stage_fault_temp_fsync_fails_over_staged)
{
	check_stage_fault((struct helpers_fault){IO_SYNC, TMP_SUFFIX, 1, -EIO}, true);
}

TEST(stage_fault_rename_fails)
{
	check_stage_fault((struct helpers_fault){IO_RENAME, NULL, 1, -EIO}, false);
}

TEST(stage_fault_rename_fails_over_staged)
{
	check_stage_fault((struct helpers_fault){IO_RENAME, NULL, 1, -EIO}, true);
}

TEST(stage_fault_temp_write_fails)
{
	check_stage_fault((struct helpers_fault){IO_WRITE, TMP_SUFFIX, 3, -EIO}, true);
}

TEST(stage_fault_temp_close_fails)
{
	check_stage_fault((struct helpers_fault){IO_CLOSE, TMP_SUFFIX, 1, -EIO}, true);
}

TEST(stage_fault_dir_fsync_fails_is_reported_consistently)
{
	/*
	 * The directory flush comes after the rename. Whatever stage_bundle()
	 * answers must be true: an error means nothing was staged (stage.h:
	 * "On failure nothing in the drop-in directory changes"); success
	 * means v3 is staged.
	 */
	_cleanup_device_ struct helpers_device d = {0};
	struct helpers_fault f = {IO_SYNC, "/systemota/staged", 1, -EIO};
	char before[SNAPSHOT_MAX], after[SNAPSHOT_MAX];

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	snapshot(d.dropin, before);
	helpers_fault_set(&f);
	int r = stage(&d, "v3", HELPERS_SLOT_SIZE);
	helpers_fault_set(NULL);
	CHECK_EQ(f.failed, 1);
	CHECK(!helpers_exists(staged(&d, ".update.sota.tmp")));
	snapshot(d.dropin, after);
	if (r < 0) {
		if (strcmp(before, after) != 0)
			fprintf(stderr, "  returned %d, yet staged:\n%s", r, after);
		CHECK(strcmp(before, after) == 0);
	} else {
		CHECK(helpers_files_equal(test_path("v3.sota"), staged(&d, "update.sota")));
	}
}
