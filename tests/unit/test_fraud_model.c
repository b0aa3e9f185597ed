/*
 * Unit tests for fraud scoring with the committed model
 * (models/fraud/fraud.json, never retrained here):
 *
 *  - the manifest (docs/MODELS.md format 1) parses strictly, names the
 *    model's size and SHA-256, and its canaries (recorded by Python's
 *    XGBoost at training) come out of the C scorer within tolerance;
 *  - known events rank as they should: a card-testing burst, a
 *    sweethearted basket and a no-receipt cash refund score far above a
 *    normal sale in the same store, with reason codes naming the features
 *    that tell them apart;
 *  - contributions sum to the margin; a prediction does not grow the heap;
 *    the model re-written from its checked values predicts what the file
 *    does;
 *  - bad model files: missing, empty, truncated, garbage, too big, and one
 *    structural corruption per check (the ones that crash XGBoost 1.7
 *    among them): a clear error, no crash.
 *
 * KASSA_TEST_FIXTURES points at tests/fixtures; the models are two levels up.
 */
#include "testutil.h"
#include <cmocka.h>

#include <fcntl.h>
#include <float.h>
#include <jansson.h>
#include <malloc.h>
#include <math.h>
#include <sodium.h>

#include "fraud/fraud.h"
#include "modelreg/modelreg.h"

#if defined(__SANITIZE_ADDRESS__)
/* The sanitizer's allocator replaces malloc's arena: ask it (libasan
 * exports this; gcc installs no header for it). */
size_t __sanitizer_get_current_allocated_bytes(void);
#define HEAP_IN_USE() __sanitizer_get_current_allocated_bytes()
#else
#define HEAP_IN_USE() mallinfo2().uordblks
#endif

#define T0 INT64_C(1709546400000) /* Monday 2024-03-04 10:00 */
#define MIN INT64_C(60000)
#define PATH_SIZE 1024

typedef struct fx {
    char dir[PATH_SIZE];        /* models/fraud */
    char model[PATH_SIZE + 16]; /* models/fraud/fraud.json */
    uint8_t *bytes;
    size_t len;
    fraud_model *m;
    char tmp[256];
} fx;

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) != NULL &&
            fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    const char *fixtures = getenv("KASSA_TEST_FIXTURES");
    assert_non_null(fixtures);
    snprintf(f->dir, sizeof f->dir, "%s/../../models/fraud", fixtures);
    snprintf(f->model, sizeof f->model, "%s/fraud.json", f->dir);
    f->bytes = slurp(f->model, &f->len);
    assert_non_null(f->bytes);
    kassa_err err;
    if (fraud_model_load_file(f->model, &f->m, &err) != KASSA_OK)
        fail_msg("the committed model does not load: %s", err.msg);
    assert_int_equal(tu_mkdtemp(f->tmp, sizeof f->tmp, "fraudm", false), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fraud_model_free(f->m);
    free(f->bytes);
    tu_rm_tree(f->tmp);
    free(f);
    return 0;
}

static float sigmoid(float m)
{
    return (float)(1.0 / (1.0 + exp(-(double)m)));
}

/* ---- the manifest and its canaries ---- */

static void test_manifest_canaries(void **state)
{
    fx *f = *state;
    char path[PATH_SIZE + 32];
    snprintf(path, sizeof path, "%s/manifest.json", f->dir);
    size_t len;
    uint8_t *bytes = slurp(path, &len);
    assert_non_null(bytes);
    modelreg_manifest m;
    kassa_err err;
    if (modelreg_manifest_parse(bytes, len, &m, &err) != KASSA_OK)
        fail_msg("manifest: %s", err.msg);
    assert_string_equal(m.name, "fraud");
    assert_string_equal(m.model_file, "fraud.json");
    assert_int_equal(m.model_size_bytes, f->len);
    uint8_t sha[32];
    assert_int_equal(sodium_init() >= 0, 1);
    crypto_hash_sha256(sha, f->bytes, f->len);
    assert_memory_equal(sha, m.model_sha256, sizeof sha);
    assert_int_equal(m.input.dtype, AI_FLOAT32);
    assert_int_equal(m.input.count, FRAUD_N_FEATURES);
    assert_int_equal(m.output.count, 1);
    /* The feature names the manifest records are the code's. */
    json_t *names = json_object_get(m.preprocess, "features");
    assert_int_equal(json_array_size(names), FRAUD_N_FEATURES);
    for (size_t i = 0; i < FRAUD_N_FEATURES; i++)
        assert_string_equal(json_string_value(json_array_get(names, i)), fraud_feature_names[i]);
    assert_true(m.canary_count >= 5);
    float hi = 0, lo = 1;
    for (size_t i = 0; i < m.canary_count; i++) {
        const modelreg_canary *c = &m.canaries[i];
        float x[FRAUD_N_FEATURES], margin;
        assert_non_null(c->input);
        memcpy(x, c->input, sizeof x);
        assert_int_equal(fraud_model_margin(f->m, x, &margin, NULL), KASSA_OK);
        float p = sigmoid(margin);
        if (fabs((double)p - c->expected_float[0]) > c->tolerance_abs)
            fail_msg("canary %s: %.7f, expected %.7f", c->name, (double)p, c->expected_float[0]);
        if (strcmp(c->name, "normal_sale") == 0)
            lo = p;
        else if (p > hi)
            hi = p;
    }
    assert_true(lo < 0.05f && hi > 0.9f);
    modelreg_manifest_free(&m);
    free(bytes);
}

/* ---- a small store, then known patterns ---- */

static void observe(fraud_state *s, fraud_event e)
{
    kassa_err err;
    if (fraud_observe(s, &e, &err) != KASSA_OK)
        fail_msg("observe: %s", err.msg);
}

static fraud_event event(int kind, int64_t t, const char *term, const char *cashier)
{
    fraud_event e;
    fraud_event_make(&e, kind, t, term, cashier);
    return e;
}

static fraud_event sale(int64_t t, const char *term, const char *cashier, uint64_t seq,
                        int64_t amount, int64_t items, const char *token)
{
    fraud_event e = event(FRAUD_EV_SALE, t, term, cashier);
    snprintf(e.sale.origin, sizeof e.sale.origin, "%s", term);
    e.sale.seq = seq;
    e.amount = amount;
    e.items = items;
    e.cash = token ? 0 : amount;
    if (token) {
        e.flags = FRAUD_EVF_CARD;
        snprintf(e.token, sizeof e.token, "%s", token);
    }
    return e;
}

/* Four hours of ordinary trade at three terminals. */
static fraud_state *normal_store(uint64_t *seq)
{
    fraud_state *s = NULL;
    assert_int_equal(fraud_state_new(NULL, &s, NULL), KASSA_OK);
    static const char *const terms[] = {"T1", "T2", "T3"}, *const cashiers[] = {"c1", "c2", "c3"};
    tu_rng r;
    tu_rng_seed(&r, 42);
    for (int i = 0; i < 480; i++) {
        int k = i % 3;
        int64_t t = T0 - 4 * 60 * MIN + i * 30000;
        int64_t items = tu_rng_range(&r, 1, 6);
        int64_t amount = items * tu_rng_range(&r, 90, 600);
        char token[24];
        snprintf(token, sizeof token, "tok_r%d", (int)tu_rng_range(&r, 0, 5000));
        observe(s, sale(t, terms[k], cashiers[k], ++*seq, amount, items,
                        tu_rng_chance(&r, 60) ? token : NULL));
    }
    return s;
}

typedef struct scored {
    fraud_score sc;
    char what[32];
} scored;

static scored score(fx *f, fraud_state *s, const fraud_event *e, const char *what)
{
    scored out;
    kassa_err err;
    if (fraud_score_event(f->m, s, e, &out.sc, &err) != KASSA_OK ||
        fraud_explain(f->m, &out.sc, &err) != KASSA_OK)
        fail_msg("%s: %s", what, err.msg);
    snprintf(out.what, sizeof out.what, "%s", what);
    assert_true(out.sc.n_reasons >= 1);
    return out;
}

/* Whether one of the first n reasons is one of names. */
static bool reason_among(const scored *s, size_t n, const char *const *names, size_t n_names)
{
    for (size_t i = 0; i < n && i < s->sc.n_reasons; i++)
        for (size_t j = 0; j < n_names; j++)
            if (strcmp(s->sc.reasons[i].name, names[j]) == 0)
                return true;
    return false;
}

static void print_reasons(fx *f, const scored *s)
{
    if (getenv("FRAUD_TEST_VERBOSE")) {
        float c[FRAUD_N_FEATURES + 1];
        assert_int_equal(fraud_model_contribs(f->m, s->sc.x, c, NULL), KASSA_OK);
        for (int i = 0; i < FRAUD_N_FEATURES; i++)
            fprintf(stderr, "  %-24s %10g %+.3f\n", fraud_feature_names[i], (double)s->sc.x[i],
                    (double)c[i]);
    }
    fprintf(stderr, "%-14s p=%.4f:", s->what, (double)s->sc.probability);
    for (size_t i = 0; i < s->sc.n_reasons; i++)
        fprintf(stderr, " %s=%g (+%.2f)", s->sc.reasons[i].name, (double)s->sc.reasons[i].value,
                (double)s->sc.reasons[i].contribution);
    fprintf(stderr, "\n");
}

static void test_known_patterns(void **state)
{
    fx *f = *state;
    uint64_t seq = 0;
    fraud_state *s = normal_store(&seq);
    /* A normal sale. */
    fraud_event normal = sale(T0, "T1", "c1", ++seq, 1450, 3, NULL);
    scored n = score(f, s, &normal, "normal sale");
    /* Card testing at T2: a dozen small declined attempts with fresh
     * tokens in six minutes, then a small card sale that went through. */
    fraud_state *ct = normal_store(&(uint64_t){0});
    char tok[24];
    for (int i = 0; i < 12; i++) {
        snprintf(tok, sizeof tok, "tok_ct%d", i % 6);
        fraud_event a = event(FRAUD_EV_CARD_ATTEMPT, T0 - 6 * MIN + i * 30000, "T2", "c2");
        a.amount = 100 + 25 * i;
        a.flags = FRAUD_EVF_CARD | FRAUD_EVF_DECLINED;
        snprintf(a.token, sizeof a.token, "%s", tok);
        observe(ct, a);
    }
    fraud_event burst = sale(T0, "T2", "c2", ++seq, 249, 1, "tok_ct9");
    scored b = score(f, ct, &burst, "card testing");
    /* Sweethearting at T3: six lines voided, two prices overridden to a
     * tenth, a cash sale of what is left. */
    fraud_state *sw = normal_store(&(uint64_t){0});
    for (int i = 0; i < 6; i++) {
        fraud_event lv = event(FRAUD_EV_LINE_VOID, T0 - 3 * MIN + i * 10000, "T3", "c3");
        lv.amount = 650;
        lv.items = 1;
        observe(sw, lv);
    }
    for (int i = 0; i < 2; i++) {
        fraud_event po = event(FRAUD_EV_PRICE_OVERRIDE, T0 - MIN + i * 10000, "T3", "c3");
        po.amount = 720;
        observe(sw, po);
    }
    fraud_event sweet = sale(T0, "T3", "c3", ++seq, 320, 4, NULL);
    scored w = score(f, sw, &sweet, "sweethearting");
    /* A refund without receipt, in cash, of expensive goods. */
    fraud_event ret = event(FRAUD_EV_RETURN, T0, "T1", "c1");
    ret.flags = FRAUD_EVF_NO_RECEIPT;
    ret.amount = 5670;
    ret.cash = 5670;
    ret.items = 3;
    scored r = score(f, s, &ret, "refund no rcpt");
    /* Offline card abuse: one card token taken offline at two terminals
     * for expensive baskets, now at a third. */
    fraud_state *off = normal_store(&(uint64_t){0});
    static const char *const off_terms[] = {"T1", "T2"};
    for (int i = 0; i < 2; i++) {
        fraud_event o = sale(T0 - (20 - 10 * i) * MIN, off_terms[i], i ? "c2" : "c1", ++seq,
                             8500 - 1300 * i, 4, "tok_stolen");
        o.flags |= FRAUD_EVF_OFFLINE;
        observe(off, o);
    }
    fraud_event abuse = sale(T0, "T3", "c3", ++seq, 9400, 5, "tok_stolen");
    abuse.flags |= FRAUD_EVF_OFFLINE;
    scored o = score(f, off, &abuse, "offline abuse");
    /* The same basket offline with a card never seen before. */
    fraud_event first = abuse;
    snprintf(first.token, sizeof first.token, "tok_new");
    first.amount = 2400;
    first.items = 3;
    scored o1 = score(f, off, &first, "offline first");
    print_reasons(f, &n);
    print_reasons(f, &o);
    print_reasons(f, &o1);
    print_reasons(f, &b);
    print_reasons(f, &w);
    print_reasons(f, &r);
    assert_true(n.sc.probability < 0.02f);
    assert_true(b.sc.probability > 0.5f);
    assert_true(w.sc.probability > 0.5f);
    assert_true(r.sc.probability > 0.5f);
    assert_true(o.sc.probability > 0.5f);
    assert_true(o.sc.probability > 4 * o1.sc.probability);
    /* What the default policy makes of them. */
    fraud_policy pol;
    fraud_policy_default(&pol);
    fraud_decision d;
    fraud_decide(&pol, &n.sc, &d);
    assert_int_equal(d.action, FRAUD_ALLOW);
    fraud_decide(&pol, &b.sc, &d);
    assert_int_equal(d.action, FRAUD_SUPERVISOR);
    fraud_decide(&pol, &w.sc, &d);
    assert_int_equal(d.action, FRAUD_SUPERVISOR);
    assert_int_equal(d.n_reasons, w.sc.n_reasons);
    assert_string_equal(d.reasons[0].name, w.sc.reasons[0].name);
    fraud_decide(&pol, &r.sc, &d);
    assert_true(d.review);
    fraud_decide(&pol, &o.sc, &d);
    assert_int_equal(d.action, FRAUD_REFUSE_OFFLINE_CARD);
    fraud_decide(&pol, &o1.sc, &d);
    assert_false(d.refuse_offline_card);
    static const char *const card_testing[] = {
        "t_card_declines_10m", "t_small_cards_10m",  "t_card_attempts_10m",
        "t_tokens_10m",        "cart_card_declines", "c_card_declines_1h",
    };
    static const char *const sweethearting[] = {
        "cart_line_voids",     "cart_line_void_ratio", "cart_overrides",
        "cart_override_ratio", "c_line_voids_1h",      "c_overrides_8h",
    };
    static const char *const refund[] = {"no_receipt", "is_return", "c_no_receipt_8h"};
    assert_true(reason_among(&b, 1, card_testing, KASSA_ARRAY_LEN(card_testing)));
    assert_true(reason_among(&w, 1, sweethearting, KASSA_ARRAY_LEN(sweethearting)));
    assert_true(reason_among(&r, FRAUD_REASONS_MAX, refund, KASSA_ARRAY_LEN(refund)));
    /* Reasons come largest first, all pushing towards fraud. */
    for (size_t i = 0; i < b.sc.n_reasons; i++) {
        assert_true(b.sc.reasons[i].contribution > 0);
        assert_ptr_equal(b.sc.reasons[i].name, fraud_feature_names[b.sc.reasons[i].feature]);
        assert_true(b.sc.reasons[i].value == b.sc.x[b.sc.reasons[i].feature]);
        if (i)
            assert_true(b.sc.reasons[i].contribution <= b.sc.reasons[i - 1].contribution);
    }
    /* The same features score the same on a second model instance. */
    fraud_model *m2;
    assert_int_equal(fraud_model_load(f->bytes, f->len, &m2, NULL), KASSA_OK);
    float margin2;
    assert_int_equal(fraud_model_margin(m2, b.sc.x, &margin2, NULL), KASSA_OK);
    assert_true(margin2 == b.sc.margin);
    fraud_model_free(m2);
    fraud_state_free(off);
    fraud_state_free(sw);
    fraud_state_free(ct);
    fraud_state_free(s);
}

/* ---- contributions, heap, re-writing ---- */

static void random_features(tu_rng *r, float *x)
{
    for (int i = 0; i < FRAUD_N_FEATURES; i++) {
        int64_t d = tu_rng_range(r, 0, 99);
        x[i] = d < 10 ? NAN : d < 40 ? 0.0f : (float)tu_rng_range(r, -50, 500) / 10.0f;
    }
    x[FRAUD_X_IS_VOID] = x[FRAUD_X_IS_RETURN] = x[FRAUD_X_IS_NO_SALE] = 0;
}

static void test_contributions_sum_to_margin(void **state)
{
    fx *f = *state;
    tu_rng r;
    tu_rng_seed(&r, 5);
    for (int k = 0; k < 200; k++) {
        float x[FRAUD_N_FEATURES], c[FRAUD_N_FEATURES + 1], margin;
        random_features(&r, x);
        if (k == 0)
            for (int i = 0; i < FRAUD_N_FEATURES; i++)
                x[i] = NAN;
        if (k == 1)
            for (int i = 0; i < FRAUD_N_FEATURES; i++)
                x[i] = i % 2 ? FLT_MAX : -FLT_MAX;
        assert_int_equal(fraud_model_margin(f->m, x, &margin, NULL), KASSA_OK);
        assert_int_equal(fraud_model_contribs(f->m, x, c, NULL), KASSA_OK);
        double sum = 0;
        for (int i = 0; i <= FRAUD_N_FEATURES; i++)
            sum += c[i];
        if (fabs(sum - margin) > 1e-3)
            fail_msg("vector %d: contributions sum to %g, margin %g", k, sum, (double)margin);
        fraud_score sc = {.probability = sigmoid(margin), .margin = margin};
        memcpy(sc.x, x, sizeof x);
        fraud_reasons_from(x, c, &sc);
        for (size_t i = 0; i < sc.n_reasons; i++)
            assert_true(sc.reasons[i].contribution > 0);
    }
}

static void test_no_heap_growth(void **state)
{
    fx *f = *state;
    uint64_t seq = 0;
    fraud_state *s = normal_store(&seq);
    fraud_event e = sale(T0, "T1", "c1", ++seq, 1450, 3, "tok_r1");
    fraud_score sc;
    for (int i = 0; i < 200; i++) { /* warm-up: XGBoost's buffers */
        assert_int_equal(fraud_score_event(f->m, s, &e, &sc, NULL), KASSA_OK);
        assert_int_equal(fraud_explain(f->m, &sc, NULL), KASSA_OK);
    }
    size_t before = HEAP_IN_USE();
    for (int i = 0; i < 5000; i++) {
        e.amount = 100 + i;
        assert_int_equal(fraud_score_event(f->m, s, &e, &sc, NULL), KASSA_OK);
    }
    size_t mid = HEAP_IN_USE();
    for (int i = 0; i < 500; i++)
        assert_int_equal(fraud_explain(f->m, &sc, NULL), KASSA_OK);
    size_t after = HEAP_IN_USE();
    fprintf(stderr, "heap in use: %zu, after 5000 scores %zu, after 500 explains %zu\n", before,
            mid, after);
    assert_true(mid <= before + 4096);
    assert_true(after <= mid + 16384);
    fraud_state_free(s);
}

/* Loads bytes; returns the error code (0 and frees the model when it
 * loads) with a printable message. */
static int try_load(const void *bytes, size_t len, kassa_err *err)
{
    fraud_model *m = (fraud_model *)0x1;
    int rc = fraud_model_load(bytes, len, &m, err);
    if (rc == KASSA_OK) {
        assert_non_null(m);
        fraud_model_free(m);
    } else {
        assert_null(m);
        assert_int_equal(err->code, rc);
        tu_check_msg(err->msg, sizeof err->msg);
    }
    return rc;
}

static json_t *model_json(fx *f)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)f->bytes, f->len, 0, &je);
    assert_non_null(j);
    return j;
}

/* Parts of a model's JSON: learner.KEY, and learner.gradient_booster.model.KEY. */
static json_t *learner_get(json_t *j, const char *key)
{
    json_t *v = json_object_get(json_object_get(j, "learner"), key);
    assert_non_null(v);
    return v;
}

static json_t *gbmodel_get(json_t *j, const char *key)
{
    json_t *v = json_object_get(json_object_get(learner_get(j, "gradient_booster"), "model"), key);
    assert_non_null(v);
    return v;
}

static json_t *tree0(json_t *j)
{
    json_t *t = json_array_get(gbmodel_get(j, "trees"), 0);
    assert_non_null(t);
    return t;
}

/* Dumps j and loads it: the error code. */
static int load_json(json_t *j, kassa_err *err)
{
    char *text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    int rc = try_load(text, strlen(text), err);
    free(text);
    return rc;
}

static void test_rewritten_model_predicts_the_same(void **state)
{
    fx *f = *state;
    /* The same model in another layout (indented, keys sorted). */
    json_t *j = model_json(f);
    char *text = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
    fraud_model *m;
    assert_int_equal(fraud_model_load((const uint8_t *)text, strlen(text), &m, NULL), KASSA_OK);
    assert_int_equal(fraud_model_trees(m), fraud_model_trees(f->m));
    tu_rng r;
    tu_rng_seed(&r, 9);
    for (int k = 0; k < 100; k++) {
        float x[FRAUD_N_FEATURES], a, b;
        random_features(&r, x);
        assert_int_equal(fraud_model_margin(f->m, x, &a, NULL), KASSA_OK);
        assert_int_equal(fraud_model_margin(m, x, &b, NULL), KASSA_OK);
        assert_true(a == b);
    }
    fraud_model_free(m);
    free(text);
    json_decref(j);
}

/* ---- bad model files ---- */

static void test_bad_files(void **state)
{
    fx *f = *state;
    kassa_err err;
    fraud_model *m = NULL;
    char path[PATH_SIZE];
    snprintf(path, sizeof path, "%s/missing.json", f->tmp);
    assert_int_equal(fraud_model_load_file(path, &m, &err), KASSA_ENOTFOUND);
    assert_null(m);
    assert_int_equal(fraud_model_load_file(f->tmp, &m, &err), KASSA_EIO); /* a directory */
    snprintf(path, sizeof path, "%s/empty.json", f->tmp);
    assert_int_equal(tu_seed_write(f->tmp, "empty.json", "", 0), 0);
    assert_int_equal(fraud_model_load_file(path, &m, &err), KASSA_ECORRUPT);
    /* Too big: refused before reading. */
    snprintf(path, sizeof path, "%s/big.json", f->tmp);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, FRAUD_MODEL_MAX_BYTES + 1), 0);
    close(fd);
    assert_int_equal(fraud_model_load_file(path, &m, &err), KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "bytes"));
    /* Truncated at many points, and garbage. */
    for (size_t cut = 1; cut < f->len; cut += f->len / 37 + 1)
        assert_int_equal(try_load(f->bytes, cut, &err), KASSA_ECORRUPT);
    assert_int_equal(try_load(f->bytes, f->len - 2, &err), KASSA_ECORRUPT);
    uint8_t junk[4096];
    tu_rng r;
    tu_rng_seed(&r, 3);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)tu_rng_next(&r);
    assert_int_equal(try_load(junk, sizeof junk, &err), KASSA_ECORRUPT);
    assert_int_equal(try_load("{}", 2, &err), KASSA_ECORRUPT);
    assert_int_equal(try_load("[1,2,3]", 7, &err), KASSA_ECORRUPT);
    /* The committed model itself still loads after all this. */
    assert_int_equal(try_load(f->bytes, f->len, &err), KASSA_OK);
}

typedef void (*mutation)(json_t *root, json_t *tree);

static void set_int_at(json_t *tree, const char *key, size_t i, json_int_t v)
{
    assert_int_equal(json_array_set_new(json_object_get(tree, key), i, json_integer(v)), 0);
}

static void m_feature_999(json_t *j, json_t *t)
{
    (void)j;
    set_int_at(t, "split_indices", 0, 999);
}
static void m_num_trees(json_t *j, json_t *t)
{
    (void)t;
    json_t *p = gbmodel_get(j, "gbtree_model_param");
    json_object_set_new(p, "num_trees", json_string("1999"));
}
static void m_child_out(json_t *j, json_t *t)
{
    (void)j;
    set_int_at(t, "left_children", 0, 99999);
}
static void m_child_cycle(json_t *j, json_t *t)
{
    (void)j;
    json_int_t l = json_integer_value(json_array_get(json_object_get(t, "left_children"), 0));
    set_int_at(t, "left_children", (size_t)l, 0);
    set_int_at(t, "right_children", (size_t)l, 0);
}
static void m_two_parents(json_t *j, json_t *t)
{
    (void)j;
    json_int_t l = json_integer_value(json_array_get(json_object_get(t, "left_children"), 0));
    json_int_t r = json_integer_value(json_array_get(json_object_get(t, "right_children"), 0));
    /* the left child's left child becomes the right child */
    if (json_integer_value(json_array_get(json_object_get(t, "left_children"), (size_t)l)) > 0)
        set_int_at(t, "left_children", (size_t)l, r);
    else
        set_int_at(t, "right_children", 0, l);
}
static void m_feature_name(json_t *j, json_t *t)
{
    (void)t;
    json_array_set_new(learner_get(j, "feature_names"), 3, json_string("amount"));
}
static void m_objective(json_t *j, json_t *t)
{
    (void)t;
    json_object_set_new(learner_get(j, "objective"), "name", json_string("reg:squarederror"));
}
static void m_categorical(json_t *j, json_t *t)
{
    (void)j;
    set_int_at(t, "split_type", 0, 1);
}
static void m_categories(json_t *j, json_t *t)
{
    (void)j;
    json_array_append_new(json_object_get(t, "categories"), json_integer(1));
}
static void m_no_cover(json_t *j, json_t *t)
{
    (void)j;
    json_array_set_new(json_object_get(t, "sum_hessian"), 0, json_real(0.0));
}
static void m_cover_mismatch(json_t *j, json_t *t)
{
    (void)j;
    json_t *h = json_object_get(t, "sum_hessian");
    json_array_set_new(h, 1, json_real(json_number_value(json_array_get(h, 1)) * 10));
}
static void m_base_score(json_t *j, json_t *t)
{
    (void)t;
    json_object_set_new(learner_get(j, "learner_model_param"), "base_score", json_string("1.5"));
}
static void m_base_score_text(json_t *j, json_t *t)
{
    (void)t;
    json_object_set_new(learner_get(j, "learner_model_param"), "base_score", json_string("nan"));
}
static void m_version(json_t *j, json_t *t)
{
    (void)t;
    json_object_set_new(j, "version", json_pack("[iii]", 2, 0, 0));
}
static void m_tree_not_object(json_t *j, json_t *t)
{
    (void)t;
    json_array_set_new(gbmodel_get(j, "trees"), 0, json_string("tree"));
}
static void m_tree_info(json_t *j, json_t *t)
{
    (void)t;
    json_array_set_new(gbmodel_get(j, "tree_info"), 0, json_integer(1));
}
static void m_leaf_huge(json_t *j, json_t *t)
{
    (void)j;
    json_t *left = json_object_get(t, "left_children");
    for (size_t i = 0; i < json_array_size(left); i++)
        if (json_integer_value(json_array_get(left, i)) == -1) {
            json_array_set_new(json_object_get(t, "split_conditions"), i, json_real(1e9));
            return;
        }
}
static void m_short_array(json_t *j, json_t *t)
{
    (void)j;
    json_array_remove(json_object_get(t, "default_left"), 0);
}
static void m_num_nodes_zero(json_t *j, json_t *t)
{
    (void)j;
    json_object_set_new(json_object_get(t, "tree_param"), "num_nodes", json_string("0"));
}
static void m_num_class(json_t *j, json_t *t)
{
    (void)t;
    json_object_set_new(learner_get(j, "learner_model_param"), "num_class", json_string("3"));
}
static void m_threshold_string(json_t *j, json_t *t)
{
    (void)j;
    json_array_set_new(json_object_get(t, "split_conditions"), 0, json_string("0.5"));
}
/* Tree t replaced by a chain of the given depth: node 2k splits into leaf
 * 2k+1 and node 2k+2. */
static void make_chain(json_t *t, int depth)
{
    const int n = 2 * depth + 1;
    json_t *l = json_array(), *r = json_array(), *f = json_array(), *c = json_array(),
           *d = json_array(), *w = json_array(), *h = json_array(), *lc = json_array(),
           *ty = json_array();
    for (int i = 0; i < n; i++) {
        bool inner = i % 2 == 0 && i < n - 1;
        json_array_append_new(l, json_integer(inner ? i + 1 : -1));
        json_array_append_new(r, json_integer(inner ? i + 2 : -1));
        json_array_append_new(f, json_integer(inner ? 3 : 0));
        json_array_append_new(c, json_real(inner ? 1.0 : 0.01));
        json_array_append_new(d, json_integer(0));
        json_array_append_new(w, json_real(0.0));
        /* covers add up: node 2k holds leaf 2k+1 and everything below 2k+2 */
        json_array_append_new(h, json_real(inner ? depth - i / 2 + 1 : 1.0));
        json_array_append_new(lc, json_real(0.0));
        json_array_append_new(ty, json_integer(0));
    }
    json_object_set_new(t, "left_children", l);
    json_object_set_new(t, "right_children", r);
    json_object_set_new(t, "split_indices", f);
    json_object_set_new(t, "split_conditions", c);
    json_object_set_new(t, "default_left", d);
    json_object_set_new(t, "base_weights", w);
    json_object_set_new(t, "sum_hessian", h);
    json_object_set_new(t, "loss_changes", lc);
    json_object_set_new(t, "split_type", ty);
    char nodes[16];
    snprintf(nodes, sizeof nodes, "%d", n);
    json_object_set_new(json_object_get(t, "tree_param"), "num_nodes", json_string(nodes));
}

static void m_too_deep(json_t *j, json_t *t)
{
    (void)j;
    make_chain(t, FRAUD_MODEL_DEPTH_MAX + 1);
}

static void test_corrupt_structures(void **state)
{
    fx *f = *state;
    static const struct {
        const char *name;
        mutation fn;
        const char *msg; /* part of the reason */
    } cases[] = {
        {"feature index 999", m_feature_999, "feature 999"},
        {"num_trees disagrees", m_num_trees, "num_trees"},
        {"child out of range", m_child_out, "children"},
        {"a cycle", m_child_cycle, "children"},
        {"two parents", m_two_parents, ""},
        {"another feature vector", m_feature_name, "feature 3"},
        {"another objective", m_objective, "objective"},
        {"categorical split", m_categorical, "split_type"},
        {"categories", m_categories, "categorical"},
        {"no cover", m_no_cover, "cover"},
        {"children's cover", m_cover_mismatch, "share its cover"},
        {"base_score 1.5", m_base_score, "base_score"},
        {"base_score nan", m_base_score_text, "base_score"},
        {"XGBoost 2.0", m_version, "XGBoost"},
        {"a tree that is a string", m_tree_not_object, "tree 0"},
        {"tree_info 1", m_tree_info, "tree_info"},
        {"leaf value 1e9", m_leaf_huge, "leaf"},
        {"short array", m_short_array, "default_left"},
        {"num_nodes 0", m_num_nodes_zero, "num_nodes"},
        {"num_class 3", m_num_class, "num_class"},
        {"threshold as a string", m_threshold_string, "split_conditions"},
        {"deeper than allowed", m_too_deep, "deeper"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        json_t *j = model_json(f);
        cases[i].fn(j, tree0(j));
        kassa_err err;
        int rc = load_json(j, &err);
        if (rc != KASSA_ECORRUPT || !tu_contains(err.msg, cases[i].msg))
            fail_msg("%s: rc %d, \"%s\"", cases[i].name, rc, err.msg);
        json_decref(j);
    }
    /* The depth limit itself is allowed. */
    json_t *j = model_json(f);
    make_chain(tree0(j), FRAUD_MODEL_DEPTH_MAX);
    kassa_err err;
    assert_int_equal(load_json(j, &err), KASSA_OK);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_canaries),
        cmocka_unit_test(test_known_patterns),
        cmocka_unit_test(test_contributions_sum_to_margin),
        cmocka_unit_test(test_no_heap_growth),
        cmocka_unit_test(test_rewritten_model_predicts_the_same),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_corrupt_structures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
