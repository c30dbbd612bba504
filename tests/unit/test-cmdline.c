/* SPDX-License-Identifier: MIT */
/* The kernel command line: a parameter is a whole word, never a substring. */
#include <errno.h>
#include <string.h>

#include "cmdline.h"
#include "test.h"

TEST(cmdline_find_matches_whole_words_only)
{
	char v[16];

	CHECK_EQ(cmdline_find("ro systemota.kexec=B quiet", "systemota.kexec", v, sizeof(v)), 0);
	CHECK(strcmp(v, "B") == 0);
	CHECK_EQ(cmdline_find("systemota.kexec=A", "systemota.kexec", v, sizeof(v)), 0);
	CHECK(strcmp(v, "A") == 0);
	/* Another parameter that merely ends or begins like ours is not ours. */
	CHECK_EQ(cmdline_find("xsystemota.kexec=B", "systemota.kexec", v, sizeof(v)), -ENOENT);
	CHECK(v[0] == '\0');
	CHECK_EQ(cmdline_find("a.xsystemota.kexec=B ro", "systemota.kexec", v, sizeof(v)), -ENOENT);
	CHECK_EQ(cmdline_find("systemota.kexecx=B", "systemota.kexec", v, sizeof(v)), -ENOENT);
	CHECK_EQ(cmdline_find("systemota.kexec", "systemota.kexec", v, sizeof(v)), -ENOENT);
	CHECK_EQ(cmdline_find("", "systemota.kexec", v, sizeof(v)), -ENOENT);
	/* Inside another word's quoted value: not a word of its own. */
	CHECK_EQ(cmdline_find("x=\"a systemota.kexec=B\"", "systemota.kexec", v, sizeof(v)),
	         -ENOENT);
	/* Tabs and a newline separate words too; the kernel's quotes are taken off. */
	CHECK_EQ(cmdline_find("ro\tsystemota.testpoint=x\n", "systemota.testpoint", v, sizeof(v)),
	         0);
	CHECK(strcmp(v, "x") == 0);
	CHECK_EQ(cmdline_find("k=\"a b\" ro", "k", v, sizeof(v)), 0);
	CHECK(strcmp(v, "a b") == 0);
	CHECK_EQ(cmdline_find("\"k=a b\"", "k", v, sizeof(v)), 0);
	CHECK(strcmp(v, "a b") == 0);
	CHECK_EQ(cmdline_find("k= ro", "k", v, sizeof(v)), 0);
	CHECK(v[0] == '\0');
	/* The last word wins, as with dracut's getarg. */
	CHECK_EQ(cmdline_find("k=1 ro k=2", "k", v, sizeof(v)), 0);
	CHECK(strcmp(v, "2") == 0);
	/* A value too long for the caller is refused, not cut. */
	CHECK_EQ(cmdline_find("k=0123456789abcdef", "k", v, sizeof(v)), -ENAMETOOLONG);
	CHECK(v[0] == '\0');
	CHECK_EQ(cmdline_find("k=0123456789abcde", "k", v, sizeof(v)), 0);
}
