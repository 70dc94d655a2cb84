/*
 * The on_publish hook: a command run after each publish of a tree (like
 * rsyncd's `post-xfer exec`), so that a lab can start its tests or an
 * existing queueing system can be fed.  Its failure is logged by the
 * caller; it never undoes the publish.
 *
 * The command runs as `/bin/sh -c COMMAND`, in a process group of its
 * own, with stdin from /dev/null, stdout and stderr captured (the last
 * ND_HOOK_OUTPUT_MAX bytes are kept for the log), no descriptor of the
 * node but those three, default signal dispositions and an empty signal
 * mask, and the node's environment plus:
 *
 *	PULPDIST_TREE		the tree's name
 *	PULPDIST_VERSION	the version just published (decimal)
 *	PULPDIST_PATH		that version's directory
 *	PULPDIST_PREV_VERSION	the version it replaced, "0" if none
 *				(versions start at 1)
 *	PULPDIST_PUBLISH	the published link, PUBDIR/TREE
 *
 * When the timeout passes, the whole process group gets SIGTERM, then
 * SIGKILL ND_HOOK_KILL_GRACE_MS later, and the command is reaped.  When
 * the command exits by itself, processes it left in the background are
 * left alone (and their later output is not captured).  No path leaves
 * a zombie of ours.
 *
 * nd_hook_run blocks until the command is done (up to its timeout plus
 * the grace): the daemon runs it as a task of the tree on a worker
 * thread, never on the event loop, and logs the result when the task's
 * completion reaches the loop (the result is plain data, handed over
 * with the task).  It mostly waits, so it belongs with the tasks that
 * wait, not in the pool of CPU workers hashing and computing deltas.
 */
#ifndef ND_HOOK_H
#define ND_HOOK_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define ND_HOOK_OUTPUT_MAX	4096	/* bytes of output kept */
#define ND_HOOK_KILL_GRACE_MS	2000	/* SIGTERM to SIGKILL */

/* What to run; the strings are only read during the call. */
struct nd_hook_req {
	const char	*command;	/* for /bin/sh -c */
	const char	*tree;
	uint64_t	 version;
	uint64_t	 prev_version;	/* 0: none */
	const char	*path;		/* the version's directory */
	const char	*publish;	/* PUBDIR/TREE */
	unsigned	 timeout_ms;	/* at least 1 */
};

enum nd_hook_end {
	ND_HOOK_NOT_RUN,	/* could not be started (see the error) */
	ND_HOOK_EXITED,		/* code is its exit status */
	ND_HOOK_SIGNALED,	/* code is the signal that ended it */
	ND_HOOK_TIMED_OUT,	/* killed; code is the signal that ended it */
};

struct nd_hook_result {
	enum nd_hook_end end;
	int		 code;
	uint64_t	 output_total;	/* bytes the command wrote */
	size_t		 output_len;	/* bytes kept: the last ones */
	char		 output[ND_HOOK_OUTPUT_MAX + 1];	/* NUL-ended */
};

/*
 * Run req's command and wait for it (at most its timeout plus the kill
 * grace).  Fills *res.  PD_OK only if it exited with status 0; otherwise
 * err says what happened, naming the tree and version: PD_ERR_IO for
 * "exited with status 3" or "killed by signal 9 (SIGKILL)", PD_ERR_LIMIT
 * for "timed out after 2000 ms (process group killed)"; or why it could
 * not be started (PD_ERR_IO, PD_ERR_NOMEM; PD_ERR_USAGE for an empty
 * command, a missing path or a zero timeout; res->end is then
 * ND_HOOK_NOT_RUN).
 * Any thread; safe while other threads run (posix_spawn).
 */
enum pd_err nd_hook_run(const struct nd_hook_req *req,
	    struct nd_hook_result *res, struct pd_error *err) PD_WARN_UNUSED;

#endif
