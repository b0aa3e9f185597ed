/*
 * Creation, the term rules of raft_step, role changes, proposals, status.
 */
#include "raft/raft_internal.h"

#include <stdio.h>

/* ---- names and defaults ---- */

const char *raft_role_name(raft_role role)
{
    switch (role) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_PRE_CANDIDATE:
        return "pre-candidate";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    }
    return "unknown";
}

void raft_config_default(raft_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tick_ms = 10;
    cfg->heartbeat_ms = 150;
    cfg->election_min_ms = 300;
    cfg->election_max_ms = 500;
    cfg->pre_vote = true;
    cfg->check_quorum = true;
    cfg->max_entries_per_msg = 16;
    cfg->max_inflight = 4;
    cfg->prefer_stable_ms = 30000;
    cfg->prefer_margin = 1800;
}

int64_t raft_stability_score(uint64_t uptime_ms, uint32_t restarts_last_day)
{
    uint64_t up_s = uptime_ms / 1000;
    if (up_s > 86400)
        up_s = 86400;
    uint32_t restarts = restarts_last_day > 24 ? 24 : restarts_last_day;
    return (int64_t)up_s - 3600 * (int64_t)restarts;
}

static uint32_t ms_to_ticks(uint32_t ms, uint32_t tick_ms)
{
    return (uint32_t)(((uint64_t)ms + tick_ms - 1) / tick_ms);
}

static int config_check(const raft_config *c, kassa_err *err)
{
    if (!memchr(c->id, '\0', sizeof c->id) || !kassa_valid_id(c->id, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "raft: bad node id");
    if (!c->rand)
        return kassa_fail(err, KASSA_EINVAL, "raft: no randomness source (cfg.rand)");
    if (c->tick_ms == 0 || c->tick_ms > 1000)
        return kassa_fail(err, KASSA_EINVAL, "raft: tick_ms must be 1..1000");
    if (c->heartbeat_ms < c->tick_ms || c->heartbeat_ms > 60000)
        return kassa_fail(err, KASSA_EINVAL, "raft: heartbeat_ms must be tick_ms..60000");
    if (c->election_min_ms <= c->heartbeat_ms)
        return kassa_fail(err, KASSA_EINVAL, "raft: election_min_ms must exceed heartbeat_ms");
    if (c->election_max_ms > 600000)
        return kassa_fail(err, KASSA_EINVAL, "raft: election_max_ms over 600000");
    if (ms_to_ticks(c->election_max_ms, c->tick_ms) <= ms_to_ticks(c->election_min_ms, c->tick_ms))
        return kassa_fail(err, KASSA_EINVAL,
                          "raft: election_max_ms must exceed election_min_ms by a tick");
    if (ms_to_ticks(c->election_min_ms, c->tick_ms) <= ms_to_ticks(c->heartbeat_ms, c->tick_ms))
        return kassa_fail(err, KASSA_EINVAL,
                          "raft: election_min_ms must exceed heartbeat_ms by a tick");
    if (c->max_entries_per_msg == 0 || c->max_entries_per_msg > RAFT_MSG_ENTRIES_MAX)
        return kassa_fail(err, KASSA_EINVAL, "raft: max_entries_per_msg must be 1..%d",
                          RAFT_MSG_ENTRIES_MAX);
    if (c->max_inflight == 0 || c->max_inflight > RAFT_INFLIGHT_MAX)
        return kassa_fail(err, KASSA_EINVAL, "raft: max_inflight must be 1..%d", RAFT_INFLIGHT_MAX);
    if (c->prefer_margin < 1)
        return kassa_fail(err, KASSA_EINVAL, "raft: prefer_margin must be >= 1");
    if (c->prefer_stable_ms > 0 && c->prefer_stable_ms < c->election_max_ms)
        return kassa_fail(err, KASSA_EINVAL,
                          "raft: prefer_stable_ms must be 0 or at least election_max_ms");
    return KASSA_OK;
}

static int restored_check(const raft_config *cfg, const raft_restored *rs, kassa_err *err)
{
    const raft_hard_state *hs = &rs->hard;
    const raft_snapshot_meta *sm = &rs->snapshot;
    if (hs->term >= RAFT_TERM_MAX || sm->term >= RAFT_TERM_MAX || sm->index >= RAFT_INDEX_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "restored raft state: term or index too large");
    if (!memchr(hs->vote, '\0', sizeof hs->vote) ||
        (hs->vote[0] && !kassa_valid_id(hs->vote, KASSA_ID_MAX)))
        return kassa_fail(err, KASSA_ECORRUPT, "restored raft state: bad vote");
    int rc = raft_conf_check(&sm->conf, err);
    if (rc != KASSA_OK)
        return rc;
    if (sm->index == 0 && sm->term != 0)
        return kassa_fail(err, KASSA_ECORRUPT, "restored raft state: snapshot 0 with a term");
    if (sm->index > 0 && sm->conf.n == 0)
        return kassa_fail(err, KASSA_ECORRUPT, "restored raft state: snapshot without members");
    if (sm->term > hs->term && hs->term != 0)
        return kassa_fail(err, KASSA_ECORRUPT, "restored raft state: snapshot term past term");
    if (rs->snapshot_len > RAFT_SNAPSHOT_MAX || (rs->snapshot_len && !rs->snapshot_data))
        return kassa_fail(err, KASSA_ECORRUPT, "restored raft state: bad snapshot data");
    if (rs->n_entries > RAFT_LOG_MAX || (rs->n_entries && !rs->entries))
        return kassa_fail(err, KASSA_ECORRUPT, "restored raft state: %zu entries (max %d)",
                          rs->n_entries, RAFT_LOG_MAX);
    uint64_t prev_term = sm->term;
    for (size_t i = 0; i < rs->n_entries; i++) {
        const raft_entry *e = &rs->entries[i];
        if (e->index != sm->index + 1 + i)
            return kassa_fail(err, KASSA_ECORRUPT, "restored raft log: entry %zu not contiguous",
                              i);
        if (e->term < prev_term || e->term > hs->term || e->term == 0)
            return kassa_fail(err, KASSA_ECORRUPT, "restored raft log: entry %llu bad term",
                              (unsigned long long)e->index);
        if (e->type == 0 || e->type > RAFT_ENTRY_TYPE_MAX || e->len > RAFT_ENTRY_DATA_MAX ||
            (e->type == RAFT_ENTRY_NOOP && e->len != 0))
            return kassa_fail(err, KASSA_ECORRUPT, "restored raft log: entry %llu bad type/data",
                              (unsigned long long)e->index);
        if (raft_entry_is_conf(e->type) &&
            raft_conf_data_decode(e->type, e->data, e->len, NULL, NULL, err) != KASSA_OK)
            return KASSA_ECORRUPT;
        prev_term = e->term;
    }
    uint64_t last = sm->index + rs->n_entries;
    if (last >= RAFT_INDEX_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "restored raft log: index too large");
    if (hs->commit > last)
        return kassa_fail(err, KASSA_ECORRUPT, "restored raft state: commit past the log");
    uint64_t applied = rs->applied ? rs->applied : sm->index;
    if (applied < sm->index || applied > raft_max_u64(hs->commit, sm->index))
        return kassa_fail(err, KASSA_ECORRUPT, "restored raft state: applied out of range");
    (void)cfg;
    return KASSA_OK;
}

int raft_new(const raft_config *cfg, const raft_restored *rs, raft **out, kassa_err *err)
{
    *out = NULL;
    int rc = config_check(cfg, err);
    if (rc != KASSA_OK)
        return rc;
    rc = restored_check(cfg, rs, err);
    if (rc != KASSA_OK)
        return rc;
    raft *r = calloc(1, sizeof *r);
    if (!r)
        return kassa_fail(err, KASSA_ENOMEM, "raft: out of memory");
    r->cfg = *cfg;
    r->heartbeat_ticks = ms_to_ticks(cfg->heartbeat_ms, cfg->tick_ms);
    r->election_min_ticks = ms_to_ticks(cfg->election_min_ms, cfg->tick_ms);
    r->election_max_ticks = ms_to_ticks(cfg->election_max_ms, cfg->tick_ms);
    r->prefer_stable_ticks = ms_to_ticks(cfg->prefer_stable_ms, cfg->tick_ms);
    r->tiebreak_ticks = ms_to_ticks(RAFT_PREVOTE_TIEBREAK_MS, cfg->tick_ms);
    if (r->tiebreak_ticks < 2)
        r->tiebreak_ticks = 2;

    /* Copy the ids NUL-padded so configurations compare cleanly. */
    r->snap.index = rs->snapshot.index;
    r->snap.term = rs->snapshot.term;
    r->snap.conf.n = rs->snapshot.conf.n;
    for (uint32_t i = 0; i < r->snap.conf.n; i++)
        raft_id_copy(r->snap.conf.ids[i], rs->snapshot.conf.ids[i]);
    if (rs->snapshot_len)
        memcpy(r->snap_data, rs->snapshot_data, rs->snapshot_len);
    r->snap_len = rs->snapshot_len;
    for (size_t i = 0; i < rs->n_entries; i++)
        r->log[i] = rs->entries[i];
    r->log_n = (uint32_t)rs->n_entries;
    r->stable = raft_log_last_index(r);

    r->term = rs->hard.term;
    raft_id_copy(r->vote, rs->hard.vote);
    r->commit = raft_max_u64(rs->hard.commit, r->snap.index);
    r->applied = rs->applied ? rs->applied : r->snap.index;
    r->persisted.term = r->term;
    raft_id_copy(r->persisted.vote, r->vote);
    r->persisted.commit = rs->hard.commit;

    r->role = RAFT_FOLLOWER;
    r->reported.role = RAFT_FOLLOWER;
    r->reported.term = r->term;
    raft_membership_refresh(r);
    raft_reset_randomized_timeout(r);
    *out = r;
    return KASSA_OK;
}

void raft_free(raft *r)
{
    free(r);
}

/* ---- role changes ---- */

void raft_reset_randomized_timeout(raft *r)
{
    uint32_t span = r->election_max_ticks - r->election_min_ticks;
    RAFT_ASSERT(span > 0);
    r->randomized_timeout = r->election_min_ticks + r->cfg.rand(r->cfg.rand_ctx) % span;
}

static void reset(raft *r, uint64_t term)
{
    RAFT_ASSERT(term >= r->term);
    if (term != r->term) {
        r->term = term;
        r->vote[0] = '\0';
    }
    r->leader[0] = '\0';
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    r->leader_elapsed = 0;
    r->prefer_elapsed = 0;
    raft_reset_randomized_timeout(r);
    r->transferee[0] = '\0';
    r->transfer_preferred = false;
    for (uint32_t i = 0; i < r->n_peers; i++)
        raft_progress_reset(r, &r->peers[i]);
}

void raft_become_follower(raft *r, uint64_t term, const char *leader)
{
    reset(r, term);
    r->role = RAFT_FOLLOWER;
    raft_id_copy(r->leader, leader);
}

void raft_become_pre_candidate(raft *r)
{
    RAFT_ASSERT(r->role != RAFT_LEADER);
    /* The term and the vote stay: a pre-election changes nothing durable. */
    r->role = RAFT_PRE_CANDIDATE;
    r->leader[0] = '\0';
    for (uint32_t i = 0; i < r->n_peers; i++)
        r->peers[i].vote = RAFT_VOTE_NONE;
    raft_id_copy(r->pv_id, r->cfg.id);
    r->pv_term = r->term + 1;
    r->pv_last_term = raft_log_last_term(r);
    r->pv_last_index = raft_log_last_index(r);
    r->pv_ticks = r->tiebreak_ticks;
    r->pre_campaigns++;
}

void raft_become_candidate(raft *r)
{
    RAFT_ASSERT(r->role != RAFT_LEADER);
    RAFT_ASSERT(r->term + 1 < RAFT_TERM_MAX);
    reset(r, r->term + 1);
    raft_id_copy(r->vote, r->cfg.id);
    r->role = RAFT_CANDIDATE;
    r->campaigns++;
}

void raft_become_leader(raft *r)
{
    RAFT_ASSERT(r->role == RAFT_CANDIDATE);
    reset(r, r->term);
    r->role = RAFT_LEADER;
    raft_id_copy(r->leader, r->cfg.id);
    /* A leader commits entries of earlier terms only through one of its
     * own: the no-op. If the log is full it waits for compaction. */
    if (!raft_log_full(r))
        raft_log_append(r, RAFT_ENTRY_NOOP, r->term, NULL, 0);
    raft_bcast_append(r);
}

/* ---- step ---- */

static bool is_vote_request(uint8_t t)
{
    return t == RAFT_MSG_VOTE || t == RAFT_MSG_PREVOTE;
}

static int step_leader(raft *r, const raft_msg *m, kassa_err *err)
{
    switch (m->type) {
    case RAFT_MSG_APP_RESP:
        return raft_handle_append_resp(r, m, err);
    case RAFT_MSG_HEARTBEAT_RESP:
        raft_handle_heartbeat_resp(r, m);
        return KASSA_OK;
    case RAFT_MSG_APP:
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_SNAPSHOT:
        return kassa_fail(err, KASSA_ECORRUPT, "%s from %s claims leadership of our term %llu",
                          raft_msg_type_name(m->type), m->from, (unsigned long long)r->term);
    default:
        return KASSA_OK;
    }
}

static int step_follower(raft *r, const raft_msg *m, kassa_err *err)
{
    switch (m->type) {
    case RAFT_MSG_APP:
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_SNAPSHOT:
        if (r->role != RAFT_FOLLOWER)
            raft_become_follower(r, m->term, m->from);
        if (r->leader[0] && strcmp(r->leader, m->from) != 0)
            return kassa_fail(err, KASSA_ECORRUPT, "%s and %s both lead term %llu", r->leader,
                              m->from, (unsigned long long)r->term);
        r->election_elapsed = 0;
        raft_id_copy(r->leader, m->from);
        if (m->type == RAFT_MSG_APP)
            return raft_handle_append(r, m, err);
        if (m->type == RAFT_MSG_HEARTBEAT)
            raft_handle_heartbeat(r, m);
        else
            raft_handle_snapshot(r, m);
        return KASSA_OK;
    case RAFT_MSG_PREVOTE_RESP:
    case RAFT_MSG_VOTE_RESP:
        raft_handle_vote_response(r, m);
        return KASSA_OK;
    case RAFT_MSG_TIMEOUT_NOW:
        if (r->role == RAFT_FOLLOWER && raft_self_voter(r))
            raft_campaign_start(r, CAMPAIGN_TRANSFER);
        return KASSA_OK;
    default:
        return KASSA_OK;
    }
}

int raft_step(raft *r, const raft_msg *m, kassa_err *err)
{
    if (r->ready_out)
        return kassa_fail(err, KASSA_EINVAL, "raft_step between raft_ready_get and raft_advance");
    int rc = raft_msg_check(m, err);
    if (rc != KASSA_OK)
        return rc;
    if (strcmp(m->to, r->cfg.id) != 0)
        return kassa_fail(err, KASSA_EINVAL, "message for %s delivered to %s", m->to, r->cfg.id);

    if (m->term > r->term) {
        if (is_vote_request(m->type)) {
            /* Leader lease: while we hear from a leader, a node that lost
             * touch with it cannot start a new term through us. */
            bool force = m->type == RAFT_MSG_VOTE && m->transfer;
            if (!force && raft_in_lease(r))
                return KASSA_OK;
        }
        if (m->type == RAFT_MSG_PREVOTE) {
            /* Never changes our term. */
        } else if (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject) {
            /* Granted pre-votes carry the term we would campaign for. */
        } else if (m->type == RAFT_MSG_APP || m->type == RAFT_MSG_HEARTBEAT ||
                   m->type == RAFT_MSG_SNAPSHOT) {
            raft_become_follower(r, m->term, m->from);
        } else {
            raft_become_follower(r, m->term, "");
        }
    } else if (m->term < r->term) {
        if ((r->cfg.check_quorum || r->cfg.pre_vote) &&
            (m->type == RAFT_MSG_APP || m->type == RAFT_MSG_HEARTBEAT)) {
            /* A stale leader (back from a partition) learns our term and
             * steps down; without PreVote this happened by its election. */
            raft_msg resp = {.type = RAFT_MSG_APP_RESP, .term = r->term};
            raft_id_copy(resp.to, m->from);
            raft_send(r, &resp);
        } else if (m->type == RAFT_MSG_PREVOTE) {
            raft_msg resp = {.type = RAFT_MSG_PREVOTE_RESP, .term = r->term, .reject = true};
            raft_id_copy(resp.to, m->from);
            raft_send(r, &resp);
        }
        return KASSA_OK;
    }

    if (is_vote_request(m->type)) {
        raft_handle_vote_request(r, m);
        return KASSA_OK;
    }
    if (r->role == RAFT_LEADER)
        return step_leader(r, m, err);
    return step_follower(r, m, err);
}

/* ---- local requests ---- */

static int not_leader(const raft *r, kassa_err *err)
{
    if (r->leader[0])
        return kassa_fail(err, KASSA_ECONFLICT, "not the leader (the leader is %s)", r->leader);
    return kassa_fail(err, KASSA_ECONFLICT, "not the leader (no leader known)");
}

int raft_tick(raft *r, kassa_err *err)
{
    if (r->ready_out)
        return kassa_fail(err, KASSA_EINVAL, "raft_tick between raft_ready_get and raft_advance");
    if (r->pv_ticks > 0)
        r->pv_ticks--;
    if (r->role == RAFT_LEADER)
        raft_tick_leader(r);
    else
        raft_tick_election(r);
    return KASSA_OK;
}

int raft_campaign(raft *r, kassa_err *err)
{
    if (r->ready_out)
        return kassa_fail(err, KASSA_EINVAL, "raft_campaign between ready and advance");
    if (r->role == RAFT_LEADER || !raft_self_voter(r))
        return KASSA_OK;
    r->election_elapsed = 0;
    raft_campaign_start(r, r->cfg.pre_vote ? CAMPAIGN_PRE : CAMPAIGN_ELECTION);
    return KASSA_OK;
}

void raft_set_score(raft *r, int64_t score)
{
    r->self_score_known = true;
    r->self_score = score;
    raft_peer *self = raft_peer_self(r);
    if (self) {
        self->score_known = true;
        self->score = score;
    }
}

static int propose_check(raft *r, kassa_err *err)
{
    if (r->ready_out)
        return kassa_fail(err, KASSA_EINVAL, "proposal between raft_ready_get and raft_advance");
    if (r->role != RAFT_LEADER)
        return not_leader(r, err);
    if (r->transferee[0])
        return kassa_fail(err, KASSA_EBUSY, "leadership transfer to %s in progress", r->transferee);
    if (raft_log_full(r))
        return kassa_fail(err, KASSA_EFULL, "raft log full (%d entries): compact it", RAFT_LOG_MAX);
    return KASSA_OK;
}

static void append_and_send(raft *r, uint8_t type, const uint8_t *data, uint16_t len,
                            uint64_t *index)
{
    raft_log_append(r, type, r->term, data, len);
    if (index)
        *index = raft_log_last_index(r);
    if (type == RAFT_ENTRY_CONF_REMOVE) {
        /* The removed node leaves the table now; give it, best effort, the
         * entry that tells it so (then it stops campaigning). */
        char node[RAFT_ID_SIZE];
        RAFT_ASSERT(raft_conf_data_decode(type, data, len, node, NULL, NULL) == KASSA_OK);
        raft_peer *gone = raft_peer_find(r, node);
        if (gone && !gone->self)
            raft_send_append(r, gone, false);
    }
    if (raft_entry_is_conf(type))
        raft_membership_refresh(r);
    raft_bcast_append(r);
}

int raft_propose(raft *r, const void *data, size_t len, uint64_t *index, kassa_err *err)
{
    if (len > RAFT_ENTRY_DATA_MAX)
        return kassa_fail(err, KASSA_EINVAL, "proposal of %zu bytes (max %d)", len,
                          RAFT_ENTRY_DATA_MAX);
    if (len && !data)
        return kassa_fail(err, KASSA_EINVAL, "proposal without data");
    int rc = propose_check(r, err);
    if (rc != KASSA_OK)
        return rc;
    append_and_send(r, RAFT_ENTRY_NORMAL, data, (uint16_t)len, index);
    return KASSA_OK;
}

int raft_propose_conf_change(raft *r, raft_conf_op op, const char *id, uint64_t *index,
                             kassa_err *err)
{
    if (op != RAFT_CONF_ADD && op != RAFT_CONF_REMOVE)
        return kassa_fail(err, KASSA_EINVAL, "unknown membership change %d", (int)op);
    if (!id || !kassa_valid_id(id, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "membership change: bad node id");
    int rc = propose_check(r, err);
    if (rc != KASSA_OK)
        return rc;
    if (r->conf_index > r->commit)
        return kassa_fail(err, KASSA_EBUSY, "membership change at %llu not committed yet",
                          (unsigned long long)r->conf_index);
    uint64_t commit_term;
    if (!raft_log_term(r, r->commit, &commit_term) || commit_term != r->term)
        return kassa_fail(err, KASSA_EBUSY, "new leader has not committed in its term yet");
    raft_conf next = r->conf;
    bool has = raft_conf_has(&next, id);
    if (op == RAFT_CONF_ADD) {
        if (has)
            return kassa_fail(err, KASSA_ECONFLICT, "%s is already a member", id);
        if (next.n >= RAFT_MEMBERS_MAX)
            return kassa_fail(err, KASSA_EINVAL, "already %d members", RAFT_MEMBERS_MAX);
        raft_conf_add(&next, id);
    } else {
        if (!has)
            return kassa_fail(err, KASSA_ENOTFOUND, "%s is not a member", id);
        if (next.n == 1)
            return kassa_fail(err, KASSA_EINVAL, "cannot remove the last member");
        raft_conf_remove(&next, id);
    }
    uint8_t data[RAFT_ENTRY_DATA_MAX];
    uint16_t len;
    rc = raft_conf_data_encode(id, &next, data, &len, err);
    if (rc != KASSA_OK)
        return rc;
    append_and_send(r, op == RAFT_CONF_ADD ? RAFT_ENTRY_CONF_ADD : RAFT_ENTRY_CONF_REMOVE, data,
                    len, index);
    return KASSA_OK;
}

int raft_transfer_leadership(raft *r, const char *target, kassa_err *err)
{
    if (r->ready_out)
        return kassa_fail(err, KASSA_EINVAL, "transfer between raft_ready_get and raft_advance");
    if (!target || !kassa_valid_id(target, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "leadership transfer: bad node id");
    if (r->role != RAFT_LEADER)
        return not_leader(r, err);
    if (strcmp(target, r->cfg.id) == 0)
        return kassa_fail(err, KASSA_EINVAL, "%s already leads", target);
    raft_peer *p = raft_peer_find(r, target);
    if (!p)
        return kassa_fail(err, KASSA_ENOTFOUND, "%s is not a voter", target);
    raft_transfer_begin(r, p, false);
    return KASSA_OK;
}

int raft_compact(raft *r, uint64_t upto, const uint8_t *snapshot, size_t len,
                 raft_snapshot_meta *meta, kassa_err *err)
{
    if (r->ready_out)
        return kassa_fail(err, KASSA_EINVAL, "raft_compact between raft_ready_get and advance");
    if (len > RAFT_SNAPSHOT_MAX)
        return kassa_fail(err, KASSA_EINVAL, "snapshot of %zu bytes (max %d)", len,
                          RAFT_SNAPSHOT_MAX);
    if (len && !snapshot)
        return kassa_fail(err, KASSA_EINVAL, "snapshot without data");
    if (upto > r->applied)
        return kassa_fail(err, KASSA_EINVAL, "compaction to %llu past applied %llu",
                          (unsigned long long)upto, (unsigned long long)r->applied);
    if (upto > r->snap.index) {
        RAFT_ASSERT(upto <= r->stable);
        raft_conf conf;
        if (!raft_log_conf_at(r, upto, &conf))
            return kassa_fail(err, KASSA_EBUSY,
                              "configuration at %llu not known yet (a joining node): "
                              "compact once it has caught up",
                              (unsigned long long)upto);
        raft_log_compact(r, upto, snapshot, len);
        /* A leader that took office with a full log appends its no-op now. */
        if (r->role == RAFT_LEADER && raft_log_last_term(r) != r->term && !raft_log_full(r)) {
            raft_log_append(r, RAFT_ENTRY_NOOP, r->term, NULL, 0);
            raft_bcast_append(r);
        }
    }
    if (meta)
        *meta = r->snap;
    return KASSA_OK;
}

/* ---- status ---- */

void raft_status_get(const raft *r, raft_status *st)
{
    memset(st, 0, sizeof *st);
    raft_id_copy(st->id, r->cfg.id);
    st->role = r->role;
    st->term = r->term;
    raft_id_copy(st->vote, r->vote);
    raft_id_copy(st->leader, r->leader);
    st->commit = r->commit;
    st->applied = r->applied;
    st->last_index = raft_log_last_index(r);
    st->snapshot_index = r->snap.index;
    st->log_entries = r->log_n;
    st->voter = raft_self_voter(r);
    st->conf_index = r->conf_index;
    st->conf_pending = r->conf_index > r->commit;
    bool leader = r->role == RAFT_LEADER;
    st->n_members = r->n_peers;
    uint32_t active = 0;
    for (uint32_t i = 0; i < r->n_peers && i < RAFT_MEMBERS_MAX; i++) {
        const raft_peer *p = &r->peers[i];
        raft_member_status *ms = &st->members[i];
        raft_id_copy(ms->id, p->id);
        ms->self = p->self;
        if (leader) {
            ms->match = p->match;
            ms->next = p->next;
            ms->progress = (raft_progress_state)p->state;
            ms->recent_active = p->self || p->silent_ticks < r->election_min_ticks;
            active += ms->recent_active;
        }
        if (leader || p->self) {
            ms->score_known = p->self ? r->self_score_known : p->score_known;
            ms->score = p->self ? r->self_score : p->score;
        }
    }
    if (leader)
        st->quorum_active = active >= raft_quorum(r);
    else
        st->quorum_active = r->leader[0] && r->election_elapsed < r->election_min_ticks;
    raft_id_copy(st->transferee, r->transferee);
    if (leader) {
        const raft_peer *pref = raft_prefer_choice(r);
        if (pref)
            raft_id_copy(st->preferred, pref->id);
        st->leader_for_ms = r->leader_elapsed * r->cfg.tick_ms;
        uint64_t stable_ticks = r->prefer_stable_ticks;
        st->prefer_in_ms = r->prefer_elapsed >= stable_ticks
                               ? 0
                               : (stable_ticks - r->prefer_elapsed) * r->cfg.tick_ms;
    }
    st->self_score_known = r->self_score_known;
    st->self_score = r->self_score;
    st->pre_campaigns = r->pre_campaigns;
    st->campaigns = r->campaigns;
    st->prefer_transfers = r->prefer_transfers;
    st->msgs_dropped = r->msgs_dropped;
}
