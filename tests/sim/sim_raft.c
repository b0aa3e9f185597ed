/*
 * sim_raft.c: the Raft seam (sim_raft.h) over the real core (src/raft),
 * embedded as kassad embeds it (src/kassad/coord.c):
 *  - open: term_raft_load (hard state and log, from the terminal's own
 *    database), the store's terminals T1..Tn as founding configuration,
 *    applied = the persisted commit index, raft_new; randomness from the
 *    seed (cfg.rand), the default timings (tick 10 ms, heartbeat 150 ms,
 *    election [300, 500) ms, PreVote and CheckQuorum on);
 *  - a ready: persist (term_raft_save: hard state and entries in one
 *    durable transaction, synchronous=FULL), then hand out the encoded
 *    messages (raft_msg_encode), then the committed entries (applied: the
 *    simulator checks them), then raft_advance;
 *  - a message: raft_msg_decode, the link's sender and this node must be
 *    the message's, raft_step;
 *  - a crash: raft_free, nothing more is persisted.
 * Unlike coord.c, which logs a refused message and carries on, anything
 * the core refuses (a bad frame, a refused step, a failed save) is
 * reported by the next sim_raft_ready_take and fails the seed as
 * raft-error: every sender here is an honest member, so a refusal is a
 * bug of the core or of this embedding.
 */
#include "sim_raft.h"

#include "raft/raft.h"
#include "raftstore/raftstore.h"
#include "testutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_raft {
    term *t;
    int self, n;
    char names[SIM_NODES_MAX][RAFT_ID_SIZE];
    raft *r;
    tu_rng rng;
    bool forget_vote; /* the injected bug: see sim_raft_open */
    bool forgot_vote; /* since the last ready */
    /* As the last ready said. */
    raft_soft_state soft;
    uint64_t commit;
    uint64_t restored_commit; /* the persisted one, at the last load */
    /* The first refusal since the last ready, reported by the next one. */
    bool refused;
    kassa_err refusal;
    raft_msg_buf buf; /* decoding one message */
    kbuf out;         /* the encoded messages of one ready, back to back */
    size_t out_off[SIM_RAFT_OUT_MAX];
    raftstore_scratch *save; /* entries of one ready, for storage */
    raftstore_log *loaded;   /* the log read at open */
    /* The committed entries handed out by the last ready (their data). */
    raft_entry *committed;
};

bool sim_raft_present(void)
{
    return true;
}

static uint32_t member_rand(void *ctx)
{
    sim_raft *m = ctx;
    return (uint32_t)(tu_rng_next(&m->rng) >> 32);
}

static int node_of(const sim_raft *m, const char *id)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->names[i], id) == 0)
            return i;
    return -1;
}

static void member_free(sim_raft *m)
{
    if (!m)
        return;
    raft_free(m->r);
    kbuf_free(&m->out);
    free(m->save);
    free(m->loaded);
    free(m->committed);
    free(m);
}

/* raft_new from what the terminal's database holds (coord.c's start). */
static int member_load(sim_raft *m, uint64_t seed, kassa_err *err)
{
    /* The founding configuration: T1..Tn (kassad's is its roster). */
    raft_conf founding = {.n = (uint32_t)m->n};
    for (int i = 0; i < m->n; i++)
        memcpy(founding.ids[i], m->names[i], RAFT_ID_SIZE);
    raft_restored st;
    int rc = raftstore_restore(m->t, &founding, m->loaded, &st, err);
    if (rc != KASSA_OK)
        return rc;
    const uint64_t persisted_term = st.hard.term, persisted_commit = st.hard.commit;
    if (m->forget_vote)
        /* The injected bug: the vote persisted in this term is not read
         * back, so the member may grant a second one in the same term. */
        st.hard.vote[0] = 0;

    raft_config cfg;
    raft_config_default(&cfg); /* tick 10, heartbeat 150, election [300, 500) */
    snprintf(cfg.id, sizeof cfg.id, "%s", m->names[m->self]);
    tu_rng_seed(&m->rng, seed);
    cfg.rand = member_rand;
    cfg.rand_ctx = m;
    SIM_ASSERT(cfg.tick_ms == SIM_RAFT_TICK_MS);

    rc = raft_new(&cfg, &st, &m->r, err);
    if (rc != KASSA_OK)
        return rc;
    m->soft.role = RAFT_FOLLOWER;
    m->soft.term = persisted_term;
    m->soft.leader[0] = 0;
    m->commit = persisted_commit;
    m->restored_commit = persisted_commit;
    return KASSA_OK;
}

int sim_raft_open(term *t, int self, int n_nodes, uint64_t seed, bool forget_vote, sim_raft **out,
                  kassa_err *err)
{
    SIM_ASSERT(t && self >= 0 && self < n_nodes && n_nodes <= SIM_NODES_MAX);
    SIM_ASSERT(n_nodes <= RAFT_MEMBERS_MAX);
    *out = NULL;
    sim_raft *m = calloc(1, sizeof *m);
    if (!m)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    m->t = t;
    m->self = self;
    m->n = n_nodes;
    m->forget_vote = forget_vote;
    for (int i = 0; i < n_nodes; i++)
        snprintf(m->names[i], sizeof m->names[i], "T%d", i + 1);
    kbuf_init(&m->out);
    m->save = malloc(sizeof *m->save);
    m->loaded = malloc(sizeof *m->loaded);
    m->committed = calloc(SIM_RAFT_COMMITTED_MAX, sizeof *m->committed);
    if (!m->save || !m->loaded || !m->committed) {
        member_free(m);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    }
    int rc = member_load(m, seed, err);
    if (rc != KASSA_OK) {
        member_free(m);
        return rc;
    }
    *out = m;
    return KASSA_OK;
}

void sim_raft_crash(sim_raft *m)
{
    member_free(m);
}

static void refuse(sim_raft *m, const char *what, const kassa_err *e)
{
    if (m->refused)
        return;
    m->refused = true;
    kassa_fail(&m->refusal, e->code, "%s: %s", what, e->msg);
}

void sim_raft_tick(sim_raft *m)
{
    SIM_ASSERT(m);
    kassa_err err;
    if (raft_tick(m->r, &err) != KASSA_OK)
        refuse(m, "raft_tick", &err);
}

void sim_raft_step(sim_raft *m, int from, const uint8_t *msg, size_t len)
{
    SIM_ASSERT(m && from >= 0 && from < m->n && from != m->self);
    raft_msg rm;
    kassa_err err;
    if (raft_msg_decode(msg, len, &rm, &m->buf, &err) != KASSA_OK) {
        char what[64];
        snprintf(what, sizeof what, "undecodable message from %s", m->names[from]);
        refuse(m, what, &err);
        return;
    }
    /* The link names the sender: a message naming another sender or
     * receiver is refused, whatever it says (coord.c). */
    if (strcmp(rm.from, m->names[from]) != 0 || strcmp(rm.to, m->names[m->self]) != 0) {
        kassa_fail(&err, KASSA_ECORRUPT, "from %s to %s", rm.from, rm.to);
        refuse(m, "message from or to another node than the link's", &err);
        return;
    }
    if (m->forget_vote && rm.type == RAFT_MSG_VOTE) {
        raft_status st;
        raft_status_get(m->r, &st);
        if (rm.term == st.term && st.vote[0] && strcmp(st.vote, rm.from) != 0) {
            /* The injected bug, at its worst moment: a vote request for
             * the term this member already voted in, for another
             * candidate. The member restarts on the spot (a crash of the
             * Raft member alone: nothing is lost, every ready was
             * persisted) and comes back without its vote. */
            m->forgot_vote = true;
            raft_free(m->r);
            m->r = NULL;
            if (member_load(m, tu_rng_next(&m->rng), &err) != KASSA_OK) {
                refuse(m, "forget-vote restart", &err);
                return;
            }
        }
    }
    if (raft_step(m->r, &rm, &err) != KASSA_OK) {
        char what[96];
        snprintf(what, sizeof what, "%s refused the %s of %s", m->names[m->self],
                 raft_msg_type_name(rm.type), m->names[from]);
        refuse(m, what, &err);
    }
}

/* Step 1 of the loop: what rd asks for, in one durable transaction. */

static void entry_digest(const raft_entry *e, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, &e->type, 1);
    crypto_generichash_update(&st, e->data, e->len);
    crypto_generichash_final(&st, out, 32);
}

static void committed_of(const raft_entry *e, sim_raft_committed *c)
{
    c->index = e->index;
    c->term = e->term;
    c->type = e->type;
    c->data = e->data;
    c->len = e->len;
    entry_digest(e, c->digest);
}

static void fill_state(const sim_raft *m, sim_raft_ready *out)
{
    out->leader = m->soft.role == RAFT_LEADER;
    out->term = m->soft.term;
    out->role = raft_role_name(m->soft.role);
    out->leader_node = m->soft.leader[0] ? node_of(m, m->soft.leader) : -1;
    out->commit_index = m->commit;
}

int sim_raft_ready_take(sim_raft *m, sim_raft_ready *out, kassa_err *err)
{
    SIM_ASSERT(m);
    out->n_msgs = 0;
    out->n_committed = 0;
    out->more = false;
    out->forgot_vote = m->forgot_vote;
    m->forgot_vote = false;
    fill_state(m, out);
    if (m->refused) {
        m->refused = false;
        *err = m->refusal;
        return err->code;
    }
    if (!raft_has_ready(m->r))
        return KASSA_OK;
    raft_ready rd;
    int rc = raft_ready_get(m->r, &rd, err);
    if (rc != KASSA_OK)
        return rc;
    /* 1. persist: nothing leaves before it is durable. A failure fails the
     * seed (the daemon would keep the ready and retry; nothing here makes
     * storage fail). */
    if ((rc = raftstore_persist(m->t, &rd, m->save, err)) != KASSA_OK)
        return rc;
    /* 2. the messages, encoded; the pointers once the buffer stops moving. */
    SIM_ASSERT(rd.n_msgs <= SIM_RAFT_OUT_MAX);
    kbuf_reset(&m->out);
    size_t n = 0;
    for (size_t i = 0; i < rd.n_msgs; i++) {
        const raft_msg *rm = &rd.msgs[i];
        int to = node_of(m, rm->to);
        SIM_ASSERT(to >= 0 && to != m->self);
        size_t before = m->out.len;
        if ((rc = raft_msg_encode(rm, &m->out, err)) != KASSA_OK)
            return rc;
        SIM_ASSERT(!m->out.oom);
        m->out_off[n] = before;
        out->msgs[n].to = to;
        out->msgs[n].len = m->out.len - before;
        n++;
    }
    for (size_t i = 0; i < n; i++)
        out->msgs[i].bytes = m->out.data + m->out_off[i];
    out->n_msgs = n;
    /* 3. apply: the committed entries go to the checker. */
    SIM_ASSERT(rd.n_committed <= SIM_RAFT_COMMITTED_MAX);
    for (size_t i = 0; i < rd.n_committed; i++) {
        const raft_entry *e = &rd.committed[i];
        raft_entry *keep = &m->committed[i];
        *keep = *e;
        committed_of(keep, &out->committed[i]);
    }
    out->n_committed = rd.n_committed;
    m->soft = rd.soft;
    if (rd.has_hard_state)
        m->commit = rd.hard_state.commit;
    /* 4. advance. */
    if ((rc = raft_advance(m->r, &rd, err)) != KASSA_OK)
        return rc;
    fill_state(m, out);
    out->more = raft_has_ready(m->r);
    return KASSA_OK;
}

size_t sim_raft_restored(const sim_raft *m, uint64_t *commit, sim_raft_committed *out, size_t max)
{
    SIM_ASSERT(m);
    *commit = m->restored_commit;
    size_t n = 0;
    for (size_t i = 0;
         i < m->loaded->n && n < max && m->loaded->entries[i].index <= m->restored_commit; i++)
        committed_of(&m->loaded->entries[i], &out[n++]);
    return n;
}

int sim_raft_propose(sim_raft *m, const uint8_t *data, size_t len, kassa_err *err)
{
    SIM_ASSERT(m);
    return raft_propose(m->r, data, len, NULL, err);
}
