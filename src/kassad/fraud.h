/*
 * fraud: the fraud scorer inside kassad (docs/FRAUD.md, "In kassad").
 *
 * At start (and on SIGHUP) the active model of [fraud] model is looked up
 * in the signed registry (modelreg_resolve) and loaded; missing, refused or
 * failing at run time, scoring is disabled: an alert (log event, the
 * status's fraud.state, an alert on the review list), and every sale is
 * allowed. Scoring never blocks selling.
 *
 * What the scorer sees (src/fraud's state, one per process):
 *  - the last 7 days of the log, replayed at start in time order;
 *  - every operation committed since, made here or received (kd_fraud_feed
 *    reads what the state has not seen yet, origin by origin, before every
 *    score and a moment after a peer batch was applied); the sales of
 *    other terminals are scored as they arrive, so a negative stock's
 *    sales can be ranked by risk;
 *  - the cart's own events: lines removed, declined or abandoned card
 *    attempts, tender switches after them, supervisor-approved price
 *    overrides.
 *
 * Decisions (fraud_decide, thresholds from the manifest or [fraud]):
 * at checkout before the sale commits (a card sale again once the card is
 * read: token, online or offline), and on voids, returns and no-sale drawer
 * openings. A supervisor decision answers the checkout 403 (reason
 * supervisor_required, with the reason codes) unless the request brings a
 * supervisor's approval; an offline card refused answers 402 (reason
 * offline_card_refused: cash or another card still work); a review flag
 * lets the sale through. Every decision but a plain allow becomes a
 * replicated audit operation (term_fraud_decision_record) and so a review
 * item on every terminal.
 */
#ifndef KASSAD_FRAUD_H
#define KASSAD_FRAUD_H

#include "kassad/request.h"

#define KD_FRAUD_REPLAY_MS (7 * 24 * 60 * 60 * 1000LL) /* the state's longest window */
#define KD_FRAUD_SCORES_MAX 4096      /* sales' probabilities kept for the triage's ranking */
#define KD_FRAUD_PENDING_MAX 16       /* checkouts scored and not yet sold or refused */
#define KD_FRAUD_SWITCH_MAX 16        /* carts whose card payment failed (tender switches) */
#define KD_FRAUD_FEED_CHUNK 512       /* operations read at a time */
#define KD_FRAUD_FEED_MAX 200000      /* operations observed per feed at most (the rest next) */
#define KD_FRAUD_APPLIED_DELAY_MS 200 /* a peer batch is observed this much later */

typedef enum {
    KD_FRAUD_OFF = 0,      /* [fraud] enabled = 0 */
    KD_FRAUD_ACTIVE = 1,   /* a model scores */
    KD_FRAUD_DISABLED = 2, /* no model, or it failed: everything allowed, alert raised */
} kd_fraud_state;

int kd_fraud_start(kd_app *app, kassa_err *err);
/* SIGHUP: the registry's active model looked up and loaded again. */
void kd_fraud_reload(kd_app *app);
void kd_fraud_free(kd_app *app);

/* Observes every committed operation the state has not seen. */
void kd_fraud_feed(kd_app *app);
/* A peer's operations were applied: observed (and their sales scored)
 * shortly, and a SKU replication made negative logged. */
void kd_fraud_applied(kd_app *app);

/* ---- the cart ---- */

/* A cart changed from `before` to `after` (lines removed or lowered: line
 * voids; a cart deleted: after NULL). */
void kd_fraud_cart_changed(kd_app *app, const char *cashier, const term_cart *before,
                           const term_cart *after);
/* A supervisor approved a price override of sku to unit_price. */
void kd_fraud_price_override(kd_app *app, const char *cashier, const char *sku, int64_t unit_price);
/* A card payment of cart failed (declined: the processor or the limits
 * said no; else abandoned). token "" when no card was read. */
void kd_fraud_card_failed(kd_app *app, const kd_cart *cart, const char *cashier, const char *token,
                          int64_t amount, bool declined, bool offline);

/* ---- decisions ---- */

/* Scores a checkout of cart c before anything is recorded (card: the card
 * pays card_minor; its final decision comes with the card). 0: go on;
 * -1: answered (403 supervisor_required, or the supervisor's PIN check
 * failed). supervisor: the body's approval, or NULL. */
int kd_fraud_checkout(kd_req *r, kd_cart *c, int64_t card_minor, const json_t *supervisor);
/* A card sale of cart about to be recorded (the card read; offline or
 * not). 0: record it; else the HTTP status to refuse it with and its body
 * in *refusal (402 offline card refused, 403 supervisor required). */
int kd_fraud_card_sale(kd_app *app, const kd_cart *cart, const char *cashier,
                       const char *payment_id, const char *token, int64_t card_minor, bool offline,
                       json_t **refusal);
/* The checkout of cart was recorded as sale ref: its decision (if not a
 * plain allow) becomes an audit operation. */
void kd_fraud_sold(kd_app *app, const kd_cart *cart, const oplog_sale_ref *ref);

/* Voids, returns, no-sale openings: scored before they run (a supervisor
 * has approved them already); kd_fraud_action_done records the decision
 * once the action succeeded. */
void kd_fraud_void(kd_req *r, const oplog_sale_ref *sale);
void kd_fraud_return(kd_req *r, const oplog_sale_ref *sale, const term_return_req *req);
void kd_fraud_no_sale(kd_req *r);
void kd_fraud_action_done(kd_req *r, const char *subject);

/* ---- what the API shows ---- */

/* The sale's fraud probability as scored here; NaN unknown (term_risk_fn). */
double kd_fraud_risk(const oplog_sale_ref *sale, void *app);
/* The "fraud" member of /api/v1/status. */
json_t *kd_fraud_status_json(kd_app *app);
/* The review list's alerts (scoring disabled). */
json_t *kd_fraud_alerts_json(kd_app *app);

#endif
