/* SPDX-License-Identifier: MIT */
#include "kexec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot.h"
#include "cmdline.h"
#include "fail.h"
#include "history.h"
#include "log.h"
#include "state.h"
#include "util.h"
#include "watchdog.h"

static void read_line(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "re");

	out[0] = '\0';
	if (!f)
		return;
	if (fgets(out, (int)size, f))
		out[strcspn(out, "\r\n")] = '\0';
	fclose(f);
}

void kexec_boot_id(char *out, size_t size)
{
	read_line(KEXEC_BOOT_ID, out, size);
}

int kexec_marker_find(const char *cmdline)
{
	char v[2];

	/* Only our own words: exactly A or B ("Bogus" does not fit in v). */
	if (cmdline_find(cmdline, KEXEC_MARKER, v, sizeof(v)) < 0)
		return -ENOENT;
	return v[0] == 'A' ? 0 : v[0] == 'B' ? 1 : -ENOENT;
}

int kexec_marker(void)
{
	char cmdline[CMDLINE_MAX];

	cmdline_read(cmdline, sizeof(cmdline));
	return kexec_marker_find(cmdline);
}

/* The running command line, less any earlier marker, plus ours. */
static void new_cmdline(uint8_t slot, char *out, size_t size)
{
	char cmdline[CMDLINE_MAX], *save = NULL;
	size_t n = 0;

	cmdline_read(cmdline, sizeof(cmdline));
	out[0] = '\0';
	for (char *w = strtok_r(cmdline, " ", &save); w; w = strtok_r(NULL, " ", &save))
		if (strncmp(w, KEXEC_MARKER "=", strlen(KEXEC_MARKER "=")) != 0)
			n += (size_t)snprintf(out + n, n < size ? size - n : 0, "%s ", w);
	snprintf(out + MIN(n, size - 1), size - MIN(n, size - 1), KEXEC_MARKER "=%c",
	         state_slot_letter(slot));
}

enum kexec_action kexec_decide(const char *slot_id, const char *own_id, int marker, uint8_t slot,
                               const struct state_record *st)
{
	/* No kernel of its own, or this very one. */
	if (!slot_id[0] || strcmp(slot_id, own_id) == 0)
		return KEXEC_BOOT;
	if (marker < 0)
		return KEXEC_START;
	/* Started by kexec already: this boot's one kexec is spent. */
	if (st && st->state == STATE_TRYING && st->target == slot)
		return KEXEC_FAIL_TRY;
	return KEXEC_REFUSE;
}

/* KEXEC_FAIL_TRY: one commit of the failed try (or the rollback it ends in), and its entry. */
static void record_failed_try(const struct kexec_request *rq, int err, const char *why)
{
	_cleanup_(state_close) struct state_dev dev = {.fd = -1};
	struct history_entry e = {.slot = rq->slot};
	struct state_record st, next;
	int r = rq->state_path ? state_open(rq->state_path, true, &dev)
	                       : fail(-ENOENT, "no state device");

	if (r == 0)
		r = state_load(&dev, &st);
	if (r == 0 && (st.state != STATE_TRYING || st.target != rq->slot))
		r = fail(-ESTALE, "the record no longer has slot %c on trial",
		         state_slot_letter(rq->slot));
	int rolled_back = r == 0 ? boot_try_failed(&st, err, why, &next) : 0;
	if (r == 0)
		r = state_commit(&dev, &next);
	if (r < 0) {
		/* The try was counted when this boot began: rebooting is still bounded. */
		log_error("cannot record the failed try: %s", fail_reason());
		return;
	}
	e.kind = rolled_back ? HISTORY_ROLLBACK : HISTORY_TRIAL_FAILED;
	e.error = next.last_error;
	e.version = st.target_version;
	memcpy(e.label, st.target_label, sizeof(e.label));
	snprintf(e.reason, sizeof(e.reason), "%s", next.last_reason);
	if (history_supported(&dev) && history_append(&dev, &e) < 0)
		log_warn("%s", fail_reason());
	if (rolled_back)
		log_error("slot %c failed try %u of %u and is rolled back to slot %c; rebooting",
		          state_slot_letter(rq->slot), st.max_tries - st.tries_left, st.max_tries,
		          state_slot_letter(next.active));
	else
		log_error("slot %c failed try %u of %u; rebooting", state_slot_letter(rq->slot),
		          st.max_tries - st.tries_left, st.max_tries);
}

/* A kexec history entry for rq's slot (best effort, like every entry). */
static void record_kexec(const struct kexec_request *rq, int err, const char *reason)
{
	_cleanup_(state_close) struct state_dev dev = {.fd = -1};
	struct history_entry e = {.kind = HISTORY_KEXEC, .slot = rq->slot, .error = -err};
	struct state_record st;

	snprintf(e.reason, sizeof(e.reason), "%s", reason);
	if (!rq->state_path || state_open(rq->state_path, true, &dev) < 0)
		return;
	/* Loading gives the record's sequence, which the entry carries. */
	if (state_load(&dev, &st) < 0)
		return;
	e.version = st.slot[rq->slot].version;
	memcpy(e.label, st.slot[rq->slot].label, sizeof(e.label));
	if (history_supported(&dev) && history_append(&dev, &e) < 0)
		log_warn("%s", fail_reason());
}

/* The record, when this kernel was started by kexec (the only case that needs it). */
static const struct state_record *read_record(const char *path, struct state_record *ret)
{
	_cleanup_(state_close) struct state_dev dev = {.fd = -1};

	if (!path || state_open(path, false, &dev) < 0 || state_load(&dev, ret) < 0)
		return NULL;
	return ret;
}

/* The record says rq's slot is the one on trial (false when it cannot be read). */
static bool slot_on_trial(const struct kexec_request *rq)
{
	struct state_record st;
	const struct state_record *rec = read_record(rq->state_path, &st);

	return rec && rec->state == STATE_TRYING && rec->target == rq->slot;
}

enum kexec_action kexec_run(const struct kexec_request *rq)
{
	char path[4096], id[KEXEC_ID_SIZE], why[STATE_REASON_SIZE];
	struct state_record st;

	snprintf(path, sizeof(path), "%s/boot/systemota-boot-id", rq->root);
	read_line(path, id, sizeof(id));
	enum kexec_action a = kexec_decide(id, rq->own_id, rq->marker, rq->slot, NULL);
	if (a == KEXEC_REFUSE)
		a = kexec_decide(id, rq->own_id, rq->marker, rq->slot,
		                 read_record(rq->state_path, &st));
	char letter = state_slot_letter(rq->slot);
	snprintf(why, sizeof(why), "second kexec in one boot refused (boot id %s, initramfs %s)",
	         id, rq->own_id);
	switch (a) {
	case KEXEC_BOOT:
		break;
	case KEXEC_START:
		snprintf(why, sizeof(why), "starting slot %c's own kernel (boot id %s)", letter,
		         id);
		record_kexec(rq, 0, why);
		log_info("slot %c carries its own kernel (boot id %s): starting it", letter, id);
		break;
	case KEXEC_REFUSE:
		log_warn("%s; slot %c boots with this kernel", why, letter);
		break;
	case KEXEC_FAIL_TRY:
		log_error("%s", why);
		record_failed_try(rq, -ELOOP, why);
		break;
	}
	return a;
}

void kexec_tools_command(const char *tool, const char *kernel, const char *initrd,
                         const char *cmdline, struct kexec_tools_cmd *out)
{
	static char load[] = "-l", classic[] = "-c", no_checks[] = "-i";

	snprintf(out->tool, sizeof(out->tool), "%s", tool);
	snprintf(out->kernel, sizeof(out->kernel), "%s", kernel);
	snprintf(out->initrd, sizeof(out->initrd), "--initrd=%s", initrd);
	snprintf(out->cmdline, sizeof(out->cmdline), "--command-line=%s", cmdline);
	char *argv[] = {out->tool,   load,         classic,     no_checks,
	                out->initrd, out->cmdline, out->kernel, NULL};
	memcpy(out->argv, argv, sizeof(argv));
}

/* kexec_load through kexec-tools: 0 when the kernel is loaded for reboot(KEXEC). */
static int load_classic(const char *kernel, const char *initrd, const char *cmdline, uint8_t slot)
{
	static const char *const tools[] = {KEXEC_TOOLS_PATHS};
	const char *tool = NULL;
	struct kexec_tools_cmd cmd;
	int status;

	for (size_t i = 0; i < ARRAY_SIZE(tools) && !tool; i++)
		if (access(tools[i], X_OK) == 0)
			tool = tools[i];
	if (!tool)
		return fail(-ENOSYS,
		            "slot %c's own kernel cannot start: this kernel has no kexec_file_load "
		            "(CONFIG_KEXEC_FILE) and the initramfs no kexec-tools for kexec_load",
		            state_slot_letter(slot));
	kexec_tools_command(tool, kernel, initrd, cmdline, &cmd);
	log_info(
	        "this kernel has no kexec_file_load: loading slot %c's kernel with %s (kexec_load)",
	        state_slot_letter(slot), tool);
	pid_t pid = fork();
	if (pid < 0)
		return fail(-errno, "cannot start %s: %s", tool, strerror(errno));
	if (pid == 0) {
		execv(cmd.tool, cmd.argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return fail(-errno, "lost %s: %s", tool, strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return fail(-ENOEXEC, "%s -l of slot %c's kernel failed (exit %d)", tool,
		            state_slot_letter(slot), WEXITSTATUS(status));
	return fail(-ENOEXEC, "%s -l of slot %c's kernel killed by signal %d", tool,
	            state_slot_letter(slot), WTERMSIG(status));
}

/*
 * For the slot on trial, just before the kexec: the watchdog's countdown
 * starts again, for the new kernel's boot to its initramfs (which arms it
 * again), so the time the loading took is not taken from it.
 */
static void rearm_for_kexec(const struct kexec_request *rq)
{
	char letter = state_slot_letter(rq->slot);

	if (!watchdog_configured(rq->watchdog) || !slot_on_trial(rq))
		return;
	if (!watchdog_runs_across_reboot(WATCHDOG_STOP_ON_REBOOT))
		log_warn("the watchdog stops at the kexec (the kernel command line has no "
		         "watchdog.stop_on_reboot=0): slot %c's kernel boots unguarded until its "
		         "initramfs arms it again",
		         letter);
	if (watchdog_arm(rq->watchdog, rq->watchdog_timeout) < 0)
		log_warn("%s", fail_reason());
	else
		log_info("watchdog %s armed again: %d s for slot %c's kernel to boot", rq->watchdog,
		         rq->watchdog_timeout, letter);
}

int kexec_start(const struct kexec_request *rq)
{
	char kernel[4096], initrd[4096], cmdline[CMDLINE_MAX];
	const char *root = rq->root;
	uint8_t slot = rq->slot;
	int kfd, ifd;

	snprintf(kernel, sizeof(kernel), "%s/boot/vmlinuz", root);
	kfd = open(kernel, O_RDONLY | O_CLOEXEC);
	snprintf(initrd, sizeof(initrd), "%s/boot/initrd.img", root);
	ifd = open(initrd, O_RDONLY | O_CLOEXEC);
	if (kfd < 0 || ifd < 0) {
		int e = errno;
		if (kfd >= 0)
			close(kfd);
		if (ifd >= 0)
			close(ifd);
		return fail(-e, "slot %c has a boot id but no /boot/vmlinuz and /boot/initrd.img",
		            state_slot_letter(slot));
	}
	new_cmdline(slot, cmdline, sizeof(cmdline));
	long r = syscall(SYS_kexec_file_load, kfd, ifd, strlen(cmdline) + 1, cmdline, 0UL);
	int e = errno;
	close(kfd);
	close(ifd);
	if (r < 0 && e == ENOSYS) {
		int c = load_classic(kernel, initrd, cmdline, slot);
		if (c < 0)
			return c;
	} else if (r < 0) {
		return fail(-e, "kexec_file_load of slot %c's kernel failed: %s",
		            state_slot_letter(slot), strerror(e));
	}
	rearm_for_kexec(rq);
	sync();
	reboot(LINUX_REBOOT_CMD_KEXEC);
	return fail(-errno, "kexec into slot %c's kernel failed: %s", state_slot_letter(slot),
	            strerror(errno));
}

enum kexec_action kexec_not_started(const struct kexec_request *rq, int err)
{
	char why[STATE_REASON_SIZE], cause[STATE_REASON_SIZE];
	char letter = state_slot_letter(rq->slot);

	/* Taken before reading the record, whose own failure would replace it. */
	snprintf(cause, sizeof(cause), "%s", fail_reason());
	if (slot_on_trial(rq)) {
		snprintf(why, sizeof(why), "its own kernel could not be started: %s", cause);
		log_error("slot %c %s", letter, why);
		record_failed_try(rq, err, why);
		return KEXEC_FAIL_TRY;
	}
	snprintf(why, sizeof(why), "slot %c booted with this kernel, not its own: %s", letter,
	         cause);
	log_error("%s", why);
	record_kexec(rq, err, why);
	return KEXEC_REFUSE;
}

int kexec_reboot(void)
{
	sync();
	reboot(LINUX_REBOOT_CMD_RESTART);
	return fail(-errno, "reboot failed: %s", strerror(errno));
}
