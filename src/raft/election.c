/*
 * Elections: the election timer, PreVote, votes, CheckQuorum and the lease.
 *
 * A voter whose timer fires (randomised in [election_min, election_max)
 * ticks since it last heard from a leader or granted a vote) becomes a
 * pre-candidate: it asks every voter whether it would get its vote at
 * term + 1, changing nothing durable. A node grants that when it would
 * grant the vote itself (it has no leader, or the term is newer, and the
 * candidate's log is at least as up to date as its own) and it is not under
 * a leader lease (check_quorum: heard from a leader within election_min).
 * With a majority the pre-candidate becomes a candidate: term + 1, votes for
 * itself, asks again for real; with a majority of votes it leads.
 *
 * Pre-vote tie-break: election timers firing in the same tick on several
 * nodes would otherwise all pass the pre-vote and split the real vote (a
 * split costs a whole further election timeout: the difference between a
 * new leader in 350 ms and in 800 ms). For tiebreak_ticks after granting a
 * pre-vote for term T (or starting its own pre-campaign for T) a node grants
 * another pre-vote for T only to a strictly better candidate: a more
 * up-to-date log, or an equal log and a smaller id. A pre-candidate that
 * grants a better peer stands down. Safety does not depend on it (pre-votes
 * bind nothing), and after the window everything is as in plain PreVote, so
 * a preferred candidate that vanished delays nobody for long.
 */
#include "raft/raft_internal.h"

typedef enum { POLL_PENDING, POLL_WON, POLL_LOST } poll_result;

static poll_result poll(const raft *r)
{
    uint32_t granted = 0, rejected = 0;
    RAFT_ASSERT(r->n_peers <= RAFT_MEMBERS_MAX);
    for (uint32_t i = 0; i < r->n_peers; i++) {
        granted += r->peers[i].vote == RAFT_VOTE_GRANTED;
        rejected += r->peers[i].vote == RAFT_VOTE_REJECTED;
    }
    uint32_t q = raft_quorum(r);
    if (granted >= q)
        return POLL_WON;
    if (r->n_peers - rejected < q)
        return POLL_LOST;
    return POLL_PENDING;
}

void raft_campaign_start(raft *r, raft_campaign_kind kind)
{
    if (!raft_self_voter(r) || r->role == RAFT_LEADER)
        return;
    /* Terms stay below RAFT_TERM_MAX (only a hostile peer gets near). */
    if (r->term + 2 >= RAFT_TERM_MAX)
        return;
    uint8_t type;
    uint64_t term;
    if (kind == CAMPAIGN_PRE) {
        raft_become_pre_candidate(r);
        /* A fresh draw, so pre-candidates that collided once do not keep
         * colliding. */
        raft_reset_randomized_timeout(r);
        type = RAFT_MSG_PREVOTE;
        term = r->term + 1;
    } else {
        raft_become_candidate(r);
        type = RAFT_MSG_VOTE;
        term = r->term;
    }
    raft_peer *self = raft_peer_self(r);
    RAFT_ASSERT(self);
    self->vote = RAFT_VOTE_GRANTED;
    if (poll(r) == POLL_WON) {
        if (kind == CAMPAIGN_PRE)
            raft_campaign_start(r, CAMPAIGN_ELECTION);
        else
            raft_become_leader(r);
        return;
    }
    for (uint32_t i = 0; i < r->n_peers; i++) {
        const raft_peer *p = &r->peers[i];
        if (p->self)
            continue;
        raft_msg m = {
            .type = type,
            .term = term,
            .index = raft_log_last_index(r),
            .log_term = raft_log_last_term(r),
            .transfer = kind == CAMPAIGN_TRANSFER,
        };
        raft_id_copy(m.to, p->id);
        raft_send(r, &m);
    }
}

void raft_tick_election(raft *r)
{
    RAFT_ASSERT(r->role != RAFT_LEADER);
    if (r->election_elapsed < UINT32_MAX)
        r->election_elapsed++;
    if (raft_self_voter(r) && r->election_elapsed >= r->randomized_timeout) {
        r->election_elapsed = 0;
        raft_campaign_start(r, r->cfg.pre_vote ? CAMPAIGN_PRE : CAMPAIGN_ELECTION);
    }
}

bool raft_quorum_active_check(raft *r)
{
    uint32_t active = 0;
    for (uint32_t i = 0; i < r->n_peers; i++) {
        raft_peer *p = &r->peers[i];
        if (p->self || p->recent_active)
            active++;
        if (!p->self)
            p->recent_active = false;
    }
    return active >= raft_quorum(r);
}

bool raft_in_lease(const raft *r)
{
    return r->cfg.check_quorum && r->leader[0] && r->election_elapsed < r->election_min_ticks;
}

void raft_tick_leader(raft *r)
{
    RAFT_ASSERT(r->role == RAFT_LEADER);
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    if (r->leader_elapsed < UINT64_MAX)
        r->leader_elapsed++;
    if (r->prefer_elapsed < UINT64_MAX)
        r->prefer_elapsed++;
    for (uint32_t i = 0; i < r->n_peers; i++) {
        raft_peer *p = &r->peers[i];
        if (p->silent_ticks < UINT32_MAX)
            p->silent_ticks++;
        /* A snapshot that got no answer is retried by probing again. */
        if (p->state == RAFT_PROGRESS_SNAPSHOT && ++p->snapshot_ticks >= r->election_min_ticks)
            raft_progress_become_probe(p);
    }
    if (r->election_elapsed >= r->election_min_ticks) {
        r->election_elapsed = 0;
        bool active = raft_quorum_active_check(r);
        if (r->cfg.check_quorum && !active) {
            raft_become_follower(r, r->term, "");
            return;
        }
        if (r->transferee[0])
            raft_transfer_abort(r);
    }
    if (r->heartbeat_elapsed >= r->heartbeat_ticks) {
        r->heartbeat_elapsed = 0;
        raft_bcast_heartbeat(r);
        raft_prefer_check(r);
    }
}

/* The pre-vote tie-break (above). */
static bool tiebreak_allows(const raft *r, const raft_msg *m)
{
    if (r->pv_ticks == 0 || r->pv_term != m->term || strcmp(r->pv_id, m->from) == 0)
        return true;
    if (m->log_term != r->pv_last_term)
        return m->log_term > r->pv_last_term;
    if (m->index != r->pv_last_index)
        return m->index > r->pv_last_index;
    return strcmp(m->from, r->pv_id) < 0;
}

void raft_handle_vote_request(raft *r, const raft_msg *m)
{
    RAFT_ASSERT(m->term >= r->term);
    bool pre = m->type == RAFT_MSG_PREVOTE;
    bool can_vote = strcmp(r->vote, m->from) == 0 || (!r->vote[0] && !r->leader[0]) ||
                    (pre && m->term > r->term);
    bool grant = can_vote && raft_log_up_to_date(r, m->log_term, m->index);
    if (grant && pre)
        grant = tiebreak_allows(r, m);
    raft_msg resp = {.type = pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP};
    raft_id_copy(resp.to, m->from);
    if (!grant) {
        resp.term = r->term;
        resp.reject = true;
        raft_send(r, &resp);
        return;
    }
    resp.term = m->term;
    raft_send(r, &resp);
    if (!pre) {
        r->election_elapsed = 0;
        raft_id_copy(r->vote, m->from);
        return;
    }
    raft_id_copy(r->pv_id, m->from);
    r->pv_term = m->term;
    r->pv_last_term = m->log_term;
    r->pv_last_index = m->index;
    r->pv_ticks = r->tiebreak_ticks;
    if (r->role == RAFT_PRE_CANDIDATE)
        raft_become_follower(r, r->term, "");
}

void raft_handle_vote_response(raft *r, const raft_msg *m)
{
    if (r->role == RAFT_PRE_CANDIDATE && m->type == RAFT_MSG_PREVOTE_RESP) {
        if (!m->reject && m->term != r->term + 1)
            return;
    } else if (r->role == RAFT_CANDIDATE && m->type == RAFT_MSG_VOTE_RESP) {
        if (m->term != r->term)
            return;
    } else {
        return;
    }
    raft_peer *p = raft_peer_find(r, m->from);
    if (!p || p->self)
        return;
    if (p->vote == RAFT_VOTE_NONE)
        p->vote = m->reject ? RAFT_VOTE_REJECTED : RAFT_VOTE_GRANTED;
    switch (poll(r)) {
    case POLL_WON:
        if (r->role == RAFT_PRE_CANDIDATE)
            raft_campaign_start(r, CAMPAIGN_ELECTION);
        else
            raft_become_leader(r);
        break;
    case POLL_LOST:
        raft_become_follower(r, r->term, "");
        break;
    case POLL_PENDING:
        break;
    }
}
