/*
 * librsync glue: its log, its errors.
 *
 * librsync writes its errors to stderr through one process-wide trace
 * callback.  Library code here never prints, so the callback keeps the
 * first error message of the current thread in a thread-local buffer and
 * dl_rs_fail() appends it to the pd_error text ("invalid length=-1 on
 * COPY command" says more than "stream corrupt").
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define RS_MSG_MAX	256

static pthread_once_t trace_once = PTHREAD_ONCE_INIT;
static _Thread_local char last[RS_MSG_MAX];

/*
 * librsync hands over "librsync: ERROR: (function) text\n".  Keep the
 * text of the first one, without the function; skip rs_job_complete's
 * "job failed: <rs_strerror>", which dl_rs_fail() says anyway.
 */
static void
trace(rs_loglevel level, const char *msg)
{
	const char *p, *q;
	size_t n;

	if (level > RS_LOG_ERR || last[0] != '\0')
		return;
	if (strstr(msg, "(rs_job_complete)") != NULL)
		return;
	if ((q = strchr(msg, '(')) != NULL && (p = strstr(q, ") ")) != NULL)
		msg = p + 2;
	n = strcspn(msg, "\n");
	if (n >= sizeof(last))
		n = sizeof(last) - 1;
	memcpy(last, msg, n);
	last[n] = '\0';
}

static void
trace_init(void)
{
	rs_trace_set_level(RS_LOG_ERR);
	rs_trace_to(trace);
}

void
dl_rs_clear(void)
{
	pthread_once(&trace_once, trace_init);
	last[0] = '\0';
}

enum pd_err
dl_rs_fail(struct pd_error *err, enum pd_err code, rs_result res,
    const char *what)
{
	if (res == RS_MEM_ERROR)
		code = PD_ERR_NOMEM;
	if (last[0] != '\0')
		return pd_fail(err, code, "%s: %s (%s)", what,
		    rs_strerror(res), last);
	return pd_fail(err, code, "%s: %s", what, rs_strerror(res));
}
