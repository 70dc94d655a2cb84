/*
 * A receive rate limit shared by every transfer of a fetch: the
 * generic cell rate algorithm, a token bucket kept as one time.
 *
 * The limiter's clock, tat ("theoretical arrival time"), is when the
 * bytes taken so far would have been received at exactly the rate.
 * Bytes may be taken while tat is not in the future; taking n pushes tat
 * on by n / rate.  A limiter idle for a while may not save up more than
 * burst microseconds of credit, so a pause between files is no licence
 * for a flood after it.  A chunk is taken whole even if it overdraws:
 * libcurl hands over what it read, up to 16 KiB, and the debt is paid by
 * the wait before the next one.  Times are microseconds of the caller's
 * monotonic clock, so tests can give any.
 */
#ifndef ND_RATE_H
#define ND_RATE_H

#include <stdbool.h>
#include <stdint.h>

struct nd_rate {
	uint64_t	rate;	/* bytes per second, > 0 */
	uint64_t	burst;	/* us of credit an idle limiter keeps */
	uint64_t	tat;	/* us */
	uint64_t	frac;	/* bytes of tat's last microsecond */
};

/* Burst: 100 ms of the rate, at least 16 KiB (one libcurl read). */
void	nd_rate_init(struct nd_rate *, uint64_t rate);
/* May n bytes come in at now?  If so they are counted. */
bool	nd_rate_take(struct nd_rate *, uint64_t now, uint64_t n);
/* When nd_rate_take will next say yes: now or later. */
uint64_t nd_rate_next(const struct nd_rate *, uint64_t now);

#endif
