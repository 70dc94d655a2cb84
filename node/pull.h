/*
 * Mirroring a tree from an upstream node (DESIGN.md, "Flow of one
 * update", steps 3 to 5): fetch its head and signed manifest, verify them
 * against the tree's trust key, fetch what the new version needs (content
 * already held costs nothing, changed files come as deltas), stage and
 * check it, build the version directory, record it in the catalog and
 * switch PUBDIR/TREE to it.
 *
 * A pull stopped at any point (even SIGKILL) leaves the published tree as
 * it was and the catalog consistent; the next pull resumes from what is
 * staged in DATA/staging/TREE.
 */
#ifndef ND_PULL_H
#define ND_PULL_H

#include <stdbool.h>
#include <stdint.h>

#include "../catalog/catalog.h"
#include "../catalog/tasks.h"
#include "../protocol/sign.h"
#include "keep.h"
#include "tls.h"

#define ND_PULL_KEEP	3	/* versions kept when nothing is said */

struct nd_pull_opts {
	const char	*from;		/* upstream, "https://HOST:PORT" or
					 * "http://HOST:PORT" */
	const struct nd_tls_files *tls;	/* this node's certificate, key
					 * and the CA: required for an
					 * https:// upstream, NULL for
					 * http:// */
	const char	*tree;
	const struct pr_key *trust;	/* the tree's origin key */
	const char	*pubdir;	/* PUBDIR/TREE is switched */
	unsigned	 keep;		/* versions kept, 0 = ND_PULL_KEEP */
	bool		 no_spare;	/* remove retired versions; else the
					 * newest is the next build's spare */
	bool		 no_relay;	/* keep nothing that came (keep.h) */
	unsigned	 parallel;	/* transfers at once, 0 = 4 */
	unsigned	 threads;	/* for deltas and hashing, 0: one per
					 * CPU */
	uint64_t	 rate;		/* bytes/s received at most, 0: any */
	/* Asked about once a second while transferring: true stops the
	 * pull (PD_ERR_CONFLICT), keeping what is staged to resume. */
	bool		(*stop)(void *);
	void		*stop_arg;
	const struct cat_lease *lease;	/* the task's, checked in the commit
					 * (PD_ERR_CONFLICT if lost); NULL:
					 * no task */
};

struct nd_pull_result {
	bool		 up_to_date;	/* nothing newer upstream */
	uint64_t	 from_version;	/* held before, 0 for none */
	uint64_t	 to_version;	/* held now */
	uint64_t	 added;		/* files new at their path */
	uint64_t	 changed;	/* files with new content at their
					 * path */
	uint64_t	 removed;	/* files gone */
	uint64_t	 reused;	/* new or changed files whose content
					 * was already here: nothing fetched */
	uint64_t	 deltas;	/* deltas applied */
	uint64_t	 objects;	/* whole objects received */
	uint64_t	 fallbacks;	/* deltas that gave way to objects */
	uint64_t	 resumed;	/* bytes kept from an earlier attempt */
	uint64_t	 requests;	/* HTTP requests */
	uint64_t	 retried;	/* of which retries: the upstream was
					 * overloaded (503) */
	uint64_t	 pack_parts;	/* pack parts asked for */
	uint64_t	 pack_misses;	/* of which the upstream had none */
	unsigned	 loops;		/* transfer loops run at once */
	uint64_t	 content_bytes;	/* size of the content that had to come:
					 * what whole files would have cost */
	uint64_t	 wire_bytes;	/* bytes received and sent, headers
					 * included */
	uint64_t	 sent_bytes;	/* of which sent */
	uint64_t	 bytes_written;	/* bytes written to staging and tree */
	uint64_t	 recycled;	/* files taken over from the spare */
	struct nd_keep_stats kept;	/* kept as it came, to relay */
	double		 seconds;
	double		 seconds_transfer; /* of which fetching and checking */
	double		 seconds_build_early; /* building beside the
					 * transfer, the part needing
					 * nothing that came */
	double		 seconds_build;	/* building the rest once it came,
					 * durably */
	double		 seconds_sync;	/* of which waiting for the disk */
	char		 path[4096];	/* the published version directory */
};

enum pd_err nd_pull(struct cat *, const struct nd_pull_opts *,
	    struct nd_pull_result *, struct pd_error *) PD_WARN_UNUSED;

#endif
