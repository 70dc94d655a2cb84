/*
 * zstd streaming, both ways, pushed through caller-given sinks.
 *
 * Each object owns one zstd context and one output buffer of zstd's
 * recommended size; input is never copied.  The decoder knows whether it
 * stands at a frame boundary from the return value of
 * ZSTD_decompressStream() (0: a frame just ended and all of it was
 * flushed), which is how dl_zdec_finish() tells a complete stream from a
 * truncated one.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "../common/fsx.h"
#include "../common/mem.h"
#include "zstd.h"

/*
 * Encoders' contexts kept for the next encoder.  A server compresses
 * each batch and pack part with an encoder of its own; a new context
 * maps and zeroes its tables (megabytes at level 6) for every one, and
 * on a first sync of a kernel tree that was a fifth of the server's
 * CPU.  A context given back is reset and reused: zstd keeps its tables
 * and does not zero them again, and its output does not depend on it.
 * A few are kept, SPARE_BYTES in all at most: a node that is idle
 * holds no more than that for them.
 */
#define SPARE_MAX	4
#define SPARE_BYTES	((size_t)32 << 20)

static pthread_mutex_t spare_mu = PTHREAD_MUTEX_INITIALIZER;
static ZSTD_CCtx *spare[SPARE_MAX];
static size_t spare_size[SPARE_MAX];
static size_t nspare, spare_bytes;

static ZSTD_CCtx *
cctx_get(void)
{
	ZSTD_CCtx *c = NULL;

	pthread_mutex_lock(&spare_mu);
	if (nspare > 0) {
		c = spare[--nspare];
		spare_bytes -= spare_size[nspare];
	}
	pthread_mutex_unlock(&spare_mu);
	if (c == NULL)
		return ZSTD_createCCtx();
	/* It may have stopped mid-frame, at any level: all is reset. */
	ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
	return c;
}

static void
cctx_put(ZSTD_CCtx *c)
{
	size_t sz;

	if (c == NULL)
		return;
	sz = ZSTD_sizeof_CCtx(c);
	pthread_mutex_lock(&spare_mu);
	if (nspare < SPARE_MAX && sz <= SPARE_BYTES - spare_bytes) {
		spare_size[nspare] = sz;
		spare[nspare++] = c;
		spare_bytes += sz;
		c = NULL;
	}
	pthread_mutex_unlock(&spare_mu);
	ZSTD_freeCCtx(c);
}

struct dl_zenc {
	ZSTD_CCtx	*cctx;
	unsigned char	*out;
	size_t		 outsz;
	enum pd_err	 failed;	/* poisoned with this code */
};

struct dl_zdec {
	ZSTD_DCtx	*dctx;
	unsigned char	*out;
	size_t		 outsz;
	uint64_t	 max_out;
	uint64_t	 out_len;	/* bytes given to the sink */
	bool		 any;		/* some input was seen */
	bool		 mid;		/* inside a frame */
	enum pd_err	 failed;
};

/* Record a zstd compression error. */
static enum pd_err
cfail(struct pd_error *err, size_t r, const char *what)
{
	return pd_fail(err, ZSTD_getErrorCode(r) ==
	    ZSTD_error_memory_allocation ? PD_ERR_NOMEM : PD_ERR_USAGE,
	    "zstd %s: %s", what, ZSTD_getErrorName(r));
}

/* Pass n bytes of output to the sink. */
static enum pd_err
give(dl_zsink *sink, void *arg, const void *p, size_t n,
    struct pd_error *err)
{
	enum pd_err rc;

	if (n == 0 || (rc = sink(arg, p, n)) == PD_OK)
		return PD_OK;
	return pd_fail(err, rc, "zstd output refused: %s", pd_strerror(rc));
}

enum pd_err
dl_zenc_new(int level, bool long_window, struct dl_zenc **zp,
    struct pd_error *err)
{
	struct dl_zenc *z;
	size_t r;
	enum pd_err rc;

	*zp = NULL;
	if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
		return pd_fail(err, PD_ERR_USAGE, "zstd level %d is not "
		    "between %d and %d", level, ZSTD_minCLevel(),
		    ZSTD_maxCLevel());
	if ((z = pd_calloc(1, sizeof(*z))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "zstd encoder");
	z->outsz = ZSTD_CStreamOutSize();
	if ((z->cctx = cctx_get()) == NULL ||
	    (z->out = pd_malloc(z->outsz)) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "zstd encoder");
		goto fail;
	}
	r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(r) && long_window)
		r = ZSTD_CCtx_setParameter(z->cctx,
		    ZSTD_c_enableLongDistanceMatching, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_windowLog,
		    long_window ? DL_ZWINDOW_LOG_MAX : DL_ZWINDOW_LOG_SENT);
	if (ZSTD_isError(r)) {
		rc = cfail(err, r, "encoder parameters");
		goto fail;
	}
	*zp = z;
	return PD_OK;
fail:
	dl_zenc_free(z);
	return rc;
}

/* One compression call after another until op is satisfied. */
static enum pd_err
compress(struct dl_zenc *z, ZSTD_inBuffer *in, ZSTD_EndDirective op,
    dl_zsink *sink, void *arg, struct pd_error *err)
{
	ZSTD_outBuffer out;
	size_t r;
	enum pd_err rc;

	if (z->failed != PD_OK)
		return pd_fail(err, z->failed, "zstd encoder: unusable after "
		    "an earlier failure");
	do {
		out.dst = z->out;
		out.size = z->outsz;
		out.pos = 0;
		r = ZSTD_compressStream2(z->cctx, &out, in, op);
		if (ZSTD_isError(r))
			return z->failed = cfail(err, r, "compression");
		if ((rc = give(sink, arg, z->out, out.pos, err)) != PD_OK)
			return z->failed = rc;
	} while (op == ZSTD_e_end ? r != 0 : in->pos < in->size);
	return PD_OK;
}

enum pd_err
dl_zenc_feed(struct dl_zenc *z, const void *p, size_t n, dl_zsink *sink,
    void *arg, struct pd_error *err)
{
	ZSTD_inBuffer in = { p, n, 0 };

	if (n == 0 && z->failed == PD_OK)
		return PD_OK;
	return compress(z, &in, ZSTD_e_continue, sink, arg, err);
}

enum pd_err
dl_zenc_finish(struct dl_zenc *z, dl_zsink *sink, void *arg,
    struct pd_error *err)
{
	ZSTD_inBuffer in = { NULL, 0, 0 };

	return compress(z, &in, ZSTD_e_end, sink, arg, err);
}

void
dl_zenc_reset(struct dl_zenc *z)
{
	(void)ZSTD_CCtx_reset(z->cctx, ZSTD_reset_session_only);
	z->failed = PD_OK;
}

void
dl_zenc_free(struct dl_zenc *z)
{
	if (z == NULL)
		return;
	cctx_put(z->cctx);
	pd_free(z->out);
	pd_free(z);
}

enum pd_err
dl_zdec_new(uint64_t max_out, struct dl_zdec **zp, struct pd_error *err)
{
	struct dl_zdec *z;
	size_t r;

	*zp = NULL;
	if ((z = pd_calloc(1, sizeof(*z))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "zstd decoder");
	z->max_out = max_out;
	z->outsz = ZSTD_DStreamOutSize();
	if ((z->dctx = ZSTD_createDCtx()) == NULL ||
	    (z->out = pd_malloc(z->outsz)) == NULL) {
		dl_zdec_free(z);
		return pd_fail(err, PD_ERR_NOMEM, "zstd decoder");
	}
	r = ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax,
	    DL_ZWINDOW_LOG_MAX);
	if (ZSTD_isError(r)) {
		dl_zdec_free(z);
		return pd_fail(err, PD_ERR_NOMEM, "zstd decoder: %s",
		    ZSTD_getErrorName(r));
	}
	*zp = z;
	return PD_OK;
}

/* Record a zstd decompression error: the input's fault, mostly. */
static enum pd_err
dfail(struct pd_error *err, size_t r)
{
	switch (ZSTD_getErrorCode(r)) {
	case ZSTD_error_frameParameter_windowTooLarge:
		return pd_fail(err, PD_ERR_LIMIT, "zstd frame needs a window "
		    "over %llu bytes: %s", 1ULL << DL_ZWINDOW_LOG_MAX,
		    ZSTD_getErrorName(r));
	case ZSTD_error_memory_allocation:
		return pd_fail(err, PD_ERR_NOMEM, "zstd decoder: %s",
		    ZSTD_getErrorName(r));
	default:
		return pd_fail(err, PD_ERR_CORRUPT, "zstd stream is corrupt: "
		    "%s", ZSTD_getErrorName(r));
	}
}

static enum pd_err
decompress(struct dl_zdec *z, const void *p, size_t n, dl_zsink *sink,
    void *arg, struct pd_error *err)
{
	ZSTD_inBuffer in = { p, n, 0 };
	ZSTD_outBuffer out;
	size_t r;
	bool more = false;
	enum pd_err rc;

	/*
	 * Go on while input is left, or while the last call filled the
	 * output inside a frame (zstd may hold more).  A return of 0 means
	 * the frame ended and is flushed.  zstd itself fails a stream that
	 * makes no progress for several calls (noForwardProgress), so this
	 * cannot spin.
	 */
	while (in.pos < in.size || more) {
		out.dst = z->out;
		out.size = z->outsz;
		out.pos = 0;
		r = ZSTD_decompressStream(z->dctx, &out, &in);
		if (ZSTD_isError(r))
			return dfail(err, r);
		if (out.pos > z->max_out - z->out_len)
			return pd_fail(err, PD_ERR_LIMIT, "zstd output is "
			    "larger than the %ju bytes expected",
			    (uintmax_t)z->max_out);
		if ((rc = give(sink, arg, z->out, out.pos, err)) != PD_OK)
			return rc;
		z->out_len += out.pos;
		z->mid = r != 0;
		more = r != 0 && out.pos == out.size;
	}
	return PD_OK;
}

enum pd_err
dl_zdec_feed(struct dl_zdec *z, const void *p, size_t n, dl_zsink *sink,
    void *arg, struct pd_error *err)
{
	if (z->failed != PD_OK)
		return pd_fail(err, z->failed, "zstd decoder: unusable after "
		    "an earlier failure");
	if (n == 0)
		return PD_OK;
	z->any = true;
	return z->failed = decompress(z, p, n, sink, arg, err);
}

enum pd_err
dl_zdec_finish(struct dl_zdec *z, uint64_t *out_len, struct pd_error *err)
{
	if (z->failed != PD_OK)
		return pd_fail(err, z->failed, "zstd decoder: unusable after "
		    "an earlier failure");
	if (!z->any)
		return z->failed = pd_fail(err, PD_ERR_CORRUPT, "zstd stream "
		    "is empty");
	if (z->mid)
		return z->failed = pd_fail(err, PD_ERR_CORRUPT, "zstd stream "
		    "is truncated: it ends inside a frame");
	if (out_len != NULL)
		*out_len = z->out_len;
	return PD_OK;
}

void
dl_zdec_reset(struct dl_zdec *z, uint64_t max_out)
{
	(void)ZSTD_DCtx_reset(z->dctx, ZSTD_reset_session_only);
	z->max_out = max_out;
	z->out_len = 0;
	z->any = z->mid = false;
	z->failed = PD_OK;
}

void
dl_zdec_free(struct dl_zdec *z)
{
	if (z == NULL)
		return;
	ZSTD_freeDCtx(z->dctx);
	pd_free(z->out);
	pd_free(z);
}

struct fdsink {
	int		 fd;
	uint64_t	 n;
	struct pd_error	*err;
};

static enum pd_err
fd_sink(void *arg, const void *p, size_t n)
{
	struct fdsink *s = arg;

	if (pd_write_all(s->fd, p, n) != PD_OK)
		return pd_fail_errno(s->err, PD_ERR_IO, errno,
		    "writing the zstd output");
	s->n += n;
	return PD_OK;
}

/*
 * Tell z the size of its next frame when in_fd is a regular file: zstd
 * then sizes its tables to the input instead of to the level's window,
 * and clearing 2 MB of tables for each 3 KB delta was a quarter of the
 * CPU of a pull that kept 1,000 of them.  A pipe gets no pledge.
 */
static enum pd_err
pledge(struct dl_zenc *z, int in_fd, struct pd_error *err)
{
	struct stat st;
	off_t off;
	size_t r;

	if (fstat(in_fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (off = lseek(in_fd, 0, SEEK_CUR)) < 0 || off > st.st_size)
		return PD_OK;
	r = ZSTD_CCtx_setPledgedSrcSize(z->cctx,
	    (unsigned long long)(st.st_size - off));
	return ZSTD_isError(r) ? cfail(err, r, "pledged size") : PD_OK;
}

enum pd_err
dl_zcompress_fd(int in_fd, int out_fd, int level, uint64_t *in_len,
    uint64_t *out_len, struct pd_error *err)
{
	struct fdsink fs = { out_fd, 0, err };
	struct dl_zenc *z = NULL;
	size_t bufsz = ZSTD_CStreamInSize();
	uint64_t total = 0;
	void *buf;
	ssize_t r;
	enum pd_err rc;

	if ((buf = pd_malloc(bufsz)) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "zstd input buffer");
	if ((rc = dl_zenc_new(level, false, &z, err)) != PD_OK ||
	    (rc = pledge(z, in_fd, err)) != PD_OK)
		goto out;
	do {
		if ((r = pd_read_full(in_fd, buf, bufsz)) < 0) {
			rc = pd_fail_errno(err, PD_ERR_IO, errno,
			    "reading the input to compress");
			goto out;
		}
		total += (uint64_t)r;
		if ((rc = dl_zenc_feed(z, buf, (size_t)r, fd_sink, &fs, err)) !=
		    PD_OK)
			goto out;
	} while ((size_t)r == bufsz);
	if ((rc = dl_zenc_finish(z, fd_sink, &fs, err)) != PD_OK)
		goto out;
	if (in_len != NULL)
		*in_len = total;
	if (out_len != NULL)
		*out_len = fs.n;
out:
	dl_zenc_free(z);
	pd_free(buf);
	return rc;
}

enum pd_err
dl_zdecompress_fd(int in_fd, int out_fd, uint64_t max_out, uint64_t *out_len,
    struct pd_error *err)
{
	struct fdsink fs = { out_fd, 0, err };
	struct dl_zdec *z = NULL;
	size_t bufsz = ZSTD_DStreamInSize();
	void *buf;
	ssize_t r;
	enum pd_err rc;

	if ((buf = pd_malloc(bufsz)) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "zstd input buffer");
	if ((rc = dl_zdec_new(max_out, &z, err)) != PD_OK)
		goto out;
	do {
		if ((r = pd_read_full(in_fd, buf, bufsz)) < 0) {
			rc = pd_fail_errno(err, PD_ERR_IO, errno,
			    "reading the zstd input");
			goto out;
		}
		if ((rc = dl_zdec_feed(z, buf, (size_t)r, fd_sink, &fs, err)) !=
		    PD_OK)
			goto out;
	} while ((size_t)r == bufsz);
	rc = dl_zdec_finish(z, out_len, err);
out:
	dl_zdec_free(z);
	pd_free(buf);
	return rc;
}
