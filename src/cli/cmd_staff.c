/* Cashiers and the audit log: cashier add/list, audit. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char CASHIER_USAGE[] =
    "cashier add ID --name NAME --role cashier|supervisor|manager --pin PIN | cashier list";

static int print_cashier(const term_cashier *c, void *ctx)
{
    if (ctx)
        json_array_append_new(ctx, json_pack("{s:s,s:s,s:s}", "id", c->id, "name", c->name, "role",
                                             term_role_name(c->role)));
    else
        printf("%-16s %-30s %s\n", c->id, c->name, term_role_name(c->role));
    return KASSA_OK;
}

static int cashier_add(cli *c, term *t)
{
    const char *name = NULL, *role_name = NULL, *pin = NULL;
    for (int i = 2; i + 1 < c->argc; i += 2) {
        if (strcmp(c->argv[i], "--name") == 0)
            name = c->argv[i + 1];
        else if (strcmp(c->argv[i], "--role") == 0)
            role_name = c->argv[i + 1];
        else if (strcmp(c->argv[i], "--pin") == 0)
            pin = c->argv[i + 1];
        else
            return cli_usage(CASHIER_USAGE);
    }
    term_role role;
    if (c->argc != 8 || !name || !role_name || !pin)
        return cli_usage(CASHIER_USAGE);
    if (term_role_parse(role_name, &role) != KASSA_OK)
        return cli_fail("unknown role \"%s\": cashier, supervisor or manager", role_name);
    kassa_err err;
    if (term_cashier_set(t, c->argv[1], name, role, pin, &err) != KASSA_OK)
        return cli_fail_err(&err);
    if (c->json)
        return cli_print_json(
            json_pack("{s:s,s:s,s:s}", "id", c->argv[1], "name", name, "role", role_name));
    printf("cashier %s (%s) saved\n", c->argv[1], role_name);
    return CLI_OK;
}

int cmd_cashier(cli *c)
{
    bool add = c->argc >= 2 && strcmp(c->argv[0], "add") == 0;
    bool list = c->argc == 1 && strcmp(c->argv[0], "list") == 0;
    if (!add && !list)
        return cli_usage(CASHIER_USAGE);
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    if (add) {
        rc = cashier_add(c, t);
    } else {
        kassa_err err;
        json_t *arr = c->json ? json_array() : NULL;
        rc = cli_list_done(arr, term_cashiers_each(t, print_cashier, arr, &err), &err);
    }
    term_close(t);
    return rc;
}

static int print_audit(const term_audit_entry *e, void *ctx)
{
    char id[KASSA_ID_MAX + 24];
    oplog_sale_id(&e->ref, id, sizeof id);
    if (ctx) {
        json_array_append_new(ctx,
                              json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:s}", "id", id, "time_ms",
                                        (json_int_t)hlc_physical_ms(e->hlc), "action", e->action,
                                        "cashier", e->cashier, "supervisor", e->supervisor,
                                        "subject", e->subject, "detail", e->detail));
        return KASSA_OK;
    }
    printf("%-14s %-15s cashier=%s supervisor=%s %s: %s\n", id, e->action,
           e->cashier[0] ? e->cashier : "-", e->supervisor[0] ? e->supervisor : "-", e->subject,
           e->detail);
    return KASSA_OK;
}

int cmd_audit(cli *c)
{
    if (c->argc != 0)
        return cli_usage("audit");
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    kassa_err err;
    json_t *arr = c->json ? json_array() : NULL;
    rc = cli_list_done(arr, term_audit_each(t, print_audit, arr, &err), &err);
    term_close(t);
    return rc;
}
