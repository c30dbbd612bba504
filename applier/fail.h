/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Error reasons. Every function returns a negative errno on failure; where the
 * failure is something a user must be able to read later (a rejected bundle, a
 * failed install), the function also records a one-line reason here, and the
 * applier copies it into the boot-state record.
 *
 * The documented codes:
 *   -EBADMSG       malformed input (bundle or record)
 *   -EKEYREJECTED  signature does not verify with any trusted key
 *   -ENOKEY        no trusted key found / key not trusted
 *   -EKEYREVOKED   signed by a revoked key
 *   -EKEYEXPIRED   signed by a key its keyring no longer allows for this version
 *   -ESTALE        version not newer than the installed one
 *   -EMEDIUMTYPE   bundle is for another device (compatible string)
 *   -ENOSPC        image larger than the target slot
 *   -EFBIG         a declared size exceeds a named maximum
 *   -EIO           device read/write/flush failed or read-back mismatch
 *   -ENOENT        missing file or device
 *   -EPROTO        unsupported format version, compression or feature
 */

#define FAIL_REASON_MAX 128

/* Records the reason (formatted) for code and returns code, so: return fail(-EBADMSG, "..."); */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like fail(), but keeps the current reason after the new prefix: "prefix: reason". */
int fail_context(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The reason recorded by the last fail() in this thread, or "" after fail_clear(). */
const char *fail_reason(void);

/* The reason and its code, kept across calls that must not change them when they succeed. */
struct fail_saved {
	int code;
	char reason[FAIL_REASON_MAX];
};
void fail_save(struct fail_saved *s);
void fail_restore(const struct fail_saved *s);

/*
 * The reason recorded for code: the last fail() reason when it was given for
 * this code, else the code's own description ("Cannot allocate memory
 * (ENOMEM)"). What goes into the boot-state record takes its reason from
 * here, so an error that was returned bare never carries the reason of an
 * earlier, unrelated failure.
 */
const char *fail_reason_for(int code);

void fail_clear(void);

/* A short name for one of our codes ("EBADMSG"), or a generic one. */
const char *fail_code_name(int code);
