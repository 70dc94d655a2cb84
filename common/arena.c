/*
 * String arena: chunks linked newest first, growing from 4 KiB to 256 KiB
 * so that an arena holding a few names (one directory) stays small.
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
	char			 data[];
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
		a->head = c;
	}
	p = c->data + c->used;
	memcpy(p, s, n);
	p[n] = '\0';
	c->used += want;
	return p;
}

void
pd_arena_free(struct pd_arena *a)
{
	struct pd_arena_chunk *c, *next;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		pd_free(c);
	}
	a->head = NULL;
}
