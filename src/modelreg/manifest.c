/*
 * The manifest parser (docs/MODELS.md): strict, bounded, for untrusted
 * bytes. Every object's keys are checked against the fields it may have,
 * every value's JSON type and range; the base64 canary inputs are decoded
 * here so a canary is complete once the manifest is.
 */
#include "modelreg/modelreg.h"

#include <assert.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define JSON_ERR_MAX 160

static int bad(kassa_err *err, const char *fmt, const char *what)
{
    return kassa_fail(err, KASSA_ECORRUPT, fmt, what);
}

size_t modelreg_dtype_size(ai_dtype t)
{
    switch (t) {
    case AI_INT8:
    case AI_UINT8:
        return 1;
    case AI_INT16:
        return 2;
    case AI_FLOAT32:
    case AI_INT32:
        return 4;
    case AI_INT64:
        return 8;
    }
    return 0;
}

static const struct {
    const char *name;
    ai_dtype t;
} DTYPES[] = {
    {"float32", AI_FLOAT32}, {"int8", AI_INT8},   {"uint8", AI_UINT8},
    {"int16", AI_INT16},     {"int32", AI_INT32}, {"int64", AI_INT64},
};

static const char *dtype_name(ai_dtype t)
{
    for (size_t i = 0; i < KASSA_ARRAY_LEN(DTYPES); i++)
        if (DTYPES[i].t == t)
            return DTYPES[i].name;
    return "?";
}

static bool dtype_from_name(const char *s, ai_dtype *t)
{
    for (size_t i = 0; i < KASSA_ARRAY_LEN(DTYPES); i++) {
        if (strcmp(s, DTYPES[i].name) == 0) {
            *t = DTYPES[i].t;
            return true;
        }
    }
    return false;
}

void modelreg_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

bool modelreg_valid_file_name(const char *s)
{
    return s[0] != '.' && kassa_valid_id(s, MODELREG_FILE_NAME_MAX);
}

/* Refuses any key of obj not in allowed (NULL-terminated). */
static int only_keys(json_t *obj, const char *const *allowed, const char *what, kassa_err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        (void)v;
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            /* The key is untrusted text: name it only when it is tame. */
            if (kassa_valid_id(key, KASSA_ID_MAX))
                return kassa_fail(err, KASSA_ECORRUPT, "%s: unknown field \"%s\"", what, key);
            return bad(err, "%s: unknown field", what);
        }
    }
    return KASSA_OK;
}

static int get(json_t *obj, const char *key, json_type type, const char *what, json_t **out,
               kassa_err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: missing field \"%s\"", what, key);
    bool ok = json_typeof(v) == type ||
              (type == JSON_REAL && json_typeof(v) == JSON_INTEGER); /* a number */
    if (!ok)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: field \"%s\" has the wrong type", what, key);
    *out = v;
    return KASSA_OK;
}

static int get_int(json_t *obj, const char *key, int64_t lo, int64_t hi, const char *what,
                   int64_t *out, kassa_err *err)
{
    json_t *v = NULL;
    int rc = get(obj, key, JSON_INTEGER, what, &v, err);
    if (rc != KASSA_OK)
        return rc;
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: \"%s\" out of range %lld..%lld", what, key,
                          (long long)lo, (long long)hi);
    *out = (int64_t)x;
    return KASSA_OK;
}

static double number_value(json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static int get_number(json_t *obj, const char *key, const char *what, double *out, kassa_err *err)
{
    json_t *v = NULL;
    int rc = get(obj, key, JSON_REAL, what, &v, err);
    if (rc != KASSA_OK)
        return rc;
    *out = number_value(v);
    if (!isfinite(*out))
        return kassa_fail(err, KASSA_ECORRUPT, "%s: \"%s\" is not finite", what, key);
    return KASSA_OK;
}

/* A string field copied into out (out_size includes the NUL). */
static int get_str(json_t *obj, const char *key, const char *what, char *out, size_t out_size,
                   kassa_err *err)
{
    json_t *v = NULL;
    int rc = get(obj, key, JSON_STRING, what, &v, err);
    if (rc != KASSA_OK)
        return rc;
    size_t n = json_string_length(v);
    if (n >= out_size || strlen(json_string_value(v)) != n)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: \"%s\" too long (at most %zu bytes)", what, key,
                          out_size - 1);
    memcpy(out, json_string_value(v), n + 1);
    return KASSA_OK;
}

static int get_file_name(json_t *obj, const char *key, const char *what, char *out, kassa_err *err)
{
    int rc = get_str(obj, key, what, out, MODELREG_FILE_NAME_MAX + 1, err);
    if (rc != KASSA_OK)
        return rc;
    if (!modelreg_valid_file_name(out) || strcmp(out, "manifest.json") == 0 ||
        strcmp(out, "manifest.json.sig") == 0)
        return kassa_fail(err, KASSA_ECORRUPT,
                          "%s: \"%s\" is not a plain file name (1..%d of A-Z a-z 0-9 . _ -, "
                          "no leading dot)",
                          what, key, MODELREG_FILE_NAME_MAX);
    return KASSA_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is refused: one spelling per hash */
}

static int get_sha256(json_t *obj, const char *key, const char *what, uint8_t out[32],
                      kassa_err *err)
{
    char hex[2 * MODELREG_SHA256_BYTES + 1];
    int rc = get_str(obj, key, what, hex, sizeof hex, err);
    if (rc == KASSA_OK && strlen(hex) != 2 * MODELREG_SHA256_BYTES)
        rc = kassa_fail(err, KASSA_ECORRUPT, "%s: \"%s\" must be 64 lowercase hex digits", what,
                        key);
    for (size_t i = 0; rc == KASSA_OK && i < MODELREG_SHA256_BYTES; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            rc = kassa_fail(err, KASSA_ECORRUPT, "%s: \"%s\" must be 64 lowercase hex digits", what,
                            key);
        else
            out[i] = (uint8_t)(hi << 4 | lo);
    }
    return rc;
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* YYYY-MM-DDTHH:MM:SSZ with plausible field ranges. */
static bool valid_created_at(const char *s)
{
    if (strlen(s) != MODELREG_CREATED_AT_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
        s[13] != ':' || s[16] != ':' || s[19] != 'Z')
        return false;
    if (!digits(s, 4) || !digits(s + 5, 2) || !digits(s + 8, 2) || !digits(s + 11, 2) ||
        !digits(s + 14, 2) || !digits(s + 17, 2))
        return false;
    int mon = (s[5] - '0') * 10 + (s[6] - '0'), day = (s[8] - '0') * 10 + (s[9] - '0');
    int hh = (s[11] - '0') * 10 + (s[12] - '0'), mm = (s[14] - '0') * 10 + (s[15] - '0');
    int ss = (s[17] - '0') * 10 + (s[18] - '0');
    return mon >= 1 && mon <= 12 && day >= 1 && day <= 31 && hh <= 23 && mm <= 59 && ss <= 60;
}

static int parse_tensor(json_t *obj, bool is_input, modelreg_tensor_spec *t, json_t **preprocess,
                        kassa_err *err)
{
    const char *what = is_input ? "input" : "output";
    static const char *const in_keys[] = {"dtype",      "shape",      "scale",
                                          "zero_point", "preprocess", NULL};
    static const char *const out_keys[] = {"dtype", "shape", "scale", "zero_point", NULL};
    if (!json_is_object(obj))
        return bad(err, "\"%s\" must be an object", what);
    int rc = only_keys(obj, is_input ? in_keys : out_keys, what, err);
    char dtype[16];
    if (rc == KASSA_OK)
        rc = get_str(obj, "dtype", what, dtype, sizeof dtype, err);
    if (rc == KASSA_OK && !dtype_from_name(dtype, &t->dtype))
        rc = bad(err, "%s: unknown dtype (float32, int8, uint8, int16, int32, int64)", what);
    json_t *shape = NULL;
    if (rc == KASSA_OK)
        rc = get(obj, "shape", JSON_ARRAY, what, &shape, err);
    if (rc != KASSA_OK)
        return rc;
    size_t rank = json_array_size(shape);
    if (rank < 1 || rank > AI_MAX_RANK)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: shape must have 1..%d dims", what, AI_MAX_RANK);
    t->rank = (int)rank;
    size_t count = 1;
    for (size_t i = 0; i < rank; i++) {
        json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 1 ||
            json_integer_value(d) > MODELREG_DIM_MAX)
            return kassa_fail(err, KASSA_ECORRUPT, "%s: shape dims must be integers 1..%d", what,
                              MODELREG_DIM_MAX);
        t->dims[i] = (int32_t)json_integer_value(d);
        /* count ≤ MODELREG_TENSOR_MAX_BYTES before each multiply: no overflow */
        count *= (size_t)t->dims[i];
        if (count > MODELREG_TENSOR_MAX_BYTES)
            return bad(err, "%s: tensor larger than 64 MiB", what);
    }
    t->count = count;
    t->size_bytes = count * modelreg_dtype_size(t->dtype);
    if (t->size_bytes > MODELREG_TENSOR_MAX_BYTES)
        return bad(err, "%s: tensor larger than 64 MiB", what);
    rc = get_number(obj, "scale", what, &t->scale, err);
    int64_t zp = 0;
    if (rc == KASSA_OK)
        rc = get_int(obj, "zero_point", INT32_MIN, INT32_MAX, what, &zp, err);
    if (rc != KASSA_OK)
        return rc;
    t->zero_point = (int32_t)zp;
    if (t->scale < 0)
        return bad(err, "%s: scale must be >= 0", what);
    if (t->dtype == AI_FLOAT32 && (t->scale != 0 || t->zero_point != 0))
        return bad(err, "%s: a float32 tensor has scale 0 and zero_point 0", what);
    if (is_input) {
        json_t *pp;
        rc = get(obj, "preprocess", JSON_OBJECT, what, &pp, err);
        if (rc != KASSA_OK)
            return rc;
        *preprocess = json_incref(pp);
    }
    return KASSA_OK;
}

static bool valid_label(const char *s, size_t n)
{
    if (n == 0 || n > MODELREG_LABEL_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static int labels_alloc(modelreg_manifest *m, size_t n, kassa_err *err)
{
    assert(!m->labels && n <= MODELREG_MAX_LABELS);
    if (n == 0)
        return KASSA_OK;
    m->labels = calloc(n, sizeof *m->labels);
    if (!m->labels)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory for %zu labels", n);
    return KASSA_OK;
}

static int parse_labels(json_t *v, modelreg_manifest *m, kassa_err *err)
{
    if (json_is_object(v)) {
        static const char *const keys[] = {"file", "sha256", NULL};
        int rc = only_keys(v, keys, "labels", err);
        if (rc == KASSA_OK)
            rc = get_file_name(v, "file", "labels", m->labels_file, err);
        if (rc == KASSA_OK)
            rc = get_sha256(v, "sha256", "labels", m->labels_sha256, err);
        m->labels_in_file = rc == KASSA_OK;
        return rc;
    }
    if (!json_is_array(v))
        return bad(err, "\"%s\" must be an array of strings or {\"file\",\"sha256\"}", "labels");
    size_t n = json_array_size(v);
    if (n > MODELREG_MAX_LABELS)
        return kassa_fail(err, KASSA_ECORRUPT, "labels: more than %d", MODELREG_MAX_LABELS);
    int rc = labels_alloc(m, n, err);
    for (size_t i = 0; rc == KASSA_OK && i < n; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s) || !valid_label(json_string_value(s), json_string_length(s)))
            return kassa_fail(err, KASSA_ECORRUPT,
                              "labels[%zu]: must be a string of 1..%d bytes without control "
                              "characters",
                              i, MODELREG_LABEL_MAX);
        memcpy(m->labels[i], json_string_value(s), json_string_length(s) + 1);
    }
    m->label_count = n;
    return rc;
}

int modelreg_labels_parse(const uint8_t *bytes, size_t len, modelreg_manifest *m, kassa_err *err)
{
    assert(m && m->labels_in_file);
    free(m->labels);
    m->labels = NULL;
    m->label_count = 0;
    if (len > MODELREG_LABELS_FILE_MAX_BYTES)
        return kassa_fail(err, KASSA_ECORRUPT, "labels file larger than %u bytes",
                          MODELREG_LABELS_FILE_MAX_BYTES);
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (bytes[i] == '\n' || i + 1 == len)
            n++;
    if (n == 0 || n > MODELREG_MAX_LABELS)
        return kassa_fail(err, KASSA_ECORRUPT, "labels file: 1..%d labels, one per line",
                          MODELREG_MAX_LABELS);
    int rc = labels_alloc(m, n, err);
    size_t start = 0, k = 0;
    for (size_t i = 0; rc == KASSA_OK && i <= len; i++) {
        if (i < len && bytes[i] != '\n')
            continue;
        if (i == len && start == len)
            break; /* the final newline ended the last label */
        size_t llen = i - start;
        if (!valid_label((const char *)bytes + start, llen) || memchr(bytes + start, '\0', llen)) {
            rc = kassa_fail(err, KASSA_ECORRUPT,
                            "labels file line %zu: 1..%d bytes without control characters", k + 1,
                            MODELREG_LABEL_MAX);
            break;
        }
        assert(k < n);
        memcpy(m->labels[k], bytes + start, llen);
        m->labels[k][llen] = '\0';
        k++;
        start = i + 1;
    }
    if (rc != KASSA_OK) {
        free(m->labels);
        m->labels = NULL;
        return rc;
    }
    m->label_count = k;
    return KASSA_OK;
}

static int parse_canary_input(json_t *in, const char *what, size_t size_bytes, modelreg_canary *c,
                              kassa_err *err)
{
    if (!json_is_object(in))
        return bad(err, "%s: \"input\" must be an object", what);
    if (json_object_get(in, "base64")) {
        static const char *const keys[] = {"base64", NULL};
        int rc = only_keys(in, keys, what, err);
        json_t *s;
        if (rc == KASSA_OK)
            rc = get(in, "base64", JSON_STRING, what, &s, err);
        if (rc != KASSA_OK)
            return rc;
        size_t b64_len = json_string_length(s);
        /* exact length, so the decoder cannot overrun or accept trailing data */
        if (b64_len != sodium_base64_encoded_len(size_bytes, sodium_base64_VARIANT_ORIGINAL) - 1)
            return kassa_fail(err, KASSA_ECORRUPT,
                              "%s: base64 input must decode to the input size, %zu bytes", what,
                              size_bytes);
        c->input = malloc(size_bytes);
        if (!c->input)
            return kassa_fail(err, KASSA_ENOMEM, "%s: out of memory", what);
        size_t got = 0;
        const char *end = NULL;
        if (sodium_base642bin(c->input, size_bytes, json_string_value(s), b64_len, NULL, &got, &end,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            got != size_bytes || end != json_string_value(s) + b64_len)
            return kassa_fail(err, KASSA_ECORRUPT,
                              "%s: base64 input must decode to the input size, %zu bytes", what,
                              size_bytes);
        return KASSA_OK;
    }
    static const char *const keys[] = {"file", "sha256", NULL};
    int rc = only_keys(in, keys, what, err);
    if (rc == KASSA_OK)
        rc = get_file_name(in, "file", what, c->input_file, err);
    if (rc == KASSA_OK)
        rc = get_sha256(in, "sha256", what, c->input_sha256, err);
    c->input_in_file = rc == KASSA_OK;
    return rc;
}

static int parse_expected(json_t *exp, const char *what, const modelreg_tensor_spec *out,
                          modelreg_canary *c, kassa_err *err)
{
    if (!json_is_array(exp) || json_array_size(exp) != out->count)
        return kassa_fail(err, KASSA_ECORRUPT,
                          "%s: \"expected\" must be an array of %zu values (the output's "
                          "elements)",
                          what, out->count);
    bool is_float = out->dtype == AI_FLOAT32;
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    if (out->dtype == AI_INT8)
        lo = INT8_MIN, hi = INT8_MAX;
    else if (out->dtype == AI_UINT8)
        lo = 0, hi = UINT8_MAX;
    else if (out->dtype == AI_INT16)
        lo = INT16_MIN, hi = INT16_MAX;
    else if (out->dtype == AI_INT32)
        lo = INT32_MIN, hi = INT32_MAX;
    if (is_float)
        c->expected_float = calloc(out->count, sizeof *c->expected_float);
    else
        c->expected_int = calloc(out->count, sizeof *c->expected_int);
    if (!c->expected_float && !c->expected_int)
        return kassa_fail(err, KASSA_ENOMEM, "%s: out of memory", what);
    c->expected_count = out->count;
    for (size_t i = 0; i < out->count; i++) {
        json_t *v = json_array_get(exp, i);
        if (is_float) {
            if (!json_is_number(v) || !isfinite(number_value(v)))
                return kassa_fail(err, KASSA_ECORRUPT, "%s: expected[%zu] must be a number", what,
                                  i);
            c->expected_float[i] = number_value(v);
        } else {
            if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
                return kassa_fail(err, KASSA_ECORRUPT,
                                  "%s: expected[%zu] must be an integer in the range of %s", what,
                                  i, dtype_name(out->dtype));
            c->expected_int[i] = (int64_t)json_integer_value(v);
        }
    }
    return KASSA_OK;
}

static int parse_canary(json_t *obj, size_t idx, modelreg_manifest *m, kassa_err *err)
{
    char what[48];
    snprintf(what, sizeof what, "canaries[%zu]", idx);
    if (!json_is_object(obj))
        return bad(err, "%s must be an object", what);
    bool is_float = m->output.dtype == AI_FLOAT32;
    static const char *const int_keys[] = {"name", "input", "expected", "tolerance_lsb", NULL};
    static const char *const float_keys[] = {"name", "input", "expected", "tolerance_abs", NULL};
    modelreg_canary *c = &m->canaries[idx];
    int rc = only_keys(obj, is_float ? float_keys : int_keys, what, err);
    if (rc == KASSA_OK)
        rc = get_file_name(obj, "name", what, c->name, err);
    for (size_t j = 0; rc == KASSA_OK && j < idx; j++)
        if (strcmp(m->canaries[j].name, c->name) == 0)
            rc = kassa_fail(err, KASSA_ECORRUPT, "%s: name \"%s\" used twice", what, c->name);
    json_t *v = NULL;
    if (rc == KASSA_OK)
        rc = get(obj, "input", JSON_OBJECT, what, &v, err);
    if (rc == KASSA_OK)
        rc = parse_canary_input(v, what, m->input.size_bytes, c, err);
    if (rc == KASSA_OK)
        rc = get(obj, "expected", JSON_ARRAY, what, &v, err);
    if (rc == KASSA_OK)
        rc = parse_expected(v, what, &m->output, c, err);
    if (rc != KASSA_OK)
        return rc;
    if (is_float) {
        rc = get_number(obj, "tolerance_abs", what, &c->tolerance_abs, err);
        if (rc == KASSA_OK && c->tolerance_abs < 0)
            rc = bad(err, "%s: tolerance_abs must be >= 0", what);
        return rc;
    }
    int64_t tol = 0;
    rc = get_int(obj, "tolerance_lsb", 0, MODELREG_TOLERANCE_LSB_MAX, what, &tol, err);
    c->tolerance_lsb = (int32_t)tol;
    return rc;
}

/* Every file a manifest names is distinct: they share one directory. */
static int check_distinct_files(const modelreg_manifest *m, kassa_err *err)
{
    const char *names[MODELREG_MAX_CANARIES + 2];
    size_t n = 0;
    names[n++] = m->model_file;
    if (m->labels_in_file)
        names[n++] = m->labels_file;
    for (size_t i = 0; i < m->canary_count; i++)
        if (m->canaries[i].input_in_file)
            names[n++] = m->canaries[i].input_file;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(names[i], names[j]) == 0)
                return kassa_fail(err, KASSA_ECORRUPT, "file \"%s\" named twice in the manifest",
                                  names[i]);
    return KASSA_OK;
}

static int parse_root(json_t *root, modelreg_manifest *m, kassa_err *err)
{
    static const char *const keys[] = {
        "format", "name",   "version",  "created_at",        "model", "input",
        "output", "labels", "canaries", "latency_budget_ms", NULL};
    const char *what = "manifest";
    if (!json_is_object(root))
        return bad(err, "%s: not a JSON object", what);
    /* the format first: a newer manifest may have fields we do not know */
    json_t *v = NULL;
    int rc = get(root, "format", JSON_INTEGER, what, &v, err);
    if (rc != KASSA_OK)
        return rc;
    json_int_t format = json_integer_value(v);
    if (format > MODELREG_FORMAT)
        return kassa_fail(err, KASSA_EVERSION, "manifest format %lld is from a newer kassa",
                          (long long)format);
    if (format != MODELREG_FORMAT)
        return kassa_fail(err, KASSA_ECORRUPT, "manifest: format must be %d", MODELREG_FORMAT);
    m->format = (int)format;
    rc = only_keys(root, keys, what, err);
    if (rc == KASSA_OK)
        rc = get_str(root, "name", what, m->name, sizeof m->name, err);
    /* the name is a directory name: no "." or ".." */
    if (rc == KASSA_OK && !(kassa_valid_id(m->name, KASSA_ID_MAX) && m->name[0] != '.'))
        rc = bad(err, "%s: name must be 1..32 of A-Z a-z 0-9 . _ -, not starting with '.'", what);
    if (rc == KASSA_OK)
        rc = get_int(root, "version", 1, MODELREG_VERSION_MAX, what, &m->version, err);
    if (rc == KASSA_OK)
        rc = get_str(root, "created_at", what, m->created_at, sizeof m->created_at, err);
    if (rc == KASSA_OK && !valid_created_at(m->created_at))
        rc = bad(err, "%s: created_at must be YYYY-MM-DDTHH:MM:SSZ", what);
    if (rc == KASSA_OK)
        rc = get(root, "model", JSON_OBJECT, what, &v, err);
    if (rc == KASSA_OK) {
        static const char *const model_keys[] = {"file", "size_bytes", "sha256", NULL};
        int64_t size = 0;
        rc = only_keys(v, model_keys, "model", err);
        if (rc == KASSA_OK)
            rc = get_file_name(v, "file", "model", m->model_file, err);
        if (rc == KASSA_OK)
            rc = get_int(v, "size_bytes", 1, MODELREG_MODEL_MAX_BYTES, "model", &size, err);
        m->model_size_bytes = (uint64_t)size;
        if (rc == KASSA_OK)
            rc = get_sha256(v, "sha256", "model", m->model_sha256, err);
    }
    if (rc == KASSA_OK)
        rc = get(root, "input", JSON_OBJECT, what, &v, err);
    if (rc == KASSA_OK)
        rc = parse_tensor(v, true, &m->input, &m->preprocess, err);
    if (rc == KASSA_OK)
        rc = get(root, "output", JSON_OBJECT, what, &v, err);
    if (rc == KASSA_OK)
        rc = parse_tensor(v, false, &m->output, NULL, err);
    if (rc == KASSA_OK) {
        v = json_object_get(root, "labels");
        rc = v ? parse_labels(v, m, err) : bad(err, "%s: missing field \"labels\"", what);
    }
    if (rc == KASSA_OK && m->label_count && m->label_count != m->output.count)
        rc = kassa_fail(err, KASSA_ECORRUPT, "labels: %zu labels for %zu output elements",
                        m->label_count, m->output.count);
    if (rc == KASSA_OK)
        rc = get(root, "canaries", JSON_ARRAY, what, &v, err);
    if (rc == KASSA_OK && (json_array_size(v) < 1 || json_array_size(v) > MODELREG_MAX_CANARIES))
        rc = kassa_fail(err, KASSA_ECORRUPT, "canaries: 1..%d needed", MODELREG_MAX_CANARIES);
    for (size_t i = 0; rc == KASSA_OK && i < json_array_size(v); i++) {
        rc = parse_canary(json_array_get(v, i), i, m, err);
        m->canary_count = i + 1; /* freed by modelreg_manifest_free either way */
    }
    if (rc == KASSA_OK)
        rc = get_number(root, "latency_budget_ms", what, &m->latency_budget_ms, err);
    if (rc == KASSA_OK &&
        !(m->latency_budget_ms > 0 && m->latency_budget_ms <= MODELREG_LATENCY_BUDGET_MAX_MS))
        rc = bad(err, "%s: latency_budget_ms must be > 0 and <= 60000", what);
    if (rc == KASSA_OK)
        rc = check_distinct_files(m, err);
    return rc;
}

void modelreg_manifest_free(modelreg_manifest *m)
{
    if (!m)
        return;
    json_decref(m->preprocess);
    free(m->labels);
    for (size_t i = 0; i < MODELREG_MAX_CANARIES; i++) {
        free(m->canaries[i].input);
        free(m->canaries[i].expected_int);
        free(m->canaries[i].expected_float);
    }
    memset(m, 0, sizeof *m);
}

int modelreg_manifest_parse(const uint8_t *bytes, size_t len, modelreg_manifest *m, kassa_err *err)
{
    memset(m, 0, sizeof *m);
    if (len > MODELREG_MANIFEST_MAX_BYTES)
        return kassa_fail(err, KASSA_ECORRUPT, "manifest larger than %u bytes",
                          MODELREG_MANIFEST_MAX_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)bytes, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson's message may quote the input; keep only printable ASCII */
        char msg[JSON_ERR_MAX];
        size_t k = 0;
        for (size_t i = 0; jerr.text[i] && k + 1 < sizeof msg; i++)
            msg[k++] = (jerr.text[i] >= 0x20 && jerr.text[i] < 0x7f) ? jerr.text[i] : '?';
        msg[k] = '\0';
        return kassa_fail(err, KASSA_ECORRUPT, "manifest: not valid JSON (line %d: %s)", jerr.line,
                          msg);
    }
    int rc = parse_root(root, m, err);
    json_decref(root);
    if (rc != KASSA_OK)
        modelreg_manifest_free(m);
    return rc;
}
