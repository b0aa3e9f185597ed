/*
 * The outbox and the ready/advance handshake.
 *
 * Messages wait in the outbox until raft_ready_get. Append messages record
 * only how many entries follow their index, and snapshot messages nothing
 * of the snapshot: the pointers are filled at raft_ready_get, from the log
 * as it is then. An append whose entries are no longer there as they were
 * is dropped (dropping a message is always safe in Raft). Its term must
 * still be ours, so only we, as leader of that term, could have changed
 * the log since, and a leader never rewrites its log: only compaction can
 * have removed them.
 *
 * A ready hands out: what to persist (snapshot, entries after `stable`,
 * hard state when it changed), the messages, and the committed entries
 * after `applied` (only entries this very ready makes durable or that are
 * already durable). raft_advance moves stable and applied to what was
 * handed out; nothing else may change the node in between.
 */
#include "raft/raft_internal.h"

void raft_send(raft *r, raft_msg *m)
{
    raft_id_copy(m->from, r->cfg.id);
    RAFT_ASSERT(strcmp(m->to, r->cfg.id) != 0);
    RAFT_ASSERT(m->n_entries <= RAFT_MSG_ENTRIES_MAX);
    RAFT_ASSERT(!r->ready_out);
    if (r->n_out >= RAFT_OUTBOX_MAX) {
        r->msgs_dropped++;
        return;
    }
    r->out[r->n_out++] = *m;
}

static bool hard_state_equal(const raft_hard_state *a, uint64_t term, const char *vote,
                             uint64_t commit)
{
    return a->term == term && a->commit == commit && strcmp(a->vote, vote) == 0;
}

static bool soft_changed(const raft *r)
{
    return r->reported.role != r->role || r->reported.term != r->term ||
           strcmp(r->reported.leader, r->leader) != 0;
}

/* Committed entries to hand out: (lo, hi]. */
static void committed_range(const raft *r, uint64_t *lo, uint64_t *hi)
{
    *lo = raft_max_u64(r->applied, r->snap.index);
    *hi = raft_min_u64(r->commit, raft_log_last_index(r));
    if (*hi < *lo)
        *hi = *lo;
}

bool raft_has_ready(const raft *r)
{
    if (r->ready_out)
        return false;
    if (r->n_out > 0 || r->snapshot_pending || soft_changed(r))
        return true;
    if (!hard_state_equal(&r->persisted, r->term, r->vote, r->commit))
        return true;
    if (r->stable < raft_log_last_index(r))
        return true;
    uint64_t lo, hi;
    committed_range(r, &lo, &hi);
    return hi > lo;
}

/* Fills the entry or snapshot pointers of the outbox; drops what cannot be
 * sent any more. */
static void outbox_materialize(raft *r)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->n_out; i++) {
        raft_msg *m = &r->out[i];
        if (m->type == RAFT_MSG_APP) {
            uint64_t t;
            bool ok = m->term == r->term && raft_log_term(r, m->index, &t) && t == m->log_term &&
                      m->index + m->n_entries <= raft_log_last_index(r);
            if (!ok) {
                r->msgs_dropped++;
                continue;
            }
            m->entries = m->n_entries ? raft_log_at(r, m->index + 1) : NULL;
        } else if (m->type == RAFT_MSG_SNAPSHOT) {
            if (m->term != r->term || r->snap.index == 0) {
                r->msgs_dropped++;
                continue;
            }
            m->snapshot = &r->snap;
            m->snapshot_data = r->snap_len ? r->snap_data : NULL;
            m->snapshot_len = r->snap_len;
        }
        /* Whatever we send, a peer's raft_msg_decode accepts. */
        RAFT_ASSERT(raft_msg_check(m, NULL) == KASSA_OK);
        r->out[k++] = *m;
    }
    r->n_out = k;
}

int raft_ready_get(raft *r, raft_ready *rd, kassa_err *err)
{
    if (r->ready_out)
        return kassa_fail(err, KASSA_EINVAL, "raft_ready_get: the previous ready is not advanced");
    memset(rd, 0, sizeof *rd);
    rd->soft.role = r->role;
    rd->soft.term = r->term;
    raft_id_copy(rd->soft.leader, r->leader);
    rd->has_soft_state = soft_changed(r);

    if (!hard_state_equal(&r->persisted, r->term, r->vote, r->commit)) {
        rd->has_hard_state = true;
        rd->hard_state.term = r->term;
        raft_id_copy(rd->hard_state.vote, r->vote);
        rd->hard_state.commit = r->commit;
    }
    if (r->snapshot_pending) {
        rd->has_snapshot = true;
        rd->snapshot = r->snap;
        rd->snapshot_data = r->snap_len ? r->snap_data : NULL;
        rd->snapshot_len = r->snap_len;
    }
    RAFT_ASSERT(r->stable >= r->snap.index);
    uint64_t last = raft_log_last_index(r);
    RAFT_ASSERT(r->stable <= last);
    if (r->stable < last) {
        rd->entries = raft_log_at(r, r->stable + 1);
        rd->n_entries = (size_t)(last - r->stable);
    }
    outbox_materialize(r);
    rd->msgs = r->n_out ? r->out : NULL;
    rd->n_msgs = r->n_out;

    uint64_t lo, hi;
    committed_range(r, &lo, &hi);
    if (hi > lo) {
        rd->committed = raft_log_at(r, lo + 1);
        rd->n_committed = (size_t)(hi - lo);
    }
    r->ready_out = true;
    r->ready_stable_to = last;
    r->ready_applied_to = hi;
    r->ready_n_msgs = r->n_out;
    return KASSA_OK;
}

int raft_advance(raft *r, const raft_ready *rd, kassa_err *err)
{
    if (!r->ready_out)
        return kassa_fail(err, KASSA_EINVAL, "raft_advance without raft_ready_get");
    if (rd->n_msgs != r->ready_n_msgs ||
        (rd->n_entries && rd->entries[rd->n_entries - 1].index != r->ready_stable_to) ||
        (rd->n_committed && rd->committed[rd->n_committed - 1].index != r->ready_applied_to))
        return kassa_fail(err, KASSA_EINVAL, "raft_advance: not the ready last handed out");
    r->ready_out = false;
    if (rd->has_hard_state)
        r->persisted = rd->hard_state;
    r->reported = rd->soft;
    if (rd->has_snapshot) {
        r->snapshot_pending = false;
        r->applied = raft_max_u64(r->applied, rd->snapshot.index);
    }
    r->stable = r->ready_stable_to;
    r->applied = raft_max_u64(r->applied, r->ready_applied_to);
    RAFT_ASSERT(r->applied <= r->commit);
    r->n_out = 0;
    r->ready_n_msgs = 0;

    /* The leader's own entries count towards commit once durable. */
    if (r->role == RAFT_LEADER) {
        raft_peer *self = raft_peer_self(r);
        if (self && self->match < r->stable) {
            self->match = r->stable;
            self->next = r->stable + 1;
        }
        if (raft_maybe_commit(r)) {
            raft_bcast_append(r);
            raft_check_self_removal(r);
        }
    }
    return KASSA_OK;
}
