/* reply.c: sending answers; the error shape and the error-code mapping. */
#include "kassad/reply.h"

#include "jlog/jlog.h"
#include "kassad/server.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 423:
        return "Locked";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    default:
        return "Internal Server Error";
    }
}

/* The one place a response leaves: common headers, bookkeeping, send. */
static void send_reply(kd_req *r, int status, const char *content_type, struct evbuffer *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    if (content_type)
        evhttp_add_header(h, "Content-Type", content_type);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (!evhttp_find_header(h, "Cache-Control"))
        evhttp_add_header(h, "Cache-Control", "no-store");
    if (r->app->stopping)
        evhttp_add_header(h, "Connection", "close");
    r->status = status;
    kd_server_sending(r);
    evhttp_send_reply(r->ev, status, reason_phrase(status), body);
}

/* A reply that could not be built: a fixed body needs no allocation. */
static void send_oom(kd_req *r)
{
    static const char BODY[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
    jlog(JLOG_ERROR, "kassad", "out_of_memory", NULL);
    struct evbuffer *b = evhttp_request_get_output_buffer(r->ev);
    evbuffer_add_reference(b, BODY, sizeof BODY - 1, NULL, NULL);
    send_reply(r, 500, "application/json", NULL);
}

static void free_text(const void *data, size_t len, void *extra)
{
    (void)len, (void)extra;
    free((void *)data);
}

void kd_reply_json(kd_req *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        send_oom(r);
        return;
    }
    struct evbuffer *b = evhttp_request_get_output_buffer(r->ev);
    /* evbuffer frees the text once sent: no copy of large answers. */
    if (evbuffer_add_reference(b, text, strlen(text), free_text, NULL) != 0) {
        free(text);
        send_oom(r);
        return;
    }
    send_reply(r, status, "application/json", NULL);
}

void kd_reply_empty(kd_req *r, int status)
{
    send_reply(r, status, NULL, NULL);
}

void kd_reply_bytes(kd_req *r, int status, const char *content_type, const kbuf *b)
{
    if (b->oom || evbuffer_add(evhttp_request_get_output_buffer(r->ev), b->data, b->len) != 0) {
        send_oom(r);
        return;
    }
    send_reply(r, status, content_type, NULL);
}

void kd_reply_file(kd_req *r, const char *content_type, int fd, off_t size)
{
    /* evbuffer_add_file owns fd from here on (sendfile when it can). */
    if (evbuffer_add_file(evhttp_request_get_output_buffer(r->ev), fd, 0, size) != 0) {
        send_oom(r);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Cache-Control", "no-cache");
    send_reply(r, 200, content_type, NULL);
}

void kd_reply_error(kd_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[KASSA_ERR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (status == 405 && r->match.allow[0])
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Allow", r->match.allow);
    /* A message may quote request input that is not UTF-8 (jansson
     * refuses it): fall back to the bare code rather than fail. */
    json_t *m = json_string(msg);
    kd_reply_json(
        r, status,
        json_pack("{s:{s:s,s:o}}", "error", "code", code, "message", m ? m : json_string(code)));
}

void kd_reply_kassa(kd_req *r, const kassa_err *err)
{
    const char *msg = err->msg[0] ? err->msg : kassa_strerror(err->code);
    switch (err->code) {
    case KASSA_EINVAL:
    case KASSA_EOVERFLOW:
        kd_reply_error(r, 400, KD_E_BAD_REQUEST, "%s", msg);
        return;
    case KASSA_ENOTFOUND:
        kd_reply_error(r, 404, KD_E_NOT_FOUND, "%s", msg);
        return;
    case KASSA_ECONFLICT:
        kd_reply_error(r, 409, KD_E_CONFLICT, "%s", msg);
        return;
    case KASSA_EAUTH:
        kd_reply_error(r, 401, KD_E_UNAUTHORIZED, "%s", msg);
        return;
    case KASSA_ELOCKED:
        kd_reply_error(r, 423, KD_E_LOCKED, "%s", msg);
        return;
    case KASSA_EFULL:
        jlog(JLOG_ERROR, "kassad", "storage_full", "{s:s}", "error", msg);
        kd_reply_error(r, 507, KD_E_STORAGE_FULL, "%s", msg);
        return;
    default:
        jlog(JLOG_ERROR, "kassad", "internal_error", "{s:s,s:i}", "error", msg, "code", err->code);
        kd_reply_error(r, 500, KD_E_INTERNAL, "%s", msg);
        return;
    }
}

void kd_reply_list(kd_req *r, const char *key, json_t *list, int rc, const kassa_err *err)
{
    if (rc == KASSA_OK) {
        kd_reply_json(r, 200, json_pack("{s:o}", key, list));
        return;
    }
    json_decref(list);
    if (rc == KASSA_ENOMEM)
        kd_reply_json(r, 500, NULL);
    else
        kd_reply_kassa(r, err);
}

json_t *kd_json_text(const char *s)
{
    json_t *v = json_string(s);
    if (v)
        return v;
    char safe[KASSA_NAME_MAX + 1];
    size_t n = 0;
    for (; s[n] && n + 1 < sizeof safe; n++)
        safe[n] = (unsigned char)s[n] < 0x80 ? s[n] : '?';
    safe[n] = '\0';
    return json_string(safe);
}
