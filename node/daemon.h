/*
 * The node daemon (`pulpdist node --config FILE`): one long-lived
 * process per site that imports its origin trees, syncs and publishes
 * its mirrored trees and serves all of them, by itself.
 *
 * It ties together the configuration (config.h), the durable task
 * engine (engine.h: one writer per tree, retries, resume after a
 * crash), the schedules and windows (sched.h), the inotify watcher
 * (watch.h), the on_publish hooks (hook.h) and the server (server.h,
 * with the node control of control.h).  One libevent loop, the
 * server's, runs the timers and signals; imports and pulls run as tasks
 * on the engine's workers, never on the loop.
 *
 * Signals: SIGHUP reloads the configuration (a file that does not check
 * is refused and the running one kept; keys that need a restart refuse
 * the reload); SIGTERM and SIGINT stop accepting work, wait for the
 * running tasks to end or stop at a checkpoint (a stopped one is queued
 * again and resumes at the next start) and exit.
 */
#ifndef ND_DAEMON_H
#define ND_DAEMON_H

#include <stdbool.h>
#include <stdio.h>

#include "../common/err.h"

struct nd_daemon_opts {
	const char	*config;	/* the configuration file */
	bool		 log_level_set;	/* --log-level given: it wins over
					 * the file's log_level */
	FILE		*announce;	/* "listening on URL" goes here */
};

/*
 * Run the node until SIGTERM or SIGINT (then PD_OK).  Fails before it
 * serves anything when the configuration does not check, the data
 * directory cannot be opened, another process runs its tasks, or the
 * address cannot be bound; err names the cause.
 */
enum pd_err nd_daemon_run(const struct nd_daemon_opts *, struct pd_error *)
	    PD_WARN_UNUSED;

#endif
