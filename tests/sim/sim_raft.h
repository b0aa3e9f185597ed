/*
 * sim_raft: the seam where the store's Raft core (src/raft, DESIGN.md §4)
 * plugs into the simulator. Nothing else in tests/sim knows about Raft;
 * the simulator makes exactly these calls, and today they land in
 * sim_raft_stub.c, which does nothing (sim_raft_present() is false, and
 * the Raft invariants are reported as not checked). Plugging the core in
 * means writing sim_raft.c over src/raft with these signatures and
 * building it instead of the stub; nothing else changes.
 *
 * What the simulator does with it:
 *  - sim_raft_open at each (re)start of a node, with the node's term open:
 *    the member restores its hard state and log from the terminal's
 *    database (term_raft_load) and nothing else; volatile state starts
 *    empty, as after a power cut.
 *  - sim_raft_tick every SIM_RAFT_TICK_MS of the node's own clock (clocks
 *    drift, so members tick at slightly different rates).
 *  - sim_raft_step for every Raft message that arrives, with the sender's
 *    index. Messages travel as WIRE_RAFT frames on the peer links (as
 *    peer_mesh_send_raft does), so they suffer every network fault and are
 *    dropped when the link is down. The bytes are untrusted.
 *  - sim_raft_ready_take after every tick and step, again while it says
 *    `more` (at most SIM_RAFT_READIES_MAX times): the member must already
 *    have persisted (term_raft_save, synchronous=FULL) the hard state and
 *    entries the outgoing messages depend on, then it hands over those
 *    messages, its role, and the entries newly committed. With src/raft
 *    that is one turn of its embedding loop: raft_ready_get, persist,
 *    copy out the messages, apply, raft_advance; `more` is
 *    raft_has_ready afterwards.
 *  - sim_raft_crash at a crash: free everything without persisting more.
 *  - sim_raft_propose when the node is the uploader (the leader): the
 *    cloud watermark after each acknowledged upload (DESIGN.md §5). Not
 *    called yet: today's uploader keeps it in memory (sim_uploader.c).
 *
 * What the simulator checks with it (sim_check.c), once present:
 *  - at most one leader per term: every ready that says "leader in term T"
 *    is recorded; a second node claiming T fails the seed;
 *  - committed entries are never lost or changed: every committed entry
 *    (index, term, digest of its data) reported by any node must equal
 *    what any node reported for that index before; a node's commit index
 *    never goes back within one life (after a restart it may resume from
 *    the persisted one); after the final heal every live node's commit
 *    index reaches the highest ever reported;
 *  - a leader exists within SIM_RAFT_LEADER_BOUND_MS after the network
 *    heals (final phase);
 *  - the uploader is the leader (sim_uploader_pick).
 *
 * Node identities: the simulator speaks of node indexes 0..n-1; the member
 * names itself and its peers by the node names "T1".."Tn" (the terminal's
 * node_id) if the core wants strings.
 *
 * The core must therefore be a pure state machine (no clock, sockets or
 * disk inside: ticks and messages in; messages, entries to persist,
 * committed entries out), deterministic given its seed, with PreVote and
 * CheckQuorum as in DESIGN.md §4.
 */
#ifndef KASSA_SIM_RAFT_H
#define KASSA_SIM_RAFT_H

#include "sim_base.h"
#include "term/term.h"

/* The member's tick, in its own clock: 10 ms, so that the design's 150 ms
 * heartbeat and [300, 500) ms election timeout are 15 and 30..50 ticks. */
#define SIM_RAFT_TICK_MS 10
/* After the final heal a leader must exist within this much global time. */
#define SIM_RAFT_LEADER_BOUND_MS 3000
/* What one ready may hand over (the core's outbox holds 512), and how
 * many readies one drain takes before yielding to other events. */
#define SIM_RAFT_OUT_MAX 512
#define SIM_RAFT_COMMITTED_MAX 64
#define SIM_RAFT_READIES_MAX 16
#define SIM_RAFT_MSG_MAX_BYTES (64 * 1024)

typedef struct sim_raft sim_raft;

typedef struct sim_raft_out {
    int to;               /* node index */
    const uint8_t *bytes; /* owned by the member, valid until its next call */
    size_t len;
} sim_raft_out;

typedef struct sim_raft_committed {
    uint64_t index, term;
    uint8_t digest[32]; /* BLAKE2b-256 of the entry's type and data */
} sim_raft_committed;

typedef struct sim_raft_ready {
    size_t n_msgs;
    sim_raft_out msgs[SIM_RAFT_OUT_MAX];
    bool leader;   /* it is the leader now, in term */
    uint64_t term; /* its current term */
    uint64_t commit_index;
    size_t n_committed; /* entries committed since the last ready, in order */
    sim_raft_committed committed[SIM_RAFT_COMMITTED_MAX];
    bool more; /* another ready is waiting: take it too */
} sim_raft_ready;

/* False for the stub: no Raft runs, its invariants are not checked. */
bool sim_raft_present(void);
/* self and peers are node indexes 0..n_nodes-1; seed makes its random
 * election timeouts reproducible (different per node and per life). */
int sim_raft_open(term *t, int self, int n_nodes, uint64_t seed, sim_raft **out, kassa_err *err);
void sim_raft_crash(sim_raft *r);
void sim_raft_tick(sim_raft *r);
void sim_raft_step(sim_raft *r, int from, const uint8_t *msg, size_t len);
/* KASSA_OK with *out filled (possibly empty); an error fails the seed. */
int sim_raft_ready_take(sim_raft *r, sim_raft_ready *out, kassa_err *err);
/* Proposes an entry (leader only): KASSA_ECONFLICT when not the leader. */
int sim_raft_propose(sim_raft *r, const uint8_t *data, size_t len, kassa_err *err);

#endif
