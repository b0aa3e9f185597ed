/*
 * reply: every answer kassad sends. JSON bodies, the error shape of the
 * contract ({"error": {"code", "message"}}) and the mapping from kassa
 * error codes to HTTP statuses live here and nowhere else.
 */
#ifndef KASSAD_REPLY_H
#define KASSAD_REPLY_H

#include "kassad/request.h"

#include <sys/types.h>

/* Sends body (stolen; NULL means the handler ran out of memory: 500). */
void kd_reply_json(kd_req *r, int status, json_t *body);
void kd_reply_empty(kd_req *r, int status);
/* Sends the bytes of b with a content type. */
void kd_reply_bytes(kd_req *r, int status, const char *content_type, const kbuf *b);
/* Sends a file (the fd is handed over and closed after sending). */
void kd_reply_file(kd_req *r, const char *content_type, int fd, off_t size);

/* A JSON string from stored text. Text that is not UTF-8 (a name that
 * came from another terminal, say) has its non-ASCII bytes shown as '?'
 * rather than failing the whole answer. */
json_t *kd_json_text(const char *s);

/* Error codes of the contract. */
#define KD_E_BAD_REQUEST "bad_request"
#define KD_E_UNAUTHORIZED "unauthorized"
#define KD_E_FORBIDDEN "forbidden"
#define KD_E_NOT_FOUND "not_found"
#define KD_E_METHOD "method_not_allowed"
#define KD_E_CONFLICT "conflict"
#define KD_E_TOO_LARGE "payload_too_large"
#define KD_E_LOCKED "locked"
#define KD_E_STORAGE_FULL "storage_full"
#define KD_E_INTERNAL "internal"
#define KD_E_DECLINED "payment_declined"   /* 402 */
#define KD_E_PAYMENT_ERROR "payment_error" /* 502: reader or processor trouble */
#define KD_E_UNAVAILABLE "unavailable"     /* 503 */

/* Answers {"<key>": list} once a term listing filled list (stolen), or
 * the listing's error: rc KASSA_ENOMEM (a callback's) or err. */
void kd_reply_list(kd_req *r, const char *key, json_t *list, int rc, const kassa_err *err);

void kd_reply_error(kd_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers a failed term call: KASSA_EINVAL/EOVERFLOW 400, ENOTFOUND 404,
 * ECONFLICT 409, EAUTH 401, ELOCKED 423, EFULL 507, anything else 500
 * (logged). */
void kd_reply_kassa(kd_req *r, const kassa_err *err);

#endif
