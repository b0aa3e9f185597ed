/*
 * pay_internal.h: what the pay codecs share (src/pay only, not the API).
 *
 * Every message is checked twice by the same functions: the encoders refuse
 * a struct the decoders would refuse (KASSA_EINVAL, a caller bug), and the
 * decoders first read each JSON field into the struct (types, presence,
 * lengths) and then run the same checks on the struct (KASSA_ECORRUPT). So
 * whatever one side writes, the other side reads back unchanged.
 */
#ifndef KASSA_PAY_INTERNAL_H
#define KASSA_PAY_INTERNAL_H

#include "pay/pay.h"

#include <jansson.h>

/* ---- field checks (pay.c): true when the value is acceptable ---- */

/* s is NUL-terminated inside its size-byte buffer. */
bool pay_str_fits(const char *s, size_t size);
/* [A-Za-z0-9_], 1..PAY_TOKEN_MAX. */
bool pay_valid_token(const char *s);
/* Three upper-case ASCII letters. */
bool pay_valid_currency(const char *s);
/* Exactly four ASCII digits. */
bool pay_valid_last4(const char *s);
/* [a-z_], 1..max_len: reasons and brands, words a program compares. */
bool pay_valid_word(const char *s, size_t max_len);
/* [A-Z0-9], 1..PAY_AUTH_CODE_MAX. */
bool pay_valid_auth_code(const char *s);
/* 0..max_len bytes of text for people: no C0 or C1 control character and
 * no DEL (a message must never break a log line or a terminal). */
bool pay_valid_text(const char *s, size_t max_len);
/* "authorized" ... by name; false for an unknown name. */
bool pay_status_parse(const char *name, pay_status *out);

/* ---- decoding a JSON object field by field (json.c) ---- */

typedef struct pay_dec {
    json_t *root;
    const char *what; /* the message, first word of every error */
    size_t fields;    /* fields read so far: the object must hold no others */
    kassa_err *err;
} pay_dec;

/* Parses text (n bytes, at most max_bytes) as one JSON object and checks
 * its "v". line: a reader line, which may end in one '\n' and must hold no
 * other. On failure nothing is left to close. */
int pay_dec_open(pay_dec *d, const char *what, const char *text, size_t n, size_t max_bytes,
                 bool line, kassa_err *err);
void pay_dec_close(pay_dec *d);
/* A string field into out (at most out_size - 1 bytes). When !required a
 * missing field leaves out empty. */
int pay_dec_str(pay_dec *d, const char *key, bool required, char *out, size_t out_size);
/* An integer field in min..max (never a real). */
int pay_dec_int(pay_dec *d, const char *key, int64_t min, int64_t max, int64_t *out);
int pay_dec_bool(pay_dec *d, const char *key, bool *out);
/* A base64 (original alphabet, padded, canonical) field decoding to
 * 1..PAY_BLOB_MAX bytes. */
int pay_dec_blob(pay_dec *d, const char *key, uint8_t out[PAY_BLOB_MAX], size_t *out_len);
/* No field beyond those read. */
int pay_dec_end(pay_dec *d);
/* Fails with the message's name and a field: "read reply: last4: ...". */
int pay_dec_fail(pay_dec *d, const char *key, const char *why);

/* ---- encoding ---- */

/* Sets key to the base64 of p (original alphabet, padded). */
int pay_enc_blob(json_t *obj, const char *key, const uint8_t *p, size_t n, const char *what,
                 kassa_err *err);
/* Appends obj as compact JSON of at most max_bytes (line: plus '\n',
 * counted in max_bytes) and releases obj, also on failure (NULL obj: the
 * json_pack that built it failed). */
int pay_enc_finish(json_t *obj, kbuf *out, size_t max_bytes, bool line, const char *what,
                   kassa_err *err);

#endif
