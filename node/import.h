/*
 * Import: snapshot a source directory as the next signed version of a
 * tree (DESIGN.md, "Flow of one update", step 1).
 *
 * A function a task engine can call: all its state is in its arguments,
 * it takes the tree's lock until the version is committed, and a failure
 * at any point before that leaves the catalog as it was (objects written
 * so far are harmless: they are content-addressed and reused by the next
 * attempt).  After the commit it computes the deltas from the previous
 * version of every changed file (node/dcache.h); failing to is only a
 * warning, since a server computes a missing delta on demand.
 */
#ifndef ND_IMPORT_H
#define ND_IMPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "../catalog/catalog.h"
#include "../catalog/tasks.h"
#include "../protocol/sign.h"
#include "scan.h"

struct nd_import_opts {
	const char	*tree;		/* tree name */
	const char	*src;		/* source directory */
	const struct pr_key *key;	/* the tree's private key */
	int64_t		 expires_in;	/* seconds until expiry, 0 never */
	unsigned	 threads;	/* hashing threads, 0 = one per CPU */
	nd_warn_fn	*warn;		/* warnings about entries, or NULL */
	void		*warn_arg;
	/* Leave the step (deltas, manifest patch, pack) to a later
	 * nd_import_step: a task engine runs it as a task of its own. */
	bool		 defer_step;
	const struct cat_lease *lease;	/* the task's, checked in the commit
					 * (PD_ERR_CONFLICT if lost); NULL:
					 * no task */
};

struct nd_import_result {
	bool		 unchanged;	/* no new version: same as head */
	struct cat_version version;	/* the new version (or the head) */
	uint64_t	 files_hashed;	/* files read this time */
	uint64_t	 files_cached;	/* files the stat cache vouched for */
	uint64_t	 objects_new;	/* objects added to the store */
	uint64_t	 skipped;	/* special files left out */
	/* Deltas from the previous version, made once after the commit. */
	uint64_t	 deltas_made;	/* computed and kept */
	uint64_t	 deltas_whole;	/* computed, not worth it: sent whole */
	uint64_t	 deltas_failed;	/* not made (warned); made on demand */
	uint32_t	 pack_parts;	/* of the pack from the previous
					 * version, made and kept */
	bool		 pack_failed;	/* not made (warned); made on demand */
};

enum pd_err nd_import(struct cat *, const struct nd_import_opts *,
	    struct nd_import_result *, struct pd_error *) PD_WARN_UNUSED;

/*
 * Make what mirrors fetch for the step from version - 1 to version of
 * tree o->tree (held, signed by o->key): the deltas of its changed
 * paths, its manifest patch and its pack, as nd_import does after its
 * commit unless told to defer them.  What is kept already is left as
 * it is.  o->src, if set, only names paths in warnings.  Here a failure
 * is an error (PD_ERR_IO: "N deltas not made", or the pack's), so that a
 * task can be retried; res counts what was made.  Nothing to do for
 * version 1.
 */
enum pd_err nd_import_step(struct cat *, const struct nd_import_opts *o,
	    uint64_t version, struct nd_import_result *res,
	    struct pd_error *) PD_WARN_UNUSED;

#endif
