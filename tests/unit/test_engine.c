/*
 * Unit tests of node/engine.c: the worker pool running durable tasks.
 *
 * No test measures time.  Overlap is forced with condition variables
 * (a run waits, boundedly, for another to be in flight), retries are
 * driven by a fake clock the test moves, and waits for the engine are
 * bounded only so that a broken engine fails the test instead of
 * hanging it.  Runs that lose their lease, and a kill -9 mid-task, are
 * test_lease.c's.
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../catalog/catalog.h"
#include "../../catalog/tasks.h"
#include "../../common/mem.h"
#include "../../node/engine.h"
#include "unit.h"

/* Past this, a wait for the engine is a failure (never a measure). */
#define GIVE_UP_MS	60000

/* Ends of runs, counted by the done callback. */
static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	unsigned	 ends;
} ev = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };

static void
on_done(void *arg, const struct cat_task *t)
{
	(void)arg;
	(void)t;
	pthread_mutex_lock(&ev.mu);
	ev.ends++;
	pthread_cond_broadcast(&ev.cv);
	pthread_mutex_unlock(&ev.mu);
}

static struct timespec
after_ms(int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* Wait until n runs have ended in all; false if the engine never got
 * there. */
static bool
wait_ends(unsigned n)
{
	struct timespec ts = after_ms(GIVE_UP_MS);
	bool ok;

	pthread_mutex_lock(&ev.mu);
	while (ev.ends < n)
		if (pthread_cond_timedwait(&ev.cv, &ev.mu, &ts) == ETIMEDOUT)
			break;
	ok = ev.ends >= n;
	pthread_mutex_unlock(&ev.mu);
	return ok;
}

static void
reset_ends(void)
{
	pthread_mutex_lock(&ev.mu);
	ev.ends = 0;
	pthread_mutex_unlock(&ev.mu);
}

static struct cat *
new_cat(char **tmp, char *data, size_t len)
{
	struct cat *c = NULL;

	*tmp = unit_tmpdir();
	unit_pjoin(data, len, *tmp, "data");
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_CREATE, &c, NULL), PD_OK);
	return c;
}

static struct nd_engine *
new_engine(struct cat *c, struct nd_engine_opts *o)
{
	struct nd_engine *e = NULL;

	reset_ends();
	o->done = on_done;
	CU_ASSERT_EQUAL_FATAL(nd_engine_new(c, o, &e, NULL), PD_OK);
	return e;
}

static uint64_t
submit(struct nd_engine *e, enum cat_task_kind kind, const char *tree,
    int32_t prio, uint32_t max_attempts)
{
	struct cat_task_new n = { kind, tree, prio, max_attempts, NULL, 0 };
	struct cat_task t;

	CU_ASSERT_EQUAL_FATAL(nd_engine_submit(e, &n, &t, NULL), PD_OK);
	return t.id;
}

static struct cat_task
get(struct nd_engine *e, uint64_t id)
{
	struct cat_task t;

	memset(&t, 0, sizeof(t));
	CU_ASSERT_EQUAL(nd_engine_get(e, id, &t, NULL), PD_OK);
	return t;
}

/* The flood: one hot tree, four others, many submitters at once. */

#define NTREES		5
#define HOT_TASKS	24
#define OTHER_TASKS	6
#define SUBMITTERS	6
#define FLOOD_TOTAL	(HOT_TASKS + (NTREES - 1) * OTHER_TASKS)

static const char *const flood_trees[NTREES] = {
	"hot", "t1", "t2", "t3", "t4",
};

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 inflight;
	int		 max_inflight;
	unsigned	 entries;	/* runs started */
	int		 per_tree[NTREES];
	int		 max_per_tree[NTREES];
	int		 ran[NTREES];
	struct nd_engine *eng;
	atomic_int	 next;		/* submissions handed out */
	atomic_int	 submit_errors;
} fl;

static int
tree_index(const char *tree)
{
	int i;

	for (i = 0; i < NTREES; i++)
		if (strcmp(flood_trees[i], tree) == 0)
			return i;
	return -1;
}

static enum pd_err
flood_run(void *arg, const struct cat_task *t, struct nd_task_ctx *ctx,
    struct pd_error *err)
{
	struct timespec ts;
	int i = tree_index(t->tree);
	unsigned mine;

	(void)arg;
	(void)ctx;
	if (i < 0)
		return pd_fail(err, PD_ERR_USAGE, "unknown tree %s", t->tree);
	pthread_mutex_lock(&fl.mu);
	if (++fl.per_tree[i] > fl.max_per_tree[i])
		fl.max_per_tree[i] = fl.per_tree[i];
	if (++fl.inflight > fl.max_inflight)
		fl.max_inflight = fl.inflight;
	pthread_cond_broadcast(&fl.cv);
	/* Stay in until another run starts: long while none has been
	 * seen yet, briefly after; a second run of the same tree would
	 * show up here. */
	mine = ++fl.entries;
	ts = after_ms(fl.max_inflight < 2 ? 5000 : 5);
	while (fl.entries == mine)
		if (pthread_cond_timedwait(&fl.cv, &fl.mu, &ts) == ETIMEDOUT)
			break;
	fl.per_tree[i]--;
	fl.inflight--;
	fl.ran[i]++;
	pthread_mutex_unlock(&fl.mu);
	return PD_OK;
}

static void *
flood_submitter(void *arg)
{
	struct cat_task_new n = { CAT_TASK_SYNC, NULL, 0, 0, NULL, 0 };
	int k;

	(void)arg;
	while ((k = atomic_fetch_add(&fl.next, 1)) < FLOOD_TOTAL) {
		/* Every fifth submission is for another tree, in turn. */
		if (k % 5 == 4 || k >= HOT_TASKS + HOT_TASKS / 4)
			n.tree = flood_trees[1 + k % (NTREES - 1)];
		else
			n.tree = "hot";
		if (nd_engine_submit(fl.eng, &n, NULL, NULL) != PD_OK)
			atomic_fetch_add(&fl.submit_errors, 1);
	}
	return NULL;
}

static void
test_flood(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct nd_engine_opts o = { 0 };
	struct nd_engine_stats st;
	struct cat_task *list;
	pthread_t th[SUBMITTERS];
	int i, per[NTREES] = { 0 };
	size_t n, j;

	memset(&fl, 0, sizeof(fl));
	pthread_mutex_init(&fl.mu, NULL);
	pthread_cond_init(&fl.cv, NULL);
	o.workers = 4;
	fl.eng = new_engine(c, &o);
	CU_ASSERT_EQUAL(nd_engine_register(fl.eng, CAT_TASK_SYNC, flood_run,
	    NULL, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_engine_start(fl.eng, NULL), PD_OK);
	for (i = 0; i < SUBMITTERS; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL,
		    flood_submitter, NULL), 0);
	for (i = 0; i < SUBMITTERS; i++)
		pthread_join(th[i], NULL);
	CU_ASSERT_EQUAL(atomic_load(&fl.submit_errors), 0);
	CU_ASSERT_TRUE(wait_ends(FLOOD_TOTAL));

	/* Never two runs of one tree; runs of different trees at once. */
	for (i = 0; i < NTREES; i++)
		CU_ASSERT_EQUAL(fl.max_per_tree[i], 1);
	CU_ASSERT(fl.max_inflight >= 2);
	CU_ASSERT(fl.max_inflight <= 4);
	nd_engine_stats(fl.eng, &st);
	CU_ASSERT_EQUAL(st.runs, FLOOD_TOTAL);
	CU_ASSERT_EQUAL(st.done, FLOOD_TOTAL);
	CU_ASSERT_EQUAL(st.failures, 0);
	CU_ASSERT_EQUAL(nd_engine_list(fl.eng, NULL, 1000, &list, &n, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL(n, FLOOD_TOTAL);
	for (j = 0; j < n; j++) {
		CU_ASSERT_EQUAL(list[j].state, CAT_TASK_DONE);
		CU_ASSERT_EQUAL(list[j].attempts, 1);
		if ((i = tree_index(list[j].tree)) >= 0)
			per[i]++;
	}
	pd_free(list);
	for (i = 0; i < NTREES; i++)
		CU_ASSERT_EQUAL(fl.ran[i], per[i]);
	nd_engine_free(fl.eng);
	pthread_cond_destroy(&fl.cv);
	pthread_mutex_destroy(&fl.mu);
	cat_close(c);
	unit_rmdir(tmp);
}

/* The order runs start in, for the priority test. */
static struct {
	pthread_mutex_t	 mu;
	char		 order[16][PR_TREE_NAME_MAX + 1];
	unsigned	 n;
} seen = { PTHREAD_MUTEX_INITIALIZER, { { 0 } }, 0 };

static enum pd_err
record_run(void *arg, const struct cat_task *t, struct nd_task_ctx *ctx,
    struct pd_error *err)
{
	(void)arg;
	(void)ctx;
	(void)err;
	pthread_mutex_lock(&seen.mu);
	if (seen.n < 16)
		snprintf(seen.order[seen.n++], sizeof(seen.order[0]), "%s",
		    t->tree);
	pthread_mutex_unlock(&seen.mu);
	return PD_OK;
}

static void
test_priority(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct nd_engine_opts o = { 0 };
	struct nd_engine *e;

	o.workers = 1;
	e = new_engine(c, &o);
	seen.n = 0;
	submit(e, CAT_TASK_SYNC, "low-a", 0, 0);
	submit(e, CAT_TASK_SYNC, "low-b", 0, 0);
	submit(e, CAT_TASK_CLEAN, "low-c", -5, 0);
	submit(e, CAT_TASK_SYNC, "high", 10, 0);
	CU_ASSERT_EQUAL(nd_engine_register(e, CAT_TASK_SYNC, record_run, NULL,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL(nd_engine_register(e, CAT_TASK_CLEAN, record_run,
	    NULL, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_engine_start(e, NULL), PD_OK);
	CU_ASSERT_EQUAL(nd_engine_register(e, CAT_TASK_DELTA, record_run,
	    NULL, NULL), PD_ERR_USAGE);
	CU_ASSERT_TRUE(wait_ends(4));
	CU_ASSERT_EQUAL_FATAL(seen.n, 4);
	CU_ASSERT_STRING_EQUAL(seen.order[0], "high");
	CU_ASSERT_STRING_EQUAL(seen.order[1], "low-a");
	CU_ASSERT_STRING_EQUAL(seen.order[2], "low-b");
	CU_ASSERT_STRING_EQUAL(seen.order[3], "low-c");
	nd_engine_free(e);
	cat_close(c);
	unit_rmdir(tmp);
}

/* A fake clock and a fixed random source, for the retry test. */
static _Atomic int64_t fake_now;

static int64_t
fake_clock(void *arg)
{
	(void)arg;
	return atomic_load(&fake_now);
}

static uint32_t
half_random(void *arg)
{
	(void)arg;
	return 1U << 31;
}

/* Fails its first two runs ("flaky"), every run ("broken"), or with a
 * usage error ("bad"). */
static atomic_int flaky_runs;

static enum pd_err
retry_run(void *arg, const struct cat_task *t, struct nd_task_ctx *ctx,
    struct pd_error *err)
{
	int n;

	(void)arg;
	(void)ctx;
	if (strcmp(t->tree, "bad") == 0)
		return pd_fail(err, PD_ERR_USAGE, "tree bad: no such upstream");
	if (strcmp(t->tree, "broken") == 0)
		return pd_fail(err, PD_ERR_IO, "upstream of broken refused");
	n = atomic_fetch_add(&flaky_runs, 1) + 1;
	if (n <= 2)
		return pd_fail(err, PD_ERR_IO, "boom %d", n);
	return PD_OK;
}

static void
test_retry(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_clock clk = { fake_clock, NULL };
	struct nd_engine_opts o = { 0 };
	struct nd_engine_stats st;
	struct nd_engine *e;
	struct cat_task t;
	uint64_t id, broken, bad;
	int64_t t0 = 1000000000;

	atomic_store(&fake_now, t0);
	atomic_store(&flaky_runs, 0);
	o.workers = 2;
	o.clock = &clk;
	o.rand = half_random;
	o.backoff_ms = 1000;
	o.backoff_max_ms = 60000;
	e = new_engine(c, &o);
	CU_ASSERT_EQUAL(nd_engine_register(e, CAT_TASK_SYNC, retry_run, NULL,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_engine_start(e, NULL), PD_OK);
	id = submit(e, CAT_TASK_SYNC, "flaky", 0, 5);
	CU_ASSERT_TRUE_FATAL(wait_ends(1));
	t = get(e, id);
	CU_ASSERT_EQUAL(t.state, CAT_TASK_QUEUED);
	CU_ASSERT_EQUAL(t.attempts, 1);
	CU_ASSERT_STRING_EQUAL(t.error, "boom 1");
	/* 1 s, half fixed, half jitter at one half: 750 ms. */
	CU_ASSERT_EQUAL(t.next_run, t0 + 750);
	CU_ASSERT_EQUAL(t.next_run, t0 + cat_task_backoff(1, 1000, 60000,
	    1U << 31));

	/* Not before its time, whatever wakes the workers. */
	atomic_store(&fake_now, t0 + 749);
	nd_engine_kick(e);
	atomic_store(&fake_now, t0 + 750);
	nd_engine_kick(e);
	CU_ASSERT_TRUE_FATAL(wait_ends(2));
	t = get(e, id);
	CU_ASSERT_EQUAL(t.state, CAT_TASK_QUEUED);
	CU_ASSERT_EQUAL(t.attempts, 2);
	CU_ASSERT_STRING_EQUAL(t.error, "boom 2");
	/* Twice as long the second time. */
	CU_ASSERT_EQUAL(t.next_run, t0 + 750 + 1500);
	atomic_store(&fake_now, t0 + 750 + 1500);
	nd_engine_kick(e);
	CU_ASSERT_TRUE_FATAL(wait_ends(3));
	t = get(e, id);
	CU_ASSERT_EQUAL(t.state, CAT_TASK_DONE);
	CU_ASSERT_EQUAL(t.attempts, 3);
	CU_ASSERT_STRING_EQUAL(t.error, "boom 2");
	CU_ASSERT_EQUAL(atomic_load(&flaky_runs), 3);

	/* Out of attempts: failed, the error visible. */
	broken = submit(e, CAT_TASK_SYNC, "broken", 0, 2);
	CU_ASSERT_TRUE_FATAL(wait_ends(4));
	atomic_store(&fake_now, get(e, broken).next_run);
	nd_engine_kick(e);
	CU_ASSERT_TRUE_FATAL(wait_ends(5));
	t = get(e, broken);
	CU_ASSERT_EQUAL(t.state, CAT_TASK_FAILED);
	CU_ASSERT_EQUAL(t.attempts, 2);
	CU_ASSERT_STRING_EQUAL(t.error, "upstream of broken refused");
	/* A usage error is not retried. */
	bad = submit(e, CAT_TASK_SYNC, "bad", 0, 5);
	CU_ASSERT_TRUE_FATAL(wait_ends(6));
	t = get(e, bad);
	CU_ASSERT(t.state == CAT_TASK_FAILED && t.attempts == 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(t.error, "no such upstream"));
	/* No function for a kind: it fails saying so. */
	id = submit(e, CAT_TASK_DELTA, "d", 0, 0);
	CU_ASSERT_TRUE_FATAL(wait_ends(7));
	t = get(e, id);
	CU_ASSERT_EQUAL(t.state, CAT_TASK_FAILED);
	CU_ASSERT_PTR_NOT_NULL(strstr(t.error, "no delta tasks"));
	nd_engine_stats(e, &st);
	CU_ASSERT_EQUAL(st.runs, 7);
	CU_ASSERT_EQUAL(st.done, 1);
	CU_ASSERT_EQUAL(st.failures, 6);
	CU_ASSERT_EQUAL(st.retries, 3);
	CU_ASSERT_EQUAL(st.failed, 3);
	nd_engine_free(e);
	cat_close(c);
	unit_rmdir(tmp);
}

/* A run that waits until it is told to stop. */
static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	unsigned	 entered;
	unsigned	 runs_of[8];
} blk = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, { 0 } };

static enum pd_err
block_run(void *arg, const struct cat_task *t, struct nd_task_ctx *ctx,
    struct pd_error *err)
{
	struct timespec ts;

	(void)arg;
	pthread_mutex_lock(&blk.mu);
	blk.entered++;
	if (t->id < 8)
		blk.runs_of[t->id]++;
	pthread_cond_broadcast(&blk.cv);
	/* Polls, as a long sync polls between its steps. */
	while (!nd_task_stopping(ctx)) {
		ts = after_ms(10);
		pthread_cond_timedwait(&blk.cv, &blk.mu, &ts);
	}
	pthread_mutex_unlock(&blk.mu);
	return pd_fail(err, PD_ERR_IO, "sync of %s stopped", t->tree);
}

static bool
wait_entered(unsigned n)
{
	struct timespec ts = after_ms(GIVE_UP_MS);
	bool ok;

	pthread_mutex_lock(&blk.mu);
	while (blk.entered < n)
		if (pthread_cond_timedwait(&blk.cv, &blk.mu, &ts) == ETIMEDOUT)
			break;
	ok = blk.entered >= n;
	pthread_mutex_unlock(&blk.mu);
	return ok;
}

static void
test_cancel(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct nd_engine_opts o = { 0 };
	struct nd_engine_stats st;
	struct nd_engine *e;
	struct cat_task t;
	struct pd_error err;
	uint64_t r, q;

	memset(blk.runs_of, 0, sizeof(blk.runs_of));
	blk.entered = 0;
	o.workers = 2;
	e = new_engine(c, &o);
	CU_ASSERT_EQUAL(nd_engine_register(e, CAT_TASK_SYNC, block_run, NULL,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_engine_start(e, NULL), PD_OK);
	r = submit(e, CAT_TASK_SYNC, "a", 0, 0);
	CU_ASSERT_TRUE_FATAL(wait_entered(1));
	/* Queued behind r (same tree): canceled at once, never run. */
	q = submit(e, CAT_TASK_SYNC, "a", 0, 0);
	CU_ASSERT_EQUAL(nd_engine_cancel(e, q, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(t.state, CAT_TASK_CANCELED);
	CU_ASSERT_EQUAL(get(e, q).state, CAT_TASK_CANCELED);
	/* Running: told, it stops, and is canceled. */
	CU_ASSERT_EQUAL(get(e, r).state, CAT_TASK_RUNNING);
	CU_ASSERT_EQUAL(nd_engine_cancel(e, r, &t, NULL), PD_OK);
	CU_ASSERT(t.state == CAT_TASK_RUNNING && t.cancel);
	CU_ASSERT_TRUE_FATAL(wait_ends(1));
	t = get(e, r);
	CU_ASSERT_EQUAL(t.state, CAT_TASK_CANCELED);
	CU_ASSERT_STRING_EQUAL(t.error, "sync of a stopped");
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_engine_cancel(e, r, NULL, &err), PD_ERR_CONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "already ended"));
	CU_ASSERT_EQUAL(nd_engine_cancel(e, 999, NULL, NULL),
	    PD_ERR_NOTFOUND);
	nd_engine_stats(e, &st);
	CU_ASSERT_EQUAL(st.canceled, 2);
	CU_ASSERT_EQUAL(st.runs, 1);
	nd_engine_free(e);
	CU_ASSERT_EQUAL(blk.runs_of[r], 1);
	CU_ASSERT_EQUAL(blk.runs_of[q], 0);
	cat_close(c);
	unit_rmdir(tmp);
}

/*
 * A cancel written to the catalog by someone else (another thread, the
 * CLI of a later release) reaches the run through the keeper's renew.
 */
static void
test_cancel_by_record(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct nd_engine_opts o = { 0 };
	struct nd_engine *e;
	struct cat_txn *txn;
	struct cat_task t;
	uint64_t r;

	blk.entered = 0;
	o.workers = 1;
	o.lease_ms = 3000;
	e = new_engine(c, &o);
	CU_ASSERT_EQUAL(nd_engine_register(e, CAT_TASK_SYNC, block_run, NULL,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_engine_start(e, NULL), PD_OK);
	r = submit(e, CAT_TASK_SYNC, "a", 0, 0);
	CU_ASSERT_TRUE_FATAL(wait_entered(1));
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &txn, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_cancel(txn, r, cat_clock_now(NULL), &t,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(txn, NULL), PD_OK);
	CU_ASSERT_TRUE_FATAL(wait_ends(1));
	t = get(e, r);
	CU_ASSERT_EQUAL(t.state, CAT_TASK_CANCELED);
	CU_ASSERT_EQUAL(t.attempts, 1);
	nd_engine_free(e);
	cat_close(c);
	unit_rmdir(tmp);
}

/* A stop interrupts a run: queued again, resumed by the next engine. */
static void
test_stop_resume(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct nd_engine_opts o = { 0 };
	struct nd_engine_stats st;
	struct nd_engine *e, *e2;
	struct cat_task t;
	uint64_t id;
	ssize_t got;
	uint64_t cnt = 0;

	blk.entered = 0;
	o.workers = 2;
	e = new_engine(c, &o);
	CU_ASSERT_EQUAL(nd_engine_register(e, CAT_TASK_SYNC, block_run, NULL,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_engine_start(e, NULL), PD_OK);
	id = submit(e, CAT_TASK_SYNC, "a", 0, 0);
	CU_ASSERT_TRUE_FATAL(wait_entered(1));
	/* One engine per data directory. */
	CU_ASSERT_EQUAL(nd_engine_new(c, &o, &e2, NULL), PD_ERR_CONFLICT);
	nd_engine_stop(e);
	got = read(nd_engine_fd(e), &cnt, sizeof(cnt));
	CU_ASSERT(got == (ssize_t)sizeof(cnt) && cnt == 1);
	t = get(e, id);
	CU_ASSERT_EQUAL(t.state, CAT_TASK_QUEUED);
	CU_ASSERT_EQUAL(t.attempts, 0);
	nd_engine_stats(e, &st);
	CU_ASSERT_EQUAL(st.requeued, 1);
	nd_engine_free(e);

	e = new_engine(c, &o);
	CU_ASSERT_EQUAL(nd_engine_register(e, CAT_TASK_SYNC, record_run, NULL,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_engine_start(e, NULL), PD_OK);
	CU_ASSERT_TRUE_FATAL(wait_ends(1));
	t = get(e, id);
	CU_ASSERT_EQUAL(t.state, CAT_TASK_DONE);
	CU_ASSERT_EQUAL(t.attempts, 1);
	nd_engine_free(e);
	cat_close(c);
	unit_rmdir(tmp);
}

static int
add_engine(void)
{
	static const struct unit_test tests[] = {
		{ "flood: one run per tree, trees in parallel", test_flood },
		{ "priority before age", test_priority },
		{ "retries with backoff, then failed", test_retry },
		{ "cancel queued and running tasks", test_cancel },
		{ "a cancel in the catalog reaches the run",
		    test_cancel_by_record },
		{ "a stop requeues, the next start resumes", test_stop_resume },
	};

	return UNIT_SUITE("engine", NULL, NULL, tests);
}

UNIT_REGISTER("engine", add_engine)
