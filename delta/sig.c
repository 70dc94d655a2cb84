/*
 * Signatures and deltas: librsync's sig, loadsig and delta jobs driven
 * over descriptors through two DL_IOBUF buffers.
 *
 * dl_delta() never writes the basis's signature anywhere: the output of
 * the sig job is fed straight into a loadsig job, buffer by buffer, so
 * the only thing that grows is the signature in memory.
 */
#include <sys/stat.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../common/fsx.h"
#include "../common/mem.h"
#include "internal.h"

struct io {
	char	 in[DL_IOBUF];
	char	 out[DL_IOBUF];
};

/* Where the output of a job goes. */
typedef enum pd_err sinkfn(void *, const char *, size_t, struct pd_error *);

struct fdsink {
	int		 fd;
	const char	*what;
	uint64_t	 n;
};

static enum pd_err
fd_sink(void *arg, const char *p, size_t n, struct pd_error *err)
{
	struct fdsink *s = arg;

	if (pd_write_all(s->fd, p, n) != PD_OK)
		return pd_fail_errno(err, PD_ERR_IO, errno, "writing %s",
		    s->what);
	s->n += n;
	return PD_OK;
}

/* Feed the signature bytes to a loadsig job, which takes them all. */
static enum pd_err
load_sink(void *arg, const char *p, size_t n, struct pd_error *err)
{
	rs_job_t *load = arg;
	rs_buffers_t b;
	rs_result res;

	memset(&b, 0, sizeof(b));
	b.next_in = (char *)p;
	b.avail_in = n;
	dl_rs_clear();
	if ((res = dl_rs->job_iter(load, &b)) != RS_BLOCKED)
		return dl_rs_fail(err, PD_ERR_IO, res,
		    "loading the signature of the basis");
	if (b.avail_in != 0)
		return pd_fail(err, PD_ERR_IO, "loading the signature of the "
		    "basis: librsync left %zu bytes", b.avail_in);
	return PD_OK;
}

/* Tell a loadsig job its input has ended; it must be complete. */
static enum pd_err
load_end(rs_job_t *load, struct pd_error *err)
{
	rs_buffers_t b;
	rs_result res;

	memset(&b, 0, sizeof(b));
	b.eof_in = 1;
	dl_rs_clear();
	if ((res = dl_rs->job_iter(load, &b)) != RS_DONE)
		return dl_rs_fail(err, PD_ERR_IO, res,
		    "loading the signature of the basis");
	return PD_OK;
}

/*
 * Run job to completion: its input read from fd (at most max_in bytes if
 * max_in is not 0), its output handed to sink.  A librsync failure is
 * recorded as code.
 */
static enum pd_err
run(rs_job_t *job, int fd, const char *what, uint64_t max_in,
    enum pd_err code, struct io *io, sinkfn *sink, void *arg,
    struct pd_error *err)
{
	rs_buffers_t b;
	rs_result res;
	uint64_t nin = 0;
	size_t n, before;
	ssize_t r;
	enum pd_err rc;

	memset(&b, 0, sizeof(b));
	for (;;) {
		if (b.avail_in == 0 && !b.eof_in) {
			if ((r = pd_read_full(fd, io->in, sizeof(io->in))) < 0)
				return pd_fail_errno(err, PD_ERR_IO, errno,
				    "reading %s", what);
			nin += (uint64_t)r;
			if (max_in > 0 && nin > max_in)
				return pd_fail(err, PD_ERR_LIMIT,
				    "%s is larger than %ju bytes", what,
				    (uintmax_t)max_in);
			b.next_in = io->in;
			b.avail_in = (size_t)r;
			/* pd_read_full stops short only at end of file. */
			b.eof_in = (size_t)r < sizeof(io->in);
		}
		before = b.avail_in;
		b.next_out = io->out;
		b.avail_out = sizeof(io->out);
		dl_rs_clear();
		res = dl_rs->job_iter(job, &b);
		n = sizeof(io->out) - b.avail_out;
		if (n > 0 && (rc = sink(arg, io->out, n, err)) != PD_OK)
			return rc;
		if (res == RS_DONE)
			return PD_OK;
		if (res != RS_BLOCKED)
			return dl_rs_fail(err, code, res, what);
		/* Blocked with input in hand and nothing to show. */
		if (n == 0 && b.avail_in == before && (b.avail_in > 0 ||
		    b.eof_in))
			return pd_fail(err, code, "%s: librsync made no "
			    "progress", what);
	}
}

/* Bytes left in fd from its offset, or -1 if it is not a regular file. */
static rs_long_t
size_left(int fd)
{
	struct stat st;
	off_t off;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -1;
	if ((off = lseek(fd, 0, SEEK_CUR)) < 0 || off > st.st_size)
		return -1;
	return (rs_long_t)(st.st_size - off);
}

/* A sig job for the basis in fd, with block length for its size. */
static enum pd_err
sig_job(int fd, rs_job_t **jobp, struct pd_error *err)
{
	rs_magic_number magic = RS_RK_BLAKE2_SIG_MAGIC;
	size_t block_len = 0, strong_len = 0;	/* recommended, longest */
	rs_result res;

	dl_rs_clear();
	res = dl_rs->sig_args(size_left(fd), &magic, &block_len,
	    &strong_len);
	if (res != RS_DONE)
		return dl_rs_fail(err, PD_ERR_IO, res, "signature parameters");
	*jobp = dl_rs->sig_begin(block_len, strong_len, magic);
	if (*jobp == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "signature job");
	return PD_OK;
}

enum pd_err
dl_sig(int basis_fd, int out_fd, uint64_t *out_len, struct pd_error *err)
{
	struct fdsink fs = { out_fd, "the signature", 0 };
	struct io *io;
	rs_job_t *job = NULL;
	enum pd_err rc;

	if ((rc = dl_rs_load(err)) != PD_OK)
		return rc;
	if ((io = pd_malloc(sizeof(*io))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "signature buffers");
	if ((rc = sig_job(basis_fd, &job, err)) != PD_OK)
		goto out;
	rc = run(job, basis_fd, "the basis", 0, PD_ERR_IO, io, fd_sink, &fs,
	    err);
	if (rc == PD_OK && out_len != NULL)
		*out_len = fs.n;
out:
	if (job != NULL)
		dl_rs->job_free(job);
	pd_free(io);
	return rc;
}

/* The delta of the new file in new_fd against sig, to out_fd. */
static enum pd_err
delta_with(rs_signature_t *sig, int new_fd, int out_fd, struct io *io,
    uint64_t *out_len, struct pd_error *err)
{
	struct fdsink fs = { out_fd, "the delta", 0 };
	rs_job_t *job;
	rs_result res;
	enum pd_err rc;

	dl_rs_clear();
	if ((res = dl_rs->build_hash_table(sig)) != RS_DONE)
		return dl_rs_fail(err, PD_ERR_IO, res,
		    "indexing the signature");
	if ((job = dl_rs->delta_begin(sig)) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "delta job");
	rc = run(job, new_fd, "the new file", 0, PD_ERR_IO, io, fd_sink, &fs,
	    err);
	dl_rs->job_free(job);
	if (rc == PD_OK && out_len != NULL)
		*out_len = fs.n;
	return rc;
}

enum pd_err
dl_delta(int basis_fd, int new_fd, int out_fd, uint64_t *out_len,
    struct pd_error *err)
{
	rs_signature_t *sig = NULL;
	rs_job_t *job = NULL, *load = NULL;
	struct io *io;
	enum pd_err rc;

	if ((rc = dl_rs_load(err)) != PD_OK)
		return rc;
	if ((io = pd_malloc(sizeof(*io))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "delta buffers");
	if ((rc = sig_job(basis_fd, &job, err)) != PD_OK)
		goto out;
	if ((load = dl_rs->loadsig_begin(&sig)) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "signature job");
		goto out;
	}
	if ((rc = run(job, basis_fd, "the basis", 0, PD_ERR_IO, io,
	    load_sink, load, err)) != PD_OK)
		goto out;
	if ((rc = load_end(load, err)) != PD_OK)
		goto out;
	rc = delta_with(sig, new_fd, out_fd, io, out_len, err);
out:
	if (job != NULL)
		dl_rs->job_free(job);
	if (load != NULL)
		dl_rs->job_free(load);
	if (sig != NULL)
		dl_rs->free_sumset(sig);
	pd_free(io);
	return rc;
}

/* A loadsig job has no output. */
static enum pd_err
no_sink(void *arg, const char *p, size_t n, struct pd_error *err)
{
	(void)arg;
	(void)p;
	return pd_fail(err, PD_ERR_IO, "librsync wrote %zu bytes while "
	    "loading a signature", n);
}

enum pd_err
dl_delta_sig(int sig_fd, int new_fd, int out_fd, uint64_t *out_len,
    struct pd_error *err)
{
	rs_signature_t *sig = NULL;
	rs_job_t *load = NULL;
	struct io *io;
	enum pd_err rc;

	if ((rc = dl_rs_load(err)) != PD_OK)
		return rc;
	if ((io = pd_malloc(sizeof(*io))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "delta buffers");
	if ((load = dl_rs->loadsig_begin(&sig)) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "signature job");
		goto out;
	}
	if ((rc = run(load, sig_fd, "the signature", DL_SIG_FILE_MAX,
	    PD_ERR_CORRUPT, io, no_sink, NULL, err)) != PD_OK)
		goto out;
	rc = delta_with(sig, new_fd, out_fd, io, out_len, err);
out:
	if (load != NULL)
		dl_rs->job_free(load);
	if (sig != NULL)
		dl_rs->free_sumset(sig);
	pd_free(io);
	return rc;
}
