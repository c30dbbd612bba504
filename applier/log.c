/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum log_level max_level = LOG_LEVEL_INFO;

void log_set_level(enum log_level level)
{
	max_level = level;
}

char *log_escape(char *out, size_t size, const char *s)
{
	size_t o = 0;

	if (size == 0)
		return out;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[5] = {(char)c, 0};
		if (c == '\\')
			snprintf(esc, sizeof(esc), "\\\\");
		else if (c < 0x20 || c > 0x7e)
			snprintf(esc, sizeof(esc), "\\x%02x", c);
		size_t n = strlen(esc);
		if (o + n >= size)
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
	char line[512], shown[LOG_ESCAPE_SIZE(sizeof(line))];
	va_list ap;

	if (level > max_level || level < LOG_LEVEL_ERROR)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line, so lines from the applier and the hook do not interleave. */
	fprintf(stderr, "systemota: %s%s\n", prefix[level], log_escape(shown, sizeof(shown), line));
}
