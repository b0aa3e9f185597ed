/* recog: the product model (directory, labels, preprocessing spec) and the
 * classification with its barcode fallback. */
#include "recog/recog.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#define RECOG_MODEL_FILE "product.tflite"
#define RECOG_LABELS_FILE "labels.txt"
#define RECOG_SPEC_FILE "preprocess.json"
#define RECOG_LABELS_MAX_BYTES (256u << 10)
#define RECOG_SPEC_MAX_BYTES (64u << 10)
#define RECOG_MODEL_MAX_BYTES (8u << 20)
#define RECOG_PATH_MAX 4096

struct recog_model {
    ai_model *ai;
    uint32_t input_side;
    float input_scale;
    int32_t input_zero_point;
    float output_scale;
    int32_t output_zero_point;
    float threshold;
    size_t n_labels;
    char (*labels)[KASSA_SKU_MAX + 1];
    uint8_t *pixels; /* the resized frame, input_side^2 * 3 */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Reads a whole small file (at most max_bytes) NUL-terminated. */
static int read_small(const char *path, size_t max_bytes, char **data, size_t *len, kassa_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return kassa_fail(err, errno == ENOENT ? KASSA_ENOTFOUND : KASSA_EIO, "%s: %s", path,
                          strerror(errno));
    char *buf = malloc(max_bytes + 2);
    if (!buf) {
        fclose(f);
        return kassa_fail(err, KASSA_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, max_bytes + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return kassa_fail(err, KASSA_EIO, "%s: read error", path);
    }
    if (n > max_bytes) {
        free(buf);
        return kassa_fail(err, KASSA_EINVAL, "%s: larger than %zu bytes", path, max_bytes);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return KASSA_OK;
}

/* One SKU per line ('\n'; the last newline optional), at most
 * RECOG_MAX_LABELS of them. */
static int parse_labels(recog_model *m, const char *text, size_t len, const char *path,
                        kassa_err *err)
{
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n' || i + 1 == len)
            lines++;
    if (lines == 0 || lines > RECOG_MAX_LABELS)
        return kassa_fail(err, KASSA_EINVAL, "%s: %zu labels (1..%u expected)", path, lines,
                          RECOG_MAX_LABELS);
    m->labels = calloc(lines, sizeof *m->labels);
    if (!m->labels)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    size_t start = 0, k = 0;
    for (size_t i = 0; i <= len && k < lines; i++) {
        if (i < len && text[i] != '\n')
            continue;
        size_t n = i - start;
        if (n == 0 && i == len)
            break;
        if (n > 0 && n <= KASSA_SKU_MAX) {
            memcpy(m->labels[k], text + start, n);
            m->labels[k][n] = '\0';
        }
        if (n == 0 || n > KASSA_SKU_MAX || !kassa_valid_id(m->labels[k], KASSA_SKU_MAX))
            return kassa_fail(err, KASSA_EINVAL, "%s: line %zu is not a SKU", path, k + 1);
        k++;
        start = i + 1;
    }
    m->n_labels = k;
    return KASSA_OK;
}

static bool json_str_prefix(json_t *obj, const char *key, const char *prefix)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* preprocess.json must ask for what this module does (tools/product/preprocess.py). */
static int parse_spec(recog_model *m, const char *text, size_t len, const char *path,
                      kassa_err *err)
{
    if (len > RECOG_SPEC_MAX_BYTES)
        return kassa_fail(err, KASSA_EINVAL, "%s: over %u bytes", path, RECOG_SPEC_MAX_BYTES);
    json_error_t jerr;
    json_t *spec = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc;
    if (!json_is_object(spec)) {
        json_decref(spec);
        return kassa_fail(err, KASSA_EINVAL, "%s: not a JSON object (%s)", path, jerr.text);
    }
    rc = KASSA_OK;
    json_t *input = json_object_get(spec, "input");
    json_t *shape = json_object_get(input, "shape");
    json_t *range = json_object_get(spec, "value_range");
    json_t *thr = json_object_get(spec, "threshold");
    if (json_integer_value(json_object_get(spec, "format")) != 1)
        rc = kassa_fail(err, KASSA_EVERSION, "%s: unknown format", path);
    else if (!json_str_prefix(spec, "crop", "center-square") ||
             !json_str_prefix(spec, "resize", "area-average") ||
             !json_str_prefix(input, "channels", "RGB") ||
             !json_str_prefix(input, "layout", "NHWC"))
        rc = kassa_fail(err, KASSA_EINVAL,
                        "%s: asks for a preprocessing this terminal does not implement", path);
    else if (!json_is_array(shape) || json_array_size(shape) != 4 ||
             json_integer_value(json_array_get(shape, 1)) != m->input_side ||
             json_integer_value(json_array_get(shape, 2)) != m->input_side ||
             json_integer_value(json_array_get(shape, 3)) != 3)
        rc = kassa_fail(err, KASSA_EINVAL, "%s: input shape differs from the model's", path);
    else if (!json_is_array(range) || json_array_size(range) != 2 ||
             json_number_value(json_array_get(range, 0)) != 0.0 ||
             json_number_value(json_array_get(range, 1)) != 1.0)
        rc = kassa_fail(err, KASSA_EINVAL, "%s: value_range must be [0, 1]", path);
    else if (thr && (!json_is_number(thr) || json_number_value(thr) <= 0.0 ||
                     json_number_value(thr) > 1.0))
        rc = kassa_fail(err, KASSA_EINVAL, "%s: threshold must be in (0, 1]", path);
    if (rc == KASSA_OK && thr)
        m->threshold = (float)json_number_value(thr);
    json_decref(spec);
    return rc;
}

static int check_tensors(recog_model *m, kassa_err *err)
{
    ai_tensor_info in, out;
    if (ai_model_input_count(m->ai) != 1 || ai_model_output_count(m->ai) != 1)
        return kassa_fail(err, KASSA_EINVAL, "product model: one input and one output expected");
    int rc = ai_model_input_info(m->ai, 0, &in, err);
    if (rc == KASSA_OK)
        rc = ai_model_output_info(m->ai, 0, &out, err);
    if (rc != KASSA_OK)
        return rc;
    if (in.dtype != AI_INT8 || in.rank != 4 || in.dims[0] != 1 || in.dims[3] != 3 ||
        in.dims[1] != in.dims[2] || in.dims[1] < 1 || (uint32_t)in.dims[1] > RECOG_MAX_INPUT_SIDE ||
        !(in.scale > 0))
        return kassa_fail(err, KASSA_EINVAL,
                          "product model: input must be int8 [1,S,S,3] quantized, not %s rank %d",
                          ai_dtype_name(in.dtype), in.rank);
    size_t n_out = 1;
    for (int i = 0; i < out.rank; i++)
        n_out *= (size_t)(out.dims[i] > 0 ? out.dims[i] : 0);
    if (out.dtype != AI_INT8 || !(out.scale > 0) || n_out != m->n_labels)
        return kassa_fail(err, KASSA_EINVAL,
                          "product model: output must be int8 with one value per label (%zu "
                          "labels, %zu values)",
                          m->n_labels, n_out);
    m->input_side = (uint32_t)in.dims[1];
    m->input_scale = in.scale;
    m->input_zero_point = in.zero_point;
    m->output_scale = out.scale;
    m->output_zero_point = out.zero_point;
    return KASSA_OK;
}

int recog_model_open_parts(const uint8_t *tflite, size_t tflite_len, const char *labels,
                           size_t labels_len, const char *spec, size_t spec_len, recog_model **out,
                           kassa_err *err)
{
    assert(out);
    *out = NULL;
    recog_model *m = calloc(1, sizeof *m);
    if (!m)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    m->threshold = RECOG_DEFAULT_THRESHOLD;
    int rc = labels_len > RECOG_LABELS_MAX_BYTES
                 ? kassa_fail(err, KASSA_EINVAL, "labels: over %u bytes", RECOG_LABELS_MAX_BYTES)
                 : parse_labels(m, labels, labels_len, RECOG_LABELS_FILE, err);
    if (rc == KASSA_OK)
        rc = ai_model_load(tflite, tflite_len, &m->ai, err);
    if (rc == KASSA_OK)
        rc = check_tensors(m, err);
    if (rc == KASSA_OK)
        rc = parse_spec(m, spec, spec_len, RECOG_SPEC_FILE, err);
    if (rc == KASSA_OK) {
        m->pixels = malloc((size_t)m->input_side * m->input_side * 3);
        if (!m->pixels)
            rc = kassa_fail(err, KASSA_ENOMEM, "out of memory");
    }
    if (rc != KASSA_OK) {
        recog_model_free(m);
        return rc;
    }
    *out = m;
    return KASSA_OK;
}

int recog_model_open(const char *dir, recog_model **out, kassa_err *err)
{
    assert(dir && out);
    *out = NULL;
    static const char *const FILES[3] = {RECOG_LABELS_FILE, RECOG_MODEL_FILE, RECOG_SPEC_FILE};
    static const size_t MAX_BYTES[3] = {RECOG_LABELS_MAX_BYTES, RECOG_MODEL_MAX_BYTES,
                                        RECOG_SPEC_MAX_BYTES};
    char *text[3] = {NULL, NULL, NULL};
    size_t len[3] = {0, 0, 0};
    int rc = KASSA_OK;
    for (int i = 0; rc == KASSA_OK && i < 3; i++) {
        char path[RECOG_PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, FILES[i]) >= sizeof path)
            rc = kassa_fail(err, KASSA_EINVAL, "model directory path too long");
        else
            rc = read_small(path, MAX_BYTES[i], &text[i], &len[i], err);
    }
    if (rc == KASSA_OK)
        rc = recog_model_open_parts((const uint8_t *)text[1], len[1], text[0], len[0], text[2],
                                    len[2], out, err);
    for (int i = 0; i < 3; i++)
        free(text[i]);
    return rc;
}

void recog_model_free(recog_model *m)
{
    if (!m)
        return;
    ai_model_free(m->ai);
    free(m->labels);
    free(m->pixels);
    free(m);
}

size_t recog_model_label_count(const recog_model *m)
{
    return m ? m->n_labels : 0;
}

const char *recog_model_label(const recog_model *m, size_t i)
{
    return m && i < m->n_labels ? m->labels[i] : NULL;
}

float recog_model_threshold(const recog_model *m)
{
    return m ? m->threshold : RECOG_DEFAULT_THRESHOLD;
}

ai_model *recog_model_ai(recog_model *m)
{
    return m ? m->ai : NULL;
}

/* Preprocesses into the model's input, runs it and fills out->top. */
static int run_model(recog_model *m, const recog_image *img, recog_result *out, kassa_err *err)
{
    size_t n_px = (size_t)m->input_side * m->input_side * 3;
    int rc = recog_resize_square(img, m->input_side, m->pixels, err);
    int8_t *in = ai_model_input(m->ai, 0);
    if (rc == KASSA_OK && !in)
        rc = kassa_fail(err, KASSA_EINVAL, "model has no input buffer");
    if (rc == KASSA_OK) {
        recog_quantize(m->pixels, n_px, m->input_scale, m->input_zero_point, in);
        rc = ai_model_invoke(m->ai, err);
    }
    if (rc != KASSA_OK)
        return rc;
    const int8_t *q = ai_model_output(m->ai, 0);
    if (!q)
        return kassa_fail(err, KASSA_EINVAL, "model has no output buffer");
    /* Top K by value, ties to the lower index (as numpy's stable argsort). */
    size_t best[RECOG_TOP_K];
    int k = 0;
    for (; k < RECOG_TOP_K && (size_t)k < m->n_labels; k++) {
        size_t bi = SIZE_MAX;
        for (size_t i = 0; i < m->n_labels; i++) {
            bool used = false;
            for (int j = 0; j < k; j++)
                used = used || best[j] == i;
            if (!used && (bi == SIZE_MAX || q[i] > q[bi]))
                bi = i;
        }
        best[k] = bi;
        recog_candidate *c = &out->top[k];
        snprintf(c->sku, sizeof c->sku, "%s", m->labels[bi]);
        c->confidence = ((float)q[bi] - (float)m->output_zero_point) * m->output_scale;
        if (!(c->confidence >= 0.0f)) /* NaN-proof and clamped to [0, 1] */
            c->confidence = 0.0f;
        if (c->confidence > 1.0f)
            c->confidence = 1.0f;
    }
    out->n_top = k;
    return KASSA_OK;
}

int recog_classify(recog_model *m, const recog_image *img, float threshold, recog_result *out,
                   kassa_err *err)
{
    assert(out);
    memset(out, 0, sizeof *out);
    if (!recog_image_ok(img))
        return kassa_fail(err, KASSA_EINVAL, "no valid image to recognise");
    if (!(threshold > 0.0f) || threshold > 1.0f)
        threshold = recog_model_threshold(m);
    double t0 = now_ms();
    kassa_err merr = {0};
    int rc = m ? run_model(m, img, out, &merr)
               : kassa_fail(&merr, KASSA_ENOTFOUND, "no product model installed");
    out->model_ms = now_ms() - t0;
    if (rc == KASSA_ENOMEM)
        return kassa_fail(err, rc, "%s", merr.msg);
    if (rc != KASSA_OK) {
        out->kind = RECOG_FALLBACK;
        out->reason = RECOG_REASON_MODEL_ERROR;
        out->n_top = 0;
        snprintf(out->model_error, sizeof out->model_error, "%s",
                 merr.msg[0] ? merr.msg : kassa_strerror(rc));
    } else if (out->n_top == 0 || out->top[0].confidence < threshold) {
        out->kind = RECOG_FALLBACK;
        out->reason = RECOG_REASON_LOW_CONFIDENCE;
    } else {
        out->kind = RECOG_PRODUCT;
        out->reason = RECOG_REASON_NONE;
        return KASSA_OK;
    }
    double t1 = now_ms();
    rc = recog_find_barcode(img, &out->barcode, err);
    out->barcode_ms = now_ms() - t1;
    if (rc < 0)
        return rc;
    out->has_barcode = rc == 1;
    return KASSA_OK;
}
