/*
 * Applying an untrusted delta: librsync's patch job, pushed.
 *
 * librsync trusts the COPY commands of a delta: it hands (position,
 * length) to the copy callback as they are.  copy() below is where they
 * are checked against the basis size the caller knows.  librsync asks
 * for a copy in pieces no larger than the free output space, so a copy
 * that runs past the end of the basis is refused at the piece that
 * crosses it.
 *
 * rs_job_iter() returns RS_BLOCKED both when it wants more input and when
 * its output buffer is full.  feed() tells them apart by what is left:
 * input all taken and output not full means "more input, please".
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "../common/mem.h"
#include "internal.h"

struct dl_patcher {
	rs_job_t	*job;
	int		 basis_fd;
	int		 out_fd;
	uint64_t	 basis_size;
	uint64_t	 max_out;
	uint64_t	 out_len;	/* bytes written to out_fd */
	struct pd_error	*err;		/* the caller's, during a call */
	enum pd_err	 cb_rc;		/* what copy() failed with */
	enum pd_err	 failed;	/* poisoned with this code */
	bool		 done;		/* the END command was applied */
	char		 out[DL_IOBUF];
};

/* librsync's copy callback: *len basis bytes at pos into *buf. */
static rs_result
copy(void *arg, rs_long_t pos, size_t *len, void **buf)
{
	struct dl_patcher *p = arg;
	uint64_t at;
	size_t got = 0;
	ssize_t r;

	if (pos < 0 || (uint64_t)pos > p->basis_size ||
	    *len > p->basis_size - (uint64_t)pos) {
		p->cb_rc = pd_fail(p->err, PD_ERR_CORRUPT, "delta copies past "
		    "the end of the basis: %zu bytes at offset %jd of a "
		    "basis of %ju bytes", *len, (intmax_t)pos,
		    (uintmax_t)p->basis_size);
		return RS_CORRUPT;
	}
	at = (uint64_t)pos;
	while (got < *len) {
		r = pread(p->basis_fd, (char *)*buf + got, *len - got,
		    (off_t)(at + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			p->cb_rc = pd_fail_errno(p->err, PD_ERR_IO, errno,
			    "reading the basis at offset %ju",
			    (uintmax_t)(at + got));
			return RS_IO_ERROR;
		}
		if (r == 0) {
			p->cb_rc = pd_fail(p->err, PD_ERR_CORRUPT, "the basis "
			    "ends at offset %ju, short of its %ju bytes",
			    (uintmax_t)(at + got), (uintmax_t)p->basis_size);
			return RS_IO_ERROR;
		}
		got += (size_t)r;
	}
	return RS_DONE;
}

enum pd_err
dl_patcher_new(int basis_fd, uint64_t basis_size, int out_fd,
    uint64_t max_out, struct dl_patcher **pp, struct pd_error *err)
{
	struct dl_patcher *p;
	enum pd_err rc;

	*pp = NULL;
	if (basis_size > INT64_MAX)
		return pd_fail(err, PD_ERR_USAGE, "basis of %ju bytes is too "
		    "large to patch", (uintmax_t)basis_size);
	if ((rc = dl_rs_load(err)) != PD_OK)
		return rc;
	if ((p = pd_calloc(1, sizeof(*p))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "delta patcher");
	p->basis_fd = basis_fd;
	p->out_fd = out_fd;
	p->basis_size = basis_size;
	p->max_out = max_out;
	dl_rs_clear();
	if ((p->job = dl_rs->patch_begin(copy, p)) == NULL) {
		pd_free(p);
		return pd_fail(err, PD_ERR_NOMEM, "patch job");
	}
	*pp = p;
	return PD_OK;
}

/* Write n patched bytes, within max_out. */
static enum pd_err
emit(struct dl_patcher *p, size_t n, struct pd_error *err)
{
	if (n > p->max_out - p->out_len)
		return pd_fail(err, PD_ERR_LIMIT, "patched file is larger than "
		    "the %ju bytes expected", (uintmax_t)p->max_out);
	if (pd_write_all(p->out_fd, p->out, n) != PD_OK)
		return pd_fail_errno(err, PD_ERR_IO, errno,
		    "writing the patched file");
	p->out_len += n;
	return PD_OK;
}

/*
 * Run the job over b until it needs more input, or ends, or fails.
 */
static enum pd_err
step(struct dl_patcher *p, rs_buffers_t *b, struct pd_error *err)
{
	rs_result res;
	size_t n, before;
	enum pd_err rc;

	for (;;) {
		before = b->avail_in;
		b->next_out = p->out;
		b->avail_out = sizeof(p->out);
		p->err = err;
		p->cb_rc = PD_OK;
		dl_rs_clear();
		res = dl_rs->job_iter(p->job, b);
		p->err = NULL;
		n = sizeof(p->out) - b->avail_out;
		if (p->cb_rc != PD_OK)
			return p->cb_rc;
		if (n > 0 && (rc = emit(p, n, err)) != PD_OK)
			return rc;
		if (res == RS_DONE) {
			p->done = true;
			if (b->avail_in > 0)
				return pd_fail(err, PD_ERR_CORRUPT, "delta has "
				    "bytes after its END command");
			return PD_OK;
		}
		if (res == RS_INPUT_ENDED)
			return dl_rs_fail(err, PD_ERR_CORRUPT, res,
			    "delta is truncated");
		if (res != RS_BLOCKED)
			return dl_rs_fail(err, PD_ERR_CORRUPT, res,
			    "delta is corrupt");
		if (b->avail_in == 0 && n < sizeof(p->out) && !b->eof_in)
			return PD_OK;
		if (n == 0 && b->avail_in == before)
			return pd_fail(err, PD_ERR_CORRUPT, "delta is corrupt: "
			    "librsync made no progress");
	}
}

enum pd_err
dl_patcher_feed(struct dl_patcher *p, const void *buf, size_t n,
    struct pd_error *err)
{
	rs_buffers_t b;

	if (p->failed != PD_OK)
		return pd_fail(err, p->failed, "delta patcher: unusable after "
		    "an earlier failure");
	if (n == 0)
		return PD_OK;
	if (p->done)
		return p->failed = pd_fail(err, PD_ERR_CORRUPT, "delta has "
		    "bytes after its END command");
	memset(&b, 0, sizeof(b));
	b.next_in = (char *)buf;
	b.avail_in = n;
	return p->failed = step(p, &b, err);
}

enum pd_err
dl_patcher_finish(struct dl_patcher *p, uint64_t *out_len,
    struct pd_error *err)
{
	rs_buffers_t b;

	if (p->failed != PD_OK)
		return pd_fail(err, p->failed, "delta patcher: unusable after "
		    "an earlier failure");
	if (!p->done) {
		memset(&b, 0, sizeof(b));
		b.eof_in = 1;
		if ((p->failed = step(p, &b, err)) != PD_OK)
			return p->failed;
		if (!p->done)
			return p->failed = pd_fail(err, PD_ERR_CORRUPT,
			    "delta is truncated");
	}
	if (out_len != NULL)
		*out_len = p->out_len;
	return PD_OK;
}

void
dl_patcher_free(struct dl_patcher *p)
{
	if (p == NULL)
		return;
	if (p->job != NULL)
		dl_rs->job_free(p->job);
	pd_free(p);
}

enum pd_err
dl_patch(int basis_fd, uint64_t basis_size, int delta_fd, int out_fd,
    uint64_t max_out, uint64_t *out_len, struct pd_error *err)
{
	struct dl_patcher *p = NULL;
	char *buf;
	ssize_t r;
	enum pd_err rc;

	/* dl_patcher_new loads librsync. */
	if ((buf = pd_malloc(DL_IOBUF)) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "delta buffer");
	if ((rc = dl_patcher_new(basis_fd, basis_size, out_fd, max_out, &p,
	    err)) != PD_OK)
		goto out;
	for (;;) {
		if ((r = pd_read_full(delta_fd, buf, DL_IOBUF)) < 0) {
			rc = pd_fail_errno(err, PD_ERR_IO, errno,
			    "reading the delta");
			goto out;
		}
		if ((rc = dl_patcher_feed(p, buf, (size_t)r, err)) != PD_OK)
			goto out;
		if (r < DL_IOBUF)
			break;
	}
	rc = dl_patcher_finish(p, out_len, err);
out:
	dl_patcher_free(p);
	pd_free(buf);
	return rc;
}
