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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fail.h"
#include "log.h"
#include "slot.h"
#include "util.h"

#define NEWROOT "/run/systemota/newroot"
#define MAX_HOOKS 64

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The executable regular files of the hook directory, sorted. */
static int list_hooks(char **names, size_t *ret_n)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(NEWROOT HOOKS_DIR);

	*ret_n = 0;
	if (!d)
		return errno == ENOENT
		               ? 0
		               : fail(-EIO, "cannot list %s: %s", HOOKS_DIR, strerror(errno));
	while ((de = readdir(d)) && n < MAX_HOOKS) {
		struct stat st;
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode) && (st.st_mode & 0111) && (names[n] = strdup(de->d_name)))
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	*ret_n = n;
	return 0;
}

static void child(const char *name, const struct hooks_env *env)
{
	char path[512], slot[2] = {env->slot, 0}, version[32], from[32];

	snprintf(version, sizeof(version), "%llu", (unsigned long long)env->version);
	snprintf(from, sizeof(from), "%llu", (unsigned long long)env->from_version);
	/* The applier's stdout answers the mount hook (the slot to boot): hooks use stderr. */
	if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0 || chroot(NEWROOT) < 0 || chdir("/") < 0)
		_exit(126);
	snprintf(path, sizeof(path), HOOKS_DIR "/%s", name);
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

/* Runs one hook to its end, or kills it at the timeout. */
static int run_one(const char *name, const struct hooks_env *env)
{
	time_t deadline = time(NULL) + HOOKS_TIMEOUT;
	int status;
	pid_t pid;

	log_info("post-install hook %s", name);
	pid = fork();
	if (pid < 0)
		return fail(-errno, "cannot start hook %s: %s", name, strerror(errno));
	if (pid == 0)
		child(name, env);
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return fail(-ECANCELED, "post-install hook %s: lost it: %s", name,
			            strerror(errno));
		if (time(NULL) > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return fail(-ECANCELED, "post-install hook %s ran longer than %d s", name,
			            HOOKS_TIMEOUT);
		}
		usleep(50 * 1000);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return fail(-ECANCELED, "post-install hook %s failed (exit %d)", name,
		            WEXITSTATUS(status));
	return fail(-ECANCELED, "post-install hook %s killed by signal %d", name, WTERMSIG(status));
}

/* Everything a hook sees, mounted under NEWROOT; undone in reverse by unmount_all. */
static int mount_all(const char *slot_path)
{
	_cleanup_free_ char *fstype = NULL;
	int r = slot_fstype(slot_path, &fstype);

	if (r < 0)
		return r;
	mkdir("/run/systemota", 0700);
	mkdir(NEWROOT, 0700);
	if (mount(slot_path, NEWROOT, fstype, MS_RDONLY | MS_NODEV, NULL) < 0)
		return fail(-EIO, "cannot mount the new slot: %s", strerror(errno));
	return 0;
}

static int mount_inside(const char *data_mount)
{
	/* The applier mounted the data partition read-only: hooks get it read-write. */
	if (mount(NULL, data_mount, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail(-EIO, "cannot make the data partition writable: %s", strerror(errno));
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
	(void)mount(NULL, data_mount, NULL,
	            MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	(void)umount2(NEWROOT, MNT_DETACH);
}

int hooks_run(const char *slot_path, const char *data_mount, const struct hooks_env *env)
{
	char *names[MAX_HOOKS];
	size_t n = 0;
	int r = mount_all(slot_path);

	if (r < 0)
		return r;
	r = list_hooks(names, &n);
	if (r == 0 && n > 0) {
		r = mount_inside(data_mount);
		for (size_t i = 0; r == 0 && i < n; i++)
			r = run_one(names[i], env);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	if (n > 0)
		unmount_all(data_mount);
	else
		(void)umount2(NEWROOT, MNT_DETACH);
	return r;
}
