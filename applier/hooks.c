/* SPDX-License-Identifier: MIT */
#include "hooks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fail.h"
#include "log.h"
#include "mount.h"
#include "util.h"

#define NEWROOT "/run/systemota/newroot"
#define HOOKS_REAP_MS 5000 /* for killed processes to be gone */

struct hooks_list {
	char *names[HOOKS_MAX];
	size_t n;
};

static void hooks_list_free(struct hooks_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	l->n = 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The executable regular files of the hook directory, sorted; more than HOOKS_MAX refuses. */
static int list_hooks(const char *path, struct hooks_list *l)
{
	struct dirent *de;
	size_t found = 0;
	DIR *d = opendir(path);

	if (!d)
		return errno == ENOENT
		               ? 0
		               : fail(-EIO, "cannot list %s: %s", HOOKS_DIR, strerror(errno));
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
			continue;
		if (++found <= HOOKS_MAX && !(l->names[l->n] = strdup(de->d_name)))
			break;
		if (found <= HOOKS_MAX)
			l->n++;
	}
	closedir(d);
	if (found > l->n && found <= HOOKS_MAX)
		return fail(-ENOMEM, "out of memory listing %s", HOOKS_DIR);
	/* Skipping some would run a migration without the steps after it. */
	if (found > HOOKS_MAX)
		return fail(-ECANCELED, "the new image has more than %d post-install hooks (%zu)",
		            HOOKS_MAX, found);
	qsort(l->names, l->n, sizeof(l->names[0]), name_cmp);
	return 0;
}

static void child(const char *root, const char *dir, const char *name, const struct hooks_env *env)
{
	char path[512], slot[2] = {env->slot, 0}, version[32], from[32];

	snprintf(version, sizeof(version), "%llu", (unsigned long long)env->version);
	snprintf(from, sizeof(from), "%llu", (unsigned long long)env->from_version);
	/* Its own process group: the applier kills the group, whatever the hook started. */
	if (setpgid(0, 0) < 0)
		_exit(126);
	/* The applier's stdout answers the mount hook (the slot to boot): hooks use stderr. */
	if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0 ||
	    (strcmp(root, "/") != 0 && chroot(root) < 0) || chdir("/") < 0)
		_exit(126);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *const argv[] = {path, NULL};
	char e_slot[32], e_version[64], e_label[96], e_from[64];
	snprintf(e_slot, sizeof(e_slot), "SYSTEMOTA_SLOT=%s", slot);
	snprintf(e_version, sizeof(e_version), "SYSTEMOTA_VERSION=%s", version);
	snprintf(e_label, sizeof(e_label), "SYSTEMOTA_LABEL=%s", env->label);
	snprintf(e_from, sizeof(e_from), "SYSTEMOTA_FROM_VERSION=%s", from);
	char *const envp[] = {e_slot,
	                      e_version,
	                      e_label,
	                      e_from,
	                      "SYSTEMOTA_DATA=/data",
	                      "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	                      NULL};
	execve(path, argv, envp);
	_exit(127);
}

/*
 * Kills what is left of the hook's process group and reaps it: members
 * whose parent died were handed to us (the subreaper), so they are our
 * children, and waitpid on the group ends with ECHILD once all are gone.
 * A process stuck in the kernel (a dying medium) does not die of SIGKILL:
 * the wait is bounded, and the boot goes on without it.
 */
static void kill_group(pid_t pgid, const char *name)
{
	uint64_t deadline = util_now_ms() + HOOKS_REAP_MS;

	if (kill(-pgid, SIGKILL) == 0)
		log_warn("post-install hook %s left processes running: killed them", name);
	for (;;) {
		pid_t w = waitpid(-pgid, NULL, WNOHANG);
		if (w > 0 || (w < 0 && errno == EINTR))
			continue;
		if (w < 0)
			return; /* ECHILD: all gone */
		if (util_now_ms() >= deadline) {
			log_warn("post-install hook %s: processes of its group do not die", name);
			return;
		}
		usleep(10 * 1000);
	}
}

/* Waits for pid until deadline (ms, CLOCK_MONOTONIC): 0 with its status, -ETIMEDOUT. */
static int wait_until(pid_t pid, uint64_t deadline, int *ret_status)
{
	for (;;) {
		pid_t w = waitpid(pid, ret_status, WNOHANG);
		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (util_now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(20 * 1000);
	}
}

/* When a hook is killed: its own limit, or what is left of the hooks' total. */
struct deadline {
	uint64_t at; /* ms, CLOCK_MONOTONIC */
	unsigned limit_ms;
	bool total;
};

/* Runs one hook to its end, or kills its group at its deadline. */
static int run_one(const char *root, const char *dir, const char *name, const struct hooks_env *env,
                   const struct deadline *d)
{
	int status = 0;

	log_info("post-install hook %s", name);
	pid_t pid = fork();
	if (pid < 0)
		return fail(-errno, "cannot start hook %s: %s", name, strerror(errno));
	if (pid == 0)
		child(root, dir, name, env);
	/* Also here, so that the group exists before any kill (EACCES after its exec is fine). */
	(void)setpgid(pid, pid);
	int r = wait_until(pid, d->at, &status);
	if (r == -ETIMEDOUT) {
		kill(-pid, SIGKILL);
		(void)wait_until(pid, util_now_ms() + HOOKS_REAP_MS, &status);
	}
	kill_group(pid, name);
	if (r == -ETIMEDOUT && d->total)
		return fail(-ECANCELED, "post-install hooks ran longer than %u s together (at %s)",
		            d->limit_ms / 1000, name);
	if (r == -ETIMEDOUT)
		return fail(-ECANCELED, "post-install hook %s ran longer than %u s", name,
		            d->limit_ms / 1000);
	if (r < 0)
		return fail(-ECANCELED, "post-install hook %s: lost it: %s", name, strerror(-r));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return fail(-ECANCELED, "post-install hook %s failed (exit %d)", name,
		            WEXITSTATUS(status));
	return fail(-ECANCELED, "post-install hook %s killed by signal %d", name, WTERMSIG(status));
}

static int run_list(const char *root, const char *dir, const struct hooks_list *l,
                    const struct hooks_env *env, const struct hooks_limits *lim)
{
	uint64_t end = util_now_ms() + lim->total_ms;
	int was_subreaper = 0, r = 0;

	/* Orphans of a hook come to us, not to init: kill_group can reap them. */
	(void)prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("cannot become the hooks' subreaper: %s", strerror(errno));
	for (size_t i = 0; r == 0 && i < l->n; i++) {
		uint64_t own = util_now_ms() + lim->hook_ms;
		struct deadline d = {own, lim->hook_ms, false};
		if (own >= end)
			d = (struct deadline){end, lim->total_ms, true};
		r = run_one(root, dir, l->names[i], env, &d);
	}
	(void)prctl(PR_SET_CHILD_SUBREAPER, was_subreaper);
	return r;
}

/* Everything a hook sees, mounted under NEWROOT; undone in reverse by unmount_all. */
static int mount_inside(const char *data_mount)
{
	int r = mount_data_writable(data_mount, true);

	if (r < 0)
		return r;
	if (mount(data_mount, NEWROOT "/data", NULL, MS_BIND, NULL) < 0)
		return fail(-EIO, "the new image has no /data to mount the data partition on: %s",
		            strerror(errno));
	(void)mount("proc", NEWROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	(void)mount("sysfs", NEWROOT "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	(void)mount("/dev", NEWROOT "/dev", NULL, MS_BIND, NULL);
	return 0;
}

static void unmount_all(const char *data_mount)
{
	static const char *const inside[] = {NEWROOT "/dev", NEWROOT "/sys", NEWROOT "/proc",
	                                     NEWROOT "/data"};

	for (size_t i = 0; i < ARRAY_SIZE(inside); i++)
		(void)umount2(inside[i], MNT_DETACH);
	/* What the hooks wrote reaches the disk before the switch is committed. */
	sync();
	if (mount_data_writable(data_mount, false) < 0)
		log_warn("%s", fail_reason());
}

static const struct hooks_limits default_limits = {
        .hook_ms = HOOKS_TIMEOUT * 1000,
        .total_ms = HOOKS_TOTAL_TIMEOUT * 1000,
};

int hooks_run(const char *slot_path, const char *data_mount, const struct hooks_env *env)
{
	_cleanup_(hooks_list_free) struct hooks_list l = {.n = 0};

	mkdir("/run/systemota", 0700);
	mkdir(NEWROOT, 0700);
	int r = mount_slot(slot_path, NEWROOT);
	if (r < 0)
		return r;
	r = list_hooks(NEWROOT HOOKS_DIR, &l);
	if (r == 0 && l.n > 0) {
		r = mount_inside(data_mount);
		if (r == 0)
			r = run_list(NEWROOT, HOOKS_DIR, &l, env, &default_limits);
		unmount_all(data_mount);
	}
	(void)umount2(NEWROOT, MNT_DETACH);
	return r;
}

int hooks_run_in(const char *root, const char *dir, const struct hooks_env *env,
                 const struct hooks_limits *limits)
{
	_cleanup_(hooks_list_free) struct hooks_list l = {.n = 0};
	char path[1024];

	snprintf(path, sizeof(path), "%s%s", strcmp(root, "/") == 0 ? "" : root, dir);
	int r = list_hooks(path, &l);
	if (r < 0 || l.n == 0)
		return r;
	return run_list(root, dir, &l, env, limits);
}
