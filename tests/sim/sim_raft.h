/*
 * sim_raft: the seam where the store's Raft core (src/raft, DESIGN.md §4)
 * plugs into the simulator. Nothing else in tests/sim knows about Raft;
 * the simulator makes exactly these calls, and they land in sim_raft.c,
 * which drives the real core exactly as kassad's embedding does
 * (src/kassad/coord.c): restored from term_raft_load with the store's
 * terminals as founding configuration, each ready persisted with
 * term_raft_save before its messages leave, then applied and advanced.
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
 *    cloud watermark after each cloud Ack that raised it (DESIGN.md §5),
 *    so that the log carries records, not only each leader's no-op.
 *
 * What the simulator checks with it (sim_check.c), once present:
 *  - at most one leader per term: every ready that says "leader in term T"
 *    is recorded; a second node claiming T fails the seed;
 *  - committed entries are never lost or changed: every committed entry
 *    (index, term, digest of its data) reported by any node must equal
 *    what any node reported for that index before; a node's commit index
 *    never goes back, across restarts too (a ready reports only a commit
 *    index it has persisted); a restarted member's log holds every entry
 *    up to its persisted commit index, each as committed before
 *    (sim_raft_restored); after the final heal every live node's commit
 *    index reaches the highest ever reported;
 *  - the watermark records committed never claim more than the cloud
 *    holds (they are what it acknowledged, and the cloud never forgets);
 *  - a leader exists within SIM_RAFT_LEADER_BOUND_MS after the network
 *    heals (final phase): a node that leads term T, with a majority of the
 *    store (itself included) in term T following it;
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
/* One ready hands out at most the whole in-memory log as committed. */
#define SIM_RAFT_COMMITTED_MAX 1024
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
    uint8_t digest[32];  /* BLAKE2b-256 of the entry's type and data */
    uint8_t type;        /* raft_entry_type: 1 record, 2 no-op, 3-4 membership */
    const uint8_t *data; /* owned by the member, valid until its next call */
    size_t len;
} sim_raft_committed;

typedef struct sim_raft_ready {
    size_t n_msgs;
    sim_raft_out msgs[SIM_RAFT_OUT_MAX];
    bool leader;      /* it is the leader now, in term */
    uint64_t term;    /* its current term */
    const char *role; /* "follower", "pre-candidate", "candidate", "leader" */
    int leader_node;  /* the leader it knows of in term (node index), -1: none */
    uint64_t commit_index;
    size_t n_committed; /* entries committed since the last ready, in order */
    sim_raft_committed committed[SIM_RAFT_COMMITTED_MAX];
    bool more;        /* another ready is waiting: take it too */
    bool forgot_vote; /* the injected bug forget-vote struck since the last ready */
} sim_raft_ready;

/* True: the real core runs and its invariants are checked (a stub that
 * runs nothing answers false, and the checks are reported as skipped). */
bool sim_raft_present(void);
/* self and peers are node indexes 0..n_nodes-1; seed makes its random
 * election timeouts reproducible (different per node and per life).
 * forget_vote is the injected bug forget-vote (sim.h): the member comes
 * back from disk without the vote it persisted in its term, so it may vote
 * twice in that term. */
int sim_raft_open(term *t, int self, int n_nodes, uint64_t seed, bool forget_vote, sim_raft **out,
                  kassa_err *err);
void sim_raft_crash(sim_raft *r);
void sim_raft_tick(sim_raft *r);
void sim_raft_step(sim_raft *r, int from, const uint8_t *msg, size_t len);
/* KASSA_OK with *out filled (possibly empty); an error fails the seed. */
int sim_raft_ready_take(sim_raft *r, sim_raft_ready *out, kassa_err *err);
/* What the member restored from disk at its last sim_raft_open: its
 * persisted commit index, and the entries of its log up to it (at most
 * max, in index order, data pointing into the member); returns how many. */
size_t sim_raft_restored(const sim_raft *r, uint64_t *commit, sim_raft_committed *out, size_t max);
/* Proposes an entry (leader only): KASSA_ECONFLICT when not the leader. */
int sim_raft_propose(sim_raft *r, const uint8_t *data, size_t len, kassa_err *err);

#endif
