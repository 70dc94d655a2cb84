/*
 * The node daemon's answers to node control (control.h,
 * spec/PROTOCOL.md "Node control"): what it adds to /v1/status, its
 * task list, sync now and cancel.  Server worker threads call these,
 * several at once; they read the task table and the configuration and
 * never wait for a task.
 */
#include <inttypes.h>
#include <string.h>

#include "../common/mem.h"
#include "daemon_int.h"
#include "taskjson.h"

/* Tasks looked at for the status: the newest this many. */
#define STATUS_TASKS	500
/* Failed tasks the status lists. */
#define STATUS_ERRORS	10

static json_t *
tree_entry(json_t *trees, const char *name)
{
	json_t *t;
	size_t i;

	json_array_foreach(trees, i, t)
		if (strcmp(json_string_value(json_object_get(t, "name")),
		    name) == 0)
			return t;
	return NULL;
}

/* Each configured tree's role and state; trees not imported or synced
 * yet are listed too, at version 0. */
static enum pd_err
add_trees(struct nd_daemon *d, json_t *trees, const struct cat_task *tk,
    size_t n, struct pd_error *err)
{
	const struct nd_conf_tree *ct;
	const char *state;
	json_t *t;
	size_t i, j;

	pthread_rwlock_rdlock(&d->lock);
	for (i = 0; i < nd_conf_ntrees(d->conf); i++) {
		ct = nd_conf_tree(d->conf, i);
		if ((t = tree_entry(trees, ct->name)) == NULL) {
			t = json_pack("{s:s, s:i, s:n}", "name", ct->name,
			    "version", 0, "manifest");
			if (t == NULL || json_array_append_new(trees, t) != 0)
				goto nomem;
		}
		/* The newest task of the tree says what it is doing. */
		state = "idle";
		for (j = 0; j < n; j++)
			if (strcmp(tk[j].tree, ct->name) == 0) {
				if (tk[j].state == CAT_TASK_RUNNING)
					state = "running";
				else if (tk[j].state == CAT_TASK_QUEUED)
					state = tk[j].attempts ? "retrying" :
					    "queued";
				else if (tk[j].state == CAT_TASK_FAILED)
					state = "failed";
				break;
			}
		if (json_object_set_new(t, "role", json_string(
		    nd_conf_role_name(ct->role))) != 0 ||
		    json_object_set_new(t, "state", json_string(state)) != 0 ||
		    (ct->schedule != NULL && json_object_set_new(t,
		    "schedule", json_string(nd_sched_text(ct->schedule))) !=
		    0) ||
		    (ct->window != NULL && json_object_set_new(t, "window",
		    json_string(nd_window_text(ct->window))) != 0))
			goto nomem;
	}
	pthread_rwlock_unlock(&d->lock);
	return PD_OK;
nomem:
	pthread_rwlock_unlock(&d->lock);
	return pd_fail(err, PD_ERR_NOMEM, "status");
}

static enum pd_err
status(void *arg, json_t *st, struct pd_error *err)
{
	struct nd_daemon *d = arg;
	struct nd_engine_stats es;
	struct cat_task *tk = NULL;
	json_t *tasks = json_object_get(st, "tasks");
	json_t *errors = json_object_get(st, "errors");
	json_t *node = json_object_get(st, "node");
	json_t *list, *rates;
	size_t n = 0, i, nerr = 0;
	enum pd_err rc;

	if ((rc = nd_engine_list(d->eng, NULL, STATUS_TASKS, &tk, &n,
	    err)) != PD_OK)
		return rc;
	pthread_rwlock_rdlock(&d->lock);
	rc = json_object_set_new(node, "name", json_string(
	    nd_conf_node(d->conf)->name)) == 0 ? PD_OK : PD_ERR_NOMEM;
	pthread_rwlock_unlock(&d->lock);
	if (rc != PD_OK ||
	    (rc = add_trees(d, json_object_get(st, "trees"), tk, n, err)) !=
	    PD_OK)
		goto out;
	rc = PD_ERR_NOMEM;
	/* Oldest first in the lists of what runs and waits. */
	for (i = n; i-- > 0;) {
		list = tk[i].state == CAT_TASK_RUNNING ?
		    json_object_get(tasks, "running") :
		    tk[i].state == CAT_TASK_QUEUED ?
		    json_object_get(tasks, "queued") : NULL;
		if (list != NULL &&
		    json_array_append_new(list, nd_task_json(&tk[i])) != 0)
			goto out;
	}
	for (i = 0; i < n && nerr < STATUS_ERRORS; i++)
		if (tk[i].state == CAT_TASK_FAILED) {
			if (json_array_append_new(errors,
			    nd_task_json(&tk[i])) != 0)
				goto out;
			nerr++;
		}
	nd_engine_stats(d->eng, &es);
	if (json_object_set_new(st, "engine", nd_engine_stats_json(&es)) !=
	    0)
		goto out;
	pthread_mutex_lock(&d->rate_lock);
	rates = json_pack("{s:I, s:I, s:I, s:I}",
	    "out_bytes_per_s_10s", (json_int_t)d->out_rate10,
	    "out_bytes_per_s_60s", (json_int_t)d->out_rate60,
	    "in_bytes_per_s_60s", (json_int_t)d->in_rate60,
	    "in_bytes", (json_int_t)d->in_bytes);
	pthread_mutex_unlock(&d->rate_lock);
	if (json_object_set_new(st, "rates", rates) != 0)
		goto out;
	rc = PD_OK;
out:
	if (rc == PD_ERR_NOMEM)
		pd_fail(err, rc, "status");
	pd_free(tk);
	return rc;
}

static enum pd_err
tasks(void *arg, const char *tree, unsigned limit, json_t **out,
    struct pd_error *err)
{
	struct nd_daemon *d = arg;
	struct cat_task *tk = NULL;
	size_t n = 0;
	enum pd_err rc;

	if ((rc = nd_engine_list(d->eng, tree, limit, &tk, &n, err)) !=
	    PD_OK)
		return rc;
	if ((*out = nd_tasks_json(tk, n)) == NULL)
		rc = pd_fail(err, PD_ERR_NOMEM, "task list");
	pd_free(tk);
	return rc;
}

static enum pd_err
sync_now(void *arg, const char *tree, uint64_t *id, struct pd_error *err)
{
	/* Asked now: what runs may have looked before the change the
	 * asker knows of, so only a queued task answers for it. */
	return dm_submit(arg, tree, false, id, err);
}

static enum pd_err
cancel(void *arg, uint64_t id, struct pd_error *err)
{
	struct nd_daemon *d = arg;
	struct cat_task t;

	return nd_engine_cancel(d->eng, id, &t, err);
}

void
dm_control_init(struct nd_daemon *d)
{
	d->control.arg = d;
	d->control.status = status;
	d->control.tasks = tasks;
	d->control.sync = sync_now;
	d->control.cancel = cancel;
}
