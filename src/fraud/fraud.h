/*
 * fraud: fraud scoring at the terminal (DESIGN.md §6, docs/FRAUD.md).
 *
 * Shrink from employee and refund fraud, and the risk of accepting a card
 * offline, are judged by the terminal itself, with no network:
 *
 *   events ──fraud_observe──▶ fraud_state (bounded rings per cashier, card
 *                              token and terminal; the store's normal sale)
 *   scored event ──fraud_features──▶ FRAUD_N_FEATURES floats (fixed names
 *                              and order: fraud_feature_names)
 *   features ──fraud_model (XGBoost C API, nthread=1)──▶ margin, probability
 *                              and, on demand, per-feature contributions
 *                              (reason codes)
 *   score ──fraud_decide (a pure function of the policy)──▶ allow / flag for
 *                              review / require a supervisor / refuse an
 *                              offline card payment
 *
 * An event (fraud_event) is what the features need from one action: a sale,
 * a void, a return, a no-sale drawer opening, a line voided in the cart, a
 * price override, a card attempt, a tender switch, a drawer count. Most come
 * from the operation log (fraud_conv_op turns decoded operations into
 * events); line voids, declined card attempts and tender switches happen in
 * kassad's cart and are not in the log, and price overrides reach it only
 * with their sale, so kassad feeds those (docs/FRAUD.md, "What kassad must
 * feed"). The same C code computes the features for training
 * (tests/progs/fraud_features.c over the generator's events) and at
 * checkout, so the model sees at checkout exactly what it was trained on.
 *
 * Why: a model's decision must be explainable (the top contributing
 * features, named), cheap (tens of microseconds on the checkout path), and
 * must never block selling: a missing, corrupt or hostile model file is an
 * error the caller turns into "scoring disabled" plus an alert. The model
 * file is untrusted bytes: XGBoost's own loader trusts the structure of a
 * model (an out-of-range feature index or tree count crashes it), so
 * fraud_model_load checks every tree with its own bounds-checked reader and
 * hands XGBoost only a model re-written from the checked values.
 *
 * Library code: nothing is printed. One fraud_state and one fraud_model per
 * thread (neither locks).
 */
#ifndef KASSA_FRAUD_H
#define KASSA_FRAUD_H

#include "base/base.h"
#include "oplog/oplog.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- events ---- */

typedef enum fraud_event_kind {
    /* Scored: the transactions a decision is taken on. */
    FRAUD_EV_SALE = 1,    /* a sale at checkout: amount, cash part, discount, items, card */
    FRAUD_EV_VOID = 2,    /* a whole sale voided: amount refunded, cash part, the sale */
    FRAUD_EV_RETURN = 3,  /* units returned: amount refunded, cash part, items, the sale */
    FRAUD_EV_NO_SALE = 4, /* the drawer opened without a sale */
    /* Observed only: they shape the windows of later scored events. */
    FRAUD_EV_LINE_VOID = 5,      /* a cart line removed before checkout: its value, units */
    FRAUD_EV_PRICE_OVERRIDE = 6, /* a line's price overridden: the unit price's reduction */
    FRAUD_EV_CARD_ATTEMPT = 7,   /* a card authorisation that did not become a sale */
    FRAUD_EV_TENDER_SWITCH = 8,  /* the tender changed during checkout */
    FRAUD_EV_DRAWER_COUNT = 9,   /* a drawer count: amount = counted - expected (short < 0) */
    FRAUD_EV_KIND_MAX = 9,
} fraud_event_kind;

/* fraud_event.flags */
enum {
    FRAUD_EVF_CARD = 1,       /* SALE / CARD_ATTEMPT: a card (token) pays (part of) it */
    FRAUD_EVF_OFFLINE = 2,    /* the card payment is taken offline (store and forward) */
    FRAUD_EVF_DECLINED = 4,   /* CARD_ATTEMPT: declined (clear: approved, then abandoned) */
    FRAUD_EVF_NO_RECEIPT = 8, /* RETURN: without the sale's receipt */
    FRAUD_EVF_ALL = 15,
};

/* What the features need from one action. Amounts in minor units. */
typedef struct fraud_event {
    uint8_t kind;                    /* fraud_event_kind */
    uint8_t flags;                   /* FRAUD_EVF_* */
    int64_t time_ms;                 /* wall clock (Unix ms, UTC), e.g. hlc_physical_ms(op.hlc) */
    char terminal[KASSA_ID_MAX + 1]; /* the node the action happened on */
    char cashier[KASSA_ID_MAX + 1];  /* "" for the operator's CLI */
    /* SALE: its id; VOID / RETURN: the sale they refer to (origin "" when
     * unknown, e.g. a return without receipt). */
    oplog_sale_ref sale;
    /* SALE: total; VOID / RETURN: refund; LINE_VOID: the line's value;
     * PRICE_OVERRIDE: the unit price's reduction (catalog - override; 0
     * if unknown or the price went up: the audit operation has no units);
     * CARD_ATTEMPT: amount asked; DRAWER_COUNT: counted - expected (signed);
     * NO_SALE, TENDER_SWITCH: 0. */
    int64_t amount;
    /* SALE: the cash part (amount - card part); VOID / RETURN: cash handed
     * back. 0..amount. */
    int64_t cash;
    int64_t discount; /* SALE: the lines' discounts (kassa's sale payload has them) */
    int64_t items;    /* SALE / RETURN / LINE_VOID: units */
    char token[OPLOG_TOKEN_MAX + 1]; /* SALE with FRAUD_EVF_CARD, CARD_ATTEMPT: the card token */
} fraud_event;

/* Zeroes *e and sets its kind, time, terminal and cashier (NULL: ""): the
 * start of an event kassad feeds from the cart. Ids are copied as far as
 * they fit; fraud_event_check refuses what is not an id. */
void fraud_event_make(fraud_event *e, int kind, int64_t time_ms, const char *terminal,
                      const char *cashier);
/* "sale", "void", ... (docs/FRAUD.md); NULL for an unknown kind. */
const char *fraud_event_kind_name(int kind);
/* 0 for an unknown name. */
int fraud_event_kind_parse(const char *name);
/* Whether events of this kind are scored (sale, void, return, no-sale). */
bool fraud_event_scored(int kind);
/* Checks an event's fields (kind, flags, ranges, ids, NUL-terminated
 * strings): KASSA_EINVAL with the reason. */
int fraud_event_check(const fraud_event *e, kassa_err *err);

/* The JSON-lines form of events (docs/FRAUD.md, "Event format"): what the
 * generator writes and the feature tool reads. One object per line. */
#define FRAUD_JSON_LINE_MAX 2048
#define FRAUD_LABEL_MAX 31
/* Parses one line (without or with its '\n'). label (label_size bytes, may
 * be NULL) receives the optional "label" field ("" when absent). A malformed
 * or out-of-range line is KASSA_ECORRUPT and leaves *e zeroed. */
int fraud_event_from_json(const char *line, size_t len, fraud_event *e, char *label,
                          size_t label_size, kassa_err *err);
/* Appends the event as one JSON line (with '\n'); label may be NULL. */
int fraud_event_to_json(const fraud_event *e, const char *label, kbuf *out, kassa_err *err);

/* ---- events from the operation log ----
 * Sales, voids, returns, no-sale audits, price override audits and drawer
 * counts become events. A void or return payload does not name its
 * cashier: the audit operation its transaction wrote just before it does
 * ("void"/"return", subject = the sale id), so the converter remembers each
 * origin's last such audit. Apply operations in each origin's order. */

#define FRAUD_CONV_ORIGINS_MAX 64 /* origins whose last audit is remembered */
#define FRAUD_CONV_EVENTS_MAX 1   /* events one operation yields at most */

typedef struct fraud_conv fraud_conv;

int fraud_conv_new(fraud_conv **out, kassa_err *err);
void fraud_conv_free(fraud_conv *c);
/* Decodes op's payload and fills out[0 .. *n_out): 0 or 1 events (other
 * kinds, settings, stock ...: 0). A payload that does not decode is
 * KASSA_ECORRUPT. */
int fraud_conv_op(fraud_conv *c, const oplog_op *op, fraud_event out[FRAUD_CONV_EVENTS_MAX],
                  size_t *n_out, kassa_err *err);

/* ---- the recent window (bounded) ---- */

/* Windows (docs/FRAUD.md, "Features"). */
#define FRAUD_WIN_SHORT_MS (60 * 60 * 1000LL)           /* 1 h: the cashier's recent activity */
#define FRAUD_WIN_SHIFT_MS (8 * 60 * 60 * 1000LL)       /* 8 h: the cashier's shift */
#define FRAUD_WIN_CARD_MS (10 * 60 * 1000LL)            /* 10 min: card attempts at a terminal */
#define FRAUD_WIN_TOKEN_MS (24 * 60 * 60 * 1000LL)      /* 24 h: one card token's uses */
#define FRAUD_WIN_DRAWER_MS (7 * 24 * 60 * 60 * 1000LL) /* 7 days: drawer shortages */
#define FRAUD_CART_MAX_MS (30 * 60 * 1000LL) /* cart events: since the last txn, ≤ 30 min */
/* A card attempt at or below this amount (minor units) counts as small. */
#define FRAUD_SMALL_CARD_MINOR 500

/* Bounds: each table and ring is allocated once (fraud_state_new); the
 * least recently seen cashier, terminal or token is replaced when a table
 * is full, the oldest entry when a ring is. */
#define FRAUD_CASHIERS_MAX 64
#define FRAUD_CASHIER_EVENTS_MAX 512 /* per cashier: > a busy 8 h shift */
#define FRAUD_CASHIER_DRAWER_MAX 16  /* drawer counts per cashier */
#define FRAUD_TERMINALS_MAX 64
#define FRAUD_TERMINAL_CARDS_MAX 128 /* card attempts per terminal */
#define FRAUD_TOKENS_MAX 2048        /* card tokens (hash table slots) */
#define FRAUD_TOKEN_PROBE_MAX 32     /* slots probed per token */
#define FRAUD_TOKEN_EVENTS_MAX 16    /* uses per token: its counts saturate there */
#define FRAUD_SALES_MAX 16384        /* recent sales remembered for voids and returns */
/* The store's normal: running mean and variance of ln(1 + amount) and of
 * units over sales, an exponentially weighted average over about this many
 * sales once that many were seen; z-scores need FRAUD_NORM_MIN_SALES. */
#define FRAUD_NORM_SALES 2000
#define FRAUD_NORM_MIN_SALES 30

typedef struct fraud_config {
    int32_t utc_offset_min; /* the store's local time: UTC + this (-840..840) */
} fraud_config;

typedef struct fraud_state fraud_state;

int fraud_state_new(const fraud_config *cfg, fraud_state **out, kassa_err *err);
void fraud_state_free(fraud_state *s);
/* Takes an event into the windows (after its transaction committed: the
 * features of a scored event never include the event itself). Events may
 * arrive a little out of time order (replication); window counts filter
 * by time. KASSA_EINVAL for an event fraud_event_check refuses. */
int fraud_observe(fraud_state *s, const fraud_event *e, kassa_err *err);

/* ---- features ---- */

/* The feature vector, in this order (docs/FRAUD.md describes each). */
enum {
    FRAUD_X_IS_VOID,
    FRAUD_X_IS_RETURN,
    FRAUD_X_IS_NO_SALE,
    FRAUD_X_AMOUNT_LOG,
    FRAUD_X_AMOUNT_Z,
    FRAUD_X_ITEMS,
    FRAUD_X_ITEMS_Z,
    FRAUD_X_ITEM_VALUE_LOG,
    FRAUD_X_DISCOUNT_RATIO,
    FRAUD_X_CART_LINE_VOIDS,
    FRAUD_X_CART_LINE_VOID_RATIO,
    FRAUD_X_CART_OVERRIDES,
    FRAUD_X_CART_OVERRIDE_RATIO,
    FRAUD_X_CART_TENDER_SWITCHES,
    FRAUD_X_CART_CARD_DECLINES,
    FRAUD_X_CASH_FRAC,
    FRAUD_X_CARD,
    FRAUD_X_CARD_OFFLINE,
    FRAUD_X_HOUR,
    FRAUD_X_REF_AGE_MIN,
    FRAUD_X_REF_SAME_CASHIER,
    FRAUD_X_NO_RECEIPT,
    FRAUD_X_C_SALES_1H,
    FRAUD_X_C_VOIDS_8H,
    FRAUD_X_C_RETURNS_8H,
    FRAUD_X_C_NO_RECEIPT_8H,
    FRAUD_X_C_REFUND_RATIO_8H,
    FRAUD_X_C_NO_SALES_8H,
    FRAUD_X_C_LINE_VOIDS_1H,
    FRAUD_X_C_OVERRIDES_8H,
    FRAUD_X_C_DISCOUNT_RATIO_8H,
    FRAUD_X_C_TENDER_SWITCHES_1H,
    FRAUD_X_C_CARD_DECLINES_1H,
    FRAUD_X_C_DRAWER_SHORT_7D_LOG,
    FRAUD_X_C_SECS_SINCE_TXN,
    FRAUD_X_TOK_USES_24H,
    FRAUD_X_TOK_DECLINES_24H,
    FRAUD_X_TOK_OTHER_TERMINALS_24H,
    FRAUD_X_TOK_OFFLINE_24H,
    FRAUD_X_TOK_AMOUNT_24H_LOG,
    FRAUD_X_T_CARD_ATTEMPTS_10M,
    FRAUD_X_T_CARD_DECLINES_10M,
    FRAUD_X_T_SMALL_CARDS_10M,
    FRAUD_X_T_TOKENS_10M,
    FRAUD_N_FEATURES
};

/* The names, index = feature (what the model file's feature_names must
 * equal, and what reason codes say). */
extern const char *const fraud_feature_names[FRAUD_N_FEATURES];

/* The features of scored event e (fraud_event_scored) against the state
 * before it: nothing in s changes and nothing is allocated. A value that
 * does not apply or is unknown is NaN (XGBoost's missing value). */
int fraud_features(const fraud_state *s, const fraud_event *e, float x[FRAUD_N_FEATURES],
                   kassa_err *err);

/* ---- the model ---- */

#define FRAUD_MODEL_MAX_BYTES (8u * 1024u * 1024u)
#define FRAUD_MODEL_TREES_MAX 2000
#define FRAUD_MODEL_NODES_MAX 8191 /* per tree */
#define FRAUD_MODEL_DEPTH_MAX 16
#define FRAUD_MODEL_LEAF_MAX 1000.0 /* |leaf value|: a margin that cannot overflow */

typedef struct fraud_model fraud_model;

/* Loads an XGBoost JSON model (binary:logistic, gbtree, numerical splits,
 * feature_names equal to fraud_feature_names). The bytes are checked
 * first (every array, child index, feature index, depth, value) and
 * XGBoost gets a model re-written from the checked values, with
 * nthread = 1. KASSA_ECORRUPT with the reason for anything else,
 * KASSA_ENOTFOUND / KASSA_EIO for a file that cannot be read: the caller
 * disables scoring and raises an alert. */
int fraud_model_load(const uint8_t *bytes, size_t len, fraud_model **out, kassa_err *err);
int fraud_model_load_file(const char *path, fraud_model **out, kassa_err *err);
void fraud_model_free(fraud_model *m);
size_t fraud_model_trees(const fraud_model *m);

/* The margin (log-odds) of one feature vector; no heap growth per call
 * (XGBoost's in-place prediction on the model's own buffer). */
int fraud_model_margin(fraud_model *m, const float x[FRAUD_N_FEATURES], float *margin,
                       kassa_err *err);
/* Per-feature contributions (TreeSHAP, XGBoost's pred_contribs): contrib[i]
 * for feature i, contrib[FRAUD_N_FEATURES] the bias; they sum to the
 * margin. Slower than the margin (a DMatrix per call): for decisions that
 * need reasons. */
int fraud_model_contribs(fraud_model *m, const float x[FRAUD_N_FEATURES],
                         float contrib[FRAUD_N_FEATURES + 1], kassa_err *err);

/* ---- scores, reasons, decisions ---- */

#define FRAUD_REASONS_MAX 3

typedef struct fraud_reason {
    int feature;        /* index into fraud_feature_names */
    const char *name;   /* fraud_feature_names[feature] */
    float value;        /* the feature's value */
    float contribution; /* its share of the margin (> 0: towards fraud) */
} fraud_reason;

typedef struct fraud_score {
    float x[FRAUD_N_FEATURES];
    float margin;
    float probability; /* 1 / (1 + e^-margin) */
    size_t n_reasons;  /* 0 until fraud_explain */
    fraud_reason reasons[FRAUD_REASONS_MAX];
} fraud_score;

/* Features and margin of scored event e (reasons not filled). */
int fraud_score_event(fraud_model *m, const fraud_state *s, const fraud_event *e, fraud_score *out,
                      kassa_err *err);
/* Reason codes: the features with the largest positive contributions,
 * at most FRAUD_REASONS_MAX, largest first. */
int fraud_explain(fraud_model *m, fraud_score *sc, kassa_err *err);
/* The same from contributions already computed (a pure function). */
void fraud_reasons_from(const float x[FRAUD_N_FEATURES], const float contrib[FRAUD_N_FEATURES + 1],
                        fraud_score *sc);

typedef enum fraud_action {
    FRAUD_ALLOW = 0,
    FRAUD_REVIEW = 1,              /* allowed, flagged for review */
    FRAUD_SUPERVISOR = 2,          /* needs a supervisor's approval; flagged */
    FRAUD_REFUSE_OFFLINE_CARD = 3, /* the offline card payment is refused; flagged */
} fraud_action;

const char *fraud_action_name(fraud_action a);

/* Thresholds on the probability (0..1]. A sale paid by an offline card at
 * or above refuse_offline_card_at has its card refused (another tender, or
 * online); any scored event at or above supervisor_at needs a supervisor,
 * at or above review_at is flagged for review. */
typedef struct fraud_policy {
    float review_at;
    float supervisor_at;
    float refuse_offline_card_at;
} fraud_policy;

/* The defaults (docs/FRAUD.md, "Decisions"): chosen on the held-out split
 * of the committed model. */
void fraud_policy_default(fraud_policy *p);
/* 0 < review_at <= supervisor_at <= 1, 0 < refuse_offline_card_at <= 1. */
int fraud_policy_check(const fraud_policy *p, kassa_err *err);

typedef struct fraud_decision {
    fraud_action action; /* the most severe that applies */
    bool review;         /* flag for review (every action but allow) */
    bool supervisor;     /* a supervisor must approve */
    bool refuse_offline_card;
    float probability;
    float margin;
    size_t n_reasons;
    fraud_reason reasons[FRAUD_REASONS_MAX];
} fraud_decision;

/* A pure function of the policy and the score. */
void fraud_decide(const fraud_policy *p, const fraud_score *sc, fraud_decision *out);

#endif
