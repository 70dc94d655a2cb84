/*
 * Node control (spec/PROTOCOL.md, "Node control"): GET /v1/status for
 * any node, and GET /v1/tasks, POST /v1/trees/T/sync and POST
 * /v1/tasks/ID/cancel for a daemon, which answers them through its
 * struct nd_control (control.h).  Worker threads, like every handler.
 */
#include <inttypes.h>
#include <string.h>

#include "../common/hex.h"
#include "../common/mem.h"
#include "serve.h"

#define NO_TASKS	"this node runs no tasks"

enum pd_err
nd_trees_json(struct cat *c, json_t **out, struct pd_error *err)
{
	struct cat_txn *t = NULL;
	struct cat_tree *list = NULL;
	struct cat_version v;
	char id[PD_SHA256_HEX];
	json_t *arr = NULL;
	size_t n = 0, i;
	enum pd_err rc;

	*out = NULL;
	if ((rc = cat_begin(c, false, &t, err)) != PD_OK ||
	    (rc = cat_tree_list(t, &list, &n, err)) != PD_OK)
		goto out;
	rc = PD_ERR_NOMEM;
	if ((arr = json_array()) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		/* A tree whose first import never committed. */
		if (list[i].head == 0)
			continue;
		if ((rc = cat_version_get(t, list[i].name, list[i].head, &v,
		    err)) != PD_OK)
			goto out;
		pd_hex_encode(v.manifest_id, PD_SHA256_LEN, id);
		if (json_array_append_new(arr, json_pack("{s:s, s:I, s:s}",
		    "name", list[i].name, "version", (json_int_t)v.number,
		    "manifest", id)) != 0) {
			rc = PD_ERR_NOMEM;
			goto out;
		}
	}
	*out = arr;
	arr = NULL;
	rc = PD_OK;
out:
	if (rc == PD_ERR_NOMEM)
		pd_fail(err, rc, "tree list");
	json_decref(arr);
	pd_free(list);
	cat_abort(t);
	return rc;
}

static json_t *
server_json(const struct nd_server_stats *s)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I}",
	    "requests", (json_int_t)s->requests,
	    "errors", (json_int_t)s->errors,
	    "overloaded", (json_int_t)s->overloaded,
	    "bytes_out", (json_int_t)s->bytes_out,
	    "objects", (json_int_t)s->objects,
	    "deltas", (json_int_t)s->deltas,
	    "batches", (json_int_t)s->batches,
	    "clients_gone", (json_int_t)s->gone,
	    "connections_refused", (json_int_t)s->refused_connections,
	    "transfers_refused", (json_int_t)s->refused_transfers,
	    "closed_header_deadline", (json_int_t)s->closed_header_deadline,
	    "closed_total_deadline", (json_int_t)s->closed_total_deadline,
	    "closed_idle", (json_int_t)s->closed_idle);
}

static void
status(struct nd_req *r)
{
	json_t *st = NULL, *trees = NULL;

	if (nd_trees_json(r->cat, &trees, &r->err) != PD_OK)
		goto fail;
	st = json_pack("{s:{s:n, s:I}, s:o, s:{s:[], s:[]}, s:[], s:o}",
	    "node", "name", "uptime", (json_int_t)r->uptime,
	    "trees", trees,
	    "tasks", "running", "queued",
	    "errors",
	    "server", server_json(&r->stats));
	trees = NULL;
	if (st == NULL) {
		pd_fail(&r->err, PD_ERR_NOMEM, "status");
		goto fail;
	}
	if (r->control != NULL && r->control->status != NULL &&
	    r->control->status(r->control->arg, st, &r->err) != PD_OK)
		goto fail;
	nd_reply_json(r, 200, st);
	nd_reply_header(r, "Cache-Control", "no-cache");
	return;
fail:
	json_decref(trees);
	json_decref(st);
	nd_reply_error(r, 500, "internal error");
}

/* The answer to a control callback that failed: its text, by its kind. */
static void
refused(struct nd_req *r, enum pd_err rc)
{
	int code = rc == PD_ERR_NOTFOUND ? 404 : rc == PD_ERR_CONFLICT ? 409 :
	    rc == PD_ERR_USAGE ? 400 : 500;

	if (code == 500)
		nd_reply_error(r, 500, "internal error");
	else
		nd_reply_error(r, code, "%s", r->err.msg);
	/* Told to the client; the 500's cause stays for the log. */
	if (code != 500)
		pd_error_clear(&r->err);
}

static void
tasks(struct nd_req *r)
{
	const struct nd_control *c = r->control;
	json_t *list = NULL;
	enum pd_err rc;

	rc = c->tasks(c->arg, r->t.tree[0] ? r->t.tree : NULL, r->t.limit,
	    &list, &r->err);
	if (rc != PD_OK) {
		refused(r, rc);
		return;
	}
	nd_reply_json(r, 200, json_pack("{s:o}", "tasks", list));
	nd_reply_header(r, "Cache-Control", "no-cache");
}

static void
sync_now(struct nd_req *r)
{
	const struct nd_control *c = r->control;
	uint64_t id = 0;
	enum pd_err rc;

	rc = c->sync(c->arg, r->t.tree, &id, &r->err);
	if (rc != PD_OK && !(rc == PD_ERR_CONFLICT && id != 0)) {
		refused(r, rc);
		return;
	}
	/* Already queued: that task is the answer, and nothing new. */
	pd_error_clear(&r->err);
	nd_reply_json(r, 200, json_pack("{s:I, s:s, s:b}",
	    "task", (json_int_t)id, "tree", r->t.tree, "queued",
	    rc == PD_OK));
	nd_reply_header(r, "Cache-Control", "no-cache");
}

static void
cancel(struct nd_req *r)
{
	const struct nd_control *c = r->control;
	enum pd_err rc;

	if ((rc = c->cancel(c->arg, r->t.task, &r->err)) != PD_OK) {
		refused(r, rc);
		return;
	}
	nd_reply_json(r, 200, json_pack("{s:I, s:b}", "task",
	    (json_int_t)r->t.task, "canceled", 1));
	nd_reply_header(r, "Cache-Control", "no-cache");
}

void
nd_control_reply(struct nd_req *r)
{
	const struct nd_control *c = r->control;

	switch (r->t.route) {
	case ND_R_STATUS:
		status(r);
		return;
	case ND_R_TASKS:
		if (c != NULL && c->tasks != NULL) {
			tasks(r);
			return;
		}
		break;
	case ND_R_SYNC:
		if (c != NULL && c->sync != NULL) {
			sync_now(r);
			return;
		}
		break;
	case ND_R_CANCEL:
		if (c != NULL && c->cancel != NULL) {
			cancel(r);
			return;
		}
		break;
	default:
		nd_reply_error(r, 500, "internal error");
		return;
	}
	nd_reply_error(r, 404, NO_TASKS);
}
