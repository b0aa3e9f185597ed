/*
 * Fuzz target for the processor API's decoders: pay_auth_req_decode,
 * pay_refund_req_decode and pay_result_decode, each fed the whole input.
 *
 * Invariants:
 *  - a failed decode gives KASSA_ECORRUPT with a one-line printable message
 *    and leaves the output zeroed (tu_decoded);
 *  - whatever decodes holds valid fields, and encoding it gives a body of
 *    at most PAY_BODY_MAX_BYTES that decodes to the same values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pay/pay.h"
#include "testutil.h"

/* The body an encoder wrote into b (rc: what it returned): within the
 * limit; the text to decode again. */
static const char *body(int rc, const kbuf *b)
{
    tu_check(rc == KASSA_OK && b->len <= PAY_BODY_MAX_BYTES);
    return (const char *)b->data;
}

/* Each check_* takes what decoded and an empty buffer for its body. */

static void check_auth(const pay_auth_req *q, kbuf *b)
{
    tu_check(kassa_valid_id(q->store_id, KASSA_ID_MAX) &&
             kassa_valid_id(q->payment_id, PAY_ID_MAX));
    tu_check(q->blob_len >= 1 && q->blob_len <= PAY_BLOB_MAX && q->amount_minor >= 1);
    tu_check(q->mode == PAY_MODE_ONLINE || q->mode == PAY_MODE_OFFLINE);
    const char *text = body(pay_auth_req_encode(q, b, NULL), b);
    pay_auth_req g;
    tu_check(pay_auth_req_decode(text, b->len, &g, NULL) == KASSA_OK);
    tu_check(strcmp(q->store_id, g.store_id) == 0 && strcmp(q->payment_id, g.payment_id) == 0 &&
             q->amount_minor == g.amount_minor && strcmp(q->currency, g.currency) == 0 &&
             strcmp(q->token, g.token) == 0 && q->blob_len == g.blob_len &&
             memcmp(q->blob, g.blob, q->blob_len) == 0 && q->mode == g.mode &&
             q->capture == g.capture && q->stored_at_ms == g.stored_at_ms);
}

static void check_refund(const pay_refund_req *q, kbuf *b)
{
    tu_check(kassa_valid_id(q->refund_id, PAY_ID_MAX) && kassa_valid_id(q->payment_id, PAY_ID_MAX));
    const char *text = body(pay_refund_req_encode(q, b, NULL), b);
    pay_refund_req g;
    tu_check(pay_refund_req_decode(text, b->len, &g, NULL) == KASSA_OK);
    tu_check(strcmp(q->store_id, g.store_id) == 0 && strcmp(q->refund_id, g.refund_id) == 0 &&
             strcmp(q->payment_id, g.payment_id) == 0 && strcmp(q->token, g.token) == 0 &&
             q->amount_minor == g.amount_minor);
}

static void check_result(const pay_result *r, kbuf *b)
{
    tu_check(kassa_valid_id(r->id, PAY_ID_MAX));
    tu_check(r->status >= PAY_ST_AUTHORIZED && r->status <= PAY_ST_REFUNDED);
    tu_check((r->status == PAY_ST_DECLINED) == (r->reason[0] != '\0'));
    const char *text = body(pay_result_encode(r, b, NULL), b);
    pay_result g;
    tu_check(pay_result_decode(text, b->len, &g, NULL) == KASSA_OK);
    tu_check(strcmp(r->id, g.id) == 0 && r->status == g.status &&
             strcmp(r->reason, g.reason) == 0 && strcmp(r->auth_code, g.auth_code) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    kassa_err err;
    kbuf b;
    kbuf_init(&b);
    pay_auth_req auth;
    if (tu_decoded(pay_auth_req_decode(p, size, &auth, &err), &err, &auth, sizeof auth))
        check_auth(&auth, &b);
    pay_refund_req refund;
    kbuf_reset(&b);
    if (tu_decoded(pay_refund_req_decode(p, size, &refund, &err), &err, &refund, sizeof refund))
        check_refund(&refund, &b);
    pay_result result;
    kbuf_reset(&b);
    if (tu_decoded(pay_result_decode(p, size, &result, &err), &err, &result, sizeof result))
        check_result(&result, &b);
    kbuf_free(&b);
    return 0;
}
