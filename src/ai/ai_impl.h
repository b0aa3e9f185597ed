/*
 * ai_impl: the runtime's internals shared by ai.c (loading, planning,
 * invoking), kernels.c (the C kernels) and xnn.c (XNNPACK subgraphs).
 * Not part of the module's public face (ai.h).
 *
 * A loaded model is a list of tensors and a list of operators in execution
 * order. Every operator has a C kernel with TFLite reference arithmetic;
 * runs of operators XNNPACK can take are grouped into segments, each one
 * XNNPACK runtime set up once at load on fixed buffers. Tensors that C
 * kernels or several segments touch (and the model's inputs and outputs)
 * live in one arena planned at load from their lifetimes; constant tensors
 * live in one weights block. ai_model_invoke only walks the steps.
 */
#ifndef KASSA_AI_IMPL_H
#define KASSA_AI_IMPL_H

#include "ai/ai.h"
#include "ai/tflite.h"

#define AI_ALIGN_BYTES 64
/* XNNPACK may read up to XNN_EXTRA_BYTES (16) past a tensor's end. */
#define AI_TENSOR_SLACK_BYTES 16
#define AI_MAX_TENSOR_BYTES ((size_t)64 << 20)
#define AI_MAX_ARENA_BYTES ((size_t)256 << 20)
/* All tensors the model's inputs and operators' outputs, together (the arena
 * and XNNPACK's workspaces hold them). */
#define AI_MAX_ACTIVATION_BYTES ((size_t)512 << 20)
/* Convolution and pooling windows: each side, and output pixels x window
 * size (XNNPACK's indirection buffers hold one pointer per step). */
#define AI_MAX_WINDOW 1024
#define AI_MAX_WINDOW_STEPS ((uint64_t)1 << 26)
/* Largest total number of elements a kernel loops over per operator. */
#define AI_MAX_OP_WORK ((uint64_t)1 << 36)

typedef struct ai_tens {
    ai_tensor_info info;
    int type;     /* TFL_* */
    size_t count; /* elements */
    uint8_t *data;
    bool is_const;
    bool in_arena;
    bool is_input, is_output;
    bool zps_zero;           /* every zero point is 0 (or there are none) */
    int producer;            /* operator writing it, -1 for inputs and constants */
    int last_consumer;       /* last operator reading it, -1 when none */
    int first_use, last_use; /* step span that needs it in the arena */
    size_t arena_offset;
    uint32_t n_scale;
    float *scale; /* owned, n_scale entries (per-channel or one) */
    int32_t qdim;
} ai_tens;

typedef struct ai_op {
    int32_t code;
    int n_in, n_out;
    int32_t in[TFL_MAX_OP_INPUTS];
    int32_t out[TFL_MAX_OP_OUTPUTS];
    tfl_options opt;
    bool xnn_candidate; /* XNNPACK may take it */
    bool on_xnn;        /* XNNPACK runs it */
    int segment;        /* index into segments when on_xnn */

    /* spatial ops (conv, depthwise, pools) */
    int32_t pad_top, pad_left, pad_bottom, pad_right;
    int32_t depth_multiplier;
    /* fused activation */
    int32_t act_min, act_max; /* int8 */
    float act_min_f, act_max_f;
    /* int8 requantization */
    int32_t in_offset, in2_offset, out_offset;
    int32_t n_mult;
    int32_t *mult; /* n_mult entries: per output channel (owned) */
    int32_t *shift;
    float *bias_scale; /* XNNPACK's per-channel bias scales (owned) */
    /* ADD int8 */
    int32_t left_shift;
    int32_t in1_mult, in1_shift, in2_mult, in2_shift;
    /* SOFTMAX int8 */
    int32_t diff_min;
    /* FULLY_CONNECTED */
    int32_t fc_batches, fc_depth, fc_units;
    /* ADD / MUL broadcasting over AI_MAX_RANK dims (outermost first) */
    bool same_shape;
    int32_t bc_dims[AI_MAX_RANK];
    size_t bc_stride1[AI_MAX_RANK], bc_stride2[AI_MAX_RANK];
    /* PAD */
    int32_t pad_before[AI_MAX_RANK], pad_after[AI_MAX_RANK];
} ai_op;

typedef struct ai_segment {
    int first_op, last_op; /* inclusive */
    void *runtime;         /* xnn_runtime_t */
    int n_ext;
    int32_t *ext; /* tensor of external value id i */
} ai_segment;

struct ai_model {
    int backend; /* ai_backend */
    uint32_t n_tensors;
    ai_tens *tensors;
    uint32_t n_ops;
    ai_op *ops;
    int n_inputs, n_outputs;
    int32_t inputs[TFL_MAX_GRAPH_IO];
    int32_t outputs[TFL_MAX_GRAPH_IO];
    uint8_t *weights; /* constant tensors, AI_ALIGN_BYTES-aligned each */
    size_t weights_bytes;
    uint8_t *arena;
    size_t arena_bytes;
    size_t params_bytes; /* per-channel multipliers and scales */
    int64_t xnn_bytes;   /* XNNPACK's packed weights and workspaces */
    int n_segments;
    ai_segment *segments;
    int xnn_ops;
    uint64_t work; /* multiply-adds (or element visits) per invoke, estimated at load */
};

/* ---- fixed-point helpers with TFLite's reference semantics ---- */

/* double multiplier -> Q31 significand and power-of-two exponent
 * (QuantizeMultiplier); false when the exponent is outside [min, max]. */
bool ai_quantize_multiplier(double m, int32_t *mult, int32_t *shift, int32_t min_shift,
                            int32_t max_shift);
int32_t ai_mul_by_quantized_multiplier(int32_t x, int32_t mult, int32_t shift);

/* ---- C kernels (kernels.c): one per operator and type ---- */

/* Load-time preparation of the kernel parameters of op (int8
 * requantization, paddings, broadcasting); refuses what the kernels cannot
 * run with a message naming the operator. */
int ai_kernel_prepare(ai_model *m, int op_index, kassa_err *err);
/* Runs op on the tensors' current data; no allocation. */
void ai_kernel_run(const ai_model *m, const ai_op *op);

/* ---- XNNPACK (xnn.c) ---- */

/* Whether op can be offered to XNNPACK at all (types, options). */
bool ai_xnn_candidate(const ai_model *m, const ai_op *op);
/* Groups the candidate ops into segments and creates their runtimes; an op
 * XNNPACK refuses falls back to its C kernel. */
int ai_xnn_build(ai_model *m, kassa_err *err);
/* Binds the segments' external values to their arena buffers (once). */
int ai_xnn_setup(ai_model *m, kassa_err *err);
int ai_xnn_run(const ai_model *m, const ai_segment *s, kassa_err *err);
void ai_xnn_free(ai_model *m);

#endif
