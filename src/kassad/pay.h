/*
 * pay: the card path of kassad (docs/PAYMENTS.md).
 *
 * A card checkout is a short conversation, all of it on the event loop:
 *   1. reserve a payment id (committed), lock the cart;
 *   2. ask the card reader (a Unix socket) for a card: it answers with a
 *      token, brand, last four digits, expiry and the card data sealed for
 *      the processor; never the card number;
 *   3. refuse an expired card; commit "card read" (the state machine of
 *      term.h, "Card payments"), then ask the processor to authorise with a
 *      timeout;
 *   4. approved: record the sale (online) and capture afterwards; declined:
 *      answer 402, nothing sold; no answer, 5xx or garbage: offline.
 *   5. offline: within the limits of [payments] (or with a manager's
 *      override, audited), record the sale with the payment stored for
 *      forwarding; beyond them, answer 402.
 * Each step is committed before the next is asked for, so a crash at any
 * point leaves a row that says what is still owed (term_pay_recover).
 *
 * The forwarder sends what is due (captures, stored payments, reversals,
 * card refunds) in creation order on its own connection, commits the
 * answers of a chunk in one transaction, and retries with exponential
 * backoff while the processor does not answer. Every processor call is
 * idempotent by its id, so a re-send after a crash charges nothing twice.
 */
#ifndef KASSAD_PAY_H
#define KASSAD_PAY_H

#include "kassad/request.h"

/* Card checkouts in progress at once (a terminal has one reader; a few
 * carts may wait for it). */
#define KD_PAY_ACTIVE_MAX 8
/* Due rows sent before their answers are committed together. */
#define KD_PAY_FORWARD_CHUNK 64

int kd_pay_start(kd_app *app, kassa_err *err);
void kd_pay_free(kd_app *app);

/* Starts the card checkout of cart c (cash: cash handed over, card: the
 * card's amount, manager: who allowed going beyond the offline limits, or
 * NULL). Answers r later: 201 with the sale, 402 declined, 502 reader or
 * processor trouble, 409 when the sale itself is refused. */
void kd_pay_checkout(kd_req *r, kd_cart *c, int64_t cash, int64_t card, const char *manager);

/* Answers every card checkout in progress with 503 (the terminal is
 * stopping; nothing sold): before the shutdown drain, so those answers are
 * written. */
void kd_pay_shutdown(kd_app *app);

/* Forward what is due now (resets the backoff): "Forward now". */
void kd_pay_kick(kd_app *app);
/* New work is due (a capture, a refund, a stored payment): forwarded at
 * once, unless the processor is not answering and a retry is pending. */
void kd_pay_nudge(kd_app *app);

/* 1 when the processor answered its last call, else 0. */
int64_t kd_pay_processor_up(kd_app *app);

/* The "payments" member of /api/v1/status. */
json_t *kd_pay_status_json(kd_app *app);

#endif
