/*
 * stderr logging with a level filter.  One fprintf per line so lines from
 * several threads do not interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static enum pd_log_level level = PD_LOG_INFO;
static const char *const lname[] = { "error", "warning", "info", "debug" };

void
pd_log_set_level(enum pd_log_level l)
{
	level = l;
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
	char line[2048];
	va_list ap;

	if (l > level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "pulpdist: %s: %s\n", lname[l], line);
}
