/* SPDX-License-Identifier: MIT */
/*
 * checkpoint.c over an emulated device-mapper (the io.h dm_ioctl hook): the COW
 * header, the exact ioctl sequences, and every dm ioctl failed in turn.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "checkpoint.h"
#include "dm.h"
#include "fail.h"
#include "io.h"
#include "test.h"

struct emu_dev {
	char name[DM_NAME_LEN];
	char type[16], params[256];   /* the live table ("" = none) */
	char itype[16], iparams[256]; /* the inactive one */
	bool used, suspended;
};

struct emu {
	struct emu_dev dev[4];
	char seq[512]; /* one letter an ioctl */
	int calls, fail_nth, merge_polls;
};

static struct emu_dev *emu_find(struct emu *e, const char *name)
{
	for (size_t i = 0; i < 4; i++)
		if (e->dev[i].used && strcmp(e->dev[i].name, name) == 0)
			return &e->dev[i];
	return NULL;
}

static const char *emu_status(struct emu *e, const struct emu_dev *d)
{
	if (strcmp(d->type, "snapshot") == 0)
		return "24/16384 16";
	if (strcmp(d->type, "snapshot-merge") == 0)
		return e->merge_polls-- > 0 ? "24/16384 16" : "16/16384 16";
	return "";
}

static int emu_table(struct emu *e, struct emu_dev *d, struct dm_ioctl *io)
{
	const char *line = (io->flags & DM_STATUS_TABLE_FLAG) ? d->params : emu_status(e, d);
	struct dm_target_spec *s = (struct dm_target_spec *)((uint8_t *)io + io->data_start);

	io->target_count = d->type[0] ? 1 : 0;
	if (!d->type[0])
		return 0;
	s->length = 2048;
	snprintf(s->target_type, sizeof(s->target_type), "%s", d->type);
	strcpy((char *)(s + 1), line);
	s->next = (uint32_t)((sizeof(*s) + strlen(line) + 1 + 7) & ~7u);
	io->data_size = io->data_start + s->next;
	return 0;
}

static int emu_load(struct emu_dev *d, struct dm_ioctl *io)
{
	struct dm_target_spec *s = (struct dm_target_spec *)((uint8_t *)io + io->data_start);
	if (io->target_count != 1)
		return -EINVAL;
	snprintf(d->itype, sizeof(d->itype), "%s", s->target_type);
	snprintf(d->iparams, sizeof(d->iparams), "%s", (char *)(s + 1));
	return 0;
}

static int emu_suspend(struct emu_dev *d, struct dm_ioctl *io)
{
	if (io->flags & DM_SUSPEND_FLAG) {
		d->suspended = true;
		return 0;
	}
	if (d->itype[0]) {
		memcpy(d->type, d->itype, sizeof(d->type));
		memcpy(d->params, d->iparams, sizeof(d->params));
		d->itype[0] = d->iparams[0] = '\0';
	}
	d->suspended = false;
	return 0;
}

static int emu_ioctl(void *userdata, unsigned long cmd, void *buf)
{
	struct emu *e = userdata;
	struct dm_ioctl *io = buf;
	struct emu_dev *d = emu_find(e, io->name);
	static const char letters[] = "V??CX?RsWLK?T";
	unsigned nr = _IOC_NR(cmd);
	char c = nr < sizeof(letters) - 1 ? letters[nr] : '?';
	size_t n = strlen(e->seq);

	if (nr == DM_DEV_SUSPEND_CMD && (io->flags & DM_SUSPEND_FLAG))
		c = 'S';
	if (n + 1 < sizeof(e->seq)) {
		e->seq[n] = c;
		e->seq[n + 1] = '\0';
	}
	io->version[0] = 4;
	if (nr == DM_VERSION_CMD)
		return 0;
	if (nr == DM_DEV_CREATE_CMD) {
		if (d)
			return -EBUSY;
		for (size_t i = 0; i < 4; i++)
			if (!e->dev[i].used) {
				e->dev[i] = (struct emu_dev){.used = true};
				snprintf(e->dev[i].name, sizeof(e->dev[i].name), "%s", io->name);
				io->dev = 0;
				return 0;
			}
		return -ENOMEM;
	}
	if (!d)
		return -ENXIO;
	switch (nr) {
	case DM_DEV_REMOVE_CMD:
		d->used = false;
		return 0;
	case DM_DEV_STATUS_CMD:
		return 0;
	case DM_TABLE_LOAD_CMD:
		return emu_load(d, io);
	case DM_TABLE_CLEAR_CMD:
		d->itype[0] = '\0';
		return 0;
	case DM_DEV_SUSPEND_CMD:
		return emu_suspend(d, io);
	case DM_TABLE_STATUS_CMD:
		return emu_table(e, d, io);
	}
	return -ENOTTY;
}

static int emu_before(void *userdata, enum io_op op, int fd, const char *path, size_t len)
{
	struct emu *e = userdata;
	(void)fd, (void)path, (void)len;
	if (op != IO_IOCTL_DM)
		return 0;
	return ++e->calls == e->fail_nth ? -EIO : 0;
}

static struct emu emu;
static struct io_hooks emu_hooks = {.before = emu_before, .dm_ioctl = emu_ioctl, .userdata = &emu};

static char *data_path, *cow_path;

static void emu_setup(void)
{
	char b[4096] = {0};
	memset(&emu, 0, sizeof(emu));
	data_path = strdup(test_path("data"));
	cow_path = strdup(test_path("cow"));
	FILE *f = fopen(data_path, "w");
	fwrite(b, 1, sizeof(b), f);
	fclose(f);
	f = fopen(cow_path, "w");
	for (int i = 0; i < 4; i++)
		fwrite(b, 1, sizeof(b), f);
	fclose(f);
	f = fopen(test_path("control"), "w");
	fclose(f);
	dm_set_dir(test_tmpdir());
	io_set_hooks(&emu_hooks);
}

static void emu_teardown(void)
{
	io_set_hooks(NULL);
	dm_set_dir(NULL);
	free(data_path);
	free(cow_path);
	data_path = cow_path = NULL;
}

static void write_header(uint32_t magic, uint32_t valid, uint32_t version, uint32_t chunk)
{
	uint32_t h[4] = {magic, valid, version, chunk}; /* the test hosts are little-endian */
	int fd = open(cow_path, O_WRONLY);
	(void)!pwrite(fd, h, sizeof(h), 0);
	close(fd);
}

TEST(checkpoint_parse_header_forms)
{
	struct checkpoint_header h;
	uint8_t b[16] = {0};
	uint32_t w[4] = {CHECKPOINT_SNAP_MAGIC, 1, 1, 8};

	REQUIRE(checkpoint_parse_header(b, sizeof(b), &h) == 0);
	CHECK(!h.present);
	memcpy(b, w, sizeof(w));
	REQUIRE(checkpoint_parse_header(b, sizeof(b), &h) == 0);
	CHECK(h.present && h.valid);
	CHECK_EQ(h.chunk_sectors, 8);
	b[4] = 0;
	REQUIRE(checkpoint_parse_header(b, sizeof(b), &h) == 0);
	CHECK(h.present && !h.valid);
	CHECK_EQ(checkpoint_parse_header(b, 15, &h), -EBADMSG);
	static const uint32_t bad[][4] = {{0x70416e54, 1, 1, 8},
	                                  {CHECKPOINT_SNAP_MAGIC, 2, 1, 8},
	                                  {CHECKPOINT_SNAP_MAGIC, 1, 1, 0},
	                                  {CHECKPOINT_SNAP_MAGIC, 1, 1, 12}};
	for (size_t i = 0; i < 4; i++) {
		memcpy(b, bad[i], sizeof(b));
		CHECK_EQ(checkpoint_parse_header(b, sizeof(b), &h), -EBADMSG);
	}
	memcpy(w, (uint32_t[]){CHECKPOINT_SNAP_MAGIC, 1, 2, 8}, sizeof(w));
	memcpy(b, w, sizeof(b));
	CHECK_EQ(checkpoint_parse_header(b, sizeof(b), &h), -EPROTO);
}

TEST(checkpoint_header_reset)
{
	struct checkpoint_header h;

	emu_setup();
	write_header(CHECKPOINT_SNAP_MAGIC, 1, 1, 8);
	REQUIRE(checkpoint_cow_header(cow_path, &h) == 0);
	CHECK(h.present);
	int r = checkpoint_reset(cow_path);
	if (r == -EINVAL) {
		printf("     (no O_DIRECT on this tmpdir: reset not checked)\n");
	} else {
		CHECK_EQ(r, 0);
		REQUIRE(checkpoint_cow_header(cow_path, &h) == 0);
		CHECK(!h.present);
	}
	emu_teardown();
}

/* The sequence without the V of each control open, for readability. */
static const char *seq(void)
{
	static char out[512];
	size_t j = 0;
	for (size_t i = 0; emu.seq[i]; i++)
		if (emu.seq[i] != 'V')
			out[j++] = emu.seq[i];
	out[j] = '\0';
	emu.seq[0] = '\0';
	return out;
}

TEST(checkpoint_ioctl_sequences)
{
	struct checkpoint_usage u;

	emu_setup();
	REQUIRE(checkpoint_map(data_path, cow_path, CHECKPOINT_TRIAL) == 0);
	/* s s: both absent; then the snapshot before its origin, each create+load+resume */
	CHECK(strcmp(seq(), "ssCLRCLR") == 0);
	CHECK(strcmp(emu_find(&emu, CHECKPOINT_DATA_NAME)->type, "snapshot-origin") == 0);
	CHECK(strcmp(emu_find(&emu, CHECKPOINT_SNAP_NAME)->type, "snapshot") == 0);
	REQUIRE(checkpoint_map(data_path, cow_path, CHECKPOINT_TRIAL) == 0);
	CHECK(strcmp(seq(), "sTs") == 0); /* already so: nothing */
	REQUIRE(checkpoint_usage(&u) == 0);
	CHECK(u.mapped && !u.merging);
	CHECK_EQ(u.used_sectors, 24);
	seq();
	REQUIRE(checkpoint_map(data_path, NULL, CHECKPOINT_PLAIN) == 0);
	CHECK(strcmp(seq(), "sTsLSRX") == 0);
	CHECK(strcmp(emu_find(&emu, CHECKPOINT_DATA_NAME)->type, "linear") == 0);
	CHECK(!emu_find(&emu, CHECKPOINT_SNAP_NAME));
	REQUIRE(checkpoint_map(data_path, cow_path, CHECKPOINT_TRIAL) == 0);
	/* the live origin suspended around the snapshot's creation (LVM's order) */
	CHECK(strcmp(seq(), "sTsSCLRLR") == 0);
	write_header(CHECKPOINT_SNAP_MAGIC, 1, 1, 8);
	emu.merge_polls = 1;
	CHECK_EQ(checkpoint_merge(data_path, cow_path, NULL, NULL), 0);
	CHECK(strcmp(seq(), "sTsXLSRTTLSR") == 0);
	CHECK(strcmp(emu_find(&emu, CHECKPOINT_DATA_NAME)->type, "linear") == 0);
	CHECK_EQ(checkpoint_usage(&u), -ENOENT);
	REQUIRE(checkpoint_unmap() == 0);
	CHECK(!emu_find(&emu, CHECKPOINT_DATA_NAME));
	emu_teardown();
}

TEST(checkpoint_overflowed_not_merged)
{
	emu_setup();
	write_header(CHECKPOINT_SNAP_MAGIC, 0, 1, 8);
	CHECK_EQ(checkpoint_merge(data_path, cow_path, NULL, NULL), -ENOSPC);
	CHECK(strcmp(seq(), "") == 0);
	emu_teardown();
}

static int no_leftovers(void)
{
	for (size_t i = 0; i < 4; i++)
		if (emu.dev[i].used && (emu.dev[i].suspended || emu.dev[i].itype[0]))
			return 0;
	return 1;
}

TEST(checkpoint_every_dm_ioctl_failed)
{
	for (int nth = 1;; nth++) {
		emu_setup();
		emu.fail_nth = nth;
		fail_clear();
		int r = checkpoint_map(data_path, cow_path, CHECKPOINT_TRIAL);
		if (r == 0) {
			CHECK(nth > 10); /* every call of the full path was failed once */
			emu_teardown();
			break;
		}
		CHECK_EQ(r, -EIO);
		CHECK(fail_reason()[0] != '\0');
		/* from nothing: a failure leaves nothing at all */
		CHECK(!emu_find(&emu, CHECKPOINT_DATA_NAME) &&
		      !emu_find(&emu, CHECKPOINT_SNAP_NAME));
		emu_teardown();
	}
	for (int nth = 1;; nth++) {
		emu_setup();
		REQUIRE(checkpoint_map(data_path, NULL, CHECKPOINT_PLAIN) == 0);
		emu.calls = 0;
		emu.fail_nth = nth;
		int r = checkpoint_map(data_path, cow_path, CHECKPOINT_TRIAL);
		if (r == 0) {
			emu_teardown();
			break;
		}
		CHECK_EQ(r, -EIO);
		CHECK(no_leftovers()); /* never a suspended data device, never a stray table */
		CHECK(!emu_find(&emu, CHECKPOINT_SNAP_NAME));
		CHECK(strcmp(emu_find(&emu, CHECKPOINT_DATA_NAME)->type, "linear") == 0);
		emu_teardown();
	}
}
