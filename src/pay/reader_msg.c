/*
 * reader_msg.c: the card reader protocol's request and reply lines
 * (pay.h). The "present" control message carries a clear card number and
 * is decoded by the reader simulator alone (src/readersim), never here:
 * nothing the terminal links can read a card number off the socket.
 */
#include "pay/pay_internal.h"

#include <string.h>

#define READ_TIMEOUT_MS_MAX 600000

/* ---- the read request ---- */

static bool check_req(const pay_chk *c, const void *m)
{
    const pay_read_req *q = m;
    return pay_chk_id(c, "payment_id", q->payment_id, sizeof q->payment_id, PAY_ID_MAX) &&
           pay_chk_amount(c, q->amount_minor) &&
           pay_chk_currency(c, q->currency, sizeof q->currency) &&
           pay_chk_ok(c, q->timeout_ms >= 1 && q->timeout_ms <= READ_TIMEOUT_MS_MAX, "timeout_ms",
                      "out of range 1..%d", READ_TIMEOUT_MS_MAX);
}

static bool read_req(pay_dec *d, void *m)
{
    pay_read_req *q = m;
    char type[16];
    return pay_dec_str(d, "type", true, type, sizeof type) &&
           pay_chk_ok(&d->chk, strcmp(type, "read") == 0, "type", "not \"read\"") &&
           pay_dec_str(d, "payment_id", true, q->payment_id, sizeof q->payment_id) &&
           pay_dec_amount(d, &q->amount_minor) &&
           pay_dec_str(d, "currency", true, q->currency, sizeof q->currency) &&
           pay_dec_int(d, "timeout_ms", 1, READ_TIMEOUT_MS_MAX, &q->timeout_ms);
}

static json_t *build_req(const void *m)
{
    const pay_read_req *q = m;
    return json_pack("{s:i,s:s,s:s,s:I,s:s,s:I}", "v", PAY_VERSION, "type", "read", "payment_id",
                     q->payment_id, "amount_minor", (json_int_t)q->amount_minor, "currency",
                     q->currency, "timeout_ms", (json_int_t)q->timeout_ms);
}

static const pay_msg req_msg = {
    .what = "read request",
    .size = sizeof(pay_read_req),
    .max_bytes = PAY_LINE_MAX_BYTES,
    .line = true,
    .check = check_req,
    .read = read_req,
    .build = build_req,
};

int pay_read_req_encode(const pay_read_req *q, kbuf *out, kassa_err *err)
{
    return pay_msg_encode(&req_msg, q, out, err);
}

int pay_read_req_decode(const char *line, size_t n, pay_read_req *q, kassa_err *err)
{
    return pay_msg_decode(&req_msg, line, n, q, err);
}

/* ---- the reply: a card or an error ---- */

static bool valid_reason(const char *r)
{
    return strcmp(r, PAY_READER_TIMEOUT) == 0 || strcmp(r, PAY_READER_UNREADABLE) == 0 ||
           strcmp(r, PAY_READER_CANCELLED) == 0 || strcmp(r, PAY_READER_BUSY) == 0;
}

static bool check_card(const pay_chk *c, const pay_card *card)
{
    return pay_chk_token(c, card->token, sizeof card->token) &&
           pay_chk_ok(c,
                      pay_str_fits(card->brand, sizeof card->brand) &&
                          pay_valid_word(card->brand, PAY_BRAND_MAX),
                      "brand", "expected 1..%d of [a-z_]", PAY_BRAND_MAX) &&
           pay_chk_ok(c,
                      pay_str_fits(card->last4, sizeof card->last4) && pay_valid_last4(card->last4),
                      "last4", "expected exactly 4 digits") &&
           pay_chk_ok(c, card->exp_month >= 1 && card->exp_month <= 12, "exp_month",
                      "out of range 1..12") &&
           pay_chk_ok(c, card->exp_year >= 2000 && card->exp_year <= 2099, "exp_year",
                      "out of range 2000..2099") &&
           pay_chk_blob(c, card->blob_len);
}

static bool check_reply(const pay_chk *c, const void *m)
{
    const pay_read_reply *r = m;
    if (!pay_chk_id(c, "payment_id", r->payment_id, sizeof r->payment_id, PAY_ID_MAX))
        return false;
    if (r->ok)
        return check_card(c, &r->card);
    return pay_chk_ok(c, pay_str_fits(r->reason, sizeof r->reason) && valid_reason(r->reason),
                      "reason", "not a reader error reason") &&
           pay_chk_ok(c,
                      pay_str_fits(r->message, sizeof r->message) &&
                          pay_valid_text(r->message, PAY_MESSAGE_MAX),
                      "message", "expected 0..%d bytes, no control characters", PAY_MESSAGE_MAX);
}

static bool read_card(pay_dec *d, pay_card *c)
{
    int64_t month = 0, year = 0;
    bool ok = pay_dec_str(d, "token", true, c->token, sizeof c->token) &&
              pay_dec_str(d, "brand", true, c->brand, sizeof c->brand) &&
              pay_dec_str(d, "last4", true, c->last4, sizeof c->last4) &&
              pay_dec_int(d, "exp_month", 1, 12, &month) &&
              pay_dec_int(d, "exp_year", 2000, 2099, &year) &&
              pay_dec_blob(d, "blob", c->blob, &c->blob_len);
    c->exp_month = (int)month;
    c->exp_year = (int)year;
    return ok;
}

static bool read_reply(pay_dec *d, void *m)
{
    pay_read_reply *r = m;
    char type[16];
    if (!pay_dec_str(d, "type", true, type, sizeof type) ||
        !pay_dec_str(d, "payment_id", true, r->payment_id, sizeof r->payment_id))
        return false;
    if (strcmp(type, "card") == 0) {
        r->ok = true;
        return read_card(d, &r->card);
    }
    if (strcmp(type, "error") == 0)
        return pay_dec_str(d, "reason", true, r->reason, sizeof r->reason) &&
               pay_dec_str(d, "message", true, r->message, sizeof r->message);
    return pay_chk_ok(&d->chk, false, "type", "not \"card\" or \"error\"");
}

static json_t *build_reply(const void *m)
{
    const pay_read_reply *r = m;
    if (!r->ok)
        return json_pack("{s:i,s:s,s:s,s:s,s:s}", "v", PAY_VERSION, "type", "error", "payment_id",
                         r->payment_id, "reason", r->reason, "message", r->message);
    const pay_card *c = &r->card;
    char blob[PAY_BLOB_B64_SIZE];
    pay_enc_b64(c->blob, c->blob_len, blob);
    return json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:s}", "v", PAY_VERSION, "type", "card",
                     "payment_id", r->payment_id, "token", c->token, "brand", c->brand, "last4",
                     c->last4, "exp_month", c->exp_month, "exp_year", c->exp_year, "blob", blob);
}

static const pay_msg reply_msg = {
    .what = "read reply",
    .size = sizeof(pay_read_reply),
    .max_bytes = PAY_LINE_MAX_BYTES,
    .line = true,
    .check = check_reply,
    .read = read_reply,
    .build = build_reply,
};

int pay_read_reply_encode(const pay_read_reply *r, kbuf *out, kassa_err *err)
{
    return pay_msg_encode(&reply_msg, r, out, err);
}

int pay_read_reply_decode(const char *line, size_t n, pay_read_reply *r, kassa_err *err)
{
    return pay_msg_decode(&reply_msg, line, n, r, err);
}
