/*
 * voice/lexicon.c: pronunciations. The CMU dictionary in a hash table
 * (the file's text kept in one buffer, entries pointing into it), English
 * plural and singular forms, and the fallbacks for words the dictionary
 * lacks: inflection, compounds, spelled acronyms, letter-to-sound rules.
 */
#include "voice/voice_internal.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Letters of a dictionary word kept (longer lines are skipped). */
#define LEX_WORD_MAX 48
/* A compound is split into at most this many dictionary words, each at
 * least COMPOUND_PART_MIN letters long. */
#define COMPOUND_PARTS_MAX 3
#define COMPOUND_PART_MIN 3
/* Letters of an acronym spelled out ("AA", "TV", "USB"). */
#define ACRONYM_MAX 4

static const char *const PHONES[] = {
    "AA", "AE", "AH", "AO", "AW", "AY", "B",  "CH", "D", "DH", "EH", "ER", "EY",
    "F",  "G",  "HH", "IH", "IY", "JH", "K",  "L",  "M", "N",  "NG", "OW", "OY",
    "P",  "R",  "S",  "SH", "T",  "TH", "UH", "UW", "V", "W",  "Y",  "Z",  "ZH",
};

static bool phone_known(const char *p, size_t n)
{
    for (size_t i = 0; i < KASSA_ARRAY_LEN(PHONES); i++)
        if (strlen(PHONES[i]) == n && memcmp(PHONES[i], p, n) == 0)
            return true;
    return false;
}

const char *voice_pron_source_name(voice_pron_source s)
{
    switch (s) {
    case VOICE_PRON_BUILTIN:
        return "builtin";
    case VOICE_PRON_GIVEN:
        return "given";
    case VOICE_PRON_DICT:
        return "dictionary";
    case VOICE_PRON_INFLECTED:
        return "inflected";
    case VOICE_PRON_COMPOUND:
        return "compound";
    case VOICE_PRON_SPELLED:
        return "spelled";
    case VOICE_PRON_RULES:
        return "rules";
    }
    return "?";
}

/* Normalises phones in[0 .. n) into out (VOICE_PRON_MAX + 1 bytes): upper
 * case, stress digits dropped, one space apart. False when a phone is not
 * the model's, there is none, or it is too long. */
static bool pron_clean(const char *in, size_t n, char *out, bool keep_stress)
{
    size_t o = 0, i = 0, phones = 0;
    while (i < n) {
        while (i < n && (in[i] == ' ' || in[i] == '\t'))
            i++;
        if (i == n)
            break;
        char ph[4];
        size_t k = 0;
        char stress = 0;
        while (i < n && in[i] != ' ' && in[i] != '\t') {
            char c = in[i++];
            if (c >= '0' && c <= '2' && k > 0 && !stress) {
                stress = c;
                continue;
            }
            if (!isalpha((unsigned char)c) || k == 2 || stress)
                return false;
            ph[k++] = (char)toupper((unsigned char)c);
        }
        if (k == 0 || !phone_known(ph, k))
            return false;
        if (keep_stress && stress)
            ph[k++] = stress;
        if (o + (o ? 1 : 0) + k > VOICE_PRON_MAX)
            return false;
        if (o)
            out[o++] = ' ';
        memcpy(out + o, ph, k);
        o += k;
        phones++;
    }
    out[o] = '\0';
    return phones > 0;
}

int voice_pron_normalize(const char *in, char out[VOICE_PRON_MAX + 1], kassa_err *err)
{
    size_t n = strnlen(in, VOICE_PRON_MAX * 2 + 1);
    if (n > VOICE_PRON_MAX * 2 || !pron_clean(in, n, out, false))
        return kassa_fail(err, KASSA_EINVAL,
                          "pronunciation: phones of the en-us model (ARPAbet, e.g. \"K AA F IY\"), "
                          "at most %d bytes",
                          VOICE_PRON_MAX);
    return KASSA_OK;
}

/* ---- the dictionary ---- */

typedef struct lex_entry {
    const char *word;
    const char *pron;
} lex_entry;

struct voice_lexicon {
    char *text; /* the file, words and phones NUL-terminated in place */
    lex_entry *entries;
    size_t n_entries;
    uint32_t *slots; /* entry index + 1; 0 empty */
    size_t n_slots;  /* a power of two */
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

void voice_lexicon_free(voice_lexicon *lx)
{
    if (!lx)
        return;
    free(lx->text);
    free(lx->entries);
    free(lx->slots);
    free(lx);
}

size_t voice_lexicon_size(const voice_lexicon *lx)
{
    return lx ? lx->n_entries : 0;
}

/* Parses the lines of lx->text (len bytes, NUL-terminated) in place. */
static int lex_fill(voice_lexicon *lx, size_t len, size_t *skipped, kassa_err *err)
{
    size_t cap = 0, bad = 0;
    char *p = lx->text, *end = lx->text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        char *next = nl ? nl + 1 : end;
        if (line_end > p && line_end[-1] == '\r')
            line_end--;
        *line_end = '\0';
        char *w = p;
        p = next;
        if (*w == '\0' || *w == '#' || (*w == ';' && w[1] == ';'))
            continue;
        char *sp = w;
        while (*sp && *sp != ' ' && *sp != '\t')
            sp++;
        if (!*sp) {
            bad++;
            continue;
        }
        *sp = '\0';
        char *ph = sp + 1;
        /* "word(2)": a variant of "word". */
        size_t wl = strlen(w);
        if (wl > 3 && w[wl - 1] == ')') {
            char *open = strrchr(w, '(');
            if (open && open > w) {
                *open = '\0';
                wl = (size_t)(open - w);
            }
        }
        if (wl == 0 || wl > LEX_WORD_MAX) {
            bad++;
            continue;
        }
        for (size_t i = 0; i < wl; i++)
            w[i] = (char)tolower((unsigned char)w[i]);
        char norm[VOICE_PRON_MAX + 1];
        size_t pl = strlen(ph);
        if (!pron_clean(ph, pl, norm, true) || strlen(norm) > pl) {
            bad++;
            continue;
        }
        memcpy(ph, norm, strlen(norm) + 1); /* never longer than the original */
        if (lx->n_entries == VOICE_LEXICON_MAX_WORDS)
            return kassa_fail(err, KASSA_EINVAL, "dictionary: more than %d entries",
                              VOICE_LEXICON_MAX_WORDS);
        if (lx->n_entries == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            lex_entry *e = realloc(lx->entries, ncap * sizeof *e);
            if (!e)
                return kassa_fail(err, KASSA_ENOMEM, "out of memory reading the dictionary");
            lx->entries = e;
            cap = ncap;
        }
        lx->entries[lx->n_entries++] = (lex_entry){w, ph};
    }
    if (skipped)
        *skipped = bad;
    size_t slots = 1024;
    while (slots < lx->n_entries * 2)
        slots *= 2;
    lx->slots = calloc(slots, sizeof *lx->slots);
    if (!lx->slots)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory indexing the dictionary");
    lx->n_slots = slots;
    for (size_t i = 0; i < lx->n_entries; i++) {
        size_t s = (size_t)fnv1a(lx->entries[i].word) & (slots - 1);
        while (lx->slots[s])
            s = (s + 1) & (slots - 1);
        lx->slots[s] = (uint32_t)(i + 1);
    }
    return KASSA_OK;
}

int voice_lexicon_parse(const char *text, size_t len, voice_lexicon **out, size_t *skipped,
                        kassa_err *err)
{
    *out = NULL;
    if (len > VOICE_LEXICON_MAX_BYTES)
        return kassa_fail(err, KASSA_EINVAL, "dictionary of %zu bytes; at most %u", len,
                          (unsigned)VOICE_LEXICON_MAX_BYTES);
    voice_lexicon *lx = calloc(1, sizeof *lx);
    if (!lx || !(lx->text = malloc(len + 1))) {
        free(lx);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory reading the dictionary");
    }
    if (len)
        memcpy(lx->text, text, len);
    lx->text[len] = '\0';
    /* NUL bytes inside end lines early; nothing reads past len. */
    int rc = lex_fill(lx, len, skipped, err);
    if (rc != KASSA_OK) {
        voice_lexicon_free(lx);
        return rc;
    }
    *out = lx;
    return KASSA_OK;
}

int voice_lexicon_load(const char *path, voice_lexicon **out, size_t *skipped, kassa_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return kassa_fail(err, KASSA_EIO, "cannot open dictionary %s: %s", path, strerror(errno));
    char *buf = malloc(VOICE_LEXICON_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory reading the dictionary");
    }
    size_t n = fread(buf, 1, VOICE_LEXICON_MAX_BYTES + 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    int rc;
    if (failed)
        rc = kassa_fail(err, KASSA_EIO, "cannot read dictionary %s", path);
    else if (n > VOICE_LEXICON_MAX_BYTES)
        rc = kassa_fail(err, KASSA_EINVAL, "dictionary %s is larger than %u bytes", path,
                        (unsigned)VOICE_LEXICON_MAX_BYTES);
    else
        rc = voice_lexicon_parse(buf, n, out, skipped, err);
    free(buf);
    return rc;
}

/* Copies a dictionary pronunciation without its stress digits; an
 * unstressed `from` vowel becomes `to` (NULL: none changes). False when
 * nothing changed though a change was asked for. */
static bool unstress(const char *in, char *out, const char *from, const char *to)
{
    size_t o = 0;
    bool changed = false;
    for (const char *p = in; *p;) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        size_t k = n;
        if (k > 0 && p[k - 1] >= '0' && p[k - 1] <= '2')
            k--;
        const char *ph = p;
        if (from && p[n - 1] == '0' && k == strlen(from) && memcmp(p, from, k) == 0) {
            ph = to;
            k = strlen(to);
            changed = true;
        }
        if (o)
            out[o++] = ' ';
        memcpy(out + o, ph, k);
        o += k;
        p += n;
        while (*p == ' ')
            p++;
    }
    out[o] = '\0';
    return !from || changed;
}

static void add_variant(char prons[VOICE_PRON_VARIANTS_MAX][VOICE_PRON_MAX + 1], size_t *n,
                        const char *v)
{
    if (*n == VOICE_PRON_VARIANTS_MAX)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp(prons[i], v) == 0)
            return;
    snprintf(prons[(*n)++], VOICE_PRON_MAX + 1, "%s", v);
}

size_t voice_lexicon_find(const voice_lexicon *lx, const char *word,
                          char prons[VOICE_PRON_VARIANTS_MAX][VOICE_PRON_MAX + 1])
{
    if (!lx || !lx->n_slots)
        return 0;
    size_t n = 0;
    const char *found[VOICE_PRON_VARIANTS_MAX];
    size_t n_found = 0;
    size_t s = (size_t)fnv1a(word) & (lx->n_slots - 1);
    for (size_t probes = 0; probes < lx->n_slots && lx->slots[s]; probes++) {
        const lex_entry *e = &lx->entries[lx->slots[s] - 1];
        if (strcmp(e->word, word) == 0 && n_found < VOICE_PRON_VARIANTS_MAX)
            found[n_found++] = e->pron;
        s = (s + 1) & (lx->n_slots - 1);
    }
    /* The dictionary's own variants first, then the reduced vowels of
     * unstressed syllables said the other way (AH <-> IH: "muffin" is
     * M AH F AH N or M AH F IH N). */
    char v[VOICE_PRON_MAX + 1];
    for (size_t i = 0; i < n_found; i++)
        if (unstress(found[i], v, NULL, NULL))
            add_variant(prons, &n, v);
    for (size_t i = 0; i < n_found; i++) {
        if (unstress(found[i], v, "AH", "IH"))
            add_variant(prons, &n, v);
        if (unstress(found[i], v, "IH", "AH"))
            add_variant(prons, &n, v);
    }
    return n;
}

/* ---- English plural and singular ---- */

static const struct {
    const char *sing, *plur;
} IRREGULAR[] = {
    {"man", "men"},         {"woman", "women"},     {"child", "children"}, {"person", "people"},
    {"mouse", "mice"},      {"foot", "feet"},       {"tooth", "teeth"},    {"goose", "geese"},
    {"knife", "knives"},    {"loaf", "loaves"},     {"leaf", "leaves"},    {"half", "halves"},
    {"potato", "potatoes"}, {"tomato", "tomatoes"}, {"mango", "mangoes"},  {"cactus", "cacti"},
    {"shelf", "shelves"},   {"wife", "wives"},
};

static const char *const INVARIANT[] = {
    "fish", "sheep", "deer", "news", "series", "species", "aircraft", "salmon", "cod", "trout",
};

static bool is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

static bool ends_with(const char *w, const char *suffix)
{
    size_t n = strlen(w), m = strlen(suffix);
    return n >= m && strcmp(w + n - m, suffix) == 0;
}

bool voice_word_invariant(const char *word)
{
    for (size_t i = 0; i < KASSA_ARRAY_LEN(INVARIANT); i++)
        if (strcmp(word, INVARIANT[i]) == 0)
            return true;
    return false;
}

/* Appends the form stem[0 .. keep) + suffix when it fits, differs from
 * word and is new. */
static void add_form(char out[VOICE_FORMS_MAX][VOICE_WORD_MAX + 1], size_t *n, const char *word,
                     const char *stem, size_t keep, const char *suffix)
{
    size_t sl = strlen(suffix);
    if (*n == VOICE_FORMS_MAX || keep == 0 || keep + sl > VOICE_WORD_MAX)
        return;
    char f[VOICE_WORD_MAX + 1];
    memcpy(f, stem, keep);
    memcpy(f + keep, suffix, sl + 1);
    if (strcmp(f, word) == 0)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp(out[i], f) == 0)
            return;
    memcpy(out[(*n)++], f, keep + sl + 1);
}

size_t voice_plural_forms(const char *word, char out[VOICE_FORMS_MAX][VOICE_WORD_MAX + 1])
{
    size_t n = 0, len = strlen(word);
    if (len == 0 || len > VOICE_WORD_MAX || voice_word_invariant(word))
        return 0;
    for (size_t i = 0; i < KASSA_ARRAY_LEN(IRREGULAR); i++)
        if (strcmp(word, IRREGULAR[i].sing) == 0)
            add_form(out, &n, word, IRREGULAR[i].plur, strlen(IRREGULAR[i].plur), "");
    if (ends_with(word, "s") || ends_with(word, "x") || ends_with(word, "z") ||
        ends_with(word, "ch") || ends_with(word, "sh"))
        add_form(out, &n, word, word, len, "es");
    else if (len > 1 && word[len - 1] == 'y' && !is_vowel(word[len - 2]))
        add_form(out, &n, word, word, len - 1, "ies");
    else
        add_form(out, &n, word, word, len, "s");
    return n;
}

size_t voice_singular_forms(const char *word, char out[VOICE_FORMS_MAX][VOICE_WORD_MAX + 1])
{
    size_t n = 0, len = strlen(word);
    if (len == 0 || len > VOICE_WORD_MAX || voice_word_invariant(word))
        return 0;
    for (size_t i = 0; i < KASSA_ARRAY_LEN(IRREGULAR); i++)
        if (strcmp(word, IRREGULAR[i].plur) == 0)
            add_form(out, &n, word, IRREGULAR[i].sing, strlen(IRREGULAR[i].sing), "");
    if (len <= 3 || !ends_with(word, "s") || ends_with(word, "ss") || ends_with(word, "us") ||
        ends_with(word, "is"))
        return n;
    if (ends_with(word, "ies"))
        add_form(out, &n, word, word, len - 3, "y");
    if (ends_with(word, "ches") || ends_with(word, "shes") || ends_with(word, "xes") ||
        ends_with(word, "ses") || ends_with(word, "zes") || ends_with(word, "oes"))
        add_form(out, &n, word, word, len - 2, "");
    add_form(out, &n, word, word, len - 1, "");
    return n;
}

bool voice_word_looks_plural(const char *word)
{
    for (size_t i = 0; i < KASSA_ARRAY_LEN(IRREGULAR); i++)
        if (strcmp(word, IRREGULAR[i].plur) == 0)
            return true;
    char forms[VOICE_FORMS_MAX][VOICE_WORD_MAX + 1];
    return voice_singular_forms(word, forms) > 0;
}

bool voice_pron_starts_vowel(const char *pron)
{
    static const char *const VOWELS[] = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER",
                                         "EY", "IH", "IY", "OW", "OY", "UH", "UW"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(VOWELS); i++)
        if (strncmp(pron, VOWELS[i], 2) == 0 && (pron[2] == ' ' || pron[2] == '\0'))
            return true;
    return false;
}

static const char *last_phone(const char *pron)
{
    const char *sp = strrchr(pron, ' ');
    return sp ? sp + 1 : pron;
}

bool voice_pron_pluralize(const char *sing, char *out)
{
    const char *last = last_phone(sing);
    static const char *const SIBILANT[] = {"S", "Z", "SH", "ZH", "CH", "JH"};
    static const char *const VOICELESS[] = {"P", "T", "K", "F", "TH"};
    const char *suffix = "Z";
    for (size_t i = 0; i < KASSA_ARRAY_LEN(SIBILANT); i++)
        if (strcmp(last, SIBILANT[i]) == 0)
            suffix = "IH Z";
    for (size_t i = 0; i < KASSA_ARRAY_LEN(VOICELESS); i++)
        if (strcmp(last, VOICELESS[i]) == 0)
            suffix = "S";
    int n = snprintf(out, VOICE_PRON_MAX + 1, "%s %s", sing, suffix);
    return n > 0 && n <= VOICE_PRON_MAX;
}

bool voice_pron_singularize(const char *plur, char *out)
{
    size_t n = strlen(plur);
    const char *cut = NULL;
    if (n > 5 && (ends_with(plur, " IH Z") || ends_with(plur, " AH Z")))
        cut = plur + n - 5;
    else if (n > 2 && (ends_with(plur, " Z") || ends_with(plur, " S")))
        cut = plur + n - 2;
    if (!cut)
        return false;
    memcpy(out, plur, (size_t)(cut - plur));
    out[cut - plur] = '\0';
    return true;
}

/* ---- fallbacks ---- */

static const char *const LETTER_NAMES[26] = {
    "EY",
    "B IY",
    "S IY",
    "D IY",
    "IY",
    "EH F",
    "JH IY",
    "EY CH",
    "AY",
    "JH EY",
    "K EY",
    "EH L",
    "EH M",
    "EH N",
    "OW",
    "P IY",
    "K Y UW",
    "AA R",
    "EH S",
    "T IY",
    "Y UW",
    "V IY",
    "D AH B AH L Y UW",
    "EH K S",
    "W AY",
    "Z IY",
};

/* Appends phones to out (o bytes used); false when it would overflow. */
static bool put_phones(char *out, size_t *o, const char *phones)
{
    size_t n = strlen(phones);
    if (n == 0)
        return true;
    if (*o + (*o ? 1 : 0) + n > VOICE_PRON_MAX)
        return false;
    if (*o)
        out[(*o)++] = ' ';
    memcpy(out + *o, phones, n + 1);
    *o += n;
    return true;
}

static bool spell(const char *word, char *out)
{
    size_t o = 0;
    out[0] = '\0';
    for (const char *p = word; *p; p++)
        if (*p >= 'a' && *p <= 'z' && !put_phones(out, &o, LETTER_NAMES[*p - 'a']))
            return false;
    return o > 0;
}

/* Multi-letter spellings, longest first within each starting letter; "V"
 * in a pattern is any vowel letter, matched but not consumed; "#" is a
 * consonant or the end. */
static const struct {
    const char *g;
    const char *ph;
} LTS_GROUPS[] = {
    {"tch", "CH"}, {"sch", "S K"},  {"igh", "AY"}, {"eau", "OW"}, {"ough", "AO"}, {"ch", "CH"},
    {"sh", "SH"},  {"th", "TH"},    {"ph", "F"},   {"wh", "W"},   {"ck", "K"},    {"ng", "NG"},
    {"qu", "K W"}, {"ee", "IY"},    {"ea", "IY"},  {"oo", "UW"},  {"ou", "AW"},   {"ow", "OW"},
    {"oa", "OW"},  {"ai", "EY"},    {"ay", "EY"},  {"ei", "EY"},  {"ey", "EY"},   {"ie", "IY"},
    {"au", "AO"},  {"aw", "AO"},    {"oi", "OY"},  {"oy", "OY"},  {"ue", "UW"},   {"ew", "UW"},
    {"ui", "UW"},  {"ar#", "AA R"}, {"er#", "ER"}, {"ir#", "ER"}, {"ur#", "ER"},  {"or#", "AO R"},
    {"yr#", "ER"},
};

static bool lts_match(const char *w, size_t i, const char *g, size_t *used)
{
    size_t k = 0;
    for (; g[k] && g[k] != '#'; k++)
        if (w[i + k] != g[k])
            return false;
    if (g[k] == '#') {
        char next = w[i + k];
        if (next && (is_vowel(next) || next == 'y'))
            return false;
    }
    *used = k;
    return true;
}

/* Rough English letter-to-sound rules; enough for a decoder to match a
 * name it has no entry for. */
static bool lts(const char *w, char *out)
{
    size_t o = 0, len = strlen(w);
    out[0] = '\0';
    for (size_t i = 0; i < len;) {
        char c = w[i];
        if (c == '\'') {
            i++;
            continue;
        }
        /* Doubled consonants sound once. */
        if (i > 0 && c == w[i - 1] && !is_vowel(c)) {
            i++;
            continue;
        }
        if (i == 0 && (strncmp(w, "kn", 2) == 0 || strncmp(w, "wr", 2) == 0)) {
            i++;
            continue;
        }
        if (c == 'g' && w[i + 1] == 'h') {
            bool sounded = i == 0 || is_vowel(w[i + 2]) || w[i + 2] == 'u';
            if (!put_phones(out, &o, sounded ? "G" : ""))
                return false;
            i += 2;
            continue;
        }
        size_t used = 0;
        const char *ph = NULL;
        for (size_t g = 0; g < KASSA_ARRAY_LEN(LTS_GROUPS) && !ph; g++)
            if (lts_match(w, i, LTS_GROUPS[g].g, &used))
                ph = LTS_GROUPS[g].ph;
        if (ph) {
            if (!put_phones(out, &o, ph))
                return false;
            i += used;
            continue;
        }
        bool last = i + 1 == len;
        char next = w[i + 1];
        /* A vowel, one consonant, then a final 'e': the vowel is long. */
        bool magic_e = i + 3 == len && !is_vowel(next) && next != '\'' && w[i + 2] == 'e';
        switch (c) {
        case 'a':
            ph = magic_e ? "EY" : last ? "AH" : "AE";
            break;
        case 'e':
            ph = last ? (len <= 2 ? "IY" : "") : magic_e ? "IY" : "EH";
            break;
        case 'i':
            ph = magic_e ? "AY" : last ? "IY" : "IH";
            break;
        case 'o':
            ph = magic_e || last ? "OW" : "AA";
            break;
        case 'u':
            ph = magic_e || last ? "UW" : "AH";
            break;
        case 'y':
            ph = i == 0 ? "Y" : last ? (len <= 3 ? "AY" : "IY") : "IH";
            break;
        case 'c':
            ph = (next == 'e' || next == 'i' || next == 'y') ? "S" : "K";
            break;
        case 'g':
            ph = (next == 'e' || next == 'i' || next == 'y') ? "JH" : "G";
            break;
        case 'h':
            ph = (i > 0 && (last || !is_vowel(next))) ? "" : "HH";
            break;
        case 'j':
            ph = "JH";
            break;
        case 'q':
            ph = "K";
            break;
        case 'x':
            ph = "K S";
            break;
        default: {
            static const char *const PLAIN = "bdfklmnprstvwz";
            static const char *const PLAIN_PH[] = {"B", "D", "F", "K", "L", "M", "N",
                                                   "P", "R", "S", "T", "V", "W", "Z"};
            const char *at = strchr(PLAIN, c);
            ph = at ? PLAIN_PH[at - PLAIN] : "";
        }
        }
        if (!put_phones(out, &o, ph))
            return false;
        i++;
    }
    return o > 0;
}

/* Splits word into 2..COMPOUND_PARTS_MAX dictionary words (fewest parts,
 * then the longest first part); their first pronunciations joined. */
static bool compound(const voice_lexicon *lx, const char *word, size_t from, int parts_left,
                     char *out)
{
    size_t len = strlen(word);
    char part[VOICE_WORD_MAX + 1];
    char prons[VOICE_PRON_VARIANTS_MAX][VOICE_PRON_MAX + 1];
    /* The rest as one word. */
    if (from > 0 && len - from >= COMPOUND_PART_MIN) {
        memcpy(part, word + from, len - from + 1);
        if (voice_lexicon_find(lx, part, prons) > 0) {
            size_t o = strlen(out);
            return put_phones(out, &o, prons[0]);
        }
    }
    if (parts_left <= 1)
        return false;
    for (size_t cut = len - COMPOUND_PART_MIN; cut >= from + COMPOUND_PART_MIN; cut--) {
        memcpy(part, word + from, cut - from);
        part[cut - from] = '\0';
        if (voice_lexicon_find(lx, part, prons) == 0)
            continue;
        char saved[VOICE_PRON_MAX + 1];
        memcpy(saved, out, strlen(out) + 1);
        size_t o = strlen(out);
        if (put_phones(out, &o, prons[0]) && compound(lx, word, cut, parts_left - 1, out))
            return true;
        memcpy(out, saved, strlen(saved) + 1);
    }
    return false;
}

static bool word_ok(const char *w)
{
    size_t n = strnlen(w, VOICE_WORD_MAX + 1);
    if (n == 0 || n > VOICE_WORD_MAX)
        return false;
    bool letter = false;
    for (size_t i = 0; i < n; i++) {
        if (w[i] >= 'a' && w[i] <= 'z')
            letter = true;
        else if (w[i] != '\'')
            return false;
    }
    return letter;
}

int voice_pronounce(const voice_lexicon *lx, const char *word, bool acronym,
                    char prons[VOICE_PRON_VARIANTS_MAX][VOICE_PRON_MAX + 1], size_t *n,
                    voice_pron_source *source, kassa_err *err)
{
    *n = 0;
    if (!word_ok(word))
        return kassa_fail(err, KASSA_EINVAL,
                          "a spoken word is 1..%d lower-case letters (or apostrophes)",
                          VOICE_WORD_MAX);
    if ((*n = voice_lexicon_find(lx, word, prons)) > 0) {
        *source = VOICE_PRON_DICT;
        return KASSA_OK;
    }
    size_t len = strlen(word);
    if (acronym && len <= ACRONYM_MAX && spell(word, prons[0])) {
        *n = 1;
        *source = VOICE_PRON_SPELLED;
        return KASSA_OK;
    }
    char forms[VOICE_FORMS_MAX][VOICE_WORD_MAX + 1];
    char base[VOICE_PRON_VARIANTS_MAX][VOICE_PRON_MAX + 1];
    /* A plural of a dictionary word; then a singular of one; then a
     * possessive. */
    size_t nf = voice_singular_forms(word, forms);
    for (size_t i = 0; i < nf; i++)
        if (voice_lexicon_find(lx, forms[i], base) > 0 && voice_pron_pluralize(base[0], prons[0]))
            goto inflected;
    nf = voice_plural_forms(word, forms);
    for (size_t i = 0; i < nf; i++)
        if (voice_lexicon_find(lx, forms[i], base) > 0 &&
            voice_pron_singularize(base[0], prons[0]) && prons[0][0])
            goto inflected;
    if (len > 2 && ends_with(word, "'s")) {
        char stem[VOICE_WORD_MAX + 1];
        memcpy(stem, word, len - 2);
        stem[len - 2] = '\0';
        if (voice_lexicon_find(lx, stem, base) > 0 && voice_pron_pluralize(base[0], prons[0]))
            goto inflected;
    }
    prons[0][0] = '\0';
    /* Fewest parts first. */
    for (int parts = 2;
         lx && len >= 2 * COMPOUND_PART_MIN && !strchr(word, '\'') && parts <= COMPOUND_PARTS_MAX;
         parts++) {
        prons[0][0] = '\0';
        if (compound(lx, word, 0, parts, prons[0])) {
            *n = 1;
            *source = VOICE_PRON_COMPOUND;
            return KASSA_OK;
        }
    }
    prons[0][0] = '\0';
    if (lts(word, prons[0]) || spell(word, prons[0])) {
        *n = 1;
        *source = VOICE_PRON_RULES;
        return KASSA_OK;
    }
    /* Only apostrophes and silent letters ("h"): say the letters. */
    return kassa_fail(err, KASSA_EINVAL, "no pronunciation could be made for a %zu-letter word",
                      len);
inflected:
    *n = 1;
    *source = VOICE_PRON_INFLECTED;
    return KASSA_OK;
}
