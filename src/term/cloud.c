/* cloud.c: the cloud's acknowledged version vector and the downlink
 * cursor, as the store's Raft group committed them (docs/CLOUD.md). */
#include "term/term_internal.h"

#include <string.h>

typedef struct ack_ctx {
    const oplog_vv *vv;
} ack_ctx;

static int ack_tx(term *t, void *ctx, kassa_err *err)
{
    static const char SQL[] = "INSERT INTO cloud_acked(origin, seq) VALUES(?1, ?2) "
                              "ON CONFLICT(origin) DO UPDATE SET seq = max(seq, excluded.seq)";
    const oplog_vv *vv = ((ack_ctx *)ctx)->vv;
    for (size_t i = 0; i < vv->n; i++) {
        sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
        if (!st)
            return err->code;
        sqlite3_bind_text(st, 1, vv->e[i].origin, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (int64_t)vv->e[i].seq);
        int rc = store_step_done(&t->st, st, "cloud ack", err);
        if (rc != KASSA_OK)
            return rc;
    }
    return KASSA_OK;
}

int term_cloud_ack_merge(term *t, const oplog_vv *vv, kassa_err *err)
{
    ack_ctx c = {vv};
    return term_in_tx(t, ack_tx, &c, err);
}

int term_vv_query(term *t, const char *sql, oplog_vv *out, const char *what, kassa_err *err)
{
    sqlite3_stmt *st = store_stmt(&t->st, sql, err);
    if (!st)
        return err->code;
    int rc, set = KASSA_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && set == KASSA_OK)
        set = oplog_vv_set(out, (const char *)sqlite3_column_text(st, 0),
                           (uint64_t)sqlite3_column_int64(st, 1), err);
    sqlite3_reset(st);
    if (set != KASSA_OK)
        return set;
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&t->st, rc, what, err);
}

int term_cloud_acked(term *t, oplog_vv *out, kassa_err *err)
{
    static const char SQL[] = "SELECT origin, seq FROM cloud_acked ORDER BY origin";
    return term_vv_query(t, SQL, out, "cloud ack", err);
}

int term_cloud_pending(term *t, uint64_t *ops, kassa_err *err)
{
    static const char SQL[] =
        "SELECT coalesce(sum(max(o.head_seq - coalesce(a.seq, 0), 0)), 0) FROM origins o "
        "LEFT JOIN cloud_acked a ON a.origin = o.name";
    size_t n;
    int rc = term_count(t, SQL, &n, err);
    if (rc == KASSA_OK)
        *ops = n;
    return rc;
}

typedef struct cursor_ctx {
    uint64_t cursor;
} cursor_ctx;

static int cursor_tx(term *t, void *ctx, kassa_err *err)
{
    static const char SQL[] = "INSERT INTO cloud_state(key, value) VALUES('cursor', ?1) "
                              "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, (int64_t)((cursor_ctx *)ctx)->cursor);
    return store_step_done(&t->st, st, "cloud cursor", err);
}

int term_cloud_cursor_merge(term *t, uint64_t cursor, kassa_err *err)
{
    if (cursor > (uint64_t)INT64_MAX)
        return kassa_fail(err, KASSA_EINVAL, "cursor out of range");
    cursor_ctx c = {cursor};
    return term_in_tx(t, cursor_tx, &c, err);
}

int term_cloud_cursor(term *t, uint64_t *cursor, kassa_err *err)
{
    static const char SQL[] =
        "SELECT coalesce(max(value), 0) FROM cloud_state WHERE key = 'cursor'";
    size_t n;
    int rc = term_count(t, SQL, &n, err);
    if (rc == KASSA_OK)
        *cursor = n;
    return rc;
}
