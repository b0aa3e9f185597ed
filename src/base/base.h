/*
 * base: the small vocabulary every kassa module shares.
 *
 * - kassa_err: library code never prints or exits; it returns a negative
 *   KASSA_E* code and fills a kassa_err with a one-line human reason.
 * - kbuf / kreader: a growable byte buffer and a bounds-checked reader with
 *   LEB128 varints. Every decoder of untrusted bytes reads through kreader, so
 *   a truncated or oversized field is an error, never an out-of-bounds read.
 * - checked int64 arithmetic for money and quantities.
 */
#ifndef KASSA_BASE_H
#define KASSA_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    KASSA_OK = 0,
    KASSA_EINVAL = -1,    /* bad input from the caller or the user */
    KASSA_ENOTFOUND = -2, /* unknown SKU, sale, node ... */
    KASSA_ECONFLICT = -3, /* the request contradicts recorded state */
    KASSA_ECORRUPT = -4,  /* stored or received bytes fail a check */
    KASSA_EFULL = -5,     /* storage exhausted */
    KASSA_EIO = -6,       /* database or file system error */
    KASSA_ENOMEM = -7,
    KASSA_EVERSION = -8,  /* schema or file format from a newer kassa */
    KASSA_EOVERFLOW = -9, /* an amount or quantity does not fit */
    KASSA_EBUSY = -10,    /* database locked by another process */
    KASSA_EAUTH = -11,    /* wrong PIN, unknown cashier or missing right */
    KASSA_ELOCKED = -12,  /* too many wrong PINs: locked for a while */
};

#define KASSA_ERR_MSG_SIZE 256

typedef struct kassa_err {
    int code;
    char msg[KASSA_ERR_MSG_SIZE];
} kassa_err;

/* Sets err (when non-NULL) and returns code, so callers can
 * `return kassa_fail(err, KASSA_EINVAL, "...", ...);`. */
int kassa_fail(kassa_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void kassa_err_clear(kassa_err *err);
const char *kassa_strerror(int code);

/* ---- growable byte buffer ---- */

typedef struct kbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool oom; /* sticky: one failed allocation poisons the buffer */
} kbuf;

void kbuf_init(kbuf *b);
void kbuf_free(kbuf *b);
void kbuf_reset(kbuf *b);
void kbuf_put(kbuf *b, const void *p, size_t n);
void kbuf_put_u8(kbuf *b, uint8_t v);
void kbuf_put_u32le(kbuf *b, uint32_t v);
#define KASSA_UVARINT_MAX 10
/* LEB128: writes 1..KASSA_UVARINT_MAX bytes, returns how many. */
size_t kassa_uvarint_encode(uint8_t out[KASSA_UVARINT_MAX], uint64_t v);
void kbuf_put_uvarint(kbuf *b, uint64_t v);
void kbuf_put_svarint(kbuf *b, int64_t v); /* zig-zag */
/* Length-prefixed bytes (uvarint length). */
void kbuf_put_bytes(kbuf *b, const void *p, size_t n);
void kbuf_put_str(kbuf *b, const char *s);

/* ---- bounds-checked reader ---- */

typedef struct kreader {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool bad; /* sticky: any failed read marks the reader bad */
} kreader;

void kreader_init(kreader *r, const void *p, size_t len);
bool kreader_u8(kreader *r, uint8_t *v);
bool kreader_u32le(kreader *r, uint32_t *v);
bool kreader_uvarint(kreader *r, uint64_t *v);
bool kreader_svarint(kreader *r, int64_t *v);
bool kreader_raw(kreader *r, size_t n, const uint8_t **p);
/* Length-prefixed bytes no longer than max_len. */
bool kreader_bytes(kreader *r, size_t max_len, const uint8_t **p, size_t *n);
/* Length-prefixed string copied NUL-terminated into out (out_size includes
 * the NUL); rejects embedded NULs and strings that do not fit. */
bool kreader_str(kreader *r, char *out, size_t out_size);
size_t kreader_left(const kreader *r);

/* ---- checked arithmetic ---- */

static inline bool kassa_add_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}
static inline bool kassa_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Rounds num/den to the nearest integer, halves away from zero; den > 0. */
int64_t kassa_div_round_half_up(int64_t num, int64_t den);

/* Identifiers (store, node, SKU): 1..max_len bytes of [A-Za-z0-9._-]. */
bool kassa_valid_id(const char *s, size_t max_len);

#define KASSA_ID_MAX 32
#define KASSA_SKU_MAX 32
#define KASSA_NAME_MAX 96
#define KASSA_BARCODE_MAX 32

#define KASSA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
