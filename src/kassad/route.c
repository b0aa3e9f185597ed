/* route.c: the route table (the whole API at a glance) and its matcher. */
#include "kassad/route.h"

#include "kassad/handlers.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The query parameters of the routes that take some. */
static const char *const CATALOG_QUERY[] = {"q", "limit", NULL};
static const char *const SALES_QUERY[] = {"limit", NULL};
static const char *const STOCK_QUERY[] = {"sku", NULL};
static const char *const REVIEW_QUERY[] = {"all", NULL};
static const char *const FRAUD_REVIEW_QUERY[] = {"all", "limit", NULL};

#define AUTH KD_ROUTE_AUTH
#define WRITES KD_ROUTE_WRITES
#define R(m, pattern, fn, flags, query)                                                            \
    {                                                                                              \
        EVHTTP_REQ_##m, #m, pattern, fn, flags, query                                              \
    }

static const kd_route ROUTES[] = {
    R(GET, "/healthz", h_healthz, 0, NULL),
    R(GET, "/metrics", h_metrics, 0, NULL),
    R(GET, "/api/v1/status", h_status, 0, NULL),
    R(GET, "/api/v1/cashiers", h_cashiers, 0, NULL),
    /* A login writes: wrong PINs are counted in the database. */
    R(POST, "/api/v1/sessions", h_session_create, WRITES, NULL),
    R(GET, "/api/v1/sessions/current", h_session_get, AUTH, NULL),
    R(DELETE, "/api/v1/sessions/current", h_session_delete, AUTH, NULL),
    R(GET, "/api/v1/catalog", h_catalog_search, AUTH, CATALOG_QUERY),
    R(GET, "/api/v1/catalog/barcode/{barcode}", h_catalog_barcode, AUTH, NULL),
    R(POST, "/api/v1/carts", h_cart_open, AUTH, NULL),
    R(GET, "/api/v1/carts/{cart_id}", h_cart_get, AUTH, NULL),
    R(DELETE, "/api/v1/carts/{cart_id}", h_cart_delete, AUTH, NULL),
    R(POST, "/api/v1/carts/{cart_id}/lines", h_cart_line_add, AUTH, NULL),
    /* A price override checks a supervisor's PIN: it may write. */
    R(PATCH, "/api/v1/carts/{cart_id}/lines/{sku}", h_cart_line_patch, AUTH | WRITES, NULL),
    R(DELETE, "/api/v1/carts/{cart_id}/lines/{sku}", h_cart_line_delete, AUTH, NULL),
    R(POST, "/api/v1/carts/{cart_id}/checkout", h_cart_checkout, AUTH | WRITES, NULL),
    R(GET, "/api/v1/sales", h_sales_list, AUTH, SALES_QUERY),
    R(GET, "/api/v1/sales/{sale_id}", h_sale_get, AUTH, NULL),
    R(POST, "/api/v1/sales/{sale_id}/void", h_sale_void, AUTH | WRITES, NULL),
    R(POST, "/api/v1/sales/{sale_id}/returns", h_sale_return, AUTH | WRITES, NULL),
    R(POST, "/api/v1/drawer/open", h_drawer_open, AUTH | WRITES, NULL),
    R(GET, "/api/v1/drawer", h_drawer_get, AUTH, NULL),
    R(POST, "/api/v1/drawer/float", h_drawer_float, AUTH | WRITES, NULL),
    R(POST, "/api/v1/drawer/drop", h_drawer_drop, AUTH | WRITES, NULL),
    R(POST, "/api/v1/drawer/count", h_drawer_count, AUTH | WRITES, NULL),
    R(GET, "/api/v1/payments/pending", h_payments_pending, AUTH, NULL),
    R(POST, "/api/v1/payments/forward", h_payments_forward, AUTH, NULL),
    R(GET, "/api/v1/payments/review", h_payments_review, AUTH, REVIEW_QUERY),
    R(POST, "/api/v1/payments/review/{payment_id}/resolve", h_payment_resolve, AUTH | WRITES, NULL),
    R(GET, "/api/v1/stock", h_stock, AUTH, STOCK_QUERY),
    R(GET, "/api/v1/stock/chain", h_stock_chain, AUTH, STOCK_QUERY),
    /* Each decision is recorded for audit: both write. */
    R(POST, "/api/v1/recognize", h_recognize, AUTH | WRITES, NULL),
    R(POST, "/api/v1/recognize/{decision_id}/confirm", h_recognize_confirm, AUTH | WRITES, NULL),
    /* A proposal and its answer are audit operations: they write. */
    R(POST, "/api/v1/voice", h_voice, AUTH | WRITES, NULL),
    R(POST, "/api/v1/voice/{proposal_id}/confirm", h_voice_confirm, AUTH | WRITES, NULL),
    R(POST, "/api/v1/voice/{proposal_id}/cancel", h_voice_cancel, AUTH | WRITES, NULL),
    R(GET, "/api/v1/review", h_review_list, AUTH, FRAUD_REVIEW_QUERY),
    /* A resolution checks a supervisor's PIN and writes operations. */
    R(POST, "/api/v1/review/{review_id}/resolve", h_review_resolve, AUTH | WRITES, NULL),
};

#undef R
#undef AUTH
#undef WRITES

_Static_assert(sizeof ROUTES / sizeof ROUTES[0] <= KD_ROUTES_MAX, "raise KD_ROUTES_MAX");

const char *kd_method_name(enum evhttp_cmd_type method)
{
    switch (method) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

size_t kd_routes_count(void)
{
    return sizeof ROUTES / sizeof ROUTES[0];
}

const kd_route *kd_route_at(size_t i)
{
    return i < kd_routes_count() ? &ROUTES[i] : NULL;
}

/* Length of the segment starting at s (up to the next '/' or the end). */
static size_t seg_len(const char *s)
{
    return strcspn(s, "/");
}

static bool decode_param(const char *seg, size_t n, char *out)
{
    char raw[3 * KD_PARAM_SIZE_BYTES];
    if (n == 0 || n >= sizeof raw)
        return false;
    memcpy(raw, seg, n);
    raw[n] = '\0';
    size_t len = 0;
    char *dec = evhttp_uridecode(raw, 0, &len);
    if (!dec)
        return false;
    /* A %00 would cut the C string short: refuse it rather than match a
     * shorter id than the client sent. */
    bool ok = len > 0 && len < KD_PARAM_SIZE_BYTES && strlen(dec) == len;
    if (ok)
        memcpy(out, dec, len + 1);
    free(dec);
    return ok;
}

/* Matches path against one pattern, filling params. */
static bool match_pattern(const char *pattern, const char *path, kd_match *m)
{
    m->n_params = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return false;
        p++, s++;
        size_t pn = seg_len(p), sn = seg_len(s);
        if (*p == '{') {
            if (m->n_params == KD_ROUTE_PARAMS_MAX || !decode_param(s, sn, m->params[m->n_params]))
                return false;
            m->n_params++;
        } else if (pn != sn || strncmp(p, s, pn) != 0) {
            return false;
        }
        p += pn, s += sn;
    }
    return *p == '\0' && *s == '\0';
}

kd_match_result kd_route_match(enum evhttp_cmd_type method, const char *path, kd_match *m)
{
    memset(m, 0, sizeof *m);
    bool path_known = false;
    for (size_t i = 0; i < kd_routes_count(); i++) {
        const kd_route *r = &ROUTES[i];
        if (!match_pattern(r->pattern, path, m))
            continue;
        if (r->method == method) {
            m->index = i;
            m->route = r;
            return KD_MATCH_OK;
        }
        size_t used = strlen(m->allow);
        if (used + strlen(r->method_name) + 3 < sizeof m->allow)
            strcat(strcat(m->allow, used ? ", " : ""), r->method_name);
        path_known = true;
    }
    m->n_params = 0;
    return path_known ? KD_MATCH_NO_METHOD : KD_MATCH_NO_PATH;
}
