/* cmd_review.c: `kassa review`: the supervisors' review list of this
 * terminal's database (term.h, "review"): the fraud scorer's decisions and
 * the SKUs replication made negative, and their resolution. The CLI has no
 * scores of its own: a sale's risk is the one recorded with it (a flagged
 * decision), else unknown. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char USAGE[] =
    "review list [--all] | review resolve ID accept|adjust|flag [--qty N] [--sale SALE_ID] "
    "[--note TEXT] [--by SUPERVISOR]";

#define SALE_ID_SIZE (KASSA_ID_MAX + 24)
#define LIST_MAX TERM_REVIEW_LIST_MAX

static void when(hlc_ts hlc, char out[20])
{
    time_t s = (time_t)(hlc_physical_ms(hlc) / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || strftime(out, 20, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, 20, "?");
}

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *resolution_json(const term_review_resolution *r)
{
    if (!r->resolved)
        return json_null();
    return json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:I}", "action", r->action, "by", r->by, "node_id",
                     r->origin, "time_ms", (json_int_t)hlc_physical_ms(r->hlc), "note", r->note,
                     "sale_id", r->sale, "counted", (json_int_t)r->counted);
}

static void print_resolution(const term_review_resolution *r)
{
    if (!r->resolved)
        return;
    char at[20];
    when(r->hlc, at);
    printf("    resolved: %s by %s on %s at %s%s%s%s%s\n", r->action, r->by[0] ? r->by : "-",
           r->origin, at, r->sale[0] ? " sale " : "", r->sale, r->note[0] ? ": " : "", r->note);
}

static int print_decision(const term_review_decision *d, void *ctx)
{
    if (ctx) {
        json_t *reasons = json_array();
        for (size_t i = 0; reasons && i < d->d.n_reasons; i++)
            json_array_append_new(reasons,
                                  json_pack("{s:s,s:f,s:f}", "feature", d->d.reasons[i].feature,
                                            "value", d->d.reasons[i].value, "contribution",
                                            d->d.reasons[i].contribution));
        json_t *o =
            json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:b,s:o}", "id", d->id,
                      "time_ms", (json_int_t)hlc_physical_ms(d->hlc), "cashier_id", d->cashier,
                      "supervisor_id", d->supervisor, "subject", d->subject, "event", d->d.event,
                      "action", d->d.action, "outcome", d->d.outcome, "detail", d->detail,
                      "probability", number_or_null(d->parsed ? d->d.probability : NAN), "reasons",
                      reasons ? reasons : json_array(), "resolved", d->res.resolved, "resolution",
                      resolution_json(&d->res));
        return json_array_append_new(ctx, o) == 0 ? KASSA_OK : KASSA_ENOMEM;
    }
    char at[20];
    when(d->hlc, at);
    if (!d->parsed) {
        printf("%-22s %s  %s: %s\n", d->id, at, d->subject, d->detail);
    } else {
        printf("%-22s %s  %s %s: %s %s, risk %.4f  cashier %s%s%s\n", d->id, at, d->d.event,
               d->subject, d->d.action, d->d.outcome, d->d.probability,
               d->cashier[0] ? d->cashier : "-", d->supervisor[0] ? ", supervisor " : "",
               d->supervisor);
        for (size_t i = 0; i < d->d.n_reasons; i++)
            printf("    reason %s = %g (%+.3f)\n", d->d.reasons[i].feature, d->d.reasons[i].value,
                   d->d.reasons[i].contribution);
    }
    print_resolution(&d->res);
    return KASSA_OK;
}

static int print_triage(const term_triage_item *it, void *ctx)
{
    char id[SALE_ID_SIZE], at[20];
    if (ctx) {
        json_t *sales = json_array();
        for (size_t i = 0; sales && i < it->n_sales; i++) {
            const term_triage_sale *s = &it->sales[i];
            oplog_sale_id(&s->ref, id, sizeof id);
            json_array_append_new(sales,
                                  json_pack("{s:s,s:I,s:s,s:I,s:o,s:b}", "sale_id", id, "time_ms",
                                            (json_int_t)hlc_physical_ms(s->hlc), "cashier_id",
                                            s->cashier, "qty", (json_int_t)s->qty, "risk",
                                            number_or_null(s->risk), "flagged", s->flagged));
        }
        json_t *o =
            json_pack("{s:s,s:s,s:I,s:I,s:I,s:o,s:b,s:o}", "id", it->id, "sku", it->sku, "stock",
                      (json_int_t)it->stock, "shortfall", (json_int_t)it->shortfall, "total_sales",
                      (json_int_t)it->total_sales, "sales", sales ? sales : json_array(),
                      "resolved", it->res.resolved, "resolution", resolution_json(&it->res));
        return json_array_append_new(ctx, o) == 0 ? KASSA_OK : KASSA_ENOMEM;
    }
    printf("%-22s stock %lld, short %lld; %zu sale%s took the last units\n", it->id,
           (long long)it->stock, (long long)it->shortfall, it->total_sales,
           it->total_sales == 1 ? "" : "s");
    for (size_t i = 0; i < it->n_sales; i++) {
        const term_triage_sale *s = &it->sales[i];
        oplog_sale_id(&s->ref, id, sizeof id);
        when(s->hlc, at);
        char risk[16] = "unknown";
        if (isfinite(s->risk))
            snprintf(risk, sizeof risk, "%.4f", s->risk);
        printf("    %-20s %s  qty %lld  cashier %s  risk %s%s\n", id, at, (long long)s->qty,
               s->cashier[0] ? s->cashier : "-", risk, s->flagged ? "  FLAGGED" : "");
    }
    print_resolution(&it->res);
    return KASSA_OK;
}

static int review_list(cli *c, term *t, bool all)
{
    kassa_err err;
    json_t *decisions = c->json ? json_array() : NULL, *triage = c->json ? json_array() : NULL;
    if (c->json && (!decisions || !triage)) {
        json_decref(decisions);
        json_decref(triage);
        return cli_fail("out of memory");
    }
    if (!c->json)
        printf("fraud decisions%s:\n", all ? "" : " (open)");
    int rc = term_review_decisions(t, all, LIST_MAX, print_decision, decisions, &err);
    if (rc == KASSA_OK && !c->json)
        printf("stock shortfalls%s:\n", all ? "" : " (open)");
    if (rc == KASSA_OK)
        rc = term_triage_each(t, all, NULL, NULL, print_triage, triage, &err);
    if (rc != KASSA_OK) {
        json_decref(decisions);
        json_decref(triage);
        return rc == KASSA_ENOMEM ? cli_fail("out of memory") : cli_fail_err(&err);
    }
    return c->json
               ? cli_print_json(json_pack("{s:o,s:o}", "decisions", decisions, "triage", triage))
               : CLI_OK;
}

/* review resolve ID ACTION [--qty N] [--sale ID] [--note TEXT] [--by ID] */
static int review_resolve(cli *c, term *t)
{
    term_review_resolve_req req = {0};
    if (term_review_action_parse(c->argv[2], &req.action) != KASSA_OK)
        return cli_usage(USAGE);
    bool has_qty = false;
    for (int i = 3; i < c->argc; i += 2) {
        const char *opt = c->argv[i], *val = i + 1 < c->argc ? c->argv[i + 1] : NULL;
        char *end = NULL;
        if (!val)
            return cli_usage(USAGE);
        if (strcmp(opt, "--qty") == 0) {
            req.counted = strtoll(val, &end, 10);
            if (!*val || *end)
                return cli_fail("--qty: expected a whole number of units counted");
            has_qty = true;
        } else if (strcmp(opt, "--sale") == 0 && strlen(val) < sizeof req.sale) {
            snprintf(req.sale, sizeof req.sale, "%s", val);
        } else if (strcmp(opt, "--note") == 0 && strlen(val) < sizeof req.note) {
            snprintf(req.note, sizeof req.note, "%s", val);
        } else if (strcmp(opt, "--by") == 0 && kassa_valid_id(val, KASSA_ID_MAX)) {
            snprintf(t->actor.supervisor, sizeof t->actor.supervisor, "%s", val);
        } else {
            return cli_usage(USAGE);
        }
    }
    if (has_qty != (req.action == TERM_REVIEW_ADJUST))
        return cli_fail("--qty (the units counted) goes with adjust, only");
    kassa_err err;
    if (term_review_resolve(t, c->argv[1], &req, &err) != KASSA_OK)
        return cli_fail_err(&err);
    if (c->json)
        return cli_print_json(json_pack("{s:s,s:s,s:s}", "id", c->argv[1], "action",
                                        term_review_action_name(req.action), "by",
                                        t->actor.supervisor));
    printf("resolved %s: %s\n", c->argv[1], term_review_action_name(req.action));
    return CLI_OK;
}

int cmd_review(cli *c)
{
    if (c->argc < 1)
        return cli_usage(USAGE);
    const char *sub = c->argv[0];
    bool list = strcmp(sub, "list") == 0 &&
                (c->argc == 1 || (c->argc == 2 && strcmp(c->argv[1], "--all") == 0));
    bool resolve = strcmp(sub, "resolve") == 0 && c->argc >= 3;
    if (!list && !resolve)
        return cli_usage(USAGE);
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    rc = list ? review_list(c, t, c->argc == 2) : review_resolve(c, t);
    term_close(t);
    return rc;
}
