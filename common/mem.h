/*
 * Allocation wrappers.  All of pulpdist allocates through these (make
 * checksrc refuses raw malloc and friends) so that tests can count
 * allocations and make the Nth one fail, and so that size arithmetic is
 * overflow-checked in one place.  They return NULL on failure and never
 * abort; callers turn NULL into PD_ERR_NOMEM.  Safe from any thread.
 */
#ifndef PD_MEM_H
#define PD_MEM_H

#include <stddef.h>
#include <stdint.h>

void	*pd_malloc(size_t);
void	*pd_calloc(size_t nmemb, size_t size);
/* realloc of nmemb * size bytes; NULL (old block untouched) on overflow. */
void	*pd_reallocarray(void *, size_t nmemb, size_t size);
char	*pd_strdup(const char *);
/* Copy of len bytes plus a terminating NUL. */
char	*pd_memdup0(const void *, size_t len);
void	 pd_free(void *);

/*
 * Once per process, before threads: keep the C library from holding on
 * to large blocks after they are freed (mem.c says why).
 */
void	 pd_mem_tune(void);

/* Test hooks: count live allocations; make allocation number n fail. */
uint64_t pd_mem_allocations(void);
void	 pd_mem_fail_at(uint64_t n);	/* 0 turns failure injection off */

#endif
