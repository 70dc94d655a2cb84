/*
 * stderr logging with a level filter.  One fprintf per line so lines from
 * several threads do not interleave.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define CTX_TREE_MAX	64

static enum pd_log_level level = PD_LOG_INFO;
static bool daemon_mode;
static _Thread_local char ctx_tree[CTX_TREE_MAX + 1];
static _Thread_local uint64_t ctx_task;
static const char *const lname[] = { "error", "warning", "info", "debug" };

void
pd_log_set_level(enum pd_log_level l)
{
	level = l;
}

void
pd_log_set_daemon(bool on)
{
	daemon_mode = on;
}

void
pd_log_context(const char *tree, uint64_t task)
{
	snprintf(ctx_tree, sizeof(ctx_tree), "%s", tree ? tree : "");
	ctx_task = task;
}

enum pd_err
pd_log_parse_level(const char *s, enum pd_log_level *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum pd_log_level)i;
			return PD_OK;
		}
	return PD_ERR_USAGE;
}

void
pd_log(enum pd_log_level l, const char *fmt, ...)
{
	char line[2048], when[32], task[32];
	struct tm tm;
	time_t now;
	va_list ap;

	if (l > level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!daemon_mode) {
		fprintf(stderr, "pulpdist: %s: %s\n", lname[l], line);
		return;
	}
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (ctx_task != 0)
		snprintf(task, sizeof(task), "task %" PRIu64, ctx_task);
	else
		snprintf(task, sizeof(task), "-");
	fprintf(stderr, "%s pulpdist: %s: [%s %s] %s\n", when, lname[l],
	    ctx_tree[0] ? ctx_tree : "-", task, line);
}
