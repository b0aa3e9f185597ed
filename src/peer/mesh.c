/*
 * mesh.c: the set of links of one terminal: the listener, the targets it
 * dials (with exponential backoff and jitter), duplicate links, the
 * periodic tick (dialling, anti-entropy rounds, idle links) and status.
 */
#include "jlog/jlog.h"
#include "peer/peer_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The tick: how often due dials are made and round deadlines checked. */
#define PEER_TICK_MS 50

int64_t peer_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t peer_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool peer_mesh_in_roster(void *ctx, const char *store, const char *node)
{
    peer_mesh *m = ctx;
    if (strcmp(store, m->t->store_id) != 0)
        return false;
    for (size_t i = 0; i < m->cfg.n_roster; i++)
        if (strcmp(m->cfg.roster[i], node) == 0)
            return true;
    return false;
}

int peer_mesh_refresh_vv(peer_mesh *m, kassa_err *err)
{
    oplog_vv vv;
    int rc = term_vv(m->t, &vv, err);
    if (rc != KASSA_OK)
        return rc;
    oplog_vv_free(&m->ours);
    m->ours = vv;
    return KASSA_OK;
}

peer_node *peer_mesh_node(peer_mesh *m, const char *node)
{
    for (size_t i = 0; i < m->n_nodes; i++)
        if (strcmp(m->nodes[i].node, node) == 0)
            return &m->nodes[i];
    if (m->n_nodes >= PEER_NODES_MAX)
        return NULL;
    peer_node *n = &m->nodes[m->n_nodes++];
    memset(n, 0, sizeof *n);
    snprintf(n->node, sizeof n->node, "%s", node);
    return n;
}

static peer_link *up_link_to(const peer_mesh *m, const char *node, const peer_link *except)
{
    for (size_t i = 0; i < m->n_links; i++) {
        peer_link *l = m->links[i];
        if (l != except && l->state == LINK_UP && strcmp(l->node, node) == 0)
            return l;
    }
    return NULL;
}

int peer_mesh_acked(const peer_mesh *m, const char *node, oplog_vv *out, kassa_err *err)
{
    const peer_link *l = up_link_to(m, node, NULL);
    if (!l)
        return kassa_fail(err, KASSA_ENOTFOUND, "no link with %s", node);
    for (size_t i = 0; i < l->sync.n; i++) {
        const peer_origin *o = &l->sync.o[i];
        if (o->acked == 0)
            continue;
        int rc = oplog_vv_set(out, o->origin, o->acked, err);
        if (rc != KASSA_OK)
            return rc;
    }
    return KASSA_OK;
}

void peer_mesh_linked(const peer_mesh *m, wire_linked *out)
{
    out->n = 0;
    for (size_t i = 0; i < m->n_links && out->n < WIRE_LINKED_MAX; i++)
        if (m->links[i]->state == LINK_UP)
            memcpy(out->id[out->n++], m->links[i]->node, sizeof out->id[0]);
}

/* Links changed: every peer learns whom we hear from now, so the relays
 * adjust at once (not at the next round). */
static void links_changed(peer_mesh *m)
{
    m->linked_changed = true;
    event_active(m->kick_ev, EV_TIMEOUT, 0);
}

bool peer_mesh_linked_with(const peer_mesh *m, const char *node)
{
    return up_link_to(m, node, NULL) != NULL;
}

bool peer_mesh_has_other_link(peer_mesh *m, const peer_link *l)
{
    return l->node[0] && up_link_to(m, l->node, l) != NULL;
}

bool peer_mesh_link_up(peer_mesh *m, peer_link *l)
{
    links_changed(m);
    if (l->target >= 0) {
        peer_target *t = &m->targets[l->target];
        snprintf(t->node, sizeof t->node, "%s", l->node);
        t->backoff_ms = m->cfg.reconnect_min_ms;
    }
    peer_link *other = up_link_to(m, l->node, l);
    if (!other)
        return true;
    /* Both ends dialled each other. Both keep the link dialled by the
     * smaller node id, so they close the same one. */
    bool self_smaller = strcmp(m->t->node_id, l->node) < 0;
    peer_link *keep = l->outbound == self_smaller ? l : other;
    peer_link *drop = keep == l ? other : l;
    drop->duplicate = true;
    peer_link_close(drop, "duplicate link");
    return keep == l;
}

/* Uniform in [lo, hi) from a xorshift generator: jitter needs no quality,
 * only that terminals restarted together do not redial in lockstep. */
static int64_t jitter(peer_mesh *m, int64_t lo, int64_t hi)
{
    uint32_t x = m->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    m->rng = x;
    return hi > lo ? lo + (int64_t)(x % (uint32_t)(hi - lo)) : lo;
}

void peer_mesh_link_gone(peer_mesh *m, peer_link *l, bool was_up)
{
    if (was_up)
        links_changed(m);
    for (size_t i = 0; i < m->n_links; i++) {
        if (m->links[i] == l) {
            m->links[i] = m->links[--m->n_links];
            break;
        }
    }
    if (l->ssl) {
        m->totals.bytes_sent += BIO_number_written(SSL_get_wbio(l->ssl));
        m->totals.bytes_received += BIO_number_read(SSL_get_rbio(l->ssl));
    }
    if (l->target < 0)
        return;
    peer_target *t = &m->targets[l->target];
    t->link = NULL;
    /* Next dial after the backoff, jittered to [0.5, 1.5) of it; the
     * backoff doubles up to its maximum and is reset by a link that came
     * up. */
    int64_t b = t->backoff_ms;
    t->next_ms = peer_now_ms() + jitter(m, b / 2, b + b / 2);
    if (!was_up) {
        t->backoff_ms = b * 2 > m->cfg.reconnect_max_ms ? m->cfg.reconnect_max_ms : b * 2;
    }
}

static int dial(peer_mesh *m, size_t i)
{
    peer_target *t = &m->targets[i];
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char spec[PEER_ADDR_MAX_BYTES];
    snprintf(spec, sizeof spec, strchr(t->host, ':') ? "[%s]:%u" : "%s:%u", t->host, t->port);
    kassa_err err;
    int rc;
    if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &len) != 0)
        rc = kassa_fail(&err, KASSA_EINVAL, "not a numeric address: %s", spec);
    else
        rc = peer_link_open(m, -1, true, (int)i, (struct sockaddr *)&ss, len, &err);
    if (rc != KASSA_OK) {
        jlog(JLOG_WARN, "peer", "dial_failed", "{s:s,s:s}", "address", spec, "error", err.msg);
        t->next_ms = peer_now_ms() + m->cfg.reconnect_max_ms;
    }
    return rc;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    peer_mesh *m = arg;
    int64_t now = peer_now_ms();
    for (size_t i = 0; i < m->n_targets; i++) {
        peer_target *t = &m->targets[i];
        if (t->self || t->link || now < t->next_ms)
            continue;
        if (t->node[0] && up_link_to(m, t->node, NULL))
            continue;                     /* linked already, through its own dial */
        t->next_ms = now + t->backoff_ms; /* if the dial fails silently */
        dial(m, i);
    }
    /* A `kassa` command next to us committed: push what it appended. */
    int64_t version;
    kassa_err err;
    if (term_data_version(m->t, &version, &err) == KASSA_OK && version != m->data_version) {
        m->data_version = version;
        peer_mesh_kick(m);
    }
    if (now >= m->next_round_ms) {
        m->next_round_ms = now + m->cfg.anti_entropy_ms;
        /* A round may close links: walk a copy. */
        peer_link *links[PEER_LINKS_MAX];
        size_t n = m->n_links;
        memcpy(links, m->links, n * sizeof *links);
        for (size_t i = 0; i < n; i++) {
            bool still = false;
            for (size_t k = 0; k < m->n_links && !still; k++)
                still = m->links[k] == links[i];
            if (still)
                peer_link_round(links[i]);
        }
    }
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    peer_mesh *m = arg;
    bool acks = m->linked_changed;
    m->linked_changed = false;
    /* A failure closes the link, which removes it from the table: walk
     * backwards so removal is safe. */
    for (size_t i = m->n_links; i-- > 0;) {
        if (i >= m->n_links)
            continue;
        peer_link *l = m->links[i];
        kassa_err err;
        if (acks && l->state == LINK_UP && peer_link_send_ack(l, &err) != KASSA_OK)
            peer_link_close(l, err.msg);
        else
            peer_link_pump(l);
    }
}

int peer_mesh_send_raft(peer_mesh *m, const char *node, const uint8_t *payload, size_t len,
                        kassa_err *err)
{
    peer_link *l = up_link_to(m, node, NULL);
    if (!l)
        return kassa_fail(err, KASSA_ENOTFOUND, "no link with %s", node);
    return peer_link_send_raft(l, payload, len, err);
}

void peer_mesh_kick(peer_mesh *m)
{
    if (m)
        event_active(m->kick_ev, EV_TIMEOUT, 0);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)lis;
    peer_mesh *m = arg;
    kassa_err err;
    if (peer_link_open(m, fd, false, -1, sa, len, &err) != KASSA_OK)
        jlog(JLOG_WARN, "peer", "accept_failed", "{s:s}", "error", err.msg);
}

static void on_accept_error(struct evconnlistener *lis, void *arg)
{
    (void)lis;
    (void)arg;
    /* EMFILE and friends: log and keep listening; the tick goes on. */
    jlog(JLOG_ERROR, "peer", "accept_error", "{s:s}", "error",
         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

int peer_mesh_add_target(peer_mesh *m, const char *host, uint16_t port, const char *node,
                         kassa_err *err)
{
    if (!host[0] || strlen(host) >= PEER_HOST_MAX_BYTES || port == 0)
        return kassa_fail(err, KASSA_EINVAL, "bad peer address");
    if (node && !kassa_valid_id(node, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "bad node id");
    for (size_t i = 0; i < m->n_targets; i++) {
        peer_target *t = &m->targets[i];
        if (t->port != port || strcmp(t->host, host) != 0)
            continue;
        if (node && strcmp(t->node, node) != 0) {
            snprintf(t->node, sizeof t->node, "%s", node);
            t->backoff_ms = m->cfg.reconnect_min_ms;
            t->next_ms = 0;
        }
        return KASSA_OK;
    }
    if (m->n_targets >= PEER_TARGETS_MAX)
        return kassa_fail(err, KASSA_EFULL, "more than %d peer addresses", PEER_TARGETS_MAX);
    peer_target *t = &m->targets[m->n_targets++];
    memset(t, 0, sizeof *t);
    snprintf(t->host, sizeof t->host, "%s", host);
    t->port = port;
    if (node)
        snprintf(t->node, sizeof t->node, "%s", node);
    t->backoff_ms = m->cfg.reconnect_min_ms;
    t->next_ms = 0;
    return KASSA_OK;
}

int peer_mesh_start(struct event_base *base, term *t, const peer_config *cfg, peer_mesh **out,
                    kassa_err *err)
{
    *out = NULL;
    if (strcmp(cfg->id->store, t->store_id) != 0 || strcmp(cfg->id->node, t->node_id) != 0)
        return kassa_fail(err, KASSA_EINVAL,
                          "the certificate is for store %s node %s, this terminal is store %s "
                          "node %s",
                          cfg->id->store, cfg->id->node, t->store_id, t->node_id);
    peer_mesh *m = calloc(1, sizeof *m);
    if (!m)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    m->base = base;
    m->t = t;
    m->cfg = *cfg;
    if (!m->cfg.batch_max_ops)
        m->cfg.batch_max_ops = PEER_BATCH_OPS_DEFAULT;
    m->rng = cfg->seed ? cfg->seed : 0x9e3779b9u;
    oplog_vv_init(&m->ours);
    kbuf_init(&m->payloads);
    for (size_t i = 0; i < PEER_BATCH_CACHE; i++)
        kbuf_init(&m->batches[i].frame);
    kbuf_init(&m->frame);
    int rc = KASSA_OK;
    if (!peer_mesh_in_roster(m, t->store_id, t->node_id))
        rc = kassa_fail(err, KASSA_EINVAL, "this terminal (%s) is not in the roster", t->node_id);
    if (rc == KASSA_OK)
        rc = peer_tls_ctx_new(m, err);
    m->ops = calloc(m->cfg.batch_max_ops, sizeof *m->ops);
    m->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, m);
    m->kick_ev = event_new(base, -1, 0, on_kick, m);
    if (rc == KASSA_OK && (!m->ops || !m->tick_ev || !m->kick_ev))
        rc = kassa_fail(err, KASSA_ENOMEM, "out of memory");
    if (rc == KASSA_OK) {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        char spec[PEER_ADDR_MAX_BYTES];
        snprintf(spec, sizeof spec, strchr(cfg->listen_host, ':') ? "[%s]:%u" : "%s:%u",
                 cfg->listen_host, cfg->listen_port);
        if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &len) != 0)
            rc = kassa_fail(err, KASSA_EINVAL, "[peer] listen: not a numeric address: %s", spec);
        else if (!(m->listener = evconnlistener_new_bind(base, on_accept, m,
                                                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                                             LEV_OPT_CLOSE_ON_EXEC,
                                                         64, (struct sockaddr *)&ss, len)))
            rc = kassa_fail(err, KASSA_EIO, "cannot listen for peers on %s: %s", spec,
                            strerror(errno));
    }
    if (rc == KASSA_OK) {
        evconnlistener_set_error_cb(m->listener, on_accept_error);
        struct sockaddr_storage bound;
        socklen_t blen = sizeof bound;
        if (getsockname(evconnlistener_get_fd(m->listener), (struct sockaddr *)&bound, &blen) != 0)
            rc = kassa_fail(err, KASSA_EIO, "getsockname: %s", strerror(errno));
        else
            m->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                        : ((struct sockaddr_in *)&bound)->sin_port);
    }
    struct timeval tick = {0, PEER_TICK_MS * 1000};
    if (rc == KASSA_OK && event_add(m->tick_ev, &tick) != 0)
        rc = kassa_fail(err, KASSA_EIO, "cannot start the peer timer");
    if (rc != KASSA_OK) {
        peer_mesh_free(m);
        return rc;
    }
    /* Every roster node has a status line, connected or not. */
    for (size_t i = 0; i < cfg->n_roster; i++)
        if (strcmp(cfg->roster[i], t->node_id) != 0)
            (void)peer_mesh_node(m, cfg->roster[i]);
    m->next_round_ms = peer_now_ms() + m->cfg.anti_entropy_ms;
    *out = m;
    return KASSA_OK;
}

uint16_t peer_mesh_port(const peer_mesh *m)
{
    return m->port;
}

void peer_mesh_totals(const peer_mesh *m, peer_totals *out)
{
    *out = m->totals;
    out->links_up = 0;
    for (size_t i = 0; i < m->n_links; i++) {
        const peer_link *l = m->links[i];
        if (l->state == LINK_UP)
            out->links_up++;
        /* Live links' bytes: SSL's BIOs count what went through the
         * socket, TLS records included. */
        out->bytes_sent += BIO_number_written(SSL_get_wbio(l->ssl));
        out->bytes_received += BIO_number_read(SSL_get_rbio(l->ssl));
    }
}

json_t *peer_mesh_status(peer_mesh *m)
{
    kassa_err err;
    if (peer_mesh_refresh_vv(m, &err) != KASSA_OK)
        jlog(JLOG_WARN, "peer", "vv_failed", "{s:s}", "error", err.msg);
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < m->n_nodes; i++) {
        peer_node *n = &m->nodes[i];
        peer_link *l = up_link_to(m, n->node, NULL);
        uint64_t sent = n->ops_sent, received = n->ops_received;
        if (l) {
            n->lag_ops = peer_sync_lag(&l->sync, &m->ours);
            n->behind_ops = peer_sync_behind(&l->sync, &m->ours);
            sent += l->ops_sent;
            received += l->ops_received;
            n->last_seen_wall_ms = peer_wall_ms() - (peer_now_ms() - l->last_rx_ms);
        }
        json_t *o = json_pack("{s:s,s:b,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:s}", "node", n->node,
                              "connected", l != NULL, "address", n->addr, "direction",
                              n->addr[0] ? (n->outbound ? "out" : "in") : "", "last_seen_ms",
                              (json_int_t)n->last_seen_wall_ms, "lag_ops", (json_int_t)n->lag_ops,
                              "behind_ops", (json_int_t)n->behind_ops, "ops_sent", (json_int_t)sent,
                              "ops_received", (json_int_t)received, "last_error", n->last_error);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

size_t peer_mesh_recheck(peer_mesh *m)
{
    size_t closed = 0;
    for (size_t i = m->n_links; i-- > 0;) {
        if (i >= m->n_links)
            continue;
        peer_link *l = m->links[i];
        X509 *cert = SSL_get0_peer_certificate(l->ssl);
        if (!cert)
            continue; /* still in its handshake: the callback will check */
        kassa_err err;
        pki_reject why;
        if (pki_verify_peer(m->cfg.id, cert, SSL_get_peer_cert_chain(l->ssl), m->cfg.id->store,
                            peer_mesh_in_roster, m, NULL, &why, &err) == KASSA_OK)
            continue;
        char reason[PEER_REASON_MAX_BYTES];
        snprintf(reason, sizeof reason, "certificate no longer accepted: %s: %.180s",
                 pki_reject_name(why), err.msg);
        m->totals.links_refused++;
        peer_link_close(l, reason);
        closed++;
    }
    return closed;
}

void peer_mesh_free(peer_mesh *m)
{
    if (!m)
        return;
    while (m->n_links > 0) {
        peer_link *l = m->links[m->n_links - 1];
        l->target = -1; /* no redial bookkeeping while shutting down */
        peer_link_close(l, "shutting down");
    }
    if (m->listener)
        evconnlistener_free(m->listener);
    if (m->tick_ev)
        event_free(m->tick_ev);
    if (m->kick_ev)
        event_free(m->kick_ev);
    if (m->tls)
        SSL_CTX_free(m->tls);
    free(m->ops);
    for (size_t i = 0; i < PEER_BATCH_CACHE; i++)
        kbuf_free(&m->batches[i].frame);
    kbuf_free(&m->payloads);
    kbuf_free(&m->frame);
    oplog_vv_free(&m->ours);
    free(m);
}
