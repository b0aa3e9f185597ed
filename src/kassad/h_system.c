/* h_system.c: liveness, metrics and the terminal's status. */
#include "jlog/jlog.h"
#include "kassad/clock.h"
#include "kassad/coord.h"
#include "kassad/ai.h"
#include "kassad/voice.h"
#include "kassad/fraud.h"
#include "kassad/handlers.h"
#include "kassad/pay.h"
#include "kassad/uplink.h"
#include "kassad/peers.h"
#include "kassad/reply.h"

static int64_t uptime_s(const kd_app *app)
{
    return (kd_mono_ms() - app->started_ms) / 1000;
}

void h_healthz(kd_req *r)
{
    kd_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void h_metrics(kd_req *r)
{
    kd_app *app = r->app;
    term_status st;
    kassa_err err;
    /* Metrics stay available when the database is not: the database
     * gauges read -1 then. */
    if (term_status_get(app->t, &st, &err) != KASSA_OK) {
        jlog(JLOG_WARN, "kassad", "status_failed", "{s:s}", "error", err.msg);
        st.db_size_bytes = -1;
        st.pending = (size_t)-1;
    }
    kd_metrics_gauges g = {
        .db_size_bytes = st.db_size_bytes,
        .pending_operations = st.pending == (size_t)-1 ? -1 : (int64_t)st.pending,
        .open_carts = (int64_t)app->carts.n_open,
        .sessions = (int64_t)app->sessions.n_used,
        .uptime_s = uptime_s(app),
    };
    if (app->peers) {
        peer_totals tot;
        peer_mesh_totals(app->peers, &tot);
        g.peer_links_up = tot.links_up;
        g.peer_ops_sent = tot.ops_sent;
        g.peer_ops_received = tot.ops_received;
        g.peer_bytes_sent = tot.bytes_sent;
        g.peer_bytes_received = tot.bytes_received;
        g.peer_links_refused = tot.links_refused;
    }
    term_saf_totals saf;
    if (term_saf_get(app->t, NULL, &saf, &err) == KASSA_OK) {
        g.card_pending = (int64_t)saf.count;
        g.card_pending_minor = saf.amount;
        g.card_due = (int64_t)saf.due;
    } else {
        g.card_pending = g.card_pending_minor = g.card_due = -1;
    }
    g.card_processor_up = kd_pay_processor_up(app);
    kbuf_reset(&app->text);
    kd_metrics_render(app->metrics, &g, &app->text);
    kd_reply_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8", &app->text);
}

void h_status(kd_req *r)
{
    kd_app *app = r->app;
    term_status st;
    kassa_err err;
    if (term_status_get(app->t, &st, &err) != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    /* online: linked to at least one other terminal of the store. cloud is
     * a placeholder until the cloud uploader lands. */
    json_t *peers = kd_peers_status(app);
    bool online = false;
    size_t i;
    json_t *p;
    json_array_foreach(peers, i, p) online |= json_is_true(json_object_get(p, "connected"));
    json_t *out =
        json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:o,s:o,s:o,s:o,s:o}", "store",
                  app->t->store_id, "node", app->t->node_id, "uptime_s", (json_int_t)uptime_s(app),
                  "db_size_bytes", (json_int_t)st.db_size_bytes, "ops", (json_int_t)st.ops,
                  "ops_held", (json_int_t)st.ops_held, "pending_ops", (json_int_t)st.pending,
                  "sales", (json_int_t)st.sales, "online", online, "peers", peers, "leader",
                  kd_coord_leader(app), "raft", kd_coord_status(app), "payments",
                  kd_pay_status_json(app), "cloud", kd_uplink_status_json(app));
    /* the fraud scorer: state, model version, decisions, flagged (fraud.h);
     * product recognition (ai.h) */
    if (out && (json_object_set_new(out, "fraud", kd_fraud_status_json(app)) != 0 ||
                json_object_set_new(out, "ai", kd_ai_status_json(app)) != 0 ||
                json_object_set_new(out, "voice", kd_voice_status_json(app)) != 0)) {
        json_decref(out);
        out = NULL;
    }
    kd_reply_json(r, 200, out);
}
