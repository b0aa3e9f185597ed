/* sim_clock.c: global virtual time and each node's view of it (sim_clock.h). */
#include "sim_clock.h"

#include <string.h>

void sim_clock_reset(sim_clock *c, uint64_t epoch_ms)
{
    memset(c, 0, sizeof *c);
    c->epoch_ms = epoch_ms;
}

/* Microseconds the node's clock advanced since global time since_us. */
static int64_t local_elapsed_us(const sim_clock *c, int node, uint64_t since_us)
{
    SIM_ASSERT(node >= 0 && node < SIM_NODES_MAX);
    SIM_ASSERT(c->now_us >= since_us);
    const sim_node_clock *n = &c->node[node];
    SIM_ASSERT(n->drift_ppm >= -SIM_DRIFT_PPM_MAX && n->drift_ppm <= SIM_DRIFT_PPM_MAX);
    int64_t dt_us = (int64_t)(c->now_us - since_us);
    return dt_us + dt_us * n->drift_ppm / 1000000;
}

uint64_t sim_clock_wall_ms(const sim_clock *c, int node)
{
    int64_t ms =
        (int64_t)c->epoch_ms + c->node[node].offset_ms + local_elapsed_us(c, node, 0) / 1000;
    SIM_ASSERT(ms > 0);
    return (uint64_t)ms;
}

int64_t sim_clock_mono_ms(const sim_clock *c, int node)
{
    /* + 1: the peer bookkeeping treats a time of 0 as "never". */
    return local_elapsed_us(c, node, c->node[node].boot_us) / 1000 + 1;
}

uint64_t sim_clock_global_us(const sim_clock *c, int node, uint64_t local_us)
{
    SIM_ASSERT(node >= 0 && node < SIM_NODES_MAX);
    int64_t rate = 1000000 + c->node[node].drift_ppm;
    uint64_t us = local_us * 1000000 / (uint64_t)rate;
    return us ? us : 1;
}
