/* sim_node.c: a terminal's life: create, start, crash, restart (sim_node.h). */
#include "sim.h"
#include "sim_raft.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- templates: one freshly initialised database per node id ---- */

typedef struct sim_template {
    uint8_t *bytes;
    size_t len;
} sim_template;

static sim_template g_tmpl[SIM_NODES_MAX];

static void read_file(const char *path, sim_template *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "kassa-sim: cannot read %s: %s\n", path, strerror(errno));
        sim_exit_setup_error();
    }
    SIM_ASSERT(fseek(f, 0, SEEK_END) == 0);
    long size = ftell(f);
    SIM_ASSERT(size > 0 && fseek(f, 0, SEEK_SET) == 0);
    out->bytes = malloc((size_t)size);
    SIM_ASSERT(out->bytes);
    out->len = fread(out->bytes, 1, (size_t)size, f);
    SIM_ASSERT(out->len == (size_t)size);
    fclose(f);
}

void sim_templates_init(const char *root)
{
    for (int i = 0; i < SIM_NODES_MAX; i++) {
        char dir[600], name[8], path[700];
        snprintf(name, sizeof name, "T%d", i + 1);
        snprintf(dir, sizeof dir, "%s/template-%s", root, name);
        kassa_err err;
        if (term_init(dir, SIM_STORE_ID, name, &err) != KASSA_OK) {
            fprintf(stderr, "kassa-sim: term_init %s: %s\n", dir, err.msg);
            sim_exit_setup_error();
        }
        /* term_init closed the database cleanly: the WAL is checkpointed
         * and gone, the database file is the whole state. */
        snprintf(path, sizeof path, "%s/%s-wal", dir, TERM_DB_FILE);
        SIM_ASSERT(access(path, F_OK) != 0);
        snprintf(path, sizeof path, "%s/%s", dir, TERM_DB_FILE);
        read_file(path, &g_tmpl[i]);
    }
}

void sim_templates_free(void)
{
    for (int i = 0; i < SIM_NODES_MAX; i++) {
        free(g_tmpl[i].bytes);
        g_tmpl[i].bytes = NULL;
    }
}

static void db_file(const sim_node *nd, const char *suffix, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s%s", nd->dir, TERM_DB_FILE, suffix);
    SIM_ASSERT(n > 0 && (size_t)n < size);
}

static void remove_db(const sim_node *nd)
{
    static const char *const SUFFIX[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(SUFFIX); i++) {
        char path[700];
        db_file(nd, SUFFIX[i], path, sizeof path);
        unlink(path);
    }
}

/* ---- life ---- */

static uint64_t node_wall_ms(void *ctx)
{
    const sim_node *nd = ctx;
    return sim_clock_wall_ms(&nd->w->clock, nd->id);
}

void sim_node_create(sim_world *w, int id)
{
    SIM_ASSERT(id >= 0 && id < w->p.n);
    sim_node *nd = &w->node[id];
    nd->id = id;
    nd->w = w;
    /* Node names are "T1".."T7": one digit (SIM_NODES_MAX < 10). */
    nd->name[0] = 'T';
    nd->name[1] = (char)('1' + id);
    nd->name[2] = 0;
    /* Through a local copy: nd->dir and w->run_dir are both inside *w. */
    char dir[sizeof nd->dir];
    int n = snprintf(dir, sizeof dir, "%s/T%c", w->run_dir, '1' + id);
    SIM_ASSERT(n > 0 && (size_t)n < sizeof dir);
    memcpy(nd->dir, dir, sizeof dir);
    SIM_ASSERT(n > 0 && (size_t)n < sizeof nd->dir);
    if (mkdir(nd->dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "kassa-sim: mkdir %s: %s\n", nd->dir, strerror(errno));
        sim_exit_setup_error();
    }
    remove_db(nd);
    char path[700];
    db_file(nd, "", path, sizeof path);
    FILE *f = fopen(path, "wb");
    SIM_ASSERT(f && g_tmpl[id].bytes);
    SIM_ASSERT(fwrite(g_tmpl[id].bytes, 1, g_tmpl[id].len, f) == g_tmpl[id].len);
    SIM_ASSERT(fclose(f) == 0);
    oplog_vv_init(&nd->vv);
    oplog_vv_init(&nd->upl.cloud_vv);
    tu_rng_seed(&nd->rng, w->seed * 31 + (uint64_t)id + 1);
    sim_node_start(w, nd);
}

void sim_node_start(sim_world *w, sim_node *nd)
{
    SIM_ASSERT(!nd->up && !nd->t && !nd->raft);
    kassa_err err;
    if (term_open(nd->dir, &nd->t, &err) != KASSA_OK) {
        sim_fail(w, "restart-failed", "%s: term_open: %s", nd->name, err.msg);
        return;
    }
    term_set_clock(nd->t, node_wall_ms, nd);
    nd->up = true;
    w->clock.node[nd->id].boot_us = w->clock.now_us;
    nd->vv_stale = true;
    nd->hash_stale = true;
    nd->linked_changed = false;
    nd->pump_due = false;
    nd->pump_scheduled = false;
    nd->next_round_ms = sim_clock_mono_ms(&w->clock, nd->id) + SIM_ANTI_ENTROPY_MS;
    sim_links_reset(nd);
    sim_uploader_drop(nd);
    uint64_t raft_seed = w->seed ^ ((uint64_t)nd->id << 56) ^ ((uint64_t)nd->life << 40);
    nd->raft_leader = false;
    nd->raft_role = NULL;
    nd->raft_follows = -1;
    if (sim_raft_open(nd->t, nd->id, w->p.n, raft_seed, w->cfg.bug == SIM_BUG_FORGET_VOTE,
                      &nd->raft, &err) != KASSA_OK) {
        sim_fail(w, "restart-failed", "%s: Raft member: %s", nd->name, err.msg);
        return;
    }
    sim_schedule_tick(w, nd);
}

void sim_node_crash(sim_world *w, sim_node *nd)
{
    SIM_ASSERT(nd->up && nd->t);
    /* Power cut: the WAL stays as it is for the next open to recover. */
    int rc = sqlite3_db_config(nd->t->st.db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    SIM_ASSERT(rc == SQLITE_OK);
    sim_raft_crash(nd->raft);
    nd->raft = NULL;
    nd->raft_leader = false;
    nd->raft_role = NULL;
    nd->raft_follows = -1;
    sim_links_close_all(nd);
    sim_uploader_drop(nd);
    term_close(nd->t);
    nd->t = NULL;
    nd->up = false;
    nd->life++;
    nd->crashes++;
    oplog_vv_free(&nd->vv);
    oplog_vv_init(&nd->vv);
    if (w->cfg.bug == SIM_BUG_LOSE_ON_CRASH) {
        /* The injected bug: what synchronous=OFF and a power cut can do,
         * the committed transactions still in the WAL are gone. */
        char path[700];
        db_file(nd, "-wal", path, sizeof path);
        unlink(path);
        db_file(nd, "-shm", path, sizeof path);
        unlink(path);
        sim_note(w, nd->id, "INJECTED BUG lose-on-crash: the WAL is gone");
    }
}

void sim_node_restart(sim_world *w, sim_node *nd)
{
    sim_node_start(w, nd);
    if (!w->failed)
        sim_check_restart(w, nd);
}

void sim_node_destroy(sim_world *w, sim_node *nd)
{
    (void)w;
    if (nd->raft)
        sim_raft_crash(nd->raft);
    nd->raft = NULL;
    sim_links_close_all(nd);
    term_close(nd->t);
    nd->t = NULL;
    nd->up = false;
    oplog_vv_free(&nd->vv);
    oplog_vv_free(&nd->upl.cloud_vv);
    if (nd->dir[0])
        remove_db(nd);
}

void sim_node_dirty(sim_node *nd)
{
    nd->vv_stale = true;
    nd->hash_stale = true;
}

const oplog_vv *sim_node_vv(sim_world *w, sim_node *nd)
{
    SIM_ASSERT(nd->up);
    if (nd->vv_stale) {
        oplog_vv vv;
        kassa_err err;
        if (term_vv(nd->t, &vv, &err) != KASSA_OK) {
            sim_fail(w, "term-error", "%s: term_vv: %s", nd->name, err.msg);
            return &nd->vv;
        }
        oplog_vv_free(&nd->vv);
        nd->vv = vv;
        nd->vv_stale = false;
    }
    return &nd->vv;
}

const uint8_t *sim_node_state_hash(sim_world *w, sim_node *nd)
{
    SIM_ASSERT(nd->up);
    if (nd->hash_stale) {
        kassa_err err;
        if (term_state_hash(nd->t, nd->state_hash, &err) != KASSA_OK)
            sim_fail(w, "term-error", "%s: term_state_hash: %s", nd->name, err.msg);
        nd->hash_stale = false;
    }
    return nd->state_hash;
}
