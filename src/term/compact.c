/*
 * compact.c: local compaction (term.h, "local compaction"; docs/CLOUD.md).
 *
 * Dropping an origin's operations up to a horizon h moves its base to h:
 * the chain of what is left starts from the hash of operation h. The rows
 * that exist only for the dropped operations go in the same transaction:
 * the sales (and their returns), their settled card payments, the audit
 * and drawer entries. Counters (stock, drawer), the catalog, settings and
 * cashiers are state, not history: they stay as they are.
 */
#include "term/term_internal.h"

#include <string.h>

/* A card payment still needs its row while it is on the review list or an
 * offline payment waits for the processor's decision. */
#define SETTLED                                                                                    \
    "NOT (" TERM_SQL_REVIEW_OUTCOMES " AND resolved_hlc = 0) AND NOT (mode = 2 AND outcome = 0)"

int term_origin_base(term *t, const char *origin, uint64_t *base_seq, kassa_err *err)
{
    static const char SQL[] = "SELECT base_seq FROM origins WHERE name = ?1";
    *base_seq = 0;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *base_seq = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? KASSA_OK
                                                 : store_error(&t->st, rc, "origin base", err);
}

int term_compact_bases(term *t, oplog_vv *out, kassa_err *err)
{
    static const char SQL[] = "SELECT name, base_seq FROM origins WHERE base_seq > 0 ORDER BY name";
    return term_vv_query(t, SQL, out, "origin bases", err);
}

int term_compact_horizon(term *t, const oplog_vv *limit, int64_t cutoff_ms, oplog_vv *out,
                         kassa_err *err)
{
    /* Each origin's timestamps grow with its seq, so the operations older
     * than the cutoff are a prefix: the largest such seq ends it. */
    static const char SQL[] =
        "SELECT o.base_seq, (SELECT max(p.seq) FROM ops p WHERE p.origin = o.id AND p.seq > "
        "o.base_seq AND p.seq <= min(?2, o.head_seq) AND p.hlc < ?3) FROM origins o WHERE o.name = "
        "?1";
    if (cutoff_ms <= 0)
        return KASSA_OK;
    hlc_ts cutoff = (hlc_ts)cutoff_ms << HLC_LOGICAL_BITS;
    for (size_t i = 0; i < limit->n; i++) {
        sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
        if (!st)
            return err->code;
        sqlite3_bind_text(st, 1, limit->e[i].origin, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (int64_t)limit->e[i].seq);
        sqlite3_bind_int64(st, 3, (int64_t)cutoff);
        int rc = sqlite3_step(st);
        uint64_t last = 0;
        if (rc == SQLITE_ROW && sqlite3_column_type(st, 1) != SQLITE_NULL)
            last = (uint64_t)sqlite3_column_int64(st, 1);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return store_error(&t->st, rc, "compaction horizon", err);
        if (last > 0 && (rc = oplog_vv_set(out, limit->e[i].origin, last, err)) != KASSA_OK)
            return rc;
    }
    return KASSA_OK;
}

/* Runs one statement dropping an origin's rows up to seq (?2) and adds the
 * rows it changed to *changed (optional). */
static int drop_rows(term *t, const char *sql, int64_t origin_id, uint64_t seq, const char *name,
                     size_t *changed, kassa_err *err)
{
    sqlite3_stmt *st = store_stmt(&t->st, sql, err);
    if (!st)
        return err->code;
    /* Each statement names the origin by id (?1) or by name (?3). */
    sqlite3_bind_int64(st, 2, (int64_t)seq);
    if (sqlite3_bind_parameter_count(st) >= 3)
        sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, origin_id);
    int rc = store_step_done(&t->st, st, "compaction", err);
    if (rc == KASSA_OK && changed)
        *changed += (size_t)sqlite3_changes(t->st.db);
    return rc;
}

typedef struct compact_ctx {
    const oplog_vv *horizon;
    term_compact_report *rep;
} compact_ctx;

static int compact_origin(term *t, const char *name, uint64_t want, term_compact_report *rep,
                          kassa_err *err)
{
    static const char BASE[] = "SELECT base_seq FROM origins WHERE id = ?1";
    static const char HASH[] = "SELECT hash FROM ops WHERE origin = ?1 AND seq = ?2";
    static const char MOVE[] = "UPDATE origins SET base_seq = ?2, base_hash = ?3 WHERE id = ?1";
    /* The rows to drop with the operations. card_payments names the
     * origin by name (sale_origin is text). pay_local goes first: it finds
     * its rows through card_payments. */
    static const char *const PROJECTIONS[] = {
        "DELETE FROM sale_returns WHERE origin = ?1 AND seq <= ?2",
        "DELETE FROM audit WHERE origin = ?1 AND seq <= ?2",
        "DELETE FROM drawer_events WHERE origin = ?1 AND seq <= ?2",
        "DELETE FROM pay_local WHERE state = 7 AND id IN (SELECT id FROM card_payments WHERE "
        "sale_origin = ?3 AND sale_seq <= ?2 AND " SETTLED ")",
        "DELETE FROM card_payments WHERE sale_origin = ?3 AND sale_seq <= ?2 "
        "AND " SETTLED,
    };
    int64_t origin_id;
    int rc = term_origin_id(t, name, false, &origin_id, err);
    if (rc == KASSA_ENOTFOUND) {
        kassa_err_clear(err);
        return KASSA_OK; /* nothing held of it: nothing to drop */
    }
    term_head head;
    if (rc != KASSA_OK || (rc = term_origin_head(t, origin_id, &head, err)) != KASSA_OK)
        return rc;
    /* Never past what is held: a member that lacks some of the horizon's
     * operations drops what it has up to its head, the rest at the next. */
    uint64_t upto = want < head.seq ? want : head.seq;
    sqlite3_stmt *st = store_stmt(&t->st, BASE, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, origin_id);
    rc = sqlite3_step(st);
    uint64_t base = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_error(&t->st, rc, "compaction", err);
    if (upto <= base)
        return KASSA_OK;

    uint8_t hash[OPLOG_HASH_SIZE];
    if (!(st = store_stmt(&t->st, HASH, err)))
        return err->code;
    sqlite3_bind_int64(st, 1, origin_id);
    sqlite3_bind_int64(st, 2, (int64_t)upto);
    rc = sqlite3_step(st);
    bool ok = rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == OPLOG_HASH_SIZE;
    if (ok)
        memcpy(hash, sqlite3_column_blob(st, 0), OPLOG_HASH_SIZE);
    sqlite3_reset(st);
    if (!ok)
        return rc == SQLITE_ROW || rc == SQLITE_DONE
                   ? kassa_fail(err, KASSA_ECORRUPT, "compaction: operation %s/%llu missing", name,
                                (unsigned long long)upto)
                   : store_error(&t->st, rc, "compaction", err);

    rc = drop_rows(t, "DELETE FROM ops WHERE origin = ?1 AND seq <= ?2", origin_id, upto, name,
                   &rep->ops, err);
    if (rc == KASSA_OK)
        rc = drop_rows(t, "DELETE FROM sales WHERE origin = ?1 AND seq <= ?2", origin_id, upto,
                       name, &rep->sales, err);
    for (size_t i = 0; rc == KASSA_OK && i < KASSA_ARRAY_LEN(PROJECTIONS); i++)
        rc = drop_rows(t, PROJECTIONS[i], origin_id, upto, name, NULL, err);
    if (rc != KASSA_OK)
        return rc;
    if (!(st = store_stmt(&t->st, MOVE, err)))
        return err->code;
    sqlite3_bind_int64(st, 1, origin_id);
    sqlite3_bind_int64(st, 2, (int64_t)upto);
    sqlite3_bind_blob(st, 3, hash, OPLOG_HASH_SIZE, SQLITE_STATIC);
    if ((rc = store_step_done(&t->st, st, "compaction", err)) == KASSA_OK)
        rep->origins++;
    return rc;
}

static int compact_tx(term *t, void *ctx, kassa_err *err)
{
    compact_ctx *c = ctx;
    int rc = term_cache_flush_rows(t, err);
    for (size_t i = 0; rc == KASSA_OK && i < c->horizon->n; i++)
        rc = compact_origin(t, c->horizon->e[i].origin, c->horizon->e[i].seq, c->rep, err);
    return rc;
}

int term_compact(term *t, const oplog_vv *horizon, term_compact_report *rep, kassa_err *err)
{
    term_compact_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    compact_ctx c = {horizon, rep};
    int rc = term_in_tx(t, compact_tx, &c, err);
    if (rc != KASSA_OK)
        memset(rep, 0, sizeof *rep);
    return rc;
}
