/*
 * Shared between the files of delta/ only: the glue to librsync.
 */
#ifndef DL_INTERNAL_H
#define DL_INTERNAL_H

#include <librsync.h>

#include "delta.h"

/*
 * Route librsync's log to a per-thread buffer instead of stderr (once per
 * process), and forget this thread's last message.  Call before each
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
