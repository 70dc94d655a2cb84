/*
 * Leases of the task queue (tasks.h): claiming the best runnable task,
 * renewing, checking and ending a lease, and taking back what a dead
 * process left running.  The records are tasks.c's.
 *
 * A claim reads only the active tasks (taskq), twice: first to take
 * back expired leases and learn which trees are running, then to pick
 * the best queued task among the others.  Both passes and the claim's
 * write are one transaction, so two claimers never pick the same task
 * nor two tasks of one tree.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../common/mem.h"
#include "internal.h"
#include "tasks.h"

/*
 * Visit every active task in id order (oldest first) with fn, which may
 * change and store the record it is given.  Stops at the first error.
 */
static enum pd_err
each_active(struct cat_txn *t, enum pd_err (*fn)(struct cat_txn *,
    struct cat_task *, void *, struct pd_error *), void *arg,
    struct pd_error *err)
{
	struct cat_task task;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t id;
	enum pd_err e = PD_OK;
	int rc;

	if ((rc = mdb_cursor_open(t->txn, t->cat->taskq, &cur)) != 0)
		return cat_dberr(t->cat, rc, err, "reading task queue");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			e = pd_fail(err, PD_ERR_CORRUPT, "catalog %s: damaged "
			    "task queue key", t->cat->dir);
			break;
		}
		cat_be64_get(k.mv_data, &id);
		if ((e = cat_task_load(t, id, &task, err)) != PD_OK ||
		    (e = fn(t, &task, arg, err)) != PD_OK)
			break;
	}
	mdb_cursor_close(cur);
	if (e == PD_OK && rc != 0 && rc != MDB_NOTFOUND)
		e = cat_dberr(t->cat, rc, err, "reading task queue");
	return e;
}

/* What a claim learns in its two passes over the active tasks. */
struct claim {
	int64_t		 now;
	char		(*busy)[PR_TREE_NAME_MAX + 1];	/* trees running */
	size_t		 nbusy, capbusy;
	bool		(*ask)(void *, const char *);
	void		*ask_arg;
	bool		 found;
	struct cat_task	 best;
	int64_t		 next_due;
};

static bool
tree_busy(const struct claim *cl, const char *tree)
{
	size_t i;

	for (i = 0; i < cl->nbusy; i++)
		if (strcmp(cl->busy[i], tree) == 0)
			return true;
	return cl->ask != NULL && cl->ask(cl->ask_arg, tree);
}

/* Pass 1: take back expired leases; note the trees still running. */
static enum pd_err
claim_running(struct cat_txn *t, struct cat_task *task, void *arg,
    struct pd_error *err)
{
	struct claim *cl = arg;
	char why[CAT_TASK_ERROR_MAX + 1];
	void *nb;

	if (task->state != CAT_TASK_RUNNING)
		return PD_OK;
	if (task->lease_expires <= cl->now) {
		snprintf(why, sizeof(why), "lease of %s expired during "
		    "attempt %" PRIu32 ": taken back", task->owner,
		    task->attempts);
		cat_task_setstr(task->error, CAT_TASK_ERROR_MAX, why);
		task->state = task->cancel ? CAT_TASK_CANCELED :
		    CAT_TASK_QUEUED;
		if (task->cancel)
			task->finished = cl->now;
		task->epoch++;
		task->owner[0] = '\0';
		task->lease_expires = 0;
		task->next_run = cl->now;
		return cat_task_store(t, task, err);
	}
	if (cl->nbusy == cl->capbusy) {
		cl->capbusy = cl->capbusy ? cl->capbusy * 2 : 16;
		if ((nb = pd_reallocarray(cl->busy, cl->capbusy,
		    sizeof(*cl->busy))) == NULL)
			return pd_fail(err, PD_ERR_NOMEM, "claiming a task");
		cl->busy = nb;
	}
	memcpy(cl->busy[cl->nbusy++], task->tree, sizeof(task->tree));
	return PD_OK;
}

/* Pass 2: the best queued task whose tree is free and time has come. */
static enum pd_err
claim_queued(struct cat_txn *t, struct cat_task *task, void *arg,
    struct pd_error *err)
{
	struct claim *cl = arg;

	(void)t;
	(void)err;
	if (task->state != CAT_TASK_QUEUED || tree_busy(cl, task->tree))
		return PD_OK;
	if (task->next_run > cl->now) {
		if (task->next_run < cl->next_due)
			cl->next_due = task->next_run;
		return PD_OK;
	}
	/* Ids ascend: on equal priority the first seen is the oldest. */
	if (!cl->found || task->priority > cl->best.priority) {
		cl->best = *task;
		cl->found = true;
	}
	return PD_OK;
}

enum pd_err
cat_task_claim(struct cat_txn *t, const char *owner, int64_t now,
    int64_t lease_ms, bool (*busy)(void *, const char *), void *busy_arg,
    struct cat_task *out, int64_t *next_due, struct pd_error *err)
{
	struct claim cl;
	enum pd_err e;

	if (next_due != NULL)
		*next_due = INT64_MAX;
	if ((e = cat_task_need_write(t, err, "claiming a task")) != PD_OK)
		return e;
	if (lease_ms <= 0)
		return pd_fail(err, PD_ERR_USAGE, "a lease of %" PRId64 " ms",
		    lease_ms);
	if (strlen(owner) > CAT_TASK_OWNER_MAX)
		return pd_fail(err, PD_ERR_USAGE, "task owner name longer "
		    "than %d bytes", CAT_TASK_OWNER_MAX);
	memset(&cl, 0, sizeof(cl));
	cl.now = now;
	cl.ask = busy;
	cl.ask_arg = busy_arg;
	cl.next_due = INT64_MAX;
	if ((e = each_active(t, claim_running, &cl, err)) != PD_OK ||
	    (e = each_active(t, claim_queued, &cl, err)) != PD_OK)
		goto out;
	if (next_due != NULL)
		*next_due = cl.next_due;
	if (!cl.found) {
		e = pd_fail(err, PD_ERR_NOTFOUND, "no task to run");
		goto out;
	}
	cl.best.state = CAT_TASK_RUNNING;
	cl.best.attempts++;
	cl.best.epoch++;
	cl.best.started = now;
	cl.best.lease_expires = now + lease_ms;
	cat_task_setstr(cl.best.owner, CAT_TASK_OWNER_MAX, owner);
	if ((e = cat_task_store(t, &cl.best, err)) != PD_OK)
		goto out;
	*out = cl.best;
out:
	pd_free(cl.busy);
	return e;
}

/* The lease l as held in task: running, same epoch. */
static enum pd_err
held(struct cat_txn *t, const struct cat_lease *l, struct cat_task *task,
    struct pd_error *err)
{
	enum pd_err e;

	if ((e = cat_task_load(t, l->task, task, err)) != PD_OK)
		return e;
	if (task->epoch != l->epoch)
		return pd_fail(err, PD_ERR_CONFLICT, "task %" PRIu64 " (%s of "
		    "%s): lease epoch %" PRIu64 " is stale, the task is at "
		    "epoch %" PRIu64 ": a newer run owns it", l->task,
		    cat_task_kind_name(task->kind), task->tree, l->epoch,
		    task->epoch);
	if (task->state != CAT_TASK_RUNNING)
		return pd_fail(err, PD_ERR_CONFLICT, "task %" PRIu64 " (%s of "
		    "%s) is %s, not running", l->task,
		    cat_task_kind_name(task->kind), task->tree,
		    cat_task_state_name(task->state));
	return PD_OK;
}

static enum pd_err
unexpired(const struct cat_lease *l, const struct cat_task *task,
    int64_t now, struct pd_error *err)
{
	if (task->lease_expires <= now)
		return pd_fail(err, PD_ERR_CONFLICT, "task %" PRIu64 " (%s of "
		    "%s): lease of epoch %" PRIu64 " expired %" PRId64 " ms "
		    "ago", l->task, cat_task_kind_name(task->kind),
		    task->tree, l->epoch, now - task->lease_expires);
	return PD_OK;
}

enum pd_err
cat_task_renew(struct cat_txn *t, const struct cat_lease *l, int64_t now,
    int64_t lease_ms, struct cat_task *out, struct pd_error *err)
{
	struct cat_task task;
	enum pd_err e;

	if ((e = cat_task_need_write(t, err, "renewing a lease")) != PD_OK ||
	    (e = held(t, l, &task, err)) != PD_OK ||
	    (e = unexpired(l, &task, now, err)) != PD_OK)
		return e;
	task.lease_expires = now + lease_ms;
	if ((e = cat_task_store(t, &task, err)) != PD_OK)
		return e;
	if (out != NULL)
		*out = task;
	return PD_OK;
}

enum pd_err
cat_task_lease_check(struct cat_txn *t, const struct cat_lease *l,
    struct pd_error *err)
{
	struct cat_task task;
	enum pd_err e;

	if ((e = held(t, l, &task, err)) != PD_OK)
		return e == PD_ERR_NOTFOUND ? PD_ERR_CONFLICT : e;
	return unexpired(l, &task, cat_clock_now(l->clock), err);
}

enum pd_err
cat_task_finish(struct cat_txn *t, const struct cat_lease *l,
    enum cat_task_end end, const char *error, int64_t now, int64_t retry_at,
    struct cat_task *out, struct pd_error *err)
{
	struct cat_task task;
	enum pd_err e;

	if ((e = cat_task_need_write(t, err, "finishing a task")) != PD_OK ||
	    (e = held(t, l, &task, err)) != PD_OK)
		return e;
	if (error != NULL)
		cat_task_setstr(task.error, CAT_TASK_ERROR_MAX, error);
	if (task.cancel && end != CAT_END_DONE)
		end = CAT_END_CANCELED;
	task.owner[0] = '\0';
	task.lease_expires = 0;
	switch (end) {
	case CAT_END_DONE:
		task.state = CAT_TASK_DONE;
		break;
	case CAT_END_FAILED:
		if (task.attempts < task.max_attempts) {
			task.state = CAT_TASK_QUEUED;
			task.next_run = retry_at;
		} else
			task.state = CAT_TASK_FAILED;
		break;
	case CAT_END_FINAL:
		task.state = CAT_TASK_FAILED;
		break;
	case CAT_END_REQUEUE:
		task.state = CAT_TASK_QUEUED;
		task.next_run = now;
		task.epoch++;
		if (task.attempts > 0)
			task.attempts--;
		break;
	case CAT_END_CANCELED:
		task.state = CAT_TASK_CANCELED;
		break;
	}
	if (!cat_task_active(task.state))
		task.finished = now;
	if ((e = cat_task_store(t, &task, err)) != PD_OK)
		return e;
	if (out != NULL)
		*out = task;
	return PD_OK;
}

struct recover {
	int64_t		 now;
	unsigned	 resumed;
};

static enum pd_err
recover_one(struct cat_txn *t, struct cat_task *task, void *arg,
    struct pd_error *err)
{
	struct recover *r = arg;
	char why[CAT_TASK_ERROR_MAX + 1];

	if (task->state != CAT_TASK_RUNNING)
		return PD_OK;
	task->epoch++;
	task->lease_expires = 0;
	if (task->cancel) {
		task->state = CAT_TASK_CANCELED;
		task->finished = r->now;
	} else if (task->attempts >= task->max_attempts) {
		snprintf(why, sizeof(why), "%s died during attempt %" PRIu32
		    " of %" PRIu32 ": giving up", task->owner, task->attempts,
		    task->max_attempts);
		cat_task_setstr(task->error, CAT_TASK_ERROR_MAX, why);
		task->state = CAT_TASK_FAILED;
		task->finished = r->now;
	} else {
		snprintf(why, sizeof(why), "%s died during attempt %" PRIu32
		    ": resumed", task->owner, task->attempts);
		cat_task_setstr(task->error, CAT_TASK_ERROR_MAX, why);
		task->state = CAT_TASK_QUEUED;
		task->next_run = r->now;
		r->resumed++;
	}
	task->owner[0] = '\0';
	return cat_task_store(t, task, err);
}

enum pd_err
cat_task_recover(struct cat_txn *t, int64_t now, unsigned *resumed,
    struct pd_error *err)
{
	struct recover r = { now, 0 };
	enum pd_err e;

	*resumed = 0;
	if ((e = cat_task_need_write(t, err, "recovering tasks")) != PD_OK ||
	    (e = each_active(t, recover_one, &r, err)) != PD_OK)
		return e;
	*resumed = r.resumed;
	return PD_OK;
}

