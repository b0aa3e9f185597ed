/* sim_queue.c: the bounded event heap (sim_queue.h). */
#include "sim_queue.h"

static bool before(const sim_event *a, const sim_event *b)
{
    return a->at_us < b->at_us || (a->at_us == b->at_us && a->seq < b->seq);
}

void sim_queue_reset(sim_queue *q)
{
    q->n = 0;
    q->next_seq = 0;
}

void sim_queue_push(sim_queue *q, uint64_t at_us, sim_event_kind kind, int node, uint32_t arg)
{
    SIM_ASSERT(q->n < SIM_QUEUE_MAX); /* SIM_QUEUE_MAX too small for this seed */
    SIM_ASSERT(node >= -1 && node < SIM_NODES_MAX);
    sim_event e = {.at_us = at_us,
                   .seq = q->next_seq++,
                   .kind = (uint8_t)kind,
                   .node = (int8_t)node,
                   .arg = arg};
    size_t i = q->n++;
    /* Sift up: at most log2(SIM_QUEUE_MAX) steps. */
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&e, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = e;
}

bool sim_queue_pop(sim_queue *q, sim_event *out)
{
    if (q->n == 0)
        return false;
    *out = q->heap[0];
    sim_event last = q->heap[--q->n];
    size_t i = 0;
    /* Sift down: at most log2(SIM_QUEUE_MAX) steps. */
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const sim_event *best = &last;
        if (l < q->n && before(&q->heap[l], best)) {
            m = l;
            best = &q->heap[l];
        }
        if (r < q->n && before(&q->heap[r], best))
            m = r;
        if (m == i)
            break;
        q->heap[i] = q->heap[m];
        i = m;
    }
    if (q->n > 0)
        q->heap[i] = last;
    return true;
}

const char *sim_event_name(int kind)
{
    switch (kind) {
    case SIM_EV_DELIVER:
        return "deliver";
    case SIM_EV_TICK:
        return "tick";
    case SIM_EV_PUMP:
        return "pump";
    case SIM_EV_WORK:
        return "work";
    case SIM_EV_FAULT:
        return "fault";
    case SIM_EV_HEAL:
        return "heal";
    case SIM_EV_RESTART:
        return "restart";
    case SIM_EV_CHECK:
        return "check";
    case SIM_EV_FINAL:
        return "final";
    default:
        return "?";
    }
}
