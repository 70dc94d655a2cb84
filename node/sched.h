/*
 * When a tree's task runs: schedules ("every 15m" or a five-field cron
 * expression) and transfer windows ("22:00-06:00,12:00-13:00"), as the
 * node configuration spells them (doc/CONFIG.md).  Pure functions of
 * their text and a time: no clock is read here, so the daemon and the
 * tests decide what "now" is.
 *
 * How the daemon uses them:
 *   - "every D" counts from the last run: run a tree once when it appears
 *     (daemon start or reload), then at nd_sched_next(s, START), START
 *     being when the last run started.  A run that takes longer than D is
 *     followed by the next one at once, never by two.
 *   - a cron schedule fires at wall-clock minutes in local time (TZ):
 *     nd_sched_next(s, t) is the first matching minute strictly after t,
 *     so pass the time of the last run (or now, at start: a cron tree does
 *     not run at start unless a minute matches).
 *   - a window gates the start of a transfer, never a transfer under way:
 *     when a run falls due and nd_window_open() is false, it waits until
 *     nd_window_next_open().
 *
 * Local time and daylight saving: a cron minute or a window edge that
 * does not exist on a day (clocks go forward) is skipped that day; a
 * minute that occurs twice (clocks go back) fires only the first time,
 * unless the hour field starts with "*" (then it fires in both, as in
 * Vixie cron: "every 5 minutes" keeps its pace).
 *
 * Objects are immutable once parsed and may be read from any thread
 * (localtime_r and mktime are thread-safe; tzset is the caller's).
 */
#ifndef ND_SCHED_H
#define ND_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../common/err.h"

struct nd_sched;
struct nd_window;

/* Longest interval "every" takes, and longest duration accepted. */
#define ND_DURATION_MAX	(366LL * 86400)

/*
 * A duration: a positive count of seconds "90", or counts with units,
 * largest first, "30s", "15m", "2h", "1d", "1h30m", "1d12h".  On success
 * *out is the number of seconds (at most ND_DURATION_MAX) and NULL is
 * returned; otherwise a static sentence saying what is wrong.  "0" and
 * "0s" are accepted (*out = 0): callers that need a positive duration
 * check it themselves.
 */
const char *nd_sched_duration(const char *, int64_t *out);

/*
 * Parse a schedule: "every DURATION" (at least 1s), a five-field cron
 * expression "MIN HOUR DOM MONTH DOW", or one of @hourly @daily @weekly
 * @monthly @yearly @annually.  Cron fields take "*", numbers, ranges
 * "1-5", lists "1,3,5", steps of "*" or of a range ("1-10/2"); months
 * jan-dec and days sun-sat by name (any case), day of week 0 and 7 both
 * Sunday.
 * When both day fields are restricted, a day matching either fires (a
 * field counts as unrestricted when it starts with "*", as in Vixie
 * cron).  On failure *out is NULL and err names the bad field, e.g.
 * "cron hour field \"25\": 25 is past 23".
 * Errors: PD_ERR_PARSE, PD_ERR_NOMEM.  The caller frees with
 * nd_sched_free.
 */
enum pd_err nd_sched_parse(const char *, struct nd_sched **out,
	    struct pd_error *) PD_WARN_UNUSED;

/*
 * The next time the schedule fires strictly after `after` (see the top
 * of this file for what to pass).  (time_t)-1 if a cron schedule never
 * matches within eight years (e.g. "0 0 31 2 *": February 31st).
 */
time_t	nd_sched_next(const struct nd_sched *, time_t after);

/* Seconds of an "every" schedule; 0 for a cron schedule. */
int64_t	nd_sched_interval(const struct nd_sched *);

/* The text it was parsed from (lives with the schedule). */
const char *nd_sched_text(const struct nd_sched *);

void	nd_sched_free(struct nd_sched *);

/*
 * Parse a window: "HH:MM-HH:MM", or a comma-separated list of them, in
 * local time.  A range whose end is not after its start crosses
 * midnight ("22:00-06:00"); 24:00 is allowed as an end; an empty range
 * (start equal to end) is an error.  Errors name the bad range:
 * PD_ERR_PARSE, PD_ERR_NOMEM.  The caller frees with nd_window_free.
 */
enum pd_err nd_window_parse(const char *, struct nd_window **out,
	    struct pd_error *) PD_WARN_UNUSED;

/* Whether a transfer may start at `now`. */
bool	nd_window_open(const struct nd_window *, time_t now);

/*
 * `now` if the window is open then, else the first time after `now` at
 * which it opens; (time_t)-1 if it cannot be found within eight days
 * (a window that lies wholly in a skipped daylight-saving hour).
 */
time_t	nd_window_next_open(const struct nd_window *, time_t now);

/* The text it was parsed from (lives with the window). */
const char *nd_window_text(const struct nd_window *);

void	nd_window_free(struct nd_window *);

#endif
