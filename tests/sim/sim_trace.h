/*
 * sim_trace: what happened in a seed, in readable lines. Every event is
 * appended to a bounded ring (the last SIM_TRACE_LINES), printed when the
 * seed fails; with --trace every line is also printed as it happens. A
 * running digest of all lines shows that two runs of a seed were the same
 * run (--check-determinism).
 */
#ifndef KASSA_SIM_TRACE_H
#define KASSA_SIM_TRACE_H

#include "sim_base.h"

#include <stdio.h>

typedef struct sim_trace_line {
    uint64_t at_us;
    int8_t node; /* 0..SIM_NODES_MAX-1, SIM_EP_CLOUD, or -1: the simulator */
    char text[SIM_TRACE_TEXT_BYTES];
} sim_trace_line;

typedef struct sim_trace {
    bool live;      /* print each line as it is added */
    uint64_t lines; /* added in this seed (the ring holds the last ones) */
    uint64_t notable_lines;
    uint64_t digest;
    sim_trace_line ring[SIM_TRACE_LINES];
    sim_trace_line notable[SIM_TRACE_NOTABLE_LINES];
} sim_trace;

void sim_trace_reset(sim_trace *t, bool live);
/* Adds a line (to the notable ring too when notable). */
void sim_trace_add(sim_trace *t, uint64_t at_us, int node, bool notable, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Prints the lines still in the ring (or the notable ring), oldest first. */
void sim_trace_dump(const sim_trace *t, bool notable, FILE *out);

#endif
