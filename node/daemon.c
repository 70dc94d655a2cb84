/*
 * The node daemon's loop (daemon.h): start-up, the schedules and
 * transfer windows of each tree, inotify reports, SIGHUP reloads and
 * the orderly stop.  Everything here runs on the loop thread but
 * dm_submit, which the task poster (dpost.c) and the node control
 * answers call from their threads.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "../common/mem.h"
#include "daemon_int.h"

/* Tasks looked at to find one already queued for a tree. */
#define QUEUED_LOOK	32

static pthread_mutex_t submit_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * When a transfer of t may start at or after now: now, or when its
 * window next opens.
 */
static time_t
window_start(const struct nd_conf_tree *t, time_t now)
{
	time_t at;

	if (t->window == NULL || nd_window_open(t->window, now))
		return now;
	at = nd_window_next_open(t->window, now);
	return at == (time_t)-1 ? now : at;
}

enum pd_err
dm_submit(struct nd_daemon *d, const char *tree, bool or_running,
    uint64_t *id, struct pd_error *err)
{
	const struct nd_conf_tree *t;
	struct cat_task_new q = { 0 };
	struct cat_task out, *tk = NULL;
	size_t n = 0, i;
	time_t now = time(NULL), at;
	enum pd_err rc;

	*id = 0;
	q.tree = tree;
	if (tree[0] == '\0')
		q.kind = CAT_TASK_CLEAN;	/* node-wide, at once */
	else {
		pthread_rwlock_rdlock(&d->lock);
		t = nd_conf_find(d->conf, tree);
		pthread_rwlock_unlock(&d->lock);
		if (t == NULL)
			return pd_fail(err, PD_ERR_NOTFOUND, "no tree %s on "
			    "this node", tree);
		q.kind = t->role == ND_CONF_ORIGIN ? CAT_TASK_IMPORT :
		    CAT_TASK_SYNC;
		q.priority = (int32_t)t->priority;
		at = t->role == ND_CONF_MIRROR ? window_start(t, now) : now;
		q.not_before = at > now ? (int64_t)at * 1000 : 0;
	}
	/* One queued task per tree is enough: it will see the newest
	 * state when it runs.  The lock makes the look and the add one
	 * step for every caller in this process. */
	pthread_mutex_lock(&submit_lock);
	if ((rc = nd_engine_list(d->eng, tree, QUEUED_LOOK, &tk, &n, err)) !=
	    PD_OK)
		goto out;
	for (i = 0; i < n; i++)
		if ((tk[i].state == CAT_TASK_QUEUED || (or_running &&
		    tk[i].state == CAT_TASK_RUNNING)) && tk[i].kind == q.kind) {
			*id = tk[i].id;
			rc = pd_fail(err, PD_ERR_CONFLICT, "tree %s has task "
			    "%" PRIu64 " %s", tree, tk[i].id,
			    cat_task_state_name(tk[i].state));
			goto out;
		}
	if ((rc = nd_engine_submit(d->eng, &q, &out, err)) == PD_OK)
		*id = out.id;
out:
	pthread_mutex_unlock(&submit_lock);
	pd_free(tk);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Schedules */

static void
arm(struct dtree *dt, time_t at)
{
	struct timeval tv = { 0, 0 };
	time_t now = time(NULL);

	if (at > now)
		tv.tv_sec = at - now;
	dt->next = at > now ? at : now;
	evtimer_add(dt->timer, &tv);
}

/* The next run of dt's schedule after a run at `after`, armed. */
static void
arm_next(struct dtree *dt, time_t after)
{
	time_t at;

	if (dt->conf->schedule == NULL)
		return;
	if ((at = nd_sched_next(dt->conf->schedule, after)) == (time_t)-1) {
		pd_log_context(dt->conf->name, 0);
		log_warn("schedule \"%s\" never fires: no runs by schedule",
		    nd_sched_text(dt->conf->schedule));
		pd_log_context(NULL, 0);
		return;
	}
	arm(dt, at);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dtree *dt = arg;
	const struct nd_conf_tree *t = dt->conf;
	time_t now = time(NULL), open;

	(void)fd;
	(void)what;
	/* Outside its window a mirror waits for it to open; the schedule
	 * goes on from then. */
	if (t->role == ND_CONF_MIRROR && (open = window_start(t, now)) > now) {
		arm(dt, open);
		return;
	}
	dm_post(dt->d, t->name, "schedule");
	arm_next(dt, now);
}

/*
 * Start dt's schedule: an "every" schedule runs once now (the tree
 * just appeared: the daemon started, or a reload added it), a cron one
 * at its next minute.
 */
static void
schedule_start(struct dtree *dt)
{
	if (dt->conf->schedule == NULL)
		return;
	if (nd_sched_interval(dt->conf->schedule) > 0)
		arm(dt, time(NULL));
	else
		arm_next(dt, time(NULL));
}

/* ------------------------------------------------------------------ */
/* Watching origins */

static void
on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct nd_daemon *d = arg;
	struct nd_watch_report r;

	(void)fd;
	(void)what;
	while (nd_watch_next(d->watch, &r) == PD_OK) {
		pd_log_context(r.tree, 0);
		if (r.error.code != PD_OK)
			log_warn("watch: %s", r.error.msg);
		if (r.flags & ND_WATCH_RESCANNED)
			log_info("watch: events may have been lost: the "
			    "source is rescanned");
		pd_log_context(NULL, 0);
		/* A tree may have changed while nobody watched: import
		 * once when watching starts. */
		if (r.flags & (ND_WATCH_CHANGED | ND_WATCH_STARTED))
			dm_post(d, r.tree, r.flags & ND_WATCH_CHANGED ?
			    "source changed" : "watch started");
		nd_watch_report_clear(&r);
	}
}

static enum pd_err
watch_tree(struct nd_daemon *d, struct dtree *dt, struct pd_error *err)
{
	const struct nd_conf_tree *t = dt->conf;
	enum pd_err rc;

	if (t->role != ND_CONF_ORIGIN || !t->watch)
		return PD_OK;
	if (d->watch == NULL) {
		if ((rc = nd_watch_new(&d->watch, err)) != PD_OK)
			return rc;
		if ((d->watch_ev = event_new(d->base, nd_watch_fd(d->watch),
		    EV_READ | EV_PERSIST, on_watch, d)) == NULL ||
		    event_add(d->watch_ev, NULL) != 0)
			return pd_fail(err, PD_ERR_NOMEM, "watch event");
	}
	if ((rc = nd_watch_add(d->watch, t->name, t->source,
	    (unsigned)(t->quiet * 1000 > 0 ? t->quiet * 1000 : 1), err)) !=
	    PD_OK)
		return pd_prefix(err, "tree %s", t->name);
	dt->watched = true;
	return PD_OK;
}

/* ------------------------------------------------------------------ */
/* Trees: made from a configuration, and remade at a reload */

static void
trees_free(struct nd_daemon *d, struct dtree *trees, size_t n)
{
	struct pd_error e;
	size_t i;

	for (i = 0; i < n; i++) {
		if (trees[i].timer != NULL)
			event_free(trees[i].timer);
		/* A tree no longer watched is no error at a stop. */
		if (trees[i].watched && d->watch != NULL &&
		    nd_watch_remove(d->watch, trees[i].conf->name, &e) !=
		    PD_OK)
			log_debug("%s", e.msg);
	}
	pd_free(trees);
}

/* The old tree of that name whose watch can stay as it is, or NULL. */
static struct dtree *
same_watch(struct dtree *old, size_t nold, const struct nd_conf_tree *t)
{
	size_t i;

	for (i = 0; i < nold; i++)
		if (old[i].watched && strcmp(old[i].conf->name, t->name) == 0 &&
		    t->role == ND_CONF_ORIGIN && t->watch &&
		    strcmp(old[i].conf->source, t->source) == 0 &&
		    old[i].conf->quiet == t->quiet)
			return &old[i];
	return NULL;
}

/* The old tree of that name with the same schedule and window. */
static struct dtree *
same_schedule(struct dtree *old, size_t nold, const struct nd_conf_tree *t)
{
	const struct nd_conf_tree *o;
	size_t i;

	for (i = 0; i < nold; i++) {
		o = old[i].conf;
		if (strcmp(o->name, t->name) != 0 || o->role != t->role)
			continue;
		if ((o->schedule == NULL) != (t->schedule == NULL) ||
		    (o->window == NULL) != (t->window == NULL))
			return NULL;
		if (o->schedule && strcmp(nd_sched_text(o->schedule),
		    nd_sched_text(t->schedule)) != 0)
			return NULL;
		if (o->window && strcmp(nd_window_text(o->window),
		    nd_window_text(t->window)) != 0)
			return NULL;
		return &old[i];
	}
	return NULL;
}

/*
 * Make the trees of d->conf, taking over from old (NULL at start) the
 * watches and schedule times of trees that kept them.
 */
static enum pd_err
trees_make(struct nd_daemon *d, struct dtree *old, size_t nold,
    struct pd_error *err)
{
	size_t n = nd_conf_ntrees(d->conf), i;
	struct dtree *trees, *o;
	enum pd_err rc;

	if ((trees = pd_calloc(n ? n : 1, sizeof(*trees))) == NULL)
		return pd_fail(err, PD_ERR_NOMEM, "trees");
	for (i = 0; i < n; i++) {
		trees[i].d = d;
		trees[i].conf = nd_conf_tree(d->conf, i);
		if ((trees[i].timer = evtimer_new(d->base, on_timer,
		    &trees[i])) == NULL) {
			trees_free(d, trees, i);
			return pd_fail(err, PD_ERR_NOMEM, "timer");
		}
	}
	for (i = 0; i < n; i++) {
		if ((o = same_watch(old, nold, trees[i].conf)) != NULL) {
			o->watched = false;	/* handed over */
			trees[i].watched = true;
		} else if ((rc = watch_tree(d, &trees[i], err)) != PD_OK) {
			trees_free(d, trees, n);
			return rc;
		}
		/* A tree whose schedule stayed keeps its next run. */
		o = same_schedule(old, nold, trees[i].conf);
		if (o != NULL && evtimer_pending(o->timer, NULL))
			arm(&trees[i], o->next);
		else if (o == NULL)
			schedule_start(&trees[i]);
	}
	d->trees = trees;
	d->ntrees = n;
	return PD_OK;
}

/* ------------------------------------------------------------------ */
/* Reload */

struct restart_check {
	const char	*key;		/* the first that needs a restart */
	const char	*tree;
};

static void
restart_key(void *arg, const char *tree, enum nd_conf_change ch,
    const char *key, bool restart)
{
	struct restart_check *rc = arg;

	(void)ch;
	if (restart && rc->key == NULL) {
		rc->key = key;
		rc->tree = tree;
	}
}

static void
reload(struct nd_daemon *d)
{
	struct nd_conf *cur = NULL, **r;
	struct restart_check rk = { NULL, NULL };
	struct pd_error e = { 0 };
	struct dtree *old = d->trees;
	size_t nold = d->ntrees;

	log_info("SIGHUP: reloading %s", d->o->config);
	if (nd_conf_load(d->o->config, &cur, &e) != PD_OK ||
	    nd_conf_check_files(cur, &e) != PD_OK) {
		log_error("reload refused, the running configuration stays: "
		    "%s", e.msg);
		nd_conf_free(cur);
		return;
	}
	nd_conf_diff(d->conf, cur, restart_key, &rk);
	if (rk.key != NULL) {
		log_error("reload refused, the running configuration stays: "
		    "%s%s%s%s changed, which needs a restart",
		    rk.tree ? "[tree " : "[node] ", rk.tree ? rk.tree : "",
		    rk.tree ? "] " : "", rk.key);
		nd_conf_free(cur);
		return;
	}
	if ((r = pd_reallocarray(d->retired, d->nretired + 1,
	    sizeof(*r))) == NULL) {
		log_error("reload refused: out of memory");
		nd_conf_free(cur);
		return;
	}
	d->retired = r;
	pthread_rwlock_wrlock(&d->lock);
	d->retired[d->nretired++] = d->conf;
	d->conf = cur;
	pthread_rwlock_unlock(&d->lock);
	if (!d->o->log_level_set)
		pd_log_set_level(nd_conf_node(cur)->log_level);
	if (trees_make(d, old, nold, &e) != PD_OK) {
		/* The old trees keep running on the configuration they
		 * point into, which stays alive. */
		log_error("reload: %s; the old schedules stay", e.msg);
		return;
	}
	trees_free(d, old, nold);
	log_info("reloaded: %zu trees", d->ntrees);
}

static void
on_sighup(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reload(arg);
}

/* ------------------------------------------------------------------ */
/* The clean-up */

/* Loop: ask for the node-wide clean-up. */
static void
on_clean(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dm_post(arg, "", "clean-up");
}

/* ------------------------------------------------------------------ */
/* Transfer rates */

/* Bytes per second from samples a and b, n ticks apart. */
static uint64_t
rate(uint64_t a, uint64_t b, size_t n)
{
	return n == 0 || b < a ? 0 : (b - a) / (n * RATE_TICK);
}

/* Loop: sample what was served and received, and keep the rates. */
static void
on_sample(evutil_socket_t fd, short what, void *arg)
{
	struct nd_daemon *d = arg;
	struct nd_server_stats st;
	size_t n, last, ten;

	(void)fd;
	(void)what;
	nd_server_stats(d->srv, &st);
	pthread_mutex_lock(&d->rate_lock);
	if (d->nsamples == RATE_SAMPLES) {
		memmove(d->out_seen, d->out_seen + 1,
		    (RATE_SAMPLES - 1) * sizeof(d->out_seen[0]));
		memmove(d->in_seen, d->in_seen + 1,
		    (RATE_SAMPLES - 1) * sizeof(d->in_seen[0]));
		d->nsamples--;
	}
	d->out_seen[d->nsamples] = st.bytes_out;
	d->in_seen[d->nsamples] = d->in_bytes;
	n = ++d->nsamples;
	last = n - 1;
	ten = n > 10 / RATE_TICK ? last - 10 / RATE_TICK : 0;
	d->out_rate10 = rate(d->out_seen[ten], d->out_seen[last], last - ten);
	d->out_rate60 = rate(d->out_seen[0], d->out_seen[last], last);
	d->in_rate60 = rate(d->in_seen[0], d->in_seen[last], last);
	pthread_mutex_unlock(&d->rate_lock);
}

/* ------------------------------------------------------------------ */
/* Start and stop */

static enum pd_err
load_conf(struct nd_daemon *d, struct pd_error *err)
{
	enum pd_err rc;

	if ((rc = nd_conf_load(d->o->config, &d->conf, err)) != PD_OK ||
	    (rc = nd_conf_check_files(d->conf, err)) != PD_OK)
		return rc;
	if (!d->o->log_level_set)
		pd_log_set_level(nd_conf_node(d->conf)->log_level);
	return PD_OK;
}

static enum pd_err
start(struct nd_daemon *d, struct pd_error *err)
{
	const struct nd_conf_node *n = nd_conf_node(d->conf);
	struct nd_engine_opts eo = { 0 };
	struct nd_engine_stats es;
	struct nd_server_opts so = { 0 };
	struct timeval tick = { RATE_TICK, 0 }, daily = { CLEAN_EVERY, 0 };
	enum pd_err rc;

	if ((rc = cat_open(n->data, CAT_CREATE, &d->cat, err)) != PD_OK ||
	    (rc = nd_dcache_new(d->cat, &d->dc, err)) != PD_OK)
		return rc;
	eo.owner = n->name;
	eo.done = dm_task_done;
	eo.done_arg = d;
	if ((rc = nd_engine_new(d->cat, &eo, &d->eng, err)) != PD_OK ||
	    (rc = dm_register(d, err)) != PD_OK)
		return rc;
	nd_engine_stats(d->eng, &es);
	if (es.resumed > 0)
		log_info("%" PRIu64 " tasks were running when the node last "
		    "stopped without finishing them: resumed", es.resumed);
	dm_control_init(d);
	/* The certificate read at start serves until a restart: a reload
	 * that changes a tls_ key is refused as needing one. */
	if (!n->insecure_http) {
		d->tls_files.cert = n->tls_cert;
		d->tls_files.key = n->tls_key;
		d->tls_files.ca = n->tls_ca;
		if ((rc = nd_tls_server_new(&d->tls_files, &d->tls, err)) !=
		    PD_OK)
			return rc;
		so.tls = d->tls;
	}
	so.listen = n->listen.text;
	so.workers = n->workers;
	so.timeout = (unsigned)n->timeout;
	so.max_conns = n->connections;
	so.max_transfers = n->max_transfers;
	so.control = &d->control;
	if ((rc = nd_server_new(d->cat, d->dc, &so, &d->srv, err)) != PD_OK)
		return rc;
	d->base = nd_server_base(d->srv);
	if ((d->sighup = evsignal_new(d->base, SIGHUP, on_sighup, d)) ==
	    NULL || event_add(d->sighup, NULL) != 0)
		return pd_fail(err, PD_ERR_IO, "cannot catch SIGHUP");
	if ((d->sampler = event_new(d->base, -1, EV_PERSIST, on_sample, d)) ==
	    NULL || event_add(d->sampler, &tick) != 0)
		return pd_fail(err, PD_ERR_NOMEM, "rate sampler");
	if ((d->cleaner = event_new(d->base, -1, EV_PERSIST, on_clean, d)) ==
	    NULL || event_add(d->cleaner, &daily) != 0)
		return pd_fail(err, PD_ERR_NOMEM, "clean-up timer");
	if ((rc = nd_engine_start(d->eng, err)) != PD_OK ||
	    (rc = dm_post_start(d, err)) != PD_OK ||
	    (rc = trees_make(d, NULL, 0, err)) != PD_OK)
		return rc;
	on_clean(-1, 0, d);
	return PD_OK;
}

static void
stop(struct nd_daemon *d)
{
	struct nd_engine_stats es;
	size_t i;

	dm_post_stop(d);
	if (d->eng != NULL) {
		nd_engine_stats(d->eng, &es);
		if (es.running > 0)
			log_info("stopping: %u tasks running stop at their "
			    "next checkpoint or end", es.running);
		nd_engine_stop(d->eng);
	}
	if (d->trees != NULL)
		trees_free(d, d->trees, d->ntrees);
	if (d->watch_ev != NULL)
		event_free(d->watch_ev);
	nd_watch_free(d->watch);
	if (d->sighup != NULL)
		event_free(d->sighup);
	if (d->sampler != NULL)
		event_free(d->sampler);
	if (d->cleaner != NULL)
		event_free(d->cleaner);
	nd_server_free(d->srv);
	nd_tls_free(d->tls);
	nd_engine_free(d->eng);
	nd_dcache_free(d->dc);
	cat_close(d->cat);
	for (i = 0; i < d->nretired; i++)
		nd_conf_free(d->retired[i]);
	pd_free(d->retired);
	nd_conf_free(d->conf);
}

enum pd_err
nd_daemon_run(const struct nd_daemon_opts *o, struct pd_error *err)
{
	struct nd_daemon d;
	enum pd_err rc;

	memset(&d, 0, sizeof(d));
	d.o = o;
	d.started = time(NULL);
	if (pthread_rwlock_init(&d.lock, NULL) != 0)
		return pd_fail(err, PD_ERR_NOMEM, "lock");
	if (pthread_mutex_init(&d.rate_lock, NULL) != 0) {
		pthread_rwlock_destroy(&d.lock);
		return pd_fail(err, PD_ERR_NOMEM, "lock");
	}
	pthread_mutex_init(&d.post_mu, NULL);
	pthread_cond_init(&d.post_cv, NULL);
	/* A hook or a peer gone mid-write must not kill the node. */
	signal(SIGPIPE, SIG_IGN);
	pd_log_set_daemon(true);
	if ((rc = load_conf(&d, err)) != PD_OK ||
	    (rc = start(&d, err)) != PD_OK)
		goto out;
	log_info("node %s: serving %s on %s, %zu trees",
	    nd_conf_node(d.conf)->name, nd_conf_node(d.conf)->data,
	    nd_server_addr(d.srv), d.ntrees);
	if (o->announce != NULL) {
		fprintf(o->announce, "listening on %s://%s\n",
		    d.tls ? "https" : "http", nd_server_addr(d.srv));
		fflush(o->announce);
	}
	rc = nd_server_run(d.srv, err);
out:
	stop(&d);
	pthread_cond_destroy(&d.post_cv);
	pthread_mutex_destroy(&d.post_mu);
	pthread_mutex_destroy(&d.rate_lock);
	pthread_rwlock_destroy(&d.lock);
	return rc;
}
