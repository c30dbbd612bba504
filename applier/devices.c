/* SPDX-License-Identifier: MIT */
#include "devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"
#include "history.h"
#include "log.h"
#include "slot.h"

void devices_free(struct devices *d)
{
	free(d->state);
	free(d->slot[0]);
	free(d->slot[1]);
	memset(d, 0, sizeof(*d));
}

int devices_resolve(const struct config *cfg, struct devices *d)
{
	int r;

	memset(d, 0, sizeof(*d));
	r = slot_resolve(cfg->state, &d->state);
	if (r == 0)
		r = slot_resolve(cfg->slot[0], &d->slot[0]);
	if (r == 0)
		r = slot_resolve(cfg->slot[1], &d->slot[1]);
	/* A misconfiguration must not let one write land on another's device. */
	if (r == 0)
		r = slot_distinct((const char *const[]){d->state, d->slot[0], d->slot[1]}, 3);
	if (r < 0)
		devices_free(d);
	return r;
}

int devices_read_state(const char *path, struct state_record *ret)
{
	struct state_dev dev;
	int r = state_open(path, false, &dev);

	if (r < 0)
		return r;
	r = state_load(&dev, ret);
	int u = state_unreadable(&dev);
	/* Say it: the record shown may not be the newest, and no commit will be made. */
	if (r == 0 && u >= 0)
		log_warn("state record copy %d is unreadable (%s): showing copy %d, which may be "
		         "older; nothing is committed until copy %d reads again",
		         u, fail_code_name(dev.copy_error[u]), !u, u);
	state_close(&dev);
	return r;
}

int devices_booted(const struct devices *d, int forced, uint8_t *ret)
{
	if (forced >= 0) {
		*ret = (uint8_t)forced;
		return 0;
	}
	return slot_booted(d->slot, ret);
}

void devices_history(const char *state_path, uint8_t kind, uint8_t slot, uint64_t version,
                     const char *label, int error, const char *fmt, ...)
{
	struct history_entry e;
	char reason[HISTORY_REASON_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	history_fill(&e, kind, slot, version, label, error, "%s", reason);
	history_note_path(state_path, &e);
}
