/* sim_check.c: the invariant checker (sim_check.h). */
#include "sim.h"
#include "sim_raft.h"

#include <stdlib.h>
#include <string.h>

void sim_check_reset(sim_check *c)
{
    memset(c, 0, sizeof *c);
}

int sim_check_origin_index(const sim_world *w, const char *origin)
{
    if (origin[0] != 'T' || origin[1] < '1' || origin[1] > '9' || origin[2] != 0)
        return -1;
    int k = origin[1] - '1';
    return k < w->p.n ? k : -1;
}

/* Reads origin's operations on nd from seq 1 on and compares their hashes
 * with the acknowledged ones, up to upto. False (seed failed) on a
 * mismatch. */
static bool ops_match(sim_world *w, sim_node *nd, int o, uint64_t upto, const char *invariant)
{
    const sim_acked *a = &w->check.acked[o];
    SIM_ASSERT(upto <= a->n);
    uint64_t after = 0;
    /* Each pass reads at least one op (or fails): at most upto passes. */
    for (uint64_t pass = 0; after < upto; pass++) {
        SIM_ASSERT(pass < upto);
        size_t n = 0;
        kassa_err err;
        if (term_ops_read(nd->t, w->node[o].name, after, SIM_BATCH_OPS_MAX,
                          SIM_BATCH_PAYLOAD_MAX_BYTES, w->ops, &w->payloads, &n,
                          &err) != KASSA_OK) {
            sim_fail(w, "term-error", "%s: term_ops_read %s: %s", nd->name, w->node[o].name,
                     err.msg);
            return false;
        }
        if (n == 0) {
            sim_fail(w, invariant, "%s holds %s only up to %llu, %llu were acknowledged", nd->name,
                     w->node[o].name, (unsigned long long)after, (unsigned long long)upto);
            return false;
        }
        for (size_t i = 0; i < n && after < upto; i++) {
            const oplog_op *op = &w->ops[i];
            if (op->seq != after + 1 ||
                memcmp(op->hash, a->hash[op->seq - 1], OPLOG_HASH_SIZE) != 0) {
                sim_fail(w, "op-changed",
                         "%s holds %s/%llu with another hash than the acknowledged op "
                         "(or out of order after %llu)",
                         nd->name, op->origin, (unsigned long long)op->seq,
                         (unsigned long long)after);
                return false;
            }
            after = op->seq;
        }
    }
    return true;
}

void sim_check_acked(sim_world *w, sim_node *nd)
{
    sim_acked *a = &w->check.acked[nd->id];
    /* Each pass records at least one op: bounded by the table. */
    for (int pass = 0; pass <= SIM_OPS_PER_ORIGIN_MAX; pass++) {
        size_t n = 0;
        kassa_err err;
        if (term_ops_read(nd->t, nd->name, a->n, SIM_BATCH_OPS_MAX, SIM_BATCH_PAYLOAD_MAX_BYTES,
                          w->ops, &w->payloads, &n, &err) != KASSA_OK) {
            sim_fail(w, "term-error", "%s: term_ops_read: %s", nd->name, err.msg);
            return;
        }
        if (n == 0)
            return;
        for (size_t i = 0; i < n; i++) {
            if (w->ops[i].seq != a->n + 1) {
                sim_fail(w, "op-changed", "%s's own log goes from %llu to %llu", nd->name,
                         (unsigned long long)a->n, (unsigned long long)w->ops[i].seq);
                return;
            }
            SIM_ASSERT(a->n < SIM_OPS_PER_ORIGIN_MAX); /* the workload is sized far below */
            memcpy(a->hash[a->n], w->ops[i].hash, OPLOG_HASH_SIZE);
            a->n++;
        }
    }
    SIM_ASSERT(!"more passes than operations");
}

/* The node's vv never goes back and holds nothing unacknowledged. */
static void check_vv(sim_world *w, sim_node *nd)
{
    sim_check *c = &w->check;
    const oplog_vv *vv = sim_node_vv(w, nd);
    if (w->failed)
        return;
    for (size_t i = 0; i < vv->n; i++) {
        if (sim_check_origin_index(w, vv->e[i].origin) < 0) {
            sim_fail(w, "op-from-nowhere", "%s holds ops of %s, no terminal of the store", nd->name,
                     vv->e[i].origin);
            return;
        }
    }
    for (int o = 0; o < w->p.n; o++) {
        uint64_t have = oplog_vv_get(vv, w->node[o].name);
        if (have < c->seen[nd->id][o]) {
            sim_fail(w, "vv-went-back", "%s holds %s up to %llu, it held up to %llu before",
                     nd->name, w->node[o].name, (unsigned long long)have,
                     (unsigned long long)c->seen[nd->id][o]);
            return;
        }
        if (have > c->acked[o].n) {
            sim_fail(w, "op-from-nowhere", "%s holds %s up to %llu, %s acknowledged %llu", nd->name,
                     w->node[o].name, (unsigned long long)have, w->node[o].name,
                     (unsigned long long)c->acked[o].n);
            return;
        }
        c->seen[nd->id][o] = have;
    }
}

/* A committed watermark record ("T1:5 T2:3", sim_uploader.c) never claims
 * more than the cloud holds: it is what the cloud acknowledged, and the
 * cloud never forgets. */
static void check_watermark(sim_world *w, int node, const sim_raft_committed *e)
{
    char text[SIM_WATERMARK_MAX + 1];
    if (e->len == 0 || e->len > SIM_WATERMARK_MAX) {
        sim_fail(w, "committed-record-bad", "%s committed record %llu of %zu bytes",
                 w->node[node].name, (unsigned long long)e->index, e->len);
        return;
    }
    memcpy(text, e->data, e->len);
    text[e->len] = 0;
    if (strcmp(text, "{}") == 0)
        return;
    const char *p = text;
    /* One origin per pass, at most SIM_NODES_MAX of them. */
    for (int k = 0; k < SIM_NODES_MAX && *p; k++) {
        char origin[4] = {0};
        char *end;
        if (p[0] != 'T' || p[1] < '1' || p[1] > '9' || p[2] != ':')
            break;
        origin[0] = p[0];
        origin[1] = p[1];
        unsigned long long seq = strtoull(p + 3, &end, 10);
        int o = sim_check_origin_index(w, origin);
        if (end == p + 3 || o < 0)
            break;
        if (seq > w->cloud.head[o].seq) {
            sim_fail(w, "committed-record-bad",
                     "%s committed the watermark %s at %llu: the cloud holds %s only up to %llu",
                     w->node[node].name, text, (unsigned long long)e->index, origin,
                     (unsigned long long)w->cloud.head[o].seq);
            return;
        }
        p = *end == ' ' ? end + 1 : end;
    }
    if (*p)
        sim_fail(w, "committed-record-bad", "%s committed record %llu: \"%s\" is no watermark",
                 w->node[node].name, (unsigned long long)e->index, text);
}

/* Compares a committed entry with what was committed at its index before
 * (recording it if it is the first). */
static void check_committed(sim_world *w, int node, const sim_raft_committed *e, const char *when)
{
    sim_check *c = &w->check;
    SIM_ASSERT(e->index >= 1 && e->index < SIM_RAFT_INDEX_MAX);
    sim_raft_log_rec *r = &c->log[e->index];
    if (!r->set) {
        r->set = true;
        r->term = e->term;
        memcpy(r->digest, e->digest, sizeof r->digest);
        w->stats.raft_entries++;
        if (e->type == 1) { /* RAFT_ENTRY_NORMAL: a watermark record */
            w->stats.raft_records++;
            check_watermark(w, node, e);
        }
    } else if (r->term != e->term || memcmp(r->digest, e->digest, sizeof r->digest) != 0) {
        sim_fail(w, "committed-entry-changed",
                 "%s %s entry %llu of term %llu; entry %llu was committed before with term %llu "
                 "or other data",
                 w->node[node].name, when, (unsigned long long)e->index,
                 (unsigned long long)e->term, (unsigned long long)e->index,
                 (unsigned long long)r->term);
    }
}

/* A restarted member: its persisted commit index is no lower than the one
 * it reported before (a ready reports only what it persisted), and its
 * log holds every entry up to it, each as committed. */
static void check_raft_restored(sim_world *w, sim_node *nd)
{
    sim_check *c = &w->check;
    static sim_raft_committed log[SIM_RAFT_COMMITTED_MAX];
    uint64_t commit;
    size_t n = sim_raft_restored(nd->raft, &commit, log, KASSA_ARRAY_LEN(log));
    if (commit < c->commit_of[nd->id]) {
        sim_fail(w, "committed-entry-lost",
                 "%s restarted with commit index %llu, it reported %llu before the crash", nd->name,
                 (unsigned long long)commit, (unsigned long long)c->commit_of[nd->id]);
        return;
    }
    for (size_t i = 0; i < n && !w->failed; i++) {
        if (log[i].index != i + 1) {
            sim_fail(w, "committed-entry-lost",
                     "%s restarted with a log that goes from %zu to %llu (commit index %llu)",
                     nd->name, i, (unsigned long long)log[i].index, (unsigned long long)commit);
            return;
        }
        check_committed(w, nd->id, &log[i], "restarted holding");
    }
    if (!w->failed && n != commit)
        sim_fail(w, "committed-entry-lost",
                 "%s restarted with commit index %llu but its log only up to %zu", nd->name,
                 (unsigned long long)commit, n);
    c->commit_of[nd->id] = commit;
}

void sim_check_restart(sim_world *w, sim_node *nd)
{
    sim_check *c = &w->check;
    c->stats.restarts_checked++;
    const oplog_vv *vv = sim_node_vv(w, nd);
    if (w->failed)
        return;
    uint64_t own = oplog_vv_get(vv, nd->name);
    uint64_t acked = c->acked[nd->id].n;
    if (own < acked) {
        sim_fail(w, "acked-lost-on-restart",
                 "%s restarted holding its own ops up to %llu, it acknowledged %llu before the "
                 "crash (synchronous=FULL: nothing acknowledged may be lost)",
                 nd->name, (unsigned long long)own, (unsigned long long)acked);
        return;
    }
    if (!ops_match(w, nd, nd->id, acked, "acked-lost-on-restart"))
        return;
    check_vv(w, nd);
    if (!w->failed && sim_raft_present())
        check_raft_restored(w, nd);
    if (!w->failed)
        sim_note(w, nd->id, "restart check: %llu own ops acknowledged, all there",
                 (unsigned long long)acked);
}

static bool vv_equal(const oplog_vv *a, const oplog_vv *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->e[i].seq != b->e[i].seq || strcmp(a->e[i].origin, b->e[i].origin) != 0)
            return false;
    return true;
}

static void hex8(const uint8_t *h, char out[17])
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Live nodes with equal vvs have equal state hashes. */
static void check_hashes(sim_world *w)
{
    for (int i = 0; i < w->p.n && !w->failed; i++) {
        sim_node *a = &w->node[i];
        if (!a->up)
            continue;
        for (int j = i + 1; j < w->p.n && !w->failed; j++) {
            sim_node *b = &w->node[j];
            if (!b->up || !vv_equal(sim_node_vv(w, a), sim_node_vv(w, b)))
                continue;
            w->check.stats.hash_compares++;
            const uint8_t *ha = sim_node_state_hash(w, a);
            const uint8_t *hb = sim_node_state_hash(w, b);
            if (!w->failed && memcmp(ha, hb, 32) != 0) {
                char va[200], xa[17], xb[17];
                sim_vv_text(&a->vv, va, sizeof va);
                hex8(ha, xa);
                hex8(hb, xb);
                sim_fail(w, "replicas-diverge",
                         "%s and %s hold the same operations (vv %s) but their state hashes "
                         "differ: %s... vs %s...",
                         a->name, b->name, va, xa, xb);
            }
        }
    }
}

/* New cloud records: acknowledged, unchanged, each (origin, seq) once. */
static void check_cloud_scan(sim_world *w)
{
    sim_check *c = &w->check;
    const sim_cloud *cl = &w->cloud;
    SIM_ASSERT(c->cloud_scanned <= cl->n_recs);
    for (; c->cloud_scanned < cl->n_recs && !w->failed; c->cloud_scanned++) {
        const sim_cloud_rec *r = &cl->recs[c->cloud_scanned];
        SIM_ASSERT(r->origin < w->p.n && r->seq >= 1 && r->seq <= SIM_OPS_PER_ORIGIN_MAX);
        const char *name = w->node[r->origin].name;
        c->stats.cloud_recs_checked++;
        if (r->seq > c->acked[r->origin].n)
            sim_fail(w, "op-from-nowhere", "the cloud holds %s/%llu, never acknowledged", name,
                     (unsigned long long)r->seq);
        else if (memcmp(r->hash, c->acked[r->origin].hash[r->seq - 1], OPLOG_HASH_SIZE) != 0)
            sim_fail(w, "cloud-op-changed", "the cloud holds %s/%llu with another hash", name,
                     (unsigned long long)r->seq);
        else if (++c->cloud_count[r->origin][r->seq] > 1)
            sim_fail(w, "cloud-duplicate",
                     "the cloud holds %s/%llu %u times (record %zu): each operation must be "
                     "there exactly once",
                     name, (unsigned long long)r->seq, c->cloud_count[r->origin][r->seq],
                     c->cloud_scanned);
    }
}

int sim_check_store_leader(const sim_world *w)
{
    for (int l = 0; l < w->p.n; l++) {
        const sim_node *ld = &w->node[l];
        if (!ld->up || !ld->raft_leader)
            continue;
        int followers = 1;
        for (int i = 0; i < w->p.n; i++) {
            const sim_node *nd = &w->node[i];
            followers += i != l && nd->up && nd->raft_term == ld->raft_term &&
                         nd->raft_follows == l && !nd->raft_leader;
        }
        if (2 * followers > w->p.n)
            return l;
    }
    return -1;
}

void sim_check_periodic(sim_world *w)
{
    sim_check *c = &w->check;
    c->stats.rounds++;
    for (int i = 0; i < w->p.n && !w->failed; i++)
        if (w->node[i].up)
            check_vv(w, &w->node[i]);
    check_hashes(w);
    check_cloud_scan(w);
    if (w->failed || !sim_raft_present() || w->phase != SIM_PHASE_FINAL || c->leader_since_heal)
        return;
    int l = sim_check_store_leader(w);
    if (l >= 0) {
        c->leader_since_heal = true;
        uint64_t ms = (w->clock.now_us - c->healed_at_us) / 1000;
        if (ms > w->stats.raft_leader_ms_max)
            w->stats.raft_leader_ms_max = ms;
        sim_note(w, l, "Raft: leads term %llu with a majority following, %llu ms after the heal",
                 (unsigned long long)w->node[l].raft_term, (unsigned long long)ms);
    } else if (w->clock.now_us > c->healed_at_us + (uint64_t)SIM_RAFT_LEADER_BOUND_MS * 1000) {
        sim_fail(w, "no-leader-after-heal",
                 "no leader followed by a majority %d ms after the network healed",
                 SIM_RAFT_LEADER_BOUND_MS);
    }
}

void sim_check_raft(sim_world *w, int node, const sim_raft_ready *rd)
{
    sim_check *c = &w->check;
    if (rd->leader) {
        SIM_ASSERT(rd->term < SIM_RAFT_TERMS_MAX);
        uint8_t *who = &c->leader_of[rd->term];
        if (*who == 0) {
            *who = (uint8_t)(node + 1);
            sim_trace(w, node, "Raft: leader in term %llu", (unsigned long long)rd->term);
            w->stats.raft_leaders++;
        } else if (*who != node + 1) {
            sim_fail(w, "two-leaders-in-term", "%s and %s both lead term %llu",
                     w->node[*who - 1].name, w->node[node].name, (unsigned long long)rd->term);
            return;
        }
    }
    if (rd->commit_index < c->commit_of[node]) {
        sim_fail(w, "committed-entry-lost", "%s's commit index went back from %llu to %llu",
                 w->node[node].name, (unsigned long long)c->commit_of[node],
                 (unsigned long long)rd->commit_index);
        return;
    }
    c->commit_of[node] = rd->commit_index;
    if (rd->commit_index > c->max_commit)
        c->max_commit = rd->commit_index;
    SIM_ASSERT(rd->n_committed <= SIM_RAFT_COMMITTED_MAX);
    for (size_t i = 0; i < rd->n_committed && !w->failed; i++)
        check_committed(w, node, &rd->committed[i], "committed");
}

bool sim_check_converged(sim_world *w)
{
    const sim_check *c = &w->check;
    for (int o = 0; o < w->p.n; o++)
        if (w->cloud.head[o].seq != c->acked[o].n)
            return false;
    for (int i = 0; i < w->p.n; i++) {
        sim_node *nd = &w->node[i];
        if (!nd->up)
            return false;
        const oplog_vv *vv = sim_node_vv(w, nd);
        if (w->failed)
            return false;
        size_t origins = 0;
        for (int o = 0; o < w->p.n; o++) {
            if (oplog_vv_get(vv, w->node[o].name) != c->acked[o].n)
                return false;
            origins += c->acked[o].n > 0;
        }
        if (vv->n != origins)
            return false;
    }
    if (sim_raft_present()) {
        /* A leader the store follows, and every commit index caught up. */
        if (sim_check_store_leader(w) < 0)
            return false;
        for (int i = 0; i < w->p.n; i++)
            if (c->commit_of[i] != c->max_commit)
                return false;
    }
    return true;
}

void sim_check_final(sim_world *w)
{
    sim_check *c = &w->check;
    check_cloud_scan(w);
    for (int i = 0; i < w->p.n && !w->failed; i++) {
        sim_node *nd = &w->node[i];
        if (!nd->up) {
            sim_fail(w, "no-convergence", "%s is still down at the end", nd->name);
            return;
        }
        check_vv(w, nd);
        const oplog_vv *vv = sim_node_vv(w, nd);
        for (int o = 0; o < w->p.n && !w->failed; o++) {
            uint64_t have = oplog_vv_get(vv, w->node[o].name);
            if (have < c->acked[o].n) {
                term_status st = {0};
                kassa_err err;
                (void)term_status_get(nd->t, &st, &err);
                sim_fail(w, "acked-not-replicated",
                         "%s lacks %s/%llu..%llu, acknowledged by %s, after the network healed "
                         "and quiesced (%zu ops wait in its pending queue)",
                         nd->name, w->node[o].name, (unsigned long long)have + 1,
                         (unsigned long long)c->acked[o].n, w->node[o].name, st.pending);
                return;
            }
            ops_match(w, nd, o, c->acked[o].n, "acked-not-replicated");
        }
        term_status st;
        term_verify_report rep;
        kassa_err err;
        if (w->failed)
            return;
        if (term_status_get(nd->t, &st, &err) != KASSA_OK ||
            term_log_verify(nd->t, &rep, &err) != KASSA_OK) {
            sim_fail(w, "term-error", "%s: status or verify: %s", nd->name, err.msg);
            return;
        }
        if (st.pending) {
            sim_fail(w, "pending-left", "%s still holds %zu pending ops at the end", nd->name,
                     st.pending);
            return;
        }
        if (!rep.ok) {
            sim_fail(w, "log-verify", "%s: log verify fails at %s: %s", nd->name, rep.first_bad,
                     rep.reason);
            return;
        }
    }
    for (int i = 1; i < w->p.n && !w->failed; i++) {
        const uint8_t *h0 = sim_node_state_hash(w, &w->node[0]);
        const uint8_t *hi = sim_node_state_hash(w, &w->node[i]);
        if (!w->failed && memcmp(h0, hi, 32) != 0)
            sim_fail(w, "replicas-diverge", "%s and %s hold every operation but differ in state",
                     w->node[0].name, w->node[i].name);
    }
    for (int o = 0; o < w->p.n && !w->failed; o++) {
        for (uint64_t s = 1; s <= c->acked[o].n && !w->failed; s++) {
            if (c->cloud_count[o][s] != 1)
                sim_fail(w, c->cloud_count[o][s] ? "cloud-duplicate" : "cloud-missing",
                         "the cloud holds %s/%llu %u times after the final phase, not once",
                         w->node[o].name, (unsigned long long)s, c->cloud_count[o][s]);
        }
    }
    if (w->failed || !sim_raft_present())
        return;
    if (!c->leader_since_heal)
        sim_fail(w, "no-leader-after-heal", "no leader after the network healed");
    for (int i = 0; i < w->p.n && !w->failed; i++)
        if (c->commit_of[i] < c->max_commit)
            sim_fail(w, "committed-entry-lost",
                     "%s's commit index is %llu at the end, entries up to %llu were committed",
                     w->node[i].name, (unsigned long long)c->commit_of[i],
                     (unsigned long long)c->max_commit);
}
