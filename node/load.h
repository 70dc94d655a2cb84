/*
 * Reading a stored version back: its catalog record and its manifest,
 * parsed and verified against the tree's key, so that a damaged or
 * altered catalog is noticed before anything trusts it.
 */
#ifndef ND_LOAD_H
#define ND_LOAD_H

#include "../catalog/catalog.h"
#include "../protocol/manifest.h"

/*
 * Load version n of tree (0: the newest).  tree_out and ver_out may be
 * NULL.  trust, if not NULL, is the key to verify with instead of the
 * tree's recorded key.  *m is the caller's (pr_manifest_free).
 */
enum pd_err nd_load_version(struct cat *, const char *tree, uint64_t n,
	    const struct pr_key *trust, struct cat_tree *tree_out,
	    struct cat_version *ver_out, struct pr_manifest **m,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * Fill v's fields that m (with the content digest of its signed bytes,
 * pr_manifest_content_digest) and its predecessor prev (NULL for none)
 * decide: number, manifest id, content digest, created, totals and the
 * changes from prev.  The rest (committed, hashed bytes, duration) is
 * the caller's.
 */
enum pd_err nd_version_describe(const struct pr_manifest *m,
	    const struct pr_manifest *prev,
	    const unsigned char content_digest[PD_SHA256_LEN],
	    struct cat_version *v, struct pd_error *) PD_WARN_UNUSED;

#endif
