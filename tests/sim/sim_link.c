/*
 * sim_link.c: a node's peer links over the simulated network, following
 * src/peer/link.c and mesh.c rule for rule: Hello with the version vector
 * when a link comes up; each side streams what the other lacks per
 * peer_sync_next (its own origin always, other origins as relays only to a
 * peer without a link to them, after the grace); batches are read with
 * term_ops_read, encoded with wire_encode_ops (halved until they fit), and
 * on arrival decoded with wire_decode_ops and applied with term_import_ops
 * in one transaction, relayed operations of an origin we are linked with
 * dropped; every batch is answered with an Ack carrying our version
 * vector and our links; every anti-entropy round sends an Ack on every
 * link (also the heartbeat), runs the stall repair (peer_sync_round) and
 * closes links silent for longer than the idle timeout.
 *
 * What differs, and why: there is no TLS and no byte stream. A frame is
 * one datagram, so the network's loss, duplication and reordering reach
 * the sync rules directly (over TCP they would surface as delays and
 * closed links); a duplicated Hello is ignored where the real link would
 * close on a second Hello (TCP never duplicates), and a frame that
 * overtook the Hello of its connection is dropped (TCP never reorders).
 * Only the node with the smaller index dials, so there are no duplicate
 * links to resolve. A frame for a connection the receiver does not have
 * is answered with a reset, as TCP answers with RST.
 */
#include "sim.h"
#include "sim_raft.h"

#include <string.h>

static bool dials(const sim_node *nd, int peer)
{
    return nd->id < peer;
}

void sim_links_reset(sim_node *nd)
{
    for (int j = 0; j < SIM_NODES_MAX; j++) {
        sim_link *l = &nd->link[j];
        SIM_ASSERT(!l->sync_live);
        memset(l, 0, sizeof *l);
        l->backoff_ms = SIM_RECONNECT_MIN_MS;
    }
}

void sim_links_close_all(sim_node *nd)
{
    for (int j = 0; j < SIM_NODES_MAX; j++) {
        sim_link *l = &nd->link[j];
        if (l->sync_live)
            peer_sync_free(&l->sync);
        l->sync_live = false;
        l->state = SIM_LINK_DOWN;
    }
}

bool sim_link_is_up(const sim_node *nd, int peer)
{
    SIM_ASSERT(peer >= 0 && peer < SIM_NODES_MAX);
    return nd->link[peer].state == SIM_LINK_UP;
}

static void sync_start(sim_world *w, sim_node *nd, int peer)
{
    sim_link *l = &nd->link[peer];
    SIM_ASSERT(!l->sync_live);
    /* Two rounds of grace before relaying, as link.c. */
    peer_sync_init(&l->sync, nd->name, 2 * SIM_ANTI_ENTROPY_MS);
    peer_sync_set_peer(&l->sync, w->node[peer].name);
    l->sync_live = true;
}

static void link_close(sim_world *w, sim_node *nd, int peer, const char *reason)
{
    sim_link *l = &nd->link[peer];
    if (l->state == SIM_LINK_DOWN)
        return;
    bool was_up = l->state == SIM_LINK_UP;
    int64_t now = sim_clock_mono_ms(&w->clock, nd->id);
    if (l->sync_live)
        peer_sync_free(&l->sync);
    l->sync_live = false;
    l->state = SIM_LINK_DOWN;
    if (was_up)
        nd->linked_changed = true;
    w->stats.links_closed++;
    if (dials(nd, peer)) {
        /* Redial after the backoff jittered to [0.5, 1.5) of it; it
         * doubles while dials fail, up to its maximum (mesh.c). */
        int64_t b = l->backoff_ms;
        l->next_dial_ms = now + sim_draw(&nd->rng, b / 2, b + b / 2 - 1);
        if (!was_up)
            l->backoff_ms = 2 * b > SIM_RECONNECT_MAX_MS ? SIM_RECONNECT_MAX_MS : 2 * b;
    }
    sim_note(w, nd->id, "link %s conn %u %s -> down: %s", w->node[peer].name, l->conn,
             was_up ? "up" : "hello", reason);
}

static void linked_of(const sim_world *w, const sim_node *nd, wire_linked *out)
{
    out->n = 0;
    for (int j = 0; j < w->p.n; j++)
        if (nd->link[j].state == SIM_LINK_UP)
            memcpy(out->id[out->n++], w->node[j].name, sizeof w->node[j].name);
}

static void send_frame(sim_world *w, sim_node *nd, int peer)
{
    SIM_ASSERT(!w->frame.oom);
    sim_net_send(w, nd->id, peer, SIM_MSG_PEER, nd->link[peer].conn, w->frame.data, w->frame.len);
}

/* Hello or Ack with our version vector (and links, for an Ack). */
static void send_vv(sim_world *w, sim_node *nd, int peer, bool hello)
{
    const oplog_vv *vv = sim_node_vv(w, nd);
    if (w->failed)
        return;
    kbuf_reset(&w->frame);
    kassa_err err;
    int rc;
    if (hello) {
        rc = wire_encode_hello(&w->frame, SIM_STORE_ID, nd->name, vv, &err);
    } else {
        linked_of(w, nd, &w->linked);
        rc = wire_encode_ack(&w->frame, vv, &w->linked, &err);
    }
    if (rc != KASSA_OK) {
        sim_fail(w, "wire-error", "%s: encoding a %s: %s", nd->name, hello ? "Hello" : "Ack",
                 err.msg);
        return;
    }
    send_frame(w, nd, peer);
}

static void schedule_pump(sim_world *w, sim_node *nd)
{
    if (nd->pump_scheduled)
        return;
    nd->pump_scheduled = true;
    /* The next pass of the event loop: right after what is due now. */
    sim_queue_push(&w->queue, w->clock.now_us + 1, SIM_EV_PUMP, nd->id, nd->life);
}

/* peer_link_pump: stream what the peer lacks, a bounded number of batches
 * now, the rest on the next pass. */
static void pump_link(sim_world *w, sim_node *nd, int peer)
{
    sim_link *l = &nd->link[peer];
    if (l->state != SIM_LINK_UP)
        return;
    int64_t now = sim_clock_mono_ms(&w->clock, nd->id);
    for (int pass = 0; pass < SIM_PUMP_BATCHES_MAX; pass++) {
        const oplog_vv *ours = sim_node_vv(w, nd);
        if (w->failed)
            return;
        const char *next;
        uint64_t after;
        if (!peer_sync_next(&l->sync, ours, now, &next, &after))
            return;
        char origin[KASSA_ID_MAX + 1];
        snprintf(origin, sizeof origin, "%s", next);
        size_t n = 0;
        kassa_err err;
        if (term_ops_read(nd->t, origin, after, w->p.batch_max_ops, SIM_BATCH_PAYLOAD_MAX_BYTES,
                          w->ops, &w->payloads, &n, &err) != KASSA_OK) {
            sim_fail(w, "term-error", "%s: term_ops_read %s after %llu: %s", nd->name, origin,
                     (unsigned long long)after, err.msg);
            return;
        }
        if (n == 0) {
            sim_fail(w, "term-error", "%s: its vv holds %s past %llu, term_ops_read finds none",
                     nd->name, origin, (unsigned long long)after);
            return;
        }
        /* Halved until it fits a frame. */
        int rc = wire_encode_ops_fit(&w->frame, w->ops, &n, &err);
        if (rc != KASSA_OK) {
            sim_fail(w, "wire-error", "%s: encoding a batch: %s", nd->name, err.msg);
            return;
        }
        uint64_t last = w->ops[n - 1].seq;
        send_frame(w, nd, peer);
        if (peer_sync_sent(&l->sync, origin, last, &err) != KASSA_OK) {
            sim_fail(w, "sync-error", "%s: peer_sync_sent: %s", nd->name, err.msg);
            return;
        }
        l->ops_sent += n;
        if (strcmp(origin, nd->name) != 0)
            w->stats.relayed_ops += n;
        sim_trace(w, nd->id, "batch to %s: %s/%llu..%llu (%zu ops, %zu bytes)", w->node[peer].name,
                  origin, (unsigned long long)w->ops[0].seq, (unsigned long long)last, n,
                  w->frame.len);
    }
    schedule_pump(w, nd);
}

void sim_links_pump_all(sim_world *w, sim_node *nd)
{
    nd->pump_scheduled = false;
    for (int j = 0; j < w->p.n && !w->failed; j++)
        pump_link(w, nd, j);
}

static void dial(sim_world *w, sim_node *nd, int peer)
{
    sim_link *l = &nd->link[peer];
    SIM_ASSERT(l->state == SIM_LINK_DOWN && dials(nd, peer));
    int64_t now = sim_clock_mono_ms(&w->clock, nd->id);
    l->conn = ++w->next_conn;
    l->state = SIM_LINK_HELLO;
    l->opened_ms = l->last_rx_ms = now;
    l->last_batch_rx_ms = 0;
    sync_start(w, nd, peer);
    sim_trace(w, nd->id, "dial %s: conn %u, Hello sent", w->node[peer].name, l->conn);
    send_vv(w, nd, peer, true);
}

static void link_up(sim_world *w, sim_node *nd, int peer, const oplog_vv *theirs)
{
    sim_link *l = &nd->link[peer];
    kassa_err err;
    if (peer_sync_on_vv(&l->sync, theirs, &err) != KASSA_OK) {
        sim_fail(w, "sync-error", "%s: peer_sync_on_vv: %s", nd->name, err.msg);
        return;
    }
    l->state = SIM_LINK_UP;
    l->last_rx_ms = sim_clock_mono_ms(&w->clock, nd->id);
    l->backoff_ms = SIM_RECONNECT_MIN_MS;
    nd->linked_changed = true;
    w->stats.links_up++;
    sim_note(w, nd->id, "link %s conn %u up", w->node[peer].name, l->conn);
    pump_link(w, nd, peer);
}

static void reset_peer(sim_world *w, sim_node *nd, int peer, uint32_t conn, const char *why)
{
    w->stats.resets++;
    sim_trace(w, nd->id, "%s from %s on conn %u it does not have: reset", why, w->node[peer].name,
              conn);
    sim_net_send(w, nd->id, peer, SIM_MSG_RST, conn, NULL, 0);
}

static void on_hello(sim_world *w, sim_node *nd, int peer, uint32_t conn, const wire_frame *f)
{
    sim_link *l = &nd->link[peer];
    wire_hello h;
    kassa_err err;
    if (wire_decode_hello(f->payload, f->payload_len, &h, &err) != KASSA_OK) {
        sim_fail(w, "wire-error", "%s: Hello from %s: %s", nd->name, w->node[peer].name, err.msg);
        return;
    }
    if (strcmp(h.store_id, SIM_STORE_ID) != 0 || strcmp(h.node_id, w->node[peer].name) != 0) {
        sim_fail(w, "wire-error", "%s: Hello from %s names %s/%s", nd->name, w->node[peer].name,
                 h.store_id, h.node_id);
    } else if (l->state != SIM_LINK_DOWN && l->conn == conn) {
        if (l->state == SIM_LINK_HELLO && dials(nd, peer))
            link_up(w, nd, peer, &h.vv); /* the answer to our dial */
        else
            sim_trace(w, nd->id, "Hello from %s on conn %u again: a duplicate, ignored",
                      w->node[peer].name, conn);
    } else if (dials(nd, peer) || conn < l->conn) {
        /* An answer to a dial we gave up, or an old connection's Hello. */
        reset_peer(w, nd, peer, conn, "Hello");
    } else {
        /* A new connection from the dialler replaces an older one (the
         * mesh keeps the newer of two links dialled by the same node). */
        if (l->state != SIM_LINK_DOWN)
            link_close(w, nd, peer, "replaced by a new connection");
        int64_t now = sim_clock_mono_ms(&w->clock, nd->id);
        l->conn = conn;
        l->state = SIM_LINK_HELLO;
        l->opened_ms = now;
        l->last_batch_rx_ms = 0;
        sync_start(w, nd, peer);
        sim_trace(w, nd->id, "accept %s: conn %u, Hello sent", w->node[peer].name, conn);
        send_vv(w, nd, peer, true);
        if (!w->failed)
            link_up(w, nd, peer, &h.vv);
    }
    wire_hello_free(&h);
}

static void on_ack(sim_world *w, sim_node *nd, int peer, const wire_frame *f)
{
    sim_link *l = &nd->link[peer];
    oplog_vv vv;
    oplog_vv_init(&vv);
    kassa_err err;
    int rc = wire_decode_ack(f->payload, f->payload_len, &vv, &w->linked, &err);
    if (rc != KASSA_OK) {
        sim_fail(w, "wire-error", "%s: Ack from %s: %s", nd->name, w->node[peer].name, err.msg);
        return;
    }
    rc = peer_sync_on_vv(&l->sync, &vv, &err);
    if (rc == KASSA_OK) {
        char text[160];
        sim_vv_text(&vv, text, sizeof text);
        sim_trace(w, nd->id, "Ack from %s: vv %s, %zu links", w->node[peer].name, text,
                  w->linked.n);
        /* Whom it hears from decides what we relay to it. */
        peer_sync_on_linked(&l->sync, &w->linked, sim_clock_mono_ms(&w->clock, nd->id));
    } else {
        sim_fail(w, "sync-error", "%s: peer_sync_on_vv: %s", nd->name, err.msg);
    }
    oplog_vv_free(&vv);
    if (!w->failed)
        pump_link(w, nd, peer);
}

/* The injected bug drop-acked: the victim never gets through a link. */
static bool bug_drops(const sim_world *w, const oplog_op *op)
{
    return w->cfg.bug == SIM_BUG_DROP_ACKED && w->work.n_sales > 0 &&
           strcmp(op->origin, w->work.sales[0].ref.origin) == 0 &&
           op->seq == w->work.sales[0].ref.seq;
}

static void on_batch(sim_world *w, sim_node *nd, int peer, const wire_frame *f)
{
    sim_link *l = &nd->link[peer];
    wire_ops b;
    kassa_err err;
    if (wire_decode_ops(SIM_STORE_ID, f->payload, f->payload_len, &b, &err) != KASSA_OK) {
        sim_fail(w, "wire-error", "%s: batch from %s: %s", nd->name, w->node[peer].name, err.msg);
        return;
    }
    /* Relayed operations of an origin we are linked with are dropped: we
     * take those from the origin itself (link.c on_batch). */
    size_t kept = 0, relays_dropped = 0;
    for (size_t i = 0; i < b.n_ops; i++) {
        const char *origin = b.ops[i].origin;
        int o = sim_check_origin_index(w, origin);
        if (o < 0) {
            sim_fail(w, "op-from-nowhere", "%s: batch from %s holds %s/%llu: no such terminal",
                     nd->name, w->node[peer].name, origin, (unsigned long long)b.ops[i].seq);
            wire_ops_free(&b);
            return;
        }
        if (o != peer && sim_link_is_up(nd, o)) {
            relays_dropped++;
        } else if (bug_drops(w, &b.ops[i])) {
            sim_note(w, nd->id, "INJECTED BUG drop-acked: %s/%llu from %s dropped", origin,
                     (unsigned long long)b.ops[i].seq, w->node[peer].name);
        } else {
            b.ops[kept++] = b.ops[i];
        }
    }
    term_import_report rep;
    memset(&rep, 0, sizeof rep);
    int rc = kept ? term_import_ops(nd->t, b.ops, kept, &rep, &err) : KASSA_OK;
    char first[48] = "-";
    if (b.n_ops)
        snprintf(first, sizeof first, "%s/%llu..%llu", b.ops[0].origin,
                 (unsigned long long)b.ops[0].seq, (unsigned long long)b.ops[b.n_ops - 1].seq);
    wire_ops_free(&b);
    sim_node_dirty(nd);
    if (rc != KASSA_OK) {
        sim_fail(w, "import-refused", "%s: batch %s from %s refused: %s", nd->name, first,
                 w->node[peer].name, err.msg);
        return;
    }
    if (rep.dropped) {
        sim_fail(w, "import-refused", "%s: batch %s from %s dropped %zu pending ops", nd->name,
                 first, w->node[peer].name, rep.dropped);
        return;
    }
    l->ops_received += rep.applied;
    w->stats.relays_ignored += relays_dropped;
    w->stats.pending_imports += rep.pending > 0;
    w->stats.hlc_clamps += rep.skew_reports;
    sim_trace(w, nd->id,
              "batch from %s: %s, applied %zu dup %zu pending %zu relays-ignored %zu skew %llu",
              w->node[peer].name, first, rep.applied, rep.duplicates, rep.pending, relays_dropped,
              (unsigned long long)rep.skew_reports);
    send_vv(w, nd, peer, false);
}

void sim_link_receive(sim_world *w, sim_node *nd, int from, int kind, uint32_t conn,
                      const uint8_t *data, size_t len)
{
    SIM_ASSERT(nd->up && from >= 0 && from < w->p.n && from != nd->id);
    sim_link *l = &nd->link[from];
    if (kind == SIM_MSG_RST) {
        if (l->state != SIM_LINK_DOWN && l->conn == conn)
            link_close(w, nd, from, "reset by the peer");
        return;
    }
    SIM_ASSERT(kind == SIM_MSG_PEER);
    wire_frame f;
    size_t used = 0;
    kassa_err err;
    int rc = wire_frame_parse(data, len, &f, &used, &err);
    if (rc != KASSA_OK || used != len) {
        sim_fail(w, "wire-error", "%s: frame from %s: %s", nd->name, w->node[from].name,
                 rc == KASSA_OK ? "trailing bytes" : err.msg);
        return;
    }
    if (f.type == WIRE_HELLO) {
        on_hello(w, nd, from, conn, &f);
        return;
    }
    if (l->state != SIM_LINK_UP || l->conn != conn) {
        if (l->state == SIM_LINK_HELLO && l->conn == conn) {
            w->stats.early_frames++;
            sim_trace(w, nd->id, "frame %u from %s overtook its Hello: dropped", f.type,
                      w->node[from].name);
        } else {
            reset_peer(w, nd, from, conn, "frame");
        }
        return;
    }
    l->last_rx_ms = sim_clock_mono_ms(&w->clock, nd->id);
    switch (f.type) {
    case WIRE_ACK:
        on_ack(w, nd, from, &f);
        break;
    case WIRE_OPS_BATCH:
        l->last_batch_rx_ms = l->last_rx_ms;
        on_batch(w, nd, from, &f);
        break;
    case WIRE_RAFT:
        sim_raft_step(nd->raft, from, f.payload, f.payload_len);
        sim_raft_drain(w, nd);
        break;
    default:
        break; /* heartbeat: any frame shows the peer is alive */
    }
}

/* peer_link_round: Ack (the heartbeat), timeouts, the stall repair. */
static void link_round(sim_world *w, sim_node *nd, int peer)
{
    sim_link *l = &nd->link[peer];
    int64_t now = sim_clock_mono_ms(&w->clock, nd->id);
    if (l->state == SIM_LINK_DOWN)
        return;
    if (l->state != SIM_LINK_UP) {
        if (now - l->opened_ms > SIM_IDLE_TIMEOUT_MS)
            link_close(w, nd, peer, "handshake timed out");
        return;
    }
    if (now - l->last_rx_ms > SIM_IDLE_TIMEOUT_MS) {
        link_close(w, nd, peer, "no frame within the idle timeout");
        return;
    }
    send_vv(w, nd, peer, false);
    if (w->failed)
        return;
    /* The output is always empty here (a frame leaves at once), so quiet
     * means: the peer has not been streaming batches to us lately. */
    bool idle = now - l->last_batch_rx_ms > (int64_t)PEER_SYNC_STALL_ROUNDS * SIM_ANTI_ENTROPY_MS;
    size_t rewound = peer_sync_round(&l->sync, sim_node_vv(w, nd), idle, now);
    w->stats.repairs += rewound;
    if (rewound)
        sim_note(w, nd->id, "repair: %zu origins rewound for %s", rewound, w->node[peer].name);
    pump_link(w, nd, peer);
}

void sim_links_tick(sim_world *w, sim_node *nd)
{
    int64_t now = sim_clock_mono_ms(&w->clock, nd->id);
    for (int j = 0; j < w->p.n && !w->failed; j++) {
        sim_link *l = &nd->link[j];
        if (j != nd->id && dials(nd, j) && l->state == SIM_LINK_DOWN && now >= l->next_dial_ms)
            dial(w, nd, j);
    }
    if (now < nd->next_round_ms)
        return;
    nd->next_round_ms = now + SIM_ANTI_ENTROPY_MS;
    for (int j = 0; j < w->p.n && !w->failed; j++)
        if (j != nd->id)
            link_round(w, nd, j);
}

void sim_links_flush(sim_world *w, sim_node *nd)
{
    if (!nd->up || w->failed)
        return;
    if (nd->linked_changed) {
        /* Every peer learns whom we hear from now, so relays adjust at
         * once (mesh.c links_changed). */
        nd->linked_changed = false;
        for (int j = 0; j < w->p.n && !w->failed; j++)
            if (nd->link[j].state == SIM_LINK_UP)
                send_vv(w, nd, j, false);
        nd->pump_due = true;
    }
    if (nd->pump_due && !w->failed) {
        nd->pump_due = false;
        sim_links_pump_all(w, nd);
    }
}

bool sim_link_send_raft(sim_world *w, sim_node *nd, int peer, const uint8_t *msg, size_t len)
{
    if (nd->link[peer].state != SIM_LINK_UP)
        return false;
    kbuf_reset(&w->frame);
    kassa_err err;
    if (wire_frame_put(&w->frame, WIRE_RAFT, msg, len, &err) != KASSA_OK) {
        sim_fail(w, "wire-error", "%s: Raft frame of %zu bytes: %s", nd->name, len, err.msg);
        return false;
    }
    send_frame(w, nd, peer);
    return true;
}
