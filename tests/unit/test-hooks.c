/* SPDX-License-Identifier: MIT */
/* Post-install hooks: what a hook leaves behind, the time they may take, how many. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "fail.h"
#include "helpers.h"
#include "hooks.h"
#include "test.h"

static const struct hooks_env env = {.slot = 'B', .version = 2, .label = "v2", .from_version = 1};

/* tmpdir/hooks/NAME, executable, with body after the #! line. */
static int write_hook(const char *name, const char *body)
{
	char path[HELPERS_PATH_MAX];

	mkdir(test_path("hooks"), 0755);
	snprintf(path, sizeof(path), "%s/%s", test_path("hooks"), name);
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "#!/bin/sh\n%s\n", body);
	if (fclose(f) != 0 || chmod(path, 0755) < 0)
		return -errno;
	return 0;
}

static pid_t read_pid(const char *name)
{
	FILE *f = fopen(test_path(name), "re");
	long pid = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

/* True when pid is gone (and reaped); kills it if not, so a failing test leaves nothing. */
static bool gone(pid_t pid)
{
	if (pid <= 0)
		return false;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	kill(pid, SIGKILL);
	return false;
}

static int run(unsigned hook_ms, unsigned total_ms)
{
	char dir[HELPERS_PATH_MAX];
	const struct hooks_limits lim = {.hook_ms = hook_ms, .total_ms = total_ms};

	snprintf(dir, sizeof(dir), "%s", test_path("hooks"));
	return hooks_run_in("/", dir, &env, &lim);
}

TEST(hooks_timeout_kills_what_the_hook_started)
{
	char body[HELPERS_PATH_MAX * 2];

	snprintf(body, sizeof(body), "sleep 1000 &\necho $! > '%s'\nsleep 1000",
	         test_path("grandchild.pid"));
	REQUIRE(write_hook("10-hang", body) == 0);
	CHECK_EQ(run(500, 10000), -ECANCELED);
	CHECK(strstr(fail_reason(), "10-hang ran longer than"));
	pid_t pid = read_pid("grandchild.pid");
	REQUIRE(pid > 0);
	CHECK(gone(pid));
}

TEST(hooks_left_running_after_success_are_killed)
{
	char body[HELPERS_PATH_MAX * 2];

	snprintf(body, sizeof(body), "sleep 1000 &\necho $! > '%s'\nexit 0",
	         test_path("grandchild.pid"));
	REQUIRE(write_hook("10-daemon", body) == 0);
	CHECK_EQ(run(5000, 10000), 0);
	pid_t pid = read_pid("grandchild.pid");
	REQUIRE(pid > 0);
	CHECK(gone(pid));
}

TEST(hooks_more_than_max_refuse_the_update)
{
	char name[32], body[HELPERS_PATH_MAX * 2];

	for (int i = 0; i <= HOOKS_MAX; i++) {
		snprintf(name, sizeof(name), "%03d-step", i);
		snprintf(body, sizeof(body), "touch '%s'", test_path("ran"));
		REQUIRE(write_hook(name, body) == 0);
	}
	CHECK_EQ(run(5000, 60000), -ECANCELED);
	CHECK(strstr(fail_reason(), "more than 64 post-install hooks (65)"));
	/* None of them ran: a migration without its last steps is worse than none. */
	CHECK(!helpers_exists(test_path("ran")));
}

TEST(hooks_together_are_bounded)
{
	REQUIRE(write_hook("10-slow", "sleep 1") == 0);
	REQUIRE(write_hook("20-slow", "sleep 1") == 0);
	REQUIRE(write_hook("30-slow", "sleep 1") == 0);
	CHECK_EQ(run(5000, 1500), -ECANCELED);
	CHECK(strstr(fail_reason(), "together (at 20-slow)"));
}

TEST(hooks_run_in_order_with_their_environment)
{
	char body[HELPERS_PATH_MAX * 2];

	snprintf(body, sizeof(body),
	         "echo \"$SYSTEMOTA_SLOT $SYSTEMOTA_VERSION $SYSTEMOTA_LABEL "
	         "$SYSTEMOTA_FROM_VERSION\" >> '%s'",
	         test_path("log"));
	REQUIRE(write_hook("20-b", body) == 0);
	REQUIRE(write_hook("10-a", body) == 0);
	REQUIRE(write_hook("30-c", "exit 3") == 0);
	CHECK_EQ(run(5000, 10000), -ECANCELED);
	CHECK(strstr(fail_reason(), "30-c failed (exit 3)"));
	uint8_t *log = NULL;
	size_t len = 0;
	REQUIRE(helpers_read_file(test_path("log"), &log, &len) == 0);
	CHECK(len == 18 && memcmp(log, "B 2 v2 1\nB 2 v2 1\n", 18) == 0);
	free(log);
}
