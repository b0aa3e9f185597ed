/*
 * Unit tests for the fraud events' two sources:
 *
 *  - the operation log (fraud_conv_op): a card sale paid partly offline,
 *    a void and a return whose cashier comes from the audit written just
 *    before them (and not from an older one), no-sale and price override
 *    audits, drawer counts, operations that give no event, a corrupt
 *    payload;
 *  - the JSON-lines form (fraud_event_from_json / _to_json): round trips
 *    of every kind, defaults, labels, and the malformed lines refused.
 */
#include "testutil.h"
#include <cmocka.h>

#include "fraud/fraud.h"
#include "hlc/hlc.h"

#define T0 UINT64_C(1709546400000)

typedef struct op_buf {
    oplog_op op;
    kbuf payload;
} op_buf;

static void make_op(op_buf *o, int kind, uint64_t seq, uint64_t ms, const void *payload)
{
    memset(&o->op, 0, sizeof o->op);
    kbuf_init(&o->payload);
    assert_int_equal(oplog_encode(kind, payload, &o->payload), KASSA_OK);
    snprintf(o->op.origin, sizeof o->op.origin, "T1");
    o->op.seq = seq;
    o->op.hlc = hlc_make(ms, 3);
    o->op.kind = (uint8_t)kind;
    o->op.payload = o->payload.data;
    o->op.payload_len = o->payload.len;
}

/* Converts one operation; returns how many events it gave. */
static size_t conv(fraud_conv *c, int kind, uint64_t seq, uint64_t ms, const void *payload,
                   fraud_event *out)
{
    op_buf o;
    make_op(&o, kind, seq, ms, payload);
    size_t n = 99;
    kassa_err err;
    int rc = fraud_conv_op(c, &o.op, out, &n, &err);
    kbuf_free(&o.payload);
    if (rc != KASSA_OK)
        fail_msg("conv: %s", err.msg);
    assert_true(n <= FRAUD_CONV_EVENTS_MAX);
    return n;
}

static oplog_audit audit(const char *action, const char *cashier, const char *subject,
                         const char *detail)
{
    oplog_audit a;
    memset(&a, 0, sizeof a);
    snprintf(a.action, sizeof a.action, "%s", action);
    snprintf(a.cashier, sizeof a.cashier, "%s", cashier);
    snprintf(a.supervisor, sizeof a.supervisor, "sup1");
    snprintf(a.subject, sizeof a.subject, "%s", subject);
    snprintf(a.detail, sizeof a.detail, "%s", detail);
    return a;
}

static void test_conv_sale_void_return(void **state)
{
    (void)state;
    fraud_conv *c;
    assert_int_equal(fraud_conv_new(&c, NULL), KASSA_OK);
    oplog_sale *s = calloc(1, sizeof *s);
    assert_non_null(s);
    snprintf(s->cashier, sizeof s->cashier, "c1");
    s->n_lines = 2;
    s->lines[0] = (oplog_sale_line){.sku = "A", .qty = 2, .unit_price = 500, .discount = 100};
    s->lines[1] = (oplog_sale_line){.sku = "B", .qty = 1, .unit_price = 300};
    s->tendered = 500;
    s->has_card = true;
    s->card = (oplog_card_tender){.payment_id = "T1.P1",
                                  .amount = 700,
                                  .token = "tok_abc",
                                  .brand = "visa",
                                  .last4 = "4242",
                                  .exp_month = 12,
                                  .exp_year = 2030,
                                  .mode = OPLOG_CARD_OFFLINE};
    fraud_event e[FRAUD_CONV_EVENTS_MAX];
    assert_int_equal(conv(c, OP_SALE, 5, T0, s, e), 1);
    assert_int_equal(e[0].kind, FRAUD_EV_SALE);
    assert_int_equal(e[0].time_ms, (int64_t)T0);
    assert_string_equal(e[0].terminal, "T1");
    assert_string_equal(e[0].cashier, "c1");
    assert_string_equal(e[0].sale.origin, "T1");
    assert_int_equal(e[0].sale.seq, 5);
    assert_int_equal(e[0].amount, 1200);
    assert_int_equal(e[0].cash, 500);
    assert_int_equal(e[0].discount, 100);
    assert_int_equal(e[0].items, 3);
    assert_int_equal(e[0].flags, FRAUD_EVF_CARD | FRAUD_EVF_OFFLINE);
    assert_string_equal(e[0].token, "tok_abc");
    /* A cash sale by the operator's CLI. */
    s->has_card = false;
    s->cashier[0] = '\0';
    s->tendered = 2000;
    assert_int_equal(conv(c, OP_SALE, 6, T0 + 1, s, e), 1);
    assert_int_equal(e[0].cash, 1200);
    assert_int_equal(e[0].flags, 0);
    assert_string_equal(e[0].cashier, "");
    assert_string_equal(e[0].token, "");

    /* A void: its cashier is the audit's just before it. */
    oplog_audit a = audit("void", "c2", "T1-5", "customer changed mind");
    assert_int_equal(conv(c, OP_AUDIT, 7, T0 + 2, &a, e), 0);
    oplog_void v = {.sale = {.origin = "T1", .seq = 5},
                    .refund = 1200,
                    .split = {.card_amount = 700, .refund_id = "T1.R1", .payment_id = "T1.P1"}};
    assert_int_equal(conv(c, OP_VOID, 8, T0 + 3, &v, e), 1);
    assert_int_equal(e[0].kind, FRAUD_EV_VOID);
    assert_string_equal(e[0].cashier, "c2");
    assert_int_equal(e[0].amount, 1200);
    assert_int_equal(e[0].cash, 500);
    assert_int_equal(e[0].sale.seq, 5);
    /* A void whose audit is not the operation before: cashier unknown. */
    assert_int_equal(conv(c, OP_VOID, 10, T0 + 4, &v, e), 1);
    assert_string_equal(e[0].cashier, "");
    /* An audit naming another sale does not lend its cashier. */
    a = audit("void", "c3", "T1-99", "");
    assert_int_equal(conv(c, OP_AUDIT, 11, T0 + 5, &a, e), 0);
    assert_int_equal(conv(c, OP_VOID, 12, T0 + 6, &v, e), 1);
    assert_string_equal(e[0].cashier, "");

    /* A return, cash. */
    a = audit("return", "c4", "T1-6", "refund 4.50");
    assert_int_equal(conv(c, OP_AUDIT, 13, T0 + 7, &a, e), 0);
    oplog_return *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->sale = (oplog_sale_ref){.origin = "T1", .seq = 6};
    r->n_lines = 1;
    r->lines[0] = (oplog_return_line){.sku = "A", .qty = 1, .refund = 450};
    assert_int_equal(conv(c, OP_RETURN, 14, T0 + 8, r, e), 1);
    assert_int_equal(e[0].kind, FRAUD_EV_RETURN);
    assert_string_equal(e[0].cashier, "c4");
    assert_int_equal(e[0].amount, 450);
    assert_int_equal(e[0].cash, 450);
    assert_int_equal(e[0].items, 1);
    assert_int_equal(e[0].flags, 0); /* kassa's returns name their sale */
    free(r);
    free(s);
    fraud_conv_free(c);
}

static void test_conv_audits_and_drawer(void **state)
{
    (void)state;
    fraud_conv *c;
    assert_int_equal(fraud_conv_new(&c, NULL), KASSA_OK);
    fraud_event e[FRAUD_CONV_EVENTS_MAX];
    oplog_audit a = audit("no_sale", "c1", "drawer", "change for the bus");
    assert_int_equal(conv(c, OP_AUDIT, 1, T0, &a, e), 1);
    assert_int_equal(e[0].kind, FRAUD_EV_NO_SALE);
    assert_string_equal(e[0].cashier, "c1");
    static const struct {
        const char *detail;
        int64_t reduction;
    } overrides[] = {
        {"6.49 -> 3.00", 349}, {"10 -> 0.5", 950}, {"1.00 -> 2.00", 0},  {"garbage", 0},
        {"5.00 -> ", 0},       {"-> 1.00", 0},     {"1.234 -> 1.00", 0},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(overrides); i++) {
        a = audit("price_override", "c1", "MUG", overrides[i].detail);
        assert_int_equal(conv(c, OP_AUDIT, 2 + i, T0, &a, e), 1);
        assert_int_equal(e[0].kind, FRAUD_EV_PRICE_OVERRIDE);
        if (e[0].amount != overrides[i].reduction)
            fail_msg("\"%s\": %lld", overrides[i].detail, (long long)e[0].amount);
    }
    a = audit("saf_override", "c1", "T1.P3", "");
    assert_int_equal(conv(c, OP_AUDIT, 20, T0, &a, e), 0);
    oplog_drawer d = {
        .action = OPLOG_DRAWER_COUNT, .amount = 10000, .delta = -250, .cashier = "c5"};
    assert_int_equal(conv(c, OP_DRAWER, 21, T0, &d, e), 1);
    assert_int_equal(e[0].kind, FRAUD_EV_DRAWER_COUNT);
    assert_int_equal(e[0].amount, -250);
    assert_string_equal(e[0].cashier, "c5");
    d.action = OPLOG_DRAWER_FLOAT;
    d.delta = 0;
    assert_int_equal(conv(c, OP_DRAWER, 22, T0, &d, e), 0);
    oplog_setting set = {.key = "currency", .value = "EUR"};
    assert_int_equal(conv(c, OP_SETTING_SET, 23, T0, &set, e), 0);
    /* A corrupt payload: a sale cut short. */
    op_buf o;
    oplog_sale *s = calloc(1, sizeof *s);
    s->n_lines = 1;
    s->lines[0] = (oplog_sale_line){.sku = "A", .qty = 1, .unit_price = 100};
    s->tendered = 100;
    make_op(&o, OP_SALE, 24, T0, s);
    o.op.payload_len -= 1;
    size_t n = 7;
    kassa_err err;
    assert_int_equal(fraud_conv_op(c, &o.op, e, &n, &err), KASSA_ECORRUPT);
    assert_int_equal(n, 0);
    tu_check_msg(err.msg, sizeof err.msg);
    kbuf_free(&o.payload);
    free(s);
    fraud_conv_free(c);
}

/* ---- JSON lines ---- */

static fraud_event parse(const char *line, char *label)
{
    fraud_event e;
    kassa_err err;
    int rc = fraud_event_from_json(line, strlen(line), &e, label, FRAUD_LABEL_MAX + 1, &err);
    if (rc != KASSA_OK)
        fail_msg("%s: %s", line, err.msg);
    return e;
}

static void test_json_round_trip(void **state)
{
    (void)state;
    char label[FRAUD_LABEL_MAX + 1];
    fraud_event e = parse("{\"kind\":\"sale\",\"t\":1709546400000,\"term\":\"T1\",\"cashier\":"
                          "\"c01\",\"sale\":\"T1-17\",\"amount\":1234,\"cash\":234,\"discount\":"
                          "10,\"items\":3,\"card\":true,\"token\":\"tok_ab\",\"offline\":true,"
                          "\"label\":\"card_testing\"}\n",
                          label);
    assert_int_equal(e.kind, FRAUD_EV_SALE);
    assert_int_equal(e.time_ms, INT64_C(1709546400000));
    assert_string_equal(e.terminal, "T1");
    assert_string_equal(e.cashier, "c01");
    assert_string_equal(e.sale.origin, "T1");
    assert_int_equal(e.sale.seq, 17);
    assert_int_equal(e.amount, 1234);
    assert_int_equal(e.cash, 234);
    assert_int_equal(e.discount, 10);
    assert_int_equal(e.items, 3);
    assert_int_equal(e.flags, FRAUD_EVF_CARD | FRAUD_EVF_OFFLINE);
    assert_string_equal(e.token, "tok_ab");
    assert_string_equal(label, "card_testing");
    /* Defaults; a sale id whose origin has dashes. */
    e = parse("{\"t\":5,\"kind\":\"return\",\"term\":\"till-2\",\"sale\":\"till-2-9\","
              "\"no_receipt\":true,\"declined\":false}",
              label);
    assert_string_equal(e.sale.origin, "till-2");
    assert_int_equal(e.sale.seq, 9);
    assert_int_equal(e.flags, FRAUD_EVF_NO_RECEIPT);
    assert_int_equal(e.amount, 0);
    assert_string_equal(e.cashier, "");
    assert_string_equal(label, "");
    /* Every kind: event -> JSON -> the same event. */
    fraud_event all[] = {
        e,
        {.kind = FRAUD_EV_VOID,
         .time_ms = 9,
         .terminal = "T2",
         .cashier = "c9",
         .sale = {.origin = "T1", .seq = 3},
         .amount = 50,
         .cash = 50},
        {.kind = FRAUD_EV_NO_SALE, .time_ms = 10, .terminal = "T2"},
        {.kind = FRAUD_EV_LINE_VOID, .time_ms = 11, .terminal = "T2", .amount = 99, .items = 2},
        {.kind = FRAUD_EV_PRICE_OVERRIDE, .time_ms = 12, .terminal = "T2", .amount = 5},
        {.kind = FRAUD_EV_CARD_ATTEMPT,
         .time_ms = 13,
         .terminal = "T3",
         .amount = 100,
         .flags = FRAUD_EVF_CARD | FRAUD_EVF_DECLINED,
         .token = "t0"},
        {.kind = FRAUD_EV_TENDER_SWITCH, .time_ms = 14, .terminal = "T3"},
        {.kind = FRAUD_EV_DRAWER_COUNT, .time_ms = 15, .terminal = "T3", .amount = -700},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(all); i++) {
        kbuf b;
        kbuf_init(&b);
        assert_int_equal(fraud_event_to_json(&all[i], i ? "x_1" : NULL, &b, NULL), KASSA_OK);
        assert_true(b.len > 0 && b.data[b.len - 1] == '\n');
        char line[FRAUD_JSON_LINE_MAX + 1];
        assert_true(b.len < sizeof line);
        memcpy(line, b.data, b.len);
        line[b.len] = '\0';
        fraud_event back = parse(line, label);
        assert_memory_equal(&back, &all[i], sizeof back);
        assert_string_equal(label, i ? "x_1" : "");
        kbuf_free(&b);
    }
    /* to_json refuses what the checks refuse. */
    fraud_event bad = all[1];
    bad.cash = 51;
    kbuf b;
    kbuf_init(&b);
    assert_int_equal(fraud_event_to_json(&bad, NULL, &b, NULL), KASSA_EINVAL);
    assert_int_equal(fraud_event_to_json(&all[1], "bad label", &b, NULL), KASSA_EINVAL);
    kbuf_free(&b);
}

static void test_json_malformed(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "",
        "not json",
        "[1,2]",
        "{\"kind\":\"sale\",\"t\":1}",                                    /* no term */
        "{\"t\":1,\"term\":\"T1\"}",                                      /* no kind */
        "{\"kind\":\"refund\",\"t\":1,\"term\":\"T1\"}",                  /* unknown kind */
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T1\",\"x\":1}",            /* unknown key */
        "{\"kind\":\"sale\",\"t\":\"1\",\"term\":\"T1\"}",                /* wrong type */
        "{\"kind\":\"sale\",\"t\":1.5,\"term\":\"T1\"}",                  /* not an integer */
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T1\",\"t\":2}",            /* duplicate key */
        "{\"kind\":\"sale\",\"t\":-1,\"term\":\"T1\"}",                   /* out of range */
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T 1\"}",                   /* bad id */
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T1\",\"sale\":\"T1\"}",    /* no seq */
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T1\",\"sale\":\"T1-0\"}",  /* seq 0 */
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T1\",\"sale\":\"T1-07\"}", /* leading 0 */
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T1\",\"sale\":\"-5\"}",    /* no origin */
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T1\",\"card\":1}",         /* not a bool */
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T1\",\"card\":true}",      /* no token */
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T1\",\"label\":\"a b\"}",  /* bad label */
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T1\",\"amount\":5,\"cash\":6}",
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T1\",\"cashier\":\"c\\u0000\"}",
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T1\"} trailing",
        "{\"kind\":\"sale\",\"t\":1,\"term\":\"T1\",\"amount\":99999999999999999999}",
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(lines); i++) {
        fraud_event e;
        char label[FRAUD_LABEL_MAX + 1] = "junk";
        kassa_err err;
        memset(&e, 0x5a, sizeof e);
        if (fraud_event_from_json(lines[i], strlen(lines[i]), &e, label, sizeof label, &err) !=
            KASSA_ECORRUPT)
            fail_msg("accepted: %s", lines[i]);
        tu_check_msg(err.msg, sizeof err.msg);
        assert_true(tu_all_zero(&e, sizeof e));
        assert_string_equal(label, "");
    }
    /* An overlong line is refused before parsing. */
    size_t n = FRAUD_JSON_LINE_MAX + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    fraud_event e;
    assert_int_equal(fraud_event_from_json(big, n, &e, NULL, 0, NULL), KASSA_ECORRUPT);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_sale_void_return),
        cmocka_unit_test(test_conv_audits_and_drawer),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_json_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
