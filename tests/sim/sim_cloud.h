/*
 * sim_cloud: the simulated cloud service (DESIGN.md §5), a sink for the
 * store's operations, and the uploader that feeds it (sim_uploader.c).
 *
 * The cloud keeps an append-only event table, as the real one keeps rows
 * under (store, origin, seq), and per origin the head of the hash chain it
 * holds. An uploaded batch (a real OpsBatch frame: wire_encode_ops, and
 * wire_decode_ops on arrival) is ingested op by op:
 *  - an op it already holds is a duplicate: it must be byte-identical
 *    (same hash), then it is ignored;
 *  - an op that does not follow its origin's head (a gap) is refused; the
 *    uploader sends it again from the watermark;
 *  - an op that follows the head must continue the hash chain
 *    (oplog_hash_ok against the head's hash), then it is appended.
 * Every upload is answered with an Ack frame carrying the cloud's version
 * vector (the watermark), and a probe gets the same answer.
 *
 * The checker (sim_check.c) reads the table itself, not these heads, to
 * prove that each operation is there exactly once.
 */
#ifndef KASSA_SIM_CLOUD_H
#define KASSA_SIM_CLOUD_H

#include "oplog/oplog.h"
#include "sim_base.h"

struct sim_world;
struct sim_node;

typedef struct sim_cloud_rec {
    uint8_t origin; /* node index */
    uint64_t seq;
    uint8_t hash[OPLOG_HASH_SIZE];
} sim_cloud_rec;

typedef struct sim_cloud_head {
    uint64_t seq;
    uint8_t hash[OPLOG_HASH_SIZE];
} sim_cloud_head;

typedef struct sim_cloud_stats {
    uint64_t uploads, probes, stored, duplicates, gaps;
} sim_cloud_stats;

typedef struct sim_cloud {
    size_t n_recs;
    sim_cloud_rec recs[SIM_CLOUD_RECS_MAX];
    sim_cloud_head head[SIM_NODES_MAX];
    sim_cloud_stats stats;
    bool bug_fired; /* --inject-bug cloud-dup did its damage */
} sim_cloud;

void sim_cloud_reset(sim_cloud *c);
/* A probe or an upload arrived from node `from`. */
void sim_cloud_receive(struct sim_world *w, int from, int kind, uint32_t upload,
                       const uint8_t *data, size_t len);

/* ---- the uploader (sim_uploader.c) ---- */

/* THE SEAM for Raft: which node uploads to the cloud now, -1 for none. */
int sim_uploader_pick(struct sim_world *w);
/* The node's periodic upload work (every tick of every live node). */
void sim_uploader_tick(struct sim_world *w, struct sim_node *nd);
/* The cloud's Ack to an upload or probe arrived. */
void sim_uploader_receive(struct sim_world *w, struct sim_node *nd, uint32_t upload,
                          const uint8_t *data, size_t len);
void sim_uploader_drop(struct sim_node *nd);

#endif
