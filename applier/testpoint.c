/* SPDX-License-Identifier: MIT */
#include "testpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"

#define KEY "systemota.testpoint"

/* The armed point's name, read once: "" when none. */
static const char *armed(void)
{
	static char name[64];
	static int loaded;
	const char *env;

	if (loaded)
		return name;
	loaded = 1;
	env = getenv("SYSTEMOTA_TESTPOINT");
	if (env) {
		snprintf(name, sizeof(name), "%s", env);
		return name;
	}
	cmdline_get(KEY, name, sizeof(name));
	return name;
}

static void (*handler)(const char *, void *);
static void *handler_data;

void testpoint_set_handler(void (*h)(const char *name, void *userdata), void *userdata)
{
	handler = h;
	handler_data = userdata;
}

void testpoint(const char *name)
{
	if (handler)
		handler(name, handler_data);
	if (strcmp(armed(), name) != 0)
		return;
	fprintf(stderr, "systemota: TESTPOINT %s\n", name);
	fflush(stderr);
	/* The harness cuts the power now; never go on. */
	for (;;)
		pause();
}
