/*
 * procsim.h: kassa-processor-sim, the payment processor simulator (usage
 * in main.c, the API in pay.h). One file per job: main.c (flags, keygen,
 * signals), keys.c (the key pair on disk), cards.c (opening the sealed
 * card record and the test-card rules), ledger.c (payments and refunds in
 * bounded hash tables, and the money rules: idempotency, capture,
 * reversal, refund), http.c (evhttp: routes, test modes, delayed and held
 * answers, one log line per request). The allocator that clears freed
 * memory, the start and the signal handling are shared with the reader
 * simulator (pay.h, src/pay/sim.c).
 *
 * A card number exists here only inside cards.c, for the time it takes to
 * decide, and is wiped right after; nothing logs it or the blob.
 */
#ifndef KASSA_PROCSIM_H
#define KASSA_PROCSIM_H

#include "base/base.h"
#include "pay/pay.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#define PS_PROG "kassa-processor-sim"
/* Payments and refunds held at most; then 503. */
#define PS_RECORDS_MAX 2000000
#define PS_PUB_FILE "processor.pub"
#define PS_KEY_FILE "processor.key"

/* Why a payment the terminal voids after a timeout is declined later. */
#define PS_DECLINE_REVERSED "reversed"
/* Refund refusals (pay_result.reason). */
#define PS_DECLINE_EXCEEDS "exceeds_captured"
#define PS_DECLINE_NOT_CAPTURED "not_captured"
#define PS_DECLINE_TOKEN "token_mismatch"

typedef struct ps_keys {
    uint8_t pk[crypto_box_PUBLICKEYBYTES];
    uint8_t sk[crypto_box_SECRETKEYBYTES];
} ps_keys;

/* ---- keys.c ---- */

/* Writes DIR/processor.pub (0644) and DIR/processor.key (0600); refuses
 * when either exists. */
int ps_keygen(const char *dir, kassa_err *err);
/* Reads DIR/processor.key (refused unless mode 0600) and checks
 * DIR/processor.pub, when present, is its public key. */
int ps_keys_load(const char *dir, ps_keys *k, kassa_err *err);

/* ---- cards.c ---- */

typedef struct ps_decision {
    bool approved;
    char reason[PAY_REASON_MAX + 1]; /* declined: why */
    bool hold;                       /* the "network timeout" card */
} ps_decision;

/* Decides a new payment from its sealed card record; now_year/now_month:
 * the current month (UTC), for the card's own expiry. */
void ps_card_decide(const ps_keys *k, const pay_auth_req *q, int now_year, int now_month,
                    ps_decision *d);

/* ---- ledger.c ---- */

typedef struct ps_ledger ps_ledger;

ps_ledger *ps_ledger_new(void);
void ps_ledger_free(ps_ledger *l);

/* What an operation answers: an HTTP status, then either a result (200)
 * or a one-line error. */
typedef struct ps_outcome {
    int http_status;
    pay_result result;
    char error[128];
    bool hold; /* answer after --timeout-hold-ms */
} ps_outcome;

typedef struct ps_clock {
    int year, month; /* UTC, for card expiry */
} ps_clock;

void ps_authorize(ps_ledger *l, const ps_keys *k, ps_clock now, const pay_auth_req *q,
                  ps_outcome *o);
void ps_capture(ps_ledger *l, const char *store, const char *id, ps_outcome *o);
void ps_reverse(ps_ledger *l, const char *store, const char *id, ps_outcome *o);
void ps_refund(ps_ledger *l, const pay_refund_req *q, ps_outcome *o);

typedef struct ps_payment_view {
    pay_status status;
    int64_t amount_minor, captured_minor, refunded_minor;
    uint32_t captures;
    const char *mode; /* "online", "offline", or "none" for a tombstone */
} ps_payment_view;

bool ps_payment_get(ps_ledger *l, const char *store, const char *id, ps_payment_view *v);

typedef struct ps_totals {
    int64_t payments, refunds;
    int64_t captured_minor, refunded_minor;
    int64_t captures, double_captures;
} ps_totals;

void ps_ledger_totals(const ps_ledger *l, ps_totals *t);

/* ---- http.c ---- */

typedef struct ps_config {
    const char *listen_host;
    int listen_port; /* 0: any free port (logged at start) */
    ps_keys keys;
    int64_t slow_ms;
    int64_t timeout_hold_ms;
} ps_config;

/* Serves until SIGTERM or SIGINT; returns 0, or 1 after logging why. */
int ps_serve(ps_config *cfg);

#endif
