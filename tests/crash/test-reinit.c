/* SPDX-License-Identifier: MIT */
/*
 * The conservative re-initialisation of a lost record (issue 10, defect 4),
 * cut by power at every write and flush, and failed at every I/O call.
 *
 * The device: slot B confirmed at version 2 (the history says so), slot A
 * half-written (garbage where its superblock would be), both record copies
 * damaged, and a validly signed version 1 staged. Whatever the cut or the
 * fault, every boot must boot B, never make A (which does not check out)
 * active, never install anything, and the record, once it reads, must say B
 * active, versions unknown, floor at least 2. Prints the counts
 * (REINIT_OPS=1 also lists the recorded writes and flushes).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "boot.h"
#include "helpers.h"
#include "history.h"
#include "record.h"
#include "state.h"
#include "test.h"

#define BOOTS 3

/* B confirmed at version 2 (floor 2), in the record and in the history; then the record lost. */
static int setup(struct helpers_device *d)
{
	static const uint8_t ext4_magic[2] = {0x53, 0xef};
	struct create_options o;
	uint8_t garbage[8192], slot;
	int r = helpers_device(d);

	if (r == 0)
		r = helpers_image(test_path("v2.img"), HELPERS_IMAGE_SIZE, 2);
	if (r == 0)
		r = helpers_poke(test_path("v2.img"), 1080, ext4_magic, 2);
	helpers_bundle_options(&o, test_path("v2.img"), test_path("v2.sota"), d->key.priv, 2);
	o.floor = 2;
	if (r == 0)
		r = create_bundle(&o);
	if (r == 0)
		r = helpers_drop(d, "v2");
	if (r == 0)
		r = helpers_apply(d, &slot);
	/* The real mark-good: the record, the CONFIRMED history entry, the clean-up. */
	if (r == 0)
		r = helpers_mark_good(d, 1);
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)(i * 131 + 7);
	if (r == 0)
		r = helpers_poke(d->slot[0], 0, garbage, sizeof(garbage));
	if (r == 0)
		r = helpers_flip_byte(d->state, 100);
	if (r == 0)
		r = helpers_flip_byte(d->state, HELPERS_STATE_SIZE / 2 + 100);
	/* A validly signed old version, staged: must be refused, never installed. */
	if (r == 0)
		r = helpers_update("v1", d->key.priv, 1);
	if (r == 0)
		r = helpers_drop(d, "v1");
	return r;
}

/* One boot, fault-free or not; returns false (with why) on a broken invariant. */
static bool boot_once(struct helpers_device *d, const struct io_hooks *hooks, char *why,
                      size_t size, int boot)
{
	struct state_record st;
	uint8_t slot = 9;

	/* Without hooks of its own, whatever is installed (the recorder) stays. */
	if (hooks)
		io_set_hooks(hooks);
	apply_run(&d->cfg, &slot);
	if (hooks)
		io_set_hooks(NULL);
	if (slot != 1) {
		snprintf(why, size, "boot %d: slot %c booted, not B", boot,
		         state_slot_letter(slot));
		return false;
	}
	int r = helpers_read_state(d->state, &st);
	if (r < 0)
		return true; /* still lost: only the boot's slot counts */
	if (st.active != 1 || st.state != STATE_IDLE || !(st.flags & STATE_FLAG_VERSIONS_UNKNOWN) ||
	    st.version_floor < 2) {
		snprintf(why, size, "boot %d: record says %s, active %c, flags 0x%x, floor %llu",
		         boot, state_kind_name(st.state), state_slot_letter(st.active), st.flags,
		         (unsigned long long)st.version_floor);
		return false;
	}
	return true;
}

/* Boots fault-free to the end: the record must have been re-initialised by then. */
static bool boot_on(struct helpers_device *d, char *why, size_t size)
{
	struct state_record st;

	for (int b = 1; b <= BOOTS; b++)
		if (!boot_once(d, NULL, why, size, b))
			return false;
	if (helpers_read_state(d->state, &st) < 0) {
		snprintf(why, size, "the record is still lost after %d fault-free boots", BOOTS);
		return false;
	}
	return true;
}

struct counts {
	long states, runs, violations;
};

static void report(struct counts *n, const char *what, const char *why)
{
	if (n->violations++ < 5)
		fprintf(stderr, "  %s: %s\n", what, why);
}

/* Every cut of the recorded boots, with every subset of unflushed writes kept, and torn writes. */
static void enumerate(struct helpers_device *d, struct record *rec, struct counts *n)
{
	uint8_t *scratch[RECORD_DEVICES];
	char why[256], what[128];
	size_t idx[64];

	for (int i = 0; i < RECORD_DEVICES; i++)
		REQUIRE((scratch[i] = malloc(rec->size[i])));
	for (size_t cut = 0; cut <= rec->n; cut++) {
		size_t nu = record_unflushed(rec, cut, idx, ARRAY_SIZE(idx));
		REQUIRE(nu <= 6);
		bool write = cut < rec->n && rec->ops[cut].kind == RECORD_WRITE;
		size_t sectors =
		        write ? (rec->ops[cut].len + RECORD_SECTOR - 1) / RECORD_SECTOR : 0;
		for (uint64_t kept = 0; kept < (1ull << nu); kept++)
			for (size_t torn = 0; torn <= sectors; torn++)
				for (int g = 0; g < (write ? 2 : 1); g++) {
					struct record_crash c = {.cut = cut,
					                         .kept = kept,
					                         .torn_sectors = torn,
					                         .garbage = g};
					if (torn == sectors && (g || !write))
						continue; /* a whole write is the next cut point */
					n->states++;
					REQUIRE(record_apply(rec, &c, scratch) == 0);
					if (boot_on(d, why, sizeof(why)))
						continue;
					snprintf(what, sizeof(what),
					         "cut before op %zu/%zu, kept 0x%llx, torn %zu%s",
					         cut, rec->n, (unsigned long long)kept, torn,
					         g ? " + garbage" : "");
					report(n, what, why);
				}
	}
	for (int i = 0; i < RECORD_DEVICES; i++)
		free(scratch[i]);
}

TEST(crash_states_lost_record_reinitialised)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct counts n = {0};
	struct record rec;
	char why[256];

	state_set_retry_delay(0);
	REQUIRE(setup(&d) == 0);
	const char *paths[RECORD_DEVICES] = {d.state, d.slot[0], d.slot[1]};
	REQUIRE(record_start(&rec, paths) == 0);
	bool ok = boot_on(&d, why, sizeof(why));
	record_stop(&rec);
	for (size_t i = 0; getenv("REINIT_OPS") && i < rec.n; i++)
		fprintf(stderr, "  op %zu: %s dev %d off %llu len %zu\n", i,
		        rec.ops[i].kind == RECORD_WRITE ? "write" : "sync", rec.ops[i].dev,
		        (unsigned long long)rec.ops[i].off, rec.ops[i].len);
	if (!ok)
		fprintf(stderr, "  the uninterrupted run: %s\n", why);
	REQUIRE(ok);
	enumerate(&d, &rec, &n);
	printf("     lost record, re-initialised: %zu writes and flushes recorded, %ld crash "
	       "states, %ld violations\n",
	       rec.n, n.states, n.violations);
	CHECK_EQ(n.violations, 0);
	CHECK(rec.n >= 2);
	CHECK(n.states > 10);
	record_free(&rec);
}

/* Fails call `at` (and, lasting, every later call of that op on that file in that boot). */
struct injector {
	long calls, at;
	int kind; /* 0 EIO, 1 ENOSPC, 2 short write */
	bool persistent, firing;
	enum io_op op;
	uint64_t ino;
	enum io_op ops[2048];
	struct io_hooks hooks;
};

static uint64_t inode_of(int fd, const char *path)
{
	struct stat st;

	if (path)
		return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
	return fd >= 0 && fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static int fault(const struct injector *in, enum io_op op, size_t len)
{
	if (in->kind == 1)
		return -ENOSPC;
	if (in->kind == 2 && op == IO_WRITE && len > 1)
		return (int)(len / 2);
	return -EIO;
}

static int before(void *ud, enum io_op op, int fd, const char *path, size_t len)
{
	struct injector *in = ud;

	in->calls++;
	if (in->calls <= (long)ARRAY_SIZE(in->ops))
		in->ops[in->calls - 1] = op;
	if (in->at && in->calls == in->at) {
		in->firing = true;
		in->op = op;
		in->ino = inode_of(fd, path);
		return fault(in, op, len);
	}
	if (in->firing && in->persistent && op == in->op && inode_of(fd, path) == in->ino)
		return fault(in, op, len);
	return 0;
}

/* BOOTS boots with the injector; a power cycle ends a lasting fault. */
static bool boots_with(struct helpers_device *d, struct injector *in, char *why, size_t size)
{
	for (int b = 1; b <= BOOTS; b++) {
		in->firing = false;
		if (!boot_once(d, &in->hooks, why, size, b))
			return false;
	}
	return true;
}

static bool applies(int kind, enum io_op op)
{
	return kind == 0 || (kind == 1 && (op == IO_WRITE || op == IO_SYNC || op == IO_OPEN)) ||
	       (kind == 2 && op == IO_WRITE);
}

TEST(faults_lost_record_reinitialised)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct injector *in = calloc(1, sizeof(*in));
	uint8_t *scratch[RECORD_DEVICES];
	struct record_crash none = {.cut = 0};
	struct counts n = {0};
	struct record initial;
	char why[256], what[128];

	REQUIRE(in);
	state_set_retry_delay(0);
	REQUIRE(setup(&d) == 0);
	const char *paths[RECORD_DEVICES] = {d.state, d.slot[0], d.slot[1]};
	REQUIRE(record_start(&initial, paths) == 0);
	record_stop(&initial);
	for (int i = 0; i < RECORD_DEVICES; i++)
		REQUIRE((scratch[i] = malloc(initial.size[i])));
	in->hooks = (struct io_hooks){.before = before, .userdata = in};
	/* Count the calls of the whole sequence: the re-initialising boot, the refusal, on. */
	REQUIRE(boots_with(&d, in, why, sizeof(why)));
	long total = in->calls;
	REQUIRE(total > 0 && total <= (long)ARRAY_SIZE(in->ops));
	for (long at = 1; at <= total; at++)
		for (int kind = 0; kind < 3; kind++)
			for (int persistent = 0; persistent < 2; persistent++) {
				if (!applies(kind, in->ops[at - 1]))
					continue;
				REQUIRE(record_apply(&initial, &none, scratch) == 0);
				in->calls = 0;
				in->at = at;
				in->kind = kind;
				in->persistent = persistent;
				in->firing = false;
				n.runs++;
				/* The faulted boot, then power cycles with the device working
				 * again. */
				bool ok = boot_once(&d, &in->hooks, why, sizeof(why), 1) &&
				          boot_on(&d, why, sizeof(why));
				if (ok)
					continue;
				snprintf(what, sizeof(what), "fault %s%s at I/O call %ld (op %d)",
				         (const char *[]){"EIO", "ENOSPC", "short write"}[kind],
				         persistent ? " (lasting the boot)" : "", at, in->op);
				report(&n, what, why);
			}
	printf("     lost record, re-initialised: %ld I/O calls, %ld faulted runs, %ld "
	       "violations\n",
	       total, n.runs, n.violations);
	CHECK_EQ(n.violations, 0);
	CHECK(n.runs > 10);
	for (int i = 0; i < RECORD_DEVICES; i++)
		free(scratch[i]);
	record_free(&initial);
	free(in);
}
