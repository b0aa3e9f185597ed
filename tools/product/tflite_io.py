"""Writes and reads the subset of TensorFlow Lite flatbuffers the product
model uses, with python3-flatbuffers' Builder/Table and the field slots of
TFLite's schema.fbs (schema version 3, file identifier "TFL3").

The in-memory form is a small graph (`Graph`): tensors (shape, type, name,
constant data, per-tensor or per-axis quantization) and operators (builtin
code, input/output tensor indices, options as a dict). write() turns it into
bytes; read() parses bytes back into the same form, so the numpy reference
(tflite_ref.py) runs exactly what was written.

Slots used (schema.fbs, field order = slot number):
  Model:        0 version:uint, 1 operator_codes, 2 subgraphs, 3 description, 4 buffers
  OperatorCode: 0 deprecated_builtin_code:byte, 1 custom_code, 2 version:int,
                3 builtin_code:int
  SubGraph:     0 tensors, 1 inputs, 2 outputs, 3 operators, 4 name
  Buffer:       0 data:[ubyte] (force_align 16)
  Tensor:       0 shape, 1 type:byte, 2 buffer:uint, 3 name, 4 quantization
  QuantizationParameters: 0 min, 1 max, 2 scale:[float], 3 zero_point:[long],
                4/5 details (union), 6 quantized_dimension:int
  Operator:     0 opcode_index:uint, 1 inputs, 2 outputs,
                3 builtin_options_type:ubyte, 4 builtin_options
"""

import flatbuffers
import numpy as np
from flatbuffers import number_types as N
from flatbuffers.table import Table

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3

# TensorType
FLOAT32, INT32, INT8 = 0, 2, 9
DTYPES = {FLOAT32: np.float32, INT32: np.int32, INT8: np.int8}

# BuiltinOperator codes and their BuiltinOptions union member (0 = none).
OPS = {
    "ADD": (0, 11),
    "AVERAGE_POOL_2D": (1, 5),
    "CONV_2D": (3, 1),
    "DEPTHWISE_CONV_2D": (4, 2),
    "FULLY_CONNECTED": (9, 8),
    "MAX_POOL_2D": (17, 5),
    "MUL": (18, 21),
    "RESHAPE": (22, 17),
    "SOFTMAX": (25, 9),
    "PAD": (34, 22),
}
OP_NAMES = {code: name for name, (code, _) in OPS.items()}
# Operator versions the TFLite converter gives int8 (per-channel) kernels.
OP_VERSIONS = {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "SOFTMAX": 2,
               "MAX_POOL_2D": 2, "AVERAGE_POOL_2D": 2, "RESHAPE": 1, "ADD": 2, "MUL": 2,
               "PAD": 2}

PADDING = {"SAME": 0, "VALID": 1}
ACT = {"NONE": 0, "RELU": 1, "RELU6": 3}

# Option tables: (slot, name, kind, default) per builtin options table.
OPTION_FIELDS = {
    "CONV_2D": [(0, "padding", "b", 0), (1, "stride_w", "i", 0), (2, "stride_h", "i", 0),
                (3, "activation", "b", 0), (4, "dilation_w", "i", 1), (5, "dilation_h", "i", 1)],
    "DEPTHWISE_CONV_2D": [(0, "padding", "b", 0), (1, "stride_w", "i", 0), (2, "stride_h", "i", 0),
                          (3, "depth_multiplier", "i", 0), (4, "activation", "b", 0),
                          (5, "dilation_w", "i", 1), (6, "dilation_h", "i", 1)],
    "MAX_POOL_2D": [(0, "padding", "b", 0), (1, "stride_w", "i", 0), (2, "stride_h", "i", 0),
                    (3, "filter_w", "i", 0), (4, "filter_h", "i", 0), (5, "activation", "b", 0)],
    "FULLY_CONNECTED": [(0, "activation", "b", 0), (1, "weights_format", "b", 0),
                        (2, "keep_num_dims", "bool", 0)],
    "SOFTMAX": [(0, "beta", "f", 0.0)],
    "ADD": [(0, "activation", "b", 0)],
    "MUL": [(0, "activation", "b", 0)],
    "PAD": [],
    "RESHAPE": [(0, "new_shape", "ivec", None)],
}
OPTION_FIELDS["AVERAGE_POOL_2D"] = OPTION_FIELDS["MAX_POOL_2D"]


class Tensor:
    def __init__(self, name, shape, dtype, data=None, scale=None, zero_point=None, qdim=0):
        self.name = name
        self.shape = [int(d) for d in shape]
        self.dtype = dtype  # TensorType code
        self.data = None if data is None else np.ascontiguousarray(data, DTYPES[dtype]).reshape(self.shape)
        self.scale = None if scale is None else [float(np.float32(s)) for s in np.ravel(scale)]
        self.zero_point = None if zero_point is None else [int(z) for z in np.ravel(zero_point)]
        self.qdim = int(qdim)


class Op:
    def __init__(self, op, inputs, outputs, **options):
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.options = options


class Graph:
    def __init__(self, description=""):
        self.tensors = []
        self.ops = []
        self.inputs = []
        self.outputs = []
        self.description = description

    def add(self, tensor):
        self.tensors.append(tensor)
        return len(self.tensors) - 1


# ------------------------------------------------------------------ writer


def _ivec(b, values, elem="i32"):
    fmt = {"i32": (4, b.PrependInt32), "i64": (8, b.PrependInt64), "f32": (4, b.PrependFloat32)}
    size, put = fmt[elem]
    b.StartVector(size, len(values), size)
    for v in reversed(values):
        put(v)
    return b.EndVector()


def _bytes_vec(b, data, align=16):
    raw = bytes(data)
    b.StartVector(1, len(raw), align)
    b.head = b.head - len(raw)
    b.Bytes[b.head:b.head + len(raw)] = raw
    return b.EndVector()


def _offvec(b, offsets):
    b.StartVector(4, len(offsets), 4)
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _offsets_table(b, n_slots, offsets, scalars=None):
    """A table of n_slots whose slots {slot: offset} hold offsets; scalars()
    prepends any scalar slots."""
    b.StartObject(n_slots)
    if scalars:
        scalars()
    for slot, off in offsets.items():
        b.PrependUOffsetTRelativeSlot(slot, off, 0)
    return b.EndObject()


def _options(b, op):
    fields = OPTION_FIELDS[op.op]
    vec_offs = {}
    for slot, name, kind, _ in fields:
        if kind == "ivec" and op.options.get(name) is not None:
            vec_offs[name] = _ivec(b, op.options[name])
    b.StartObject(len(fields))
    for slot, name, kind, default in fields:
        v = op.options.get(name, default)
        if name == "padding" and isinstance(v, str):
            v = PADDING[v]
        if name == "activation" and isinstance(v, str):
            v = ACT[v]
        if kind == "b":
            b.PrependInt8Slot(slot, int(v), default)
        elif kind == "bool":
            b.PrependBoolSlot(slot, bool(v), bool(default))
        elif kind == "i":
            b.PrependInt32Slot(slot, int(v), default)
        elif kind == "f":
            b.PrependFloat32Slot(slot, float(v), default)
        elif kind == "ivec" and name in vec_offs:
            b.PrependUOffsetTRelativeSlot(slot, vec_offs[name], 0)
    return b.EndObject()


def write(g):
    """Graph -> .tflite bytes."""
    b = flatbuffers.Builder(1 << 16)
    # Buffers: 0 is the empty sentinel; each constant tensor gets its own.
    buffer_of = {}
    buffers = [None]
    for i, t in enumerate(g.tensors):
        if t.data is not None:
            buffer_of[i] = len(buffers)
            buffers.append(t.data.tobytes())
    buf_offs = []
    for data in buffers:
        d_off = _bytes_vec(b, data) if data is not None else None
        b.StartObject(3)
        if d_off is not None:
            b.PrependUOffsetTRelativeSlot(0, d_off, 0)
        buf_offs.append(b.EndObject())
    # Tensors.
    t_offs = []
    for i, t in enumerate(g.tensors):
        name = b.CreateString(t.name)
        shape = _ivec(b, t.shape)
        q_off = None
        if t.scale is not None:
            s_off = _ivec(b, t.scale, "f32")
            z_off = _ivec(b, t.zero_point, "i64")
            b.StartObject(7)
            b.PrependUOffsetTRelativeSlot(2, s_off, 0)
            b.PrependUOffsetTRelativeSlot(3, z_off, 0)
            b.PrependInt32Slot(6, t.qdim, 0)
            q_off = b.EndObject()
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(0, shape, 0)
        b.PrependInt8Slot(1, t.dtype, 0)
        b.PrependUint32Slot(2, buffer_of.get(i, 0), 0)
        b.PrependUOffsetTRelativeSlot(3, name, 0)
        if q_off is not None:
            b.PrependUOffsetTRelativeSlot(4, q_off, 0)
        t_offs.append(b.EndObject())
    # Operator codes, in order of first use.
    codes = []
    for op in g.ops:
        if op.op not in codes:
            codes.append(op.op)
    code_offs = []
    for name in codes:
        code, _ = OPS[name]
        b.StartObject(4)
        b.PrependInt8Slot(0, code, 0)  # deprecated_builtin_code (< 127)
        b.PrependInt32Slot(2, OP_VERSIONS[name], 1)
        b.PrependInt32Slot(3, code, 0)  # builtin_code
        code_offs.append(b.EndObject())
    op_offs = []
    for op in g.ops:
        opt = _options(b, op)
        ins = _ivec(b, op.inputs)
        outs = _ivec(b, op.outputs)
        b.StartObject(5)
        b.PrependUint32Slot(0, codes.index(op.op), 0)
        b.PrependUOffsetTRelativeSlot(1, ins, 0)
        b.PrependUOffsetTRelativeSlot(2, outs, 0)
        b.PrependUint8Slot(3, OPS[op.op][1], 0)
        b.PrependUOffsetTRelativeSlot(4, opt, 0)
        op_offs.append(b.EndObject())
    tensors_v = _offvec(b, t_offs)
    ins_v = _ivec(b, g.inputs)
    outs_v = _ivec(b, g.outputs)
    ops_v = _offvec(b, op_offs)
    sg_name = b.CreateString("main")
    sg = _offsets_table(b, 5, {0: tensors_v, 1: ins_v, 2: outs_v, 3: ops_v, 4: sg_name})
    codes_v = _offvec(b, code_offs)
    sgs_v = _offvec(b, [sg])
    desc = b.CreateString(g.description)
    bufs_v = _offvec(b, buf_offs)
    model = _offsets_table(b, 5, {1: codes_v, 2: sgs_v, 3: desc, 4: bufs_v},
                           lambda: b.PrependUint32Slot(0, SCHEMA_VERSION, 0))
    b.Finish(model, file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())


# ------------------------------------------------------------------ reader


class _T:
    """A flatbuffers table with slot-number accessors."""

    def __init__(self, buf, pos):
        self.t = Table(buf, pos)

    def _off(self, slot):
        return self.t.Offset(4 + 2 * slot)

    def scalar(self, slot, flags, default):
        o = self._off(slot)
        return self.t.Get(flags, o + self.t.Pos) if o else default

    def table(self, slot):
        o = self._off(slot)
        return _T(self.t.Bytes, self.t.Indirect(o + self.t.Pos)) if o else None

    def string(self, slot):
        o = self._off(slot)
        return self.t.String(o + self.t.Pos).decode() if o else ""

    def vector(self, slot, np_type):
        o = self._off(slot)
        if not o:
            return None
        return self.t.GetVectorAsNumpy(np_type, o)

    def tables(self, slot):
        o = self._off(slot)
        if not o:
            return []
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return [_T(self.t.Bytes, self.t.Indirect(start + 4 * i)) for i in range(n)]


def read(data):
    """.tflite bytes -> Graph (only what write() produces is understood)."""
    buf = bytearray(data)
    if buf[4:8] != FILE_IDENTIFIER:
        raise ValueError("not a TFL3 file")
    model = _T(buf, flatbuffers.encode.Get(N.UOffsetTFlags.packer_type, buf, 0))
    if model.scalar(0, N.Uint32Flags, 0) != SCHEMA_VERSION:
        raise ValueError("schema version")
    codes = []
    for oc in model.tables(1):
        dep = oc.scalar(0, N.Int8Flags, 0)
        full = oc.scalar(3, N.Int32Flags, 0)
        codes.append(OP_NAMES[max(dep, full)])
    buffers = [bf.vector(0, N.Uint8Flags) for bf in model.tables(4)]
    (sg,) = model.tables(2)
    g = Graph(model.string(3))
    for tt in sg.tables(0):
        dtype = tt.scalar(1, N.Int8Flags, 0)
        shape = list(tt.vector(0, N.Int32Flags))
        bi = tt.scalar(2, N.Uint32Flags, 0)
        data = None
        if bi and buffers[bi] is not None and len(buffers[bi]):
            data = np.frombuffer(bytes(buffers[bi]), DTYPES[dtype]).reshape(shape)
        q = tt.table(4)
        scale = zp = None
        qdim = 0
        if q is not None and q.vector(2, N.Float32Flags) is not None:
            scale = list(q.vector(2, N.Float32Flags))
            zp = list(q.vector(3, N.Int64Flags))
            qdim = q.scalar(6, N.Int32Flags, 0)
        g.add(Tensor(tt.string(3), shape, dtype, data, scale, zp, qdim))
    g.inputs = list(sg.vector(1, N.Int32Flags))
    g.outputs = list(sg.vector(2, N.Int32Flags))
    for ot in sg.tables(3):
        name = codes[ot.scalar(0, N.Uint32Flags, 0)]
        opts = {}
        ob = ot.table(4)
        if ob is not None:
            for slot, fname, kind, default in OPTION_FIELDS[name]:
                if kind == "b":
                    opts[fname] = ob.scalar(slot, N.Int8Flags, default)
                elif kind == "bool":
                    opts[fname] = bool(ob.scalar(slot, N.BoolFlags, default))
                elif kind == "i":
                    opts[fname] = ob.scalar(slot, N.Int32Flags, default)
                elif kind == "f":
                    opts[fname] = ob.scalar(slot, N.Float32Flags, default)
                elif kind == "ivec":
                    v = ob.vector(slot, N.Int32Flags)
                    opts[fname] = None if v is None else [int(x) for x in v]
        g.ops.append(Op(name, [int(x) for x in ot.vector(1, N.Int32Flags)],
                        [int(x) for x in ot.vector(2, N.Int32Flags)], **opts))
    return g
