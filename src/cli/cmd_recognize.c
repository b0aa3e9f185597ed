/* kassa recognize IMAGE: product recognition of one camera frame (recog/recog.h).
 *
 * The model directory comes from --model DIR or $KASSA_MODEL_DIR. Without
 * one, or when the model cannot be loaded or run, the answer is the barcode
 * fallback (as on the terminal), with a warning on stderr; only an image
 * that cannot be read or decoded is a failure. */
#include "cli/cli.h"
#include "recog/recog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char RECOGNIZE_USAGE[] = "recognize IMAGE [--model DIR] [--threshold T]";

typedef struct recognize_args {
    const char *image, *model, *threshold;
} recognize_args;

static int parse(cli *c, recognize_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < c->argc; i++) {
        const char **slot = NULL;
        if (strcmp(c->argv[i], "--model") == 0)
            slot = &a->model;
        else if (strcmp(c->argv[i], "--threshold") == 0)
            slot = &a->threshold;
        if (slot) {
            if (*slot || i + 1 >= c->argc)
                return -1;
            *slot = c->argv[++i];
        } else if (!a->image && (c->argv[i][0] != '-' || strcmp(c->argv[i], "-") == 0)) {
            a->image = c->argv[i];
        } else {
            return -1;
        }
    }
    return a->image ? 0 : -1;
}

static json_t *candidate_json(const recog_candidate *c)
{
    return json_pack("{s:s,s:f}", "sku", c->sku, "confidence", (double)c->confidence);
}

static int print_result(cli *c, const recog_result *r, float threshold)
{
    if (c->json) {
        json_t *o;
        if (r->kind == RECOG_PRODUCT) {
            json_t *alts = json_array();
            for (int i = 1; i < r->n_top; i++)
                json_array_append_new(alts, candidate_json(&r->top[i]));
            o = json_pack("{s:s,s:f,s:o,s:f}", "sku", r->top[0].sku, "confidence",
                          (double)r->top[0].confidence, "alternatives", alts, "model_ms",
                          r->model_ms);
        } else {
            json_t *cands = json_array();
            for (int i = 0; i < r->n_top; i++)
                json_array_append_new(cands, candidate_json(&r->top[i]));
            o = json_pack(
                "{s:s,s:o,s:o,s:s,s:o,s:f,s:f}", "fallback", "barcode", "barcode",
                r->has_barcode ? json_string(r->barcode.data) : json_null(), "symbology",
                r->has_barcode ? json_string(r->barcode.symbology) : json_null(), "reason",
                r->reason == RECOG_REASON_MODEL_ERROR ? "model_error" : "low_confidence",
                "candidates", cands, "threshold", (double)threshold, "model_ms", r->model_ms);
            if (o && r->reason == RECOG_REASON_MODEL_ERROR)
                json_object_set_new(o, "model_error", json_string(r->model_error));
        }
        /* Five significant digits: 0.7, not 0.69999999999999996. */
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(5)) : NULL;
        json_decref(o);
        if (!s)
            return cli_fail("out of memory");
        puts(s);
        free(s);
        return CLI_OK;
    }
    if (r->kind == RECOG_PRODUCT) {
        printf("%s (confidence %.2f)", r->top[0].sku, (double)r->top[0].confidence);
        for (int i = 1; i < r->n_top; i++)
            printf("%s %s %.2f", i == 1 ? "; alternatives:" : ",", r->top[i].sku,
                   (double)r->top[i].confidence);
        putchar('\n');
        return CLI_OK;
    }
    if (r->has_barcode)
        printf("fallback to barcode: %s (%s)", r->barcode.data, r->barcode.symbology);
    else
        printf("fallback to barcode: no barcode in the image");
    if (r->reason == RECOG_REASON_MODEL_ERROR)
        printf("; model error: %s\n", r->model_error);
    else
        printf("; best guess %s %.2f is below %.2f\n", r->top[0].sku, (double)r->top[0].confidence,
               (double)threshold);
    return CLI_OK;
}

int cmd_recognize(cli *c)
{
    recognize_args a;
    if (parse(c, &a) != 0)
        return cli_usage(RECOGNIZE_USAGE);
    float threshold = 0.0f;
    if (a.threshold) {
        char *end;
        threshold = strtof(a.threshold, &end);
        if (*end || !(threshold > 0.0f) || threshold > 1.0f)
            return cli_fail("--threshold: a number in (0, 1] expected, not \"%s\"", a.threshold);
    }
    const char *dir = a.model ? a.model : getenv("KASSA_MODEL_DIR");
    if (dir && !dir[0])
        dir = NULL;
    uint8_t *data;
    size_t len;
    int rc = cli_read_file(a.image, &data, &len, RECOG_MAX_IMAGE_BYTES);
    if (rc != CLI_OK)
        return rc;
    kassa_err err;
    recog_image img;
    if (recog_image_decode(data, len, &img, &err) != KASSA_OK) {
        free(data);
        return cli_fail("%s: %s", a.image, err.msg);
    }
    free(data);
    recog_model *m = NULL;
    if (!dir)
        fprintf(stderr, "kassa: warning: no product model (pass --model DIR or set "
                        "KASSA_MODEL_DIR): falling back to the barcode\n");
    else if (recog_model_open(dir, &m, &err) != KASSA_OK)
        fprintf(stderr, "kassa: warning: product model: %s: falling back to the barcode\n",
                err.msg);
    if (threshold <= 0.0f)
        threshold = recog_model_threshold(m);
    recog_result r;
    rc = recog_classify(m, &img, threshold, &r, &err);
    recog_model_free(m);
    recog_image_free(&img);
    if (rc != KASSA_OK)
        return cli_fail_err(&err);
    return print_result(c, &r, threshold);
}
