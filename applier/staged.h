/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The drop-in directory: listing staged bundles, and judging one against the
 * device (signature, compatible string, version, history, slot size). Shared
 * by the applier, `systemota stage` and `systemota status`, so all three
 * refuse the same things with the same words.
 *
 * A staged bundle is any entry named "*.sota" (not starting with a dot). The
 * first STAGED_MAX_FILES of them in name order that the record does not
 * remember as refused are considered, in that order; the applier installs the
 * first acceptable one. Each refused one is remembered in the record (as many
 * as it holds, STATE_REJECTED_FILES, the same number), so no file is judged
 * twice and no boot rewrites the record or a slot for a file it has refused
 * before. A remembered one takes no place: otherwise four refused files that
 * sort first would keep a staged update from ever being looked at.
 *
 * The drop-in directory is data_dir/dropin, opened by dropin_open(): no
 * component below data_dir is followed through a symlink.
 */

#include <stdbool.h>
#include <stdint.h>

#include "bundle.h"
#include "crypto.h"
#include "state.h"

#define STAGED_MAX_FILES STATE_REJECTED_FILES /* judged, at most, per listing */
/* Listed at most: the judged ones, and the remembered ones sorting before them. */
#define STAGED_LIST_MAX (STAGED_MAX_FILES + STATE_REJECTED_FILES)
#define STAGED_SCAN_MAX 256 /* *.sota names one staged_names() call returns, at most */
/*
 * Directory entries (of any name) one listing reads, at most: the applier
 * runs at boot, and a directory filled with junk must not hold the boot up.
 * Beyond it, a listing says so and goes on with what it read.
 */
#define STAGED_SCAN_ENTRIES 8192
#define STAGED_NAME_MAX 128
#define STAGED_SKIP 1 /* judged before: already installed, or its update failed */

struct staged_file {
	char name[STAGED_NAME_MAX];
	uint8_t fingerprint[STATE_FINGERPRINT_SIZE];
	bool refused; /* the record remembers it as refused: not to be judged again */
};

struct staged_list {
	int dirfd;
	size_t n;
	struct staged_file files[STAGED_LIST_MAX];
};

/*
 * The names of the "*.sota" entries of an open directory, read from its start
 * (whatever its offset, which every dup of dirfd shares), sorted, at most max
 * and from at most STAGED_SCAN_ENTRIES entries (malloc'ed; free with
 * staged_names_free). Returns 0, or 1 when it stopped at STAGED_SCAN_ENTRIES
 * entries, or -errno.
 */
int staged_names(int dirfd, char **ret_names, size_t max, size_t *ret_n);
void staged_names_free(char **names, size_t n);

/*
 * Lists the drop-in directory data_dir/dropin (opened by dropin_open(), so
 * -ENOENT when it is missing, -ELOOP or -ENOTDIR when a component is a
 * symlink or not a directory, with a reason): in name order, the first
 * STAGED_MAX_FILES "*.sota" entries that st does not remember as refused,
 * with the remembered ones sorting before them (marked refused, at most
 * STATE_REJECTED_FILES), each with its fingerprint. st may be NULL (nothing
 * is remembered). On failure *ret is an empty list (dirfd -1).
 */
int staged_list(const char *data_dir, const char *dropin, const struct state_record *st,
                struct staged_list *ret);
void staged_list_free(struct staged_list *l);

/*
 * Opens f (a regular file, not followed through a symlink) and verifies its
 * signature. On success *ret is an open, verified bundle.
 */
int staged_open(const struct staged_list *l, const struct staged_file *f,
                const struct crypto_keyset *keys, const struct keyring *adopted,
                struct bundle *ret);

/*
 * Judges a verified bundle against the device: compatible string, version
 * (newer than the active slot's and not below the floor), and slot size
 * (when slot_size is not 0). Returns 0 when it may be installed,
 * STAGED_SKIP when the record says it was installed or failed before, or
 * -errno with a reason.
 */
int staged_check(const struct bundle *b, const char *compatible, const struct state_record *st,
                 uint64_t slot_size);

/*
 * Whether a refusal with this code is a verdict on the file itself (malformed,
 * badly signed, for another device, too old, too big: the same file will be
 * refused again), rather than a failure to read it (an I/O error, a file that
 * vanished or shrank while being read) that may not happen next time.
 */
bool staged_is_verdict(int error);

/*
 * The fingerprint of an entry: SHA-256 over its name, inode, size, mode and
 * modification and change times. A rejected file is not looked at again until
 * one of these changes, and any new copy changes them.
 */
int staged_fingerprint(int dirfd, const char *name, uint8_t ret[STATE_FINGERPRINT_SIZE]);
