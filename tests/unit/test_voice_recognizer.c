/*
 * Unit tests for the voice recognizer with pocketsphinx and the en-us
 * model: an order recognised from a WAV fixture (8 kHz, so through the
 * resampler), speech outside the grammar and noise answered "please
 * repeat", silence as no speech, bad audio refused, the same audio
 * decoded the same way every time, a rebuilt recognizer for a changed
 * catalog serving beside the old one, and build errors (no model, no
 * dictionary, no speakable product). The whole test set runs in
 * tests/cli/test_voice_accuracy.sh.
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voice/voice.h"

#define FIXTURE_MAX_BYTES (1u << 20)

static const voice_item ITEMS[] = {
    {"COF-250", "Coffee, house blend 250g"},
    {"MUF-BB", "Blueberry muffin"},
    {"CRS-BT", "Butter croissant"},
    {"MLK-1L", "Whole milk 1L"},
    {"APL-1K", "Apples 1kg"},
    {"TEA-GR", "Green tea x20"},
};
static const voice_synonym SYNONYMS[] = {
    {"COF-250", "coffee", ""},
    {"MUF-BB", "muffin", ""},
};

static voice_recognizer *new_recognizer(const voice_item *items, size_t n)
{
    voice_recognizer *r;
    kassa_err err;
    int rc = voice_recognizer_new(NULL, items, n, SYNONYMS, KASSA_ARRAY_LEN(SYNONYMS), &r, &err);
    if (rc != KASSA_OK)
        print_error("recognizer: %s\n", err.msg);
    assert_int_equal(rc, KASSA_OK);
    assert_true(voice_recognizer_build_ms(r) > 0.0);
    return r;
}

static uint8_t *read_fixture(const char *name, size_t *len)
{
    const char *dir = getenv("KASSA_TEST_FIXTURES");
    char path[1024];
    snprintf(path, sizeof path, "%s/voice/%s", dir ? dir : "tests/fixtures", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        print_error("cannot open %s\n", path);
    assert_non_null(f);
    uint8_t *buf = malloc(FIXTURE_MAX_BYTES);
    assert_non_null(buf);
    *len = fread(buf, 1, FIXTURE_MAX_BYTES, f);
    fclose(f);
    assert_true(*len > 44 && *len < FIXTURE_MAX_BYTES);
    return buf;
}

/* Recognises a fixture; returns its bytes (the caller frees them). */
static uint8_t *recognize_fixture(voice_recognizer *r, const char *name, size_t *len,
                                  voice_result *res)
{
    uint8_t *wav = read_fixture(name, len);
    kassa_err err;
    int rc = voice_recognize_wav(r, wav, *len, res, &err);
    if (rc != KASSA_OK)
        print_error("%s: %s\n", name, err.msg);
    assert_int_equal(rc, KASSA_OK);
    if ((res->status == VOICE_HEARD) != (strstr(name, "weather") == NULL))
        print_error("%s: status %s, heard \"%s\", score %.2f / %.2f\n", name,
                    voice_status_name(res->status), res->heard, res->score, res->word_score_min);
    return wav;
}

static int setup(void **state)
{
    *state = new_recognizer(ITEMS, KASSA_ARRAY_LEN(ITEMS));
    return 0;
}

static int teardown(void **state)
{
    voice_recognizer_free(*state);
    return 0;
}

static void test_order_from_wav(void **state)
{
    voice_recognizer *r = *state;
    size_t len;
    voice_result res;
    kassa_err err;
    uint8_t *wav = recognize_fixture(r, "two_coffees_8k.wav", &len, &res);
    assert_int_equal(res.status, VOICE_HEARD);
    assert_string_equal(res.heard, "two coffees and a blueberry muffin");
    assert_int_equal(res.n_changes, 2);
    assert_int_equal(res.changes[0].op, VOICE_OP_ADD);
    assert_string_equal(res.changes[0].sku, "COF-250");
    assert_int_equal(res.changes[0].qty, 2);
    assert_string_equal(res.changes[1].sku, "MUF-BB");
    assert_int_equal(res.changes[1].qty, 1);
    assert_false(res.done);
    assert_true(res.score >= VOICE_DEFAULT_MIN_SCORE && res.score < 0.0);
    assert_true(res.word_score_min <= res.score);
    assert_true(res.audio_ms > 2000.0 && res.audio_ms < 3500.0);
    assert_true(res.decode_ms > 0.0);
    /* The same audio again: the same answer to the last digit. */
    voice_result again;
    assert_int_equal(voice_recognize_wav(r, wav, len, &again, &err), KASSA_OK);
    assert_true(again.score == res.score && again.word_score_min == res.word_score_min);
    assert_string_equal(again.heard, res.heard);
    /* Stricter thresholds turn it into "please repeat", with what was heard. */
    voice_config cfg;
    voice_config_default(&cfg);
    cfg.min_score = res.score + 0.01;
    voice_recognizer *strict;
    assert_int_equal(voice_recognizer_new(&cfg, ITEMS, KASSA_ARRAY_LEN(ITEMS), SYNONYMS,
                                          KASSA_ARRAY_LEN(SYNONYMS), &strict, &err),
                     KASSA_OK);
    assert_int_equal(voice_recognize_wav(strict, wav, len, &again, &err), KASSA_OK);
    assert_int_equal(again.status, VOICE_LOW_CONFIDENCE);
    assert_int_equal(again.n_changes, 0);
    assert_string_equal(again.heard, res.heard);
    voice_recognizer_free(strict);
    free(wav);
}

static void test_out_of_grammar(void **state)
{
    size_t len;
    voice_result res;
    uint8_t *wav = recognize_fixture(*state, "weather_8k.wav", &len, &res);
    assert_int_not_equal(res.status, VOICE_HEARD);
    assert_int_equal(res.n_changes, 0);
    free(wav);
}

static void test_noise_and_silence(void **state)
{
    voice_recognizer *r = *state;
    size_t n = VOICE_SAMPLE_RATE_HZ * 2;
    int16_t *s = calloc(n, sizeof *s);
    assert_non_null(s);
    voice_result res;
    kassa_err err;
    /* Digital silence, and a faint hiss: no speech. */
    assert_int_equal(voice_recognize(r, s, n, &res, &err), KASSA_OK);
    assert_int_equal(res.status, VOICE_NO_SPEECH);
    assert_string_equal(res.heard, "");
    tu_rng rng;
    tu_rng_seed(&rng, 7);
    for (size_t i = 0; i < n; i++)
        s[i] = (int16_t)tu_rng_range(&rng, -60, 60);
    assert_int_equal(voice_recognize(r, s, n, &res, &err), KASSA_OK);
    assert_int_equal(res.status, VOICE_NO_SPEECH);
    /* Loud white noise and a tone are sounds, not an order. */
    for (size_t i = 0; i < n; i++)
        s[i] = (int16_t)tu_rng_range(&rng, -8000, 8000);
    assert_int_equal(voice_recognize(r, s, n, &res, &err), KASSA_OK);
    assert_int_not_equal(res.status, VOICE_HEARD);
    assert_int_not_equal(res.status, VOICE_NO_SPEECH);
    for (size_t i = 0; i < n; i++)
        s[i] = (int16_t)(i % 40 < 20 ? 6000 : -6000); /* 400 Hz square wave */
    assert_int_equal(voice_recognize(r, s, n, &res, &err), KASSA_OK);
    assert_int_not_equal(res.status, VOICE_HEARD);
    free(s);
}

static void test_bad_audio(void **state)
{
    voice_recognizer *r = *state;
    voice_result res;
    kassa_err err;
    int16_t one = 0;
    assert_int_equal(voice_recognize(r, &one, 0, &res, &err), KASSA_EINVAL);
    assert_non_null(strstr(err.msg, "empty audio"));
    int16_t *s = calloc(VOICE_AUDIO_MAX_SAMPLES + 1, sizeof *s);
    assert_non_null(s);
    assert_int_equal(voice_recognize(r, s, VOICE_AUDIO_MAX_SAMPLES + 1, &res, &err), KASSA_EINVAL);
    assert_non_null(strstr(err.msg, "at most 15 s"));
    /* Exactly the longest accepted. */
    assert_int_equal(voice_recognize(r, s, VOICE_AUDIO_MAX_SAMPLES, &res, &err), KASSA_OK);
    assert_int_equal(res.status, VOICE_NO_SPEECH);
    free(s);
    assert_int_equal(voice_recognize_wav(r, (const uint8_t *)"not a wav file", 14, &res, &err),
                     KASSA_EINVAL);
    assert_non_null(strstr(err.msg, "not a WAV file"));
}

/* A new catalog, a new recognizer; the old one serves until it is freed. */
static void test_rebuild(void **state)
{
    voice_recognizer *old = *state;
    voice_item more[KASSA_ARRAY_LEN(ITEMS) + 1];
    memcpy(more, ITEMS, sizeof ITEMS);
    more[KASSA_ARRAY_LEN(ITEMS)] = (voice_item){"JAM-KQ", "Kumquat jam 340g"};
    voice_recognizer *r = new_recognizer(more, KASSA_ARRAY_LEN(more));
    const voice_word *w = voice_grammar_find_word(voice_recognizer_grammar(r), "p_kumquat_jam");
    assert_non_null(w);
    assert_null(voice_grammar_find_word(voice_recognizer_grammar(old), "p_kumquat_jam"));
    assert_non_null(strstr(voice_grammar_jsgf(voice_recognizer_grammar(r)), "p_kumquat_jams"));
    size_t len;
    uint8_t *wav = read_fixture("two_coffees_8k.wav", &len);
    voice_result a, b;
    kassa_err err;
    assert_int_equal(voice_recognize_wav(old, wav, len, &a, &err), KASSA_OK);
    assert_int_equal(voice_recognize_wav(r, wav, len, &b, &err), KASSA_OK);
    assert_int_equal(a.status, VOICE_HEARD);
    assert_int_equal(b.status, VOICE_HEARD);
    assert_string_equal(a.heard, b.heard);
    voice_recognizer_free(r);
    assert_int_equal(voice_recognize_wav(old, wav, len, &a, &err), KASSA_OK);
    assert_int_equal(a.status, VOICE_HEARD);
    free(wav);
}

static void test_build_errors(void **state)
{
    (void)state;
    voice_recognizer *r = NULL;
    kassa_err err;
    voice_config cfg;
    voice_config_default(&cfg);
    cfg.model_dir = "/nonexistent/model";
    assert_int_equal(voice_recognizer_new(&cfg, ITEMS, 1, NULL, 0, &r, &err), KASSA_EIO);
    assert_null(r);
    assert_non_null(strstr(err.msg, "pocketsphinx"));
    tu_check_msg(err.msg, sizeof err.msg);
    voice_config_default(&cfg);
    cfg.dict_path = "/nonexistent/dict";
    assert_int_equal(voice_recognizer_new(&cfg, ITEMS, 1, NULL, 0, &r, &err), KASSA_EIO);
    assert_null(r);
    const voice_item none[] = {{"X1", "12345"}};
    assert_int_equal(voice_recognizer_new(NULL, none, 1, NULL, 0, &r, &err), KASSA_EINVAL);
    assert_null(r);
    assert_non_null(strstr(err.msg, "no product has a speakable name"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_from_wav),    cmocka_unit_test(test_out_of_grammar),
        cmocka_unit_test(test_noise_and_silence), cmocka_unit_test(test_bad_audio),
        cmocka_unit_test(test_rebuild),
    };
    const struct CMUnitTest alone[] = {
        cmocka_unit_test(test_build_errors),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    return failed + cmocka_run_group_tests(alone, NULL, NULL);
}
