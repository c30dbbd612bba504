/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Logging to stderr with a "systemota: " prefix. In the initramfs stderr is the
 * console, so these lines are the applier's record of what it decided.
 *
 * Every line is escaped (log_escape) before it is written: messages quote file
 * names from the data partition, which anyone who can write there chooses, and
 * a terminal acts on the control bytes in them (ESC [ 2 J clears the console, a
 * newline forges a line, 0x9b is the 8-bit CSI).
 */

#include <stddef.h>

/* The size an escaped copy of n bytes can need, its NUL included. */
#define LOG_ESCAPE_SIZE(n) (4 * (n) + 1)

enum log_level {
	LOG_LEVEL_SILENT = -1,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

void log_set_level(enum log_level level);

/*
 * Copies s into out (size bytes, always NUL-terminated) with every byte that
 * is not printable ASCII written as \xNN, and a backslash as \\, so what is
 * shown can be read back unambiguously. An escape that does not fit is left
 * out whole (never half a sequence). Returns out.
 */
char *log_escape(char *out, size_t size, const char *s);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
