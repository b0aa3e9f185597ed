#include "pricing/pricing.h"

#include <inttypes.h>
#include <string.h>

/* Error messages quote user input; a pasted megabyte should not drown the
 * one-line reason, so quotes are cut to this many input bytes. */
#define PRICING_QUOTE_MAX 32
/* Each quoted byte takes at most 4 chars (\xNN), plus "..." and the NUL. */
#define QUOTE_SIZE (PRICING_QUOTE_MAX * 4 + 4)

typedef enum {
    DEC_OK,
    DEC_EMPTY,    /* "" */
    DEC_SYNTAX,   /* anything but digits[.digits] */
    DEC_DECIMALS, /* more fraction digits than allowed */
    DEC_RANGE,    /* well formed but above the caller's maximum */
} dec_status;

/*
 * Parses digits[.digits] into a fixed-point integer with `decimals` implied
 * fraction digits ("12.3" with 2 decimals -> 1230). Signs, blanks, exponents,
 * "12." and ".5" are syntax errors: every accepted string is one a cashier
 * would read unambiguously. The integer part stops accumulating once it
 * exceeds max, so arbitrarily long digit strings cannot overflow.
 */
static dec_status dec_parse(const char *s, int decimals, int64_t max, int64_t *out)
{
    if (s == NULL || *s == '\0')
        return DEC_EMPTY;

    const char *p = s;
    int64_t whole = 0;
    bool too_big = false;
    size_t nwhole = 0;
    for (; *p >= '0' && *p <= '9'; p++, nwhole++) {
        if (!too_big) {
            whole = whole * 10 + (*p - '0'); /* whole <= max <= 10^13 before this */
            too_big = whole > max;
        }
    }
    if (nwhole == 0)
        return DEC_SYNTAX;

    int64_t frac = 0;
    int nfrac = 0;
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++, nfrac++) {
            if (nfrac < decimals)
                frac = frac * 10 + (*p - '0');
        }
        if (nfrac == 0)
            return DEC_SYNTAX;
    }
    if (*p != '\0')
        return DEC_SYNTAX;
    if (nfrac > decimals)
        return DEC_DECIMALS;
    if (too_big)
        return DEC_RANGE;

    int64_t scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    for (int i = nfrac; i < decimals; i++)
        frac *= 10;
    int64_t v;
    if (!kassa_mul_i64(whole, scale, &v) || !kassa_add_i64(v, frac, &v) || v > max)
        return DEC_RANGE;
    *out = v;
    return DEC_OK;
}

/*
 * Copies s into out for quoting in a message: at most PRICING_QUOTE_MAX
 * bytes, then "...", with quotes, backslashes, control and non-ASCII bytes
 * written as \xNN. Messages are one line of plain text whatever a user
 * typed or pasted.
 */
static const char *quote(const char *s, char out[QUOTE_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0, i = 0;
    for (; s != NULL && s[i] != '\0' && i < PRICING_QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 0xf];
        } else {
            out[n++] = (char)c;
        }
    }
    if (s != NULL && s[i] != '\0') {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

int money_parse(const char *s, int64_t *out_minor, kassa_err *err)
{
    char q[QUOTE_SIZE];
    int64_t v = 0;
    switch (dec_parse(s, 2, PRICING_AMOUNT_MAX, &v)) {
    case DEC_OK:
        *out_minor = v;
        return KASSA_OK;
    case DEC_EMPTY:
        return kassa_fail(err, KASSA_EINVAL, "invalid amount \"\": empty");
    case DEC_SYNTAX:
        return kassa_fail(err, KASSA_EINVAL,
                          "invalid amount \"%s\": expected digits with an optional "
                          "'.' and one or two decimals",
                          quote(s, q));
    case DEC_DECIMALS:
        return kassa_fail(err, KASSA_EINVAL, "invalid amount \"%s\": at most two decimals",
                          quote(s, q));
    case DEC_RANGE:
        break;
    }
    char max[MONEY_STR_SIZE];
    money_format(PRICING_AMOUNT_MAX, max);
    return kassa_fail(err, KASSA_EOVERFLOW, "invalid amount \"%s\": exceeds maximum %s",
                      quote(s, q), max);
}

void money_format(int64_t minor, char out[MONEY_STR_SIZE])
{
    /* Work on the magnitude as uint64 so INT64_MIN has no positive twin to
     * overflow into. */
    uint64_t mag = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    char tmp[MONEY_STR_SIZE];
    size_t n = 0;
    tmp[n++] = (char)('0' + mag % 10);
    mag /= 10;
    tmp[n++] = (char)('0' + mag % 10);
    mag /= 10;
    tmp[n++] = '.';
    do {
        tmp[n++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag != 0);
    if (minor < 0)
        tmp[n++] = '-';
    /* At most 20 digits, '.', '-': always fits MONEY_STR_SIZE. */
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

int percent_parse(const char *s, int32_t *out_bp, kassa_err *err)
{
    char q[QUOTE_SIZE];
    int64_t v = 0;
    switch (dec_parse(s, 2, PRICING_BP_MAX, &v)) {
    case DEC_OK:
        *out_bp = (int32_t)v;
        return KASSA_OK;
    case DEC_EMPTY:
        return kassa_fail(err, KASSA_EINVAL, "invalid percentage \"\": empty");
    case DEC_SYNTAX:
        return kassa_fail(err, KASSA_EINVAL,
                          "invalid percentage \"%s\": expected digits with an optional "
                          "'.' and one or two decimals",
                          quote(s, q));
    case DEC_DECIMALS:
        return kassa_fail(err, KASSA_EINVAL, "invalid percentage \"%s\": at most two decimals",
                          quote(s, q));
    case DEC_RANGE:
        break;
    }
    return kassa_fail(err, KASSA_EINVAL, "invalid percentage \"%s\": must be 0 to 100",
                      quote(s, q));
}

int qty_parse(const char *s, int64_t *out_qty, kassa_err *err)
{
    char q[QUOTE_SIZE];
    int64_t v = 0;
    switch (dec_parse(s, 0, PRICING_QTY_MAX, &v)) {
    case DEC_OK:
        if (v < 1)
            return kassa_fail(err, KASSA_EINVAL, "invalid quantity \"%s\": must be at least 1",
                              quote(s, q));
        *out_qty = v;
        return KASSA_OK;
    case DEC_EMPTY:
        return kassa_fail(err, KASSA_EINVAL, "invalid quantity \"\": empty");
    case DEC_SYNTAX:
        return kassa_fail(err, KASSA_EINVAL, "invalid quantity \"%s\": expected digits only",
                          quote(s, q));
    case DEC_DECIMALS:
        return kassa_fail(err, KASSA_EINVAL, "invalid quantity \"%s\": must be a whole number",
                          quote(s, q));
    case DEC_RANGE:
        break;
    }
    return kassa_fail(err, KASSA_EOVERFLOW, "invalid quantity \"%s\": exceeds maximum %" PRId64,
                      quote(s, q), PRICING_QTY_MAX);
}

/* round_half_up(v * bp / 10000) for 0 <= v <= PRICING_AMOUNT_MAX and
 * 0 <= bp <= PRICING_BP_MAX; the product stays below 2^57. */
static bool apply_bp(int64_t v, int64_t bp, int64_t *out)
{
    int64_t prod;
    if (!kassa_mul_i64(v, bp, &prod))
        return false;
    *out = kassa_div_round_half_up(prod, PRICING_BP_MAX);
    return true;
}

static int line_overflow(kassa_err *err, size_t no, const char *what, int64_t v)
{
    char a[MONEY_STR_SIZE], max[MONEY_STR_SIZE];
    money_format(v, a);
    money_format(PRICING_AMOUNT_MAX, max);
    return kassa_fail(err, KASSA_EOVERFLOW, "line %zu: %s %s exceeds maximum %s", no, what, a, max);
}

/* Validates and prices one line; `no` is its 1-based number for messages. */
static int price_line(const pricing_line_in *li, size_t no, pricing_line_out *lo, kassa_err *err)
{
    char a[MONEY_STR_SIZE], b[MONEY_STR_SIZE];

    if (li->qty < 1)
        return kassa_fail(err, KASSA_EINVAL, "line %zu: quantity %" PRId64 " must be at least 1",
                          no, li->qty);
    if (li->qty > PRICING_QTY_MAX)
        return kassa_fail(err, KASSA_EOVERFLOW,
                          "line %zu: quantity %" PRId64 " exceeds maximum %" PRId64, no, li->qty,
                          PRICING_QTY_MAX);
    if (li->unit_price < 0) {
        money_format(li->unit_price, a);
        return kassa_fail(err, KASSA_EINVAL, "line %zu: negative unit price %s", no, a);
    }
    if (li->unit_price > PRICING_AMOUNT_MAX)
        return line_overflow(err, no, "unit price", li->unit_price);
    if (li->tax_rate_bp < 0 || li->tax_rate_bp > PRICING_BP_MAX)
        return kassa_fail(err, KASSA_EINVAL, "line %zu: tax rate %" PRId32 " bp outside 0..%d bp",
                          no, li->tax_rate_bp, PRICING_BP_MAX);

    int64_t gross;
    if (!kassa_mul_i64(li->unit_price, li->qty, &gross)) {
        money_format(li->unit_price, a);
        return kassa_fail(err, KASSA_EOVERFLOW,
                          "line %zu: unit price %s times quantity %" PRId64 " does not fit", no, a,
                          li->qty);
    }
    if (gross > PRICING_AMOUNT_MAX)
        return line_overflow(err, no, "line amount", gross);

    int64_t discount = 0;
    switch (li->discount_kind) {
    case PRICING_DISCOUNT_NONE:
        /* A value without a kind is a caller bug, not a discount to ignore. */
        if (li->discount_value != 0)
            return kassa_fail(err, KASSA_EINVAL,
                              "line %zu: discount value %" PRId64 " without a discount kind", no,
                              li->discount_value);
        break;
    case PRICING_DISCOUNT_PERCENT:
        if (li->discount_value < 0 || li->discount_value > PRICING_BP_MAX)
            return kassa_fail(err, KASSA_EINVAL,
                              "line %zu: percent discount %" PRId64 " bp outside 0..%d bp", no,
                              li->discount_value, PRICING_BP_MAX);
        if (!apply_bp(gross, li->discount_value, &discount))
            return line_overflow(err, no, "line amount", gross);
        break;
    case PRICING_DISCOUNT_AMOUNT:
        if (li->discount_value < 0) {
            money_format(li->discount_value, a);
            return kassa_fail(err, KASSA_EINVAL, "line %zu: negative discount %s", no, a);
        }
        if (li->discount_value > gross) {
            money_format(li->discount_value, a);
            money_format(gross, b);
            return kassa_fail(err, KASSA_EINVAL, "line %zu: discount %s exceeds line amount %s", no,
                              a, b);
        }
        discount = li->discount_value;
        break;
    default:
        return kassa_fail(err, KASSA_EINVAL, "line %zu: unknown discount kind %d", no,
                          (int)li->discount_kind);
    }

    /* discount <= gross: a percent of at most 100 % rounds to at most gross. */
    int64_t net = gross - discount;
    int64_t tax, total;
    if (!apply_bp(net, li->tax_rate_bp, &tax) || !kassa_add_i64(net, tax, &total))
        return line_overflow(err, no, "line net", net);
    if (total > PRICING_AMOUNT_MAX)
        return line_overflow(err, no, "line total", total);

    lo->gross = gross;
    lo->discount = discount;
    lo->net = net;
    lo->tax = tax;
    lo->total = total;
    return KASSA_OK;
}

/* *sum += v, failing when the sum leaves 0..PRICING_AMOUNT_MAX. */
static bool sum_add(int64_t *sum, int64_t v)
{
    int64_t s;
    if (!kassa_add_i64(*sum, v, &s) || s > PRICING_AMOUNT_MAX)
        return false;
    *sum = s;
    return true;
}

int pricing_compute(const pricing_line_in *in, size_t n, pricing_line_out *out,
                    pricing_totals *totals, kassa_err *err)
{
    if (n < 1 || n > PRICING_LINES_MAX)
        return kassa_fail(err, KASSA_EINVAL, "cart has %zu lines, expected 1..%d", n,
                          PRICING_LINES_MAX);
    if (in == NULL || out == NULL || totals == NULL)
        return kassa_fail(err, KASSA_EINVAL, "pricing_compute: missing argument");

    pricing_totals t = {0};
    for (size_t i = 0; i < n; i++) {
        size_t no = i + 1;
        int rc = price_line(&in[i], no, &out[i], err);
        if (rc != KASSA_OK)
            return rc;
        const pricing_line_out *lo = &out[i];
        /* Every field is checked, although gross and total bound the
         * others, so a future change to the line rules cannot slip an
         * overflow past this loop. */
        if (!sum_add(&t.gross, lo->gross) || !sum_add(&t.discount, lo->discount) ||
            !sum_add(&t.subtotal, lo->net)) {
            char max[MONEY_STR_SIZE];
            money_format(PRICING_AMOUNT_MAX, max);
            return kassa_fail(err, KASSA_EOVERFLOW, "line %zu: cart amount exceeds maximum %s", no,
                              max);
        }
        if (!sum_add(&t.tax, lo->tax) || !sum_add(&t.total, lo->total)) {
            char max[MONEY_STR_SIZE];
            money_format(PRICING_AMOUNT_MAX, max);
            return kassa_fail(err, KASSA_EOVERFLOW, "line %zu: cart total exceeds maximum %s", no,
                              max);
        }
    }
    *totals = t;
    return KASSA_OK;
}

/*
 * cum(m) = round_half_up(total * m / qty) without forming total * m, which
 * can reach 10^19 > INT64_MAX. With total = a*qty + b (0 <= b < qty):
 * total*m/qty = a*m + b*m/qty, and rounding half up a non-negative value
 * commutes with adding the integer a*m. Here a*m <= total and b*m < qty^2.
 */
static bool refund_cum(int64_t total, int64_t qty, int64_t m, int64_t *out)
{
    int64_t a = total / qty, b = total % qty;
    int64_t am, bm;
    if (!kassa_mul_i64(a, m, &am) || !kassa_mul_i64(b, m, &bm))
        return false;
    return kassa_add_i64(am, kassa_div_round_half_up(bm, qty), out);
}

int pricing_refund(int64_t line_total, int64_t line_qty, int64_t already_returned, int64_t qty,
                   int64_t *out_refund, kassa_err *err)
{
    char a[MONEY_STR_SIZE];

    if (out_refund == NULL)
        return kassa_fail(err, KASSA_EINVAL, "pricing_refund: missing argument");
    if (line_qty < 1 || line_qty > PRICING_QTY_MAX)
        return kassa_fail(err, KASSA_EINVAL, "line quantity %" PRId64 " outside 1..%" PRId64,
                          line_qty, PRICING_QTY_MAX);
    if (line_total < 0) {
        money_format(line_total, a);
        return kassa_fail(err, KASSA_EINVAL, "negative line total %s", a);
    }
    if (line_total > PRICING_AMOUNT_MAX) {
        char max[MONEY_STR_SIZE];
        money_format(line_total, a);
        money_format(PRICING_AMOUNT_MAX, max);
        return kassa_fail(err, KASSA_EOVERFLOW, "line total %s exceeds maximum %s", a, max);
    }
    if (already_returned < 0 || already_returned > line_qty)
        return kassa_fail(err, KASSA_EINVAL, "already returned %" PRId64 " outside 0..%" PRId64,
                          already_returned, line_qty);
    if (qty < 1)
        return kassa_fail(err, KASSA_EINVAL, "return quantity %" PRId64 " must be at least 1", qty);
    /* line_qty - already_returned cannot overflow: both are in 0..10^6. */
    if (qty > line_qty - already_returned)
        return kassa_fail(err, KASSA_EINVAL,
                          "cannot return %" PRId64 " units: %" PRId64 " of %" PRId64
                          " already returned",
                          qty, already_returned, line_qty);

    int64_t before, after;
    if (!refund_cum(line_total, line_qty, already_returned, &before) ||
        !refund_cum(line_total, line_qty, already_returned + qty, &after))
        return kassa_fail(err, KASSA_EOVERFLOW, "refund does not fit");
    *out_refund = after - before;
    return KASSA_OK;
}
