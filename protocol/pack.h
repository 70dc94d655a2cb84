/*
 * The content a receiver holding version A of a tree needs to build
 * version B, as spec/PROTOCOL.md ("Packs") fixes it: which items, in
 * which order, which are deltas, and how they are cut into parts.  A
 * node and every receiver derive the same list from the two manifests
 * alone, so a receiver can ask for part K of the step A -> B by number,
 * and the node's answer is made and compressed once for all of them.
 *
 * The plan points into both manifests, which must outlive it.
 */
#ifndef PR_PACK_H
#define PR_PACK_H

#include <stdbool.h>
#include <stdint.h>

#include "manifest.h"

/* Content over this size is in no part: it is fetched alone (resumable). */
#define PR_PACK_ALONE		(1024 * 1024)
/* A part ends before this much weight or this many items. */
#define PR_PACK_PART_WEIGHT	(4 * 1024 * 1024)
#define PR_PACK_PART_ITEMS	2048
/* A delta item weighs its file's size divided by this (at least 1):
 * deltas of edited files are mostly far smaller than the files. */
#define PR_PACK_DELTA_SHARE	16
#define PR_PACK_NOPART		UINT32_MAX

struct pr_pack_item {
	const struct pr_entry	*e;	/* in B: the first path with this
					 * content */
	const struct pr_entry	*basis;	/* in A at the same path, a file
					 * with content: a delta; or NULL */
	uint32_t		 part;	/* PR_PACK_NOPART if over ALONE */
};

struct pr_pack {
	struct pr_pack_item	*items;	/* in B's path order */
	size_t			 n;
	uint32_t		 nparts;
	/* private: A's files with content, sorted by SHA-256 */
	const struct pr_entry	**held;
	size_t			 nheld;
};

/*
 * Plan the step a -> b (a may be NULL: everything whole).  Every file
 * of b with content whose SHA-256 no file of a has is an item, once,
 * at its first path.  *p is the caller's to pr_pack_free, also after an
 * error (PD_ERR_NOMEM).
 */
enum pd_err pr_pack_plan(const struct pr_manifest *a,
	    const struct pr_manifest *b, struct pr_pack *p,
	    struct pd_error *) PD_WARN_UNUSED;
void	pr_pack_free(struct pr_pack *);

/* Whether some file of a has this content. */
bool	pr_pack_held(const struct pr_pack *, const unsigned char *sha);

#endif
