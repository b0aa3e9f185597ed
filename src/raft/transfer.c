/*
 * Leadership transfer and the preference for the most stable terminal.
 *
 * Transfer (Raft dissertation §3.10): the leader brings the target's log up
 * to date, then sends it MsgTimeoutNow; the target campaigns at once, at
 * term + 1, without PreVote and with the transfer flag that lets its vote
 * requests past the other nodes' leader leases. Proposals are refused while
 * a transfer is in progress; it is abandoned after election_min ticks (the
 * leader's CheckQuorum period).
 *
 * Preference: every node reports its stability score to the leader in its
 * append and heartbeat responses. At each heartbeat, once the leader has
 * held office (or last tried a preference transfer) for prefer_stable_ms,
 * it hands over to the reachable (heard from within election_min), caught-up
 * voter with the best
 * score, if that score is at least prefer_margin above its own. Hysteresis
 * comes from the margin (two nodes with close scores never swap) and from
 * the wait (a new leader, or a leader whose transfer failed, keeps office
 * for at least another prefer_stable_ms).
 */
#include "raft/raft_internal.h"

void raft_send_timeout_now(raft *r, const char *to)
{
    raft_msg m = {.type = RAFT_MSG_TIMEOUT_NOW, .term = r->term};
    raft_id_copy(m.to, to);
    raft_send(r, &m);
}

void raft_transfer_abort(raft *r)
{
    r->transferee[0] = '\0';
    r->transfer_preferred = false;
}

void raft_transfer_begin(raft *r, raft_peer *target, bool preferred)
{
    RAFT_ASSERT(r->role == RAFT_LEADER);
    RAFT_ASSERT(!target->self);
    if (r->transferee[0] && strcmp(r->transferee, target->id) == 0)
        return;
    raft_transfer_abort(r);
    raft_id_copy(r->transferee, target->id);
    r->transfer_preferred = preferred;
    /* The transfer must complete within one CheckQuorum period. */
    r->election_elapsed = 0;
    if (target->match == raft_log_last_index(r))
        raft_send_timeout_now(r, target->id);
    else
        raft_send_append(r, target, true);
}

static bool beats(int64_t score, int64_t own, int64_t margin)
{
    int64_t bar;
    if (__builtin_add_overflow(own, margin, &bar))
        return false;
    return score >= bar;
}

const raft_peer *raft_prefer_choice(const raft *r)
{
    if (r->role != RAFT_LEADER || !r->self_score_known)
        return NULL;
    const raft_peer *self = NULL, *best = NULL;
    for (uint32_t i = 0; i < r->n_peers; i++) {
        const raft_peer *p = &r->peers[i];
        if (p->self) {
            self = p;
            continue;
        }
        /* Heard from within election_min: it is up and reachable. */
        if (!p->score_known || p->silent_ticks >= r->election_min_ticks)
            continue;
        /* Peers are sorted by id: on a tie the first one stays. */
        if (!best || p->score > best->score)
            best = p;
    }
    if (!self)
        return NULL;
    if (best && beats(best->score, r->self_score, r->cfg.prefer_margin))
        return best;
    return self;
}

void raft_prefer_check(raft *r)
{
    if (r->role != RAFT_LEADER || r->prefer_stable_ticks == 0)
        return;
    if (r->prefer_elapsed < r->prefer_stable_ticks || r->transferee[0] || r->conf_index > r->commit)
        return;
    const raft_peer *choice = raft_prefer_choice(r);
    if (!choice || choice->self || choice->match != raft_log_last_index(r))
        return;
    raft_peer *target = raft_peer_find(r, choice->id);
    RAFT_ASSERT(target);
    r->prefer_transfers++;
    r->prefer_elapsed = 0;
    raft_transfer_begin(r, target, true);
}
