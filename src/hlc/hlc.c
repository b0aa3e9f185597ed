#include "hlc/hlc.h"

#include <time.h>

hlc_ts hlc_now(hlc_clock *c, uint64_t physical_ms)
{
    hlc_ts wall = hlc_make(physical_ms, 0);
    if (wall > c->last)
        c->last = wall;
    else
        /* Same or earlier millisecond: count logically. When the logical
         * part is exhausted the increment carries into the physical part,
         * which keeps timestamps strictly increasing. */
        c->last += 1;
    return c->last;
}

bool hlc_observe(hlc_clock *c, hlc_ts remote, uint64_t physical_ms, uint64_t max_skew_ms)
{
    /* Saturate: the physical part has 48 bits. */
    const uint64_t physical_max = (UINT64_C(1) << (64 - HLC_LOGICAL_BITS)) - 1;
    uint64_t limit_ms = physical_ms + max_skew_ms;
    if (limit_ms < physical_ms || limit_ms > physical_max)
        limit_ms = physical_max;
    bool clamped = remote > hlc_make(limit_ms, HLC_LOGICAL_MAX);
    /* A clamped clock is adopted at logical 0 of the last allowed
     * millisecond, so the next local event still fits within it. */
    hlc_ts adopt = clamped ? hlc_make(limit_ms, 0) : remote;
    if (adopt > c->last)
        c->last = adopt;
    return clamped;
}

uint64_t hlc_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
