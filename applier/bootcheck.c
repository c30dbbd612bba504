/* SPDX-License-Identifier: MIT */
#include "bootcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "dm.h"
#include "fail.h"
#include "footer.h"
#include "io.h"
#include "log.h"
#include "state.h"
#include "util.h"
#include "verity.h"

#define SCAN_BUF_SIZE (1024u * 1024u)

const char *bootcheck_map_name(uint8_t slot)
{
	return slot ? "systemota-verity-b" : "systemota-verity-a";
}

void bootcheck_unmap(uint8_t slot)
{
	if (dm_exists(bootcheck_map_name(slot)) == 1 && dm_remove(bootcheck_map_name(slot)) < 0)
		log_warn("%s", fail_reason());
}

struct scan {
	int fd;
	uint64_t hash_offset; /* where the tree starts on the slot: the image's size */
	uint64_t level0_start;
	uint8_t stored[VERITY_BLOCK_SIZE];
	struct bootcheck *ret;
};

static int read_hash_block(int fd, uint64_t hash_offset, uint64_t index, uint8_t *buf)
{
	int r = io_pread_all(fd, buf, VERITY_BLOCK_SIZE, hash_offset + index * VERITY_BLOCK_SIZE);
	return r < 0 ? fail(-EIO, "reading hash block %" PRIu64 ": %s", index, strerror(-r)) : 0;
}

/*
 * The tree as stored, from the signed root hash down: the top block's digest
 * is the root, each lower block's is its entry in the block above. After
 * this, a stored digest that differs from a data block's names that block.
 * Memory: one block of each of two levels.
 */
static int check_tree(int fd, const struct verity_geometry *g, const struct bundle_manifest *m,
                      uint8_t *parent, uint8_t *child, struct bootcheck *ret)
{
	uint8_t digest[CRYPTO_DIGEST_SIZE];
	unsigned top = g->levels - 1;
	int r = read_hash_block(fd, m->image_size, g->level_start[top], child);

	if (r < 0)
		return r;
	verity_digest(m->verity.salt, child, digest);
	if (memcmp(digest, m->verity.root, sizeof(digest)) != 0) {
		ret->bad_hash = g->level_start[top];
		return -EBADMSG;
	}
	for (unsigned lv = top; lv > 0; lv--) {
		for (uint64_t c = 0; c < g->level_blocks[lv - 1]; c++) {
			uint64_t at = g->level_start[lv - 1] + c;
			unsigned entry = (unsigned)(c % VERITY_DIGESTS_PER_BLOCK);
			if (entry == 0)
				r = read_hash_block(
				        fd, m->image_size,
				        g->level_start[lv] + c / VERITY_DIGESTS_PER_BLOCK, parent);
			if (r == 0)
				r = read_hash_block(fd, m->image_size, at, child);
			if (r < 0)
				return r;
			verity_digest(m->verity.salt, child, digest);
			if (memcmp(digest, parent + entry * CRYPTO_DIGEST_SIZE, sizeof(digest)) !=
			    0) {
				ret->bad_hash = at;
				return -EBADMSG;
			}
		}
	}
	return 0;
}

/*
 * Each block of the lowest level computed from the slot's data, against the
 * stored one (checked by check_tree()): the first digest that differs names
 * the data block, and stops the scan. The levels above follow from these.
 */
static int compare_hash_block(void *ctx, uint64_t index, unsigned level, const uint8_t *block)
{
	struct scan *s = ctx;

	if (level != 0)
		return 0;
	int r = read_hash_block(s->fd, s->hash_offset, index, s->stored);
	if (r < 0)
		return r;
	for (unsigned j = 0; j < VERITY_DIGESTS_PER_BLOCK; j++)
		if (memcmp(s->stored + j * CRYPTO_DIGEST_SIZE, block + j * CRYPTO_DIGEST_SIZE,
		           CRYPTO_DIGEST_SIZE) != 0) {
			s->ret->bad_block =
			        (index - s->level0_start) * VERITY_DIGESTS_PER_BLOCK + j;
			return -EBADMSG;
		}
	return 0;
}

static int scan_failed(const struct bootcheck *ret)
{
	if (ret->bad_block != BOOTCHECK_NO_BLOCK)
		return fail(-EBADMSG, "data block %" PRIu64 " (offset %" PRIu64 ") fails its hash",
		            ret->bad_block, ret->bad_block * VERITY_BLOCK_SIZE);
	if (ret->bad_hash != BOOTCHECK_NO_BLOCK)
		return fail(-EBADMSG, "hash block %" PRIu64 " of the verity tree is damaged",
		            ret->bad_hash);
	return fail(-EBADMSG, "the image's root hash is not the signed one");
}

/* The whole tree and image, from the raw slot, against the signed root hash. */
static int scan(int fd, const struct bundle *b, struct bootcheck *ret)
{
	const struct bundle_manifest *m = &b->manifest;
	struct verity_geometry g;
	uint8_t root[CRYPTO_DIGEST_SIZE];
	int r = bundle_verity_geometry(m, &g);

	if (r < 0)
		return r;
	struct scan *s = malloc(sizeof(*s));
	uint8_t *buf = malloc(SCAN_BUF_SIZE);
	struct verity_tree *t = malloc(sizeof(*t));
	if (!s || !buf || !t) {
		r = fail(-ENOMEM, "no memory to scan the slot");
		goto out;
	}
	*s = (struct scan){.fd = fd,
	                   .hash_offset = m->image_size,
	                   .level0_start = g.levels ? g.level_start[0] : 0,
	                   .ret = ret};
	if (g.levels)
		r = check_tree(fd, &g, m, buf, buf + VERITY_BLOCK_SIZE, ret);
	verity_begin(t, &g, m->verity.salt, compare_hash_block, s);
	for (uint64_t off = 0; r == 0 && off < m->image_size; off += SCAN_BUF_SIZE) {
		size_t n = (size_t)MIN((uint64_t)SCAN_BUF_SIZE, m->image_size - off);
		r = io_pread_all(fd, buf, n, off);
		if (r < 0)
			r = fail(-EIO, "reading the image at offset %" PRIu64 ": %s", off,
			         strerror(-r));
		else
			r = verity_feed(t, buf, n);
	}
	if (r == 0)
		r = verity_finish(t, root);
	if (r == 0 && memcmp(root, m->verity.root, sizeof(root)) != 0) {
		/* A one-block image has no tree: its digest is the root. */
		ret->bad_block = g.levels ? BOOTCHECK_NO_BLOCK : 0;
		r = -EBADMSG;
	}
	if (r == -EBADMSG)
		r = scan_failed(ret);
out:
	free(t);
	free(buf);
	free(s);
	return r;
}

/* The kernel's mapping over the slot, and one block read through it. */
static int map(const struct bootcheck_config *c, const struct bundle *b, struct bootcheck *ret)
{
	const struct bundle_manifest *m = &b->manifest;
	const char *name = bootcheck_map_name(c->slot);
	char root[2 * CRYPTO_DIGEST_SIZE + 1], salt[2 * VERITY_SALT_SIZE + 1];
	char params[DM_PARAMS_MAX];
	uint64_t blocks = m->image_size / VERITY_BLOCK_SIZE;

	util_hex(root, m->verity.root, sizeof(m->verity.root));
	util_hex(salt, m->verity.salt, sizeof(m->verity.salt));
	/* Format 1, data and hash on the slot, the tree right after the image's blocks. */
	snprintf(params, sizeof(params), "1 %s %s %u %u %" PRIu64 " %" PRIu64 " sha256 %s %s",
	         c->path, c->path, VERITY_BLOCK_SIZE, VERITY_BLOCK_SIZE, blocks, blocks, root,
	         salt);
	struct dm_target t = {
	        .start = 0, .length = m->image_size / 512, .type = "verity", .params = params};
	/* A mapping left by an earlier run in this boot describes what that run found. */
	bootcheck_unmap(c->slot);
	/*
	 * The scan proved the bytes: a mapping that cannot be made, or read, says
	 * something about this kernel (no dm-verity, no memory), not the slot: EIO,
	 * which judges nothing.
	 */
	int r = dm_create_readonly(name, &t, 1);
	if (r < 0)
		return fail(-EIO, "cannot map it through dm-verity: %s", fail_reason());
	char node[sizeof(ret->device)];
	dm_node_path(name, node, sizeof(node));
	uint8_t *block = malloc(VERITY_BLOCK_SIZE);
	int fd = io_open(node, O_RDONLY | O_CLOEXEC, 0);
	r = block && fd >= 0 ? io_pread_all(fd, block, VERITY_BLOCK_SIZE, 0) : -EIO;
	if (fd >= 0)
		io_close(fd);
	free(block);
	if (r < 0) {
		bootcheck_unmap(c->slot);
		return fail(-EIO, "the kernel's verity mapping refuses the first block: %s",
		            strerror(-r));
	}
	snprintf(ret->device, sizeof(ret->device), "%s", node);
	return 0;
}

/* The footer's claims against the device: trust, compatible string, version, floor. */
static int judge(const struct bootcheck_config *c, struct bundle *b)
{
	const struct bundle_manifest *m = &b->manifest;

	/* No keys: nothing can be trusted, and nothing is judged (the keys may load next boot). */
	if (!c->keys)
		return fail(-ENOKEY, "no trusted keys to verify its footer");
	int r = bundle_verify(b, c->keys, c->adopted);

	if (r < 0)
		return fail_context(r, "its footer's signature");
	if (c->compatible && strcmp(m->compatible, c->compatible) != 0)
		return fail(-EBADMSG, "its footer is for '%s', this device is '%s'", m->compatible,
		            c->compatible);
	if (c->version && m->version != c->version)
		return fail(-ESTALE, "its footer is version %" PRIu64 ", the record says %" PRIu64,
		            m->version, c->version);
	if (m->version < c->floor)
		return fail(-ESTALE, "its footer is version %" PRIu64 ", below the floor %" PRIu64,
		            m->version, c->floor);
	return 0;
}

static int check(const struct bootcheck_config *c, int fd, struct bootcheck *ret)
{
	struct bundle b;
	uint64_t size;
	int r = io_size(fd, &size);

	if (r < 0)
		return fail(-EIO, "cannot size the slot: %s", strerror(-r));
	r = footer_read(fd, size, &b);
	if (r == -ENOENT) {
		if (c->expect_footer)
			return fail(-EBADMSG, "no verity footer, but it was installed with one");
		return BOOTCHECK_UNVERIFIED;
	}
	if (r < 0)
		return r;
	ret->version = b.manifest.version;
	r = judge(c, &b);
	bool trusted = r == 0;
	if (trusted)
		r = scan(fd, &b, ret);
	if (r == 0 && c->map) {
		r = map(c, &b, ret);
	} else if (trusted && c->map && c->map_damaged) {
		/*
		 * A signed footer for this device and version, and data that failed
		 * its scan (or could not be read): the kernel checks every read of
		 * the mapping, so its bad blocks read as EIO, never as other bytes.
		 */
		char why[FAIL_REASON_MAX];
		snprintf(why, sizeof(why), "%s", fail_reason());
		if (map(c, &b, ret) == 0)
			log_warn("slot %c mapped although damaged: its damaged blocks read as EIO",
			         state_slot_letter(c->slot));
		r = fail(r, "%s", why);
	}
	bundle_close(&b);
	return r;
}

int bootcheck_slot(const struct bootcheck_config *c, struct bootcheck *ret)
{
	struct fail_saved before;

	/* A slot that passes leaves the reason of what failed before it as it was. */
	fail_save(&before);
	memset(ret, 0, sizeof(*ret));
	ret->bad_block = ret->bad_hash = BOOTCHECK_NO_BLOCK;
	snprintf(ret->device, sizeof(ret->device), "%s", c->path);
	int fd = io_open(c->path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return fail(-EIO, "slot %c: cannot open %s: %s", state_slot_letter(c->slot),
		            c->path, strerror(-fd));
	int r = check(c, fd, ret);
	io_close(fd);
	if (r < 0)
		return fail_context(r, "slot %c", state_slot_letter(c->slot));
	fail_restore(&before);
	if (r == BOOTCHECK_UNVERIFIED)
		log_info("slot %c has no verity footer (installed before verity): not verified",
		         state_slot_letter(c->slot));
	else
		log_info("slot %c verified: version %" PRIu64 ", every block against the "
		         "signed root hash%s",
		         state_slot_letter(c->slot), ret->version,
		         c->map ? "; booting it through dm-verity" : "");
	return r;
}
