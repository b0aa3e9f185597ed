/*
 * server: the HTTP side of kassad on libevent's evhttp. Binds the listen
 * address, turns on TCP_NODELAY for every connection (without it each
 * answer waits for the client's delayed ACK, ~40 ms), dispatches each
 * request through the route table (authentication, the handler, the
 * actor cleared afterwards), logs and counts it, and on shutdown stops
 * accepting and lets the answers being written finish.
 */
#ifndef KASSAD_SERVER_H
#define KASSAD_SERVER_H

#include "kassad/kassad.h"
#include "kassad/request.h"

/* evhttp in libevent 2.1 has no hook between a request's headers and its
 * body, and answers bodies over its own limit with an HTML 413 (closing
 * the connection, which a client still sending sees as a reset). So
 * libevent's limit is this much above max_body_size_bytes: a body in
 * between is read in full (chunked too), then kassad answers the JSON 413
 * and the connection stays usable. Only a body more than this over the
 * limit gets libevent's answer. */
#define KD_BODY_SLACK_BYTES (4 * 1024 * 1024)
#define KD_HEADERS_MAX_BYTES (16 * 1024)

/* Creates the evhttp server and binds cfg.listen_host:listen_port. */
int kd_server_start(kd_app *app, kassa_err *err);
/* The port actually bound (differs from the configured one for port 0). */
int kd_server_port(const kd_app *app);
/* Stops accepting; breaks the loop once the answers in flight are sent
 * or cfg.shutdown_drain_timeout_ms has passed. */
void kd_server_shutdown(kd_app *app);
void kd_server_free(kd_app *app);

/* Called by reply.c just before an answer is handed to evhttp. */
void kd_server_sending(kd_req *r);

/* Label tables for the metrics: every route, then these two. */
#define KD_METRIC_ROUTE_STATIC(n_routes) (n_routes)
#define KD_METRIC_ROUTE_UNMATCHED(n_routes) ((n_routes) + 1)
#define KD_METRIC_ROUTES_EXTRA 2

#endif
