/*
 * Planning a pack (pack.h).  Both sides of the protocol run this code,
 * so the rules in spec/PROTOCOL.md and this file must change together.
 */
#include <stdlib.h>
#include <string.h>

#include "../common/mem.h"
#include "pack.h"

static int
cmp_entry_sha(const void *x, const void *y)
{
	const struct pr_entry *a = *(const struct pr_entry *const *)x;
	const struct pr_entry *b = *(const struct pr_entry *const *)y;
	int c = memcmp(a->sha, b->sha, PD_SHA256_LEN);

	/* Equal content: path order (entries are in it), for stability. */
	if (c != 0)
		return c;
	return (a > b) - (a < b);
}

bool
pr_pack_held(const struct pr_pack *p, const unsigned char *sha)
{
	size_t lo = 0, hi = p->nheld, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(p->held[mid]->sha, sha, PD_SHA256_LEN);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Files of m with content, sorted by SHA-256 (then path). */
static const struct pr_entry **
files_by_sha(const struct pr_manifest *m, size_t *n)
{
	const struct pr_entry **v;
	size_t i;

	*n = 0;
	if ((v = pd_calloc(m->nentries + 1, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < m->nentries; i++)
		if (m->entries[i].type == PR_FILE && m->entries[i].size > 0)
			v[(*n)++] = &m->entries[i];
	qsort(v, *n, sizeof(*v), cmp_entry_sha);
	return v;
}

/* Cut the items of parts: in order, by weight and count. */
static void
cut_parts(struct pr_pack *p)
{
	uint64_t weight = 0, w;
	uint32_t items = 0;
	size_t i;

	p->nparts = 0;
	for (i = 0; i < p->n; i++) {
		const struct pr_pack_item *it = &p->items[i];

		if (it->e->size > PR_PACK_ALONE) {
			p->items[i].part = PR_PACK_NOPART;
			continue;
		}
		w = it->basis ? it->e->size / PR_PACK_DELTA_SHARE : it->e->size;
		if (w == 0)
			w = 1;
		if (p->nparts == 0 || items == PR_PACK_PART_ITEMS ||
		    (items > 0 && weight + w > PR_PACK_PART_WEIGHT)) {
			p->nparts++;
			weight = 0;
			items = 0;
		}
		p->items[i].part = p->nparts - 1;
		weight += w;
		items++;
	}
}

enum pd_err
pr_pack_plan(const struct pr_manifest *a, const struct pr_manifest *b,
    struct pr_pack *p, struct pd_error *err)
{
	const struct pr_entry **bv = NULL, *e, *base;
	unsigned char *first = NULL;
	size_t nb, i, k;
	enum pd_err rc = PD_ERR_NOMEM;

	memset(p, 0, sizeof(*p));
	if ((a && (p->held = files_by_sha(a, &p->nheld)) == NULL) ||
	    (bv = files_by_sha(b, &nb)) == NULL ||
	    (first = pd_calloc(b->nentries + 1, 1)) == NULL)
		goto out;
	/* The first path of each content a does not hold. */
	for (i = 0, k = 0; i < nb; i++) {
		if (i > 0 && memcmp(bv[i - 1]->sha, bv[i]->sha,
		    PD_SHA256_LEN) == 0)
			continue;
		if (pr_pack_held(p, bv[i]->sha))
			continue;
		first[bv[i] - b->entries] = 1;
		k++;
	}
	if ((p->items = pd_calloc(k + 1, sizeof(*p->items))) == NULL)
		goto out;
	for (i = 0; i < b->nentries; i++) {
		if (!first[i])
			continue;
		e = &b->entries[i];
		base = a ? pr_manifest_find(a, e->path, e->path_len) : NULL;
		if (base && (base->type != PR_FILE || base->size == 0))
			base = NULL;
		p->items[p->n].e = e;
		p->items[p->n].basis = base;
		p->n++;
	}
	cut_parts(p);
	rc = PD_OK;
out:
	if (rc != PD_OK)
		pd_fail(err, rc, "planning the content of version %llu",
		    (unsigned long long)b->version);
	pd_free(bv);
	pd_free(first);
	return rc;
}

void
pr_pack_free(struct pr_pack *p)
{
	pd_free(p->items);
	pd_free(p->held);
	memset(p, 0, sizeof(*p));
}
