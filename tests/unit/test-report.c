/* SPDX-License-Identifier: MIT */
/* What reaches a terminal or the console: status text, JSON, log lines. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "helpers.h"
#include "history.h"
#include "log.h"
#include "report.h"
#include "state.h"
#include "test.h"

/* ESC [ 2 J clears a terminal, a newline forges a line, 0x9b is the 8-bit CSI. */
#define HOSTILE "evil\x1b[2J\nStaged:        fake\x9b.sota"

/* No byte a terminal would act on: only printable ASCII and the line ends the format makes. */
static bool only_printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c != '\n' && (c < 0x20 || c > 0x7e))
			return false;
	}
	return true;
}

static size_t count_lines_with(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, what)); p++)
		n++;
	return n;
}

static char *render(const struct report_status *s, bool json, size_t *ret_len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, ret_len);

	if (!f)
		return NULL;
	report_status(f, s, json);
	fclose(f);
	return buf;
}

static void hostile_status(struct state_record *st, struct report_staged *staged,
                           struct history_entry *h, struct report_status *s)
{
	memset(st, 0, sizeof(*st));
	st->state = STATE_IDLE;
	st->last_error = EBADMSG;
	snprintf(st->slot[0].label, sizeof(st->slot[0].label), "a\x1b]0;x\x07");
	snprintf(st->last_reason, sizeof(st->last_reason), "rejected %s", HOSTILE);
	memset(staged, 0, sizeof(*staged));
	snprintf(staged->name, sizeof(staged->name), "%s", HOSTILE);
	snprintf(staged->label, sizeof(staged->label), "l\x9b");
	snprintf(staged->verdict, sizeof(staged->verdict), "rejected: %s", HOSTILE);
	memset(h, 0, sizeof(*h));
	h->kind = HISTORY_INSTALL_FAILED;
	snprintf(h->reason, sizeof(h->reason), "%s", HOSTILE);
	*s = (struct report_status){.st = st,
	                            .booted = 0,
	                            .staged = staged,
	                            .n_staged = 1,
	                            .history = h,
	                            .n_history = 1};
}

TEST(report_status_text_escapes_file_names)
{
	struct state_record st;
	struct report_staged staged;
	struct history_entry h;
	struct report_status s;
	size_t len;

	hostile_status(&st, &staged, &h, &s);
	_cleanup_free_ char *out = render(&s, false, &len);
	REQUIRE(out);
	CHECK(only_printable(out, len));
	CHECK(strstr(out, "evil\\x1b[2J\\x0aStaged:        fake\\x9b.sota"));
	/* The forged line is not a line: one "Staged:" at a line start, the real one. */
	CHECK_EQ(count_lines_with(out, "\nStaged:"), 1);
	if (test_failed())
		fprintf(stderr, "%s", out);
}

TEST(report_status_json_escapes_file_names)
{
	struct state_record st;
	struct report_staged staged;
	struct history_entry h;
	struct report_status s;
	size_t len;

	hostile_status(&st, &staged, &h, &s);
	_cleanup_free_ char *out = render(&s, true, &len);
	REQUIRE(out);
	CHECK(only_printable(out, len));
	CHECK(strstr(out, "\"evil\\u001b[2J\\u000aStaged:        fake\\u009b.sota\""));
}

TEST(log_line_escapes_file_names)
{
	char path[HELPERS_PATH_MAX];
	uint8_t *out = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s", test_path("stderr"));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0);
	int saved = dup(STDERR_FILENO);
	REQUIRE(saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	log_set_level(LOG_LEVEL_INFO);
	log_error("rejected %s: bad signature", HOSTILE);
	log_set_level(getenv("TEST_VERBOSE") ? LOG_LEVEL_INFO : LOG_LEVEL_SILENT);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	REQUIRE(helpers_read_file(path, &out, &len) == 0);
	REQUIRE(len > 0);
	CHECK(only_printable((const char *)out, len));
	/* One line, ending where the message ends. */
	CHECK(memchr(out, '\n', len) == out + len - 1);
	CHECK(memmem(out, len, "evil\\x1b[2J\\x0aStaged:", 21));
	if (test_failed())
		fwrite(out, 1, len, stdout);
	free(out);
}

TEST(report_status_shows_the_data_checkpoint)
{
	struct state_record st;
	struct report_status s = {.st = &st, .booted = 1};
	size_t len;

	state_init(&st);
	_cleanup_free_ char *unset = render(&s, false, &len);
	_cleanup_free_ char *unset_json = render(&s, true, &len);
	REQUIRE(unset && unset_json);
	CHECK(strstr(unset, "\nData:          not checkpointed (no COW store)"));
	CHECK(strstr(unset_json, "\"data_checkpointed\": false,\n"));
	s.checkpointed = true;
	_cleanup_free_ char *none = render(&s, false, &len);
	REQUIRE(none);
	CHECK(strstr(none, "Data:") == NULL); /* no checkpoint: nothing to say yet */
	CHECK(strstr(none, "COW store:") == NULL);
	st.data_cp = DATA_CP_MERGING;
	st.cp_version = 7;
	_cleanup_free_ char *text = render(&s, false, &len);
	_cleanup_free_ char *json = render(&s, true, &len);
	REQUIRE(text && json);
	CHECK(strstr(text, "\nData:          checkpoint merging (the data before version 7): "
	                   "merged back at the next boot\n"));
	CHECK(strstr(json,
	             "\"data_checkpoint\": \"merging\",\n  \"data_checkpoint_version\": 7,\n"));
	CHECK_EQ(count_lines_with(json, "\"state\""), 1); /* scripts grep for the one "state" */
	st.data_cp = DATA_CP_OVERFLOWED;
	_cleanup_free_ char *over = render(&s, false, &len);
	REQUIRE(over);
	CHECK(strstr(over, "checkpoint overflowed (the data before version 7): it can no longer "
	                   "be rolled back\n"));
	/* The live COW store: how full, in KiB and per cent; and the kernel's verdict. */
	struct checkpoint_usage u = {.mapped = true, .used_sectors = 2048, .total_sectors = 8192};
	st.data_cp = DATA_CP_ACTIVE;
	s.cp_usage = &u;
	_cleanup_free_ char *use = render(&s, false, &len);
	_cleanup_free_ char *use_json = render(&s, true, &len);
	REQUIRE(use && use_json);
	CHECK(strstr(use, "\nCOW store:     1024 of 4096 KiB used (25%)\n"));
	CHECK(strstr(use_json, "\"cow_used_bytes\": 1048576,\n  \"cow_size_bytes\": 4194304,\n"
	                       "  \"cow_overflowed\": false,\n"));
	u.invalid = true;
	_cleanup_free_ char *full = render(&s, false, &len);
	REQUIRE(full);
	CHECK(strstr(full, "\nCOW store:     overflowed: this trial's data can no longer be "
	                   "rolled back\n"));
}

/* Which slot the boot checks (its verity byte), in words and for scripts. */
TEST(report_status_says_which_slot_is_checked_at_boot)
{
	struct state_record st;
	struct report_status s = {.st = &st, .booted = 0};
	size_t len;

	state_init(&st);
	st.slot[0].version = 4;
	st.slot[0].verity = 1;
	st.slot[0].status = st.slot[1].status = SLOT_GOOD;
	st.slot[1].version = 3;
	_cleanup_free_ char *text = render(&s, false, &len);
	_cleanup_free_ char *json = render(&s, true, &len);
	REQUIRE(text && json);
	CHECK(strstr(text,
	             "\nSlot A:        good, version 4, checked at every boot (dm-verity)\n"));
	CHECK(strstr(text, "\nSlot B:        good, version 3, not checked at boot (installed "
	                   "without verity)\n"));
	CHECK(strstr(json, "\"A\": { \"status\": \"good\", \"version\": 4, \"label\": \"\", "
	                   "\"verity\": true },\n"));
	CHECK(strstr(json, "\"verity\": false }\n"));
}
