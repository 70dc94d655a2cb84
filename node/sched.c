/*
 * Schedules and transfer windows (sched.h).
 *
 * A cron schedule is five bit sets, one per field.  The next fire time is
 * found as cron daemons do, field by field from the largest: a month that
 * does not match skips to the first of the next month, a day to the next
 * midnight, an hour to the next hour, a minute to the next minute, each
 * time re-reading the local calendar from the new instant.  Minutes and
 * hours advance in real seconds, days and months through mktime, so a
 * daylight-saving change in between is simply seen at the next step.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/mem.h"
#include "sched.h"

/* A cron schedule never matching within this long is hopeless. */
#define HORIZON		(8LL * 366 * 86400)
#define WINDOWS_MAX	32

enum field { F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, NFIELDS };

static const struct {
	const char	*name;
	int		 lo, hi;
} fields[NFIELDS] = {
	[F_MIN] = { "minute", 0, 59 },
	[F_HOUR] = { "hour", 0, 23 },
	[F_DOM] = { "day-of-month", 1, 31 },
	[F_MON] = { "month", 1, 12 },
	[F_DOW] = { "day-of-week", 0, 7 },
};

static const char *const months[] = { "jan", "feb", "mar", "apr", "may",
    "jun", "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const days[] = { "sun", "mon", "tue", "wed", "thu",
    "fri", "sat" };

struct nd_sched {
	char		*text;
	int64_t		 every;		/* seconds; 0 for cron */
	uint64_t	 bits[NFIELDS];	/* bit v set: value v matches */
	bool		 dom_star;	/* day-of-month started with '*' */
	bool		 dow_star;
	bool		 hour_star;	/* hour field started with '*' */
};

struct range {
	int		 start, end;	/* minutes of the day; end <= 1440 */
};

struct nd_window {
	char		*text;
	size_t		 n;
	struct range	 r[WINDOWS_MAX];
};

const char *
nd_sched_duration(const char *s, int64_t *out)
{
	static const struct { char unit; int64_t secs; } units[] = {
		{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
	};
	int64_t total = 0, v;
	size_t next = 0, i;

	if (*s == '\0')
		return "empty duration";
	while (*s != '\0') {
		if (!isdigit((unsigned char)*s))
			return "want a number with s, m, h or d, e.g. 90s, "
			    "15m, 1h30m";
		for (v = 0; isdigit((unsigned char)*s); s++) {
			v = v * 10 + (*s - '0');
			if (v > ND_DURATION_MAX)
				return "duration longer than 366 days";
		}
		if (*s == '\0' && next == 0) {
			total = v;	/* a bare count of seconds */
			break;
		}
		for (i = next; i < sizeof(units) / sizeof(units[0]); i++)
			if (*s == units[i].unit)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return *s == '\0' ? "a number needs its unit after "
			    "another unit" : "units are s, m, h and d, "
			    "largest first, each once";
		total += v * units[i].secs;
		if (total > ND_DURATION_MAX)
			return "duration longer than 366 days";
		next = i + 1;
		s++;
	}
	*out = total;
	return NULL;
}

/* A number or a name of field f at *p; advances *p.  -1 if neither. */
static int
value(enum field f, const char **p)
{
	const char *s = *p;
	size_t i;
	int v;

	if (isdigit((unsigned char)*s)) {
		for (v = 0; isdigit((unsigned char)*s) && v < 1000; s++)
			v = v * 10 + (*s - '0');
		*p = s;
		return v;
	}
	for (i = 0; f == F_MON && i < 12; i++)
		if (strncasecmp(s, months[i], 3) == 0) {
			*p = s + 3;
			return (int)i + 1;
		}
	for (i = 0; f == F_DOW && i < 7; i++)
		if (strncasecmp(s, days[i], 3) == 0) {
			*p = s + 3;
			return (int)i;
		}
	return -1;
}

static enum pd_err PD_PRINTF(5, 6)
field_fail(struct pd_error *err, enum field f, const char *text, size_t len,
    const char *fmt, ...)
{
	char why[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return pd_fail(err, PD_ERR_PARSE, "cron %s field \"%.*s\": %s",
	    fields[f].name, (int)len, text, why);
}

/* One comma-separated item of a field: *, *\/S, A, A-B, A-B/S. */
static enum pd_err
parse_item(struct nd_sched *s, enum field f, const char *item, size_t len,
    const char *text, size_t tlen, struct pd_error *err)
{
	const char *p = item, *end = item + len;
	int lo = fields[f].lo, hi = fields[f].hi, step = 1, v;
	bool star = false;

	if (*p == '*') {
		star = true;
		p++;
	} else {
		if ((lo = value(f, &p)) < 0)
			return field_fail(err, f, text, tlen, "want a number "
			    "from %d to %d%s or *", fields[f].lo, fields[f].hi,
			    f == F_MON || f == F_DOW ? ", a name" : "");
		hi = lo;
		if (p < end && *p == '-') {
			p++;
			if ((hi = value(f, &p)) < 0)
				return field_fail(err, f, text, tlen, "a range "
				    "needs an end");
		}
	}
	if (p < end && *p == '/') {
		p++;
		if (!star && lo == hi)
			return field_fail(err, f, text, tlen, "a step needs a "
			    "range or *");
		if (!isdigit((unsigned char)*p) || (step = value(f, &p)) <= 0)
			return field_fail(err, f, text, tlen, "a step is a "
			    "positive number");
	}
	if (p != end)
		return field_fail(err, f, text, tlen, "unexpected text");
	if (lo < fields[f].lo || lo > fields[f].hi ||
	    hi < fields[f].lo || hi > fields[f].hi)
		return field_fail(err, f, text, tlen, "%d is not from %d to %d",
		    lo < fields[f].lo || lo > fields[f].hi ? lo : hi,
		    fields[f].lo, fields[f].hi);
	if (hi < lo)
		return field_fail(err, f, text, tlen, "range %d-%d ends before "
		    "it starts", lo, hi);
	for (v = lo; v <= hi; v += step)
		s->bits[f] |= 1ULL << (f == F_DOW && v == 7 ? 0 : v);
	return PD_OK;
}

static enum pd_err
parse_field(struct nd_sched *s, enum field f, const char *text, size_t len,
    struct pd_error *err)
{
	const char *p = text, *end = text + len, *comma;
	enum pd_err rc;

	for (;;) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (comma == NULL)
			comma = end;
		if (comma == p)
			return field_fail(err, f, text, len, "empty list "
			    "item");
		if ((rc = parse_item(s, f, p, (size_t)(comma - p), text, len,
		    err)) != PD_OK)
			return rc;
		if (comma == end)
			return PD_OK;
		p = comma + 1;
	}
}

static const char *
macro(const char *s)
{
	static const struct { const char *name, *cron; } m[] = {
		{ "@hourly", "0 * * * *" }, { "@daily", "0 0 * * *" },
		{ "@weekly", "0 0 * * 0" }, { "@monthly", "0 0 1 * *" },
		{ "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" },
	};
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strcmp(s, m[i].name) == 0)
			return m[i].cron;
	return NULL;
}

static enum pd_err
parse_cron(struct nd_sched *s, const char *text, struct pd_error *err)
{
	const char *p = text, *start;
	enum pd_err rc;
	int f;

	for (f = 0; f < NFIELDS; f++) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return pd_fail(err, PD_ERR_PARSE, "schedule \"%s\": "
			    "want \"every DURATION\" or five cron fields "
			    "(minute hour day-of-month month day-of-week), "
			    "found %d", text, f);
		for (start = p; *p != '\0' && *p != ' ' && *p != '\t'; p++)
			;
		if ((rc = parse_field(s, (enum field)f, start,
		    (size_t)(p - start), err)) != PD_OK)
			return rc;
		if (f == F_DOM)
			s->dom_star = *start == '*';
		if (f == F_DOW)
			s->dow_star = *start == '*';
		if (f == F_HOUR)
			s->hour_star = *start == '*';
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return pd_fail(err, PD_ERR_PARSE, "schedule \"%s\": more than "
		    "five cron fields", text);
	return PD_OK;
}

enum pd_err
nd_sched_parse(const char *text, struct nd_sched **out,
    struct pd_error *err)
{
	struct nd_sched *s;
	const char *why, *cron;
	enum pd_err rc;

	*out = NULL;
	if ((s = pd_calloc(1, sizeof(*s))) == NULL ||
	    (s->text = pd_strdup(text)) == NULL) {
		rc = pd_fail(err, PD_ERR_NOMEM, "schedule");
		goto out;
	}
	if (strncmp(text, "every", 5) == 0 && (text[5] == ' ' ||
	    text[5] == '\t' || text[5] == '\0')) {
		text += 5;
		while (*text == ' ' || *text == '\t')
			text++;
		if ((why = nd_sched_duration(text, &s->every)) != NULL) {
			rc = pd_fail(err, PD_ERR_PARSE, "schedule \"every "
			    "%s\": %s", text, why);
			goto out;
		}
		if (s->every == 0) {
			rc = pd_fail(err, PD_ERR_PARSE, "schedule \"every "
			    "%s\": the interval must be at least 1s", text);
			goto out;
		}
		rc = PD_OK;
		goto out;
	}
	cron = macro(text);
	if (cron == NULL && text[0] == '@') {
		rc = pd_fail(err, PD_ERR_PARSE, "schedule \"%s\": unknown; "
		    "@hourly, @daily, @weekly, @monthly, @yearly", text);
		goto out;
	}
	rc = parse_cron(s, cron ? cron : text, err);
out:
	if (rc != PD_OK) {
		nd_sched_free(s);
		return rc;
	}
	*out = s;
	return PD_OK;
}

static bool
has(const struct nd_sched *s, enum field f, int v)
{
	return (s->bits[f] >> v) & 1;
}

static bool
day_matches(const struct nd_sched *s, const struct tm *tm)
{
	bool dom = has(s, F_DOM, tm->tm_mday), dow = has(s, F_DOW,
	    tm->tm_wday);

	if (s->dom_star || s->dow_star)
		return dom && dow;
	return dom || dow;
}

/*
 * Whether local minute t also happened an hour (or half) earlier: the
 * clocks went back.  A job at a fixed hour does not run twice then; one
 * whose hour field starts with '*' runs in both (as in Vixie cron).
 */
static bool
repeated(time_t t, const struct tm *tm)
{
	static const int back[] = { 3600, 1800 };
	struct tm e;
	time_t u;
	size_t i;

	if (tm->tm_isdst != 0)
		return false;
	for (i = 0; i < sizeof(back) / sizeof(back[0]); i++) {
		u = t - back[i];
		if (localtime_r(&u, &e) != NULL && e.tm_isdst > 0 &&
		    e.tm_hour == tm->tm_hour && e.tm_min == tm->tm_min)
			return true;
	}
	return false;
}

/* Local midnight of tm's day plus `days` days (and months), after t. */
static time_t
midnight(struct tm tm, int mons, int ndays, time_t t)
{
	time_t u;

	tm.tm_mon += mons;
	if (mons)
		tm.tm_mday = 1;
	tm.tm_mday += ndays;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	u = mktime(&tm);
	return u > t ? u : t + 60;
}

time_t
nd_sched_next(const struct nd_sched *s, time_t after)
{
	struct tm tm;
	time_t t;

	if (s->every)
		return after + (time_t)s->every;
	t = after - ((after % 60) + 60) % 60 + 60;
	while (t - after <= HORIZON) {
		if (localtime_r(&t, &tm) == NULL)
			return (time_t)-1;
		if (!has(s, F_MON, tm.tm_mon + 1))
			t = midnight(tm, 1, 0, t);
		else if (!day_matches(s, &tm))
			t = midnight(tm, 0, 1, t);
		else if (!has(s, F_HOUR, tm.tm_hour))
			t += (time_t)(60 - tm.tm_min) * 60;
		else if (!has(s, F_MIN, tm.tm_min) ||
		    (!s->hour_star && repeated(t, &tm)))
			t += 60;
		else
			return t;
	}
	return (time_t)-1;
}

int64_t
nd_sched_interval(const struct nd_sched *s)
{
	return s->every;
}

const char *
nd_sched_text(const struct nd_sched *s)
{
	return s->text;
}

void
nd_sched_free(struct nd_sched *s)
{
	if (s == NULL)
		return;
	pd_free(s->text);
	pd_free(s);
}

/* "HH:MM" at p (HH 00-24, 24 only as 24:00); minutes of the day, or -1. */
static int
hhmm(const char *p, size_t len)
{
	int h, m;

	if (len != 5 || !isdigit((unsigned char)p[0]) ||
	    !isdigit((unsigned char)p[1]) || p[2] != ':' ||
	    !isdigit((unsigned char)p[3]) || !isdigit((unsigned char)p[4]))
		return -1;
	h = (p[0] - '0') * 10 + (p[1] - '0');
	m = (p[3] - '0') * 10 + (p[4] - '0');
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return -1;
	return h * 60 + m;
}

static enum pd_err
parse_range(struct nd_window *w, const char *p, size_t len,
    struct pd_error *err)
{
	const char *dash;
	struct range r;

	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	dash = memchr(p, '-', len);
	if (dash == NULL || (r.start = hhmm(p, (size_t)(dash - p))) < 0 ||
	    r.start == 1440 ||
	    (r.end = hhmm(dash + 1, len - (size_t)(dash - p) - 1)) < 0)
		return pd_fail(err, PD_ERR_PARSE, "window \"%.*s\": want "
		    "HH:MM-HH:MM (00:00 to 24:00)", (int)len, p);
	if (r.start == r.end || (r.start == 0 && r.end == 1440))
		return pd_fail(err, PD_ERR_PARSE, "window \"%.*s\": %s",
		    (int)len, p, r.start == r.end ? "empty range (leave "
		    "window out to allow every time)" : "the whole day (leave "
		    "window out to allow every time)");
	if (w->n == WINDOWS_MAX)
		return pd_fail(err, PD_ERR_LIMIT, "window: more than %d "
		    "ranges", WINDOWS_MAX);
	w->r[w->n++] = r;
	return PD_OK;
}

enum pd_err
nd_window_parse(const char *text, struct nd_window **out,
    struct pd_error *err)
{
	struct nd_window *w;
	const char *p = text, *comma;
	enum pd_err rc = PD_OK;

	*out = NULL;
	if ((w = pd_calloc(1, sizeof(*w))) == NULL ||
	    (w->text = pd_strdup(text)) == NULL) {
		nd_window_free(w);
		return pd_fail(err, PD_ERR_NOMEM, "window");
	}
	for (;;) {
		if ((comma = strchr(p, ',')) == NULL)
			comma = p + strlen(p);
		if ((rc = parse_range(w, p, (size_t)(comma - p), err)) !=
		    PD_OK || *comma == '\0')
			break;
		p = comma + 1;
	}
	if (rc != PD_OK) {
		nd_window_free(w);
		return rc;
	}
	*out = w;
	return PD_OK;
}

bool
nd_window_open(const struct nd_window *w, time_t now)
{
	struct tm tm;
	size_t i;
	int m;

	if (localtime_r(&now, &tm) == NULL)
		return false;
	m = tm.tm_hour * 60 + tm.tm_min;
	for (i = 0; i < w->n; i++) {
		if (w->r[i].start < w->r[i].end ?
		    m >= w->r[i].start && m < w->r[i].end :
		    m >= w->r[i].start || m < w->r[i].end)
			return true;
	}
	return false;
}

time_t
nd_window_next_open(const struct nd_window *w, time_t now)
{
	struct tm base, tm;
	time_t best = (time_t)-1, c;
	size_t i;
	int d;

	if (nd_window_open(w, now))
		return now;
	if (localtime_r(&now, &base) == NULL)
		return (time_t)-1;
	/* Closed now, so it opens at the start of a range: the earliest
	 * start after now that is really open (not skipped by DST). */
	for (d = 0; d <= 8 && best == (time_t)-1; d++) {
		for (i = 0; i < w->n; i++) {
			tm = base;
			tm.tm_mday += d;
			tm.tm_hour = w->r[i].start / 60;
			tm.tm_min = w->r[i].start % 60;
			tm.tm_sec = 0;
			tm.tm_isdst = -1;
			c = mktime(&tm);
			if (c > now && (best == (time_t)-1 || c < best) &&
			    nd_window_open(w, c))
				best = c;
		}
	}
	return best;
}

const char *
nd_window_text(const struct nd_window *w)
{
	return w->text;
}

void
nd_window_free(struct nd_window *w)
{
	if (w == NULL)
		return;
	pd_free(w->text);
	pd_free(w);
}
