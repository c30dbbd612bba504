/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The boot-state record: the device's memory of which slot is good, what is
 * being installed and how many trial boots remain. It lives raw on its own
 * partition, in two copies (docs/state-record.md has the byte layout):
 *
 *   partition offset 0          copy 0: one 4096-byte block, record in its first 512 bytes
 *   partition offset size/2     copy 1: likewise, in a different erase block
 *
 * Reading takes the valid copy with the highest sequence number. A commit
 * writes the other copy with sequence + 1 and reads it back, so a torn or lost
 * write leaves the previous record valid and in charge. Nothing ever repairs
 * the older copy: it is the fallback until the next commit overwrites it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATE_MAGIC "SOST"
#define STATE_FORMAT 1
#define STATE_RECORD_SIZE 512
#define STATE_BLOCK_SIZE 4096
#define STATE_MIN_DEVICE_SIZE (2 * STATE_BLOCK_SIZE)
#define STATE_LABEL_SIZE 32
#define STATE_DIGEST_SIZE 32
#define STATE_REASON_SIZE 128
#define STATE_MAX_TRIES 16
#define STATE_FINGERPRINT_SIZE 8
#define STATE_REJECTED_FILES 4 /* rejected staged files remembered, newest first */
#define STATE_IO_ATTEMPTS 3    /* a failed commit is tried again */
/*
 * A failed read of a copy is tried again, after a delay that starts at
 * STATE_RETRY_DELAY_MS and doubles (100 + 200 + 400 + 800 ms at most): a
 * medium that is still waking up gets time, and a copy that stays unreadable
 * is then known as unreadable, which is not the same as invalid.
 */
#define STATE_READ_ATTEMPTS 5
#define STATE_RETRY_DELAY_MS 100

/*
 * flags (byte 28, zero in every record written before it existed):
 * VERSIONS_UNKNOWN: the record was re-initialised after both copies were
 * lost; the slot versions and the floor are what the history still told,
 * and every install is refused until an operator re-states them
 * (`systemota state init --force ...`), since a downgrade cannot be told.
 */
#define STATE_FLAG_VERSIONS_UNKNOWN 0x01
/*
 * KEYRINGS: the block's keyring area (after the record) belongs to this
 * record and must check (its CRC, and the record's sequence in it): a commit
 * torn between the record and the area leaves the copy invalid, never a
 * record without its keyring. Set by every commit of a record that holds a
 * keyring (adopted or pending); clear, with the area zero, in one that holds
 * none, so that such a block is byte for byte what a binary older than
 * keyrings writes and reads.
 */
#define STATE_FLAG_KEYRINGS 0x02
#define STATE_FLAGS_KNOWN (STATE_FLAG_VERSIONS_UNKNOWN | STATE_FLAG_KEYRINGS)

/*
 * The keyring area (docs/state-record.md), at STATE_AREA_OFFSET of each copy's
 * block: the adopted keyring, which judges every bundle (keyring.h), and the
 * pending one, which the transaction in progress brings and mark-good adopts
 * in the commit that confirms it. Each at most STATE_KEYRING_MAX bytes
 * (KEYRING_MAX_SIZE).
 */
#define STATE_AREA_OFFSET STATE_RECORD_SIZE
#define STATE_AREA_HEADER_SIZE 24
#define STATE_KEYRING_MIN 272
#define STATE_KEYRING_MAX 1600

enum state_kind { STATE_IDLE = 0, STATE_WRITING = 1, STATE_TRYING = 2 };

/*
 * The data checkpoint (byte 29, docs/data-rollback.md): the data partition as
 * it was before the transaction, kept by a dm-snapshot on the cow partition.
 *   NONE:       no checkpoint; the data is mapped straight (the COW store is ignored)
 *   ACTIVE:     a checkpoint of the data before version cp_version exists (its
 *               COW header was zeroed before this record said so, so a stale
 *               store can never be taken for it); the post-install hooks and
 *               the trial write through it
 *   MERGING:    the transaction failed: the checkpoint must be merged back before
 *               any system sees the data; resumed at every boot until done
 *   OVERFLOWED: the trial wrote more than the COW store holds: the checkpoint is
 *               gone, the data is the trial's and can no longer be rolled back
 */
enum data_cp { DATA_CP_NONE = 0, DATA_CP_ACTIVE = 1, DATA_CP_MERGING = 2, DATA_CP_OVERFLOWED = 3 };

enum slot_status {
	SLOT_UNKNOWN = 0,     /* never written by us (e.g. factory image, not yet confirmed) */
	SLOT_GOOD = 1,        /* booted and confirmed */
	SLOT_INCOMPLETE = 2,  /* being written, or a write was abandoned: never boot it */
	SLOT_UNCONFIRMED = 3, /* written and verified, on trial */
	SLOT_BAD = 4,         /* failed its trial or was marked bad */
};

struct state_slot {
	uint64_t version;
	uint8_t status; /* enum slot_status */
	/*
	 * 1: the slot holds (or is being written with) a verity image, which
	 * carries its footer (footer.h): a boot that finds no valid footer on it
	 * refuses it. 0: installed before verity, or not a verity bundle.
	 */
	uint8_t verity;
	char label[STATE_LABEL_SIZE];
};

struct state_record {
	uint64_t seq;
	uint8_t state;  /* enum state_kind */
	uint8_t active; /* last known good slot: 0 = A, 1 = B */
	uint8_t target; /* slot being written or tried */
	uint8_t tries_left;
	uint8_t max_tries;
	uint8_t apply_attempts;
	uint8_t clean_reboots; /* tries given back for clean reboots in this trial */
	uint8_t trial_booted;  /* 1: a counted trial boot began and has not ended cleanly */
	uint8_t flags;         /* STATE_FLAG_* */
	uint8_t data_cp;       /* enum data_cp */
	uint64_t cp_version;   /* the version whose transaction the checkpoint is (or was) for */
	int32_t last_error;    /* positive errno of the last failure, 0 if none */
	struct state_slot slot[2];
	uint8_t txn[STATE_DIGEST_SIZE]; /* transaction in progress: digest of the signed manifest */
	uint8_t image_digest[STATE_DIGEST_SIZE];
	uint64_t image_size;
	uint64_t target_version;
	uint64_t version_floor; /* no version below is ever installed again */
	uint64_t allow_version; /* a downgrade to exactly this version was allowed on the device */
	uint64_t target_floor;  /* the floor the target's bundle raises to, once confirmed */
	uint8_t last_done[STATE_DIGEST_SIZE];
	uint8_t last_failed[STATE_DIGEST_SIZE];
	/* Fingerprints of refused staged files (staged.h), newest first, zero when unused. */
	uint8_t rejected[STATE_REJECTED_FILES][STATE_FINGERPRINT_SIZE];
	/* Fingerprint of the staged file being installed or tried: refused too if it fails. */
	uint8_t txn_file[STATE_FINGERPRINT_SIZE];
	char target_label[STATE_LABEL_SIZE];
	char last_reason[STATE_REASON_SIZE];
	/* The keyring area: lengths 0 when there is none. */
	uint16_t keyring_len;
	uint16_t pending_len;
	uint8_t keyring[STATE_KEYRING_MAX];
	uint8_t pending[STATE_KEYRING_MAX];
};

/* Pure: serialises r into exactly STATE_RECORD_SIZE bytes, CRC included. */
void state_encode(const struct state_record *r, uint8_t out[STATE_RECORD_SIZE]);

/*
 * Pure: parses and validates one copy (magic, format, size, CRC, every enum in
 * range, every string clean). Returns 0, or -EBADMSG with a reason.
 */
int state_decode(const uint8_t *buf, size_t len, struct state_record *ret);

/*
 * Pure: like state_decode(), but a CRC mismatch is ignored (every other check
 * still holds). Only for evidence about a record that was lost: never act on it.
 */
int state_decode_salvage(const uint8_t *buf, size_t len, struct state_record *ret);

/*
 * Pure: the whole block of a copy, record and keyring area (KEYRINGS set when
 * there is a keyring),
 * and back. decode_block checks the area when the record's KEYRINGS flag is
 * set (magic, format, lengths, reserved and unused bytes zero, CRC, the
 * record's sequence); without it the record holds no keyrings.
 */
void state_encode_block(const struct state_record *r, uint8_t out[STATE_BLOCK_SIZE]);
int state_decode_block(const uint8_t *buf, size_t len, struct state_record *ret);

/* A fresh record: slot A active, idle (factory provisioning; boot_reinit() starts from it). */
void state_init(struct state_record *r);

const char *state_kind_name(uint8_t state);
const char *state_data_cp_name(uint8_t data_cp);
const char *state_slot_status_name(uint8_t status);
static inline char state_slot_letter(uint8_t slot)
{
	return slot ? 'B' : 'A';
}

/* What the last load found in a copy. */
enum state_copy {
	STATE_COPY_UNKNOWN = 0,    /* not read yet */
	STATE_COPY_VALID = 1,      /* read, and decodes */
	STATE_COPY_INVALID = 2,    /* read, and does not decode (torn, zero, damaged) */
	STATE_COPY_UNREADABLE = 3, /* could not be read: it may hold the newest record */
};

/* An open state partition (or, in tests, a plain file). */
struct state_dev {
	int fd;
	uint64_t size;
	uint64_t copy_offset[2];
	int current; /* copy the last load/commit used, -1 if neither is valid */
	uint64_t seq;
	uint8_t copy[2];   /* enum state_copy, per copy */
	int copy_error[2]; /* -errno of the last failed read of each copy, 0 if none */
};

/* Opens the device for reading, or for reading and committing. */
int state_open(const char *path, bool writable, struct state_dev *ret);
void state_close(struct state_dev *d);

/*
 * Reads both copies (each read retried STATE_READ_ATTEMPTS times, with a
 * delay) and returns the valid one with the highest sequence. d->copy[] says
 * what each copy was. Returns 0 even when the other copy could not be read:
 * then state_unreadable() says which, the record returned may not be the
 * newest, and state_commit() refuses to write over the unreadable copy.
 * -ENODATA (with a reason) when both copies were read and neither is valid;
 * -EIO when neither is valid and one could not be read.
 */
int state_load(struct state_dev *d, struct state_record *ret);

/* The copy the last load could not read, or -1. */
int state_unreadable(const struct state_dev *d);

/* The delay before the first retry of a failed read (tests set 0). */
void state_set_retry_delay(unsigned ms);

/*
 * Re-reads copy i and salvages it (state_decode_salvage()): evidence only. The
 * adopted keyring comes with it when the keyring area's own CRC still holds.
 */
int state_salvage(struct state_dev *d, int i, struct state_record *ret);

/*
 * Writes r to the copy not in use, with sequence = last + 1, flushes, reads it
 * back and compares. Never writes a copy the last load could not read (-EIO):
 * it may hold a newer record than the one in use. On success r->seq holds the new sequence and that
 * copy is current. A failed attempt is retried (STATE_IO_ATTEMPTS in all). On failure the outcome
 * is unknown: if the write itself failed the previous record stands, but if the flush or the
 * read-back failed, the next load may find either record. Both are complete, valid states; callers
 * act as if the previous one stands, which is safe whichever the device keeps.
 */
int state_commit(struct state_dev *d, struct state_record *r);
