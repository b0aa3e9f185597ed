/* records.c: committed store records applied to this terminal (records.h). */
#include "kassad/records.h"

#include "jlog/jlog.h"
#include "kassad/clock.h"
#include "kassad/coord.h"

int kd_records_apply(kd_app *app, const storerec *rec, kassa_err *err)
{
    switch (rec->type) {
    case STOREREC_CLOUD_ACK:
        return term_cloud_ack_merge(app->t, &rec->vv, err);
    case STOREREC_CLOUD_CURSOR:
        return term_cloud_cursor_merge(app->t, rec->cursor, err);
    case STOREREC_COMPACT: {
        term_compact_report rep;
        int rc = term_compact(app->t, &rec->vv, &rep, err);
        if (rc == KASSA_OK && rep.origins > 0) {
            app->compacted_ops += rep.ops;
            app->compacted_at_ms = kd_wall_ms();
            jlog(JLOG_INFO, "store", "compacted", "{s:I,s:I,s:I}", "origins",
                 (json_int_t)rep.origins, "ops", (json_int_t)rep.ops, "sales",
                 (json_int_t)rep.sales);
        }
        return rc;
    }
    }
    return kassa_fail(err, KASSA_EINVAL, "store record of type %d", (int)rec->type);
}

static int apply_cb(const storerec *rec, void *ctx, kassa_err *err)
{
    return kd_records_apply(ctx, rec, err);
}

int kd_records_apply_snapshot(kd_app *app, const uint8_t *p, size_t n, kassa_err *err)
{
    return storerec_snapshot_each(p, n, apply_cb, app, err);
}

int kd_records_snapshot(kd_app *app, kbuf *out, kassa_err *err)
{
    oplog_vv acked, bases;
    oplog_vv_init(&acked);
    oplog_vv_init(&bases);
    kbuf rec;
    kbuf_init(&rec);
    kbuf_reset(out);
    uint64_t cursor = 0;
    int rc = term_cloud_acked(app->t, &acked, err);
    if (rc == KASSA_OK)
        rc = term_cloud_cursor(app->t, &cursor, err);
    if (rc == KASSA_OK)
        rc = term_compact_bases(app->t, &bases, err);
    /* Empty vectors and a zero cursor are the initial state: left out. */
    if (rc == KASSA_OK && acked.n > 0 &&
        (rc = storerec_encode_cloud_ack(&rec, &acked, err)) == KASSA_OK)
        storerec_snapshot_add(out, &rec);
    kbuf_reset(&rec);
    if (rc == KASSA_OK && cursor > 0 &&
        (rc = storerec_encode_cloud_cursor(&rec, cursor, err)) == KASSA_OK)
        storerec_snapshot_add(out, &rec);
    kbuf_reset(&rec);
    if (rc == KASSA_OK && bases.n > 0 &&
        (rc = storerec_encode_compact(&rec, &bases, err)) == KASSA_OK)
        storerec_snapshot_add(out, &rec);
    if (rc == KASSA_OK && out->oom)
        rc = kassa_fail(err, KASSA_ENOMEM, "out of memory");
    kbuf_free(&rec);
    oplog_vv_free(&acked);
    oplog_vv_free(&bases);
    return rc;
}

int kd_records_commit(kd_app *app, const kbuf *rec, kassa_err *err)
{
    if (app->coord)
        return kd_coord_propose(app, rec, err);
    storerec r;
    int rc = storerec_decode(rec->data, rec->len, &r, err);
    if (rc == KASSA_OK)
        rc = kd_records_apply(app, &r, err);
    storerec_free(&r);
    return rc;
}
