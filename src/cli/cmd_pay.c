/* cmd_pay.c: `kassa payments` (what waits to be forwarded, the review
 * list of declined offline payments) and the drawer's float, drops and
 * counts (`kassa drawer float|drop|count AMOUNT`, `kassa drawer events`). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PENDING_SHOWN_MAX 1000

static json_t *review_item(const term_card_payment *p)
{
    char sale_id[KASSA_ID_MAX + 24] = "";
    if (p->sale.seq)
        oplog_sale_id(&p->sale, sale_id, sizeof sale_id);
    return json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:b,s:s,s:s}", "payment_id", p->id, "kind",
                     p->kind == TERM_PAY_KIND_REFUND ? "refund" : "payment", "sale_id", sale_id,
                     "amount_minor", (json_int_t)p->amount, "brand", p->brand, "last4", p->last4,
                     "outcome", oplog_pay_outcome_name(p->outcome), "reason", p->reason, "resolved",
                     p->resolved_hlc != 0, "resolved_by", p->resolved_by, "resolution_note",
                     p->resolved_note);
}

static int print_review(const term_card_payment *p, void *ctx)
{
    json_t *arr = ctx;
    if (arr)
        return json_array_append_new(arr, review_item(p)) == 0 ? KASSA_OK : KASSA_ENOMEM;
    char money[MONEY_STR_SIZE], sale_id[KASSA_ID_MAX + 24] = "-";
    money_format(p->amount, money);
    if (p->sale.seq)
        oplog_sale_id(&p->sale, sale_id, sizeof sale_id);
    printf("%-24s %-8s %-20s %12s %-10s ****%s %-16s %s%s%s\n", p->id,
           p->kind == TERM_PAY_KIND_REFUND ? "refund" : "payment", sale_id, money, p->brand,
           p->last4, oplog_pay_outcome_name(p->outcome), p->reason,
           p->resolved_hlc ? "  resolved: " : "", p->resolved_hlc ? p->resolved_note : "");
    return KASSA_OK;
}

static int payments_review(cli *c, term *t, bool all)
{
    kassa_err err;
    json_t *arr = c->json ? json_array() : NULL;
    if (c->json && !arr)
        return cli_fail("out of memory");
    int rc = term_pay_review_each(t, all, print_review, arr, &err);
    if (c->json)
        return cli_list_done(arr, rc, &err);
    return rc == KASSA_OK ? CLI_OK : cli_fail_err(&err);
}

static int payments_pending(cli *c, term *t)
{
    kassa_err err;
    term_saf_totals tot;
    term_pay *rows = calloc(PENDING_SHOWN_MAX, sizeof *rows);
    size_t n = 0;
    if (!rows)
        return cli_fail("out of memory");
    int rc = term_saf_get(t, NULL, &tot, &err);
    if (rc == KASSA_OK)
        rc = term_pay_due(t, 0, PENDING_SHOWN_MAX, rows, &n, &err);
    if (rc != KASSA_OK) {
        free(rows);
        return cli_fail_err(&err);
    }
    char money[MONEY_STR_SIZE];
    if (c->json) {
        json_t *list = json_array();
        for (size_t i = 0; list && i < n; i++)
            json_array_append_new(
                list, json_pack("{s:s,s:s,s:I,s:I,s:I,s:s}", "payment_id", rows[i].id, "step",
                                term_pay_state_name(rows[i].state), "amount_minor",
                                (json_int_t)rows[i].amount, "stored_ms",
                                (json_int_t)rows[i].stored_ms, "attempts",
                                (json_int_t)rows[i].attempts, "last_error", rows[i].last_error));
        free(rows);
        return cli_print_json(json_pack("{s:I,s:I,s:I,s:o}", "pending_count", (json_int_t)tot.count,
                                        "pending_amount_minor", (json_int_t)tot.amount, "due_count",
                                        (json_int_t)tot.due, "payments",
                                        list ? list : json_null()));
    }
    money_format(tot.amount, money);
    printf("stored offline: %zu payment%s, %s; due to send: %zu\n", tot.count,
           tot.count == 1 ? "" : "s", money, tot.due);
    for (size_t i = 0; i < n; i++) {
        money_format(rows[i].amount, money);
        printf("%-24s %-12s %12s attempts %lld%s%s\n", rows[i].id,
               term_pay_state_name(rows[i].state), money, (long long)rows[i].attempts,
               rows[i].last_error[0] ? "  last error: " : "", rows[i].last_error);
    }
    free(rows);
    return CLI_OK;
}

int cmd_payments(cli *c)
{
    static const char USAGE[] =
        "payments pending | payments review [--all] | payments resolve ID --note TEXT";
    if (c->argc < 1)
        return cli_usage(USAGE);
    const char *sub = c->argv[0];
    bool all = c->argc == 2 && strcmp(c->argv[1], "--all") == 0;
    bool resolve = strcmp(sub, "resolve") == 0 && c->argc == 4 && strcmp(c->argv[2], "--note") == 0;
    if (!(strcmp(sub, "pending") == 0 && c->argc == 1) &&
        !(strcmp(sub, "review") == 0 && (c->argc == 1 || all)) && !resolve)
        return cli_usage(USAGE);
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    kassa_err err;
    if (strcmp(sub, "pending") == 0) {
        rc = payments_pending(c, t);
    } else if (strcmp(sub, "review") == 0) {
        rc = payments_review(c, t, all);
    } else if (term_pay_resolve(t, c->argv[1], c->argv[3], &err) != KASSA_OK) {
        rc = cli_fail_err(&err);
    } else {
        printf("resolved %s\n", c->argv[1]);
    }
    term_close(t);
    return rc;
}

static int print_event(const term_drawer_event *e, void *ctx)
{
    (void)ctx;
    static const char *const NAMES[] = {"", "float", "drop", "count"};
    char amount[MONEY_STR_SIZE], delta[MONEY_STR_SIZE];
    money_format(e->d.amount, amount);
    money_format(e->d.delta, delta);
    printf("%-12s %-6s %12s%s%s  by %s\n", e->origin, NAMES[e->d.action], amount,
           e->d.action == OPLOG_DRAWER_COUNT ? "  over/short " : "",
           e->d.action == OPLOG_DRAWER_COUNT ? delta : "", e->d.cashier[0] ? e->d.cashier : "-");
    return KASSA_OK;
}

int cli_drawer_move(cli *c, const char *action)
{
    static const char USAGE[] = "drawer float|drop|count AMOUNT | drawer events";
    oplog_drawer_action a = strcmp(action, "float") == 0  ? OPLOG_DRAWER_FLOAT
                            : strcmp(action, "drop") == 0 ? OPLOG_DRAWER_DROP
                                                          : OPLOG_DRAWER_COUNT;
    bool events = strcmp(action, "events") == 0;
    if (events ? c->argc != 1 : c->argc != 2)
        return cli_usage(USAGE);
    int64_t amount = 0;
    kassa_err err;
    if (!events && money_parse(c->argv[1], &amount, &err) != KASSA_OK)
        return cli_fail_err(&err);
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    int64_t delta = 0;
    if (events) {
        if (term_drawer_events(t, t->node_id, 100, print_event, NULL, &err) != KASSA_OK)
            rc = cli_fail_err(&err);
    } else if (term_drawer_move(t, a, amount, &delta, &err) != KASSA_OK) {
        rc = cli_fail_err(&err);
    } else if (a == OPLOG_DRAWER_COUNT) {
        char m[MONEY_STR_SIZE];
        money_format(delta, m);
        printf("counted; %s %s\n", delta >= 0 ? "over" : "short", m);
    } else {
        printf("%s recorded\n", action);
    }
    term_close(t);
    return rc;
}
