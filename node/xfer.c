/*
 * Content transfer for a pull (xfer.h).
 *
 * Each round queues every item not yet done on one libcurl multi handle:
 * items over PR_PACK_ALONE as GETs of their own, the rest in batches,
 * one per part of the step's pack plan (pack.h): in the first round the
 * parts themselves (GETs the origin answers from one cached file for
 * every receiver), in later rounds POSTs naming what is left.  Bodies are
 * written to DIR/tmp while being hashed; an object is renamed into the
 * staging directory only when its size and SHA-256 match the manifest.
 * Deltas are applied after the round, on a thread pool, and the result
 * is checked the same way.  Whatever goes
 * wrong with one item's bytes (a bad hash, a delta that does not apply,
 * a delta the origin cannot make) sends it back, whole, to the next
 * round; an item bad twice, or a transfer that failed on the network,
 * ends the pull, with what was staged kept for the next attempt.
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
#include "../common/pool.h"
#include "../common/sha256.h"
#include "../delta/delta.h"
#include "../protocol/pack.h"
#include "../protocol/pathenc.h"
#include "hashfile.h"
#include "xfer.h"

#define ROUNDS_MAX	4
#define RECORD_LINE_MAX	(2 * PD_SHA256_HEX + 64)
/* A delta never needs to be much larger than the content it makes. */
#define DELTA_CAP(size)	((size) + (size) / 8 + 65536)

struct xctx {
	const struct nd_xfer_opts *o;
	struct nd_xfer_stats	*st;
	bool			 hard;	/* stop after this round */
	struct pd_error		*err;
	bool			 pack;	/* this round asks for pack parts */
};

/* One body being received into DIR/tmp. */
struct recv {
	struct nd_xitem		*it;
	bool			 delta;
	bool			 open_end;	/* left is a cap, not a size */
	int			 fd;
	struct pd_sha256	*h;
	uint64_t		 left;	/* bytes still to come */
	uint64_t		 got;
	char			 name[2 * PD_SHA256_HEX + 8];
};

static void
obj_name(const unsigned char *sha, char *out)
{
	pd_hex_encode(sha, PD_SHA256_LEN, out);
}

static void
part_name(const unsigned char *sha, char *out)
{
	pd_hex_encode(sha, PD_SHA256_LEN, out);
	memcpy(out + 2 * PD_SHA256_LEN, ".part", 6);
}

static void
delta_name(const struct nd_xitem *it, char *out)
{
	pd_hex_encode(it->basis->sha, PD_SHA256_LEN, out);
	pd_hex_encode(it->e->sha, PD_SHA256_LEN, out + 2 * PD_SHA256_LEN);
	memcpy(out + 4 * PD_SHA256_LEN, ".delta", 7);
}

/* Describe an item for messages: its first path. */
static const char *
item_show(const struct nd_xitem *it, char *buf, size_t len)
{
	return pr_path_show(it->e->path, it->e->path_len, buf, len);
}

/* A failure that ends the pull; the first one is the one reported. */
static enum pd_err
hard_fail(struct xctx *x, const struct pd_error *e)
{
	x->hard = true;
	return pd_fail(x->err, e->code, "%s", e->msg);
}

/*
 * An item's bytes were wrong: it goes again, whole, unless that was the
 * second time.
 */
static void
item_bad(struct xctx *x, struct nd_xitem *it, const struct pd_error *why)
{
	char ps[PR_SHOW_MAX];

	if (it->delta) {
		it->delta = false;
		x->st->fallbacks++;
		return;
	}
	if (++it->bad < 2)
		return;
	x->hard = true;
	pd_fail(x->err, why->code, "%s: content from the origin is wrong "
	    "twice: %s", item_show(it, ps, sizeof(ps)), why->msg);
}

/* Start a body of size bytes for it, into a new file in DIR/tmp. */
static enum pd_err
recv_start(struct xctx *x, struct recv *r, struct nd_xitem *it, bool delta,
    uint64_t size, struct pd_error *err)
{
	r->it = it;
	r->delta = delta;
	r->open_end = false;
	r->left = size;
	r->got = 0;
	if (delta)
		delta_name(it, r->name);
	else
		part_name(it->e->sha, r->name);
	if (r->h == NULL && (r->h = pd_sha256_new()) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "receiving %s", r->name);
	if (pd_sha256_init(r->h) != PD_OK)
		return pd_fail(err, PD_ERR_CRYPTO, "receiving %s", r->name);
	if ((r->fd = openat(x->o->tmpfd, r->name, O_WRONLY | O_CREAT |
	    O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "staging %s",
		    r->name);
	return PD_OK;
}

static enum pd_err
recv_write(struct xctx *x, struct recv *r, const void *p, size_t n,
    struct pd_error *err)
{
	if (n > r->left)
		return pd_fail(err, PD_ERR_LIMIT, "%s: more bytes than "
		    "announced", r->name);
	if (!r->delta && pd_sha256_update(r->h, p, n) != PD_OK)
		return pd_fail(err, PD_ERR_CRYPTO, "hashing %s", r->name);
	if (pd_write_all(r->fd, p, n) != PD_OK)
		return pd_fail_errno(err, PD_ERR_IO, errno, "writing staged "
		    "%s", r->name);
	r->left -= n;
	r->got += n;
	x->st->bytes_written += n;
	return PD_OK;
}

/* Forget a body; keep is for a part file that a Range can resume. */
static void
recv_drop(struct xctx *x, struct recv *r, bool keep)
{
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
		if (!keep)
			unlinkat(x->o->tmpfd, r->name, 0);
	}
}

/*
 * A body arrived whole: an object is checked and staged, a delta waits
 * for the patch phase.  PD_OK with the item not done means its bytes
 * were wrong (already accounted for).
 */
static enum pd_err
recv_close(struct xctx *x, struct recv *r, struct pd_error *err)
{
	struct nd_xitem *it = r->it;
	unsigned char sha[PD_SHA256_LEN];
	char hex[PD_SHA256_HEX], ps[PR_SHOW_MAX];
	struct pd_error why = { 0 };

	if (r->left != 0 && !r->open_end) {
		recv_drop(x, r, false);
		return pd_fail(err, PD_ERR_PARSE, "%s: body ended early",
		    r->name);
	}
	close(r->fd);
	r->fd = -1;
	if (r->delta) {
		it->got_delta = true;
		return PD_OK;
	}
	if (pd_sha256_final(r->h, sha) != PD_OK)
		return pd_fail(err, PD_ERR_CRYPTO, "hashing %s", r->name);
	if (memcmp(sha, it->e->sha, sizeof(sha)) != 0) {
		unlinkat(x->o->tmpfd, r->name, 0);
		pd_fail(&why, PD_ERR_CORRUPT, "%s: SHA-256 does not match "
		    "the manifest", item_show(it, ps, sizeof(ps)));
		item_bad(x, it, &why);
		return PD_OK;
	}
	obj_name(it->e->sha, hex);
	if (renameat(x->o->tmpfd, r->name, x->o->stagefd, hex) < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "staging %s", hex);
	it->done = true;
	x->st->objects++;
	return PD_OK;
}

/* ---- one large item per GET ---- */

struct alone {
	struct xctx	*x;
	struct recv	 r;
	struct pd_error	 err;
};

static enum pd_err
alone_sink(void *arg, const void *p, size_t n)
{
	struct alone *a = arg;

	return recv_write(a->x, &a->r, p, n, &a->err);
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
		recv_drop(x, &a->r, false);
		it->delta = false;
	} else if (rc == PD_OK && a->err.code == PD_OK) {
		if (recv_close(x, &a->r, &why) != PD_OK)
			item_bad(x, it, &why);
	} else if (a->err.code != PD_OK && a->err.code != PD_ERR_IO) {
		recv_drop(x, &a->r, false);
		item_bad(x, it, &a->err);
	} else if (rc == PD_ERR_NOTFOUND && a->r.delta) {
		recv_drop(x, &a->r, false);
		item_bad(x, it, e);
	} else if (rc == PD_ERR_LIMIT) {
		/* More bytes than the manifest allows: the peer's fault, not
		 * the network's; nothing of it is kept. */
		recv_drop(x, &a->r, false);
		item_bad(x, it, e);
	} else if (rc == PD_ERR_NOTFOUND) {
		recv_drop(x, &a->r, false);
		pd_fail(&why, rc, "%s: the origin does not hold its content",
		    item_show(it, ps, sizeof(ps)));
		hard_fail(x, &why);
	} else {
		/* Network trouble: keep what came, a Range resumes it. */
		recv_drop(x, &a->r, !a->r.delta);
		hard_fail(x, a->err.code != PD_OK ? &a->err : e);
	}
	pd_sha256_free(a->r.h);
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

	part_name(r->it->e->sha, r->name);
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
	struct alone *a;
	char path[2 * PD_SHA256_HEX + 32];
	char from[PD_SHA256_HEX], to[PD_SHA256_HEX];
	uint64_t size = it->delta ? DELTA_CAP(it->e->size) : it->e->size;
	uint64_t kept = 0;
	enum pd_err rc;

	if ((a = pd_calloc(1, sizeof(*a))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "queueing a download");
	a->x = x;
	a->r.fd = -1;
	a->r.it = it;
	obj_name(it->e->sha, to);
	if ((a->r.h = pd_sha256_new()) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "queueing %s", to);
		goto fail;
	}
	if (!it->delta && (kept = resume_part(x, &a->r)) > 0)
		x->st->resumed += kept;
	else if ((rc = recv_start(x, &a->r, it, it->delta, size, err)) !=
	    PD_OK)
		goto fail;
	/* A delta's size is known only when it has all come. */
	a->r.open_end = it->delta;
	if (it->delta) {
		obj_name(it->basis->sha, from);
		snprintf(path, sizeof(path), "/v1/deltas/%s/%s", from, to);
	} else
		snprintf(path, sizeof(path), "/v1/objects/%s", to);
	if ((rc = nd_fetch_add(x->o->fetch, path, NULL, 0, kept, size - kept,
	    alone_sink, alone_done, a, err)) != PD_OK)
		goto fail;
	x->st->requests++;
	return PD_OK;
fail:
	recv_drop(x, &a->r, false);
	pd_sha256_free(a->r.h);
	pd_free(a);
	return rc;
}

/* ---- many small items per POST /v1/batch ---- */

enum bstate { B_LINE, B_BODY, B_END };

struct batch {
	struct xctx	*x;
	bool		 pack;		/* a GET of a pack part */
	struct nd_xitem	**items;
	size_t		 n;
	size_t		 cur;		/* the item the next record is for */
	enum bstate	 state;
	char		 line[RECORD_LINE_MAX + 1];
	size_t		 linelen;
	struct recv	 r;
	struct pd_error	 err;
};

/* Parse "HEX" into sha; false unless exactly 64 lowercase hex digits. */
static bool
tok_sha(const char *tok, unsigned char *sha)
{
	return strlen(tok) == 2 * PD_SHA256_LEN &&
	    pd_hex_decode(tok, PD_SHA256_LEN, sha);
}

static bool
tok_size(const char *tok, uint64_t *v)
{
	char *end;

	if (tok == NULL || tok[0] < '0' || tok[0] > '9' ||
	    (tok[0] == '0' && tok[1] != '\0') || strlen(tok) > 20)
		return false;
	errno = 0;
	*v = strtoull(tok, &end, 10);
	return errno == 0 && *end == '\0';
}

/*
 * One record's line, checked against the item it must be for: the
 * origin answers in request order, with nothing we did not ask for.
 */
static enum pd_err
batch_record(struct batch *b)
{
	struct xctx *x = b->x;
	struct nd_xitem *it;
	char *tok[5], *save = NULL, *p = b->line;
	unsigned char s1[PD_SHA256_LEN], s2[PD_SHA256_LEN];
	char ps[PR_SHOW_MAX];
	uint64_t size;
	size_t nt = 0;

	while (nt < 5 && (tok[nt] = strtok_r(p, " ", &save)) != NULL) {
		nt++;
		p = NULL;
	}
	if (b->cur == b->n) {
		if (nt == 1 && strcmp(tok[0], "end") == 0) {
			b->state = B_END;
			return PD_OK;
		}
		goto bad;
	}
	it = b->items[b->cur];
	if (nt == 3 && strcmp(tok[0], "object") == 0 &&
	    tok_sha(tok[1], s1) && tok_size(tok[2], &size) &&
	    memcmp(s1, it->e->sha, PD_SHA256_LEN) == 0) {
		if (size != it->e->size)
			return pd_fail(&b->err, PD_ERR_CORRUPT, "%s: the "
			    "origin sends %" PRIu64 " bytes, the manifest "
			    "says %" PRIu64, item_show(it, ps, sizeof(ps)),
			    size, it->e->size);
		it->delta = false;	/* whole, if it was a delta: the
					 * origin judged it not worth it */
		b->state = B_BODY;
		return recv_start(x, &b->r, it, false, size, &b->err);
	}
	if (nt == 4 && strcmp(tok[0], "delta") == 0 && it->delta &&
	    tok_sha(tok[1], s1) && tok_sha(tok[2], s2) &&
	    tok_size(tok[3], &size) &&
	    memcmp(s1, it->basis->sha, PD_SHA256_LEN) == 0 &&
	    memcmp(s2, it->e->sha, PD_SHA256_LEN) == 0) {
		if (size > DELTA_CAP(it->e->size))
			return pd_fail(&b->err, PD_ERR_LIMIT, "%s: delta of "
			    "%" PRIu64 " bytes is over the cap",
			    item_show(it, ps, sizeof(ps)), size);
		b->state = B_BODY;
		return recv_start(x, &b->r, it, true, size, &b->err);
	}
	if (nt == 3 && strcmp(tok[0], "missing") == 0 && it->delta &&
	    tok_sha(tok[1], s1) && tok_sha(tok[2], s2) &&
	    memcmp(s1, it->basis->sha, PD_SHA256_LEN) == 0 &&
	    memcmp(s2, it->e->sha, PD_SHA256_LEN) == 0) {
		it->delta = false;
		x->st->fallbacks++;
		b->cur++;
		return PD_OK;
	}
	if (nt == 2 && strcmp(tok[0], "missing") == 0 && !it->delta &&
	    tok_sha(tok[1], s1) &&
	    memcmp(s1, it->e->sha, PD_SHA256_LEN) == 0) {
		x->hard = true;
		return pd_fail(&b->err, PD_ERR_NOTFOUND, "%s: the origin does "
		    "not hold its content", item_show(it, ps, sizeof(ps)));
	}
bad:
	return pd_fail(&b->err, PD_ERR_PARSE, "batch response: record %zu "
	    "of %zu is not what was asked for", b->cur + 1, b->n);
}

static enum pd_err
batch_sink(void *arg, const void *data, size_t n)
{
	struct batch *b = arg;
	const char *p = data, *nl;
	size_t k;
	enum pd_err rc;

	while (n > 0) {
		switch (b->state) {
		case B_LINE:
			nl = memchr(p, '\n', n);
			k = nl ? (size_t)(nl - p) : n;
			if (b->linelen + k > RECORD_LINE_MAX)
				return pd_fail(&b->err, PD_ERR_PARSE, "batch "
				    "response: record line too long");
			memcpy(b->line + b->linelen, p, k);
			b->linelen += k;
			if (nl == NULL)
				return PD_OK;
			k++;
			b->line[b->linelen] = '\0';
			b->linelen = 0;
			p += k;
			n -= k;
			if ((rc = batch_record(b)) != PD_OK)
				return rc;
			break;
		case B_BODY:
			k = n < b->r.left ? n : (size_t)b->r.left;
			if ((rc = recv_write(b->x, &b->r, p, k, &b->err)) !=
			    PD_OK)
				return rc;
			p += k;
			n -= k;
			break;
		case B_END:
			return pd_fail(&b->err, PD_ERR_PARSE, "batch "
			    "response: bytes after its end");
		}
		if (b->state == B_BODY && b->r.left == 0) {
			if ((rc = recv_close(b->x, &b->r, &b->err)) != PD_OK)
				return rc;
			b->state = B_LINE;
			b->cur++;
		}
	}
	return PD_OK;
}

static void
batch_done(void *arg, long status, enum pd_err rc, const struct pd_error *e)
{
	struct batch *b = arg;
	struct xctx *x = b->x;

	recv_drop(x, &b->r, false);
	if (b->pack && rc == PD_ERR_NOTFOUND && status == 404 &&
	    b->err.code == PD_OK) {
		/* The node cannot make this pack (say it lacks our
		 * version's manifest): the next round asks item by item. */
		x->st->pack_misses++;
	} else if (b->err.code != PD_OK && b->err.code != PD_ERR_IO &&
	    !x->hard) {
		/* The origin sent something wrong for item cur. */
		if (b->cur < b->n)
			item_bad(x, b->items[b->cur], &b->err);
	} else if (b->err.code != PD_OK)
		hard_fail(x, &b->err);
	else if (rc == PD_ERR_LIMIT && b->cur < b->n && !x->hard)
		item_bad(x, b->items[b->cur], e);	/* over the cap */
	else if (rc != PD_OK)
		hard_fail(x, e);
	else if (b->state != B_END) {
		pd_fail(&b->err, PD_ERR_PARSE, "batch response ended after "
		    "%zu of %zu records", b->cur, b->n);
		hard_fail(x, &b->err);
	}
	pd_sha256_free(b->r.h);
	pd_free(b->items);
	pd_free(b);
}

/* Expected bytes of a batch's records, for the cap on its body. */
static uint64_t
batch_cap(struct nd_xitem **items, size_t n)
{
	uint64_t cap = 16;
	size_t i;

	for (i = 0; i < n; i++)
		cap += RECORD_LINE_MAX + (items[i]->delta ?
		    DELTA_CAP(items[i]->e->size) : items[i]->e->size);
	return cap;
}

/*
 * Ask for items[0..n) in one response: part k of the step's pack (a
 * GET, the same for every receiver at our version) or, with k ==
 * PR_PACK_NOPART, a POST /v1/batch naming each item.
 */
static enum pd_err
queue_batch(struct xctx *x, struct nd_xitem **items, size_t n, uint32_t k,
    struct pd_error *err)
{
	struct batch *b;
	struct pd_buf req;
	char h1[PD_SHA256_HEX], h2[PD_SHA256_HEX], path[PR_TREE_NAME_MAX + 160];
	enum pd_err rc = PD_OK;
	size_t i;

	pd_buf_init(&req, k == PR_PACK_NOPART ? n * 160 + 64 : 0);
	if ((b = pd_calloc(1, sizeof(*b))) == NULL ||
	    (b->items = pd_calloc(n, sizeof(*b->items))) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "queueing a batch");
		goto fail;
	}
	b->x = x;
	b->n = n;
	b->r.fd = -1;
	b->pack = k != PR_PACK_NOPART;
	memcpy(b->items, items, n * sizeof(*items));
	if (b->pack) {
		snprintf(path, sizeof(path), "%s/%" PRIu32 "?from=%s",
		    x->o->pack_base, k, x->o->pack_from);
		rc = nd_fetch_add(x->o->fetch, path, NULL, 0, 0,
		    batch_cap(items, n), batch_sink, batch_done, b, err);
		if (rc != PD_OK)
			goto fail;
		x->st->requests++;
		x->st->packs++;
		return PD_OK;
	}
	rc = pd_buf_adds(&req, "{\"items\": [");
	for (i = 0; i < n && rc == PD_OK; i++) {
		obj_name(items[i]->e->sha, h2);
		if (items[i]->delta) {
			obj_name(items[i]->basis->sha, h1);
			rc = pd_buf_printf(&req, "%s[\"d\", \"%s\", \"%s\"]",
			    i ? ", " : "", h1, h2);
		} else
			rc = pd_buf_printf(&req, "%s[\"o\", \"%s\"]",
			    i ? ", " : "", h2);
	}
	if (rc != PD_OK || (rc = pd_buf_adds(&req, "]}")) != PD_OK) {
		rc = pd_fail(err, rc, "building a batch request");
		goto fail;
	}
	if ((rc = nd_fetch_add(x->o->fetch, "/v1/batch", req.data, req.len, 0,
	    batch_cap(items, n), batch_sink, batch_done, b, err)) != PD_OK)
		goto fail;
	x->st->requests++;
	pd_buf_free(&req);
	return PD_OK;
fail:
	if (b)
		pd_free(b->items);
	pd_free(b);
	pd_buf_free(&req);
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

	delta_name(it, dname);
	part_name(it->e->sha, pname);
	item_show(it, ps, sizeof(ps));
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
	obj_name(it->e->sha, hex);
	if (renameat(x->o->tmpfd, pname, x->o->stagefd, hex) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "staging %s", hex);
		goto out;
	}
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
			x->st->deltas++;
			/* The patched content, written to staging. */
			x->st->bytes_written += j.items[i]->e->size;
		} else
			item_bad(x, j.items[i], &j.errs[i]);
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
			rc = queue_batch(x, batch, nb, x->pack ? items[i].part :
			    PR_PACK_NOPART, err);
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
	    "rounds", item_show(&items[i], ps, sizeof(ps)), ROUNDS_MAX);
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
	obj_name(it->e->sha, hex);
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
			st->resumed += items[i].e->size;
		}
	pd_free(r.ok);
	return PD_OK;
}
