/*
 * sync.c: exchanging operations between replicas by export file: version
 * vectors, export, and the idempotent, ordered import with its pending
 * queue for operations that arrive early.
 */
#include "term/term_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int term_vv(term *t, oplog_vv *vv, kassa_err *err)
{
    static const char SQL[] = "SELECT name, head_seq FROM origins WHERE head_seq > 0 "
                              "ORDER BY name";
    oplog_vv_init(vv);
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int vrc = oplog_vv_set(vv, (const char *)sqlite3_column_text(st, 0),
                               (uint64_t)sqlite3_column_int64(st, 1), err);
        if (vrc != KASSA_OK) {
            sqlite3_reset(st);
            oplog_vv_free(vv);
            return vrc;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        oplog_vv_free(vv);
        return store_error(&t->st, rc, "version vector", err);
    }
    return KASSA_OK;
}

/* Fills an op from a row (origin name, seq, hlc, kind, payload, hash). The
 * payload points into the statement's row: valid until the next step. */
static int op_from_row(sqlite3_stmt *st, oplog_op *op, kassa_err *err)
{
    memset(op, 0, sizeof *op);
    snprintf(op->origin, sizeof op->origin, "%s", (const char *)sqlite3_column_text(st, 0));
    op->seq = (uint64_t)sqlite3_column_int64(st, 1);
    op->hlc = (hlc_ts)sqlite3_column_int64(st, 2);
    op->kind = (uint8_t)sqlite3_column_int(st, 3);
    op->payload = sqlite3_column_blob(st, 4);
    op->payload_len = (size_t)sqlite3_column_bytes(st, 4);
    if (sqlite3_column_bytes(st, 5) != OPLOG_HASH_SIZE)
        return kassa_fail(err, KASSA_ECORRUPT, "operation %s/%llu: bad hash", op->origin,
                          (unsigned long long)op->seq);
    memcpy(op->hash, sqlite3_column_blob(st, 5), OPLOG_HASH_SIZE);
    return KASSA_OK;
}

int term_export(term *t, const oplog_vv *since, kbuf *out, kassa_err *err)
{
    static const char SQL[] =
        "SELECT o.name, p.seq, p.hlc, p.kind, p.payload, p.hash FROM ops p "
        "JOIN origins o ON o.id = p.origin WHERE p.origin = ?1 AND p.seq > ?2 ORDER BY p.seq";
    oplog_vv held;
    int rc = term_vv(t, &held, err);
    if (rc != KASSA_OK)
        return rc;
    oplog_file_writer w;
    oplog_file_begin(&w, t->store_id);
    for (size_t i = 0; rc == KASSA_OK && i < held.n; i++) {
        int64_t origin_id;
        if ((rc = term_origin_id(t, held.e[i].origin, false, &origin_id, err)) != KASSA_OK)
            break;
        sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
        if (!st) {
            rc = err->code;
            break;
        }
        sqlite3_bind_int64(st, 1, origin_id);
        sqlite3_bind_int64(st, 2, since ? (int64_t)oplog_vv_get(since, held.e[i].origin) : 0);
        int src;
        while (rc == KASSA_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
            oplog_op op;
            if ((rc = op_from_row(st, &op, err)) == KASSA_OK)
                oplog_file_add(&w, &op);
        }
        sqlite3_reset(st);
        if (rc == KASSA_OK && src != SQLITE_DONE)
            rc = store_error(&t->st, src, "export", err);
    }
    oplog_vv_free(&held);
    if (rc == KASSA_OK)
        rc = oplog_file_finish(&w, err);
    if (rc == KASSA_OK)
        kbuf_put(out, w.buf.data, w.buf.len);
    oplog_file_writer_free(&w);
    if (rc == KASSA_OK && out->oom)
        rc = kassa_fail(err, KASSA_ENOMEM, "out of memory");
    return rc;
}

/* ---- import ---- */

typedef struct import_ctx {
    const oplog_op *ops;
    size_t n_ops;
    term_import_report *rep;
    hlc_ts max_remote_hlc;
} import_ctx;

static int pending_put(term *t, const oplog_op *op, kassa_err *err)
{
    static const char SQL[] = "INSERT OR IGNORE INTO pending(origin, seq, hlc, kind, payload, "
                              "hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, op->origin, -1, SQLITE_STATIC);
    term_bind_op(st, op);
    return store_step_done(&t->st, st, "pending", err);
}

/* An operation we already hold must be byte for byte the one we hold: a
 * different operation under the same (origin, seq) is a forked or forged
 * history. Every field is compared, not just the hash the sender claims. */
static int check_duplicate(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err)
{
    static const char SQL[] =
        "SELECT hlc, kind, payload, hash FROM ops WHERE origin = ?1 AND seq = ?2";
    int rc = term_cache_flush_rows(t, err); /* the one held may not be inserted yet */
    if (rc != KASSA_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, origin_id);
    sqlite3_bind_int64(st, 2, (int64_t)op->seq);
    rc = sqlite3_step(st);
    bool same = rc == SQLITE_ROW && (hlc_ts)sqlite3_column_int64(st, 0) == op->hlc &&
                sqlite3_column_int(st, 1) == op->kind &&
                (size_t)sqlite3_column_bytes(st, 2) == op->payload_len &&
                (op->payload_len == 0 ||
                 memcmp(sqlite3_column_blob(st, 2), op->payload, op->payload_len) == 0) &&
                sqlite3_column_bytes(st, 3) == OPLOG_HASH_SIZE &&
                memcmp(sqlite3_column_blob(st, 3), op->hash, OPLOG_HASH_SIZE) == 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_error(&t->st, rc, "import", err);
    if (rc == SQLITE_DONE) {
        /* Compacted: its bytes are gone, so it cannot be compared; it is
         * below the base, so it is one we held. */
        uint64_t base_seq;
        if ((rc = term_origin_base(t, op->origin, &base_seq, err)) != KASSA_OK)
            return rc;
        same = op->seq <= base_seq;
    }
    if (!same)
        return kassa_fail(err, KASSA_ECONFLICT,
                          "operation %s/%llu differs from the one already held: the origin's "
                          "history was altered",
                          op->origin, (unsigned long long)op->seq);
    return KASSA_OK;
}

/* Tries to apply op now. *applied is false when it must wait (gap or
 * dependency); a hash that does not continue the chain is an error. */
static int try_apply(term *t, import_ctx *c, const oplog_op *op, bool *applied, bool *duplicate,
                     kassa_err *err)
{
    *applied = *duplicate = false;
    int64_t origin_id;
    int rc = term_origin_id(t, op->origin, true, &origin_id, err);
    if (rc != KASSA_OK)
        return rc;
    term_head head;
    if ((rc = term_origin_head(t, origin_id, &head, err)) != KASSA_OK)
        return rc;
    if (op->seq <= head.seq) {
        *duplicate = true;
        return check_duplicate(t, origin_id, op, err);
    }
    if (op->seq > head.seq + 1)
        return KASSA_OK;
    bool met;
    if ((rc = term_deps_met(t, op, &met, err)) != KASSA_OK || !met)
        return rc;
    /* Here op is its origin's next (seq = head + 1). A batch op the wire
     * decoder chained to the previous op of its batch is already checked
     * against that op's hash, which is head's: the previous op was applied
     * just now, or was held already and found identical, hash included. */
    if (!op->chained && !oplog_hash_ok(t->store_id, head.hash, op))
        return kassa_fail(err, KASSA_ECORRUPT,
                          "operation %s/%llu does not continue its origin's hash chain", op->origin,
                          (unsigned long long)op->seq);
    if ((rc = term_store_and_apply(t, origin_id, op, err)) != KASSA_OK)
        return rc;
    if (op->hlc > c->max_remote_hlc)
        c->max_remote_hlc = op->hlc;
    *applied = true;
    return KASSA_OK;
}

static int pending_delete(term *t, const char *origin, uint64_t from_seq, uint64_t to_seq,
                          kassa_err *err)
{
    static const char SQL[] = "DELETE FROM pending WHERE origin = ?1 AND seq BETWEEN ?2 AND ?3";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)from_seq);
    sqlite3_bind_int64(st, 3, (int64_t)to_seq);
    return store_step_done(&t->st, st, "pending", err);
}

/* Applies pending operations that have become applicable, until none is.
 * Each pass applies at least one operation or stops, so the passes are
 * bounded by the size of the queue. */
static int drain_pending(term *t, import_ctx *c, kassa_err *err)
{
    static const char READY[] =
        "SELECT p.origin, p.seq, p.hlc, p.kind, p.payload, p.hash FROM pending p "
        "JOIN origins o ON o.name = p.origin WHERE p.seq = o.head_seq + 1 ORDER BY p.origin";
    static const char STALE[] = "DELETE FROM pending WHERE seq <= (SELECT head_seq FROM "
                                "origins o WHERE o.name = pending.origin)";
    /* Both statements read the chain heads: the cache's must be written. */
    int rc = term_cache_flush_heads(t, err);
    if (rc == KASSA_OK)
        rc = store_exec(&t->st, STALE, err) == KASSA_OK ? KASSA_OK : err->code;
    for (bool progress = true; rc == KASSA_OK && progress;) {
        progress = false;
        if ((rc = term_cache_flush_heads(t, err)) != KASSA_OK)
            break;
        sqlite3_stmt *st = store_stmt(&t->st, READY, err);
        if (!st)
            return err->code;
        /* Collect first: applying writes the tables the cursor reads. */
        kbuf ready;
        kbuf_init(&ready);
        size_t n = 0;
        int src;
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            oplog_op op;
            if ((rc = op_from_row(st, &op, err)) != KASSA_OK)
                break;
            kbuf_put(&ready, &op, sizeof op);
            kbuf_put_bytes(&ready, op.payload, op.payload_len);
            n++;
        }
        sqlite3_reset(st);
        if (rc == KASSA_OK && src != SQLITE_DONE)
            rc = store_error(&t->st, src, "pending", err);
        if (rc == KASSA_OK && ready.oom)
            rc = kassa_fail(err, KASSA_ENOMEM, "out of memory");
        kreader r;
        kreader_init(&r, ready.data, ready.len);
        for (size_t i = 0; rc == KASSA_OK && i < n; i++) {
            const uint8_t *raw;
            oplog_op op;
            kreader_raw(&r, sizeof op, &raw);
            memcpy(&op, raw, sizeof op);
            kreader_bytes(&r, OPLOG_PAYLOAD_MAX, &op.payload, &op.payload_len);
            bool applied, dup;
            kassa_err aerr;
            int arc = try_apply(t, c, &op, &applied, &dup, &aerr);
            if (arc == KASSA_ECORRUPT) {
                /* A queued operation that does not continue the chain can
                 * never apply: drop it and what was queued after it. */
                c->rep->dropped++;
                rc = pending_delete(t, op.origin, op.seq, UINT64_MAX >> 1, err);
                continue;
            }
            if (arc != KASSA_OK) {
                rc = kassa_fail(err, arc, "%s", aerr.msg);
                break;
            }
            if (applied) {
                c->rep->applied++;
                progress = true;
                rc = pending_delete(t, op.origin, op.seq, op.seq, err);
            }
        }
        kbuf_free(&ready);
    }
    return rc;
}

static int import_ops(term *t, import_ctx *c, kassa_err *err)
{
    for (size_t i = 0; i < c->n_ops; i++) {
        const oplog_op *op = &c->ops[i];
        bool applied, dup;
        int rc = try_apply(t, c, op, &applied, &dup, err);
        if (rc != KASSA_OK)
            return rc;
        if (dup)
            c->rep->duplicates++;
        else if (applied)
            c->rep->applied++;
        else if ((rc = pending_put(t, op, err)) != KASSA_OK)
            return rc;
    }
    int rc = drain_pending(t, c, err);
    if (rc == KASSA_OK)
        rc = term_count(t, "SELECT count(*) FROM pending", &c->rep->pending, err);
    /* The queue is bounded: a file (or a series of them) that leaves more
     * operations waiting than that is refused whole. */
    if (rc == KASSA_OK && c->rep->pending > t->pending_max)
        rc = kassa_fail(err, KASSA_EOVERFLOW,
                        "%zu operations would wait for missing predecessors (limit %zu): import "
                        "the missing operations first",
                        c->rep->pending, t->pending_max);
    if (rc == KASSA_OK && c->max_remote_hlc) {
        /* Adopt the remote clocks, clamped to max_skew_ms ahead of ours. */
        if (hlc_observe(&t->clock, c->max_remote_hlc, t->now_ms(t->now_ctx), t->max_skew_ms))
            c->rep->skew_reports++;
        char text[32];
        snprintf(text, sizeof text, "%llu", (unsigned long long)t->clock.last);
        rc = term_meta_set(t, "hlc", text, err);
    }
    return rc;
}

/* The whole import runs with the import cache on (term_internal.h): it is
 * written out before the transaction commits, and dropped unwritten when
 * the import fails and the transaction rolls back. */
static int import_tx(term *t, void *ctx, kassa_err *err)
{
    int rc = term_cache_begin(t, err);
    if (rc != KASSA_OK)
        return rc;
    rc = import_ops(t, ctx, err);
    if (rc == KASSA_OK)
        rc = term_cache_flush(t, err);
    term_cache_end(t);
    return rc;
}

int term_import(term *t, const uint8_t *data, size_t len, term_import_report *rep, kassa_err *err)
{
    memset(rep, 0, sizeof *rep);
    oplog_file f;
    int rc = oplog_file_parse(data, len, &f, err);
    if (rc != KASSA_OK)
        return rc;
    rep->in_file = f.n_ops;
    if (strcmp(f.store_id, t->store_id) != 0) {
        kassa_fail(err, KASSA_ECONFLICT, "export file belongs to store \"%s\", this is \"%s\"",
                   f.store_id, t->store_id);
        oplog_file_free(&f);
        return KASSA_ECONFLICT;
    }
    rc = term_import_ops(t, f.ops, f.n_ops, rep, err);
    oplog_file_free(&f);
    return rc;
}

int term_import_ops(term *t, const oplog_op *ops, size_t n_ops, term_import_report *rep,
                    kassa_err *err)
{
    memset(rep, 0, sizeof *rep);
    rep->in_file = n_ops;
    import_ctx c = {.ops = ops, .n_ops = n_ops, .rep = rep};
    int rc = term_in_tx(t, import_tx, &c, err);
    if (rc != KASSA_OK) {
        term_import_report zero = {.in_file = n_ops};
        *rep = zero;
    } else {
        t->skew_reports += rep->skew_reports;
    }
    return rc;
}

int term_ops_read(term *t, const char *origin, uint64_t after_seq, size_t max_ops, size_t max_bytes,
                  oplog_op *ops, kbuf *payloads, size_t *n_ops, kassa_err *err)
{
    static const char SQL[] =
        "SELECT o.name, p.seq, p.hlc, p.kind, p.payload, p.hash FROM ops p "
        "JOIN origins o ON o.id = p.origin WHERE p.origin = ?1 AND p.seq > ?2 ORDER BY p.seq "
        "LIMIT ?3";
    *n_ops = 0;
    kbuf_reset(payloads);
    int64_t origin_id;
    int rc = term_origin_id(t, origin, false, &origin_id, err);
    if (rc == KASSA_ENOTFOUND)
        return KASSA_OK; /* nothing from that origin yet */
    if (rc != KASSA_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, origin_id);
    sqlite3_bind_int64(st, 2, (int64_t)(after_seq > INT64_MAX ? INT64_MAX : after_seq));
    sqlite3_bind_int64(st, 3, (int64_t)max_ops);
    /* Payloads are copied into one buffer that may move as it grows:
     * remember offsets, point at them once it is complete. */
    size_t n = 0;
    int src = SQLITE_DONE;
    while (n < max_ops && (src = sqlite3_step(st)) == SQLITE_ROW) {
        oplog_op op;
        if ((rc = op_from_row(st, &op, err)) != KASSA_OK)
            break;
        if (n > 0 && payloads->len + op.payload_len > max_bytes) {
            src = SQLITE_DONE;
            break;
        }
        op.payload = (const uint8_t *)(uintptr_t)payloads->len;
        kbuf_put(payloads, sqlite3_column_blob(st, 4), op.payload_len);
        ops[n++] = op;
    }
    sqlite3_reset(st);
    if (rc != KASSA_OK)
        return rc;
    if (n < max_ops && src != SQLITE_DONE)
        return store_error(&t->st, src, "read operations", err);
    if (payloads->oom)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        ops[i].payload = payloads->data + (uintptr_t)ops[i].payload;
    *n_ops = n;
    return KASSA_OK;
}
