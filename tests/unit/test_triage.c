/*
 * Unit tests of the review list's terminal side (src/term/triage.c):
 *
 *  - fraud decisions: the audit detail formatted and parsed back (reasons
 *    dropped from the last when too long, another version's text
 *    refused), listed newest first with their resolution, resolved once
 *    (accept, flag; adjust refused), on every terminal once replicated;
 *  - post-merge triage: two terminals sell the last units of a SKU while
 *    apart; after the merge both list the SKU with its shortfall and the
 *    sales that took the last units, ranked by the risk recorded for them
 *    (a replicated fraud decision), then the caller's scores, then time;
 *  - resolutions as operations: accept clears the item on both terminals,
 *    a sale arriving later opens it again, flag names one of its sales
 *    (any other is refused), adjust books a stock count that clears it;
 *  - voided sales never contribute, the window bounds the walk, and the
 *    log is replayed by time (term_ops_since).
 */
#include "testutil.h"
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "term/term.h"
#include "termutil.h"

#define STORE "S1"
#define BIG_PAY INT64_C(100000000)
#define T0 UINT64_C(1750000000000)
#define ITEMS_MAX 8
#define DECISIONS_MAX 8

static term_sale_result *g_res;

static int group_setup(void **state)
{
    (void)state;
    g_res = malloc(sizeof *g_res);
    if (!g_res)
        return -1;
    return tu_mkdtemp(g_base, sizeof g_base, "kassa-triage", false);
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rm_tree(g_base);
    free(g_res);
    return 0;
}

/* ---- helpers ---- */

static void catalog(term *t, const char *sku, int64_t stock)
{
    catalog_item it;
    memset(&it, 0, sizeof it);
    snprintf(it.sku, sizeof it.sku, "%s", sku);
    snprintf(it.name, sizeof it.name, "Item %s", sku);
    snprintf(it.tax_class, sizeof it.tax_class, "standard");
    it.price = 250;
    it.stock = stock;
    kassa_err err;
    if (term_catalog_import(t, &it, 1, &err) != KASSA_OK)
        fail_msg("catalog: %s", err.msg);
}

static oplog_sale_ref sell(term *t, const char *cashier, const char *sku, int64_t qty)
{
    term_cart cart;
    cart_of(&cart, sku, qty);
    snprintf(t->actor.cashier, sizeof t->actor.cashier, "%s", cashier);
    kassa_err err;
    if (term_sale(t, &cart, BIG_PAY, g_res, &err) != KASSA_OK)
        fail_msg("sale: %s", err.msg);
    memset(&t->actor, 0, sizeof t->actor);
    return g_res->ref;
}

/* Every operation of `from` that `to` lacks. */
static void sync_to(term *from, term *to)
{
    kbuf file;
    kbuf_init(&file);
    kassa_err err;
    oplog_vv vv;
    assert_int_equal(term_vv(to, &vv, &err), KASSA_OK);
    assert_int_equal(term_export(from, &vv, &file, &err), KASSA_OK);
    term_import_report rep;
    if (term_import(to, file.data, file.len, &rep, &err) != KASSA_OK)
        fail_msg("import: %s", err.msg);
    oplog_vv_free(&vv);
    kbuf_free(&file);
}

static void sync_both(term *a, term *b)
{
    sync_to(a, b);
    sync_to(b, a);
}

typedef struct items {
    size_t n;
    term_triage_item it[ITEMS_MAX];
} items;

static int collect_item(const term_triage_item *it, void *ctx)
{
    items *l = ctx;
    assert_true(l->n < ITEMS_MAX);
    l->it[l->n++] = *it;
    return KASSA_OK;
}

static void triage(term *t, bool with_resolved, term_risk_fn risk, void *rctx, items *out)
{
    memset(out, 0, sizeof *out);
    kassa_err err;
    if (term_triage_each(t, with_resolved, risk, rctx, collect_item, out, &err) != KASSA_OK)
        fail_msg("triage: %s", err.msg);
}

typedef struct decisions {
    size_t n;
    term_review_decision d[DECISIONS_MAX];
} decisions;

static int collect_decision(const term_review_decision *d, void *ctx)
{
    decisions *l = ctx;
    assert_true(l->n < DECISIONS_MAX);
    l->d[l->n++] = *d;
    return KASSA_OK;
}

static void list_decisions(term *t, bool with_resolved, decisions *out)
{
    memset(out, 0, sizeof *out);
    kassa_err err;
    if (term_review_decisions(t, with_resolved, 100, collect_decision, out, &err) != KASSA_OK)
        fail_msg("decisions: %s", err.msg);
}

static void sale_id(const oplog_sale_ref *ref, char *out, size_t size)
{
    oplog_sale_id(ref, out, size);
}

static bool same_ref(const oplog_sale_ref *a, const oplog_sale_ref *b)
{
    return a->seq == b->seq && strcmp(a->origin, b->origin) == 0;
}

static void as_supervisor(term *t, const char *id)
{
    memset(&t->actor, 0, sizeof t->actor);
    snprintf(t->actor.supervisor, sizeof t->actor.supervisor, "%s", id);
}

static int resolve(term *t, const char *id, term_review_action a, const char *sale, int64_t counted,
                   kassa_err *err)
{
    term_review_resolve_req req = {.action = a, .counted = counted};
    snprintf(req.sale, sizeof req.sale, "%s", sale ? sale : "");
    snprintf(req.note, sizeof req.note, "checked by %s", t->actor.supervisor);
    return term_review_resolve(t, id, &req, err);
}

static term_fraud_decision decision(const char *event, const char *action, const char *outcome,
                                    double p)
{
    term_fraud_decision d;
    memset(&d, 0, sizeof d);
    snprintf(d.event, sizeof d.event, "%s", event);
    snprintf(d.action, sizeof d.action, "%s", action);
    snprintf(d.outcome, sizeof d.outcome, "%s", outcome);
    d.probability = p;
    d.n_reasons = 2;
    snprintf(d.reasons[0].feature, sizeof d.reasons[0].feature, "cart_line_voids");
    d.reasons[0].value = 4;
    d.reasons[0].contribution = 2.3125;
    snprintf(d.reasons[1].feature, sizeof d.reasons[1].feature, "discount_ratio");
    d.reasons[1].value = 0.5;
    d.reasons[1].contribution = 0.75;
    return d;
}

/* Scores the caller knows: A's sales 0.2, anything else unknown. */
static double risk_of(const oplog_sale_ref *sale, void *ctx)
{
    (void)ctx;
    return strcmp(sale->origin, "A") == 0 ? 0.2 : NAN;
}

/* ---- decisions: the detail ---- */

static void test_decision_detail(void **state)
{
    (void)state;
    kassa_err err;
    term_fraud_decision d = decision("sale", "supervisor", "approved", 0.951234), back;
    char detail[OPLOG_AUDIT_DETAIL_MAX + 1];
    assert_int_equal(term_fraud_decision_format(&d, detail, &err), KASSA_OK);
    assert_string_equal(detail, "event=sale action=supervisor outcome=approved p=0.951234 "
                                "r=cart_line_voids:4:2.3125,discount_ratio:0.5:0.75");
    assert_int_equal(term_fraud_decision_parse(detail, &back, &err), KASSA_OK);
    assert_string_equal(back.event, "sale");
    assert_string_equal(back.action, "supervisor");
    assert_string_equal(back.outcome, "approved");
    assert_true(fabs(back.probability - 0.951234) < 1e-9);
    assert_int_equal(back.n_reasons, 2);
    assert_string_equal(back.reasons[1].feature, "discount_ratio");
    assert_true(back.reasons[0].contribution == 2.3125);

    /* Too long for an audit detail: reasons go from the last. */
    d.n_reasons = 3;
    for (size_t i = 0; i < 3; i++) {
        memset(d.reasons[i].feature, 'a' + (int)i, TERM_FRAUD_FEATURE_MAX);
        d.reasons[i].feature[TERM_FRAUD_FEATURE_MAX] = '\0';
        d.reasons[i].value = -1.23456789e-30 - (double)i * 1e-35;
        d.reasons[i].contribution = -1.23456789e-5;
    }
    memset(d.event, 'e', TERM_FRAUD_WORD_MAX);
    memset(d.action, 'a', TERM_FRAUD_WORD_MAX);
    memset(d.outcome, 'o', TERM_FRAUD_WORD_MAX);
    d.probability = 0.123456789;
    assert_int_equal(term_fraud_decision_format(&d, detail, &err), KASSA_OK);
    assert_true(strlen(detail) <= OPLOG_AUDIT_DETAIL_MAX);
    assert_int_equal(term_fraud_decision_parse(detail, &back, &err), KASSA_OK);
    assert_int_equal(back.n_reasons, 2);
    assert_string_equal(back.outcome, d.outcome);
    assert_string_equal(back.reasons[0].feature, d.reasons[0].feature);

    /* A NaN probability (the scorer failed) is written and read as such. */
    d = decision("sale", "review", "flagged", NAN);
    assert_int_equal(term_fraud_decision_format(&d, detail, &err), KASSA_OK);
    assert_int_equal(term_fraud_decision_parse(detail, &back, &err), KASSA_OK);
    assert_true(isnan(back.probability));

    /* Refused: words that are not words, details that are not decisions. */
    d = decision("sale", "Review!", "flagged", 0.5);
    assert_int_equal(term_fraud_decision_format(&d, detail, &err), KASSA_EINVAL);
    d = decision("sale", "review", "flagged", 0.5);
    d.reasons[0].value = INFINITY;
    assert_int_equal(term_fraud_decision_format(&d, detail, &err), KASSA_EINVAL);
    static const char *const BAD[] = {
        "",
        "void",
        "event=sale action=review outcome=flagged",
        "event=sale action=review outcome=flagged p=x",
        "event=sale action=review outcome=flagged p=0.5 r=a:1",
        "event=sale action=review outcome=flagged p=0.5 r=a:1:2,B:1:2",
        "event=Sale action=review outcome=flagged p=0.5",
        "event=sale action=review outcome=flagged p=1.5",
        "event=sale action=review outcome=flagged p=0.5 r=a:inf:2",
        "event=sale action=review outcome=flagged p=0.5 r=a:1:2,b:1:2,c:1:2,d:1:2",
        "event=sale action=review outcome=flagged p=0.5 r=",
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(BAD); i++)
        if (term_fraud_decision_parse(BAD[i], &back, &err) != KASSA_ECORRUPT)
            fail_msg("parsed \"%s\"", BAD[i]);
}

/* ---- post-merge triage, decisions and resolutions on two terminals ---- */

static void test_merge_triage(void **state)
{
    (void)state;
    char da[1024], db[1024];
    fake_clock ca = {T0}, cb = {T0};
    term *a = new_term(da, sizeof da, STORE, "A", &ca);
    term *b = new_term(db, sizeof db, STORE, "B", &cb);
    catalog(a, "MILK", 2);
    catalog(a, "BREAD", 10);
    sync_both(a, b);
    items l;
    triage(a, true, NULL, NULL, &l);
    assert_int_equal(l.n, 0);

    /* Apart: A sells the two units, B one (the last, it thinks). */
    ca.ms = T0 + 1000;
    oplog_sale_ref a1 = sell(a, "ann", "MILK", 1);
    cb.ms = T0 + 1500;
    oplog_sale_ref b1 = sell(b, "bob", "MILK", 1);
    ca.ms = T0 + 2000;
    oplog_sale_ref a2 = sell(a, "ann", "MILK", 1);
    sell(a, "ann", "BREAD", 3); /* plenty: never an item */
    /* B's scorer flagged its sale: a replicated decision. */
    char b1_id[KASSA_ID_MAX + 24];
    sale_id(&b1, b1_id, sizeof b1_id);
    term_fraud_decision d = decision("sale", "review", "flagged", 0.5);
    snprintf(b->actor.cashier, sizeof b->actor.cashier, "bob");
    kassa_err err;
    assert_int_equal(term_fraud_decision_record(b, b1_id, &d, &err), KASSA_OK);
    memset(&b->actor, 0, sizeof b->actor);
    triage(a, true, NULL, NULL, &l);
    assert_int_equal(l.n, 0); /* A's view: 0 left */
    triage(b, true, NULL, NULL, &l);
    assert_int_equal(l.n, 0); /* B's view: 1 left */

    sync_both(a, b);
    term *both[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        triage(both[k], false, NULL, NULL, &l);
        assert_int_equal(l.n, 1);
        const term_triage_item *it = &l.it[0];
        assert_string_equal(it->id, "stock:MILK");
        assert_int_equal(it->stock, -1);
        assert_int_equal(it->shortfall, 1);
        /* a1 took the first unit with stock to spare: not a contributor */
        assert_int_equal(it->total_sales, 2);
        assert_int_equal(it->n_sales, 2);
        /* ranked: B's (0.5, recorded) before A's (risk unknown) */
        assert_true(same_ref(&it->sales[0].ref, &b1));
        assert_true(fabs(it->sales[0].risk - 0.5) < 1e-9);
        assert_string_equal(it->sales[0].cashier, "bob");
        assert_int_equal(it->sales[0].qty, 1);
        assert_true(same_ref(&it->sales[1].ref, &a2));
        assert_true(isnan(it->sales[1].risk));
        assert_int_equal(it->since, it->sales[0].hlc);
        assert_false(it->res.resolved);
        for (size_t i = 0; i < it->n_sales; i++)
            assert_false(same_ref(&it->sales[i].ref, &a1));
    }
    /* The caller's scores fill in what was not recorded, never replace it. */
    triage(a, false, risk_of, NULL, &l);
    assert_true(fabs(l.it[0].sales[0].risk - 0.5) < 1e-9);
    assert_true(fabs(l.it[0].sales[1].risk - 0.2) < 1e-9);

    /* The decision is on both review lists. */
    decisions dl;
    list_decisions(a, false, &dl);
    assert_int_equal(dl.n, 1);
    assert_true(dl.d[0].parsed);
    assert_string_equal(dl.d[0].subject, b1_id);
    assert_string_equal(dl.d[0].cashier, "bob");
    assert_string_equal(dl.d[0].d.outcome, "flagged");
    assert_int_equal(dl.d[0].d.n_reasons, 2);
    assert_string_equal(dl.d[0].ref.origin, "B");
    char fraud_id[TERM_REVIEW_ID_MAX];
    snprintf(fraud_id, sizeof fraud_id, "%s", dl.d[0].id);
    assert_int_equal(strncmp(fraud_id, "fraud:B-", 8), 0);

    /* Accepted on A: gone from both once replicated. */
    as_supervisor(a, "sue");
    assert_int_equal(resolve(a, "stock:MILK", TERM_REVIEW_ACCEPT, NULL, 0, &err), KASSA_OK);
    assert_int_equal(resolve(a, "stock:MILK", TERM_REVIEW_ACCEPT, NULL, 0, &err), KASSA_ECONFLICT);
    triage(a, false, NULL, NULL, &l);
    assert_int_equal(l.n, 0);
    triage(b, false, NULL, NULL, &l);
    assert_int_equal(l.n, 1);
    sync_both(a, b);
    triage(b, false, NULL, NULL, &l);
    assert_int_equal(l.n, 0);
    triage(b, true, NULL, NULL, &l);
    assert_int_equal(l.n, 1);
    assert_true(l.it[0].res.resolved);
    assert_string_equal(l.it[0].res.action, "accept");
    assert_string_equal(l.it[0].res.by, "sue");
    assert_string_equal(l.it[0].res.origin, "A");
    assert_string_equal(l.it[0].res.note, "checked by sue");

    /* A sale arriving later opens it again, with everything that took
     * the last units. */
    cb.ms = T0 + 5000;
    oplog_sale_ref b2 = sell(b, "bob", "MILK", 1);
    sync_both(a, b);
    for (int k = 0; k < 2; k++) {
        triage(both[k], false, NULL, NULL, &l);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.it[0].shortfall, 2);
        assert_int_equal(l.it[0].total_sales, 3);
        assert_true(same_ref(&l.it[0].sales[0].ref, &b1)); /* still the riskiest */
        assert_true(same_ref(&l.it[0].sales[1].ref, &b2)); /* then the newest */
    }

    /* Flag: only one of its sales. */
    as_supervisor(b, "max");
    char a1_id[KASSA_ID_MAX + 24], a2_id[KASSA_ID_MAX + 24];
    sale_id(&a1, a1_id, sizeof a1_id);
    sale_id(&a2, a2_id, sizeof a2_id);
    assert_int_equal(resolve(b, "stock:MILK", TERM_REVIEW_FLAG, a1_id, 0, &err), KASSA_EINVAL);
    assert_int_equal(resolve(b, "stock:MILK", TERM_REVIEW_FLAG, "nonsense", 0, &err), KASSA_EINVAL);
    assert_int_equal(resolve(b, "stock:MILK", TERM_REVIEW_FLAG, a2_id, 0, &err), KASSA_OK);
    sync_both(a, b);
    triage(a, false, NULL, NULL, &l);
    assert_int_equal(l.n, 0);
    triage(a, true, NULL, NULL, &l);
    assert_string_equal(l.it[0].res.action, "flag");
    assert_string_equal(l.it[0].res.sale, a2_id);
    for (size_t i = 0; i < l.it[0].n_sales; i++)
        assert_int_equal(l.it[0].sales[i].flagged, same_ref(&l.it[0].sales[i].ref, &a2));

    /* Another sale, then adjust: the count books the shelf, the item goes. */
    ca.ms = T0 + 9000;
    sell(a, "ann", "MILK", 2);
    triage(a, false, NULL, NULL, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.it[0].shortfall, 4);
    as_supervisor(a, "sue");
    assert_int_equal(resolve(a, "stock:MILK", TERM_REVIEW_ADJUST, NULL, -1, &err), KASSA_EINVAL);
    assert_int_equal(resolve(a, "stock:MILK", TERM_REVIEW_ADJUST, NULL, 3, &err), KASSA_OK);
    int64_t stock;
    assert_int_equal(term_stock_get(a, "MILK", &stock, &err), KASSA_OK);
    assert_int_equal(stock, 3);
    sync_both(a, b);
    assert_int_equal(term_stock_get(b, "MILK", &stock, &err), KASSA_OK);
    assert_int_equal(stock, 3);
    triage(b, true, NULL, NULL, &l);
    assert_int_equal(l.n, 0);
    assert_int_equal(resolve(b, "stock:MILK", TERM_REVIEW_ACCEPT, NULL, 0, &err), KASSA_ENOTFOUND);
    assert_int_equal(resolve(b, "stock:BREAD", TERM_REVIEW_ACCEPT, NULL, 0, &err), KASSA_ENOTFOUND);

    /* The decision: adjust refused, flagged on B, then gone from A too. */
    assert_int_equal(resolve(b, fraud_id, TERM_REVIEW_ADJUST, NULL, 1, &err), KASSA_EINVAL);
    assert_int_equal(resolve(b, fraud_id, TERM_REVIEW_FLAG, NULL, 0, &err), KASSA_OK);
    assert_int_equal(resolve(b, fraud_id, TERM_REVIEW_ACCEPT, NULL, 0, &err), KASSA_ECONFLICT);
    assert_int_equal(resolve(b, "fraud:B-999", TERM_REVIEW_ACCEPT, NULL, 0, &err), KASSA_ENOTFOUND);
    assert_int_equal(resolve(b, "fraud:garbage", TERM_REVIEW_ACCEPT, NULL, 0, &err),
                     KASSA_ENOTFOUND);
    assert_int_equal(resolve(b, "other:X", TERM_REVIEW_ACCEPT, NULL, 0, &err), KASSA_ENOTFOUND);
    sync_both(a, b);
    list_decisions(a, false, &dl);
    assert_int_equal(dl.n, 0);
    list_decisions(a, true, &dl);
    assert_int_equal(dl.n, 1);
    assert_true(dl.d[0].res.resolved);
    assert_string_equal(dl.d[0].res.action, "flag");
    assert_string_equal(dl.d[0].res.by, "max");
    assert_string_equal(dl.d[0].res.note, "checked by max");
    size_t open = 99;
    assert_int_equal(term_review_open_count(a, &open, &err), KASSA_OK);
    assert_int_equal(open, 0);
    assert_same_state_hash(a, b);

    /* A note with control characters is refused, nothing written. */
    sell(b, "bob", "MILK", 4);
    term_review_resolve_req req = {.action = TERM_REVIEW_ACCEPT};
    snprintf(req.note, sizeof req.note, "line\nbreak");
    assert_int_equal(term_review_resolve(b, "stock:MILK", &req, &err), KASSA_EINVAL);
    assert_int_equal(term_review_open_count(b, &open, &err), KASSA_OK);
    assert_int_equal(open, 1);
}

/* ---- one terminal: voids, the window, the log by time ---- */

typedef struct replay {
    size_t n;
    hlc_ts last;
    bool ordered;
} replay;

static int on_op(const oplog_op *op, void *ctx)
{
    replay *r = ctx;
    r->ordered &= op->hlc >= r->last;
    r->last = op->hlc;
    r->n++;
    return KASSA_OK;
}

static void test_voids_window_replay(void **state)
{
    (void)state;
    char d[1024];
    fake_clock c = {T0};
    term *t = new_term(d, sizeof d, STORE, "T1", &c);
    catalog(t, "TEA", 1);
    c.ms += 1000;
    oplog_sale_ref s1 = sell(t, "ann", "TEA", 1);
    c.ms += 1000;
    oplog_sale_ref s2 = sell(t, "ann", "TEA", 1);
    c.ms += 1000;
    oplog_sale_ref s3 = sell(t, "bob", "TEA", 2);
    kassa_err err;
    as_supervisor(t, "sue");
    assert_int_equal(term_void(t, &s3, NULL, &err), KASSA_OK);
    items l;
    triage(t, false, NULL, NULL, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.it[0].shortfall, 1);
    assert_int_equal(l.it[0].total_sales, 2);          /* s3 was voided: never made */
    assert_true(same_ref(&l.it[0].sales[0].ref, &s2)); /* both unknown: newest first */
    assert_true(same_ref(&l.it[0].sales[1].ref, &s1));

    /* Eight days on, the sales are out of the window: still listed. */
    c.ms += 8 * 24 * 3600 * 1000ULL;
    triage(t, false, NULL, NULL, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.it[0].total_sales, 0);
    assert_int_equal(l.it[0].since, 0);

    /* The log by time: everything, in order; nothing after now. */
    replay r = {.ordered = true};
    assert_int_equal(term_ops_since(t, (int64_t)T0, on_op, &r, &err), KASSA_OK);
    term_status st;
    assert_int_equal(term_status_get(t, &st, &err), KASSA_OK);
    assert_int_equal(r.n, st.ops);
    assert_true(r.ordered);
    r = (replay){.ordered = true};
    assert_int_equal(term_ops_since(t, (int64_t)T0 + 2500, on_op, &r, &err), KASSA_OK);
    assert_int_equal(r.n, 3); /* s3, and its void with its audit */
    r = (replay){.ordered = true};
    assert_int_equal(term_ops_since(t, (int64_t)c.ms, on_op, &r, &err), KASSA_OK);
    assert_int_equal(r.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_detail),
        cmocka_unit_test_teardown(test_merge_triage, teardown),
        cmocka_unit_test_teardown(test_voids_window_replay, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
