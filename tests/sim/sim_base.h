/*
 * sim_base: the limits and the always-on assertion every module of the
 * store simulator (tests/sim, README.md there) shares.
 *
 * Every queue, table and loop of the simulator has an explicit bound here.
 * A bound that is hit is a bug of the simulator (its sizing), never of the
 * system under test, so it aborts through SIM_ASSERT with the bound named;
 * invariants of the system under test fail the seed instead (sim_fail in
 * sim.h), with a trace and the command that replays it.
 */
#ifndef KASSA_SIM_BASE_H
#define KASSA_SIM_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Terminals in one simulated store (the issue asks for 3, 5 or 7). */
#define SIM_NODES_MAX 7
/* Network endpoints: the terminals, then the cloud. */
#define SIM_EP_CLOUD SIM_NODES_MAX
#define SIM_EP_MAX (SIM_NODES_MAX + 1)

/* Pending events: a tick per node, one workload, fault, check and phase
 * event, restarts, and every message in flight (two per message at most:
 * duplication). */
#define SIM_QUEUE_MAX 16384
/* Messages in flight at once. A seed has a few hundred at its busiest. */
#define SIM_MSGS_MAX 8192

/* Operations one origin may append in one seed (the workload makes tens). */
#define SIM_OPS_PER_ORIGIN_MAX 1024
/* Sales the workload remembers as targets for voids and returns. */
#define SIM_SALES_MAX 512
/* Operations per peer-link batch and per cloud upload: small on purpose,
 * so that a few tens of operations already make runs of several batches. */
#define SIM_BATCH_OPS_MAX 64
/* Batches one pump of one link sends before yielding to other events (the
 * real link yields after PEER_BATCHES_PER_PASS); the rest follow at once. */
#define SIM_PUMP_BATCHES_MAX 4
/* Payload bytes read per batch past its first operation. */
#define SIM_BATCH_PAYLOAD_MAX_BYTES (256u * 1024u)
/* Records the simulated cloud can hold: every operation of every origin,
 * twice over, so that a broken deduplication still lands in the table
 * where the checker sees it instead of overflowing it. */
#define SIM_CLOUD_RECS_MAX (2 * SIM_NODES_MAX * SIM_OPS_PER_ORIGIN_MAX)

/* Trace: the last SIM_TRACE_LINES events are kept for a failure report. */
#define SIM_TRACE_LINES 2000
#define SIM_TRACE_TEXT_BYTES 200
/* ... and the last SIM_TRACE_NOTABLE_LINES notable ones (faults, crashes,
 * restarts, links up and down, acknowledged actions, repairs, uploader
 * changes, injected bugs), which a long quiet tail would push out of the
 * first ring. */
#define SIM_TRACE_NOTABLE_LINES 400

/* Raft checks: terms and log indexes the checker can follow in one seed
 * (elections every few hundred ms over a few seconds: tens of terms). */
#define SIM_RAFT_TERMS_MAX 4096
#define SIM_RAFT_INDEX_MAX 4096

/* Events handled in one seed: a runaway loop (an event that schedules
 * itself at the same instant forever) stops here instead of hanging. */
#define SIM_EVENTS_PER_SEED_MAX 2000000

#define SIM_STORE_ID "store-sim"

void sim_panic(const char *file, int line, const char *what) __attribute__((noreturn));
/* The run's temporary directory could not be set up (said why on stderr):
 * removes it and exits 2. */
void sim_exit_setup_error(void) __attribute__((noreturn));

/* On in every build type (RelWithDebInfo defines NDEBUG, which would turn
 * assert() off exactly where the seeds run). */
#define SIM_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            sim_panic(__FILE__, __LINE__, #cond);                                                  \
    } while (0)

#endif
