/*
 * An arena for many small strings that die together (paths of a tree):
 * a few large chunks instead of a malloc per string.
 */
#ifndef PD_ARENA_H
#define PD_ARENA_H

#include <stddef.h>

struct pd_arena {
	struct pd_arena_chunk	*head;
};

#define PD_ARENA_INIT	{ NULL }

/* Copy n bytes plus a NUL into the arena; NULL when out of memory. */
char	*pd_arena_copy(struct pd_arena *, const void *, size_t n);
void	 pd_arena_free(struct pd_arena *);

#endif
