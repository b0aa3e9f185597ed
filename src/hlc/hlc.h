/*
 * hlc: hybrid logical clock (physical milliseconds + logical counter).
 *
 * A timestamp is one uint64: the upper 48 bits are Unix milliseconds, the
 * lower 16 a logical counter, so timestamps compare as plain integers and
 * stay close to wall time. Pure: the caller passes the physical time in, so
 * tests and the simulation drive the clock deterministically.
 */
#ifndef KASSA_HLC_H
#define KASSA_HLC_H

#include <stdbool.h>
#include <stdint.h>

#define HLC_LOGICAL_BITS 16
#define HLC_LOGICAL_MAX ((1u << HLC_LOGICAL_BITS) - 1)
#define HLC_DEFAULT_MAX_SKEW_MS 60000

typedef uint64_t hlc_ts;

typedef struct hlc_clock {
    hlc_ts last; /* highest timestamp issued or adopted */
} hlc_clock;

static inline uint64_t hlc_physical_ms(hlc_ts ts)
{
    return ts >> HLC_LOGICAL_BITS;
}
static inline uint32_t hlc_logical(hlc_ts ts)
{
    return (uint32_t)(ts & HLC_LOGICAL_MAX);
}
static inline hlc_ts hlc_make(uint64_t physical_ms, uint32_t logical)
{
    return physical_ms << HLC_LOGICAL_BITS | (logical & HLC_LOGICAL_MAX);
}

/* Issues a timestamp for a local event: strictly greater than every
 * timestamp issued or adopted before, and >= physical time. */
hlc_ts hlc_now(hlc_clock *c, uint64_t physical_ms);

/* Takes in a remote timestamp. A remote clock more than max_skew_ms ahead
 * of physical_ms is not adopted blindly: the clock advances only to
 * (physical_ms + max_skew_ms, logical 0) and the function returns true
 * (clamped), so the caller can report it. */
bool hlc_observe(hlc_clock *c, hlc_ts remote, uint64_t physical_ms, uint64_t max_skew_ms);

/* Wall-clock milliseconds (CLOCK_REALTIME), for callers that run for real. */
uint64_t hlc_wall_ms(void);

#endif
