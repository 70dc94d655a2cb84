/*
 * libevent's evhttp client on an event base of its own, run until the
 * one request ends.  The caller is a worker thread or a command, never
 * the node's event loop, so the blocking name lookup of a connection
 * made without a DNS base is allowed here.
 */
#include <sys/queue.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "hget.h"

struct hget {
	struct event_base	*eb;
	struct pd_buf		*out;
	size_t			 cap;
	struct nd_hget_count	*count;
	struct pd_error		*err;
	enum pd_err		 rc;
	const char		*url;	/* for errors: base+path */
};

static uint64_t
headers_len(struct evkeyvalq *h)
{
	struct evkeyval *kv;
	uint64_t n = 2;		/* the empty line */

	TAILQ_FOREACH(kv, h, next)
		n += strlen(kv->key) + 2 + strlen(kv->value) + 2;
	return n;
}

static void
on_done(struct evhttp_request *req, void *arg)
{
	struct hget *g = arg;
	struct evbuffer *in;
	const char *enc, *line;
	size_t n;
	int code;

	event_base_loopbreak(g->eb);
	if (req == NULL || (code = evhttp_request_get_response_code(req)) ==
	    0) {
		g->rc = pd_fail(g->err, PD_ERR_IO, "%s: no answer", g->url);
		return;
	}
	g->count->status = code;
	if ((enc = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Retry-After")) != NULL)
		snprintf(g->count->retry_after,
		    sizeof(g->count->retry_after), "%s", enc);
	in = evhttp_request_get_input_buffer(req);
	n = evbuffer_get_length(in);
	line = evhttp_request_get_response_code_line(req);
	g->count->received += strlen("HTTP/1.1 000 \r\n") +
	    (line ? strlen(line) : 0) +
	    headers_len(evhttp_request_get_input_headers(req)) + n;
	if (code != 200) {
		g->rc = pd_fail(g->err, code == 404 ? PD_ERR_NOTFOUND :
		    PD_ERR_IO, "%s: HTTP %d", g->url, code);
		return;
	}
	enc = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Encoding");
	if (enc != NULL && strcasecmp(enc, "identity") != 0) {
		g->rc = pd_fail(g->err, PD_ERR_PARSE, "%s: content encoding "
		    "that was not asked for", g->url);
		return;
	}
	if (n > g->cap) {
		g->rc = pd_fail(g->err, PD_ERR_LIMIT, "%s: body larger than "
		    "the %zu bytes allowed", g->url, g->cap);
		return;
	}
	if ((g->rc = pd_buf_reserve(g->out, n)) != PD_OK) {
		pd_fail(g->err, g->rc, "%s: body of %zu bytes", g->url, n);
		return;
	}
	evbuffer_remove(in, g->out->data + g->out->len, n);
	g->out->len += n;
	g->out->data[g->out->len] = '\0';
	g->rc = PD_OK;
}

/*
 * A peer that closes before the request is written would raise
 * SIGPIPE, whose default ends the process; libevent writes with
 * writev, which has no MSG_NOSIGNAL.  So SIGPIPE is blocked in this
 * thread while the request runs, and one it raised is taken before it
 * is unblocked.
 */
static void
sigpipe_block(sigset_t *old)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &s, old);
}

static void
sigpipe_restore(const sigset_t *old)
{
	struct timespec zero = { 0, 0 };
	sigset_t s, pending;

	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) &&
	    !sigismember(old, SIGPIPE))
		while (sigtimedwait(&s, NULL, &zero) == SIGPIPE)
			;
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

enum pd_err
nd_hget(const char *base, const char *path, size_t cap, struct pd_buf *out,
    struct nd_hget_count *count, struct pd_error *err)
{
	struct hget g = { .out = out, .cap = cap, .count = count,
	    .err = err, .rc = PD_ERR_IO };
	struct evhttp_connection *cn = NULL;
	struct evhttp_request *req;
	struct evhttp_uri *u = NULL;
	struct evkeyvalq *oh;
	char url[1024], target[1024], hostport[300];
	const char *host, *prefix = "";
	sigset_t old;
	int port;

	if ((size_t)snprintf(url, sizeof(url), "%s%s", base, path) >=
	    sizeof(url) || strncmp(base, "http://", 7) != 0)
		return pd_fail(err, PD_ERR_USAGE, "%s: not plain http", base);
	g.url = url;
	/* An upstream behind a prefix is asked for prefix+path; one with
	 * credentials or a query is left to libcurl. */
	if ((u = evhttp_uri_parse(base)) != NULL &&
	    (prefix = evhttp_uri_get_path(u)) == NULL)
		prefix = "";
	if (u == NULL ||
	    (host = evhttp_uri_get_host(u)) == NULL || host[0] == '\0' ||
	    host[0] == '[' || strlen(host) > 255 ||
	    evhttp_uri_get_userinfo(u) != NULL ||
	    evhttp_uri_get_query(u) != NULL ||
	    evhttp_uri_get_fragment(u) != NULL ||
	    (size_t)snprintf(target, sizeof(target), "%s%s", prefix, path) >=
	    sizeof(target)) {
		if (u != NULL)	/* libevent's free takes no NULL */
			evhttp_uri_free(u);
		return pd_fail(err, PD_ERR_USAGE, "%s: not http://HOST:PORT",
		    base);
	}
	if ((port = evhttp_uri_get_port(u)) < 0)
		port = 80;
	snprintf(hostport, sizeof(hostport), "%s:%d", host, port);
	sigpipe_block(&old);
	if ((g.eb = event_base_new()) == NULL ||
	    (cn = evhttp_connection_base_new(g.eb, NULL, host,
	    (unsigned short)port)) == NULL) {
		pd_fail(err, PD_ERR_NOMEM, "%s: HTTP client", url);
		goto out;
	}
	evhttp_connection_set_timeout(cn, ND_HGET_TIMEOUT);
	evhttp_connection_set_retries(cn, 0);
	evhttp_connection_set_max_headers_size(cn, 16 * 1024);
	evhttp_connection_set_max_body_size(cn, (ev_ssize_t)cap);
	if ((req = evhttp_request_new(on_done, &g)) == NULL) {
		pd_fail(err, PD_ERR_NOMEM, "%s: HTTP request", url);
		goto out;
	}
	oh = evhttp_request_get_output_headers(req);
	evhttp_add_header(oh, "Host", hostport);
	evhttp_add_header(oh, "Connection", "close");
	count->sent += strlen("GET  HTTP/1.1\r\n") + strlen(target) +
	    headers_len(oh);
	/* On failure libevent has freed req, or kept it to fail it. */
	if (evhttp_make_request(cn, req, EVHTTP_REQ_GET, target) != 0) {
		pd_fail(err, PD_ERR_IO, "%s: cannot send the request", url);
		goto out;
	}
	event_base_dispatch(g.eb);
out:
	if (g.rc != PD_OK)	/* the first failure named stays */
		pd_fail(err, g.rc, "%s: no answer", url);
	if (cn != NULL)
		evhttp_connection_free(cn);
	if (g.eb != NULL)
		event_base_free(g.eb);
	sigpipe_restore(&old);
	evhttp_uri_free(u);
	return g.rc;
}
