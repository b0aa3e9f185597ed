/*
 * ai: the terminal's product recognition (docs/AI.md): the active signed
 * model of the registry (src/modelreg, name "product") loaded at start and
 * on SIGHUP, frames from an upload or the [ai] camera, and every decision
 * recorded for audit (the suggestion, then what the cashier made of it).
 *
 * A model that fails to load is rolled back to the previous version
 * automatically (the registry health-checks it); with no usable model,
 * every recognition is a fallback to the barcode, never an error.
 */
#ifndef KASSA_KD_AI_H
#define KASSA_KD_AI_H

#include "kassad/kassad.h"

#define KD_AI_MODEL_NAME "product"
/* Decisions waiting for the cashier's confirmation, at most (oldest out). */
#define KD_AI_PENDING_MAX 64

int kd_ai_start(kd_app *app, kassa_err *err);
/* Loads the active model again (after `kassa model install` or rollback). */
void kd_ai_reload(kd_app *app);
void kd_ai_free(kd_app *app);
/* {state, model: {name, version} | null, error, decisions, fallbacks}. */
json_t *kd_ai_status_json(kd_app *app);

#endif
