/*
 * Re-hash a version's objects against its verified manifest: from the
 * object store (an origin), or from the files of the published versions
 * that hold them (a mirror, which serves them from there).
 *
 * Each distinct object is hashed once, on the worker pool, however many
 * paths share it; then every path is judged by its object's result.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/mem.h"
#include "../common/pool.h"
#include "hashfile.h"
#include "load.h"
#include "verify.h"

enum { OK = 0, MISSING, WRONG_SIZE, WRONG_HASH, UNREADABLE };

static const char *const reasons[] = {
	[OK] = "ok",
	[MISSING] = "content missing: not in the object store, nor intact "
	    "in a published version",
	[WRONG_SIZE] = "stored content has the wrong size",
	[WRONG_HASH] = "stored content does not match its SHA-256",
	[UNREADABLE] = "stored content cannot be read or is not a file",
};

struct vjob {
	struct cat		*cat;
	const struct pr_manifest *m;
	size_t			*uniq;		/* entry index per object */
	unsigned char		*status;	/* per object */
	size_t			 nuniq;
	struct pd_sha256	**h;		/* per worker */
	unsigned char		**buf;		/* per worker */
	atomic_uint_fast64_t	 bytes;
};

static void
check_object(void *arg, size_t i, unsigned worker)
{
	struct vjob *j = arg;
	const struct pr_entry *e = &j->m->entries[j->uniq[i]];
	unsigned char sha[PD_SHA256_LEN];
	uint64_t n = 0, size;
	enum pd_err rc;
	int fd;

	/* A published file of the wrong size is not held at all. */
	if ((rc = cat_content_open(j->cat, e->sha, 0, &fd, &size, NULL)) !=
	    PD_OK) {
		j->status[i] = rc == PD_ERR_NOTFOUND ? MISSING : UNREADABLE;
		return;
	}
	if (size != e->size)
		j->status[i] = WRONG_SIZE;
	else if (nd_hash_fd(fd, j->h[worker], j->buf[worker], NULL, &n, sha,
	    "object", NULL) != PD_OK)
		j->status[i] = UNREADABLE;
	else if (n != e->size || memcmp(sha, e->sha, sizeof(sha)) != 0)
		j->status[i] = WRONG_HASH;
	else
		j->status[i] = OK;
	atomic_fetch_add(&j->bytes, n);
	close(fd);
}

static int
sha_cmp(const void *a, const void *b, void *arg)
{
	const struct pr_manifest *m = arg;
	const struct pr_entry *x = &m->entries[*(const size_t *)a];
	const struct pr_entry *y = &m->entries[*(const size_t *)b];

	return memcmp(x->sha, y->sha, sizeof(x->sha));
}

/* Entry indexes of the files, sorted by content, then deduplicated. */
static enum pd_err
distinct(struct vjob *j, size_t **byobj, struct pd_error *err)
{
	const struct pr_manifest *m = j->m;
	size_t *idx, n = 0, i, k;

	if ((idx = pd_calloc(m->nentries, sizeof(*idx))) == NULL ||
	    (*byobj = pd_calloc(m->nentries, sizeof(**byobj))) == NULL ||
	    (j->uniq = pd_calloc(m->nentries, sizeof(*j->uniq))) == NULL ||
	    (j->status = pd_calloc(m->nentries, 1)) == NULL) {
		pd_free(idx);
		return pd_fail(err, PD_ERR_NOMEM, "verify");
	}
	for (i = 0; i < m->nentries; i++)
		if (m->entries[i].type == PR_FILE)
			idx[n++] = i;
	qsort_r(idx, n, sizeof(*idx), sha_cmp, (void *)m);
	for (i = 0; i < n; i++) {
		if (i == 0 || sha_cmp(&idx[i - 1], &idx[i], (void *)m) != 0)
			j->uniq[j->nuniq++] = idx[i];
		k = j->nuniq - 1;
		(*byobj)[idx[i]] = k;
	}
	pd_free(idx);
	return PD_OK;
}

enum pd_err
nd_verify(struct cat *c, const char *tree, uint64_t n,
    const struct pr_key *trust, unsigned threads, nd_bad_fn *bad,
    void *bad_arg, struct nd_verify_result *res, struct pd_error *err)
{
	struct pr_manifest *m = NULL;
	struct pd_pool *pool = NULL;
	struct vjob j;
	size_t *byobj = NULL, i;
	unsigned w, nw = 0;
	unsigned char st;
	enum pd_err rc;

	memset(res, 0, sizeof(*res));
	memset(&j, 0, sizeof(j));
	if ((rc = nd_load_version(c, tree, n, trust, NULL, NULL, &m, err)) !=
	    PD_OK)
		return rc;
	res->version = m->version;
	j.cat = c;
	j.m = m;
	if ((rc = distinct(&j, &byobj, err)) != PD_OK)
		goto out;
	if ((rc = pd_pool_new(threads, &pool)) != PD_OK) {
		rc = pd_fail(err, rc, "starting verify threads");
		goto out;
	}
	nw = pd_pool_size(pool);
	if ((j.h = pd_calloc(nw, sizeof(*j.h))) == NULL ||
	    (j.buf = pd_calloc(nw, sizeof(*j.buf))) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "verify");
		goto out;
	}
	for (w = 0; w < nw; w++)
		if ((j.h[w] = pd_sha256_new()) == NULL ||
		    (j.buf[w] = pd_malloc(ND_HASH_BUF)) == NULL) {
			rc = pd_fail(err, PD_ERR_NOMEM, "verify");
			goto out;
		}
	pd_pool_for(pool, j.nuniq, check_object, &j);
	res->objects = j.nuniq;
	res->bytes = atomic_load(&j.bytes);
	for (i = 0; i < m->nentries; i++) {
		if (m->entries[i].type != PR_FILE)
			continue;
		if ((st = j.status[byobj[i]]) == OK)
			continue;
		res->bad_paths++;
		if (bad)
			bad(bad_arg, &m->entries[i], reasons[st]);
	}
	if (res->bad_paths)
		rc = pd_fail(err, PD_ERR_CORRUPT, "tree %s version %llu: %llu "
		    "path%s not match the signed manifest", tree,
		    (unsigned long long)m->version,
		    (unsigned long long)res->bad_paths,
		    res->bad_paths == 1 ? " does" : "s do");
out:
	pd_pool_free(pool);
	for (w = 0; j.h != NULL && w < nw; w++)
		pd_sha256_free(j.h[w]);
	for (w = 0; j.buf != NULL && w < nw; w++)
		pd_free(j.buf[w]);
	pd_free(j.h);
	pd_free(j.buf);
	pd_free(j.uniq);
	pd_free(j.status);
	pd_free(byobj);
	pr_manifest_free(m);
	return rc;
}
