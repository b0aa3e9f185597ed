/*
 * admin.c: head office's routes (admin bearer token, checked in http.c).
 *
 * PUT routes append one downlink change each (docs/CLOUD.md, "changes"):
 *
 *   PUT /v1/admin/catalog/{sku}                    catalog, chain-wide:
 *       {"name", "price_minor", "tax_class", "barcode"?}
 *   PUT /v1/admin/stores/{store}/prices/{sku}      price, that store:
 *       {"price_minor"}
 *   PUT /v1/admin/promotions/{id}                  promotion, chain-wide:
 *       {"sku", "percent" | "amount_minor", "start_ms", "end_ms"}
 *   PUT /v1/admin/stores/{store}/roster            roster, that store:
 *       {"nodes": [node, ...]}
 *   PUT /v1/admin/stores/{store}/revocations/{node} revocation (key
 *       store/node), that store: {"reason"?}
 *   PUT /v1/admin/models/{name}                    model, chain-wide:
 *       {"version", "sha256", "manifest"?}
 *
 * Bodies are checked field by field (unknown fields refused); the change's
 * body is the request's, with the path's ids added. Answer 200
 * {"cursor", "kind", "key", "store_id"}.
 *
 * GET /v1/admin/stores/{store}/stock, /sales and /review read the
 * projections: {"store_id", "stock": [{"sku", "qty"}]},
 * {"store_id", "days": [{"day", "sales", "total_minor", "refunds_minor"}]},
 * {"store_id", "items": [{"kind", "ref", "detail", "created_at",
 * "updated_at"}]}.
 */
#include "cloudd/cloudd.h"

#include "jlog/jlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROSTER_MAX 16
#define PRICE_MAX_MINOR 100000000000ll /* 1e9 in major units */
#define TEXT_MAX 256

typedef enum { F_TEXT, F_ID, F_INT, F_SHA256, F_IDS, F_OBJECT } field_type;

typedef struct field {
    const char *name;
    field_type type;
    bool required;
    int64_t min, max; /* F_INT: the range; F_TEXT, F_IDS: the length */
} field;

static bool hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static const char *type_name(field_type t)
{
    static const char *const NAMES[] = {
        [F_TEXT] = "a string",
        [F_ID] = "an id (1 to 32 of A-Z a-z 0-9 . _ -)",
        [F_INT] = "an integer",
        [F_SHA256] = "64 lowercase hex digits",
        [F_IDS] = "an array of distinct ids",
        [F_OBJECT] = "an object",
    };
    return NAMES[t];
}

/* Why v is not what f wants ("" when it is). */
static const char *bad_value(const field *f, json_t *v, char *why, size_t size)
{
    why[0] = '\0';
    switch (f->type) {
    case F_TEXT:
        if (!json_is_string(v) || (int64_t)json_string_length(v) < f->min ||
            (int64_t)json_string_length(v) > f->max)
            snprintf(why, size, "%s of %lld to %lld bytes", type_name(f->type), (long long)f->min,
                     (long long)f->max);
        break;
    case F_ID:
        if (!json_is_string(v) || !kassa_valid_id(json_string_value(v), KASSA_ID_MAX))
            snprintf(why, size, "%s", type_name(f->type));
        break;
    case F_INT:
        if (!json_is_integer(v) || json_integer_value(v) < f->min || json_integer_value(v) > f->max)
            snprintf(why, size, "an integer from %lld to %lld", (long long)f->min,
                     (long long)f->max);
        break;
    case F_SHA256:
        if (!json_is_string(v) || !hex64(json_string_value(v)))
            snprintf(why, size, "%s", type_name(f->type));
        break;
    case F_IDS: {
        bool ok = json_is_array(v) && (int64_t)json_array_size(v) >= f->min &&
                  (int64_t)json_array_size(v) <= f->max;
        for (size_t i = 0; ok && i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            ok = json_is_string(e) && kassa_valid_id(json_string_value(e), KASSA_ID_MAX);
            for (size_t k = 0; ok && k < i; k++)
                ok = !json_equal(e, json_array_get(v, k));
        }
        if (!ok)
            snprintf(why, size, "%s, %lld to %lld of them", type_name(f->type), (long long)f->min,
                     (long long)f->max);
        break;
    }
    case F_OBJECT:
        if (!json_is_object(v))
            snprintf(why, size, "%s", type_name(f->type));
        break;
    }
    return why;
}

/* Answers 400 and returns -1 unless body has exactly the fields allowed. */
static int check_fields(cd_req *r, json_t *body, const field *fields, size_t n)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = strcmp(fields[i].name, key) == 0;
        if (!known) {
            json_t *shown = cd_json_text(key);
            cd_reply_error(r, 400, CD_E_BAD_REQUEST, "unknown field %.64s",
                           shown ? json_string_value(shown) : "?");
            json_decref(shown);
            return -1;
        }
    }
    char why[128];
    for (size_t i = 0; i < n; i++) {
        v = json_object_get(body, fields[i].name);
        if (!v && fields[i].required) {
            cd_reply_error(r, 400, CD_E_BAD_REQUEST, "%s is required", fields[i].name);
            return -1;
        }
        if (v && bad_value(&fields[i], v, why, sizeof why)[0]) {
            cd_reply_error(r, 400, CD_E_BAD_REQUEST, "%s must be %s", fields[i].name, why);
            return -1;
        }
    }
    return 0;
}

/* Appends one change; cursors grow in commit order (the table lock makes
 * appends one at a time, across instances too: downlink.c relies on it). */
static int append(cd_db *db, const char *store_id, const char *kind, const char *key,
                  const json_t *body, int64_t *cursor, kassa_err *err)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    const char *params[] = {store_id, kind, key, text};
    PGresult *res = NULL;
    int rc = cd_db_exec(db, "BEGIN", err);
    if (rc == KASSA_OK)
        rc = cd_db_exec(db, "LOCK TABLE changes IN SHARE ROW EXCLUSIVE MODE", err);
    if (rc == KASSA_OK && !(res = cd_db_query(db,
                                              "INSERT INTO changes (store_id, kind, key, body)"
                                              " VALUES ($1, $2, $3, $4::jsonb) RETURNING cursor",
                                              4, params, NULL, NULL, false, err)))
        rc = KASSA_EIO;
    if (rc == KASSA_OK) {
        *cursor = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        rc = cd_db_exec(db, "COMMIT", err);
    }
    PQclear(res);
    free(text);
    if (rc != KASSA_OK)
        cd_db_rollback(db);
    return rc;
}

/* A rule across fields: why the body breaks it, or NULL. */
typedef const char *(*body_rule)(json_t *body);

typedef struct change_spec {
    const char *kind;
    const field *fields;
    size_t n_fields;
    body_rule rule; /* NULL: none */
} change_spec;

/* Checks the body, adds the path's ids to it (extra: name, value pairs),
 * appends it, answers. */
static void put_change(cd_req *r, const change_spec *spec, const char *store_id, const char *key,
                       const char *const *extra)
{
    json_t *body = cd_req_json(r);
    if (!body)
        return;
    if (check_fields(r, body, spec->fields, spec->n_fields) != 0) {
        json_decref(body);
        return;
    }
    const char *why = spec->rule ? spec->rule(body) : NULL;
    if (why) {
        json_decref(body);
        cd_reply_error(r, 400, CD_E_BAD_REQUEST, "%s", why);
        return;
    }
    const char *kind = spec->kind;
    for (size_t i = 0; extra && extra[i]; i += 2)
        json_object_set_new(body, extra[i], json_string(extra[i + 1]));
    kassa_err err;
    int64_t cursor = 0;
    int rc = cd_db_ready(&r->app->db, &err);
    if (rc == KASSA_OK)
        rc = append(&r->app->db, store_id, kind, key, body, &cursor, &err);
    json_decref(body);
    if (rc != KASSA_OK) {
        cd_reply_kassa(r, &err);
        return;
    }
    jlog(JLOG_INFO, CD_COMPONENT, "change", "{s:I,s:s,s:s,s:s}", "cursor", (json_int_t)cursor,
         "store", store_id, "kind", kind, "key", key);
    cd_reply_json(r, 200,
                  json_pack("{s:I,s:s,s:s,s:s}", "cursor", (json_int_t)cursor, "kind", kind, "key",
                            key, "store_id", store_id));
    cd_downlink_poke(r->app);
}

#define CHANGE(kind, fields, rule)                                                                 \
    {                                                                                              \
        kind, fields, KASSA_ARRAY_LEN(fields), rule                                                \
    }

void h_admin_catalog(cd_req *r)
{
    static const field FIELDS[] = {
        {"name", F_TEXT, true, 1, KASSA_NAME_MAX},
        {"price_minor", F_INT, true, 0, PRICE_MAX_MINOR},
        {"tax_class", F_ID, true, 0, 0},
        {"barcode", F_TEXT, false, 0, KASSA_BARCODE_MAX},
    };
    static const change_spec spec = CHANGE("catalog", FIELDS, NULL);
    const char *sku = cd_req_param(r, 0);
    const char *const extra[] = {"sku", sku, NULL};
    put_change(r, &spec, "*", sku, extra);
}

void h_admin_price(cd_req *r)
{
    static const field FIELDS[] = {{"price_minor", F_INT, true, 0, PRICE_MAX_MINOR}};
    static const change_spec spec = CHANGE("price", FIELDS, NULL);
    const char *sku = cd_req_param(r, 1);
    const char *const extra[] = {"sku", sku, NULL};
    put_change(r, &spec, cd_req_param(r, 0), sku, extra);
}

/* One discount, over a real period. */
static const char *promotion_rule(json_t *body)
{
    bool pct = json_object_get(body, "percent"), amt = json_object_get(body, "amount_minor");
    if (pct == amt)
        return "give one of percent and amount_minor";
    if (json_integer_value(json_object_get(body, "start_ms")) >=
        json_integer_value(json_object_get(body, "end_ms")))
        return "end_ms must be after start_ms";
    return NULL;
}

void h_admin_promotion(cd_req *r)
{
    static const field FIELDS[] = {
        {"sku", F_ID, true, 0, 0},
        {"percent", F_INT, false, 1, 100},
        {"amount_minor", F_INT, false, 1, PRICE_MAX_MINOR},
        {"start_ms", F_INT, true, 0, INT64_MAX},
        {"end_ms", F_INT, true, 0, INT64_MAX},
    };
    static const change_spec spec = CHANGE("promotion", FIELDS, promotion_rule);
    const char *id = cd_req_param(r, 0);
    const char *const extra[] = {"id", id, NULL};
    put_change(r, &spec, "*", id, extra);
}

void h_admin_roster(cd_req *r)
{
    static const field FIELDS[] = {{"nodes", F_IDS, true, 1, ROSTER_MAX}};
    static const change_spec spec = CHANGE("roster", FIELDS, NULL);
    const char *store = cd_req_param(r, 0);
    const char *const extra[] = {"store", store, NULL};
    put_change(r, &spec, store, store, extra);
}

void h_admin_revocation(cd_req *r)
{
    static const field FIELDS[] = {{"reason", F_TEXT, false, 0, TEXT_MAX}};
    static const change_spec spec = CHANGE("revocation", FIELDS, NULL);
    const char *store = cd_req_param(r, 0), *node = cd_req_param(r, 1);
    char key[2 * KASSA_ID_MAX + 2];
    snprintf(key, sizeof key, "%s/%s", store, node);
    const char *const extra[] = {"store", store, "node", node, NULL};
    put_change(r, &spec, store, key, extra);
}

void h_admin_model(cd_req *r)
{
    static const field FIELDS[] = {
        {"version", F_TEXT, true, 1, 64},
        {"sha256", F_SHA256, true, 0, 0},
        {"manifest", F_OBJECT, false, 0, 0},
    };
    static const change_spec spec = CHANGE("model", FIELDS, NULL);
    const char *name = cd_req_param(r, 0);
    const char *const extra[] = {"name", name, NULL};
    put_change(r, &spec, "*", name, extra);
}

#undef CHANGE

/* ---- the projections ---- */

static void get_rows(cd_req *r, const char *key, const char *sql)
{
    const char *store = cd_req_param(r, 0);
    const char *params[] = {store};
    kassa_err err;
    json_t *rows;
    if (cd_db_ready(&r->app->db, &err) != KASSA_OK ||
        cd_db_rows_json(&r->app->db, sql, 1, params, &rows, &err) != KASSA_OK) {
        cd_reply_kassa(r, &err);
        return;
    }
    cd_reply_json(r, 200, json_pack("{s:s,s:o}", "store_id", store, key, rows));
}

void h_admin_stock(cd_req *r)
{
    get_rows(r, "stock", "SELECT sku, qty FROM stock WHERE store_id = $1 ORDER BY sku");
}

void h_admin_sales(cd_req *r)
{
    get_rows(r, "days",
             "SELECT to_char(day, 'YYYY-MM-DD') AS day, sales, total_minor, refunds_minor"
             " FROM sales_daily WHERE store_id = $1 ORDER BY day");
}

void h_admin_review(cd_req *r)
{
    get_rows(r, "items",
             "SELECT kind, ref, detail,"
             " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
             " AS created_at,"
             " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
             " AS updated_at"
             " FROM review_items WHERE store_id = $1 ORDER BY created_at, kind, ref");
}
