/*
 * Fuzz target for the JSON-lines form of fraud events
 * (fraud_event_from_json), and for the features of whatever it accepts.
 *
 * Invariants:
 *  - a refused line gives KASSA_ECORRUPT with a one-line printable message,
 *    a zeroed event and an empty label;
 *  - an accepted event passes fraud_event_check, and written back
 *    (fraud_event_to_json) reads as the same event and label;
 *  - observing it and, for a scored kind, computing its features against a
 *    state that has seen every earlier accepted input never fails and
 *    gives numbers or NaN, never infinities.
 *
 * Seeds: tests/fuzz/corpus/fuzz_fraud_event/ (every kind, and lines the
 * unit tests refuse).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fraud/fraud.h"
#include "testutil.h"

static fraud_state *state;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fraud_event e;
    char label[FRAUD_LABEL_MAX + 1];
    kassa_err err;
    memset(&err, 0xa5, sizeof err);
    int rc = fraud_event_from_json((const char *)data, size, &e, label, sizeof label, &err);
    if (rc != KASSA_OK) {
        tu_check(rc == KASSA_ECORRUPT && err.code == rc);
        tu_check_msg(err.msg, sizeof err.msg);
        tu_check(tu_all_zero(&e, sizeof e));
        tu_check(label[0] == '\0');
        return 0;
    }
    tu_check(fraud_event_check(&e, NULL) == KASSA_OK);
    kbuf b;
    kbuf_init(&b);
    tu_check(fraud_event_to_json(&e, label, &b, NULL) == KASSA_OK);
    fraud_event back;
    char label2[FRAUD_LABEL_MAX + 1];
    tu_check(fraud_event_from_json((const char *)b.data, b.len, &back, label2, sizeof label2,
                                   NULL) == KASSA_OK);
    tu_check(memcmp(&back, &e, sizeof e) == 0 && strcmp(label, label2) == 0);
    kbuf_free(&b);

    if (!state)
        tu_check(fraud_state_new(NULL, &state, NULL) == KASSA_OK);
    if (fraud_event_scored(e.kind)) {
        float x[FRAUD_N_FEATURES];
        tu_check(fraud_features(state, &e, x, NULL) == KASSA_OK);
        for (int i = 0; i < FRAUD_N_FEATURES; i++)
            tu_check(!isinf(x[i]));
    }
    tu_check(fraud_observe(state, &e, NULL) == KASSA_OK);
    return 0;
}
