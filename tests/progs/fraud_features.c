/*
 * fraud_features: the feature vectors (and, with a model, the scores) of a
 * stream of fraud events, computed by src/fraud: the one implementation
 * training (tools/fraud) and checkout share.
 *
 *   fraud_features [--model MODEL.json] [--reasons] [--utc-offset-min N]
 *                  [EVENTS.jsonl | -]
 *
 * Reads JSON-lines events (docs/FRAUD.md, "Event format") in order. For
 * each scored event (sale, void, return, no-sale) it prints one CSV row of
 * the features against the state before the event, then observes the
 * event, exactly as kassad does at checkout. Columns:
 *
 *   label,kind,t,<fraud_feature_names...>[,margin][,reasons]
 *
 * label is the event's "label" ("" for normal trade), margin the model's
 * log-odds from the C scorer (the evaluation's scores), reasons the top
 * contributing features joined by ';'. NaN is written "nan".
 *
 * Exit status 1 on a malformed line (with its number) or a model that does
 * not load.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fraud/fraud.h"

#define LINE_BUF (FRAUD_JSON_LINE_MAX + 2)

typedef struct options {
    const char *model;
    const char *events;
    bool reasons;
    int32_t utc_offset_min;
} options;

static int usage(void)
{
    fprintf(stderr, "usage: fraud_features [--model MODEL.json] [--reasons] "
                    "[--utc-offset-min N] [EVENTS.jsonl | -]\n");
    return 2;
}

static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--model") == 0 && i + 1 < argc)
            o->model = argv[++i];
        else if (strcmp(a, "--reasons") == 0)
            o->reasons = true;
        else if (strcmp(a, "--utc-offset-min") == 0 && i + 1 < argc)
            o->utc_offset_min = (int32_t)strtol(argv[++i], NULL, 10);
        else if (a[0] == '-' && a[1])
            return -1;
        else if (!o->events)
            o->events = a;
        else
            return -1;
    }
    if (o->reasons && !o->model)
        return -1;
    return 0;
}

static void print_header(const options *o)
{
    printf("label,kind,t");
    for (int i = 0; i < FRAUD_N_FEATURES; i++)
        printf(",%s", fraud_feature_names[i]);
    printf("%s%s\n", o->model ? ",margin" : "", o->reasons ? ",reasons" : "");
}

static int print_row(const options *o, fraud_model *m, const fraud_event *e, const char *label,
                     const fraud_state *st, kassa_err *err)
{
    fraud_score sc;
    int rc;
    if (m)
        rc = fraud_score_event(m, st, e, &sc, err);
    else
        rc = fraud_features(st, e, sc.x, err);
    if (rc == KASSA_OK && o->reasons)
        rc = fraud_explain(m, &sc, err);
    if (rc != KASSA_OK)
        return rc;
    printf("%s,%s,%lld", label, fraud_event_kind_name(e->kind), (long long)e->time_ms);
    for (int i = 0; i < FRAUD_N_FEATURES; i++)
        printf(",%.9g", (double)sc.x[i]);
    if (m)
        printf(",%.9g", (double)sc.margin);
    if (o->reasons) {
        printf(",");
        for (size_t i = 0; i < sc.n_reasons; i++)
            printf("%s%s", i ? ";" : "", sc.reasons[i].name);
    }
    printf("\n");
    return KASSA_OK;
}

int main(int argc, char **argv)
{
    options o = {0};
    if (parse_args(argc, argv, &o) != 0)
        return usage();
    FILE *in = stdin;
    if (o.events && strcmp(o.events, "-") != 0 && !(in = fopen(o.events, "r"))) {
        fprintf(stderr, "fraud_features: %s: %s\n", o.events, strerror(errno));
        return 1;
    }
    kassa_err err;
    fraud_model *m = NULL;
    fraud_state *st = NULL;
    fraud_config cfg = {.utc_offset_min = o.utc_offset_min};
    if ((o.model && fraud_model_load_file(o.model, &m, &err) != KASSA_OK) ||
        fraud_state_new(&cfg, &st, &err) != KASSA_OK) {
        fprintf(stderr, "fraud_features: %s\n", err.msg);
        return 1;
    }
    print_header(&o);
    static char line[LINE_BUF];
    size_t lineno = 0;
    int status = 0;
    while (fgets(line, sizeof line, in)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            fprintf(stderr, "fraud_features: line %zu: longer than %d bytes\n", lineno,
                    FRAUD_JSON_LINE_MAX);
            status = 1;
            break;
        }
        fraud_event e;
        char label[FRAUD_LABEL_MAX + 1];
        if (fraud_event_from_json(line, len, &e, label, sizeof label, &err) != KASSA_OK ||
            (fraud_event_scored(e.kind) && print_row(&o, m, &e, label, st, &err) != KASSA_OK) ||
            fraud_observe(st, &e, &err) != KASSA_OK) {
            fprintf(stderr, "fraud_features: line %zu: %s\n", lineno, err.msg);
            status = 1;
            break;
        }
    }
    if (ferror(in) || fflush(stdout) != 0) {
        fprintf(stderr, "fraud_features: read or write error\n");
        status = 1;
    }
    if (in != stdin)
        fclose(in);
    fraud_state_free(st);
    fraud_model_free(m);
    return status;
}
