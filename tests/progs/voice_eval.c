/*
 * voice_eval: runs the voice test set through the recognizer and checks
 * the accuracy targets (tests/cli/test_voice_accuracy.sh).
 *
 *   voice_eval --catalog CSV --synonyms CSV --manifest TSV --wavs DIR
 *              [--every K] [--min-orders PCT] [--min-reject PCT]
 *              [--min-score X] [--min-word-score Y] [--verbose]
 *
 * The manifest is tests/fixtures/voice/orders.tsv (its header says the
 * format); DIR holds <id>.wav from tools/voice/make_testset.sh. --every K
 * takes every K-th utterance of each kind (a quicker subset). Prints one
 * line per utterance with --verbose (always for a miss), then the share
 * of orders recognised exactly, the share of out-of-grammar utterances
 * answered "please repeat", and the real-time factor. Exits 1 when a share
 * is below its target (defaults 90 % and 80 %), 2 on bad usage or input.
 */
#include "catalog/csv.h"
#include "voice/voice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_LINE_MAX 1024
#define EVAL_ITEMS_MAX 64 /* canonical change strings per utterance */
#define EVAL_FILE_MAX (64u << 20)

static int read_all(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "voice_eval: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        if (cap >= EVAL_FILE_MAX) {
            free(buf);
            buf = NULL;
            break;
        }
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
        }
        buf = nb;
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "voice_eval: cannot read %s\n", path);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the space-separated items of s into out (canonical form). */
static void canonical(const char *s, char *out, size_t size)
{
    char buf[EVAL_LINE_MAX];
    snprintf(buf, sizeof buf, "%s", s);
    char *items[EVAL_ITEMS_MAX];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && n < EVAL_ITEMS_MAX;
         t = strtok_r(NULL, " ", &save))
        items[n++] = t;
    qsort(items, n, sizeof *items, cmp_str);
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out + o, size - o, "%s%s", i ? " " : "", items[i]);
        if (w < 0 || (size_t)w >= size - o)
            break;
        o += (size_t)w;
    }
}

static void result_string(const voice_result *res, char *out, size_t size)
{
    char buf[EVAL_LINE_MAX];
    size_t o = 0;
    buf[0] = '\0';
    if (res->status != VOICE_HEARD) {
        snprintf(buf, sizeof buf, "repeat");
    } else {
        for (size_t i = 0; i < res->n_changes; i++) {
            const voice_change *c = &res->changes[i];
            char qty[24];
            if (c->qty == VOICE_QTY_ALL)
                snprintf(qty, sizeof qty, "all");
            else
                snprintf(qty, sizeof qty, "%lld", (long long)c->qty);
            int w = snprintf(buf + o, sizeof buf - o, "%s%c%s*%s", o ? " " : "",
                             c->op == VOICE_OP_ADD ? '+' : '-', c->sku, qty);
            if (w > 0 && (size_t)w < sizeof buf - o)
                o += (size_t)w;
        }
        if (res->done)
            snprintf(buf + o, sizeof buf - o, "%sdone", o ? " " : "");
    }
    canonical(buf, out, size);
}

static int load_catalog(const char *path, catalog_csv_result *cat, voice_item **items)
{
    char *text;
    size_t len;
    if (read_all(path, &text, &len) != 0)
        return -1;
    kassa_err err;
    int rc = catalog_csv_parse(text, len, cat, &err);
    free(text);
    if (rc != KASSA_OK) {
        fprintf(stderr, "voice_eval: %s: %s\n", path, err.msg);
        return -1;
    }
    *items = calloc(cat->n_items ? cat->n_items : 1, sizeof **items);
    if (!*items)
        return -1;
    for (size_t i = 0; i < cat->n_items; i++)
        (*items)[i] = (voice_item){cat->items[i].sku, cat->items[i].name};
    return 0;
}

int main(int argc, char **argv)
{
    const char *catalog = NULL, *synonyms = NULL, *manifest = NULL, *wavs = NULL;
    int every = 1;
    double min_orders = 90.0, min_reject = 80.0;
    voice_config cfg;
    voice_config_default(&cfg);
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--verbose") == 0) {
            verbose = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "voice_eval: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--catalog") == 0)
            catalog = v;
        else if (strcmp(a, "--synonyms") == 0)
            synonyms = v;
        else if (strcmp(a, "--manifest") == 0)
            manifest = v;
        else if (strcmp(a, "--wavs") == 0)
            wavs = v;
        else if (strcmp(a, "--every") == 0)
            every = atoi(v);
        else if (strcmp(a, "--min-orders") == 0)
            min_orders = atof(v);
        else if (strcmp(a, "--min-reject") == 0)
            min_reject = atof(v);
        else if (strcmp(a, "--min-score") == 0)
            cfg.min_score = atof(v);
        else if (strcmp(a, "--min-word-score") == 0)
            cfg.min_word_score = atof(v);
        else {
            fprintf(stderr, "voice_eval: unknown option %s\n", a);
            return 2;
        }
    }
    if (!catalog || !manifest || !wavs || every < 1) {
        fprintf(stderr, "usage: voice_eval --catalog CSV [--synonyms CSV] --manifest TSV "
                        "--wavs DIR [--every K] [--verbose]\n");
        return 2;
    }

    catalog_csv_result cat;
    voice_item *items = NULL;
    if (load_catalog(catalog, &cat, &items) != 0)
        return 2;
    voice_synonym *syn = NULL;
    size_t n_syn = 0;
    kassa_err err;
    if (synonyms) {
        char *text;
        size_t len;
        if (read_all(synonyms, &text, &len) != 0)
            return 2;
        int rc = voice_synonyms_parse(text, len, &syn, &n_syn, &err);
        free(text);
        if (rc != KASSA_OK) {
            fprintf(stderr, "voice_eval: %s: %s\n", synonyms, err.msg);
            return 2;
        }
    }
    voice_recognizer *rec;
    if (voice_recognizer_new(&cfg, items, cat.n_items, syn, n_syn, &rec, &err) != KASSA_OK) {
        fprintf(stderr, "voice_eval: %s\n", err.msg);
        return 2;
    }
    printf("grammar: %zu spoken forms of %zu products, %zu notes, built in %.0f ms\n",
           voice_grammar_phrase_count(voice_recognizer_grammar(rec)), cat.n_items,
           voice_grammar_note_count(voice_recognizer_grammar(rec)), voice_recognizer_build_ms(rec));

    char *text;
    size_t len;
    if (read_all(manifest, &text, &len) != 0)
        return 2;
    int orders = 0, orders_ok = 0, oog = 0, oog_ok = 0, seen_order = 0, seen_oog = 0;
    double audio_ms = 0, decode_ms = 0;
    int status = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && status == 0;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *f[6];
        size_t nf = 0;
        for (char *p = line; nf < 6;) {
            f[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        if (nf != 6) {
            fprintf(stderr, "voice_eval: %s: a line with %zu fields\n", manifest, nf);
            status = 2;
            break;
        }
        bool is_order = strcmp(f[1], "order") == 0;
        int seen = is_order ? seen_order++ : seen_oog++;
        if (seen % every != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.wav", wavs, f[0]);
        char *wav;
        size_t wav_len;
        if (read_all(path, &wav, &wav_len) != 0) {
            status = 2;
            break;
        }
        voice_result res;
        int rc = voice_recognize_wav(rec, (const uint8_t *)wav, wav_len, &res, &err);
        free(wav);
        if (rc != KASSA_OK) {
            fprintf(stderr, "voice_eval: %s: %s\n", path, err.msg);
            status = 2;
            break;
        }
        audio_ms += res.audio_ms;
        decode_ms += res.decode_ms;
        char got[EVAL_LINE_MAX], want[EVAL_LINE_MAX];
        result_string(&res, got, sizeof got);
        canonical(f[5], want, sizeof want);
        bool ok = strcmp(got, want) == 0;
        if (is_order) {
            orders++;
            orders_ok += ok;
        } else {
            oog++;
            oog_ok += ok;
        }
        if (verbose || !ok)
            printf("%-4s %-5s %-4s %-14s score %6.2f word %6.2f %5.0f ms  \"%s\" -> \"%s\"%s%s\n",
                   f[0], f[1], ok ? "ok" : "MISS", voice_status_name(res.status), res.score,
                   res.word_score_min, res.decode_ms, f[4], res.heard, ok ? "" : " expected ",
                   ok ? "" : want);
    }
    free(text);
    voice_recognizer_free(rec);
    free(syn);
    free(items);
    catalog_csv_result_free(&cat);
    if (status != 0)
        return status;
    double order_pct = orders ? 100.0 * orders_ok / orders : 0.0;
    double oog_pct = oog ? 100.0 * oog_ok / oog : 0.0;
    printf("orders exactly right: %d/%d (%.1f %%, target %.0f %%)\n", orders_ok, orders, order_pct,
           min_orders);
    printf("out of grammar answered \"please repeat\": %d/%d (%.1f %%, target %.0f %%)\n", oog_ok,
           oog, oog_pct, min_reject);
    printf("audio %.1f s, decoding %.2f s: real-time factor %.3f\n", audio_ms / 1000,
           decode_ms / 1000, audio_ms > 0 ? decode_ms / audio_ms : 0.0);
    if (orders == 0 || oog == 0) {
        fprintf(stderr, "voice_eval: no utterances of one kind\n");
        return 2;
    }
    return order_pct >= min_orders && oog_pct >= min_reject ? 0 : 1;
}
