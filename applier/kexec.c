/* SPDX-License-Identifier: MIT */
#include "kexec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fail.h"
#include "state.h"
#include "util.h"

#define MARKER "systemota.kexec="

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

int kexec_marker(void)
{
	char cmdline[4096];

	read_line("/proc/cmdline", cmdline, sizeof(cmdline));
	const char *p = strstr(cmdline, MARKER);
	if (!p)
		return -1;
	p += strlen(MARKER);
	return *p == 'A' ? 0 : *p == 'B' ? 1 : -1;
}

/* The running command line, less any earlier marker, plus ours. */
static void new_cmdline(uint8_t slot, char *out, size_t size)
{
	char cmdline[4096], *save = NULL;
	size_t n = 0;

	read_line("/proc/cmdline", cmdline, sizeof(cmdline));
	out[0] = '\0';
	for (char *w = strtok_r(cmdline, " ", &save); w; w = strtok_r(NULL, " ", &save))
		if (strncmp(w, MARKER, strlen(MARKER)) != 0)
			n += (size_t)snprintf(out + n, n < size ? size - n : 0, "%s ", w);
	snprintf(out + MIN(n, size - 1), size - MIN(n, size - 1), MARKER "%c",
	         state_slot_letter(slot));
}

int kexec_needed(const char *root, char *ret_id, size_t size)
{
	char path[4096], ours[128];

	snprintf(path, sizeof(path), "%s/boot/systemota-boot-id", root);
	read_line(path, ret_id, size);
	kexec_boot_id(ours, sizeof(ours));
	/* No kernel of its own, or this very one. */
	return ret_id[0] && strcmp(ret_id, ours) != 0;
}

int kexec_start(const char *root, uint8_t slot)
{
	char path[4096], cmdline[4096];
	int kfd, ifd;

	snprintf(path, sizeof(path), "%s/boot/vmlinuz", root);
	kfd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/boot/initrd.img", root);
	ifd = open(path, O_RDONLY | O_CLOEXEC);
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
	if (r < 0)
		return fail(-e, "kexec_file_load of slot %c's kernel failed: %s",
		            state_slot_letter(slot), strerror(e));
	sync();
	reboot(LINUX_REBOOT_CMD_KEXEC);
	return fail(-errno, "kexec into slot %c's kernel failed: %s", state_slot_letter(slot),
	            strerror(errno));
}
