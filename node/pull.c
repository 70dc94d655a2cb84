/*
 * One pull of one tree (pull.h); the head and the manifest are
 * pull_head.c's, the build of the version pull_build.c's.
 *
 * Order of events, and why a crash anywhere is harmless:
 *   1. head and manifest are fetched and verified; nothing is written.
 *   2. content goes to DATA/staging/TREE/objects, each object renamed in
 *      only after its hash matched; it is all re-checked on resume.
 *      What came for the step, verified, is renamed into the data
 *      directory for the node to serve onwards (keep.h): whole files,
 *      whose records (if any) wait for step 4.
 *   3. the version is built in DATA/staging/TREE/build, mostly while
 *      step 2 runs (what needs nothing staged, then each object as it
 *      is staged, moved in), made durable (syncfs), and renamed to
 *      DATA/versions/TREE/N.  A leftover build or N from a crashed
 *      attempt is not in the catalog and is built again; the objects a
 *      leftover build holds go back to staging first, to be re-checked.
 *   4. the catalog commit makes N the tree's head, indexes its content
 *      and forgets that of the versions pruned after step 5: the commit
 *      point.
 *   5. PUBDIR/TREE is switched.  A crash between 4 and 5 is repaired by
 *      the next pull, which finds itself up to date and switches.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/crypto.h"
#include "../common/fsx.h"
#include "../common/hex.h"
#include "../common/mem.h"
#include "../protocol/mdiff.h"
#include "../protocol/pathenc.h"
#include "load.h"
#include "publish.h"
#include "pull_int.h"

/* Items for which a second transfer loop is set up (xfer.h). */
#define ND_PULL_SPLIT_MIN	1024

/* Open (making them) the directories of a pull's staging area. */
static enum pd_err
open_staging(struct pull *p)
{
	char dir[PATH_MAX + 32];
	const char *data = cat_dir(p->c);
	enum pd_err rc;

	snprintf(p->versdir, sizeof(p->versdir), "%s/versions/%s", data,
	    p->o->tree);
	snprintf(p->sparedir, sizeof(p->sparedir), "%s/spare/%s", data,
	    p->o->tree);
	if (snprintf(dir, sizeof(dir), "%s/staging/%s", data, p->o->tree) >=
	    (int)sizeof(dir))
		return pd_fail(p->err, PD_ERR_LIMIT, "%s: path too long",
		    data);
	if ((rc = pd_mkdirs(dir, 0700, p->err)) != PD_OK ||
	    (rc = pd_mkdirs(p->versdir, 0755, p->err)) != PD_OK)
		return rc;
	if ((p->stagefd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return pd_fail_errno(p->err, PD_ERR_IO, errno, "%s", dir);
	(void)mkdirat(p->stagefd, "objects", 0700);
	(void)mkdirat(p->stagefd, "tmp", 0700);
	if ((p->objfd = openat(p->stagefd, "objects", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    (p->tmpfd = openat(p->stagefd, "tmp", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) < 0)
		return pd_fail_errno(p->err, PD_ERR_IO, errno, "%s/objects "
		    "or tmp", dir);
	if (p->old != NULL) {
		snprintf(dir, sizeof(dir), "%s/%" PRIu64, p->versdir,
		    p->old->version);
		/* Without the old tree there is no basis and nothing to
		 * reuse: everything comes whole. */
		p->prevfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	}
	return PD_OK;
}

/* Count what changes, for the summary. */
static enum pd_err
count_changes(struct pull *p, const struct pr_pack *pk)
{
	struct pr_diff d;
	const struct pr_change *ch;
	enum pd_err rc;
	size_t i;

	if ((rc = pr_diff(p->old, p->m, &d, p->err)) != PD_OK)
		return rc;
	for (i = 0; i < d.n; i++) {
		ch = &d.changes[i];
		if (ch->kind == PR_REMOVED && ch->old->type == PR_FILE)
			p->res->removed++;
		if (ch->new == NULL || ch->new->type != PR_FILE)
			continue;
		if (ch->kind == PR_ADDED)
			p->res->added++;
		else if (ch->kind == PR_CHANGED)
			p->res->changed++;
		else if (ch->kind != PR_RENAMED)
			continue;
		if (ch->new->size > 0 && pr_pack_held(pk, ch->new->sha))
			p->res->reused++;
	}
	pr_diff_free(&d);
	return PD_OK;
}

/* The content of the empty file needs no transfer. */
static enum pd_err
stage_empty(struct pull *p, const struct pr_entry *e)
{
	unsigned char sha[PD_SHA256_LEN];
	char hex[PD_SHA256_HEX], ps[PR_SHOW_MAX];
	int fd;

	if (pd_sha256("", 0, sha) != PD_OK)
		return pd_fail(p->err, PD_ERR_CRYPTO, "hashing");
	if (memcmp(sha, e->sha, sizeof(sha)) != 0)
		return pd_fail(p->err, PD_ERR_CORRUPT, "%s: empty, but its "
		    "SHA-256 is not that of no bytes",
		    pr_path_show(e->path, e->path_len, ps, sizeof(ps)));
	if (p->empty_staged)
		return PD_OK;
	pd_hex_encode(sha, PD_SHA256_LEN, hex);
	if ((fd = openat(p->objfd, hex, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return pd_fail_errno(p->err, PD_ERR_IO, errno, "staging %s",
		    hex);
	close(fd);
	p->empty_staged = true;
	return PD_OK;
}

/*
 * What must be fetched: the pack plan of the step from the held tree
 * (spec/PROTOCOL.md, "Packs"), which the origin derives alike, so that
 * its parts can be asked for by number.  Without the held tree there is
 * no basis and nothing to reuse: everything comes whole.  Empty files
 * are made here.
 */
static enum pd_err
plan(struct pull *p)
{
	const struct pr_manifest *old = p->prevfd >= 0 ? p->old : NULL;
	const struct pr_entry *e;
	enum pd_err rc;
	size_t i;

	if ((rc = pr_pack_plan(old, p->m, &p->pack, p->err)) != PD_OK ||
	    (rc = count_changes(p, &p->pack)) != PD_OK)
		return rc;
	for (i = 0; i < p->m->nentries; i++) {
		e = &p->m->entries[i];
		if (e->type == PR_FILE && e->size == 0 &&
		    (rc = stage_empty(p, e)) != PD_OK)
			return rc;
	}
	if (p->pack.n > 0 && (p->items = pd_calloc(p->pack.n,
	    sizeof(*p->items))) == NULL)
		return pd_fail(p->err, PD_ERR_NOMEM, "planning the pull");
	for (i = 0; i < p->pack.n; i++) {
		p->items[i].e = p->pack.items[i].e;
		p->items[i].basis = p->pack.items[i].basis;
		p->items[i].delta = p->items[i].basis != NULL;
		p->items[i].part = p->pack.items[i].part;
	}
	p->nitems = p->pack.n;
	p->use_pack = old != NULL && p->pack.nparts > 0;
	/* The items have what the transfer needs of the plan: its two
	 * megabytes go before the transfer and the build, the peak. */
	pr_pack_free(&p->pack);
	return PD_OK;
}

/* Versions kept, as nd_publish_prune counts them. */
static unsigned
keep_count(const struct pull *p)
{
	return p->o->keep ? p->o->keep : ND_PULL_KEEP;
}

static enum pd_err
commit(struct pull *p, double start)
{
	struct cat_version v = p->ver;
	uint64_t keep = keep_count(p);
	struct cat_tree now;
	struct cat_txn *t;
	enum pd_err rc;

	v.committed = (int64_t)time(NULL);
	v.hashed_bytes = p->res->bytes_written;
	v.duration_ms = (uint64_t)((pd_mono_sec() - start) * 1000);
	if ((rc = cat_begin(p->c, true, &t, p->err)) != PD_OK)
		return rc;
	rc = cat_tree_get(t, p->o->tree, &now, NULL);
	if ((rc == PD_OK && now.head != (p->have_tree ? p->tree.head : 0)) ||
	    (rc == PD_ERR_NOTFOUND && p->have_tree)) {
		rc = pd_fail(p->err, PD_ERR_CONFLICT, "tree %s changed during "
		    "the pull; run it again", p->o->tree);
		goto fail;
	}
	if (!p->have_tree) {
		memset(&p->tree, 0, sizeof(p->tree));
		snprintf(p->tree.name, sizeof(p->tree.name), "%s",
		    p->o->tree);
		p->tree.created = v.committed;
	}
	p->tree.has_key = true;
	pr_key_public(p->o->trust, p->tree.pubkey);
	p->tree.head = v.number;
	/* The content of the new version is served from its files from
	 * now on; that of the versions the prune below retires no more. */
	if ((rc = cat_tree_put(t, &p->tree, p->err)) != PD_OK ||
	    (rc = cat_manifest_put(t, v.manifest_id, p->mlen, p->err)) !=
	    PD_OK ||
	    (rc = cat_version_put(t, p->o->tree, &v, p->err)) != PD_OK ||
	    (!p->prefilled && (rc = cat_content_index(t, p->o->tree,
	    v.number, p->cstep, p->m, p->err)) != PD_OK) ||
	    (v.number > keep && (rc = cat_content_forget(t, p->o->tree,
	    v.number - keep, p->err)) != PD_OK) ||
	    (rc = nd_keep_records(p->keep, t, p->err)) != PD_OK)
		goto fail;
	/* A task that lost its lease must not publish over newer work. */
	if (p->o->lease != NULL &&
	    (rc = cat_task_lease_check(t, p->o->lease, p->err)) != PD_OK)
		goto fail;
	return cat_commit(t, p->err);
fail:
	cat_abort(t);
	return rc;
}

/* Point PUBDIR/T at versions/T/N unless it already does. */
static enum pd_err
publish(struct pull *p, uint64_t n)
{
	char rel[PATH_MAX + 32], target[PATH_MAX], cur[PATH_MAX];
	char link[PATH_MAX];
	ssize_t len;
	enum pd_err rc;

	snprintf(rel, sizeof(rel), "%s/%" PRIu64, p->versdir, n);
	if (realpath(rel, target) == NULL)
		return pd_fail_errno(p->err, PD_ERR_IO, errno, "%s", rel);
	snprintf(p->res->path, sizeof(p->res->path), "%s", target);
	snprintf(link, sizeof(link), "%s/%s", p->o->pubdir, p->o->tree);
	len = readlink(link, cur, sizeof(cur) - 1);
	if (len >= 0 && (size_t)len == strlen(target) &&
	    memcmp(cur, target, (size_t)len) == 0)
		return PD_OK;
	/* Like rsync's destination, the publish directory is made if new. */
	if ((rc = pd_mkdirs(p->o->pubdir, 0755, p->err)) != PD_OK)
		return rc;
	return nd_publish_switch(p->o->pubdir, p->o->tree, target, p->err);
}

static enum pd_err
up_to_date(struct pull *p)
{
	unsigned char id[PD_SHA256_LEN];
	char dir[PATH_MAX + 32];
	struct stat st;
	enum pd_err rc;

	if ((rc = nd_pl_held_id(p, id)) != PD_OK)
		return rc;
	if (memcmp(id, p->want_id, PD_SHA256_LEN) != 0)
		return pd_fail(p->err, PD_ERR_CONFLICT, "upstream %s offers a "
		    "version %" PRIu64 " of %s other than the one held here",
		    p->o->from, p->want, p->o->tree);
	p->res->up_to_date = true;
	p->res->to_version = p->want;
	snprintf(p->versdir, sizeof(p->versdir), "%s/versions/%s",
	    cat_dir(p->c), p->o->tree);
	snprintf(dir, sizeof(dir), "%s/%" PRIu64, p->versdir, p->want);
	/* A crash after the commit left the link behind: repair it. */
	if (stat(dir, &st) == 0)
		return publish(p, p->want);
	return PD_OK;
}

/*
 * The version is published: its staging area can go.  Failing to remove
 * it costs only disk space until the next pull, which reuses or drops
 * what is there, so it does not fail this one.
 */
static void
clean_staging(struct pull *p)
{
	char dir[PATH_MAX];
	struct pd_error e = { 0 };
	int fd;

	snprintf(dir, sizeof(dir), "%s/staging", cat_dir(p->c));
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return;
	if (pd_remove_tree_at(fd, p->o->tree, &e) != PD_OK)
		pd_error_clear(&e);
	close(fd);
}

/* Without a spare asked for, one kept before is only disk used. */
static void
drop_spare(struct pull *p)
{
	struct pd_error e = { 0 };

	if (pd_remove_tree_at(AT_FDCWD, p->sparedir, &e) != PD_OK)
		pd_error_clear(&e);
}

/* A transfer loop to the upstream, with TLS when it is https://. */
static enum pd_err
new_fetch(const struct nd_pull_opts *o, struct nd_fetch **f,
    struct pd_error *err)
{
	enum pd_err rc;

	if (strncmp(o->from, "https://", 8) == 0 && o->tls == NULL)
		return pd_fail(err, PD_ERR_USAGE, "upstream %s: https needs "
		    "this node's certificate, its key and the CA", o->from);
	if ((rc = nd_fetch_new(o->from, o->parallel, f, err)) != PD_OK)
		return rc;
	nd_fetch_set_rate(*f, o->rate);
	if (o->stop != NULL)
		nd_fetch_set_stop(*f, o->stop, o->stop_arg);
	if (o->tls == NULL)
		return rc;
	if ((rc = nd_fetch_set_tls(*f, o->tls, err)) != PD_OK) {
		nd_fetch_free(*f);
		*f = NULL;
	}
	return rc;
}

static enum pd_err
pull(struct pull *p, double start)
{
	struct nd_xfer_opts xo = { 0 };
	struct nd_xfer_stats xs = { 0 };
	char name[32], packbase[PR_TREE_NAME_MAX + 64], fromhex[PD_SHA256_HEX];
	unsigned parallel = p->o->parallel ? p->o->parallel :
	    ND_FETCH_PARALLEL;
	uint64_t held;
	double t;
	enum pd_err rc;
	size_t i;

	if ((rc = nd_pl_load_held(p)) != PD_OK ||
	    (rc = nd_pl_fetch_head(p)) != PD_OK)
		return rc;
	held = p->have_tree ? p->tree.head : 0;
	if (held != 0 && p->want < held)
		return pd_fail(p->err, PD_ERR_CONFLICT, "upstream %s offers "
		    "version %" PRIu64 " of %s, older than version %" PRIu64
		    " held here; refusing to go back", p->o->from, p->want,
		    p->o->tree, held);
	/* Decided without reading the held manifest: a no-op costs one
	 * request and a catalog lookup. */
	if (held != 0 && p->want == held)
		return up_to_date(p);
	/* From here on it hashes and verifies. */
	if ((rc = pd_crypto_load(p->err)) != PD_OK)
		return rc;
	if ((rc = nd_pl_load_old(p)) != PD_OK)
		return rc;
	if ((rc = nd_pl_fetch_manifest(p)) != PD_OK)
		return rc;
	/* Megabytes: described and saved now, the pull does not carry
	 * them along. */
	if ((rc = nd_version_describe(p->m, p->old, p->mdigest, &p->ver,
	    p->err)) != PD_OK)
		return rc;
	rc = cat_manifest_end(p->mw, p->m->id, p->err);
	p->mw = NULL;
	if (rc != PD_OK)
		return rc;
	if ((rc = open_staging(p)) != PD_OK ||
	    (rc = plan(p)) != PD_OK)
		return rc;
	/*
	 * What comes for a step is kept as it came, once verified, for the
	 * node to serve onwards to those at the version it had (a relay).
	 * A first pull keeps nothing: what came is the tree itself, which
	 * the node serves from its files, and a compressed copy of it all
	 * would double the disk of every mirror for receivers that may
	 * never come (they cost one compression each, kept then).
	 */
	if (!p->o->no_relay && p->old != NULL && p->prevfd >= 0) {
		if ((rc = nd_keep_new(p->c, p->tmpfd, &p->keep, p->err)) !=
		    PD_OK)
			return rc;
		nd_keep_step(p->keep, p->old->id, p->m->id);
		if (p->got_patch)
			nd_keep_mpatch(p->keep, p->patch.data, p->patch.len,
			    p->zpatch.data, p->zpatch.len);
	}
	/* From here the build goes on beside the transfer. */
	if ((rc = nd_pl_build_start(p)) != PD_OK)
		return rc;
	xo.fetch = p->f;
	xo.stagefd = p->objfd;
	xo.tmpfd = p->tmpfd;
	xo.prevfd = p->prevfd;
	xo.threads = p->o->threads;
	xo.keep = p->keep;
	xo.staged = nd_pl_staged;
	xo.give = nd_pl_give;
	xo.place_dir = nd_pl_place_dir;
	xo.staged_arg = p;
	if (p->use_pack) {
		snprintf(packbase, sizeof(packbase), "/v1/trees/%s/versions/"
		    "%" PRIu64 "/pack", p->o->tree, p->m->version);
		pd_hex_encode(p->old->id, PD_SHA256_LEN, fromhex);
		xo.pack_base = packbase;
		xo.pack_from = fromhex;
	}
	rc = nd_xfer_recheck(&xo, p->items, p->nitems, &xs, p->err);
	for (i = 0; rc == PD_OK && i < p->nitems; i++)
		if (!p->items[i].done)
			p->res->content_bytes += p->items[i].e->size;
	if (rc == PD_OK && p->nitems >= ND_PULL_SPLIT_MIN && parallel > 1 &&
	    new_fetch(p->o, &p->f2, p->err) != PD_OK)
		pd_error_clear(p->err);	/* one loop does it all */
	/* Two loops share the bandwidth, and the transfers at once: each
	 * running response holds a zstd decoder of over a megabyte. */
	if (p->f2 != NULL) {
		nd_fetch_set_rate(p->f, p->o->rate / 2);
		nd_fetch_set_rate(p->f2, p->o->rate / 2);
		nd_fetch_set_parallel(p->f, (parallel + 1) / 2);
		nd_fetch_set_parallel(p->f2, parallel / 2);
	}
	if (rc == PD_OK)
		rc = nd_xfer_run2(&xo, p->f2, p->items, p->nitems, &xs,
		    p->err);
	p->res->deltas = xs.deltas;
	p->res->objects = xs.objects;
	p->res->fallbacks = xs.fallbacks;
	p->res->resumed = xs.resumed;
	p->res->pack_parts = xs.packs;
	p->res->pack_misses = xs.pack_misses;
	p->res->loops = xs.loops;
	p->res->bytes_written += xs.bytes_written;
	p->res->seconds_transfer = pd_mono_sec() - start;
	if (rc != PD_OK)
		nd_pl_build_join(p, true);
	/* Before the version is recorded: a relay that has it serves its
	 * step as received, never making it. */
	if (rc != PD_OK || (rc = nd_keep_install(p->keep, p->err)) != PD_OK)
		return rc;
	/* Staged, and the kept deltas installed (they looked at their
	 * items): the items' 2.5 MB (80,000 of them) need not sit through
	 * the build and the commit. */
	pd_free(p->items);
	p->items = NULL;
	p->nitems = 0;
	t = pd_mono_sec();
	rc = nd_pl_build(p, name, sizeof(name));
	/* Built: the held manifest has done its work, once the content
	 * index has what it needs of it. */
	if (rc == PD_OK && p->old != NULL)
		rc = cat_content_plan(p->old, p->m, &p->cstep, p->err);
	pr_manifest_free(p->old);
	p->old = NULL;
	/* A first version's index, in small transactions before the one
	 * that records it: in that one, 80,000 records were 8 MB. */
	if (rc == PD_OK && p->cstep == NULL &&
	    (!p->have_tree || p->tree.head == 0)) {
		rc = cat_content_prefill(p->c, p->o->tree, p->m->version,
		    p->m, p->err);
		p->prefilled = rc == PD_OK;
	}
	p->res->seconds_build = pd_mono_sec() - t;
	if (rc != PD_OK || (rc = commit(p, start)) != PD_OK)
		return rc;
	p->res->to_version = p->m->version;
	if ((rc = publish(p, p->m->version)) != PD_OK)
		return rc;
	/* Done: the staging area and old versions can go. */
	if ((rc = nd_publish_prune(p->versdir, p->m->version, keep_count(p),
	    p->o->no_spare ? NULL : p->sparedir, p->err)) != PD_OK)
		return rc;
	if (p->o->no_spare)
		drop_spare(p);
	clean_staging(p);
	return PD_OK;
}

enum pd_err
nd_pull(struct cat *c, const struct nd_pull_opts *o,
    struct nd_pull_result *res, struct pd_error *err)
{
	struct pull p = { 0 };
	const char *why;
	double start = pd_mono_sec();
	int lockfd = -1;
	enum pd_err rc;

	memset(res, 0, sizeof(*res));
	if ((why = pr_tree_name_check(o->tree)) != NULL)
		return pd_fail(err, PD_ERR_USAGE, "tree %s: %s", o->tree, why);
	p.c = c;
	p.o = o;
	p.res = res;
	p.err = err;
	p.stagefd = p.objfd = p.tmpfd = p.prevfd = -1;
	p.buildfd = p.sparefd = -1;
	if ((rc = cat_lock_tree(c, o->tree, &lockfd, err)) != PD_OK ||
	    (rc = new_fetch(o, &p.f, err)) != PD_OK)
		goto out;
	rc = pull(&p, start);
	res->requests = nd_fetch_stats(p.f)->requests;
	res->retried = nd_fetch_stats(p.f)->retried;
	res->sent_bytes = nd_fetch_stats(p.f)->sent_bytes;
	res->wire_bytes = nd_fetch_stats(p.f)->wire_bytes;
	if (p.f2 != NULL) {
		res->requests += nd_fetch_stats(p.f2)->requests;
		res->retried += nd_fetch_stats(p.f2)->retried;
		res->sent_bytes += nd_fetch_stats(p.f2)->sent_bytes;
		res->wire_bytes += nd_fetch_stats(p.f2)->wire_bytes;
	}
	res->wire_bytes += res->sent_bytes;
out:
	nd_pl_build_free(&p);
	res->seconds = pd_mono_sec() - start;
	nd_fetch_free(p.f);
	nd_fetch_free(p.f2);
	pr_manifest_free(p.old);
	pr_manifest_free(p.m);
	cat_manifest_drop(p.mw);
	cat_content_plan_free(p.cstep);
	pd_buf_free(&p.patch);
	pd_buf_free(&p.zpatch);
	nd_keep_stats(p.keep, &res->kept);
	nd_keep_free(p.keep);
	pd_free(p.items);
	pr_pack_free(&p.pack);
	if (p.objfd >= 0)
		close(p.objfd);
	if (p.tmpfd >= 0)
		close(p.tmpfd);
	if (p.prevfd >= 0)
		close(p.prevfd);
	if (p.stagefd >= 0)
		close(p.stagefd);
	if (lockfd >= 0)
		cat_unlock_tree(lockfd);
	return rc;
}
