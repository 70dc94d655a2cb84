/*
 * The task engine (engine.h).
 *
 * DESIGN: the catalog is the queue.  A worker claims a task in one
 * write transaction (cat_task_claim: best runnable, tree free, lease
 * taken), runs it with no lock held, and commits its outcome in another
 * (cat_task_finish, which a stale epoch cannot pass).  One mutex guards
 * the engine's memory: the runs in progress (whose trees a claim skips
 * too, so that a run whose lease was taken back is never doubled in
 * this process), the counters and a generation number bumped by every
 * event that may make a task runnable (submit, end of a run, kick).  A
 * worker that found nothing sleeps until the generation moves or the
 * earliest queued task is due.  The mutex is never held while a catalog
 * transaction begins; inside one it is taken briefly (the claim's busy
 * question), so the order is always transaction, then mutex.
 *
 * The keeper renews every run's lease each third of a lease, in one
 * transaction, and reads back each task's cancel flag.  An outcome the
 * catalog refuses to record leaves its task running under a lease that
 * nobody renews: it expires, and a later claim takes the task back.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/mem.h"
#include "engine.h"

/* The longest sleep of an idle worker, whatever it waits for. */
#define IDLE_MAX_MS	30000

struct nd_task_ctx {
	struct nd_engine *eng;
	struct cat_task	 task;		/* as claimed */
	struct cat_lease lease;
	atomic_bool	 cancel;	/* asked to cancel */
	atomic_bool	 stop;		/* the engine is stopping */
	atomic_bool	 lost;		/* the lease is gone */
	struct nd_task_ctx *next;	/* in eng->running */
};

struct handler {
	nd_task_fn	*fn;
	void		*arg;
};

struct nd_engine {
	struct cat	*cat;
	struct nd_engine_opts o;
	char		 owner[CAT_TASK_OWNER_MAX + 1];
	int		 lockfd;
	int		 evfd;
	struct handler	 handlers[CAT_TASK_KINDS + 1];

	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* gen moved, or stopping */
	pthread_cond_t	 keeper_cv;	/* stopping, for the keeper */
	uint64_t	 gen;
	bool		 started;
	bool		 stopping;
	struct nd_task_ctx *running;
	struct nd_engine_stats st;
	uint32_t	 seed;		/* default random source */

	pthread_t	*threads;
	unsigned	 nthreads;
	pthread_t	 keeper;
	bool		 has_keeper;
};

static int64_t
now_ms(const struct nd_engine *e)
{
	return cat_clock_now(e->o.clock);
}

/* Wake sleeping workers: something may have become runnable. */
static void
bump(struct nd_engine *e)
{
	pthread_mutex_lock(&e->mu);
	e->gen++;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

static uint32_t
random32(struct nd_engine *e)
{
	uint32_t x;

	if (e->o.rand != NULL)
		return e->o.rand(e->o.rand_arg);
	/* xorshift32: jitter needs spread, not secrecy. */
	pthread_mutex_lock(&e->mu);
	x = e->seed;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	e->seed = x;
	pthread_mutex_unlock(&e->mu);
	return x;
}

/* Deadline for pthread_cond_timedwait on CLOCK_MONOTONIC, ms ahead. */
static struct timespec
deadline(int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* The claim's question: is a run of this tree still in this process? */
static bool
tree_running(void *arg, const char *tree)
{
	struct nd_engine *e = arg;
	struct nd_task_ctx *c;
	bool busy = false;

	pthread_mutex_lock(&e->mu);
	for (c = e->running; c != NULL && !busy; c = c->next)
		busy = strcmp(c->task.tree, tree) == 0;
	pthread_mutex_unlock(&e->mu);
	return busy;
}

static enum pd_err
claim(struct nd_engine *e, struct cat_task *task, int64_t *due,
    struct pd_error *err)
{
	struct cat_txn *t;
	enum pd_err rc;

	if ((rc = cat_begin(e->cat, true, &t, err)) != PD_OK)
		return rc;
	rc = cat_task_claim(t, e->owner, now_ms(e), e->o.lease_ms,
	    tree_running, e, task, due, err);
	if (rc != PD_OK && rc != PD_ERR_NOTFOUND) {
		cat_abort(t);
		return rc;
	}
	/* Even with nothing to run: leases taken back are kept. */
	if (cat_commit(t, rc == PD_OK ? err : NULL) != PD_OK && rc == PD_OK)
		return PD_ERR_DB;
	return rc;
}

/* How the run ended, as cat_task_finish takes it. */
static enum cat_task_end
outcome(struct nd_task_ctx *c, enum pd_err rc)
{
	if (rc == PD_OK)
		return CAT_END_DONE;
	if (atomic_load(&c->cancel))
		return CAT_END_CANCELED;
	if (atomic_load(&c->stop) && !atomic_load(&c->lost))
		return CAT_END_REQUEUE;
	if (rc == PD_ERR_USAGE)
		return CAT_END_FINAL;
	return CAT_END_FAILED;
}

static enum pd_err
finish(struct nd_engine *e, struct nd_task_ctx *c, enum cat_task_end end,
    const char *error, struct cat_task *out, struct pd_error *err)
{
	struct cat_txn *t;
	int64_t now = now_ms(e), retry_at;
	enum pd_err rc;

	retry_at = now + cat_task_backoff(c->task.attempts, e->o.backoff_ms,
	    e->o.backoff_max_ms, random32(e));
	if ((rc = cat_begin(e->cat, true, &t, err)) != PD_OK)
		return rc;
	if ((rc = cat_task_finish(t, &c->lease, end, error, now, retry_at,
	    out, err)) != PD_OK ||
	    (rc = cat_task_prune(t, e->o.history, err)) != PD_OK) {
		cat_abort(t);
		return rc;
	}
	return cat_commit(t, err);
}

/* Count what the run came to; under e->mu. */
static void
count(struct nd_engine *e, enum cat_task_end end, const struct cat_task *t)
{
	switch (end) {
	case CAT_END_DONE:
		e->st.done++;
		break;
	case CAT_END_FAILED:
	case CAT_END_FINAL:
		e->st.failures++;
		break;
	case CAT_END_REQUEUE:
		e->st.requeued++;
		break;
	case CAT_END_CANCELED:
		break;
	}
	if (t->state == CAT_TASK_QUEUED && end == CAT_END_FAILED)
		e->st.retries++;
	else if (t->state == CAT_TASK_FAILED)
		e->st.failed++;
	else if (t->state == CAT_TASK_CANCELED)
		e->st.canceled++;
}

static void
run_one(struct nd_engine *e, struct nd_task_ctx *c)
{
	struct handler *h = &e->handlers[c->task.kind];
	struct pd_error err = { 0 }, ferr = { 0 };
	struct cat_task after;
	struct nd_task_ctx **pp;
	enum cat_task_end end;
	enum pd_err rc, frc;
	uint64_t one = 1;
	ssize_t w;

	if (h->fn == NULL)
		rc = pd_fail(&err, PD_ERR_USAGE, "this node runs no %s tasks",
		    cat_task_kind_name(c->task.kind));
	else
		rc = h->fn(h->arg, &c->task, c, &err);
	if (rc != PD_OK && err.code == PD_OK)
		pd_fail(&err, rc, "%s of %s: %s", cat_task_kind_name(
		    c->task.kind), c->task.tree, pd_strerror(rc));
	end = outcome(c, rc);
	frc = finish(e, c, end, rc == PD_OK || end == CAT_END_REQUEUE ?
	    NULL : err.msg, &after, &ferr);

	pthread_mutex_lock(&e->mu);
	for (pp = &e->running; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	e->st.running--;
	if (frc == PD_ERR_CONFLICT || atomic_load(&c->lost))
		e->st.lost++;
	if (frc == PD_OK)
		count(e, end, &after);
	else if (frc != PD_ERR_CONFLICT)
		e->st.db_errors++;
	e->gen++;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);

	if (frc == PD_OK) {
		if (e->o.done != NULL)
			e->o.done(e->o.done_arg, &after);
		/* Fails only when the count is full: still readable. */
		w = write(e->evfd, &one, sizeof(one));
		(void)w;
	}
}

static void *
worker(void *arg)
{
	struct nd_engine *e = arg;
	struct nd_task_ctx *c;
	struct pd_error err;
	struct timespec ts;
	uint64_t gen;
	int64_t due, wait;
	enum pd_err rc;

	for (;;) {
		pthread_mutex_lock(&e->mu);
		if (e->stopping) {
			pthread_mutex_unlock(&e->mu);
			return NULL;
		}
		gen = e->gen;
		pthread_mutex_unlock(&e->mu);

		if ((c = pd_calloc(1, sizeof(*c))) == NULL)
			rc = PD_ERR_NOMEM;
		else {
			pd_error_clear(&err);
			rc = claim(e, &c->task, &due, &err);
		}
		if (rc == PD_OK) {
			c->eng = e;
			c->lease.task = c->task.id;
			c->lease.epoch = c->task.epoch;
			c->lease.clock = e->o.clock;
			pthread_mutex_lock(&e->mu);
			c->stop = e->stopping;
			c->next = e->running;
			e->running = c;
			e->st.running++;
			e->st.runs++;
			pthread_mutex_unlock(&e->mu);
			run_one(e, c);
			pd_free(c);
			continue;
		}
		pd_free(c);
		/* Nothing to run (or the catalog failed: try again later). */
		wait = IDLE_MAX_MS;
		if (rc == PD_ERR_NOTFOUND && due != INT64_MAX) {
			wait = due - now_ms(e);
			if (wait < 1)
				wait = 1;
			if (wait > IDLE_MAX_MS)
				wait = IDLE_MAX_MS;
		} else if (rc != PD_ERR_NOTFOUND)
			wait = 1000;
		ts = deadline(wait);
		pthread_mutex_lock(&e->mu);
		while (!e->stopping && e->gen == gen)
			if (pthread_cond_timedwait(&e->cv, &e->mu, &ts) ==
			    ETIMEDOUT)
				break;
		pthread_mutex_unlock(&e->mu);
	}
}

/* Renew every run's lease; learn of cancels and of lost leases. */
static void
renew_all(struct nd_engine *e)
{
	struct nd_task_ctx *c;
	struct cat_lease *ls = NULL;
	struct cat_task rec;
	struct pd_error err;
	struct cat_txn *t;
	size_t n = 0, i;
	enum pd_err rc;
	int64_t now;

	pthread_mutex_lock(&e->mu);
	for (c = e->running; c != NULL; c = c->next)
		n++;
	if (n > 0 && (ls = pd_calloc(n, sizeof(*ls))) != NULL)
		for (i = 0, c = e->running; c != NULL; c = c->next)
			ls[i++] = c->lease;
	pthread_mutex_unlock(&e->mu);
	if (ls == NULL || cat_begin(e->cat, true, &t, NULL) != PD_OK) {
		pd_free(ls);
		return;
	}
	now = now_ms(e);
	for (i = 0; i < n; i++) {
		pd_error_clear(&err);
		rc = cat_task_renew(t, &ls[i], now, e->o.lease_ms, &rec, &err);
		if (rc != PD_OK && rc != PD_ERR_CONFLICT)
			break;
		pthread_mutex_lock(&e->mu);
		for (c = e->running; c != NULL; c = c->next) {
			if (c->lease.task != ls[i].task ||
			    c->lease.epoch != ls[i].epoch)
				continue;
			if (rc == PD_ERR_CONFLICT)
				atomic_store(&c->lost, true);
			else if (rec.cancel)
				atomic_store(&c->cancel, true);
		}
		pthread_mutex_unlock(&e->mu);
	}
	if (i < n || cat_commit(t, NULL) != PD_OK) {
		if (i < n)
			cat_abort(t);
		pthread_mutex_lock(&e->mu);
		e->st.db_errors++;
		pthread_mutex_unlock(&e->mu);
	}
	pd_free(ls);
}

static void *
keeper(void *arg)
{
	struct nd_engine *e = arg;
	struct timespec ts;
	int64_t period = e->o.lease_ms / 3;

	if (period < 1)
		period = 1;
	pthread_mutex_lock(&e->mu);
	while (!e->stopping) {
		ts = deadline(period);
		if (pthread_cond_timedwait(&e->keeper_cv, &e->mu, &ts) !=
		    ETIMEDOUT || e->stopping)
			continue;
		pthread_mutex_unlock(&e->mu);
		renew_all(e);
		pthread_mutex_lock(&e->mu);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

static enum pd_err
recover(struct nd_engine *e, struct pd_error *err)
{
	struct cat_txn *t;
	unsigned resumed;
	enum pd_err rc;

	if ((rc = cat_begin(e->cat, true, &t, err)) != PD_OK)
		return rc;
	if ((rc = cat_task_recover(t, now_ms(e), &resumed, err)) != PD_OK) {
		cat_abort(t);
		return rc;
	}
	if ((rc = cat_commit(t, err)) == PD_OK)
		e->st.resumed = resumed;
	return rc;
}

enum pd_err
nd_engine_new(struct cat *cat, const struct nd_engine_opts *o,
    struct nd_engine **out, struct pd_error *err)
{
	struct nd_engine *e;
	pthread_condattr_t ca;
	enum pd_err rc;

	*out = NULL;
	if ((e = pd_calloc(1, sizeof(*e))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "task engine");
	e->cat = cat;
	e->lockfd = e->evfd = -1;
	if (o != NULL)
		e->o = *o;
	if (e->o.workers == 0)
		e->o.workers = ND_ENGINE_WORKERS;
	if (e->o.lease_ms <= 0)
		e->o.lease_ms = ND_ENGINE_LEASE_MS;
	if (e->o.backoff_ms <= 0)
		e->o.backoff_ms = ND_ENGINE_BACKOFF_MS;
	if (e->o.backoff_max_ms <= 0)
		e->o.backoff_max_ms = ND_ENGINE_BACKOFF_MAX;
	if (e->o.history == 0)
		e->o.history = ND_ENGINE_HISTORY;
	if (e->o.owner != NULL && strlen(e->o.owner) > CAT_TASK_OWNER_MAX) {
		pd_free(e);
		return pd_fail(err, PD_ERR_USAGE, "task owner name longer "
		    "than %d bytes", CAT_TASK_OWNER_MAX);
	}
	if (e->o.owner != NULL)
		snprintf(e->owner, sizeof(e->owner), "%s", e->o.owner);
	else
		snprintf(e->owner, sizeof(e->owner), "pid %ld",
		    (long)getpid());
	e->o.owner = NULL;
	e->seed = ((uint32_t)getpid() * 2654435761u ^
	    (uint32_t)cat_clock_now(NULL)) | 1;
	pthread_mutex_init(&e->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cv, &ca);
	pthread_cond_init(&e->keeper_cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((e->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		rc = pd_fail_errno(err, PD_ERR_IO, errno, "task engine: "
		    "eventfd");
		goto fail;
	}
	if ((rc = cat_task_lock(cat, &e->lockfd, err)) != PD_OK ||
	    (rc = recover(e, err)) != PD_OK)
		goto fail;
	*out = e;
	return PD_OK;
fail:
	nd_engine_free(e);
	return rc;
}

enum pd_err
nd_engine_register(struct nd_engine *e, enum cat_task_kind kind,
    nd_task_fn *fn, void *arg, struct pd_error *err)
{
	if ((unsigned)kind < 1 || (unsigned)kind > CAT_TASK_KINDS)
		return pd_fail(err, PD_ERR_USAGE, "task kind %d unknown",
		    (int)kind);
	if (e->started)
		return pd_fail(err, PD_ERR_USAGE, "task engine started: too "
		    "late to register %s tasks", cat_task_kind_name(kind));
	e->handlers[kind].fn = fn;
	e->handlers[kind].arg = arg;
	return PD_OK;
}

enum pd_err
nd_engine_start(struct nd_engine *e, struct pd_error *err)
{
	unsigned i;
	int rc;

	if (e->started)
		return pd_fail(err, PD_ERR_USAGE, "task engine already "
		    "started");
	if ((e->threads = pd_calloc(e->o.workers, sizeof(*e->threads))) ==
	    NULL)
		return pd_fail(err, PD_ERR_NOMEM, "task engine");
	e->started = true;
	for (i = 0; i < e->o.workers; i++) {
		if ((rc = pthread_create(&e->threads[i], NULL, worker, e)) !=
		    0) {
			nd_engine_stop(e);
			return pd_fail_errno(err, PD_ERR_IO, rc, "task engine: "
			    "starting worker %u", i);
		}
		e->nthreads++;
	}
	if ((rc = pthread_create(&e->keeper, NULL, keeper, e)) != 0) {
		nd_engine_stop(e);
		return pd_fail_errno(err, PD_ERR_IO, rc, "task engine: "
		    "starting its keeper");
	}
	e->has_keeper = true;
	return PD_OK;
}

enum pd_err
nd_engine_submit(struct nd_engine *e, const struct cat_task_new *n,
    struct cat_task *out, struct pd_error *err)
{
	struct cat_txn *t;
	enum pd_err rc;

	if ((rc = cat_begin(e->cat, true, &t, err)) != PD_OK)
		return rc;
	if ((rc = cat_task_add(t, n, now_ms(e), out, err)) != PD_OK) {
		cat_abort(t);
		return rc;
	}
	if ((rc = cat_commit(t, err)) == PD_OK)
		bump(e);
	return rc;
}

enum pd_err
nd_engine_cancel(struct nd_engine *e, uint64_t id, struct cat_task *out,
    struct pd_error *err)
{
	struct nd_task_ctx *c;
	struct cat_task rec;
	struct cat_txn *t;
	enum pd_err rc;

	if ((rc = cat_begin(e->cat, true, &t, err)) != PD_OK)
		return rc;
	if ((rc = cat_task_cancel(t, id, now_ms(e), &rec, err)) != PD_OK) {
		cat_abort(t);
		return rc;
	}
	if ((rc = cat_commit(t, err)) != PD_OK)
		return rc;
	pthread_mutex_lock(&e->mu);
	if (rec.state == CAT_TASK_CANCELED)
		e->st.canceled++;
	for (c = e->running; c != NULL; c = c->next)
		if (c->task.id == id)
			atomic_store(&c->cancel, true);
	pthread_mutex_unlock(&e->mu);
	if (out != NULL)
		*out = rec;
	return PD_OK;
}

enum pd_err
nd_engine_list(struct nd_engine *e, const char *tree, size_t limit,
    struct cat_task **out, size_t *n, struct pd_error *err)
{
	struct cat_txn *t;
	enum pd_err rc;

	*out = NULL;
	*n = 0;
	if ((rc = cat_begin(e->cat, false, &t, err)) != PD_OK)
		return rc;
	rc = cat_task_list(t, tree, limit, out, n, err);
	cat_abort(t);
	return rc;
}

enum pd_err
nd_engine_get(struct nd_engine *e, uint64_t id, struct cat_task *out,
    struct pd_error *err)
{
	struct cat_txn *t;
	enum pd_err rc;

	if ((rc = cat_begin(e->cat, false, &t, err)) != PD_OK)
		return rc;
	rc = cat_task_get(t, id, out, err);
	cat_abort(t);
	return rc;
}

void
nd_engine_kick(struct nd_engine *e)
{
	bump(e);
}

int
nd_engine_fd(const struct nd_engine *e)
{
	return e->evfd;
}

void
nd_engine_stats(struct nd_engine *e, struct nd_engine_stats *st)
{
	pthread_mutex_lock(&e->mu);
	*st = e->st;
	pthread_mutex_unlock(&e->mu);
}

void
nd_engine_stop(struct nd_engine *e)
{
	struct nd_task_ctx *c;
	unsigned i;

	pthread_mutex_lock(&e->mu);
	e->stopping = true;
	for (c = e->running; c != NULL; c = c->next)
		atomic_store(&c->stop, true);
	pthread_cond_broadcast(&e->cv);
	pthread_cond_broadcast(&e->keeper_cv);
	pthread_mutex_unlock(&e->mu);
	for (i = 0; i < e->nthreads; i++)
		pthread_join(e->threads[i], NULL);
	e->nthreads = 0;
	if (e->has_keeper)
		pthread_join(e->keeper, NULL);
	e->has_keeper = false;
}

void
nd_engine_free(struct nd_engine *e)
{
	if (e == NULL)
		return;
	nd_engine_stop(e);
	pd_free(e->threads);
	if (e->evfd >= 0)
		close(e->evfd);
	cat_unlock_tree(e->lockfd);
	pthread_cond_destroy(&e->cv);
	pthread_cond_destroy(&e->keeper_cv);
	pthread_mutex_destroy(&e->mu);
	pd_free(e);
}

bool
nd_task_stopping(struct nd_task_ctx *c)
{
	return atomic_load(&c->cancel) || atomic_load(&c->stop) ||
	    atomic_load(&c->lost);
}

enum pd_err
nd_task_heartbeat(struct nd_task_ctx *c, struct pd_error *err)
{
	struct nd_engine *e = c->eng;
	struct cat_task rec;
	struct cat_txn *t;
	enum pd_err rc;

	if ((rc = cat_begin(e->cat, true, &t, err)) != PD_OK)
		return rc;
	rc = cat_task_renew(t, &c->lease, now_ms(e), e->o.lease_ms, &rec,
	    err);
	if (rc != PD_OK) {
		cat_abort(t);
		if (rc == PD_ERR_CONFLICT)
			atomic_store(&c->lost, true);
		return rc;
	}
	if ((rc = cat_commit(t, err)) == PD_OK && rec.cancel)
		atomic_store(&c->cancel, true);
	return rc;
}

const struct cat_lease *
nd_task_lease(const struct nd_task_ctx *c)
{
	return &c->lease;
}
