/* voice.c: voice ordering in kassad (voice.h). */
#include "kassad/voice.h"

#include "jlog/jlog.h"
#include "kassad/cart.h"
#include "kassad/clock.h"
#include "kassad/handlers.h"
#include "kassad/jsoncheck.h"
#include "kassad/reply.h"
#include "voice/voice.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KD_VOICE_ID_MAX_BYTES 40

/* A proposal waiting for the cashier's answer. */
typedef struct kd_voice_proposal {
    char id[KD_VOICE_ID_MAX_BYTES];
    char cashier[KASSA_ID_MAX + 1];
    size_t n_changes;
    voice_change changes[VOICE_CHANGES_MAX];
} kd_voice_proposal;

typedef struct kd_voice {
    voice_recognizer *rec;                   /* NULL until the first order */
    uint8_t stamp[crypto_generichash_BYTES]; /* the catalog and synonyms it was built from */
    char error[KASSA_ERR_MSG_SIZE];          /* why the last build failed */
    double build_ms;
    uint64_t next_id, heard, repeats, confirmed, builds;
    kd_voice_proposal proposals[KD_VOICE_PROPOSALS_MAX];
    size_t next_proposal; /* ring position */
} kd_voice;

/* ---- the recognizer, rebuilt when the catalog changes ---- */

typedef struct catalog_copy {
    voice_item *items;
    char (*skus)[KASSA_SKU_MAX + 1];
    char (*names)[KASSA_NAME_MAX + 1];
    size_t n, cap;
    crypto_generichash_state hash;
} catalog_copy;

static int copy_item(const term_item *it, void *ctx)
{
    catalog_copy *c = ctx;
    if (c->n == c->cap)
        return KASSA_EFULL;
    snprintf(c->skus[c->n], sizeof c->skus[0], "%s", it->sku);
    snprintf(c->names[c->n], sizeof c->names[0], "%s", it->name);
    c->items[c->n] = (voice_item){c->skus[c->n], c->names[c->n]};
    crypto_generichash_update(&c->hash, (const uint8_t *)it->sku, strlen(it->sku) + 1);
    crypto_generichash_update(&c->hash, (const uint8_t *)it->name, strlen(it->name) + 1);
    c->n++;
    return KASSA_OK;
}

static int read_synonyms(const char *path, char **text, size_t *len, kassa_err *err)
{
    *text = NULL;
    *len = 0;
    if (!path[0])
        return KASSA_OK;
    FILE *f = fopen(path, "rb");
    if (!f)
        return kassa_fail(err, KASSA_EIO, "[voice] synonyms %s: cannot open", path);
    char *buf = malloc(VOICE_SYNONYMS_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, VOICE_SYNONYMS_MAX_BYTES + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    if (bad || n > VOICE_SYNONYMS_MAX_BYTES) {
        free(buf);
        return kassa_fail(err, KASSA_EINVAL, "[voice] synonyms %s: unreadable or over %u bytes",
                          path, VOICE_SYNONYMS_MAX_BYTES);
    }
    buf[n] = 0;
    *text = buf;
    *len = n;
    return KASSA_OK;
}

/* A recognizer for the catalog as it is now, unless the current one was
 * built from the same catalog and synonyms (their digest). */
static int ensure_recognizer(kd_app *app, kd_voice *v, kassa_err *err)
{
    catalog_copy c = {.cap = VOICE_ITEMS_MAX};
    c.items = calloc(c.cap, sizeof *c.items);
    c.skus = calloc(c.cap, sizeof *c.skus);
    c.names = calloc(c.cap, sizeof *c.names);
    char *syn_text = NULL;
    size_t syn_len = 0, n_syn = 0;
    voice_synonym *syn = NULL;
    int rc =
        c.items && c.skus && c.names ? KASSA_OK : kassa_fail(err, KASSA_ENOMEM, "out of memory");
    if (rc == KASSA_OK) {
        crypto_generichash_init(&c.hash, NULL, 0, sizeof v->stamp);
        rc = term_catalog_each(app->t, copy_item, &c, err);
        if (rc == KASSA_EFULL)
            rc = kassa_fail(err, KASSA_EFULL, "the catalog has more than %d items for voice",
                            VOICE_ITEMS_MAX);
    }
    if (rc == KASSA_OK)
        rc = read_synonyms(app->cfg.voice_synonyms, &syn_text, &syn_len, err);
    uint8_t stamp[sizeof v->stamp];
    if (rc == KASSA_OK) {
        crypto_generichash_update(&c.hash, (const uint8_t *)(syn_text ? syn_text : ""), syn_len);
        crypto_generichash_final(&c.hash, stamp, sizeof stamp);
    }
    if (rc == KASSA_OK && !(v->rec && memcmp(stamp, v->stamp, sizeof stamp) == 0)) {
        if (syn_text)
            rc = voice_synonyms_parse(syn_text, syn_len, &syn, &n_syn, err);
        voice_recognizer *next = NULL;
        if (rc == KASSA_OK)
            rc = voice_recognizer_new(NULL, c.items, c.n, syn, n_syn, &next, err);
        if (rc == KASSA_OK) {
            voice_recognizer_free(v->rec);
            v->rec = next;
            memcpy(v->stamp, stamp, sizeof stamp);
            v->build_ms = voice_recognizer_build_ms(next);
            v->builds++;
            v->error[0] = 0;
            jlog(JLOG_INFO, "voice", "grammar_built", "{s:I,s:I,s:f}", "items", (json_int_t)c.n,
                 "phrases", (json_int_t)voice_grammar_phrase_count(voice_recognizer_grammar(next)),
                 "build_ms", v->build_ms);
        } else {
            snprintf(v->error, sizeof v->error, "%s", err->msg);
        }
    }
    free(syn);
    free(syn_text);
    free(c.items);
    free(c.skus);
    free(c.names);
    return rc;
}

int kd_voice_start(kd_app *app, kassa_err *err)
{
    kd_voice *v = calloc(1, sizeof *v);
    if (!v)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    app->voice = v;
    return KASSA_OK;
}

void kd_voice_free(kd_app *app)
{
    kd_voice *v = app->voice;
    if (!v)
        return;
    voice_recognizer_free(v->rec);
    free(v);
    app->voice = NULL;
}

json_t *kd_voice_status_json(kd_app *app)
{
    kd_voice *v = app->voice;
    if (!v)
        return json_pack("{s:s}", "state", "off");
    const char *state = v->rec ? "ready" : v->error[0] ? "error" : "idle";
    return json_pack("{s:s,s:s,s:f,s:I,s:I,s:I,s:I}", "state", state, "error", v->error,
                     "grammar_build_ms", v->build_ms, "grammar_builds", (json_int_t)v->builds,
                     "heard", (json_int_t)v->heard, "please_repeat", (json_int_t)v->repeats,
                     "confirmed", (json_int_t)v->confirmed);
}

/* ---- proposals ---- */

static json_t *changes_json(kd_app *app, const voice_change *ch, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        term_item it;
        kassa_err err;
        if (term_item_get(app->t, ch[i].sku, &it, &err) != KASSA_OK)
            it.name[0] = 0;
        json_array_append_new(arr, json_pack("{s:s,s:s,s:o,s:I}", "op",
                                             ch[i].op == VOICE_OP_ADD ? "add" : "remove", "sku",
                                             ch[i].sku, "name", kd_json_text(it.name), "qty",
                                             (json_int_t)ch[i].qty));
    }
    return arr;
}

/* "ADD COF-250x2,REMOVE MUF-BBx0" for the audit (bounded by size). */
static void changes_text(const voice_change *ch, size_t n, char *out, size_t size)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s %sx%lld", i ? "," : "",
                                 ch[i].op == VOICE_OP_ADD ? "add" : "remove", ch[i].sku,
                                 (long long)ch[i].qty);
}

void h_voice(kd_req *r)
{
    kd_app *app = r->app;
    kd_voice *v = app->voice;
    const uint8_t *wav;
    size_t len;
    if (kd_req_raw_body(r, app->cfg.voice_max_audio_bytes, "recording", &wav, &len) != 0)
        return;
    if (len == 0) {
        kd_reply_error(r, 400, KD_E_BAD_REQUEST, "send the order as a WAV recording");
        return;
    }
    kassa_err err;
    voice_audio audio;
    memset(&audio, 0, sizeof audio);
    int rc = voice_wav_decode(wav, len, &audio, &err);
    if (rc != KASSA_OK) {
        kd_reply_error(r, rc == KASSA_ENOMEM ? 500 : 400,
                       rc == KASSA_ENOMEM ? KD_E_INTERNAL : KD_E_BAD_REQUEST, "%s", err.msg);
        return;
    }
    voice_result res;
    rc = ensure_recognizer(app, v, &err);
    if (rc == KASSA_OK)
        rc = voice_recognize(v->rec, audio.samples, audio.n_samples, &res, &err);
    voice_audio_free(&audio);
    if (rc != KASSA_OK) {
        kd_reply_error(r, 503, "voice_unavailable", "%s", err.msg);
        return;
    }
    char id[KD_VOICE_ID_MAX_BYTES], changes[160], detail[OPLOG_AUDIT_DETAIL_MAX + 1];
    snprintf(id, sizeof id, "V%lld-%llu", (long long)kd_wall_ms(),
             (unsigned long long)++v->next_id);
    changes_text(res.changes, res.n_changes, changes, sizeof changes);
    snprintf(detail, sizeof detail, "status=%s score=%.2f changes=%s heard=%.60s",
             voice_status_name(res.status), res.score, res.n_changes ? changes : "-", res.heard);
    /* Every proposal is on record before it is shown. */
    if (term_audit_record(app->t, "voice_proposal", id, detail, &err) != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    bool heard = res.status == VOICE_HEARD;
    if (heard) {
        v->heard++;
        kd_voice_proposal *p = &v->proposals[v->next_proposal];
        v->next_proposal = (v->next_proposal + 1) % KD_VOICE_PROPOSALS_MAX;
        snprintf(p->id, sizeof p->id, "%s", id);
        snprintf(p->cashier, sizeof p->cashier, "%s", r->session->cashier.id);
        p->n_changes = res.n_changes;
        memcpy(p->changes, res.changes, res.n_changes * sizeof res.changes[0]);
    } else {
        v->repeats++;
    }
    json_t *out = json_pack("{s:s,s:s,s:o,s:b,s:o,s:f,s:f}", "proposal_id", id, "status",
                            heard ? "heard" : "please_repeat", "heard", kd_json_text(res.heard),
                            "done", res.done, "changes",
                            heard ? changes_json(app, res.changes, res.n_changes) : json_array(),
                            "audio_ms", res.audio_ms, "decode_ms", res.decode_ms);
    if (out && !heard)
        json_object_set_new(out, "reason", json_string(voice_status_name(res.status)));
    jlog(JLOG_INFO, "voice", "proposal", "{s:s,s:s}", "proposal_id", id, "detail", detail);
    kd_reply_json(r, 200, out);
}

static kd_voice_proposal *find_proposal(kd_req *r)
{
    kd_voice *v = r->app->voice;
    const char *id = kd_req_param(r, 0);
    for (size_t i = 0; i < KD_VOICE_PROPOSALS_MAX; i++) {
        kd_voice_proposal *p = &v->proposals[i];
        if (p->id[0] && strcmp(p->id, id) == 0 && strcmp(p->cashier, r->session->cashier.id) == 0)
            return p;
    }
    kd_reply_error(r, 404, KD_E_NOT_FOUND, "no voice proposal %s waits for an answer", id);
    return NULL;
}

static int record_answer(kd_req *r, const kd_voice_proposal *p, bool confirmed, kassa_err *err)
{
    char changes[160], detail[OPLOG_AUDIT_DETAIL_MAX + 1];
    changes_text(p->changes, p->n_changes, changes, sizeof changes);
    snprintf(detail, sizeof detail, "%s changes=%s", confirmed ? "confirmed" : "cancelled",
             p->n_changes ? changes : "-");
    return term_audit_record(r->app->t, "voice_confirmation", p->id, detail, err);
}

/* Applies the proposal's changes to cart (a working copy). */
static int apply_changes(term_cart *cart, const kd_voice_proposal *p, kassa_err *err)
{
    for (size_t i = 0; i < p->n_changes; i++) {
        const voice_change *ch = &p->changes[i];
        int rc = KASSA_OK;
        if (ch->op == VOICE_OP_ADD) {
            rc = term_cart_add(cart, ch->sku, ch->qty, err);
        } else {
            int64_t have = 0;
            for (size_t j = 0; j < cart->n_lines; j++)
                if (strcmp(cart->lines[j].sku, ch->sku) == 0)
                    have = cart->lines[j].qty;
            if (have == 0)
                continue; /* "no coffee" with no coffee in the cart */
            rc = ch->qty == VOICE_QTY_ALL || ch->qty >= have
                     ? term_cart_remove(cart, ch->sku, err)
                     : term_cart_set_qty(cart, ch->sku, have - ch->qty, err);
        }
        if (rc != KASSA_OK)
            return rc;
    }
    return KASSA_OK;
}

static const kd_field CONFIRM_FIELDS[] = {
    {"cart_id", KD_T_STRING, false, 1, 64, NULL},
};
static const kd_schema CONFIRM = KD_SCHEMA(CONFIRM_FIELDS);

void h_voice_confirm(kd_req *r)
{
    kd_app *app = r->app;
    kd_voice_proposal *p = find_proposal(r);
    json_t *body = p ? kd_req_body(r, &CONFIRM) : NULL;
    if (!body)
        return;
    const char *cart_id = kd_json_str(body, "cart_id");
    kassa_err err;
    kd_cart *c = NULL;
    int rc = KASSA_OK;
    if (cart_id) {
        c = kd_carts_find(&app->carts, cart_id, r->session->cashier.id, kd_mono_ms());
        if (!c)
            rc = kassa_fail(&err, KASSA_ENOTFOUND, "no such cart");
        else if (c->paying)
            rc = kassa_fail(&err, KASSA_ECONFLICT, "a card payment for this cart is in progress");
    } else {
        rc = kd_carts_open(&app->carts, r->session->cashier.id, kd_mono_ms(), &c, &err);
    }
    json_decref(body);
    term_cart *next = NULL;
    if (rc == KASSA_OK) {
        next = kd_cart_stage(app, c);
        rc = apply_changes(next, p, &err);
    }
    if (rc == KASSA_OK)
        rc = record_answer(r, p, true, &err);
    if (rc != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    app->voice->confirmed++;
    memset(p, 0, sizeof *p); /* answered once */
    kd_cart_price_and_keep(r, c, next, 200);
}

void h_voice_cancel(kd_req *r)
{
    kd_voice_proposal *p = find_proposal(r);
    json_t *body = p ? kd_req_body(r, NULL) : NULL;
    if (!body)
        return;
    json_decref(body);
    kassa_err err;
    if (record_answer(r, p, false, &err) != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    char id[KD_VOICE_ID_MAX_BYTES];
    snprintf(id, sizeof id, "%s", p->id);
    memset(p, 0, sizeof *p);
    kd_reply_json(r, 200, json_pack("{s:s}", "proposal_id", id));
}
