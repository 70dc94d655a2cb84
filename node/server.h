/*
 * The HTTP server of a node (spec/PROTOCOL.md): trees, heads, manifests,
 * manifest patches, objects, deltas and batches from one data directory,
 * over HTTPS with client certificates (node/tls.h), or plain HTTP for
 * tests and demos.
 *
 * One libevent loop, on the thread that calls nd_server_run(), accepts
 * connections, parses requests and moves bytes; every catalog read, file
 * read, compression and delta computation runs on worker threads
 * (node/workq.h).  Bodies stream in pieces, so memory per request is
 * bounded whatever the size of what it serves.  Every function here is
 * for that one thread.
 */
#ifndef ND_SERVER_H
#define ND_SERVER_H

#include <stdint.h>

#include <event2/event.h>

#include "../catalog/catalog.h"
#include "control.h"
#include "dcache.h"
#include "tls.h"

/* Longest "HOST:PORT" nd_server_addr() gives. */
#define ND_ADDR_MAX	300

struct nd_server;

struct nd_server_opts {
	const char	*listen;	/* "HOST:PORT" or "[V6]:PORT"; port 0
					 * picks a free one */
	unsigned	 workers;	/* worker threads; 0: one per CPU */
	unsigned	 max_queue;	/* jobs waiting past which a new
					 * request gets 503; 0: 64 per worker */
	unsigned	 timeout;	/* seconds a connection may stall
					 * reading or writing, and a reply's
					 * grace beyond its bytes at min_rate
					 * (node/guard.h); 0: 60 */
	/* A daemon's status, tasks and actions (control.h), or NULL. */
	const struct nd_control *control;
	const struct nd_tls *tls;	/* HTTPS with client certificates
					 * (node/tls.h), outliving the
					 * server; NULL: plain HTTP */
	unsigned	 max_conns;	/* open connections past which a new
					 * one gets 503; 0: 256 */
	unsigned	 max_transfers;	/* requests answered at once past
					 * which one gets 503; 0: 64 */
	unsigned	 header_timeout; /* seconds for a request to come in;
					 * 0: 10 */
	unsigned	 idle_timeout;	/* seconds a kept-alive connection
					 * may wait; 0: 30 */
	uint64_t	 min_rate;	/* bytes/s a request or reply must
					 * average; 0: 16384 */
};

/* Counters, kept by the loop thread. */
struct nd_server_stats {
	uint64_t	 requests;	/* requests received */
	uint64_t	 errors;	/* answered 4xx or 5xx */
	uint64_t	 overloaded;	/* of which 503 */
	uint64_t	 bytes_out;	/* body bytes given to the sockets */
	uint64_t	 objects;	/* GET of an object (whole or range) */
	uint64_t	 deltas;	/* GET of a delta (not the 303s) */
	uint64_t	 batches;	/* batch responses */
	uint64_t	 batch_items;	/* items answered in batches */
	uint64_t	 gone;		/* clients that left mid-reply */
	uint64_t	 cut;		/* replies cut by a server-side error */
	uint64_t	 accepted;	/* connections taken */
	uint64_t	 refused_connections; /* 503 at accept: too many */
	uint64_t	 refused_transfers; /* 503: too many requests */
	uint64_t	 closed_header_deadline; /* request too slow to come */
	uint64_t	 closed_total_deadline;	/* reply cut: too slow to go */
	uint64_t	 closed_idle;	/* kept-alive, no next request */
	unsigned	 open_max;	/* most connections open at once */
};

/*
 * Bind the listening socket and start the workers.  The catalog and the
 * cache stay the caller's and must outlive the server.  Installs
 * libevent's pthreads locking (evthread_use_pthreads).
 * Errors: PD_ERR_USAGE (bad listen address), PD_ERR_IO (cannot bind:
 * the text names the address), PD_ERR_NOMEM.
 */
enum pd_err nd_server_new(struct cat *, struct nd_dcache *,
	    const struct nd_server_opts *, struct nd_server **,
	    struct pd_error *) PD_WARN_UNUSED;

/* "HOST:PORT" with the port actually bound; lives with the server. */
const char *nd_server_addr(const struct nd_server *);

/*
 * The server's event loop, for a daemon's own timers and events on the
 * same thread (never to run or free).
 */
struct event_base *nd_server_base(const struct nd_server *);

/*
 * Serve until SIGINT or SIGTERM (then PD_OK; replies in flight are cut)
 * or until the loop fails (PD_ERR_IO).  SIGPIPE must be ignored by the
 * process: a client that vanishes mid-write must not kill it.
 */
enum pd_err nd_server_run(struct nd_server *, struct pd_error *)
	    PD_WARN_UNUSED;

void	nd_server_stats(const struct nd_server *, struct nd_server_stats *);

/* Stop the workers, drop every connection, free; NULL is a no-op. */
void	nd_server_free(struct nd_server *);

#endif
