/*
 * Watching origin source trees with inotify (libinotifytools), so that a
 * tree with `watch = yes` is imported soon after it stops changing.
 *
 * One watcher per process: libinotifytools keeps its inotify descriptor
 * and its watch tables in global variables, so nd_watch_new refuses a
 * second instance (PD_ERR_EXISTS).  The watcher owns the library: every
 * libinotifytools call is made by the watcher's own thread (or by
 * nd_watch_new / nd_watch_free before it starts and after it stopped).
 *
 * A tree is watched recursively: every directory beneath its root, and
 * directories created or moved in later (their existing contents count
 * as a change).  Any event of that tree (create, modify, close after
 * write, delete, move, attributes) makes it "changed"; once no event has
 * arrived for the tree's quiet period, one report is queued: a burst of
 * thousands of events gives one report.
 *
 * When the watches of a tree can no longer be trusted they are rebuilt
 * from scratch (a "rescan") and the tree is reported changed with
 * ND_WATCH_RESCANNED: after an inotify queue overflow (all trees: events
 * were lost), after a directory was moved within or out of the tree
 * (the watches under it carry stale paths; one moved in from outside is
 * simply watched), when a watch could not be added (the max_user_watches
 * limit, a directory moved from one tree to another), and, for all
 * trees, every few thousand deleted directories (libinotifytools keeps
 * a record of each until it is restarted).  A rescan that fails leaves
 * the report's error set; the tree is retried, with a growing delay (up
 * to ten minutes), and reported changed at each retry, so that a tree
 * that cannot be watched is still imported.
 *
 * Reports reach the event loop without blocking it: nd_watch_fd() is a
 * descriptor that is readable while reports are queued (add it to the
 * loop with EV_READ | EV_PERSIST) and nd_watch_next() takes them.  A
 * tree has at most one report queued; later changes merge into it.
 *
 * Timing: libinotifytools waits for events in whole seconds, so a report
 * may come up to about a second after the quiet period ended, a newly
 * added tree is watched within about a second (plus the walk of its
 * directories), and nd_watch_free takes up to about a second (or the
 * rest of a walk under way).
 */
#ifndef ND_WATCH_H
#define ND_WATCH_H

#include <stdint.h>

#include "../common/err.h"

struct nd_watch;

/* nd_watch_report.flags */
#define ND_WATCH_CHANGED	0x1	/* changed, and quiet since */
#define ND_WATCH_RESCANNED	0x2	/* watches rebuilt: events may have
					 * been lost; always with CHANGED */
#define ND_WATCH_STARTED	0x4	/* the walk of nd_watch_add is done:
					 * watched from here on (unless the
					 * error is set) */

struct nd_watch_report {
	char		*tree;		/* the name given to nd_watch_add */
	unsigned	 flags;		/* ND_WATCH_* */
	struct pd_error	 error;		/* PD_OK, or why the tree is not
					 * (fully) watched, naming the path */
};

/*
 * Start the watcher and its thread.  PD_ERR_EXISTS if one exists in this
 * process; PD_ERR_IO if inotify cannot be initialised (the
 * max_user_instances limit, no descriptors).  Any thread; the result is
 * freed with nd_watch_free.
 */
enum pd_err nd_watch_new(struct nd_watch **, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * Watch the directory root (an absolute path) as tree `tree`, reporting
 * it quiet_ms milliseconds (at least 1) after its last event.  Returns at
 * once: the directories are walked and watched on the watcher's thread,
 * and a failure there (root missing or not readable, limits) comes as a
 * report with its error set.  PD_ERR_USAGE for an empty name, a relative
 * root, a name already watched, or a root inside another tree's root or
 * containing one; PD_ERR_NOMEM.  Called from one thread at a time (the
 * loop); strings are copied.  When the walk is done, a report with
 * ND_WATCH_STARTED (and no CHANGED) says so, with its error if the tree
 * could not be watched: a tree that changed while nobody watched is the
 * caller's to import at start.
 */
enum pd_err nd_watch_add(struct nd_watch *, const char *tree,
	    const char *root, unsigned quiet_ms, struct pd_error *)
	    PD_WARN_UNUSED;

/*
 * Stop watching tree (a report already queued for it stays queued).
 * PD_ERR_NOTFOUND if it is not watched.  Same thread as nd_watch_add.
 */
enum pd_err nd_watch_remove(struct nd_watch *, const char *tree,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * Readable (POLLIN) while reports are queued.  Owned by the watcher; do
 * not read or close it.  Valid until nd_watch_free.
 */
int	nd_watch_fd(const struct nd_watch *);

/*
 * Take the oldest queued report into *r: PD_OK, or PD_ERR_NOTFOUND when
 * none is queued.  Never blocks.  The caller owns r->tree and frees it
 * with nd_watch_report_clear.  Any thread.
 */
enum pd_err nd_watch_next(struct nd_watch *, struct nd_watch_report *r);
void	nd_watch_report_clear(struct nd_watch_report *);

/*
 * For tests: make the watcher thread handle an IN_Q_OVERFLOW event as if
 * the kernel had queued one (the same code path), since a real overflow
 * needs more events than /proc/sys/fs/inotify/max_queued_events, a
 * system-wide setting.
 */
void	nd_watch_inject_overflow(struct nd_watch *);

/*
 * Stop the thread (pending events are dropped, queued reports freed),
 * release libinotifytools and free w.  NULL is a no-op.  Not from the
 * watcher thread; afterwards a new watcher may be made.
 */
void	nd_watch_free(struct nd_watch *);

#endif
