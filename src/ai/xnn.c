/*
 * XNNPACK segments of the runtime.
 *
 * Consecutive operators XNNPACK can take form a segment: one XNNPACK
 * subgraph whose external values are the tensors that cross the segment's
 * border (and the model's inputs and outputs); tensors produced and consumed
 * inside it stay XNNPACK's internal values. Each segment's runtime is
 * created once at load, without a thread pool (inference on the caller's
 * thread), and set up once on the arena's fixed buffers, so invoking it
 * allocates nothing.
 *
 * XNNPACK (the 2022 snapshot in Debian 12) refuses some parameters only at
 * definition or runtime creation. When a segment fails, its operators are
 * tried one by one and those XNNPACK refuses go back to their C kernels;
 * the loop ends because every round removes at least one operator.
 *
 * XNNPACK allocates through a counting allocator so ai_model_memory_bytes
 * includes its packed weights and workspaces.
 */
#include "ai/ai_impl.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <xnnpack.h>

/* ---- counting allocator ---- */

/* The load on this thread adds XNNPACK's allocations here (NULL: none). */
static _Thread_local int64_t *xnn_account;

typedef struct xnn_block {
    size_t size;   /* bytes asked for */
    size_t offset; /* from the malloc'd base to the user pointer */
} xnn_block;

static void *acct_aligned_allocate(void *ctx, size_t alignment, size_t size)
{
    (void)ctx;
    if (alignment < sizeof(xnn_block))
        alignment = sizeof(xnn_block);
    if ((alignment & (alignment - 1)) != 0 || size > ((size_t)1 << 40))
        return NULL;
    uint8_t *base = malloc(size + alignment + sizeof(xnn_block));
    if (!base)
        return NULL;
    uintptr_t p =
        ((uintptr_t)base + sizeof(xnn_block) + alignment - 1) & ~(uintptr_t)(alignment - 1);
    xnn_block *h = (xnn_block *)(p - sizeof(xnn_block));
    h->size = size;
    h->offset = p - (uintptr_t)base;
    if (xnn_account)
        *xnn_account += (int64_t)size;
    return (void *)p;
}

static void acct_aligned_deallocate(void *ctx, void *ptr)
{
    (void)ctx;
    if (!ptr)
        return;
    xnn_block *h = (xnn_block *)((uintptr_t)ptr - sizeof(xnn_block));
    if (xnn_account)
        *xnn_account -= (int64_t)h->size;
    free((uint8_t *)ptr - h->offset);
}

static void *acct_allocate(void *ctx, size_t size)
{
    return acct_aligned_allocate(ctx, sizeof(xnn_block), size);
}

static void *acct_reallocate(void *ctx, void *ptr, size_t size)
{
    void *n = acct_aligned_allocate(ctx, sizeof(xnn_block), size);
    if (!n || !ptr)
        return n;
    const xnn_block *h = (const xnn_block *)((uintptr_t)ptr - sizeof(xnn_block));
    memcpy(n, ptr, h->size < size ? h->size : size);
    acct_aligned_deallocate(ctx, ptr);
    return n;
}

static const struct xnn_allocator acct_allocator = {
    .context = NULL,
    .allocate = acct_allocate,
    .reallocate = acct_reallocate,
    .deallocate = acct_aligned_deallocate,
    .aligned_allocate = acct_aligned_allocate,
    .aligned_deallocate = acct_aligned_deallocate,
};

static pthread_once_t xnn_once = PTHREAD_ONCE_INIT;
static enum xnn_status xnn_init_status = xnn_status_uninitialized;

static void xnn_init_once(void)
{
    xnn_init_status = xnn_initialize(&acct_allocator);
}

static const char *xnn_status_name(enum xnn_status s)
{
    switch (s) {
    case xnn_status_success:
        return "success";
    case xnn_status_uninitialized:
        return "uninitialized";
    case xnn_status_invalid_parameter:
        return "invalid parameter";
    case xnn_status_invalid_state:
        return "invalid state";
    case xnn_status_unsupported_parameter:
        return "unsupported parameter";
    case xnn_status_unsupported_hardware:
        return "unsupported hardware";
    case xnn_status_out_of_memory:
        return "out of memory";
    }
    return "unknown status";
}

/* ---- which operators ---- */

/* The requantization scales of an int8 operator within what this XNNPACK
 * accepts. Its Debian build keeps its asserts, and some ranges are only
 * asserted (a conv scale below 2^-32 aborts the process), so these are
 * checked here with a margin, and an operator outside them stays on its C
 * kernel. */
static bool xnn_scales_ok(const ai_model *m, const ai_op *op)
{
    const ai_tens *in = &m->tensors[op->in[0]], *out = &m->tensors[op->out[0]];
    if (in->type != TFL_INT8)
        return true;
    bool fused = op->code != TFL_OP_PAD && op->code != TFL_OP_RESHAPE &&
                 op->code != TFL_OP_SOFTMAX && op->code != TFL_OP_AVERAGE_POOL_2D;
    if (fused && op->act_min >= op->act_max) /* XNNPACK needs min < max */
        return false;
    double so = out->info.scale;
    switch (op->code) {
    case TFL_OP_CONV_2D:
    case TFL_OP_DEPTHWISE_CONV_2D:
    case TFL_OP_FULLY_CONNECTED:
        for (int32_t c = 0; c < op->n_mult; c++) { /* conv scale in [2^-32, 256) */
            double r = (double)op->bias_scale[c] / so;
            if (!(r >= 0x1.0p-30 && r < 250.0))
                return false;
        }
        return true;
    case TFL_OP_ADD: { /* each input / output in [2^-10, 2^8) */
        double r1 = in->info.scale / so, r2 = m->tensors[op->in[1]].info.scale / so;
        return r1 >= 0x1.0p-9 && r1 < 0x1.0p+7 && r2 >= 0x1.0p-9 && r2 < 0x1.0p+7;
    }
    case TFL_OP_MUL: { /* product / output in [2^-16, 2^8) */
        double r = (double)in->info.scale * m->tensors[op->in[1]].info.scale / so;
        return r >= 0x1.0p-15 && r < 0x1.0p+7;
    }
    default:
        return true;
    }
}

bool ai_xnn_candidate(const ai_model *m, const ai_op *op)
{
    const ai_tens *in = &m->tensors[op->in[0]];
    if (!xnn_scales_ok(m, op))
        return false;
    switch (op->code) {
    case TFL_OP_CONV_2D:
    case TFL_OP_DEPTHWISE_CONV_2D:
    case TFL_OP_ADD:
    case TFL_OP_MUL:
    case TFL_OP_MAX_POOL_2D:
    case TFL_OP_PAD:
    case TFL_OP_RESHAPE:
        return true;
    case TFL_OP_FULLY_CONNECTED:
        /* This XNNPACK has no per-channel int8 fully connected operator. */
        return in->type == TFL_FLOAT32 || m->tensors[op->in[1]].n_scale == 1;
    case TFL_OP_SOFTMAX:
        /* No int8 softmax here, and XNNPACK's has no beta. */
        return in->type == TFL_FLOAT32 && op->opt.beta == 1.0f;
    default: /* AVERAGE_POOL_2D: the C kernel has TFLite's rounding */
        return false;
    }
}

/* ---- building one subgraph ---- */

typedef struct seg_build {
    const ai_model *m;
    xnn_subgraph_t sg;
    uint32_t *vid; /* per tensor: value id in this subgraph, or XNN_INVALID_VALUE_ID */
    int first, last;
    int n_ext;
    int32_t *ext; /* tensor of external id i (NULL: only count) */
} seg_build;

/* Whether tensor t crosses the border of ops [first, last]. An output no
 * operator reads is external too: XNNPACK gives an unread internal value
 * no memory (and asserts when its node is set up). */
static bool is_external(const ai_model *m, int32_t t, int first, int last)
{
    const ai_tens *x = &m->tensors[t];
    if (x->is_const)
        return false;
    if (x->is_input || x->is_output || x->last_consumer < 0)
        return true;
    return x->producer < first || x->last_consumer > last;
}

/* Activation value t (not a constant) as fp32 or qint8. */
static enum xnn_status define_value(seg_build *b, int32_t t)
{
    if (b->vid[t] != XNN_INVALID_VALUE_ID)
        return xnn_status_success;
    const ai_tens *x = &b->m->tensors[t];
    size_t dims[AI_MAX_RANK];
    for (int i = 0; i < x->info.rank; i++)
        dims[i] = (size_t)x->info.dims[i];
    uint32_t ext_id = XNN_INVALID_VALUE_ID, flags = 0;
    if (is_external(b->m, t, b->first, b->last)) {
        ext_id = (uint32_t)b->n_ext;
        if (b->ext)
            b->ext[b->n_ext] = t;
        b->n_ext++;
        bool produced_here = x->producer >= b->first && x->producer <= b->last;
        flags = produced_here ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : XNN_VALUE_FLAG_EXTERNAL_INPUT;
    }
    if (x->type == TFL_FLOAT32)
        return xnn_define_tensor_value(b->sg, xnn_datatype_fp32, (size_t)x->info.rank, dims, NULL,
                                       ext_id, flags, &b->vid[t]);
    return xnn_define_quantized_tensor_value(b->sg, xnn_datatype_qint8, x->info.zero_point,
                                             x->info.scale, (size_t)x->info.rank, dims, NULL,
                                             ext_id, flags, &b->vid[t]);
}

/* A constant operand: data as it is (fp32), or int8 weights (per-tensor or
 * per-channel along channel_dim), or int32 bias with the scales XNNPACK
 * expects (input scale x weight scale). */
static enum xnn_status define_static(seg_build *b, const ai_op *op, int32_t t, int role,
                                     uint32_t *id)
{
    const ai_tens *x = &b->m->tensors[t];
    size_t dims[AI_MAX_RANK];
    for (int i = 0; i < x->info.rank; i++)
        dims[i] = (size_t)x->info.dims[i];
    size_t rank = (size_t)x->info.rank;
    if (x->type == TFL_FLOAT32)
        return xnn_define_tensor_value(b->sg, xnn_datatype_fp32, rank, dims, x->data,
                                       XNN_INVALID_VALUE_ID, 0, id);
    if (role == 1 && x->type == TFL_INT8) { /* weights */
        if (x->n_scale > 1)
            return xnn_define_channelwise_quantized_tensor_value(
                b->sg, xnn_datatype_qcint8, x->scale, rank,
                op->code == TFL_OP_DEPTHWISE_CONV_2D ? 3 : 0, dims, x->data, XNN_INVALID_VALUE_ID,
                0, id);
        return xnn_define_quantized_tensor_value(b->sg, xnn_datatype_qint8, 0, x->scale[0], rank,
                                                 dims, x->data, XNN_INVALID_VALUE_ID, 0, id);
    }
    if (role == 2 && x->type == TFL_INT32) { /* bias */
        const ai_tens *w = &b->m->tensors[op->in[1]];
        if (w->n_scale > 1)
            return xnn_define_channelwise_quantized_tensor_value(
                b->sg, xnn_datatype_qcint32, op->bias_scale, rank, 0, dims, x->data,
                XNN_INVALID_VALUE_ID, 0, id);
        return xnn_define_quantized_tensor_value(b->sg, xnn_datatype_qint32, 0, op->bias_scale[0],
                                                 rank, dims, x->data, XNN_INVALID_VALUE_ID, 0, id);
    }
    if (x->type == TFL_INT8) /* a constant activation operand (ADD, MUL) */
        return xnn_define_quantized_tensor_value(b->sg, xnn_datatype_qint8, x->info.zero_point,
                                                 x->info.scale, rank, dims, x->data,
                                                 XNN_INVALID_VALUE_ID, 0, id);
    return xnn_status_unsupported_parameter;
}

/* Value id of operand i of op (role 0 activation, 1 weights, 2 bias). */
static enum xnn_status operand(seg_build *b, const ai_op *op, int i, int role, uint32_t *id)
{
    if (i >= op->n_in || op->in[i] < 0) {
        *id = XNN_INVALID_VALUE_ID;
        return xnn_status_success;
    }
    int32_t t = op->in[i];
    if (b->m->tensors[t].is_const)
        return define_static(b, op, t, role, id);
    enum xnn_status s = define_value(b, t);
    *id = b->vid[t];
    return s;
}

/* Output bounds: the int8 activation range as real values (infinite at the
 * type's ends), or the float activation range. */
static void out_range(const ai_model *m, const ai_op *op, float *lo, float *hi)
{
    const ai_tens *out = &m->tensors[op->out[0]];
    if (out->type == TFL_FLOAT32) {
        *lo = op->act_min_f;
        *hi = op->act_max_f;
        return;
    }
    *lo = op->act_min <= -128 ? -INFINITY
                              : (float)(op->act_min - out->info.zero_point) * out->info.scale;
    *hi = op->act_max >= 127 ? INFINITY
                             : (float)(op->act_max - out->info.zero_point) * out->info.scale;
}

static enum xnn_status define_node(seg_build *b, const ai_op *op)
{
    const ai_model *m = b->m;
    uint32_t in = 0, w = 0, bias = 0, in2 = 0, out = 0;
    enum xnn_status s = operand(b, op, 0, 0, &in);
    if (s != xnn_status_success)
        return s;
    if ((s = define_value(b, op->out[0])) != xnn_status_success)
        return s;
    out = b->vid[op->out[0]];
    const ai_tens *x = &m->tensors[op->in[0]], *y = &m->tensors[op->out[0]];
    float lo, hi;
    out_range(m, op, &lo, &hi);
    switch (op->code) {
    case TFL_OP_CONV_2D:
    case TFL_OP_DEPTHWISE_CONV_2D: {
        if ((s = operand(b, op, 1, 1, &w)) != xnn_status_success ||
            (s = operand(b, op, 2, 2, &bias)) != xnn_status_success)
            return s;
        const ai_tens *f = &m->tensors[op->in[1]];
        if (op->code == TFL_OP_CONV_2D)
            return xnn_define_convolution_2d(
                b->sg, (uint32_t)op->pad_top, (uint32_t)op->pad_right, (uint32_t)op->pad_bottom,
                (uint32_t)op->pad_left, (uint32_t)f->info.dims[1], (uint32_t)f->info.dims[2],
                (uint32_t)op->opt.stride_h, (uint32_t)op->opt.stride_w,
                (uint32_t)op->opt.dilation_h, (uint32_t)op->opt.dilation_w, 1,
                (size_t)x->info.dims[3], (size_t)f->info.dims[0], lo, hi, in, w, bias, out, 0);
        return xnn_define_depthwise_convolution_2d(
            b->sg, (uint32_t)op->pad_top, (uint32_t)op->pad_right, (uint32_t)op->pad_bottom,
            (uint32_t)op->pad_left, (uint32_t)f->info.dims[1], (uint32_t)f->info.dims[2],
            (uint32_t)op->opt.stride_h, (uint32_t)op->opt.stride_w, (uint32_t)op->opt.dilation_h,
            (uint32_t)op->opt.dilation_w, (uint32_t)op->depth_multiplier, (size_t)x->info.dims[3],
            lo, hi, in, w, bias, out, 0);
    }
    case TFL_OP_FULLY_CONNECTED: {
        if ((s = operand(b, op, 1, 1, &w)) != xnn_status_success ||
            (s = operand(b, op, 2, 2, &bias)) != xnn_status_success)
            return s;
        /* Without keep_num_dims the output is [input elements / depth, units]. */
        uint32_t flags = op->opt.keep_num_dims ? 0 : XNN_FLAG_TENSORFLOW_RESHAPE_2D;
        return xnn_define_fully_connected(b->sg, lo, hi, in, w, bias, out, flags);
    }
    case TFL_OP_MAX_POOL_2D:
        return xnn_define_max_pooling_2d(
            b->sg, (uint32_t)op->pad_top, (uint32_t)op->pad_right, (uint32_t)op->pad_bottom,
            (uint32_t)op->pad_left, (uint32_t)op->opt.filter_h, (uint32_t)op->opt.filter_w,
            (uint32_t)op->opt.stride_h, (uint32_t)op->opt.stride_w, 1, 1, lo, hi, in, out, 0);
    case TFL_OP_ADD:
    case TFL_OP_MUL:
        if ((s = operand(b, op, 1, 0, &in2)) != xnn_status_success)
            return s;
        if (op->code == TFL_OP_ADD)
            return xnn_define_add2(b->sg, lo, hi, in, in2, out, 0);
        return xnn_define_multiply2(b->sg, lo, hi, in, in2, out, 0);
    case TFL_OP_PAD: {
        size_t pre[AI_MAX_RANK], post[AI_MAX_RANK];
        for (int i = 0; i < x->info.rank; i++) {
            pre[i] = (size_t)op->pad_before[i];
            post[i] = (size_t)op->pad_after[i];
        }
        return xnn_define_static_constant_pad(b->sg, pre, post, 0.0f, in, out, 0);
    }
    case TFL_OP_RESHAPE: {
        size_t dims[AI_MAX_RANK];
        for (int i = 0; i < y->info.rank; i++)
            dims[i] = (size_t)y->info.dims[i];
        return xnn_define_static_reshape(b->sg, (size_t)y->info.rank, dims, in, out, 0);
    }
    case TFL_OP_SOFTMAX:
        return xnn_define_softmax(b->sg, in, out, 0);
    default:
        return xnn_status_unsupported_parameter;
    }
}

/* Creates the runtime of ops [first, last]. When ext_out is non-NULL it
 * receives the external tensors in value-id order (caller frees). */
static enum xnn_status build_runtime(const ai_model *m, int first, int last, uint32_t *vid,
                                     xnn_runtime_t *rt, int32_t **ext_out, int *n_ext)
{
    seg_build b = {.m = m, .vid = vid, .first = first, .last = last};
    /* Count the externals first: the subgraph reserves their ids. */
    for (uint32_t i = 0; i < m->n_tensors; i++)
        vid[i] = XNN_INVALID_VALUE_ID;
    int count = 0;
    for (int o = first; o <= last; o++) {
        const ai_op *op = &m->ops[o];
        for (int i = 0; i < op->n_in + op->n_out; i++) {
            int32_t t = i < op->n_in ? op->in[i] : op->out[i - op->n_in];
            if (t >= 0 && vid[t] == XNN_INVALID_VALUE_ID && is_external(m, t, first, last)) {
                vid[t] = 0; /* counted */
                count++;
            }
        }
    }
    for (uint32_t i = 0; i < m->n_tensors; i++)
        vid[i] = XNN_INVALID_VALUE_ID;
    if (ext_out) {
        b.ext = calloc((size_t)(count ? count : 1), sizeof *b.ext);
        if (!b.ext)
            return xnn_status_out_of_memory;
    }
    enum xnn_status s = xnn_create_subgraph((uint32_t)count, 0, &b.sg);
    for (int o = first; o <= last && s == xnn_status_success; o++)
        s = define_node(&b, &m->ops[o]);
    if (s == xnn_status_success) {
        assert(b.n_ext == count);
        s = xnn_create_runtime_v2(b.sg, NULL, 0, rt);
    }
    if (b.sg)
        xnn_delete_subgraph(b.sg);
    if (ext_out && s == xnn_status_success)
        *ext_out = b.ext;
    else
        free(b.ext);
    *n_ext = b.n_ext;
    return s;
}

static void free_segments(ai_model *m)
{
    for (int i = 0; i < m->n_segments; i++) {
        if (m->segments[i].runtime)
            xnn_delete_runtime((xnn_runtime_t)m->segments[i].runtime);
        free(m->segments[i].ext);
    }
    free(m->segments);
    m->segments = NULL;
    m->n_segments = 0;
}

/* Segments of consecutive on_xnn ops, without runtimes yet. */
static int form_segments(ai_model *m, kassa_err *err)
{
    free_segments(m);
    int n = 0;
    for (uint32_t o = 0; o < m->n_ops; o++)
        if (m->ops[o].on_xnn && (o == 0 || !m->ops[o - 1].on_xnn))
            n++;
    if (n == 0)
        return KASSA_OK;
    m->segments = calloc((size_t)n, sizeof *m->segments);
    if (!m->segments)
        return kassa_fail(err, KASSA_ENOMEM, "ai: out of memory for segments");
    for (uint32_t o = 0; o < m->n_ops; o++) {
        if (!m->ops[o].on_xnn)
            continue;
        if (o == 0 || !m->ops[o - 1].on_xnn)
            m->segments[m->n_segments++].first_op = (int)o;
        m->segments[m->n_segments - 1].last_op = (int)o;
        m->ops[o].segment = m->n_segments - 1;
    }
    return KASSA_OK;
}

int ai_xnn_build(ai_model *m, kassa_err *err)
{
    pthread_once(&xnn_once, xnn_init_once);
    if (xnn_init_status != xnn_status_success) {
        /* No XNNPACK on this machine: everything runs on the C kernels. */
        for (uint32_t o = 0; o < m->n_ops; o++)
            m->ops[o].on_xnn = false;
        return KASSA_OK;
    }
    uint32_t *vid = malloc((m->n_tensors ? m->n_tensors : 1) * sizeof *vid);
    if (!vid)
        return kassa_fail(err, KASSA_ENOMEM, "ai: out of memory for XNNPACK values");
    int64_t *saved = xnn_account;
    xnn_account = &m->xnn_bytes;
    int rc = KASSA_OK;
    /* Each round either builds every segment or takes at least one op
     * away from XNNPACK. */
    for (uint32_t round = 0; round <= m->n_ops && rc == KASSA_OK; round++) {
        if ((rc = form_segments(m, err)) < 0)
            break;
        bool all_built = true;
        for (int i = 0; i < m->n_segments && all_built; i++) {
            ai_segment *seg = &m->segments[i];
            xnn_runtime_t rt = NULL;
            int32_t *ext = NULL;
            int n_ext = 0;
            enum xnn_status s =
                build_runtime(m, seg->first_op, seg->last_op, vid, &rt, &ext, &n_ext);
            if (s == xnn_status_out_of_memory) {
                rc = kassa_fail(err, KASSA_ENOMEM, "ai: XNNPACK out of memory");
                break;
            }
            if (s == xnn_status_success) {
                seg->runtime = rt;
                seg->n_ext = n_ext;
                seg->ext = ext;
                continue;
            }
            all_built = false;
            /* Find the ops XNNPACK refuses on their own. */
            int refused = 0;
            for (int o = seg->first_op; o <= seg->last_op; o++) {
                xnn_runtime_t one = NULL;
                int n1 = 0;
                if (build_runtime(m, o, o, vid, &one, NULL, &n1) == xnn_status_success) {
                    xnn_delete_runtime(one);
                } else {
                    m->ops[o].on_xnn = false;
                    refused++;
                }
            }
            if (refused == 0) /* only the combination fails: give the segment up */
                for (int o = seg->first_op; o <= seg->last_op; o++)
                    m->ops[o].on_xnn = false;
        }
        if (all_built)
            break;
    }
    xnn_account = saved;
    free(vid);
    m->xnn_ops = 0;
    for (uint32_t o = 0; o < m->n_ops; o++)
        m->xnn_ops += m->ops[o].on_xnn;
    return rc;
}

int ai_xnn_setup(ai_model *m, kassa_err *err)
{
    struct xnn_external_value vals[TFL_MAX_GRAPH_IO * 2];
    int64_t *saved = xnn_account;
    xnn_account = &m->xnn_bytes;
    int rc = KASSA_OK;
    for (int i = 0; i < m->n_segments && rc == KASSA_OK; i++) {
        ai_segment *seg = &m->segments[i];
        struct xnn_external_value *v = vals;
        struct xnn_external_value *heap = NULL;
        if ((size_t)seg->n_ext > KASSA_ARRAY_LEN(vals)) {
            heap = calloc((size_t)seg->n_ext, sizeof *heap);
            if (!heap) {
                rc = kassa_fail(err, KASSA_ENOMEM, "ai: out of memory for XNNPACK setup");
                break;
            }
            v = heap;
        }
        for (int k = 0; k < seg->n_ext; k++) {
            const ai_tens *t = &m->tensors[seg->ext[k]];
            assert(t->in_arena && t->data);
            v[k].id = (uint32_t)k;
            v[k].data = t->data;
        }
        enum xnn_status s = xnn_setup_runtime((xnn_runtime_t)seg->runtime, (size_t)seg->n_ext, v);
        free(heap);
        if (s != xnn_status_success)
            rc = kassa_fail(err, KASSA_EINVAL, "ai: XNNPACK setup of operators %d..%d: %s",
                            seg->first_op, seg->last_op, xnn_status_name(s));
    }
    xnn_account = saved;
    return rc;
}

int ai_xnn_run(const ai_model *m, const ai_segment *s, kassa_err *err)
{
    (void)m;
    enum xnn_status st = xnn_invoke_runtime((xnn_runtime_t)s->runtime);
    if (st != xnn_status_success)
        return kassa_fail(err, KASSA_EINVAL, "ai: XNNPACK run of operators %d..%d: %s", s->first_op,
                          s->last_op, xnn_status_name(st));
    return KASSA_OK;
}

void ai_xnn_free(ai_model *m)
{
    free_segments(m);
}
