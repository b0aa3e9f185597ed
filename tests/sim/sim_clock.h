/*
 * sim_clock: virtual time. One global clock in microseconds drives the
 * whole simulation; nothing reads the host's clock. Each node sees its own
 * clocks derived from it:
 *  - a wall clock (what term_set_clock hands the terminal core, so its
 *    hybrid logical clock stamps operations with it): true time plus an
 *    offset that skew faults set and make jump, running at a rate off by
 *    drift_ppm;
 *  - a monotonic clock (what the peer links time their rounds, dials and
 *    timeouts with, as CLOCK_MONOTONIC in the real daemon): zero at the
 *    node's last boot, same drifting rate, never jumping.
 * Periodic work of a node (ticks) is spaced in its own time, so a node
 * whose clock runs fast ticks more often in global time.
 */
#ifndef KASSA_SIM_CLOCK_H
#define KASSA_SIM_CLOCK_H

#include "sim_base.h"

/* Largest rate error a node may have: 1 % (real quartz is ~0.01 %; more
 * makes timeouts disagree visibly, which is the point). */
#define SIM_DRIFT_PPM_MAX 10000

typedef struct sim_node_clock {
    int64_t offset_ms; /* wall clock reading minus true time, at run start */
    int32_t drift_ppm; /* > 0: runs fast */
    uint64_t boot_us;  /* global time of its last (re)start */
} sim_node_clock;

typedef struct sim_clock {
    uint64_t now_us;   /* global virtual time since the start of the seed */
    uint64_t epoch_ms; /* true wall time (Unix ms) at now_us = 0 */
    sim_node_clock node[SIM_NODES_MAX];
} sim_clock;

void sim_clock_reset(sim_clock *c, uint64_t epoch_ms);
/* The node's wall clock now, in Unix ms (skewed, drifting). */
uint64_t sim_clock_wall_ms(const sim_clock *c, int node);
/* The node's monotonic clock now, in ms since its boot (>= 1). */
int64_t sim_clock_mono_ms(const sim_clock *c, int node);
/* Global microseconds that pass while the node's own clock advances by
 * local_us (at least 1). */
uint64_t sim_clock_global_us(const sim_clock *c, int node, uint64_t local_us);

#endif
