/*
 * raft: the store's coordination core (DESIGN.md §4), a pure Raft state
 * machine in the style of etcd's raft library.
 *
 * Input: ticks (raft_tick, every cfg.tick_ms of the embedding's clock),
 * messages from peers (raft_step), and local requests (raft_propose,
 * raft_propose_conf_change, raft_transfer_leadership, raft_campaign,
 * raft_set_score, raft_compact). Output: a raft_ready holding what to
 * persist, what to send and what to apply. There are no sockets, no clock,
 * no randomness source and no disk in here: time is the number of ticks,
 * randomness comes from cfg.rand, storage and the network belong to the
 * embedding. Everything is deterministic for a given sequence of inputs and
 * random draws, which is what makes whole-store simulation possible.
 *
 * What it implements:
 *  - leader election with terms and randomised election timeouts drawn from
 *    [election_min_ms, election_max_ms) (default [300, 500) ms), heartbeats
 *    every heartbeat_ms (default 150 ms);
 *  - PreVote: a node whose election timer fires first asks whether it could
 *    win, at term + 1, without changing its term; only if a majority says
 *    yes does it become a candidate and increment its term. A node that was
 *    partitioned away therefore rejoins without disrupting the cluster;
 *  - CheckQuorum: a leader that has not heard from a majority of voters
 *    within election_min_ms steps down. With it comes leader lease: a node
 *    that heard from a leader within election_min_ms ignores (pre)vote
 *    requests of a higher term unless they come from a leadership transfer;
 *  - a pre-vote tie-break (RAFT_PREVOTE_TIEBREAK_MS): during a short window
 *    after granting a pre-vote for term T a node grants further pre-votes for
 *    T only to a better candidate (more up-to-date log, or as up to date with
 *    a smaller id), and a pre-candidate that grants a better peer's pre-vote
 *    stands down. When several election timers fire in the same tick this
 *    lets one candidate through instead of splitting the vote (a split vote
 *    costs a whole further election timeout). Measured in tests/unit/
 *    test_raft.c over 500 leader kills with ticks aligned on every node:
 *    plain PreVote needed a second election 29 times in 3-node clusters
 *    (worst 1107 ms to a new leader), with the tie-break never (worst
 *    481 ms; p50 about 310 ms for 3 nodes, 290 ms for 5);
 *  - log replication of small store-level records (RAFT_ENTRY_DATA_MAX
 *    bytes each), with flow control (cfg.max_entries_per_msg entries per
 *    append message, cfg.max_inflight unacknowledged appends per follower)
 *    and fast backtracking of conflicting follower logs;
 *  - single-server membership changes (Raft dissertation §4.1): a
 *    configuration takes effect on every node as soon as its entry is in
 *    that node's log, only one may be uncommitted at a time, and a leader
 *    proposes one only after it has committed an entry of its own term. A
 *    leader that removes itself steps down when the removal commits and
 *    hands over to its most up-to-date follower (MsgTimeoutNow);
 *  - leadership transfer (MsgTimeoutNow: the target campaigns at once,
 *    without PreVote and past the leases); aborted after election_min_ms;
 *  - preference for the most stable terminal: each node reports its
 *    stability score (raft_set_score; see raft_stability_score) in its
 *    responses to the leader; once the leader has led for prefer_stable_ms
 *    (default 30 s) it transfers leadership to the caught-up voter with the
 *    best score, heard from within election_min_ms, if that score beats its
 *    own by prefer_margin.
 *    Hysteresis: the margin, and the new leader's own prefer_stable_ms wait,
 *    so it never flaps. raft_status shows the scores and the choice;
 *  - log compaction: raft_compact(upto, snapshot) replaces the prefix of the
 *    log with an opaque snapshot of the embedding's applied state; a follower
 *    that needs a compacted entry receives the snapshot (MsgSnapshot) and
 *    its embedding installs it from raft_ready.snapshot.
 *
 * Not implemented: learners (non-voting members), joint consensus,
 * ReadIndex/lease reads, proposal forwarding from followers (a follower
 * answers KASSA_ECONFLICT and names the leader), snapshots larger than
 * RAFT_SNAPSHOT_MAX or streamed in chunks.
 *
 * ---- The embedding's loop (single-threaded) ----
 *
 *     raft_tick(r) every cfg.tick_ms;   raft_step(r, &msg) per message;
 *     while (raft_has_ready(r)) {
 *         raft_ready rd;
 *         raft_ready_get(r, &rd);
 *         1. in ONE storage transaction, then fsync (synchronous=FULL):
 *            if rd.has_snapshot: store rd.snapshot (meta + data) and drop
 *              every stored log entry;
 *            if rd.n_entries: delete stored entries with index >=
 *              rd.entries[0].index, then append rd.entries in order;
 *            if rd.has_hard_state: store rd.hard_state;
 *         2. only then send rd.msgs (each to msgs[i].to; losing, duplicating
 *            or reordering them is safe, just slower);
 *         3. if rd.has_snapshot, replace the applied state with the
 *            snapshot data; then apply rd.committed in order;
 *         4. raft_advance(r, &rd);
 *     }
 *
 * Step 1 before step 2 is the persistence contract Raft's safety rests on:
 * a vote, a term, or an acknowledgement of entries must be durable before
 * any message that depends on it leaves the node. The pointers in rd stay
 * valid until raft_advance; between raft_ready_get and raft_advance no
 * other raft_* call that changes state may be made (they fail with
 * KASSA_EINVAL).
 *
 * On restart, build a raft_restored from storage (hard state, snapshot,
 * entries after it, and the index the applied state reflects) and call
 * raft_new again: the node comes back as a follower with its term, vote and
 * log, so it never votes twice in a term.
 *
 * Compaction is the embedding's job: after applying, when raft_status says
 * the log holds more than about RAFT_LOG_MAX / 2 entries, call raft_compact
 * with a snapshot of the applied state, store the snapshot with the meta it
 * returns and drop the stored entries up to its index. raft_propose fails with
 * KASSA_EFULL while the in-memory log is full.
 *
 * Membership, seen from the embedding: a node to be added starts with an
 * empty configuration (raft_restored) and waits; the leader's
 * raft_propose_conf_change(RAFT_CONF_ADD) makes it a voter. A removed node
 * usually learns its removal (its status says voter false) and then never
 * campaigns; if it missed it, its pre-votes are ignored under the others'
 * leases. Either way the embedding should stop it (raft_free) once it sees
 * the committed CONF_REMOVE naming it, on any node (roster).
 *
 * Errors: every function returns KASSA_OK or a negative kassa code with a
 * one-line reason in err:
 *  - KASSA_EINVAL: bad argument, bad configuration, or a call between
 *    raft_ready_get and raft_advance;
 *  - KASSA_ECONFLICT: the request needs the leader and this node is not it
 *    (err->msg names the leader when known);
 *  - KASSA_EBUSY: a membership change or leadership transfer is in
 *    progress, or the leader has not yet committed an entry of its term:
 *    retry later;
 *  - KASSA_EFULL: the in-memory log is full (compact);
 *  - KASSA_ENOTFOUND / KASSA_ECONFLICT for membership changes naming a
 *    non-member / an existing member;
 *  - KASSA_ECORRUPT: a message or restored state that fails a check; the
 *    state machine is left unchanged (log it, and for a peer consider
 *    closing its link).
 * Internal invariants are asserted (always, also in release builds): a
 * failed assertion is a bug in this module, never a reaction to input.
 */
#ifndef KASSA_RAFT_H
#define KASSA_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- bounds ---- */

#define RAFT_MEMBERS_MAX 16      /* voters in one configuration */
#define RAFT_ENTRY_DATA_MAX 1024 /* bytes of one entry's data */
#define RAFT_LOG_MAX 1024        /* entries held in memory after the snapshot */
#define RAFT_SNAPSHOT_MAX 65536  /* bytes of the embedding's snapshot */
#define RAFT_MSG_ENTRIES_MAX 64  /* entries in one append message */
#define RAFT_INFLIGHT_MAX 16     /* unacknowledged appends per follower */
#define RAFT_OUTBOX_MAX 512      /* messages held for one ready; more are dropped (counted) */
#define RAFT_TERM_MAX (UINT64_C(1) << 62) /* terms and indexes stay below these */
#define RAFT_INDEX_MAX (UINT64_C(1) << 62)
#define RAFT_PREVOTE_TIEBREAK_MS 20 /* window of the pre-vote tie-break (at least 2 ticks) */
#define RAFT_ID_SIZE (KASSA_ID_MAX + 1)

/* ---- entries ---- */

typedef enum raft_entry_type {
    RAFT_ENTRY_NORMAL = 1,      /* the embedding's record (raft_propose) */
    RAFT_ENTRY_NOOP = 2,        /* appended by each new leader; data empty */
    RAFT_ENTRY_CONF_ADD = 3,    /* data: the change and the whole new configuration */
    RAFT_ENTRY_CONF_REMOVE = 4, /* (read it with raft_entry_conf) */
    RAFT_ENTRY_TYPE_MAX = 4,
} raft_entry_type;

typedef struct raft_entry {
    uint64_t term;
    uint64_t index;
    uint8_t type; /* raft_entry_type */
    uint16_t len; /* <= RAFT_ENTRY_DATA_MAX */
    uint8_t data[RAFT_ENTRY_DATA_MAX];
} raft_entry;

/* A configuration: the voters, sorted by id (strcmp), unique, valid ids. */
typedef struct raft_conf {
    uint32_t n;
    char ids[RAFT_MEMBERS_MAX][RAFT_ID_SIZE];
} raft_conf;

/* Reads a CONF_ADD / CONF_REMOVE entry: the node added or removed, and the
 * configuration in force from this entry on. KASSA_EINVAL for other entry
 * types, KASSA_ECORRUPT for bad data. node may be NULL. */
int raft_entry_conf(const raft_entry *e, char node[RAFT_ID_SIZE], raft_conf *conf, kassa_err *err);

/* ---- persistent state ---- */

/* Persist whenever raft_ready.has_hard_state. vote is "" for none. */
typedef struct raft_hard_state {
    uint64_t term;
    char vote[RAFT_ID_SIZE];
    uint64_t commit;
} raft_hard_state;

typedef struct raft_snapshot_meta {
    uint64_t index; /* last index the snapshot covers (0: none, the bootstrap) */
    uint64_t term;  /* term of that entry */
    raft_conf conf; /* configuration as of index */
} raft_snapshot_meta;

/* What storage holds, handed to raft_new (everything is copied).
 *
 * A brand-new cluster: every founding node gets hard = {0}, snapshot =
 * {index 0, term 0, conf = the founding members}, no entries, applied 0.
 * A node about to be added to a running cluster: the same with an EMPTY
 * conf; it never campaigns until it learns a configuration naming it
 * (from the leader's log or snapshot), after raft_propose_conf_change on
 * the leader. */
typedef struct raft_restored {
    raft_hard_state hard;
    raft_snapshot_meta snapshot;
    const uint8_t *snapshot_data; /* may be NULL when snapshot_len is 0 */
    size_t snapshot_len;          /* <= RAFT_SNAPSHOT_MAX */
    const raft_entry *entries;    /* entries[0].index == snapshot.index + 1, contiguous */
    size_t n_entries;             /* <= RAFT_LOG_MAX */
    /* The last index the embedding's applied state reflects (0: the
     * snapshot's). Committed entries after it are handed out again. */
    uint64_t applied;
} raft_restored;

/* ---- configuration ---- */

typedef struct raft_config {
    char id[RAFT_ID_SIZE]; /* this node: a kassa id (the terminal's node id) */
    uint32_t tick_ms;      /* one raft_tick is this long (default 10) */
    uint32_t heartbeat_ms; /* leader heartbeat interval (default 150) */
    /* Election timeout, drawn uniformly from [min, max) in ticks at every
     * reset (defaults 300 and 500). min is also the CheckQuorum period, the
     * leader lease and the transfer timeout. */
    uint32_t election_min_ms;
    uint32_t election_max_ms;
    bool pre_vote;                /* default true */
    bool check_quorum;            /* default true */
    uint32_t max_entries_per_msg; /* 1..RAFT_MSG_ENTRIES_MAX (default 16) */
    uint32_t max_inflight;        /* 1..RAFT_INFLIGHT_MAX (default 4) */
    /* Preference: after the leader has led this long, it may hand over to a
     * better-scored voter (default 30000; 0 turns preference off). */
    uint32_t prefer_stable_ms;
    /* A voter's score must exceed the leader's by at least this (default
     * 1800, half an hour of uptime in raft_stability_score units; >= 1). */
    int64_t prefer_margin;
    /* The injected randomness source (required): any uniform uint32. */
    uint32_t (*rand)(void *ctx);
    void *rand_ctx;
} raft_config;

/* Fills the defaults above; the caller sets id and rand. */
void raft_config_default(raft_config *cfg);

/* A stability score for raft_set_score: higher is better. Uptime counts up
 * to a day, each restart in the last day costs an hour:
 *     min(uptime_ms / 1000, 86400) - 3600 * min(restarts_last_day, 24).
 * A node restarted 3 times today scores 3 hours below a steady one of the
 * same uptime, and every terminal up for a day without restarts ties. */
int64_t raft_stability_score(uint64_t uptime_ms, uint32_t restarts_last_day);

/* ---- the state machine ---- */

typedef struct raft raft; /* opaque; about 1.2 MiB, one allocation */

typedef enum raft_role {
    RAFT_FOLLOWER = 0,
    RAFT_PRE_CANDIDATE = 1,
    RAFT_CANDIDATE = 2,
    RAFT_LEADER = 3,
} raft_role;

const char *raft_role_name(raft_role role);

/* Creates a node from its configuration and restored state (checked:
 * KASSA_EINVAL for a bad configuration, KASSA_ECORRUPT for restored state
 * that does not hold together). The node starts as a follower with no
 * leader and a fresh randomised election timeout. */
int raft_new(const raft_config *cfg, const raft_restored *restored, raft **out, kassa_err *err);
void raft_free(raft *r);

/* Advances time by one tick (cfg.tick_ms). */
int raft_tick(raft *r, kassa_err *err);

/* Starts an election now, as if the election timer had fired (through
 * PreVote when enabled). A no-op on a leader or a node that is not a voter. */
int raft_campaign(raft *r, kassa_err *err);

/* ---- messages ---- */

typedef enum raft_msg_type {
    RAFT_MSG_PREVOTE = 1,        /* term = sender's term + 1; index/log_term: its last entry */
    RAFT_MSG_PREVOTE_RESP = 2,   /* term: the request's if granted, else the responder's */
    RAFT_MSG_VOTE = 3,           /* as PREVOTE at the candidate's term; transfer flag */
    RAFT_MSG_VOTE_RESP = 4,      /* reject flag */
    RAFT_MSG_APP = 5,            /* index/log_term: entry before entries[]; commit */
    RAFT_MSG_APP_RESP = 6,       /* index: last matching index, or the rejected index with
                                    reject_hint/log_term as the follower's hint; score */
    RAFT_MSG_HEARTBEAT = 7,      /* commit */
    RAFT_MSG_HEARTBEAT_RESP = 8, /* score */
    RAFT_MSG_SNAPSHOT = 9,       /* snapshot meta + data */
    RAFT_MSG_TIMEOUT_NOW = 10,   /* leader to transfer target: campaign now */
    RAFT_MSG_TYPE_MAX = 10,
} raft_msg_type;

const char *raft_msg_type_name(uint8_t type);

/* A message between nodes. Entries and snapshot are borrowed: in a ready
 * they point into the raft node (valid until raft_advance), after
 * raft_msg_decode into the raft_msg_buf and the decoded bytes. Fields a
 * type does not use are zero. */
typedef struct raft_msg {
    uint8_t type; /* raft_msg_type */
    char from[RAFT_ID_SIZE];
    char to[RAFT_ID_SIZE];
    uint64_t term;
    uint64_t log_term;
    uint64_t index;
    uint64_t commit;
    uint64_t reject_hint;
    bool reject;    /* responses only */
    bool transfer;  /* RAFT_MSG_VOTE only: campaign of a leadership transfer */
    bool has_score; /* APP_RESP and HEARTBEAT_RESP only */
    int64_t score;
    uint32_t n_entries; /* RAFT_MSG_APP only, <= RAFT_MSG_ENTRIES_MAX */
    const raft_entry *entries;
    const raft_snapshot_meta *snapshot; /* RAFT_MSG_SNAPSHOT only, else NULL */
    const uint8_t *snapshot_data;
    size_t snapshot_len;
} raft_msg;

/* Storage for the bulky parts of a decoded message (about 67 KiB: keep
 * one per link, or on the heap). */
typedef struct raft_msg_buf {
    raft_entry entries[RAFT_MSG_ENTRIES_MAX];
    raft_snapshot_meta snapshot;
} raft_msg_buf;

/* Checks a message's fields against its type and the bounds above: valid
 * distinct ids, entries contiguous after index with non-decreasing terms in
 * [log_term, term], valid entry types and data, flags only where they
 * belong. KASSA_ECORRUPT with the reason otherwise. raft_step and
 * raft_msg_encode run it; raft_msg_decode accepts nothing that fails it. */
int raft_msg_check(const raft_msg *m, kassa_err *err);

/* Largest encoding of one message. */
#define RAFT_MSG_ENCODED_MAX (80u << 10)

/* Appends the canonical encoding of m to b:
 *   u8 version (1), u8 type, u8 flags (bit 0 reject, 1 transfer,
 *   2 has_score), uvarint term, log_term, index, commit, reject_hint,
 *   str from, str to, [svarint score if has_score], uvarint n_entries,
 *   per entry: u8 type, uvarint term - previous term (the first against
 *   log_term), bytes data; for RAFT_MSG_SNAPSHOT: uvarint index, term,
 *   n members, str each member, bytes data.
 * Entry indexes are implicit (index + 1 + i). KASSA_ECORRUPT if m fails
 * raft_msg_check, KASSA_ENOMEM if b could not grow. */
int raft_msg_encode(const raft_msg *m, kbuf *b, kassa_err *err);

/* Decodes untrusted bytes (at most RAFT_MSG_ENCODED_MAX). Strict: the
 * version, every field bound, canonical varints, no trailing bytes, and
 * raft_msg_check; so an accepted message re-encodes to the same bytes.
 * m->entries points into buf, m->snapshot_data into p. KASSA_ECORRUPT with
 * the reason on any failure. */
int raft_msg_decode(const uint8_t *p, size_t n, raft_msg *m, raft_msg_buf *buf, kassa_err *err);

/* Takes in one message from a peer (m->to must be this node). Messages of
 * a stale term are ignored (a stale leader is told the current term);
 * messages of a newer term make this node a follower, except (pre)votes
 * ignored under a leader lease. KASSA_ECORRUPT when the message fails
 * raft_msg_check or contradicts what the sender must know (an
 * acknowledgement of entries that do not exist, ...): nothing changed. */
int raft_step(raft *r, const raft_msg *m, kassa_err *err);

/* ---- proposals (leader only) ---- */

/* Appends a RAFT_ENTRY_NORMAL entry with len <= RAFT_ENTRY_DATA_MAX bytes
 * of data; *index (optional) gets its index: it is committed once it comes
 * out in raft_ready.committed with the same index and this node's term.
 * KASSA_ECONFLICT when not the leader, KASSA_EBUSY during a leadership
 * transfer, KASSA_EFULL when the log is full. */
int raft_propose(raft *r, const void *data, size_t len, uint64_t *index, kassa_err *err);

typedef enum raft_conf_op {
    RAFT_CONF_ADD = 1,
    RAFT_CONF_REMOVE = 2,
} raft_conf_op;

/* Proposes adding or removing one voter. KASSA_EBUSY while another change
 * is uncommitted, a transfer is in progress, or the leader has not yet
 * committed an entry of its term; KASSA_ECONFLICT when not the leader or
 * adding a member; KASSA_ENOTFOUND when removing a non-member; KASSA_EINVAL
 * for a bad id, removing the last voter or going past RAFT_MEMBERS_MAX. */
int raft_propose_conf_change(raft *r, raft_conf_op op, const char *id, uint64_t *index,
                             kassa_err *err);

/* Hands leadership to target (a voter other than this leader): brings its
 * log up to date, then sends it MsgTimeoutNow. Aborted if target is not
 * leader within election_min_ms. Proposals are refused meanwhile.
 * KASSA_ECONFLICT when not the leader; KASSA_ENOTFOUND when target is not a
 * voter; KASSA_EINVAL for itself. A transfer to the same target in progress
 * is not restarted; one to another target is replaced. */
int raft_transfer_leadership(raft *r, const char *target, kassa_err *err);

/* This node's stability score (see raft_stability_score); sent to the
 * leader in responses, used by the leader for its own. Until it is set the
 * node reports no score and is never a preference target (and a leader
 * without a score makes no preference transfer). */
void raft_set_score(raft *r, int64_t score);

/* ---- output ---- */

typedef struct raft_soft_state {
    raft_role role;
    uint64_t term;
    char leader[RAFT_ID_SIZE]; /* "" when unknown */
} raft_soft_state;

typedef struct raft_ready {
    raft_soft_state soft; /* always filled */
    bool has_soft_state;  /* soft changed since the last raft_advance */

    bool has_hard_state; /* persist hard_state (step 1) */
    raft_hard_state hard_state;

    bool has_snapshot; /* persist and install (steps 1 and 3) */
    raft_snapshot_meta snapshot;
    const uint8_t *snapshot_data;
    size_t snapshot_len;

    /* Entries to persist (step 1): replace stored entries from
     * entries[0].index on with these. */
    const raft_entry *entries;
    size_t n_entries;

    /* Messages to send after persisting (step 2). */
    const raft_msg *msgs;
    size_t n_msgs;

    /* Entries committed, to apply in order (step 3). CONF entries are
     * already in force inside raft; the embedding may mirror them (roster). */
    const raft_entry *committed;
    size_t n_committed;
} raft_ready;

bool raft_has_ready(const raft *r);
/* Fills rd; KASSA_EINVAL if a ready is already out. */
int raft_ready_get(raft *r, raft_ready *rd, kassa_err *err);
/* Tells raft that rd was persisted, sent and applied. */
int raft_advance(raft *r, const raft_ready *rd, kassa_err *err);

/* Compacts the log up to upto_index (<= the applied index): the entries up
 * to it are replaced by snapshot (the embedding's applied state as of
 * upto_index, <= RAFT_SNAPSHOT_MAX bytes, copied), which is what a follower
 * too far behind receives. *meta (optional) gets the snapshot's meta (index,
 * term, configuration as of upto_index): the embedding stores it with the
 * snapshot data, then drops its stored entries up to upto_index, in one
 * transaction. A no-op (meta: the current snapshot's) when upto_index is not
 * past the current snapshot. KASSA_EBUSY on a joining node that cannot tell
 * the configuration at upto_index yet (it has seen no CONF entry): compact
 * once it has caught up. */
int raft_compact(raft *r, uint64_t upto_index, const uint8_t *snapshot, size_t len,
                 raft_snapshot_meta *meta, kassa_err *err);

/* ---- status ---- */

typedef enum raft_progress_state {
    RAFT_PROGRESS_PROBE = 0,     /* finding where the follower's log matches */
    RAFT_PROGRESS_REPLICATE = 1, /* streaming entries */
    RAFT_PROGRESS_SNAPSHOT = 2,  /* a snapshot is on its way */
} raft_progress_state;

typedef struct raft_member_status {
    char id[RAFT_ID_SIZE];
    bool self;
    /* Leader only (zero elsewhere): replication progress and activity. */
    uint64_t match;
    uint64_t next;
    raft_progress_state progress;
    bool recent_active; /* heard from within election_min_ms */
    /* Stability score as last reported to this node (the leader hears every
     * voter's; other nodes know their own only). */
    bool score_known;
    int64_t score;
} raft_member_status;

typedef struct raft_status {
    char id[RAFT_ID_SIZE];
    raft_role role;
    uint64_t term;
    char vote[RAFT_ID_SIZE];
    char leader[RAFT_ID_SIZE];
    uint64_t commit;
    uint64_t applied;
    uint64_t last_index;
    uint64_t snapshot_index; /* entries after it are in memory */
    uint32_t log_entries;    /* entries in memory (compact past RAFT_LOG_MAX / 2) */
    bool voter;              /* this node is in its configuration */
    uint64_t conf_index;     /* entry of the configuration in force (0: snapshot's) */
    bool conf_pending;       /* that entry is not committed yet */
    uint32_t n_members;
    raft_member_status members[RAFT_MEMBERS_MAX];
    /* Leader: a majority of voters heard from within election_min_ms.
     * Follower: the leader heard from within election_min_ms. */
    bool quorum_active;
    char transferee[RAFT_ID_SIZE]; /* leadership transfer in progress to */
    /* Preference (leader only; "" elsewhere): the voter that should lead by
     * score and hysteresis (this leader itself when no one beats it by the
     * margin), and how long until the leader may hand over to it. */
    char preferred[RAFT_ID_SIZE];
    uint64_t leader_for_ms; /* leader: time since it took office */
    uint64_t prefer_in_ms;  /* leader: time left of prefer_stable_ms */
    bool self_score_known;
    int64_t self_score;
    /* Counters since raft_new. */
    uint64_t pre_campaigns; /* became pre-candidate */
    uint64_t campaigns;     /* became candidate (term incremented) */
    uint64_t prefer_transfers;
    uint64_t msgs_dropped; /* outbox overflow */
} raft_status;

void raft_status_get(const raft *r, raft_status *st);

#endif
