/*
 * Unit tests of node/rate.c, the receive rate limit, on a clock the test
 * moves: the long-run rate is exact, an idle limiter saves no more than
 * its burst, an overdrawn chunk is paid for by the wait after it.
 */
#include "../../node/rate.h"
#include "unit.h"

#define US	1000000ULL

/* Feed chunks as fast as the limiter takes them: the bytes taken by
 * time t are rate * t plus the burst, never more. */
static void
test_steady(void)
{
	struct nd_rate r;
	uint64_t now = 5 * US, start = now, got = 0;

	nd_rate_init(&r, 512 * 1024);
	while (now < start + 4 * US) {
		if (nd_rate_take(&r, now, 16384))
			got += 16384;
		else
			now = nd_rate_next(&r, now);
		/* +1: the burst, 52428.8 bytes, rounds up. */
		CU_ASSERT(got <= 512 * 1024 * (now - start) / US +
		    512 * 1024 / 10 + 16384 + 1);
	}
	/* 4 s at 512 KiB/s: 2 MiB, give or take the burst and a chunk. */
	CU_ASSERT(got >= 2 * 1024 * 1024);
	CU_ASSERT(got <= 2 * 1024 * 1024 + 512 * 1024 / 10 + 2 * 16384);
}

/* Refused until its time, then taken; the burst of a slow rate is
 * one libcurl chunk, 16 KiB, not 100 ms of it. */
static void
test_next(void)
{
	struct nd_rate r;
	uint64_t now = 100 * US, at, got = 0;

	nd_rate_init(&r, 1000);
	CU_ASSERT_EQUAL(r.burst, 16384 * US / 1000);
	while (nd_rate_take(&r, now, 1000))
		got += 1000;
	/* 16384 bytes of credit, and one overdrawn chunk past it. */
	CU_ASSERT_EQUAL(got, 17000);
	at = nd_rate_next(&r, now);
	CU_ASSERT_EQUAL(at, now + 616 * US / 1000);
	CU_ASSERT_FALSE(nd_rate_take(&r, at - 1, 1));
	CU_ASSERT_TRUE(nd_rate_take(&r, at, 1));
	CU_ASSERT_EQUAL(nd_rate_next(&r, 0), at + 1000);
}

/* After an hour idle, only the burst comes at once. */
static void
test_idle_burst(void)
{
	struct nd_rate r;
	uint64_t now = 10 * US, got = 0;

	nd_rate_init(&r, 1024 * 1024);
	CU_ASSERT_TRUE(nd_rate_take(&r, now, 1));
	now += 3600 * US;
	while (nd_rate_take(&r, now, 4096))
		got += 4096;
	/* 100 ms of 1 MiB/s, and the chunk that overdrew. */
	CU_ASSERT(got >= 1024 * 1024 / 10);
	CU_ASSERT(got <= 1024 * 1024 / 10 + 4096);
	CU_ASSERT(nd_rate_next(&r, now) > now);
}

/* Small chunks: the remainders carry, so the rate holds to the byte
 * (dropping them, 1 byte at 3 B/s would be 333333 us, and 30 s would
 * take 91). */
static void
test_small_chunks(void)
{
	struct nd_rate r;
	uint64_t now, got = 0;

	nd_rate_init(&r, 3);
	r.tat = 1000 * US;	/* no credit saved */
	for (now = 1000 * US; now < 1030 * US; now = nd_rate_next(&r, now))
		if (nd_rate_take(&r, now, 1))
			got++;
	CU_ASSERT_EQUAL(got, 90);
}

static int
add_rate(void)
{
	static const struct unit_test tests[] = {
		{ "a steady stream is held to the rate", test_steady },
		{ "refused until next, then taken", test_next },
		{ "an idle limiter saves only its burst", test_idle_burst },
		{ "remainders carry: small chunks", test_small_chunks },
	};

	return UNIT_SUITE("rate", NULL, NULL, tests);
}

UNIT_REGISTER("rate", add_rate)
