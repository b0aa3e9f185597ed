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

#include "pricing/pricing.h"

#include <string.h>

/* 9999-12-31T23:59:59.999Z: a bound for a wall-clock time in ms. */
#define STORED_AT_MS_MAX INT64_C(253402300799999)

static const char *const auth_what = "payment request";
static const char *const refund_what = "refund request";
static const char *const result_what = "payment result";

static int bad(kassa_err *err, int code, const char *what, const char *key, const char *why)
{
    return kassa_fail(err, code, "%s: %s: %s", what, key, why);
}

static int check_id(const char *s, size_t size, size_t max_len, const char *what, const char *key,
                    int code, kassa_err *err)
{
    if (!pay_str_fits(s, size) || !kassa_valid_id(s, max_len))
        return bad(err, code, what, key, "not a valid id ([A-Za-z0-9._-])");
    return KASSA_OK;
}

static int check_token(const char *s, size_t size, const char *what, int code, kassa_err *err)
{
    if (!pay_str_fits(s, size) || !pay_valid_token(s))
        return bad(err, code, what, "token", "expected 1..40 of [A-Za-z0-9_]");
    return KASSA_OK;
}

static int check_amount(int64_t a, const char *what, int code, kassa_err *err)
{
    if (a < 1 || a > PRICING_AMOUNT_MAX)
        return bad(err, code, what, "amount_minor", "out of range 1..10000000000000");
    return KASSA_OK;
}

/* ---- authorisation request ---- */

static int check_auth(const pay_auth_req *q, int code, kassa_err *err)
{
    int rc =
        check_id(q->store_id, sizeof q->store_id, KASSA_ID_MAX, auth_what, "store_id", code, err);
    if (rc == KASSA_OK)
        rc = check_id(q->payment_id, sizeof q->payment_id, PAY_ID_MAX, auth_what, "payment_id",
                      code, err);
    if (rc == KASSA_OK)
        rc = check_amount(q->amount_minor, auth_what, code, err);
    if (rc != KASSA_OK)
        return rc;
    if (!pay_str_fits(q->currency, sizeof q->currency) || !pay_valid_currency(q->currency))
        return bad(err, code, auth_what, "currency", "expected 3 upper-case letters");
    rc = check_token(q->token, sizeof q->token, auth_what, code, err);
    if (rc != KASSA_OK)
        return rc;
    if (q->blob_len < 1 || q->blob_len > PAY_BLOB_MAX)
        return bad(err, code, auth_what, "blob", "expected 1..512 bytes");
    if (q->mode != PAY_MODE_ONLINE && q->mode != PAY_MODE_OFFLINE)
        return bad(err, code, auth_what, "mode", "expected \"online\" or \"offline\"");
    if (q->stored_at_ms < 0 || q->stored_at_ms > STORED_AT_MS_MAX)
        return bad(err, code, auth_what, "stored_at_ms", "out of range");
    if ((q->mode == PAY_MODE_OFFLINE) != (q->stored_at_ms > 0))
        return bad(err, code, auth_what, "stored_at_ms", "must be 0 online and set offline");
    return KASSA_OK;
}

int pay_auth_req_encode(const pay_auth_req *q, kbuf *out, kassa_err *err)
{
    int rc = check_auth(q, KASSA_EINVAL, err);
    if (rc != KASSA_OK)
        return rc;
    json_t *o = json_pack("{s:i,s:s,s:s,s:I,s:s,s:s}", "v", PAY_VERSION, "store_id", q->store_id,
                          "payment_id", q->payment_id, "amount_minor", (json_int_t)q->amount_minor,
                          "currency", q->currency, "token", q->token);
    if (o) {
        rc = pay_enc_blob(o, "blob", q->blob, q->blob_len, auth_what, err);
        if (rc == KASSA_OK &&
            (json_object_set_new(
                 o, "mode", json_string(q->mode == PAY_MODE_ONLINE ? "online" : "offline")) != 0 ||
             json_object_set_new(o, "capture", json_boolean(q->capture)) != 0 ||
             json_object_set_new(o, "stored_at_ms", json_integer(q->stored_at_ms)) != 0))
            rc = kassa_fail(err, KASSA_ENOMEM, "%s: out of memory", auth_what);
        if (rc != KASSA_OK) {
            json_decref(o);
            return rc;
        }
    }
    return pay_enc_finish(o, out, PAY_BODY_MAX_BYTES, false, auth_what, err);
}

int pay_auth_req_decode(const char *body, size_t n, pay_auth_req *q, kassa_err *err)
{
    memset(q, 0, sizeof *q);
    pay_dec d;
    int rc = pay_dec_open(&d, auth_what, body, n, PAY_BODY_MAX_BYTES, false, err);
    if (rc != KASSA_OK)
        return rc;
    char mode[16];
    rc = pay_dec_str(&d, "store_id", true, q->store_id, sizeof q->store_id);
    if (rc == KASSA_OK)
        rc = pay_dec_str(&d, "payment_id", true, q->payment_id, sizeof q->payment_id);
    if (rc == KASSA_OK)
        rc = pay_dec_int(&d, "amount_minor", 1, PRICING_AMOUNT_MAX, &q->amount_minor);
    if (rc == KASSA_OK)
        rc = pay_dec_str(&d, "currency", true, q->currency, sizeof q->currency);
    if (rc == KASSA_OK)
        rc = pay_dec_str(&d, "token", true, q->token, sizeof q->token);
    if (rc == KASSA_OK)
        rc = pay_dec_blob(&d, "blob", q->blob, &q->blob_len);
    if (rc == KASSA_OK)
        rc = pay_dec_str(&d, "mode", true, mode, sizeof mode);
    if (rc == KASSA_OK) {
        if (strcmp(mode, "online") == 0)
            q->mode = PAY_MODE_ONLINE;
        else if (strcmp(mode, "offline") == 0)
            q->mode = PAY_MODE_OFFLINE;
        else
            rc = pay_dec_fail(&d, "mode", "expected \"online\" or \"offline\"");
    }
    if (rc == KASSA_OK)
        rc = pay_dec_bool(&d, "capture", &q->capture);
    if (rc == KASSA_OK)
        rc = pay_dec_int(&d, "stored_at_ms", 0, STORED_AT_MS_MAX, &q->stored_at_ms);
    if (rc == KASSA_OK)
        rc = pay_dec_end(&d);
    pay_dec_close(&d);
    if (rc == KASSA_OK)
        rc = check_auth(q, KASSA_ECORRUPT, err);
    if (rc != KASSA_OK)
        memset(q, 0, sizeof *q);
    return rc;
}

/* ---- refund request ---- */

static int check_refund(const pay_refund_req *q, int code, kassa_err *err)
{
    int rc =
        check_id(q->store_id, sizeof q->store_id, KASSA_ID_MAX, refund_what, "store_id", code, err);
    if (rc == KASSA_OK)
        rc = check_id(q->refund_id, sizeof q->refund_id, PAY_ID_MAX, refund_what, "refund_id", code,
                      err);
    if (rc == KASSA_OK)
        rc = check_id(q->payment_id, sizeof q->payment_id, PAY_ID_MAX, refund_what, "payment_id",
                      code, err);
    if (rc == KASSA_OK)
        rc = check_token(q->token, sizeof q->token, refund_what, code, err);
    if (rc == KASSA_OK)
        rc = check_amount(q->amount_minor, refund_what, code, err);
    return rc;
}

int pay_refund_req_encode(const pay_refund_req *q, kbuf *out, kassa_err *err)
{
    int rc = check_refund(q, KASSA_EINVAL, err);
    if (rc != KASSA_OK)
        return rc;
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:I}", "v", PAY_VERSION, "store_id", q->store_id,
                          "refund_id", q->refund_id, "payment_id", q->payment_id, "token", q->token,
                          "amount_minor", (json_int_t)q->amount_minor);
    return pay_enc_finish(o, out, PAY_BODY_MAX_BYTES, false, refund_what, err);
}

int pay_refund_req_decode(const char *body, size_t n, pay_refund_req *q, kassa_err *err)
{
    memset(q, 0, sizeof *q);
    pay_dec d;
    int rc = pay_dec_open(&d, refund_what, body, n, PAY_BODY_MAX_BYTES, false, err);
    if (rc != KASSA_OK)
        return rc;
    rc = pay_dec_str(&d, "store_id", true, q->store_id, sizeof q->store_id);
    if (rc == KASSA_OK)
        rc = pay_dec_str(&d, "refund_id", true, q->refund_id, sizeof q->refund_id);
    if (rc == KASSA_OK)
        rc = pay_dec_str(&d, "payment_id", true, q->payment_id, sizeof q->payment_id);
    if (rc == KASSA_OK)
        rc = pay_dec_str(&d, "token", true, q->token, sizeof q->token);
    if (rc == KASSA_OK)
        rc = pay_dec_int(&d, "amount_minor", 1, PRICING_AMOUNT_MAX, &q->amount_minor);
    if (rc == KASSA_OK)
        rc = pay_dec_end(&d);
    pay_dec_close(&d);
    if (rc == KASSA_OK)
        rc = check_refund(q, KASSA_ECORRUPT, err);
    if (rc != KASSA_OK)
        memset(q, 0, sizeof *q);
    return rc;
}

/* ---- result ---- */

static bool has_auth_code(pay_status s)
{
    return s == PAY_ST_AUTHORIZED || s == PAY_ST_CAPTURED;
}

static int check_result(const pay_result *r, int code, kassa_err *err)
{
    int rc = check_id(r->id, sizeof r->id, PAY_ID_MAX, result_what, "id", code, err);
    if (rc != KASSA_OK)
        return rc;
    if ((int)r->status < PAY_ST_AUTHORIZED || (int)r->status > PAY_ST_REFUNDED)
        return bad(err, code, result_what, "status", "not a payment status");
    if (!pay_str_fits(r->reason, sizeof r->reason) ||
        !pay_str_fits(r->auth_code, sizeof r->auth_code))
        return bad(err, code, result_what, "reason", "not terminated");
    if (r->status == PAY_ST_DECLINED ? !pay_valid_word(r->reason, PAY_REASON_MAX)
                                     : r->reason[0] != '\0')
        return bad(err, code, result_what, "reason",
                   "expected 1..31 of [a-z_] when declined, else none");
    if (has_auth_code(r->status) ? !pay_valid_auth_code(r->auth_code) : r->auth_code[0] != '\0')
        return bad(err, code, result_what, "auth_code",
                   "expected 1..15 of [A-Z0-9] when authorized or captured, else none");
    return KASSA_OK;
}

int pay_result_encode(const pay_result *r, kbuf *out, kassa_err *err)
{
    int rc = check_result(r, KASSA_EINVAL, err);
    if (rc != KASSA_OK)
        return rc;
    json_t *o = json_pack("{s:i,s:s,s:s}", "v", PAY_VERSION, "id", r->id, "status",
                          pay_status_name(r->status));
    if (o && ((r->reason[0] && json_object_set_new(o, "reason", json_string(r->reason)) != 0) ||
              (r->auth_code[0] &&
               json_object_set_new(o, "auth_code", json_string(r->auth_code)) != 0))) {
        json_decref(o);
        return kassa_fail(err, KASSA_ENOMEM, "%s: out of memory", result_what);
    }
    return pay_enc_finish(o, out, PAY_BODY_MAX_BYTES, false, result_what, err);
}

int pay_result_decode(const char *body, size_t n, pay_result *r, kassa_err *err)
{
    memset(r, 0, sizeof *r);
    pay_dec d;
    int rc = pay_dec_open(&d, result_what, body, n, PAY_BODY_MAX_BYTES, false, err);
    if (rc != KASSA_OK)
        return rc;
    char status[16];
    rc = pay_dec_str(&d, "id", true, r->id, sizeof r->id);
    if (rc == KASSA_OK)
        rc = pay_dec_str(&d, "status", true, status, sizeof status);
    if (rc == KASSA_OK && !pay_status_parse(status, &r->status))
        rc = pay_dec_fail(&d, "status", "not a payment status");
    if (rc == KASSA_OK)
        rc = pay_dec_str(&d, "reason", false, r->reason, sizeof r->reason);
    if (rc == KASSA_OK)
        rc = pay_dec_str(&d, "auth_code", false, r->auth_code, sizeof r->auth_code);
    if (rc == KASSA_OK)
        rc = pay_dec_end(&d);
    pay_dec_close(&d);
    if (rc == KASSA_OK)
        rc = check_result(r, KASSA_ECORRUPT, err);
    if (rc != KASSA_OK)
        memset(r, 0, sizeof *r);
    return rc;
}
