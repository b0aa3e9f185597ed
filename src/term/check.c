/* check.c: state digest, hash-chain verification and status figures. */
#include "term/term_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Each query lists one projection's values in an order that depends only
 * on names, never on local row ids or apply order. Column types are fixed
 * per query, so the canonical encoding below is unambiguous. */
static const char *const STATE_QUERIES[] = {
    "SELECT sku, name, barcode, price, tax_class FROM catalog ORDER BY sku",
    "SELECT key, value FROM settings ORDER BY key",
    "SELECT s.sku, o.name, s.p, s.n FROM stock s JOIN origins o ON o.id = s.origin "
    "ORDER BY s.sku, o.name",
    "SELECT o.name, s.seq, s.hlc, s.total, s.void_count, s.refunded FROM sales s "
    "JOIN origins o ON o.id = s.origin ORDER BY o.name, s.seq",
    "SELECT o.name, r.seq, r.sku, r.sold, r.returned, r.credited FROM sale_returns r "
    "JOIN origins o ON o.id = r.origin ORDER BY o.name, r.seq, r.sku",
    "SELECT o.name, d.p, d.n FROM drawer d JOIN origins o ON o.id = d.origin ORDER BY o.name",
    "SELECT id, name, role, pin_hash FROM cashiers ORDER BY id",
    "SELECT o.name, a.seq, a.action, a.cashier, a.supervisor, a.subject, a.detail FROM audit a "
    "JOIN origins o ON o.id = a.origin ORDER BY o.name, a.seq",
    "SELECT id, kind, payment_id, sale_origin, sale_seq, hlc, amount, token, brand, last4, mode, "
    "auth_code, outcome, reason, outcome_hlc, outcome_origin, refunded, resolved_by, "
    "resolved_note, resolved_hlc, resolved_origin FROM card_payments ORDER BY id",
    "SELECT o.name, e.seq, e.hlc, e.action, e.amount, e.delta, e.cashier FROM drawer_events e "
    "JOIN origins o ON o.id = e.origin ORDER BY o.name, e.seq",
};

int term_state_hash(term *t, uint8_t out[32], kassa_err *err)
{
    crypto_generichash_state hs;
    crypto_generichash_init(&hs, NULL, 0, 32);
    kbuf row;
    kbuf_init(&row);
    int rc = KASSA_OK;
    for (size_t q = 0; rc == KASSA_OK && q < KASSA_ARRAY_LEN(STATE_QUERIES); q++) {
        sqlite3_stmt *st = store_stmt(&t->st, STATE_QUERIES[q], err);
        if (!st)
            return err->code;
        int src;
        uint8_t table = (uint8_t)q;
        crypto_generichash_update(&hs, &table, 1);
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            kbuf_reset(&row);
            for (int col = 0; col < sqlite3_column_count(st); col++) {
                if (sqlite3_column_type(st, col) == SQLITE_INTEGER)
                    kbuf_put_svarint(&row, sqlite3_column_int64(st, col));
                else
                    kbuf_put_bytes(&row, sqlite3_column_text(st, col),
                                   (size_t)sqlite3_column_bytes(st, col));
            }
            if (row.oom) {
                rc = kassa_fail(err, KASSA_ENOMEM, "out of memory");
                break;
            }
            kbuf_put_uvarint(&row, 0); /* row terminator: lengths are prefixed */
            crypto_generichash_update(&hs, row.data, row.len);
        }
        sqlite3_reset(st);
        if (rc == KASSA_OK && src != SQLITE_DONE)
            rc = store_error(&t->st, src, "state hash", err);
    }
    kbuf_free(&row);
    crypto_generichash_final(&hs, out, 32);
    return rc;
}

typedef struct verify_origin {
    char name[KASSA_ID_MAX + 1];
    uint8_t prev[OPLOG_HASH_SIZE]; /* hash of the last good operation */
    uint64_t expect_seq;
    uint64_t head_seq; /* what origins records as the chain's head */
    uint8_t head_hash[OPLOG_HASH_SIZE];
} verify_origin;

static void verify_bad(term_verify_report *rep, const char *origin, uint64_t seq,
                       const char *reason)
{
    rep->ok = false;
    snprintf(rep->first_bad, sizeof rep->first_bad, "%s/%llu", origin, (unsigned long long)seq);
    snprintf(rep->reason, sizeof rep->reason, "%s", reason);
}

/* The chain must end exactly at the head the origin row records: a
 * deleted tail or a moved head is an alteration too. */
static void verify_end(term_verify_report *rep, const verify_origin *v)
{
    if (!rep->ok || !v->name[0])
        return;
    uint64_t last = v->expect_seq - 1;
    if (last < v->head_seq)
        verify_bad(rep, v->name, v->expect_seq, "operation missing: the log ends before its head");
    else if (last > v->head_seq || memcmp(v->prev, v->head_hash, OPLOG_HASH_SIZE) != 0)
        verify_bad(rep, v->name, last, "the log's last operation is not its recorded head");
}

int term_log_verify(term *t, term_verify_report *rep, kassa_err *err)
{
    static const char SQL[] =
        "SELECT o.name, p.seq, p.hlc, p.kind, p.payload, p.hash, o.head_seq, o.head_hash, "
        "o.base_seq, o.base_hash FROM origins o LEFT JOIN ops p ON p.origin = o.id "
        "WHERE o.head_seq > 0 OR p.seq IS NOT NULL ORDER BY o.name, p.seq";
    memset(rep, 0, sizeof *rep);
    rep->ok = true;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    verify_origin v;
    memset(&v, 0, sizeof v);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (strcmp(name, v.name) != 0) {
            verify_end(rep, &v);
            memset(&v, 0, sizeof v);
            snprintf(v.name, sizeof v.name, "%s", name);
            /* After compaction the chain continues from the base: the
             * hash of the last operation dropped. */
            v.expect_seq = (uint64_t)sqlite3_column_int64(st, 8) + 1;
            v.head_seq = (uint64_t)sqlite3_column_int64(st, 6);
            if (sqlite3_column_bytes(st, 7) == OPLOG_HASH_SIZE)
                memcpy(v.head_hash, sqlite3_column_blob(st, 7), OPLOG_HASH_SIZE);
            if (v.expect_seq > 1 && sqlite3_column_bytes(st, 9) == OPLOG_HASH_SIZE)
                memcpy(v.prev, sqlite3_column_blob(st, 9), OPLOG_HASH_SIZE);
            else if (v.expect_seq > 1)
                verify_bad(rep, name, v.expect_seq - 1, "compacted without a base hash");
            rep->origins++;
        }
        if (!rep->ok || sqlite3_column_type(st, 1) == SQLITE_NULL)
            continue;
        oplog_op op;
        memset(&op, 0, sizeof op);
        snprintf(op.origin, sizeof op.origin, "%s", name);
        op.seq = (uint64_t)sqlite3_column_int64(st, 1);
        op.hlc = (hlc_ts)sqlite3_column_int64(st, 2);
        op.kind = (uint8_t)sqlite3_column_int(st, 3);
        op.payload = sqlite3_column_blob(st, 4);
        op.payload_len = (size_t)sqlite3_column_bytes(st, 4);
        rep->ops++;
        kassa_err perr;
        if (op.seq != v.expect_seq)
            verify_bad(rep, name, v.expect_seq, "sequence gap: operation missing");
        else if (sqlite3_column_bytes(st, 5) != OPLOG_HASH_SIZE)
            verify_bad(rep, name, op.seq, "hash has the wrong size");
        else if (memcpy(op.hash, sqlite3_column_blob(st, 5), OPLOG_HASH_SIZE),
                 !oplog_hash_ok(t->store_id, v.prev, &op))
            verify_bad(rep, name, op.seq, "hash does not match the operation and its predecessor");
        else if (oplog_validate_payload(op.kind, op.payload, op.payload_len, &perr) != KASSA_OK)
            verify_bad(rep, name, op.seq, "payload does not decode");
        if (!rep->ok)
            continue;
        memcpy(v.prev, op.hash, OPLOG_HASH_SIZE);
        v.expect_seq++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_error(&t->st, rc, "log verify", err);
    verify_end(rep, &v);
    return KASSA_OK;
}

int term_status_get(term *t, term_status *s, kassa_err *err)
{
    static const char OPS[] = "SELECT coalesce(sum(head_seq), 0) FROM origins";
    static const char HELD[] = "SELECT coalesce(sum(head_seq - base_seq), 0) FROM origins";
    static const char PENDING[] = "SELECT count(*) FROM pending";
    static const char SALES[] = "SELECT count(*) FROM sales";
    memset(s, 0, sizeof *s);
    int rc;
    if ((rc = term_count(t, OPS, &s->ops, err)) != KASSA_OK ||
        (rc = term_count(t, HELD, &s->ops_held, err)) != KASSA_OK ||
        (rc = term_count(t, PENDING, &s->pending, err)) != KASSA_OK ||
        (rc = term_count(t, SALES, &s->sales, err)) != KASSA_OK)
        return rc;
    struct stat sb;
    if (stat(t->st.path, &sb) == 0)
        s->db_size_bytes = (int64_t)sb.st_size;
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", t->st.path);
    if (stat(wal, &sb) == 0)
        s->db_size_bytes += (int64_t)sb.st_size;
    return KASSA_OK;
}

int term_data_version(term *t, int64_t *version, kassa_err *err)
{
    sqlite3_stmt *st = store_stmt(&t->st, "PRAGMA data_version", err);
    if (!st)
        return err->code;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? KASSA_OK : store_error(&t->st, rc, "data_version", err);
}
