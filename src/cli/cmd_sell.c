/* Selling and reading sales: sale, void, return, receipt, stock, sales. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SALE_USAGE[] =
    "sale --line SKU:QTY [--line ...] [--discount SKU:PCT% | SKU:AMOUNT] --pay cash:AMOUNT";

static int parse_discount(term_cart *cart, const char *arg, kassa_err *err)
{
    char sku[KASSA_SKU_MAX + 1];
    const char *v;
    if (cli_split_pair(arg, sku, &v) != 0)
        return kassa_fail(err, KASSA_EINVAL, "--discount %s: expected SKU:PCT%% or SKU:AMOUNT",
                          arg);
    size_t n = strlen(v);
    if (v[n - 1] == '%') {
        char pct[32];
        if (n >= sizeof pct)
            return kassa_fail(err, KASSA_EINVAL, "--discount %s: invalid percentage", arg);
        memcpy(pct, v, n - 1);
        pct[n - 1] = '\0';
        int32_t bp;
        int rc = percent_parse(pct, &bp, err);
        return rc != KASSA_OK ? rc
                              : term_cart_discount(cart, sku, PRICING_DISCOUNT_PERCENT, bp, err);
    }
    int64_t amount;
    int rc = money_parse(v, &amount, err);
    return rc != KASSA_OK ? rc
                          : term_cart_discount(cart, sku, PRICING_DISCOUNT_AMOUNT, amount, err);
}

static int parse_line(const char *arg, char *sku, int64_t *qty, kassa_err *err)
{
    const char *v;
    if (cli_split_pair(arg, sku, &v) != 0)
        return kassa_fail(err, KASSA_EINVAL, "%s: expected SKU:QTY", arg);
    return qty_parse(v, qty, err);
}

static json_t *lines_json(const oplog_sale *sale)
{
    json_t *lines = json_array();
    for (size_t i = 0; i < sale->n_lines; i++) {
        const oplog_sale_line *l = &sale->lines[i];
        json_array_append_new(
            lines, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "sku", l->sku, "qty", (json_int_t)l->qty,
                             "unit_price_minor", (json_int_t)l->unit_price, "discount_minor",
                             (json_int_t)l->discount, "tax_minor", (json_int_t)l->tax,
                             "total_minor", (json_int_t)oplog_line_total(l)));
    }
    return lines;
}

static json_t *sale_json(const term_sale_result *r, const char *id)
{
    return json_pack("{s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:I}", "sale_id", id, "lines",
                     lines_json(&r->sale), "subtotal_minor", (json_int_t)r->totals.subtotal,
                     "discount_minor", (json_int_t)r->totals.discount, "tax_minor",
                     (json_int_t)r->totals.tax, "total_minor", (json_int_t)r->totals.total,
                     "tendered_minor", (json_int_t)r->sale.tendered, "change_minor",
                     (json_int_t)r->change);
}

int cmd_sale(cli *c)
{
    term_cart *cart = calloc(1, sizeof *cart);
    term_sale_result *res = calloc(1, sizeof *res);
    const char **discounts = calloc((size_t)c->argc + 1, sizeof *discounts);
    if (!cart || !res || !discounts) {
        free(cart), free(res), free(discounts);
        return cli_fail("out of memory");
    }
    kassa_err err;
    int rc = CLI_OK, n_disc = 0;
    int64_t tendered = -1;
    for (int i = 0; rc == CLI_OK && i < c->argc; i++) {
        const char *opt = c->argv[i];
        const char *v = i + 1 < c->argc ? c->argv[i + 1] : NULL;
        if (!v || (strcmp(opt, "--line") && strcmp(opt, "--discount") && strcmp(opt, "--pay"))) {
            rc = cli_usage(SALE_USAGE);
            break;
        }
        i++;
        if (strcmp(opt, "--line") == 0) {
            char sku[KASSA_SKU_MAX + 1];
            int64_t qty;
            if (parse_line(v, sku, &qty, &err) != KASSA_OK ||
                term_cart_add(cart, sku, qty, &err) != KASSA_OK)
                rc = cli_fail_err(&err);
        } else if (strcmp(opt, "--discount") == 0) {
            discounts[n_disc++] = v; /* applied once every line is in */
        } else if (strncmp(v, "cash:", 5) != 0) {
            rc = cli_fail("--pay %s: only cash:AMOUNT is supported", v);
        } else if (money_parse(v + 5, &tendered, &err) != KASSA_OK) {
            rc = cli_fail_err(&err);
        }
    }
    for (int i = 0; rc == CLI_OK && i < n_disc; i++)
        if (parse_discount(cart, discounts[i], &err) != KASSA_OK)
            rc = cli_fail_err(&err);
    if (rc == CLI_OK && (cart->n_lines == 0 || tendered < 0))
        rc = cli_usage(SALE_USAGE);
    term *t = NULL;
    if (rc == CLI_OK)
        rc = cli_open(c, &t);
    if (rc == CLI_OK && term_sale(t, cart, tendered, res, &err) != KASSA_OK)
        rc = cli_fail_err(&err);
    if (rc == CLI_OK) {
        char id[KASSA_ID_MAX + 24];
        oplog_sale_id(&res->ref, id, sizeof id);
        if (c->json) {
            rc = cli_print_json(sale_json(res, id));
        } else {
            kbuf receipt;
            kbuf_init(&receipt);
            if (term_receipt(t, &res->ref, &receipt, &err) != KASSA_OK)
                rc = cli_fail("sale %s recorded, but its receipt failed: %s", id, err.msg);
            else
                rc = cli_write(&receipt);
            kbuf_free(&receipt);
        }
    }
    term_close(t);
    free(cart), free(res), free(discounts);
    return rc;
}

/* For commands whose only argument is a sale id. */
static int open_for_sale(cli *c, const char *usage, oplog_sale_ref *ref, term **t)
{
    if (c->argc != 1)
        return cli_usage(usage);
    kassa_err err;
    if (oplog_parse_sale_id(c->argv[0], ref, &err) != KASSA_OK)
        return cli_fail_err(&err);
    return cli_open(c, t);
}

int cmd_void(cli *c)
{
    kassa_err err;
    oplog_sale_ref ref;
    term *t;
    int rc = open_for_sale(c, "void SALE_ID", &ref, &t);
    if (rc != CLI_OK)
        return rc;
    int64_t refund;
    if (term_void(t, &ref, &refund, &err) != KASSA_OK) {
        rc = cli_fail_err(&err);
    } else if (c->json) {
        rc = cli_print_json(
            json_pack("{s:s,s:I}", "voided", c->argv[0], "refund_minor", (json_int_t)refund));
    } else {
        char m[MONEY_STR_SIZE];
        money_format(refund, m);
        printf("voided %s: refund %s cash\n", c->argv[0], m);
    }
    term_close(t);
    return rc;
}

int cmd_return(cli *c)
{
    static const char USE[] = "return SALE_ID --line SKU:QTY [--line ...]";
    if (c->argc < 3 || c->argc % 2 == 0)
        return cli_usage(USE);
    kassa_err err;
    oplog_sale_ref ref, ret_ref;
    if (oplog_parse_sale_id(c->argv[0], &ref, &err) != KASSA_OK)
        return cli_fail_err(&err);
    term_return_req *req = calloc(1, sizeof *req);
    if (!req)
        return cli_fail("out of memory");
    int rc = CLI_OK;
    for (int i = 1; rc == CLI_OK && i < c->argc; i += 2) {
        if (strcmp(c->argv[i], "--line") != 0 || req->n_lines >= OPLOG_SALE_LINES_MAX) {
            rc = cli_usage(USE);
            break;
        }
        if (parse_line(c->argv[i + 1], req->lines[req->n_lines].sku, &req->lines[req->n_lines].qty,
                       &err) != KASSA_OK)
            rc = cli_fail_err(&err);
        req->n_lines++;
    }
    term *t = NULL;
    int64_t refund;
    if (rc == CLI_OK)
        rc = cli_open(c, &t);
    if (rc == CLI_OK && term_return(t, &ref, req, &ret_ref, &refund, &err) != KASSA_OK)
        rc = cli_fail_err(&err);
    if (rc == CLI_OK) {
        char id[KASSA_ID_MAX + 24];
        oplog_sale_id(&ret_ref, id, sizeof id);
        if (c->json) {
            rc = cli_print_json(json_pack("{s:s,s:s,s:I}", "return_id", id, "sale_id", c->argv[0],
                                          "refund_minor", (json_int_t)refund));
        } else {
            char m[MONEY_STR_SIZE];
            money_format(refund, m);
            printf("return %s against %s: refund %s cash\n", id, c->argv[0], m);
        }
    }
    term_close(t);
    free(req);
    return rc;
}

int cmd_receipt(cli *c)
{
    kassa_err err;
    oplog_sale_ref ref;
    term *t;
    int rc = open_for_sale(c, "receipt SALE_ID", &ref, &t);
    if (rc != CLI_OK)
        return rc;
    kbuf out;
    kbuf_init(&out);
    term_sale_info info;
    oplog_sale *sale = malloc(sizeof *sale);
    if (!sale) {
        rc = cli_fail("out of memory");
    } else if (!c->json) {
        rc = term_receipt(t, &ref, &out, &err) == KASSA_OK ? cli_write(&out) : cli_fail_err(&err);
    } else if (term_sale_get(t, &ref, &info, sale, &err) != KASSA_OK) {
        rc = cli_fail_err(&err);
    } else {
        rc = cli_print_json(
            json_pack("{s:s,s:I,s:o,s:I,s:I,s:I,s:b,s:I,s:b}", "sale_id", c->argv[0], "time_ms",
                      (json_int_t)hlc_physical_ms(info.hlc), "lines", lines_json(sale), "tax_minor",
                      (json_int_t)sale->tax, "total_minor", (json_int_t)sale->total,
                      "tendered_minor", (json_int_t)sale->tendered, "voided", info.voided,
                      "refunded_minor", (json_int_t)info.refunded, "conflict", info.conflict));
    }
    free(sale);
    kbuf_free(&out);
    term_close(t);
    return rc;
}

static int print_stock(const char *sku, int64_t qty, void *ctx)
{
    if (ctx)
        json_array_append_new(ctx, json_pack("{s:s,s:I}", "sku", sku, "stock", (json_int_t)qty));
    else
        printf("%-16s %8lld\n", sku, (long long)qty);
    return KASSA_OK;
}

int cmd_stock(cli *c)
{
    static const char USE[] = "stock receive SKU:QTY | stock count SKU:QTY | stock show [SKU]";
    if (c->argc < 1)
        return cli_usage(USE);
    const char *sub = c->argv[0];
    bool show = strcmp(sub, "show") == 0;
    bool receive = strcmp(sub, "receive") == 0, count = strcmp(sub, "count") == 0;
    if (!(show && c->argc <= 2) && !((receive || count) && c->argc == 2))
        return cli_usage(USE);
    kassa_err err;
    char sku[KASSA_SKU_MAX + 1];
    const char *v;
    int64_t qty = 0;
    if (receive || count) {
        if (cli_split_pair(c->argv[1], sku, &v) != 0)
            return cli_fail("%s: expected SKU:QTY", c->argv[1]);
        /* A count may be zero; qty_parse wants 1.. so zero is read here. */
        if (!(count && strcmp(v, "0") == 0) && qty_parse(v, &qty, &err) != KASSA_OK)
            return cli_fail_err(&err);
    }
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    int64_t delta = 0;
    if (receive && term_stock_receive(t, sku, qty, &err) != KASSA_OK) {
        rc = cli_fail_err(&err);
    } else if (count && term_stock_count(t, sku, qty, &delta, &err) != KASSA_OK) {
        rc = cli_fail_err(&err);
    } else if (show && c->argc == 2) {
        if (term_stock_get(t, c->argv[1], &qty, &err) != KASSA_OK)
            rc = cli_fail_err(&err);
        else if (c->json)
            rc =
                cli_print_json(json_pack("{s:s,s:I}", "sku", c->argv[1], "stock", (json_int_t)qty));
        else
            print_stock(c->argv[1], qty, NULL);
    } else if (show) {
        json_t *arr = c->json ? json_array() : NULL;
        rc = cli_list_done(arr, term_stock_each(t, print_stock, arr, &err), &err);
    } else {
        int64_t now = 0;
        if (term_stock_get(t, sku, &now, &err) != KASSA_OK)
            rc = cli_fail_err(&err);
        else if (c->json)
            rc = cli_print_json(json_pack("{s:s,s:I,s:I}", "sku", sku, "stock", (json_int_t)now,
                                          "delta", (json_int_t)(receive ? qty : delta)));
        else
            printf("%s: %s %+lld, stock now %lld\n", sku, receive ? "received" : "counted",
                   (long long)(receive ? qty : delta), (long long)now);
    }
    term_close(t);
    return rc;
}

static int print_sale(const term_sale_info *s, void *ctx)
{
    char id[KASSA_ID_MAX + 24], total[MONEY_STR_SIZE];
    oplog_sale_id(&s->ref, id, sizeof id);
    if (ctx) {
        json_array_append_new(ctx,
                              json_pack("{s:s,s:I,s:I,s:b,s:I,s:b}", "sale_id", id, "time_ms",
                                        (json_int_t)hlc_physical_ms(s->hlc), "total_minor",
                                        (json_int_t)s->total, "voided", s->voided, "refunded_minor",
                                        (json_int_t)s->refunded, "conflict", s->conflict));
        return KASSA_OK;
    }
    money_format(s->total, total);
    printf("%-20s %10s%s%s%s\n", id, total, s->voided ? "  voided" : "",
           s->refunded ? "  returns" : "", s->conflict ? "  CONFLICT" : "");
    return KASSA_OK;
}

static int list_sales(cli *c, bool conflicts_only)
{
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    kassa_err err;
    json_t *arr = c->json ? json_array() : NULL;
    int qrc = conflicts_only ? term_conflicts_each(t, print_sale, arr, &err)
                             : term_sales_each(t, print_sale, arr, &err);
    rc = cli_list_done(arr, qrc, &err);
    term_close(t);
    return rc;
}

int cmd_sales(cli *c)
{
    if (c->argc != 1 || strcmp(c->argv[0], "list") != 0)
        return cli_usage("sales list");
    return list_sales(c, false);
}

int cmd_conflicts(cli *c)
{
    if (c->argc != 0)
        return cli_usage("conflicts");
    return list_sales(c, true);
}

int cmd_drawer(cli *c)
{
    static const char *const MOVES[] = {"float", "drop", "count", "events"};
    for (size_t i = 0; c->argc >= 1 && i < KASSA_ARRAY_LEN(MOVES); i++)
        if (strcmp(c->argv[0], MOVES[i]) == 0)
            return cli_drawer_move(c, MOVES[i]);
    const char *node = NULL;
    if (c->argc == 2 && strcmp(c->argv[0], "--node") == 0)
        node = c->argv[1];
    else if (c->argc != 0)
        return cli_usage("drawer [--node ID]");
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    kassa_err err;
    int64_t cash;
    if (term_drawer(t, node, &cash, &err) != KASSA_OK) {
        rc = cli_fail_err(&err);
    } else if (c->json) {
        rc = cli_print_json(
            json_pack("{s:s,s:I}", "node", node ? node : "*", "cash_minor", (json_int_t)cash));
    } else {
        char m[MONEY_STR_SIZE];
        money_format(cash, m);
        printf("drawer %s: %s\n", node ? node : "(all terminals)", m);
    }
    term_close(t);
    return rc;
}
