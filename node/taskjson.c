/*
 * Task records and engine counters as JSON (taskjson.h).
 */
#include "taskjson.h"

json_t *
nd_task_json(const struct cat_task *t)
{
	return json_pack("{s:I, s:s, s:s, s:i, s:s, s:b, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:s, s:s, s:s}",
	    "id", (json_int_t)t->id,
	    "kind", cat_task_kind_name(t->kind),
	    "tree", t->tree,
	    "priority", (int)t->priority,
	    "state", cat_task_state_name(t->state),
	    "cancel_requested", (int)t->cancel,
	    "attempts", (json_int_t)t->attempts,
	    "max_attempts", (json_int_t)t->max_attempts,
	    "created_ms", (json_int_t)t->created,
	    "started_ms", (json_int_t)t->started,
	    "finished_ms", (json_int_t)t->finished,
	    "next_run_ms", (json_int_t)t->next_run,
	    "epoch", (json_int_t)t->epoch,
	    "lease_expires_ms", (json_int_t)t->lease_expires,
	    "owner", t->owner,
	    "error", t->error,
	    "arg", t->arg);
}

json_t *
nd_tasks_json(const struct cat_task *t, size_t n)
{
	json_t *a, *o;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if ((o = nd_task_json(&t[i])) == NULL ||
		    json_array_append_new(a, o) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *
nd_engine_stats_json(const struct nd_engine_stats *s)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I}",
	    "runs", (json_int_t)s->runs,
	    "done", (json_int_t)s->done,
	    "failures", (json_int_t)s->failures,
	    "retries", (json_int_t)s->retries,
	    "failed", (json_int_t)s->failed,
	    "canceled", (json_int_t)s->canceled,
	    "requeued", (json_int_t)s->requeued,
	    "resumed", (json_int_t)s->resumed,
	    "lost", (json_int_t)s->lost,
	    "db_errors", (json_int_t)s->db_errors,
	    "running", (json_int_t)s->running);
}
