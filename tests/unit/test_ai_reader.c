/*
 * The edge AI runtime (src/ai) on crafted models: the .tflite reader's
 * checks, and every kernel against an independent float computation and
 * against XNNPACK.
 *
 * The models are written here by a small flatbuffer writer (back to front,
 * like the flatbuffers library: children first, offsets to objects already
 * written), so a test controls every field: opcodes only in
 * deprecated_builtin_code or only in builtin_code, unsupported operators
 * and types, quantization fields an operator does not use, broken data
 * flow. The reader must refuse what is wrong with a message naming it,
 * never crash: truncations at every cut point and corrupted words are
 * checked too (ASan catches any read outside the bytes, which live in an
 * exact-size allocation).
 *
 * Kernel checks (one operator per model, random data from fixed seeds):
 * the reference backend (TFLite's integer arithmetic) within 1 LSB of the
 * exact real-valued result rounded once, and XNNPACK within 1 LSB of the
 * reference; float kernels within a small relative error.
 *
 * KASSA_AI_DUMP_DIR: when set, every crafted model that loads is written
 * there (seeds for the fuzz corpus).
 */
#include "testutil.h"
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai.h"

/* ---- a back-to-front flatbuffer writer ---- */

/* Bytes live at the end of buf: [cap - used, cap). An object's "ref" is
 * `used` right after it was written (its distance from the end), which
 * does not change as more is written in front of it. */
typedef struct fbb {
    uint8_t *buf;
    size_t cap, used;
} fbb;

static void fbb_reserve(fbb *b, size_t n)
{
    if (b->used + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->used + n)
        cap *= 2;
    uint8_t *nb = calloc(1, cap);
    assert_non_null(nb);
    if (b->used)
        memcpy(nb + cap - b->used, b->buf + b->cap - b->used, b->used);
    free(b->buf);
    b->buf = nb;
    b->cap = cap;
}

static uint32_t fbb_push(fbb *b, const void *p, size_t n)
{
    fbb_reserve(b, n);
    b->used += n;
    if (n)
        memcpy(b->buf + b->cap - b->used, p, n);
    return (uint32_t)b->used;
}

/* Pads so that after len more bytes, used is a multiple of align. */
static void fbb_align(fbb *b, size_t len, size_t align)
{
    static const uint8_t zeros[16];
    size_t pad = (align - ((b->used + len) % align)) % align;
    fbb_push(b, zeros, pad);
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#define FBT_MAX_FIELDS 16

typedef struct fbt {
    int n; /* 1 + the largest id set */
    struct {
        int size; /* 0: absent; 1, 2, 4, 8 bytes; -1: reference */
        uint64_t val;
    } f[FBT_MAX_FIELDS];
} fbt;

static void fbt_set(fbt *t, int id, int size, uint64_t v)
{
    assert_true(id < FBT_MAX_FIELDS);
    t->f[id].size = size;
    t->f[id].val = v;
    if (id + 1 > t->n)
        t->n = id + 1;
}

static void fbt_u8(fbt *t, int id, uint8_t v)
{
    fbt_set(t, id, 1, v);
}
static void fbt_i32(fbt *t, int id, int32_t v)
{
    fbt_set(t, id, 4, (uint32_t)v);
}
static void fbt_f32(fbt *t, int id, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    fbt_set(t, id, 4, bits);
}
static void fbt_ref(fbt *t, int id, uint32_t ref)
{
    fbt_set(t, id, -1, ref);
}

static uint32_t fbb_table(fbb *b, const fbt *t)
{
    uint32_t start = (uint32_t)b->used;
    uint32_t at[FBT_MAX_FIELDS] = {0};
    for (int id = t->n - 1; id >= 0; id--) {
        uint8_t v[8];
        if (t->f[id].size == 0)
            continue;
        if (t->f[id].size < 0) {
            fbb_align(b, 4, 4);
            le32(v, (uint32_t)(b->used + 4 - t->f[id].val));
            at[id] = fbb_push(b, v, 4);
        } else {
            int sz = t->f[id].size;
            fbb_align(b, (size_t)sz, (size_t)sz);
            for (int i = 0; i < sz; i++)
                v[i] = (uint8_t)(t->f[id].val >> (8 * i));
            at[id] = fbb_push(b, v, (size_t)sz);
        }
    }
    fbb_align(b, 4, 4);
    uint8_t zero4[4] = {0};
    uint32_t table = fbb_push(b, zero4, 4);
    uint16_t vt[2 + FBT_MAX_FIELDS];
    vt[0] = (uint16_t)(2 * (2 + t->n));
    vt[1] = (uint16_t)(table - start);
    for (int id = 0; id < t->n; id++)
        vt[2 + id] = t->f[id].size ? (uint16_t)(table - at[id]) : 0;
    uint8_t vbytes[2 * (2 + FBT_MAX_FIELDS)];
    for (int i = 0; i < 2 + t->n; i++) {
        vbytes[2 * i] = (uint8_t)vt[i];
        vbytes[2 * i + 1] = (uint8_t)(vt[i] >> 8);
    }
    fbb_align(b, (size_t)vt[0], 2);
    uint32_t vtab = fbb_push(b, vbytes, vt[0]);
    le32(b->buf + b->cap - table, vtab - table); /* soffset: table - vtable */
    return table;
}

static uint32_t fbb_vec(fbb *b, const void *elems, uint32_t n, size_t elem_size, size_t align)
{
    fbb_align(b, n * elem_size, 4);
    fbb_align(b, n * elem_size, align);
    fbb_push(b, elems, n * elem_size);
    uint8_t len[4];
    le32(len, n);
    return fbb_push(b, len, 4);
}

static uint32_t fbb_vec_i32(fbb *b, const int32_t *v, uint32_t n)
{
    uint8_t *bytes = malloc(4 * (size_t)n + 1);
    assert_non_null(bytes);
    for (uint32_t i = 0; i < n; i++)
        le32(bytes + 4 * i, (uint32_t)v[i]);
    uint32_t r = fbb_vec(b, bytes, n, 4, 4);
    free(bytes);
    return r;
}

static uint32_t fbb_vec_refs(fbb *b, const uint32_t *refs, uint32_t n)
{
    fbb_align(b, 4 * (size_t)n, 4);
    uint8_t *bytes = malloc(4 * (size_t)n + 1);
    assert_non_null(bytes);
    for (uint32_t i = 0; i < n; i++)
        le32(bytes + 4 * i, (uint32_t)(b->used + 4 * (size_t)n - 4 * i - refs[i]));
    fbb_push(b, bytes, 4 * (size_t)n);
    free(bytes);
    uint8_t len[4];
    le32(len, n);
    return fbb_push(b, len, 4);
}

static uint32_t fbb_string(fbb *b, const char *s)
{
    size_t n = strlen(s);
    fbb_align(b, n + 1, 4);
    fbb_push(b, s, n + 1); /* with its NUL */
    uint8_t len[4];
    le32(len, (uint32_t)n);
    return fbb_push(b, len, 4);
}

/* The finished buffer in an exact-size allocation. */
static uint8_t *fbb_finish(fbb *b, uint32_t root, const char *ident, size_t *len)
{
    fbb_align(b, 8, 8);
    fbb_push(b, ident, 4);
    uint8_t off[4];
    le32(off, (uint32_t)(b->used + 4 - root));
    fbb_push(b, off, 4);
    uint8_t *out = malloc(b->used);
    assert_non_null(out);
    memcpy(out, b->buf + b->cap - b->used, b->used);
    *len = b->used;
    free(b->buf);
    memset(b, 0, sizeof *b);
    return out;
}

/* ---- model descriptions ---- */

enum { T_F32 = 0, T_I32 = 2, T_U8 = 3, T_I64 = 4, T_STRING = 5, T_I16 = 7, T_I8 = 9 };
enum {
    OP_ADD = 0,
    OP_AVG = 1,
    OP_CONV = 3,
    OP_DW = 4,
    OP_FC = 9,
    OP_MAXPOOL = 17,
    OP_MUL = 18,
    OP_RESHAPE = 22,
    OP_SOFTMAX = 25,
    OP_TANH = 28,
    OP_CUSTOM = 32,
    OP_PAD = 34,
    OP_GELU = 150,
};
/* BuiltinOptions union types. */
enum {
    U_CONV = 1,
    U_DW = 2,
    U_POOL = 5,
    U_FC = 8,
    U_SOFTMAX = 9,
    U_ADD = 11,
    U_RESHAPE = 17,
    U_MUL = 21,
    U_PAD = 22
};
enum { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU6 = 3, ACT_TANH = 4 };

#define TM_MAX_TENSORS 16
#define TM_MAX_OPS 8
#define TM_MAX_CHANNELS 64

typedef struct tm_tensor {
    char name[32];
    int type;
    int rank;
    int32_t dims[6];
    void *data; /* owned, len bytes; NULL: no buffer */
    size_t len;
    int nq; /* scales */
    float scale[TM_MAX_CHANNELS];
    int nzp;
    int64_t zp[TM_MAX_CHANNELS];
    int qdim;
} tm_tensor;

typedef struct tm_op {
    int32_t builtin_code; /* written when != 0 */
    int deprecated_code;  /* written when != 0 */
    const char *custom;
    int n_in, n_out;
    int32_t in[8], out[4];
    int opt_type;
    fbt opt;
} tm_op;

typedef struct tm_model {
    uint32_t version;
    int nt, nops;
    tm_tensor t[TM_MAX_TENSORS];
    tm_op ops[TM_MAX_OPS];
    int n_inputs, n_outputs;
    int32_t inputs[4], outputs[4];
} tm_model;

static void tm_init(tm_model *m)
{
    memset(m, 0, sizeof *m);
    m->version = 3;
}

static void tm_free(tm_model *m)
{
    for (int i = 0; i < m->nt; i++)
        free(m->t[i].data);
}

/* Adds a tensor (dims as a list ending with -1); returns its index. */
static int tm_tensor_add(tm_model *m, const char *name, int type, const int32_t *dims, int rank,
                         float scale, int64_t zp)
{
    assert_true(m->nt < TM_MAX_TENSORS);
    tm_tensor *t = &m->t[m->nt];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->rank = rank;
    memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    if (scale > 0.0f) {
        t->nq = 1;
        t->scale[0] = scale;
        t->nzp = 1;
        t->zp[0] = zp;
    }
    return m->nt++;
}

static void tm_set_data(tm_model *m, int ti, const void *data, size_t len)
{
    free(m->t[ti].data);
    m->t[ti].data = malloc(len ? len : 1);
    assert_non_null(m->t[ti].data);
    memcpy(m->t[ti].data, data, len);
    m->t[ti].len = len;
}

static tm_op *tm_op_add(tm_model *m, int code, int n_in, const int32_t *in, int out)
{
    assert_true(m->nops < TM_MAX_OPS);
    tm_op *op = &m->ops[m->nops++];
    memset(op, 0, sizeof *op);
    op->builtin_code = code;
    op->deprecated_code = code < 127 ? code : 127;
    op->n_in = n_in;
    memcpy(op->in, in, (size_t)n_in * sizeof *in);
    op->n_out = 1;
    op->out[0] = out;
    return op;
}

static uint8_t *tm_build(const tm_model *m, size_t *len)
{
    fbb b = {0};
    /* Buffers: 0 is the empty sentinel, then one per tensor with data. */
    uint32_t buf_refs[TM_MAX_TENSORS + 1];
    uint32_t tbuf[TM_MAX_TENSORS] = {0};
    int nb = 0;
    fbt empty = {0};
    buf_refs[nb++] = fbb_table(&b, &empty);
    for (int i = 0; i < m->nt; i++) {
        if (!m->t[i].data)
            continue;
        uint32_t data = fbb_vec(&b, m->t[i].data, (uint32_t)m->t[i].len, 1, 16);
        fbt bt = {0};
        fbt_ref(&bt, 0, data);
        tbuf[i] = (uint32_t)nb;
        buf_refs[nb++] = fbb_table(&b, &bt);
    }
    uint32_t buffers = fbb_vec_refs(&b, buf_refs, (uint32_t)nb);
    uint32_t trefs[TM_MAX_TENSORS];
    for (int i = 0; i < m->nt; i++) {
        const tm_tensor *t = &m->t[i];
        uint32_t name = fbb_string(&b, t->name);
        uint32_t shape = fbb_vec_i32(&b, t->dims, (uint32_t)t->rank);
        uint32_t quant = 0;
        if (t->nq || t->nzp) {
            fbt q = {0};
            if (t->nq)
                fbt_ref(&q, 2, fbb_vec(&b, t->scale, (uint32_t)t->nq, 4, 4));
            if (t->nzp)
                fbt_ref(&q, 3, fbb_vec(&b, t->zp, (uint32_t)t->nzp, 8, 8));
            if (t->qdim)
                fbt_i32(&q, 6, t->qdim);
            quant = fbb_table(&b, &q);
        }
        fbt tt = {0};
        fbt_ref(&tt, 0, shape);
        if (t->type)
            fbt_u8(&tt, 1, (uint8_t)t->type);
        if (tbuf[i])
            fbt_set(&tt, 2, 4, tbuf[i]);
        fbt_ref(&tt, 3, name);
        if (quant)
            fbt_ref(&tt, 4, quant);
        trefs[i] = fbb_table(&b, &tt);
    }
    uint32_t tensors = fbb_vec_refs(&b, trefs, (uint32_t)m->nt);
    uint32_t inputs = fbb_vec_i32(&b, m->inputs, (uint32_t)m->n_inputs);
    uint32_t outputs = fbb_vec_i32(&b, m->outputs, (uint32_t)m->n_outputs);
    uint32_t orefs[TM_MAX_OPS], crefs[TM_MAX_OPS];
    for (int i = 0; i < m->nops; i++) {
        const tm_op *op = &m->ops[i];
        uint32_t oin = fbb_vec_i32(&b, op->in, (uint32_t)op->n_in);
        uint32_t oout = fbb_vec_i32(&b, op->out, (uint32_t)op->n_out);
        uint32_t opt = op->opt_type ? fbb_table(&b, &op->opt) : 0;
        fbt ot = {0};
        if (i)
            fbt_set(&ot, 0, 4, (uint32_t)i); /* opcode i */
        fbt_ref(&ot, 1, oin);
        fbt_ref(&ot, 2, oout);
        if (opt) {
            fbt_u8(&ot, 3, (uint8_t)op->opt_type);
            fbt_ref(&ot, 4, opt);
        }
        orefs[i] = fbb_table(&b, &ot);
        /* Its operator code. */
        uint32_t custom = op->custom ? fbb_string(&b, op->custom) : 0;
        fbt ct = {0};
        if (op->deprecated_code)
            fbt_u8(&ct, 0, (uint8_t)op->deprecated_code);
        if (custom)
            fbt_ref(&ct, 1, custom);
        fbt_i32(&ct, 2, 1);
        if (op->builtin_code)
            fbt_i32(&ct, 3, op->builtin_code);
        crefs[i] = fbb_table(&b, &ct);
    }
    uint32_t ops = fbb_vec_refs(&b, orefs, (uint32_t)m->nops);
    uint32_t codes = fbb_vec_refs(&b, crefs, (uint32_t)m->nops);
    fbt sg = {0};
    fbt_ref(&sg, 0, tensors);
    fbt_ref(&sg, 1, inputs);
    fbt_ref(&sg, 2, outputs);
    fbt_ref(&sg, 3, ops);
    uint32_t sgr = fbb_table(&b, &sg);
    uint32_t subgraphs = fbb_vec_refs(&b, &sgr, 1);
    uint32_t desc = fbb_string(&b, "kassa test model");
    fbt root = {0};
    fbt_set(&root, 0, 4, m->version);
    fbt_ref(&root, 1, codes);
    fbt_ref(&root, 2, subgraphs);
    fbt_ref(&root, 3, desc);
    fbt_ref(&root, 4, buffers);
    uint32_t r = fbb_table(&b, &root);
    return fbb_finish(&b, r, "TFL3", len);
}

/* ---- loading ---- */

static int dump_seq;

static void maybe_dump(const uint8_t *bytes, size_t len)
{
    const char *dir = getenv("KASSA_AI_DUMP_DIR");
    if (!dir)
        return;
    char name[64];
    snprintf(name, sizeof name, "crafted_%03d.tflite", dump_seq++);
    assert_int_equal(tu_seed_write(dir, name, bytes, len), 0);
}

/* Loads m; on failure expects rc and a message containing want. */
static ai_model *tm_load(const tm_model *m, ai_backend backend, int want_rc, const char *want)
{
    size_t len;
    uint8_t *bytes = tm_build(m, &len);
    ai_model *model = NULL;
    kassa_err err = {0};
    ai_load_opts opts = {.backend = backend};
    int rc = ai_model_load_opts(bytes, len, &opts, &model, &err);
    if (rc != want_rc || (want && !tu_contains(err.msg, want)))
        fail_msg("load: rc %d (want %d), message '%s' (want '%s')", rc, want_rc, err.msg,
                 want ? want : "");
    if (rc == KASSA_OK && backend == AI_BACKEND_AUTO)
        maybe_dump(bytes, len);
    if (rc != KASSA_OK) {
        assert_null(model);
        assert_int_equal(err.code, rc);
        tu_check_msg(err.msg, sizeof err.msg);
    }
    free(bytes);
    return model;
}

static void invoke(ai_model *m)
{
    kassa_err err = {0};
    if (ai_model_invoke(m, &err) != KASSA_OK)
        fail_msg("invoke: %s", err.msg);
}

/* ---- random data ---- */

static void rand_i8(tu_rng *r, int8_t *p, size_t n, int lo, int hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (int8_t)tu_rng_range(r, lo, hi);
}

static void rand_f32(tu_rng *r, float *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * (float)tu_rng_range(r, 0, 1000000) / 1e6f;
}

/* ---- a small FULLY_CONNECTED int8 model ---- */

/* in [1, 4] int8 -> FC (3 units) -> out [1, 3] int8. */
static void fc_model(tm_model *m)
{
    tm_init(m);
    const int32_t din[] = {1, 4}, dw[] = {3, 4}, db[] = {3}, dout[] = {1, 3};
    int in = tm_tensor_add(m, "in", T_I8, din, 2, 0.5f, -10);
    int w = tm_tensor_add(m, "w", T_I8, dw, 2, 0.25f, 0);
    int bias = tm_tensor_add(m, "b", T_I32, db, 1, 0.125f, 0);
    int out = tm_tensor_add(m, "out", T_I8, dout, 2, 1.0f, 3);
    const int8_t wv[12] = {1, -2, 3, -4, 5, 6, -7, 8, 9, -10, 11, 12};
    const int32_t bv[3] = {8, -16, 24};
    tm_set_data(m, w, wv, sizeof wv);
    tm_set_data(m, bias, bv, sizeof bv);
    const int32_t ins[] = {in, w, bias};
    tm_op *op = tm_op_add(m, OP_FC, 3, ins, out);
    op->opt_type = U_FC;
    fbt_u8(&op->opt, 0, ACT_NONE);
    m->n_inputs = 1;
    m->inputs[0] = in;
    m->n_outputs = 1;
    m->outputs[0] = out;
}

/* The FC model's outputs for input x, computed here in real numbers:
 * y = (sum (x - zx) sx * w sw + b sx sw) / so + zo. */
static void fc_expect(const int8_t *x, int8_t *y)
{
    const int8_t wv[12] = {1, -2, 3, -4, 5, 6, -7, 8, 9, -10, 11, 12};
    const int32_t bv[3] = {8, -16, 24};
    for (int u = 0; u < 3; u++) {
        double acc = bv[u] * 0.5 * 0.25;
        for (int d = 0; d < 4; d++)
            acc += (x[d] + 10) * 0.5 * wv[u * 4 + d] * 0.25;
        long q = lround(acc / 1.0) + 3;
        y[u] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
    }
}

static void check_fc(ai_model *model)
{
    const int8_t x[4] = {-128, -10, 50, 127};
    int8_t want[3];
    fc_expect(x, want);
    memcpy(ai_model_input(model, 0), x, 4);
    invoke(model);
    assert_memory_equal(ai_model_output(model, 0), want, 3);
}

static void test_fc_model_loads(void **state)
{
    (void)state;
    tm_model m;
    fc_model(&m);
    for (int b = 0; b < 2; b++) {
        ai_model *model = tm_load(&m, (ai_backend)b, KASSA_OK, NULL);
        assert_int_equal(ai_model_xnn_op_count(model), b == 0 ? 1 : 0);
        check_fc(model);
        ai_tensor_info info;
        assert_int_equal(ai_model_input_info(model, 0, &info, NULL), KASSA_OK);
        assert_string_equal(info.name, "in");
        assert_float_equal(info.scale, 0.5f, 0.0f);
        assert_int_equal(info.zero_point, -10);
        ai_model_free(model);
    }
    tm_free(&m);
}

/* ---- opcodes ---- */

static void test_opcode_fields(void **state)
{
    (void)state;
    tm_model m;
    /* Only deprecated_builtin_code (older converters). */
    fc_model(&m);
    m.ops[0].builtin_code = 0;
    m.ops[0].deprecated_code = OP_FC;
    ai_model *model = tm_load(&m, AI_BACKEND_AUTO, KASSA_OK, NULL);
    check_fc(model);
    ai_model_free(model);
    /* Only builtin_code (deprecated_builtin_code absent, read as 0). */
    m.ops[0].builtin_code = OP_FC;
    m.ops[0].deprecated_code = 0;
    model = tm_load(&m, AI_BACKEND_AUTO, KASSA_OK, NULL);
    check_fc(model);
    ai_model_free(model);
    /* A code above 127 lives only in builtin_code, with the placeholder 127
     * in the old field: the larger one wins, and it is named. */
    m.ops[0].builtin_code = OP_GELU;
    m.ops[0].deprecated_code = 127;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_EINVAL, "unsupported operator (1 of 1): GELU");
    /* Unsupported builtin, custom and unknown codes are named. */
    m.ops[0].builtin_code = OP_TANH;
    m.ops[0].deprecated_code = OP_TANH;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_EINVAL, "TANH");
    m.ops[0].builtin_code = OP_CUSTOM;
    m.ops[0].deprecated_code = OP_CUSTOM;
    m.ops[0].custom = "KassaFancyOp";
    tm_load(&m, AI_BACKEND_REFERENCE, KASSA_EINVAL, "custom 'KassaFancyOp'");
    m.ops[0].custom = NULL;
    m.ops[0].builtin_code = 250;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_EINVAL, "builtin operator 250");
    tm_free(&m);
}

/* ---- types and quantization ---- */

static void test_types(void **state)
{
    (void)state;
    tm_model m;
    /* An INT16 activation into FULLY_CONNECTED: refused, type named. */
    fc_model(&m);
    m.t[0].type = T_I16;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_EINVAL,
            "tensor 'in' has type INT16, supported: FLOAT32, INT8");
    m.t[0].type = T_U8;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_EINVAL, "type UINT8");
    /* A model input of a type the API has no dtype for. */
    m.t[0].type = T_STRING;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_EINVAL, "model input 'in' has unsupported type STRING");
    /* A type value outside the schema. */
    m.t[3].type = 100;
    m.t[0].type = T_I8;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_EINVAL, "unsupported type (unknown)");
    tm_free(&m);

    /* Weights of another type than the input. */
    fc_model(&m);
    m.t[1].type = T_I16;
    m.t[1].len = 24;
    free(m.t[1].data);
    m.t[1].data = calloc(1, 24);
    tm_load(&m, AI_BACKEND_AUTO, KASSA_EINVAL, "tensor 'w' has type INT16");
    tm_free(&m);

    /* int8 activations need a scale. */
    fc_model(&m);
    m.t[3].nq = 0;
    m.t[3].nzp = 0;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_EINVAL, "tensor 'out': int8 tensor without a valid scale");
    m.t[3].nq = 1;
    m.t[3].nzp = 1;
    m.t[3].zp[0] = 300;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_EINVAL, "zero point in [-128, 127]");
    tm_free(&m);

    /* Weights with a non-zero zero point. */
    fc_model(&m);
    m.t[1].zp[0] = 1;
    tm_load(&m, AI_BACKEND_REFERENCE, KASSA_EINVAL, "int8 weights need zero points of 0");
    tm_free(&m);
}

static void test_unused_quantization_tolerated(void **state)
{
    (void)state;
    tm_model m;
    /* The bias's own quantization is not used (the kernel derives it from
     * input x weights): absent, odd or per-channel, the model runs. */
    fc_model(&m);
    m.t[2].nq = 0;
    m.t[2].nzp = 0;
    ai_model *model = tm_load(&m, AI_BACKEND_AUTO, KASSA_OK, NULL);
    check_fc(model);
    ai_model_free(model);
    m.t[2].nq = 3;
    m.t[2].scale[0] = 7.0f;
    m.t[2].scale[1] = -1.0f;
    m.t[2].scale[2] = 0.0f;
    m.t[2].nzp = 2;
    m.t[2].zp[0] = 99;
    m.t[2].zp[1] = 1LL << 40;
    m.t[2].qdim = 0;
    model = tm_load(&m, AI_BACKEND_AUTO, KASSA_OK, NULL);
    check_fc(model);
    ai_model_free(model);
    /* Weights with zero points given once per... nothing else: a vector of
     * zeros longer than the scales is fine. */
    m.t[1].nzp = 5;
    memset(m.t[1].zp, 0, sizeof m.t[1].zp);
    model = tm_load(&m, AI_BACKEND_REFERENCE, KASSA_OK, NULL);
    check_fc(model);
    ai_model_free(model);
    tm_free(&m);

    /* A float model whose tensors carry quantization parameters. */
    tm_init(&m);
    const int32_t d[] = {1, 2};
    int a = tm_tensor_add(&m, "a", T_F32, d, 2, 0.1f, 5);
    int b = tm_tensor_add(&m, "b", T_F32, d, 2, 3.0f, -7);
    int c = tm_tensor_add(&m, "c", T_F32, d, 2, 0.5f, 1);
    const float bv[2] = {1.5f, -2.0f};
    tm_set_data(&m, b, bv, sizeof bv);
    const int32_t ins[] = {a, b};
    tm_op *op = tm_op_add(&m, OP_ADD, 2, ins, c);
    op->opt_type = U_ADD;
    m.n_inputs = 1;
    m.inputs[0] = a;
    m.n_outputs = 1;
    m.outputs[0] = c;
    for (int be = 0; be < 2; be++) {
        model = tm_load(&m, (ai_backend)be, KASSA_OK, NULL);
        const float x[2] = {1.0f, 2.0f};
        memcpy(ai_model_input(model, 0), x, sizeof x);
        invoke(model);
        const float *y = ai_model_output(model, 0);
        assert_float_equal(y[0], 2.5f, 1e-6f);
        assert_float_equal(y[1], 0.0f, 1e-6f);
        ai_model_free(model);
    }
    tm_free(&m);
}

/* ---- structure and data flow ---- */

static void test_graph_errors(void **state)
{
    (void)state;
    tm_model m;
    fc_model(&m);
    m.version = 2;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_EVERSION, "schema version 2, expected 3");
    tm_free(&m);

    /* A constant whose buffer is shorter than its shape needs. */
    fc_model(&m);
    m.t[1].len = 11;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_ECORRUPT, "constant tensor 'w' has 11 bytes");
    tm_free(&m);

    /* An operator reading a tensor nobody writes. */
    fc_model(&m);
    m.n_inputs = 1;
    const int32_t d[] = {1, 4};
    m.inputs[0] = tm_tensor_add(&m, "unused_in", T_I8, d, 2, 0.5f, 0);
    tm_load(&m, AI_BACKEND_AUTO, KASSA_ECORRUPT, "reads tensor 'in' before any operator writes it");
    tm_free(&m);

    /* Two operators writing one tensor. */
    fc_model(&m);
    const int32_t ins[] = {0, 1, 2};
    tm_op *op = tm_op_add(&m, OP_FC, 3, ins, 3);
    op->opt_type = U_FC;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_ECORRUPT,
            "writes tensor 'out', which is a constant, an "
            "input or written before");
    tm_free(&m);

    /* An output no operator writes. */
    fc_model(&m);
    const int32_t d3[] = {1, 3};
    m.outputs[0] = tm_tensor_add(&m, "orphan", T_I8, d3, 2, 1.0f, 0);
    tm_load(&m, AI_BACKEND_AUTO, KASSA_ECORRUPT, "no operator writes model output 'orphan'");
    tm_free(&m);

    /* Indices out of range. */
    fc_model(&m);
    m.ops[0].in[0] = 40;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_ECORRUPT, "tensor index 40 out of range");
    tm_free(&m);
    fc_model(&m);
    m.outputs[0] = -1;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_ECORRUPT, "tensor index -1 out of range");
    tm_free(&m);

    /* Options of the wrong union type. */
    fc_model(&m);
    m.ops[0].opt_type = U_CONV;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_ECORRUPT, "options of union type 1, expected 8");
    tm_free(&m);

    /* A fused activation the kernels lack. */
    fc_model(&m);
    fbt_u8(&m.ops[0].opt, 0, ACT_TANH);
    tm_load(&m, AI_BACKEND_AUTO, KASSA_EINVAL, "fused activation 4 is not supported");
    tm_free(&m);

    /* Wrong output shape. */
    fc_model(&m);
    m.t[3].dims[1] = 4;
    tm_load(&m, AI_BACKEND_AUTO, KASSA_EINVAL, "output shape does not match the weights");
    tm_free(&m);
}

/* Every strict prefix of a model is refused; words overwritten anywhere
 * never crash the reader (ASan) and fail with a printable message or load
 * a model that runs. */
static void check_damaged(const uint8_t *good, size_t len, size_t cut_step, int mutations,
                          uint64_t seed)
{
    for (size_t cut = 0; cut < len; cut += cut_step) {
        uint8_t *p = malloc(cut ? cut : 1);
        assert_non_null(p);
        memcpy(p, good, cut);
        ai_model *m = NULL;
        kassa_err err = {0};
        int rc = ai_model_load(p, cut, &m, &err);
        if (rc != KASSA_ECORRUPT)
            fail_msg("prefix of %zu / %zu bytes: rc %d (%s)", cut, len, rc, err.msg);
        assert_null(m);
        tu_check_msg(err.msg, sizeof err.msg);
        free(p);
    }
    tu_rng r;
    tu_rng_seed(&r, seed);
    int loaded = 0;
    for (int k = 0; k < mutations; k++) {
        uint8_t *p = malloc(len);
        assert_non_null(p);
        memcpy(p, good, len);
        size_t at = (size_t)tu_rng_range(&r, 0, (int64_t)len - 4);
        static const uint32_t words[] = {0, 0xffffffffu, 0x7fffffffu, 0x80000000u, 4, 0xfffc};
        uint32_t w =
            tu_rng_chance(&r, 50) ? words[tu_rng_range(&r, 0, 5)] : (uint32_t)tu_rng_next(&r);
        int width = (int)tu_rng_range(&r, 1, 4);
        for (int i = 0; i < width; i++)
            p[at + (size_t)i] = (uint8_t)(w >> (8 * i));
        ai_model *m = NULL;
        kassa_err err = {0};
        int rc = ai_model_load(p, len, &m, &err);
        if (rc == KASSA_OK) {
            loaded++;
            kassa_err e2;
            assert_int_equal(ai_model_invoke(m, &e2), KASSA_OK);
            ai_model_free(m);
        } else {
            assert_null(m);
            assert_int_equal(err.code, rc);
            tu_check_msg(err.msg, sizeof err.msg);
        }
        free(p);
    }
    printf("  %zu bytes: %d of %d mutated copies still loaded\n", len, loaded, mutations);
}

static uint8_t *read_fixture(const char *rel, size_t *len)
{
    const char *dir = getenv("KASSA_TEST_FIXTURES");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/tflm/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static bool asan_scale(void)
{
    const char *s = getenv("KASSA_TEST_SCALE");
    return s && strcmp(s, "asan") == 0;
}

static void test_truncated_and_corrupted(void **state)
{
    (void)state;
    tm_model m;
    fc_model(&m);
    size_t len;
    uint8_t *bytes = tm_build(&m, &len);
    check_damaged(bytes, len, 1, 2000, 1);
    free(bytes);
    tm_free(&m);
    const char *fixtures[] = {
        "hello_world/hello_world_int8.tflite", "hello_world/hello_world_float.tflite",
        "micro_speech/micro_speech_quantized.tflite", "person_detection/person_detect.tflite"};
    for (int i = 0; i < 4; i++) {
        bytes = read_fixture(fixtures[i], &len);
        bool big = len > 100000;
        int muts = big ? (asan_scale() ? 30 : 150) : (asan_scale() ? 300 : 1500);
        check_damaged(bytes, len, big ? len / 97 : 1, muts, 100 + (uint64_t)i);
        free(bytes);
    }
}

static void test_bad_headers(void **state)
{
    (void)state;
    tm_model m;
    fc_model(&m);
    size_t len;
    uint8_t *bytes = tm_build(&m, &len);
    ai_model *model = NULL;
    kassa_err err;
    /* Wrong file identifier. */
    bytes[4] = 'X';
    assert_int_equal(ai_model_load(bytes, len, &model, &err), KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "TFL3"));
    bytes[4] = 'T';
    /* Root offset past the end. */
    uint8_t saved[4];
    memcpy(saved, bytes, 4);
    le32(bytes, (uint32_t)len);
    assert_int_equal(ai_model_load(bytes, len, &model, &err), KASSA_ECORRUPT);
    assert_true(tu_contains(err.msg, "root table"));
    /* Root offset to a table whose vtable lies before the file. */
    le32(bytes, 8);
    le32(bytes + 8, 0x7ffffff0u);
    assert_int_equal(ai_model_load(bytes, len, &model, &err), KASSA_ECORRUPT);
    memcpy(bytes, saved, 4);
    assert_int_equal(ai_model_load(bytes, 3, &model, &err), KASSA_ECORRUPT);
    assert_int_equal(ai_model_load(NULL, 0, &model, &err), KASSA_ECORRUPT);
    free(bytes);
    tm_free(&m);
}

/* ---- kernels: one operator, random data, both backends ---- */

typedef struct qp {
    float s;
    int32_t zp;
} qp;

static float deq(int8_t q, qp p)
{
    return (float)((double)(q - p.zp) * p.s);
}

static int8_t quant(double real, qp p, int lo, int hi)
{
    double q = round(real / p.s) + p.zp;
    if (q < lo)
        q = lo;
    if (q > hi)
        q = hi;
    return (int8_t)q;
}

/* Runs an int8 single-op model on both backends with input bytes; checks
 * reference vs want within want_lsb and XNNPACK vs reference within
 * xnn_lsb; returns how many ops XNNPACK ran. */
static int run_s8(const tm_model *m, const int8_t *in, size_t in_len, const int8_t *want, size_t n,
                  int want_lsb, int xnn_lsb, const char *what)
{
    ai_model *x = tm_load(m, AI_BACKEND_AUTO, KASSA_OK, NULL);
    ai_model *r = tm_load(m, AI_BACKEND_REFERENCE, KASSA_OK, NULL);
    memcpy(ai_model_input(x, 0), in, in_len);
    memcpy(ai_model_input(r, 0), in, in_len);
    invoke(x);
    invoke(r);
    const int8_t *ox = ai_model_output(x, 0), *orf = ai_model_output(r, 0);
    int dw = 0, dx = 0;
    for (size_t i = 0; i < n; i++) {
        dw = abs(orf[i] - want[i]) > dw ? abs(orf[i] - want[i]) : dw;
        dx = abs(ox[i] - orf[i]) > dx ? abs(ox[i] - orf[i]) : dx;
    }
    int xnn_ops = ai_model_xnn_op_count(x);
    printf("  %-34s reference-exact %d LSB, xnnpack-reference %d LSB (%s)\n", what, dw, dx,
           xnn_ops ? "on XNNPACK" : "C kernel");
    if (dw > want_lsb || dx > xnn_lsb)
        fail_msg("%s: reference off by %d LSB (max %d), XNNPACK by %d (max %d)", what, dw, want_lsb,
                 dx, xnn_lsb);
    ai_model_free(x);
    ai_model_free(r);
    return xnn_ops;
}

static void run_f32(const tm_model *m, const float *in, size_t in_len, const float *want, size_t n,
                    const char *what)
{
    for (int b = 0; b < 2; b++) {
        ai_model *x = tm_load(m, (ai_backend)b, KASSA_OK, NULL);
        memcpy(ai_model_input(x, 0), in, in_len);
        invoke(x);
        const float *o = ai_model_output(x, 0);
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)o[i] - want[i]) / (1.0 + fabs(want[i]));
            worst = d > worst ? d : worst;
        }
        if (worst > 1e-4)
            fail_msg("%s (%s): relative error %g", what, b ? "reference" : "xnnpack", worst);
        if (b == 0)
            printf("  %-34s float max relative error %.2g (%s)\n", what, worst,
                   ai_model_xnn_op_count(x) ? "on XNNPACK" : "C kernel");
        ai_model_free(x);
    }
}

typedef struct conv_case {
    const char *what;
    bool depthwise;
    int h, w, cin, cout, kh, kw, stride, dilation;
    int padding; /* 0 SAME, 1 VALID */
    int act;
    bool per_channel, bias, f32;
} conv_case;

static void conv_test(const conv_case *c, uint64_t seed)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    tm_model m;
    tm_init(&m);
    int eff_h = (c->kh - 1) * c->dilation + 1, eff_w = (c->kw - 1) * c->dilation + 1;
    int oh = c->padding == 0 ? (c->h + c->stride - 1) / c->stride : (c->h - eff_h) / c->stride + 1;
    int ow = c->padding == 0 ? (c->w + c->stride - 1) / c->stride : (c->w - eff_w) / c->stride + 1;
    int pt = ((oh - 1) * c->stride + eff_h - c->h) / 2,
        pl = ((ow - 1) * c->stride + eff_w - c->w) / 2;
    pt = pt < 0 ? 0 : pt;
    pl = pl < 0 ? 0 : pl;
    const int32_t din[] = {1, c->h, c->w, c->cin}, dout[] = {1, oh, ow, c->cout};
    const int32_t dfc[] = {c->cout, c->kh, c->kw, c->cin}, dfd[] = {1, c->kh, c->kw, c->cout};
    const int32_t db[] = {c->cout};
    int tt = c->f32 ? T_F32 : T_I8;
    qp qin = {0.05f, -3}, qout = {0.2f, 7};
    int in = tm_tensor_add(&m, "in", tt, din, 4, c->f32 ? 0 : qin.s, qin.zp);
    int flt = tm_tensor_add(&m, "filter", tt, c->depthwise ? dfd : dfc, 4, c->f32 ? 0 : 0.01f, 0);
    int bias = c->bias ? tm_tensor_add(&m, "bias", c->f32 ? T_F32 : T_I32, db, 1, 0, 0) : -1;
    int out = tm_tensor_add(&m, "out", tt, dout, 4, c->f32 ? 0 : qout.s, qout.zp);
    size_t nin = (size_t)c->h * c->w * c->cin, nf = (size_t)c->kh * c->kw * c->cin * c->cout;
    if (c->depthwise)
        nf = (size_t)c->kh * c->kw * c->cout;
    size_t nout = (size_t)oh * ow * c->cout;
    float fscale[TM_MAX_CHANNELS];
    for (int k = 0; k < c->cout; k++)
        fscale[k] = c->per_channel ? 0.004f + 0.002f * (float)(k % 7) : 0.01f;
    if (!c->f32 && c->per_channel) {
        m.t[flt].nq = c->cout;
        m.t[flt].nzp = c->cout;
        memcpy(m.t[flt].scale, fscale, sizeof(float) * (size_t)c->cout);
        memset(m.t[flt].zp, 0, sizeof m.t[flt].zp);
        m.t[flt].qdim = c->depthwise ? 3 : 0;
    }
    /* Data. */
    int8_t *xi = malloc(nin), *fi = malloc(nf);
    float *xf = malloc(nin * 4), *ff = malloc(nf * 4);
    int32_t bi[TM_MAX_CHANNELS];
    float bf[TM_MAX_CHANNELS];
    assert_true(xi && fi && xf && ff);
    rand_i8(&r, xi, nin, -128, 127);
    rand_i8(&r, fi, nf, -127, 127);
    rand_f32(&r, xf, nin, -1.0f, 1.0f);
    rand_f32(&r, ff, nf, -0.5f, 0.5f);
    for (int k = 0; k < c->cout; k++) {
        bi[k] = (int32_t)tu_rng_range(&r, -2000, 2000);
        rand_f32(&r, &bf[k], 1, -0.3f, 0.3f);
    }
    tm_set_data(&m, flt, c->f32 ? (void *)ff : (void *)fi, c->f32 ? nf * 4 : nf);
    if (bias >= 0)
        tm_set_data(&m, bias, c->f32 ? (void *)bf : (void *)bi, (size_t)c->cout * 4);
    int32_t ins[] = {in, flt, bias};
    tm_op *op = tm_op_add(&m, c->depthwise ? OP_DW : OP_CONV, bias >= 0 ? 3 : 2, ins, out);
    op->opt_type = c->depthwise ? U_DW : U_CONV;
    fbt_u8(&op->opt, 0, (uint8_t)c->padding);
    fbt_i32(&op->opt, 1, c->stride);
    fbt_i32(&op->opt, 2, c->stride);
    if (c->depthwise) {
        fbt_i32(&op->opt, 3, c->cout / c->cin);
        fbt_u8(&op->opt, 4, (uint8_t)c->act);
        fbt_i32(&op->opt, 5, c->dilation);
        fbt_i32(&op->opt, 6, c->dilation);
    } else {
        fbt_u8(&op->opt, 3, (uint8_t)c->act);
        fbt_i32(&op->opt, 4, c->dilation);
        fbt_i32(&op->opt, 5, c->dilation);
    }
    m.n_inputs = 1;
    m.inputs[0] = in;
    m.n_outputs = 1;
    m.outputs[0] = out;
    /* The exact result in double. */
    double *acc = calloc(nout, sizeof *acc);
    assert_non_null(acc);
    int mult = c->cout / c->cin;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
            for (int oc = 0; oc < c->cout; oc++) {
                double s = 0;
                for (int fy = 0; fy < c->kh; fy++)
                    for (int fx = 0; fx < c->kw; fx++) {
                        int iy = y * c->stride - pt + fy * c->dilation;
                        int ix = x * c->stride - pl + fx * c->dilation;
                        if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w)
                            continue;
                        int kmax = c->depthwise ? 1 : c->cin;
                        for (int k = 0; k < kmax; k++) {
                            int ic = c->depthwise ? oc / mult : k;
                            size_t ii = ((size_t)iy * c->w + ix) * c->cin + ic;
                            size_t fi_ =
                                c->depthwise
                                    ? ((size_t)fy * c->kw + fx) * c->cout + oc
                                    : (((size_t)oc * c->kh + fy) * c->kw + fx) * c->cin + k;
                            if (c->f32)
                                s += (double)xf[ii] * ff[fi_];
                            else
                                s += (double)deq(xi[ii], qin) * fi[fi_] * fscale[oc];
                        }
                    }
                if (c->bias)
                    s += c->f32 ? bf[oc] : (double)bi[oc] * qin.s * fscale[oc];
                acc[((size_t)y * ow + x) * c->cout + oc] = s;
            }
    double lo = c->act == ACT_NONE ? -1e30 : 0.0, hi = c->act == ACT_RELU6 ? 6.0 : 1e30;
    if (c->f32) {
        float *want = malloc(nout * 4);
        assert_non_null(want);
        for (size_t i = 0; i < nout; i++)
            want[i] = (float)(acc[i] < lo ? lo : acc[i] > hi ? hi : acc[i]);
        run_f32(&m, xf, nin * 4, want, nout, c->what);
        free(want);
    } else {
        int8_t *want = malloc(nout);
        assert_non_null(want);
        int qlo = c->act == ACT_NONE ? -128 : qout.zp;
        int qhi = c->act == ACT_RELU6 ? (int)fmin(127, qout.zp + round(6.0 / qout.s)) : 127;
        for (size_t i = 0; i < nout; i++)
            want[i] = quant(acc[i], qout, qlo, qhi);
        assert_int_equal(run_s8(&m, xi, nin, want, nout, 1, 1, c->what), 1);
        free(want);
    }
    free(acc);
    free(xi);
    free(fi);
    free(xf);
    free(ff);
    tm_free(&m);
}

static void test_conv_kernels(void **state)
{
    (void)state;
    const conv_case cases[] = {
        {"conv 3x3 SAME s1 per-channel", false, 9, 7, 3, 8, 3, 3, 1, 1, 0, ACT_NONE, true, true,
         false},
        {"conv 3x3 SAME s2 RELU6", false, 10, 9, 4, 6, 3, 3, 2, 1, 0, ACT_RELU6, true, true, false},
        {"conv 2x3 VALID dilation 2 RELU", false, 11, 12, 2, 5, 2, 3, 1, 2, 1, ACT_RELU, false,
         true, false},
        {"conv 1x1 no bias", false, 5, 5, 16, 4, 1, 1, 1, 1, 1, ACT_NONE, true, false, false},
        {"depthwise 3x3 SAME s2", true, 9, 9, 8, 8, 3, 3, 2, 1, 0, ACT_RELU6, true, true, false},
        {"depthwise multiplier 2 VALID", true, 8, 6, 3, 6, 3, 2, 1, 1, 1, ACT_NONE, true, true,
         false},
        {"depthwise dilation 2 per-tensor", true, 10, 10, 4, 4, 3, 3, 1, 2, 0, ACT_RELU, false,
         true, false},
        {"conv float SAME s2 RELU6", false, 9, 8, 3, 5, 3, 3, 2, 1, 0, ACT_RELU6, false, true,
         true},
        {"depthwise float multiplier 2", true, 7, 7, 2, 4, 3, 3, 1, 1, 0, ACT_NONE, false, true,
         true},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++)
        conv_test(&cases[i], 1000 + i);
}

static void fc_test(bool per_channel, bool f32, int act, uint64_t seed)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    enum { B = 3, D = 40, U = 10 };
    tm_model m;
    tm_init(&m);
    const int32_t din[] = {B, 2, D / 2}, dw[] = {U, D}, db[] = {U}, dout[] = {B, U};
    qp qin = {0.03f, 11}, qout = {0.15f, -20};
    int tt = f32 ? T_F32 : T_I8;
    int in = tm_tensor_add(&m, "in", tt, din, 3, f32 ? 0 : qin.s, qin.zp);
    int w = tm_tensor_add(&m, "w", tt, dw, 2, f32 ? 0 : 0.02f, 0);
    int b = tm_tensor_add(&m, "b", f32 ? T_F32 : T_I32, db, 1, 0, 0);
    int out = tm_tensor_add(&m, "out", tt, dout, 2, f32 ? 0 : qout.s, qout.zp);
    float ws[U];
    for (int u = 0; u < U; u++)
        ws[u] = per_channel ? 0.01f + 0.003f * (float)u : 0.02f;
    if (per_channel) {
        m.t[w].nq = m.t[w].nzp = U;
        memcpy(m.t[w].scale, ws, sizeof ws);
    }
    int8_t xi[B * D], wi[U * D];
    float xf[B * D], wf[U * D], bf[U];
    int32_t bi[U];
    rand_i8(&r, xi, B * D, -128, 127);
    rand_i8(&r, wi, U * D, -127, 127);
    rand_f32(&r, xf, B * D, -1, 1);
    rand_f32(&r, wf, U * D, -0.4f, 0.4f);
    rand_f32(&r, bf, U, -0.5f, 0.5f);
    for (int u = 0; u < U; u++)
        bi[u] = (int32_t)tu_rng_range(&r, -3000, 3000);
    tm_set_data(&m, w, f32 ? (void *)wf : (void *)wi, f32 ? sizeof wf : sizeof wi);
    tm_set_data(&m, b, f32 ? (void *)bf : (void *)bi, sizeof bi);
    const int32_t ins[] = {in, w, b};
    tm_op *op = tm_op_add(&m, OP_FC, 3, ins, out);
    op->opt_type = U_FC;
    fbt_u8(&op->opt, 0, (uint8_t)act);
    m.n_inputs = 1;
    m.inputs[0] = in;
    m.n_outputs = 1;
    m.outputs[0] = out;
    int8_t want_q[B * U];
    float want_f[B * U];
    for (int bb = 0; bb < B; bb++)
        for (int u = 0; u < U; u++) {
            double s = f32 ? bf[u] : (double)bi[u] * qin.s * ws[u];
            for (int d = 0; d < D; d++)
                s += f32 ? (double)xf[bb * D + d] * wf[u * D + d]
                         : (double)deq(xi[bb * D + d], qin) * wi[u * D + d] * ws[u];
            if (act == ACT_RELU && s < 0)
                s = 0;
            want_f[bb * U + u] = (float)s;
            want_q[bb * U + u] = quant(s, qout, act == ACT_RELU ? qout.zp : -128, 127);
        }
    char what[64];
    snprintf(what, sizeof what, "fully connected %s%s", f32 ? "float" : "int8",
             per_channel ? " per-channel" : "");
    if (f32) {
        run_f32(&m, xf, sizeof xf, want_f, B * U, what);
    } else {
        int on_xnn = run_s8(&m, xi, sizeof xi, want_q, B * U, 1, 1, what);
        /* This XNNPACK has no per-channel int8 FC: the C kernel takes it. */
        assert_int_equal(on_xnn, per_channel ? 0 : 1);
    }
    tm_free(&m);
}

static void test_fc_kernels(void **state)
{
    (void)state;
    fc_test(false, false, ACT_NONE, 1);
    fc_test(true, false, ACT_RELU, 2);
    fc_test(false, true, ACT_RELU, 3);
}

/* ADD / MUL int8 and float, with broadcasting. */
static void binary_test(int code, bool f32, bool broadcast, int act, uint64_t seed)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    tm_model m;
    tm_init(&m);
    const int32_t da[] = {2, 3, 4, 5}, db_full[] = {2, 3, 4, 5}, db_bc[] = {3, 1, 5};
    const int32_t *db = broadcast ? db_bc : db_full;
    int rank_b = broadcast ? 3 : 4;
    qp qa = {0.04f, 5}, qb = {code == OP_MUL ? 0.02f : 0.07f, -9}, qo = {0.12f, 2};
    int tt = f32 ? T_F32 : T_I8;
    int a = tm_tensor_add(&m, "a", tt, da, 4, f32 ? 0 : qa.s, qa.zp);
    int b = tm_tensor_add(&m, "b", tt, db, rank_b, f32 ? 0 : qb.s, qb.zp);
    int o = tm_tensor_add(&m, "o", tt, da, 4, f32 ? 0 : qo.s, qo.zp);
    size_t na = 120, nb = broadcast ? 15 : 120;
    int8_t ai[120], bi[120];
    float af[120], bf[120];
    rand_i8(&r, ai, na, -128, 127);
    rand_i8(&r, bi, nb, -128, 127);
    rand_f32(&r, af, na, -2, 2);
    rand_f32(&r, bf, nb, -2, 2);
    /* b is a constant operand. */
    tm_set_data(&m, b, f32 ? (void *)bf : (void *)bi, f32 ? nb * 4 : nb);
    const int32_t ins[] = {a, b};
    tm_op *op = tm_op_add(&m, code, 2, ins, o);
    op->opt_type = code == OP_ADD ? U_ADD : U_MUL;
    fbt_u8(&op->opt, 0, (uint8_t)act);
    m.n_inputs = 1;
    m.inputs[0] = a;
    m.n_outputs = 1;
    m.outputs[0] = o;
    int8_t want_q[120];
    float want_f[120];
    for (size_t i = 0; i < na; i++) {
        size_t i3 = (i / 20) % 3, i5 = i % 5; /* b[i3][0][i5] when broadcast */
        size_t j = broadcast ? i3 * 5 + i5 : i;
        double x = f32 ? af[i] : deq(ai[i], qa), y = f32 ? bf[j] : deq(bi[j], qb);
        double v = code == OP_ADD ? x + y : x * y;
        if (act == ACT_RELU && v < 0)
            v = 0;
        want_f[i] = (float)v;
        want_q[i] = quant(v, qo, act == ACT_RELU ? qo.zp : -128, 127);
    }
    char what[64];
    snprintf(what, sizeof what, "%s %s%s", code == OP_ADD ? "add" : "mul", f32 ? "float" : "int8",
             broadcast ? " broadcast" : "");
    if (f32)
        run_f32(&m, af, na * 4, want_f, na, what);
    else
        assert_int_equal(run_s8(&m, ai, na, want_q, na, 1, 1, what), 1);
    tm_free(&m);
}

static void test_binary_kernels(void **state)
{
    (void)state;
    binary_test(OP_ADD, false, false, ACT_NONE, 1);
    binary_test(OP_ADD, false, true, ACT_RELU, 2);
    binary_test(OP_MUL, false, false, ACT_NONE, 3);
    binary_test(OP_MUL, false, true, ACT_NONE, 4);
    binary_test(OP_ADD, true, true, ACT_NONE, 5);
    binary_test(OP_MUL, true, false, ACT_RELU, 6);
}

/* Pools, PAD, RESHAPE and SOFTMAX in a chain:
 * in [1,7,6,3] -> PAD [[0,0],[1,2],[0,1],[0,0]] -> MAX_POOL 3x2 s2 SAME
 * -> AVERAGE_POOL 3x3 s1 SAME -> RESHAPE [1, n] -> SOFTMAX. */
static void chain_test(bool f32, float beta, uint64_t seed)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    tm_model m;
    tm_init(&m);
    qp q = {0.1f, -5}, qs = {1.0f / 256, -128};
    int tt = f32 ? T_F32 : T_I8;
    float s = f32 ? 0 : q.s;
    const int32_t d0[] = {1, 7, 6, 3}, d1[] = {1, 10, 7, 3}, d2[] = {1, 5, 4, 3},
                  d3[] = {1, 5, 4, 3}, d4[] = {1, 60}, dp[] = {4, 2}, ds[] = {2};
    int t0 = tm_tensor_add(&m, "in", tt, d0, 4, s, q.zp);
    int tp = tm_tensor_add(&m, "paddings", T_I32, dp, 2, 0, 0);
    int t1 = tm_tensor_add(&m, "padded", tt, d1, 4, s, q.zp);
    int t2 = tm_tensor_add(&m, "maxpool", tt, d2, 4, s, q.zp);
    int t3 = tm_tensor_add(&m, "avgpool", tt, d3, 4, s, q.zp);
    int tsh = tm_tensor_add(&m, "shape", T_I32, ds, 1, 1.0f, 0); /* unused quantization */
    int t4 = tm_tensor_add(&m, "flat", tt, d4, 2, s, q.zp);
    int t5 = tm_tensor_add(&m, "probs", tt, d4, 2, f32 ? 0 : qs.s, qs.zp);
    const int32_t pads[8] = {0, 0, 1, 2, 0, 1, 0, 0}, shape[2] = {1, 60};
    tm_set_data(&m, tp, pads, sizeof pads);
    tm_set_data(&m, tsh, shape, sizeof shape);
    const int32_t i1[] = {t0, tp}, i2[] = {t1}, i3[] = {t2}, i4[] = {t3, tsh}, i5[] = {t4};
    tm_op *op = tm_op_add(&m, OP_PAD, 2, i1, t1);
    op->opt_type = U_PAD;
    op = tm_op_add(&m, OP_MAXPOOL, 1, i2, t2);
    op->opt_type = U_POOL;
    fbt_u8(&op->opt, 0, 0);
    fbt_i32(&op->opt, 1, 2);
    fbt_i32(&op->opt, 2, 2);
    fbt_i32(&op->opt, 3, 2);
    fbt_i32(&op->opt, 4, 3);
    op = tm_op_add(&m, OP_AVG, 1, i3, t3);
    op->opt_type = U_POOL;
    fbt_u8(&op->opt, 0, 0);
    fbt_i32(&op->opt, 1, 1);
    fbt_i32(&op->opt, 2, 1);
    fbt_i32(&op->opt, 3, 3);
    fbt_i32(&op->opt, 4, 3);
    op = tm_op_add(&m, OP_RESHAPE, 2, i4, t4);
    op->opt_type = U_RESHAPE;
    op = tm_op_add(&m, OP_SOFTMAX, 1, i5, t5);
    op->opt_type = U_SOFTMAX;
    fbt_f32(&op->opt, 0, beta);
    m.n_inputs = 1;
    m.inputs[0] = t0;
    m.n_outputs = 1;
    m.outputs[0] = t5;

    int8_t xi[126];
    float xf[126];
    rand_i8(&r, xi, 126, -128, 127);
    rand_f32(&r, xf, 126, -3, 3);
    /* Expected, step by step, in the same quantized domain for int8 (pads
     * with the zero point, pools keep the scale, the average rounds half
     * away from zero like TFLite) and in float. */
    double a0[126], a1[210], a2[60], a3[60], probs[60];
    for (int i = 0; i < 126; i++)
        a0[i] = f32 ? xf[i] : xi[i];
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 7; x++)
            for (int c = 0; c < 3; c++) {
                int sy = y - 1, sx = x;
                bool in = sy >= 0 && sy < 7 && sx < 6;
                a1[(y * 7 + x) * 3 + c] = in ? a0[(sy * 6 + sx) * 3 + c] : (f32 ? 0 : q.zp);
            }
    /* Max pool 3 (h) x 2 (w), stride 2, SAME on 10x7: out 5x4, pads top 0. */
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 4; x++)
            for (int c = 0; c < 3; c++) {
                double mx = -1e30;
                int y0 = y * 2 + 0, x0 = x * 2; /* total pad h = (5-1)*2+3-10 = 1 -> top 0 */
                for (int fy = 0; fy < 3; fy++)
                    for (int fx = 0; fx < 2; fx++) {
                        int iy = y0 + fy, ix = x0 + fx; /* w: (4-1)*2+2-7 = 1 -> left 0 */
                        if (iy < 10 && ix < 7 && a1[(iy * 7 + ix) * 3 + c] > mx)
                            mx = a1[(iy * 7 + ix) * 3 + c];
                    }
                a2[(y * 4 + x) * 3 + c] = mx;
            }
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 4; x++)
            for (int c = 0; c < 3; c++) {
                double sum = 0;
                int n = 0;
                for (int fy = -1; fy <= 1; fy++)
                    for (int fx = -1; fx <= 1; fx++) {
                        int iy = y + fy, ix = x + fx;
                        if (iy >= 0 && iy < 5 && ix >= 0 && ix < 4) {
                            sum += a2[(iy * 4 + ix) * 3 + c];
                            n++;
                        }
                    }
                a3[(y * 4 + x) * 3 + c] =
                    f32 ? sum / n : (sum > 0 ? floor(sum / n + 0.5) : ceil(sum / n - 0.5));
            }
    double mx = -1e30, tot = 0;
    for (int i = 0; i < 60; i++) {
        double v = f32 ? a3[i] : (a3[i] - q.zp) * q.s;
        mx = v > mx ? v : mx;
    }
    for (int i = 0; i < 60; i++) {
        double v = f32 ? a3[i] : (a3[i] - q.zp) * q.s;
        probs[i] = exp((v - mx) * beta);
        tot += probs[i];
    }
    int8_t want_q[60];
    float want_f[60];
    for (int i = 0; i < 60; i++) {
        probs[i] /= tot;
        want_f[i] = (float)probs[i];
        want_q[i] = quant(probs[i], qs, -128, 127);
    }
    char what[64];
    snprintf(what, sizeof what, "pad+pools+reshape+softmax b=%.1f %s", beta, f32 ? "f32" : "int8");
    if (f32)
        run_f32(&m, xf, sizeof xf, want_f, 60, what);
    else /* PAD, MAX_POOL_2D and RESHAPE on XNNPACK; the average and softmax in C */
        assert_int_equal(run_s8(&m, xi, sizeof xi, want_q, 60, 1, 0, what), 3);
    tm_free(&m);
}

static void test_chain_kernels(void **state)
{
    (void)state;
    chain_test(false, 1.0f, 1);
    chain_test(false, 0.5f, 2);
    chain_test(true, 1.0f, 3);
    chain_test(true, 2.0f, 4);
}

/* int8 SOFTMAX against the exact softmax over many rows of random logits:
 * TFLite's fixed-point path stays within 1 LSB of the real value. */
static void test_softmax_int8_exactness(void **state)
{
    (void)state;
    enum { ROWS = 200, DEPTH = 10 };
    tm_model m;
    tm_init(&m);
    const int32_t d[] = {ROWS, DEPTH};
    qp qi = {0.0625f, 3}, qs = {1.0f / 256, -128};
    int in = tm_tensor_add(&m, "logits", T_I8, d, 2, qi.s, qi.zp);
    int out = tm_tensor_add(&m, "probs", T_I8, d, 2, qs.s, qs.zp);
    const int32_t ins[] = {in};
    tm_op *op = tm_op_add(&m, OP_SOFTMAX, 1, ins, out);
    op->opt_type = U_SOFTMAX;
    fbt_f32(&op->opt, 0, 1.0f);
    m.n_inputs = 1;
    m.inputs[0] = in;
    m.n_outputs = 1;
    m.outputs[0] = out;
    tu_rng r;
    tu_rng_seed(&r, 77);
    int8_t x[ROWS * DEPTH], want[ROWS * DEPTH];
    for (int row = 0; row < ROWS; row++) {
        int spread = (int)tu_rng_range(&r, 1, 255);
        int base = (int)tu_rng_range(&r, -128, 127 - spread < -128 ? -128 : 127 - spread);
        rand_i8(&r, x + row * DEPTH, DEPTH, base, base + spread > 127 ? 127 : base + spread);
        double mx = -1e30, tot = 0, p[DEPTH];
        for (int c = 0; c < DEPTH; c++)
            mx = fmax(mx, deq(x[row * DEPTH + c], qi));
        for (int c = 0; c < DEPTH; c++)
            tot += (p[c] = exp(deq(x[row * DEPTH + c], qi) - mx));
        for (int c = 0; c < DEPTH; c++)
            want[row * DEPTH + c] = quant(p[c] / tot, qs, -128, 127);
    }
    /* int8 softmax always runs on the C kernel: both backends agree. */
    run_s8(&m, x, sizeof x, want, ROWS * DEPTH, 1, 0, "softmax int8 200 rows");
    tm_free(&m);
}

/* An operator whose output nobody reads (found by the fuzzer: XNNPACK gave
 * the unread value no memory and asserted at setup). The model output is
 * the input itself, and a second operator's result. */
static void test_dead_outputs(void **state)
{
    (void)state;
    tm_model m;
    tm_init(&m);
    const int32_t d[] = {1, 4, 4, 2}, df[] = {3, 1, 1, 2}, dout[] = {1, 4, 4, 3};
    int in = tm_tensor_add(&m, "in", T_F32, d, 4, 0, 0);
    int f = tm_tensor_add(&m, "filter", T_F32, df, 4, 0, 0);
    int dead = tm_tensor_add(&m, "dead", T_F32, dout, 4, 0, 0);
    int sum = tm_tensor_add(&m, "sum", T_F32, d, 4, 0, 0);
    const float fv[6] = {1, 2, 3, 4, 5, 6};
    tm_set_data(&m, f, fv, sizeof fv);
    const int32_t ci[] = {in, f}, ai[] = {in, in};
    tm_op *op = tm_op_add(&m, OP_CONV, 2, ci, dead);
    op->opt_type = U_CONV;
    fbt_i32(&op->opt, 1, 1);
    fbt_i32(&op->opt, 2, 1);
    op = tm_op_add(&m, OP_ADD, 2, ai, sum);
    op->opt_type = U_ADD;
    m.n_inputs = 1;
    m.inputs[0] = in;
    m.n_outputs = 2;
    m.outputs[0] = in;
    m.outputs[1] = sum;
    for (int b = 0; b < 2; b++) {
        ai_model *model = tm_load(&m, (ai_backend)b, KASSA_OK, NULL);
        float x[32];
        for (int i = 0; i < 32; i++)
            x[i] = (float)i - 10.0f;
        memcpy(ai_model_input(model, 0), x, sizeof x);
        invoke(model);
        assert_memory_equal(ai_model_output(model, 0), x, sizeof x);
        const float *y = ai_model_output(model, 1);
        for (int i = 0; i < 32; i++)
            assert_float_equal(y[i], 2 * x[i], 0.0f);
        ai_model_free(model);
    }
    tm_free(&m);
}

/* Requantization scales outside what XNNPACK takes (its Debian build
 * asserts on a conv/FC scale below 2^-32: found by the fuzzer) keep the
 * operator on its C kernel, which follows TFLite. */
static void test_extreme_scales_stay_in_c(void **state)
{
    (void)state;
    tm_model m;
    fc_model(&m);
    m.t[3].scale[0] = 1e12f; /* 0.5 x 0.25 / 1e12: below 2^-32 */
    for (int b = 0; b < 2; b++) {
        ai_model *model = tm_load(&m, (ai_backend)b, KASSA_OK, NULL);
        assert_int_equal(ai_model_xnn_op_count(model), 0);
        const int8_t x[4] = {127, -128, 5, 99}, want[3] = {3, 3, 3};
        memcpy(ai_model_input(model, 0), x, 4);
        invoke(model);
        assert_memory_equal(ai_model_output(model, 0), want, 3);
        ai_model_free(model);
    }
    tm_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fc_model_loads),
        cmocka_unit_test(test_opcode_fields),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_unused_quantization_tolerated),
        cmocka_unit_test(test_graph_errors),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_dead_outputs),
        cmocka_unit_test(test_extreme_scales_stay_in_c),
        cmocka_unit_test(test_truncated_and_corrupted),
        cmocka_unit_test(test_conv_kernels),
        cmocka_unit_test(test_fc_kernels),
        cmocka_unit_test(test_binary_kernels),
        cmocka_unit_test(test_chain_kernels),
        cmocka_unit_test(test_softmax_int8_exactness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
