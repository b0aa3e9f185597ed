/* sim_net.c: paths, faults and messages in flight (sim_net.h). */
#include "sim.h"

#include <string.h>

/* A clean path: the local network of a shop, 100-300 us. */
#define CLEAN_DELAY_MIN_US 100
#define CLEAN_DELAY_MAX_US 300

void sim_net_reset(sim_net *net)
{
    net->reorder = false;
    for (int a = 0; a < SIM_EP_MAX; a++)
        for (int b = 0; b < SIM_EP_MAX; b++)
            net->path[a][b] =
                (sim_path){.delay_min_us = CLEAN_DELAY_MIN_US, .delay_max_us = CLEAN_DELAY_MAX_US};
    net->n_free = SIM_MSGS_MAX;
    for (uint32_t i = 0; i < SIM_MSGS_MAX; i++) {
        /* Lowest slots first: pop takes from the end. */
        net->free_slot[i] = SIM_MSGS_MAX - 1 - i;
        net->msg[i].used = false;
        kbuf_reset(&net->msg[i].data);
    }
    net->next_id = 1;
    memset(&net->stats, 0, sizeof net->stats);
}

void sim_net_free(sim_net *net)
{
    for (size_t i = 0; i < SIM_MSGS_MAX; i++)
        kbuf_free(&net->msg[i].data);
}

const char *sim_msg_kind_name(int kind)
{
    switch (kind) {
    case SIM_MSG_PEER:
        return "frame";
    case SIM_MSG_RST:
        return "reset";
    case SIM_MSG_CLOUD_PROBE:
        return "probe";
    case SIM_MSG_CLOUD_UP:
        return "upload";
    case SIM_MSG_CLOUD_ACK:
        return "cloud-ack";
    default:
        return "?";
    }
}

static uint32_t slot_take(sim_net *net)
{
    SIM_ASSERT(net->n_free > 0); /* SIM_MSGS_MAX too small for this seed */
    uint32_t slot = net->free_slot[--net->n_free];
    SIM_ASSERT(slot < SIM_MSGS_MAX && !net->msg[slot].used);
    return slot;
}

void sim_net_release(sim_net *net, sim_msg *m)
{
    SIM_ASSERT(m->used);
    size_t slot = (size_t)(m - net->msg);
    SIM_ASSERT(slot < SIM_MSGS_MAX && net->n_free < SIM_MSGS_MAX);
    m->used = false;
    kbuf_reset(&m->data);
    net->free_slot[net->n_free++] = (uint32_t)slot;
}

static void schedule_copy(sim_world *w, sim_path *p, int from, int to, sim_msg_kind kind,
                          uint32_t conn, uint64_t id, const uint8_t *data, size_t len)
{
    sim_net *net = &w->net;
    uint32_t slot = slot_take(net);
    sim_msg *m = &net->msg[slot];
    m->used = true;
    m->kind = (uint8_t)kind;
    m->from = (uint8_t)from;
    m->to = (uint8_t)to;
    m->conn = conn;
    m->id = id;
    kbuf_reset(&m->data);
    if (len)
        kbuf_put(&m->data, data, len);
    SIM_ASSERT(!m->data.oom);
    SIM_ASSERT(p->delay_min_us <= p->delay_max_us);
    uint64_t at =
        w->clock.now_us + (uint64_t)sim_draw(&w->rng_net, p->delay_min_us, p->delay_max_us);
    if (!net->reorder) {
        /* FIFO per path: never before the previous message on it. */
        if (at <= p->fifo_us)
            at = p->fifo_us + 1;
        p->fifo_us = at;
    }
    sim_queue_push(&w->queue, at, SIM_EV_DELIVER, -1, slot);
}

void sim_net_send(sim_world *w, int from, int to, sim_msg_kind kind, uint32_t conn,
                  const uint8_t *data, size_t len)
{
    SIM_ASSERT(from >= 0 && from < SIM_EP_MAX && to >= 0 && to < SIM_EP_MAX && from != to);
    sim_net *net = &w->net;
    sim_path *p = &net->path[from][to];
    uint64_t id = net->next_id++;
    net->stats.sent++;
    if (p->cut) {
        net->stats.cut++;
        sim_trace(w, from, "send #%llu %s to %s: cut, lost", (unsigned long long)id,
                  sim_msg_kind_name(kind), to == SIM_EP_CLOUD ? "cloud" : w->node[to].name);
        return;
    }
    if (p->loss_pct && sim_draw(&w->rng_net, 0, 99) < p->loss_pct) {
        net->stats.lost++;
        sim_trace(w, from, "send #%llu %s to %s: lost", (unsigned long long)id,
                  sim_msg_kind_name(kind), to == SIM_EP_CLOUD ? "cloud" : w->node[to].name);
        return;
    }
    int copies = 1;
    if (p->dup_pct && sim_draw(&w->rng_net, 0, 99) < p->dup_pct) {
        copies = 2;
        net->stats.duplicated++;
    }
    for (int c = 0; c < copies; c++)
        schedule_copy(w, p, from, to, kind, conn, id, data, len);
}

sim_msg *sim_net_arrive(sim_world *w, uint32_t slot)
{
    sim_net *net = &w->net;
    SIM_ASSERT(slot < SIM_MSGS_MAX);
    sim_msg *m = &net->msg[slot];
    SIM_ASSERT(m->used);
    const char *to = m->to == SIM_EP_CLOUD ? "cloud" : w->node[m->to].name;
    const char *from = m->from == SIM_EP_CLOUD ? "cloud" : w->node[m->from].name;
    if (net->path[m->from][m->to].cut) {
        net->stats.cut++;
        sim_trace(w, -1, "#%llu %s %s -> %s: cut in flight, lost", (unsigned long long)m->id,
                  sim_msg_kind_name(m->kind), from, to);
        sim_net_release(net, m);
        return NULL;
    }
    if (m->to != SIM_EP_CLOUD && !w->node[m->to].up) {
        net->stats.to_down++;
        sim_trace(w, -1, "#%llu %s %s -> %s: %s is down, lost", (unsigned long long)m->id,
                  sim_msg_kind_name(m->kind), from, to, to);
        sim_net_release(net, m);
        return NULL;
    }
    net->stats.delivered++;
    return m;
}
