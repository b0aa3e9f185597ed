/*
 * What a leader knows of each follower's log (etcd's tracker.Progress):
 *  - PROBE: one append at a time until the follower says where its log
 *    matches ours (probe_sent pauses it until an answer or a heartbeat
 *    response);
 *  - REPLICATE: next runs ahead of match optimistically, at most
 *    cfg.max_inflight unacknowledged appends;
 *  - SNAPSHOT: the follower needs compacted entries; a snapshot is on its
 *    way, and nothing else is sent until it is acknowledged (or
 *    election_min ticks pass, then probe again).
 */
#include "raft/raft_internal.h"

void raft_progress_reset(raft *r, raft_peer *p)
{
    p->next = raft_log_last_index(r) + 1;
    p->match = p->self ? r->stable : 0;
    p->state = p->self ? RAFT_PROGRESS_REPLICATE : RAFT_PROGRESS_PROBE;
    p->probe_sent = false;
    p->recent_active = p->self;
    p->silent_ticks = 0;
    p->pending_snapshot = 0;
    p->snapshot_ticks = 0;
    p->inflight_start = 0;
    p->inflight_count = 0;
    p->vote = RAFT_VOTE_NONE;
}

static void inflight_reset(raft_peer *p)
{
    p->inflight_start = 0;
    p->inflight_count = 0;
}

void raft_progress_become_probe(raft_peer *p)
{
    /* Out of SNAPSHOT, resume after the snapshot if it was acknowledged. */
    if (p->state == RAFT_PROGRESS_SNAPSHOT) {
        p->next = raft_max_u64(p->match + 1, p->pending_snapshot + 1);
        p->pending_snapshot = 0;
    } else {
        p->next = p->match + 1;
    }
    p->state = RAFT_PROGRESS_PROBE;
    p->probe_sent = false;
    inflight_reset(p);
}

void raft_progress_become_replicate(raft_peer *p)
{
    p->state = RAFT_PROGRESS_REPLICATE;
    p->next = p->match + 1;
    p->probe_sent = false;
    p->pending_snapshot = 0;
    inflight_reset(p);
}

void raft_progress_become_snapshot(raft_peer *p, uint64_t snapshot_index)
{
    p->state = RAFT_PROGRESS_SNAPSHOT;
    p->pending_snapshot = snapshot_index;
    p->snapshot_ticks = 0;
    p->probe_sent = false;
    inflight_reset(p);
}

bool raft_progress_maybe_update(raft_peer *p, uint64_t n)
{
    bool updated = false;
    if (p->match < n) {
        p->match = n;
        p->probe_sent = false;
        updated = true;
    }
    if (p->next < n + 1)
        p->next = n + 1;
    return updated;
}

bool raft_progress_maybe_decr_to(raft_peer *p, uint64_t rejected, uint64_t match_hint)
{
    if (p->state == RAFT_PROGRESS_REPLICATE) {
        /* A rejection of something already matched is stale. */
        if (rejected <= p->match)
            return false;
        p->next = p->match + 1;
        return true;
    }
    /* Probing: only the answer to the probe in flight counts. */
    if (p->next == 0 || p->next - 1 != rejected)
        return false;
    uint64_t next = raft_min_u64(rejected, match_hint + 1);
    p->next = raft_max_u64(next, p->match + 1);
    p->probe_sent = false;
    return true;
}

bool raft_inflight_full(const raft *r, const raft_peer *p)
{
    return p->inflight_count >= r->cfg.max_inflight;
}

bool raft_progress_paused(const raft *r, const raft_peer *p)
{
    switch (p->state) {
    case RAFT_PROGRESS_PROBE:
        return p->probe_sent;
    case RAFT_PROGRESS_REPLICATE:
        return raft_inflight_full(r, p);
    default:
        return true;
    }
}

void raft_inflight_add(raft *r, raft_peer *p, uint64_t last)
{
    RAFT_ASSERT(!raft_inflight_full(r, p));
    RAFT_ASSERT(r->cfg.max_inflight <= RAFT_INFLIGHT_MAX);
    uint32_t slot = (p->inflight_start + p->inflight_count) % RAFT_INFLIGHT_MAX;
    p->inflight[slot] = last;
    p->inflight_count++;
}

void raft_inflight_free_le(raft_peer *p, uint64_t index)
{
    RAFT_ASSERT(p->inflight_count <= RAFT_INFLIGHT_MAX);
    while (p->inflight_count > 0 && p->inflight[p->inflight_start] <= index) {
        p->inflight_start = (p->inflight_start + 1) % RAFT_INFLIGHT_MAX;
        p->inflight_count--;
    }
}

void raft_inflight_free_first(raft_peer *p)
{
    if (p->inflight_count == 0)
        return;
    p->inflight_start = (p->inflight_start + 1) % RAFT_INFLIGHT_MAX;
    p->inflight_count--;
}
