/*
 * Unit tests for oplog: payload codecs (round trips and every rejection the
 * decoders promise), the hash chain, sale ids, version vectors and the
 * export file format.
 */
#include "testutil.h"
#include <cmocka.h>

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oplog/oplog.h"
#include "pricing/pricing.h"

/* ---- helpers ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng_next(void)
{
    return tu_xorshift64(&rng_state);
}

static int64_t rng_range(int64_t lo, int64_t hi)
{
    return tu_range(rng_next(), lo, hi);
}

/* Decodes with the kind's own decoder into heap memory, and checks that
 * oplog_validate_payload agrees. */
static int decode_any(int kind, const uint8_t *p, size_t n, kassa_err *err)
{
    oplog_payload *u = malloc(sizeof *u);
    assert_non_null(u);
    int rc = oplog_decode(kind, p, n, u, err);
    free(u);
    kassa_err verr;
    assert_int_equal(oplog_validate_payload(kind, p, n, &verr), rc);
    return rc;
}

static void expect_corrupt(int kind, const kbuf *b, const char *what)
{
    kassa_err err;
    kassa_err_clear(&err);
    int rc = decode_any(kind, b->data, b->len, &err);
    if (rc != KASSA_ECORRUPT)
        fail_msg("%s: decode of %s payload returned %d, want ECORRUPT", what, oplog_kind_name(kind),
                 rc);
    assert_int_equal(err.code, KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "malformed"));
    assert_true(tu_contains(err.msg, kind == OP_STOCK_COUNT || kind == OP_STOCK_RECEIVE ? "stock"
                                     : kind == OP_SETTING_SET                           ? "setting"
                                     : kind == OP_CASHIER_SET                           ? "cashier"
                                                              : oplog_kind_name(kind)));
}

static void expect_ok(int kind, const kbuf *b, const char *what)
{
    kassa_err err;
    kassa_err_clear(&err);
    int rc = decode_any(kind, b->data, b->len, &err);
    if (rc != KASSA_OK)
        fail_msg("%s: decode of %s payload failed: %s", what, oplog_kind_name(kind), err.msg);
}

/* Encodes the kind's struct (the encoders do not validate) and expects the
 * decoders to accept it (ok) or to refuse it as malformed. */
static void expect_encoded(int kind, const void *payload, bool ok, const char *what)
{
    kbuf b;
    kbuf_init(&b);
    assert_int_equal(oplog_encode(kind, payload, &b), KASSA_OK);
    assert_false(b.oom);
    if (ok)
        expect_ok(kind, &b, what);
    else
        expect_corrupt(kind, &b, what);
    kbuf_free(&b);
}

static void expect_accepted(int kind, const void *payload, const char *what)
{
    expect_encoded(kind, payload, true, what);
}

static void expect_rejected(int kind, const void *payload, const char *what)
{
    expect_encoded(kind, payload, false, what);
}

/* Encodes in and decodes the bytes into out, which is filled with junk
 * first (the decoder must set every field); the kind's decoders and
 * oplog_validate_payload must accept them, and encoding out again must give
 * the same bytes: one canonical encoding. The caller compares in and out. */
static void round_trip(int kind, const void *in, void *out, size_t out_size, const char *what)
{
    kbuf b, b2;
    kbuf_init(&b);
    kbuf_init(&b2);
    assert_int_equal(oplog_encode(kind, in, &b), KASSA_OK);
    assert_false(b.oom);
    memset(out, 0x5a, out_size);
    kassa_err err;
    if (oplog_decode(kind, b.data, b.len, out, &err) != KASSA_OK)
        fail_msg("%s: decode of %s payload failed: %s", what, oplog_kind_name(kind), err.msg);
    expect_ok(kind, &b, what);
    assert_int_equal(oplog_encode(kind, out, &b2), KASSA_OK);
    assert_false(b2.oom);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.data, b2.data, b.len);
    kbuf_free(&b);
    kbuf_free(&b2);
}

static void repeat_char(char *out, char c, size_t n)
{
    memset(out, c, n);
    out[n] = '\0';
}

/* ---- samples ---- */

static oplog_catalog_set sample_catalog(unsigned fields)
{
    oplog_catalog_set c;
    memset(&c, 0, sizeof c);
    snprintf(c.sku, sizeof c.sku, "SKU-001");
    c.fields = fields;
    snprintf(c.name, sizeof c.name, "Caf\xc3\xa9 cr\xc3\xa8me 250 g");
    snprintf(c.barcode, sizeof c.barcode, "4006381333931");
    c.price = 1999;
    snprintf(c.tax_class, sizeof c.tax_class, "reduced");
    return c;
}

static void sample_sale(oplog_sale *s, size_t n_lines)
{
    memset(s, 0, sizeof *s);
    s->n_lines = n_lines;
    int64_t total = 0;
    for (size_t i = 0; i < n_lines; i++) {
        oplog_sale_line *l = &s->lines[i];
        snprintf(l->sku, sizeof l->sku, "sku.%03zu", i);
        l->qty = (int64_t)(i % 7) + 1;
        l->unit_price = (int64_t)(i * 137 % 5000) + 1;
        l->discount = (int64_t)(i % 3 == 0 ? l->unit_price / 10 : 0);
        l->tax = (l->qty * l->unit_price - l->discount) / 5;
        total += oplog_line_total(l);
    }
    s->tendered = total + 250;
}

static oplog_void sample_void(void)
{
    oplog_void v;
    memset(&v, 0, sizeof v);
    snprintf(v.sale.origin, sizeof v.sale.origin, "till-2");
    v.sale.seq = 42;
    v.refund = 1234;
    return v;
}

static void sample_return(oplog_return *r, size_t n_lines)
{
    memset(r, 0, sizeof *r);
    snprintf(r->sale.origin, sizeof r->sale.origin, "node-a");
    r->sale.seq = 300;
    r->n_lines = n_lines;
    for (size_t i = 0; i < n_lines; i++) {
        snprintf(r->lines[i].sku, sizeof r->lines[i].sku, "r%zu", i);
        r->lines[i].qty = (int64_t)i + 1;
        r->lines[i].refund = (int64_t)i * 1000;
    }
}

static oplog_stock sample_stock(int64_t qty, int64_t delta)
{
    oplog_stock s;
    memset(&s, 0, sizeof s);
    snprintf(s.sku, sizeof s.sku, "APPLE_1kg");
    s.qty = qty;
    s.delta = delta;
    return s;
}

static oplog_setting sample_setting(const char *key, const char *value)
{
    oplog_setting s;
    memset(&s, 0, sizeof s);
    snprintf(s.key, sizeof s.key, "%s", key);
    snprintf(s.value, sizeof s.value, "%s", value);
    return s;
}

/* An Argon2id string as crypto_pwhash_str writes it (the decoder takes any
 * printable text: it does not parse the hash). */
#define SAMPLE_PIN_HASH                                                                            \
    "$argon2id$v=19$m=65536,t=2,p=1$z+rPYMTZtHKzlTaeq+VdCQ$"                                       \
    "4tWoG7kIOgrE2J3NrHJPp9hGJuvJID68hL70lcoB6"                                                    \
    "qQ"

static oplog_cashier sample_cashier(void)
{
    oplog_cashier c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "alice-01");
    snprintf(c.name, sizeof c.name, "Alice M\xc3\xbcller");
    c.role = 1;
    snprintf(c.pin_hash, sizeof c.pin_hash, "%s", SAMPLE_PIN_HASH);
    return c;
}

static oplog_audit sample_audit(void)
{
    oplog_audit a;
    memset(&a, 0, sizeof a);
    snprintf(a.action, sizeof a.action, "void");
    snprintf(a.cashier, sizeof a.cashier, "alice-01");
    snprintf(a.supervisor, sizeof a.supervisor, "bob");
    snprintf(a.subject, sizeof a.subject, "till-2-42");
    snprintf(a.detail, sizeof a.detail, "customer changed her mind \xe2\x80\x94 50%% off");
    return a;
}

/* ---- equality ---- */

static void assert_catalog_eq(const oplog_catalog_set *a, const oplog_catalog_set *b)
{
    assert_string_equal(a->sku, b->sku);
    assert_int_equal(a->fields, b->fields);
    if (a->fields & CATALOG_F_NAME)
        assert_string_equal(a->name, b->name);
    if (a->fields & CATALOG_F_BARCODE)
        assert_string_equal(a->barcode, b->barcode);
    if (a->fields & CATALOG_F_PRICE)
        assert_true(a->price == b->price);
    if (a->fields & CATALOG_F_TAX_CLASS)
        assert_string_equal(a->tax_class, b->tax_class);
}

static void assert_sale_eq(const oplog_sale *a, const oplog_sale *b)
{
    assert_string_equal(a->cashier, b->cashier);
    assert_int_equal(a->n_lines, b->n_lines);
    for (size_t i = 0; i < a->n_lines; i++) {
        assert_string_equal(a->lines[i].sku, b->lines[i].sku);
        assert_true(a->lines[i].qty == b->lines[i].qty);
        assert_true(a->lines[i].unit_price == b->lines[i].unit_price);
        assert_true(a->lines[i].discount == b->lines[i].discount);
        assert_true(a->lines[i].tax == b->lines[i].tax);
    }
    assert_true(a->tendered == b->tendered);
}

static void assert_cashier_eq(const oplog_cashier *a, const oplog_cashier *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->role, b->role);
    assert_string_equal(a->pin_hash, b->pin_hash);
}

static void assert_audit_eq(const oplog_audit *a, const oplog_audit *b)
{
    assert_string_equal(a->action, b->action);
    assert_string_equal(a->cashier, b->cashier);
    assert_string_equal(a->supervisor, b->supervisor);
    assert_string_equal(a->subject, b->subject);
    assert_string_equal(a->detail, b->detail);
}

static void assert_return_eq(const oplog_return *a, const oplog_return *b)
{
    assert_string_equal(a->sale.origin, b->sale.origin);
    assert_true(a->sale.seq == b->sale.seq);
    assert_int_equal(a->n_lines, b->n_lines);
    for (size_t i = 0; i < a->n_lines; i++) {
        assert_string_equal(a->lines[i].sku, b->lines[i].sku);
        assert_true(a->lines[i].qty == b->lines[i].qty);
        assert_true(a->lines[i].refund == b->lines[i].refund);
    }
}

/* ---- kind names ---- */

static void test_kind_names(void **state)
{
    (void)state;
    static const char *const want[] = {"unknown",     "catalog_set",   "sale",        "void",
                                       "return",      "stock_receive", "stock_count", "setting_set",
                                       "cashier_set", "audit",         "payment",     "drawer"};
    for (int k = 0; k <= OP_KIND_MAX; k++)
        assert_string_equal(oplog_kind_name(k), want[k]);
    assert_string_equal(oplog_kind_name(OP_KIND_MAX + 1), "unknown");
    assert_string_equal(oplog_kind_name(-1), "unknown");
    assert_string_equal(oplog_kind_name(255), "unknown");
}

/* ---- round trips ---- */

static void test_catalog_round_trip_all_field_sets(void **state)
{
    (void)state;
    for (unsigned fields = 1; fields <= CATALOG_F_ALL; fields++) {
        oplog_catalog_set in = sample_catalog(fields), out;
        round_trip(OP_CATALOG_SET, &in, &out, sizeof out, "catalog field set");
        assert_catalog_eq(&in, &out);
        /* Absent fields decode as zero. */
        if (!(fields & CATALOG_F_NAME))
            assert_string_equal(out.name, "");
        if (!(fields & CATALOG_F_BARCODE))
            assert_string_equal(out.barcode, "");
        if (!(fields & CATALOG_F_PRICE))
            assert_true(out.price == 0);
        if (!(fields & CATALOG_F_TAX_CLASS))
            assert_string_equal(out.tax_class, "");
    }
}

static void test_catalog_round_trip_limits(void **state)
{
    (void)state;
    oplog_catalog_set in = sample_catalog(CATALOG_F_ALL), out;
    repeat_char(in.sku, 'S', KASSA_SKU_MAX);
    repeat_char(in.name, 'N', KASSA_NAME_MAX);
    repeat_char(in.barcode, '9', KASSA_BARCODE_MAX);
    repeat_char(in.tax_class, 't', KASSA_ID_MAX);
    in.price = PRICING_AMOUNT_MAX;
    round_trip(OP_CATALOG_SET, &in, &out, sizeof out, "catalog at its largest");
    assert_catalog_eq(&in, &out);

    /* Smallest values: empty barcode (clears it), price 0, one-char ids,
     * a name of printable punctuation and non-ASCII bytes. */
    in = sample_catalog(CATALOG_F_ALL);
    snprintf(in.sku, sizeof in.sku, "x");
    snprintf(in.name, sizeof in.name, "~ \"q\" \xe2\x82\xac \xff");
    in.barcode[0] = '\0';
    in.price = 0;
    snprintf(in.tax_class, sizeof in.tax_class, "-");
    round_trip(OP_CATALOG_SET, &in, &out, sizeof out, "catalog at its smallest");
    assert_catalog_eq(&in, &out);
}

static void test_sale_round_trip(void **state)
{
    (void)state;
    oplog_sale *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    static const size_t sizes[] = {1, 2, 3, 17, 128, OPLOG_SALE_LINES_MAX};
    for (size_t k = 0; k < KASSA_ARRAY_LEN(sizes); k++) {
        sample_sale(in, sizes[k]);
        round_trip(OP_SALE, in, out, sizeof *out, "sample sale");
        assert_sale_eq(in, out);
        /* Derived fields. */
        int64_t total = 0, tax = 0;
        for (size_t i = 0; i < in->n_lines; i++) {
            total += oplog_line_total(&in->lines[i]);
            tax += in->lines[i].tax;
        }
        assert_true(out->total == total);
        assert_true(out->tax == tax);
    }

    /* Limits: one line at the largest amounts that still add up. */
    memset(in, 0, sizeof *in);
    in->n_lines = 1;
    repeat_char(in->lines[0].sku, 'k', KASSA_SKU_MAX);
    in->lines[0].qty = 1;
    in->lines[0].unit_price = PRICING_AMOUNT_MAX;
    in->lines[0].discount = PRICING_AMOUNT_MAX; /* == gross */
    in->lines[0].tax = PRICING_AMOUNT_MAX;
    in->tendered = PRICING_AMOUNT_MAX; /* == total */
    round_trip(OP_SALE, in, out, sizeof *out, "sale at the largest amounts");
    assert_sale_eq(in, out);
    assert_true(out->total == PRICING_AMOUNT_MAX);
    assert_true(out->tax == PRICING_AMOUNT_MAX);

    /* Largest quantity, free item, nothing tendered. */
    memset(in, 0, sizeof *in);
    in->n_lines = 1;
    snprintf(in->lines[0].sku, sizeof in->lines[0].sku, "bag");
    in->lines[0].qty = PRICING_QTY_MAX;
    round_trip(OP_SALE, in, out, sizeof *out, "sale of the largest quantity");
    assert_sale_eq(in, out);
    assert_true(out->total == 0);

    /* gross exactly at the limit through qty * price. */
    in->lines[0].qty = 1000;
    in->lines[0].unit_price = PRICING_AMOUNT_MAX / 1000;
    in->tendered = PRICING_AMOUNT_MAX;
    round_trip(OP_SALE, in, out, sizeof *out, "sale with gross at the limit");
    assert_sale_eq(in, out);

    /* The cashier who sold: none (the operator's CLI), or any valid id up to
     * the longest. */
    static const char *const cashiers[] = {"", "c", "alice-01", "x.y_z-9",
                                           "abcdefghijklmnopqrstuvwxyz._-ABC"};
    for (size_t k = 0; k < KASSA_ARRAY_LEN(cashiers); k++) {
        sample_sale(in, 2);
        snprintf(in->cashier, sizeof in->cashier, "%s", cashiers[k]);
        round_trip(OP_SALE, in, out, sizeof *out, cashiers[k]);
        assert_sale_eq(in, out);
    }

    /* SKUs differing only in case are different SKUs. */
    memset(in, 0, sizeof *in);
    in->n_lines = 2;
    snprintf(in->lines[0].sku, sizeof in->lines[0].sku, "abc");
    snprintf(in->lines[1].sku, sizeof in->lines[1].sku, "ABC");
    in->lines[0].qty = in->lines[1].qty = 1;
    round_trip(OP_SALE, in, out, sizeof *out, "sale of SKUs differing in case");
    assert_sale_eq(in, out);
    free(in);
    free(out);
}

static void test_sale_round_trip_random(void **state)
{
    (void)state;
    oplog_sale *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    for (int iter = 0; iter < 300; iter++) {
        memset(in, 0, sizeof *in);
        in->n_lines = (size_t)rng_range(1, 40);
        int64_t budget = PRICING_AMOUNT_MAX, total = 0;
        for (size_t i = 0; i < in->n_lines; i++) {
            oplog_sale_line *l = &in->lines[i];
            snprintf(l->sku, sizeof l->sku, "r%u-%u", (unsigned)iter, (unsigned)i);
            l->qty = rng_range(1, i % 5 == 0 ? PRICING_QTY_MAX : 20);
            int64_t cap = budget / 2 / l->qty;
            int64_t mag = rng_range(0, 13);
            int64_t lim = 1;
            for (int64_t d = 0; d < mag && lim <= cap / 10; d++)
                lim *= 10;
            l->unit_price = rng_range(0, lim < cap ? lim : cap);
            int64_t gross = l->qty * l->unit_price;
            l->discount = rng_range(0, gross);
            l->tax = rng_range(0, (gross - l->discount) / 4 + 1);
            if (l->tax > budget / 2)
                l->tax = 0;
            budget -= oplog_line_total(l);
            total += oplog_line_total(l);
        }
        in->tendered = rng_range(total, PRICING_AMOUNT_MAX);
        char what[64];
        snprintf(what, sizeof what, "iteration %d", iter);
        round_trip(OP_SALE, in, out, sizeof *out, what);
        assert_sale_eq(in, out);
        assert_true(out->total == total);
    }
    free(in);
    free(out);
}

static void test_void_round_trip(void **state)
{
    (void)state;
    static const struct {
        const char *origin;
        uint64_t seq;
        int64_t refund;
    } cases[] = {
        {"till-2", 42, 1234},
        {"a", 1, 0},
        {"node-with-many-dashes-in-its-id", OPLOG_SEQ_MAX, PRICING_AMOUNT_MAX},
        {"x.y_z", 128, 127},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        oplog_void in = sample_void(), out;
        snprintf(in.sale.origin, sizeof in.sale.origin, "%s", cases[i].origin);
        in.sale.seq = cases[i].seq;
        in.refund = cases[i].refund;
        round_trip(OP_VOID, &in, &out, sizeof out, cases[i].origin);
        assert_string_equal(out.sale.origin, in.sale.origin);
        assert_true(out.sale.seq == in.sale.seq);
        assert_true(out.refund == in.refund);
    }
}

static void test_return_round_trip(void **state)
{
    (void)state;
    oplog_return *in = malloc(sizeof *in), *out = malloc(sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    static const size_t sizes[] = {1, 2, 50, OPLOG_SALE_LINES_MAX};
    for (size_t k = 0; k < KASSA_ARRAY_LEN(sizes); k++) {
        sample_return(in, sizes[k]);
        round_trip(OP_RETURN, in, out, sizeof *out, "sample return");
        assert_return_eq(in, out);
        int64_t refund = 0;
        for (size_t i = 0; i < in->n_lines; i++)
            refund += in->lines[i].refund;
        assert_true(out->refund == refund);
    }
    /* Limits: a single line refunding the largest amount, largest qty. */
    sample_return(in, 1);
    in->lines[0].qty = PRICING_QTY_MAX;
    in->lines[0].refund = PRICING_AMOUNT_MAX;
    round_trip(OP_RETURN, in, out, sizeof *out, "return at the largest amounts");
    assert_return_eq(in, out);
    assert_true(out->refund == PRICING_AMOUNT_MAX);
    free(in);
    free(out);
}

static void test_stock_round_trip(void **state)
{
    (void)state;
    const int64_t lim = PRICING_QTY_MAX * 1000;
    static const int64_t qtys[] = {0, 1, 127, 128, 1000000, PRICING_QTY_MAX * 1000};
    static const int64_t deltas[] = {
        0, 1, -1, 63, 64, -64, -65, 1000, -1000, PRICING_QTY_MAX * 1000, -PRICING_QTY_MAX * 1000};
    /* Both stock kinds share the codec. */
    static const int kinds[] = {OP_STOCK_RECEIVE, OP_STOCK_COUNT};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(qtys); i++) {
        for (size_t j = 0; j < KASSA_ARRAY_LEN(deltas); j++) {
            for (size_t k = 0; k < KASSA_ARRAY_LEN(kinds); k++) {
                oplog_stock in = sample_stock(qtys[i], deltas[j]), out;
                round_trip(kinds[k], &in, &out, sizeof out, oplog_kind_name(kinds[k]));
                assert_string_equal(out.sku, in.sku);
                assert_true(out.qty == in.qty);
                assert_true(out.delta == in.delta);
                assert_true(out.delta >= -lim && out.delta <= lim);
            }
        }
    }
}

static void test_setting_round_trip(void **state)
{
    (void)state;
    char long_key[OPLOG_SETTING_KEY_MAX + 1], long_value[OPLOG_SETTING_VALUE_MAX + 1];
    repeat_char(long_key, 'k', OPLOG_SETTING_KEY_MAX);
    repeat_char(long_value, 'v', OPLOG_SETTING_VALUE_MAX);
    const struct {
        const char *key, *value;
    } cases[] = {
        {"tax.standard", "2000"},
        {"currency", "EUR"},
        {"receipt_footer", "Thank you! \xe2\x80\x94 Merci ~"},
        {"empty", ""},
        {long_key, long_value},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        oplog_setting in = sample_setting(cases[i].key, cases[i].value), out;
        round_trip(OP_SETTING_SET, &in, &out, sizeof out, "setting");
        assert_string_equal(out.key, in.key);
        assert_string_equal(out.value, in.value);
    }
}

static void test_cashier_round_trip(void **state)
{
    (void)state;
    oplog_cashier in = sample_cashier(), out;
    for (uint8_t role = 1; role <= 3; role++) {
        in.role = role;
        round_trip(OP_CASHIER_SET, &in, &out, sizeof out, "cashier");
        assert_cashier_eq(&in, &out);
    }
    /* Largest fields. */
    repeat_char(in.id, 'i', KASSA_ID_MAX);
    repeat_char(in.name, 'n', KASSA_NAME_MAX);
    repeat_char(in.pin_hash, 'h', OPLOG_PIN_HASH_MAX);
    round_trip(OP_CASHIER_SET, &in, &out, sizeof out, "cashier at its largest");
    assert_cashier_eq(&in, &out);
    /* Smallest: one-byte id, name and hash. */
    snprintf(in.id, sizeof in.id, "x");
    snprintf(in.name, sizeof in.name, "~");
    snprintf(in.pin_hash, sizeof in.pin_hash, "$");
    round_trip(OP_CASHIER_SET, &in, &out, sizeof out, "cashier at its smallest");
    assert_cashier_eq(&in, &out);
}

static void test_audit_round_trip(void **state)
{
    (void)state;
    oplog_audit in = sample_audit(), out;
    round_trip(OP_AUDIT, &in, &out, sizeof out, "audit");
    assert_audit_eq(&in, &out);
    /* The operator's CLI acts as nobody: cashier and supervisor may be
     * empty, and so may subject and detail. */
    static const char *const actions[] = {"void", "return", "price_override", "no_sale"};
    for (size_t k = 0; k < KASSA_ARRAY_LEN(actions); k++) {
        in = sample_audit();
        snprintf(in.action, sizeof in.action, "%s", actions[k]);
        in.cashier[0] = in.supervisor[0] = '\0';
        if (k == 3)
            in.subject[0] = in.detail[0] = '\0';
        round_trip(OP_AUDIT, &in, &out, sizeof out, actions[k]);
        assert_audit_eq(&in, &out);
    }
    /* A supervisor without a cashier, a cashier without a supervisor. */
    in = sample_audit();
    in.cashier[0] = '\0';
    round_trip(OP_AUDIT, &in, &out, sizeof out, "supervisor only");
    assert_audit_eq(&in, &out);
    in = sample_audit();
    in.supervisor[0] = '\0';
    round_trip(OP_AUDIT, &in, &out, sizeof out, "cashier only");
    assert_audit_eq(&in, &out);
    /* Largest fields. */
    repeat_char(in.action, 'a', OPLOG_SETTING_KEY_MAX);
    repeat_char(in.cashier, 'c', KASSA_ID_MAX);
    repeat_char(in.supervisor, 's', KASSA_ID_MAX);
    repeat_char(in.subject, 'j', OPLOG_AUDIT_SUBJECT_MAX);
    repeat_char(in.detail, 'd', OPLOG_AUDIT_DETAIL_MAX);
    round_trip(OP_AUDIT, &in, &out, sizeof out, "audit at its largest");
    assert_audit_eq(&in, &out);
}

/* ---- generic rejections: truncation and trailing bytes ---- */

typedef struct {
    int kind;
    kbuf b;
} sample_payload;

static void add_sample(sample_payload *out, size_t *n, size_t max, int kind, const void *payload)
{
    assert_true(*n < max);
    out[*n].kind = kind;
    kbuf_init(&out[*n].b);
    assert_int_equal(oplog_encode(kind, payload, &out[*n].b), KASSA_OK);
    (*n)++;
}

/* A few valid payloads of every kind; the caller frees with free_samples. */
static size_t make_samples(sample_payload *out, size_t max)
{
    size_t n = 0;
    oplog_sale *sale = malloc(sizeof *sale);
    oplog_return *ret = malloc(sizeof *ret);
    assert_non_null(sale);
    assert_non_null(ret);
#define ADD(kind, payload) add_sample(out, &n, max, (kind), (payload))
    for (unsigned f = 1; f <= CATALOG_F_ALL; f++) {
        oplog_catalog_set c = sample_catalog(f);
        ADD(OP_CATALOG_SET, &c);
    }
    oplog_catalog_set big = sample_catalog(CATALOG_F_ALL);
    big.price = PRICING_AMOUNT_MAX;
    ADD(OP_CATALOG_SET, &big);
    sample_sale(sale, 1);
    ADD(OP_SALE, sale);
    sample_sale(sale, 5);
    sale->lines[2].qty = PRICING_QTY_MAX;
    sale->tendered = PRICING_AMOUNT_MAX;
    ADD(OP_SALE, sale);
    sample_sale(sale, 130); /* two-byte line count */
    ADD(OP_SALE, sale);
    oplog_void v = sample_void();
    ADD(OP_VOID, &v);
    v.sale.seq = OPLOG_SEQ_MAX;
    v.refund = PRICING_AMOUNT_MAX;
    ADD(OP_VOID, &v);
    sample_return(ret, 1);
    ADD(OP_RETURN, ret);
    sample_return(ret, 4);
    ret->lines[3].refund = PRICING_AMOUNT_MAX / 2;
    ADD(OP_RETURN, ret);
    oplog_stock st = sample_stock(5, 0);
    ADD(OP_STOCK_RECEIVE, &st);
    st = sample_stock(PRICING_QTY_MAX * 1000, -PRICING_QTY_MAX * 1000);
    ADD(OP_STOCK_COUNT, &st);
    st = sample_stock(0, -3);
    ADD(OP_STOCK_COUNT, &st);
    oplog_setting set = sample_setting("tax.standard", "2000");
    ADD(OP_SETTING_SET, &set);
    set = sample_setting("footer", "");
    ADD(OP_SETTING_SET, &set);
    sample_sale(sale, 2);
    snprintf(sale->cashier, sizeof sale->cashier, "alice-01");
    ADD(OP_SALE, sale);
    oplog_cashier cs = sample_cashier();
    ADD(OP_CASHIER_SET, &cs);
    cs.role = 3;
    repeat_char(cs.name, 'n', KASSA_NAME_MAX);
    ADD(OP_CASHIER_SET, &cs);
    oplog_audit au = sample_audit();
    ADD(OP_AUDIT, &au);
    au.cashier[0] = au.supervisor[0] = au.subject[0] = au.detail[0] = '\0';
    ADD(OP_AUDIT, &au);
#undef ADD
    free(sale);
    free(ret);
    return n;
}

static void free_samples(sample_payload *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kbuf_free(&s[i].b);
}

static void test_payload_truncated_at_every_length(void **state)
{
    (void)state;
    sample_payload s[64];
    size_t n = make_samples(s, KASSA_ARRAY_LEN(s));
    for (size_t i = 0; i < n; i++) {
        expect_ok(s[i].kind, &s[i].b, "full sample");
        for (size_t len = 0; len < s[i].b.len; len++) {
            char what[128];
            snprintf(what, sizeof what, "sample %zu prefix %zu/%zu", i, len, s[i].b.len);
            /* An exact-size copy, so ASan catches a read past the prefix. */
            uint8_t *exact = malloc(len ? len : 1);
            assert_non_null(exact);
            if (len)
                memcpy(exact, s[i].b.data, len);
            kbuf view = {exact, len, len, false};
            expect_corrupt(s[i].kind, &view, what);
            free(exact);
        }
    }
    free_samples(s, n);
}

static void test_payload_trailing_bytes(void **state)
{
    (void)state;
    sample_payload s[64];
    size_t n = make_samples(s, KASSA_ARRAY_LEN(s));
    static const uint8_t tails[][3] = {{0x00}, {0x01}, {0xff}, {0x00, 0x00, 0x00}};
    static const size_t tail_len[] = {1, 1, 1, 3};
    for (size_t i = 0; i < n; i++) {
        for (size_t t = 0; t < KASSA_ARRAY_LEN(tails); t++) {
            kbuf b;
            kbuf_init(&b);
            kbuf_put(&b, s[i].b.data, s[i].b.len);
            kbuf_put(&b, tails[t], tail_len[t]);
            expect_corrupt(s[i].kind, &b, "trailing bytes");
            kbuf_free(&b);
        }
    }
    free_samples(s, n);
}

static void test_validate_payload_kinds(void **state)
{
    (void)state;
    sample_payload s[64];
    size_t n = make_samples(s, KASSA_ARRAY_LEN(s));
    for (size_t i = 0; i < n; i++) {
        kassa_err err;
        assert_int_equal(oplog_validate_payload(s[i].kind, s[i].b.data, s[i].b.len, &err),
                         KASSA_OK);
        /* Unknown kinds are rejected whatever the bytes. */
        static const int bad_kinds[] = {0, OP_KIND_MAX + 1, 100, 255, -1};
        for (size_t k = 0; k < KASSA_ARRAY_LEN(bad_kinds); k++) {
            kassa_err_clear(&err);
            assert_int_equal(oplog_validate_payload(bad_kinds[k], s[i].b.data, s[i].b.len, &err),
                             KASSA_ECORRUPT);
            assert_int_equal(err.code, KASSA_ECORRUPT);
            assert_true(tu_contains(err.msg, "unknown operation kind"));
        }
    }
    free_samples(s, n);
    /* Empty payloads are never valid. */
    for (int k = 0; k <= OP_KIND_MAX + 1; k++)
        assert_int_equal(oplog_validate_payload(k, NULL, 0, NULL), KASSA_ECORRUPT);
}

/* ---- specific rejections ---- */

/* A catalog_set payload by hand: SKU "sku1" and one string field, given as
 * raw bytes (which the struct could not hold). */
static void reject_catalog_field(unsigned field, const void *value, size_t len, const char *what)
{
    kbuf b;
    kbuf_init(&b);
    kbuf_put_str(&b, "sku1");
    kbuf_put_u8(&b, (uint8_t)field);
    kbuf_put_bytes(&b, value, len);
    expect_corrupt(OP_CATALOG_SET, &b, what);
    kbuf_free(&b);
}

static void test_catalog_rejects(void **state)
{
    (void)state;
    kbuf b;
    oplog_catalog_set c;

#define REJECT(mutate, what)                                                                       \
    do {                                                                                           \
        c = sample_catalog(CATALOG_F_ALL);                                                         \
        mutate;                                                                                    \
        expect_rejected(OP_CATALOG_SET, &c, what);                                                 \
    } while (0)
    REJECT(c.sku[0] = '\0', "empty sku");
    REJECT(snprintf(c.sku, sizeof c.sku, "a b"), "sku with space");
    REJECT(snprintf(c.sku, sizeof c.sku, "a/b"), "sku with slash");
    REJECT(snprintf(c.sku, sizeof c.sku, "caf\xc3\xa9"), "sku non-ascii");
    REJECT(c.fields = 0, "no fields");
    REJECT(c.name[0] = '\0', "empty name");
    REJECT(snprintf(c.name, sizeof c.name, "two\nlines"), "name with newline");
    REJECT(snprintf(c.name, sizeof c.name, "tab\there"), "name with tab");
    REJECT(snprintf(c.name, sizeof c.name, "del\x7f"), "name with DEL");
    REJECT(snprintf(c.barcode, sizeof c.barcode, "123\r"), "barcode with CR");
    REJECT(c.price = PRICING_AMOUNT_MAX + 1, "price above max");
    REJECT(c.price = -1, "negative price");
    REJECT(c.price = INT64_MIN, "INT64_MIN price");
    REJECT(c.tax_class[0] = '\0', "empty tax class");
    REJECT(snprintf(c.tax_class, sizeof c.tax_class, "std rate"), "tax class with space");
#undef REJECT

    /* Field bits outside CATALOG_F_ALL, by hand (the encoder writes only
     * the fields it knows). */
    for (unsigned bits = 0x10; bits <= 0xff; bits += 0x10) {
        kbuf_init(&b);
        kbuf_put_str(&b, "sku1");
        kbuf_put_u8(&b, (uint8_t)(bits | CATALOG_F_PRICE));
        kbuf_put_uvarint(&b, 100);
        expect_corrupt(OP_CATALOG_SET, &b, "unknown field bits");
        kbuf_free(&b);
    }

    /* Over-long strings, by hand (the struct cannot hold them). */
    char s[200];
    repeat_char(s, 'x', KASSA_SKU_MAX + 1);
    kbuf_init(&b);
    kbuf_put_str(&b, s);
    kbuf_put_u8(&b, CATALOG_F_PRICE);
    kbuf_put_uvarint(&b, 1);
    expect_corrupt(OP_CATALOG_SET, &b, "sku too long");
    kbuf_free(&b);

    static const struct {
        unsigned field;
        char fill;
        size_t len;
        const char *what;
    } too_long[] = {
        {CATALOG_F_NAME, 'n', KASSA_NAME_MAX + 1, "name too long"},
        {CATALOG_F_BARCODE, '1', KASSA_BARCODE_MAX + 1, "barcode too long"},
        {CATALOG_F_TAX_CLASS, 't', KASSA_ID_MAX + 1, "tax class too long"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(too_long); i++) {
        repeat_char(s, too_long[i].fill, too_long[i].len);
        reject_catalog_field(too_long[i].field, s, too_long[i].len, too_long[i].what);
    }

    /* Embedded NUL in the name. */
    reject_catalog_field(CATALOG_F_NAME, "ab\0cd", 5, "name with NUL");
}

static void one_line_sale(oplog_sale *s, int64_t qty, int64_t price, int64_t discount, int64_t tax,
                          int64_t tendered)
{
    memset(s, 0, sizeof *s);
    s->n_lines = 1;
    snprintf(s->lines[0].sku, sizeof s->lines[0].sku, "sku1");
    s->lines[0].qty = qty;
    s->lines[0].unit_price = price;
    s->lines[0].discount = discount;
    s->lines[0].tax = tax;
    s->tendered = tendered;
}

static void test_sale_rejects_amounts(void **state)
{
    (void)state;
    const int64_t M = PRICING_AMOUNT_MAX;
    oplog_sale *s = malloc(sizeof *s);
    assert_non_null(s);

    const struct {
        int64_t qty, price, discount, tax, tendered;
        bool ok;
        const char *what;
    } one_line[] = {
        {2, 500, 100, 90, 990, true, "baseline"},
        {0, 500, 0, 0, 1000, false, "zero quantity"},
        {-1, 500, 0, 0, 1000, false, "negative quantity"},
        {PRICING_QTY_MAX + 1, 0, 0, 0, 0, false, "quantity above max"},
        {1, M + 1, 0, 0, M, false, "unit price above max"},
        {1, -5, 0, 0, 0, false, "negative unit price"},
        {1, 0, 0, M + 1, M, false, "tax above max"},
        {1, M, M + 1, 0, M, false, "discount above max"},
        {1, 100, 0, 0, M + 1, false, "tendered above max"},
        {1, 100, 0, 0, -1, false, "negative tendered"},
        /* gross = qty * unit_price must fit, and be an amount. */
        {1000, M / 1000 + 1, 0, 0, M, false, "gross above max"},
        {PRICING_QTY_MAX, M, 0, 0, M, false, "gross overflows int64"},
        {PRICING_QTY_MAX, M, M, 0, M, false, "gross overflows int64, discounted to zero"},
        /* discount <= gross. */
        {3, 100, 300, 0, 0, true, "discount == gross"},
        {3, 100, 301, 0, 0, false, "discount > gross"},
        {1, 0, 1, 0, 0, false, "discount on a free item"},
        /* tendered >= total. */
        {2, 500, 100, 90, 989, false, "tendered < total"},
        {1, 1, 0, 0, 0, false, "tendered 0 < total 1"},
        /* The line total (with tax) must be an amount. */
        {1, M, 0, 1, M, false, "line total above max"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(one_line); i++) {
        one_line_sale(s, one_line[i].qty, one_line[i].price, one_line[i].discount, one_line[i].tax,
                      one_line[i].tendered);
        expect_encoded(OP_SALE, s, one_line[i].ok, one_line[i].what);
    }

    /* And so must the cart total. */
    memset(s, 0, sizeof *s);
    s->n_lines = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(s->lines[i].sku, sizeof s->lines[i].sku, "s%d", i);
        s->lines[i].qty = 1;
        s->lines[i].unit_price = M / 2;
    }
    s->tendered = M;
    expect_rejected(OP_SALE, s, "cart total above max");
    s->n_lines = 2;
    expect_accepted(OP_SALE, s, "cart total at max");
    s->lines[1].tax = 1;
    expect_rejected(OP_SALE, s, "cart total one above max through tax");

    /* 500 lines each at the largest tax that keeps the cart total within
     * bounds: the running tax sum must not overflow either. */
    memset(s, 0, sizeof *s);
    s->n_lines = OPLOG_SALE_LINES_MAX;
    for (size_t i = 0; i < s->n_lines; i++) {
        snprintf(s->lines[i].sku, sizeof s->lines[i].sku, "l%zu", i);
        s->lines[i].qty = 1;
        s->lines[i].tax = M / OPLOG_SALE_LINES_MAX;
    }
    s->tendered = M;
    expect_accepted(OP_SALE, s, "500 lines of tax");
    s->lines[499].tax = M;
    expect_rejected(OP_SALE, s, "500 lines, total over max");
    free(s);
}

/* One sale line by hand: the SKU, quantity 1, unit price 1, no discount, no
 * tax. */
static void put_sale_line(kbuf *b, const char *sku)
{
    kbuf_put_str(b, sku);
    kbuf_put_uvarint(b, 1);
    kbuf_put_uvarint(b, 1);
    kbuf_put_uvarint(b, 0);
    kbuf_put_uvarint(b, 0);
}

static void test_sale_rejects_structure(void **state)
{
    (void)state;
    oplog_sale *s = malloc(sizeof *s);
    assert_non_null(s);

    /* Duplicate SKU lines, adjacent and far apart. */
    sample_sale(s, 3);
    snprintf(s->lines[1].sku, sizeof s->lines[1].sku, "%s", s->lines[0].sku);
    expect_rejected(OP_SALE, s, "duplicate adjacent sku");
    sample_sale(s, OPLOG_SALE_LINES_MAX);
    snprintf(s->lines[499].sku, sizeof s->lines[499].sku, "%s", s->lines[0].sku);
    expect_rejected(OP_SALE, s, "duplicate first and last sku");
    sample_sale(s, OPLOG_SALE_LINES_MAX);
    snprintf(s->lines[300].sku, sizeof s->lines[300].sku, "%s", s->lines[299].sku);
    expect_rejected(OP_SALE, s, "duplicate sku in the middle");

    /* Invalid SKUs. */
    static const char *const bad_skus[] = {"", "a b", "a/b", "x\ty", "\xc3\xa9", "a,b"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad_skus); i++) {
        sample_sale(s, 2);
        snprintf(s->lines[1].sku, sizeof s->lines[1].sku, "%s", bad_skus[i]);
        expect_rejected(OP_SALE, s, "invalid sku");
    }

    /* n_lines 0 and above the limit, by hand: the encoder would read past
     * the lines array. The payload starts with the cashier (here none). */
    kbuf b;
    static const uint64_t counts[] = {0, OPLOG_SALE_LINES_MAX + 1, 1000, UINT64_MAX};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(counts); i++) {
        kbuf_init(&b);
        kbuf_put_str(&b, "");
        kbuf_put_uvarint(&b, counts[i]);
        for (int l = 0; l < 3; l++) {
            char sku[16];
            snprintf(sku, sizeof sku, "x%d", l);
            put_sale_line(&b, sku);
        }
        kbuf_put_uvarint(&b, 100);
        expect_corrupt(OP_SALE, &b, "bad line count");
        kbuf_free(&b);
    }
    /* Line count larger than the lines present (byte 0 is the empty
     * cashier's length, byte 1 the line count). */
    sample_sale(s, 3);
    kbuf_init(&b);
    oplog_encode_sale(&b, s);
    assert_int_equal(b.data[0], 0);
    assert_int_equal(b.data[1], 3);
    expect_ok(OP_SALE, &b, "three lines");
    b.data[1] = 4;
    expect_corrupt(OP_SALE, &b, "line count larger than lines");
    b.data[1] = 2;
    expect_corrupt(OP_SALE, &b, "line count smaller than lines");
    kbuf_free(&b);

    /* SKU too long, by hand. */
    char longsku[KASSA_SKU_MAX + 2];
    repeat_char(longsku, 's', KASSA_SKU_MAX + 1);
    kbuf_init(&b);
    kbuf_put_str(&b, "");
    kbuf_put_uvarint(&b, 1);
    put_sale_line(&b, "sku-ok");
    kbuf_put_uvarint(&b, 1);
    expect_ok(OP_SALE, &b, "the same by hand, SKU of a valid length");
    kbuf_free(&b);
    kbuf_init(&b);
    kbuf_put_str(&b, "");
    kbuf_put_uvarint(&b, 1);
    put_sale_line(&b, longsku);
    kbuf_put_uvarint(&b, 1);
    expect_corrupt(OP_SALE, &b, "sku too long");
    kbuf_free(&b);

    /* The cashier: empty or a valid id. */
    static const char *const bad_cashiers[] = {" ",   "a b", "a/b", "caf\xc3\xa9",
                                               "x\n", "\t",  "a:b"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad_cashiers); i++) {
        sample_sale(s, 2);
        snprintf(s->cashier, sizeof s->cashier, "%s", bad_cashiers[i]);
        expect_rejected(OP_SALE, s, "invalid cashier id");
    }
    /* By hand: too long, and with a NUL inside. */
    char longid[KASSA_ID_MAX + 2];
    repeat_char(longid, 'c', KASSA_ID_MAX + 1);
    const struct {
        const char *bytes;
        size_t len;
        bool ok;
        const char *what;
    } raw[] = {
        {longid, KASSA_ID_MAX, true, "cashier of the longest id"},
        {longid, KASSA_ID_MAX + 1, false, "cashier id too long"},
        {"ab\0c", 4, false, "cashier id with NUL"},
        {"\0", 1, false, "cashier id of a NUL"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(raw); i++) {
        kbuf_init(&b);
        kbuf_put_bytes(&b, raw[i].bytes, raw[i].len);
        kbuf_put_uvarint(&b, 1);
        put_sale_line(&b, "sku1");
        kbuf_put_uvarint(&b, 1);
        if (raw[i].ok)
            expect_ok(OP_SALE, &b, raw[i].what);
        else
            expect_corrupt(OP_SALE, &b, raw[i].what);
        kbuf_free(&b);
    }
    free(s);
}

static void test_void_rejects(void **state)
{
    (void)state;
    kbuf b;
    oplog_void v;
#define REJECT(mutate, what)                                                                       \
    do {                                                                                           \
        v = sample_void();                                                                         \
        mutate;                                                                                    \
        expect_rejected(OP_VOID, &v, what);                                                        \
    } while (0)
    REJECT(v.sale.seq = 0, "seq 0");
    REJECT(v.sale.origin[0] = '\0', "empty origin");
    REJECT(snprintf(v.sale.origin, sizeof v.sale.origin, "till 2"), "origin with space");
    REJECT(snprintf(v.sale.origin, sizeof v.sale.origin, "till:2"), "origin with colon");
    REJECT(v.refund = PRICING_AMOUNT_MAX + 1, "refund above max");
    REJECT(v.refund = -1, "negative refund");
#undef REJECT
    char longid[KASSA_ID_MAX + 2];
    repeat_char(longid, 'o', KASSA_ID_MAX + 1);
    kbuf_init(&b);
    kbuf_put_str(&b, longid);
    kbuf_put_uvarint(&b, 1);
    kbuf_put_uvarint(&b, 0);
    expect_corrupt(OP_VOID, &b, "origin too long");
    kbuf_free(&b);
}

static void test_return_rejects(void **state)
{
    (void)state;
    oplog_return *r = malloc(sizeof *r);
    assert_non_null(r);
    kbuf b;
#define REJECT(n, mutate, what)                                                                    \
    do {                                                                                           \
        sample_return(r, n);                                                                       \
        mutate;                                                                                    \
        expect_rejected(OP_RETURN, r, what);                                                       \
    } while (0)
    REJECT(2, r->sale.seq = 0, "seq 0");
    REJECT(2, r->sale.origin[0] = '\0', "empty origin");
    REJECT(2, snprintf(r->sale.origin, sizeof r->sale.origin, "a b"), "bad origin");
    REJECT(2, r->n_lines = 0, "no lines");
    REJECT(2, r->lines[1].qty = 0, "zero quantity");
    REJECT(2, r->lines[1].qty = -2, "negative quantity");
    REJECT(2, r->lines[1].qty = PRICING_QTY_MAX + 1, "quantity above max");
    REJECT(2, r->lines[0].refund = PRICING_AMOUNT_MAX + 1, "line refund above max");
    REJECT(2, r->lines[0].refund = -1, "negative refund");
    REJECT(2, r->lines[1].sku[0] = '\0', "empty sku");
    REJECT(2, snprintf(r->lines[1].sku, sizeof r->lines[1].sku, "a\nb"), "sku with newline");
    REJECT(3, r->lines[0].refund = r->lines[1].refund = PRICING_AMOUNT_MAX / 2 + 1,
           "total refund above max");
    REJECT(OPLOG_SALE_LINES_MAX,
           for (size_t i = 0; i < r->n_lines; i++) r->lines[i].refund = PRICING_AMOUNT_MAX,
           "500 lines of max refund");
#undef REJECT

    /* Too many lines, by hand. */
    kbuf_init(&b);
    kbuf_put_str(&b, "node");
    kbuf_put_uvarint(&b, 1);
    kbuf_put_uvarint(&b, OPLOG_SALE_LINES_MAX + 1);
    kbuf_put_str(&b, "s");
    kbuf_put_uvarint(&b, 1);
    kbuf_put_uvarint(&b, 0);
    expect_corrupt(OP_RETURN, &b, "too many lines");
    kbuf_free(&b);
    free(r);
}

static void test_stock_rejects(void **state)
{
    (void)state;
    const int64_t lim = PRICING_QTY_MAX * 1000;
    oplog_stock s;
#define REJECT(mutate, what)                                                                       \
    do {                                                                                           \
        s = sample_stock(10, 0);                                                                   \
        mutate;                                                                                    \
        expect_rejected(OP_STOCK_RECEIVE, &s, what);                                               \
        expect_rejected(OP_STOCK_COUNT, &s, what);                                                 \
    } while (0)
    REJECT(s.qty = lim + 1, "qty above max");
    REJECT(s.qty = -1, "negative qty");
    REJECT(s.delta = lim + 1, "delta above max");
    REJECT(s.delta = -lim - 1, "delta below min");
    REJECT(s.delta = INT64_MAX, "delta INT64_MAX");
    REJECT(s.delta = INT64_MIN, "delta INT64_MIN");
    REJECT(s.sku[0] = '\0', "empty sku");
    REJECT(snprintf(s.sku, sizeof s.sku, "x y"), "sku with space");
#undef REJECT
}

/* A setting payload by hand, from raw key and value bytes. */
static void reject_setting_raw(const char *key, size_t key_len, const char *value, size_t value_len,
                               const char *what)
{
    kbuf b;
    kbuf_init(&b);
    kbuf_put_bytes(&b, key, key_len);
    kbuf_put_bytes(&b, value, value_len);
    expect_corrupt(OP_SETTING_SET, &b, what);
    kbuf_free(&b);
}

static void test_setting_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value, *what;
    } bad[] = {
        {"", "v", "empty key"},
        {"tax rate", "v", "key with space"},
        {"tax/rate", "v", "key with slash"},
        {"k", "line\nbreak", "value with newline"},
        {"k", "bell\a", "value with control"},
        {"k", "\x7f", "value with DEL"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad); i++) {
        oplog_setting s = sample_setting(bad[i].key, bad[i].value);
        expect_rejected(OP_SETTING_SET, &s, bad[i].what);
    }
    /* By hand: what the struct cannot hold. */
    char longs[OPLOG_SETTING_VALUE_MAX + 2];
    repeat_char(longs, 'k', OPLOG_SETTING_KEY_MAX + 1);
    reject_setting_raw(longs, OPLOG_SETTING_KEY_MAX + 1, "v", 1, "key too long");
    repeat_char(longs, 'v', OPLOG_SETTING_VALUE_MAX + 1);
    reject_setting_raw("k", 1, longs, OPLOG_SETTING_VALUE_MAX + 1, "value too long");
    reject_setting_raw("k", 1, "a\0b", 3, "value with NUL");
}

/* A cashier payload by hand, from raw field bytes. */
static void cashier_raw(kbuf *b, const char *id, size_t id_len, const char *name, size_t name_len,
                        uint8_t role, const char *hash, size_t hash_len)
{
    kbuf_init(b);
    kbuf_put_bytes(b, id, id_len);
    kbuf_put_bytes(b, name, name_len);
    kbuf_put_u8(b, role);
    kbuf_put_bytes(b, hash, hash_len);
}

static void test_cashier_rejects(void **state)
{
    (void)state;
    oplog_cashier c;
#define REJECT(mutate, what)                                                                       \
    do {                                                                                           \
        c = sample_cashier();                                                                      \
        mutate;                                                                                    \
        expect_rejected(OP_CASHIER_SET, &c, what);                                                 \
    } while (0)
    REJECT(c.id[0] = '\0', "empty id");
    REJECT(snprintf(c.id, sizeof c.id, "a b"), "id with space");
    REJECT(snprintf(c.id, sizeof c.id, "a/b"), "id with slash");
    REJECT(snprintf(c.id, sizeof c.id, "m\xc3\xbcller"), "id non-ascii");
    REJECT(snprintf(c.id, sizeof c.id, "x\n"), "id with newline");
    REJECT(c.name[0] = '\0', "empty name");
    REJECT(snprintf(c.name, sizeof c.name, "two\nlines"), "name with newline");
    REJECT(snprintf(c.name, sizeof c.name, "tab\there"), "name with tab");
    REJECT(snprintf(c.name, sizeof c.name, "del\x7f"), "name with DEL");
    REJECT(snprintf(c.name, sizeof c.name, "\x1b[31mred"), "name with ESC");
    REJECT(c.role = 0, "role 0");
    REJECT(c.role = 4, "role 4");
    REJECT(c.role = 255, "role 255");
    REJECT(c.pin_hash[0] = '\0', "empty PIN hash");
    REJECT(snprintf(c.pin_hash, sizeof c.pin_hash, "$argon2id$\n"), "PIN hash with newline");
    REJECT(snprintf(c.pin_hash, sizeof c.pin_hash, "\x01"), "PIN hash with control char");
#undef REJECT
    for (uint8_t role = 1; role <= 3; role++) {
        c = sample_cashier();
        c.role = role;
        expect_accepted(OP_CASHIER_SET, &c, "roles 1..3");
    }

    /* By hand: what the struct cannot hold. */
    char big[OPLOG_PIN_HASH_MAX + 2];
    kbuf b;
    static const struct {
        int field; /* 0 id, 1 name, 2 hash */
        size_t len;
        bool ok;
        const char *what;
    } lens[] = {
        {0, KASSA_ID_MAX, true, "longest id"},
        {0, KASSA_ID_MAX + 1, false, "id too long"},
        {1, KASSA_NAME_MAX, true, "longest name"},
        {1, KASSA_NAME_MAX + 1, false, "name too long"},
        {2, OPLOG_PIN_HASH_MAX, true, "longest PIN hash"},
        {2, OPLOG_PIN_HASH_MAX + 1, false, "PIN hash too long"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(lens); i++) {
        repeat_char(big, 'x', lens[i].len);
        const char *id = lens[i].field == 0 ? big : "id";
        const char *name = lens[i].field == 1 ? big : "Name";
        const char *hash = lens[i].field == 2 ? big : "$h";
        cashier_raw(&b, id, strlen(id), name, strlen(name), 1, hash, strlen(hash));
        if (lens[i].ok)
            expect_ok(OP_CASHIER_SET, &b, lens[i].what);
        else
            expect_corrupt(OP_CASHIER_SET, &b, lens[i].what);
        kbuf_free(&b);
    }
    cashier_raw(&b, "id", 2, "Na\0me", 5, 1, "$h", 2);
    expect_corrupt(OP_CASHIER_SET, &b, "name with NUL");
    kbuf_free(&b);
    cashier_raw(&b, "id", 2, "Name", 4, 1, "$h\0", 3);
    expect_corrupt(OP_CASHIER_SET, &b, "PIN hash with NUL");
    kbuf_free(&b);
    /* The role is one byte: nothing after it but the hash. */
    kbuf_init(&b);
    kbuf_put_str(&b, "id");
    kbuf_put_str(&b, "Name");
    expect_corrupt(OP_CASHIER_SET, &b, "no role");
    kbuf_free(&b);
}

static void test_audit_rejects(void **state)
{
    (void)state;
    oplog_audit a;
#define REJECT(mutate, what)                                                                       \
    do {                                                                                           \
        a = sample_audit();                                                                        \
        mutate;                                                                                    \
        expect_rejected(OP_AUDIT, &a, what);                                                       \
    } while (0)
    REJECT(a.action[0] = '\0', "empty action");
    REJECT(snprintf(a.action, sizeof a.action, "price override"), "action with space");
    REJECT(snprintf(a.action, sizeof a.action, "void\n"), "action with newline");
    REJECT(snprintf(a.cashier, sizeof a.cashier, "a b"), "cashier with space");
    REJECT(snprintf(a.cashier, sizeof a.cashier, "caf\xc3\xa9"), "cashier non-ascii");
    REJECT(snprintf(a.supervisor, sizeof a.supervisor, "x/y"), "supervisor with slash");
    REJECT(snprintf(a.supervisor, sizeof a.supervisor, "\t"), "supervisor a tab");
    REJECT(snprintf(a.subject, sizeof a.subject, "T1-1\n"), "subject with newline");
    REJECT(snprintf(a.subject, sizeof a.subject, "\x7f"), "subject with DEL");
    REJECT(snprintf(a.detail, sizeof a.detail, "line\nbreak"), "detail with newline");
    REJECT(snprintf(a.detail, sizeof a.detail, "bell\a"), "detail with BEL");
    REJECT(snprintf(a.detail, sizeof a.detail, "\x1b[2J"), "detail with ESC");
#undef REJECT

    /* By hand: fields longer than their limits, and NULs. */
    char big[OPLOG_AUDIT_DETAIL_MAX + 2];
    static const struct {
        int field; /* 0 action .. 4 detail */
        size_t max;
    } lims[] = {
        {0, OPLOG_SETTING_KEY_MAX},   {1, KASSA_ID_MAX},           {2, KASSA_ID_MAX},
        {3, OPLOG_AUDIT_SUBJECT_MAX}, {4, OPLOG_AUDIT_DETAIL_MAX},
    };
    static const char *const base[5] = {"void", "c1", "s1", "T1-1", "why"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(lims); i++) {
        for (size_t extra = 0; extra <= 1; extra++) {
            repeat_char(big, 'y', lims[i].max + extra);
            kbuf b;
            kbuf_init(&b);
            for (int f = 0; f < 5; f++)
                kbuf_put_str(&b, f == lims[i].field ? big : base[f]);
            char what[64];
            snprintf(what, sizeof what, "audit field %d of %zu bytes", lims[i].field,
                     lims[i].max + extra);
            if (extra)
                expect_corrupt(OP_AUDIT, &b, what);
            else
                expect_ok(OP_AUDIT, &b, what);
            kbuf_free(&b);
            /* And with a NUL inside the field. */
            kbuf_init(&b);
            for (int f = 0; f < 5; f++) {
                if (f == lims[i].field)
                    kbuf_put_bytes(&b, "a\0b", 3);
                else
                    kbuf_put_str(&b, base[f]);
            }
            expect_corrupt(OP_AUDIT, &b, "NUL in an audit field");
            kbuf_free(&b);
        }
    }
    /* Four fields only. */
    kbuf b;
    kbuf_init(&b);
    for (int f = 0; f < 4; f++)
        kbuf_put_str(&b, base[f]);
    expect_corrupt(OP_AUDIT, &b, "no detail");
    kbuf_free(&b);
}

/* ---- hash chain ---- */

typedef struct {
    char store[KASSA_ID_MAX + 1];
    uint8_t prev[OPLOG_HASH_SIZE];
    oplog_op op;
    uint8_t payload[64];
} hash_case;

static void base_hash_case(hash_case *h)
{
    memset(h, 0, sizeof *h);
    snprintf(h->store, sizeof h->store, "store-1");
    for (int i = 0; i < OPLOG_HASH_SIZE; i++)
        h->prev[i] = (uint8_t)(i * 11 + 3);
    snprintf(h->op.origin, sizeof h->op.origin, "till-1");
    h->op.seq = 7;
    h->op.hlc = hlc_make(UINT64_C(1700000000000), 3);
    h->op.kind = OP_SALE;
    for (size_t i = 0; i < sizeof h->payload; i++)
        h->payload[i] = (uint8_t)(i * 7 + 1);
    h->op.payload = h->payload;
    h->op.payload_len = sizeof h->payload;
}

/* A copy of base whose payload points into the copy, so that changing
 * h->payload changes what is hashed. */
static void copy_hash_case(hash_case *h, const hash_case *base)
{
    *h = *base;
    h->op.payload = h->payload;
}

static void hash_of(const hash_case *h, uint8_t out[OPLOG_HASH_SIZE])
{
    oplog_hash(h->store, h->prev, &h->op, out);
}

/* The documented canonical form, rebuilt here independently. */
static void reference_hash(const hash_case *h, uint8_t out[OPLOG_HASH_SIZE])
{
    kbuf b;
    kbuf_init(&b);
    kbuf_put(&b, h->prev, OPLOG_HASH_SIZE);
    kbuf_put_str(&b, h->store);
    kbuf_put_str(&b, h->op.origin);
    kbuf_put_uvarint(&b, h->op.seq);
    kbuf_put_uvarint(&b, h->op.hlc);
    kbuf_put_u8(&b, h->op.kind);
    kbuf_put_bytes(&b, h->op.payload, h->op.payload_len);
    crypto_generichash(out, OPLOG_HASH_SIZE, b.data, b.len, NULL, 0);
    kbuf_free(&b);
}

static void test_hash_reference_and_ok(void **state)
{
    (void)state;
    hash_case h;
    base_hash_case(&h);
    uint8_t a[OPLOG_HASH_SIZE], b[OPLOG_HASH_SIZE];
    hash_of(&h, a);
    reference_hash(&h, b);
    assert_memory_equal(a, b, OPLOG_HASH_SIZE);
    hash_of(&h, b); /* deterministic */
    assert_memory_equal(a, b, OPLOG_HASH_SIZE);

    memcpy(h.op.hash, a, OPLOG_HASH_SIZE);
    assert_true(oplog_hash_ok(h.store, h.prev, &h.op));
    for (int i = 0; i < OPLOG_HASH_SIZE; i++) {
        h.op.hash[i] ^= 0x01;
        assert_false(oplog_hash_ok(h.store, h.prev, &h.op));
        h.op.hash[i] ^= 0x01;
    }
    uint8_t zero[OPLOG_HASH_SIZE] = {0};
    assert_false(oplog_hash_ok(h.store, zero, &h.op));
    assert_false(oplog_hash_ok("store-2", h.prev, &h.op));

    /* Empty payload (with a NULL pointer) and the largest field values. */
    h.op.payload = NULL;
    h.op.payload_len = 0;
    h.op.seq = UINT64_MAX;
    h.op.hlc = UINT64_MAX;
    h.op.kind = 255;
    repeat_char(h.store, 's', KASSA_ID_MAX);
    repeat_char(h.op.origin, 'o', KASSA_ID_MAX);
    hash_of(&h, a);
    reference_hash(&h, b);
    assert_memory_equal(a, b, OPLOG_HASH_SIZE);
}

static void assert_hash_changes(const hash_case *base, const hash_case *changed, const char *what)
{
    uint8_t a[OPLOG_HASH_SIZE], b[OPLOG_HASH_SIZE];
    hash_of(base, a);
    hash_of(changed, b);
    if (memcmp(a, b, OPLOG_HASH_SIZE) == 0)
        fail_msg("hash unchanged after changing %s", what);
    /* And the original hash no longer verifies. */
    oplog_op op = changed->op;
    memcpy(op.hash, a, OPLOG_HASH_SIZE);
    assert_false(oplog_hash_ok(changed->store, changed->prev, &op));
}

static void test_hash_covers_every_field(void **state)
{
    (void)state;
    hash_case base, h;
    base_hash_case(&base);

    copy_hash_case(&h, &base);
    snprintf(h.store, sizeof h.store, "store-2");
    assert_hash_changes(&base, &h, "store id");
    copy_hash_case(&h, &base);
    snprintf(h.store, sizeof h.store, "store-1x");
    assert_hash_changes(&base, &h, "store id length");

    copy_hash_case(&h, &base);
    snprintf(h.op.origin, sizeof h.op.origin, "till-2");
    assert_hash_changes(&base, &h, "origin");

    /* Moving a byte between store and origin changes the hash: fields are
     * length-prefixed, not concatenated. */
    copy_hash_case(&h, &base);
    snprintf(h.store, sizeof h.store, "store-1t");
    snprintf(h.op.origin, sizeof h.op.origin, "ill-1");
    assert_hash_changes(&base, &h, "store/origin boundary");

    static const uint64_t seqs[] = {6, 8, 7 + 128, UINT64_MAX};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(seqs); i++) {
        copy_hash_case(&h, &base);
        h.op.seq = seqs[i];
        assert_hash_changes(&base, &h, "seq");
    }
    copy_hash_case(&h, &base);
    h.op.hlc += 1;
    assert_hash_changes(&base, &h, "hlc logical");
    copy_hash_case(&h, &base);
    h.op.hlc += UINT64_C(1) << 16;
    assert_hash_changes(&base, &h, "hlc physical");

    for (int k = 0; k < 256; k++) {
        if (k == OP_SALE)
            continue;
        copy_hash_case(&h, &base);
        h.op.kind = (uint8_t)k;
        assert_hash_changes(&base, &h, "kind");
    }

    for (size_t i = 0; i < sizeof base.payload; i++) {
        for (int bit = 0; bit < 8; bit++) {
            copy_hash_case(&h, &base);
            h.payload[i] ^= (uint8_t)(1u << bit);
            assert_hash_changes(&base, &h, "payload byte");
        }
    }
    /* Shorter payload (a prefix). */
    for (size_t len = 0; len < sizeof base.payload; len++) {
        copy_hash_case(&h, &base);
        h.op.payload_len = len;
        assert_hash_changes(&base, &h, "payload length");
    }

    for (int i = 0; i < OPLOG_HASH_SIZE; i++) {
        copy_hash_case(&h, &base);
        h.prev[i] ^= 0x80;
        assert_hash_changes(&base, &h, "prev hash byte");
    }

    /* The stored hash itself is not an input. */
    copy_hash_case(&h, &base);
    memset(h.op.hash, 0xee, sizeof h.op.hash);
    uint8_t a[OPLOG_HASH_SIZE], b[OPLOG_HASH_SIZE];
    hash_of(&base, a);
    hash_of(&h, b);
    assert_memory_equal(a, b, OPLOG_HASH_SIZE);
}

static void test_hash_chain(void **state)
{
    (void)state;
    /* A chain of 20 ops: each verifies against its predecessor only. */
    oplog_op ops[20];
    uint8_t payloads[20][4];
    uint8_t prev[OPLOG_HASH_SIZE] = {0};
    for (int i = 0; i < 20; i++) {
        memset(&ops[i], 0, sizeof ops[i]);
        snprintf(ops[i].origin, sizeof ops[i].origin, "n1");
        ops[i].seq = (uint64_t)i + 1;
        ops[i].hlc = hlc_make(1000 + (uint64_t)i, 0);
        ops[i].kind = OP_SETTING_SET;
        memcpy(payloads[i], "\x01k\x01v", 4);
        payloads[i][3] = (uint8_t)('a' + i);
        ops[i].payload = payloads[i];
        ops[i].payload_len = 4;
        oplog_hash("st", prev, &ops[i], ops[i].hash);
        memcpy(prev, ops[i].hash, OPLOG_HASH_SIZE);
    }
    uint8_t zero[OPLOG_HASH_SIZE] = {0};
    for (int i = 0; i < 20; i++) {
        const uint8_t *p = i ? ops[i - 1].hash : zero;
        assert_true(oplog_hash_ok("st", p, &ops[i]));
        if (i >= 2)
            assert_false(oplog_hash_ok("st", ops[i - 2].hash, &ops[i]));
        assert_false(oplog_hash_ok("other", p, &ops[i]));
    }
}

/* ---- sale ids ---- */

static void test_sale_id_format_parse(void **state)
{
    (void)state;
    static const struct {
        const char *origin;
        uint64_t seq;
        const char *id;
    } cases[] = {
        {"till1", 1, "till1-1"},
        {"node-a", 42, "node-a-42"},
        {"a-b-c-d", 1000000, "a-b-c-d-1000000"},
        {"-", 5, "--5"},
        {"x.y_z", 18, "x.y_z-18"},
        {"n", INT64_MAX, "n-9223372036854775807"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        oplog_sale_ref ref;
        memset(&ref, 0, sizeof ref);
        snprintf(ref.origin, sizeof ref.origin, "%s", cases[i].origin);
        ref.seq = cases[i].seq;
        char id[KASSA_ID_MAX + 24];
        oplog_sale_id(&ref, id, sizeof id);
        assert_string_equal(id, cases[i].id);

        oplog_sale_ref back;
        kassa_err err;
        memset(&back, 0x5a, sizeof back);
        if (oplog_parse_sale_id(id, &back, &err) != KASSA_OK)
            fail_msg("parse \"%s\": %s", id, err.msg);
        assert_string_equal(back.origin, cases[i].origin);
        assert_true(back.seq == cases[i].seq);
    }
    /* The longest origin. */
    oplog_sale_ref ref, back;
    repeat_char(ref.origin, 'o', KASSA_ID_MAX);
    ref.seq = 77;
    char id[KASSA_ID_MAX + 24];
    oplog_sale_id(&ref, id, sizeof id);
    assert_int_equal(oplog_parse_sale_id(id, &back, NULL), KASSA_OK);
    assert_string_equal(back.origin, ref.origin);
    assert_true(back.seq == 77);

    /* Formatting into a short buffer truncates, never overflows. */
    char small[5];
    oplog_sale_id(&ref, small, sizeof small);
    assert_int_equal(strlen(small), 4);
}

static void test_sale_id_rejects(void **state)
{
    (void)state;
    char longo[KASSA_ID_MAX + 8];
    repeat_char(longo, 'o', KASSA_ID_MAX + 1);
    strcat(longo, "-1");
    const char *const bad[] = {
        "",
        "-",
        "abc",
        "12",
        "abc-",
        "-5",
        "a-0",
        "a-00",
        "a-x",
        "a-5x",
        "a-x5",
        "a- 5",
        "a-+5",
        "a--5x",
        "a-5 ",
        "a b-5",
        "a/b-5",
        "a\tb-5",
        "\xc3\xa9-5",
        "a-99999999999999999999999",
        "a-18446744073709551616",
        longo,
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad); i++) {
        oplog_sale_ref ref;
        kassa_err err;
        kassa_err_clear(&err);
        int rc = oplog_parse_sale_id(bad[i], &ref, &err);
        if (rc != KASSA_EINVAL)
            fail_msg("sale id \"%s\" accepted (rc %d)", bad[i], rc);
        assert_int_equal(err.code, KASSA_EINVAL);
        assert_true(tu_contains(err.msg, "NODE-SEQ"));
    }
    assert_int_equal(oplog_parse_sale_id("nope", &(oplog_sale_ref){{0}, 0}, NULL), KASSA_EINVAL);
}

/* ---- version vectors ---- */

static char *vv_text(const oplog_vv *vv)
{
    kbuf b;
    kbuf_init(&b);
    oplog_vv_format(vv, &b);
    kbuf_put_u8(&b, 0);
    assert_false(b.oom);
    return (char *)b.data;
}

static void test_vv_set_get_sorted(void **state)
{
    (void)state;
    oplog_vv vv;
    oplog_vv_init(&vv);
    assert_int_equal(vv.n, 0);
    assert_true(oplog_vv_get(&vv, "a") == 0);

    static const char *const origins[] = {"m", "c", "z", "a", "b-2", "b-10", "B", "0", "m.1"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(origins); i++)
        assert_int_equal(oplog_vv_set(&vv, origins[i], (uint64_t)i + 1, NULL), KASSA_OK);
    assert_int_equal(vv.n, KASSA_ARRAY_LEN(origins));
    for (size_t i = 0; i < KASSA_ARRAY_LEN(origins); i++)
        assert_true(oplog_vv_get(&vv, origins[i]) == i + 1);
    /* Sorted by strcmp (byte order). */
    for (size_t i = 1; i < vv.n; i++)
        assert_true(strcmp(vv.e[i - 1].origin, vv.e[i].origin) < 0);
    assert_string_equal(vv.e[0].origin, "0");
    assert_string_equal(vv.e[1].origin, "B");
    assert_string_equal(vv.e[vv.n - 1].origin, "z");
    assert_true(oplog_vv_get(&vv, "missing") == 0);
    assert_true(oplog_vv_get(&vv, "b") == 0);

    /* Updating keeps one entry, and may lower the value (the caller
     * decides). */
    assert_int_equal(oplog_vv_set(&vv, "c", 1000, NULL), KASSA_OK);
    assert_int_equal(vv.n, KASSA_ARRAY_LEN(origins));
    assert_true(oplog_vv_get(&vv, "c") == 1000);
    assert_int_equal(oplog_vv_set(&vv, "c", 3, NULL), KASSA_OK);
    assert_true(oplog_vv_get(&vv, "c") == 3);
    assert_int_equal(oplog_vv_set(&vv, "big", UINT64_MAX, NULL), KASSA_OK);
    assert_true(oplog_vv_get(&vv, "big") == UINT64_MAX);

    /* Invalid ids are refused and change nothing. */
    kassa_err err;
    size_t n = vv.n;
    assert_int_equal(oplog_vv_set(&vv, "", 1, &err), KASSA_EINVAL);
    assert_int_equal(oplog_vv_set(&vv, "a b", 1, &err), KASSA_EINVAL);
    char longo[KASSA_ID_MAX + 2];
    repeat_char(longo, 'x', KASSA_ID_MAX + 1);
    assert_int_equal(oplog_vv_set(&vv, longo, 1, &err), KASSA_EINVAL);
    assert_int_equal(err.code, KASSA_EINVAL);
    assert_int_equal(vv.n, n);
    oplog_vv_free(&vv);
    assert_int_equal(vv.n, 0);
    assert_null(vv.e);
    oplog_vv_free(&vv);
}

static void test_vv_random_against_model(void **state)
{
    (void)state;
    /* Insert in random order, compare with a simple model. */
    enum { N = 300 };
    static char names[N][16];
    static uint64_t model[N];
    oplog_vv vv;
    oplog_vv_init(&vv);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "n%d", i);
        model[i] = 0;
    }
    for (int step = 0; step < 3000; step++) {
        int i = (int)rng_range(0, N - 1);
        uint64_t seq = (uint64_t)rng_range(1, 1000000);
        assert_int_equal(oplog_vv_set(&vv, names[i], seq, NULL), KASSA_OK);
        model[i] = seq;
    }
    size_t present = 0;
    for (int i = 0; i < N; i++) {
        assert_true(oplog_vv_get(&vv, names[i]) == model[i]);
        present += model[i] != 0;
    }
    assert_int_equal(vv.n, present);
    for (size_t i = 1; i < vv.n; i++)
        assert_true(strcmp(vv.e[i - 1].origin, vv.e[i].origin) < 0);
    oplog_vv_free(&vv);
}

static void test_vv_limit(void **state)
{
    (void)state;
    oplog_vv vv;
    oplog_vv_init(&vv);
    char name[16];
    /* Ascending names: appends, so this stays linear. */
    for (int i = 0; i < OPLOG_VV_MAX; i++) {
        snprintf(name, sizeof name, "n%05d", i);
        assert_int_equal(oplog_vv_set(&vv, name, 1, NULL), KASSA_OK);
    }
    assert_int_equal(vv.n, OPLOG_VV_MAX);
    kassa_err err;
    assert_int_equal(oplog_vv_set(&vv, "zzz", 1, &err), KASSA_EOVERFLOW);
    assert_int_equal(err.code, KASSA_EOVERFLOW);
    /* Existing origins can still be updated. */
    assert_int_equal(oplog_vv_set(&vv, "n00000", 9, NULL), KASSA_OK);
    assert_true(oplog_vv_get(&vv, "n00000") == 9);

    /* A text with one origin too many is refused. */
    char *text = vv_text(&vv);
    size_t len = strlen(text);
    oplog_vv back;
    assert_int_equal(oplog_vv_parse(text, len, &back, NULL), KASSA_OK);
    assert_int_equal(back.n, OPLOG_VV_MAX);
    oplog_vv_free(&back);
    char *more = malloc(len + 16);
    assert_non_null(more);
    memcpy(more, text, len);
    memcpy(more + len, "zzz 1\n", 6);
    assert_int_equal(oplog_vv_parse(more, len + 6, &back, &err), KASSA_EOVERFLOW);
    assert_int_equal(back.n, 0);
    assert_null(back.e);
    free(more);
    free(text);
    oplog_vv_free(&vv);
}

static void test_vv_format_parse(void **state)
{
    (void)state;
    oplog_vv vv, back;
    oplog_vv_init(&vv);
    char *empty = vv_text(&vv);
    assert_string_equal(empty, "");
    free(empty);
    assert_int_equal(oplog_vv_set(&vv, "till-2", 17, NULL), KASSA_OK);
    assert_int_equal(oplog_vv_set(&vv, "till-1", 3, NULL), KASSA_OK);
    assert_int_equal(oplog_vv_set(&vv, "cloud", OPLOG_SEQ_MAX, NULL), KASSA_OK);
    char longo[KASSA_ID_MAX + 1];
    repeat_char(longo, 'L', KASSA_ID_MAX);
    assert_int_equal(oplog_vv_set(&vv, longo, 1, NULL), KASSA_OK);
    char *text = vv_text(&vv);
    char want[256];
    snprintf(want, sizeof want, "%s 1\ncloud 9223372036854775807\ntill-1 3\ntill-2 17\n", longo);
    assert_string_equal(text, want);

    kassa_err err;
    assert_int_equal(oplog_vv_parse(text, strlen(text), &back, &err), KASSA_OK);
    assert_int_equal(back.n, vv.n);
    for (size_t i = 0; i < vv.n; i++) {
        assert_string_equal(back.e[i].origin, vv.e[i].origin);
        assert_true(back.e[i].seq == vv.e[i].seq);
    }
    char *again = vv_text(&back);
    assert_string_equal(again, text);
    free(again);
    oplog_vv_free(&back);
    free(text);
    oplog_vv_free(&vv);

    /* Accepted variations: any order, CRLF, blank lines, no final newline,
     * extra blanks between and after the fields, only the given length. */
    static const struct {
        const char *text;
        size_t n;
        const char *origins[3];
        uint64_t seqs[3];
    } ok[] = {
        {"", 0, {0}, {0}},
        {"\n\n\r\n", 0, {0}, {0}},
        {"b 2\na 1\n", 2, {"a", "b"}, {1, 2}},
        {"b 2\r\na 1\r\n", 2, {"a", "b"}, {1, 2}},
        {"b 2\n\na 1", 2, {"a", "b"}, {1, 2}},
        {"a   7  \n", 1, {"a"}, {7}},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(ok); i++) {
        if (oplog_vv_parse(ok[i].text, strlen(ok[i].text), &back, &err) != KASSA_OK)
            fail_msg("vv \"%s\": %s", ok[i].text, err.msg);
        assert_int_equal(back.n, ok[i].n);
        for (size_t j = 0; j < ok[i].n; j++) {
            assert_string_equal(back.e[j].origin, ok[i].origins[j]);
            assert_true(back.e[j].seq == ok[i].seqs[j]);
        }
        oplog_vv_free(&back);
    }
    /* The length bounds the text: "a 12" cut to "a 1". */
    assert_int_equal(oplog_vv_parse("a 12", 3, &back, NULL), KASSA_OK);
    assert_true(oplog_vv_get(&back, "a") == 1);
    oplog_vv_free(&back);
}

static void test_vv_parse_rejects(void **state)
{
    (void)state;
    char longo[80], longline[120];
    repeat_char(longo, 'x', KASSA_ID_MAX + 1);
    strcat(longo, " 1\n");
    repeat_char(longline, '1', 100);
    memcpy(longline, "a ", 2);
    const struct {
        const char *text;
        size_t len;
        unsigned line;
    } bad[] = {
        {"a\n", 0, 1},
        {"7\n", 0, 1},
        {"a b\n", 0, 1},
        {"a 1 2\n", 0, 1},
        {"a 1x\n", 0, 1},
        {"a 0x10\n", 0, 1},
        {"a 1.5\n", 0, 1},
        /* Invalid characters: rejected by oplog_vv_set, whose message
         * names the id but not the line (line 0: not checked). */
        {"a/b 1\n", 0, 0},
        {"b 1\na:b 1\n", 0, 0},
        {"b 1\na 2\nb 3\n", 0, 3},
        {"a 1\na 1\n", 0, 2},
        {"ok 1\n\nbad\n", 0, 3},
        {"a 1\0\n", 5, 1},
        {"\0a 1\n", 5, 1},
        {longo, 0, 1},
        {longline, 0, 1},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad); i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
        oplog_vv vv;
        kassa_err err;
        kassa_err_clear(&err);
        memset(&vv, 0x5a, sizeof vv);
        int rc = oplog_vv_parse(bad[i].text, len, &vv, &err);
        if (rc != KASSA_EINVAL)
            fail_msg("vv text %zu accepted (rc %d)", i, rc);
        assert_int_equal(err.code, KASSA_EINVAL);
        char want[32];
        snprintf(want, sizeof want, "line %u", bad[i].line);
        if (bad[i].line && !tu_contains(err.msg, want))
            fail_msg("vv text %zu: message \"%s\" does not name %s", i, err.msg, want);
        /* Nothing is left allocated on failure. */
        assert_int_equal(vv.n, 0);
        assert_null(vv.e);
        /* NULL err works too. */
        assert_int_equal(oplog_vv_parse(bad[i].text, len, &vv, NULL), KASSA_EINVAL);
    }
    /* Separators are runs of spaces or tabs, however long: "a", 61 or 62
     * spaces, "5". */
    static const size_t widths[] = {63, 64};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(widths); i++) {
        char line[80];
        repeat_char(line, ' ', widths[i]);
        line[0] = 'a';
        line[widths[i] - 1] = '5';
        oplog_vv vv;
        assert_int_equal(oplog_vv_parse(line, widths[i], &vv, NULL), KASSA_OK);
        assert_true(oplog_vv_get(&vv, "a") == 5);
        oplog_vv_free(&vv);
    }
}

/* Sequence numbers are plain decimal 1..INT64_MAX: no sign, no zero, no
 * overflow, each origin once. */
static void test_vv_parse_rejects_bad_seq(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "a -1\n",
        "a +5\n",
        "a 99999999999999999999\n",
        "a 9223372036854775808\n",
        "a 0\n",
        "a 0\na 5\n",
        "a 05\n",
        "a 5 6\n",
        "a 5\na 6\n",
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad); i++) {
        oplog_vv vv;
        kassa_err err;
        if (oplog_vv_parse(bad[i], strlen(bad[i]), &vv, &err) == KASSA_OK)
            fail_msg("oplog_vv_parse accepted \"%.*s\"", (int)strcspn(bad[i], "\n"), bad[i]);
        assert_int_equal(err.code, KASSA_EINVAL);
        assert_null(strchr(err.msg, '\n'));
    }
}

/* ---- export files ---- */

typedef struct {
    size_t n;
    oplog_op ops[64];
    kbuf payloads[64];
} op_set;

/* Builds n valid ops over several origins and kinds, hash-chained per
 * origin. */
static void make_ops(op_set *s, size_t n, const char *store)
{
    sample_payload samples[64];
    size_t ns = make_samples(samples, KASSA_ARRAY_LEN(samples));
    assert_true(n <= KASSA_ARRAY_LEN(s->ops));
    static const char *const origins[] = {"till-1", "till-2", "office"};
    uint8_t prev[3][OPLOG_HASH_SIZE];
    uint64_t seq[3] = {0, 0, 0};
    memset(prev, 0, sizeof prev);
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        size_t o = i % 3;
        sample_payload *p = &samples[(i * 5) % ns];
        kbuf_init(&s->payloads[i]);
        kbuf_put(&s->payloads[i], p->b.data, p->b.len);
        oplog_op *op = &s->ops[i];
        memset(op, 0, sizeof *op);
        snprintf(op->origin, sizeof op->origin, "%s", origins[o]);
        op->seq = ++seq[o];
        op->hlc = hlc_make(UINT64_C(1700000000000) + i * 1000, (uint32_t)i);
        op->kind = (uint8_t)p->kind;
        op->payload = s->payloads[i].data;
        op->payload_len = s->payloads[i].len;
        oplog_hash(store, prev[o], op, op->hash);
        memcpy(prev[o], op->hash, OPLOG_HASH_SIZE);
    }
    free_samples(samples, ns);
}

static void free_ops(op_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        kbuf_free(&s->payloads[i]);
}

static void write_file(const op_set *s, const char *store, kbuf *out)
{
    oplog_file_writer w;
    oplog_file_begin(&w, store);
    for (size_t i = 0; i < s->n; i++)
        oplog_file_add(&w, &s->ops[i]);
    kassa_err err;
    assert_int_equal(oplog_file_finish(&w, &err), KASSA_OK);
    *out = w.buf; /* take the buffer */
}

static void assert_ops_eq(const oplog_op *a, const oplog_op *b)
{
    assert_string_equal(a->origin, b->origin);
    assert_true(a->seq == b->seq);
    assert_true(a->hlc == b->hlc);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->payload_len, b->payload_len);
    if (a->payload_len)
        assert_memory_equal(a->payload, b->payload, a->payload_len);
    assert_memory_equal(a->hash, b->hash, OPLOG_HASH_SIZE);
}

/* Parses from an exact-size heap copy, so ASan sees any read past the end. */
static int parse_copy(const uint8_t *data, size_t len, oplog_file *f, kassa_err *err,
                      uint8_t **copy)
{
    *copy = malloc(len ? len : 1);
    assert_non_null(*copy);
    if (len)
        memcpy(*copy, data, len);
    return oplog_file_parse(*copy, len, f, err);
}

/* Parses and expects failure with `code`, nothing allocated, and a one-line
 * printable message, which is copied to msg_out when non-NULL. */
static void expect_file_error_msg(const uint8_t *data, size_t len, int code, const char *what,
                                  char *msg_out)
{
    oplog_file f;
    kassa_err err;
    kassa_err_clear(&err);
    uint8_t *copy;
    memset(&f, 0x5a, sizeof f);
    int rc = parse_copy(data, len, &f, &err, &copy);
    free(copy);
    if (rc != code)
        fail_msg("%s: parse returned %d (%s), want %d", what, rc, err.msg, code);
    assert_int_equal(err.code, code);
    assert_true(err.msg[0] != '\0');
    for (const char *m = err.msg; *m; m++)
        if ((unsigned char)*m < 0x20 || *m == 0x7f)
            fail_msg("%s: message has control byte 0x%02x: \"%s\"", what, (unsigned char)*m,
                     err.msg);
    assert_null(f.ops);
    assert_int_equal(f.n_ops, 0);
    oplog_file_free(&f);
    if (msg_out)
        memcpy(msg_out, err.msg, sizeof err.msg);
}

static void expect_file_error(const uint8_t *data, size_t len, int code, const char *what)
{
    expect_file_error_msg(data, len, code, what, NULL);
}

/* Replaces the trailing checksum with a correct one for the body. */
static void reseal(kbuf *b)
{
    assert_true(b->len >= OPLOG_HASH_SIZE);
    crypto_generichash(b->data + b->len - OPLOG_HASH_SIZE, OPLOG_HASH_SIZE, b->data,
                       b->len - OPLOG_HASH_SIZE, NULL, 0);
}

/* Appends a correct checksum of everything before it. */
static void seal(kbuf *b)
{
    static const uint8_t zero[OPLOG_HASH_SIZE];
    kbuf_put(b, zero, sizeof zero);
    reseal(b);
}

/* A copy of file with n bytes of its body at pos replaced, and a correct
 * checksum again, must fail to parse (see expect_file_error_msg). */
static void expect_patched_error(const kbuf *file, size_t pos, const void *bytes, size_t n,
                                 int code, const char *what, char *msg_out)
{
    assert_true(file->len >= OPLOG_HASH_SIZE && pos + n <= file->len - OPLOG_HASH_SIZE);
    kbuf b;
    kbuf_init(&b);
    kbuf_put(&b, file->data, file->len);
    memcpy(b.data + pos, bytes, n);
    reseal(&b);
    expect_file_error_msg(b.data, b.len, code, what, msg_out);
    kbuf_free(&b);
}

/* A file of n valid ops from make_ops. */
static void make_file(size_t n, const char *store, kbuf *file)
{
    op_set *s = malloc(sizeof *s);
    assert_non_null(s);
    make_ops(s, n, store);
    write_file(s, store, file);
    free_ops(s);
    free(s);
}

static void test_file_round_trip(void **state)
{
    (void)state;
    static const size_t counts[] = {0, 1, 2, 7, 64};
    for (size_t k = 0; k < KASSA_ARRAY_LEN(counts); k++) {
        op_set *s = malloc(sizeof *s);
        assert_non_null(s);
        make_ops(s, counts[k], "store-main");
        kbuf file;
        write_file(s, "store-main", &file);
        /* Layout: magic, version, store id, u32 count, ..., checksum. */
        assert_memory_equal(file.data, "KASSAOPS", 8);
        assert_int_equal(file.data[8], OPLOG_FILE_VERSION);
        assert_int_equal(file.data[9], strlen("store-main"));
        size_t cpos = 10 + strlen("store-main");
        uint32_t count = (uint32_t)file.data[cpos] | (uint32_t)file.data[cpos + 1] << 8 |
                         (uint32_t)file.data[cpos + 2] << 16 | (uint32_t)file.data[cpos + 3] << 24;
        assert_int_equal(count, counts[k]);

        oplog_file f;
        kassa_err err;
        uint8_t *copy;
        if (parse_copy(file.data, file.len, &f, &err, &copy) != KASSA_OK)
            fail_msg("parse of %zu ops: %s", counts[k], err.msg);
        assert_string_equal(f.store_id, "store-main");
        assert_int_equal(f.n_ops, counts[k]);
        assert_non_null(f.ops);
        for (size_t i = 0; i < f.n_ops; i++) {
            assert_ops_eq(&s->ops[i], &f.ops[i]);
            /* Payloads are borrowed from the input bytes. */
            assert_true(f.ops[i].payload >= copy && f.ops[i].payload < copy + file.len);
        }
        /* Hash chains survive the trip. */
        uint8_t prev[3][OPLOG_HASH_SIZE];
        memset(prev, 0, sizeof prev);
        for (size_t i = 0; i < f.n_ops; i++) {
            assert_true(oplog_hash_ok(f.store_id, prev[i % 3], &f.ops[i]));
            memcpy(prev[i % 3], f.ops[i].hash, OPLOG_HASH_SIZE);
        }
        /* Re-encoding the parsed ops gives the same file. */
        op_set again;
        again.n = f.n_ops;
        memcpy(again.ops, f.ops, f.n_ops * sizeof *f.ops);
        kbuf file2;
        write_file(&again, f.store_id, &file2);
        assert_int_equal(file2.len, file.len);
        assert_memory_equal(file2.data, file.data, file.len);
        kbuf_free(&file2);
        oplog_file_free(&f);
        assert_null(f.ops);
        assert_int_equal(f.n_ops, 0);
        oplog_file_free(&f);
        free(copy);
        kbuf_free(&file);
        free_ops(s);
        free(s);
    }
}

static void test_file_rejects_header(void **state)
{
    (void)state;
    kbuf file;
    make_file(3, "st", &file);

    /* Wrong magic, even with a correct checksum. */
    for (size_t i = 0; i < 8; i++) {
        uint8_t lower = (uint8_t)tolower(file.data[i]);
        expect_patched_error(&file, i, &lower, 1, KASSA_ECORRUPT, "wrong magic", NULL);
    }
    /* Unsupported versions. */
    static const uint8_t versions[] = {0, 2, 3, 0x7f, 0xff};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(versions); i++) {
        char msg[KASSA_ERR_MSG_SIZE];
        expect_patched_error(&file, 8, &versions[i], 1, KASSA_EVERSION, "unsupported version", msg);
        assert_true(tu_contains(msg, "version"));
    }
    /* Invalid store ids in the header (with correct checksums). */
    static const char *const bad_stores[] = {"", "a b", "a/b"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad_stores); i++) {
        oplog_file_writer w;
        oplog_file_begin(&w, bad_stores[i]);
        assert_int_equal(oplog_file_finish(&w, NULL), KASSA_OK);
        expect_file_error(w.buf.data, w.buf.len, KASSA_ECORRUPT, "bad store id");
        oplog_file_writer_free(&w);
    }
    char longs[KASSA_ID_MAX + 2];
    repeat_char(longs, 's', KASSA_ID_MAX + 1);
    oplog_file_writer w;
    oplog_file_begin(&w, longs);
    assert_int_equal(oplog_file_finish(&w, NULL), KASSA_OK);
    expect_file_error(w.buf.data, w.buf.len, KASSA_ECORRUPT, "store id too long");
    oplog_file_writer_free(&w);

    /* Too short to be a file at all. */
    expect_file_error((const uint8_t *)"", 0, KASSA_ECORRUPT, "empty");
    expect_file_error(file.data, 8, KASSA_ECORRUPT, "magic only");
    uint8_t tiny[8 + 1 + OPLOG_HASH_SIZE];
    memcpy(tiny, "KASSAOPS", 8);
    tiny[8] = OPLOG_FILE_VERSION;
    crypto_generichash(tiny + 9, OPLOG_HASH_SIZE, tiny, 9, NULL, 0);
    expect_file_error(tiny, sizeof tiny, KASSA_ECORRUPT, "header without store or count");

    kbuf_free(&file);
}

static void test_file_rejects_flipped_bytes(void **state)
{
    (void)state;
    kbuf file;
    make_file(5, "store-x", &file);
    for (size_t i = 0; i < file.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            file.data[i] ^= (uint8_t)(1u << bit);
            /* The version byte is read before the checksum. */
            int want = i == 8 ? KASSA_EVERSION : KASSA_ECORRUPT;
            char what[128];
            snprintf(what, sizeof what, "byte %zu bit %d flipped", i, bit);
            expect_file_error(file.data, file.len, want, what);
            file.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Restored: parses again. */
    oplog_file f;
    assert_int_equal(oplog_file_parse(file.data, file.len, &f, NULL), KASSA_OK);
    oplog_file_free(&f);
    kbuf_free(&file);
}

static void test_file_rejects_truncation(void **state)
{
    (void)state;
    kbuf file;
    make_file(6, "store-t", &file);
    for (size_t len = 0; len < file.len; len++) {
        char what[128];
        snprintf(what, sizeof what, "truncated to %zu of %zu", len, file.len);
        expect_file_error(file.data, len, KASSA_ECORRUPT, what);
    }
    /* Truncated and then given a valid checksum: the structure check
     * catches what the checksum no longer can. Cut at every length of the
     * body, keep a checksum over what is left. */
    size_t body = file.len - OPLOG_HASH_SIZE;
    for (size_t len = 8 + 1; len < body; len++) {
        kbuf b;
        kbuf_init(&b);
        kbuf_put(&b, file.data, len);
        seal(&b);
        char what[128];
        snprintf(what, sizeof what, "body cut to %zu of %zu, resealed", len, body);
        expect_file_error(b.data, b.len, KASSA_ECORRUPT, what);
        kbuf_free(&b);
    }
    kbuf_free(&file);
}

static size_t count_pos(const char *store)
{
    return 8 + 1 + 1 + strlen(store);
}

static void le32(uint8_t out[4], uint32_t v)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static void test_file_rejects_counts(void **state)
{
    (void)state;
    kbuf file;
    make_file(4, "st", &file);
    size_t pos = count_pos("st");

    static const uint32_t counts[] = {
        0, 1, 3, 5, 6, 100, OPLOG_FILE_MAX_OPS, OPLOG_FILE_MAX_OPS + 1, UINT32_MAX};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(counts); i++) {
        uint8_t count[4];
        le32(count, counts[i]);
        char what[128];
        snprintf(what, sizeof what, "count %u for 4 ops", counts[i]);
        /* Fewer: trailing bytes; more: runs out of data. */
        expect_patched_error(&file, pos, count, 4, KASSA_ECORRUPT, what, NULL);
    }
    /* A huge count with no data does not allocate for it. */
    oplog_file_writer w;
    oplog_file_begin(&w, "st");
    assert_int_equal(oplog_file_finish(&w, NULL), KASSA_OK);
    uint8_t count[4];
    le32(count, OPLOG_FILE_MAX_OPS);
    char msg[KASSA_ERR_MSG_SIZE];
    expect_patched_error(&w.buf, pos, count, 4, KASSA_ECORRUPT, "huge count, no ops", msg);
    assert_true(tu_contains(msg, "count"));
    oplog_file_writer_free(&w);

    kbuf_free(&file);
}

static void test_file_rejects_trailing_bytes(void **state)
{
    (void)state;
    kbuf file;
    make_file(3, "st", &file);
    size_t body = file.len - OPLOG_HASH_SIZE;
    static const size_t extra[] = {1, 2, 37, 38, 100};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(extra); i++) {
        kbuf b;
        kbuf_init(&b);
        kbuf_put(&b, file.data, body);
        for (size_t j = 0; j < extra[i]; j++)
            kbuf_put_u8(&b, (uint8_t)j);
        seal(&b);
        char msg[KASSA_ERR_MSG_SIZE];
        expect_file_error_msg(b.data, b.len, KASSA_ECORRUPT, "trailing bytes", msg);
        assert_true(tu_contains(msg, "trailing"));
        kbuf_free(&b);
    }
    /* Bytes after the checksum break the checksum. */
    kbuf b;
    kbuf_init(&b);
    kbuf_put(&b, file.data, file.len);
    kbuf_put_u8(&b, 0);
    expect_file_error(b.data, b.len, KASSA_ECORRUPT, "byte after checksum");
    kbuf_free(&b);
    kbuf_free(&file);
}

/* Files with a correct checksum holding one bad op, first, in the middle
 * and last: built with the writer, which does not validate. A bad payload
 * is reported as "origin/seq: reason", a bad op structure by position. */
static void expect_bad_op_file(const oplog_op *bad, const char *what, bool payload_error)
{
    op_set *s = malloc(sizeof *s);
    assert_non_null(s);
    make_ops(s, 3, "st");
    for (size_t pos = 0; pos < 3; pos++) {
        oplog_file_writer w;
        oplog_file_begin(&w, "st");
        for (size_t i = 0; i < 3; i++)
            oplog_file_add(&w, i == pos ? bad : &s->ops[i]);
        assert_int_equal(oplog_file_finish(&w, NULL), KASSA_OK);
        char msg[KASSA_ERR_MSG_SIZE], want[96];
        char label[160];
        snprintf(label, sizeof label, "%s (op %zu of 3)", what, pos + 1);
        expect_file_error_msg(w.buf.data, w.buf.len, KASSA_ECORRUPT, label, msg);
        if (payload_error)
            snprintf(want, sizeof want, "operation %s/%llu: ", bad->origin,
                     (unsigned long long)bad->seq);
        else
            snprintf(want, sizeof want, "operation %zu is malformed", pos + 1);
        if (!tu_contains(msg, want))
            fail_msg("%s: message \"%s\" does not contain \"%s\"", label, msg, want);
        oplog_file_writer_free(&w);
    }
    free_ops(s);
    free(s);
}

static void test_file_rejects_bad_ops(void **state)
{
    (void)state;
    static const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01};
    oplog_op op;
    memset(&op, 0, sizeof op);
    snprintf(op.origin, sizeof op.origin, "till-9");
    op.seq = 1;
    op.hlc = 12345;
    op.payload = garbage;
    op.payload_len = sizeof garbage;
    for (int k = 0; k <= 255; k++) {
        op.kind = (uint8_t)k;
        char what[128];
        snprintf(what, sizeof what, "garbage payload, kind %d", k);
        expect_bad_op_file(&op, what, true);
    }

    /* A valid payload under the wrong kind. */
    oplog_setting set = sample_setting("k", "v");
    kbuf pb;
    kbuf_init(&pb);
    oplog_encode_setting(&pb, &set);
    op.payload = pb.data;
    op.payload_len = pb.len;
    op.kind = OP_SETTING_SET;
    {
        /* Sanity: this op on its own is fine. */
        oplog_file_writer w;
        oplog_file_begin(&w, "st");
        oplog_file_add(&w, &op);
        assert_int_equal(oplog_file_finish(&w, NULL), KASSA_OK);
        oplog_file f;
        assert_int_equal(oplog_file_parse(w.buf.data, w.buf.len, &f, NULL), KASSA_OK);
        oplog_file_free(&f);
        oplog_file_writer_free(&w);
    }
    op.kind = OP_SALE;
    expect_bad_op_file(&op, "setting payload as a sale", true);
    op.kind = 0;
    expect_bad_op_file(&op, "kind 0", true);
    op.kind = OP_KIND_MAX + 1;
    expect_bad_op_file(&op, "kind OP_KIND_MAX + 1", true);
    op.kind = OP_SETTING_SET;

    /* Empty payload. */
    op.payload_len = 0;
    expect_bad_op_file(&op, "empty payload", true);
    op.payload_len = pb.len;

    /* seq 0, bad origins. */
    op.seq = 0;
    expect_bad_op_file(&op, "seq 0", false);
    op.seq = 1;
    op.origin[0] = '\0';
    expect_bad_op_file(&op, "empty origin", false);
    snprintf(op.origin, sizeof op.origin, "a b");
    expect_bad_op_file(&op, "origin with space", false);
    snprintf(op.origin, sizeof op.origin, "till-9");

    /* A payload over OPLOG_PAYLOAD_MAX. */
    uint8_t *big = calloc(1, OPLOG_PAYLOAD_MAX + 1);
    assert_non_null(big);
    op.payload = big;
    op.payload_len = OPLOG_PAYLOAD_MAX + 1;
    expect_bad_op_file(&op, "payload too large", false);
    free(big);
    kbuf_free(&pb);
}

static void test_file_writer_errors(void **state)
{
    (void)state;
    oplog_file_writer w;
    kassa_err err;
    oplog_file_begin(&w, "st");
    w.count = (uint64_t)OPLOG_FILE_MAX_OPS + 1;
    assert_int_equal(oplog_file_finish(&w, &err), KASSA_EOVERFLOW);
    assert_int_equal(err.code, KASSA_EOVERFLOW);
    oplog_file_writer_free(&w);

    oplog_file_begin(&w, "st");
    w.buf.oom = true; /* as if an append had failed */
    assert_int_equal(oplog_file_finish(&w, &err), KASSA_ENOMEM);
    assert_int_equal(err.code, KASSA_ENOMEM);
    oplog_file_writer_free(&w);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_catalog_round_trip_all_field_sets),
        cmocka_unit_test(test_catalog_round_trip_limits),
        cmocka_unit_test(test_sale_round_trip),
        cmocka_unit_test(test_sale_round_trip_random),
        cmocka_unit_test(test_void_round_trip),
        cmocka_unit_test(test_return_round_trip),
        cmocka_unit_test(test_stock_round_trip),
        cmocka_unit_test(test_setting_round_trip),
        cmocka_unit_test(test_cashier_round_trip),
        cmocka_unit_test(test_audit_round_trip),
        cmocka_unit_test(test_payload_truncated_at_every_length),
        cmocka_unit_test(test_payload_trailing_bytes),
        cmocka_unit_test(test_validate_payload_kinds),
        cmocka_unit_test(test_catalog_rejects),
        cmocka_unit_test(test_sale_rejects_amounts),
        cmocka_unit_test(test_sale_rejects_structure),
        cmocka_unit_test(test_void_rejects),
        cmocka_unit_test(test_return_rejects),
        cmocka_unit_test(test_stock_rejects),
        cmocka_unit_test(test_setting_rejects),
        cmocka_unit_test(test_cashier_rejects),
        cmocka_unit_test(test_audit_rejects),
        cmocka_unit_test(test_hash_reference_and_ok),
        cmocka_unit_test(test_hash_covers_every_field),
        cmocka_unit_test(test_hash_chain),
        cmocka_unit_test(test_sale_id_format_parse),
        cmocka_unit_test(test_sale_id_rejects),
        cmocka_unit_test(test_vv_set_get_sorted),
        cmocka_unit_test(test_vv_random_against_model),
        cmocka_unit_test(test_vv_limit),
        cmocka_unit_test(test_vv_format_parse),
        cmocka_unit_test(test_vv_parse_rejects),
        cmocka_unit_test(test_vv_parse_rejects_bad_seq),
        cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_file_rejects_header),
        cmocka_unit_test(test_file_rejects_flipped_bytes),
        cmocka_unit_test(test_file_rejects_truncation),
        cmocka_unit_test(test_file_rejects_counts),
        cmocka_unit_test(test_file_rejects_trailing_bytes),
        cmocka_unit_test(test_file_rejects_bad_ops),
        cmocka_unit_test(test_file_writer_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
