/* SPDX-License-Identifier: MIT */
#include "report.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "codec.h"
#include "fail.h"
#include "history.h"
#include "keyring.h"
#include "log.h"
#include "util.h"

/*
 * Text output is for a terminal: every string that comes from a file name, a
 * bundle or the record is escaped (log_escape), as JSON escapes it (json_string).
 */
#define ESCAPED(buf, s) log_escape(buf, sizeof(buf), s)

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void hex_field(char out[2 * STATE_DIGEST_SIZE + 1], const uint8_t *digest)
{
	if (util_is_zero(digest, STATE_DIGEST_SIZE))
		out[0] = '\0';
	else
		util_hex(out, digest, STATE_DIGEST_SIZE);
}

static const char *slot_name(int slot)
{
	return slot < 0 ? "unknown" : slot ? "B" : "A";
}

static void history_json(FILE *f, const struct history_entry *e, size_t n, const char *indent)
{
	fprintf(f, "[");
	for (size_t i = 0; i < n; i++) {
		fprintf(f,
		        "%s\n%s  { \"seq\": %" PRIu64 ", \"time\": %" PRIu64
		        ", \"event\": \"%s\", ",
		        i ? "," : "", indent, e[i].seq, e[i].time, history_kind_name(e[i].kind));
		fprintf(f, "\"slot\": \"%s\", \"version\": %" PRIu64 ", \"label\": ",
		        slot_name(e[i].slot), e[i].version);
		json_string(f, e[i].label);
		fprintf(f, ", \"error\": ");
		if (e[i].error)
			fprintf(f, "\"%s\"", fail_code_name(e[i].error));
		else
			fprintf(f, "null");
		fprintf(f, ", \"reason\": ");
		json_string(f, e[i].reason);
		fprintf(f, " }");
	}
	fprintf(f, "%s%s]", n ? "\n" : "", n ? indent : "");
}

static void history_text(FILE *f, const struct history_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char label[LOG_ESCAPE_SIZE(STATE_LABEL_SIZE)];
		char reason[LOG_ESCAPE_SIZE(HISTORY_REASON_SIZE)];
		char when[32] = "";
		time_t t = (time_t)e[i].time;
		struct tm tm;
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(f, "#%-4" PRIu64 " %s  %-14s slot %s  version %" PRIu64 "%s%s%s", e[i].seq,
		        when, history_kind_name(e[i].kind), slot_name(e[i].slot), e[i].version,
		        e[i].label[0] ? " (" : "", ESCAPED(label, e[i].label),
		        e[i].label[0] ? ")" : "");
		if (e[i].error)
			fprintf(f, "  %s", fail_code_name(e[i].error));
		fprintf(f, "%s%s\n", e[i].reason[0] ? ": " : "", ESCAPED(reason, e[i].reason));
	}
}

void report_history(FILE *f, const struct history_entry *e, size_t n, bool json)
{
	if (json) {
		history_json(f, e, n, "");
		fprintf(f, "\n");
	} else {
		history_text(f, e, n);
	}
}

/* The COW store of the live checkpoint: how full, and whether the kernel gave it up. */
static void cow_text(FILE *f, const struct checkpoint_usage *u)
{
	if (!u)
		return;
	if (u->invalid || u->overflow) {
		fprintf(f, "COW store:     overflowed: this trial's data can no longer be rolled "
		           "back\n");
		return;
	}
	uint64_t pct = u->total_sectors ? u->used_sectors * 100 / u->total_sectors : 0;
	fprintf(f, "COW store:     %" PRIu64 " of %" PRIu64 " KiB used (%" PRIu64 "%%)%s\n",
	        u->used_sectors / 2, u->total_sectors / 2, pct, u->merging ? ", merging" : "");
}

/* The keys of one role in k, as a JSON array of ids. */
static void keys_json(FILE *f, const struct keyring *k, uint8_t role)
{
	char hex[2 * CRYPTO_KEY_ID_SIZE + 1];
	int n = 0;

	fprintf(f, "[");
	for (unsigned i = 0; i < k->n_keys; i++) {
		if (k->keys[i].role != role)
			continue;
		util_hex(hex, k->keys[i].id, CRYPTO_KEY_ID_SIZE);
		fprintf(f, "%s{ \"id\": \"%s\", \"until_version\": ", n++ ? ", " : "", hex);
		if (k->keys[i].until_version)
			fprintf(f, "%" PRIu64 " }", k->keys[i].until_version);
		else
			fprintf(f, "null }");
	}
	fprintf(f, "]");
}

/* Flat keys, as the checkpoint's: the adopted keyring (null: the initramfs's roots judge). */
static void keyring_json(FILE *f, const struct state_record *st)
{
	const struct keyring *k = NULL, *p = NULL;
	struct keyring kb, pb;
	char hex[2 * CRYPTO_KEY_ID_SIZE + 1];
	int bad = keyring_adopted(st, &kb, &k) < 0;

	bad |= keyring_pending(st, &pb, &p) < 0;
	if (bad)
		fprintf(f, "  \"keyring_error\": \"a stored keyring does not parse\",\n");
	if (!k) {
		fprintf(f, "  \"keyring_version\": null,\n");
	} else {
		fprintf(f, "  \"keyring_version\": %" PRIu64 ",\n  \"keyring_root_keys\": ",
		        k->version);
		keys_json(f, k, KEYRING_ROOT);
		fprintf(f, ",\n  \"keyring_signing_keys\": ");
		keys_json(f, k, KEYRING_SIGNING);
		fprintf(f, ",\n  \"keyring_revoked\": [");
		for (unsigned i = 0; i < k->n_revoked; i++) {
			util_hex(hex, k->revoked[i], CRYPTO_KEY_ID_SIZE);
			fprintf(f, "%s\"%s\"", i ? ", " : "", hex);
		}
		fprintf(f, "],\n");
	}
	if (p)
		fprintf(f, "  \"keyring_pending_version\": %" PRIu64 ",\n", p->version);
	else
		fprintf(f, "  \"keyring_pending_version\": null,\n");
}

static void keyring_text(FILE *f, const struct state_record *st)
{
	const struct keyring *k = NULL, *p = NULL;
	struct keyring kb, pb;
	char hex[2 * CRYPTO_KEY_ID_SIZE + 1];

	if (keyring_adopted(st, &kb, &k) < 0 || keyring_pending(st, &pb, &p) < 0) {
		fprintf(f,
		        "Keyring:       a stored keyring does not parse: no update is accepted\n");
		return;
	}
	if (!k)
		fprintf(f, "Keyring:       none adopted: the initramfs's keys judge bundles\n");
	else
		fprintf(f, "Keyring:       version %" PRIu64 ", %u keys, %u revoked\n", k->version,
		        k->n_keys, k->n_revoked);
	for (unsigned i = 0; k && i < k->n_keys; i++) {
		util_hex(hex, k->keys[i].id, CRYPTO_KEY_ID_SIZE);
		fprintf(f, "  %-7s key %s", keyring_role_name(k->keys[i].role), hex);
		if (k->keys[i].until_version)
			fprintf(f, " (until version %" PRIu64 ")", k->keys[i].until_version);
		fprintf(f, "\n");
	}
	for (unsigned i = 0; k && i < k->n_revoked; i++) {
		util_hex(hex, k->revoked[i], CRYPTO_KEY_ID_SIZE);
		fprintf(f, "  revoked key %s\n", hex);
	}
	if (p)
		fprintf(f,
		        "Keyring:       version %" PRIu64 " pending: adopted when version %" PRIu64
		        " is confirmed\n",
		        p->version, st->target_version);
}

static void status_json(FILE *f, const struct report_status *s)
{
	const struct state_record *st = s->st;
	char hex[2 * STATE_DIGEST_SIZE + 1];

	fprintf(f, "{\n  \"booted\": \"%s\",\n", slot_name(s->booted));
	if (!st) {
		fprintf(f, "  \"error\": ");
		json_string(f, s->state_error ? s->state_error : "");
		fprintf(f, "\n}\n");
		return;
	}
	fprintf(f, "  \"active\": \"%s\",\n  \"state\": \"%s\",\n", slot_name(st->active),
	        state_kind_name(st->state));
	fprintf(f, "  \"target\": \"%s\",\n  \"tries_left\": %u,\n  \"max_tries\": %u,\n",
	        slot_name(st->target), st->tries_left, st->max_tries);
	fprintf(f, "  \"apply_attempts\": %u,\n  \"sequence\": %" PRIu64 ",\n", st->apply_attempts,
	        st->seq);
	fprintf(f, "  \"version_floor\": %" PRIu64 ",\n", st->version_floor);
	/* Flat keys: "state" stays the one key of that name (scripts grep for it). */
	fprintf(f, "  \"data_checkpoint\": \"%s\",\n  \"data_checkpoint_version\": %" PRIu64 ",\n",
	        state_data_cp_name(st->data_cp), st->cp_version);
	fprintf(f, "  \"data_checkpointed\": %s,\n", s->checkpointed ? "true" : "false");
	keyring_json(f, st);
	if (s->cp_usage)
		fprintf(f,
		        "  \"cow_used_bytes\": %" PRIu64 ",\n  \"cow_size_bytes\": %" PRIu64
		        ",\n  \"cow_overflowed\": %s,\n",
		        s->cp_usage->used_sectors * 512, s->cp_usage->total_sectors * 512,
		        s->cp_usage->invalid || s->cp_usage->overflow ? "true" : "false");
	if (st->allow_version)
		fprintf(f, "  \"allowed_downgrade\": %" PRIu64 ",\n", st->allow_version);
	else
		fprintf(f, "  \"allowed_downgrade\": null,\n");
	fprintf(f, "  \"slots\": {\n");
	for (int i = 0; i < 2; i++) {
		fprintf(f,
		        "    \"%s\": { \"status\": \"%s\", \"version\": %" PRIu64 ", \"label\": ",
		        slot_name(i), state_slot_status_name(st->slot[i].status),
		        st->slot[i].version);
		json_string(f, st->slot[i].label);
		fprintf(f, ", \"verity\": %s }%s\n", st->slot[i].verity ? "true" : "false",
		        i == 0 ? "," : "");
	}
	fprintf(f, "  },\n");
	hex_field(hex, st->txn);
	fprintf(f, "  \"transaction\": \"%s\",\n", st->state == STATE_IDLE ? "" : hex);
	hex_field(hex, st->last_done);
	fprintf(f, "  \"last_done\": \"%s\",\n", hex);
	hex_field(hex, st->last_failed);
	fprintf(f, "  \"last_failed\": \"%s\",\n", hex);
	if (st->last_error) {
		fprintf(f, "  \"last_error\": { \"code\": \"%s\", \"errno\": %d, \"reason\": ",
		        fail_code_name(st->last_error), st->last_error);
		json_string(f, st->last_reason);
		fprintf(f, " },\n");
	} else {
		fprintf(f, "  \"last_error\": null,\n");
	}
	fprintf(f, "  \"staged\": [");
	for (size_t i = 0; i < s->n_staged; i++) {
		const struct report_staged *b = &s->staged[i];
		fprintf(f, "%s\n    { \"file\": ", i ? "," : "");
		json_string(f, b->name);
		fprintf(f, ", \"version\": %" PRIu64 ", \"label\": ", b->version);
		json_string(f, b->label);
		fprintf(f, ", \"verdict\": ");
		json_string(f, b->verdict);
		fprintf(f, " }");
	}
	fprintf(f, "%s],\n  \"history\": ", s->n_staged ? "\n  " : "");
	history_json(f, s->history, s->n_history, "  ");
	fprintf(f, "\n}\n");
}

static void staged_text(FILE *f, const struct report_status *s)
{
	if (!s->n_staged)
		fprintf(f, "Staged:        none\n");
	for (size_t i = 0; i < s->n_staged; i++) {
		const struct report_staged *b = &s->staged[i];
		char name[LOG_ESCAPE_SIZE(sizeof(b->name))];
		char label[LOG_ESCAPE_SIZE(sizeof(b->label))];
		char verdict[LOG_ESCAPE_SIZE(sizeof(b->verdict))];
		fprintf(f, "Staged:        %s, version %" PRIu64 " (%s): %s\n",
		        ESCAPED(name, b->name), b->version, ESCAPED(label, b->label),
		        ESCAPED(verdict, b->verdict));
	}
}

static void status_text(FILE *f, const struct report_status *s)
{
	const struct state_record *st = s->st;
	char text[LOG_ESCAPE_SIZE(STATE_REASON_SIZE)];

	fprintf(f, "Booted slot:   %s\n", slot_name(s->booted));
	if (!st) {
		fprintf(f, "Boot state:    unreadable (%s)\n",
		        ESCAPED(text, s->state_error ? s->state_error : ""));
		return;
	}
	fprintf(f, "Active slot:   %s (last known good)\n", slot_name(st->active));
	fprintf(f, "State:         %s", state_kind_name(st->state));
	if (st->state == STATE_TRYING)
		fprintf(f, " slot %s, version %" PRIu64 ", %u of %u tries left",
		        slot_name(st->target), st->target_version, st->tries_left, st->max_tries);
	else if (st->state == STATE_WRITING)
		fprintf(f, " slot %s, version %" PRIu64 ", attempt %u", slot_name(st->target),
		        st->target_version, st->apply_attempts);
	fprintf(f, "\n");
	for (int i = 0; i < 2; i++)
		fprintf(f, "Slot %s:        %s, version %" PRIu64 "%s%s%s, %s\n", slot_name(i),
		        state_slot_status_name(st->slot[i].status), st->slot[i].version,
		        st->slot[i].label[0] ? " (" : "", ESCAPED(text, st->slot[i].label),
		        st->slot[i].label[0] ? ")" : "",
		        st->slot[i].verity ? "checked at every boot (dm-verity)"
		                           : "not checked at boot (installed without verity)");
	if (st->data_cp != DATA_CP_NONE)
		fprintf(f, "Data:          checkpoint %s (the data before version %" PRIu64 ")%s\n",
		        state_data_cp_name(st->data_cp), st->cp_version,
		        st->data_cp == DATA_CP_OVERFLOWED ? ": it can no longer be rolled back"
		        : st->data_cp == DATA_CP_MERGING  ? ": merged back at the next boot"
		                                          : "");
	if (!s->checkpointed)
		fprintf(f, "Data:          not checkpointed (no COW store): an update's "
		           "changes to it stay after a rollback\n");
	cow_text(f, s->cp_usage);
	keyring_text(f, st);
	if (st->allow_version)
		fprintf(f,
		        "Downgrade:     to version %" PRIu64 " allowed, once (systemota "
		        "allow-downgrade revoke withdraws it)\n",
		        st->allow_version);
	if (st->last_error)
		fprintf(f, "Last error:    %s: %s\n", fail_code_name(st->last_error),
		        ESCAPED(text, st->last_reason));
	else
		fprintf(f, "Last error:    none\n");
	staged_text(f, s);
	if (s->n_history) {
		fprintf(f, "Recent history (systemota history shows all):\n");
		history_text(f, s->history, s->n_history);
	}
}

void report_status(FILE *f, const struct report_status *s, bool json)
{
	if (json)
		status_json(f, s);
	else
		status_text(f, s);
}

void report_bundle(FILE *f, const struct bundle *b, const char *verdict, bool json)
{
	const struct bundle_manifest *m = &b->manifest;
	char txn[2 * CRYPTO_DIGEST_SIZE + 1], img[2 * CRYPTO_DIGEST_SIZE + 1];
	char key[2 * CRYPTO_KEY_ID_SIZE + 1];

	util_hex(txn, b->txn, sizeof(b->txn));
	util_hex(img, m->image_digest, sizeof(m->image_digest));
	util_hex(key, b->sig.key_id, sizeof(b->sig.key_id));
	if (json) {
		fprintf(f, "{\n  \"compatible\": ");
		json_string(f, m->compatible);
		fprintf(f, ",\n  \"version\": %" PRIu64 ",\n  \"label\": ", m->version);
		json_string(f, m->label);
		fprintf(f,
		        ",\n  \"image_size\": %" PRIu64 ",\n  \"image_sha256\": \"%s\",\n"
		        "  \"chunk_size\": %u,\n  \"chunks\": %u,\n  \"compression\": \"%s\",\n"
		        "  \"window_log\": %u,\n"
		        "  \"payload_size\": %" PRIu64 ",\n  \"created\": %" PRIu64 ",\n"
		        "  \"transaction\": \"%s\",\n  \"key_id\": \"%s\",\n  \"format\": %u,\n"
		        "  \"keyring_chain\": [",
		        m->image_size, img, m->chunk_size, m->chunk_count,
		        codec_name(m->compression), m->window_log, b->header.payload_size,
		        m->created, txn, key, b->header.format);
		for (size_t i = 0; i < b->chain_len; i++)
			fprintf(f, "%s%" PRIu64, i ? ", " : "", b->chain[i].version);
		fprintf(f, "],\n  \"verity_root\": ");
		if (m->verity.on) {
			char root[2 * CRYPTO_DIGEST_SIZE + 1], salt[2 * VERITY_SALT_SIZE + 1];
			util_hex(root, m->verity.root, sizeof(m->verity.root));
			util_hex(salt, m->verity.salt, sizeof(m->verity.salt));
			fprintf(f,
			        "\"%s\",\n  \"verity_salt\": \"%s\",\n  \"verity_hash_size\": "
			        "%" PRIu64,
			        root, salt, m->verity.hash_size);
		} else {
			fprintf(f, "null");
		}
		fprintf(f, ",\n  \"verdict\": ");
		json_string(f, verdict);
		fprintf(f, "\n}\n");
		return;
	}
	char compatible[LOG_ESCAPE_SIZE(sizeof(m->compatible))];
	char label[LOG_ESCAPE_SIZE(sizeof(m->label))];
	fprintf(f, "Compatible:   %s\nVersion:      %" PRIu64 " (%s)\n",
	        ESCAPED(compatible, m->compatible), m->version, ESCAPED(label, m->label));
	fprintf(f, "Image:        %" PRIu64 " bytes, sha256 %s\n", m->image_size, img);
	fprintf(f, "Payload:      %" PRIu64 " bytes in %u chunks of %u, %s", b->header.payload_size,
	        m->chunk_count, m->chunk_size, codec_name(m->compression));
	if (m->compression == CODEC_ZSTD_STREAM)
		fprintf(f, ", window %u KiB", (1u << m->window_log) / 1024);
	fputc('\n', f);
	fprintf(f, "Created:      %" PRIu64 "\nTransaction:  %s\nSigned by:    key %s\n",
	        m->created, txn, key);
	if (b->chain_len) {
		fprintf(f, "Keyrings:     ");
		for (size_t i = 0; i < b->chain_len; i++)
			fprintf(f, "%s%" PRIu64, i ? ", " : "", b->chain[i].version);
		fprintf(f, " (format 2: the chain it is signed under)\n");
	} else {
		fprintf(f, "Keyrings:     none (format 1)\n");
	}
	if (m->verity.on) {
		char root[2 * CRYPTO_DIGEST_SIZE + 1];
		util_hex(root, m->verity.root, sizeof(m->verity.root));
		fprintf(f, "Verity:       root %s, tree %" PRIu64 " bytes\n", root,
		        m->verity.hash_size);
	} else {
		fprintf(f, "Verity:       none (the slot is not checked at boot)\n");
	}
	char shown[LOG_ESCAPE_SIZE(256)];
	fprintf(f, "Signature:    %s\n", ESCAPED(shown, verdict));
}
