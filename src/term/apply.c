/*
 * apply.c: the projections. One function per operation kind updates the
 * projections in the caller's transaction. Applying is deterministic in the
 * set of operations applied, whatever their order across origins: that is
 * what makes replicas converge (docs/ARCHITECTURE.md, "Merge rules").
 */
#include "term/term_internal.h"

#include <stdio.h>
#include <string.h>

int term_stock_write(term *t, const char *sku, int64_t origin_id, int64_t p, int64_t n,
                     kassa_err *err)
{
    static const char SQL[] = "INSERT INTO stock(sku, origin, p, n) VALUES(?1, ?2, ?3, ?4) "
                              "ON CONFLICT(sku, origin) DO UPDATE SET p = p + excluded.p, "
                              "n = n + excluded.n";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, sku, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, origin_id);
    sqlite3_bind_int64(st, 3, p);
    sqlite3_bind_int64(st, 4, n);
    return store_step_done(&t->st, st, "stock", err);
}

int term_drawer_write(term *t, int64_t origin_id, int64_t p, int64_t n, kassa_err *err)
{
    static const char SQL[] = "INSERT INTO drawer(origin, p, n) VALUES(?1, ?2, ?3) "
                              "ON CONFLICT(origin) DO UPDATE SET p = p + excluded.p, "
                              "n = n + excluded.n";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, origin_id);
    sqlite3_bind_int64(st, 2, p);
    sqlite3_bind_int64(st, 3, n);
    return store_step_done(&t->st, st, "drawer", err);
}

/* A zero delta books nothing (no row); an import sums deltas in the cache. */
static int stock_add(term *t, const char *sku, int64_t origin_id, int64_t delta, kassa_err *err)
{
    if (delta == 0)
        return KASSA_OK;
    int64_t p = delta > 0 ? delta : 0, n = delta < 0 ? -delta : 0;
    if (term_cache_is_on(t))
        return term_cache_stock_add(t, sku, origin_id, p, n, err);
    return term_stock_write(t, sku, origin_id, p, n, err);
}

/* Even a zero amount creates the origin's drawer row. */
static int drawer_add(term *t, int64_t origin_id, int64_t in, int64_t out, kassa_err *err)
{
    if (term_cache_is_on(t))
        return term_cache_drawer_add(t, origin_id, in, out, err);
    return term_drawer_write(t, origin_id, in, out, err);
}

/* ---- last-writer-wins ---- */

/* One statement per field: the row-value comparison keeps the register with
 * the greater (hlc, origin) stamp, so the same winner emerges in any order. */
#define LWW_FIELD_SQL(f)                                                                           \
    "INSERT INTO catalog(sku, " f ", " f "_ts, " f "_origin) VALUES(?1, ?2, ?3, ?4) "              \
    "ON CONFLICT(sku) DO UPDATE SET " f " = excluded." f ", " f "_ts = excluded." f "_ts, " f      \
    "_origin = excluded." f "_origin WHERE (excluded." f "_ts, excluded." f "_origin) > (" f       \
    "_ts, " f "_origin)"

static int lww_field(term *t, const char *sql, const oplog_op *op, const char *sku,
                     const char *text, int64_t number, kassa_err *err)
{
    sqlite3_stmt *st = store_stmt(&t->st, sql, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, sku, -1, SQLITE_STATIC);
    if (text)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, number);
    sqlite3_bind_int64(st, 3, (int64_t)op->hlc);
    sqlite3_bind_text(st, 4, op->origin, -1, SQLITE_STATIC);
    return store_step_done(&t->st, st, "catalog", err);
}

static int apply_catalog_set(term *t, const oplog_op *op, kassa_err *err)
{
    static const char NAME[] = LWW_FIELD_SQL("name");
    static const char BARCODE[] = LWW_FIELD_SQL("barcode");
    static const char PRICE[] = LWW_FIELD_SQL("price");
    static const char TAX[] = LWW_FIELD_SQL("tax_class");
    oplog_catalog_set c;
    int rc = oplog_decode_catalog_set(op->payload, op->payload_len, &c, err);
    if (rc != KASSA_OK)
        return rc;
    if ((c.fields & CATALOG_F_NAME) &&
        (rc = lww_field(t, NAME, op, c.sku, c.name, 0, err)) != KASSA_OK)
        return rc;
    if ((c.fields & CATALOG_F_BARCODE) &&
        (rc = lww_field(t, BARCODE, op, c.sku, c.barcode, 0, err)) != KASSA_OK)
        return rc;
    if ((c.fields & CATALOG_F_PRICE) &&
        (rc = lww_field(t, PRICE, op, c.sku, NULL, c.price, err)) != KASSA_OK)
        return rc;
    if ((c.fields & CATALOG_F_TAX_CLASS) &&
        (rc = lww_field(t, TAX, op, c.sku, c.tax_class, 0, err)) != KASSA_OK)
        return rc;
    return KASSA_OK;
}

static int apply_setting_set(term *t, const oplog_op *op, kassa_err *err)
{
    static const char SQL[] =
        "INSERT INTO settings(key, value, ts, origin) VALUES(?1, ?2, ?3, ?4) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, ts = excluded.ts, "
        "origin = excluded.origin WHERE (excluded.ts, excluded.origin) > (ts, origin)";
    oplog_setting s;
    int rc = oplog_decode_setting(op->payload, op->payload_len, &s, err);
    if (rc != KASSA_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, s.key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, s.value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (int64_t)op->hlc);
    sqlite3_bind_text(st, 4, op->origin, -1, SQLITE_STATIC);
    return store_step_done(&t->st, st, "setting", err);
}

/* ---- card payments ----
 * card_payments rows are upserted: the operations that fill a row's parts
 * (the sale or refund itself, refunds against a payment, outcomes, a
 * resolution) may arrive in any order across origins. Each part is set by
 * one kind of operation; outcomes and resolutions are last-writer-wins
 * registers ordered by (hlc, origin). */

static int card_row(term *t, const char *id, term_pay_kind kind, const char *payment_id,
                    const oplog_op *op, const oplog_sale_ref *sale, int64_t amount,
                    const oplog_card_tender *card, kassa_err *err)
{
    static const char SQL[] =
        "INSERT INTO card_payments(id, kind, payment_id, sale_origin, sale_seq, hlc, amount, "
        "token, brand, last4, mode, auth_code) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
        "?11, ?12) ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, payment_id = "
        "excluded.payment_id, sale_origin = excluded.sale_origin, sale_seq = excluded.sale_seq, "
        "hlc = excluded.hlc, amount = excluded.amount, token = excluded.token, brand = "
        "excluded.brand, last4 = excluded.last4, mode = excluded.mode, auth_code = CASE WHEN "
        "auth_code <> '' THEN auth_code ELSE excluded.auth_code END";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, kind);
    sqlite3_bind_text(st, 3, payment_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sale->origin, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (int64_t)sale->seq);
    sqlite3_bind_int64(st, 6, (int64_t)op->hlc);
    sqlite3_bind_int64(st, 7, amount);
    sqlite3_bind_text(st, 8, card ? card->token : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, card ? card->brand : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, card ? card->last4 : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 11, card ? card->mode : 0);
    sqlite3_bind_text(st, 12, card ? card->auth_code : "", -1, SQLITE_STATIC);
    return store_step_done(&t->st, st, "card payment", err);
}

/* A card refund: its own row, and the amount counted against the payment. */
/* card: the sale's card tender (its brand, last four and token name the
 * refund too), NULL when the sale is not held. */
static int card_refund(term *t, const oplog_op *op, const oplog_sale_ref *sale,
                       const oplog_refund_split *sp, const oplog_card_tender *card, kassa_err *err)
{
    static const char SQL[] = "INSERT INTO card_payments(id, refunded) VALUES(?1, ?2) "
                              "ON CONFLICT(id) DO UPDATE SET refunded = refunded + "
                              "excluded.refunded";
    if (sp->card_amount == 0)
        return KASSA_OK;
    oplog_card_tender named;
    if (card) {
        named = *card;
        named.mode = 0; /* a refund is neither online nor offline */
        named.auth_code[0] = '\0';
    }
    int rc = card_row(t, sp->refund_id, TERM_PAY_KIND_REFUND, sp->payment_id, op, sale,
                      sp->card_amount, card ? &named : NULL, err);
    if (rc != KASSA_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, sp->payment_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, sp->card_amount);
    return store_step_done(&t->st, st, "card payment", err);
}

static int apply_payment(term *t, const oplog_op *op, kassa_err *err)
{
    static const char OUTCOME[] =
        "INSERT INTO card_payments(id, outcome, reason, outcome_hlc, outcome_origin, auth_code) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET outcome = excluded.outcome, "
        "reason = excluded.reason, outcome_hlc = excluded.outcome_hlc, outcome_origin = "
        "excluded.outcome_origin, auth_code = CASE WHEN excluded.auth_code <> '' THEN "
        "excluded.auth_code ELSE auth_code END WHERE (excluded.outcome_hlc, "
        "excluded.outcome_origin) > (outcome_hlc, outcome_origin)";
    static const char RESOLVED[] =
        "INSERT INTO card_payments(id, resolved_by, resolved_note, resolved_hlc, "
        "resolved_origin) VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO UPDATE SET resolved_by = "
        "excluded.resolved_by, resolved_note = excluded.resolved_note, resolved_hlc = "
        "excluded.resolved_hlc, resolved_origin = excluded.resolved_origin WHERE "
        "(excluded.resolved_hlc, excluded.resolved_origin) > (resolved_hlc, resolved_origin)";
    oplog_payment pay;
    int rc = oplog_decode_payment(op->payload, op->payload_len, &pay, err);
    if (rc != KASSA_OK)
        return rc;
    bool resolved = pay.outcome == OPLOG_PAY_RESOLVED;
    sqlite3_stmt *st = store_stmt(&t->st, resolved ? RESOLVED : OUTCOME, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, pay.id, -1, SQLITE_STATIC);
    if (resolved) {
        sqlite3_bind_text(st, 2, pay.cashier, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, pay.note, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t)op->hlc);
        sqlite3_bind_text(st, 5, op->origin, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_int(st, 2, pay.outcome);
        sqlite3_bind_text(st, 3, pay.reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t)op->hlc);
        sqlite3_bind_text(st, 5, op->origin, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, pay.auth_code, -1, SQLITE_STATIC);
    }
    return store_step_done(&t->st, st, "card payment", err);
}

/* ---- drawer movements ---- */

static int apply_drawer(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err)
{
    static const char SQL[] = "INSERT INTO drawer_events(origin, seq, hlc, action, amount, delta, "
                              "cashier) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    oplog_drawer d;
    int rc = oplog_decode_drawer(op->payload, op->payload_len, &d, err);
    if (rc != KASSA_OK)
        return rc;
    int64_t in = 0, out = 0;
    if (d.action == OPLOG_DRAWER_FLOAT)
        in = d.amount;
    else if (d.action == OPLOG_DRAWER_DROP)
        out = d.amount;
    else if (d.delta > 0) /* a count books what it found over or short */
        in = d.delta;
    else
        out = -d.delta;
    if ((rc = drawer_add(t, origin_id, in, out, err)) != KASSA_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, origin_id);
    sqlite3_bind_int64(st, 2, (int64_t)op->seq);
    sqlite3_bind_int64(st, 3, (int64_t)op->hlc);
    sqlite3_bind_int(st, 4, d.action);
    sqlite3_bind_int64(st, 5, d.amount);
    sqlite3_bind_int64(st, 6, d.delta);
    sqlite3_bind_text(st, 7, d.cashier, -1, SQLITE_STATIC);
    return store_step_done(&t->st, st, "drawer", err);
}

/* ---- sales, voids, returns ---- */

static int apply_sale(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err)
{
    static const char SQL[] = "INSERT INTO sales(origin, seq, hlc, total) VALUES(?1, ?2, ?3, ?4)";
    oplog_sale *s = &t->work->apply_sale;
    int rc = oplog_decode_sale(op->payload, op->payload_len, s, err);
    for (size_t i = 0; rc == KASSA_OK && i < s->n_lines; i++)
        rc = stock_add(t, s->lines[i].sku, origin_id, -s->lines[i].qty, err);
    /* The drawer takes the cash part only. */
    if (rc == KASSA_OK)
        rc = drawer_add(t, origin_id, oplog_sale_cash_due(s), 0, err);
    if (rc == KASSA_OK && s->has_card) {
        oplog_sale_ref ref;
        snprintf(ref.origin, sizeof ref.origin, "%s", op->origin);
        ref.seq = op->seq;
        rc = card_row(t, s->card.payment_id, TERM_PAY_KIND_PAYMENT, s->card.payment_id, op, &ref,
                      s->card.amount, &s->card, err);
    }
    if (rc == KASSA_OK && term_cache_is_on(t)) {
        rc = term_cache_sale_insert(t, origin_id, op, s->total, err);
    } else if (rc == KASSA_OK) {
        sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
        if (!st) {
            rc = err->code;
        } else {
            sqlite3_bind_int64(st, 1, origin_id);
            sqlite3_bind_int64(st, 2, (int64_t)op->seq);
            sqlite3_bind_int64(st, 3, (int64_t)op->hlc);
            sqlite3_bind_int64(st, 4, s->total);
            rc = store_step_done(&t->st, st, "sale", err);
        }
    }
    return rc;
}

typedef struct sale_row {
    int64_t origin_id;
    int64_t void_count;
} sale_row;

static int sale_row_get(term *t, const oplog_sale_ref *ref, sale_row *row, bool *found,
                        kassa_err *err)
{
    static const char SQL[] = "SELECT void_count FROM sales WHERE origin = ?1 AND seq = ?2";
    *found = false;
    /* During an import the sale may still be a held-back row. */
    int rc = term_cache_flush_rows(t, err);
    if (rc != KASSA_OK)
        return rc;
    rc = term_origin_id(t, ref->origin, false, &row->origin_id, NULL);
    if (rc == KASSA_ENOTFOUND)
        return KASSA_OK;
    if (rc != KASSA_OK)
        return kassa_fail(err, rc, "sale lookup failed");
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, row->origin_id);
    sqlite3_bind_int64(st, 2, (int64_t)ref->seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row->void_count = sqlite3_column_int64(st, 0);
        *found = true;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_error(&t->st, rc, "sale lookup", err);
    return KASSA_OK;
}

/* Recomputes the units of one SKU of a sale credited back to stock after
 * `returned_more` more units came back (0 for a void), and books the
 * difference on the sale origin's stock counter. Credited units only grow,
 * and their final value depends only on the set of operations:
 * all units sold when voided, else min(returned, sold). */
static int credit_line(term *t, const sale_row *row, uint64_t seq, const char *sku, int64_t sold,
                       int64_t returned_more, kassa_err *err)
{
    static const char UPSERT[] =
        "INSERT INTO sale_returns(origin, seq, sku, sold, returned) VALUES(?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT(origin, seq, sku) DO UPDATE SET returned = returned + excluded.returned "
        "RETURNING returned, credited";
    static const char SET[] =
        "UPDATE sale_returns SET credited = ?4 WHERE origin = ?1 AND seq = ?2 AND sku = ?3";
    sqlite3_stmt *st = store_stmt(&t->st, UPSERT, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, row->origin_id);
    sqlite3_bind_int64(st, 2, (int64_t)seq);
    sqlite3_bind_text(st, 3, sku, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, sold);
    sqlite3_bind_int64(st, 5, returned_more);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return store_error(&t->st, rc, "sale returns", err);
    }
    int64_t returned = sqlite3_column_int64(st, 0);
    int64_t credited = sqlite3_column_int64(st, 1);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_error(&t->st, rc, "sale returns", err);
    int64_t want = row->void_count > 0 ? sold : (returned < sold ? returned : sold);
    if (want == credited)
        return KASSA_OK;
    st = store_stmt(&t->st, SET, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, row->origin_id);
    sqlite3_bind_int64(st, 2, (int64_t)seq);
    sqlite3_bind_text(st, 3, sku, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, want);
    if ((rc = store_step_done(&t->st, st, "sale returns", err)) != KASSA_OK)
        return rc;
    return stock_add(t, sku, row->origin_id, want - credited, err);
}

static int sale_add(term *t, const sale_row *row, uint64_t seq, int64_t voids, int64_t refunded,
                    kassa_err *err)
{
    static const char SQL[] = "UPDATE sales SET void_count = void_count + ?3, "
                              "refunded = refunded + ?4 WHERE origin = ?1 AND seq = ?2";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, row->origin_id);
    sqlite3_bind_int64(st, 2, (int64_t)seq);
    sqlite3_bind_int64(st, 3, voids);
    sqlite3_bind_int64(st, 4, refunded);
    return store_step_done(&t->st, st, "sale update", err);
}

/* Loads the sale a void or return refers to. A reference to something that
 * is not a sale cannot come from kassa; such an operation is kept in the
 * log (its origin's chain needs it) but changes no projection. */
static int referenced_sale(term *t, const oplog_sale_ref *ref, sale_row *row, oplog_sale *sale,
                           bool *found, kassa_err *err)
{
    int rc = sale_row_get(t, ref, row, found, err);
    if (rc != KASSA_OK || !*found)
        return rc;
    int64_t origin_id;
    return term_load_sale(t, ref, &origin_id, sale, err);
}

static int apply_void(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err)
{
    oplog_void v;
    int rc = oplog_decode_void(op->payload, op->payload_len, &v, err);
    if (rc != KASSA_OK)
        return rc;
    /* The refund was paid at this terminal's drawer, whatever else. */
    if ((rc = drawer_add(t, origin_id, 0, oplog_refund_cash(v.refund, &v.split), err)) != KASSA_OK)
        return rc;
    oplog_sale *sale = &t->work->apply_sale;
    sale_row row;
    bool found;
    rc = referenced_sale(t, &v.sale, &row, sale, &found, err);
    if (rc == KASSA_OK)
        rc = card_refund(t, op, &v.sale, &v.split, found && sale->has_card ? &sale->card : NULL,
                         err);
    if (rc == KASSA_OK && found) {
        rc = sale_add(t, &row, v.sale.seq, 1, 0, err);
        row.void_count++;
        /* Only the first void credits stock back; later ones find every
         * unit already credited. */
        for (size_t i = 0; rc == KASSA_OK && i < sale->n_lines; i++)
            rc = credit_line(t, &row, v.sale.seq, sale->lines[i].sku, sale->lines[i].qty, 0, err);
    }
    return rc;
}

static int apply_return(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err)
{
    oplog_return *ret = &t->work->apply_return;
    oplog_sale *sale = &t->work->apply_sale;
    int rc = oplog_decode_return(op->payload, op->payload_len, ret, err);
    if (rc == KASSA_OK)
        rc = drawer_add(t, origin_id, 0, oplog_refund_cash(ret->refund, &ret->split), err);
    sale_row row;
    bool found = false;
    if (rc == KASSA_OK)
        rc = referenced_sale(t, &ret->sale, &row, sale, &found, err);
    if (rc == KASSA_OK)
        rc = card_refund(t, op, &ret->sale, &ret->split,
                         found && sale->has_card ? &sale->card : NULL, err);
    if (rc == KASSA_OK && found)
        rc = sale_add(t, &row, ret->sale.seq, 0, ret->refund, err);
    for (size_t i = 0; rc == KASSA_OK && found && i < ret->n_lines; i++) {
        for (size_t j = 0; j < sale->n_lines; j++) {
            if (strcmp(sale->lines[j].sku, ret->lines[i].sku) == 0) {
                rc = credit_line(t, &row, ret->sale.seq, ret->lines[i].sku, sale->lines[j].qty,
                                 ret->lines[i].qty, err);
                break;
            }
        }
    }
    return rc;
}

static int apply_stock(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err)
{
    oplog_stock s;
    int rc = oplog_decode_stock(op->payload, op->payload_len, &s, err);
    if (rc != KASSA_OK)
        return rc;
    /* A count books the difference the counting terminal saw, so counts
     * and sales made elsewhere meanwhile add up instead of overwriting. */
    return stock_add(t, s.sku, origin_id, op->kind == OP_STOCK_RECEIVE ? s.qty : s.delta, err);
}

/* The whole cashier record is one register: a PIN changed on one terminal
 * and a name on another resolve to one of the two writes, never a mix. */
static int apply_cashier_set(term *t, const oplog_op *op, kassa_err *err)
{
    static const char SQL[] =
        "INSERT INTO cashiers(id, name, role, pin_hash, ts, origin) VALUES(?1, ?2, ?3, ?4, ?5, ?6) "
        "ON CONFLICT(id) DO UPDATE SET name = excluded.name, role = excluded.role, "
        "pin_hash = excluded.pin_hash, ts = excluded.ts, origin = excluded.origin "
        "WHERE (excluded.ts, excluded.origin) > (ts, origin)";
    oplog_cashier c;
    int rc = oplog_decode_cashier(op->payload, op->payload_len, &c, err);
    if (rc != KASSA_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, c.id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c.name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, c.role);
    sqlite3_bind_text(st, 4, c.pin_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (int64_t)op->hlc);
    sqlite3_bind_text(st, 6, op->origin, -1, SQLITE_STATIC);
    return store_step_done(&t->st, st, "cashier", err);
}

static int apply_audit(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err)
{
    static const char SQL[] = "INSERT INTO audit(origin, seq, hlc, action, cashier, supervisor, "
                              "subject, detail) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    oplog_audit a;
    int rc = oplog_decode_audit(op->payload, op->payload_len, &a, err);
    if (rc != KASSA_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, origin_id);
    sqlite3_bind_int64(st, 2, (int64_t)op->seq);
    sqlite3_bind_int64(st, 3, (int64_t)op->hlc);
    sqlite3_bind_text(st, 4, a.action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, a.cashier, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, a.supervisor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, a.subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, a.detail, -1, SQLITE_STATIC);
    return store_step_done(&t->st, st, "audit", err);
}

int term_apply(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err)
{
    switch (op->kind) {
    case OP_CATALOG_SET:
        return apply_catalog_set(t, op, err);
    case OP_SETTING_SET:
        return apply_setting_set(t, op, err);
    case OP_SALE:
        return apply_sale(t, origin_id, op, err);
    case OP_VOID:
        return apply_void(t, origin_id, op, err);
    case OP_RETURN:
        return apply_return(t, origin_id, op, err);
    case OP_STOCK_RECEIVE:
    case OP_STOCK_COUNT:
        return apply_stock(t, origin_id, op, err);
    case OP_CASHIER_SET:
        return apply_cashier_set(t, op, err);
    case OP_AUDIT:
        return apply_audit(t, origin_id, op, err);
    case OP_PAYMENT:
        return apply_payment(t, op, err);
    case OP_DRAWER:
        return apply_drawer(t, origin_id, op, err);
    default:
        return kassa_fail(err, KASSA_ECORRUPT, "operation %s/%llu has unknown kind %d", op->origin,
                          (unsigned long long)op->seq, op->kind);
    }
}
