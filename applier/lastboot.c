/* SPDX-License-Identifier: MIT */
#include "lastboot.h"

#include <dirent.h>
#include <linux/watchdog.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define PSTORE "/sys/fs/pstore"
#define PANIC "Kernel panic - not syncing: "

/* The panic message in one pstore dmesg record, if it has one. */
static bool panic_in(const char *path, char *why, size_t size)
{
	char line[512];
	bool found = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, PANIC);
		if (!p)
			continue;
		p[strcspn(p, "\r\n")] = '\0';
		snprintf(why, size, "kernel panic: %s", p + strlen(PANIC));
		found = true;
	}
	fclose(f);
	return found;
}

static bool pstore_panic(char *why, size_t size)
{
	struct dirent *de;
	bool found = false;
	DIR *d;

	/* In the initramfs nobody has mounted pstore yet; on failure there is none. */
	(void)mount("pstore", PSTORE, "pstore", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	d = opendir(PSTORE);
	if (!d)
		return false;
	while ((de = readdir(d))) {
		char path[512];
		if (strncmp(de->d_name, "dmesg-", 6) != 0)
			continue;
		snprintf(path, sizeof(path), PSTORE "/%s", de->d_name);
		if (!found)
			found = panic_in(path, why, size);
		/* Read once: removing the file erases the record from the backend. */
		unlink(path);
	}
	closedir(d);
	return found;
}

static bool watchdog_reset(void)
{
	char buf[32] = "";
	FILE *f = fopen("/sys/class/watchdog/watchdog0/bootstatus", "re");

	if (!f)
		return false;
	bool ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	return ok && (strtoul(buf, NULL, 0) & WDIOF_CARDRESET);
}

int lastboot_cause(char *why, size_t size)
{
	if (pstore_panic(why, size))
		return 1;
	if (watchdog_reset()) {
		snprintf(why, size, "reset by the watchdog: the system stopped responding");
		return 1;
	}
	return 0;
}
