/*
 * Unit tests for the fraud features (src/fraud/features.c): hand-made event
 * sequences with the exact feature values they must give, the cart (events
 * since the cashier's last transaction), every window's boundary and
 * expiry, late and future events, references from voids and returns to
 * their sale, card tokens across terminals, card attempts at a terminal,
 * the store's running normal, the bounds of every ring and table, and
 * events the checks refuse.
 */
#include "testutil.h"
#include <cmocka.h>

#include <math.h>

#include "fraud/fraud.h"

#define T0 INT64_C(1709546400000) /* 2024-03-04 10:00 UTC */
#define MIN INT64_C(60000)
#define HOUR (60 * MIN)
#define EPS 1e-5

static fraud_state *new_state(int32_t offset_min)
{
    fraud_config cfg = {.utc_offset_min = offset_min};
    fraud_state *s = NULL;
    assert_int_equal(fraud_state_new(&cfg, &s, NULL), KASSA_OK);
    return s;
}

static fraud_event ev(int kind, int64_t t, const char *term, const char *cashier)
{
    fraud_event e;
    fraud_event_make(&e, kind, t, term, cashier);
    return e;
}

static fraud_event sale(int64_t t, const char *term, const char *cashier, uint64_t seq,
                        int64_t amount, int64_t items)
{
    fraud_event e = ev(FRAUD_EV_SALE, t, term, cashier);
    snprintf(e.sale.origin, sizeof e.sale.origin, "%s", term);
    e.sale.seq = seq;
    e.amount = amount;
    e.cash = amount;
    e.items = items;
    return e;
}

static fraud_event card_sale(int64_t t, const char *term, const char *cashier, uint64_t seq,
                             int64_t amount, const char *token, bool offline)
{
    fraud_event e = sale(t, term, cashier, seq, amount, 1);
    e.cash = 0;
    e.flags = FRAUD_EVF_CARD | (offline ? FRAUD_EVF_OFFLINE : 0);
    snprintf(e.token, sizeof e.token, "%s", token);
    return e;
}

static fraud_event attempt(int64_t t, const char *term, const char *cashier, int64_t amount,
                           const char *token, bool declined)
{
    fraud_event e = ev(FRAUD_EV_CARD_ATTEMPT, t, term, cashier);
    e.amount = amount;
    e.flags = FRAUD_EVF_CARD | (declined ? FRAUD_EVF_DECLINED : 0);
    snprintf(e.token, sizeof e.token, "%s", token);
    return e;
}

static void observe(fraud_state *s, fraud_event e)
{
    kassa_err err;
    int rc = fraud_observe(s, &e, &err);
    if (rc != KASSA_OK)
        fail_msg("observe: %s", err.msg);
}

static void features(const fraud_state *s, const fraud_event *e, float *x)
{
    kassa_err err;
    int rc = fraud_features(s, e, x, &err);
    if (rc != KASSA_OK)
        fail_msg("features: %s", err.msg);
}

/* Checks one feature: the same value (within EPS), or both NaN. */
static void expect(const float *x, int i, double want)
{
    bool ok = isnan(want) ? isnan(x[i]) : fabs((double)x[i] - want) <= EPS * fmax(1, fabs(want));
    if (!ok)
        fail_msg("feature %s = %.9g, expected %.9g", fraud_feature_names[i], (double)x[i], want);
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(FRAUD_N_FEATURES, 44);
    for (int i = 0; i < FRAUD_N_FEATURES; i++) {
        assert_non_null(fraud_feature_names[i]);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(fraud_feature_names[i], fraud_feature_names[j]);
    }
    assert_string_equal(fraud_feature_names[0], "is_void");
    assert_string_equal(fraud_feature_names[FRAUD_X_T_TOKENS_10M], "t_tokens_10m");
    for (int k = 1; k <= FRAUD_EV_KIND_MAX; k++)
        assert_int_equal(fraud_event_kind_parse(fraud_event_kind_name(k)), k);
    assert_null(fraud_event_kind_name(0));
    assert_null(fraud_event_kind_name(FRAUD_EV_KIND_MAX + 1));
    assert_int_equal(fraud_event_kind_parse("refund"), 0);
    assert_true(fraud_event_scored(FRAUD_EV_NO_SALE));
    assert_false(fraud_event_scored(FRAUD_EV_LINE_VOID));
}

/* A first sale: every feature from the event alone. */
static void test_first_sale(void **state)
{
    (void)state;
    fraud_state *s = new_state(90); /* UTC+1:30: 10:00 UTC is 11:30 */
    fraud_event e = sale(T0, "T1", "c1", 1, 2500, 4);
    e.discount = 500;
    e.cash = 1000;
    e.flags = FRAUD_EVF_CARD;
    snprintf(e.token, sizeof e.token, "tok_a");
    float x[FRAUD_N_FEATURES];
    features(s, &e, x);
    expect(x, FRAUD_X_IS_VOID, 0);
    expect(x, FRAUD_X_IS_RETURN, 0);
    expect(x, FRAUD_X_IS_NO_SALE, 0);
    expect(x, FRAUD_X_AMOUNT_LOG, log1p(25.0));
    expect(x, FRAUD_X_AMOUNT_Z, NAN);
    expect(x, FRAUD_X_ITEMS, 4);
    expect(x, FRAUD_X_ITEMS_Z, NAN);
    expect(x, FRAUD_X_ITEM_VALUE_LOG, log1p(25.0 / 4));
    expect(x, FRAUD_X_DISCOUNT_RATIO, 500.0 / 3000.0);
    expect(x, FRAUD_X_CASH_FRAC, 0.4);
    expect(x, FRAUD_X_CARD, 1);
    expect(x, FRAUD_X_CARD_OFFLINE, 0);
    expect(x, FRAUD_X_HOUR, 11.5);
    expect(x, FRAUD_X_REF_AGE_MIN, NAN);
    expect(x, FRAUD_X_REF_SAME_CASHIER, NAN);
    expect(x, FRAUD_X_NO_RECEIPT, 0);
    expect(x, FRAUD_X_C_SECS_SINCE_TXN, NAN);
    for (int i = FRAUD_X_CART_LINE_VOIDS; i <= FRAUD_X_CART_CARD_DECLINES; i++)
        expect(x, i, 0);
    for (int i = FRAUD_X_C_SALES_1H; i <= FRAUD_X_C_DRAWER_SHORT_7D_LOG; i++)
        expect(x, i, 0);
    for (int i = FRAUD_X_TOK_USES_24H; i < FRAUD_N_FEATURES; i++)
        expect(x, i, 0);
    /* A no-sale: no amount, no items. */
    fraud_event ns = ev(FRAUD_EV_NO_SALE, T0 - 11 * HOUR, "T1", "c1");
    features(s, &ns, x);
    expect(x, FRAUD_X_IS_NO_SALE, 1);
    expect(x, FRAUD_X_AMOUNT_LOG, 0);
    expect(x, FRAUD_X_ITEM_VALUE_LOG, NAN);
    expect(x, FRAUD_X_CASH_FRAC, NAN);
    expect(x, FRAUD_X_HOUR, 0.5); /* 23:00 UTC + 1:30 */
    fraud_state_free(s);
}

/* The cart: events since the cashier's last transaction, within 30 min;
 * and the cashier's windows. */
static void test_cart_and_cashier_window(void **state)
{
    (void)state;
    fraud_state *s = new_state(0);
    observe(s, sale(T0, "T1", "c1", 1, 1000, 2));
    fraud_event lv = ev(FRAUD_EV_LINE_VOID, T0 + 1 * MIN, "T1", "c1");
    lv.amount = 300;
    lv.items = 1;
    observe(s, lv);
    observe(s, lv);
    fraud_event po = ev(FRAUD_EV_PRICE_OVERRIDE, T0 + 2 * MIN, "T1", "c1");
    po.amount = 150;
    observe(s, po);
    observe(s, ev(FRAUD_EV_TENDER_SWITCH, T0 + 2 * MIN, "T1", "c1"));
    observe(s, attempt(T0 + 2 * MIN, "T1", "c1", 900, "tok_x", true));
    /* Another cashier's events are not c1's. */
    observe(s, ev(FRAUD_EV_LINE_VOID, T0 + 2 * MIN, "T2", "c2"));
    fraud_event e = sale(T0 + 3 * MIN, "T1", "c1", 2, 900, 3);
    float x[FRAUD_N_FEATURES];
    features(s, &e, x);
    expect(x, FRAUD_X_CART_LINE_VOIDS, 2);
    expect(x, FRAUD_X_CART_LINE_VOID_RATIO, 600.0 / 1500.0);
    expect(x, FRAUD_X_CART_OVERRIDES, 1);
    expect(x, FRAUD_X_CART_OVERRIDE_RATIO, 150.0 / 1050.0);
    expect(x, FRAUD_X_CART_TENDER_SWITCHES, 1);
    expect(x, FRAUD_X_CART_CARD_DECLINES, 1);
    expect(x, FRAUD_X_C_SALES_1H, 1);
    expect(x, FRAUD_X_C_LINE_VOIDS_1H, 2);
    expect(x, FRAUD_X_C_OVERRIDES_8H, 1);
    expect(x, FRAUD_X_C_TENDER_SWITCHES_1H, 1);
    expect(x, FRAUD_X_C_CARD_DECLINES_1H, 1);
    expect(x, FRAUD_X_C_SECS_SINCE_TXN, 180);
    /* The terminal saw one declined attempt; the sale pays cash. */
    expect(x, FRAUD_X_T_CARD_ATTEMPTS_10M, 1);
    expect(x, FRAUD_X_T_CARD_DECLINES_10M, 1);
    expect(x, FRAUD_X_TOK_USES_24H, 0);
    /* Features change nothing: the same again. */
    float again[FRAUD_N_FEATURES];
    features(s, &e, again);
    assert_memory_equal(x, again, sizeof x);
    /* After the sale, the cart is empty; the windows keep the events. */
    observe(s, e);
    fraud_event next = sale(T0 + 4 * MIN, "T1", "c1", 3, 500, 1);
    features(s, &next, x);
    expect(x, FRAUD_X_CART_LINE_VOIDS, 0);
    expect(x, FRAUD_X_CART_OVERRIDES, 0);
    expect(x, FRAUD_X_CART_CARD_DECLINES, 0);
    expect(x, FRAUD_X_C_LINE_VOIDS_1H, 2);
    expect(x, FRAUD_X_C_SALES_1H, 2);
    expect(x, FRAUD_X_C_SECS_SINCE_TXN, 60);
    /* Cart events older than 30 min do not count, even without a txn. */
    fraud_state *s2 = new_state(0);
    lv.time_ms = T0;
    observe(s2, lv);
    lv.time_ms = T0 + 20 * MIN;
    observe(s2, lv);
    fraud_event late = sale(T0 + 30 * MIN, "T1", "c1", 9, 1000, 1);
    features(s2, &late, x);
    expect(x, FRAUD_X_CART_LINE_VOIDS, 2); /* 30 min exactly: still in */
    late.time_ms = T0 + 30 * MIN + 1;
    features(s2, &late, x);
    expect(x, FRAUD_X_CART_LINE_VOIDS, 1);
    fraud_state_free(s2);
    fraud_state_free(s);
}

/* Window boundaries: an event exactly a window old counts, one more
 * millisecond does not; events after the scored one never count. */
static void test_window_expiry(void **state)
{
    (void)state;
    fraud_state *s = new_state(0);
    const int64_t t = T0 + 10 * 24 * HOUR;
    observe(s, sale(t - HOUR, "T1", "c1", 1, 1000, 1));         /* 1 h: in both */
    observe(s, sale(t - HOUR - 1, "T1", "c1", 2, 1000, 1));     /* 8 h only */
    observe(s, sale(t - 8 * HOUR, "T1", "c1", 3, 1000, 1));     /* 8 h only */
    observe(s, sale(t - 8 * HOUR - 1, "T1", "c1", 4, 1000, 1)); /* none */
    observe(s, sale(t + 1, "T1", "c1", 5, 1000, 1));            /* the future: none */
    fraud_event v = ev(FRAUD_EV_VOID, t - 8 * HOUR, "T1", "c1");
    v.amount = 1000;
    observe(s, v);
    v.time_ms = t - 8 * HOUR - 1;
    observe(s, v);
    fraud_event d = ev(FRAUD_EV_DRAWER_COUNT, t - 7 * 24 * HOUR, "T1", "c1");
    d.amount = -2000;
    observe(s, d);
    d.time_ms = t - 7 * 24 * HOUR - 1;
    d.amount = -9000;
    observe(s, d);
    d.time_ms = t - HOUR;
    d.amount = 500; /* over: not a shortage */
    observe(s, d);
    fraud_event e = ev(FRAUD_EV_NO_SALE, t, "T1", "c1");
    float x[FRAUD_N_FEATURES];
    features(s, &e, x);
    expect(x, FRAUD_X_C_SALES_1H, 1);
    expect(x, FRAUD_X_C_VOIDS_8H, 1);
    /* refunds 1000 against 3000 sold in 8 h */
    expect(x, FRAUD_X_C_REFUND_RATIO_8H, 1000.0 / 4000.0);
    expect(x, FRAUD_X_C_DRAWER_SHORT_7D_LOG, log1p(20.0));
    expect(x, FRAUD_X_C_SECS_SINCE_TXN, 3600);
    /* The token and terminal windows: 24 h and 10 min. */
    fraud_state *k = new_state(0);
    observe(k, card_sale(t - 24 * HOUR, "T2", "c1", 1, 1000, "tok_a", false));
    observe(k, card_sale(t - 24 * HOUR - 1, "T3", "c1", 2, 1000, "tok_a", false));
    observe(k, attempt(t - 10 * MIN, "T1", "c2", 100, "tok_b", true));
    observe(k, attempt(t - 10 * MIN - 1, "T1", "c2", 100, "tok_c", true));
    fraud_event c = card_sale(t, "T1", "c1", 3, 700, "tok_a", false);
    features(k, &c, x);
    expect(x, FRAUD_X_TOK_USES_24H, 1);
    expect(x, FRAUD_X_TOK_OTHER_TERMINALS_24H, 1);
    expect(x, FRAUD_X_TOK_AMOUNT_24H_LOG, log1p(10.0));
    expect(x, FRAUD_X_T_CARD_ATTEMPTS_10M, 1);
    expect(x, FRAUD_X_T_TOKENS_10M, 1);
    fraud_state_free(k);
    fraud_state_free(s);
}

/* Voids and returns find their sale: its age and whether the same cashier
 * sold it; an unknown sale gives NaN. Refund features of the window. */
static void test_references(void **state)
{
    (void)state;
    fraud_state *s = new_state(0);
    observe(s, sale(T0, "T1", "c1", 7, 4000, 2));
    fraud_event v = ev(FRAUD_EV_VOID, T0 + 12 * MIN, "T1", "c1");
    snprintf(v.sale.origin, sizeof v.sale.origin, "T1");
    v.sale.seq = 7;
    v.amount = 4000;
    v.cash = 4000;
    float x[FRAUD_N_FEATURES];
    features(s, &v, x);
    expect(x, FRAUD_X_IS_VOID, 1);
    expect(x, FRAUD_X_REF_AGE_MIN, 12);
    expect(x, FRAUD_X_REF_SAME_CASHIER, 1);
    expect(x, FRAUD_X_CASH_FRAC, 1);
    expect(x, FRAUD_X_DISCOUNT_RATIO, 0);
    snprintf(v.cashier, sizeof v.cashier, "c2");
    features(s, &v, x);
    expect(x, FRAUD_X_REF_SAME_CASHIER, 0);
    v.sale.seq = 8; /* never seen */
    features(s, &v, x);
    expect(x, FRAUD_X_REF_AGE_MIN, NAN);
    expect(x, FRAUD_X_REF_SAME_CASHIER, NAN);
    /* A return without receipt names no sale. */
    fraud_event r = ev(FRAUD_EV_RETURN, T0 + 20 * MIN, "T2", "c1");
    r.flags = FRAUD_EVF_NO_RECEIPT;
    r.amount = 2500;
    r.cash = 2500;
    r.items = 1;
    features(s, &r, x);
    expect(x, FRAUD_X_IS_RETURN, 1);
    expect(x, FRAUD_X_NO_RECEIPT, 1);
    expect(x, FRAUD_X_REF_AGE_MIN, NAN);
    observe(s, r);
    observe(s, r);
    fraud_event next = sale(T0 + 30 * MIN, "T1", "c1", 9, 1000, 1);
    features(s, &next, x);
    expect(x, FRAUD_X_C_RETURNS_8H, 2);
    expect(x, FRAUD_X_C_NO_RECEIPT_8H, 2);
    expect(x, FRAUD_X_C_REFUND_RATIO_8H, 5000.0 / 9000.0);
    /* The same sale observed twice is one entry (its time updated). */
    observe(s, sale(T0 + 5 * MIN, "T1", "c1", 7, 4000, 2));
    snprintf(v.cashier, sizeof v.cashier, "c1");
    v.sale.seq = 7;
    features(s, &v, x);
    expect(x, FRAUD_X_REF_AGE_MIN, 7);
    fraud_state_free(s);
}

/* Card tokens across terminals; card attempts at one terminal. */
static void test_cards(void **state)
{
    (void)state;
    fraud_state *s = new_state(0);
    observe(s, card_sale(T0, "T1", "c1", 1, 3000, "tok_a", true));
    observe(s, card_sale(T0 + MIN, "T2", "c2", 1, 4000, "tok_a", true));
    observe(s, attempt(T0 + 2 * MIN, "T3", "c3", 5000, "tok_a", true));
    observe(s, card_sale(T0 + 3 * MIN, "T1", "c1", 2, 1000, "tok_a", false));
    /* A split sale: the card pays amount - cash. */
    fraud_event split = card_sale(T0 + 3 * MIN, "T2", "c2", 2, 1000, "tok_z", false);
    split.cash = 400;
    observe(s, split);
    fraud_event e = card_sale(T0 + 4 * MIN, "T1", "c1", 3, 2000, "tok_a", true);
    float x[FRAUD_N_FEATURES];
    features(s, &e, x);
    expect(x, FRAUD_X_CARD, 1);
    expect(x, FRAUD_X_CARD_OFFLINE, 1);
    expect(x, FRAUD_X_TOK_USES_24H, 4);
    expect(x, FRAUD_X_TOK_DECLINES_24H, 1);
    expect(x, FRAUD_X_TOK_OTHER_TERMINALS_24H, 2); /* T2, T3 */
    expect(x, FRAUD_X_TOK_OFFLINE_24H, 2);
    expect(x, FRAUD_X_TOK_AMOUNT_24H_LOG, log1p(80.0)); /* approved only */
    expect(x, FRAUD_X_T_CARD_ATTEMPTS_10M, 2);          /* T1: two sales */
    expect(x, FRAUD_X_T_TOKENS_10M, 1);
    expect(x, FRAUD_X_T_SMALL_CARDS_10M, 0);
    /* Card testing: small attempts with many tokens at T3. */
    fraud_state *b = new_state(0);
    char tok[16];
    for (int i = 0; i < 12; i++) {
        snprintf(tok, sizeof tok, "tok_t%d", i % 5);
        observe(b, attempt(T0 + i * 20000, "T3", "c3", 100 + i * 20, tok, i % 4 != 0));
    }
    observe(b, attempt(T0, "T1", "c1", 100, "tok_other", true));
    fraud_event small = card_sale(T0 + 5 * MIN, "T3", "c3", 1, 300, "tok_t9", false);
    features(b, &small, x);
    expect(x, FRAUD_X_T_CARD_ATTEMPTS_10M, 12);
    expect(x, FRAUD_X_T_CARD_DECLINES_10M, 9);
    expect(x, FRAUD_X_T_SMALL_CARDS_10M, 12); /* 100..320: all small */
    expect(x, FRAUD_X_T_TOKENS_10M, 5);
    expect(x, FRAUD_X_CART_CARD_DECLINES, 9);
    expect(x, FRAUD_X_C_CARD_DECLINES_1H, 9);
    expect(x, FRAUD_X_TOK_USES_24H, 0);
    fraud_state_free(b);
    fraud_state_free(s);
}

/* The store's normal: z-scores against a plain mean and population
 * variance of the sales so far (below FRAUD_NORM_SALES they agree). */
static void test_store_normal(void **state)
{
    (void)state;
    fraud_state *s = new_state(0);
    const int n = 200;
    double sum_a = 0, sum_a2 = 0, sum_i = 0, sum_i2 = 0;
    tu_rng r;
    tu_rng_seed(&r, 11);
    float x[FRAUD_N_FEATURES];
    for (int i = 0; i < n; i++) {
        int64_t amount = tu_rng_range(&r, 100, 20000), items = tu_rng_range(&r, 1, 12);
        fraud_event e = sale(T0 + i * MIN, "T1", "c1", (uint64_t)i + 1, amount, items);
        features(s, &e, x);
        if (i < FRAUD_NORM_MIN_SALES) {
            expect(x, FRAUD_X_AMOUNT_Z, NAN);
        } else {
            double ma = sum_a / i, va = sum_a2 / i - ma * ma;
            double mi = sum_i / i, vi = sum_i2 / i - mi * mi;
            double la = log1p((double)amount);
            if (fabs(x[FRAUD_X_AMOUNT_Z] - (la - ma) / sqrt(va)) > 1e-3 ||
                fabs(x[FRAUD_X_ITEMS_Z] - ((double)items - mi) / sqrt(vi)) > 1e-3)
                fail_msg("sale %d: z %g / %g", i, (double)x[FRAUD_X_AMOUNT_Z],
                         (double)x[FRAUD_X_ITEMS_Z]);
        }
        observe(s, e);
        double la = log1p((double)amount);
        sum_a += la;
        sum_a2 += la * la;
        sum_i += (double)items;
        sum_i2 += (double)items * (double)items;
    }
    /* Voids and returns do not move the normal. */
    fraud_event big = sale(T0 + HOUR * 5, "T1", "c1", 999, 20000, 12);
    features(s, &big, x);
    float z = x[FRAUD_X_AMOUNT_Z];
    fraud_event ret = ev(FRAUD_EV_RETURN, T0 + HOUR * 4, "T1", "c1");
    ret.amount = 1;
    for (int i = 0; i < 50; i++)
        observe(s, ret);
    features(s, &big, x);
    expect(x, FRAUD_X_AMOUNT_Z, z);
    /* Identical sales: no spread, no z-score. */
    fraud_state *flat = new_state(0);
    for (int i = 0; i < 40; i++)
        observe(flat, sale(T0 + i, "T1", "c1", (uint64_t)i + 1, 500, 1));
    features(flat, &big, x);
    expect(x, FRAUD_X_AMOUNT_Z, NAN);
    fraud_state_free(flat);
    fraud_state_free(s);
}

/* Rings and tables are bounded: the oldest entry or least recently seen
 * cashier / token goes. */
static void test_bounds(void **state)
{
    (void)state;
    fraud_state *s = new_state(0);
    float x[FRAUD_N_FEATURES];
    /* A cashier's ring keeps FRAUD_CASHIER_EVENTS_MAX events. */
    for (int i = 0; i < FRAUD_CASHIER_EVENTS_MAX + 40; i++)
        observe(s, sale(T0 + i, "T1", "c1", (uint64_t)i + 1, 100, 1));
    fraud_event e = sale(T0 + HOUR / 2, "T1", "c1", 100000, 100, 1);
    features(s, &e, x);
    expect(x, FRAUD_X_C_SALES_1H, FRAUD_CASHIER_EVENTS_MAX);
    /* A token's ring keeps FRAUD_TOKEN_EVENTS_MAX uses. */
    for (int i = 0; i < FRAUD_TOKEN_EVENTS_MAX + 5; i++)
        observe(s, attempt(T0 + i, "T2", "c2", 100, "tok_many", true));
    fraud_event c = card_sale(T0 + MIN, "T1", "c1", 100001, 100, "tok_many", false);
    features(s, &c, x);
    expect(x, FRAUD_X_TOK_USES_24H, FRAUD_TOKEN_EVENTS_MAX);
    /* A terminal's ring keeps FRAUD_TERMINAL_CARDS_MAX attempts. */
    char tok[24];
    for (int i = 0; i < FRAUD_TERMINAL_CARDS_MAX + 10; i++) {
        snprintf(tok, sizeof tok, "tok_%d", i);
        observe(s, attempt(T0 + i, "T5", "c2", 100, tok, true));
    }
    fraud_event t5 = sale(T0 + MIN, "T5", "c2", 1, 100, 1);
    features(s, &t5, x);
    expect(x, FRAUD_X_T_CARD_ATTEMPTS_10M, FRAUD_TERMINAL_CARDS_MAX);
    expect(x, FRAUD_X_T_TOKENS_10M, FRAUD_TERMINAL_CARDS_MAX);
    /* More cashiers than the table holds: the least recently seen goes. */
    char id[16];
    for (int i = 0; i < FRAUD_CASHIERS_MAX; i++) {
        snprintf(id, sizeof id, "x%d", i);
        observe(s, sale(T0 + 2 * MIN, "T1", id, 200000 + (uint64_t)i, 100, 1));
    }
    features(s, &e, x);
    expect(x, FRAUD_X_C_SALES_1H, 0); /* c1 was replaced */
    snprintf(e.cashier, sizeof e.cashier, "x%d", FRAUD_CASHIERS_MAX - 1);
    features(s, &e, x);
    expect(x, FRAUD_X_C_SALES_1H, 1);
    /* Many more tokens than slots: the table stays usable and the latest
     * token is found. */
    for (int i = 0; i < 4 * FRAUD_TOKENS_MAX; i++) {
        snprintf(tok, sizeof tok, "tok_flood_%d", i);
        observe(s, attempt(T0 + 3 * MIN, "T4", "c3", 100, tok, false));
    }
    fraud_event last = card_sale(T0 + 4 * MIN, "T1", "c1", 300000, 100, tok, false);
    features(s, &last, x);
    expect(x, FRAUD_X_TOK_USES_24H, 1);
    expect(x, FRAUD_X_TOK_OTHER_TERMINALS_24H, 1);
    fraud_state_free(s);
}

static const char *const BAD_EVENTS[] = {
    "kind 0",           "kind too big",          "unknown flag",          "negative time",
    "empty terminal",   "terminal with a space", "terminal unterminated", "cashier with a slash",
    "sale seq 0",       "seq without origin",    "card without token",    "token without card",
    "token not a word", "declined sale",         "no receipt sale",       "negative amount",
    "amount too big",   "cash above amount",     "negative discount",     "negative items",
    "card on a void",
};

/* Spoils a good card sale as BAD_EVENTS[i] says. */
static void make_bad(size_t i, fraud_event *e)
{
    switch (i) {
    case 0:
        e->kind = 0;
        break;
    case 1:
        e->kind = FRAUD_EV_KIND_MAX + 1;
        break;
    case 2:
        e->flags |= 0x40;
        break;
    case 3:
        e->time_ms = -1;
        break;
    case 4:
        e->terminal[0] = '\0';
        break;
    case 5:
        snprintf(e->terminal, sizeof e->terminal, "T 1");
        break;
    case 6:
        memset(e->terminal, 'a', sizeof e->terminal);
        break;
    case 7:
        snprintf(e->cashier, sizeof e->cashier, "c/1");
        break;
    case 8:
        e->sale.seq = 0;
        break;
    case 9:
        e->sale.origin[0] = '\0';
        e->sale.seq = 3;
        break;
    case 10:
        e->token[0] = '\0';
        break;
    case 11:
        e->flags = 0;
        break;
    case 12:
        snprintf(e->token, sizeof e->token, "tok-1");
        break;
    case 13:
        e->flags |= FRAUD_EVF_DECLINED;
        break;
    case 14:
        e->flags |= FRAUD_EVF_NO_RECEIPT;
        break;
    case 15:
        e->amount = -1;
        break;
    case 16:
        e->amount = INT64_C(10000000000001);
        break;
    case 17:
        e->cash = e->amount + 1;
        break;
    case 18:
        e->discount = -5;
        break;
    case 19:
        e->items = -1;
        break;
    case 20:
        e->kind = FRAUD_EV_VOID;
        break;
    default:
        fail_msg("no bad event %zu", i);
    }
}

/* Events the checks refuse; a refused event changes nothing. */
static void test_bad_events(void **state)
{
    (void)state;
    fraud_state *s = new_state(0);
    fraud_event good = card_sale(T0, "T1", "c1", 1, 1000, "tok_a", true);
    kassa_err err;
    assert_int_equal(fraud_event_check(&good, &err), KASSA_OK);
    float x[FRAUD_N_FEATURES];
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD_EVENTS); i++) {
        fraud_event e = good;
        make_bad(i, &e);
        err.code = 0;
        if (fraud_event_check(&e, &err) != KASSA_EINVAL)
            fail_msg("%s: accepted", BAD_EVENTS[i]);
        assert_int_equal(err.code, KASSA_EINVAL);
        tu_check_msg(err.msg, sizeof err.msg);
        assert_int_equal(fraud_observe(s, &e, &err), KASSA_EINVAL);
        assert_int_equal(fraud_features(s, &e, x, &err), KASSA_EINVAL);
    }
    /* Nothing was observed: the token is unknown. */
    fraud_event probe = card_sale(T0 + MIN, "T1", "c1", 2, 1000, "tok_a", false);
    features(s, &probe, x);
    expect(x, FRAUD_X_TOK_USES_24H, 0);
    expect(x, FRAUD_X_C_SALES_1H, 0);
    /* Drawer counts may be negative; other kinds are not scored. */
    fraud_event d = ev(FRAUD_EV_DRAWER_COUNT, T0, "T1", "c1");
    d.amount = -500;
    assert_int_equal(fraud_observe(s, &d, &err), KASSA_OK);
    assert_int_equal(fraud_features(s, &d, x, &err), KASSA_EINVAL);
    assert_true(tu_contains(err.msg, "not scored"));
    fraud_config bad_cfg = {.utc_offset_min = 841};
    fraud_state *none = NULL;
    assert_int_equal(fraud_state_new(&bad_cfg, &none, &err), KASSA_EINVAL);
    assert_null(none);
    fraud_state_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_first_sale),
        cmocka_unit_test(test_cart_and_cashier_window),
        cmocka_unit_test(test_window_expiry),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_cards),
        cmocka_unit_test(test_store_normal),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_bad_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
