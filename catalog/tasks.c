/*
 * The task queue's records (tasks.h); leases are lease.c's.
 *
 * Two databases: "tasks" holds every task by be64(id), so a cursor from
 * the end lists the newest first; "taskq" holds the ids of the active
 * ones (queued or running), so a claim reads only those however long
 * the history is.  A record is packed big-endian after a record-version
 * byte: the fixed fields, then four lengths and the strings they count
 * (tree, owner, error, argument), each checked against its maximum on
 * the way in and on the way out; a record whose length does not add up
 * is damaged.
 */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/mem.h"
#include "internal.h"
#include "tasks.h"

#define TASK_REC_V	1
/* Version, kind, state, flags; id; priority, attempts, max_attempts;
 * created, started, finished, next_run, lease_expires, epoch. */
#define TASK_FIXED	(4 + 8 + 4 * 3 + 8 * 6)
#define TASK_LENS	(1 + 1 + 2 + 2)
#define TASK_REC_MAX	(TASK_FIXED + TASK_LENS + PR_TREE_NAME_MAX + \
			 CAT_TASK_OWNER_MAX + CAT_TASK_ERROR_MAX + \
			 CAT_TASK_ARG_MAX)
#define FLAG_CANCEL	0x1

/* The longest backoff: keeps the jitter's product within 64 bits. */
#define BACKOFF_CAP	(30LL * 24 * 3600 * 1000)

static const char *const kinds[] = {
	"?", "import", "sync", "publish", "delta", "clean",
};
static const char *const states[] = {
	"?", "queued", "running", "done", "failed", "canceled",
};

const char *
cat_task_kind_name(enum cat_task_kind k)
{
	return (unsigned)k <= CAT_TASK_KINDS ? kinds[k] : "?";
}

const char *
cat_task_state_name(enum cat_task_state s)
{
	return (unsigned)s <= CAT_TASK_CANCELED ? states[s] : "?";
}

enum pd_err
cat_task_kind_parse(const char *s, enum cat_task_kind *k,
    struct pd_error *err)
{
	unsigned i;

	for (i = 1; i <= CAT_TASK_KINDS; i++)
		if (strcmp(s, kinds[i]) == 0) {
			*k = (enum cat_task_kind)i;
			return PD_OK;
		}
	return pd_fail(err, PD_ERR_USAGE, "unknown task kind \"%s\" (import, "
	    "sync, publish, delta or clean)", s);
}

int64_t
cat_clock_now(const struct cat_clock *c)
{
	struct timespec ts;

	if (c != NULL && c->fn != NULL)
		return c->fn(c->arg);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
cat_task_backoff(uint32_t attempts, int64_t base, int64_t cap, uint32_t rnd)
{
	int64_t d, half;
	uint32_t i;

	if (cap > BACKOFF_CAP || cap <= 0)
		cap = BACKOFF_CAP;
	if (base <= 0)
		base = 1;
	d = base < cap ? base : cap;
	for (i = 1; i < attempts && d < cap; i++)
		d = d > cap / 2 ? cap : d * 2;
	half = d / 2;
	return d - half + (int64_t)(((uint64_t)half * rnd) >> 32);
}

/* Packing. */

static unsigned char *
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return p + 4;
}

static const unsigned char *
get32(const unsigned char *p, uint32_t *v)
{
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	return p + 4;
}

static unsigned char *
putstr(unsigned char *p, const char *s, size_t len)
{
	memcpy(p, s, len);
	return p + len;
}

static size_t
task_pack(const struct cat_task *t, unsigned char *rec)
{
	size_t lt = strlen(t->tree), lo = strlen(t->owner);
	size_t le = strlen(t->error), la = strlen(t->arg);
	unsigned char *p = rec;

	*p++ = TASK_REC_V;
	*p++ = (unsigned char)t->kind;
	*p++ = (unsigned char)t->state;
	*p++ = t->cancel ? FLAG_CANCEL : 0;
	p = cat_be64_put(p, t->id);
	p = put32(p, (uint32_t)t->priority);
	p = put32(p, t->attempts);
	p = put32(p, t->max_attempts);
	p = cat_be64_put(p, (uint64_t)t->created);
	p = cat_be64_put(p, (uint64_t)t->started);
	p = cat_be64_put(p, (uint64_t)t->finished);
	p = cat_be64_put(p, (uint64_t)t->next_run);
	p = cat_be64_put(p, (uint64_t)t->lease_expires);
	p = cat_be64_put(p, t->epoch);
	*p++ = (unsigned char)lt;
	*p++ = (unsigned char)lo;
	*p++ = (unsigned char)(le >> 8);
	*p++ = (unsigned char)le;
	*p++ = (unsigned char)(la >> 8);
	*p++ = (unsigned char)la;
	p = putstr(p, t->tree, lt);
	p = putstr(p, t->owner, lo);
	p = putstr(p, t->error, le);
	p = putstr(p, t->arg, la);
	return (size_t)(p - rec);
}

static const unsigned char *
getstr(const unsigned char *p, char *s, size_t len)
{
	memcpy(s, p, len);
	s[len] = '\0';
	return p + len;
}

static const unsigned char *
geti64(const unsigned char *p, int64_t *v)
{
	uint64_t u;

	p = cat_be64_get(p, &u);
	*v = (int64_t)u;
	return p;
}

/* A string of the record is sound: no NUL inside. */
static bool
clean_str(const char *s, size_t len)
{
	return memchr(s, '\0', len) == NULL;
}

static bool
task_unpack(const MDB_val *k, const MDB_val *v, struct cat_task *t)
{
	const unsigned char *p = v->mv_data;
	size_t lt, lo, le, la;
	uint32_t u;
	uint64_t kid;

	if (k->mv_size != 8 || v->mv_size < TASK_FIXED + TASK_LENS ||
	    p[0] != TASK_REC_V || p[1] < 1 || p[1] > CAT_TASK_KINDS ||
	    p[2] < CAT_TASK_QUEUED || p[2] > CAT_TASK_CANCELED ||
	    (p[3] & ~FLAG_CANCEL) != 0)
		return false;
	memset(t, 0, sizeof(*t));
	t->kind = (enum cat_task_kind)p[1];
	t->state = (enum cat_task_state)p[2];
	t->cancel = (p[3] & FLAG_CANCEL) != 0;
	p = cat_be64_get(p + 4, &t->id);
	p = get32(p, &u);
	t->priority = (int32_t)u;
	p = get32(p, &t->attempts);
	p = get32(p, &t->max_attempts);
	p = geti64(p, &t->created);
	p = geti64(p, &t->started);
	p = geti64(p, &t->finished);
	p = geti64(p, &t->next_run);
	p = geti64(p, &t->lease_expires);
	p = cat_be64_get(p, &t->epoch);
	lt = p[0];
	lo = p[1];
	le = (size_t)p[2] << 8 | p[3];
	la = (size_t)p[4] << 8 | p[5];
	p += TASK_LENS;
	cat_be64_get(k->mv_data, &kid);
	if (kid != t->id || lt > PR_TREE_NAME_MAX ||
	    lo > CAT_TASK_OWNER_MAX || le > CAT_TASK_ERROR_MAX ||
	    la > CAT_TASK_ARG_MAX ||
	    v->mv_size != TASK_FIXED + TASK_LENS + lt + lo + le + la)
		return false;
	if (!clean_str((const char *)p, lt + lo + le + la))
		return false;
	p = getstr(p, t->tree, lt);
	p = getstr(p, t->owner, lo);
	p = getstr(p, t->error, le);
	getstr(p, t->arg, la);
	return true;
}

static enum pd_err
corrupt(struct cat *c, struct pd_error *err, uint64_t id)
{
	return pd_fail(err, PD_ERR_CORRUPT, "catalog %s: damaged record of "
	    "task %" PRIu64, c->dir, id);
}

enum pd_err
cat_task_need_write(struct cat_txn *t, struct pd_error *err,
    const char *what)
{
	if (!t->write)
		return pd_fail(err, PD_ERR_USAGE, "%s: needs a write "
		    "transaction", what);
	if (!t->cat->has_tasks)
		return pd_fail(err, PD_ERR_USAGE, "catalog %s has no task "
		    "queue (schema older than 4)", t->cat->dir);
	return PD_OK;
}

enum pd_err
cat_task_load(struct cat_txn *t, uint64_t id, struct cat_task *out,
    struct pd_error *err)
{
	unsigned char key[8];
	MDB_val k = { sizeof(key), key }, v;
	int rc;

	if (!t->cat->has_tasks)
		return pd_fail(err, PD_ERR_NOTFOUND, "no task %" PRIu64
		    " (catalog %s has no task queue)", id, t->cat->dir);
	cat_be64_put(key, id);
	if ((rc = mdb_get(t->txn, t->cat->tasks, &k, &v)) == MDB_NOTFOUND)
		return pd_fail(err, PD_ERR_NOTFOUND, "no task %" PRIu64, id);
	if (rc != 0)
		return cat_dberr(t->cat, rc, err, "reading task");
	if (!task_unpack(&k, &v, out))
		return corrupt(t->cat, err, id);
	return PD_OK;
}

enum pd_err
cat_task_store(struct cat_txn *t, const struct cat_task *task,
    struct pd_error *err)
{
	unsigned char key[8], rec[TASK_REC_MAX], one = 1;
	MDB_val k = { sizeof(key), key }, v = { 0, rec };
	MDB_val q = { 1, &one };
	int rc;

	cat_be64_put(key, task->id);
	v.mv_size = task_pack(task, rec);
	if ((rc = mdb_put(t->txn, t->cat->tasks, &k, &v, 0)) != 0)
		return cat_dberr(t->cat, rc, err, "writing task");
	if (cat_task_active(task->state))
		rc = mdb_put(t->txn, t->cat->taskq, &k, &q, 0);
	else if ((rc = mdb_del(t->txn, t->cat->taskq, &k, NULL)) ==
	    MDB_NOTFOUND)
		rc = 0;
	if (rc != 0)
		return cat_dberr(t->cat, rc, err, "writing task queue");
	return PD_OK;
}

void
cat_task_setstr(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n > cap)
		n = cap;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static enum pd_err
next_id(struct cat_txn *t, uint64_t *id, struct pd_error *err)
{
	MDB_val k = { 12, "next-task-id" }, v;
	unsigned char buf[8];
	uint64_t next = 1;
	int rc;

	rc = mdb_get(t->txn, t->cat->meta, &k, &v);
	if (rc == 0 && v.mv_size == 8)
		cat_be64_get(v.mv_data, &next);
	else if (rc != MDB_NOTFOUND)
		return pd_fail(err, PD_ERR_CORRUPT, "catalog %s: damaged "
		    "next-task-id record", t->cat->dir);
	*id = next;
	cat_be64_put(buf, next + 1);
	v.mv_data = buf;
	v.mv_size = sizeof(buf);
	if ((rc = mdb_put(t->txn, t->cat->meta, &k, &v, 0)) != 0)
		return cat_dberr(t->cat, rc, err, "writing task id");
	return PD_OK;
}

enum pd_err
cat_task_add(struct cat_txn *t, const struct cat_task_new *n, int64_t now,
    struct cat_task *out, struct pd_error *err)
{
	struct cat_task task;
	const char *why;
	MDB_stat st;
	enum pd_err e;
	int rc;

	if ((e = cat_task_need_write(t, err, "adding a task")) != PD_OK)
		return e;
	if ((unsigned)n->kind < 1 || (unsigned)n->kind > CAT_TASK_KINDS)
		return pd_fail(err, PD_ERR_USAGE, "task of unknown kind %d",
		    (int)n->kind);
	if (n->tree == NULL)
		return pd_fail(err, PD_ERR_USAGE, "%s task without a tree",
		    cat_task_kind_name(n->kind));
	if (n->tree[0] != '\0' && (why = pr_tree_name_check(n->tree)) !=
	    NULL)
		return pd_fail(err, PD_ERR_USAGE, "%s task: bad tree name "
		    "\"%s\": %s", cat_task_kind_name(n->kind), n->tree, why);
	if (n->arg != NULL && strlen(n->arg) > CAT_TASK_ARG_MAX)
		return pd_fail(err, PD_ERR_USAGE, "%s task of tree %s: "
		    "argument longer than %d bytes",
		    cat_task_kind_name(n->kind), n->tree, CAT_TASK_ARG_MAX);
	if (n->max_attempts > CAT_TASK_ATTEMPTS_MAX)
		return pd_fail(err, PD_ERR_USAGE, "%s task of tree %s: %u "
		    "attempts, more than %d", cat_task_kind_name(n->kind),
		    n->tree, n->max_attempts, CAT_TASK_ATTEMPTS_MAX);
	if ((rc = mdb_stat(t->txn, t->cat->taskq, &st)) != 0)
		return cat_dberr(t->cat, rc, err, "counting tasks");
	if (st.ms_entries >= CAT_TASK_ACTIVE_MAX)
		return pd_fail(err, PD_ERR_LIMIT, "%d tasks queued or running "
		    "already: not taking more", CAT_TASK_ACTIVE_MAX);
	memset(&task, 0, sizeof(task));
	if ((e = next_id(t, &task.id, err)) != PD_OK)
		return e;
	task.kind = n->kind;
	cat_task_setstr(task.tree, PR_TREE_NAME_MAX, n->tree);
	task.priority = n->priority;
	task.state = CAT_TASK_QUEUED;
	task.max_attempts = n->max_attempts ? n->max_attempts :
	    CAT_TASK_ATTEMPTS_DEFAULT;
	task.created = now;
	task.next_run = n->not_before > now ? n->not_before : now;
	if (n->arg != NULL)
		cat_task_setstr(task.arg, CAT_TASK_ARG_MAX, n->arg);
	if ((e = cat_task_store(t, &task, err)) != PD_OK)
		return e;
	if (out != NULL)
		*out = task;
	return PD_OK;
}

enum pd_err
cat_task_get(struct cat_txn *t, uint64_t id, struct cat_task *out,
    struct pd_error *err)
{
	return cat_task_load(t, id, out, err);
}

enum pd_err
cat_task_list(struct cat_txn *t, const char *tree, size_t limit,
    struct cat_task **out, size_t *n, struct pd_error *err)
{
	struct cat_task *arr = NULL, *na;
	size_t cnt = 0, cap = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	enum pd_err e = PD_OK;
	int rc;

	*out = NULL;
	*n = 0;
	if (!t->cat->has_tasks || limit == 0)
		return PD_OK;
	if ((rc = mdb_cursor_open(t->txn, t->cat->tasks, &cur)) != 0)
		return cat_dberr(t->cat, rc, err, "listing tasks");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0 &&
	    cnt < limit; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if (cap > limit)
				cap = limit;
			if ((na = pd_reallocarray(arr, cap, sizeof(*arr))) ==
			    NULL) {
				e = pd_fail(err, PD_ERR_NOMEM, "listing tasks");
				break;
			}
			arr = na;
		}
		if (!task_unpack(&k, &v, &arr[cnt])) {
			e = pd_fail(err, PD_ERR_CORRUPT, "catalog %s: damaged "
			    "task record", t->cat->dir);
			break;
		}
		if (tree == NULL || strcmp(arr[cnt].tree, tree) == 0)
			cnt++;
	}
	mdb_cursor_close(cur);
	if (e == PD_OK && rc != 0 && rc != MDB_NOTFOUND)
		e = cat_dberr(t->cat, rc, err, "listing tasks");
	if (e != PD_OK || cnt == 0) {
		pd_free(arr);
		return e;
	}
	*out = arr;
	*n = cnt;
	return PD_OK;
}

enum pd_err
cat_task_cancel(struct cat_txn *t, uint64_t id, int64_t now,
    struct cat_task *out, struct pd_error *err)
{
	struct cat_task task;
	enum pd_err e;

	if ((e = cat_task_need_write(t, err, "canceling a task")) != PD_OK ||
	    (e = cat_task_load(t, id, &task, err)) != PD_OK)
		return e;
	if (!cat_task_active(task.state))
		return pd_fail(err, PD_ERR_CONFLICT, "task %" PRIu64 " (%s of "
		    "%s) has already ended: %s", id,
		    cat_task_kind_name(task.kind), task.tree,
		    cat_task_state_name(task.state));
	task.cancel = true;
	if (task.state == CAT_TASK_QUEUED) {
		task.state = CAT_TASK_CANCELED;
		task.finished = now;
	}
	if ((e = cat_task_store(t, &task, err)) != PD_OK)
		return e;
	if (out != NULL)
		*out = task;
	return PD_OK;
}

enum pd_err
cat_task_prune(struct cat_txn *t, size_t keep, struct pd_error *err)
{
	MDB_stat all, act;
	MDB_cursor *cur;
	MDB_val k, v, q;
	size_t excess;
	int rc;

	if (!t->write || !t->cat->has_tasks)
		return cat_task_need_write(t, err, "pruning tasks");
	if ((rc = mdb_stat(t->txn, t->cat->tasks, &all)) != 0 ||
	    (rc = mdb_stat(t->txn, t->cat->taskq, &act)) != 0)
		return cat_dberr(t->cat, rc, err, "counting tasks");
	if (all.ms_entries - act.ms_entries <= keep)
		return PD_OK;
	excess = all.ms_entries - act.ms_entries - keep;
	if ((rc = mdb_cursor_open(t->txn, t->cat->tasks, &cur)) != 0)
		return cat_dberr(t->cat, rc, err, "pruning tasks");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 &&
	    excess > 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = mdb_get(t->txn, t->cat->taskq, &k, &q)) == 0)
			continue;
		if (rc != MDB_NOTFOUND || (rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		excess--;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return cat_dberr(t->cat, rc, err, "pruning tasks");
	return PD_OK;
}

enum pd_err
cat_task_lock(struct cat *c, int *fd, struct pd_error *err)
{
	int f, e;

	f = openat(c->lockfd, ".tasks.lock", O_RDWR | O_CREAT | O_CLOEXEC,
	    0644);
	if (f < 0)
		return pd_fail_errno(err, PD_ERR_IO, errno, "%s/locks/"
		    ".tasks.lock", c->dir);
	if (flock(f, LOCK_EX | LOCK_NB) < 0) {
		e = errno;
		close(f);
		if (e == EWOULDBLOCK)
			return pd_fail(err, PD_ERR_CONFLICT, "another process "
			    "runs the tasks of %s", c->dir);
		return pd_fail_errno(err, PD_ERR_IO, e, "locking the tasks of "
		    "%s", c->dir);
	}
	*fd = f;
	return PD_OK;
}
