/*
 * reader_msg.c: the card reader protocol's request and reply lines
 * (pay.h). The "present" control message carries a clear card number and
 * is decoded by the reader simulator alone (src/readersim), never here:
 * nothing the terminal links can read a card number off the socket.
 */
#include "pay/pay_internal.h"

#include "pricing/pricing.h"

#include <string.h>

#define READ_TIMEOUT_MS_MAX 600000

static const char *const req_what = "read request";
static const char *const reply_what = "read reply";

/* ---- checks shared by the encoders (EINVAL) and decoders (ECORRUPT) ---- */

static int check_id(const char *id, const char *what, int code, kassa_err *err)
{
    if (!pay_str_fits(id, PAY_ID_MAX + 1) || !kassa_valid_id(id, PAY_ID_MAX))
        return kassa_fail(err, code, "%s: payment_id: expected 1..%d of [A-Za-z0-9._-]", what,
                          PAY_ID_MAX);
    return KASSA_OK;
}

static int check_req(const pay_read_req *q, int code, kassa_err *err)
{
    int rc = check_id(q->payment_id, req_what, code, err);
    if (rc != KASSA_OK)
        return rc;
    if (q->amount_minor < 1 || q->amount_minor > PRICING_AMOUNT_MAX)
        return kassa_fail(err, code, "%s: amount_minor: out of range 1..%lld", req_what,
                          (long long)PRICING_AMOUNT_MAX);
    if (!pay_str_fits(q->currency, sizeof q->currency) || !pay_valid_currency(q->currency))
        return kassa_fail(err, code, "%s: currency: expected 3 upper-case letters", req_what);
    if (q->timeout_ms < 1 || q->timeout_ms > READ_TIMEOUT_MS_MAX)
        return kassa_fail(err, code, "%s: timeout_ms: out of range 1..%d", req_what,
                          READ_TIMEOUT_MS_MAX);
    return KASSA_OK;
}

static bool valid_reason(const char *r)
{
    return strcmp(r, PAY_READER_TIMEOUT) == 0 || strcmp(r, PAY_READER_UNREADABLE) == 0 ||
           strcmp(r, PAY_READER_CANCELLED) == 0 || strcmp(r, PAY_READER_BUSY) == 0;
}

static int check_card(const pay_card *c, int code, kassa_err *err)
{
    if (!pay_str_fits(c->token, sizeof c->token) || !pay_valid_token(c->token))
        return kassa_fail(err, code, "%s: token: expected 1..%d of [A-Za-z0-9_]", reply_what,
                          PAY_TOKEN_MAX);
    if (!pay_str_fits(c->brand, sizeof c->brand) || !pay_valid_word(c->brand, PAY_BRAND_MAX))
        return kassa_fail(err, code, "%s: brand: expected 1..%d of [a-z_]", reply_what,
                          PAY_BRAND_MAX);
    if (!pay_str_fits(c->last4, sizeof c->last4) || !pay_valid_last4(c->last4))
        return kassa_fail(err, code, "%s: last4: expected exactly 4 digits", reply_what);
    if (c->exp_month < 1 || c->exp_month > 12)
        return kassa_fail(err, code, "%s: exp_month: out of range 1..12", reply_what);
    if (c->exp_year < 2000 || c->exp_year > 2099)
        return kassa_fail(err, code, "%s: exp_year: out of range 2000..2099", reply_what);
    if (c->blob_len < 1 || c->blob_len > PAY_BLOB_MAX)
        return kassa_fail(err, code, "%s: blob: expected 1..%d bytes", reply_what, PAY_BLOB_MAX);
    return KASSA_OK;
}

static int check_reply(const pay_read_reply *r, int code, kassa_err *err)
{
    int rc = check_id(r->payment_id, reply_what, code, err);
    if (rc != KASSA_OK || r->ok)
        return rc != KASSA_OK ? rc : check_card(&r->card, code, err);
    if (!pay_str_fits(r->reason, sizeof r->reason) || !valid_reason(r->reason))
        return kassa_fail(err, code, "%s: reason: not a reader error reason", reply_what);
    if (!pay_str_fits(r->message, sizeof r->message) ||
        !pay_valid_text(r->message, PAY_MESSAGE_MAX))
        return kassa_fail(err, code, "%s: message: expected 0..%d bytes, no control characters",
                          reply_what, PAY_MESSAGE_MAX);
    return KASSA_OK;
}

/* ---- the read request ---- */

int pay_read_req_encode(const pay_read_req *q, kbuf *out, kassa_err *err)
{
    int rc = check_req(q, KASSA_EINVAL, err);
    if (rc != KASSA_OK)
        return rc;
    json_t *o = json_pack("{s:i,s:s,s:s,s:I,s:s,s:I}", "v", PAY_VERSION, "type", "read",
                          "payment_id", q->payment_id, "amount_minor", (json_int_t)q->amount_minor,
                          "currency", q->currency, "timeout_ms", (json_int_t)q->timeout_ms);
    return pay_enc_finish(o, out, PAY_LINE_MAX_BYTES, true, req_what, err);
}

int pay_read_req_decode(const char *line, size_t n, pay_read_req *q, kassa_err *err)
{
    memset(q, 0, sizeof *q);
    pay_dec d;
    int rc = pay_dec_open(&d, req_what, line, n, PAY_LINE_MAX_BYTES, true, err);
    if (rc != KASSA_OK)
        return rc;
    char type[16];
    rc = pay_dec_str(&d, "type", true, type, sizeof type);
    if (rc == KASSA_OK && strcmp(type, "read") != 0)
        rc = pay_dec_fail(&d, "type", "not \"read\"");
    if (rc == KASSA_OK)
        rc = pay_dec_str(&d, "payment_id", true, q->payment_id, sizeof q->payment_id);
    if (rc == KASSA_OK)
        rc = pay_dec_int(&d, "amount_minor", 1, PRICING_AMOUNT_MAX, &q->amount_minor);
    if (rc == KASSA_OK)
        rc = pay_dec_str(&d, "currency", true, q->currency, sizeof q->currency);
    if (rc == KASSA_OK)
        rc = pay_dec_int(&d, "timeout_ms", 1, READ_TIMEOUT_MS_MAX, &q->timeout_ms);
    if (rc == KASSA_OK)
        rc = pay_dec_end(&d);
    pay_dec_close(&d);
    if (rc == KASSA_OK)
        rc = check_req(q, KASSA_ECORRUPT, err);
    if (rc != KASSA_OK)
        memset(q, 0, sizeof *q);
    return rc;
}

/* ---- the reply ---- */

int pay_read_reply_encode(const pay_read_reply *r, kbuf *out, kassa_err *err)
{
    int rc = check_reply(r, KASSA_EINVAL, err);
    if (rc != KASSA_OK)
        return rc;
    if (!r->ok) {
        json_t *o =
            json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", PAY_VERSION, "type", "error", "payment_id",
                      r->payment_id, "reason", r->reason, "message", r->message);
        return pay_enc_finish(o, out, PAY_LINE_MAX_BYTES, true, reply_what, err);
    }
    const pay_card *c = &r->card;
    json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:i,s:i}", "v", PAY_VERSION, "type", "card",
                          "payment_id", r->payment_id, "token", c->token, "brand", c->brand,
                          "last4", c->last4, "exp_month", c->exp_month, "exp_year", c->exp_year);
    if (o) {
        rc = pay_enc_blob(o, "blob", c->blob, c->blob_len, reply_what, err);
        if (rc != KASSA_OK) {
            json_decref(o);
            return rc;
        }
    }
    return pay_enc_finish(o, out, PAY_LINE_MAX_BYTES, true, reply_what, err);
}

static int dec_card(pay_dec *d, pay_card *c)
{
    int64_t month = 0, year = 0;
    int rc = pay_dec_str(d, "token", true, c->token, sizeof c->token);
    if (rc == KASSA_OK)
        rc = pay_dec_str(d, "brand", true, c->brand, sizeof c->brand);
    if (rc == KASSA_OK)
        rc = pay_dec_str(d, "last4", true, c->last4, sizeof c->last4);
    if (rc == KASSA_OK)
        rc = pay_dec_int(d, "exp_month", 1, 12, &month);
    if (rc == KASSA_OK)
        rc = pay_dec_int(d, "exp_year", 2000, 2099, &year);
    if (rc == KASSA_OK)
        rc = pay_dec_blob(d, "blob", c->blob, &c->blob_len);
    c->exp_month = (int)month;
    c->exp_year = (int)year;
    return rc;
}

int pay_read_reply_decode(const char *line, size_t n, pay_read_reply *r, kassa_err *err)
{
    memset(r, 0, sizeof *r);
    pay_dec d;
    int rc = pay_dec_open(&d, reply_what, line, n, PAY_LINE_MAX_BYTES, true, err);
    if (rc != KASSA_OK)
        return rc;
    char type[16];
    rc = pay_dec_str(&d, "type", true, type, sizeof type);
    if (rc == KASSA_OK)
        rc = pay_dec_str(&d, "payment_id", true, r->payment_id, sizeof r->payment_id);
    if (rc == KASSA_OK) {
        if (strcmp(type, "card") == 0) {
            r->ok = true;
            rc = dec_card(&d, &r->card);
        } else if (strcmp(type, "error") == 0) {
            rc = pay_dec_str(&d, "reason", true, r->reason, sizeof r->reason);
            if (rc == KASSA_OK)
                rc = pay_dec_str(&d, "message", true, r->message, sizeof r->message);
        } else {
            rc = pay_dec_fail(&d, "type", "not \"card\" or \"error\"");
        }
    }
    if (rc == KASSA_OK)
        rc = pay_dec_end(&d);
    pay_dec_close(&d);
    if (rc == KASSA_OK)
        rc = check_reply(r, KASSA_ECORRUPT, err);
    if (rc != KASSA_OK)
        memset(r, 0, sizeof *r);
    return rc;
}
