/* SPDX-License-Identifier: MIT */
#include "recover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"
#include "history.h"
#include "io.h"
#include "log.h"
#include "util.h"

#define SUPERBLOCK_BYTES 2048
#define EXT4_MAGIC_OFFSET 1080
#define EXT4_MAGIC 0xef53

int recover_slot_checked(const char *path)
{
	uint8_t block[SUPERBLOCK_BYTES];
	int fd = io_open(path, O_RDONLY | O_CLOEXEC, 0);

	if (fd < 0)
		return fail(fd, "cannot open slot %s", path);
	int r = io_pread_all(fd, block, sizeof(block), 0);
	io_close(fd);
	if (r == -ENODATA)
		return 0; /* smaller than a superblock: nothing we boot */
	if (r < 0)
		return fail(r, "cannot read the first blocks of slot %s", path);
	return memcmp(block, "hsqs", 4) == 0 || util_le16(block + EXT4_MAGIC_OFFSET) == EXT4_MAGIC;
}

void recover_evidence(struct state_dev *d, const char *const slot_path[2], struct boot_evidence *ev)
{
	boot_evidence_init(ev);
	for (int i = 0; d && i < 2; i++) {
		struct state_record r;
		int e = d->copy[i] == STATE_COPY_INVALID ? state_salvage(d, i, &r) : -EBADMSG;
		if (e == 0)
			boot_evidence_salvaged(ev, &r);
		ev->unreadable |= d->copy[i] == STATE_COPY_UNREADABLE ||
		                  (e < 0 && e != -EBADMSG && e != -ENODATA);
	}
	if (d && history_supported(d)) {
		_cleanup_free_ struct history_entry *e = calloc(HISTORY_ENTRIES, sizeof(*e));
		size_t n = 0;
		if (e && history_read(d, e, HISTORY_ENTRIES, &n) == 0) {
			boot_evidence_history(ev, e, n);
		} else {
			log_warn("the history cannot be read either");
			ev->unreadable = true;
		}
	}
	for (int s = 0; s < 2; s++) {
		int r = slot_path[s] ? recover_slot_checked(slot_path[s]) : 0;
		if (r < 0)
			log_warn("%s", fail_reason());
		ev->checked[s] = r > 0;
		ev->unreadable |= r < 0;
	}
}

int recover_choose(const char *state_path, const char *const slot_path[2], uint8_t *ret_slot)
{
	struct boot_evidence ev;
	struct state_record st;
	struct state_dev dev;
	bool open = state_open(state_path, false, &dev) == 0;

	/* The load only tells which copies are damaged (evidence) and which unreadable. */
	if (open)
		(void)state_load(&dev, &st);
	recover_evidence(open ? &dev : NULL, slot_path, &ev);
	if (open)
		state_close(&dev);
	return boot_recover_slot(&ev, ret_slot);
}
