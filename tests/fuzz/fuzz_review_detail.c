/*
 * Fuzz target for the detail of a replicated "fraud_decision" audit
 * operation (term_fraud_decision_parse, src/term/triage.c): another
 * terminal's text, read for the review list and the triage's ranking.
 *
 * Invariants:
 *  - a refused detail gives KASSA_ECORRUPT with a one-line printable
 *    message and a zeroed decision;
 *  - an accepted one has words for event, action and outcome, at most
 *    TERM_FRAUD_REASONS_MAX reasons with finite numbers, a probability in
 *    0..1 or NaN; it formats back into an audit detail (at most
 *    OPLOG_AUDIT_DETAIL_MAX bytes), and that detail parses and formats to
 *    the same text (formatting is stable after one round).
 *
 * Seeds: tests/fuzz/corpus/fuzz_review_detail/ (what kassad writes, NaN,
 * and the details the unit tests refuse).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "term/term.h"
#include "testutil.h"

#define INPUT_MAX 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[INPUT_MAX + 1];
    size_t n = size < INPUT_MAX ? size : INPUT_MAX;
    memcpy(text, data, n);
    text[n] = '\0';
    term_fraud_decision d;
    kassa_err err;
    memset(&err, 0xa5, sizeof err);
    int rc = term_fraud_decision_parse(text, &d, &err);
    if (rc != KASSA_OK) {
        tu_check(rc == KASSA_ECORRUPT && err.code == rc);
        tu_check_msg(err.msg, sizeof err.msg);
        tu_check(tu_all_zero(&d, sizeof d));
        return 0;
    }
    tu_check(d.event[0] && d.action[0] && d.outcome[0]);
    tu_check(d.n_reasons <= TERM_FRAUD_REASONS_MAX);
    tu_check(isnan(d.probability) || (d.probability >= 0 && d.probability <= 1));
    for (size_t i = 0; i < d.n_reasons; i++)
        tu_check(d.reasons[i].feature[0] && isfinite(d.reasons[i].value) &&
                 isfinite(d.reasons[i].contribution));
    char once[OPLOG_AUDIT_DETAIL_MAX + 1], twice[OPLOG_AUDIT_DETAIL_MAX + 1];
    tu_check(term_fraud_decision_format(&d, once, NULL) == KASSA_OK);
    tu_check(strlen(once) <= OPLOG_AUDIT_DETAIL_MAX);
    term_fraud_decision back;
    tu_check(term_fraud_decision_parse(once, &back, NULL) == KASSA_OK);
    tu_check(term_fraud_decision_format(&back, twice, NULL) == KASSA_OK);
    tu_check(strcmp(once, twice) == 0);
    return 0;
}
