/* SPDX-License-Identifier: MIT */
/*
 * Fault injection at every I/O call: run a whole update (install, trial
 * boots, mark-good or rollback) once to count the I/O calls, then once per
 * call index and fault kind with that call failing: EIO on any call, ENOSPC
 * on a write, open or flush, a short write, a failing flush. A fault is
 * either transient (that one call) or lasts until the end of that boot for
 * that kind of call on that file (the code's retries see it too). Power
 * returns at the next boot, fault-free.
 *
 * Checked for every run: the invariants of sim.h (above all, never TRYING
 * with a slot whose bytes are wrong), a reason in the record whenever the
 * applier reported a failure it could record, and the right end state.
 *
 * The data checkpoint's scenarios (SIM_CP_*) fault every dm ioctl and every
 * open, read, write and flush of the data and COW files (the emulated
 * kernel's copies and merges, the hook's and the trial's writes, the
 * applier's reset), and every write and flush of the state device (the
 * commits the checkpoint's transitions hang on), with every kind;
 * of the other calls (the install's, already covered call by call by the
 * scenarios above) a fixed-seed sample, and they say so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dmemu.h"
#include "record.h"
#include "sim.h"
#include "state.h"
#include "test.h"

#define BOOTS (HELPERS_TRIES + 4)

enum fault_kind { FAULT_EIO, FAULT_ENOSPC, FAULT_SHORT, FAULT_KINDS };

struct injector {
	long calls; /* I/O calls seen in this run */
	long at;    /* the call to fail (1-based), 0: none */
	enum fault_kind kind;
	bool persistent; /* keep failing calls of the same kind until the boot ends */
	bool firing;
	enum io_op op; /* the op of call `at`, once seen */
	bool on_state; /* ... and whether it was on the state device */
	uint64_t ino;  /* ... and the file it was on (a lasting fault stays on it) */
	uint64_t state_ino;
	uint64_t data_ino[2]; /* SIM_CP_*: the data and COW files */
	enum io_op ops[4096];
	bool data_call[4096]; /* ... whether call i was a dm ioctl or on those files */
	int fired_boot;       /* the boot in which the fault fired */
	int boot;
	struct io_hooks hooks;
};

static int fault_result(struct injector *in, enum io_op op, size_t len)
{
	switch (in->kind) {
	case FAULT_ENOSPC:
		return -ENOSPC;
	case FAULT_SHORT:
		return op == IO_WRITE && len > 1 ? (int)MIN(len / 2, (size_t)INT32_MAX) : -EIO;
	default:
		return -EIO;
	}
}

static bool is_state(const struct injector *in, int fd, const char *path)
{
	struct stat st;

	if (path) {
		size_t n = strlen(path);
		return n >= 6 && strcmp(path + n - 6, "/state") == 0;
	}
	return fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_ino == in->state_ino;
}

static uint64_t inode_of(int fd, const char *path)
{
	struct stat st;

	if (path)
		return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
	return fd >= 0 && fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static int before(void *ud, enum io_op op, int fd, const char *path, size_t len)
{
	struct injector *in = ud;

	in->calls++;
	if (in->calls <= (long)ARRAY_SIZE(in->ops)) {
		uint64_t ino = op == IO_IOCTL_DM ? 0 : inode_of(fd, path);
		in->ops[in->calls - 1] = op;
		/*
		 * Exhaustive: the dm ioctls, the data and COW files' opens, reads,
		 * writes and flushes, and the state device's writes and flushes (the
		 * commits the checkpoint's transitions hang on). Sampled: the rest.
		 */
		bool data =
		        ino && op != IO_CLOSE && (ino == in->data_ino[0] || ino == in->data_ino[1]);
		bool commit = (op == IO_WRITE || op == IO_SYNC) && is_state(in, fd, path);
		in->data_call[in->calls - 1] = op == IO_IOCTL_DM || data || commit;
	}
	if (in->at && in->calls == in->at) {
		in->firing = true;
		in->op = op;
		in->on_state = is_state(in, fd, path);
		in->ino = inode_of(fd, path);
		in->fired_boot = in->boot;
		return fault_result(in, op, len);
	}
	if (in->firing && in->persistent && op == in->op && inode_of(fd, path) == in->ino)
		return fault_result(in, op, len);
	return 0;
}

static void new_boot(struct sim *s)
{
	struct injector *in = s->userdata;

	in->boot++;
	in->firing = false; /* power cycled: the device works again */
}

/* Does this fault kind apply to this op? */
static bool applies(enum fault_kind kind, enum io_op op)
{
	switch (kind) {
	case FAULT_EIO:
		return true;
	case FAULT_ENOSPC:
		return op == IO_WRITE || op == IO_SYNC || op == IO_OPEN;
	case FAULT_SHORT:
		return op == IO_WRITE;
	default:
		return false;
	}
}

struct totals {
	long runs, violations;
	long untraced; /* runs whose violation follows an invalidation the emulator could not write
	                */
};

static void run_one(struct sim *s, struct record *initial, uint8_t *scratch[RECORD_DEVICES],
                    struct injector *in, struct totals *t)
{
	struct record_crash none = {.cut = 0};
	struct state_record st;
	struct dmemu_stats before_stats, after;

	dmemu_stats(&before_stats);

	t->runs++;
	if (record_apply(initial, &none, scratch) < 0 || sim_restore_dropin(s) < 0) {
		CHECK(!"cannot restore the device");
		return;
	}
	s->unconfirmed_boots = 0;
	s->boots = 0;
	s->violation[0] = '\0';
	in->calls = 0;
	in->boot = 0;
	in->firing = false;
	in->fired_boot = 0;
	s->hooks = &in->hooks;
	/*
	 * Up to the faulted boot: if the applier failed, the record must say why,
	 * unless the fault was on the state device itself, where nothing can be said.
	 */
	bool ok = true;
	int idle = 0;
	/* Boot until settled, and past the faulted boot; then on to the end, fault-free. */
	while (ok && s->boots < 3 * BOOTS && !(idle >= 2 && (!in->at || in->fired_boot))) {
		ok = sim_boot(s) != 0;
		idle = ok && helpers_read_state(s->dev.state, &st) == 0 && st.state == STATE_IDLE
		               ? idle + 1
		               : 0;
		if (ok && in->fired_boot == s->boots && s->last_apply < 0 && !in->on_state &&
		    helpers_read_state(s->dev.state, &st) == 0 && !st.last_error)
			ok = sim_violation(s, "the applier failed (%d) and recorded no reason",
			                   s->last_apply);
	}
	if (ok)
		ok = sim_run_to_end(s, BOOTS);
	s->hooks = NULL;
	if (ok)
		return;
	/*
	 * A lasting fault on the COW file that also failed the kernel's own
	 * invalid-header write: after the reboot the store looks valid but
	 * misses an exception. The kernel could not do better; counted apart.
	 */
	dmemu_stats(&after);
	if (after.untraced > before_stats.untraced) {
		t->untraced++;
		return;
	}
	/* The first five, and then each new kind (the message without its boot number). */
	static char seen[16][200];
	const char *kind =
	        strstr(s->violation, ": ") ? strstr(s->violation, ": ") + 2 : s->violation;
	bool known = false;
	for (int i = 0; i < 16 && seen[i][0] && !known; i++)
		known = strncmp(seen[i], kind, sizeof(seen[i]) - 1) == 0;
	for (int i = 0; i < 16 && !known; i++)
		if (!seen[i][0]) {
			snprintf(seen[i], sizeof(seen[i]), "%s", kind);
			break;
		}
	if (t->violations++ < 5 || !known)
		fprintf(stderr, "  fault %s%s at I/O call %ld (op %d): %s\n",
		        (const char *[]){"EIO", "ENOSPC", "short write"}[in->kind],
		        in->persistent ? " (lasting the boot)" : "", in->at, in->op, s->violation);
}

static uint32_t next_rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* others: 0, every call; else about that many of the calls not data_call[] (fixed seed). */
static void inject_planned(enum sim_scenario scenario, const char *name, long others)
{
	struct injector *in = calloc(1, sizeof(*in));
	struct totals t = {0};
	struct record initial;
	struct sim s;
	uint8_t *scratch[RECORD_DEVICES];

	REQUIRE(in);
	/* A read fault lasting the boot would pause 1.5 s per load: the pauses are not under test.
	 */
	state_set_retry_delay(0);
	REQUIRE(sim_setup(&s, scenario) == 0);
	const char *paths[RECORD_DEVICES];
	sim_record_paths(&s, paths);
	/* A recording with no run: just the devices' initial bytes, to restore. */
	REQUIRE(record_start(&initial, paths) == 0);
	record_stop(&initial);
	for (int i = 0; i < RECORD_DEVICES; i++)
		REQUIRE((scratch[i] = malloc(initial.size[i])));
	in->hooks = (struct io_hooks){.before = before, .userdata = in};
	struct stat st;
	REQUIRE(stat(s.dev.state, &st) == 0);
	in->state_ino = (uint64_t)st.st_ino;
	if (s.checkpointed) {
		const char *data[2] = {s.data_img, s.cow_img};
		for (int i = 0; i < 2; i++) {
			REQUIRE(stat(data[i], &st) == 0);
			in->data_ino[i] = (uint64_t)st.st_ino;
		}
	}
	s.userdata = in;
	s.before_boot = new_boot;

	/* Count the calls of the uninterrupted run (and check it). */
	run_one(&s, &initial, scratch, in, &t);
	long total = in->calls;
	REQUIRE(total > 0 && total <= (long)ARRAY_SIZE(in->ops));
	enum io_op ops[ARRAY_SIZE(in->ops)];
	bool data_call[ARRAY_SIZE(in->ops)];
	memcpy(ops, in->ops, sizeof(ops));
	memcpy(data_call, in->data_call, sizeof(data_call));
	long ndata = 0, sampled = 0;
	for (long i = 0; i < total; i++)
		ndata += data_call[i];
	uint32_t seed = 0x5eed1234;
	/* FAULT_AT=N replays the runs with call N faulted (TEST_VERBOSE=1 shows the applier). */
	long only = getenv("FAULT_AT") ? atol(getenv("FAULT_AT")) : 0;
	for (long at = 1; at <= total; at++) {
		bool take = !others || data_call[at - 1] || only == at ||
		            next_rnd(&seed) % (uint32_t)(total - ndata) < (uint32_t)others;
		if (!take)
			continue;
		sampled += others && !data_call[at - 1];
		for (int kind = 0; kind < FAULT_KINDS; kind++)
			for (int persistent = 0; persistent < 2; persistent++) {
				if (!applies((enum fault_kind)kind, ops[at - 1]) ||
				    (only && at != only))
					continue;
				in->at = at;
				in->kind = (enum fault_kind)kind;
				in->persistent = persistent;
				run_one(&s, &initial, scratch, in, &t);
			}
	}
	printf("     %s: %ld I/O calls", name, total);
	if (others)
		printf(" (all %ld dm ioctls, data/COW calls and commits faulted, %ld of the %ld "
		       "others "
		       "sampled)",
		       ndata, sampled, total - ndata);
	printf(", %ld faulted runs, %ld violations", t.runs - 1, t.violations);
	if (t.untraced)
		printf(", %ld broken only after an invalidation the COW could not record",
		       t.untraced);
	printf("\n");
	CHECK_EQ(t.violations, 0);
	for (int i = 0; i < RECORD_DEVICES; i++)
		free(scratch[i]);
	record_free(&initial);
	sim_free(&s);
	free(in);
}

static void inject_everywhere(enum sim_scenario scenario, const char *name)
{
	inject_planned(scenario, name, 0);
}

/* The data scenarios' sample of the other calls: some 5 s each on a loaded 2-core machine. */
#define DATA_OTHERS 6

TEST(faults_update_confirmed)
{
	inject_everywhere(SIM_CONFIRMS, "install, trial boot, mark-good");
}

TEST(faults_update_never_confirmed)
{
	inject_everywhere(SIM_NEVER_CONFIRMS, "install, trial boots, rollback");
}

TEST(faults_keyring_adopted)
{
	inject_everywhere(SIM_KEYRING_CONFIRMS, "install under keyring 2, mark-good adopts it");
}

TEST(faults_keyring_never_adopted)
{
	inject_everywhere(SIM_KEYRING_NEVER_CONFIRMS, "install under keyring 2, rollback keeps 1");
}

TEST(faults_verity_footer)
{
	inject_everywhere(SIM_VERITY_CONFIRMS, "install with verity tree and footer, mark-good");
}

TEST(faults_trial_slot_damaged)
{
	inject_everywhere(SIM_VERITY_TRIAL_DAMAGED,
	                  "trial slot found damaged at boot, rolled back");
}

TEST(faults_active_slot_damaged)
{
	inject_everywhere(SIM_VERITY_ACTIVE_DAMAGED,
	                  "active slot found damaged, the other made active");
}

TEST(faults_kexec_loop_rolled_back)
{
	inject_everywhere(SIM_KEXEC_LOOP, "install, trials failed at a second kexec, rollback");
}

TEST(faults_data_confirmed)
{
	inject_planned(SIM_CP_CONFIRMS, "data checkpoint: hook, trial writes, mark-good",
	               DATA_OTHERS);
}

TEST(faults_data_never_confirmed)
{
	inject_planned(SIM_CP_NEVER_CONFIRMS, "data checkpoint: trial writes, tries run out, merge",
	               DATA_OTHERS);
}

TEST(faults_data_marked_bad)
{
	inject_planned(SIM_CP_MARK_BAD, "data checkpoint: trial writes, mark-bad, merge",
	               DATA_OTHERS);
}

TEST(faults_data_overflow)
{
	inject_planned(SIM_CP_OVERFLOW, "data checkpoint: the trial overflows the COW, rollback",
	               DATA_OTHERS);
}
