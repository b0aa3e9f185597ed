/* raftstore.c: restoring and persisting a Raft member (raftstore.h). */
#include "raftstore/raftstore.h"

#include <stdlib.h>
#include <string.h>

static int load_entry(const term_raft_entry *e, void *ctx)
{
    raftstore_log *log = ctx;
    if (log->n >= RAFT_LOG_MAX || e->len > RAFT_ENTRY_DATA_MAX || e->type < 1 ||
        e->type > RAFT_ENTRY_TYPE_MAX)
        return KASSA_ECORRUPT;
    raft_entry *out = &log->entries[log->n++];
    out->index = e->index;
    out->term = e->term;
    out->type = e->type;
    out->len = (uint16_t)e->len;
    if (e->len) /* an empty entry (a no-op) comes with data NULL */
        memcpy(out->data, e->data, e->len);
    return KASSA_OK;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

int raftstore_restore(term *t, const raft_conf *founding, raftstore_log *log, raft_restored *out,
                      kassa_err *err)
{
    memset(out, 0, sizeof *out);
    log->n = 0;
    if (founding->n > RAFT_MEMBERS_MAX)
        return kassa_fail(err, KASSA_EINVAL, "%u members, a Raft group holds at most %d",
                          founding->n, RAFT_MEMBERS_MAX);
    term_raft_hard hs;
    int rc = term_raft_load(t, &hs, load_entry, log, err);
    if (rc != KASSA_OK)
        return rc;
    if (log->n && log->entries[0].index > 1)
        return kassa_fail(err, KASSA_ECORRUPT, "raft log starts at %llu without a snapshot",
                          (unsigned long long)log->entries[0].index);
    out->hard.term = hs.term;
    out->hard.commit = hs.commit;
    memcpy(out->hard.vote, hs.vote, sizeof out->hard.vote);
    out->snapshot.conf = *founding;
    qsort(out->snapshot.conf.ids, founding->n, RAFT_ID_SIZE, cmp_id);
    out->entries = log->entries;
    out->n_entries = log->n;
    /* No applied state of its own yet: what was committed before the
     * restart was handled then. */
    out->applied = hs.commit;
    return KASSA_OK;
}

int raftstore_persist(term *t, const raft_ready *rd, raftstore_scratch *scratch, kassa_err *err)
{
    if (rd->has_snapshot && term_raft_compact(t, rd->snapshot.index, err) != KASSA_OK)
        return err->code;
    if (!rd->has_hard_state && rd->n_entries == 0)
        return KASSA_OK;
    if (rd->n_entries > RAFT_LOG_MAX)
        return kassa_fail(err, KASSA_EINVAL, "a ready of %zu entries", rd->n_entries);
    for (size_t i = 0; i < rd->n_entries; i++) {
        const raft_entry *e = &rd->entries[i];
        scratch->entries[i] = (term_raft_entry){e->index, e->term, e->type, e->data, e->len};
    }
    term_raft_hard hs;
    if (rd->has_hard_state) {
        hs.term = rd->hard_state.term;
        hs.commit = rd->hard_state.commit;
        memcpy(hs.vote, rd->hard_state.vote, sizeof hs.vote);
    }
    return term_raft_save(t, rd->has_hard_state ? &hs : NULL, scratch->entries, rd->n_entries, err);
}
