/*
 * The catalog's records: trees, versions, manifests, objects, stat cache,
 * deltas and compressed objects.
 *
 * Records are packed big-endian with a leading record-version byte, so a
 * later schema can read old records and a damaged one is detected by its
 * length.  Keys:
 *   trees      name
 *   versions   name NUL be64(number)     (sorted by tree, then number)
 *   manifests  manifest id (32 bytes); the records are manifests.c's
 *   objects    sha256 (32 bytes)
 *   statcache  be32(tree id) xxh3-128(path); the path is in the value
 *              and compared, so a hash collision is a miss, not a lie
 *   deltas     from sha256, to sha256 (64 bytes)
 *   zobjects   sha256 (32 bytes)
 * The content index (sha256, tree name) is content.c's.
 */
#include <string.h>
#include <xxhash.h>

#include "../common/mem.h"
#include "internal.h"

#define TREE_REC_V	1
#define TREE_REC_LEN	(1 + 4 + 8 + 1 + PR_PUBKEY_LEN + 8)
#define VERS_REC_V	1
#define VERS_REC_LEN	(1 + 8 + 2 * PD_SHA256_LEN + 8 * 2 + 8 * 7 + 8 * 5)
#define OBJ_REC_V	1
#define OBJ_REC_LEN	(1 + 8)
#define DELTA_REC_V	1
#define DELTA_REC_LEN	(1 + 1 + 8 + 8)
#define ZOBJ_REC_V	1
#define ZOBJ_REC_LEN	(1 + 8 + 8)
#define STAT_REC_LEN	(8 * 3 + 8 + 4 + 8 + 4 + PD_SHA256_LEN)
#define STAT_KEY_LEN	(4 + 16)

/* Packing and unpacking with a moving pointer. */
static unsigned char *
put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

static unsigned char *
put32(unsigned char *p, uint32_t v)
{
	int i;

	for (i = 3; i >= 0; i--)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

static const unsigned char *
get64(const unsigned char *p, uint64_t *v)
{
	int i;

	for (*v = 0, i = 0; i < 8; i++)
		*v = *v << 8 | *p++;
	return p;
}

static const unsigned char *
get32(const unsigned char *p, uint32_t *v)
{
	int i;

	for (*v = 0, i = 0; i < 4; i++)
		*v = *v << 8 | *p++;
	return p;
}

static const unsigned char *
geti64(const unsigned char *p, int64_t *v)
{
	uint64_t u;

	p = get64(p, &u);
	*v = (int64_t)u;
	return p;
}

static enum pd_err
corrupt(struct cat *c, struct pd_error *err, const char *what)
{
	return pd_fail(err, PD_ERR_CORRUPT, "catalog %s: damaged %s record",
	    c->dir, what);
}

/* Trees. */

static void
tree_pack(const struct cat_tree *t, unsigned char *rec)
{
	unsigned char *p = rec;

	*p++ = TREE_REC_V;
	p = put32(p, t->id);
	p = put64(p, t->head);
	*p++ = t->has_key;
	memcpy(p, t->pubkey, PR_PUBKEY_LEN);
	p += PR_PUBKEY_LEN;
	put64(p, (uint64_t)t->created);
}

static bool
tree_unpack(const MDB_val *k, const MDB_val *v, struct cat_tree *t)
{
	const unsigned char *p = v->mv_data;
	uint64_t u;

	if (v->mv_size != TREE_REC_LEN || p[0] != TREE_REC_V ||
	    k->mv_size == 0 || k->mv_size > PR_TREE_NAME_MAX)
		return false;
	memset(t, 0, sizeof(*t));
	memcpy(t->name, k->mv_data, k->mv_size);
	p = get32(p + 1, &t->id);
	p = get64(p, &t->head);
	t->has_key = *p++ != 0;
	memcpy(t->pubkey, p, PR_PUBKEY_LEN);
	p += PR_PUBKEY_LEN;
	get64(p, &u);
	t->created = (int64_t)u;
	return true;
}

enum pd_err
cat_tree_get(struct cat_txn *t, const char *name, struct cat_tree *out,
    struct pd_error *err)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	int rc;

	if (k.mv_size == 0 || k.mv_size > PR_TREE_NAME_MAX)
		return pd_fail(err, PD_ERR_NOTFOUND, "no tree %s", name);
	if ((rc = mdb_get(t->txn, t->cat->trees, &k, &v)) == MDB_NOTFOUND)
		return pd_fail(err, PD_ERR_NOTFOUND, "no tree %s in %s", name,
		    t->cat->dir);
	if (rc != 0)
		return cat_dberr(t->cat, rc, err, "reading tree");
	if (!tree_unpack(&k, &v, out))
		return corrupt(t->cat, err, "tree");
	return PD_OK;
}

static enum pd_err
next_tree_id(struct cat_txn *t, uint32_t *id, struct pd_error *err)
{
	MDB_val k = { 12, "next-tree-id" }, v;
	unsigned char buf[4];
	uint32_t next = 1;
	int rc;

	rc = mdb_get(t->txn, t->cat->meta, &k, &v);
	if (rc == 0 && v.mv_size == 4)
		get32(v.mv_data, &next);
	else if (rc != MDB_NOTFOUND)
		return corrupt(t->cat, err, "next-tree-id");
	*id = next;
	put32(buf, next + 1);
	v.mv_data = buf;
	v.mv_size = sizeof(buf);
	if ((rc = mdb_put(t->txn, t->cat->meta, &k, &v, 0)) != 0)
		return cat_dberr(t->cat, rc, err, "writing tree id");
	return PD_OK;
}

enum pd_err
cat_tree_put(struct cat_txn *t, struct cat_tree *tree, struct pd_error *err)
{
	unsigned char rec[TREE_REC_LEN];
	MDB_val k = { strlen(tree->name), tree->name };
	MDB_val v = { sizeof(rec), rec };
	enum pd_err e;
	int rc;

	if (tree->id == 0 && (e = next_tree_id(t, &tree->id, err)) != PD_OK)
		return e;
	tree_pack(tree, rec);
	if ((rc = mdb_put(t->txn, t->cat->trees, &k, &v, 0)) != 0)
		return cat_dberr(t->cat, rc, err, "writing tree");
	return PD_OK;
}

enum pd_err
cat_tree_list(struct cat_txn *t, struct cat_tree **out, size_t *n,
    struct pd_error *err)
{
	struct cat_tree *arr = NULL, *na;
	size_t cnt = 0, cap = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	enum pd_err e = PD_OK;
	int rc;

	if ((rc = mdb_cursor_open(t->txn, t->cat->trees, &cur)) != 0)
		return cat_dberr(t->cat, rc, err, "listing trees");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((na = pd_reallocarray(arr, cap, sizeof(*arr))) ==
			    NULL) {
				e = pd_fail(err, PD_ERR_NOMEM, "listing trees");
				break;
			}
			arr = na;
		}
		if (!tree_unpack(&k, &v, &arr[cnt++])) {
			e = corrupt(t->cat, err, "tree");
			break;
		}
	}
	mdb_cursor_close(cur);
	if (e == PD_OK && rc != MDB_NOTFOUND)
		e = cat_dberr(t->cat, rc, err, "listing trees");
	if (e != PD_OK) {
		pd_free(arr);
		return e;
	}
	*out = arr;
	*n = cnt;
	return PD_OK;
}

/* Versions. */

static size_t
version_key(const char *tree, uint64_t n, unsigned char *key)
{
	size_t len = strlen(tree);

	memcpy(key, tree, len);
	key[len] = '\0';
	put64(key + len + 1, n);
	return len + 9;
}

static void
version_pack(const struct cat_version *v, unsigned char *rec)
{
	const struct cat_changes *c = &v->changes;
	unsigned char *p = rec;

	*p++ = VERS_REC_V;
	p = put64(p, v->number);
	memcpy(p, v->manifest_id, PD_SHA256_LEN);
	p += PD_SHA256_LEN;
	memcpy(p, v->content_digest, PD_SHA256_LEN);
	p += PD_SHA256_LEN;
	p = put64(p, (uint64_t)v->created);
	p = put64(p, (uint64_t)v->committed);
	p = put64(p, v->entries);
	p = put64(p, v->files);
	p = put64(p, v->dirs);
	p = put64(p, v->links);
	p = put64(p, v->bytes);
	p = put64(p, v->hashed_bytes);
	p = put64(p, v->duration_ms);
	p = put64(p, c->added);
	p = put64(p, c->removed);
	p = put64(p, c->changed);
	p = put64(p, c->renamed);
	put64(p, c->meta);
}

static bool
version_unpack(const MDB_val *val, struct cat_version *v)
{
	const unsigned char *p = val->mv_data;
	struct cat_changes *c = &v->changes;

	if (val->mv_size != VERS_REC_LEN || p[0] != VERS_REC_V)
		return false;
	p = get64(p + 1, &v->number);
	memcpy(v->manifest_id, p, PD_SHA256_LEN);
	p += PD_SHA256_LEN;
	memcpy(v->content_digest, p, PD_SHA256_LEN);
	p += PD_SHA256_LEN;
	p = geti64(p, &v->created);
	p = geti64(p, &v->committed);
	p = get64(p, &v->entries);
	p = get64(p, &v->files);
	p = get64(p, &v->dirs);
	p = get64(p, &v->links);
	p = get64(p, &v->bytes);
	p = get64(p, &v->hashed_bytes);
	p = get64(p, &v->duration_ms);
	p = get64(p, &c->added);
	p = get64(p, &c->removed);
	p = get64(p, &c->changed);
	p = get64(p, &c->renamed);
	get64(p, &c->meta);
	return true;
}

enum pd_err
cat_version_get(struct cat_txn *t, const char *tree, uint64_t n,
    struct cat_version *out, struct pd_error *err)
{
	unsigned char key[PR_TREE_NAME_MAX + 9];
	MDB_val k, v;
	int rc;

	if (strlen(tree) > PR_TREE_NAME_MAX)
		return pd_fail(err, PD_ERR_NOTFOUND, "no tree %s", tree);
	k.mv_data = key;
	k.mv_size = version_key(tree, n, key);
	if ((rc = mdb_get(t->txn, t->cat->versions, &k, &v)) == MDB_NOTFOUND)
		return pd_fail(err, PD_ERR_NOTFOUND, "tree %s has no version "
		    "%llu", tree, (unsigned long long)n);
	if (rc != 0)
		return cat_dberr(t->cat, rc, err, "reading version");
	if (!version_unpack(&v, out) || out->number != n)
		return corrupt(t->cat, err, "version");
	return PD_OK;
}

enum pd_err
cat_version_put(struct cat_txn *t, const char *tree,
    const struct cat_version *ver, struct pd_error *err)
{
	unsigned char key[PR_TREE_NAME_MAX + 9], rec[VERS_REC_LEN];
	MDB_val k, v = { sizeof(rec), rec };
	int rc;

	if (strlen(tree) > PR_TREE_NAME_MAX)
		return pd_fail(err, PD_ERR_USAGE, "bad tree name %s", tree);
	k.mv_data = key;
	k.mv_size = version_key(tree, ver->number, key);
	version_pack(ver, rec);
	if ((rc = mdb_put(t->txn, t->cat->versions, &k, &v, 0)) != 0)
		return cat_dberr(t->cat, rc, err, "writing version");
	return PD_OK;
}

enum pd_err
cat_version_list(struct cat_txn *t, const char *tree,
    struct cat_version **out, size_t *n, struct pd_error *err)
{
	unsigned char key[PR_TREE_NAME_MAX + 9];
	size_t plen = strlen(tree) + 1, cnt = 0, cap = 0;
	struct cat_version *arr = NULL, *na;
	MDB_cursor *cur;
	MDB_val k, v;
	enum pd_err e = PD_OK;
	int rc;

	if (plen > PR_TREE_NAME_MAX + 1)
		return pd_fail(err, PD_ERR_NOTFOUND, "no tree %s", tree);
	k.mv_data = key;
	k.mv_size = version_key(tree, 0, key);
	if ((rc = mdb_cursor_open(t->txn, t->cat->versions, &cur)) != 0)
		return cat_dberr(t->cat, rc, err, "listing versions");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != plen + 8 || memcmp(k.mv_data, key, plen) != 0)
			break;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((na = pd_reallocarray(arr, cap, sizeof(*arr))) ==
			    NULL) {
				e = pd_fail(err, PD_ERR_NOMEM,
				    "listing versions");
				break;
			}
			arr = na;
		}
		if (!version_unpack(&v, &arr[cnt++])) {
			e = corrupt(t->cat, err, "version");
			break;
		}
	}
	mdb_cursor_close(cur);
	if (e == PD_OK && rc != 0 && rc != MDB_NOTFOUND)
		e = cat_dberr(t->cat, rc, err, "listing versions");
	if (e != PD_OK) {
		pd_free(arr);
		return e;
	}
	*out = arr;
	*n = cnt;
	return PD_OK;
}

/* Objects. */

bool
cat_object_has(struct cat_txn *t, const unsigned char *sha)
{
	MDB_val k = { PD_SHA256_LEN, (void *)sha }, v;

	return mdb_get(t->txn, t->cat->objects, &k, &v) == 0;
}

bool
cat_object_known(struct cat *c, const unsigned char *sha)
{
	struct cat_txn *t;
	bool has;

	if (cat_begin(c, false, &t, NULL) != PD_OK)
		return false;
	has = cat_object_has(t, sha);
	cat_abort(t);
	return has;
}

enum pd_err
cat_object_put(struct cat_txn *t, const unsigned char *sha, uint64_t size,
    struct pd_error *err)
{
	unsigned char rec[OBJ_REC_LEN];
	MDB_val k = { PD_SHA256_LEN, (void *)sha }, v = { sizeof(rec), rec };
	int rc;

	rec[0] = OBJ_REC_V;
	put64(rec + 1, size);
	if ((rc = mdb_put(t->txn, t->cat->objects, &k, &v, 0)) != 0)
		return cat_dberr(t->cat, rc, err, "writing object");
	return PD_OK;
}

/* Deltas and compressed objects. */

/* Outside schema 2's databases (an old catalog read-only): no records. */
static enum pd_err
no_derived(struct cat *c, struct pd_error *err, const char *what)
{
	return pd_fail(err, PD_ERR_NOTFOUND, "catalog %s: no %s record (schema "
	    "1 catalog, read-only)", c->dir, what);
}

static void
delta_key(const unsigned char *from, const unsigned char *to,
    unsigned char *key)
{
	memcpy(key, from, PD_SHA256_LEN);
	memcpy(key + PD_SHA256_LEN, to, PD_SHA256_LEN);
}

enum pd_err
cat_delta_get(struct cat_txn *t, const unsigned char *from,
    const unsigned char *to, struct cat_delta *out, struct pd_error *err)
{
	unsigned char key[2 * PD_SHA256_LEN];
	MDB_val k = { sizeof(key), key }, v;
	const unsigned char *p;
	int rc;

	if (!t->cat->has_derived)
		return no_derived(t->cat, err, "delta");
	delta_key(from, to, key);
	if ((rc = mdb_get(t->txn, t->cat->deltas, &k, &v)) != 0)
		return cat_dberr(t->cat, rc, err, "reading delta");
	p = v.mv_data;
	if (v.mv_size != DELTA_REC_LEN || p[0] != DELTA_REC_V ||
	    (p[1] != CAT_DELTA_DELTA && p[1] != CAT_DELTA_WHOLE))
		return corrupt(t->cat, err, "delta");
	out->kind = (enum cat_delta_kind)p[1];
	get64(get64(p + 2, &out->size), &out->zsize);
	return PD_OK;
}

enum pd_err
cat_delta_put(struct cat_txn *t, const unsigned char *from,
    const unsigned char *to, const struct cat_delta *d, struct pd_error *err)
{
	unsigned char key[2 * PD_SHA256_LEN], rec[DELTA_REC_LEN];
	MDB_val k = { sizeof(key), key }, v = { sizeof(rec), rec };
	int rc;

	if (d->kind != CAT_DELTA_DELTA && d->kind != CAT_DELTA_WHOLE)
		return pd_fail(err, PD_ERR_USAGE, "delta record of kind %d",
		    (int)d->kind);
	delta_key(from, to, key);
	rec[0] = DELTA_REC_V;
	rec[1] = (unsigned char)d->kind;
	put64(put64(rec + 2, d->size), d->zsize);
	if ((rc = mdb_put(t->txn, t->cat->deltas, &k, &v, 0)) != 0)
		return cat_dberr(t->cat, rc, err, "writing delta");
	return PD_OK;
}

enum pd_err
cat_delta_lookup(struct cat *c, const unsigned char *from,
    const unsigned char *to, struct cat_delta *out, struct pd_error *err)
{
	struct cat_txn *t;
	enum pd_err rc;

	if ((rc = cat_begin(c, false, &t, err)) != PD_OK)
		return rc;
	rc = cat_delta_get(t, from, to, out, err);
	cat_abort(t);
	return rc;
}

enum pd_err
cat_zobj_get(struct cat_txn *t, const unsigned char *sha,
    struct cat_zobj *out, struct pd_error *err)
{
	MDB_val k = { PD_SHA256_LEN, (void *)sha }, v;
	const unsigned char *p;
	int rc;

	if (!t->cat->has_derived)
		return no_derived(t->cat, err, "compressed object");
	if ((rc = mdb_get(t->txn, t->cat->zobjs, &k, &v)) != 0)
		return cat_dberr(t->cat, rc, err, "reading compressed object");
	p = v.mv_data;
	if (v.mv_size != ZOBJ_REC_LEN || p[0] != ZOBJ_REC_V)
		return corrupt(t->cat, err, "compressed object");
	get64(get64(p + 1, &out->size), &out->zsize);
	return PD_OK;
}

enum pd_err
cat_zobj_put(struct cat_txn *t, const unsigned char *sha,
    const struct cat_zobj *z, struct pd_error *err)
{
	unsigned char rec[ZOBJ_REC_LEN];
	MDB_val k = { PD_SHA256_LEN, (void *)sha }, v = { sizeof(rec), rec };
	int rc;

	rec[0] = ZOBJ_REC_V;
	put64(put64(rec + 1, z->size), z->zsize);
	if ((rc = mdb_put(t->txn, t->cat->zobjs, &k, &v, 0)) != 0)
		return cat_dberr(t->cat, rc, err, "writing compressed object");
	return PD_OK;
}

enum pd_err
cat_zobj_lookup(struct cat *c, const unsigned char *sha,
    struct cat_zobj *out, struct pd_error *err)
{
	struct cat_txn *t;
	enum pd_err rc;

	if ((rc = cat_begin(c, false, &t, err)) != PD_OK)
		return rc;
	rc = cat_zobj_get(t, sha, out, err);
	cat_abort(t);
	return rc;
}

/* Stat cache. */

static void
stat_key(uint32_t tree_id, const char *path, size_t len, unsigned char *key)
{
	XXH128_hash_t h = XXH3_128bits(path, len);

	put32(key, tree_id);
	put64(put64(key + 4, h.high64), h.low64);
}

bool
cat_stat_get(struct cat_txn *t, uint32_t tree_id, const char *path,
    size_t len, struct cat_stat *st)
{
	unsigned char key[STAT_KEY_LEN];
	MDB_val k = { sizeof(key), key }, v;
	const unsigned char *p;
	uint32_t u;

	stat_key(tree_id, path, len, key);
	if (mdb_get(t->txn, t->cat->statcache, &k, &v) != 0 ||
	    v.mv_size != STAT_REC_LEN + len ||
	    memcmp((const unsigned char *)v.mv_data + STAT_REC_LEN, path,
	    len) != 0)
		return false;
	p = v.mv_data;
	p = get64(p, &st->dev);
	p = get64(p, &st->ino);
	p = get64(p, &st->size);
	p = geti64(p, &st->mtime_sec);
	p = get32(p, &u);
	st->mtime_nsec = u;
	p = geti64(p, &st->ctime_sec);
	p = get32(p, &u);
	st->ctime_nsec = u;
	memcpy(st->sha, p, PD_SHA256_LEN);
	return true;
}

enum pd_err
cat_stat_put(struct cat_txn *t, uint32_t tree_id, const char *path,
    size_t len, const struct cat_stat *st, struct pd_error *err)
{
	unsigned char key[STAT_KEY_LEN], *p;
	MDB_val k = { sizeof(key), key }, v = { STAT_REC_LEN + len, NULL };
	int rc;

	stat_key(tree_id, path, len, key);
	if ((rc = mdb_put(t->txn, t->cat->statcache, &k, &v, MDB_RESERVE)) !=
	    0)
		return cat_dberr(t->cat, rc, err, "writing stat cache");
	p = v.mv_data;
	p = put64(p, st->dev);
	p = put64(p, st->ino);
	p = put64(p, st->size);
	p = put64(p, (uint64_t)st->mtime_sec);
	p = put32(p, st->mtime_nsec);
	p = put64(p, (uint64_t)st->ctime_sec);
	p = put32(p, st->ctime_nsec);
	memcpy(p, st->sha, PD_SHA256_LEN);
	memcpy(p + PD_SHA256_LEN, path, len);
	return PD_OK;
}

enum pd_err
cat_stat_clear(struct cat_txn *t, uint32_t tree_id, struct pd_error *err)
{
	unsigned char key[4];
	MDB_cursor *cur;
	MDB_val k = { sizeof(key), key }, v;
	int rc;

	put32(key, tree_id);
	if ((rc = mdb_cursor_open(t->txn, t->cat->statcache, &cur)) != 0)
		return cat_dberr(t->cat, rc, err, "clearing stat cache");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 4 || memcmp(k.mv_data, key, 4) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return cat_dberr(t->cat, rc, err, "clearing stat cache");
	return PD_OK;
}
