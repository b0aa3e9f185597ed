/*
 * sim_uploader.c: the store's uploader to the cloud (DESIGN.md §5): one
 * node at a time sends the cloud every operation the cloud lacks, one
 * origin's run per batch (an OpsBatch frame, as on the peer links), one
 * upload in flight, again after a timeout, at once after each Ack while
 * anything is missing, and every SIM_UPLOAD_INTERVAL_MS anyway. It learns
 * the cloud's watermark (its version vector) from the cloud's Acks, and
 * probes for it when it starts uploading; an uploader that dies mid-upload
 * costs at most a re-send, which the cloud ignores as duplicates.
 */
#include "sim.h"
#include "sim_raft.h"

#include <string.h>

/*
 * ======================== THE RAFT SEAM ========================
 * Who uploads. The design makes the Raft leader the uploader, with the
 * cloud watermark committed through its log (propose_watermark). With the
 * Raft core present (sim_raft.c), the uploader is the live node whose
 * member last said it leads, in the highest term (two at once only if "one
 * leader per term" is broken, which the checker reports); without one, the
 * live node with the smallest index, an oracle choice the real store could
 * not make. A new leader still probes the cloud for its watermark rather
 * than reading the committed one: resuming from the log is the next step.
 * ===============================================================
 */
int sim_uploader_pick(sim_world *w)
{
    if (sim_raft_present()) {
        int best = -1;
        for (int i = 0; i < w->p.n; i++) {
            const sim_node *nd = &w->node[i];
            if (nd->up && nd->raft_leader && (best < 0 || nd->raft_term > w->node[best].raft_term))
                best = i;
        }
        return best;
    }
    for (int i = 0; i < w->p.n; i++)
        if (w->node[i].up)
            return i;
    return -1;
}

void sim_uploader_drop(sim_node *nd)
{
    sim_uploader *u = &nd->upl;
    u->active = false;
    u->known = false;
    oplog_vv_free(&u->cloud_vv);
    oplog_vv_init(&u->cloud_vv);
    u->inflight = 0;
    u->inflight_since_ms = 0;
    u->next_ms = 0;
    u->next_origin = 0;
}

static void send_probe(sim_world *w, sim_node *nd, int64_t now)
{
    sim_uploader *u = &nd->upl;
    u->inflight = ++w->next_upload;
    u->inflight_since_ms = now;
    sim_trace(w, nd->id, "probe #%u: what does the cloud hold?", u->inflight);
    sim_net_send(w, nd->id, SIM_EP_CLOUD, SIM_MSG_CLOUD_PROBE, u->inflight, NULL, 0);
}

/* Uploads the next run the cloud lacks, if any. */
static void upload_next(sim_world *w, sim_node *nd)
{
    sim_uploader *u = &nd->upl;
    int64_t now = sim_clock_mono_ms(&w->clock, nd->id);
    SIM_ASSERT(u->active && u->inflight == 0);
    u->next_ms = now + SIM_UPLOAD_INTERVAL_MS;
    if (!u->known) {
        send_probe(w, nd, now);
        return;
    }
    const oplog_vv *ours = sim_node_vv(w, nd);
    if (w->failed || ours->n == 0)
        return;
    /* Round robin over origins, so that a busy one does not starve the
     * others. At most ours->n steps. */
    char origin[KASSA_ID_MAX + 1] = "";
    uint64_t after = 0;
    for (size_t k = 0; k < ours->n; k++) {
        size_t i = ((size_t)u->next_origin + k) % ours->n;
        uint64_t have = oplog_vv_get(&u->cloud_vv, ours->e[i].origin);
        if (ours->e[i].seq > have) {
            snprintf(origin, sizeof origin, "%s", ours->e[i].origin);
            after = have;
            u->next_origin = (int)((i + 1) % ours->n);
            break;
        }
    }
    if (!origin[0])
        return;
    size_t n = 0;
    kassa_err err;
    if (term_ops_read(nd->t, origin, after, w->p.upload_max_ops, SIM_BATCH_PAYLOAD_MAX_BYTES,
                      w->ops, &w->payloads, &n, &err) != KASSA_OK ||
        n == 0) {
        sim_fail(w, "term-error", "%s: reading %s after %llu to upload: %s", nd->name, origin,
                 (unsigned long long)after, n == 0 ? "nothing" : err.msg);
        return;
    }
    /* Halved until it fits a frame. */
    int rc = wire_encode_ops_fit(&w->frame, w->ops, &n, &err);
    if (rc != KASSA_OK) {
        sim_fail(w, "wire-error", "%s: encoding an upload: %s", nd->name, err.msg);
        return;
    }
    u->inflight = ++w->next_upload;
    u->inflight_since_ms = now;
    sim_trace(w, nd->id, "upload #%u: %s/%llu..%llu (%zu ops, %zu bytes)", u->inflight, origin,
              (unsigned long long)w->ops[0].seq, (unsigned long long)w->ops[n - 1].seq, n,
              w->frame.len);
    sim_net_send(w, nd->id, SIM_EP_CLOUD, SIM_MSG_CLOUD_UP, u->inflight, w->frame.data,
                 w->frame.len);
}

void sim_uploader_tick(sim_world *w, sim_node *nd)
{
    sim_uploader *u = &nd->upl;
    if (sim_uploader_pick(w) != nd->id) {
        if (u->active) {
            sim_note(w, nd->id, "no longer the uploader");
            sim_uploader_drop(nd);
        }
        return;
    }
    int64_t now = sim_clock_mono_ms(&w->clock, nd->id);
    if (!u->active) {
        sim_note(w, nd->id, "becomes the uploader");
        u->active = true;
        u->next_ms = now;
        w->stats.uploader_changes++;
    }
    if (u->inflight) {
        if (now - u->inflight_since_ms < SIM_UPLOAD_TIMEOUT_MS)
            return;
        sim_trace(w, nd->id, "upload #%u: no answer, given up", u->inflight);
        u->inflight = 0;
    }
    if (now >= u->next_ms)
        upload_next(w, nd);
}

/* The uploader is the leader: it commits the cloud's watermark, as the
 * cloud acknowledged it, through the Raft log (DESIGN.md §5), as text
 * ("T1:5 T2:3"; sim_check.c reads it back). A refusal (no longer the
 * leader, the log full) only costs the record. */
static void propose_watermark(sim_world *w, sim_node *nd)
{
    char text[SIM_WATERMARK_MAX + 1];
    sim_vv_text(&nd->upl.cloud_vv, text, sizeof text);
    kassa_err err;
    if (sim_raft_propose(nd->raft, (const uint8_t *)text, strlen(text), &err) != KASSA_OK) {
        sim_trace(w, nd->id, "Raft: watermark %s not proposed: %s", text, err.msg);
        return;
    }
    w->stats.raft_proposals++;
    sim_trace(w, nd->id, "Raft: watermark %s proposed", text);
    sim_raft_drain(w, nd);
}

void sim_uploader_receive(sim_world *w, sim_node *nd, uint32_t upload, const uint8_t *data,
                          size_t len)
{
    sim_uploader *u = &nd->upl;
    wire_frame f;
    size_t used = 0;
    kassa_err err;
    int rc = wire_frame_parse(data, len, &f, &used, &err);
    if (rc != KASSA_OK || used != len || f.type != WIRE_ACK) {
        sim_fail(w, "wire-error", "%s: the cloud's answer #%u is no Ack frame", nd->name, upload);
        return;
    }
    oplog_vv vv;
    oplog_vv_init(&vv);
    if (wire_decode_ack(f.payload, f.payload_len, &vv, NULL, &err) != KASSA_OK) {
        sim_fail(w, "wire-error", "%s: the cloud's Ack #%u: %s", nd->name, upload, err.msg);
        return;
    }
    char text[160];
    sim_vv_text(&vv, text, sizeof text);
    if (!u->active) {
        sim_trace(w, nd->id, "cloud Ack #%u (%s): not the uploader now, ignored", upload, text);
        oplog_vv_free(&vv);
        return;
    }
    /* The cloud never forgets: its watermark only grows, whatever order
     * its answers arrive in. */
    bool grew = false;
    for (size_t i = 0; i < vv.n && !w->failed; i++) {
        if (vv.e[i].seq > oplog_vv_get(&u->cloud_vv, vv.e[i].origin)) {
            grew = true;
            if (oplog_vv_set(&u->cloud_vv, vv.e[i].origin, vv.e[i].seq, &err) != KASSA_OK)
                sim_fail(w, "sync-error", "%s: cloud watermark: %s", nd->name, err.msg);
        }
    }
    oplog_vv_free(&vv);
    u->known = true;
    sim_trace(w, nd->id, "cloud Ack #%u: the cloud holds %s", upload, text);
    if (grew && !w->failed)
        propose_watermark(w, nd);
    if (upload == u->inflight) {
        u->inflight = 0;
        if (!w->failed)
            upload_next(w, nd);
    }
}
