#include "testutil.h"
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pricing/pricing.h"

/* The oracle below recomputes the header's rules in 128-bit arithmetic, so it
 * cannot share an overflow bug with the int64 code it checks. */
__extension__ typedef __int128 i128;

/* ---- helpers ---- */

/* Fixed-seed xorshift64: the property tests are reproducible. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng_next(void)
{
    return tu_xorshift64(&rng_state);
}

/* Uniform-ish in lo..hi (inclusive); modulo bias is irrelevant here. */
static int64_t rng_range(int64_t lo, int64_t hi)
{
    return tu_range(rng_next(), lo, hi);
}

/* A value in 0..max with a random order of magnitude, so small amounts and
 * ones near the limit are both common. */
static int64_t rng_magnitude(int64_t max)
{
    int64_t cap = 1;
    int digits = (int)rng_range(0, 19);
    for (int i = 0; i < digits && cap <= max / 10; i++)
        cap *= 10;
    int64_t v = rng_range(0, cap);
    return v > max ? max : v;
}

static int64_t i128_round_half_up(i128 num, i128 den)
{
    /* Only used with num >= 0, den > 0. */
    return (int64_t)((2 * num + den) / (2 * den));
}

static pricing_line_in line(int64_t unit_price, int64_t qty, int32_t tax_bp,
                            pricing_discount_kind kind, int64_t value)
{
    pricing_line_in l = {unit_price, qty, tax_bp, kind, value};
    return l;
}

static void assert_money(int64_t minor, const char *want)
{
    char buf[MONEY_STR_SIZE];
    memset(buf, 'x', sizeof buf);
    money_format(minor, buf);
    assert_string_equal(buf, want);
}

static void assert_invariants(const pricing_line_out *out, size_t n, const pricing_totals *t)
{
    pricing_totals sum = {0};
    for (size_t i = 0; i < n; i++) {
        assert_true(out[i].gross >= 0);
        assert_true(out[i].discount >= 0);
        assert_true(out[i].discount <= out[i].gross);
        assert_int_equal(out[i].gross - out[i].discount, out[i].net);
        assert_true(out[i].tax >= 0);
        assert_int_equal(out[i].net + out[i].tax, out[i].total);
        assert_true(out[i].total >= 0);
        sum.gross += out[i].gross;
        sum.discount += out[i].discount;
        sum.subtotal += out[i].net;
        sum.tax += out[i].tax;
        sum.total += out[i].total;
    }
    assert_int_equal(sum.gross, t->gross);
    assert_int_equal(sum.discount, t->discount);
    assert_int_equal(sum.subtotal, t->subtotal);
    assert_int_equal(sum.tax, t->tax);
    assert_int_equal(sum.total, t->total);
    assert_int_equal(t->subtotal + t->tax, t->total);
    assert_int_equal(t->gross - t->discount, t->subtotal);
}

/* ---- money_parse ---- */

static void test_money_parse_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t want;
    } cases[] = {
        {"0", 0},
        {"12", 1200},
        {"12.3", 1230},
        {"12.34", 1234},
        {"0.05", 5},
        {"0.5", 50},
        {"0.00", 0},
        {"007.10", 710},
        {"99999999999.99", INT64_C(9999999999999)},
        {"100000000000", PRICING_AMOUNT_MAX},
        {"100000000000.00", PRICING_AMOUNT_MAX},
        {"0000000000000000000000000000000000000000000000000001.25", 125},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        int64_t v = -7;
        kassa_err err;
        kassa_err_clear(&err);
        assert_int_equal(money_parse(cases[i].s, &v, &err), KASSA_OK);
        assert_int_equal(v, cases[i].want);
    }
}

static void test_money_parse_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int code;
    } cases[] = {
        {"", KASSA_EINVAL},
        {".5", KASSA_EINVAL},
        {".", KASSA_EINVAL},
        {"12.", KASSA_EINVAL},
        {"-1", KASSA_EINVAL},
        {"+1", KASSA_EINVAL},
        {"-0", KASSA_EINVAL},
        {"1e3", KASSA_EINVAL},
        {" 12", KASSA_EINVAL},
        {"12 ", KASSA_EINVAL},
        {"12\n", KASSA_EINVAL},
        {"12.345", KASSA_EINVAL},
        {"12.340", KASSA_EINVAL},
        {"1,5", KASSA_EINVAL},
        {"1.2.3", KASSA_EINVAL},
        {"12..3", KASSA_EINVAL},
        {"abc", KASSA_EINVAL},
        {"0x10", KASSA_EINVAL},
        {"\xd9\xa1\xd9\xa2", KASSA_EINVAL},
        {"100000000000.01", KASSA_EOVERFLOW},
        {"100000000001", KASSA_EOVERFLOW},
        {"9223372036854775807", KASSA_EOVERFLOW},
        {"9223372036854775808", KASSA_EOVERFLOW},
        {"18446744073709551617", KASSA_EOVERFLOW},
        {"999999999999999999999999999999999999999999999999999999999999.99", KASSA_EOVERFLOW},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        int64_t v = -7;
        kassa_err err;
        kassa_err_clear(&err);
        assert_int_equal(money_parse(cases[i].s, &v, &err), cases[i].code);
        assert_int_equal(err.code, cases[i].code);
        assert_int_equal(v, -7); /* untouched on failure */
        assert_non_null(strstr(err.msg, "invalid amount \""));
        assert_null(strchr(err.msg, '\n'));
    }
}

static void test_money_parse_messages(void **state)
{
    (void)state;
    int64_t v;
    kassa_err err;
    assert_int_equal(money_parse("12.345", &v, &err), KASSA_EINVAL);
    assert_string_equal(err.msg, "invalid amount \"12.345\": at most two decimals");
    assert_int_equal(money_parse("", &v, &err), KASSA_EINVAL);
    assert_string_equal(err.msg, "invalid amount \"\": empty");
    assert_int_equal(money_parse("1,5", &v, &err), KASSA_EINVAL);
    assert_non_null(strstr(err.msg, "\"1,5\""));
    assert_int_equal(money_parse("100000000000.01", &v, &err), KASSA_EOVERFLOW);
    assert_string_equal(err.msg,
                        "invalid amount \"100000000000.01\": exceeds maximum 100000000000.00");
    /* A huge input is quoted only in part, and the message stays one line. */
    char big[4096];
    memset(big, '9', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(money_parse(big, &v, &err), KASSA_EOVERFLOW);
    assert_true(strlen(err.msg) < 120);
    assert_non_null(strstr(err.msg, "...\""));
    /* Control, quote and non-ASCII bytes are escaped: still one line. */
    assert_int_equal(money_parse("1\n2\"\\\xff", &v, &err), KASSA_EINVAL);
    assert_string_equal(err.msg, "invalid amount \"1\\x0a2\\x22\\x5c\\xff\": expected digits "
                                 "with an optional '.' and one or two decimals");
    /* A NULL error pointer is allowed. */
    assert_int_equal(money_parse("x", &v, NULL), KASSA_EINVAL);
}

/* Reference grammar: digits, then optionally '.' and 1..2 digits; value up
 * to PRICING_AMOUNT_MAX. Used against random strings. */
static int ref_money_parse(const char *s, int64_t *out)
{
    size_t i = 0, n = strlen(s);
    i128 v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        v = v * 10 + (s[i++] - '0');
    if (i == 0)
        return KASSA_EINVAL;
    int frac = 0;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (s[i++] - '0');
            frac++;
        }
        if (frac == 0 || frac > 2)
            return KASSA_EINVAL;
    }
    if (i != n)
        return KASSA_EINVAL;
    for (; frac < 2; frac++)
        v *= 10;
    if (v > PRICING_AMOUNT_MAX)
        return KASSA_EOVERFLOW;
    *out = (int64_t)v;
    return KASSA_OK;
}

static void test_money_parse_random_strings(void **state)
{
    (void)state;
    static const char alphabet[] = "0123456789000111..-+ e,x";
    rng_state = 0x1234567887654321u;
    for (int iter = 0; iter < 50000; iter++) {
        char s[24];
        int len = (int)rng_range(0, 18);
        /* Mostly digits so that many strings are valid. */
        for (int i = 0; i < len; i++)
            s[i] = rng_range(0, 3) ? (char)('0' + rng_range(0, 9))
                                   : alphabet[rng_range(0, (int64_t)sizeof alphabet - 2)];
        s[len] = '\0';
        int64_t want = 0, got = -1;
        int want_rc = ref_money_parse(s, &want);
        kassa_err err;
        int rc = money_parse(s, &got, &err);
        assert_int_equal(rc, want_rc);
        if (rc == KASSA_OK) {
            assert_int_equal(got, want);
            /* Canonical form parses back to the same amount. */
            char buf[MONEY_STR_SIZE];
            int64_t again = -1;
            money_format(got, buf);
            assert_int_equal(money_parse(buf, &again, &err), KASSA_OK);
            assert_int_equal(again, got);
        }
    }
}

/* ---- money_format ---- */

static void test_money_format(void **state)
{
    (void)state;
    assert_money(1234, "12.34");
    assert_money(5, "0.05");
    assert_money(50, "0.50");
    assert_money(100, "1.00");
    assert_money(-1234, "-12.34");
    assert_money(-5, "-0.05");
    assert_money(-100, "-1.00");
    assert_money(0, "0.00");
    assert_money(PRICING_AMOUNT_MAX, "100000000000.00");
    assert_money(INT64_MAX, "92233720368547758.07");
    assert_money(INT64_MIN, "-92233720368547758.08");
    assert_money(INT64_MIN + 1, "-92233720368547758.07");
    /* The longest output fits the buffer with its NUL. */
    char buf[MONEY_STR_SIZE];
    money_format(INT64_MIN, buf);
    assert_true(strlen(buf) < MONEY_STR_SIZE);
}

static void test_money_roundtrip(void **state)
{
    (void)state;
    rng_state = 0xDEADBEEFCAFEF00Du;
    for (int i = 0; i < 20000; i++) {
        int64_t v = rng_magnitude(PRICING_AMOUNT_MAX), back = -1;
        char buf[MONEY_STR_SIZE];
        kassa_err err;
        money_format(v, buf);
        assert_int_equal(money_parse(buf, &back, &err), KASSA_OK);
        assert_int_equal(back, v);
    }
}

/* ---- percent_parse ---- */

static void test_percent_parse_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int32_t want;
    } cases[] = {
        {"10", 1000},   {"12.5", 1250},    {"12.55", 1255}, {"0", 0},     {"0.01", 1},
        {"100", 10000}, {"100.00", 10000}, {"99.99", 9999}, {"007", 700},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        int32_t bp = -7;
        kassa_err err;
        assert_int_equal(percent_parse(cases[i].s, &bp, &err), KASSA_OK);
        assert_int_equal(bp, cases[i].want);
    }
}

static void test_percent_parse_rejects(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "",    "100.01", "101", "1000", "12.345", "12.",
        ".5",  "-1",     "+1",  "-0",   " 10",    "10 ",
        "10%", "1e1",    "1,5", "abc",  "1.2.3",  "99999999999999999999999999999999999999",
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        int32_t bp = -7;
        kassa_err err;
        kassa_err_clear(&err);
        assert_int_equal(percent_parse(cases[i], &bp, &err), KASSA_EINVAL);
        assert_int_equal(bp, -7);
        assert_non_null(strstr(err.msg, "invalid percentage \""));
    }
    int32_t bp;
    kassa_err err;
    assert_int_equal(percent_parse("100.01", &bp, &err), KASSA_EINVAL);
    assert_string_equal(err.msg, "invalid percentage \"100.01\": must be 0 to 100");
    assert_int_equal(percent_parse("12.345", &bp, &err), KASSA_EINVAL);
    assert_string_equal(err.msg, "invalid percentage \"12.345\": at most two decimals");
}

/* ---- qty_parse ---- */

static void test_qty_parse_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t want;
    } cases[] = {
        {"1", 1}, {"2", 2}, {"10", 10}, {"999999", 999999}, {"1000000", 1000000}, {"0003", 3},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        int64_t q = -7;
        kassa_err err;
        assert_int_equal(qty_parse(cases[i].s, &q, &err), KASSA_OK);
        assert_int_equal(q, cases[i].want);
    }
}

static void test_qty_parse_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int code;
    } cases[] = {
        {"0", KASSA_EINVAL},
        {"000", KASSA_EINVAL},
        {"-1", KASSA_EINVAL},
        {"+1", KASSA_EINVAL},
        {"1.5", KASSA_EINVAL},
        {"1.0", KASSA_EINVAL},
        {"1.", KASSA_EINVAL},
        {"", KASSA_EINVAL},
        {" 1", KASSA_EINVAL},
        {"1 ", KASSA_EINVAL},
        {"1e3", KASSA_EINVAL},
        {"abc", KASSA_EINVAL},
        {"1000001", KASSA_EOVERFLOW},
        {"9223372036854775807", KASSA_EOVERFLOW},
        {"9223372036854775808", KASSA_EOVERFLOW},
        {"99999999999999999999999999999999999999999999", KASSA_EOVERFLOW},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        int64_t q = -7;
        kassa_err err;
        kassa_err_clear(&err);
        assert_int_equal(qty_parse(cases[i].s, &q, &err), cases[i].code);
        assert_int_equal(err.code, cases[i].code);
        assert_int_equal(q, -7);
        assert_non_null(strstr(err.msg, "invalid quantity \""));
    }
    int64_t q;
    kassa_err err;
    assert_int_equal(qty_parse("1.5", &q, &err), KASSA_EINVAL);
    assert_string_equal(err.msg, "invalid quantity \"1.5\": must be a whole number");
    assert_int_equal(qty_parse("0", &q, &err), KASSA_EINVAL);
    assert_string_equal(err.msg, "invalid quantity \"0\": must be at least 1");
}

/* ---- pricing_compute ---- */

static void compute_one(pricing_line_in in, pricing_line_out *out)
{
    pricing_totals t;
    kassa_err err;
    kassa_err_clear(&err);
    int rc = pricing_compute(&in, 1, out, &t, &err);
    if (rc != KASSA_OK)
        fail_msg("unexpected error: %s", err.msg);
    assert_invariants(out, 1, &t);
}

static void test_compute_single_line(void **state)
{
    (void)state;
    pricing_line_out o;
    compute_one(line(399, 3, 2000, PRICING_DISCOUNT_NONE, 0), &o);
    assert_int_equal(o.gross, 1197);
    assert_int_equal(o.discount, 0);
    assert_int_equal(o.net, 1197);
    assert_int_equal(o.tax, 239); /* 239.4 */
    assert_int_equal(o.total, 1436);

    /* Free items and zero tax are fine. */
    compute_one(line(0, 5, 2000, PRICING_DISCOUNT_NONE, 0), &o);
    assert_int_equal(o.total, 0);
    compute_one(line(1000, 1, 0, PRICING_DISCOUNT_NONE, 0), &o);
    assert_int_equal(o.tax, 0);
    assert_int_equal(o.total, 1000);
}

static void test_compute_rounding_halves(void **state)
{
    (void)state;
    pricing_line_out o;
    /* Tax: net 5 at 10 % = 0.5 -> 1. */
    compute_one(line(5, 1, 1000, PRICING_DISCOUNT_NONE, 0), &o);
    assert_int_equal(o.tax, 1);
    assert_int_equal(o.total, 6);
    /* 0.4 -> 0 and 0.6 -> 1. */
    compute_one(line(4, 1, 1000, PRICING_DISCOUNT_NONE, 0), &o);
    assert_int_equal(o.tax, 0);
    compute_one(line(6, 1, 1000, PRICING_DISCOUNT_NONE, 0), &o);
    assert_int_equal(o.tax, 1);
    /* 1.5 -> 2, 2.5 -> 3: half up, not half to even. */
    compute_one(line(15, 1, 1000, PRICING_DISCOUNT_NONE, 0), &o);
    assert_int_equal(o.tax, 2);
    compute_one(line(25, 1, 1000, PRICING_DISCOUNT_NONE, 0), &o);
    assert_int_equal(o.tax, 3);
    /* 1 cent at 50 % = 0.5 -> 1; at 49.99 % -> 0. */
    compute_one(line(1, 1, 5000, PRICING_DISCOUNT_NONE, 0), &o);
    assert_int_equal(o.tax, 1);
    compute_one(line(1, 1, 4999, PRICING_DISCOUNT_NONE, 0), &o);
    assert_int_equal(o.tax, 0);

    /* Percent discount: gross 5 at 10 % = 0.5 -> 1, then tax on net 4. */
    compute_one(line(5, 1, 1000, PRICING_DISCOUNT_PERCENT, 1000), &o);
    assert_int_equal(o.discount, 1);
    assert_int_equal(o.net, 4);
    assert_int_equal(o.tax, 0);
    assert_int_equal(o.total, 4);
    /* Gross 15 at 10 % = 1.5 -> 2. */
    compute_one(line(15, 1, 0, PRICING_DISCOUNT_PERCENT, 1000), &o);
    assert_int_equal(o.discount, 2);
    assert_int_equal(o.net, 13);
    /* 12.5 % of 11.97 = 1.49625 -> 1.50. */
    compute_one(line(399, 3, 0, PRICING_DISCOUNT_PERCENT, 1250), &o);
    assert_int_equal(o.discount, 150);
}

static void test_compute_discounts(void **state)
{
    (void)state;
    pricing_line_out o;
    /* 100 % off leaves nothing to tax. */
    compute_one(line(999, 7, 2000, PRICING_DISCOUNT_PERCENT, 10000), &o);
    assert_int_equal(o.discount, 6993);
    assert_int_equal(o.net, 0);
    assert_int_equal(o.total, 0);
    /* 0 % and an amount of 0 are no-ops. */
    compute_one(line(999, 7, 2000, PRICING_DISCOUNT_PERCENT, 0), &o);
    assert_int_equal(o.discount, 0);
    compute_one(line(999, 7, 2000, PRICING_DISCOUNT_AMOUNT, 0), &o);
    assert_int_equal(o.discount, 0);
    /* An amount discount is per line, not per unit; tax is on the net. */
    compute_one(line(1000, 2, 2000, PRICING_DISCOUNT_AMOUNT, 500), &o);
    assert_int_equal(o.gross, 2000);
    assert_int_equal(o.discount, 500);
    assert_int_equal(o.net, 1500);
    assert_int_equal(o.tax, 300);
    assert_int_equal(o.total, 1800);
    /* Discount equal to the line amount is allowed. */
    compute_one(line(1000, 2, 2000, PRICING_DISCOUNT_AMOUNT, 2000), &o);
    assert_int_equal(o.net, 0);
    assert_int_equal(o.total, 0);
}

/* The worked example in docs/PRICING.md; keep the two in sync. */
static void test_compute_doc_example(void **state)
{
    (void)state;
    pricing_line_in in[3] = {
        line(399, 3, 2000, PRICING_DISCOUNT_PERCENT, 1250),
        line(2455, 2, 700, PRICING_DISCOUNT_AMOUNT, 500),
        line(25, 2, 700, PRICING_DISCOUNT_NONE, 0),
    };
    pricing_line_out out[3];
    pricing_totals t;
    kassa_err err;
    assert_int_equal(pricing_compute(in, 3, out, &t, &err), KASSA_OK);
    assert_invariants(out, 3, &t);

    const int64_t want[3][5] = {
        {1197, 150, 1047, 209, 1256},
        {4910, 500, 4410, 309, 4719},
        {50, 0, 50, 4, 54},
    };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(out[i].gross, want[i][0]);
        assert_int_equal(out[i].discount, want[i][1]);
        assert_int_equal(out[i].net, want[i][2]);
        assert_int_equal(out[i].tax, want[i][3]);
        assert_int_equal(out[i].total, want[i][4]);
    }
    assert_int_equal(t.gross, 6157);
    assert_int_equal(t.discount, 650);
    assert_int_equal(t.subtotal, 5507);
    assert_int_equal(t.tax, 522);
    assert_int_equal(t.total, 6029);

    /* Returning line 1 one unit at a time, then two then one. */
    int64_t r;
    assert_int_equal(pricing_refund(1256, 3, 0, 1, &r, &err), KASSA_OK);
    assert_int_equal(r, 419);
    assert_int_equal(pricing_refund(1256, 3, 1, 1, &r, &err), KASSA_OK);
    assert_int_equal(r, 418);
    assert_int_equal(pricing_refund(1256, 3, 2, 1, &r, &err), KASSA_OK);
    assert_int_equal(r, 419);
    assert_int_equal(pricing_refund(1256, 3, 0, 2, &r, &err), KASSA_OK);
    assert_int_equal(r, 837);
    assert_int_equal(pricing_refund(1256, 3, 2, 1, &r, &err), KASSA_OK);
    assert_int_equal(r, 419);
}

static void expect_line_error(pricing_line_in bad, int code, const char *msg)
{
    /* The bad line is line 2, after a good one, so the number is checked. */
    pricing_line_in in[3] = {line(100, 1, 2000, PRICING_DISCOUNT_NONE, 0), bad,
                             line(100, 1, 2000, PRICING_DISCOUNT_NONE, 0)};
    pricing_line_out out[3];
    pricing_totals t;
    kassa_err err;
    kassa_err_clear(&err);
    assert_int_equal(pricing_compute(in, 3, out, &t, &err), code);
    assert_int_equal(err.code, code);
    if (strncmp(err.msg, "line 2: ", 8) != 0)
        fail_msg("message does not name line 2: %s", err.msg);
    if (msg != NULL)
        assert_string_equal(err.msg, msg);
    assert_null(strchr(err.msg, '\n'));
}

static void test_compute_rejects_lines(void **state)
{
    (void)state;
    const int E = KASSA_EINVAL, O = KASSA_EOVERFLOW;
    const pricing_discount_kind N = PRICING_DISCOUNT_NONE, P = PRICING_DISCOUNT_PERCENT,
                                A = PRICING_DISCOUNT_AMOUNT;

    expect_line_error(line(500, 2, 0, A, 1200), E,
                      "line 2: discount 12.00 exceeds line amount 10.00");
    expect_line_error(line(500, 2, 0, A, 1001), E,
                      "line 2: discount 10.01 exceeds line amount 10.00");
    expect_line_error(line(500, 2, 0, A, -1), E, "line 2: negative discount -0.01");
    expect_line_error(line(500, 2, 0, A, INT64_MAX), E, NULL);
    expect_line_error(line(500, 2, 0, A, INT64_MIN), E, NULL);

    expect_line_error(line(500, 0, 0, N, 0), E, "line 2: quantity 0 must be at least 1");
    expect_line_error(line(500, -1, 0, N, 0), E, NULL);
    expect_line_error(line(500, INT64_MIN, 0, N, 0), E, NULL);
    expect_line_error(line(500, PRICING_QTY_MAX + 1, 0, N, 0), O,
                      "line 2: quantity 1000001 exceeds maximum 1000000");
    expect_line_error(line(500, INT64_MAX, 0, N, 0), O, NULL);

    expect_line_error(line(-1, 1, 0, N, 0), E, "line 2: negative unit price -0.01");
    expect_line_error(line(INT64_MIN, 1, 0, N, 0), E, NULL);
    expect_line_error(line(PRICING_AMOUNT_MAX + 1, 1, 0, N, 0), O,
                      "line 2: unit price 100000000000.01 exceeds maximum 100000000000.00");
    expect_line_error(line(INT64_MAX, 1, 0, N, 0), O, NULL);

    expect_line_error(line(500, 1, -1, N, 0), E, "line 2: tax rate -1 bp outside 0..10000 bp");
    expect_line_error(line(500, 1, 10001, N, 0), E, NULL);
    expect_line_error(line(500, 1, INT32_MAX, N, 0), E, NULL);
    expect_line_error(line(500, 1, INT32_MIN, N, 0), E, NULL);

    expect_line_error(line(500, 1, 0, P, 10001), E,
                      "line 2: percent discount 10001 bp outside 0..10000 bp");
    expect_line_error(line(500, 1, 0, P, -1), E, NULL);
    expect_line_error(line(500, 1, 0, P, INT64_MAX), E, NULL);

    expect_line_error(line(500, 1, 0, N, 5), E, "line 2: discount value 5 without a discount kind");
    expect_line_error(line(500, 1, 0, (pricing_discount_kind)3, 0), E,
                      "line 2: unknown discount kind 3");
    expect_line_error(line(500, 1, 0, (pricing_discount_kind)-1, 0), E, NULL);
}

static void test_compute_rejects_overflow(void **state)
{
    (void)state;
    const int O = KASSA_EOVERFLOW;
    const pricing_discount_kind N = PRICING_DISCOUNT_NONE, P = PRICING_DISCOUNT_PERCENT;

    /* 10^13 * 10^6 does not even fit int64. */
    expect_line_error(line(PRICING_AMOUNT_MAX, PRICING_QTY_MAX, 0, N, 0), O, NULL);
    /* Fits int64, but the line amount is above the limit. */
    expect_line_error(line(PRICING_AMOUNT_MAX, 2, 0, N, 0), O,
                      "line 2: line amount 200000000000.00 exceeds maximum 100000000000.00");
    expect_line_error(line(PRICING_AMOUNT_MAX / 1000 + 1, 1000, 0, N, 0), O, NULL);
    /* Even a 100 % discount does not excuse an oversized gross. */
    expect_line_error(line(PRICING_AMOUNT_MAX, 2, 0, P, 10000), O, NULL);
    /* Tax pushes the total over. */
    expect_line_error(line(PRICING_AMOUNT_MAX, 1, 1, N, 0), O,
                      "line 2: line total 100010000000.00 exceeds maximum 100000000000.00");
    /* One cent over: net 99990000999.91 + tax at 0.01 % 99990.00100 (-> .10). */
    expect_line_error(line(INT64_C(9999000099991), 1, 1, N, 0), O,
                      "line 2: line total 100000000000.01 exceeds maximum 100000000000.00");
    expect_line_error(line(PRICING_AMOUNT_MAX, 1, 10000, N, 0), O, NULL);

    /* Exactly at the limit is fine. */
    pricing_line_out o;
    compute_one(line(INT64_C(9999000099990), 1, 1, N, 0), &o);
    assert_int_equal(o.total, PRICING_AMOUNT_MAX);
    compute_one(line(PRICING_AMOUNT_MAX, 1, 0, N, 0), &o);
    assert_int_equal(o.total, PRICING_AMOUNT_MAX);
    compute_one(line(PRICING_AMOUNT_MAX / PRICING_QTY_MAX, PRICING_QTY_MAX, 0, N, 0), &o);
    assert_int_equal(o.gross, PRICING_AMOUNT_MAX);
    compute_one(line(PRICING_AMOUNT_MAX, 1, 10000, P, 5000), &o);
    assert_int_equal(o.net, PRICING_AMOUNT_MAX / 2);
    assert_int_equal(o.total, PRICING_AMOUNT_MAX);
}

static void test_compute_rejects_cart(void **state)
{
    (void)state;
    pricing_line_in in[PRICING_LINES_MAX + 1];
    pricing_line_out out[PRICING_LINES_MAX + 1];
    pricing_totals t;
    kassa_err err;
    for (size_t i = 0; i < KASSA_ARRAY_LEN(in); i++)
        in[i] = line(199, 1, 2000, PRICING_DISCOUNT_NONE, 0);

    assert_int_equal(pricing_compute(in, 0, out, &t, &err), KASSA_EINVAL);
    assert_int_equal(pricing_compute(in, PRICING_LINES_MAX + 1, out, &t, &err), KASSA_EINVAL);
    assert_int_equal(pricing_compute(NULL, 1, out, &t, &err), KASSA_EINVAL);
    assert_int_equal(pricing_compute(in, 1, NULL, &t, &err), KASSA_EINVAL);
    assert_int_equal(pricing_compute(in, 1, out, NULL, &err), KASSA_EINVAL);
    assert_int_equal(pricing_compute(in, PRICING_LINES_MAX, out, &t, NULL), KASSA_OK);
    assert_invariants(out, PRICING_LINES_MAX, &t);
    assert_int_equal(t.total, 239 * PRICING_LINES_MAX);

    /* Each line fits, the cart does not: the line that tipped it is named. */
    in[0] = line(PRICING_AMOUNT_MAX / 2, 1, 0, PRICING_DISCOUNT_NONE, 0);
    in[1] = line(PRICING_AMOUNT_MAX / 2, 1, 0, PRICING_DISCOUNT_NONE, 0);
    in[2] = line(1, 1, 0, PRICING_DISCOUNT_NONE, 0);
    assert_int_equal(pricing_compute(in, 2, out, &t, &err), KASSA_OK);
    assert_int_equal(t.total, PRICING_AMOUNT_MAX);
    assert_int_equal(pricing_compute(in, 3, out, &t, &err), KASSA_EOVERFLOW);
    assert_string_equal(err.msg, "line 3: cart amount exceeds maximum 100000000000.00");

    /* Gross fits, total does not (tax). */
    in[0] = line(PRICING_AMOUNT_MAX / 2, 1, 1000, PRICING_DISCOUNT_NONE, 0);
    in[1] = line(PRICING_AMOUNT_MAX / 2, 1, 1000, PRICING_DISCOUNT_NONE, 0);
    assert_int_equal(pricing_compute(in, 2, out, &t, &err), KASSA_EOVERFLOW);
    assert_string_equal(err.msg, "line 2: cart total exceeds maximum 100000000000.00");

    /* 500 lines at the per-line maximum. */
    for (size_t i = 0; i < PRICING_LINES_MAX; i++)
        in[i] = line(PRICING_AMOUNT_MAX, 1, 10000, PRICING_DISCOUNT_PERCENT, 5000);
    assert_int_equal(pricing_compute(in, PRICING_LINES_MAX, out, &t, &err), KASSA_EOVERFLOW);
    assert_string_equal(err.msg, "line 2: cart amount exceeds maximum 100000000000.00");
}

/* ---- pricing_refund ---- */

static void test_refund_basic(void **state)
{
    (void)state;
    int64_t r = -7;
    kassa_err err;
    /* Whole line at once refunds exactly the total. */
    assert_int_equal(pricing_refund(1256, 3, 0, 3, &r, &err), KASSA_OK);
    assert_int_equal(r, 1256);
    /* Single unit. */
    assert_int_equal(pricing_refund(999, 1, 0, 1, &r, &err), KASSA_OK);
    assert_int_equal(r, 999);
    /* Zero total. */
    assert_int_equal(pricing_refund(0, 5, 2, 3, &r, &err), KASSA_OK);
    assert_int_equal(r, 0);
    /* Halves round up: 5 over 2 units -> cum(1) = 2.5 -> 3, then 2. */
    assert_int_equal(pricing_refund(5, 2, 0, 1, &r, &err), KASSA_OK);
    assert_int_equal(r, 3);
    assert_int_equal(pricing_refund(5, 2, 1, 1, &r, &err), KASSA_OK);
    assert_int_equal(r, 2);
    /* 1 cent over 3 units: 0, 1, 0. */
    assert_int_equal(pricing_refund(1, 3, 0, 1, &r, &err), KASSA_OK);
    assert_int_equal(r, 0);
    assert_int_equal(pricing_refund(1, 3, 1, 1, &r, &err), KASSA_OK);
    assert_int_equal(r, 1);
    assert_int_equal(pricing_refund(1, 3, 2, 1, &r, &err), KASSA_OK);
    assert_int_equal(r, 0);
}

static void test_refund_large_values(void **state)
{
    (void)state;
    /* line_total * m reaches 10^19 here, beyond int64; the refund must
     * still be exact. */
    const int64_t T = PRICING_AMOUNT_MAX - 1, Q = PRICING_QTY_MAX - 1;
    const int64_t steps[] = {1, 333333, 2, 499999, 166663, 1};
    int64_t done = 0, sum = 0;
    for (size_t i = 0; i < KASSA_ARRAY_LEN(steps); i++) {
        int64_t r;
        kassa_err err;
        assert_int_equal(pricing_refund(T, Q, done, steps[i], &r, &err), KASSA_OK);
        int64_t want = i128_round_half_up((i128)T * (done + steps[i]), Q) -
                       i128_round_half_up((i128)T * done, Q);
        assert_int_equal(r, want);
        done += steps[i];
        sum += r;
    }
    assert_int_equal(done, Q);
    assert_int_equal(sum, T);

    int64_t r;
    kassa_err err;
    assert_int_equal(
        pricing_refund(PRICING_AMOUNT_MAX, PRICING_QTY_MAX, PRICING_QTY_MAX - 1, 1, &r, &err),
        KASSA_OK);
    assert_int_equal(r, PRICING_AMOUNT_MAX / PRICING_QTY_MAX);
}

static void test_refund_rejects(void **state)
{
    (void)state;
    static const struct {
        int64_t total, line_qty, returned, qty;
        int code;
    } cases[] = {
        {1000, 3, 0, 4, KASSA_EINVAL},
        {1000, 3, 2, 2, KASSA_EINVAL},
        {1000, 3, 3, 1, KASSA_EINVAL},
        {1000, 3, 0, 0, KASSA_EINVAL},
        {1000, 3, 0, -1, KASSA_EINVAL},
        {1000, 3, -1, 1, KASSA_EINVAL},
        {1000, 3, 4, 1, KASSA_EINVAL},
        {1000, 3, INT64_MAX, 1, KASSA_EINVAL},
        {1000, 3, 1, INT64_MAX, KASSA_EINVAL},
        {1000, 3, INT64_MIN, INT64_MAX, KASSA_EINVAL},
        {1000, 0, 0, 1, KASSA_EINVAL},
        {1000, -3, 0, 1, KASSA_EINVAL},
        {1000, PRICING_QTY_MAX + 1, 0, 1, KASSA_EINVAL},
        {-1, 3, 0, 1, KASSA_EINVAL},
        {INT64_MIN, 3, 0, 1, KASSA_EINVAL},
        {PRICING_AMOUNT_MAX + 1, 3, 0, 1, KASSA_EOVERFLOW},
        {INT64_MAX, PRICING_QTY_MAX, 0, PRICING_QTY_MAX, KASSA_EOVERFLOW},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        int64_t r = -7;
        kassa_err err;
        kassa_err_clear(&err);
        assert_int_equal(pricing_refund(cases[i].total, cases[i].line_qty, cases[i].returned,
                                        cases[i].qty, &r, &err),
                         cases[i].code);
        assert_int_equal(err.code, cases[i].code);
        assert_int_equal(r, -7);
        assert_true(err.msg[0] != '\0');
    }
    kassa_err err;
    int64_t r;
    assert_int_equal(pricing_refund(1000, 3, 2, 2, &r, &err), KASSA_EINVAL);
    assert_string_equal(err.msg, "cannot return 2 units: 2 of 3 already returned");
    assert_int_equal(pricing_refund(1000, 3, 0, 1, NULL, &err), KASSA_EINVAL);
}

/* ---- property tests against a 128-bit oracle ---- */

typedef struct oracle_result {
    int code;
    size_t line; /* 1-based line of the error */
    pricing_line_out out[8];
    pricing_totals t;
} oracle_result;

/* The header's rules, in the order pricing_compute applies them, for inputs
 * whose fields are already in their documented ranges. */
static void oracle_compute(const pricing_line_in *in, size_t n, oracle_result *r)
{
    i128 sum[5] = {0};
    r->code = KASSA_OK;
    for (size_t i = 0; i < n; i++) {
        r->line = i + 1;
        i128 gross = (i128)in[i].unit_price * in[i].qty;
        if (gross > PRICING_AMOUNT_MAX) {
            r->code = KASSA_EOVERFLOW;
            return;
        }
        i128 disc = 0;
        if (in[i].discount_kind == PRICING_DISCOUNT_PERCENT)
            disc = i128_round_half_up(gross * in[i].discount_value, 10000);
        else if (in[i].discount_kind == PRICING_DISCOUNT_AMOUNT) {
            if (in[i].discount_value > gross) {
                r->code = KASSA_EINVAL;
                return;
            }
            disc = in[i].discount_value;
        }
        i128 net = gross - disc;
        i128 tax = i128_round_half_up(net * in[i].tax_rate_bp, 10000);
        i128 total = net + tax;
        if (total > PRICING_AMOUNT_MAX) {
            r->code = KASSA_EOVERFLOW;
            return;
        }
        i128 f[5] = {gross, disc, net, tax, total};
        for (int k = 0; k < 5; k++) {
            sum[k] += f[k];
            if (sum[k] > PRICING_AMOUNT_MAX) {
                r->code = KASSA_EOVERFLOW;
                return;
            }
        }
        r->out[i] = (pricing_line_out){(int64_t)gross, (int64_t)disc, (int64_t)net, (int64_t)tax,
                                       (int64_t)total};
    }
    r->t = (pricing_totals){(int64_t)sum[0], (int64_t)sum[1], (int64_t)sum[2], (int64_t)sum[3],
                            (int64_t)sum[4]};
}

static pricing_line_in random_line(void)
{
    pricing_line_in l;
    /* Mostly everyday carts, sometimes amounts near the limits. */
    bool huge = rng_range(0, 9) == 0;
    l.unit_price = huge ? rng_magnitude(PRICING_AMOUNT_MAX) : rng_range(0, 100000);
    l.qty = huge ? 1 + rng_magnitude(PRICING_QTY_MAX - 1) : rng_range(1, 50);
    static const int32_t rates[] = {0, 700, 1000, 1900, 2000, 2500};
    l.tax_rate_bp = rng_range(0, 4) ? rates[rng_range(0, 5)] : (int32_t)rng_range(0, 10000);
    l.discount_kind = (pricing_discount_kind)rng_range(0, 2);
    l.discount_value = 0;
    if (l.discount_kind == PRICING_DISCOUNT_PERCENT) {
        l.discount_value = rng_range(0, 10000);
    } else if (l.discount_kind == PRICING_DISCOUNT_AMOUNT) {
        i128 gross = (i128)l.unit_price * l.qty;
        int64_t cap = gross > PRICING_AMOUNT_MAX ? PRICING_AMOUNT_MAX : (int64_t)gross;
        l.discount_value = rng_range(0, cap);
        /* Occasionally one cent too much, to exercise the rejection. */
        if (rng_range(0, 49) == 0)
            l.discount_value = cap + 1;
    }
    return l;
}

/* Returns the whole line in random portions and checks each refund against
 * the oracle and that together they refund exactly the line total. */
static void check_random_returns(int64_t total, int64_t qty)
{
    int64_t done = 0, sum = 0;
    while (done < qty) {
        int64_t left = qty - done;
        int64_t k = rng_range(0, 3) ? rng_range(1, left) : 1;
        if (rng_range(0, 7) == 0)
            k = left;
        int64_t r = -1;
        kassa_err err;
        if (pricing_refund(total, qty, done, k, &r, &err) != KASSA_OK)
            fail_msg("refund failed: %s", err.msg);
        int64_t want = i128_round_half_up((i128)total * (done + k), qty) -
                       i128_round_half_up((i128)total * done, qty);
        assert_int_equal(r, want);
        assert_true(r >= 0);
        sum += r;
        done += k;
    }
    assert_int_equal(done, qty);
    assert_int_equal(sum, total);

    /* Nothing more can be returned. */
    int64_t r;
    assert_int_equal(pricing_refund(total, qty, qty, 1, &r, NULL), KASSA_EINVAL);
}

static void test_property_random_carts(void **state)
{
    (void)state;
    rng_state = 0x0123456789ABCDEFu;
    int ok = 0, failed = 0;
    for (int iter = 0; iter < 20000; iter++) {
        pricing_line_in in[8];
        size_t n = (size_t)rng_range(1, 8);
        for (size_t i = 0; i < n; i++)
            in[i] = random_line();

        pricing_line_out out[8];
        pricing_totals t;
        kassa_err err;
        kassa_err_clear(&err);
        int rc = pricing_compute(in, n, out, &t, &err);

        oracle_result want;
        oracle_compute(in, n, &want);
        if (rc != want.code)
            fail_msg("cart %d: got %d (%s), oracle %d at line %zu", iter, rc, err.msg, want.code,
                     want.line);
        if (rc != KASSA_OK) {
            /* Never a wrong number: an error, and it names the right line. */
            char prefix[32];
            snprintf(prefix, sizeof prefix, "line %zu: ", want.line);
            assert_int_equal(strncmp(err.msg, prefix, strlen(prefix)), 0);
            failed++;
            continue;
        }
        ok++;
        assert_invariants(out, n, &t);
        for (size_t i = 0; i < n; i++)
            assert_memory_equal(&out[i], &want.out[i], sizeof out[i]);
        assert_memory_equal(&t, &want.t, sizeof t);
        for (size_t i = 0; i < n; i++)
            check_random_returns(out[i].total, in[i].qty);
    }
    /* Both paths were actually exercised. */
    assert_true(ok > 10000);
    assert_true(failed > 100);
}

static void test_property_refund_partitions(void **state)
{
    (void)state;
    rng_state = 0xFEEDFACE12345678u;
    for (int iter = 0; iter < 20000; iter++) {
        int64_t qty = rng_range(0, 3) ? rng_range(1, 12) : 1 + rng_magnitude(PRICING_QTY_MAX - 1);
        int64_t total = rng_magnitude(PRICING_AMOUNT_MAX);
        check_random_returns(total, qty);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_money_parse_valid),
        cmocka_unit_test(test_money_parse_rejects),
        cmocka_unit_test(test_money_parse_messages),
        cmocka_unit_test(test_money_parse_random_strings),
        cmocka_unit_test(test_money_format),
        cmocka_unit_test(test_money_roundtrip),
        cmocka_unit_test(test_percent_parse_valid),
        cmocka_unit_test(test_percent_parse_rejects),
        cmocka_unit_test(test_qty_parse_valid),
        cmocka_unit_test(test_qty_parse_rejects),
        cmocka_unit_test(test_compute_single_line),
        cmocka_unit_test(test_compute_rounding_halves),
        cmocka_unit_test(test_compute_discounts),
        cmocka_unit_test(test_compute_doc_example),
        cmocka_unit_test(test_compute_rejects_lines),
        cmocka_unit_test(test_compute_rejects_overflow),
        cmocka_unit_test(test_compute_rejects_cart),
        cmocka_unit_test(test_refund_basic),
        cmocka_unit_test(test_refund_large_values),
        cmocka_unit_test(test_refund_rejects),
        cmocka_unit_test(test_property_random_carts),
        cmocka_unit_test(test_property_refund_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
