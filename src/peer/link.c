/*
 * link.c: one peer link, from the TCP connection to the frames.
 *
 *   LINK_TLS    the handshake; our verify callback checks the peer
 *   LINK_HELLO  handshake done: our Hello (version, ids, vv) is sent
 *   LINK_UP     the peer's Hello has been read and checked
 *
 * Any bad frame (oversized, truncated, undecodable, unexpected in this
 * state), a refused batch or a TLS error closes the link with the reason
 * logged; the daemon goes on and the target is dialled again later.
 */
#include "jlog/jlog.h"
#include "peer/peer_internal.h"
#include "wire/wire.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Payload bytes read for one batch, past its first operation. */
#define PEER_BATCH_PAYLOAD_MAX_BYTES (4u << 20)

/* TCP_NODELAY: a push is one small frame that must leave now, not after
 * the delayed ACK of the previous one (~40 ms). Keepalive finds a peer
 * that vanished without a FIN when the link is idle. */
static void tune_socket(evutil_socket_t fd)
{
    if (fd < 0)
        return;
    int one = 1, idle_s = 10, intvl_s = 5, cnt = 3;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl_s, sizeof intvl_s) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) != 0)
        jlog(JLOG_WARN, "peer", "socket_options_failed", "{s:s}", "error", strerror(errno));
}

static void link_free(peer_link *l)
{
    if (l->work_ev)
        event_free(l->work_ev);
    if (l->bev)
        bufferevent_free(l->bev); /* frees the SSL and closes the socket */
    else if (l->ssl)
        SSL_free(l->ssl);
    peer_sync_free(&l->sync);
    free(l);
}

void peer_link_close(peer_link *l, const char *reason)
{
    peer_mesh *m = l->m;
    bool was_up = l->state == LINK_UP;
    if (l->duplicate)
        /* Both ends dialled at once: normal, not worth a warning. */
        jlog(JLOG_DEBUG, "peer", "link_duplicate", "{s:s,s:s}", "node", l->node, "address",
             l->addr);
    else if (l->refusal[0])
        jlog(JLOG_WARN, "peer", "link_refused", "{s:s,s:s,s:s,s:s}", "claimed",
             l->claimed[0] ? l->claimed : "?", "address", l->addr, "direction",
             l->outbound ? "out" : "in", "reason", reason);
    else
        jlog(was_up ? JLOG_WARN : JLOG_INFO, "peer", was_up ? "link_down" : "link_failed",
             "{s:s,s:s,s:s,s:s}", "node", l->node[0] ? l->node : "?", "address", l->addr,
             "direction", l->outbound ? "out" : "in", "reason", reason);
    if (l->refusal[0] && l->claimed_node[0] &&
        peer_mesh_in_roster(m, l->claimed_store, l->claimed_node)) {
        /* A roster terminal refused (revoked, expired, ...): say why in its
         * status. The name is the certificate's claim, unverified: it only
         * ever reaches the status text of a roster node. */
        peer_node *n = peer_mesh_node(m, l->claimed_node);
        if (n)
            snprintf(n->last_error, sizeof n->last_error, "%s", reason);
    }
    if (l->node[0] && strcmp(l->node, m->t->node_id) != 0) {
        peer_node *n = peer_mesh_node(m, l->node);
        if (n) {
            if (!l->duplicate)
                snprintf(n->last_error, sizeof n->last_error, "%s", reason);
            n->ops_sent += l->ops_sent;
            n->ops_received += l->ops_received;
        }
    }
    peer_mesh_link_gone(m, l, was_up);
    link_free(l);
}

/* Appends a frame built in m->frame to the link's output. */
static int send_frame(peer_link *l, kassa_err *err)
{
    peer_mesh *m = l->m;
    if (m->frame.oom)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    if (bufferevent_write(l->bev, m->frame.data, m->frame.len) != 0)
        return kassa_fail(err, KASSA_ENOMEM, "cannot queue %zu bytes", m->frame.len);
    return KASSA_OK;
}

static int send_vv_frame(peer_link *l, bool hello, kassa_err *err)
{
    peer_mesh *m = l->m;
    int rc = peer_mesh_refresh_vv(m, err);
    if (rc != KASSA_OK)
        return rc;
    kbuf_reset(&m->frame);
    if (!hello)
        peer_mesh_linked(m, &m->linked);
    rc = hello ? wire_encode_hello(&m->frame, m->t->store_id, m->t->node_id, &m->ours, err)
               : wire_encode_ack(&m->frame, &m->ours, &m->linked, err);
    return rc == KASSA_OK ? send_frame(l, err) : rc;
}

int peer_link_send_raft(peer_link *l, const uint8_t *payload, size_t len, kassa_err *err)
{
    peer_mesh *m = l->m;
    if (evbuffer_get_length(bufferevent_get_output(l->bev)) > 2 * m->cfg.send_buffer_max_bytes)
        return kassa_fail(err, KASSA_EFULL, "link to %s backed up: Raft message dropped", l->node);
    kbuf_reset(&m->frame);
    int rc = wire_frame_put(&m->frame, WIRE_RAFT, payload, len, err);
    return rc == KASSA_OK ? send_frame(l, err) : rc;
}

int peer_link_send_ack(peer_link *l, kassa_err *err)
{
    return send_vv_frame(l, false, err);
}

static void update_node(peer_link *l)
{
    peer_node *n = peer_mesh_node(l->m, l->node);
    if (!n)
        return;
    snprintf(n->addr, sizeof n->addr, "%s", l->addr);
    n->outbound = l->outbound;
    n->last_seen_wall_ms = peer_wall_ms();
    n->lag_ops = peer_sync_lag(&l->sync, &l->m->ours);
    n->behind_ops = peer_sync_behind(&l->sync, &l->m->ours);
}

/* The frame of origin's operations after after_seq: from the cache, or
 * read, encoded (halved until it fits a frame) and cached. NULL with
 * *n_ops 0 when there is nothing to read; NULL with err set on failure. */
static const peer_batch *batch_for(peer_mesh *m, const char *origin, uint64_t after, kassa_err *err)
{
    peer_batch *lru = &m->batches[0];
    for (size_t i = 0; i < PEER_BATCH_CACHE; i++) {
        peer_batch *b = &m->batches[i];
        if (b->n_ops && b->after_seq == after && strcmp(b->origin, origin) == 0) {
            b->used = ++m->batch_clock;
            return b;
        }
        if (b->used < lru->used)
            lru = b;
    }
    size_t n;
    if (term_ops_read(m->t, origin, after, m->cfg.batch_max_ops, PEER_BATCH_PAYLOAD_MAX_BYTES,
                      m->ops, &m->payloads, &n, err) != KASSA_OK)
        return NULL;
    kassa_err_clear(err);
    if (n == 0)
        return NULL; /* the vv promised more: it changed under us */
    m->batch_bytes -= lru->frame.len;
    int rc = wire_encode_ops_fit(&lru->frame, m->ops, &n, err);
    if (rc == KASSA_OK && lru->frame.oom)
        rc = kassa_fail(err, KASSA_ENOMEM, "out of memory");
    if (rc != KASSA_OK) {
        kbuf_reset(&lru->frame);
        lru->n_ops = 0;
        return NULL;
    }
    m->batch_bytes += lru->frame.len;
    /* Over the byte bound: drop the least recently used others. */
    while (m->batch_bytes > PEER_BATCH_CACHE_MAX_BYTES) {
        peer_batch *old = NULL;
        for (size_t i = 0; i < PEER_BATCH_CACHE; i++) {
            peer_batch *b = &m->batches[i];
            if (b != lru && b->n_ops && (!old || b->used < old->used))
                old = b;
        }
        if (!old)
            break;
        m->batch_bytes -= old->frame.len;
        kbuf_free(&old->frame);
        kbuf_init(&old->frame);
        old->n_ops = 0;
        old->used = 0;
    }
    snprintf(lru->origin, sizeof lru->origin, "%s", origin);
    lru->after_seq = after;
    lru->last_seq = m->ops[n - 1].seq;
    lru->n_ops = n;
    lru->used = ++m->batch_clock;
    return lru;
}

void peer_link_pump(peer_link *l)
{
    peer_mesh *m = l->m;
    if (l->state != LINK_UP)
        return;
    int64_t wait_ms = l->hold_until_ms - peer_now_ms();
    if (wait_ms > 0) {
        struct timeval tv = {0, (suseconds_t)wait_ms * 1000};
        event_add(l->work_ev, &tv);
        return;
    }
    kassa_err err;
    if (peer_mesh_refresh_vv(m, &err) != KASSA_OK) {
        jlog(JLOG_ERROR, "peer", "vv_failed", "{s:s}", "error", err.msg);
        return;
    }
    struct evbuffer *out = bufferevent_get_output(l->bev);
    for (int pass = 0; pass < PEER_BATCHES_PER_PASS; pass++) {
        if (evbuffer_get_length(out) >= m->cfg.send_buffer_max_bytes)
            return; /* backpressure: the write callback resumes */
        const char *origin;
        uint64_t after;
        if (!peer_sync_next(&l->sync, &m->ours, peer_now_ms(), &origin, &after))
            return;
        const peer_batch *b = batch_for(m, origin, after, &err);
        if (!b) {
            if (err.code != KASSA_OK)
                peer_link_close(l, err.msg);
            return;
        }
        size_t n = b->n_ops;
        int rc = KASSA_OK;
        if (bufferevent_write(l->bev, b->frame.data, b->frame.len) != 0)
            rc = kassa_fail(&err, KASSA_ENOMEM, "cannot queue %zu bytes", b->frame.len);
        if (rc == KASSA_OK)
            rc = peer_sync_sent(&l->sync, origin, b->last_seq, &err);
        if (rc != KASSA_OK) {
            peer_link_close(l, err.msg);
            return;
        }
        l->ops_sent += n;
        m->totals.ops_sent += n;
    }
    /* More may be waiting: continue on the next pass of the loop. */
    event_active(l->work_ev, EV_WRITE, 0);
}

static int on_hello(peer_link *l, const wire_frame *f, kassa_err *err)
{
    peer_mesh *m = l->m;
    wire_hello h;
    int rc = wire_decode_hello(f->payload, f->payload_len, &h, err);
    if (rc != KASSA_OK)
        return rc;
    if (strcmp(h.store_id, m->t->store_id) != 0)
        rc = kassa_fail(err, KASSA_EAUTH, "Hello names store %s, ours is %s", h.store_id,
                        m->t->store_id);
    else if (strcmp(h.node_id, l->node) != 0)
        rc = kassa_fail(err, KASSA_EAUTH, "Hello names node %s, its certificate %s", h.node_id,
                        l->node);
    else
        rc = peer_sync_on_vv(&l->sync, &h.vv, err);
    wire_hello_free(&h);
    return rc;
}

static int on_batch(peer_link *l, const wire_frame *f, kassa_err *err)
{
    peer_mesh *m = l->m;
    wire_ops w;
    int rc = wire_decode_ops(m->t->store_id, f->payload, f->payload_len, &w, err);
    if (rc != KASSA_OK)
        return rc;
    /* A peer may relay another origin's operations, but not those of an
     * origin we have a link with: we take those from the origin itself.
     * (An honest peer does not send them: our Acks list our links.) This
     * leaves a compromised peer with nothing to inject under the name of a
     * terminal that is online here; see docs/SECURITY.md. */
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < w.n_ops; i++) {
        const char *origin = w.ops[i].origin;
        if (strcmp(origin, l->node) != 0 && peer_mesh_linked_with(m, origin))
            dropped++;
        else
            w.ops[kept++] = w.ops[i];
    }
    if (dropped)
        jlog(JLOG_DEBUG, "peer", "relay_ignored", "{s:s,s:I}", "node", l->node, "ops",
             (json_int_t)dropped);
    term_import_report rep;
    rc = term_import_ops(m->t, w.ops, kept, &rep, err);
    wire_ops_free(&w);
    if (rc != KASSA_OK)
        return rc;
    l->ops_received += rep.applied;
    m->totals.ops_received += rep.applied;
    if (rep.applied && m->cfg.on_applied)
        m->cfg.on_applied(m->cfg.ctx, rep.applied);
    if (rep.skew_reports)
        jlog(JLOG_WARN, "peer", "clock_skew", "{s:s,s:I}", "node", l->node, "clamped",
             (json_int_t)rep.skew_reports);
    return send_vv_frame(l, false, err);
}

/* Handles one frame; KASSA_OK to go on. A link closed by the mesh (a
 * duplicate) is reported as KASSA_ECONFLICT with *closed set. */
static int on_frame(peer_link *l, const wire_frame *f, bool *closed, kassa_err *err)
{
    *closed = false;
    if (f->type == WIRE_HELLO) {
        if (l->state != LINK_HELLO)
            return kassa_fail(err, KASSA_ECORRUPT, "a second Hello");
        int rc = on_hello(l, f, err);
        if (rc != KASSA_OK)
            return rc;
        l->state = LINK_UP;
        l->m->totals.links_up++;
        if (!peer_mesh_link_up(l->m, l)) {
            *closed = true;
            return KASSA_ECONFLICT;
        }
        jlog(JLOG_INFO, "peer", "link_up", "{s:s,s:s,s:s}", "node", l->node, "address", l->addr,
             "direction", l->outbound ? "out" : "in");
        /* Not the link a simultaneous dial would keep: give the other one
         * a moment to show up before streaming a backlog here. */
        bool preferred = l->outbound == (strcmp(l->m->t->node_id, l->node) < 0);
        if (!preferred)
            l->hold_until_ms = peer_now_ms() + PEER_DUPLICATE_GRACE_MS;
        update_node(l);
        peer_link_pump(l);
        return KASSA_OK;
    }
    if (l->state != LINK_UP)
        return kassa_fail(err, KASSA_ECORRUPT, "frame type %u before Hello", f->type);
    switch (f->type) {
    case WIRE_ACK: {
        oplog_vv vv;
        oplog_vv_init(&vv);
        wire_linked *linked = &l->m->linked;
        int rc = wire_decode_ack(f->payload, f->payload_len, &vv, linked, err);
        if (rc == KASSA_OK)
            rc = peer_sync_on_vv(&l->sync, &vv, err);
        oplog_vv_free(&vv);
        if (rc == KASSA_OK) {
            /* Whom it hears from decides what we relay to it. */
            peer_sync_on_linked(&l->sync, linked, peer_now_ms());
            peer_link_pump(l);
        }
        return rc;
    }
    case WIRE_OPS_BATCH:
        l->last_batch_rx_ms = peer_now_ms();
        return on_batch(l, f, err);
    case WIRE_RAFT:
        if (l->m->cfg.on_raft)
            l->m->cfg.on_raft(l->m->cfg.ctx, l->node, f->payload, f->payload_len);
        return KASSA_OK;
    default:
        return KASSA_OK; /* heartbeat: any frame shows the peer is alive */
    }
}

/* Handles the complete frames waiting in the input, a bounded number per
 * pass. False when the link was closed. */
static bool read_frames(peer_link *l)
{
    struct evbuffer *in = bufferevent_get_input(l->bev);
    for (int i = 0; i < PEER_FRAMES_PER_PASS; i++) {
        size_t have = evbuffer_get_length(in);
        if (have < WIRE_HEADER_BYTES)
            return true;
        kassa_err err;
        wire_frame f;
        size_t used;
        const uint8_t *head = evbuffer_pullup(in, WIRE_HEADER_BYTES);
        int rc = wire_frame_parse(head, WIRE_HEADER_BYTES, &f, &used, &err);
        if (rc == WIRE_NEED_MORE) {
            /* The header is valid: the whole frame is this long. */
            size_t want = WIRE_HEADER_BYTES + ((size_t)head[0] << 24 | (size_t)head[1] << 16 |
                                               (size_t)head[2] << 8 | head[3]);
            if (have < want)
                return true;
            const uint8_t *whole = evbuffer_pullup(in, (ev_ssize_t)want);
            rc = whole ? wire_frame_parse(whole, want, &f, &used, &err)
                       : kassa_fail(&err, KASSA_ENOMEM, "out of memory");
        }
        bool closed = false;
        if (rc == KASSA_OK)
            rc = on_frame(l, &f, &closed, &err);
        if (closed)
            return false;
        if (rc != KASSA_OK) {
            peer_link_close(l, err.msg);
            return false;
        }
        evbuffer_drain(in, used);
    }
    if (evbuffer_get_length(in) >= WIRE_HEADER_BYTES)
        event_active(l->work_ev, EV_READ, 0);
    return true;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    peer_link *l = arg;
    l->last_rx_ms = peer_now_ms();
    read_frames(l);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    peer_link_pump(arg);
}

static void on_work(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    peer_link *l = arg;
    if (read_frames(l))
        peer_link_pump(l);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    peer_link *l = arg;
    char reason[PEER_REASON_MAX_BYTES + 64];
    if (what & BEV_EVENT_CONNECTED) {
        tune_socket(bufferevent_getfd(bev));
        kassa_err err;
        if (!l->node[0]) {
            peer_link_close(l, "no peer certificate");
            return;
        }
        peer_sync_set_peer(&l->sync, l->node);
        if (strcmp(l->node, l->m->t->node_id) == 0) {
            if (l->target >= 0)
                l->m->targets[l->target].self = true;
            peer_link_close(l, "this address is ourselves");
            return;
        }
        if (send_vv_frame(l, true, &err) != KASSA_OK) {
            peer_link_close(l, err.msg);
            return;
        }
        l->state = LINK_HELLO;
        return;
    }
    /* The other end closed the duplicate of a link that is up. */
    l->duplicate = l->duplicate || peer_mesh_has_other_link(l->m, l);
    if (l->refusal[0]) {
        l->m->totals.links_refused++;
        snprintf(reason, sizeof reason, "refused its certificate: %s", l->refusal);
    } else {
        char tls[200];
        peer_tls_error(l, tls, sizeof tls);
        int e = EVUTIL_SOCKET_ERROR();
        if (tls[0])
            snprintf(reason, sizeof reason, "TLS: %s", tls);
        else if ((what & BEV_EVENT_ERROR) && e)
            snprintf(reason, sizeof reason, "%s", evutil_socket_error_to_string(e));
        else if (l->state == LINK_HELLO)
            /* TLS 1.3: our handshake "completed" before the peer checked
             * our certificate; a close now is most likely its refusal. */
            snprintf(reason, sizeof reason, "closed by the peer before its Hello");
        else
            snprintf(reason, sizeof reason, "closed by the peer");
    }
    peer_link_close(l, reason);
}

int peer_link_open(peer_mesh *m, int fd, bool outbound, int target, const struct sockaddr *sa,
                   int sa_len, kassa_err *err)
{
    if (m->n_links >= PEER_LINKS_MAX) {
        if (fd >= 0)
            evutil_closesocket(fd);
        return kassa_fail(err, KASSA_EFULL, "already %d peer links", PEER_LINKS_MAX);
    }
    peer_link *l = calloc(1, sizeof *l);
    if (!l) {
        if (fd >= 0)
            evutil_closesocket(fd);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    }
    l->m = m;
    l->outbound = outbound;
    l->target = target;
    l->state = LINK_TLS;
    l->opened_ms = l->last_rx_ms = peer_now_ms();
    /* Two rounds: enough for a store's links to come up together. */
    peer_sync_init(&l->sync, m->t->node_id, 2 * m->cfg.anti_entropy_ms);
    if (sa && sa->sa_family == AF_INET6) {
        char h[64];
        const struct sockaddr_in6 *s6 = (const void *)sa;
        evutil_inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof h);
        snprintf(l->addr, sizeof l->addr, "[%s]:%u", h, ntohs(s6->sin6_port));
    } else if (sa) {
        char h[32];
        const struct sockaddr_in *s4 = (const void *)sa;
        evutil_inet_ntop(AF_INET, &s4->sin_addr, h, sizeof h);
        snprintf(l->addr, sizeof l->addr, "%s:%u", h, ntohs(s4->sin_port));
    }
    l->ssl = peer_tls_new(m, l, err);
    if (!l->ssl) {
        if (fd >= 0)
            evutil_closesocket(fd);
        link_free(l);
        return err->code;
    }
    if (fd >= 0)
        tune_socket(fd);
    l->bev = bufferevent_openssl_socket_new(
        m->base, fd, l->ssl, outbound ? BUFFEREVENT_SSL_CONNECTING : BUFFEREVENT_SSL_ACCEPTING,
        BEV_OPT_CLOSE_ON_FREE);
    l->work_ev = event_new(m->base, -1, 0, on_work, l);
    if (!l->bev || !l->work_ev) {
        if (!l->bev && fd >= 0)
            evutil_closesocket(fd);
        link_free(l);
        return kassa_fail(err, KASSA_ENOMEM, "cannot create a TLS link");
    }
    bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
    bufferevent_setcb(l->bev, on_read, on_write, on_event, l);
    /* Read at most one whole frame ahead; refill the output when half of
     * the send buffer has drained. */
    bufferevent_setwatermark(l->bev, EV_READ, 0, WIRE_HEADER_BYTES + WIRE_FRAME_MAX_BYTES);
    bufferevent_setwatermark(l->bev, EV_WRITE, m->cfg.send_buffer_max_bytes / 2, 0);
    if (bufferevent_enable(l->bev, EV_READ | EV_WRITE) != 0) {
        link_free(l);
        return kassa_fail(err, KASSA_EIO, "cannot enable the link");
    }
    m->links[m->n_links++] = l;
    if (target >= 0)
        m->targets[target].link = l;
    if (outbound && bufferevent_socket_connect(l->bev, (struct sockaddr *)sa, sa_len) != 0) {
        /* Refused at once (no route): the event callback may not run. */
        peer_link_close(l, "cannot connect");
        return KASSA_OK;
    }
    if (outbound)
        tune_socket(bufferevent_getfd(l->bev));
    return KASSA_OK;
}

void peer_link_round(peer_link *l)
{
    peer_mesh *m = l->m;
    if (l->state != LINK_UP) {
        if (peer_now_ms() - l->opened_ms > m->cfg.idle_timeout_ms)
            peer_link_close(l, "handshake timed out");
        return;
    }
    if (peer_now_ms() - l->last_rx_ms > m->cfg.idle_timeout_ms) {
        peer_link_close(l, "no frame within idle_timeout_ms");
        return;
    }
    kassa_err err;
    if (send_vv_frame(l, false, &err) != KASSA_OK) {
        peer_link_close(l, err.msg);
        return;
    }
    /* Quiet both ways: nothing of ours waits to be written (but the Ack
     * just queued), and the peer has not been streaming batches to us. A
     * peer busy streaming its own backlog has our acknowledgements queued
     * behind it, so its silence about our operations means nothing yet. */
    size_t queued = evbuffer_get_length(bufferevent_get_output(l->bev));
    bool idle = (queued == 0 || queued == m->frame.len) &&
                peer_now_ms() - l->last_batch_rx_ms >
                    (int64_t)PEER_SYNC_STALL_ROUNDS * m->cfg.anti_entropy_ms;
    size_t rewound = peer_sync_round(&l->sync, &m->ours, idle, peer_now_ms());
    if (rewound)
        jlog(JLOG_INFO, "peer", "repair", "{s:s,s:I}", "node", l->node, "origins_rewound",
             (json_int_t)rewound);
    update_node(l);
    peer_link_pump(l);
}
