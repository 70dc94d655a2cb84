/*
 * Content derived from objects, computed once on a node and kept: the
 * zstd-compressed form of an object, and the librsync delta between two
 * objects (also kept compressed).  The origin fills it at import for every
 * changed path; a server fills it on the first request for anything else.
 * However many clients ask, each thing is computed once: concurrent calls
 * for the same key in one process wait for the one computation (single
 * flight), and files are written temp-then-rename so two processes at worst
 * compute twice, never publish half a file.
 *
 * Layout under the data directory:
 *   zobjects/xx/<sha>.zst          compressed object
 *   deltas/xx/<from><to>.zst       compressed librsync delta
 * and a record per delta pair in the catalog: the kind (delta or whole) and
 * sizes.  A file without its record is never trusted.
 *
 * Every call blocks on disk and CPU: call from worker threads, never from
 * the event loop.  The cache is thread-safe.
 */
#ifndef ND_DCACHE_H
#define ND_DCACHE_H

#include <stdint.h>

#include "../catalog/catalog.h"

/*
 * A delta is kept only when its compressed size is at most this fraction
 * (in percent) of the compressed new object; otherwise "whole" is
 * recorded and the object is sent instead.
 */
#define ND_DELTA_WORTH_PCT	80

struct nd_dcache;

struct nd_zobj {
	int		 fd;	/* the compressed bytes, caller closes; empty
				 * when zsize >= size: send the object */
	uint64_t	 zsize;	/* bytes compressed */
	uint64_t	 size;	/* plain object size */
};

enum nd_delta_kind {
	ND_DELTA_DELTA,		/* fd holds the compressed delta */
	ND_DELTA_WHOLE,		/* not worth it: send the object "to" */
};

struct nd_delta {
	enum nd_delta_kind kind;
	int		 fd;	/* compressed delta, -1 for WHOLE */
	uint64_t	 zsize;	/* bytes in fd (0 for WHOLE) */
	uint64_t	 size;	/* plain delta size (what rdiff reads) */
};

/* Counters, for the summary of import and later /v1/status. */
struct nd_dcache_stats {
	uint64_t	 zobj_made;	/* objects compressed */
	uint64_t	 deltas_made;	/* deltas computed and kept */
	uint64_t	 wholes;	/* pairs computed, not worth a delta */
	uint64_t	 hits;		/* answered from the cache */
	uint64_t	 waits;		/* waited for another's computation */
};

/* The catalog stays the caller's and must outlive the cache. */
enum pd_err nd_dcache_new(struct cat *, struct nd_dcache **,
	    struct pd_error *) PD_WARN_UNUSED;
void	nd_dcache_free(struct nd_dcache *);

/*
 * The compressed object sha; PD_ERR_NOTFOUND if the object is not held
 * (not in the catalog's object index).  On success out->fd is open for
 * reading at offset 0 and the caller's to close.
 */
enum pd_err nd_dcache_zobj(struct nd_dcache *, const unsigned char *sha,
	    struct nd_zobj *, struct pd_error *) PD_WARN_UNUSED;

/*
 * The delta from -> to, computed now if it is not kept yet (which also
 * makes the compressed object "to", to judge the delta's worth).
 * PD_ERR_NOTFOUND if either object is not held.  On success out->fd (for
 * ND_DELTA_DELTA) is open for reading at offset 0 and the caller's.
 */
enum pd_err nd_dcache_delta(struct nd_dcache *, const unsigned char *from,
	    const unsigned char *to, struct nd_delta *, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * Keep a delta received from upstream (plain librsync bytes in fd, read
 * from its current offset to its end; a pipe will do), so that this node
 * serves it byte for byte instead of computing it again.  It replaces
 * whatever was kept for the pair.  The caller has checked that it
 * applies.  plain_fd is not closed.
 */
enum pd_err nd_dcache_put_delta(struct nd_dcache *, const unsigned char *from,
	    const unsigned char *to, int plain_fd, struct pd_error *)
	    PD_WARN_UNUSED;

void	nd_dcache_stats(struct nd_dcache *, struct nd_dcache_stats *);

/*
 * Names of the cache's files, relative to DATA/zobjects and DATA/deltas:
 * "xx/" hex(sha) ".zst" and "xx/" hex(from) hex(to) ".zst".  For whoever
 * puts a file there itself (a mirror keeping what it received,
 * node/keep.c): it counts only with its catalog record, committed after
 * the file is durable, and only at the record's size (cat_zobj_put,
 * cat_delta_put: an object zstd does not shrink has an empty file).
 */
#define ND_DC_NAME_LEN	(3 + 4 * PD_SHA256_LEN + 4 + 1)
void	nd_dc_zobj_name(const unsigned char *sha, char out[ND_DC_NAME_LEN]);
void	nd_dc_delta_name(const unsigned char *from, const unsigned char *to,
	    char out[ND_DC_NAME_LEN]);

#endif
