/*
 * Allocation wrappers with a counter and failure injection for tests.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "mem.h"

static atomic_uint_fast64_t count;	/* allocations made so far */
static atomic_uint_fast64_t fail_at;	/* allocation number to fail */

static int
should_fail(void)
{
	uint64_t n = atomic_fetch_add(&count, 1) + 1;
	uint64_t f = atomic_load(&fail_at);

	return f != 0 && n == f;
}

void *
pd_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *
pd_calloc(size_t nmemb, size_t size)
{
	if (should_fail())
		return NULL;
	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	return calloc(nmemb, size);
}

void *
pd_reallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		return NULL;
	if (should_fail())
		return NULL;
	return realloc(p, nmemb * size != 0 ? nmemb * size : 1);
}

char *
pd_memdup0(const void *src, size_t len)
{
	char *p;

	if (len == SIZE_MAX || (p = pd_malloc(len + 1)) == NULL)
		return NULL;
	memcpy(p, src, len);
	p[len] = '\0';
	return p;
}

char *
pd_strdup(const char *s)
{
	return pd_memdup0(s, strlen(s));
}

void
pd_free(void *p)
{
	free(p);
}

/*
 * glibc raises its mmap threshold to the size of each large block freed
 * (up to 32 MiB); blocks of megabytes then come from the heap and stay
 * resident after they are freed.  A pull frees manifests and buffers of
 * 10 MB and more and would carry them to the end.  Setting the
 * thresholds turns that off: large blocks go back to the system at once.
 */
void
pd_mem_tune(void)
{
#ifdef __GLIBC__
	(void)mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	(void)mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
#endif
}

uint64_t
pd_mem_allocations(void)
{
	return atomic_load(&count);
}

void
pd_mem_fail_at(uint64_t n)
{
	atomic_store(&fail_at, n);
}
