/*
 * The inotify watcher of origin trees (watch.h says what it promises).
 *
 * DESIGN: one thread owns libinotifytools.  It waits for events with
 * inotifytools_next_events (one second at most, so it also sees its
 * commands and its timers), maps each event's watch descriptor to a tree
 * through its own table (slots[wd]), marks the tree changed, watches new
 * directories, and queues a report once a tree has been quiet for its
 * period.  The loop thread talks to it through two locked lists:
 * commands in (add, remove, injected overflow), reports out, with an
 * eventfd that is readable while reports are queued (node/watch_api.c
 * is that side).
 *
 * Why not the library's own tables and inotifytools_watch_recursively:
 * libinotifytools 3.22 keys watches by path as well as by descriptor and
 * never forgets a watch the kernel dropped (a deleted directory), so
 * after `rm -r d; mkdir d` its path lookup answers the dead descriptor;
 * it leaks its record when a watched inode is added again under another
 * name; and it prints when asked to remove a watch the kernel already
 * dropped.  So the walk is ours: each directory is added alone with
 * IN_MASK_CREATE (the kernel refuses an inode already watched, instead
 * of the library leaking), under a path spelling the library has never
 * seen ("d/./" if "d/" is taken by a dead watch), and the descriptor is
 * read back by that spelling, which is then exact.  Dead records pile up
 * in the library until inotifytools_cleanup, so past STALE_MAX of them
 * the watcher starts the library afresh (a full rescan).
 *
 * Directory moves leave the library's paths (and ours) stale, so a
 * directory moved from a tree marks the tree for a rescan, done when the
 * tree is quiet; until then new directories in it are left to the
 * rescan.  A directory moved in from elsewhere is watched at once.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <inotifytools/inotify.h>
#include <inotifytools/inotifytools.h>

#include "../common/clock.h"
#include "../common/mem.h"
#include "watch_int.h"

/* What means "content or metadata changed", and how watches are added. */
#define EVENTS	(IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE | \
		 IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | \
		 IN_MOVE_SELF)
#define ADDMASK	(EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW | IN_MASK_CREATE)

#define WAIT_S		1	/* longest wait in next_events (whole s) */
#define DRAIN_MAX	4096	/* events handled before timers again */
#define STALE_MAX	4096	/* dead library records before a reset */
#define SPELL_MAX	16	/* "./" added to find an unused spelling */
#define RETRY_MAX_MS	(10 * 60 * 1000)	/* longest retry delay */

/* Monotonic milliseconds, as the rest of this file counts them. */
static uint64_t
now_ms(void)
{
	return (uint64_t)pd_mono_ms();
}

/* dir "/" name, or NULL. */
static char *
join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p;

	if (a == 1 && dir[0] == '/')
		a = 0;
	if ((p = pd_malloc(a + b + 2)) == NULL)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

/*
 * Queue t's report, merging into one already queued for it; false if
 * out of memory (t stays as it is, to be reported next time).
 */
static bool
queue_report(struct nd_watch *w, struct tree *t)
{
	struct rep *r;
	uint64_t one = 1;
	unsigned flags = (t->rescanned ? ND_WATCH_RESCANNED : 0) |
	    (t->started ? ND_WATCH_STARTED : 0) |
	    (t->dirty ? ND_WATCH_CHANGED : 0);

	pthread_mutex_lock(&w->mu);
	for (r = w->reps; r != NULL; r = r->next)
		if (strcmp(r->tree, t->name) == 0)
			break;
	if (r == NULL && (r = pd_calloc(1, sizeof(*r))) != NULL) {
		if ((r->tree = pd_strdup(t->name)) == NULL) {
			pd_free(r);
			r = NULL;
		} else {
			if (w->reps_tail)
				w->reps_tail->next = r;
			else
				w->reps = r;
			w->reps_tail = r;
		}
	}
	if (r != NULL) {
		r->flags |= flags;
		r->error = t->err;
		if (write(w->efd, &one, sizeof(one)) < 0) {
			/* Counter already high: the fd stays readable. */
		}
	}
	pthread_mutex_unlock(&w->mu);
	return r != NULL;
}

static void
drop_slot(struct nd_watch *w, int wd)
{
	pd_free(w->slots[wd].path);
	w->slots[wd].path = NULL;
	w->slots[wd].t = NULL;
	w->nlive--;
}

static enum pd_err
set_slot(struct nd_watch *w, int wd, struct tree *t, const char *path)
{
	struct slot *s;
	size_t n;
	char *p;

	if ((size_t)wd >= w->nslots) {
		n = w->nslots ? w->nslots : 256;
		while (n <= (size_t)wd)
			n *= 2;
		if ((s = pd_reallocarray(w->slots, n, sizeof(*s))) == NULL)
			return PD_ERR_NOMEM;
		memset(s + w->nslots, 0, (n - w->nslots) * sizeof(*s));
		w->slots = s;
		w->nslots = n;
	}
	if ((p = pd_strdup(path)) == NULL)
		return PD_ERR_NOMEM;
	if (w->slots[wd].t != NULL)
		drop_slot(w, wd);
	w->slots[wd].t = t;
	w->slots[wd].path = p;
	w->nlive++;
	return PD_OK;
}

/* What add_one did. */
enum added { ADDED, GONE, KNOWN };

/*
 * Watch the one directory path of tree t.  GONE if it vanished or is no
 * directory (raced with a delete or rename), KNOWN if we watch it
 * already; an error otherwise.
 */
static enum pd_err
add_one(struct nd_watch *w, struct tree *t, const char *path,
    enum added *how, struct pd_error *err)
{
	char *name, *more;
	int i, wd, e;
	enum pd_err rc;

	*how = ADDED;
	if ((name = join(path, "")) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "watching %s", path);
	for (i = 0; (wd = inotifytools_wd_from_filename(name)) >= 0; i++) {
		if ((size_t)wd < w->nslots && w->slots[wd].t == t &&
		    strcmp(w->slots[wd].path, path) == 0) {
			*how = KNOWN;
			pd_free(name);
			return PD_OK;
		}
		/* A record of a dead watch holds this spelling. */
		if (i == SPELL_MAX) {
			pd_free(name);
			w->reset = true;
			return pd_fail(err, PD_ERR_LIMIT, "watching directory "
			    "%s of tree %s: too many stale inotify records",
			    path, t->name);
		}
		more = join(name, ".");
		pd_free(name);
		if (more == NULL || (name = join(more, "")) == NULL) {
			pd_free(more);
			return pd_fail(err, PD_ERR_NOMEM, "watching %s", path);
		}
		pd_free(more);
	}
	if (!inotifytools_watch_file(name, ADDMASK)) {
		e = inotifytools_error();
		pd_free(name);
		if (e == ENOENT || e == ENOTDIR || e == ELOOP) {
			*how = GONE;
			return PD_OK;
		}
		if (e == ENOSPC)
			return pd_fail(err, PD_ERR_LIMIT, "watching directory "
			    "%s of tree %s: the inotify watch limit "
			    "(fs.inotify.max_user_watches = %d) is reached",
			    path, t->name, inotifytools_get_max_user_watches());
		if (e == EEXIST)
			return pd_fail(err, PD_ERR_CONFLICT, "watching "
			    "directory %s of tree %s: already watched under "
			    "another path (moved from elsewhere)", path,
			    t->name);
		return pd_fail_errno(err, PD_ERR_IO, e, "watching directory "
		    "%s of tree %s", path, t->name);
	}
	/* The spelling was unused, so this is the new watch's. */
	wd = inotifytools_wd_from_filename(name);
	pd_free(name);
	if (wd <= 0)
		return pd_fail(err, PD_ERR_IO, "watching directory %s of "
		    "tree %s: inotify lost the new watch", path, t->name);
	if ((rc = set_slot(w, wd, t, path)) != PD_OK)
		return pd_fail(err, rc, "watching %s", path);
	return PD_OK;
}

/*
 * Watch top and every directory beneath it for tree t.  Each directory
 * is watched before it is listed, so that an entry made meanwhile is
 * seen by the listing or by an event.
 */
static enum pd_err
walk(struct nd_watch *w, struct tree *t, const char *top, bool isroot,
    struct pd_error *err)
{
	char **stack = NULL, **ns, *path = NULL, *sub;
	size_t n = 0, cap = 0;
	enum pd_err rc = PD_OK;
	enum added how;
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd;

	if ((path = pd_strdup(top)) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "watching %s", top);
	for (;;) {
		if ((rc = add_one(w, t, path, &how, err)) != PD_OK)
			goto out;
		if (how == GONE && isroot) {
			rc = pd_fail(err, PD_ERR_NOTFOUND, "watching tree %s: "
			    "source %s is not a directory", t->name, path);
			goto out;
		}
		isroot = false;
		if (how != ADDED)
			goto next;
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd < 0 || (d = fdopendir(fd)) == NULL) {
			if (fd >= 0)
				close(fd);
			if (errno == ENOENT || errno == ENOTDIR ||
			    errno == ELOOP)
				goto next;
			rc = pd_fail_errno(err, PD_ERR_IO, errno, "listing "
			    "directory %s of tree %s", path, t->name);
			goto out;
		}
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
				continue;
			if (de->d_type == DT_UNKNOWN && (fstatat(dirfd(d),
			    de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISDIR(sb.st_mode)))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				ns = pd_reallocarray(stack, cap, sizeof(*ns));
				if (ns == NULL)
					break;
				stack = ns;
			}
			if ((sub = join(path, de->d_name)) == NULL)
				break;
			stack[n++] = sub;
		}
		closedir(d);
		if (de != NULL) {
			rc = pd_fail(err, PD_ERR_NOMEM, "watching %s", path);
			goto out;
		}
next:
		pd_free(path);
		path = NULL;
		if (n == 0)
			break;
		path = stack[--n];
	}
out:
	pd_free(path);
	while (n > 0)
		pd_free(stack[--n]);
	pd_free(stack);
	return rc;
}

/* Remove every watch of t. */
static void
unwatch_tree(struct nd_watch *w, struct tree *t)
{
	size_t wd;

	for (wd = 1; wd < w->nslots && w->nlive > 0; wd++) {
		if (w->slots[wd].t != t)
			continue;
		/* Fails (and the library keeps its record) only if the
		 * kernel dropped the watch and we have not read why yet. */
		if (!inotifytools_remove_watch_by_wd((int)wd))
			w->ndead++;
		drop_slot(w, (int)wd);
	}
}

static uint64_t
backoff(const struct tree *t)
{
	uint64_t ms = t->quiet_ms;
	unsigned i;

	for (i = 0; i < t->failures && ms < RETRY_MAX_MS; i++)
		ms *= 2;
	return ms < RETRY_MAX_MS ? ms : RETRY_MAX_MS;
}

/* Rebuild t's watches from scratch. */
static void
rescan(struct nd_watch *w, struct tree *t, uint64_t now)
{
	unwatch_tree(w, t);
	pd_error_clear(&t->err);
	t->rescanned = true;
	if (walk(w, t, t->root, true, &t->err) == PD_OK) {
		t->rescan = false;
		t->failures = 0;
		return;
	}
	t->failures++;
	t->retry_ms = now + backoff(t);
}

static void
mark(struct tree *t, uint64_t now)
{
	t->dirty = true;
	t->last_ms = now;
}

/*
 * Close the library, open it again and watch every tree anew: after a
 * queue overflow, or to shed the library's dead records.  Every tree is
 * reported (rescanned) after its quiet period.
 */
static void
reset(struct nd_watch *w)
{
	struct tree *t;
	uint64_t now = now_ms();
	size_t wd;
	int e;

	inotifytools_cleanup();
	for (wd = 1; wd < w->nslots; wd++)
		if (w->slots[wd].t != NULL)
			drop_slot(w, (int)wd);
	w->ndead = 0;
	if (!inotifytools_initialize()) {
		/* Say so once; try again each turn, without spinning. */
		e = inotifytools_error();
		for (t = w->trees; t != NULL && !w->down; t = t->next) {
			pd_error_clear(&t->err);
			pd_fail_errno(&t->err, PD_ERR_IO, e, "watching tree "
			    "%s: restarting inotify", t->name);
			t->rescan = t->rescanned = true;
			mark(t, now);
			(void)queue_report(w, t);
		}
		w->down = true;
		sleep(WAIT_S);
		return;
	}
	w->down = false;
	/* Events of the closed instance still in the library's buffer. */
	while (inotifytools_next_events(0, 1) != NULL)
		continue;
	w->reset = false;
	for (t = w->trees; t != NULL; t = t->next) {
		t->failures = 0;
		rescan(w, t, now);
		mark(t, now);
	}
}

static void
handle(struct nd_watch *w, const struct inotify_event *ev, uint64_t now)
{
	struct slot *s;
	struct tree *t;
	char *path;

	if (ev->mask & IN_Q_OVERFLOW) {
		w->reset = true;
		return;
	}
	if (ev->wd <= 0 || (size_t)ev->wd >= w->nslots ||
	    w->slots[ev->wd].t == NULL)
		return;		/* a watch we removed, or none */
	s = &w->slots[ev->wd];
	t = s->t;
	if (ev->mask & IN_IGNORED) {
		/* The kernel dropped it; the library keeps its record. */
		drop_slot(w, ev->wd);
		if (++w->ndead > STALE_MAX && w->ndead > w->nlive)
			w->reset = true;
		return;
	}
	mark(t, now);
	if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) &&
	    strcmp(s->path, t->root) == 0)
		t->rescan = true;
	if (!(ev->mask & IN_ISDIR) || ev->len == 0 || ev->name[0] == '\0')
		return;
	if (ev->mask & IN_MOVED_FROM)
		t->rescan = true;
	else if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && !t->rescan) {
		if ((path = join(s->path, ev->name)) == NULL ||
		    walk(w, t, path, false, &t->err) != PD_OK) {
			/* Its contents changed all the same; rebuild. */
			t->rescan = true;
			pd_error_clear(&t->err);
		}
		pd_free(path);
	}
}

/* Report (and first rescan) the trees that have been quiet long enough. */
static void
tick(struct nd_watch *w, uint64_t now)
{
	struct tree *t;

	for (t = w->trees; t != NULL; t = t->next) {
		if (!t->dirty || now < t->last_ms + t->quiet_ms ||
		    now < t->retry_ms)
			continue;
		if (t->rescan)
			rescan(w, t, now);
		if (!queue_report(w, t))
			continue;
		t->dirty = false;
		t->rescanned = t->started = false;
		/* Not fully watched: report again after the retry delay. */
		if (t->rescan)
			mark(t, now);
	}
}

void
nd_w_free_tree(struct tree *t)
{
	pd_free(t->name);
	pd_free(t->root);
	pd_free(t);
}

static void
add_tree(struct nd_watch *w, struct cmd *c, uint64_t now)
{
	struct tree *t;

	if ((t = pd_calloc(1, sizeof(*t))) == NULL)
		return;
	t->name = c->name;
	t->root = c->root;
	c->name = c->root = NULL;
	t->quiet_ms = c->quiet_ms;
	t->next = w->trees;
	w->trees = t;
	t->started = true;
	if (w->reset) {
		/* reset() walks it, with the other trees. */
		t->rescan = true;
		mark(t, now);
		return;
	}
	if (walk(w, t, t->root, true, &t->err) == PD_OK) {
		(void)queue_report(w, t);
		t->started = false;
		return;
	}
	/* Say why now; retry (and report) later. */
	(void)queue_report(w, t);
	t->started = false;
	t->rescan = true;
	t->failures = 1;
	t->retry_ms = now + backoff(t);
	mark(t, now);
}

static void
remove_tree(struct nd_watch *w, const char *name)
{
	struct tree **tp, *t;

	for (tp = &w->trees; (t = *tp) != NULL; tp = &t->next) {
		if (strcmp(t->name, name) != 0)
			continue;
		unwatch_tree(w, t);
		*tp = t->next;
		nd_w_free_tree(t);
		return;
	}
}

void
nd_w_free_cmd(struct cmd *c)
{
	pd_free(c->name);
	pd_free(c->root);
	pd_free(c);
}

/* Run the queued commands; false when the thread must stop. */
static bool
run_commands(struct nd_watch *w, uint64_t now)
{
	struct inotify_event ev;
	struct cmd *c, *next;

	pthread_mutex_lock(&w->mu);
	if (w->quit) {
		pthread_mutex_unlock(&w->mu);
		return false;
	}
	c = w->cmds;
	w->cmds = w->cmds_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	for (; c != NULL; c = next) {
		next = c->next;
		switch (c->kind) {
		case CMD_ADD:
			add_tree(w, c, now);
			break;
		case CMD_REMOVE:
			remove_tree(w, c->name);
			break;
		case CMD_OVERFLOW:
			memset(&ev, 0, sizeof(ev));
			ev.wd = -1;
			ev.mask = IN_Q_OVERFLOW;
			handle(w, &ev, now);
			break;
		}
		nd_w_free_cmd(c);
	}
	return true;
}

void *
nd_w_run(void *arg)
{
	struct nd_watch *w = arg;
	struct inotify_event *ev;
	unsigned n;
	int e;

	while (run_commands(w, now_ms())) {
		/* No library call while it is down (reset failed). */
		if (w->reset && (reset(w), w->reset))
			continue;
		ev = inotifytools_next_events(WAIT_S, 1);
		if (ev == NULL && (e = inotifytools_error()) != 0 &&
		    e != EINTR) {
			/* The descriptor is broken: start afresh. */
			w->reset = true;
			continue;
		}
		for (n = 0; ev != NULL && !w->reset; n++) {
			handle(w, ev, now_ms());
			if (n == DRAIN_MAX)
				break;
			ev = inotifytools_next_events(0, 1);
		}
		if (!w->reset)
			tick(w, now_ms());
	}
	return NULL;
}
