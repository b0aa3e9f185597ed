/*
 * voice: voice ordering at the checkout (docs/VOICE.md): a recording in,
 * proposed cart changes out, applied only when the cashier confirms.
 *
 * The recognizer (src/voice) is built from the catalog and the [voice]
 * synonyms file at the first order, and built again when either changed
 * (a digest of both is compared at each order), so new products are
 * speakable without a restart. Every proposal, and what the cashier did
 * with it, is a replicated audit operation (voice_proposal,
 * voice_confirmation).
 */
#ifndef KASSA_KD_VOICE_H
#define KASSA_KD_VOICE_H

#include "kassad/kassad.h"

/* Proposals waiting for the cashier's answer, at most (oldest out). */
#define KD_VOICE_PROPOSALS_MAX 32

int kd_voice_start(kd_app *app, kassa_err *err);
void kd_voice_free(kd_app *app);
/* {state, error, grammar_build_ms, grammar_builds, heard, please_repeat,
 * confirmed}. */
json_t *kd_voice_status_json(kd_app *app);

#endif
