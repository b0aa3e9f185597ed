/*
 * pay: what the card path shares between the terminal (kassad), the card
 * reader simulator (kassa-reader-sim) and the processor simulator
 * (kassa-processor-sim): checks on card numbers (used only by the two
 * simulators and by the PCI scan), the reader protocol and the processor
 * API's messages; last, what the two simulators alone share (sim.c).
 *
 * Point-to-point encryption: the reader seals the card number for the
 * processor (libsodium sealed box to the processor's public key) and hands
 * the terminal only the sealed blob, a token, the brand, the last four
 * digits and the expiry. A clear card number never enters kassad.
 *
 * Every decoder here reads untrusted bytes: bounded, checked field by
 * field, fuzzed (tests/fuzz/fuzz_pay_*.c). A decoder fails with
 * KASSA_ECORRUPT and a message naming the field.
 *
 * Reader protocol (docs/PAYMENTS.md): a Unix stream socket, one request
 * per connection, each message one JSON object on one line of at most
 * PAY_LINE_MAX_BYTES bytes ending in '\n'.
 *   terminal -> reader  {"v":1,"type":"read","payment_id":ID,
 *                        "amount_minor":N,"currency":"EUR","timeout_ms":N}
 *   reader -> terminal  {"v":1,"type":"card","payment_id":ID,"token":T,
 *                        "brand":B,"last4":"1111","exp_month":M,
 *                        "exp_year":YYYY,"blob":BASE64}
 *                    or {"v":1,"type":"error","payment_id":ID,
 *                        "reason":R,"message":TEXT}
 *   R is one of PAY_READER_* below.
 *   control (tests, the demo): {"v":1,"type":"present","number":PAN,
 *   "expiry":"MM/YY"} or {"v":1,"type":"present","behaviour":
 *   "timeout"|"disconnect"|"remove"} queues what the next read gets; the
 *   reader answers {"v":1,"type":"ok"}.
 *
 * Processor API (HTTP, JSON bodies, docs/PAYMENTS.md):
 *   POST /v1/payments           pay_auth_req   -> pay_result
 *   POST /v1/payments/{id}/capture             -> pay_result
 *   POST /v1/payments/{id}/reverse             -> pay_result
 *   POST /v1/refunds            pay_refund_req -> pay_result
 * Every call is idempotent by its id: the same call twice answers the same
 * result and moves no money twice.
 */
#ifndef KASSA_PAY_H
#define KASSA_PAY_H

#include "base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAY_VERSION 1
#define PAY_LINE_MAX_BYTES 4096
#define PAY_ID_MAX 64 /* payment and refund ids: kassa_valid_id characters */
#define PAY_TOKEN_MAX 40
#define PAY_BRAND_MAX 15
#define PAY_REASON_MAX 31
#define PAY_MESSAGE_MAX 127
#define PAY_AUTH_CODE_MAX 15
#define PAY_CURRENCY_MAX 3
#define PAY_PAN_MIN 12
#define PAY_PAN_MAX 19
/* A sealed box of the card record (crypto_box_SEALBYTES + the JSON). */
#define PAY_BLOB_MAX 512
#define PAY_BODY_MAX_BYTES 8192 /* largest processor request or answer */

/* ---- card numbers: the simulators and the PCI scan only ---- */

/* digits: n ASCII digits. */
bool pay_luhn_ok(const char *digits, size_t n);
/* "visa", "mastercard", "amex", "discover" or "card", by prefix. */
const char *pay_brand_of(const char *pan);

/* Calls cb for every run of PAY_PAN_MIN..PAY_PAN_MAX digits in p that
 * passes Luhn (a run is bounded by non-digits; single spaces or dashes
 * between groups of digits are read through, as card numbers are often
 * printed "4111 1111 1111 1111"). Returns the number of hits. */
typedef void (*pay_pan_cb)(const char *pan, size_t offset, void *ctx);
size_t pay_scan_pans(const uint8_t *p, size_t n, pay_pan_cb cb, void *ctx);

/* ---- what the reader gives the terminal ---- */

typedef struct pay_card {
    char token[PAY_TOKEN_MAX + 1];
    char brand[PAY_BRAND_MAX + 1];
    char last4[5];
    int exp_month; /* 1..12 */
    int exp_year;  /* 2000..2099 */
    uint8_t blob[PAY_BLOB_MAX];
    size_t blob_len;
} pay_card;

/* Whether the card's expiry month lies before (year, month). */
bool pay_card_expired(const pay_card *c, int year, int month);

/* Reasons a read ends without a card. */
#define PAY_READER_TIMEOUT "timeout"       /* no card presented in time */
#define PAY_READER_UNREADABLE "unreadable" /* bad read: Luhn-invalid number */
#define PAY_READER_CANCELLED "cancelled"   /* removed before the end */
#define PAY_READER_BUSY "busy"             /* another read is running */

typedef struct pay_read_req {
    char payment_id[PAY_ID_MAX + 1];
    int64_t amount_minor; /* 1..PRICING_AMOUNT_MAX */
    char currency[PAY_CURRENCY_MAX + 1];
    int64_t timeout_ms; /* 1..600000 */
} pay_read_req;

typedef struct pay_read_reply {
    char payment_id[PAY_ID_MAX + 1];
    bool ok; /* true: card filled; false: reason and message */
    pay_card card;
    char reason[PAY_REASON_MAX + 1];
    char message[PAY_MESSAGE_MAX + 1];
} pay_read_reply;

/* Encoders append one line, '\n' included. */
int pay_read_req_encode(const pay_read_req *q, kbuf *out, kassa_err *err);
int pay_read_req_decode(const char *line, size_t n, pay_read_req *q, kassa_err *err);
int pay_read_reply_encode(const pay_read_reply *r, kbuf *out, kassa_err *err);
int pay_read_reply_decode(const char *line, size_t n, pay_read_reply *r, kassa_err *err);

/* ---- the processor's API ---- */

typedef enum {
    PAY_MODE_ONLINE = 1,  /* asked while the customer waits */
    PAY_MODE_OFFLINE = 2, /* store-and-forward: accepted offline, sent later */
} pay_mode;

typedef struct pay_auth_req {
    char store_id[KASSA_ID_MAX + 1];
    char payment_id[PAY_ID_MAX + 1];
    int64_t amount_minor;
    char currency[PAY_CURRENCY_MAX + 1];
    char token[PAY_TOKEN_MAX + 1];
    uint8_t blob[PAY_BLOB_MAX];
    size_t blob_len;
    pay_mode mode;
    bool capture;         /* authorise and capture in one call */
    int64_t stored_at_ms; /* offline: when the terminal accepted it */
} pay_auth_req;

typedef struct pay_refund_req {
    char store_id[KASSA_ID_MAX + 1];
    char refund_id[PAY_ID_MAX + 1];
    char payment_id[PAY_ID_MAX + 1]; /* the payment refunded */
    char token[PAY_TOKEN_MAX + 1];   /* must be that payment's token */
    int64_t amount_minor;
} pay_refund_req;

typedef enum {
    PAY_ST_AUTHORIZED = 1,
    PAY_ST_CAPTURED = 2,
    PAY_ST_DECLINED = 3,
    PAY_ST_REVERSED = 4,
    PAY_ST_REFUNDED = 5,
} pay_status;

const char *pay_status_name(pay_status s);

/* Decline reasons the processor gives (pay_result.reason). */
#define PAY_DECLINE_INSUFFICIENT_FUNDS "insufficient_funds"
#define PAY_DECLINE_STOLEN "stolen_card"
#define PAY_DECLINE_EXPIRED "expired_card"
#define PAY_DECLINE_INVALID "invalid_card" /* blob does not open or match */

typedef struct pay_result {
    char id[PAY_ID_MAX + 1]; /* payment or refund id */
    pay_status status;
    char reason[PAY_REASON_MAX + 1];       /* declines: why */
    char auth_code[PAY_AUTH_CODE_MAX + 1]; /* approvals */
} pay_result;

int pay_auth_req_encode(const pay_auth_req *q, kbuf *out, kassa_err *err);
int pay_auth_req_decode(const char *body, size_t n, pay_auth_req *q, kassa_err *err);
int pay_refund_req_encode(const pay_refund_req *q, kbuf *out, kassa_err *err);
int pay_refund_req_decode(const char *body, size_t n, pay_refund_req *q, kassa_err *err);
int pay_result_encode(const pay_result *r, kbuf *out, kassa_err *err);
int pay_result_decode(const char *body, size_t n, pay_result *r, kassa_err *err);

/* ---- what the two simulators share (sim.c; kassad uses none of it) ---- */

struct event;
struct event_base;
struct json_t;

/* Makes jansson and libevent clear every block they free, so the card
 * numbers that pass through their buffers do not linger in the heap. */
void pay_wipe_alloc_install(void);
/* A simulator's first step in main, before jansson or libevent allocate
 * anything: pay_wipe_alloc_install, then libsodium. False after printing
 * "prog: ..." to stderr. */
bool pay_sim_start(const char *prog);
/* s: 1 or more decimal digits, at most max. */
bool pay_parse_uint(const char *s, int64_t max, int64_t *out);
/* o's string field key when it holds 1..max bytes and no NUL, else NULL. */
const char *pay_json_str(const struct json_t *o, const char *key, size_t max);

/* SIGTERM and SIGINT end an event loop, logged as component's "signal". */
typedef struct pay_sim_signals {
    struct event_base *base;
    const char *component; /* jlog component: "reader-sim" ... */
    struct event *term, *intr;
} pay_sim_signals;

/* False when the events cannot be set up (s is then still freed by
 * pay_sim_signals_free). */
bool pay_sim_signals_add(pay_sim_signals *s, struct event_base *base, const char *component);
/* Frees what add set up; nothing for a zeroed s. */
void pay_sim_signals_free(pay_sim_signals *s);

#endif
