/*
 * The task engine: a pool of worker threads that run the catalog's
 * durable tasks (catalog/tasks.h) with a function per kind.
 *
 * - One task per tree at a time (the Pulp guarantee), tasks of other
 *   trees in parallel on the pool; highest priority first, then oldest.
 * - A run holds a lease with an epoch.  A keeper thread renews the
 *   leases of the runs in progress while the process lives; the run
 *   passes nd_task_lease() down to the transaction that commits its
 *   result (nd_pull_opts.lease, nd_import_opts.lease), which refuses it
 *   if the lease was lost.
 * - A failed run is retried after an exponential backoff with jitter,
 *   up to the task's max_attempts; then the task fails, its error kept.
 *   PD_ERR_USAGE from a run means retrying cannot help: it fails at once.
 * - Cancel: a queued task at once, a running one cooperatively (the run
 *   polls nd_task_stopping()).
 * - Only one process runs a data directory's tasks (cat_task_lock);
 *   nd_engine_new resumes the tasks a dead one left running.
 * - nd_engine_stop stops claiming and asks every run to stop; a run that
 *   stops unfinished is queued again, to resume at the next start.
 *
 * Every function may be called from any thread unless it says
 * otherwise; the task functions run on the workers.  The loop thread of
 * a daemon learns that tasks ended from the done callback (on a worker:
 * hand off, do not block) or by watching nd_engine_fd().
 */
#ifndef ND_ENGINE_H
#define ND_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../catalog/tasks.h"

#define ND_ENGINE_WORKERS	4
#define ND_ENGINE_LEASE_MS	60000		/* a lease lasts, unrenewed */
#define ND_ENGINE_BACKOFF_MS	1000		/* before the first retry */
#define ND_ENGINE_BACKOFF_MAX	600000		/* the longest wait */
#define ND_ENGINE_HISTORY	1000		/* finished tasks kept */

struct nd_engine;
struct nd_task_ctx;

/*
 * Run task; PD_OK when it is done, else the error (its text in err,
 * kept as the task's error).  arg is nd_engine_register's.
 */
typedef enum pd_err nd_task_fn(void *arg, const struct cat_task *task,
	    struct nd_task_ctx *ctx, struct pd_error *err);

struct nd_engine_opts {
	unsigned	 workers;	/* threads; 0: ND_ENGINE_WORKERS */
	int64_t		 lease_ms;	/* 0: ND_ENGINE_LEASE_MS */
	int64_t		 backoff_ms;	/* 0: ND_ENGINE_BACKOFF_MS */
	int64_t		 backoff_max_ms; /* 0: ND_ENGINE_BACKOFF_MAX */
	size_t		 history;	/* 0: ND_ENGINE_HISTORY */
	const char	*owner;		/* lease owner; NULL: "pid N" */
	/* Clock and randomness (for the jitter), for tests; NULL: real. */
	const struct cat_clock *clock;
	uint32_t	(*rand)(void *arg);
	void		*rand_arg;
	/* Called on a worker after a run's outcome is committed. */
	void		(*done)(void *arg, const struct cat_task *);
	void		*done_arg;
};

struct nd_engine_stats {
	uint64_t	 runs;		/* runs started */
	uint64_t	 done;		/* tasks done */
	uint64_t	 failures;	/* runs that failed */
	uint64_t	 retries;	/* of which queued again to retry */
	uint64_t	 failed;	/* tasks failed for good */
	uint64_t	 canceled;	/* tasks canceled (queued or running) */
	uint64_t	 requeued;	/* runs a stop interrupted */
	uint64_t	 resumed;	/* tasks a dead process left, resumed */
	uint64_t	 lost;		/* runs that lost their lease */
	uint64_t	 db_errors;	/* outcomes the catalog refused */
	unsigned	 running;	/* runs in progress */
};

/*
 * Take the data directory's task lock, resume what a dead process left
 * running, and make an engine (not started).  The catalog stays the
 * caller's and must outlive the engine.  Errors: PD_ERR_CONFLICT
 * (another process runs the tasks), PD_ERR_IO, PD_ERR_DB, PD_ERR_NOMEM.
 */
enum pd_err nd_engine_new(struct cat *, const struct nd_engine_opts *,
	    struct nd_engine **, struct pd_error *) PD_WARN_UNUSED;
/* The function for tasks of kind; before nd_engine_start only. */
enum pd_err nd_engine_register(struct nd_engine *, enum cat_task_kind,
	    nd_task_fn *, void *arg, struct pd_error *) PD_WARN_UNUSED;
/* Start the workers and the keeper; once. */
enum pd_err nd_engine_start(struct nd_engine *, struct pd_error *)
	    PD_WARN_UNUSED;

/* Queue a task (cat_task_add's errors); its record in *out if wanted. */
enum pd_err nd_engine_submit(struct nd_engine *, const struct cat_task_new *,
	    struct cat_task *out, struct pd_error *) PD_WARN_UNUSED;
/* Cancel a task (cat_task_cancel's errors), telling its run if any. */
enum pd_err nd_engine_cancel(struct nd_engine *, uint64_t id,
	    struct cat_task *out, struct pd_error *) PD_WARN_UNUSED;
/* cat_task_list and cat_task_get in a read transaction of their own. */
enum pd_err nd_engine_list(struct nd_engine *, const char *tree,
	    size_t limit, struct cat_task **, size_t *, struct pd_error *)
	    PD_WARN_UNUSED;
enum pd_err nd_engine_get(struct nd_engine *, uint64_t id,
	    struct cat_task *, struct pd_error *) PD_WARN_UNUSED;
/* Look for due tasks now (the clock moved, a schedule changed). */
void	nd_engine_kick(struct nd_engine *);
/*
 * An eventfd, readable (a count) once a run's outcome is committed;
 * the reader drains it.  Lives with the engine.
 */
int	nd_engine_fd(const struct nd_engine *);
void	nd_engine_stats(struct nd_engine *, struct nd_engine_stats *);
/*
 * Stop claiming, ask every run to stop, wait for them all; runs that
 * stop unfinished are queued again.  Not from a task function.
 */
void	nd_engine_stop(struct nd_engine *);
/* Stop if needed, release the task lock, free; NULL is a no-op. */
void	nd_engine_free(struct nd_engine *);

/*
 * For the task function.  nd_task_stopping: whether the run should stop
 * now (canceled, the engine stopping, or the lease lost); cheap, poll
 * it between steps.  nd_task_heartbeat: renew the lease now (the keeper
 * does it too), PD_ERR_CONFLICT if it is lost; it begins a write
 * transaction, so never call it inside one of the run's own (LMDB has
 * one writer: the thread would wait for itself).  nd_task_lease: what to
 * pass to the commit of the result; lives as long as the run.
 */
bool	nd_task_stopping(struct nd_task_ctx *);
enum pd_err nd_task_heartbeat(struct nd_task_ctx *, struct pd_error *)
	    PD_WARN_UNUSED;
const struct cat_lease *nd_task_lease(const struct nd_task_ctx *);

#endif
