/* SPDX-License-Identifier: MIT */
#include "keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fail.h"
#include "io.h"
#include "state.h"
#include "util.h"

_Static_assert(KEYRING_MIN_SIZE == STATE_KEYRING_MIN && KEYRING_MAX_SIZE == STATE_KEYRING_MAX,
               "the state partition's keyring area holds exactly one keyring of any size");

/*
 * Header (64 bytes), little-endian:
 *    0  magic "SOTAKEYR"     8  format u32      12  size u32
 *   16  version u64         24  created u64     32  key count u8
 *   33  revoked count u8    34  reserved[30] (0)
 * Key entry (80 bytes):
 *    0  role u8              1  reserved[7] (0)  8  until_version u64
 *   16  point[64]: X || Y, big-endian
 * Signature block (128 bytes):
 *    0  signer key id[32]   32  sig_len u16     34  signature[94], zero after sig_len
 */
#define HDR_SIZE_OFF 12
#define HDR_VERSION_OFF 16
#define HDR_CREATED_OFF 24
#define HDR_NKEYS_OFF 32
#define HDR_NREVOKED_OFF 33
#define HDR_RESERVED_OFF 34
#define KEY_UNTIL_OFF 8
#define KEY_POINT_OFF 16
#define SIG_LEN_OFF 32
#define SIG_OFF 34

static size_t doc_size(unsigned n_keys, unsigned n_revoked)
{
	return KEYRING_HEADER_SIZE + KEYRING_KEY_SIZE * n_keys + KEYRING_REVOKED_SIZE * n_revoked +
	       KEYRING_SIG_SIZE;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

const char *keyring_role_name(uint8_t role)
{
	return role == KEYRING_ROOT ? "root" : role == KEYRING_SIGNING ? "signing" : "unknown";
}

const struct keyring_key *keyring_find(const struct keyring *k,
                                       const uint8_t id[CRYPTO_KEY_ID_SIZE])
{
	for (unsigned i = 0; i < k->n_keys; i++)
		if (memcmp(k->keys[i].id, id, CRYPTO_KEY_ID_SIZE) == 0)
			return &k->keys[i];
	return NULL;
}

bool keyring_revokes(const struct keyring *k, const uint8_t id[CRYPTO_KEY_ID_SIZE])
{
	for (unsigned i = 0; i < k->n_revoked; i++)
		if (memcmp(k->revoked[i], id, CRYPTO_KEY_ID_SIZE) == 0)
			return true;
	return false;
}

static int parse_header(const uint8_t *buf, size_t len, struct keyring *k)
{
	if (len < KEYRING_HEADER_SIZE)
		return fail(-EBADMSG, "keyring truncated: %zu bytes, no room for the header", len);
	if (memcmp(buf, KEYRING_MAGIC, 8) != 0)
		return fail(-EBADMSG, "keyring: bad magic");
	if (util_le32(buf + 8) != KEYRING_FORMAT)
		return fail(-EBADMSG, "keyring: unsupported format %u", util_le32(buf + 8));
	k->version = util_le64(buf + HDR_VERSION_OFF);
	k->created = util_le64(buf + HDR_CREATED_OFF);
	k->n_keys = buf[HDR_NKEYS_OFF];
	k->n_revoked = buf[HDR_NREVOKED_OFF];
	if (k->version == 0)
		return fail(-EBADMSG, "keyring: version 0");
	if (k->n_keys < 1 || k->n_keys > KEYRING_MAX_KEYS)
		return fail(-EBADMSG, "keyring %llu: %u keys (1..%d)",
		            (unsigned long long)k->version, k->n_keys, KEYRING_MAX_KEYS);
	if (k->n_revoked > KEYRING_MAX_REVOKED)
		return fail(-EBADMSG, "keyring %llu: %u revoked keys (at most %d)",
		            (unsigned long long)k->version, k->n_revoked, KEYRING_MAX_REVOKED);
	if (!all_zero(buf + HDR_RESERVED_OFF, KEYRING_HEADER_SIZE - HDR_RESERVED_OFF))
		return fail(-EBADMSG, "keyring %llu: reserved header bytes are not zero",
		            (unsigned long long)k->version);
	size_t size = doc_size(k->n_keys, k->n_revoked);
	if (util_le32(buf + HDR_SIZE_OFF) != size)
		return fail(-EBADMSG,
		            "keyring %llu: size %u, but %u keys and %u revocations make %zu",
		            (unsigned long long)k->version, util_le32(buf + HDR_SIZE_OFF),
		            k->n_keys, k->n_revoked, size);
	if (size > len)
		return fail(-EBADMSG, "keyring %llu truncated: %zu of %zu bytes",
		            (unsigned long long)k->version, len, size);
	k->size = (uint16_t)size;
	return 0;
}

static int parse_key(const uint8_t *p, struct keyring *k, unsigned i)
{
	struct keyring_key *key = &k->keys[i];
	unsigned long long v = (unsigned long long)k->version;

	key->role = p[0];
	key->until_version = util_le64(p + KEY_UNTIL_OFF);
	memcpy(key->point, p + KEY_POINT_OFF, CRYPTO_POINT_SIZE);
	if (key->role != KEYRING_ROOT && key->role != KEYRING_SIGNING)
		return fail(-EBADMSG, "keyring %llu: key %u has unknown role %u", v, i, key->role);
	if (!all_zero(p + 1, KEY_UNTIL_OFF - 1))
		return fail(-EBADMSG, "keyring %llu: key %u: reserved bytes are not zero", v, i);
	if (key->role == KEYRING_ROOT && key->until_version)
		return fail(-EBADMSG, "keyring %llu: root key %u has an until_version", v, i);
	if (crypto_point_id(key->point, key->id) < 0)
		return fail(-EBADMSG, "keyring %llu: key %u is not a P-256 public key", v, i);
	for (unsigned j = 0; j < i; j++)
		if (memcmp(k->keys[j].id, key->id, CRYPTO_KEY_ID_SIZE) == 0)
			return fail(-EBADMSG, "keyring %llu: key %u is listed twice", v, i);
	return 0;
}

static int parse_revoked(const uint8_t *p, struct keyring *k)
{
	unsigned long long v = (unsigned long long)k->version;
	char hex[17];

	for (unsigned i = 0; i < k->n_revoked; i++, p += KEYRING_REVOKED_SIZE) {
		memcpy(k->revoked[i], p, KEYRING_REVOKED_SIZE);
		if (i > 0 && memcmp(k->revoked[i - 1], p, KEYRING_REVOKED_SIZE) >= 0)
			return fail(-EBADMSG,
			            "keyring %llu: revoked key ids not strictly ascending", v);
		if (keyring_find(k, p)) {
			util_hex(hex, p, 8);
			return fail(-EBADMSG, "keyring %llu: key %s is both listed and revoked", v,
			            hex);
		}
	}
	return 0;
}

static int parse_sig(const uint8_t *p, struct keyring *k, bool draft)
{
	memcpy(k->signer, p, CRYPTO_KEY_ID_SIZE);
	k->sig_len = util_le16(p + SIG_LEN_OFF);
	if (draft && all_zero(p, KEYRING_SIG_SIZE))
		return 0;
	if (k->sig_len < 1 || k->sig_len > CRYPTO_SIG_MAX)
		return fail(-EBADMSG, "keyring %llu: signature length %u (1..%d)",
		            (unsigned long long)k->version, k->sig_len, CRYPTO_SIG_MAX);
	if (!all_zero(p + SIG_OFF + k->sig_len, KEYRING_SIG_SIZE - SIG_OFF - k->sig_len))
		return fail(-EBADMSG, "keyring %llu: bytes after the signature are not zero",
		            (unsigned long long)k->version);
	memcpy(k->sig, p + SIG_OFF, k->sig_len);
	return 0;
}

static int parse_doc(const uint8_t *buf, size_t len, struct keyring *ret, bool draft)
{
	struct keyring k;
	size_t off = KEYRING_HEADER_SIZE;
	bool root = false;
	int r;

	memset(&k, 0, sizeof(k));
	r = parse_header(buf, len, &k);
	for (unsigned i = 0; r == 0 && i < k.n_keys; i++, off += KEYRING_KEY_SIZE) {
		r = parse_key(buf + off, &k, i);
		root |= k.keys[i].role == KEYRING_ROOT;
	}
	if (r == 0 && !root)
		r = fail(-EBADMSG, "keyring %llu has no root key", (unsigned long long)k.version);
	if (r == 0)
		r = parse_revoked(buf + off, &k);
	off += (size_t)k.n_revoked * KEYRING_REVOKED_SIZE;
	if (r == 0)
		r = parse_sig(buf + off, &k, draft);
	if (r < 0)
		return r;
	crypto_sha256(buf, off, k.digest);
	memcpy(k.raw, buf, k.size);
	*ret = k;
	return 0;
}

int keyring_parse(const uint8_t *buf, size_t len, struct keyring *ret)
{
	return parse_doc(buf, len, ret, false);
}

int keyring_parse_draft(const uint8_t *buf, size_t len, struct keyring *ret)
{
	return parse_doc(buf, len, ret, true);
}

static int parse_chain(const uint8_t *buf, size_t len, struct keyring *ret, size_t *ret_n,
                       bool draft)
{
	size_t n = 0, off = 0;

	while (off < len) {
		if (n == KEYRING_MAX_CHAIN)
			return fail(-EBADMSG, "keyring chain: more than %d keyrings",
			            KEYRING_MAX_CHAIN);
		int r = parse_doc(buf + off, len - off, &ret[n], draft);
		if (r < 0)
			return r;
		if (n > 0 && ret[n].version <= ret[n - 1].version)
			return fail(-EBADMSG, "keyring chain: version %llu after %llu",
			            (unsigned long long)ret[n].version,
			            (unsigned long long)ret[n - 1].version);
		off += ret[n].size;
		n++;
	}
	if (n == 0)
		return fail(-EBADMSG, "keyring chain is empty");
	*ret_n = n;
	return 0;
}

int keyring_parse_chain(const uint8_t *buf, size_t len, struct keyring *ret, size_t *ret_n)
{
	return parse_chain(buf, len, ret, ret_n, false);
}

int keyring_load_file(const char *path, bool draft, struct keyring *ret, size_t *ret_n)
{
	static uint8_t buf[KEYRING_MAX_CHAIN * KEYRING_MAX_SIZE + 1];
	size_t len = 0;
	int fd = io_open(path, O_RDONLY, 0), r = 0;

	if (fd < 0)
		return fail(fd, "cannot open keyring %s: %s", path, strerror(-fd));
	while (r == 0 && len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0)
			r = fail(-errno, "reading keyring %s: %s", path, strerror(errno));
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	io_close(fd);
	if (r == 0 && len == sizeof(buf))
		r = fail(-EFBIG, "%s: more than %d keyrings of at most %d bytes", path,
		         KEYRING_MAX_CHAIN, KEYRING_MAX_SIZE);
	if (r == 0)
		r = parse_chain(buf, len, ret, ret_n, draft);
	return r < 0 ? fail_context(r, "%s", path) : 0;
}

int keyring_encode(struct keyring *k)
{
	uint8_t *p = k->raw;
	size_t off = KEYRING_HEADER_SIZE;

	if (k->n_keys < 1 || k->n_keys > KEYRING_MAX_KEYS || k->n_revoked > KEYRING_MAX_REVOKED ||
	    k->sig_len > CRYPTO_SIG_MAX)
		return fail(-EINVAL, "keyring: %u keys, %u revoked: out of range", k->n_keys,
		            k->n_revoked);
	memset(p, 0, sizeof(k->raw));
	memcpy(p, KEYRING_MAGIC, 8);
	util_put_le32(p + 8, KEYRING_FORMAT);
	util_put_le32(p + HDR_SIZE_OFF, (uint32_t)doc_size(k->n_keys, k->n_revoked));
	util_put_le64(p + HDR_VERSION_OFF, k->version);
	util_put_le64(p + HDR_CREATED_OFF, k->created);
	p[HDR_NKEYS_OFF] = k->n_keys;
	p[HDR_NREVOKED_OFF] = k->n_revoked;
	for (unsigned i = 0; i < k->n_keys; i++, off += KEYRING_KEY_SIZE) {
		p[off] = k->keys[i].role;
		util_put_le64(p + off + KEY_UNTIL_OFF, k->keys[i].until_version);
		memcpy(p + off + KEY_POINT_OFF, k->keys[i].point, CRYPTO_POINT_SIZE);
	}
	for (unsigned i = 0; i < k->n_revoked; i++, off += KEYRING_REVOKED_SIZE)
		memcpy(p + off, k->revoked[i], KEYRING_REVOKED_SIZE);
	memcpy(p + off, k->signer, CRYPTO_KEY_ID_SIZE);
	util_put_le16(p + off + SIG_LEN_OFF, k->sig_len);
	memcpy(p + off + SIG_OFF, k->sig, k->sig_len);
	/* An unsigned draft (sig_len 0) is not a document yet: only its digest is wanted. */
	if (k->sig_len == 0) {
		crypto_sha256(p, off, k->digest);
		k->size = (uint16_t)(off + KEYRING_SIG_SIZE);
		return 0;
	}
	struct keyring check;
	int r = keyring_parse(p, doc_size(k->n_keys, k->n_revoked), &check);
	if (r < 0)
		return r;
	*k = check;
	return 0;
}

/* Whether link is signed by a root of prev (a keyring) or of roots (the initramfs). */
static int check_link(const struct keyring *prev, const struct crypto_keyset *roots,
                      const struct keyring *link)
{
	unsigned long long v = (unsigned long long)link->version;
	char hex[17];

	util_hex(hex, link->signer, 8);
	if (!prev) {
		int r = crypto_verify(roots, link->digest, link->signer, link->sig, link->sig_len);
		return r < 0 ? fail_context(r, "keyring %llu (initramfs roots)", v) : 0;
	}
	unsigned long long pv = (unsigned long long)prev->version;
	const struct keyring_key *k = keyring_find(prev, link->signer);
	if (keyring_revokes(prev, link->signer))
		return fail(-EKEYREVOKED, "keyring %llu: signed by %s, revoked by keyring %llu", v,
		            hex, pv);
	if (!k)
		return fail(-ENOKEY,
		            "keyring %llu: signed by %s, not a root of keyring %llu "
		            "(broken chain)",
		            v, hex, pv);
	if (k->role != KEYRING_ROOT)
		return fail(-ENOKEY,
		            "keyring %llu: signed by %s, a signing key of keyring %llu, "
		            "not a root",
		            v, hex, pv);
	if (crypto_verify_point(k->point, link->digest, link->sig, link->sig_len) < 0)
		return fail(-EKEYREJECTED, "keyring %llu: signature does not verify with root %s",
		            v, hex);
	for (unsigned i = 0; i < prev->n_revoked; i++)
		if (!keyring_revokes(link, prev->revoked[i])) {
			util_hex(hex, prev->revoked[i], 8);
			return fail(-EKEYREJECTED,
			            "keyring %llu drops keyring %llu's revocation of %s", v, pv,
			            hex);
		}
	return 0;
}

static int chain_walk(const struct keyring *adopted, const struct crypto_keyset *roots,
                      const struct keyring *chain, size_t n, const struct keyring **ret_effective,
                      bool *ret_stale)
{
	const struct keyring *prev = adopted;
	bool newer = false;

	for (size_t i = 0; i < n; i++) {
		const struct keyring *link = &chain[i];
		if (adopted && link->version < adopted->version)
			continue;
		if (adopted && link->version == adopted->version) {
			if (memcmp(link->digest, adopted->digest, CRYPTO_DIGEST_SIZE) != 0)
				return fail(-EKEYREJECTED,
				            "keyring %llu differs from the device's "
				            "keyring %llu",
				            (unsigned long long)link->version,
				            (unsigned long long)adopted->version);
			continue;
		}
		int r = check_link(prev, roots, link);
		if (r < 0)
			return r;
		prev = link;
		newer = true;
	}
	*ret_effective = prev;
	*ret_stale = !newer && adopted && chain[n - 1].version < adopted->version;
	return 0;
}

int keyring_judge(const struct keyring *adopted, const struct crypto_keyset *roots,
                  const struct keyring *chain, size_t n, uint64_t version,
                  const uint8_t digest[CRYPTO_DIGEST_SIZE],
                  const uint8_t key_id[CRYPTO_KEY_ID_SIZE], const uint8_t *sig, size_t sig_len,
                  const struct keyring **ret_effective)
{
	const struct keyring *eff = NULL;
	const struct keyring_key *k;
	bool stale = false;
	char hex[17];
	int r;

	util_hex(hex, key_id, 8);
	if (adopted && keyring_revokes(adopted, key_id))
		return fail(-EKEYREVOKED, "signed by revoked key %s (the device's keyring %llu)",
		            hex, (unsigned long long)adopted->version);
	/* No chain (a format 1 bundle): the key set signs bundles itself, until a keyring is
	 * adopted. */
	if (n == 0 && adopted)
		return fail(-ENOKEY,
		            "format 1 bundle, without a keyring: this device follows "
		            "keyring %llu",
		            (unsigned long long)adopted->version);
	if (n == 0) {
		*ret_effective = NULL;
		return crypto_verify(roots, digest, key_id, sig, sig_len);
	}
	r = chain_walk(adopted, roots, chain, n, &eff, &stale);
	if (r < 0)
		return r;
	unsigned long long ev = (unsigned long long)eff->version;
	if (keyring_revokes(eff, key_id))
		return fail(-EKEYREVOKED, "signed by revoked key %s (keyring %llu)", hex, ev);
	if (stale)
		return fail(-ESTALE, "the bundle's keyring is older than the device's keyring %llu",
		            ev);
	k = keyring_find(eff, key_id);
	if (!k)
		return fail(-ENOKEY, "signed by key %s, which is not trusted by keyring %llu", hex,
		            ev);
	if (k->role != KEYRING_SIGNING)
		return fail(-ENOKEY,
		            "signed by key %s, a root key of keyring %llu, not a signing key", hex,
		            ev);
	if (k->until_version && version > k->until_version)
		return fail(-EKEYEXPIRED,
		            "signed by key %s, expired: keyring %llu allows it up to "
		            "version %llu",
		            hex, ev, (unsigned long long)k->until_version);
	if (crypto_verify_point(k->point, digest, sig, sig_len) < 0)
		return fail(-EKEYREJECTED, "signature does not verify with key %s", hex);
	*ret_effective = eff;
	return 0;
}

int keyring_sign(struct keyring *k, const char *private_key_path)
{
	size_t len = 0;
	int r;

	k->sig_len = 0;
	memset(k->sig, 0, sizeof(k->sig));
	memset(k->signer, 0, sizeof(k->signer));
	r = keyring_encode(k);
	if (r < 0)
		return r;
	r = crypto_sign(private_key_path, k->digest, k->sig, &len, k->signer);
	if (r < 0)
		return r;
	k->sig_len = (uint16_t)len;
	return keyring_encode(k);
}

static int of_record(const uint8_t *raw, uint16_t len, const char *which, struct keyring *buf,
                     const struct keyring **ret)
{
	*ret = NULL;
	if (len == 0)
		return 0;
	int r = keyring_parse(raw, len, buf);
	if (r == 0 && buf->size != len)
		r = fail(-EBADMSG, "%u bytes stored, the keyring says %u", len, buf->size);
	if (r < 0)
		return fail_context(-EBADMSG, "the device's %s keyring", which);
	*ret = buf;
	return 0;
}

int keyring_adopted(const struct state_record *st, struct keyring *buf, const struct keyring **ret)
{
	return of_record(st->keyring, st->keyring_len, "adopted", buf, ret);
}

int keyring_pending(const struct state_record *st, struct keyring *buf, const struct keyring **ret)
{
	return of_record(st->pending, st->pending_len, "pending", buf, ret);
}
