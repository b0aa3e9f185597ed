/* clock.c: monotonic and wall-clock readings in ms and µs. */
#include "kassad/clock.h"

#include <time.h>

/* clock_gettime cannot fail for these clocks on Linux with a valid
 * pointer; a zero reading would only make a timeout fire early. */
static struct timespec now(clockid_t id)
{
    struct timespec ts = {0, 0};
    if (clock_gettime(id, &ts) != 0)
        ts.tv_sec = 0, ts.tv_nsec = 0;
    return ts;
}

int64_t kd_mono_ms(void)
{
    struct timespec ts = now(CLOCK_MONOTONIC);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t kd_mono_us(void)
{
    struct timespec ts = now(CLOCK_MONOTONIC);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t kd_wall_ms(void)
{
    struct timespec ts = now(CLOCK_REALTIME);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
