/*
 * Manifests in memory: building, sorting, lookup and the validity rules
 * of spec/MANIFEST.md.  Encoding and parsing are in menc.c and mparse.c.
 *
 * Strings are copied into an arena: an 80,000-entry tree costs a handful
 * of allocations, and freeing the manifest frees them all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/arena.h"
#include "../common/mem.h"
#include "manifest.h"
#include "pathenc.h"

struct pr_manifest *
pr_manifest_new(void)
{
	struct pr_manifest *m;

	if ((m = pd_calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->root_mode = 0755;
	return m;
}

void
pr_manifest_free(struct pr_manifest *m)
{
	if (m == NULL)
		return;
	pd_arena_free(&m->arena);
	pd_free(m->entries);
	pd_free(m);
}

/* A new last entry, e as it is; NULL when out of room or memory. */
static struct pr_entry *
append(struct pr_manifest *m, const struct pr_entry *e, enum pd_err *rc)
{
	struct pr_entry *n;
	size_t cap;

	*rc = PD_ERR_LIMIT;
	if (m->nentries >= PR_ENTRIES_MAX)
		return NULL;
	*rc = PD_ERR_NOMEM;
	if (m->nentries == m->cap) {
		cap = m->cap ? m->cap * 2 : 1024;
		if ((n = pd_reallocarray(m->entries, cap, sizeof(*n))) == NULL)
			return NULL;
		m->entries = n;
		m->cap = cap;
	}
	*rc = PD_OK;
	m->entries[m->nentries] = *e;
	return &m->entries[m->nentries];
}

enum pd_err
pr_manifest_keep_strings(struct pr_manifest *m,
    const struct pr_manifest *from)
{
	return pd_arena_keep(&m->arena, &from->arena) ? PD_OK : PD_ERR_NOMEM;
}

enum pd_err
pr_manifest_add_kept(struct pr_manifest *m, const struct pr_entry *e)
{
	enum pd_err rc;

	if (append(m, e, &rc) == NULL)
		return rc;
	m->nentries++;
	return PD_OK;
}

enum pd_err
pr_manifest_add(struct pr_manifest *m, const struct pr_entry *e)
{
	struct pr_entry *ne;
	enum pd_err rc;

	if ((ne = append(m, e, &rc)) == NULL)
		return rc;
	ne->path = pd_arena_copy(&m->arena, e->path, e->path_len);
	if (ne->path == NULL)
		return PD_ERR_NOMEM;
	if (e->target != NULL && (ne->target = pd_arena_copy(&m->arena,
	    e->target, e->target_len)) == NULL)
		return PD_ERR_NOMEM;
	m->nentries++;
	return PD_OK;
}

int
pr_path_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct pr_entry *x = a, *y = b;

	return pr_path_cmp(x->path, x->path_len, y->path, y->path_len);
}

void
pr_manifest_sort(struct pr_manifest *m)
{
	if (m->nentries > 1)
		qsort(m->entries, m->nentries, sizeof(*m->entries), entry_cmp);
}

/* Binary search in entries[0, n). */
static const struct pr_entry *
find_in(const struct pr_entry *ents, size_t n, const char *path, size_t len)
{
	size_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = pr_path_cmp(ents[mid].path, ents[mid].path_len, path, len);
		if (c == 0)
			return &ents[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct pr_entry *
pr_manifest_find(const struct pr_manifest *m, const char *path, size_t len)
{
	return find_in(m->entries, m->nentries, path, len);
}

const char *
pr_tree_name_check(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0)
		return "empty tree name";
	if (n > PR_TREE_NAME_MAX)
		return "tree name longer than 64 bytes";
	if (name[0] == '.' || name[0] == '-')
		return "tree name starts with '.' or '-'";
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-'))
			return "tree name has a byte other than "
			    "A-Z a-z 0-9 . _ -";
	}
	return NULL;
}

/* Fail naming entry e, its path escaped as in the encoding. */
static enum pd_err
efail(struct pd_error *err, enum pd_err code, const struct pr_entry *e,
    const char *why)
{
	char ps[PR_SHOW_MAX];

	return pd_fail(err, code, "entry %s: %s",
	    pr_path_show(e->path, e->path_len, ps, sizeof(ps)), why);
}

static bool
valid_time(const struct pr_time *t)
{
	return t->nsec <= 999999999u;
}

/* Check one entry on its own: path, type and field ranges. */
static enum pd_err
check_entry(const struct pr_entry *e, struct pd_error *err)
{
	const char *why;
	size_t k, depth;

	if ((why = pr_path_check(e->path, e->path_len)) != NULL)
		return efail(err, PD_ERR_UNSAFE, e, why);
	for (depth = 0, k = 0; k < e->path_len; k++)
		depth += e->path[k] == '/';
	if (depth >= PR_DEPTH_MAX)
		return efail(err, PD_ERR_LIMIT, e, "too deep");
	if (!valid_time(&e->mtime))
		return efail(err, PD_ERR_PARSE, e, "bad mtime");
	if (e->mode > 07777)
		return efail(err, PD_ERR_PARSE, e, "bad mode");
	switch (e->type) {
	case PR_DIR:
		if (e->size != 0 || e->link != 0 || e->target != NULL)
			return efail(err, PD_ERR_PARSE, e,
			    "directory with file fields");
		break;
	case PR_FILE:
		if (e->size > PR_FILE_SIZE_MAX)
			return efail(err, PD_ERR_LIMIT, e,
			    "size over the limit");
		if (e->target != NULL)
			return efail(err, PD_ERR_PARSE, e,
			    "file with a link target");
		break;
	case PR_LINK:
		if (e->target == NULL || e->target_len == 0 ||
		    e->target_len > PR_TARGET_MAX ||
		    memchr(e->target, '\0', e->target_len) != NULL)
			return efail(err, PD_ERR_PARSE, e, "bad link target");
		if (e->size != 0 || e->link != 0 || e->mode != 0777)
			return efail(err, PD_ERR_PARSE, e,
			    "link with file fields");
		break;
	default:
		return efail(err, PD_ERR_PARSE, e, "unknown type");
	}
	return PD_OK;
}

/* Where each hardlink group starts and how many members it has. */
struct groups {
	size_t	*first;
	size_t	*count;
	size_t	 n;
};

static enum pd_err
groups_add(struct groups *g, size_t i)
{
	size_t *f, *c;

	if ((f = pd_reallocarray(g->first, g->n + 1, sizeof(*f))) == NULL)
		return PD_ERR_NOMEM;
	g->first = f;
	if ((c = pd_reallocarray(g->count, g->n + 1, sizeof(*c))) == NULL)
		return PD_ERR_NOMEM;
	g->count = c;
	g->first[g->n] = i;
	g->count[g->n] = 1;
	g->n++;
	return PD_OK;
}

/* Check entry i against the entries before it. */
static enum pd_err
check_order(const struct pr_manifest *m, size_t i, struct groups *g,
    struct pd_error *err)
{
	const struct pr_entry *e = &m->entries[i], *prev, *par, *first;
	const char *slash;
	int c;

	if (i > 0) {
		prev = &m->entries[i - 1];
		c = pr_path_cmp(prev->path, prev->path_len, e->path,
		    e->path_len);
		if (c == 0)
			return efail(err, PD_ERR_PARSE, e, "duplicate path");
		if (c > 0)
			return efail(err, PD_ERR_PARSE, e,
			    "paths out of order");
	}
	/* The parent must be a directory listed earlier. */
	if ((slash = memrchr(e->path, '/', e->path_len)) != NULL) {
		par = find_in(m->entries, i, e->path,
		    (size_t)(slash - e->path));
		if (par == NULL)
			return efail(err, PD_ERR_UNSAFE, e,
			    "parent is not in the manifest");
		if (par->type != PR_DIR)
			return efail(err, PD_ERR_UNSAFE, e,
			    "parent is not a directory");
	}
	if (e->link == 0)
		return PD_OK;
	if (e->type != PR_FILE)
		return efail(err, PD_ERR_PARSE, e,
		    "hardlink group on a non-file");
	/* Groups are numbered in the order of their first member. */
	if (e->link == g->n + 1)
		return groups_add(g, i) == PD_OK ? PD_OK :
		    pd_fail(err, PD_ERR_NOMEM, "manifest");
	if (e->link > g->n)
		return efail(err, PD_ERR_PARSE, e,
		    "hardlink group out of order");
	first = &m->entries[g->first[e->link - 1]];
	if (first->mode != e->mode || first->size != e->size ||
	    first->mtime.sec != e->mtime.sec ||
	    first->mtime.nsec != e->mtime.nsec ||
	    memcmp(first->sha, e->sha, sizeof(e->sha)) != 0)
		return efail(err, PD_ERR_PARSE, e,
		    "differs from its hardlink group");
	g->count[e->link - 1]++;
	return PD_OK;
}

enum pd_err
pr_manifest_check(const struct pr_manifest *m, struct pd_error *err)
{
	struct groups g = { NULL, NULL, 0 };
	const char *why;
	enum pd_err rc = PD_OK;
	size_t i;

	if ((why = pr_tree_name_check(m->tree)) != NULL)
		return pd_fail(err, PD_ERR_PARSE, "manifest: %s", why);
	if (m->version < 1 || m->version > PR_VERSION_MAX)
		return pd_fail(err, PD_ERR_PARSE, "manifest: bad version");
	if (m->has_parent != (m->version > 1))
		return pd_fail(err, PD_ERR_PARSE, "manifest: version %llu %s",
		    (unsigned long long)m->version, m->has_parent ?
		    "cannot have a parent" : "needs a parent");
	if (m->created < 0)
		return pd_fail(err, PD_ERR_PARSE, "manifest: created before "
		    "1970");
	if (m->expires != 0 && m->expires <= m->created)
		return pd_fail(err, PD_ERR_PARSE, "manifest: expires before "
		    "it was created");
	if (m->root_mode > 07777 || !valid_time(&m->root_mtime))
		return pd_fail(err, PD_ERR_PARSE, "manifest: bad root");
	if (m->nentries > PR_ENTRIES_MAX)
		return pd_fail(err, PD_ERR_LIMIT, "manifest: too many entries");

	for (i = 0; i < m->nentries && rc == PD_OK; i++)
		if ((rc = check_entry(&m->entries[i], err)) == PD_OK)
			rc = check_order(m, i, &g, err);
	for (i = 0; i < g.n && rc == PD_OK; i++)
		if (g.count[i] < 2)
			rc = efail(err, PD_ERR_PARSE, &m->entries[g.first[i]],
			    "hardlink group with one member");
	pd_free(g.first);
	pd_free(g.count);
	return rc;
}

void
pr_manifest_stats(const struct pr_manifest *m, struct pr_stats *st)
{
	size_t i;
	uint32_t maxlink = 0;
	const struct pr_entry *e;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < m->nentries; i++) {
		e = &m->entries[i];
		switch (e->type) {
		case PR_DIR:
			st->dirs++;
			break;
		case PR_LINK:
			st->links++;
			break;
		case PR_FILE:
			st->files++;
			/* Groups are numbered in order: a new number is a
			 * new inode. */
			if (e->link == 0 || e->link > maxlink)
				st->bytes += e->size;
			if (e->link > maxlink)
				maxlink = e->link;
			break;
		}
	}
}
