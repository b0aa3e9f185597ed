/* pay.c: field checks shared by the codecs, status names, card expiry. */
#include "pay/pay_internal.h"

#include "pricing/pricing.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool pay_str_fits(const char *s, size_t size)
{
    return s && memchr(s, '\0', size) != NULL;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

bool pay_valid_token(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PAY_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(is_digit(s[i]) || is_upper(s[i]) || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
            return false;
    return true;
}

bool pay_valid_currency(const char *s)
{
    return strlen(s) == PAY_CURRENCY_MAX && is_upper(s[0]) && is_upper(s[1]) && is_upper(s[2]);
}

bool pay_valid_last4(const char *s)
{
    return strlen(s) == 4 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]);
}

bool pay_valid_word(const char *s, size_t max_len)
{
    size_t n = strlen(s);
    if (n == 0 || n > max_len)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
            return false;
    return true;
}

bool pay_valid_auth_code(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PAY_AUTH_CODE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(is_digit(s[i]) || is_upper(s[i])))
            return false;
    return true;
}

bool pay_valid_text(const char *s, size_t max_len)
{
    size_t n = strlen(s);
    if (n > max_len)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        /* U+0080..U+009F in UTF-8: C2 80..C2 9F. */
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9f)
            return false;
    }
    return true;
}

bool pay_chk_ok(const pay_chk *c, bool ok, const char *key, const char *why, ...)
{
    if (ok)
        return true;
    char text[160];
    va_list ap;
    va_start(ap, why);
    vsnprintf(text, sizeof text, why, ap);
    va_end(ap);
    kassa_fail(c->err, c->code, "%s: %s: %s", c->what, key, text);
    return false;
}

bool pay_chk_id(const pay_chk *c, const char *key, const char *s, size_t size, size_t max_len)
{
    return pay_chk_ok(c, pay_str_fits(s, size) && kassa_valid_id(s, max_len), key,
                      "expected 1..%zu of [A-Za-z0-9._-]", max_len);
}

bool pay_chk_amount(const pay_chk *c, int64_t amount_minor)
{
    return pay_chk_ok(c, amount_minor >= 1 && amount_minor <= PRICING_AMOUNT_MAX, "amount_minor",
                      "out of range 1..%lld", (long long)PRICING_AMOUNT_MAX);
}

bool pay_chk_currency(const pay_chk *c, const char *s, size_t size)
{
    return pay_chk_ok(c, pay_str_fits(s, size) && pay_valid_currency(s), "currency",
                      "expected 3 upper-case letters");
}

bool pay_chk_token(const pay_chk *c, const char *s, size_t size)
{
    return pay_chk_ok(c, pay_str_fits(s, size) && pay_valid_token(s), "token",
                      "expected 1..%d of [A-Za-z0-9_]", PAY_TOKEN_MAX);
}

bool pay_chk_blob(const pay_chk *c, size_t blob_len)
{
    return pay_chk_ok(c, blob_len >= 1 && blob_len <= PAY_BLOB_MAX, "blob", "expected 1..%d bytes",
                      PAY_BLOB_MAX);
}

static const char *const status_names[] = {
    [PAY_ST_AUTHORIZED] = "authorized", [PAY_ST_CAPTURED] = "captured",
    [PAY_ST_DECLINED] = "declined",     [PAY_ST_REVERSED] = "reversed",
    [PAY_ST_REFUNDED] = "refunded",
};

const char *pay_status_name(pay_status s)
{
    if ((int)s < PAY_ST_AUTHORIZED || (int)s > PAY_ST_REFUNDED)
        return "unknown";
    return status_names[s];
}

bool pay_status_parse(const char *name, pay_status *out)
{
    for (int s = PAY_ST_AUTHORIZED; s <= PAY_ST_REFUNDED; s++) {
        if (strcmp(name, status_names[s]) == 0) {
            *out = (pay_status)s;
            return true;
        }
    }
    return false;
}

/* A card is good through the last day of its expiry month. */
bool pay_card_expired(const pay_card *c, int year, int month)
{
    return c->exp_year < year || (c->exp_year == year && c->exp_month < month);
}
