/* sell.c: the cashier's actions: sales, voids, returns, stock movements. */
#include "term/term_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- carts ---- */

static term_cart_line *cart_find(term_cart *cart, const char *sku)
{
    for (size_t i = 0; i < cart->n_lines; i++)
        if (strcmp(cart->lines[i].sku, sku) == 0)
            return &cart->lines[i];
    return NULL;
}

int term_cart_add(term_cart *cart, const char *sku, int64_t qty, kassa_err *err)
{
    if (!kassa_valid_id(sku, KASSA_SKU_MAX))
        return kassa_fail(err, KASSA_EINVAL, "invalid SKU \"%s\"", sku);
    if (qty <= 0 || qty > PRICING_QTY_MAX)
        return kassa_fail(err, KASSA_EINVAL, "%s: quantity must be 1..%lld", sku,
                          (long long)PRICING_QTY_MAX);
    term_cart_line *l = cart_find(cart, sku);
    if (l) {
        if (l->qty + qty > PRICING_QTY_MAX)
            return kassa_fail(err, KASSA_EOVERFLOW, "%s: quantity above %lld", sku,
                              (long long)PRICING_QTY_MAX);
        l->qty += qty;
        return KASSA_OK;
    }
    if (cart->n_lines >= OPLOG_SALE_LINES_MAX)
        return kassa_fail(err, KASSA_EOVERFLOW, "more than %d lines", OPLOG_SALE_LINES_MAX);
    l = &cart->lines[cart->n_lines++];
    memset(l, 0, sizeof *l);
    snprintf(l->sku, sizeof l->sku, "%s", sku);
    l->qty = qty;
    l->price_override = -1;
    return KASSA_OK;
}

void term_cart_copy(term_cart *dst, const term_cart *src)
{
    dst->n_lines = src->n_lines;
    memcpy(dst->lines, src->lines, src->n_lines * sizeof src->lines[0]);
}

static term_cart_line *cart_line(term_cart *cart, const char *sku, kassa_err *err)
{
    term_cart_line *l = cart_find(cart, sku);
    if (!l)
        kassa_fail(err, KASSA_ENOTFOUND, "%s is not in the cart", sku);
    return l;
}

int term_cart_set_qty(term_cart *cart, const char *sku, int64_t qty, kassa_err *err)
{
    term_cart_line *l = cart_line(cart, sku, err);
    if (!l)
        return KASSA_ENOTFOUND;
    if (qty <= 0 || qty > PRICING_QTY_MAX)
        return kassa_fail(err, KASSA_EINVAL, "%s: quantity must be 1..%lld", sku,
                          (long long)PRICING_QTY_MAX);
    l->qty = qty;
    return KASSA_OK;
}

int term_cart_remove(term_cart *cart, const char *sku, kassa_err *err)
{
    term_cart_line *l = cart_line(cart, sku, err);
    if (!l)
        return KASSA_ENOTFOUND;
    size_t i = (size_t)(l - cart->lines);
    memmove(l, l + 1, (cart->n_lines - i - 1) * sizeof *l);
    cart->n_lines--;
    return KASSA_OK;
}

int term_cart_price_override(term_cart *cart, const char *sku, int64_t unit_price,
                             const char *approver, kassa_err *err)
{
    term_cart_line *l = cart_line(cart, sku, err);
    if (!l)
        return KASSA_ENOTFOUND;
    if (unit_price < -1 || unit_price > PRICING_AMOUNT_MAX)
        return kassa_fail(err, KASSA_EINVAL, "%s: price out of range", sku);
    if (approver[0] && !kassa_valid_id(approver, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "invalid approver id");
    l->price_override = unit_price;
    snprintf(l->approver, sizeof l->approver, "%s", unit_price < 0 ? "" : approver);
    return KASSA_OK;
}

int term_cart_discount(term_cart *cart, const char *sku, pricing_discount_kind kind, int64_t value,
                       kassa_err *err)
{
    term_cart_line *l = cart_find(cart, sku);
    if (!l)
        return kassa_fail(err, KASSA_ENOTFOUND, "discount for %s, which is not in the sale", sku);
    l->discount_kind = kind;
    l->discount_value = value;
    return KASSA_OK;
}

/* ---- sale ---- */

typedef struct sale_ctx {
    const term_cart *cart;
    const term_tender *tender;
    term_sale_result *res;
} sale_ctx;

/* What pricing needs of an item: less than term_item_get, which also sums
 * the stock counter. */
static int item_price(term *t, const char *sku, int64_t *price, int32_t *rate_bp, kassa_err *err)
{
    static const char SQL[] = "SELECT price, tax_class FROM catalog WHERE sku = ?1";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, sku, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    char tax_class[KASSA_ID_MAX + 1] = "";
    if (rc == SQLITE_ROW) {
        *price = sqlite3_column_int64(st, 0);
        snprintf(tax_class, sizeof tax_class, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return kassa_fail(err, KASSA_ENOTFOUND, "unknown SKU \"%s\"", sku);
    if (rc != SQLITE_ROW)
        return store_error(&t->st, rc, "catalog", err);
    if (!tax_class[0])
        return kassa_fail(err, KASSA_EINVAL, "%s has no price or tax class yet", sku);
    return term_tax_rate(t, tax_class, rate_bp, err);
}

/* Prices a cart from this terminal's catalog and tax settings into the
 * resolved lines a sale records. */
static int price_cart(term *t, const term_cart *cart, oplog_sale *s, pricing_totals *totals,
                      kassa_err *err)
{
    pricing_line_in *in = t->work->price_in;
    pricing_line_out *out = t->work->price_out;
    int rc;
    if (cart->n_lines == 0 || cart->n_lines > OPLOG_SALE_LINES_MAX)
        return kassa_fail(err, KASSA_EINVAL, "a sale needs 1..%d lines", OPLOG_SALE_LINES_MAX);
    for (size_t i = 0; i < cart->n_lines; i++) {
        const term_cart_line *cl = &cart->lines[i];
        in[i] = (pricing_line_in){
            .qty = cl->qty,
            .discount_kind = cl->discount_kind,
            .discount_value = cl->discount_value,
        };
        if ((rc = item_price(t, cl->sku, &in[i].unit_price, &in[i].tax_rate_bp, err)) != KASSA_OK)
            return rc;
        if (cl->price_override >= 0)
            in[i].unit_price = cl->price_override;
    }
    if ((rc = pricing_compute(in, cart->n_lines, out, totals, err)) != KASSA_OK)
        return rc;
    s->n_lines = cart->n_lines;
    for (size_t i = 0; i < cart->n_lines; i++) {
        oplog_sale_line *l = &s->lines[i];
        snprintf(l->sku, sizeof l->sku, "%s", cart->lines[i].sku);
        l->qty = in[i].qty;
        l->unit_price = in[i].unit_price;
        l->discount = out[i].discount;
        l->tax = out[i].tax;
    }
    s->total = totals->total;
    s->tax = totals->tax;
    return KASSA_OK;
}

int term_cart_price(term *t, const term_cart *cart, oplog_sale *lines, pricing_totals *totals,
                    kassa_err *err)
{
    return price_cart(t, cart, lines, totals, err);
}

/* Each overridden price is an audit operation in the sale's transaction,
 * naming the supervisor who approved that line. */
static int audit_overrides(term *t, const term_cart *cart, kassa_err *err)
{
    term_actor saved = t->actor;
    int rc = KASSA_OK;
    for (size_t i = 0; rc == KASSA_OK && i < cart->n_lines; i++) {
        const term_cart_line *cl = &cart->lines[i];
        if (cl->price_override < 0)
            continue;
        if (t->actor.cashier[0] && !cl->approver[0]) {
            rc = kassa_fail(err, KASSA_EAUTH, "the price override of %s needs a supervisor",
                            cl->sku);
            break;
        }
        int64_t catalog_price;
        int32_t bp;
        if ((rc = item_price(t, cl->sku, &catalog_price, &bp, err)) != KASSA_OK)
            break;
        char was[MONEY_STR_SIZE], now[MONEY_STR_SIZE], detail[2 * MONEY_STR_SIZE + 16];
        money_format(catalog_price, was);
        money_format(cl->price_override, now);
        snprintf(detail, sizeof detail, "%s -> %s", was, now);
        snprintf(t->actor.supervisor, sizeof t->actor.supervisor, "%s", cl->approver);
        rc = term_audit_append(t, "price_override", cl->sku, detail, err);
    }
    t->actor = saved;
    return rc;
}

static int sale_tx(term *t, void *ctx, kassa_err *err)
{
    sale_ctx *c = ctx;
    term_sale_result *res = c->res;
    oplog_sale *s = &res->sale;
    const term_cart *cart = c->cart;
    /* Price inside the transaction, so the prices recorded are the ones in
     * force when the sale committed. */
    int rc = price_cart(t, cart, s, &res->totals, err);
    if (rc != KASSA_OK)
        return rc;
    const term_tender *tender = c->tender;
    int64_t card = tender->has_card ? tender->card.amount : 0, cash_due;
    char due[MONEY_STR_SIZE], given[MONEY_STR_SIZE];
    if (card > res->totals.total) {
        money_format(card, given);
        money_format(res->totals.total, due);
        return kassa_fail(err, KASSA_ECONFLICT, "card amount %s is more than the total %s", given,
                          due);
    }
    if ((rc = term_cash_round(t, res->totals.total - card, &cash_due, err)) != KASSA_OK)
        return rc;
    if (tender->cash < cash_due) {
        money_format(cash_due, due);
        money_format(tender->cash, given);
        return kassa_fail(err, KASSA_ECONFLICT, "payment %s is less than the %s %s", given,
                          card ? "cash due" : "total", due);
    }
    if ((rc = audit_overrides(t, cart, err)) != KASSA_OK)
        return rc;
    snprintf(s->cashier, sizeof s->cashier, "%s", t->actor.cashier);
    s->tendered = tender->cash;
    s->rounding = cash_due - (res->totals.total - card);
    s->has_card = tender->has_card;
    memset(&s->card, 0, sizeof s->card);
    if (tender->has_card) {
        s->card = tender->card;
        if ((rc = term_pay_sale_step(t, &s->card, err)) != KASSA_OK)
            return rc;
    }
    if (tender->override_by[0]) {
        term_actor saved = t->actor;
        snprintf(t->actor.supervisor, sizeof t->actor.supervisor, "%s", tender->override_by);
        rc = term_audit_append(t, "saf_override", s->card.payment_id, tender->override_detail, err);
        t->actor = saved;
        if (rc != KASSA_OK)
            return rc;
    }
    kbuf_reset(&t->scratch);
    oplog_encode_sale(&t->scratch, s);
    oplog_op op;
    if ((rc = term_append_local(t, OP_SALE, &t->scratch, &op, err)) != KASSA_OK)
        return rc;
    snprintf(res->ref.origin, sizeof res->ref.origin, "%s", t->node_id);
    res->ref.seq = op.seq;
    res->hlc = op.hlc;
    res->cash_due = cash_due;
    res->change = tender->cash - cash_due;
    return KASSA_OK;
}

int term_sale_tender(term *t, const term_cart *cart, const term_tender *tender,
                     term_sale_result *res, kassa_err *err)
{
    if (cart->n_lines == 0)
        return kassa_fail(err, KASSA_EINVAL, "a sale needs at least one line");
    if (tender->cash < 0 || tender->cash > PRICING_AMOUNT_MAX)
        return kassa_fail(err, KASSA_EOVERFLOW, "payment amount out of range");
    if (tender->has_card && (tender->card.amount <= 0 || tender->card.amount > PRICING_AMOUNT_MAX))
        return kassa_fail(err, KASSA_EOVERFLOW, "card amount out of range");
    if (tender->override_by[0] && !kassa_valid_id(tender->override_by, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "invalid manager id");
    sale_ctx c = {cart, tender, res};
    return term_in_tx(t, sale_tx, &c, err);
}

int term_sale(term *t, const term_cart *cart, int64_t tendered, term_sale_result *res,
              kassa_err *err)
{
    term_tender tender = {.cash = tendered};
    return term_sale_tender(t, cart, &tender, res, err);
}

/* ---- refunds to the original tenders ---- */

/* Splits a refund of `total` against sale (ref, s), after earlier returns
 * that refunded prev_refunded (before rounding): the card first, up to
 * what it paid minus what it has had back; the rest in cash, rounded. A
 * card part gets a refund id (a REFUND_DUE row) and sp says so. */
static int refund_split(term *t, const oplog_sale_ref *ref, const oplog_sale *s, int64_t total,
                        int64_t prev_refunded, bool whole_sale, oplog_refund_split *sp,
                        term_refund *out, kassa_err *err)
{
    int64_t prev_card = 0;
    memset(sp, 0, sizeof *sp);
    memset(out, 0, sizeof *out);
    out->total = total;
    char id[KASSA_ID_MAX + 24];
    oplog_sale_id(ref, id, sizeof id);
    int rc;
    if (s->has_card) {
        term_card_payment p;
        if ((rc = term_card_payment_get(t, s->card.payment_id, &p, err)) != KASSA_OK)
            return rc;
        if (p.outcome == OPLOG_PAY_DECLINED || p.outcome == OPLOG_PAY_EXPIRED)
            return kassa_fail(err, KASSA_ECONFLICT,
                              "sale %s: its offline card payment was %s when forwarded; it is "
                              "in the review list, not refundable here",
                              id, oplog_pay_outcome_name(p.outcome));
        prev_card = p.refunded;
        int64_t card_left = s->card.amount - p.refunded;
        sp->card_amount = card_left <= 0 ? 0 : (card_left < total ? card_left : total);
    }
    int64_t cash = total - sp->card_amount;
    if (whole_sale) {
        /* A void gives back exactly the cash the sale took. */
        sp->rounding = s->rounding;
    } else if (cash > 0) {
        /* Rounded cumulatively: the returns of a sale together hand back
         * the rounded sum of their cash, so returning items one by one
         * never pays out more than returning them at once. */
        int64_t before = prev_refunded - prev_card, upto, at;
        before = before < 0 ? 0 : before;
        if ((rc = term_cash_round(t, before + cash, &upto, err)) != KASSA_OK ||
            (rc = term_cash_round(t, before, &at, err)) != KASSA_OK)
            return rc;
        sp->rounding = (upto - at) - cash;
    }
    if (sp->card_amount > 0) {
        snprintf(sp->payment_id, sizeof sp->payment_id, "%s", s->card.payment_id);
        if ((rc = term_pay_insert(t, TERM_PAY_KIND_REFUND, TERM_PAY_REFUND_DUE, sp->card_amount,
                                  s->card.token, s->card.payment_id, sp->refund_id, err)) !=
            KASSA_OK)
            return rc;
        snprintf(out->refund_id, sizeof out->refund_id, "%s", sp->refund_id);
        snprintf(out->last4, sizeof out->last4, "%s", s->card.last4);
        snprintf(out->brand, sizeof out->brand, "%s", s->card.brand);
    }
    out->card = sp->card_amount;
    out->cash = oplog_refund_cash(total, sp);
    return KASSA_OK;
}

/* ---- void ---- */

typedef struct void_ctx {
    const oplog_sale_ref *ref;
    term_refund refund;
} void_ctx;

/* A cashier's void or return needs a supervisor's approval; the operator's
 * CLI (no cashier) acts on its own authority. Both are audited. */
static int supervised(term *t, const char *what, kassa_err *err)
{
    if (t->actor.cashier[0] && !t->actor.supervisor[0])
        return kassa_fail(err, KASSA_EAUTH, "%s needs a supervisor", what);
    return KASSA_OK;
}

static int void_tx(term *t, void *ctx, kassa_err *err)
{
    void_ctx *c = ctx;
    term_sale_info info;
    oplog_sale *sale = &t->work->action_sale;
    int rc = term_sale_get(t, c->ref, &info, sale, err);
    /* Returned units, not refunded cash: a free item can come back too. */
    int64_t returned = 0;
    for (size_t i = 0; rc == KASSA_OK && i < sale->n_lines && returned == 0; i++)
        rc = term_sale_returned(t, c->ref, sale->lines[i].sku, &returned, err);
    if (rc != KASSA_OK)
        return rc;
    char id[KASSA_ID_MAX + 24];
    oplog_sale_id(c->ref, id, sizeof id);
    if (info.voided)
        return kassa_fail(err, KASSA_ECONFLICT, "sale %s is already voided", id);
    if (returned > 0)
        return kassa_fail(err, KASSA_ECONFLICT,
                          "sale %s has returns: return the remaining items instead", id);
    if ((rc = supervised(t, "a void", err)) != KASSA_OK ||
        (rc = term_audit_append(t, "void", id, t->actor.reason, err)) != KASSA_OK)
        return rc;
    oplog_void v = {.sale = *c->ref, .refund = info.total};
    if ((rc = refund_split(t, c->ref, sale, info.total, 0, true, &v.split, &c->refund, err)) !=
        KASSA_OK)
        return rc;
    kbuf_reset(&t->scratch);
    oplog_encode_void(&t->scratch, &v);
    return term_append_local(t, OP_VOID, &t->scratch, NULL, err);
}

int term_void_ex(term *t, const oplog_sale_ref *sale, term_refund *refund, kassa_err *err)
{
    void_ctx c = {.ref = sale};
    int rc = term_in_tx(t, void_tx, &c, err);
    if (rc == KASSA_OK && refund)
        *refund = c.refund;
    return rc;
}

int term_void(term *t, const oplog_sale_ref *sale, int64_t *refund, kassa_err *err)
{
    term_refund r;
    int rc = term_void_ex(t, sale, &r, err);
    if (rc == KASSA_OK && refund)
        *refund = r.total;
    return rc;
}

/* ---- return ---- */

typedef struct return_ctx {
    const oplog_sale_ref *ref;
    const term_return_req *req;
    oplog_sale_ref return_ref;
    term_refund refund;
} return_ctx;

static const oplog_sale_line *sale_line(const oplog_sale *s, const char *sku)
{
    for (size_t i = 0; i < s->n_lines; i++)
        if (strcmp(s->lines[i].sku, sku) == 0)
            return &s->lines[i];
    return NULL;
}

static int return_tx(term *t, void *ctx, kassa_err *err)
{
    return_ctx *c = ctx;
    term_sale_info info;
    char id[KASSA_ID_MAX + 24];
    oplog_sale_id(c->ref, id, sizeof id);
    oplog_sale *sale = &t->work->action_sale;
    int rc = term_sale_get(t, c->ref, &info, sale, err);
    if (rc != KASSA_OK)
        return rc;
    if (info.voided)
        return kassa_fail(err, KASSA_ECONFLICT, "sale %s is voided: nothing to return", id);
    oplog_return *ret = &t->work->action_return;
    ret->sale = *c->ref;
    ret->n_lines = c->req->n_lines;
    ret->refund = 0;
    for (size_t i = 0; i < c->req->n_lines; i++) {
        const char *sku = c->req->lines[i].sku;
        int64_t qty = c->req->lines[i].qty;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->req->lines[j].sku, sku) == 0)
                return kassa_fail(err, KASSA_EINVAL, "%s listed twice in the return", sku);
        const oplog_sale_line *l = sale_line(sale, sku);
        if (!l)
            return kassa_fail(err, KASSA_ENOTFOUND, "sale %s has no %s", id, sku);
        int64_t returned;
        if ((rc = term_sale_returned(t, c->ref, sku, &returned, err)) != KASSA_OK)
            return rc;
        if (qty <= 0)
            return kassa_fail(err, KASSA_EINVAL, "%s: quantity must be positive", sku);
        if (returned + qty > l->qty)
            return kassa_fail(err, KASSA_ECONFLICT,
                              "cannot return %lld of %s: sale %s sold %lld, %lld already returned",
                              (long long)qty, sku, id, (long long)l->qty, (long long)returned);
        oplog_return_line *rl = &ret->lines[i];
        snprintf(rl->sku, sizeof rl->sku, "%s", sku);
        rl->qty = qty;
        if ((rc = pricing_refund(oplog_line_total(l), l->qty, returned, qty, &rl->refund, err)) !=
            KASSA_OK)
            return rc;
        ret->refund += rl->refund;
    }
    char detail[OPLOG_AUDIT_DETAIL_MAX + 1], money[MONEY_STR_SIZE];
    money_format(ret->refund, money);
    snprintf(detail, sizeof detail, "refund %s%s%.200s", money, t->actor.reason[0] ? "; " : "",
             t->actor.reason);
    if ((rc = supervised(t, "a return", err)) != KASSA_OK ||
        (rc = term_audit_append(t, "return", id, detail, err)) != KASSA_OK ||
        (rc = refund_split(t, c->ref, sale, ret->refund, info.refunded, false, &ret->split,
                           &c->refund, err)) != KASSA_OK)
        return rc;
    kbuf_reset(&t->scratch);
    oplog_encode_return(&t->scratch, ret);
    oplog_op op;
    if ((rc = term_append_local(t, OP_RETURN, &t->scratch, &op, err)) != KASSA_OK)
        return rc;
    snprintf(c->return_ref.origin, sizeof c->return_ref.origin, "%s", op.origin);
    c->return_ref.seq = op.seq;
    return KASSA_OK;
}

int term_return_ex(term *t, const oplog_sale_ref *sale, const term_return_req *req,
                   oplog_sale_ref *return_ref, term_refund *refund, kassa_err *err)
{
    if (req->n_lines == 0 || req->n_lines > OPLOG_SALE_LINES_MAX)
        return kassa_fail(err, KASSA_EINVAL, "a return needs 1..%d lines", OPLOG_SALE_LINES_MAX);
    return_ctx c = {.ref = sale, .req = req};
    int rc = term_in_tx(t, return_tx, &c, err);
    if (rc == KASSA_OK) {
        if (return_ref)
            *return_ref = c.return_ref;
        if (refund)
            *refund = c.refund;
    }
    return rc;
}

int term_return(term *t, const oplog_sale_ref *sale, const term_return_req *req,
                oplog_sale_ref *return_ref, int64_t *refund, kassa_err *err)
{
    term_refund r;
    int rc = term_return_ex(t, sale, req, return_ref, &r, err);
    if (rc == KASSA_OK && refund)
        *refund = r.total;
    return rc;
}

/* ---- stock ---- */

typedef struct stock_ctx {
    int kind;
    oplog_stock s;
} stock_ctx;

static int stock_tx(term *t, void *ctx, kassa_err *err)
{
    stock_ctx *c = ctx;
    term_item it;
    int rc = term_item_get(t, c->s.sku, &it, err);
    if (rc != KASSA_OK)
        return rc;
    if (c->kind == OP_STOCK_COUNT) {
        c->s.delta = c->s.qty - it.stock;
        if (c->s.delta > OPLOG_STOCK_DELTA_MAX || c->s.delta < -OPLOG_STOCK_DELTA_MAX)
            return kassa_fail(err, KASSA_EOVERFLOW,
                              "%s: count differs from stock %lld by more "
                              "than %lld units",
                              c->s.sku, (long long)it.stock, (long long)OPLOG_STOCK_DELTA_MAX);
    }
    kbuf_reset(&t->scratch);
    oplog_encode_stock(&t->scratch, &c->s);
    return term_append_local(t, c->kind, &t->scratch, NULL, err);
}

static int stock_op(term *t, int kind, const char *sku, int64_t qty, int64_t *delta, kassa_err *err)
{
    if (!kassa_valid_id(sku, KASSA_SKU_MAX))
        return kassa_fail(err, KASSA_EINVAL, "invalid SKU \"%s\"", sku);
    if (qty < (kind == OP_STOCK_COUNT ? 0 : 1) || qty > PRICING_QTY_MAX)
        return kassa_fail(err, KASSA_EINVAL, "%s: quantity must be %d..%lld", sku,
                          kind == OP_STOCK_COUNT ? 0 : 1, (long long)PRICING_QTY_MAX);
    stock_ctx c = {.kind = kind, .s = {.qty = qty}};
    snprintf(c.s.sku, sizeof c.s.sku, "%s", sku);
    int rc = term_in_tx(t, stock_tx, &c, err);
    if (rc == KASSA_OK && delta)
        *delta = c.s.delta;
    return rc;
}

int term_stock_receive(term *t, const char *sku, int64_t qty, kassa_err *err)
{
    return stock_op(t, OP_STOCK_RECEIVE, sku, qty, NULL, err);
}

int term_stock_count(term *t, const char *sku, int64_t counted, int64_t *delta, kassa_err *err)
{
    return stock_op(t, OP_STOCK_COUNT, sku, counted, delta, err);
}
