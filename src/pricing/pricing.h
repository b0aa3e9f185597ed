/*
 * pricing: money as integer minor units, and cart arithmetic.
 *
 * No floating point touches money anywhere in kassa. Amounts are int64 minor
 * units (cents); the currency has two decimal places.
 *
 * The rounding rule (docs/PRICING.md):
 *  - catalog prices are tax-exclusive unit prices;
 *  - per line: gross = unit_price * qty; discount = amount, or
 *    round_half_up(gross * percent_bp / 10000); net = gross - discount;
 *    tax = round_half_up(net * rate_bp / 10000); total = net + tax;
 *  - cart totals are plain sums of the line fields, so
 *    subtotal + tax == total exactly, and a receipt always adds up.
 *  - a return of k units of a line of q units refunds
 *    cum(r + k) - cum(r), where cum(m) = round_half_up(line_total * m / q) and
 *    r units were returned before; all returns of a line together refund
 *    exactly its total.
 */
#ifndef KASSA_PRICING_H
#define KASSA_PRICING_H

#include "base/base.h"

/* Largest amount kassa accepts anywhere: 10^13 minor units (100 billion). */
#define PRICING_AMOUNT_MAX INT64_C(10000000000000)
/* Largest quantity on one line. */
#define PRICING_QTY_MAX INT64_C(1000000)
/* Tax rates and percent discounts are in basis points: 2000 = 20.00 %. */
#define PRICING_BP_MAX 10000
#define PRICING_LINES_MAX 500
#define MONEY_STR_SIZE 32

/* Parses a decimal amount "12", "12.3", "12.34" into minor units.
 * Rejects empty strings, signs, more than two decimals, anything but
 * digits and one '.', and amounts above PRICING_AMOUNT_MAX. */
int money_parse(const char *s, int64_t *out_minor, kassa_err *err);
/* Formats minor units as "-12.34"; out has MONEY_STR_SIZE bytes. */
void money_format(int64_t minor, char out[MONEY_STR_SIZE]);
/* Parses a percentage "10", "12.5", "12.55" (at most two decimals, 0..100)
 * into basis points. */
int percent_parse(const char *s, int32_t *out_bp, kassa_err *err);
/* Parses a positive whole quantity 1..PRICING_QTY_MAX. */
int qty_parse(const char *s, int64_t *out_qty, kassa_err *err);

typedef enum {
    PRICING_DISCOUNT_NONE = 0,
    PRICING_DISCOUNT_PERCENT = 1, /* value in basis points, 0..10000 */
    PRICING_DISCOUNT_AMOUNT = 2,  /* value in minor units, 0..gross */
} pricing_discount_kind;

typedef struct pricing_line_in {
    int64_t unit_price;  /* minor units, 0..PRICING_AMOUNT_MAX */
    int64_t qty;         /* 1..PRICING_QTY_MAX */
    int32_t tax_rate_bp; /* 0..PRICING_BP_MAX */
    pricing_discount_kind discount_kind;
    int64_t discount_value;
} pricing_line_in;

typedef struct pricing_line_out {
    int64_t gross;
    int64_t discount;
    int64_t net;
    int64_t tax;
    int64_t total;
} pricing_line_out;

typedef struct pricing_totals {
    int64_t gross;
    int64_t discount;
    int64_t subtotal; /* sum of net */
    int64_t tax;
    int64_t total;
} pricing_totals;

/* Prices n (1..PRICING_LINES_MAX) lines. On any invalid input or overflow
 * (a line or the cart above PRICING_AMOUNT_MAX) returns an error naming the
 * 1-based line, and leaves out/totals unspecified. */
int pricing_compute(const pricing_line_in *in, size_t n, pricing_line_out *out,
                    pricing_totals *totals, kassa_err *err);

/* Refund for returning `qty` more units of a line whose total is line_total
 * over line_qty units, of which already_returned were returned before.
 * Requires already_returned + qty <= line_qty (else KASSA_EINVAL). */
int pricing_refund(int64_t line_total, int64_t line_qty, int64_t already_returned, int64_t qty,
                   int64_t *out_refund, kassa_err *err);

#endif
