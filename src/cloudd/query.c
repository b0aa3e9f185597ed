/* query.c: what the stores read: the cloud's version vector of a store,
 * and one SKU's stock in every store. */
#include "cloudd/cloudd.h"

#include <stdlib.h>

int cd_vv_json(cd_db *db, const char *store, json_t **out, kassa_err *err)
{
    const char *params[] = {store};
    PGresult *res = cd_db_query(db,
                                "SELECT coalesce(json_object_agg(origin, seq), '{}') FROM heads"
                                " WHERE store_id = $1 AND seq > 0",
                                1, params, NULL, NULL, false, err);
    if (!res)
        return err->code;
    *out = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    if (!*out)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    return KASSA_OK;
}

void h_vv(cd_req *r)
{
    kassa_err err;
    json_t *vv;
    if (cd_db_ready(&r->app->db, &err) != KASSA_OK ||
        cd_vv_json(&r->app->db, cd_req_param(r, 0), &vv, &err) != KASSA_OK) {
        cd_reply_kassa(r, &err);
        return;
    }
    cd_reply_json(r, 200, json_pack("{s:o}", "vv", vv));
}

/* as_of_ms: the newest operation the cloud holds from that store (its
 * stock is known up to there). */
void h_stock(cd_req *r)
{
    const char *sku = cd_req_query(r, "sku");
    if (!sku || !kassa_valid_id(sku, KASSA_SKU_MAX)) {
        cd_reply_error(r, 400, CD_E_BAD_REQUEST, "sku is required: 1 to %d of A-Z a-z 0-9 . _ -",
                       KASSA_SKU_MAX);
        return;
    }
    kassa_err err;
    const char *params[] = {sku};
    json_t *stores;
    if (cd_db_ready(&r->app->db, &err) != KASSA_OK ||
        cd_db_rows_json(&r->app->db,
                        "SELECT s.store_id, s.qty,"
                        " (SELECT coalesce(max(h.hlc), 0) >> 16 FROM heads h"
                        "  WHERE h.store_id = s.store_id) AS as_of_ms"
                        " FROM stock s WHERE s.sku = $1 ORDER BY s.store_id",
                        1, params, &stores, &err) != KASSA_OK) {
        cd_reply_kassa(r, &err);
        return;
    }
    cd_reply_json(r, 200, json_pack("{s:s,s:o}", "sku", sku, "stores", stores));
}
