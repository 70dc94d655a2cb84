/*
 * POST /v1/batch (spec/PROTOCOL.md): many small objects and deltas in
 * one response, one record per item in request order, then "end"; and
 * the parts of a step's pack, whose records are the same without the
 * hashes (both sides derive the items from the two manifests, so naming
 * them again would only add two hashes a record to the wire).
 *
 * The response is made by a small state machine that appends records to
 * a buffer a piece at a time (an object's content or a delta's decoded
 * bytes may span pieces), so it streams with bounded memory.  When the
 * client takes zstd, the whole response is compressed into a file kept
 * under DATA/batches/ and named by the SHA-256 of the request body:
 * receivers at the same version send identical requests, so each
 * step's batches are compressed once, whoever asks.  A response that
 * says "missing" is not kept (the node may get the content later), and
 * one whose content passes BATCH_ZMAX is not compressed at all, so that
 * no request can hold a worker compressing without bound.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../catalog/objstore.h"
#include "../common/fsx.h"
#include "../common/hex.h"
#include "../common/mem.h"
#include "../delta/zstd.h"
#include "../protocol/pack.h"
#include "prepare.h"
#include "serve.h"

#define BATCH_TYPE	"application/vnd.pulpdist.batch"
#define PACK_TYPE	"application/vnd.pulpdist.pack"
#define BATCH_ZMAX	(64ULL << 20)	/* plain bytes compressed at most */

struct batch {
	struct cat		*cat;
	struct nd_dcache	*dc;
	struct nd_namer		*namer;		/* names what is kept,
						 * or NULL: named now */
	struct nd_bitem		*items;
	size_t			 n;
	size_t			 i;		/* next item to start */
	int			 fd;		/* content being sent, or -1 */
	uint64_t		 off, left;	/* of an object */
	struct nd_zread		*zr;		/* of a delta */
	bool			 ended;		/* "end" written */
	uint64_t		 plain;		/* bytes produced */
	uint64_t		 missing;	/* "missing" records */
	bool			 too_big;	/* over BATCH_ZMAX */
	int			 level;		/* of zstd */
	bool			 pack;		/* a pack part: records
						 * without hashes */
	/* Makes items when first needed: a response kept compressed
	 * is served without them. */
	enum pd_err		(*fill)(void *, struct nd_bitem **, size_t *,
				    struct pd_error *);
	void			*fill_arg;
};

static void
content_done(struct batch *b)
{
	nd_zread_free(b->zr);
	b->zr = NULL;
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

static void
batch_free(void *p)
{
	struct batch *b = p;

	if (b == NULL)
		return;
	content_done(b);
	pd_free(b->items);
	pd_free(b->fill_arg);
	pd_free(b);
}

/* Back to before the first record. */
static void
batch_rewind(struct batch *b)
{
	content_done(b);
	b->i = 0;
	b->ended = false;
	b->plain = b->missing = 0;
	b->too_big = false;
}

static enum pd_err
add(struct evbuffer *out, struct pd_error *err, const char *fmt, ...)
    PD_PRINTF(3, 4);

static enum pd_err
add(struct evbuffer *out, struct pd_error *err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	return n < 0 ? pd_fail(err, PD_ERR_NOMEM, "batch buffer") : PD_OK;
}

/*
 * Start sending object sha as an "object" record; *found false (nothing
 * written) if the node does not hold it.
 */
static enum pd_err
start_object(struct batch *b, const unsigned char *sha, struct evbuffer *out,
    bool *found, struct pd_error *err)
{
	struct pd_error why = { 0 };
	char hex[PD_SHA256_HEX];
	uint64_t size;
	enum pd_err rc;
	int fd;

	*found = false;
	/* A published file (on a mirror) is checked first: a response is
	 * kept, and a damaged file must make "missing", not bad bytes. */
	if ((rc = cat_content_open(b->cat, sha, CAT_VERIFY, &fd, &size,
	    &why)) != PD_OK)
		return rc == PD_ERR_NOTFOUND ? PD_OK : pd_fail(err, rc, "%s",
		    why.msg);
	pd_hex_encode(sha, PD_SHA256_LEN, hex);
	if ((rc = b->pack ? add(out, err, "o %llu\n",
	    (unsigned long long)size) : add(out, err, "object %s %llu\n", hex,
	    (unsigned long long)size)) != PD_OK) {
		close(fd);
		return rc;
	}
	*found = true;
	b->fd = fd;
	b->off = 0;
	b->left = size;
	if (b->left == 0)
		content_done(b);
	return PD_OK;
}

/* Write the record head of item it (and set up its content). */
static enum pd_err
start_item(struct batch *b, const struct nd_bitem *it, struct evbuffer *out,
    struct pd_error *err)
{
	char a[PD_SHA256_HEX], z[PD_SHA256_HEX];
	struct cat_delta rec;
	struct nd_delta d;
	enum pd_err rc;
	bool found;

	pd_hex_encode(it->a, PD_SHA256_LEN, a);
	if (it->kind == 'o') {
		if ((rc = start_object(b, it->a, out, &found, err)) != PD_OK)
			return rc;
		if (found)
			return PD_OK;
		b->missing++;
		return b->pack ? add(out, err, "m\n") :
		    add(out, err, "missing %s\n", a);
	}
	pd_hex_encode(it->b, PD_SHA256_LEN, z);
	/* A delta kept (a relay's, received) needs neither object. */
	if ((!cat_content_known(b->cat, it->a) ||
	    !cat_content_known(b->cat, it->b)) &&
	    cat_delta_lookup(b->cat, it->a, it->b, &rec, NULL) != PD_OK)
		goto missing;
	if ((rc = nd_dcache_delta(b->dc, it->a, it->b, &d, err)) != PD_OK) {
		if (rc != PD_ERR_NOTFOUND)
			return rc;
		pd_error_clear(err);
		goto missing;
	}
	if (d.kind == ND_DELTA_WHOLE) {
		if (d.fd >= 0)
			close(d.fd);
		if ((rc = start_object(b, it->b, out, &found, err)) != PD_OK)
			return rc;
		if (found)
			return PD_OK;
		goto missing;
	}
	b->fd = d.fd;
	if ((rc = nd_zread_new(d.fd, d.zsize, d.size, &b->zr, err)) != PD_OK)
		return rc;
	if (b->pack)
		return add(out, err, "d %llu\n", (unsigned long long)d.size);
	return add(out, err, "delta %s %s %llu\n", a, z,
	    (unsigned long long)d.size);
missing:
	b->missing++;
	return b->pack ? add(out, err, "m\n") :
	    add(out, err, "missing %s %s\n", a, z);
}

/* Append up to n more bytes of the object being sent. */
static enum pd_err
object_piece(struct batch *b, struct evbuffer *out, size_t n,
    struct pd_error *err)
{
	struct evbuffer_iovec v;
	ssize_t got;

	if (n > b->left)
		n = (size_t)b->left;
	if (evbuffer_reserve_space(out, (ev_ssize_t)n, &v, 1) < 1)
		return pd_fail(err, PD_ERR_NOMEM, "batch buffer");
	do
		got = pread(b->fd, v.iov_base, n, (off_t)b->off);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "reading an "
		    "object");
	if (got == 0)
		return pd_fail(err, PD_ERR_CORRUPT, "object shorter than when "
		    "it was opened");
	v.iov_len = (size_t)got;
	if (evbuffer_commit_space(out, &v, 1) != 0)
		return pd_fail(err, PD_ERR_NOMEM, "batch buffer");
	b->off += (uint64_t)got;
	if ((b->left -= (uint64_t)got) == 0)
		content_done(b);
	return PD_OK;
}

/* Append records to out until it holds want bytes or the end is in. */
static enum pd_err
batch_fill(struct batch *b, struct evbuffer *out, size_t want,
    struct pd_error *err)
{
	size_t have0 = evbuffer_get_length(out), have;
	bool done;
	enum pd_err rc = PD_OK;

	while ((have = evbuffer_get_length(out)) < want && !b->ended &&
	    rc == PD_OK) {
		if (b->zr != NULL) {
			rc = nd_zread_get(b->zr, out, want - have, &done, err);
			if (rc == PD_OK && done)
				content_done(b);
		} else if (b->fd >= 0)
			rc = object_piece(b, out, want - have, err);
		else if (b->i < b->n)
			rc = start_item(b, &b->items[b->i++], out, err);
		else if ((rc = add(out, err, "end\n")) == PD_OK)
			b->ended = true;
	}
	b->plain += evbuffer_get_length(out) - have0;
	return rc;
}

static enum pd_err
produce_batch(struct nd_req *r, struct evbuffer *out)
{
	struct batch *b = r->ctx;
	enum pd_err rc;

	if ((rc = batch_fill(b, out, ND_CHUNK, &r->err)) != PD_OK)
		return rc;
	r->eof = b->ended;
	return PD_OK;
}

static enum pd_err
fd_sink(void *arg, const void *p, size_t n)
{
	return pd_write_all(*(int *)arg, p, n);
}

/* Fill b's items now if they were left for when they are needed. */
static enum pd_err
batch_items(struct batch *b, struct pd_error *err)
{
	if (b->items != NULL || b->fill == NULL)
		return PD_OK;
	return b->fill(b->fill_arg, &b->items, &b->n, err);
}

/* nd_make_fn: the whole response, compressed as one zstd stream. */
static enum pd_err
make_zbatch(void *arg, int fd, bool *keep, struct pd_error *err)
{
	struct batch *b = arg;
	struct dl_zenc *z = NULL;
	struct evbuffer *buf;
	struct evbuffer_iovec v[8];
	int i, nv;
	enum pd_err rc;

	if ((rc = batch_items(b, err)) != PD_OK)
		return rc;
	if ((buf = evbuffer_new()) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "batch buffer");
	if ((rc = dl_zenc_new(b->level, false, &z, err)) != PD_OK)
		goto out;
	while (!b->ended) {
		if ((rc = batch_fill(b, buf, ND_CHUNK, err)) != PD_OK)
			goto out;
		if (b->plain > BATCH_ZMAX) {
			b->too_big = true;
			rc = pd_fail(err, PD_ERR_LIMIT, "batch response over "
			    "%llu bytes", (unsigned long long)BATCH_ZMAX);
			goto out;
		}
		while (evbuffer_get_length(buf) > 0) {
			nv = evbuffer_peek(buf, -1, NULL, v, 8);
			if (nv > 8)
				nv = 8;
			for (i = 0; i < nv; i++)
				if ((rc = dl_zenc_feed(z, v[i].iov_base,
				    v[i].iov_len, fd_sink, &fd, err)) != PD_OK)
					goto out;
			for (i = 0; i < nv; i++)
				evbuffer_drain(buf, v[i].iov_len);
		}
	}
	rc = dl_zenc_finish(z, fd_sink, &fd, err);
	*keep = b->missing == 0;
out:
	dl_zenc_free(z);
	evbuffer_free(buf);
	return rc;
}

/* Whether every item's content is held (for the cache headers). */
static bool
all_held(struct nd_req *r, const struct nd_bitem *items, size_t n)
{
	struct cat_txn *t = NULL;
	struct pd_error err;
	bool ok = true;
	size_t i;

	if (cat_begin(r->cat, false, &t, &err) != PD_OK)
		return false;
	for (i = 0; i < n && ok; i++)
		ok = cat_content_has(t, items[i].a) && (items[i].kind == 'o' ||
		    cat_content_has(t, items[i].b));
	cat_abort(t);
	return ok;
}

/* b's whole response compressed, DATA/dir/NAME.zst, made if not kept. */
static enum pd_err
batch_zfile(struct batch *b, const char *dir, const char *name, int *fd,
    bool *kept, struct pd_error *err)
{
	char zname[ND_BATCH_NAME_MAX + 8];

	snprintf(zname, sizeof(zname), "%s.zst", name);
	return nd_derived(b->cat, b->namer, dir, zname, make_zbatch, b, fd,
	    kept, err);
}

/*
 * Reply with b's records: from DATA/dir/NAME.zst, made now if it is not
 * kept yet, when the client takes zstd; else streamed plain.  name (hex
 * digits and dashes) is also the ETag.  b is taken over.
 */
static void
batch_reply(struct nd_req *r, struct batch *b, const char *dir,
    const char *name)
{
	const char *type = b->pack ? PACK_TYPE : BATCH_TYPE;
	char etag[ND_BATCH_NAME_MAX + 16];
	struct stat st;
	enum pd_err rc;
	bool kept;
	int fd;

	if (r->zstd_ok) {
		rc = batch_zfile(b, dir, name, &fd, &kept, &r->err);
		if (rc == PD_OK) {
			batch_free(b);
			if (fstat(fd, &st) != 0) {
				close(fd);
				nd_reply_error(r, 500, "internal error");
				return;
			}
			nd_reply_file(r, fd, 0, (uint64_t)st.st_size);
			nd_reply_header(r, "Content-Type", "%s", type);
			nd_reply_header(r, "Content-Encoding", "zstd");
			nd_reply_header(r, "Vary", "Accept-Encoding");
			snprintf(etag, sizeof(etag), "\"%s-zstd\"", name);
			if (kept)
				nd_reply_header(r, "ETag", "%s", etag);
			nd_reply_header(r, "Cache-Control", "%s", kept ?
			    ND_IMMUTABLE : "no-cache");
			return;
		}
		if (!b->too_big)
			goto failed;
		pd_error_clear(&r->err);
		batch_rewind(b);
	}
	if ((rc = batch_items(b, &r->err)) != PD_OK)
		goto failed;
	r->items = (uint32_t)b->n;
	nd_reply_reset_body(r);
	r->ctx = b;
	r->ctx_free = batch_free;
	r->produce = produce_batch;
	nd_reply_header(r, "Content-Type", "%s", type);
	nd_reply_header(r, "Vary", "Accept-Encoding");
	if (all_held(r, b->items, b->n)) {
		snprintf(etag, sizeof(etag), "\"%s\"", name);
		nd_reply_header(r, "ETag", "%s", etag);
		nd_reply_header(r, "Cache-Control", ND_IMMUTABLE);
	} else
		nd_reply_header(r, "Cache-Control", "no-cache");
	return;
failed:
	batch_free(b);
	if (rc == PD_ERR_NOTFOUND)
		nd_reply_error(r, 404, "%s", r->err.msg);
	else
		nd_reply_error(r, rc == PD_ERR_NOMEM ? 503 : 500, "%s",
		    rc == PD_ERR_NOMEM ? "out of memory" : "internal error");
	pd_error_clear(&r->err);
}

static void
batch_init(struct batch *b, struct cat *c, struct nd_dcache *dc, int level)
{
	memset(b, 0, sizeof(*b));
	b->cat = c;
	b->dc = dc;
	b->fd = -1;
	b->level = level;
}

static struct batch *
batch_new(struct nd_req *r, int level)
{
	struct batch *b;

	if ((b = pd_malloc(sizeof(*b))) == NULL) {
		nd_reply_error(r, 503, "out of memory");
		return NULL;
	}
	batch_init(b, r->cat, r->dc, level);
	b->namer = r->namer;
	return b;
}

void
nd_batch(struct nd_req *r)
{
	unsigned char key[PD_SHA256_LEN];
	char hex[PD_SHA256_HEX];
	struct batch *b;
	enum pd_err rc;

	if ((b = batch_new(r, DL_ZLEVEL_KEPT)) == NULL)
		return;
	rc = nd_batch_parse(r->input, r->input_len, &b->items, &b->n,
	    &r->err);
	if (rc != PD_OK) {
		batch_free(b);
		if (rc == PD_ERR_NOMEM)
			nd_reply_error(r, 503, "out of memory");
		else
			nd_reply_error(r, rc == PD_ERR_LIMIT ? 413 : 400, "%s",
			    r->err.msg);
		pd_error_clear(&r->err);
		return;
	}
	r->items = (uint32_t)b->n;
	if (pd_sha256(r->input, r->input_len, key) != PD_OK) {
		batch_free(b);
		nd_reply_error(r, 500, "internal error");
		return;
	}
	pd_hex_encode(key, PD_SHA256_LEN, hex);
	batch_reply(r, b, "batches", hex);
}

/* ------------------------------------------------------------------ */
/* Packs */

struct packref {
	struct cat	*cat;
	unsigned char	 from[PD_SHA256_LEN];
	unsigned char	 to[PD_SHA256_LEN];
	uint32_t	 part;
};

/* Parse the held manifests from and to, and plan the pack between. */
static enum pd_err
plan_pack(struct cat *c, const unsigned char *from, const unsigned char *to,
    struct pr_manifest **a, struct pr_manifest **z, struct pr_pack *pk,
    struct pd_error *err)
{
	struct cat_txn *t = NULL;
	enum pd_err rc;

	*a = *z = NULL;
	if ((rc = cat_begin(c, false, &t, err)) != PD_OK ||
	    (rc = cat_manifest_load(t, from, a, NULL, err)) != PD_OK ||
	    (rc = cat_manifest_load(t, to, z, NULL, err)) != PD_OK)
		goto out;
	cat_abort(t);
	t = NULL;
	rc = pr_pack_plan(*a, *z, pk, err);
out:
	cat_abort(t);
	return rc;
}

/* The items of part of pk, as batch records. */
static enum pd_err
part_items(const struct pr_pack *pk, uint32_t part, struct nd_bitem **out,
    size_t *nout, struct pd_error *err)
{
	const struct pr_pack_item *it;
	struct nd_bitem *items;
	size_t i, n = 0;

	for (i = 0; i < pk->n; i++)
		n += pk->items[i].part == part;
	if ((items = pd_calloc(n + 1, sizeof(*items))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "pack items");
	for (i = 0, n = 0; i < pk->n; i++) {
		it = &pk->items[i];
		if (it->part != part)
			continue;
		items[n].kind = it->basis ? 'd' : 'o';
		memcpy(items[n].a, it->basis ? it->basis->sha : it->e->sha,
		    PD_SHA256_LEN);
		memcpy(items[n].b, it->e->sha, PD_SHA256_LEN);
		n++;
	}
	*out = items;
	*nout = n;
	return PD_OK;
}

/* The items of one part of the pack from -> to (both held manifests). */
static enum pd_err
pack_items(void *arg, struct nd_bitem **out, size_t *nout,
    struct pd_error *err)
{
	struct packref *pr = arg;
	struct pr_manifest *a = NULL, *z = NULL;
	struct pr_pack pk = { 0 };
	enum pd_err rc;

	if ((rc = plan_pack(pr->cat, pr->from, pr->to, &a, &z, &pk, err)) !=
	    PD_OK)
		goto out;
	if (pr->part >= pk.nparts) {
		rc = pd_fail(err, PD_ERR_NOTFOUND, "the pack to version %llu "
		    "has %" PRIu32 " parts, not %" PRIu32,
		    (unsigned long long)z->version, pk.nparts, pr->part + 1);
		goto out;
	}
	rc = part_items(&pk, pr->part, out, nout, err);
out:
	pr_pack_free(&pk);
	pr_manifest_free(a);
	pr_manifest_free(z);
	return rc;
}

void
nd_pack_name(const unsigned char *from, const unsigned char *to,
    uint32_t part, char name[ND_STEP_NAME_MAX])
{
	char a[PD_SHA256_HEX], z[PD_SHA256_HEX];

	pd_hex_encode(from, PD_SHA256_LEN, a);
	pd_hex_encode(to, PD_SHA256_LEN, z);
	snprintf(name, ND_STEP_NAME_MAX, "%s-%s-%" PRIu32, a, z, part);
}

void
nd_pack_reply(struct nd_req *r, const unsigned char *from,
    const unsigned char *to)
{
	char name[ND_BATCH_NAME_MAX];
	struct packref *pr;
	struct batch *b;

	if ((b = batch_new(r, ND_ZLEVEL_ONCE)) == NULL)
		return;
	if ((pr = pd_calloc(1, sizeof(*pr))) == NULL) {
		batch_free(b);
		nd_reply_error(r, 503, "out of memory");
		return;
	}
	pr->cat = r->cat;
	memcpy(pr->from, from, PD_SHA256_LEN);
	memcpy(pr->to, to, PD_SHA256_LEN);
	pr->part = r->t.part;
	b->pack = true;
	b->fill = pack_items;
	b->fill_arg = pr;
	nd_pack_name(from, to, r->t.part, name);
	batch_reply(r, b, "packs", name);
}

struct prep {
	struct cat		*cat;
	struct nd_dcache	*dc;
	const struct pr_pack	*pk;
	const unsigned char	*from, *to;
	enum pd_err		*rc;		/* one per part */
	struct pd_error		*errs;		/* one per part */
};

static void
prep_part(void *arg, size_t i, unsigned worker)
{
	struct prep *pp = arg;
	struct batch b;
	char name[ND_BATCH_NAME_MAX];
	enum pd_err *rc = &pp->rc[i];
	bool kept;
	int fd;

	(void)worker;
	batch_init(&b, pp->cat, pp->dc, ND_ZLEVEL_ONCE);
	b.pack = true;
	if ((*rc = part_items(pp->pk, (uint32_t)i, &b.items, &b.n,
	    &pp->errs[i])) != PD_OK)
		return;
	nd_pack_name(pp->from, pp->to, (uint32_t)i, name);
	if ((*rc = batch_zfile(&b, "packs", name, &fd, &kept,
	    &pp->errs[i])) == PD_OK)
		close(fd);
	content_done(&b);
	pd_free(b.items);
}

enum pd_err
nd_pack_prepare(struct cat *c, struct nd_dcache *dc, struct pd_pool *pool,
    const unsigned char *from, const unsigned char *to, uint32_t *nparts,
    struct pd_error *err)
{
	struct pr_manifest *a = NULL, *z = NULL;
	struct pr_pack pk = { 0 };
	struct prep pp;
	enum pd_err rc;
	uint32_t i;

	memset(&pp, 0, sizeof(pp));
	if (nparts != NULL)
		*nparts = 0;
	if ((rc = plan_pack(c, from, to, &a, &z, &pk, err)) != PD_OK)
		goto out;
	if (nparts != NULL)
		*nparts = pk.nparts;
	if (pk.nparts == 0)
		goto out;
	pp.cat = c;
	pp.dc = dc;
	pp.pk = &pk;
	pp.from = from;
	pp.to = to;
	if ((pp.rc = pd_calloc(pk.nparts, sizeof(*pp.rc))) == NULL ||
	    (pp.errs = pd_calloc(pk.nparts, sizeof(*pp.errs))) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "pack parts");
		goto out;
	}
	pd_pool_for(pool, pk.nparts, prep_part, &pp);
	for (i = 0; i < pk.nparts; i++)
		if (pp.rc[i] != PD_OK) {
			rc = pd_fail(err, pp.rc[i], "part %" PRIu32 " of the "
			    "pack to version %llu: %s", i,
			    (unsigned long long)z->version, pp.errs[i].msg);
			break;
		}
out:
	pd_free(pp.rc);
	pd_free(pp.errs);
	pr_pack_free(&pk);
	pr_manifest_free(a);
	pr_manifest_free(z);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Parsing the request */

static bool
hash_of(json_t *s, unsigned char *out)
{
	return json_is_string(s) && json_string_length(s) ==
	    2 * PD_SHA256_LEN && pd_hex_decode(json_string_value(s),
	    PD_SHA256_LEN, out);
}

enum pd_err
nd_batch_parse(const void *body, size_t len, struct nd_bitem **out,
    size_t *nout, struct pd_error *err)
{
	struct nd_bitem *items = NULL;
	json_error_t je;
	json_t *root, *list, *it, *k;
	const char *kind;
	size_t n, i, m;
	enum pd_err rc = PD_OK;

	*out = NULL;
	*nout = 0;
	if (len > ND_BATCH_BODY_MAX)
		return pd_fail(err, PD_ERR_LIMIT, "batch request of %zu bytes, "
		    "at most %d", len, ND_BATCH_BODY_MAX);
	if ((root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL)
		return pd_fail(err, PD_ERR_PARSE, "batch request is not JSON: "
		    "%s at byte %d", je.text, je.position);
	if (!json_is_object(root) || json_object_size(root) != 1 ||
	    !json_is_array(list = json_object_get(root, "items"))) {
		rc = pd_fail(err, PD_ERR_PARSE, "batch request: want "
		    "{\"items\": [...]} and nothing else");
		goto out;
	}
	if ((n = json_array_size(list)) == 0) {
		rc = pd_fail(err, PD_ERR_PARSE, "batch request has no items");
		goto out;
	}
	if (n > ND_BATCH_ITEMS_MAX) {
		rc = pd_fail(err, PD_ERR_LIMIT, "batch request of %zu items, "
		    "at most %d", n, ND_BATCH_ITEMS_MAX);
		goto out;
	}
	if ((items = pd_calloc(n, sizeof(*items))) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "batch items");
		goto out;
	}
	for (i = 0; i < n; i++) {
		it = json_array_get(list, i);
		m = json_is_array(it) ? json_array_size(it) : 0;
		k = json_array_get(it, 0);
		kind = json_is_string(k) ? json_string_value(k) : "";
		if (m == 2 && strcmp(kind, "o") == 0 &&
		    json_string_length(k) == 1 &&
		    hash_of(json_array_get(it, 1), items[i].a))
			items[i].kind = 'o';
		else if (m == 3 && strcmp(kind, "d") == 0 &&
		    json_string_length(k) == 1 &&
		    hash_of(json_array_get(it, 1), items[i].a) &&
		    hash_of(json_array_get(it, 2), items[i].b))
			items[i].kind = 'd';
		else {
			rc = pd_fail(err, PD_ERR_PARSE, "batch item %zu: want "
			    "[\"o\", SHA256] or [\"d\", FROM, TO] with 64 "
			    "lowercase hex digits each", i + 1);
			goto out;
		}
	}
	*out = items;
	*nout = n;
	items = NULL;
out:
	pd_free(items);
	json_decref(root);
	return rc;
}
