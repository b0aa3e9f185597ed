/*
 * Fuzz target for the fraud model loader (fraud_model_load): the checks of
 * src/fraud/model.c and, for what they accept, XGBoost's loader and
 * predictions on the re-written model.
 *
 * Invariants:
 *  - a refused input gives KASSA_ECORRUPT (or ENOMEM) with a one-line
 *    printable message and no model;
 *  - an accepted model predicts a finite margin for inputs of zeros, of
 *    NaNs (missing), of extremes and of bytes from the input, and its
 *    contributions sum to that margin;
 *  - nothing crashes: XGBoost 1.7 itself crashes on some structurally bad
 *    models (a feature index past the input, a tree count that disagrees),
 *    which the checks must stop.
 *
 * Seeds (tests/fuzz/corpus/fuzz_fraud_model/): small valid models with the
 * fraud feature names and corruptions of them, from
 * tools/fraud/fuzz_seeds.py.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fraud/fraud.h"
#include "testutil.h"

static void check_model(fraud_model *m, const uint8_t *data, size_t size)
{
    float x[FRAUD_N_FEATURES], c[FRAUD_N_FEATURES + 1];
    for (int v = 0; v < 4; v++) {
        for (int i = 0; i < FRAUD_N_FEATURES; i++) {
            switch (v) {
            case 0:
                x[i] = 0;
                break;
            case 1:
                x[i] = NAN;
                break;
            case 2:
                x[i] = i % 2 ? FLT_MAX : -FLT_MAX;
                break;
            default:
                x[i] = (float)(size ? data[(size_t)i * 7 % size] : 0) - 100.0f;
            }
        }
        float margin;
        kassa_err err;
        tu_check(fraud_model_margin(m, x, &margin, &err) == KASSA_OK);
        tu_check(isfinite(margin));
        tu_check(fraud_model_contribs(m, x, c, &err) == KASSA_OK);
        double sum = 0, mag = 0;
        for (int i = 0; i <= FRAUD_N_FEATURES; i++) {
            sum += c[i];
            mag += fabs((double)c[i]);
        }
        tu_check(fabs(sum - margin) <= 1e-3 + 1e-4 * (mag + fabs((double)margin)));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fraud_model *m = (fraud_model *)&m;
    kassa_err err;
    memset(&err, 0xa5, sizeof err);
    int rc = fraud_model_load(data, size, &m, &err);
    if (rc != KASSA_OK) {
        tu_check(rc == KASSA_ECORRUPT || rc == KASSA_ENOMEM);
        tu_check(err.code == rc);
        tu_check_msg(err.msg, sizeof err.msg);
        tu_check(m == NULL);
        return 0;
    }
    tu_check(m != NULL);
    tu_check(fraud_model_trees(m) >= 1 && fraud_model_trees(m) <= FRAUD_MODEL_TREES_MAX);
    check_model(m, data, size);
    fraud_model_free(m);
    return 0;
}
