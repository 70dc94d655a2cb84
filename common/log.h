/*
 * Logging for programs, not libraries: library functions return errors
 * and hand warnings to a callback; the command or daemon logs them here.
 * Lines go to stderr as "pulpdist: LEVEL: text".
 */
#ifndef PD_LOG_H
#define PD_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum pd_log_level {
	PD_LOG_ERROR,
	PD_LOG_WARN,
	PD_LOG_INFO,
	PD_LOG_DEBUG,
};

void	pd_log_set_level(enum pd_log_level);
/*
 * For a daemon: every line starts with the time (UTC) and carries the
 * tree and task the thread works on, "[TREE task N]", "-" for none, so
 * that a node's log can be read per tree and per task.
 */
void	pd_log_set_daemon(bool);
/*
 * What the calling thread works on from now on (a worker sets it around
 * a task); tree NULL and task 0 for nothing.  The tree is copied.
 */
void	pd_log_context(const char *tree, uint64_t task);
/* Parse "error", "warn", "info", "debug"; PD_ERR_USAGE otherwise. */
enum pd_err pd_log_parse_level(const char *, enum pd_log_level *);
void	pd_log(enum pd_log_level, const char *, ...) PD_PRINTF(2, 3);

#define log_error(...)	pd_log(PD_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	pd_log(PD_LOG_WARN, __VA_ARGS__)
#define log_info(...)	pd_log(PD_LOG_INFO, __VA_ARGS__)
#define log_debug(...)	pd_log(PD_LOG_DEBUG, __VA_ARGS__)

#endif
