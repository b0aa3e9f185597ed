/* h_cart.c: carts, their lines, and checkout.
 *
 * Every change is made on a copy of the cart (app->stage) and priced with
 * term_cart_price; only a copy that prices is kept, so a refused change
 * leaves the cart exactly as it was. The totals returned are always the
 * terminal's own pricing of the cart as it now stands. */
#include "jlog/jlog.h"
#include "kassad/auth.h"
#include "kassad/clock.h"
#include "kassad/batch.h"
#include "kassad/fraud.h"
#include "kassad/handlers.h"
#include "kassad/pay.h"
#include "kassad/reply.h"

#include <stdio.h>
#include <string.h>

/* ---- shared steps ---- */

/* The caller's cart named in the path, or NULL when answered 404 (another
 * cashier's cart is "not found" too: its id tells nothing). */
static kd_cart *find_cart(kd_req *r)
{
    kd_cart *c =
        kd_carts_find(&r->app->carts, kd_req_param(r, 0), r->session->cashier.id, kd_mono_ms());
    if (!c)
        kd_reply_error(r, 404, KD_E_NOT_FOUND, "no such cart");
    return c;
}

/* find_cart for a change: refused while a card payment for the cart is
 * in progress (the customer pays for what the cart held then). */
static kd_cart *find_idle_cart(kd_req *r)
{
    kd_cart *c = find_cart(r);
    if (c && c->paying) {
        kd_reply_error(r, 409, KD_E_CONFLICT, "a card payment for this cart is in progress");
        return NULL;
    }
    return c;
}

/* Prices cart into app->priced; an empty cart costs nothing. */
static int price(kd_app *app, const term_cart *cart, pricing_totals *totals, kassa_err *err)
{
    memset(totals, 0, sizeof *totals);
    app->priced->n_lines = 0;
    if (cart->n_lines == 0)
        return KASSA_OK;
    return term_cart_price(app->t, cart, app->priced, totals, err);
}

static json_t *line_json(kd_app *app, const term_cart_line *cl, const oplog_sale_line *pl)
{
    term_item it;
    kassa_err err;
    /* The catalog name as it is now; a line whose item cannot be read
     * (it just priced, so this is a database hiccup) shows no name. */
    if (term_item_get(app->t, cl->sku, &it, &err) != KASSA_OK)
        it.name[0] = '\0';
    return json_pack("{s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:b}", "sku", cl->sku, "name",
                     kd_json_text(it.name), "qty", (json_int_t)cl->qty, "unit_price_minor",
                     (json_int_t)pl->unit_price, "discount_minor", (json_int_t)pl->discount,
                     "tax_minor", (json_int_t)pl->tax, "total_minor",
                     (json_int_t)oplog_line_total(pl), "price_overridden", cl->price_override >= 0);
}

/* The Cart schema, from a cart and its pricing in app->priced. */
static json_t *cart_json(kd_app *app, const kd_cart *c, const pricing_totals *t)
{
    json_t *lines = json_array();
    for (size_t i = 0; lines && i < c->cart.n_lines; i++) {
        if (json_array_append_new(lines,
                                  line_json(app, &c->cart.lines[i], &app->priced->lines[i])) != 0) {
            json_decref(lines);
            return NULL;
        }
    }
    /* What the whole cart costs in cash, by the cash rounding rule (the
     * total when the rule cannot be read: the checkout checks again). */
    int64_t cash_total = t->total;
    kassa_err err;
    if (term_cash_round(app->t, t->total, &cash_total, &err) != KASSA_OK)
        cash_total = t->total;
    return json_pack("{s:s,s:o,s:I,s:I,s:I,s:I,s:I}", "cart_id", c->id, "lines", lines,
                     "subtotal_minor", (json_int_t)t->subtotal, "discount_minor",
                     (json_int_t)t->discount, "tax_minor", (json_int_t)t->tax, "total_minor",
                     (json_int_t)t->total, "cash_total_minor", (json_int_t)cash_total);
}

/* Keeps a priced candidate as the cart and answers with it. */
static void keep(kd_req *r, kd_cart *c, const term_cart *candidate, const pricing_totals *t,
                 int status)
{
    if (candidate != &c->cart)
        term_cart_copy(&c->cart, candidate);
    kd_reply_json(r, status, cart_json(r->app, c, t));
}

/* Prices a candidate; keeps it and answers, or answers why not. */
static void price_and_keep(kd_req *r, kd_cart *c, const term_cart *candidate, int status)
{
    pricing_totals t;
    kassa_err err;
    if (price(r->app, candidate, &t, &err) != KASSA_OK)
        kd_reply_kassa(r, &err);
    else
        keep(r, c, candidate, &t, status);
}

/* A working copy of the cart to change. */
static term_cart *stage(kd_app *app, const kd_cart *c)
{
    term_cart_copy(app->stage, &c->cart);
    return app->stage;
}

term_cart *kd_cart_stage(kd_app *app, const kd_cart *c)
{
    return stage(app, c);
}

void kd_cart_price_and_keep(kd_req *r, kd_cart *c, const term_cart *candidate, int status)
{
    price_and_keep(r, c, candidate, status);
}

/* ---- carts ---- */

void h_cart_open(kd_req *r)
{
    json_t *body = kd_req_body(r, NULL);
    if (!body)
        return;
    json_decref(body);
    kd_cart *c;
    kassa_err err;
    if (kd_carts_open(&r->app->carts, r->session->cashier.id, kd_mono_ms(), &c, &err) != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    price_and_keep(r, c, &c->cart, 201);
}

void h_cart_get(kd_req *r)
{
    kd_cart *c = find_cart(r);
    if (c)
        price_and_keep(r, c, &c->cart, 200);
}

void h_cart_delete(kd_req *r)
{
    kd_cart *c = find_idle_cart(r);
    if (!c)
        return;
    kd_fraud_cart_changed(r->app, r->session->cashier.id, &c->cart, NULL); /* lines voided */
    kd_carts_close(&r->app->carts, c);
    kd_reply_empty(r, 204);
}

/* ---- lines ---- */

static const kd_field ADD_FIELDS[] = {
    {"sku", KD_T_STRING, false, KD_ANY_LENGTH, NULL},
    {"barcode", KD_T_STRING, false, KD_ANY_LENGTH, NULL},
    {"qty", KD_T_INT, false, 1, PRICING_QTY_MAX, NULL},
};
static const kd_schema ADD = KD_SCHEMA(ADD_FIELDS);

void h_cart_line_add(kd_req *r)
{
    kd_app *app = r->app;
    kd_cart *c = find_idle_cart(r);
    json_t *body = c ? kd_req_body(r, &ADD) : NULL;
    if (!body)
        return;
    const char *sku = kd_json_str(body, "sku"), *barcode = kd_json_str(body, "barcode");
    int64_t qty = 1;
    kd_json_int(body, "qty", &qty);
    term_item it;
    kassa_err err;
    int rc = KASSA_OK;
    if (!sku == !barcode)
        rc = kassa_fail(&err, KASSA_EINVAL, "give either sku or barcode");
    else if (sku)
        rc = term_item_get(app->t, sku, &it, &err);
    else
        rc = term_item_by_barcode(app->t, barcode, &it, &err);
    json_decref(body);
    term_cart *next = stage(app, c);
    if (rc == KASSA_OK)
        rc = term_cart_add(next, it.sku, qty, &err);
    if (rc != KASSA_OK)
        kd_reply_kassa(r, &err);
    else
        price_and_keep(r, c, next, 200);
}

static const kd_field DISCOUNT_FIELDS[] = {
    {"percent", KD_T_STRING, false, KD_ANY_LENGTH, NULL},
    {"amount_minor", KD_T_INT, false, 0, PRICING_AMOUNT_MAX, NULL},
};
static const kd_schema DISCOUNT = KD_SCHEMA(DISCOUNT_FIELDS);

static const kd_field PATCH_FIELDS[] = {
    {"qty", KD_T_INT, false, 1, PRICING_QTY_MAX, NULL},
    {"discount", KD_T_OBJECT, false, 0, 0, &DISCOUNT},
    {"price_override_minor", KD_T_INT, false, 0, PRICING_AMOUNT_MAX, NULL},
    {"supervisor", KD_T_OBJECT, false, 0, 0, &KD_SUPERVISOR_SCHEMA},
};
static const kd_schema PATCH = KD_SCHEMA(PATCH_FIELDS);

/* {"percent": "12.5"}, {"amount_minor": 150} or {} (no discount). */
static int apply_discount(term_cart *cart, const char *sku, const json_t *d, kassa_err *err)
{
    const char *percent = kd_json_str(d, "percent");
    int64_t amount;
    bool has_amount = kd_json_int(d, "amount_minor", &amount);
    if (percent && has_amount)
        return kassa_fail(err, KASSA_EINVAL, "discount: give percent or amount_minor, not both");
    if (has_amount)
        return term_cart_discount(cart, sku, PRICING_DISCOUNT_AMOUNT, amount, err);
    if (!percent)
        return term_cart_discount(cart, sku, PRICING_DISCOUNT_NONE, 0, err);
    int32_t bp;
    int rc = percent_parse(percent, &bp, err);
    return rc != KASSA_OK ? rc : term_cart_discount(cart, sku, PRICING_DISCOUNT_PERCENT, bp, err);
}

/* Applies the body's changes to a staged cart. */
static int apply_patch(term_cart *next, const char *sku, const json_t *body, kassa_err *err)
{
    int64_t qty, price_override;
    const json_t *discount = json_object_get(body, "discount");
    bool has_qty = kd_json_int(body, "qty", &qty);
    bool has_override = kd_json_int(body, "price_override_minor", &price_override);
    if (!has_qty && !discount && !has_override)
        return kassa_fail(err, KASSA_EINVAL,
                          "nothing to change: give qty, discount or price_override_minor");
    int rc = KASSA_OK;
    if (has_qty)
        rc = term_cart_set_qty(next, sku, qty, err);
    if (rc == KASSA_OK && discount)
        rc = apply_discount(next, sku, discount, err);
    if (rc == KASSA_OK && has_override)
        /* The approver is set once the supervisor is checked. */
        rc = term_cart_price_override(next, sku, price_override, "", err);
    return rc;
}

void h_cart_line_patch(kd_req *r)
{
    kd_app *app = r->app;
    kd_cart *c = find_idle_cart(r);
    json_t *body = c ? kd_req_body(r, &PATCH) : NULL;
    if (!body)
        return;
    const char *sku = kd_req_param(r, 1);
    const json_t *supervisor = json_object_get(body, "supervisor");
    bool overrides = json_object_get(body, "price_override_minor") != NULL;
    term_cart *next = stage(app, c);
    pricing_totals t;
    kassa_err err;
    term_cashier approver;
    int rc = apply_patch(next, sku, body, &err);
    if (rc == KASSA_OK)
        rc = price(app, next, &t, &err);
    if (rc != KASSA_OK) {
        kd_reply_kassa(r, &err);
    } else if (overrides && !supervisor) {
        kd_reply_error(r, 403, KD_E_FORBIDDEN,
                       "a price override needs a supervisor's approval (supervisor: {id, pin})");
    } else if (!overrides || kd_auth_approve(r, supervisor, &approver) == 0) {
        /* Only now, approved, does the override reach the cart. */
        int64_t price_override = 0;
        if (overrides && kd_json_int(body, "price_override_minor", &price_override) &&
            term_cart_price_override(next, sku, price_override, approver.id, &err) != KASSA_OK) {
            kd_reply_kassa(r, &err);
            json_decref(body);
            return;
        }
        if (overrides) {
            jlog(JLOG_INFO, "cart", "price_override", "{s:s,s:s,s:s}", "sku", sku, "cashier",
                 r->session->cashier.id, "supervisor", approver.id);
            kd_fraud_price_override(app, r->session->cashier.id, sku, price_override);
        }
        kd_fraud_cart_changed(app, r->session->cashier.id, &c->cart, next); /* qty lowered */
        keep(r, c, next, &t, 200);
    }
    json_decref(body);
}

void h_cart_line_delete(kd_req *r)
{
    kd_cart *c = find_idle_cart(r);
    if (!c)
        return;
    term_cart *next = stage(r->app, c);
    kassa_err err;
    if (term_cart_remove(next, kd_req_param(r, 1), &err) != KASSA_OK) {
        kd_reply_kassa(r, &err);
    } else {
        kd_fraud_cart_changed(r->app, r->session->cashier.id, &c->cart, next); /* a line void */
        price_and_keep(r, c, next, 200);
    }
}

/* ---- checkout ---- */

static const kd_field CHECKOUT_FIELDS[] = {
    {"tendered_minor", KD_T_INT, true, 0, PRICING_AMOUNT_MAX, NULL},
    {"card_minor", KD_T_INT, false, 1, PRICING_AMOUNT_MAX, NULL},
    {"manager", KD_T_OBJECT, false, 0, 0, &KD_SUPERVISOR_SCHEMA},
    /* approves a sale the fraud scorer sends to a supervisor (fraud.h) */
    {"supervisor", KD_T_OBJECT, false, 0, 0, &KD_SUPERVISOR_SCHEMA},
};
static const kd_schema CHECKOUT = KD_SCHEMA(CHECKOUT_FIELDS);

void h_cart_checkout(kd_req *r)
{
    kd_app *app = r->app;
    kd_cart *c = find_idle_cart(r);
    /* Paid twice in one pass: the first payment commits, the second finds
     * no cart. */
    if (c && kd_batch_holds(app, c)) {
        kd_batch_commit(app);
        c = find_cart(r);
    }
    json_t *body = c ? kd_req_body(r, &CHECKOUT) : NULL;
    if (!body)
        return;
    int64_t tendered = 0, card = 0;
    kd_json_int(body, "tendered_minor", &tendered);
    kd_json_int(body, "card_minor", &card);
    const json_t *manager = json_object_get(body, "manager");
    if (c->cart.n_lines == 0) {
        json_decref(body);
        kd_reply_error(r, 409, KD_E_CONFLICT, "the cart is empty");
        return;
    }
    /* The fraud scorer decides before anything is recorded (fraud.h). */
    if (kd_fraud_checkout(r, c, card, json_object_get(body, "supervisor")) != 0) {
        json_decref(body);
        return;
    }
    if (card > 0) {
        /* Going beyond the offline limits needs a manager, checked now. */
        term_cashier approver;
        if (manager && kd_auth_approve(r, manager, &approver) != 0) {
            json_decref(body);
            return;
        }
        json_decref(body);
        if (manager && approver.role < TERM_ROLE_MANAGER) {
            kd_reply_error(r, 403, KD_E_FORBIDDEN,
                           "%s is a %s: only a manager may allow an offline payment beyond "
                           "the limits",
                           approver.id, term_role_name(approver.role));
            return;
        }
        kd_pay_checkout(r, c, tendered, card, manager ? approver.id : NULL);
        return;
    }
    json_decref(body);
    /* term_sale audits each overridden price under the supervisor who
     * approved that line (kept on the line). */
    term_sale_result *res = app->result;
    kassa_err err;
    /* The sale joins this pass's group commit (batch.h): it is durable,
     * and answered, when the batch commits. */
    if (kd_batch_join(app, &err) != KASSA_OK ||
        term_sale(app->t, &c->cart, tendered, res, &err) != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    char id[KASSA_ID_MAX + 24];
    oplog_sale_id(&res->ref, id, sizeof id);
    jlog(JLOG_INFO, "sale", "sale", "{s:s,s:s,s:I,s:I}", "sale_id", id, "cashier",
         res->sale.cashier, "total_minor", (json_int_t)res->totals.total, "lines",
         (json_int_t)res->sale.n_lines);
    kd_fraud_sold(app, c, &res->ref);
    term_sale_info info = {.ref = res->ref, .hlc = res->hlc, .total = res->totals.total};
    kd_batch_defer(r, kd_json_sale(app, &res->ref, &info, &res->sale), c);
}
