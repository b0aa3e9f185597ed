/* compact.c: the leader's compaction proposals (compact.h). */
#include "kassad/compact.h"

#include "jlog/jlog.h"
#include "kassad/clock.h"
#include "kassad/records.h"
#include "storerec/storerec.h"

#include <string.h>

/* Lowers limit to what node acknowledged; false when the node is not
 * linked or we lack some of its own operations (which may refer to sales
 * about to be dropped). */
static bool limit_by_peer(kd_app *app, const char *node, const oplog_vv *held, oplog_vv *limit,
                          kassa_err *err)
{
    oplog_vv acked;
    oplog_vv_init(&acked);
    bool ok = peer_mesh_acked(app->peers, node, &acked, err) == KASSA_OK &&
              oplog_vv_get(held, node) >= oplog_vv_get(&acked, node);
    for (size_t i = 0; ok && i < limit->n; i++) {
        uint64_t theirs = oplog_vv_get(&acked, limit->e[i].origin);
        if (theirs < limit->e[i].seq)
            limit->e[i].seq = theirs;
    }
    oplog_vv_free(&acked);
    return ok;
}

/* The horizon: what the cloud and every roster member hold, older than the
 * retention. False (and why in err) when compaction must wait. */
static bool horizon(kd_app *app, const oplog_vv *cloud_vv, oplog_vv *out, kassa_err *err)
{
    const kd_config *cfg = &app->cfg;
    oplog_vv limit, held;
    oplog_vv_init(&limit);
    oplog_vv_init(&held);
    bool ok = term_vv(app->t, &held, err) == KASSA_OK;
    for (size_t i = 0; ok && i < cloud_vv->n; i++)
        ok = oplog_vv_set(&limit, cloud_vv->e[i].origin, cloud_vv->e[i].seq, err) == KASSA_OK;
    for (size_t i = 0; ok && app->peers && i < cfg->n_roster; i++)
        if (strcmp(cfg->roster[i], app->t->node_id) != 0)
            ok = limit_by_peer(app, cfg->roster[i], &held, &limit, err);
    int64_t cutoff_ms = kd_wall_ms() - cfg->cloud_retention_s * 1000;
    if (ok)
        ok = term_compact_horizon(app->t, &limit, cutoff_ms, out, err) == KASSA_OK;
    oplog_vv_free(&limit);
    oplog_vv_free(&held);
    return ok;
}

void kd_compact_maybe(kd_app *app, const oplog_vv *cloud_vv)
{
    const kd_config *cfg = &app->cfg;
    int64_t now = kd_mono_ms();
    if (cfg->cloud_compact_interval_s == 0 || now < app->next_compact_ms)
        return;
    app->next_compact_ms = now + cfg->cloud_compact_interval_s * 1000;
    kassa_err err;
    kassa_err_clear(&err);
    oplog_vv h;
    oplog_vv_init(&h);
    kbuf rec;
    kbuf_init(&rec);
    if (!horizon(app, cloud_vv, &h, &err)) {
        jlog(JLOG_INFO, "store", "compaction_waits", "{s:s}", "reason", err.msg);
    } else if (h.n > 0 && (storerec_encode_compact(&rec, &h, &err) != KASSA_OK ||
                           kd_records_commit(app, &rec, &err) != KASSA_OK)) {
        jlog(JLOG_WARN, "store", "compaction_not_committed", "{s:s}", "error", err.msg);
    }
    kbuf_free(&rec);
    oplog_vv_free(&h);
}
