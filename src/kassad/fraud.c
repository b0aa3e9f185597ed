/* fraud.c: the fraud scorer inside kassad (fraud.h has the whole picture). */
#include "kassad/fraud.h"

#include "fraud/fraud.h"
#include "jlog/jlog.h"
#include "kassad/auth.h"
#include "kassad/clock.h"
#include "kassad/reply.h"
#include "modelreg/modelreg.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FEED_BYTES_MAX (1024 * 1024) /* payload bytes read at a time */
#define SUBJECT_CART_HEX 12          /* "cart:" + this much of a refused cart's id */
#define UTC_OFFSET_MAX_MIN 840
#define MESSAGE_MAX 256
#define REASON_SIZE (KASSA_ERR_MSG_SIZE + 64) /* a prefix and an error's message */

/* A checkout scored and not yet sold or refused. */
typedef struct pending {
    bool used;
    uint64_t stamp; /* the oldest is replaced when all are used */
    char cart_id[KD_CART_ID_SIZE];
    char approver[KASSA_ID_MAX + 1]; /* the supervisor who approved it ("" none) */
    float probability;
    fraud_decision d;
} pending;

/* A void, return or no-sale opening scored in this request. */
typedef struct action {
    bool scored;
    const char *event;
    fraud_decision d;
} action;

typedef struct score_slot {
    oplog_sale_ref ref;
    float probability;
} score_slot;

typedef struct kd_fraud {
    kd_app *app;
    kd_fraud_state state;
    char reason[REASON_SIZE]; /* why disabled */
    int64_t state_since_ms;   /* wall */
    int64_t model_version;
    fraud_model *model;
    fraud_policy policy;
    fraud_state *st;
    fraud_conv *conv;
    oplog_vv fed;   /* what the state has observed, per origin */
    bool replaying; /* the start's replay: nothing skipped */
    oplog_op *ops;  /* KD_FRAUD_FEED_CHUNK */
    kbuf payloads;
    oplog_sale *priced; /* a cart priced for its event */
    pending pend[KD_FRAUD_PENDING_MAX];
    char switches[KD_FRAUD_SWITCH_MAX][KD_CART_ID_SIZE]; /* ring: carts whose card failed */
    size_t next_switch;
    score_slot scores[KD_FRAUD_SCORES_MAX]; /* ring */
    size_t n_scores, next_score;
    uint64_t stamp;
    uint64_t decisions, flagged;
    action act;
    struct event *applied_ev;
    char negative[TERM_TRIAGE_ITEMS_MAX][KASSA_SKU_MAX + 1]; /* SKUs seen negative */
    size_t n_negative;
} kd_fraud;

static const char *state_name(kd_fraud_state s)
{
    return s == KD_FRAUD_ACTIVE ? "active" : s == KD_FRAUD_DISABLED ? "disabled" : "off";
}

/* ---- the model ---- */

/* level: how loud a change to disabled is logged (a terminal with no
 * fraud model installed is a setup choice, a warning; a model that fails
 * is an error). */
static void set_state(kd_fraud *f, kd_fraud_state s, const char *why, jlog_level level)
{
    bool changed = f->state != s || strcmp(f->reason, why) != 0;
    f->state = s;
    snprintf(f->reason, sizeof f->reason, "%s", why);
    if (changed)
        f->state_since_ms = kd_wall_ms();
    if (s == KD_FRAUD_DISABLED && changed)
        jlog(level, "fraud", "scoring_disabled", "{s:s,s:s}", "model", f->app->cfg.fraud_model,
             "reason", why);
}

/* The manifest's policy, with the thresholds [fraud] sets instead. */
static int policy_of(const kd_config *cfg, const modelreg_manifest *m, fraud_policy *p,
                     kassa_err *err)
{
    int rc = modelreg_fraud_policy(m, p, err);
    if (rc != KASSA_OK)
        return rc;
    if (cfg->fraud_review_at_bp)
        p->review_at = (float)cfg->fraud_review_at_bp / 10000.0f;
    if (cfg->fraud_supervisor_at_bp)
        p->supervisor_at = (float)cfg->fraud_supervisor_at_bp / 10000.0f;
    if (cfg->fraud_refuse_offline_card_at_bp)
        p->refuse_offline_card_at = (float)cfg->fraud_refuse_offline_card_at_bp / 10000.0f;
    rc = fraud_policy_check(p, err);
    return rc == KASSA_OK ? rc : kassa_fail(err, rc, "[fraud] thresholds: %s", err->msg);
}

/* Looks up and loads the registry's active model: scoring active, or
 * disabled with the reason. */
static void load_model(kd_fraud *f)
{
    const kd_config *cfg = &f->app->cfg;
    if (!cfg->fraud_enabled) {
        set_state(f, KD_FRAUD_OFF, "[fraud] enabled = 0", JLOG_INFO);
        return;
    }
    modelreg_active a;
    fraud_model *m = NULL;
    fraud_policy p;
    kassa_err err;
    int rc = modelreg_resolve(cfg->data_dir, cfg->fraud_model, &a, &err);
    if (rc == KASSA_OK)
        rc = fraud_model_load(a.bundle.model, (size_t)a.bundle.m.model_size_bytes, &m, &err);
    if (rc == KASSA_OK)
        rc = policy_of(cfg, &a.bundle.m, &p, &err);
    int64_t version = rc == KASSA_OK ? a.version : 0;
    modelreg_active_free(&a);
    if (rc != KASSA_OK) {
        fraud_model_free(m);
        char why[REASON_SIZE];
        snprintf(
            why, sizeof why, "%s%s",
            rc == KASSA_ENOTFOUND ? "no model installed: " : "the model cannot be used: ", err.msg);
        fraud_model_free(f->model);
        f->model = NULL;
        f->model_version = 0;
        set_state(f, KD_FRAUD_DISABLED, why, rc == KASSA_ENOTFOUND ? JLOG_WARN : JLOG_ERROR);
        return;
    }
    fraud_model_free(f->model);
    f->model = m;
    f->model_version = version;
    f->policy = p;
    set_state(f, KD_FRAUD_ACTIVE, "", JLOG_INFO);
    jlog(JLOG_INFO, "fraud", "model_loaded", "{s:s,s:I,s:f,s:f,s:f}", "model", cfg->fraud_model,
         "version", (json_int_t)version, "review_at", (double)p.review_at, "supervisor_at",
         (double)p.supervisor_at, "refuse_offline_card_at", (double)p.refuse_offline_card_at);
}

/* The model failed while scoring: back to the previous version if one
 * passes its checks again (docs/MODELS.md, "Rollback"), else disabled. */
static void runtime_failure(kd_fraud *f, const kassa_err *why)
{
    const kd_config *cfg = &f->app->cfg;
    jlog(JLOG_ERROR, "fraud", "scoring_failed", "{s:I,s:s}", "version",
         (json_int_t)f->model_version, "error", why->msg);
    char text[REASON_SIZE];
    snprintf(text, sizeof text, "scoring failed: %s", why->msg);
    modelreg_result res;
    kassa_err err;
    if (modelreg_rollback(cfg->data_dir, cfg->fraud_model, text, NULL, &res, &err) == KASSA_OK) {
        load_model(f);
        if (f->state == KD_FRAUD_ACTIVE)
            return;
    }
    fraud_model_free(f->model);
    f->model = NULL;
    f->model_version = 0;
    set_state(f, KD_FRAUD_DISABLED, text, JLOG_ERROR);
}

/* The scorer when a model scores; NULL otherwise: nothing is fed then
 * (the feed catches up when a model is loaded), nothing costs a sale. */
static kd_fraud *active(kd_app *app)
{
    kd_fraud *f = app->fraud;
    return f && f->state == KD_FRAUD_ACTIVE ? f : NULL;
}

/* ---- scores kept for the triage ---- */

static void remember(kd_fraud *f, const oplog_sale_ref *ref, float probability)
{
    score_slot *s = &f->scores[f->next_score];
    s->ref = *ref;
    s->probability = probability;
    f->next_score = (f->next_score + 1) % KD_FRAUD_SCORES_MAX;
    if (f->n_scores < KD_FRAUD_SCORES_MAX)
        f->n_scores++;
}

double kd_fraud_risk(const oplog_sale_ref *sale, void *app)
{
    kd_fraud *f = ((kd_app *)app)->fraud;
    for (size_t i = 0; f && i < f->n_scores; i++) {
        const score_slot *s = &f->scores[i];
        if (s->ref.seq == sale->seq && strcmp(s->ref.origin, sale->origin) == 0)
            return (double)s->probability;
    }
    return NAN;
}

/* Features, margin, decision and (unless allowed) reasons of a scored
 * event; false when scoring is off or failed (allow). */
static bool score(kd_fraud *f, const fraud_event *e, fraud_score *sc, fraud_decision *d)
{
    if (f->state != KD_FRAUD_ACTIVE)
        return false;
    kassa_err err;
    if (fraud_score_event(f->model, f->st, e, sc, &err) != KASSA_OK) {
        if (err.code == KASSA_EINVAL) {
            /* the event itself (an id that is not one): nothing to score */
            jlog(JLOG_WARN, "fraud", "event_refused", "{s:s}", "error", err.msg);
            return false;
        }
        runtime_failure(f, &err);
        return false;
    }
    fraud_decide(&f->policy, sc, d);
    if (d->action != FRAUD_ALLOW) {
        if (fraud_explain(f->model, sc, &err) != KASSA_OK)
            jlog(JLOG_WARN, "fraud", "explain_failed", "{s:s}", "error", err.msg);
        fraud_decide(&f->policy, sc, d);
    }
    f->decisions++;
    f->flagged += d->action != FRAUD_ALLOW;
    return true;
}

static void observe(kd_fraud *f, const fraud_event *e)
{
    kassa_err err;
    if (fraud_observe(f->st, e, &err) != KASSA_OK)
        jlog(JLOG_DEBUG, "fraud", "event_ignored", "{s:s}", "error", err.msg);
}

/* ---- the log ---- */

/* One operation into the state; a sale scored first when asked (the
 * features of the state before it). */
static void observe_op(kd_fraud *f, const oplog_op *op, bool score_sale)
{
    fraud_event ev[FRAUD_CONV_EVENTS_MAX];
    size_t n = 0;
    kassa_err err;
    if (fraud_conv_op(f->conv, op, ev, &n, &err) != KASSA_OK) {
        jlog(JLOG_DEBUG, "fraud", "operation_ignored", "{s:s,s:I,s:s}", "origin", op->origin, "seq",
             (json_int_t)op->seq, "error", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        /* This terminal's overrides were fed from the cart when approved. */
        if (!f->replaying && ev[i].kind == FRAUD_EV_PRICE_OVERRIDE &&
            strcmp(op->origin, f->app->t->node_id) == 0)
            continue;
        fraud_score sc;
        fraud_decision d;
        if (score_sale && ev[i].kind == FRAUD_EV_SALE && score(f, &ev[i], &sc, &d))
            remember(f, &ev[i].sale, sc.probability);
        observe(f, &ev[i]);
    }
}

typedef struct replay_ctx {
    kd_fraud *f;
    size_t ops;
} replay_ctx;

static int on_replay(const oplog_op *op, void *ctx)
{
    replay_ctx *r = ctx;
    if (op->seq > oplog_vv_get(&r->f->fed, op->origin))
        return KASSA_OK; /* arrived after the version vector was taken */
    observe_op(r->f, op, true);
    r->ops++;
    return KASSA_OK;
}

/* At start: the last KD_FRAUD_REPLAY_MS of every origin, in time order. */
static int replay(kd_fraud *f, kassa_err *err)
{
    int rc = term_vv(f->app->t, &f->fed, err);
    if (rc != KASSA_OK)
        return rc;
    replay_ctx r = {.f = f};
    int64_t t0 = kd_mono_ms();
    f->replaying = true;
    rc = term_ops_since(f->app->t, kd_wall_ms() - KD_FRAUD_REPLAY_MS, on_replay, &r, err);
    f->replaying = false;
    if (rc == KASSA_OK)
        jlog(JLOG_INFO, "fraud", "replayed", "{s:I,s:I,s:I}", "ops", (json_int_t)r.ops,
             "sales_scored", (json_int_t)f->n_scores, "ms", (json_int_t)(kd_mono_ms() - t0));
    return rc;
}

void kd_fraud_feed(kd_app *app)
{
    kd_fraud *f = active(app);
    if (!f)
        return;
    oplog_vv now;
    kassa_err err;
    if (term_vv(app->t, &now, &err) != KASSA_OK) {
        jlog(JLOG_WARN, "fraud", "feed_failed", "{s:s}", "error", err.msg);
        return;
    }
    size_t total = 0;
    for (size_t i = 0; i < now.n && total < KD_FRAUD_FEED_MAX; i++) {
        const oplog_vv_entry *e = &now.e[i];
        uint64_t seen = oplog_vv_get(&f->fed, e->origin);
        /* A rolled-back group commit took back seqs already seen: they
         * will be other operations, observed again. */
        if (e->seq < seen)
            seen = e->seq;
        bool local = strcmp(e->origin, app->t->node_id) == 0;
        int rc = KASSA_OK;
        while (seen < e->seq && total < KD_FRAUD_FEED_MAX) {
            size_t n = 0;
            rc = term_ops_read(app->t, e->origin, seen, KD_FRAUD_FEED_CHUNK, FEED_BYTES_MAX, f->ops,
                               &f->payloads, &n, &err);
            if (rc != KASSA_OK || n == 0)
                break;
            for (size_t k = 0; k < n; k++)
                observe_op(f, &f->ops[k], !local);
            seen = f->ops[n - 1].seq;
            total += n;
        }
        if (rc != KASSA_OK) {
            jlog(JLOG_WARN, "fraud", "feed_failed", "{s:s,s:s}", "origin", e->origin, "error",
                 err.msg);
        }
        if (oplog_vv_set(&f->fed, e->origin, seen, &err) != KASSA_OK)
            jlog(JLOG_WARN, "fraud", "feed_failed", "{s:s}", "error", err.msg);
    }
    oplog_vv_free(&now);
}

/* ---- after a peer batch ---- */

typedef struct negative_ctx {
    kd_fraud *f;
    char now[TERM_TRIAGE_ITEMS_MAX][KASSA_SKU_MAX + 1];
    size_t n;
} negative_ctx;

static int on_stock(const char *sku, int64_t qty, void *ctx)
{
    negative_ctx *c = ctx;
    if (qty >= 0 || c->n >= TERM_TRIAGE_ITEMS_MAX)
        return KASSA_OK;
    snprintf(c->now[c->n++], sizeof c->now[0], "%s", sku);
    bool known = false;
    for (size_t i = 0; i < c->f->n_negative && !known; i++)
        known = strcmp(c->f->negative[i], sku) == 0;
    if (!known) {
        char id[TERM_REVIEW_ID_MAX];
        snprintf(id, sizeof id, "stock:%s", sku);
        jlog(JLOG_WARN, "fraud", "stock_negative", "{s:s,s:I,s:s}", "sku", sku, "stock",
             (json_int_t)qty, "review_id", id);
    }
    return KASSA_OK;
}

static void on_applied_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    kd_fraud *f = arg;
    kd_fraud_feed(f->app); /* when a model scores; the negative stock in any case */
    negative_ctx *c = malloc(sizeof *c);
    kassa_err err;
    if (!c)
        return;
    c->f = f;
    c->n = 0;
    if (term_stock_each(f->app->t, on_stock, c, &err) == KASSA_OK) {
        memcpy(f->negative, c->now, sizeof c->now);
        f->n_negative = c->n;
    }
    free(c);
}

void kd_fraud_applied(kd_app *app)
{
    kd_fraud *f = app->fraud;
    if (!f || !f->applied_ev || evtimer_pending(f->applied_ev, NULL))
        return;
    struct timeval tv = {0, KD_FRAUD_APPLIED_DELAY_MS * 1000};
    evtimer_add(f->applied_ev, &tv);
}

/* ---- the cart ---- */

/* Prices cart into f->priced: the amount, discount and units of a sale
 * of it. false when it does not price (nothing to say about it). */
static bool cart_event(kd_fraud *f, const term_cart *cart, fraud_event *e)
{
    pricing_totals t;
    kassa_err err;
    if (cart->n_lines == 0 || term_cart_price(f->app->t, cart, f->priced, &t, &err) != KASSA_OK)
        return false;
    e->amount = t.total;
    e->cash = t.total;
    for (size_t i = 0; i < f->priced->n_lines; i++) {
        e->discount += f->priced->lines[i].discount;
        e->items += f->priced->lines[i].qty;
    }
    return true;
}

static void event_make(kd_fraud *f, fraud_event *e, int kind, const char *cashier)
{
    fraud_event_make(e, kind, kd_wall_ms(), f->app->t->node_id, cashier);
}

void kd_fraud_cart_changed(kd_app *app, const char *cashier, const term_cart *before,
                           const term_cart *after)
{
    kd_fraud *f = active(app);
    if (!f || !before || before->n_lines == 0)
        return;
    kd_fraud_feed(app); /* the cashier's last sale before the cart's events */
    pricing_totals t;
    kassa_err err;
    if (term_cart_price(app->t, before, f->priced, &t, &err) != KASSA_OK)
        return;
    for (size_t i = 0; i < before->n_lines; i++) {
        const term_cart_line *l = &before->lines[i];
        int64_t left = 0;
        for (size_t k = 0; after && k < after->n_lines; k++)
            if (strcmp(after->lines[k].sku, l->sku) == 0)
                left = after->lines[k].qty;
        if (left >= l->qty)
            continue;
        const oplog_sale_line *pl = &f->priced->lines[i];
        int64_t units = l->qty - left;
        fraud_event e;
        event_make(f, &e, FRAUD_EV_LINE_VOID, cashier);
        e.items = units;
        e.amount = l->qty > 0 ? oplog_line_total(pl) / l->qty * units : 0;
        if (e.amount < 0)
            e.amount = 0;
        observe(f, &e);
    }
}

void kd_fraud_price_override(kd_app *app, const char *cashier, const char *sku, int64_t unit_price)
{
    kd_fraud *f = active(app);
    term_item it;
    kassa_err err;
    if (!f || term_item_get(app->t, sku, &it, &err) != KASSA_OK)
        return;
    kd_fraud_feed(app);
    fraud_event e;
    event_make(f, &e, FRAUD_EV_PRICE_OVERRIDE, cashier);
    e.amount = it.price > unit_price ? it.price - unit_price : 0;
    observe(f, &e);
}

static bool switch_take(kd_fraud *f, const char *cart_id)
{
    for (size_t i = 0; i < KD_FRAUD_SWITCH_MAX; i++) {
        if (strcmp(f->switches[i], cart_id) == 0) {
            f->switches[i][0] = '\0';
            return true;
        }
    }
    return false;
}

void kd_fraud_card_failed(kd_app *app, const kd_cart *cart, const char *cashier, const char *token,
                          int64_t amount, bool declined, bool offline)
{
    kd_fraud *f = active(app);
    if (!f)
        return;
    if (cart) {
        /* Paid another way next: a tender switch (once per cart). */
        switch_take(f, cart->id);
        snprintf(f->switches[f->next_switch], sizeof f->switches[0], "%s", cart->id);
        f->next_switch = (f->next_switch + 1) % KD_FRAUD_SWITCH_MAX;
    }
    if (!token || !token[0])
        return; /* no card was read: nothing about a card to remember */
    kd_fraud_feed(app);
    fraud_event e;
    event_make(f, &e, FRAUD_EV_CARD_ATTEMPT, cashier);
    e.flags =
        FRAUD_EVF_CARD | (declined ? FRAUD_EVF_DECLINED : 0) | (offline ? FRAUD_EVF_OFFLINE : 0);
    e.amount = amount;
    snprintf(e.token, sizeof e.token, "%s", token);
    observe(f, &e);
}

/* ---- decisions ---- */

/* The cart's pending checkout; with create, a fresh one (in a free slot,
 * or the oldest's: a checkout that never finished). */
static pending *pending_of(kd_fraud *f, const char *cart_id, bool create)
{
    pending *slot = NULL;
    for (size_t i = 0; i < KD_FRAUD_PENDING_MAX; i++) {
        pending *p = &f->pend[i];
        if (p->used && strcmp(p->cart_id, cart_id) == 0) {
            slot = p;
            break;
        }
        if (!slot || (slot->used && (!p->used || p->stamp < slot->stamp)))
            slot = p;
    }
    if (!create)
        return slot && slot->used && strcmp(slot->cart_id, cart_id) == 0 ? slot : NULL;
    memset(slot, 0, sizeof *slot);
    slot->used = true;
    slot->stamp = ++f->stamp;
    slot->probability = NAN;
    snprintf(slot->cart_id, sizeof slot->cart_id, "%s", cart_id);
    return slot;
}

/* The decision as the audit operation says it. */
static void decision_note(const fraud_decision *d, const char *event, const char *outcome,
                          term_fraud_decision *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->event, sizeof out->event, "%s", event);
    snprintf(out->action, sizeof out->action, "%s", fraud_action_name(d->action));
    snprintf(out->outcome, sizeof out->outcome, "%s", outcome);
    out->probability = (double)d->probability;
    for (size_t i = 0; i < d->n_reasons && i < TERM_FRAUD_REASONS_MAX; i++) {
        term_fraud_reason *r = &out->reasons[out->n_reasons++];
        snprintf(r->feature, sizeof r->feature, "%s", d->reasons[i].name);
        r->value = isfinite(d->reasons[i].value) ? (double)d->reasons[i].value : 0;
        r->contribution = (double)d->reasons[i].contribution;
    }
}

/* Records a decision (replicated audit operation) for cashier, approved by
 * supervisor ("" none), and logs it. */
static void record(kd_fraud *f, const char *subject, const char *event, const char *outcome,
                   const char *cashier, const char *supervisor, const fraud_decision *d)
{
    kd_app *app = f->app;
    term_fraud_decision note;
    decision_note(d, event, outcome, &note);
    term_actor saved = app->t->actor;
    memset(&app->t->actor, 0, sizeof app->t->actor);
    snprintf(app->t->actor.cashier, sizeof app->t->actor.cashier, "%s", cashier ? cashier : "");
    snprintf(app->t->actor.supervisor, sizeof app->t->actor.supervisor, "%s",
             supervisor ? supervisor : "");
    kassa_err err;
    int rc = term_fraud_decision_record(app->t, subject, &note, &err);
    app->t->actor = saved;
    json_t *reasons = json_array();
    for (size_t i = 0; reasons && i < note.n_reasons; i++)
        json_array_append_new(reasons, json_string(note.reasons[i].feature));
    jlog(rc == KASSA_OK ? JLOG_INFO : JLOG_ERROR, "fraud", "decision",
         "{s:s,s:s,s:s,s:s,s:f,s:o,s:s,s:s,s:s}", "subject", subject, "event", event, "action",
         note.action, "outcome", outcome, "probability", note.probability, "reasons",
         reasons ? reasons : json_null(), "cashier", cashier ? cashier : "", "supervisor",
         supervisor ? supervisor : "", "error", rc == KASSA_OK ? "" : err.msg);
}

/* The "fraud" member of a refusal: action, probability, reason codes. */
static json_t *decision_json(const fraud_decision *d)
{
    json_t *reasons = json_array();
    for (size_t i = 0; reasons && i < d->n_reasons; i++) {
        const fraud_reason *r = &d->reasons[i];
        json_array_append_new(reasons, json_pack("{s:s,s:f,s:f}", "feature", r->name, "value",
                                                 isfinite(r->value) ? (double)r->value : 0.0,
                                                 "contribution", (double)r->contribution));
    }
    return json_pack("{s:s,s:f,s:o}", "action", fraud_action_name(d->action), "probability",
                     (double)d->probability, "reasons", reasons ? reasons : json_array());
}

static void reasons_text(const fraud_decision *d, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < d->n_reasons && n < size; i++) {
        int k = snprintf(out + n, size - n, "%s%s", i ? ", " : "", d->reasons[i].name);
        if (k < 0)
            break;
        n += (size_t)k;
    }
}

static json_t *refusal_json(const char *code, const char *reason, const char *message,
                            const char *payment_id, const fraud_decision *d)
{
    json_t *e = json_pack("{s:s,s:s,s:s,s:o}", "code", code, "message", message, "reason", reason,
                          "fraud", decision_json(d));
    if (e && payment_id)
        json_object_set_new(e, "payment_id", json_string(payment_id));
    return e ? json_pack("{s:o}", "error", e) : NULL;
}

static json_t *supervisor_required(const fraud_decision *d, const char *payment_id)
{
    char why[MESSAGE_MAX / 2], msg[MESSAGE_MAX];
    reasons_text(d, why, sizeof why);
    snprintf(msg, sizeof msg,
             "This sale needs a supervisor's approval (fraud risk %.2f%s%s): send the checkout "
             "again with supervisor {id, pin}",
             (double)d->probability, why[0] ? ": " : "", why);
    return refusal_json(KD_E_FORBIDDEN, "supervisor_required", msg, payment_id, d);
}

static void cart_subject(const kd_cart *c, char *out, size_t size)
{
    snprintf(out, size, "cart:%.*s", SUBJECT_CART_HEX, c->id);
}

int kd_fraud_checkout(kd_req *r, kd_cart *c, int64_t card_minor, const json_t *supervisor)
{
    kd_app *app = r->app;
    kd_fraud *f = active(app);
    if (!f)
        return 0;
    const char *cashier = r->session->cashier.id;
    kd_fraud_feed(app);
    if (card_minor == 0 && switch_take(f, c->id)) {
        fraud_event sw;
        event_make(f, &sw, FRAUD_EV_TENDER_SWITCH, cashier);
        observe(f, &sw);
    }
    pending *p = pending_of(f, c->id, true);
    fraud_event e;
    event_make(f, &e, FRAUD_EV_SALE, cashier);
    fraud_score sc;
    if (!cart_event(f, &c->cart, &e))
        return 0;
    if (card_minor > 0) {
        e.flags = FRAUD_EVF_CARD;
        e.cash = card_minor < e.amount ? e.amount - card_minor : 0;
    }
    if (!score(f, &e, &sc, &p->d))
        return 0;
    p->probability = sc.probability;
    if (!p->d.supervisor)
        return 0;
    term_cashier approver;
    if (supervisor) {
        if (kd_auth_approve(r, supervisor, &approver) != 0)
            return -1;
        snprintf(p->approver, sizeof p->approver, "%s", approver.id);
        return 0;
    }
    char subject[OPLOG_AUDIT_SUBJECT_MAX + 1];
    cart_subject(c, subject, sizeof subject);
    record(f, subject, "sale", "refused", cashier, NULL, &p->d);
    kd_reply_json(r, 403, supervisor_required(&p->d, NULL));
    p->used = false;
    return -1;
}

int kd_fraud_card_sale(kd_app *app, const kd_cart *cart, const char *cashier,
                       const char *payment_id, const char *token, int64_t card_minor, bool offline,
                       json_t **refusal)
{
    kd_fraud *f = active(app);
    *refusal = NULL;
    if (!f)
        return 0;
    kd_fraud_feed(app);
    pending *p = pending_of(f, cart->id, true);
    fraud_event e;
    event_make(f, &e, FRAUD_EV_SALE, cashier);
    fraud_score sc;
    fraud_decision d;
    if (!cart_event(f, &cart->cart, &e))
        return 0;
    e.flags = FRAUD_EVF_CARD | (offline ? FRAUD_EVF_OFFLINE : 0);
    e.cash = card_minor < e.amount ? e.amount - card_minor : 0;
    snprintf(e.token, sizeof e.token, "%s", token);
    if (!score(f, &e, &sc, &d))
        return 0;
    p->d = d;
    p->probability = sc.probability;
    if (!d.refuse_offline_card && !(d.supervisor && !p->approver[0]))
        return 0;
    char msg[MESSAGE_MAX], why[MESSAGE_MAX / 2];
    reasons_text(&d, why, sizeof why);
    int status = d.refuse_offline_card ? 402 : 403;
    record(f, payment_id, "sale", "refused", cashier, p->approver, &d);
    if (status == 402) {
        snprintf(msg, sizeof msg,
                 "This card cannot be accepted offline for this sale (fraud risk %.2f%s%s): take "
                 "cash, or another card once the card network answers",
                 (double)d.probability, why[0] ? ": " : "", why);
        *refusal = refusal_json(KD_E_DECLINED, "offline_card_refused", msg, payment_id, &d);
    } else {
        *refusal = supervisor_required(&d, payment_id);
    }
    p->used = false;
    return status;
}

void kd_fraud_sold(kd_app *app, const kd_cart *cart, const oplog_sale_ref *ref)
{
    kd_fraud *f = app->fraud;
    pending *p = f ? pending_of(f, cart->id, false) : NULL;
    if (!p)
        return;
    p->used = false;
    if (f->state != KD_FRAUD_ACTIVE || !isfinite(p->probability))
        return;
    remember(f, ref, p->probability);
    if (p->d.action == FRAUD_ALLOW)
        return;
    char id[KASSA_ID_MAX + 24];
    oplog_sale_id(ref, id, sizeof id);
    record(f, id, "sale", p->approver[0] ? "approved" : "flagged", cart->owner, p->approver, &p->d);
}

/* ---- voids, returns, no-sale ---- */

static void score_action(kd_req *r, fraud_event *e, const char *event)
{
    kd_fraud *f = r->app->fraud;
    f->act.scored = false;
    fraud_score sc;
    if (!score(f, e, &sc, &f->act.d))
        return;
    f->act.scored = true;
    f->act.event = event;
}

/* The start of a void's or return's event: the sale read into app->sale
 * (false when it cannot be: the action is refused for the same reason). */
static bool refund_event(kd_req *r, const oplog_sale_ref *sale, int kind, fraud_event *e,
                         term_sale_info *info)
{
    kd_app *app = r->app;
    kd_fraud *f = app->fraud;
    kassa_err err;
    if (!f)
        return false;
    f->act.scored = false;
    if (f->state != KD_FRAUD_ACTIVE)
        return false;
    if (term_sale_get(app->t, sale, info, app->sale, &err) != KASSA_OK)
        return false;
    kd_fraud_feed(app);
    event_make(f, e, kind, r->session->cashier.id);
    e->sale = *sale;
    return true;
}

void kd_fraud_void(kd_req *r, const oplog_sale_ref *sale)
{
    kd_app *app = r->app;
    term_sale_info info;
    fraud_event e;
    if (!refund_event(r, sale, FRAUD_EV_VOID, &e, &info))
        return;
    e.amount = info.total;
    int64_t cash = oplog_sale_cash_due(app->sale);
    e.cash = cash < 0 ? 0 : cash > e.amount ? e.amount : cash;
    score_action(r, &e, "void");
}

void kd_fraud_return(kd_req *r, const oplog_sale_ref *sale, const term_return_req *req)
{
    kd_app *app = r->app;
    term_sale_info info;
    fraud_event e;
    if (!refund_event(r, sale, FRAUD_EV_RETURN, &e, &info))
        return;
    /* What the lines returned are worth in the sale (the refund itself is
     * computed when the return is recorded). */
    for (size_t i = 0; i < req->n_lines; i++) {
        for (size_t k = 0; k < app->sale->n_lines; k++) {
            const oplog_sale_line *l = &app->sale->lines[k];
            if (strcmp(l->sku, req->lines[i].sku) != 0 || l->qty <= 0)
                continue;
            e.amount += oplog_line_total(l) / l->qty * req->lines[i].qty;
            e.items += req->lines[i].qty;
        }
    }
    if (e.amount < 0)
        e.amount = 0;
    int64_t card = app->sale->has_card ? app->sale->card.amount : 0;
    e.cash = e.amount > card ? e.amount - card : 0;
    score_action(r, &e, "return");
}

void kd_fraud_no_sale(kd_req *r)
{
    kd_fraud *f = r->app->fraud;
    if (!f)
        return;
    f->act.scored = false;
    if (f->state != KD_FRAUD_ACTIVE)
        return;
    kd_fraud_feed(r->app);
    fraud_event e;
    event_make(f, &e, FRAUD_EV_NO_SALE, r->session->cashier.id);
    score_action(r, &e, "no_sale");
}

void kd_fraud_action_done(kd_req *r, const char *subject)
{
    kd_fraud *f = r->app->fraud;
    if (!f || !f->act.scored)
        return;
    f->act.scored = false;
    if (f->act.d.action == FRAUD_ALLOW)
        return;
    /* A supervisor approved the action itself: that approval stands for a
     * supervisor decision too. */
    term_actor a = r->app->t->actor; /* a copy: record() sets the actor */
    record(f, subject, f->act.event, a.supervisor[0] ? "approved" : "flagged", a.cashier,
           a.supervisor, &f->act.d);
}

/* ---- status ---- */

json_t *kd_fraud_status_json(kd_app *app)
{
    kd_fraud *f = app->fraud;
    if (!f)
        return json_pack("{s:s,s:I,s:I,s:I,s:s}", "state", "off", "model_version", (json_int_t)0,
                         "decisions", (json_int_t)0, "flagged", (json_int_t)0, "reason", "");
    return json_pack("{s:s,s:I,s:I,s:I,s:s,s:I}", "state", state_name(f->state), "model_version",
                     (json_int_t)f->model_version, "decisions", (json_int_t)f->decisions, "flagged",
                     (json_int_t)f->flagged, "reason", f->reason, "since_ms",
                     (json_int_t)f->state_since_ms);
}

json_t *kd_fraud_alerts_json(kd_app *app)
{
    kd_fraud *f = app->fraud;
    json_t *a = json_array();
    if (a && f && f->state == KD_FRAUD_DISABLED)
        json_array_append_new(a, json_pack("{s:s,s:s,s:I}", "kind", "fraud_scoring_disabled",
                                           "message", f->reason, "since_ms",
                                           (json_int_t)f->state_since_ms));
    return a;
}

/* ---- start and stop ---- */

/* The terminal's offset from UTC now (the model's hour of day is local). */
static int32_t utc_offset_min(void)
{
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm))
        return 0;
    long min = tm.tm_gmtoff / 60;
    return (int32_t)(min < -UTC_OFFSET_MAX_MIN  ? -UTC_OFFSET_MAX_MIN
                     : min > UTC_OFFSET_MAX_MIN ? UTC_OFFSET_MAX_MIN
                                                : min);
}

int kd_fraud_start(kd_app *app, kassa_err *err)
{
    assert(!app->fraud);
    kd_fraud *f = calloc(1, sizeof *f);
    if (!f)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory for the fraud scorer");
    app->fraud = f;
    f->app = app;
    oplog_vv_init(&f->fed);
    kbuf_init(&f->payloads);
    f->ops = calloc(KD_FRAUD_FEED_CHUNK, sizeof *f->ops);
    f->priced = malloc(sizeof *f->priced);
    f->applied_ev = evtimer_new(app->base, on_applied_timer, f);
    if (!f->ops || !f->priced || !f->applied_ev)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory for the fraud scorer");
    fraud_config fc = {.utc_offset_min = utc_offset_min()};
    int rc = fraud_state_new(&fc, &f->st, err);
    if (rc == KASSA_OK)
        rc = fraud_conv_new(&f->conv, err);
    if (rc != KASSA_OK)
        return rc;
    load_model(f);
    kassa_err why;
    if (replay(f, &why) != KASSA_OK) {
        /* Scoring on a cold state would mislead: off, with the alert;
         * selling goes on. */
        char text[REASON_SIZE];
        snprintf(text, sizeof text, "the log could not be replayed: %s", why.msg);
        fraud_model_free(f->model);
        f->model = NULL;
        set_state(f, KD_FRAUD_DISABLED, text, JLOG_ERROR);
    }
    return KASSA_OK;
}

void kd_fraud_reload(kd_app *app)
{
    kd_fraud *f = app->fraud;
    if (!f)
        return;
    int64_t before = f->model_version;
    load_model(f);
    kd_fraud_feed(app); /* what was committed while no model scored */
    jlog(JLOG_INFO, "fraud", "reloaded", "{s:s,s:I,s:I}", "state", state_name(f->state), "version",
         (json_int_t)f->model_version, "previous", (json_int_t)before);
}

void kd_fraud_free(kd_app *app)
{
    kd_fraud *f = app->fraud;
    if (!f)
        return;
    if (f->applied_ev)
        event_free(f->applied_ev);
    fraud_model_free(f->model);
    fraud_state_free(f->st);
    fraud_conv_free(f->conv);
    oplog_vv_free(&f->fed);
    kbuf_free(&f->payloads);
    free(f->ops);
    free(f->priced);
    free(f);
    app->fraud = NULL;
}
