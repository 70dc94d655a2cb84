/*
 * An arena for many small strings that die together (paths of a tree):
 * a few large chunks instead of a malloc per string.
 */
#ifndef PD_ARENA_H
#define PD_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct pd_arena {
	struct pd_arena_chunk	*head;
	struct pd_arena_link	*kept;		/* other arenas' chunks */
};

#define PD_ARENA_INIT	{ NULL, NULL }

/* Copy n bytes plus a NUL into the arena; NULL when out of memory. */
char	*pd_arena_copy(struct pd_arena *, const void *, size_t n);
/*
 * Keep every string from holds now alive for as long as a holds them
 * too, whichever arena is freed first: a new manifest then points at an
 * old one's paths instead of copying them.  Strings from copies later
 * are its own.  False when out of memory (a keeps what it got: freeing
 * it lets go).  Chunks are counted without locks: share only between
 * arenas that one thread frees.
 */
bool	 pd_arena_keep(struct pd_arena *a, const struct pd_arena *from);
void	 pd_arena_free(struct pd_arena *);

#endif
