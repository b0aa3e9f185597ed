#include "base/base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kassa_fail(kassa_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void kassa_err_clear(kassa_err *err)
{
    if (err) {
        err->code = KASSA_OK;
        err->msg[0] = '\0';
    }
}

const char *kassa_strerror(int code)
{
    switch (code) {
    case KASSA_OK:
        return "ok";
    case KASSA_EINVAL:
        return "invalid input";
    case KASSA_ENOTFOUND:
        return "not found";
    case KASSA_ECONFLICT:
        return "conflict";
    case KASSA_ECORRUPT:
        return "corrupt data";
    case KASSA_EFULL:
        return "storage full";
    case KASSA_EIO:
        return "i/o error";
    case KASSA_ENOMEM:
        return "out of memory";
    case KASSA_EVERSION:
        return "version mismatch";
    case KASSA_EOVERFLOW:
        return "overflow";
    case KASSA_EBUSY:
        return "busy";
    case KASSA_EAUTH:
        return "not authorised";
    case KASSA_ELOCKED:
        return "locked";
    default:
        return "unknown error";
    }
}

/* ---- kbuf ---- */

void kbuf_init(kbuf *b)
{
    memset(b, 0, sizeof *b);
}

void kbuf_free(kbuf *b)
{
    free(b->data);
    kbuf_init(b);
}

void kbuf_reset(kbuf *b)
{
    b->len = 0;
    b->oom = false;
}

static bool kbuf_reserve(kbuf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + extra;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void kbuf_put(kbuf *b, const void *p, size_t n)
{
    if (n == 0 || !kbuf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void kbuf_put_u8(kbuf *b, uint8_t v)
{
    kbuf_put(b, &v, 1);
}

void kbuf_put_u32le(kbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    kbuf_put(b, x, 4);
}

size_t kassa_uvarint_encode(uint8_t out[KASSA_UVARINT_MAX], uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

void kbuf_put_uvarint(kbuf *b, uint64_t v)
{
    uint8_t x[KASSA_UVARINT_MAX];
    kbuf_put(b, x, kassa_uvarint_encode(x, v));
}

void kbuf_put_svarint(kbuf *b, int64_t v)
{
    kbuf_put_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void kbuf_put_bytes(kbuf *b, const void *p, size_t n)
{
    kbuf_put_uvarint(b, n);
    kbuf_put(b, p, n);
}

void kbuf_put_str(kbuf *b, const char *s)
{
    kbuf_put_bytes(b, s, strlen(s));
}

/* ---- kreader ---- */

void kreader_init(kreader *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->bad = false;
}

size_t kreader_left(const kreader *r)
{
    return r->bad ? 0 : r->len - r->pos;
}

bool kreader_raw(kreader *r, size_t n, const uint8_t **p)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return false;
    }
    *p = r->p + r->pos;
    r->pos += n;
    return true;
}

bool kreader_u8(kreader *r, uint8_t *v)
{
    const uint8_t *p;
    if (!kreader_raw(r, 1, &p))
        return false;
    *v = p[0];
    return true;
}

bool kreader_u32le(kreader *r, uint32_t *v)
{
    const uint8_t *p;
    if (!kreader_raw(r, 4, &p))
        return false;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return true;
}

bool kreader_uvarint(kreader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0, i = 0; i < 10; i++, shift += 7) {
        uint8_t byte;
        if (!kreader_u8(r, &byte))
            return false;
        /* The 10th byte may only carry the top bit of a 64-bit value. */
        if (i == 9 && byte > 1) {
            r->bad = true;
            return false;
        }
        /* A final zero byte after a continuation is an over-long form:
         * one value, one encoding, so hashes of re-encoded data agree. */
        if (i > 0 && byte == 0) {
            r->bad = true;
            return false;
        }
        x |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = x;
            return true;
        }
    }
    r->bad = true;
    return false;
}

bool kreader_svarint(kreader *r, int64_t *v)
{
    uint64_t u;
    if (!kreader_uvarint(r, &u))
        return false;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return true;
}

bool kreader_bytes(kreader *r, size_t max_len, const uint8_t **p, size_t *n)
{
    uint64_t len;
    if (!kreader_uvarint(r, &len))
        return false;
    if (len > max_len) {
        r->bad = true;
        return false;
    }
    if (!kreader_raw(r, (size_t)len, p))
        return false;
    *n = (size_t)len;
    return true;
}

bool kreader_str(kreader *r, char *out, size_t out_size)
{
    const uint8_t *p;
    size_t n;
    if (out_size == 0 || !kreader_bytes(r, out_size - 1, &p, &n))
        return false;
    if (memchr(p, '\0', n)) {
        r->bad = true;
        return false;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

int64_t kassa_div_round_half_up(int64_t num, int64_t den)
{
    /* q*den + rem == num with |rem| < den. Round away from zero when
     * 2*|rem| >= den, written as |rem| >= den - |rem| so nothing overflows. */
    int64_t q = num / den;
    int64_t rem = num % den;
    int64_t arem = rem < 0 ? -rem : rem;
    if (arem >= den - arem)
        q += num < 0 ? -1 : 1;
    return q;
}

bool kassa_valid_id(const char *s, size_t max_len)
{
    size_t n = strlen(s);
    if (n == 0 || n > max_len)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}
