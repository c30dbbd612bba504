/* SPDX-License-Identifier: MIT */
#include "slot.h"

#include <blkid/blkid.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fail.h"

/* Probes one device for a value (PART_ENTRY_NAME, TYPE); *ret is malloc'ed, NULL if absent. */
static int probe_value(const char *path, const char *name, int partitions, char **ret)
{
	const char *value = NULL;
	blkid_probe pr = blkid_new_probe_from_filename(path);

	*ret = NULL;
	if (!pr)
		return errno ? -errno : -EIO;
	if (partitions) {
		/* Entry details give the GPT partition name of a partition device. */
		blkid_probe_enable_superblocks(pr, 0);
		blkid_probe_enable_partitions(pr, 1);
		blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	}
	if (blkid_do_safeprobe(pr) == 0 && blkid_probe_lookup_value(pr, name, &value, NULL) == 0)
		*ret = strdup(value);
	blkid_free_probe(pr);
	return 0;
}

int slot_resolve(const char *spec, char **ret)
{
	const char *label;
	char line[256], name[128], found[160] = "";
	int matches = 0;
	FILE *f;

	if (strncmp(spec, "PARTLABEL=", 10) != 0) {
		*ret = strdup(spec);
		return *ret ? 0 : -ENOMEM;
	}
	label = spec + 10;
	f = fopen("/proc/partitions", "re");
	if (!f)
		return fail(-errno, "cannot read /proc/partitions: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char path[160], *value;
		unsigned major, minor;
		unsigned long long blocks;
		if (sscanf(line, "%u %u %llu %127s", &major, &minor, &blocks, name) != 4)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", name);
		if (probe_value(path, "PART_ENTRY_NAME", 1, &value) < 0 || !value)
			continue;
		if (strcmp(value, label) == 0) {
			matches++;
			snprintf(found, sizeof(found), "%s", path);
		}
		free(value);
	}
	fclose(f);
	if (matches == 0)
		return fail(-ENOENT, "no partition labelled %s", label);
	if (matches > 1)
		return fail(-EEXIST, "%d partitions labelled %s; refusing to guess", matches,
		            label);
	*ret = strdup(found);
	return *ret ? 0 : -ENOMEM;
}

int slot_fstype(const char *path, char **ret)
{
	int r = probe_value(path, "TYPE", 0, ret);

	if (r < 0)
		return fail(r, "cannot probe %s", path);
	if (!*ret)
		return fail(-ENODATA, "no filesystem found on %s", path);
	return 0;
}

int slot_distinct(const char *const *paths, size_t n)
{
	struct stat st[8];

	if (n > 8)
		return fail(-EINVAL, "more than 8 devices to compare");
	for (size_t i = 0; i < n; i++) {
		if (stat(paths[i], &st[i]) < 0)
			return fail(-errno, "cannot stat %s: %s", paths[i], strerror(errno));
		for (size_t j = 0; j < i; j++) {
			bool same = S_ISBLK(st[i].st_mode) && S_ISBLK(st[j].st_mode)
			                    ? st[i].st_rdev == st[j].st_rdev
			                    : st[i].st_dev == st[j].st_dev &&
			                              st[i].st_ino == st[j].st_ino;
			if (same)
				return fail(-EINVAL, "%s and %s are the same device", paths[j],
				            paths[i]);
		}
	}
	return 0;
}

/*
 * The device under a device-mapper device (a verity mapping has exactly one):
 * its /sys/dev/block/M:m/slaves/ entry. 0 with *ret set, or -ENOENT.
 */
static int dm_slave(dev_t dev, dev_t *ret)
{
	char path[96], num[32];
	unsigned int maj, min;
	int found = 0;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/slaves", major(dev), minor(dev));
	DIR *d = opendir(path);
	if (!d)
		return -ENOENT;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char dev_path[sizeof(path) + 2 * NAME_MAX];
		snprintf(dev_path, sizeof(dev_path), "%s/%s/dev", path, e->d_name);
		FILE *f = fopen(dev_path, "re");
		bool ok = f && fgets(num, sizeof(num), f) && sscanf(num, "%u:%u", &maj, &min) == 2;
		if (f)
			fclose(f);
		if (ok) {
			*ret = makedev(maj, min);
			found++;
		}
	}
	closedir(d);
	return found == 1 ? 0 : -ENOENT;
}

int slot_booted(char *const slot_path[2], uint8_t *ret)
{
	struct stat root, st;
	dev_t under = 0;

	if (stat("/", &root) < 0)
		return -errno;
	/* A verified slot is mounted through its dm-verity mapping (bootcheck.h). */
	bool mapped = dm_slave(root.st_dev, &under) == 0;
	for (uint8_t i = 0; i < 2; i++) {
		if (stat(slot_path[i], &st) < 0 || !S_ISBLK(st.st_mode))
			continue;
		if (st.st_rdev == root.st_dev || (mapped && st.st_rdev == under)) {
			*ret = i;
			return 0;
		}
	}
	return fail(-ENODEV, "the root filesystem is on neither slot");
}
