/*
 * What the node daemon's tasks do (daemon.h): an origin's import, a
 * mirror's sync from its upstreams in order of preference, and the
 * tree's on_publish hook after either made a new version.  These run
 * on the engine's workers; each line they log names the tree and task.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/mem.h"
#include "../protocol/sign.h"
#include "daemon_int.h"
#include "hook.h"
#include "import.h"
#include "pull.h"

/* The tree's configuration; stays valid (see struct nd_daemon). */
static const struct nd_conf_tree *
tree_conf(struct nd_daemon *d, const char *tree, struct pd_error *err)
{
	const struct nd_conf_tree *t;

	pthread_rwlock_rdlock(&d->lock);
	t = nd_conf_find(d->conf, tree);
	pthread_rwlock_unlock(&d->lock);
	if (t == NULL)
		pd_fail(err, PD_ERR_USAGE, "tree %s is no longer in the "
		    "configuration", tree);
	return t;
}

/*
 * Run the tree's on_publish command, if it has one, for version v that
 * replaced prev.  Its failure is logged, never the task's: the version
 * is published.
 */
static void
run_hook(const struct nd_conf_tree *t, uint64_t v, uint64_t prev,
    const char *path, const char *publish)
{
	struct nd_hook_req q = { 0 };
	struct nd_hook_result *res;
	struct pd_error e = { 0 };

	if (t->on_publish == NULL)
		return;
	/* The result holds kilobytes of output: not for a worker's
	 * stack, which the engine may keep small. */
	if ((res = pd_calloc(1, sizeof(*res))) == NULL) {
		log_warn("on_publish for version %" PRIu64 " not run: out of "
		    "memory", v);
		return;
	}
	q.command = t->on_publish;
	q.tree = t->name;
	q.version = v;
	q.prev_version = prev;
	q.path = path;
	q.publish = publish;
	q.timeout_ms = (unsigned)(t->hook_timeout * 1000);
	if (nd_hook_run(&q, res, &e) == PD_OK)
		log_info("on_publish for version %" PRIu64 ": exited 0",
		    v);
	else
		log_warn("on_publish for version %" PRIu64 ": %s%s%s", v,
		    e.msg, res->output_len ? "; its output ends: " : "",
		    res->output_len ? res->output : "");
	pd_free(res);
}

/* An import's warnings (entries skipped, deltas not made): logged. */
static void
warn_log(void *arg, const char *msg)
{
	(void)arg;
	log_warn("%s", msg);
}

/*
 * Queue the delta task of the step to version v of tree t, so that the
 * deltas, manifest patch and pack every mirror fetches are made once,
 * as a task that is retried if it fails.  Ahead of the tree's other
 * queued work: mirrors are about to ask for them.
 */
static void
queue_step(struct nd_daemon *d, const struct nd_conf_tree *t, uint64_t v)
{
	struct cat_task_new q = { 0 };
	struct pd_error e = { 0 };
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	q.kind = CAT_TASK_DELTA;
	q.tree = t->name;
	q.priority = (int32_t)t->priority + 1;
	q.arg = num;
	if (nd_engine_submit(d->eng, &q, NULL, &e) != PD_OK)
		log_warn("the step to version %" PRIu64 " is made when first "
		    "asked for: %s", v, e.msg);
}

/*
 * What an origin's import and step share: its configuration, its key
 * (*key the caller's) and the import options they give.
 */
static enum pd_err
origin_opts(struct nd_daemon *d, const struct cat_task *task,
    const struct nd_conf_tree **t, struct nd_import_opts *o,
    struct pr_key **key, struct pd_error *err)
{
	enum pd_err rc;

	if ((*t = tree_conf(d, task->tree, err)) == NULL)
		return PD_ERR_USAGE;
	if ((*t)->role != ND_CONF_ORIGIN)
		return pd_fail(err, PD_ERR_USAGE, "tree %s is a mirror here: "
		    "it is synced, and relays the deltas it receives",
		    (*t)->name);
	if ((rc = pr_key_load((*t)->key, key, err)) != PD_OK)
		return rc;
	o->tree = (*t)->name;
	o->src = (*t)->source;
	o->key = *key;
	o->warn = warn_log;
	return PD_OK;
}

static enum pd_err
task_import(void *arg, const struct cat_task *task, struct nd_task_ctx *ctx,
    struct pd_error *err)
{
	struct nd_daemon *d = arg;
	const struct nd_conf_tree *t;
	struct nd_import_opts o = { 0 };
	struct nd_import_result r;
	struct pr_key *key = NULL;
	enum pd_err rc;

	if ((rc = origin_opts(d, task, &t, &o, &key, err)) != PD_OK)
		return rc;
	o.expires_in = t->expires;
	o.lease = nd_task_lease(ctx);
	o.defer_step = true;
	rc = nd_import(d->cat, &o, &r, err);
	pr_key_free(key);
	if (rc != PD_OK)
		return rc;
	if (r.unchanged) {
		log_info("source %s unchanged: still version %" PRIu64,
		    t->source, r.version.number);
		return PD_OK;
	}
	log_info("imported %s as version %" PRIu64 " (%" PRIu64 " files "
	    "read, %" PRIu64 " new objects)", t->source, r.version.number,
	    r.files_hashed, r.objects_new);
	if (r.version.number > 1)
		queue_step(d, t, r.version.number);
	run_hook(t, r.version.number, r.version.number - 1, t->source,
	    t->source);
	return PD_OK;
}

/* For the pull: the task was canceled or the node is stopping. */
static bool
stopping(void *ctx)
{
	return nd_task_stopping(ctx);
}

/* The step to the version in the task's argument (queue_step). */
static enum pd_err
task_delta(void *arg, const struct cat_task *task, struct nd_task_ctx *ctx,
    struct pd_error *err)
{
	struct nd_daemon *d = arg;
	const struct nd_conf_tree *t;
	struct nd_import_opts o = { 0 };
	struct nd_import_result r;
	struct pr_key *key = NULL;
	uint64_t v;
	char *end;
	enum pd_err rc;

	(void)ctx;
	v = strtoull(task->arg, &end, 10);
	if (task->arg[0] == '\0' || *end != '\0' || v == 0)
		return pd_fail(err, PD_ERR_USAGE, "delta task without a "
		    "version: \"%s\"", task->arg);
	if ((rc = origin_opts(d, task, &t, &o, &key, err)) != PD_OK)
		return rc;
	rc = nd_import_step(d->cat, &o, v, &r, err);
	pr_key_free(key);
	if (rc == PD_OK)
		log_info("step to version %" PRIu64 ": %" PRIu64 " deltas made "
		    "(%" PRIu64 " not worth it), pack of %" PRIu32 " parts",
		    v, r.deltas_made, r.deltas_whole, r.pack_parts);
	return rc;
}

/* Whether another upstream might do better after this failure. */
static bool
worth_next(enum pd_err rc)
{
	return rc != PD_ERR_CONFLICT && rc != PD_ERR_USAGE &&
	    rc != PD_ERR_NOMEM && rc != PD_ERR_DB;
}

static enum pd_err
task_sync(void *arg, const struct cat_task *task, struct nd_task_ctx *ctx,
    struct pd_error *err)
{
	struct nd_daemon *d = arg;
	const struct nd_conf_tree *t;
	struct nd_pull_opts o = { 0 };
	struct nd_pull_result *r = NULL;
	struct pr_key *key = NULL;
	struct pd_error e;
	char link[4096];
	enum pd_err rc = PD_OK;
	size_t i;

	if ((t = tree_conf(d, task->tree, err)) == NULL)
		return PD_ERR_USAGE;
	if (t->role != ND_CONF_MIRROR)
		return pd_fail(err, PD_ERR_USAGE, "tree %s is an origin here: "
		    "it is imported, not synced", t->name);
	if ((rc = pr_key_load(t->trust, &key, err)) != PD_OK)
		return rc;
	if ((r = pd_calloc(1, sizeof(*r))) == NULL) {
		pr_key_free(key);
		return pd_fail(err, PD_ERR_NOMEM, "sync of %s", t->name);
	}
	o.tree = t->name;
	o.trust = key;
	o.pubdir = t->publish;
	o.keep = t->keep;
	o.no_spare = !t->spare;
	o.no_relay = !t->relay;
	o.lease = nd_task_lease(ctx);
	o.tls = d->tls != NULL ? &d->tls_files : NULL;
	o.rate = t->bandwidth;
	o.stop = stopping;
	o.stop_arg = ctx;
	/* Upstreams in order of preference: the first that gives a good
	 * version wins; the error kept is the last one's. */
	for (i = 0; i < t->nupstream; i++) {
		if (nd_task_stopping(ctx)) {
			rc = pd_fail(err, PD_ERR_CONFLICT, "stopped");
			break;
		}
		o.from = t->upstream[i].text;
		pd_error_clear(&e);
		if ((rc = nd_pull(d->cat, &o, r, &e)) == PD_OK)
			break;
		log_warn("sync from %s: %s", o.from, e.msg);
		if (!worth_next(rc) || i + 1 == t->nupstream) {
			pd_fail(err, rc, "from %s: %s", o.from, e.msg);
			break;
		}
	}
	if (rc == PD_OK) {
		pthread_mutex_lock(&d->rate_lock);
		d->in_bytes += r->wire_bytes;
		pthread_mutex_unlock(&d->rate_lock);
	}
	if (rc == PD_OK && r->up_to_date)
		log_info("up to date at version %" PRIu64 " (from %s)",
		    r->to_version, o.from);
	else if (rc == PD_OK) {
		log_info("published version %" PRIu64 " from %s: %" PRIu64
		    " files added, %" PRIu64 " changed, %" PRIu64 " removed, "
		    "%" PRIu64 " deltas applied; %" PRIu64 " bytes on the wire "
		    "for %" PRIu64 " bytes of new content, in %.2f s",
		    r->to_version, o.from, r->added, r->changed, r->removed,
		    r->deltas, r->wire_bytes, r->content_bytes, r->seconds);
		snprintf(link, sizeof(link), "%s/%s", t->publish, t->name);
		run_hook(t, r->to_version, r->from_version, r->path, link);
	}
	pd_free(r);
	pr_key_free(key);
	return rc;
}

void
dm_task_done(void *arg, const struct cat_task *t)
{
	(void)arg;
	pd_log_context(t->tree, t->id);
	switch (t->state) {
	case CAT_TASK_DONE:
		log_info("%s done (attempt %" PRIu32 ")",
		    cat_task_kind_name(t->kind), t->attempts);
		break;
	case CAT_TASK_QUEUED:
		log_warn("%s failed (attempt %" PRIu32 " of %" PRIu32 "), "
		    "retried in %.1f s: %s", cat_task_kind_name(t->kind),
		    t->attempts, t->max_attempts,
		    (double)(t->next_run - t->finished) / 1000.0, t->error);
		break;
	case CAT_TASK_FAILED:
		log_error("%s failed for good after %" PRIu32 " attempts: %s",
		    cat_task_kind_name(t->kind), t->attempts, t->error);
		break;
	case CAT_TASK_CANCELED:
		log_info("%s canceled", cat_task_kind_name(t->kind));
		break;
	case CAT_TASK_RUNNING:
		break;
	}
	pd_log_context(NULL, 0);
}

/* A task of either kind, with its tree and id on every line its thread
 * logs meanwhile. */
static enum pd_err
run_task(void *arg, const struct cat_task *t, struct nd_task_ctx *c,
    struct pd_error *err)
{
	enum pd_err rc;

	pd_log_context(t->tree, t->id);
	rc = t->kind == CAT_TASK_IMPORT ? task_import(arg, t, c, err) :
	    t->kind == CAT_TASK_DELTA ? task_delta(arg, t, c, err) :
	    t->kind == CAT_TASK_CLEAN ? dm_task_clean(arg, t, c, err) :
	    task_sync(arg, t, c, err);
	pd_log_context(NULL, 0);
	return rc;
}

enum pd_err
dm_register(struct nd_daemon *d, struct pd_error *err)
{
	enum pd_err rc;

	if ((rc = nd_engine_register(d->eng, CAT_TASK_IMPORT, run_task, d,
	    err)) != PD_OK ||
	    (rc = nd_engine_register(d->eng, CAT_TASK_DELTA, run_task, d,
	    err)) != PD_OK ||
	    (rc = nd_engine_register(d->eng, CAT_TASK_CLEAN, run_task, d,
	    err)) != PD_OK)
		return rc;
	return nd_engine_register(d->eng, CAT_TASK_SYNC, run_task, d, err);
}
