/*
 * HTTP machinery of the node server: listening, turning requests into
 * struct nd_req (what their bytes say is parsed in reqparse.c), running
 * handlers on workers, and writing replies.
 *
 * DESIGN: the loop thread owns every libevent object.  A request is
 * parsed here (no I/O) into a struct inflight; its handler runs on a
 * worker (node/workq.h) and fills in the reply, and the same job makes
 * the first piece of a streamed body, so that a small reply costs one
 * job.  Back on the loop the reply goes out; a longer body follows one
 * piece per job, the next job queued only when the previous piece has
 * left for the socket, so a slow client holds one piece, not the file.
 *
 * Clients vanish, and libevent frees a request with its connection
 * unless the reply was unfinished, in which case it hands the request
 * to us (evhttp_connection_incoming_fail: req->evcon becomes NULL, the
 * caller must end it).  So while a request is ours its connection's
 * close callback points at the inflight: it notes that the client left,
 * forgets the request if libevent is about to free it, and frees the
 * inflight at once unless a job holds it, in which case the job's
 * completion does.  Before any call that may end the request we detach
 * (close callback and completion callback cleared), so libevent never
 * calls back into an inflight that is gone.
 *
 * Caps on connections and on requests answered at once, and the
 * deadlines libevent lacks, are node/guard.c's.  The guard owns every
 * connection's close callback (it must learn every close), so ours is
 * set through nd_guard_closecb().
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include "../common/log.h"
#include "../common/mem.h"
#include "guard.h"
#include "serve.h"
#include "namer.h"
#include "server.h"
#include "workq.h"

#define QUEUE_PER_WORKER	64
#define TIMEOUT_DEFAULT		60
#define HEADERS_MAX		(16 * 1024)	/* request line and headers */

struct nd_server {
	struct cat		*cat;
	struct nd_dcache	*dc;
	struct event_base	*base;
	struct evhttp		*http;
	struct nd_workq		*wq;
	struct nd_namer		*namer;		/* names derived files */
	const struct nd_tls	*tls;		/* NULL: plain HTTP */
	struct nd_guard		*guard;		/* caps and deadlines */
	struct event		*sigint, *sigterm;
	unsigned		 max_queue;
	const struct nd_control	*control;	/* or NULL */
	time_t			 started;
	char			 addr[ND_ADDR_MAX];
	struct inflight		*all;		/* every request alive */
	struct nd_server_stats	 stats;
};

/* A request the server is answering. */
struct inflight {
	struct inflight		*prev, *next;	/* nd_server.all */
	struct nd_server	*srv;
	struct evhttp_request	*req;	/* NULL once libevent has it back */
	struct evhttp_connection *evcon;	/* NULL once it closed */
	struct evbuffer		*chunk;		/* the piece being made */
	bool			 busy;		/* a job holds it */
	bool			 gone;		/* the client left */
	bool			 failed;	/* a producer failed */
	bool			 admitted;	/* counts as a transfer */
	enum evhttp_cmd_type	 cmd;
	uint64_t		 sent;		/* body bytes sent */
	struct nd_req		 r;
};

static void	on_drained(struct evhttp_connection *, void *);

/* ------------------------------------------------------------------ */
/* Inflight lifetime (loop thread) */

static void
free_inflight(struct inflight *f)
{
	struct nd_server *s = f->srv;

	if (f->prev)
		f->prev->next = f->next;
	else
		s->all = f->next;
	if (f->next)
		f->next->prev = f->prev;
	if (f->admitted)
		nd_guard_release(s->guard);
	nd_reply_reset_body(&f->r);
	if (f->r.body)
		evbuffer_free(f->r.body);
	if (f->chunk)
		evbuffer_free(f->chunk);
	pd_free(f->r.input);
	pd_free(f);
}

/* Make libevent forget f: from here it never calls back for it. */
static void
detach(struct inflight *f)
{
	if (f->evcon)
		nd_guard_closecb(f->srv->guard, f->evcon, NULL, NULL);
	if (f->req)
		evhttp_request_set_on_complete_cb(f->req, NULL, NULL);
}

/* The client left and no job holds f: let go of everything. */
static void
finish_gone(struct inflight *f)
{
	f->srv->stats.gone++;
	log_debug("client left before its reply ended (%llu bytes sent)",
	    (unsigned long long)f->sent);
	detach(f);
	/* An unfinished request libevent handed to us: ending it frees it. */
	if (f->req)
		evhttp_send_reply_end(f->req);
	f->req = NULL;
	free_inflight(f);
}

/* Loop: the connection is going away (before libevent frees requests). */
static void
on_close(struct evhttp_connection *evcon, void *arg)
{
	struct inflight *f = arg;

	(void)evcon;
	f->evcon = NULL;
	f->gone = true;
	/* Still on the connection: libevent frees it right after us. */
	if (f->req && evhttp_request_get_connection(f->req) != NULL)
		f->req = NULL;
	if (!f->busy)
		finish_gone(f);
}

/*
 * Loop: libevent finished a request we still held.  Only its own error
 * paths do that (they answer for us); the request dies after this call.
 */
static void
on_complete(struct evhttp_request *req, void *arg)
{
	struct inflight *f = arg;

	(void)req;
	f->req = NULL;
	if (f->evcon)
		nd_guard_closecb(f->srv->guard, f->evcon, NULL, NULL);
	f->evcon = NULL;
	f->gone = true;
	if (!f->busy)
		finish_gone(f);
}

/* Loop: count what the reply served. */
static void
count(struct inflight *f)
{
	struct nd_server_stats *st = &f->srv->stats;

	if (f->r.status >= 400)
		st->errors++;
	if (f->r.status == 503)
		st->overloaded++;
	st->objects += f->r.objects;
	st->deltas += f->r.deltas;
	st->batch_items += f->r.items;
	if ((f->r.t.route == ND_R_BATCH || f->r.t.route == ND_R_PACK) &&
	    f->r.status == 200)
		st->batches++;
}

/* Loop: end the reply normally; f is freed. */
static void
complete(struct inflight *f, bool streamed, struct evbuffer *body)
{
	struct evhttp_request *req = f->req;

	log_debug("%s %s%s%s: %d, %llu bytes", f->cmd == EVHTTP_REQ_POST ?
	    "POST" : "GET", evhttp_request_get_uri(req), f->r.peer[0] ?
	    " from " : "", f->r.peer, f->r.status,
	    (unsigned long long)f->sent);
	/* Before the send, which may free the connection. */
	if (!streamed)
		nd_guard_reply(f->srv->guard, f->evcon, (int64_t)f->sent);
	nd_guard_replied(f->srv->guard, f->evcon);
	detach(f);
	f->req = NULL;
	if (streamed)
		evhttp_send_reply_end(req);
	else
		evhttp_send_reply(req, f->r.status, NULL, body);
	free_inflight(f);
}

/* Loop: a body cannot go on; cutting the connection tells the client. */
static void
cut(struct inflight *f)
{
	struct evhttp_connection *evcon = f->evcon;

	f->srv->stats.cut++;
	log_warn("%s: reply cut after %llu bytes: %s",
	    evhttp_request_get_uri(f->req), (unsigned long long)f->sent,
	    f->r.err.msg[0] ? f->r.err.msg : "producer failed");
	detach(f);
	f->req = NULL;		/* freed with the connection */
	free_inflight(f);
	evhttp_connection_free(evcon);
}

/* ------------------------------------------------------------------ */
/* Jobs */

/* Worker: run the producer once into f->chunk. */
static void
produce(struct inflight *f)
{
	struct nd_req *r = &f->r;

	if (f->chunk == NULL && (f->chunk = evbuffer_new()) == NULL) {
		pd_fail(&r->err, PD_ERR_NOMEM, "body buffer");
		f->failed = true;
		return;
	}
	if (r->produce(r, f->chunk) != PD_OK)
		f->failed = true;
	else if (!r->eof && evbuffer_get_length(f->chunk) == 0) {
		pd_fail(&r->err, PD_ERR_IO, "producer gave nothing");
		f->failed = true;
	}
}

/* If-None-Match against the reply's ETag: a match is 304, no body. */
static void
not_modified(struct nd_req *r)
{
	int i;

	if (r->status != 200 || r->inm[0] == '\0')
		return;
	for (i = 0; i < r->nheaders; i++)
		if (strcmp(r->hname[i], "ETag") == 0)
			break;
	if (i == r->nheaders || (strcmp(r->inm, "*") != 0 &&
	    strstr(r->inm, r->hval[i]) == NULL))
		return;
	r->status = 304;
	nd_reply_reset_body(r);
	if (r->body)
		evbuffer_drain(r->body, evbuffer_get_length(r->body));
}

/* Worker: the handler, then the first piece of a streamed body. */
static void
prepare_job(void *arg)
{
	struct inflight *f = arg;
	struct nd_req *r = &f->r;

	nd_handle(r);
	if (f->cmd != EVHTTP_REQ_POST)
		not_modified(r);
	if (r->produce == NULL || r->head)
		return;
	produce(f);
	if (!f->failed && r->eof && r->length >= 0 &&
	    evbuffer_get_length(f->chunk) != (uint64_t)r->length) {
		pd_fail(&r->err, PD_ERR_CORRUPT, "body of %zu bytes, "
		    "promised %lld", evbuffer_get_length(f->chunk),
		    (long long)r->length);
		f->failed = true;
	}
	if (f->failed) {
		/* Nothing has gone out yet: the client can be told. */
		nd_reply_error(r, 500, "internal error");
		f->failed = false;
	}
}

/* Worker: the next piece. */
static void
produce_job(void *arg)
{
	produce(arg);
}

static void	send_piece(struct inflight *);

/* Loop: a piece is ready. */
static void
produce_done(void *arg)
{
	struct inflight *f = arg;

	f->busy = false;
	if (f->gone) {
		finish_gone(f);
		return;
	}
	if (f->failed) {
		cut(f);
		return;
	}
	send_piece(f);
}

/* Loop: the previous piece has left; make the next. */
static void
on_drained(struct evhttp_connection *evcon, void *arg)
{
	struct inflight *f = arg;

	(void)evcon;
	f->busy = true;
	if (nd_workq_submit(f->srv->wq, produce_job, produce_done, f) !=
	    PD_OK) {
		f->busy = false;
		pd_fail(&f->r.err, PD_ERR_NOMEM, "queueing a job");
		cut(f);
	}
}

/* Loop: send f->chunk; end the reply after the last piece. */
static void
send_piece(struct inflight *f)
{
	struct nd_req *r = &f->r;
	size_t n = evbuffer_get_length(f->chunk);

	f->sent += n;
	f->srv->stats.bytes_out += n;
	if (r->length >= 0 && (f->sent > (uint64_t)r->length ||
	    (r->eof && f->sent != (uint64_t)r->length))) {
		pd_fail(&r->err, PD_ERR_CORRUPT, "body of %llu bytes, "
		    "promised %lld", (unsigned long long)f->sent,
		    (long long)r->length);
		cut(f);
		return;
	}
	if (r->eof) {
		if (n > 0)
			evhttp_send_reply_chunk(f->req, f->chunk);
		complete(f, true, NULL);
		return;
	}
	evhttp_send_reply_chunk_with_cb(f->req, f->chunk, on_drained, f);
}

/* Loop: the handler is done; put its reply on the wire. */
static void
prepare_done(void *arg)
{
	struct inflight *f = arg;
	struct nd_req *r = &f->r;
	struct evkeyvalq *h;
	char len[32];
	int i;

	f->busy = false;
	if (f->gone) {
		finish_gone(f);
		return;
	}
	count(f);
	if (r->status >= 500 && r->err.msg[0])
		log_warn("%s: %s", evhttp_request_get_uri(f->req), r->err.msg);
	h = evhttp_request_get_output_headers(f->req);
	for (i = 0; i < r->nheaders; i++)
		evhttp_add_header(h, r->hname[i], r->hval[i]);
	if (r->produce == NULL || r->head) {
		/* libevent would send a body even to HEAD: never give one. */
		if (r->head && r->status != 304) {
			snprintf(len, sizeof(len), "%lld", r->produce ?
			    (long long)r->length : r->body ?
			    (long long)evbuffer_get_length(r->body) : 0LL);
			if (r->produce == NULL || r->length >= 0)
				evhttp_add_header(h, "Content-Length", len);
		}
		if (!r->head && r->body)
			f->sent = evbuffer_get_length(r->body);
		f->srv->stats.bytes_out += f->sent;
		complete(f, false, r->head ? NULL : r->body);
		return;
	}
	if (r->eof) {
		/* All of it came in the first piece. */
		f->sent = evbuffer_get_length(f->chunk);
		f->srv->stats.bytes_out += f->sent;
		complete(f, false, f->chunk);
		return;
	}
	if (r->length >= 0) {
		snprintf(len, sizeof(len), "%lld", (long long)r->length);
		evhttp_add_header(h, "Content-Length", len);
	}
	nd_guard_reply(f->srv->guard, f->evcon, r->length);
	evhttp_send_reply_start(f->req, r->status, NULL);
	send_piece(f);
}

/* ------------------------------------------------------------------ */
/* Requests */

static bool
method_ok(enum nd_route route, enum evhttp_cmd_type cmd)
{
	if (route == ND_R_BATCH || route == ND_R_SYNC ||
	    route == ND_R_CANCEL)
		return cmd == EVHTTP_REQ_POST;
	return cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
}

/* Loop: a new request. */
static void
on_request(struct evhttp_request *req, void *arg)
{
	struct nd_server *s = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evbuffer *body;
	struct inflight *f;
	struct nd_req *r;
	const char *v;

	s->stats.requests++;
	if ((f = pd_calloc(1, sizeof(*f))) == NULL) {
		evhttp_send_error(req, 503, NULL);
		return;
	}
	if ((f->next = s->all) != NULL)
		f->next->prev = f;
	s->all = f;
	f->srv = s;
	f->req = req;
	f->evcon = evhttp_request_get_connection(req);
	f->cmd = evhttp_request_get_command(req);
	r = &f->r;
	r->cat = s->cat;
	r->dc = s->dc;
	r->namer = s->namer;
	r->fd = -1;
	r->length = -1;
	r->status = 200;
	r->head = f->cmd == EVHTTP_REQ_HEAD;
	nd_guard_request(s->guard, f->evcon);
	nd_guard_closecb(s->guard, f->evcon, on_close, f);
	evhttp_request_set_on_complete_cb(req, on_complete, f);
	/* Only a connection whose TLS could not even be set up gets here
	 * without a verified peer (nd_tls_bufferevent): never serve it. */
	if (s->tls != NULL && !nd_tls_conn_peer(f->evcon, r->peer,
	    sizeof(r->peer))) {
		nd_reply_error(r, 403, "client certificate required");
		goto now;
	}

	if (uri == NULL || evhttp_uri_get_fragment(uri) != NULL ||
	    nd_target_parse(evhttp_uri_get_path(uri),
	    evhttp_uri_get_query(uri), &r->t, &r->err) != PD_OK) {
		nd_reply_error(r, 400, "%s", r->err.msg[0] ? r->err.msg :
		    "malformed request");
		goto now;
	}
	if (!method_ok(r->t.route, f->cmd)) {
		nd_reply_error(r, 405, "method not allowed");
		nd_reply_header(r, "Allow", method_ok(r->t.route,
		    EVHTTP_REQ_POST) ? "POST" : "GET, HEAD");
		goto now;
	}
	if (nd_workq_pending(s->wq) >= s->max_queue ||
	    !(f->admitted = nd_guard_admit(s->guard))) {
		nd_reply_error(r, 503, "overloaded, try again later");
		nd_reply_header(r, "Retry-After", "%d", ND_RETRY_AFTER);
		goto now;
	}
	r->control = s->control;
	if (r->t.route == ND_R_STATUS) {
		nd_server_stats(s, &r->stats);
		r->uptime = (int64_t)(time(NULL) - s->started);
	}
	r->zstd_ok = nd_accepts_zstd(evhttp_find_header(in,
	    "Accept-Encoding"));
	nd_range_parse(evhttp_find_header(in, "Range"), &r->range);
	if ((v = evhttp_find_header(in, "If-None-Match")) != NULL &&
	    strlen(v) < sizeof(r->inm))
		memcpy(r->inm, v, strlen(v) + 1);
	if (r->t.route == ND_R_BATCH) {
		body = evhttp_request_get_input_buffer(req);
		r->input_len = evbuffer_get_length(body);
		if (r->input_len > ND_BATCH_BODY_MAX) {
			nd_reply_error(r, 413, "batch request over %d bytes",
			    ND_BATCH_BODY_MAX);
			goto now;
		}
		if ((r->input = pd_malloc(r->input_len + 1)) == NULL) {
			nd_reply_error(r, 503, "out of memory");
			goto now;
		}
		/* Moved, not copied: one copy of a body per request. */
		evbuffer_remove(body, r->input, r->input_len);
	}
	f->busy = true;
	if (nd_workq_submit(s->wq, prepare_job, prepare_done, f) == PD_OK)
		return;
	f->busy = false;
	nd_reply_error(r, 503, "out of memory");
now:
	prepare_done(f);
}

/* ------------------------------------------------------------------ */
/* The server */

/* Loop: a new connection's bufferevent, TLS from its first byte. */
static struct bufferevent *
tls_bev(struct event_base *base, void *arg)
{
	struct nd_server *s = arg;

	return nd_tls_bufferevent(s->tls, base);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct nd_server *s = arg;

	(void)what;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopexit(s->base, NULL);
}

static enum pd_err
bind_listen(struct nd_server *s, const char *listen, struct pd_error *err)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *colon = strrchr(listen, ':');
	char host[256];
	size_t hl;
	uint64_t port;
	uint16_t bound;

	if (colon == NULL || colon == listen)
		return pd_fail(err, PD_ERR_USAGE, "listen address %s: want "
		    "HOST:PORT", listen);
	hl = (size_t)(colon - listen);
	if (listen[0] == '[') {
		if (hl < 3 || listen[hl - 1] != ']')
			return pd_fail(err, PD_ERR_USAGE, "listen address %s: "
			    "want [V6ADDRESS]:PORT", listen);
		listen++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return pd_fail(err, PD_ERR_USAGE, "listen address %s: host "
		    "too long", listen);
	memcpy(host, listen, hl);
	host[hl] = '\0';
	if (colon[1] == '\0' || !(colon[1] >= '0' && colon[1] <= '9') ||
	    strlen(colon + 1) > 5 || (port = strtoull(colon + 1, NULL, 10)) >
	    65535 || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return pd_fail(err, PD_ERR_USAGE, "listen address %s: bad "
		    "port", listen);
	errno = 0;
	if ((bs = evhttp_bind_socket_with_handle(s->http, host,
	    (uint16_t)port)) == NULL)
		return pd_fail_errno(err, PD_ERR_IO, errno ? errno : EINVAL,
		    "cannot listen on %s", listen);
	if (getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&ss, &sl) != 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "listening "
		    "socket");
	bound = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	snprintf(s->addr, sizeof(s->addr), strchr(host, ':') ? "[%s]:%u" :
	    "%s:%u", host, (unsigned)bound);
	return nd_guard_listen(s->guard, bs, err);
}

enum pd_err
nd_server_new(struct cat *cat, struct nd_dcache *dc,
    const struct nd_server_opts *o, struct nd_server **out,
    struct pd_error *err)
{
	struct nd_guard_opts go = { o->max_conns, o->max_transfers,
	    o->header_timeout, o->idle_timeout, o->timeout, o->min_rate };
	struct nd_server *s;
	enum pd_err rc;
	long ncpu;
	unsigned workers = o->workers;

	*out = NULL;
	if (evthread_use_pthreads() != 0)
		return pd_fail(err, PD_ERR_IO, "libevent has no pthreads "
		    "locking");
	if ((s = pd_calloc(1, sizeof(*s))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "server");
	s->cat = cat;
	s->dc = dc;
	if (workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		workers = ncpu > 0 ? (unsigned)ncpu : 1;
	}
	s->control = o->control;
	s->started = time(NULL);
	s->max_queue = o->max_queue ? o->max_queue :
	    QUEUE_PER_WORKER * workers;
	if ((s->base = event_base_new()) == NULL ||
	    (s->http = evhttp_new(s->base)) == NULL ||
	    (s->sigint = evsignal_new(s->base, SIGINT, on_signal, s)) ==
	    NULL ||
	    (s->sigterm = evsignal_new(s->base, SIGTERM, on_signal, s)) ==
	    NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "server");
		goto fail;
	}
	if ((rc = nd_namer_new(&s->namer, err)) != PD_OK)
		goto fail;
	if ((rc = nd_workq_new(s->base, workers, &s->wq)) != PD_OK) {
		pd_fail(err, rc, "starting worker threads");
		goto fail;
	}
	if ((rc = nd_guard_new(s->base, s->http, &go, &s->guard, err)) !=
	    PD_OK)
		goto fail;
	/* Every method reaches on_request, which answers 405 in JSON. */
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_PATCH);
	evhttp_set_max_body_size(s->http, ND_BATCH_BODY_MAX);
	evhttp_set_max_headers_size(s->http, HEADERS_MAX);
	evhttp_set_timeout(s->http, (int)(o->timeout ? o->timeout :
	    TIMEOUT_DEFAULT));
	/* Bodiless replies (303, 304) get no Content-Type. */
	evhttp_set_default_content_type(s->http, NULL);
	evhttp_set_gencb(s->http, on_request, s);
	/* Through the guard, which owns evhttp's bufferevent hook: the
	 * connection cap and deadlines hold for TLS too. */
	if ((s->tls = o->tls) != NULL)
		nd_guard_set_bevcb(s->guard, tls_bev, s);
	if ((rc = bind_listen(s, o->listen, err)) != PD_OK)
		goto fail;
	if (event_add(s->sigint, NULL) != 0 ||
	    event_add(s->sigterm, NULL) != 0) {
		rc = pd_fail(err, PD_ERR_IO, "cannot catch signals");
		goto fail;
	}
	*out = s;
	return PD_OK;
fail:
	nd_server_free(s);
	return rc;
}

const char *
nd_server_addr(const struct nd_server *s)
{
	return s->addr;
}

struct event_base *
nd_server_base(const struct nd_server *s)
{
	return s->base;
}

enum pd_err
nd_server_run(struct nd_server *s, struct pd_error *err)
{
	if (event_base_dispatch(s->base) < 0)
		return pd_fail(err, PD_ERR_IO, "event loop failed");
	return PD_OK;
}

void
nd_server_stats(const struct nd_server *s, struct nd_server_stats *out)
{
	struct nd_guard_stats g;

	*out = s->stats;
	nd_guard_stats(s->guard, &g);
	out->accepted = g.accepted;
	out->refused_connections = g.refused_connections;
	out->refused_transfers = g.refused_transfers;
	out->closed_header_deadline = g.closed_header_deadline;
	out->closed_total_deadline = g.closed_total_deadline;
	out->closed_idle = g.closed_idle;
	out->open_max = g.open_max;
}

void
nd_server_free(struct nd_server *s)
{
	struct inflight *f;

	if (s == NULL)
		return;
	/* Workers first: once they are gone no job holds a request. */
	nd_workq_free(s->wq);
	/* Then what they made is named: a stop loses none of it. */
	nd_namer_free(s->namer);
	while ((f = s->all) != NULL) {
		detach(f);
		/* One libevent handed us: ours to end.  Others die with
		 * their connections in evhttp_free. */
		if (f->req && f->evcon == NULL)
			evhttp_send_reply_end(f->req);
		f->req = NULL;
		free_inflight(f);
	}
	if (s->http)
		evhttp_free(s->http);
	/* After evhttp_free, which closes connections through it. */
	nd_guard_free(s->guard);
	if (s->sigint)
		event_free(s->sigint);
	if (s->sigterm)
		event_free(s->sigterm);
	if (s->base)
		event_base_free(s->base);
	pd_free(s);
}
