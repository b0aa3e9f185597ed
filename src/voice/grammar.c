/*
 * voice/grammar.c: the order grammar of a catalog. Spoken names from
 * catalog names, synonyms, singular and plural forms, one decoder word per
 * spoken form, the JSGF text, and the synonyms file parser.
 */
#include "voice/voice_internal.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_PREFIX "p_"
/* Weights of the grammar's paths (probabilities; see put_weight): a line
 * that follows another without "and", and a product said without a
 * quantity. Measured on a tuning set of 120 generated orders (not the test
 * set): without them the decoder fills a weak "and a" with short lines
 * ("eight pens a"); at these values such paths lose unless the audio
 * clearly says them. */
#define GRAMMAR_W_NO_AND 1e-20
#define GRAMMAR_W_BARE 1e-6
/* A synonyms line longer than this is an error. */
#define SYN_LINE_MAX 512
#define SYN_FIELDS_MAX 3

/* The grammar's own words: quantities first (index = quantity, "a" and
 * "an" are one), then the commands. */
static const struct {
    const char *token;
    const char *prons[4];
    int qty;
} FIXED[] = {
    {"a", {"AH", "EY"}, 1},
    {"an", {"AE N", "AH N"}, 1},
    {"one", {"W AH N", "HH W AH N"}, 1},
    {"two", {"T UW", NULL}, 2},
    {"three", {"TH R IY", NULL}, 3},
    {"four", {"F AO R", NULL}, 4},
    {"five", {"F AY V", NULL}, 5},
    {"six", {"S IH K S", NULL}, 6},
    {"seven", {"S EH V AH N", NULL}, 7},
    {"eight", {"EY T", NULL}, 8},
    {"nine", {"N AY N", NULL}, 9},
    {"ten", {"T EH N", NULL}, 10},
    {"eleven", {"IH L EH V AH N", "IY L EH V AH N"}, 11},
    {"twelve", {"T W EH L V", NULL}, 12},
    {"thirteen", {"TH ER T IY N", NULL}, 13},
    {"fourteen", {"F AO R T IY N", NULL}, 14},
    {"fifteen", {"F IH F T IY N", NULL}, 15},
    {"sixteen", {"S IH K S T IY N", NULL}, 16},
    {"seventeen", {"S EH V AH N T IY N", NULL}, 17},
    {"eighteen", {"EY T IY N", NULL}, 18},
    {"nineteen", {"N AY N T IY N", NULL}, 19},
    {"twenty", {"T W EH N T IY", "T W EH N IY"}, 20},
    {"and", {"AH N D", "AE N D", "EH N D", "AH N"}, 0},
    {"remove", {"R IY M UW V", NULL}, 0},
    {"no", {"N OW", NULL}, 0},
    {"the", {"DH AH", "DH IY"}, 0},
    {VOICE_TOKEN_THATS_ALL, {"DH AE T S AO L", NULL}, 0},
};
#define FIXED_QTY_LAST 21 /* "twenty" */
static_assert(VOICE_QTY_MAX == 20, "FIXED lists the quantities up to twenty");

/* Units dropped from catalog names ("250g" has a digit and goes anyway). */
static const char *const UNITS[] = {"g",  "kg", "mg",  "ml", "cl", "dl",  "l", "lt",
                                    "oz", "lb", "lbs", "x",  "pc", "pcs", "pk"};

struct voice_grammar {
    voice_phrase *phrases; /* sorted by token */
    size_t n_phrases;
    voice_word *words; /* FIXED, then one per phrase in the same order */
    size_t n_words;
    kbuf jsgf; /* NUL-terminated */
    char notes[VOICE_NOTES_MAX][VOICE_NOTE_MAX];
    size_t n_notes;
};

int voice_qty_of(const char *token)
{
    for (size_t i = 0; i <= FIXED_QTY_LAST; i++)
        if (strcmp(FIXED[i].token, token) == 0)
            return FIXED[i].qty;
    return 0;
}

static void note(voice_grammar *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(voice_grammar *g, const char *fmt, ...)
{
    if (g->n_notes < VOICE_NOTES_MAX) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->notes[g->n_notes], VOICE_NOTE_MAX, fmt, ap);
        va_end(ap);
    }
    g->n_notes++;
}

/* ---- words of a name ---- */

typedef struct spoken {
    size_t n;
    char words[VOICE_PHRASE_WORDS_MAX][VOICE_WORD_MAX + 1];
    bool acronym[VOICE_PHRASE_WORDS_MAX];
} spoken;

/* Latin-1 letters U+00C0..U+00FF as ASCII ('\0': not a letter). */
static const char LATIN1[64 + 1] = "aaaaaaaceeeeiiii"
                                   "dnooooo\0ouuuuyts"
                                   "aaaaaaaceeeeiiii"
                                   "dnooooo\0ouuuuyty";

static bool is_unit(const char *w)
{
    for (size_t i = 0; i < KASSA_ARRAY_LEN(UNITS); i++)
        if (strcmp(w, UNITS[i]) == 0)
            return true;
    return false;
}

static void spoken_push(spoken *s, const char *raw, size_t n, bool digit, bool upper, bool lower,
                        size_t *text_len)
{
    /* Apostrophes at the ends are quotes. */
    while (n > 0 && raw[0] == '\'') {
        raw++;
        n--;
    }
    while (n > 0 && raw[n - 1] == '\'')
        n--;
    if (n == 0 || digit || n > VOICE_WORD_MAX || s->n == VOICE_PHRASE_WORDS_MAX)
        return;
    char w[VOICE_WORD_MAX + 1];
    bool letter = false;
    for (size_t i = 0; i < n; i++) {
        w[i] = (char)tolower((unsigned char)raw[i]);
        letter = letter || w[i] != '\'';
    }
    w[n] = '\0';
    if (!letter || is_unit(w))
        return;
    if (*text_len + (s->n ? 1 : 0) + n > VOICE_PHRASE_MAX)
        return;
    *text_len += (s->n ? 1 : 0) + n;
    memcpy(s->words[s->n], w, n + 1);
    s->acronym[s->n] = upper && !lower && n >= 2;
    s->n++;
}

/* Splits a UTF-8 catalog name into spoken words: ASCII and Latin-1
 * letters and inner apostrophes; words with digits and units dropped;
 * everything else separates words. */
static void spoken_from_name(const char *name, spoken *s)
{
    memset(s, 0, sizeof *s);
    char raw[VOICE_WORD_MAX * 2 + 1];
    size_t n = 0, text_len = 0;
    bool digit = false, upper = false, lower = false, overlong = false;
    const unsigned char *p = (const unsigned char *)name;
    for (;;) {
        char c = 0;
        size_t adv = 1;
        bool part = false;
        if (*p >= 'a' && *p <= 'z') {
            c = (char)*p, part = lower = true;
        } else if (*p >= 'A' && *p <= 'Z') {
            c = (char)*p, part = upper = true;
        } else if (*p >= '0' && *p <= '9') {
            part = digit = true;
        } else if (*p == '\'') {
            c = '\'', part = true;
        } else if (*p == 0xE2 && p[1] == 0x80 && p[2] == 0x99) { /* U+2019 */
            c = '\'', part = true, adv = 3;
        } else if (*p == 0xC3 && p[1] >= 0x80 && p[1] <= 0xBF) { /* U+00C0..U+00FF */
            size_t i = (size_t)(p[1] - 0x80);
            c = LATIN1[i];
            part = c != 0;
            if (part && p[1] < 0xA0)
                upper = true;
            else if (part)
                lower = true;
            adv = 2;
        }
        if (part) {
            if (c && n < sizeof raw - 1)
                raw[n++] = c;
            else if (c)
                overlong = true;
            p += adv;
            continue;
        }
        if (n > 0 || digit)
            spoken_push(s, raw, overlong ? VOICE_WORD_MAX + 1 : n, digit, upper, lower, &text_len);
        n = 0;
        digit = upper = lower = overlong = false;
        if (*p == 0)
            break;
        /* Skip the rest of a multi-byte sequence as one separator. */
        p++;
        while ((*p & 0xC0) == 0x80)
            p++;
    }
}

/* ---- candidate forms ---- */

typedef struct form {
    voice_phrase ph;
    char prons[VOICE_PRON_VARIANTS_MAX][VOICE_PRON_MAX + 1];
    size_t n_prons;
    voice_pron_source source;
    bool keep;
} form;

typedef struct forms {
    form *v;
    size_t n, cap;
} forms;

static form *forms_push(forms *f)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        form *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return NULL;
        f->v = v;
        f->cap = cap;
    }
    form *x = &f->v[f->n++];
    memset(x, 0, sizeof *x);
    return x;
}

/* Pronunciations of words: every combination of their variants, first
 * ones first, at most VOICE_PRON_VARIANTS_MAX. */
static int pron_words(const voice_lexicon *lx, const spoken *s, form *f, kassa_err *err)
{
    char v[VOICE_PHRASE_WORDS_MAX][VOICE_PRON_VARIANTS_MAX][VOICE_PRON_MAX + 1];
    size_t nv[VOICE_PHRASE_WORDS_MAX];
    f->source = VOICE_PRON_DICT;
    for (size_t i = 0; i < s->n; i++) {
        voice_pron_source src;
        int rc = voice_pronounce(lx, s->words[i], s->acronym[i], v[i], &nv[i], &src, err);
        if (rc != KASSA_OK)
            return rc;
        if (src > f->source)
            f->source = src;
    }
    f->n_prons = 0;
    size_t idx[VOICE_PHRASE_WORDS_MAX] = {0};
    for (int combos = 0; combos < 16 && f->n_prons < VOICE_PRON_VARIANTS_MAX; combos++) {
        char *out = f->prons[f->n_prons];
        size_t o = 0;
        bool fits = true;
        for (size_t i = 0; i < s->n && fits; i++) {
            size_t l = strlen(v[i][idx[i]]);
            if (o + (o ? 1 : 0) + l > VOICE_PRON_MAX) {
                fits = false;
                break;
            }
            if (o)
                out[o++] = ' ';
            memcpy(out + o, v[i][idx[i]], l + 1);
            o += l;
        }
        if (fits)
            f->n_prons++;
        /* Next combination, the last word's variants fastest. */
        size_t k = s->n;
        while (k > 0) {
            k--;
            if (++idx[k] < nv[k])
                break;
            idx[k] = 0;
            if (k == 0) {
                k = SIZE_MAX;
                break;
            }
        }
        if (k == SIZE_MAX || s->n == 0)
            break;
    }
    if (f->n_prons == 0)
        return kassa_fail(err, KASSA_EINVAL, "pronunciation longer than %d bytes", VOICE_PRON_MAX);
    return KASSA_OK;
}

static void spoken_text(const spoken *s, char *text, char *token)
{
    size_t t = 0, k = strlen(TOKEN_PREFIX);
    memcpy(token, TOKEN_PREFIX, k);
    for (size_t i = 0; i < s->n; i++) {
        if (i) {
            text[t++] = ' ';
            token[k++] = '_';
        }
        for (const char *c = s->words[i]; *c; c++) {
            text[t++] = *c;
            if (*c != '\'')
                token[k++] = *c;
        }
    }
    text[t] = '\0';
    token[k] = '\0';
    assert(t <= VOICE_PHRASE_MAX && k <= VOICE_TOKEN_MAX);
}

/* Adds the form of s (one of its spoken shapes) with pronunciations from
 * the words, or from given (already for this shape) when non-NULL. */
static int add_form(forms *fs, const char *sku, const spoken *s, bool one, bool many, bool synonym,
                    const char *given, const voice_lexicon *lx, kassa_err *err)
{
    form *f = forms_push(fs);
    if (!f)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory building the grammar");
    snprintf(f->ph.sku, sizeof f->ph.sku, "%s", sku);
    spoken_text(s, f->ph.text, f->ph.token);
    f->ph.one = one;
    f->ph.many = many;
    f->ph.synonym = synonym;
    f->keep = true;
    if (given) {
        snprintf(f->prons[0], sizeof f->prons[0], "%s", given);
        f->n_prons = 1;
        f->source = VOICE_PRON_GIVEN;
        return KASSA_OK;
    }
    return pron_words(lx, s, f, err);
}

/* The word that takes the plural: the last, or the one before "of"
 * ("bouquet of tulips"). */
static size_t head_word(const spoken *s)
{
    for (size_t i = 1; i + 1 < s->n; i++)
        if (strcmp(s->words[i], "of") == 0)
            return i - 1;
    return s->n - 1;
}

/* Adds the singular and plural forms of one spoken name. */
static int add_name(forms *fs, const char *sku, const spoken *s, bool synonym, const char *given,
                    const voice_lexicon *lx, kassa_err *err)
{
    assert(s->n > 0);
    size_t h = head_word(s);
    const char *head = s->words[h];
    char probe[VOICE_PRON_VARIANTS_MAX][VOICE_PRON_MAX + 1];
    if (voice_word_invariant(head))
        return add_form(fs, sku, s, true, true, synonym, given, lx, err);
    char forms_[VOICE_FORMS_MAX][VOICE_WORD_MAX + 1];
    /* Is the name plural? A singular form in the dictionary says so; with
     * no dictionary entry either way, the spelling decides. */
    size_t nf = voice_singular_forms(head, forms_);
    size_t pick = SIZE_MAX;
    for (size_t i = 0; i < nf && pick == SIZE_MAX; i++)
        if (voice_lexicon_find(lx, forms_[i], probe) > 0)
            pick = i;
    bool plural = pick != SIZE_MAX;
    if (!plural && nf > 0 && voice_lexicon_find(lx, head, probe) == 0) {
        plural = true;
        pick = 0;
    }
    /* A given pronunciation changes at its end only: the head must be the
     * last word. */
    char other_pron[VOICE_PRON_MAX + 1];
    bool other_ok = !given || h + 1 == s->n;
    if (!plural) {
        nf = voice_plural_forms(head, forms_);
        pick = 0;
        for (size_t i = 0; i < nf; i++)
            if (voice_lexicon_find(lx, forms_[i], probe) > 0) {
                pick = i;
                break;
            }
        if (given && other_ok)
            other_ok = voice_pron_pluralize(given, other_pron);
    } else if (given && other_ok) {
        other_ok = voice_pron_singularize(given, other_pron) && other_pron[0];
    }
    int rc = add_form(fs, sku, s, !plural, plural, synonym, given, lx, err);
    if (rc != KASSA_OK || nf == 0 || !other_ok)
        return rc;
    size_t text_len = strlen(forms_[pick]);
    for (size_t i = 0; i < s->n; i++)
        if (i != h)
            text_len += strlen(s->words[i]) + 1;
    if (text_len > VOICE_PHRASE_MAX)
        return KASSA_OK; /* the other form does not fit: this one alone */
    spoken other = *s;
    memcpy(other.words[h], forms_[pick], strlen(forms_[pick]) + 1);
    return add_form(fs, sku, &other, plural, !plural, synonym, given ? other_pron : NULL, lx, err);
}

static int spoken_from_phrase(const char *phrase, spoken *s)
{
    memset(s, 0, sizeof *s);
    size_t text_len = 0;
    const char *p = phrase;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        if (p > w)
            spoken_push(s, w, (size_t)(p - w), false, false, true, &text_len);
    }
    return s->n > 0 ? 0 : -1;
}

static int cmp_form(const void *a, const void *b)
{
    const form *x = a, *y = b;
    int c = strcmp(x->ph.token, y->ph.token);
    if (c)
        return c;
    c = strcmp(x->ph.sku, y->ph.sku);
    if (c)
        return c;
    /* Synonyms first, so their given pronunciations win a merge. */
    return (int)y->ph.synonym - (int)x->ph.synonym;
}

/* One entry per token: merges forms of one SKU, settles clashes between
 * SKUs (a synonym beats derived names; two synonyms are an error). */
static int resolve(voice_grammar *g, forms *fs, kassa_err *err)
{
    if (fs->n > 0)
        qsort(fs->v, fs->n, sizeof *fs->v, cmp_form);
    for (size_t i = 0; i < fs->n;) {
        size_t j = i;
        while (j < fs->n && strcmp(fs->v[j].ph.token, fs->v[i].ph.token) == 0)
            j++;
        const char *syn_sku = NULL;
        bool clash = false;
        for (size_t k = i; k < j; k++) {
            clash = clash || strcmp(fs->v[k].ph.sku, fs->v[i].ph.sku) != 0;
            if (!fs->v[k].ph.synonym)
                continue;
            if (syn_sku && strcmp(syn_sku, fs->v[k].ph.sku) != 0)
                return kassa_fail(err, KASSA_EINVAL, "synonyms: \"%s\" is given for both %s and %s",
                                  fs->v[k].ph.text, syn_sku, fs->v[k].ph.sku);
            syn_sku = fs->v[k].ph.sku;
        }
        if (clash && !syn_sku)
            note(g, "\"%s\" could be %s or %s: left out (add a synonym)", fs->v[i].ph.text,
                 fs->v[i].ph.sku, fs->v[j - 1].ph.sku);
        form *keep = NULL;
        for (size_t k = i; k < j; k++) {
            form *f = &fs->v[k];
            f->keep = false;
            if (clash && (!syn_sku || strcmp(f->ph.sku, syn_sku) != 0)) {
                if (syn_sku)
                    note(g, "\"%s\" means %s (a synonym), not %s", f->ph.text, syn_sku, f->ph.sku);
                continue;
            }
            if (!keep) {
                keep = f;
                f->keep = true;
            } else {
                keep->ph.one = keep->ph.one || f->ph.one;
                keep->ph.many = keep->ph.many || f->ph.many;
                keep->ph.synonym = keep->ph.synonym || f->ph.synonym;
                /* The same phrase given twice: both pronunciations. */
                for (size_t v = 0; v < f->n_prons && keep->n_prons < VOICE_PRON_VARIANTS_MAX; v++) {
                    bool dup = false;
                    for (size_t u = 0; u < keep->n_prons; u++)
                        dup = dup || strcmp(keep->prons[u], f->prons[v]) == 0;
                    if (!dup)
                        memcpy(keep->prons[keep->n_prons++], f->prons[v], sizeof f->prons[v]);
                }
                if (f->source > keep->source)
                    keep->source = f->source;
            }
        }
        i = j;
    }
    return KASSA_OK;
}

/* ---- JSGF ---- */

static void put_str(kbuf *b, const char *s)
{
    kbuf_put(b, s, strlen(s));
}

/* Product classes of the grammar: singular after "a", singular after
 * "an", plural. */
enum { CLASS_A, CLASS_AN, CLASS_MANY, CLASS_COUNT };
static const char *const CLASS_RULE[CLASS_COUNT] = {"<one_c>", "<one_v>", "<many>"};

static bool in_class(const voice_phrase *p, int c)
{
    switch (c) {
    case CLASS_A:
        return p->one && !p->vowel;
    case CLASS_AN:
        return p->one && p->vowel;
    default:
        return p->many;
    }
}

/* JSGF weights are probabilities: pocketsphinx adds their log to a path
 * that takes the alternative. Only weights on words count (a weight on a
 * rule reference is lost when the grammar becomes a state machine), so
 * every weighted alternative starts with a word. */
static void put_weight(kbuf *b, double w)
{
    char x[48];
    snprintf(x, sizeof x, "/%g/ ", w);
    put_str(b, x);
}

/* Writes "first | second | ..." from parts that are present. */
static void put_alts(kbuf *b, const char *const *alts, const bool *present, size_t n)
{
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (!present[i])
            continue;
        if (!first)
            put_str(b, " | ");
        put_str(b, alts[i]);
        first = false;
    }
}

/* <name> = w word | w word ... over the products of the classes. */
static void put_products(kbuf *b, const voice_grammar *g, const char *name, bool cls[CLASS_COUNT],
                         double w)
{
    put_str(b, name);
    put_str(b, " = ");
    bool first = true;
    for (size_t i = 0; i < g->n_phrases; i++) {
        const voice_phrase *p = &g->phrases[i];
        bool in = false;
        for (int c = 0; c < CLASS_COUNT; c++)
            in = in || (cls[c] && in_class(p, c));
        if (!in)
            continue;
        if (!first)
            put_str(b, " | ");
        if (w != 1.0)
            put_weight(b, w);
        put_str(b, p->token);
        first = false;
    }
    put_str(b, " ;\n");
}

static void put_words(kbuf *b, const char *name, size_t from, size_t to, double w)
{
    put_str(b, name);
    put_str(b, " = ");
    for (size_t i = from; i <= to; i++) {
        if (i > from)
            put_str(b, " | ");
        if (w != 1.0)
            put_weight(b, w);
        put_str(b, FIXED[i].token);
    }
    put_str(b, " ;\n");
}

/* The lines of an order, twice: <line> as said first or after "and", and
 * <line_c> following another line without "and", whose first word
 * carries that weight. */
static void put_lines(kbuf *b, const bool has[CLASS_COUNT], bool cont, double w_cont)
{
    const char *sfx = cont ? "_c" : "";
    char x[160];
    snprintf(x, sizeof x, "<line%s> = <add%s> | <remove%s> ;\n", sfx, sfx, sfx);
    put_str(b, x);
    char a[3][48];
    snprintf(a[0], sizeof a[0], "<a%s> <one_c>", sfx);
    snprintf(a[1], sizeof a[1], "<an%s> <one_v>", sfx);
    snprintf(a[2], sizeof a[2], "<qty_many%s> <many>", sfx);
    const char *alts[4] = {a[0], a[1], a[2], cont ? "<bare_c>" : "<bare>"};
    bool present[4] = {has[CLASS_A], has[CLASS_AN], has[CLASS_MANY], has[CLASS_A] || has[CLASS_AN]};
    snprintf(x, sizeof x, "<add%s> = ", sfx);
    put_str(b, x);
    put_alts(b, alts, present, 4);
    put_str(b, " ;\n");
    snprintf(x, sizeof x, "<remove%s> = ", sfx);
    put_str(b, x);
    if (cont)
        put_weight(b, w_cont);
    put_str(b, "remove <target> | ");
    if (cont)
        put_weight(b, w_cont);
    put_str(b, "no <any> ;\n");
}

static void make_jsgf(voice_grammar *g)
{
    bool has[CLASS_COUNT] = {false, false, false};
    for (size_t i = 0; i < g->n_phrases; i++)
        for (int c = 0; c < CLASS_COUNT; c++)
            has[c] = has[c] || in_class(&g->phrases[i], c);
    assert(has[CLASS_A] || has[CLASS_AN] || has[CLASS_MANY]);
    const double w_and = 1.0, w_noand = GRAMMAR_W_NO_AND, w_bare = GRAMMAR_W_BARE;
    kbuf *b = &g->jsgf;
    put_str(b, "#JSGF V1.0;\n"
               "grammar kassa_order;\n"
               "public <order> = <line> <next> * <end> | " VOICE_TOKEN_THATS_ALL " ;\n"
               "<next> = ");
    put_weight(b, w_and);
    put_str(b, "and <line> | /1/ <line_c> ;\n"
               "<end> = [ [ and ] " VOICE_TOKEN_THATS_ALL " ] ;\n");
    put_lines(b, has, false, 1.0);
    put_lines(b, has, true, w_noand);
    /* After "remove" any form goes, with or without a quantity. */
    put_str(b, "<target> = ");
    const char *targets[4] = {"<a> <one_c>", "<an> <one_v>", "<qty_many> <many>",
                              "the <any> | <any>"};
    bool tpresent[4] = {has[CLASS_A], has[CLASS_AN], has[CLASS_MANY], true};
    put_alts(b, targets, tpresent, 4);
    put_str(b, " ;\n<any> = ");
    put_alts(b, CLASS_RULE, has, CLASS_COUNT);
    put_str(b, " ;\n");
    /* Quantities: "a" before a consonant, "an" before a vowel, "one"
     * before either; index 0 "a", 1 "an", 2 "one", 3.. "two".. */
    for (int cont = 0; cont < 2; cont++) {
        double w = cont ? w_noand : 1.0;
        const char *sfx = cont ? "_c" : "";
        char name[32];
        snprintf(name, sizeof name, "<a%s> = ", sfx);
        put_str(b, name);
        if (w != 1.0)
            put_weight(b, w);
        put_str(b, "a | ");
        if (w != 1.0)
            put_weight(b, w);
        put_str(b, "one ;\n");
        snprintf(name, sizeof name, "<an%s> = ", sfx);
        put_str(b, name);
        if (w != 1.0)
            put_weight(b, w);
        put_str(b, "an | ");
        if (w != 1.0)
            put_weight(b, w);
        put_str(b, "one ;\n");
        snprintf(name, sizeof name, "<qty_many%s>", sfx);
        put_words(b, name, 3, FIXED_QTY_LAST, w);
    }
    /* A product alone is one of it, a little less likely than with "a". */
    bool singular[CLASS_COUNT] = {true, true, false};
    if (has[CLASS_A] || has[CLASS_AN]) {
        put_products(b, g, "<bare>", singular, w_bare);
        put_products(b, g, "<bare_c>", singular, w_bare * w_noand);
    }
    for (int c = 0; c < CLASS_COUNT; c++) {
        if (!has[c])
            continue;
        bool only[CLASS_COUNT] = {false, false, false};
        only[c] = true;
        put_products(b, g, CLASS_RULE[c], only, 1.0);
    }
    kbuf_put_u8(b, 0);
}

/* ---- building ---- */

static int find_item(const voice_item *items, size_t n, const char *sku)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].sku, sku) == 0)
            return (int)i;
    return -1;
}

static int build(voice_grammar *g, const voice_item *items, size_t n_items,
                 const voice_synonym *syn, size_t n_syn, const voice_lexicon *lx, forms *fs,
                 kassa_err *err)
{
    if (n_items > VOICE_ITEMS_MAX)
        return kassa_fail(err, KASSA_EINVAL, "%zu catalog items; the voice grammar takes %d",
                          n_items, VOICE_ITEMS_MAX);
    if (n_syn > VOICE_SYNONYMS_MAX)
        return kassa_fail(err, KASSA_EINVAL, "%zu synonyms; at most %d", n_syn, VOICE_SYNONYMS_MAX);
    spoken s;
    int rc;
    for (size_t i = 0; i < n_items; i++) {
        if (!items[i].sku || !kassa_valid_id(items[i].sku, KASSA_SKU_MAX) || !items[i].name)
            return kassa_fail(err, KASSA_EINVAL, "catalog item %zu: bad SKU or no name", i);
        spoken_from_name(items[i].name, &s);
        if (s.n == 0)
            continue;
        rc = add_name(fs, items[i].sku, &s, false, NULL, lx, err);
        if (rc != KASSA_OK)
            return rc;
    }
    for (size_t i = 0; i < n_syn; i++) {
        if (find_item(items, n_items, syn[i].sku) < 0) {
            note(g, "synonym \"%.64s\" names %s, not in the catalog", syn[i].phrase, syn[i].sku);
            continue;
        }
        if (spoken_from_phrase(syn[i].phrase, &s) != 0) {
            note(g, "synonym of %s has no words", syn[i].sku);
            continue;
        }
        const char *given = syn[i].pron[0] ? syn[i].pron : NULL;
        char norm[VOICE_PRON_MAX + 1];
        if (given) {
            rc = voice_pron_normalize(given, norm, err);
            if (rc != KASSA_OK)
                return rc;
            given = norm;
        }
        rc = add_name(fs, syn[i].sku, &s, true, given, lx, err);
        if (rc != KASSA_OK)
            return rc;
    }
    if (fs->n > VOICE_PHRASES_MAX)
        return kassa_fail(err, KASSA_EINVAL, "%zu spoken forms; the voice grammar takes %d", fs->n,
                          VOICE_PHRASES_MAX);
    rc = resolve(g, fs, err);
    if (rc != KASSA_OK)
        return rc;
    size_t kept = 0;
    for (size_t i = 0; i < fs->n; i++)
        kept += fs->v[i].keep;
    if (kept == 0)
        return kassa_fail(err, KASSA_EINVAL,
                          "no product has a speakable name: the voice grammar would be empty");
    g->phrases = calloc(kept, sizeof *g->phrases);
    g->words = calloc(KASSA_ARRAY_LEN(FIXED) + kept, sizeof *g->words);
    if (!g->phrases || !g->words)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory building the grammar");
    for (size_t i = 0; i < KASSA_ARRAY_LEN(FIXED); i++) {
        voice_word *w = &g->words[g->n_words++];
        snprintf(w->token, sizeof w->token, "%s", FIXED[i].token);
        for (size_t k = 0; k < 4 && FIXED[i].prons[k]; k++)
            snprintf(w->prons[w->n_prons++], sizeof w->prons[0], "%s", FIXED[i].prons[k]);
        w->source = VOICE_PRON_BUILTIN;
    }
    for (size_t i = 0; i < fs->n; i++) {
        const form *f = &fs->v[i];
        if (!f->keep)
            continue;
        g->phrases[g->n_phrases] = f->ph;
        g->phrases[g->n_phrases++].vowel = voice_pron_starts_vowel(f->prons[0]);
        voice_word *w = &g->words[g->n_words++];
        memcpy(w->token, f->ph.token, sizeof w->token);
        memcpy(w->prons, f->prons, sizeof w->prons);
        w->n_prons = f->n_prons;
        w->source = f->source;
        if (f->source >= VOICE_PRON_COMPOUND)
            note(g, "\"%s\" (%s): pronounced %s by %s", f->ph.text, f->ph.sku, f->prons[0],
                 voice_pron_source_name(f->source));
    }
    for (size_t i = 0; i < n_items; i++) {
        bool has = false;
        for (size_t k = 0; k < g->n_phrases && !has; k++)
            has = strcmp(g->phrases[k].sku, items[i].sku) == 0;
        if (!has)
            note(g, "%s has no spoken name (add a synonym)", items[i].sku);
    }
    make_jsgf(g);
    if (g->jsgf.oom)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory writing the grammar");
    return KASSA_OK;
}

int voice_grammar_build(const voice_item *items, size_t n_items, const voice_synonym *syn,
                        size_t n_syn, const voice_lexicon *lx, voice_grammar **out, kassa_err *err)
{
    *out = NULL;
    voice_grammar *g = calloc(1, sizeof *g);
    if (!g)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory building the grammar");
    kbuf_init(&g->jsgf);
    forms fs = {0};
    int rc = build(g, items, n_items, syn, n_syn, lx, &fs, err);
    free(fs.v);
    if (rc != KASSA_OK) {
        voice_grammar_free(g);
        return rc;
    }
    *out = g;
    return KASSA_OK;
}

void voice_grammar_free(voice_grammar *g)
{
    if (!g)
        return;
    free(g->phrases);
    free(g->words);
    kbuf_free(&g->jsgf);
    free(g);
}

const char *voice_grammar_jsgf(const voice_grammar *g)
{
    return (const char *)g->jsgf.data;
}

size_t voice_grammar_phrase_count(const voice_grammar *g)
{
    return g->n_phrases;
}

const voice_phrase *voice_grammar_phrase(const voice_grammar *g, size_t i)
{
    assert(i < g->n_phrases);
    return &g->phrases[i];
}

size_t voice_grammar_word_count(const voice_grammar *g)
{
    return g->n_words;
}

const voice_word *voice_grammar_word(const voice_grammar *g, size_t i)
{
    assert(i < g->n_words);
    return &g->words[i];
}

static int cmp_token_phrase(const void *key, const void *elem)
{
    return strcmp(key, ((const voice_phrase *)elem)->token);
}

static const voice_phrase *find_phrase(const voice_grammar *g, const char *token)
{
    return bsearch(token, g->phrases, g->n_phrases, sizeof *g->phrases, cmp_token_phrase);
}

const voice_word *voice_grammar_find_word(const voice_grammar *g, const char *token)
{
    for (size_t i = 0; i < KASSA_ARRAY_LEN(FIXED); i++)
        if (strcmp(g->words[i].token, token) == 0)
            return &g->words[i];
    const voice_phrase *p = find_phrase(g, token);
    if (!p)
        return NULL;
    return &g->words[KASSA_ARRAY_LEN(FIXED) + (size_t)(p - g->phrases)];
}

size_t voice_grammar_note_count(const voice_grammar *g)
{
    return g->n_notes;
}

const char *voice_grammar_note(const voice_grammar *g, size_t i)
{
    assert(i < VOICE_NOTES_MAX && i < g->n_notes);
    return g->notes[i];
}

/* ---- hypotheses ---- */

const char *voice_status_name(voice_status s)
{
    switch (s) {
    case VOICE_HEARD:
        return "heard";
    case VOICE_NO_SPEECH:
        return "no_speech";
    case VOICE_OUT_OF_GRAMMAR:
        return "out_of_grammar";
    case VOICE_LOW_CONFIDENCE:
        return "low_confidence";
    }
    return "?";
}

static int add_change(voice_result *res, voice_op op, const char *sku, int64_t qty, kassa_err *err)
{
    for (size_t i = 0; i < res->n_changes; i++) {
        voice_change *c = &res->changes[i];
        if (c->op != op || strcmp(c->sku, sku) != 0)
            continue;
        if (op == VOICE_OP_REMOVE && (c->qty == VOICE_QTY_ALL || qty == VOICE_QTY_ALL))
            c->qty = VOICE_QTY_ALL;
        else
            c->qty += qty;
        return KASSA_OK;
    }
    if (res->n_changes == VOICE_CHANGES_MAX)
        return kassa_fail(err, KASSA_EINVAL, "more than %d changes in one order",
                          VOICE_CHANGES_MAX);
    voice_change *c = &res->changes[res->n_changes++];
    c->op = op;
    snprintf(c->sku, sizeof c->sku, "%s", sku);
    c->qty = qty;
    return KASSA_OK;
}

static void heard_put(voice_result *res, size_t *o, const char *words)
{
    size_t n = strlen(words);
    if (*o + (*o ? 1 : 0) + n > VOICE_HEARD_MAX)
        return;
    if (*o)
        res->heard[(*o)++] = ' ';
    memcpy(res->heard + *o, words, n + 1);
    *o += n;
}

int voice_parse_hyp(const voice_grammar *g, const char *hyp, voice_result *res, kassa_err *err)
{
    res->status = VOICE_OUT_OF_GRAMMAR;
    res->heard[0] = '\0';
    res->done = false;
    res->n_changes = 0;
    char buf[VOICE_HEARD_MAX * 2 + 1];
    size_t len = strnlen(hyp, sizeof buf);
    if (len == sizeof buf)
        return kassa_fail(err, KASSA_EINVAL, "hypothesis longer than %zu bytes", sizeof buf - 1);
    memcpy(buf, hyp, len + 1);
    const char *tok[VOICE_HYP_WORDS_MAX];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, " \t\n", &save); t;
         t = strtok_r(NULL, " \t\n", &save)) {
        if (n == VOICE_HYP_WORDS_MAX)
            return kassa_fail(err, KASSA_EINVAL, "hypothesis of more than %d words",
                              VOICE_HYP_WORDS_MAX);
        tok[n++] = t;
    }
    if (n == 0)
        return kassa_fail(err, KASSA_EINVAL, "empty hypothesis");
    size_t o = 0;
    bool after_line = false; /* the last thing read was a whole line */
    for (size_t i = 0; i < n;) {
        const char *t = tok[i];
        if (strcmp(t, VOICE_TOKEN_THATS_ALL) == 0) {
            if (i + 1 != n)
                return kassa_fail(err, KASSA_EINVAL, "words after \"that's all\"");
            heard_put(res, &o, "that's all");
            res->done = true;
            break;
        }
        if (strcmp(t, "and") == 0) {
            if (!after_line || i + 1 == n)
                return kassa_fail(err, KASSA_EINVAL, "\"and\" without an item on each side");
            heard_put(res, &o, "and");
            after_line = false;
            i++;
            continue;
        }
        /* A line: [remove | no] [quantity | the] product. */
        voice_op op = VOICE_OP_ADD;
        bool no = false;
        if (strcmp(t, "remove") == 0 || strcmp(t, "no") == 0) {
            op = VOICE_OP_REMOVE;
            no = t[0] == 'n';
            heard_put(res, &o, t);
            if (++i == n)
                return kassa_fail(err, KASSA_EINVAL, "\"remove\" or \"no\" without a product");
            t = tok[i];
        }
        int qty = voice_qty_of(t);
        bool the = strcmp(t, "the") == 0;
        if (qty || the) {
            if (no)
                return kassa_fail(err, KASSA_EINVAL, "\"no\" takes a product alone");
            if (the && op == VOICE_OP_ADD)
                return kassa_fail(err, KASSA_EINVAL, "\"the\" only after \"remove\"");
            heard_put(res, &o, t);
            if (++i == n)
                return kassa_fail(err, KASSA_EINVAL, "a quantity without a product");
            t = tok[i];
        }
        const voice_phrase *p = find_phrase(g, t);
        if (!p)
            return kassa_fail(err, KASSA_EINVAL, "a word out of place in the hypothesis");
        if (qty == 1 && !p->one)
            return kassa_fail(err, KASSA_EINVAL, "a singular quantity before a plural");
        if (qty > 1 && !p->many)
            return kassa_fail(err, KASSA_EINVAL, "a plural quantity before a singular");
        if (qty == 0 && op == VOICE_OP_ADD && !p->one)
            return kassa_fail(err, KASSA_EINVAL, "a plural without a quantity");
        heard_put(res, &o, p->text);
        /* A remove without a number takes the whole line. */
        int64_t q = op == VOICE_OP_ADD ? (qty ? qty : 1) : qty;
        int rc = add_change(res, op, p->sku, q, err);
        if (rc != KASSA_OK)
            return rc;
        after_line = true;
        i++;
    }
    res->status = VOICE_HEARD;
    return KASSA_OK;
}

/* ---- synonyms ---- */

static const char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Normalises a synonym phrase: lower case, hyphens and runs of spaces to
 * one space. */
static bool phrase_norm(const char *in, char out[VOICE_PHRASE_MAX + 1])
{
    size_t o = 0, words = 0, wlen = 0;
    bool space = true;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '-') {
            space = true;
            continue;
        }
        if (!isalpha((unsigned char)c) && c != '\'')
            return false;
        if (space) {
            if (o > 0) {
                if (o == VOICE_PHRASE_MAX)
                    return false;
                out[o++] = ' ';
            }
            words++;
            wlen = 0;
            space = false;
        }
        if (o == VOICE_PHRASE_MAX || ++wlen > VOICE_WORD_MAX)
            return false;
        out[o++] = (char)tolower((unsigned char)c);
    }
    out[o] = '\0';
    return words >= 1 && words <= VOICE_PHRASE_WORDS_MAX;
}

int voice_synonyms_parse(const char *text, size_t len, voice_synonym **out, size_t *n,
                         kassa_err *err)
{
    *out = NULL;
    *n = 0;
    if (len > VOICE_SYNONYMS_MAX_BYTES)
        return kassa_fail(err, KASSA_EINVAL, "synonyms: %zu bytes; at most %u", len,
                          (unsigned)VOICE_SYNONYMS_MAX_BYTES);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    voice_synonym *v = NULL;
    size_t count = 0, cap = 0;
    unsigned line_no = 0;
    size_t pos = 0;
    int rc = KASSA_OK;
    while (pos < len && rc == KASSA_OK) {
        line_no++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t ll = end - pos;
        if (ll > 0 && text[pos + ll - 1] == '\r')
            ll--;
        char line[SYN_LINE_MAX + 1];
        if (ll > SYN_LINE_MAX) {
            rc = kassa_fail(err, KASSA_EINVAL, "synonyms line %u: longer than %d bytes", line_no,
                            SYN_LINE_MAX);
            break;
        }
        memcpy(line, text + pos, ll);
        line[ll] = '\0';
        pos = nl ? end + 1 : len;
        if (memchr(text + pos - (nl ? ll + 1 : ll), '\0', ll)) {
            rc = kassa_fail(err, KASSA_EINVAL, "synonyms line %u: a NUL byte", line_no);
            break;
        }
        const char *l = trim(line);
        if (*l == '\0' || *l == '#')
            continue;
        char *fields[SYN_FIELDS_MAX + 1];
        size_t nfields = 0;
        for (char *p = (char *)l;;) {
            if (nfields == SYN_FIELDS_MAX + 1)
                break;
            fields[nfields++] = p;
            char *comma = strchr(p, ',');
            if (!comma)
                break;
            *comma = '\0';
            p = comma + 1;
        }
        if (nfields < 2 || nfields > SYN_FIELDS_MAX) {
            rc = kassa_fail(err, KASSA_EINVAL,
                            "synonyms line %u: expected sku,phrase[,pronunciation]", line_no);
            break;
        }
        const char *sku = trim(fields[0]);
        const char *phrase = trim(fields[1]);
        const char *pron = nfields == 3 ? trim(fields[2]) : "";
        if (count == 0 && strcmp(sku, "sku") == 0 && strcmp(phrase, "phrase") == 0)
            continue; /* header */
        if (!kassa_valid_id(sku, KASSA_SKU_MAX)) {
            rc = kassa_fail(err, KASSA_EINVAL, "synonyms line %u: bad SKU", line_no);
            break;
        }
        voice_synonym s;
        memset(&s, 0, sizeof s);
        snprintf(s.sku, sizeof s.sku, "%s", sku);
        if (!phrase_norm(phrase, s.phrase)) {
            rc = kassa_fail(err, KASSA_EINVAL,
                            "synonyms line %u: the phrase must be 1..%d words of letters "
                            "(no digits or punctuation), at most %d bytes",
                            line_no, VOICE_PHRASE_WORDS_MAX, VOICE_PHRASE_MAX);
            break;
        }
        if (*pron) {
            kassa_err perr;
            if (voice_pron_normalize(pron, s.pron, &perr) != KASSA_OK) {
                rc = kassa_fail(err, KASSA_EINVAL, "synonyms line %u: %s", line_no, perr.msg);
                break;
            }
        }
        if (count == VOICE_SYNONYMS_MAX) {
            rc = kassa_fail(err, KASSA_EINVAL, "synonyms: more than %d lines", VOICE_SYNONYMS_MAX);
            break;
        }
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            voice_synonym *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                rc = kassa_fail(err, KASSA_ENOMEM, "out of memory reading synonyms");
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[count++] = s;
    }
    if (rc != KASSA_OK) {
        free(v);
        return rc;
    }
    *out = count ? v : NULL;
    if (!count)
        free(v);
    *n = count;
    return KASSA_OK;
}
