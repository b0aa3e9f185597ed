/*
 * cards.c: the decision on a new payment.
 *
 * The blob is the reader's sealed card record {"pan","exp","payment_id",
 * "amount_minor","token"}. It must open with our key and name the same
 * payment id, amount and token as the request: a blob replayed for another
 * payment or amount is declined "invalid_card".
 *
 * Checks, in order: the blob (invalid_card), the card number (digits,
 * 12..19, Luhn: invalid_card), the card's own expiry against the current
 * month (expired_card), then the test cards:
 *
 *   | card number      | brand      | answer                                |
 *   |------------------|------------|---------------------------------------|
 *   | 4111111111111111 | visa       | approve                               |
 *   | 4242424242424242 | visa       | approve                               |
 *   | 5555555555554444 | mastercard | approve                               |
 *   | 378282246310005  | amex       | approve                               |
 *   | 4000000000009995 | visa       | decline insufficient_funds            |
 *   | 4000000000009979 | visa       | decline stolen_card                   |
 *   | 4000000000000069 | visa       | decline expired_card                  |
 *   | 4000000000000119 | visa       | "network timeout": approved and       |
 *   |                  |            | recorded, the answer held for         |
 *   |                  |            | --timeout-hold-ms (a repeat of the    |
 *   |                  |            | payment id answers at once)           |
 *   | any other Luhn-valid number   | approve                               |
 */
#include "procsim/procsim.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define REC_PAN_MAX PAY_PAN_MAX

typedef struct test_card {
    const char *pan;
    const char *decline; /* NULL: approve */
    bool hold;
} test_card;

static const test_card test_cards[] = {
    {"4111111111111111", NULL, false},
    {"4242424242424242", NULL, false},
    {"5555555555554444", NULL, false},
    {"378282246310005", NULL, false},
    {"4000000000009995", PAY_DECLINE_INSUFFICIENT_FUNDS, false},
    {"4000000000009979", PAY_DECLINE_STOLEN, false},
    {"4000000000000069", PAY_DECLINE_EXPIRED, false},
    {"4000000000000119", NULL, true},
};

static void decline(ps_decision *d, const char *reason)
{
    d->approved = false;
    d->hold = false;
    snprintf(d->reason, sizeof d->reason, "%s", reason);
}

/* The opened record, checked against the request. */
typedef struct card_rec {
    char pan[REC_PAN_MAX + 1];
    int exp_month, exp_year;
} card_rec;

static bool parse_rec(const char *text, size_t n, const pay_auth_req *q, card_rec *c)
{
    json_t *o = json_loadb(text, n, JSON_REJECT_DUPLICATES, NULL);
    bool ok = false;
    if (json_is_object(o) && json_object_size(o) == 5) {
        const char *pan = pay_json_str(o, "pan", REC_PAN_MAX);
        const char *exp = pay_json_str(o, "exp", 5);
        const char *id = pay_json_str(o, "payment_id", PAY_ID_MAX);
        const char *tok = pay_json_str(o, "token", PAY_TOKEN_MAX);
        json_t *amount = json_object_get(o, "amount_minor");
        if (pan && exp && id && tok && json_is_integer(amount) &&
            json_integer_value(amount) == q->amount_minor && strcmp(id, q->payment_id) == 0 &&
            strcmp(tok, q->token) == 0 && strlen(exp) == 5 && exp[2] == '/') {
            int m = 0, y = 0;
            ok = true;
            for (int i = 0; i < 5; i++)
                if (i != 2 && (exp[i] < '0' || exp[i] > '9'))
                    ok = false;
            if (ok) {
                m = (exp[0] - '0') * 10 + (exp[1] - '0');
                y = 2000 + (exp[3] - '0') * 10 + (exp[4] - '0');
                ok = m >= 1 && m <= 12;
            }
            if (ok) {
                memcpy(c->pan, pan, strlen(pan) + 1);
                c->exp_month = m;
                c->exp_year = y;
            }
        }
    }
    /* The wiping allocator clears jansson's copy of the number. */
    json_decref(o);
    return ok;
}

void ps_card_decide(const ps_keys *k, const pay_auth_req *q, int now_year, int now_month,
                    ps_decision *d)
{
    memset(d, 0, sizeof *d);
    uint8_t m[PAY_BLOB_MAX];
    card_rec c;
    memset(&c, 0, sizeof c);
    bool opened = q->blob_len > crypto_box_SEALBYTES &&
                  crypto_box_seal_open(m, q->blob, q->blob_len, k->pk, k->sk) == 0;
    bool ok = opened && parse_rec((const char *)m, q->blob_len - crypto_box_SEALBYTES, q, &c);
    sodium_memzero(m, sizeof m);
    size_t n = strlen(c.pan);
    if (!ok || n < PAY_PAN_MIN || n > PAY_PAN_MAX || !pay_luhn_ok(c.pan, n)) {
        decline(d, PAY_DECLINE_INVALID);
    } else if (c.exp_year < now_year || (c.exp_year == now_year && c.exp_month < now_month)) {
        decline(d, PAY_DECLINE_EXPIRED);
    } else {
        d->approved = true;
        for (size_t i = 0; i < KASSA_ARRAY_LEN(test_cards); i++) {
            if (strcmp(c.pan, test_cards[i].pan) != 0)
                continue;
            if (test_cards[i].decline)
                decline(d, test_cards[i].decline);
            d->hold = test_cards[i].hold;
        }
    }
    sodium_memzero(&c, sizeof c);
}
