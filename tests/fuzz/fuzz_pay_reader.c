/*
 * Fuzz target for the card reader protocol's decoders (pay_read_req_decode,
 * pay_read_reply_decode) and the PAN scan (pay_scan_pans).
 *
 * Invariants:
 *  - a failed decode gives KASSA_ECORRUPT with a one-line printable message
 *    (never quoting the input) and leaves the output zeroed (tu_decoded);
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

/* The line an encoder wrote into b (rc: what it returned): one line,
 * ending in '\n', within the limit; the text to decode again. */
static const char *line(int rc, const kbuf *b)
{
    tu_check(rc == KASSA_OK);
    tu_check(b->len >= 2 && b->len <= PAY_LINE_MAX_BYTES && b->data[b->len - 1] == '\n');
    tu_check(memchr(b->data, '\n', b->len - 1) == NULL);
    return (const char *)b->data;
}

/* Each check_* takes what decoded and an empty buffer for its line. */

static void check_req(const pay_read_req *q, kbuf *b)
{
    tu_check(kassa_valid_id(q->payment_id, PAY_ID_MAX));
    tu_check(q->amount_minor >= 1 && q->timeout_ms >= 1);
    const char *text = line(pay_read_req_encode(q, b, NULL), b);
    pay_read_req again;
    tu_check(pay_read_req_decode(text, b->len, &again, NULL) == KASSA_OK);
    tu_check(strcmp(q->payment_id, again.payment_id) == 0 &&
             q->amount_minor == again.amount_minor && strcmp(q->currency, again.currency) == 0 &&
             q->timeout_ms == again.timeout_ms);
}

static void check_reply(const pay_read_reply *r, kbuf *b)
{
    tu_check(kassa_valid_id(r->payment_id, PAY_ID_MAX));
    if (r->ok) {
        tu_check(r->card.blob_len >= 1 && r->card.blob_len <= PAY_BLOB_MAX);
        tu_check(r->card.exp_month >= 1 && r->card.exp_month <= 12);
        tu_check(r->card.exp_year >= 2000 && r->card.exp_year <= 2099);
        tu_check(strlen(r->card.last4) == 4);
    } else {
        tu_check(tu_no_controls(r->message));
    }
    const char *text = line(pay_read_reply_encode(r, b, NULL), b);
    pay_read_reply again;
    tu_check(pay_read_reply_decode(text, b->len, &again, NULL) == KASSA_OK);
    tu_check(strcmp(r->payment_id, again.payment_id) == 0 && r->ok == again.ok);
    if (r->ok) {
        const pay_card *c = &r->card, *d = &again.card;
        tu_check(strcmp(c->token, d->token) == 0 && strcmp(c->brand, d->brand) == 0 &&
                 strcmp(c->last4, d->last4) == 0 && c->exp_month == d->exp_month &&
                 c->exp_year == d->exp_year && c->blob_len == d->blob_len &&
                 memcmp(c->blob, d->blob, c->blob_len) == 0);
    } else {
        tu_check(strcmp(r->reason, again.reason) == 0 && strcmp(r->message, again.message) == 0);
    }
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
    const char *p = (const char *)data;
    kassa_err err;
    kbuf b;
    kbuf_init(&b);
    pay_read_req req;
    if (tu_decoded(pay_read_req_decode(p, size, &req, &err), &err, &req, sizeof req))
        check_req(&req, &b);
    pay_read_reply reply;
    kbuf_reset(&b);
    if (tu_decoded(pay_read_reply_decode(p, size, &reply, &err), &err, &reply, sizeof reply))
        check_reply(&reply, &b);
    kbuf_free(&b);
    scan_ctx s = {data, size, 0};
    tu_check(pay_scan_pans(data, size, on_pan, &s) == s.calls);
    return 0;
}
