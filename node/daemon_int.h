/*
 * Between the parts of the node daemon (daemon.h): the loop and its
 * schedules (daemon.c), the task functions (dtask.c) and the node
 * control answers (dstatus.c).
 */
#ifndef ND_DAEMON_INT_H
#define ND_DAEMON_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>

#include "../catalog/catalog.h"
#include "../catalog/tasks.h"
#include "config.h"
#include "control.h"
#include "daemon.h"
#include "dcache.h"
#include "engine.h"
#include "server.h"
#include "tls.h"
#include "watch.h"

/* The node-wide clean-up task runs at start and then this often. */
#define CLEAN_EVERY	86400

/* Rates are sampled every RATE_TICK seconds over a minute. */
#define RATE_TICK	2
#define RATE_SAMPLES	(60 / RATE_TICK + 1)

/* A configured tree, as the loop schedules it. */
struct dtree {
	const struct nd_conf_tree *conf;	/* in d->conf */
	struct event	*timer;		/* its next scheduled run */
	time_t		 next;		/* when it fires */
	struct nd_daemon *d;
	bool		 watched;
};

struct dm_ask;

struct nd_daemon {
	const struct nd_daemon_opts *o;
	/*
	 * The configuration in force.  Workers and control answers read it
	 * under lock; a reload swaps it under the write lock and keeps the
	 * old one until exit, so pointers taken from any configuration stay
	 * valid while the process lives.
	 */
	pthread_rwlock_t	 lock;
	struct nd_conf		*conf;
	struct nd_conf		**retired;
	size_t			 nretired;

	struct cat		*cat;
	struct nd_dcache	*dc;
	struct nd_engine	*eng;
	struct nd_server	*srv;
	struct nd_tls		*tls;		/* NULL: insecure_http */
	struct nd_tls_files	 tls_files;	/* into the first conf */
	struct nd_watch		*watch;		/* NULL: no tree watched */
	struct event_base	*base;		/* the server's */
	struct event		*sighup, *watch_ev;
	struct nd_control	 control;
	time_t			 started;

	/* Loop thread only. */
	struct dtree		*trees;
	size_t			 ntrees;
	struct event		*sampler;	/* every RATE_TICK s */
	struct event		*cleaner;	/* every CLEAN_EVERY s */
	uint64_t		 out_seen[RATE_SAMPLES];
	size_t			 nsamples;

	/* Tasks the loop asks for, queued by a thread of their own
	 * (dpost.c), under post_mu. */
	pthread_mutex_t		 post_mu;
	pthread_cond_t		 post_cv;
	pthread_t		 post_th;
	bool			 post_running, post_stop;
	struct dm_ask		*asks;
	size_t			 nasks, asksize;

	/* Transfer rates for /v1/status, under rate_lock. */
	pthread_mutex_t		 rate_lock;
	uint64_t		 out_rate10;	/* bytes/s served, 10 s */
	uint64_t		 out_rate60;	/* and over a minute */
	uint64_t		 in_bytes;	/* received by syncs */
	uint64_t		 in_rate60;	/* bytes/s received, a minute */
	uint64_t		 in_seen[RATE_SAMPLES];
};

/* daemon.c: queue a task of tree (import for an origin, sync for a
 * mirror; tree "": the node's clean-up) unless one of that kind is
 * queued (or running, if or_running); its id in *id (that one's, with
 * PD_ERR_CONFLICT).  Any thread. */
enum pd_err dm_submit(struct nd_daemon *, const char *tree, bool or_running,
	    uint64_t *id, struct pd_error *) PD_WARN_UNUSED;

/* dpost.c: ask for tree's task ("" the clean-up) from the loop; queued
 * off the loop, once however often asked meanwhile.  why: a constant. */
void	dm_post(struct nd_daemon *, const char *tree, const char *why);
enum pd_err dm_post_start(struct nd_daemon *, struct pd_error *)
	    PD_WARN_UNUSED;
void	dm_post_stop(struct nd_daemon *);

/* dtask.c: the engine's functions, and its done callback. */
enum pd_err dm_register(struct nd_daemon *, struct pd_error *)
	    PD_WARN_UNUSED;
void	dm_task_done(void *arg, const struct cat_task *);
/* dclean.c: the node-wide clean-up task. */
enum pd_err dm_task_clean(void *arg, const struct cat_task *,
	    struct nd_task_ctx *, struct pd_error *) PD_WARN_UNUSED;

/* dstatus.c: the node control callbacks (control.h). */
void	dm_control_init(struct nd_daemon *);

#endif
