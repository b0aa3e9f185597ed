/*
 * sim: a whole store in one process (tests/sim/README.md). The world of
 * one seed and the calls every module makes on it.
 *
 * One seed is one run: its number seeds every random draw (the workload,
 * the faults, the network, each node's jitter, each in its own stream), so
 * the same seed with the same options replays the same run event for
 * event. A run has two phases:
 *  - chaos (a few hundred virtual ms): the workload acts at random
 *    terminals while faults hit the network, the clocks and the nodes;
 *  - final: every fault healed, every node restarted, no more workload;
 *    the store must converge within SIM_FINAL_MAX_MS, then the end-of-seed
 *    invariants are checked (sim_check.h).
 */
#ifndef KASSA_SIM_H
#define KASSA_SIM_H

#include "sim_base.h"
#include "sim_check.h"
#include "sim_clock.h"
#include "sim_cloud.h"
#include "sim_fault.h"
#include "sim_net.h"
#include "sim_node.h"
#include "sim_queue.h"
#include "sim_trace.h"
#include "sim_workload.h"

/* Deliberate bugs (--inject-bug), to show that the invariants fire. */
typedef enum sim_bug {
    SIM_BUG_NONE = 0,
    SIM_BUG_DROP_ACKED,    /* drop-acked: one acknowledged op is dropped from every
                              batch that carries it, forever */
    SIM_BUG_CLOUD_DUP,     /* cloud-dup: the cloud stores one op twice */
    SIM_BUG_LOSE_ON_CRASH, /* lose-on-crash: a crash loses the write-ahead log,
                              as synchronous=OFF could */
    SIM_BUG_FORGET_VOTE,   /* forget-vote: a Raft member comes back from a restart
                              without its persisted vote, and restarts so whenever a
                              second candidate asks for its vote in the same term */
    SIM_BUG_MAX = SIM_BUG_FORGET_VOTE,
} sim_bug;

const char *sim_bug_name(int bug);
bool sim_bug_parse(const char *text, int *out);

/* The command line's choices. */
typedef struct sim_config {
    int terminals;   /* 3, 5, 7; 0: drawn from each seed */
    unsigned faults; /* SIM_F_* */
    int bug;         /* sim_bug */
    bool trace_live; /* --trace */
    bool verbose;    /* one line per seed */
} sim_config;

/* The link and upload timing of the simulated store: the daemon's
 * defaults (docs/CONFIGURATION.md) scaled down 10x, so that a seed covers
 * many rounds, reconnections and timeouts in a few hundred virtual ms. */
#define SIM_ANTI_ENTROPY_MS 100
#define SIM_IDLE_TIMEOUT_MS 1000
#define SIM_RECONNECT_MIN_MS 20
#define SIM_RECONNECT_MAX_MS 1000
#define SIM_TICK_MS 10
#define SIM_UPLOAD_INTERVAL_MS 50
#define SIM_UPLOAD_TIMEOUT_MS 250
/* The final phase must converge within this (virtual time after heal). */
#define SIM_FINAL_MAX_MS 10000
/* Converged: held for this long before the end checks (stragglers). */
#define SIM_SETTLE_MS 100

/* What the seed drew. */
typedef struct sim_params {
    int n;
    int64_t chaos_ms;
    int actions;
    size_t batch_max_ops;  /* peer-link batches: 1..SIM_BATCH_OPS_MAX */
    size_t upload_max_ops; /* cloud uploads */
} sim_params;

/* What a seed exercised, summed in the summary: a run that passes also
 * shows that the faults happened and the repair paths were taken. */
typedef struct sim_stats {
    uint64_t links_up, links_closed, resets, early_frames;
    uint64_t repairs;         /* origins rewound by the stall repair */
    uint64_t relayed_ops;     /* sent on a link by a node not their origin */
    uint64_t relays_ignored;  /* relayed ops of an origin the receiver is linked with */
    uint64_t pending_imports; /* imports that left ops pending (gap, missing sale) */
    uint64_t hlc_clamps;      /* remote clocks too far ahead, clamped */
    uint64_t uploader_changes;
    uint64_t raft_leaders;       /* terms that had a leader */
    uint64_t raft_records;       /* watermark records committed (proposed by leaders) */
    uint64_t raft_entries;       /* log entries committed (records, no-ops) */
    uint64_t raft_term_max;      /* highest term, worst seed */
    uint64_t raft_proposals;     /* watermark proposals accepted by a leader */
    uint64_t raft_leader_ms_max; /* final heal to a followed leader, worst seed */
    uint64_t converge_ms_max;    /* final phase start to convergence, worst seed */
} sim_stats;

typedef enum sim_phase {
    SIM_PHASE_CHAOS = 1,
    SIM_PHASE_FINAL,
    SIM_PHASE_DONE,
} sim_phase;

typedef struct sim_world {
    sim_config cfg;
    uint64_t seed;
    sim_params p;
    tu_rng rng_work, rng_fault, rng_net;
    char run_dir[600];
    sim_phase phase;
    uint64_t final_at_us;     /* start of the final phase */
    uint64_t converged_at_us; /* 0: not converged (yet) */
    uint64_t events;
    uint32_t next_conn;     /* link connection numbers */
    uint32_t next_upload;   /* upload numbers */
    uint32_t cut_number;    /* the partition or asymmetric cut in force */
    unsigned active_faults; /* SIM_F_*: the chosen kinds this seed drew */
    sim_stats stats;
    bool failed;
    char fail_invariant[64];
    char fail_msg[1024];
    sim_clock clock;
    sim_queue queue;
    sim_net net;
    sim_node node[SIM_NODES_MAX];
    sim_cloud cloud;
    sim_workload work;
    sim_check check;
    sim_trace trace;
    /* Scratch for reading, encoding and decoding batches. */
    oplog_op ops[SIM_BATCH_OPS_MAX];
    kbuf payloads;
    kbuf frame;
    wire_linked linked;
} sim_world;

/* What a seed did, for the summary. */
typedef struct sim_result {
    bool failed;
    int n;
    uint64_t events, digest, virtual_us;
    uint64_t ops, msgs, lost, dups, crashes, cloud_stored, cloud_dups, refused;
    sim_stats stats;
    sim_check_stats checks;
} sim_result;

/* Runs one seed in a fresh world under root (a temporary directory).
 * On failure prints the report (notable events, last events, invariant,
 * and the command that replays it with `program`) to stderr. */
void sim_run_seed(const sim_config *cfg, uint64_t seed, const char *root, const char *program,
                  sim_result *res);

void sim_replay_command(const sim_config *cfg, uint64_t seed, int n, const char *program, char *out,
                        size_t size);

/* Fails the seed: the first failure wins, the run stops after the event. */
void sim_fail(sim_world *w, const char *invariant, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define sim_trace(w, node, ...)                                                                    \
    sim_trace_add(&(w)->trace, (w)->clock.now_us, (node), false, __VA_ARGS__)
/* A notable event: also kept in the trace's ring of notable lines. */
#define sim_note(w, node, ...)                                                                     \
    sim_trace_add(&(w)->trace, (w)->clock.now_us, (node), true, __VA_ARGS__)

/* Schedules a node's next tick, SIM_TICK_MS of its own clock from now. */
void sim_schedule_tick(sim_world *w, sim_node *nd);
/* The Raft member's ready: messages out, checks (sim_run.c). */
void sim_raft_drain(sim_world *w, sim_node *nd);

/* "T1:5 T2:3" (truncated to fit). */
void sim_vv_text(const oplog_vv *vv, char *out, size_t size);

/* Draws in lo..hi from a stream. */
static inline int64_t sim_draw(tu_rng *r, int64_t lo, int64_t hi)
{
    SIM_ASSERT(lo <= hi);
    return tu_rng_range(r, lo, hi);
}

#endif
