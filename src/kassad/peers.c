/* peers.c: the peer mesh inside kassad. */
#include "kassad/peers.h"

#include "disco/disco.h"
#include "jlog/jlog.h"
#include "wire/wire.h"
#include "kassad/coord.h"
#include "kassad/fraud.h"
#include "kassad/housekeeping.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Discovery found a terminal of our store: one more address to keep a
 * link with (its certificate is checked when the link is made). */
static void on_found(void *ctx, const char *node, const char *addr, uint16_t port)
{
    kd_app *app = ctx;
    kassa_err err;
    if (peer_mesh_add_target(app->peers, addr, port, node, &err) != KASSA_OK)
        jlog(JLOG_WARN, "peer", "discovered_peer_ignored", "{s:s,s:s,s:s}", "node", node, "address",
             addr, "error", err.msg);
    else
        jlog(JLOG_INFO, "peer", "discovered", "{s:s,s:s,s:i}", "node", node, "address", addr,
             "port", port);
}

static void on_raft(void *ctx, const char *from, const uint8_t *payload, size_t len)
{
    kd_coord_on_raft(ctx, from, payload, len);
}

static void on_local_commit(void *ctx)
{
    kd_app *app = ctx;
    peer_mesh_kick(app->peers);
}

static void on_applied(void *ctx, size_t n_ops)
{
    (void)n_ops;
    kd_housekeeping_wrote(ctx); /* the idle checkpoint covers peer writes too */
    kd_fraud_applied(ctx);      /* scores the sales received, notes negative stock */
}

/* Writes peers.json atomically (temporary file, then rename): a reader
 * never sees half a file. Status only: no fsync. */
static void write_status(kd_app *app)
{
    peer_totals tot;
    peer_mesh_totals(app->peers, &tot);
    json_t *doc = json_pack(
        "{s:s,s:I,s:I,s:o,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I}}", "node", app->t->node_id, "updated_ms",
        (json_int_t)hlc_wall_ms(), "pid", (json_int_t)getpid(), "peers", kd_peers_status(app),
        "raft", kd_coord_status(app), "totals", "links_up", (json_int_t)tot.links_up, "ops_sent",
        (json_int_t)tot.ops_sent, "ops_received", (json_int_t)tot.ops_received, "bytes_sent",
        (json_int_t)tot.bytes_sent, "bytes_received", (json_int_t)tot.bytes_received,
        "links_refused", (json_int_t)tot.links_refused);
    char path[KD_PATH_MAX_BYTES + 32], tmp[KD_PATH_MAX_BYTES + 40];
    snprintf(path, sizeof path, "%s/%s", app->cfg.data_dir, KD_PEERS_STATUS_FILE);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!doc || json_dump_file(doc, tmp, JSON_COMPACT) != 0 || rename(tmp, path) != 0)
        jlog(JLOG_WARN, "peer", "status_file_failed", "{s:s}", "path", path);
    json_decref(doc);
}

static void on_status_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    write_status(arg);
}

int kd_peers_start(kd_app *app, kassa_err *err)
{
    const kd_config *c = &app->cfg;
    if (!c->peer_listen[0])
        return KASSA_OK;
    int rc = pki_identity_load(c->peer_cert_dir, &app->id, err);
    if (rc != KASSA_OK)
        return rc;
    app->have_id = true;
    peer_config pc = {
        .listen_host = c->peer_listen_host,
        .listen_port = c->peer_listen_port,
        .id = &app->id,
        .roster = c->roster,
        .n_roster = c->n_roster,
        .anti_entropy_ms = c->anti_entropy_ms,
        .reconnect_min_ms = c->reconnect_min_ms,
        .reconnect_max_ms = c->reconnect_max_ms,
        .idle_timeout_ms = c->idle_timeout_ms,
        .send_buffer_max_bytes = (size_t)c->send_buffer_max_bytes,
        .seed = (uint32_t)getpid() ^ (uint32_t)hlc_wall_ms(),
        .on_applied = on_applied,
        .on_raft = on_raft,
        .ctx = app,
    };
    if ((rc = peer_mesh_start(app->base, app->t, &pc, &app->peers, err)) != KASSA_OK)
        return rc;
    for (size_t i = 0; i < c->n_static_peers; i++) {
        char host[KD_HOST_MAX_BYTES];
        uint16_t port;
        if ((rc = kd_split_addr(c->static_peers[i], host, &port, err)) != KASSA_OK ||
            (rc = peer_mesh_add_target(app->peers, host, port, NULL, err)) != KASSA_OK)
            return kassa_fail(err, rc, "[peer] peers: %s: %s", c->static_peers[i], err->msg);
    }
    if (c->mdns) {
        /* A wildcard listener publishes every LAN address; a specific one
         * publishes just that address. */
        bool wildcard = strcmp(c->peer_listen_host, "0.0.0.0") == 0;
        disco_config dc = {
            .store = app->t->store_id,
            .node = app->t->node_id,
            .port = peer_mesh_port(app->peers),
            .proto = WIRE_PROTOCOL_VERSION,
            .publish_addr = wildcard ? NULL : c->peer_listen_host,
        };
        if ((rc = disco_start(app->base, &dc, on_found, app, &app->disco, err)) != KASSA_OK)
            return kassa_fail(err, rc, "[peer] mdns: %s", err->msg);
    }
    app->t->on_local_commit = on_local_commit;
    app->t->on_local_commit_ctx = app;
    app->peers_status_ev = event_new(app->base, -1, EV_PERSIST, on_status_timer, app);
    struct timeval every = {KD_PEERS_STATUS_INTERVAL_MS / 1000,
                            (KD_PEERS_STATUS_INTERVAL_MS % 1000) * 1000};
    if (!app->peers_status_ev || event_add(app->peers_status_ev, &every) != 0)
        return kassa_fail(err, KASSA_ENOMEM, "cannot start the peer status timer");
    jlog(JLOG_INFO, "peer", "listening", "{s:s,s:i,s:I,s:I,s:b}", "host", c->peer_listen_host,
         "port", peer_mesh_port(app->peers), "static_peers", (json_int_t)c->n_static_peers,
         "roster", (json_int_t)c->n_roster, "mdns", c->mdns != 0);
    return KASSA_OK;
}

void kd_peers_reload(kd_app *app)
{
    if (!app->peers)
        return;
    char path[KD_PATH_MAX_BYTES + 16];
    snprintf(path, sizeof path, "%s/crl.pem", app->cfg.peer_cert_dir);
    kassa_err err;
    if (pki_identity_set_crl(&app->id, path, &err) != KASSA_OK) {
        jlog(JLOG_WARN, "peer", "crl_reload_failed", "{s:s,s:s}", "path", path, "error", err.msg);
        return;
    }
    size_t closed = peer_mesh_recheck(app->peers);
    jlog(JLOG_INFO, "peer", "crl_reloaded", "{s:s,s:I}", "path", path, "links_closed",
         (json_int_t)closed);
}

json_t *kd_peers_status(kd_app *app)
{
    json_t *a = app->peers ? peer_mesh_status(app->peers) : NULL;
    return a ? a : json_array();
}

void kd_peers_free(kd_app *app)
{
    if (app->peers_status_ev)
        event_free(app->peers_status_ev);
    app->peers_status_ev = NULL;
    if (app->t)
        app->t->on_local_commit = NULL;
    disco_free(app->disco);
    app->disco = NULL;
    peer_mesh_free(app->peers);
    app->peers = NULL;
    if (app->have_id)
        pki_identity_free(&app->id);
    app->have_id = false;
}
