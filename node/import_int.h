/*
 * Shared between the two files of an import only: node/import.c (scan,
 * hash, manifest, commit) and node/istep.c (what the origin makes for
 * the step after the commit: deltas, manifest patch, pack).  The
 * interface is import.h.
 */
#ifndef ND_IMPORT_INT_H
#define ND_IMPORT_INT_H

#include <stddef.h>

#include "../catalog/catalog.h"
#include "../protocol/manifest.h"
#include "../protocol/mdiff.h"
#include "import.h"

/* A pair of contents a changed path needs the delta of. */
struct dpair {
	unsigned char	 key[2 * PD_SHA256_LEN];	/* from, then to */
	const struct pr_entry *e;	/* a path with it, in the new version */
};

struct dpairs {
	struct dpair	*v;
	size_t		 n;
};

/*
 * After the version from -> to is committed: the deltas of the pairs
 * in dp (sorted and made unique here), then, if from is not NULL, the
 * manifest patch and the pack a mirror of the step fetches.  Failures
 * are warnings (o->warn), counted in res: each is made when first asked
 * for instead.
 */
/* The pairs of contents of every path that is a regular file in both
 * versions of d with other content (dp->v the caller's, pd_free). */
enum pd_err nd_i_collect_pairs(const struct pr_diff *d, struct dpairs *dp,
	    struct pd_error *) PD_WARN_UNUSED;

void	nd_i_make_step(struct cat *, const struct nd_import_opts *o,
	    const unsigned char *from, const unsigned char *to,
	    struct dpairs *dp, struct nd_import_result *res);

#endif
