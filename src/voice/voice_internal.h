/*
 * voice_internal.h: what the files of src/voice share and nothing else
 * uses. The module's public face is voice.h.
 */
#ifndef KASSA_VOICE_INTERNAL_H
#define KASSA_VOICE_INTERNAL_H

#include "voice/voice.h"

/* Candidate forms of an English word ("muffin" <-> "muffins"), most likely
 * first; the word itself is never among them. Each out[i] has room for
 * VOICE_WORD_MAX + 1 bytes. Returns how many (0..VOICE_FORMS_MAX). */
#define VOICE_FORMS_MAX 3
size_t voice_plural_forms(const char *word, char out[VOICE_FORMS_MAX][VOICE_WORD_MAX + 1]);
size_t voice_singular_forms(const char *word, char out[VOICE_FORMS_MAX][VOICE_WORD_MAX + 1]);
/* Plural and singular are the same word ("fish", "news"). */
bool voice_word_invariant(const char *word);
/* The word looks like a plural ("muffins", "batteries", "mice"). */
bool voice_word_looks_plural(const char *word);
/* Pronunciation of the plural made from the singular's (adds S, Z or
 * IH Z by the last phone) and the reverse (false when it does not end in
 * a plural suffix). out has VOICE_PRON_MAX + 1 bytes. */
bool voice_pron_pluralize(const char *sing, char *out);
bool voice_pron_singularize(const char *plur, char *out);

/* The pronunciation starts with a vowel phone ("an apple"). */
bool voice_pron_starts_vowel(const char *pron);

/* Looks a word up in the dictionary alone (no derivation). */
size_t voice_lexicon_find(const voice_lexicon *lx, const char *word,
                          char prons[VOICE_PRON_VARIANTS_MAX][VOICE_PRON_MAX + 1]);

/* The grammar's fixed words (quantities and commands) by their token. */
#define VOICE_TOKEN_THATS_ALL "thats_all"
/* Quantity of a quantity token ("a" 1, "twelve" 12); 0 when it is none. */
int voice_qty_of(const char *token);

#endif
