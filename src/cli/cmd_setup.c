/* Setting a terminal up: init, catalog, tax rates. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CATALOG_FILE_MAX_BYTES (256u << 20)

int cmd_init(cli *c)
{
    const char *store_id = NULL, *node_id = NULL;
    for (int i = 0; i < c->argc; i++) {
        if (strcmp(c->argv[i], "--store") == 0 && i + 1 < c->argc)
            store_id = c->argv[++i];
        else if (strcmp(c->argv[i], "--node") == 0 && i + 1 < c->argc)
            node_id = c->argv[++i];
        else
            return cli_usage("init --store ID --node ID");
    }
    if (!store_id || !node_id)
        return cli_usage("init --store ID --node ID");
    if (!c->data_dir)
        return cli_fail("no data directory: pass --data DIR or set KASSA_DATA");
    kassa_err err;
    if (term_init(c->data_dir, store_id, node_id, &err) != KASSA_OK)
        return cli_fail_err(&err);
    if (c->json)
        return cli_print_json(
            json_pack("{s:s,s:s,s:s}", "data", c->data_dir, "store", store_id, "node", node_id));
    printf("initialised store %s node %s in %s\n", store_id, node_id, c->data_dir);
    return CLI_OK;
}

static int catalog_import(cli *c, term *t, const char *path)
{
    uint8_t *data;
    size_t len;
    int rc = cli_read_file(path, &data, &len, CATALOG_FILE_MAX_BYTES);
    if (rc != CLI_OK)
        return rc;
    catalog_csv_result *res = calloc(1, sizeof *res);
    if (!res) {
        free(data);
        return cli_fail("out of memory");
    }
    kassa_err err;
    if (catalog_csv_parse((const char *)data, len, res, &err) != KASSA_OK) {
        /* Every bad row with its line, then the one-line summary. */
        for (size_t i = 0; i < res->n_errors && i < CATALOG_CSV_MAX_ERRORS; i++)
            fprintf(stderr, "%s:%u: %s\n", path, res->errors[i].line, res->errors[i].msg);
        rc = cli_fail("%s: %s; nothing imported", path, err.msg);
    } else if (term_catalog_import(t, res->items, res->n_items, &err) != KASSA_OK) {
        rc = cli_fail("%s: %s; nothing imported", path, err.msg);
    } else if (c->json) {
        rc = cli_print_json(json_pack("{s:I}", "imported", (json_int_t)res->n_items));
    } else {
        printf("imported %zu items\n", res->n_items);
    }
    catalog_csv_result_free(res);
    free(res);
    free(data);
    return rc;
}

static int print_item(const term_item *it, void *ctx)
{
    json_t *arr = ctx;
    if (arr) {
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:I,s:s,s:I}", "sku", it->sku, "name",
                                             it->name, "barcode", it->barcode, "price_minor",
                                             (json_int_t)it->price, "tax_class", it->tax_class,
                                             "stock", (json_int_t)it->stock));
        return KASSA_OK;
    }
    char price[MONEY_STR_SIZE];
    money_format(it->price, price);
    printf("%-12s %-30s %-14s %10s %-9s %6lld\n", it->sku, it->name, it->barcode, price,
           it->tax_class, (long long)it->stock);
    return KASSA_OK;
}

static int catalog_set(term *t, int argc, char **argv, bool json)
{
    static const char USE[] = "catalog set SKU [--name N] [--price P] [--barcode B] [--tax CLASS]";
    oplog_catalog_set set;
    memset(&set, 0, sizeof set);
    if (argc < 1 || strlen(argv[0]) > KASSA_SKU_MAX)
        return cli_usage(USE);
    snprintf(set.sku, sizeof set.sku, "%s", argv[0]);
    kassa_err err;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            return cli_usage(USE);
        const char *opt = argv[i], *v = argv[i + 1];
        size_t max;
        char *dst;
        if (strcmp(opt, "--price") == 0) {
            if (money_parse(v, &set.price, &err) != KASSA_OK)
                return cli_fail_err(&err);
            set.fields |= CATALOG_F_PRICE;
            continue;
        } else if (strcmp(opt, "--name") == 0) {
            dst = set.name, max = KASSA_NAME_MAX, set.fields |= CATALOG_F_NAME;
        } else if (strcmp(opt, "--barcode") == 0) {
            dst = set.barcode, max = KASSA_BARCODE_MAX, set.fields |= CATALOG_F_BARCODE;
        } else if (strcmp(opt, "--tax") == 0) {
            dst = set.tax_class, max = KASSA_ID_MAX, set.fields |= CATALOG_F_TAX_CLASS;
        } else {
            return cli_usage(USE);
        }
        if (strlen(v) > max)
            return cli_fail("%s: longer than %zu bytes", opt, max);
        memcpy(dst, v, strlen(v) + 1);
    }
    if (term_catalog_set(t, &set, &err) != KASSA_OK)
        return cli_fail_err(&err);
    if (json)
        return cli_print_json(json_pack("{s:s}", "updated", set.sku));
    printf("updated %s\n", set.sku);
    return CLI_OK;
}

int cmd_catalog(cli *c)
{
    if (c->argc < 1)
        return cli_usage("catalog import FILE.csv | catalog list | catalog set SKU ...");
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    kassa_err err;
    if (strcmp(c->argv[0], "import") == 0 && c->argc == 2) {
        rc = catalog_import(c, t, c->argv[1]);
    } else if (strcmp(c->argv[0], "list") == 0 && c->argc == 1) {
        json_t *arr = c->json ? json_array() : NULL;
        rc = cli_list_done(arr, term_catalog_each(t, print_item, arr, &err), &err);
    } else if (strcmp(c->argv[0], "set") == 0) {
        rc = catalog_set(t, c->argc - 1, c->argv + 1, c->json);
    } else {
        rc = cli_usage("catalog import FILE.csv | catalog list | catalog set SKU ...");
    }
    term_close(t);
    return rc;
}

int cmd_tax(cli *c)
{
    if (c->argc != 3 || strcmp(c->argv[0], "set") != 0)
        return cli_usage("tax set CLASS PERCENT");
    kassa_err err;
    int32_t bp;
    if (percent_parse(c->argv[2], &bp, &err) != KASSA_OK)
        return cli_fail_err(&err);
    char key[OPLOG_SETTING_KEY_MAX + 1], value[16];
    if ((size_t)snprintf(key, sizeof key, "tax.%s", c->argv[1]) >= sizeof key)
        return cli_fail("tax class too long");
    snprintf(value, sizeof value, "%d", bp);
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    if (term_setting_set(t, key, value, &err) != KASSA_OK)
        rc = cli_fail_err(&err);
    else if (c->json)
        rc = cli_print_json(json_pack("{s:s,s:i}", "tax_class", c->argv[1], "rate_bp", bp));
    else
        printf("tax class %s: %s%%\n", c->argv[1], c->argv[2]);
    term_close(t);
    return rc;
}

/* `currency CUR [--rounding MINOR]`: the store's currency, and the cash
 * rounding rule for it (docs/PAYMENTS.md). Checked here: a rule the
 * pricing would refuse never reaches the store. */
int cmd_currency(cli *c)
{
    static const char USAGE[] = "currency CUR [--rounding 1|5|10|20|25|50|100]";
    if ((c->argc != 1 && c->argc != 3) || (c->argc == 3 && strcmp(c->argv[1], "--rounding") != 0))
        return cli_usage(USAGE);
    const char *cur = c->argv[0];
    if (strlen(cur) != 3 || strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
        return cli_fail("currency must be three upper-case letters (ISO 4217), not \"%s\"", cur);
    static const char *const INCREMENTS[] = {"1", "5", "10", "20", "25", "50", "100"};
    const char *rounding = c->argc == 3 ? c->argv[2] : NULL;
    bool known = rounding == NULL;
    for (size_t i = 0; !known && i < KASSA_ARRAY_LEN(INCREMENTS); i++)
        known = strcmp(rounding, INCREMENTS[i]) == 0;
    if (!known)
        return cli_usage(USAGE);
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    kassa_err err;
    char key[OPLOG_SETTING_KEY_MAX + 1];
    snprintf(key, sizeof key, "cash_rounding.%s", cur);
    if (term_setting_set(t, "currency", cur, &err) != KASSA_OK ||
        (rounding && term_setting_set(t, key, rounding, &err) != KASSA_OK))
        rc = cli_fail_err(&err);
    else
        printf("currency %s%s%s\n", cur, rounding ? ", cash rounded to " : "",
               rounding ? rounding : "");
    term_close(t);
    return rc;
}
