/*
 * Log replication: the leader's appends, heartbeats and snapshots, the
 * follower's handling of them, and the commit rule.
 *
 * Commit: the leader commits the largest index a majority of voters holds
 * durably (its own entries count once raft_advance says they are persisted)
 * provided that entry is of its own term (Raft §5.4.2).
 *
 * Backtracking: a follower that rejects an append names the last index at
 * or before the rejected one whose term is not above the leader's term there
 * (reject_hint, log_term); the leader jumps to the last index of its own log
 * at or before that hint with a term not above the follower's, skipping a
 * whole conflicting term per round trip instead of one entry.
 */
#include "raft/raft_internal.h"

static void fill_score(const raft *r, raft_msg *m)
{
    if (r->self_score_known) {
        m->has_score = true;
        m->score = r->self_score;
    }
}

bool raft_send_append(raft *r, raft_peer *p, bool send_if_empty)
{
    RAFT_ASSERT(r->role == RAFT_LEADER);
    if (p->self || raft_progress_paused(r, p))
        return false;
    RAFT_ASSERT(p->next >= 1);
    uint64_t prev = p->next - 1;
    uint64_t last = raft_log_last_index(r);
    RAFT_ASSERT(prev <= last);
    uint64_t prev_term;
    raft_msg m = {.term = r->term};
    raft_id_copy(m.to, p->id);
    if (!raft_log_term(r, prev, &prev_term)) {
        /* The follower needs entries we compacted: send the snapshot. */
        RAFT_ASSERT(prev < r->snap.index);
        if (!p->recent_active)
            return false;
        m.type = RAFT_MSG_SNAPSHOT;
        raft_send(r, &m);
        raft_progress_become_snapshot(p, r->snap.index);
        return true;
    }
    uint64_t n = raft_min_u64(last - prev, r->cfg.max_entries_per_msg);
    if (n == 0 && !send_if_empty)
        return false;
    m.type = RAFT_MSG_APP;
    m.index = prev;
    m.log_term = prev_term;
    m.commit = r->commit;
    m.n_entries = (uint32_t)n;
    raft_send(r, &m);
    if (n > 0) {
        if (p->state == RAFT_PROGRESS_REPLICATE) {
            p->next = prev + n + 1;
            raft_inflight_add(r, p, prev + n);
        } else if (p->state == RAFT_PROGRESS_PROBE) {
            p->probe_sent = true;
        }
    }
    return true;
}

void raft_bcast_append(raft *r)
{
    for (uint32_t i = 0; i < r->n_peers; i++)
        if (!r->peers[i].self)
            raft_send_append(r, &r->peers[i], true);
}

void raft_bcast_heartbeat(raft *r)
{
    for (uint32_t i = 0; i < r->n_peers; i++) {
        const raft_peer *p = &r->peers[i];
        if (p->self)
            continue;
        raft_msg m = {
            .type = RAFT_MSG_HEARTBEAT,
            .term = r->term,
            .commit = raft_min_u64(p->match, r->commit),
        };
        raft_id_copy(m.to, p->id);
        raft_send(r, &m);
    }
}

bool raft_maybe_commit(raft *r)
{
    if (r->role != RAFT_LEADER || r->n_peers == 0)
        return false;
    uint64_t match[RAFT_MEMBERS_MAX];
    uint32_t n = r->n_peers;
    RAFT_ASSERT(n <= RAFT_MEMBERS_MAX);
    /* Insertion sort, descending: at most RAFT_MEMBERS_MAX values. */
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v = r->peers[i].match;
        uint32_t j = i;
        while (j > 0 && match[j - 1] < v) {
            match[j] = match[j - 1];
            j--;
        }
        match[j] = v;
    }
    uint64_t mci = match[raft_quorum(r) - 1];
    if (mci <= r->commit)
        return false;
    RAFT_ASSERT(mci <= raft_log_last_index(r));
    uint64_t t;
    if (!raft_log_term(r, mci, &t) || t != r->term)
        return false;
    r->commit = mci;
    return true;
}

void raft_commit_to(raft *r, uint64_t commit)
{
    RAFT_ASSERT(commit <= raft_log_last_index(r));
    if (commit > r->commit)
        r->commit = commit;
}

int raft_handle_append(raft *r, const raft_msg *m, kassa_err *err)
{
    raft_msg resp = {.type = RAFT_MSG_APP_RESP, .term = r->term};
    raft_id_copy(resp.to, m->from);
    fill_score(r, &resp);
    if (m->index < r->commit) {
        resp.index = r->commit;
        raft_send(r, &resp);
        return KASSA_OK;
    }
    uint64_t last = raft_log_last_index(r);
    if (!raft_log_match(r, m->index, m->log_term)) {
        raft_log_conflict_hint(r, raft_min_u64(m->index, last), m->log_term, &resp.reject_hint,
                               &resp.log_term);
        resp.index = m->index;
        resp.reject = true;
        raft_send(r, &resp);
        return KASSA_OK;
    }
    /* Skip what we already hold, truncate at the first conflict. */
    uint32_t i = 0;
    for (; i < m->n_entries; i++) {
        uint64_t t;
        if (!raft_log_term(r, m->index + 1 + i, &t) || t != m->entries[i].term)
            break;
    }
    if (i < m->n_entries) {
        uint64_t at = m->index + 1 + i;
        if (at <= r->commit)
            return kassa_fail(err, KASSA_ECORRUPT, "append from %s rewrites committed entry %llu",
                              m->from, (unsigned long long)at);
        bool refresh = false;
        if (at <= last) {
            refresh = r->conf_index >= at;
            raft_log_truncate_after(r, at - 1);
        }
        for (; i < m->n_entries && !raft_log_full(r); i++) {
            const raft_entry *e = &m->entries[i];
            RAFT_ASSERT(e->index == raft_log_last_index(r) + 1);
            raft_log_append(r, e->type, e->term, e->data, e->len);
            refresh = refresh || raft_entry_is_conf(e->type);
        }
        if (refresh)
            raft_membership_refresh(r);
    }
    uint64_t last_new = m->index + i;
    raft_commit_to(r, raft_min_u64(m->commit, last_new));
    resp.index = last_new;
    raft_send(r, &resp);
    return KASSA_OK;
}

void raft_handle_heartbeat(raft *r, const raft_msg *m)
{
    /* The leader sends min(our match, its commit): entries we hold as it
     * does. Anything past our log would be a lie; take only what we have. */
    raft_commit_to(r, raft_min_u64(m->commit, raft_log_last_index(r)));
    raft_msg resp = {.type = RAFT_MSG_HEARTBEAT_RESP, .term = r->term};
    raft_id_copy(resp.to, m->from);
    fill_score(r, &resp);
    raft_send(r, &resp);
}

void raft_handle_snapshot(raft *r, const raft_msg *m)
{
    const raft_snapshot_meta *s = m->snapshot;
    raft_msg resp = {.type = RAFT_MSG_APP_RESP, .term = r->term};
    raft_id_copy(resp.to, m->from);
    fill_score(r, &resp);
    if (s->index <= r->commit) {
        resp.index = r->commit;
    } else if (raft_log_match(r, s->index, s->term)) {
        /* We hold the entries it covers: just commit them. */
        raft_commit_to(r, s->index);
        resp.index = s->index;
    } else {
        raft_log_restore(r, s, m->snapshot_data, m->snapshot_len);
        resp.index = s->index;
    }
    raft_send(r, &resp);
}

int raft_handle_append_resp(raft *r, const raft_msg *m, kassa_err *err)
{
    raft_peer *p = raft_peer_find(r, m->from);
    if (!p || p->self)
        return KASSA_OK;
    uint64_t last = raft_log_last_index(r);
    if (m->index > last || (m->reject && m->reject_hint > m->index))
        return kassa_fail(err, KASSA_ECORRUPT,
                          "append response from %s for index %llu past our "
                          "log (%llu)",
                          m->from, (unsigned long long)m->index, (unsigned long long)last);
    p->recent_active = true;
    p->silent_ticks = 0;
    if (m->has_score) {
        p->score_known = true;
        p->score = m->score;
    }
    if (m->reject) {
        uint64_t next_probe = m->reject_hint;
        if (m->log_term > 0) {
            uint64_t t;
            raft_log_conflict_hint(r, m->reject_hint, m->log_term, &next_probe, &t);
        }
        if (raft_progress_maybe_decr_to(p, m->index, next_probe)) {
            if (p->state == RAFT_PROGRESS_REPLICATE)
                raft_progress_become_probe(p);
            raft_send_append(r, p, true);
        }
        return KASSA_OK;
    }
    bool was_paused = raft_progress_paused(r, p);
    if (!raft_progress_maybe_update(p, m->index))
        return KASSA_OK;
    if (p->state == RAFT_PROGRESS_PROBE)
        raft_progress_become_replicate(p);
    else if (p->state == RAFT_PROGRESS_SNAPSHOT && p->match >= p->pending_snapshot)
        raft_progress_become_probe(p);
    else if (p->state == RAFT_PROGRESS_REPLICATE)
        raft_inflight_free_le(p, m->index);

    if (raft_maybe_commit(r)) {
        raft_bcast_append(r);
        raft_check_self_removal(r);
        if (r->role != RAFT_LEADER)
            return KASSA_OK;
    } else if (was_paused) {
        raft_send_append(r, p, true);
    }
    /* Fill the window: at most max_inflight appends. */
    for (uint32_t k = 0; k <= RAFT_INFLIGHT_MAX && raft_send_append(r, p, false); k++) {
    }
    if (r->transferee[0] && strcmp(r->transferee, p->id) == 0 && p->match == last)
        raft_send_timeout_now(r, p->id);
    return KASSA_OK;
}

void raft_handle_heartbeat_resp(raft *r, const raft_msg *m)
{
    raft_peer *p = raft_peer_find(r, m->from);
    if (!p || p->self)
        return;
    p->recent_active = true;
    p->silent_ticks = 0;
    p->probe_sent = false;
    if (m->has_score) {
        p->score_known = true;
        p->score = m->score;
    }
    if (p->state == RAFT_PROGRESS_REPLICATE && raft_inflight_full(r, p))
        raft_inflight_free_first(p);
    if (p->match < raft_log_last_index(r))
        raft_send_append(r, p, true);
}

void raft_check_self_removal(raft *r)
{
    if (r->role != RAFT_LEADER || raft_self_voter(r) || r->commit < r->conf_index)
        return;
    /* Our removal is committed: hand over to the most up-to-date voter
     * rather than leave the cluster to its election timers. */
    const raft_peer *best = NULL;
    for (uint32_t i = 0; i < r->n_peers; i++) {
        const raft_peer *p = &r->peers[i];
        if (!best || p->match > best->match)
            best = p;
    }
    if (best && best->match == raft_log_last_index(r))
        raft_send_timeout_now(r, best->id);
    raft_become_follower(r, r->term, "");
}
