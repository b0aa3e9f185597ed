/* sim_cloud.c: the simulated cloud service, a sink (sim_cloud.h). */
#include "sim.h"

#include <string.h>

void sim_cloud_reset(sim_cloud *c)
{
    c->n_recs = 0;
    memset(c->head, 0, sizeof c->head);
    memset(&c->stats, 0, sizeof c->stats);
    c->bug_fired = false;
}

static void store_rec(sim_cloud *c, int origin, const oplog_op *op)
{
    SIM_ASSERT(c->n_recs < SIM_CLOUD_RECS_MAX);
    sim_cloud_rec *r = &c->recs[c->n_recs++];
    r->origin = (uint8_t)origin;
    r->seq = op->seq;
    memcpy(r->hash, op->hash, OPLOG_HASH_SIZE);
}

/* The hash the cloud stored for (origin, seq <= head): its own rows. */
static const uint8_t *stored_hash(const sim_cloud *c, int origin, uint64_t seq)
{
    for (size_t i = 0; i < c->n_recs; i++)
        if (c->recs[i].origin == origin && c->recs[i].seq == seq)
            return c->recs[i].hash;
    return NULL;
}

typedef struct ingest_count {
    size_t stored, duplicates, gaps;
} ingest_count;

static void ingest(sim_world *w, const oplog_op *op, ingest_count *n)
{
    sim_cloud *c = &w->cloud;
    int o = sim_check_origin_index(w, op->origin);
    if (o < 0) {
        sim_fail(w, "op-from-nowhere", "cloud: upload holds %s/%llu: no such terminal", op->origin,
                 (unsigned long long)op->seq);
        return;
    }
    sim_cloud_head *h = &c->head[o];
    if (op->seq <= h->seq) {
        /* Idempotent by (origin, seq): a duplicate must be the same op. */
        const uint8_t *have = stored_hash(c, o, op->seq);
        SIM_ASSERT(have);
        if (memcmp(have, op->hash, OPLOG_HASH_SIZE) != 0)
            sim_fail(w, "cloud-op-changed", "cloud: %s/%llu uploaded again with another hash",
                     op->origin, (unsigned long long)op->seq);
        n->duplicates++;
        return;
    }
    if (op->seq != h->seq + 1) {
        n->gaps++; /* sent again from the watermark */
        return;
    }
    if (!oplog_hash_ok(SIM_STORE_ID, h->hash, op)) {
        sim_fail(w, "cloud-chain-broken", "cloud: %s/%llu does not continue the chain at %llu",
                 op->origin, (unsigned long long)op->seq, (unsigned long long)h->seq);
        return;
    }
    SIM_ASSERT(op->seq <= SIM_OPS_PER_ORIGIN_MAX);
    store_rec(c, o, op);
    h->seq = op->seq;
    memcpy(h->hash, op->hash, OPLOG_HASH_SIZE);
    n->stored++;
    if (w->cfg.bug == SIM_BUG_CLOUD_DUP && !c->bug_fired) {
        /* The injected bug: deduplication skipped once. */
        c->bug_fired = true;
        store_rec(c, o, op);
        sim_note(w, SIM_EP_CLOUD, "INJECTED BUG cloud-dup: %s/%llu stored twice", op->origin,
                 (unsigned long long)op->seq);
    }
}

static void reply(sim_world *w, int to, uint32_t upload)
{
    sim_cloud *c = &w->cloud;
    oplog_vv vv;
    oplog_vv_init(&vv);
    kassa_err err;
    for (int o = 0; o < w->p.n; o++) {
        if (c->head[o].seq &&
            oplog_vv_set(&vv, w->node[o].name, c->head[o].seq, &err) != KASSA_OK) {
            sim_fail(w, "cloud-error", "cloud: vv: %s", err.msg);
            oplog_vv_free(&vv);
            return;
        }
    }
    kbuf_reset(&w->frame);
    int rc = wire_encode_ack(&w->frame, &vv, NULL, &err);
    oplog_vv_free(&vv);
    if (rc != KASSA_OK) {
        sim_fail(w, "wire-error", "cloud: encoding its Ack: %s", err.msg);
        return;
    }
    sim_net_send(w, SIM_EP_CLOUD, to, SIM_MSG_CLOUD_ACK, upload, w->frame.data, w->frame.len);
}

void sim_cloud_receive(sim_world *w, int from, int kind, uint32_t upload, const uint8_t *data,
                       size_t len)
{
    sim_cloud *c = &w->cloud;
    SIM_ASSERT(from >= 0 && from < w->p.n);
    if (kind == SIM_MSG_CLOUD_PROBE) {
        c->stats.probes++;
        sim_trace(w, SIM_EP_CLOUD, "probe #%u from %s", upload, w->node[from].name);
        reply(w, from, upload);
        return;
    }
    SIM_ASSERT(kind == SIM_MSG_CLOUD_UP);
    c->stats.uploads++;
    wire_frame f;
    size_t used = 0;
    kassa_err err;
    int rc = wire_frame_parse(data, len, &f, &used, &err);
    if (rc != KASSA_OK || used != len || f.type != WIRE_OPS_BATCH) {
        sim_fail(w, "wire-error", "cloud: upload #%u from %s is no batch frame", upload,
                 w->node[from].name);
        return;
    }
    wire_ops b;
    if (wire_decode_ops(SIM_STORE_ID, f.payload, f.payload_len, &b, &err) != KASSA_OK) {
        sim_fail(w, "wire-error", "cloud: upload #%u from %s: %s", upload, w->node[from].name,
                 err.msg);
        return;
    }
    ingest_count n = {0};
    for (size_t i = 0; i < b.n_ops && !w->failed; i++)
        ingest(w, &b.ops[i], &n);
    c->stats.stored += n.stored;
    c->stats.duplicates += n.duplicates;
    c->stats.gaps += n.gaps;
    if (b.n_ops)
        sim_trace(w, SIM_EP_CLOUD, "upload #%u from %s: %s/%llu..%llu, stored %zu dup %zu gap %zu",
                  upload, w->node[from].name, b.ops[0].origin, (unsigned long long)b.ops[0].seq,
                  (unsigned long long)b.ops[b.n_ops - 1].seq, n.stored, n.duplicates, n.gaps);
    wire_ops_free(&b);
    if (!w->failed)
        reply(w, from, upload);
}
