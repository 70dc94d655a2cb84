#include "rate.h"

#define US	1000000ULL
#define BURST_MIN_BYTES	(16 * 1024ULL)
#define MAX_CHUNK	(1ULL << 40)	/* keeps n * US from overflowing */

void
nd_rate_init(struct nd_rate *r, uint64_t rate)
{
	r->rate = rate > 0 ? rate : 1;
	r->burst = BURST_MIN_BYTES * US / r->rate;
	if (r->burst < US / 10)
		r->burst = US / 10;
	r->tat = 0;
	r->frac = 0;
}

bool
nd_rate_take(struct nd_rate *r, uint64_t now, uint64_t n)
{
	uint64_t base, t;

	if (r->tat > now)
		return false;
	/* Credit saved up while idle is capped at burst. */
	base = now > r->burst && r->tat < now - r->burst ?
	    now - r->burst : r->tat;
	/* n us-bytes over rate; what does not divide carries to the next,
	 * so a stream of small chunks is held to the rate exactly. */
	if (n > MAX_CHUNK)
		n = MAX_CHUNK;
	t = n * US + r->frac;
	r->tat = base + t / r->rate;
	r->frac = t % r->rate;
	return true;
}

uint64_t
nd_rate_next(const struct nd_rate *r, uint64_t now)
{
	return r->tat > now ? r->tat : now;
}
