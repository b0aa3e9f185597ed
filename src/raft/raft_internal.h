/*
 * raft internals shared by the files of src/raft/, one concern each:
 *
 *   raft.c         creation, the term rules of raft_step, role changes,
 *                  proposals, status
 *   log.c          the in-memory log: terms, append, truncate, compaction,
 *                  snapshot restore
 *   membership.c   configurations, CONF entry data, the voter table
 *   progress.c     per-follower replication progress and inflight window
 *   election.c     ticks, PreVote, votes, CheckQuorum, the pre-vote tie-break
 *   replication.c  appends, heartbeats, snapshots, commit
 *   transfer.c     leadership transfer and the stability preference
 *   ready.c        the outbox, raft_ready and raft_advance
 *   msg.c          message checks and the binary encoding
 */
#ifndef KASSA_RAFT_INTERNAL_H
#define KASSA_RAFT_INTERNAL_H

#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

/* Invariants hold whatever the input: a failure is a bug here. Always on. */
#define RAFT_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

enum { RAFT_VOTE_NONE = 0, RAFT_VOTE_GRANTED = 1, RAFT_VOTE_REJECTED = 2 };

typedef enum { CAMPAIGN_PRE = 0, CAMPAIGN_ELECTION = 1, CAMPAIGN_TRANSFER = 2 } raft_campaign_kind;

/* One voter of the configuration in force, with what the leader tracks
 * about it (reset at every change of role or term). */
typedef struct raft_peer {
    char id[RAFT_ID_SIZE];
    bool self;
    uint64_t match;
    uint64_t next;
    uint8_t state; /* raft_progress_state */
    bool probe_sent;
    bool recent_active;    /* heard from in this CheckQuorum period */
    uint32_t silent_ticks; /* leader: ticks since it last heard from it */
    uint64_t pending_snapshot;
    uint32_t snapshot_ticks;
    /* Ring of the last index of each unacknowledged append. */
    uint32_t inflight_start;
    uint32_t inflight_count;
    uint64_t inflight[RAFT_INFLIGHT_MAX];
    uint8_t vote; /* RAFT_VOTE_* in the current (pre-)election */
    bool score_known;
    int64_t score;
} raft_peer;

struct raft {
    raft_config cfg;
    uint32_t heartbeat_ticks;
    uint32_t election_min_ticks;
    uint32_t election_max_ticks;
    uint32_t prefer_stable_ticks;
    uint32_t tiebreak_ticks;

    /* Hard state. */
    uint64_t term;
    char vote[RAFT_ID_SIZE];
    uint64_t commit;

    /* Soft state. */
    raft_role role;
    char leader[RAFT_ID_SIZE];
    uint64_t applied;

    /* Timers, in ticks. */
    uint32_t election_elapsed;
    uint32_t heartbeat_elapsed;
    uint32_t randomized_timeout;
    uint64_t leader_elapsed; /* leader: ticks in office */
    uint64_t prefer_elapsed; /* leader: ticks since took office or tried a preference */

    /* Configuration in force: the last CONF entry in the log (conf_index),
     * else the snapshot's (conf_index 0). peers[] mirrors conf.ids. */
    raft_conf conf;
    uint64_t conf_index;
    uint32_t n_peers;
    raft_peer peers[RAFT_MEMBERS_MAX];

    /* Leadership transfer in progress ("" none). */
    char transferee[RAFT_ID_SIZE];
    bool transfer_preferred;

    /* Pre-vote tie-break: the pre-vote last granted (or our own while
     * pre-campaigning) for term pv_term, alive for pv_ticks more ticks. */
    char pv_id[RAFT_ID_SIZE];
    uint64_t pv_term;
    uint64_t pv_last_term;
    uint64_t pv_last_index;
    uint32_t pv_ticks;

    bool self_score_known;
    int64_t self_score;

    /* What the embedding has persisted and been told. */
    raft_hard_state persisted;
    raft_soft_state reported;
    bool snapshot_pending; /* a received snapshot not yet handed out */
    bool ready_out;
    uint64_t ready_stable_to;
    uint64_t ready_applied_to;
    size_t ready_n_msgs;

    uint64_t pre_campaigns;
    uint64_t campaigns;
    uint64_t prefer_transfers;
    uint64_t msgs_dropped;

    /* Outbox: messages to send with the next ready. Append and snapshot
     * messages get their entries/snapshot pointers at raft_ready_get; those
     * whose entries are gone by then are dropped. */
    uint32_t n_out;
    raft_msg out[RAFT_OUTBOX_MAX];

    /* The log: log[i] has index snap.index + 1 + i; entries up to stable
     * are persisted. */
    raft_snapshot_meta snap;
    size_t snap_len;
    uint8_t snap_data[RAFT_SNAPSHOT_MAX];
    uint64_t stable;
    uint32_t log_n;
    raft_entry log[RAFT_LOG_MAX];
};

/* ---- log.c ---- */
uint64_t raft_log_last_index(const raft *r);
uint64_t raft_log_last_term(const raft *r);
/* Term of entry i; false when i is compacted (below the snapshot) or past
 * the end. The snapshot index itself has the snapshot's term. */
bool raft_log_term(const raft *r, uint64_t i, uint64_t *term);
bool raft_log_match(const raft *r, uint64_t i, uint64_t term);
raft_entry *raft_log_at(raft *r, uint64_t i);
bool raft_log_up_to_date(const raft *r, uint64_t last_term, uint64_t last_index);
bool raft_log_full(const raft *r);
/* Appends one entry at last + 1 (the caller checks raft_log_full). */
void raft_log_append(raft *r, uint8_t type, uint64_t term, const uint8_t *data, uint16_t len);
/* Drops entries after i (i >= commit). */
void raft_log_truncate_after(raft *r, uint64_t i);
/* Largest index <= i whose term is <= term (the conflict hint). */
void raft_log_conflict_hint(const raft *r, uint64_t i, uint64_t term, uint64_t *hint_index,
                            uint64_t *hint_term);
/* The configuration in force at index at (>= the snapshot's); false when
 * it cannot be known yet (a joining node that has seen no CONF entry). */
bool raft_log_conf_at(const raft *r, uint64_t at, raft_conf *out);
/* Replaces the entries up to upto by a snapshot; upto <= applied, and its
 * configuration known. */
void raft_log_compact(raft *r, uint64_t upto, const uint8_t *data, size_t len);
void raft_log_restore(raft *r, const raft_snapshot_meta *meta, const uint8_t *data, size_t len);

/* ---- membership.c ---- */
bool raft_conf_has(const raft_conf *c, const char *id);
/* Inserts id, not a member, in its sorted place (room left). */
void raft_conf_add(raft_conf *c, const char *id);
/* Removes id, a member. */
void raft_conf_remove(raft_conf *c, const char *id);
int raft_conf_check(const raft_conf *c, kassa_err *err);
/* CONF entry data: str node, uvarint n, str member * n (sorted). */
int raft_conf_data_encode(const char *node, const raft_conf *c, uint8_t *out, uint16_t *len,
                          kassa_err *err);
int raft_conf_data_decode(uint8_t type, const uint8_t *p, size_t n, char node[RAFT_ID_SIZE],
                          raft_conf *c, kassa_err *err);
bool raft_entry_is_conf(uint8_t type);
/* Recomputes the configuration in force from the log (after appends of
 * CONF entries, truncations, restores) and rebuilds the voter table. */
void raft_membership_refresh(raft *r);
raft_peer *raft_peer_find(raft *r, const char *id);
raft_peer *raft_peer_self(raft *r);
bool raft_self_voter(const raft *r);
uint32_t raft_quorum(const raft *r);

/* ---- progress.c ---- */
void raft_progress_reset(raft *r, raft_peer *p);
void raft_progress_become_probe(raft_peer *p);
void raft_progress_become_replicate(raft_peer *p);
void raft_progress_become_snapshot(raft_peer *p, uint64_t snapshot_index);
bool raft_progress_maybe_update(raft_peer *p, uint64_t n);
bool raft_progress_maybe_decr_to(raft_peer *p, uint64_t rejected, uint64_t match_hint);
bool raft_progress_paused(const raft *r, const raft_peer *p);
void raft_inflight_add(raft *r, raft_peer *p, uint64_t last);
void raft_inflight_free_le(raft_peer *p, uint64_t index);
void raft_inflight_free_first(raft_peer *p);
bool raft_inflight_full(const raft *r, const raft_peer *p);

/* ---- raft.c ---- */
void raft_become_follower(raft *r, uint64_t term, const char *leader);
void raft_become_pre_candidate(raft *r);
void raft_become_candidate(raft *r);
void raft_become_leader(raft *r);
void raft_reset_randomized_timeout(raft *r);

/* ---- election.c ---- */
void raft_tick_election(raft *r);
void raft_tick_leader(raft *r);
void raft_campaign_start(raft *r, raft_campaign_kind kind);
void raft_handle_vote_request(raft *r, const raft_msg *m);
void raft_handle_vote_response(raft *r, const raft_msg *m);
/* Leader: true when a majority of voters was active in the period, then
 * starts a new period. */
bool raft_quorum_active_check(raft *r);
bool raft_in_lease(const raft *r);

/* ---- replication.c ---- */
bool raft_send_append(raft *r, raft_peer *p, bool send_if_empty);
void raft_bcast_append(raft *r);
void raft_bcast_heartbeat(raft *r);
bool raft_maybe_commit(raft *r);
void raft_commit_to(raft *r, uint64_t commit);
int raft_handle_append(raft *r, const raft_msg *m, kassa_err *err);
void raft_handle_heartbeat(raft *r, const raft_msg *m);
void raft_handle_snapshot(raft *r, const raft_msg *m);
int raft_handle_append_resp(raft *r, const raft_msg *m, kassa_err *err);
void raft_handle_heartbeat_resp(raft *r, const raft_msg *m);
/* Leader: after commit moved, a leader no longer in its configuration
 * steps down once that configuration is committed. */
void raft_check_self_removal(raft *r);

/* ---- transfer.c ---- */
void raft_transfer_begin(raft *r, raft_peer *target, bool preferred);
void raft_transfer_abort(raft *r);
void raft_send_timeout_now(raft *r, const char *to);
void raft_prefer_check(raft *r);
/* The voter that should lead by score and hysteresis; NULL when unknown. */
const raft_peer *raft_prefer_choice(const raft *r);

/* ---- ready.c ---- */
/* A message from this node, to be sent with the next ready; fills from. */
void raft_send(raft *r, raft_msg *m);

/* ---- helpers ---- */
static inline void raft_id_copy(char dst[RAFT_ID_SIZE], const char *src)
{
    size_t n = strlen(src);
    RAFT_ASSERT(n < RAFT_ID_SIZE);
    memcpy(dst, src, n + 1);
}

static inline uint64_t raft_min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static inline uint64_t raft_max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

#endif
