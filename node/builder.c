/*
 * The steps of a build (publish.h): nd_build_new indexes the manifests,
 * nd_build_early makes what needs nothing staged, nd_build_staged what
 * content has just been staged, nd_build_finish the rest.  A pull runs
 * the first three while its content comes (pull_build.c); nd_build is
 * new and finish at once.  Making each entry is build.c's.
 *
 * Every step marks the entries it made in made[], and the later steps
 * look at none of them.
 */
#include <sys/stat.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/mem.h"
#include "../common/pool.h"
#include "build_int.h"

static int
sha_cmp(const void *x, const void *y, void *arg)
{
	const struct pr_manifest *m = arg;

	return memcmp(m->entries[*(const uint32_t *)x].sha,
	    m->entries[*(const uint32_t *)y].sha, PD_SHA256_LEN);
}

/* Files and links: the directories exist; later group members wait. */
static enum pd_err
make_nondir(struct build *b, size_t i)
{
	bool made;

	if (b->m->entries[i].type == PR_DIR || nd_b_later_member(b, i) ||
	    b->made[i])
		return PD_OK;
	return nd_b_make_entry(b, i, ND_B_ANY, &made);
}

/* nd_build_early's part: what needs nothing staged. */
static enum pd_err
make_early(struct build *b, size_t i)
{
	enum pd_err rc;
	bool made;

	if (atomic_load(b->stop))
		return pd_fail(b->err, PD_ERR_CONFLICT, "building the tree: "
		    "stopped");
	rc = nd_b_make_entry(b, i, ND_B_EARLY, &made);
	b->made[i] = made;
	return rc;
}

/* nd_b_locate_entry, for the entries left. */
static enum pd_err
locate_rest(struct build *b, size_t i)
{
	return b->made[i] ? PD_OK : nd_b_locate_entry(b, i);
}

/* Group tables of the new manifest and member counts of prev's groups. */
static enum pd_err
index_groups(struct build *b)
{
	const struct pr_manifest *m = b->m;
	uint32_t *last;
	size_t i, g;

	/* A checked manifest numbers groups 1..n, n below its entries. */
	for (i = 0; i <= m->nentries; i++)
		b->first[i] = ND_B_NO_ENTRY;
	last = b->next + m->nentries + 1;
	for (i = 0; i < m->nentries; i++) {
		b->next[i] = ND_B_NO_ENTRY;
		if ((g = m->entries[i].link) == 0 || g > m->nentries ||
		    m->entries[i].type != PR_FILE)
			continue;
		if (b->first[g - 1] == ND_B_NO_ENTRY)
			b->first[g - 1] = (uint32_t)i;
		else
			b->next[last[g - 1]] = (uint32_t)i;
		last[g - 1] = (uint32_t)i;
	}
	for (i = 0; b->prev != NULL && i < b->prev->nentries; i++) {
		g = b->prev->entries[i].link;
		if (b->prev->entries[i].type == PR_FILE) {
			b->bysha[b->nbysha++] = (uint32_t)i;
			if (g != 0 && g <= b->prev->nentries)
				b->pcount[g - 1]++;
		}
	}
	if (b->nbysha > 1)
		qsort_r(b->bysha, b->nbysha, sizeof(*b->bysha), sha_cmp,
		    (void *)b->prev);
	return PD_OK;
}

/*
 * Workers of a build, at least this many whatever the CPUs: copying a
 * file from a previous tree that is not in the page cache waits on its
 * read, and more reads at once keep the disk busy.  An update of the
 * kernel tree from a cold cache (every mtime changed, 1.3 GB copied)
 * took 13.6-18.4 s with 2 workers on 2 CPUs, 9.2-10.8 s with 8 or 16.
 */
#define BUILD_THREADS_MIN	8

struct nd_builder {
	struct build		 b;
	struct pd_pool		*pool;
	struct nd_build_stats	 st;
	atomic_bool		 stop;
	bool			 dirs_made;
	/* m's files sorted by content, once nd_build_staged needs them */
	uint32_t		*bysha;
	size_t			 nbysha;
};

enum pd_err
nd_build_new(int buildfd, const struct pr_manifest *m,
    const struct nd_build_src *src, struct nd_builder **out,
    struct pd_error *err)
{
	struct nd_builder *bl;
	struct build *b;
	enum pd_err rc = PD_OK;
	size_t i, np;

	*out = NULL;
	if ((bl = pd_calloc(1, sizeof(*bl))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "building the tree");
	b = &bl->b;
	b->m = m;
	b->prev = src->prevfd >= 0 ? src->prev : NULL;
	b->spare = src->sparefd >= 0 ? src->spare : NULL;
	b->buildfd = buildfd;
	b->prevfd = b->prev != NULL ? src->prevfd : -1;
	b->sparefd = b->spare != NULL ? src->sparefd : -1;
	b->stagefd = src->stagefd;
	b->given = -1;
	b->st = &bl->st;
	b->err = err;
	b->stop = &bl->stop;
	b->bdir.root = buildfd;
	b->bdir.fd = -1;
	b->pdir.root = b->prevfd;
	b->pdir.fd = -1;
	b->sdir.root = b->sparefd;
	b->sdir.fd = -1;
	atomic_init(&bl->stop, false);
	for (i = 0; i < ND_B_STAGE_LOCKS; i++)
		pthread_mutex_init(&b->stage_mu[i], NULL);
	np = b->prev != NULL ? b->prev->nentries + 1 : 1;
	if (m->nentries >= ND_B_NO_ENTRY || np > ND_B_NO_ENTRY) {
		rc = pd_fail(err, PD_ERR_LIMIT, "building the tree: over "
		    "%u entries", ND_B_NO_ENTRY - 1);
		goto out;
	}
	/* next[] is followed by a scratch array of the same size. */
	if ((b->first = pd_calloc(m->nentries + 1, sizeof(*b->first))) ==
	    NULL || (b->next = pd_calloc(m->nentries + 1,
	    2 * sizeof(*b->next))) == NULL ||
	    (b->bysha = pd_calloc(np, sizeof(*b->bysha))) == NULL ||
	    (b->pcount = pd_calloc(np, sizeof(*b->pcount))) == NULL ||
	    (b->made = pd_calloc(m->nentries + 1, 1)) == NULL ||
	    pd_pool_new(pd_ncpu() > BUILD_THREADS_MIN ? pd_ncpu() :
	    BUILD_THREADS_MIN, &bl->pool) != PD_OK) {
		rc = pd_fail(err, PD_ERR_NOMEM, "building the tree");
		goto out;
	}
	rc = index_groups(b);
out:
	if (rc != PD_OK)
		nd_build_free(bl);
	else
		*out = bl;
	return rc;
}

enum pd_err
nd_build_dirs(struct nd_builder *bl, struct pd_error *err)
{
	enum pd_err rc;

	bl->b.err = err;
	if (bl->dirs_made)
		return PD_OK;
	if ((rc = nd_b_make_dirs(&bl->b)) != PD_OK)
		return rc;
	bl->dirs_made = true;
	return PD_OK;
}

enum pd_err
nd_build_early(struct nd_builder *bl, struct pd_error *err)
{
	enum pd_err rc;

	if ((rc = nd_build_dirs(bl, err)) != PD_OK)
		return rc;
	return nd_b_run_chunks(&bl->b, bl->pool, make_early);
}

void
nd_build_stop(struct nd_builder *bl)
{
	atomic_store(&bl->stop, true);
}

/* m's files by content: only a build told of staged content needs it. */
static enum pd_err
index_new(struct nd_builder *bl)
{
	const struct pr_manifest *m = bl->b.m;
	size_t i;

	if ((bl->bysha = pd_calloc(m->nentries + 1, sizeof(*bl->bysha))) ==
	    NULL)
		return pd_fail(bl->b.err, PD_ERR_NOMEM, "building the tree");
	for (i = 0; i < m->nentries; i++)
		if (m->entries[i].type == PR_FILE)
			bl->bysha[bl->nbysha++] = (uint32_t)i;
	if (bl->nbysha > 1)
		qsort_r(bl->bysha, bl->nbysha, sizeof(*bl->bysha), sha_cmp,
		    (void *)m);
	return PD_OK;
}

/* Is entry i left for nd_build_staged to make? */
static bool
staged_left(const struct build *b, uint32_t i)
{
	return !b->made[i] && !nd_b_later_member(b, i);
}

/* The entries of content sha (staged, or b->given), made. */
static enum pd_err
build_content(struct nd_builder *bl, const unsigned char *sha,
    struct pd_error *err)
{
	struct build *b = &bl->b;
	size_t lo, hi, k;
	uint32_t take = ND_B_NO_ENTRY;
	enum pd_err rc = PD_OK;
	bool made;

	b->err = err;
	if (atomic_load(&bl->stop))
		return pd_fail(err, PD_ERR_CONFLICT, "building the tree: "
		    "stopped");
	if ((rc = nd_build_dirs(bl, err)) != PD_OK)
		return rc;
	if (bl->bysha == NULL && (rc = index_new(bl)) != PD_OK)
		return rc;
	lo = nd_b_sha_lower(b->m, bl->bysha, bl->nbysha, sha);
	for (hi = lo; hi < bl->nbysha && memcmp(b->m->entries[
	    bl->bysha[hi]].sha, sha, PD_SHA256_LEN) == 0; hi++)
		if (staged_left(b, bl->bysha[hi]) && bl->bysha[hi] < take)
			take = bl->bysha[hi];
	/*
	 * The first path takes the object itself, moved in last: nothing
	 * is left in staging to remove after the pull, and a crashed
	 * attempt's object is found again at that path (pull_build.c).
	 */
	for (k = lo; k < hi && rc == PD_OK; k++)
		if (bl->bysha[k] != take && staged_left(b, bl->bysha[k])) {
			rc = nd_b_make_entry(b, bl->bysha[k], ND_B_COPY,
			    &made);
			b->made[bl->bysha[k]] = rc == PD_OK;
		}
	if (rc == PD_OK && take != ND_B_NO_ENTRY) {
		rc = nd_b_make_entry(b, take, ND_B_TAKE, &made);
		b->made[take] = rc == PD_OK;
	}
	return rc;
}

enum pd_err
nd_build_staged(struct nd_builder *bl, const unsigned char *sha,
    struct pd_error *err)
{
	return build_content(bl, sha, err);
}

enum pd_err
nd_build_given(struct nd_builder *bl, const unsigned char *sha, int fd,
    struct pd_error *err)
{
	enum pd_err rc;

	bl->b.given = fd;
	rc = build_content(bl, sha, err);
	bl->b.given = -1;
	close(fd);
	return rc;
}

enum pd_err
nd_build_finish(struct nd_builder *bl, struct nd_build_stats *st,
    struct pd_error *err)
{
	struct build *b = &bl->b;
	enum pd_err rc;
	size_t i;

	b->err = err;
	/* Every source settled before anything more is made; then files
	 * and links, then the other members of hardlink groups. */
	if ((rc = nd_b_run_chunks(b, bl->pool, locate_rest)) != PD_OK ||
	    (!bl->dirs_made && (rc = nd_b_make_dirs(b)) != PD_OK) ||
	    (rc = nd_b_run_chunks(b, bl->pool, make_nondir)) != PD_OK)
		goto out;
	bl->dirs_made = true;
	for (i = 0; i < b->m->nentries && rc == PD_OK; i++)
		if (nd_b_later_member(b, i))
			rc = nd_b_make_entry(b, i, ND_B_ANY,
			    &(bool){ false });
	if (rc == PD_OK)
		rc = nd_b_finish_dirs(b);
out:
	if (st != NULL)
		*st = bl->st;
	return rc;
}

void
nd_build_free(struct nd_builder *bl)
{
	struct build *b;
	size_t i;

	if (bl == NULL)
		return;
	b = &bl->b;
	pd_pool_free(bl->pool);
	for (i = 0; i < ND_B_STAGE_LOCKS; i++)
		pthread_mutex_destroy(&b->stage_mu[i]);
	nd_b_dircache_free(&b->bdir);
	nd_b_dircache_free(&b->pdir);
	nd_b_dircache_free(&b->sdir);
	pd_free(b->first);
	pd_free(b->next);
	pd_free(b->bysha);
	pd_free(b->pcount);
	pd_free(b->made);
	pd_free(bl->bysha);
	pd_free(bl);
}

enum pd_err
nd_build(int buildfd, const struct pr_manifest *m,
    const struct nd_build_src *src, struct nd_build_stats *st,
    struct pd_error *err)
{
	struct nd_builder *bl;
	enum pd_err rc;

	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if ((rc = nd_build_new(buildfd, m, src, &bl, err)) != PD_OK)
		return rc;
	rc = nd_build_finish(bl, st, err);
	nd_build_free(bl);
	return rc;
}
