/*
 * Handlers of the node server (spec/PROTOCOL.md): trees, heads,
 * manifests, manifest patches, packs, objects and deltas; the reply
 * helpers they share are in reply.c.  Everything here runs on worker
 * threads (see serve.h); nothing touches libevent's HTTP objects.
 *
 * What a request names is looked up by parsed hex and checked tree
 * names only: no file name below comes from the request.  Derived forms
 * (compressed objects, deltas, compressed manifests, manifest patches)
 * are made once and kept, so a thousand clients cost one computation.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../catalog/objstore.h"
#include "../common/fsx.h"
#include "../common/hex.h"
#include "../common/mem.h"
#include "../delta/zstd.h"
#include "../protocol/mpatch.h"
#include "prepare.h"
#include "serve.h"

/* Manifests shorter than this are not worth compressing. */
#define ZMANIFEST_MIN	1024

#define PLAIN_TYPE	"application/octet-stream"
#define MANIFEST_TYPE	"text/plain; charset=utf-8"
#define PATCH_TYPE	"application/vnd.pulpdist.manifest-patch"

static void
quoted_hex(const unsigned char *a, const unsigned char *b,
    const char *suffix, char *out, size_t sz)
{
	char ha[PD_SHA256_HEX], hb[PD_SHA256_HEX];

	pd_hex_encode(a, PD_SHA256_LEN, ha);
	if (b != NULL)
		pd_hex_encode(b, PD_SHA256_LEN, hb);
	snprintf(out, sz, "\"%s%s%s%s\"", ha, b ? "-" : "", b ? hb : "",
	    suffix);
}

static void
immutable(struct nd_req *r, const char *type, const char *etag)
{
	nd_reply_header(r, "Content-Type", "%s", type);
	nd_reply_header(r, "Cache-Control", ND_IMMUTABLE);
	nd_reply_header(r, "ETag", "%s", etag);
	nd_reply_header(r, "Vary", "Accept-Encoding");
}

/* 404 (with the text) for NOTFOUND, else 500 with the cause logged. */
static void PD_PRINTF(3, 4)
lookup_failed(struct nd_req *r, enum pd_err rc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (rc != PD_ERR_NOTFOUND) {
		nd_reply_error(r, 500, "internal error");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	nd_reply_error(r, 404, "%s", msg);
}

static void
trees(struct nd_req *r)
{
	json_t *arr;

	if (nd_trees_json(r->cat, &arr, &r->err) != PD_OK) {
		nd_reply_error(r, 500, "internal error");
		return;
	}
	nd_reply_json(r, 200, json_pack("{s:o}", "trees", arr));
	nd_reply_header(r, "Cache-Control", "no-cache");
}

/*
 * Tree and version of a request (version 0: the head) into *v;
 * replies 404 or 500 and returns false when there is none.
 */
static bool
find_version(struct nd_req *r, struct cat_txn *t, uint64_t n,
    struct cat_version *v)
{
	struct cat_tree tree;
	enum pd_err rc;

	if ((rc = cat_tree_get(t, r->t.tree, &tree, &r->err)) != PD_OK) {
		lookup_failed(r, rc, "no tree %s", r->t.tree);
		return false;
	}
	if (n == 0 && (n = tree.head) == 0) {
		nd_reply_error(r, 404, "tree %s has no versions", r->t.tree);
		return false;
	}
	if ((rc = cat_version_get(t, r->t.tree, n, v, &r->err)) != PD_OK) {
		lookup_failed(r, rc, "no version %llu of tree %s",
		    (unsigned long long)n, r->t.tree);
		return false;
	}
	return true;
}

static void
head(struct nd_req *r)
{
	struct cat_txn *t = NULL;
	struct cat_version v;
	char id[PD_SHA256_HEX];

	if (cat_begin(r->cat, false, &t, &r->err) != PD_OK) {
		nd_reply_error(r, 500, "internal error");
		return;
	}
	if (find_version(r, t, 0, &v)) {
		pd_hex_encode(v.manifest_id, PD_SHA256_LEN, id);
		nd_reply_json(r, 200, json_pack("{s:s, s:I, s:s}", "tree",
		    r->t.tree, "version", (json_int_t)v.number, "manifest",
		    id));
		nd_reply_header(r, "Cache-Control", "no-cache");
	}
	cat_abort(t);
}

struct mref {
	struct cat	*cat;
	unsigned char	 id[PD_SHA256_LEN];
	unsigned char	 to[PD_SHA256_LEN];
};

/* Copy [off, off + n) of the stored manifest id, in a read of its own. */
static enum pd_err
manifest_slice(struct nd_req *r, const struct mref *m, struct evbuffer *out,
    size_t n)
{
	struct cat_txn *t = NULL;
	const void *data;
	size_t len;
	enum pd_err rc;

	if ((rc = cat_begin(m->cat, false, &t, &r->err)) != PD_OK ||
	    (rc = cat_manifest_get(t, m->id, &data, &len, &r->err)) != PD_OK)
		goto out;
	if (r->off + n > len) {
		rc = pd_fail(&r->err, PD_ERR_CORRUPT, "stored manifest "
		    "shrank");
		goto out;
	}
	if (evbuffer_add(out, (const char *)data + r->off, n) != 0)
		rc = pd_fail(&r->err, PD_ERR_NOMEM, "body buffer");
out:
	cat_abort(t);
	return rc;
}

/*
 * Manifests are immutable and named by id, so each piece can be read in
 * a transaction of its own: a slow client never holds a reader open.
 */
static enum pd_err
produce_manifest(struct nd_req *r, struct evbuffer *out)
{
	size_t n = r->left < ND_CHUNK ? (size_t)r->left : ND_CHUNK;
	enum pd_err rc;

	if ((rc = manifest_slice(r, r->ctx, out, n)) != PD_OK)
		return rc;
	r->off += n;
	r->left -= n;
	r->eof = r->left == 0;
	return PD_OK;
}

/* A dl_zsink writing to the descriptor *arg. */
static enum pd_err
fd_sink(void *arg, const void *p, size_t n)
{
	return pd_write_all(*(int *)arg, p, n);
}

static enum pd_err
make_zmanifest(void *arg, int fd, bool *keep, struct pd_error *err)
{
	struct mref *m = arg;
	struct cat_txn *t = NULL;
	struct dl_zenc *z = NULL;
	const void *data;
	size_t len;
	enum pd_err rc;

	(void)keep;
	if ((rc = cat_begin(m->cat, false, &t, err)) != PD_OK ||
	    (rc = cat_manifest_get(t, m->id, &data, &len, err)) != PD_OK ||
	    (rc = dl_zenc_new(DL_ZLEVEL_DEFAULT, false, &z, err)) != PD_OK ||
	    (rc = dl_zenc_feed(z, data, len, fd_sink, &fd, err)) != PD_OK ||
	    (rc = dl_zenc_finish(z, fd_sink, &fd, err)) != PD_OK)
		goto out;
out:
	dl_zenc_free(z);
	cat_abort(t);
	return rc;
}

static void
manifest(struct nd_req *r)
{
	struct cat_txn *t = NULL;
	struct cat_version v;
	struct mref *m = NULL;
	struct stat st;
	const void *data;
	char etag[PD_SHA256_HEX + 16], name[PD_SHA256_HEX + 8];
	char id[PD_SHA256_HEX];
	size_t len;
	bool kept;
	int fd;

	if (cat_begin(r->cat, false, &t, &r->err) != PD_OK)
		goto fail;
	if (!find_version(r, t, r->t.version, &v))
		goto out;
	if (cat_manifest_len(t, v.manifest_id, &len, &r->err) != PD_OK)
		goto fail;
	if ((m = pd_calloc(1, sizeof(*m))) == NULL)
		goto fail;
	m->cat = r->cat;
	memcpy(m->id, v.manifest_id, sizeof(m->id));
	if (r->zstd_ok && len >= ZMANIFEST_MIN) {
		cat_abort(t);
		t = NULL;
		pd_hex_encode(m->id, PD_SHA256_LEN, id);
		snprintf(name, sizeof(name), "%s.zst", id);
		if (nd_derived(r->cat, r->namer, "zmanifests", name,
		    make_zmanifest, m, &fd, &kept, &r->err) != PD_OK)
			goto fail;
		if (fstat(fd, &st) != 0) {
			close(fd);
			goto fail;
		}
		nd_reply_file(r, fd, 0, (uint64_t)st.st_size);
		quoted_hex(m->id, NULL, "-zstd", etag, sizeof(etag));
		immutable(r, MANIFEST_TYPE, etag);
		nd_reply_header(r, "Content-Encoding", "zstd");
		goto out;
	}
	quoted_hex(m->id, NULL, "", etag, sizeof(etag));
	if (len <= ND_CHUNK) {
		nd_reply_reset_body(r);
		if (cat_manifest_get(t, v.manifest_id, &data, &len, &r->err) !=
		    PD_OK)
			goto fail;
		if (r->body == NULL && (r->body = evbuffer_new()) == NULL)
			goto fail;
		if (evbuffer_add(r->body, data, len) != 0)
			goto fail;
	} else {
		nd_reply_reset_body(r);
		r->ctx = m;
		r->ctx_free = pd_free;
		m = NULL;
		r->left = len;
		r->length = (int64_t)len;
		r->produce = produce_manifest;
	}
	immutable(r, MANIFEST_TYPE, etag);
	goto out;
fail:
	nd_reply_error(r, 500, "internal error");
out:
	pd_free(m);
	cat_abort(t);
}

/*
 * Make the patch from manifest m->id to m->to; an empty file says that
 * a patch would be no smaller than the manifest itself.
 */
static enum pd_err
make_patch(void *arg, int fd, bool *keep, struct pd_error *err)
{
	struct mref *m = arg;
	struct cat_txn *t = NULL;
	struct pr_manifest *from = NULL, *to = NULL;
	struct pd_error perr;
	struct pd_buf b;
	size_t len;
	enum pd_err rc;

	(void)keep;
	pd_buf_init(&b, 0);
	pd_error_clear(&perr);
	if ((rc = cat_begin(m->cat, false, &t, err)) != PD_OK ||
	    (rc = cat_manifest_load(t, m->id, &from, NULL, err)) != PD_OK ||
	    (rc = cat_manifest_load(t, m->to, &to, NULL, err)) != PD_OK ||
	    (rc = cat_manifest_len(t, m->to, &len, err)) != PD_OK)
		goto out;
	cat_abort(t);
	t = NULL;
	pd_buf_init(&b, len);
	rc = pr_mpatch_make(from, to, &b, &perr);
	if (rc == PD_ERR_LIMIT) {
		rc = PD_OK;
		goto out;
	}
	if (rc != PD_OK) {
		pd_fail(err, rc, "manifest patch: %s", perr.msg);
		goto out;
	}
	if (pd_write_all(fd, b.data, b.len) != PD_OK)
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "writing a manifest "
		    "patch");
out:
	pd_buf_free(&b);
	pr_manifest_free(from);
	pr_manifest_free(to);
	cat_abort(t);
	return rc;
}

/* nd_make_fn: the compressed form of the file *arg (a patch). */
static enum pd_err
make_zcopy(void *arg, int fd, bool *keep, struct pd_error *err)
{
	int in = *(int *)arg;

	(void)keep;
	if (lseek(in, 0, SEEK_SET) != 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "a manifest patch");
	return dl_zcompress_fd(in, fd, ND_ZLEVEL_ONCE, NULL, NULL, err);
}

void
nd_mpatch_name(const unsigned char *from, const unsigned char *to,
    char name[ND_STEP_NAME_MAX])
{
	char a[PD_SHA256_HEX], z[PD_SHA256_HEX];

	/* The two ids, as in the ETag without quotes. */
	pd_hex_encode(from, PD_SHA256_LEN, a);
	pd_hex_encode(to, PD_SHA256_LEN, z);
	snprintf(name, ND_STEP_NAME_MAX, "%s-%s", a, z);
}

enum pd_err
nd_mpatch_file(struct cat *c, const unsigned char *from,
    const unsigned char *to, bool zstd, int *fdp, struct pd_error *err)
{
	char name[ND_STEP_NAME_MAX + 8];
	struct mref m;
	struct stat st;
	enum pd_err rc;
	bool kept;
	int fd, zfd;

	*fdp = -1;
	m.cat = c;
	memcpy(m.id, from, sizeof(m.id));
	memcpy(m.to, to, sizeof(m.to));
	nd_mpatch_name(from, to, name);
	if ((rc = nd_derived(c, NULL, "mpatches", name, make_patch, &m, &fd,
	    &kept, err)) != PD_OK)
		return rc;
	if (fstat(fd, &st) != 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "manifest patch %s",
		    name);
		close(fd);
		return rc;
	}
	if (!zstd || st.st_size == 0) {
		*fdp = fd;
		return PD_OK;
	}
	/* Mostly hashes and times: zstd takes about two thirds. */
	snprintf(name + strlen(name), sizeof(name) - strlen(name), ".zst");
	rc = nd_derived(c, NULL, "mpatches", name, make_zcopy, &fd, &zfd,
	    &kept, err);
	close(fd);
	if (rc == PD_OK)
		*fdp = zfd;
	return rc;
}

static void
patch(struct nd_req *r)
{
	struct cat_txn *t = NULL;
	struct cat_version v;
	struct stat st;
	char etag[2 * PD_SHA256_HEX + 16];
	char from[PD_SHA256_HEX];
	size_t len;
	enum pd_err rc;
	int fd = -1;

	if (cat_begin(r->cat, false, &t, &r->err) != PD_OK)
		goto fail;
	if (!find_version(r, t, r->t.version, &v))
		goto out;
	pd_hex_encode(r->t.a, PD_SHA256_LEN, from);
	if ((rc = cat_manifest_len(t, r->t.a, &len, &r->err)) != PD_OK) {
		lookup_failed(r, rc, "no manifest %s", from);
		goto out;
	}
	cat_abort(t);
	t = NULL;
	if (nd_mpatch_file(r->cat, r->t.a, v.manifest_id, r->zstd_ok, &fd,
	    &r->err) != PD_OK || fstat(fd, &st) != 0)
		goto fail;
	if (st.st_size == 0) {
		close(fd);
		r->status = 303;
		nd_reply_header(r, "Location", "/v1/trees/%s/versions/%llu/"
		    "manifest", r->t.tree, (unsigned long long)v.number);
		nd_reply_header(r, "Cache-Control", ND_IMMUTABLE);
		goto out;
	}
	quoted_hex(r->t.a, v.manifest_id, r->zstd_ok ? "-zstd" : "", etag,
	    sizeof(etag));
	if (r->zstd_ok)
		nd_reply_header(r, "Content-Encoding", "zstd");
	nd_reply_file(r, fd, 0, (uint64_t)st.st_size);
	immutable(r, PATCH_TYPE, etag);
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	nd_reply_error(r, 500, "internal error");
out:
	cat_abort(t);
}

/* A part of the pack from a held manifest to version N (batch.c). */
static void
pack(struct nd_req *r)
{
	struct cat_txn *t = NULL;
	struct cat_version v;
	char from[PD_SHA256_HEX];
	size_t len;
	enum pd_err rc;

	if (cat_begin(r->cat, false, &t, &r->err) != PD_OK) {
		nd_reply_error(r, 500, "internal error");
		return;
	}
	if (!find_version(r, t, r->t.version, &v))
		goto out;
	if ((rc = cat_manifest_len(t, r->t.a, &len, &r->err)) != PD_OK) {
		pd_hex_encode(r->t.a, PD_SHA256_LEN, from);
		lookup_failed(r, rc, "no manifest %s", from);
		goto out;
	}
	cat_abort(t);
	t = NULL;
	nd_pack_reply(r, r->t.a, v.manifest_id);
out:
	cat_abort(t);
}

/* Open a held object; replies 404 or 500 and returns -1 if it cannot. */
static int
open_object(struct nd_req *r, const unsigned char *sha, uint64_t *size)
{
	char hex[PD_SHA256_HEX];
	enum pd_err rc;
	int fd;

	/* From the object store, or a published version's file (a mirror
	 * serving onwards): its size is checked, its hash is the
	 * receiver's to check. */
	if ((rc = cat_content_open(r->cat, sha, 0, &fd, size, &r->err)) !=
	    PD_OK) {
		pd_hex_encode(sha, PD_SHA256_LEN, hex);
		lookup_failed(r, rc, "no object %s", hex);
		return -1;
	}
	return fd;
}

static void
object(struct nd_req *r)
{
	const unsigned char *sha = r->t.a;
	char etag[PD_SHA256_HEX + 16], hex[PD_SHA256_HEX];
	struct nd_zobj z;
	uint64_t size, off, len;
	enum pd_err rc;
	int fd;

	if (r->range.kind != ND_RANGE_NONE) {
		if ((fd = open_object(r, sha, &size)) < 0)
			return;
		if (nd_range_resolve(&r->range, size, &off, &len) == 416) {
			close(fd);
			nd_reply_error(r, 416, "range not satisfiable: the "
			    "object has %llu bytes", (unsigned long long)size);
			nd_reply_header(r, "Content-Range", "bytes */%llu",
			    (unsigned long long)size);
			return;
		}
		/* A range is of the plain bytes, whatever was accepted. */
		nd_reply_file(r, fd, off, len);
		r->status = 206;
		nd_reply_header(r, "Content-Range", "bytes %llu-%llu/%llu",
		    (unsigned long long)off, (unsigned long long)(off + len -
		    1), (unsigned long long)size);
		quoted_hex(sha, NULL, "", etag, sizeof(etag));
		immutable(r, PLAIN_TYPE, etag);
		r->objects = 1;
		return;
	}
	if (r->zstd_ok) {
		if (!cat_content_known(r->cat, sha)) {
			(void)open_object(r, sha, &size);
			return;
		}
		if ((rc = nd_dcache_zobj(r->dc, sha, &z, &r->err)) != PD_OK) {
			pd_hex_encode(sha, PD_SHA256_LEN, hex);
			lookup_failed(r, rc, "no object %s", hex);
			return;
		}
		/* Incompressible content goes plain: same bytes, fewer. */
		if (z.zsize < z.size) {
			nd_reply_file(r, z.fd, 0, z.zsize);
			quoted_hex(sha, NULL, "-zstd", etag, sizeof(etag));
			immutable(r, PLAIN_TYPE, etag);
			nd_reply_header(r, "Content-Encoding", "zstd");
			nd_reply_header(r, "Accept-Ranges", "bytes");
			r->objects = 1;
			return;
		}
		close(z.fd);
	}
	if ((fd = open_object(r, sha, &size)) < 0)
		return;
	nd_reply_file(r, fd, 0, size);
	quoted_hex(sha, NULL, "", etag, sizeof(etag));
	immutable(r, PLAIN_TYPE, etag);
	nd_reply_header(r, "Accept-Ranges", "bytes");
	r->objects = 1;
}

static void
delta(struct nd_req *r)
{
	char etag[2 * PD_SHA256_HEX + 16], a[PD_SHA256_HEX], b[PD_SHA256_HEX];
	struct cat_delta rec;
	struct nd_delta d;
	enum pd_err rc;

	pd_hex_encode(r->t.a, PD_SHA256_LEN, a);
	pd_hex_encode(r->t.b, PD_SHA256_LEN, b);
	/* A delta kept (a relay's, received) needs neither object: the
	 * version it starts from may be retired. */
	if ((!cat_content_known(r->cat, r->t.a) ||
	    !cat_content_known(r->cat, r->t.b)) &&
	    cat_delta_lookup(r->cat, r->t.a, r->t.b, &rec, NULL) != PD_OK) {
		nd_reply_error(r, 404, "no delta %s %s: no object %s", a, b,
		    cat_content_known(r->cat, r->t.a) ? b : a);
		return;
	}
	if ((rc = nd_dcache_delta(r->dc, r->t.a, r->t.b, &d, &r->err)) !=
	    PD_OK) {
		lookup_failed(r, rc, "no delta %s %s", a, b);
		return;
	}
	if (d.kind == ND_DELTA_WHOLE) {
		if (d.fd >= 0)
			close(d.fd);
		r->status = 303;
		nd_reply_header(r, "Location", "/v1/objects/%s", b);
		nd_reply_header(r, "Cache-Control", ND_IMMUTABLE);
		return;
	}
	if (r->zstd_ok) {
		nd_reply_file(r, d.fd, 0, d.zsize);
		quoted_hex(r->t.a, r->t.b, "-zstd", etag, sizeof(etag));
		nd_reply_header(r, "Content-Encoding", "zstd");
	} else {
		nd_reply_zfile(r, d.fd, d.zsize, d.size);
		if (r->status != 200)
			return;
		quoted_hex(r->t.a, r->t.b, "", etag, sizeof(etag));
	}
	immutable(r, PLAIN_TYPE, etag);
	r->deltas = 1;
}

void
nd_handle(struct nd_req *r)
{
	switch (r->t.route) {
	case ND_R_TREES:
		trees(r);
		break;
	case ND_R_HEAD:
		head(r);
		break;
	case ND_R_MANIFEST:
		manifest(r);
		break;
	case ND_R_PATCH:
		patch(r);
		break;
	case ND_R_OBJECT:
		object(r);
		break;
	case ND_R_DELTA:
		delta(r);
		break;
	case ND_R_BATCH:
		nd_batch(r);
		break;
	case ND_R_PACK:
		pack(r);
		break;
	case ND_R_STATUS:
	case ND_R_TASKS:
	case ND_R_SYNC:
	case ND_R_CANCEL:
		nd_control_reply(r);
		break;
	}
}
