/*
 * What a node daemon adds to the server (spec/PROTOCOL.md, "Node
 * control"): its status, its tasks, and requests to act on them.
 *
 * The server answers GET /v1/status by itself with what any node has
 * (its trees' newest versions, its counters); a daemon that hands the
 * server a struct nd_control adds what only it knows (node name, tree
 * roles and states, running and queued tasks, last errors, rates) and
 * answers GET /v1/tasks, POST /v1/trees/T/sync and POST
 * /v1/tasks/ID/cancel.  Without one (`pulpdist serve`), those three are
 * 404 with "this node runs no tasks".
 *
 * The callbacks run on worker threads, several at once: they must be
 * thread-safe and must not block for long (they read the task table;
 * they never wait for a task).
 */
#ifndef ND_CONTROL_H
#define ND_CONTROL_H

#include <stdint.h>

#include <jansson.h>

#include "../common/err.h"

/* Most tasks one GET /v1/tasks lists. */
#define ND_TASKS_LIST_MAX	1000
#define ND_TASKS_LIST_DEFAULT	50

struct nd_control {
	void	*arg;
	/*
	 * Add to the status object st what the daemon knows.  st already
	 * has "node" (an object), "trees" (an array of objects with
	 * "name", "version", "manifest"), "tasks" ({"running": [],
	 * "queued": []}), "errors" ([]) and "server" (counters); the
	 * callback may add members to any of them.  PD_OK or an error,
	 * which makes a 500.
	 */
	enum pd_err	(*status)(void *arg, json_t *st, struct pd_error *);
	/*
	 * The newest limit tasks (of tree, when not NULL), newest first,
	 * as an array: a new reference in *out.
	 */
	enum pd_err	(*tasks)(void *arg, const char *tree, unsigned limit,
			    json_t **out, struct pd_error *);
	/*
	 * Queue a sync (mirror) or import (origin) of tree now: the task's
	 * id in *id.  PD_ERR_NOTFOUND for a tree the node does not have
	 * (404), PD_ERR_CONFLICT when one is queued already (409, *id
	 * is that one's).
	 */
	enum pd_err	(*sync)(void *arg, const char *tree, uint64_t *id,
			    struct pd_error *);
	/*
	 * Cancel task id: a queued one at once, a running one at its next
	 * checkpoint.  PD_ERR_NOTFOUND (404), PD_ERR_CONFLICT for a task
	 * that already ended (409).
	 */
	enum pd_err	(*cancel)(void *arg, uint64_t id, struct pd_error *);
};

#endif
