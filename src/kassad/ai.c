/* ai.c: product recognition in kassad (ai.h). */
#include "kassad/ai.h"

#include "camera/camera.h"
#include "jlog/jlog.h"
#include "kassad/clock.h"
#include "kassad/handlers.h"
#include "kassad/jsoncheck.h"
#include "kassad/reply.h"
#include "modelreg/modelreg.h"
#include "recog/recog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KD_AI_ID_MAX_BYTES 40

/* A suggestion waiting for the cashier's answer. */
typedef struct kd_ai_pending {
    char id[KD_AI_ID_MAX_BYTES];
    char suggested[KASSA_SKU_MAX + 1]; /* "" for a fallback */
} kd_ai_pending;

typedef struct kd_ai {
    recog_model *model; /* NULL: none usable */
    int64_t version;
    char error[KASSA_ERR_MSG_SIZE]; /* why there is no model */
    uint64_t decisions, fallbacks, confirmations, next_id;
    kd_ai_pending pending[KD_AI_PENDING_MAX];
    size_t next_pending; /* ring position */
} kd_ai;

/* The active model of the registry as a recognizer. */
static int open_active(kd_app *app, recog_model **out, int64_t *version, kassa_err *err)
{
    modelreg_active a;
    memset(&a, 0, sizeof a);
    int rc = modelreg_resolve(app->cfg.data_dir, KD_AI_MODEL_NAME, &a, err);
    char *preprocess = NULL;
    if (rc == KASSA_OK) {
        const modelreg_bundle *b = &a.bundle;
        preprocess = b->m.preprocess ? json_dumps(b->m.preprocess, JSON_COMPACT) : NULL;
        if (!preprocess || !b->labels_bytes)
            rc = kassa_fail(err, KASSA_ECORRUPT,
                            "model %s %lld: a product model needs a labels file and a preprocess "
                            "object in its manifest",
                            KD_AI_MODEL_NAME, (long long)a.version);
        else
            rc = recog_model_open_parts(b->model, (size_t)b->m.model_size_bytes,
                                        (const char *)b->labels_bytes, b->labels_len, preprocess,
                                        strlen(preprocess), out, err);
        *version = a.version;
    }
    free(preprocess);
    modelreg_active_free(&a);
    return rc;
}

static void load(kd_app *app, kd_ai *ai)
{
    recog_model_free(ai->model);
    ai->model = NULL;
    ai->version = 0;
    kassa_err err;
    int rc = open_active(app, &ai->model, &ai->version, &err);
    if (rc != KASSA_OK && rc != KASSA_ENOTFOUND) {
        /* The active version does not load (its files damaged, a runtime
         * that refuses it): back to the previous one, health-checked. */
        jlog(JLOG_ERROR, "ai", "model_failed", "{s:s,s:I,s:s}", "model", KD_AI_MODEL_NAME,
             "version", (json_int_t)ai->version, "error", err.msg);
        modelreg_result res;
        kassa_err rerr;
        char why[KASSA_ERR_MSG_SIZE + 32];
        snprintf(why, sizeof why, "kassad could not load it: %s", err.msg);
        if (modelreg_rollback(app->cfg.data_dir, KD_AI_MODEL_NAME, why, NULL, &res, &rerr) ==
            KASSA_OK) {
            jlog(JLOG_WARN, "ai", "model_rolled_back", "{s:s,s:I,s:I}", "model", KD_AI_MODEL_NAME,
                 "from", (json_int_t)res.previous, "to", (json_int_t)res.version);
            rc = open_active(app, &ai->model, &ai->version, &err);
        }
    }
    if (rc == KASSA_OK) {
        ai->error[0] = 0;
        jlog(JLOG_INFO, "ai", "model_loaded", "{s:s,s:I,s:I}", "model", KD_AI_MODEL_NAME, "version",
             (json_int_t)ai->version, "labels", (json_int_t)recog_model_label_count(ai->model));
    } else {
        snprintf(ai->error, sizeof ai->error, "%s",
                 rc == KASSA_ENOTFOUND ? "no product model installed" : err.msg);
        jlog(rc == KASSA_ENOTFOUND ? JLOG_INFO : JLOG_ERROR, "ai", "model_unavailable", "{s:s,s:s}",
             "model", KD_AI_MODEL_NAME, "reason", ai->error);
    }
}

int kd_ai_start(kd_app *app, kassa_err *err)
{
    kd_ai *ai = calloc(1, sizeof *ai);
    if (!ai)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    app->ai = ai;
    load(app, ai);
    return KASSA_OK;
}

void kd_ai_reload(kd_app *app)
{
    if (app->ai)
        load(app, app->ai);
}

void kd_ai_free(kd_app *app)
{
    kd_ai *ai = app->ai;
    if (!ai)
        return;
    recog_model_free(ai->model);
    free(ai);
    app->ai = NULL;
}

json_t *kd_ai_status_json(kd_app *app)
{
    kd_ai *ai = app->ai;
    if (!ai)
        return json_pack("{s:s}", "state", "off");
    json_t *model = ai->model ? json_pack("{s:s,s:I}", "name", KD_AI_MODEL_NAME, "version",
                                          (json_int_t)ai->version)
                              : json_null();
    return json_pack("{s:s,s:o,s:s,s:b,s:I,s:I,s:I}", "state", ai->model ? "ready" : "no_model",
                     "model", model, "error", ai->error, "camera", app->cfg.ai_camera[0] != 0,
                     "decisions", (json_int_t)ai->decisions, "fallbacks", (json_int_t)ai->fallbacks,
                     "confirmations", (json_int_t)ai->confirmations);
}

/* ---- the frame ---- */

/* The request's image (data, len), or a frame from the camera when the
 * body is empty. */
static int frame_of(kd_req *r, const uint8_t *data, size_t len, recog_image *img, kassa_err *err)
{
    const kd_config *cfg = &r->app->cfg;
    if (len > 0)
        return recog_image_decode(data, len, img, err);
    if (!cfg->ai_camera[0])
        return kassa_fail(err, KASSA_EINVAL,
                          "send a PNG or JPEG image (no camera is configured: [ai] camera)");
    camera_frame f;
    int rc = camera_grab(cfg->ai_camera, (uint32_t)cfg->ai_camera_width,
                         (uint32_t)cfg->ai_camera_height, &f, err);
    if (rc != KASSA_OK)
        return rc;
    if (f.format == CAMERA_JPEG) {
        rc = recog_image_decode(f.data, f.size_bytes, img, err);
    } else {
        img->width = f.width;
        img->height = f.height;
        img->rgb = f.data; /* handed over: recog_image_free frees it */
        f.data = NULL;
    }
    camera_frame_free(&f);
    return rc;
}

/* ---- answers and audit ---- */

static json_t *candidate_json(kd_app *app, const recog_candidate *c)
{
    term_item it;
    kassa_err err;
    bool known = term_item_get(app->t, c->sku, &it, &err) == KASSA_OK;
    return json_pack("{s:s,s:o,s:f}", "sku", c->sku, "name",
                     known ? kd_json_text(it.name) : json_string(""), "confidence",
                     (double)c->confidence);
}

static void remember(kd_ai *ai, const char *id, const char *suggested)
{
    kd_ai_pending *p = &ai->pending[ai->next_pending];
    ai->next_pending = (ai->next_pending + 1) % KD_AI_PENDING_MAX;
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(p->suggested, sizeof p->suggested, "%s", suggested);
}

/* What the audit keeps of a decision (at most OPLOG_AUDIT_DETAIL_MAX). */
static void describe(const kd_ai *ai, const recog_result *res, char *out, size_t size)
{
    size_t n =
        (size_t)snprintf(out, size, "model=%s@%lld", KD_AI_MODEL_NAME, (long long)ai->version);
    if (res->kind == RECOG_PRODUCT) {
        n += (size_t)snprintf(out + n, size - n, " result=%s confidence=%.3f fallback=no",
                              res->top[0].sku, (double)res->top[0].confidence);
    } else {
        n += (size_t)snprintf(out + n, size - n, " result=fallback reason=%s",
                              res->reason == RECOG_REASON_LOW_CONFIDENCE ? "low_confidence"
                                                                         : "model_error");
        if (res->n_top > 0 && n < size)
            n += (size_t)snprintf(out + n, size - n, " best=%s:%.3f", res->top[0].sku,
                                  (double)res->top[0].confidence);
        if (res->has_barcode && n < size)
            snprintf(out + n, size - n, " barcode=%s", res->barcode.data);
    }
}

static json_t *result_json(kd_app *app, const char *id, const recog_result *res)
{
    kd_ai *ai = app->ai;
    json_t *alts = json_array();
    for (int i = res->kind == RECOG_PRODUCT ? 1 : 0; alts && i < res->n_top; i++)
        json_array_append_new(alts, candidate_json(app, &res->top[i]));
    json_t *out = json_pack("{s:s,s:o,s:f}", "decision_id", id, "alternatives", alts, "model_ms",
                            res->model_ms);
    if (!out)
        return NULL;
    json_object_set_new(out, "model",
                        ai->model ? json_pack("{s:s,s:I}", "name", KD_AI_MODEL_NAME, "version",
                                              (json_int_t)ai->version)
                                  : json_null());
    if (res->kind == RECOG_PRODUCT) {
        json_t *best = candidate_json(app, &res->top[0]);
        json_object_update(out, best);
        json_decref(best);
        return out;
    }
    json_object_set_new(out, "fallback", json_string("barcode"));
    json_object_set_new(
        out, "reason",
        json_string(res->reason == RECOG_REASON_LOW_CONFIDENCE ? "low_confidence" : "model_error"));
    if (res->reason == RECOG_REASON_MODEL_ERROR)
        json_object_set_new(out, "error", kd_json_text(res->model_error));
    if (res->has_barcode) {
        term_item it;
        kassa_err err;
        json_t *bc =
            json_pack("{s:s,s:s}", "data", res->barcode.data, "symbology", res->barcode.symbology);
        if (bc && term_item_by_barcode(app->t, res->barcode.data, &it, &err) == KASSA_OK)
            json_object_set_new(bc, "sku", json_string(it.sku));
        json_object_set_new(out, "barcode", bc);
    }
    return out;
}

void h_recognize(kd_req *r)
{
    kd_app *app = r->app;
    kd_ai *ai = app->ai;
    const uint8_t *data;
    size_t len;
    if (kd_req_raw_body(r, app->cfg.ai_max_image_bytes, "image", &data, &len) != 0)
        return;
    recog_image img;
    memset(&img, 0, sizeof img);
    kassa_err err;
    int rc = frame_of(r, data, len, &img, &err);
    if (rc != KASSA_OK) {
        if (rc == KASSA_EOVERFLOW)
            kd_reply_error(r, 413, KD_E_TOO_LARGE, "%s", err.msg);
        else if (rc == KASSA_EIO)
            kd_reply_error(r, 503, "camera_unavailable", "%s", err.msg);
        else
            kd_reply_error(r, 400, KD_E_BAD_REQUEST, "%s", err.msg);
        return;
    }
    recog_result res;
    rc = recog_classify(ai->model, &img, (float)app->cfg.ai_threshold_pct / 100.0f, &res, &err);
    recog_image_free(&img);
    if (rc != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    char id[KD_AI_ID_MAX_BYTES], detail[OPLOG_AUDIT_DETAIL_MAX + 1];
    snprintf(id, sizeof id, "R%lld-%llu", (long long)kd_wall_ms(),
             (unsigned long long)++ai->next_id);
    describe(ai, &res, detail, sizeof detail);
    /* Every decision is on record before it is shown. */
    if (term_audit_record(app->t, "ai_recognition", id, detail, &err) != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    ai->decisions++;
    if (res.kind != RECOG_PRODUCT)
        ai->fallbacks++;
    remember(ai, id, res.kind == RECOG_PRODUCT ? res.top[0].sku : "");
    jlog(JLOG_INFO, "ai", "recognition", "{s:s,s:s}", "decision_id", id, "detail", detail);
    kd_reply_json(r, 200, result_json(app, id, &res));
}

static const kd_field CONFIRM_FIELDS[] = {
    {"sku", KD_T_STRING, false, 1, KASSA_SKU_MAX, NULL},
};
static const kd_schema CONFIRM = KD_SCHEMA(CONFIRM_FIELDS);

void h_recognize_confirm(kd_req *r)
{
    kd_ai *ai = r->app->ai;
    const char *id = kd_req_param(r, 0);
    kd_ai_pending *p = NULL;
    for (size_t i = 0; i < KD_AI_PENDING_MAX && !p; i++)
        if (ai->pending[i].id[0] && strcmp(ai->pending[i].id, id) == 0)
            p = &ai->pending[i];
    if (!p) {
        kd_reply_error(r, 404, KD_E_NOT_FOUND, "no recognition %s waits for an answer", id);
        return;
    }
    json_t *body = kd_req_body(r, &CONFIRM);
    if (!body)
        return;
    const char *sku = kd_json_str(body, "sku");
    char detail[OPLOG_AUDIT_DETAIL_MAX + 1];
    bool accepted = sku && p->suggested[0] && strcmp(sku, p->suggested) == 0;
    snprintf(detail, sizeof detail, "suggested=%s chosen=%s accepted=%s",
             p->suggested[0] ? p->suggested : "-", sku ? sku : "-", accepted ? "yes" : "no");
    kassa_err err;
    if (term_audit_record(r->app->t, "ai_confirmation", id, detail, &err) != KASSA_OK) {
        json_decref(body);
        kd_reply_kassa(r, &err);
        return;
    }
    ai->confirmations++;
    memset(p, 0, sizeof *p); /* answered once */
    json_decref(body);
    kd_reply_json(r, 200, json_pack("{s:s,s:b}", "decision_id", id, "accepted", accepted));
}
