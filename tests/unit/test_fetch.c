/*
 * Unit tests of node/fetch.c's queue, against a small HTTP/1.1 server in
 * this process on 127.0.0.1: every queued transfer ends once, with its
 * own body, no more than parallel of them at the server at once (as
 * made, or as lowered later); a transfer that ends may queue another; a
 * stop ends the queued ones without making their requests; a fetch freed
 * with transfers queued frees them.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/buf.h"
#include "../../common/mem.h"
#include "../../node/fetch.h"
#include "../../node/hget.h"
#include "unit.h"

#define CONNS_MAX	16
#define NREQ		40

struct srv {
	int		 fd;
	int		 port;
	pthread_t	 acceptor;
	pthread_t	 conns[CONNS_MAX];
	int		 cfd[CONNS_MAX];
	atomic_int	 nconns;
	atomic_int	 inflight;
	atomic_int	 inflight_max;
	atomic_int	 requests;
	atomic_long	 body_bytes;	/* Content-Length of requests, summed */
	atomic_int	 refused;	/* /x/503once answered 503 */
};

struct conn {
	struct srv	*s;
	int		 fd;
};

/*
 * The answers of /x/ paths, for the one try of hget.h and what follows
 * it: NULL, answer 200 with the path as the body; "" close unanswered.
 */
static const char *
special(struct srv *s, const char *path)
{
	if (strcmp(path, "/x/404") == 0)
		return "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n"
		    "not found";
	if (strcmp(path, "/x/zstd") == 0)
		return "HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\n"
		    "Content-Length: 4\r\n\r\nabcd";
	if (strcmp(path, "/x/chunked") == 0)
		return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n";
	if (strcmp(path, "/x/close") == 0)
		return "";
	if (strcmp(path, "/x/503once") == 0 &&
	    atomic_fetch_add(&s->refused, 1) == 0)
		return "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\n"
		    "Content-Length: 4\r\n\r\nbusy";
	return NULL;
}

/* Read one request's head (and discard a body); its path into path,
 * its body's length added to *body_bytes. */
static int
read_request(int fd, char path[256], atomic_long *body_bytes)
{
	char buf[8192], *end, *cl;
	size_t len = 0;
	ssize_t n;
	long body = 0;

	while ((end = memmem(buf, len, "\r\n\r\n", 4)) == NULL) {
		if (len == sizeof(buf) ||
		    (n = read(fd, buf + len, sizeof(buf) - len)) <= 0)
			return -1;
		len += (size_t)n;
	}
	*end = '\0';
	if (sscanf(buf, "%*s %255s", path) != 1)
		return -1;
	if ((cl = strstr(buf, "Content-Length: ")) != NULL)
		body = strtol(cl + 16, NULL, 10);
	atomic_fetch_add(body_bytes, body);
	body -= (long)(len - (size_t)(end + 4 - buf));
	while (body > 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		body -= n;
	return 0;
}

static void *
conn_main(void *arg)
{
	struct conn *c = arg;
	struct srv *s = c->s;
	char path[256], resp[4096];
	const char *sp;
	int in, max, len;

	while (read_request(c->fd, path, &s->body_bytes) == 0) {
		atomic_fetch_add(&s->requests, 1);
		if ((sp = special(s, path)) != NULL) {
			len = (int)strlen(sp);
			if (len == 0) {
				shutdown(c->fd, SHUT_RDWR);
				break;
			}
			if (send(c->fd, sp, (size_t)len, MSG_NOSIGNAL) != len)
				break;
			continue;
		}
		if (strcmp(path, "/x/big") == 0) {
			len = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\n"
			    "Content-Length: 2000\r\n\r\n%2000d", 7);
			if (send(c->fd, resp, (size_t)len, MSG_NOSIGNAL) !=
			    len)
				break;
			continue;
		}
		in = atomic_fetch_add(&s->inflight, 1) + 1;
		max = atomic_load(&s->inflight_max);
		while (in > max &&
		    !atomic_compare_exchange_weak(&s->inflight_max, &max, in))
			;
		/* Slow enough for requests to overlap, and for a stop to
		 * find most of them still queued. */
		nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000 }, NULL);
		len = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\n"
		    "Content-Length: %zu\r\n\r\n%s", strlen(path), path);
		atomic_fetch_sub(&s->inflight, 1);
		if (send(c->fd, resp, (size_t)len, MSG_NOSIGNAL) != len)
			break;
	}
	pd_free(c);
	return NULL;
}

static void *
accept_main(void *arg)
{
	struct srv *s = arg;
	struct conn *c;
	int fd, i;

	while ((fd = accept(s->fd, NULL, NULL)) >= 0) {
		i = atomic_load(&s->nconns);
		if (i == CONNS_MAX || (c = pd_calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->s = s;
		c->fd = fd;
		s->cfd[i] = fd;
		if (pthread_create(&s->conns[i], NULL, conn_main, c) != 0) {
			pd_free(c);
			close(fd);
			continue;
		}
		atomic_store(&s->nconns, i + 1);
	}
	return NULL;
}

static void
srv_start(struct srv *s)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	memset(s, 0, sizeof(*s));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(s->fd >= 0);
	CU_ASSERT_FATAL(bind(s->fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CU_ASSERT_FATAL(listen(s->fd, 64) == 0);
	CU_ASSERT_FATAL(getsockname(s->fd, (struct sockaddr *)&a,
	    &alen) == 0);
	s->port = ntohs(a.sin_port);
	CU_ASSERT_FATAL(pthread_create(&s->acceptor, NULL, accept_main,
	    s) == 0);
}

/* After the fetch is freed (its connections closed). */
static void
srv_stop(struct srv *s)
{
	int i;

	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->acceptor, NULL);
	close(s->fd);
	for (i = 0; i < atomic_load(&s->nconns); i++) {
		shutdown(s->cfd[i], SHUT_RDWR);
		pthread_join(s->conns[i], NULL);
		close(s->cfd[i]);
	}
}

struct req {
	struct nd_fetch	*f;
	char		 path[64];
	char		 next[64];	/* queued when this one ends */
	struct pd_buf	 body;
	int		 dones;
	enum pd_err	 rc;
	long		 status;
	struct req	*follow;
};

static int dones_total;

static enum pd_err
sink(void *arg, const void *p, size_t n)
{
	struct req *r = arg;

	return pd_buf_add(&r->body, p, n);
}

static enum pd_err queue_req(struct nd_fetch *, struct req *);

static void
done(void *arg, long status, enum pd_err rc, const struct pd_error *e)
{
	struct req *r = arg;

	(void)e;
	r->dones++;
	r->rc = rc;
	r->status = status;
	dones_total++;
	if (rc == PD_OK && r->follow != NULL)
		CU_ASSERT_EQUAL(queue_req(r->f, r->follow), PD_OK);
}

static enum pd_err
queue_req(struct nd_fetch *f, struct req *r)
{
	struct nd_fetch_req q = { 0 };

	r->f = f;
	pd_buf_init(&r->body, 1024);
	q.path = r->path;
	q.cap = 1024;
	q.sink = sink;
	q.done = done;
	q.arg = r;
	return nd_fetch_queue(f, &q, NULL);
}

static struct nd_fetch *
new_fetch(const struct srv *s, unsigned parallel)
{
	struct nd_fetch *f = NULL;
	char base[64];

	snprintf(base, sizeof(base), "http://127.0.0.1:%d", s->port);
	CU_ASSERT_EQUAL_FATAL(nd_fetch_new(base, parallel, &f, NULL), PD_OK);
	return f;
}

static void
test_many(void)
{
	static struct req r[NREQ], more[NREQ];
	struct nd_fetch *f;
	struct srv s;
	int i;

	srv_start(&s);
	f = new_fetch(&s, 3);
	memset(r, 0, sizeof(r));
	memset(more, 0, sizeof(more));
	for (i = 0; i < NREQ; i++) {
		snprintf(r[i].path, sizeof(r[i].path), "/o/%d", i);
		snprintf(more[i].path, sizeof(more[i].path), "/more/%d", i);
		/* Every other one queues a follow-up when it ends. */
		r[i].follow = i % 2 ? &more[i] : NULL;
		CU_ASSERT_EQUAL_FATAL(queue_req(f, &r[i]), PD_OK);
	}
	CU_ASSERT_EQUAL(nd_fetch_run(f, NULL), PD_OK);
	for (i = 0; i < NREQ; i++) {
		CU_ASSERT_EQUAL(r[i].dones, 1);
		CU_ASSERT_EQUAL(r[i].rc, PD_OK);
		CU_ASSERT(r[i].body.len == strlen(r[i].path) &&
		    memcmp(r[i].body.data, r[i].path, r[i].body.len) == 0);
		CU_ASSERT_EQUAL(more[i].dones, i % 2);
		if (i % 2)
			CU_ASSERT(more[i].body.len == strlen(more[i].path) &&
			    memcmp(more[i].body.data, more[i].path,
			    more[i].body.len) == 0);
		pd_buf_free(&r[i].body);
		pd_buf_free(&more[i].body);
	}
	CU_ASSERT_EQUAL(nd_fetch_stats(f)->requests, NREQ + NREQ / 2);
	nd_fetch_free(f);
	srv_stop(&s);
	CU_ASSERT_EQUAL(atomic_load(&s.requests), NREQ + NREQ / 2);
	CU_ASSERT(atomic_load(&s.inflight_max) >= 1);
	CU_ASSERT(atomic_load(&s.inflight_max) <= 3);
}

/* nd_fetch_set_parallel lowers what nd_fetch_new set, connections too. */
static void
test_set_parallel(void)
{
	static struct req r[NREQ];
	struct nd_fetch *f;
	struct srv s;
	int i;

	srv_start(&s);
	f = new_fetch(&s, 8);
	nd_fetch_set_parallel(f, 2);
	memset(r, 0, sizeof(r));
	for (i = 0; i < NREQ; i++) {
		snprintf(r[i].path, sizeof(r[i].path), "/p/%d", i);
		CU_ASSERT_EQUAL_FATAL(queue_req(f, &r[i]), PD_OK);
	}
	CU_ASSERT_EQUAL(nd_fetch_run(f, NULL), PD_OK);
	for (i = 0; i < NREQ; i++) {
		CU_ASSERT_EQUAL(r[i].dones, 1);
		CU_ASSERT_EQUAL(r[i].rc, PD_OK);
		pd_buf_free(&r[i].body);
	}
	nd_fetch_free(f);
	srv_stop(&s);
	CU_ASSERT_EQUAL(atomic_load(&s.requests), NREQ);
	CU_ASSERT(atomic_load(&s.inflight_max) >= 1);
	CU_ASSERT(atomic_load(&s.inflight_max) <= 2);
	CU_ASSERT(atomic_load(&s.nconns) <= 2);
}

/* A body made at the start: how many were made and not yet done. */
static int made, made_open_max;

static enum pd_err
make_body(void *arg, struct pd_buf *out, struct pd_error *err)
{
	struct req *r = arg;
	int open = ++made - dones_total;

	if (open > made_open_max)
		made_open_max = open;
	if (strcmp(r->path, "/fail") == 0)
		return pd_fail(err, PD_ERR_LIMIT, "no body for %s", r->path);
	return pd_buf_printf(out, "body of %s", r->path);
}

/*
 * Bodies made by nd_body_fn are made when each transfer starts, once,
 * no more of them at a time than run at once, and sent; one that fails
 * ends its transfer with its error, without a request.
 */
static void
test_made_body(void)
{
	static struct req r[NREQ];
	struct nd_fetch_req q;
	struct nd_fetch *f;
	struct srv s;
	long want = 0;
	int i;

	srv_start(&s);
	f = new_fetch(&s, 2);
	memset(r, 0, sizeof(r));
	made = made_open_max = dones_total = 0;
	for (i = 0; i < NREQ; i++) {
		if (i == 7)
			snprintf(r[i].path, sizeof(r[i].path), "/fail");
		else {
			snprintf(r[i].path, sizeof(r[i].path), "/b/%d", i);
			want += (long)strlen("body of ") +
			    (long)strlen(r[i].path);
		}
		memset(&q, 0, sizeof(q));
		r[i].f = f;
		pd_buf_init(&r[i].body, 1024);
		q.path = r[i].path;
		q.cap = 1024;
		q.sink = sink;
		q.done = done;
		q.arg = &r[i];
		q.make_body = make_body;
		CU_ASSERT_EQUAL_FATAL(nd_fetch_queue(f, &q, NULL), PD_OK);
	}
	CU_ASSERT_EQUAL(made, 0);
	CU_ASSERT_EQUAL(nd_fetch_run(f, NULL), PD_OK);
	CU_ASSERT_EQUAL(made, NREQ);
	CU_ASSERT(made_open_max >= 1 && made_open_max <= 2);
	for (i = 0; i < NREQ; i++) {
		CU_ASSERT_EQUAL(r[i].dones, 1);
		CU_ASSERT_EQUAL(r[i].rc, i == 7 ? PD_ERR_LIMIT : PD_OK);
		if (i != 7)
			CU_ASSERT(r[i].body.len == strlen(r[i].path) &&
			    memcmp(r[i].body.data, r[i].path,
			    r[i].body.len) == 0);
		pd_buf_free(&r[i].body);
	}
	nd_fetch_free(f);
	srv_stop(&s);
	CU_ASSERT_EQUAL(atomic_load(&s.requests), NREQ - 1);
	CU_ASSERT_EQUAL(atomic_load(&s.body_bytes), want);
}

static bool
stop_after_two(void *arg)
{
	(void)arg;
	return dones_total >= 2;
}

static void
test_stop_queued(void)
{
	static struct req r[NREQ];
	struct pd_error e;
	struct nd_fetch *f;
	struct srv s;
	int i, stopped = 0;

	srv_start(&s);
	f = new_fetch(&s, 2);
	nd_fetch_set_stop(f, stop_after_two, NULL);
	memset(r, 0, sizeof(r));
	dones_total = 0;
	for (i = 0; i < NREQ; i++) {
		snprintf(r[i].path, sizeof(r[i].path), "/s/%d", i);
		CU_ASSERT_EQUAL_FATAL(queue_req(f, &r[i]), PD_OK);
	}
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(nd_fetch_run(f, &e), PD_ERR_CONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "stopped"));
	for (i = 0; i < NREQ; i++) {
		CU_ASSERT_EQUAL(r[i].dones, 1);
		stopped += r[i].rc == PD_ERR_CONFLICT;
		pd_buf_free(&r[i].body);
	}
	/* Those never started were never asked for. */
	CU_ASSERT(stopped >= NREQ - 4);
	CU_ASSERT(nd_fetch_stats(f)->requests <= 4);
	nd_fetch_free(f);
	srv_stop(&s);
	CU_ASSERT(atomic_load(&s.requests) <= 4);
}

/* Freed unrun: the queued transfers go with it (ASan would say). */
static void
test_free_queued(void)
{
	static struct req r[8];
	struct nd_fetch *f = NULL;
	int i;

	CU_ASSERT_EQUAL_FATAL(nd_fetch_new("http://127.0.0.1:9", 2, &f,
	    NULL), PD_OK);
	memset(r, 0, sizeof(r));
	for (i = 0; i < 8; i++) {
		snprintf(r[i].path, sizeof(r[i].path), "/f/%d", i);
		CU_ASSERT_EQUAL(queue_req(f, &r[i]), PD_OK);
		pd_buf_free(&r[i].body);
	}
	CU_ASSERT_EQUAL(nd_fetch_stats(f)->requests, 0);
	nd_fetch_free(f);
	for (i = 0; i < 8; i++)
		CU_ASSERT_EQUAL(r[i].dones, 0);
}

/* hget.h's one try: a whole 200 only; out untouched otherwise. */
static void
test_hget(void)
{
	static const struct {
		const char	*path;
		enum pd_err	 rc;
		const char	*body;
	} cases[] = {
		{ "/h/ok", PD_OK, "/h/ok" },
		{ "/x/chunked", PD_OK, "hello" },
		{ "/x/404", PD_ERR_NOTFOUND, NULL },
		{ "/x/503once", PD_ERR_IO, NULL },
		{ "/x/zstd", PD_ERR_PARSE, NULL },
		{ "/x/big", PD_ERR_IO, NULL },	/* over the cap */
		{ "/x/close", PD_ERR_IO, NULL },
	};
	struct nd_hget_count n;
	struct pd_error e;
	struct pd_buf b;
	struct srv s;
	char base[64];
	size_t i;

	srv_start(&s);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", s.port);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&n, 0, sizeof(n));
		memset(&e, 0, sizeof(e));
		pd_buf_init(&b, 1024);
		CU_ASSERT_EQUAL(nd_hget(base, cases[i].path, 1024, &b, &n, &e),
		    cases[i].rc);
		CU_ASSERT(n.sent > strlen(cases[i].path));
		if (cases[i].body != NULL) {
			CU_ASSERT(b.len == strlen(cases[i].body) &&
			    memcmp(b.data, cases[i].body, b.len) == 0);
			CU_ASSERT(n.received > b.len);
		} else {
			CU_ASSERT_EQUAL(b.len, 0);
			CU_ASSERT(strstr(e.msg, cases[i].path) != NULL);
		}
		pd_buf_free(&b);
	}
	/* Behind a prefix: prefix+path is asked. */
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/pre", s.port);
	pd_buf_init(&b, 1024);
	CU_ASSERT_EQUAL(nd_hget(base, "/h/ok", 1024, &b, &n, NULL), PD_OK);
	CU_ASSERT(b.len == 9 && memcmp(b.data, "/pre/h/ok", 9) == 0);
	pd_buf_free(&b);
	/* Not for this client: left to libcurl. */
	snprintf(base, sizeof(base), "http://u:p@127.0.0.1:%d", s.port);
	CU_ASSERT_EQUAL(nd_hget(base, "/h", 1024, &b, &n, NULL),
	    PD_ERR_USAGE);
	CU_ASSERT_EQUAL(nd_hget("http://", "/h", 1024, &b, &n, NULL),
	    PD_ERR_USAGE);
	CU_ASSERT_EQUAL(nd_hget("http://[::1", "/h", 1024, &b, &n, NULL),
	    PD_ERR_USAGE);
	CU_ASSERT_EQUAL(nd_hget("https://127.0.0.1:1", "/h", 1024, &b, &n,
	    NULL), PD_ERR_USAGE);
	srv_stop(&s);
	/* Nobody listening: an error, quickly, and nothing raised. */
	pd_buf_init(&b, 1024);
	memset(&e, 0, sizeof(e));
	CU_ASSERT_EQUAL(nd_hget("http://127.0.0.1:9", "/h", 1024, &b, &n,
	    &e), PD_ERR_IO);
	CU_ASSERT(strstr(e.msg, "127.0.0.1:9/h") != NULL);
	CU_ASSERT_EQUAL(b.len, 0);
}

/*
 * A lone GET goes first through hget.h, and what that does not take
 * whole is asked again through libcurl, which the caller cannot tell
 * but for the count of requests.
 */
static void
test_get_quick(void)
{
	struct nd_fetch *f;
	struct pd_buf b;
	struct srv s;
	long status = 0;

	srv_start(&s);
	f = new_fetch(&s, 2);
	pd_buf_init(&b, 1024);
	CU_ASSERT_EQUAL(nd_fetch_get(f, "/q/one", 1024, &b, &status, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(status, 200);
	CU_ASSERT(b.len == 6 && memcmp(b.data, "/q/one", 6) == 0);
	CU_ASSERT_EQUAL(nd_fetch_stats(f)->requests, 1);
	CU_ASSERT(nd_fetch_stats(f)->sent_bytes > 6);
	CU_ASSERT(nd_fetch_stats(f)->wire_bytes > 6);
	CU_ASSERT_EQUAL(nd_fetch_stats(f)->body_bytes, 6);
	/* Refused once: libcurl asks again, and the body is whole once. */
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(nd_fetch_get(f, "/x/503once", 1024, &b, &status,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL(status, 200);
	CU_ASSERT(b.len == 10 && memcmp(b.data, "/x/503once", 10) == 0);
	CU_ASSERT_EQUAL(nd_fetch_stats(f)->requests, 3);
	CU_ASSERT_EQUAL(nd_fetch_stats(f)->retried, 1);
	CU_ASSERT_EQUAL(atomic_load(&s.refused), 2);
	/* A 404 stays one, with libcurl's error. */
	pd_buf_reset(&b);
	CU_ASSERT_EQUAL(nd_fetch_get(f, "/x/404", 1024, &b, &status, NULL),
	    PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(b.len, 0);
	pd_buf_free(&b);
	nd_fetch_free(f);
	srv_stop(&s);
	CU_ASSERT_EQUAL(atomic_load(&s.requests), 4);
}

static int
suite_fetch(void)
{
	static const struct unit_test tests[] = {
		{ "queued transfers, parallel at most", test_many },
		{ "parallel lowered after the start", test_set_parallel },
		{ "bodies made as transfers start", test_made_body },
		{ "a stop ends the queued ones unasked", test_stop_queued },
		{ "freed with transfers queued", test_free_queued },
		{ "one try without libcurl", test_hget },
		{ "a lone GET, then libcurl for what it left", test_get_quick },
	};

	return UNIT_SUITE("fetch", NULL, NULL, tests);
}
UNIT_REGISTER("fetch", suite_fetch)
