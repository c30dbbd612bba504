/* SPDX-License-Identifier: MIT */
/* The running system's engine (running.h): its transitions, as the commands make them. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "helpers.h"
#include "running.h"
#include "test.h"

/* Stages NAME (version) on d, applies it into slot to and confirms it from there. */
static int install_confirmed(struct helpers_device *d, const char *name, uint64_t version,
                             uint8_t to)
{
	uint8_t slot = 9;
	int r = helpers_update(name, d->key.priv, version);

	if (r == 0)
		r = helpers_drop(d, name);
	if (r == 0)
		r = helpers_apply(d, &slot);
	if (r == 0 && slot != to)
		r = -EIO;
	return r < 0 ? r : helpers_mark_good(d, to);
}

/* d's record with slot A at version v, nothing in progress. */
static int at_version(struct helpers_device *d, uint64_t v)
{
	struct state_record st;
	int r = helpers_read_state(d->state, &st);

	st.slot[0].version = v;
	return r < 0 ? r : helpers_write_state(d->state, &st);
}

/*
 * Issue 10, defect 1: at version 5 a downgrade to 3 is allowed and never
 * used; 6 and 7 are installed; an old, validly signed 3 dropped in later
 * must be refused: the permission was for the next install only.
 */
TEST(running_allowed_downgrade_ends_with_the_next_install)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct running_config rc;
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(at_version(&d, 5) == 0);
	helpers_running(&d, 0, &rc);
	REQUIRE(running_allow_downgrade(&rc, 3) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.allow_version, 3);

	REQUIRE(install_confirmed(&d, "v6", 6, 1) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.allow_version, 0);
	REQUIRE(install_confirmed(&d, "v7", 7, 0) == 0);

	REQUIRE(helpers_update("v3", d.key.priv, 3) == 0);
	REQUIRE(helpers_drop(&d, "v3") == 0);
	CHECK_EQ(helpers_apply(&d, &slot), -ESTALE);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);
	CHECK_EQ(st.active, 0);
	CHECK_EQ(st.slot[0].version, 7);
	CHECK_EQ(st.last_error, ESTALE);
}

/* An allowed downgrade that is revoked, or outlived by a mark-good, allows nothing. */
TEST(running_allowed_downgrade_is_revoked_and_ended_by_mark_good)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct running_config rc;
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(at_version(&d, 5) == 0);
	helpers_running(&d, 0, &rc);
	REQUIRE(running_allow_downgrade(&rc, 3) == 0);
	REQUIRE(running_revoke_downgrade(&rc) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.allow_version, 0);
	CHECK_EQ(running_revoke_downgrade(&rc), 0); /* nothing to revoke: fine */

	/* The factory slot is confirmed after the permission: it ends it. */
	REQUIRE(running_allow_downgrade(&rc, 4) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	st.slot[0].status = SLOT_UNKNOWN;
	REQUIRE(helpers_write_state(d.state, &st) == 0);
	REQUIRE(helpers_mark_good(&d, 0) == 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.slot[0].status, SLOT_GOOD);
	CHECK_EQ(st.allow_version, 0);

	REQUIRE(helpers_update("v4", d.key.priv, 4) == 0);
	REQUIRE(helpers_drop(&d, "v4") == 0);
	CHECK_EQ(helpers_apply(&d, &slot), -ESTALE);
	CHECK_EQ(slot, 0);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE);

	/* Bad arguments change nothing. */
	CHECK_EQ(running_allow_downgrade(&rc, 0), -EINVAL);
	st.version_floor = 4;
	REQUIRE(helpers_write_state(d.state, &st) == 0);
	CHECK_EQ(running_allow_downgrade(&rc, 3), -ESTALE);
	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.allow_version, 0);
}

/* `systemota status` says which downgrade is allowed. */
TEST(running_status_shows_the_allowed_downgrade)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct running_config rc;
	char *text = NULL;
	size_t len = 0;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(at_version(&d, 5) == 0);
	helpers_running(&d, 0, &rc);
	REQUIRE(running_allow_downgrade(&rc, 3) == 0);
	for (int json = 0; json < 2; json++) {
		FILE *f = open_memstream(&text, &len);
		REQUIRE(f);
		CHECK_EQ(running_status(&rc, f, json), 0);
		fclose(f);
		CHECK(strstr(text, json ? "\"allowed_downgrade\": 3"
		                        : "Downgrade:     to version 3 "
		                          "allowed, once") != NULL);
		free(text);
		text = NULL;
	}
}

/*
 * In the child: the racing command, then its result as the exit status. The
 * child first closes its copy of the parent's state descriptor (fd): the copy
 * shares the parent's open file, and so its lock, which a separate process
 * would not have.
 */
static pid_t race(const struct running_config *rc, int fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		io_set_hooks(NULL);
		close(fd);
		_exit(running_mark_good(rc) == 0 ? 0 : 1);
	}
	return pid;
}

struct racer {
	const struct running_config *rc;
	pid_t pid;
	bool reaped; /* the child finished within the hook's wait */
	int status;
};

/* Before the clean shutdown's first write: a mark-good starts, and gets up to 1 s to finish. */
static int race_before_write(void *userdata, enum io_op op, int fd, const char *path, size_t len)
{
	struct racer *x = userdata;

	(void)path, (void)len;
	if (op != IO_WRITE || x->pid)
		return 0;
	x->pid = race(x->rc, fd);
	for (int i = 0; i < 100 && !x->reaped; i++) {
		x->reaped = waitpid(x->pid, &x->status, WNOHANG) == x->pid;
		usleep(10 * 1000);
	}
	return 0;
}

/*
 * Issue 10, defect 5: a clean shutdown that loaded the TRYING record races a
 * mark-good. Unserialised, the mark-good commits IDLE (and says "slot B is
 * good"), then the clean shutdown commits its stale TRYING over it. With the
 * lock, the mark-good waits, loads the clean shutdown's record, and wins.
 */
TEST(running_transitions_are_serialised)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct running_config rc, shutdown_rc;
	struct state_record st;
	uint8_t slot = 9;

	REQUIRE(helpers_device(&d) == 0);
	REQUIRE(helpers_update("v2", d.key.priv, 2) == 0);
	REQUIRE(helpers_drop(&d, "v2") == 0);
	REQUIRE(helpers_apply(&d, &slot) == 0);
	REQUIRE(slot == 1);
	helpers_running(&d, 1, &rc);
	shutdown_rc = rc;

	struct racer x = {.rc = &rc};
	struct io_hooks hooks = {.before = race_before_write, .userdata = &x};
	io_set_hooks(&hooks);
	int r = running_clean_shutdown(&shutdown_rc);
	io_set_hooks(NULL);
	CHECK_EQ(r, 0);
	REQUIRE(x.pid > 0);
	CHECK(!x.reaped); /* it waited for the clean shutdown's lock */
	if (!x.reaped)
		REQUIRE(waitpid(x.pid, &x.status, 0) == x.pid);
	CHECK(WIFEXITED(x.status) && WEXITSTATUS(x.status) == 0); /* mark-good said "good" */

	REQUIRE(helpers_read_state(d.state, &st) == 0);
	CHECK_EQ(st.state, STATE_IDLE); /* and so it is */
	CHECK_EQ(st.active, 1);
	CHECK_EQ(st.slot[1].status, SLOT_GOOD);
	CHECK_EQ(st.slot[1].version, 2);
}

/* A holder that never lets go: the next transition gives up with -EBUSY, changing nothing. */
TEST(running_lock_wait_is_bounded)
{
	_cleanup_device_ struct helpers_device d = {0};
	struct running_config rc;
	struct state_record before, after;
	struct state_dev held;

	REQUIRE(helpers_device(&d) == 0);
	helpers_running(&d, 0, &rc);
	rc.lock_timeout_ms = 50;
	REQUIRE(helpers_read_state(d.state, &before) == 0);
	REQUIRE(state_open(d.state, true, &held) == 0);
	REQUIRE(flock(held.fd, LOCK_EX) == 0);
	CHECK_EQ(running_allow_downgrade(&rc, 3), -EBUSY);
	state_close(&held);
	REQUIRE(helpers_read_state(d.state, &after) == 0);
	CHECK_EQ(after.seq, before.seq);
	CHECK_EQ(running_allow_downgrade(&rc, 3), 0);
}
