/*
 * Worker threads with completions delivered to the libevent loop.
 *
 * DESIGN: one mutex guards two lists, "todo" (FIFO, workers take from
 * the head) and "done" (the loop drains it).  A worker that finishes a
 * job appends it to "done" and activates one event; the loop's callback
 * takes the whole list and runs each done().  event_active from another
 * thread is safe once libevent's pthread locking is on.
 */
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "../common/mem.h"
#include "workq.h"

struct job {
	struct job	*next;
	nd_work_fn	*work;
	nd_work_fn	*done;
	void		*arg;
};

struct nd_workq {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* todo not empty, or quit */
	struct job	*todo, *todo_tail;
	struct job	*done, *done_tail;
	unsigned	 pending;	/* queued + running + not yet done */
	bool		 quit;
	struct event	*ev;		/* wakes the loop for "done" */
	pthread_t	*threads;
	unsigned	 nthreads;
};

static void *
worker(void *p)
{
	struct nd_workq *q = p;
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (!q->quit && q->todo == NULL)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->quit) {
			pthread_mutex_unlock(&q->mu);
			return NULL;
		}
		j = q->todo;
		if ((q->todo = j->next) == NULL)
			q->todo_tail = NULL;
		pthread_mutex_unlock(&q->mu);

		j->work(j->arg);

		pthread_mutex_lock(&q->mu);
		j->next = NULL;
		if (q->done_tail)
			q->done_tail->next = j;
		else
			q->done = j;
		q->done_tail = j;
		pthread_mutex_unlock(&q->mu);
		event_active(q->ev, 0, 0);
	}
}

/* Loop thread: run the done() of every finished job. */
static void
on_done(evutil_socket_t fd, short what, void *p)
{
	struct nd_workq *q = p;
	struct job *j, *next;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&q->mu);
	j = q->done;
	q->done = q->done_tail = NULL;
	pthread_mutex_unlock(&q->mu);
	for (; j != NULL; j = next) {
		next = j->next;
		pthread_mutex_lock(&q->mu);
		q->pending--;
		pthread_mutex_unlock(&q->mu);
		if (j->done)
			j->done(j->arg);
		pd_free(j);
	}
}

enum pd_err
nd_workq_new(struct event_base *base, unsigned nthreads, struct nd_workq **out)
{
	struct nd_workq *q;
	long ncpu;

	if (nthreads == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = ncpu > 0 ? (unsigned)ncpu : 1;
	}
	if ((q = pd_calloc(1, sizeof(*q))) == NULL)
		return PD_ERR_NOMEM;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if ((q->ev = event_new(base, -1, 0, on_done, q)) == NULL ||
	    (q->threads = pd_calloc(nthreads, sizeof(*q->threads))) == NULL) {
		nd_workq_free(q);
		return PD_ERR_NOMEM;
	}
	for (; q->nthreads < nthreads; q->nthreads++)
		if (pthread_create(&q->threads[q->nthreads], NULL, worker,
		    q) != 0)
			break;
	if (q->nthreads == 0) {
		nd_workq_free(q);
		return PD_ERR_NOMEM;
	}
	*out = q;
	return PD_OK;
}

enum pd_err
nd_workq_submit(struct nd_workq *q, nd_work_fn *work, nd_work_fn *done,
    void *arg)
{
	struct job *j;

	if ((j = pd_calloc(1, sizeof(*j))) == NULL)
		return PD_ERR_NOMEM;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&q->mu);
	if (q->todo_tail)
		q->todo_tail->next = j;
	else
		q->todo = j;
	q->todo_tail = j;
	q->pending++;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return PD_OK;
}

unsigned
nd_workq_pending(struct nd_workq *q)
{
	unsigned n;

	pthread_mutex_lock(&q->mu);
	n = q->pending;
	pthread_mutex_unlock(&q->mu);
	return n;
}

static void
free_list(struct job *j)
{
	struct job *next;

	for (; j != NULL; j = next) {
		next = j->next;
		pd_free(j);
	}
}

void
nd_workq_free(struct nd_workq *q)
{
	unsigned i;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->quit = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	free_list(q->todo);
	free_list(q->done);
	if (q->ev)
		event_free(q->ev);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	pd_free(q->threads);
	pd_free(q);
}
