/*
 * C kernels of the runtime, with TFLite's reference semantics.
 *
 * int8 kernels follow tensorflow/lite/kernels/internal/reference (the
 * kernels TFLite Micro runs): int32 accumulation of (input - zero point) *
 * weight, per-channel requantization with a Q31 multiplier and a
 * power-of-two shift applied with two roundings
 * (MultiplyByQuantizedMultiplier), saturation to the fused activation's
 * range; SOFTMAX in gemmlowp-style fixed point. So the reference backend
 * gives TFLite Micro's exact int8 outputs. float kernels are the plain
 * loops of the same reference code.
 *
 * ai_kernel_prepare checks everything a kernel relies on at load (types,
 * ranks, shapes against the declared output shape, quantization, the int32
 * accumulator's range), so the loops in ai_kernel_run need no checks and
 * cannot index outside their tensors.
 */
#include "ai/ai_impl.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixed point (gemmlowp / TFLite semantics, without UB) ---- */

static int32_t srdhm(int32_t a, int32_t b) /* SaturatingRoundingDoublingHighMul */
{
    if (a == INT32_MIN && b == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* RoundingDivideByPOT: x / 2^e rounded half away from zero; e in [0, 63]. */
static int32_t rdbpot(int32_t x, int e)
{
    assert(e >= 0 && e < 64);
    if (e == 0)
        return x;
    int64_t mask = (int64_t)(((uint64_t)1 << e) - 1);
    int64_t rem = (int64_t)x & mask;
    int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    int64_t q = (int64_t)x >> (e > 62 ? 62 : e);
    return (int32_t)(q + (rem > threshold ? 1 : 0));
}

/* x * 2^e with saturation (SaturatingRoundingMultiplyByPOT, e > 0). */
static int32_t sat_lshift(int32_t x, int e)
{
    int64_t r = (int64_t)x * ((int64_t)1 << e);
    if (r > INT32_MAX)
        return INT32_MAX;
    if (r < INT32_MIN)
        return INT32_MIN;
    return (int32_t)r;
}

/* Wrapping int32 add: gemmlowp's raw additions, defined for every input. */
static int32_t add_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

int32_t ai_mul_by_quantized_multiplier(int32_t x, int32_t mult, int32_t shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    int32_t shifted = (int32_t)((uint32_t)x << left); /* x * 2^left, wrapping like TFLite */
    return rdbpot(srdhm(shifted, mult), right);
}

bool ai_quantize_multiplier(double m, int32_t *mult, int32_t *shift, int32_t min_shift,
                            int32_t max_shift)
{
    if (!(m >= 0.0) || !isfinite(m))
        return false;
    if (m == 0.0) {
        *mult = 0;
        *shift = 0;
        return min_shift <= 0 && 0 <= max_shift;
    }
    int e = 0;
    double q = frexp(m, &e);
    int64_t q_fixed = (int64_t)round(q * 2147483648.0);
    if (q_fixed == ((int64_t)1 << 31)) {
        q_fixed /= 2;
        e++;
    }
    if (e < -31) { /* every bit shifted out: the result is 0, as in TFLite */
        e = 0;
        q_fixed = 0;
    }
    if (e < min_shift || e > max_shift)
        return false;
    *mult = (int32_t)q_fixed;
    *shift = e;
    return true;
}

/* ---- load-time checks ---- */

#define T(m, i) (&(m)->tensors[(i)])
#define OPNAME(op) tfl_op_name((op)->code)

static int refuse(kassa_err *err, int op_index, const ai_op *op, const char *what)
{
    return kassa_fail(err, KASSA_EINVAL, "ai: operator %d (%s): %s", op_index, OPNAME(op), what);
}

static int refuse_tensor(kassa_err *err, int op_index, const ai_op *op, const ai_tens *t,
                         const char *what)
{
    return kassa_fail(err, KASSA_EINVAL, "ai: operator %d (%s): tensor '%s': %s", op_index,
                      OPNAME(op), t->info.name, what);
}

static int refuse_type(kassa_err *err, int op_index, const ai_op *op, const ai_tens *t,
                       const char *supported)
{
    const char *tn = tfl_type_name(t->type);
    return kassa_fail(err, KASSA_EINVAL,
                      "ai: operator %d (%s): tensor '%s' has type %s%s, supported: %s", op_index,
                      OPNAME(op), t->info.name, tn ? tn : "unknown",
                      tn ? "" : " (not in the schema)", supported);
}

static bool same_dims(const ai_tens *a, const ai_tens *b)
{
    if (a->info.rank != b->info.rank)
        return false;
    for (int i = 0; i < a->info.rank; i++)
        if (a->info.dims[i] != b->info.dims[i])
            return false;
    return true;
}

/* A per-tensor int8 quantization: one usable scale, zero point in range. */
static bool quant_ok(const ai_tens *t)
{
    return t->n_scale >= 1 && isfinite(t->info.scale) && t->info.scale > 0.0f &&
           t->info.zero_point >= -128 && t->info.zero_point <= 127;
}

static int check_act_tensor(kassa_err *err, int idx, const ai_op *op, const ai_tens *t, int type)
{
    if (t->type != TFL_FLOAT32 && t->type != TFL_INT8)
        return refuse_type(err, idx, op, t, "FLOAT32, INT8");
    if (t->type != type)
        return refuse_tensor(err, idx, op, t, "type differs from the operator's input");
    if (type == TFL_INT8 && !quant_ok(t))
        return refuse_tensor(err, idx, op, t,
                             "int8 tensor without a valid scale and zero point in [-128, 127]");
    return KASSA_OK;
}

/* TFLite's Quantize lambda of CalculateActivationRangeQuantized. */
static int32_t quantize_bound(float f, const ai_tens *out)
{
    float q = roundf(f / out->info.scale);
    if (q > 1e6f)
        q = 1e6f;
    if (q < -1e6f)
        q = -1e6f;
    return out->info.zero_point + (int32_t)q;
}

static int prepare_activation(kassa_err *err, int idx, ai_op *op, int act, const ai_tens *out)
{
    float lo, hi;
    switch (act) {
    case TFL_ACT_NONE:
        lo = -INFINITY;
        hi = INFINITY;
        break;
    case TFL_ACT_RELU:
        lo = 0.0f;
        hi = INFINITY;
        break;
    case TFL_ACT_RELU_N1_TO_1:
        lo = -1.0f;
        hi = 1.0f;
        break;
    case TFL_ACT_RELU6:
        lo = 0.0f;
        hi = 6.0f;
        break;
    default:
        return kassa_fail(err, KASSA_EINVAL,
                          "ai: operator %d (%s): fused activation %d is not supported "
                          "(NONE, RELU, RELU_N1_TO_1, RELU6)",
                          idx, OPNAME(op), act);
    }
    op->act_min_f = lo;
    op->act_max_f = hi;
    op->act_min = -128;
    op->act_max = 127;
    if (out->type == TFL_INT8) {
        if (isfinite(lo) && quantize_bound(lo, out) > op->act_min)
            op->act_min = quantize_bound(lo, out);
        if (isfinite(hi) && quantize_bound(hi, out) < op->act_max)
            op->act_max = quantize_bound(hi, out);
        if (op->act_min > op->act_max)
            return refuse_tensor(err, idx, op, out, "empty fused activation range");
    }
    return KASSA_OK;
}

static bool add_work(ai_model *m, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t w;
    if (__builtin_mul_overflow(a, b, &w) || __builtin_mul_overflow(w, c, &w) || w > AI_MAX_OP_WORK)
        return false;
    m->work += w;
    return true;
}

/* Output size and paddings of a window op (TFLite's ComputeOutSize and
 * ComputePaddingWithOffset); false when the window does not fit. */
static bool window_out(int padding, int32_t in, int32_t filter, int32_t stride, int32_t dilation,
                       int32_t *out, int32_t *pad_before, int32_t *pad_after)
{
    int64_t eff = ((int64_t)filter - 1) * dilation + 1;
    int64_t o;
    if (padding == TFL_PAD_SAME)
        o = ((int64_t)in + stride - 1) / stride;
    else if (padding == TFL_PAD_VALID)
        o = ((int64_t)in + stride - eff) / stride;
    else
        return false;
    if (o <= 0 || o > INT32_MAX)
        return false;
    int64_t total = (o - 1) * stride + eff - in;
    if (total < 0)
        total = 0;
    if (total > INT32_MAX)
        return false;
    *out = (int32_t)o;
    *pad_before = (int32_t)(total / 2);
    *pad_after = (int32_t)(total - total / 2);
    return true;
}

static int prepare_window(kassa_err *err, int idx, ai_op *op, const ai_tens *in, const ai_tens *out,
                          int32_t fh, int32_t fw)
{
    const tfl_options *o = &op->opt;
    if (o->stride_h < 1 || o->stride_w < 1 || o->dilation_h < 1 || o->dilation_w < 1 ||
        o->stride_h > 1024 || o->stride_w > 1024 || o->dilation_h > 1024 || o->dilation_w > 1024)
        return refuse(err, idx, op, "strides and dilations must be in [1, 1024]");
    if (fh < 1 || fw < 1 || fh > AI_MAX_WINDOW || fw > AI_MAX_WINDOW)
        return refuse(err, idx, op, "window sides must be in [1, 1024]");
    if (o->padding != TFL_PAD_SAME && o->padding != TFL_PAD_VALID)
        return refuse(err, idx, op, "padding must be SAME or VALID");
    int32_t oh, ow;
    if (!window_out(o->padding, in->info.dims[1], fh, o->stride_h, o->dilation_h, &oh, &op->pad_top,
                    &op->pad_bottom) ||
        !window_out(o->padding, in->info.dims[2], fw, o->stride_w, o->dilation_w, &ow,
                    &op->pad_left, &op->pad_right))
        return refuse(err, idx, op, "the window does not fit the input");
    if (out->info.rank != 4 || out->info.dims[0] != in->info.dims[0] || out->info.dims[1] != oh ||
        out->info.dims[2] != ow)
        return refuse_tensor(err, idx, op, out, "output shape does not match the window");
    if ((uint64_t)oh * (uint64_t)ow * (uint64_t)fh * (uint64_t)fw > AI_MAX_WINDOW_STEPS)
        return refuse(err, idx, op, "output pixels x window size above 2^26");
    return KASSA_OK;
}

/* The operand counts of op, and its first input and output: activations
 * of one type (FLOAT32 or INT8, valid int8 quantization). */
static int prepare_io(ai_model *m, int idx, ai_op *op, int min_in, int max_in, const char *shape,
                      const ai_tens **in, const ai_tens **out, kassa_err *err)
{
    if (op->n_in < min_in || op->n_in > max_in || op->n_out != 1 || op->in[0] < 0)
        return refuse(err, idx, op, shape);
    for (int i = 1; i < min_in; i++)
        if (op->in[i] < 0)
            return refuse(err, idx, op, shape);
    *in = T(m, op->in[0]);
    *out = T(m, op->out[0]);
    int rc = check_act_tensor(err, idx, op, *in, (*in)->type);
    if (rc < 0 || (rc = check_act_tensor(err, idx, op, *out, (*in)->type)) < 0)
        return rc;
    return KASSA_OK;
}

static const ai_tens *opt_input(const ai_model *m, const ai_op *op, int i)
{
    return (i < op->n_in && op->in[i] >= 0) ? T(m, op->in[i]) : NULL;
}

/* Per-output-channel requantization of conv, depthwise and FC (int8). */
static int prepare_channel_quant(ai_model *m, kassa_err *err, int idx, ai_op *op, const ai_tens *in,
                                 const ai_tens *filter, const ai_tens *bias, const ai_tens *out,
                                 int32_t channels, int32_t qdim)
{
    if (filter->type != TFL_INT8)
        return refuse_type(err, idx, op, filter, "INT8 weights with an INT8 input");
    if (filter->n_scale != 1 && filter->n_scale != (uint32_t)channels)
        return refuse_tensor(err, idx, op, filter, "needs one scale or one per output channel");
    if (filter->n_scale > 1 && filter->qdim != qdim)
        return refuse_tensor(err, idx, op, filter, "per-channel scales on the wrong dimension");
    if (!filter->zps_zero)
        return refuse_tensor(err, idx, op, filter, "int8 weights need zero points of 0");
    if (bias && bias->type != TFL_INT32)
        return refuse_type(err, idx, op, bias, "INT32 bias with INT8 weights");
    op->n_mult = channels;
    op->mult = calloc((size_t)channels, sizeof *op->mult);
    op->shift = calloc((size_t)channels, sizeof *op->shift);
    op->bias_scale = calloc((size_t)channels, sizeof *op->bias_scale);
    if (!op->mult || !op->shift || !op->bias_scale)
        return kassa_fail(err, KASSA_ENOMEM, "ai: out of memory for requantization");
    m->params_bytes += (size_t)channels * (2 * sizeof(int32_t) + sizeof(float));
    for (int32_t c = 0; c < channels; c++) {
        float fs = filter->scale[filter->n_scale > 1 ? c : 0];
        if (!isfinite(fs) || fs <= 0.0f)
            return refuse_tensor(err, idx, op, filter, "weight scale must be positive");
        double eff = (double)in->info.scale * (double)fs / (double)out->info.scale;
        if (!ai_quantize_multiplier(eff, &op->mult[c], &op->shift[c], -62, 30))
            return refuse(err, idx, op, "requantization scale out of range");
        op->bias_scale[c] = in->info.scale * fs;
        if (!isfinite(op->bias_scale[c]) || op->bias_scale[c] <= 0.0f)
            return refuse(err, idx, op, "bias scale out of range");
    }
    op->in_offset = -in->info.zero_point;
    op->out_offset = out->info.zero_point;
    return KASSA_OK;
}

/* |sum of (x - zp) * w| + |bias| must fit int32 for every output channel:
 * |x - zp| <= 255. w_at(c, k) walks channel c's k weights. */
static bool acc_fits(const int8_t *w, size_t k_count, size_t k_stride, size_t c_stride,
                     int32_t channels, const int32_t *bias)
{
    for (int32_t c = 0; c < channels; c++) {
        int64_t sum = 0;
        for (size_t k = 0; k < k_count; k++)
            sum += abs((int)w[(size_t)c * c_stride + k * k_stride]);
        sum *= 255;
        if (bias)
            sum += llabs((long long)bias[c]);
        if (sum > INT32_MAX)
            return false;
    }
    return true;
}

static int prepare_conv(ai_model *m, int idx, ai_op *op, kassa_err *err)
{
    bool depthwise = op->code == TFL_OP_DEPTHWISE_CONV_2D;
    const ai_tens *in, *out;
    int rc = prepare_io(m, idx, op, 2, 3, "needs input, filter, optional bias and one output", &in,
                        &out, err);
    if (rc < 0)
        return rc;
    const ai_tens *filter = T(m, op->in[1]), *bias = opt_input(m, op, 2);
    if (in->info.rank != 4 || filter->info.rank != 4)
        return refuse(err, idx, op, "input and filter must have rank 4");
    if (!filter->is_const || (bias && !bias->is_const))
        return refuse(err, idx, op, "filter and bias must be constant");
    int32_t ic = in->info.dims[3];
    int32_t oc = depthwise ? filter->info.dims[3] : filter->info.dims[0];
    int32_t kh = filter->info.dims[1], kw = filter->info.dims[2];
    if (depthwise) {
        if (filter->info.dims[0] != 1 || ic < 1 || oc % ic != 0)
            return refuse_tensor(err, idx, op, filter,
                                 "depthwise filter must be [1, h, w, input channels x multiplier]");
        op->depth_multiplier = oc / ic;
    } else if (filter->info.dims[3] != ic) {
        return refuse_tensor(err, idx, op, filter,
                             "filter input channels differ from the input (grouped convolution "
                             "is not supported)");
    }
    if (oc < 1 || (bias && (bias->info.rank != 1 || bias->info.dims[0] != oc)))
        return refuse(err, idx, op, "bias must be [output channels]");
    if ((rc = prepare_window(err, idx, op, in, out, kh, kw)) < 0)
        return rc;
    if (out->info.dims[3] != oc)
        return refuse_tensor(err, idx, op, out, "output channels differ from the filter");
    if ((rc = prepare_activation(err, idx, op, op->opt.activation, out)) < 0)
        return rc;
    uint64_t per_out = depthwise ? (uint64_t)kh * kw : (uint64_t)kh * kw * ic;
    if (!add_work(m, out->count, per_out, 1))
        return refuse(err, idx, op, "too much work for one operator");
    if (in->type == TFL_FLOAT32) {
        if (filter->type != TFL_FLOAT32 || (bias && bias->type != TFL_FLOAT32))
            return refuse_type(err, idx, op, filter->type != TFL_FLOAT32 ? filter : bias,
                               "FLOAT32 filter and bias with a FLOAT32 input");
        return KASSA_OK;
    }
    rc = prepare_channel_quant(m, err, idx, op, in, filter, bias, out, oc, depthwise ? 3 : 0);
    if (rc < 0)
        return rc;
    const int32_t *b = bias ? (const int32_t *)bias->data : NULL;
    bool fits = depthwise
                    ? acc_fits((const int8_t *)filter->data, (size_t)kh * kw, (size_t)oc, 1, oc, b)
                    : acc_fits((const int8_t *)filter->data, (size_t)kh * kw * ic, 1,
                               (size_t)kh * kw * ic, oc, b);
    if (!fits)
        return refuse(err, idx, op, "weights could overflow the int32 accumulator");
    return KASSA_OK;
}

static int prepare_fc(ai_model *m, int idx, ai_op *op, kassa_err *err)
{
    if (op->n_in >= 2 && op->in[0] >= 0 && op->in[1] >= 0 && T(m, op->in[0])->type == TFL_FLOAT32 &&
        T(m, op->in[1])->type == TFL_INT8)
        return refuse(err, idx, op, "hybrid float input with int8 weights is not supported");
    const ai_tens *in, *out;
    int rc = prepare_io(m, idx, op, 2, 3, "needs input, weights, optional bias and one output", &in,
                        &out, err);
    if (rc < 0)
        return rc;
    const ai_tens *filter = T(m, op->in[1]), *bias = opt_input(m, op, 2);
    if (op->opt.weights_format != 0)
        return refuse(err, idx, op, "shuffled weights format is not supported");
    if (!filter->is_const || (bias && !bias->is_const))
        return refuse(err, idx, op, "weights and bias must be constant");
    if (filter->info.rank != 2 || filter->info.dims[0] < 1 || filter->info.dims[1] < 1)
        return refuse_tensor(err, idx, op, filter, "weights must be [units, depth]");
    int32_t units = filter->info.dims[0], depth = filter->info.dims[1];
    if (in->count % (size_t)depth != 0 || in->info.rank < 1)
        return refuse(err, idx, op, "input size is not a multiple of the weights' depth");
    size_t batches = in->count / (size_t)depth;
    if (bias && (bias->info.rank != 1 || bias->info.dims[0] != units))
        return refuse(err, idx, op, "bias must be [units]");
    /* Output: the input's shape with the last dimension replaced
     * (keep_num_dims), else [batches, units]. */
    bool shape_ok;
    if (op->opt.keep_num_dims) {
        shape_ok = out->info.rank == in->info.rank && in->info.dims[in->info.rank - 1] == depth &&
                   out->info.dims[out->info.rank - 1] == units;
        for (int i = 0; shape_ok && i < in->info.rank - 1; i++)
            shape_ok = out->info.dims[i] == in->info.dims[i];
    } else {
        shape_ok = out->info.rank == 2 && (size_t)out->info.dims[0] == batches &&
                   out->info.dims[1] == units;
    }
    if (!shape_ok)
        return refuse_tensor(err, idx, op, out, "output shape does not match the weights");
    if ((rc = prepare_activation(err, idx, op, op->opt.activation, out)) < 0)
        return rc;
    if (batches > INT32_MAX || !add_work(m, batches, (uint64_t)units, (uint64_t)depth))
        return refuse(err, idx, op, "too much work for one operator");
    op->fc_batches = (int32_t)batches;
    op->fc_depth = depth;
    op->fc_units = units;
    if (in->type == TFL_FLOAT32) {
        if (filter->type != TFL_FLOAT32 || (bias && bias->type != TFL_FLOAT32))
            return refuse_type(err, idx, op, filter->type != TFL_FLOAT32 ? filter : bias,
                               "FLOAT32 weights and bias with a FLOAT32 input");
        return KASSA_OK;
    }
    rc = prepare_channel_quant(m, err, idx, op, in, filter, bias, out, units, 0);
    if (rc < 0)
        return rc;
    if (!acc_fits((const int8_t *)filter->data, (size_t)depth, 1, (size_t)depth, units,
                  bias ? (const int32_t *)bias->data : NULL))
        return refuse(err, idx, op, "weights could overflow the int32 accumulator");
    return KASSA_OK;
}

static int prepare_pool(ai_model *m, int idx, ai_op *op, kassa_err *err)
{
    const ai_tens *in, *out;
    int rc = prepare_io(m, idx, op, 1, 1, "needs one input and one output", &in, &out, err);
    if (rc < 0)
        return rc;
    if (in->info.rank != 4)
        return refuse(err, idx, op, "input must have rank 4");
    op->opt.dilation_h = op->opt.dilation_w = 1;
    if ((rc = prepare_window(err, idx, op, in, out, op->opt.filter_h, op->opt.filter_w)) < 0)
        return rc;
    if (out->info.dims[3] != in->info.dims[3])
        return refuse_tensor(err, idx, op, out, "output channels differ from the input");
    if (in->type == TFL_INT8 && (fabsf(in->info.scale - out->info.scale) > 1e-6f ||
                                 in->info.zero_point != out->info.zero_point))
        return refuse(err, idx, op, "int8 pooling needs the same scale and zero point in and out");
    if ((rc = prepare_activation(err, idx, op, op->opt.activation, out)) < 0)
        return rc;
    if (!add_work(m, out->count, (uint64_t)op->opt.filter_h, (uint64_t)op->opt.filter_w))
        return refuse(err, idx, op, "too much work for one operator");
    return KASSA_OK;
}

#define AI_SOFTMAX_MAX_DEPTH 4095 /* the F12 sum of exps must not overflow */

static int prepare_softmax(ai_model *m, int idx, ai_op *op, kassa_err *err)
{
    const ai_tens *in, *out;
    int rc = prepare_io(m, idx, op, 1, 1, "needs one input and one output", &in, &out, err);
    if (rc < 0)
        return rc;
    if (in->info.rank < 1 || !same_dims(in, out) || in->info.dims[in->info.rank - 1] < 1)
        return refuse(err, idx, op, "input and output must have the same non-empty shape");
    if (!isfinite(op->opt.beta))
        return refuse(err, idx, op, "beta must be finite");
    if (!add_work(m, in->count, 4, 1))
        return refuse(err, idx, op, "too much work for one operator");
    if (in->type == TFL_FLOAT32)
        return KASSA_OK;
    if (in->info.dims[in->info.rank - 1] > AI_SOFTMAX_MAX_DEPTH)
        return refuse(err, idx, op, "int8 softmax over more than 4095 classes");
    if (out->info.zero_point != -128 || fabsf(out->info.scale - 1.0f / 256) > 0.001f / 256)
        return refuse_tensor(err, idx, op, out,
                             "int8 softmax output must have scale 1/256 and "
                             "zero point -128");
    /* PreprocessSoftmaxScaling with 5 integer bits for the scaled diff. */
    double real = (double)op->opt.beta * (double)in->info.scale * (double)(1 << 26);
    if (real > 2147483647.0)
        real = 2147483647.0;
    op->n_mult = 1;
    op->mult = calloc(1, sizeof *op->mult);
    op->shift = calloc(1, sizeof *op->shift);
    if (!op->mult || !op->shift)
        return kassa_fail(err, KASSA_ENOMEM, "ai: out of memory for softmax");
    if (!ai_quantize_multiplier(real, &op->mult[0], &op->shift[0], 0, 31))
        return refuse(err, idx, op, "beta x input scale too small for int8 softmax");
    /* CalculateInputRadius(5, shift): the largest |diff| whose rescaled
     * value fits the F5 range. */
    double radius = 31.0 * (double)(1 << 26) / (double)((int64_t)1 << op->shift[0]);
    op->diff_min = -(int32_t)floor(radius);
    return KASSA_OK;
}

/* Numpy broadcasting of two shapes into op's bc_* (right-aligned). */
static bool prepare_broadcast(ai_op *op, const ai_tens *a, const ai_tens *b, const ai_tens *out)
{
    op->same_shape = same_dims(a, b) && same_dims(a, out);
    int32_t da[AI_MAX_RANK], db[AI_MAX_RANK];
    for (int i = 0; i < AI_MAX_RANK; i++) {
        int ia = i - (AI_MAX_RANK - a->info.rank), ib = i - (AI_MAX_RANK - b->info.rank);
        int io = i - (AI_MAX_RANK - out->info.rank);
        da[i] = ia >= 0 ? a->info.dims[ia] : 1;
        db[i] = ib >= 0 ? b->info.dims[ib] : 1;
        int32_t o = io >= 0 ? out->info.dims[io] : 1;
        int32_t want = da[i] == 1 ? db[i] : da[i];
        if ((da[i] != 1 && db[i] != 1 && da[i] != db[i]) || o != want)
            return false;
        op->bc_dims[i] = o;
    }
    size_t sa = 1, sb = 1;
    for (int i = AI_MAX_RANK - 1; i >= 0; i--) {
        op->bc_stride1[i] = da[i] == 1 ? 0 : sa;
        op->bc_stride2[i] = db[i] == 1 ? 0 : sb;
        sa *= (size_t)da[i];
        sb *= (size_t)db[i];
    }
    return out->info.rank >= a->info.rank && out->info.rank >= b->info.rank;
}

static int prepare_binary(ai_model *m, int idx, ai_op *op, kassa_err *err)
{
    const ai_tens *a, *out;
    int rc = prepare_io(m, idx, op, 2, 2, "needs two inputs and one output", &a, &out, err);
    if (rc < 0)
        return rc;
    const ai_tens *b = T(m, op->in[1]);
    if ((rc = check_act_tensor(err, idx, op, b, a->type)) < 0)
        return rc;
    if (!prepare_broadcast(op, a, b, out))
        return refuse(err, idx, op, "input shapes do not broadcast to the output shape");
    if ((rc = prepare_activation(err, idx, op, op->opt.activation, out)) < 0)
        return rc;
    if (!add_work(m, out->count, 1, 1))
        return refuse(err, idx, op, "too much work for one operator");
    if (a->type == TFL_FLOAT32)
        return KASSA_OK;
    op->in_offset = -a->info.zero_point;
    op->in2_offset = -b->info.zero_point;
    op->out_offset = out->info.zero_point;
    op->n_mult = 1;
    op->mult = calloc(1, sizeof *op->mult);
    op->shift = calloc(1, sizeof *op->shift);
    if (!op->mult || !op->shift)
        return kassa_fail(err, KASSA_ENOMEM, "ai: out of memory for requantization");
    if (op->code == TFL_OP_MUL) {
        double real = (double)a->info.scale * (double)b->info.scale / (double)out->info.scale;
        if (!ai_quantize_multiplier(real, &op->mult[0], &op->shift[0], -62, 30))
            return refuse(err, idx, op, "requantization scale out of range");
        return KASSA_OK;
    }
    /* ADD: both inputs rescaled to twice the larger scale, 20 bits up. */
    op->left_shift = 20;
    double twice_max = 2.0 * (double)fmaxf(a->info.scale, b->info.scale);
    double r1 = (double)a->info.scale / twice_max, r2 = (double)b->info.scale / twice_max;
    double ro = twice_max / ((double)(1 << op->left_shift) * (double)out->info.scale);
    if (!ai_quantize_multiplier(r1, &op->in1_mult, &op->in1_shift, -62, 0) ||
        !ai_quantize_multiplier(r2, &op->in2_mult, &op->in2_shift, -62, 0) ||
        !ai_quantize_multiplier(ro, &op->mult[0], &op->shift[0], -62, 0))
        return refuse(err, idx, op, "requantization scale out of range");
    return KASSA_OK;
}

static int prepare_reshape(ai_model *m, int idx, ai_op *op, kassa_err *err)
{
    const ai_tens *in, *out;
    int rc = prepare_io(m, idx, op, 1, 2, "needs an input, an optional shape and one output", &in,
                        &out, err);
    if (rc < 0)
        return rc;
    if (in->count != out->count)
        return refuse(err, idx, op, "input and output sizes differ");
    if (!add_work(m, out->count, 1, 1))
        return refuse(err, idx, op, "too much work for one operator");
    return KASSA_OK;
}

static int prepare_pad(ai_model *m, int idx, ai_op *op, kassa_err *err)
{
    const ai_tens *in, *out;
    int rc =
        prepare_io(m, idx, op, 2, 2, "needs an input, paddings and one output", &in, &out, err);
    if (rc < 0)
        return rc;
    const ai_tens *pads = T(m, op->in[1]);
    if (!pads->is_const || (pads->type != TFL_INT32 && pads->type != TFL_INT64))
        return refuse_tensor(err, idx, op, pads, "paddings must be a constant INT32 or INT64");
    int rank = in->info.rank;
    if (pads->info.rank != 2 || pads->info.dims[0] != rank || pads->info.dims[1] != 2 ||
        out->info.rank != rank || rank < 1)
        return refuse_tensor(err, idx, op, pads, "paddings must be [rank, 2]");
    for (int i = 0; i < rank; i++) {
        int64_t before, after;
        if (pads->type == TFL_INT32) {
            before = ((const int32_t *)pads->data)[2 * i];
            after = ((const int32_t *)pads->data)[2 * i + 1];
        } else {
            before = ((const int64_t *)pads->data)[2 * i];
            after = ((const int64_t *)pads->data)[2 * i + 1];
        }
        if (before < 0 || after < 0 ||
            (int64_t)in->info.dims[i] + before + after != out->info.dims[i])
            return refuse_tensor(err, idx, op, out, "output shape does not match the paddings");
        op->pad_before[i] = (int32_t)before;
        op->pad_after[i] = (int32_t)after;
    }
    if (in->type == TFL_INT8 && (in->info.zero_point != out->info.zero_point ||
                                 fabsf(in->info.scale - out->info.scale) > 1e-6f))
        return refuse(err, idx, op, "int8 PAD needs the same scale and zero point in and out");
    op->out_offset = out->type == TFL_INT8 ? out->info.zero_point : 0;
    if (!add_work(m, out->count, 1, 1))
        return refuse(err, idx, op, "too much work for one operator");
    return KASSA_OK;
}

int ai_kernel_prepare(ai_model *m, int op_index, kassa_err *err)
{
    ai_op *op = &m->ops[op_index];
    if (op->n_out != 1)
        return refuse(err, op_index, op, "needs exactly one output");
    switch (op->code) {
    case TFL_OP_CONV_2D:
    case TFL_OP_DEPTHWISE_CONV_2D:
        return prepare_conv(m, op_index, op, err);
    case TFL_OP_FULLY_CONNECTED:
        return prepare_fc(m, op_index, op, err);
    case TFL_OP_AVERAGE_POOL_2D:
    case TFL_OP_MAX_POOL_2D:
        return prepare_pool(m, op_index, op, err);
    case TFL_OP_SOFTMAX:
        return prepare_softmax(m, op_index, op, err);
    case TFL_OP_ADD:
    case TFL_OP_MUL:
        return prepare_binary(m, op_index, op, err);
    case TFL_OP_RESHAPE:
        return prepare_reshape(m, op_index, op, err);
    case TFL_OP_PAD:
        return prepare_pad(m, op_index, op, err);
    default:
        return refuse(err, op_index, op, "operator not supported");
    }
}

/* ---- kernels ---- */

static int8_t clamp8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* CONV_2D and DEPTHWISE_CONV_2D, both types. For depthwise, output channel
 * oc reads input channel oc / multiplier and filter [0, y, x, oc]. */
static void run_conv(const ai_model *m, const ai_op *op)
{
    const ai_tens *in = T(m, op->in[0]), *flt = T(m, op->in[1]), *out = T(m, op->out[0]);
    const ai_tens *bias = opt_input(m, op, 2);
    bool dw = op->code == TFL_OP_DEPTHWISE_CONV_2D;
    const int32_t nb = in->info.dims[0], ih = in->info.dims[1], iw = in->info.dims[2],
                  ic = in->info.dims[3];
    const int32_t oh = out->info.dims[1], ow = out->info.dims[2], oc = out->info.dims[3];
    const int32_t kh = flt->info.dims[1], kw = flt->info.dims[2];
    const int32_t sh = op->opt.stride_h, sw = op->opt.stride_w;
    const int32_t dh = op->opt.dilation_h, dwd = op->opt.dilation_w;
    const int32_t k_ic = dw ? 1 : ic; /* input channels per output channel */
    bool q = in->type == TFL_INT8;
    for (int32_t b = 0; b < nb; b++)
        for (int32_t y = 0; y < oh; y++)
            for (int32_t x = 0; x < ow; x++)
                for (int32_t c = 0; c < oc; c++) {
                    const int32_t y0 = y * sh - op->pad_top, x0 = x * sw - op->pad_left;
                    const int32_t c_in = dw ? c / op->depth_multiplier : 0;
                    int32_t acc = 0;
                    float accf = 0.0f;
                    for (int32_t fy = 0; fy < kh; fy++) {
                        const int32_t iy = y0 + dh * fy;
                        if (iy < 0 || iy >= ih)
                            continue;
                        for (int32_t fx = 0; fx < kw; fx++) {
                            const int32_t ix = x0 + dwd * fx;
                            if (ix < 0 || ix >= iw)
                                continue;
                            size_t ibase = (((size_t)b * ih + iy) * iw + ix) * ic + c_in;
                            size_t fbase = dw ? ((size_t)fy * kw + fx) * oc + c
                                              : (((size_t)c * kh + fy) * kw + fx) * ic;
                            if (q) {
                                const int8_t *ip = (const int8_t *)in->data + ibase;
                                const int8_t *fp = (const int8_t *)flt->data + fbase;
                                for (int32_t k = 0; k < k_ic; k++)
                                    acc += (int32_t)fp[k] * ((int32_t)ip[k] + op->in_offset);
                            } else {
                                const float *ip = (const float *)in->data + ibase;
                                const float *fp = (const float *)flt->data + fbase;
                                for (int32_t k = 0; k < k_ic; k++)
                                    accf += ip[k] * fp[k];
                            }
                        }
                    }
                    size_t o = (((size_t)b * oh + y) * ow + x) * oc + c;
                    if (q) {
                        if (bias)
                            acc += ((const int32_t *)bias->data)[c];
                        acc = ai_mul_by_quantized_multiplier(acc, op->mult[c], op->shift[c]);
                        ((int8_t *)out->data)[o] =
                            clamp8(acc + op->out_offset, op->act_min, op->act_max);
                    } else {
                        if (bias)
                            accf += ((const float *)bias->data)[c];
                        ((float *)out->data)[o] = clampf(accf, op->act_min_f, op->act_max_f);
                    }
                }
}

static void run_fc(const ai_model *m, const ai_op *op)
{
    const ai_tens *in = T(m, op->in[0]), *flt = T(m, op->in[1]), *out = T(m, op->out[0]);
    const ai_tens *bias = opt_input(m, op, 2);
    const int32_t depth = op->fc_depth, units = op->fc_units;
    for (int32_t b = 0; b < op->fc_batches; b++)
        for (int32_t u = 0; u < units; u++) {
            size_t o = (size_t)b * units + u;
            if (in->type == TFL_INT8) {
                const int8_t *ip = (const int8_t *)in->data + (size_t)b * depth;
                const int8_t *fp = (const int8_t *)flt->data + (size_t)u * depth;
                int32_t acc = 0;
                for (int32_t d = 0; d < depth; d++)
                    acc += (int32_t)fp[d] * ((int32_t)ip[d] + op->in_offset);
                if (bias)
                    acc += ((const int32_t *)bias->data)[u];
                int32_t c = op->n_mult > 1 ? u : 0;
                acc = ai_mul_by_quantized_multiplier(acc, op->mult[c], op->shift[c]);
                ((int8_t *)out->data)[o] = clamp8(acc + op->out_offset, op->act_min, op->act_max);
            } else {
                const float *ip = (const float *)in->data + (size_t)b * depth;
                const float *fp = (const float *)flt->data + (size_t)u * depth;
                float acc = 0.0f;
                for (int32_t d = 0; d < depth; d++)
                    acc += ip[d] * fp[d];
                if (bias)
                    acc += ((const float *)bias->data)[u];
                ((float *)out->data)[o] = clampf(acc, op->act_min_f, op->act_max_f);
            }
        }
}

static void run_pool(const ai_model *m, const ai_op *op)
{
    const ai_tens *in = T(m, op->in[0]), *out = T(m, op->out[0]);
    bool avg = op->code == TFL_OP_AVERAGE_POOL_2D;
    bool q = in->type == TFL_INT8;
    const int32_t nb = in->info.dims[0], ih = in->info.dims[1], iw = in->info.dims[2],
                  ch = in->info.dims[3];
    const int32_t oh = out->info.dims[1], ow = out->info.dims[2];
    for (int32_t b = 0; b < nb; b++)
        for (int32_t y = 0; y < oh; y++)
            for (int32_t x = 0; x < ow; x++) {
                const int32_t y0 = y * op->opt.stride_h - op->pad_top;
                const int32_t x0 = x * op->opt.stride_w - op->pad_left;
                const int32_t fy0 = y0 < 0 ? -y0 : 0, fx0 = x0 < 0 ? -x0 : 0;
                const int32_t fy1 = op->opt.filter_h < ih - y0 ? op->opt.filter_h : ih - y0;
                const int32_t fx1 = op->opt.filter_w < iw - x0 ? op->opt.filter_w : iw - x0;
                for (int32_t c = 0; c < ch; c++) {
                    int32_t acc = avg ? 0 : -128, count = 0;
                    float accf = avg ? 0.0f : -INFINITY;
                    for (int32_t fy = fy0; fy < fy1; fy++)
                        for (int32_t fx = fx0; fx < fx1; fx++) {
                            size_t i = (((size_t)b * ih + y0 + fy) * iw + x0 + fx) * ch + c;
                            count++;
                            if (q) {
                                int32_t v = ((const int8_t *)in->data)[i];
                                acc = avg ? acc + v : (v > acc ? v : acc);
                            } else {
                                float v = ((const float *)in->data)[i];
                                accf = avg ? accf + v : (v > accf ? v : accf);
                            }
                        }
                    size_t o = (((size_t)b * oh + y) * ow + x) * ch + c;
                    if (q) {
                        /* Average rounded half away from zero (reference AveragePool). */
                        if (avg && count > 0)
                            acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                        ((int8_t *)out->data)[o] = clamp8(acc, op->act_min, op->act_max);
                    } else {
                        if (avg && count > 0)
                            accf /= (float)count;
                        ((float *)out->data)[o] = clampf(accf, op->act_min_f, op->act_max_f);
                    }
                }
            }
}

/* gemmlowp exp on [-1/4, 0) in Q0.31. */
static int32_t exp_on_interval(int32_t a)
{
    const int32_t constant_term = 1895147668; /* exp(-1/8) */
    const int32_t one_third = 715827883;
    int32_t x = add_wrap(a, 1 << 28); /* a + 1/8 */
    int32_t x2 = srdhm(x, x), x3 = srdhm(x2, x), x4 = srdhm(x2, x2);
    int32_t x4_over_4 = rdbpot(x4, 2);
    int32_t poly = rdbpot(add_wrap(srdhm(add_wrap(x4_over_4, x3), one_third), x2), 1);
    return add_wrap(constant_term, srdhm(constant_term, add_wrap(x, poly)));
}

/* gemmlowp exp_on_negative_values for a Q5.26 input, Q0.31 output. */
static int32_t exp_on_negative_q5(int32_t a)
{
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308,
                                      39332535,   720401,     242};
    const int frac_bits = 26;
    const int32_t quarter = 1 << (frac_bits - 2);
    int32_t a_mod = add_wrap(a & (quarter - 1), -quarter);
    int32_t result = exp_on_interval(sat_lshift(a_mod, 5));
    int32_t remainder = add_wrap(a_mod, -a);
    for (int i = 0; i < 7; i++) /* exponents -2 .. 4 */
        if (remainder & (int32_t)(1u << (frac_bits - 2 + i)))
            result = srdhm(result, barrel[i]);
    return a == 0 ? INT32_MAX : result;
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1, Q0.31 in and out. */
static int32_t one_over_one_plus_x(int32_t a)
{
    int64_t sum = (int64_t)a + INT32_MAX;
    int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t c48_17 = 1515870810, c_neg32_17 = -1010580540; /* Q2.29 */
    int32_t x = add_wrap(c48_17, srdhm(half_den, c_neg32_17));
    for (int i = 0; i < 3; i++) {
        int32_t one_minus = add_wrap(1 << 29, -srdhm(half_den, x));
        x = add_wrap(x, sat_lshift(srdhm(x, one_minus), 2));
    }
    return sat_lshift(x, 1);
}

static void run_softmax_s8(const ai_tens *in, const ai_tens *out, const ai_op *op)
{
    const int32_t depth = in->info.dims[in->info.rank - 1];
    const size_t rows = in->count / (size_t)depth;
    const int8_t *ip = (const int8_t *)in->data;
    int8_t *outp = (int8_t *)out->data;
    for (size_t r = 0; r < rows; r++, ip += depth, outp += depth) {
        int32_t max = -128;
        for (int32_t c = 0; c < depth; c++)
            max = ip[c] > max ? ip[c] : max;
        int32_t sum = 0; /* Q12.19 */
        for (int32_t c = 0; c < depth; c++) {
            int32_t diff = ip[c] - max;
            if (diff >= op->diff_min) {
                int32_t scaled = srdhm((int32_t)((uint32_t)diff << op->shift[0]), op->mult[0]);
                sum = add_wrap(sum, rdbpot(exp_on_negative_q5(scaled), 12));
            }
        }
        int headroom = sum > 0 ? __builtin_clz((uint32_t)sum) : 32;
        int bits_over_unit = 12 - headroom;
        int32_t shifted_minus_one =
            (int32_t)(((uint32_t)sum << (headroom & 31)) - ((uint32_t)1 << 31));
        int32_t scale = one_over_one_plus_x(shifted_minus_one);
        int e = bits_over_unit + 31 - 8;
        for (int32_t c = 0; c < depth; c++) {
            int32_t diff = ip[c] - max;
            if (diff >= op->diff_min && e >= 0) {
                int32_t scaled = srdhm((int32_t)((uint32_t)diff << op->shift[0]), op->mult[0]);
                int32_t v = rdbpot(srdhm(scale, exp_on_negative_q5(scaled)), e) - 128;
                outp[c] = clamp8(v, -128, 127);
            } else {
                outp[c] = -128;
            }
        }
    }
}

static void run_softmax_f32(const ai_tens *in, const ai_tens *out, float beta)
{
    const int32_t depth = in->info.dims[in->info.rank - 1];
    const size_t rows = in->count / (size_t)depth;
    const float *ip = (const float *)in->data;
    float *outp = (float *)out->data;
    for (size_t r = 0; r < rows; r++, ip += depth, outp += depth) {
        float max = ip[0];
        for (int32_t c = 1; c < depth; c++)
            max = ip[c] > max ? ip[c] : max;
        float sum = 0.0f;
        for (int32_t c = 0; c < depth; c++) {
            outp[c] = expf((ip[c] - max) * beta);
            sum += outp[c];
        }
        for (int32_t c = 0; c < depth; c++)
            outp[c] /= sum;
    }
}

static int8_t add_s8(const ai_op *op, int8_t a, int8_t b)
{
    int32_t x1 = (a + op->in_offset) * (1 << op->left_shift);
    int32_t x2 = (b + op->in2_offset) * (1 << op->left_shift);
    int32_t s = ai_mul_by_quantized_multiplier(x1, op->in1_mult, op->in1_shift) +
                ai_mul_by_quantized_multiplier(x2, op->in2_mult, op->in2_shift);
    int32_t v = ai_mul_by_quantized_multiplier(s, op->mult[0], op->shift[0]) + op->out_offset;
    return clamp8(v, op->act_min, op->act_max);
}

static int8_t mul_s8(const ai_op *op, int8_t a, int8_t b)
{
    int32_t p = (a + op->in_offset) * (b + op->in2_offset);
    int32_t v = ai_mul_by_quantized_multiplier(p, op->mult[0], op->shift[0]) + op->out_offset;
    return clamp8(v, op->act_min, op->act_max);
}

static void binary_one(const ai_op *op, bool q, const void *a, size_t ia, const void *b, size_t ib,
                       void *out, size_t io)
{
    bool add = op->code == TFL_OP_ADD;
    if (q) {
        int8_t x = ((const int8_t *)a)[ia], y = ((const int8_t *)b)[ib];
        ((int8_t *)out)[io] = add ? add_s8(op, x, y) : mul_s8(op, x, y);
    } else {
        float x = ((const float *)a)[ia], y = ((const float *)b)[ib];
        ((float *)out)[io] = clampf(add ? x + y : x * y, op->act_min_f, op->act_max_f);
    }
}

static void run_binary(const ai_model *m, const ai_op *op)
{
    const ai_tens *a = T(m, op->in[0]), *b = T(m, op->in[1]), *out = T(m, op->out[0]);
    bool q = a->type == TFL_INT8;
    if (op->same_shape) {
        for (size_t i = 0; i < out->count; i++)
            binary_one(op, q, a->data, i, b->data, i, out->data, i);
        return;
    }
    size_t idx[AI_MAX_RANK] = {0};
    size_t ia = 0, ib = 0;
    for (size_t i = 0; i < out->count; i++) {
        binary_one(op, q, a->data, ia, b->data, ib, out->data, i);
        for (int d = AI_MAX_RANK - 1; d >= 0; d--) { /* odometer step */
            ia += op->bc_stride1[d];
            ib += op->bc_stride2[d];
            if (++idx[d] < (size_t)op->bc_dims[d])
                break;
            ia -= op->bc_stride1[d] * (size_t)op->bc_dims[d];
            ib -= op->bc_stride2[d] * (size_t)op->bc_dims[d];
            idx[d] = 0;
        }
    }
}

static void run_pad(const ai_model *m, const ai_op *op)
{
    const ai_tens *in = T(m, op->in[0]), *out = T(m, op->out[0]);
    const size_t es = tfl_type_size(in->type);
    const int rank = in->info.rank;
    if (in->type == TFL_INT8)
        memset(out->data, (int8_t)op->out_offset, out->count);
    else
        for (size_t i = 0; i < out->count; i++)
            ((float *)out->data)[i] = 0.0f;
    if (in->count == 0)
        return;
    /* Copy the input row by row (innermost dimension contiguous). */
    const int32_t row = in->info.dims[rank - 1];
    const size_t rows = in->count / (size_t)row;
    size_t idx[AI_MAX_RANK] = {0};
    for (size_t r = 0; r < rows; r++) {
        size_t o = 0;
        for (int d = 0; d < rank; d++) {
            size_t pos = (d == rank - 1 ? 0 : idx[d]) + (size_t)op->pad_before[d];
            o = o * (size_t)out->info.dims[d] + pos;
        }
        memcpy(out->data + o * es, in->data + r * (size_t)row * es, (size_t)row * es);
        for (int d = rank - 2; d >= 0; d--) {
            if (++idx[d] < (size_t)in->info.dims[d])
                break;
            idx[d] = 0;
        }
    }
}

void ai_kernel_run(const ai_model *m, const ai_op *op)
{
    switch (op->code) {
    case TFL_OP_CONV_2D:
    case TFL_OP_DEPTHWISE_CONV_2D:
        run_conv(m, op);
        break;
    case TFL_OP_FULLY_CONNECTED:
        run_fc(m, op);
        break;
    case TFL_OP_AVERAGE_POOL_2D:
    case TFL_OP_MAX_POOL_2D:
        run_pool(m, op);
        break;
    case TFL_OP_SOFTMAX:
        if (T(m, op->in[0])->type == TFL_INT8)
            run_softmax_s8(T(m, op->in[0]), T(m, op->out[0]), op);
        else
            run_softmax_f32(T(m, op->in[0]), T(m, op->out[0]), op->opt.beta);
        break;
    case TFL_OP_ADD:
    case TFL_OP_MUL:
        run_binary(m, op);
        break;
    case TFL_OP_RESHAPE: {
        const ai_tens *in = T(m, op->in[0]), *out = T(m, op->out[0]);
        if (in->data != out->data)
            memmove(out->data, in->data, out->info.size_bytes);
        break;
    }
    case TFL_OP_PAD:
        run_pad(m, op);
        break;
    default:
        assert(!"operator was refused at load");
    }
}
