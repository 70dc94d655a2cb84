/*
 * Content transfer for a pull (xfer.h).
 *
 * Each round queues every item not yet done on one libcurl multi handle:
 * items over PR_PACK_ALONE as GETs of their own, the rest in batches,
 * one per part of the step's pack plan (pack.h): in the first round the
 * parts themselves (GETs the origin answers from one cached file for
 * every receiver), in later rounds POSTs naming what is left.  Bodies are
 * written to DIR/tmp while being hashed; an object is renamed into the
 * staging directory (or, from a batch, given to the build) only when
 * its size and SHA-256 match the manifest.
 * Deltas are applied after the round, on a thread pool, and the result
 * is checked the same way.  Whatever goes
 * wrong with one item's bytes (a bad hash, a delta that does not apply,
 * a delta the origin cannot make) sends it back, whole, to the next
 * round; an item bad twice, or a transfer that failed on the network,
 * ends the pull, with what was staged kept for the next attempt.
 *
 * The records of batch and pack responses are parsed in xbatch.c; the
 * receiver of one body is xrecv.c's; they share the loop's context
 * through xfer_int.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "../common/hex.h"
#include "../common/mem.h"
#include "../common/pool.h"
#include "../common/sha256.h"
#include "../delta/delta.h"
#include "../protocol/pack.h"
#include "../protocol/pathenc.h"
#include "hashfile.h"
#include "xfer_int.h"

#define ROUNDS_MAX	4

/* ---- one large item per GET ---- */

struct alone {
	struct xctx	*x;
	struct recv	 r;
	struct nd_keep_raw *raw;	/* the body as it comes, or NULL */
	struct pd_error	 err;
};

static enum pd_err
alone_sink(void *arg, const void *p, size_t n)
{
	struct alone *a = arg;

	return nd_x_recv_write(a->x, &a->r, p, n, &a->err);
}

static void
alone_done(void *arg, long status, enum pd_err rc, const struct pd_error *e)
{
	struct alone *a = arg;
	struct xctx *x = a->x;
	struct nd_xitem *it = a->r.it;
	struct pd_error why = { 0 };
	char ps[PR_SHOW_MAX];

	if (rc == PD_OK && a->err.code == PD_OK && status == 303) {
		/* The origin judged the delta not worth it. */
		nd_x_recv_drop(x, &a->r, false);
		it->delta = false;
		nd_keep_whole(x->o->keep, it);
	} else if (rc == PD_OK && a->err.code == PD_OK) {
		if (nd_x_recv_close(x, &a->r, &why) != PD_OK)
			nd_x_item_bad(x, it, &why);
		else if (a->r.delta) {
			/* Offered as it came; kept once it has applied. */
			it->kept = nd_keep_zdelta(a->raw, it, a->r.got);
			a->raw = NULL;
		} else if (it->done) {
			nd_keep_object(a->raw, it);
			a->raw = NULL;
		}
	} else if (a->err.code != PD_OK && a->err.code != PD_ERR_IO) {
		nd_x_recv_drop(x, &a->r, false);
		nd_x_item_bad(x, it, &a->err);
	} else if (rc == PD_ERR_NOTFOUND && a->r.delta) {
		nd_x_recv_drop(x, &a->r, false);
		nd_x_item_bad(x, it, e);
	} else if (rc == PD_ERR_LIMIT) {
		/* More bytes than the manifest allows: the peer's fault, not
		 * the network's; nothing of it is kept. */
		nd_x_recv_drop(x, &a->r, false);
		nd_x_item_bad(x, it, e);
	} else if (rc == PD_ERR_NOTFOUND) {
		nd_x_recv_drop(x, &a->r, false);
		pd_fail(&why, rc, "%s: upstream does not hold its content",
		    nd_x_item_show(it, ps, sizeof(ps)));
		nd_x_hard_fail(x, &why);
	} else {
		/* Network trouble: keep what came, a Range resumes it. */
		nd_x_recv_drop(x, &a->r, !a->r.delta);
		nd_x_hard_fail(x, a->err.code != PD_OK ? &a->err : e);
	}
	nd_keep_raw_drop(a->raw);
	nd_x_recv_free(&a->r);
	pd_free(a);
}

/*
 * Continue the part file an earlier attempt left for r's object: hash
 * what is there, leave r->fd at its end.  Returns the bytes kept; 0 with
 * r->fd -1 when there is nothing to keep.
 */
static uint64_t
resume_part(struct xctx *x, struct recv *r)
{
	unsigned char *buf = NULL;
	struct stat st;
	ssize_t n = -1;
	uint64_t done = 0;

	nd_x_part_name(r->it->e->sha, r->name);
	if ((r->fd = openat(x->o->tmpfd, r->name, O_RDWR | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return 0;
	if (fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size == 0 || (uint64_t)st.st_size >= r->it->e->size ||
	    (buf = pd_malloc(ND_HASH_BUF)) == NULL ||
	    pd_sha256_init(r->h) != PD_OK)
		goto restart;
	while ((n = pd_read_full(r->fd, buf, ND_HASH_BUF)) > 0) {
		if (pd_sha256_update(r->h, buf, (size_t)n) != PD_OK)
			break;
		done += (uint64_t)n;
	}
	if (n != 0 || done != (uint64_t)st.st_size)
		goto restart;
	pd_free(buf);
	r->left = r->it->e->size - done;
	r->got = done;
	return done;
restart:
	pd_free(buf);
	close(r->fd);
	r->fd = -1;
	unlinkat(x->o->tmpfd, r->name, 0);
	return 0;
}

static enum pd_err
queue_alone(struct xctx *x, struct nd_xitem *it, struct pd_error *err)
{
	struct nd_fetch_req q = { 0 };
	struct alone *a;
	char path[2 * PD_SHA256_HEX + 32];
	char from[PD_SHA256_HEX], to[PD_SHA256_HEX];
	uint64_t size = it->delta ? ND_X_DELTA_CAP(it->e->size) : it->e->size;
	uint64_t kept = 0;
	enum pd_err rc;

	if ((a = pd_calloc(1, sizeof(*a))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "queueing a download");
	a->x = x;
	nd_x_recv_init(&a->r);
	a->r.it = it;
	nd_x_obj_name(it->e->sha, to);
	if ((a->r.h = pd_sha256_new()) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "queueing %s", to);
		goto fail;
	}
	if (!it->delta && (kept = resume_part(x, &a->r)) > 0)
		x->st->resumed += kept;
	else if ((rc = nd_x_recv_start(x, &a->r, it, it->delta, size, err)) !=
	    PD_OK)
		goto fail;
	/* A delta's size is known only when it has all come. */
	a->r.open_end = it->delta;
	if (it->delta) {
		nd_x_obj_name(it->basis->sha, from);
		snprintf(path, sizeof(path), "/v1/deltas/%s/%s", from, to);
	} else
		snprintf(path, sizeof(path), "/v1/objects/%s", to);
	/* A body that comes whole can be kept as it came, for a relay;
	 * one resumed comes in pieces. */
	if (kept == 0)
		a->raw = nd_keep_raw_new(x->o->keep, ND_X_ZSTD_CAP(size));
	q.path = path;
	q.range_from = kept;
	q.cap = size - kept;
	q.sink = alone_sink;
	q.done = alone_done;
	q.arg = a;
	q.raw = a->raw != NULL ? nd_keep_raw_write : NULL;
	q.raw_arg = a->raw;
	if ((rc = nd_fetch_queue(x->o->fetch, &q, err)) != PD_OK)
		goto fail;
	x->st->requests++;
	return PD_OK;
fail:
	nd_x_recv_drop(x, &a->r, false);
	nd_keep_raw_drop(a->raw);
	nd_x_recv_free(&a->r);
	pd_free(a);
	return rc;
}

/* ---- applying deltas ---- */

struct patchjob {
	struct xctx		*x;
	struct nd_xitem		**items;
	struct pd_error		*errs;	/* one per item */
	unsigned char		*ok;
};

static enum pd_err
patch_one(struct xctx *x, struct nd_xitem *it, struct pd_error *err)
{
	char dname[2 * PD_SHA256_HEX + 8], pname[PD_SHA256_HEX + 8];
	char hex[PD_SHA256_HEX], ps[PR_SHOW_MAX];
	unsigned char sha[PD_SHA256_LEN], *buf = NULL;
	struct pd_sha256 *h = NULL;
	struct stat st;
	uint64_t outlen = 0, nread = 0;
	int bfd = -1, dfd = -1, ofd = -1;
	enum pd_err rc;

	nd_x_delta_name(it, dname);
	nd_x_part_name(it->e->sha, pname);
	nd_x_item_show(it, ps, sizeof(ps));
	/* The basis is the previous version's file, which a local user
	 * may have changed: it must still look as the old manifest says,
	 * and the result is checked by hash whatever it was. */
	if ((bfd = pd_open_beneath(x->o->prevfd, it->basis->path, O_RDONLY |
	    O_NONBLOCK, 0)) < 0 || fstat(bfd, &st) < 0) {
		rc = pd_fail_errno(err, PD_ERR_NOTFOUND, errno, "%s: basis",
		    ps);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != it->basis->size) {
		rc = pd_fail(err, PD_ERR_CORRUPT, "%s: the previous version's "
		    "file changed", ps);
		goto out;
	}
	if ((dfd = openat(x->o->tmpfd, dname, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 ||
	    (ofd = openat(x->o->tmpfd, pname, O_RDWR | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s: staging", ps);
		goto out;
	}
	if ((rc = dl_patch(bfd, (uint64_t)st.st_size, dfd, ofd, it->e->size,
	    &outlen, err)) != PD_OK) {
		pd_prefix(err, "%s: delta", ps);
		goto out;
	}
	if ((h = pd_sha256_new()) == NULL ||
	    (buf = pd_malloc(ND_HASH_BUF)) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "%s", ps);
		goto out;
	}
	if (lseek(ofd, 0, SEEK_SET) < 0 ||
	    (rc = nd_hash_fd(ofd, h, buf, NULL, &nread, sha, ps, err)) !=
	    PD_OK)
		goto out;
	if (nread != it->e->size ||
	    memcmp(sha, it->e->sha, sizeof(sha)) != 0) {
		rc = pd_fail(err, PD_ERR_CORRUPT, "%s: the patched content "
		    "does not match the manifest", ps);
		goto out;
	}
	nd_x_obj_name(it->e->sha, hex);
	if (renameat(x->o->tmpfd, pname, x->o->stagefd, hex) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "staging %s", hex);
		goto out;
	}
	/* It applied and gave the manifest's content: a relay keeps it
	 * (it takes the file), unless it has it as it came. */
	if (!it->kept)
		nd_keep_delta(x->o->keep, it, x->o->tmpfd, dname);
	rc = PD_OK;
out:
	if (rc != PD_OK && ofd >= 0)
		unlinkat(x->o->tmpfd, pname, 0);
	if (dfd >= 0)
		unlinkat(x->o->tmpfd, dname, 0);
	if (bfd >= 0)
		close(bfd);
	if (dfd >= 0)
		close(dfd);
	if (ofd >= 0)
		close(ofd);
	pd_free(buf);
	pd_sha256_free(h);
	return rc;
}

static void
patch_fn(void *arg, size_t i, unsigned worker)
{
	struct patchjob *j = arg;

	(void)worker;
	j->ok[i] = patch_one(j->x, j->items[i], &j->errs[i]) == PD_OK;
}

static enum pd_err
patch_all(struct xctx *x, struct nd_xitem *items, size_t n,
    struct pd_error *err)
{
	struct patchjob j = { x, NULL, NULL, NULL };
	struct pd_pool *pool = NULL;
	size_t i, k = 0;
	enum pd_err rc = PD_OK;

	for (i = 0; i < n; i++)
		k += items[i].got_delta;
	if (k == 0)
		return PD_OK;
	if ((j.items = pd_calloc(k, sizeof(*j.items))) == NULL ||
	    (j.errs = pd_calloc(k, sizeof(*j.errs))) == NULL ||
	    (j.ok = pd_calloc(k, 1)) == NULL ||
	    pd_pool_new(x->o->threads, &pool) != PD_OK) {
		rc = pd_fail(err, PD_ERR_NOMEM, "applying deltas");
		goto out;
	}
	for (i = 0, k = 0; i < n; i++)
		if (items[i].got_delta)
			j.items[k++] = &items[i];
	pd_pool_for(pool, k, patch_fn, &j);
	for (i = 0; i < k; i++) {
		j.items[i]->got_delta = false;
		if (j.ok[i]) {
			j.items[i]->done = true;
			nd_x_tell_staged(x->o, j.items[i]);
			x->st->deltas++;
			/* The patched content, written to staging. */
			x->st->bytes_written += j.items[i]->e->size;
		} else
			nd_x_item_bad(x, j.items[i], &j.errs[i]);
	}
out:
	pd_pool_free(pool);
	pd_free(j.items);
	pd_free(j.errs);
	pd_free(j.ok);
	return rc;
}

/* ---- rounds ---- */

/*
 * Queue every item not done: content over PR_PACK_ALONE alone, the rest
 * by pack part (items carry the part the plan gave them, in order).  In
 * a pack round a part with anything left is asked for whole; otherwise
 * what is left of each part goes in one POST /v1/batch.
 */
static enum pd_err
queue_round(struct xctx *x, struct nd_xitem *items, size_t n,
    struct pd_error *err)
{
	struct nd_xitem **batch;
	size_t i, j, nb, left;
	enum pd_err rc = PD_OK;

	if ((batch = pd_calloc(n + 1, sizeof(*batch))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "planning transfers");
	for (i = 0; i < n && rc == PD_OK; i++)
		if (!items[i].done && items[i].part == PR_PACK_NOPART)
			rc = queue_alone(x, &items[i], err);
	for (i = 0; i < n && rc == PD_OK; i = j) {
		if (items[i].part == PR_PACK_NOPART) {
			j = i + 1;
			continue;
		}
		nb = left = 0;
		for (j = i; j < n && (items[j].part == items[i].part ||
		    items[j].part == PR_PACK_NOPART); j++) {
			if (items[j].part == PR_PACK_NOPART ||
			    (items[j].done && !x->pack))
				continue;
			batch[nb++] = &items[j];
			left += !items[j].done;
		}
		if (left > 0)
			rc = nd_x_queue_batch(x, batch, nb, x->pack ?
			    items[i].part : PR_PACK_NOPART, err);
	}
	pd_free(batch);
	return rc;
}

enum pd_err
nd_xfer_run(const struct nd_xfer_opts *o, struct nd_xitem *items, size_t n,
    struct nd_xfer_stats *st, struct pd_error *err)
{
	struct xctx x = { o, st, false, err, false };
	char ps[PR_SHOW_MAX];
	enum pd_err rc;
	unsigned round;
	size_t i;

	for (round = 0; round < ROUNDS_MAX; round++) {
		for (i = 0; i < n && items[i].done; i++)
			;
		if (i == n)
			return PD_OK;
		/* The first round asks for pack parts, if there is a pack. */
		x.pack = round == 0 && o->pack_base != NULL;
		if ((rc = queue_round(&x, items, n, err)) != PD_OK)
			x.hard = true;
		/* Let what is queued finish, even after a failure: staged
		 * objects are kept for the next attempt. */
		if (nd_fetch_run(o->fetch, err) != PD_OK)
			x.hard = true;
		if (!x.hard && patch_all(&x, items, n, err) != PD_OK)
			x.hard = true;
		if (x.hard)
			return err->code != PD_OK ? err->code :
			    pd_fail(err, PD_ERR_IO, "transfer failed");
	}
	for (i = 0; i < n && items[i].done; i++)
		;
	return pd_fail(err, PD_ERR_CORRUPT, "%s: no good content after %u "
	    "rounds", nd_x_item_show(&items[i], ps, sizeof(ps)), ROUNDS_MAX);
}

/* ---- two transfer loops at once ---- */

#define SPLIT_MIN	1024	/* items worth a second loop */

struct half {
	struct nd_xfer_opts	 o;
	struct nd_xitem		*items;
	size_t			 n;
	struct nd_xfer_stats	 st;
	struct pd_error		 err;
	enum pd_err		 rc;
};

static void *
half_main(void *arg)
{
	struct half *h = arg;

	h->rc = nd_xfer_run(&h->o, h->items, h->n, &h->st, &h->err);
	return NULL;
}

/*
 * Does a pack part start at item s, none of it before?  Parts come in
 * item order; items fetched alone (no part) sit between their members,
 * so the part to compare with is the last one before s.
 */
static bool
part_starts(const struct nd_xitem *items, size_t s)
{
	size_t k;

	if (items[s].part == PR_PACK_NOPART)
		return false;
	for (k = s; k-- > 0;)
		if (items[k].part != PR_PACK_NOPART)
			return items[k].part != items[s].part;
	return true;
}

/* Where to cut: the part start nearest the middle, or 0 for none. */
static size_t
split_at(const struct nd_xitem *items, size_t n)
{
	size_t d, lo, hi;

	for (d = 0; d < n / 4; d++) {
		lo = n / 2 - d;
		hi = n / 2 + d;
		if (part_starts(items, lo))
			return lo;
		if (hi < n && part_starts(items, hi))
			return hi;
	}
	return 0;
}

static void
stats_add(struct nd_xfer_stats *a, const struct nd_xfer_stats *b)
{
	a->objects += b->objects;
	a->deltas += b->deltas;
	a->fallbacks += b->fallbacks;
	a->bytes_written += b->bytes_written;
	a->requests += b->requests;
	a->resumed += b->resumed;
	a->packs += b->packs;
	a->pack_misses += b->pack_misses;
}

enum pd_err
nd_xfer_run2(const struct nd_xfer_opts *o, struct nd_fetch *second,
    struct nd_xitem *items, size_t n, struct nd_xfer_stats *st,
    struct pd_error *err)
{
	struct half h;
	pthread_t t;
	enum pd_err rc;
	size_t s = 0;

	if (second != NULL && n >= SPLIT_MIN && sysconf(_SC_NPROCESSORS_ONLN) >
	    1)
		s = split_at(items, n);
	st->loops = 1;
	if (s == 0)
		return nd_xfer_run(o, items, n, st, err);
	memset(&h, 0, sizeof(h));
	h.o = *o;
	h.o.fetch = second;
	h.items = items + s;
	h.n = n - s;
	if (pthread_create(&t, NULL, half_main, &h) != 0)
		return nd_xfer_run(o, items, n, st, err);
	st->loops = 2;
	rc = nd_xfer_run(o, items, s, st, err);
	pthread_join(t, NULL);
	stats_add(st, &h.st);
	if (rc == PD_OK && h.rc != PD_OK) {
		*err = h.err;
		rc = h.rc;
	}
	return rc;
}

/* ---- resuming ---- */

struct recheck {
	const struct nd_xfer_opts *o;
	struct nd_xitem		*items;
	unsigned char		*ok;
};

static void
recheck_fn(void *arg, size_t i, unsigned worker)
{
	struct recheck *r = arg;
	struct nd_xitem *it = &r->items[i];
	unsigned char sha[PD_SHA256_LEN], *buf = NULL;
	char hex[PD_SHA256_HEX];
	struct pd_sha256 *h = NULL;
	struct pd_error e = { 0 };
	uint64_t nread;
	int fd;

	(void)worker;
	nd_x_obj_name(it->e->sha, hex);
	if ((fd = openat(r->o->stagefd, hex, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) < 0)
		return;
	if ((h = pd_sha256_new()) != NULL &&
	    (buf = pd_malloc(ND_HASH_BUF)) != NULL &&
	    nd_hash_fd(fd, h, buf, NULL, &nread, sha, hex, &e) == PD_OK &&
	    nread == it->e->size && memcmp(sha, it->e->sha, sizeof(sha)) == 0)
		r->ok[i] = 1;
	else
		unlinkat(r->o->stagefd, hex, 0);
	close(fd);
	pd_free(buf);
	pd_sha256_free(h);
}

enum pd_err
nd_xfer_recheck(const struct nd_xfer_opts *o, struct nd_xitem *items,
    size_t n, struct nd_xfer_stats *st, struct pd_error *err)
{
	struct recheck r = { o, items, NULL };
	struct pd_pool *pool = NULL;
	size_t i;

	if (n == 0)
		return PD_OK;
	if ((r.ok = pd_calloc(n, 1)) == NULL ||
	    pd_pool_new(o->threads, &pool) != PD_OK) {
		pd_free(r.ok);
		return pd_fail(err, PD_ERR_NOMEM, "checking staged content");
	}
	pd_pool_for(pool, n, recheck_fn, &r);
	pd_pool_free(pool);
	for (i = 0; i < n; i++)
		if (r.ok[i] && !items[i].done) {
			items[i].done = true;
			nd_x_tell_staged(o, &items[i]);
			st->resumed += items[i].e->size;
		}
	pd_free(r.ok);
	return PD_OK;
}
