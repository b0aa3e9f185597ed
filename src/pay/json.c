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

#include "pricing/pricing.h"

#include <string.h>

/* Parses text (n bytes, at most max_bytes) as one JSON object and checks
 * its "v". line: a reader line, which may end in one '\n' and must hold no
 * other. On failure nothing is left to close. */
static int dec_open(pay_dec *d, const pay_msg *msg, const char *text, size_t n, kassa_err *err)
{
    *d = (pay_dec){.chk = {msg->what, KASSA_ECORRUPT, err}};
    if (n > msg->max_bytes)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: longer than %zu bytes", msg->what,
                          msg->max_bytes);
    if (msg->line && n > 0 && text[n - 1] == '\n')
        n--;
    if (msg->line && memchr(text, '\n', n))
        return kassa_fail(err, KASSA_ECORRUPT, "%s: more than one line", msg->what);
    json_error_t je;
    json_t *root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: not valid JSON (at byte %d)", msg->what,
                          je.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return kassa_fail(err, KASSA_ECORRUPT, "%s: not a JSON object", msg->what);
    }
    d->root = root;
    int64_t v;
    if (pay_dec_int(d, "v", 0, INT64_MAX, &v) &&
        pay_chk_ok(&d->chk, v == PAY_VERSION, "v", "unsupported version"))
        return KASSA_OK;
    json_decref(root);
    return KASSA_ECORRUPT;
}

static json_t *field(pay_dec *d, const char *key)
{
    json_t *v = json_object_get(d->root, key);
    if (v)
        d->fields++;
    return v;
}

bool pay_dec_str(pay_dec *d, const char *key, bool required, char *out, size_t out_size)
{
    out[0] = '\0';
    json_t *v = field(d, key);
    if (!v)
        return pay_chk_ok(&d->chk, !required, key, "missing");
    if (!pay_chk_ok(&d->chk, json_is_string(v), key, "expected a string"))
        return false;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    /* jansson refuses \u0000 unless asked; checked so a value is always a
     * whole C string. */
    if (!pay_chk_ok(&d->chk, strlen(s) == n, key, "contains a NUL character") ||
        !pay_chk_ok(&d->chk, n < out_size, key, "longer than %zu bytes", out_size - 1))
        return false;
    memcpy(out, s, n + 1);
    return true;
}

bool pay_dec_int(pay_dec *d, const char *key, int64_t min, int64_t max, int64_t *out)
{
    *out = 0;
    json_t *v = field(d, key);
    if (!pay_chk_ok(&d->chk, v != NULL, key, "missing") ||
        !pay_chk_ok(&d->chk, json_is_integer(v), key, "expected an integer"))
        return false;
    json_int_t x = json_integer_value(v);
    if (!pay_chk_ok(&d->chk, x >= min && x <= max, key, "out of range %lld..%lld", (long long)min,
                    (long long)max))
        return false;
    *out = x;
    return true;
}

bool pay_dec_amount(pay_dec *d, int64_t *out)
{
    return pay_dec_int(d, "amount_minor", 1, PRICING_AMOUNT_MAX, out);
}

bool pay_dec_bool(pay_dec *d, const char *key, bool *out)
{
    *out = false;
    json_t *v = field(d, key);
    if (!pay_chk_ok(&d->chk, v != NULL, key, "missing") ||
        !pay_chk_ok(&d->chk, json_is_boolean(v), key, "expected true or false"))
        return false;
    *out = json_is_true(v);
    return true;
}

bool pay_dec_blob(pay_dec *d, const char *key, uint8_t out[PAY_BLOB_MAX], size_t *out_len)
{
    *out_len = 0;
    char b64[PAY_BLOB_B64_SIZE];
    if (!pay_dec_str(d, key, true, b64, sizeof b64))
        return false;
    size_t n = strlen(b64), bin_len = 0;
    /* No b64_end: the whole string must decode; no ignore: no whitespace. */
    if (!pay_chk_ok(&d->chk,
                    n > 0 && sodium_base642bin(out, PAY_BLOB_MAX, b64, n, NULL, &bin_len, NULL,
                                               sodium_base64_VARIANT_ORIGINAL) == 0,
                    key, "not base64 of 1..512 bytes"))
        return false;
    /* One text per blob: encoding it again must give the same text, so a
     * message decodes, encodes and decodes to the same bytes. */
    char again[PAY_BLOB_B64_SIZE];
    sodium_bin2base64(again, sizeof again, out, bin_len, sodium_base64_VARIANT_ORIGINAL);
    if (bin_len == 0 || strcmp(again, b64) != 0) {
        sodium_memzero(out, PAY_BLOB_MAX);
        return pay_chk_ok(&d->chk, false, key, "not canonical base64");
    }
    *out_len = bin_len;
    return true;
}

void pay_enc_b64(const uint8_t *p, size_t n, char out[PAY_BLOB_B64_SIZE])
{
    sodium_bin2base64(out, PAY_BLOB_B64_SIZE, p, n, sodium_base64_VARIANT_ORIGINAL);
}

/* Appends obj as compact JSON of at most max_bytes (line: plus '\n',
 * counted in max_bytes) and releases obj, also on failure (NULL obj: the
 * json_pack that built it failed). */
static int enc_finish(json_t *obj, kbuf *out, size_t max_bytes, bool line, const char *what,
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

int pay_msg_encode(const pay_msg *msg, const void *m, kbuf *out, kassa_err *err)
{
    pay_chk c = {msg->what, KASSA_EINVAL, err};
    if (!msg->check(&c, m))
        return KASSA_EINVAL;
    return enc_finish(msg->build(m), out, msg->max_bytes, msg->line, msg->what, err);
}

int pay_msg_decode(const pay_msg *msg, const char *text, size_t n, void *m, kassa_err *err)
{
    memset(m, 0, msg->size);
    pay_dec d;
    int rc = dec_open(&d, msg, text, n, err);
    if (rc != KASSA_OK)
        return rc;
    bool ok = msg->read(&d, m);
    /* No field beyond those read. */
    if (ok && json_object_size(d.root) != d.fields) {
        kassa_fail(err, KASSA_ECORRUPT, "%s: has a field it does not define", msg->what);
        ok = false;
    }
    json_decref(d.root);
    if (!ok || !msg->check(&d.chk, m)) {
        memset(m, 0, msg->size);
        return KASSA_ECORRUPT;
    }
    return KASSA_OK;
}
