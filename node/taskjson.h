/*
 * Task records as JSON (jansson), for the node's /v1/tasks and
 * /v1/status and for `pulpdist tasks --json`.  Times are milliseconds
 * since the epoch, 0 for "not yet".
 */
#ifndef ND_TASKJSON_H
#define ND_TASKJSON_H

#include <stddef.h>

#include <jansson.h>

#include "../catalog/tasks.h"
#include "engine.h"

/* A new object (the caller's reference), or NULL if memory ran out. */
json_t	*nd_task_json(const struct cat_task *);
/* An array of n tasks in their order; NULL if memory ran out. */
json_t	*nd_tasks_json(const struct cat_task *, size_t n);
/* The engine's counters as an object; NULL if memory ran out. */
json_t	*nd_engine_stats_json(const struct nd_engine_stats *);

#endif
