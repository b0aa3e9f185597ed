/*
 * tflite: the project's reader for `.tflite` flatbuffers (internal to src/ai).
 *
 * A model file is untrusted bytes. Every offset, vtable, vector length,
 * string and buffer is checked against the file before it is read, the
 * structure is walked without recursion, and every count has a named limit,
 * so a malformed file is a KASSA_ECORRUPT error with a message naming what
 * is wrong, never an out-of-bounds read.
 *
 * The reader only decodes (subgraph 0, its tensors, operators with the
 * options of the operators the runtime knows); whether the runtime can run
 * the result is decided by the planner in ai.c. Field ids follow
 * tensorflow/lite/schema/schema.fbs (schema version 3). The builtin opcode
 * of an operator is the larger of `builtin_code` and the older
 * `deprecated_builtin_code`, as TFLite does.
 *
 * The parsed model points into the caller's bytes (constant tensor data,
 * custom option bytes are not kept); it lives only while those bytes do.
 */
#ifndef KASSA_AI_TFLITE_H
#define KASSA_AI_TFLITE_H

#include "ai/ai.h"

#define TFL_MAX_MODEL_BYTES ((size_t)256 << 20)
#define TFL_MAX_TENSORS 16384
#define TFL_MAX_OPS 8192
#define TFL_MAX_OPCODES 4096
#define TFL_MAX_BUFFERS 65536
#define TFL_MAX_OP_INPUTS 16
#define TFL_MAX_OP_OUTPUTS 8
#define TFL_MAX_GRAPH_IO 64
#define TFL_MAX_QUANT_PARAMS 65536
#define TFL_NAME_SIZE 64
#define TFL_SCHEMA_VERSION 3

/* TensorType values of the schema. */
enum {
    TFL_FLOAT32 = 0,
    TFL_FLOAT16 = 1,
    TFL_INT32 = 2,
    TFL_UINT8 = 3,
    TFL_INT64 = 4,
    TFL_STRING = 5,
    TFL_BOOL = 6,
    TFL_INT16 = 7,
    TFL_COMPLEX64 = 8,
    TFL_INT8 = 9,
    TFL_TYPE_COUNT = 18, /* FLOAT64 .. INT4 are known by name only */
};

/* BuiltinOperator values the runtime (or its error messages) uses. */
enum {
    TFL_OP_ADD = 0,
    TFL_OP_AVERAGE_POOL_2D = 1,
    TFL_OP_CONV_2D = 3,
    TFL_OP_DEPTHWISE_CONV_2D = 4,
    TFL_OP_FULLY_CONNECTED = 9,
    TFL_OP_MAX_POOL_2D = 17,
    TFL_OP_MUL = 18,
    TFL_OP_RESHAPE = 22,
    TFL_OP_SOFTMAX = 25,
    TFL_OP_CUSTOM = 32,
    TFL_OP_PAD = 34,
};

/* Padding and ActivationFunctionType of the schema. */
enum { TFL_PAD_SAME = 0, TFL_PAD_VALID = 1 };
enum {
    TFL_ACT_NONE = 0,
    TFL_ACT_RELU = 1,
    TFL_ACT_RELU_N1_TO_1 = 2,
    TFL_ACT_RELU6 = 3,
    TFL_ACT_TANH = 4,
    TFL_ACT_SIGN_BIT = 5,
};

typedef struct tfl_tensor {
    char name[TFL_NAME_SIZE]; /* printable ASCII, truncated */
    int type;                 /* TFL_* (any value < TFL_TYPE_COUNT) */
    int rank;
    int32_t dims[AI_MAX_RANK];
    const uint8_t *data; /* constant contents in the caller's bytes, or NULL */
    size_t data_bytes;
    uint32_t n_scale; /* quantization: 0 when the tensor has none */
    float *scale;     /* n_scale entries (owned by the model) */
    uint32_t n_zero_point;
    int64_t *zero_point; /* n_zero_point entries */
    int32_t quantized_dimension;
    bool is_variable;
    bool sparse;
} tfl_tensor;

/* Options of the operators the runtime knows, with the schema's defaults
 * when the file leaves them out. */
typedef struct tfl_options {
    int padding;
    int32_t stride_w, stride_h;
    int32_t dilation_w, dilation_h;
    int32_t filter_w, filter_h;
    int32_t depth_multiplier;
    int activation;
    float beta;
    bool keep_num_dims;
    int weights_format;
    bool asymmetric_quantize_inputs;
    int n_new_shape; /* -1 when absent */
    int32_t new_shape[AI_MAX_RANK];
} tfl_options;

typedef struct tfl_op {
    int32_t code;                    /* builtin code, TFL_OP_CUSTOM for custom ops */
    char custom_name[TFL_NAME_SIZE]; /* custom_code, printable ASCII */
    int32_t version;
    int n_in, n_out;
    int32_t in[TFL_MAX_OP_INPUTS]; /* tensor index or -1 (optional input) */
    int32_t out[TFL_MAX_OP_OUTPUTS];
    tfl_options opt;
} tfl_op;

typedef struct tfl_model {
    uint32_t version;
    uint32_t n_subgraphs;
    uint32_t n_tensors;
    tfl_tensor *tensors;
    uint32_t n_ops;
    tfl_op *ops;
    int n_inputs, n_outputs;
    int32_t inputs[TFL_MAX_GRAPH_IO];
    int32_t outputs[TFL_MAX_GRAPH_IO];
} tfl_model;

/* Decodes bytes into *m (which the caller frees with tfl_model_free, also
 * after a failure). KASSA_ECORRUPT for a malformed file, KASSA_EVERSION for
 * another schema version, KASSA_ENOMEM. */
int tfl_parse(const uint8_t *bytes, size_t size_bytes, tfl_model *m, kassa_err *err);
void tfl_model_free(tfl_model *m);

/* "CONV_2D", "FULLY_CONNECTED", ...; NULL for a code the schema lacks. */
const char *tfl_op_name(int32_t code);
/* "FLOAT32", "INT8", ...; NULL for an unknown type. */
const char *tfl_type_name(int type);
/* Bytes of one element, 0 for types without a fixed size (STRING, INT4). */
size_t tfl_type_size(int type);

#endif
