/* query.c: reading the projections: stock, sales, receipts, drawers. */
#include "term/term_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int term_stock_get(term *t, const char *sku, int64_t *qty, kassa_err *err)
{
    /* Any SKU stock was booked for, catalogued or not, like
     * term_stock_each; a SKU neither booked nor catalogued is unknown. */
    static const char SQL[] =
        "SELECT (SELECT coalesce(sum(p) - sum(n), 0) FROM stock WHERE sku = ?1), "
        "EXISTS (SELECT 1 FROM stock WHERE sku = ?1) OR EXISTS (SELECT 1 FROM catalog "
        "WHERE sku = ?1)";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, sku, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    bool known = rc == SQLITE_ROW && sqlite3_column_int(st, 1);
    if (known)
        *qty = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_error(&t->st, rc, "stock", err);
    return known ? KASSA_OK : kassa_fail(err, KASSA_ENOTFOUND, "unknown SKU \"%s\"", sku);
}

int term_stock_each(term *t, term_stock_cb cb, void *ctx, kassa_err *err)
{
    /* Every SKU stock was ever booked for, catalogued or not (a sale of an
     * item whose catalog entry has not arrived yet still moves stock). */
    static const char SQL[] = "SELECT sku, sum(p) - sum(n) FROM stock GROUP BY sku ORDER BY sku";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int crc = cb((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), ctx);
        if (crc != KASSA_OK) {
            sqlite3_reset(st);
            return crc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&t->st, rc, "stock", err);
}

/* A sale needs review when more went back than it took in kind: voided
 * twice, voided and also returned (units, not cash: a free item counts), or
 * returned beyond what was sold by returns made apart. */
#define SALE_CONFLICT_SQL                                                                          \
    "(s.void_count > 1 OR EXISTS (SELECT 1 FROM sale_returns r WHERE r.origin = s.origin AND "     \
    "r.seq = s.seq AND (r.returned > r.sold OR (s.void_count > 0 AND r.returned > 0))))"

#define SALE_COLUMNS                                                                               \
    "o.name, s.seq, s.hlc, s.total, s.void_count, s.refunded, " SALE_CONFLICT_SQL " "

static void sale_from_row(sqlite3_stmt *st, term_sale_info *s)
{
    snprintf(s->ref.origin, sizeof s->ref.origin, "%s", (const char *)sqlite3_column_text(st, 0));
    s->ref.seq = (uint64_t)sqlite3_column_int64(st, 1);
    s->hlc = (hlc_ts)sqlite3_column_int64(st, 2);
    s->total = sqlite3_column_int64(st, 3);
    s->voided = sqlite3_column_int64(st, 4) > 0;
    s->refunded = sqlite3_column_int64(st, 5);
    s->conflict = sqlite3_column_int(st, 6) != 0;
}

/* Runs a prepared sales query (bindings done) through cb. */
static int sales_rows(term *t, sqlite3_stmt *st, term_sale_cb cb, void *ctx, kassa_err *err)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        term_sale_info s;
        sale_from_row(st, &s);
        int crc = cb(&s, ctx);
        if (crc != KASSA_OK) {
            sqlite3_reset(st);
            return crc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&t->st, rc, "sales", err);
}

static int sales_query(term *t, const char *sql, term_sale_cb cb, void *ctx, kassa_err *err)
{
    sqlite3_stmt *st = store_stmt(&t->st, sql, err);
    if (!st)
        return err->code;
    return sales_rows(t, st, cb, ctx, err);
}

int term_sales_each(term *t, term_sale_cb cb, void *ctx, kassa_err *err)
{
    static const char SQL[] = "SELECT " SALE_COLUMNS "FROM sales s JOIN origins o ON o.id = "
                              "s.origin ORDER BY s.hlc, o.name, s.seq";
    return sales_query(t, SQL, cb, ctx, err);
}

int term_sales_recent(term *t, size_t limit, term_sale_cb cb, void *ctx, kassa_err *err)
{
    /* An origin's clock only grows with its seq, so the newest `limit`
     * sales of the store are among each origin's last `limit` by primary
     * key: a short range scan per origin (the CROSS JOIN keeps origins
     * outside), then a sort of at most limit x origins rows. */
    static const char SQL[] =
        "SELECT " SALE_COLUMNS "FROM origins o CROSS JOIN sales s ON s.origin = o.id "
        "AND s.seq >= coalesce((SELECT s2.seq FROM sales s2 WHERE s2.origin = o.id "
        "ORDER BY s2.seq DESC LIMIT 1 OFFSET ?1 - 1), 0) "
        "ORDER BY s.hlc DESC, o.name DESC, s.seq DESC LIMIT ?1";
    if (limit == 0)
        return KASSA_OK;
    if (limit > INT32_MAX)
        limit = INT32_MAX;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, (int64_t)limit);
    return sales_rows(t, st, cb, ctx, err);
}

int term_conflicts_each(term *t, term_sale_cb cb, void *ctx, kassa_err *err)
{
    static const char SQL[] = "SELECT " SALE_COLUMNS "FROM sales s JOIN origins o ON o.id = "
                              "s.origin WHERE " SALE_CONFLICT_SQL " ORDER BY s.hlc, o.name, s.seq";
    return sales_query(t, SQL, cb, ctx, err);
}

int term_sale_get(term *t, const oplog_sale_ref *ref, term_sale_info *info, oplog_sale *sale,
                  kassa_err *err)
{
    static const char SQL[] = "SELECT " SALE_COLUMNS "FROM sales s JOIN origins o ON o.id = "
                              "s.origin WHERE s.origin = ?1 AND s.seq = ?2";
    int64_t origin_id;
    int rc = term_load_sale(t, ref, &origin_id, sale, err);
    if (rc != KASSA_OK)
        return rc;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, origin_id);
    sqlite3_bind_int64(st, 2, (int64_t)ref->seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        sale_from_row(st, info);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return KASSA_OK;
    if (rc == SQLITE_DONE)
        return kassa_fail(err, KASSA_ECORRUPT, "sale %s/%llu has no projection", ref->origin,
                          (unsigned long long)ref->seq);
    return store_error(&t->st, rc, "sale", err);
}

int term_sale_returned(term *t, const oplog_sale_ref *ref, const char *sku, int64_t *returned,
                       kassa_err *err)
{
    static const char SQL[] = "SELECT r.returned FROM sale_returns r JOIN origins o ON o.id = "
                              "r.origin WHERE o.name = ?1 AND r.seq = ?2 AND r.sku = ?3";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, ref->origin, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)ref->seq);
    sqlite3_bind_text(st, 3, sku, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *returned = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_error(&t->st, rc, "sale returns", err);
    return KASSA_OK;
}

int term_drawer(term *t, const char *node, int64_t *cash, kassa_err *err)
{
    static const char ALL[] = "SELECT coalesce(sum(p) - sum(n), 0) FROM drawer";
    static const char ONE[] = "SELECT coalesce(sum(d.p) - sum(d.n), 0) FROM drawer d "
                              "JOIN origins o ON o.id = d.origin WHERE o.name = ?1";
    int64_t origin_id;
    if (node && term_origin_id(t, node, false, &origin_id, err) != KASSA_OK)
        return err->code;
    sqlite3_stmt *st = store_stmt(&t->st, node ? ONE : ALL, err);
    if (!st)
        return err->code;
    if (node)
        sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *cash = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? KASSA_OK : store_error(&t->st, rc, "drawer", err);
}

/* ---- receipts ---- */

#define RECEIPT_WIDTH 42

static void receipt_row(kbuf *out, const char *left, int64_t amount)
{
    char money[MONEY_STR_SIZE], line[128];
    money_format(amount, money);
    int pad = RECEIPT_WIDTH - (int)strlen(left);
    snprintf(line, sizeof line, "%s%*s\n", left, pad > 0 ? pad : 1, money);
    kbuf_put(out, line, strlen(line));
}

static void receipt_text(kbuf *out, const char *text)
{
    kbuf_put(out, text, strlen(text));
    kbuf_put_u8(out, '\n');
}

static void format_time(hlc_ts ts, char *out, size_t size)
{
    time_t secs = (time_t)(hlc_physical_ms(ts) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

int term_receipt(term *t, const oplog_sale_ref *ref, kbuf *out, kassa_err *err)
{
    oplog_sale *s = &t->work->action_sale;
    term_sale_info info;
    int rc = term_sale_get(t, ref, &info, s, err);
    if (rc != KASSA_OK)
        return rc;
    char id[KASSA_ID_MAX + 24], when[40], line[160];
    const char *rule = "------------------------------------------";
    oplog_sale_id(ref, id, sizeof id);
    format_time(info.hlc, when, sizeof when);
    snprintf(line, sizeof line, "kassa  store %s  terminal %s", t->store_id, ref->origin);
    receipt_text(out, line);
    snprintf(line, sizeof line, "Sale %s  %s", id, when);
    receipt_text(out, line);
    receipt_text(out, rule);
    int64_t subtotal = 0;
    for (size_t i = 0; i < s->n_lines; i++) {
        const oplog_sale_line *l = &s->lines[i];
        term_item it;
        kassa_err ignore;
        /* The name is for people; an item deleted or not yet replicated
         * prints as its SKU. */
        if (term_item_get(t, l->sku, &it, &ignore) != KASSA_OK || !it.name[0])
            snprintf(it.name, sizeof it.name, "%s", l->sku);
        receipt_text(out, it.name);
        char price[MONEY_STR_SIZE];
        money_format(l->unit_price, price);
        snprintf(line, sizeof line, "  %lld x %s", (long long)l->qty, price);
        receipt_row(out, line, l->qty * l->unit_price);
        if (l->discount > 0)
            receipt_row(out, "  discount", -l->discount);
        subtotal += l->qty * l->unit_price - l->discount;
    }
    receipt_text(out, rule);
    receipt_row(out, "Subtotal", subtotal);
    receipt_row(out, "Tax", s->tax);
    receipt_row(out, "TOTAL", s->total);
    if (s->has_card) {
        /* Never more of the card than the last four digits. */
        const oplog_card_tender *c = &s->card;
        snprintf(line, sizeof line, "Card %s ****%s%s%s", c->brand, c->last4,
                 c->mode == OPLOG_CARD_OFFLINE ? " (offline)" : "  auth ",
                 c->mode == OPLOG_CARD_OFFLINE ? "" : c->auth_code);
        receipt_row(out, line, c->amount);
    }
    if (s->rounding != 0)
        receipt_row(out, "Cash rounding", s->rounding);
    if (s->tendered > 0 || !s->has_card) {
        receipt_row(out, "Cash", s->tendered);
        receipt_row(out, "Change", s->tendered - oplog_sale_cash_due(s));
    }
    if (info.voided)
        receipt_text(out, "*** VOIDED ***");
    if (info.refunded > 0)
        receipt_row(out, "Refunded by returns", info.refunded);
    if (info.conflict)
        receipt_text(out, "!!! conflicting void/return: needs review");
    if (out->oom)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    return KASSA_OK;
}
