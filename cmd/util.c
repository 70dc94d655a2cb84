/*
 * Helpers shared by the subcommands: errors, argument parsing, output.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/buf.h"
#include "../common/hex.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../protocol/pathenc.h"
#include "cmd.h"

int
usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pulpdist %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\n", usage);
	return EXIT_USAGE;
}

int
bad_option(const char *cmd, const char *usage, char **argv)
{
	const char *opt = argv[optind - 1];

	/* getopt_long leaves optopt 0 for an unknown long option. */
	if (strncmp(opt, "--", 2) != 0)
		return usage_error(cmd, usage, "unknown option -%c", optopt);
	if (optopt != 0 && strchr(opt, '=') != NULL)
		return usage_error(cmd, usage, "option %.*s takes no value",
		    (int)(strchr(opt, '=') - opt), opt);
	if (optopt != 0)
		return usage_error(cmd, usage, "option %s needs a value", opt);
	return usage_error(cmd, usage, "unknown option %s", opt);
}

int
fail(const struct pd_error *err)
{
	log_error("%s", err->msg[0] ? err->msg : pd_strerror(err->code));
	return 1;
}

bool
parse_u64_arg(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

bool
parse_duration(const char *s, int64_t *out)
{
	static const struct { char unit; int64_t secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	char *end;
	unsigned long long v;
	size_t i;

	if (strcmp(s, "never") == 0) {
		*out = 0;
		return true;
	}
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || v == 0 || v > (1ULL << 40))
		return false;
	if (*end == '\0') {
		*out = (int64_t)v;
		return true;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (end[0] == units[i].unit && end[1] == '\0') {
			*out = (int64_t)v * units[i].secs;
			return true;
		}
	return false;
}

void
fmt_bytes(uint64_t n, char *out, size_t sz)
{
	static const char *const u[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	int i = -1;

	if (n < 1024) {
		snprintf(out, sz, "%llu B", (unsigned long long)n);
		return;
	}
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, sz, "%.1f %s", v, u[i]);
}

void
fmt_time(int64_t t, char *out, size_t sz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, sz, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, sz, "@%lld", (long long)t);
}

char *
esc_path(const char *p, size_t n)
{
	struct pd_buf b;

	pd_buf_init(&b, 4 * n + 16);
	if (pr_escape(&b, p, n) != PD_OK || b.data == NULL) {
		pd_buf_free(&b);
		return pd_strdup("?");
	}
	return (char *)pd_buf_take(&b, NULL);
}

void
put_path(FILE *f, const char *p, size_t n)
{
	char *e;

	if (pr_is_plain(p, n)) {
		fwrite(p, 1, n, f);
		return;
	}
	e = esc_path(p, n);
	fputs(e ? e : "?", f);
	pd_free(e);
}

json_t *
json_path(const char *p, size_t n)
{
	char *e;
	json_t *j;

	if (pr_is_plain(p, n))
		return json_stringn(p, n);
	e = esc_path(p, n);
	j = e ? json_string(e) : NULL;
	pd_free(e);
	return j;
}

void
hex(const unsigned char *p, size_t n, char *out)
{
	pd_hex_encode(p, n, out);
}

int
print_json(json_t *j)
{
	int rc;

	if (j == NULL) {
		log_error("out of memory building JSON output");
		return 1;
	}
	rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (rc != 0 || fputc('\n', stdout) == EOF) {
		log_error("writing JSON output failed");
		return 1;
	}
	return 0;
}
