/*
 * Writing the content index (catalog.h; records in content.c): a new
 * version, retired versions, and the upgrades of older catalogs.
 *
 * DESIGN
 *
 * A record is one of two kinds.  "At" names a version and a path: the
 * content is in DATA/versions/TREE/N/PATH, and stays there until N is
 * retired.  "Head" names a path only: the content is at that path in the
 * tree's head, whatever version that is.  Every content of the head has
 * a head record, at one of its paths in the head; every other content of
 * a kept version an at record, naming the newest version that had it.
 *
 * So a new version rewrites only what its step changed.  Each file of
 * the old head whose path no longer has that content ("left") whose
 * record is the head record at that path gets another path of the new
 * head with the content, if there is one, else an at record naming the
 * old head.  Then every file whose content is new at its path
 * ("arrived") gets a head record.  Between two kernel releases that is
 * 2,000 records instead of 78,000: every rewritten record dirtied its
 * B-tree page, and the commit's dirty pages were 10 MB of a pull's peak
 * memory.
 */
#include <sys/stat.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/mem.h"
#include "../protocol/pathenc.h"
#include "internal.h"

static int
by_sha(const void *a, const void *b)
{
	const struct pr_entry *x = *(const struct pr_entry *const *)a;
	const struct pr_entry *y = *(const struct pr_entry *const *)b;

	return memcmp(x->sha, y->sha, PD_SHA256_LEN);
}

static int
sha_cmp(const void *key, const void *elem)
{
	const struct pr_entry *y = *(const struct pr_entry *const *)elem;

	return memcmp(key, y->sha, PD_SHA256_LEN);
}

/* The regular files of m, sorted by content, in a new array (pd_free). */
static enum pd_err
files_by_sha(const struct pr_manifest *m, const struct pr_entry ***out,
    size_t *n, struct pd_error *err)
{
	const struct pr_entry **files = NULL;
	size_t i;

	*n = 0;
	if (m->nentries > 0 && (files = pd_calloc(m->nentries,
	    sizeof(*files))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "indexing content");
	for (i = 0; i < m->nentries; i++)
		if (m->entries[i].type == PR_FILE)
			files[(*n)++] = &m->entries[i];
	if (*n > 0)
		qsort(files, *n, sizeof(*files), by_sha);
	*out = files;
	return PD_OK;
}

/* Write the record of e's content in tree: at version, or at the head. */
static enum pd_err
put(struct cat_txn *t, const char *tree, size_t tlen, unsigned char kind,
    uint64_t version, const struct pr_entry *e, struct pd_error *err)
{
	unsigned char key[CAT_WHERE_KEY_MAX], *p;
	MDB_val k, v;
	int rc;

	if (e->path_len == 0 || e->path_len > PR_PATH_MAX)
		return pd_fail(err, PD_ERR_USAGE, "indexing content: a path "
		    "of %" PRIu32 " bytes", e->path_len);
	cat_txn_touch(t);
	k.mv_data = key;
	k.mv_size = cat_content_key(e->sha, tree, tlen, key);
	v.mv_size = CAT_WHERE_HEAD + (size_t)e->path_len;
	v.mv_data = NULL;
	if ((rc = mdb_put(t->txn, t->cat->content, &k, &v, MDB_RESERVE)) != 0)
		return cat_dberr(t->cat, rc, err, "indexing content");
	p = v.mv_data;
	*p++ = kind;
	p = cat_be64_put(p, version);
	p = cat_be64_put(p, e->size);
	memcpy(p, e->path, e->path_len);
	return PD_OK;
}

/*
 * A step's changes to the index, worked out while both manifests are
 * held (a pull frees the old one before its commit): the files of the
 * old head whose path lost their content, copied, and the files of the
 * new head whose content is new at their path, by index in it.
 */
struct cat_cstep {
	uint64_t		 from;		/* the old head's version */
	struct pr_manifest	*left;
	size_t			*arrived;
	size_t			 narrived;
};

static bool
same_file(const struct pr_entry *a, const struct pr_entry *b)
{
	return a->type == PR_FILE && b->type == PR_FILE &&
	    memcmp(a->sha, b->sha, PD_SHA256_LEN) == 0;
}

static enum pd_err
add_arrived(struct cat_cstep *s, size_t j)
{
	size_t *a;

	if (s->narrived % 1024 == 0) {
		if ((a = pd_reallocarray(s->arrived, s->narrived + 1024,
		    sizeof(*a))) == NULL)
			return PD_ERR_NOMEM;
		s->arrived = a;
	}
	s->arrived[s->narrived++] = j;
	return PD_OK;
}

enum pd_err
cat_content_plan(const struct pr_manifest *prev, const struct pr_manifest *m,
    struct cat_cstep **out, struct pd_error *err)
{
	struct cat_cstep *s;
	size_t i = 0, j = 0;
	int c;
	enum pd_err rc = PD_OK;

	*out = NULL;
	if ((s = pd_calloc(1, sizeof(*s))) == NULL ||
	    (s->left = pr_manifest_new()) == NULL) {
		pd_free(s);
		return pd_fail(err, PD_ERR_NOMEM, "indexing content");
	}
	s->from = prev->version;
	while (rc == PD_OK && (i < prev->nentries || j < m->nentries)) {
		if (i == prev->nentries)
			c = 1;
		else if (j == m->nentries)
			c = -1;
		else
			c = pr_path_cmp(prev->entries[i].path,
			    prev->entries[i].path_len, m->entries[j].path,
			    m->entries[j].path_len);
		if (c <= 0 && prev->entries[i].type == PR_FILE &&
		    (c < 0 || !same_file(&prev->entries[i], &m->entries[j])))
			rc = pr_manifest_add(s->left, &prev->entries[i]);
		if (rc == PD_OK && c >= 0 && m->entries[j].type == PR_FILE &&
		    (c > 0 || !same_file(&prev->entries[i], &m->entries[j])))
			rc = add_arrived(s, j);
		i += c <= 0;
		j += c >= 0;
	}
	if (rc != PD_OK) {
		cat_content_plan_free(s);
		return pd_fail(err, rc, "indexing content");
	}
	*out = s;
	return PD_OK;
}

void
cat_content_plan_free(struct cat_cstep *s)
{
	if (s == NULL)
		return;
	pr_manifest_free(s->left);
	pd_free(s->arrived);
	pd_free(s);
}

/*
 * e (a file of the old head, version from) no longer has its content at
 * its path.  If its content's record is the head record at that path,
 * it moves to another path of the new head with the content (files, n),
 * or becomes an at record naming the old head.
 */
static enum pd_err
left(struct cat_txn *t, const char *tree, size_t tlen, uint64_t from,
    const struct pr_entry *e, const struct pr_entry **files, size_t n,
    uint64_t version, struct pd_error *err)
{
	unsigned char key[CAT_WHERE_KEY_MAX];
	const struct pr_entry *const *q;
	const unsigned char *p;
	MDB_val k, v;
	int rc;

	cat_txn_touch(t);
	k.mv_data = key;
	k.mv_size = cat_content_key(e->sha, tree, tlen, key);
	if ((rc = mdb_get(t->txn, t->cat->content, &k, &v)) == MDB_NOTFOUND)
		return PD_OK;
	if (rc != 0)
		return cat_dberr(t->cat, rc, err, "indexing content");
	p = v.mv_data;
	if (v.mv_size != CAT_WHERE_HEAD + (size_t)e->path_len ||
	    p[0] != CAT_WHERE_HEAD_V ||
	    memcmp(p + CAT_WHERE_HEAD, e->path, e->path_len) != 0)
		return PD_OK;
	if ((q = bsearch(e->sha, files, n, sizeof(*files), sha_cmp)) != NULL)
		return put(t, tree, tlen, CAT_WHERE_HEAD_V, version, *q, err);
	return put(t, tree, tlen, CAT_WHERE_AT_V, from, e, err);
}

/*
 * Drop tree's records: at records of versions up to through, head
 * records too if heads (the head's version at most through, or a head
 * no longer known), damaged ones always.
 */
static enum pd_err
drop(struct cat_txn *t, const char *tree, uint64_t through, bool heads,
    struct pd_error *err)
{
	size_t tlen = strlen(tree);
	const unsigned char *p;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t n;
	int rc;

	if ((rc = mdb_cursor_open(t->txn, t->cat->content, &cur)) != 0)
		return cat_dberr(t->cat, rc, err, "forgetting content");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		cat_txn_touch(t);
		if (k.mv_size != PD_SHA256_LEN + tlen ||
		    memcmp((const char *)k.mv_data + PD_SHA256_LEN, tree,
		    tlen) != 0)
			continue;
		p = v.mv_data;
		if (v.mv_size > CAT_WHERE_HEAD && p[0] == CAT_WHERE_HEAD_V &&
		    !heads)
			continue;
		if (v.mv_size > CAT_WHERE_HEAD && p[0] == CAT_WHERE_AT_V) {
			cat_be64_get(p + 1, &n);
			if (n > through)
				continue;
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return cat_dberr(t->cat, rc, err, "forgetting content");
	return PD_OK;
}

static enum pd_err
write_check(struct cat_txn *t, const char *what, struct pd_error *err)
{
	if (!t->write)
		return pd_fail(err, PD_ERR_USAGE, "%s: a read-only "
		    "transaction", what);
	if (!t->cat->has_content)
		return pd_fail(err, PD_ERR_USAGE, "%s: no content index",
		    what);
	return PD_OK;
}

enum pd_err
cat_content_index(struct cat_txn *t, const char *tree, uint64_t version,
    const struct cat_cstep *step, const struct pr_manifest *m,
    struct pd_error *err)
{
	const struct pr_entry **files = NULL;
	size_t tlen = strlen(tree), i, n = 0;
	enum pd_err rc;

	if ((rc = write_check(t, "indexing content", err)) != PD_OK)
		return rc;
	if (pr_tree_name_check(tree) != NULL || version == 0 ||
	    (step != NULL && step->from >= version))
		return pd_fail(err, PD_ERR_USAGE, "indexing content: bad tree "
		    "%s or version", tree);
	/* By content: a first version records them all, a step looks its
	 * lefts up in them; a step with no lefts needs no sort. */
	if ((step == NULL || step->left->nentries > 0) &&
	    (rc = files_by_sha(m, &files, &n, err)) != PD_OK)
		return rc;
	if (step != NULL) {
		/* Lefts first: an arrival of the same content wins. */
		for (i = 0; i < step->left->nentries && rc == PD_OK; i++)
			rc = left(t, tree, tlen, step->from,
			    &step->left->entries[i], files, n, version, err);
		for (i = 0; i < step->narrived && rc == PD_OK; i++)
			rc = step->arrived[i] < m->nentries ?
			    put(t, tree, tlen, CAT_WHERE_HEAD_V, version,
			    &m->entries[step->arrived[i]], err) :
			    pd_fail(err, PD_ERR_USAGE, "indexing content: a "
			    "step planned for another manifest");
		goto out;
	}
	/* No old head to step from: head records of one no longer known
	 * would name paths of the new one. */
	if ((rc = drop(t, tree, 0, true, err)) != PD_OK)
		goto out;
	/* In key order, each content once: the B-tree's pages are then
	 * written in turn rather than at random, several times faster on
	 * a tree of many files. */
	for (i = 0; i < n && rc == PD_OK; i++)
		if (i == 0 || memcmp(files[i]->sha, files[i - 1]->sha,
		    PD_SHA256_LEN) != 0)
			rc = put(t, tree, tlen, CAT_WHERE_HEAD_V, version,
			    files[i], err);
out:
	pd_free(files);
	return rc;
}

/* Records written in one transaction of cat_content_prefill. */
#define PREFILL_TXN	8192

/* Begin a write transaction in which tree has no head. */
static enum pd_err
begin_headless(struct cat *c, const char *tree, struct cat_txn **t,
    struct pd_error *err)
{
	struct cat_tree tr;
	enum pd_err rc;

	if ((rc = cat_begin(c, true, t, err)) != PD_OK)
		return rc;
	if ((rc = write_check(*t, "indexing content", err)) != PD_OK)
		goto fail;
	rc = cat_tree_get(*t, tree, &tr, NULL);
	if (rc == PD_OK && tr.head != 0)
		rc = pd_fail(err, PD_ERR_CONFLICT, "indexing content: tree %s "
		    "has a head, version %" PRIu64, tree, tr.head);
	else if (rc == PD_OK || rc == PD_ERR_NOTFOUND)
		return PD_OK;
	else
		rc = pd_fail(err, rc, "indexing content: reading tree %s",
		    tree);
fail:
	cat_abort(*t);
	*t = NULL;
	return rc;
}

enum pd_err
cat_content_prefill(struct cat *c, const char *tree, uint64_t version,
    const struct pr_manifest *m, struct pd_error *err)
{
	const struct pr_entry **files = NULL;
	size_t tlen = strlen(tree), i, n = 0, inbatch = 0;
	struct cat_txn *t = NULL;
	enum pd_err rc;

	if (pr_tree_name_check(tree) != NULL || version == 0)
		return pd_fail(err, PD_ERR_USAGE, "indexing content: bad tree "
		    "%s or version", tree);
	if ((rc = files_by_sha(m, &files, &n, err)) != PD_OK)
		return rc;
	/* Head records of an attempt that never committed go first. */
	if ((rc = begin_headless(c, tree, &t, err)) != PD_OK ||
	    (rc = drop(t, tree, 0, true, err)) != PD_OK)
		goto out;
	for (i = 0; i < n && rc == PD_OK; i++) {
		if (i > 0 && memcmp(files[i]->sha, files[i - 1]->sha,
		    PD_SHA256_LEN) == 0)
			continue;
		if (inbatch == PREFILL_TXN) {
			rc = cat_commit(t, err);
			t = NULL;
			if (rc != PD_OK || (rc = begin_headless(c, tree, &t,
			    err)) != PD_OK)
				goto out;
			inbatch = 0;
		}
		rc = put(t, tree, tlen, CAT_WHERE_HEAD_V, version, files[i],
		    err);
		inbatch++;
	}
	if (rc == PD_OK) {
		rc = cat_commit(t, err);
		t = NULL;
	}
out:
	cat_abort(t);
	pd_free(files);
	return rc;
}

enum pd_err
cat_content_forget(struct cat_txn *t, const char *tree, uint64_t through,
    struct pd_error *err)
{
	struct cat_tree tr;
	enum pd_err rc;

	if ((rc = write_check(t, "forgetting content", err)) != PD_OK)
		return rc;
	if ((rc = cat_tree_get(t, tree, &tr, err)) == PD_ERR_NOTFOUND)
		tr.head = 0;
	else if (rc != PD_OK)
		return rc;
	return drop(t, tree, through, tr.head <= through, err);
}

/* Index version v of tree as at records, from its manifest. */
static enum pd_err
migrate_version(struct cat_txn *t, const char *tree,
    const struct cat_version *v, struct pd_error *err)
{
	const struct pr_entry **files = NULL;
	struct pr_manifest *m = NULL;
	size_t tlen = strlen(tree), i, n = 0;
	enum pd_err rc;

	if ((rc = cat_manifest_load(t, v->manifest_id, &m, NULL, err)) !=
	    PD_OK)
		return pd_prefix(err, "catalog %s: the manifest of tree %s "
		    "version %" PRIu64, t->cat->dir, tree, v->number);
	if ((rc = files_by_sha(m, &files, &n, err)) == PD_OK)
		for (i = 0; i < n && rc == PD_OK; i++)
			rc = put(t, tree, tlen, CAT_WHERE_AT_V, v->number,
			    files[i], err);
	pd_free(files);
	pr_manifest_free(m);
	return rc;
}

enum pd_err
cat_content_migrate(struct cat_txn *t, struct pd_error *err)
{
	struct cat_tree *trees = NULL;
	struct cat_version *vers = NULL;
	char dir[4096];
	struct stat st;
	size_t ntrees = 0, nvers = 0, i, j;
	enum pd_err rc;

	if ((rc = cat_tree_list(t, &trees, &ntrees, err)) != PD_OK)
		return rc;
	for (i = 0; i < ntrees && rc == PD_OK; i++) {
		pd_free(vers);
		vers = NULL;
		if ((rc = cat_version_list(t, trees[i].name, &vers, &nvers,
		    err)) != PD_OK)
			break;
		/* Oldest first, so that the newest holder wins.  A version
		 * not on disk (an origin's, or retired) holds nothing. */
		for (j = 0; j < nvers && rc == PD_OK; j++) {
			if ((size_t)snprintf(dir, sizeof(dir), "%s/versions/"
			    "%s/%" PRIu64, t->cat->dir, trees[i].name,
			    vers[j].number) >= sizeof(dir))
				continue;
			if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode))
				rc = migrate_version(t, trees[i].name,
				    &vers[j], err);
		}
	}
	pd_free(vers);
	pd_free(trees);
	return rc;
}

enum pd_err
cat_content_upgrade(struct cat_txn *t, struct pd_error *err)
{
	struct cat_tree *trees = NULL;
	unsigned char *nv = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v, w;
	size_t ntrees = 0, i, tlen;
	uint64_t n;
	enum pd_err rc;
	int mrc;

	if ((rc = cat_tree_list(t, &trees, &ntrees, err)) != PD_OK)
		return rc;
	if ((nv = pd_malloc(CAT_WHERE_HEAD + PR_PATH_MAX)) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "upgrading the content index");
		goto out;
	}
	if ((mrc = mdb_cursor_open(t->txn, t->cat->content, &cur)) != 0) {
		rc = cat_dberr(t->cat, mrc, err, "upgrading the content index");
		goto out;
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size <= PD_SHA256_LEN || v.mv_size <= CAT_WHERE_HEAD ||
		    v.mv_size > CAT_WHERE_HEAD + PR_PATH_MAX ||
		    ((const unsigned char *)v.mv_data)[0] != CAT_WHERE_AT_V)
			continue;
		tlen = k.mv_size - PD_SHA256_LEN;
		cat_be64_get((const unsigned char *)v.mv_data + 1, &n);
		for (i = 0; i < ntrees; i++)
			if (strlen(trees[i].name) == tlen &&
			    memcmp(trees[i].name, (const char *)k.mv_data +
			    PD_SHA256_LEN, tlen) == 0)
				break;
		if (i == ntrees || trees[i].head != n)
			continue;
		memcpy(nv, v.mv_data, v.mv_size);
		nv[0] = CAT_WHERE_HEAD_V;
		w.mv_size = v.mv_size;
		w.mv_data = nv;
		if ((mrc = mdb_cursor_put(cur, &k, &w, MDB_CURRENT)) != 0)
			break;
	}
	if (mrc != MDB_NOTFOUND)
		rc = cat_dberr(t->cat, mrc, err, "upgrading the content index");
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	pd_free(nv);
	pd_free(trees);
	return rc;
}
