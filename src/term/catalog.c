/* catalog.c: catalog items and store settings (last-writer-wins). */
#include "term/term_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tax classes every store has from the start (basis points); a setting
 * "tax.CLASS" overrides or adds one. */
static const struct {
    const char *name;
    int32_t rate_bp;
} DEFAULT_TAX[] = {{"standard", 2000}, {"reduced", 550}, {"zero", 0}};

int term_setting_get(term *t, const char *key, char *out, size_t size, bool *found, kassa_err *err)
{
    static const char SQL[] = "SELECT value FROM settings WHERE key = ?1";
    *found = false;
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found)
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_error(&t->st, rc, "setting", err);
    return KASSA_OK;
}

int term_tax_rate(term *t, const char *tax_class, int32_t *rate_bp, kassa_err *err)
{
    char key[OPLOG_SETTING_KEY_MAX + 1], value[OPLOG_SETTING_VALUE_MAX + 1];
    if ((size_t)snprintf(key, sizeof key, "tax.%s", tax_class) >= sizeof key)
        return kassa_fail(err, KASSA_EINVAL, "tax class \"%s\" too long", tax_class);
    bool found;
    int rc = term_setting_get(t, key, value, sizeof value, &found, err);
    if (rc != KASSA_OK)
        return rc;
    if (found) {
        char *end;
        long bp = strtol(value, &end, 10);
        if (*end || end == value || bp < 0 || bp > PRICING_BP_MAX)
            return kassa_fail(err, KASSA_ECORRUPT, "setting %s has invalid rate \"%s\"", key,
                              value);
        *rate_bp = (int32_t)bp;
        return KASSA_OK;
    }
    for (size_t i = 0; i < KASSA_ARRAY_LEN(DEFAULT_TAX); i++) {
        if (strcmp(DEFAULT_TAX[i].name, tax_class) == 0) {
            *rate_bp = DEFAULT_TAX[i].rate_bp;
            return KASSA_OK;
        }
    }
    return kassa_fail(err, KASSA_ENOTFOUND, "unknown tax class \"%s\"", tax_class);
}

/* Cash rounding increments in use (docs/PAYMENTS.md): 0.05 in Switzerland,
 * 0.05 or 0.10 where the smallest coins were withdrawn, and so on. */
static const int64_t ROUNDING_INCREMENTS[] = {1, 5, 10, 20, 25, 50, 100};

int term_cash_round(term *t, int64_t amount, int64_t *rounded, kassa_err *err)
{
    char currency[OPLOG_SETTING_VALUE_MAX + 1], key[OPLOG_SETTING_KEY_MAX + 1],
        value[OPLOG_SETTING_VALUE_MAX + 1];
    bool found;
    int rc = term_setting_get(t, "currency", currency, sizeof currency, &found, err);
    if (rc != KASSA_OK)
        return rc;
    if (!found)
        snprintf(currency, sizeof currency, "EUR");
    if ((size_t)snprintf(key, sizeof key, "cash_rounding.%s", currency) >= sizeof key)
        return kassa_fail(err, KASSA_ECORRUPT, "currency \"%s\" too long", currency);
    if ((rc = term_setting_get(t, key, value, sizeof value, &found, err)) != KASSA_OK)
        return rc;
    int64_t increment = 1;
    if (found) {
        char *end;
        increment = value[0] >= '1' && value[0] <= '9' ? strtol(value, &end, 10) : 0;
        end = increment ? end : value;
        bool known = false;
        for (size_t i = 0; i < KASSA_ARRAY_LEN(ROUNDING_INCREMENTS); i++)
            known = known || (*end == '\0' && end != value && increment == ROUNDING_INCREMENTS[i]);
        if (!known)
            return kassa_fail(err, KASSA_ECORRUPT,
                              "setting %s: \"%s\" is not one of 1, 5, 10, 20, 25, 50, 100", key,
                              value);
    }
    if (amount < 0 || amount > PRICING_AMOUNT_MAX)
        return kassa_fail(err, KASSA_EOVERFLOW, "cash amount out of range");
    /* Halves round up: 2.5 of an increment of 5 becomes 5. */
    int64_t rest = amount % increment;
    *rounded = amount - rest + (2 * rest >= increment ? increment : 0);
    return KASSA_OK;
}

typedef struct setting_ctx {
    oplog_setting s;
} setting_ctx;

static int setting_tx(term *t, void *ctx, kassa_err *err)
{
    setting_ctx *c = ctx;
    kbuf_reset(&t->scratch);
    oplog_encode_setting(&t->scratch, &c->s);
    return term_append_local(t, OP_SETTING_SET, &t->scratch, NULL, err);
}

int term_setting_set(term *t, const char *key, const char *value, kassa_err *err)
{
    setting_ctx c;
    if (!kassa_valid_id(key, OPLOG_SETTING_KEY_MAX))
        return kassa_fail(err, KASSA_EINVAL, "invalid setting key \"%s\"", key);
    if (strlen(value) > OPLOG_SETTING_VALUE_MAX)
        return kassa_fail(err, KASSA_EINVAL, "setting value longer than %d bytes",
                          OPLOG_SETTING_VALUE_MAX);
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return kassa_fail(err, KASSA_EINVAL, "setting value has control characters");
    if (strncmp(key, "tax.", 4) == 0) {
        char *end;
        long bp = strtol(value, &end, 10);
        if (!kassa_valid_id(key + 4, KASSA_ID_MAX) || *end || end == value || bp < 0 ||
            bp > PRICING_BP_MAX)
            return kassa_fail(err, KASSA_EINVAL,
                              "%s: a tax rate is basis points 0..%d (2000 = 20 %%)", key,
                              PRICING_BP_MAX);
    }
    snprintf(c.s.key, sizeof c.s.key, "%s", key);
    snprintf(c.s.value, sizeof c.s.value, "%s", value);
    return term_in_tx(t, setting_tx, &c, err);
}

static int catalog_set_op(term *t, const oplog_catalog_set *c, kassa_err *err)
{
    if (c->fields & CATALOG_F_TAX_CLASS) {
        int32_t bp;
        int rc = term_tax_rate(t, c->tax_class, &bp, err);
        if (rc != KASSA_OK)
            return rc;
    }
    kbuf_reset(&t->scratch);
    oplog_encode_catalog_set(&t->scratch, c);
    return term_append_local(t, OP_CATALOG_SET, &t->scratch, NULL, err);
}

static int catalog_set_tx(term *t, void *ctx, kassa_err *err)
{
    return catalog_set_op(t, ctx, err);
}

int term_catalog_set(term *t, const oplog_catalog_set *c, kassa_err *err)
{
    if (!kassa_valid_id(c->sku, KASSA_SKU_MAX))
        return kassa_fail(err, KASSA_EINVAL, "invalid SKU \"%s\"", c->sku);
    if (c->fields == 0 || (c->fields & ~CATALOG_F_ALL))
        return kassa_fail(err, KASSA_EINVAL, "no catalog field to set");
    if ((c->fields & CATALOG_F_PRICE) && (c->price < 0 || c->price > PRICING_AMOUNT_MAX))
        return kassa_fail(err, KASSA_EOVERFLOW, "price out of range");
    if ((c->fields & CATALOG_F_NAME) && !c->name[0])
        return kassa_fail(err, KASSA_EINVAL, "empty name");
    return term_in_tx(t, catalog_set_tx, (void *)c, err);
}

typedef struct import_ctx {
    const catalog_item *items;
    size_t n;
} import_ctx;

static int import_tx(term *t, void *ctx, kassa_err *err)
{
    import_ctx *c = ctx;
    for (size_t i = 0; i < c->n; i++) {
        const catalog_item *it = &c->items[i];
        oplog_catalog_set set;
        memset(&set, 0, sizeof set);
        set.fields = CATALOG_F_ALL;
        snprintf(set.sku, sizeof set.sku, "%s", it->sku);
        snprintf(set.name, sizeof set.name, "%s", it->name);
        snprintf(set.barcode, sizeof set.barcode, "%s", it->barcode);
        set.price = it->price;
        snprintf(set.tax_class, sizeof set.tax_class, "%s", it->tax_class);
        int rc = catalog_set_op(t, &set, err);
        if (rc != KASSA_OK) {
            char reason[KASSA_ERR_MSG_SIZE];
            memcpy(reason, err->msg, sizeof reason); /* the message formats into err */
            return kassa_fail(err, rc, "line %u: %s", it->line, reason);
        }
        if (it->stock > OPLOG_STOCK_DELTA_MAX)
            return kassa_fail(err, KASSA_EOVERFLOW, "line %u: stock above %lld", it->line,
                              (long long)OPLOG_STOCK_DELTA_MAX);
        if (it->stock > 0) {
            oplog_stock s = {.qty = it->stock, .delta = 0};
            snprintf(s.sku, sizeof s.sku, "%s", it->sku);
            kbuf_reset(&t->scratch);
            oplog_encode_stock(&t->scratch, &s);
            if ((rc = term_append_local(t, OP_STOCK_RECEIVE, &t->scratch, NULL, err)) != KASSA_OK)
                return rc;
        }
    }
    return KASSA_OK;
}

int term_catalog_import(term *t, const catalog_item *items, size_t n, kassa_err *err)
{
    import_ctx c = {items, n};
    return term_in_tx(t, import_tx, &c, err);
}

/* ---- reading ---- */

#define ITEM_COLUMNS                                                                               \
    "sku, name, barcode, price, tax_class, "                                                       \
    "(SELECT coalesce(sum(p) - sum(n), 0) FROM stock s WHERE s.sku = c.sku) "

static void item_from_row(sqlite3_stmt *st, term_item *it)
{
    snprintf(it->sku, sizeof it->sku, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(it->name, sizeof it->name, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(it->barcode, sizeof it->barcode, "%s", (const char *)sqlite3_column_text(st, 2));
    it->price = sqlite3_column_int64(st, 3);
    snprintf(it->tax_class, sizeof it->tax_class, "%s", (const char *)sqlite3_column_text(st, 4));
    it->stock = sqlite3_column_int64(st, 5);
}

static int item_query(term *t, const char *sql, const char *key, term_item *out, kassa_err *err)
{
    sqlite3_stmt *st = store_stmt(&t->st, sql, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        item_from_row(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return KASSA_OK;
    if (rc == SQLITE_DONE)
        return KASSA_ENOTFOUND;
    return store_error(&t->st, rc, "catalog", err);
}

int term_item_get(term *t, const char *sku, term_item *out, kassa_err *err)
{
    static const char SQL[] = "SELECT " ITEM_COLUMNS "FROM catalog c WHERE sku = ?1";
    int rc = item_query(t, SQL, sku, out, err);
    if (rc == KASSA_ENOTFOUND)
        return kassa_fail(err, rc, "unknown SKU \"%s\"", sku);
    return rc;
}

int term_item_by_barcode(term *t, const char *barcode, term_item *out, kassa_err *err)
{
    static const char SQL[] = "SELECT " ITEM_COLUMNS "FROM catalog c WHERE barcode = ?1 "
                              "ORDER BY sku LIMIT 1";
    int rc = item_query(t, SQL, barcode, out, err);
    if (rc == KASSA_ENOTFOUND)
        return kassa_fail(err, rc, "unknown barcode \"%s\"", barcode);
    return rc;
}

/* Runs a prepared catalog query (bindings done) through cb. */
static int item_rows(term *t, sqlite3_stmt *st, term_item_cb cb, void *ctx, kassa_err *err)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        term_item it;
        item_from_row(st, &it);
        int crc = cb(&it, ctx);
        if (crc != KASSA_OK) {
            sqlite3_reset(st);
            return crc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? KASSA_OK : store_error(&t->st, rc, "catalog", err);
}

int term_catalog_each(term *t, term_item_cb cb, void *ctx, kassa_err *err)
{
    static const char SQL[] = "SELECT " ITEM_COLUMNS "FROM catalog c ORDER BY sku";
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    return item_rows(t, st, cb, ctx, err);
}

int term_catalog_search(term *t, const char *prefix, size_t limit, term_item_cb cb, void *ctx,
                        kassa_err *err)
{
    static const char SQL[] = "SELECT " ITEM_COLUMNS "FROM catalog c WHERE name LIKE ?1 "
                              "ESCAPE '\\' ORDER BY name, sku LIMIT ?2";
    /* LIKE is ASCII case-insensitive; escape its wildcards in the prefix. */
    char pattern[2 * KASSA_NAME_MAX + 2];
    size_t n = 0;
    if (strlen(prefix) > KASSA_NAME_MAX)
        return kassa_fail(err, KASSA_EINVAL, "search text longer than %d bytes", KASSA_NAME_MAX);
    for (const char *p = prefix; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            pattern[n++] = '\\';
        pattern[n++] = *p;
    }
    pattern[n++] = '%';
    pattern[n] = '\0';
    sqlite3_stmt *st = store_stmt(&t->st, SQL, err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, pattern, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)limit);
    return item_rows(t, st, cb, ctx, err);
}
