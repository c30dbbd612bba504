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
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	enum io_op ops[4096];
	int fired_boot; /* the boot in which the fault fired */
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
	if (in->calls <= (long)ARRAY_SIZE(in->ops))
		in->ops[in->calls - 1] = op;
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
};

static void run_one(struct sim *s, struct record *initial, uint8_t *scratch[RECORD_DEVICES],
                    struct injector *in, struct totals *t)
{
	struct record_crash none = {.cut = 0};
	struct state_record st;

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
	if (t->violations++ < 5)
		fprintf(stderr, "  fault %s%s at I/O call %ld (op %d): %s\n",
		        (const char *[]){"EIO", "ENOSPC", "short write"}[in->kind],
		        in->persistent ? " (lasting the boot)" : "", in->at, in->op, s->violation);
}

static void inject_everywhere(enum sim_scenario scenario, const char *name)
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
	const char *paths[RECORD_DEVICES] = {s.dev.state, s.dev.slot[0], s.dev.slot[1]};
	/* A recording with no run: just the devices' initial bytes, to restore. */
	REQUIRE(record_start(&initial, paths) == 0);
	record_stop(&initial);
	for (int i = 0; i < RECORD_DEVICES; i++)
		REQUIRE((scratch[i] = malloc(initial.size[i])));
	in->hooks = (struct io_hooks){.before = before, .userdata = in};
	struct stat st;
	REQUIRE(stat(s.dev.state, &st) == 0);
	in->state_ino = (uint64_t)st.st_ino;
	s.userdata = in;
	s.before_boot = new_boot;

	/* Count the calls of the uninterrupted run (and check it). */
	run_one(&s, &initial, scratch, in, &t);
	long total = in->calls;
	REQUIRE(total > 0 && total <= (long)ARRAY_SIZE(in->ops));
	enum io_op ops[ARRAY_SIZE(in->ops)];
	memcpy(ops, in->ops, sizeof(ops));
	/* FAULT_AT=N replays the runs with call N faulted (TEST_VERBOSE=1 shows the applier). */
	long only = getenv("FAULT_AT") ? atol(getenv("FAULT_AT")) : 0;
	for (long at = 1; at <= total; at++)
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
	printf("     %s: %ld I/O calls, %ld faulted runs, %ld violations\n", name, total,
	       t.runs - 1, t.violations);
	CHECK_EQ(t.violations, 0);
	for (int i = 0; i < RECORD_DEVICES; i++)
		free(scratch[i]);
	record_free(&initial);
	sim_free(&s);
	free(in);
}

TEST(faults_update_confirmed)
{
	inject_everywhere(SIM_CONFIRMS, "install, trial boot, mark-good");
}

TEST(faults_update_never_confirmed)
{
	inject_everywhere(SIM_NEVER_CONFIRMS, "install, trial boots, rollback");
}

TEST(faults_kexec_loop_rolled_back)
{
	inject_everywhere(SIM_KEXEC_LOOP, "install, trials failed at a second kexec, rollback");
}
