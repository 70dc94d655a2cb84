/*
 * Unit tests of node/sched.c: durations, "every" schedules, cron
 * expressions (each field feature, the two-day-fields rule, daylight
 * saving) and transfer windows.  Times are computed in UTC unless a test
 * sets a zone, with setenv("TZ") and tzset(); the suite puts the
 * caller's TZ back when it ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/mem.h"
#include "../../node/sched.h"
#include "unit.h"

static char *saved_tz;
static bool had_tz;

static void
set_tz(const char *tz)
{
	CU_ASSERT_EQUAL_FATAL(setenv("TZ", tz, 1), 0);
	tzset();
}

static int
suite_init(void)
{
	const char *tz = getenv("TZ");

	had_tz = tz != NULL;
	saved_tz = tz ? pd_strdup(tz) : NULL;
	return had_tz && saved_tz == NULL ? -1 : 0;
}

static int
suite_cleanup(void)
{
	if (had_tz)
		setenv("TZ", saved_tz, 1);
	else
		unsetenv("TZ");
	tzset();
	pd_free(saved_tz);
	return 0;
}

/* A UTC time. */
static time_t
ut(int y, int mo, int d, int h, int mi)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return timegm(&tm);
}

static struct nd_sched *
sched(const char *text)
{
	struct pd_error err = { 0 };
	struct nd_sched *s = NULL;

	CU_ASSERT_EQUAL(nd_sched_parse(text, &s, &err), PD_OK);
	if (s == NULL)
		fprintf(stderr, "\n%s: %s\n", text, err.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

/* next(text, after) == want, in the current zone. */
static void
next_is(const char *text, time_t after, time_t want)
{
	struct nd_sched *s = sched(text);
	time_t got = nd_sched_next(s, after);

	if (got != want)
		fprintf(stderr, "\n\"%s\" after %lld: got %lld, want %lld\n",
		    text, (long long)after, (long long)got, (long long)want);
	CU_ASSERT_EQUAL(got, want);
	nd_sched_free(s);
}

/* Parsing text fails, and the message has want in it. */
static void
sched_bad(const char *text, const char *want)
{
	struct pd_error err = { 0 };
	struct nd_sched *s = (struct nd_sched *)&err;

	CU_ASSERT_EQUAL(nd_sched_parse(text, &s, &err), PD_ERR_PARSE);
	CU_ASSERT_PTR_NULL(s);
	if (strstr(err.msg, want) == NULL)
		fprintf(stderr, "\n\"%s\": \"%s\" lacks \"%s\"\n", text,
		    err.msg, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want));
}

static void
test_duration(void)
{
	static const struct { const char *s; int64_t v; } good[] = {
		{ "30s", 30 }, { "15m", 900 }, { "2h", 7200 }, { "1d", 86400 },
		{ "1h30m", 5400 }, { "1d12h", 129600 }, { "2m5s", 125 },
		{ "90", 90 }, { "0", 0 }, { "366d", 366 * 86400 },
	};
	static const char *const bad[] = { "", "5x", "30s15m", "1h30", "m",
	    "-5", "1.5h", "15 m", "1h1h", "367d", "99999999999999999999" };
	int64_t v;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -1;
		CU_ASSERT_PTR_NULL(nd_sched_duration(good[i].s, &v));
		CU_ASSERT_EQUAL(v, good[i].v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = -1;
		CU_ASSERT_PTR_NOT_NULL(nd_sched_duration(bad[i], &v));
		CU_ASSERT_EQUAL(v, -1);
	}
}

static void
test_every(void)
{
	struct nd_sched *s = sched("every 15m");
	time_t t = ut(2026, 11, 30, 21, 7) + 13;

	CU_ASSERT_EQUAL(nd_sched_interval(s), 900);
	CU_ASSERT_STRING_EQUAL(nd_sched_text(s), "every 15m");
	/* Relative to the last run, not aligned to the clock. */
	CU_ASSERT_EQUAL(nd_sched_next(s, t), t + 900);
	nd_sched_free(s);
	s = sched("every 1h30m");
	CU_ASSERT_EQUAL(nd_sched_next(s, t), t + 5400);
	nd_sched_free(s);
	s = sched("every   30s");
	CU_ASSERT_EQUAL(nd_sched_interval(s), 30);
	nd_sched_free(s);
	sched_bad("every", "every");
	sched_bad("every 0s", "at least 1s");
	sched_bad("every 5x", "units");
	sched_bad("every 400d", "366 days");
}

static void
test_cron_fields(void)
{
	time_t t = ut(2026, 11, 30, 21, 7) + 30;	/* a Monday */

	set_tz("UTC");
	/* Steps of *, strictly after. */
	next_is("*/15 * * * *", t, ut(2026, 11, 30, 21, 15));
	next_is("*/15 * * * *", ut(2026, 11, 30, 21, 15),
	    ut(2026, 11, 30, 21, 30));
	next_is("* * * * *", ut(2026, 11, 30, 21, 15),
	    ut(2026, 11, 30, 21, 16));
	next_is("0 * * * *", t, ut(2026, 11, 30, 22, 0));
	/* Lists, ranges, steps of ranges. */
	next_is("5,10,50 * * * *", t, ut(2026, 11, 30, 21, 10));
	next_is("5,10,50 * * * *", ut(2026, 11, 30, 21, 50),
	    ut(2026, 11, 30, 22, 5));
	next_is("0 9-17 * * *", ut(2026, 11, 30, 17, 30),
	    ut(2026, 12, 1, 9, 0));
	next_is("0 1-10/3 * * *", ut(2026, 12, 1, 1, 0),
	    ut(2026, 12, 1, 4, 0));
	next_is("0 1-10/3 * * *", ut(2026, 12, 1, 10, 0),
	    ut(2026, 12, 2, 1, 0));
	next_is("30 2 * * *", t, ut(2026, 12, 1, 2, 30));
	/* Month names, across a year. */
	next_is("0 0 1 jan,JUL *", t, ut(2027, 1, 1, 0, 0));
	next_is("0 0 1 jul-aug *", t, ut(2027, 7, 1, 0, 0));
	/* Day names, ranges of them; 0 and 7 are both Sunday. */
	next_is("0 0 * * mon-fri", t, ut(2026, 12, 1, 0, 0));
	next_is("0 0 * * sat", t, ut(2026, 12, 5, 0, 0));
	next_is("0 0 * * 7", t, ut(2026, 12, 6, 0, 0));
	next_is("0 0 * * 0", t, ut(2026, 12, 6, 0, 0));
	next_is("0 0 * * 5-7", t, ut(2026, 12, 4, 0, 0));
	/* Only the 29th of February, in the next leap year. */
	next_is("0 0 29 2 *", t, ut(2028, 2, 29, 0, 0));
	next_is("@hourly", t, ut(2026, 11, 30, 22, 0));
	next_is("@daily", t, ut(2026, 12, 1, 0, 0));
	next_is("@weekly", t, ut(2026, 12, 6, 0, 0));
	next_is("@monthly", t, ut(2026, 12, 1, 0, 0));
	next_is("@yearly", t, ut(2027, 1, 1, 0, 0));
}

static void
test_cron_days(void)
{
	time_t t = ut(2026, 11, 30, 21, 7);
	struct nd_sched *s;

	set_tz("UTC");
	/* Both restricted: the 13th or a Friday, whichever comes first. */
	next_is("0 0 13 * fri", t, ut(2026, 12, 4, 0, 0));
	next_is("0 0 13 * fri", ut(2026, 12, 4, 0, 0), ut(2026, 12, 11, 0, 0));
	next_is("0 0 13 * fri", ut(2026, 12, 11, 0, 0),
	    ut(2026, 12, 13, 0, 0));
	/* One of them *: the other alone decides. */
	next_is("0 0 13 * *", t, ut(2026, 12, 13, 0, 0));
	next_is("0 0 * * fri", ut(2026, 12, 4, 0, 0), ut(2026, 12, 11, 0, 0));
	/* A field starting with * counts as unrestricted (Vixie): odd
	 * days that are Fridays. */
	next_is("0 0 */2 * fri", t, ut(2026, 12, 11, 0, 0));
	/* Never: February 31st. */
	s = sched("0 0 31 2 *");
	CU_ASSERT_EQUAL(nd_sched_next(s, t), (time_t)-1);
	CU_ASSERT_EQUAL(nd_sched_interval(s), 0);
	nd_sched_free(s);
}

static void
test_cron_dst(void)
{
	/* Central Europe: 2026-03-29 02:00 CET -> 03:00 CEST, 2026-10-25
	 * 03:00 CEST -> 02:00 CET.  A POSIX rule needs no tz database. */
	set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	/* 02:30 does not exist on March 29th: skipped that day. */
	next_is("30 2 * * *", ut(2026, 3, 28, 2, 0),
	    ut(2026, 3, 30, 0, 30));
	/* 02:30 happens twice on October 25th: it fires the first time. */
	next_is("30 2 * * *", ut(2026, 10, 24, 2, 0),
	    ut(2026, 10, 25, 0, 30));
	next_is("30 2 * * *", ut(2026, 10, 25, 0, 30),
	    ut(2026, 10, 26, 1, 30));
	/* An hour field of * keeps its pace through both changes. */
	next_is("* * * * *", ut(2026, 10, 25, 0, 59),
	    ut(2026, 10, 25, 1, 0));
	next_is("30 * * * *", ut(2026, 10, 25, 0, 30),
	    ut(2026, 10, 25, 1, 30));
	next_is("* * * * *", ut(2026, 3, 29, 0, 59), ut(2026, 3, 29, 1, 0));
	/* Midnight local is 23:00 UTC in winter, 22:00 in summer. */
	next_is("0 0 * * *", ut(2026, 3, 28, 12, 0), ut(2026, 3, 28, 23, 0));
	next_is("0 0 * * *", ut(2026, 3, 29, 12, 0), ut(2026, 3, 29, 22, 0));
	set_tz("UTC");
}

static void
test_cron_errors(void)
{
	sched_bad("* * * *", "five cron fields");
	sched_bad("* * * * * *", "more than five");
	sched_bad("60 * * * *", "minute field \"60\"");
	sched_bad("0 24 * * *", "hour field \"24\"");
	sched_bad("0 0 0 * *", "day-of-month field \"0\"");
	sched_bad("0 0 32 * *", "day-of-month field");
	sched_bad("0 0 * 13 *", "month field \"13\"");
	sched_bad("0 0 * foo *", "month field \"foo\"");
	sched_bad("0 0 * * 8", "day-of-week field \"8\"");
	sched_bad("0 0 * * jan", "day-of-week field \"jan\"");
	sched_bad("0 0 * mon *", "month field \"mon\"");
	sched_bad("5/15 * * * *", "a step needs a range");
	sched_bad("*/0 * * * *", "positive");
	sched_bad("10-5 * * * *", "ends before");
	sched_bad("1,,2 * * * *", "empty list item");
	sched_bad("1- * * * *", "a range needs an end");
	sched_bad("1x * * * *", "unexpected text");
	sched_bad("@often", "unknown");
	sched_bad("", "five cron fields");
}

static struct nd_window *
window(const char *text)
{
	struct pd_error err = { 0 };
	struct nd_window *w = NULL;

	CU_ASSERT_EQUAL(nd_window_parse(text, &w, &err), PD_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	return w;
}

static void
test_window(void)
{
	struct nd_window *w;
	time_t day = ut(2026, 11, 30, 0, 0);

	set_tz("UTC");
	/* Across midnight. */
	w = window("22:00-06:00");
	CU_ASSERT_STRING_EQUAL(nd_window_text(w), "22:00-06:00");
	CU_ASSERT(nd_window_open(w, day + 23 * 3600));
	CU_ASSERT(nd_window_open(w, day));
	CU_ASSERT(nd_window_open(w, day + 5 * 3600 + 59 * 60 + 59));
	CU_ASSERT(!nd_window_open(w, day + 6 * 3600));
	CU_ASSERT(!nd_window_open(w, day + 12 * 3600));
	CU_ASSERT(nd_window_open(w, day + 22 * 3600));
	CU_ASSERT(!nd_window_open(w, day + 22 * 3600 - 1));
	/* Open now: now; else the next start. */
	CU_ASSERT_EQUAL(nd_window_next_open(w, day + 3 * 3600),
	    day + 3 * 3600);
	CU_ASSERT_EQUAL(nd_window_next_open(w, day + 12 * 3600),
	    day + 22 * 3600);
	CU_ASSERT_EQUAL(nd_window_next_open(w, day + 6 * 3600),
	    day + 22 * 3600);
	nd_window_free(w);

	/* A list, one range ending at 24:00. */
	w = window("12:00-13:00, 20:00-24:00");
	CU_ASSERT(nd_window_open(w, day + 12 * 3600 + 30 * 60));
	CU_ASSERT(!nd_window_open(w, day + 13 * 3600 + 30 * 60));
	CU_ASSERT(nd_window_open(w, day + 23 * 3600 + 59 * 60));
	CU_ASSERT(!nd_window_open(w, day + 86400));
	CU_ASSERT_EQUAL(nd_window_next_open(w, day + 13 * 3600 + 30 * 60),
	    day + 20 * 3600);
	CU_ASSERT_EQUAL(nd_window_next_open(w, day + 86400 + 60),
	    day + 86400 + 12 * 3600);
	CU_ASSERT_EQUAL(nd_window_next_open(w, day + 5 * 3600),
	    day + 12 * 3600);
	nd_window_free(w);

	/* In local time. */
	set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
	w = window("22:00-06:00");
	CU_ASSERT(nd_window_open(w, day + 21 * 3600 + 30 * 60));
	CU_ASSERT(!nd_window_open(w, day + 20 * 3600 + 30 * 60));
	CU_ASSERT_EQUAL(nd_window_next_open(w, day + 12 * 3600),
	    day + 21 * 3600);
	nd_window_free(w);
	set_tz("UTC");
}

static void
test_window_errors(void)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "25:00-01:00", "\"25:00-01:00\"" },
		{ "10:00", "want HH:MM-HH:MM" },
		{ "1:00-2:00", "\"1:00-2:00\"" },
		{ "10:60-11:00", "10:60-11:00" },
		{ "10:00-10:00", "empty range" },
		{ "00:00-24:00", "the whole day" },
		{ "24:00-01:00", "want HH:MM-HH:MM" },
		{ "10:00-11:00,", "window \"\"" },
		{ "10:00-11:00,x", "window \"x\"" },
		{ "", "window \"\"" },
	};
	struct pd_error err;
	struct nd_window *w;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pd_error_clear(&err);
		w = (struct nd_window *)&err;
		CU_ASSERT_EQUAL(nd_window_parse(bad[i].text, &w, &err),
		    PD_ERR_PARSE);
		CU_ASSERT_PTR_NULL(w);
		if (strstr(err.msg, bad[i].want) == NULL)
			fprintf(stderr, "\n\"%s\": \"%s\" lacks \"%s\"\n",
			    bad[i].text, err.msg, bad[i].want);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, bad[i].want));
	}
}

static int
add_sched(void)
{
	static const struct unit_test tests[] = {
		{ "durations", test_duration },
		{ "every DURATION", test_every },
		{ "cron lists, ranges, steps, names", test_cron_fields },
		{ "cron day-of-month and day-of-week", test_cron_days },
		{ "cron across daylight saving changes", test_cron_dst },
		{ "cron errors name the field", test_cron_errors },
		{ "windows across midnight, lists, next open", test_window },
		{ "window errors name the range", test_window_errors },
	};

	return UNIT_SUITE("sched", suite_init, suite_cleanup, tests);
}

UNIT_REGISTER("sched", add_sched)
