/*
 * A lone GET (fetch.h): tried first with libevent's client (hget.h),
 * then, for anything but a whole 200, through libcurl's transfers.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/clock.h"
#include "fetch_int.h"
#include "hget.h"

struct getone {
	nd_sink_fn	*sink;
	void		*arg;
	long		*status;
	enum pd_err	 rc;
	struct pd_error	*err;
};

static enum pd_err
get_sink(void *arg, const void *p, size_t n)
{
	struct getone *g = arg;

	return g->sink(g->arg, p, n);
}

static void
get_done(void *arg, long status, enum pd_err rc, const struct pd_error *e)
{
	struct getone *g = arg;

	*g->status = status;
	g->rc = rc;
	if (rc != PD_OK)
		pd_fail(g->err, rc, "%s", e->msg);
}

/*
 * Before libcurl is loaded, a small body from a plain http:// upstream
 * is asked with hget.h.  True: *rc is what came of it, the sink's
 * answer included.  False: ask through libcurl; *tries is 1 if the
 * try was answered 503, which counts as the first (fetch.h), and the
 * wait before the next has been waited.
 */
static bool
quick_get(struct nd_fetch *f, const char *path, uint64_t cap,
    const struct getone *g, unsigned *tries, enum pd_err *rc)
{
	struct nd_hget_count n = { 0 };
	struct pd_error e = { 0 };
	struct pd_buf b;
	uint64_t due, now, ms;
	long ra;
	bool done;

	*tries = 0;
	if (f->multi != NULL || f->cert != NULL || cap > ND_CONTROL_MAX ||
	    f->stopped)
		return false;
	pd_buf_init(&b, (size_t)cap);
	done = nd_hget(f->base, path, (size_t)cap, &b, &n, &e) == PD_OK;
	f->st.requests++;
	f->st.sent_bytes += n.sent;
	f->st.wire_bytes += n.received;
	if (done) {
		*g->status = 200;
		f->st.body_bytes += b.len;
		*rc = b.len > 0 ? g->sink(g->arg, b.data, b.len) : PD_OK;
		if (*rc != PD_OK)
			pd_fail(g->err, *rc, "%s%s: taking the body", f->base,
			    path);
	} else if (n.status == 503) {
		*tries = 1;
		f->st.retried++;
		ra = nd_f_retry_after(n.retry_after,
		    n.retry_after + strlen(n.retry_after));
		due = (uint64_t)pd_mono_ms() + nd_f_retry_wait(f, 1, ra);
		/* Asking stop about once a second, as nd_fetch_run does. */
		while ((now = (uint64_t)pd_mono_ms()) < due &&
		    (f->stop == NULL || !f->stop(f->stop_arg))) {
			ms = due - now > 1000 ? 1000 : due - now;
			nanosleep(&(struct timespec){ (time_t)(ms / 1000),
			    (long)(ms % 1000) * 1000000 }, NULL);
		}
	}
	pd_buf_free(&b);
	return done;
}

enum pd_err
nd_fetch_get_to(struct nd_fetch *f, const char *path, uint64_t cap,
    nd_sink_fn *sink, void *arg, long *status, struct pd_error *err)
{
	struct getone g = { sink, arg, status, PD_OK, err };
	struct nd_fetch_req q = { .path = path, .cap = cap,
	    .sink = get_sink, .done = get_done, .arg = &g };
	unsigned tries;
	enum pd_err rc;

	*status = 0;
	if (quick_get(f, path, cap, &g, &tries, &rc))
		return rc;
	if ((rc = nd_f_queue(f, &q, tries, err)) != PD_OK)
		return rc;
	if ((rc = nd_fetch_run(f, err)) != PD_OK)
		return rc;
	return g.rc;
}

static enum pd_err
buf_sink(void *arg, const void *p, size_t n)
{
	return pd_buf_add(arg, p, n);
}

enum pd_err
nd_fetch_get(struct nd_fetch *f, const char *path, uint64_t cap,
    struct pd_buf *out, long *status, struct pd_error *err)
{
	return nd_fetch_get_to(f, path, cap, buf_sink, out, status, err);
}
