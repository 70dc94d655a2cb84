/*
 * The monotonic clock, for timeouts, deadlines and durations: never
 * the wall clock, which can jump.
 */
#ifndef PD_CLOCK_H
#define PD_CLOCK_H

#include <stdint.h>

/* Milliseconds since some fixed point (CLOCK_MONOTONIC). */
int64_t	pd_mono_ms(void);
/* Microseconds, on the same clock. */
int64_t	pd_mono_us(void);
/* Seconds, with the nanoseconds, on the same clock. */
double	pd_mono_sec(void);

#endif
