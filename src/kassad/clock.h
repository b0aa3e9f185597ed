/* clock: the two clocks kassad reads. Timeouts and latencies use the
 * monotonic clock (immune to wall-clock steps); times shown to clients
 * (expires_at_ms) use the wall clock. */
#ifndef KASSAD_CLOCK_H
#define KASSAD_CLOCK_H

#include <stdint.h>

int64_t kd_mono_ms(void);
uint64_t kd_mono_us(void);
int64_t kd_wall_ms(void);

#endif
