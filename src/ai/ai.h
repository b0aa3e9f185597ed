/*
 * ai: the terminal's edge AI runtime, a small TensorFlow Lite interpreter.
 *
 * It reads `.tflite` flatbuffers with the project's own bounds-checked reader
 * (a model file is untrusted bytes: a malformed one is a KASSA_ECORRUPT error,
 * never a crash), checks every operator and tensor type at load (anything it
 * cannot run is refused with its name, so a bad model fails the install-time
 * health check and not a sale), plans all memory at load, and runs inference
 * on XNNPACK subgraphs for int8 (per-channel weights) and float32, with small
 * C kernels where the 2022 XNNPACK has none (int8 softmax, average pooling).
 *
 * Why: product recognition, voice and other models (DESIGN.md §6) must run
 * offline on a 2-core terminal within a latency budget, with a predictable
 * memory footprint: one thread, no allocation per inference.
 *
 * Usage: ai_model_load() the bytes (they are copied), write the input through
 * ai_model_input() (size and type from ai_model_input_info()),
 * ai_model_invoke(), read ai_model_output(). A model is not thread-safe; use
 * one per thread.
 */
#ifndef KASSA_AI_H
#define KASSA_AI_H

#include "base/base.h"

#define AI_MAX_RANK 6

typedef enum ai_dtype { AI_FLOAT32 = 1, AI_INT8, AI_UINT8, AI_INT16, AI_INT32, AI_INT64 } ai_dtype;

typedef struct ai_tensor_info {
    char name[64]; /* truncated tensor name from the file */
    ai_dtype dtype;
    int rank;
    int32_t dims[AI_MAX_RANK];
    size_t size_bytes;
    float scale; /* per-tensor quantization; 0 when the tensor has none */
    int32_t zero_point;
} ai_tensor_info;

typedef struct ai_model ai_model;

/* Parses, validates and plans a model: every op and type checked (an
 * unsupported one is refused with its name), memory for all tensors planned
 * here; the bytes are copied. */
int ai_model_load(const uint8_t *bytes, size_t size_bytes, ai_model **out, kassa_err *err);
int ai_model_load_file(const char *path, ai_model **out, kassa_err *err);
void ai_model_free(ai_model *m);

int ai_model_input_count(const ai_model *m);
int ai_model_output_count(const ai_model *m);
int ai_model_input_info(const ai_model *m, int i, ai_tensor_info *out, kassa_err *err);
int ai_model_output_info(const ai_model *m, int i, ai_tensor_info *out, kassa_err *err);
void *ai_model_input(ai_model *m, int i); /* size_bytes of input i, fixed at load */
const void *ai_model_output(const ai_model *m, int i);

/* Runs the model once on the current inputs: no allocation, one thread. */
int ai_model_invoke(ai_model *m, kassa_err *err);

const char *ai_dtype_name(ai_dtype t);           /* "int8", "float32", ... */
size_t ai_model_memory_bytes(const ai_model *m); /* planned arena + weights, for reports */

/* ---- additions beyond the agreed API ---- */

typedef enum ai_backend {
    /* XNNPACK subgraphs where XNNPACK has the operator, C kernels elsewhere. */
    AI_BACKEND_AUTO = 0,
    /* C kernels only, with TFLite's reference integer arithmetic: exact
     * TFLite (Micro) int8 outputs, slower. For conformance checks. */
    AI_BACKEND_REFERENCE = 1,
} ai_backend;

typedef struct ai_load_opts {
    ai_backend backend;
} ai_load_opts;

/* ai_model_load with options (NULL: the defaults of ai_model_load). */
int ai_model_load_opts(const uint8_t *bytes, size_t size_bytes, const ai_load_opts *opts,
                       ai_model **out, kassa_err *err);
int ai_model_op_count(const ai_model *m);
int ai_model_xnn_op_count(const ai_model *m); /* operators XNNPACK runs */
/* Multiply-adds (element steps for other operators) of one invoke, as
 * estimated at load: the cost of the model, for reports and limits. */
uint64_t ai_model_work(const ai_model *m);

#endif
