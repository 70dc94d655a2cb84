/*
 * The watcher's calls made by the event loop (watch.h): starting and
 * stopping the thread, commands in, reports out.  None of them blocks
 * on the file system: walks happen on the watcher thread (watch.c).
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <inotifytools/inotifytools.h>

#include "../common/mem.h"
#include "watch_int.h"

/* libinotifytools has one instance per process. */
static atomic_bool instance;

enum pd_err
nd_watch_new(struct nd_watch **out, struct pd_error *err)
{
	struct nd_watch *w;
	sigset_t all, old;
	int e;

	*out = NULL;
	if (atomic_exchange(&instance, true))
		return pd_fail(err, PD_ERR_EXISTS, "an inotify watcher "
		    "exists already in this process (libinotifytools keeps "
		    "global state)");
	if ((w = pd_calloc(1, sizeof(*w))) == NULL) {
		atomic_store(&instance, false);
		return pd_fail(err, PD_ERR_NOMEM, "inotify watcher");
	}
	pthread_mutex_init(&w->mu, NULL);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		e = errno;
		nd_watch_free(w);
		return pd_fail_errno(err, PD_ERR_IO, e, "inotify watcher: "
		    "eventfd");
	}
	if (!inotifytools_initialize()) {
		e = inotifytools_error();
		nd_watch_free(w);
		return pd_fail_errno(err, PD_ERR_IO, e, "initialising "
		    "inotify (see fs.inotify.max_user_instances)");
	}
	/* Signals are the loop's business, not this thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&w->thread, NULL, nd_w_run, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		nd_watch_free(w);
		return pd_fail_errno(err, PD_ERR_IO, e, "inotify watcher: "
		    "starting its thread");
	}
	w->started = true;
	*out = w;
	return PD_OK;
}

static void
push_cmd(struct nd_watch *w, struct cmd *c)
{
	pthread_mutex_lock(&w->mu);
	if (w->cmds_tail)
		w->cmds_tail->next = c;
	else
		w->cmds = c;
	w->cmds_tail = c;
	pthread_mutex_unlock(&w->mu);
}

/* a is b, or one of its parents (both without trailing '/'). */
static bool
contains(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (n == 1 && a[0] == '/')
		return true;
	return strncmp(a, b, n) == 0 && (b[n] == '/' || b[n] == '\0');
}

enum pd_err
nd_watch_add(struct nd_watch *w, const char *tree, const char *root,
    unsigned quiet_ms, struct pd_error *err)
{
	struct reg *g, *o;
	struct cmd *c = NULL;
	enum pd_err rc;
	size_t n;

	if (tree == NULL || tree[0] == '\0')
		return pd_fail(err, PD_ERR_USAGE, "watching: empty tree name");
	if (root == NULL || root[0] != '/')
		return pd_fail(err, PD_ERR_USAGE, "watching tree %s: source "
		    "%s is not an absolute path", tree, root ? root : "");
	if (quiet_ms == 0)
		return pd_fail(err, PD_ERR_USAGE, "watching tree %s: the "
		    "quiet period must be at least 1 ms", tree);
	if ((g = pd_calloc(1, sizeof(*g))) == NULL ||
	    (g->name = pd_strdup(tree)) == NULL ||
	    (g->root = pd_strdup(root)) == NULL)
		goto nomem;
	for (n = strlen(g->root); n > 1 && g->root[n - 1] == '/'; n--)
		g->root[n - 1] = '\0';
	for (o = w->regs; o != NULL; o = o->next) {
		if (strcmp(o->name, tree) == 0) {
			rc = pd_fail(err, PD_ERR_USAGE, "watching tree %s: it "
			    "is watched already", tree);
			goto fail;
		}
		if (contains(o->root, g->root) || contains(g->root, o->root)) {
			rc = pd_fail(err, PD_ERR_USAGE, "watching tree %s: "
			    "source %s overlaps %s of tree %s", tree, g->root,
			    o->root, o->name);
			goto fail;
		}
	}
	if ((c = pd_calloc(1, sizeof(*c))) == NULL ||
	    (c->name = pd_strdup(g->name)) == NULL ||
	    (c->root = pd_strdup(g->root)) == NULL)
		goto nomem;
	c->kind = CMD_ADD;
	c->quiet_ms = quiet_ms;
	g->next = w->regs;
	w->regs = g;
	push_cmd(w, c);
	return PD_OK;
nomem:
	rc = pd_fail(err, PD_ERR_NOMEM, "watching tree %s", tree);
fail:
	if (c)
		nd_w_free_cmd(c);
	if (g) {
		pd_free(g->name);
		pd_free(g->root);
		pd_free(g);
	}
	return rc;
}

enum pd_err
nd_watch_remove(struct nd_watch *w, const char *tree, struct pd_error *err)
{
	struct reg **gp, *g;
	struct cmd *c;

	for (gp = &w->regs; (g = *gp) != NULL; gp = &g->next)
		if (strcmp(g->name, tree) == 0)
			break;
	if (g == NULL)
		return pd_fail(err, PD_ERR_NOTFOUND, "tree %s is not watched",
		    tree);
	if ((c = pd_calloc(1, sizeof(*c))) == NULL ||
	    (c->name = pd_strdup(tree)) == NULL) {
		pd_free(c);
		return pd_fail(err, PD_ERR_NOMEM, "unwatching tree %s", tree);
	}
	c->kind = CMD_REMOVE;
	*gp = g->next;
	pd_free(g->name);
	pd_free(g->root);
	pd_free(g);
	push_cmd(w, c);
	return PD_OK;
}

int
nd_watch_fd(const struct nd_watch *w)
{
	return w->efd;
}

enum pd_err
nd_watch_next(struct nd_watch *w, struct nd_watch_report *out)
{
	struct rep *r;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&w->mu);
	if ((r = w->reps) != NULL && (w->reps = r->next) == NULL)
		w->reps_tail = NULL;
	/* Empty now: clear the counter so that the fd stops polling in. */
	if (w->reps == NULL && read(w->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: it was clear. */
	}
	pthread_mutex_unlock(&w->mu);
	if (r == NULL)
		return PD_ERR_NOTFOUND;
	out->tree = r->tree;
	out->flags = r->flags;
	out->error = r->error;
	pd_free(r);
	return PD_OK;
}

void
nd_watch_report_clear(struct nd_watch_report *r)
{
	pd_free(r->tree);
	memset(r, 0, sizeof(*r));
}

void
nd_watch_inject_overflow(struct nd_watch *w)
{
	struct cmd *c;

	/* Test hook: out of memory just means no injection. */
	if ((c = pd_calloc(1, sizeof(*c))) == NULL)
		return;
	c->kind = CMD_OVERFLOW;
	push_cmd(w, c);
}

void
nd_watch_free(struct nd_watch *w)
{
	struct tree *t;
	struct cmd *c;
	struct rep *r;
	struct reg *g;
	size_t wd;

	if (w == NULL)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->quit = true;
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
	}
	while ((t = w->trees) != NULL) {
		w->trees = t->next;
		nd_w_free_tree(t);
	}
	for (wd = 1; wd < w->nslots; wd++)
		pd_free(w->slots[wd].path);
	pd_free(w->slots);
	while ((c = w->cmds) != NULL) {
		w->cmds = c->next;
		nd_w_free_cmd(c);
	}
	while ((r = w->reps) != NULL) {
		w->reps = r->next;
		pd_free(r->tree);
		pd_free(r);
	}
	while ((g = w->regs) != NULL) {
		w->regs = g->next;
		pd_free(g->name);
		pd_free(g->root);
		pd_free(g);
	}
	if (w->efd >= 0)
		close(w->efd);
	pthread_mutex_destroy(&w->mu);
	pd_free(w);
	inotifytools_cleanup();
	atomic_store(&instance, false);
}
