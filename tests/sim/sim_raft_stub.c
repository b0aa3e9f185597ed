/*
 * sim_raft_stub.c: the Raft seam (sim_raft.h) with nothing behind it,
 * until the core in src/raft settles. Every call succeeds and does
 * nothing: no messages, no leader, nothing committed. The simulator runs
 * every other part of a store through it, and reports the Raft invariants
 * as not checked because sim_raft_present() is false.
 */
#include "sim_raft.h"

#include <stdlib.h>
#include <string.h>

struct sim_raft {
    int self;
};

bool sim_raft_present(void)
{
    return false;
}

int sim_raft_open(term *t, int self, int n_nodes, uint64_t seed, sim_raft **out, kassa_err *err)
{
    (void)t;
    (void)seed;
    SIM_ASSERT(self >= 0 && self < n_nodes && n_nodes <= SIM_NODES_MAX);
    sim_raft *r = calloc(1, sizeof *r);
    if (!r)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    r->self = self;
    *out = r;
    return KASSA_OK;
}

void sim_raft_crash(sim_raft *r)
{
    free(r);
}

void sim_raft_tick(sim_raft *r)
{
    SIM_ASSERT(r);
}

void sim_raft_step(sim_raft *r, int from, const uint8_t *msg, size_t len)
{
    (void)msg;
    (void)len;
    SIM_ASSERT(r && from >= 0 && from < SIM_NODES_MAX && from != r->self);
}

int sim_raft_ready_take(sim_raft *r, sim_raft_ready *out, kassa_err *err)
{
    (void)err;
    SIM_ASSERT(r);
    out->n_msgs = 0;
    out->leader = false;
    out->term = 0;
    out->commit_index = 0;
    out->n_committed = 0;
    out->more = false;
    return KASSA_OK;
}

int sim_raft_propose(sim_raft *r, const uint8_t *data, size_t len, kassa_err *err)
{
    (void)data;
    (void)len;
    SIM_ASSERT(r);
    return kassa_fail(err, KASSA_ECONFLICT, "no Raft core: not the leader");
}
