/*
 * The durable task queue (DESIGN.md rule 8): every import, sync,
 * publish, delta computation and clean-up a node runs is a record in the
 * catalog, so it survives a crash and its history can be shown.
 *
 * A task runs under a lease: claiming it marks it running, bumps its
 * epoch and sets when the lease expires.  Whoever commits the task's
 * result checks (task, epoch) in that same write transaction with
 * cat_task_lease_check: a worker that stalled past its lease, or whose
 * task was taken back and handed out again, cannot publish over newer
 * work.  At most one task per tree is running at a time (the tree ""
 * is the node's own, for work that is no tree's); tasks of different
 * trees run side by side.
 *
 * Every function takes the time as an argument, in milliseconds since
 * the epoch, so that callers and tests choose the clock.  They run
 * inside a catalog transaction (catalog.h); the ones that change
 * records need a write transaction (PD_ERR_USAGE otherwise).  A catalog
 * older than schema 4 opened read-only has no task records: it lists
 * none and finds none.
 */
#ifndef CAT_TASKS_H
#define CAT_TASKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

#define CAT_TASK_ERROR_MAX	512	/* bytes of error text kept */
#define CAT_TASK_ARG_MAX	1024	/* bytes of a task's argument */
#define CAT_TASK_OWNER_MAX	64	/* bytes of a lease owner's name */
#define CAT_TASK_ACTIVE_MAX	10000	/* queued and running, at most */
#define CAT_TASK_ATTEMPTS_MAX	100	/* the most max_attempts may be */

enum cat_task_kind {
	CAT_TASK_IMPORT = 1,
	CAT_TASK_SYNC,
	CAT_TASK_PUBLISH,
	CAT_TASK_DELTA,
	CAT_TASK_CLEAN,
};
#define CAT_TASK_KINDS	5

enum cat_task_state {
	CAT_TASK_QUEUED = 1,	/* waiting for its next run */
	CAT_TASK_RUNNING,	/* leased to a worker */
	CAT_TASK_DONE,
	CAT_TASK_FAILED,	/* out of attempts; error says why */
	CAT_TASK_CANCELED,
};

/* A clock in milliseconds since the epoch; fn NULL: the real clock. */
struct cat_clock {
	int64_t		(*fn)(void *arg);
	void		*arg;
};

/* What a worker presents to prove the task is still its own. */
struct cat_lease {
	uint64_t	 task;
	uint64_t	 epoch;
	const struct cat_clock *clock;	/* for expiry; NULL: real time */
};

struct cat_task {
	uint64_t	 id;		/* from 1, in the order of adding */
	enum cat_task_kind kind;
	char		 tree[PR_TREE_NAME_MAX + 1];	/* "" node-wide */
	int32_t		 priority;	/* higher runs first */
	enum cat_task_state state;
	bool		 cancel;	/* cancel asked while running */
	uint32_t	 attempts;	/* runs started */
	uint32_t	 max_attempts;	/* runs allowed before failing */
	int64_t		 created;	/* ms since the epoch */
	int64_t		 started;	/* last run began, 0 never */
	int64_t		 finished;	/* done, failed or canceled; 0 */
	int64_t		 next_run;	/* not claimed before this */
	uint64_t	 epoch;		/* bumped at every claim and takeback */
	int64_t		 lease_expires;	/* while running */
	char		 owner[CAT_TASK_OWNER_MAX + 1];	/* "" unleased */
	/* The last failure, kept after a retry (and a later success). */
	char		 error[CAT_TASK_ERROR_MAX + 1];
	char		 arg[CAT_TASK_ARG_MAX + 1];	/* e.g. upstream URL */
};

/* What a new task is; the rest is set by cat_task_add. */
struct cat_task_new {
	enum cat_task_kind kind;
	const char	*tree;		/* a tree name, or "" node-wide */
	int32_t		 priority;
	uint32_t	 max_attempts;	/* 0: CAT_TASK_ATTEMPTS_DEFAULT */
	const char	*arg;		/* NULL or at most CAT_TASK_ARG_MAX */
	int64_t		 not_before;	/* first run at or after, ms; 0 now */
};
#define CAT_TASK_ATTEMPTS_DEFAULT	5

/* How a run ended, for cat_task_finish. */
enum cat_task_end {
	CAT_END_DONE,		/* done */
	CAT_END_FAILED,		/* retried at retry_at, or failed if it
				 * has had max_attempts runs */
	CAT_END_FINAL,		/* failed, no retry can help */
	CAT_END_REQUEUE,	/* interrupted (a clean stop): queued again,
				 * the run not counted */
	CAT_END_CANCELED,
};

/* "import", "sync"... and "queued", "running"...; never NULL. */
const char *cat_task_kind_name(enum cat_task_kind);
const char *cat_task_state_name(enum cat_task_state);
/* Parse a kind name: PD_ERR_USAGE naming it if unknown. */
enum pd_err cat_task_kind_parse(const char *, enum cat_task_kind *,
	    struct pd_error *) PD_WARN_UNUSED;

/* Now by clock c (NULL: the real clock), in ms since the epoch. */
int64_t	cat_clock_now(const struct cat_clock *c);

/*
 * Delay before the run after a failed attempt number attempts (1 for
 * the first run): base * 2^(attempts - 1), at most cap, with "equal
 * jitter": half of it fixed, the other half scaled by rnd / 2^32, so
 * retries of tasks that failed together spread out.  Pure.
 */
int64_t	cat_task_backoff(uint32_t attempts, int64_t base, int64_t cap,
	    uint32_t rnd);

/*
 * Add a task, queued, with the next id; its record in *out if not NULL.
 * Errors: PD_ERR_USAGE (bad kind, tree name, too long an argument, too
 * many attempts), PD_ERR_LIMIT (CAT_TASK_ACTIVE_MAX tasks active: the
 * node is overloaded), PD_ERR_DB.
 */
enum pd_err cat_task_add(struct cat_txn *, const struct cat_task_new *,
	    int64_t now, struct cat_task *out, struct pd_error *)
	    PD_WARN_UNUSED;
/* One task; PD_ERR_NOTFOUND naming the id, PD_ERR_CORRUPT. */
enum pd_err cat_task_get(struct cat_txn *, uint64_t id, struct cat_task *,
	    struct pd_error *) PD_WARN_UNUSED;
/*
 * Up to limit tasks, newest first, of tree (NULL: of every tree), in a
 * new array the caller frees with pd_free (NULL when none).
 */
enum pd_err cat_task_list(struct cat_txn *, const char *tree, size_t limit,
	    struct cat_task **, size_t *n, struct pd_error *) PD_WARN_UNUSED;

/*
 * Claim the best runnable task for owner: queued, next_run due, its
 * tree with no task running, highest priority first, then oldest.  It
 * becomes running with attempts + 1, a new epoch and a lease until now
 * + lease_ms.  A running task whose lease has expired is taken back
 * first (queued, epoch bumped: its worker has lost it).  When no task
 * is runnable: PD_ERR_NOTFOUND, and *next_due (if not NULL) is when the
 * earliest queued task becomes due (INT64_MAX if none waits only for
 * time).  busy, if not NULL, is asked whether a tree may not be claimed
 * for reasons of the caller's (arg is busy_arg).  Commit the transaction
 * after PD_ERR_NOTFOUND too: the leases taken back are written.
 * PD_ERR_USAGE for a lease_ms that is not positive.
 */
enum pd_err cat_task_claim(struct cat_txn *, const char *owner,
	    int64_t now, int64_t lease_ms,
	    bool (*busy)(void *busy_arg, const char *tree), void *busy_arg,
	    struct cat_task *out, int64_t *next_due, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * Extend the lease of a running task to now + lease_ms; *out is its
 * record (whose cancel says if a cancel was asked).  PD_ERR_CONFLICT if
 * the lease is no longer the caller's (another epoch, not running, or
 * expired and so maybe taken back).
 */
enum pd_err cat_task_renew(struct cat_txn *, const struct cat_lease *,
	    int64_t now, int64_t lease_ms, struct cat_task *out,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * For use inside the write transaction that commits a task's result
 * (the version of an import or a pull): PD_OK if lease l still holds
 * (the task is running with that epoch and its lease has not expired
 * by l->clock), else PD_ERR_CONFLICT saying why; the caller aborts.
 */
enum pd_err cat_task_lease_check(struct cat_txn *, const struct cat_lease *,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * End the run held by lease l as end says, error the text of a failure
 * (kept, cut at CAT_TASK_ERROR_MAX; NULL keeps the old one).  A run
 * that failed is queued again for retry_at while it has runs left.  A
 * cancel asked during the run turns a failure or a requeue into
 * canceled.  *out (if not NULL) is the record as left.  PD_ERR_CONFLICT
 * if the lease is stale (another epoch): nothing changes.
 */
enum pd_err cat_task_finish(struct cat_txn *, const struct cat_lease *l,
	    enum cat_task_end end, const char *error, int64_t now,
	    int64_t retry_at, struct cat_task *out, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * Cancel a task: a queued one is canceled at once; a running one gets
 * its cancel flag (its worker stops when it next looks: its renew or
 * finish sees it).  PD_ERR_NOTFOUND for an unknown id, PD_ERR_CONFLICT
 * for a task already finished (the text says how).
 */
enum pd_err cat_task_cancel(struct cat_txn *, uint64_t id, int64_t now,
	    struct cat_task *out, struct pd_error *) PD_WARN_UNUSED;

/*
 * After a crash: every task left running is queued again to resume at
 * now, with a new epoch (the dead worker's lease is void), its error
 * saying so; one with a cancel asked is canceled, one that has used
 * all its attempts fails (a task that kills the node every time must
 * not loop).  Only for the caller that holds cat_task_lock: no one else
 * may be running tasks.  *resumed counts the tasks queued again.
 */
enum pd_err cat_task_recover(struct cat_txn *, int64_t now,
	    unsigned *resumed, struct pd_error *) PD_WARN_UNUSED;

/* Drop the oldest finished tasks beyond the newest keep of them. */
enum pd_err cat_task_prune(struct cat_txn *, size_t keep,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * The lock that makes one process at a time the runner of a data
 * directory's tasks (DATA/locks/.tasks.lock; no tree name starts with a
 * dot).  PD_ERR_CONFLICT if another process holds it.  Release with
 * cat_unlock_tree(fd); the kernel releases it when the process dies.
 */
enum pd_err cat_task_lock(struct cat *, int *fd, struct pd_error *)
	    PD_WARN_UNUSED;

#endif
