/* SPDX-License-Identifier: MIT */
#include "fail.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char reason[FAIL_REASON_MAX];
static _Thread_local int reason_code; /* the code the reason was given for */

int fail(int code, const char *fmt, ...)
{
	va_list ap;

	reason_code = code;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return code;
}

int fail_context(int code, const char *fmt, ...)
{
	char inner[FAIL_REASON_MAX], prefix[FAIL_REASON_MAX];
	va_list ap;

	memcpy(inner, reason, sizeof(inner));
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	snprintf(reason, sizeof(reason), "%s: %s", prefix, inner);
	reason_code = code;
	return code;
}

const char *fail_reason(void)
{
	return reason;
}

void fail_save(struct fail_saved *s)
{
	s->code = reason_code;
	memcpy(s->reason, reason, sizeof(s->reason));
}

void fail_restore(const struct fail_saved *s)
{
	reason_code = s->code;
	memcpy(reason, s->reason, sizeof(reason));
}

const char *fail_reason_for(int code)
{
	static _Thread_local char generic[FAIL_REASON_MAX];

	if (code == reason_code && reason[0])
		return reason;
	snprintf(generic, sizeof(generic), "%s (%s)", strerror(code < 0 ? -code : code),
	         fail_code_name(code));
	return generic;
}

void fail_clear(void)
{
	reason[0] = '\0';
	reason_code = 0;
}

const char *fail_code_name(int code)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
	        {EBADMSG, "EBADMSG"},
	        {EKEYREJECTED, "EKEYREJECTED"},
	        {ENOKEY, "ENOKEY"},
	        {EKEYREVOKED, "EKEYREVOKED"},
	        {EKEYEXPIRED, "EKEYEXPIRED"},
	        {ESTALE, "ESTALE"},
	        {EMEDIUMTYPE, "EMEDIUMTYPE"},
	        {ENOSPC, "ENOSPC"},
	        {EFBIG, "EFBIG"},
	        {EIO, "EIO"},
	        {ENOENT, "ENOENT"},
	        {EPROTO, "EPROTO"},
	        {EINVAL, "EINVAL"},
	        {ENOMEM, "ENOMEM"},
	        {EEXIST, "EEXIST"},
	        {EPERM, "EPERM"},
	        {EALREADY, "EALREADY"},
	        {ETIMEDOUT, "ETIMEDOUT"},
	        {ECANCELED, "ECANCELED"},
	        {ENODATA, "ENODATA"},
	        {EAGAIN, "EAGAIN"},
	        {ENOTDIR, "ENOTDIR"},
	        {EISDIR, "EISDIR"},
	        {ENAMETOOLONG, "ENAMETOOLONG"},
	        {EBUSY, "EBUSY"},
	        {ENODEV, "ENODEV"},
	        {EACCES, "EACCES"},
	        {ENXIO, "ENXIO"},
	        {ELOOP, "ELOOP"},
	};

	if (code < 0)
		code = -code;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].name;
	return "EUNKNOWN";
}
