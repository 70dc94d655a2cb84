/*
 * Work off the event loop: a queue of jobs run by worker threads, whose
 * completions come back to the loop thread (redis bio.c's design, with
 * libevent's event_active as the wake-up).
 *
 * nd_workq_submit() is called from the loop thread: work(arg) runs on a
 * worker, then done(arg) runs on the loop thread.  Jobs start in FIFO
 * order.  Workers never touch libevent objects that the loop owns; the
 * loop never runs work().  evthread_use_pthreads() must have been called
 * before the event base was made.
 */
#ifndef ND_WORKQ_H
#define ND_WORKQ_H

#include <event2/event.h>

#include "../common/err.h"

struct nd_workq;

typedef void nd_work_fn(void *arg);

/* nthreads 0: one per online CPU. */
enum pd_err nd_workq_new(struct event_base *, unsigned nthreads,
	    struct nd_workq **) PD_WARN_UNUSED;
/* Queue a job; PD_ERR_NOMEM if it cannot be queued (nothing runs). */
enum pd_err nd_workq_submit(struct nd_workq *, nd_work_fn *work,
	    nd_work_fn *done, void *arg) PD_WARN_UNUSED;
/* Jobs queued or running, for overload decisions and status. */
unsigned nd_workq_pending(struct nd_workq *);
/* Finish running jobs, drop queued ones (their done is not called). */
void	nd_workq_free(struct nd_workq *);

#endif
