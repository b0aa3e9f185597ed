/* uplink.c: uploads to the cloud from the store's leader (uplink.h). */
#include "kassad/uplink.h"

#include "jlog/jlog.h"
#include "kassad/clock.h"
#include "kassad/compact.h"
#include "kassad/coord.h"
#include "kassad/records.h"
#include "kassad/reply.h"
#include "storerec/storerec.h"
#include "wire/wire.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Chain-wide stock lookups in flight at once. */
#define UPLINK_LOOKUPS_MAX 4
/* The largest answer read from the cloud (a version vector). */
#define UPLINK_ANSWER_MAX_BYTES (1u << 20)
/* How often a leader that is not uploading checks whether it should. */
#define UPLINK_CHECK_MS 1000

typedef enum { CLOUD_UNKNOWN = 0, CLOUD_ONLINE, CLOUD_OFFLINE } cloud_state;

struct kd_uplink;
typedef void (*answer_fn)(struct kd_uplink *u, int status, const char *body, size_t len);

/* One of the two request channels (uploads, the downlink's long poll):
 * at most one request each. */
typedef struct channel {
    struct kd_uplink *u;
    answer_fn fn;
    bool busy;
    struct evhttp_connection *conn; /* of the request out; freed at shutdown */
    /* A lookup's client request, answered when the cloud has (NULL: gone). */
    struct evhttp_request *client;
    struct evhttp_connection *client_conn;
    uint64_t started_us;
    char sku[KASSA_SKU_MAX + 1];
} channel;

typedef struct kd_uplink {
    kd_app *app;
    SSL_CTX *ssl;
    pki_identity own_id; /* when the peer links do not hold one */
    const pki_identity *id;
    struct event *timer;
    channel up, down;
    channel lookups[UPLINK_LOOKUPS_MAX];
    /* Answered, to free: a channel adds one per answer, and two when its
     * next request fails inside the first answer's callback. */
    struct evhttp_connection *dead[2 * (2 + UPLINK_LOOKUPS_MAX)];
    size_t n_dead;
    struct event *reaper;
    channel *answering; /* the lookup whose answer on_lookup handles */
    cloud_state state;
    bool known;               /* cloud_vv came from the cloud since we lead */
    oplog_vv cloud_vv;        /* what the cloud holds, as last answered */
    int64_t next_pass_ms;     /* monotonic: the next periodic pass */
    int64_t probe_ms;         /* current probe backoff; 0 when online */
    int64_t last_upload_ms;   /* wall: last pass that left nothing pending */
    int64_t offline_since_ms; /* wall; 0 when online */
    uint64_t ops_uploaded;
    oplog_op *ops; /* WIRE_BATCH_MAX_OPS */
    kbuf payloads, frame, rec;
    char path[160];
    /* downlink */
    struct event *down_timer;
    int64_t down_retry_ms;
    uint64_t cursor; /* applied here (committed: term_cloud_cursor) */
    uint64_t changes_applied;
    char down_path[200];
} kd_uplink;

static struct timeval tv_ms(int64_t ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

static void schedule(kd_uplink *u, int64_t delay_ms)
{
    struct timeval tv = tv_ms(delay_ms);
    evtimer_add(u->timer, &tv);
}

/* ---- TLS: our device certificate; the cloud's must be the CA's, store
 * CLOUD (docs/CLOUD.md) ---- */

static int verify_cloud(X509_STORE_CTX *xs, void *arg)
{
    kd_uplink *u = arg;
    X509 *cert = X509_STORE_CTX_get0_cert(xs);
    kassa_err err;
    pki_reject why;
    if (!cert || pki_verify_peer(u->id, cert, X509_STORE_CTX_get0_untrusted(xs), "CLOUD", NULL,
                                 NULL, NULL, &why, &err) != KASSA_OK) {
        jlog(JLOG_WARN, "cloud", "cloud_refused", "{s:s,s:s}", "why",
             cert ? pki_reject_name(why) : "no certificate", "error", cert ? err.msg : "");
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    return 1;
}

static int tls_new(kd_uplink *u, kassa_err *err)
{
    u->ssl = SSL_CTX_new(TLS_client_method());
    if (!u->ssl || SSL_CTX_set_min_proto_version(u->ssl, TLS1_3_VERSION) != 1 ||
        SSL_CTX_use_certificate(u->ssl, u->id->cert) != 1 ||
        SSL_CTX_use_PrivateKey(u->ssl, u->id->key) != 1 || SSL_CTX_check_private_key(u->ssl) != 1)
        return kassa_fail(err, KASSA_EIO, "cannot set up TLS for the cloud");
    SSL_CTX_set_verify(u->ssl, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(u->ssl, verify_cloud, u);
    return KASSA_OK;
}

/* ---- requests: one connection each (freed when it completes) ---- */

/* A connection is freed after its request's callback has returned (not
 * from inside it): it waits in u->dead until the reaper runs (or the
 * uplink is freed). libevent's own free-on-completion leaves the
 * connection of a failed request behind. */
static void reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    kd_uplink *u = arg;
    for (size_t i = 0; i < u->n_dead; i++)
        evhttp_connection_free(u->dead[i]);
    u->n_dead = 0;
}

static void on_answer(struct evhttp_request *req, void *arg)
{
    channel *c = arg;
    kd_uplink *u = c->u;
    c->busy = false;
    if (c->conn) {
        if (u->n_dead < KASSA_ARRAY_LEN(u->dead))
            u->dead[u->n_dead++] = c->conn;
        else /* cannot happen (see dead): a leak rather than an overrun */
            jlog(JLOG_ERROR, "cloud", "reaper_full", NULL);
        c->conn = NULL;
        event_active(u->reaper, EV_TIMEOUT, 0);
    }
    u->answering = c;
    int status = req ? evhttp_request_get_response_code(req) : 0;
    struct evbuffer *in = req ? evhttp_request_get_input_buffer(req) : NULL;
    size_t len = in ? evbuffer_get_length(in) : 0;
    char *body = NULL;
    if (len > UPLINK_ANSWER_MAX_BYTES) {
        status = status == 200 ? 299 : status;
        len = 0;
    } else if (len > 0 && (body = malloc(len + 1)) != NULL) {
        evbuffer_copyout(in, body, len);
        body[len] = '\0';
    }
    c->fn(u, status, body ? body : "", body ? len : 0);
    free(body);
}

static bool send_request(kd_uplink *u, channel *ch, enum evhttp_cmd_type method, const char *path,
                         const kbuf *body, int64_t timeout_ms, answer_fn fn)
{
    kd_app *app = u->app;
    const kd_config *cfg = &app->cfg;
    SSL *ssl = SSL_new(u->ssl);
    struct bufferevent *bev =
        ssl ? bufferevent_openssl_socket_new(app->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
            : NULL;
    if (!bev) {
        if (ssl)
            SSL_free(ssl);
        return false;
    }
    struct evhttp_connection *conn = evhttp_connection_base_bufferevent_new(
        app->base, NULL, bev, cfg->cloud_host, cfg->cloud_port);
    if (!conn) {
        bufferevent_free(bev);
        return false;
    }
    struct timeval tv = tv_ms(timeout_ms);
    evhttp_connection_set_timeout_tv(conn, &tv);
    evhttp_connection_set_retries(conn, 0);
    ch->u = u;
    ch->fn = fn;
    struct evhttp_request *req = evhttp_request_new(on_answer, ch);
    if (!req) {
        evhttp_connection_free(conn);
        return false;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", cfg->cloud_host);
    if (body) {
        evhttp_add_header(h, "Content-Type", "application/octet-stream");
        evbuffer_add(evhttp_request_get_output_buffer(req), body->data, body->len);
    }
    /* Busy before the request goes: a connection that fails at once is
     * answered (on_answer) inside evhttp_make_request. */
    ch->busy = true;
    ch->conn = conn;
    int rc = evhttp_make_request(conn, req, method, path);
    if (ch->conn != conn)
        return true; /* answered already: the answer's path went on */
    if (rc != 0) {
        ch->busy = false;
        ch->conn = NULL;
        evhttp_connection_free(conn);
        return false;
    }
    /* evhttp has connected the socket by now: no Nagle delay on the
     * batches (measured: 72 ms a batch without, 49 with; bench/cloud). */
    int one = 1;
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        jlog(JLOG_DEBUG, "cloud", "nodelay_failed", NULL);
    return true;
}

/* ---- state ---- */

static void went_offline(kd_uplink *u, int status, const char *what)
{
    const kd_config *cfg = &u->app->cfg;
    if (u->state != CLOUD_OFFLINE) {
        jlog(JLOG_WARN, "cloud", "offline", "{s:s,s:i}", "during", what, "status", status);
        u->offline_since_ms = kd_wall_ms();
    }
    u->state = CLOUD_OFFLINE;
    u->known = false;
    u->probe_ms = u->probe_ms ? u->probe_ms * 2 : cfg->cloud_probe_min_ms;
    if (u->probe_ms > cfg->cloud_probe_max_ms)
        u->probe_ms = cfg->cloud_probe_max_ms;
    schedule(u, u->probe_ms - (int64_t)randombytes_uniform((uint32_t)(u->probe_ms / 4 + 1)));
}

static void came_online(kd_uplink *u)
{
    if (u->state != CLOUD_ONLINE)
        jlog(JLOG_INFO, "cloud", "online", "{s:I}", "offline_ms",
             (json_int_t)(u->offline_since_ms ? kd_wall_ms() - u->offline_since_ms : 0));
    u->state = CLOUD_ONLINE;
    u->offline_since_ms = 0;
    u->probe_ms = 0;
}

/* Reads {"vv": {origin: seq}} into cloud_vv (replacing it). */
static bool read_vv(kd_uplink *u, const char *body, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    json_t *vv = root ? json_object_get(root, "vv") : NULL;
    if (!json_is_object(vv)) {
        json_decref(root);
        return false;
    }
    oplog_vv next;
    oplog_vv_init(&next);
    const char *origin;
    json_t *seq;
    bool ok = true;
    json_object_foreach(vv, origin, seq)
    {
        ok = ok && json_is_integer(seq) && json_integer_value(seq) > 0 &&
             kassa_valid_id(origin, KASSA_ID_MAX) &&
             oplog_vv_set(&next, origin, (uint64_t)json_integer_value(seq), NULL) == KASSA_OK;
    }
    json_decref(root);
    if (!ok) {
        oplog_vv_free(&next);
        return false;
    }
    oplog_vv_free(&u->cloud_vv);
    u->cloud_vv = next;
    u->known = true;
    return true;
}

/* What the cloud holds (u->rec encoded by the caller, rc its result),
 * committed for the store (records.h). Not fatal when it fails: the next
 * answer is committed again, and a new leader asks the cloud anyway. */
static void commit_record(kd_uplink *u, int rc, kassa_err *err, const char *event)
{
    if (rc == KASSA_OK)
        rc = kd_records_commit(u->app, &u->rec, err);
    if (rc != KASSA_OK)
        jlog(JLOG_WARN, "cloud", event, "{s:s}", "error", err->msg);
}

static void commit_ack(kd_uplink *u)
{
    kassa_err err;
    kbuf_reset(&u->rec);
    commit_record(u, storerec_encode_cloud_ack(&u->rec, &u->cloud_vv, &err), &err,
                  "ack_not_committed");
}

static bool may_upload(kd_uplink *u)
{
    kd_app *app = u->app;
    return app->coord ? kd_coord_leads(app) : true;
}

/* ---- the pass ---- */

static void pass(kd_uplink *u);

static void on_vv(kd_uplink *u, int status, const char *body, size_t len)
{
    if (status != 200 || !read_vv(u, body, len)) {
        went_offline(u, status, "probe");
        return;
    }
    came_online(u);
    /* The cloud may hold more than the store committed (a leader killed
     * after the cloud stored its batch, before its answer was committed):
     * commit what it holds, even when nothing is left to upload. */
    commit_ack(u);
    pass(u);
}

static void on_upload(kd_uplink *u, int status, const char *body, size_t len)
{
    if (status == 0 || status >= 500 || (status == 200 && !read_vv(u, body, len))) {
        went_offline(u, status, "upload");
        return;
    }
    came_online(u);
    if (status != 200) {
        /* Refused (a gap or a fork against what the cloud holds, or our
         * certificate): ask what it holds and go on from there. */
        jlog(JLOG_ERROR, "cloud", "upload_refused", "{s:i,s:s}", "status", status, "reason",
             len ? body : "");
        u->known = false;
        schedule(u, u->app->cfg.cloud_probe_max_ms);
        return;
    }
    commit_ack(u);
    pass(u);
}

/* Sends the next batch (the first origin the cloud lacks something of),
 * or ends the pass when nothing is pending. */
static void pass(kd_uplink *u)
{
    kd_app *app = u->app;
    kassa_err err;
    if (u->up.busy)
        return; /* its answer goes on */
    if (!may_upload(u)) {
        /* No longer the leader (the answer of an upload may come after the
         * lead moved): check again later, and ask the cloud afresh when
         * leading again. */
        u->known = false;
        schedule(u, UPLINK_CHECK_MS);
        return;
    }
    if (!u->known) {
        snprintf(u->path, sizeof u->path, "/v1/stores/%s/vv", app->t->store_id);
        if (!send_request(u, &u->up, EVHTTP_REQ_GET, u->path, NULL, app->cfg.cloud_timeout_ms,
                          on_vv))
            went_offline(u, 0, "probe");
        return;
    }
    oplog_vv held;
    oplog_vv_init(&held);
    if (term_vv(app->t, &held, &err) != KASSA_OK) {
        jlog(JLOG_ERROR, "cloud", "read_failed", "{s:s}", "error", err.msg);
        oplog_vv_free(&held);
        schedule(u, UPLINK_CHECK_MS);
        return;
    }
    for (size_t i = 0; i < held.n; i++) {
        uint64_t from = oplog_vv_get(&u->cloud_vv, held.e[i].origin);
        if (held.e[i].seq <= from)
            continue;
        size_t n = 0;
        int rc = term_ops_read(app->t, held.e[i].origin, from, WIRE_BATCH_MAX_OPS,
                               WIRE_BATCH_MAX_DECOMPRESSED / 2, u->ops, &u->payloads, &n, &err);
        if (rc == KASSA_OK && n > 0) {
            kbuf_reset(&u->frame);
            rc = wire_encode_ops_fit(&u->frame, u->ops, &n, &err);
        }
        if (rc != KASSA_OK || n == 0) {
            jlog(JLOG_ERROR, "cloud", "batch_failed", "{s:s,s:s}", "origin", held.e[i].origin,
                 "error", rc == KASSA_OK ? "nothing read" : err.msg);
            break;
        }
        u->ops_uploaded += n;
        snprintf(u->path, sizeof u->path, "/v1/stores/%s/ops", app->t->store_id);
        oplog_vv_free(&held);
        if (!send_request(u, &u->up, EVHTTP_REQ_POST, u->path, &u->frame, app->cfg.cloud_timeout_ms,
                          on_upload))
            went_offline(u, 0, "upload");
        return;
    }
    oplog_vv_free(&held);
    /* Nothing pending: done until the next interval. The cloud holds
     * everything, so this is when older operations may go. */
    kd_compact_maybe(app, &u->cloud_vv);
    u->last_upload_ms = kd_wall_ms();
    u->next_pass_ms = kd_mono_ms() + app->cfg.cloud_upload_interval_s * 1000;
    schedule(u, UPLINK_CHECK_MS);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    kd_uplink *u = arg;
    if (u->up.busy)
        return;
    if (!may_upload(u)) {
        u->known = false; /* a new term: ask the cloud again when leading */
        schedule(u, UPLINK_CHECK_MS);
        return;
    }
    /* Offline: every timer is a probe. Online: a pass when one is due, or
     * when this terminal just became the leader (known is false). */
    if (u->state == CLOUD_OFFLINE || !u->known || kd_mono_ms() >= u->next_pass_ms)
        pass(u);
    else
        schedule(u, UPLINK_CHECK_MS);
}

/* ---- the downlink: master data from head office ---- */

#define DOWNLINK_WAIT_MS 25000

static void down_schedule(kd_uplink *u, int64_t delay_ms)
{
    struct timeval tv = tv_ms(delay_ms);
    evtimer_add(u->down_timer, &tv);
}

/* A setting named "<kind>.<key>" holding the change's body as compact
 * JSON: promotions, rosters, revocations and model manifests reach every
 * terminal this way. */
static int change_setting(kd_uplink *u, const char *kind, const char *key, const json_t *body,
                          kassa_err *err)
{
    char name[OPLOG_SETTING_KEY_MAX + 1];
    bool fits = (size_t)snprintf(name, sizeof name, "%s.%s", kind, key) < sizeof name;
    /* Keys may name a store and a node ("S1/T9"): setting names take
     * [A-Za-z0-9._-], so the separator becomes a dot. */
    for (char *c = name; fits && *c; c++)
        *c = *c == '/' ? '.' : *c;
    if (!fits || !kassa_valid_id(name, OPLOG_SETTING_KEY_MAX))
        return kassa_fail(err, KASSA_EINVAL, "change %s/%s: not a valid setting name", kind, key);
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    int rc = strlen(text) > OPLOG_SETTING_VALUE_MAX
                 ? kassa_fail(err, KASSA_EINVAL, "change %s/%s: body too long", kind, key)
                 : term_setting_set(u->app->t, name, text, err);
    free(text);
    return rc;
}

/* One change, as operations of this terminal (so the store gets it by
 * replication). Catalog items and this store's prices are catalog fields;
 * the rest are settings. */
static int apply_change(kd_uplink *u, const json_t *ch, kassa_err *err)
{
    const char *kind = json_string_value(json_object_get(ch, "kind"));
    const char *key = json_string_value(json_object_get(ch, "key"));
    const json_t *body = json_object_get(ch, "body");
    if (!kind || !key || !json_is_object(body))
        return kassa_fail(err, KASSA_ECORRUPT, "change without kind, key or body");
    bool catalog = strcmp(kind, "catalog") == 0, price = strcmp(kind, "price") == 0;
    if (!catalog && !price)
        return change_setting(u, kind, key, body, err);
    oplog_catalog_set c;
    memset(&c, 0, sizeof c);
    if (!kassa_valid_id(key, KASSA_SKU_MAX))
        return kassa_fail(err, KASSA_EINVAL, "change %s: invalid SKU", kind);
    snprintf(c.sku, sizeof c.sku, "%s", key);
    const json_t *v;
    if (catalog && json_is_string(v = json_object_get(body, "name"))) {
        c.fields |= CATALOG_F_NAME;
        snprintf(c.name, sizeof c.name, "%s", json_string_value(v));
    }
    if (catalog && json_is_string(v = json_object_get(body, "barcode"))) {
        c.fields |= CATALOG_F_BARCODE;
        snprintf(c.barcode, sizeof c.barcode, "%s", json_string_value(v));
    }
    if (catalog && json_is_string(v = json_object_get(body, "tax_class"))) {
        c.fields |= CATALOG_F_TAX_CLASS;
        snprintf(c.tax_class, sizeof c.tax_class, "%s", json_string_value(v));
    }
    if (json_is_integer(v = json_object_get(body, "price_minor"))) {
        c.fields |= CATALOG_F_PRICE;
        c.price = json_integer_value(v);
    }
    if (c.fields == 0)
        return kassa_fail(err, KASSA_EINVAL, "change %s/%s: nothing to set", kind, key);
    return term_catalog_set(u->app->t, &c, err);
}

static void commit_cursor(kd_uplink *u)
{
    kassa_err err;
    kbuf_reset(&u->rec);
    commit_record(u, storerec_encode_cloud_cursor(&u->rec, u->cursor, &err), &err,
                  "cursor_not_committed");
}

static void down_poll(kd_uplink *u);

static void on_changes(kd_uplink *u, int status, const char *body, size_t len)
{
    json_error_t jerr;
    json_t *root = status == 200 ? json_loadb(body, len, 0, &jerr) : NULL;
    json_t *changes = root ? json_object_get(root, "changes") : NULL;
    if (!json_is_array(changes)) {
        json_decref(root);
        const kd_config *cfg = &u->app->cfg;
        u->down_retry_ms = u->down_retry_ms ? u->down_retry_ms * 2 : cfg->cloud_probe_min_ms;
        if (u->down_retry_ms > cfg->cloud_probe_max_ms)
            u->down_retry_ms = cfg->cloud_probe_max_ms;
        down_schedule(u, u->down_retry_ms);
        return;
    }
    u->down_retry_ms = 0;
    size_t i, applied = 0;
    json_t *ch;
    json_array_foreach(changes, i, ch)
    {
        json_int_t cursor = json_integer_value(json_object_get(ch, "cursor"));
        kassa_err err;
        if (cursor <= 0 || (uint64_t)cursor <= u->cursor)
            continue;
        if (apply_change(u, ch, &err) != KASSA_OK)
            /* Skipped, logged: one bad change must not stop the rest. */
            jlog(JLOG_ERROR, "cloud", "change_refused", "{s:I,s:s}", "cursor", cursor, "error",
                 err.msg);
        u->cursor = (uint64_t)cursor;
        applied++;
    }
    json_decref(root);
    if (applied) {
        u->changes_applied += applied;
        jlog(JLOG_INFO, "cloud", "changes_applied", "{s:I,s:I}", "changes", (json_int_t)applied,
             "cursor", (json_int_t)u->cursor);
        commit_cursor(u);
    }
    down_poll(u);
}

static void down_poll(kd_uplink *u)
{
    kd_app *app = u->app;
    if (u->down.busy)
        return;
    if (!may_upload(u)) {
        u->cursor = 0; /* read again from what the store committed when leading */
        down_schedule(u, UPLINK_CHECK_MS);
        return;
    }
    uint64_t committed = 0;
    kassa_err err;
    if (term_cloud_cursor(app->t, &committed, &err) == KASSA_OK && committed > u->cursor)
        u->cursor = committed;
    snprintf(u->down_path, sizeof u->down_path, "/v1/stores/%s/changes?after=%llu&wait_ms=%d",
             app->t->store_id, (unsigned long long)u->cursor, DOWNLINK_WAIT_MS);
    if (!send_request(u, &u->down, EVHTTP_REQ_GET, u->down_path, NULL,
                      DOWNLINK_WAIT_MS + app->cfg.cloud_timeout_ms, on_changes))
        down_schedule(u, app->cfg.cloud_probe_max_ms);
}

static void on_down_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    down_poll(arg);
}

/* ---- chain-wide stock, asked of the cloud ---- */

static void lookup_gone(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    ((channel *)arg)->client = NULL;
}

static void lookup_answer(kd_uplink *u, channel *ch, json_t *body)
{
    if (!ch->client) {
        json_decref(body);
        return;
    }
    evhttp_connection_set_closecb(ch->client_conn, NULL, NULL);
    kd_req r = {.app = u->app, .ev = ch->client, .started_us = ch->started_us};
    kd_reply_json(&r, 200, body);
    ch->client = NULL;
}

/* The chain's figures cannot be had: why, and never a number. */
static json_t *unavailable(const char *sku, const char *why)
{
    return json_pack("{s:s,s:b,s:s}", "sku", sku, "available", 0, "why", why);
}

static void lookup_unavailable(kd_uplink *u, channel *ch, const char *why)
{
    lookup_answer(u, ch, unavailable(ch->sku, why));
}

static void on_lookup(kd_uplink *u, int status, const char *body, size_t len)
{
    channel *ch = u->answering;
    json_error_t jerr;
    json_t *root = status == 200 ? json_loadb(body, len, 0, &jerr) : NULL;
    json_t *stores = root ? json_object_get(root, "stores") : NULL;
    if (!json_is_array(stores)) {
        json_decref(root);
        lookup_unavailable(u, ch,
                           status == 0 ? "the cloud cannot be reached: the chain's figures are "
                                         "unavailable offline"
                                       : "the cloud did not answer with figures");
        return;
    }
    json_incref(stores);
    json_decref(root);
    lookup_answer(u, ch,
                  json_pack("{s:s,s:b,s:o,s:I}", "sku", ch->sku, "available", 1, "stores", stores,
                            "as_of_ms", (json_int_t)kd_wall_ms()));
}

void kd_uplink_chain_stock(kd_req *r, const char *sku)
{
    kd_uplink *u = r->app->uplink;
    if (!u) {
        kd_reply_json(r, 200, unavailable(sku, "this terminal has no cloud configured"));
        return;
    }
    channel *ch = NULL;
    for (size_t i = 0; !ch && i < UPLINK_LOOKUPS_MAX; i++)
        if (!u->lookups[i].busy && !u->lookups[i].client)
            ch = &u->lookups[i];
    if (!ch) {
        kd_reply_json(r, 200, unavailable(sku, "too many lookups at once: try again"));
        return;
    }
    snprintf(ch->sku, sizeof ch->sku, "%s", sku);
    char path[64 + KASSA_SKU_MAX];
    snprintf(path, sizeof path, "/v1/stock?sku=%s", sku);
    /* The client is known before the request goes: a cloud that fails at
     * once is answered inside send_request. */
    ch->client = r->ev;
    ch->client_conn = evhttp_request_get_connection(r->ev);
    ch->started_us = r->started_us;
    if (ch->client_conn)
        evhttp_connection_set_closecb(ch->client_conn, lookup_gone, ch);
    r->status = KD_STATUS_DEFERRED;
    if (!send_request(u, ch, EVHTTP_REQ_GET, path, NULL, r->app->cfg.cloud_timeout_ms, on_lookup))
        lookup_unavailable(u, ch, "the cloud cannot be asked now");
}

void kd_uplink_kick(kd_app *app)
{
    kd_uplink *u = app->uplink;
    if (u && !u->up.busy) {
        u->next_pass_ms = 0;
        schedule(u, 0);
    }
}

json_t *kd_uplink_status_json(kd_app *app)
{
    kd_uplink *u = app->uplink;
    if (!u)
        return json_pack("{s:s}", "state", "not_configured");
    uint64_t pending = 0, cursor = 0;
    kassa_err err;
    if (term_cloud_pending(app->t, &pending, &err) != KASSA_OK ||
        term_cloud_cursor(app->t, &cursor, &err) != KASSA_OK)
        return NULL;
    if (u->cursor > cursor)
        cursor = u->cursor; /* applied here, its commit on the way */
    const char *state = u->state == CLOUD_ONLINE    ? "online"
                        : u->state == CLOUD_OFFLINE ? "offline"
                                                    : "unknown";
    return json_pack(
        "{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "state", state, "uploader", may_upload(u),
        "pending_upload_ops", (json_int_t)pending, "last_upload_ms", (json_int_t)u->last_upload_ms,
        "offline_since_ms", (json_int_t)u->offline_since_ms, "ops_uploaded",
        (json_int_t)u->ops_uploaded, "downlink_cursor", (json_int_t)cursor, "changes_applied",
        (json_int_t)u->changes_applied, "retention_s", (json_int_t)app->cfg.cloud_retention_s,
        "compacted_ops", (json_int_t)app->compacted_ops, "last_compaction_ms",
        (json_int_t)app->compacted_at_ms);
}

int kd_uplink_start(kd_app *app, kassa_err *err)
{
    const kd_config *cfg = &app->cfg;
    if (!cfg->cloud[0])
        return KASSA_OK;
    kd_uplink *u = calloc(1, sizeof *u);
    if (!u)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    app->uplink = u;
    u->app = app;
    oplog_vv_init(&u->cloud_vv);
    kbuf_init(&u->payloads);
    kbuf_init(&u->frame);
    kbuf_init(&u->rec);
    u->ops = calloc(WIRE_BATCH_MAX_OPS, sizeof *u->ops);
    u->timer = evtimer_new(app->base, on_timer, u);
    u->down_timer = evtimer_new(app->base, on_down_timer, u);
    u->reaper = event_new(app->base, -1, 0, reap, u);
    if (!u->ops || !u->timer || !u->down_timer || !u->reaper)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    int rc;
    if (app->have_id) {
        u->id = &app->id;
    } else {
        if ((rc = pki_identity_load(cfg->peer_cert_dir, &u->own_id, err)) != KASSA_OK)
            return rc;
        u->id = &u->own_id;
    }
    if ((rc = tls_new(u, err)) != KASSA_OK)
        return rc;
    jlog(JLOG_INFO, "cloud", "uplink", "{s:s,s:I}", "cloud", cfg->cloud, "upload_interval_s",
         (json_int_t)cfg->cloud_upload_interval_s);
    schedule(u, 0);
    down_schedule(u, 0);
    return KASSA_OK;
}

/* A request still out at shutdown: its connection (TLS, buffers) is
 * freed here, the request dropped without its answer. */
static void channel_close(channel *ch)
{
    if (ch->busy && ch->conn)
        evhttp_connection_free(ch->conn);
    ch->conn = NULL;
    ch->busy = false;
}

void kd_uplink_free(kd_app *app)
{
    kd_uplink *u = app->uplink;
    if (!u)
        return;
    channel_close(&u->up);
    channel_close(&u->down);
    for (size_t i = 0; i < UPLINK_LOOKUPS_MAX; i++)
        channel_close(&u->lookups[i]);
    reap(-1, 0, u);
    if (u->reaper)
        event_free(u->reaper);
    if (u->timer)
        event_free(u->timer);
    if (u->down_timer)
        event_free(u->down_timer);
    if (u->ssl)
        SSL_CTX_free(u->ssl);
    if (u->id == &u->own_id)
        pki_identity_free(&u->own_id);
    oplog_vv_free(&u->cloud_vv);
    kbuf_free(&u->payloads);
    kbuf_free(&u->frame);
    kbuf_free(&u->rec);
    free(u->ops);
    free(u);
    app->uplink = NULL;
}
