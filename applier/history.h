/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The boot history: a bounded log of what happened to updates (staged,
 * installed, tried, confirmed, refused, rolled back, and why), kept on the
 * state partition between the two record copies, so that it survives a
 * rollback and any filesystem trouble. `systemota history` shows it.
 *
 *   state partition:  copy 0 at 0 | history at 64 KiB: HISTORY_ENTRIES sectors | ... | copy 1
 *
 * Each entry is one 512-byte sector with its own CRC, written at index
 * seq % HISTORY_ENTRIES: appending overwrites the oldest entry. An append
 * writes the device's logical block holding the entry (io_block_size()), the
 * other entries in it as they were read, so a torn write damages only the
 * entries of that block: the one being written on a 512-byte device, up to
 * eight on a 4096-byte one. Label and reason are written in printable ASCII
 * (any other byte as '?'), so every entry written reads back. The history is
 * a report, not a decision: it is written after the commit it describes, and
 * a failure to write it never changes what the applier does (a power cut
 * between the two can lose an entry, never invent one). docs/state-record.md
 * has the layout.
 */

#include <stddef.h>
#include <stdint.h>

#include "state.h"

#define HISTORY_OFFSET (64u * 1024)
#define HISTORY_ENTRY_SIZE 512
#define HISTORY_ENTRIES 128
#define HISTORY_REASON_SIZE 128

enum history_kind {
	HISTORY_STAGED = 1,         /* a bundle was staged on the running system */
	HISTORY_INSTALLING = 2,     /* an install into the target slot began */
	HISTORY_INSTALLED = 3,      /* written, read back, verified: trial boots may start */
	HISTORY_INSTALL_FAILED = 4, /* an install attempt failed (to be retried, or not) */
	HISTORY_REJECTED = 5,       /* a staged bundle was refused */
	HISTORY_TRIAL_BOOT = 6,     /* the target booted on trial (a try used) */
	HISTORY_TRIAL_FAILED = 7,   /* the previous trial boot ended without a decision, and why */
	HISTORY_CONFIRMED = 8,      /* mark-good */
	HISTORY_MARKED_BAD = 9,     /* mark-bad */
	HISTORY_ROLLBACK = 10,      /* tries exhausted or given up: back to the active slot */
	HISTORY_CLEAN_REBOOT = 11,  /* a clean reboot during the trial: the try is given back */
	HISTORY_REINIT = 12,        /* the record was unreadable and re-initialised */
	HISTORY_HOOK_FAILED = 13,   /* a migration hook failed: the install was aborted */
	HISTORY_KEXEC = 14,         /* the slot's own kernel was started with kexec */
	HISTORY_NOTE = 15,          /* a failure that may pass (a staged file could not be read) */
	HISTORY_CHECKPOINT = 16,    /* the data was checkpointed, or the checkpoint lost */
	HISTORY_DATA_ROLLBACK = 17, /* the data was merged back to before the failed update */
	HISTORY_KEYRING = 18,       /* a keyring was adopted (with the update it came in) */
	HISTORY_DAMAGED = 19,       /* a slot failed its check at boot (bootcheck.h): where */
};

struct history_entry {
	uint64_t seq;        /* set by history_append */
	uint64_t record_seq; /* the record's sequence when the entry was written */
	uint64_t time;       /* seconds since the epoch, as the device's clock says */
	uint8_t kind;        /* enum history_kind */
	uint8_t slot;        /* 0 = A, 1 = B */
	int32_t error;       /* positive errno, 0 if none */
	uint64_t version;
	char label[STATE_LABEL_SIZE];
	char reason[HISTORY_REASON_SIZE];
};

/* Pure: one entry to and from its sector. decode: 0, or -EBADMSG for an empty or damaged sector. */
void history_encode(const struct history_entry *e, uint8_t out[HISTORY_ENTRY_SIZE]);
int history_decode(const uint8_t *buf, struct history_entry *ret);

/* Whether the state device is large enough to hold a history. */
int history_supported(const struct state_dev *d);

/*
 * Appends e (its seq is set to the next one). Best effort by contract:
 * callers log a failure and go on.
 */
int history_append(struct state_dev *d, struct history_entry *e);

/* Reads the valid entries, oldest first, at most max. */
int history_read(struct state_dev *d, struct history_entry *ret, size_t max, size_t *ret_n);

const char *history_kind_name(uint8_t kind);

/*
 * The one place an entry is filled: kind, slot, the version and label it is
 * about, a positive or negative errno (stored positive, 0 for none) and the
 * formatted reason, each cut to its field. Zeroes everything else.
 */
void history_fill(struct history_entry *e, uint8_t kind, uint8_t slot, uint64_t version,
                  const char *label, int error, const char *fmt, ...)
        __attribute__((format(printf, 7, 8)));

/*
 * Appends e after a commit, best effort: the history reports, it never
 * decides, so a failure is logged and never returned.
 */
void history_note(struct state_dev *d, struct history_entry *e);

/* history_note() on the state device at path, opened (and loaded, for the sequence) for it. */
void history_note_path(const char *state_path, struct history_entry *e);
