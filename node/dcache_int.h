/*
 * Shared between the two files of the derived-content cache only:
 * node/dcache.c (lookups, single flight, the interface) and
 * node/dcache_make.c (files on disk and the computations).
 */
#ifndef ND_DCACHE_INT_H
#define ND_DCACHE_INT_H

#include <pthread.h>

#include "dcache.h"

/* A flight's key: kind, then one (zobj, zero-padded) or two hashes. */
#define ND_DC_KEY_LEN	(1 + 2 * PD_SHA256_LEN)
#define ND_DC_KEY_ZOBJ	'z'
#define ND_DC_KEY_DELTA	'd'

/* One directory of derived files: DATA/zobjects or DATA/deltas. */
struct nd_dc_area {
	const char	*name;
	int		 fd;
};

struct nd_dc_flight;

struct nd_dcache {
	struct cat	*cat;
	struct nd_dc_area z;
	struct nd_dc_area d;
	pthread_mutex_t	 mu;		/* guards flights and st */
	pthread_cond_t	 cv;		/* a flight is done */
	struct nd_dc_flight *flights;	/* keys being computed */
	struct nd_dcache_stats st;
};

/* What one lookup or computation is about. */
struct nd_dc_req {
	const unsigned char *from;	/* NULL for a zobj */
	const unsigned char *to;	/* the object, for a zobj */
	int		 plain_fd;	/* nd_dcache_put_delta's input */
	struct nd_zobj	*zobj;		/* the answer, for a zobj */
	struct nd_delta	*delta;		/* the answer, for a delta */
};

/* Add one to a counter of d->st. */
void	nd_dc_count(struct nd_dcache *, uint64_t *);


/* Open (creating) DATA/name and its subdirectories; drop stale temps. */
enum pd_err nd_dc_area_open(struct nd_dcache *, struct nd_dc_area *,
	    const char *name, struct pd_error *) PD_WARN_UNUSED;

/*
 * The computations, run by the leader of the request's flight: they
 * store the file and its record and fill the request's answer.
 */
enum pd_err nd_dc_make_zobj(struct nd_dcache *, struct nd_dc_req *,
	    struct pd_error *) PD_WARN_UNUSED;
enum pd_err nd_dc_make_delta(struct nd_dcache *, struct nd_dc_req *,
	    struct pd_error *) PD_WARN_UNUSED;
enum pd_err nd_dc_keep_delta(struct nd_dcache *, struct nd_dc_req *,
	    struct pd_error *) PD_WARN_UNUSED;

/* nd_dcache_zobj(), for a delta's leader judging its worth. */
enum pd_err nd_dc_get_zobj(struct nd_dcache *, const unsigned char *sha,
	    struct nd_zobj *, struct pd_error *) PD_WARN_UNUSED;

#endif
