/*
 * sim_check: the invariants, checked while a seed runs and at its end.
 * A broken one fails the seed (sim_fail) naming it; sim_main prints the
 * trace and the replay command.
 *
 * The checker's own record of the truth is the acknowledged operations:
 * every operation a term call committed (sim_check_acked after each
 * successful workload action reads the origin's new operations and keeps
 * their hashes). Nothing else may create operations, so:
 *
 *  continuously (every SIM_CHECK_INTERVAL_MS and at every restart):
 *   - acked-lost-on-restart: a restarted node holds every operation it
 *     acknowledged before the crash, unchanged (synchronous=FULL);
 *   - vv-went-back: no node's version vector ever decreases, across
 *     restarts too (what it applied was committed);
 *   - op-from-nowhere: no node holds an operation nobody acknowledged;
 *   - replicas-diverge: nodes with equal version vectors have equal
 *     term_state_hash;
 *   - cloud-duplicate, cloud-op-changed, op-from-nowhere: each record the
 *     cloud holds is an acknowledged operation, byte-identical, and no
 *     (origin, seq) is there twice;
 *   - Raft (when present, sim_raft.h): one leader per term, committed
 *     entries never changed, commit indexes never back (across restarts
 *     too), a restarted member's log holding every committed entry up to
 *     its persisted commit index; committed watermark records no higher
 *     than the cloud's.
 *  at the end, after the final heal and quiesce:
 *   - no-convergence: within SIM_FINAL_MAX_MS every node is up and holds
 *     exactly the acknowledged operations, and so does the cloud;
 *   - acked-not-replicated / op-changed: every node holds every
 *     acknowledged operation with its hash; pending-left: none waits;
 *   - replicas-diverge: every state hash equal;
 *   - log-verify: term_log_verify passes on every node;
 *   - cloud-missing / cloud-duplicate: every acknowledged operation is in
 *     the cloud exactly once;
 *   - Raft (when present): a leader followed by a majority within
 *     SIM_RAFT_LEADER_BOUND_MS of the heal; every commit index caught up.
 */
#ifndef KASSA_SIM_CHECK_H
#define KASSA_SIM_CHECK_H

#include "oplog/oplog.h"
#include "sim_base.h"

struct sim_world;
struct sim_node;
struct sim_raft_ready;

#define SIM_CHECK_INTERVAL_MS 25

typedef struct sim_acked {
    uint64_t n; /* seq 1..n acknowledged */
    uint8_t hash[SIM_OPS_PER_ORIGIN_MAX][OPLOG_HASH_SIZE];
} sim_acked;

typedef struct sim_raft_log_rec {
    bool set;
    uint64_t term;
    uint8_t digest[32];
} sim_raft_log_rec;

typedef struct sim_check_stats {
    uint64_t rounds, hash_compares, restarts_checked, cloud_recs_checked;
} sim_check_stats;

typedef struct sim_check {
    sim_acked acked[SIM_NODES_MAX];
    /* Highest seq of each origin each node has shown. */
    uint64_t seen[SIM_NODES_MAX][SIM_NODES_MAX];
    size_t cloud_scanned;
    uint8_t cloud_count[SIM_NODES_MAX][SIM_OPS_PER_ORIGIN_MAX + 1];
    /* Raft: the leader of each term (node + 1, 0: none seen), the
     * committed log, each node's commit index. */
    uint8_t leader_of[SIM_RAFT_TERMS_MAX];
    sim_raft_log_rec log[SIM_RAFT_INDEX_MAX];
    uint64_t commit_of[SIM_NODES_MAX];
    uint64_t max_commit;
    uint64_t healed_at_us;
    bool leader_since_heal;
    sim_check_stats stats;
} sim_check;

void sim_check_reset(sim_check *c);
/* Origin name ("T3") to node index; -1 when it is no node of the run. */
int sim_check_origin_index(const struct sim_world *w, const char *origin);
/* The node committed local operations: record them as acknowledged. */
void sim_check_acked(struct sim_world *w, struct sim_node *nd);
/* The node just restarted. */
void sim_check_restart(struct sim_world *w, struct sim_node *nd);
/* The continuous checks (SIM_EV_CHECK). */
void sim_check_periodic(struct sim_world *w);
/* A node's Raft ready (leader claims, commits). */
void sim_check_raft(struct sim_world *w, int node, const struct sim_raft_ready *rd);
/* The node that leads its term with a majority of the store (itself
 * included) up, in that term and following it; -1 when there is none. */
int sim_check_store_leader(const struct sim_world *w);
/* Largest watermark record ("T1:5 T2:3 ..."), sim_uploader.c. */
#define SIM_WATERMARK_MAX 160
/* Final phase: whether everything has arrived everywhere. */
bool sim_check_converged(struct sim_world *w);
/* The end-of-seed checks, after convergence. */
void sim_check_final(struct sim_world *w);

#endif
