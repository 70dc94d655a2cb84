/*
 * Worker pool with a "parallel for".
 *
 * DESIGN: the threads live as long as the pool.  A round is published by
 * bumping a generation number under the mutex; workers take item indexes
 * from an atomic counter until it passes n, then report in.  The caller
 * sleeps on a condition variable until every worker has reported, so the
 * caller's stack (fn's arg) outlives all uses.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "mem.h"
#include "pool.h"

struct worker {
	struct pd_pool	*pool;
	unsigned	 id;
	pthread_t	 th;
};

struct pd_pool {
	pthread_mutex_t	 mu;
	pthread_cond_t	 wake;		/* a new round or shutdown */
	pthread_cond_t	 done;		/* a worker finished its round */
	unsigned	 nthreads;
	struct worker	*workers;
	unsigned long	 gen;		/* round number */
	unsigned	 finished;	/* workers done with this round */
	bool		 quit;
	/* the current round */
	pd_pool_fn	*fn;
	void		*arg;
	size_t		 n;
	atomic_size_t	 next;
	atomic_bool	 cancel;
};

static void *
run(void *p)
{
	struct worker *w = p;
	struct pd_pool *pool = w->pool;
	unsigned long seen = 0;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&pool->mu);
		while (!pool->quit && pool->gen == seen)
			pthread_cond_wait(&pool->wake, &pool->mu);
		if (pool->quit) {
			pthread_mutex_unlock(&pool->mu);
			return NULL;
		}
		seen = pool->gen;
		pthread_mutex_unlock(&pool->mu);

		while (!atomic_load(&pool->cancel) &&
		    (i = atomic_fetch_add(&pool->next, 1)) < pool->n)
			pool->fn(pool->arg, i, w->id);

		pthread_mutex_lock(&pool->mu);
		if (++pool->finished == pool->nthreads)
			pthread_cond_signal(&pool->done);
		pthread_mutex_unlock(&pool->mu);
	}
}

unsigned
pd_ncpu(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	return ncpu > 0 ? (unsigned)ncpu : 1;
}

enum pd_err
pd_pool_new(unsigned nthreads, struct pd_pool **out)
{
	struct pd_pool *pool;
	unsigned i;

	if (nthreads == 0)
		nthreads = pd_ncpu();
	if ((pool = pd_calloc(1, sizeof(*pool))) == NULL)
		return PD_ERR_NOMEM;
	if ((pool->workers = pd_calloc(nthreads, sizeof(*pool->workers))) ==
	    NULL) {
		pd_free(pool);
		return PD_ERR_NOMEM;
	}
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pthread_cond_init(&pool->done, NULL);
	for (i = 0; i < nthreads; i++) {
		pool->workers[i].pool = pool;
		pool->workers[i].id = i;
		if (pthread_create(&pool->workers[i].th, NULL, run,
		    &pool->workers[i]) != 0)
			break;
		pool->nthreads++;
	}
	if (pool->nthreads == 0) {
		pd_pool_free(pool);
		return PD_ERR_NOMEM;
	}
	*out = pool;
	return PD_OK;
}

unsigned
pd_pool_size(const struct pd_pool *pool)
{
	return pool->nthreads;
}

void
pd_pool_for(struct pd_pool *pool, size_t n, pd_pool_fn *fn, void *arg)
{
	if (n == 0)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->fn = fn;
	pool->arg = arg;
	pool->n = n;
	atomic_store(&pool->next, 0);
	atomic_store(&pool->cancel, false);
	pool->finished = 0;
	pool->gen++;
	pthread_cond_broadcast(&pool->wake);
	while (pool->finished < pool->nthreads)
		pthread_cond_wait(&pool->done, &pool->mu);
	pthread_mutex_unlock(&pool->mu);
}

void
pd_pool_cancel(struct pd_pool *pool)
{
	atomic_store(&pool->cancel, true);
}

void
pd_pool_free(struct pd_pool *pool)
{
	unsigned i;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->quit = true;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->mu);
	for (i = 0; i < pool->nthreads; i++)
		pthread_join(pool->workers[i].th, NULL);
	pthread_mutex_destroy(&pool->mu);
	pthread_cond_destroy(&pool->wake);
	pthread_cond_destroy(&pool->done);
	pd_free(pool->workers);
	pd_free(pool);
}
