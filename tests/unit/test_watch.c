/*
 * Unit tests of node/watch.c on real temporary directories: one report
 * per burst, new and moved-in directories watched, reports naming the
 * right tree, rescans after an (injected) overflow and after directory
 * moves, bad input refused, a clean stop.
 *
 * The overflow is injected with nd_watch_inject_overflow, which runs the
 * watcher's own handling of IN_Q_OVERFLOW: a real one needs more events
 * than fs.inotify.max_queued_events, a system-wide setting a test must
 * not lower.  Waits are polls with generous deadlines; nothing asserts
 * how long anything took.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/fsx.h"
#include "../../common/mem.h"
#include "../../node/watch.h"
#include "unit.h"

#define QUIET_MS	300
#define DEADLINE_MS	15000	/* for a report that must come */
#define SETTLE_MS	2500	/* for one that must not (> QUIET + 1 s) */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next report within ms milliseconds: true, or false if none. */
static bool
next_report(struct nd_watch *w, int ms, struct nd_watch_report *r)
{
	int64_t end = mono_ms() + ms, left;
	struct pollfd pfd;

	for (;;) {
		if (nd_watch_next(w, r) == PD_OK)
			return true;
		if ((left = end - mono_ms()) <= 0)
			return false;
		pfd.fd = nd_watch_fd(w);
		pfd.events = POLLIN;
		pfd.revents = 0;
		(void)poll(&pfd, 1, (int)left);
	}
}

/*
 * Wait for a report of tree with all of flags; reports of other trees
 * are counted in *others (if not NULL).  Asserts it came.
 */
static void
expect(struct nd_watch *w, const char *tree, unsigned flags, int *others)
{
	struct nd_watch_report r;
	int64_t end = mono_ms() + DEADLINE_MS;
	bool got = false;

	while (!got && mono_ms() < end &&
	    next_report(w, (int)(end - mono_ms()), &r)) {
		if (strcmp(r.tree, tree) == 0 && (r.flags & flags) == flags) {
			got = true;
			CU_ASSERT_EQUAL(r.error.code, PD_OK);
			if (r.error.code != PD_OK)
				fprintf(stderr, "watch: %s\n", r.error.msg);
		} else if (others)
			(*others)++;
		nd_watch_report_clear(&r);
	}
	CU_ASSERT(got);
	if (!got)
		fprintf(stderr, "watch: no report for %s (flags %#x)\n", tree,
		    flags);
}

/* Reports arriving in SETTLE_MS (taken and counted). */
static int
settle(struct nd_watch *w)
{
	struct nd_watch_report r;
	int n = 0;

	while (next_report(w, SETTLE_MS, &r)) {
		n++;
		nd_watch_report_clear(&r);
	}
	return n;
}

static void
mkdirp(const char *dir, const char *name)
{
	char p[4096];

	unit_pjoin(p, sizeof(p), dir, name);
	CU_ASSERT_EQUAL_FATAL(mkdir(p, 0755), 0);
}

static void
move(const char *da, const char *a, const char *db, const char *b)
{
	char pa[4096], pb[4096];

	unit_pjoin(pa, sizeof(pa), da, a);
	unit_pjoin(pb, sizeof(pb), db, b);
	CU_ASSERT_EQUAL_FATAL(rename(pa, pb), 0);
}

/* A watcher with tree name at dir, started. */
static struct nd_watch *
start(const char *name, const char *dir)
{
	struct pd_error err = { 0 };
	struct nd_watch *w = NULL;

	CU_ASSERT_EQUAL_FATAL(nd_watch_new(&w, &err), PD_OK);
	CU_ASSERT_EQUAL_FATAL(nd_watch_add(w, name, dir, QUIET_MS, &err),
	    PD_OK);
	expect(w, name, ND_WATCH_STARTED, NULL);
	return w;
}

static void
test_burst(void)
{
	char *tmp = unit_tmpdir(), sub[4096], name[64], path[4096];
	struct nd_watch_report r;
	struct nd_watch *w;
	int i, n = 0;

	mkdirp(tmp, "sub");
	unit_pjoin(sub, sizeof(sub), tmp, "sub");
	w = start("t", tmp);

	/* Create, modify, chmod, rename and delete 300 files at once. */
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		unit_write(i % 2 ? sub : tmp, name, "x", 1);
	}
	for (i = 0; i < 300; i += 3) {
		snprintf(name, sizeof(name), "f%03d", i);
		unit_write(i % 2 ? sub : tmp, name, "yy", 2);
		unit_pjoin(path, sizeof(path), i % 2 ? sub : tmp, name);
		CU_ASSERT_EQUAL(chmod(path, 0600), 0);
	}
	for (i = 1; i < 300; i += 3) {
		snprintf(name, sizeof(name), "f%03d", i);
		unit_pjoin(path, sizeof(path), i % 2 ? sub : tmp, name);
		CU_ASSERT_EQUAL(unlink(path), 0);
	}
	for (i = 2; i < 300; i += 3) {
		snprintf(name, sizeof(name), "f%03d", i);
		move(i % 2 ? sub : tmp, name, tmp, "renamed");
	}
	CU_ASSERT_FATAL(next_report(w, DEADLINE_MS, &r));
	CU_ASSERT_STRING_EQUAL(r.tree, "t");
	CU_ASSERT_EQUAL(r.flags, ND_WATCH_CHANGED);
	CU_ASSERT_EQUAL(r.error.code, PD_OK);
	nd_watch_report_clear(&r);
	/* One report for the whole burst. */
	CU_ASSERT_EQUAL(settle(w), 0);

	/* Quiet trees are not reported; the next change is. */
	unit_write(sub, "again", "z", 1);
	expect(w, "t", ND_WATCH_CHANGED, &n);
	CU_ASSERT_EQUAL(n, 0);
	nd_watch_free(w);
	unit_rmdir(tmp);
}

static void
test_new_dirs(void)
{
	char *tmp = unit_tmpdir(), *out = unit_tmpdir(), p[4096];
	struct nd_watch *w;
	int n = 0;

	w = start("t", tmp);
	/* A directory made after the start, then a file in it. */
	mkdirp(tmp, "new");
	expect(w, "t", ND_WATCH_CHANGED, &n);
	CU_ASSERT_EQUAL(settle(w), 0);
	unit_pjoin(p, sizeof(p), tmp, "new");
	unit_write(p, "inside", "1", 1);
	expect(w, "t", ND_WATCH_CHANGED, &n);
	CU_ASSERT_EQUAL(settle(w), 0);

	/* Nested directories made at once (some before their parent's
	 * watch exists), then a file at the bottom. */
	unit_pjoin(p, sizeof(p), tmp, "new/a");
	CU_ASSERT_EQUAL_FATAL(mkdir(p, 0755), 0);
	unit_pjoin(p, sizeof(p), tmp, "new/a/b");
	CU_ASSERT_EQUAL_FATAL(mkdir(p, 0755), 0);
	unit_pjoin(p, sizeof(p), tmp, "new/a/b/c");
	CU_ASSERT_EQUAL_FATAL(mkdir(p, 0755), 0);
	expect(w, "t", ND_WATCH_CHANGED, &n);
	CU_ASSERT_EQUAL(settle(w), 0);
	unit_write(p, "deep", "2", 1);
	expect(w, "t", ND_WATCH_CHANGED, &n);

	/* A directory (with contents) moved in from outside the tree. */
	mkdirp(out, "d");
	mkdirp(out, "d/e");
	CU_ASSERT_EQUAL(settle(w), 0);
	move(out, "d", tmp, "d");
	expect(w, "t", ND_WATCH_CHANGED, &n);
	CU_ASSERT_EQUAL(settle(w), 0);
	unit_pjoin(p, sizeof(p), tmp, "d/e");
	unit_write(p, "f", "3", 1);
	expect(w, "t", ND_WATCH_CHANGED, &n);
	CU_ASSERT_EQUAL(settle(w), 0);

	/* Deleted and made again at the same path (the library still
	 * holds the dead watches' paths), then a file deep inside. */
	unit_pjoin(p, sizeof(p), tmp, "new");
	CU_ASSERT_EQUAL(pd_remove_tree_at(AT_FDCWD, p, NULL), PD_OK);
	mkdirp(tmp, "new");
	mkdirp(tmp, "new/a");
	expect(w, "t", ND_WATCH_CHANGED, &n);
	CU_ASSERT_EQUAL(settle(w), 0);
	unit_pjoin(p, sizeof(p), tmp, "new/a");
	unit_write(p, "f", "4", 1);
	expect(w, "t", ND_WATCH_CHANGED, &n);
	CU_ASSERT_EQUAL(n, 0);
	nd_watch_free(w);
	unit_rmdir(tmp);
	unit_rmdir(out);
}

static void
test_two_trees(void)
{
	char *a = unit_tmpdir(), *b = unit_tmpdir(), p[4096];
	struct pd_error err = { 0 };
	struct nd_watch_report r;
	struct nd_watch *w;

	mkdirp(b, "deep");
	w = start("ta", a);
	CU_ASSERT_EQUAL(nd_watch_add(w, "tb", b, QUIET_MS, &err), PD_OK);
	expect(w, "tb", ND_WATCH_STARTED, NULL);

	unit_pjoin(p, sizeof(p), b, "deep");
	unit_write(p, "f", "1", 1);
	CU_ASSERT_FATAL(next_report(w, DEADLINE_MS, &r));
	CU_ASSERT_STRING_EQUAL(r.tree, "tb");
	CU_ASSERT_EQUAL(r.flags, ND_WATCH_CHANGED);
	nd_watch_report_clear(&r);
	CU_ASSERT_EQUAL(settle(w), 0);

	unit_write(a, "g", "2", 1);
	CU_ASSERT_FATAL(next_report(w, DEADLINE_MS, &r));
	CU_ASSERT_STRING_EQUAL(r.tree, "ta");
	nd_watch_report_clear(&r);
	CU_ASSERT_EQUAL(settle(w), 0);

	/* Removed: no more reports for it. */
	CU_ASSERT_EQUAL(nd_watch_remove(w, "ta", &err), PD_OK);
	CU_ASSERT_EQUAL(nd_watch_remove(w, "ta", &err), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "ta"));
	/* Commands run within a second or so. */
	CU_ASSERT_EQUAL(settle(w), 0);
	unit_write(a, "h", "3", 1);
	CU_ASSERT_EQUAL(settle(w), 0);
	nd_watch_free(w);
	unit_rmdir(a);
	unit_rmdir(b);
}

static void
test_overflow(void)
{
	char *a = unit_tmpdir(), *b = unit_tmpdir(), p[4096];
	struct pd_error err = { 0 };
	struct nd_watch_report r;
	struct nd_watch *w;
	int n = 0, seen = 0;

	mkdirp(a, "sub");
	mkdirp(a, "sub/deeper");
	w = start("ta", a);
	CU_ASSERT_EQUAL(nd_watch_add(w, "tb", b, QUIET_MS, &err), PD_OK);
	expect(w, "tb", ND_WATCH_STARTED, NULL);

	/* Events were lost: every tree is rescanned and reported. */
	nd_watch_inject_overflow(w);
	while ((seen & 3) != 3 && next_report(w, DEADLINE_MS, &r)) {
		CU_ASSERT_EQUAL(r.flags,
		    ND_WATCH_CHANGED | ND_WATCH_RESCANNED);
		CU_ASSERT_EQUAL(r.error.code, PD_OK);
		seen |= strcmp(r.tree, "ta") == 0 ? 1 : 2;
		nd_watch_report_clear(&r);
	}
	CU_ASSERT_EQUAL(seen, 3);
	CU_ASSERT_EQUAL(settle(w), 0);

	/* The rebuilt watches see a change deep down. */
	unit_pjoin(p, sizeof(p), a, "sub/deeper");
	unit_write(p, "f", "1", 1);
	n = 0;
	expect(w, "ta", ND_WATCH_CHANGED, &n);
	CU_ASSERT_EQUAL(n, 0);
	nd_watch_free(w);
	unit_rmdir(a);
	unit_rmdir(b);
}

static void
test_moves(void)
{
	char *a = unit_tmpdir(), *b = unit_tmpdir(), p[4096];
	struct pd_error err = { 0 };
	struct nd_watch *w;
	int n = 0;

	mkdirp(a, "d");
	mkdirp(a, "d/sub");
	mkdirp(a, "x");
	w = start("ta", a);
	CU_ASSERT_EQUAL(nd_watch_add(w, "tb", b, QUIET_MS, &err), PD_OK);
	expect(w, "tb", ND_WATCH_STARTED, NULL);

	/* Renamed within the tree: paths under it are rebuilt. */
	move(a, "d", a, "e");
	expect(w, "ta", ND_WATCH_CHANGED | ND_WATCH_RESCANNED, &n);
	CU_ASSERT_EQUAL(settle(w), 0);
	unit_pjoin(p, sizeof(p), a, "e/sub");
	mkdirp(p, "new");
	expect(w, "ta", ND_WATCH_CHANGED, &n);
	CU_ASSERT_EQUAL(settle(w), 0);
	unit_pjoin(p, sizeof(p), a, "e/sub/new");
	unit_write(p, "f", "1", 1);
	expect(w, "ta", ND_WATCH_CHANGED, &n);
	CU_ASSERT_EQUAL(n, 0);

	/*
	 * Moved from one tree to the other: the directory is still
	 * watched for ta when tb first tries, which fails and is
	 * retried; in the end it is tb's.
	 */
	move(a, "e", b, "e");
	expect(w, "ta", ND_WATCH_CHANGED | ND_WATCH_RESCANNED, &n);
	(void)settle(w);
	(void)settle(w);
	unit_pjoin(p, sizeof(p), b, "e/sub/new");
	unit_write(p, "g", "2", 1);
	n = 0;
	expect(w, "tb", ND_WATCH_CHANGED, &n);
	CU_ASSERT_EQUAL(n, 0);
	/* And no longer ta's. */
	CU_ASSERT_EQUAL(settle(w), 0);
	unit_write(p, "h", "3", 1);
	expect(w, "tb", ND_WATCH_CHANGED, &n);
	CU_ASSERT_EQUAL(n, 0);
	nd_watch_free(w);
	unit_rmdir(a);
	unit_rmdir(b);
}

static void
test_root_gone(void)
{
	char *tmp = unit_tmpdir(), p[4096];
	struct pd_error err = { 0 };
	struct nd_watch_report r;
	struct nd_watch *w = NULL;

	unit_pjoin(p, sizeof(p), tmp, "missing");
	CU_ASSERT_EQUAL_FATAL(nd_watch_new(&w, &err), PD_OK);
	CU_ASSERT_EQUAL(nd_watch_add(w, "m", p, QUIET_MS, &err), PD_OK);
	CU_ASSERT_FATAL(next_report(w, DEADLINE_MS, &r));
	CU_ASSERT_STRING_EQUAL(r.tree, "m");
	CU_ASSERT(r.flags & ND_WATCH_STARTED);
	CU_ASSERT_EQUAL(r.error.code, PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.error.msg, p));
	nd_watch_report_clear(&r);

	/* It appears: a retry watches it and reports it changed. */
	CU_ASSERT_EQUAL_FATAL(mkdir(p, 0755), 0);
	while (next_report(w, DEADLINE_MS, &r) && r.error.code != PD_OK) {
		CU_ASSERT(r.flags & ND_WATCH_RESCANNED);
		nd_watch_report_clear(&r);
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.tree);
	CU_ASSERT_EQUAL(r.flags, ND_WATCH_CHANGED | ND_WATCH_RESCANNED);
	nd_watch_report_clear(&r);
	CU_ASSERT_EQUAL(settle(w), 0);
	unit_write(p, "f", "1", 1);
	expect(w, "m", ND_WATCH_CHANGED, NULL);
	nd_watch_free(w);
	unit_rmdir(tmp);
}

static void
test_refusals(void)
{
	char *tmp = unit_tmpdir(), p[4096];
	struct pd_error err = { 0 };
	struct nd_watch *w = NULL, *w2 = NULL;

	CU_ASSERT_EQUAL_FATAL(nd_watch_new(&w, &err), PD_OK);
	CU_ASSERT_EQUAL(nd_watch_new(&w2, &err), PD_ERR_EXISTS);
	CU_ASSERT_PTR_NULL(w2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "libinotifytools"));

	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_watch_add(w, "", tmp, 10, &err), PD_ERR_USAGE);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_watch_add(w, "t", "rel/dir", 10, &err),
	    PD_ERR_USAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "rel/dir"));
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_watch_add(w, "t", tmp, 0, &err), PD_ERR_USAGE);
	CU_ASSERT_EQUAL(nd_watch_add(w, "t", tmp, 10, &err), PD_OK);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_watch_add(w, "t", "/elsewhere", 10, &err),
	    PD_ERR_USAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "already"));
	unit_pjoin(p, sizeof(p), tmp, "inner");
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_watch_add(w, "u", p, 10, &err), PD_ERR_USAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "overlaps"));
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(nd_watch_add(w, "v", "/tmp", 10, &err),
	    PD_ERR_USAGE);
	/* A sibling with a common prefix is no overlap. */
	snprintf(p, sizeof(p), "%sx", tmp);
	CU_ASSERT_EQUAL(nd_watch_add(w, "w", p, 10, &err), PD_OK);
	expect(w, "t", ND_WATCH_STARTED, NULL);
	nd_watch_free(w);

	/* Free: a new one may be made. */
	CU_ASSERT_EQUAL(nd_watch_new(&w2, &err), PD_OK);
	nd_watch_free(w2);
	nd_watch_free(NULL);
	unit_rmdir(tmp);
}

static void
test_stop_pending(void)
{
	char *tmp = unit_tmpdir(), name[64];
	struct pd_error err = { 0 };
	struct nd_watch *w;
	int i;

	mkdirp(tmp, "d");
	w = start("t", tmp);
	/* Events queued, a report pending and one not yet due. */
	for (i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		unit_write(tmp, name, "x", 1);
	}
	nd_watch_inject_overflow(w);
	CU_ASSERT_EQUAL(nd_watch_add(w, "u", "/nonexistent-pulpdist", 10,
	    &err), PD_OK);
	nd_watch_free(w);

	/* And once more with reports queued and never taken. */
	w = start("t", tmp);
	unit_write(tmp, "late", "x", 1);
	(void)usleep(100 * 1000);
	nd_watch_free(w);
	unit_rmdir(tmp);
}

static int
add_suite(void)
{
	static const struct unit_test tests[] = {
		{ "refusals", test_refusals },
		{ "burst", test_burst },
		{ "new directories", test_new_dirs },
		{ "two trees", test_two_trees },
		{ "overflow", test_overflow },
		{ "directory moves", test_moves },
		{ "root gone", test_root_gone },
		{ "stop with events pending", test_stop_pending },
	};

	return UNIT_SUITE("watch", NULL, NULL, tests);
}

UNIT_REGISTER("watch", add_suite)
