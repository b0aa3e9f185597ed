/*
 * voice/recognizer.c: pocketsphinx driven by the order grammar, and the
 * confidence rule.
 *
 * The decoder computes every senone of the acoustic model on every frame
 * (-compallsen), so the acoustic score of a word is its log-likelihood
 * relative to the best-scoring state of the model in each of its frames:
 * an unconstrained "anything" model that no path can beat. Speech the
 * grammar explains stays close to it; speech forced through the grammar
 * though it says something else falls far below, over the utterance and
 * most of all in the words it was forced into. (A second pass with a free
 * loop of phones as the yardstick separated orders from other speech no
 * better on the tuning set and cost twice the time: docs/VOICE.md.)
 *
 * Before decoding, the samples get a faint deterministic dither and the
 * utterance's own cepstral mean is set as the decoder's, so every
 * utterance decodes the same way whatever came before it.
 */
#include "voice/voice_internal.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/fsg_model.h>
#include <sphinxbase/jsgf.h>

#define SEARCH_ORDER "order"
/* pocketsphinx's senone scores are shifted right by this many bits. */
#define PS_SCORE_SHIFT 10
/* 10 ms frames; a little room past VOICE_AUDIO_MAX_MS for the edges. */
#define FRAMES_MAX (VOICE_AUDIO_MAX_MS / 10 + 64)
/* Cepstra per frame (13 for the en-us model), frames per front-end call. */
#define CEP_MAX 32
#define CEP_CHUNK 256
/* Speech detection before decoding: 10 ms frames whose RMS is at least
 * SPEECH_RMS (-45 dBFS); fewer than SPEECH_FRAMES_MIN of them (150 ms) is
 * no speech. */
#define SPEECH_FRAME_SAMPLES 160
#define SPEECH_RMS 184.0
#define SPEECH_FRAMES_MIN 15
/* Dither: amplitude in least significant bits, and the generator's seed
 * (fixed: the same audio always decodes the same way). */
#define DITHER_LSB 8
#define DITHER_SEED 12345u
/* Room for "token(4)" in the decoder's dictionary. */
#define DICT_NAME_MAX (VOICE_TOKEN_MAX + 24)

typedef struct seg {
    int sf, ef; /* first and last frame */
    int32_t ascr;
    bool filler;
} seg;

struct voice_recognizer {
    ps_decoder_t *ps;
    cmd_ln_t *config;
    voice_grammar *g;
    voice_config cfg;
    double build_ms;
    double nats_per_unit; /* natural log per unit of pocketsphinx's scores */
    char hyp[VOICE_HEARD_MAX * 2 + 1];
    int n_frames;
    size_t n_segs;
    seg segs[FRAMES_MAX];
    mfcc_t cmn_mean[CEP_MAX]; /* this utterance's cepstral mean */
    mfcc_t cep[CEP_CHUNK * CEP_MAX];
    int16_t work[VOICE_AUDIO_MAX_SAMPLES]; /* the samples as decoded */
};

/* ---- pocketsphinx's log: silenced, its last error kept per thread ---- */

static _Thread_local char ps_last_error[160];
static pthread_once_t ps_log_once = PTHREAD_ONCE_INIT;

static void ps_log(void *user, err_lvl_t level, const char *fmt, ...)
{
    (void)user;
    if (level < ERR_WARN)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps_last_error, sizeof ps_last_error, fmt, ap);
    va_end(ap);
    for (char *p = ps_last_error; *p; p++)
        if (*p < 0x20 || *p >= 0x7f)
            *p = *p == '\n' ? '\0' : '?';
}

static void ps_log_init(void)
{
    err_set_logfp(NULL); /* also keeps the configuration dump off stdout */
    err_set_callback(ps_log, NULL);
}

static int ps_fail(kassa_err *err, const char *what)
{
    return kassa_fail(err, KASSA_EIO, "pocketsphinx: %s%s%s", what, ps_last_error[0] ? ": " : "",
                      ps_last_error);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void voice_config_default(voice_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->model_dir = VOICE_DEFAULT_MODEL;
    cfg->dict_path = VOICE_DEFAULT_DICT;
    cfg->min_score = VOICE_DEFAULT_MIN_SCORE;
    cfg->min_word_score = VOICE_DEFAULT_MIN_WORD_SCORE;
}

/* ---- building ---- */

static int add_words(voice_recognizer *r, kassa_err *err)
{
    char name[DICT_NAME_MAX];
    for (size_t i = 0; i < voice_grammar_word_count(r->g); i++) {
        const voice_word *w = voice_grammar_word(r->g, i);
        for (size_t k = 0; k < w->n_prons; k++) {
            /* "word(2)" is the decoder's name of a word's second variant. */
            if (k == 0)
                snprintf(name, sizeof name, "%s", w->token);
            else
                snprintf(name, sizeof name, "%s(%zu)", w->token, k + 1);
            if (ps_add_word(r->ps, name, w->prons[k], FALSE) < 0)
                return ps_fail(err, "adding a word to the dictionary");
        }
    }
    return KASSA_OK;
}

/* The grammar as the decoder's search. What ps_set_jsgf_string does, but
 * freeing the parsed grammar, which pocketsphinx 5prealpha's leaks. */
static int load_grammar(voice_recognizer *r, kassa_err *err)
{
    jsgf_t *jsgf = jsgf_parse_string(voice_grammar_jsgf(r->g), NULL);
    if (!jsgf)
        return ps_fail(err, "parsing the order grammar");
    int rc = KASSA_OK;
    jsgf_rule_t *rule = jsgf_get_public_rule(jsgf);
    fsg_model_t *fsg =
        rule ? jsgf_build_fsg(jsgf, rule, ps_get_logmath(r->ps), cmd_ln_float32_r(r->config, "-lw"))
             : NULL;
    if (!fsg)
        rc = ps_fail(err, "building the order grammar");
    else if (ps_set_fsg(r->ps, SEARCH_ORDER, fsg) < 0 || ps_set_search(r->ps, SEARCH_ORDER) < 0)
        rc = ps_fail(err, "loading the order grammar");
    fsg_model_free(fsg); /* the search holds its own reference */
    jsgf_grammar_free(jsgf);
    return rc;
}

static int recognizer_init(voice_recognizer *r, const voice_item *items, size_t n_items,
                           const voice_synonym *syn, size_t n_syn, kassa_err *err)
{
    voice_lexicon *lx = NULL;
    int rc = voice_lexicon_load(r->cfg.dict_path, &lx, NULL, err);
    if (rc != KASSA_OK)
        return rc;
    rc = voice_grammar_build(items, n_items, syn, n_syn, lx, &r->g, err);
    voice_lexicon_free(lx);
    if (rc != KASSA_OK)
        return rc;
    ps_last_error[0] = '\0';
    /* No -dict: the decoder's dictionary is only the grammar's words.
     * -compallsen: every senone on every frame, the yardstick of the
     * scores. -remove_noise no: its noise estimate carries over from one
     * utterance to the next (results then depend on what came before), and
     * it did not help on the tuning set. */
    char *argv[] = {"-hmm", (char *)r->cfg.model_dir, "-bestpath", "no", "-compallsen",
                    "yes",  "-remove_noise",          "no"};
    r->config = cmd_ln_parse_r(NULL, ps_args(), (int)KASSA_ARRAY_LEN(argv), argv, TRUE);
    if (!r->config)
        return ps_fail(err, "bad configuration");
    r->ps = ps_init(r->config);
    if (!r->ps)
        return ps_fail(err, "cannot load the acoustic model");
    feat_t *fcb = ps_get_feat(r->ps);
    if (!fcb || !fcb->cmn_struct || fcb->cmn_struct->veclen > CEP_MAX ||
        fe_get_output_size(ps_get_fe(r->ps)) != fcb->cmn_struct->veclen)
        return kassa_fail(err, KASSA_EIO, "pocketsphinx: unexpected feature set in %s",
                          r->cfg.model_dir);
    r->nats_per_unit = log(logmath_get_base(ps_get_logmath(r->ps))) * (double)(1 << PS_SCORE_SHIFT);
    rc = add_words(r, err);
    if (rc != KASSA_OK)
        return rc;
    return load_grammar(r, err);
}

int voice_recognizer_new(const voice_config *cfg, const voice_item *items, size_t n_items,
                         const voice_synonym *syn, size_t n_syn, voice_recognizer **out,
                         kassa_err *err)
{
    *out = NULL;
    double t0 = now_ms();
    pthread_once(&ps_log_once, ps_log_init);
    voice_recognizer *r = calloc(1, sizeof *r);
    if (!r)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory for the recognizer");
    voice_config_default(&r->cfg);
    if (cfg) {
        if (cfg->model_dir)
            r->cfg.model_dir = cfg->model_dir;
        if (cfg->dict_path)
            r->cfg.dict_path = cfg->dict_path;
        r->cfg.min_score = cfg->min_score;
        r->cfg.min_word_score = cfg->min_word_score;
    }
    int rc = recognizer_init(r, items, n_items, syn, n_syn, err);
    /* The caller's strings are not kept past the build. */
    r->cfg.model_dir = r->cfg.dict_path = NULL;
    if (rc != KASSA_OK) {
        voice_recognizer_free(r);
        return rc;
    }
    r->build_ms = now_ms() - t0;
    *out = r;
    return KASSA_OK;
}

void voice_recognizer_free(voice_recognizer *r)
{
    if (!r)
        return;
    if (r->ps)
        ps_free(r->ps);
    if (r->config)
        cmd_ln_free_r(r->config);
    voice_grammar_free(r->g);
    free(r);
}

const voice_grammar *voice_recognizer_grammar(const voice_recognizer *r)
{
    return r->g;
}

double voice_recognizer_build_ms(const voice_recognizer *r)
{
    return r->build_ms;
}

/* ---- decoding ---- */

/* Copies the samples with a faint dither (uniform, +-DITHER_LSB) into
 * r->work, so stretches of digital silence do not reach the front end as
 * log(0): without it synthetic speech, which has exact zeros between
 * words, lost 10 to 20 points of accuracy. Returns the 10 ms frames loud
 * enough to be speech. */
static size_t prepare(voice_recognizer *r, const int16_t *samples, size_t n)
{
    assert(n <= VOICE_AUDIO_MAX_SAMPLES);
    uint32_t state = DITHER_SEED;
    size_t loud = 0;
    double energy = 0.0;
    for (size_t i = 0; i < n; i++) {
        state = state * 1664525u + 1013904223u; /* LCG (Numerical Recipes) */
        int v = samples[i] + (int)((state >> 16) % (2 * DITHER_LSB + 1)) - DITHER_LSB;
        r->work[i] = (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
        energy += (double)samples[i] * samples[i];
        if ((i + 1) % SPEECH_FRAME_SAMPLES == 0) {
            loud += energy >= SPEECH_RMS * SPEECH_RMS * SPEECH_FRAME_SAMPLES;
            energy = 0.0;
        }
    }
    return loud;
}

/* The utterance's own cepstral mean (over the frames the front end keeps),
 * set as the decoder's running mean: batch normalisation, without the
 * previous utterance's mean leaking in as it does with live CMN. */
static int set_cmn(voice_recognizer *r, size_t n, kassa_err *err)
{
    fe_t *fe = ps_get_fe(r->ps);
    feat_t *fcb = ps_get_feat(r->ps);
    int ncep = fcb->cmn_struct->veclen;
    mfcc_t *rows[CEP_CHUNK];
    for (int i = 0; i < CEP_CHUNK; i++)
        rows[i] = r->cep + (size_t)i * CEP_MAX;
    double sum[CEP_MAX] = {0};
    long frames = 0;
    if (fe_start_utt(fe) < 0)
        return ps_fail(err, "starting the front end");
    const int16 *p = r->work;
    size_t left = n;
    for (int rounds = 0; left > 0; rounds++) {
        if (rounds > FRAMES_MAX)
            return kassa_fail(err, KASSA_EIO, "pocketsphinx: the front end does not advance");
        int32 nfr = CEP_CHUNK;
        if (fe_process_frames(fe, &p, &left, rows, &nfr, NULL) < 0)
            return ps_fail(err, "computing cepstra");
        for (int f = 0; f < nfr; f++, frames++)
            for (int k = 0; k < ncep; k++)
                sum[k] += rows[f][k];
    }
    int32 nfr = 0;
    if (fe_end_utt(fe, rows[0], &nfr) < 0)
        return ps_fail(err, "ending the front end");
    for (int f = 0; f < nfr; f++, frames++)
        for (int k = 0; k < ncep; k++)
            sum[k] += rows[0][k];
    if (frames == 0)
        return KASSA_OK; /* keep the last mean */
    for (int k = 0; k < ncep; k++)
        r->cmn_mean[k] = (mfcc_t)(sum[k] / (double)frames);
    cmn_live_set(fcb->cmn_struct, r->cmn_mean);
    return KASSA_OK;
}

static bool is_filler(const char *w)
{
    return w[0] == '<' || w[0] == '[' || w[0] == '(' || w[0] == '+';
}

static int decode(voice_recognizer *r, size_t n, kassa_err *err)
{
    r->hyp[0] = '\0';
    r->n_segs = 0;
    ps_last_error[0] = '\0';
    if (ps_start_utt(r->ps) < 0)
        return ps_fail(err, "starting an utterance");
    /* Not as a "full utterance": pocketsphinx 5prealpha's whole-utterance
     * path recognised markedly worse on the test set (54 % of orders). */
    int rc = ps_process_raw(r->ps, r->work, n, FALSE, FALSE);
    if (ps_end_utt(r->ps) < 0 || rc < 0)
        return ps_fail(err, "decoding");
    int32 score = 0;
    const char *hyp = ps_get_hyp(r->ps, &score);
    if (hyp)
        snprintf(r->hyp, sizeof r->hyp, "%s", hyp);
    r->n_frames = ps_get_n_frames(r->ps);
    if (r->n_frames < 0)
        r->n_frames = 0;
    if (r->n_frames > FRAMES_MAX)
        r->n_frames = FRAMES_MAX;
    /* Segment frames count from the decoder's start, not the utterance's;
     * the path begins at the utterance's first frame. */
    int base = -1;
    for (ps_seg_t *it = ps_seg_iter(r->ps); it; it = ps_seg_next(it)) {
        if (r->n_segs == FRAMES_MAX) {
            ps_seg_free(it);
            break;
        }
        seg *s = &r->segs[r->n_segs];
        const char *w = ps_seg_word(it);
        ps_seg_frames(it, &s->sf, &s->ef);
        int32 ascr = 0, lscr = 0, lback = 0;
        ps_seg_prob(it, &ascr, &lscr, &lback);
        s->ascr = ascr;
        if (base < 0)
            base = s->sf;
        s->sf -= base;
        s->ef -= base;
        if (!w || s->sf < 0 || s->ef < s->sf || s->sf >= r->n_frames)
            continue;
        if (s->ef >= r->n_frames)
            s->ef = r->n_frames - 1;
        s->filler = is_filler(w);
        r->n_segs++;
    }
    return KASSA_OK;
}

/* The path's acoustic score per frame of its words, for the utterance and
 * for its worst word. False when it has no words. */
static bool path_scores(const voice_recognizer *r, double *utt, double *word_min)
{
    double sum = 0.0;
    long frames = 0;
    bool any = false;
    for (size_t i = 0; i < r->n_segs; i++) {
        const seg *s = &r->segs[i];
        if (s->filler)
            continue;
        int len = s->ef - s->sf + 1;
        double word = (double)s->ascr / len * r->nats_per_unit;
        if (!any || word < *word_min)
            *word_min = word;
        any = true;
        sum += s->ascr;
        frames += len;
    }
    if (any)
        *utt = sum / (double)frames * r->nats_per_unit;
    return any;
}

static void repeat(voice_result *res, voice_status why)
{
    res->status = why;
    res->n_changes = 0;
    res->done = false;
}

int voice_recognize(voice_recognizer *r, const int16_t *samples, size_t n_samples,
                    voice_result *res, kassa_err *err)
{
    assert(r && res);
    memset(res, 0, sizeof *res);
    if (!samples || n_samples == 0)
        return kassa_fail(err, KASSA_EINVAL, "empty audio");
    if (n_samples > VOICE_AUDIO_MAX_SAMPLES)
        return kassa_fail(err, KASSA_EINVAL, "audio is %.1f s long; at most %d s are accepted",
                          (double)n_samples / VOICE_SAMPLE_RATE_HZ, VOICE_AUDIO_MAX_MS / 1000);
    double t0 = now_ms();
    res->audio_ms = (double)n_samples * 1000.0 / VOICE_SAMPLE_RATE_HZ;
    if (prepare(r, samples, n_samples) < SPEECH_FRAMES_MIN) {
        repeat(res, VOICE_NO_SPEECH);
        res->decode_ms = now_ms() - t0;
        return KASSA_OK;
    }
    int rc = set_cmn(r, n_samples, err);
    if (rc == KASSA_OK)
        rc = decode(r, n_samples, err);
    res->decode_ms = now_ms() - t0;
    if (rc != KASSA_OK)
        return rc;
    /* No path reached the grammar's end: not an order. */
    if (!r->hyp[0] || !path_scores(r, &res->score, &res->word_score_min)) {
        repeat(res, VOICE_OUT_OF_GRAMMAR);
        return KASSA_OK;
    }
    kassa_err perr;
    if (voice_parse_hyp(r->g, r->hyp, res, &perr) != KASSA_OK) {
        repeat(res, VOICE_OUT_OF_GRAMMAR);
        return KASSA_OK;
    }
    if (res->score < r->cfg.min_score || res->word_score_min < r->cfg.min_word_score)
        repeat(res, VOICE_LOW_CONFIDENCE);
    return KASSA_OK;
}

int voice_recognize_wav(voice_recognizer *r, const uint8_t *wav, size_t len, voice_result *res,
                        kassa_err *err)
{
    voice_audio a;
    int rc = voice_wav_decode(wav, len, &a, err);
    if (rc != KASSA_OK)
        return rc;
    rc = voice_recognize(r, a.samples, a.n_samples, res, err);
    voice_audio_free(&a);
    return rc;
}
