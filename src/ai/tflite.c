/*
 * The .tflite flatbuffer reader (see tflite.h).
 *
 * Flatbuffer layout, as far as this reader needs it (all little-endian):
 * - the file starts with a u32 offset to the root table, then the 4-byte
 *   file identifier "TFL3";
 * - a table starts with an i32 back-offset to its vtable; the vtable holds
 *   u16 vtable size, u16 table size, then one u16 offset per field id (0 or
 *   past the end of the vtable: field absent, default applies);
 * - a reference field (table, vector, string) is a u32 offset from the
 *   field's own position; a vector is a u32 element count then elements; a
 *   vector of tables holds u32 offsets, each relative to its own slot;
 * - a union is two fields: a u8 type (id n) and the table reference (n+1).
 * Every read goes through fb_* helpers that check the position against the
 * file size first.
 */
#include "ai/tflite.h"

#include <stdlib.h>
#include <string.h>

/* ---- bounds-checked flatbuffer access ---- */

typedef struct fb {
    const uint8_t *p;
    size_t n;
} fb;

typedef struct fb_table {
    size_t pos;      /* start of the table */
    size_t vt;       /* start of its vtable */
    uint16_t vt_len; /* vtable bytes */
    uint16_t len;    /* table bytes */
} fb_table;

typedef struct fb_vec {
    size_t pos; /* first element */
    uint32_t len;
} fb_vec;

static bool fb_has(const fb *b, size_t pos, size_t len)
{
    return pos <= b->n && len <= b->n - pos;
}

static uint16_t fb_rd16(const fb *b, size_t pos)
{
    return (uint16_t)(b->p[pos] | (b->p[pos + 1] << 8));
}

static uint32_t fb_rd32(const fb *b, size_t pos)
{
    return (uint32_t)b->p[pos] | ((uint32_t)b->p[pos + 1] << 8) | ((uint32_t)b->p[pos + 2] << 16) |
           ((uint32_t)b->p[pos + 3] << 24);
}

static uint64_t fb_rd64(const fb *b, size_t pos)
{
    return (uint64_t)fb_rd32(b, pos) | ((uint64_t)fb_rd32(b, pos + 4) << 32);
}

/* Follows the u32 offset stored at pos. */
static bool fb_deref(const fb *b, size_t pos, size_t *target)
{
    if (!fb_has(b, pos, 4))
        return false;
    uint32_t off = fb_rd32(b, pos);
    if (off == 0 || off > b->n - pos)
        return false;
    *target = pos + off;
    return *target < b->n;
}

static bool fb_table_at(const fb *b, size_t pos, fb_table *t)
{
    if (!fb_has(b, pos, 4))
        return false;
    int32_t back = (int32_t)fb_rd32(b, pos);
    int64_t vt = (int64_t)pos - (int64_t)back;
    if (vt < 0 || !fb_has(b, (size_t)vt, 4))
        return false;
    t->pos = pos;
    t->vt = (size_t)vt;
    t->vt_len = fb_rd16(b, t->vt);
    t->len = fb_rd16(b, t->vt + 2);
    if (t->vt_len < 4 || (t->vt_len & 1) || !fb_has(b, t->vt, t->vt_len))
        return false;
    return t->len >= 4 && fb_has(b, pos, t->len);
}

/* Position of field id holding `size` bytes inline: 1 present, 0 absent,
 * -1 when its offset points outside the table. */
static int fb_field(const fb *b, const fb_table *t, unsigned id, size_t size, size_t *pos)
{
    size_t slot = 4 + 2 * (size_t)id;
    if (slot + 2 > t->vt_len)
        return 0;
    uint16_t off = fb_rd16(b, t->vt + slot);
    if (off == 0)
        return 0;
    if (off < 4 || (size_t)off + size > t->len)
        return -1;
    *pos = t->pos + off;
    return 1;
}

/* Scalar fields: the little-endian value of a size-byte field into *raw;
 * false only for a malformed field; *raw is left alone (the default) when
 * the field is absent. */
static bool fb_get_raw(const fb *b, const fb_table *t, unsigned id, size_t size, uint64_t *raw)
{
    size_t pos;
    int r = fb_field(b, t, id, size, &pos);
    if (r > 0) {
        uint64_t v = 0;
        for (size_t i = 0; i < size; i++)
            v |= (uint64_t)b->p[pos + i] << (8 * i);
        *raw = v;
    }
    return r >= 0;
}

static bool fb_get_u8(const fb *b, const fb_table *t, unsigned id, uint8_t *v)
{
    uint64_t raw = *v;
    bool ok = fb_get_raw(b, t, id, 1, &raw);
    *v = (uint8_t)raw;
    return ok;
}

static bool fb_get_u32(const fb *b, const fb_table *t, unsigned id, uint32_t *v)
{
    uint64_t raw = *v;
    bool ok = fb_get_raw(b, t, id, 4, &raw);
    *v = (uint32_t)raw;
    return ok;
}

static bool fb_get_i32(const fb *b, const fb_table *t, unsigned id, int32_t *v)
{
    uint32_t u = (uint32_t)*v;
    bool ok = fb_get_u32(b, t, id, &u);
    *v = (int32_t)u;
    return ok;
}

static bool fb_get_u64(const fb *b, const fb_table *t, unsigned id, uint64_t *v)
{
    return fb_get_raw(b, t, id, 8, v);
}

static bool fb_get_f32(const fb *b, const fb_table *t, unsigned id, float *v)
{
    uint32_t bits;
    memcpy(&bits, v, sizeof bits);
    bool ok = fb_get_u32(b, t, id, &bits);
    memcpy(v, &bits, sizeof *v);
    return ok;
}

/* A referenced table: 1 present, 0 absent, -1 malformed. */
static int fb_get_table(const fb *b, const fb_table *t, unsigned id, fb_table *out)
{
    size_t pos, target;
    int r = fb_field(b, t, id, 4, &pos);
    if (r <= 0)
        return r;
    if (!fb_deref(b, pos, &target) || !fb_table_at(b, target, out))
        return -1;
    return 1;
}

/* A vector of elem_size-byte elements: 1 present, 0 absent (len 0),
 * -1 malformed or longer than max_len. */
static int fb_get_vec(const fb *b, const fb_table *t, unsigned id, size_t elem_size,
                      uint32_t max_len, fb_vec *v)
{
    size_t pos, target;
    v->pos = 0;
    v->len = 0;
    int r = fb_field(b, t, id, 4, &pos);
    if (r <= 0)
        return r;
    if (!fb_deref(b, pos, &target) || !fb_has(b, target, 4))
        return -1;
    uint32_t len = fb_rd32(b, target);
    if (len > max_len || !fb_has(b, target + 4, (size_t)len * elem_size))
        return -1;
    v->pos = target + 4;
    v->len = len;
    return 1;
}

/* Element i of a vector of tables. */
static bool fb_vec_table(const fb *b, const fb_vec *v, uint32_t i, fb_table *out)
{
    size_t target;
    return i < v->len && fb_deref(b, v->pos + 4 * (size_t)i, &target) &&
           fb_table_at(b, target, out);
}

/* A string copied into out (size >= 1), truncated, anything outside
 * printable ASCII replaced by '?', so names are safe in messages. */
static int fb_get_str(const fb *b, const fb_table *t, unsigned id, char *out, size_t size)
{
    fb_vec v;
    out[0] = '\0';
    int r = fb_get_vec(b, t, id, 1, UINT32_MAX, &v);
    if (r <= 0)
        return r;
    size_t n = v.len < size - 1 ? v.len : size - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = b->p[v.pos + i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[n] = '\0';
    return 1;
}

/* ---- names ---- */

static const char *const tfl_op_names[] = {
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE",
    "DEQUANTIZE",
    "EMBEDDING_LOOKUP",
    "FLOOR",
    "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION",
    "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC",
    "LSH_PROJECTION",
    "LSTM",
    "MAX_POOL_2D",
    "MUL",
    "RELU",
    "RELU_N1_TO_1",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RNN",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SVDF",
    "TANH",
    "CONCAT_EMBEDDINGS",
    "SKIP_GRAM",
    "CALL",
    "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE",
    "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GATHER",
    "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND",
    "TRANSPOSE",
    "MEAN",
    "SUB",
    "DIV",
    "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP",
    "TOPK_V2",
    "SPLIT",
    "LOG_SOFTMAX",
    "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM",
    "CAST",
    "PRELU",
    "MAXIMUM",
    "ARG_MAX",
    "MINIMUM",
    "LESS",
    "NEG",
    "PADV2",
    "GREATER",
    "GREATER_EQUAL",
    "LESS_EQUAL",
    "SELECT",
    "SLICE",
    "SIN",
    "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE",
    "TILE",
    "EXPAND_DIMS",
    "EQUAL",
    "NOT_EQUAL",
    "LOG",
    "SUM",
    "SQRT",
    "RSQRT",
    "SHAPE",
    "POW",
    "ARG_MIN",
    "FAKE_QUANT",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "PACK",
    "LOGICAL_OR",
    "ONE_HOT",
    "LOGICAL_AND",
    "LOGICAL_NOT",
    "UNPACK",
    "REDUCE_MIN",
    "FLOOR_DIV",
    "REDUCE_ANY",
    "SQUARE",
    "ZEROS_LIKE",
    "FILL",
    "FLOOR_MOD",
    "RANGE",
    "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU",
    "SQUARED_DIFFERENCE",
    "MIRROR_PAD",
    "ABS",
    "SPLIT_V",
    "UNIQUE",
    "CEIL",
    "REVERSE_V2",
    "ADD_N",
    "GATHER_ND",
    "COS",
    "WHERE",
    "RANK",
    "ELU",
    "REVERSE_SEQUENCE",
    "MATRIX_DIAG",
    "QUANTIZE",
    "MATRIX_SET_DIAG",
    "ROUND",
    "HARD_SWISH",
    "IF",
    "WHILE",
    "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND",
    "SELECT_V2",
    "DENSIFY",
    "SEGMENT_SUM",
    "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES",
    "CUMSUM",
    "CALL_ONCE",
    "BROADCAST_TO",
    "RFFT2D",
    "CONV_3D",
    "IMAG",
    "REAL",
    "COMPLEX_ABS",
    "HASHTABLE",
    "HASHTABLE_FIND",
    "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE",
    "REDUCE_ALL",
    "CONV_3D_TRANSPOSE",
    "VAR_HANDLE",
    "READ_VARIABLE",
    "ASSIGN_VARIABLE",
    "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE",
    "RANDOM_UNIFORM",
    "MULTINOMIAL",
    "GELU",
    "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM",
    "ATAN2",
    "UNSORTED_SEGMENT_MIN",
    "SIGN",
    "BITCAST",
    "BITWISE_XOR",
    "RIGHT_SHIFT",
};

const char *tfl_op_name(int32_t code)
{
    if (code < 0 || (size_t)code >= KASSA_ARRAY_LEN(tfl_op_names))
        return NULL;
    return tfl_op_names[code];
}

static const char *const tfl_type_names[TFL_TYPE_COUNT] = {
    "FLOAT32", "FLOAT16",  "INT32",     "UINT8",  "INT64",   "STRING",
    "BOOL",    "INT16",    "COMPLEX64", "INT8",   "FLOAT64", "COMPLEX128",
    "UINT64",  "RESOURCE", "VARIANT",   "UINT32", "UINT16",  "INT4",
};

const char *tfl_type_name(int type)
{
    if (type < 0 || type >= TFL_TYPE_COUNT)
        return NULL;
    return tfl_type_names[type];
}

size_t tfl_type_size(int type)
{
    static const uint8_t sizes[TFL_TYPE_COUNT] = {4, 2, 4,  1, 8, 0, 1, 2, 8,
                                                  1, 8, 16, 8, 0, 0, 4, 2, 0};
    if (type < 0 || type >= TFL_TYPE_COUNT)
        return 0;
    return sizes[type];
}

/* ---- decoding ---- */

#define TFL_CORRUPT(...) kassa_fail(err, KASSA_ECORRUPT, "tflite: " __VA_ARGS__)

/* Field ids of schema.fbs. */
enum { MODEL_VERSION = 0, MODEL_OPCODES = 1, MODEL_SUBGRAPHS = 2, MODEL_BUFFERS = 4 };
enum { SG_TENSORS = 0, SG_INPUTS = 1, SG_OUTPUTS = 2, SG_OPERATORS = 3 };
enum {
    TENSOR_SHAPE = 0,
    TENSOR_TYPE = 1,
    TENSOR_BUFFER = 2,
    TENSOR_NAME = 3,
    TENSOR_QUANT = 4,
    TENSOR_IS_VARIABLE = 5,
    TENSOR_SPARSITY = 6,
};
enum { QUANT_SCALE = 2, QUANT_ZERO_POINT = 3, QUANT_DETAILS_TYPE = 4, QUANT_DIM = 6 };
enum { OPCODE_DEPRECATED = 0, OPCODE_CUSTOM = 1, OPCODE_VERSION = 2, OPCODE_BUILTIN = 3 };
enum { OP_OPCODE_INDEX = 0, OP_INPUTS = 1, OP_OUTPUTS = 2, OP_OPTIONS_TYPE = 3, OP_OPTIONS = 4 };
enum { BUFFER_DATA = 0, BUFFER_OFFSET = 1, BUFFER_SIZE = 2 };

/* BuiltinOptions union members the runtime reads. */
enum {
    OPTS_CONV2D = 1,
    OPTS_DEPTHWISE = 2,
    OPTS_POOL2D = 5,
    OPTS_FULLY_CONNECTED = 8,
    OPTS_SOFTMAX = 9,
    OPTS_ADD = 11,
    OPTS_RESHAPE = 17,
    OPTS_MUL = 21,
    OPTS_PAD = 22,
};

typedef struct tfl_opcode {
    int32_t code;
    int32_t version;
    char custom_name[TFL_NAME_SIZE];
} tfl_opcode;

static int parse_opcodes(const fb *b, const fb_table *root, tfl_opcode **out, uint32_t *n_out,
                         kassa_err *err)
{
    fb_vec v;
    if (fb_get_vec(b, root, MODEL_OPCODES, 4, TFL_MAX_OPCODES, &v) < 0)
        return TFL_CORRUPT("operator_codes vector out of bounds or longer than %d",
                           TFL_MAX_OPCODES);
    *n_out = v.len;
    if (v.len == 0)
        return KASSA_OK;
    tfl_opcode *codes = calloc(v.len, sizeof *codes);
    if (!codes)
        return kassa_fail(err, KASSA_ENOMEM, "tflite: out of memory for operator codes");
    *out = codes;
    for (uint32_t i = 0; i < v.len; i++) {
        fb_table t;
        if (!fb_vec_table(b, &v, i, &t))
            return TFL_CORRUPT("operator code %u: bad table offset", (unsigned)i);
        uint8_t deprecated = 0;
        int32_t builtin = 0;
        codes[i].version = 1;
        if (!fb_get_u8(b, &t, OPCODE_DEPRECATED, &deprecated) ||
            !fb_get_i32(b, &t, OPCODE_BUILTIN, &builtin) ||
            !fb_get_i32(b, &t, OPCODE_VERSION, &codes[i].version) ||
            fb_get_str(b, &t, OPCODE_CUSTOM, codes[i].custom_name, sizeof codes[i].custom_name) < 0)
            return TFL_CORRUPT("operator code %u: field out of bounds", (unsigned)i);
        /* deprecated_builtin_code is a signed byte in the schema. */
        int32_t old = (int8_t)deprecated;
        codes[i].code = builtin > old ? builtin : old;
        if (codes[i].code < 0)
            return TFL_CORRUPT("operator code %u: negative builtin code %d", (unsigned)i,
                               (int)codes[i].code);
    }
    return KASSA_OK;
}

/* Quantization parameters into t (allocated arrays). */
static int parse_quant(const fb *b, const fb_table *q, tfl_tensor *t, uint32_t idx, kassa_err *err)
{
    fb_vec sv, zv;
    uint8_t details = 0;
    if (fb_get_vec(b, q, QUANT_SCALE, 4, TFL_MAX_QUANT_PARAMS, &sv) < 0 ||
        fb_get_vec(b, q, QUANT_ZERO_POINT, 8, TFL_MAX_QUANT_PARAMS, &zv) < 0 ||
        !fb_get_u8(b, q, QUANT_DETAILS_TYPE, &details) ||
        !fb_get_i32(b, q, QUANT_DIM, &t->quantized_dimension))
        return TFL_CORRUPT("tensor %u: quantization parameters out of bounds", (unsigned)idx);
    (void)details; /* custom quantization: the planner refuses what it cannot run */
    if (sv.len > 0) {
        t->scale = malloc(sv.len * sizeof *t->scale);
        if (!t->scale)
            return kassa_fail(err, KASSA_ENOMEM, "tflite: out of memory for scales");
        for (uint32_t i = 0; i < sv.len; i++) {
            uint32_t bits = fb_rd32(b, sv.pos + 4 * (size_t)i);
            memcpy(&t->scale[i], &bits, sizeof bits);
        }
        t->n_scale = sv.len;
    }
    if (zv.len > 0) {
        t->zero_point = malloc(zv.len * sizeof *t->zero_point);
        if (!t->zero_point)
            return kassa_fail(err, KASSA_ENOMEM, "tflite: out of memory for zero points");
        for (uint32_t i = 0; i < zv.len; i++)
            t->zero_point[i] = (int64_t)fb_rd64(b, zv.pos + 8 * (size_t)i);
        t->n_zero_point = zv.len;
    }
    return KASSA_OK;
}

/* Buffer i's data (NULL when it has none). Buffers outside the
 * flatbuffer (offset/size, models over 2 GB) are accepted when they lie
 * inside the file. */
static int buffer_at(const fb *b, const fb_vec *buffers, uint32_t i, const uint8_t **data,
                     size_t *len, kassa_err *err)
{
    *data = NULL;
    *len = 0;
    fb_table t;
    if (!fb_vec_table(b, buffers, i, &t))
        return TFL_CORRUPT("buffer %u: bad table offset", (unsigned)i);
    fb_vec dv;
    uint64_t off = 0, size = 0;
    if (fb_get_vec(b, &t, BUFFER_DATA, 1, UINT32_MAX, &dv) < 0 ||
        !fb_get_u64(b, &t, BUFFER_OFFSET, &off) || !fb_get_u64(b, &t, BUFFER_SIZE, &size))
        return TFL_CORRUPT("buffer %u: data out of bounds", (unsigned)i);
    if (dv.len > 0) {
        *data = b->p + dv.pos;
        *len = dv.len;
    } else if (off > 1) {
        if (off > b->n || size > b->n - off)
            return TFL_CORRUPT("buffer %u: external data [%llu, +%llu) outside the file",
                               (unsigned)i, (unsigned long long)off, (unsigned long long)size);
        *data = b->p + off;
        *len = (size_t)size;
    }
    return KASSA_OK;
}

/* Constant data of a tensor's buffer index (buffer 0 is the empty
 * sentinel: no data). */
static int buffer_data(const fb *b, const fb_vec *buffers, uint32_t buf, uint32_t tensor_idx,
                       const uint8_t **data, size_t *len, kassa_err *err)
{
    *data = NULL;
    *len = 0;
    if (buf == 0)
        return KASSA_OK;
    if (buf >= buffers->len)
        return TFL_CORRUPT("tensor %u: buffer index %u out of range (%u buffers)",
                           (unsigned)tensor_idx, (unsigned)buf, (unsigned)buffers->len);
    return buffer_at(b, buffers, buf, data, len, err);
}

static int parse_tensor(const fb *b, const fb_table *t, const fb_vec *buffers, uint32_t idx,
                        tfl_tensor *out, kassa_err *err)
{
    fb_vec shape;
    uint8_t type = 0, is_var = 0;
    uint32_t buf = 0;
    if (fb_get_vec(b, t, TENSOR_SHAPE, 4, UINT32_MAX, &shape) < 0 ||
        !fb_get_u8(b, t, TENSOR_TYPE, &type) || !fb_get_u32(b, t, TENSOR_BUFFER, &buf) ||
        !fb_get_u8(b, t, TENSOR_IS_VARIABLE, &is_var) ||
        fb_get_str(b, t, TENSOR_NAME, out->name, sizeof out->name) < 0)
        return TFL_CORRUPT("tensor %u: field out of bounds", (unsigned)idx);
    /* The type byte is signed in the schema; an unknown value is named by
     * the planner ("type 200"), not rejected as corrupt. */
    out->type = (int8_t)type;
    out->is_variable = is_var != 0;
    if (shape.len > AI_MAX_RANK)
        return kassa_fail(err, KASSA_ECORRUPT, "tflite: tensor %u '%s': rank %u above %d",
                          (unsigned)idx, out->name, (unsigned)shape.len, AI_MAX_RANK);
    out->rank = (int)shape.len;
    for (uint32_t i = 0; i < shape.len; i++) {
        int32_t d = (int32_t)fb_rd32(b, shape.pos + 4 * (size_t)i);
        if (d < 0)
            return kassa_fail(err, KASSA_ECORRUPT,
                              "tflite: tensor %u '%s': dimension %u is %d (dynamic shapes are "
                              "not supported)",
                              (unsigned)idx, out->name, (unsigned)i, (int)d);
        out->dims[i] = d;
    }
    int rc = buffer_data(b, buffers, buf, idx, &out->data, &out->data_bytes, err);
    if (rc < 0)
        return rc;
    fb_table q;
    int qr = fb_get_table(b, t, TENSOR_QUANT, &q);
    if (qr < 0)
        return TFL_CORRUPT("tensor %u: quantization table out of bounds", (unsigned)idx);
    if (qr > 0 && (rc = parse_quant(b, &q, out, idx, err)) < 0)
        return rc;
    fb_table sp;
    int sr = fb_get_table(b, t, TENSOR_SPARSITY, &sp);
    if (sr < 0)
        return TFL_CORRUPT("tensor %u: sparsity table out of bounds", (unsigned)idx);
    out->sparse = sr > 0;
    return KASSA_OK;
}

static int parse_index_list(const fb *b, const fb_table *t, unsigned id, uint32_t max, int32_t *out,
                            int *n_out, bool allow_optional, uint32_t n_tensors, const char *what,
                            uint32_t owner, kassa_err *err)
{
    fb_vec v;
    if (fb_get_vec(b, t, id, 4, UINT32_MAX, &v) < 0)
        return TFL_CORRUPT("%s %u: index vector out of bounds", what, (unsigned)owner);
    if (v.len > max)
        return TFL_CORRUPT("%s %u: %u tensor indices, at most %u", what, (unsigned)owner,
                           (unsigned)v.len, (unsigned)max);
    for (uint32_t i = 0; i < v.len; i++) {
        int32_t x = (int32_t)fb_rd32(b, v.pos + 4 * (size_t)i);
        if (x == -1 && allow_optional) {
            out[i] = -1;
            continue;
        }
        if (x < 0 || (uint32_t)x >= n_tensors)
            return TFL_CORRUPT("%s %u: tensor index %d out of range (%u tensors)", what,
                               (unsigned)owner, (int)x, (unsigned)n_tensors);
        out[i] = x;
    }
    *n_out = (int)v.len;
    return KASSA_OK;
}

/* Options of the operators the runtime knows; others keep the defaults. */
static int parse_options(const fb *b, const fb_table *opt_t, uint8_t opt_type, uint32_t idx,
                         tfl_op *op, kassa_err *err)
{
    tfl_options *o = &op->opt;
    memset(o, 0, sizeof *o);
    o->dilation_w = o->dilation_h = 1;
    o->n_new_shape = -1;
    uint8_t expected = 0;
    switch (op->code) {
    case TFL_OP_CONV_2D:
        expected = OPTS_CONV2D;
        break;
    case TFL_OP_DEPTHWISE_CONV_2D:
        expected = OPTS_DEPTHWISE;
        break;
    case TFL_OP_AVERAGE_POOL_2D:
    case TFL_OP_MAX_POOL_2D:
        expected = OPTS_POOL2D;
        break;
    case TFL_OP_FULLY_CONNECTED:
        expected = OPTS_FULLY_CONNECTED;
        break;
    case TFL_OP_SOFTMAX:
        expected = OPTS_SOFTMAX;
        break;
    case TFL_OP_ADD:
        expected = OPTS_ADD;
        break;
    case TFL_OP_MUL:
        expected = OPTS_MUL;
        break;
    case TFL_OP_RESHAPE:
        expected = OPTS_RESHAPE;
        break;
    case TFL_OP_PAD:
        expected = OPTS_PAD;
        break;
    default:
        return KASSA_OK;
    }
    if (!opt_t)
        return KASSA_OK;
    const char *name = tfl_op_name(op->code);
    if (opt_type != expected)
        return TFL_CORRUPT("operator %u (%s): options of union type %u, expected %u", (unsigned)idx,
                           name, (unsigned)opt_type, (unsigned)expected);
    uint8_t u8a = 0, u8b = 0, u8c = 0;
    bool ok = true;
    switch (expected) {
    case OPTS_CONV2D:
        ok = fb_get_u8(b, opt_t, 0, &u8a) && fb_get_i32(b, opt_t, 1, &o->stride_w) &&
             fb_get_i32(b, opt_t, 2, &o->stride_h) && fb_get_u8(b, opt_t, 3, &u8b) &&
             fb_get_i32(b, opt_t, 4, &o->dilation_w) && fb_get_i32(b, opt_t, 5, &o->dilation_h);
        o->padding = (int8_t)u8a;
        o->activation = (int8_t)u8b;
        break;
    case OPTS_DEPTHWISE:
        ok = fb_get_u8(b, opt_t, 0, &u8a) && fb_get_i32(b, opt_t, 1, &o->stride_w) &&
             fb_get_i32(b, opt_t, 2, &o->stride_h) &&
             fb_get_i32(b, opt_t, 3, &o->depth_multiplier) && fb_get_u8(b, opt_t, 4, &u8b) &&
             fb_get_i32(b, opt_t, 5, &o->dilation_w) && fb_get_i32(b, opt_t, 6, &o->dilation_h);
        o->padding = (int8_t)u8a;
        o->activation = (int8_t)u8b;
        break;
    case OPTS_POOL2D:
        ok = fb_get_u8(b, opt_t, 0, &u8a) && fb_get_i32(b, opt_t, 1, &o->stride_w) &&
             fb_get_i32(b, opt_t, 2, &o->stride_h) && fb_get_i32(b, opt_t, 3, &o->filter_w) &&
             fb_get_i32(b, opt_t, 4, &o->filter_h) && fb_get_u8(b, opt_t, 5, &u8b);
        o->padding = (int8_t)u8a;
        o->activation = (int8_t)u8b;
        break;
    case OPTS_FULLY_CONNECTED:
        ok = fb_get_u8(b, opt_t, 0, &u8a) && fb_get_u8(b, opt_t, 1, &u8b) &&
             fb_get_u8(b, opt_t, 2, &u8c);
        o->activation = (int8_t)u8a;
        o->weights_format = (int8_t)u8b;
        o->keep_num_dims = u8c != 0;
        if (ok) {
            uint8_t asym = 0;
            ok = fb_get_u8(b, opt_t, 3, &asym);
            o->asymmetric_quantize_inputs = asym != 0;
        }
        break;
    case OPTS_SOFTMAX:
        ok = fb_get_f32(b, opt_t, 0, &o->beta);
        break;
    case OPTS_ADD:
    case OPTS_MUL:
        ok = fb_get_u8(b, opt_t, 0, &u8a);
        o->activation = (int8_t)u8a;
        break;
    case OPTS_RESHAPE: {
        fb_vec v;
        int r = fb_get_vec(b, opt_t, 0, 4, UINT32_MAX, &v);
        ok = r >= 0;
        if (ok && r > 0) {
            if (v.len > AI_MAX_RANK)
                return TFL_CORRUPT("operator %u (RESHAPE): new_shape of rank %u above %d",
                                   (unsigned)idx, (unsigned)v.len, AI_MAX_RANK);
            o->n_new_shape = (int)v.len;
            for (uint32_t i = 0; i < v.len; i++)
                o->new_shape[i] = (int32_t)fb_rd32(b, v.pos + 4 * (size_t)i);
        }
        break;
    }
    default: /* PadOptions has no fields */
        break;
    }
    if (!ok)
        return TFL_CORRUPT("operator %u (%s): option field out of bounds", (unsigned)idx, name);
    return KASSA_OK;
}

static int parse_operator(const fb *b, const fb_table *t, const tfl_opcode *codes, uint32_t n_codes,
                          uint32_t n_tensors, uint32_t idx, tfl_op *op, kassa_err *err)
{
    uint32_t code_idx = 0;
    uint8_t opt_type = 0;
    if (!fb_get_u32(b, t, OP_OPCODE_INDEX, &code_idx) ||
        !fb_get_u8(b, t, OP_OPTIONS_TYPE, &opt_type))
        return TFL_CORRUPT("operator %u: field out of bounds", (unsigned)idx);
    if (code_idx >= n_codes)
        return TFL_CORRUPT("operator %u: opcode index %u out of range (%u codes)", (unsigned)idx,
                           (unsigned)code_idx, (unsigned)n_codes);
    op->code = codes[code_idx].code;
    op->version = codes[code_idx].version;
    memcpy(op->custom_name, codes[code_idx].custom_name, sizeof op->custom_name);
    int rc = parse_index_list(b, t, OP_INPUTS, TFL_MAX_OP_INPUTS, op->in, &op->n_in, true,
                              n_tensors, "operator", idx, err);
    if (rc < 0)
        return rc;
    rc = parse_index_list(b, t, OP_OUTPUTS, TFL_MAX_OP_OUTPUTS, op->out, &op->n_out, false,
                          n_tensors, "operator", idx, err);
    if (rc < 0)
        return rc;
    fb_table opt_t;
    int r = fb_get_table(b, t, OP_OPTIONS, &opt_t);
    if (r < 0)
        return TFL_CORRUPT("operator %u: options table out of bounds", (unsigned)idx);
    return parse_options(b, r > 0 ? &opt_t : NULL, opt_type, idx, op, err);
}

static int parse_subgraph(const fb *b, const fb_table *sg, const fb_vec *buffers,
                          const tfl_opcode *codes, uint32_t n_codes, tfl_model *m, kassa_err *err)
{
    fb_vec tv, ov;
    if (fb_get_vec(b, sg, SG_TENSORS, 4, TFL_MAX_TENSORS, &tv) < 0)
        return TFL_CORRUPT("subgraph 0: tensors vector out of bounds or above %d", TFL_MAX_TENSORS);
    if (fb_get_vec(b, sg, SG_OPERATORS, 4, TFL_MAX_OPS, &ov) < 0)
        return TFL_CORRUPT("subgraph 0: operators vector out of bounds or above %d", TFL_MAX_OPS);
    if (tv.len > 0) {
        m->tensors = calloc(tv.len, sizeof *m->tensors);
        if (!m->tensors)
            return kassa_fail(err, KASSA_ENOMEM, "tflite: out of memory for %u tensors",
                              (unsigned)tv.len);
    }
    m->n_tensors = tv.len;
    for (uint32_t i = 0; i < tv.len; i++) {
        fb_table t;
        if (!fb_vec_table(b, &tv, i, &t))
            return TFL_CORRUPT("tensor %u: bad table offset", (unsigned)i);
        int rc = parse_tensor(b, &t, buffers, i, &m->tensors[i], err);
        if (rc < 0)
            return rc;
    }
    int rc = parse_index_list(b, sg, SG_INPUTS, TFL_MAX_GRAPH_IO, m->inputs, &m->n_inputs, false,
                              m->n_tensors, "subgraph", 0, err);
    if (rc < 0)
        return rc;
    rc = parse_index_list(b, sg, SG_OUTPUTS, TFL_MAX_GRAPH_IO, m->outputs, &m->n_outputs, false,
                          m->n_tensors, "subgraph", 0, err);
    if (rc < 0)
        return rc;
    if (ov.len > 0) {
        m->ops = calloc(ov.len, sizeof *m->ops);
        if (!m->ops)
            return kassa_fail(err, KASSA_ENOMEM, "tflite: out of memory for %u operators",
                              (unsigned)ov.len);
    }
    m->n_ops = ov.len;
    for (uint32_t i = 0; i < ov.len; i++) {
        fb_table t;
        if (!fb_vec_table(b, &ov, i, &t))
            return TFL_CORRUPT("operator %u: bad table offset", (unsigned)i);
        rc = parse_operator(b, &t, codes, n_codes, m->n_tensors, i, &m->ops[i], err);
        if (rc < 0)
            return rc;
    }
    return KASSA_OK;
}

int tfl_parse(const uint8_t *bytes, size_t size_bytes, tfl_model *m, kassa_err *err)
{
    memset(m, 0, sizeof *m);
    if (!bytes || size_bytes < 8)
        return TFL_CORRUPT("%zu bytes is too short for a model", size_bytes);
    if (size_bytes > TFL_MAX_MODEL_BYTES)
        return kassa_fail(err, KASSA_EINVAL, "tflite: %zu bytes is above the %zu-byte limit",
                          size_bytes, TFL_MAX_MODEL_BYTES);
    if (memcmp(bytes + 4, "TFL3", 4) != 0)
        return TFL_CORRUPT("not a TFLite model (no TFL3 file identifier)");
    fb b = {bytes, size_bytes};
    size_t root_pos;
    fb_table root;
    if (!fb_deref(&b, 0, &root_pos) || !fb_table_at(&b, root_pos, &root))
        return TFL_CORRUPT("root table out of bounds");
    if (!fb_get_u32(&b, &root, MODEL_VERSION, &m->version))
        return TFL_CORRUPT("version field out of bounds");
    if (m->version != TFL_SCHEMA_VERSION)
        return kassa_fail(err, KASSA_EVERSION, "tflite: schema version %u, expected %d",
                          (unsigned)m->version, TFL_SCHEMA_VERSION);
    fb_vec subgraphs, buffers;
    if (fb_get_vec(&b, &root, MODEL_SUBGRAPHS, 4, UINT32_MAX, &subgraphs) < 0)
        return TFL_CORRUPT("subgraphs vector out of bounds");
    if (subgraphs.len == 0)
        return TFL_CORRUPT("the model has no subgraph");
    m->n_subgraphs = subgraphs.len;
    if (fb_get_vec(&b, &root, MODEL_BUFFERS, 4, TFL_MAX_BUFFERS, &buffers) < 0)
        return TFL_CORRUPT("buffers vector out of bounds or above %d", TFL_MAX_BUFFERS);
    /* Every buffer is checked, used or not, as a flatbuffer verifier would. */
    for (uint32_t i = 0; i < buffers.len; i++) {
        const uint8_t *data;
        size_t len;
        int rc = buffer_at(&b, &buffers, i, &data, &len, err);
        if (rc < 0)
            return rc;
    }
    tfl_opcode *codes = NULL;
    uint32_t n_codes = 0;
    int rc = parse_opcodes(&b, &root, &codes, &n_codes, err);
    if (rc == KASSA_OK) {
        fb_table sg;
        if (!fb_vec_table(&b, &subgraphs, 0, &sg))
            rc = TFL_CORRUPT("subgraph 0: bad table offset");
        else
            rc = parse_subgraph(&b, &sg, &buffers, codes, n_codes, m, err);
    }
    free(codes);
    return rc;
}

void tfl_model_free(tfl_model *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        free(m->tensors[i].scale);
        free(m->tensors[i].zero_point);
    }
    free(m->tensors);
    free(m->ops);
    memset(m, 0, sizeof *m);
}
