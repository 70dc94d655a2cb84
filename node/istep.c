/*
 * What an origin makes for a step once its version is committed
 * (import_int.h): the deltas of the changed paths, the manifest patch
 * and the pack.  Apart from import.c, which scans, hashes and commits:
 * nothing here can fail the import.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/mem.h"
#include "../common/pool.h"
#include "../protocol/pathenc.h"
#include "dcache.h"
#include "import_int.h"
#include "load.h"
#include "prepare.h"

struct deltajob {
	const struct nd_import_opts *o;
	struct nd_dcache *dc;
	struct dpairs	*pairs;
	pthread_mutex_t	 mu;		/* guards failed and warn calls */
	uint64_t	 failed;
};

static void PD_PRINTF(2, 3)
warnf(const struct nd_import_opts *o, const char *fmt, ...)
{
	char msg[PD_ERRMSG_MAX + PR_SHOW_MAX + 256];
	va_list ap;

	if (o->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o->warn(o->warn_arg, msg);
}

static int
pair_cmp(const void *a, const void *b)
{
	const struct dpair *x = a, *y = b;

	return memcmp(x->key, y->key, sizeof(x->key));
}

static void
delta_worker(void *arg, size_t i, unsigned worker)
{
	struct deltajob *j = arg;
	struct dpair *p = &j->pairs->v[i];
	char ps[PR_SHOW_MAX];
	struct pd_error local;
	struct nd_delta dl;

	(void)worker;
	pd_error_clear(&local);
	if (nd_dcache_delta(j->dc, p->key, p->key + PD_SHA256_LEN, &dl,
	    &local) == PD_OK) {
		if (dl.fd >= 0)
			close(dl.fd);
		return;
	}
	/* One at a time: the callback need not be thread-safe. */
	pthread_mutex_lock(&j->mu);
	j->failed++;
	warnf(j->o, "%s/%s: no delta from the previous version (it will be "
	    "computed when asked for): %s", j->o->src,
	    pr_path_show(p->e->path, p->e->path_len, ps, sizeof(ps)),
	    local.msg);
	pthread_mutex_unlock(&j->mu);
}

/*
 * Compute the deltas of the changed paths, each pair of contents once,
 * then the pack from the previous version (from, NULL for none) to this
 * one (to): what every mirror of the step fetches, compressed now
 * rather than when the first of them asks.  The version is committed
 * already: a failure costs only a computation on demand later, so it is
 * a warning, never an error.
 */
void
nd_i_make_step(struct cat *c, const struct nd_import_opts *o,
    const unsigned char *from, const unsigned char *to, struct dpairs *dp,
    struct nd_import_result *res)
{
	struct deltajob j = { .o = o, .pairs = dp };
	struct nd_dcache_stats st;
	struct pd_pool *pool = NULL;
	struct pd_error err;
	size_t i, n;
	int fd = -1;

	if (dp->n == 0 && from == NULL)
		return;
	if (dp->n > 0)
		qsort(dp->v, dp->n, sizeof(*dp->v), pair_cmp);
	for (i = n = 1; i < dp->n; i++)
		if (pair_cmp(&dp->v[i], &dp->v[n - 1]) != 0)
			dp->v[n++] = dp->v[i];
	if (dp->n > 0)
		dp->n = n;
	pd_error_clear(&err);
	if (nd_dcache_new(c, &j.dc, &err) != PD_OK ||
	    pd_pool_new(o->threads, &pool) != PD_OK) {
		pd_fail(&err, PD_ERR_NOMEM, "starting delta threads");
		warnf(o, "tree %s: no deltas computed (they will be when "
		    "asked for): %s", o->tree, err.msg);
		res->deltas_failed = dp->n;
		nd_dcache_free(j.dc);
		return;
	}
	pthread_mutex_init(&j.mu, NULL);
	pd_pool_for(pool, dp->n, delta_worker, &j);
	pthread_mutex_destroy(&j.mu);
	nd_dcache_stats(j.dc, &st);
	res->deltas_made = st.deltas_made;
	res->deltas_whole = st.wholes;
	res->deltas_failed = j.failed;
	if (from != NULL && (nd_mpatch_file(c, from, to, true, &fd,
	    &err) != PD_OK || nd_pack_prepare(c, j.dc, pool, from, to,
	    &res->pack_parts, &err) != PD_OK)) {
		res->pack_failed = true;
		warnf(o, "tree %s: what mirrors of the previous version fetch "
		    "is not all made (the rest will be when asked for): %s",
		    o->tree, err.msg);
	}
	if (fd >= 0)
		close(fd);
	pd_pool_free(pool);
	nd_dcache_free(j.dc);
}

enum pd_err
nd_import_step(struct cat *c, const struct nd_import_opts *o,
    uint64_t version, struct nd_import_result *res, struct pd_error *err)
{
	struct pr_manifest *a = NULL, *z = NULL;
	struct dpairs pairs = { NULL, 0 };
	struct pr_diff d;
	enum pd_err rc;

	memset(res, 0, sizeof(*res));
	if (version < 2)
		return PD_OK;
	if ((rc = nd_load_version(c, o->tree, version - 1, o->key, NULL, NULL,
	    &a, err)) != PD_OK ||
	    (rc = nd_load_version(c, o->tree, version, o->key, NULL, NULL, &z,
	    err)) != PD_OK ||
	    (rc = pr_diff(a, z, &d, err)) != PD_OK)
		goto out;
	rc = nd_i_collect_pairs(&d, &pairs, err);
	pr_diff_free(&d);
	if (rc != PD_OK)
		goto out;
	nd_i_make_step(c, o, a->id, z->id, &pairs, res);
	if (res->deltas_failed > 0)
		rc = pd_fail(err, PD_ERR_IO, "%llu deltas of the %zu changed "
		    "files not made (see the warnings)",
		    (unsigned long long)res->deltas_failed, pairs.n);
	else if (res->pack_failed)
		rc = pd_fail(err, PD_ERR_IO, "the pack or the manifest patch "
		    "not made (see the warnings)");
out:
	if (rc != PD_OK)
		pd_prefix(err, "tree %s, step to version %llu", o->tree,
		    (unsigned long long)version);
	pd_free(pairs.v);
	pr_manifest_free(a);
	pr_manifest_free(z);
	return rc;
}
