/*
 * Unit tests for pay: Luhn on the test cards and their off-by-one
 * neighbours, brands, the PAN scan (grouped, dashed, embedded in binary
 * junk, next to a stray digit, inside long digit runs; no hit on a
 * Luhn-invalid run; counts and offsets), card expiry, encode -> decode
 * round trips of every message, and the rejections every decoder promises.
 * With PAY_SEED_DIR set it also writes the fuzz corpus seeds:
 *   PAY_SEED_DIR=tests/fuzz/corpus build/bin/test_pay
 * (into PAY_SEED_DIR/fuzz_pay_reader and PAY_SEED_DIR/fuzz_pay_proc).
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pay/pay.h"
#include "pricing/pricing.h"

/* The processor simulator's test cards (src/procsim/cards.c). */
static const char *const test_cards[] = {
    "4111111111111111", "4242424242424242", "5555555555554444", "378282246310005",
    "4000000000009995", "4000000000009979", "4000000000000069", "4000000000000119",
};

/* ---- Luhn and brands ---- */

static void test_luhn_test_cards(void **state)
{
    (void)state;
    for (size_t i = 0; i < KASSA_ARRAY_LEN(test_cards); i++) {
        const char *pan = test_cards[i];
        size_t n = strlen(pan);
        assert_true(pay_luhn_ok(pan, n));
        /* Any single digit changed by one breaks the check. */
        for (size_t pos = 0; pos < n; pos++) {
            for (int delta = 1; delta <= 9; delta += 8) {
                char bad[PAY_PAN_MAX + 1];
                memcpy(bad, pan, n + 1);
                bad[pos] = (char)('0' + (bad[pos] - '0' + delta) % 10);
                if (pay_luhn_ok(bad, n))
                    fail_msg("card %zu with digit %zu off by one passes Luhn", i, pos);
            }
        }
    }
    assert_false(pay_luhn_ok("", 0));
    assert_false(pay_luhn_ok("4111 1111", 9));
    assert_false(pay_luhn_ok("41111111111111a1", 16));
    assert_true(pay_luhn_ok("79927398713", 11));
    assert_false(pay_luhn_ok("79927398710", 11));
}

static void test_brands(void **state)
{
    (void)state;
    assert_string_equal(pay_brand_of("4111111111111111"), "visa");
    assert_string_equal(pay_brand_of("4000000000000069"), "visa");
    assert_string_equal(pay_brand_of("5555555555554444"), "mastercard");
    assert_string_equal(pay_brand_of("5105105105105100"), "mastercard");
    assert_string_equal(pay_brand_of("2221000000000009"), "mastercard");
    assert_string_equal(pay_brand_of("2720990000000007"), "mastercard");
    assert_string_equal(pay_brand_of("2721000000000004"), "card");
    assert_string_equal(pay_brand_of("378282246310005"), "amex");
    assert_string_equal(pay_brand_of("340000000000009"), "amex");
    assert_string_equal(pay_brand_of("6011111111111117"), "discover");
    assert_string_equal(pay_brand_of("6500000000000002"), "discover");
    assert_string_equal(pay_brand_of("6440000000000000"), "discover");
    assert_string_equal(pay_brand_of("3056930009020004"), "card");
    assert_string_equal(pay_brand_of(""), "card");
    assert_string_equal(pay_brand_of(NULL), "card");
}

static void test_expiry(void **state)
{
    (void)state;
    pay_card c;
    memset(&c, 0, sizeof c);
    c.exp_month = 12;
    c.exp_year = 2030;
    assert_false(pay_card_expired(&c, 2030, 12)); /* good through its month */
    assert_false(pay_card_expired(&c, 2030, 11));
    assert_false(pay_card_expired(&c, 2026, 1));
    assert_true(pay_card_expired(&c, 2031, 1));
    c.exp_month = 1;
    assert_true(pay_card_expired(&c, 2030, 2));
    assert_false(pay_card_expired(&c, 2029, 12));
}

/* ---- the scan ---- */

#define SCAN_HITS_MAX 64

typedef struct hits {
    size_t n;
    char pan[SCAN_HITS_MAX][PAY_PAN_MAX + 1];
    size_t offset[SCAN_HITS_MAX];
} hits;

static void collect(const char *pan, size_t offset, void *ctx)
{
    hits *h = ctx;
    assert_true(strlen(pan) >= PAY_PAN_MIN && strlen(pan) <= PAY_PAN_MAX);
    if (h->n < SCAN_HITS_MAX) {
        snprintf(h->pan[h->n], sizeof h->pan[h->n], "%s", pan);
        h->offset[h->n] = offset;
    }
    h->n++;
}

static size_t scan(const void *p, size_t n, hits *h)
{
    memset(h, 0, sizeof *h);
    size_t count = pay_scan_pans(p, n, collect, h);
    assert_int_equal(count, h->n);
    return count;
}

static size_t scan_str(const char *s, hits *h)
{
    return scan(s, strlen(s), h);
}

static bool has_hit(const hits *h, const char *pan, size_t offset)
{
    for (size_t i = 0; i < h->n && i < SCAN_HITS_MAX; i++)
        if (strcmp(h->pan[i], pan) == 0 && h->offset[i] == offset)
            return true;
    return false;
}

static void test_scan_formats(void **state)
{
    (void)state;
    hits h;
    assert_int_equal(scan_str("4111 1111 1111 1111", &h), 1);
    assert_string_equal(h.pan[0], "4111111111111111");
    assert_int_equal(h.offset[0], 0);
    assert_int_equal(scan_str("card: 4111-1111-1111-1111.", &h), 1);
    assert_string_equal(h.pan[0], "4111111111111111");
    assert_int_equal(h.offset[0], 6);
    assert_int_equal(scan_str("x4111111111111111x", &h), 1);
    assert_int_equal(h.offset[0], 1);
    assert_int_equal(scan_str("amex 3782 822463 10005 ok", &h), 1);
    assert_string_equal(h.pan[0], "378282246310005");
    /* Two separators end a run: neither half is a card. */
    assert_int_equal(scan_str("4111  1111 1111 1111", &h), 0);
    assert_int_equal(scan_str("4111 -1111-1111-1111", &h), 0);
    /* A trailing separator is not part of the run. */
    assert_int_equal(scan_str("4111111111111111 ", &h), 1);
    assert_int_equal(scan_str("", &h), 0);
}

static void test_scan_binary_junk(void **state)
{
    (void)state;
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
    /* Keep the junk free of ASCII digits, then drop a card in it. */
    for (size_t i = 0; i < sizeof buf; i++)
        if (buf[i] >= '0' && buf[i] <= '9')
            buf[i] = 0;
    memcpy(buf + 123, "5555555555554444", 16);
    buf[122] = 0x00;
    buf[139] = 0xff;
    hits h;
    assert_int_equal(scan(buf, sizeof buf, &h), 1);
    assert_string_equal(h.pan[0], "5555555555554444");
    assert_int_equal(h.offset[0], 123);
}

static void test_scan_no_hit_on_invalid(void **state)
{
    (void)state;
    hits h;
    assert_int_equal(scan_str("4111111111111112", &h), 0);
    assert_int_equal(scan_str("4111 1111 1111 1112", &h), 0);
    assert_int_equal(scan_str("order 12345 at 2026-11-29 10:11:12", &h), 0);
    /* Eleven digits are too short; twelve zeros pass Luhn (the header's
     * contract: any Luhn-valid run of 12..19 digits). */
    assert_int_equal(scan_str("00000000000", &h), 0);
    assert_int_equal(scan_str("000000000000", &h), 1);
}

static void test_scan_counts(void **state)
{
    (void)state;
    hits h;
    const char *text = "a 4111111111111111 b 4242-4242-4242-4242 c 378282246310005 d "
                       "4111111111111112 e 5555 5555 5555 4444";
    assert_int_equal(scan_str(text, &h), 4);
    assert_true(has_hit(&h, "4111111111111111", 2));
    assert_true(has_hit(&h, "4242424242424242", 21));
    assert_true(has_hit(&h, "378282246310005", 43));
    assert_true(has_hit(&h, "5555555555554444", strlen(text) - 19));
    /* The callback may be NULL: just the count. */
    assert_int_equal(pay_scan_pans((const uint8_t *)text, strlen(text), NULL, NULL), 4);
}

static void test_scan_stray_digit(void **state)
{
    (void)state;
    /* A card next to an unrelated digit byte (a SQLite record header, a
     * counter) makes a 17-digit run; when that run fails Luhn the card
     * is found as a window inside it. */
    for (size_t c = 0; c < KASSA_ARRAY_LEN(test_cards); c++) {
        char buf[64];
        int found = 0;
        for (char d = '0'; d <= '9'; d++) {
            snprintf(buf, sizeof buf, "%c%s", d, test_cards[c]);
            if (pay_luhn_ok(buf, strlen(buf)))
                continue;
            hits h;
            scan_str(buf, &h);
            assert_true(has_hit(&h, test_cards[c], 1));
            found++;
            snprintf(buf, sizeof buf, "%s%c", test_cards[c], d);
            if (pay_luhn_ok(buf, strlen(buf)))
                continue;
            scan_str(buf, &h);
            assert_true(has_hit(&h, test_cards[c], 0));
        }
        assert_true(found >= 8);
    }
}

static void test_scan_long_runs(void **state)
{
    (void)state;
    hits h;
    /* Inside a 40-digit run of zeros: no brand starts with 0, so the
     * zeros give nothing, and the card is found where it is. */
    char run[64];
    snprintf(run, sizeof run, "%s%s%s", "000000000000", "4111111111111111", "000000000000");
    assert_int_equal(strlen(run), 40);
    scan_str(run, &h);
    assert_true(has_hit(&h, "4111111111111111", 12));
    /* Through separators too. */
    scan_str("00000000 0000 4111 1111 1111 1111 0000", &h);
    assert_true(has_hit(&h, "4111111111111111", 14));
    /* A megabyte of digits: bounded work and memory, and zeros match no
     * brand. */
    size_t big = 1 << 20;
    char *p = malloc(big);
    assert_non_null(p);
    memset(p, '0', big);
    assert_int_equal(scan(p, big, &h), 0);
    memcpy(p + big / 2, "378282246310005", 15);
    scan(p, big, &h);
    assert_true(has_hit(&h, "378282246310005", big / 2));
    free(p);
}

/* ---- messages: helpers ---- */

static const uint8_t blob6[] = {0, 1, 2, 3, 4, 5};

static pay_read_req a_read_req(void)
{
    return (pay_read_req){
        .payment_id = "p-1.a_B", .amount_minor = 1250, .currency = "EUR", .timeout_ms = 30000};
}

static pay_read_reply a_card_reply(void)
{
    pay_read_reply r = {.payment_id = "p-1",
                        .ok = true,
                        .card = {.token = "tok_0123456789abcdef0123456789abcdef",
                                 .brand = "mastercard",
                                 .last4 = "4444",
                                 .exp_month = 7,
                                 .exp_year = 2031,
                                 .blob_len = PAY_BLOB_MAX}};
    for (size_t i = 0; i < PAY_BLOB_MAX; i++)
        r.card.blob[i] = (uint8_t)(i * 7);
    return r;
}

static pay_auth_req an_auth_req(void)
{
    pay_auth_req q = {.store_id = "store-1",
                      .payment_id = "s1-t1-000042",
                      .amount_minor = PRICING_AMOUNT_MAX,
                      .currency = "CHF",
                      .token = "tok_x",
                      .blob_len = sizeof blob6,
                      .mode = PAY_MODE_ONLINE,
                      .capture = true};
    memcpy(q.blob, blob6, sizeof blob6);
    return q;
}

static bool read_req_eq(const pay_read_req *a, const pay_read_req *b)
{
    return strcmp(a->payment_id, b->payment_id) == 0 && a->amount_minor == b->amount_minor &&
           strcmp(a->currency, b->currency) == 0 && a->timeout_ms == b->timeout_ms;
}

static bool card_eq(const pay_card *a, const pay_card *b)
{
    return strcmp(a->token, b->token) == 0 && strcmp(a->brand, b->brand) == 0 &&
           strcmp(a->last4, b->last4) == 0 && a->exp_month == b->exp_month &&
           a->exp_year == b->exp_year && a->blob_len == b->blob_len &&
           memcmp(a->blob, b->blob, a->blob_len) == 0;
}

static bool reply_eq(const pay_read_reply *a, const pay_read_reply *b)
{
    if (strcmp(a->payment_id, b->payment_id) != 0 || a->ok != b->ok)
        return false;
    if (a->ok)
        return card_eq(&a->card, &b->card);
    return strcmp(a->reason, b->reason) == 0 && strcmp(a->message, b->message) == 0;
}

static bool auth_eq(const pay_auth_req *a, const pay_auth_req *b)
{
    return strcmp(a->store_id, b->store_id) == 0 && strcmp(a->payment_id, b->payment_id) == 0 &&
           a->amount_minor == b->amount_minor && strcmp(a->currency, b->currency) == 0 &&
           strcmp(a->token, b->token) == 0 && a->blob_len == b->blob_len &&
           memcmp(a->blob, b->blob, a->blob_len) == 0 && a->mode == b->mode &&
           a->capture == b->capture && a->stored_at_ms == b->stored_at_ms;
}

static bool refund_eq(const pay_refund_req *a, const pay_refund_req *b)
{
    return strcmp(a->store_id, b->store_id) == 0 && strcmp(a->refund_id, b->refund_id) == 0 &&
           strcmp(a->payment_id, b->payment_id) == 0 && strcmp(a->token, b->token) == 0 &&
           a->amount_minor == b->amount_minor;
}

static bool result_eq(const pay_result *a, const pay_result *b)
{
    return strcmp(a->id, b->id) == 0 && a->status == b->status &&
           strcmp(a->reason, b->reason) == 0 && strcmp(a->auth_code, b->auth_code) == 0;
}

/* One line: ends in '\n', no other newline, within the limit. */
static void assert_one_line(const kbuf *b)
{
    assert_true(b->len >= 2 && b->len <= PAY_LINE_MAX_BYTES);
    assert_int_equal(b->data[b->len - 1], '\n');
    assert_null(memchr(b->data, '\n', b->len - 1));
}

/* The messages, by kind. */
enum { D_REQ, D_REPLY, D_AUTH, D_REFUND, D_RESULT };

typedef union pay_msg {
    pay_read_req req;
    pay_read_reply reply;
    pay_auth_req auth;
    pay_refund_req refund;
    pay_result result;
} pay_msg;

/* The decoder of kind which on the n bytes at text, into out. */
static int decode_any(int which, const char *text, size_t n, pay_msg *out, kassa_err *err)
{
    switch (which) {
    case D_REQ:
        return pay_read_req_decode(text, n, &out->req, err);
    case D_REPLY:
        return pay_read_reply_decode(text, n, &out->reply, err);
    case D_AUTH:
        return pay_auth_req_decode(text, n, &out->auth, err);
    case D_REFUND:
        return pay_refund_req_decode(text, n, &out->refund, err);
    default:
        return pay_result_decode(text, n, &out->result, err);
    }
}

/* The encoder of kind which on msg, appending to b. */
static int encode_any(int which, const void *msg, kbuf *b, kassa_err *err)
{
    switch (which) {
    case D_REQ:
        return pay_read_req_encode(msg, b, err);
    case D_REPLY:
        return pay_read_reply_encode(msg, b, err);
    case D_AUTH:
        return pay_auth_req_encode(msg, b, err);
    case D_REFUND:
        return pay_refund_req_encode(msg, b, err);
    default:
        return pay_result_encode(msg, b, err);
    }
}

/* Whether messages a and b of kind which hold the same values. */
static bool same_any(int which, const void *a, const pay_msg *b)
{
    switch (which) {
    case D_REQ:
        return read_req_eq(a, &b->req);
    case D_REPLY:
        return reply_eq(a, &b->reply);
    case D_AUTH:
        return auth_eq(a, &b->auth);
    case D_REFUND:
        return refund_eq(a, &b->refund);
    default:
        return result_eq(a, &b->result);
    }
}

/* The n bytes at p decode, as which, to msg's values. */
static void decodes_to(int which, const void *msg, const uint8_t *p, size_t n)
{
    pay_msg back;
    kassa_err err;
    assert_int_equal(decode_any(which, (const char *)p, n, &back, &err), KASSA_OK);
    assert_true(same_any(which, msg, &back));
}

/* msg, of kind which, encodes into b (emptied first), which decodes to
 * msg's values. */
static void round_trip(int which, const void *msg, kbuf *b)
{
    kassa_err err;
    kbuf_reset(b);
    assert_int_equal(encode_any(which, msg, b, &err), KASSA_OK);
    decodes_to(which, msg, b->data, b->len);
}

/* ---- round trips ---- */

static void test_read_req_round_trip(void **state)
{
    (void)state;
    pay_read_req q = a_read_req();
    kbuf b;
    kbuf_init(&b);
    round_trip(D_REQ, &q, &b);
    assert_one_line(&b);
    /* Without its newline too. */
    decodes_to(D_REQ, &q, b.data, b.len - 1);
    kbuf_free(&b);
}

static void test_read_reply_round_trip(void **state)
{
    (void)state;
    pay_read_reply r = a_card_reply();
    kbuf b;
    kbuf_init(&b);
    round_trip(D_REPLY, &r, &b);
    assert_one_line(&b);

    const char *reasons[] = {PAY_READER_TIMEOUT, PAY_READER_UNREADABLE, PAY_READER_CANCELLED,
                             PAY_READER_BUSY};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(reasons); i++) {
        memset(&r, 0, sizeof r);
        snprintf(r.payment_id, sizeof r.payment_id, "p-%zu", i);
        snprintf(r.reason, sizeof r.reason, "%s", reasons[i]);
        /* Quotes, a backslash and non-ASCII text survive, on one line. */
        snprintf(r.message, sizeof r.message, "say \"no\" \\ caf\xc3\xa9 %zu", i);
        round_trip(D_REPLY, &r, &b);
        assert_one_line(&b);
    }
    /* An empty message is allowed. */
    r.message[0] = '\0';
    round_trip(D_REPLY, &r, &b);
    kbuf_free(&b);
}

static void test_proc_round_trips(void **state)
{
    (void)state;
    static const char *const status_names[] = {"",         "authorized", "captured",
                                               "declined", "reversed",   "refunded"};
    kbuf b;
    kbuf_init(&b);
    for (int variant = 0; variant < 3; variant++) {
        pay_auth_req q = an_auth_req();
        if (variant == 1) {
            q.mode = PAY_MODE_OFFLINE;
            q.stored_at_ms = INT64_C(1795000000000);
            q.capture = false;
        } else if (variant == 2) {
            q.amount_minor = 1;
            q.blob_len = PAY_BLOB_MAX;
            for (size_t i = 0; i < PAY_BLOB_MAX; i++)
                q.blob[i] = (uint8_t)(255 - i);
        }
        round_trip(D_AUTH, &q, &b);
        assert_true(b.len <= PAY_BODY_MAX_BYTES);
    }

    pay_refund_req rq = {.store_id = "store-1",
                         .refund_id = "r-1",
                         .payment_id = "p-1",
                         .token = "tok_x",
                         .amount_minor = 499};
    round_trip(D_REFUND, &rq, &b);

    for (int s = PAY_ST_AUTHORIZED; s <= PAY_ST_REFUNDED; s++) {
        pay_result r;
        memset(&r, 0, sizeof r);
        snprintf(r.id, sizeof r.id, "p-%d", s);
        r.status = (pay_status)s;
        if (s == PAY_ST_DECLINED)
            snprintf(r.reason, sizeof r.reason, "%s", PAY_DECLINE_INSUFFICIENT_FUNDS);
        if (s == PAY_ST_AUTHORIZED || s == PAY_ST_CAPTURED)
            snprintf(r.auth_code, sizeof r.auth_code, "A1B2C3");
        round_trip(D_RESULT, &r, &b);
        /* What decoded has r's status (round_trip). */
        assert_string_equal(pay_status_name(r.status), status_names[s]);
    }
    assert_string_equal(pay_status_name((pay_status)0), "unknown");
    kbuf_free(&b);
}

static void test_encoders_refuse_bad_structs(void **state)
{
    (void)state;
    kbuf b;
    kbuf_init(&b);
    kassa_err err;
    pay_read_req q = a_read_req();
    q.amount_minor = 0;
    assert_int_equal(pay_read_req_encode(&q, &b, &err), KASSA_EINVAL);
    assert_true(tu_contains(err.msg, "amount_minor"));
    pay_read_reply r = a_card_reply();
    snprintf(r.card.last4, sizeof r.card.last4, "44a4");
    assert_int_equal(pay_read_reply_encode(&r, &b, &err), KASSA_EINVAL);
    assert_true(tu_contains(err.msg, "last4"));
    memset(&r, 0, sizeof r);
    snprintf(r.payment_id, sizeof r.payment_id, "p");
    snprintf(r.reason, sizeof r.reason, "timeout");
    snprintf(r.message, sizeof r.message, "two\nlines");
    assert_int_equal(pay_read_reply_encode(&r, &b, &err), KASSA_EINVAL);
    assert_true(tu_contains(err.msg, "message"));
    pay_auth_req a = an_auth_req();
    a.stored_at_ms = 5; /* online */
    assert_int_equal(pay_auth_req_encode(&a, &b, &err), KASSA_EINVAL);
    a = an_auth_req();
    a.blob_len = 0;
    assert_int_equal(pay_auth_req_encode(&a, &b, &err), KASSA_EINVAL);
    pay_result res;
    memset(&res, 0, sizeof res);
    snprintf(res.id, sizeof res.id, "p");
    res.status = PAY_ST_DECLINED; /* without a reason */
    assert_int_equal(pay_result_encode(&res, &b, &err), KASSA_EINVAL);
    assert_int_equal(b.len, 0); /* nothing appended on failure */
    kbuf_free(&b);
}

/* ---- rejections ---- */

static void expect_bad_n(int which, const char *text, size_t n, const char *needle)
{
    pay_msg m;
    kassa_err err;
    int rc = decode_any(which, text, n, &m, &err);
    if (rc != KASSA_ECORRUPT)
        fail_msg("accepted (rc %d): %.300s", rc, text);
    tu_check_msg(err.msg, sizeof err.msg);
    if (!tu_contains(err.msg, needle))
        fail_msg("'%s' does not mention '%s' (input %.200s)", err.msg, needle, text);
}

static void expect_bad(int which, const char *text, const char *needle)
{
    expect_bad_n(which, text, strlen(text), needle);
}

static void expect_good(int which, const char *text)
{
    pay_msg m;
    kassa_err err;
    if (decode_any(which, text, strlen(text), &m, &err) != KASSA_OK)
        fail_msg("refused: %s (%s)", text, err.msg);
}

#define REQ_HEAD "{\"v\":1,\"type\":\"read\",\"payment_id\":\"p-1\","
#define REQ_OK REQ_HEAD "\"amount_minor\":1250,\"currency\":\"EUR\",\"timeout_ms\":30000}"
#define CARD_HEAD "{\"v\":1,\"type\":\"card\",\"payment_id\":\"p-1\","
#define CARD_OK                                                                                    \
    CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"        \
              "\"exp_year\":2030,\"blob\":\"AAECAwQF\"}"
#define ERR_HEAD "{\"v\":1,\"type\":\"error\",\"payment_id\":\"p-1\",\"reason\":\"timeout\","
#define AUTH_HEAD "{\"v\":1,\"store_id\":\"s1\",\"payment_id\":\"p-1\",\"amount_minor\":1250,"
#define AUTH_OK                                                                                    \
    AUTH_HEAD                                                                                      \
    "\"currency\":\"EUR\",\"token\":\"tok_a\",\"blob\":\"AAECAwQF\",\"mode\":\"online\","          \
    "\"capture\":true,\"stored_at_ms\":0}"
#define REFUND_HEAD "{\"v\":1,\"store_id\":\"s1\",\"refund_id\":\"r-1\",\"payment_id\":\"p-1\","
#define REFUND_OK REFUND_HEAD "\"token\":\"tok_a\",\"amount_minor\":500}"

static void test_valid_bases(void **state)
{
    (void)state;
    /* The rejections below are each one change away from these. */
    expect_good(D_REQ, REQ_OK);
    expect_good(D_REPLY, CARD_OK);
    expect_good(D_REPLY, ERR_HEAD "\"message\":\"no card\"}");
    expect_good(D_AUTH, AUTH_OK);
    expect_good(D_REFUND, REFUND_OK);
    expect_good(D_RESULT, "{\"v\":1,\"id\":\"p-1\",\"status\":\"captured\",\"auth_code\":\"A1\"}");
    expect_good(D_RESULT, "{\"v\":1,\"id\":\"p-1\",\"status\":\"declined\",\"reason\":\"x_y\"}");
    expect_good(D_RESULT, "{\"v\":1,\"id\":\"r-1\",\"status\":\"refunded\"}");
    expect_good(D_REQ, "  " REQ_OK "  \n"); /* whitespace around is JSON */
}

typedef struct bad_case {
    int which;
    const char *text;
    const char *needle;
} bad_case;

static const bad_case bad_cases[] = {
    /* shape and version */
    {D_REQ, "", "not valid JSON"},
    {D_REQ, "hello", "not valid JSON"},
    {D_REQ, "[1,2]", "not a JSON object"},
    {D_REQ, "\"read\"", "JSON"},
    {D_REQ, "null", "JSON"},
    {D_REQ, REQ_OK " {}", "not valid JSON"},
    {D_REQ, "{\"type\":\"read\"}", "v: missing"},
    {D_REQ, "{\"v\":2,\"type\":\"read\"}", "v: unsupported version"},
    {D_REQ, "{\"v\":\"1\",\"type\":\"read\"}", "v: expected an integer"},
    {D_REQ, "{\"v\":1.0,\"type\":\"read\"}", "v: expected an integer"},
    {D_REQ, "{\"v\":1,\"type\":\"write\",\"payment_id\":\"p\"}", "type"},
    {D_REQ, "{\"v\":1,\"payment_id\":\"p\"}", "type: missing"},
    {D_REQ, "{\"v\":1,\"type\":7}", "type: expected a string"},
    {D_REPLY, "{\"v\":1,\"type\":\"cardx\",\"payment_id\":\"p\"}", "type"},
    {D_REQ, REQ_HEAD "\"amount_minor\":1250,\"currency\":\"EUR\",\"timeout_ms\":30000,\"x\":1}",
     "does not define"},
    {D_REQ, REQ_HEAD "\"amount_minor\":1,\"amount_minor\":2,\"currency\":\"EUR\",\"timeout_ms\":1}",
     "not valid JSON"},
    {D_REQ, REQ_HEAD "\"amount_minor\":1250,\n\"currency\":\"EUR\",\"timeout_ms\":30000}",
     "more than one line"},
    /* ids */
    {D_REQ, "{\"v\":1,\"type\":\"read\",\"amount_minor\":1,\"currency\":\"EUR\",\"timeout_ms\":1}",
     "payment_id: missing"},
    {D_REQ,
     "{\"v\":1,\"type\":\"read\",\"payment_id\":\"p 1\",\"amount_minor\":1,\"currency\":\"EUR\","
     "\"timeout_ms\":1}",
     "payment_id"},
    {D_REQ,
     "{\"v\":1,\"type\":\"read\",\"payment_id\":\"\",\"amount_minor\":1,\"currency\":\"EUR\","
     "\"timeout_ms\":1}",
     "payment_id"},
    {D_REQ,
     "{\"v\":1,\"type\":\"read\",\"payment_id\":\"p/1\",\"amount_minor\":1,\"currency\":\"EUR\","
     "\"timeout_ms\":1}",
     "payment_id"},
    {D_REQ,
     "{\"v\":1,\"type\":\"read\",\"payment_id\":\"p\\u0000\",\"amount_minor\":1,\"currency\":"
     "\"EUR\",\"timeout_ms\":1}",
     "not valid JSON"},
    {D_REQ,
     "{\"v\":1,\"type\":\"read\",\"payment_id\":5,\"amount_minor\":1,\"currency\":\"EUR\","
     "\"timeout_ms\":1}",
     "payment_id: expected a string"},
    /* amounts, currency, timeout */
    {D_REQ, REQ_HEAD "\"amount_minor\":0,\"currency\":\"EUR\",\"timeout_ms\":30000}",
     "amount_minor: out of range"},
    {D_REQ, REQ_HEAD "\"amount_minor\":-5,\"currency\":\"EUR\",\"timeout_ms\":30000}",
     "amount_minor: out of range"},
    {D_REQ, REQ_HEAD "\"amount_minor\":10000000000001,\"currency\":\"EUR\",\"timeout_ms\":1}",
     "amount_minor: out of range"},
    {D_REQ, REQ_HEAD "\"amount_minor\":99999999999999999999999,\"currency\":\"EUR\"}",
     "not valid JSON"},
    {D_REQ, REQ_HEAD "\"amount_minor\":12.5,\"currency\":\"EUR\",\"timeout_ms\":30000}",
     "amount_minor: expected an integer"},
    {D_REQ, REQ_HEAD "\"amount_minor\":\"1250\",\"currency\":\"EUR\",\"timeout_ms\":30000}",
     "amount_minor: expected an integer"},
    {D_REQ, REQ_HEAD "\"amount_minor\":true,\"currency\":\"EUR\",\"timeout_ms\":30000}",
     "amount_minor: expected an integer"},
    {D_REQ, REQ_HEAD "\"amount_minor\":1250,\"currency\":\"eur\",\"timeout_ms\":30000}",
     "currency"},
    {D_REQ, REQ_HEAD "\"amount_minor\":1250,\"currency\":\"EURO\",\"timeout_ms\":30000}",
     "currency: longer than 3"},
    {D_REQ, REQ_HEAD "\"amount_minor\":1250,\"currency\":\"E1R\",\"timeout_ms\":30000}",
     "currency"},
    {D_REQ, REQ_HEAD "\"amount_minor\":1250,\"currency\":\"EU\",\"timeout_ms\":30000}", "currency"},
    {D_REQ, REQ_HEAD "\"amount_minor\":1250,\"currency\":\"EUR\",\"timeout_ms\":0}",
     "timeout_ms: out of range"},
    {D_REQ, REQ_HEAD "\"amount_minor\":1250,\"currency\":\"EUR\",\"timeout_ms\":600001}",
     "timeout_ms: out of range"},
    {D_REQ, REQ_HEAD "\"amount_minor\":1250,\"currency\":\"EUR\"}", "timeout_ms: missing"},
    /* card replies */
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok-a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
               "\"exp_year\":2030,\"blob\":\"AAECAwQF\"}",
     "token"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
               "\"exp_year\":2030,\"blob\":\"AAECAwQF\"}",
     "token"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"VISA\",\"last4\":\"1111\",\"exp_month\":12,"
               "\"exp_year\":2030,\"blob\":\"AAECAwQF\"}",
     "brand"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"averyveryverylongbrand\",\"last4\":\"1111\","
               "\"exp_month\":12,\"exp_year\":2030,\"blob\":\"AAECAwQF\"}",
     "brand: longer than 15"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"111\",\"exp_month\":12,"
               "\"exp_year\":2030,\"blob\":\"AAECAwQF\"}",
     "last4"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"11111\",\"exp_month\":12,"
               "\"exp_year\":2030,\"blob\":\"AAECAwQF\"}",
     "last4"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1a11\",\"exp_month\":12,"
               "\"exp_year\":2030,\"blob\":\"AAECAwQF\"}",
     "last4"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":0,"
               "\"exp_year\":2030,\"blob\":\"AAECAwQF\"}",
     "exp_month"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":13,"
               "\"exp_year\":2030,\"blob\":\"AAECAwQF\"}",
     "exp_month"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
               "\"exp_year\":1999,\"blob\":\"AAECAwQF\"}",
     "exp_year"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
               "\"exp_year\":2100,\"blob\":\"AAECAwQF\"}",
     "exp_year"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
               "\"exp_year\":30,\"blob\":\"AAECAwQF\"}",
     "exp_year"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
               "\"exp_year\":2030,\"blob\":\"!!!!\"}",
     "blob: not base64"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
               "\"exp_year\":2030,\"blob\":\"AAECAwQ\"}",
     "blob: not base64"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
               "\"exp_year\":2030,\"blob\":\"AAEC AwQF\"}",
     "blob: not base64"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
               "\"exp_year\":2030,\"blob\":\"AAECAwQF\\n\"}",
     "blob: not base64"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
               "\"exp_year\":2030,\"blob\":\"\"}",
     "blob: not base64"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
               "\"exp_year\":2030,\"blob\":\"AAECAwQF\",\"reason\":\"busy\"}",
     "does not define"},
    {D_REPLY,
     CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
               "\"exp_year\":2030}",
     "blob: missing"},
    /* error replies */
    {D_REPLY, ERR_HEAD "\"message\":\"a\\u0007bell\"}", "message"},
    {D_REPLY, ERR_HEAD "\"message\":\"two\\nlines\"}", "message"},
    {D_REPLY, ERR_HEAD "\"message\":\"c1 \\u0085 control\"}", "message"},
    {D_REPLY, ERR_HEAD "\"message\":\"del \\u007f\"}", "message"},
    {D_REPLY, ERR_HEAD "\"message\":7}", "message: expected a string"},
    {D_REPLY,
     "{\"v\":1,\"type\":\"error\",\"payment_id\":\"p\",\"reason\":\"weird\",\"message\":\"\"}",
     "reason"},
    {D_REPLY, "{\"v\":1,\"type\":\"error\",\"payment_id\":\"p\",\"message\":\"m\"}",
     "reason: missing"},
    /* authorisation requests */
    {D_AUTH,
     AUTH_HEAD "\"currency\":\"EUR\",\"token\":\"tok_a\",\"blob\":\"AAECAwQF\",\"mode\":\"batch\","
               "\"capture\":true,\"stored_at_ms\":0}",
     "mode"},
    {D_AUTH,
     AUTH_HEAD "\"currency\":\"EUR\",\"token\":\"tok_a\",\"blob\":\"AAECAwQF\",\"mode\":\"online\","
               "\"capture\":\"yes\",\"stored_at_ms\":0}",
     "capture: expected true or false"},
    {D_AUTH,
     AUTH_HEAD "\"currency\":\"EUR\",\"token\":\"tok_a\",\"blob\":\"AAECAwQF\",\"mode\":\"online\","
               "\"capture\":1,\"stored_at_ms\":0}",
     "capture: expected true or false"},
    {D_AUTH,
     AUTH_HEAD "\"currency\":\"EUR\",\"token\":\"tok_a\",\"blob\":\"AAECAwQF\",\"mode\":\"online\","
               "\"capture\":true,\"stored_at_ms\":-1}",
     "stored_at_ms"},
    {D_AUTH,
     AUTH_HEAD "\"currency\":\"EUR\",\"token\":\"tok_a\",\"blob\":\"AAECAwQF\",\"mode\":\"online\","
               "\"capture\":true,\"stored_at_ms\":5}",
     "stored_at_ms"},
    {D_AUTH,
     AUTH_HEAD
     "\"currency\":\"EUR\",\"token\":\"tok_a\",\"blob\":\"AAECAwQF\",\"mode\":\"offline\","
     "\"capture\":true,\"stored_at_ms\":0}",
     "stored_at_ms"},
    {D_AUTH,
     AUTH_HEAD "\"currency\":\"EUR\",\"token\":\"tok_a\",\"blob\":\"AAECAwQF\",\"mode\":\"online\","
               "\"capture\":true}",
     "stored_at_ms: missing"},
    {D_AUTH,
     "{\"v\":1,\"store_id\":\"s 1\",\"payment_id\":\"p-1\",\"amount_minor\":1,\"currency\":\"EUR\","
     "\"token\":\"tok_a\",\"blob\":\"AAECAwQF\",\"mode\":\"online\",\"capture\":true,"
     "\"stored_at_ms\":0}",
     "store_id"},
    {D_AUTH,
     "{\"v\":1,\"store_id\":\"s1234567890123456789012345678901234\",\"payment_id\":\"p-1\","
     "\"amount_minor\":1,\"currency\":\"EUR\",\"token\":\"tok_a\",\"blob\":\"AAECAwQF\",\"mode\":"
     "\"online\",\"capture\":true,\"stored_at_ms\":0}",
     "store_id: longer than 32"},
    {D_AUTH,
     AUTH_HEAD "\"currency\":\"EUR\",\"token\":\"tok_a\",\"blob\":\"QR==\",\"mode\":\"online\","
               "\"capture\":true,\"stored_at_ms\":0}",
     "blob"},
    /* refunds */
    {D_REFUND,
     "{\"v\":1,\"store_id\":\"s1\",\"payment_id\":\"p-1\",\"token\":\"t\",\"amount_minor\":1}",
     "refund_id: missing"},
    {D_REFUND, REFUND_HEAD "\"token\":\"tok_a\",\"amount_minor\":-500}", "amount_minor"},
    {D_REFUND, REFUND_HEAD "\"token\":\"tok a\",\"amount_minor\":500}", "token"},
    {D_REFUND, REFUND_HEAD "\"token\":\"tok_a\"}", "amount_minor: missing"},
    /* results */
    {D_RESULT, "{\"v\":1,\"id\":\"p\",\"status\":\"approved\",\"auth_code\":\"A1\"}", "status"},
    {D_RESULT, "{\"v\":1,\"id\":\"p\",\"status\":\"declined\"}", "reason"},
    {D_RESULT, "{\"v\":1,\"id\":\"p\",\"status\":\"declined\",\"reason\":\"Bad!\"}", "reason"},
    {D_RESULT, "{\"v\":1,\"id\":\"p\",\"status\":\"authorized\"}", "auth_code"},
    {D_RESULT, "{\"v\":1,\"id\":\"p\",\"status\":\"captured\",\"auth_code\":\"ab12\"}",
     "auth_code"},
    {D_RESULT, "{\"v\":1,\"id\":\"p\",\"status\":\"captured\",\"auth_code\":\"A1234567890123456\"}",
     "auth_code: longer than 15"},
    {D_RESULT,
     "{\"v\":1,\"id\":\"p\",\"status\":\"captured\",\"auth_code\":\"A1\",\"reason\":\"late\"}",
     "reason"},
    {D_RESULT, "{\"v\":1,\"id\":\"p\",\"status\":\"refunded\",\"auth_code\":\"A1\"}", "auth_code"},
    {D_RESULT, "{\"v\":1,\"status\":\"refunded\"}", "id: missing"},
    {D_RESULT, "<html>502 Bad Gateway</html>", "not valid JSON"},
};

static void test_rejections(void **state)
{
    (void)state;
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad_cases); i++)
        expect_bad(bad_cases[i].which, bad_cases[i].text, bad_cases[i].needle);
    assert_true(KASSA_ARRAY_LEN(bad_cases) >= 25);
}

/* Rejections that need built-up inputs: lengths at the limits. */
static void test_rejections_lengths(void **state)
{
    (void)state;
    static char buf[3 * PAY_BODY_MAX_BYTES];
    char id[PAY_ID_MAX + 2];
    memset(id, 'a', sizeof id - 1);
    id[PAY_ID_MAX + 1] = '\0'; /* 65 */
    snprintf(buf, sizeof buf,
             "{\"v\":1,\"type\":\"read\",\"payment_id\":\"%s\",\"amount_minor\":1,\"currency\":"
             "\"EUR\",\"timeout_ms\":1}",
             id);
    expect_bad(D_REQ, buf, "payment_id: longer than 64");
    id[PAY_ID_MAX] = '\0'; /* 64: fine */
    snprintf(buf, sizeof buf,
             "{\"v\":1,\"type\":\"read\",\"payment_id\":\"%s\",\"amount_minor\":1,\"currency\":"
             "\"EUR\",\"timeout_ms\":1}",
             id);
    expect_good(D_REQ, buf);

    char tok[PAY_TOKEN_MAX + 2];
    memset(tok, 'T', sizeof tok - 1);
    tok[PAY_TOKEN_MAX + 1] = '\0';
    snprintf(buf, sizeof buf,
             CARD_HEAD "\"token\":\"%s\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
                       "\"exp_year\":2030,\"blob\":\"AAECAwQF\"}",
             tok);
    expect_bad(D_REPLY, buf, "token: longer than 40");

    char msg[PAY_MESSAGE_MAX + 2];
    memset(msg, 'm', sizeof msg - 1);
    msg[PAY_MESSAGE_MAX + 1] = '\0';
    snprintf(buf, sizeof buf, ERR_HEAD "\"message\":\"%s\"}", msg);
    expect_bad(D_REPLY, buf, "message: longer than 127");

    /* A blob of PAY_BLOB_MAX + 1 bytes (base64 of 513 zero bytes). */
    size_t b64_len = 4 * ((PAY_BLOB_MAX + 1 + 2) / 3);
    char *b64 = malloc(b64_len + 1);
    assert_non_null(b64);
    memset(b64, 'A', b64_len);
    b64[b64_len] = '\0'; /* 513 = 3 * 171: no padding */
    snprintf(buf, sizeof buf,
             CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
                       "\"exp_year\":2030,\"blob\":\"%s\"}",
             b64);
    expect_bad(D_REPLY, buf, "blob");
    free(b64);

    /* A line one byte over the limit, padded with JSON whitespace. */
    size_t base = strlen(REQ_OK);
    memset(buf, ' ', PAY_LINE_MAX_BYTES + 1);
    memcpy(buf, REQ_OK, base);
    expect_bad_n(D_REQ, buf, PAY_LINE_MAX_BYTES + 1, "longer than 4096");
    /* Exactly at the limit, newline included, it is fine. */
    buf[PAY_LINE_MAX_BYTES - 1] = '\n';
    kassa_err err;
    pay_read_req q;
    assert_int_equal(pay_read_req_decode(buf, PAY_LINE_MAX_BYTES, &q, &err), KASSA_OK);

    /* A body over PAY_BODY_MAX_BYTES. */
    base = strlen(AUTH_OK);
    memset(buf, ' ', PAY_BODY_MAX_BYTES + 1);
    memcpy(buf, AUTH_OK, base);
    expect_bad_n(D_AUTH, buf, PAY_BODY_MAX_BYTES + 1, "longer than 8192");
    expect_bad_n(D_RESULT, buf, PAY_BODY_MAX_BYTES + 1, "longer than 8192");

    /* A NUL byte inside the line. */
    memcpy(buf, REQ_OK, strlen(REQ_OK) + 1);
    buf[5] = '\0';
    expect_bad_n(D_REQ, buf, strlen(REQ_OK), "not valid JSON");
}

/* ---- fuzz corpus seeds ---- */

static void seed(const char *dir, const char *sub, const char *name, const void *p, size_t n)
{
    char path[256];
    if (dir) {
        snprintf(path, sizeof path, "%s/%s", dir, sub);
        assert_int_equal(tu_seed_write(path, name, p, n), 0);
    }
}

/* msg, of kind which, encoded: the seed sub/name. */
static void seed_msg(const char *dir, const char *sub, const char *name, int which, const void *msg)
{
    kbuf b;
    kbuf_init(&b);
    kassa_err err;
    assert_int_equal(encode_any(which, msg, &b, &err), KASSA_OK);
    seed(dir, sub, name, b.data, b.len);
    kbuf_free(&b);
}

/* Valid messages (from the encoders) and near misses. */
static void test_corpus_seeds(void **state)
{
    (void)state;
    const char *dir = getenv("PAY_SEED_DIR");

    pay_read_req q = a_read_req();
    seed_msg(dir, "fuzz_pay_reader", "read_req", D_REQ, &q);
    pay_read_reply r = a_card_reply();
    r.card.blob_len = 80;
    seed_msg(dir, "fuzz_pay_reader", "card_reply", D_REPLY, &r);
    r = (pay_read_reply){.payment_id = "p-9",
                         .reason = "unreadable",
                         .message = "card number failed its check digit"};
    seed_msg(dir, "fuzz_pay_reader", "error_reply", D_REPLY, &r);

    pay_auth_req a = an_auth_req();
    seed_msg(dir, "fuzz_pay_proc", "auth_online", D_AUTH, &a);
    a.mode = PAY_MODE_OFFLINE;
    a.stored_at_ms = INT64_C(1795000000000);
    a.capture = false;
    seed_msg(dir, "fuzz_pay_proc", "auth_offline", D_AUTH, &a);

    static const struct {
        const char *sub, *name, *text;
    } texts[] = {
        {"fuzz_pay_reader", "busy_reply",
         "{\"v\":1,\"type\":\"error\",\"payment_id\":\"p-2\",\"reason\":\"busy\",\"message\":"
         "\"another read is in progress\"}\n"},
        {"fuzz_pay_reader", "min_card", CARD_OK "\n"},
        {"fuzz_pay_reader", "near_amount_real",
         REQ_HEAD "\"amount_minor\":12.5,\"currency\":\"EUR\",\"timeout_ms\":30000}\n"},
        {"fuzz_pay_reader", "near_v2",
         "{\"v\":2,\"type\":\"read\",\"payment_id\":\"p\",\"amount_minor\":1,\"currency\":\"EUR\","
         "\"timeout_ms\":1}\n"},
        {"fuzz_pay_reader", "near_last4",
         CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"111\",\"exp_month\":12,"
                   "\"exp_year\":2030,\"blob\":\"AAECAwQF\"}\n"},
        {"fuzz_pay_reader", "near_blob",
         CARD_HEAD "\"token\":\"tok_a\",\"brand\":\"visa\",\"last4\":\"1111\",\"exp_month\":12,"
                   "\"exp_year\":2030,\"blob\":\"QR==\"}\n"},
        {"fuzz_pay_reader", "near_message", ERR_HEAD "\"message\":\"a\\u0007b\"}\n"},
        {"fuzz_pay_reader", "near_two_lines", REQ_OK "\n" REQ_OK "\n"},
        {"fuzz_pay_reader", "near_dup_key",
         REQ_HEAD "\"amount_minor\":1,\"amount_minor\":2,\"currency\":\"EUR\",\"timeout_ms\":1}\n"},
        {"fuzz_pay_reader", "present_control",
         "{\"v\":1,\"type\":\"present\",\"behaviour\":\"timeout\"}\n"},
        {"fuzz_pay_proc", "refund", REFUND_OK},
        {"fuzz_pay_proc", "result_captured",
         "{\"v\":1,\"id\":\"p-1\",\"status\":\"captured\",\"auth_code\":\"Q7ZK2M\"}"},
        {"fuzz_pay_proc", "result_declined",
         "{\"v\":1,\"id\":\"p-1\",\"status\":\"declined\",\"reason\":\"insufficient_funds\"}"},
        {"fuzz_pay_proc", "result_reversed", "{\"v\":1,\"id\":\"p-1\",\"status\":\"reversed\"}"},
        {"fuzz_pay_proc", "result_refunded", "{\"v\":1,\"id\":\"r-1\",\"status\":\"refunded\"}"},
        {"fuzz_pay_proc", "near_result_no_reason",
         "{\"v\":1,\"id\":\"p-1\",\"status\":\"declined\"}"},
        {"fuzz_pay_proc", "near_auth_mode",
         AUTH_HEAD "\"currency\":\"EUR\",\"token\":\"tok_a\",\"blob\":\"AAECAwQF\",\"mode\":"
                   "\"batch\",\"capture\":true,\"stored_at_ms\":0}"},
        {"fuzz_pay_proc", "near_refund_amount",
         REFUND_HEAD "\"token\":\"tok_a\",\"amount_minor\":0}"},
        {"fuzz_pay_proc", "garbage", "<html><body>502 Bad Gateway</body></html>\n"},
        {"fuzz_pay_proc", "error_body", "{\"error\":\"payment id reused with different details\"}"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(texts); i++)
        seed(dir, texts[i].sub, texts[i].name, texts[i].text, strlen(texts[i].text));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_luhn_test_cards),
        cmocka_unit_test(test_brands),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_scan_formats),
        cmocka_unit_test(test_scan_binary_junk),
        cmocka_unit_test(test_scan_no_hit_on_invalid),
        cmocka_unit_test(test_scan_counts),
        cmocka_unit_test(test_scan_stray_digit),
        cmocka_unit_test(test_scan_long_runs),
        cmocka_unit_test(test_read_req_round_trip),
        cmocka_unit_test(test_read_reply_round_trip),
        cmocka_unit_test(test_proc_round_trips),
        cmocka_unit_test(test_encoders_refuse_bad_structs),
        cmocka_unit_test(test_valid_bases),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_rejections_lengths),
        cmocka_unit_test(test_corpus_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
