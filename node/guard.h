/*
 * Overload and slow-client protection for the node's HTTP server
 * (node/server.c): a cap on open connections, a cap on requests being
 * answered at once, and deadlines that libevent 2.1 does not have (its
 * timeouts are per read and per write, so a client sending one header
 * byte a second, or draining a reply at a byte a second, holds a
 * connection for ever).
 *
 * - Connections: past max_conns open, the listening socket is served by
 *   a second listener that answers every new connection with a fixed
 *   503 and Retry-After and closes it at once, reading nothing of its
 *   request: a flood costs no memory per connection.
 * - Transfers: nd_guard_admit() says whether one more request may be
 *   answered; past max_transfers the server answers 503 + Retry-After.
 * - Deadlines, per connection: a request must arrive (head and body)
 *   within header_timeout seconds plus its bytes at min_rate, counted
 *   from the accept or, on a kept-alive connection, from its first
 *   byte; a kept-alive connection may wait idle idle_timeout seconds;
 *   a reply of L bytes must be gone within grace + L / min_rate seconds
 *   (one of unknown length must keep that average as it goes).  Past a
 *   deadline the connection is closed, cutting the reply.
 *
 * The guard owns each connection's close callback: the server sets its
 * own through nd_guard_closecb().  Everything here runs on the loop
 * thread.
 */
#ifndef ND_GUARD_H
#define ND_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/http.h>

#include "../common/err.h"

#define ND_RETRY_AFTER		2	/* seconds, told with every 503 */
#define ND_MAX_CONNS		256
#define ND_MAX_TRANSFERS	64
#define ND_HEADER_TIMEOUT	10	/* seconds */
#define ND_IDLE_TIMEOUT		30	/* seconds */
#define ND_MIN_RATE		16384	/* bytes per second */

struct nd_guard;

/* 0 in any field: its default above (grace: 60 s). */
struct nd_guard_opts {
	unsigned	 max_conns;	/* open connections */
	unsigned	 max_transfers;	/* requests being answered */
	unsigned	 header_timeout; /* seconds for a request to come */
	unsigned	 idle_timeout;	/* seconds a kept-alive connection
					 * may wait for its next request */
	unsigned	 grace;		/* seconds a reply has beyond its
					 * bytes at min_rate */
	uint64_t	 min_rate;	/* bytes per second */
};

struct nd_guard_stats {
	uint64_t	 accepted;	/* connections taken */
	uint64_t	 refused_connections; /* answered 503 at accept */
	uint64_t	 refused_transfers; /* requests past max_transfers */
	uint64_t	 closed_header_deadline;
	uint64_t	 closed_total_deadline;	/* replies cut */
	uint64_t	 closed_idle;	/* kept-alive, no next request */
	unsigned	 open;		/* connections open now */
	unsigned	 open_max;	/* most open at once */
};

/*
 * Guard http's connections: installs http's bufferevent callback.
 * PD_ERR_NOMEM.
 */
enum pd_err nd_guard_new(struct event_base *, struct evhttp *,
	    const struct nd_guard_opts *, struct nd_guard **,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * Cap the connections accepted on bs, a socket bound on the guard's
 * http.  PD_ERR_NOMEM.
 */
enum pd_err nd_guard_listen(struct nd_guard *, struct evhttp_bound_socket *bs,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * Make connections' bufferevents with mk(base, arg) instead of plain
 * socket ones (for TLS: use this, not evhttp_set_bevcb, which would
 * take the guard's place).  A refused connection is then closed without
 * an answer: a plain 503 would mean nothing inside TLS, and a handshake
 * is what a flood must not cost.
 */
void	nd_guard_set_bevcb(struct nd_guard *,
	    struct bufferevent *(*mk)(struct event_base *, void *), void *arg);

/*
 * Set (cb NULL: clear) the callback for evcon's closing, which the
 * guard owns; it is called before libevent frees the connection, as
 * evhttp_connection_set_closecb's would be.
 */
void	nd_guard_closecb(struct nd_guard *, struct evhttp_connection *evcon,
	    void (*cb)(struct evhttp_connection *, void *), void *arg);

/* A request arrived whole on evcon: its arrival deadline ends. */
void	nd_guard_request(struct nd_guard *, struct evhttp_connection *);
/* Its reply starts, of length bytes (-1: not known): its deadline runs. */
void	nd_guard_reply(struct nd_guard *, struct evhttp_connection *,
	    int64_t length);
/*
 * The reply was handed to libevent whole: once it has left, the
 * connection waits for its next request.
 */
void	nd_guard_replied(struct nd_guard *, struct evhttp_connection *);

/* One more request to answer?  If true, nd_guard_release() when done. */
bool	nd_guard_admit(struct nd_guard *);
void	nd_guard_release(struct nd_guard *);

void	nd_guard_stats(const struct nd_guard *, struct nd_guard_stats *);

/*
 * Free after evhttp_free (which closes the connections through the
 * guard); NULL is a no-op.
 */
void	nd_guard_free(struct nd_guard *);

#endif
