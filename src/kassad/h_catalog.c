/* h_catalog.c: item search, barcode lookup and stock. */
#include "kassad/handlers.h"
#include "kassad/uplink.h"
#include "kassad/reply.h"

#define CATALOG_LIMIT_MAX 200
#define CATALOG_LIMIT_DEFAULT 20

json_t *kd_json_item(const term_item *it)
{
    return json_pack("{s:s,s:o,s:s,s:I,s:s,s:I}", "sku", it->sku, "name", kd_json_text(it->name),
                     "barcode", it->barcode, "price_minor", (json_int_t)it->price, "tax_class",
                     it->tax_class, "stock", (json_int_t)it->stock);
}

static int add_item(const term_item *it, void *ctx)
{
    return json_array_append_new(ctx, kd_json_item(it)) == 0 ? KASSA_OK : KASSA_ENOMEM;
}

static json_t *stock_json(const char *sku, int64_t qty)
{
    return json_pack("{s:s,s:I}", "sku", sku, "stock", (json_int_t)qty);
}

static int add_stock(const char *sku, int64_t qty, void *ctx)
{
    return json_array_append_new(ctx, stock_json(sku, qty)) == 0 ? KASSA_OK : KASSA_ENOMEM;
}

void h_catalog_search(kd_req *r)
{
    int64_t limit;
    const char *text = kd_req_arg(r, "q");
    if (kd_req_arg_int(r, "limit", 1, CATALOG_LIMIT_MAX, CATALOG_LIMIT_DEFAULT, &limit) != 0)
        return;
    json_t *items = json_array();
    kassa_err err;
    int rc = items ? term_catalog_search(r->app->t, text ? text : "", (size_t)limit, add_item,
                                         items, &err)
                   : KASSA_ENOMEM;
    kd_reply_list(r, "items", items, rc, &err);
}

void h_catalog_barcode(kd_req *r)
{
    term_item it;
    kassa_err err;
    if (term_item_by_barcode(r->app->t, kd_req_param(r, 0), &it, &err) != KASSA_OK)
        kd_reply_kassa(r, &err);
    else
        kd_reply_json(r, 200, kd_json_item(&it));
}

void h_stock_chain(kd_req *r)
{
    const char *sku = kd_req_arg(r, "sku");
    if (!sku || !kassa_valid_id(sku, KASSA_SKU_MAX)) {
        kd_reply_error(r, 400, KD_E_BAD_REQUEST, "give the sku to look up (?sku=...)");
        return;
    }
    kd_uplink_chain_stock(r, sku);
}

void h_stock(kd_req *r)
{
    const char *sku = kd_req_arg(r, "sku");
    json_t *items = json_array();
    kassa_err err;
    int rc = KASSA_ENOMEM;
    if (items && sku) {
        int64_t qty;
        rc = term_stock_get(r->app->t, sku, &qty, &err);
        if (rc == KASSA_OK && json_array_append_new(items, stock_json(sku, qty)) != 0)
            rc = KASSA_ENOMEM;
    } else if (items) {
        rc = term_stock_each(r->app->t, add_stock, items, &err);
    }
    kd_reply_list(r, "items", items, rc, &err);
}
