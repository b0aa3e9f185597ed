/*
 * Fuzz target for the edge AI runtime's model loader (ai_model_load: the
 * .tflite flatbuffer reader, the operator and type checks, the kernels'
 * load-time preparation, XNNPACK subgraph creation and the memory plan).
 *
 * Invariants:
 *  - failure leaves nothing behind (out is NULL), gives ECORRUPT, EINVAL,
 *    EVERSION or ENOMEM, and a one-line printable message;
 *  - a loaded model has inputs and outputs whose infos are consistent
 *    (size_bytes = element count x element size, a known dtype), buffers
 *    for each, and a memory figure covering them;
 *  - a loaded model of moderate cost (ai_model_work) runs on both backends
 *    (XNNPACK and the C reference kernels), twice, with the same outputs
 *    each time on the reference backend (deterministic, inputs kept).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai.h"
#include "testutil.h"

/* Crafted models can ask for a lot of arithmetic: invoke only those the
 * fuzzer can afford many times a second. */
#define FUZZ_MAX_WORK 2000000

static size_t dtype_size(ai_dtype t)
{
    switch (t) {
    case AI_FLOAT32:
    case AI_INT32:
        return 4;
    case AI_INT8:
    case AI_UINT8:
        return 1;
    case AI_INT16:
        return 2;
    case AI_INT64:
        return 8;
    }
    return 0;
}

static void check_info(const ai_tensor_info *info)
{
    tu_check(memchr(info->name, '\0', sizeof info->name) != NULL);
    tu_check(info->rank >= 0 && info->rank <= AI_MAX_RANK);
    size_t count = 1;
    for (int d = 0; d < info->rank; d++) {
        tu_check(info->dims[d] >= 0);
        count *= (size_t)info->dims[d];
    }
    tu_check(dtype_size(info->dtype) > 0);
    tu_check(info->size_bytes == count * dtype_size(info->dtype));
}

/* Loads with one backend; returns the model or NULL (checked failure). */
static ai_model *load(const uint8_t *data, size_t size, ai_backend backend)
{
    ai_model *m = (ai_model *)&m; /* must be reset to NULL on failure */
    kassa_err err;
    memset(&err, 0xa5, sizeof err);
    ai_load_opts opts = {.backend = backend};
    int rc = ai_model_load_opts(data, size, &opts, &m, &err);
    if (rc != KASSA_OK) {
        tu_check(rc == KASSA_ECORRUPT || rc == KASSA_EINVAL || rc == KASSA_EVERSION ||
                 rc == KASSA_ENOMEM);
        tu_check(err.code == rc);
        tu_check_msg(err.msg, sizeof err.msg);
        tu_check(m == NULL);
        return NULL;
    }
    tu_check(m != NULL);
    int ni = ai_model_input_count(m), no = ai_model_output_count(m);
    tu_check(ni >= 1 && no >= 1);
    size_t io_bytes = 0;
    for (int i = 0; i < ni + no; i++) {
        ai_tensor_info info;
        bool in = i < ni;
        int k = in ? i : i - ni;
        tu_check((in ? ai_model_input_info(m, k, &info, NULL)
                     : ai_model_output_info(m, k, &info, NULL)) == KASSA_OK);
        check_info(&info);
        tu_check((in ? (const void *)ai_model_input(m, k) : ai_model_output(m, k)) != NULL);
        io_bytes += info.size_bytes;
    }
    tu_check(ai_model_input(m, ni) == NULL && ai_model_output(m, no) == NULL);
    tu_check(ai_model_memory_bytes(m) >= io_bytes / 2); /* inputs may be outputs too */
    tu_check(ai_model_xnn_op_count(m) <= ai_model_op_count(m));
    if (backend == AI_BACKEND_REFERENCE)
        tu_check(ai_model_xnn_op_count(m) == 0);
    return m;
}

/* Fills every input with bytes of the fuzz input (floats kept finite). */
static void fill_inputs(ai_model *m, const uint8_t *data, size_t size)
{
    for (int i = 0; i < ai_model_input_count(m); i++) {
        ai_tensor_info info;
        tu_check(ai_model_input_info(m, i, &info, NULL) == KASSA_OK);
        uint8_t *p = ai_model_input(m, i);
        for (size_t k = 0; k < info.size_bytes; k++)
            p[k] = size ? data[(k * 31 + (size_t)i) % size] : 0;
        if (info.dtype == AI_FLOAT32)
            for (size_t k = 0; k < info.size_bytes / 4; k++) {
                float v = (float)((int8_t)p[4 * k]) / 16.0f;
                memcpy(p + 4 * k, &v, 4);
            }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ai_model *x = load(data, size, AI_BACKEND_AUTO);
    ai_model *r = load(data, size, AI_BACKEND_REFERENCE);
    /* The backend changes how a model runs, never whether it loads. */
    tu_check((x == NULL) == (r == NULL));
    if (x && ai_model_work(x) <= FUZZ_MAX_WORK) {
        tu_check(ai_model_work(x) == ai_model_work(r));
        kassa_err err;
        fill_inputs(x, data, size);
        tu_check(ai_model_invoke(x, &err) == KASSA_OK);
        fill_inputs(r, data, size);
        tu_check(ai_model_invoke(r, &err) == KASSA_OK);
        ai_tensor_info info;
        tu_check(ai_model_output_info(r, 0, &info, NULL) == KASSA_OK);
        uint8_t *first = malloc(info.size_bytes ? info.size_bytes : 1);
        tu_check(first != NULL);
        memcpy(first, ai_model_output(r, 0), info.size_bytes);
        tu_check(ai_model_invoke(r, &err) == KASSA_OK);
        tu_check(memcmp(first, ai_model_output(r, 0), info.size_bytes) == 0);
        free(first);
    }
    ai_model_free(x);
    ai_model_free(r);
    return 0;
}
