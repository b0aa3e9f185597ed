/*
 * http.c: evhttp over TLS, the route table, dispatch with the access
 * check of each route, answers (JSON, the error shape), query strings and
 * bodies, and the drain at shutdown.
 */
#include "cloudd/cloudd.h"

#include "jlog/jlog.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char *const CHANGES_QUERY[] = {"after", "wait_ms", NULL};
static const char *const STOCK_QUERY[] = {"sku", NULL};

#define ROUTE(m, pattern, fn, access, query)                                                       \
    {                                                                                              \
        EVHTTP_REQ_##m, pattern, fn, access, query                                                 \
    }

/* The whole API at a glance (docs/CLOUD.md, "API"). */
static const cd_route ROUTES[] = {
    ROUTE(GET, "/healthz", h_healthz, CD_OPEN, NULL),
    ROUTE(GET, "/metrics", h_metrics, CD_OPEN, NULL),
    ROUTE(POST, "/v1/stores/{store}/ops", h_ops, CD_STORE, NULL),
    ROUTE(GET, "/v1/stores/{store}/vv", h_vv, CD_STORE, NULL),
    ROUTE(GET, "/v1/stores/{store}/changes", h_changes, CD_STORE, CHANGES_QUERY),
    ROUTE(GET, "/v1/stock", h_stock, CD_STORE, STOCK_QUERY),
    ROUTE(PUT, "/v1/admin/catalog/{sku}", h_admin_catalog, CD_ADMIN, NULL),
    ROUTE(PUT, "/v1/admin/stores/{store}/prices/{sku}", h_admin_price, CD_ADMIN, NULL),
    ROUTE(PUT, "/v1/admin/promotions/{id}", h_admin_promotion, CD_ADMIN, NULL),
    ROUTE(PUT, "/v1/admin/stores/{store}/roster", h_admin_roster, CD_ADMIN, NULL),
    ROUTE(PUT, "/v1/admin/stores/{store}/revocations/{node}", h_admin_revocation, CD_ADMIN, NULL),
    ROUTE(PUT, "/v1/admin/models/{name}", h_admin_model, CD_ADMIN, NULL),
    ROUTE(GET, "/v1/admin/stores/{store}/stock", h_admin_stock, CD_ADMIN, NULL),
    ROUTE(GET, "/v1/admin/stores/{store}/sales", h_admin_sales, CD_ADMIN, NULL),
    ROUTE(GET, "/v1/admin/stores/{store}/review", h_admin_review, CD_ADMIN, NULL),
};

#undef ROUTE

_Static_assert(KASSA_ARRAY_LEN(ROUTES) <= CD_ROUTES_MAX, "raise CD_ROUTES_MAX");

size_t cd_routes_count(void)
{
    return KASSA_ARRAY_LEN(ROUTES);
}

const cd_route *cd_route_at(size_t i)
{
    return i < cd_routes_count() ? &ROUTES[i] : NULL;
}

uint64_t cd_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

json_t *cd_json_text(const char *s)
{
    json_t *v = json_string(s);
    if (v)
        return v;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *c = copy; *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    v = json_string(copy);
    free(copy);
    return v;
}

static const char *method_name(enum evhttp_cmd_type m)
{
    static const struct {
        enum evhttp_cmd_type m;
        const char *name;
    } NAMES[] = {
        {EVHTTP_REQ_GET, "GET"},         {EVHTTP_REQ_POST, "POST"}, {EVHTTP_REQ_PUT, "PUT"},
        {EVHTTP_REQ_DELETE, "DELETE"},   {EVHTTP_REQ_HEAD, "HEAD"}, {EVHTTP_REQ_PATCH, "PATCH"},
        {EVHTTP_REQ_OPTIONS, "OPTIONS"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(NAMES); i++)
        if (NAMES[i].m == m)
            return NAMES[i].name;
    return "OTHER";
}

/* ---- answers ---- */

static void on_complete(struct evhttp_request *ev, void *arg)
{
    (void)ev;
    cd_app *app = arg;
    if (app->unsent > 0)
        app->unsent--;
    if (app->stopping && app->unsent == 0 && app->n_waiters == 0)
        event_base_loopbreak(app->base);
}

/* Every answer leaves here: the headers all answers carry, the drain
 * bookkeeping, the request counted. evhttp fills in the reason phrase. */
static void send_answer(cd_req *r, int status, const char *content_type)
{
    static const char *const ALWAYS[][2] = {
        {"Cache-Control", "no-store"},
        {"X-Content-Type-Options", "nosniff"},
    };
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    for (size_t i = 0; i < KASSA_ARRAY_LEN(ALWAYS); i++)
        evhttp_add_header(h, ALWAYS[i][0], ALWAYS[i][1]);
    if (content_type)
        evhttp_add_header(h, "Content-Type", content_type);
    if (r->app->stopping)
        evhttp_add_header(h, "Connection", "close");
    r->status = status;
    /* counted until written; a long poll whose client left has no
     * connection any more, and evhttp just frees its answer */
    if (evhttp_request_get_connection(r->ev)) {
        r->app->unsent++;
        evhttp_request_set_on_complete_cb(r->ev, on_complete, r->app);
    }
    evhttp_send_reply(r->ev, status, NULL, NULL);
    cd_metrics_request(&r->app->metrics, r->route_index, status, cd_mono_us() - r->started_us);
}

/* json_dump_callback writes straight into the answer's buffer. */
static int dump_into(const char *text, size_t n, void *buffer)
{
    return evbuffer_add(buffer, text, n);
}

void cd_reply_json(cd_req *r, int status, json_t *body)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(r->ev);
    bool ok = body && json_dump_callback(body, dump_into, out, JSON_COMPACT) == 0;
    json_decref(body);
    if (!ok) {
        static const char OOM[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        jlog(JLOG_ERROR, CD_COMPONENT, "out_of_memory", NULL);
        evbuffer_drain(out, evbuffer_get_length(out));
        evbuffer_add_reference(out, OOM, sizeof OOM - 1, NULL, NULL);
        status = 500;
    }
    send_answer(r, status, "application/json");
}

void cd_reply_written(cd_req *r, int status, const char *content_type)
{
    send_answer(r, status, content_type);
}

/* The path as logged: printable ASCII, bounded. */
static void printable(const char *in, char *out, size_t size)
{
    size_t n = 0;
    for (; in && in[n] && n + 1 < size; n++)
        out[n] = in[n] > 0x20 && in[n] < 0x7f ? in[n] : '?';
    out[n] = '\0';
}

void cd_reply_error(cd_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[KASSA_ERR_MSG_SIZE], path[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printable(evhttp_request_get_uri(r->ev), path, sizeof path);
    jlog(status >= 500 ? JLOG_ERROR : JLOG_WARN, CD_COMPONENT, "refused",
         "{s:s,s:s,s:i,s:s,s:s,s:s,s:s}", "method", method_name(evhttp_request_get_command(r->ev)),
         "path", path, "status", status, "code", code, "message", msg, "client_store",
         r->peer_store, "client_node", r->peer_node);
    /* a message quoting bytes that are not UTF-8 keeps its ASCII */
    json_t *error = json_object();
    if (error) {
        json_object_set_new(error, "code", json_string(code));
        json_object_set_new(error, "message", cd_json_text(msg));
    }
    cd_reply_json(r, status, error ? json_pack("{s:o}", "error", error) : NULL);
}

void cd_reply_kassa(cd_req *r, const kassa_err *err)
{
    static const struct {
        int code, status;
        const char *name;
    } MAP[] = {
        {KASSA_EINVAL, 400, CD_E_BAD_REQUEST},    {KASSA_ECORRUPT, 400, CD_E_BAD_REQUEST},
        {KASSA_EOVERFLOW, 400, CD_E_BAD_REQUEST}, {KASSA_EAUTH, 403, CD_E_FORBIDDEN},
        {KASSA_ENOTFOUND, 404, CD_E_NOT_FOUND},   {KASSA_ECONFLICT, 409, CD_E_CONFLICT},
    };
    const char *msg = err->msg[0] ? err->msg : kassa_strerror(err->code);
    for (size_t i = 0; i < KASSA_ARRAY_LEN(MAP); i++)
        if (MAP[i].code == err->code) {
            cd_reply_error(r, MAP[i].status, MAP[i].name, "%s", msg);
            return;
        }
    /* a lost database is for the client to retry later: 503 */
    if (err->code == KASSA_EIO && cd_db_lost(&r->app->db))
        cd_reply_error(r, 503, CD_E_UNAVAILABLE, "%s", msg);
    else
        cd_reply_error(r, 500, CD_E_INTERNAL, "%s", msg);
}

/* ---- request helpers ---- */

const char *cd_req_param(const cd_req *r, size_t i)
{
    return i < r->n_params ? r->params[i] : "";
}

const char *cd_req_query(const cd_req *r, const char *name)
{
    return evhttp_find_header(&r->query, name);
}

int cd_req_query_i64(cd_req *r, const char *name, int64_t min, int64_t max, int64_t def,
                     int64_t *out)
{
    const char *s = cd_req_query(r, name);
    if (!s) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max || (*s != '-' && (*s < '0' || *s > '9'))) {
        cd_reply_error(r, 400, CD_E_BAD_REQUEST, "%s must be an integer from %lld to %lld", name,
                       (long long)min, (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int cd_req_body(cd_req *r, const uint8_t **data, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
    *len = evbuffer_get_length(in);
    *data = NULL;
    if (*len > r->app->cfg.max_body_bytes) {
        cd_reply_error(r, 413, CD_E_TOO_LARGE, "the body is %zu bytes; the limit is %zu", *len,
                       r->app->cfg.max_body_bytes);
        return -1;
    }
    if (*len == 0)
        return 0;
    *data = evbuffer_pullup(in, -1);
    if (!*data) {
        cd_reply_json(r, 500, NULL);
        return -1;
    }
    return 0;
}

json_t *cd_req_json(cd_req *r)
{
    const uint8_t *data;
    size_t len;
    if (cd_req_body(r, &data, &len) != 0)
        return NULL;
    json_error_t jerr;
    json_t *body = len ? json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!body) {
        cd_reply_error(r, 400, CD_E_BAD_REQUEST, "the body is not JSON%s%s",
                       len ? ": " : " (empty)", len ? jerr.text : "");
        return NULL;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        cd_reply_error(r, 400, CD_E_BAD_REQUEST, "the body must be a JSON object");
        return NULL;
    }
    return body;
}

cd_req *cd_req_keep(const cd_req *r)
{
    cd_req *k = malloc(sizeof *k);
    if (!k)
        return NULL;
    *k = *r;
    TAILQ_INIT(&k->query); /* the handler's query is freed when it returns */
    return k;
}

void cd_req_release(cd_req *r)
{
    free(r);
}

/* ---- routing ---- */

#define SEGMENTS_MAX 8

/* Splits a path into at most SEGMENTS_MAX segments (pointers into buf);
 * -1 for more, an empty segment or a path not starting with '/'. */
static int split(char *buf, char *seg[SEGMENTS_MAX])
{
    if (buf[0] != '/')
        return -1;
    if (buf[1] == '\0')
        return 0;
    int n = 0;
    for (char *s = buf + 1;;) {
        char *slash = strchr(s, '/');
        if (slash)
            *slash = '\0';
        if (!*s || n == SEGMENTS_MAX)
            return -1;
        seg[n++] = s;
        if (!slash)
            return n;
        s = slash + 1;
    }
}

/* The longest value each parameter may have. */
static size_t param_max(const char *name)
{
    if (strcmp(name, "{store}") == 0 || strcmp(name, "{sku}") == 0 || strcmp(name, "{node}") == 0)
        return KASSA_ID_MAX;
    return CD_PARAM_MAX;
}

typedef enum { MATCH_NONE, MATCH_PATH, MATCH_BAD_PARAM } match_kind;

/* Does the route's pattern match the path's segments? Fills r->params;
 * for MATCH_BAD_PARAM, why says which parameter is not an id. */
static match_kind match_route(const cd_route *route, char *const seg[], int n, cd_req *r, char *why,
                              size_t why_size)
{
    char pat[128];
    snprintf(pat, sizeof pat, "%s", route->pattern);
    char *pseg[SEGMENTS_MAX];
    int pn = split(pat, pseg);
    if (pn != n)
        return MATCH_NONE;
    for (int i = 0; i < n; i++)
        if (pseg[i][0] != '{' && strcmp(pseg[i], seg[i]) != 0)
            return MATCH_NONE;
    r->n_params = 0;
    for (int i = 0; i < n; i++) {
        if (pseg[i][0] != '{')
            continue;
        size_t max = param_max(pseg[i]);
        if (!kassa_valid_id(seg[i], max)) {
            snprintf(why, why_size, "invalid %.*s in the path: 1 to %zu of A-Z a-z 0-9 . _ -",
                     (int)(strlen(pseg[i]) - 2), pseg[i] + 1, max);
            return MATCH_BAD_PARAM;
        }
        snprintf(r->params[r->n_params++], CD_PARAM_MAX + 1, "%s", seg[i]);
    }
    return MATCH_PATH;
}

static bool query_allowed(const cd_route *route, const char *name)
{
    for (size_t i = 0; route->query && route->query[i]; i++)
        if (strcmp(route->query[i], name) == 0)
            return true;
    return false;
}

static int parse_query(cd_req *r, const char *q)
{
    if (!q || !*q)
        return 0;
    if (strstr(q, "%00") || evhttp_parse_query_str(q, &r->query) != 0) {
        cd_reply_error(r, 400, CD_E_BAD_REQUEST, "malformed query string");
        return -1;
    }
    const struct evkeyval *kv;
    TAILQ_FOREACH(kv, &r->query, next)
    {
        char name[64];
        printable(kv->key, name, sizeof name);
        if (!query_allowed(r->route, kv->key)) {
            cd_reply_error(r, 400, CD_E_BAD_REQUEST, "unknown query parameter %s", name);
            return -1;
        }
        if (evhttp_find_header(&r->query, kv->key) != kv->value) {
            cd_reply_error(r, 400, CD_E_BAD_REQUEST, "query parameter %s given twice", name);
            return -1;
        }
    }
    return 0;
}

static int check_admin(cd_req *r)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Authorization");
    static const char BEARER[] = "Bearer ";
    const char *token =
        h && strncmp(h, BEARER, sizeof BEARER - 1) == 0 ? h + sizeof BEARER - 1 : NULL;
    size_t want = strlen(r->app->admin_token);
    if (token && strlen(token) == want && CRYPTO_memcmp(token, r->app->admin_token, want) == 0)
        return 0;
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), "WWW-Authenticate", "Bearer");
    cd_reply_error(r, 401, CD_E_UNAUTHORIZED,
                   token ? "wrong admin token"
                         : "admin routes need the header Authorization: Bearer TOKEN");
    return -1;
}

static void run(cd_req *r, const char *query)
{
    if (parse_query(r, query) != 0)
        return;
    if (r->route->access == CD_ADMIN && check_admin(r) != 0)
        return;
    if (r->route->access == CD_STORE) {
        /* the {store} of the path, or any store for routes without one */
        const char *store = strstr(r->route->pattern, "{store}") ? cd_req_param(r, 0) : NULL;
        if (cd_tls_check_client(r, store) != 0)
            return;
    }
    r->route->fn(r);
}

static void set_nodelay(evutil_socket_t fd)
{
    int one = 1;
    if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        jlog(JLOG_WARN, CD_COMPONENT, "nodelay_failed", "{s:s}", "error", strerror(errno));
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    cd_app *app = arg;
    cd_req r = {.app = app, .ev = ev, .route_index = cd_routes_count(), .started_us = cd_mono_us()};
    TAILQ_INIT(&r.query);
    struct evhttp_connection *conn = evhttp_request_get_connection(ev);
    if (conn)
        set_nodelay(bufferevent_getfd(evhttp_connection_get_bufferevent(conn)));
    if (!cd_tls_session(ev)) { /* never plain HTTP, whatever evhttp did */
        cd_reply_error(&r, 400, CD_E_BAD_REQUEST, "TLS is required");
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    char buf[512], *seg[SEGMENTS_MAX];
    int n = -1;
    if (path && strlen(path) < sizeof buf) {
        memcpy(buf, path, strlen(path) + 1);
        n = split(buf, seg);
    }
    enum evhttp_cmd_type method = evhttp_request_get_command(ev);
    char allow[64] = "", why[96] = "";
    for (size_t i = 0; n >= 0 && i < cd_routes_count() && !r.route; i++) {
        match_kind k = match_route(&ROUTES[i], seg, n, &r, why, sizeof why);
        if (k == MATCH_BAD_PARAM) {
            cd_reply_error(&r, 400, CD_E_BAD_REQUEST, "%s", why);
            return;
        }
        if (k != MATCH_PATH)
            continue;
        if (ROUTES[i].method == method) {
            r.route = &ROUTES[i];
            r.route_index = i;
        } else if (strlen(allow) + 10 < sizeof allow) {
            strcat(strcat(allow, allow[0] ? ", " : ""), method_name(ROUTES[i].method));
        }
    }
    if (r.route) {
        run(&r, uri ? evhttp_uri_get_query(uri) : NULL);
    } else if (allow[0]) {
        evhttp_add_header(evhttp_request_get_output_headers(ev), "Allow", allow);
        cd_reply_error(&r, 405, CD_E_METHOD, "method not allowed here (allowed: %s)", allow);
    } else {
        cd_reply_error(&r, 404, CD_E_NOT_FOUND, "no such route");
    }
    evhttp_clear_headers(&r.query);
    if (r.status == 0) { /* deferred (a long poll) or a handler bug */
        if (!(r.route && r.route->fn == h_changes))
            cd_reply_error(&r, 500, CD_E_INTERNAL, "the request was not answered");
        return;
    }
    if (jlog_enabled(JLOG_DEBUG)) {
        char logged[160];
        printable(path, logged, sizeof logged);
        jlog(JLOG_DEBUG, CD_COMPONENT, "request", "{s:s,s:s,s:i,s:I}", "method",
             method_name(method), "path", logged, "status", r.status, "latency_us",
             (json_int_t)(cd_mono_us() - r.started_us));
    }
}

/* ---- start and stop ---- */

int cd_http_start(cd_app *app, kassa_err *err)
{
    struct evhttp *h = app->http = evhttp_new(app->base);
    if (!h)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory for the HTTP server");
    /* TLS on every connection (tls.c); bodies up to the limit plus the
     * slack, so that the handler answers an oversized one in JSON; long
     * enough a timeout for a long poll; every method routed (405 in JSON) */
    evhttp_set_bevcb(h, cd_tls_bevcb, app);
    evhttp_set_gencb(h, on_request, app);
    evhttp_set_timeout(h, CD_CONNECTION_TIMEOUT_S);
    evhttp_set_max_headers_size(h, CD_HEADERS_MAX_BYTES);
    evhttp_set_max_body_size(h, (ev_ssize_t)(app->cfg.max_body_bytes + CD_BODY_SLACK_BYTES));
    evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                      EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
                                      EVHTTP_REQ_OPTIONS);
    app->listener =
        evhttp_bind_socket_with_handle(h, app->cfg.listen_host, (ev_uint16_t)app->cfg.listen_port);
    if (!app->listener) {
        int e = errno;
        return kassa_fail(err, KASSA_EIO, "cannot listen on %s: %s", app->cfg.listen, strerror(e));
    }
    /* Linux passes it on to the accepted sockets; on_request sets it too */
    set_nodelay(evhttp_bound_socket_get_fd(app->listener));
    return KASSA_OK;
}

int cd_http_port(const cd_app *app)
{
    union {
        struct sockaddr any;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } a;
    socklen_t len = sizeof a;
    evutil_socket_t fd = app->listener ? evhttp_bound_socket_get_fd(app->listener) : -1;
    if (fd < 0 || getsockname(fd, &a.any, &len) != 0)
        return -1;
    return ntohs(a.any.sa_family == AF_INET6 ? a.v6.sin6_port : a.v4.sin_port);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    cd_app *app = arg;
    jlog(JLOG_WARN, CD_COMPONENT, "drain_timeout", "{s:I}", "unsent", (json_int_t)app->unsent);
    event_base_loopbreak(app->base);
}

void cd_http_shutdown(cd_app *app)
{
    if (app->stopping)
        return;
    app->stopping = true;
    /* no new connections; the long polls answered now, with what there is */
    if (app->listener)
        evhttp_del_accept_socket(app->http, app->listener);
    app->listener = NULL;
    cd_downlink_flush(app);
    /* the loop ends when the last answer is written (on_complete), or
     * after the grace period for answers a gone client never takes */
    struct timeval grace = {CD_DRAIN_TIMEOUT_MS / 1000, (CD_DRAIN_TIMEOUT_MS % 1000) * 1000};
    if (app->unsent == 0 ||
        event_base_once(app->base, -1, EV_TIMEOUT, on_drain_timeout, app, &grace) != 0)
        event_base_loopbreak(app->base);
}

void cd_http_free(cd_app *app)
{
    if (app->http)
        evhttp_free(app->http);
    app->http = NULL;
    app->listener = NULL;
}
