/*
 * Unit tests of catalog/content.c, the content index: where a mirror
 * holds content in the files of its published versions.  Records (index,
 * forget, get, has), opening content through them (the object store
 * first; a published file only if it is intact, never through a
 * symbolic link), and the upgrade of a schema 2 catalog, which indexes
 * the versions it finds on disk.
 *
 * Manifests are signed with a key made for the suite, so that the
 * migration, which parses the catalog's manifests, reads real ones.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../catalog/catalog.h"
#include "../../catalog/objstore.h"
#include "../../common/fsx.h"
#include "../../common/mem.h"
#include "../../common/sha256.h"
#include "../../protocol/manifest.h"
#include "unit.h"

#define T0	1700000000

static struct pr_key *key;

/* One manifest entry: 'f' (data is the content), 'd' or 'l' (target). */
struct ent {
	const char	*path;
	char		 type;
	const char	*data;
};

/* Version 1 of tree t: "dup" has a.txt's content. */
static const struct ent v1[] = {
	{ "a.txt", 'f', "alpha\n" },
	{ "d", 'd', NULL },
	{ "d/b.txt", 'f', "bravo, only in version 1\n" },
	{ "dup", 'f', "alpha\n" },
	{ "empty", 'f', "" },
	{ "ln", 'l', "a.txt" },
};

/* Version 2: a.txt stays, b.txt goes, c.txt is new. */
static const struct ent v2[] = {
	{ "a.txt", 'f', "alpha\n" },
	{ "c.txt", 'f', "charlie, new in version 2\n" },
	{ "d", 'd', NULL },
};

/* Tree u, version 5: shares c.txt's content under another name. */
static const struct ent u5[] = {
	{ "other", 'f', "charlie, new in version 2\n" },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static int
init_suite(void)
{
	return pr_key_generate(&key, NULL) == PD_OK ? 0 : -1;
}

static int
clean_suite(void)
{
	pr_key_free(key);
	key = NULL;
	return 0;
}

static void
sha_of(const char *data, unsigned char *sha)
{
	CU_ASSERT_EQUAL_FATAL(pd_sha256(data, strlen(data), sha), PD_OK);
}

/* A signed manifest of ents; *signedm gets its bytes if not NULL. */
static struct pr_manifest *
manifest(const char *tree, uint64_t version, const struct ent *ents,
    size_t n, struct pd_buf *signedm)
{
	struct pr_manifest *m = pr_manifest_new();
	struct pd_buf b;
	struct pr_entry e;
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	snprintf(m->tree, sizeof(m->tree), "%s", tree);
	m->version = version;
	m->has_parent = version > 1;
	m->created = T0;
	m->root_mode = 0755;
	m->root_mtime.sec = T0;
	CU_ASSERT_EQUAL_FATAL(pr_key_id(key, m->keyid, NULL), PD_OK);
	for (i = 0; i < n; i++) {
		memset(&e, 0, sizeof(e));
		e.path = ents[i].path;
		e.path_len = (uint32_t)strlen(ents[i].path);
		e.type = (enum pr_type)ents[i].type;
		e.mode = e.type == PR_LINK ? 0777 : 0644;
		e.mtime.sec = T0;
		if (e.type == PR_FILE) {
			e.size = strlen(ents[i].data);
			sha_of(ents[i].data, e.sha);
		} else if (e.type == PR_LINK) {
			e.target = ents[i].data;
			e.target_len = (uint32_t)strlen(ents[i].data);
		}
		CU_ASSERT_EQUAL_FATAL(pr_manifest_add(m, &e), PD_OK);
	}
	pr_manifest_sort(m);
	pd_buf_init(&b, PR_MANIFEST_MAX);
	CU_ASSERT_EQUAL_FATAL(pr_manifest_sign(m, key, &b, NULL), PD_OK);
	if (signedm != NULL)
		*signedm = b;
	else
		pd_buf_free(&b);
	return m;
}

/* Write ents under DATA/versions/TREE/N as a pull would have built it. */
static void
publish_files(const char *data, const char *tree, uint64_t n,
    const struct ent *ents, size_t cnt)
{
	char dir[4096], path[4096];
	size_t i;

	snprintf(dir, sizeof(dir), "%s/versions/%s/%llu", data, tree,
	    (unsigned long long)n);
	CU_ASSERT_EQUAL_FATAL(pd_mkdirs(dir, 0755, NULL), PD_OK);
	for (i = 0; i < cnt; i++) {
		unit_pjoin(path, sizeof(path), dir, ents[i].path);
		if (ents[i].type == 'd') {
			CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
		} else if (ents[i].type == 'l') {
			CU_ASSERT_EQUAL_FATAL(symlink(ents[i].data, path), 0);
		} else
			unit_write(dir, ents[i].path, ents[i].data,
			    strlen(ents[i].data));
	}
}

static struct cat *
open_cat(const char *data)
{
	struct cat *c = NULL;

	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_CREATE, &c, NULL), PD_OK);
	return c;
}

/*
 * Make m version n and head of tree, stepping from prev, in a
 * transaction of its own, as a pull does.
 */
static void
index_version(struct cat *c, const char *tree, uint64_t n,
    const struct pr_manifest *prev, const struct pr_manifest *m)
{
	struct cat_cstep *step = NULL;
	struct cat_tree tr;
	struct cat_txn *t;

	if (prev != NULL)
		CU_ASSERT_EQUAL_FATAL(cat_content_plan(prev, m, &step, NULL),
		    PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	if (cat_tree_get(t, tree, &tr, NULL) != PD_OK) {
		memset(&tr, 0, sizeof(tr));
		snprintf(tr.name, sizeof(tr.name), "%s", tree);
	}
	tr.head = n;
	CU_ASSERT_EQUAL(cat_tree_put(t, &tr, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_content_index(t, tree, n, step, m, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	cat_content_plan_free(step);
}

static void
forget(struct cat *c, const char *tree, uint64_t through)
{
	struct cat_txn *t;

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_content_forget(t, tree, through, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
}

/* The record of data's content in tree: its version, 0 for none. */
static uint64_t
where_version(struct cat *c, const char *data, const char *tree,
    struct cat_where *w)
{
	unsigned char sha[PD_SHA256_LEN];
	struct cat_txn *t;
	enum pd_err rc;

	sha_of(data, sha);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &t, NULL), PD_OK);
	rc = cat_content_get(t, sha, tree, w, NULL);
	cat_abort(t);
	CU_ASSERT(rc == PD_OK || rc == PD_ERR_NOTFOUND);
	return rc == PD_OK ? w->version : 0;
}

static bool
known(struct cat *c, const char *data)
{
	unsigned char sha[PD_SHA256_LEN];

	sha_of(data, sha);
	return cat_content_known(c, sha);
}

static void
test_records(void)
{
	char *tmp = unit_tmpdir(), data[4096];
	struct pr_manifest *m1 = manifest("t", 1, v1, NELEM(v1), NULL);
	struct pr_manifest *m2 = manifest("t", 2, v2, NELEM(v2), NULL);
	struct pr_manifest *mu = manifest("u", 5, u5, NELEM(u5), NULL);
	unsigned char sha[PD_SHA256_LEN];
	struct cat_where w;
	struct cat_txn *t;
	struct pd_error e;
	struct cat *c;

	unit_pjoin(data, sizeof(data), tmp, "data");
	c = open_cat(data);
	CU_ASSERT_FALSE(known(c, "alpha\n"));
	index_version(c, "t", 1, NULL, m1);
	CU_ASSERT_EQUAL(where_version(c, "alpha\n", "t", &w), 1);
	CU_ASSERT_STRING_EQUAL(w.tree, "t");
	CU_ASSERT_EQUAL(w.size, 6);
	/* Either path with the content will do. */
	CU_ASSERT(strcmp(w.path, "a.txt") == 0 || strcmp(w.path, "dup") == 0);
	CU_ASSERT_EQUAL(w.path_len, strlen(w.path));
	CU_ASSERT_EQUAL(where_version(c, "bravo, only in version 1\n", "t",
	    &w), 1);
	CU_ASSERT_STRING_EQUAL(w.path, "d/b.txt");
	CU_ASSERT_EQUAL(where_version(c, "", "t", &w), 1);
	CU_ASSERT_EQUAL(w.size, 0);
	/* Links and directories hold no content. */
	CU_ASSERT_FALSE(known(c, "a.txt"));
	CU_ASSERT_TRUE(known(c, "alpha\n"));
	CU_ASSERT_EQUAL(where_version(c, "alpha\n", "u", &w), 0);

	/* The newest version that has a content is named. */
	index_version(c, "t", 2, m1, m2);
	index_version(c, "u", 5, NULL, mu);
	CU_ASSERT_EQUAL(where_version(c, "alpha\n", "t", &w), 2);
	CU_ASSERT_STRING_EQUAL(w.path, "a.txt");
	CU_ASSERT_EQUAL(where_version(c, "bravo, only in version 1\n", "t",
	    &w), 1);
	CU_ASSERT_EQUAL(where_version(c, "charlie, new in version 2\n", "t",
	    &w), 2);
	CU_ASSERT_EQUAL(where_version(c, "charlie, new in version 2\n", "u",
	    &w), 5);
	CU_ASSERT_STRING_EQUAL(w.path, "other");

	/* Retiring version 1 drops what only it had. */
	forget(c, "t", 1);
	CU_ASSERT_EQUAL(where_version(c, "bravo, only in version 1\n", "t",
	    &w), 0);
	CU_ASSERT_FALSE(known(c, "bravo, only in version 1\n"));
	CU_ASSERT_EQUAL(where_version(c, "alpha\n", "t", &w), 2);
	CU_ASSERT_EQUAL(where_version(c, "", "t", &w), 0);
	/* Retiring every version of t leaves u's records alone. */
	forget(c, "t", 2);
	CU_ASSERT_FALSE(known(c, "alpha\n"));
	CU_ASSERT_EQUAL(where_version(c, "charlie, new in version 2\n", "t",
	    &w), 0);
	CU_ASSERT_EQUAL(where_version(c, "charlie, new in version 2\n", "u",
	    &w), 5);
	CU_ASSERT_TRUE(known(c, "charlie, new in version 2\n"));
	/* A tree whose name is a prefix of another's is another tree. */
	forget(c, "", 99);
	CU_ASSERT_TRUE(known(c, "charlie, new in version 2\n"));

	/* An object in the store counts as held too. */
	sha_of("in the store", sha);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_FALSE(cat_content_has(t, sha));
	CU_ASSERT_EQUAL(cat_object_put(t, sha, 12, NULL), PD_OK);
	CU_ASSERT_TRUE(cat_content_has(t, sha));
	/* Bad arguments change nothing. */
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_content_index(t, "", 1, NULL, m1, &e),
	    PD_ERR_USAGE);
	CU_ASSERT_EQUAL(cat_content_index(t, "t", 0, NULL, m1, NULL),
	    PD_ERR_USAGE);
	CU_ASSERT_EQUAL(cat_content_get(t, sha, "", &w, NULL),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(cat_content_get(t, sha, "t", &w, NULL),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);

	/* Read-only transactions write nothing. */
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_content_index(t, "t", 3, NULL, m2, NULL),
	    PD_ERR_USAGE);
	CU_ASSERT_EQUAL(cat_content_forget(t, "u", 9, NULL), PD_ERR_USAGE);
	cat_abort(t);
	CU_ASSERT_EQUAL(where_version(c, "alpha\n", "t", &w), 0);
	CU_ASSERT_EQUAL(where_version(c, "charlie, new in version 2\n", "u",
	    &w), 5);

	/* An aborted transaction leaves no record. */
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_content_index(t, "t", 3, NULL, m2, NULL), PD_OK);
	cat_abort(t);
	CU_ASSERT_FALSE(known(c, "alpha\n"));
	cat_close(c);
	pr_manifest_free(m1);
	pr_manifest_free(m2);
	pr_manifest_free(mu);
	unit_rmdir(tmp);
}

/* Open data's content; on success check the bytes and close. */
static enum pd_err
open_content(struct cat *c, const char *data, unsigned flags,
    struct pd_error *e)
{
	unsigned char sha[PD_SHA256_LEN];
	char buf[256];
	uint64_t size = 99;
	ssize_t n;
	enum pd_err rc;
	int fd = -2;

	sha_of(data, sha);
	pd_error_clear(e);
	rc = cat_content_open(c, sha, flags, &fd, &size, e);
	if (rc != PD_OK) {
		CU_ASSERT_EQUAL(fd, -1);
		return rc;
	}
	CU_ASSERT_EQUAL(size, strlen(data));
	n = pd_read_full(fd, buf, sizeof(buf));
	CU_ASSERT(n >= 0 && (size_t)n == strlen(data) &&
	    memcmp(buf, data, (size_t)n) == 0);
	close(fd);
	return rc;
}

static void
test_open(void)
{
	char *tmp = unit_tmpdir(), data[4096], path[4096], dir[4096];
	struct pr_manifest *m1 = manifest("t", 1, v1, NELEM(v1), NULL);
	struct pr_manifest *m2 = manifest("t", 2, v2, NELEM(v2), NULL);
	struct pr_manifest *mu = manifest("u", 5, u5, NELEM(u5), NULL);
	const char *charlie = "charlie, new in version 2\n";
	unsigned char sha[PD_SHA256_LEN];
	struct cat_objw *ow;
	struct cat_txn *t;
	struct pd_error e;
	struct cat *c;

	unit_pjoin(data, sizeof(data), tmp, "data");
	c = open_cat(data);
	publish_files(data, "t", 1, v1, NELEM(v1));
	publish_files(data, "t", 2, v2, NELEM(v2));
	publish_files(data, "u", 5, u5, NELEM(u5));
	CU_ASSERT_EQUAL(open_content(c, "alpha\n", 0, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "not held"));
	index_version(c, "t", 1, NULL, m1);
	index_version(c, "t", 2, m1, m2);
	index_version(c, "u", 5, NULL, mu);
	CU_ASSERT_EQUAL(open_content(c, "alpha\n", 0, &e), PD_OK);
	CU_ASSERT_EQUAL(open_content(c, "alpha\n", CAT_VERIFY, &e), PD_OK);
	CU_ASSERT_EQUAL(open_content(c, "", 0, &e), PD_OK);
	CU_ASSERT_EQUAL(open_content(c, "bravo, only in version 1\n", 0, &e),
	    PD_OK);

	/* The same size, other bytes: found unless asked to verify. */
	unit_pjoin(dir, sizeof(dir), data, "versions/t/2");
	unit_write(dir, "a.txt", "ALPHA\n", 6);
	CU_ASSERT_EQUAL(open_content(c, "alpha\n", CAT_VERIFY, &e),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "versions/t/2/a.txt"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "SHA-256"));
	/* Another size: never. */
	unit_write(dir, "a.txt", "alpha, longer\n", 14);
	CU_ASSERT_EQUAL(open_content(c, "alpha\n", 0, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "versions/t/2/a.txt"));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "14 bytes"));
	/* A symbolic link in its place is not followed... */
	unit_pjoin(path, sizeof(path), dir, "a.txt");
	CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
	CU_ASSERT_EQUAL_FATAL(symlink("../1/a.txt", path), 0);
	CU_ASSERT_EQUAL(open_content(c, "alpha\n", 0, &e), PD_ERR_NOTFOUND);
	/* ...nor is one in place of a directory on the way. */
	unit_pjoin(dir, sizeof(dir), data, "versions/t/1");
	unit_pjoin(path, sizeof(path), dir, "d");
	CU_ASSERT_EQUAL_FATAL(pd_remove_tree_at(AT_FDCWD, path, NULL), PD_OK);
	publish_files(data, "elsewhere", 1, v1 + 1, 2);
	unit_pjoin(dir, sizeof(dir), data, "versions/elsewhere/1/d");
	CU_ASSERT_EQUAL_FATAL(symlink(dir, path), 0);
	CU_ASSERT_EQUAL(open_content(c, "bravo, only in version 1\n", 0, &e),
	    PD_ERR_NOTFOUND);
	/* Nor a directory, nor a fifo. */
	unit_pjoin(dir, sizeof(dir), data, "versions/t/2");
	unit_pjoin(path, sizeof(path), dir, "c.txt");
	CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
	CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0644), 0);
	/* Content u also holds is found there instead. */
	CU_ASSERT_EQUAL(open_content(c, charlie, CAT_VERIFY, &e), PD_OK);
	unit_pjoin(dir, sizeof(dir), data, "versions/u/5");
	unit_pjoin(path, sizeof(path), dir, "other");
	CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
	CU_ASSERT_EQUAL(open_content(c, charlie, 0, &e), PD_ERR_NOTFOUND);
	/* A version directory gone: not held. */
	unit_pjoin(dir, sizeof(dir), data, "versions/t");
	CU_ASSERT_EQUAL_FATAL(pd_remove_tree_at(AT_FDCWD, dir, NULL), PD_OK);
	CU_ASSERT_EQUAL(open_content(c, "", 0, &e), PD_ERR_NOTFOUND);

	/* The object store comes first. */
	sha_of("alpha\n", sha);
	CU_ASSERT_EQUAL_FATAL(cat_objw_new(c, &ow, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_objw_write(ow, "alpha\n", 6, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_objw_finish(ow, sha, NULL), PD_OK);
	CU_ASSERT_EQUAL(open_content(c, "alpha\n", 0, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_object_put(t, sha, 6, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	CU_ASSERT_EQUAL(open_content(c, "alpha\n", CAT_VERIFY, &e), PD_OK);
	cat_close(c);
	pr_manifest_free(m1);
	pr_manifest_free(m2);
	pr_manifest_free(mu);
	unit_rmdir(tmp);
}

/* Record version n of tree t with its signed manifest. */
static void
record_version(struct cat *c, struct cat_tree *tree, uint64_t n,
    const struct ent *ents, size_t cnt)
{
	struct cat_version v = { 0 };
	struct pr_manifest *m;
	struct cat_txn *t;
	struct pd_buf b;

	m = manifest(tree->name, n, ents, cnt, &b);
	v.number = n;
	memcpy(v.manifest_id, m->id, PD_SHA256_LEN);
	tree->head = n;
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_put(t, tree, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_save(c, m->id, b.data, b.len, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(cat_manifest_put(t, m->id, b.len, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_version_put(t, tree->name, &v, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	pd_buf_free(&b);
	pr_manifest_free(m);
}

/* LMDB by hand: drop the content database, say schema 2. */
static int
make_schema2(const char *data)
{
	MDB_val k = { 6, "schema" }, v = { 1, "2" };
	char path[4096];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	unit_pjoin(path, sizeof(path), data, "catalog");
	if ((rc = mdb_env_create(&env)) != 0)
		return rc;
	if ((rc = mdb_env_set_maxdbs(env, 16)) != 0 ||
	    (rc = mdb_env_open(env, path, 0, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		mdb_env_close(env);
		return rc;
	}
	if ((rc = mdb_dbi_open(txn, "content", 0, &dbi)) != 0 ||
	    (rc = mdb_drop(txn, dbi, 1)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", 0, &dbi)) != 0 ||
	    (rc = mdb_put(txn, dbi, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		mdb_env_close(env);
		return rc;
	}
	rc = mdb_txn_commit(txn);
	mdb_env_close(env);
	return rc;
}

/*
 * LMDB by hand: the kind of data's record in tree (its first byte), set
 * to kind first unless 0; with schema, the catalog says that schema.
 * Returns the kind, -1 for no record.
 */
static int
raw_kind(const char *dir, const char *data, const char *tree, int kind,
    const char *schema)
{
	unsigned char rkey[PD_SHA256_LEN + 64], val[256];
	char path[4096];
	MDB_val k = { PD_SHA256_LEN + strlen(tree), rkey }, v, sv;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi, meta;
	int rc, got = -1;

	sha_of(data, rkey);
	memcpy(rkey + PD_SHA256_LEN, tree, strlen(tree));
	unit_pjoin(path, sizeof(path), dir, "catalog");
	if (mdb_env_create(&env) != 0)
		return -2;
	if (mdb_env_set_maxdbs(env, 16) != 0 ||
	    mdb_env_open(env, path, 0, 0600) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0) {
		mdb_env_close(env);
		return -2;
	}
	rc = mdb_dbi_open(txn, "content", 0, &dbi);
	if (rc == 0 && (rc = mdb_get(txn, dbi, &k, &v)) == 0 &&
	    v.mv_size <= sizeof(val)) {
		memcpy(val, v.mv_data, v.mv_size);
		v.mv_data = val;
		if (kind != 0) {
			val[0] = (unsigned char)kind;
			rc = mdb_put(txn, dbi, &k, &v, 0);
		}
		got = val[0];
	}
	if (schema != NULL && (rc == 0 || rc == MDB_NOTFOUND)) {
		sv.mv_size = strlen(schema);
		sv.mv_data = (void *)schema;
		k.mv_size = 6;
		k.mv_data = "schema";
		if ((rc = mdb_dbi_open(txn, "meta", 0, &meta)) == 0)
			rc = mdb_put(txn, meta, &k, &sv, 0);
	}
	if ((rc == 0 || rc == MDB_NOTFOUND) && mdb_txn_commit(txn) == 0)
		rc = 0;
	else {
		mdb_txn_abort(txn);
		got = -2;
	}
	mdb_env_close(env);
	return got;
}

/* A schema 5 catalog names its head's version; opened, its head. */
static void
test_upgrade6(void)
{
	char *tmp = unit_tmpdir(), data[4096];
	struct pr_manifest *m1 = manifest("t", 1, v1, NELEM(v1), NULL);
	struct pr_manifest *m2 = manifest("t", 2, v2, NELEM(v2), NULL);
	struct cat_where w;
	struct cat *c;

	unit_pjoin(data, sizeof(data), tmp, "data");
	c = open_cat(data);
	index_version(c, "t", 1, NULL, m1);
	cat_close(c);
	CU_ASSERT_EQUAL(raw_kind(data, "alpha\n", "t", 0, NULL), 2);
	/* As schema 5 wrote it: version 1, named. */
	CU_ASSERT_EQUAL(raw_kind(data, "alpha\n", "t", 1, "5"), 1);
	CU_ASSERT_EQUAL(raw_kind(data, "bravo, only in version 1\n", "t", 1,
	    NULL), 1);
	c = open_cat(data);
	cat_close(c);
	CU_ASSERT_EQUAL(raw_kind(data, "alpha\n", "t", 0, NULL), 2);
	CU_ASSERT_EQUAL(raw_kind(data, "bravo, only in version 1\n", "t", 0,
	    NULL), 2);
	/* And steps on from there: what stays is named at the new head,
	 * what left at the old one. */
	c = open_cat(data);
	index_version(c, "t", 2, m1, m2);
	CU_ASSERT_EQUAL(where_version(c, "alpha\n", "t", &w), 2);
	CU_ASSERT_EQUAL(where_version(c, "bravo, only in version 1\n", "t",
	    &w), 1);
	forget(c, "t", 1);
	CU_ASSERT_EQUAL(where_version(c, "alpha\n", "t", &w), 2);
	CU_ASSERT_FALSE(known(c, "bravo, only in version 1\n"));
	cat_close(c);
	pr_manifest_free(m1);
	pr_manifest_free(m2);
	unit_rmdir(tmp);
}

static void
test_migrate(void)
{
	char *tmp = unit_tmpdir(), data[4096];
	const char *charlie = "charlie, new in version 2\n";
	struct cat_tree tree;
	struct cat_where w;
	struct cat *c;

	unit_pjoin(data, sizeof(data), tmp, "data");
	c = open_cat(data);
	memset(&tree, 0, sizeof(tree));
	snprintf(tree.name, sizeof(tree.name), "t");
	/* Version 1 retired (not on disk), 2 and 3 held. */
	record_version(c, &tree, 1, u5, NELEM(u5));
	record_version(c, &tree, 2, v1, NELEM(v1));
	record_version(c, &tree, 3, v2, NELEM(v2));
	publish_files(data, "t", 2, v1, NELEM(v1));
	publish_files(data, "t", 3, v2, NELEM(v2));
	/* An origin's tree: versions recorded, none on disk. */
	memset(&tree, 0, sizeof(tree));
	snprintf(tree.name, sizeof(tree.name), "origin");
	record_version(c, &tree, 1, v1, NELEM(v1));
	cat_close(c);
	CU_ASSERT_EQUAL_FATAL(make_schema2(data), 0);

	/* Read-only, an older catalog has no index and holds nothing. */
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_RDONLY, &c, NULL), PD_OK);
	CU_ASSERT_FALSE(known(c, "alpha\n"));
	CU_ASSERT_EQUAL(where_version(c, "alpha\n", "t", &w), 0);
	cat_close(c);

	/* For writing: every version on disk is indexed, newest wins. */
	c = open_cat(data);
	CU_ASSERT_EQUAL(where_version(c, "alpha\n", "t", &w), 3);
	CU_ASSERT_EQUAL(where_version(c, "bravo, only in version 1\n", "t",
	    &w), 2);
	CU_ASSERT_STRING_EQUAL(w.path, "d/b.txt");
	CU_ASSERT_EQUAL(where_version(c, charlie, "t", &w), 3);
	CU_ASSERT_EQUAL(where_version(c, "alpha\n", "origin", &w), 0);
	cat_close(c);
	/* And the catalog says so, for read-only users too. */
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_RDONLY, &c, NULL), PD_OK);
	CU_ASSERT_EQUAL(where_version(c, "alpha\n", "t", &w), 3);
	CU_ASSERT_TRUE(known(c, charlie));
	cat_close(c);
	unit_rmdir(tmp);
}

/* Files "f00000".."f{n-1}" whose content is "{tag} {i}\n". */
static struct pr_manifest *
many(const char *tree, const char *tag, size_t n)
{
	struct pr_manifest *m = pr_manifest_new();
	char path[32], data[64];
	struct pr_entry e;
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	snprintf(m->tree, sizeof(m->tree), "%s", tree);
	m->version = 1;
	for (i = 0; i < n; i++) {
		memset(&e, 0, sizeof(e));
		snprintf(path, sizeof(path), "f%05zu", i);
		snprintf(data, sizeof(data), "%s %zu\n", tag, i);
		e.path = path;
		e.path_len = (uint32_t)strlen(path);
		e.type = PR_FILE;
		e.mode = 0644;
		e.size = strlen(data);
		sha_of(data, e.sha);
		CU_ASSERT_EQUAL_FATAL(pr_manifest_add(m, &e), PD_OK);
	}
	return m;
}

/* What the transaction recording a first version does: head = n. */
static void
set_head(struct cat *c, const char *tree, uint64_t n)
{
	struct cat_tree tr;
	struct cat_txn *t;

	memset(&tr, 0, sizeof(tr));
	snprintf(tr.name, sizeof(tr.name), "%s", tree);
	tr.head = n;
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_put(t, &tr, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
}

/* Content "{tag} {i}\n" found in tree at version 1, path f{i}. */
static bool
at_head(struct cat *c, const char *tree, const char *tag, size_t i)
{
	char data[64], path[32];
	struct cat_where w;

	snprintf(data, sizeof(data), "%s %zu\n", tag, i);
	snprintf(path, sizeof(path), "f%05zu", i);
	return where_version(c, data, tree, &w) == 1 &&
	    strcmp(w.path, path) == 0 && w.size == strlen(data);
}

/*
 * A first version's records written ahead of the version, in several
 * transactions: nothing until the tree has its head, all of them then;
 * an attempt that never committed leaves nothing the next one keeps.
 */
static void
test_prefill(void)
{
	enum { N = 20000 };	/* over two of prefill's transactions */
	char *tmp = unit_tmpdir(), data[4096], s[64];
	struct pr_manifest *a = many("p", "attempt", 50);
	struct pr_manifest *b = many("p", "kept", N);
	struct pr_manifest *mu = manifest("u", 5, u5, NELEM(u5), NULL);
	struct cat_where w;
	struct pd_error e;
	struct cat *c;
	size_t i;

	unit_pjoin(data, sizeof(data), tmp, "data");
	c = open_cat(data);
	index_version(c, "u", 5, NULL, mu);
	/* A first attempt, cut short before its version was recorded. */
	CU_ASSERT_EQUAL(cat_content_prefill(c, "p", 1, a, NULL), PD_OK);
	CU_ASSERT_FALSE(known(c, "attempt 7\n"));
	CU_ASSERT_EQUAL(where_version(c, "attempt 7\n", "p", &w), 0);
	/* The next. */
	CU_ASSERT_EQUAL(cat_content_prefill(c, "p", 1, b, NULL), PD_OK);
	CU_ASSERT_FALSE(known(c, "kept 0\n"));
	CU_ASSERT_FALSE(at_head(c, "p", "kept", 0));
	set_head(c, "p", 1);
	for (i = 0; i < N; i++)
		if (!at_head(c, "p", "kept", i))
			break;
	CU_ASSERT_EQUAL(i, (size_t)N);
	CU_ASSERT_TRUE(known(c, "kept 12345\n"));
	for (i = 0; i < 50; i++) {
		snprintf(s, sizeof(s), "attempt %zu\n", i);
		if (known(c, s))
			break;
	}
	CU_ASSERT_EQUAL(i, 50);
	/* Another tree's records are its own. */
	CU_ASSERT_EQUAL(where_version(c, "charlie, new in version 2\n", "u",
	    &w), 5);
	/* A tree with a head is stepped in its commit, never prefilled. */
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_content_prefill(c, "p", 2, a, &e),
	    PD_ERR_CONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "tree p has a head"));
	CU_ASSERT_TRUE(at_head(c, "p", "kept", N - 1));
	CU_ASSERT_EQUAL(cat_content_prefill(c, "", 1, a, NULL),
	    PD_ERR_USAGE);
	CU_ASSERT_EQUAL(cat_content_prefill(c, "q", 0, a, NULL),
	    PD_ERR_USAGE);
	cat_close(c);
	pr_manifest_free(a);
	pr_manifest_free(b);
	pr_manifest_free(mu);
	unit_rmdir(tmp);
}

static int
suite_content(void)
{
	static const struct unit_test tests[] = {
		{ "index, get, forget", test_records },
		{ "open intact published files only", test_open },
		{ "schema 2 migrated", test_migrate },
		{ "schema 5 upgraded", test_upgrade6 },
		{ "a first version prefilled", test_prefill },
	};

	return UNIT_SUITE("catalog content index", init_suite, clean_suite,
	    tests);
}

UNIT_REGISTER("catalog content index", suite_content)
