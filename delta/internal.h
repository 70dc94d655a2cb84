/*
 * Shared between the files of delta/ only: the glue to librsync.
 *
 * librsync is opened with dlopen the first time a delta/ entry point
 * needs it, not linked: linked in, it and what it brings (libb2, and
 * libgomp, whose constructor runs) cost every start of pulpdist about
 * 1.5 ms of ld.so's work, though most commands never make or apply a
 * delta.  Its functions are called through the table below; the types
 * and constants still come from <librsync.h>.
 */
#ifndef DL_INTERNAL_H
#define DL_INTERNAL_H

#include <librsync.h>

#include "delta.h"

/* The soname of librsync 2.x. */
#define DL_RS_SONAME	"librsync.so.2"

/* librsync's functions, each rs_<field>. */
struct dl_rsapi {
	rs_result	 (*job_iter)(rs_job_t *, rs_buffers_t *);
	rs_result	 (*job_free)(rs_job_t *);
	rs_result	 (*sig_args)(rs_long_t, rs_magic_number *, size_t *,
			    size_t *);
	rs_job_t	*(*sig_begin)(size_t, size_t, rs_magic_number);
	rs_job_t	*(*delta_begin)(rs_signature_t *);
	rs_result	 (*build_hash_table)(rs_signature_t *);
	rs_job_t	*(*loadsig_begin)(rs_signature_t **);
	void		 (*free_sumset)(rs_signature_t *);
	rs_job_t	*(*patch_begin)(rs_copy_cb *, void *);
	const char	*(*strerror)(rs_result);
	void		 (*trace_set_level)(rs_loglevel);
	void		 (*trace_to)(rs_trace_fn_t *);
};

/*
 * The table, filled by the first dl_rs_load() of the process and valid
 * until exit.  Only after a dl_rs_load() that succeeded: every public
 * function of delta/ that reaches librsync calls dl_rs_load() first.
 */
extern const struct dl_rsapi *const dl_rs;

/*
 * Open librsync and route its log (see dl_rs_clear()), the first time
 * in the process, whichever thread asks; the same answer every time
 * after.  Errors: PD_ERR_IO, naming the soname and Debian's package when
 * the library is missing, or the symbol it lacks.
 */
enum pd_err dl_rs_load(struct pd_error *) PD_WARN_UNUSED;

/*
 * Forget this thread's last librsync log message (librsync's log goes
 * to a per-thread buffer, not to stderr).  Call before each
 * rs_job_iter() whose failure may be reported.
 */
void	dl_rs_clear(void);

/*
 * Record a librsync failure as code (PD_ERR_NOMEM for RS_MEM_ERROR),
 * saying what failed, then rs_strerror(res) and the first message
 * librsync logged since dl_rs_clear().  Returns the code recorded.
 */
enum pd_err dl_rs_fail(struct pd_error *, enum pd_err code, rs_result res,
	    const char *what);

#endif
