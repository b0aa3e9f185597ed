/*
 * Fuzz target for the model manifest parser (modelreg_manifest_parse) and
 * the labels-file parser: a manifest is parsed only after its signature
 * verified, but a signer's mistake or a compromised signing key must still
 * be an error, never a crash.
 *
 * Invariants:
 *  - a failure is KASSA_ECORRUPT, KASSA_EVERSION or KASSA_ENOMEM with a
 *    one-line printable message, and leaves the manifest zeroed;
 *  - a parsed manifest is within every documented limit: valid name,
 *    version 1..INT32_MAX, tensor sizes = elements × dtype size, 1..16
 *    canaries each with one expected value per output element (and its
 *    input bytes when given inline), labels matching the output elements;
 *  - the labels parser, fed the same bytes, yields 1..4096 labels of
 *    1..96 bytes without control characters, or fails cleanly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modelreg/modelreg.h"
#include "testutil.h"

static void check_spec(const modelreg_tensor_spec *t)
{
    tu_check(t->rank >= 1 && t->rank <= AI_MAX_RANK);
    size_t count = 1;
    for (int i = 0; i < t->rank; i++) {
        tu_check(t->dims[i] >= 1 && t->dims[i] <= MODELREG_DIM_MAX);
        count *= (size_t)t->dims[i];
    }
    tu_check(count == t->count);
    tu_check(t->size_bytes == count * modelreg_dtype_size(t->dtype));
    tu_check(t->size_bytes <= MODELREG_TENSOR_MAX_BYTES && t->scale >= 0);
}

static void check_labels(const modelreg_manifest *m)
{
    tu_check(m->label_count <= MODELREG_MAX_LABELS);
    for (size_t i = 0; i < m->label_count; i++) {
        size_t n = strnlen(m->labels[i], MODELREG_LABEL_MAX + 1);
        tu_check(n >= 1 && n <= MODELREG_LABEL_MAX && tu_no_controls(m->labels[i]));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    modelreg_manifest m;
    kassa_err err;
    int rc = modelreg_manifest_parse(data, size, &m, &err);
    if (rc != KASSA_OK) {
        tu_check(rc == KASSA_ECORRUPT || rc == KASSA_EVERSION || rc == KASSA_ENOMEM);
        tu_check(err.code == rc);
        tu_check_msg(err.msg, sizeof err.msg);
        tu_check(tu_all_zero(&m, sizeof m));
    } else {
        tu_check(m.format == MODELREG_FORMAT);
        tu_check(kassa_valid_id(m.name, KASSA_ID_MAX) && m.name[0] != '.');
        tu_check(m.version >= 1 && m.version <= MODELREG_VERSION_MAX);
        tu_check(strlen(m.created_at) == MODELREG_CREATED_AT_LEN);
        tu_check(modelreg_valid_file_name(m.model_file));
        tu_check(m.model_size_bytes >= 1 && m.model_size_bytes <= MODELREG_MODEL_MAX_BYTES);
        check_spec(&m.input);
        check_spec(&m.output);
        tu_check(json_is_object(m.preprocess));
        tu_check(m.canary_count >= 1 && m.canary_count <= MODELREG_MAX_CANARIES);
        for (size_t i = 0; i < m.canary_count; i++) {
            const modelreg_canary *c = &m.canaries[i];
            tu_check(modelreg_valid_file_name(c->name));
            tu_check(c->input_in_file
                         ? (c->input == NULL && modelreg_valid_file_name(c->input_file))
                         : c->input != NULL);
            tu_check(c->expected_count == m.output.count);
            if (m.output.dtype == AI_FLOAT32)
                tu_check(c->expected_float && c->tolerance_abs >= 0);
            else
                tu_check(c->expected_int && c->tolerance_lsb >= 0 &&
                         c->tolerance_lsb <= MODELREG_TOLERANCE_LSB_MAX);
        }
        tu_check(m.labels_in_file ? m.label_count == 0 : true);
        tu_check(m.label_count == 0 || m.label_count == m.output.count);
        check_labels(&m);
        tu_check(m.latency_budget_ms > 0 && m.latency_budget_ms <= MODELREG_LATENCY_BUDGET_MAX_MS);
    }
    modelreg_manifest_free(&m);

    /* the same bytes as a labels file */
    memset(&m, 0, sizeof m);
    m.labels_in_file = true;
    rc = modelreg_labels_parse(data, size, &m, &err);
    if (rc != KASSA_OK) {
        tu_check(rc == KASSA_ECORRUPT || rc == KASSA_ENOMEM);
        tu_check_msg(err.msg, sizeof err.msg);
        tu_check(m.labels == NULL && m.label_count == 0);
    } else {
        tu_check(m.label_count >= 1);
        check_labels(&m);
    }
    modelreg_manifest_free(&m);
    return 0;
}
