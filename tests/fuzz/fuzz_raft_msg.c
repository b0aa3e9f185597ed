/*
 * Fuzz target for Raft messages: raft_msg_decode on untrusted bytes, then
 * the decoded message stepped into a Raft node.
 *
 * Invariants:
 *  - decoding fails with KASSA_ECORRUPT and a one-line printable reason,
 *    leaving the message zeroed; or it succeeds with a message that passes
 *    raft_msg_check and re-encodes to exactly the input bytes (one
 *    encoding per message), and decodes again to the same encoding;
 *  - stepping any accepted message (addressed to the node) into a follower
 *    and into a leader of a 3-node cluster never trips an internal
 *    assertion: it returns KASSA_OK or KASSA_ECORRUPT, and the ready loop
 *    that follows hands out only well-formed messages (they pass
 *    raft_msg_check) and never moves the term, commit or applied index
 *    backwards.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"
#include "testutil.h"

static raft_msg_buf g_buf;
static raft_msg_buf g_buf2;

static uint32_t fixed_rand(void *ctx)
{
    uint32_t *s = ctx;
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void drain(raft *r)
{
    kassa_err err;
    for (int guard = 0; raft_has_ready(r); guard++) {
        tu_check(guard < 100);
        raft_ready rd;
        tu_check(raft_ready_get(r, &rd, &err) == KASSA_OK);
        for (size_t i = 0; i < rd.n_msgs; i++)
            tu_check(raft_msg_check(&rd.msgs[i], &err) == KASSA_OK);
        tu_check(raft_advance(r, &rd, &err) == KASSA_OK);
    }
}

/* Node "b" of {a, b, c} with a log of three entries (terms 1, 2, 2),
 * commit 1, at term 2; as a leader when lead is set (elected at term 3
 * with c's vote). */
static raft *node_new(bool lead, uint32_t *seed)
{
    raft_config cfg;
    raft_config_default(&cfg);
    memcpy(cfg.id, "b", 2);
    cfg.rand = fixed_rand;
    cfg.rand_ctx = seed;
    raft_entry *e = calloc(3, sizeof *e);
    tu_check(e != NULL);
    for (int i = 0; i < 3; i++) {
        e[i].index = (uint64_t)i + 1;
        e[i].term = i == 0 ? 1 : 2;
        e[i].type = RAFT_ENTRY_NORMAL;
        e[i].len = 1;
        e[i].data[0] = 'x';
    }
    raft_restored rs;
    memset(&rs, 0, sizeof rs);
    rs.hard.term = 2;
    rs.hard.commit = 1;
    rs.snapshot.conf.n = 3;
    for (int i = 0; i < 3; i++)
        rs.snapshot.conf.ids[i][0] = (char)('a' + i);
    rs.entries = e;
    rs.n_entries = 3;
    raft *r;
    kassa_err err;
    tu_check(raft_new(&cfg, &rs, &r, &err) == KASSA_OK);
    free(e);
    raft_set_score(r, 42);
    if (!lead)
        return r;
    tu_check(raft_campaign(r, &err) == KASSA_OK);
    drain(r);
    raft_msg m;
    memset(&m, 0, sizeof m);
    memcpy(m.from, "c", 2);
    memcpy(m.to, "b", 2);
    m.type = RAFT_MSG_PREVOTE_RESP;
    m.term = 3;
    tu_check(raft_step(r, &m, &err) == KASSA_OK);
    drain(r);
    m.type = RAFT_MSG_VOTE_RESP;
    tu_check(raft_step(r, &m, &err) == KASSA_OK);
    drain(r);
    raft_status st;
    raft_status_get(r, &st);
    tu_check(st.role == RAFT_LEADER);
    return r;
}

static void step_into(bool lead, const raft_msg *in)
{
    raft_msg m = *in;
    memset(m.to, 0, sizeof m.to);
    memcpy(m.to, "b", 2);
    if (strcmp(m.from, "b") == 0)
        return;
    uint32_t seed = 7;
    raft *r = node_new(lead, &seed);
    raft_status before, after;
    raft_status_get(r, &before);
    kassa_err err;
    int rc = raft_step(r, &m, &err);
    tu_check(rc == KASSA_OK || rc == KASSA_ECORRUPT);
    if (rc != KASSA_OK)
        tu_check_msg(err.msg, sizeof err.msg);
    drain(r);
    /* A few ticks and a proposal exercise what the message left behind. */
    for (int i = 0; i < 60; i++) {
        tu_check(raft_tick(r, &err) == KASSA_OK);
        drain(r);
    }
    if (raft_propose(r, "y", 1, NULL, &err) == KASSA_OK)
        drain(r);
    raft_status_get(r, &after);
    tu_check(after.term >= before.term);
    tu_check(after.commit >= before.commit);
    tu_check(after.applied >= before.applied);
    tu_check(after.applied <= after.commit && after.commit <= after.last_index);
    raft_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    raft_msg m;
    kassa_err err;
    memset(&err, 0xa5, sizeof err);
    int rc = raft_msg_decode(data, size, &m, &g_buf, &err);
    if (rc != KASSA_OK) {
        tu_check(rc == KASSA_ECORRUPT);
        tu_check(err.code == rc);
        tu_check_msg(err.msg, sizeof err.msg);
        tu_check(m.type == 0 && m.entries == NULL && m.snapshot == NULL);
        return 0;
    }
    tu_check(raft_msg_check(&m, &err) == KASSA_OK);
    kbuf b;
    kbuf_init(&b);
    tu_check(raft_msg_encode(&m, &b, &err) == KASSA_OK);
    tu_check(b.len == size && memcmp(b.data, data, size) == 0);
    raft_msg again;
    tu_check(raft_msg_decode(b.data, b.len, &again, &g_buf2, &err) == KASSA_OK);
    kbuf_free(&b);
    step_into(false, &m);
    step_into(true, &m);
    return 0;
}
