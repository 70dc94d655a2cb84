/*
 * Shared between the two files of a pull's content transfer only:
 * node/xfer.c (rounds, single GETs, deltas, resuming) and node/xbatch.c
 * (batch and pack responses).  The interface is xfer.h.
 */
#ifndef ND_XFER_INT_H
#define ND_XFER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xfer.h"

/* A delta never needs to be much larger than the content it makes. */
#define ND_X_DELTA_CAP(size)	((size) + (size) / 8 + 65536)
/* Nor a zstd stream than what it decodes to (ZSTD_compressBound). */
#define ND_X_ZSTD_CAP(size)	((size) + (size) / 128 + 65536)

struct xctx {
	const struct nd_xfer_opts *o;
	struct nd_xfer_stats	*st;
	bool			 hard;	/* stop after this round */
	struct pd_error		*err;
	bool			 pack;	/* this round asks for pack parts */
};

/* One body being received into DIR/tmp. */
struct recv {
	struct nd_xitem		*it;
	bool			 delta;
	bool			 open_end;	/* left is a cap, not a size */
	/* An object as an unnamed file in staging, named when it is
	 * checked (nothing resumes it). */
	bool			 anon;
	int			 fd;
	struct pd_sha256	*h;
	uint64_t		 left;	/* bytes still to come */
	uint64_t		 got;
	char			 name[2 * PD_SHA256_HEX + 8];
	/* Where the last unnamed object went (nd_xfer_opts.place_dir):
	 * the directory of dirfor's path, dirlen bytes of it; -1 none. */
	int			 dirfd;
	const struct pr_entry	*dirfor;
	size_t			 dirlen;
};

/* xrecv.c */

/*
 * Names: an object's in staging, its SHA-256 in hex; its partial
 * download's in DIR/tmp (hex ".part"), which a Range resumes; an item's
 * delta's there (from hex, to hex, ".delta").
 */
void	nd_x_obj_name(const unsigned char *sha, char *out);
void	nd_x_part_name(const unsigned char *sha, char *out);
void	nd_x_delta_name(const struct nd_xitem *, char *out);

/* The caller is told (nd_xfer_opts.staged). */
void	nd_x_tell_staged(const struct nd_xfer_opts *, const struct nd_xitem *);

/* Describe an item for messages: its first path, escaped, in buf. */
const char *nd_x_item_show(const struct nd_xitem *, char *buf, size_t len);

/* A failure that ends the pull; the first one is the one reported. */
enum pd_err nd_x_hard_fail(struct xctx *, const struct pd_error *);

/* An item's bytes were wrong: it goes again, unless it was twice. */
void	nd_x_item_bad(struct xctx *, struct nd_xitem *,
	    const struct pd_error *why);

/* A recv with nothing open; what a recv holds between bodies, freed. */
void	nd_x_recv_init(struct recv *);
void	nd_x_recv_free(struct recv *);

/*
 * One body into DIR/tmp: start it (size bytes for it), write to it, close
 * it (an object is checked and staged; PD_OK with the item not done if
 * its bytes were wrong), or drop it (keep: a part file a Range resumes).
 * With anon set before the start, an object goes to an unnamed file in
 * the staging directory instead, linked in under its name once checked
 * (or given: nd_xfer_opts.give): no name made in DIR/tmp and moved, two
 * directory updates fewer for each of 80,000 small files.  The unnamed
 * file is made in the directory place_dir gives, if any.
 */
enum pd_err nd_x_recv_start(struct xctx *, struct recv *,
	    struct nd_xitem *it, bool delta, uint64_t size,
	    struct pd_error *) PD_WARN_UNUSED;
enum pd_err nd_x_recv_write(struct xctx *, struct recv *, const void *,
	    size_t n, struct pd_error *) PD_WARN_UNUSED;
enum pd_err nd_x_recv_close(struct xctx *, struct recv *,
	    struct pd_error *) PD_WARN_UNUSED;
void	nd_x_recv_drop(struct xctx *, struct recv *, bool keep);

/* xbatch.c */

/*
 * Queue items[0..n) as one response: part k of the step's pack, or with
 * k == PR_PACK_NOPART a POST /v1/batch naming each item.
 */
enum pd_err nd_x_queue_batch(struct xctx *, struct nd_xitem **items,
	    size_t n, uint32_t k, struct pd_error *) PD_WARN_UNUSED;

#endif
