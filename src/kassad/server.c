/* server.c: evhttp setup, per-request dispatch, in-flight answers, shutdown. */
#include "kassad/pay.h"
#include "kassad/server.h"

#include "jlog/jlog.h"
#include "kassad/batch.h"
#include "kassad/auth.h"
#include "kassad/clock.h"
#include "kassad/handlers.h"
#include "kassad/housekeeping.h"
#include "kassad/reply.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Paths answered as API (JSON 404) rather than looked up in the web root. */
static bool is_api_path(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0 ||
           strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0;
}

static void set_nodelay(evutil_socket_t fd)
{
    int one = 1;
    if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        jlog(JLOG_WARN, "http", "nodelay_failed", "{s:s}", "error", strerror(errno));
}

/* ---- answers in flight ---- */

static size_t inflight_find(const kd_app *app, const struct evhttp_connection *c)
{
    for (size_t i = 0; i < app->n_inflight; i++)
        if (app->inflight[i] == c)
            return i;
    return app->n_inflight;
}

static void inflight_remove(kd_app *app, const struct evhttp_connection *c)
{
    size_t i = inflight_find(app, c);
    if (i == app->n_inflight)
        return;
    app->inflight[i] = app->inflight[--app->n_inflight];
    if (app->stopping && app->n_inflight == 0)
        event_base_loopbreak(app->base);
}

/* evhttp calls this once the whole answer is written. */
static void on_sent(struct evhttp_request *ev, void *arg)
{
    inflight_remove(arg, evhttp_request_get_connection(ev));
}

/* ... and this when a connection closes, also when an answer could not be
 * written: then on_sent never comes. */
static void on_conn_close(struct evhttp_connection *c, void *arg)
{
    inflight_remove(arg, c);
}

void kd_server_sending(kd_req *r)
{
    kd_app *app = r->app;
    struct evhttp_connection *c = evhttp_request_get_connection(r->ev);
    if (!c || inflight_find(app, c) < app->n_inflight || app->n_inflight == KD_INFLIGHT_MAX)
        return;
    app->inflight[app->n_inflight++] = c;
    evhttp_request_set_on_complete_cb(r->ev, on_sent, app);
    evhttp_connection_set_closecb(c, on_conn_close, app);
}

/* ---- dispatch ---- */

/* The path as logged: printable ASCII only, bounded. */
static void log_path(const char *path, char *out, size_t size)
{
    size_t n = 0;
    for (; path[n] && n + 1 < size; n++)
        out[n] = path[n] > 0x20 && path[n] < 0x7f ? path[n] : '?';
    out[n] = '\0';
}

static void run_route(kd_req *r)
{
    kd_app *app = r->app;
    const kd_route *route = r->match.route;
    if (route->flags & KD_ROUTE_AUTH) {
        r->session = kd_auth_session(r);
        if (!r->session)
            return;
    }
    if (kd_req_parse_query(r, route->query) != 0)
        return;
    /* Only checkouts share a group commit; anything else first makes the
     * waiting sales durable and answered (batch.h). */
    if (route->fn != h_cart_checkout)
        kd_batch_commit(app);
    if (r->session) {
        /* Every term call of this request acts as the logged-in cashier;
         * a handler adds the approving supervisor after checking them. */
        snprintf(app->t->actor.cashier, sizeof app->t->actor.cashier, "%s", r->session->cashier.id);
    }
    route->fn(r);
    memset(&app->t->actor, 0, sizeof app->t->actor);
    if (route->flags & KD_ROUTE_WRITES)
        kd_housekeeping_wrote(app);
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    kd_app *app = arg;
    kd_req r = {.app = app, .ev = ev, .started_us = kd_mono_us()};
    TAILQ_INIT(&r.args);
    struct evhttp_connection *conn = evhttp_request_get_connection(ev);
    /* Also set on the listening socket (Linux copies it to accepted
     * ones); set here too so no answer can ever leave without it. */
    if (conn)
        set_nodelay(bufferevent_getfd(evhttp_connection_get_bufferevent(conn)));
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path || !*path)
        path = "/";
    r.query = uri ? evhttp_uri_get_query(uri) : NULL;
    size_t n_routes = kd_routes_count(), metric = KD_METRIC_ROUTE_UNMATCHED(n_routes);
    enum evhttp_cmd_type method = evhttp_request_get_command(ev);
    switch (kd_route_match(method, path, &r.match)) {
    case KD_MATCH_OK:
        metric = r.match.index;
        run_route(&r);
        break;
    case KD_MATCH_NO_METHOD:
        kd_reply_error(&r, 405, KD_E_METHOD, "method not allowed here (allowed: %s)",
                       r.match.allow);
        break;
    case KD_MATCH_NO_PATH:
        if (is_api_path(path)) {
            kd_reply_error(&r, 404, KD_E_NOT_FOUND, "no such route");
        } else if (method != EVHTTP_REQ_GET) {
            snprintf(r.match.allow, sizeof r.match.allow, "GET");
            kd_reply_error(&r, 405, KD_E_METHOD, "the UI's files are read with GET");
        } else {
            metric = KD_METRIC_ROUTE_STATIC(n_routes);
            h_web(&r, path);
        }
        break;
    }
    kd_req_free_query(&r);
    if (r.status == 0) { /* a handler that forgot to answer is a bug */
        jlog(JLOG_ERROR, "http", "no_answer", "{s:s}", "route",
             r.match.route ? r.match.route->pattern : "?");
        kd_reply_error(&r, 500, KD_E_INTERNAL, "the request was not answered");
    }
    uint64_t latency_us = kd_mono_us() - r.started_us;
    if (r.status != KD_STATUS_DEFERRED)
        kd_metrics_request(app->metrics, metric, r.status, latency_us);
    if (jlog_enabled(JLOG_DEBUG)) {
        char logged[256];
        log_path(path, logged, sizeof logged);
        jlog(JLOG_DEBUG, "http", "request", "{s:s,s:s,s:i,s:I}", "method", kd_method_name(method),
             "path", logged, "status", r.status, "latency_us", (json_int_t)latency_us);
    }
}

/* ---- setup and shutdown ---- */

int kd_server_start(kd_app *app, kassa_err *err)
{
    size_t n_routes = kd_routes_count();
    kd_metrics_route labels[KD_ROUTES_MAX + KD_METRIC_ROUTES_EXTRA];
    for (size_t i = 0; i < n_routes; i++)
        labels[i] = (kd_metrics_route){kd_route_at(i)->pattern, kd_route_at(i)->method_name};
    labels[KD_METRIC_ROUTE_STATIC(n_routes)] = (kd_metrics_route){"static", "GET"};
    labels[KD_METRIC_ROUTE_UNMATCHED(n_routes)] = (kd_metrics_route){"unmatched", "any"};
    app->metrics = kd_metrics_new(labels, n_routes + KD_METRIC_ROUTES_EXTRA);
    app->http = evhttp_new(app->base);
    if (!app->metrics || !app->http)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory for the HTTP server");
    /* Every method reaches the router, which answers 405 in JSON;
     * libevent would answer 501 in HTML for the ones it does not allow. */
    evhttp_set_allowed_methods(app->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                              EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    /* JSON bodies are held to max_body_size_bytes by kd_req_body; the
     * routes taking an image or audio check their own, larger limits. */
    int64_t body_max = app->cfg.max_body_size_bytes;
    if (app->cfg.ai_max_image_bytes > body_max)
        body_max = app->cfg.ai_max_image_bytes;
    if (app->cfg.voice_max_audio_bytes > body_max)
        body_max = app->cfg.voice_max_audio_bytes;
    evhttp_set_max_body_size(app->http, (ev_ssize_t)(body_max + KD_BODY_SLACK_BYTES));
    evhttp_set_max_headers_size(app->http, KD_HEADERS_MAX_BYTES);
    evhttp_set_timeout(app->http, (int)app->cfg.connection_timeout_s);
    evhttp_set_gencb(app->http, on_request, app);
    app->listener =
        evhttp_bind_socket_with_handle(app->http, app->cfg.listen_host, app->cfg.listen_port);
    if (!app->listener)
        return kassa_fail(err, KASSA_EIO, "cannot listen on %s: %s", app->cfg.listen,
                          strerror(errno));
    set_nodelay(evhttp_bound_socket_get_fd(app->listener));
    return KASSA_OK;
}

int kd_server_port(const kd_app *app)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (!app->listener ||
        getsockname(evhttp_bound_socket_get_fd(app->listener), (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    kd_app *app = arg;
    jlog(JLOG_WARN, "http", "drain_timeout", "{s:I}", "unsent_answers",
         (json_int_t)app->n_inflight);
    event_base_loopbreak(app->base);
}

void kd_server_shutdown(kd_app *app)
{
    if (app->stopping)
        return;
    app->stopping = true;
    kd_batch_commit(app);
    kd_pay_shutdown(app);
    if (app->listener) {
        evhttp_del_accept_socket(app->http, app->listener);
        app->listener = NULL;
    }
    if (app->n_inflight == 0) {
        event_base_loopbreak(app->base);
        return;
    }
    int64_t ms = app->cfg.shutdown_drain_timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    app->drain_ev = evtimer_new(app->base, on_drain_timeout, app);
    if (!app->drain_ev || evtimer_add(app->drain_ev, &tv) != 0)
        event_base_loopbreak(app->base); /* cannot wait: stop now */
}

void kd_server_free(kd_app *app)
{
    /* evhttp_free closes the connections still open; their close
     * callbacks touch app->inflight, which is still valid here. */
    if (app->http)
        evhttp_free(app->http);
    app->http = NULL;
    app->listener = NULL;
    if (app->drain_ev)
        event_free(app->drain_ev);
    app->drain_ev = NULL;
    kd_metrics_free(app->metrics);
    app->metrics = NULL;
}
