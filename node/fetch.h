/*
 * The client side of the node protocol (spec/PROTOCOL.md): HTTP requests
 * with libcurl's multi interface, several at once, each body capped and
 * zstd-decoded as it arrives.
 *
 * libcurl 7.88's CURLOPT_MAXFILESIZE does not stop a transfer already
 * under way, so every body is counted in the write callback and the
 * transfer is aborted the moment it passes its cap.  The caps come from
 * the caller (sizes from a verified manifest, or fixed limits for control
 * messages), never from the peer.  One struct nd_fetch belongs to one
 * thread.
 *
 * An overloaded node answers 503 with Retry-After (spec/PROTOCOL.md):
 * such a transfer is not failed but made again, after the longer of
 * Retry-After (believed up to ND_RETRY_WAIT_MAX seconds only) and an
 * exponential backoff, plus up to half that again at random so that
 * refused clients do not come back together; at most ND_FETCH_TRIES
 * times in all.  A connection closed with no answer at all (a node
 * going down, or one too busy to answer) is tried again the same way.
 * The sink never sees the body of a 503, so a retry is invisible to the
 * caller.
 *
 * A lone GET of a small body (nd_fetch_get, nd_fetch_get_to) from a
 * plain http:// upstream, before any transfer has loaded libcurl, is
 * tried first with libevent's client (hget.h): a pull that finds its
 * mirror current never loads libcurl (curlso.h).  Anything but a whole
 * 200 is asked again through libcurl, so errors read the same; a 503
 * then counts as the first of the ND_FETCH_TRIES, and its wait is
 * waited, but a first try that found no answer at all is not counted.
 */
#ifndef ND_FETCH_H
#define ND_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "tls.h"

#define ND_CONTROL_MAX	(64 * 1024)	/* heads, errors */
#define ND_FETCH_TRIES	6		/* attempts of one transfer */
#define ND_RETRY_WAIT_MAX 30		/* seconds: the longest wait */

struct nd_fetch;

struct nd_fetch_stats {
	uint64_t	 wire_bytes;	/* bytes received, headers included */
	uint64_t	 sent_bytes;	/* bytes sent: request lines, headers,
					 * bodies */
	uint64_t	 body_bytes;	/* bytes of bodies after decoding */
	uint64_t	 requests;	/* made, retries included */
	uint64_t	 retried;	/* of which retries after a 503 or
					 * an empty answer */
};

/* Decoded body bytes as they arrive; an error aborts the transfer. */
typedef enum pd_err nd_sink_fn(void *arg, const void *, size_t);
/*
 * A transfer ended.  status is the HTTP status (0 if none came); rc is
 * PD_OK if the body arrived whole (status 200 or 206) or the answer is a
 * 303 redirect, which is not followed; else err says what went wrong
 * (PD_ERR_NOTFOUND for a 404).
 */
typedef void nd_done_fn(void *arg, long status, enum pd_err rc,
	    const struct pd_error *err);

/* base is "http://HOST:PORT"; parallel: transfers at once. */
enum pd_err nd_fetch_new(const char *base, unsigned parallel,
	    struct nd_fetch **, struct pd_error *) PD_WARN_UNUSED;
/*
 * Speak TLS with this node's certificate and key, trusting the
 * deployment CA alone and checking that the upstream's certificate
 * names the host of base; before any transfer is queued.  The files are
 * checked first (nd_tls_check, as a client) and their paths copied.
 * PD_ERR_USAGE unless base is https://; nd_tls_check's errors.
 */
enum pd_err nd_fetch_set_tls(struct nd_fetch *, const struct nd_tls_files *,
	    struct pd_error *) PD_WARN_UNUSED;
/*
 * Run at most parallel transfers at once (0: ND_FETCH_PARALLEL), from the
 * next one started; nd_fetch_new's parallel is the first setting.
 */
#define ND_FETCH_PARALLEL	4
void	nd_fetch_set_parallel(struct nd_fetch *, unsigned parallel);
/*
 * Receive at most rate bytes per second in all (0: no limit), counted
 * on the wire over every transfer of this fetch (nd_rate, with a burst
 * of 100 ms of the rate); a transfer ahead of it waits, paused.
 */
void	nd_fetch_set_rate(struct nd_fetch *, uint64_t rate);
/*
 * While transfers run, stop(arg) is asked about once a second; once it
 * says true, every transfer ends (its owner's done hears PD_ERR_CONFLICT
 * or an aborted transfer) and nd_fetch_run fails with PD_ERR_CONFLICT.
 * What the sinks took stays theirs: a pull resumes from it.
 */
void	nd_fetch_set_stop(struct nd_fetch *, bool (*stop)(void *),
	    void *arg);
void	nd_fetch_free(struct nd_fetch *);
const struct nd_fetch_stats *nd_fetch_stats(const struct nd_fetch *);

/*
 * The body's bytes as they came off the wire, before any decoding (a
 * relay keeps them, to serve them onwards as they are); zstd says
 * whether they are a zstd stream (Content-Encoding: zstd) or the plain
 * body.  Only bodies given to the sink are given here, before the sink
 * sees what they decode to.  Keeping them is the callee's business: it
 * cannot fail the transfer.
 */
typedef void nd_raw_fn(void *arg, bool zstd, const void *, size_t);

/*
 * Make the body to POST (into out, empty, capped at ND_FETCH_BODY_MAX)
 * when the transfer starts, not when it is queued: a pull queues
 * hundreds of batch requests of 50 KB each, of which only those running
 * need their bytes.  An error ends the transfer with it.
 */
#define ND_FETCH_BODY_MAX	((size_t)16 << 20)
typedef enum pd_err nd_body_fn(void *arg, struct pd_buf *out,
	    struct pd_error *err);

/* A transfer to queue. */
struct nd_fetch_req {
	const char	*path;		/* after base */
	const void	*body;		/* POST this (copied); NULL: GET */
	size_t		 len;
	nd_body_fn	*make_body;	/* or POST what this makes (arg) */
	uint64_t	 range_from;	/* > 0: the bytes from there on */
	uint64_t	 cap;		/* decoded body bytes accepted */
	nd_sink_fn	*sink;
	nd_done_fn	*done;
	void		*arg;		/* for sink and done */
	nd_raw_fn	*raw;		/* NULL: none */
	void		*raw_arg;
};

/*
 * Queue a transfer of base+path: a GET, or a POST of body (copied) when
 * body is not NULL.  range_from > 0 asks for the bytes from there on,
 * and then only a 206 answer is accepted.
 * At most cap decoded bytes are accepted.  Bodies of statuses other than
 * 200 and 206 are not given to sink; their text goes into the error.
 */
enum pd_err nd_fetch_queue(struct nd_fetch *, const struct nd_fetch_req *,
	    struct pd_error *) PD_WARN_UNUSED;
/* nd_fetch_queue without raw. */
enum pd_err nd_fetch_add(struct nd_fetch *, const char *path,
	    const void *body, size_t len, uint64_t range_from, uint64_t cap,
	    nd_sink_fn *sink, nd_done_fn *done, void *arg, struct pd_error *)
	    PD_WARN_UNUSED;
/* Run queued transfers (done may queue more) until none is left. */
enum pd_err nd_fetch_run(struct nd_fetch *, struct pd_error *)
	    PD_WARN_UNUSED;

/* One GET into out (appended), at most cap bytes; *status set. */
enum pd_err nd_fetch_get(struct nd_fetch *, const char *path, uint64_t cap,
	    struct pd_buf *out, long *status, struct pd_error *) PD_WARN_UNUSED;
/* nd_fetch_get, the body given to sink as it comes instead. */
enum pd_err nd_fetch_get_to(struct nd_fetch *, const char *path,
	    uint64_t cap, nd_sink_fn *sink, void *arg, long *status,
	    struct pd_error *) PD_WARN_UNUSED;

#endif
