/* h_review.c: the supervisors' review list: the fraud scorer's decisions
 * and the SKUs replication made negative (term.h, "review"), their
 * resolutions, and the alert when scoring is disabled (fraud.h). */
#include "jlog/jlog.h"
#include "kassad/auth.h"
#include "kassad/fraud.h"
#include "kassad/handlers.h"
#include "kassad/reply.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define REVIEW_LIMIT_DEFAULT 100
#define SALE_ID_SIZE (KASSA_ID_MAX + 24)

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* The sale id a subject names, "" when it names none (a refused cart). */
static void subject_sale(const char *subject, char out[SALE_ID_SIZE])
{
    oplog_sale_ref ref;
    kassa_err err;
    out[0] = '\0';
    if (oplog_parse_sale_id(subject, &ref, &err) == KASSA_OK)
        oplog_sale_id(&ref, out, SALE_ID_SIZE);
}

static json_t *resolution_json(const term_review_resolution *res)
{
    if (!res->resolved)
        return json_null();
    return json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:I}", "action", res->action, "by", res->by,
                     "node_id", res->origin, "time_ms", (json_int_t)hlc_physical_ms(res->hlc),
                     "note", res->note, "sale_id", res->sale, "counted", (json_int_t)res->counted);
}

static json_t *decision_json(const term_review_decision *d)
{
    json_t *reasons = json_array();
    for (size_t i = 0; reasons && i < d->d.n_reasons; i++) {
        const term_fraud_reason *r = &d->d.reasons[i];
        json_array_append_new(reasons, json_pack("{s:s,s:f,s:f}", "feature", r->feature, "value",
                                                 r->value, "contribution", r->contribution));
    }
    char sale[SALE_ID_SIZE];
    subject_sale(d->subject, sale);
    return json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:b,s:o}", "id", d->id,
                     "kind", "fraud_decision", "time_ms", (json_int_t)hlc_physical_ms(d->hlc),
                     "node_id", d->ref.origin, "cashier_id", d->cashier, "supervisor_id",
                     d->supervisor, "subject", d->subject, "sale_id", sale, "event",
                     d->parsed ? d->d.event : "", "action", d->parsed ? d->d.action : "", "outcome",
                     d->parsed ? d->d.outcome : "", "probability",
                     d->parsed ? number_or_null(d->d.probability) : json_null(), "reasons",
                     reasons ? reasons : json_array(), "resolved", d->res.resolved, "resolution",
                     resolution_json(&d->res));
}

static json_t *triage_json(kd_app *app, const term_triage_item *it)
{
    json_t *sales = json_array();
    for (size_t i = 0; sales && i < it->n_sales; i++) {
        const term_triage_sale *s = &it->sales[i];
        char id[SALE_ID_SIZE];
        oplog_sale_id(&s->ref, id, sizeof id);
        json_array_append_new(sales, json_pack("{s:s,s:I,s:s,s:s,s:I,s:o,s:b}", "sale_id", id,
                                               "time_ms", (json_int_t)hlc_physical_ms(s->hlc),
                                               "node_id", s->ref.origin, "cashier_id", s->cashier,
                                               "qty", (json_int_t)s->qty, "risk",
                                               number_or_null(s->risk), "flagged", s->flagged));
    }
    term_item item;
    kassa_err err;
    if (term_item_get(app->t, it->sku, &item, &err) != KASSA_OK)
        item.name[0] = '\0';
    return json_pack("{s:s,s:s,s:s,s:o,s:I,s:I,s:I,s:I,s:o,s:b,s:o}", "id", it->id, "kind",
                     "stock_shortfall", "sku", it->sku, "name", kd_json_text(item.name), "stock",
                     (json_int_t)it->stock, "shortfall", (json_int_t)it->shortfall, "since_ms",
                     (json_int_t)(it->since ? hlc_physical_ms(it->since) : 0), "total_sales",
                     (json_int_t)it->total_sales, "sales", sales ? sales : json_array(), "resolved",
                     it->res.resolved, "resolution", resolution_json(&it->res));
}

static int add_decision(const term_review_decision *d, void *ctx)
{
    return json_array_append_new(ctx, decision_json(d)) == 0 ? KASSA_OK : KASSA_ENOMEM;
}

typedef struct triage_ctx {
    kd_app *app;
    json_t *list;
} triage_ctx;

static int add_triage(const term_triage_item *it, void *ctx)
{
    triage_ctx *c = ctx;
    return json_array_append_new(c->list, triage_json(c->app, it)) == 0 ? KASSA_OK : KASSA_ENOMEM;
}

void h_review_list(kd_req *r)
{
    kd_app *app = r->app;
    if (r->session->cashier.role < TERM_ROLE_SUPERVISOR) {
        kd_reply_error(r, 403, KD_E_FORBIDDEN, "the review list is for supervisors and managers");
        return;
    }
    int64_t all, limit;
    if (kd_req_arg_int(r, "all", 0, 1, 0, &all) != 0 ||
        kd_req_arg_int(r, "limit", 1, TERM_REVIEW_LIST_MAX, REVIEW_LIMIT_DEFAULT, &limit) != 0)
        return;
    kd_fraud_feed(app); /* the sales received are scored before they are ranked */
    json_t *decisions = json_array(), *triage = json_array();
    triage_ctx tc = {app, triage};
    kassa_err err;
    int rc = decisions && triage ? term_review_decisions(app->t, all == 1, (size_t)limit,
                                                         add_decision, decisions, &err)
                                 : KASSA_ENOMEM;
    if (rc == KASSA_OK)
        rc = term_triage_each(app->t, all == 1, kd_fraud_risk, app, add_triage, &tc, &err);
    if (rc != KASSA_OK) {
        json_decref(decisions);
        json_decref(triage);
        if (rc == KASSA_ENOMEM)
            kassa_fail(&err, KASSA_ENOMEM, "out of memory");
        kd_reply_kassa(r, &err);
        return;
    }
    kd_reply_json(r, 200,
                  json_pack("{s:o,s:o,s:o,s:o}", "decisions", decisions, "triage", triage, "alerts",
                            kd_fraud_alerts_json(app), "fraud", kd_fraud_status_json(app)));
}

static const kd_field RESOLVE_FIELDS[] = {
    {"action", KD_T_STRING, true, KD_ANY_LENGTH, NULL},
    {"qty", KD_T_INT, false, 0, PRICING_QTY_MAX, NULL},
    {"sale_id", KD_T_STRING, false, KD_ANY_LENGTH, NULL},
    {"note", KD_T_STRING, false, 0, TERM_REVIEW_NOTE_MAX, NULL},
    {"supervisor", KD_T_OBJECT, true, 0, 0, &KD_SUPERVISOR_SCHEMA},
};
static const kd_schema RESOLVE = KD_SCHEMA(RESOLVE_FIELDS);

void h_review_resolve(kd_req *r)
{
    kd_app *app = r->app;
    json_t *body = kd_req_body(r, &RESOLVE);
    if (!body)
        return;
    term_review_resolve_req req = {0};
    const char *action = kd_json_str(body, "action"), *sale = kd_json_str(body, "sale_id");
    const char *note = kd_json_str(body, "note");
    bool has_qty = kd_json_int(body, "qty", &req.counted);
    kassa_err err;
    int rc = KASSA_OK;
    if (term_review_action_parse(action, &req.action) != KASSA_OK)
        rc = kassa_fail(&err, KASSA_EINVAL, "action: accept, adjust or flag");
    else if ((req.action == TERM_REVIEW_ADJUST) != has_qty)
        rc = kassa_fail(&err, KASSA_EINVAL, "qty (the units counted) goes with adjust, only");
    else if ((sale != NULL) && req.action != TERM_REVIEW_FLAG)
        rc = kassa_fail(&err, KASSA_EINVAL, "sale_id goes with flag, only");
    else if (sale && strlen(sale) >= sizeof req.sale)
        rc = kassa_fail(&err, KASSA_EINVAL, "sale_id: not a sale id");
    if (rc == KASSA_OK) {
        snprintf(req.sale, sizeof req.sale, "%s", sale ? sale : "");
        snprintf(req.note, sizeof req.note, "%s", note ? note : "");
    }
    if (rc != KASSA_OK) {
        json_decref(body);
        kd_reply_kassa(r, &err);
        return;
    }
    term_cashier approver;
    if (kd_auth_approve(r, json_object_get(body, "supervisor"), &approver) != 0) {
        json_decref(body);
        return;
    }
    json_decref(body);
    const char *id = kd_req_param(r, 0);
    if (term_review_resolve(app->t, id, &req, &err) != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    jlog(JLOG_INFO, "fraud", "review_resolved", "{s:s,s:s,s:s,s:s}", "id", id, "action",
         term_review_action_name(req.action), "supervisor", approver.id, "cashier",
         r->session->cashier.id);
    kd_reply_json(r, 200,
                  json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "id", id, "action",
                            term_review_action_name(req.action), "by", approver.id, "note",
                            req.note, "sale_id", req.sale, "counted",
                            (json_int_t)(req.action == TERM_REVIEW_ADJUST ? req.counted : 0)));
}
