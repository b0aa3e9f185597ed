/*
 * The runtime's loader, memory planner and interpreter loop (see ai.h and
 * ai_impl.h). Loading is: parse (tflite.c), refuse unsupported operators
 * by name, check the data flow (every operand written before it is read,
 * every tensor written once), copy constants into the weights block,
 * prepare every operator's kernel (kernels.c), hand runs of operators to
 * XNNPACK (xnn.c), plan the arena from tensor lifetimes, bind XNNPACK to
 * the arena. Invoking walks the operators and allocates nothing.
 */
#include "ai/ai_impl.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t align_up(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

const char *ai_dtype_name(ai_dtype t)
{
    switch (t) {
    case AI_FLOAT32:
        return "float32";
    case AI_INT8:
        return "int8";
    case AI_UINT8:
        return "uint8";
    case AI_INT16:
        return "int16";
    case AI_INT32:
        return "int32";
    case AI_INT64:
        return "int64";
    }
    return "unknown";
}

static ai_dtype dtype_of(int tfl_type)
{
    switch (tfl_type) {
    case TFL_FLOAT32:
        return AI_FLOAT32;
    case TFL_INT8:
        return AI_INT8;
    case TFL_UINT8:
        return AI_UINT8;
    case TFL_INT16:
        return AI_INT16;
    case TFL_INT32:
        return AI_INT32;
    case TFL_INT64:
        return AI_INT64;
    default:
        return (ai_dtype)0;
    }
}

void ai_model_free(ai_model *m)
{
    if (!m)
        return;
    ai_xnn_free(m);
    for (uint32_t i = 0; i < m->n_tensors; i++)
        free(m->tensors[i].scale);
    for (uint32_t i = 0; i < m->n_ops; i++) {
        free(m->ops[i].mult);
        free(m->ops[i].shift);
        free(m->ops[i].bias_scale);
    }
    free(m->tensors);
    free(m->ops);
    free(m->arena);
    free(m->weights);
    free(m);
}

/* Tensors from the parsed file: shape, size, quantization (the scales are
 * moved, not copied). */
static int load_tensors(ai_model *m, tfl_model *f, kassa_err *err)
{
    m->n_tensors = f->n_tensors;
    m->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *m->tensors);
    if (!m->tensors)
        return kassa_fail(err, KASSA_ENOMEM, "ai: out of memory for %u tensors",
                          (unsigned)f->n_tensors);
    for (uint32_t i = 0; i < f->n_tensors; i++) {
        tfl_tensor *s = &f->tensors[i];
        ai_tens *t = &m->tensors[i];
        memcpy(t->info.name, s->name, sizeof t->info.name);
        t->info.name[sizeof t->info.name - 1] = '\0';
        t->type = s->type;
        t->info.dtype = dtype_of(s->type);
        t->info.rank = s->rank;
        size_t count = 1;
        for (int d = 0; d < s->rank; d++) {
            t->info.dims[d] = s->dims[d];
            if (__builtin_mul_overflow(count, (size_t)s->dims[d], &count) ||
                count > AI_MAX_TENSOR_BYTES)
                return kassa_fail(err, KASSA_EINVAL, "ai: tensor %u '%s' is larger than %zu bytes",
                                  (unsigned)i, t->info.name, AI_MAX_TENSOR_BYTES);
        }
        t->count = count;
        t->info.size_bytes = count * tfl_type_size(s->type);
        if (t->info.size_bytes > AI_MAX_TENSOR_BYTES)
            return kassa_fail(err, KASSA_EINVAL, "ai: tensor %u '%s' is larger than %zu bytes",
                              (unsigned)i, t->info.name, AI_MAX_TENSOR_BYTES);
        t->n_scale = s->n_scale;
        t->scale = s->scale;
        s->scale = NULL;
        s->n_scale = 0;
        t->qdim = s->quantized_dimension;
        t->info.scale = t->n_scale ? t->scale[0] : 0.0f;
        /* An out-of-range zero point is kept out of range (and refused by
         * the kernels that use it). */
        int64_t zp = s->n_zero_point ? s->zero_point[0] : 0;
        t->info.zero_point = zp < -32768 || zp > 32767 ? INT32_MIN : (int32_t)zp;
        t->zps_zero = true;
        for (uint32_t k = 0; k < s->n_zero_point; k++)
            t->zps_zero = t->zps_zero && s->zero_point[k] == 0;
        t->producer = -1;
        t->last_consumer = -1;
    }
    return KASSA_OK;
}

static bool op_supported(int32_t code)
{
    switch (code) {
    case TFL_OP_ADD:
    case TFL_OP_AVERAGE_POOL_2D:
    case TFL_OP_CONV_2D:
    case TFL_OP_DEPTHWISE_CONV_2D:
    case TFL_OP_FULLY_CONNECTED:
    case TFL_OP_MAX_POOL_2D:
    case TFL_OP_MUL:
    case TFL_OP_RESHAPE:
    case TFL_OP_SOFTMAX:
    case TFL_OP_PAD:
        return true;
    default:
        return false;
    }
}

static void op_label(const tfl_op *op, char *out, size_t size)
{
    const char *name = tfl_op_name(op->code);
    if (op->code == TFL_OP_CUSTOM)
        snprintf(out, size, "custom '%s'", op->custom_name);
    else if (name)
        snprintf(out, size, "%s", name);
    else
        snprintf(out, size, "builtin operator %d", (int)op->code);
}

/* Refuses a model with operators the runtime lacks, naming each kind. */
static int check_ops_supported(const tfl_model *f, kassa_err *err)
{
    char names[KASSA_ERR_MSG_SIZE - 64] = ""; /* room for the message's prefix */
    size_t len = 0;
    bool truncated = false;
    int kinds = 0, count = 0;
    for (uint32_t i = 0; i < f->n_ops; i++) {
        const tfl_op *op = &f->ops[i];
        if (op_supported(op->code))
            continue;
        count++;
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++)
            seen = !op_supported(f->ops[j].code) && f->ops[j].code == op->code &&
                   strcmp(f->ops[j].custom_name, op->custom_name) == 0;
        if (seen)
            continue;
        kinds++;
        char label[TFL_NAME_SIZE + 32];
        op_label(op, label, sizeof label);
        size_t need = strlen(label) + (kinds > 1 ? 2 : 0);
        if (truncated || len + need + 5 >= sizeof names) {
            if (!truncated)
                memcpy(names + len, ", ...", 6);
            truncated = true;
            continue;
        }
        snprintf(names + len, sizeof names - len, "%s%s", kinds > 1 ? ", " : "", label);
        len += need;
    }
    if (count == 0)
        return KASSA_OK;
    return kassa_fail(err, KASSA_EINVAL, "ai: unsupported operator%s (%d of %u): %s",
                      kinds > 1 ? "s" : "", count, (unsigned)f->n_ops, names);
}

/* Graph inputs and outputs, and the data flow of the operators. */
static int check_graph(ai_model *m, const tfl_model *f, kassa_err *err)
{
    m->n_inputs = f->n_inputs;
    m->n_outputs = f->n_outputs;
    memcpy(m->inputs, f->inputs, sizeof m->inputs);
    memcpy(m->outputs, f->outputs, sizeof m->outputs);
    if (m->n_inputs < 1 || m->n_outputs < 1)
        return kassa_fail(err, KASSA_EINVAL, "ai: the model needs at least one input and output");
    for (int i = 0; i < m->n_inputs + m->n_outputs; i++) {
        bool is_in = i < m->n_inputs;
        int32_t ti = is_in ? m->inputs[i] : m->outputs[i - m->n_inputs];
        ai_tens *t = &m->tensors[ti];
        const tfl_tensor *s = &f->tensors[ti];
        if (t->info.dtype == 0) {
            const char *tn = tfl_type_name(t->type);
            return kassa_fail(err, KASSA_EINVAL, "ai: model %s '%s' has unsupported type %s",
                              is_in ? "input" : "output", t->info.name, tn ? tn : "(unknown)");
        }
        if (is_in && s->data)
            return kassa_fail(err, KASSA_EINVAL, "ai: model input '%s' is a constant",
                              t->info.name);
        if (is_in)
            t->is_input = true;
        else
            t->is_output = true;
    }
    for (uint32_t i = 0; i < f->n_tensors; i++) {
        if (f->tensors[i].sparse)
            return kassa_fail(err, KASSA_EINVAL, "ai: tensor '%s' is sparse (not supported)",
                              m->tensors[i].info.name);
        if (f->tensors[i].is_variable)
            return kassa_fail(err, KASSA_EINVAL, "ai: tensor '%s' is a variable (not supported)",
                              m->tensors[i].info.name);
        m->tensors[i].is_const = f->tensors[i].data != NULL && !m->tensors[i].is_input;
    }
    for (uint32_t o = 0; o < m->n_ops; o++) {
        const ai_op *op = &m->ops[o];
        for (int i = 0; i < op->n_in; i++) {
            if (op->in[i] < 0)
                continue;
            ai_tens *t = &m->tensors[op->in[i]];
            if (!t->is_const && !t->is_input && t->producer < 0)
                return kassa_fail(err, KASSA_ECORRUPT,
                                  "ai: operator %u (%s) reads tensor '%s' before any operator "
                                  "writes it",
                                  (unsigned)o, tfl_op_name(op->code), t->info.name);
            t->last_consumer = (int)o;
        }
        for (int i = 0; i < op->n_out; i++) {
            ai_tens *t = &m->tensors[op->out[i]];
            if (t->is_const || t->is_input || t->producer >= 0)
                return kassa_fail(err, KASSA_ECORRUPT,
                                  "ai: operator %u (%s) writes tensor '%s', which is a constant, "
                                  "an input or written before",
                                  (unsigned)o, tfl_op_name(op->code), t->info.name);
            t->producer = (int)o;
        }
    }
    size_t activations = 0;
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].is_input || m->tensors[i].producer >= 0)
            activations += m->tensors[i].info.size_bytes;
    if (activations > AI_MAX_ACTIVATION_BYTES)
        return kassa_fail(err, KASSA_EINVAL,
                          "ai: the model's tensors need %zu bytes, above the %zu-byte limit",
                          activations, AI_MAX_ACTIVATION_BYTES);
    for (int i = 0; i < m->n_outputs; i++) {
        const ai_tens *t = &m->tensors[m->outputs[i]];
        if (!t->is_const && !t->is_input && t->producer < 0)
            return kassa_fail(err, KASSA_ECORRUPT, "ai: no operator writes model output '%s'",
                              t->info.name);
    }
    return KASSA_OK;
}

/* Copies the constants operators read (and constant outputs) into one
 * block, each aligned. Their size must be exactly what the shape needs. */
static int load_weights(ai_model *m, const tfl_model *f, kassa_err *err)
{
    bool *used = calloc(m->n_tensors ? m->n_tensors : 1, sizeof *used);
    if (!used)
        return kassa_fail(err, KASSA_ENOMEM, "ai: out of memory");
    for (uint32_t o = 0; o < m->n_ops; o++)
        for (int i = 0; i < m->ops[o].n_in; i++)
            if (m->ops[o].in[i] >= 0)
                used[m->ops[o].in[i]] = true;
    for (int i = 0; i < m->n_outputs; i++)
        used[m->outputs[i]] = true;
    size_t total = 0;
    int rc = KASSA_OK;
    for (uint32_t i = 0; i < m->n_tensors && rc == KASSA_OK; i++) {
        ai_tens *t = &m->tensors[i];
        if (!t->is_const || !used[i])
            continue;
        if (tfl_type_size(t->type) == 0 || f->tensors[i].data_bytes != t->info.size_bytes)
            rc = kassa_fail(err, KASSA_ECORRUPT,
                            "ai: constant tensor '%s' has %zu bytes, its shape and type need %zu",
                            t->info.name, f->tensors[i].data_bytes, t->info.size_bytes);
        total += align_up(t->info.size_bytes + AI_TENSOR_SLACK_BYTES, AI_ALIGN_BYTES);
    }
    if (rc == KASSA_OK && total > 0) {
        m->weights = aligned_alloc(AI_ALIGN_BYTES, total);
        if (!m->weights)
            rc = kassa_fail(err, KASSA_ENOMEM, "ai: out of memory for %zu bytes of weights", total);
    }
    if (rc == KASSA_OK) {
        m->weights_bytes = total;
        size_t off = 0;
        for (uint32_t i = 0; i < m->n_tensors; i++) {
            ai_tens *t = &m->tensors[i];
            if (!t->is_const || !used[i])
                continue;
            size_t slot = align_up(t->info.size_bytes + AI_TENSOR_SLACK_BYTES, AI_ALIGN_BYTES);
            memcpy(m->weights + off, f->tensors[i].data, t->info.size_bytes);
            memset(m->weights + off + t->info.size_bytes, 0, slot - t->info.size_bytes);
            t->data = m->weights + off;
            off += slot;
        }
    }
    free(used);
    return rc;
}

/* ---- arena planning ---- */

static void touch(ai_tens *t, int first, int last)
{
    if (t->is_const)
        return;
    t->in_arena = true;
    if (first < t->first_use)
        t->first_use = first;
    if (last > t->last_use)
        t->last_use = last;
}

typedef struct arena_slot {
    size_t off, end;
} arena_slot;

static int cmp_slot(const void *a, const void *b)
{
    const arena_slot *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int cmp_by_size(const void *a, const void *b, void *ctx)
{
    const ai_model *m = ctx;
    const ai_tens *x = &m->tensors[*(const int32_t *)a];
    const ai_tens *y = &m->tensors[*(const int32_t *)b];
    if (x->info.size_bytes != y->info.size_bytes)
        return x->info.size_bytes > y->info.size_bytes ? -1 : 1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

/* Greedy by size: each tensor at the lowest offset free over its lifetime
 * (the steps from its first writer or reader to its last). Inputs live for
 * the whole invoke, outputs from their writer to the end, the externals of
 * an XNNPACK segment across the whole segment. */
static int plan_arena(ai_model *m, kassa_err *err)
{
    const int end = (int)m->n_ops;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        m->tensors[i].first_use = end + 1;
        m->tensors[i].last_use = -1;
    }
    for (uint32_t o = 0; o < m->n_ops; o++) {
        const ai_op *op = &m->ops[o];
        for (int i = 0; i < op->n_in + op->n_out; i++) {
            int32_t t = i < op->n_in ? op->in[i] : op->out[i - op->n_in];
            if (t < 0)
                continue;
            ai_tens *x = &m->tensors[t];
            if (!op->on_xnn) {
                touch(x, (int)o, (int)o);
                continue;
            }
            const ai_segment *s = &m->segments[op->segment];
            bool ext = false;
            for (int k = 0; k < s->n_ext && !ext; k++)
                ext = s->ext[k] == t;
            if (ext)
                touch(x, s->first_op, s->last_op);
        }
    }
    for (int i = 0; i < m->n_inputs; i++)
        touch(&m->tensors[m->inputs[i]], 0, end);
    for (int i = 0; i < m->n_outputs; i++) {
        ai_tens *x = &m->tensors[m->outputs[i]];
        touch(x, x->producer >= 0 ? x->producer : 0, end);
    }
    int32_t *order = malloc((m->n_tensors ? m->n_tensors : 1) * sizeof *order);
    arena_slot *busy = malloc((m->n_tensors ? m->n_tensors : 1) * sizeof *busy);
    if (!order || !busy) {
        free(order);
        free(busy);
        return kassa_fail(err, KASSA_ENOMEM, "ai: out of memory for the memory plan");
    }
    int n = 0;
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].in_arena)
            order[n++] = (int32_t)i;
    qsort_r(order, (size_t)n, sizeof *order, cmp_by_size, m);
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        ai_tens *x = &m->tensors[order[k]];
        size_t size = align_up(x->info.size_bytes + AI_TENSOR_SLACK_BYTES, AI_ALIGN_BYTES);
        int nb = 0;
        for (int j = 0; j < k; j++) {
            const ai_tens *y = &m->tensors[order[j]];
            if (y->first_use <= x->last_use && x->first_use <= y->last_use)
                busy[nb++] = (arena_slot){
                    y->arena_offset,
                    y->arena_offset +
                        align_up(y->info.size_bytes + AI_TENSOR_SLACK_BYTES, AI_ALIGN_BYTES)};
        }
        qsort(busy, (size_t)nb, sizeof *busy, cmp_slot);
        size_t off = 0;
        for (int j = 0; j < nb; j++) {
            if (off + size <= busy[j].off)
                break;
            if (busy[j].end > off)
                off = busy[j].end;
        }
        x->arena_offset = off;
        if (off + size > total)
            total = off + size;
    }
    free(order);
    free(busy);
    if (total > AI_MAX_ARENA_BYTES)
        return kassa_fail(err, KASSA_EINVAL, "ai: the model needs %zu bytes of tensors, above %zu",
                          total, AI_MAX_ARENA_BYTES);
    m->arena_bytes = total;
    if (total > 0) {
        m->arena = aligned_alloc(AI_ALIGN_BYTES, total);
        if (!m->arena)
            return kassa_fail(err, KASSA_ENOMEM, "ai: out of memory for a %zu-byte arena", total);
        memset(m->arena, 0, total);
    }
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].in_arena)
            m->tensors[i].data = m->arena + m->tensors[i].arena_offset;
    return KASSA_OK;
}

static int load_model(ai_model *m, const uint8_t *bytes, size_t size_bytes, kassa_err *err)
{
    tfl_model f;
    int rc = tfl_parse(bytes, size_bytes, &f, err);
    if (rc == KASSA_OK)
        rc = check_ops_supported(&f, err);
    if (rc == KASSA_OK)
        rc = load_tensors(m, &f, err);
    if (rc == KASSA_OK) {
        m->n_ops = f.n_ops;
        m->ops = calloc(f.n_ops ? f.n_ops : 1, sizeof *m->ops);
        if (!m->ops)
            rc = kassa_fail(err, KASSA_ENOMEM, "ai: out of memory for operators");
        for (uint32_t o = 0; rc == KASSA_OK && o < f.n_ops; o++) {
            ai_op *op = &m->ops[o];
            op->code = f.ops[o].code;
            op->n_in = f.ops[o].n_in;
            op->n_out = f.ops[o].n_out;
            memcpy(op->in, f.ops[o].in, sizeof op->in);
            memcpy(op->out, f.ops[o].out, sizeof op->out);
            op->opt = f.ops[o].opt;
        }
    }
    if (rc == KASSA_OK)
        rc = check_graph(m, &f, err);
    if (rc == KASSA_OK)
        rc = load_weights(m, &f, err);
    tfl_model_free(&f);
    for (uint32_t o = 0; rc == KASSA_OK && o < m->n_ops; o++)
        rc = ai_kernel_prepare(m, (int)o, err);
    if (rc == KASSA_OK && m->backend == AI_BACKEND_AUTO) {
        for (uint32_t o = 0; o < m->n_ops; o++)
            m->ops[o].on_xnn = ai_xnn_candidate(m, &m->ops[o]);
        rc = ai_xnn_build(m, err);
    }
    if (rc == KASSA_OK)
        rc = plan_arena(m, err);
    if (rc == KASSA_OK)
        rc = ai_xnn_setup(m, err);
    return rc;
}

int ai_model_load_opts(const uint8_t *bytes, size_t size_bytes, const ai_load_opts *opts,
                       ai_model **out, kassa_err *err)
{
    assert(out);
    *out = NULL;
    if (!bytes && size_bytes > 0)
        return kassa_fail(err, KASSA_EINVAL, "ai: no model bytes");
    ai_backend backend = opts ? opts->backend : AI_BACKEND_AUTO;
    if (backend != AI_BACKEND_AUTO && backend != AI_BACKEND_REFERENCE)
        return kassa_fail(err, KASSA_EINVAL, "ai: unknown backend %d", (int)backend);
    ai_model *m = calloc(1, sizeof *m);
    if (!m)
        return kassa_fail(err, KASSA_ENOMEM, "ai: out of memory");
    m->backend = backend;
    int rc = load_model(m, bytes, size_bytes, err);
    if (rc < 0) {
        ai_model_free(m);
        return rc;
    }
    *out = m;
    return KASSA_OK;
}

int ai_model_load(const uint8_t *bytes, size_t size_bytes, ai_model **out, kassa_err *err)
{
    return ai_model_load_opts(bytes, size_bytes, NULL, out, err);
}

int ai_model_load_file(const char *path, ai_model **out, kassa_err *err)
{
    assert(out);
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return kassa_fail(err, errno == ENOENT ? KASSA_ENOTFOUND : KASSA_EIO, "ai: %s: %s", path,
                          strerror(errno));
    int rc = KASSA_OK;
    long size = -1;
    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0)
        rc = kassa_fail(err, KASSA_EIO, "ai: %s: cannot size the file", path);
    else if ((unsigned long)size > TFL_MAX_MODEL_BYTES)
        rc = kassa_fail(err, KASSA_EINVAL, "ai: %s: %ld bytes is above the %zu-byte limit", path,
                        size, TFL_MAX_MODEL_BYTES);
    uint8_t *buf = NULL;
    if (rc == KASSA_OK && !(buf = malloc(size > 0 ? (size_t)size : 1)))
        rc = kassa_fail(err, KASSA_ENOMEM, "ai: out of memory for %s", path);
    if (rc == KASSA_OK && fread(buf, 1, (size_t)size, fp) != (size_t)size)
        rc = kassa_fail(err, KASSA_EIO, "ai: %s: short read", path);
    fclose(fp);
    if (rc == KASSA_OK)
        rc = ai_model_load(buf, (size_t)size, out, err);
    free(buf);
    return rc;
}

int ai_model_input_count(const ai_model *m)
{
    return m->n_inputs;
}

int ai_model_output_count(const ai_model *m)
{
    return m->n_outputs;
}

int ai_model_input_info(const ai_model *m, int i, ai_tensor_info *out, kassa_err *err)
{
    if (i < 0 || i >= m->n_inputs)
        return kassa_fail(err, KASSA_EINVAL, "ai: input %d out of range (%d inputs)", i,
                          m->n_inputs);
    *out = m->tensors[m->inputs[i]].info;
    return KASSA_OK;
}

int ai_model_output_info(const ai_model *m, int i, ai_tensor_info *out, kassa_err *err)
{
    if (i < 0 || i >= m->n_outputs)
        return kassa_fail(err, KASSA_EINVAL, "ai: output %d out of range (%d outputs)", i,
                          m->n_outputs);
    *out = m->tensors[m->outputs[i]].info;
    return KASSA_OK;
}

void *ai_model_input(ai_model *m, int i)
{
    if (i < 0 || i >= m->n_inputs)
        return NULL;
    return m->tensors[m->inputs[i]].data;
}

const void *ai_model_output(const ai_model *m, int i)
{
    if (i < 0 || i >= m->n_outputs)
        return NULL;
    return m->tensors[m->outputs[i]].data;
}

int ai_model_invoke(ai_model *m, kassa_err *err)
{
    for (uint32_t o = 0; o < m->n_ops; o++) {
        const ai_op *op = &m->ops[o];
        if (!op->on_xnn) {
            ai_kernel_run(m, op);
            continue;
        }
        const ai_segment *s = &m->segments[op->segment];
        assert(s->first_op == (int)o);
        int rc = ai_xnn_run(m, s, err);
        if (rc < 0)
            return rc;
        o = (uint32_t)s->last_op;
    }
    return KASSA_OK;
}

size_t ai_model_memory_bytes(const ai_model *m)
{
    size_t n = m->arena_bytes + m->weights_bytes + m->params_bytes;
    n += (size_t)m->n_tensors * sizeof(ai_tens) + (size_t)m->n_ops * sizeof(ai_op);
    if (m->xnn_bytes > 0)
        n += (size_t)m->xnn_bytes;
    return n;
}

int ai_model_op_count(const ai_model *m)
{
    return (int)m->n_ops;
}

int ai_model_xnn_op_count(const ai_model *m)
{
    return m->xnn_ops;
}

uint64_t ai_model_work(const ai_model *m)
{
    return m->work;
}
