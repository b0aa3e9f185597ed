/*
 * raft.c: the terminal's persisted Raft state (term.h, "the store's Raft
 * group"): the hard state in one row, the log in a table keyed by index.
 * Each save is one transaction with synchronous=FULL, so when it returns
 * the state is on disk and the messages that depend on it may leave.
 */
#include "term/term_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int term_raft_load(term *t, term_raft_hard *hs, term_raft_entry_cb cb, void *ctx, kassa_err *err)
{
    static const char STATE[] = "SELECT term, vote, commit_index FROM raft_state WHERE id = 1";
    static const char LOG[] = "SELECT idx, term, type, data FROM raft_log ORDER BY idx";
    memset(hs, 0, sizeof *hs);
    sqlite3_stmt *st = store_stmt(&t->st, STATE, err);
    if (!st)
        return err->code;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        hs->term = (uint64_t)sqlite3_column_int64(st, 0);
        snprintf(hs->vote, sizeof hs->vote, "%s", (const char *)sqlite3_column_text(st, 1));
        hs->commit = (uint64_t)sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_error(&t->st, rc, "raft state", err);
    if (hs->vote[0] && !kassa_valid_id(hs->vote, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_ECORRUPT, "raft state: invalid vote");
    if (!(st = store_stmt(&t->st, LOG, err)))
        return err->code;
    uint64_t expect = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        term_raft_entry e = {
            .index = (uint64_t)sqlite3_column_int64(st, 0),
            .term = (uint64_t)sqlite3_column_int64(st, 1),
            .type = (uint8_t)sqlite3_column_int(st, 2),
            .data = sqlite3_column_blob(st, 3),
            .len = (size_t)sqlite3_column_bytes(st, 3),
        };
        /* The log is consecutive from its first index: a hole is damage. */
        if ((expect && e.index != expect) || e.len > TERM_RAFT_DATA_MAX) {
            sqlite3_reset(st);
            return kassa_fail(err, KASSA_ECORRUPT, "raft log: bad entry at index %llu",
                              (unsigned long long)e.index);
        }
        expect = e.index + 1;
        int crc = cb ? cb(&e, ctx) : KASSA_OK;
        if (crc != KASSA_OK) {
            sqlite3_reset(st);
            return kassa_fail(err, crc, "raft log: entry %llu refused on load",
                              (unsigned long long)e.index);
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&t->st, rc, "raft log", err);
}

typedef struct save_ctx {
    const term_raft_hard *hs;
    const term_raft_entry *entries;
    size_t n;
} save_ctx;

static int save_tx(term *t, void *ctx, kassa_err *err)
{
    static const char STATE[] = "INSERT INTO raft_state(id, term, vote, commit_index) "
                                "VALUES(1, ?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET "
                                "term = excluded.term, vote = excluded.vote, "
                                "commit_index = excluded.commit_index";
    static const char CUT[] = "DELETE FROM raft_log WHERE idx >= ?1";
    static const char ADD[] = "INSERT INTO raft_log(idx, term, type, data) VALUES(?1, ?2, ?3, ?4)";
    save_ctx *c = ctx;
    int rc = KASSA_OK;
    sqlite3_stmt *st;
    if (c->hs) {
        if (!(st = store_stmt(&t->st, STATE, err)))
            return err->code;
        sqlite3_bind_int64(st, 1, (int64_t)c->hs->term);
        sqlite3_bind_text(st, 2, c->hs->vote, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)c->hs->commit);
        if ((rc = store_step_done(&t->st, st, "raft state", err)) != KASSA_OK)
            return rc;
    }
    if (c->n == 0)
        return KASSA_OK;
    if (!(st = store_stmt(&t->st, CUT, err)))
        return err->code;
    sqlite3_bind_int64(st, 1, (int64_t)c->entries[0].index);
    if ((rc = store_step_done(&t->st, st, "raft log", err)) != KASSA_OK)
        return rc;
    for (size_t i = 0; rc == KASSA_OK && i < c->n; i++) {
        const term_raft_entry *e = &c->entries[i];
        if (!(st = store_stmt(&t->st, ADD, err)))
            return err->code;
        sqlite3_bind_int64(st, 1, (int64_t)e->index);
        sqlite3_bind_int64(st, 2, (int64_t)e->term);
        sqlite3_bind_int(st, 3, e->type);
        sqlite3_bind_blob(st, 4, e->len ? (const void *)e->data : "", (int)e->len, SQLITE_STATIC);
        rc = store_step_done(&t->st, st, "raft log", err);
    }
    return rc;
}

int term_raft_save(term *t, const term_raft_hard *hs, const term_raft_entry *entries,
                   size_t n_entries, kassa_err *err)
{
    if (hs && hs->vote[0] && !kassa_valid_id(hs->vote, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "raft state: invalid vote");
    for (size_t i = 0; i < n_entries; i++) {
        if (entries[i].len > TERM_RAFT_DATA_MAX || entries[i].index == 0 ||
            entries[i].index > INT64_MAX || entries[i].term > INT64_MAX ||
            (i > 0 && entries[i].index != entries[i - 1].index + 1))
            return kassa_fail(err, KASSA_EINVAL, "raft log: bad entry %zu of %zu", i, n_entries);
    }
    if (hs && (hs->term > INT64_MAX || hs->commit > INT64_MAX))
        return kassa_fail(err, KASSA_EINVAL, "raft state: out of range");
    save_ctx c = {hs, entries, n_entries};
    return term_in_tx(t, save_tx, &c, err);
}

static int compact_tx(term *t, void *ctx, kassa_err *err)
{
    static const char SQL[] = "DELETE FROM raft_log WHERE idx <= ?1";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, (int64_t) * (const uint64_t *)ctx);
    return store_step_done(&t->st, st, "raft log", err);
}

int term_raft_compact(term *t, uint64_t index, kassa_err *err)
{
    if (index > INT64_MAX)
        return kassa_fail(err, KASSA_EINVAL, "raft log: index out of range");
    return term_in_tx(t, compact_tx, &index, err);
}

static int snapshot_tx(term *t, void *ctx, kassa_err *err)
{
    static const char SQL[] = "INSERT OR REPLACE INTO raft_snapshot(id, idx, term, conf, data) "
                              "VALUES(1, ?1, ?2, ?3, ?4)";
    const term_raft_snapshot *snap = ctx;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, (int64_t)snap->index);
    sqlite3_bind_int64(st, 2, (int64_t)snap->term);
    sqlite3_bind_text(st, 3, snap->conf, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, snap->len ? (const void *)snap->data : "", (int)snap->len,
                      SQLITE_STATIC);
    int rc = store_step_done(&t->st, st, "raft snapshot", err);
    uint64_t index = snap->index;
    return rc == KASSA_OK ? compact_tx(t, &index, err) : rc;
}

int term_raft_snapshot_save(term *t, const term_raft_snapshot *snap, kassa_err *err)
{
    if (snap->index == 0 || snap->index > INT64_MAX || snap->term > INT64_MAX ||
        snap->len > TERM_RAFT_SNAPSHOT_MAX_BYTES || !memchr(snap->conf, 0, sizeof snap->conf))
        return kassa_fail(err, KASSA_EINVAL, "raft snapshot: out of range");
    return term_in_tx(t, snapshot_tx, (void *)snap, err);
}

int term_raft_snapshot_load(term *t, term_raft_snapshot *snap, kbuf *data, kassa_err *err)
{
    static const char SQL[] = "SELECT idx, term, conf, data FROM raft_snapshot WHERE id = 1";
    memset(snap, 0, sizeof *snap);
    kbuf_reset(data);
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snap->index = (uint64_t)sqlite3_column_int64(st, 0);
        snap->term = (uint64_t)sqlite3_column_int64(st, 1);
        size_t conf_len = (size_t)sqlite3_column_bytes(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 3);
        if (conf_len >= sizeof snap->conf || len > TERM_RAFT_SNAPSHOT_MAX_BYTES) {
            sqlite3_reset(st);
            return kassa_fail(err, KASSA_ECORRUPT, "raft snapshot: too large");
        }
        memcpy(snap->conf, sqlite3_column_text(st, 2), conf_len);
        snap->conf[conf_len] = 0;
        kbuf_put(data, sqlite3_column_blob(st, 3), len);
        snap->len = len;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_error(&t->st, rc, "raft snapshot", err);
    if (data->oom)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    snap->data = data->data;
    return KASSA_OK;
}

typedef struct starts_ctx {
    uint64_t now_ms;
    uint32_t count;
} starts_ctx;

static int note_start_tx(term *t, void *ctx, kassa_err *err)
{
    enum { DAY_MS = 24 * 3600 * 1000 };
    starts_ctx *c = ctx;
    char old[TERM_STARTS_KEPT * 21 + 1] = "";
    int rc = term_meta_get(t, "starts", old, sizeof old, err);
    if (rc != KASSA_OK && rc != KASSA_ENOTFOUND)
        return rc;
    /* Newest first: this start, then the kept ones of the last day. */
    char out[sizeof old];
    size_t n = (size_t)snprintf(out, sizeof out, "%llu", (unsigned long long)c->now_ms);
    c->count = 1;
    const char *p = old;
    while (*p && c->count < TERM_STARTS_KEPT) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p)
            break; /* damaged: keep what was read */
        if (v + DAY_MS > c->now_ms && v <= c->now_ms) {
            n += (size_t)snprintf(out + n, sizeof out - n, " %llu", v);
            c->count++;
        }
        p = end + strspn(end, " ");
    }
    return term_meta_set(t, "starts", out, err);
}

int term_note_start(term *t, uint64_t now_ms, uint32_t *starts_last_day, kassa_err *err)
{
    starts_ctx c = {.now_ms = now_ms};
    int rc = term_in_tx(t, note_start_tx, &c, err);
    if (rc == KASSA_OK)
        *starts_last_day = c.count;
    return rc;
}
