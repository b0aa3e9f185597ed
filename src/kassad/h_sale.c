/* h_sale.c: reading sales; voids, returns and the no-sale drawer open,
 * each approved by a supervisor in the same request. */
#include "jlog/jlog.h"
#include "kassad/auth.h"
#include "kassad/fraud.h"
#include "kassad/handlers.h"
#include "kassad/pay.h"
#include "kassad/reply.h"

#include <stdio.h>
#include <string.h>

#define SALES_LIMIT_MAX 500
#define SALES_LIMIT_DEFAULT 50
#define SALE_ID_SIZE (KASSA_ID_MAX + 24)
#define REASON_MAX_BYTES 200

_Static_assert(sizeof(((term_actor *)0)->reason) > REASON_MAX_BYTES, "reason must fit the actor");

static json_t *sale_lines_json(const oplog_sale *sale)
{
    json_t *lines = json_array();
    for (size_t i = 0; lines && i < sale->n_lines; i++) {
        const oplog_sale_line *l = &sale->lines[i];
        json_t *line =
            json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "sku", l->sku, "qty", (json_int_t)l->qty,
                      "unit_price_minor", (json_int_t)l->unit_price, "discount_minor",
                      (json_int_t)l->discount, "tax_minor", (json_int_t)l->tax, "total_minor",
                      (json_int_t)oplog_line_total(l));
        if (json_array_append_new(lines, line) != 0) {
            json_decref(lines);
            return NULL;
        }
    }
    return lines;
}

/* The receipt as a JSON string; "" when it cannot be produced (the sale
 * itself is recorded: the receipt can be asked for again). */
static json_t *receipt_json(kd_app *app, const oplog_sale_ref *ref, const char *id)
{
    kassa_err err;
    kbuf_reset(&app->text);
    json_t *s = NULL;
    if (term_receipt(app->t, ref, &app->text, &err) != KASSA_OK)
        jlog(JLOG_ERROR, "sale", "receipt_failed", "{s:s,s:s}", "sale_id", id, "error", err.msg);
    else if (!app->text.oom)
        s = json_stringn((const char *)app->text.data, app->text.len);
    return s ? s : json_string("");
}

/* The CardPayment schema: the sale's card tender and what became of it. */
json_t *kd_json_card(kd_app *app, const oplog_card_tender *c)
{
    term_card_payment cp;
    kassa_err err;
    const char *status = c->mode == OPLOG_CARD_ONLINE ? "approved" : "stored";
    int64_t refunded = 0;
    const char *auth_code = c->auth_code;
    if (term_card_payment_get(app->t, c->payment_id, &cp, &err) == KASSA_OK) {
        refunded = cp.refunded;
        if (cp.outcome)
            status = oplog_pay_outcome_name(cp.outcome);
        if (!auth_code[0]) /* an offline payment's code comes when forwarded */
            auth_code = cp.auth_code;
    }
    return json_pack("{s:s,s:I,s:s,s:s,s:i,s:i,s:s,s:s,s:s,s:I}", "payment_id", c->payment_id,
                     "amount_minor", (json_int_t)c->amount, "brand", c->brand, "last4", c->last4,
                     "exp_month", c->exp_month, "exp_year", c->exp_year, "mode",
                     c->mode == OPLOG_CARD_ONLINE ? "online" : "offline", "auth_code", auth_code,
                     "status", status, "refunded_minor", (json_int_t)refunded);
}

json_t *kd_json_sale(kd_app *app, const oplog_sale_ref *ref, const term_sale_info *info,
                     const oplog_sale *sale)
{
    char id[SALE_ID_SIZE];
    oplog_sale_id(ref, id, sizeof id);
    int64_t cash_due = oplog_sale_cash_due(sale);
    return json_pack("{s:s,s:I,s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:b,s:I,s:b,s:o}", "sale_id", id,
                     "time_ms", (json_int_t)hlc_physical_ms(info->hlc), "cashier_id", sale->cashier,
                     "lines", sale_lines_json(sale), "tax_minor", (json_int_t)sale->tax,
                     "total_minor", (json_int_t)sale->total, "tendered_minor",
                     (json_int_t)sale->tendered, "cash_due_minor", (json_int_t)cash_due,
                     "rounding_minor", (json_int_t)sale->rounding, "change_minor",
                     (json_int_t)(sale->tendered - cash_due), "card",
                     sale->has_card ? kd_json_card(app, &sale->card) : json_null(), "voided",
                     info->voided, "refunded_minor", (json_int_t)info->refunded, "conflict",
                     info->conflict, "receipt_text", receipt_json(app, ref, id));
}

/* Where a refund went (voids and returns). */
static json_t *refund_json(const term_refund *rf)
{
    return json_pack("{s:I,s:I,s:I,s:s,s:s,s:s}", "refund_minor", (json_int_t)rf->total,
                     "refund_cash_minor", (json_int_t)rf->cash, "refund_card_minor",
                     (json_int_t)rf->card, "card_refund_id", rf->refund_id, "card_last4", rf->last4,
                     "card_brand", rf->brand);
}

static json_t *summary_json(const term_sale_info *s)
{
    char id[SALE_ID_SIZE];
    oplog_sale_id(&s->ref, id, sizeof id);
    return json_pack("{s:s,s:I,s:I,s:b,s:I,s:b}", "sale_id", id, "time_ms",
                     (json_int_t)hlc_physical_ms(s->hlc), "total_minor", (json_int_t)s->total,
                     "voided", s->voided, "refunded_minor", (json_int_t)s->refunded, "conflict",
                     s->conflict);
}

static int add_summary(const term_sale_info *s, void *ctx)
{
    return json_array_append_new(ctx, summary_json(s)) == 0 ? KASSA_OK : KASSA_ENOMEM;
}

void h_sales_list(kd_req *r)
{
    int64_t limit;
    if (kd_req_arg_int(r, "limit", 1, SALES_LIMIT_MAX, SALES_LIMIT_DEFAULT, &limit) != 0)
        return;
    json_t *sales = json_array();
    kassa_err err;
    int rc = sales ? term_sales_recent(r->app->t, (size_t)limit, add_summary, sales, &err)
                   : KASSA_ENOMEM;
    kd_reply_list(r, "sales", sales, rc, &err);
}

/* The sale named in the path, and its id written the canonical way; -1
 * when answered 404 (a malformed id names no sale either). */
static int sale_ref(kd_req *r, oplog_sale_ref *ref, char id[SALE_ID_SIZE])
{
    kassa_err err;
    if (oplog_parse_sale_id(kd_req_param(r, 0), ref, &err) == KASSA_OK) {
        oplog_sale_id(ref, id, SALE_ID_SIZE);
        return 0;
    }
    kd_reply_error(r, 404, KD_E_NOT_FOUND, "no such sale");
    return -1;
}

void h_sale_get(kd_req *r)
{
    oplog_sale_ref ref;
    char id[SALE_ID_SIZE];
    if (sale_ref(r, &ref, id) != 0)
        return;
    term_sale_info info;
    kassa_err err;
    if (term_sale_get(r->app->t, &ref, &info, r->app->sale, &err) != KASSA_OK)
        kd_reply_kassa(r, &err);
    else
        kd_reply_json(r, 200, kd_json_sale(r->app, &ref, &info, r->app->sale));
}

/* ---- supervised actions ---- */

/* Reads a supervised action's body and approves it: the body (caller
 * frees) with the supervisor and the reason set as this request's actor,
 * or NULL when answered. */
static json_t *supervised_body(kd_req *r, const kd_schema *schema)
{
    json_t *body = kd_req_body(r, schema);
    if (!body)
        return NULL;
    term_cashier approver;
    if (kd_auth_approve(r, json_object_get(body, "supervisor"), &approver) != 0) {
        json_decref(body);
        return NULL;
    }
    const char *reason = kd_json_str(body, "reason");
    term_actor *a = &r->app->t->actor;
    snprintf(a->reason, sizeof a->reason, "%s", reason ? reason : "");
    return body;
}

static void log_action(kd_req *r, const char *event, const char *subject, int64_t refund)
{
    const term_actor *a = &r->app->t->actor;
    jlog(JLOG_INFO, "sale", event, "{s:s,s:s,s:s,s:I}", "subject", subject, "cashier", a->cashier,
         "supervisor", a->supervisor, "refund_minor", (json_int_t)refund);
}

static const kd_field VOID_FIELDS[] = {
    {"supervisor", KD_T_OBJECT, true, 0, 0, &KD_SUPERVISOR_SCHEMA},
    {"reason", KD_T_STRING, false, 0, REASON_MAX_BYTES, NULL},
};
static const kd_schema VOID = KD_SCHEMA(VOID_FIELDS);

void h_sale_void(kd_req *r)
{
    oplog_sale_ref ref;
    char id[SALE_ID_SIZE];
    json_t *body = sale_ref(r, &ref, id) == 0 ? supervised_body(r, &VOID) : NULL;
    if (!body)
        return;
    json_decref(body);
    term_refund rf;
    kassa_err err;
    kd_fraud_void(r, &ref); /* scored before it runs (fraud.h) */
    if (term_void_ex(r->app->t, &ref, &rf, &err) != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    kd_fraud_action_done(r, id);
    log_action(r, "void", id, rf.total);
    if (rf.card > 0)
        kd_pay_nudge(r->app);
    json_t *out = refund_json(&rf);
    if (out && json_object_set_new(out, "sale_id", json_string(id)) != 0) {
        json_decref(out);
        out = NULL;
    }
    kd_reply_json(r, 200, out);
}

static const kd_field RETURN_LINE_FIELDS[] = {
    {"sku", KD_T_STRING, true, KD_ANY_LENGTH, NULL},
    {"qty", KD_T_INT, true, 1, PRICING_QTY_MAX, NULL},
};
static const kd_schema RETURN_LINE = KD_SCHEMA(RETURN_LINE_FIELDS);

static const kd_field RETURN_FIELDS[] = {
    {"lines", KD_T_ARRAY, true, 1, OPLOG_SALE_LINES_MAX, &RETURN_LINE},
    {"supervisor", KD_T_OBJECT, true, 0, 0, &KD_SUPERVISOR_SCHEMA},
    {"reason", KD_T_STRING, false, 0, REASON_MAX_BYTES, NULL},
};
static const kd_schema RETURN = KD_SCHEMA(RETURN_FIELDS);

void h_sale_return(kd_req *r)
{
    kd_app *app = r->app;
    oplog_sale_ref ref;
    char id[SALE_ID_SIZE];
    json_t *body = sale_ref(r, &ref, id) == 0 ? supervised_body(r, &RETURN) : NULL;
    if (!body)
        return;
    const json_t *lines = json_object_get(body, "lines");
    term_return_req *req = app->ret;
    req->n_lines = json_array_size(lines);
    for (size_t i = 0; i < req->n_lines; i++) {
        const json_t *l = json_array_get(lines, i);
        snprintf(req->lines[i].sku, sizeof req->lines[i].sku, "%s", kd_json_str(l, "sku"));
        kd_json_int(l, "qty", &req->lines[i].qty);
    }
    json_decref(body);
    oplog_sale_ref ret_ref;
    term_refund rf;
    kassa_err err;
    kd_fraud_return(r, &ref, req); /* scored before it runs (fraud.h) */
    if (term_return_ex(app->t, &ref, req, &ret_ref, &rf, &err) != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    kd_fraud_action_done(r, id);
    char ret_id[SALE_ID_SIZE];
    oplog_sale_id(&ret_ref, ret_id, sizeof ret_id);
    log_action(r, "return", id, rf.total);
    if (rf.card > 0)
        kd_pay_nudge(app);
    json_t *out = refund_json(&rf);
    if (out && (json_object_set_new(out, "sale_id", json_string(id)) != 0 ||
                json_object_set_new(out, "return_id", json_string(ret_id)) != 0)) {
        json_decref(out);
        out = NULL;
    }
    kd_reply_json(r, 201, out);
}

static const kd_field DRAWER_FIELDS[] = {
    {"supervisor", KD_T_OBJECT, true, 0, 0, &KD_SUPERVISOR_SCHEMA},
    {"reason", KD_T_STRING, true, 1, REASON_MAX_BYTES, NULL},
};
static const kd_schema DRAWER = KD_SCHEMA(DRAWER_FIELDS);

void h_drawer_open(kd_req *r)
{
    json_t *body = supervised_body(r, &DRAWER);
    if (!body)
        return;
    json_decref(body);
    kassa_err err;
    kd_fraud_no_sale(r); /* scored before the drawer opens (fraud.h) */
    if (term_drawer_open(r->app->t, r->app->t->actor.reason, &err) != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    kd_fraud_action_done(r, "drawer");
    log_action(r, "no_sale", "drawer", 0);
    kd_reply_json(r, 200, json_pack("{s:b}", "opened", 1));
}
