/*
 * The content index (catalog.h): content held in the files of published
 * versions, DATA/versions/TREE/N/PATH, on a node that keeps no copy of
 * what it mirrors in an object store.
 *
 * Reading it; content_index.c writes it (the record layout is in
 * internal.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "../common/hex.h"
#include "../common/mem.h"
#include "../protocol/pathenc.h"
#include "internal.h"
#include "objstore.h"

/* Trees tried for one content: more would only say the same. */
#define OPEN_TRIES	4
#define VERIFY_BUF	(256 * 1024)

size_t
cat_content_key(const unsigned char *sha, const char *tree, size_t tlen,
    unsigned char *key)
{
	memcpy(key, sha, PD_SHA256_LEN);
	memcpy(key + PD_SHA256_LEN, tree, tlen);
	return PD_SHA256_LEN + tlen;
}

/* What where_unpack found. */
enum where_state {
	WHERE_OK,
	WHERE_NO_HEAD,		/* a head record of a tree with no head yet
				 * (cat_content_prefill's, before the commit) */
	WHERE_DAMAGED,
};

/* A record into *w, if it resolves (t looks the tree's head up). */
static enum where_state
where_unpack(struct cat_txn *t, const MDB_val *k, const MDB_val *v,
    struct cat_where *w)
{
	const unsigned char *p = v->mv_data;
	struct cat_tree tr;
	size_t tlen, plen;

	if (k->mv_size <= PD_SHA256_LEN || k->mv_size > CAT_WHERE_KEY_MAX ||
	    v->mv_size <= CAT_WHERE_HEAD ||
	    v->mv_size > CAT_WHERE_HEAD + PR_PATH_MAX ||
	    (p[0] != CAT_WHERE_AT_V && p[0] != CAT_WHERE_HEAD_V))
		return WHERE_DAMAGED;
	tlen = k->mv_size - PD_SHA256_LEN;
	memcpy(w->tree, (const char *)k->mv_data + PD_SHA256_LEN, tlen);
	w->tree[tlen] = '\0';
	p = cat_be64_get(p + 1, &w->version);
	if (((const unsigned char *)v->mv_data)[0] == CAT_WHERE_HEAD_V) {
		if (strlen(w->tree) != tlen)
			return WHERE_DAMAGED;
		if (cat_tree_get(t, w->tree, &tr, NULL) != PD_OK ||
		    tr.head == 0)
			return WHERE_NO_HEAD;
		w->version = tr.head;
	}
	p = cat_be64_get(p, &w->size);
	plen = v->mv_size - CAT_WHERE_HEAD;
	memcpy(w->path, p, plen);
	w->path[plen] = '\0';
	w->path_len = (uint32_t)plen;
	/* A NUL inside would open another file than the one recorded. */
	return strlen(w->path) == plen && strlen(w->tree) == tlen &&
	    w->version != 0 ? WHERE_OK : WHERE_DAMAGED;
}

static enum pd_err
no_content(struct cat *c, struct pd_error *err)
{
	return pd_fail(err, PD_ERR_NOTFOUND, "catalog %s: no content index "
	    "(an older catalog, read-only)", c->dir);
}

enum pd_err
cat_content_get(struct cat_txn *t, const unsigned char *sha,
    const char *tree, struct cat_where *w, struct pd_error *err)
{
	unsigned char key[CAT_WHERE_KEY_MAX];
	size_t tlen = strlen(tree);
	MDB_val k, v;
	int rc;

	if (!t->cat->has_content)
		return no_content(t->cat, err);
	if (tlen == 0 || tlen > PR_TREE_NAME_MAX)
		return pd_fail(err, PD_ERR_NOTFOUND, "no tree %s", tree);
	k.mv_data = key;
	k.mv_size = cat_content_key(sha, tree, tlen, key);
	if ((rc = mdb_get(t->txn, t->cat->content, &k, &v)) != 0)
		return cat_dberr(t->cat, rc, err, "reading the content index");
	switch (where_unpack(t, &k, &v, w)) {
	case WHERE_OK:
		return PD_OK;
	case WHERE_NO_HEAD:
		return pd_fail(err, PD_ERR_NOTFOUND, "tree %s has no version "
		    "yet", tree);
	default:
		return pd_fail(err, PD_ERR_CORRUPT, "catalog %s: damaged "
		    "content record", t->cat->dir);
	}
}

/*
 * Up to max records of sha into w (any tree), in *n.  Damaged records
 * are skipped: the content is then not held there.
 */
static enum pd_err
where_list(struct cat_txn *t, const unsigned char *sha, struct cat_where *w,
    size_t max, size_t *n, struct pd_error *err)
{
	MDB_cursor *cur;
	MDB_val k = { PD_SHA256_LEN, (void *)sha }, v;
	int rc;

	*n = 0;
	if (!t->cat->has_content)
		return PD_OK;
	if ((rc = mdb_cursor_open(t->txn, t->cat->content, &cur)) != 0)
		return cat_dberr(t->cat, rc, err, "reading the content index");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == 0 && *n < max; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < PD_SHA256_LEN ||
		    memcmp(k.mv_data, sha, PD_SHA256_LEN) != 0)
			break;
		if (where_unpack(t, &k, &v, &w[*n]) == WHERE_OK)
			(*n)++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return cat_dberr(t->cat, rc, err, "reading the content index");
	return PD_OK;
}

bool
cat_content_has(struct cat_txn *t, const unsigned char *sha)
{
	struct cat_where w;
	size_t n;

	if (cat_object_has(t, sha))
		return true;
	/* A record that resolves: not one of a prefill whose version is
	 * not recorded yet. */
	return where_list(t, sha, &w, 1, &n, NULL) == PD_OK && n == 1;
}

bool
cat_content_known(struct cat *c, const unsigned char *sha)
{
	struct cat_txn *t;
	bool has;

	if (cat_begin(c, false, &t, NULL) != PD_OK)
		return false;
	has = cat_content_has(t, sha);
	cat_abort(t);
	return has;
}

/* Whether the rest of fd, from offset 0, hashes to sha; rewinds fd. */
static enum pd_err
verify_fd(int fd, const unsigned char *sha, bool *ok, struct pd_error *err)
{
	unsigned char got[PD_SHA256_LEN], *buf = NULL;
	struct pd_sha256 *h = NULL;
	enum pd_err rc = PD_OK;
	ssize_t n;

	*ok = false;
	if ((h = pd_sha256_new()) == NULL ||
	    (buf = pd_malloc(VERIFY_BUF)) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "checking content");
		goto out;
	}
	if ((rc = pd_sha256_init(h)) != PD_OK) {
		rc = pd_fail(err, PD_ERR_CRYPTO, "checking content");
		goto out;
	}
	while ((n = pd_read_full(fd, buf, VERIFY_BUF)) > 0)
		if (pd_sha256_update(h, buf, (size_t)n) != PD_OK) {
			rc = pd_fail(err, PD_ERR_CRYPTO, "checking content");
			goto out;
		}
	if (n < 0 || lseek(fd, 0, SEEK_SET) != 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "checking content");
		goto out;
	}
	if (pd_sha256_final(h, got) != PD_OK) {
		rc = pd_fail(err, PD_ERR_CRYPTO, "checking content");
		goto out;
	}
	*ok = memcmp(got, sha, PD_SHA256_LEN) == 0;
out:
	pd_free(buf);
	pd_sha256_free(h);
	return rc;
}

/*
 * Open the file w names, if it is intact: PD_ERR_NOTFOUND with the
 * reason in err if it is gone or not what the manifest said.
 */
static enum pd_err
open_where(struct cat *c, const unsigned char *sha, const struct cat_where *w,
    unsigned flags, int *fdp, struct pd_error *err)
{
	char dir[4096], ps[PR_SHOW_MAX];
	struct stat st;
	enum pd_err rc;
	bool ok;
	int dfd, fd = -1;

	*fdp = -1;
	pr_path_show(w->path, w->path_len, ps, sizeof(ps));
	if ((size_t)snprintf(dir, sizeof(dir), "%s/versions/%s/%" PRIu64,
	    c->dir, w->tree, w->version) >= sizeof(dir))
		return pd_fail(err, PD_ERR_LIMIT, "%s: path too long", c->dir);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return pd_fail_errno(err, errno == ENOENT || errno == ELOOP ||
		    errno == ENOTDIR ? PD_ERR_NOTFOUND : PD_ERR_IO, errno,
		    "%s", dir);
	/* O_NONBLOCK: a fifo put in its place must not hang us. */
	fd = pd_open_beneath(dfd, w->path, O_RDONLY | O_NONBLOCK, 0);
	close(dfd);
	if (fd < 0)
		return pd_fail_errno(err, errno == EIO || errno == ENOMEM ||
		    errno == EMFILE || errno == ENFILE ? PD_ERR_IO :
		    PD_ERR_NOTFOUND, errno, "%s/%s", dir, ps);
	rc = PD_ERR_NOTFOUND;
	if (fstat(fd, &st) < 0)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s/%s", dir, ps);
	else if (!S_ISREG(st.st_mode))
		pd_fail(err, rc, "%s/%s: not a regular file any more", dir,
		    ps);
	else if ((uint64_t)st.st_size != w->size)
		pd_fail(err, rc, "%s/%s: changed on disk: %llu bytes, the "
		    "manifest says %" PRIu64, dir, ps,
		    (unsigned long long)st.st_size, w->size);
	else if (!(flags & CAT_VERIFY))
		rc = PD_OK;
	else if ((rc = verify_fd(fd, sha, &ok, err)) == PD_OK && !ok)
		rc = pd_fail(err, PD_ERR_NOTFOUND, "%s/%s: changed on disk: "
		    "its SHA-256 is not the manifest's", dir, ps);
	if (rc != PD_OK) {
		close(fd);
		return rc;
	}
	*fdp = fd;
	return PD_OK;
}

enum pd_err
cat_content_open(struct cat *c, const unsigned char *sha, unsigned flags,
    int *fdp, uint64_t *size, struct pd_error *err)
{
	struct cat_where *w = NULL;
	struct pd_error why = { 0 };
	struct cat_txn *t = NULL;
	char hex[PD_SHA256_HEX];
	struct stat st;
	size_t n = 0, i;
	enum pd_err rc;
	int fd;

	*fdp = -1;
	pd_hex_encode(sha, PD_SHA256_LEN, hex);
	if (cat_object_known(c, sha)) {
		rc = cat_obj_open(c, sha, &fd, &why);
		if (rc == PD_OK && fstat(fd, &st) < 0) {
			rc = pd_fail_errno(err, PD_ERR_IO, errno, "object %s",
			    hex);
			close(fd);
			return rc;
		}
		if (rc == PD_OK) {
			*fdp = fd;
			*size = (uint64_t)st.st_size;
			return PD_OK;
		}
		if (rc != PD_ERR_NOTFOUND)
			return pd_fail(err, rc, "%s", why.msg);
	}
	if ((w = pd_calloc(OPEN_TRIES, sizeof(*w))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "object %s", hex);
	if ((rc = cat_begin(c, false, &t, err)) != PD_OK ||
	    (rc = where_list(t, sha, w, OPEN_TRIES, &n, err)) != PD_OK)
		goto out;
	cat_abort(t);
	t = NULL;
	rc = PD_ERR_NOTFOUND;
	for (i = 0; i < n && rc == PD_ERR_NOTFOUND; i++) {
		pd_error_clear(&why);
		if ((rc = open_where(c, sha, &w[i], flags, &fd, &why)) ==
		    PD_OK) {
			*fdp = fd;
			*size = w[i].size;
		}
	}
	if (rc != PD_OK && why.code != PD_OK)
		pd_fail(err, rc, "object %s: %s", hex, why.msg);
	else if (rc != PD_OK)
		pd_fail(err, rc, "object %s is not held in %s", hex, c->dir);
out:
	cat_abort(t);
	pd_free(w);
	return rc;
}
