/*
 * Unit tests of catalog/tasks.c: the task records, the claim's order
 * and its one-running-per-tree rule, leases and their epochs (also
 * inside a real import's commit), retries and their backoff, cancel,
 * recovery after a crash, pruning and the schema upgrade.  The engine
 * that runs the tasks is test_engine.c's; leases checked by real
 * commits are test_lease.c's.
 */
#include <sys/stat.h>

#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../catalog/catalog.h"
#include "../../catalog/tasks.h"
#include "../../common/mem.h"
#include "../../node/taskjson.h"
#include "unit.h"

#define NOW	1000000		/* an arbitrary clock, ms */
#define LEASE	5000

static struct cat *
new_cat(char **tmp, char *data, size_t len)
{
	struct cat *c = NULL;

	*tmp = unit_tmpdir();
	unit_pjoin(data, len, *tmp, "data");
	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_CREATE, &c, NULL), PD_OK);
	return c;
}

static uint64_t
add(struct cat *c, enum cat_task_kind kind, const char *tree, int32_t prio,
    int64_t not_before)
{
	struct cat_task_new n = { kind, tree, prio, 0, NULL, not_before };
	struct cat_task out;
	struct cat_txn *t;

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_task_add(t, &n, NOW, &out, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	return out.id;
}

static struct cat_task
get(struct cat *c, uint64_t id)
{
	struct cat_task task;
	struct cat_txn *t;

	memset(&task, 0, sizeof(task));
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_get(t, id, &task, NULL), PD_OK);
	cat_abort(t);
	return task;
}

/* Claim at now; the task's id, 0 for none (*due then its due time). */
static uint64_t
claim(struct cat *c, int64_t now, int64_t *due)
{
	struct cat_task task;
	struct cat_txn *t;
	int64_t d;
	enum pd_err rc;

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	rc = cat_task_claim(t, "test", now, LEASE, NULL, NULL, &task, &d,
	    NULL);
	CU_ASSERT(rc == PD_OK || rc == PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	if (due != NULL)
		*due = d;
	return rc == PD_OK ? task.id : 0;
}

static enum pd_err
finish(struct cat *c, uint64_t id, uint64_t epoch, enum cat_task_end end,
    const char *error, int64_t now, int64_t retry_at, struct pd_error *e)
{
	struct cat_lease l = { id, epoch, NULL };
	struct cat_txn *t;
	enum pd_err rc;

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	rc = cat_task_finish(t, &l, end, error, now, retry_at, NULL, e);
	if (rc != PD_OK) {
		cat_abort(t);
		return rc;
	}
	CU_ASSERT_EQUAL(cat_commit(t, NULL), PD_OK);
	return rc;
}

static void
test_records(void)
{
	char *tmp, data[4096], longarg[CAT_TASK_ARG_MAX + 2];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_task_new n = { CAT_TASK_SYNC, "fedora-39", -3, 7,
	    "http://127.0.0.1:8700", 0 };
	struct cat_task task, *list;
	struct cat_txn *t;
	struct pd_error e;
	enum cat_task_kind k;
	size_t cnt, i;
	uint64_t a, b;

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_add(t, &n, NOW, &task, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	a = task.id;
	CU_ASSERT_EQUAL(a, 1);
	task = get(c, a);
	CU_ASSERT_EQUAL(task.kind, CAT_TASK_SYNC);
	CU_ASSERT_STRING_EQUAL(task.tree, "fedora-39");
	CU_ASSERT_EQUAL(task.priority, -3);
	CU_ASSERT_EQUAL(task.state, CAT_TASK_QUEUED);
	CU_ASSERT_EQUAL(task.max_attempts, 7);
	CU_ASSERT_EQUAL(task.attempts, 0);
	CU_ASSERT_EQUAL(task.created, NOW);
	CU_ASSERT_EQUAL(task.next_run, NOW);
	CU_ASSERT_STRING_EQUAL(task.arg, "http://127.0.0.1:8700");
	CU_ASSERT_STRING_EQUAL(task.error, "");
	b = add(c, CAT_TASK_CLEAN, "", 0, 0);
	CU_ASSERT_EQUAL(b, a + 1);
	CU_ASSERT_EQUAL(get(c, b).max_attempts, CAT_TASK_ATTEMPTS_DEFAULT);
	add(c, CAT_TASK_IMPORT, "docs", 0, 0);
	add(c, CAT_TASK_DELTA, "fedora-39", 0, 0);
	add(c, CAT_TASK_PUBLISH, "fedora-39", 0, 0);

	/* Bad input: refused naming it, and nothing stored. */
	memset(longarg, 'x', sizeof(longarg) - 1);
	longarg[sizeof(longarg) - 1] = '\0';
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	n.tree = "../etc";
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_task_add(t, &n, NOW, NULL, &e), PD_ERR_USAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "../etc"));
	n.tree = "docs";
	n.arg = longarg;
	CU_ASSERT_EQUAL(cat_task_add(t, &n, NOW, NULL, NULL), PD_ERR_USAGE);
	n.arg = NULL;
	n.max_attempts = CAT_TASK_ATTEMPTS_MAX + 1;
	CU_ASSERT_EQUAL(cat_task_add(t, &n, NOW, NULL, NULL), PD_ERR_USAGE);
	n.max_attempts = 0;
	n.kind = (enum cat_task_kind)9;
	CU_ASSERT_EQUAL(cat_task_add(t, &n, NOW, NULL, NULL), PD_ERR_USAGE);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &t, NULL), PD_OK);
	n.kind = CAT_TASK_SYNC;
	CU_ASSERT_EQUAL(cat_task_add(t, &n, NOW, NULL, NULL), PD_ERR_USAGE);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_task_get(t, 99, &task, &e), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "99"));

	/* Newest first, with a limit, of one tree or all. */
	CU_ASSERT_EQUAL(cat_task_list(t, NULL, 100, &list, &cnt, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL_FATAL(cnt, 5);
	for (i = 0; i < cnt; i++)
		CU_ASSERT_EQUAL(list[i].id, 5 - i);
	pd_free(list);
	CU_ASSERT_EQUAL(cat_task_list(t, NULL, 2, &list, &cnt, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cnt, 2);
	CU_ASSERT(list[0].id == 5 && list[1].id == 4);
	pd_free(list);
	CU_ASSERT_EQUAL(cat_task_list(t, "fedora-39", 10, &list, &cnt, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL_FATAL(cnt, 3);
	CU_ASSERT(list[0].id == 5 && list[1].id == 4 && list[2].id == 1);
	CU_ASSERT_EQUAL(list[1].kind, CAT_TASK_DELTA);
	pd_free(list);
	CU_ASSERT_EQUAL(cat_task_list(t, "none", 10, &list, &cnt, NULL),
	    PD_OK);
	CU_ASSERT(cnt == 0 && list == NULL);
	cat_abort(t);

	CU_ASSERT_EQUAL(cat_task_kind_parse("publish", &k, NULL), PD_OK);
	CU_ASSERT_EQUAL(k, CAT_TASK_PUBLISH);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_task_kind_parse("nap", &k, &e), PD_ERR_USAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "nap"));
	CU_ASSERT_STRING_EQUAL(cat_task_state_name(CAT_TASK_CANCELED),
	    "canceled");
	cat_close(c);
	unit_rmdir(tmp);
}

/* A damaged record is reported as such, not read as something else. */
static void
test_damaged(void)
{
	char *tmp, data[4096], path[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	unsigned char key[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	MDB_val k = { sizeof(key), key }, v;
	struct cat_task task, *list;
	struct cat_txn *t;
	struct pd_error e;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	size_t n;

	add(c, CAT_TASK_SYNC, "a", 0, 0);
	cat_close(c);
	unit_pjoin(path, sizeof(path), data, "catalog");
	CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_env_set_maxdbs(env, 16), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, path, 0, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &txn), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(txn, "tasks", 0, &dbi), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_get(txn, dbi, &k, &v), 0);
	/* One byte short: the lengths no longer add up. */
	v.mv_size--;
	CU_ASSERT_EQUAL_FATAL(mdb_put(txn, dbi, &k, &v, 0), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	CU_ASSERT_EQUAL_FATAL(cat_open(data, 0, &c, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_task_get(t, 1, &task, &e), PD_ERR_CORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "task 1"));
	CU_ASSERT_EQUAL(cat_task_list(t, NULL, 10, &list, &n, NULL),
	    PD_ERR_CORRUPT);
	CU_ASSERT_EQUAL(cat_task_claim(t, "x", NOW, LEASE, NULL, NULL, &task,
	    NULL, NULL), PD_ERR_CORRUPT);
	cat_abort(t);
	cat_close(c);
	unit_rmdir(tmp);
}

static bool
busy_b(void *arg, const char *tree)
{
	(void)arg;
	return strcmp(tree, "b") == 0;
}

static void
test_claim(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	uint64_t a1, a2, b1, c1, d1, n1;
	struct cat_task task;
	struct cat_txn *t;
	int64_t due;

	a1 = add(c, CAT_TASK_SYNC, "a", 0, 0);
	a2 = add(c, CAT_TASK_SYNC, "a", 10, 0);
	b1 = add(c, CAT_TASK_SYNC, "b", 0, 0);
	c1 = add(c, CAT_TASK_IMPORT, "c", 5, 0);
	d1 = add(c, CAT_TASK_SYNC, "d", 100, NOW + 500);
	n1 = add(c, CAT_TASK_CLEAN, "", 0, 0);

	/* The caller may declare trees busy. */
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_claim(t, "w", NOW, LEASE, busy_b, NULL,
	    &task, NULL, NULL), PD_OK);
	CU_ASSERT_EQUAL(task.id, a2);
	cat_abort(t);

	/* Highest priority first; d is not due; a is busy after a2. */
	CU_ASSERT_EQUAL(claim(c, NOW, NULL), a2);
	task = get(c, a2);
	CU_ASSERT_EQUAL(task.state, CAT_TASK_RUNNING);
	CU_ASSERT_EQUAL(task.attempts, 1);
	CU_ASSERT_EQUAL(task.epoch, 1);
	CU_ASSERT_EQUAL(task.started, NOW);
	CU_ASSERT_EQUAL(task.lease_expires, NOW + LEASE);
	CU_ASSERT_STRING_EQUAL(task.owner, "test");
	CU_ASSERT_EQUAL(claim(c, NOW, NULL), c1);
	/* Equal priorities: the oldest. */
	CU_ASSERT_EQUAL(claim(c, NOW, NULL), b1);
	CU_ASSERT_EQUAL(claim(c, NOW, NULL), n1);
	CU_ASSERT_EQUAL(claim(c, NOW, &due), 0);
	CU_ASSERT_EQUAL(due, NOW + 500);
	CU_ASSERT_EQUAL(get(c, a1).state, CAT_TASK_QUEUED);
	CU_ASSERT_EQUAL(claim(c, NOW + 500, NULL), d1);

	/* a's run ends: a1 may run. */
	CU_ASSERT_EQUAL(finish(c, a2, 1, CAT_END_DONE, NULL, NOW + 1, 0,
	    NULL), PD_OK);
	task = get(c, a2);
	CU_ASSERT(task.state == CAT_TASK_DONE && task.finished == NOW + 1);
	CU_ASSERT_STRING_EQUAL(task.owner, "");
	CU_ASSERT_EQUAL(claim(c, NOW + 1, &due), a1);
	CU_ASSERT_EQUAL(claim(c, NOW + 1, &due), 0);
	CU_ASSERT_EQUAL(due, INT64_MAX);
	cat_close(c);
	unit_rmdir(tmp);
}

static enum pd_err
check(struct cat *c, uint64_t id, uint64_t epoch, struct pd_error *e)
{
	struct cat_lease l = { id, epoch, NULL };
	struct cat_txn *t;
	enum pd_err rc;

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	rc = cat_task_lease_check(t, &l, e);
	cat_abort(t);
	return rc;
}

static int64_t fake_now;

static int64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

/* Leases: renewed, expired, taken back; a stale epoch is refused. */
static void
test_lease(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_clock clk = { fake_clock, NULL };
	struct cat_lease l;
	struct cat_task task;
	struct cat_txn *t;
	struct pd_error e;
	uint64_t id;
	int64_t now = cat_clock_now(NULL);

	id = add(c, CAT_TASK_SYNC, "a", 0, 0);
	CU_ASSERT_EQUAL(claim(c, now, NULL), id);
	CU_ASSERT_EQUAL(check(c, id, 1, NULL), PD_OK);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(check(c, id, 0, &e), PD_ERR_CONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "stale"));
	CU_ASSERT_EQUAL(check(c, id + 1, 1, NULL), PD_ERR_CONFLICT);

	/* Expired by the lease's clock, though nobody took it back. */
	l.task = id;
	l.epoch = 1;
	l.clock = &clk;
	fake_now = now + LEASE;
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_task_lease_check(t, &l, &e), PD_ERR_CONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "expired"));
	fake_now = now + LEASE - 1;
	CU_ASSERT_EQUAL(cat_task_lease_check(t, &l, NULL), PD_OK);
	/* Renewed, it holds longer. */
	CU_ASSERT_EQUAL(cat_task_renew(t, &l, now + LEASE - 1, LEASE, &task,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL(task.lease_expires, now + 2 * LEASE - 1);
	fake_now = now + 2 * LEASE - 2;
	CU_ASSERT_EQUAL(cat_task_lease_check(t, &l, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_renew(t, &l, now + 2 * LEASE, LEASE, NULL,
	    NULL), PD_ERR_CONFLICT);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);

	/* A claim after expiry takes the task back and hands it out anew:
	 * the old epoch is refused, to renew, check and finish alike. */
	CU_ASSERT_EQUAL(claim(c, now + 2 * LEASE, NULL), id);
	task = get(c, id);
	CU_ASSERT_EQUAL(task.epoch, 3);
	CU_ASSERT_EQUAL(task.attempts, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(task.error, "expired"));
	fake_now = now + 2 * LEASE;
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_lease_check(t, &l, NULL), PD_ERR_CONFLICT);
	CU_ASSERT_EQUAL(cat_task_renew(t, &l, fake_now, LEASE, NULL, NULL),
	    PD_ERR_CONFLICT);
	cat_abort(t);
	CU_ASSERT_EQUAL(finish(c, id, 1, CAT_END_DONE, NULL, fake_now, 0,
	    NULL), PD_ERR_CONFLICT);
	CU_ASSERT_EQUAL(get(c, id).state, CAT_TASK_RUNNING);
	CU_ASSERT_EQUAL(finish(c, id, 3, CAT_END_DONE, NULL, fake_now, 0,
	    NULL), PD_OK);
	/* Done: no lease holds any more. */
	CU_ASSERT_EQUAL(check(c, id, 3, NULL), PD_ERR_CONFLICT);

	/* Taken back even when nothing can be claimed (its tree busy for
	 * the caller), once the claim's transaction commits. */
	id = add(c, CAT_TASK_SYNC, "b", 0, 0);
	CU_ASSERT_EQUAL(claim(c, now, NULL), id);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_claim(t, "w", now + LEASE, LEASE, busy_b,
	    NULL, &task, NULL, NULL), PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(cat_task_claim(t, "w", now, 0, NULL, NULL, &task,
	    NULL, NULL), PD_ERR_USAGE);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	task = get(c, id);
	CU_ASSERT_EQUAL(task.state, CAT_TASK_QUEUED);
	CU_ASSERT_EQUAL(task.epoch, 2);
	cat_close(c);
	unit_rmdir(tmp);
}

static void
test_backoff(void)
{
	int64_t d, lo, mid, hi, prev_hi = 0;
	uint32_t a;

	for (a = 1; a <= 12; a++) {
		/* base * 2^(a-1), capped */
		d = a <= 9 ? 1000LL << (a - 1) : 300000;
		lo = cat_task_backoff(a, 1000, 300000, 0);
		mid = cat_task_backoff(a, 1000, 300000, 1U << 31);
		hi = cat_task_backoff(a, 1000, 300000, UINT32_MAX);
		/* Half fixed, half moved by the jitter, within bounds. */
		CU_ASSERT_EQUAL(lo, d - d / 2);
		CU_ASSERT_EQUAL(mid, d - d / 2 + d / 4);
		CU_ASSERT(hi < d && hi >= d - 1);
		CU_ASSERT(lo < mid && mid < hi);
		/* Grows until the cap. */
		CU_ASSERT(hi >= prev_hi);
		if (a <= 9) {
			CU_ASSERT(hi > prev_hi);
		}
		prev_hi = hi;
	}
	/* Absurd inputs stay bounded and positive. */
	CU_ASSERT(cat_task_backoff(UINT32_MAX, INT64_MAX, INT64_MAX,
	    UINT32_MAX) > 0);
	CU_ASSERT(cat_task_backoff(0, 0, 0, 0) >= 0);
}

/* Failures are retried at the given time, the error kept; then fail. */
static void
test_retry(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_task_new n = { CAT_TASK_SYNC, "a", 0, 2, NULL, 0 };
	struct cat_task task;
	struct cat_txn *t;
	struct pd_error e;
	uint64_t id, fin;
	int64_t due;

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_add(t, &n, NOW, &task, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	id = task.id;
	CU_ASSERT_EQUAL(claim(c, NOW, NULL), id);
	CU_ASSERT_EQUAL(finish(c, id, 1, CAT_END_FAILED, "upstream 127.0.0.1"
	    " refused", NOW + 10, NOW + 2000, NULL), PD_OK);
	task = get(c, id);
	CU_ASSERT_EQUAL(task.state, CAT_TASK_QUEUED);
	CU_ASSERT_EQUAL(task.next_run, NOW + 2000);
	CU_ASSERT_STRING_EQUAL(task.error, "upstream 127.0.0.1 refused");
	CU_ASSERT_EQUAL(claim(c, NOW + 1999, &due), 0);
	CU_ASSERT_EQUAL(due, NOW + 2000);
	CU_ASSERT_EQUAL(claim(c, NOW + 2000, NULL), id);
	CU_ASSERT_EQUAL(finish(c, id, 2, CAT_END_FAILED, "again", NOW + 2010,
	    NOW + 6000, NULL), PD_OK);
	task = get(c, id);
	CU_ASSERT_EQUAL(task.state, CAT_TASK_FAILED);
	CU_ASSERT_EQUAL(task.attempts, 2);
	CU_ASSERT_EQUAL(task.finished, NOW + 2010);
	CU_ASSERT_STRING_EQUAL(task.error, "again");
	CU_ASSERT_EQUAL(claim(c, NOW + 6000, NULL), 0);

	/* A final failure is not retried; a requeue does not count. */
	fin = add(c, CAT_TASK_SYNC, "b", 0, 0);
	CU_ASSERT_EQUAL(claim(c, NOW, NULL), fin);
	CU_ASSERT_EQUAL(finish(c, fin, 1, CAT_END_REQUEUE, NULL, NOW, 0,
	    NULL), PD_OK);
	task = get(c, fin);
	CU_ASSERT(task.state == CAT_TASK_QUEUED && task.attempts == 0);
	CU_ASSERT_EQUAL(task.epoch, 2);
	CU_ASSERT_EQUAL(claim(c, NOW, NULL), fin);
	CU_ASSERT_EQUAL(finish(c, fin, 3, CAT_END_FINAL, "bad tree", NOW, 0,
	    NULL), PD_OK);
	task = get(c, fin);
	CU_ASSERT(task.state == CAT_TASK_FAILED && task.attempts == 1);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(finish(c, fin, 3, CAT_END_DONE, NULL, NOW, 0, &e),
	    PD_ERR_CONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "failed"));
	cat_close(c);
	unit_rmdir(tmp);
}

static void
test_cancel(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_task task;
	struct cat_txn *t;
	struct pd_error e;
	uint64_t q, r;

	r = add(c, CAT_TASK_SYNC, "a", 0, 0);
	q = add(c, CAT_TASK_SYNC, "a", 0, 0);
	CU_ASSERT_EQUAL(claim(c, NOW, NULL), r);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_cancel(t, q, NOW + 1, &task, NULL), PD_OK);
	CU_ASSERT(task.state == CAT_TASK_CANCELED && task.finished == NOW + 1);
	CU_ASSERT_EQUAL(cat_task_cancel(t, r, NOW + 1, &task, NULL), PD_OK);
	CU_ASSERT(task.state == CAT_TASK_RUNNING && task.cancel);
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(cat_task_cancel(t, q, NOW, NULL, &e),
	    PD_ERR_CONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "canceled"));
	CU_ASSERT_EQUAL(cat_task_cancel(t, 77, NOW, NULL, NULL),
	    PD_ERR_NOTFOUND);
	/* The renew tells the worker. */
	{
		struct cat_lease l = { r, 1, NULL };
		CU_ASSERT_EQUAL(cat_task_renew(t, &l, NOW + 2, LEASE, &task,
		    NULL), PD_OK);
		CU_ASSERT_TRUE(task.cancel);
	}
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	/* The canceled one never runs; the run that stops is canceled. */
	CU_ASSERT_EQUAL(claim(c, NOW + 3, NULL), 0);
	CU_ASSERT_EQUAL(finish(c, r, 1, CAT_END_FAILED, "stopped", NOW + 4,
	    NOW + 5, NULL), PD_OK);
	CU_ASSERT_EQUAL(get(c, r).state, CAT_TASK_CANCELED);
	CU_ASSERT_EQUAL(claim(c, NOW + 9, NULL), 0);
	cat_close(c);
	unit_rmdir(tmp);
}

static void
test_recover_prune(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_task_new n = { CAT_TASK_SYNC, "once", 0, 1, NULL, 0 };
	struct cat_task task, *list;
	struct cat_txn *t;
	uint64_t a, b, once, id;
	unsigned resumed;
	size_t cnt, i;

	a = add(c, CAT_TASK_SYNC, "a", 0, 0);
	b = add(c, CAT_TASK_SYNC, "b", 0, 0);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_add(t, &n, NOW, &task, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	once = task.id;
	CU_ASSERT_EQUAL(claim(c, NOW, NULL), a);
	CU_ASSERT_EQUAL(claim(c, NOW, NULL), b);
	CU_ASSERT_EQUAL(claim(c, NOW, NULL), once);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_cancel(t, b, NOW, NULL, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_recover(t, NOW + 7, &resumed, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(t, NULL), PD_OK);
	CU_ASSERT_EQUAL(resumed, 1);
	task = get(c, a);
	CU_ASSERT_EQUAL(task.state, CAT_TASK_QUEUED);
	CU_ASSERT_EQUAL(task.epoch, 2);
	CU_ASSERT_EQUAL(task.attempts, 1);
	CU_ASSERT_EQUAL(task.next_run, NOW + 7);
	CU_ASSERT_PTR_NOT_NULL(strstr(task.error, "died during attempt 1"));
	CU_ASSERT_EQUAL(get(c, b).state, CAT_TASK_CANCELED);
	task = get(c, once);
	CU_ASSERT_EQUAL(task.state, CAT_TASK_FAILED);
	CU_ASSERT_PTR_NOT_NULL(strstr(task.error, "giving up"));
	CU_ASSERT_EQUAL(check(c, a, 1, NULL), PD_ERR_CONFLICT);

	/* Prune: the active ones stay, and the newest finished. */
	CU_ASSERT_EQUAL(claim(c, NOW + 7, NULL), a);
	for (i = 0; i < 6; i++) {
		id = add(c, CAT_TASK_CLEAN, "", 0, 0);
		if (i < 5) {
			CU_ASSERT_EQUAL(claim(c, NOW + 8, NULL), id);
			CU_ASSERT_EQUAL(finish(c, id, 1, CAT_END_DONE, NULL,
			    NOW + 8, 0, NULL), PD_OK);
		}
	}
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_prune(t, 2, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_list(t, NULL, 100, &list, &cnt, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL_FATAL(cnt, 4);
	CU_ASSERT_EQUAL(list[0].id, id);
	CU_ASSERT_EQUAL(list[0].state, CAT_TASK_QUEUED);
	CU_ASSERT(list[1].id == id - 1 && list[2].id == id - 2);
	CU_ASSERT_EQUAL(list[3].id, a);
	pd_free(list);
	cat_abort(t);
	cat_close(c);
	unit_rmdir(tmp);
}

/* A schema 3 catalog: read-only it has no tasks; opened, it gains them. */
static void
test_schema(void)
{
	static const char *const dbs[] = { "tasks", "taskq" };
	char *tmp, data[4096], path[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	MDB_val k = { 6, "schema" }, v = { 1, "3" };
	struct cat_task task, *list;
	struct cat_txn *t;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	size_t i, n;

	cat_close(c);
	unit_pjoin(path, sizeof(path), data, "catalog");
	CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_env_set_maxdbs(env, 16), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, path, 0, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &txn), 0);
	for (i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(txn, dbs[i], 0, &dbi), 0);
		CU_ASSERT_EQUAL_FATAL(mdb_drop(txn, dbi, 1), 0);
	}
	CU_ASSERT_EQUAL_FATAL(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_put(txn, dbi, &k, &v, 0), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	CU_ASSERT_EQUAL_FATAL(cat_open(data, CAT_RDONLY, &c, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_list(t, NULL, 10, &list, &n, NULL), PD_OK);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(cat_task_get(t, 1, &task, NULL), PD_ERR_NOTFOUND);
	cat_abort(t);
	cat_close(c);
	CU_ASSERT_EQUAL_FATAL(cat_open(data, 0, &c, NULL), PD_OK);
	CU_ASSERT_EQUAL(add(c, CAT_TASK_SYNC, "a", 0, 0), 1);
	CU_ASSERT_EQUAL(get(c, 1).state, CAT_TASK_QUEUED);
	cat_close(c);
	unit_rmdir(tmp);
}

static void
test_json(void)
{
	struct nd_engine_stats st;
	struct cat_task task;
	json_t *j, *a;

	memset(&task, 0, sizeof(task));
	task.id = 42;
	task.kind = CAT_TASK_SYNC;
	snprintf(task.tree, sizeof(task.tree), "fedora");
	task.state = CAT_TASK_FAILED;
	task.attempts = 3;
	snprintf(task.error, sizeof(task.error), "upstream \"x\" refused");
	CU_ASSERT_PTR_NOT_NULL_FATAL(j = nd_task_json(&task));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "id")), 42);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "kind")),
	    "sync");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j,
	    "state")), "failed");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j,
	    "error")), "upstream \"x\" refused");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "attempts")),
	    3);
	json_decref(j);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a = nd_tasks_json(&task, 1));
	CU_ASSERT_EQUAL(json_array_size(a), 1);
	json_decref(a);
	memset(&st, 0, sizeof(st));
	st.retries = 7;
	st.running = 2;
	CU_ASSERT_PTR_NOT_NULL_FATAL(j = nd_engine_stats_json(&st));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "retries")), 7);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "running")), 2);
	json_decref(j);
}

static int
add_tasks(void)
{
	static const struct unit_test tests[] = {
		{ "task records, listing, bad input", test_records },
		{ "a damaged task record", test_damaged },
		{ "claim: priority, age, one run per tree", test_claim },
		{ "leases: renew, expiry, stale epochs", test_lease },
		{ "backoff grows, with jitter in bounds", test_backoff },
		{ "retries keep the error, then fail", test_retry },
		{ "cancel queued and running tasks", test_cancel },
		{ "recover after a crash; prune history", test_recover_prune },
		{ "schema 3 catalogs", test_schema },
		{ "tasks as JSON", test_json },
	};

	return UNIT_SUITE("tasks", NULL, NULL, tests);
}

UNIT_REGISTER("tasks", add_tasks)
