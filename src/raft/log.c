/*
 * The in-memory log: a flat array of at most RAFT_LOG_MAX entries after the
 * snapshot. log[i] has index snap.index + 1 + i. Compaction moves the tail
 * down (rare, at most RAFT_LOG_MAX entries), so a run of entries is always
 * contiguous and append messages can point into it.
 */
#include "raft/raft_internal.h"

uint64_t raft_log_last_index(const raft *r)
{
    return r->snap.index + r->log_n;
}

uint64_t raft_log_last_term(const raft *r)
{
    return r->log_n ? r->log[r->log_n - 1].term : r->snap.term;
}

bool raft_log_term(const raft *r, uint64_t i, uint64_t *term)
{
    if (i < r->snap.index || i > raft_log_last_index(r))
        return false;
    if (i == r->snap.index) {
        *term = r->snap.term;
        return true;
    }
    const raft_entry *e = &r->log[i - r->snap.index - 1];
    RAFT_ASSERT(e->index == i);
    *term = e->term;
    return true;
}

bool raft_log_match(const raft *r, uint64_t i, uint64_t term)
{
    uint64_t t;
    return raft_log_term(r, i, &t) && t == term;
}

raft_entry *raft_log_at(raft *r, uint64_t i)
{
    RAFT_ASSERT(i > r->snap.index && i <= raft_log_last_index(r));
    raft_entry *e = &r->log[i - r->snap.index - 1];
    RAFT_ASSERT(e->index == i);
    return e;
}

bool raft_log_up_to_date(const raft *r, uint64_t last_term, uint64_t last_index)
{
    uint64_t our_term = raft_log_last_term(r);
    return last_term > our_term || (last_term == our_term && last_index >= raft_log_last_index(r));
}

bool raft_log_full(const raft *r)
{
    /* Also full near the index bound, so that every append message we may
     * send stays within it (raft_msg_check). Never reached in practice. */
    return r->log_n >= RAFT_LOG_MAX ||
           raft_log_last_index(r) >= RAFT_INDEX_MAX - RAFT_MSG_ENTRIES_MAX - 1;
}

void raft_log_append(raft *r, uint8_t type, uint64_t term, const uint8_t *data, uint16_t len)
{
    RAFT_ASSERT(!raft_log_full(r));
    RAFT_ASSERT(len <= RAFT_ENTRY_DATA_MAX);
    RAFT_ASSERT(term >= raft_log_last_term(r));
    raft_entry *e = &r->log[r->log_n];
    e->index = raft_log_last_index(r) + 1;
    e->term = term;
    e->type = type;
    e->len = len;
    if (len)
        memcpy(e->data, data, len);
    r->log_n++;
}

void raft_log_truncate_after(raft *r, uint64_t i)
{
    RAFT_ASSERT(i >= r->commit);
    RAFT_ASSERT(i >= r->snap.index);
    if (i >= raft_log_last_index(r))
        return;
    r->log_n = (uint32_t)(i - r->snap.index);
    if (r->stable > i)
        r->stable = i;
}

void raft_log_conflict_hint(const raft *r, uint64_t i, uint64_t term, uint64_t *hint_index,
                            uint64_t *hint_term)
{
    uint64_t last = raft_log_last_index(r);
    if (i > last)
        i = last;
    /* Bounded by the entries in memory: at most RAFT_LOG_MAX + 1 steps. */
    for (uint32_t steps = 0; steps <= RAFT_LOG_MAX; steps++) {
        uint64_t t;
        if (!raft_log_term(r, i, &t)) {
            /* Compacted: the snapshot matches whatever the leader has. */
            *hint_index = i;
            *hint_term = 0;
            return;
        }
        if (t <= term || i == r->snap.index) {
            *hint_index = i;
            *hint_term = t;
            return;
        }
        i--;
    }
    RAFT_ASSERT(false);
}

bool raft_log_conf_at(const raft *r, uint64_t at, raft_conf *out)
{
    RAFT_ASSERT(at >= r->snap.index && at <= raft_log_last_index(r));
    /* The last CONF entry up to at. */
    for (uint64_t i = at; i > r->snap.index; i--) {
        const raft_entry *e = &r->log[i - r->snap.index - 1];
        if (raft_entry_is_conf(e->type)) {
            RAFT_ASSERT(raft_conf_data_decode(e->type, e->data, e->len, NULL, out, NULL) ==
                        KASSA_OK);
            return true;
        }
    }
    /* Else the snapshot's, when known (a joining node starts without). */
    if (r->snap.conf.n > 0) {
        *out = r->snap.conf;
        return true;
    }
    /* Else the one before the next CONF entry: its configuration with its
     * change undone. */
    for (uint64_t i = at + 1; i <= raft_log_last_index(r); i++) {
        const raft_entry *e = &r->log[i - r->snap.index - 1];
        if (!raft_entry_is_conf(e->type))
            continue;
        char node[RAFT_ID_SIZE];
        raft_conf c;
        RAFT_ASSERT(raft_conf_data_decode(e->type, e->data, e->len, node, &c, NULL) == KASSA_OK);
        if (e->type == RAFT_ENTRY_CONF_ADD)
            raft_conf_remove(&c, node);
        else
            raft_conf_add(&c, node);
        if (c.n == 0)
            return false;
        *out = c;
        return true;
    }
    return false;
}

void raft_log_compact(raft *r, uint64_t upto, const uint8_t *data, size_t len)
{
    RAFT_ASSERT(upto > r->snap.index && upto <= r->applied && upto <= r->stable);
    RAFT_ASSERT(len <= RAFT_SNAPSHOT_MAX);
    uint64_t term;
    RAFT_ASSERT(raft_log_term(r, upto, &term));
    raft_conf conf;
    RAFT_ASSERT(raft_log_conf_at(r, upto, &conf));
    RAFT_ASSERT(conf.n > 0);
    uint32_t drop = (uint32_t)(upto - r->snap.index);
    RAFT_ASSERT(drop <= r->log_n);
    memmove(&r->log[0], &r->log[drop], (size_t)(r->log_n - drop) * sizeof r->log[0]);
    r->log_n -= drop;
    r->snap.index = upto;
    r->snap.term = term;
    r->snap.conf = conf;
    if (len)
        memcpy(r->snap_data, data, len);
    r->snap_len = len;
    if (r->conf_index <= upto)
        r->conf_index = 0;
}

void raft_log_restore(raft *r, const raft_snapshot_meta *meta, const uint8_t *data, size_t len)
{
    RAFT_ASSERT(meta->index > r->commit);
    RAFT_ASSERT(len <= RAFT_SNAPSHOT_MAX);
    r->snap = *meta;
    if (len)
        memcpy(r->snap_data, data, len);
    r->snap_len = len;
    r->log_n = 0;
    r->stable = meta->index;
    r->commit = meta->index;
    r->snapshot_pending = true;
    raft_membership_refresh(r);
}
