/*
 * http.c: the processor's HTTP API on libevent's evhttp (plain HTTP on
 * loopback; keep-alive as evhttp does it).
 *
 *   POST /v1/payments                     pay_auth_req -> pay_result
 *   POST /v1/payments/{id}/capture?store=S             -> pay_result
 *   POST /v1/payments/{id}/reverse?store=S             -> pay_result
 *   POST /v1/refunds                      pay_refund_req -> pay_result
 *   GET  /v1/payments/{id}?store=S        the payment's state
 *   GET  /v1/ledger                       totals over everything held
 *   POST /control {"mode":M}              test hook (below)
 *
 * Errors are {"error":"..."}: 400 (bad body, path or query; a body that is
 * not Content-Type application/json), 404, 405, 409, 413 (body over
 * PAY_BODY_MAX_BYTES), 503 (full).
 *
 * Test modes (POST /control): "error500" answers every /v1 call 500;
 * "garbage" answers 200 with a body that is not JSON; "hang" holds /v1
 * calls unanswered and unprocessed (the processor is unreachable) until
 * the mode changes, then drops their connections; "normal".
 *
 * Delays: --slow-ms before every /v1 answer; the "network timeout" card's
 * answer also waits --timeout-hold-ms. Held answers are bounded
 * (HELD_MAX); past that they go out at once.
 *
 * TCP_NODELAY on every connection: without it a keep-alive client's next
 * request waits for the delayed ACK of the last answer (~40 ms).
 */
#include "procsim/procsim.h"

#include "jlog/jlog.h"

#include <errno.h>
#include <sys/queue.h> /* before libevent's keyvalq: the full TAILQ macros */

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define HELD_MAX 4096
#define HEADERS_MAX_BYTES 16384
/* evhttp itself refuses bodies past this (its own 413); between it and
 * PAY_BODY_MAX_BYTES we answer a JSON 413. */
#define BODY_SLACK_BYTES 4096
#define LOG_PATH_MAX 200

typedef enum {
    MODE_NORMAL = 0,
    MODE_ERROR500,
    MODE_GARBAGE,
    MODE_HANG,
} ps_mode;

static const char *const mode_names[] = {"normal", "error500", "garbage", "hang"};

typedef struct ps_server ps_server;

/* An answer waiting for its timer, or (timer NULL) a hung request. */
typedef struct held {
    ps_server *srv;
    struct evhttp_request *req;
    struct event *timer;
    int status;
    const char *content_type;
    char *body;
    size_t len;
    struct held *prev, *next;
} held;

struct ps_server {
    ps_config *cfg;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    pay_sim_signals sigs;
    ps_ledger *ledger;
    ps_mode mode;
    held *held;
    size_t n_held;
};

/* What a request did, for its log line. */
typedef struct req_log {
    const char *method;
    char path[LOG_PATH_MAX + 1];
    char payment_id[PAY_ID_MAX + 1];
    int http_status;
    const char *status; /* pay status name, when there is a result */
    char reason[PAY_REASON_MAX + 1];
} req_log;

static void set_nodelay(evutil_socket_t fd)
{
    int one = 1;
    if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        jlog(JLOG_WARN, "processor-sim", "nodelay_failed", "{s:s}", "error", strerror(errno));
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

/* ---- sending ---- */

static void send_now(struct evhttp_request *req, int status, const char *content_type,
                     const char *body, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    if (!b || evbuffer_add(b, body, len) != 0) {
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (evhttp_add_header(h, "Content-Type", content_type) != 0 ||
        evhttp_add_header(h, "Cache-Control", "no-store") != 0) {
        evbuffer_free(b);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evhttp_send_reply(req, status, reason_phrase(status), b);
    evbuffer_free(b);
}

static void held_unlink(held *h)
{
    ps_server *s = h->srv;
    if (h->prev)
        h->prev->next = h->next;
    else
        s->held = h->next;
    if (h->next)
        h->next->prev = h->prev;
    s->n_held--;
}

static void held_free(held *h)
{
    if (h->timer)
        event_free(h->timer);
    free(h->body);
    free(h);
}

static void on_held_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    held *h = arg;
    held_unlink(h);
    /* evhttp frees the request, also when its client has gone: then it
     * was detached from the connection and sending only frees it. */
    send_now(h->req, h->status, h->content_type, h->body, h->len);
    held_free(h);
}

/* Drops a hung request: its connection closes without an answer. */
static void drop(held *h)
{
    held_unlink(h);
    struct evhttp_connection *c = evhttp_request_get_connection(h->req);
    if (c)
        evhttp_connection_free(c); /* frees the request with it */
    else
        evhttp_request_free(h->req); /* the client left: detached, ours */
    held_free(h);
}

static held *held_new(ps_server *s, struct evhttp_request *req)
{
    if (s->n_held >= HELD_MAX)
        return NULL;
    held *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->srv = s;
    h->req = req;
    h->next = s->held;
    if (s->held)
        s->held->prev = h;
    s->held = h;
    s->n_held++;
    return h;
}

static void answer(ps_server *s, struct evhttp_request *req, int status, const char *content_type,
                   const char *body, size_t len, int64_t delay_ms)
{
    held *h = delay_ms > 0 ? held_new(s, req) : NULL;
    if (h) {
        h->status = status;
        h->content_type = content_type;
        h->body = malloc(len ? len : 1);
        h->len = len;
        h->timer = evtimer_new(s->base, on_held_timer, h);
        struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};
        if (h->body && h->timer && evtimer_add(h->timer, &tv) == 0) {
            memcpy(h->body, body, len);
            return;
        }
        held_unlink(h);
        held_free(h);
    }
    /* No delay, or it could not be set up: answer now. */
    send_now(req, status, content_type, body, len);
}

static void answer_json(ps_server *s, struct evhttp_request *req, int status, json_t *obj,
                        int64_t delay_ms)
{
    char buf[PAY_BODY_MAX_BYTES];
    size_t n = obj ? json_dumpb(obj, buf, sizeof buf, JSON_COMPACT) : 0;
    json_decref(obj);
    if (n == 0 || n > sizeof buf) {
        static const char oom[] = "{\"error\":\"the answer could not be written\"}";
        answer(s, req, 500, "application/json", oom, sizeof oom - 1, 0);
        return;
    }
    answer(s, req, status, "application/json", buf, n, delay_ms);
}

static void answer_error(ps_server *s, struct evhttp_request *req, req_log *lg, int status,
                         const char *msg, int64_t delay_ms)
{
    lg->http_status = status;
    answer_json(s, req, status, json_pack("{s:s}", "error", msg), delay_ms);
}

static void answer_outcome(ps_server *s, struct evhttp_request *req, req_log *lg,
                           const ps_outcome *o)
{
    int64_t delay = s->cfg->slow_ms + (o->hold ? s->cfg->timeout_hold_ms : 0);
    if (o->http_status != 200) {
        answer_error(s, req, lg, o->http_status, o->error, delay);
        return;
    }
    kbuf b;
    kbuf_init(&b);
    kassa_err err;
    if (pay_result_encode(&o->result, &b, &err) != KASSA_OK) {
        jlog(JLOG_ERROR, "processor-sim", "encode_failed", "{s:s}", "error", err.msg);
        answer_error(s, req, lg, 500, "the answer could not be written", 0);
    } else {
        lg->http_status = 200;
        lg->status = pay_status_name(o->result.status);
        snprintf(lg->reason, sizeof lg->reason, "%s", o->result.reason);
        answer(s, req, 200, "application/json", (const char *)b.data, b.len, delay);
    }
    kbuf_free(&b);
}

/* ---- request parts ---- */

static bool json_content_type(struct evhttp_request *req)
{
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    static const char want[] = "application/json";
    if (!ct || strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    char next = ct[sizeof want - 1];
    return next == '\0' || next == ';' || next == ' ';
}

/* Copies the body into buf (PAY_BODY_MAX_BYTES), or refuses it (answered
 * after delay_ms) and returns false. need_json: a body is required. */
static bool read_body(ps_server *s, struct evhttp_request *req, req_log *lg, bool need_json,
                      int64_t delay_ms, char *buf, size_t *n)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = in ? evbuffer_get_length(in) : 0;
    int status = 400;
    const char *why = NULL;
    *n = 0;
    if (len > PAY_BODY_MAX_BYTES) {
        status = 413;
        why = "body larger than 8192 bytes";
    } else if ((need_json || len > 0) && !json_content_type(req)) {
        why = "expected Content-Type: application/json";
    } else if (len > 0 && evbuffer_copyout(in, buf, len) != (ev_ssize_t)len) {
        why = "cannot read the body";
    }
    if (why) {
        answer_error(s, req, lg, status, why, delay_ms);
        return false;
    }
    *n = len;
    return true;
}

/* The store=S query parameter into store. */
static bool query_store(const char *query, char store[KASSA_ID_MAX + 1])
{
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    if (!query || evhttp_parse_query_str(query, &q) != 0) {
        evhttp_clear_headers(&q);
        return false;
    }
    const char *v = evhttp_find_header(&q, "store");
    bool ok = v && kassa_valid_id(v, KASSA_ID_MAX);
    if (ok)
        snprintf(store, KASSA_ID_MAX + 1, "%s", v);
    evhttp_clear_headers(&q);
    return ok;
}

static ps_clock clock_now(void)
{
    time_t t = time(NULL);
    struct tm tm;
    ps_clock c = {2000, 1};
    if (t != (time_t)-1 && gmtime_r(&t, &tm)) {
        c.year = tm.tm_year + 1900;
        c.month = tm.tm_mon + 1;
    }
    return c;
}

/* ---- /v1 handlers ---- */

/* POST /v1/payments (refund false) and POST /v1/refunds: the body
 * decoded, then the ledger. */
static void h_create(ps_server *s, struct evhttp_request *req, req_log *lg, bool refund)
{
    char body[PAY_BODY_MAX_BYTES];
    size_t n;
    if (!read_body(s, req, lg, true, s->cfg->slow_ms, body, &n))
        return;
    pay_auth_req auth = {0};
    pay_refund_req ref = {0};
    kassa_err err;
    int rc = refund ? pay_refund_req_decode(body, n, &ref, &err)
                    : pay_auth_req_decode(body, n, &auth, &err);
    if (rc != KASSA_OK) {
        answer_error(s, req, lg, 400, err.msg, s->cfg->slow_ms);
        return;
    }
    snprintf(lg->payment_id, sizeof lg->payment_id, "%s",
             refund ? ref.payment_id : auth.payment_id);
    ps_outcome o;
    if (refund)
        ps_refund(s->ledger, &ref, &o);
    else
        ps_authorize(s->ledger, &s->cfg->keys, clock_now(), &auth, &o);
    answer_outcome(s, req, lg, &o);
}

static void h_ledger(ps_server *s, struct evhttp_request *req, req_log *lg)
{
    ps_totals t;
    ps_ledger_totals(s->ledger, &t);
    lg->http_status = 200;
    answer_json(s, req, 200,
                json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "payments", (json_int_t)t.payments,
                          "refunds", (json_int_t)t.refunds, "captured_minor",
                          (json_int_t)t.captured_minor, "refunded_minor",
                          (json_int_t)t.refunded_minor, "captures", (json_int_t)t.captures,
                          "double_captures", (json_int_t)t.double_captures),
                s->cfg->slow_ms);
}

/* /v1/payments/{id}[/capture|/reverse] */
static void h_payment(ps_server *s, struct evhttp_request *req, req_log *lg,
                      enum evhttp_cmd_type method, const char *rest, const char *query)
{
    const char *slash = strchr(rest, '/');
    size_t id_len = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *action = slash ? slash + 1 : NULL;
    char id[PAY_ID_MAX + 1];
    if (id_len == 0 || id_len > PAY_ID_MAX) {
        answer_error(s, req, lg, 400, "payment id: expected 1..64 of [A-Za-z0-9._-]",
                     s->cfg->slow_ms);
        return;
    }
    memcpy(id, rest, id_len);
    id[id_len] = '\0';
    if (!kassa_valid_id(id, PAY_ID_MAX)) {
        answer_error(s, req, lg, 400, "payment id: expected 1..64 of [A-Za-z0-9._-]",
                     s->cfg->slow_ms);
        return;
    }
    snprintf(lg->payment_id, sizeof lg->payment_id, "%s", id);
    bool capture = action && strcmp(action, "capture") == 0;
    bool reverse = action && strcmp(action, "reverse") == 0;
    if (action && !capture && !reverse) {
        answer_error(s, req, lg, 404, "no such route", s->cfg->slow_ms);
        return;
    }
    if ((action && method != EVHTTP_REQ_POST) || (!action && method != EVHTTP_REQ_GET)) {
        answer_error(s, req, lg, 405, action ? "use POST" : "use GET", s->cfg->slow_ms);
        return;
    }
    char store[KASSA_ID_MAX + 1];
    if (!query_store(query, store)) {
        answer_error(s, req, lg, 400, "query: expected store=ID", s->cfg->slow_ms);
        return;
    }
    if (action) {
        char body[PAY_BODY_MAX_BYTES];
        size_t n;
        if (!read_body(s, req, lg, false, s->cfg->slow_ms, body, &n))
            return;
        ps_outcome o;
        if (capture)
            ps_capture(s->ledger, store, id, &o);
        else
            ps_reverse(s->ledger, store, id, &o);
        answer_outcome(s, req, lg, &o);
        return;
    }
    ps_payment_view v;
    if (!ps_payment_get(s->ledger, store, id, &v)) {
        answer_error(s, req, lg, 404, "unknown payment", s->cfg->slow_ms);
        return;
    }
    lg->http_status = 200;
    lg->status = pay_status_name(v.status);
    answer_json(s, req, 200,
                json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "payment_id", id, "status",
                          pay_status_name(v.status), "amount_minor", (json_int_t)v.amount_minor,
                          "captured_minor", (json_int_t)v.captured_minor, "refunded_minor",
                          (json_int_t)v.refunded_minor, "captures", (json_int_t)v.captures, "mode",
                          v.mode),
                s->cfg->slow_ms);
}

static void handle_v1(ps_server *s, struct evhttp_request *req, req_log *lg,
                      enum evhttp_cmd_type method, const char *path, const char *query)
{
    int64_t slow = s->cfg->slow_ms;
    if (s->mode == MODE_ERROR500) {
        answer_error(s, req, lg, 500, "simulated processor failure", slow);
        return;
    }
    if (s->mode == MODE_GARBAGE) {
        static const char junk[] = "<html><body>502 Bad Gateway</body></html>\n";
        lg->http_status = 200;
        answer(s, req, 200, "application/json", junk, sizeof junk - 1, slow);
        return;
    }
    if (s->mode == MODE_HANG) {
        lg->http_status = 0; /* never answered */
        if (!held_new(s, req)) {
            struct evhttp_connection *c = evhttp_request_get_connection(req);
            if (c)
                evhttp_connection_free(c);
            else
                evhttp_request_free(req);
        }
        return;
    }
    static const char pay_prefix[] = "/v1/payments/";
    bool payments = strcmp(path, "/v1/payments") == 0;
    if (payments || strcmp(path, "/v1/refunds") == 0) {
        if (method == EVHTTP_REQ_POST)
            h_create(s, req, lg, !payments);
        else
            answer_error(s, req, lg, 405, "use POST", slow);
    } else if (strcmp(path, "/v1/ledger") == 0) {
        if (method == EVHTTP_REQ_GET)
            h_ledger(s, req, lg);
        else
            answer_error(s, req, lg, 405, "use GET", slow);
    } else if (strncmp(path, pay_prefix, sizeof pay_prefix - 1) == 0) {
        h_payment(s, req, lg, method, path + sizeof pay_prefix - 1, query);
    } else {
        answer_error(s, req, lg, 404, "no such route", slow);
    }
}

/* ---- /control ---- */

static void drop_hung(ps_server *s)
{
    held *h = s->held;
    while (h) {
        held *next = h->next;
        if (!h->timer)
            drop(h);
        h = next;
    }
}

static void h_control(ps_server *s, struct evhttp_request *req, req_log *lg,
                      enum evhttp_cmd_type method)
{
    if (method != EVHTTP_REQ_POST) {
        answer_error(s, req, lg, 405, "use POST", 0);
        return;
    }
    char body[PAY_BODY_MAX_BYTES];
    size_t n;
    if (!read_body(s, req, lg, true, 0, body, &n))
        return;
    json_t *o = json_loadb(body, n, JSON_REJECT_DUPLICATES, NULL);
    json_t *m = json_is_object(o) && json_object_size(o) == 1 ? json_object_get(o, "mode") : NULL;
    const char *name = json_is_string(m) ? json_string_value(m) : NULL;
    int mode = -1;
    for (int i = 0; name && i < (int)KASSA_ARRAY_LEN(mode_names); i++)
        if (strcmp(name, mode_names[i]) == 0)
            mode = i;
    json_decref(o);
    if (mode < 0) {
        answer_error(s, req, lg, 400, "expected {\"mode\":\"normal|error500|garbage|hang\"}", 0);
        return;
    }
    s->mode = (ps_mode)mode;
    if (s->mode != MODE_HANG)
        drop_hung(s);
    lg->http_status = 200;
    jlog(JLOG_INFO, "processor-sim", "mode", "{s:s}", "mode", mode_names[mode]);
    answer_json(s, req, 200, json_pack("{s:s}", "mode", mode_names[mode]), 0);
}

/* ---- dispatch ---- */

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    default:
        return "OTHER";
    }
}

static void redact_scan_cb(const char *pan, size_t offset, void *ctx)
{
    (void)pan, (void)offset, (void)ctx;
}

/* The path as logged: printable ASCII, bounded, and never a card number
 * (a client could put one in a URL). */
static void log_path(const char *path, char out[LOG_PATH_MAX + 1])
{
    size_t n = 0;
    for (; path[n] && n < LOG_PATH_MAX; n++)
        out[n] = path[n] > 0x20 && path[n] < 0x7f ? path[n] : '?';
    out[n] = '\0';
    if (pay_scan_pans((const uint8_t *)path, strlen(path), redact_scan_cb, NULL) > 0)
        snprintf(out, LOG_PATH_MAX + 1, "[redacted]");
}

static void on_request(struct evhttp_request *req, void *arg)
{
    ps_server *s = arg;
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    if (conn)
        set_nodelay(bufferevent_getfd(evhttp_connection_get_bufferevent(conn)));
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!path || !*path)
        path = "/";
    req_log lg = {.method = method_name(method)};
    log_path(path, lg.path);
    if (strcmp(path, "/control") == 0)
        h_control(s, req, &lg, method);
    else if (strncmp(path, "/v1/", 4) == 0)
        handle_v1(s, req, &lg, method, path, query);
    else
        answer_error(s, req, &lg, 404, "no such route", 0);
    jlog(JLOG_INFO, "processor-sim", "request", "{s:s,s:s,s:s,s:i,s:s,s:s}", "method", lg.method,
         "path", lg.path, "payment_id", lg.payment_id, "http_status", lg.http_status, "status",
         lg.status ? lg.status : "", "reason", lg.reason);
}

static int bound_port(struct evhttp_bound_socket *sock)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

static void server_free(ps_server *s)
{
    /* Held requests first: evhttp_free frees the connections (and the
     * requests on them) and our pointers would dangle. */
    while (s->held)
        drop(s->held);
    if (s->http)
        evhttp_free(s->http);
    pay_sim_signals_free(&s->sigs);
    if (s->base)
        event_base_free(s->base);
    ps_ledger_free(s->ledger);
}

int ps_serve(ps_config *cfg)
{
    ps_server s = {.cfg = cfg};
    int rc = 1;
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        jlog(JLOG_ERROR, "processor-sim", "start_failed", "{s:s}", "error",
             "cannot ignore SIGPIPE");
        return 1;
    }
    s.ledger = ps_ledger_new();
    s.base = event_base_new();
    s.http = s.base ? evhttp_new(s.base) : NULL;
    if (!s.ledger || !s.http || !pay_sim_signals_add(&s.sigs, s.base, "processor-sim")) {
        jlog(JLOG_ERROR, "processor-sim", "start_failed", "{s:s}", "error",
             "cannot set up the event loop");
        server_free(&s);
        return 1;
    }
    /* Every method reaches on_request, which answers 405 in JSON. */
    evhttp_set_allowed_methods(s.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                           EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(s.http, PAY_BODY_MAX_BYTES + BODY_SLACK_BYTES);
    evhttp_set_max_headers_size(s.http, HEADERS_MAX_BYTES);
    evhttp_set_gencb(s.http, on_request, &s);
    s.sock =
        evhttp_bind_socket_with_handle(s.http, cfg->listen_host, (ev_uint16_t)cfg->listen_port);
    if (!s.sock) {
        jlog(JLOG_ERROR, "processor-sim", "start_failed", "{s:s,s:s}", "error", "cannot listen",
             "reason", strerror(errno));
        server_free(&s);
        return 1;
    }
    set_nodelay(evhttp_bound_socket_get_fd(s.sock));
    jlog(JLOG_INFO, "processor-sim", "start", "{s:s,s:i,s:I,s:I}", "host", cfg->listen_host, "port",
         bound_port(s.sock), "slow_ms", (json_int_t)cfg->slow_ms, "timeout_hold_ms",
         (json_int_t)cfg->timeout_hold_ms);
    if (event_base_dispatch(s.base) < 0)
        jlog(JLOG_ERROR, "processor-sim", "loop_failed", NULL);
    else
        rc = 0;
    server_free(&s);
    jlog(JLOG_INFO, "processor-sim", "stop", NULL);
    return rc;
}
