/*
 * voice: spoken orders ("two coffees and a blueberry muffin") to proposed
 * cart changes, offline, with pocketsphinx and a grammar made from the
 * catalog. Nothing here touches the cart: the caller shows the proposal and
 * applies it only when the cashier confirms (docs/VOICE.md).
 *
 * Four parts, each usable alone:
 *
 *  - WAV reading (voice_wav_decode): untrusted bytes to 16 kHz mono 16-bit
 *    samples. RIFF/WAVE with PCM 8/16/24/32-bit or IEEE float 32-bit, mono
 *    or stereo (mixed down), any rate from 8 to 96 kHz (resampled with a
 *    windowed-sinc low-pass). Empty audio, audio over VOICE_AUDIO_MAX_MS and
 *    malformed files are clear errors, never a crash.
 *
 *  - Pronunciations (voice_lexicon, voice_pronounce): the CMU dictionary,
 *    read once per grammar build; words it lacks get a pronunciation from
 *    an inflection of a dictionary word (plural or singular), a split into
 *    dictionary words ("sourdough" = "sour" + "dough"), letter names for
 *    short capitalised acronyms ("AA"), or letter-to-sound rules. Every word
 *    of letters gets one; nothing is left out.
 *
 *  - The grammar (voice_grammar_build): each product's spoken name derived
 *    from its catalog name (sizes, units and punctuation dropped:
 *    "Coffee, house blend 250g" -> "coffee house blend"), plus configured
 *    synonyms, each in singular and plural form; quantities "a", "an",
 *    "one" .. "twenty"; "and", "remove ...", "no ...", "that's all". Each
 *    spoken form is one dictionary word of the decoder (its words joined),
 *    so a hypothesis maps back to products without ambiguity. The JSGF text
 *    and the dictionary entries are what the recognizer loads;
 *    voice_parse_hyp turns a hypothesis back into changes.
 *
 *  - Recognition (voice_recognizer): one pocketsphinx decoder per
 *    recognizer, searching the order grammar. Every senone of the model is
 *    scored on every frame, so a word's acoustic score is measured against
 *    the best state of the model in each of its frames (an unconstrained
 *    "anything" model). Speech the grammar explains stays close to it;
 *    other speech, forced through the grammar, falls far below, over the
 *    utterance and most of all in the words it was forced into. Below the
 *    thresholds, or when no path reaches the grammar's end, the answer is
 *    "please repeat", never a guess.
 *
 * A recognizer is immutable once built. When the catalog changes, build a
 * new one from the new catalog (voice_recognizer_new) while the old keeps
 * serving, then swap and free the old. One recognizer serves one call at a
 * time; separate recognizers may run on separate threads. pocketsphinx's
 * own log is silenced process-wide (its last error is kept for messages).
 */
#ifndef KASSA_VOICE_H
#define KASSA_VOICE_H

#include "base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- audio ---- */

#define VOICE_SAMPLE_RATE_HZ 16000
/* Longest order accepted: a longer recording is refused, not cut. */
#define VOICE_AUDIO_MAX_MS 15000
#define VOICE_AUDIO_MAX_SAMPLES (VOICE_SAMPLE_RATE_HZ / 1000 * VOICE_AUDIO_MAX_MS)
/* A WAV file larger than this is refused before its chunks are read (15 s
 * of 96 kHz stereo 32-bit is 11.5 MB). */
#define VOICE_WAV_MAX_BYTES (16u << 20)
#define VOICE_WAV_RATE_MIN_HZ 8000
#define VOICE_WAV_RATE_MAX_HZ 96000
/* Chunks walked before "fmt " and "data" must have been found. */
#define VOICE_WAV_CHUNKS_MAX 64

typedef struct voice_audio {
    int16_t *samples; /* 16 kHz mono, malloc'd; NULL only when n_samples is 0 */
    size_t n_samples;
    /* What the file held. */
    uint32_t source_rate_hz;
    uint16_t source_channels;
    uint16_t source_bits;
    bool source_float;
} voice_audio;

/* Decodes a WAV file into 16 kHz mono. KASSA_EINVAL with a one-line reason
 * for anything else: not RIFF/WAVE, a chunk running past the end, no "fmt "
 * or "data" chunk, an unsupported encoding, channel count (1 or 2) or rate,
 * no samples ("empty audio"), or more than VOICE_AUDIO_MAX_MS of audio.
 * A data chunk whose size is the streaming placeholder 0xFFFFFFFF runs to
 * the end of the file, as do the chunks of a RIFF size 0 (unknown); a
 * trailing partial frame is ignored. KASSA_ENOMEM
 * when memory runs out. out is overwritten, not freed, on entry, and
 * empty on any error. */
int voice_wav_decode(const uint8_t *data, size_t len, voice_audio *out, kassa_err *err);
void voice_audio_free(voice_audio *a);

/* Writes 16-bit PCM samples as a canonical WAV file (44-byte header), for
 * tests and tools. rate_hz 1..VOICE_WAV_RATE_MAX_HZ, channels 1 or 2
 * (samples interleaved, n_samples counts them all). */
int voice_wav_encode(const int16_t *samples, size_t n_samples, uint32_t rate_hz, uint16_t channels,
                     kbuf *out, kassa_err *err);

/* ---- pronunciations ---- */

/* Phones are the en-us model's 39 ARPAbet phones (no stress marks),
 * uppercase, one space apart. */
#define VOICE_WORD_MAX 32         /* letters of one word */
#define VOICE_PRON_MAX 255        /* bytes of one pronunciation */
#define VOICE_PRON_VARIANTS_MAX 4 /* pronunciations kept per word */

typedef enum {
    VOICE_PRON_BUILTIN = 1, /* the grammar's own words (numbers, "remove") */
    VOICE_PRON_GIVEN,       /* from the synonyms input */
    VOICE_PRON_DICT,        /* the pronunciation dictionary */
    VOICE_PRON_INFLECTED,   /* plural or singular of a dictionary word */
    VOICE_PRON_COMPOUND,    /* dictionary words joined */
    VOICE_PRON_SPELLED,     /* an acronym, letter by letter */
    VOICE_PRON_RULES,       /* letter-to-sound rules */
} voice_pron_source;

const char *voice_pron_source_name(voice_pron_source s);

typedef struct voice_lexicon voice_lexicon;

/* The CMU dictionary shipped with pocketsphinx's en-us model. */
#define VOICE_DEFAULT_DICT "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
#define VOICE_DEFAULT_MODEL "/usr/share/pocketsphinx/model/en-us/en-us"
#define VOICE_LEXICON_MAX_BYTES (16u << 20)
#define VOICE_LEXICON_MAX_WORDS 400000

/* Reads a dictionary in CMU format ("word PH ON ES", "word(2) ..." for
 * variants, stress digits allowed and dropped). Lines with phones outside
 * the model's set, or words too long, are skipped (counted in *skipped when
 * non-NULL). */
int voice_lexicon_load(const char *path, voice_lexicon **out, size_t *skipped, kassa_err *err);
int voice_lexicon_parse(const char *text, size_t len, voice_lexicon **out, size_t *skipped,
                        kassa_err *err);
void voice_lexicon_free(voice_lexicon *lx);
size_t voice_lexicon_size(const voice_lexicon *lx);

/* The pronunciations of one lowercase word ([a-z'], at most VOICE_WORD_MAX
 * letters): the dictionary's variants when it has them, else one derived
 * as the top comment says. acronym: the word was written in capitals in
 * the catalog (spelled out when the dictionary lacks it). lx may be NULL
 * (no dictionary: rules only). Fills prons[0 .. *n) (1..VOICE_PRON_VARIANTS_MAX),
 * *source says how. KASSA_EINVAL for an empty or non-letter word. */
int voice_pronounce(const voice_lexicon *lx, const char *word, bool acronym,
                    char prons[VOICE_PRON_VARIANTS_MAX][VOICE_PRON_MAX + 1], size_t *n,
                    voice_pron_source *source, kassa_err *err);

/* Checks a pronunciation (phones of the model, 1..VOICE_PRON_MAX bytes) and
 * writes it normalised (uppercase, no stress digits, single spaces). */
int voice_pron_normalize(const char *in, char out[VOICE_PRON_MAX + 1], kassa_err *err);

/* ---- synonyms ---- */

#define VOICE_PHRASE_MAX 64      /* bytes of a spoken phrase */
#define VOICE_PHRASE_WORDS_MAX 6 /* words in one spoken phrase */
#define VOICE_SYNONYMS_MAX 4000  /* lines of a synonyms file */
#define VOICE_SYNONYMS_MAX_BYTES (1u << 20)

typedef struct voice_synonym {
    char sku[KASSA_SKU_MAX + 1];
    char phrase[VOICE_PHRASE_MAX + 1]; /* words of letters, as spoken */
    char pron[VOICE_PRON_MAX + 1];     /* of the whole phrase; "" when derived */
} voice_synonym;

/* Parses a synonyms file: one `sku,phrase[,pronunciation]` per line
 * ("COF-250,coffee", "CHS-GD,gouda cheese,G UW D AH CH IY Z"); blank lines
 * and lines starting with '#' are ignored, as is a first line
 * `sku,phrase[,pronunciation]`. The phrase is 1..VOICE_PHRASE_WORDS_MAX words
 * of letters, apostrophes or hyphens (a hyphen separates words); the
 * pronunciation covers the whole phrase in the model's phones. All or
 * nothing: the first bad line is the error, with its number. *out is
 * malloc'd (NULL when *n is 0). */
int voice_synonyms_parse(const char *text, size_t len, voice_synonym **out, size_t *n,
                         kassa_err *err);

/* ---- the grammar ---- */

#define VOICE_ITEMS_MAX 2000   /* catalog items in one grammar */
#define VOICE_PHRASES_MAX 8000 /* spoken forms in one grammar */
#define VOICE_NOTES_MAX 64     /* notes kept (more are counted) */
#define VOICE_NOTE_MAX 160
#define VOICE_QTY_MAX 20 /* "twenty" */
/* A decoder word: "p_" and the phrase's words joined by '_' for products. */
#define VOICE_TOKEN_MAX (VOICE_PHRASE_MAX + 2)

typedef struct voice_item {
    const char *sku;
    const char *name; /* the catalog name, UTF-8 */
} voice_item;

typedef struct voice_phrase {
    char sku[KASSA_SKU_MAX + 1];
    char text[VOICE_PHRASE_MAX + 1]; /* "blueberry muffins" */
    char token[VOICE_TOKEN_MAX + 1]; /* "p_blueberry_muffins" */
    bool one;                        /* follows "a", "one", or nothing */
    bool many;                       /* follows "two" .. "twenty" */
    bool vowel;                      /* starts with a vowel sound: "an", not "a" */
    bool synonym;                    /* from the synonyms, not the name */
} voice_phrase;

typedef struct voice_word {
    char token[VOICE_TOKEN_MAX + 1];
    char prons[VOICE_PRON_VARIANTS_MAX][VOICE_PRON_MAX + 1];
    size_t n_prons;
    voice_pron_source source; /* the least certain source among its words */
} voice_word;

typedef struct voice_grammar voice_grammar;

/* Builds the grammar of a catalog. Items without a speakable name and no
 * synonym, a spoken form shared by two products (both dropped unless a
 * synonym settles it: a synonym wins over a derived name), and synonyms of
 * SKUs not in the catalog are left out with a note. KASSA_EINVAL when one
 * synonym phrase is given for two SKUs, when nothing at all is speakable,
 * or over the limits above. lx: see voice_pronounce. */
int voice_grammar_build(const voice_item *items, size_t n_items, const voice_synonym *syn,
                        size_t n_syn, const voice_lexicon *lx, voice_grammar **out, kassa_err *err);
void voice_grammar_free(voice_grammar *g);

/* The JSGF text (grammar "kassa_order", public rule <order>). */
const char *voice_grammar_jsgf(const voice_grammar *g);
size_t voice_grammar_phrase_count(const voice_grammar *g);
const voice_phrase *voice_grammar_phrase(const voice_grammar *g, size_t i);
/* Every decoder word the JSGF uses, with its pronunciations. */
size_t voice_grammar_word_count(const voice_grammar *g);
const voice_word *voice_grammar_word(const voice_grammar *g, size_t i);
const voice_word *voice_grammar_find_word(const voice_grammar *g, const char *token);
/* Notes on what was left out or guessed, one line each. */
size_t voice_grammar_note_count(const voice_grammar *g); /* all, even past VOICE_NOTES_MAX */
const char *voice_grammar_note(const voice_grammar *g, size_t i); /* i < VOICE_NOTES_MAX */

/* ---- the result ---- */

#define VOICE_CHANGES_MAX 16
#define VOICE_HYP_WORDS_MAX 128
#define VOICE_HEARD_MAX 511
/* qty of a remove that takes the whole line ("no coffee", "remove the
 * muffins"). */
#define VOICE_QTY_ALL 0

typedef enum {
    VOICE_OP_ADD = 1,
    VOICE_OP_REMOVE = 2,
} voice_op;

typedef struct voice_change {
    voice_op op;
    char sku[KASSA_SKU_MAX + 1];
    int64_t qty; /* >= 1, what was said for it in all, or VOICE_QTY_ALL for a remove */
} voice_change;

typedef enum {
    VOICE_HEARD = 0,      /* changes proposed (or just "that's all") */
    VOICE_NO_SPEECH,      /* nothing but silence or noise */
    VOICE_OUT_OF_GRAMMAR, /* speech the grammar has no path for */
    VOICE_LOW_CONFIDENCE, /* a path, but it fits the audio badly */
} voice_status;

const char *voice_status_name(voice_status s);

typedef struct voice_result {
    voice_status status;             /* anything but VOICE_HEARD means "please repeat" */
    char heard[VOICE_HEARD_MAX + 1]; /* the grammar's hypothesis as words ("" if none) */
    /* The path's acoustic log-likelihood per 10 ms frame of its words,
     * relative to the best-scoring state of the model in each frame
     * (natural log; 0 would be a perfect match, lower is worse): over the
     * whole utterance and for its worst word. 0 when there is no path. */
    double score;
    double word_score_min;
    bool done; /* "that's all" */
    size_t n_changes;
    voice_change changes[VOICE_CHANGES_MAX]; /* one per (op, sku), in spoken order */
    /* Timing of this call. */
    double audio_ms;
    double decode_ms;
} voice_result;

/* Parses a hypothesis (decoder words, space-separated) into changes. The
 * same (op, SKU) said twice is one change with the quantities added; a
 * remove of the whole line absorbs removes of some units. KASSA_EINVAL when
 * the words do not follow the grammar, name unknown tokens, are more than
 * VOICE_HYP_WORDS_MAX or make more than VOICE_CHANGES_MAX changes (then
 * res->status is VOICE_OUT_OF_GRAMMAR). res's status, heard, done and changes are
 * set; the scores and timings are left alone. */
int voice_parse_hyp(const voice_grammar *g, const char *hyp, voice_result *res, kassa_err *err);

/* ---- recognition ---- */

/* Thresholds in the units of voice_result.score, chosen on a tuning set
 * of 80 generated orders and 34 other sentences (not the test set):
 * docs/VOICE.md. */
#define VOICE_DEFAULT_MIN_SCORE (-7.5)
#define VOICE_DEFAULT_MIN_WORD_SCORE (-9.0)

typedef struct voice_config {
    const char *model_dir; /* acoustic model; VOICE_DEFAULT_MODEL when NULL */
    const char *dict_path; /* VOICE_DEFAULT_DICT when NULL */
    double min_score;
    double min_word_score;
} voice_config;

void voice_config_default(voice_config *cfg);

typedef struct voice_recognizer voice_recognizer;

/* Builds a recognizer for a catalog (see voice_grammar_build): reads the
 * dictionary, builds the grammar, starts a decoder with the grammar as its
 * search. cfg NULL: defaults. The items and synonyms are copied as needed;
 * they may be freed after the call. */
int voice_recognizer_new(const voice_config *cfg, const voice_item *items, size_t n_items,
                         const voice_synonym *syn, size_t n_syn, voice_recognizer **out,
                         kassa_err *err);
void voice_recognizer_free(voice_recognizer *r);
const voice_grammar *voice_recognizer_grammar(const voice_recognizer *r);
/* Milliseconds voice_recognizer_new took. */
double voice_recognizer_build_ms(const voice_recognizer *r);

/* Recognises one utterance of 16 kHz mono samples (1..VOICE_AUDIO_MAX_SAMPLES).
 * KASSA_OK with res filled whatever was heard (res->status says whether to
 * ask again); a negative code only when decoding itself failed. */
int voice_recognize(voice_recognizer *r, const int16_t *samples, size_t n_samples,
                    voice_result *res, kassa_err *err);
/* voice_wav_decode, then voice_recognize. */
int voice_recognize_wav(voice_recognizer *r, const uint8_t *wav, size_t len, voice_result *res,
                        kassa_err *err);

#endif
