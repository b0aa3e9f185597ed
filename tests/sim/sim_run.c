/* sim_run.c: one seed, from an empty store to the end-of-seed checks (sim.h). */
#include "sim.h"
#include "sim_raft.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The true wall time at the start of a seed: some moment of late 2023
 * to 2026, so that HLC timestamps look like real ones. */
#define EPOCH_MIN_MS UINT64_C(1700000000000)
#define EPOCH_SPAN_MS INT64_C(100000000000)

/* One tick drives a node's links, its uploader and its Raft member. */
_Static_assert(SIM_TICK_MS == SIM_RAFT_TICK_MS, "the node tick is the Raft tick");

void sim_fail(sim_world *w, const char *invariant, const char *fmt, ...)
{
    if (w->failed)
        return;
    w->failed = true;
    snprintf(w->fail_invariant, sizeof w->fail_invariant, "%s", invariant);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->fail_msg, sizeof w->fail_msg, fmt, ap);
    va_end(ap);
    sim_note(w, -1, "INVARIANT VIOLATED %s: %s", w->fail_invariant, w->fail_msg);
}

void sim_vv_text(const oplog_vv *vv, char *out, size_t size)
{
    SIM_ASSERT(size > 0);
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < vv->n; i++) {
        int n = snprintf(out + used, size - used, "%s%s:%llu", i ? " " : "", vv->e[i].origin,
                         (unsigned long long)vv->e[i].seq);
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
    if (vv->n == 0)
        snprintf(out, size, "{}");
}

void sim_schedule_tick(sim_world *w, sim_node *nd)
{
    uint64_t at = w->clock.now_us + sim_clock_global_us(&w->clock, nd->id, SIM_TICK_MS * 1000);
    sim_queue_push(&w->queue, at, SIM_EV_TICK, nd->id, nd->life);
}

void sim_raft_drain(sim_world *w, sim_node *nd)
{
    /* Large (SIM_RAFT_OUT_MAX messages): static, as drains never nest. */
    static sim_raft_ready rd;
    for (int k = 0; k < SIM_RAFT_READIES_MAX && !w->failed; k++) {
        kassa_err err;
        if (sim_raft_ready_take(nd->raft, &rd, &err) != KASSA_OK) {
            sim_fail(w, "raft-error", "%s: Raft ready: %s", nd->name, err.msg);
            return;
        }
        if (rd.forgot_vote)
            sim_note(w, nd->id,
                     "INJECTED BUG forget-vote: the Raft member restarted and forgot "
                     "its vote in term %llu",
                     (unsigned long long)rd.term);
        if (nd->raft_role != rd.role || nd->raft_term != rd.term ||
            nd->raft_follows != rd.leader_node)
            sim_note(w, nd->id, "Raft: %s in term %llu, leader %s, commit %llu", rd.role,
                     (unsigned long long)rd.term,
                     rd.leader_node >= 0 ? w->node[rd.leader_node].name : "unknown",
                     (unsigned long long)rd.commit_index);
        nd->raft_leader = rd.leader;
        nd->raft_term = rd.term;
        nd->raft_role = rd.role;
        nd->raft_follows = rd.leader_node;
        if (rd.term > w->stats.raft_term_max)
            w->stats.raft_term_max = rd.term;
        sim_check_raft(w, nd->id, &rd);
        SIM_ASSERT(rd.n_msgs <= SIM_RAFT_OUT_MAX);
        for (size_t i = 0; i < rd.n_msgs && !w->failed; i++) {
            const sim_raft_out *m = &rd.msgs[i];
            SIM_ASSERT(m->to >= 0 && m->to < w->p.n && m->to != nd->id);
            SIM_ASSERT(m->len <= SIM_RAFT_MSG_MAX_BYTES);
            if (!sim_link_send_raft(w, nd, m->to, m->bytes, m->len))
                sim_trace(w, nd->id, "Raft message to %s dropped: no link", w->node[m->to].name);
        }
        if (!rd.more)
            return;
    }
    /* The rest at the next tick or step: the core keeps it. */
}

static void draw_params(sim_world *w)
{
    static const int SIZES[3] = {3, 5, 7};
    sim_params *p = &w->p;
    /* Always drawn, so that --terminals N replays the same seed as the
     * draw N would have. */
    int n = SIZES[sim_draw(&w->rng_work, 0, 2)];
    p->n = w->cfg.terminals ? w->cfg.terminals : n;
    SIM_ASSERT(p->n >= 1 && p->n <= SIM_NODES_MAX);
    p->chaos_ms = sim_draw(&w->rng_work, 300, 3000);
    p->actions = (int)sim_draw(&w->rng_work, 10, 50);
    p->batch_max_ops = (size_t)sim_draw(&w->rng_work, 1, 16);
    p->upload_max_ops = (size_t)sim_draw(&w->rng_work, 1, 32);
}

static void flush_all(sim_world *w)
{
    for (int i = 0; i < w->p.n && !w->failed; i++)
        sim_links_flush(w, &w->node[i]);
}

static void schedule_work(sim_world *w)
{
    if (w->work.actions_left <= 0)
        return;
    /* Spread the actions over the chaos phase: mean gap chaos / actions. */
    int64_t mean_us = w->p.chaos_ms * 1000 / w->p.actions;
    uint64_t gap = (uint64_t)sim_draw(&w->rng_work, 1, 2 * mean_us);
    sim_queue_push(&w->queue, w->clock.now_us + gap, SIM_EV_WORK, -1, 0);
}

static void start_final(sim_world *w)
{
    w->phase = SIM_PHASE_FINAL;
    w->final_at_us = w->clock.now_us;
    w->check.healed_at_us = w->clock.now_us;
    sim_note(w, -1, "FINAL PHASE: workload stops, every fault heals, every node restarts");
    sim_fault_heal_all(w);
    for (int i = 0; i < w->p.n && !w->failed; i++) {
        sim_node *nd = &w->node[i];
        if (nd->up)
            continue;
        sim_note(w, i, "restart from disk (final phase)");
        sim_node_restart(w, nd);
    }
}

static void on_check(sim_world *w)
{
    sim_check_periodic(w);
    if (w->failed)
        return;
    if (w->phase == SIM_PHASE_FINAL) {
        uint64_t now = w->clock.now_us;
        if (!sim_check_converged(w)) {
            w->converged_at_us = 0;
            if (now - w->final_at_us > (uint64_t)SIM_FINAL_MAX_MS * 1000) {
                /* Name what is missing where, if the end checks can. */
                sim_check_final(w);
                sim_fail(w, "no-convergence",
                         "the store did not converge within %d ms after the final heal",
                         SIM_FINAL_MAX_MS);
                return;
            }
        } else if (w->converged_at_us == 0) {
            w->converged_at_us = now;
            sim_note(w, -1, "converged: every node and the cloud hold every acknowledged op");
        } else if (now - w->converged_at_us >= (uint64_t)SIM_SETTLE_MS * 1000) {
            w->phase = SIM_PHASE_DONE;
            return;
        }
    }
    sim_queue_push(&w->queue, w->clock.now_us + SIM_CHECK_INTERVAL_MS * 1000, SIM_EV_CHECK, -1, 0);
}

static void on_deliver(sim_world *w, uint32_t slot)
{
    sim_msg *m = sim_net_arrive(w, slot);
    if (!m)
        return;
    if (m->to == SIM_EP_CLOUD) {
        sim_cloud_receive(w, m->from, m->kind, m->conn, m->data.data, m->data.len);
        sim_net_release(&w->net, m);
        return;
    }
    sim_node *nd = &w->node[m->to];
    if (m->kind == SIM_MSG_CLOUD_ACK)
        sim_uploader_receive(w, nd, m->conn, m->data.data, m->data.len);
    else
        sim_link_receive(w, nd, m->from, m->kind, m->conn, m->data.data, m->data.len);
    sim_net_release(&w->net, m);
    sim_links_flush(w, nd);
}

static void on_tick(sim_world *w, sim_node *nd, uint32_t life)
{
    if (!nd->up || life != nd->life)
        return; /* a tick of an earlier life */
    sim_raft_tick(nd->raft);
    sim_raft_drain(w, nd);
    if (!w->failed)
        sim_links_tick(w, nd);
    if (!w->failed)
        sim_uploader_tick(w, nd);
    sim_links_flush(w, nd);
    sim_schedule_tick(w, nd);
}

static void handle(sim_world *w, const sim_event *ev)
{
    sim_node *nd = ev->node >= 0 ? &w->node[ev->node] : NULL;
    switch (ev->kind) {
    case SIM_EV_DELIVER:
        on_deliver(w, ev->arg);
        break;
    case SIM_EV_TICK:
        on_tick(w, nd, ev->arg);
        break;
    case SIM_EV_PUMP:
        if (nd->up && ev->arg == nd->life) {
            sim_links_pump_all(w, nd);
            sim_links_flush(w, nd);
        }
        break;
    case SIM_EV_WORK:
        if (w->phase != SIM_PHASE_CHAOS)
            break;
        sim_workload_step(w);
        flush_all(w);
        schedule_work(w);
        break;
    case SIM_EV_FAULT:
        sim_fault_step(w);
        break;
    case SIM_EV_HEAL:
        sim_fault_heal(w, ev->arg);
        break;
    case SIM_EV_RESTART:
        if (!nd->up && ev->arg == nd->life && w->phase == SIM_PHASE_CHAOS) {
            sim_note(w, nd->id, "restart from disk");
            sim_node_restart(w, nd);
            sim_links_flush(w, nd);
        }
        break;
    case SIM_EV_CHECK:
        on_check(w);
        break;
    case SIM_EV_FINAL:
        start_final(w);
        break;
    default:
        SIM_ASSERT(!"unknown event kind");
    }
}

/* The command that replays this seed, every choice spelt out. */
void sim_replay_command(const sim_config *cfg, uint64_t seed, int n, const char *program, char *out,
                        size_t size)
{
    char faults[128];
    sim_faults_format(cfg->faults, faults, sizeof faults);
    snprintf(out, size, "%s --seed %llu --terminals %d --faults %s%s%s --trace", program,
             (unsigned long long)seed, n, faults, cfg->bug ? " --inject-bug " : "",
             cfg->bug ? sim_bug_name(cfg->bug) : "");
}

static void report(const sim_world *w, const char *program)
{
    FILE *out = stderr;
    char replay[1024];
    sim_replay_command(&w->cfg, w->seed, w->p.n, program, replay, sizeof replay);
    fprintf(out, "\n==== kassa-sim: seed %llu FAILED ====\n", (unsigned long long)w->seed);
    fprintf(out, "---- notable events of the seed (virtual time, node, what happened) ----\n");
    sim_trace_dump(&w->trace, true, out);
    fprintf(out, "---- the last events, all of them ----\n");
    sim_trace_dump(&w->trace, false, out);
    fprintf(out, "---- end of trace ----\n");
    fprintf(out,
            "seed %llu: %d terminals, chaos %lld ms, %d actions, batches of %zu, uploads of %zu\n",
            (unsigned long long)w->seed, w->p.n, (long long)w->p.chaos_ms, w->p.actions,
            w->p.batch_max_ops, w->p.upload_max_ops);
    fprintf(out, "INVARIANT VIOLATED: %s\n  at %.3f ms virtual: %s\n", w->fail_invariant,
            (double)w->clock.now_us / 1000.0, w->fail_msg);
    fprintf(out, "replay: %s\n", replay);
}

static void world_free(sim_world *w)
{
    for (int i = 0; i < w->p.n; i++)
        sim_node_destroy(w, &w->node[i]);
    sim_net_free(&w->net);
    sim_workload_free(&w->work);
    kbuf_free(&w->payloads);
    kbuf_free(&w->frame);
    free(w);
}

void sim_run_seed(const sim_config *cfg, uint64_t seed, const char *root, const char *program,
                  sim_result *res)
{
    sim_world *w = calloc(1, sizeof *w);
    SIM_ASSERT(w);
    w->cfg = *cfg;
    w->seed = seed;
    /* One stream per concern: a change in one (another fault) leaves the
     * draws of the others (the workload) as they were. */
    tu_rng_seed(&w->rng_work, seed);
    tu_rng_seed(&w->rng_fault, seed ^ UINT64_C(0xfa017));
    tu_rng_seed(&w->rng_net, seed ^ UINT64_C(0x6e7));
    draw_params(w);
    int n = snprintf(w->run_dir, sizeof w->run_dir, "%s/run", root);
    SIM_ASSERT(n > 0 && (size_t)n < sizeof w->run_dir);
    if (mkdir(w->run_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "kassa-sim: mkdir %s: %s\n", w->run_dir, strerror(errno));
        sim_exit_setup_error();
    }
    sim_clock_reset(&w->clock, EPOCH_MIN_MS + (uint64_t)sim_draw(&w->rng_work, 0, EPOCH_SPAN_MS));
    sim_queue_reset(&w->queue);
    sim_net_reset(&w->net);
    sim_cloud_reset(&w->cloud);
    sim_check_reset(&w->check);
    sim_trace_reset(&w->trace, cfg->trace_live);
    sim_workload_init(&w->work);
    w->work.actions_left = w->p.actions;
    kbuf_init(&w->payloads);
    kbuf_init(&w->frame);
    w->phase = SIM_PHASE_CHAOS;
    sim_note(w, -1,
             "seed %llu: %d terminals, chaos %lld ms, %d actions, batches of %zu, uploads of %zu",
             (unsigned long long)seed, w->p.n, (long long)w->p.chaos_ms, w->p.actions,
             w->p.batch_max_ops, w->p.upload_max_ops);
    sim_fault_start(w);
    for (int i = 0; i < w->p.n && !w->failed; i++)
        sim_node_create(w, i);
    if (!w->failed)
        sim_workload_provision(w);
    schedule_work(w);
    sim_queue_push(&w->queue, (uint64_t)sim_draw(&w->rng_fault, 5, 30) * 1000, SIM_EV_FAULT, -1, 0);
    sim_queue_push(&w->queue, SIM_CHECK_INTERVAL_MS * 1000, SIM_EV_CHECK, -1, 0);
    sim_queue_push(&w->queue, (uint64_t)w->p.chaos_ms * 1000, SIM_EV_FINAL, -1, 0);
    sim_event ev;
    while (!w->failed && w->phase != SIM_PHASE_DONE && sim_queue_pop(&w->queue, &ev)) {
        SIM_ASSERT(ev.at_us >= w->clock.now_us); /* time never runs back */
        w->clock.now_us = ev.at_us;
        w->events++;
        SIM_ASSERT(w->events < SIM_EVENTS_PER_SEED_MAX);
        handle(w, &ev);
    }
    if (!w->failed && w->phase != SIM_PHASE_DONE)
        sim_fail(w, "no-convergence", "no more events before the end");
    if (!w->failed)
        sim_check_final(w);
    if (!w->failed)
        sim_note(w, -1, "seed passed: every invariant held");

    memset(res, 0, sizeof *res);
    res->failed = w->failed;
    res->n = w->p.n;
    res->events = w->events;
    res->digest = w->trace.digest;
    res->virtual_us = w->clock.now_us;
    for (int o = 0; o < w->p.n; o++)
        res->ops += w->check.acked[o].n;
    for (int i = 0; i < w->p.n; i++)
        res->crashes += w->node[i].crashes;
    res->msgs = w->net.stats.sent;
    res->lost = w->net.stats.lost + w->net.stats.cut + w->net.stats.to_down;
    res->dups = w->net.stats.duplicated;
    res->cloud_stored = w->cloud.stats.stored;
    res->cloud_dups = w->cloud.stats.duplicates;
    res->refused = w->work.stats.refused;
    if (w->converged_at_us)
        w->stats.converge_ms_max = (w->converged_at_us - w->final_at_us) / 1000;
    res->stats = w->stats;
    res->checks = w->check.stats;
    if (w->failed)
        report(w, program);
    world_free(w);
}
