/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The kernel command line: the one place that reads it and finds a parameter
 * in it (the kexec marker, the power-cut tests' test point). A parameter is a
 * whole word "key=value": words are separated by white space, and a word may
 * be quoted as the kernel allows ("key=a b" or key="a b"), so
 * "xsystemota.kexec=B" is not systemota.kexec. When a key appears more than
 * once the last word wins, as with dracut's getarg.
 */

#include <stddef.h>

/* Longest command line read; the kernel's own limit (COMMAND_LINE_SIZE) on x86 and arm64. */
#define CMDLINE_MAX 4096

/*
 * Pure: finds key's value in cmdline, copied into out. Returns 0, -ENOENT
 * when no word is "key=...", or -ENAMETOOLONG when the value does not fit
 * in size (out is then "").
 */
int cmdline_find(const char *cmdline, const char *key, char *out, size_t size);

/* The running kernel's command line (/proc/cmdline), "" when it cannot be read. */
void cmdline_read(char *out, size_t size);

/* cmdline_find() on the running kernel's command line. */
int cmdline_get(const char *key, char *out, size_t size);
