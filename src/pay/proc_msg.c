/*
 * proc_msg.c: the processor API's JSON bodies (pay.h).
 *
 *   pay_auth_req   {"v":1,"store_id":S,"payment_id":ID,"amount_minor":N,
 *                   "currency":"EUR","token":T,"blob":BASE64,
 *                   "mode":"online"|"offline","capture":BOOL,
 *                   "stored_at_ms":N}
 *                  stored_at_ms is 0 online and 1.. offline (when the
 *                  terminal accepted the payment).
 *   pay_refund_req {"v":1,"store_id":S,"refund_id":ID,"payment_id":ID,
 *                   "token":T,"amount_minor":N}
 *   pay_result     {"v":1,"id":ID,"status":NAME} plus "reason" exactly
 *                  when declined and "auth_code" exactly when authorized
 *                  or captured.
 *
 * The body carries no "type": the URL says what it is.
 */
#include "pay/pay_internal.h"

#include <string.h>

/* 9999-12-31T23:59:59.999Z: a bound for a wall-clock time in ms. */
#define STORED_AT_MS_MAX INT64_C(253402300799999)

/* ---- authorisation request ---- */

static const char *mode_name(pay_mode m)
{
    return m == PAY_MODE_ONLINE ? "online" : m == PAY_MODE_OFFLINE ? "offline" : NULL;
}

static bool check_auth(const pay_chk *c, const void *m)
{
    const pay_auth_req *q = m;
    return pay_chk_id(c, "store_id", q->store_id, sizeof q->store_id, KASSA_ID_MAX) &&
           pay_chk_id(c, "payment_id", q->payment_id, sizeof q->payment_id, PAY_ID_MAX) &&
           pay_chk_amount(c, q->amount_minor) &&
           pay_chk_currency(c, q->currency, sizeof q->currency) &&
           pay_chk_token(c, q->token, sizeof q->token) && pay_chk_blob(c, q->blob_len) &&
           pay_chk_ok(c, mode_name(q->mode) != NULL, "mode",
                      "expected \"online\" or \"offline\"") &&
           pay_chk_ok(c, q->stored_at_ms >= 0 && q->stored_at_ms <= STORED_AT_MS_MAX,
                      "stored_at_ms", "out of range") &&
           pay_chk_ok(c, (q->mode == PAY_MODE_OFFLINE) == (q->stored_at_ms > 0), "stored_at_ms",
                      "must be 0 online and set offline");
}

static bool read_mode(pay_dec *d, pay_mode *out)
{
    char mode[16];
    if (!pay_dec_str(d, "mode", true, mode, sizeof mode))
        return false;
    for (pay_mode m = PAY_MODE_ONLINE; m <= PAY_MODE_OFFLINE; m++) {
        if (strcmp(mode, mode_name(m)) == 0) {
            *out = m;
            return true;
        }
    }
    return pay_chk_ok(&d->chk, false, "mode", "expected \"online\" or \"offline\"");
}

static bool read_auth(pay_dec *d, void *m)
{
    pay_auth_req *q = m;
    return pay_dec_str(d, "store_id", true, q->store_id, sizeof q->store_id) &&
           pay_dec_str(d, "payment_id", true, q->payment_id, sizeof q->payment_id) &&
           pay_dec_amount(d, &q->amount_minor) &&
           pay_dec_str(d, "currency", true, q->currency, sizeof q->currency) &&
           pay_dec_str(d, "token", true, q->token, sizeof q->token) &&
           pay_dec_blob(d, "blob", q->blob, &q->blob_len) && read_mode(d, &q->mode) &&
           pay_dec_bool(d, "capture", &q->capture) &&
           pay_dec_int(d, "stored_at_ms", 0, STORED_AT_MS_MAX, &q->stored_at_ms);
}

static json_t *build_auth(const void *m)
{
    const pay_auth_req *q = m;
    char blob[PAY_BLOB_B64_SIZE];
    pay_enc_b64(q->blob, q->blob_len, blob);
    return json_pack("{s:i,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:b,s:I}", "v", PAY_VERSION, "store_id",
                     q->store_id, "payment_id", q->payment_id, "amount_minor",
                     (json_int_t)q->amount_minor, "currency", q->currency, "token", q->token,
                     "blob", blob, "mode", mode_name(q->mode), "capture", q->capture,
                     "stored_at_ms", (json_int_t)q->stored_at_ms);
}

static const pay_msg auth_msg = {
    .what = "payment request",
    .size = sizeof(pay_auth_req),
    .max_bytes = PAY_BODY_MAX_BYTES,
    .line = false,
    .check = check_auth,
    .read = read_auth,
    .build = build_auth,
};

int pay_auth_req_encode(const pay_auth_req *q, kbuf *out, kassa_err *err)
{
    return pay_msg_encode(&auth_msg, q, out, err);
}

int pay_auth_req_decode(const char *body, size_t n, pay_auth_req *q, kassa_err *err)
{
    return pay_msg_decode(&auth_msg, body, n, q, err);
}

/* ---- refund request ---- */

static bool check_refund(const pay_chk *c, const void *m)
{
    const pay_refund_req *q = m;
    return pay_chk_id(c, "store_id", q->store_id, sizeof q->store_id, KASSA_ID_MAX) &&
           pay_chk_id(c, "refund_id", q->refund_id, sizeof q->refund_id, PAY_ID_MAX) &&
           pay_chk_id(c, "payment_id", q->payment_id, sizeof q->payment_id, PAY_ID_MAX) &&
           pay_chk_token(c, q->token, sizeof q->token) && pay_chk_amount(c, q->amount_minor);
}

static bool read_refund(pay_dec *d, void *m)
{
    pay_refund_req *q = m;
    return pay_dec_str(d, "store_id", true, q->store_id, sizeof q->store_id) &&
           pay_dec_str(d, "refund_id", true, q->refund_id, sizeof q->refund_id) &&
           pay_dec_str(d, "payment_id", true, q->payment_id, sizeof q->payment_id) &&
           pay_dec_str(d, "token", true, q->token, sizeof q->token) &&
           pay_dec_amount(d, &q->amount_minor);
}

static json_t *build_refund(const void *m)
{
    const pay_refund_req *q = m;
    return json_pack("{s:i,s:s,s:s,s:s,s:s,s:I}", "v", PAY_VERSION, "store_id", q->store_id,
                     "refund_id", q->refund_id, "payment_id", q->payment_id, "token", q->token,
                     "amount_minor", (json_int_t)q->amount_minor);
}

static const pay_msg refund_msg = {
    .what = "refund request",
    .size = sizeof(pay_refund_req),
    .max_bytes = PAY_BODY_MAX_BYTES,
    .line = false,
    .check = check_refund,
    .read = read_refund,
    .build = build_refund,
};

int pay_refund_req_encode(const pay_refund_req *q, kbuf *out, kassa_err *err)
{
    return pay_msg_encode(&refund_msg, q, out, err);
}

int pay_refund_req_decode(const char *body, size_t n, pay_refund_req *q, kassa_err *err)
{
    return pay_msg_decode(&refund_msg, body, n, q, err);
}

/* ---- result ---- */

static bool has_auth_code(pay_status s)
{
    return s == PAY_ST_AUTHORIZED || s == PAY_ST_CAPTURED;
}

static bool check_result(const pay_chk *c, const void *m)
{
    const pay_result *r = m;
    return pay_chk_id(c, "id", r->id, sizeof r->id, PAY_ID_MAX) &&
           pay_chk_ok(c, (int)r->status >= PAY_ST_AUTHORIZED && (int)r->status <= PAY_ST_REFUNDED,
                      "status", "not a payment status") &&
           pay_chk_ok(c,
                      pay_str_fits(r->reason, sizeof r->reason) &&
                          pay_str_fits(r->auth_code, sizeof r->auth_code),
                      "reason", "not terminated") &&
           pay_chk_ok(c,
                      r->status == PAY_ST_DECLINED ? pay_valid_word(r->reason, PAY_REASON_MAX)
                                                   : r->reason[0] == '\0',
                      "reason", "expected 1..%d of [a-z_] when declined, else none",
                      PAY_REASON_MAX) &&
           pay_chk_ok(c,
                      has_auth_code(r->status) ? pay_valid_auth_code(r->auth_code)
                                               : r->auth_code[0] == '\0',
                      "auth_code",
                      "expected 1..%d of [A-Z0-9] when authorized or captured, else none",
                      PAY_AUTH_CODE_MAX);
}

static bool read_result(pay_dec *d, void *m)
{
    pay_result *r = m;
    char status[16];
    return pay_dec_str(d, "id", true, r->id, sizeof r->id) &&
           pay_dec_str(d, "status", true, status, sizeof status) &&
           pay_chk_ok(&d->chk, pay_status_parse(status, &r->status), "status",
                      "not a payment status") &&
           pay_dec_str(d, "reason", false, r->reason, sizeof r->reason) &&
           pay_dec_str(d, "auth_code", false, r->auth_code, sizeof r->auth_code);
}

/* "reason" and "auth_code" only when set (s*: a NULL value leaves the key
 * out). */
static json_t *build_result(const void *m)
{
    const pay_result *r = m;
    return json_pack("{s:i,s:s,s:s,s:s*,s:s*}", "v", PAY_VERSION, "id", r->id, "status",
                     pay_status_name(r->status), "reason", r->reason[0] ? r->reason : NULL,
                     "auth_code", r->auth_code[0] ? r->auth_code : NULL);
}

static const pay_msg result_msg = {
    .what = "payment result",
    .size = sizeof(pay_result),
    .max_bytes = PAY_BODY_MAX_BYTES,
    .line = false,
    .check = check_result,
    .read = read_result,
    .build = build_result,
};

int pay_result_encode(const pay_result *r, kbuf *out, kassa_err *err)
{
    return pay_msg_encode(&result_msg, r, out, err);
}

int pay_result_decode(const char *body, size_t n, pay_result *r, kassa_err *err)
{
    return pay_msg_decode(&result_msg, body, n, r, err);
}
