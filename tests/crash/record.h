/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Recording what the applier and mark-good write, and rebuilding the devices
 * as a power cut could leave them.
 *
 * The recorder watches every write and flush that goes through the I/O layer
 * (io.h) to the raw devices (state, slot A, slot B; with a data checkpoint
 * also the data partition and the COW store). A write to a file
 * opened O_DSYNC (the state device) is durable when it returns; any other
 * write is durable once a flush of its device has returned.
 *
 * A crash state at cut point k (the cut hits while op k is in flight) is:
 * every durable write before k, plus any subset of the writes before k that
 * were not flushed yet (the device may have kept some, all or none, in any
 * order), plus, if op k is a write, a prefix of it torn at 512-byte
 * granularity, optionally followed by one sector of garbage.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most; a recording's paths end at the first NULL (record.ndev). */
#define RECORD_DEVICES 5
#define RECORD_SECTOR 512

enum record_kind { RECORD_WRITE, RECORD_SYNC };

struct record_op {
	enum record_kind kind;
	int dev;
	bool dsync;
	uint64_t off;
	size_t len;
	uint8_t *data;
};

struct record {
	int ndev; /* devices recorded: path[0..ndev) */
	const char *path[RECORD_DEVICES];
	uint64_t ino[RECORD_DEVICES];
	uint8_t *initial[RECORD_DEVICES]; /* each device's bytes when recording started */
	size_t size[RECORD_DEVICES];
	struct record_op *ops;
	size_t n, cap;
};

/* Snapshots the devices (paths up to the first NULL) and starts recording (installs io hooks). */
int record_start(struct record *r, const char *const paths[RECORD_DEVICES]);
/* The recorder's hooks while a recording runs, else NULL (to put them back after others). */
const struct io_hooks *record_io_hooks(void);
void record_stop(struct record *r);
void record_free(struct record *r);

/* One way the cut could have left the devices. */
struct record_crash {
	size_t cut;          /* ops[0..cut) completed, ops[cut] in flight (cut == n: none) */
	uint64_t kept;       /* bit i: the i-th unflushed write reached the medium */
	size_t torn_sectors; /* of ops[cut], if it is a write: sectors that reached the medium */
	bool garbage;        /* one more sector of ops[cut] landed as garbage */
};

/* The unflushed writes before cut: their op indices, at most max (returns the count). */
size_t record_unflushed(const struct record *r, size_t cut, size_t *idx, size_t max);

/* Builds the crash state into the device files (rewriting only what differs). */
int record_apply(const struct record *r, const struct record_crash *c,
                 uint8_t *scratch[RECORD_DEVICES]);
