/*
 * `kassa model`: the signed model registry (modelreg/modelreg.h,
 * docs/MODELS.md) and `model run`, which runs any model the ai runtime
 * supports on a raw input tensor and prints its outputs.
 */
#include "ai/ai.h"
#include "cli/cli.h"
#include "modelreg/modelreg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char MODEL_USAGE[] =
    "model keygen OUT_PREFIX | model sign --key SECRET MODEL.tflite MANIFEST.json |\n"
    "       model verify [--pub PUBKEY] [--runs N] DIR_OR_MANIFEST | model trust PUBKEY |\n"
    "       model install [--runs N] DIR_OR_MANIFEST | model list | model active NAME |\n"
    "       model rollback [--runs N] NAME | model run MODEL.tflite INPUT.raw";

#define MAX_POSITIONAL 2

typedef struct model_args {
    const char *key, *pub, *runs;
    const char *pos[MAX_POSITIONAL];
    int npos;
    int latency_runs;
} model_args;

/* Options with values and positionals after the subcommand; each option
 * at most once and only where `allowed` (e.g. "kpr") lists its letter. */
static int parse(cli *c, const char *allowed, int want_pos, model_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < c->argc; i++) {
        const char *arg = c->argv[i];
        const char **slot = NULL;
        if (strcmp(arg, "--key") == 0 && strchr(allowed, 'k'))
            slot = &a->key;
        else if (strcmp(arg, "--pub") == 0 && strchr(allowed, 'p'))
            slot = &a->pub;
        else if (strcmp(arg, "--runs") == 0 && strchr(allowed, 'r'))
            slot = &a->runs;
        if (slot) {
            if (*slot || i + 1 >= c->argc)
                return -1;
            *slot = c->argv[++i];
            continue;
        }
        if (strncmp(arg, "--", 2) == 0 || a->npos >= MAX_POSITIONAL)
            return -1;
        a->pos[a->npos++] = arg;
    }
    if (a->npos != want_pos)
        return -1;
    if (a->runs) {
        char *end;
        long n = strtol(a->runs, &end, 10);
        if (*end || end == a->runs || n < 1 || n > MODELREG_MAX_RUNS)
            return -1;
        a->latency_runs = (int)n;
    }
    return 0;
}

static int need_data(const cli *c)
{
    if (!c->data_dir)
        return cli_fail("no data directory: pass --data DIR or set KASSA_DATA");
    return CLI_OK;
}

static json_t *result_json(const modelreg_result *r)
{
    json_t *o = json_pack("{s:s,s:b,s:s,s:I,s:I,s:s,s:s}", "event", r->event, "ok", r->ok, "name",
                          r->name, "version", (json_int_t)r->version, "previous",
                          (json_int_t)r->previous, "key", r->key_fp, "reason", r->reason);
    if (o && r->health.runs) {
        json_object_set_new(o, "runs", json_integer((json_int_t)r->health.runs));
        json_object_set_new(o, "latency_p50_ms", json_real(r->health.latency_p50_ms));
        json_object_set_new(o, "latency_p99_ms", json_real(r->health.latency_p99_ms));
        json_object_set_new(o, "memory_bytes", json_integer((json_int_t)r->health.memory_bytes));
    }
    return o;
}

/* The outcome of install / rollback / verify: a success on stdout, a
 * refusal as one line on stderr that says what stays active. */
static int report(const cli *c, const modelreg_result *r, int rc, const kassa_err *err)
{
    if (rc != KASSA_OK) {
        if (strcmp(r->event, "verify") == 0)
            return cli_fail("verify failed: %s", err->msg);
        if (r->previous)
            return cli_fail("%s refused: %s (nothing changed: %s version %lld stays active)",
                            r->event, err->msg, r->name, (long long)r->previous);
        return cli_fail("%s refused: %s (nothing changed)", r->event, err->msg);
    }
    if (c->json)
        return cli_print_json(result_json(r));
    const char *verb = strcmp(r->event, "install") == 0    ? "installed"
                       : strcmp(r->event, "rollback") == 0 ? "rolled back to"
                                                           : "verified";
    printf("%s %s version %lld (key %s; health check: canaries ok, latency p99 %.3f ms over %zu "
           "runs)",
           verb, r->name, (long long)r->version, r->key_fp, r->health.latency_p99_ms,
           r->health.runs);
    if (r->previous)
        printf("; previous active version %lld", (long long)r->previous);
    printf("\n");
    return CLI_OK;
}

static int do_list(cli *c)
{
    modelreg_entry *e;
    size_t n;
    kassa_err err;
    if (modelreg_list(c->data_dir, &e, &n, &err) != KASSA_OK)
        return cli_fail_err(&err);
    json_t *arr = c->json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        if (arr) {
            json_array_append_new(arr, json_pack("{s:s,s:I,s:b,s:s,s:I,s:s}", "name", e[i].name,
                                                 "version", (json_int_t)e[i].version, "active",
                                                 e[i].active, "created_at", e[i].created_at,
                                                 "size_bytes", (json_int_t)e[i].model_size_bytes,
                                                 "sha256", e[i].model_sha256_hex));
        } else {
            printf("%-20s %6lld %-6s %s %10llu %.16s\n", e[i].name, (long long)e[i].version,
                   e[i].active ? "active" : "-", e[i].created_at,
                   (unsigned long long)e[i].model_size_bytes, e[i].model_sha256_hex);
        }
    }
    free(e);
    return arr ? cli_print_json(arr) : CLI_OK;
}

static int do_active(cli *c, const char *name)
{
    modelreg_active a;
    kassa_err err;
    if (modelreg_resolve(c->data_dir, name, &a, &err) != KASSA_OK)
        return cli_fail_err(&err);
    int rc;
    if (c->json) {
        rc = cli_print_json(json_pack("{s:s,s:I,s:s,s:s}", "name", a.bundle.m.name, "version",
                                      (json_int_t)a.version, "model_path", a.model_path, "key",
                                      a.bundle.key_fp));
    } else {
        printf("%s version %lld: %s (key %s)\n", a.bundle.m.name, (long long)a.version,
               a.model_path, a.bundle.key_fp);
        rc = CLI_OK;
    }
    modelreg_active_free(&a);
    return rc;
}

/* ---- model run ---- */

static double value_at(const void *p, ai_dtype t, size_t i, bool *is_int, int64_t *iv)
{
    const uint8_t *b = p;
    *is_int = true;
    *iv = 0;
    switch (t) {
    case AI_FLOAT32: {
        float f;
        memcpy(&f, b + 4 * i, sizeof f);
        *is_int = false;
        return (double)f;
    }
    case AI_INT8:
        *iv = ((const int8_t *)p)[i];
        break;
    case AI_UINT8:
        *iv = b[i];
        break;
    case AI_INT16: {
        int16_t v;
        memcpy(&v, b + 2 * i, sizeof v);
        *iv = v;
        break;
    }
    case AI_INT32: {
        int32_t v;
        memcpy(&v, b + 4 * i, sizeof v);
        *iv = v;
        break;
    }
    case AI_INT64: {
        int64_t v;
        memcpy(&v, b + 8 * i, sizeof v);
        *iv = v;
        break;
    }
    }
    return (double)*iv;
}

static json_t *output_json(const ai_tensor_info *info, const void *data, int index)
{
    size_t esize = modelreg_dtype_size(info->dtype);
    size_t count = esize ? info->size_bytes / esize : 0;
    bool quant = info->scale != 0;
    json_t *shape = json_array(), *values = json_array(), *deq = quant ? json_array() : NULL;
    for (int d = 0; d < info->rank; d++)
        json_array_append_new(shape, json_integer(info->dims[d]));
    for (size_t i = 0; i < count; i++) {
        bool is_int;
        int64_t iv = 0;
        double v = value_at(data, info->dtype, i, &is_int, &iv);
        json_array_append_new(values, is_int ? json_integer((json_int_t)iv) : json_real(v));
        if (deq)
            json_array_append_new(deq, json_real((v - info->zero_point) * (double)info->scale));
    }
    json_t *o =
        json_pack("{s:i,s:s,s:s,s:o,s:f,s:i,s:o}", "index", index, "name", info->name, "dtype",
                  ai_dtype_name(info->dtype), "shape", shape, "scale", (double)info->scale,
                  "zero_point", (int)info->zero_point, "values", values);
    if (o && deq)
        json_object_set_new(o, "dequantized", deq);
    return o;
}

static void output_text(const ai_tensor_info *info, const void *data, int index)
{
    size_t esize = modelreg_dtype_size(info->dtype);
    size_t count = esize ? info->size_bytes / esize : 0;
    printf("output %d \"%s\": %s [", index, info->name, ai_dtype_name(info->dtype));
    for (int d = 0; d < info->rank; d++)
        printf("%s%d", d ? "," : "", (int)info->dims[d]);
    printf("]");
    if (info->scale != 0)
        printf(" scale %.9g zero_point %d", (double)info->scale, (int)info->zero_point);
    printf("\nvalues:");
    for (size_t i = 0; i < count; i++) {
        bool is_int;
        int64_t iv = 0;
        double v = value_at(data, info->dtype, i, &is_int, &iv);
        if (is_int)
            printf(" %lld", (long long)iv);
        else
            printf(" %.9g", v);
    }
    if (info->scale != 0) {
        printf("\ndequantized:");
        for (size_t i = 0; i < count; i++) {
            bool is_int;
            int64_t iv = 0;
            double v = value_at(data, info->dtype, i, &is_int, &iv);
            printf(" %.6f", (v - info->zero_point) * (double)info->scale);
        }
    }
    printf("\n");
}

static int do_run(cli *c, const char *model_path, const char *input_path)
{
    kassa_err err;
    ai_model *m = NULL;
    if (ai_model_load_file(model_path, &m, &err) != KASSA_OK)
        return cli_fail("%s: %s", model_path, err.msg);
    int rc = CLI_OK;
    ai_tensor_info in;
    uint8_t *data = NULL;
    size_t len = 0;
    if (ai_model_input_count(m) != 1)
        rc = cli_fail("%s: the model has %d inputs; run takes models with one", model_path,
                      ai_model_input_count(m));
    else if (ai_model_input_info(m, 0, &in, &err) != KASSA_OK)
        rc = cli_fail_err(&err);
    else
        rc = cli_read_file(input_path, &data, &len, MODELREG_TENSOR_MAX_BYTES);
    if (rc == CLI_OK && len != in.size_bytes)
        rc = cli_fail("%s: %zu bytes, but the model's input \"%s\" (%s) takes exactly %zu bytes",
                      input_path, len, in.name, ai_dtype_name(in.dtype), in.size_bytes);
    if (rc == CLI_OK) {
        memcpy(ai_model_input(m, 0), data, len);
        if (ai_model_invoke(m, &err) != KASSA_OK)
            rc = cli_fail_err(&err);
    }
    json_t *outs = rc == CLI_OK && c->json ? json_array() : NULL;
    for (int i = 0; rc == CLI_OK && i < ai_model_output_count(m); i++) {
        ai_tensor_info info;
        if (ai_model_output_info(m, i, &info, &err) != KASSA_OK) {
            rc = cli_fail_err(&err);
            break;
        }
        if (outs)
            json_array_append_new(outs, output_json(&info, ai_model_output(m, i), i));
        else
            output_text(&info, ai_model_output(m, i), i);
    }
    if (rc == CLI_OK && outs)
        rc = cli_print_json(json_pack("{s:s,s:o}", "model", model_path, "outputs", outs));
    else
        json_decref(outs);
    free(data);
    ai_model_free(m);
    return rc;
}

int cmd_model(cli *c)
{
    if (c->argc < 1)
        return cli_usage(MODEL_USAGE);
    const char *sub = c->argv[0];
    model_args a;
    kassa_err err;
    modelreg_result r;
    if (strcmp(sub, "keygen") == 0) {
        if (parse(c, "", 1, &a) != 0)
            return cli_usage(MODEL_USAGE);
        char fp[MODELREG_FP_LEN + 1];
        if (modelreg_keygen(a.pos[0], fp, &err) != KASSA_OK)
            return cli_fail_err(&err);
        if (c->json)
            return cli_print_json(json_pack("{s:s,s:s}", "prefix", a.pos[0], "key", fp));
        printf("key %s: %s.key (secret, mode 0600), %s.pub\n", fp, a.pos[0], a.pos[0]);
        return CLI_OK;
    }
    if (strcmp(sub, "sign") == 0) {
        if (parse(c, "k", 2, &a) != 0 || !a.key)
            return cli_usage(MODEL_USAGE);
        if (modelreg_sign(a.key, a.pos[0], a.pos[1], &err) != KASSA_OK)
            return cli_fail_err(&err);
        if (c->json)
            return cli_print_json(json_pack("{s:s,s:s}", "manifest", a.pos[1], "signed", "ok"));
        printf("signed %s: %s.sig\n", a.pos[1], a.pos[1]);
        return CLI_OK;
    }
    if (strcmp(sub, "verify") == 0) {
        if (parse(c, "pr", 1, &a) != 0)
            return cli_usage(MODEL_USAGE);
        modelreg_pubkey pk;
        if (a.pub && modelreg_pubkey_read(a.pub, &pk, &err) != KASSA_OK)
            return cli_fail_err(&err);
        if (!a.pub && need_data(c) != CLI_OK)
            return CLI_FAIL;
        modelreg_options opt = {.latency_runs = a.latency_runs};
        int rc = modelreg_verify(c->data_dir, a.pos[0], a.pub ? &pk : NULL, &opt, &r, &err);
        return report(c, &r, rc, &err);
    }
    if (strcmp(sub, "run") == 0) {
        if (parse(c, "", 2, &a) != 0)
            return cli_usage(MODEL_USAGE);
        return do_run(c, a.pos[0], a.pos[1]);
    }
    /* the rest work on the data directory */
    bool list = strcmp(sub, "list") == 0;
    const char *allowed = strcmp(sub, "install") == 0 || strcmp(sub, "rollback") == 0 ? "r" : "";
    if (parse(c, allowed, list ? 0 : 1, &a) != 0)
        return cli_usage(MODEL_USAGE);
    if (need_data(c) != CLI_OK)
        return CLI_FAIL;
    modelreg_options opt = {.latency_runs = a.latency_runs};
    if (list)
        return do_list(c);
    if (strcmp(sub, "active") == 0)
        return do_active(c, a.pos[0]);
    if (strcmp(sub, "trust") == 0) {
        modelreg_pubkey pk;
        if (modelreg_trust(c->data_dir, a.pos[0], &pk, &err) != KASSA_OK)
            return cli_fail_err(&err);
        if (c->json)
            return cli_print_json(json_pack("{s:s}", "key", pk.fp));
        printf("trusted model key %s\n", pk.fp);
        return CLI_OK;
    }
    if (strcmp(sub, "install") == 0)
        return report(c, &r, modelreg_install(c->data_dir, a.pos[0], &opt, &r, &err), &err);
    if (strcmp(sub, "rollback") == 0)
        return report(c, &r, modelreg_rollback(c->data_dir, a.pos[0], NULL, &opt, &r, &err), &err);
    return cli_usage(MODEL_USAGE);
}
