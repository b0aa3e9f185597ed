/*
 * Unit tests for the fraud decision policy (src/fraud/policy.c), a pure
 * function: the defaults are the thresholds the committed model's manifest
 * records, bad thresholds are refused, every threshold decides at its
 * boundary, an offline card is refused only on a sale paid by an offline
 * card, a score that is not a number allows, and reason codes are the
 * largest positive contributions.
 */
#include "testutil.h"
#include <cmocka.h>

#include <float.h>
#include <jansson.h>
#include <math.h>

#include "fraud/fraud.h"

static fraud_score score_of(float p, bool sale, bool offline_card)
{
    fraud_score sc;
    memset(&sc, 0, sizeof sc);
    sc.probability = p;
    sc.margin = (float)log((double)p / (1 - (double)p));
    sc.x[FRAUD_X_IS_RETURN] = sale ? 0 : 1;
    sc.x[FRAUD_X_CARD] = offline_card;
    sc.x[FRAUD_X_CARD_OFFLINE] = offline_card;
    return sc;
}

static fraud_decision decide(const fraud_policy *p, float prob, bool sale, bool offline_card)
{
    fraud_score sc = score_of(prob, sale, offline_card);
    fraud_decision d;
    memset(&d, 0x5a, sizeof d);
    fraud_decide(p, &sc, &d);
    return d;
}

static void test_defaults_match_manifest(void **state)
{
    (void)state;
    fraud_policy p;
    fraud_policy_default(&p);
    assert_int_equal(fraud_policy_check(&p, NULL), KASSA_OK);
    char path[1024];
    snprintf(path, sizeof path, "%s/../../models/fraud/manifest.json",
             getenv("KASSA_TEST_FIXTURES"));
    json_error_t je;
    json_t *m = json_load_file(path, 0, &je);
    assert_non_null(m);
    json_t *pol =
        json_object_get(json_object_get(json_object_get(m, "input"), "preprocess"), "policy");
    assert_non_null(pol);
    assert_true(fabs(json_number_value(json_object_get(pol, "review_at")) - p.review_at) < 1e-6);
    assert_true(fabs(json_number_value(json_object_get(pol, "supervisor_at")) - p.supervisor_at) <
                1e-6);
    assert_true(fabs(json_number_value(json_object_get(pol, "refuse_offline_card_at")) -
                     p.refuse_offline_card_at) < 1e-6);
    json_decref(m);
}

static void test_check(void **state)
{
    (void)state;
    static const fraud_policy bad[] = {
        {0, 0.5f, 0.5f},    {-0.1f, 0.5f, 0.5f}, {0.6f, 0.5f, 0.5f},
        {0.1f, 1.1f, 0.5f}, {0.1f, 0.5f, 0},     {0.1f, 0.5f, 1.5f},
        {NAN, 0.5f, 0.5f},  {0.1f, NAN, 0.5f},   {0.1f, 0.5f, NAN},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad); i++) {
        kassa_err err;
        if (fraud_policy_check(&bad[i], &err) != KASSA_EINVAL)
            fail_msg("policy %zu accepted", i);
        tu_check_msg(err.msg, sizeof err.msg);
    }
    fraud_policy edge = {1, 1, 1};
    assert_int_equal(fraud_policy_check(&edge, NULL), KASSA_OK);
}

static void test_thresholds(void **state)
{
    (void)state;
    fraud_policy p = {.review_at = 0.1f, .supervisor_at = 0.6f, .refuse_offline_card_at = 0.3f};
    fraud_decision d = decide(&p, nextafterf(0.1f, 0), true, false);
    assert_int_equal(d.action, FRAUD_ALLOW);
    assert_false(d.review || d.supervisor || d.refuse_offline_card);
    assert_int_equal(d.n_reasons, 0);
    d = decide(&p, 0.1f, true, false);
    assert_int_equal(d.action, FRAUD_REVIEW);
    assert_true(d.review && !d.supervisor && !d.refuse_offline_card);
    d = decide(&p, nextafterf(0.6f, 0), true, false);
    assert_int_equal(d.action, FRAUD_REVIEW);
    d = decide(&p, 0.6f, true, false);
    assert_int_equal(d.action, FRAUD_SUPERVISOR);
    assert_true(d.review && d.supervisor);
    assert_true(d.probability == 0.6f);
    /* An offline card sale: refused from its own threshold on, flagged. */
    d = decide(&p, nextafterf(0.3f, 0), true, true);
    assert_int_equal(d.action, FRAUD_REVIEW);
    assert_false(d.refuse_offline_card);
    d = decide(&p, 0.3f, true, true);
    assert_int_equal(d.action, FRAUD_REFUSE_OFFLINE_CARD);
    assert_true(d.refuse_offline_card && d.review && !d.supervisor);
    d = decide(&p, 0.9f, true, true);
    assert_int_equal(d.action, FRAUD_REFUSE_OFFLINE_CARD);
    assert_true(d.supervisor); /* both apply */
    /* Below review but above the offline threshold of a stricter policy. */
    fraud_policy strict = {
        .review_at = 0.5f, .supervisor_at = 0.9f, .refuse_offline_card_at = 0.2f};
    d = decide(&strict, 0.25f, true, true);
    assert_int_equal(d.action, FRAUD_REFUSE_OFFLINE_CARD);
    assert_true(d.review);
    d = decide(&strict, 0.25f, true, false);
    assert_int_equal(d.action, FRAUD_ALLOW);
    /* Not a sale: no card to refuse. */
    d = decide(&p, 0.5f, false, true);
    assert_int_equal(d.action, FRAUD_REVIEW);
    assert_false(d.refuse_offline_card);
    fraud_score ns = score_of(0.95f, true, false);
    ns.x[FRAUD_X_IS_RETURN] = 0;
    ns.x[FRAUD_X_IS_NO_SALE] = 1;
    ns.x[FRAUD_X_CARD_OFFLINE] = 1;
    fraud_decide(&p, &ns, &d);
    assert_int_equal(d.action, FRAUD_SUPERVISOR);
    /* A probability that is not a number never blocks. */
    fraud_score nan_score = score_of(0.5f, true, true);
    nan_score.probability = NAN;
    fraud_decide(&p, &nan_score, &d);
    assert_int_equal(d.action, FRAUD_ALLOW);
    assert_false(d.review);
    assert_string_equal(fraud_action_name(FRAUD_ALLOW), "allow");
    assert_string_equal(fraud_action_name(FRAUD_REVIEW), "review");
    assert_string_equal(fraud_action_name(FRAUD_SUPERVISOR), "supervisor");
    assert_string_equal(fraud_action_name(FRAUD_REFUSE_OFFLINE_CARD), "refuse_offline_card");
    assert_string_equal(fraud_action_name((fraud_action)9), "unknown");
}

static void test_reasons(void **state)
{
    (void)state;
    float x[FRAUD_N_FEATURES], c[FRAUD_N_FEATURES + 1];
    for (int i = 0; i < FRAUD_N_FEATURES; i++) {
        x[i] = (float)i;
        c[i] = -0.01f * (float)i;
    }
    c[FRAUD_N_FEATURES] = 50; /* the bias is never a reason */
    c[FRAUD_X_T_CARD_DECLINES_10M] = 2.5f;
    c[FRAUD_X_CART_LINE_VOIDS] = 0.5f;
    c[FRAUD_X_NO_RECEIPT] = 4.0f;
    c[FRAUD_X_HOUR] = 0.5f; /* ties: the lower index first */
    fraud_score sc;
    memset(&sc, 0, sizeof sc);
    fraud_reasons_from(x, c, &sc);
    assert_int_equal(sc.n_reasons, FRAUD_REASONS_MAX);
    assert_int_equal(sc.reasons[0].feature, FRAUD_X_NO_RECEIPT);
    assert_string_equal(sc.reasons[0].name, "no_receipt");
    assert_true(sc.reasons[0].value == (float)FRAUD_X_NO_RECEIPT);
    assert_true(sc.reasons[0].contribution == 4.0f);
    assert_int_equal(sc.reasons[1].feature, FRAUD_X_T_CARD_DECLINES_10M);
    assert_int_equal(sc.reasons[2].feature, FRAUD_X_CART_LINE_VOIDS);
    /* Only positive contributions are reasons. */
    for (int i = 0; i < FRAUD_N_FEATURES; i++)
        c[i] = i == FRAUD_X_CARD ? 0.1f : 0.0f;
    fraud_reasons_from(x, c, &sc);
    assert_int_equal(sc.n_reasons, 1);
    assert_string_equal(sc.reasons[0].name, "card");
    for (int i = 0; i < FRAUD_N_FEATURES; i++)
        c[i] = -1;
    fraud_reasons_from(x, c, &sc);
    assert_int_equal(sc.n_reasons, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_match_manifest),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_thresholds),
        cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
