/*
 * fraud: scores, reason codes and the decision policy.
 *
 * The policy is a pure function of its thresholds and a score: no state,
 * no clock, no model, so kassad can test and log it as is. A probability
 * that is not a number allows (scoring never blocks selling).
 */
#include "fraud/fraud.h"

#include <math.h>
#include <string.h>

/* Chosen by tools/fraud/train.py on the validation split of the committed
 * model (models/fraud/REPORT.md; the manifest's input.preprocess.policy):
 * review at a 1 % alert rate, a supervisor at 0.3 %, and an offline card
 * refused from where 80 % of the offline card sales scored were abuse. */
#define FRAUD_DEFAULT_REVIEW_AT 0.082f
#define FRAUD_DEFAULT_SUPERVISOR_AT 0.89f
#define FRAUD_DEFAULT_REFUSE_OFFLINE_AT 0.33f

const char *fraud_action_name(fraud_action a)
{
    switch (a) {
    case FRAUD_ALLOW:
        return "allow";
    case FRAUD_REVIEW:
        return "review";
    case FRAUD_SUPERVISOR:
        return "supervisor";
    case FRAUD_REFUSE_OFFLINE_CARD:
        return "refuse_offline_card";
    }
    return "unknown";
}

void fraud_policy_default(fraud_policy *p)
{
    p->review_at = FRAUD_DEFAULT_REVIEW_AT;
    p->supervisor_at = FRAUD_DEFAULT_SUPERVISOR_AT;
    p->refuse_offline_card_at = FRAUD_DEFAULT_REFUSE_OFFLINE_AT;
}

int fraud_policy_check(const fraud_policy *p, kassa_err *err)
{
    if (!(p->review_at > 0 && p->review_at <= p->supervisor_at && p->supervisor_at <= 1))
        return kassa_fail(err, KASSA_EINVAL,
                          "fraud policy: need 0 < review_at <= supervisor_at <= 1");
    if (!(p->refuse_offline_card_at > 0 && p->refuse_offline_card_at <= 1))
        return kassa_fail(err, KASSA_EINVAL, "fraud policy: need 0 < refuse_offline_card_at <= 1");
    return KASSA_OK;
}

static float sigmoid(float margin)
{
    return (float)(1.0 / (1.0 + exp(-(double)margin)));
}

int fraud_score_event(fraud_model *m, const fraud_state *s, const fraud_event *e, fraud_score *out,
                      kassa_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = fraud_features(s, e, out->x, err);
    if (rc == KASSA_OK)
        rc = fraud_model_margin(m, out->x, &out->margin, err);
    if (rc != KASSA_OK) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->probability = sigmoid(out->margin);
    return KASSA_OK;
}

void fraud_reasons_from(const float x[FRAUD_N_FEATURES], const float contrib[FRAUD_N_FEATURES + 1],
                        fraud_score *sc)
{
    sc->n_reasons = 0;
    bool taken[FRAUD_N_FEATURES] = {false};
    for (size_t k = 0; k < FRAUD_REASONS_MAX; k++) {
        int best = -1;
        for (int i = 0; i < FRAUD_N_FEATURES; i++)
            if (!taken[i] && contrib[i] > 0 && (best < 0 || contrib[i] > contrib[best]))
                best = i;
        if (best < 0)
            break;
        taken[best] = true;
        sc->reasons[sc->n_reasons++] = (fraud_reason){
            .feature = best,
            .name = fraud_feature_names[best],
            .value = x[best],
            .contribution = contrib[best],
        };
    }
}

int fraud_explain(fraud_model *m, fraud_score *sc, kassa_err *err)
{
    float contrib[FRAUD_N_FEATURES + 1];
    sc->n_reasons = 0;
    int rc = fraud_model_contribs(m, sc->x, contrib, err);
    if (rc != KASSA_OK)
        return rc;
    fraud_reasons_from(sc->x, contrib, sc);
    return KASSA_OK;
}

void fraud_decide(const fraud_policy *p, const fraud_score *sc, fraud_decision *out)
{
    memset(out, 0, sizeof *out);
    float prob = sc->probability;
    out->probability = prob;
    out->margin = sc->margin;
    out->n_reasons = sc->n_reasons <= FRAUD_REASONS_MAX ? sc->n_reasons : FRAUD_REASONS_MAX;
    memcpy(out->reasons, sc->reasons, out->n_reasons * sizeof out->reasons[0]);
    bool sale = sc->x[FRAUD_X_IS_VOID] == 0 && sc->x[FRAUD_X_IS_RETURN] == 0 &&
                sc->x[FRAUD_X_IS_NO_SALE] == 0;
    out->refuse_offline_card =
        sale && sc->x[FRAUD_X_CARD_OFFLINE] == 1 && prob >= p->refuse_offline_card_at;
    out->supervisor = prob >= p->supervisor_at;
    out->review = prob >= p->review_at || out->supervisor || out->refuse_offline_card;
    out->action = out->refuse_offline_card ? FRAUD_REFUSE_OFFLINE_CARD
                  : out->supervisor        ? FRAUD_SUPERVISOR
                  : out->review            ? FRAUD_REVIEW
                                           : FRAUD_ALLOW;
}
