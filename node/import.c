/*
 * Import a source directory as a new version.
 *
 * DESIGN: scan (one lstat per entry) -> stat cache lookup in one read
 * transaction -> hash and store the remaining files on the worker pool ->
 * build and sign the manifest -> if its content equals the head's, stop
 * -> syncfs the object store -> one write transaction records manifest,
 * version, tree head, object index and stat cache.  The LMDB commit is
 * the commit point; nothing before it is visible as a version.  Then,
 * with the tree unlocked, the deltas from the previous version of every
 * path whose content changed are computed on the pool, once per pair of
 * contents, into the derived-content cache: every downstream node will
 * ask for them, and computing them now means no request waits.
 *
 * A file is read once: the same pass hashes it and copies it into the
 * object store, so the stored bytes are the hashed bytes.  A file whose
 * inode and size match the stat cache but whose times do not (touched,
 * or rewritten by a tool that keeps content: a kernel release bump
 * changes every mtime and 2% of contents) is probably unchanged, so it is
 * hashed first and copied only if its hash is not in the store.  fstat before
 * and after the read catches a file written meanwhile; it is read again
 * (up to ATTEMPTS times) and otherwise reported.  A file whose timestamps
 * are within RACY_SECS of the import's start is not put in the stat
 * cache: a change in the same clock tick would go unseen next time.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../catalog/objstore.h"
#include "../common/clock.h"
#include "../common/fsx.h"
#include "../common/hex.h"
#include "../common/mem.h"
#include "../common/pool.h"
#include "../protocol/mdiff.h"
#include "../protocol/pathenc.h"
#include "hashfile.h"
#include "import.h"
#include "import_int.h"
#include "load.h"

#define ATTEMPTS	3
#define RACY_SECS	2

struct wstate {
	struct pd_sha256 *h;
	unsigned char	*buf;
};

struct hashjob {
	struct cat	*cat;
	struct nd_scan	*s;
	const char	*src;
	size_t		*todo;		/* indexes of items to hash */
	size_t		 ntodo;
	struct wstate	*ws;		/* one per worker */
	struct pr_time	 racy_after;	/* times at or after are racy */
	struct pd_pool	*pool;
	pthread_mutex_t	 mu;		/* guards err */
	struct pd_error	*err;
	enum pd_err	 rc;
	atomic_uint_fast64_t bytes;
};

/* "src/path" for messages, the path escaped and shortened. */
static void
describe(const char *src, const struct pr_entry *e, char *out, size_t outsz)
{
	char ps[PR_SHOW_MAX];

	snprintf(out, outsz, "%s/%s", src,
	    pr_path_show(e->path, e->path_len, ps, sizeof(ps)));
}

static void
job_fail(struct hashjob *j, struct pd_error *local)
{
	pthread_mutex_lock(&j->mu);
	if (j->rc == PD_OK) {
		j->rc = local->code;
		pd_fail(j->err, local->code, "%s", local->msg);
	}
	pthread_mutex_unlock(&j->mu);
	pd_pool_cancel(j->pool);
}

static bool
same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static bool
time_before(const struct pr_time *a, const struct pr_time *b)
{
	return a->sec < b->sec || (a->sec == b->sec && a->nsec < b->nsec);
}

/* Fill an item from the stat of what was read. */
static void
took(struct hashjob *j, struct nd_item *it, const struct stat *b,
    const unsigned char *sha, uint64_t nread)
{
	memcpy(it->e.sha, sha, PD_SHA256_LEN);
	it->e.size = nread;
	it->e.mode = b->st_mode & 07777;
	it->e.mtime.sec = (int64_t)b->st_mtim.tv_sec;
	it->e.mtime.nsec = (uint32_t)b->st_mtim.tv_nsec;
	it->ctime.sec = (int64_t)b->st_ctim.tv_sec;
	it->ctime.nsec = (uint32_t)b->st_ctim.tv_nsec;
	it->dev = (uint64_t)b->st_dev;
	it->ino = (uint64_t)b->st_ino;
	it->flags |= ND_ITEM_HASHED;
	if (!time_before(&it->e.mtime, &j->racy_after) ||
	    !time_before(&it->ctime, &j->racy_after))
		it->flags |= ND_ITEM_RACY;
	atomic_fetch_add(&j->bytes, nread);
}

/*
 * Hash without storing; true if the content is already in the store
 * (the item is then complete).  Any doubt means "no": the caller does the
 * full read.
 */
static bool
probe(struct hashjob *j, struct nd_item *it, struct wstate *ws, int fd,
    const char *what)
{
	unsigned char sha[PD_SHA256_LEN];
	struct stat a, b;
	uint64_t nread;

	if (fstat(fd, &a) < 0 || !S_ISREG(a.st_mode) ||
	    nd_hash_fd(fd, ws->h, ws->buf, NULL, &nread, sha, what, NULL) !=
	    PD_OK || fstat(fd, &b) < 0 || !same_stat(&a, &b) ||
	    nread != (uint64_t)a.st_size || !cat_object_known(j->cat, sha))
		return false;
	took(j, it, &b, sha, nread);
	return true;
}

/* Read, hash and store one file; fill its item from what was read. */
static enum pd_err
hash_item(struct hashjob *j, struct nd_item *it, struct wstate *ws,
    struct pd_error *err)
{
	char what[PR_SHOW_MAX + 512];
	unsigned char sha[PD_SHA256_LEN];
	struct cat_objw *w = NULL;
	struct stat a, b;
	uint64_t nread;
	enum pd_err rc;
	int fd, attempt;

	describe(j->src, &it->e, what, sizeof(what));
	fd = pd_open_beneath(j->s->rootfd, it->e.path,
	    O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
	if (fd < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s", what);
	if ((it->flags & ND_ITEM_PROBE) && probe(j, it, ws, fd, what)) {
		close(fd);
		return PD_OK;
	}
	for (attempt = 0; attempt < ATTEMPTS; attempt++) {
		if (fstat(fd, &a) < 0) {
			rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s", what);
			goto out;
		}
		if (!S_ISREG(a.st_mode)) {
			rc = pd_fail(err, PD_ERR_CHANGED, "%s: no longer a "
			    "regular file", what);
			goto out;
		}
		if (lseek(fd, 0, SEEK_SET) < 0 ||
		    (rc = cat_objw_new(j->cat, &w, err)) != PD_OK) {
			rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s", what);
			goto out;
		}
		if ((rc = nd_hash_fd(fd, ws->h, ws->buf, w, &nread, sha, what,
		    err)) != PD_OK)
			goto out;
		if (fstat(fd, &b) < 0) {
			rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s", what);
			goto out;
		}
		if (same_stat(&a, &b) && nread == (uint64_t)a.st_size)
			break;
		cat_objw_abort(w);
		w = NULL;
	}
	if (attempt == ATTEMPTS) {
		rc = pd_fail(err, PD_ERR_CHANGED, "%s: changed while being "
		    "read, %d times; not imported", what, ATTEMPTS);
		goto out;
	}
	rc = cat_objw_finish(w, sha, err);
	w = NULL;
	if (rc == PD_OK)
		took(j, it, &b, sha, nread);
out:
	cat_objw_abort(w);
	close(fd);
	return rc;
}

static void
hash_worker(void *arg, size_t i, unsigned worker)
{
	struct hashjob *j = arg;
	struct pd_error local;

	pd_error_clear(&local);
	if (hash_item(j, &j->s->items[j->todo[i]], &j->ws[worker], &local) !=
	    PD_OK)
		job_fail(j, &local);
}

static enum pd_err
hash_all(struct hashjob *j, unsigned threads, struct pd_error *err)
{
	unsigned i, n;
	enum pd_err rc;

	if (j->ntodo == 0)
		return PD_OK;
	if ((rc = pd_pool_new(threads, &j->pool)) != PD_OK)
		return pd_fail(err, rc, "starting hashing threads");
	n = pd_pool_size(j->pool);
	if ((j->ws = pd_calloc(n, sizeof(*j->ws))) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "hashing");
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((j->ws[i].h = pd_sha256_new()) == NULL ||
		    (j->ws[i].buf = pd_malloc(ND_HASH_BUF)) == NULL) {
			rc = pd_fail(err, PD_ERR_NOMEM, "hashing");
			goto out;
		}
	pthread_mutex_init(&j->mu, NULL);
	j->err = err;
	j->rc = PD_OK;
	pd_pool_for(j->pool, j->ntodo, hash_worker, j);
	pthread_mutex_destroy(&j->mu);
	rc = j->rc;
out:
	pd_pool_free(j->pool);
	if (j->ws != NULL)
		for (i = 0; i < n; i++) {
			pd_sha256_free(j->ws[i].h);
			pd_free(j->ws[i].buf);
		}
	pd_free(j->ws);
	return rc;
}

static bool
cache_matches(const struct nd_item *it, const struct cat_stat *cs)
{
	return cs->dev == it->dev && cs->ino == it->ino &&
	    cs->size == it->e.size && cs->mtime_sec == it->e.mtime.sec &&
	    cs->mtime_nsec == it->e.mtime.nsec &&
	    cs->ctime_sec == it->ctime.sec && cs->ctime_nsec == it->ctime.nsec;
}

/*
 * Read the tree record and fill in cached hashes; list the items that
 * must be read.  tree->id is 0 for a new tree.
 */
static enum pd_err
prepare(struct cat *c, const struct nd_import_opts *o, struct nd_scan *s,
    struct cat_tree *tree, struct cat_version *head, struct hashjob *j,
    struct pd_error *err)
{
	unsigned char kid[PR_KEYID_LEN], pub[PR_PUBKEY_LEN];
	char want[2 * PR_KEYID_LEN + 1], have[2 * PR_KEYID_LEN + 1];
	struct pr_key *tk = NULL;
	struct cat_txn *t;
	struct cat_stat cs;
	struct nd_item *it;
	enum pd_err rc;
	size_t i;

	pr_key_public(o->key, pub);
	if ((rc = cat_begin(c, false, &t, err)) != PD_OK)
		return rc;
	rc = cat_tree_get(t, o->tree, tree, NULL);
	if (rc == PD_ERR_NOTFOUND) {
		memset(tree, 0, sizeof(*tree));
		snprintf(tree->name, sizeof(tree->name), "%s", o->tree);
		rc = PD_OK;
	} else if (rc != PD_OK) {
		rc = pd_fail(err, rc, "reading tree %s", o->tree);
		goto out;
	} else if (tree->has_key &&
	    memcmp(tree->pubkey, pub, sizeof(pub)) != 0) {
		if ((rc = pr_key_id(o->key, kid, err)) != PD_OK)
			goto out;
		pd_hex_encode(kid, sizeof(kid), have);
		/* Without the catalog key's own id, kid would still hold the
		 * given key's, and the text would name it as the wanted one. */
		if ((rc = pr_key_from_public(tree->pubkey, &tk, err)) != PD_OK)
			goto out;
		rc = pr_key_id(tk, kid, err);
		pr_key_free(tk);
		if (rc != PD_OK)
			goto out;
		pd_hex_encode(kid, sizeof(kid), want);
		rc = pd_fail(err, PD_ERR_SIGNATURE, "tree %s is signed by key "
		    "%s, not by the key given (%s)", o->tree, want, have);
		goto out;
	}
	memset(head, 0, sizeof(*head));
	if (tree->head != 0 &&
	    (rc = cat_version_get(t, o->tree, tree->head, head, err)) != PD_OK)
		goto out;
	if ((j->todo = pd_calloc(s->n, sizeof(*j->todo))) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "import");
		goto out;
	}
	for (i = 0; i < s->n; i++) {
		it = &s->items[i];
		if (it->e.type != PR_FILE || (it->flags & ND_ITEM_MEMBER))
			continue;
		if (tree->id == 0 || !cat_stat_get(t, tree->id, it->e.path,
		    it->e.path_len, &cs)) {
			j->todo[j->ntodo++] = i;
			continue;
		}
		if (cache_matches(it, &cs) && cat_object_has(t, cs.sha)) {
			memcpy(it->e.sha, cs.sha, sizeof(cs.sha));
			it->flags |= ND_ITEM_CACHED;
			continue;
		}
		if (cs.ino == it->ino && cs.dev == it->dev &&
		    cs.size == it->e.size)
			it->flags |= ND_ITEM_PROBE;
		j->todo[j->ntodo++] = i;
	}
out:
	cat_abort(t);
	return rc;
}

/* Hardlink members take what their leader's read found. */
static void
copy_members(struct nd_scan *s)
{
	struct nd_item *it, *l;
	size_t i;

	for (i = 0; i < s->n; i++) {
		it = &s->items[i];
		if (!(it->flags & ND_ITEM_MEMBER))
			continue;
		l = &s->items[it->leader];
		memcpy(it->e.sha, l->e.sha, sizeof(l->e.sha));
		it->e.size = l->e.size;
		it->e.mode = l->e.mode;
		it->e.mtime = l->e.mtime;
		it->ctime = l->ctime;
		it->dev = l->dev;
		it->ino = l->ino;
		it->flags |= l->flags &
		    (ND_ITEM_CACHED | ND_ITEM_HASHED | ND_ITEM_RACY);
	}
}

static enum pd_err
build_manifest(const struct nd_import_opts *o, const struct nd_scan *s,
    const struct cat_tree *tree, const struct cat_version *head,
    int64_t now, struct pr_manifest **out, struct pd_error *err)
{
	struct pr_manifest *m;
	enum pd_err rc;
	size_t i;

	if ((m = pr_manifest_new()) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "manifest");
	snprintf(m->tree, sizeof(m->tree), "%s", o->tree);
	m->version = tree->head + 1;
	m->has_parent = tree->head != 0;
	if (m->has_parent)
		memcpy(m->parent, head->manifest_id, sizeof(m->parent));
	m->created = now;
	m->expires = o->expires_in ? now + o->expires_in : 0;
	if ((rc = pr_key_id(o->key, m->keyid, err)) != PD_OK) {
		pr_manifest_free(m);
		return rc;
	}
	m->root_mode = s->root_mode;
	m->root_mtime = s->root_mtime;
	for (i = 0; i < s->n; i++)
		if ((rc = pr_manifest_add(m, &s->items[i].e)) != PD_OK) {
			pr_manifest_free(m);
			return pd_fail(err, rc, "manifest of %s", o->tree);
		}
	*out = m;
	return PD_OK;
}

/* Stat cache entries for every file read or vouched for, not racy. */
static enum pd_err
put_stats(struct cat_txn *t, uint32_t id, const struct nd_scan *s,
    bool only_hashed, struct pd_error *err)
{
	const struct nd_item *it;
	struct cat_stat cs;
	enum pd_err rc;
	size_t i;

	for (i = 0; i < s->n; i++) {
		it = &s->items[i];
		if (it->e.type != PR_FILE || (it->flags & ND_ITEM_RACY) ||
		    (only_hashed && !(it->flags & ND_ITEM_HASHED)))
			continue;
		cs.dev = it->dev;
		cs.ino = it->ino;
		cs.size = it->e.size;
		cs.mtime_sec = it->e.mtime.sec;
		cs.mtime_nsec = it->e.mtime.nsec;
		cs.ctime_sec = it->ctime.sec;
		cs.ctime_nsec = it->ctime.nsec;
		memcpy(cs.sha, it->e.sha, sizeof(cs.sha));
		if ((rc = cat_stat_put(t, id, it->e.path, it->e.path_len, &cs,
		    err)) != PD_OK)
			return rc;
	}
	return PD_OK;
}

/* Remember files read for an unchanged tree, so the next run skips them. */
static enum pd_err
refresh_stats(struct cat *c, const struct cat_tree *tree,
    const struct nd_scan *s, struct pd_error *err)
{
	struct cat_txn *t;
	enum pd_err rc;

	if ((rc = cat_begin(c, true, &t, err)) != PD_OK)
		return rc;
	if ((rc = put_stats(t, tree->id, s, true, err)) != PD_OK) {
		cat_abort(t);
		return rc;
	}
	return cat_commit(t, err);
}

/*
 * The pairs of contents of every path that is a regular file in both
 * versions with other content.
 */
enum pd_err
nd_i_collect_pairs(const struct pr_diff *d, struct dpairs *dp,
    struct pd_error *err)
{
	const struct pr_change *ch;
	size_t i;

	dp->n = 0;
	if (d->count[PR_CHANGED] == 0)
		return PD_OK;
	if ((dp->v = pd_calloc(d->count[PR_CHANGED], sizeof(*dp->v))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "listing changed files");
	for (i = 0; i < d->n; i++) {
		ch = &d->changes[i];
		if (ch->kind != PR_CHANGED || ch->old->type != PR_FILE ||
		    ch->new->type != PR_FILE ||
		    memcmp(ch->old->sha, ch->new->sha, PD_SHA256_LEN) == 0 ||
		    dp->n == d->count[PR_CHANGED])
			continue;
		memcpy(dp->v[dp->n].key, ch->old->sha, PD_SHA256_LEN);
		memcpy(dp->v[dp->n].key + PD_SHA256_LEN, ch->new->sha,
		    PD_SHA256_LEN);
		dp->v[dp->n++].e = ch->new;
	}
	return PD_OK;
}

static void
count_changes(const struct pr_diff *d, struct cat_changes *ch)
{
	ch->added = d->count[PR_ADDED];
	ch->removed = d->count[PR_REMOVED];
	ch->changed = d->count[PR_CHANGED];
	ch->renamed = d->count[PR_RENAMED];
	ch->meta = d->count[PR_MODE] + d->count[PR_TOUCHED];
}

/* The version's record: totals and changes against the head. */
static enum pd_err
describe_version(struct cat *c, const struct nd_import_opts *o,
    const struct cat_tree *tree, const struct pr_manifest *m,
    struct cat_version *v, struct dpairs *pairs, struct pd_error *err)
{
	struct pr_manifest *prev = NULL;
	struct pr_stats st;
	struct pr_diff d;
	enum pd_err rc;

	pr_manifest_stats(m, &st);
	v->number = m->version;
	memcpy(v->manifest_id, m->id, sizeof(m->id));
	v->created = m->created;
	v->entries = m->nentries;
	v->files = st.files;
	v->dirs = st.dirs;
	v->links = st.links;
	v->bytes = st.bytes;
	if (tree->head != 0 && (rc = nd_load_version(c, o->tree, tree->head,
	    o->key, NULL, NULL, &prev, err)) != PD_OK)
		return rc;
	rc = pr_diff(prev, m, &d, err);
	if (rc == PD_OK) {
		count_changes(&d, &v->changes);
		rc = nd_i_collect_pairs(&d, pairs, err);
		pr_diff_free(&d);
	}
	pr_manifest_free(prev);
	return rc;
}

static enum pd_err
commit(struct cat *c, const struct nd_import_opts *o, struct cat_tree *tree,
    const struct nd_scan *s, size_t mlen, struct cat_version *v,
    uint64_t *objects_new, struct pd_error *err)
{
	struct cat_tree now;
	struct cat_txn *t;
	const struct nd_item *it;
	enum pd_err rc;
	size_t i;

	if ((rc = cat_begin(c, true, &t, err)) != PD_OK)
		return rc;
	/* The tree lock keeps other importers out; this catches the rest. */
	rc = cat_tree_get(t, o->tree, &now, NULL);
	if ((rc == PD_OK && now.head != tree->head) ||
	    (rc == PD_ERR_NOTFOUND && tree->id != 0)) {
		rc = pd_fail(err, PD_ERR_CONFLICT, "tree %s changed during the "
		    "import; run it again", o->tree);
		goto fail;
	}
	if (rc != PD_OK && rc != PD_ERR_NOTFOUND) {
		rc = pd_fail(err, rc, "reading tree %s", o->tree);
		goto fail;
	}
	if (tree->id == 0) {
		tree->created = v->created;
		tree->has_key = true;
		pr_key_public(o->key, tree->pubkey);
	}
	tree->head = v->number;
	v->committed = (int64_t)time(NULL);
	if ((rc = cat_tree_put(t, tree, err)) != PD_OK ||
	    (rc = cat_manifest_put(t, v->manifest_id, mlen, err)) != PD_OK ||
	    (rc = cat_version_put(t, o->tree, v, err)) != PD_OK)
		goto fail;
	for (i = 0; i < s->n; i++) {
		it = &s->items[i];
		if (!(it->flags & ND_ITEM_HASHED) ||
		    cat_object_has(t, it->e.sha))
			continue;
		if ((rc = cat_object_put(t, it->e.sha, it->e.size, err)) !=
		    PD_OK)
			goto fail;
		(*objects_new)++;
	}
	if ((rc = cat_stat_clear(t, tree->id, err)) != PD_OK ||
	    (rc = put_stats(t, tree->id, s, false, err)) != PD_OK)
		goto fail;
	/* A task that lost its lease must not publish over newer work. */
	if (o->lease != NULL &&
	    (rc = cat_task_lease_check(t, o->lease, err)) != PD_OK)
		goto fail;
	return cat_commit(t, err);
fail:
	cat_abort(t);
	return rc;
}

enum pd_err
nd_import(struct cat *c, const struct nd_import_opts *o,
    struct nd_import_result *res, struct pd_error *err)
{
	struct nd_scan s;
	struct hashjob j;
	struct cat_tree tree;
	struct cat_version head;
	struct pr_manifest *m = NULL;
	struct dpairs pairs = { NULL, 0 };
	struct stat datast;
	struct pd_buf body;
	unsigned char digest[PD_SHA256_LEN];
	int64_t start_ms = pd_mono_ms(), now;
	struct timespec wall;
	size_t content_off = 0, mlen, i;
	const char *why;
	bool had_head;
	enum pd_err rc;
	int lockfd = -1;

	memset(res, 0, sizeof(*res));
	memset(&j, 0, sizeof(j));
	clock_gettime(CLOCK_REALTIME, &wall);
	now = (int64_t)wall.tv_sec;
	j.racy_after.sec = (int64_t)wall.tv_sec - RACY_SECS;
	j.racy_after.nsec = (uint32_t)wall.tv_nsec;
	pd_buf_init(&body, PR_MANIFEST_MAX);
	s.rootfd = -1;
	s.items = NULL;
	s.arena.head = NULL;
	if ((why = pr_tree_name_check(o->tree)) != NULL)
		return pd_fail(err, PD_ERR_USAGE, "tree \"%s\": %s", o->tree,
		    why);
	if (!pr_key_has_private(o->key))
		return pd_fail(err, PD_ERR_USAGE, "importing needs the tree's "
		    "private key");
	if ((rc = cat_lock_tree(c, o->tree, &lockfd, err)) != PD_OK)
		return rc;
	if (stat(cat_dir(c), &datast) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s", cat_dir(c));
		goto out;
	}
	if ((rc = nd_scan(o->src, &datast, &s, o->warn, o->warn_arg, err)) !=
	    PD_OK ||
	    (rc = prepare(c, o, &s, &tree, &head, &j, err)) != PD_OK)
		goto out;

	j.cat = c;
	j.s = &s;
	j.src = o->src;
	if ((rc = hash_all(&j, o->threads, err)) != PD_OK)
		goto out;
	copy_members(&s);
	/* Both counts are of distinct files: a hardlink group is one. */
	res->files_hashed = j.ntodo;
	for (i = 0; i < s.n; i++)
		res->files_cached += (s.items[i].flags &
		    (ND_ITEM_CACHED | ND_ITEM_MEMBER)) == ND_ITEM_CACHED;
	res->skipped = s.skipped;

	if ((rc = build_manifest(o, &s, &tree, &head, now, &m, err)) != PD_OK ||
	    (rc = pr_manifest_encode(m, &body, &content_off, err)) != PD_OK)
		goto out;
	if (pd_sha256(body.data + content_off, body.len - content_off,
	    digest) != PD_OK) {
		rc = pd_fail(err, PD_ERR_CRYPTO, "hashing manifest");
		goto out;
	}
	if (tree.head != 0 &&
	    memcmp(digest, head.content_digest, sizeof(digest)) == 0) {
		res->unchanged = true;
		res->version = head;
		if (j.ntodo > 0)
			rc = refresh_stats(c, &tree, &s, err);
		goto out;
	}
	if ((rc = pr_manifest_seal(m, o->key, &body, 0, err)) != PD_OK)
		goto out;
	memcpy(res->version.content_digest, digest, sizeof(digest));
	res->version.hashed_bytes = atomic_load(&j.bytes);
	if ((rc = describe_version(c, o, &tree, m, &res->version, &pairs,
	    err)) != PD_OK)
		goto out;
	/* Every object the version names is durable before it exists. */
	if ((rc = cat_obj_sync(c, err)) != PD_OK ||
	    (rc = cat_manifest_save(c, res->version.manifest_id, body.data,
	    body.len, err)) != PD_OK)
		goto out;
	mlen = body.len;
	pd_buf_free(&body);
	had_head = tree.head != 0;
	res->version.duration_ms = (uint64_t)(pd_mono_ms() - start_ms);
	if ((rc = commit(c, o, &tree, &s, mlen, &res->version,
	    &res->objects_new, err)) != PD_OK)
		goto out;
	/* Committed: the next import of the tree need not wait for this. */
	cat_unlock_tree(lockfd);
	lockfd = -1;
	if (!o->defer_step)
		nd_i_make_step(c, o, had_head ? head.manifest_id : NULL,
		    res->version.manifest_id, &pairs, res);
out:
	if (rc != PD_OK)
		pd_prefix(err, "importing tree %s", o->tree);
	pd_free(j.todo);
	pd_free(pairs.v);
	pr_manifest_free(m);
	pd_buf_free(&body);
	nd_scan_free(&s);
	cat_unlock_tree(lockfd);
	return rc;
}
