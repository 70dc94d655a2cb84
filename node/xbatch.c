/*
 * Many small items in one response (xfer.c): the records of a POST
 * /v1/batch or of a pack part, each checked against the item it must be
 * for, their bodies handed to the receiver in xfer.c.  Apart because it
 * is a parser of the peer's bytes with a state of its own, which reads
 * best alone; it shares the transfer's context and the body receiver
 * through xfer_int.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/hex.h"
#include "../common/mem.h"
#include "../common/sha256.h"
#include "../protocol/pack.h"
#include "../protocol/pathenc.h"
#include "xfer_int.h"

#define RECORD_LINE_MAX	(2 * PD_SHA256_HEX + 64)

enum bstate { B_LINE, B_BODY, B_END };

struct batch {
	struct xctx	*x;
	bool		 pack;		/* a GET of a pack part */
	uint32_t	 part;		/* which */
	unsigned char	 key[PD_SHA256_LEN];	/* of a POST's body */
	struct nd_keep_raw *raw;	/* the body as it comes, or NULL */
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

/* An "object" record for it, of size bytes: the content whole. */
static enum pd_err
rec_object(struct batch *b, struct nd_xitem *it, uint64_t size)
{
	struct xctx *x = b->x;
	char ps[PR_SHOW_MAX];

	if (size != it->e->size)
		return pd_fail(&b->err, PD_ERR_CORRUPT, "%s: the origin sends "
		    "%" PRIu64 " bytes, the manifest says %" PRIu64,
		    nd_x_item_show(it, ps, sizeof(ps)), size, it->e->size);
	/* Whole, if it was a delta: the origin judged it not worth it, and
	 * a relay that keeps the judgement judges no more. */
	if (it->delta)
		nd_keep_whole(x->o->keep, it);
	it->delta = false;
	b->state = B_BODY;
	b->r.anon = true;
	return nd_x_recv_start(x, &b->r, it, false, size, &b->err);
}

/* A "delta" record for it (a delta item), of size bytes. */
static enum pd_err
rec_delta(struct batch *b, struct nd_xitem *it, uint64_t size)
{
	char ps[PR_SHOW_MAX];

	if (size > ND_X_DELTA_CAP(it->e->size))
		return pd_fail(&b->err, PD_ERR_LIMIT, "%s: delta of %" PRIu64
		    " bytes is over the cap", nd_x_item_show(it, ps,
		    sizeof(ps)), size);
	b->state = B_BODY;
	return nd_x_recv_start(b->x, &b->r, it, true, size, &b->err);
}

/* A "missing" record for it: a delta gives way to the object, which
 * another request asks for; missing content is the end of this pull. */
static enum pd_err
rec_missing(struct batch *b, struct nd_xitem *it)
{
	struct xctx *x = b->x;
	char ps[PR_SHOW_MAX];

	if (!it->delta) {
		x->hard = true;
		return pd_fail(&b->err, PD_ERR_NOTFOUND, "%s: upstream does "
		    "not hold its content", nd_x_item_show(it, ps, sizeof(ps)));
	}
	it->delta = false;
	it->trouble = true;	/* a response to make again */
	x->st->fallbacks++;
	b->cur++;
	return PD_OK;
}

/* A pack part's record: "o SIZE", "d SIZE" or "m", for the next item. */
static enum pd_err
pack_record(struct batch *b, struct nd_xitem *it, char **tok, size_t nt)
{
	uint64_t size;

	if (nt == 2 && strcmp(tok[0], "o") == 0 && tok_size(tok[1], &size))
		return rec_object(b, it, size);
	if (nt == 2 && strcmp(tok[0], "d") == 0 && it->delta &&
	    tok_size(tok[1], &size))
		return rec_delta(b, it, size);
	if (nt == 1 && strcmp(tok[0], "m") == 0)
		return rec_missing(b, it);
	return pd_fail(&b->err, PD_ERR_PARSE, "pack part %" PRIu32 ": "
	    "record %zu of %zu is not what was asked for", b->part,
	    b->cur + 1, b->n);
}

/*
 * One record's line, checked against the item it must be for: the
 * origin answers in request order, with nothing we did not ask for.
 */
static enum pd_err
batch_record(struct batch *b)
{
	struct nd_xitem *it;
	char *tok[5], *save = NULL, *p = b->line;
	unsigned char s1[PD_SHA256_LEN], s2[PD_SHA256_LEN];
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
	if (b->pack)
		return pack_record(b, it, tok, nt);
	if (nt == 3 && strcmp(tok[0], "object") == 0 &&
	    tok_sha(tok[1], s1) && tok_size(tok[2], &size) &&
	    memcmp(s1, it->e->sha, PD_SHA256_LEN) == 0)
		return rec_object(b, it, size);
	if (nt == 4 && strcmp(tok[0], "delta") == 0 && it->delta &&
	    tok_sha(tok[1], s1) && tok_sha(tok[2], s2) &&
	    tok_size(tok[3], &size) &&
	    memcmp(s1, it->basis->sha, PD_SHA256_LEN) == 0 &&
	    memcmp(s2, it->e->sha, PD_SHA256_LEN) == 0)
		return rec_delta(b, it, size);
	if (nt == 3 && strcmp(tok[0], "missing") == 0 && it->delta &&
	    tok_sha(tok[1], s1) && tok_sha(tok[2], s2) &&
	    memcmp(s1, it->basis->sha, PD_SHA256_LEN) == 0 &&
	    memcmp(s2, it->e->sha, PD_SHA256_LEN) == 0)
		return rec_missing(b, it);
	if (nt == 2 && strcmp(tok[0], "missing") == 0 && !it->delta &&
	    tok_sha(tok[1], s1) &&
	    memcmp(s1, it->e->sha, PD_SHA256_LEN) == 0)
		return rec_missing(b, it);
bad:
	return pd_fail(&b->err, PD_ERR_PARSE, "%s response: record %zu "
	    "of %zu is not what was asked for", b->pack ? "pack part" :
	    "batch", b->cur + 1, b->n);
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
			if ((rc = nd_x_recv_write(b->x, &b->r, p, k,
			    &b->err)) != PD_OK)
				return rc;
			p += k;
			n -= k;
			break;
		case B_END:
			return pd_fail(&b->err, PD_ERR_PARSE, "batch "
			    "response: bytes after its end");
		}
		if (b->state == B_BODY && b->r.left == 0) {
			if ((rc = nd_x_recv_close(b->x, &b->r, &b->err)) !=
			    PD_OK)
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

	nd_x_recv_drop(x, &b->r, false);
	if (b->pack && rc == PD_ERR_NOTFOUND && status == 404 &&
	    b->err.code == PD_OK) {
		/* The node cannot make this pack (say it lacks our
		 * version's manifest): the next round asks item by item. */
		x->st->pack_misses++;
	} else if (b->err.code != PD_OK && b->err.code != PD_ERR_IO &&
	    !x->hard) {
		/* The origin sent something wrong for item cur. */
		if (b->cur < b->n)
			nd_x_item_bad(x, b->items[b->cur], &b->err);
	} else if (b->err.code != PD_OK)
		nd_x_hard_fail(x, &b->err);
	else if (rc == PD_ERR_LIMIT && b->cur < b->n && !x->hard)
		nd_x_item_bad(x, b->items[b->cur], e);	/* over the cap */
	else if (rc != PD_OK)
		nd_x_hard_fail(x, e);
	else if (b->state != B_END) {
		pd_fail(&b->err, PD_ERR_PARSE, "batch response ended after "
		    "%zu of %zu records", b->cur, b->n);
		nd_x_hard_fail(x, &b->err);
	} else if (b->pack) {
		/* Whole: offered, kept if its items all end well. */
		nd_keep_pack(b->raw, b->part, b->items, b->n);
		b->raw = NULL;
	} else {
		nd_keep_batch(b->raw, b->key, b->items, b->n);
		b->raw = NULL;
	}
	nd_keep_raw_drop(b->raw);
	nd_x_recv_free(&b->r);
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
		    ND_X_DELTA_CAP(items[i]->e->size) : items[i]->e->size);
	return cap;
}

/*
 * A POST /v1/batch's body, naming b's items; made when the request
 * starts (nd_body_fn), and its SHA-256 is the name a relay keeps the
 * response under.
 */
static enum pd_err
batch_body(void *arg, struct pd_buf *req, struct pd_error *err)
{
	struct batch *b = arg;
	char h1[PD_SHA256_HEX], h2[PD_SHA256_HEX];
	enum pd_err rc;
	size_t i;

	rc = pd_buf_reserve(req, b->n * 160 + 64);
	if (rc == PD_OK)
		rc = pd_buf_adds(req, "{\"items\": [");
	for (i = 0; i < b->n && rc == PD_OK; i++) {
		nd_x_obj_name(b->items[i]->e->sha, h2);
		if (b->items[i]->delta) {
			nd_x_obj_name(b->items[i]->basis->sha, h1);
			rc = pd_buf_printf(req, "%s[\"d\", \"%s\", \"%s\"]",
			    i ? ", " : "", h1, h2);
		} else
			rc = pd_buf_printf(req, "%s[\"o\", \"%s\"]",
			    i ? ", " : "", h2);
	}
	if (rc != PD_OK || (rc = pd_buf_adds(req, "]}")) != PD_OK)
		return pd_fail(err, rc, "building a batch request");
	if (pd_sha256(req->data, req->len, b->key) != PD_OK)
		return pd_fail(err, PD_ERR_CRYPTO, "hashing a batch request");
	return PD_OK;
}

/*
 * Ask for items[0..n) in one response: part k of the step's pack (a
 * GET, the same for every receiver at our version) or, with k ==
 * PR_PACK_NOPART, a POST /v1/batch naming each item.
 */
enum pd_err
nd_x_queue_batch(struct xctx *x, struct nd_xitem **items, size_t n, uint32_t k,
    struct pd_error *err)
{
	struct nd_fetch_req q = { 0 };
	struct batch *b;
	char path[PR_TREE_NAME_MAX + 160];
	enum pd_err rc = PD_OK;

	if ((b = pd_calloc(1, sizeof(*b))) == NULL ||
	    (b->items = pd_calloc(n, sizeof(*b->items))) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "queueing a batch");
		goto fail;
	}
	b->x = x;
	b->n = n;
	nd_x_recv_init(&b->r);
	b->pack = k != PR_PACK_NOPART;
	b->part = k;
	memcpy(b->items, items, n * sizeof(*items));
	q.cap = batch_cap(items, n);
	q.sink = batch_sink;
	q.done = batch_done;
	q.arg = b;
	/* A relay keeps the response as it came, under the name the
	 * upstream keeps it under, to serve the same bytes onwards. */
	if ((b->raw = nd_keep_raw_new(x->o->keep, ND_X_ZSTD_CAP(q.cap))) !=
	    NULL) {
		q.raw = nd_keep_raw_write;
		q.raw_arg = b->raw;
	}
	if (b->pack) {
		snprintf(path, sizeof(path), "%s/%" PRIu32 "?from=%s",
		    x->o->pack_base, k, x->o->pack_from);
		q.path = path;
	} else {
		q.path = "/v1/batch";
		q.make_body = batch_body;
	}
	if ((rc = nd_fetch_queue(x->o->fetch, &q, err)) != PD_OK)
		goto fail;
	x->st->requests++;
	if (b->pack)
		x->st->packs++;
	return PD_OK;
fail:
	if (b) {
		nd_keep_raw_drop(b->raw);
		pd_free(b->items);
	}
	pd_free(b);
	return rc;
}
