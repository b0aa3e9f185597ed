/*
 * pan.c: card numbers. Luhn, the brand by prefix, and the scan the PCI
 * test runs over databases and logs to prove no card number was written.
 *
 * How pay_scan_pans reads a byte string:
 *
 *  - A run is a sequence of digits; a single ' ' or '-' between two digits
 *    is read through ("4111 1111 1111 1111", "4111-1111-1111-1111"), two
 *    separators in a row or any other byte end the run. Offsets are those
 *    of the first digit of a hit in the input.
 *  - A run of PAY_PAN_MIN..PAY_PAN_MAX digits that passes Luhn is one hit:
 *    the whole run (the header's contract).
 *  - Any other run (one that fails Luhn, or one longer than PAY_PAN_MAX) is
 *    searched for card numbers inside it: every window of 19, 16, 15 or 13
 *    consecutive digits (the lengths real cards have) shorter than the run
 *    is a hit when it passes Luhn AND starts like a brand that issues that
 *    length (visa 4: 13, 16, 19; mastercard 51-55 and 2221-2720: 16; amex
 *    34, 37: 15; discover 6011, 644-649, 65: 16, 19).
 *
 * Why windows at all: in a SQLite page or a binary log a card number often
 * sits next to an unrelated byte that happens to be an ASCII digit, which
 * makes a 17-digit run that fails Luhn; the card must still be found. Why
 * the brand filter: a random window passes Luhn one time in ten, so long
 * digit strings (hashes, timestamps, counters in hex dumps) would flood the
 * scan; requiring a brand prefix and a length that brand issues cuts the
 * false hits about ninefold while every real test card still matches. A
 * run that passes Luhn as a whole is not searched further: its hit already
 * covers what it contains.
 *
 * The scan is streaming: it keeps the last PAY_PAN_MAX digits of the run
 * (and their offsets), so memory is fixed whatever the input; each digit
 * costs at most four Luhn checks of at most 19 digits.
 */
#include "pay/pay.h"

#include <string.h>

bool pay_luhn_ok(const char *digits, size_t n)
{
    if (n == 0)
        return false;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        char c = digits[n - 1 - i];
        if (c < '0' || c > '9')
            return false;
        unsigned d = (unsigned)(c - '0');
        /* Every second digit from the right, the check digit being the
         * first, is doubled; a two-digit result counts its digit sum. */
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

/* The first k digits of pan as a number, or -1 when it is shorter. */
static int prefix_of(const char *pan, size_t n, size_t k)
{
    if (n < k)
        return -1;
    int v = 0;
    for (size_t i = 0; i < k; i++) {
        if (pan[i] < '0' || pan[i] > '9')
            return -1;
        v = v * 10 + (pan[i] - '0');
    }
    return v;
}

/* The brand of the n digits at pan by their prefix, or NULL. */
static const char *brand_of_n(const char *pan, size_t n)
{
    int p1 = prefix_of(pan, n, 1), p2 = prefix_of(pan, n, 2), p3 = prefix_of(pan, n, 3),
        p4 = prefix_of(pan, n, 4);
    if (p1 == 4)
        return "visa";
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
        return "mastercard";
    if (p2 == 34 || p2 == 37)
        return "amex";
    if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649))
        return "discover";
    return NULL;
}

const char *pay_brand_of(const char *pan)
{
    const char *b = pan ? brand_of_n(pan, strlen(pan)) : NULL;
    return b ? b : "card";
}

/* Whether a brand issues card numbers of n digits (for the windows). */
static bool brand_issues_len(const char *digits, size_t n)
{
    const char *b = brand_of_n(digits, n);
    if (!b)
        return false;
    if (strcmp(b, "visa") == 0)
        return n == 13 || n == 16 || n == 19;
    if (strcmp(b, "mastercard") == 0)
        return n == 16;
    if (strcmp(b, "amex") == 0)
        return n == 15;
    return n == 16 || n == 19; /* discover */
}

/* Window lengths searched inside runs, longest first. */
static const size_t window_lens[] = {19, 16, 15, 13};

typedef struct scan {
    char d[PAY_PAN_MAX]; /* the last digits of the run (all of it while short) */
    size_t off[PAY_PAN_MAX];
    size_t kept;    /* digits in d */
    size_t run_len; /* digits in the run so far */
    pay_pan_cb cb;
    void *ctx;
    size_t hits;
} scan;

static void hit(scan *s, size_t start, size_t len)
{
    char pan[PAY_PAN_MAX + 1];
    memcpy(pan, s->d + start, len);
    pan[len] = '\0';
    s->hits++;
    if (s->cb)
        s->cb(pan, s->off[start], s->ctx);
}

/* Checks the windows that end at d[end - 1]. */
static void windows_ending_at(scan *s, size_t end)
{
    for (size_t i = 0; i < KASSA_ARRAY_LEN(window_lens); i++) {
        size_t w = window_lens[i];
        if (w > end || w >= s->run_len)
            continue;
        const char *p = s->d + end - w;
        if (pay_luhn_ok(p, w) && brand_issues_len(p, w))
            hit(s, end - w, w);
    }
}

static void run_end(scan *s)
{
    if (s->run_len <= PAY_PAN_MAX) {
        if (s->run_len >= PAY_PAN_MIN && pay_luhn_ok(s->d, s->run_len))
            hit(s, 0, s->run_len);
        else
            for (size_t end = 1; end <= s->run_len; end++)
                windows_ending_at(s, end);
    }
    /* A longer run had its windows checked as its digits came. */
    s->kept = 0;
    s->run_len = 0;
}

static void run_digit(scan *s, char c, size_t offset)
{
    if (s->run_len == PAY_PAN_MAX) {
        /* The run outgrows a card number: the windows inside its first
         * PAY_PAN_MAX digits are checked now, before the first digit
         * leaves the buffer (run_len is about to pass every window). */
        s->run_len++;
        for (size_t end = 1; end <= PAY_PAN_MAX; end++)
            windows_ending_at(s, end);
        s->run_len--;
    }
    if (s->kept == PAY_PAN_MAX) {
        memmove(s->d, s->d + 1, PAY_PAN_MAX - 1);
        memmove(s->off, s->off + 1, (PAY_PAN_MAX - 1) * sizeof s->off[0]);
        s->kept--;
    }
    s->d[s->kept] = c;
    s->off[s->kept] = offset;
    s->kept++;
    s->run_len++;
    if (s->run_len > PAY_PAN_MAX)
        windows_ending_at(s, s->kept);
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

size_t pay_scan_pans(const uint8_t *p, size_t n, pay_pan_cb cb, void *ctx)
{
    scan s = {.cb = cb, .ctx = ctx};
    for (size_t i = 0; i < n; i++) {
        if (is_digit(p[i])) {
            run_digit(&s, (char)p[i], i);
            continue;
        }
        bool sep = p[i] == ' ' || p[i] == '-';
        if (sep && s.run_len > 0 && i + 1 < n && is_digit(p[i + 1]))
            continue;
        if (s.run_len > 0)
            run_end(&s);
    }
    if (s.run_len > 0)
        run_end(&s);
    return s.hits;
}
