/* coord.c: the Raft core on kassad's loop, storage and peer links. */
#include "kassad/coord.h"

#include "jlog/jlog.h"
#include "kassad/clock.h"
#include "kassad/records.h"
#include "raft/raft.h"
#include "raftstore/raftstore.h"
#include "storerec/storerec.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The stability score is refreshed this often (uptime grows). */
#define KD_COORD_SCORE_EVERY_MS 10000

typedef struct kd_coord {
    raft *r;
    struct event *tick_ev;
    raft_msg_buf buf;          /* decoding one message */
    kbuf out;                  /* encoding one message */
    kbuf snap;                 /* a snapshot of the records' state */
    raftstore_scratch *save;   /* entries of one ready, for storage */
    raftstore_log *loaded;     /* the log read at start */
    uint32_t starts_last_day;  /* this start included */
    int64_t next_score_ms;     /* monotonic */
    raft_soft_state soft;      /* as last logged */
    bool stuck;                /* a ready could not be persisted: retried */
    raft_ready rd;             /* the ready being handled when stuck */
    uint64_t records_applied;  /* NORMAL entries applied since start */
    uint64_t prefer_transfers; /* as last logged */
} kd_coord;

static uint32_t coord_rand(void *ctx)
{
    (void)ctx;
    return randombytes_random();
}

static void refresh_score(kd_app *app, kd_coord *c)
{
    int64_t now = kd_mono_ms();
    if (now < c->next_score_ms)
        return;
    c->next_score_ms = now + KD_COORD_SCORE_EVERY_MS;
    uint32_t restarts = c->starts_last_day ? c->starts_last_day - 1 : 0;
    raft_set_score(c->r, raft_stability_score((uint64_t)(now - app->started_ms), restarts));
}

static void send_msgs(kd_app *app, kd_coord *c, const raft_ready *rd)
{
    for (size_t i = 0; i < rd->n_msgs; i++) {
        const raft_msg *m = &rd->msgs[i];
        kassa_err err;
        kbuf_reset(&c->out);
        if (raft_msg_encode(m, &c->out, &err) != KASSA_OK ||
            peer_mesh_send_raft(app->peers, m->to, c->out.data, c->out.len, &err) != KASSA_OK)
            /* Raft tolerates a lost message (no link, link backed up). */
            jlog(JLOG_DEBUG, "raft", "send_failed", "{s:s,s:s,s:s}", "to", m->to, "type",
                 raft_msg_type_name(m->type), "error", err.msg);
    }
}

/* A committed store record (storerec) applied to this member's state
 * (records.h). A record this kassa cannot read is logged and skipped: it
 * changes nothing here. */
static void apply_record(kd_app *app, const raft_entry *e)
{
    storerec rec;
    kassa_err err;
    int rc = storerec_decode(e->data, e->len, &rec, &err);
    if (rc == KASSA_OK)
        rc = kd_records_apply(app, &rec, &err);
    jlog(rc == KASSA_OK ? JLOG_INFO : JLOG_ERROR, "raft", "record_applied", "{s:I,s:I,s:s,s:s}",
         "index", (json_int_t)e->index, "term", (json_int_t)e->term, "type",
         rc == KASSA_OK ? storerec_type_name(rec.type) : "?", "error",
         rc == KASSA_OK ? "" : err.msg);
    storerec_free(&rec);
}

/* Past [raft] log_compact_entries (at most half the in-memory log), the
 * applied prefix becomes a snapshot of the records' state (records.h): the
 * log, in memory and in the database, stays bounded however long the
 * store runs. */
static void maybe_compact_log(kd_app *app, kd_coord *c)
{
    raft_status st;
    raft_status_get(c->r, &st);
    if (st.log_entries <= (uint32_t)app->cfg.raft_log_compact_entries ||
        st.applied <= st.snapshot_index)
        return;
    kassa_err err;
    int rc = kd_records_snapshot(app, &c->snap, &err);
    if (rc == KASSA_OK)
        rc = raftstore_compact(app->t, c->r, st.applied, c->snap.data, c->snap.len, &err);
    jlog(rc == KASSA_OK ? JLOG_INFO : JLOG_ERROR, "raft", "log_compacted", "{s:I,s:I,s:s}", "upto",
         (json_int_t)st.applied, "snapshot_bytes", (json_int_t)c->snap.len, "error",
         rc == KASSA_OK ? "" : err.msg);
}

static void apply(kd_app *app, kd_coord *c, const raft_ready *rd)
{
    for (size_t i = 0; i < rd->n_committed; i++) {
        const raft_entry *e = &rd->committed[i];
        if (e->type == RAFT_ENTRY_NORMAL) {
            c->records_applied++;
            apply_record(app, e);
        } else if (e->type == RAFT_ENTRY_CONF_ADD || e->type == RAFT_ENTRY_CONF_REMOVE) {
            char node[RAFT_ID_SIZE];
            raft_conf conf;
            kassa_err err;
            if (raft_entry_conf(e, node, &conf, &err) == KASSA_OK)
                jlog(JLOG_INFO, "raft", "membership", "{s:s,s:s,s:I}", "change",
                     e->type == RAFT_ENTRY_CONF_ADD ? "add" : "remove", "node", node, "members",
                     (json_int_t)conf.n);
        }
    }
}

static void log_soft(kd_coord *c, const raft_soft_state *s)
{
    if (s->role == c->soft.role && s->term == c->soft.term &&
        strcmp(s->leader, c->soft.leader) == 0)
        return;
    c->soft = *s;
    /* One line per change: what bench/failover and the tests read to see
     * when each terminal agreed on a new leader. */
    jlog(JLOG_INFO, "raft", "state", "{s:s,s:I,s:s}", "role", raft_role_name(s->role), "term",
         (json_int_t)s->term, "leader", s->leader);
}

/* Handles every ready the core has: persist, send, apply, advance. */
static void drain(kd_app *app)
{
    kd_coord *c = app->coord;
    kassa_err err;
    /* Bounded: each ready is followed by raft_advance, and a burst of
     * inputs makes at most a few readies. */
    for (int guard = 0; guard < 64; guard++) {
        if (!c->stuck) {
            if (!raft_has_ready(c->r))
                return;
            if (raft_ready_get(c->r, &c->rd, &err) != KASSA_OK) {
                jlog(JLOG_ERROR, "raft", "ready_failed", "{s:s}", "error", err.msg);
                return;
            }
        }
        if (raftstore_persist(app->t, &c->rd, c->save, &err) != KASSA_OK) {
            /* Nothing may be sent before it is durable: keep the ready and
             * try again at the next tick (storage full, database busy). */
            if (!c->stuck)
                jlog(JLOG_ERROR, "raft", "persist_failed", "{s:s}", "error", err.msg);
            c->stuck = true;
            return;
        }
        c->stuck = false;
        send_msgs(app, c, &c->rd);
        if (c->rd.has_snapshot && kd_records_apply_snapshot(app, c->rd.snapshot_data,
                                                            c->rd.snapshot_len, &err) != KASSA_OK)
            jlog(JLOG_ERROR, "raft", "snapshot_not_applied", "{s:s}", "error", err.msg);
        apply(app, c, &c->rd);
        log_soft(c, &c->rd.soft);
        if (raft_advance(c->r, &c->rd, &err) != KASSA_OK) {
            jlog(JLOG_ERROR, "raft", "advance_failed", "{s:s}", "error", err.msg);
            return;
        }
        maybe_compact_log(app, c);
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    kd_app *app = arg;
    kd_coord *c = app->coord;
    kassa_err err;
    refresh_score(app, c);
    if (!c->stuck && raft_tick(c->r, &err) != KASSA_OK)
        jlog(JLOG_ERROR, "raft", "tick_failed", "{s:s}", "error", err.msg);
    drain(app);
    /* A leader handing over to a steadier terminal says so: the election
     * that follows is deliberate, not a lost heartbeat. */
    raft_status st;
    raft_status_get(c->r, &st);
    if (st.prefer_transfers != c->prefer_transfers) {
        c->prefer_transfers = st.prefer_transfers;
        jlog(JLOG_INFO, "raft", "preference_transfer", "{s:s,s:I,s:s}", "to", st.transferee, "term",
             (json_int_t)st.term, "preferred", st.preferred);
    }
}

int kd_coord_propose(kd_app *app, const kbuf *rec, kassa_err *err)
{
    kd_coord *c = app->coord;
    if (!c)
        return kassa_fail(err, KASSA_ECONFLICT, "no store coordination (peer links are off)");
    int rc = raft_propose(c->r, rec->data, rec->len, NULL, err);
    if (rc == KASSA_OK)
        drain(app);
    return rc;
}

bool kd_coord_leads(kd_app *app)
{
    kd_coord *c = app->coord;
    if (!c)
        return false;
    raft_status st;
    raft_status_get(c->r, &st);
    return st.role == RAFT_LEADER && st.quorum_active;
}

void kd_coord_on_raft(kd_app *app, const char *from, const uint8_t *payload, size_t len)
{
    kd_coord *c = app->coord;
    if (!c || c->stuck)
        return; /* dropped: Raft tolerates it */
    raft_msg m;
    kassa_err err;
    if (raft_msg_decode(payload, len, &m, &c->buf, &err) != KASSA_OK) {
        jlog(JLOG_WARN, "raft", "bad_message", "{s:s,s:s}", "from", from, "error", err.msg);
        return;
    }
    /* The link authenticated the sender: a message naming another sender
     * or another receiver is refused, whatever it says. */
    if (strcmp(m.from, from) != 0 || strcmp(m.to, app->t->node_id) != 0) {
        jlog(JLOG_WARN, "raft", "bad_message", "{s:s,s:s}", "from", from, "error",
             "message from or to another node than the link's");
        return;
    }
    if (raft_step(c->r, &m, &err) != KASSA_OK)
        jlog(JLOG_WARN, "raft", "step_refused", "{s:s,s:s,s:s}", "from", from, "type",
             raft_msg_type_name(m.type), "error", err.msg);
    drain(app);
}

int kd_coord_start(kd_app *app, kassa_err *err)
{
    const kd_config *cfg = &app->cfg;
    if (!app->peers)
        return KASSA_OK;
    if (cfg->n_roster > RAFT_MEMBERS_MAX)
        return kassa_fail(err, KASSA_EINVAL,
                          "[peer] roster: %zu terminals, a store's Raft group holds at most %d",
                          cfg->n_roster, RAFT_MEMBERS_MAX);
    kd_coord *c = calloc(1, sizeof *c);
    if (!c)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    app->coord = c;
    kbuf_init(&c->out);
    kbuf_init(&c->snap);
    c->save = malloc(sizeof *c->save);
    c->loaded = malloc(sizeof *c->loaded);
    if (!c->save || !c->loaded)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    /* The founding configuration is the roster (used while the log holds
     * no configuration entry of its own). */
    raft_conf founding = {.n = (uint32_t)cfg->n_roster};
    for (size_t i = 0; i < cfg->n_roster; i++)
        memcpy(founding.ids[i], cfg->roster[i], RAFT_ID_SIZE);
    raft_restored st;
    int rc = term_note_start(app->t, hlc_wall_ms(), &c->starts_last_day, err);
    if (rc == KASSA_OK)
        rc = raftstore_restore(app->t, &founding, c->loaded, &st, err);
    if (rc != KASSA_OK)
        return rc;

    raft_config rc_cfg;
    raft_config_default(&rc_cfg);
    snprintf(rc_cfg.id, sizeof rc_cfg.id, "%s", app->t->node_id);
    rc_cfg.tick_ms = (uint32_t)cfg->raft_tick_ms;
    rc_cfg.heartbeat_ms = (uint32_t)cfg->raft_heartbeat_ms;
    rc_cfg.election_min_ms = (uint32_t)cfg->raft_election_min_ms;
    rc_cfg.election_max_ms = (uint32_t)cfg->raft_election_max_ms;
    rc_cfg.prefer_stable_ms = (uint32_t)cfg->raft_prefer_stable_ms;
    rc_cfg.rand = coord_rand;
    if ((rc = raft_new(&rc_cfg, &st, &c->r, err)) != KASSA_OK)
        return rc;
    refresh_score(app, c);
    c->tick_ev = event_new(app->base, -1, EV_PERSIST, on_tick, app);
    struct timeval tv = {0, (suseconds_t)cfg->raft_tick_ms * 1000};
    if (!c->tick_ev || event_add(c->tick_ev, &tv) != 0)
        return kassa_fail(err, KASSA_ENOMEM, "cannot start the Raft timer");
    jlog(JLOG_INFO, "raft", "start", "{s:I,s:s,s:I,s:I,s:I}", "term", (json_int_t)st.hard.term,
         "vote", st.hard.vote, "log_entries", (json_int_t)c->loaded->n, "members",
         (json_int_t)cfg->n_roster, "starts_last_day", (json_int_t)c->starts_last_day);
    return KASSA_OK;
}

json_t *kd_coord_leader(kd_app *app)
{
    kd_coord *c = app->coord;
    if (!c)
        return json_null();
    raft_status st;
    raft_status_get(c->r, &st);
    if (!st.leader[0])
        return json_null();
    return json_pack("{s:s,s:I}", "node", st.leader, "term", (json_int_t)st.term);
}

json_t *kd_coord_status(kd_app *app)
{
    kd_coord *c = app->coord;
    if (!c)
        return json_null();
    raft_status st;
    raft_status_get(c->r, &st);
    json_t *members = json_array();
    for (uint32_t i = 0; members && i < st.n_members; i++) {
        const raft_member_status *ms = &st.members[i];
        json_t *o = json_pack("{s:s,s:b,s:b}", "node", ms->id, "self", ms->self, "recent_active",
                              ms->recent_active);
        if (o && ms->score_known)
            json_object_set_new(o, "score", json_integer(ms->score));
        json_array_append_new(members, o);
    }
    /* Store-level coordination (cloud upload, roster and settings changes)
     * needs a leader that a majority follows. */
    const char *coordination = st.quorum_active && st.leader[0] ? "active" : "paused";
    const char *why = !st.leader[0]       ? "no leader: not enough terminals reachable"
                      : !st.quorum_active ? "no quorum: the leader does not reach a majority"
                                          : "";
    json_t *o = json_pack(
        "{s:s,s:I,s:s,s:b,s:s,s:s,s:I,s:o,s:s,s:I,s:I}", "role", raft_role_name(st.role), "term",
        (json_int_t)st.term, "leader", st.leader, "quorum", st.quorum_active, "coordination",
        coordination, "why", why, "commit", (json_int_t)st.commit, "members",
        members ? members : json_array(), "preferred", st.preferred, "campaigns",
        (json_int_t)st.campaigns, "records_applied", (json_int_t)c->records_applied);
    if (o && st.self_score_known)
        json_object_set_new(o, "score", json_integer(st.self_score));
    return o ? o : json_null();
}

void kd_coord_free(kd_app *app)
{
    kd_coord *c = app->coord;
    if (!c)
        return;
    if (c->tick_ev)
        event_free(c->tick_ev);
    raft_free(c->r);
    kbuf_free(&c->out);
    kbuf_free(&c->snap);
    free(c->save);
    free(c->loaded);
    free(c);
    app->coord = NULL;
}
