/* h_pay.c: card payments waiting to be forwarded, forwarding now, the
 * manager's review list; the cash drawer's float, drops and counts. */
#include "jlog/jlog.h"
#include "kassad/auth.h"
#include "kassad/handlers.h"
#include "kassad/pay.h"
#include "kassad/reply.h"

#include <stdio.h>
#include <string.h>

#define PENDING_LIST_MAX 200
#define NOTE_MAX_BYTES OPLOG_AUDIT_DETAIL_MAX
#define DRAWER_EVENTS_MAX 50

/* ---- payments ---- */

static json_t *review_json(const term_card_payment *p)
{
    char sale_id[KASSA_ID_MAX + 24] = "";
    if (p->sale.seq)
        oplog_sale_id(&p->sale, sale_id, sizeof sale_id);
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:b,s:s,s:s}", "payment_id", p->id,
                     "kind", p->kind == TERM_PAY_KIND_REFUND ? "refund" : "payment",
                     "refunds_payment_id", p->kind == TERM_PAY_KIND_REFUND ? p->payment_id : "",
                     "sale_id", sale_id, "amount_minor", (json_int_t)p->amount, "brand", p->brand,
                     "last4", p->last4, "outcome", oplog_pay_outcome_name(p->outcome), "reason",
                     p->reason, "decided_ms", (json_int_t)hlc_physical_ms(p->outcome_hlc),
                     "resolved", p->resolved_hlc != 0, "resolved_by", p->resolved_by,
                     "resolution_note", p->resolved_note);
}

void h_payments_pending(kd_req *r)
{
    kd_app *app = r->app;
    term_pay *rows = calloc(PENDING_LIST_MAX, sizeof *rows);
    json_t *list = json_array();
    size_t n = 0;
    kassa_err err;
    int rc = rows && list ? term_pay_due(app->t, 0, PENDING_LIST_MAX, rows, &n, &err)
                          : kassa_fail(&err, KASSA_ENOMEM, "out of memory");
    for (size_t i = 0; rc == KASSA_OK && i < n; i++) {
        const term_pay *p = &rows[i];
        term_card_payment cp;
        bool known = term_card_payment_get(app->t, p->id, &cp, &err) == KASSA_OK;
        json_t *item = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:I,s:I,s:s}", "payment_id", p->id,
                                 "kind", p->kind == TERM_PAY_KIND_REFUND ? "refund" : "payment",
                                 "step", term_pay_state_name(p->state), "amount_minor",
                                 (json_int_t)p->amount, "brand", known ? cp.brand : "", "last4",
                                 known ? cp.last4 : "", "stored_ms", (json_int_t)p->stored_ms,
                                 "attempts", (json_int_t)p->attempts, "last_error", p->last_error);
        if (json_array_append_new(list, item) != 0)
            rc = kassa_fail(&err, KASSA_ENOMEM, "out of memory");
    }
    free(rows);
    json_t *status = rc == KASSA_OK ? kd_pay_status_json(app) : NULL;
    if (rc != KASSA_OK || !status) {
        json_decref(list);
        json_decref(status);
        if (rc == KASSA_OK)
            kassa_fail(&err, KASSA_ENOMEM, "out of memory");
        kd_reply_kassa(r, &err);
        return;
    }
    json_object_set_new(status, "payments", list);
    kd_reply_json(r, 200, status);
}

void h_payments_forward(kd_req *r)
{
    json_t *body = kd_req_body(r, NULL);
    if (!body)
        return;
    json_decref(body);
    kd_pay_kick(r->app);
    jlog(JLOG_INFO, "pay", "forward_requested", "{s:s}", "cashier", r->session->cashier.id);
    json_t *status = kd_pay_status_json(r->app);
    if (status)
        json_object_set_new(status, "forwarding", json_true());
    kd_reply_json(r, 202, status);
}

static bool may_review(kd_req *r)
{
    if (r->session->cashier.role >= TERM_ROLE_SUPERVISOR)
        return true;
    kd_reply_error(r, 403, KD_E_FORBIDDEN, "the review list is for supervisors and managers");
    return false;
}

static int add_review(const term_card_payment *p, void *ctx)
{
    return json_array_append_new(ctx, review_json(p)) == 0 ? KASSA_OK : KASSA_ENOMEM;
}

void h_payments_review(kd_req *r)
{
    if (!may_review(r))
        return;
    int64_t all;
    if (kd_req_arg_int(r, "all", 0, 1, 0, &all) != 0)
        return;
    json_t *list = json_array();
    kassa_err err;
    int rc =
        list ? term_pay_review_each(r->app->t, all == 1, add_review, list, &err) : KASSA_ENOMEM;
    kd_reply_list(r, "payments", list, rc, &err);
}

static const kd_field RESOLVE_FIELDS[] = {
    {"manager", KD_T_OBJECT, true, 0, 0, &KD_SUPERVISOR_SCHEMA},
    {"note", KD_T_STRING, true, 1, NOTE_MAX_BYTES, NULL},
};
static const kd_schema RESOLVE = KD_SCHEMA(RESOLVE_FIELDS);

void h_payment_resolve(kd_req *r)
{
    json_t *body = kd_req_body(r, &RESOLVE);
    if (!body)
        return;
    term_cashier manager;
    if (kd_auth_approve(r, json_object_get(body, "manager"), &manager) != 0) {
        json_decref(body);
        return;
    }
    if (manager.role < TERM_ROLE_MANAGER) {
        json_decref(body);
        kd_reply_error(r, 403, KD_E_FORBIDDEN, "%s is a %s: a manager resolves review items",
                       manager.id, term_role_name(manager.role));
        return;
    }
    const char *id = kd_req_param(r, 0);
    kassa_err err;
    int rc = term_pay_resolve(r->app->t, id, kd_json_str(body, "note"), &err);
    json_decref(body);
    if (rc != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    jlog(JLOG_INFO, "pay", "review_resolved", "{s:s,s:s}", "payment_id", id, "manager", manager.id);
    term_card_payment p;
    if (term_card_payment_get(r->app->t, id, &p, &err) != KASSA_OK)
        kd_reply_kassa(r, &err);
    else
        kd_reply_json(r, 200, review_json(&p));
}

/* ---- the cash drawer ---- */

static json_t *drawer_json(kd_app *app)
{
    int64_t cash = 0;
    kassa_err err;
    if (term_drawer(app->t, app->t->node_id, &cash, &err) != KASSA_OK &&
        err.code != KASSA_ENOTFOUND)
        return NULL;
    return json_pack("{s:s,s:I}", "node_id", app->t->node_id, "cash_minor", (json_int_t)cash);
}

static const char *action_name(int action)
{
    return action == OPLOG_DRAWER_FLOAT ? "float" : action == OPLOG_DRAWER_DROP ? "drop" : "count";
}

static int add_event(const term_drawer_event *e, void *ctx)
{
    json_t *item = json_pack("{s:s,s:I,s:s,s:I,s:I,s:s}", "action", action_name(e->d.action),
                             "time_ms", (json_int_t)hlc_physical_ms(e->hlc), "cashier_id",
                             e->d.cashier, "amount_minor", (json_int_t)e->d.amount,
                             "over_short_minor", (json_int_t)e->d.delta, "node_id", e->origin);
    return json_array_append_new(ctx, item) == 0 ? KASSA_OK : KASSA_ENOMEM;
}

void h_drawer_get(kd_req *r)
{
    kd_app *app = r->app;
    json_t *out = drawer_json(app), *events = json_array();
    kassa_err err;
    int rc = out && events ? term_drawer_events(app->t, app->t->node_id, DRAWER_EVENTS_MAX,
                                                add_event, events, &err)
                           : kassa_fail(&err, KASSA_ENOMEM, "out of memory");
    if (rc != KASSA_OK || json_object_set_new(out, "events", events) != 0) {
        json_decref(out);
        if (rc == KASSA_OK)
            kassa_fail(&err, KASSA_ENOMEM, "out of memory");
        else
            json_decref(events);
        kd_reply_kassa(r, &err);
        return;
    }
    kd_reply_json(r, 200, out);
}

static const kd_field MOVE_FIELDS[] = {
    {"amount_minor", KD_T_INT, true, 1, PRICING_AMOUNT_MAX, NULL},
};
static const kd_schema MOVE = KD_SCHEMA(MOVE_FIELDS);
static const kd_field COUNT_FIELDS[] = {
    {"counted_minor", KD_T_INT, true, 0, PRICING_AMOUNT_MAX, NULL},
};
static const kd_schema COUNT = KD_SCHEMA(COUNT_FIELDS);

static void drawer_move(kd_req *r, oplog_drawer_action action)
{
    kd_app *app = r->app;
    bool count = action == OPLOG_DRAWER_COUNT;
    json_t *body = kd_req_body(r, count ? &COUNT : &MOVE);
    if (!body)
        return;
    int64_t amount = 0, delta = 0;
    kd_json_int(body, count ? "counted_minor" : "amount_minor", &amount);
    json_decref(body);
    kassa_err err;
    if (term_drawer_move(app->t, action, amount, &delta, &err) != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    jlog(JLOG_INFO, "drawer", action_name(action), "{s:s,s:I,s:I}", "cashier",
         r->session->cashier.id, "amount_minor", (json_int_t)amount, "over_short_minor",
         (json_int_t)delta);
    json_t *out = drawer_json(app);
    if (out && count) {
        json_object_set_new(out, "counted_minor", json_integer(amount));
        json_object_set_new(out, "expected_minor", json_integer(amount - delta));
        json_object_set_new(out, "over_short_minor", json_integer(delta));
    }
    kd_reply_json(r, 200, out);
}

void h_drawer_float(kd_req *r)
{
    drawer_move(r, OPLOG_DRAWER_FLOAT);
}

void h_drawer_drop(kd_req *r)
{
    drawer_move(r, OPLOG_DRAWER_DROP);
}

void h_drawer_count(kd_req *r)
{
    drawer_move(r, OPLOG_DRAWER_COUNT);
}
