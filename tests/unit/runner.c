/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fail.h"
#include "io.h"
#include "log.h"
#include "test.h"

static struct test *tests;
static int current_failed;
static char tmpdir[256], basedir[256];

void test_register(struct test *t)
{
	t->next = tests;
	tests = t;
}

void test_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "  %s:%d: check failed: %s (last reason: %s)\n", file, line, expr,
	        fail_reason());
	current_failed = 1;
}

int test_failed(void)
{
	return current_failed;
}

const char *test_tmpdir(void)
{
	return tmpdir;
}

int test_subdir(const char *name)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/%s", basedir, name);
	return mkdir(tmpdir, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

const char *test_path(const char *name)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, name);
	return b;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Registration runs in reverse link order; run tests in file order instead. */
static struct test *reverse(struct test *t)
{
	struct test *out = NULL;
	while (t) {
		struct test *n = t->next;
		t->next = out;
		out = t;
		t = n;
	}
	return out;
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int passed = 0, failed = 0;

	/* Line by line, so a crash (or a sanitizer abort) still shows which test ran last. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!getenv("TEST_VERBOSE"))
		log_set_level(LOG_LEVEL_SILENT);
	for (struct test *t = reverse(tests); t; t = t->next) {
		if (filter && !strstr(t->name, filter))
			continue;
		snprintf(tmpdir, sizeof(tmpdir), "%s/systemota-test-XXXXXX", base);
		if (!mkdtemp(tmpdir) || !memcpy(basedir, tmpdir, sizeof(basedir))) {
			perror("mkdtemp");
			return 2;
		}
		current_failed = 0;
		fail_clear();
		io_set_hooks(NULL);
		t->fn();
		io_set_hooks(NULL);
		rm_rf(basedir);
		printf("%s %s\n", current_failed ? "FAIL" : "ok  ", t->name);
		if (current_failed)
			failed++;
		else
			passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
