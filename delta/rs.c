/*
 * librsync glue: opening it, its log, its errors.
 *
 * librsync is looked up by name into the table through the fields'
 * offsets, so that a missing symbol is named in the error.
 *
 * librsync writes its errors to stderr through one process-wide trace
 * callback.  Library code here never prints, so the callback keeps the
 * first error message of the current thread in a thread-local buffer and
 * dl_rs_fail() appends it to the pd_error text ("invalid length=-1 on
 * COPY command" says more than "stream corrupt").
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../common/dso.h"
#include "internal.h"

#define RS_MSG_MAX	256

#define SYM(f)	PD_DSO_SYM(struct dl_rsapi, api, f, rs_##f)

static struct dl_rsapi	 api;
static struct pd_dso_once once = PD_DSO_ONCE_INIT;

const struct dl_rsapi *const dl_rs = &api;

static const struct pd_dso_sym syms[] = {
	SYM(job_iter), SYM(job_free), SYM(sig_args), SYM(sig_begin),
	SYM(delta_begin), SYM(build_hash_table), SYM(loadsig_begin),
	SYM(free_sumset), SYM(patch_begin), SYM(strerror),
	SYM(trace_set_level), SYM(trace_to),
};

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

/* librsync's log goes to trace(), errors only. */
static enum pd_err
route_log(void *table, struct pd_error *err)
{
	const struct dl_rsapi *t = table;

	(void)err;
	t->trace_set_level(RS_LOG_ERR);
	t->trace_to(trace);
	return PD_OK;
}

enum pd_err
dl_rs_load(struct pd_error *err)
{
	static const struct pd_dso so = { "librsync", DL_RS_SONAME,
	    "librsync2", "a newer librsync 2", syms,
	    sizeof(syms) / sizeof(syms[0]) };

	return pd_dso_once(&once, &so, &api, route_log, err);
}

void
dl_rs_clear(void)
{
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
		    dl_rs->strerror(res), last);
	return pd_fail(err, code, "%s: %s", what, dl_rs->strerror(res));
}
