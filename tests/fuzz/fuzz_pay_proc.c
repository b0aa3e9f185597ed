/*
 * Fuzz target for the processor API's decoders: pay_auth_req_decode,
 * pay_refund_req_decode and pay_result_decode, each fed the whole input.
 *
 * Invariants:
 *  - a failed decode gives KASSA_ECORRUPT with a one-line printable message
 *    and leaves the output zeroed;
 *  - whatever decodes holds valid fields, and encoding it gives a body of
 *    at most PAY_BODY_MAX_BYTES that decodes to the same values.
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

static void fuzz_auth(const char *p, size_t n)
{
    pay_auth_req q, g;
    kassa_err err;
    int rc = pay_auth_req_decode(p, n, &q, &err);
    if (rc != KASSA_OK) {
        check_fail(rc, &err);
        tu_check(all_zero(&q, sizeof q));
        return;
    }
    tu_check(kassa_valid_id(q.store_id, KASSA_ID_MAX) && kassa_valid_id(q.payment_id, PAY_ID_MAX));
    tu_check(q.blob_len >= 1 && q.blob_len <= PAY_BLOB_MAX && q.amount_minor >= 1);
    tu_check(q.mode == PAY_MODE_ONLINE || q.mode == PAY_MODE_OFFLINE);
    kbuf b;
    kbuf_init(&b);
    tu_check(pay_auth_req_encode(&q, &b, NULL) == KASSA_OK && b.len <= PAY_BODY_MAX_BYTES);
    tu_check(pay_auth_req_decode((const char *)b.data, b.len, &g, NULL) == KASSA_OK);
    tu_check(strcmp(q.store_id, g.store_id) == 0 && strcmp(q.payment_id, g.payment_id) == 0 &&
             q.amount_minor == g.amount_minor && strcmp(q.currency, g.currency) == 0 &&
             strcmp(q.token, g.token) == 0 && q.blob_len == g.blob_len &&
             memcmp(q.blob, g.blob, q.blob_len) == 0 && q.mode == g.mode &&
             q.capture == g.capture && q.stored_at_ms == g.stored_at_ms);
    kbuf_free(&b);
}

static void fuzz_refund(const char *p, size_t n)
{
    pay_refund_req q, g;
    kassa_err err;
    int rc = pay_refund_req_decode(p, n, &q, &err);
    if (rc != KASSA_OK) {
        check_fail(rc, &err);
        tu_check(all_zero(&q, sizeof q));
        return;
    }
    tu_check(kassa_valid_id(q.refund_id, PAY_ID_MAX) && kassa_valid_id(q.payment_id, PAY_ID_MAX));
    kbuf b;
    kbuf_init(&b);
    tu_check(pay_refund_req_encode(&q, &b, NULL) == KASSA_OK && b.len <= PAY_BODY_MAX_BYTES);
    tu_check(pay_refund_req_decode((const char *)b.data, b.len, &g, NULL) == KASSA_OK);
    tu_check(strcmp(q.store_id, g.store_id) == 0 && strcmp(q.refund_id, g.refund_id) == 0 &&
             strcmp(q.payment_id, g.payment_id) == 0 && strcmp(q.token, g.token) == 0 &&
             q.amount_minor == g.amount_minor);
    kbuf_free(&b);
}

static void fuzz_result(const char *p, size_t n)
{
    pay_result r, g;
    kassa_err err;
    int rc = pay_result_decode(p, n, &r, &err);
    if (rc != KASSA_OK) {
        check_fail(rc, &err);
        tu_check(all_zero(&r, sizeof r));
        return;
    }
    tu_check(kassa_valid_id(r.id, PAY_ID_MAX));
    tu_check(r.status >= PAY_ST_AUTHORIZED && r.status <= PAY_ST_REFUNDED);
    tu_check((r.status == PAY_ST_DECLINED) == (r.reason[0] != '\0'));
    kbuf b;
    kbuf_init(&b);
    tu_check(pay_result_encode(&r, &b, NULL) == KASSA_OK && b.len <= PAY_BODY_MAX_BYTES);
    tu_check(pay_result_decode((const char *)b.data, b.len, &g, NULL) == KASSA_OK);
    tu_check(strcmp(r.id, g.id) == 0 && r.status == g.status && strcmp(r.reason, g.reason) == 0 &&
             strcmp(r.auth_code, g.auth_code) == 0);
    kbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_auth((const char *)data, size);
    fuzz_refund((const char *)data, size);
    fuzz_result((const char *)data, size);
    return 0;
}
