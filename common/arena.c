/*
 * String arena: chunks linked newest first, growing from 4 KiB to 256 KiB
 * so that an arena holding a few names (one directory) stays small.
 *
 * A chunk counts the arenas that hold it: its own, and those that keep
 * it (pd_arena_keep) through a link each.  The last to let go frees it,
 * so two arenas sharing strings can be freed in either order.
 */
#include <string.h>

#include "arena.h"
#include "mem.h"

#define CHUNK_MIN	4096
#define CHUNK_MAX	(256 * 1024)

struct pd_arena_chunk {
	struct pd_arena_chunk	*next;
	size_t			 used;
	size_t			 size;
	unsigned		 refs;
	char			 data[];
};

/* A chunk of another arena that this one keeps. */
struct pd_arena_link {
	struct pd_arena_link	*next;
	struct pd_arena_chunk	*chunk;
};

char *
pd_arena_copy(struct pd_arena *a, const void *s, size_t n)
{
	struct pd_arena_chunk *c = a->head;
	size_t want = n + 1, size;
	char *p;

	if (n == (size_t)-1)
		return NULL;
	if (c == NULL || c->size - c->used < want) {
		size = c ? c->size * 2 : CHUNK_MIN;
		if (size > CHUNK_MAX)
			size = CHUNK_MAX;
		if (size < want)
			size = want;
		if ((c = pd_malloc(sizeof(*c) + size)) == NULL)
			return NULL;
		c->next = a->head;
		c->used = 0;
		c->size = size;
		c->refs = 1;
		a->head = c;
	}
	p = c->data + c->used;
	memcpy(p, s, n);
	p[n] = '\0';
	c->used += want;
	return p;
}

static bool
keep_chunk(struct pd_arena *a, struct pd_arena_chunk *c)
{
	struct pd_arena_link *l;

	if ((l = pd_malloc(sizeof(*l))) == NULL)
		return false;
	l->chunk = c;
	l->next = a->kept;
	a->kept = l;
	c->refs++;
	return true;
}

bool
pd_arena_keep(struct pd_arena *a, const struct pd_arena *from)
{
	struct pd_arena_chunk *c;
	struct pd_arena_link *l;

	for (c = from->head; c != NULL; c = c->next)
		if (!keep_chunk(a, c))
			return false;
	for (l = from->kept; l != NULL; l = l->next)
		if (!keep_chunk(a, l->chunk))
			return false;
	return true;
}

static void
unref(struct pd_arena_chunk *c)
{
	if (--c->refs == 0)
		pd_free(c);
}

void
pd_arena_free(struct pd_arena *a)
{
	struct pd_arena_chunk *c, *next;
	struct pd_arena_link *l, *lnext;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		unref(c);
	}
	for (l = a->kept; l != NULL; l = lnext) {
		lnext = l->next;
		unref(l->chunk);
		pd_free(l);
	}
	a->head = NULL;
	a->kept = NULL;
}
