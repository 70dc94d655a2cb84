/*
 * Building a reply, for the handlers of the node server (routes.c,
 * batch.c): headers, JSON and error bodies, bodies streamed from a file
 * or decoded from a stored zstd stream, and the derived files a reply
 * is served from.  Worker threads only (see serve.h); of libevent only
 * evbuffers are touched here, never its HTTP objects.
 *
 * A streamed body is a producer and its state in struct nd_req, not
 * bytes: each call gives about ND_CHUNK bytes, so what one request
 * holds does not grow with the file it serves, nor, when decoding,
 * with how well that file compressed.  Derived files are made once and
 * kept, so a thousand clients asking for one cost one computation.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <zstd.h>

#include "../common/fsx.h"
#include "../common/mem.h"
#include "../delta/zstd.h"
#include "namer.h"
#include "serve.h"

/* Compressed input read per step of a decoder. */
#define ZREAD_IN	(64 * 1024)

/* ------------------------------------------------------------------ */
/* Replies */

void
nd_reply_header(struct nd_req *r, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (r->nheaders == ND_REPLY_HEADERS)
		return;
	r->hname[r->nheaders] = name;
	va_start(ap, fmt);
	vsnprintf(r->hval[r->nheaders], sizeof(r->hval[0]), fmt, ap);
	va_end(ap);
	r->nheaders++;
}

void
nd_reply_reset_body(struct nd_req *r)
{
	nd_zread_free(r->zr);
	r->zr = NULL;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	if (r->ctx_free)
		r->ctx_free(r->ctx);
	r->ctx = NULL;
	r->ctx_free = NULL;
	r->produce = NULL;
	r->length = -1;
	r->eof = false;
	r->off = r->left = 0;
	if (r->body)
		evbuffer_drain(r->body, evbuffer_get_length(r->body));
}

static int
dump_cb(const char *p, size_t n, void *arg)
{
	return evbuffer_add(arg, p, n);
}

void
nd_reply_json(struct nd_req *r, int status, json_t *j)
{
	static const char oom[] = "{\"error\": \"out of memory\", "
	    "\"status\": 500}\n";

	nd_reply_reset_body(r);
	r->status = status;
	if (r->body == NULL && (r->body = evbuffer_new()) == NULL) {
		json_decref(j);
		r->status = 500;
		return;
	}
	if (j == NULL || json_dump_callback(j, dump_cb, r->body,
	    JSON_PRESERVE_ORDER) != 0 || evbuffer_add(r->body, "\n", 1) != 0) {
		evbuffer_drain(r->body, evbuffer_get_length(r->body));
		evbuffer_add(r->body, oom, sizeof(oom) - 1);
		r->status = 500;
	}
	json_decref(j);
	nd_reply_header(r, "Content-Type", "application/json");
}

void
nd_reply_error(struct nd_req *r, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->nheaders = 0;
	nd_reply_json(r, status, json_pack("{s:s, s:i}", "error", msg,
	    "status", status));
	/* A 404 may turn into content later: no cache may keep it. */
	nd_reply_header(r, "Cache-Control", "no-store");
}

static enum pd_err
produce_file(struct nd_req *r, struct evbuffer *out)
{
	struct evbuffer_iovec v;
	size_t want = r->left < ND_CHUNK ? (size_t)r->left : ND_CHUNK;
	size_t got = 0;
	ssize_t n;

	if (want == 0) {
		r->eof = true;
		return PD_OK;
	}
	if (evbuffer_reserve_space(out, (ev_ssize_t)want, &v, 1) < 1)
		return pd_fail(&r->err, PD_ERR_NOMEM, "body buffer");
	while (got < want) {
		n = pread(r->fd, (char *)v.iov_base + got, want - got,
		    (off_t)(r->off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pd_fail_errno(&r->err, PD_ERR_IO, errno,
			    "reading a body");
		if (n == 0)
			return pd_fail(&r->err, PD_ERR_CORRUPT, "file ended "
			    "%llu bytes early", (unsigned long long)(r->left -
			    got));
		got += (size_t)n;
	}
	v.iov_len = got;
	if (evbuffer_commit_space(out, &v, 1) != 0)
		return pd_fail(&r->err, PD_ERR_NOMEM, "body buffer");
	r->off += got;
	r->left -= got;
	r->eof = r->left == 0;
	return PD_OK;
}

void
nd_reply_file(struct nd_req *r, int fd, uint64_t off, uint64_t len)
{
	nd_reply_reset_body(r);
	r->fd = fd;
	r->off = off;
	r->left = len;
	r->length = (int64_t)len;
	r->produce = produce_file;
}

static enum pd_err
produce_zfile(struct nd_req *r, struct evbuffer *out)
{
	bool done;
	enum pd_err rc;

	if ((rc = nd_zread_get(r->zr, out, ND_CHUNK, &done, &r->err)) !=
	    PD_OK)
		return rc;
	r->eof = done;
	return PD_OK;
}

void
nd_reply_zfile(struct nd_req *r, int fd, uint64_t zlen, uint64_t size)
{
	nd_reply_reset_body(r);
	r->fd = fd;
	if (nd_zread_new(fd, zlen, size, &r->zr, &r->err) != PD_OK) {
		nd_reply_error(r, 500, "internal error");
		return;
	}
	r->length = (int64_t)size;
	r->produce = produce_zfile;
}

/* ------------------------------------------------------------------ */
/* Bounded zstd reading */

struct nd_zread {
	ZSTD_DCtx	*dctx;
	int		 fd;
	uint64_t	 off;		/* next compressed byte to read */
	uint64_t	 zleft;		/* compressed bytes not read yet */
	uint64_t	 size;		/* decoded bytes promised */
	uint64_t	 out;		/* decoded bytes given */
	size_t		 ret;		/* last decompressStream: 0 at a
					 * frame's end */
	ZSTD_inBuffer	 in;
	unsigned char	 buf[ZREAD_IN];
};

enum pd_err
nd_zread_new(int fd, uint64_t zlen, uint64_t size, struct nd_zread **out,
    struct pd_error *err)
{
	struct nd_zread *z;

	*out = NULL;
	if ((z = pd_calloc(1, sizeof(*z))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "zstd reader");
	if ((z->dctx = ZSTD_createDCtx()) == NULL ||
	    ZSTD_isError(ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax,
	    DL_ZWINDOW_LOG_MAX))) {
		nd_zread_free(z);
		return pd_fail(err, PD_ERR_NOMEM, "zstd reader");
	}
	z->fd = fd;
	z->zleft = zlen;
	z->size = size;
	z->ret = 1;
	z->in.src = z->buf;
	*out = z;
	return PD_OK;
}

/*
 * ZSTD_decompressStream stops when the output is full, whatever the
 * input holds, so a piece is at most n bytes even for content that
 * compressed a thousandfold (a run of zeros in a delta's literal data).
 */
enum pd_err
nd_zread_get(struct nd_zread *z, struct evbuffer *out, size_t n, bool *done,
    struct pd_error *err)
{
	struct evbuffer_iovec v;
	ZSTD_outBuffer ob;
	size_t ret, want;
	ssize_t got;

	*done = false;
	if (evbuffer_reserve_space(out, (ev_ssize_t)n, &v, 1) < 1)
		return pd_fail(err, PD_ERR_NOMEM, "zstd output");
	ob.dst = v.iov_base;
	ob.size = n;
	ob.pos = 0;
	for (;;) {
		if (z->in.pos == z->in.size && z->zleft > 0) {
			want = z->zleft < ZREAD_IN ? (size_t)z->zleft :
			    ZREAD_IN;
			do
				got = pread(z->fd, z->buf, want, (off_t)z->off);
			while (got < 0 && errno == EINTR);
			if (got < 0)
				return pd_fail_errno(err, PD_ERR_IO, errno,
				    "reading compressed content");
			if (got == 0)
				return pd_fail(err, PD_ERR_CORRUPT, "cached "
				    "compressed content ends early");
			z->in.size = (size_t)got;
			z->in.pos = 0;
			z->off += (uint64_t)got;
			z->zleft -= (uint64_t)got;
		}
		/* A frame ended, flushed, with no input left: the end. */
		if (z->in.pos == z->in.size && z->zleft == 0 && z->ret == 0) {
			*done = true;
			break;
		}
		ret = ZSTD_decompressStream(z->dctx, &ob, &z->in);
		if (ZSTD_isError(ret))
			return pd_fail(err, PD_ERR_CORRUPT, "cached compressed "
			    "content: %s", ZSTD_getErrorName(ret));
		z->ret = ret;
		if (ob.pos == ob.size)
			break;
		if (z->in.pos == z->in.size && z->zleft == 0 && ret != 0)
			return pd_fail(err, PD_ERR_CORRUPT, "cached compressed "
			    "content ends inside a frame");
	}
	z->out += ob.pos;
	if (z->out > z->size || (*done && z->out != z->size)) {
		*done = false;
		return pd_fail(err, PD_ERR_CORRUPT, "cached compressed content "
		    "decodes to %s%llu bytes, not %llu", *done ? "" : "over ",
		    (unsigned long long)z->out, (unsigned long long)z->size);
	}
	if (ob.pos > 0) {
		v.iov_len = ob.pos;
		if (evbuffer_commit_space(out, &v, 1) != 0)
			return pd_fail(err, PD_ERR_NOMEM, "zstd output");
	}
	return PD_OK;
}

void
nd_zread_free(struct nd_zread *z)
{
	if (z == NULL)
		return;
	ZSTD_freeDCtx(z->dctx);
	pd_free(z);
}

/* ------------------------------------------------------------------ */
/* Derived files */

static atomic_uint tmp_seq;

enum pd_err
nd_derived(struct cat *cat, struct nd_namer *namer, const char *dir,
    const char *name, nd_make_fn *make, void *arg, int *fdp, bool *kept,
    struct pd_error *err)
{
	char dpath[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 48];
	bool keep = true, named = false;
	enum pd_err rc;
	int fd;

	*fdp = -1;
	*kept = false;
	if ((size_t)snprintf(dpath, sizeof(dpath), "%s/%s/%.2s", cat_dir(cat),
	    dir, name) >= sizeof(dpath) || (size_t)snprintf(path,
	    sizeof(path), "%s/%s", dpath, name) >= sizeof(path))
		return pd_fail(err, PD_ERR_LIMIT, "data directory path too "
		    "long");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		*fdp = fd;
		*kept = true;
		return PD_OK;
	}
	if (errno != ENOENT)
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s", path);
	if ((rc = pd_mkdirs(dpath, 0755, err)) != PD_OK)
		return rc;
	/* Unnamed until done: a crash leaves nothing behind. */
	if ((fd = open(dpath, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644)) < 0) {
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return pd_fail_errno(err, PD_ERR_IO, errno, "%s",
			    dpath);
		/* Named as the delta cache names its temps: process and
		 * sequence number, so two makers never share one. */
		snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld.%u", dpath,
		    (long)getpid(), atomic_fetch_add(&tmp_seq, 1));
		if ((fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    0644)) < 0)
			return pd_fail_errno(err, PD_ERR_IO, errno, "%s", tmp);
		named = true;
	}
	if ((rc = make(arg, fd, &keep, err)) != PD_OK)
		goto fail;
	if (lseek(fd, 0, SEEK_SET) != 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "%s", path);
		goto fail;
	}
	/* The bytes are final either way; only their name waits. */
	if (keep)
		*kept = (namer != NULL && nd_namer_add(namer, fd,
		    named ? tmp : NULL, path)) ||
		    nd_name_durable(fd, named ? tmp : NULL, path);
	else if (named)
		unlink(tmp);
	*fdp = fd;
	return PD_OK;
fail:
	if (named)
		unlink(tmp);
	close(fd);
	return rc;
}
