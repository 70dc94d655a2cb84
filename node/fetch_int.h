/*
 * Shared between the two files of node/fetch only: fetch.c (the
 * transfers, on libcurl's multi interface) and fetch_get.c (a lone GET,
 * tried first without libcurl).  The interface is fetch.h.
 */
#ifndef ND_FETCH_INT_H
#define ND_FETCH_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "../delta/zstd.h"
#include "curlso.h"
#include "fetch.h"
#include "rate.h"

#define SPARE_DECODERS		2	/* kept for the next responses */

struct xfer;

struct nd_fetch {
	const struct nd_curl	*c;		/* once a transfer runs */
	CURLM			*multi;		/* made with c */
	char			*base;
	struct nd_fetch_stats	 st;
	unsigned		 running;	/* queued, waiting included */
	unsigned		 active;	/* on the multi handle */
	struct xfer		*queued;	/* not started yet, in order */
	struct xfer		**qtail;
	char			*cert, *key, *ca;	/* NULL: no TLS files */
	struct xfer		*waiting;	/* to retry, in no order */
	uint64_t		 rng;		/* for jitter */
	unsigned		 parallel;	/* transfers at once */
	uint64_t		 rate;		/* bytes/s in all; 0: any */
	struct nd_rate		 limit;		/* when rate > 0 */
	struct xfer		*paused;	/* by the limit, to resume */
	bool			(*stop)(void *);	/* or NULL */
	void			*stop_arg;
	bool			 stopped;	/* stop said so: ending */
	/* Decoders of ended responses, for the next (dl_zdec_reset). */
	struct dl_zdec		*spare[SPARE_DECODERS];
	unsigned		 nspare;
};

/* nd_fetch_queue, counting tries attempts as made already. */
enum pd_err nd_f_queue(struct nd_fetch *, const struct nd_fetch_req *,
	    unsigned tries, struct pd_error *) PD_WARN_UNUSED;

/*
 * Retry-After's value from v to end (or to a CR, LF or space): its
 * delay-seconds, at most ND_RETRY_WAIT_MAX; -1 for anything else (an
 * HTTP-date is left to the backoff).
 */
long	nd_f_retry_after(const char *v, const char *end);

/* How long (ms) before try tries + 1 (tries >= 1); ra: Retry-After. */
uint64_t nd_f_retry_wait(struct nd_fetch *, unsigned tries, long ra);

#endif
