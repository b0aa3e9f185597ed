/*
 * voice: a spoken order (WAV) to proposed cart changes, over the catalog
 * of the terminal in --data DIR (src/voice). Nothing is recorded: the
 * proposal is printed, or "please repeat".
 *
 *   kassa voice FILE.wav [--synonyms CSV]
 *   kassa voice --grammar [--synonyms CSV]   the JSGF, the words and notes
 *
 * Synonyms come from --synonyms, else DIR/voice_synonyms.csv when it
 * exists (docs/VOICE.md).
 */
#include "cli/cli.h"
#include "voice/voice.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VOICE_SYNONYMS_FILE "voice_synonyms.csv"

static const char VOICE_USAGE[] =
    "voice FILE.wav [--synonyms CSV] | voice --grammar [--synonyms CSV]";

typedef struct catalog_copy {
    voice_item *items;
    term_item *rows;
    size_t n, cap;
    bool full;
} catalog_copy;

static int collect_item(const term_item *item, void *ctx)
{
    catalog_copy *cc = ctx;
    if (cc->n == VOICE_ITEMS_MAX) {
        cc->full = true;
        return KASSA_OK;
    }
    if (cc->n == cc->cap) {
        size_t cap = cc->cap ? cc->cap * 2 : 64;
        term_item *rows = realloc(cc->rows, cap * sizeof *rows);
        if (!rows)
            return KASSA_ENOMEM;
        cc->rows = rows;
        cc->cap = cap;
    }
    cc->rows[cc->n++] = *item;
    return KASSA_OK;
}

static int load_synonyms(cli *c, const char *path, voice_synonym **syn, size_t *n)
{
    char def[4096];
    if (!path) {
        int w = snprintf(def, sizeof def, "%s/%s", c->data_dir, VOICE_SYNONYMS_FILE);
        if (w < 0 || (size_t)w >= sizeof def || access(def, F_OK) != 0)
            return CLI_OK; /* none configured */
        path = def;
    }
    uint8_t *data;
    size_t len;
    int rc = cli_read_file(path, &data, &len, VOICE_SYNONYMS_MAX_BYTES);
    if (rc != CLI_OK)
        return rc;
    kassa_err err;
    rc = voice_synonyms_parse((const char *)data, len, syn, n, &err);
    free(data);
    if (rc != KASSA_OK)
        return cli_fail("%s: %s", path, err.msg);
    return CLI_OK;
}

static const char *item_name(const catalog_copy *cc, const char *sku)
{
    for (size_t i = 0; i < cc->n; i++)
        if (strcmp(cc->rows[i].sku, sku) == 0)
            return cc->rows[i].name;
    return "";
}

static int print_grammar(cli *c, const voice_grammar *g)
{
    if (c->json) {
        json_t *words = json_array(), *notes = json_array();
        for (size_t i = 0; words && i < voice_grammar_word_count(g); i++) {
            const voice_word *w = voice_grammar_word(g, i);
            json_t *prons = json_array();
            for (size_t k = 0; prons && k < w->n_prons; k++)
                json_array_append_new(prons, json_string(w->prons[k]));
            json_array_append_new(words,
                                  json_pack("{s:s,s:o,s:s}", "token", w->token, "prons", prons,
                                            "source", voice_pron_source_name(w->source)));
        }
        size_t shown = voice_grammar_note_count(g);
        if (shown > VOICE_NOTES_MAX)
            shown = VOICE_NOTES_MAX;
        for (size_t i = 0; notes && i < shown; i++)
            json_array_append_new(notes, json_string(voice_grammar_note(g, i)));
        return cli_print_json(json_pack("{s:s,s:o,s:o}", "jsgf", voice_grammar_jsgf(g), "words",
                                        words, "notes", notes));
    }
    fputs(voice_grammar_jsgf(g), stdout);
    printf("\n# dictionary (token, source, pronunciations)\n");
    for (size_t i = 0; i < voice_grammar_word_count(g); i++) {
        const voice_word *w = voice_grammar_word(g, i);
        for (size_t k = 0; k < w->n_prons; k++)
            printf("# %-32s %-10s %s\n", w->token, k ? "" : voice_pron_source_name(w->source),
                   w->prons[k]);
    }
    for (size_t i = 0; i < voice_grammar_note_count(g) && i < VOICE_NOTES_MAX; i++)
        printf("# note: %s\n", voice_grammar_note(g, i));
    if (voice_grammar_note_count(g) > VOICE_NOTES_MAX)
        printf("# ... %zu notes in all\n", voice_grammar_note_count(g));
    return CLI_OK;
}

static int print_result(cli *c, const catalog_copy *cc, const voice_result *res)
{
    bool heard = res->status == VOICE_HEARD;
    if (c->json) {
        json_t *changes = json_array();
        for (size_t i = 0; changes && i < res->n_changes; i++) {
            const voice_change *ch = &res->changes[i];
            json_array_append_new(
                changes, json_pack("{s:s,s:s,s:s,s:I,s:b}", "op",
                                   ch->op == VOICE_OP_ADD ? "add" : "remove", "sku", ch->sku,
                                   "name", item_name(cc, ch->sku), "qty", (json_int_t)ch->qty,
                                   "all", ch->op == VOICE_OP_REMOVE && ch->qty == VOICE_QTY_ALL));
        }
        return cli_print_json(json_pack("{s:s,s:b,s:s,s:f,s:f,s:b,s:o,s:f,s:f}", "status",
                                        voice_status_name(res->status), "repeat", !heard, "heard",
                                        res->heard, "score", res->score, "word_score_min",
                                        res->word_score_min, "done", res->done, "changes", changes,
                                        "audio_ms", res->audio_ms, "decode_ms", res->decode_ms));
    }
    if (!heard) {
        printf("please repeat (%s", voice_status_name(res->status));
        if (res->heard[0])
            printf(": heard \"%s\", score %.2f, worst word %.2f", res->heard, res->score,
                   res->word_score_min);
        printf(")\n");
        return CLI_OK;
    }
    printf("heard: %s\n", res->heard);
    for (size_t i = 0; i < res->n_changes; i++) {
        const voice_change *ch = &res->changes[i];
        char qty[24];
        if (ch->op == VOICE_OP_REMOVE && ch->qty == VOICE_QTY_ALL)
            snprintf(qty, sizeof qty, "all");
        else
            snprintf(qty, sizeof qty, "%lld", (long long)ch->qty);
        printf("  %-6s %4s  %-12s %s\n", ch->op == VOICE_OP_ADD ? "add" : "remove", qty, ch->sku,
               item_name(cc, ch->sku));
    }
    if (res->done)
        printf("that's all\n");
    printf("(score %.2f, worst word %.2f; %.1f s of audio in %.0f ms)\n", res->score,
           res->word_score_min, res->audio_ms / 1000.0, res->decode_ms);
    return CLI_OK;
}

static int run(cli *c, const char *wav_path, bool grammar, const char *syn_path, catalog_copy *cc)
{
    term *t;
    int rc = cli_open(c, &t);
    if (rc != CLI_OK)
        return rc;
    kassa_err err;
    int qrc = term_catalog_each(t, collect_item, cc, &err);
    term_close(t);
    if (qrc != KASSA_OK)
        return qrc == KASSA_ENOMEM ? cli_fail("out of memory") : cli_fail_err(&err);
    if (cc->full)
        return cli_fail("the catalog has more than %d items: too many for the voice grammar",
                        VOICE_ITEMS_MAX);
    cc->items = calloc(cc->n ? cc->n : 1, sizeof *cc->items);
    if (!cc->items)
        return cli_fail("out of memory");
    for (size_t i = 0; i < cc->n; i++)
        cc->items[i] = (voice_item){cc->rows[i].sku, cc->rows[i].name};
    voice_synonym *syn = NULL;
    size_t n_syn = 0;
    rc = load_synonyms(c, syn_path, &syn, &n_syn);
    if (rc != CLI_OK)
        return rc;
    uint8_t *wav = NULL;
    size_t wav_len = 0;
    if (!grammar && (rc = cli_read_file(wav_path, &wav, &wav_len, VOICE_WAV_MAX_BYTES)) != CLI_OK) {
        free(syn);
        return rc;
    }
    voice_recognizer *r;
    rc = voice_recognizer_new(NULL, cc->items, cc->n, syn, n_syn, &r, &err);
    free(syn);
    if (rc != KASSA_OK) {
        free(wav);
        return cli_fail_err(&err);
    }
    if (grammar) {
        rc = print_grammar(c, voice_recognizer_grammar(r));
    } else {
        voice_result res;
        if (voice_recognize_wav(r, wav, wav_len, &res, &err) != KASSA_OK)
            rc = cli_fail("%s: %s", wav_path, err.msg);
        else
            rc = print_result(c, cc, &res);
    }
    free(wav);
    voice_recognizer_free(r);
    return rc;
}

int cmd_voice(cli *c)
{
    const char *wav = NULL, *syn = NULL;
    bool grammar = false;
    for (int i = 0; i < c->argc; i++) {
        if (strcmp(c->argv[i], "--synonyms") == 0 && i + 1 < c->argc)
            syn = c->argv[++i];
        else if (strcmp(c->argv[i], "--grammar") == 0)
            grammar = true;
        else if (c->argv[i][0] != '-' && !wav)
            wav = c->argv[i];
        else
            return cli_usage(VOICE_USAGE);
    }
    if (grammar == (wav != NULL))
        return cli_usage(VOICE_USAGE);
    catalog_copy cc = {0};
    int rc = run(c, wav, grammar, syn, &cc);
    free(cc.items);
    free(cc.rows);
    return rc;
}
