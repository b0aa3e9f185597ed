/*
 * kassa-cloud (docs/CLOUD.md): head office's service. Stores receive no
 * state from it that is not in PostgreSQL: any number of instances serve
 * one database, and every decision is made inside a transaction there.
 *
 * One thread, one libevent loop, one libpq connection used synchronously
 * (a handler runs to completion before the next one starts; long polls
 * wait on timers, not on the connection). One file per concern:
 *
 *   main.c         flags, start, signals, shutdown
 *   tls.c          the TLS 1.3 context, the client certificate check
 *   http.c         evhttp, the route table, dispatch, answers, query strings
 *   db.c           the libpq connection, queries, arrays, binary results
 *   migrate.c      the versioned schema
 *   ingest.c       POST /v1/stores/{store}/ops: all or nothing
 *   projections.c  stock, sales_daily, review_items from a batch
 *   downlink.c     GET changes and its long poll
 *   admin.c        the admin routes (changes in, projections out)
 *   query.c        version vectors and stock across stores
 *   metrics.c      counters and /metrics, /healthz
 */
#ifndef KASSA_CLOUDD_H
#define KASSA_CLOUDD_H

#include "base/base.h"
#include "oplog/oplog.h"
#include "pki/pki.h"

#include <sys/queue.h> /* before libevent's headers */

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/ssl.h>

#define CD_COMPONENT "cloud"
#define CD_DEFAULT_MAX_BODY_BYTES (2u * 1024 * 1024)
#define CD_HOST_MAX 256
#define CD_TOKEN_MAX 512
/* evhttp reads bodies up to this much over --max-body-bytes so that such
 * a body still gets the JSON 413 (libevent's own answer is HTML). */
#define CD_BODY_SLACK_BYTES (1024u * 1024)
#define CD_HEADERS_MAX_BYTES (16 * 1024)
/* Long enough for a 30 s long poll. */
#define CD_CONNECTION_TIMEOUT_S 75
#define CD_WAIT_MS_MAX 30000
#define CD_POLL_INTERVAL_MS 200
#define CD_CHANGES_PAGE 500
#define CD_DRAIN_TIMEOUT_MS 2000

/* ---- the database (db.c) ---- */

typedef struct cd_db {
    PGconn *conn;
    const char *conninfo;
    char sqlstate[6]; /* of the last failed statement ("" when none) */
} cd_db;

/* Connects and prepares the session's settings. */
int cd_db_open(cd_db *db, const char *conninfo, kassa_err *err);
void cd_db_close(cd_db *db);
/* Reconnects when the connection was lost (KASSA_EIO when it cannot). */
int cd_db_ready(cd_db *db, kassa_err *err);
/* One statement. params are text (formats NULL) or as formats[] says;
 * result_binary asks for binary columns. Returns the result (PGRES_TUPLES_OK
 * or PGRES_COMMAND_OK; the caller PQclear()s it) or NULL with err set
 * (KASSA_EIO) and db->sqlstate kept. */
PGresult *cd_db_query(cd_db *db, const char *sql, int n, const char *const *values,
                      const int *lengths, const int *formats, bool result_binary, kassa_err *err);
/* cd_db_query for statements whose result is not needed. */
int cd_db_run(cd_db *db, const char *sql, int n, const char *const *values, const int *lengths,
              const int *formats, kassa_err *err);
/* Plain SQL text (several statements allowed), no parameters. */
int cd_db_exec(cd_db *db, const char *sql, kassa_err *err);
/* Rolls back whatever transaction is open; errors only logged. */
void cd_db_rollback(cd_db *db);
/* A deadlock or serialization failure: the transaction may be retried. */
bool cd_db_retryable(const cd_db *db);
/* The connection is gone: answer 503, not 500. */
bool cd_db_lost(const cd_db *db);

/* A query's rows as a JSON array of objects named by the columns:
 * integers and booleans as such, json/jsonb parsed, NULL as null, the rest
 * as strings. */
int cd_db_rows_json(cd_db *db, const char *sql, int n, const char *const *values, json_t **out,
                    kassa_err *err);

/* Binary result columns. */
int64_t cd_col_i64(const PGresult *res, int row, int col);
const uint8_t *cd_col_bytes(const PGresult *res, int row, int col, size_t *len);

/* PostgreSQL array literals ({"a","b"} and {1,2}) for text parameters. */
void cd_array_begin(kbuf *b);
void cd_array_text(kbuf *b, const char *s);
void cd_array_i64(kbuf *b, int64_t v);
/* Closes the literal and NUL-terminates it (once: closing a closed one does
 * nothing); KASSA_ENOMEM if b ran out. */
int cd_array_end(kbuf *b, kassa_err *err);
void cd_arrays_begin(kbuf *arrays, int n);

/* Statements over a batch: $1 is the store, $2.. the n array literals
 * (closed here). */
#define CD_ARRAYS_MAX 7
PGresult *cd_db_query_arrays(cd_db *db, const char *sql, const char *store, kbuf *arrays, int n,
                             bool result_binary, kassa_err *err);
int cd_db_run_arrays(cd_db *db, const char *sql, const char *store, kbuf *arrays, int n,
                     kassa_err *err);

int cd_migrate(cd_db *db, kassa_err *err);

/* ---- metrics (metrics.c) ---- */

#define CD_ROUTES_MAX 16
/* The statuses counted one by one (metrics.c), and one slot for others. */
#define CD_METRIC_STATUSES 12

typedef struct cd_metrics {
    /* by route (the last row: no route matched) and status */
    uint64_t requests[CD_ROUTES_MAX + 1][CD_METRIC_STATUSES];
    uint64_t request_us[CD_ROUTES_MAX + 1];
    uint64_t batches, ops_stored, ops_duplicate, ingest_us;
    uint64_t refused[CD_METRIC_STATUSES];
} cd_metrics;

void cd_metrics_request(cd_metrics *m, size_t route, int status, uint64_t latency_us);
void cd_metrics_ingest(cd_metrics *m, size_t stored, size_t duplicates, uint64_t latency_us);
void cd_metrics_ingest_refused(cd_metrics *m, int status);

/* ---- the application ---- */

typedef struct cd_config {
    const char *listen;
    char listen_host[CD_HOST_MAX];
    int listen_port;
    const char *pg;
    const char *tls_dir;
    const char *ca_cert;
    const char *crl;
    const char *admin_token_file;
    size_t max_body_bytes;
    bool migrate_only;
} cd_config;

typedef struct cd_waiter cd_waiter;
typedef LIST_HEAD(cd_waiters, cd_waiter) cd_waiters;

typedef struct cd_app {
    cd_config cfg;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *listener;
    struct event signals[3]; /* TERM, INT, HUP */
    size_t n_signals;        /* added */
    SSL_CTX *tls;
    pki_identity id; /* our certificate; its CA and CRL check the clients */
    char admin_token[CD_TOKEN_MAX + 1];
    cd_db db;
    cd_metrics metrics;
    /* downlink.c: the long polls waiting for a change */
    cd_waiters waiters;
    size_t n_waiters;
    struct event *poll_ev;
    int64_t seen_cursor; /* highest cursor seen by the last poll */
    /* shutdown: answers still being written */
    bool stopping;
    size_t unsent;
    uint64_t started_ms;
} cd_app;

/* ---- requests (http.c) ---- */

#define CD_PARAMS_MAX 3
#define CD_PARAM_MAX 64

typedef struct cd_req cd_req;
typedef void (*cd_handler)(cd_req *r);

/* Who may call a route. */
typedef enum {
    CD_OPEN = 0,  /* anyone (/healthz, /metrics) */
    CD_STORE = 1, /* a store's device certificate; {store} must be its store */
    CD_ADMIN = 2, /* the admin bearer token */
} cd_access;

typedef struct cd_route {
    enum evhttp_cmd_type method;
    const char *pattern; /* segments; "{x}" is a parameter */
    cd_handler fn;
    cd_access access;
    const char *const *query; /* the query parameters allowed (NULL: none) */
} cd_route;

struct cd_req {
    cd_app *app;
    struct evhttp_request *ev;
    const cd_route *route;
    size_t route_index;
    char params[CD_PARAMS_MAX][CD_PARAM_MAX + 1];
    size_t n_params;
    struct evkeyvalq query;
    /* the verified client certificate of store routes */
    char peer_store[KASSA_ID_MAX + 1];
    char peer_node[KASSA_ID_MAX + 1];
    int status; /* 0 until answered */
    uint64_t started_us;
};

/* Error codes of the contract's {"error": {"code", "message"}}. */
#define CD_E_BAD_REQUEST "bad_request"
#define CD_E_UNAUTHORIZED "unauthorized"
#define CD_E_FORBIDDEN "forbidden"
#define CD_E_NOT_FOUND "not_found"
#define CD_E_METHOD "method_not_allowed"
#define CD_E_CONFLICT "conflict"
#define CD_E_TOO_LARGE "payload_too_large"
#define CD_E_MEDIA_TYPE "unsupported_media_type"
#define CD_E_INTERNAL "internal"
#define CD_E_UNAVAILABLE "unavailable"

int cd_http_start(cd_app *app, kassa_err *err);
int cd_http_port(const cd_app *app);
/* Stops accepting, answers the long polls, and breaks the loop once the
 * answers being written are out (or after CD_DRAIN_TIMEOUT_MS). */
void cd_http_shutdown(cd_app *app);
void cd_http_free(cd_app *app);
size_t cd_routes_count(void);
const cd_route *cd_route_at(size_t i);

/* Answers. Each logs errors (with the route and the client) and counts. */
void cd_reply_json(cd_req *r, int status, json_t *body); /* body stolen; NULL: 500 */
/* Sends what the handler wrote into evhttp_request_get_output_buffer. */
void cd_reply_written(cd_req *r, int status, const char *content_type);
void cd_reply_error(cd_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* KASSA_EINVAL/ECORRUPT 400, EAUTH 403, ENOTFOUND 404, ECONFLICT 409,
 * EIO 503 when the database is unreachable, anything else 500. */
void cd_reply_kassa(cd_req *r, const kassa_err *err);

const char *cd_req_param(const cd_req *r, size_t i);
/* A query parameter (NULL when absent). */
const char *cd_req_query(const cd_req *r, const char *name);
/* An integer query parameter in [min, max], def when absent. Answers 400
 * and returns -1 when it is not one. */
int cd_req_query_i64(cd_req *r, const char *name, int64_t min, int64_t max, int64_t def,
                     int64_t *out);
/* The request body, contiguous (NULL with *len 0 when empty). Answers 413
 * and returns -1 over --max-body-bytes. */
int cd_req_body(cd_req *r, const uint8_t **data, size_t *len);
/* A JSON object body; answers 400/413 and returns NULL when it is not one. */
json_t *cd_req_json(cd_req *r);
/* A copy of a request that outlives its handler (a long poll). */
cd_req *cd_req_keep(const cd_req *r);
void cd_req_release(cd_req *r);

/* ---- tls.c ---- */

int cd_tls_start(cd_app *app, kassa_err *err);
void cd_tls_free(cd_app *app);
/* The bufferevent evhttp uses for each accepted connection. */
struct bufferevent *cd_tls_bevcb(struct event_base *base, void *arg);
/* The request's TLS session (NULL: not TLS). */
SSL *cd_tls_session(struct evhttp_request *ev);
/* Checks the client certificate of r's connection: chained to our CA, not
 * revoked, of store (NULL: of any store). Fills r->peer_store/peer_node.
 * On refusal answers it (401 without a certificate, 403 otherwise) and
 * returns -1. */
int cd_tls_check_client(cd_req *r, const char *store);
/* Replaces the CRL with the --crl file again (SIGHUP). */
int cd_tls_reload_crl(cd_app *app, kassa_err *err);

/* ---- handlers ---- */

void h_healthz(cd_req *r);
void h_metrics(cd_req *r);
void h_ops(cd_req *r);
void h_vv(cd_req *r);
void h_changes(cd_req *r);
void h_stock(cd_req *r);
void h_admin_catalog(cd_req *r);
void h_admin_price(cd_req *r);
void h_admin_promotion(cd_req *r);
void h_admin_roster(cd_req *r);
void h_admin_revocation(cd_req *r);
void h_admin_model(cd_req *r);
void h_admin_stock(cd_req *r);
void h_admin_sales(cd_req *r);
void h_admin_review(cd_req *r);

/* ---- query.c ---- */

/* {origin: seq} of what the cloud holds for store (inside or outside a
 * transaction). */
int cd_vv_json(cd_db *db, const char *store, json_t **out, kassa_err *err);

/* ---- projections.c: inside the ingest transaction ---- */

/* The new operations of one batch, sorted by (origin, seq), each stored
 * for the first time: their effects on the projections. */
int cd_project(cd_db *db, const char *store, const oplog_op *const *ops, size_t n, kassa_err *err);

/* ---- downlink.c ---- */

/* A change was appended here: look for waiting long polls at once. */
void cd_downlink_poke(cd_app *app);
/* Answers every waiting long poll with what there is (shutdown). */
void cd_downlink_flush(cd_app *app);
void cd_downlink_free(cd_app *app);

/* ---- small shared helpers ---- */

uint64_t cd_mono_us(void);
/* A JSON string from text that may not be UTF-8 (bytes over 0x7f as '?'). */
json_t *cd_json_text(const char *s);

#endif
