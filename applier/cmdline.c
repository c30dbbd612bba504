/* SPDX-License-Identifier: MIT */
#include "cmdline.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * The word starting at *p, without its quotes, into word (truncated to
 * size); *p is left after it. Returns its length unquoted (which may exceed
 * size - 1), as the kernel's next_arg() splits the line.
 */
static size_t next_word(const char **p, char *word, size_t size)
{
	bool quoted = false;
	size_t n = 0;

	for (; **p && (quoted || !is_space(**p)); (*p)++) {
		if (**p == '"') {
			quoted = !quoted;
			continue;
		}
		if (n + 1 < size)
			word[n] = **p;
		n++;
	}
	word[n + 1 < size ? n : size - 1] = '\0';
	return n;
}

int cmdline_find(const char *cmdline, const char *key, char *out, size_t size)
{
	char word[CMDLINE_MAX];
	size_t klen = strlen(key);
	int r = -ENOENT;

	out[0] = '\0';
	for (const char *p = cmdline; *p;) {
		if (is_space(*p)) {
			p++;
			continue;
		}
		size_t n = next_word(&p, word, sizeof(word));
		if (n >= sizeof(word) || n <= klen || strncmp(word, key, klen) != 0 ||
		    word[klen] != '=')
			continue;
		/* The last one wins: an earlier match is forgotten. */
		if (n - klen - 1 >= size) {
			out[0] = '\0';
			r = -ENAMETOOLONG;
			continue;
		}
		memcpy(out, word + klen + 1, n - klen);
		r = 0;
	}
	return r;
}

void cmdline_read(char *out, size_t size)
{
	FILE *f = fopen("/proc/cmdline", "re");
	size_t n = 0;

	if (f) {
		n = fread(out, 1, size - 1, f);
		fclose(f);
	}
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

int cmdline_get(const char *key, char *out, size_t size)
{
	char cmdline[CMDLINE_MAX];

	cmdline_read(cmdline, sizeof(cmdline));
	return cmdline_find(cmdline, key, out, size);
}
