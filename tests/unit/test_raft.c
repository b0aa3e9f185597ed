/*
 * Unit and property tests of the Raft core (src/raft) on a tiny in-test
 * network.
 *
 * The network (tnet) runs N raft cores in one process, in simulated
 * milliseconds: each node ticks every TICK_MS at its own phase, messages
 * travel through the real encoder and decoder with a latency drawn from a
 * range, may be dropped, and links can be cut (partitions). After every
 * tick or delivery the node's readies are handled as the embedding would:
 * entries, snapshot and hard state go to the node's simulated storage
 * before its messages are queued, committed entries are applied to a tiny
 * state machine (a hash chain over the entries), and raft_advance follows.
 * Killing a node drops its raft and anything not in storage; restarting
 * builds a new raft from storage alone.
 *
 * Checked all along: at most one leader per term (over all nodes and all
 * time); an index once committed anywhere always holds the same entry; the
 * state machines of any two nodes that applied up to the same index agree.
 *
 * The property test runs 5 nodes for 20 simulated seconds per schedule
 * (seeded): random latencies (1..40 ms), drops (0..10 %), FIFO or
 * reordering links, partitions, kills and restarts from storage, leadership
 * transfers, score changes (preference on in half), membership changes,
 * compaction and snapshots, bursts of proposals; then everything is healed
 * and every removed node added back, and there must be one leader within
 * 3 s and everyone caught up with it within 20 s.
 *
 * Environment: KASSA_RAFT_SEEDS (schedules in the property test, default
 * 300; 60 when KASSA_TEST_SCALE=asan), KASSA_RAFT_SEED (base seed; a
 * failure prints the seed to replay with KASSA_RAFT_SEEDS=1),
 * KASSA_RAFT_TRACE=ms (print every message of the property test from that
 * simulated ms on), KASSA_RAFT_KILLS (leader kills per configuration in
 * the re-election test, default 200).
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

#define NET_MAX 7
#define TICK_MS 10
#define SM_SNAPSHOT_BYTES 1024

/* ---- the state machine ---- */

typedef struct sm_state {
    uint64_t applied;
    uint64_t hash;
    uint64_t normals;
} sm_state;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static uint64_t entry_hash(const raft_entry *e)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    h = fnv(h, &e->type, 1);
    h = fnv(h, &e->term, sizeof e->term);
    return fnv(h, e->data, e->len);
}

static void sm_apply(sm_state *sm, const raft_entry *e)
{
    assert_true(e->index == sm->applied + 1);
    uint64_t eh = entry_hash(e);
    sm->hash = fnv(sm->hash ^ e->index, &eh, sizeof eh);
    sm->applied = e->index;
    if (e->type == RAFT_ENTRY_NORMAL)
        sm->normals++;
}

static size_t sm_snapshot(const sm_state *sm, uint8_t *out)
{
    memcpy(out, sm, sizeof *sm);
    /* Some filler so snapshots are not trivially small. */
    for (size_t i = sizeof *sm; i < SM_SNAPSHOT_BYTES; i++)
        out[i] = (uint8_t)(i * 31 + sm->applied);
    return SM_SNAPSHOT_BYTES;
}

static void sm_restore(sm_state *sm, const uint8_t *p, size_t n)
{
    assert_int_equal(n, SM_SNAPSHOT_BYTES);
    memcpy(sm, p, sizeof *sm);
    for (size_t i = sizeof *sm; i < SM_SNAPSHOT_BYTES; i++)
        assert_int_equal(p[i], (uint8_t)(i * 31 + sm->applied));
}

/* ---- the network ---- */

typedef struct tnode {
    char id[RAFT_ID_SIZE];
    raft *r;
    bool up;
    tu_rng rng;
    uint32_t phase_ms;
    raft_config cfg;
    bool has_score;
    int64_t score;
    /* Storage: what survives a kill. */
    raft_hard_state hs;
    raft_snapshot_meta snap;
    uint8_t *snap_data;
    size_t snap_len;
    raft_entry *log;
    size_t n_log;
    sm_state sm;
    /* Last soft state seen in a ready. */
    raft_role role;
    uint64_t term;
    char leader[RAFT_ID_SIZE];
    uint64_t became_leader_ms;
} tnode;

typedef struct qmsg {
    uint64_t at_ms;
    int from, to;
    size_t len;
    uint8_t *bytes;
} qmsg;

typedef struct committed_slot {
    bool set;
    uint64_t term;
    uint64_t hash;
    uint64_t sm_hash;
} committed_slot;

typedef struct proposal {
    uint64_t index, term, hash;
} proposal;

typedef struct tnet tnet;
/* Returns true to drop a message about to be queued. */
typedef bool (*tnet_filter)(tnet *net, int from, int to, const raft_msg *m);

struct tnet {
    int n;
    tnode nodes[NET_MAX];
    uint64_t now_ms;
    qmsg *q;
    size_t nq, capq;
    bool cut[NET_MAX][NET_MAX];
    tu_rng rng;
    uint32_t lat_min_ms, lat_max_ms;
    int drop_pct;
    /* Messages of one link arrive in order (TCP), unless reorder is set. */
    bool reorder;
    uint64_t link_at_ms[NET_MAX][NET_MAX];
    tnet_filter filter;
    /* Invariants. */
    int *leader_of_term; /* node index + 1, by term */
    size_t cap_terms;
    committed_slot *com;
    size_t cap_com;
    proposal *props;
    size_t n_props, cap_props;
    /* Compaction when a node's log holds more than this (0: never). */
    uint32_t compact_over;
    raft_msg_buf *buf;
    kbuf enc;
    uint64_t msgs_sent, msgs_dropped, bytes_sent, snapshots_sent, compactions;
    uint64_t leader_changes;
    int last_leader;
    uint64_t last_leader_ms;
};

static uint32_t node_rand(void *ctx)
{
    return (uint32_t)(tu_rng_next((tu_rng *)ctx) >> 32);
}

static int net_index(const tnet *net, const char *id)
{
    for (int i = 0; i < net->n; i++)
        if (strcmp(net->nodes[i].id, id) == 0)
            return i;
    return -1;
}

static void check_leader(tnet *net, int i, uint64_t term)
{
    if (term >= net->cap_terms) {
        size_t cap = net->cap_terms ? net->cap_terms : 64;
        while (cap <= term)
            cap *= 2;
        net->leader_of_term = realloc(net->leader_of_term, cap * sizeof(int));
        assert_non_null(net->leader_of_term);
        memset(net->leader_of_term + net->cap_terms, 0, (cap - net->cap_terms) * sizeof(int));
        net->cap_terms = cap;
    }
    int was = net->leader_of_term[term];
    if (was && was != i + 1)
        fail_msg("two leaders in term %llu: %s and %s", (unsigned long long)term,
                 net->nodes[was - 1].id, net->nodes[i].id);
    net->leader_of_term[term] = i + 1;
}

static committed_slot *com_slot(tnet *net, uint64_t index)
{
    if (index >= net->cap_com) {
        size_t cap = net->cap_com ? net->cap_com : 256;
        while (cap <= index)
            cap *= 2;
        net->com = realloc(net->com, cap * sizeof *net->com);
        assert_non_null(net->com);
        memset(net->com + net->cap_com, 0, (cap - net->cap_com) * sizeof *net->com);
        net->cap_com = cap;
    }
    return &net->com[index];
}

static void check_applied(tnet *net, const raft_entry *e, uint64_t sm_hash)
{
    committed_slot *c = com_slot(net, e->index);
    uint64_t h = entry_hash(e);
    if (!c->set) {
        c->set = true;
        c->term = e->term;
        c->hash = h;
        c->sm_hash = sm_hash;
        return;
    }
    if (c->term != e->term || c->hash != h)
        fail_msg("committed entry %llu changed (term %llu, then %llu)",
                 (unsigned long long)e->index, (unsigned long long)c->term,
                 (unsigned long long)e->term);
    if (c->sm_hash != sm_hash)
        fail_msg("state machines differ at %llu", (unsigned long long)e->index);
}

static uint64_t g_trace_from_ms = UINT64_MAX; /* KASSA_RAFT_TRACE=ms */

static void trace_msg(const tnet *net, const char *what, const raft_msg *m)
{
    if (net->now_ms < g_trace_from_ms)
        return;
    print_message("%6llu %s %s %s->%s t%llu lt%llu i%llu c%llu rj%d h%llu n%u\n",
                  (unsigned long long)net->now_ms, what, raft_msg_type_name(m->type), m->from,
                  m->to, (unsigned long long)m->term, (unsigned long long)m->log_term,
                  (unsigned long long)m->index, (unsigned long long)m->commit, m->reject,
                  (unsigned long long)m->reject_hint, m->n_entries);
}

static void net_send(tnet *net, int from, const raft_msg *m)
{
    int to = net_index(net, m->to);
    assert_true(to >= 0);
    kassa_err err;
    kbuf_reset(&net->enc);
    assert_int_equal(raft_msg_encode(m, &net->enc, &err), KASSA_OK);
    net->msgs_sent++;
    net->bytes_sent += net->enc.len;
    trace_msg(net, "send", m);
    if (m->type == RAFT_MSG_SNAPSHOT)
        net->snapshots_sent++;
    if (net->cut[from][to] || (net->filter && net->filter(net, from, to, m)) ||
        (net->drop_pct && tu_rng_chance(&net->rng, net->drop_pct))) {
        net->msgs_dropped++;
        return;
    }
    if (net->nq == net->capq) {
        net->capq = net->capq ? net->capq * 2 : 256;
        net->q = realloc(net->q, net->capq * sizeof *net->q);
        assert_non_null(net->q);
    }
    qmsg *q = &net->q[net->nq++];
    q->at_ms = net->now_ms + (uint64_t)tu_rng_range(&net->rng, net->lat_min_ms, net->lat_max_ms);
    if (!net->reorder) {
        if (q->at_ms < net->link_at_ms[from][to])
            q->at_ms = net->link_at_ms[from][to];
        net->link_at_ms[from][to] = q->at_ms;
    }
    q->from = from;
    q->to = to;
    q->len = net->enc.len;
    q->bytes = malloc(q->len);
    assert_non_null(q->bytes);
    memcpy(q->bytes, net->enc.data, q->len);
}

static void storage_persist(tnode *nd, const raft_ready *rd)
{
    if (rd->has_snapshot) {
        nd->snap = rd->snapshot;
        memcpy(nd->snap_data, rd->snapshot_data, rd->snapshot_len);
        nd->snap_len = rd->snapshot_len;
        nd->n_log = 0;
    }
    if (rd->n_entries) {
        uint64_t first = rd->entries[0].index;
        assert_true(first > nd->snap.index);
        size_t keep = (size_t)(first - nd->snap.index - 1);
        assert_true(keep <= nd->n_log);
        nd->n_log = keep;
        for (size_t k = 0; k < rd->n_entries; k++) {
            assert_true(nd->n_log < RAFT_LOG_MAX);
            assert_true(rd->entries[k].index == nd->snap.index + nd->n_log + 1);
            nd->log[nd->n_log++] = rd->entries[k];
        }
    }
    if (rd->has_hard_state) {
        /* A term never goes back, nor a vote change within a term. */
        assert_true(rd->hard_state.term >= nd->hs.term);
        if (rd->hard_state.term == nd->hs.term && nd->hs.vote[0])
            assert_string_equal(rd->hard_state.vote, nd->hs.vote);
        nd->hs = rd->hard_state;
    }
}

static void node_compact(tnet *net, tnode *nd)
{
    raft_status st;
    raft_status_get(nd->r, &st);
    if (!net->compact_over || st.log_entries <= net->compact_over ||
        st.applied <= st.snapshot_index)
        return;
    uint8_t snap[SM_SNAPSHOT_BYTES];
    assert_true(nd->sm.applied == st.applied);
    size_t len = sm_snapshot(&nd->sm, snap);
    kassa_err err;
    raft_snapshot_meta meta;
    assert_int_equal(raft_compact(nd->r, st.applied, snap, len, &meta, &err), KASSA_OK);
    /* Storage: the snapshot with its meta, then drop the entries it covers. */
    uint64_t upto = st.applied;
    assert_true(meta.index == upto);
    assert_true(upto > nd->snap.index && upto <= nd->snap.index + nd->n_log);
    size_t drop = (size_t)(upto - nd->snap.index);
    assert_true(meta.term == nd->log[drop - 1].term);
    memmove(nd->log, nd->log + drop, (nd->n_log - drop) * sizeof *nd->log);
    nd->n_log -= drop;
    nd->snap = meta;
    memcpy(nd->snap_data, snap, len);
    nd->snap_len = len;
    net->compactions++;
}

static void net_process(tnet *net, int i)
{
    tnode *nd = &net->nodes[i];
    kassa_err err;
    for (int guard = 0; nd->up && raft_has_ready(nd->r); guard++) {
        assert_true(guard < 1000);
        raft_ready rd;
        assert_int_equal(raft_ready_get(nd->r, &rd, &err), KASSA_OK);
        storage_persist(nd, &rd);
        for (size_t k = 0; k < rd.n_msgs; k++)
            net_send(net, i, &rd.msgs[k]);
        if (rd.has_snapshot) {
            sm_restore(&nd->sm, rd.snapshot_data, rd.snapshot_len);
            assert_true(nd->sm.applied == rd.snapshot.index);
        }
        for (size_t k = 0; k < rd.n_committed; k++) {
            sm_apply(&nd->sm, &rd.committed[k]);
            check_applied(net, &rd.committed[k], nd->sm.hash);
        }
        if (rd.soft.role == RAFT_LEADER)
            check_leader(net, i, rd.soft.term);
        if (rd.soft.role == RAFT_LEADER && nd->role != RAFT_LEADER) {
            nd->became_leader_ms = net->now_ms;
            net->leader_changes++;
            net->last_leader = i;
            net->last_leader_ms = net->now_ms;
        }
        nd->role = rd.soft.role;
        nd->term = rd.soft.term;
        memcpy(nd->leader, rd.soft.leader, sizeof nd->leader);
        assert_int_equal(raft_advance(nd->r, &rd, &err), KASSA_OK);
    }
    if (nd->up)
        node_compact(net, nd);
}

static raft_conf conf_of(int n)
{
    raft_conf c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < n; i++)
        snprintf(c.ids[i], sizeof c.ids[i], "n%d", i + 1);
    c.n = (uint32_t)n;
    return c;
}

static void node_start(tnet *net, int i)
{
    tnode *nd = &net->nodes[i];
    assert_false(nd->up);
    raft_restored rs;
    memset(&rs, 0, sizeof rs);
    rs.hard = nd->hs;
    rs.snapshot = nd->snap;
    rs.snapshot_data = nd->snap_data;
    rs.snapshot_len = nd->snap_len;
    rs.entries = nd->log;
    rs.n_entries = nd->n_log;
    rs.applied = nd->sm.applied;
    kassa_err err;
    int rc = raft_new(&nd->cfg, &rs, &nd->r, &err);
    if (rc != KASSA_OK)
        fail_msg("raft_new %s: %s", nd->id, err.msg);
    if (nd->has_score)
        raft_set_score(nd->r, nd->score);
    nd->up = true;
    nd->role = RAFT_FOLLOWER;
    nd->term = nd->hs.term;
    nd->leader[0] = '\0';
}

static void node_kill(tnet *net, int i)
{
    tnode *nd = &net->nodes[i];
    assert_true(nd->up);
    raft_free(nd->r);
    nd->r = NULL;
    nd->up = false;
    nd->role = RAFT_FOLLOWER;
}

/* n nodes n1..nn; the first `founders` know the founding configuration,
 * the others start with an empty one (to be added). Not started. */
static void net_init_cfg(tnet *net, int n, int founders, uint64_t seed, const raft_config *tmpl)
{
    memset(net, 0, sizeof *net);
    assert_true(n <= NET_MAX && founders <= n);
    net->n = n;
    tu_rng_seed(&net->rng, seed);
    net->lat_min_ms = 1;
    net->lat_max_ms = 1;
    net->last_leader = -1;
    net->buf = malloc(sizeof *net->buf);
    assert_non_null(net->buf);
    kbuf_init(&net->enc);
    raft_conf founding = conf_of(founders);
    for (int i = 0; i < n; i++) {
        tnode *nd = &net->nodes[i];
        snprintf(nd->id, sizeof nd->id, "n%d", i + 1);
        tu_rng_seed(&nd->rng, seed * 31 + (uint64_t)i + 1);
        if (tmpl)
            nd->cfg = *tmpl;
        else
            raft_config_default(&nd->cfg);
        memcpy(nd->cfg.id, nd->id, sizeof nd->id);
        nd->cfg.rand = node_rand;
        nd->cfg.rand_ctx = &nd->rng;
        nd->snap_data = malloc(RAFT_SNAPSHOT_MAX);
        nd->log = malloc(RAFT_LOG_MAX * sizeof *nd->log);
        assert_non_null(nd->snap_data);
        assert_non_null(nd->log);
        if (i < founders)
            nd->snap.conf = founding;
    }
}

static void net_init(tnet *net, int n, uint64_t seed)
{
    net_init_cfg(net, n, n, seed, NULL);
}

static void net_start_all(tnet *net)
{
    for (int i = 0; i < net->n; i++)
        if (!net->nodes[i].up)
            node_start(net, i);
}

static void net_free(tnet *net)
{
    for (int i = 0; i < net->n; i++) {
        if (net->nodes[i].up)
            raft_free(net->nodes[i].r);
        free(net->nodes[i].snap_data);
        free(net->nodes[i].log);
    }
    for (size_t k = 0; k < net->nq; k++)
        free(net->q[k].bytes);
    free(net->q);
    free(net->leader_of_term);
    free(net->com);
    free(net->props);
    free(net->buf);
    kbuf_free(&net->enc);
}

static void deliver(tnet *net, const qmsg *q)
{
    tnode *nd = &net->nodes[q->to];
    if (!nd->up || net->cut[q->from][q->to])
        return;
    raft_msg m;
    kassa_err err;
    if (raft_msg_decode(q->bytes, q->len, &m, net->buf, &err) != KASSA_OK)
        fail_msg("decode: %s", err.msg);
    trace_msg(net, "recv", &m);
    int rc = raft_step(nd->r, &m, &err);
    if (rc != KASSA_OK)
        fail_msg("%s step %s from %s: %s", nd->id, raft_msg_type_name(m.type), m.from, err.msg);
    net_process(net, q->to);
}

/* One simulated millisecond: due messages, then ticks. */
static void net_ms(tnet *net)
{
    net->now_ms++;
    size_t k = 0, due_n = 0;
    /* Messages are in send order; deliver the due ones in that order. */
    qmsg *due = NULL;
    for (size_t i = 0; i < net->nq; i++) {
        if (net->q[i].at_ms <= net->now_ms) {
            due_n++;
            continue;
        }
    }
    if (due_n) {
        due = malloc(due_n * sizeof *due);
        assert_non_null(due);
        size_t d = 0;
        for (size_t i = 0; i < net->nq; i++) {
            if (net->q[i].at_ms <= net->now_ms)
                due[d++] = net->q[i];
            else
                net->q[k++] = net->q[i];
        }
        net->nq = k;
        for (size_t i = 0; i < due_n; i++) {
            deliver(net, &due[i]);
            free(due[i].bytes);
        }
        free(due);
    }
    kassa_err err;
    for (int i = 0; i < net->n; i++) {
        tnode *nd = &net->nodes[i];
        if (!nd->up || (net->now_ms + nd->phase_ms) % TICK_MS != 0)
            continue;
        assert_int_equal(raft_tick(nd->r, &err), KASSA_OK);
        net_process(net, i);
    }
}

static void net_run(tnet *net, uint64_t ms)
{
    for (uint64_t i = 0; i < ms; i++)
        net_ms(net);
}

/* The up node that believes it leads at the highest term, or -1. */
static int net_leader(const tnet *net)
{
    int best = -1;
    for (int i = 0; i < net->n; i++) {
        const tnode *nd = &net->nodes[i];
        if (nd->up && nd->role == RAFT_LEADER && (best < 0 || nd->term > net->nodes[best].term))
            best = i;
    }
    return best;
}

static int net_count_leaders(const tnet *net)
{
    int c = 0;
    for (int i = 0; i < net->n; i++)
        c += net->nodes[i].up && net->nodes[i].role == RAFT_LEADER;
    return c;
}

/* Runs until some up node leads; returns the ms it took, or fails after
 * max_ms. */
static uint64_t net_wait_leader(tnet *net, uint64_t max_ms)
{
    uint64_t t0 = net->now_ms;
    while (net->now_ms - t0 <= max_ms) {
        if (net_leader(net) >= 0)
            return net->now_ms - t0;
        net_ms(net);
    }
    fail_msg("no leader within %llu ms", (unsigned long long)max_ms);
    return 0;
}

/* Starts the nodes not up, waits for a leader (2 s at most), runs
 * settle_ms more; returns the leader then. */
static int net_elect(tnet *net, uint64_t settle_ms)
{
    net_start_all(net);
    net_wait_leader(net, 2000);
    net_run(net, settle_ms);
    return net_leader(net);
}

/* Each node ticks at its own phase within a tick. */
static void net_stagger(tnet *net)
{
    for (int i = 0; i < net->n; i++)
        net->nodes[i].phase_ms = (uint32_t)tu_rng_range(&net->rng, 0, TICK_MS - 1);
}

static void net_isolate(tnet *net, int i, bool cut)
{
    for (int j = 0; j < net->n; j++) {
        if (j == i)
            continue;
        net->cut[i][j] = cut;
        net->cut[j][i] = cut;
    }
}

static void net_heal(tnet *net)
{
    memset(net->cut, 0, sizeof net->cut);
}

static int net_propose(tnet *net, int i, const char *text, uint64_t *index_out)
{
    tnode *nd = &net->nodes[i];
    uint64_t index;
    kassa_err err;
    int rc = raft_propose(nd->r, text, strlen(text), &index, &err);
    if (rc == KASSA_OK) {
        if (net->n_props == net->cap_props) {
            net->cap_props = net->cap_props ? net->cap_props * 2 : 128;
            net->props = realloc(net->props, net->cap_props * sizeof *net->props);
            assert_non_null(net->props);
        }
        raft_entry e;
        memset(&e, 0, sizeof e);
        e.type = RAFT_ENTRY_NORMAL;
        e.term = nd->term;
        e.index = index;
        e.len = (uint16_t)strlen(text);
        memcpy(e.data, text, e.len);
        proposal *p = &net->props[net->n_props++];
        p->index = index;
        p->term = nd->term;
        p->hash = entry_hash(&e);
        if (index_out)
            *index_out = index;
        net_process(net, i);
    }
    return rc;
}

/* Every proposal whose index was committed with its term holds its data. */
static void net_check_proposals(const tnet *net)
{
    for (size_t k = 0; k < net->n_props; k++) {
        const proposal *p = &net->props[k];
        if (p->index >= net->cap_com || !net->com[p->index].set)
            continue;
        if (net->com[p->index].term == p->term)
            assert_true(net->com[p->index].hash == p->hash);
    }
}

static raft_status node_status(const tnet *net, int i)
{
    raft_status st;
    raft_status_get(net->nodes[i].r, &st);
    return st;
}

/* Every up node applied all its leader committed. */
static bool net_converged(const tnet *net)
{
    int l = net_leader(net);
    if (l < 0)
        return false;
    raft_status ls = node_status(net, l);
    if (ls.commit != ls.last_index)
        return false;
    for (int i = 0; i < net->n; i++)
        if (net->nodes[i].up && net->nodes[i].sm.applied != ls.commit)
            return false;
    return true;
}

static void net_dump(const tnet *net)
{
    for (int i = 0; i < net->n; i++) {
        const tnode *nd = &net->nodes[i];
        if (!nd->up) {
            print_error("%s down\n", nd->id);
            continue;
        }
        raft_status st;
        raft_status_get(nd->r, &st);
        print_error("%s %s term %llu leader %s commit %llu applied %llu last %llu snap %llu "
                    "members %u voter %d\n",
                    nd->id, raft_role_name(st.role), (unsigned long long)st.term, st.leader,
                    (unsigned long long)st.commit, (unsigned long long)st.applied,
                    (unsigned long long)st.last_index, (unsigned long long)st.snapshot_index,
                    st.n_members, st.voter);
        for (uint32_t k = 0; st.role == RAFT_LEADER && k < st.n_members; k++)
            print_error("    %s match %llu next %llu state %d active %d\n", st.members[k].id,
                        (unsigned long long)st.members[k].match,
                        (unsigned long long)st.members[k].next, st.members[k].progress,
                        st.members[k].recent_active);
    }
}

/* All up nodes applied everything up to the same index with the same hash. */
static void net_check_converged(const tnet *net)
{
    int ref = -1;
    for (int i = 0; i < net->n; i++) {
        if (!net->nodes[i].up)
            continue;
        raft_status st = node_status(net, i);
        assert_true(st.applied == st.commit);
        if (ref < 0) {
            ref = i;
            continue;
        }
        if (net->nodes[i].sm.applied != net->nodes[ref].sm.applied ||
            net->nodes[i].sm.hash != net->nodes[ref].sm.hash) {
            net_dump(net);
            fail_msg("%s applied %llu, %s applied %llu", net->nodes[i].id,
                     (unsigned long long)net->nodes[i].sm.applied, net->nodes[ref].id,
                     (unsigned long long)net->nodes[ref].sm.applied);
        }
    }
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    unsigned long long x = strtoull(v, &end, 0);
    return *end ? dflt : (uint64_t)x;
}

/* ---- scenarios ---- */

static void test_config_checks(void **state)
{
    (void)state;
    raft_config cfg;
    raft_config_default(&cfg);
    tu_rng rng;
    tu_rng_seed(&rng, 1);
    raft_restored rs;
    memset(&rs, 0, sizeof rs);
    rs.snapshot.conf = conf_of(1);
    raft *r;
    kassa_err err;
    snprintf(cfg.id, sizeof cfg.id, "n1");
    assert_int_equal(raft_new(&cfg, &rs, &r, &err), KASSA_EINVAL); /* no rand */
    assert_true(tu_contains(err.msg, "randomness"));
    cfg.rand = node_rand;
    cfg.rand_ctx = &rng;
    raft_config bad = cfg;
    snprintf(bad.id, sizeof bad.id, "bad id");
    assert_int_equal(raft_new(&bad, &rs, &r, &err), KASSA_EINVAL);
    bad = cfg;
    bad.election_min_ms = 150;
    assert_int_equal(raft_new(&bad, &rs, &r, &err), KASSA_EINVAL);
    bad = cfg;
    bad.election_max_ms = 300;
    assert_int_equal(raft_new(&bad, &rs, &r, &err), KASSA_EINVAL);
    bad = cfg;
    bad.max_inflight = RAFT_INFLIGHT_MAX + 1;
    assert_int_equal(raft_new(&bad, &rs, &r, &err), KASSA_EINVAL);
    bad = cfg;
    bad.max_entries_per_msg = 0;
    assert_int_equal(raft_new(&bad, &rs, &r, &err), KASSA_EINVAL);

    /* Restored state that does not hold together. */
    raft_entry e[2];
    memset(e, 0, sizeof e);
    e[0].index = 1;
    e[0].term = 1;
    e[0].type = RAFT_ENTRY_NOOP;
    e[1].index = 3; /* gap */
    e[1].term = 1;
    e[1].type = RAFT_ENTRY_NORMAL;
    rs.hard.term = 1;
    rs.entries = e;
    rs.n_entries = 2;
    assert_int_equal(raft_new(&cfg, &rs, &r, &err), KASSA_ECORRUPT);
    e[1].index = 2;
    e[1].term = 2; /* past the hard state's term */
    assert_int_equal(raft_new(&cfg, &rs, &r, &err), KASSA_ECORRUPT);
    e[1].term = 1;
    rs.hard.commit = 3; /* past the log */
    assert_int_equal(raft_new(&cfg, &rs, &r, &err), KASSA_ECORRUPT);
    rs.hard.commit = 2;
    rs.applied = 3;
    assert_int_equal(raft_new(&cfg, &rs, &r, &err), KASSA_ECORRUPT);
    rs.applied = 1;
    assert_int_equal(raft_new(&cfg, &rs, &r, &err), KASSA_OK);
    raft_status st;
    raft_status_get(r, &st);
    assert_int_equal(st.term, 1);
    assert_int_equal(st.commit, 2);
    assert_int_equal(st.applied, 1);
    assert_int_equal(st.last_index, 2);
    assert_int_equal(st.role, RAFT_FOLLOWER);
    /* The committed entry 2 is handed out again. */
    assert_true(raft_has_ready(r));
    raft_ready rd;
    assert_int_equal(raft_ready_get(r, &rd, &err), KASSA_OK);
    assert_int_equal(rd.n_committed, 1);
    assert_int_equal(rd.committed[0].index, 2);
    assert_int_equal(rd.n_entries, 0);
    assert_false(rd.has_hard_state);
    /* Nothing else while a ready is out. */
    assert_int_equal(raft_tick(r, &err), KASSA_EINVAL);
    assert_int_equal(raft_ready_get(r, &rd, &err), KASSA_EINVAL);
    assert_int_equal(raft_advance(r, &rd, &err), KASSA_OK);
    assert_int_equal(raft_advance(r, &rd, &err), KASSA_EINVAL);
    assert_false(raft_has_ready(r));
    raft_free(r);
}

static void test_single_node(void **state)
{
    (void)state;
    tnet net;
    net_init(&net, 1, 11);
    net_start_all(&net);
    uint64_t ms = net_wait_leader(&net, 1000);
    /* The first election timeout, within [300, 500) ms plus a tick. */
    assert_true(ms >= 300 && ms <= 510);
    raft_status st = node_status(&net, 0);
    assert_int_equal(st.term, 1);
    assert_string_equal(st.leader, "n1");
    assert_string_equal(st.vote, "n1");
    assert_int_equal(st.commit, 1); /* the leader's no-op */
    for (int i = 0; i < 10; i++) {
        char text[32];
        snprintf(text, sizeof text, "record %d", i);
        assert_int_equal(net_propose(&net, 0, text, NULL), KASSA_OK);
    }
    st = node_status(&net, 0);
    assert_int_equal(st.commit, 11);
    assert_int_equal(st.applied, 11);
    assert_int_equal(net.nodes[0].sm.normals, 10);
    assert_int_equal(net.nodes[0].hs.commit, 11);
    assert_int_equal(net.nodes[0].n_log, 11);
    net_free(&net);
}

static void elect_n(int n, uint64_t seed)
{
    tnet net;
    net_init(&net, n, seed);
    int l = net_elect(&net, 2000);
    assert_true(l >= 0);
    assert_int_equal(net_count_leaders(&net), 1);
    /* Everyone follows it in its term, and nobody campaigned again. */
    for (int i = 0; i < n; i++) {
        raft_status st = node_status(&net, i);
        assert_string_equal(st.leader, net.nodes[l].id);
        assert_int_equal(st.term, net.nodes[l].term);
        assert_int_equal(st.commit, 1);
        assert_int_equal(st.applied, 1);
    }
    raft_status ls = node_status(&net, l);
    assert_true(ls.quorum_active);
    assert_int_equal(ls.n_members, (uint32_t)n);
    for (uint32_t i = 0; i < ls.n_members; i++) {
        assert_int_equal(ls.members[i].match, 1);
        assert_int_equal(ls.members[i].progress, RAFT_PROGRESS_REPLICATE);
    }
    net_free(&net);
}

static void test_elect_3(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++)
        elect_n(3, seed);
}

static void test_elect_5(void **state)
{
    (void)state;
    for (uint64_t seed = 100; seed <= 120; seed++)
        elect_n(5, seed);
}

/* Kills the leader again and again: the time to the next leader, measured
 * from the kill, stays within the timeouts, and no term is wasted on a
 * split vote. Node tick phases differ and latencies vary a little, as on a
 * store LAN. Prints the distribution (the target: p50 <= 350 ms, max <=
 * 600 ms). */
typedef struct reelection {
    uint64_t p50, p90, max;
    int extra_terms; /* kills that needed more than one election */
} reelection;

/* aligned: every node ticks at the same instant and every message takes
 * 1 ms, the worst case for simultaneous timeouts (a deterministic
 * simulation); else tick phases differ and latencies vary (1..3 ms). */
static void reelection_times(int n, uint64_t seed, int trials, bool aligned, reelection *out)
{
    tnet net;
    net_init(&net, n, seed);
    net.lat_min_ms = 1;
    net.lat_max_ms = aligned ? 1 : 3;
    if (!aligned)
        net_stagger(&net);
    net_elect(&net, 0);
    uint64_t *t = calloc((size_t)trials, sizeof *t);
    assert_non_null(t);
    for (int k = 0; k < trials; k++) {
        /* Steady for a while, with traffic, then kill at a random moment. */
        net_run(&net, (uint64_t)tu_rng_range(&net.rng, 600, 1500));
        int l = net_leader(&net);
        assert_true(l >= 0);
        net_propose(&net, l, "before the kill", NULL);
        net_run(&net, (uint64_t)tu_rng_range(&net.rng, 0, 150));
        l = net_leader(&net);
        uint64_t term = net.nodes[l].term;
        node_kill(&net, l);
        uint64_t ms = net_wait_leader(&net, 5000);
        int nl = net_leader(&net);
        /* Normally one pre-vote round and one election: term + 1. */
        assert_true(net.nodes[nl].term >= term + 1);
        out->extra_terms += net.nodes[nl].term > term + 1;
        t[k] = ms;
        node_start(&net, l);
    }
    /* Sort for the percentiles. */
    for (int i = 1; i < trials; i++)
        for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
            uint64_t x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    out->p50 = t[trials / 2];
    out->p90 = t[trials * 9 / 10];
    out->max = t[trials - 1];
    net_check_converged(&net);
    free(t);
    net_free(&net);
}

static void test_reelection_after_leader_stops(void **state)
{
    (void)state;
    int trials = (int)env_u64("KASSA_RAFT_KILLS", 200);
    for (int aligned = 0; aligned <= 1; aligned++) {
        for (int n = 3; n <= 5; n += 2) {
            reelection r;
            memset(&r, 0, sizeof r);
            reelection_times(n, (uint64_t)(7 + n + 10 * aligned), trials, aligned, &r);
            print_message("%d nodes, %s ticks, %d leader kills: new leader p50 %llu ms, p90 "
                          "%llu ms, max %llu ms; %d needed a second election\n",
                          n, aligned ? "aligned" : "staggered", trials, (unsigned long long)r.p50,
                          (unsigned long long)r.p90, (unsigned long long)r.max, r.extra_terms);
            /* The bound: a follower heard the last heartbeat at most a
             * heartbeat before the kill, so its timer fires at most
             * election_max after the kill (plus a tick); then two round
             * trips. A second election would cost another timeout. */
            assert_true(r.p50 <= 350);
            assert_true(r.max <= 500 + TICK_MS + 4 * 3);
            assert_int_equal(r.extra_terms, 0);
        }
    }
}

static void test_replication_and_commit(void **state)
{
    (void)state;
    tnet net;
    net_init(&net, 5, 21);
    net.lat_max_ms = 5;
    int l = net_elect(&net, 0);
    for (int i = 0; i < 200; i++) {
        char text[64];
        snprintf(text, sizeof text, "watermark %d", i);
        assert_int_equal(net_propose(&net, l, text, NULL), KASSA_OK);
        if (i % 7 == 0)
            net_run(&net, 1);
    }
    net_run(&net, 500);
    net_check_converged(&net);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(net.nodes[i].sm.normals, 200);
        assert_int_equal(net.nodes[i].sm.applied, 201);
        assert_int_equal(net.nodes[i].n_log, 201);
        assert_int_equal(net.nodes[i].hs.commit, 201);
    }
    net_check_proposals(&net);
    /* Flow control: at most max_inflight appends of max_entries_per_msg. */
    assert_true(net.msgs_dropped == 0);
    net_free(&net);
}

/* A leader cut off with entries nobody else has; the others elect a new
 * leader and commit different entries at the same indexes; when the old
 * leader returns its conflicting suffix is replaced. */
static void test_conflicting_log_repaired(void **state)
{
    (void)state;
    tnet net;
    net_init(&net, 3, 31);
    int old = net_elect(&net, 0);
    net_propose(&net, old, "common", NULL);
    net_run(&net, 50);
    net_isolate(&net, old, true);
    for (int i = 0; i < 30; i++) {
        char text[32];
        snprintf(text, sizeof text, "lost %d", i);
        assert_int_equal(net_propose(&net, old, text, NULL), KASSA_OK);
    }
    raft_status os = node_status(&net, old);
    assert_int_equal(os.last_index, 32);
    assert_int_equal(os.commit, 2);
    net_run(&net, 1500);
    /* CheckQuorum: the old leader stepped down. */
    assert_int_not_equal(net.nodes[old].role, RAFT_LEADER);
    int nl = net_leader(&net);
    assert_true(nl >= 0 && nl != old);
    for (int i = 0; i < 5; i++) {
        char text[32];
        snprintf(text, sizeof text, "kept %d", i);
        assert_int_equal(net_propose(&net, nl, text, NULL), KASSA_OK);
    }
    net_run(&net, 100);
    net_isolate(&net, old, false);
    net_run(&net, 1000);
    net_check_converged(&net);
    raft_status s0 = node_status(&net, old), s1 = node_status(&net, nl);
    assert_int_equal(s0.last_index, s1.last_index);
    assert_int_equal(s0.last_index, 8); /* 2 + no-op + 5 */
    assert_int_equal(net.nodes[old].sm.normals, 6);
    assert_int_equal(net.nodes[old].n_log, 8);
    for (size_t k = 0; k < net.nodes[old].n_log; k++) {
        assert_true(net.nodes[old].log[k].term == net.nodes[nl].log[k].term);
        assert_true(entry_hash(&net.nodes[old].log[k]) == entry_hash(&net.nodes[nl].log[k]));
    }
    net_check_proposals(&net);
    net_free(&net);
}

/* A node stepped by hand: the follower's side of messages. */
typedef struct solo {
    raft *r;
    tu_rng rng;
    raft_ready rd;
    raft_msg msgs[8];
} solo;

static void solo_new_log(solo *s, const char *id, int members, const raft_hard_state *hs,
                         const raft_entry *entries, size_t n)
{
    raft_config cfg;
    raft_config_default(&cfg);
    snprintf(cfg.id, sizeof cfg.id, "%s", id);
    tu_rng_seed(&s->rng, 5);
    cfg.rand = node_rand;
    cfg.rand_ctx = &s->rng;
    raft_restored rs;
    memset(&rs, 0, sizeof rs);
    if (hs)
        rs.hard = *hs;
    rs.snapshot.conf = conf_of(members);
    rs.entries = entries;
    rs.n_entries = n;
    kassa_err err;
    assert_int_equal(raft_new(&cfg, &rs, &s->r, &err), KASSA_OK);
}

static void solo_new(solo *s, const char *id, int members, const raft_hard_state *hs)
{
    solo_new_log(s, id, members, hs, NULL, 0);
}

/* Entries 1..n with the given terms. */
static void mk_log(raft_entry *e, const uint64_t *terms, size_t n)
{
    memset(e, 0, n * sizeof *e);
    for (size_t i = 0; i < n; i++) {
        e[i].index = i + 1;
        e[i].term = terms[i];
        e[i].type = RAFT_ENTRY_NORMAL;
        e[i].len = 1;
        e[i].data[0] = (uint8_t)('a' + terms[i]);
    }
}

/* Runs the ready loop of a solo node: persists nothing, keeps messages. */
static const raft_ready *solo_flush(solo *s)
{
    kassa_err err;
    memset(&s->rd, 0, sizeof s->rd);
    if (!raft_has_ready(s->r))
        return &s->rd;
    assert_int_equal(raft_ready_get(s->r, &s->rd, &err), KASSA_OK);
    raft_ready copy = s->rd;
    /* Keep the messages: the ready's pointers die with raft_advance. */
    assert_true(s->rd.n_msgs <= 8);
    memcpy(s->msgs, s->rd.msgs, s->rd.n_msgs * sizeof *s->msgs);
    s->rd.msgs = s->msgs;
    assert_int_equal(raft_advance(s->r, &copy, &err), KASSA_OK);
    return &s->rd;
}

/* Steps m into the node and returns the ready it produces (advanced). */
static const raft_ready *solo_step(solo *s, const raft_msg *m, int expect_rc)
{
    kassa_err err;
    assert_int_equal(raft_step(s->r, m, &err), expect_rc);
    return solo_flush(s);
}

static raft_msg mk(uint8_t type, const char *from, const char *to, uint64_t term)
{
    raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    snprintf(m.from, sizeof m.from, "%s", from);
    snprintf(m.to, sizeof m.to, "%s", to);
    m.term = term;
    return m;
}

static void test_stale_term_messages_ignored(void **state)
{
    (void)state;
    raft_hard_state hs = {.term = 5};
    solo s;
    solo_new(&s, "n1", 3, &hs);
    /* A heartbeat of term 3 from an old leader: ignored, and answered
     * with our term so it steps down. */
    raft_msg hb = mk(RAFT_MSG_HEARTBEAT, "n2", "n1", 3);
    hb.commit = 0;
    const raft_ready *rd = solo_step(&s, &hb, KASSA_OK);
    assert_int_equal(rd->n_msgs, 1);
    assert_int_equal(rd->msgs[0].type, RAFT_MSG_APP_RESP);
    assert_int_equal(rd->msgs[0].term, 5);
    raft_status st;
    raft_status_get(s.r, &st);
    assert_int_equal(st.term, 5);
    assert_string_equal(st.leader, "");
    /* A vote request of an older term: no vote, nothing at all. */
    raft_msg v = mk(RAFT_MSG_VOTE, "n2", "n1", 4);
    rd = solo_step(&s, &v, KASSA_OK);
    assert_int_equal(rd->n_msgs, 0);
    raft_status_get(s.r, &st);
    assert_string_equal(st.vote, "");
    /* A pre-vote of an older term: rejected with our term. */
    raft_msg pv = mk(RAFT_MSG_PREVOTE, "n3", "n1", 5);
    pv.term = 4;
    rd = solo_step(&s, &pv, KASSA_OK);
    assert_int_equal(rd->n_msgs, 1);
    assert_true(rd->msgs[0].reject);
    assert_int_equal(rd->msgs[0].term, 5);
    /* Stale vote responses and appends change nothing either. */
    raft_msg vr = mk(RAFT_MSG_VOTE_RESP, "n2", "n1", 4);
    rd = solo_step(&s, &vr, KASSA_OK);
    raft_msg app = mk(RAFT_MSG_APP, "n3", "n1", 2);
    raft_entry e;
    memset(&e, 0, sizeof e);
    e.index = 1;
    e.term = 2;
    e.type = RAFT_ENTRY_NORMAL;
    app.entries = &e;
    app.n_entries = 1;
    rd = solo_step(&s, &app, KASSA_OK);
    raft_status_get(s.r, &st);
    assert_int_equal(st.last_index, 0);
    assert_int_equal(st.term, 5);
    /* A message for someone else, or failing its checks, is refused. */
    raft_msg other = mk(RAFT_MSG_HEARTBEAT, "n2", "n3", 6);
    kassa_err err;
    assert_int_equal(raft_step(s.r, &other, &err), KASSA_EINVAL);
    raft_msg badm = mk(RAFT_MSG_HEARTBEAT, "n2", "n1", 6);
    badm.reject = true;
    assert_int_equal(raft_step(s.r, &badm, &err), KASSA_ECORRUPT);
    /* A newer term from a leader: follow it. */
    raft_msg hb7 = mk(RAFT_MSG_HEARTBEAT, "n2", "n1", 7);
    rd = solo_step(&s, &hb7, KASSA_OK);
    assert_true(rd->has_hard_state);
    assert_int_equal(rd->hard_state.term, 7);
    assert_string_equal(rd->soft.leader, "n2");
    raft_free(s.r);
}

/* Raft §5.4.2 (figure 8): a new leader never commits an entry of an
 * earlier term by counting replicas, only through an entry of its own. */
static void test_commit_only_own_term(void **state)
{
    (void)state;
    raft_entry log[2];
    const uint64_t terms[2] = {1, 2};
    mk_log(log, terms, 2);
    raft_hard_state hs = {.term = 3};
    solo s;
    solo_new_log(&s, "n1", 3, &hs, log, 2);
    kassa_err err;
    assert_int_equal(raft_campaign(s.r, &err), KASSA_OK);
    solo_flush(&s);
    raft_msg pv = mk(RAFT_MSG_PREVOTE_RESP, "n2", "n1", 4);
    solo_step(&s, &pv, KASSA_OK);
    raft_msg v = mk(RAFT_MSG_VOTE_RESP, "n2", "n1", 4);
    const raft_ready *rd = solo_step(&s, &v, KASSA_OK);
    assert_int_equal(rd->soft.role, RAFT_LEADER);
    assert_int_equal(rd->n_entries, 1); /* the no-op at 3 */
    assert_int_equal(rd->entries[0].index, 3);
    /* n2 holds entry 2 (term 2): a majority holds it, yet not committed. */
    raft_msg ack = mk(RAFT_MSG_APP_RESP, "n2", "n1", 4);
    ack.index = 2;
    solo_step(&s, &ack, KASSA_OK);
    raft_status st;
    raft_status_get(s.r, &st);
    assert_int_equal(st.commit, 0);
    /* Nor does it change the membership before (the single-server change
     * bug: a change must follow an entry committed in the leader's term). */
    assert_int_equal(raft_propose_conf_change(s.r, RAFT_CONF_ADD, "n4", NULL, &err), KASSA_EBUSY);
    assert_true(tu_contains(err.msg, "not committed in its term"));
    /* Once the no-op of term 4 is on a majority, everything commits. */
    ack.index = 3;
    rd = solo_step(&s, &ack, KASSA_OK);
    raft_status_get(s.r, &st);
    assert_int_equal(st.commit, 3);
    assert_int_equal(rd->n_committed, 3);
    assert_int_equal(raft_propose_conf_change(s.r, RAFT_CONF_ADD, "n4", NULL, &err), KASSA_OK);
    raft_free(s.r);
}

/* A follower commits only what it knows matches the leader: not stale
 * entries past the append's last entry, whatever the leader's commit. */
static void test_follower_commit_bounded(void **state)
{
    (void)state;
    raft_entry log[3];
    const uint64_t terms[3] = {1, 1, 1};
    mk_log(log, terms, 3);
    raft_hard_state hs = {.term = 1};
    solo s;
    solo_new_log(&s, "n1", 3, &hs, log, 3);
    /* Leader of term 2 has 1:t1 2:t1 3:t2 4:t2, commit 4; it probes at 2. */
    raft_msg app = mk(RAFT_MSG_APP, "n2", "n1", 2);
    app.index = 2;
    app.log_term = 1;
    app.commit = 4;
    const raft_ready *rd = solo_step(&s, &app, KASSA_OK);
    assert_int_equal(rd->n_msgs, 1);
    assert_int_equal(rd->msgs[0].index, 2);
    assert_false(rd->msgs[0].reject);
    raft_status st;
    raft_status_get(s.r, &st);
    assert_int_equal(st.commit, 2);
    /* Its entries 3 and 4 replace our stale 3. */
    raft_entry e[2];
    const uint64_t t2[2] = {2, 2};
    mk_log(e, t2, 2);
    e[0].index = 3;
    e[1].index = 4;
    app.entries = e;
    app.n_entries = 2;
    rd = solo_step(&s, &app, KASSA_OK);
    assert_int_equal(rd->n_entries, 2);
    assert_int_equal(rd->entries[0].index, 3); /* overwrite from 3 */
    assert_int_equal(rd->entries[0].term, 2);
    raft_status_get(s.r, &st);
    assert_int_equal(st.commit, 4);
    /* A rejected probe carries the hint to skip the conflicting term. */
    raft_msg far = mk(RAFT_MSG_APP, "n2", "n1", 2);
    far.index = 9;
    far.log_term = 2;
    far.commit = 4;
    rd = solo_step(&s, &far, KASSA_OK);
    assert_true(rd->msgs[0].reject);
    assert_int_equal(rd->msgs[0].index, 9);
    assert_int_equal(rd->msgs[0].reject_hint, 4);
    assert_int_equal(rd->msgs[0].log_term, 2);
    raft_free(s.r);
}

/* Leader lease: a follower that heard from its leader within election_min
 * ignores (pre)votes of a higher term, but not those of a transfer. */
static void test_lease_ignores_votes(void **state)
{
    (void)state;
    raft_hard_state hs = {.term = 2};
    solo s;
    solo_new(&s, "n1", 3, &hs);
    raft_msg hb = mk(RAFT_MSG_HEARTBEAT, "n2", "n1", 2);
    solo_step(&s, &hb, KASSA_OK);
    raft_msg pv = mk(RAFT_MSG_PREVOTE, "n3", "n1", 3);
    const raft_ready *rd = solo_step(&s, &pv, KASSA_OK);
    assert_int_equal(rd->n_msgs, 0);
    raft_msg v = mk(RAFT_MSG_VOTE, "n3", "n1", 3);
    rd = solo_step(&s, &v, KASSA_OK);
    assert_int_equal(rd->n_msgs, 0);
    raft_status st;
    raft_status_get(s.r, &st);
    assert_int_equal(st.term, 2);
    assert_true(st.quorum_active);
    /* A transfer's vote goes through. */
    v.transfer = true;
    rd = solo_step(&s, &v, KASSA_OK);
    assert_int_equal(rd->n_msgs, 1);
    assert_false(rd->msgs[0].reject);
    assert_int_equal(rd->hard_state.term, 3);
    /* Past election_min without the leader, pre-votes are answered. */
    hb.term = 3;
    solo_step(&s, &hb, KASSA_OK);
    kassa_err err;
    for (int i = 0; i < 30; i++)
        assert_int_equal(raft_tick(s.r, &err), KASSA_OK);
    solo_flush(&s);
    pv.term = 4;
    rd = solo_step(&s, &pv, KASSA_OK);
    assert_int_equal(rd->n_msgs, 1);
    assert_false(rd->msgs[0].reject);
    raft_status_get(s.r, &st);
    assert_int_equal(st.term, 3); /* a pre-vote changes nothing */
    raft_free(s.r);
}

/* Terms and indexes near their bounds, as only a hostile peer would send:
 * refused or absorbed, never an abort. */
static void test_hostile_bounds(void **state)
{
    (void)state;
    solo s;
    solo_new(&s, "n1", 3, NULL);
    kassa_err err;
    raft_msg hb = mk(RAFT_MSG_HEARTBEAT, "n2", "n1", RAFT_TERM_MAX);
    assert_int_equal(raft_step(s.r, &hb, &err), KASSA_ECORRUPT);
    hb.term = RAFT_TERM_MAX - 1;
    solo_step(&s, &hb, KASSA_OK);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(raft_tick(s.r, &err), KASSA_OK);
        solo_flush(&s);
    }
    raft_status st;
    raft_status_get(s.r, &st);
    assert_true(st.term == RAFT_TERM_MAX - 1);
    assert_int_equal(st.campaigns, 0);
    raft_free(s.r);

    /* A snapshot at the last index: installed, and nothing appends past. */
    solo_new(&s, "n1", 3, NULL);
    raft_msg sm = mk(RAFT_MSG_SNAPSHOT, "n2", "n1", 5);
    raft_snapshot_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.index = RAFT_INDEX_MAX - 1;
    meta.term = 5;
    meta.conf = conf_of(3);
    sm.snapshot = &meta;
    const raft_ready *rd = solo_step(&s, &sm, KASSA_OK);
    assert_true(rd->has_snapshot);
    raft_msg app = mk(RAFT_MSG_APP, "n2", "n1", 5);
    app.index = RAFT_INDEX_MAX - 2;
    app.log_term = 5;
    raft_entry e;
    memset(&e, 0, sizeof e);
    e.index = RAFT_INDEX_MAX - 1;
    e.term = 5;
    e.type = RAFT_ENTRY_NORMAL;
    app.entries = &e;
    app.n_entries = 1;
    solo_step(&s, &app, KASSA_OK);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(raft_tick(s.r, &err), KASSA_OK);
        solo_flush(&s);
    }
    raft_status_get(s.r, &st);
    assert_true(st.last_index == RAFT_INDEX_MAX - 1);
    raft_free(s.r);
}

/* A joining node knows no configuration before its first CONF entry: it
 * cannot compact until it can tell the configuration at that index, then
 * derives it from the next CONF entry. */
static void test_joining_node_compaction(void **state)
{
    (void)state;
    solo s;
    solo_new(&s, "n4", 0, NULL);
    raft_entry e[4];
    const uint64_t terms[4] = {1, 1, 1, 1};
    mk_log(e, terms, 4);
    raft_msg app = mk(RAFT_MSG_APP, "n1", "n4", 1);
    app.commit = 3;
    app.entries = e;
    app.n_entries = 3;
    solo_step(&s, &app, KASSA_OK);
    raft_status st;
    raft_status_get(s.r, &st);
    assert_int_equal(st.applied, 3);
    assert_false(st.voter);
    kassa_err err;
    raft_snapshot_meta meta;
    assert_int_equal(raft_compact(s.r, 2, (const uint8_t *)"s", 1, &meta, &err), KASSA_EBUSY);
    /* Entry 4 adds n4 to {n1, n2, n3}. */
    raft_conf c4;
    memset(&c4, 0, sizeof c4);
    c4.n = 4;
    for (int i = 0; i < 4; i++)
        snprintf(c4.ids[i], sizeof c4.ids[i], "n%d", i + 1);
    kbuf b;
    kbuf_init(&b);
    kbuf_put_str(&b, "n4");
    kbuf_put_uvarint(&b, 4);
    for (int i = 0; i < 4; i++)
        kbuf_put_str(&b, c4.ids[i]);
    e[3].type = RAFT_ENTRY_CONF_ADD;
    e[3].len = (uint16_t)b.len;
    memcpy(e[3].data, b.data, b.len);
    kbuf_free(&b);
    app.index = 3;
    app.log_term = 1;
    app.entries = &e[3];
    app.n_entries = 1;
    solo_step(&s, &app, KASSA_OK);
    raft_status_get(s.r, &st);
    assert_true(st.voter);
    assert_int_equal(st.n_members, 4);
    assert_int_equal(raft_compact(s.r, 2, (const uint8_t *)"s", 1, &meta, &err), KASSA_OK);
    assert_int_equal(meta.index, 2);
    assert_int_equal(meta.conf.n, 3);
    assert_string_equal(meta.conf.ids[2], "n3");
    raft_free(s.r);
}

/* Never two votes in one term, also across a restart from the persisted
 * hard state; the vote is in the ready that carries the response. */
static void test_vote_persisted_across_restart(void **state)
{
    (void)state;
    solo s;
    solo_new(&s, "n1", 3, NULL);
    raft_msg v = mk(RAFT_MSG_VOTE, "n2", "n1", 3);
    const raft_ready *rd = solo_step(&s, &v, KASSA_OK);
    assert_true(rd->has_hard_state);
    assert_int_equal(rd->hard_state.term, 3);
    assert_string_equal(rd->hard_state.vote, "n2");
    assert_int_equal(rd->n_msgs, 1);
    assert_false(rd->msgs[0].reject);
    raft_hard_state hs = rd->hard_state;
    raft_free(s.r);

    solo_new(&s, "n1", 3, &hs);
    raft_msg v3 = mk(RAFT_MSG_VOTE, "n3", "n1", 3);
    rd = solo_step(&s, &v3, KASSA_OK);
    assert_int_equal(rd->n_msgs, 1);
    assert_true(rd->msgs[0].reject);
    assert_false(rd->has_hard_state);
    /* The same candidate asking again gets the same answer. */
    rd = solo_step(&s, &v, KASSA_OK);
    assert_int_equal(rd->n_msgs, 1);
    assert_false(rd->msgs[0].reject);
    /* A later term frees the vote. */
    raft_msg v4 = mk(RAFT_MSG_VOTE, "n3", "n1", 4);
    rd = solo_step(&s, &v4, KASSA_OK);
    assert_false(rd->msgs[0].reject);
    assert_string_equal(rd->hard_state.vote, "n3");
    raft_free(s.r);
}

/* Whole nodes restarted from storage keep term, vote, log and commit; a
 * whole cluster restarted comes back with the same state. */
static void test_restart_from_storage(void **state)
{
    (void)state;
    tnet net;
    net_init(&net, 3, 41);
    int l = net_elect(&net, 0);
    for (int i = 0; i < 20; i++)
        net_propose(&net, l, "before restart", NULL);
    net_run(&net, 300);
    net_check_converged(&net);
    raft_status before[3];
    for (int i = 0; i < 3; i++)
        before[i] = node_status(&net, i);
    for (int i = 0; i < 3; i++)
        node_kill(&net, i);
    for (int i = 0; i < 3; i++) {
        node_start(&net, i);
        raft_status st = node_status(&net, i);
        assert_int_equal(st.term, before[i].term);
        assert_string_equal(st.vote, before[i].vote);
        assert_int_equal(st.last_index, before[i].last_index);
        assert_int_equal(st.commit, before[i].commit);
        assert_int_equal(st.applied, before[i].applied);
        assert_int_equal(st.role, RAFT_FOLLOWER);
    }
    net_wait_leader(&net, 2000);
    l = net_leader(&net);
    for (int i = 0; i < 5; i++)
        net_propose(&net, l, "after restart", NULL);
    net_run(&net, 300);
    net_check_converged(&net);
    assert_int_equal(net.nodes[0].sm.normals, 25);
    net_free(&net);
}

/* A follower cut off for seconds keeps pre-campaigning without raising
 * its term, and rejoins without disturbing the leader. */
static void test_prevote_partitioned_node_rejoins(void **state)
{
    (void)state;
    tnet net;
    net_init(&net, 3, 51);
    int l = net_elect(&net, 500);
    int f = (l + 1) % 3;
    uint64_t term = net.nodes[l].term;
    net_isolate(&net, f, true);
    net_run(&net, 5000);
    raft_status fs = node_status(&net, f);
    assert_int_equal(fs.term, term);
    assert_true(fs.pre_campaigns >= 5);
    assert_int_equal(fs.campaigns, 0);
    /* Its log is as up to date as everyone's: only the leases (the other
     * nodes hear from the leader) keep its pre-votes from succeeding. */
    uint64_t changes = net.leader_changes;
    net_isolate(&net, f, false);
    net_run(&net, 2000);
    assert_int_equal(net_leader(&net), l);
    assert_int_equal(net.nodes[l].term, term);
    assert_int_equal(net.leader_changes, changes);
    fs = node_status(&net, f);
    assert_int_equal(fs.term, term);
    assert_string_equal(fs.leader, net.nodes[l].id);
    net_check_converged(&net);
    /* Again with entries committed while it was away. */
    net_isolate(&net, f, true);
    net_run(&net, 3000);
    net_propose(&net, l, "while away", NULL);
    net_run(&net, 100);
    net_isolate(&net, f, false);
    net_run(&net, 2000);
    assert_int_equal(net_leader(&net), l);
    assert_int_equal(net.nodes[l].term, term);
    net_check_converged(&net);

    /* Without PreVote (and CheckQuorum) the same partition raises the
     * term, and the rejoining node deposes the leader. */
    net_free(&net);
    raft_config cfg;
    raft_config_default(&cfg);
    cfg.pre_vote = false;
    cfg.check_quorum = false;
    net_init_cfg(&net, 3, 3, 52, &cfg);
    l = net_elect(&net, 0);
    f = (l + 1) % 3;
    term = net.nodes[l].term;
    net_isolate(&net, f, true);
    net_run(&net, 5000);
    assert_true(node_status(&net, f).term > term + 5);
    net_isolate(&net, f, false);
    net_run(&net, 2000);
    assert_true(net.nodes[net_leader(&net)].term > term + 5);
    net_free(&net);
}

/* A leader cut off from everyone steps down within an election timeout
 * (CheckQuorum); the majority elects another. */
static void test_check_quorum_isolated_leader(void **state)
{
    (void)state;
    tnet net;
    net_init(&net, 5, 61);
    int l = net_elect(&net, 1000);
    uint64_t t0 = net.now_ms;
    net_isolate(&net, l, true);
    while (net.nodes[l].role == RAFT_LEADER) {
        net_ms(&net);
        assert_true(net.now_ms - t0 <= 2 * 300 + TICK_MS);
    }
    raft_status st = node_status(&net, l);
    assert_false(st.quorum_active);
    net_run(&net, 1000);
    int nl = net_leader(&net);
    assert_true(nl >= 0 && nl != l);
    assert_int_equal(net_count_leaders(&net), 1);
    net_isolate(&net, l, false);
    net_run(&net, 1000);
    assert_int_equal(net_leader(&net), nl);
    assert_string_equal(node_status(&net, l).leader, net.nodes[nl].id);
    net_free(&net);
}

static void test_propose_on_follower_refused(void **state)
{
    (void)state;
    tnet net;
    net_init(&net, 3, 71);
    net_start_all(&net);
    kassa_err err;
    /* No leader yet. */
    assert_int_equal(raft_propose(net.nodes[0].r, "x", 1, NULL, &err), KASSA_ECONFLICT);
    assert_true(tu_contains(err.msg, "no leader known"));
    net_wait_leader(&net, 2000);
    net_run(&net, 200);
    int l = net_leader(&net);
    int f = (l + 1) % 3;
    assert_int_equal(raft_propose(net.nodes[f].r, "x", 1, NULL, &err), KASSA_ECONFLICT);
    assert_true(tu_contains(err.msg, net.nodes[l].id));
    assert_int_equal(raft_propose_conf_change(net.nodes[f].r, RAFT_CONF_REMOVE, "n1", NULL, &err),
                     KASSA_ECONFLICT);
    assert_int_equal(raft_transfer_leadership(net.nodes[f].r, "n1", &err), KASSA_ECONFLICT);
    /* Bad proposals on the leader. */
    uint8_t big[RAFT_ENTRY_DATA_MAX + 1];
    memset(big, 'x', sizeof big);
    assert_int_equal(raft_propose(net.nodes[l].r, big, sizeof big, NULL, &err), KASSA_EINVAL);
    assert_int_equal(raft_propose(net.nodes[l].r, big, RAFT_ENTRY_DATA_MAX, NULL, &err), KASSA_OK);
    net_process(&net, l);
    net_run(&net, 100);
    net_check_converged(&net);
    net_free(&net);
}

static void test_leadership_transfer(void **state)
{
    (void)state;
    tnet net;
    net_init(&net, 5, 81);
    int l = net_elect(&net, 500);
    int target = (l + 2) % 5;
    uint64_t term = net.nodes[l].term;
    kassa_err err;
    assert_int_equal(raft_transfer_leadership(net.nodes[l].r, net.nodes[l].id, &err), KASSA_EINVAL);
    assert_int_equal(raft_transfer_leadership(net.nodes[l].r, "n9", &err), KASSA_ENOTFOUND);
    assert_int_equal(raft_transfer_leadership(net.nodes[l].r, net.nodes[target].id, &err),
                     KASSA_OK);
    assert_string_equal(node_status(&net, l).transferee, net.nodes[target].id);
    assert_int_equal(raft_propose(net.nodes[l].r, "x", 1, NULL, &err), KASSA_EBUSY);
    net_process(&net, l);
    uint64_t t0 = net.now_ms;
    while (net_leader(&net) != target) {
        net_ms(&net);
        assert_true(net.now_ms - t0 < 20); /* a few round trips, no timer */
    }
    assert_int_equal(net.nodes[target].term, term + 1);
    net_run(&net, 500);
    assert_int_equal(net_count_leaders(&net), 1);

    /* To a follower that lags behind: it is caught up first. */
    l = target;
    target = (l + 1) % 5;
    net_isolate(&net, target, true);
    for (int i = 0; i < 40; i++)
        net_propose(&net, l, "while lagging", NULL);
    net_run(&net, 100);
    net_isolate(&net, target, false);
    assert_int_equal(raft_transfer_leadership(net.nodes[l].r, net.nodes[target].id, &err),
                     KASSA_OK);
    net_process(&net, l);
    net_run(&net, 300);
    assert_int_equal(net_leader(&net), target);
    net_check_converged(&net);

    /* To a node that is down: abandoned after an election timeout, and
     * the leader takes proposals again. */
    l = target;
    target = (l + 1) % 5;
    node_kill(&net, target);
    assert_int_equal(raft_transfer_leadership(net.nodes[l].r, net.nodes[target].id, &err),
                     KASSA_OK);
    net_process(&net, l);
    net_run(&net, 150);
    assert_int_equal(raft_propose(net.nodes[l].r, "x", 1, NULL, &err), KASSA_EBUSY);
    net_run(&net, 200);
    assert_string_equal(node_status(&net, l).transferee, "");
    assert_int_equal(net_leader(&net), l);
    assert_int_equal(net_propose(&net, l, "after abort", NULL), KASSA_OK);
    net_free(&net);
}

static uint64_t conf_change(tnet *net, int l, raft_conf_op op, const char *id)
{
    uint64_t index;
    kassa_err err;
    int rc = raft_propose_conf_change(net->nodes[l].r, op, id, &index, &err);
    if (rc != KASSA_OK)
        fail_msg("conf change %s: %s", id, err.msg);
    net_process(net, l);
    return index;
}

static void test_membership_changes(void **state)
{
    (void)state;
    tnet net;
    /* n4 exists but is not a founder: it starts with no configuration. */
    net_init_cfg(&net, 4, 3, 91, NULL);
    int l = net_elect(&net, 0);
    assert_true(l < 3);
    for (int i = 0; i < 10; i++)
        net_propose(&net, l, "before n4", NULL);
    net_run(&net, 2000);
    /* n4 never campaigned: it is not a voter anywhere it knows of. */
    raft_status s4 = node_status(&net, 3);
    assert_false(s4.voter);
    assert_int_equal(s4.pre_campaigns, 0);
    assert_int_equal(s4.term, 0);

    kassa_err err;
    assert_int_equal(raft_propose_conf_change(net.nodes[l].r, RAFT_CONF_ADD, "n1", NULL, &err),
                     KASSA_ECONFLICT);
    assert_int_equal(raft_propose_conf_change(net.nodes[l].r, RAFT_CONF_REMOVE, "n7", NULL, &err),
                     KASSA_ENOTFOUND);
    assert_int_equal(raft_propose_conf_change(net.nodes[l].r, RAFT_CONF_ADD, "bad id", NULL, &err),
                     KASSA_EINVAL);
    uint64_t idx = conf_change(&net, l, RAFT_CONF_ADD, "n4");
    /* In force at once on the leader; a second change waits. */
    raft_status ls = node_status(&net, l);
    assert_int_equal(ls.n_members, 4);
    assert_true(ls.conf_pending);
    assert_int_equal(ls.conf_index, idx);
    assert_int_equal(raft_propose_conf_change(net.nodes[l].r, RAFT_CONF_REMOVE, "n2", NULL, &err),
                     KASSA_EBUSY);
    net_run(&net, 500);
    s4 = node_status(&net, 3);
    assert_true(s4.voter);
    assert_int_equal(s4.n_members, 4);
    assert_string_equal(s4.leader, net.nodes[l].id);
    net_check_converged(&net);
    assert_int_equal(net.nodes[3].sm.normals, 10);

    /* Remove a follower. */
    int f = (l + 1) % 3;
    conf_change(&net, l, RAFT_CONF_REMOVE, net.nodes[f].id);
    net_run(&net, 500);
    ls = node_status(&net, l);
    assert_int_equal(ls.n_members, 3);
    assert_false(ls.conf_pending);
    raft_status fs = node_status(&net, f);
    assert_false(fs.voter);
    /* The removed node never disturbs the others (its messages are only
     * pre-votes at its old term, ignored under the lease). */
    uint64_t term = net.nodes[l].term;
    net_run(&net, 3000);
    assert_int_equal(net_leader(&net), l);
    assert_int_equal(net.nodes[l].term, term);
    node_kill(&net, f);

    /* Remove the leader itself: it steps down when that commits and hands
     * over at once (no election timeout to wait for). */
    uint64_t t0 = net.now_ms;
    conf_change(&net, l, RAFT_CONF_REMOVE, net.nodes[l].id);
    while (net_leader(&net) == l || net_leader(&net) < 0) {
        net_ms(&net);
        assert_true(net.now_ms - t0 < 100);
    }
    int nl = net_leader(&net);
    assert_true(nl != l && nl != f);
    raft_status old = node_status(&net, l);
    assert_false(old.voter);
    assert_int_equal(old.role, RAFT_FOLLOWER);
    net_run(&net, 500);
    ls = node_status(&net, nl);
    assert_int_equal(ls.n_members, 2);
    assert_int_equal(net_propose(&net, nl, "two voters", NULL), KASSA_OK);
    net_run(&net, 200);
    /* Two voters left, one change at a time down to one. */
    int other = -1;
    for (int i = 0; i < 4; i++)
        if (i != nl && i != l && i != f)
            other = i;
    conf_change(&net, nl, RAFT_CONF_REMOVE, net.nodes[other].id);
    net_run(&net, 500);
    ls = node_status(&net, nl);
    assert_int_equal(ls.n_members, 1);
    assert_int_equal(
        raft_propose_conf_change(net.nodes[nl].r, RAFT_CONF_REMOVE, net.nodes[nl].id, NULL, &err),
        KASSA_EINVAL);
    assert_int_equal(net_propose(&net, nl, "alone", NULL), KASSA_OK);
    assert_int_equal(node_status(&net, nl).commit, node_status(&net, nl).last_index);
    net_free(&net);
}

/* A follower far behind a compacted log gets the snapshot. */
static void test_compaction_and_snapshot(void **state)
{
    (void)state;
    tnet net;
    net_init(&net, 3, 101);
    net.compact_over = 50;
    int l = net_elect(&net, 0);
    int f = (l + 1) % 3;
    node_kill(&net, f);
    for (int i = 0; i < 300; i++) {
        char text[32];
        snprintf(text, sizeof text, "r%d", i);
        assert_int_equal(net_propose(&net, l, text, NULL), KASSA_OK);
        net_run(&net, 2);
    }
    raft_status ls = node_status(&net, l);
    assert_true(ls.snapshot_index > 200);
    assert_true(ls.log_entries <= 60);
    node_start(&net, f);
    uint64_t snaps = net.snapshots_sent;
    net_run(&net, 1000);
    assert_true(net.snapshots_sent > snaps);
    net_check_converged(&net);
    assert_int_equal(net.nodes[f].sm.normals, 300);
    raft_status fs = node_status(&net, f);
    assert_true(fs.snapshot_index > 0);
    /* And it restarts from its own snapshot. */
    node_kill(&net, f);
    node_start(&net, f);
    net_run(&net, 500);
    net_check_converged(&net);

    /* Compaction refuses what is not applied. */
    kassa_err err;
    ls = node_status(&net, l);
    assert_int_equal(raft_compact(net.nodes[l].r, ls.applied + 1, NULL, 0, NULL, &err),
                     KASSA_EINVAL);
    uint8_t big[1];
    assert_int_equal(
        raft_compact(net.nodes[l].r, ls.applied, big, RAFT_SNAPSHOT_MAX + 1, NULL, &err),
        KASSA_EINVAL);
    /* Compacting to where it already is: a no-op that gives the meta. */
    raft_snapshot_meta meta;
    assert_int_equal(raft_compact(net.nodes[l].r, ls.snapshot_index, NULL, 0, &meta, &err),
                     KASSA_OK);
    assert_true(meta.index == ls.snapshot_index);
    assert_int_equal(meta.conf.n, 3);
    net_free(&net);
}

/* The log is bounded: proposals fail with EFULL until compaction. */
static void test_log_full(void **state)
{
    (void)state;
    tnet net;
    net_init(&net, 1, 111);
    net_elect(&net, 0);
    kassa_err err;
    int rc = KASSA_OK;
    int n = 0;
    while ((rc = raft_propose(net.nodes[0].r, "x", 1, NULL, &err)) == KASSA_OK) {
        net_process(&net, 0);
        n++;
    }
    assert_int_equal(rc, KASSA_EFULL);
    assert_int_equal(n, RAFT_LOG_MAX - 1);
    net.compact_over = 10;
    net_process(&net, 0);
    assert_true(node_status(&net, 0).log_entries == 0);
    assert_int_equal(net_propose(&net, 0, "after compaction", NULL), KASSA_OK);
    net_free(&net);
}

static void set_score(tnet *net, int i, int64_t score)
{
    net->nodes[i].has_score = true;
    net->nodes[i].score = score;
    if (net->nodes[i].up)
        raft_set_score(net->nodes[i].r, score);
}

/* Once stable, leadership moves to the best-scored voter; with scores
 * within the margin it stays; and it never flaps. */
static void test_preference_transfer(void **state)
{
    (void)state;
    raft_config cfg;
    raft_config_default(&cfg);
    cfg.prefer_stable_ms = 3000;
    tnet net;
    net_init_cfg(&net, 5, 5, 121, &cfg);
    int l = net_elect(&net, 0);
    /* The leader restarted twice today; the others steady, one best. */
    int best = (l + 3) % 5;
    for (int i = 0; i < 5; i++)
        set_score(&net, i, raft_stability_score(6 * 3600 * 1000ull, 0));
    set_score(&net, l, raft_stability_score(6 * 3600 * 1000ull, 2));
    set_score(&net, best, raft_stability_score(6 * 3600 * 1000ull + 60000, 0));
    net_run(&net, 1000);
    raft_status ls = node_status(&net, l);
    assert_true(ls.prefer_in_ms > 0);
    assert_string_equal(ls.preferred, net.nodes[best].id);
    for (uint32_t i = 0; i < ls.n_members; i++)
        assert_true(ls.members[i].score_known);
    net_run(&net, 2500);
    assert_int_equal(net_leader(&net), best);
    assert_int_equal(node_status(&net, l).prefer_transfers, 1);
    /* The new leader is the best by a minute only over the others, less
     * than the margin: it stays, for a long time. */
    uint64_t changes = net.leader_changes;
    net_run(&net, 30000);
    assert_int_equal(net_leader(&net), best);
    assert_int_equal(net.leader_changes, changes);
    ls = node_status(&net, best);
    assert_string_equal(ls.preferred, net.nodes[best].id);
    assert_int_equal(ls.prefer_in_ms, 0);
    /* Scores move: another node becomes clearly better; the leader
     * moves once. */
    int next = (best + 1) % 5;
    set_score(&net, next, raft_stability_score(24 * 3600 * 1000ull, 0));
    net_run(&net, 1000);
    assert_int_equal(net_leader(&net), next);
    net_run(&net, 30000);
    assert_int_equal(net_leader(&net), next);
    assert_int_equal(net.leader_changes, changes + 1);
    net_check_converged(&net);

    /* Followers see their own score only; no preference off the leader. */
    raft_status fs = node_status(&net, best);
    assert_string_equal(fs.preferred, "");
    assert_true(fs.self_score_known);
    net_free(&net);
}

static void test_stability_score(void **state)
{
    (void)state;
    assert_true(raft_stability_score(0, 0) == 0);
    assert_true(raft_stability_score(3600000, 0) == 3600);
    assert_true(raft_stability_score(48ull * 3600000, 0) == 86400);
    assert_true(raft_stability_score(48ull * 3600000, 1) == 86400 - 3600);
    assert_true(raft_stability_score(0, 1000) == -24 * 3600);
    assert_true(raft_stability_score(UINT64_MAX, UINT32_MAX) == 0);
}

/* ---- the randomized property test ---- */

typedef struct prop_stats {
    uint64_t leader_changes, kills, partitions, proposals, committed, msgs, dropped, snapshots,
        compactions, transfers, conf_changes, max_term;
} prop_stats;

static bool status_has_member(const raft_status *st, const char *id)
{
    for (uint32_t k = 0; k < st->n_members; k++)
        if (strcmp(st->members[k].id, id) == 0)
            return true;
    return false;
}

static void random_partition(tnet *net)
{
    /* Each node to side A or B. */
    int side[NET_MAX];
    for (int i = 0; i < net->n; i++)
        side[i] = (int)tu_rng_range(&net->rng, 0, 1);
    for (int i = 0; i < net->n; i++)
        for (int j = 0; j < net->n; j++)
            net->cut[i][j] = side[i] != side[j];
}

static void run_schedule(uint64_t seed, prop_stats *ps)
{
    tnet net;
    raft_config cfg;
    raft_config_default(&cfg);
    tu_rng pick;
    tu_rng_seed(&pick, seed ^ 0x5eed);
    cfg.max_entries_per_msg = (uint32_t)tu_rng_range(&pick, 1, 8);
    cfg.max_inflight = (uint32_t)tu_rng_range(&pick, 1, 4);
    cfg.prefer_stable_ms = tu_rng_chance(&pick, 50) ? 2000 : 0;
    cfg.prefer_margin = 10;
    net_init_cfg(&net, 5, 5, seed, &cfg);
    net.lat_min_ms = 1;
    net.lat_max_ms = (uint32_t)tu_rng_range(&net.rng, 1, 40);
    net.drop_pct = (int)tu_rng_range(&net.rng, 0, 10);
    net.reorder = tu_rng_chance(&net.rng, 25);
    net.compact_over = tu_rng_chance(&net.rng, 50) ? (uint32_t)tu_rng_range(&net.rng, 5, 60) : 0;
    for (int i = 0; i < net.n; i++) {
        net.nodes[i].phase_ms = (uint32_t)tu_rng_range(&net.rng, 0, TICK_MS - 1);
        if (cfg.prefer_stable_ms)
            set_score(&net, i, tu_rng_range(&net.rng, 0, 100));
    }
    net_start_all(&net);
    uint64_t end_ms = 20000;
    uint64_t next_event = 0;
    int proposed = 0;
    char text[64];
    while (net.now_ms < end_ms) {
        if (net.now_ms >= next_event) {
            next_event = net.now_ms + (uint64_t)tu_rng_range(&net.rng, 50, 1500);
            int ev = (int)tu_rng_range(&net.rng, 0, 99);
            int i = (int)tu_rng_range(&net.rng, 0, net.n - 1);
            int down = 0;
            for (int k = 0; k < net.n; k++)
                down += !net.nodes[k].up;
            if (ev < 15) {
                random_partition(&net);
                ps->partitions++;
            } else if (ev < 30) {
                net_heal(&net);
            } else if (ev < 40 && net.nodes[i].up && down < 2) {
                node_kill(&net, i);
                ps->kills++;
            } else if (ev < 50 && !net.nodes[i].up) {
                node_start(&net, i);
            } else if (ev < 55) {
                int l = net_leader(&net);
                if (l >= 0 && l != i && net.nodes[l].up) {
                    kassa_err err;
                    if (raft_transfer_leadership(net.nodes[l].r, net.nodes[i].id, &err) ==
                        KASSA_OK) {
                        net_process(&net, l);
                        ps->transfers++;
                    }
                }
            } else if (ev < 60 && cfg.prefer_stable_ms && net.nodes[i].up) {
                set_score(&net, i, tu_rng_range(&net.rng, 0, 100));
            } else if (ev < 65) {
                /* Remove a voter (keeping at least 3) or add one back. */
                int l = net_leader(&net);
                if (l >= 0) {
                    raft_status ls = node_status(&net, l);
                    bool member = status_has_member(&ls, net.nodes[i].id);
                    kassa_err err;
                    if ((member && ls.n_members > 3) || !member) {
                        raft_conf_op op = member ? RAFT_CONF_REMOVE : RAFT_CONF_ADD;
                        if (raft_propose_conf_change(net.nodes[l].r, op, net.nodes[i].id, NULL,
                                                     &err) == KASSA_OK) {
                            net_process(&net, l);
                            ps->conf_changes++;
                        }
                    }
                }
            } else {
                /* A burst of proposals on whoever believes it leads. */
                int n = (int)tu_rng_range(&net.rng, 1, 20);
                for (int k = 0; k < net.n && n > 0; k++) {
                    if (!net.nodes[k].up || net.nodes[k].role != RAFT_LEADER)
                        continue;
                    for (; n > 0; n--) {
                        snprintf(text, sizeof text, "s%llx-%d", (unsigned long long)seed,
                                 proposed++);
                        if (net_propose(&net, k, text, NULL) != KASSA_OK)
                            break;
                        ps->proposals++;
                    }
                }
            }
        }
        net_ms(&net);
    }
    /* Heal everything: a leader must come within bounded time, and
     * everything committed reaches everyone. */
    net_heal(&net);
    net.drop_pct = 0;
    for (int i = 0; i < net.n; i++)
        if (!net.nodes[i].up)
            node_start(&net, i);
    net_wait_leader(&net, 3000);
    /* Add back every node removed, one change at a time. */
    uint64_t t_add = net.now_ms;
    for (;;) {
        assert_true(net.now_ms - t_add < 20000);
        int l = net_leader(&net);
        if (l < 0) {
            net_ms(&net);
            continue;
        }
        raft_status ls = node_status(&net, l);
        if (ls.conf_pending) {
            net_ms(&net);
            continue;
        }
        if (ls.n_members == (uint32_t)net.n)
            break;
        int missing = -1;
        for (int i = 0; i < net.n && missing < 0; i++)
            if (!status_has_member(&ls, net.nodes[i].id))
                missing = i;
        kassa_err err;
        if (raft_propose_conf_change(net.nodes[l].r, RAFT_CONF_ADD, net.nodes[missing].id, NULL,
                                     &err) == KASSA_OK)
            net_process(&net, l);
        net_run(&net, 10);
    }
    int l = net_leader(&net);
    snprintf(text, sizeof text, "final %llx", (unsigned long long)seed);
    uint64_t t0 = net.now_ms;
    while (net_propose(&net, l, text, NULL) != KASSA_OK) {
        net_ms(&net);
        l = net_leader(&net) >= 0 ? net_leader(&net) : l;
        assert_true(net.now_ms - t0 < 5000);
    }
    /* One leader (a preference transfer may be under way) and everyone
     * caught up with it (slowly with one entry per message, one in flight
     * and 40 ms links). */
    t0 = net.now_ms;
    while (net_count_leaders(&net) != 1 || !net_converged(&net)) {
        net_run(&net, 10);
        if (net.now_ms - t0 >= 20000) {
            net_dump(&net);
            fail_msg("no single leader with everyone caught up 20 s after healing");
        }
    }
    net_check_converged(&net);
    net_check_proposals(&net);
    ps->leader_changes += net.leader_changes;
    ps->committed += net.nodes[0].sm.applied;
    ps->msgs += net.msgs_sent;
    ps->dropped += net.msgs_dropped;
    ps->snapshots += net.snapshots_sent;
    ps->compactions += net.compactions;
    for (int i = 0; i < net.n; i++) {
        if (node_status(&net, i).n_members != (uint32_t)net.n)
            net_dump(&net);
        assert_int_equal(node_status(&net, i).n_members, (uint32_t)net.n);
    }
    for (int i = 0; i < net.n; i++)
        if (net.nodes[i].term > ps->max_term)
            ps->max_term = net.nodes[i].term;
    net_free(&net);
}

static uint64_t g_seed;
static bool g_in_schedule;

/* A failing schedule ends the test through cmocka; say which one. */
static int report_seed(void **state)
{
    (void)state;
    if (g_in_schedule)
        print_error("failed in schedule seed %llu: replay with KASSA_RAFT_SEED=%llu "
                    "KASSA_RAFT_SEEDS=1\n",
                    (unsigned long long)g_seed, (unsigned long long)g_seed);
    g_in_schedule = false;
    return 0;
}

static void test_random_schedules(void **state)
{
    (void)state;
    const char *scale = getenv("KASSA_TEST_SCALE");
    bool asan = scale && strcmp(scale, "asan") == 0;
    uint64_t n = env_u64("KASSA_RAFT_SEEDS", asan ? 60 : 300);
    uint64_t base = env_u64("KASSA_RAFT_SEED", 0x4a17);
    g_trace_from_ms = env_u64("KASSA_RAFT_TRACE", UINT64_MAX);
    prop_stats ps;
    memset(&ps, 0, sizeof ps);
    for (uint64_t i = 0; i < n; i++) {
        g_seed = base + i;
        g_in_schedule = true;
        run_schedule(g_seed, &ps);
        g_in_schedule = false;
    }
    print_message("%llu schedules of 5 nodes (20 s each, then healed): %llu leader changes, "
                  "%llu kills, %llu partitions, %llu transfers, %llu proposals, %llu entries "
                  "committed, %llu messages (%llu dropped), %llu snapshots sent, %llu "
                  "compactions, %llu membership changes, highest term %llu\n",
                  (unsigned long long)n, (unsigned long long)ps.leader_changes,
                  (unsigned long long)ps.kills, (unsigned long long)ps.partitions,
                  (unsigned long long)ps.transfers, (unsigned long long)ps.proposals,
                  (unsigned long long)ps.committed, (unsigned long long)ps.msgs,
                  (unsigned long long)ps.dropped, (unsigned long long)ps.snapshots,
                  (unsigned long long)ps.compactions, (unsigned long long)ps.conf_changes,
                  (unsigned long long)ps.max_term);
}

/* Steady traffic for 10 simulated minutes: not one election. */
static void test_no_spurious_elections(void **state)
{
    (void)state;
    tnet net;
    net_init(&net, 5, 131);
    net.lat_min_ms = 1;
    net.lat_max_ms = 10;
    net_stagger(&net);
    net_elect(&net, 1000);
    uint64_t changes = net.leader_changes;
    uint64_t pre[NET_MAX];
    for (int i = 0; i < net.n; i++)
        pre[i] = node_status(&net, i).pre_campaigns;
    for (int s = 0; s < 600; s++) {
        int l = net_leader(&net);
        net_propose(&net, l, "steady", NULL);
        net_run(&net, 1000);
    }
    assert_int_equal(net.leader_changes, changes);
    for (int i = 0; i < net.n; i++)
        assert_int_equal(node_status(&net, i).pre_campaigns, pre[i]);
    net_check_converged(&net);
    net_free(&net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_checks),
        cmocka_unit_test(test_single_node),
        cmocka_unit_test(test_elect_3),
        cmocka_unit_test(test_elect_5),
        cmocka_unit_test(test_reelection_after_leader_stops),
        cmocka_unit_test(test_replication_and_commit),
        cmocka_unit_test(test_conflicting_log_repaired),
        cmocka_unit_test(test_stale_term_messages_ignored),
        cmocka_unit_test(test_commit_only_own_term),
        cmocka_unit_test(test_follower_commit_bounded),
        cmocka_unit_test(test_lease_ignores_votes),
        cmocka_unit_test(test_hostile_bounds),
        cmocka_unit_test(test_joining_node_compaction),
        cmocka_unit_test(test_vote_persisted_across_restart),
        cmocka_unit_test(test_restart_from_storage),
        cmocka_unit_test(test_prevote_partitioned_node_rejoins),
        cmocka_unit_test(test_check_quorum_isolated_leader),
        cmocka_unit_test(test_propose_on_follower_refused),
        cmocka_unit_test(test_leadership_transfer),
        cmocka_unit_test(test_membership_changes),
        cmocka_unit_test(test_compaction_and_snapshot),
        cmocka_unit_test(test_log_full),
        cmocka_unit_test(test_preference_transfer),
        cmocka_unit_test(test_stability_score),
        cmocka_unit_test(test_no_spurious_elections),
        cmocka_unit_test_teardown(test_random_schedules, report_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
