/*
 * Leases checked by the commits that publish (DESIGN.md rule 8): a real
 * import and a real pull with a stale lease publish nothing, a run of
 * the engine that stalled past its lease publishes nothing, and a task
 * whose node was killed (kill -9) mid-run is resumed by the next start
 * and publishes its tree.  The engine's end-of-run events are read from
 * its eventfd here; waits are bounded only to fail, not to measure.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../catalog/catalog.h"
#include "../../catalog/tasks.h"
#include "../../common/mem.h"
#include "../../node/dcache.h"
#include "../../node/engine.h"
#include "../../node/import.h"
#include "../../node/pull.h"
#include "../../node/server.h"
#include "../../protocol/sign.h"
#include "unit.h"

#define GIVE_UP_MS	60000

/* What an import needs: a source and the tree's key. */
static struct {
	char		 src[4096];
	struct pr_key	*key;
	int		 pipe_w;	/* a child's line to the parent */
	atomic_int	 lost_seen;
} imp;

static _Atomic int64_t fake_now;

static int64_t
fake_clock(void *arg)
{
	(void)arg;
	return atomic_load(&fake_now);
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

/*
 * A task of kind for tree "docs", claimed, taken back when its lease ran
 * out and claimed again: *stale is the first run's lease (epoch 1),
 * *cur the second's (epoch 3, renewed for a minute of real time).
 */
static uint64_t
two_leases(struct cat *c, enum cat_task_kind kind, struct cat_lease *stale,
    struct cat_lease *cur)
{
	struct cat_task_new n = { kind, "docs", 0, 0, NULL, 0 };
	struct cat_task t;
	struct cat_txn *txn;
	int64_t now = cat_clock_now(NULL);

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &txn, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_task_add(txn, &n, now, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_task_claim(txn, "w1", now, 1000, NULL, NULL,
	    &t, NULL, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_task_claim(txn, "w2", now + 1000, 1000,
	    NULL, NULL, &t, NULL, NULL), PD_OK);
	CU_ASSERT_EQUAL(t.epoch, 3);
	stale->task = cur->task = t.id;
	stale->epoch = 1;
	cur->epoch = 3;
	stale->clock = cur->clock = NULL;
	CU_ASSERT_EQUAL_FATAL(cat_task_renew(txn, cur, now + 1, 60000, NULL,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(txn, NULL), PD_OK);
	return t.id;
}

/* End the run of lease l: done. */
static void
done(struct cat *c, const struct cat_lease *l)
{
	struct cat_txn *txn;

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &txn, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_finish(txn, l, CAT_END_DONE, NULL,
	    cat_clock_now(NULL), 0, NULL, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_commit(txn, NULL), PD_OK);
}

static bool
has_tree(struct cat *c, const char *tree, uint64_t *head)
{
	struct cat_tree tr;
	struct cat_txn *txn;
	enum pd_err rc;

	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &txn, NULL), PD_OK);
	rc = cat_tree_get(txn, tree, &tr, NULL);
	cat_abort(txn);
	if (rc == PD_OK && head != NULL)
		*head = tr.head;
	return rc == PD_OK;
}

static struct nd_engine *
new_engine(struct cat *c, struct nd_engine_opts *o)
{
	struct nd_engine *e = NULL;

	CU_ASSERT_EQUAL_FATAL(nd_engine_new(c, o, &e, NULL), PD_OK);
	return e;
}

/* Wait, on the engine's eventfd, until n runs have ended. */
static bool
wait_fd(struct nd_engine *e, uint64_t n)
{
	struct pollfd p = { nd_engine_fd(e), POLLIN, 0 };
	uint64_t seen = 0, cnt;

	while (seen < n) {
		if (poll(&p, 1, GIVE_UP_MS) != 1)
			return false;
		if (read(p.fd, &cnt, sizeof(cnt)) == (ssize_t)sizeof(cnt))
			seen += cnt;
	}
	return true;
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

/*
 * The commit of a real import checks the lease in its transaction: a
 * stale one publishes nothing, the current one publishes the version.
 */
static void
test_import_lease(void)
{
	char *tmp, data[4096], src[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct nd_import_opts o = { 0 };
	struct nd_import_result res;
	struct cat_lease stale, cur;
	struct cat_version *vs;
	struct cat_tree tr;
	struct cat_txn *t;
	struct pr_key *key;
	struct pd_error e;
	size_t n;

	unit_pjoin(src, sizeof(src), tmp, "src");
	CU_ASSERT_EQUAL_FATAL(mkdir(src, 0755), 0);
	unit_write(src, "a.txt", "alpha\n", 6);
	unit_write(src, "b.txt", "beta\n", 5);
	CU_ASSERT_EQUAL_FATAL(pr_key_generate(&key, NULL), PD_OK);
	two_leases(c, CAT_TASK_IMPORT, &stale, &cur);

	o.tree = "docs";
	o.src = src;
	o.key = key;
	o.threads = 1;
	o.lease = &stale;
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(nd_import(c, &o, &res, &e), PD_ERR_CONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "stale"));
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_get(t, "docs", &tr, NULL), PD_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(cat_version_list(t, "docs", &vs, &n, NULL), PD_OK);
	CU_ASSERT_EQUAL(n, 0);
	pd_free(vs);
	cat_abort(t);

	o.lease = &cur;
	CU_ASSERT_EQUAL(nd_import(c, &o, &res, NULL), PD_OK);
	CU_ASSERT_EQUAL(res.version.number, 1);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_get(t, "docs", &tr, NULL), PD_OK);
	CU_ASSERT_EQUAL(tr.head, 1);
	cat_abort(t);

	/* Finished, the task's lease publishes nothing more. */
	done(c, &cur);
	unit_write(src, "c.txt", "gamma\n", 6);
	CU_ASSERT_EQUAL(nd_import(c, &o, &res, NULL), PD_ERR_CONFLICT);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &t, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_get(t, "docs", &tr, NULL), PD_OK);
	CU_ASSERT_EQUAL(tr.head, 1);
	cat_abort(t);
	pr_key_free(key);
	cat_close(c);
	unit_rmdir(tmp);
}

/* A child serving the data directory data; its address comes through
 * the pipe.  Stopped by SIGTERM from the parent, by its pid. */
static void
serve_child(const char *data, int w)
{
	struct nd_server_opts o = { "127.0.0.1:0", 1, 0, 0 };
	struct nd_server *srv = NULL;
	struct nd_dcache *dc = NULL;
	struct cat *c = NULL;
	char line[ND_ADDR_MAX + 2];
	size_t len;

	signal(SIGPIPE, SIG_IGN);
	if (cat_open(data, 0, &c, NULL) != PD_OK ||
	    nd_dcache_new(c, &dc, NULL) != PD_OK ||
	    nd_server_new(c, dc, &o, &srv, NULL) != PD_OK)
		_exit(1);
	snprintf(line, sizeof(line), "%s\n", nd_server_addr(srv));
	len = strlen(line);
	if (write(w, line, len) != (ssize_t)len)
		_exit(1);
	close(w);
	_exit(nd_server_run(srv, NULL) == PD_OK ? 0 : 1);
}

/*
 * The commit of a real pull checks the lease in its transaction: a
 * stale one publishes nothing (no version recorded, the published link
 * not made); the current one publishes.
 */
static void
test_pull_lease(void)
{
	char *tmp, origin[4096], mirror[4096], pub[4096], link[4096];
	char addr[ND_ADDR_MAX + 16], url[ND_ADDR_MAX + 32], buf[64];
	char path[4096];
	FILE *f;
	struct cat *c = new_cat(&tmp, origin, sizeof(origin));
	struct nd_import_opts io = { 0 };
	struct nd_import_result ires;
	struct nd_pull_opts po = { 0 };
	struct nd_pull_result pres;
	struct cat_lease stale, cur;
	struct pd_error e;
	struct stat st;
	uint64_t head = 0;
	ssize_t got;
	size_t len = 0;
	pid_t pid;
	int fds[2];

	/* The origin: version 1 of docs. */
	unit_pjoin(imp.src, sizeof(imp.src), tmp, "src");
	CU_ASSERT_EQUAL_FATAL(mkdir(imp.src, 0755), 0);
	unit_write(imp.src, "a.txt", "alpha\n", 6);
	unit_write(imp.src, "b.txt", "beta\n", 5);
	CU_ASSERT_EQUAL_FATAL(pr_key_generate(&imp.key, NULL), PD_OK);
	io.tree = "docs";
	io.src = imp.src;
	io.key = imp.key;
	io.threads = 1;
	CU_ASSERT_EQUAL_FATAL(nd_import(c, &io, &ires, NULL), PD_OK);
	cat_close(c);

	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		serve_child(origin, fds[1]);
	}
	close(fds[1]);
	while (len < sizeof(addr) - 1 && (got = read(fds[0], addr + len,
	    sizeof(addr) - 1 - len)) > 0)
		len += (size_t)got;
	close(fds[0]);
	addr[len] = '\0';
	CU_ASSERT_FATAL(len > 1 && addr[len - 1] == '\n');
	addr[len - 1] = '\0';
	snprintf(url, sizeof(url), "http://%s", addr);

	unit_pjoin(mirror, sizeof(mirror), tmp, "mirror");
	unit_pjoin(pub, sizeof(pub), tmp, "pub");
	unit_pjoin(link, sizeof(link), pub, "docs");
	CU_ASSERT_EQUAL_FATAL(mkdir(pub, 0755), 0);
	CU_ASSERT_EQUAL_FATAL(cat_open(mirror, CAT_CREATE, &c, NULL), PD_OK);
	two_leases(c, CAT_TASK_SYNC, &stale, &cur);
	po.from = url;
	po.tree = "docs";
	po.trust = imp.key;
	po.pubdir = pub;
	po.parallel = 1;
	po.threads = 1;
	po.lease = &stale;
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(nd_pull(c, &po, &pres, &e), PD_ERR_CONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "stale"));
	CU_ASSERT_FALSE(has_tree(c, "docs", NULL));
	CU_ASSERT_EQUAL(lstat(link, &st), -1);

	/* The current lease publishes; the refused attempt left nothing
	 * in the way. */
	po.lease = &cur;
	pd_error_clear(&e);
	CU_ASSERT_EQUAL(nd_pull(c, &po, &pres, &e), PD_OK);
	CU_ASSERT_EQUAL(pres.to_version, 1);
	CU_ASSERT_TRUE(has_tree(c, "docs", &head));
	CU_ASSERT_EQUAL(head, 1);
	CU_ASSERT_EQUAL(lstat(link, &st), 0);
	CU_ASSERT(S_ISLNK(st.st_mode));
	unit_pjoin(path, sizeof(path), link, "a.txt");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(path, "rb"));
	CU_ASSERT_EQUAL(fread(buf, 1, sizeof(buf), f), 6);
	CU_ASSERT(memcmp(buf, "alpha\n", 6) == 0);
	fclose(f);
	CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
	CU_ASSERT_EQUAL(unit_child_status(pid), 0);
	pr_key_free(imp.key);
	cat_close(c);
	unit_rmdir(tmp);
}

static enum pd_err
import_run(void *arg, const struct cat_task *t, struct nd_task_ctx *ctx,
    struct pd_error *err)
{
	struct cat *c = arg;
	struct nd_import_opts o = { 0 };
	struct nd_import_result res;

	o.tree = t->tree;
	o.src = imp.src;
	o.key = imp.key;
	o.threads = 1;
	o.lease = nd_task_lease(ctx);
	return nd_import(c, &o, &res, err);
}

/* A worker stalls past its lease: its import publishes nothing. */
static enum pd_err
stall_run(void *arg, const struct cat_task *t, struct nd_task_ctx *ctx,
    struct pd_error *err)
{
	struct pd_error e = { 0 };

	atomic_fetch_add(&fake_now, 10 * 60000);
	if (nd_task_heartbeat(ctx, &e) == PD_ERR_CONFLICT &&
	    nd_task_stopping(ctx))
		atomic_store(&imp.lost_seen, 1);
	return import_run(arg, t, ctx, err);
}

static void
make_src(const char *tmp)
{
	unit_pjoin(imp.src, sizeof(imp.src), tmp, "src");
	CU_ASSERT_EQUAL_FATAL(mkdir(imp.src, 0755), 0);
	unit_write(imp.src, "a.txt", "alpha\n", 6);
	unit_write(imp.src, "b.txt", "beta\n", 5);
	CU_ASSERT_EQUAL_FATAL(pr_key_generate(&imp.key, NULL), PD_OK);
}

static void
test_stale(void)
{
	char *tmp, data[4096];
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_clock clk = { fake_clock, NULL };
	struct nd_engine_opts o = { 0 };
	struct nd_engine_stats st;
	struct cat_tree tr;
	struct cat_txn *txn;
	struct cat_task t;
	struct nd_engine *e;
	uint64_t id;

	make_src(tmp);
	atomic_store(&fake_now, 5000000);
	atomic_store(&imp.lost_seen, 0);
	o.workers = 1;
	o.clock = &clk;
	o.lease_ms = 60000;
	e = new_engine(c, &o);
	CU_ASSERT_EQUAL(nd_engine_register(e, CAT_TASK_IMPORT, stall_run, c,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_engine_start(e, NULL), PD_OK);
	id = submit(e, CAT_TASK_IMPORT, "docs", 0, 1);
	CU_ASSERT_TRUE_FATAL(wait_fd(e, 1));
	CU_ASSERT_EQUAL(atomic_load(&imp.lost_seen), 1);
	t = get(e, id);
	CU_ASSERT_EQUAL(t.state, CAT_TASK_FAILED);
	CU_ASSERT_PTR_NOT_NULL(strstr(t.error, "expired"));
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &txn, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_get(txn, "docs", &tr, NULL),
	    PD_ERR_NOTFOUND);
	cat_abort(txn);
	nd_engine_stats(e, &st);
	CU_ASSERT_EQUAL(st.lost, 1);
	CU_ASSERT_EQUAL(st.failed, 1);
	nd_engine_free(e);
	pr_key_free(imp.key);
	cat_close(c);
	unit_rmdir(tmp);
}

/* The child: run the task's first attempt and get killed inside it. */
static enum pd_err
doomed_run(void *arg, const struct cat_task *t, struct nd_task_ctx *ctx,
    struct pd_error *err)
{
	(void)arg;
	(void)t;
	(void)ctx;
	(void)err;
	if (write(imp.pipe_w, "R", 1) != 1)
		_exit(3);
	for (;;)
		pause();
}

static void
crash_child(const char *data)
{
	struct nd_engine_opts o = { 0 };
	struct nd_engine *e;
	struct cat *c;

	if (cat_open(data, 0, &c, NULL) != PD_OK ||
	    nd_engine_new(c, &o, &e, NULL) != PD_OK ||
	    nd_engine_register(e, CAT_TASK_IMPORT, doomed_run, NULL, NULL) !=
	    PD_OK || nd_engine_start(e, NULL) != PD_OK) {
		if (write(imp.pipe_w, "E", 1) != 1)
			_exit(2);
		_exit(1);
	}
	for (;;)
		pause();
}

static void
test_crash_resume(void)
{
	char *tmp, data[4096], buf = 0;
	struct cat *c = new_cat(&tmp, data, sizeof(data));
	struct cat_task_new n = { CAT_TASK_IMPORT, "docs", 0, 3, NULL, 0 };
	struct nd_engine_opts o = { 0 };
	struct nd_engine_stats st;
	struct cat_version v;
	struct cat_task t, *list;
	struct cat_tree tr;
	struct cat_txn *txn;
	struct nd_engine *e;
	struct pd_error err;
	size_t cnt;
	pid_t pid;
	int fds[2];
	char owner[32];

	make_src(tmp);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, true, &txn, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_task_add(txn, &n, cat_clock_now(NULL), &t,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(cat_commit(txn, NULL), PD_OK);
	/* LMDB handles must not cross a fork: the child opens its own. */
	cat_close(c);
	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		imp.pipe_w = fds[1];
		crash_child(data);
	}
	close(fds[1]);
	CU_ASSERT_EQUAL(read(fds[0], &buf, 1), 1);
	close(fds[0]);
	CU_ASSERT_EQUAL(buf, 'R');
	CU_ASSERT_EQUAL_FATAL(cat_open(data, 0, &c, NULL), PD_OK);
	/* The child runs it: running, its lease the child's. */
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &txn, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_task_get(txn, t.id, &t, NULL), PD_OK);
	cat_abort(txn);
	snprintf(owner, sizeof(owner), "pid %ld", (long)pid);
	CU_ASSERT_EQUAL(t.state, CAT_TASK_RUNNING);
	CU_ASSERT_STRING_EQUAL(t.owner, owner);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_engine_new(c, &o, &e, &err), PD_ERR_CONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "another process"));

	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	CU_ASSERT_EQUAL(unit_child_status(pid), -1);
	e = new_engine(c, &o);
	nd_engine_stats(e, &st);
	CU_ASSERT_EQUAL(st.resumed, 1);
	t = get(e, t.id);
	CU_ASSERT_EQUAL(t.state, CAT_TASK_QUEUED);
	CU_ASSERT_EQUAL(t.epoch, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(t.error, "died during attempt 1"));
	CU_ASSERT_EQUAL(nd_engine_register(e, CAT_TASK_IMPORT, import_run, c,
	    NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_engine_start(e, NULL), PD_OK);
	CU_ASSERT_TRUE_FATAL(wait_fd(e, 1));

	/* Resumed and done; the tree published; the history tells. */
	CU_ASSERT_EQUAL(nd_engine_list(e, "docs", 10, &list, &cnt, NULL),
	    PD_OK);
	CU_ASSERT_EQUAL_FATAL(cnt, 1);
	CU_ASSERT_EQUAL(list[0].id, t.id);
	CU_ASSERT_EQUAL(list[0].state, CAT_TASK_DONE);
	CU_ASSERT_EQUAL(list[0].attempts, 2);
	CU_ASSERT_EQUAL(list[0].epoch, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(list[0].error, owner));
	pd_free(list);
	CU_ASSERT_EQUAL_FATAL(cat_begin(c, false, &txn, NULL), PD_OK);
	CU_ASSERT_EQUAL(cat_tree_get(txn, "docs", &tr, NULL), PD_OK);
	CU_ASSERT_EQUAL(tr.head, 1);
	CU_ASSERT_EQUAL(cat_version_get(txn, "docs", 1, &v, NULL), PD_OK);
	CU_ASSERT_EQUAL(v.files, 2);
	cat_abort(txn);
	nd_engine_free(e);
	pr_key_free(imp.key);
	cat_close(c);
	unit_rmdir(tmp);
}

static int
add_lease(void)
{
	static const struct unit_test tests[] = {
		{ "a stale lease cannot publish an import", test_import_lease },
		{ "a stale lease cannot publish a pull", test_pull_lease },
		{ "a run past its lease publishes nothing", test_stale },
		{ "kill -9 mid-task, resumed on restart", test_crash_resume },
	};

	return UNIT_SUITE("lease", NULL, NULL, tests);
}

UNIT_REGISTER("lease", add_lease)
