/*
 * Connection cap, transfer cap and deadlines for the node's HTTP server
 * (guard.h).
 *
 * DESIGN: libevent 2.1 tells nobody when evhttp accepts a connection,
 * except through the callback that makes its bufferevent.  That is
 * where a connection is counted and, when the count reaches the cap,
 * evhttp's listener is disabled (its accept loop stops there) and a
 * second listener on the same socket takes over, refusing.  The
 * connection object evhttp builds around the bufferevent exists only
 * after the callback returns, so a zero-delay event, run before any
 * byte of the connection is read, finds it through the bufferevent's
 * callback argument (evhttp's connection) and takes its close callback:
 * from then on the guard learns every close, and the count stays true.
 * The bufferevent is held by a reference until then, so that a
 * connection evhttp drops at once (out of memory) is noticed, not used
 * after it was freed.
 *
 * Bytes in and out are counted by callbacks of our own on the
 * connection's input and output evbuffers, beside libevent's.  Each
 * connection has one timer, armed for the deadline of its state and
 * checked again when it fires (the deadline of a reply of unknown
 * length moves as its bytes leave).  The server finds a connection's
 * record by its descriptor.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "guard.h"

#define GRACE_DEFAULT	60	/* seconds */
#define LISTENERS_MAX	4
#define DRAIN_MAX	4096	/* bytes of a refused request read */

enum cstate {
	C_HOOK,		/* accepted; evhttp's connection not yet known */
	C_WAIT,		/* waiting for a request */
	C_BUSY,		/* a request is being handled */
	C_REPLY,	/* its reply is going out */
};

struct conn {
	struct nd_guard		*g;
	struct conn		*prev, *next;	/* nd_guard.all */
	struct bufferevent	*bev;
	struct evhttp_connection *evcon;	/* from C_WAIT on */
	int			 fd;
	struct event		*timer;
	struct evbuffer_cb_entry *rxcb, *txcb;
	enum cstate		 state;
	bool			 idle;	/* C_WAIT after a reply, nothing in */
	bool			 ending;	/* reply handed over whole */
	uint64_t		 since;	/* ms: the wait or the reply began */
	uint64_t		 rx;	/* bytes in since */
	uint64_t		 tx;	/* bytes out since */
	int64_t			 length;	/* of the reply; -1 unknown */
	void			(*closecb)(struct evhttp_connection *, void *);
	void			*closearg;
};

struct nd_guard {
	struct event_base	*base;
	struct evhttp		*http;
	struct nd_guard_opts	 o;
	struct bufferevent	*(*mk)(struct event_base *, void *);
	void			*mkarg;
	struct evconnlistener	*theirs[LISTENERS_MAX];	/* evhttp's */
	struct evconnlistener	*refuse[LISTENERS_MAX];	/* ours */
	unsigned		 nlisten;
	bool			 full;		/* refusing */
	uint64_t		 logged;	/* ms: last said so */
	unsigned		 transfers;
	struct conn		*all;
	struct conn		**byfd;		/* hooked ones, by fd */
	size_t			 nbyfd;
	char			 msg[256];	/* the refusal */
	size_t			 msglen;
	struct nd_guard_stats	 st;
};

/* Monotonic milliseconds, as the rest of this file counts them. */
static uint64_t
now_ms(void)
{
	return (uint64_t)pd_mono_ms();
}

/* ms that bytes take at the minimum rate, saturating. */
static uint64_t
at_rate(const struct nd_guard *g, uint64_t bytes)
{
	uint64_t s = bytes / g->o.min_rate;

	return s > UINT64_MAX / 2000 ? UINT64_MAX / 2 : s * 1000 +
	    (bytes % g->o.min_rate) * 1000 / g->o.min_rate;
}

/* Refuse new connections while full, take them again below the cap. */
static void
set_full(struct nd_guard *g, bool full)
{
	unsigned i;

	if (g->full == full)
		return;
	g->full = full;
	for (i = 0; i < g->nlisten; i++) {
		if (full) {
			evconnlistener_disable(g->theirs[i]);
			evconnlistener_enable(g->refuse[i]);
		} else {
			evconnlistener_disable(g->refuse[i]);
			evconnlistener_enable(g->theirs[i]);
		}
	}
	/* Once a minute at most: a flood toggles this often. */
	if (full && now_ms() - g->logged > 60000) {
		g->logged = now_ms();
		log_info("%u connections open: refusing new ones",
		    g->st.open);
	}
}

/* ------------------------------------------------------------------ */
/* Deadlines */

/* When c's current deadline passes (ms), and which counter it bumps. */
static uint64_t
deadline(struct conn *c, uint64_t **counter)
{
	struct nd_guard *g = c->g;
	uint64_t d;

	switch (c->state) {
	case C_WAIT:
		if (c->idle) {
			*counter = &g->st.closed_idle;
			return c->since + (uint64_t)g->o.idle_timeout * 1000;
		}
		*counter = &g->st.closed_header_deadline;
		return c->since + (uint64_t)g->o.header_timeout * 1000 +
		    at_rate(g, c->rx);
	case C_REPLY:
		*counter = &g->st.closed_total_deadline;
		d = at_rate(g, c->length >= 0 ? (uint64_t)c->length : c->tx);
		return c->since + (uint64_t)g->o.grace * 1000 +
		    (d > UINT64_MAX / 4 ? UINT64_MAX / 4 : d);
	default:
		return UINT64_MAX;
	}
}

static void
arm(struct conn *c)
{
	uint64_t *counter, d = deadline(c, &counter), now = now_ms();
	struct timeval tv;

	evtimer_del(c->timer);
	if (d == UINT64_MAX)
		return;
	d = d > now ? d - now : 0;
	if (d > (uint64_t)365 * 86400 * 1000)
		d = (uint64_t)365 * 86400 * 1000;
	tv.tv_sec = (time_t)(d / 1000);
	tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
	evtimer_add(c->timer, &tv);
}

/* c waits for its next request. */
static void
to_wait(struct conn *c, bool idle)
{
	c->state = C_WAIT;
	c->idle = idle;
	c->ending = false;
	c->since = now_ms();
	c->rx = c->tx = 0;
	arm(c);
}

/* ------------------------------------------------------------------ */
/* Connections */

static void
conn_free(struct conn *c)
{
	struct nd_guard *g = c->g;

	if (c->prev)
		c->prev->next = c->next;
	else
		g->all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->fd >= 0 && (size_t)c->fd < g->nbyfd && g->byfd[c->fd] == c)
		g->byfd[c->fd] = NULL;
	if (c->timer)
		event_free(c->timer);
	pd_free(c);
	g->st.open--;
	if (g->st.open < g->o.max_conns)
		set_full(g, false);
}

static struct conn *
find(struct nd_guard *g, struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	struct conn *c;

	if (fd < 0 || (size_t)fd >= g->nbyfd || (c = g->byfd[fd]) == NULL ||
	    c->evcon != evcon)
		return NULL;
	return c;
}

/* evhttp is freeing c's connection. */
static void
on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;

	if (c->closecb)
		c->closecb(evcon, c->closearg);
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->rxcb);
	evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->txcb);
	conn_free(c);
}

static void
on_rx(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	(void)b;
	if (info->n_added == 0)
		return;
	c->rx += info->n_added;
	if (c->state == C_WAIT && c->idle) {
		/* The next request starts: from now, the header deadline. */
		c->idle = false;
		c->since = now_ms();
		c->rx = info->n_added;
		arm(c);
	}
}

static void
on_tx(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	c->tx += info->n_deleted;
	if (c->state == C_REPLY && c->ending && evbuffer_get_length(b) == 0)
		to_wait(c, evbuffer_get_length(bufferevent_get_input(c->bev))
		    == 0);
}

/* The zero-delay hook: take evhttp's connection. */
static bool
hook(struct conn *c)
{
	struct nd_guard *g = c->g;
	struct conn **n;
	void *evcon = NULL;
	size_t want;

	bufferevent_getcb(c->bev, NULL, NULL, NULL, &evcon);
	if (evcon == NULL)
		return false;	/* evhttp dropped it already */
	c->evcon = evcon;
	c->fd = bufferevent_getfd(c->bev);
	if (c->fd < 0)
		goto drop;
	if ((size_t)c->fd >= g->nbyfd) {
		want = (size_t)c->fd + 64;
		if ((n = pd_reallocarray(g->byfd, want, sizeof(*n))) == NULL)
			goto drop;
		memset(n + g->nbyfd, 0, (want - g->nbyfd) * sizeof(*n));
		g->byfd = n;
		g->nbyfd = want;
	}
	if ((c->rxcb = evbuffer_add_cb(bufferevent_get_input(c->bev), on_rx,
	    c)) == NULL)
		goto drop;
	if ((c->txcb = evbuffer_add_cb(bufferevent_get_output(c->bev),
	    on_tx, c)) == NULL) {
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev),
		    c->rxcb);
		goto drop;
	}
	g->byfd[c->fd] = c;
	evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
	c->state = C_WAIT;
	c->idle = false;
	arm(c);
	return true;
drop:
	/* Out of memory: a connection the guard cannot watch is closed. */
	log_warn("out of memory watching a connection: closing it");
	c->fd = -1;
	evhttp_connection_free(c->evcon);
	return false;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct bufferevent *bev = c->bev;
	uint64_t *counter, d;

	(void)fd;
	(void)what;
	if (c->state == C_HOOK) {
		if (!hook(c))
			conn_free(c);
		bufferevent_decref(bev);
		return;
	}
	if (c->state == C_REPLY && c->ending &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		/* The reply left without the output callback seeing it. */
		to_wait(c, true);
		return;
	}
	d = deadline(c, &counter);
	if (d > now_ms()) {
		arm(c);
		return;
	}
	(*counter)++;
	log_debug("closing a connection past its %s deadline (%llu bytes in,"
	    " %llu out)", counter == &c->g->st.closed_idle ? "idle" :
	    counter == &c->g->st.closed_header_deadline ? "request" :
	    "reply", (unsigned long long)c->rx, (unsigned long long)c->tx);
	/* Calls on_conn_close, and the server's callback through it. */
	evhttp_connection_free(c->evcon);
}

/* evhttp's bufferevent callback: a connection was accepted. */
static struct bufferevent *
make_bev(struct event_base *base, void *arg)
{
	struct nd_guard *g = arg;
	struct bufferevent *bev;
	struct conn *c;

	bev = g->mk ? g->mk(base, g->mkarg) :
	    bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	if ((c = pd_calloc(1, sizeof(*c))) == NULL ||
	    (c->timer = evtimer_new(base, on_timer, c)) == NULL) {
		/* evhttp's own timeouts still bound it. */
		log_warn("out of memory: a connection goes unwatched");
		pd_free(c);
		return bev;
	}
	c->g = g;
	c->bev = bev;
	c->fd = -1;
	c->length = -1;
	c->since = now_ms();
	c->state = C_HOOK;
	if ((c->next = g->all) != NULL)
		c->next->prev = c;
	g->all = c;
	g->st.accepted++;
	if (++g->st.open > g->st.open_max)
		g->st.open_max = g->st.open;
	if (g->st.open >= g->o.max_conns)
		set_full(g, true);
	bufferevent_incref(bev);
	event_active(c->timer, EV_TIMEOUT, 1);
	return bev;
}

/* Our listener while full: answer 503 and close, reading nothing. */
static void
refuse(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct nd_guard *g = arg;
	char junk[DRAIN_MAX];

	(void)l;
	(void)sa;
	(void)salen;
	g->st.refused_connections++;
	if (g->mk == NULL) {
		/* What already came is taken, so that closing does not
		 * reset the connection before the client reads the 503. */
		(void)recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
		(void)send(fd, g->msg, g->msglen, MSG_DONTWAIT | MSG_NOSIGNAL);
		shutdown(fd, SHUT_WR);
	}
	evutil_closesocket(fd);
}

/* ------------------------------------------------------------------ */
/* Interface */

enum pd_err
nd_guard_new(struct event_base *base, struct evhttp *http,
    const struct nd_guard_opts *o, struct nd_guard **out,
    struct pd_error *err)
{
	static const char body[] =
	    "{\"error\": \"too many connections\", \"status\": 503}";
	struct nd_guard *g;

	*out = NULL;
	if ((g = pd_calloc(1, sizeof(*g))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "connection guard");
	g->base = base;
	g->http = http;
	g->o = *o;
	if (g->o.max_conns == 0)
		g->o.max_conns = ND_MAX_CONNS;
	if (g->o.max_transfers == 0)
		g->o.max_transfers = ND_MAX_TRANSFERS;
	if (g->o.header_timeout == 0)
		g->o.header_timeout = ND_HEADER_TIMEOUT;
	if (g->o.idle_timeout == 0)
		g->o.idle_timeout = ND_IDLE_TIMEOUT;
	if (g->o.grace == 0)
		g->o.grace = GRACE_DEFAULT;
	if (g->o.min_rate == 0)
		g->o.min_rate = ND_MIN_RATE;
	g->msglen = (size_t)snprintf(g->msg, sizeof(g->msg),
	    "HTTP/1.1 503 Service Unavailable\r\n"
	    "Retry-After: %d\r\n"
	    "Content-Type: application/json\r\n"
	    "Cache-Control: no-store\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", ND_RETRY_AFTER, sizeof(body) - 1,
	    body);
	evhttp_set_bevcb(http, make_bev, g);
	*out = g;
	return PD_OK;
}

enum pd_err
nd_guard_listen(struct nd_guard *g, struct evhttp_bound_socket *bs,
    struct pd_error *err)
{
	struct evconnlistener *l;
	int fd;

	if (g->nlisten == LISTENERS_MAX)
		return pd_fail(err, PD_ERR_LIMIT, "more than %d listening "
		    "sockets", LISTENERS_MAX);
	/* Its own descriptor for the socket: freed in any order. */
	if ((fd = fcntl(evhttp_bound_socket_get_fd(bs),
	    F_DUPFD_CLOEXEC, 0)) < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "listening socket");
	if ((l = evconnlistener_new(g->base, refuse, g, LEV_OPT_DISABLED |
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)) == NULL) {
		close(fd);
		return pd_fail(err, PD_ERR_NOMEM, "listener");
	}
	g->theirs[g->nlisten] = evhttp_bound_socket_get_listener(bs);
	g->refuse[g->nlisten++] = l;
	if (g->full) {
		evconnlistener_disable(g->theirs[g->nlisten - 1]);
		evconnlistener_enable(l);
	}
	return PD_OK;
}

void
nd_guard_set_bevcb(struct nd_guard *g,
    struct bufferevent *(*mk)(struct event_base *, void *), void *arg)
{
	g->mk = mk;
	g->mkarg = arg;
}

void
nd_guard_closecb(struct nd_guard *g, struct evhttp_connection *evcon,
    void (*cb)(struct evhttp_connection *, void *), void *arg)
{
	struct conn *c = find(g, evcon);

	if (c == NULL) {
		/* One the guard does not watch. */
		evhttp_connection_set_closecb(evcon, cb, arg);
		return;
	}
	c->closecb = cb;
	c->closearg = arg;
}

void
nd_guard_request(struct nd_guard *g, struct evhttp_connection *evcon)
{
	struct conn *c = find(g, evcon);

	if (c == NULL)
		return;
	c->state = C_BUSY;
	c->ending = false;
	arm(c);
}

void
nd_guard_reply(struct nd_guard *g, struct evhttp_connection *evcon,
    int64_t length)
{
	struct conn *c = find(g, evcon);

	if (c == NULL)
		return;
	c->state = C_REPLY;
	c->ending = false;
	c->length = length;
	c->since = now_ms();
	c->tx = 0;
	arm(c);
}

void
nd_guard_replied(struct nd_guard *g, struct evhttp_connection *evcon)
{
	struct conn *c = find(g, evcon);

	if (c != NULL && c->state == C_REPLY)
		c->ending = true;
}

bool
nd_guard_admit(struct nd_guard *g)
{
	if (g->transfers >= g->o.max_transfers) {
		g->st.refused_transfers++;
		return false;
	}
	g->transfers++;
	return true;
}

void
nd_guard_release(struct nd_guard *g)
{
	if (g->transfers > 0)
		g->transfers--;
}

void
nd_guard_stats(const struct nd_guard *g, struct nd_guard_stats *out)
{
	*out = g->st;
}

void
nd_guard_free(struct nd_guard *g)
{
	struct conn *c;
	struct bufferevent *bev;
	unsigned i;

	if (g == NULL)
		return;
	/* evhttp_free has freed its listeners. */
	for (i = 0; i < g->nlisten; i++)
		evconnlistener_free(g->refuse[i]);
	g->nlisten = 0;
	/* Only connections never hooked are left: drop our reference. */
	while ((c = g->all) != NULL) {
		bev = c->state == C_HOOK ? c->bev : NULL;
		conn_free(c);
		if (bev)
			bufferevent_decref(bev);
	}
	pd_free(g->byfd);
	pd_free(g);
}
