/*
 * Verify a stored version: the manifest's signature, then every object it
 * names, re-hashed from the object store, or on a mirror from the
 * published file that holds it (cat_content_open).
 */
#ifndef ND_VERIFY_H
#define ND_VERIFY_H

#include "../catalog/catalog.h"
#include "../protocol/manifest.h"

struct nd_verify_result {
	uint64_t	 version;	/* the version checked */
	uint64_t	 objects;	/* distinct objects hashed */
	uint64_t	 bytes;		/* bytes hashed */
	uint64_t	 bad_paths;	/* paths whose content is wrong */
};

/* Called once per bad path, in path order, with the reason. */
typedef void nd_bad_fn(void *arg, const struct pr_entry *, const char *why);

/*
 * Verify version n (0: newest) of tree, with trust (NULL: the tree's
 * recorded key).  PD_ERR_CORRUPT if any path is bad (each one reported
 * through bad), PD_ERR_SIGNATURE if the manifest does not verify.
 */
enum pd_err nd_verify(struct cat *, const char *tree, uint64_t n,
	    const struct pr_key *trust, unsigned threads, nd_bad_fn *bad,
	    void *bad_arg, struct nd_verify_result *, struct pd_error *)
	    PD_WARN_UNUSED;

#endif
