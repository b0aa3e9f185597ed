/*
 * Unit tests of the model registry with the fraud model (docs/FRAUD.md,
 * "The model registry"; docs/MODELS.md):
 *
 *  - the committed model (models/fraud), signed with a key the test
 *    generates, installs: the health check runs it in src/fraud's XGBoost
 *    scorer (not the .tflite runtime), every canary within tolerance, the
 *    latency measured; kassad's lookup (modelreg_resolve) gives bytes the
 *    scorer loads and the manifest's policy;
 *  - refused, the active version staying: the model altered after signing
 *    (checksum), a re-signed model whose trees score differently (canary),
 *    a re-signed hostile model (a split on feature 99: the scorer refuses
 *    it before XGBoost sees it), a manifest naming other features, another
 *    runtime, a policy fraud_decide would not accept, a latency budget
 *    the scorer cannot meet;
 *  - a rollback health-checks the older fraud model through the same path.
 *
 * KASSA_TEST_FIXTURES points at tests/fixtures; the models are two levels up.
 */
#include "testutil.h"
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <sodium.h>

#include "fraud/fraud.h"
#include "modelreg/modelreg.h"

#define PATH_SIZE 512
/* The committed manifest's budget is 20 ms (scoring takes ~10 µs); the
 * tests that are not about the budget allow a preempted run more. */
#define TEST_BUDGET_MS 100.0

typedef struct fx {
    char root[256];
    char data[PATH_SIZE]; /* the terminal's data directory */
    char key[PATH_SIZE];  /* trusted key prefix (generated here) */
    uint8_t *model;       /* models/fraud/fraud.json */
    size_t model_len;
    json_t *manifest; /* models/fraud/manifest.json */
    int runs;
} fx;

static void pathf(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, PATH_SIZE, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && n < PATH_SIZE);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n)) != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return buf;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void sha_hex(const uint8_t *p, size_t n, char out[65])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, p, n);
    for (size_t i = 0; i < sizeof h; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* A model directory root/NAME: the model bytes, the manifest (a copy of m
 * with version, the model's size and SHA-256, and a latency budget a busy
 * test machine meets unless m sets one below TEST_BUDGET_MS), signed with
 * the test's key. */
static void write_dir(const fx *f, const char *name, const json_t *m, int64_t version,
                      const uint8_t *model, size_t model_len, char dir[PATH_SIZE])
{
    char p[PATH_SIZE], mf[PATH_SIZE], k[PATH_SIZE], hex[65];
    pathf(dir, "%s/%s", f->root, name);
    assert_true(mkdir(dir, 0700) == 0);
    json_t *copy = json_deep_copy(m);
    assert_non_null(copy);
    sha_hex(model, model_len, hex);
    json_t *mm = json_object_get(copy, "model");
    assert_int_equal(json_object_set_new(copy, "version", json_integer(version)), 0);
    assert_int_equal(json_object_set_new(mm, "size_bytes", json_integer((json_int_t)model_len)), 0);
    assert_int_equal(json_object_set_new(mm, "sha256", json_string(hex)), 0);
    if (json_number_value(json_object_get(copy, "latency_budget_ms")) >= 1.0)
        assert_int_equal(json_object_set_new(copy, "latency_budget_ms", json_real(TEST_BUDGET_MS)),
                         0);
    pathf(p, "%s/%s", dir, json_string_value(json_object_get(mm, "file")));
    spit(p, model, model_len);
    char *s = json_dumps(copy, JSON_INDENT(2));
    assert_non_null(s);
    pathf(mf, "%s/manifest.json", dir);
    spit(mf, s, strlen(s));
    free(s);
    json_decref(copy);
    pathf(k, "%s.key", f->key);
    kassa_err err;
    if (modelreg_sign(k, p, mf, &err) != KASSA_OK)
        fail_msg("sign %s: %s", dir, err.msg);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f || sodium_init() < 0 || tu_mkdtemp(f->root, sizeof f->root, "kassa-mrfraud", true) != 0)
        return -1;
    const char *fixtures = getenv("KASSA_TEST_FIXTURES");
    char p[PATH_SIZE + 64], fp[MODELREG_FP_LEN + 1];
    snprintf(p, sizeof p, "%s/../../models/fraud/fraud.json",
             fixtures ? fixtures : "tests/fixtures");
    f->model = slurp(p, &f->model_len);
    snprintf(p, sizeof p, "%s/../../models/fraud/manifest.json",
             fixtures ? fixtures : "tests/fixtures");
    json_error_t jerr;
    f->manifest = json_load_file(p, 0, &jerr);
    snprintf(f->data, sizeof f->data, "%s/data", f->root);
    snprintf(f->key, sizeof f->key, "%s/models", f->root);
    /* the p99 of 200 runs leaves out two samples a busy machine preempted */
    f->runs = 200;
    kassa_err err;
    if (!f->model || !f->manifest || mkdir(f->data, 0700) != 0 ||
        modelreg_keygen(f->key, fp, &err) != KASSA_OK) {
        fprintf(stderr, "setup failed (%s)\n", p);
        return -1;
    }
    snprintf(p, sizeof p, "%s.pub", f->key);
    modelreg_pubkey pk;
    if (modelreg_trust(f->data, p, &pk, &err) != KASSA_OK) {
        fprintf(stderr, "trust: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tu_rm_tree(f->root);
    free(f->model);
    json_decref(f->manifest);
    free(f);
    return 0;
}

static int install(const fx *f, const char *dir, modelreg_result *r, kassa_err *err)
{
    modelreg_options opt = {.latency_runs = f->runs};
    return modelreg_install(f->data, dir, &opt, r, err);
}

static int64_t active_version(const fx *f)
{
    modelreg_active a;
    kassa_err err;
    int rc = modelreg_resolve(f->data, "fraud", &a, &err);
    int64_t v = rc == KASSA_OK ? a.version : 0;
    modelreg_active_free(&a);
    return v;
}

static void install_refused(const fx *f, const char *dir, int code, const char *why, int64_t active)
{
    modelreg_result r;
    kassa_err err;
    int rc = install(f, dir, &r, &err);
    if (rc != code || !strstr(err.msg, why))
        fail_msg("%s: got %d \"%s\", want %d containing \"%s\"", dir, rc, err.msg, code, why);
    assert_false(r.ok);
    assert_true(strstr(r.reason, why) != NULL);
    assert_int_equal(active_version(f), active);
}

/* The committed model as JSON, changed by fn, dumped compact. */
static uint8_t *model_edited(const fx *f, void (*fn)(json_t *learner), size_t *len)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)f->model, f->model_len, 0, &jerr);
    assert_non_null(j);
    fn(json_object_get(j, "learner"));
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    assert_non_null(s);
    *len = strlen(s);
    return (uint8_t *)s;
}

static void shift_base_score(json_t *learner)
{
    /* logit(0.9) - logit(0.5) = 2.2 added to every margin */
    json_t *p = json_object_get(learner, "learner_model_param");
    assert_int_equal(json_object_set_new(p, "base_score", json_string("9E-1")), 0);
}

static void split_on_feature_99(json_t *learner)
{
    json_t *trees = json_object_get(
        json_object_get(json_object_get(learner, "gradient_booster"), "model"), "trees");
    json_t *idx = json_object_get(json_array_get(trees, 0), "split_indices");
    assert_int_equal(json_array_set_new(idx, 0, json_integer(99)), 0);
}

static void test_install_resolve_score(void **state)
{
    fx *f = *state;
    char dir[PATH_SIZE];
    write_dir(f, "v1", f->manifest, 1, f->model, f->model_len, dir);
    modelreg_result r;
    kassa_err err;
    if (install(f, dir, &r, &err) != KASSA_OK)
        fail_msg("install: %s", err.msg);
    assert_true(r.ok);
    assert_string_equal(r.name, "fraud");
    assert_int_equal(r.version, 1);
    assert_int_equal(r.health.runs, (size_t)f->runs);
    assert_true(r.health.latency_p50_ms > 0);
    assert_true(r.health.latency_p99_ms >= r.health.latency_p50_ms);
    assert_true(r.health.latency_p99_ms <= TEST_BUDGET_MS);

    /* What kassad does: resolve (re-verified), load the checked bytes,
     * take the manifest's policy; the canaries score as the manifest says. */
    modelreg_active a;
    assert_int_equal(modelreg_resolve(f->data, "fraud", &a, &err), KASSA_OK);
    assert_int_equal(a.version, 1);
    fraud_model *m;
    assert_int_equal(
        fraud_model_load(a.bundle.model, (size_t)a.bundle.m.model_size_bytes, &m, &err), KASSA_OK);
    fraud_policy p;
    assert_int_equal(modelreg_fraud_policy(&a.bundle.m, &p, &err), KASSA_OK);
    assert_true(fabsf(p.review_at - 0.082f) < 1e-6f);
    assert_true(fabsf(p.supervisor_at - 0.89f) < 1e-6f);
    assert_true(fabsf(p.refuse_offline_card_at - 0.33f) < 1e-6f);
    assert_true(a.bundle.m.canary_count >= 2);
    for (size_t i = 0; i < a.bundle.m.canary_count; i++) {
        const modelreg_canary *c = &a.bundle.m.canaries[i];
        float x[FRAUD_N_FEATURES], margin;
        memcpy(x, c->input, sizeof x);
        assert_int_equal(fraud_model_margin(m, x, &margin, &err), KASSA_OK);
        double prob = 1.0 / (1.0 + exp(-(double)margin));
        assert_true(fabs(prob - c->expected_float[0]) <= c->tolerance_abs);
    }
    fraud_model_free(m);
    modelreg_active_free(&a);

    /* The same bytes verify again without installing. */
    modelreg_options opt = {.latency_runs = f->runs};
    assert_int_equal(modelreg_verify(f->data, dir, NULL, &opt, &r, &err), KASSA_OK);
    assert_true(r.ok);
}

static void test_refusals(void **state)
{
    fx *f = *state;
    char dir[PATH_SIZE], p[PATH_SIZE];
    write_dir(f, "good", f->manifest, 1, f->model, f->model_len, dir);
    modelreg_result r;
    kassa_err err;
    assert_int_equal(install(f, dir, &r, &err), KASSA_OK);

    /* The model altered after signing: its checksum no longer matches. */
    write_dir(f, "altered", f->manifest, 2, f->model, f->model_len, dir);
    pathf(p, "%s/fraud.json", dir);
    uint8_t *bytes = malloc(f->model_len);
    assert_non_null(bytes);
    memcpy(bytes, f->model, f->model_len);
    char *leaf = strstr((char *)bytes, "\"base_score\":\"5E-1\"");
    assert_non_null(leaf);
    leaf[strlen("\"base_score\":\"")] = '9';
    spit(p, bytes, f->model_len);
    free(bytes);
    install_refused(f, dir, KASSA_ECORRUPT, "SHA-256", 1);

    /* Re-signed, but the trees score differently: a canary fails. */
    size_t len;
    bytes = model_edited(f, shift_base_score, &len);
    write_dir(f, "shifted", f->manifest, 2, bytes, len, dir);
    free(bytes);
    install_refused(f, dir, KASSA_ECONFLICT, "canary normal_sale: probability", 1);

    /* Re-signed hostile structure: refused by the scorer's own checks. */
    bytes = model_edited(f, split_on_feature_99, &len);
    write_dir(f, "hostile", f->manifest, 2, bytes, len, dir);
    free(bytes);
    install_refused(f, dir, KASSA_ECORRUPT, "the fraud scorer refuses the model", 1);

    /* Garbage in place of the model. */
    static const char GARBAGE[] = "{\"learner\": 7}";
    write_dir(f, "garbage", f->manifest, 2, (const uint8_t *)GARBAGE, sizeof GARBAGE - 1, dir);
    install_refused(f, dir, KASSA_ECORRUPT, "the fraud scorer refuses the model", 1);

    /* Manifests the scorer cannot honour. */
    json_t *m = json_deep_copy(f->manifest);
    json_t *pp = json_object_get(json_object_get(m, "input"), "preprocess");
    json_array_set_new(json_object_get(pp, "features"), 3, json_string("amount"));
    write_dir(f, "features", m, 2, f->model, f->model_len, dir);
    install_refused(f, dir, KASSA_ECONFLICT, "preprocess.features[3]", 1);
    json_decref(m);

    m = json_deep_copy(f->manifest);
    pp = json_object_get(json_object_get(m, "input"), "preprocess");
    json_object_set_new(pp, "runtime", json_string("xgboost-2.0-ubj"));
    write_dir(f, "runtime", m, 2, f->model, f->model_len, dir);
    install_refused(f, dir, KASSA_ECONFLICT, "preprocess.runtime", 1);
    json_decref(m);

    m = json_deep_copy(f->manifest);
    pp = json_object_get(json_object_get(m, "input"), "preprocess");
    json_object_set_new(json_object_get(pp, "policy"), "review_at", json_real(0.95));
    write_dir(f, "policy", m, 2, f->model, f->model_len, dir);
    install_refused(f, dir, KASSA_EINVAL, "review_at <= supervisor_at", 1);
    json_decref(m);

    m = json_deep_copy(f->manifest);
    json_object_set_new(m, "latency_budget_ms", json_real(1e-6));
    write_dir(f, "budget", m, 2, f->model, f->model_len, dir);
    install_refused(f, dir, KASSA_ECONFLICT, "exceeds the budget", 1);
    json_decref(m);

    /* The audit file names every refusal. */
    pathf(p, "%s/models/audit.jsonl", f->data);
    size_t audit_len;
    uint8_t *audit = slurp(p, &audit_len);
    assert_non_null(audit);
    static const char REFUSED[] = "\"ok\":false";
    size_t refused = 0;
    for (size_t i = 0; i + sizeof REFUSED - 1 <= audit_len; i++)
        refused += memcmp(audit + i, REFUSED, sizeof REFUSED - 1) == 0;
    free(audit);
    assert_int_equal(refused, 8);
}

static void test_rollback(void **state)
{
    fx *f = *state;
    char dir[PATH_SIZE];
    modelreg_result r;
    kassa_err err;
    write_dir(f, "one", f->manifest, 1, f->model, f->model_len, dir);
    assert_int_equal(install(f, dir, &r, &err), KASSA_OK);
    write_dir(f, "two", f->manifest, 2, f->model, f->model_len, dir);
    assert_int_equal(install(f, dir, &r, &err), KASSA_OK);
    assert_int_equal(active_version(f), 2);
    modelreg_options opt = {.latency_runs = f->runs};
    if (modelreg_rollback(f->data, "fraud", "test", &opt, &r, &err) != KASSA_OK)
        fail_msg("rollback: %s", err.msg);
    assert_true(r.ok);
    assert_int_equal(r.version, 1);
    assert_int_equal(r.health.runs, (size_t)f->runs);
    assert_int_equal(active_version(f), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_install_resolve_score, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
