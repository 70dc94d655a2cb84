/*
 * Manifest diff: one merge pass over the sorted entries, then renames
 * found by content hash among the removed and added files.
 */
#include <string.h>

#include "../common/mem.h"
#include "mdiff.h"

static const char *const kind_names[] = {
	[PR_ADDED] = "added", [PR_REMOVED] = "removed",
	[PR_CHANGED] = "changed", [PR_RENAMED] = "renamed",
	[PR_MODE] = "mode", [PR_TOUCHED] = "touched",
};

const char *
pr_change_name(enum pr_change_kind k)
{
	return kind_names[k];
}

static enum pd_err
push(struct pr_diff *d, size_t *cap, enum pr_change_kind k,
    const struct pr_entry *o, const struct pr_entry *n)
{
	struct pr_change *c;

	if (d->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		if ((c = pd_reallocarray(d->changes, *cap, sizeof(*c))) == NULL)
			return PD_ERR_NOMEM;
		d->changes = c;
	}
	d->changes[d->n].kind = k;
	d->changes[d->n].old = o;
	d->changes[d->n].new = n;
	d->n++;
	return PD_OK;
}

static bool
same_content(const struct pr_entry *a, const struct pr_entry *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case PR_FILE:
		return a->size == b->size &&
		    memcmp(a->sha, b->sha, sizeof(a->sha)) == 0;
	case PR_LINK:
		return a->target_len == b->target_len &&
		    memcmp(a->target, b->target, a->target_len) == 0;
	default:
		return true;
	}
}

static bool
same_time(const struct pr_time *a, const struct pr_time *b)
{
	return a->sec == b->sec && a->nsec == b->nsec;
}

/* Classify two entries with the same path; -1 if identical. */
static int
classify(const struct pr_entry *a, const struct pr_entry *b)
{
	if (!same_content(a, b))
		return PR_CHANGED;
	if (a->mode != b->mode)
		return PR_MODE;
	if (!same_time(&a->mtime, &b->mtime) ||
	    (a->link == 0) != (b->link == 0))
		return PR_TOUCHED;
	return -1;
}

/*
 * Open-addressing table from content hash to removed-file changes, for
 * pairing them with added files.  Size is a power of two, at least twice
 * the number of keys.
 */
struct table {
	size_t	*slot;		/* change index + 1; 0 is empty */
	size_t	 mask;
};

static size_t
bucket(const unsigned char *sha, size_t mask)
{
	size_t h;

	memcpy(&h, sha, sizeof(h));	/* SHA-256 bytes are uniform */
	return h & mask;
}

static enum pd_err
find_renames(struct pr_diff *d)
{
	struct table t;
	struct pr_change *c, *r;
	size_t i, nrem = 0, size = 16, b;

	for (i = 0; i < d->n; i++)
		nrem += d->changes[i].kind == PR_REMOVED &&
		    d->changes[i].old->type == PR_FILE;
	if (nrem == 0)
		return PD_OK;
	while (size < 2 * nrem)
		size *= 2;
	if ((t.slot = pd_calloc(size, sizeof(*t.slot))) == NULL)
		return PD_ERR_NOMEM;
	t.mask = size - 1;
	for (i = 0; i < d->n; i++) {
		c = &d->changes[i];
		if (c->kind != PR_REMOVED || c->old->type != PR_FILE)
			continue;
		for (b = bucket(c->old->sha, t.mask); t.slot[b] != 0;
		    b = (b + 1) & t.mask)
			;
		t.slot[b] = i + 1;
	}
	for (i = 0; i < d->n; i++) {
		c = &d->changes[i];
		if (c->kind != PR_ADDED || c->new->type != PR_FILE)
			continue;
		for (b = bucket(c->new->sha, t.mask); t.slot[b] != 0;
		    b = (b + 1) & t.mask) {
			r = &d->changes[t.slot[b] - 1];
			if (r->kind != PR_REMOVED ||
			    memcmp(r->old->sha, c->new->sha,
			    PD_SHA256_LEN) != 0)
				continue;
			/* The addition becomes the rename; drop the other. */
			c->kind = PR_RENAMED;
			c->old = r->old;
			r->kind = PR_RENAMED;
			r->new = NULL;
			break;
		}
	}
	pd_free(t.slot);
	/* Squeeze out the consumed removals (kind RENAMED, new NULL). */
	for (b = 0, i = 0; i < d->n; i++)
		if (!(d->changes[i].kind == PR_RENAMED &&
		    d->changes[i].new == NULL))
			d->changes[b++] = d->changes[i];
	d->n = b;
	return PD_OK;
}

enum pd_err
pr_diff(const struct pr_manifest *a, const struct pr_manifest *b,
    struct pr_diff *d, struct pd_error *err)
{
	const struct pr_entry *x, *y;
	size_t i = 0, j = 0, cap = 0, na = a ? a->nentries : 0;
	enum pd_err rc = PD_OK;
	int c, k;

	memset(d, 0, sizeof(*d));
	if (a != NULL)
		d->root_changed = a->root_mode != b->root_mode ||
		    !same_time(&a->root_mtime, &b->root_mtime);
	while (rc == PD_OK && (i < na || j < b->nentries)) {
		x = i < na ? &a->entries[i] : NULL;
		y = j < b->nentries ? &b->entries[j] : NULL;
		if (x == NULL)
			c = 1;
		else if (y == NULL)
			c = -1;
		else
			c = pr_path_cmp(x->path, x->path_len, y->path,
			    y->path_len);
		if (c < 0) {
			rc = push(d, &cap, PR_REMOVED, x, NULL);
			i++;
		} else if (c > 0) {
			rc = push(d, &cap, PR_ADDED, NULL, y);
			j++;
		} else {
			if ((k = classify(x, y)) >= 0)
				rc = push(d, &cap, (enum pr_change_kind)k, x,
				    y);
			i++;
			j++;
		}
	}
	if (rc == PD_OK)
		rc = find_renames(d);
	if (rc != PD_OK) {
		pr_diff_free(d);
		return pd_fail(err, rc, "comparing manifests");
	}
	for (i = 0; i < d->n; i++)
		d->count[d->changes[i].kind]++;
	return PD_OK;
}

void
pr_diff_free(struct pr_diff *d)
{
	pd_free(d->changes);
	memset(d, 0, sizeof(*d));
}
