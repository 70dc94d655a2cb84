/*
 * What changed between two manifests of a tree.
 *
 * A merge of the two sorted entry lists, plus rename detection: a file
 * that disappeared and a file that appeared with the same content are one
 * rename (pairs are made in path order).  The result points into both
 * manifests, which must outlive it.
 */
#ifndef PR_MDIFF_H
#define PR_MDIFF_H

#include "manifest.h"

enum pr_change_kind {
	PR_ADDED,	/* only in the new manifest */
	PR_REMOVED,	/* only in the old manifest */
	PR_CHANGED,	/* content, link target or type differ */
	PR_RENAMED,	/* same file content under a new path */
	PR_MODE,	/* same content, other permission bits */
	PR_TOUCHED,	/* same content and mode; mtime or hardlinks differ */
};

struct pr_change {
	enum pr_change_kind	 kind;
	const struct pr_entry	*old;	/* NULL for PR_ADDED */
	const struct pr_entry	*new;	/* NULL for PR_REMOVED */
};

struct pr_diff {
	struct pr_change	*changes;	/* in path order of new/old */
	size_t			 n;
	size_t			 count[PR_TOUCHED + 1];	/* per kind */
	bool			 root_changed;	/* root mode or mtime */
};

/* Compute the changes from a to b (a may be NULL: everything added). */
enum pd_err pr_diff(const struct pr_manifest *a, const struct pr_manifest *b,
	    struct pr_diff *, struct pd_error *) PD_WARN_UNUSED;
void	pr_diff_free(struct pr_diff *);
const char *pr_change_name(enum pr_change_kind);

#endif
