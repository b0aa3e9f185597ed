/*
 * request: one API request as the handlers see it, and the helpers that
 * read its parts: path parameters, the query string, the JSON body. Each
 * reader that fails has already answered the request (400 or 413) and
 * returns NULL / -1, so a handler just returns.
 */
#ifndef KASSAD_REQUEST_H
#define KASSAD_REQUEST_H

#include "kassad/jsoncheck.h"
#include "kassad/kassad.h"
#include "kassad/route.h"

#include <sys/queue.h> /* before libevent's keyvalq: the full TAILQ macros */

#include <event2/keyvalq_struct.h>
#include <jansson.h>

/* A handler that will answer later, on its own (a card checkout), and
 * count the request in the metrics then. */
#define KD_STATUS_DEFERRED 1

typedef struct kd_req {
    kd_app *app;
    struct evhttp_request *ev;
    kd_match match;        /* route and path parameters */
    const char *query;     /* raw query string, NULL when none */
    struct evkeyvalq args; /* the query, decoded (kd_req_parse_query) */
    kd_session *session;   /* KD_ROUTE_AUTH routes: the caller's session */
    uint64_t started_us;   /* monotonic */
    int status;            /* 0 until answered; KD_STATUS_DEFERRED: answered later */
} kd_req;

/* The i-th {parameter} of the route, decoded. */
const char *kd_req_param(const kd_req *r, size_t i);

/* The body as a JSON object checked against schema; NULL when it was
 * answered (413 over the size limit, 400 otherwise). The caller owns the
 * result. An empty body reads as {} so bodiless routes accept it. */
json_t *kd_req_body(kd_req *r, const kd_schema *schema);

/* A raw body (an image, a recording) of at most max_bytes, in one piece:
 * *data NULL when it is empty. -1 when answered (413 naming `what` and the
 * limit, 500 out of memory). */
int kd_req_raw_body(kd_req *r, int64_t max_bytes, const char *what, const uint8_t **data,
                    size_t *len);

/* Parses the query into r->args: only the names in allowed (NULL-ended;
 * NULL: none), each at most once. -1 when answered with 400. The
 * dispatcher calls it for the route; kd_req_free_query releases it. */
int kd_req_parse_query(kd_req *r, const char *const *allowed);
void kd_req_free_query(kd_req *r);
/* A decoded query parameter, NULL when absent. */
const char *kd_req_arg(const kd_req *r, const char *name);
/* An integer query parameter in [min, max], def when absent; -1 when
 * answered with 400. */
int kd_req_arg_int(kd_req *r, const char *name, int64_t min, int64_t max, int64_t def,
                   int64_t *out);

#endif
