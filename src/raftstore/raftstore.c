/* raftstore.c: restoring and persisting a Raft member (raftstore.h). */
#include "raftstore/raftstore.h"

#include <stdio.h>
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
    term_raft_snapshot snap;
    kbuf data;
    kbuf_init(&data);
    rc = term_raft_snapshot_load(t, &snap, &data, err);
    if (rc == KASSA_OK && snap.len > sizeof log->snapshot)
        rc = kassa_fail(err, KASSA_ECORRUPT, "raft snapshot of %zu bytes", snap.len);
    if (rc == KASSA_OK) {
        if (snap.len) /* an empty buffer has no data pointer */
            memcpy(log->snapshot, data.data, snap.len);
        log->snapshot_len = snap.len;
    }
    kbuf_free(&data);
    if (rc != KASSA_OK)
        return rc;
    if (log->n && log->entries[0].index != snap.index + 1)
        return kassa_fail(err, KASSA_ECORRUPT, "raft log starts at %llu, its snapshot ends at %llu",
                          (unsigned long long)log->entries[0].index,
                          (unsigned long long)snap.index);
    out->hard.term = hs.term;
    out->hard.commit = hs.commit;
    memcpy(out->hard.vote, hs.vote, sizeof out->hard.vote);
    if (snap.index > 0) {
        out->snapshot.index = snap.index;
        out->snapshot.term = snap.term;
        if ((rc = raftstore_conf_parse(snap.conf, &out->snapshot.conf, err)) != KASSA_OK)
            return rc;
        out->snapshot_data = log->snapshot;
        out->snapshot_len = log->snapshot_len;
    } else {
        out->snapshot.conf = *founding;
    }
    qsort(out->snapshot.conf.ids, out->snapshot.conf.n, RAFT_ID_SIZE, cmp_id);
    out->entries = log->entries;
    out->n_entries = log->n;
    /* No applied state of its own yet: what was committed before the
     * restart was handled then. */
    out->applied = hs.commit > snap.index ? hs.commit : snap.index;
    return KASSA_OK;
}

static int conf_format(const raft_conf *conf, char *out, size_t size, kassa_err *err)
{
    size_t n = 0;
    out[0] = 0;
    for (uint32_t i = 0; i < conf->n; i++) {
        int w = snprintf(out + n, size - n, "%s%s", i ? "," : "", conf->ids[i]);
        if (w < 0 || (size_t)w >= size - n)
            return kassa_fail(err, KASSA_EOVERFLOW, "raft configuration too long");
        n += (size_t)w;
    }
    return KASSA_OK;
}

int raftstore_conf_parse(const char *text, raft_conf *conf, kassa_err *err)
{
    memset(conf, 0, sizeof *conf);
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (conf->n >= RAFT_MEMBERS_MAX || len == 0 || len >= RAFT_ID_SIZE)
            return kassa_fail(err, KASSA_ECORRUPT, "raft snapshot: bad configuration");
        memcpy(conf->ids[conf->n], p, len);
        conf->ids[conf->n][len] = 0;
        if (!kassa_valid_id(conf->ids[conf->n], KASSA_ID_MAX))
            return kassa_fail(err, KASSA_ECORRUPT, "raft snapshot: bad member id");
        conf->n++;
        p += len;
        if (*p == ',' && *++p == 0)
            return kassa_fail(err, KASSA_ECORRUPT, "raft snapshot: bad configuration");
    }
    return KASSA_OK;
}

static int snapshot_save(term *t, const raft_snapshot_meta *meta, const uint8_t *data, size_t len,
                         kassa_err *err)
{
    term_raft_snapshot snap = {.index = meta->index, .term = meta->term, .data = data, .len = len};
    int rc = conf_format(&meta->conf, snap.conf, sizeof snap.conf, err);
    return rc == KASSA_OK ? term_raft_snapshot_save(t, &snap, err) : rc;
}

int raftstore_compact(term *t, raft *r, uint64_t upto_index, const uint8_t *data, size_t len,
                      kassa_err *err)
{
    raft_snapshot_meta meta;
    int rc = raft_compact(r, upto_index, data, len, &meta, err);
    if (rc != KASSA_OK)
        return rc;
    return snapshot_save(t, &meta, data, len, err);
}

int raftstore_persist(term *t, const raft_ready *rd, raftstore_scratch *scratch, kassa_err *err)
{
    if (rd->has_snapshot &&
        snapshot_save(t, &rd->snapshot, rd->snapshot_data, rd->snapshot_len, err) != KASSA_OK)
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
