/* request.c: reading path parameters, query strings and JSON bodies. */
#include "kassad/request.h"

#include "kassad/reply.h"

#include <sys/queue.h> /* before libevent's headers: TAILQ_INIT, TAILQ_FOREACH */

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *kd_req_param(const kd_req *r, size_t i)
{
    return i < r->match.n_params ? r->match.params[i] : "";
}

int kd_req_raw_body(kd_req *r, int64_t max_bytes, const char *what, const uint8_t **data,
                    size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
    *len = evbuffer_get_length(in);
    *data = NULL;
    if (*len > (size_t)max_bytes) {
        kd_reply_error(r, 413, KD_E_TOO_LARGE, "the %s is %zu bytes; the limit is %lld", what, *len,
                       (long long)max_bytes);
        return -1;
    }
    if (*len > 0 && !(*data = evbuffer_pullup(in, -1))) {
        kd_reply_error(r, 500, KD_E_INTERNAL, "out of memory");
        return -1;
    }
    return 0;
}

json_t *kd_req_body(kd_req *r, const kd_schema *schema)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
    size_t len = evbuffer_get_length(in);
    /* libevent's own limit is KD_BODY_SLACK_BYTES above this one
     * (server.h), so a body over the limit still gets the JSON answer. */
    if (len > (size_t)r->app->cfg.max_body_size_bytes) {
        kd_reply_error(r, 413, KD_E_TOO_LARGE, "the body is %zu bytes; the limit is %lld", len,
                       (long long)r->app->cfg.max_body_size_bytes);
        return NULL;
    }
    json_t *body;
    if (len == 0) {
        body = json_object();
    } else {
        const char *data = (const char *)evbuffer_pullup(in, -1);
        json_error_t jerr;
        body = data ? json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
        if (data && !body) {
            kd_reply_error(r, 400, KD_E_BAD_REQUEST, "malformed JSON at byte %d: %s", jerr.position,
                           jerr.text);
            return NULL;
        }
    }
    if (!body) {
        kd_reply_json(r, 500, NULL);
        return NULL;
    }
    kassa_err err;
    static const kd_schema EMPTY = {NULL, 0};
    if (kd_json_check(body, schema ? schema : &EMPTY, &err) != KASSA_OK) {
        json_decref(body);
        kd_reply_kassa(r, &err);
        return NULL;
    }
    return body;
}

static bool allowed_name(const char *const *allowed, const char *name)
{
    for (size_t i = 0; allowed && allowed[i]; i++)
        if (strcmp(allowed[i], name) == 0)
            return true;
    return false;
}

int kd_req_parse_query(kd_req *r, const char *const *allowed)
{
    if (!r->query || !*r->query)
        return 0;
    /* %00 would silently cut a value short after decoding. */
    if (strstr(r->query, "%00") || evhttp_parse_query_str(r->query, &r->args) != 0) {
        kd_reply_error(r, 400, KD_E_BAD_REQUEST, "malformed query string");
        return -1;
    }
    const struct evkeyval *kv;
    TAILQ_FOREACH(kv, &r->args, next)
    {
        /* evhttp_find_header returns the first entry of a name: another
         * entry means the name is repeated. */
        const char *problem = !allowed_name(allowed, kv->key) ? "unknown query parameter"
                              : evhttp_find_header(&r->args, kv->key) != kv->value
                                  ? "repeated query parameter"
                                  : NULL;
        if (problem) {
            kd_reply_error(r, 400, KD_E_BAD_REQUEST, "%s \"%.64s\"", problem, kv->key);
            return -1;
        }
    }
    return 0;
}

void kd_req_free_query(kd_req *r)
{
    evhttp_clear_headers(&r->args);
}

const char *kd_req_arg(const kd_req *r, const char *name)
{
    return evhttp_find_header(&r->args, name);
}

int kd_req_arg_int(kd_req *r, const char *name, int64_t min, int64_t max, int64_t def, int64_t *out)
{
    const char *v = kd_req_arg(r, name);
    if (!v) {
        *out = def;
        return 0;
    }
    long long n = 0;
    size_t len = strlen(v);
    bool ok = len > 0 && len <= 18 && strspn(v, "0123456789") == len;
    if (ok)
        n = strtoll(v, NULL, 10);
    if (!ok || n < min || n > max) {
        kd_reply_error(r, 400, KD_E_BAD_REQUEST, "%s: expected an integer %lld..%lld", name,
                       (long long)min, (long long)max);
        return -1;
    }
    *out = n;
    return 0;
}
