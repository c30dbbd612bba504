/* SPDX-License-Identifier: MIT */
#pragma once

/* The device's partitions, as every state-aware command needs them. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "state.h"

struct devices {
	char *state;
	char *slot[2];
};

/*
 * Resolves the state partition and both slots from the config (libblkid
 * lookups for PARTLABEL=), and refuses a configuration where two of them are
 * the same device.
 */
int devices_resolve(const struct config *cfg, struct devices *d);
void devices_free(struct devices *d);

/* Reads the record without writing anything. */
int devices_read_state(const char *path, struct state_record *ret);

/* The slot the running root is on; forced is the --booted override (-1: find out). */
int devices_booted(const struct devices *d, int forced, uint8_t *ret);

/*
 * Adds an entry to the history on the state device (best effort: a failure
 * is logged). kind is an enum history_kind; the reason is formatted.
 */
void devices_history(const char *state_path, uint8_t kind, uint8_t slot, uint64_t version,
                     const char *label, int error, const char *fmt, ...)
        __attribute__((format(printf, 7, 8)));
