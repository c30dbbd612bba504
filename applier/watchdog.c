/* SPDX-License-Identifier: MIT */
#include "watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fail.h"

bool watchdog_configured(const char *path)
{
	return path && *path && strcmp(path, "none") != 0;
}

int watchdog_arm(const char *path, int timeout)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return fail(-errno, "cannot open watchdog %s: %s", path, strerror(errno));
	int t = timeout;
	if (ioctl(fd, WDIOC_SETTIMEOUT, &t) < 0) {
		int e = errno;
		close(fd);
		return fail(-e, "watchdog %s refuses a %d s timeout: %s", path, timeout,
		            strerror(e));
	}
	(void)ioctl(fd, WDIOC_KEEPALIVE, 0);
	/* No magic 'V' before closing: the watchdog keeps running after we let go. */
	close(fd);
	return 0;
}

int watchdog_disarm(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == EBUSY
		               ? -EBUSY
		               : fail(-errno, "cannot open watchdog %s: %s", path, strerror(errno));
	/* The magic close: 'V', then close, stops a watchdog that allows it. */
	ssize_t n = write(fd, "V", 1);
	close(fd);
	return n == 1 ? 0 : fail(-EIO, "cannot disarm watchdog %s", path);
}

bool watchdog_runs_across_reboot(const char *param_path)
{
	char v[16] = "";
	FILE *f = fopen(param_path, "re");

	if (!f)
		return false;
	bool ok = fgets(v, sizeof(v), f) && v[0] == '0' && (v[1] == '\n' || v[1] == '\0');
	fclose(f);
	return ok;
}
