/*
 * pay_internal.h: what the pay codecs share (src/pay only, not the API).
 *
 * Every message is checked twice by the same functions: the encoders refuse
 * a struct the decoders would refuse (KASSA_EINVAL, a caller bug), and the
 * decoders first read each JSON field into the struct (types, presence,
 * lengths) and then run the same checks on the struct (KASSA_ECORRUPT). So
 * whatever one side writes, the other side reads back unchanged.
 *
 * A message is described once (pay_msg: its checks, how its fields are
 * read, how its object is built) and pay_msg_encode / pay_msg_decode run
 * that description; the field rules several messages share (ids, amounts,
 * currencies, tokens, blobs) are written once, as pay_chk_* and pay_dec_*.
 */
#ifndef KASSA_PAY_INTERNAL_H
#define KASSA_PAY_INTERNAL_H

#include "pay/pay.h"

#include <jansson.h>
#include <sodium.h>

/* Base64 of the largest blob, NUL included. */
#define PAY_BLOB_B64_SIZE sodium_base64_ENCODED_LEN(PAY_BLOB_MAX, sodium_base64_VARIANT_ORIGINAL)

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

/* ---- checking a struct field by field (pay.c) ---- */

/* One run of a message's checks: code is KASSA_EINVAL in an encoder and
 * KASSA_ECORRUPT in a decoder. Every check returns true when the field is
 * acceptable, else fills err with "what: key: why" and returns false, so a
 * message's checks chain with && and stop at the first failure. */
typedef struct pay_chk {
    const char *what; /* the message, first word of every error */
    int code;
    kassa_err *err;
} pay_chk;

/* ok, or the failure: why is a printf format. */
bool pay_chk_ok(const pay_chk *c, bool ok, const char *key, const char *why, ...)
    __attribute__((format(printf, 4, 5)));
/* An id (kassa_valid_id, 1..max_len) in its size-byte buffer. */
bool pay_chk_id(const pay_chk *c, const char *key, const char *s, size_t size, size_t max_len);
/* "amount_minor": 1..PRICING_AMOUNT_MAX. */
bool pay_chk_amount(const pay_chk *c, int64_t amount_minor);
/* "currency": pay_valid_currency. */
bool pay_chk_currency(const pay_chk *c, const char *s, size_t size);
/* "token": pay_valid_token. */
bool pay_chk_token(const pay_chk *c, const char *s, size_t size);
/* "blob": 1..PAY_BLOB_MAX bytes. */
bool pay_chk_blob(const pay_chk *c, size_t blob_len);

/* ---- decoding a JSON object field by field (json.c) ---- */

typedef struct pay_dec {
    json_t *root;
    pay_chk chk;   /* the message's name, KASSA_ECORRUPT, err */
    size_t fields; /* fields read so far: the object must hold no others */
} pay_dec;

/* Each pay_dec_* reads one field and returns true, or fails with "what:
 * key: why" and returns false. */

/* A string field into out (at most out_size - 1 bytes). When !required a
 * missing field leaves out empty. */
bool pay_dec_str(pay_dec *d, const char *key, bool required, char *out, size_t out_size);
/* An integer field in min..max (never a real). */
bool pay_dec_int(pay_dec *d, const char *key, int64_t min, int64_t max, int64_t *out);
/* "amount_minor": an integer in 1..PRICING_AMOUNT_MAX. */
bool pay_dec_amount(pay_dec *d, int64_t *out);
bool pay_dec_bool(pay_dec *d, const char *key, bool *out);
/* A base64 (original alphabet, padded, canonical) field decoding to
 * 1..PAY_BLOB_MAX bytes. */
bool pay_dec_blob(pay_dec *d, const char *key, uint8_t out[PAY_BLOB_MAX], size_t *out_len);

/* ---- encoding ---- */

/* The base64 of p (n: 1..PAY_BLOB_MAX; original alphabet, padded). */
void pay_enc_b64(const uint8_t *p, size_t n, char out[PAY_BLOB_B64_SIZE]);

/* ---- one message (json.c) ---- */

typedef struct pay_msg {
    const char *what; /* "read request" ...: first word of every error */
    size_t size;      /* of its struct */
    size_t max_bytes; /* of its JSON: PAY_LINE_MAX_BYTES or PAY_BODY_MAX_BYTES */
    bool line;        /* a reader line: ends in '\n', which max_bytes counts */
    /* The checks both the encoder and the decoder run on the struct. */
    bool (*check)(const pay_chk *c, const void *m);
    /* Reads every field but "v" into m (zeroed) with pay_dec_*. */
    bool (*read)(pay_dec *d, void *m);
    /* The JSON object of a checked m, "v" included; NULL when json_pack
     * fails (a field is not valid UTF-8, or out of memory). */
    json_t *(*build)(const void *m);
} pay_msg;

/* Checks m (KASSA_EINVAL) and appends its JSON as compact JSON of at most
 * msg->max_bytes (a line: plus '\n'). */
int pay_msg_encode(const pay_msg *msg, const void *m, kbuf *out, kassa_err *err);
/* Parses text (n bytes, at most msg->max_bytes; a line may end in one '\n'
 * and must hold no other) as one JSON object with "v" PAY_VERSION, reads it
 * into m and checks it; on failure KASSA_ECORRUPT and m zeroed. */
int pay_msg_decode(const pay_msg *msg, const char *text, size_t n, void *m, kassa_err *err);

#endif
