/* SPDX-License-Identifier: MIT */
/* dm.c's pure parts: the ioctl buffer, a status answer, a snapshot status line. */
#include <errno.h>
#include <linux/dm-ioctl.h>
#include <stdint.h>
#include <string.h>

#include "dm.h"
#include "test.h"

TEST(dm_build_layout)
{
	uint64_t buf[1024];
	struct dm_target t[2] = {{0, 100, "linear", "/dev/vda 0"}, {100, 8, "zero", ""}};

	int n = dm_build(buf, sizeof(buf), "systemota-data", DM_SUSPEND_FLAG, t, 2);
	REQUIRE(n > 0);
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	CHECK_EQ(io->version[0], 4);
	CHECK_EQ(io->data_size, sizeof(buf));
	CHECK_EQ(io->data_start, sizeof(*io));
	CHECK_EQ(io->target_count, 2);
	CHECK_EQ(io->flags, DM_SUSPEND_FLAG);
	CHECK(strcmp(io->name, "systemota-data") == 0);
	struct dm_target_spec *s = (struct dm_target_spec *)((uint8_t *)buf + io->data_start);
	CHECK_EQ(s->length, 100);
	CHECK(strcmp(s->target_type, "linear") == 0);
	CHECK(strcmp((char *)(s + 1), "/dev/vda 0") == 0);
	CHECK_EQ(s->next % 8, 0);
	struct dm_target_spec *s2 = (struct dm_target_spec *)((uint8_t *)s + s->next);
	CHECK_EQ(s2->sector_start, 100);
	CHECK(strcmp(s2->target_type, "zero") == 0);
	CHECK_EQ((uint8_t *)s2 + s2->next - (uint8_t *)buf, n);
}

TEST(dm_build_rejects)
{
	uint64_t buf[64];
	char name[200];
	struct dm_target t = {0, 1, "linear", "x"};

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CHECK_EQ(dm_build(buf, sizeof(buf), name, 0, NULL, 0), -ENAMETOOLONG);
	CHECK_EQ(dm_build(buf, sizeof(buf), "a/b", 0, NULL, 0), -ENAMETOOLONG);
	CHECK_EQ(dm_build(buf, 16, "a", 0, NULL, 0), -EINVAL);
	t.length = 0;
	CHECK_EQ(dm_build(buf, sizeof(buf), "a", 0, &t, 1), -EINVAL);
	t.length = 1;
	t.type = "a-type-name-far-too-long";
	CHECK_EQ(dm_build(buf, sizeof(buf), "a", 0, &t, 1), -EINVAL);
	t.type = "linear";
	CHECK_EQ(dm_build(buf, sizeof(struct dm_ioctl) + 8, "a", 0, &t, 1), -ENOBUFS);
}

/* A status answer as the kernel's retrieve_status() lays it out: next from data_start. */
static size_t answer(uint64_t *buf, size_t size, const char *type, const char *line)
{
	memset(buf, 0, size);
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	io->version[0] = 4;
	io->data_start = sizeof(*io);
	io->target_count = 1;
	struct dm_target_spec *s = (struct dm_target_spec *)(io + 1);
	s->length = 2048;
	strcpy(s->target_type, type);
	strcpy((char *)(s + 1), line);
	s->next = (uint32_t)((sizeof(*s) + strlen(line) + 1 + 7) & ~7u);
	io->data_size = io->data_start + s->next;
	return size;
}

TEST(dm_parse_targets_answer)
{
	uint64_t buf[256];
	struct dm_target_info t[DM_TARGETS_MAX];

	answer(buf, sizeof(buf), "snapshot", "16/2048 16");
	REQUIRE(dm_parse_targets(buf, sizeof(buf), t, DM_TARGETS_MAX) == 1);
	CHECK(strcmp(t[0].type, "snapshot") == 0);
	CHECK(strcmp(t[0].params, "16/2048 16") == 0);
	CHECK_EQ(t[0].length, 2048);
}

TEST(dm_parse_targets_rejects)
{
	uint64_t buf[256];
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	struct dm_target_spec *s = (struct dm_target_spec *)(io + 1);
	struct dm_target_info t[DM_TARGETS_MAX];

	memset(buf, 0, sizeof(buf));
	CHECK_EQ(dm_parse_targets(buf, 10, t, DM_TARGETS_MAX), -EBADMSG);
	answer(buf, sizeof(buf), "linear", "x 0");
	io->version[0] = 3;
	CHECK_EQ(dm_parse_targets(buf, sizeof(buf), t, DM_TARGETS_MAX), -EPROTO);
	answer(buf, sizeof(buf), "linear", "x 0");
	io->flags |= DM_BUFFER_FULL_FLAG;
	CHECK_EQ(dm_parse_targets(buf, sizeof(buf), t, DM_TARGETS_MAX), -ENOBUFS);
	answer(buf, sizeof(buf), "linear", "x 0");
	io->data_size = sizeof(buf) + 8;
	CHECK_EQ(dm_parse_targets(buf, sizeof(buf), t, DM_TARGETS_MAX), -EBADMSG);
	answer(buf, sizeof(buf), "linear", "x 0");
	io->data_start = 8;
	CHECK_EQ(dm_parse_targets(buf, sizeof(buf), t, DM_TARGETS_MAX), -EBADMSG);
	answer(buf, sizeof(buf), "linear", "x 0");
	io->target_count = 9;
	CHECK_EQ(dm_parse_targets(buf, sizeof(buf), t, DM_TARGETS_MAX), -EBADMSG);
	answer(buf, sizeof(buf), "linear", "x 0");
	io->target_count = 2; /* the second spec lies past data_size */
	CHECK_EQ(dm_parse_targets(buf, sizeof(buf), t, DM_TARGETS_MAX), -EBADMSG);
	answer(buf, sizeof(buf), "linear", "x 0");
	memset(s->target_type, 'a', sizeof(s->target_type)); /* no NUL */
	CHECK_EQ(dm_parse_targets(buf, sizeof(buf), t, DM_TARGETS_MAX), -EBADMSG);
	answer(buf, sizeof(buf), "linear", "x 0");
	io->data_size = io->data_start + sizeof(*s) + 2; /* params cut before their NUL */
	CHECK_EQ(dm_parse_targets(buf, sizeof(buf), t, DM_TARGETS_MAX), -EBADMSG);
	answer(buf, sizeof(buf), "linear", "x 0");
	s->length = 0;
	CHECK_EQ(dm_parse_targets(buf, sizeof(buf), t, DM_TARGETS_MAX), -EBADMSG);
}

TEST(dm_parse_snapshot_status_forms)
{
	struct dm_snapshot_status s;

	REQUIRE(dm_parse_snapshot_status("40/16384 16", &s) == 0);
	CHECK_EQ(s.allocated, 40);
	CHECK_EQ(s.total, 16384);
	CHECK_EQ(s.metadata, 16);
	CHECK(!s.invalid && !s.overflow && !s.merge_failed);
	REQUIRE(dm_parse_snapshot_status("Invalid", &s) == 0);
	CHECK(s.invalid);
	REQUIRE(dm_parse_snapshot_status("Overflow", &s) == 0);
	CHECK(s.overflow);
	REQUIRE(dm_parse_snapshot_status("Merge failed", &s) == 0);
	CHECK(s.merge_failed);
	static const char *const bad[] = {"",
	                                  "40/16384",
	                                  "40/16384 ",
	                                  "40 16384 16",
	                                  "/16384 16",
	                                  "40/16384 16 ",
	                                  " 40/16384 16",
	                                  "-1/16384 16",
	                                  "40/16384 x",
	                                  "99999999999999999999/1 1",
	                                  "50/40 16",
	                                  "8/40 16",
	                                  "invalid",
	                                  "Unknown"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(dm_parse_snapshot_status(bad[i], &s), -EBADMSG);
}
