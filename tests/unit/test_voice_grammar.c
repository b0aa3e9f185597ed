/*
 * Unit tests for the voice grammar (src/voice): spoken names from catalog
 * names, singular and plural forms, pronunciations for words the
 * dictionary lacks (inflected, compound, spelled, rules, given), clashes
 * between products, the JSGF, the synonyms file parser, and turning a
 * hypothesis into cart changes. A small dictionary text stands in for the
 * CMU dictionary, so every source of a pronunciation is exercised on
 * purpose; one test reads the real dictionary too.
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voice/voice.h"

static const char MINI_DICT[] = "coffee K AA1 F IY0\n"
                                "coffee(2) K AO1 F IY0\n"
                                "coffees K AO1 F IY0 Z\n"
                                "house HH AW1 S\n"
                                "blend B L EH1 N D\n"
                                "blueberry B L UW1 B EH2 R IY0\n"
                                "muffin M AH1 F AH0 N\n"
                                "apple AE1 P AH0 L\n"
                                "sour S AW1 ER0\n"
                                "dough D OW1\n"
                                "loaf L OW1 F\n"
                                "fish F IH1 SH\n"
                                "fresh F R EH1 SH\n"
                                "battery B AE1 T ER0 IY0\n"
                                "mug M AH1 G\n"
                                "tea T IY1\n"
                                "green G R IY1 N\n"
                                "broken QQ X\n"
                                ";;; a comment\n"
                                "noprons\n";

static voice_lexicon *mini_lexicon(void)
{
    voice_lexicon *lx;
    size_t skipped = 0;
    kassa_err err;
    assert_int_equal(voice_lexicon_parse(MINI_DICT, sizeof MINI_DICT - 1, &lx, &skipped, &err),
                     KASSA_OK);
    assert_int_equal(skipped, 2); /* bad phones, no phones */
    assert_int_equal(voice_lexicon_size(lx), 17);
    return lx;
}

static voice_grammar *build_ok(const voice_item *items, size_t n, const voice_synonym *syn,
                               size_t n_syn, const voice_lexicon *lx)
{
    voice_grammar *g;
    kassa_err err;
    int rc = voice_grammar_build(items, n, syn, n_syn, lx, &g, &err);
    if (rc != KASSA_OK)
        print_error("build: %s\n", err.msg);
    assert_int_equal(rc, KASSA_OK);
    return g;
}

static const voice_phrase *find_phrase(const voice_grammar *g, const char *text)
{
    for (size_t i = 0; i < voice_grammar_phrase_count(g); i++)
        if (strcmp(voice_grammar_phrase(g, i)->text, text) == 0)
            return voice_grammar_phrase(g, i);
    return NULL;
}

static bool has_note(const voice_grammar *g, const char *needle)
{
    for (size_t i = 0; i < voice_grammar_note_count(g) && i < VOICE_NOTES_MAX; i++)
        if (strstr(voice_grammar_note(g, i), needle))
            return true;
    return false;
}

/* ---- pronunciations ---- */

static void test_pronounce_sources(void **state)
{
    (void)state;
    voice_lexicon *lx = mini_lexicon();
    char p[VOICE_PRON_VARIANTS_MAX][VOICE_PRON_MAX + 1];
    size_t n;
    voice_pron_source src;
    kassa_err err;
    /* The dictionary's variants, stress dropped, then the reduced vowel. */
    assert_int_equal(voice_pronounce(lx, "coffee", false, p, &n, &src, &err), KASSA_OK);
    assert_int_equal(src, VOICE_PRON_DICT);
    assert_int_equal(n, 2);
    assert_string_equal(p[0], "K AA F IY");
    assert_string_equal(p[1], "K AO F IY");
    assert_int_equal(voice_pronounce(lx, "muffin", false, p, &n, &src, &err), KASSA_OK);
    assert_int_equal(n, 2);
    assert_string_equal(p[0], "M AH F AH N");
    assert_string_equal(p[1], "M AH F IH N");
    /* Plural of a dictionary word: S after a voiceless phone, Z after a
     * voiced one, IH Z after a sibilant. */
    assert_int_equal(voice_pronounce(lx, "loafs", false, p, &n, &src, &err), KASSA_OK);
    assert_int_equal(src, VOICE_PRON_INFLECTED);
    assert_string_equal(p[0], "L OW F S");
    assert_int_equal(voice_pronounce(lx, "apples", false, p, &n, &src, &err), KASSA_OK);
    assert_string_equal(p[0], "AE P AH L Z");
    assert_int_equal(voice_pronounce(lx, "batteries", false, p, &n, &src, &err), KASSA_OK);
    assert_string_equal(p[0], "B AE T ER IY Z");
    assert_int_equal(voice_pronounce(lx, "blends", false, p, &n, &src, &err), KASSA_OK);
    assert_string_equal(p[0], "B L EH N D Z");
    assert_int_equal(voice_pronounce(lx, "freshes", false, p, &n, &src, &err), KASSA_OK);
    assert_string_equal(p[0], "F R EH SH IH Z");
    /* A singular from a dictionary plural. */
    assert_int_equal(voice_pronounce(lx, "coffee", false, p, &n, &src, &err), KASSA_OK);
    /* Dictionary words joined. */
    assert_int_equal(voice_pronounce(lx, "sourdough", false, p, &n, &src, &err), KASSA_OK);
    assert_int_equal(src, VOICE_PRON_COMPOUND);
    assert_string_equal(p[0], "S AW ER D OW");
    assert_int_equal(voice_pronounce(lx, "greenteamug", false, p, &n, &src, &err), KASSA_OK);
    assert_int_equal(src, VOICE_PRON_COMPOUND);
    assert_string_equal(p[0], "G R IY N T IY M AH G");
    /* An acronym the dictionary lacks is spelled; unknown words get rules. */
    assert_int_equal(voice_pronounce(lx, "aa", true, p, &n, &src, &err), KASSA_OK);
    assert_int_equal(src, VOICE_PRON_SPELLED);
    assert_string_equal(p[0], "EY EY");
    assert_int_equal(voice_pronounce(lx, "kassa", false, p, &n, &src, &err), KASSA_OK);
    assert_int_equal(src, VOICE_PRON_RULES);
    assert_string_equal(p[0], "K AE S AH");
    assert_int_equal(voice_pronounce(lx, "yoghurt", false, p, &n, &src, &err), KASSA_OK);
    assert_string_equal(p[0], "Y AA G ER T");
    assert_int_equal(voice_pronounce(lx, "basmati", false, p, &n, &src, &err), KASSA_OK);
    assert_string_equal(p[0], "B AE S M AE T IY");
    assert_int_equal(voice_pronounce(NULL, "coffee", false, p, &n, &src, &err), KASSA_OK);
    assert_int_equal(src, VOICE_PRON_RULES);
    /* Odd words never crash and never come back empty. */
    static const char *const odd[] = {
        "h",     "x",     "q'",   "'s",   "hhhh",
        "aeiou", "zzzzz", "tchk", "ough", "yy",
        "schwa", "w'w",   "gh",   "ngng", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(odd); i++) {
        assert_int_equal(voice_pronounce(lx, odd[i], i % 2 == 0, p, &n, &src, &err), KASSA_OK);
        assert_true(n >= 1 && p[0][0] != '\0');
        char norm[VOICE_PRON_MAX + 1];
        assert_int_equal(voice_pron_normalize(p[0], norm, &err), KASSA_OK);
        assert_string_equal(norm, p[0]);
    }
    /* Not words. */
    assert_int_equal(voice_pronounce(lx, "", false, p, &n, &src, &err), KASSA_EINVAL);
    assert_int_equal(voice_pronounce(lx, "Coffee", false, p, &n, &src, &err), KASSA_EINVAL);
    assert_int_equal(voice_pronounce(lx, "two2", false, p, &n, &src, &err), KASSA_EINVAL);
    assert_int_equal(voice_pronounce(lx, "'''", false, p, &n, &src, &err), KASSA_EINVAL);
    assert_int_equal(
        voice_pronounce(lx, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, p, &n, &src, &err),
        KASSA_EINVAL);
    voice_lexicon_free(lx);
}

static void test_pron_normalize(void **state)
{
    (void)state;
    char out[VOICE_PRON_MAX + 1];
    kassa_err err;
    assert_int_equal(voice_pron_normalize("  k aa1   f\tiy0 ", out, &err), KASSA_OK);
    assert_string_equal(out, "K AA F IY");
    assert_int_equal(voice_pron_normalize("K QQ", out, &err), KASSA_EINVAL);
    assert_int_equal(voice_pron_normalize("", out, &err), KASSA_EINVAL);
    assert_int_equal(voice_pron_normalize("AA12", out, &err), KASSA_EINVAL);
    assert_int_equal(voice_pron_normalize("K-AA", out, &err), KASSA_EINVAL);
    char long_pron[600];
    memset(long_pron, 0, sizeof long_pron);
    for (int i = 0; i < 130; i++)
        strcat(long_pron, "AA ");
    assert_int_equal(voice_pron_normalize(long_pron, out, &err), KASSA_EINVAL);
}

/* The CMU dictionary of the en-us model, as the recognizer reads it. */
static void test_real_dictionary(void **state)
{
    (void)state;
    voice_lexicon *lx;
    size_t skipped = 99;
    kassa_err err;
    assert_int_equal(voice_lexicon_load(VOICE_DEFAULT_DICT, &lx, &skipped, &err), KASSA_OK);
    assert_true(voice_lexicon_size(lx) > 130000);
    assert_true(skipped < 100);
    char p[VOICE_PRON_VARIANTS_MAX][VOICE_PRON_MAX + 1];
    size_t n;
    voice_pron_source src;
    assert_int_equal(voice_pronounce(lx, "croissants", false, p, &n, &src, &err), KASSA_OK);
    assert_int_equal(src, VOICE_PRON_DICT);
    assert_int_equal(voice_pronounce(lx, "sourdough", false, p, &n, &src, &err), KASSA_OK);
    assert_int_equal(src, VOICE_PRON_COMPOUND);
    voice_lexicon_free(lx);
    assert_int_equal(voice_lexicon_load("/nonexistent/dict", &lx, NULL, &err), KASSA_EIO);
    assert_null(lx);
}

/* ---- spoken names and forms ---- */

static void test_spoken_names(void **state)
{
    (void)state;
    voice_lexicon *lx = mini_lexicon();
    const voice_item items[] = {
        {"COF-250", "Coffee, house blend 250g"},
        {"MUF-BB", "Blueberry muffin"},
        {"APL-1K", "Apples 1kg"},
        {"BRD-SD", "Sourdough loaf"},
        {"FSH-1", "Fresh fish x2"},
        {"BAT-AA", "AA batteries x4"},
        {"MUG-KS", "Mug \"kassa\" 300ml"},
        {"CRM-1", "Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
                  "e 2x"},
        {"NUM-1", "1234 5678"},
        {"TEA-1", "Green tea 0.5L"},
    };
    voice_grammar *g = build_ok(items, KASSA_ARRAY_LEN(items), NULL, 0, lx);
    const voice_phrase *p = find_phrase(g, "coffee house blend");
    assert_non_null(p);
    assert_string_equal(p->sku, "COF-250");
    assert_string_equal(p->token, "p_coffee_house_blend");
    assert_true(p->one && !p->many && !p->synonym && !p->vowel);
    p = find_phrase(g, "coffee house blends");
    assert_non_null(p);
    assert_true(p->many && !p->one);
    /* Singular names get a plural; plural names a singular. */
    assert_true(find_phrase(g, "blueberry muffin")->one);
    assert_true(find_phrase(g, "blueberry muffins")->many);
    assert_true(find_phrase(g, "apples")->many);
    p = find_phrase(g, "apple");
    assert_non_null(p);
    assert_true(p->one && p->vowel);
    assert_non_null(find_phrase(g, "sourdough loaves"));
    /* An invariant word is one form for both. */
    p = find_phrase(g, "fresh fish");
    assert_non_null(p);
    assert_true(p->one && p->many);
    assert_null(find_phrase(g, "fresh fishes"));
    assert_non_null(find_phrase(g, "aa batteries"));
    assert_non_null(find_phrase(g, "aa battery"));
    assert_non_null(find_phrase(g, "mug kassa"));
    assert_non_null(find_phrase(g, "creme brulee"));
    assert_non_null(find_phrase(g, "green tea"));
    /* No letters at all: no spoken name, and a note says so. */
    for (size_t i = 0; i < voice_grammar_phrase_count(g); i++)
        assert_string_not_equal(voice_grammar_phrase(g, i)->sku, "NUM-1");
    assert_true(has_note(g, "NUM-1 has no spoken name"));
    assert_true(has_note(g, "\"kassa\"") || has_note(g, "mug kassa"));
    /* Every phrase's word is in the dictionary the decoder gets, with the
     * least certain source of its words. */
    const voice_word *w = voice_grammar_find_word(g, "p_aa_batteries");
    assert_non_null(w);
    assert_int_equal(w->source, VOICE_PRON_SPELLED);
    assert_string_equal(w->prons[0], "EY EY B AE T ER IY Z");
    w = voice_grammar_find_word(g, "p_sourdough_loaf");
    assert_int_equal(w->source, VOICE_PRON_COMPOUND);
    assert_string_equal(w->prons[0], "S AW ER D OW L OW F");
    w = voice_grammar_find_word(g, "p_coffee_house_blend");
    assert_int_equal(w->source, VOICE_PRON_DICT);
    assert_int_equal(w->n_prons, 2); /* both "coffee" variants */
    assert_string_equal(w->prons[1], "K AO F IY HH AW S B L EH N D");
    assert_int_equal(voice_grammar_find_word(g, "p_mug_kassa")->source, VOICE_PRON_RULES);
    assert_int_equal(voice_grammar_find_word(g, "twenty")->source, VOICE_PRON_BUILTIN);
    assert_null(voice_grammar_find_word(g, "p_nothing"));
    voice_grammar_free(g);
    voice_lexicon_free(lx);
}

/* Every word of the JSGF is a grammar word or its syntax; the structure
 * is there. */
static void test_jsgf(void **state)
{
    (void)state;
    voice_lexicon *lx = mini_lexicon();
    const voice_item items[] = {{"COF", "Coffee"}, {"APL", "Apple"}, {"MUF", "Muffin"}};
    voice_grammar *g = build_ok(items, 3, NULL, 0, lx);
    const char *j = voice_grammar_jsgf(g);
    assert_non_null(strstr(j, "#JSGF V1.0;"));
    assert_non_null(strstr(j, "public <order> = "));
    assert_non_null(strstr(j, "<one_v> = p_apple ;"));
    assert_non_null(strstr(j, "<one_c> = p_coffee | p_muffin ;"));
    assert_non_null(strstr(j, "<many> = p_apples | p_coffees | p_muffins ;"));
    char *copy = strdup(j);
    assert_non_null(copy);
    size_t words = 0;
    for (char *save = NULL, *t = strtok_r(copy, " \n;|()[]*+=", &save); t;
         t = strtok_r(NULL, " \n;|()[]*+=", &save)) {
        if (t[0] == '<' || t[0] == '/' || t[0] == '#' || strcmp(t, "grammar") == 0 ||
            strcmp(t, "kassa_order") == 0 || strcmp(t, "public") == 0 || strcmp(t, "V1.0") == 0)
            continue;
        if (!voice_grammar_find_word(g, t))
            print_error("JSGF word without a pronunciation: %s\n", t);
        assert_non_null(voice_grammar_find_word(g, t));
        words++;
    }
    assert_true(words > 30);
    free(copy);
    voice_grammar_free(g);
    voice_lexicon_free(lx);
}

static void test_synonyms_and_clashes(void **state)
{
    (void)state;
    voice_lexicon *lx = mini_lexicon();
    /* Two coffees share the spoken name "coffee": both are left out... */
    const voice_item items[] = {
        {"COF-250", "Coffee 250g"}, {"COF-1K", "Coffee 1kg"}, {"MUF", "Muffin"}};
    voice_grammar *g = build_ok(items, 3, NULL, 0, lx);
    assert_null(find_phrase(g, "coffee"));
    assert_null(find_phrase(g, "coffees"));
    assert_true(has_note(g, "\"coffee\" could be COF-1K or COF-250"));
    assert_true(has_note(g, "COF-250 has no spoken name"));
    voice_grammar_free(g);
    /* ... unless a synonym says which; its pronunciation is given. */
    voice_synonym syn[] = {
        {"COF-250", "coffee", ""},
        {"COF-1K", "espresso beans", "EH S P R EH S OW B IY N Z"},
        {"MUF", "cake", ""},
        {"GONE", "ghost", ""},
    };
    g = build_ok(items, 3, syn, KASSA_ARRAY_LEN(syn), lx);
    const voice_phrase *p = find_phrase(g, "coffee");
    assert_non_null(p);
    assert_string_equal(p->sku, "COF-250");
    assert_true(p->synonym);
    assert_string_equal(find_phrase(g, "coffees")->sku, "COF-250");
    assert_true(has_note(g, "\"coffee\" means COF-250 (a synonym), not COF-1K"));
    /* A plural synonym gets its singular, pronounced without the suffix. */
    assert_true(find_phrase(g, "espresso beans")->many);
    assert_true(find_phrase(g, "espresso bean")->one);
    const voice_word *w = voice_grammar_find_word(g, "p_espresso_bean");
    assert_int_equal(w->source, VOICE_PRON_GIVEN);
    assert_string_equal(w->prons[0], "EH S P R EH S OW B IY N");
    assert_non_null(find_phrase(g, "cakes"));
    assert_true(has_note(g, "synonym \"ghost\" names GONE, not in the catalog"));
    voice_grammar_free(g);
    /* The same synonym for two products is an error. */
    voice_synonym twice[] = {{"COF-250", "brew", ""}, {"COF-1K", "brew", ""}};
    kassa_err err;
    assert_int_equal(voice_grammar_build(items, 3, twice, 2, lx, &g, &err), KASSA_EINVAL);
    assert_null(g);
    assert_non_null(strstr(err.msg, "\"brew\" is given for both"));
    /* The same phrase twice with two pronunciations keeps both. */
    voice_synonym two_prons[] = {{"MUF", "gouda", "G UW D AH"}, {"MUF", "gouda", "G AW D AH"}};
    g = build_ok(items, 3, two_prons, 2, lx);
    w = voice_grammar_find_word(g, "p_gouda");
    assert_int_equal(w->n_prons, 2);
    assert_string_equal(w->prons[1], "G AW D AH");
    assert_string_equal(voice_grammar_find_word(g, "p_goudas")->prons[0], "G UW D AH Z");
    voice_grammar_free(g);
    /* "X of Y" takes its plural on X. */
    voice_synonym of[] = {{"MUF", "bag of apples", ""}};
    g = build_ok(items, 3, of, 1, lx);
    assert_non_null(find_phrase(g, "bags of apples"));
    voice_grammar_free(g);
    voice_lexicon_free(lx);
}

static void test_grammar_limits(void **state)
{
    (void)state;
    voice_grammar *g;
    kassa_err err;
    /* Nothing speakable. */
    const voice_item digits[] = {{"A", "123"}, {"B", "4.5L"}};
    assert_int_equal(voice_grammar_build(digits, 2, NULL, 0, NULL, &g, &err), KASSA_EINVAL);
    assert_non_null(strstr(err.msg, "no product has a speakable name"));
    assert_int_equal(voice_grammar_build(NULL, 0, NULL, 0, NULL, &g, &err), KASSA_EINVAL);
    /* A bad SKU. */
    const voice_item bad[] = {{"has space", "Tea"}};
    assert_int_equal(voice_grammar_build(bad, 1, NULL, 0, NULL, &g, &err), KASSA_EINVAL);
    /* Too many items. */
    voice_item *many = calloc(VOICE_ITEMS_MAX + 1, sizeof *many);
    assert_non_null(many);
    for (size_t i = 0; i <= VOICE_ITEMS_MAX; i++)
        many[i] = (voice_item){"X", "Tea"};
    assert_int_equal(voice_grammar_build(many, VOICE_ITEMS_MAX + 1, NULL, 0, NULL, &g, &err),
                     KASSA_EINVAL);
    assert_non_null(strstr(err.msg, "2001 catalog items"));
    free(many);
    /* Long names are cut to VOICE_PHRASE_WORDS_MAX words that fit. */
    const voice_item longname[] = {
        {"L", "one two three four five six seven eight nine ten eleven twelve"},
        {"W", "Pneumonoultramicroscopicsilicovolcanoconiosis tea"}};
    g = NULL;
    assert_int_equal(voice_grammar_build(longname, 2, NULL, 0, NULL, &g, &err), KASSA_OK);
    assert_non_null(find_phrase(g, "one two three four five six"));
    assert_non_null(find_phrase(g, "tea"));
    for (size_t i = 0; i < voice_grammar_phrase_count(g); i++)
        assert_true(strlen(voice_grammar_phrase(g, i)->text) <= VOICE_PHRASE_MAX);
    voice_grammar_free(g);
}

/* ---- synonyms file ---- */

static int parse_syn(const char *text, voice_synonym **out, size_t *n, kassa_err *err)
{
    size_t len = strlen(text);
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    int rc = voice_synonyms_parse(copy, len, out, n, err);
    free(copy);
    return rc;
}

static void test_synonyms_file(void **state)
{
    (void)state;
    voice_synonym *s;
    size_t n;
    kassa_err err;
    assert_int_equal(parse_syn("\xEF\xBB\xBFsku,phrase,pronunciation\r\n"
                               "# comment\n"
                               "\n"
                               "COF-250, Coffee \r\n"
                               "MUF-BB,blue-berry   muffin\n"
                               "CHS-GD,gouda,g uw1 d ah0",
                               &s, &n, &err),
                     KASSA_OK);
    assert_int_equal(n, 3);
    assert_string_equal(s[0].sku, "COF-250");
    assert_string_equal(s[0].phrase, "coffee");
    assert_string_equal(s[0].pron, "");
    assert_string_equal(s[1].phrase, "blue berry muffin");
    assert_string_equal(s[2].pron, "G UW D AH");
    free(s);
    assert_int_equal(parse_syn("", &s, &n, &err), KASSA_OK);
    assert_int_equal(n, 0);
    assert_null(s);
    struct {
        const char *text;
        const char *msg;
    } bad[] = {
        {"COF\n", "line 1: expected sku,phrase[,pronunciation]"},
        {"A,b,c,d\n", "line 1: expected sku,phrase[,pronunciation]"},
        {"# x\nbad sku,coffee\n", "line 2: bad SKU"},
        {"A,coffee 2\n", "line 1: the phrase must be 1..6 words of letters"},
        {"A,one two three four five six seven\n", "line 1: the phrase must be"},
        {"A,\n", "line 1: the phrase must be"},
        {"A,tea,T QQ\n", "line 1: pronunciation: phones of the en-us model"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad); i++) {
        s = (voice_synonym *)&err;
        int rc = parse_syn(bad[i].text, &s, &n, &err);
        if (rc != KASSA_EINVAL || !strstr(err.msg, bad[i].msg))
            print_error("%s: got %d \"%s\"\n", bad[i].text, rc, err.msg);
        assert_int_equal(rc, KASSA_EINVAL);
        assert_non_null(strstr(err.msg, bad[i].msg));
        assert_null(s);
        assert_int_equal(n, 0);
    }
    /* A NUL byte, an over-long line. */
    assert_int_equal(voice_synonyms_parse("A,tea\0x\n", 8, &s, &n, &err), KASSA_EINVAL);
    assert_non_null(strstr(err.msg, "NUL"));
    char line[700];
    memset(line, 'a', sizeof line);
    memcpy(line, "A,", 2);
    assert_int_equal(voice_synonyms_parse(line, sizeof line, &s, &n, &err), KASSA_EINVAL);
    assert_non_null(strstr(err.msg, "longer than 512 bytes"));
}

/* Random edits of a valid file: any result keeps the contract. */
static void test_synonyms_random(void **state)
{
    (void)state;
    static const char base[] = "sku,phrase\nCOF,coffee\nMUF,blueberry muffin,B L UW B EH R IY\n";
    tu_rng rng;
    tu_rng_seed(&rng, 42);
    for (int round = 0; round < 5000; round++) {
        char buf[sizeof base + 16];
        size_t len = sizeof base - 1;
        memcpy(buf, base, len);
        int edits = (int)tu_rng_range(&rng, 1, 4);
        for (int e = 0; e < edits; e++)
            buf[tu_rng_range(&rng, 0, (int64_t)len - 1)] = (char)tu_rng_range(&rng, 0, 255);
        len = (size_t)tu_rng_range(&rng, 0, (int64_t)len);
        char *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, buf, len);
        voice_synonym *s = NULL;
        size_t n = 99;
        kassa_err err;
        int rc = voice_synonyms_parse(copy, len, &s, &n, &err);
        free(copy);
        if (rc == KASSA_OK) {
            for (size_t i = 0; i < n; i++) {
                assert_true(kassa_valid_id(s[i].sku, KASSA_SKU_MAX));
                assert_true(s[i].phrase[0] != '\0');
                assert_true(tu_no_controls(s[i].phrase));
            }
            free(s);
        } else {
            assert_int_equal(rc, KASSA_EINVAL);
            assert_null(s);
            tu_check_msg(err.msg, sizeof err.msg);
        }
    }
}

/* ---- hypotheses ---- */

static voice_grammar *demo_grammar(voice_lexicon *lx)
{
    static const voice_item items[] = {
        {"COF", "Coffee"}, {"MUF", "Blueberry muffin"},
        {"APL", "Apple"},  {"TEA", "Green tea"},
        {"T1", "Tea A"},   {"T2", "Tea B"},
        {"T3", "Tea C"},   {"T4", "Tea D"},
        {"T5", "Tea E"},   {"T6", "Tea F"},
        {"T7", "Tea G"},   {"T8", "Tea H"},
        {"T9", "Tea I"},   {"T10", "Tea J"},
        {"T11", "Tea K"},  {"T12", "Tea L"},
        {"T13", "Tea M"},
    };
    return build_ok(items, KASSA_ARRAY_LEN(items), NULL, 0, lx);
}

static void expect_hyp(const voice_grammar *g, const char *hyp, const char *changes, bool done,
                       const char *heard)
{
    voice_result res;
    memset(&res, 0x5a, sizeof res);
    kassa_err err;
    int rc = voice_parse_hyp(g, hyp, &res, &err);
    if (rc != KASSA_OK)
        print_error("%s: %s\n", hyp, err.msg);
    assert_int_equal(rc, KASSA_OK);
    assert_int_equal(res.status, VOICE_HEARD);
    char got[512] = "";
    for (size_t i = 0; i < res.n_changes; i++) {
        char one[64];
        const voice_change *c = &res.changes[i];
        if (c->qty == VOICE_QTY_ALL)
            snprintf(one, sizeof one, "%s%c%s*all", i ? " " : "", c->op == VOICE_OP_ADD ? '+' : '-',
                     c->sku);
        else
            snprintf(one, sizeof one, "%s%c%s*%lld", i ? " " : "",
                     c->op == VOICE_OP_ADD ? '+' : '-', c->sku, (long long)c->qty);
        strcat(got, one);
    }
    assert_string_equal(got, changes);
    assert_int_equal(res.done, done);
    assert_string_equal(res.heard, heard);
}

static void expect_bad_hyp(const voice_grammar *g, const char *hyp)
{
    voice_result res;
    kassa_err err;
    int rc = voice_parse_hyp(g, hyp, &res, &err);
    if (rc != KASSA_EINVAL)
        print_error("accepted: %s\n", hyp);
    assert_int_equal(rc, KASSA_EINVAL);
    assert_int_equal(res.status, VOICE_OUT_OF_GRAMMAR);
    tu_check_msg(err.msg, sizeof err.msg);
}

static void test_parse_hyp(void **state)
{
    (void)state;
    voice_lexicon *lx = mini_lexicon();
    voice_grammar *g = demo_grammar(lx);
    expect_hyp(g, "two p_coffees and a p_blueberry_muffin", "+COF*2 +MUF*1", false,
               "two coffees and a blueberry muffin");
    expect_hyp(g, "an p_apple", "+APL*1", false, "an apple");
    expect_hyp(g, "p_coffee", "+COF*1", false, "coffee");
    expect_hyp(g, "twenty p_green_teas thats_all", "+TEA*20", true, "twenty green teas that's all");
    expect_hyp(g, "thats_all", "", true, "that's all");
    expect_hyp(g, "remove the p_blueberry_muffin", "-MUF*all", false,
               "remove the blueberry muffin");
    expect_hyp(g, "remove p_coffees", "-COF*all", false, "remove coffees");
    expect_hyp(g, "no p_coffee and a p_apple", "-COF*all +APL*1", false, "no coffee and a apple");
    expect_hyp(g, "remove two p_coffees", "-COF*2", false, "remove two coffees");
    /* Repeats of one (op, SKU) are one change. */
    expect_hyp(g, "a p_coffee and two p_coffees and remove a p_apple and remove three p_apples",
               "+COF*3 -APL*4", false,
               "a coffee and two coffees and remove a apple and remove three apples");
    expect_hyp(g, "remove a p_apple and no p_apple", "-APL*all", false,
               "remove a apple and no apple");
    /* Lines without "and" between them. */
    expect_hyp(g, "a p_coffee a p_apple", "+COF*1 +APL*1", false, "a coffee a apple");
    /* Not in the grammar. */
    expect_bad_hyp(g, "");
    expect_bad_hyp(g, "   ");
    expect_bad_hyp(g, "and p_coffee");
    expect_bad_hyp(g, "p_coffee and");
    expect_bad_hyp(g, "p_coffee and and p_apple");
    expect_bad_hyp(g, "two p_coffee");
    expect_bad_hyp(g, "a p_coffees");
    expect_bad_hyp(g, "p_coffees");
    expect_bad_hyp(g, "the p_coffee");
    expect_bad_hyp(g, "no two p_coffees");
    expect_bad_hyp(g, "no the p_coffee");
    expect_bad_hyp(g, "remove");
    expect_bad_hyp(g, "remove the");
    expect_bad_hyp(g, "two");
    expect_bad_hyp(g, "thats_all p_coffee");
    expect_bad_hyp(g, "p_unknown");
    expect_bad_hyp(g, "coffee");
    /* More changes than a result holds. */
    expect_bad_hyp(g, "a p_tea_a a p_tea_b a p_tea_c a p_tea_d a p_tea_e a p_tea_f a p_tea_g a "
                      "p_tea_h a p_tea_i a p_tea_j a p_tea_k a p_tea_l a p_tea_m a p_coffee a "
                      "p_apple a p_green_tea a p_blueberry_muffin");
    /* Too long. */
    char big[2000];
    memset(big, 0, sizeof big);
    for (int i = 0; i < 150; i++)
        strcat(big, "a p_tea ");
    expect_bad_hyp(g, big);
    voice_grammar_free(g);
    voice_lexicon_free(lx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pronounce_sources),
        cmocka_unit_test(test_pron_normalize),
        cmocka_unit_test(test_real_dictionary),
        cmocka_unit_test(test_spoken_names),
        cmocka_unit_test(test_jsgf),
        cmocka_unit_test(test_synonyms_and_clashes),
        cmocka_unit_test(test_grammar_limits),
        cmocka_unit_test(test_synonyms_file),
        cmocka_unit_test(test_synonyms_random),
        cmocka_unit_test(test_parse_hyp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
