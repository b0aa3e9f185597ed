/*
 * fraud: the model file, checked, and XGBoost's predictions.
 *
 * XGBoost 1.7 trusts a model's structure: a feature index past the input
 * or a tree count that disagrees with the trees crashes it (found while
 * writing this file). So the JSON model is read with jansson, every value
 * XGBoost will use is checked here (types, array lengths, child indexes
 * that form one tree per array, split features, depth, finite values), and
 * XGBoost loads a model re-written from the checked values only: nothing
 * unchecked reaches it. Fuzzed by tests/fuzz/fuzz_fraud_model.c.
 *
 * Predictions: XGBoosterPredictFromDense on the model's own feature buffer
 * (its array interface string is built once, so a prediction allocates
 * nothing that outlives it) through a proxy matrix made once, with
 * nthread = 1 and "cache_id": 0 (XGBoost 1.7 refuses the configuration
 * without it); contributions through a one-row DMatrix, the only way
 * XGBoost 1.7 computes them.
 */
#include "fraud/fraud.h"
#include "fraud/fraud_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xgboost/c_api.h>

#define IFACE_MAX 192
#define XGB_MSG_MAX 160
#define NUM_STR_MAX 40
/* Relative: XGBoost stores covers as floats summed in double. */
#define FRAUD_COVER_TOLERANCE 1e-3

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define F4_TYPESTR "<f4"
#else
#define F4_TYPESTR ">f4"
#endif

struct fraud_model {
    BoosterHandle booster;
    /* XGBoost's in-place prediction makes a proxy matrix per call unless it
     * is given one: this one, made at load, halves the latency. */
    DMatrixHandle proxy;
    size_t n_trees;
    float x[FRAUD_N_FEATURES]; /* the input row XGBoost reads (x_iface points here) */
    char x_iface[IFACE_MAX];
};

static const char MARGIN_CONFIG[] = "{\"type\":1,\"training\":false,\"iteration_begin\":0,"
                                    "\"iteration_end\":0,\"strict_shape\":false,\"cache_id\":0,"
                                    "\"missing\":NaN}";
static const char CONTRIB_CONFIG[] = "{\"type\":2,\"training\":false,\"iteration_begin\":0,"
                                     "\"iteration_end\":0,\"strict_shape\":false,\"cache_id\":0}";

/* XGBoost's last error, first line only, printable ASCII. */
static int xgb_fail(kassa_err *err, const char *what)
{
    const char *m = XGBGetLastError();
    char clean[XGB_MSG_MAX];
    size_t n = 0;
    for (; m && m[n] && m[n] != '\n' && n + 1 < sizeof clean; n++)
        clean[n] = (m[n] >= 0x20 && m[n] < 0x7f) ? m[n] : '?';
    clean[n] = '\0';
    return kassa_fail(err, KASSA_ECORRUPT, "fraud model: %s: %s", what,
                      n ? clean : "XGBoost failed");
}

/* ---- reading the JSON model ---- */

typedef struct tree {
    int32_t n;
    int32_t *left, *right, *parent, *feature;
    uint8_t *default_left;
    float *cond, *weight, *hess, *loss;
} tree;

typedef struct parsed {
    size_t n_trees;
    tree *trees;
    float base_score;
} parsed;

static void parsed_free(parsed *p)
{
    for (size_t i = 0; p->trees && i < p->n_trees; i++) {
        tree *t = &p->trees[i];
        free(t->left);
        free(t->right);
        free(t->parent);
        free(t->feature);
        free(t->default_left);
        free(t->cond);
        free(t->weight);
        free(t->hess);
        free(t->loss);
    }
    free(p->trees);
    memset(p, 0, sizeof *p);
}

static int bad(kassa_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(kassa_err *err, const char *fmt, ...)
{
    char msg[KASSA_ERR_MSG_SIZE - 16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kassa_fail(err, KASSA_ECORRUPT, "fraud model: %s", msg);
}

/* A member of an object, of a type; NULL (with err) otherwise. */
static json_t *member(json_t *obj, const char *key, json_type type, kassa_err *err)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (!v || json_typeof(v) != type) {
        bad(err, "\"%s\" missing or of the wrong type", key);
        return NULL;
    }
    return v;
}

/* XGBoost writes integer parameters as strings of digits. */
static bool str_int(json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > 18)
        return false;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *out = x;
    return x >= lo && x <= hi;
}

/* An optional string-integer parameter that must equal want when present. */
static int param_eq(json_t *obj, const char *key, int64_t want, bool required, kassa_err *err)
{
    json_t *v = json_object_get(obj, key);
    int64_t x;
    if (!v && !required)
        return KASSA_OK;
    if (!v || !str_int(v, want, want, &x))
        return bad(err, "\"%s\" must be \"%" PRId64 "\"", key, want);
    return KASSA_OK;
}

static bool str_float(json_t *v, float *out)
{
    if (!json_is_string(v) || json_string_length(v) >= NUM_STR_MAX)
        return false;
    char buf[NUM_STR_MAX];
    snprintf(buf, sizeof buf, "%s", json_string_value(v));
    for (const char *p = buf; *p; p++)
        if (!strchr("0123456789.eE+-", *p))
            return false;
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (end == buf || *end || errno || !isfinite(d) || fabs(d) > FLT_MAX)
        return false;
    *out = (float)d;
    return true;
}

static bool is_array_of(json_t *a, size_t n)
{
    return json_is_array(a) && json_array_size(a) == n;
}

/* Reads an array of n integers (JSON integers or, with bools, booleans)
 * in lo..hi. */
static int read_ints(json_t *tree_obj, const char *key, int32_t n, int64_t lo, int64_t hi,
                     bool bools, int32_t *out, kassa_err *err)
{
    json_t *a = json_object_get(tree_obj, key);
    if (!is_array_of(a, (size_t)n))
        return bad(err, "tree \"%s\" is not an array of %d values", key, (int)n);
    for (int32_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        int64_t x;
        if (json_is_integer(v))
            x = (int64_t)json_integer_value(v);
        else if (bools && json_is_boolean(v))
            x = json_is_true(v);
        else
            return bad(err, "tree \"%s\"[%d] is not an integer", key, (int)i);
        if (x < lo || x > hi)
            return bad(err, "tree \"%s\"[%d] out of range", key, (int)i);
        out[i] = (int32_t)x;
    }
    return KASSA_OK;
}

/* Reads an array of n finite numbers that fit a float. */
static int read_floats(json_t *tree_obj, const char *key, int32_t n, float *out, kassa_err *err)
{
    json_t *a = json_object_get(tree_obj, key);
    if (!is_array_of(a, (size_t)n))
        return bad(err, "tree \"%s\" is not an array of %d values", key, (int)n);
    for (int32_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        if (!json_is_number(v))
            return bad(err, "tree \"%s\"[%d] is not a number", key, (int)i);
        double d = json_number_value(v);
        if (!isfinite(d) || fabs(d) > FLT_MAX)
            return bad(err, "tree \"%s\"[%d] out of range", key, (int)i);
        out[i] = (float)d;
    }
    return KASSA_OK;
}

/* An optional array that must be empty (categorical splits are refused). */
static int empty_or_absent(json_t *obj, const char *key, kassa_err *err)
{
    json_t *a = json_object_get(obj, key);
    if (a && !is_array_of(a, 0))
        return bad(err, "tree \"%s\": categorical splits are not supported", key);
    return KASSA_OK;
}

/* Checks that the child arrays form one tree rooted at node 0 (children
 * after their parent, every other node the child of exactly one node),
 * fills parents and checks the depth, features and values. */
static int check_tree(tree *t, size_t index, kassa_err *err)
{
    for (int32_t i = 0; i < t->n; i++)
        t->parent[i] = -1;
    for (int32_t i = 0; i < t->n; i++) {
        int32_t l = t->left[i], r = t->right[i];
        if (l == -1 && r == -1) {
            if (fabsf(t->cond[i]) > FRAUD_MODEL_LEAF_MAX)
                return bad(err, "tree %zu: leaf %d value out of range", index, (int)i);
            continue;
        }
        if (l <= i || r <= i || l >= t->n || r >= t->n || l == r)
            return bad(err, "tree %zu: node %d has invalid children", index, (int)i);
        if (t->parent[l] != -1 || t->parent[r] != -1)
            return bad(err, "tree %zu: a child of node %d has two parents", index, (int)i);
        t->parent[l] = i;
        t->parent[r] = i;
        if (t->feature[i] < 0 || t->feature[i] >= FRAUD_N_FEATURES)
            return bad(err, "tree %zu: node %d splits on feature %d of %d", index, (int)i,
                       (int)t->feature[i], FRAUD_N_FEATURES);
    }
    for (int32_t i = 1; i < t->n; i++)
        if (t->parent[i] == -1)
            return bad(err, "tree %zu: node %d is not in the tree", index, (int)i);
    /* Depth: walk up the parents (each step goes to a smaller index). */
    for (int32_t i = 0; i < t->n; i++) {
        int32_t d = 0;
        for (int32_t p = i; p > 0 && d <= FRAUD_MODEL_DEPTH_MAX; p = t->parent[p])
            d++;
        if (d > FRAUD_MODEL_DEPTH_MAX)
            return bad(err, "tree %zu deeper than %d", index, FRAUD_MODEL_DEPTH_MAX);
    }
    for (int32_t i = 0; i < t->n; i++) {
        if (!(t->hess[i] > 0))
            return bad(err, "tree %zu: node %d has no cover (sum_hessian)", index, (int)i);
        /* A split's children share its cover: contributions (TreeSHAP)
         * add up to the margin only then. */
        int32_t l = t->left[i], r = t->right[i];
        if (l != -1 && fabs((double)t->hess[l] + (double)t->hess[r] - (double)t->hess[i]) >
                           FRAUD_COVER_TOLERANCE * (double)t->hess[i])
            return bad(err, "tree %zu: node %d's children do not share its cover", index, (int)i);
        if (t->left[i] == -1)
            t->feature[i] = 0;
        t->default_left[i] = t->default_left[i] ? 1 : 0;
    }
    return KASSA_OK;
}

static int read_tree(json_t *obj, size_t index, tree *t, kassa_err *err)
{
    json_t *param = member(obj, "tree_param", JSON_OBJECT, err);
    if (!param)
        return KASSA_ECORRUPT;
    int64_t n;
    if (!str_int(json_object_get(param, "num_nodes"), 1, FRAUD_MODEL_NODES_MAX, &n))
        return bad(err, "tree %zu: num_nodes not 1..%d", index, FRAUD_MODEL_NODES_MAX);
    int rc;
    if ((rc = param_eq(param, "num_deleted", 0, false, err)) != KASSA_OK ||
        (rc = param_eq(param, "num_feature", FRAUD_N_FEATURES, false, err)) != KASSA_OK ||
        (rc = param_eq(param, "size_leaf_vector", 0, false, err)) != KASSA_OK)
        return rc;
    t->n = (int32_t)n;
    size_t nn = (size_t)n;
    t->left = calloc(nn, sizeof *t->left);
    t->right = calloc(nn, sizeof *t->right);
    t->parent = calloc(nn, sizeof *t->parent);
    t->feature = calloc(nn, sizeof *t->feature);
    t->default_left = calloc(nn, sizeof *t->default_left);
    t->cond = calloc(nn, sizeof *t->cond);
    t->weight = calloc(nn, sizeof *t->weight);
    t->hess = calloc(nn, sizeof *t->hess);
    t->loss = calloc(nn, sizeof *t->loss);
    int32_t *dl = calloc(nn, sizeof *dl), *split_type = calloc(nn, sizeof *split_type);
    if (!t->left || !t->right || !t->parent || !t->feature || !t->default_left || !t->cond ||
        !t->weight || !t->hess || !t->loss || !dl || !split_type) {
        free(dl);
        free(split_type);
        return kassa_fail(err, KASSA_ENOMEM, "fraud model: out of memory");
    }
    rc = read_ints(obj, "left_children", t->n, -1, INT32_MAX, false, t->left, err);
    if (rc == KASSA_OK)
        rc = read_ints(obj, "right_children", t->n, -1, INT32_MAX, false, t->right, err);
    if (rc == KASSA_OK)
        rc = read_ints(obj, "split_indices", t->n, 0, INT32_MAX, false, t->feature, err);
    if (rc == KASSA_OK)
        rc = read_ints(obj, "default_left", t->n, 0, 1, true, dl, err);
    if (rc == KASSA_OK && json_object_get(obj, "split_type"))
        rc = read_ints(obj, "split_type", t->n, 0, 0, false, split_type, err);
    if (rc == KASSA_OK)
        rc = read_floats(obj, "split_conditions", t->n, t->cond, err);
    if (rc == KASSA_OK)
        rc = read_floats(obj, "base_weights", t->n, t->weight, err);
    if (rc == KASSA_OK)
        rc = read_floats(obj, "sum_hessian", t->n, t->hess, err);
    if (rc == KASSA_OK)
        rc = read_floats(obj, "loss_changes", t->n, t->loss, err);
    for (size_t i = 0; rc == KASSA_OK && i < nn; i++)
        t->default_left[i] = (uint8_t)dl[i];
    free(dl);
    free(split_type);
    static const char *const categorical[] = {"categories", "categories_nodes",
                                              "categories_segments", "categories_sizes"};
    for (size_t i = 0; rc == KASSA_OK && i < KASSA_ARRAY_LEN(categorical); i++)
        rc = empty_or_absent(obj, categorical[i], err);
    if (rc == KASSA_OK)
        rc = check_tree(t, index, err);
    return rc;
}

static int read_model(json_t *root, parsed *p, kassa_err *err)
{
    json_t *version = member(root, "version", JSON_ARRAY, err);
    if (!version)
        return KASSA_ECORRUPT;
    json_t *v0 = json_array_get(version, 0), *v1 = json_array_get(version, 1);
    if (json_array_size(version) != 3 || !json_is_integer(v0) || !json_is_integer(v1) ||
        json_integer_value(v0) != 1 || json_integer_value(v1) < 6 || json_integer_value(v1) > 7)
        return bad(err, "written by an XGBoost other than 1.6 or 1.7");
    json_t *learner = member(root, "learner", JSON_OBJECT, err);
    json_t *lmp = learner ? member(learner, "learner_model_param", JSON_OBJECT, err) : NULL;
    json_t *objective = lmp ? member(learner, "objective", JSON_OBJECT, err) : NULL;
    json_t *obj_name = objective ? member(objective, "name", JSON_STRING, err) : NULL;
    json_t *names = obj_name ? member(learner, "feature_names", JSON_ARRAY, err) : NULL;
    json_t *gb = names ? member(learner, "gradient_booster", JSON_OBJECT, err) : NULL;
    json_t *gb_name = gb ? member(gb, "name", JSON_STRING, err) : NULL;
    json_t *model = gb_name ? member(gb, "model", JSON_OBJECT, err) : NULL;
    json_t *gmp = model ? member(model, "gbtree_model_param", JSON_OBJECT, err) : NULL;
    json_t *trees = gmp ? member(model, "trees", JSON_ARRAY, err) : NULL;
    json_t *info = trees ? member(model, "tree_info", JSON_ARRAY, err) : NULL;
    if (!info)
        return KASSA_ECORRUPT;
    int rc;
    if ((rc = param_eq(lmp, "num_class", 0, true, err)) != KASSA_OK ||
        (rc = param_eq(lmp, "num_feature", FRAUD_N_FEATURES, true, err)) != KASSA_OK ||
        (rc = param_eq(lmp, "num_target", 1, false, err)) != KASSA_OK ||
        (rc = param_eq(gmp, "num_parallel_tree", 1, false, err)) != KASSA_OK ||
        (rc = param_eq(gmp, "size_leaf_vector", 0, false, err)) != KASSA_OK)
        return rc;
    if (!str_float(json_object_get(lmp, "base_score"), &p->base_score) ||
        !(p->base_score > 0 && p->base_score < 1))
        return bad(err, "base_score is not a probability");
    if (strcmp(json_string_value(obj_name), "binary:logistic") != 0)
        return bad(err, "objective is not binary:logistic");
    if (strcmp(json_string_value(gb_name), "gbtree") != 0)
        return bad(err, "booster is not gbtree");
    if (json_array_size(names) != FRAUD_N_FEATURES)
        return bad(err, "%zu feature names, this kassa computes %d", json_array_size(names),
                   FRAUD_N_FEATURES);
    for (size_t i = 0; i < FRAUD_N_FEATURES; i++) {
        json_t *n = json_array_get(names, i);
        if (!json_is_string(n) || strcmp(json_string_value(n), fraud_feature_names[i]) != 0)
            return bad(err, "feature %zu is not \"%s\": trained for another feature vector", i,
                       fraud_feature_names[i]);
    }
    int64_t n_trees;
    if (!str_int(json_object_get(gmp, "num_trees"), 1, FRAUD_MODEL_TREES_MAX, &n_trees) ||
        json_array_size(trees) != (size_t)n_trees || json_array_size(info) != (size_t)n_trees)
        return bad(err, "num_trees, trees and tree_info disagree (1..%d trees)",
                   FRAUD_MODEL_TREES_MAX);
    for (size_t i = 0; i < (size_t)n_trees; i++) {
        json_t *g = json_array_get(info, i);
        if (!json_is_integer(g) || json_integer_value(g) != 0)
            return bad(err, "tree_info[%zu] is not 0", i);
    }
    p->trees = calloc((size_t)n_trees, sizeof *p->trees);
    if (!p->trees)
        return kassa_fail(err, KASSA_ENOMEM, "fraud model: out of memory");
    p->n_trees = (size_t)n_trees;
    for (size_t i = 0; i < p->n_trees; i++) {
        json_t *t = json_array_get(trees, i);
        if (!json_is_object(t))
            return bad(err, "tree %zu is not an object", i);
        if ((rc = read_tree(t, i, &p->trees[i], err)) != KASSA_OK)
            return rc;
    }
    return KASSA_OK;
}

/* ---- writing the checked model for XGBoost ---- */

static void put_ints(kbuf *b, const char *key, const int32_t *v, int32_t n)
{
    fraud_put(b, "\"%s\":[", key);
    for (int32_t i = 0; i < n; i++)
        fraud_put(b, i ? ",%d" : "%d", (int)v[i]);
    fraud_put(b, "],");
}

/* %.9g: every float's decimal form reads back as the same float. XGBoost's
 * JSON tells integers from numbers, so a whole value gets its ".0". */
static void put_floats(kbuf *b, const char *key, const float *v, int32_t n)
{
    fraud_put(b, "\"%s\":[", key);
    for (int32_t i = 0; i < n; i++) {
        char num[32];
        snprintf(num, sizeof num, "%.9g", (double)v[i]);
        fraud_put(b, "%s%s%s", i ? "," : "", num, strpbrk(num, ".e") ? "" : ".0");
    }
    fraud_put(b, "],");
}

static void write_tree(kbuf *b, const tree *t, size_t index)
{
    fraud_put(b, "{");
    put_floats(b, "base_weights", t->weight, t->n);
    fraud_put(b, "\"categories\":[],\"categories_nodes\":[],\"categories_segments\":[],"
                 "\"categories_sizes\":[],");
    fraud_put(b, "\"default_left\":[");
    for (int32_t i = 0; i < t->n; i++)
        fraud_put(b, i ? ",%d" : "%d", t->default_left[i]);
    fraud_put(b, "],\"id\":%zu,", index);
    put_ints(b, "left_children", t->left, t->n);
    put_floats(b, "loss_changes", t->loss, t->n);
    fraud_put(b, "\"parents\":[2147483647");
    for (int32_t i = 1; i < t->n; i++)
        fraud_put(b, ",%d", (int)t->parent[i]);
    fraud_put(b, "],");
    put_ints(b, "right_children", t->right, t->n);
    put_floats(b, "split_conditions", t->cond, t->n);
    put_ints(b, "split_indices", t->feature, t->n);
    fraud_put(b, "\"split_type\":[");
    for (int32_t i = 0; i < t->n; i++)
        fraud_put(b, i ? ",0" : "0");
    fraud_put(b, "],");
    put_floats(b, "sum_hessian", t->hess, t->n);
    fraud_put(b,
              "\"tree_param\":{\"num_deleted\":\"0\",\"num_feature\":\"%d\",\"num_nodes\":\"%d\","
              "\"size_leaf_vector\":\"0\"}}",
              FRAUD_N_FEATURES, (int)t->n);
}

static void write_model(kbuf *b, const parsed *p)
{
    int major, minor, patch;
    XGBoostVersion(&major, &minor, &patch);
    fraud_put(b, "{\"learner\":{\"attributes\":{},\"feature_names\":[");
    for (size_t i = 0; i < FRAUD_N_FEATURES; i++)
        fraud_put(b, i ? ",\"%s\"" : "\"%s\"", fraud_feature_names[i]);
    fraud_put(b,
              "],\"feature_types\":[],\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{"
              "\"num_parallel_tree\":\"1\",\"num_trees\":\"%zu\",\"size_leaf_vector\":\"0\"},"
              "\"tree_info\":[",
              p->n_trees);
    for (size_t i = 0; i < p->n_trees; i++)
        fraud_put(b, i ? ",0" : "0");
    fraud_put(b, "],\"trees\":[");
    for (size_t i = 0; i < p->n_trees; i++) {
        if (i)
            fraud_put(b, ",");
        write_tree(b, &p->trees[i], i);
    }
    fraud_put(b,
              "]},\"name\":\"gbtree\"},\"learner_model_param\":{\"base_score\":\"%.9g\","
              "\"boost_from_average\":\"1\",\"num_class\":\"0\",\"num_feature\":\"%d\","
              "\"num_target\":\"1\"},",
              (double)p->base_score, FRAUD_N_FEATURES);
    fraud_put(b,
              "\"objective\":{\"name\":\"binary:logistic\",\"reg_loss_param\":{"
              "\"scale_pos_weight\":\"1\"}}},\"version\":[%d,%d,%d]}",
              major, minor, patch);
}

/* ---- loading and predicting ---- */

int fraud_model_load(const uint8_t *bytes, size_t len, fraud_model **out, kassa_err *err)
{
    *out = NULL;
    if (len == 0)
        return bad(err, "empty");
    if (len > FRAUD_MODEL_MAX_BYTES)
        return bad(err, "%zu bytes, more than %u", len, FRAUD_MODEL_MAX_BYTES);
    json_error_t je;
    json_t *root = json_loadb((const char *)bytes, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return bad(err, "not JSON (byte %d)", je.position);
    parsed p = {0};
    int rc = read_model(root, &p, err);
    json_decref(root);
    kbuf canon;
    kbuf_init(&canon);
    if (rc == KASSA_OK) {
        write_model(&canon, &p);
        if (canon.oom)
            rc = kassa_fail(err, KASSA_ENOMEM, "fraud model: out of memory");
    }
    size_t n_trees = p.n_trees;
    parsed_free(&p);
    fraud_model *m = NULL;
    if (rc == KASSA_OK && !(m = calloc(1, sizeof *m)))
        rc = kassa_fail(err, KASSA_ENOMEM, "fraud model: out of memory");
    if (rc == KASSA_OK) {
        /* Library code prints nothing: XGBoost's warnings off. */
        XGBSetGlobalConfig("{\"verbosity\":0}");
        if (XGBoosterCreate(NULL, 0, &m->booster) != 0)
            rc = xgb_fail(err, "cannot create a booster");
        else if (XGBoosterLoadModelFromBuffer(m->booster, canon.data, canon.len) != 0)
            rc = xgb_fail(err, "XGBoost refused it");
        else if (XGBoosterSetParam(m->booster, "nthread", "1") != 0)
            rc = xgb_fail(err, "nthread");
        else if (XGProxyDMatrixCreate(&m->proxy) != 0)
            rc = xgb_fail(err, "cannot create the input proxy");
    }
    kbuf_free(&canon);
    bst_ulong n_features = 0;
    if (rc == KASSA_OK &&
        (XGBoosterGetNumFeature(m->booster, &n_features) != 0 || n_features != FRAUD_N_FEATURES))
        rc = bad(err, "XGBoost sees %llu features", (unsigned long long)n_features);
    if (rc == KASSA_OK) {
        m->n_trees = n_trees;
        snprintf(m->x_iface, sizeof m->x_iface,
                 "{\"data\":[%" PRIuPTR ",true],\"shape\":[1,%d],\"typestr\":\"" F4_TYPESTR
                 "\",\"version\":3}",
                 (uintptr_t)m->x, FRAUD_N_FEATURES);
        float zero[FRAUD_N_FEATURES] = {0}, margin;
        rc = fraud_model_margin(m, zero, &margin, err);
    }
    if (rc != KASSA_OK) {
        fraud_model_free(m);
        return rc;
    }
    *out = m;
    return KASSA_OK;
}

int fraud_model_load_file(const char *path, fraud_model **out, kassa_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kassa_fail(err, errno == ENOENT ? KASSA_ENOTFOUND : KASSA_EIO, "fraud model %s: %s",
                          path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return kassa_fail(err, KASSA_EIO, "fraud model %s: not a readable file", path);
    }
    if (st.st_size <= 0 || (uint64_t)st.st_size > FRAUD_MODEL_MAX_BYTES) {
        close(fd);
        return kassa_fail(err, KASSA_ECORRUPT, "fraud model %s: %lld bytes, not 1..%u", path,
                          (long long)st.st_size, FRAUD_MODEL_MAX_BYTES);
    }
    size_t len = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(len);
    if (!buf) {
        close(fd);
        return kassa_fail(err, KASSA_ENOMEM, "fraud model %s: out of memory", path);
    }
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    int rc = got == len ? fraud_model_load(buf, len, out, err)
                        : kassa_fail(err, KASSA_EIO, "fraud model %s: short read", path);
    free(buf);
    return rc;
}

void fraud_model_free(fraud_model *m)
{
    if (!m)
        return;
    if (m->proxy)
        XGDMatrixFree(m->proxy);
    if (m->booster)
        XGBoosterFree(m->booster);
    free(m);
}

size_t fraud_model_trees(const fraud_model *m)
{
    return m->n_trees;
}

int fraud_model_margin(fraud_model *m, const float x[FRAUD_N_FEATURES], float *margin,
                       kassa_err *err)
{
    memcpy(m->x, x, sizeof m->x);
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    if (XGBoosterPredictFromDense(m->booster, m->x_iface, MARGIN_CONFIG, m->proxy, &shape, &dim,
                                  &res) != 0)
        return xgb_fail(err, "prediction failed");
    if (dim < 1 || shape[0] != 1 || (dim > 1 && shape[1] != 1) || !isfinite(res[0]))
        return bad(err, "prediction gave no finite margin");
    *margin = res[0];
    return KASSA_OK;
}

int fraud_model_contribs(fraud_model *m, const float x[FRAUD_N_FEATURES],
                         float contrib[FRAUD_N_FEATURES + 1], kassa_err *err)
{
    memcpy(m->x, x, sizeof m->x);
    DMatrixHandle dm;
    if (XGDMatrixCreateFromMat_omp(m->x, 1, FRAUD_N_FEATURES, NAN, &dm, 1) != 0)
        return xgb_fail(err, "cannot make the input matrix");
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    int rc = KASSA_OK;
    if (XGBoosterPredictFromDMatrix(m->booster, dm, CONTRIB_CONFIG, &shape, &dim, &res) != 0)
        rc = xgb_fail(err, "contributions failed");
    else if (dim != 2 || shape[0] != 1 || shape[1] != FRAUD_N_FEATURES + 1)
        rc = bad(err, "contributions of an unexpected shape");
    for (size_t i = 0; rc == KASSA_OK && i < FRAUD_N_FEATURES + 1; i++) {
        if (!isfinite(res[i]))
            rc = bad(err, "contribution %zu is not finite", i);
        contrib[i] = res[i];
    }
    XGDMatrixFree(dm);
    return rc;
}
