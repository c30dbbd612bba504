/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A tiny unit-test harness. Each test-<module>.c defines tests with TEST(name);
 * runner.c runs them all (or those whose name contains argv[1]) and ends with
 * the line "N passed, N failed", exiting non-zero on any failure.
 *
 * CHECK() records a failure and goes on; REQUIRE() stops the test.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct test {
	const char *name;
	void (*fn)(void);
	struct test *next;
};

void test_register(struct test *t);
void test_fail(const char *file, int line, const char *expr);
/* A fresh, empty directory for this test (removed after the run). */
const char *test_tmpdir(void);
/* Makes tmpdir/name and makes it the tmpdir for the rest of this test (isolated cases). */
int test_subdir(const char *name);
/* path = tmpdir/name, in a static rotating buffer. */
const char *test_path(const char *name);
int test_failed(void);

#define TEST(name)                                                                                 \
	static void test_##name(void);                                                             \
	static struct test test_struct_##name = {#name, test_##name, NULL};                        \
	__attribute__((constructor)) static void test_register_##name(void)                        \
	{                                                                                          \
		test_register(&test_struct_##name);                                                \
	}                                                                                          \
	static void test_##name(void)

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		if (!(expr))                                                                       \
			test_fail(__FILE__, __LINE__, #expr);                                      \
	} while (0)

#define REQUIRE(expr)                                                                              \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			test_fail(__FILE__, __LINE__, #expr);                                      \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* Checks an int expression against an expected value, printing both on mismatch. */
#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b) {                                                                    \
			char _m[256];                                                              \
			snprintf(_m, sizeof(_m), "%s == %s (%lld != %lld)", #a, #b, _a, _b);       \
			test_fail(__FILE__, __LINE__, _m);                                         \
		}                                                                                  \
	} while (0)
