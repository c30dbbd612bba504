/* SPDX-License-Identifier: MIT */
/*
 * The drop-in directory as an attacker sharing the data partition shapes it:
 * a symlink in place of a component of the drop-in path must not make stage,
 * clean-up, status or the applier act on the directory it points to; and
 * files the record remembers as refused must not crowd a staged update out
 * of the places that are judged.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dropin.h"
#include "fail.h"
#include "helpers.h"
#include "stage.h"
#include "staged.h"
#include "state.h"
#include "test.h"

/* The number of entries of dir (-1 when it cannot be opened). */
static int count_entries(const char *dir)
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
 * Replaces data/systemota by a symlink to tmpdir/victim, whose staged/
 * holds v2.sota as a.sota (signed, installable, and done if the record says
 * so) and an unrelated b.sota: a root command that follows the link would
 * write there, or delete them.
 */
static int plant_link(const struct helpers_device *d)
{
	char sys[HELPERS_PATH_MAX + 16];
	int r = helpers_update("v2", d->key.priv, 2);

	snprintf(sys, sizeof(sys), "%s/systemota", d->data);
	if (r == 0 && (rmdir(d->dropin) < 0 || rmdir(sys) < 0))
		r = -errno;
	if (r == 0 &&
	    (mkdir(test_path("victim"), 0755) < 0 || mkdir(test_path("victim/staged"), 0755) < 0))
		r = -errno;
	if (r == 0)
		r = helpers_copy_file(test_path("v2.sota"), test_path("victim/staged/a.sota"));
	if (r == 0)
		r = helpers_copy_file(test_path("v2.img"), test_path("victim/staged/b.sota"));
	if (r == 0 && symlink(test_path("victim"), sys) < 0)
		r = -errno;
	return r;
}

/* The victim directory is exactly as planted. */
static void check_victim_intact(void)
{
	CHECK_EQ(count_entries(test_path("victim/staged")), 2);
	CHECK(helpers_files_equal(test_path("v2.sota"), test_path("victim/staged/a.sota")));
	CHECK(helpers_files_equal(test_path("v2.img"), test_path("victim/staged/b.sota")));
	CHECK_EQ(count_entries(test_path("victim")), 1);
}

/* The error names the component that is a link. */
static void check_reason_names_link(int r)
{
	if (r != -ELOOP)
		fprintf(stderr, "  returned %d (%s)\n", r, r < 0 ? fail_reason() : "");
	CHECK_EQ(r, -ELOOP);
	CHECK(strstr(fail_reason(), "systemota") != NULL);
	CHECK(strstr(fail_reason(), "symlink") != NULL);
}

TEST(dropin_symlinked_component_stage_writes_and_deletes_nothing)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(plant_link(&d) == 0);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	int r = stage_bundle(test_path("v3.sota"), d.data, HELPERS_DROPIN, d.keys,
	                     HELPERS_COMPATIBLE, &st, HELPERS_SLOT_SIZE, NULL);
	check_reason_names_link(r);
	check_victim_intact();
}

TEST(dropin_symlinked_component_cleanup_deletes_nothing)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct state_record st;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(plant_link(&d) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	/* a.sota's transaction is done: the clean-up after mark-good would remove it. */
	REQUIRE(helpers_bundle_txn(test_path("v2.sota"), st.last_done) == 0);
	int r = stage_cleanup(d.data, HELPERS_DROPIN, d.keys, &st);
	check_reason_names_link(r);
	check_victim_intact();
}

TEST(dropin_symlinked_component_list_refused)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct staged_list l = {.dirfd = -1};

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(plant_link(&d) == 0);
	int r = staged_list(d.data, HELPERS_DROPIN, NULL, &l);
	check_reason_names_link(r);
	CHECK_EQ(l.n, 0);
	staged_list_free(&l);
}

TEST(dropin_symlinked_component_apply_installs_nothing)
{
	_cleanup_device_ struct helpers_device d = {0};
	uint8_t before[CRYPTO_DIGEST_SIZE], after[CRYPTO_DIGEST_SIZE];
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(plant_link(&d) == 0);
	REQUIRE(helpers_slot_digest(&d, 1, before) == 0);
	helpers_apply(&d, &slot);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.last_error, ELOOP);
	REQUIRE(helpers_slot_digest(&d, 1, after) == 0);
	CHECK(memcmp(before, after, sizeof(before)) == 0);
	check_victim_intact();
}

/* Each component is checked, the last one too, and a file in the way is not a directory. */
TEST(dropin_last_component_link_or_file_is_refused)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct staged_list l = {.dirfd = -1};
	struct state_record st;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	REQUIRE(mkdir(test_path("elsewhere"), 0755) == 0);
	REQUIRE(rmdir(d.dropin) == 0);
	REQUIRE(symlink(test_path("elsewhere"), d.dropin) == 0);
	CHECK_EQ(stage_bundle(test_path("v3.sota"), d.data, HELPERS_DROPIN, d.keys,
	                      HELPERS_COMPATIBLE, &st, HELPERS_SLOT_SIZE, NULL),
	         -ELOOP);
	CHECK(strstr(fail_reason(), "staged") != NULL);
	CHECK_EQ(count_entries(test_path("elsewhere")), 0);
	REQUIRE(unlink(d.dropin) == 0);
	REQUIRE(helpers_copy_file(test_path("v3.img"), d.dropin) == 0);
	CHECK_EQ(staged_list(d.data, HELPERS_DROPIN, NULL, &l), -ENOTDIR);
	CHECK(strstr(fail_reason(), "staged") != NULL);
	staged_list_free(&l);
}

/*
 * Four junk files that sort before update.sota, all four remembered as
 * refused by the record: they took every judging place, so the staged update
 * was never looked at.
 */
TEST(dropin_refused_files_do_not_crowd_out_the_staged_one)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct staged_list l;
	struct state_record st;
	char path[HELPERS_PATH_MAX + 16], name[16];
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	for (int i = 0; i < STATE_REJECTED_FILES; i++) {
		snprintf(name, sizeof(name), "a%d.sota", i);
		snprintf(path, sizeof(path), "%s/%s", d.dropin, name);
		int fd = open(path, O_CREAT | O_WRONLY, 0644);
		REQUIRE(fd >= 0);
		close(fd);
		REQUIRE(helpers_fingerprint(&d, name, st.rejected[i]) == 0);
	}
	REQUIRE(helpers_write_state(d.state, &st) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	/* Listed, so that status shows them, but marked: four places are left for others. */
	REQUIRE(staged_list(d.data, HELPERS_DROPIN, &st, &l) == 0);
	CHECK_EQ(l.n, STATE_REJECTED_FILES + 1);
	for (size_t i = 0; i < l.n; i++)
		CHECK_EQ(l.files[i].refused, i < STATE_REJECTED_FILES);
	CHECK(strcmp(l.files[l.n - 1].name, "update.sota") == 0);
	staged_list_free(&l);
	helpers_apply(&d, &slot);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_TRYING);
	CHECK_EQ(st.target_version, 2);
	CHECK_EQ(slot, 1);
}

/* A listing reads a bounded number of entries, whatever the directory holds, and says so. */
TEST(dropin_listing_reads_a_bounded_number_of_entries)
{
	_cleanup_device_ struct helpers_device d = {0};
	char path[HELPERS_PATH_MAX + 16], *names[1];
	struct staged_list l;
	size_t n = 9;

	REQUIRE(helpers_device(&d) == 0);
	int fd = open(test_path("junk"), O_CREAT | O_WRONLY, 0644);
	REQUIRE(fd >= 0);
	close(fd);
	/* Hard links: many entries, one inode, a tenth of the time of as many files. */
	for (int i = 0; i < STAGED_SCAN_ENTRIES + 8; i++) {
		snprintf(path, sizeof(path), "%s/junk%05d", d.dropin, i);
		REQUIRE(link(test_path("junk"), path) == 0);
	}
	int dirfd = open(d.dropin, O_RDONLY | O_DIRECTORY);
	REQUIRE(dirfd >= 0);
	CHECK_EQ(staged_names(dirfd, names, 1, &n), 1);
	CHECK_EQ(n, 0);
	close(dirfd);
	/* The applier goes on with what it read. */
	CHECK_EQ(staged_list(d.data, HELPERS_DROPIN, NULL, &l), 0);
	CHECK_EQ(l.n, 0);
	staged_list_free(&l);
}

/* Only a relative path of plain names; stage creates what is missing, with the usual mode. */
TEST(dropin_open_path_rules_and_creation)
{
	struct stat st;
	int fd;

	REQUIRE(mkdir(test_path("data"), 0755) == 0);
	CHECK_EQ(dropin_open(test_path("data"), "/etc", true), -EINVAL);
	CHECK_EQ(dropin_open(test_path("data"), "a/../b", true), -EINVAL);
	CHECK_EQ(dropin_open(test_path("data"), "./b", true), -EINVAL);
	CHECK_EQ(dropin_open(test_path("data"), "", true), -EINVAL);
	CHECK_EQ(dropin_open(test_path("data"), "//", true), -EINVAL);
	CHECK_EQ(dropin_open(test_path("no-data"), "a", true), -ENOENT);
	CHECK_EQ(count_entries(test_path("data")), 0);
	CHECK_EQ(dropin_open(test_path("data"), "a/b", false), -ENOENT);
	CHECK(strstr(fail_reason(), "data/a") != NULL);
	fd = dropin_open(test_path("data"), "a//b/", true);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	REQUIRE(stat(test_path("data/a/b"), &st) == 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_mode & 07777 & ~(unsigned)DROPIN_DIR_MODE, 0);
	fd = dropin_open(test_path("data"), "a/b", false);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
}
