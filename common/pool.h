/*
 * A fixed pool of worker threads for CPU and disk work (hashing, reading,
 * writing objects) that the calling thread must not do itself.
 *
 * pd_pool_for() runs fn(arg, i, worker) for every i in [0, n) spread over
 * the workers and returns when all are done.  Items are handed out in
 * increasing order, so work on sorted input keeps its locality.  "worker"
 * is 0..nthreads-1, for per-thread scratch state.  The pool is for one
 * caller at a time.
 */
#ifndef PD_POOL_H
#define PD_POOL_H

#include <stddef.h>

#include "err.h"

struct pd_pool;

typedef void pd_pool_fn(void *arg, size_t i, unsigned worker);

/* Online CPUs, at least 1. */
unsigned pd_ncpu(void);
/* nthreads 0 means one per online CPU. */
enum pd_err pd_pool_new(unsigned nthreads, struct pd_pool **) PD_WARN_UNUSED;
unsigned pd_pool_size(const struct pd_pool *);
void	pd_pool_for(struct pd_pool *, size_t n, pd_pool_fn *, void *arg);
/* Tell workers to stop taking new items of the current pd_pool_for. */
void	pd_pool_cancel(struct pd_pool *);
void	pd_pool_free(struct pd_pool *);

#endif
