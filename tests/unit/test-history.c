/* SPDX-License-Identifier: MIT */
/* The boot history: entry encoding, the ring, and damage to single entries. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "helpers.h"
#include "history.h"
#include "state.h"
#include "test.h"

static void entry(struct history_entry *e, uint8_t kind, uint64_t version, const char *why)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->slot = 1;
	e->version = version;
	e->time = 1700000000 + version;
	e->error = ETIMEDOUT;
	snprintf(e->label, sizeof(e->label), "v%llu", (unsigned long long)version);
	snprintf(e->reason, sizeof(e->reason), "%s", why);
}

TEST(history_entry_round_trip_and_every_corruption)
{
	struct history_entry e, got;
	uint8_t buf[HISTORY_ENTRY_SIZE];

	entry(&e, HISTORY_ROLLBACK, 7, "not confirmed after 3 trial boots");
	e.seq = 42;
	e.record_seq = 9;
	history_encode(&e, buf);
	REQUIRE(history_decode(buf, &got) == 0);
	CHECK_EQ(got.seq, 42);
	CHECK_EQ(got.record_seq, 9);
	CHECK_EQ(got.kind, HISTORY_ROLLBACK);
	CHECK_EQ(got.slot, 1);
	CHECK_EQ(got.error, ETIMEDOUT);
	CHECK_EQ(got.version, 7);
	CHECK(strcmp(got.reason, e.reason) == 0);
	CHECK(strcmp(got.label, "v7") == 0);
	/* Any single flipped byte, CRC included, makes the entry unreadable. */
	int undetected = 0;
	for (size_t i = 0; i < sizeof(buf); i++) {
		buf[i] ^= 0x20;
		undetected += history_decode(buf, &got) == 0;
		buf[i] ^= 0x20;
	}
	CHECK_EQ(undetected, 0);
	/* An empty sector is no entry. */
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(history_decode(buf, &got), -EBADMSG);
}

TEST(history_appends_in_order_and_wraps_keeping_the_newest)
{
	_cleanup_device_ struct helpers_device d = {0};
	static struct history_entry got[HISTORY_ENTRIES];
	struct state_dev dev;
	struct state_record st;
	size_t n = 0;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(state_open(d.state, true, &dev) == 0);
	REQUIRE(state_load(&dev, &st) == 0);
	REQUIRE(history_supported(&dev));
	REQUIRE(history_read(&dev, got, HISTORY_ENTRIES, &n) == 0);
	CHECK_EQ(n, 0);
	for (uint64_t v = 1; v <= HISTORY_ENTRIES + 10; v++) {
		struct history_entry e;
		entry(&e, HISTORY_TRIAL_BOOT, v, "try");
		REQUIRE(history_append(&dev, &e) == 0);
		CHECK_EQ(e.seq, v);
	}
	REQUIRE(history_read(&dev, got, HISTORY_ENTRIES, &n) == 0);
	CHECK_EQ(n, HISTORY_ENTRIES);
	/* The oldest ten were overwritten: entries 11.. remain, oldest first. */
	CHECK_EQ(got[0].version, 11);
	CHECK_EQ(got[n - 1].version, HISTORY_ENTRIES + 10);
	for (size_t i = 1; i < n; i++)
		CHECK_EQ(got[i].seq, got[i - 1].seq + 1);
	/* The newest few only. */
	REQUIRE(history_read(&dev, got, 3, &n) == 0);
	CHECK_EQ(n, 3);
	CHECK_EQ(got[2].version, HISTORY_ENTRIES + 10);
	/* The record itself is untouched by the history. */
	struct state_record again;
	CHECK_EQ(state_load(&dev, &again), 0);
	CHECK_EQ(again.seq, st.seq);
	state_close(&dev);
}

TEST(history_torn_entry_loses_only_itself)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct history_entry got[8];
	struct state_dev dev;
	struct state_record st;
	size_t n = 0;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(state_open(d.state, true, &dev) == 0);
	REQUIRE(state_load(&dev, &st) == 0);
	for (uint64_t v = 1; v <= 3; v++) {
		struct history_entry e;
		entry(&e, HISTORY_INSTALLING, v, "x");
		REQUIRE(history_append(&dev, &e) == 0);
	}
	state_close(&dev);
	/* Tear entry 2 (its sector half overwritten with garbage). */
	int fd = open(d.state, O_WRONLY);
	REQUIRE(fd >= 0);
	uint8_t junk[256];
	memset(junk, 0x5a, sizeof(junk));
	CHECK(pwrite(fd, junk, sizeof(junk), HISTORY_OFFSET + 2 * HISTORY_ENTRY_SIZE + 256) ==
	      (ssize_t)sizeof(junk));
	close(fd);
	REQUIRE(state_open(d.state, true, &dev) == 0);
	REQUIRE(history_read(&dev, got, 8, &n) == 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(got[0].version, 1);
	CHECK_EQ(got[1].version, 3);
	/* Appending goes on after the newest valid entry. */
	struct history_entry e;
	entry(&e, HISTORY_CONFIRMED, 4, "ok");
	REQUIRE(history_append(&dev, &e) == 0);
	CHECK_EQ(e.seq, 4);
	CHECK_EQ(state_load(&dev, &st), 0);
	state_close(&dev);
}

TEST(history_unsupported_on_a_small_state_device)
{
	const char *path = test_path("small-state");
	struct state_dev dev;
	struct history_entry e;

	int fd = open(path, O_CREAT | O_RDWR, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(ftruncate(fd, 64 * 1024) == 0);
	close(fd);
	REQUIRE(state_open(path, true, &dev) == 0);
	CHECK(!history_supported(&dev));
	entry(&e, HISTORY_STAGED, 1, "x");
	CHECK_EQ(history_append(&dev, &e), -ENOSPC);
	state_close(&dev);
}

TEST(history_entry_with_non_ascii_text_is_kept_sanitised)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct history_entry e, got[4];
	uint8_t buf[HISTORY_ENTRY_SIZE];
	struct state_dev dev;
	struct state_record st;
	size_t n = 0;

	/* A staged file name in UTF-8, a tab, a newline, an escape and DEL. */
	entry(&e, HISTORY_NOTE, 5, "cannot read 'upd\xc3\xa4te.sota':\tgone\n\x1b[2J\x7f!");
	snprintf(e.label, sizeof(e.label), "v5 \xe2\x80\x94 caf\xc3\xa9\x01");
	history_encode(&e, buf);
	CHECK_EQ(history_decode(buf, &got[0]), 0);

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(state_open(d.state, true, &dev) == 0);
	REQUIRE(state_load(&dev, &st) == 0);
	REQUIRE(history_append(&dev, &e) == 0);
	CHECK_EQ(e.seq, 1);
	REQUIRE(history_read(&dev, got, 4, &n) == 0);
	CHECK_EQ(n, 1);
	if (n == 1) {
		CHECK_EQ(got[0].seq, 1);
		CHECK_EQ(got[0].version, 5);
		CHECK(strcmp(got[0].reason, "cannot read 'upd??te.sota':?gone??[2J?!") == 0);
		CHECK(strcmp(got[0].label, "v5 ??? caf???") == 0);
	}
	/* The entry is there, so its sequence number is not handed out again. */
	entry(&e, HISTORY_STAGED, 6, "plain");
	REQUIRE(history_append(&dev, &e) == 0);
	CHECK_EQ(e.seq, 2);
	REQUIRE(history_read(&dev, got, 4, &n) == 0);
	CHECK_EQ(n, 2);
	REQUIRE(n > 0);
	CHECK_EQ(got[n - 1].seq, 2);
	CHECK_EQ(got[n - 1].version, 6);
	state_close(&dev);
}

/* A loop device over a file, with 4096-byte logical sectors and direct I/O: UFS, 4K-LBA media. */
struct loop {
	char dev[64];
};

static void loop_detach(struct loop *l)
{
	char cmd[128];

	if (!l->dev[0])
		return;
	snprintf(cmd, sizeof(cmd), "losetup -d '%s'", l->dev);
	if (system(cmd) != 0)
		fprintf(stderr, "  cannot detach %s\n", l->dev);
	l->dev[0] = '\0';
}

static int loop_attach(const char *path, struct loop *ret)
{
	char cmd[HELPERS_PATH_MAX + 64];

	snprintf(cmd, sizeof(cmd), "losetup -f --show -b 4096 --direct-io=on '%s'", path);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -errno;
	char *line = fgets(ret->dev, sizeof(ret->dev), p);
	int status = pclose(p);
	if (!line || status != 0 || ret->dev[0] != '/') {
		ret->dev[0] = '\0';
		return -EIO;
	}
	ret->dev[strcspn(ret->dev, "\n")] = '\0';
	return 0;
}

/* Only a machine without loop devices skips the test, and says why. */
static bool loop_available(void)
{
	const char *why = NULL;

	if (system("command -v losetup >/dev/null 2>&1") != 0)
		why = "losetup is not installed";
	else if (geteuid() != 0)
		why = "loop devices need root";
	else if (access("/dev/loop-control", F_OK) != 0)
		why = "no /dev/loop-control";
	if (why)
		fprintf(stderr, "  (skipped: %s)\n", why);
	return why == NULL;
}

static void make_file(const char *path, off_t size)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);

	CHECK(fd >= 0 && ftruncate(fd, size) == 0);
	if (fd >= 0)
		close(fd);
}

/* Both record copies committed and loaded back through 4096-byte direct I/O. */
static void check_record_on(const char *dev_path)
{
	struct state_dev dev;
	struct state_record st;
	int bs = 0;

	REQUIRE(state_open(dev_path, true, &dev) == 0);
	CHECK(ioctl(dev.fd, BLKSSZGET, &bs) == 0);
	CHECK_EQ(bs, 4096);
	CHECK(fcntl(dev.fd, F_GETFL) & O_DIRECT);
	CHECK_EQ(state_load(&dev, &st), -ENODATA);
	state_init(&st);
	st.slot[0].status = SLOT_GOOD;
	st.slot[0].version = 1;
	CHECK_EQ(state_commit(&dev, &st), 0);
	st.slot[1].version = 2;
	snprintf(st.last_reason, sizeof(st.last_reason), "second commit");
	CHECK_EQ(state_commit(&dev, &st), 0);
	state_close(&dev);
	REQUIRE(state_open(dev_path, false, &dev) == 0);
	CHECK_EQ(state_load(&dev, &st), 0);
	CHECK_EQ(st.seq, 2);
	CHECK_EQ(dev.current, 1);
	CHECK_EQ(st.slot[0].status, SLOT_GOOD);
	CHECK_EQ(st.slot[1].version, 2);
	CHECK(strcmp(st.last_reason, "second commit") == 0);
	state_close(&dev);
}

TEST(history_and_record_on_a_4096_byte_sector_device)
{
	const char *path = test_path("state-4k");
	_cleanup_(loop_detach) struct loop l = {0};
	struct history_entry e, got[16];
	struct state_dev dev;
	struct state_record st;
	char why[32];
	size_t n = 0;

	if (!loop_available())
		return;
	make_file(path, HELPERS_STATE_SIZE);
	REQUIRE(loop_attach(path, &l) == 0);
	check_record_on(l.dev);
	REQUIRE(state_open(l.dev, true, &dev) == 0);
	REQUIRE(state_load(&dev, &st) == 0);
	REQUIRE(history_supported(&dev));
	/* Ring indexes 1..10: two entries of one sector share it, and the second sector is used. */
	for (uint64_t v = 1; v <= 10; v++) {
		snprintf(why, sizeof(why), "4K try %llu", (unsigned long long)v);
		entry(&e, HISTORY_TRIAL_BOOT, v, why);
		CHECK_EQ(history_append(&dev, &e), 0);
		CHECK_EQ(e.seq, v);
	}
	state_close(&dev);
	REQUIRE(state_open(l.dev, false, &dev) == 0);
	CHECK_EQ(state_load(&dev, &st), 0);
	CHECK_EQ(st.seq, 2);
	CHECK_EQ(history_read(&dev, got, 16, &n), 0);
	state_close(&dev);
	CHECK_EQ(n, 10);
	for (size_t i = 0; i < n; i++) {
		snprintf(why, sizeof(why), "4K try %zu", i + 1);
		CHECK_EQ(got[i].seq, i + 1);
		CHECK_EQ(got[i].version, i + 1);
		CHECK_EQ(got[i].kind, HISTORY_TRIAL_BOOT);
		CHECK_EQ(got[i].record_seq, 2);
		CHECK(strcmp(got[i].reason, why) == 0);
	}
	/* On the medium itself, once detached: entry i in the i-th 512 bytes of the ring. */
	loop_detach(&l);
	uint8_t *file = NULL;
	size_t len = 0;
	REQUIRE(helpers_read_file(path, &file, &len) == 0);
	REQUIRE(len == HELPERS_STATE_SIZE);
	int found = 0;
	for (size_t i = 0; i <= 10; i++)
		found += history_decode(file + HISTORY_OFFSET + i * HISTORY_ENTRY_SIZE, &e) == 0 &&
		         e.seq == i;
	free(file);
	CHECK_EQ(found, 10);
}
