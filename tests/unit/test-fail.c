/* SPDX-License-Identifier: MIT */
/* Error reasons (fail.h): a reason belongs to the code it was given for. */
#include <errno.h>
#include <string.h>

#include "fail.h"
#include "test.h"

TEST(fail_reason_for_its_own_code_only)
{
	fail(-EBADMSG, "an earlier, unrelated failure");
	/* A bare -ENOMEM from somewhere else must not inherit it. */
	CHECK(strstr(fail_reason_for(-ENOMEM), "unrelated") == NULL);
	CHECK(strstr(fail_reason_for(-ENOMEM), "ENOMEM") != NULL);
	CHECK(strcmp(fail_reason_for(-EBADMSG), "an earlier, unrelated failure") == 0);
	fail_context(-EIO, "while reading");
	CHECK(strcmp(fail_reason_for(-EIO), "while reading: an earlier, unrelated failure") == 0);
	fail_clear();
	CHECK(strstr(fail_reason_for(-EIO), "EIO") != NULL);
}
