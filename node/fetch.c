/*
 * libcurl multi transfers with capped, zstd-decoded bodies.
 *
 * We ask for zstd ourselves ("Accept-Encoding: zstd") rather than let
 * libcurl decode, so that the bytes on the wire can be counted and the
 * decoded size capped in the same callback, and a response in an encoding
 * we did not ask for is refused.
 *
 * A transfer to retry (fetch.h) leaves the multi handle and waits on a
 * list, with the time it is due; nd_fetch_run's poll sleeps no longer
 * than until the first is due, and puts it back on the multi handle,
 * the same easy handle with the same options.
 *
 * A rate limit (nd_rate) is kept here, not by libcurl: its
 * CURLOPT_MAX_RECV_SPEED_LARGE is per transfer, and lets a transfer's
 * first seconds run far over.  A body callback that finds the limiter
 * ahead pauses its transfer (CURL_WRITEFUNC_PAUSE: libcurl keeps the
 * chunk and stops reading the socket, so TCP tells the sender to wait);
 * the run loop sleeps until the limiter allows more and resumes them.
 *
 * A transfer gets its easy handle only when it starts, at most parallel
 * at once: queued, it is its URL, headers and body.  A pull queues
 * hundreds of batch requests, and as many handles with their buffers
 * cost it 12 MB.
 */
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/mem.h"
#include "../delta/zstd.h"
#include "curlso.h"
#include "fetch_int.h"
#include "rate.h"

#define BACKOFF_FIRST_MS	500	/* the wait after the first 503 */

struct xfer {
	struct nd_fetch		*f;
	CURL			*easy;
	struct curl_slist	*headers;
	char			*url;
	char			*body;		/* to POST (len), or NULL */
	size_t			 len;
	nd_body_fn		*make_body;	/* makes body at the start */
	bool			 added;		/* to the multi handle */
	char			 cerr[CURL_ERROR_SIZE];	/* libcurl's detail */
	uint64_t		 cap;
	uint64_t		 range_from;	/* > 0: a 206 is required */
	uint64_t		 got;		/* decoded body bytes */
	bool			 zstd;		/* Content-Encoding: zstd */
	bool			 badenc;	/* an encoding we never asked */
	long			 status;	/* once the body starts */
	struct dl_zdec		*dec;
	struct pd_buf		 errbody;	/* body of a failed request */
	nd_sink_fn		*sink;
	nd_done_fn		*done;
	void			*arg;
	nd_raw_fn		*raw;
	void			*raw_arg;
	struct pd_error		 err;
	long			 retry_after;	/* seconds; -1: none given */
	unsigned		 tries;		/* attempts made */
	uint64_t		 due;		/* ms: when to try again */
	struct xfer		*wnext;		/* nd_fetch.waiting */
	struct xfer		*pnext;		/* nd_fetch.paused */
	struct xfer		*qnext;		/* nd_fetch.queued */
};


/* Monotonic milliseconds, as the rest of this file counts them. */
static uint64_t
now_ms(void)
{
	return (uint64_t)pd_mono_ms();
}

/* xorshift64: jitter needs to differ between clients, nothing more. */
static uint64_t
rnd(struct nd_fetch *f)
{
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return f->rng;
}

enum pd_err
nd_fetch_new(const char *base, unsigned parallel, struct nd_fetch **out,
    struct pd_error *err)
{
	struct nd_fetch *f;

	if (strncmp(base, "http://", 7) != 0 &&
	    strncmp(base, "https://", 8) != 0)
		return pd_fail(err, PD_ERR_USAGE, "upstream %s: want "
		    "http://HOST:PORT", base);
	if ((f = pd_calloc(1, sizeof(*f))) == NULL ||
	    (f->base = pd_strdup(base)) == NULL) {
		nd_fetch_free(f);
		return pd_fail(err, PD_ERR_NOMEM, "fetch");
	}
	/* Trailing slashes would double in every URL. */
	while (strlen(f->base) > 8 && f->base[strlen(f->base) - 1] == '/')
		f->base[strlen(f->base) - 1] = '\0';
	f->qtail = &f->queued;
	nd_fetch_set_parallel(f, parallel);
	f->rng = (now_ms() << 20) ^ (uint64_t)getpid() ^
	    (uint64_t)(uintptr_t)f;
	if (f->rng == 0)
		f->rng = 1;
	*out = f;
	return PD_OK;
}

static void	free_xfer(struct xfer *);

static void
drop_spares(struct nd_fetch *f)
{
	while (f->nspare > 0)
		dl_zdec_free(f->spare[--f->nspare]);
}

void
nd_fetch_free(struct nd_fetch *f)
{
	struct xfer *x;

	if (f == NULL)
		return;
	while ((x = f->waiting) != NULL) {
		f->waiting = x->wnext;
		free_xfer(x);
	}
	while ((x = f->queued) != NULL) {
		f->queued = x->qnext;
		free_xfer(x);
	}
	if (f->multi)
		f->c->multi_cleanup(f->multi);
	drop_spares(f);
	pd_free(f->base);
	pd_free(f->cert);
	pd_free(f->key);
	pd_free(f->ca);
	pd_free(f);
}

static void
set_connections(struct nd_fetch *f)
{
	f->c->multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	    (long)f->parallel);
	f->c->multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)f->parallel);
}

void
nd_fetch_set_parallel(struct nd_fetch *f, unsigned parallel)
{
	f->parallel = parallel ? parallel : ND_FETCH_PARALLEL;
	if (f->multi != NULL)
		set_connections(f);
}

/* libcurl and the multi handle, when the first transfer is to run. */
static enum pd_err
ready(struct nd_fetch *f, struct pd_error *err)
{
	enum pd_err rc;

	if (f->multi != NULL)
		return PD_OK;
	if ((rc = nd_curl_load(&f->c, err)) != PD_OK)
		return rc;
	if ((f->multi = f->c->multi_init()) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "fetch %s", f->base);
	set_connections(f);
	return PD_OK;
}

void
nd_fetch_set_rate(struct nd_fetch *f, uint64_t rate)
{
	f->rate = rate;
	if (rate > 0)
		nd_rate_init(&f->limit, rate);
}

void
nd_fetch_set_stop(struct nd_fetch *f, bool (*stop)(void *), void *arg)
{
	f->stop = stop;
	f->stop_arg = arg;
}

/* libcurl, at least once a second while a transfer runs: non-zero
 * aborts it (CURLE_ABORTED_BY_CALLBACK). */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return x->f->stopped;
}

enum pd_err
nd_fetch_set_tls(struct nd_fetch *f, const struct nd_tls_files *t,
    struct pd_error *err)
{
	enum pd_err rc;

	if (strncmp(f->base, "https://", 8) != 0)
		return pd_fail(err, PD_ERR_USAGE, "upstream %s: TLS files "
		    "given for a plain http:// upstream", f->base);
	if ((rc = nd_tls_check(t, false, err)) != PD_OK)
		return rc;
	pd_free(f->cert);
	pd_free(f->key);
	pd_free(f->ca);
	f->cert = pd_strdup(t->cert);
	f->key = pd_strdup(t->key);
	f->ca = pd_strdup(t->ca);
	if (f->cert == NULL || f->key == NULL || f->ca == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "TLS files");
	return PD_OK;
}

/* Our certificate and key; the deployment CA as the only anchor. */
static void
set_tls(const struct nd_fetch *f, CURL *easy)
{
	const struct nd_curl *c = f->c;

	c->easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https");
	c->easy_setopt(easy, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2);
	c->easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
	c->easy_setopt(easy, CURLOPT_SSLCERT, f->cert);
	c->easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
	c->easy_setopt(easy, CURLOPT_SSLKEY, f->key);
	c->easy_setopt(easy, CURLOPT_CAINFO, f->ca);
	/* Debian's libcurl also looks in /etc/ssl/certs unless told not
	 * to: a public CA must not vouch for a node. */
	c->easy_setopt(easy, CURLOPT_CAPATH, NULL);
	c->easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	c->easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
}

const struct nd_fetch_stats *
nd_fetch_stats(const struct nd_fetch *f)
{
	return &f->st;
}

static void
free_xfer(struct xfer *x)
{
	struct nd_fetch *f = x->f;

	if (x->easy)
		f->c->easy_cleanup(x->easy);
	if (x->headers)
		f->c->slist_free_all(x->headers);
	if (x->dec != NULL && f != NULL && f->nspare < SPARE_DECODERS)
		f->spare[f->nspare++] = x->dec;
	else
		dl_zdec_free(x->dec);
	pd_buf_free(&x->errbody);
	pd_free(x->body);
	pd_free(x->url);
	pd_free(x);
}

/*
 * Retry-After's value from v to end (or to a CR, LF or space): its
 * delay-seconds, at most ND_RETRY_WAIT_MAX; -1 for anything else (an
 * HTTP-date is left to the backoff).
 */
long
nd_f_retry_after(const char *v, const char *end)
{
	const char *d = v;
	long n = 0;

	for (; d < end && *d >= '0' && *d <= '9'; d++)
		if (n <= ND_RETRY_WAIT_MAX)
			n = n * 10 + (*d - '0');
	if (d == v || (d < end && *d != '\r' && *d != '\n' && *d != ' '))
		return -1;
	return n > ND_RETRY_WAIT_MAX ? ND_RETRY_WAIT_MAX : n;
}

/* How long before try tries + 1 (tries >= 1), Retry-After ra or -1. */
uint64_t
nd_f_retry_wait(struct nd_fetch *f, unsigned tries, long ra)
{
	uint64_t wait, backoff;

	backoff = (uint64_t)BACKOFF_FIRST_MS << (tries - 1);
	if (backoff > ND_RETRY_WAIT_MAX * 1000)
		backoff = ND_RETRY_WAIT_MAX * 1000;
	wait = ra > 0 ? (uint64_t)ra * 1000 : 0;
	if (wait < backoff)
		wait = backoff;
	return wait + rnd(f) % (wait / 2 + 1);
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	const char *v;

	x->f->st.wire_bytes += len;
	if (len > 17 && strncasecmp(p, "content-encoding:", 17) == 0) {
		for (v = p + 17; *v == ' ' || *v == '\t'; v++)
			;
		if (strncasecmp(v, "zstd", 4) == 0)
			x->zstd = true;
		else if (strncasecmp(v, "identity", 8) != 0)
			x->badenc = true;
	}
	if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		for (v = p + 12; v < p + len && (*v == ' ' || *v == '\t'); v++)
			;
		x->retry_after = nd_f_retry_after(v, p + len);
	}
	/* A new response (after a 100 Continue) starts over. */
	if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
		x->zstd = x->badenc = false;
		x->retry_after = -1;
	}
	return len;
}

/* Decoded bytes: count against the cap, then to the sink. */
static enum pd_err
deliver(void *arg, const void *p, size_t n)
{
	struct xfer *x = arg;

	if (n > x->cap || x->got > x->cap - n)
		return pd_fail(&x->err, PD_ERR_LIMIT, "%s: body larger than "
		    "the %llu bytes allowed", x->url,
		    (unsigned long long)x->cap);
	x->got += n;
	x->f->st.body_bytes += n;
	return x->sink ? x->sink(x->arg, p, n) : PD_OK;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (x->f->rate > 0 && !x->f->stopped &&
	    !nd_rate_take(&x->f->limit, (uint64_t)pd_mono_us(), len)) {
		/* libcurl hands the same bytes again once resumed. */
		x->pnext = x->f->paused;
		x->f->paused = x;
		return CURL_WRITEFUNC_PAUSE;
	}
	x->f->st.wire_bytes += len;
	if (x->status == 0)
		x->f->c->easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE,
		    &x->status);
	if (x->range_from > 0 && x->status == 200) {
		pd_fail(&x->err, PD_ERR_PARSE, "%s: the server ignored the "
		    "Range asked for", x->url);
		return 0;
	}
	if (x->status != 200 && x->status != 206) {
		/* Keep a little of an error body for the message. */
		if (pd_buf_add(&x->errbody, p, len) != PD_OK)
			return len;
		return len;
	}
	if (x->badenc) {
		pd_fail(&x->err, PD_ERR_PARSE, "%s: content encoding that "
		    "was not asked for", x->url);
		return 0;
	}
	if (x->raw != NULL)
		x->raw(x->raw_arg, x->zstd, p, len);
	if (x->zstd) {
		if (x->dec == NULL && x->f->nspare > 0) {
			x->dec = x->f->spare[--x->f->nspare];
			dl_zdec_reset(x->dec, x->cap);
		}
		if (x->dec == NULL && dl_zdec_new(x->cap, &x->dec,
		    &x->err) != PD_OK)
			return 0;
		if (dl_zdec_feed(x->dec, p, len, deliver, x, &x->err) != PD_OK)
			return 0;
		return len;
	}
	return deliver(x, p, len) == PD_OK ? len : 0;
}

enum pd_err
nd_fetch_add(struct nd_fetch *f, const char *path, const void *body,
    size_t len, uint64_t range_from, uint64_t cap, nd_sink_fn *sink,
    nd_done_fn *done, void *arg, struct pd_error *err)
{
	struct nd_fetch_req q = { .path = path, .body = body, .len = len,
	    .range_from = range_from, .cap = cap, .sink = sink, .done = done,
	    .arg = arg };

	return nd_fetch_queue(f, &q, err);
}

enum pd_err
nd_f_queue(struct nd_fetch *f, const struct nd_fetch_req *q, unsigned tries,
    struct pd_error *err)
{
	const char *path = q->path;
	struct xfer *x;
	size_t ulen = strlen(f->base) + strlen(path) + 1;

	if ((x = pd_calloc(1, sizeof(*x))) == NULL ||
	    (x->url = pd_malloc(ulen)) == NULL ||
	    (q->body != NULL &&
	    (x->body = pd_memdup0(q->body, q->len)) == NULL)) {
		if (x)
			free_xfer(x);
		return pd_fail(err, PD_ERR_NOMEM, "fetch %s", path);
	}
	snprintf(x->url, ulen, "%s%s", f->base, path);
	x->len = q->len;
	x->f = f;
	x->retry_after = -1;
	x->cap = q->cap;
	x->range_from = q->range_from;
	x->sink = q->sink;
	x->done = q->done;
	x->arg = q->arg;
	x->raw = q->raw;
	x->raw_arg = q->raw_arg;
	x->make_body = q->body == NULL ? q->make_body : NULL;
	pd_buf_init(&x->errbody, ND_CONTROL_MAX);
	*f->qtail = x;
	f->qtail = &x->qnext;
	f->running++;
	x->tries = tries;
	return PD_OK;
}

enum pd_err
nd_fetch_queue(struct nd_fetch *f, const struct nd_fetch_req *q,
    struct pd_error *err)
{
	return nd_f_queue(f, q, 0, err);
}

static void	finish(struct nd_fetch *, struct xfer *, CURLcode);

/* Put x on the multi handle (again, for a retry); if that fails, end it. */
static void
add(struct nd_fetch *f, struct xfer *x)
{
	f->st.requests++;
	if (f->c->multi_add_handle(f->multi, x->easy) != CURLM_OK) {
		pd_fail(&x->err, PD_ERR_NOMEM, "%s: starting", x->url);
		finish(f, x, CURLE_OK);
		return;
	}
	x->added = true;
	f->active++;
}

/* x's body from its maker, once (a retry sends the same). */
static enum pd_err
make_body(struct xfer *x)
{
	nd_body_fn *fn = x->make_body;
	struct pd_buf b;
	enum pd_err rc;

	pd_buf_init(&b, ND_FETCH_BODY_MAX);
	x->make_body = NULL;
	if ((rc = fn(x->arg, &b, &x->err)) != PD_OK) {
		if (x->err.code == PD_OK)
			pd_fail(&x->err, rc, "%s: making the request's body",
			    x->url);
		pd_buf_free(&b);
		return rc;
	}
	/* Empty, a buffer holds no memory; a POST still needs a body. */
	if ((x->body = (char *)pd_buf_take(&b, &x->len)) == NULL &&
	    (x->body = pd_memdup0("", 0)) == NULL)
		return pd_fail(&x->err, PD_ERR_NOMEM, "fetch %s", x->url);
	return PD_OK;
}

/* The request's headers, as libcurl takes them. */
static struct curl_slist *
headers(const struct nd_curl *c, const struct xfer *x)
{
	struct curl_slist *h;
	char range[64];

	h = c->slist_append(NULL, "Accept-Encoding: zstd");
	if (h && x->body)
		h = c->slist_append(h, "Content-Type: application/json");
	if (h && x->range_from > 0) {
		snprintf(range, sizeof(range), "Range: bytes=%llu-",
		    (unsigned long long)x->range_from);
		h = c->slist_append(h, range);
	}
	return h;
}

/* Give a queued transfer its easy handle and put it on the multi. */
static void
start(struct nd_fetch *f, struct xfer *x)
{
	const struct nd_curl *c = f->c;

	if (x->make_body != NULL && make_body(x) != PD_OK) {
		finish(f, x, CURLE_OK);
		return;
	}
	if ((x->headers = headers(c, x)) == NULL ||
	    (x->easy = c->easy_init()) == NULL) {
		pd_fail(&x->err, PD_ERR_NOMEM, "fetch %s", x->url);
		finish(f, x, CURLE_OK);
		return;
	}
	c->easy_setopt(x->easy, CURLOPT_URL, x->url);
	c->easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	c->easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
	c->easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	c->easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
	c->easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	c->easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	c->easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	c->easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT, 10L);
	/* A stalled peer: under 1 byte/s for a minute ends the transfer. */
	c->easy_setopt(x->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	c->easy_setopt(x->easy, CURLOPT_LOW_SPEED_TIME, 60L);
	c->easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	c->easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->cerr);
	c->easy_setopt(x->easy, CURLOPT_XFERINFOFUNCTION, on_progress);
	c->easy_setopt(x->easy, CURLOPT_XFERINFODATA, x);
	c->easy_setopt(x->easy, CURLOPT_NOPROGRESS, 0L);
	if (f->cert != NULL)
		set_tls(f, x->easy);
	if (x->body) {
		c->easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)x->len);
		c->easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
	}
	add(f, x);
}

/*
 * Start queued transfers while fewer than parallel run; once stopping,
 * end them all.  A transfer that ends may queue another (done), so the
 * queue is taken one at a time.
 */
static void
start_queued(struct nd_fetch *f)
{
	struct xfer *x;

	while ((f->stopped || f->active < f->parallel) &&
	    (x = f->queued) != NULL) {
		if ((f->queued = x->qnext) == NULL)
			f->qtail = &f->queued;
		x->qnext = NULL;
		if (!f->stopped) {
			start(f, x);
			continue;
		}
		pd_fail(&x->err, PD_ERR_CONFLICT, "%s: stopped", x->url);
		finish(f, x, CURLE_OK);
	}
}

/*
 * Should x, which ended so, be made again?  Then it waits on f's list
 * (still counted as running) and true is returned.
 */
static bool
retry_later(struct nd_fetch *f, struct xfer *x, CURLcode cc)
{
	if (x->err.code != PD_OK || x->tries + 1 >= ND_FETCH_TRIES ||
	    !((cc == CURLE_OK && x->status == 503) ||
	    cc == CURLE_GOT_NOTHING))
		return false;
	x->tries++;
	x->due = now_ms() + nd_f_retry_wait(f, x->tries, x->retry_after);
	/* Nothing of a 503's body reached the sink: start clean. */
	x->status = 0;
	x->zstd = x->badenc = false;
	x->retry_after = -1;
	pd_buf_reset(&x->errbody);
	x->wnext = f->waiting;
	f->waiting = x;
	f->st.retried++;
	return true;
}

/* Put the transfers that are due back on the multi handle. */
static void
start_due(struct nd_fetch *f, uint64_t *next)
{
	struct xfer **pp = &f->waiting, *x;
	uint64_t now = now_ms();

	*next = UINT64_MAX;
	while ((x = *pp) != NULL) {
		if (x->due > now) {
			if (x->due < *next)
				*next = x->due;
			pp = &x->wnext;
			continue;
		}
		*pp = x->wnext;
		x->wnext = NULL;
		add(f, x);
	}
}

/*
 * Stop: transfers queued or waiting to be retried end now, the running
 * ones at their next progress call; each owner hears of it through done.
 */
static void
stop_all(struct nd_fetch *f)
{
	struct xfer *x;

	f->stopped = true;
	while ((x = f->waiting) != NULL) {
		f->waiting = x->wnext;
		x->wnext = NULL;
		pd_fail(&x->err, PD_ERR_CONFLICT, "%s: stopped", x->url);
		finish(f, x, CURLE_OK);
	}
	start_queued(f);
}

/* x leaves the paused list (no longer than parallel), if it is there. */
static void
unpause_unlink(struct nd_fetch *f, struct xfer *x)
{
	struct xfer **pp;

	for (pp = &f->paused; *pp != NULL; pp = &(*pp)->pnext)
		if (*pp == x) {
			*pp = x->pnext;
			x->pnext = NULL;
			return;
		}
}

/*
 * Resume the paused transfers once the limit allows (or the fetch is
 * stopping, so that progress can end them), and make *wait_ms 0 for
 * libcurl to go on with them; else lower *wait_ms to when it will.  A
 * resumed transfer may be handed its chunk at once, inside
 * curl_easy_pause, and pause again: the list is taken first.
 */
static void
resume_due(struct nd_fetch *f, int *wait_ms)
{
	struct xfer *x, *list;
	uint64_t now, at;

	if (f->paused == NULL)
		return;
	now = (uint64_t)pd_mono_us();
	at = nd_rate_next(&f->limit, now);
	if (at > now && !f->stopped) {
		if ((at - now + 999) / 1000 < (uint64_t)*wait_ms)
			*wait_ms = (int)((at - now + 999) / 1000);
		return;
	}
	*wait_ms = 0;
	list = f->paused;
	f->paused = NULL;
	while ((x = list) != NULL) {
		list = x->pnext;
		x->pnext = NULL;
		f->c->easy_pause(x->easy, CURLPAUSE_CONT);
	}
}

/* A transfer ended: say how, to its owner. */
static void
finish(struct nd_fetch *f, struct xfer *x, CURLcode cc)
{
	enum pd_err rc = x->err.code;
	const char *why;
	curl_off_t upsize = 0;
	long reqsize = 0;
	uint64_t n;

	if (x->added) {
		if (x->status == 0)
			f->c->easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE,
			    &x->status);
		if (f->c->easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE,
		    &reqsize) == CURLE_OK && reqsize > 0)
			f->st.sent_bytes += (uint64_t)reqsize;
		if (f->c->easy_getinfo(x->easy, CURLINFO_SIZE_UPLOAD_T,
		    &upsize) == CURLE_OK && upsize > 0)
			f->st.sent_bytes += (uint64_t)upsize;
		f->c->multi_remove_handle(f->multi, x->easy);
		x->added = false;
		f->active--;
	}
	unpause_unlink(f, x);
	if (!f->stopped && retry_later(f, x, cc))
		return;
	if (rc == PD_OK && cc != CURLE_OK)
		rc = pd_fail(&x->err, PD_ERR_IO, "%s: %s", x->url,
		    x->cerr[0] ? x->cerr : f->c->easy_strerror(cc));
	else if (rc == PD_OK && x->status == 303)
		;	/* the caller knows what a redirect means */
	else if (rc == PD_OK && x->status != 200 && x->status != 206) {
		why = x->errbody.len ? (const char *)x->errbody.data : "";
		rc = pd_fail(&x->err, x->status == 404 ? PD_ERR_NOTFOUND :
		    PD_ERR_IO, "%s: HTTP %ld %.300s", x->url, x->status, why);
	} else if (rc == PD_OK && x->dec != NULL &&
	    (rc = dl_zdec_finish(x->dec, &n, &x->err)) != PD_OK)
		pd_prefix(&x->err, "%s", x->url);
	f->running--;
	if (x->done)
		x->done(x->arg, x->status, rc, &x->err);
	free_xfer(x);
}

enum pd_err
nd_fetch_run(struct nd_fetch *f, struct pd_error *err)
{
	struct xfer *x;
	CURLMsg *msg;
	CURLMcode mc;
	uint64_t next, now;
	int still, left, wait;
	enum pd_err rc;

	if (f->running > 0 && (rc = ready(f, err)) != PD_OK)
		return rc;
	while (f->running > 0) {
		if (!f->stopped && f->stop != NULL && f->stop(f->stop_arg))
			stop_all(f);
		start_due(f, &next);
		start_queued(f);
		if ((mc = f->c->multi_perform(f->multi, &still)) != CURLM_OK)
			return pd_fail(err, PD_ERR_IO, "libcurl: %s",
			    f->c->multi_strerror(mc));
		while ((msg = f->c->multi_info_read(f->multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			f->c->easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&x);
			finish(f, x, msg->data.result);
		}
		/* Those that ended make room: their successors start before
		 * the poll, which a handle just added does not make wait. */
		start_queued(f);
		/* Sleep no longer than until a retry is due, or the rate
		 * limit lets a paused transfer go on. */
		now = now_ms();
		wait = next == UINT64_MAX || next > now + 1000 ? 1000 :
		    next > now ? (int)(next - now) : 0;
		resume_due(f, &wait);
		if (f->running > 0 &&
		    (mc = f->c->multi_poll(f->multi, NULL, 0, wait, NULL)) !=
		    CURLM_OK)
			return pd_fail(err, PD_ERR_IO, "libcurl: %s",
			    f->c->multi_strerror(mc));
	}
	/* Idle: what comes next (a pull's build) has the memory. */
	drop_spares(f);
	if (f->stopped)
		return pd_fail(err, PD_ERR_CONFLICT, "%s: transfers stopped "
		    "(canceled, or the node is stopping); what came is kept",
		    f->base);
	return PD_OK;
}
