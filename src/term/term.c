/*
 * term.c: opening a terminal, its clock, transactions and the append path
 * every local operation takes.
 */
#include "term/term_internal.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t wall_clock(void *ctx)
{
    (void)ctx;
    return hlc_wall_ms();
}

static int db_path(const char *dir, char *out, size_t size, kassa_err *err)
{
    if ((size_t)snprintf(out, size, "%s/%s", dir, TERM_DB_FILE) >= size)
        return kassa_fail(err, KASSA_EINVAL, "data directory path too long");
    return KASSA_OK;
}

int term_meta_set(term *t, const char *key, const char *value, kassa_err *err)
{
    static const char SQL[] = "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                              "ON CONFLICT(key) DO UPDATE SET value = excluded.value";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return store_step_done(&t->st, st, "meta", err);
}

int term_meta_get(term *t, const char *key, char *out, size_t size, kassa_err *err)
{
    static const char SQL[] = "SELECT value FROM meta WHERE key = ?1";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        return KASSA_OK;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return kassa_fail(err, KASSA_ENOTFOUND, "meta %s not set", key);
    return store_error(&t->st, rc, "meta", err);
}

int term_origin_id(term *t, const char *name, bool create, int64_t *id, kassa_err *err)
{
    if (term_cache_is_on(t))
        return term_cache_origin_id(t, name, create, id, err);
    return term_origin_id_db(t, name, create, id, err);
}

int term_origin_id_db(term *t, const char *name, bool create, int64_t *id, kassa_err *err)
{
    static const char SEL[] = "SELECT id FROM origins WHERE name = ?1";
    static const char INS[] = "INSERT INTO origins(name, head_hash) VALUES(?1, zeroblob(32))";
    sqlite3_stmt *st = store_stmt(&t->st, SEL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return KASSA_OK;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_error(&t->st, rc, "origin lookup", err);
    if (!create)
        return kassa_fail(err, KASSA_ENOTFOUND, "unknown node \"%s\"", name);
    if (!kassa_valid_id(name, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "invalid node id \"%s\"", name);
    st = store_stmt(&t->st, INS, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if ((rc = store_step_done(&t->st, st, "origin insert", err)) != KASSA_OK)
        return rc;
    *id = sqlite3_last_insert_rowid(t->st.db);
    return KASSA_OK;
}

int term_origin_head(term *t, int64_t origin_id, term_head *head, kassa_err *err)
{
    if (term_cache_is_on(t))
        return term_cache_origin_head(t, origin_id, head, err);
    return term_origin_head_db(t, origin_id, head, err);
}

int term_origin_head_db(term *t, int64_t origin_id, term_head *head, kassa_err *err)
{
    static const char SQL[] = "SELECT head_seq, head_hash, head_hlc FROM origins WHERE id = ?1";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, origin_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            return kassa_fail(err, KASSA_ENOTFOUND, "unknown origin id %lld", (long long)origin_id);
        return store_error(&t->st, rc, "origin head", err);
    }
    head->seq = (uint64_t)sqlite3_column_int64(st, 0);
    if (sqlite3_column_bytes(st, 1) != OPLOG_HASH_SIZE) {
        sqlite3_reset(st);
        return kassa_fail(err, KASSA_ECORRUPT, "origin %lld: bad head hash", (long long)origin_id);
    }
    memcpy(head->hash, sqlite3_column_blob(st, 1), OPLOG_HASH_SIZE);
    head->hlc = (hlc_ts)sqlite3_column_int64(st, 2);
    sqlite3_reset(st);
    return KASSA_OK;
}

void term_bind_op(sqlite3_stmt *st, const oplog_op *op)
{
    sqlite3_bind_int64(st, 2, (int64_t)op->seq);
    sqlite3_bind_int64(st, 3, (int64_t)op->hlc);
    sqlite3_bind_int(st, 4, op->kind);
    /* A zero-length blob must still be a blob, not NULL. */
    sqlite3_bind_blob(st, 5, op->payload_len ? (const void *)op->payload : "", (int)op->payload_len,
                      SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, op->hash, OPLOG_HASH_SIZE, SQLITE_STATIC);
}

int term_origin_head_write(term *t, int64_t origin_id, uint64_t seq,
                           const uint8_t hash[OPLOG_HASH_SIZE], hlc_ts hlc, kassa_err *err)
{
    static const char HEAD[] = "UPDATE origins SET head_seq = ?2, head_hash = ?3, head_hlc = "
                               "max(head_hlc, ?4) WHERE id = ?1";
    sqlite3_stmt *st = store_stmt(&t->st, HEAD, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, origin_id);
    sqlite3_bind_int64(st, 2, (int64_t)seq);
    sqlite3_bind_blob(st, 3, hash, OPLOG_HASH_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)hlc);
    return store_step_done(&t->st, st, "advance head", err);
}

int term_op_insert(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err)
{
    static const char INS[] = "INSERT INTO ops(origin, seq, hlc, kind, payload, hash) "
                              "VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
    sqlite3_stmt *st = store_stmt(&t->st, INS, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, origin_id);
    term_bind_op(st, op);
    return store_step_done(&t->st, st, "append operation", err);
}

int term_store_and_apply(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err)
{
    int rc;
    if (term_cache_is_on(t)) {
        if ((rc = term_cache_op_insert(t, origin_id, op, err)) != KASSA_OK ||
            (rc = term_cache_advance(t, origin_id, op, err)) != KASSA_OK)
            return rc;
    } else if ((rc = term_op_insert(t, origin_id, op, err)) != KASSA_OK ||
               (rc = term_origin_head_write(t, origin_id, op->seq, op->hash, op->hlc, err)) !=
                   KASSA_OK) {
        return rc;
    }
    return term_apply(t, origin_id, op, err);
}

int term_append_local(term *t, int kind, const kbuf *payload, oplog_op *out, kassa_err *err)
{
    if (payload->oom)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory encoding operation");
    if (payload->len > OPLOG_PAYLOAD_MAX)
        return kassa_fail(err, KASSA_EOVERFLOW, "operation too large (%zu bytes)", payload->len);
    term_head head;
    int rc = term_origin_head(t, t->node_origin, &head, err);
    if (rc != KASSA_OK)
        return rc;
    /* Another process may have appended since we last looked: the clock
     * must stay ahead of our own log whatever happened. */
    if (head.hlc > t->clock.last)
        t->clock.last = head.hlc;
    oplog_op op;
    memset(&op, 0, sizeof op);
    snprintf(op.origin, sizeof op.origin, "%s", t->node_id);
    op.seq = head.seq + 1;
    op.hlc = hlc_now(&t->clock, t->now_ms(t->now_ctx));
    op.kind = (uint8_t)kind;
    op.payload = payload->data;
    op.payload_len = payload->len;
    oplog_hash(t->store_id, head.hash, &op, op.hash);
    if ((rc = term_store_and_apply(t, t->node_origin, &op, err)) != KASSA_OK)
        return rc;
    t->local_appended = true;
    if (out)
        *out = op;
    return KASSA_OK;
}

int term_in_tx(term *t, term_tx_fn fn, void *ctx, kassa_err *err)
{
    /* The actor's ids go into operations: refuse a bad one up front with a
     * clear error rather than an undecodable payload. */
    if ((t->actor.cashier[0] && !kassa_valid_id(t->actor.cashier, KASSA_ID_MAX)) ||
        (t->actor.supervisor[0] && !kassa_valid_id(t->actor.supervisor, KASSA_ID_MAX)))
        return kassa_fail(err, KASSA_EINVAL, "invalid cashier or supervisor id");
    hlc_clock saved = t->clock;
    int rc = store_begin(&t->st, err);
    if (rc != KASSA_OK)
        return rc;
    rc = fn(t, ctx, err);
    if (rc == KASSA_OK)
        rc = store_commit(&t->st, err);
    else
        store_rollback(&t->st);
    /* A rolled-back action leaves no trace, not even on the clock. */
    if (rc != KASSA_OK)
        t->clock = saved;
    term_after_tx(t, rc);
    return rc;
}

void term_after_tx(term *t, int rc)
{
    if (t->st.tx_depth != 0)
        return; /* a savepoint: the outer transaction decides */
    bool appended = t->local_appended && rc == KASSA_OK;
    t->local_appended = false;
    if (appended && t->on_local_commit)
        t->on_local_commit(t->on_local_commit_ctx);
}

int term_batch_begin(term *t, kassa_err *err)
{
    if (t->st.tx_depth != 0)
        return kassa_fail(err, KASSA_EINVAL, "a batch is already open");
    return store_begin(&t->st, err);
}

int term_batch_commit(term *t, kassa_err *err)
{
    if (t->st.tx_depth != 1)
        return kassa_fail(err, KASSA_EINVAL, "no batch is open");
    int rc = store_commit(&t->st, err);
    term_after_tx(t, rc);
    return rc;
}

void term_batch_rollback(term *t)
{
    store_rollback(&t->st);
    term_after_tx(t, KASSA_EIO);
}

/* ---- init / open ---- */

static int init_tx(term *t, void *ctx, kassa_err *err)
{
    const char *const *ids = ctx;
    int rc;
    if ((rc = term_meta_set(t, "store_id", ids[0], err)) != KASSA_OK ||
        (rc = term_meta_set(t, "node_id", ids[1], err)) != KASSA_OK)
        return rc;
    int64_t id;
    return term_origin_id(t, ids[1], true, &id, err);
}

int term_init(const char *dir, const char *store_id, const char *node_id, kassa_err *err)
{
    if (!kassa_valid_id(store_id, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL,
                          "invalid store id \"%s\": use 1-%d of A-Z a-z 0-9 . _ -", store_id,
                          KASSA_ID_MAX);
    if (!kassa_valid_id(node_id, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL,
                          "invalid node id \"%s\": use 1-%d of A-Z a-z 0-9 . _ -", node_id,
                          KASSA_ID_MAX);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return kassa_fail(err, KASSA_EIO, "cannot create %s: %s", dir, strerror(errno));
    char path[4200];
    int rc = db_path(dir, path, sizeof path, err);
    if (rc != KASSA_OK)
        return rc;
    if (access(path, F_OK) == 0)
        return kassa_fail(err, KASSA_ECONFLICT, "%s is already initialised", dir);
    if (sodium_init() < 0)
        return kassa_fail(err, KASSA_EIO, "libsodium failed to initialise");
    term *t = calloc(1, sizeof *t);
    if (!t)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    if ((rc = store_open(&t->st, path, err)) != KASSA_OK) {
        free(t);
        return rc;
    }
    const char *ids[2] = {store_id, node_id};
    rc = term_in_tx(t, init_tx, ids, err);
    store_close(&t->st);
    free(t);
    if (rc != KASSA_OK)
        unlink(path);
    return rc;
}

int term_open(const char *dir, term **out, kassa_err *err)
{
    char path[4200];
    int rc = db_path(dir, path, sizeof path, err);
    if (rc != KASSA_OK)
        return rc;
    if (access(path, F_OK) != 0)
        return kassa_fail(err, KASSA_ENOTFOUND,
                          "%s holds no kassa database: run `kassa init --data %s --store ID "
                          "--node ID` first",
                          dir, dir);
    if (sodium_init() < 0)
        return kassa_fail(err, KASSA_EIO, "libsodium failed to initialise");
    term *t = calloc(1, sizeof *t);
    if (!t)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    kbuf_init(&t->scratch);
    t->work = calloc(1, sizeof *t->work);
    if (!t->work) {
        free(t);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    }
    t->now_ms = wall_clock;
    t->max_skew_ms = HLC_DEFAULT_MAX_SKEW_MS;
    t->pending_max = TERM_PENDING_MAX;
    t->max_pin_failures = TERM_DEFAULT_MAX_PIN_FAILURES;
    t->pin_lockout_ms = TERM_DEFAULT_PIN_LOCKOUT_MS;
    if ((rc = store_open(&t->st, path, err)) != KASSA_OK) {
        term_close(t);
        return rc;
    }
    char hlc_text[32] = "0";
    if ((rc = term_meta_get(t, "store_id", t->store_id, sizeof t->store_id, err)) != KASSA_OK ||
        (rc = term_meta_get(t, "node_id", t->node_id, sizeof t->node_id, err)) != KASSA_OK ||
        (rc = term_origin_id(t, t->node_id, false, &t->node_origin, err)) != KASSA_OK) {
        term_close(t);
        return rc;
    }
    /* The clock resumes from the highest timestamp this node issued or
     * adopted, so it never runs backwards across restarts. */
    term_head head;
    if ((rc = term_origin_head(t, t->node_origin, &head, err)) != KASSA_OK) {
        term_close(t);
        return rc;
    }
    if (term_meta_get(t, "hlc", hlc_text, sizeof hlc_text, NULL) != KASSA_OK)
        snprintf(hlc_text, sizeof hlc_text, "0");
    hlc_ts adopted = (hlc_ts)strtoull(hlc_text, NULL, 10);
    t->clock.last = head.hlc > adopted ? head.hlc : adopted;
    *out = t;
    return KASSA_OK;
}

void term_close(term *t)
{
    if (!t)
        return;
    store_close(&t->st);
    kbuf_free(&t->scratch);
    term_cache_free(t);
    free(t->work);
    free(t);
}

void term_set_clock(term *t, term_clock_fn fn, void *ctx)
{
    t->now_ms = fn ? fn : wall_clock;
    t->now_ctx = ctx;
}

int term_deps_met(term *t, const oplog_op *op, bool *met, kassa_err *err)
{
    *met = true;
    oplog_sale_ref sale;
    int has_ref = oplog_payload_sale_ref(op->kind, op->payload, op->payload_len, &sale);
    if (has_ref == 0)
        return KASSA_OK;
    if (has_ref < 0)
        return kassa_fail(err, KASSA_ECORRUPT, "operation %s/%llu: malformed sale reference",
                          op->origin, (unsigned long long)op->seq);
    int64_t origin_id;
    int rc = term_origin_id(t, sale.origin, false, &origin_id, err);
    if (rc == KASSA_ENOTFOUND) {
        *met = false;
        kassa_err_clear(err);
        return KASSA_OK;
    }
    if (rc != KASSA_OK)
        return rc;
    term_head head;
    if ((rc = term_origin_head(t, origin_id, &head, err)) != KASSA_OK)
        return rc;
    *met = head.seq >= sale.seq;
    return KASSA_OK;
}

int term_load_sale(term *t, const oplog_sale_ref *ref, int64_t *origin_id, oplog_sale *sale,
                   kassa_err *err)
{
    static const char SQL[] = "SELECT kind, payload FROM ops WHERE origin = ?1 AND seq = ?2";
    char id[KASSA_ID_MAX + 24];
    oplog_sale_id(ref, id, sizeof id);
    /* During an import the sale may still be a held-back row. */
    int rc = term_cache_flush_rows(t, err);
    if (rc != KASSA_OK)
        return rc;
    rc = term_origin_id(t, ref->origin, false, origin_id, NULL);
    if (rc == KASSA_ENOTFOUND)
        return kassa_fail(err, KASSA_ENOTFOUND, "unknown sale %s", id);
    if (rc != KASSA_OK)
        return kassa_fail(err, rc, "sale %s: lookup failed", id);
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, *origin_id);
    sqlite3_bind_int64(st, 2, (int64_t)ref->seq);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        uint64_t base_seq = 0;
        if (rc == SQLITE_DONE && term_origin_base(t, ref->origin, &base_seq, NULL) == KASSA_OK &&
            ref->seq <= base_seq)
            return kassa_fail(err, KASSA_ECONFLICT,
                              "sale %s is older than the retention period and no longer held "
                              "here: refund it through head office",
                              id);
        if (rc == SQLITE_DONE)
            return kassa_fail(err, KASSA_ENOTFOUND, "unknown sale %s", id);
        return store_error(&t->st, rc, "load sale", err);
    }
    if (sqlite3_column_int(st, 0) != OP_SALE) {
        sqlite3_reset(st);
        return kassa_fail(err, KASSA_ENOTFOUND, "%s is not a sale", id);
    }
    rc = oplog_decode_sale(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), sale,
                           err);
    sqlite3_reset(st);
    return rc;
}

int term_count(term *t, const char *sql, size_t *n, kassa_err *err)
{
    sqlite3_stmt *st = store_stmt(&t->st, sql, err);
    if (!st)
        return err->code;
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? KASSA_OK : store_error(&t->st, rc, "count", err);
}
