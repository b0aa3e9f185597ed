/* sim_fault.c: the fault scheduler (sim_fault.h). */
#include "sim.h"

#include <string.h>

static const struct {
    const char *name;
    unsigned bit;
} KINDS[] = {
    {"delay", SIM_F_DELAY},     {"loss", SIM_F_LOSS},           {"dup", SIM_F_DUP},
    {"reorder", SIM_F_REORDER}, {"partition", SIM_F_PARTITION}, {"asym", SIM_F_ASYM},
    {"crash", SIM_F_CRASH},     {"skew", SIM_F_SKEW},
};

/* Initial wall clock error with skew: past the 60 s an HLC accepts from a
 * peer (HLC_DEFAULT_MAX_SKEW_MS), so clamping happens. */
#define SKEW_MAX_MS 90000
#define JUMP_MAX_MS 60000
/* A partition or cut lasts this long, a crashed node stays down this long
 * (unless it waits for the final phase). */
#define CUT_MIN_MS 20
#define CUT_MAX_MS 800
#define DOWN_MIN_MS 5
#define DOWN_MAX_MS 300
/* Between two faults. */
#define FAULT_GAP_MIN_MS 10
#define FAULT_GAP_MAX_MS 60

bool sim_faults_parse(const char *text, unsigned *out, char *bad, size_t bad_size)
{
    unsigned set = 0;
    const char *p = text;
    /* One word per pass; words are at least one byte: bounded by the text. */
    while (*p) {
        size_t len = strcspn(p, ",");
        bool known = false;
        if ((len == 3 && strncmp(p, "all", 3) == 0)) {
            set |= SIM_F_ALL;
            known = true;
        } else if (len == 4 && strncmp(p, "none", 4) == 0) {
            known = true;
        }
        for (size_t k = 0; k < KASSA_ARRAY_LEN(KINDS) && !known; k++) {
            if (strlen(KINDS[k].name) == len && strncmp(p, KINDS[k].name, len) == 0) {
                set |= KINDS[k].bit;
                known = true;
            }
        }
        if (!known) {
            snprintf(bad, bad_size, "%.*s", (int)len, p);
            return false;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    *out = set;
    return true;
}

void sim_faults_format(unsigned faults, char *out, size_t size)
{
    SIM_ASSERT(size > 0);
    if (faults == SIM_F_ALL) {
        snprintf(out, size, "all");
        return;
    }
    if (faults == 0) {
        snprintf(out, size, "none");
        return;
    }
    size_t used = 0;
    out[0] = 0;
    for (size_t k = 0; k < KASSA_ARRAY_LEN(KINDS); k++) {
        if (!(faults & KINDS[k].bit))
            continue;
        int n = snprintf(out + used, size - used, "%s%s", used ? "," : "", KINDS[k].name);
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
}

static const char *ep_name(const sim_world *w, int ep)
{
    return ep == SIM_EP_CLOUD ? "cloud" : w->node[ep].name;
}

/* The endpoints of this run: the nodes, then the cloud. */
static int ep_at(const sim_world *w, int k)
{
    return k < w->p.n ? k : SIM_EP_CLOUD;
}

static void draw_path(sim_world *w, sim_path *p, unsigned active)
{
    if (active & SIM_F_DELAY) {
        p->delay_min_us = (uint32_t)sim_draw(&w->rng_fault, 100, 2000);
        p->delay_max_us = p->delay_min_us + (uint32_t)sim_draw(&w->rng_fault, 0, 20000);
    }
    if (active & SIM_F_LOSS)
        p->loss_pct = (uint8_t)sim_draw(&w->rng_fault, 0, 15);
    if (active & SIM_F_DUP)
        p->dup_pct = (uint8_t)sim_draw(&w->rng_fault, 0, 10);
}

void sim_fault_start(sim_world *w)
{
    /* Each chosen kind is active in three seeds out of four, so the seeds
     * also cover runs without one or other of them. */
    unsigned active = 0;
    for (size_t k = 0; k < KASSA_ARRAY_LEN(KINDS); k++)
        if (sim_draw(&w->rng_fault, 0, 3) != 0)
            active |= KINDS[k].bit;
    active &= w->cfg.faults;
    w->active_faults = active;
    char text[128];
    sim_faults_format(active, text, sizeof text);
    sim_note(w, -1, "faults active in this seed: %s", text);
    w->net.reorder = (active & SIM_F_REORDER) != 0;
    for (int a = 0; a <= w->p.n; a++)
        for (int b = 0; b <= w->p.n; b++)
            if (a != b)
                draw_path(w, &w->net.path[ep_at(w, a)][ep_at(w, b)], active);
    for (int i = 0; i < w->p.n; i++) {
        sim_node_clock *c = &w->clock.node[i];
        if (active & SIM_F_SKEW) {
            c->offset_ms = sim_draw(&w->rng_fault, -SKEW_MAX_MS, SKEW_MAX_MS);
            c->drift_ppm = (int32_t)sim_draw(&w->rng_fault, -SIM_DRIFT_PPM_MAX, SIM_DRIFT_PPM_MAX);
        }
        sim_note(w, i, "wall clock off by %+.3f s, rate %+d ppm", (double)c->offset_ms / 1000.0,
                 c->drift_ppm);
    }
}

static void clear_cuts(sim_world *w)
{
    for (int a = 0; a < SIM_EP_MAX; a++)
        for (int b = 0; b < SIM_EP_MAX; b++)
            w->net.path[a][b].cut = false;
}

static void schedule_heal(sim_world *w)
{
    uint64_t ms = (uint64_t)sim_draw(&w->rng_fault, CUT_MIN_MS, CUT_MAX_MS);
    sim_queue_push(&w->queue, w->clock.now_us + ms * 1000, SIM_EV_HEAL, -1, w->cut_number);
}

static void partition(sim_world *w)
{
    int eps = w->p.n + 1;
    int side[SIM_EP_MAX];
    /* Both sides non-empty: the first endpoint on side 0, some other on 1. */
    int forced = (int)sim_draw(&w->rng_fault, 1, eps - 1);
    for (int k = 0; k < eps; k++)
        side[k] = k == 0 ? 0 : k == forced ? 1 : (int)sim_draw(&w->rng_fault, 0, 1);
    clear_cuts(w);
    w->cut_number++;
    char text[160] = "";
    size_t used = 0;
    for (int s = 0; s < 2; s++) {
        for (int k = 0; k < eps; k++) {
            if (side[k] != s)
                continue;
            int n = snprintf(text + used, sizeof text - used, "%s ", ep_name(w, ep_at(w, k)));
            if (n > 0 && (size_t)n < sizeof text - used)
                used += (size_t)n;
        }
        if (s == 0 && used + 3 < sizeof text)
            used += (size_t)snprintf(text + used, sizeof text - used, "| ");
    }
    for (int a = 0; a < eps; a++)
        for (int b = 0; b < eps; b++)
            if (side[a] != side[b])
                w->net.path[ep_at(w, a)][ep_at(w, b)].cut = true;
    sim_note(w, -1, "FAULT partition #%u: %s", w->cut_number, text);
    schedule_heal(w);
}

static void asymmetric(sim_world *w)
{
    int eps = w->p.n + 1;
    int pairs = (int)sim_draw(&w->rng_fault, 1, 3);
    clear_cuts(w);
    w->cut_number++;
    char text[160] = "";
    size_t used = 0;
    for (int k = 0; k < pairs; k++) {
        int a = (int)sim_draw(&w->rng_fault, 0, eps - 1);
        int b = (int)sim_draw(&w->rng_fault, 0, eps - 2);
        if (b >= a)
            b++;
        int from = ep_at(w, a), to = ep_at(w, b);
        w->net.path[from][to].cut = true;
        int n =
            snprintf(text + used, sizeof text - used, "%s->%s ", ep_name(w, from), ep_name(w, to));
        if (n > 0 && (size_t)n < sizeof text - used)
            used += (size_t)n;
    }
    sim_note(w, -1, "FAULT asymmetric cut #%u: %s(the other directions work)", w->cut_number, text);
    schedule_heal(w);
}

static void crash(sim_world *w)
{
    int live[SIM_NODES_MAX], n_live = 0;
    for (int i = 0; i < w->p.n; i++)
        if (w->node[i].up)
            live[n_live++] = i;
    int pick = (int)sim_draw(&w->rng_fault, 0, SIM_NODES_MAX - 1);
    bool until_final = sim_draw(&w->rng_fault, 0, 4) == 0;
    uint64_t down_ms = (uint64_t)sim_draw(&w->rng_fault, DOWN_MIN_MS, DOWN_MAX_MS);
    if (n_live == 0)
        return;
    sim_node *nd = &w->node[live[pick % n_live]];
    sim_note(w, nd->id, "FAULT crash (power cut)%s",
             until_final ? ", down until the final phase" : "");
    sim_node_crash(w, nd);
    if (!until_final)
        sim_queue_push(&w->queue, w->clock.now_us + down_ms * 1000, SIM_EV_RESTART, nd->id,
                       nd->life);
}

static void clock_jump(sim_world *w)
{
    int i = (int)sim_draw(&w->rng_fault, 0, w->p.n - 1);
    int64_t jump = sim_draw(&w->rng_fault, -JUMP_MAX_MS, JUMP_MAX_MS);
    w->clock.node[i].offset_ms += jump;
    sim_note(w, i, "FAULT wall clock jumps %+.3f s (now off by %+.3f s)", (double)jump / 1000.0,
             (double)w->clock.node[i].offset_ms / 1000.0);
}

static void path_change(sim_world *w, unsigned active)
{
    int eps = w->p.n + 1;
    int a = (int)sim_draw(&w->rng_fault, 0, eps - 1);
    int b = (int)sim_draw(&w->rng_fault, 0, eps - 2);
    if (b >= a)
        b++;
    sim_path *p = &w->net.path[ep_at(w, a)][ep_at(w, b)];
    draw_path(w, p, active);
    sim_note(w, -1, "FAULT path %s->%s now: delay %u..%u us, loss %u %%, dup %u %%",
             ep_name(w, ep_at(w, a)), ep_name(w, ep_at(w, b)), p->delay_min_us, p->delay_max_us,
             p->loss_pct, p->dup_pct);
}

void sim_fault_step(sim_world *w)
{
    if (w->phase != SIM_PHASE_CHAOS)
        return;
    unsigned active = w->active_faults;
    /* The kinds that act in episodes; at most 5 candidates. */
    unsigned episodic[5];
    int n = 0;
    if (active & SIM_F_PARTITION)
        episodic[n++] = SIM_F_PARTITION;
    if (active & SIM_F_ASYM)
        episodic[n++] = SIM_F_ASYM;
    if (active & SIM_F_CRASH)
        episodic[n++] = SIM_F_CRASH;
    if (active & SIM_F_SKEW)
        episodic[n++] = SIM_F_SKEW;
    if (active & (SIM_F_DELAY | SIM_F_LOSS | SIM_F_DUP))
        episodic[n++] = SIM_F_LOSS;
    if (n == 0)
        return;
    switch (episodic[sim_draw(&w->rng_fault, 0, n - 1)]) {
    case SIM_F_PARTITION:
        partition(w);
        break;
    case SIM_F_ASYM:
        asymmetric(w);
        break;
    case SIM_F_CRASH:
        crash(w);
        break;
    case SIM_F_SKEW:
        clock_jump(w);
        break;
    default:
        path_change(w, active);
        break;
    }
    uint64_t gap_ms = (uint64_t)sim_draw(&w->rng_fault, FAULT_GAP_MIN_MS, FAULT_GAP_MAX_MS);
    sim_queue_push(&w->queue, w->clock.now_us + gap_ms * 1000, SIM_EV_FAULT, -1, 0);
}

void sim_fault_heal(sim_world *w, uint32_t cut_number)
{
    if (cut_number != w->cut_number || w->phase != SIM_PHASE_CHAOS)
        return; /* replaced by a later one, or healed for good */
    clear_cuts(w);
    sim_note(w, -1, "heal #%u: every path connected", cut_number);
}

void sim_fault_heal_all(sim_world *w)
{
    for (int a = 0; a < SIM_EP_MAX; a++) {
        for (int b = 0; b < SIM_EP_MAX; b++) {
            sim_path *p = &w->net.path[a][b];
            p->cut = false;
            p->loss_pct = 0;
            p->dup_pct = 0;
            p->delay_min_us = 100;
            p->delay_max_us = 300;
        }
    }
    w->cut_number++;
    sim_note(w, -1, "heal all: no cuts, no loss, no duplicates, 100-300 us delays");
}
