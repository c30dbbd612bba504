/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The running system's side of an update: `systemota stage FILE` and the
 * clean-up after `systemota mark-good`.
 */

#include <stdint.h>

#include "bundle.h"
#include "crypto.h"
#include "state.h"

#define STAGE_NAME "update.sota"

/* What stage_bundle() staged (for the history). */
struct stage_info {
	uint64_t version;
	char label[BUNDLE_LABEL_SIZE];
};

/*
 * Verifies src (signature, compatible string, version against st, and every
 * chunk against its signed digest; the applier decompresses and checks the
 * image digest at boot), then stages it atomically as
 * data_dir/dropin/update.sota: written to a temporary file from verified bytes
 * only, flushed, renamed, and the directory flushed. The drop-in directory is
 * opened, and its missing components created, by dropin_open(): a symlink in
 * place of any component below data_dir gives -ELOOP (-ENOTDIR for another
 * non-directory), with nothing written or removed anywhere. Any other staged
 * bundle is removed afterwards: one update is staged at a time. On failure
 * nothing in the drop-in directory changes; the rename is the commit point (a
 * failed flush of the directory after it is only a warning).
 */
int stage_bundle(const char *src, const char *data_dir, const char *dropin,
                 const struct crypto_keyset *keys, const char *compatible,
                 const struct state_record *st, uint64_t slot_size, struct stage_info *ret);

/*
 * Removes staged bundles in data_dir/dropin whose transaction the record lists
 * as done. Returns how many (0 when there is no drop-in directory), or -errno
 * (-ELOOP, -ENOTDIR: a component of the path is not a plain directory; nothing
 * is removed).
 */
int stage_cleanup(const char *data_dir, const char *dropin, const struct crypto_keyset *keys,
                  const struct state_record *st);
