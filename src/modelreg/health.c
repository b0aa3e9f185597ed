/*
 * The health check a model passes on this terminal before it becomes
 * active: the runtime must load it, its tensors must be what the manifest
 * says, every canary must give its expected output within tolerance, and
 * the p99 invoke latency must be within the manifest's budget. A fraud
 * model (input.preprocess.kind "fraud_features") runs in src/fraud's
 * XGBoost scorer instead of the .tflite runtime.
 */
#include "modelreg/modelreg_internal.h"

#include "fraud/fraud.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCALE_REL_TOLERANCE 1e-6

static void shape_str(int rank, const int32_t *dims, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < rank && n + 1 < size; i++) {
        int k = snprintf(out + n, size - n, "%s%d", i ? "," : "[", (int)dims[i]);
        if (k < 0)
            return;
        n += (size_t)k;
    }
    if (n + 1 < size)
        snprintf(out + n, size - n, "]");
}

static bool same_scale(double want, float got)
{
    double g = (double)got;
    if (want == 0 || g == 0)
        return want == g;
    return fabs(want - g) <= SCALE_REL_TOLERANCE * fmax(fabs(want), fabs(g));
}

static int check_spec(const modelreg_tensor_spec *want, const ai_tensor_info *got, const char *what,
                      kassa_err *err)
{
    if (got->dtype != want->dtype)
        return kassa_fail(err, KASSA_ECONFLICT, "%s: the model's dtype is %s, the manifest says %s",
                          what, ai_dtype_name(got->dtype), ai_dtype_name(want->dtype));
    bool same = got->rank == want->rank;
    for (int i = 0; same && i < want->rank; i++)
        same = got->dims[i] == want->dims[i];
    if (!same) {
        char a[96], b[96];
        shape_str(got->rank, got->dims, a, sizeof a);
        shape_str(want->rank, want->dims, b, sizeof b);
        return kassa_fail(err, KASSA_ECONFLICT, "%s: the model's shape is %s, the manifest says %s",
                          what, a, b);
    }
    if (got->size_bytes != want->size_bytes)
        return kassa_fail(err, KASSA_ECONFLICT, "%s: the model's tensor is %zu bytes, not %zu",
                          what, got->size_bytes, want->size_bytes);
    if (!same_scale(want->scale, got->scale) || got->zero_point != want->zero_point)
        return kassa_fail(err, KASSA_ECONFLICT,
                          "%s: the model's quantization is scale %.9g zero point %d, the manifest "
                          "says %.9g, %d",
                          what, (double)got->scale, (int)got->zero_point, want->scale,
                          (int)want->zero_point);
    return KASSA_OK;
}

static int64_t int_at(const void *p, ai_dtype t, size_t i)
{
    switch (t) {
    case AI_INT8:
        return ((const int8_t *)p)[i];
    case AI_UINT8:
        return ((const uint8_t *)p)[i];
    case AI_INT16: {
        int16_t v;
        memcpy(&v, (const uint8_t *)p + 2 * i, sizeof v);
        return v;
    }
    case AI_INT32: {
        int32_t v;
        memcpy(&v, (const uint8_t *)p + 4 * i, sizeof v);
        return v;
    }
    case AI_INT64: {
        int64_t v;
        memcpy(&v, (const uint8_t *)p + 8 * i, sizeof v);
        return v;
    }
    case AI_FLOAT32:
        break;
    }
    assert(!"not an integer dtype");
    return 0;
}

static int check_canary(ai_model *model, const modelreg_manifest *m, const modelreg_canary *c,
                        kassa_err *err)
{
    assert(c->input);
    memcpy(ai_model_input(model, 0), c->input, m->input.size_bytes);
    int rc = ai_model_invoke(model, err);
    if (rc != KASSA_OK)
        return mr_prefix(err, "canary", c->name);
    const void *out = ai_model_output(model, 0);
    for (size_t i = 0; i < m->output.count; i++) {
        if (m->output.dtype == AI_FLOAT32) {
            float v;
            memcpy(&v, (const uint8_t *)out + 4 * i, sizeof v);
            double want = c->expected_float[i];
            if (!(fabs((double)v - want) <= c->tolerance_abs))
                return kassa_fail(err, KASSA_ECONFLICT,
                                  "canary %s: output[%zu] = %.9g, expected %.9g ± %g", c->name, i,
                                  (double)v, want, c->tolerance_abs);
            continue;
        }
        int64_t v = int_at(out, m->output.dtype, i), want = c->expected_int[i];
        /* |v - want| without overflow: both are in the dtype's range, and
         * for int64 the comparison is done on the larger minus the smaller */
        uint64_t d = v > want ? (uint64_t)v - (uint64_t)want : (uint64_t)want - (uint64_t)v;
        if (d > (uint64_t)c->tolerance_lsb)
            return kassa_fail(err, KASSA_ECONFLICT,
                              "canary %s: output[%zu] = %lld, expected %lld ± %d", c->name, i,
                              (long long)v, (long long)want, (int)c->tolerance_lsb);
    }
    return KASSA_OK;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Percentile p (0..1) of sorted samples: the smallest value with at least
 * p of the samples at or below it. */
static double percentile(const double *sorted, size_t n, double p)
{
    size_t k = (size_t)ceil(p * (double)n);
    return sorted[k ? k - 1 : 0];
}

/* Sorts the runs' samples into h's figures; the p99 must be within the
 * budget. */
static int latency_verdict(double *ms, int runs, double budget_ms, modelreg_health *h,
                           kassa_err *err)
{
    assert(runs > 0);
    qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
    h->runs = (size_t)runs;
    h->latency_p50_ms = percentile(ms, (size_t)runs, 0.50);
    h->latency_p99_ms = percentile(ms, (size_t)runs, 0.99);
    h->latency_max_ms = ms[runs - 1];
    if (h->latency_p99_ms > budget_ms)
        return kassa_fail(err, KASSA_ECONFLICT,
                          "latency p99 %.3f ms over %d runs exceeds the budget %g ms",
                          h->latency_p99_ms, runs, budget_ms);
    return KASSA_OK;
}

static int measure(ai_model *model, const modelreg_manifest *m, int runs, modelreg_health *h,
                   kassa_err *err)
{
    double *ms = malloc((size_t)runs * sizeof *ms);
    if (!ms)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory for %d latency samples", runs);
    int rc = KASSA_OK;
    for (int i = 0; i < runs && rc == KASSA_OK; i++) {
        const modelreg_canary *c = &m->canaries[(size_t)i % m->canary_count];
        memcpy(ai_model_input(model, 0), c->input, m->input.size_bytes);
        double t0 = now_ms();
        rc = ai_model_invoke(model, err);
        ms[i] = now_ms() - t0;
    }
    if (rc == KASSA_OK)
        rc = latency_verdict(ms, runs, m->latency_budget_ms, h, err);
    free(ms);
    return rc;
}

/* ---- fraud models: XGBoost trees scored by src/fraud (docs/FRAUD.md) ---- */

#define FRAUD_KIND "fraud_features"
#define FRAUD_RUNTIME "xgboost-1.7-json"

/* A manifest whose input.preprocess.kind names the fraud features. */
static bool is_fraud_manifest(const modelreg_manifest *m)
{
    const char *kind = json_string_value(json_object_get(m->preprocess, "kind"));
    return kind && strcmp(kind, FRAUD_KIND) == 0;
}

/* What the fraud scorer needs of the manifest: one float32 input of the
 * feature vector, one float32 output (the probability), the runtime and
 * feature names it was trained with, and a policy fraud_decide accepts. */
static int fraud_check_manifest(const modelreg_manifest *m, kassa_err *err)
{
    const json_t *pp = m->preprocess;
    const char *runtime = json_string_value(json_object_get(pp, "runtime"));
    if (!runtime || strcmp(runtime, FRAUD_RUNTIME) != 0)
        return kassa_fail(err, KASSA_ECONFLICT, "preprocess.runtime: expected \"%s\"",
                          FRAUD_RUNTIME);
    if (m->input.dtype != AI_FLOAT32 || m->input.count != FRAUD_N_FEATURES || m->input.scale != 0 ||
        m->input.zero_point != 0)
        return kassa_fail(err, KASSA_ECONFLICT,
                          "input: a fraud model takes %d float32 features without quantization",
                          FRAUD_N_FEATURES);
    if (m->output.dtype != AI_FLOAT32 || m->output.count != 1 || m->output.scale != 0 ||
        m->output.zero_point != 0)
        return kassa_fail(err, KASSA_ECONFLICT,
                          "output: a fraud model gives one float32 probability");
    const json_t *names = json_object_get(pp, "features");
    if (!json_is_array(names) || json_array_size(names) != FRAUD_N_FEATURES)
        return kassa_fail(err, KASSA_ECONFLICT, "preprocess.features: expected the %d names",
                          FRAUD_N_FEATURES);
    for (size_t i = 0; i < FRAUD_N_FEATURES; i++) {
        const char *name = json_string_value(json_array_get(names, i));
        if (!name || strcmp(name, fraud_feature_names[i]) != 0)
            return kassa_fail(err, KASSA_ECONFLICT,
                              "preprocess.features[%zu]: expected \"%s\" (this kassa's features)",
                              i, fraud_feature_names[i]);
    }
    const json_t *policy = json_object_get(pp, "policy");
    if (policy) {
        fraud_policy p;
        int rc = modelreg_fraud_policy(m, &p, err);
        if (rc != KASSA_OK)
            return rc;
    }
    return KASSA_OK;
}

int modelreg_fraud_policy(const modelreg_manifest *m, fraud_policy *out, kassa_err *err)
{
    assert(m && out);
    fraud_policy_default(out);
    const json_t *policy = json_object_get(m->preprocess, "policy");
    if (!policy)
        return KASSA_OK;
    static const char *const KEYS[] = {"review_at", "supervisor_at", "refuse_offline_card_at"};
    float *fields[] = {&out->review_at, &out->supervisor_at, &out->refuse_offline_card_at};
    if (!json_is_object(policy) || json_object_size(policy) != KASSA_ARRAY_LEN(KEYS))
        return kassa_fail(err, KASSA_ECONFLICT, "preprocess.policy: expected %s, %s and %s",
                          KEYS[0], KEYS[1], KEYS[2]);
    for (size_t i = 0; i < KASSA_ARRAY_LEN(KEYS); i++) {
        const json_t *v = json_object_get(policy, KEYS[i]);
        if (!json_is_number(v))
            return kassa_fail(err, KASSA_ECONFLICT, "preprocess.policy.%s: expected a number",
                              KEYS[i]);
        *fields[i] = (float)json_number_value(v);
    }
    int rc = fraud_policy_check(out, err);
    return rc == KASSA_OK ? rc : mr_prefix(err, "preprocess.policy", NULL);
}

static float fraud_probability(float margin)
{
    return (float)(1.0 / (1.0 + exp(-(double)margin)));
}

static int fraud_canary(fraud_model *model, const modelreg_canary *c, kassa_err *err)
{
    assert(c->input && c->expected_count == 1);
    float x[FRAUD_N_FEATURES], margin;
    memcpy(x, c->input, sizeof x);
    int rc = fraud_model_margin(model, x, &margin, err);
    if (rc != KASSA_OK)
        return mr_prefix(err, "canary", c->name);
    double p = (double)fraud_probability(margin), want = c->expected_float[0];
    if (!(fabs(p - want) <= c->tolerance_abs))
        return kassa_fail(err, KASSA_ECONFLICT, "canary %s: probability %.9g, expected %.9g ± %g",
                          c->name, p, want, c->tolerance_abs);
    return KASSA_OK;
}

static int fraud_health(const modelreg_bundle *b, int runs, modelreg_health *h, kassa_err *err)
{
    const modelreg_manifest *m = &b->m;
    int rc = fraud_check_manifest(m, err);
    if (rc != KASSA_OK)
        return rc;
    fraud_model *model = NULL;
    if ((rc = fraud_model_load(b->model, (size_t)m->model_size_bytes, &model, err)) != KASSA_OK)
        return mr_prefix(err, "the fraud scorer refuses the model", NULL);
    for (size_t i = 0; rc == KASSA_OK && i < m->canary_count; i++)
        rc = fraud_canary(model, &m->canaries[i], err);
    double *ms = rc == KASSA_OK ? malloc((size_t)runs * sizeof *ms) : NULL;
    if (rc == KASSA_OK && !ms)
        rc = kassa_fail(err, KASSA_ENOMEM, "out of memory for %d latency samples", runs);
    for (int i = 0; rc == KASSA_OK && i < runs; i++) {
        float x[FRAUD_N_FEATURES], margin;
        memcpy(x, m->canaries[(size_t)i % m->canary_count].input, sizeof x);
        double t0 = now_ms();
        rc = fraud_model_margin(model, x, &margin, err);
        ms[i] = now_ms() - t0;
    }
    if (rc == KASSA_OK)
        rc = latency_verdict(ms, runs, m->latency_budget_ms, h, err);
    free(ms);
    fraud_model_free(model);
    return rc;
}

int modelreg_health_check(const modelreg_bundle *b, int runs, modelreg_health *out, kassa_err *err)
{
    assert(b && b->model && out);
    memset(out, 0, sizeof *out);
    if (runs <= 0)
        runs = MODELREG_DEFAULT_RUNS;
    if (runs > MODELREG_MAX_RUNS)
        return kassa_fail(err, KASSA_EINVAL, "at most %d latency runs", MODELREG_MAX_RUNS);
    const modelreg_manifest *m = &b->m;
    if (is_fraud_manifest(m))
        return fraud_health(b, runs, out, err);
    ai_model *model = NULL;
    int rc = ai_model_load(b->model, (size_t)m->model_size_bytes, &model, err);
    if (rc != KASSA_OK)
        return mr_prefix(err, "the runtime refuses the model", NULL);
    out->memory_bytes = ai_model_memory_bytes(model);
    if (ai_model_input_count(model) != 1 || ai_model_output_count(model) != 1)
        rc = kassa_fail(err, KASSA_ECONFLICT,
                        "the model has %d inputs and %d outputs; format 1 manifests describe "
                        "one of each",
                        ai_model_input_count(model), ai_model_output_count(model));
    ai_tensor_info info;
    if (rc == KASSA_OK)
        rc = ai_model_input_info(model, 0, &info, err);
    if (rc == KASSA_OK)
        rc = check_spec(&m->input, &info, "input", err);
    if (rc == KASSA_OK)
        rc = ai_model_output_info(model, 0, &info, err);
    if (rc == KASSA_OK)
        rc = check_spec(&m->output, &info, "output", err);
    for (size_t i = 0; rc == KASSA_OK && i < m->canary_count; i++)
        rc = check_canary(model, m, &m->canaries[i], err);
    if (rc == KASSA_OK)
        rc = measure(model, m, runs, out, err);
    ai_model_free(model);
    return rc;
}
