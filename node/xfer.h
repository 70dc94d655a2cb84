/*
 * Getting the content of a new version into a staging directory: deltas
 * against the previous version where there is a basis, whole objects
 * otherwise, small ones batched, several transfers at once, every result
 * checked against the SHA-256 the signed manifest gives.
 *
 * The staging directory survives a crash: objects are renamed into it
 * only after their hash matched, and a large download left half done is
 * resumed with a Range request.  Nothing in it is trusted on resume: the
 * caller re-checks what is there (nd_xfer_recheck) before relying on it.
 */
#ifndef ND_XFER_H
#define ND_XFER_H

#include <stdbool.h>
#include <stdint.h>

#include "../protocol/manifest.h"
#include "fetch.h"
#include "keep.h"

/* One piece of content the new version needs. */
struct nd_xitem {
	const struct pr_entry *e;	/* first path with this content */
	const struct pr_entry *basis;	/* previous file at that path, or
					 * NULL: no delta possible */
	uint32_t	 part;		/* its pack part, or PR_PACK_NOPART:
					 * fetched alone */
	bool		 delta;		/* ask for a delta from basis */
	bool		 done;		/* staged and verified */
	bool		 got_delta;	/* a delta file waits to be applied */
	unsigned	 bad;		/* times its bytes did not match */
	bool		 trouble;	/* bytes for it were wrong, or missing:
					 * nothing that carried it is kept */
	bool		 kept;		/* its delta was offered as it came */
};

struct nd_xfer_stats {
	uint64_t	 objects;	/* whole objects received */
	uint64_t	 deltas;	/* deltas applied */
	uint64_t	 fallbacks;	/* deltas refused or failed: whole */
	uint64_t	 bytes_written;	/* bytes written to staging */
	uint64_t	 requests;	/* HTTP requests made */
	uint64_t	 resumed;	/* bytes kept from an earlier attempt */
	uint64_t	 packs;		/* pack parts asked for */
	uint64_t	 pack_misses;	/* of which the node could not make */
	unsigned	 loops;		/* transfer loops run at once */
};

struct nd_xfer_opts {
	struct nd_fetch	*fetch;
	int		 stagefd;	/* verified objects, named by hex sha */
	int		 tmpfd;		/* partial downloads and deltas */
	int		 prevfd;	/* previous version's tree, or -1 */
	unsigned	 threads;	/* for applying deltas, 0 = per CPU */
	/* The step's pack, "/v1/trees/T/versions/N/pack", and the hex id
	 * of the held manifest it starts from; NULL: ask item by item. */
	const char	*pack_base;
	const char	*pack_from;
	/* Offered what comes, to serve it onwards (keep.h); NULL: none. */
	struct nd_keep	*keep;
	/* Told of every item as it is found staged and verified, on the
	 * thread that did it (a transfer loop's or the caller's): for the
	 * build to begin with it.  Quick, and never failing.  NULL: none. */
	void		(*staged)(void *arg, const struct nd_xitem *);
	/* Offered each object that came in a batch, once verified, as an
	 * unnamed file (O_TMPFILE) open for reading and writing: true when
	 * taken, the descriptor then the callee's; false to stage it as
	 * usual.  On a transfer loop's thread; quick.  NULL: none. */
	bool		(*give)(void *arg, const struct nd_xitem *, int fd);
	/* A new descriptor of the directory to make such a file in, on
	 * the file system of stagefd: where the item's first path goes, so
	 * that its inode is near its directory's.  -1 (or NULL): stagefd. */
	int		(*place_dir)(void *arg, const struct nd_xitem *);
	void		*staged_arg;	/* the three callbacks' */
};

/*
 * Check what an earlier attempt left in the staging directory: every
 * item whose object is there and hashes right is marked done; anything
 * else there is removed.
 */
enum pd_err nd_xfer_recheck(const struct nd_xfer_opts *,
	    struct nd_xitem *, size_t n, struct nd_xfer_stats *,
	    struct pd_error *) PD_WARN_UNUSED;

/* Fetch every item not done, in rounds, until all are or one fails. */
enum pd_err nd_xfer_run(const struct nd_xfer_opts *, struct nd_xitem *,
	    size_t n, struct nd_xfer_stats *, struct pd_error *) PD_WARN_UNUSED;

/*
 * nd_xfer_run, with the items cut in two at a pack part boundary when
 * there are many and more than one CPU: the second half on a thread of
 * its own with its own connections, second (a fetch handle to the same
 * upstream; its stats are the caller's to add).  On a first sync the
 * receiving side (decompressing, hashing, creating 80,000 files) is one
 * core's work per transfer loop.  The first failure, in item order, is
 * the one reported.
 */
enum pd_err nd_xfer_run2(const struct nd_xfer_opts *, struct nd_fetch *second,
	    struct nd_xitem *, size_t n, struct nd_xfer_stats *,
	    struct pd_error *) PD_WARN_UNUSED;

#endif
