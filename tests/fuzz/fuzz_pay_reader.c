/*
 * Fuzz target for the card reader protocol's decoders (pay_read_req_decode,
 * pay_read_reply_decode) and the PAN scan (pay_scan_pans).
 *
 * Invariants:
 *  - a failed decode gives KASSA_ECORRUPT with a one-line printable message
 *    (never quoting the input) and leaves the output zeroed;
 *  - whatever decodes holds valid fields, and encoding it gives one line
 *    ending in '\n' that decodes to the same values;
 *  - every scan hit is 12..19 digits passing Luhn whose first digit sits
 *    at the reported offset, and the count matches the callbacks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pay/pay.h"
#include "testutil.h"

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static void check_fail(int rc, const kassa_err *err)
{
    tu_check(rc == KASSA_ECORRUPT && err->code == rc);
    tu_check_msg(err->msg, sizeof err->msg);
}

static void check_line(const kbuf *b)
{
    tu_check(b->len >= 2 && b->len <= PAY_LINE_MAX_BYTES && b->data[b->len - 1] == '\n');
    tu_check(memchr(b->data, '\n', b->len - 1) == NULL);
}

static void fuzz_req(const char *p, size_t n)
{
    pay_read_req q, again;
    kassa_err err;
    int rc = pay_read_req_decode(p, n, &q, &err);
    if (rc != KASSA_OK) {
        check_fail(rc, &err);
        tu_check(all_zero(&q, sizeof q));
        return;
    }
    tu_check(kassa_valid_id(q.payment_id, PAY_ID_MAX));
    tu_check(q.amount_minor >= 1 && q.timeout_ms >= 1);
    kbuf b;
    kbuf_init(&b);
    tu_check(pay_read_req_encode(&q, &b, NULL) == KASSA_OK);
    check_line(&b);
    tu_check(pay_read_req_decode((const char *)b.data, b.len, &again, NULL) == KASSA_OK);
    tu_check(strcmp(q.payment_id, again.payment_id) == 0 && q.amount_minor == again.amount_minor &&
             strcmp(q.currency, again.currency) == 0 && q.timeout_ms == again.timeout_ms);
    kbuf_free(&b);
}

static void fuzz_reply(const char *p, size_t n)
{
    pay_read_reply r, again;
    kassa_err err;
    int rc = pay_read_reply_decode(p, n, &r, &err);
    if (rc != KASSA_OK) {
        check_fail(rc, &err);
        tu_check(all_zero(&r, sizeof r));
        return;
    }
    tu_check(kassa_valid_id(r.payment_id, PAY_ID_MAX));
    if (r.ok) {
        tu_check(r.card.blob_len >= 1 && r.card.blob_len <= PAY_BLOB_MAX);
        tu_check(r.card.exp_month >= 1 && r.card.exp_month <= 12);
        tu_check(r.card.exp_year >= 2000 && r.card.exp_year <= 2099);
        tu_check(strlen(r.card.last4) == 4);
    } else {
        tu_check(tu_no_controls(r.message));
    }
    kbuf b;
    kbuf_init(&b);
    tu_check(pay_read_reply_encode(&r, &b, NULL) == KASSA_OK);
    check_line(&b);
    tu_check(pay_read_reply_decode((const char *)b.data, b.len, &again, NULL) == KASSA_OK);
    tu_check(strcmp(r.payment_id, again.payment_id) == 0 && r.ok == again.ok);
    if (r.ok) {
        const pay_card *c = &r.card, *d = &again.card;
        tu_check(strcmp(c->token, d->token) == 0 && strcmp(c->brand, d->brand) == 0 &&
                 strcmp(c->last4, d->last4) == 0 && c->exp_month == d->exp_month &&
                 c->exp_year == d->exp_year && c->blob_len == d->blob_len &&
                 memcmp(c->blob, d->blob, c->blob_len) == 0);
    } else {
        tu_check(strcmp(r.reason, again.reason) == 0 && strcmp(r.message, again.message) == 0);
    }
    kbuf_free(&b);
}

typedef struct scan_ctx {
    const uint8_t *data;
    size_t size;
    size_t calls;
} scan_ctx;

static void on_pan(const char *pan, size_t offset, void *arg)
{
    scan_ctx *s = arg;
    size_t n = strlen(pan);
    tu_check(n >= PAY_PAN_MIN && n <= PAY_PAN_MAX && pay_luhn_ok(pan, n));
    tu_check(offset < s->size && s->data[offset] == (uint8_t)pan[0]);
    s->calls++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_req((const char *)data, size);
    fuzz_reply((const char *)data, size);
    scan_ctx s = {data, size, 0};
    tu_check(pay_scan_pans(data, size, on_pan, &s) == s.calls);
    return 0;
}
