/*
 * Unit tests of catalog/: opening, schema migration, the records,
 * transactions, tree locks and the object store, each in a fresh data
 * directory.
 *
 * LMDB forbids opening one environment twice in a process (closing
 * either copy drops the other's locks), so "another handle" is always a
 * forked child, and records are planted with LMDB directly only while
 * the catalog is closed.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "../../catalog/catalog.h"
#include "../../catalog/objstore.h"
#include "../../common/fsx.h"
#include "../../common/hex.h"
#include "../../common/mem.h"
#include "../../common/sha256.h"
#include "unit.h"

/* A new catalog in a new temporary directory, at TMP/data. */
static struct cat *
new_cat(char **tmp, char *data, size_t datasz)
{
	struct pd_error e;
	struct cat *c = NULL;

	*tmp = unit_tmpdir();
	unit_pjoin(data, datasz, *tmp, "data");
	pd_error_clear(&e);
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_CREATE, &c, &e), PD_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

static bool
is_dir(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return false;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Entries of dir other than . and .., or -1. */
static int
count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* LMDB by hand, for records the catalog's API will not write. */
struct raw {
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
};

static int
raw_begin(struct raw *r, const char *data, const char *db)
{
	char path[4096];
	int rc;

	snprintf(path, sizeof(path), "%s/catalog", data);
	if ((rc = mdb_env_create(&r->env)) != 0)
		return rc;
	if ((rc = mdb_env_set_maxdbs(r->env, 16)) != 0 ||
	    (rc = mdb_env_open(r->env, path, 0, 0600)) != 0 ||
	    (rc = mdb_txn_begin(r->env, NULL, 0, &r->txn)) != 0) {
		mdb_env_close(r->env);
		return rc;
	}
	if ((rc = mdb_dbi_open(r->txn, db, 0, &r->dbi)) != 0) {
		mdb_txn_abort(r->txn);
		mdb_env_close(r->env);
	}
	return rc;
}

static int
raw_end(struct raw *r)
{
	int rc = mdb_txn_commit(r->txn);

	mdb_env_close(r->env);
	return rc;
}

static int
raw_put(const char *data, const char *db, const char *key, const void *v,
    size_t vlen)
{
	struct raw r;
	MDB_val k = { strlen(key), (void *)key }, val = { vlen, (void *)v };
	int rc;

	if ((rc = raw_begin(&r, data, db)) != 0)
		return rc;
	if ((rc = mdb_put(r.txn, r.dbi, &k, &val, 0)) != 0) {
		mdb_txn_abort(r.txn);
		mdb_env_close(r.env);
		return rc;
	}
	return raw_end(&r);
}

static void
test_open(void)
{
	char *tmp = unit_tmpdir(), data[4096], path[4096];
	struct pd_error e;
	struct cat *c = NULL;
	struct cat_txn *t = NULL;
	struct cat_tree *trees = NULL;
	struct raw r;
	struct stat st;
	MDB_val k = { 6, "schema" }, v;
	size_t n = 99;

	/* Read-only or not asked to create: a missing directory stays so. */
	unit_pjoin(data, sizeof(data), tmp, "x/y/data");
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_open(data, CAT_RDONLY, &c, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, data));
	CU_ASSERT_EQUAL(cat_open(data, CAT_RDONLY | CAT_CREATE, &c, NULL),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(cat_open(data, 0, &c, NULL), PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(stat(data, &st), -1);
	unit_pjoin(path, sizeof(path), tmp, "x");
	CU_ASSERT_EQUAL(stat(path, &st), -1);

	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_CREATE, &c, NULL), PD_OK);
	CU_ASSERT_STRING_EQUAL(cat_dir(c), data);
	CU_ASSERT(is_dir(data, "catalog"));
	CU_ASSERT(is_dir(data, "objects/00"));
	CU_ASSERT(is_dir(data, "objects/9a"));
	CU_ASSERT(is_dir(data, "objects/ff"));
	CU_ASSERT(is_dir(data, "objects/tmp"));
	CU_ASSERT(is_dir(data, "locks"));
	CU_ASSERT(fstat(cat_objects_fd(c), &st) == 0 && S_ISDIR(st.st_mode));
	unit_pjoin(path, sizeof(path), data, "objects");
	CU_ASSERT_EQUAL(count_entries(path), 257);
	cat_close(c);
	cat_close(NULL);

	/* The schema record is the number this build reads. */
	CU_ASSERT_EQUAL_FATAL(raw_begin(&r, data, "meta"), 0);
	CU_ASSERT_EQUAL(mdb_get(r.txn, r.dbi, &k, &v), 0);
	snprintf(path, sizeof(path), "%d", CAT_SCHEMA);
	CU_ASSERT(v.mv_size == strlen(path) &&
	    memcmp(v.mv_data, path, v.mv_size) == 0);
	CU_ASSERT_EQUAL(raw_end(&r), 0);

	/* Read-only: reads work, a write transaction is refused. */
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_RDONLY, &c, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_begin(c, true, &t, NULL), PD_ERR_USAGE);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_list(t, &trees, &n, NULL), PD_OK);
	CU_ASSERT_EQUAL(n, 0);
	pd_free(trees);
	cat_abort(t);
	cat_abort(NULL);
	cat_close(c);

	/* A directory without a catalog, and a file, are not catalogs. */
	unit_pjoin(path, sizeof(path), tmp, "empty");
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_open(path, CAT_RDONLY, &c, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, path));
	unit_write(tmp, "file", "x", 1);
	unit_pjoin(path, sizeof(path), tmp, "file");
	CU_ASSERT_EQUAL(cat_open(path, CAT_CREATE, &c, NULL), PD_ERR_IO);
	CU_ASSERT_PTR_NULL(c);
	unit_rmdir(tmp);
}

static void
test_schema(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	char newer[16], what[32];
	struct pd_error e;
	struct raw r;
	MDB_val k = { 6, "schema" }, v;

	cat_close(c);
	c = NULL;
	/* One past what this build reads. */
	snprintf(newer, sizeof(newer), "%d", CAT_SCHEMA + 1);
	snprintf(what, sizeof(what), "schema %s", newer);
	CU_ASSERT_EQUAL_FATAL(raw_put(data, "meta", "schema", newer,
	    strlen(newer)), 0);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_open(data, 0, &c, &e), PD_ERR_DB);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, what));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "newer"));
	CU_ASSERT_EQUAL(cat_open(data, CAT_RDONLY, &c, NULL), PD_ERR_DB);
	CU_ASSERT_EQUAL(cat_open(data, CAT_CREATE, &c, NULL), PD_ERR_DB);

	/* The refused opens did not "repair" the record. */
	CU_ASSERT_EQUAL_FATAL(raw_begin(&r, data, "meta"), 0);
	CU_ASSERT_EQUAL(mdb_get(r.txn, r.dbi, &k, &v), 0);
	CU_ASSERT(v.mv_size == strlen(newer) &&
	    memcmp(v.mv_data, newer, v.mv_size) == 0);
	CU_ASSERT_EQUAL(raw_end(&r), 0);

	/* A damaged record is caught. */
	CU_ASSERT_EQUAL_FATAL(raw_put(data, "meta", "schema", "", 0), 0);
	CU_ASSERT_EQUAL(cat_open(data, 0, &c, NULL), PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL_FATAL(raw_put(data, "meta", "schema", "2x", 2), 0);
	CU_ASSERT_EQUAL(cat_open(data, 0, &c, NULL), PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL_FATAL(raw_put(data, "meta", "schema", "0", 1), 0);
	CU_ASSERT_EQUAL(cat_open(data, 0, &c, NULL), PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL_FATAL(raw_put(data, "meta", "schema", "2", 1), 0);
	CU_ASSERT_EQUAL(cat_open(data, 0, &c, NULL), PD_OK);
	cat_close(c);
	unit_rmdir(tmp);
}

/* Make data look like a catalog of schema 1: no derived-content dbs,
 * no content index. */
static int
make_schema1(const char *data)
{
	static const char *const dbs[] = { "deltas", "zobjects", "content",
	    "tasks", "taskq" };
	struct raw r;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		if ((rc = raw_begin(&r, data, dbs[i])) != 0)
			return rc;
		if ((rc = mdb_drop(r.txn, r.dbi, 1)) != 0) {
			mdb_txn_abort(r.txn);
			mdb_env_close(r.env);
			return rc;
		}
		if ((rc = raw_end(&r)) != 0)
			return rc;
	}
	return raw_put(data, "meta", "schema", "1", 1);
}

static void
test_migrate(void)
{
	unsigned char a[PD_SHA256_LEN], b[PD_SHA256_LEN];
	char *tmp, data[4096], now[16];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_delta dl = { CAT_DELTA_DELTA, 10, 5 };
	struct cat_zobj z;
	struct cat_tree tr;
	struct cat_txn *t;
	struct pd_error e;
	struct raw r;
	MDB_val k = { 6, "schema" }, v;

	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	memset(&tr, 0, sizeof(tr));
	snprintf(tr.name, sizeof(tr.name), "old");
	tr.head = 4;
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_put(t, &tr, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_object_put(t, a, 1, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	cat_close(c);
	c = NULL;
	CU_ASSERT_EQUAL_FATAL(make_schema1(data), 0);
	CU_ASSERT_EQUAL(raw_begin(&r, data, "deltas"), MDB_NOTFOUND);

	/* Read-only: readable as it is, with no derived content. */
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_RDONLY, &c, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_get(t, "old", &tr, NULL), PD_OK);
	CU_ASSERT_EQUAL(tr.head, 4);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_delta_get(t, a, b, &dl, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, data));
	CU_ASSERT_EQUAL(cat_zobj_get(t, a, &z, NULL), PD_ERR_NOTFOUND);
	cat_abort(t);
	cat_close(c);
	c = NULL;
	CU_ASSERT_EQUAL_FATAL(raw_begin(&r, data, "meta"), 0);
	CU_ASSERT_EQUAL(mdb_get(r.txn, r.dbi, &k, &v), 0);
	CU_ASSERT(v.mv_size == 1 && memcmp(v.mv_data, "1", 1) == 0);
	CU_ASSERT_EQUAL(raw_end(&r), 0);

	/* For writing: upgraded in place, old records kept. */
	CU_ASSERT_EQUAL_FATAL(cat_open(data, 0, &c, NULL), PD_OK);
	CU_ASSERT_TRUE(cat_object_known(c, a));
	CU_ASSERT_EQUAL(cat_delta_lookup(c, a, b, &dl, NULL),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_get(t, "old", &tr, NULL), PD_OK);
	dl.kind = CAT_DELTA_WHOLE;
	CU_ASSERT_EQUAL(cat_delta_put(t, a, b, &dl, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	cat_close(c);
	c = NULL;
	CU_ASSERT_EQUAL_FATAL(raw_begin(&r, data, "meta"), 0);
	CU_ASSERT_EQUAL(mdb_get(r.txn, r.dbi, &k, &v), 0);
	snprintf(now, sizeof(now), "%d", CAT_SCHEMA);
	CU_ASSERT(v.mv_size == strlen(now) &&
	    memcmp(v.mv_data, now, v.mv_size) == 0);
	CU_ASSERT_EQUAL(raw_end(&r), 0);
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_RDONLY, &c, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_delta_lookup(c, a, b, &dl, NULL), PD_OK);
	CU_ASSERT_EQUAL(dl.kind, CAT_DELTA_WHOLE);
	cat_close(c);
	unit_rmdir(tmp);
}

static void
make_tree(struct cat_tree *t, const char *name, uint64_t head)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->head = head;
	t->has_key = head % 2 == 1;
	for (i = 0; i < sizeof(t->pubkey); i++)
		t->pubkey[i] = (unsigned char)(i * 7 + head);
	t->created = -1000 - (int64_t)head;	/* signed must survive */
}

static void
check_tree(const struct cat_tree *got, const struct cat_tree *want)
{
	CU_ASSERT_STRING_EQUAL(got->name, want->name);
	CU_ASSERT_EQUAL(got->id, want->id);
	CU_ASSERT_EQUAL(got->head, want->head);
	CU_ASSERT_EQUAL(got->has_key, want->has_key);
	CU_ASSERT_EQUAL(memcmp(got->pubkey, want->pubkey,
	    sizeof(got->pubkey)), 0);
	CU_ASSERT_EQUAL(got->created, want->created);
}

static void
test_trees(void)
{
	static const char *const names[] = { "b", "a", "a-b" };
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_tree t[3], got, *list = NULL;
	struct cat_txn *tx;
	struct pd_error e;
	size_t i, n = 0;

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	for (i = 0; i < 3; i++) {
		make_tree(&t[i], names[i], i + 1);
		CU_ASSERT_EQUAL(cat_tree_put(tx, &t[i], NULL), PD_OK);
		CU_ASSERT_EQUAL(t[i].id, i + 1);
	}
	CU_ASSERT_EQUAL(cat_commit(tx, NULL), PD_OK);

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	for (i = 0; i < 3; i++) {
		memset(&got, 0xa5, sizeof(got));
		CU_ASSERT_EQUAL(cat_tree_get(tx, names[i], &got, NULL), PD_OK);
		check_tree(&got, &t[i]);
	}
	/* Storing a known tree keeps its id. */
	t[1].head = 42;
	CU_ASSERT_EQUAL(cat_tree_put(tx, &t[1], NULL), PD_OK);
	CU_ASSERT_EQUAL(t[1].id, 2);
	CU_ASSERT_EQUAL(cat_commit(tx, NULL), PD_OK);

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_list(tx, &list, &n, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(list[0].name, "a");
	CU_ASSERT_STRING_EQUAL(list[1].name, "a-b");
	CU_ASSERT_STRING_EQUAL(list[2].name, "b");
	check_tree(&list[0], &t[1]);
	check_tree(&list[1], &t[2]);
	check_tree(&list[2], &t[0]);
	pd_free(list);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_tree_get(tx, "c", &got, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "c"));
	CU_ASSERT_EQUAL(cat_tree_get(tx, "", &got, NULL), PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(cat_tree_get(tx, "a-", &got, NULL), PD_ERR_NOTFOUND);
	cat_abort(tx);

	/* Ids keep counting after a commit. */
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	make_tree(&got, "d", 0);
	CU_ASSERT_EQUAL(cat_tree_put(tx, &got, NULL), PD_OK);
	CU_ASSERT_EQUAL(got.id, 4);
	CU_ASSERT_EQUAL(cat_commit(tx, NULL), PD_OK);
	cat_close(c);
	unit_rmdir(tmp);
}

static void
make_version(struct cat_version *v, uint64_t n, unsigned salt)
{
	size_t i;

	memset(v, 0, sizeof(*v));
	v->number = n;
	for (i = 0; i < PD_SHA256_LEN; i++) {
		v->manifest_id[i] = (unsigned char)(n + i + salt);
		v->content_digest[i] = (unsigned char)(n * 3 + i + salt);
	}
	v->created = -(int64_t)n;
	v->committed = (int64_t)(n << 40) + salt;
	v->entries = n + 1;
	v->files = n + 2;
	v->dirs = n + 3;
	v->links = n + 4;
	v->bytes = UINT64_MAX - n;
	v->hashed_bytes = n + 6;
	v->duration_ms = n + 7;
	v->changes.added = n + 8;
	v->changes.removed = n + 9;
	v->changes.changed = n + 10;
	v->changes.renamed = n + 11;
	v->changes.meta = salt;
}

static void
check_version(const struct cat_version *g, const struct cat_version *w)
{
	CU_ASSERT_EQUAL(g->number, w->number);
	CU_ASSERT_EQUAL(memcmp(g->manifest_id, w->manifest_id,
	    PD_SHA256_LEN), 0);
	CU_ASSERT_EQUAL(memcmp(g->content_digest, w->content_digest,
	    PD_SHA256_LEN), 0);
	CU_ASSERT_EQUAL(g->created, w->created);
	CU_ASSERT_EQUAL(g->committed, w->committed);
	CU_ASSERT_EQUAL(g->entries, w->entries);
	CU_ASSERT_EQUAL(g->files, w->files);
	CU_ASSERT_EQUAL(g->dirs, w->dirs);
	CU_ASSERT_EQUAL(g->links, w->links);
	CU_ASSERT_EQUAL(g->bytes, w->bytes);
	CU_ASSERT_EQUAL(g->hashed_bytes, w->hashed_bytes);
	CU_ASSERT_EQUAL(g->duration_ms, w->duration_ms);
	CU_ASSERT_EQUAL(g->changes.added, w->changes.added);
	CU_ASSERT_EQUAL(g->changes.removed, w->changes.removed);
	CU_ASSERT_EQUAL(g->changes.changed, w->changes.changed);
	CU_ASSERT_EQUAL(g->changes.renamed, w->changes.renamed);
	CU_ASSERT_EQUAL(g->changes.meta, w->changes.meta);
}

static void
test_versions(void)
{
	/*
	 * Trees whose names are prefixes of each other, and numbers that
	 * sort wrongly unless the key is big-endian.
	 */
	static const struct {
		const char	*tree;
		uint64_t	 n;
	} adds[] = {
		{ "a-b", 2 }, { "a", 65536 }, { "aa", 1 }, { "a", 256 },
		{ "a-b", 1 }, { "a", 1 }, { "a", 2 },
	};
	static const uint64_t want_a[] = { 1, 2, 256, 65536 };
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_version v, got, *list = NULL;
	struct cat_txn *tx;
	struct pd_error e;
	size_t i, n = 0;

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	for (i = 0; i < sizeof(adds) / sizeof(adds[0]); i++) {
		make_version(&v, adds[i].n, (unsigned)strlen(adds[i].tree));
		CU_ASSERT_EQUAL(cat_version_put(tx, adds[i].tree, &v, NULL),
		    PD_OK);
	}
	CU_ASSERT_EQUAL(cat_commit(tx, NULL), PD_OK);

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_version_list(tx, "a", &list, &n, NULL), PD_OK);
	CU_ASSERT_EQUAL(n, 4);
	for (i = 0; i < n && i < 4; i++) {
		make_version(&v, want_a[i], 1);
		check_version(&list[i], &v);
	}
	pd_free(list);
	list = NULL;
	CU_ASSERT_EQUAL(cat_version_list(tx, "a-b", &list, &n, NULL), PD_OK);
	CU_ASSERT_EQUAL(n, 2);
	for (i = 0; i < n && i < 2; i++) {
		make_version(&v, i + 1, 3);
		check_version(&list[i], &v);
	}
	pd_free(list);
	list = NULL;
	CU_ASSERT_EQUAL(cat_version_list(tx, "aa", &list, &n, NULL), PD_OK);
	CU_ASSERT_EQUAL(n, 1);
	pd_free(list);
	list = NULL;
	CU_ASSERT_EQUAL(cat_version_list(tx, "b", &list, &n, NULL), PD_OK);
	CU_ASSERT_EQUAL(n, 0);
	pd_free(list);

	make_version(&v, 256, 1);
	CU_ASSERT_EQUAL(cat_version_get(tx, "a", 256, &got, NULL), PD_OK);
	check_version(&got, &v);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_version_get(tx, "a", 3, &got, &e),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "a"));
	CU_ASSERT_EQUAL(cat_version_get(tx, "aa", 2, &got, NULL),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(cat_version_get(tx, "b", 1, &got, NULL),
	    PD_ERR_NOTFOUND);
	cat_abort(tx);
	cat_close(c);
	unit_rmdir(tmp);
}

/* The file that holds manifest id in data. */
static void
manifest_path(const char *data, const unsigned char *id, char *path,
    size_t size)
{
	char hex[PD_SHA256_HEX];

	pd_hex_encode(id, PD_SHA256_LEN, hex);
	snprintf(path, size, "%s/manifests/%s", data, hex);
}

/* Reading manifest id fails as corrupt, naming its file. */
static void
expect_corrupt(struct cat *c, const unsigned char *id, const char *path)
{
	struct cat_txn *tx;
	struct pd_error e;
	const void *p;
	size_t len;

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &tx, NULL), PD_OK);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_manifest_get(tx, id, &p, &len, &e),
	    PD_ERR_CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, path));
	cat_abort(tx);
}

static void
test_manifests(void)
{
	static const unsigned char body[] = "line one\n\0binary\xff\n";
	static const char old[] = "pulpdist-manifest 1\nan old record\n";
	unsigned char id[PD_SHA256_LEN], other[PD_SHA256_LEN];
	unsigned char oldid[PD_SHA256_LEN];
	char *tmp, data[4096], path[4200];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_txn *tx;
	struct pd_error e;
	struct raw r;
	const void *p = NULL;
	size_t len = 0;
	MDB_val k, v;
	struct stat st;

	CU_ASSERT_EQUAL_FATAL(pd_sha256(body, sizeof(body), id), PD_OK);
	memcpy(other, id, sizeof(id));
	other[31] ^= 1;
	/* A record needs its file saved first. */
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_manifest_put(tx, id, sizeof(body), &e),
	    PD_ERR_NOTFOUND);
	manifest_path(data, id, path, sizeof(path));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, path));
	CU_ASSERT_EQUAL(cat_manifest_save(c, id, body, sizeof(body), NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_put(tx, id, sizeof(body) - 1, NULL),
	    PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL(cat_manifest_put(tx, id, sizeof(body), NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_commit(tx, NULL), PD_OK);
	/* The bytes are the file's; the record is small. */
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, (off_t)sizeof(body));
	CU_ASSERT_EQUAL_FATAL(raw_begin(&r, data, "manifests"), 0);
	k.mv_size = sizeof(id);
	k.mv_data = id;
	CU_ASSERT_EQUAL(mdb_get(r.txn, r.dbi, &k, &v), 0);
	CU_ASSERT(v.mv_size < 16);
	CU_ASSERT_EQUAL(raw_end(&r), 0);

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_get(tx, id, &p, &len, NULL), PD_OK);
	CU_ASSERT_EQUAL(len, sizeof(body));
	CU_ASSERT(len == sizeof(body) && memcmp(p, body, len) == 0);
	CU_ASSERT_EQUAL(cat_manifest_get(tx, other, &p, &len, NULL),
	    PD_ERR_NOTFOUND);
	len = 0;
	CU_ASSERT_EQUAL(cat_manifest_len(tx, id, &len, NULL), PD_OK);
	CU_ASSERT_EQUAL(len, sizeof(body));
	CU_ASSERT_EQUAL(cat_manifest_len(tx, other, &len, NULL),
	    PD_ERR_NOTFOUND);
	cat_abort(tx);

	/* A file that is not what the record says is named. */
	CU_ASSERT_EQUAL_FATAL(truncate(path, 3), 0);
	expect_corrupt(c, id, path);
	CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
	expect_corrupt(c, id, path);
	cat_close(c);

	/* A record of schema 4 and before holds the manifest: still read,
	 * also read-only by a catalog without the manifests folder. */
	CU_ASSERT_EQUAL_FATAL(pd_sha256(old, sizeof(old) - 1, oldid), PD_OK);
	CU_ASSERT_EQUAL_FATAL(raw_begin(&r, data, "manifests"), 0);
	k.mv_size = sizeof(oldid);
	k.mv_data = oldid;
	v.mv_size = sizeof(old) - 1;
	v.mv_data = (void *)old;
	CU_ASSERT_EQUAL(mdb_put(r.txn, r.dbi, &k, &v, 0), 0);
	CU_ASSERT_EQUAL(raw_end(&r), 0);
	snprintf(path, sizeof(path), "%s/manifests", data);
	CU_ASSERT_EQUAL_FATAL(rmdir(path), 0);
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_RDONLY, &c, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_get(tx, oldid, &p, &len, NULL), PD_OK);
	CU_ASSERT(len == sizeof(old) - 1 && memcmp(p, old, len) == 0);
	len = 0;
	CU_ASSERT_EQUAL(cat_manifest_len(tx, oldid, &len, NULL), PD_OK);
	CU_ASSERT_EQUAL(len, sizeof(old) - 1);
	cat_abort(tx);
	cat_close(c);
	unit_rmdir(tmp);
}

/* Set the mtime of path to t. */
static void
set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };

	CU_ASSERT_EQUAL_FATAL(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Only unrecorded files written before the cut go, tmp files too. */
static void
test_manifest_sweep(void)
{
	static const char a[] = "recorded", b[] = "orphan", f[] = "fresh";
	static const char o[] = "another orphan";
	unsigned char ida[PD_SHA256_LEN], idb[PD_SHA256_LEN];
	unsigned char idf[PD_SHA256_LEN], ido[PD_SHA256_LEN];
	char *tmp, data[4096], pa[4200], pb[4200], pf[4200], pt[4200];
	char po[4200];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	time_t now = time(NULL);
	struct cat_txn *tx;
	uint64_t n = 99;

	CU_ASSERT_EQUAL_FATAL(pd_sha256(a, sizeof(a), ida), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pd_sha256(b, sizeof(b), idb), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pd_sha256(f, sizeof(f), idf), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_save(c, ida, a, sizeof(a), NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_save(c, idb, b, sizeof(b), NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_save(c, idf, f, sizeof(f), NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pd_sha256(o, sizeof(o), ido), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_save(c, ido, o, sizeof(o), NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_put(tx, ida, sizeof(a), NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(tx, NULL), PD_OK);
	manifest_path(data, ida, pa, sizeof(pa));
	manifest_path(data, idb, pb, sizeof(pb));
	manifest_path(data, idf, pf, sizeof(pf));
	snprintf(pt, sizeof(pt), "%s/manifests/.pd-tmp.7.7", data);
	unit_write(data, "manifests/.pd-tmp.7.7", "x", 1);
	set_mtime(pa, now - 7200);
	set_mtime(pb, now - 7200);
	set_mtime(pt, now - 7200);
	manifest_path(data, ido, po, sizeof(po));
	set_mtime(po, now - 7200);

	/* Nothing was written before a cut two hours and more ago. */
	CU_ASSERT_EQUAL(cat_manifest_sweep(c, now - 10000, &n, NULL), PD_OK);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(cat_manifest_sweep(c, now - 3600, &n, NULL), PD_OK);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(access(pa, F_OK), 0);
	CU_ASSERT_NOT_EQUAL(access(po, F_OK), 0);
	CU_ASSERT_NOT_EQUAL(access(pb, F_OK), 0);
	CU_ASSERT_NOT_EQUAL(access(pt, F_OK), 0);
	CU_ASSERT_EQUAL(access(pf, F_OK), 0);
	cat_close(c);
	unit_rmdir(tmp);
}

static void
test_objects_index(void)
{
	unsigned char a[PD_SHA256_LEN], b[PD_SHA256_LEN];
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_txn *tx;

	CU_ASSERT_EQUAL_FATAL(pd_sha256("a", 1, a), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pd_sha256("b", 1, b), PD_OK);
	CU_ASSERT_FALSE(cat_object_known(c, a));
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	CU_ASSERT_FALSE(cat_object_has(tx, a));
	CU_ASSERT_EQUAL(cat_object_put(tx, a, 1, NULL), PD_OK);
	CU_ASSERT_TRUE(cat_object_has(tx, a));
	CU_ASSERT_FALSE(cat_object_has(tx, b));
	/* Not committed: another transaction does not see it yet. */
	CU_ASSERT_FALSE(cat_object_known(c, a));
	CU_ASSERT_EQUAL(cat_commit(tx, NULL), PD_OK);
	CU_ASSERT_TRUE(cat_object_known(c, a));
	CU_ASSERT_FALSE(cat_object_known(c, b));
	cat_close(c);
	unit_rmdir(tmp);
}

static void
test_derived(void)
{
	unsigned char a[PD_SHA256_LEN], b[PD_SHA256_LEN], key[64];
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_delta d1 = { CAT_DELTA_DELTA, 1234567890123ULL, 77 };
	struct cat_delta d2 = { CAT_DELTA_WHOLE, 5, 3 }, got;
	struct cat_zobj z1 = { 1ULL << 40, 99 }, zg;
	struct cat_txn *tx;
	struct pd_error e;
	struct raw r;
	MDB_val k = { sizeof(key), key }, v;

	memset(a, 0xa1, sizeof(a));
	memset(b, 0xb2, sizeof(b));
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_delta_lookup(c, a, b, &got, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "delta"));
	CU_ASSERT_EQUAL(cat_zobj_lookup(c, a, &zg, NULL), PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_delta_put(tx, a, b, &d1, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_delta_put(tx, b, a, &d2, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_zobj_put(tx, b, &z1, NULL), PD_OK);
	got.kind = 0;
	CU_ASSERT_EQUAL(cat_delta_put(tx, a, a, &got, NULL), PD_ERR_USAGE);
	CU_ASSERT_EQUAL(cat_delta_get(tx, a, b, &got, NULL), PD_OK);
	/* Not committed: another transaction does not see it yet. */
	CU_ASSERT_EQUAL(cat_delta_lookup(c, a, b, &got, NULL),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL_FATAL(cat_commit(tx, NULL), PD_OK);

	CU_ASSERT_EQUAL(cat_delta_lookup(c, a, b, &got, NULL), PD_OK);
	CU_ASSERT(got.kind == d1.kind && got.size == d1.size &&
	    got.zsize == d1.zsize);
	CU_ASSERT_EQUAL(cat_delta_lookup(c, b, a, &got, NULL), PD_OK);
	CU_ASSERT(got.kind == d2.kind && got.size == d2.size &&
	    got.zsize == d2.zsize);
	CU_ASSERT_EQUAL(cat_delta_lookup(c, a, a, &got, NULL),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(cat_zobj_lookup(c, b, &zg, NULL), PD_OK);
	CU_ASSERT(zg.size == z1.size && zg.zsize == z1.zsize);
	CU_ASSERT_EQUAL(cat_zobj_lookup(c, a, &zg, NULL), PD_ERR_NOTFOUND);
	cat_close(c);

	/* Damaged records: wrong length, unknown kind. */
	memcpy(key, a, 32);
	memcpy(key + 32, b, 32);
	CU_ASSERT_EQUAL_FATAL(raw_begin(&r, data, "deltas"), 0);
	v.mv_data = "\001\001";
	v.mv_size = 2;
	CU_ASSERT_EQUAL(mdb_put(r.txn, r.dbi, &k, &v, 0), 0);
	memcpy(key, b, 32);
	memcpy(key + 32, a, 32);
	v.mv_data = "\001\011abcdefghabcdefgh";
	v.mv_size = 18;
	CU_ASSERT_EQUAL(mdb_put(r.txn, r.dbi, &k, &v, 0), 0);
	CU_ASSERT_EQUAL(raw_end(&r), 0);
	CU_ASSERT_EQUAL_FATAL(cat_open(data, 0, &c, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_delta_lookup(c, a, b, &got, NULL),
	    PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL(cat_delta_lookup(c, b, a, &got, NULL),
	    PD_ERR_CORRUPT);
	cat_close(c);
	unit_rmdir(tmp);
}

static void
make_stat(struct cat_stat *s, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->dev = seed;
	s->ino = seed + 1;
	s->size = seed + 2;
	s->mtime_sec = -(int64_t)seed;
	s->mtime_nsec = 999999999;
	s->ctime_sec = (int64_t)seed << 33;
	s->ctime_nsec = (uint32_t)seed;
	memset(s->sha, (int)seed, sizeof(s->sha));
}

static bool
stat_eq(const struct cat_stat *a, const struct cat_stat *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
	    a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec &&
	    memcmp(a->sha, b->sha, sizeof(a->sha)) == 0;
}

/*
 * Stat cache key, as records.c documents it: be32(tree id), then the
 * XXH3-128 of the path, high half first.
 */
static void
stat_key(uint32_t tree, const char *path, unsigned char key[20])
{
	XXH128_hash_t h = XXH3_128bits(path, strlen(path));
	int i;

	for (i = 0; i < 4; i++)
		key[i] = (unsigned char)(tree >> (24 - 8 * i));
	for (i = 0; i < 8; i++) {
		key[4 + i] = (unsigned char)(h.high64 >> (56 - 8 * i));
		key[12 + i] = (unsigned char)(h.low64 >> (56 - 8 * i));
	}
}

static void
test_statcache(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_stat s1, s2, s3, got;
	struct cat_txn *tx;
	unsigned char kx[20], ky[20];
	MDB_val k, v;
	struct raw r;
	const char *nl = "new\nline\xff";

	make_stat(&s1, 1);
	make_stat(&s2, 2);
	make_stat(&s3, 3);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_stat_put(tx, 1, "a/b", 3, &s1, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_stat_put(tx, 2, "a/b", 3, &s2, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_stat_put(tx, 1, nl, strlen(nl), &s3, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(cat_stat_put(tx, 1, "x", 1, &s3, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_commit(tx, NULL), PD_OK);

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	CU_ASSERT(cat_stat_get(tx, 1, "a/b", 3, &got) && stat_eq(&got, &s1));
	CU_ASSERT(cat_stat_get(tx, 2, "a/b", 3, &got) && stat_eq(&got, &s2));
	CU_ASSERT(cat_stat_get(tx, 1, nl, strlen(nl), &got) &&
	    stat_eq(&got, &s3));
	CU_ASSERT_FALSE(cat_stat_get(tx, 3, "a/b", 3, &got));
	CU_ASSERT_FALSE(cat_stat_get(tx, 1, "a/c", 3, &got));
	CU_ASSERT_FALSE(cat_stat_get(tx, 1, "a/b", 2, &got));
	CU_ASSERT_FALSE(cat_stat_get(tx, 0, "a/b", 3, &got));
	/* Clearing tree 1 leaves tree 2 alone. */
	CU_ASSERT_EQUAL(cat_stat_clear(tx, 1, NULL), PD_OK);
	CU_ASSERT_FALSE(cat_stat_get(tx, 1, "a/b", 3, &got));
	CU_ASSERT_FALSE(cat_stat_get(tx, 1, nl, strlen(nl), &got));
	CU_ASSERT_FALSE(cat_stat_get(tx, 1, "x", 1, &got));
	CU_ASSERT(cat_stat_get(tx, 2, "a/b", 3, &got) && stat_eq(&got, &s2));
	CU_ASSERT_EQUAL(cat_stat_clear(tx, 7, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_stat_put(tx, 1, "x", 1, &s1, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_commit(tx, NULL), PD_OK);
	cat_close(c);
	c = NULL;

	/*
	 * A record whose key is path y's but which holds path x's entry
	 * stands for a hash collision: it must be a miss for y.
	 */
	stat_key(1, "x", kx);
	stat_key(1, "y", ky);
	CU_ASSERT_EQUAL_FATAL(raw_begin(&r, data, "statcache"), 0);
	k.mv_size = sizeof(kx);
	k.mv_data = kx;
	CU_ASSERT_EQUAL(mdb_get(r.txn, r.dbi, &k, &v), 0);
	k.mv_data = ky;
	CU_ASSERT_EQUAL(mdb_put(r.txn, r.dbi, &k, &v, 0), 0);
	CU_ASSERT_EQUAL(raw_end(&r), 0);
	CU_ASSERT_EQUAL_FATAL(cat_open(data, 0, &c, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &tx, NULL), PD_OK);
	CU_ASSERT(cat_stat_get(tx, 1, "x", 1, &got) && stat_eq(&got, &s1));
	CU_ASSERT_FALSE(cat_stat_get(tx, 1, "y", 1, &got));
	cat_abort(tx);
	cat_close(c);
	unit_rmdir(tmp);
}

static void
test_abort(void)
{
	static const unsigned char body[] = "manifest";
	unsigned char sha[PD_SHA256_LEN];
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_tree t, got;
	struct cat_version v;
	struct cat_stat s;
	struct cat_txn *tx;
	const void *p;
	size_t len;

	CU_ASSERT_EQUAL_FATAL(pd_sha256(body, sizeof(body), sha), PD_OK);
	make_tree(&t, "gone", 1);
	make_version(&v, 1, 0);
	make_stat(&s, 5);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_put(tx, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_version_put(tx, "gone", &v, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_save(c, sha, body, sizeof(body), NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_put(tx, sha, sizeof(body), NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(cat_object_put(tx, sha, 8, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_stat_put(tx, t.id, "f", 1, &s, NULL), PD_OK);
	/* Visible inside the transaction... */
	CU_ASSERT_EQUAL(cat_tree_get(tx, "gone", &got, NULL), PD_OK);
	CU_ASSERT_TRUE(cat_stat_get(tx, t.id, "f", 1, &s));
	cat_abort(tx);

	/* ...and nowhere after it. */
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_get(tx, "gone", &got, NULL),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(cat_version_get(tx, "gone", 1, &v, NULL),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(cat_manifest_get(tx, sha, &p, &len, NULL),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_FALSE(cat_object_has(tx, sha));
	CU_ASSERT_FALSE(cat_stat_get(tx, 1, "f", 1, &s));
	/* The aborted tree's id was not used up. */
	make_tree(&t, "next", 0);
	CU_ASSERT_EQUAL(cat_tree_put(tx, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(t.id, 1);
	cat_abort(tx);
	cat_close(c);
	unit_rmdir(tmp);
}

/* What the child of test_other_process found, as its exit status. */
static int
other_process(const char *data)
{
	struct cat *c = NULL;
	struct cat_txn *tx = NULL;
	struct cat_tree t;
	int fd = -1, rc = 0;

	if (cat_open(data, 0, &c, NULL) != PD_OK)
		return 20;
	if (cat_begin(c, true, &tx, NULL) != PD_OK) {
		cat_close(c);
		return 21;
	}
	if (cat_tree_get(tx, "parent", &t, NULL) != PD_OK || t.head != 7)
		rc = 22;
	make_tree(&t, "child", 9);
	if (rc == 0 && (cat_tree_put(tx, &t, NULL) != PD_OK ||
	    cat_commit(tx, NULL) != PD_OK))
		rc = 23;
	else if (rc != 0)
		cat_abort(tx);
	/* The parent holds tree "locked"; "free" is free. */
	if (rc == 0 && cat_lock_tree(c, "locked", &fd, NULL) !=
	    PD_ERR_CONFLICT)
		rc = 24;
	if (rc == 0 && cat_lock_tree(c, "free", &fd, NULL) != PD_OK)
		rc = 25;
	cat_unlock_tree(fd);
	cat_close(c);
	return rc;
}

static void
test_other_process(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_tree t, got;
	struct cat_txn *tx;
	pid_t pid;
	int fd = -1, rc;

	make_tree(&t, "parent", 7);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_put(tx, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_commit(tx, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_lock_tree(c, "locked", &fd, NULL), PD_OK);

	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		_exit(other_process(data));
	rc = unit_child_status(pid);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc != 0)
		fprintf(stderr, "catalog child: %d\n", rc);

	/* The child's commit is visible here, in a new transaction. */
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_get(tx, "child", &got, NULL), PD_OK);
	CU_ASSERT_EQUAL(got.head, 9);
	CU_ASSERT_EQUAL(got.id, 2);
	cat_abort(tx);
	cat_unlock_tree(fd);
	cat_close(c);
	unit_rmdir(tmp);
}

static void
test_lock(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct pd_error e;
	int a = -1, b = -1, x = -1;

	CU_ASSERT_EQUAL_FATAL(cat_lock_tree(c, "t", &a, NULL), PD_OK);
	CU_ASSERT(a >= 0);
	/* flock is per open file: a second take in one process conflicts. */
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_lock_tree(c, "t", &x, &e), PD_ERR_CONFLICT);
	CU_ASSERT_EQUAL(x, -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "tree t "));
	CU_ASSERT_EQUAL(cat_lock_tree(c, "t-2", &b, NULL), PD_OK);
	cat_unlock_tree(a);
	CU_ASSERT_EQUAL(cat_lock_tree(c, "t", &a, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_lock_tree(c, "t-2", &x, NULL), PD_ERR_CONFLICT);
	cat_unlock_tree(a);
	cat_unlock_tree(b);
	cat_unlock_tree(-1);
	CU_ASSERT_EQUAL(cat_lock_tree(c, "t-2", &x, NULL), PD_OK);
	cat_unlock_tree(x);
	cat_close(c);
	unit_rmdir(tmp);
}

/* objstore.h */

static enum pd_err
store(struct cat *c, const void *p, size_t n, const unsigned char *sha)
{
	struct cat_objw *w = NULL;
	enum pd_err rc;

	if ((rc = cat_objw_new(c, &w, NULL)) != PD_OK)
		return rc;
	if ((rc = cat_objw_write(w, p, n / 2, NULL)) != PD_OK ||
	    (rc = cat_objw_write(w, (const char *)p + n / 2, n - n / 2,
	    NULL)) != PD_OK) {
		cat_objw_abort(w);
		return rc;
	}
	return cat_objw_finish(w, sha, NULL);
}

/* The whole content of object sha, compared with want. */
static bool
obj_is(struct cat *c, const unsigned char *sha, const void *want, size_t n)
{
	char got[256];
	ssize_t r;
	int fd;

	if (cat_obj_open(c, sha, &fd, NULL) != PD_OK)
		return false;
	r = pd_read_full(fd, got, sizeof(got));
	close(fd);
	return r == (ssize_t)n && memcmp(got, want, n) == 0;
}

static void
test_objstore(void)
{
	static const char body[] = "the content of an object";
	unsigned char sha[PD_SHA256_LEN], none[PD_SHA256_LEN];
	char hex[PD_SHA256_HEX], rel[CAT_OBJ_PATH_LEN], path[4096];
	char tmpdir[4096], sub[4096], objdir[4096], pre[3] = "";
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_objw *w = NULL;
	struct cat_txn *tx;
	struct pd_error e;
	struct stat st;
	int fd;

	CU_ASSERT_EQUAL_FATAL(pd_sha256(body, strlen(body), sha), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pd_sha256("none", 4, none), PD_OK);
	pd_hex_encode(sha, sizeof(sha), hex);
	cat_obj_path(sha, rel);
	CU_ASSERT_EQUAL(strlen(rel), CAT_OBJ_PATH_LEN - 1);
	CU_ASSERT(rel[0] == hex[0] && rel[1] == hex[1] && rel[2] == '/');
	CU_ASSERT_STRING_EQUAL(rel + 3, hex + 2);
	unit_pjoin(tmpdir, sizeof(tmpdir), data, "objects/tmp");
	unit_pjoin(objdir, sizeof(objdir), data, "objects");
	unit_pjoin(path, sizeof(path), objdir, rel);
	memcpy(pre, hex, 2);
	unit_pjoin(sub, sizeof(sub), objdir, pre);

	CU_ASSERT_EQUAL(store(c, body, strlen(body), sha), PD_OK);
	CU_ASSERT(obj_is(c, sha, body, strlen(body)));
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(count_entries(tmpdir), 0);
	CU_ASSERT_EQUAL(cat_obj_sync(c, NULL), PD_OK);

	/* Twice: still one file, with the content. */
	CU_ASSERT_EQUAL(store(c, body, strlen(body), sha), PD_OK);
	CU_ASSERT_EQUAL(count_entries(sub), 1);
	CU_ASSERT_EQUAL(count_entries(tmpdir), 0);
	CU_ASSERT(obj_is(c, sha, body, strlen(body)));

	/* A torn leftover that is not indexed is replaced. */
	fd = open(path, O_WRONLY | O_TRUNC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, "torn", 4), 4);
	close(fd);
	CU_ASSERT_FALSE(obj_is(c, sha, body, strlen(body)));
	CU_ASSERT_EQUAL(store(c, body, strlen(body), sha), PD_OK);
	CU_ASSERT(obj_is(c, sha, body, strlen(body)));
	CU_ASSERT_EQUAL(count_entries(sub), 1);

	/* An indexed object is durable and kept, whatever is offered. */
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_object_put(tx, sha, strlen(body), NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_commit(tx, NULL), PD_OK);
	CU_ASSERT_EQUAL(store(c, "bogus", 5, sha), PD_OK);
	CU_ASSERT(obj_is(c, sha, body, strlen(body)));
	CU_ASSERT_EQUAL(count_entries(tmpdir), 0);
	CU_ASSERT_EQUAL(count_entries(sub), 1);

	/* Abort leaves no temp file. */
	CU_ASSERT_EQUAL_FATAL(cat_objw_new(c, &w, NULL), PD_OK);
	CU_ASSERT_EQUAL(count_entries(tmpdir), 1);
	CU_ASSERT_EQUAL(cat_objw_write(w, "abc", 3, NULL), PD_OK);
	cat_objw_abort(w);
	cat_objw_abort(NULL);
	CU_ASSERT_EQUAL(count_entries(tmpdir), 0);

	pd_error_clear(&e);
	fd = -1;
	CU_ASSERT_EQUAL(cat_obj_open(c, none, &fd, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(fd, -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, data));
	CU_ASSERT_EQUAL(cat_obj_sync(c, NULL), PD_OK);
	cat_close(c);
	unit_rmdir(tmp);
}

/* A pid that no process has: above the kernel's limit if possible. */
static long
dead_pid(void)
{
	long pid = 4194304;
	FILE *f;

	if ((f = fopen("/proc/sys/kernel/pid_max", "r")) != NULL) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 4194304;
		fclose(f);
	}
	for (; pid > 1; pid--)
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			return pid;
	return -1;
}

static void
test_stale_tmp(void)
{
	char *tmp, data[4096], tmpdir[4096], dead[64], mine[64];
	char path[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_objw *w;
	struct stat st;
	long pid = dead_pid();

	CU_ASSERT_FATAL(pid > 1);
	cat_close(c);
	c = NULL;
	unit_pjoin(tmpdir, sizeof(tmpdir), data, "objects/tmp");
	snprintf(dead, sizeof(dead), "%ld.3", pid);
	snprintf(mine, sizeof(mine), "%ld.9", (long)getpid());
	unit_write(tmpdir, dead, "crash", 5);
	unit_write(tmpdir, mine, "live", 4);
	unit_write(tmpdir, "notapid", "?", 1);
	CU_ASSERT_EQUAL(count_entries(tmpdir), 3);

	/* Opening reads no directory; the first writer sweeps, once. */
	CU_ASSERT_EQUAL_FATAL(cat_open(data, 0, &c, NULL), PD_OK);
	unit_pjoin(path, sizeof(path), tmpdir, dead);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL_FATAL(cat_objw_new(c, &w, NULL), PD_OK);
	cat_objw_abort(w);
	CU_ASSERT_EQUAL(stat(path, &st), -1);
	unit_write(tmpdir, dead, "crash", 5);
	CU_ASSERT_EQUAL_FATAL(cat_objw_new(c, &w, NULL), PD_OK);
	cat_objw_abort(w);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(unlink(path), 0);
	unit_pjoin(path, sizeof(path), tmpdir, mine);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	unit_pjoin(path, sizeof(path), tmpdir, "notapid");
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	cat_close(c);

	/* Read-only opens leave the store alone. */
	unit_write(tmpdir, dead, "crash", 5);
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_RDONLY, &c, NULL), PD_OK);
	unit_pjoin(path, sizeof(path), tmpdir, dead);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	cat_close(c);
	unit_rmdir(tmp);
}

static int
suite_catalog(void)
{
	static const struct unit_test tests[] = {
		{ "open and create", test_open },
		{ "schema refused", test_schema },
		{ "schema 1 migrated", test_migrate },
		{ "trees", test_trees },
		{ "versions", test_versions },
		{ "manifests", test_manifests },
		{ "manifest files of no version swept", test_manifest_sweep },
		{ "object index", test_objects_index },
		{ "deltas and compressed objects", test_derived },
		{ "stat cache", test_statcache },
		{ "aborted transaction", test_abort },
		{ "second process", test_other_process },
		{ "tree locks", test_lock },
		{ "object store", test_objstore },
		{ "stale temp files", test_stale_tmp },
	};

	return UNIT_SUITE("catalog", NULL, NULL, tests);
}
UNIT_REGISTER("catalog", suite_catalog)
