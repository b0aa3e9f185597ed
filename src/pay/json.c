/*
 * json.c: reading and writing the pay messages' JSON objects.
 *
 * Untrusted input is parsed by jansson with duplicate keys refused (a
 * second "amount_minor" must not win silently), then read field by field:
 * a field of the wrong JSON type, a missing one or one the message does not
 * define is an error naming the field. Error messages never quote the
 * input: it may hold anything, and messages end up in logs.
 */
#include "pay/pay_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Base64 of the largest blob, NUL included. */
#define PAY_BLOB_B64_SIZE sodium_base64_ENCODED_LEN(PAY_BLOB_MAX, sodium_base64_VARIANT_ORIGINAL)

int pay_dec_fail(pay_dec *d, const char *key, const char *why)
{
    return kassa_fail(d->err, KASSA_ECORRUPT, "%s: %s: %s", d->what, key, why);
}

int pay_dec_open(pay_dec *d, const char *what, const char *text, size_t n, size_t max_bytes,
                 bool line, kassa_err *err)
{
    *d = (pay_dec){.what = what, .err = err};
    if (n > max_bytes)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: longer than %zu bytes", what, max_bytes);
    if (line && n > 0 && text[n - 1] == '\n')
        n--;
    if (line && memchr(text, '\n', n))
        return kassa_fail(err, KASSA_ECORRUPT, "%s: more than one line", what);
    json_error_t je;
    json_t *root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: not valid JSON (at byte %d)", what,
                          je.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return kassa_fail(err, KASSA_ECORRUPT, "%s: not a JSON object", what);
    }
    d->root = root;
    int64_t v;
    int rc = pay_dec_int(d, "v", 0, INT64_MAX, &v);
    if (rc == KASSA_OK && v != PAY_VERSION)
        rc = pay_dec_fail(d, "v", "unsupported version");
    if (rc != KASSA_OK)
        pay_dec_close(d);
    return rc;
}

void pay_dec_close(pay_dec *d)
{
    json_decref(d->root);
    d->root = NULL;
}

static json_t *field(pay_dec *d, const char *key)
{
    json_t *v = json_object_get(d->root, key);
    if (v)
        d->fields++;
    return v;
}

int pay_dec_str(pay_dec *d, const char *key, bool required, char *out, size_t out_size)
{
    out[0] = '\0';
    json_t *v = field(d, key);
    if (!v)
        return required ? pay_dec_fail(d, key, "missing") : KASSA_OK;
    if (!json_is_string(v))
        return pay_dec_fail(d, key, "expected a string");
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    /* jansson refuses \u0000 unless asked; checked so a value is always a
     * whole C string. */
    if (strlen(s) != n)
        return pay_dec_fail(d, key, "contains a NUL character");
    if (n >= out_size) {
        char why[48];
        snprintf(why, sizeof why, "longer than %zu bytes", out_size - 1);
        return pay_dec_fail(d, key, why);
    }
    memcpy(out, s, n + 1);
    return KASSA_OK;
}

int pay_dec_int(pay_dec *d, const char *key, int64_t min, int64_t max, int64_t *out)
{
    *out = 0;
    json_t *v = field(d, key);
    if (!v)
        return pay_dec_fail(d, key, "missing");
    if (!json_is_integer(v))
        return pay_dec_fail(d, key, "expected an integer");
    json_int_t x = json_integer_value(v);
    if (x < min || x > max) {
        char why[80];
        snprintf(why, sizeof why, "out of range %lld..%lld", (long long)min, (long long)max);
        return pay_dec_fail(d, key, why);
    }
    *out = x;
    return KASSA_OK;
}

int pay_dec_bool(pay_dec *d, const char *key, bool *out)
{
    *out = false;
    json_t *v = field(d, key);
    if (!v)
        return pay_dec_fail(d, key, "missing");
    if (!json_is_boolean(v))
        return pay_dec_fail(d, key, "expected true or false");
    *out = json_is_true(v);
    return KASSA_OK;
}

int pay_dec_blob(pay_dec *d, const char *key, uint8_t out[PAY_BLOB_MAX], size_t *out_len)
{
    *out_len = 0;
    char b64[PAY_BLOB_B64_SIZE];
    int rc = pay_dec_str(d, key, true, b64, sizeof b64);
    if (rc != KASSA_OK)
        return rc;
    size_t n = strlen(b64), bin_len = 0;
    /* No b64_end: the whole string must decode; no ignore: no whitespace. */
    if (n == 0 || sodium_base642bin(out, PAY_BLOB_MAX, b64, n, NULL, &bin_len, NULL,
                                    sodium_base64_VARIANT_ORIGINAL) != 0)
        return pay_dec_fail(d, key, "not base64 of 1..512 bytes");
    /* One text per blob: encoding it again must give the same text, so a
     * message decodes, encodes and decodes to the same bytes. */
    char again[PAY_BLOB_B64_SIZE];
    sodium_bin2base64(again, sizeof again, out, bin_len, sodium_base64_VARIANT_ORIGINAL);
    if (bin_len == 0 || strcmp(again, b64) != 0) {
        sodium_memzero(out, PAY_BLOB_MAX);
        return pay_dec_fail(d, key, "not canonical base64");
    }
    *out_len = bin_len;
    return KASSA_OK;
}

int pay_dec_end(pay_dec *d)
{
    if (json_object_size(d->root) != d->fields)
        return kassa_fail(d->err, KASSA_ECORRUPT, "%s: has a field it does not define", d->what);
    return KASSA_OK;
}

int pay_enc_blob(json_t *obj, const char *key, const uint8_t *p, size_t n, const char *what,
                 kassa_err *err)
{
    if (n == 0 || n > PAY_BLOB_MAX)
        return kassa_fail(err, KASSA_EINVAL, "%s: %s: expected 1..%d bytes", what, key,
                          PAY_BLOB_MAX);
    char b64[PAY_BLOB_B64_SIZE];
    sodium_bin2base64(b64, sizeof b64, p, n, sodium_base64_VARIANT_ORIGINAL);
    if (json_object_set_new(obj, key, json_string(b64)) != 0)
        return kassa_fail(err, KASSA_ENOMEM, "%s: out of memory", what);
    return KASSA_OK;
}

int pay_enc_finish(json_t *obj, kbuf *out, size_t max_bytes, bool line, const char *what,
                   kassa_err *err)
{
    if (!obj)
        return kassa_fail(err, KASSA_EINVAL, "%s: a field is not valid UTF-8 (or out of memory)",
                          what);
    /* Dumped into a bounded buffer on the stack: no allocation, and no
     * unbounded output whatever the fields hold. JSON_COMPACT never writes
     * a raw newline: strings escape theirs. */
    char s[PAY_BODY_MAX_BYTES];
    size_t cap = max_bytes < sizeof s ? max_bytes : sizeof s;
    size_t n = json_dumpb(obj, s, cap, JSON_COMPACT);
    json_decref(obj);
    if (n == 0)
        return kassa_fail(err, KASSA_ENOMEM, "%s: cannot write the JSON", what);
    if (n + (line ? 1 : 0) > cap)
        return kassa_fail(err, KASSA_EINVAL, "%s: longer than %zu bytes", what, max_bytes);
    kbuf_put(out, s, n);
    if (line)
        kbuf_put_u8(out, '\n');
    if (out->oom)
        return kassa_fail(err, KASSA_ENOMEM, "%s: out of memory", what);
    return KASSA_OK;
}
