/*
 * sim_queue: the pending events of a seed, a bounded binary min-heap
 * ordered by (time, insertion number). The insertion number breaks ties:
 * two events due at the same microsecond run in the order they were
 * scheduled, so a seed replays identically.
 */
#ifndef KASSA_SIM_QUEUE_H
#define KASSA_SIM_QUEUE_H

#include "sim_base.h"

typedef enum sim_event_kind {
    SIM_EV_DELIVER = 1, /* a message arrives: arg is its slot in the network */
    SIM_EV_TICK,        /* a node's periodic work: arg is its life number */
    SIM_EV_PUMP,        /* a node's links send more (the next loop pass) */
    SIM_EV_WORK,        /* the workload acts once */
    SIM_EV_FAULT,       /* the fault scheduler acts once */
    SIM_EV_HEAL,        /* a partition ends: arg is its number */
    SIM_EV_RESTART,     /* a crashed node restarts: arg is its life number */
    SIM_EV_CHECK,       /* the continuous invariant checks */
    SIM_EV_FINAL,       /* the chaos phase ends: heal, restart, quiesce */
} sim_event_kind;

typedef struct sim_event {
    uint64_t at_us;
    uint64_t seq; /* insertion number: the tie-break */
    uint8_t kind;
    int8_t node; /* -1 when none */
    uint32_t arg;
} sim_event;

typedef struct sim_queue {
    size_t n;
    uint64_t next_seq;
    sim_event heap[SIM_QUEUE_MAX];
} sim_queue;

void sim_queue_reset(sim_queue *q);
void sim_queue_push(sim_queue *q, uint64_t at_us, sim_event_kind kind, int node, uint32_t arg);
/* The earliest event, removed; false when the queue is empty. */
bool sim_queue_pop(sim_queue *q, sim_event *out);
const char *sim_event_name(int kind);

#endif
