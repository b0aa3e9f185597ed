"""A numpy reference of TensorFlow Lite's int8 reference kernels, for the ops
the product model uses, run on a Graph read back from the .tflite bytes.

Integer arithmetic follows TFLite's reference kernels
(tensorflow/lite/kernels/internal/reference/...):
  - QuantizeMultiplier: frexp, round(q * 2^31), shift; the effective scale
    in double from the float32 scales (input * filter[c] / output);
  - MultiplyByQuantizedMultiplier: SaturatingRoundingDoublingHighMul of
    (x << left_shift) by the multiplier, then RoundingDivideByPOT (the
    "double rounding" form, TFLite's default);
  - CONV_2D / DEPTHWISE_CONV_2D per-channel: acc = bias + sum w * (x - zp_in)
    over the positions inside the input (padding contributes nothing),
    requantized per output channel, + zp_out, clamped to the fused
    activation's range;
  - FULLY_CONNECTED per-tensor, same requantization;
  - MAX_POOL_2D / AVERAGE_POOL_2D on raw int8 values (input and output share
    their quantization), the average rounded half away from zero by the
    count of in-bounds positions;
  - SOFTMAX: the gemmlowp fixed-point path (input diff scaled by beta into
    Q5.26, exp_on_negative_values, sum in Q12.19, reciprocal by
    one_over_one_plus_x_for_x_in_0_1, output in 1/256 steps, -128 offset).
Every function works on a batch [N, ...] at once; integers are held in int64
and kept inside int32 where TFLite's are.
"""

import math

import numpy as np

from tflite_io import INT8

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


# ------------------------------------------------------------ fixed point


def quantize_multiplier(m):
    """double -> (int32 multiplier, shift) as tflite::QuantizeMultiplier."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = int(round_half_away_scalar(q * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    if shift > 30:
        shift, q_fixed = 30, (1 << 31) - 1
    return q_fixed, shift


def round_half_away_scalar(x):
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def _trunc_div(a, d):
    """C integer division (towards zero) of int64 arrays by a positive d."""
    q = np.abs(a) // d
    return np.where(a < 0, -q, q)


def srdhm(a, b):
    """SaturatingRoundingDoublingHighMul on int32 values held in int64."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    res = _trunc_div(ab + nudge, 1 << 31)
    overflow = (a == b) & (a == I32_MIN)
    return np.where(overflow, I32_MAX, res)


def rounding_divide_by_pot(x, exponent):
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def _wrap32(x):
    return ((np.asarray(x, np.int64) + (1 << 31)) % (1 << 32)) - (1 << 31)


def mul_by_quantized_multiplier(x, mult, shift):
    shift = np.asarray(shift, np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    return rounding_divide_by_pot(srdhm(_wrap32(np.asarray(x, np.int64) << left), mult), right)


def saturating_rounding_mul_by_pot(x, exponent):
    """gemmlowp SaturatingRoundingMultiplyByPOT<exponent> on int32."""
    x = np.asarray(x, np.int64)
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    res = _wrap32(x << exponent)
    res = np.where(x > threshold, I32_MAX, res)
    return np.where(x < -threshold, I32_MIN, res)


def _fx_mul(a, b):
    return srdhm(a, b)


def exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """Q0.31 in [-1/4, 0) -> exp(a) in Q0.31."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = _wrap32(a + (1 << 28))
    x2 = _fx_mul(x, x)
    x3 = _fx_mul(x2, x)
    x4 = _fx_mul(x2, x2)
    x4_over_4 = saturating_rounding_mul_by_pot(x4, -2)
    inner = _wrap32(_fx_mul(_wrap32(x4_over_4 + x3), constant_1_over_3) + x2)
    x4_over_24_plus = saturating_rounding_mul_by_pot(inner, -1)
    return _wrap32(constant_term + _fx_mul(constant_term, _wrap32(x + x4_over_24_plus)))


def exp_on_negative_values(a, integer_bits):
    """gemmlowp exp_on_negative_values for FixedPoint<int32, integer_bits>."""
    a = np.asarray(a, np.int64)
    frac_bits = 31 - integer_bits
    one_quarter = 1 << (frac_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = _wrap32((a & mask) - one_quarter)
    # Rescale<0> from integer_bits: multiply by 2^integer_bits, saturating.
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_mul_by_pot(a_mod_quarter_minus_one_quarter, integer_bits))
    remainder = _wrap32(a_mod_quarter_minus_one_quarter - a)
    for exponent, mult in ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
                           (2, 39332535), (3, 720401), (4, 242)):
        if integer_bits > exponent:
            shift = frac_bits + exponent
            result = np.where((remainder & (1 << shift)) != 0, _fx_mul(result, mult), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, I32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a):
    """Q0.31 a in [0, 1) -> 1/(1+a) in Q0.31 (Newton-Raphson, gemmlowp)."""
    a = np.asarray(a, np.int64)
    s = a + I32_MAX  # RoundingHalfSum(a, One) with One = INT32_MAX
    half_denominator = _trunc_div(s + np.where(s >= 0, 1, -1), 2)
    c48_17 = 1515870810  # Q2.29
    c_neg32_17 = -1010580540
    x = _wrap32(c48_17 + _fx_mul(half_denominator, c_neg32_17))
    one_q2 = 1 << 29
    for _ in range(3):
        hdx = _fx_mul(half_denominator, x)
        one_minus = _wrap32(one_q2 - hdx)
        x = _wrap32(x + saturating_rounding_mul_by_pot(_fx_mul(x, one_minus), 2))
    # Rescale<0>(ExactMulByPot<-1>(x)): Q1.30 -> Q0.31, times 2 saturating.
    return saturating_rounding_mul_by_pot(x, 1)


def count_leading_zeros32(x):
    x = np.asarray(x, np.int64) & 0xFFFFFFFF
    n = np.zeros_like(x)
    for i in range(32):
        bit = (x >> (31 - i)) & 1
        n = np.where((n == i) & (bit == 0), i + 1, n)
    return n


def get_reciprocal(x, x_integer_digits):
    headroom_plus_one = count_leading_zeros32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted = ((np.asarray(x, np.int64) << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31)
    shifted_sum_minus_one = _wrap32(shifted)
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


# ------------------------------------------------------------ kernels


def activation_range(act, scale, zp):
    qmin, qmax = -128, 127

    def q(f):  # in float32, as TFLite's CalculateActivationRangeQuantized
        return zp + int(round_half_away_scalar(float(np.float32(f) / np.float32(scale))))

    if act == 0:
        return qmin, qmax
    if act == 1:
        return max(qmin, q(0.0)), qmax
    if act == 3:
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    raise ValueError("activation %d" % act)


def _same_pads(in_size, k, stride, dilation=1):
    out = (in_size + stride - 1) // stride
    eff = (k - 1) * dilation + 1
    total = max((out - 1) * stride + eff - in_size, 0)
    return out, total // 2, total - total // 2


def _out_and_pads(in_size, k, stride, padding):
    if padding == 0:  # SAME
        return _same_pads(in_size, k, stride)
    out = (in_size - k) // stride + 1
    return out, 0, 0


def _patches(x, kh, kw, sh, sw, padding, pad_value):
    """x [N,H,W,C] -> patches [N,Ho,Wo,kh,kw,C] (padding with pad_value)."""
    n, h, w, c = x.shape
    ho, pt, pb = _out_and_pads(h, kh, sh, padding)
    wo, pl, pr = _out_and_pads(w, kw, sw, padding)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=pad_value)
    out = np.empty((n, ho, wo, kh, kw, c), x.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, :, i, j, :] = xp[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw, :]
    return out


def _requant(acc, t_in, t_w, t_out, act):
    s_in = float(t_in.scale[0])
    scales = t_w.scale
    mults, shifts = zip(*[quantize_multiplier(s_in * float(s) / float(t_out.scale[0])) for s in scales])
    res = mul_by_quantized_multiplier(acc, np.array(mults, np.int64), np.array(shifts, np.int64))
    res = res + t_out.zero_point[0]
    lo, hi = activation_range(act, t_out.scale[0], t_out.zero_point[0])
    return np.clip(res, lo, hi).astype(np.int8)


def conv2d(x, t_in, t_w, t_b, t_out, o):
    w = t_w.data.astype(np.float64)  # [Co, kh, kw, Ci]
    co, kh, kw, ci = w.shape
    zp = t_in.zero_point[0]
    p = _patches(x.astype(np.float64) - zp, kh, kw, o["stride_h"], o["stride_w"], o["padding"], 0.0)
    n, ho, wo = p.shape[:3]
    acc = p.reshape(n * ho * wo, kh * kw * ci) @ w.reshape(co, -1).T  # exact in float64
    acc = np.rint(acc).astype(np.int64).reshape(n, ho, wo, co) + t_b.data.astype(np.int64)
    return _requant(acc, t_in, t_w, t_out, o["activation"])


def depthwise_conv2d(x, t_in, t_w, t_b, t_out, o):
    w = t_w.data.astype(np.int64)  # [1, kh, kw, C]
    _, kh, kw, c = w.shape
    assert o.get("depth_multiplier", 1) in (0, 1) and c == x.shape[3]
    zp = t_in.zero_point[0]
    p = _patches(x.astype(np.int64) - zp, kh, kw, o["stride_h"], o["stride_w"], o["padding"], 0)
    acc = np.einsum("nhwijc,ijc->nhwc", p, w[0]) + t_b.data.astype(np.int64)
    return _requant(acc, t_in, t_w, t_out, o["activation"])


def fully_connected(x, t_in, t_w, t_b, t_out, o):
    w = t_w.data.astype(np.float64)  # [O, I]
    xi = x.reshape(x.shape[0], -1).astype(np.float64) - t_in.zero_point[0]
    acc = np.rint(xi @ w.T).astype(np.int64) + t_b.data.astype(np.int64)
    return _requant(acc, t_in, t_w, t_out, o["activation"])


def _pool_windows(x, o):
    kh, kw = o["filter_h"], o["filter_w"]
    sentinel = -(1 << 20)
    p = _patches(x.astype(np.int64), kh, kw, o["stride_h"], o["stride_w"], o["padding"], sentinel)
    valid = p != sentinel
    return p, valid


def max_pool(x, t_in, t_out, o):
    p, valid = _pool_windows(x, o)
    m = np.where(valid, p, -(1 << 20)).max(axis=(3, 4))
    lo, hi = activation_range(o["activation"], t_out.scale[0], t_out.zero_point[0])
    return np.clip(m, lo, hi).astype(np.int8)


def average_pool(x, t_in, t_out, o):
    p, valid = _pool_windows(x, o)
    acc = np.where(valid, p, 0).sum(axis=(3, 4))
    cnt = valid.sum(axis=(3, 4))
    avg = np.where(acc > 0, _trunc_div_arr(acc + cnt // 2, cnt), -_trunc_div_arr(-(acc - cnt // 2), cnt))
    lo, hi = activation_range(o["activation"], t_out.scale[0], t_out.zero_point[0])
    return np.clip(avg, lo, hi).astype(np.int8)


def _trunc_div_arr(a, d):
    q = np.abs(a) // d
    return np.where(a < 0, -q, q)


SOFTMAX_DIFF_BITS = 5
SOFTMAX_ACCUM_BITS = 12


def softmax_params(input_scale, beta):
    real = min(beta * float(input_scale) * (1 << (31 - SOFTMAX_DIFF_BITS)), (1 << 31) - 1.0)
    mult, shift = quantize_multiplier(real)
    assert shift >= 0
    radius = math.floor(((1 << SOFTMAX_DIFF_BITS) - 1) * (1 << (31 - SOFTMAX_DIFF_BITS)) / (1 << shift))
    return mult, shift, -radius


def softmax(x, t_in, t_out, o):
    assert abs(t_out.scale[0] - 1 / 256) < 1e-9 and t_out.zero_point[0] == -128
    mult, shift, diff_min = softmax_params(t_in.scale[0], o["beta"])
    x = x.astype(np.int64)
    diff = x - x.max(axis=-1, keepdims=True)
    ok = diff >= diff_min
    rescaled = mul_by_quantized_multiplier(diff, mult, shift)
    e = exp_on_negative_values(rescaled, SOFTMAX_DIFF_BITS)  # Q0.31
    e_acc = saturating_rounding_mul_by_pot(e, -SOFTMAX_ACCUM_BITS)  # Rescale<12>
    sum_of_exps = _wrap32(np.where(ok, e_acc, 0).sum(axis=-1, keepdims=True))
    shifted_scale, nbits = get_reciprocal(sum_of_exps, SOFTMAX_ACCUM_BITS)
    exponent = nbits + 31 - 8
    out = rounding_divide_by_pot(srdhm(shifted_scale, e), exponent) - 128
    out = np.where(ok, np.clip(out, -128, 127), -128)
    return out.astype(np.int8)


def run(g, x):
    """Runs graph g on int8 input batch x [N, ...]; returns the int8 output
    batch and every intermediate tensor by index."""
    vals = {g.inputs[0]: np.asarray(x, np.int8)}
    T = g.tensors
    for op in g.ops:
        o = op.options
        ins = op.inputs
        if op.op == "CONV_2D":
            y = conv2d(vals[ins[0]], T[ins[0]], T[ins[1]], T[ins[2]], T[op.outputs[0]], o)
        elif op.op == "DEPTHWISE_CONV_2D":
            y = depthwise_conv2d(vals[ins[0]], T[ins[0]], T[ins[1]], T[ins[2]], T[op.outputs[0]], o)
        elif op.op == "FULLY_CONNECTED":
            y = fully_connected(vals[ins[0]], T[ins[0]], T[ins[1]], T[ins[2]], T[op.outputs[0]], o)
        elif op.op == "MAX_POOL_2D":
            y = max_pool(vals[ins[0]], T[ins[0]], T[op.outputs[0]], o)
        elif op.op == "AVERAGE_POOL_2D":
            y = average_pool(vals[ins[0]], T[ins[0]], T[op.outputs[0]], o)
        elif op.op == "RESHAPE":
            shape = T[op.outputs[0]].shape
            y = vals[ins[0]].reshape([vals[ins[0]].shape[0]] + shape[1:])
        elif op.op == "SOFTMAX":
            y = softmax(vals[ins[0]], T[ins[0]], T[op.outputs[0]], o)
        else:
            raise ValueError("reference has no kernel for " + op.op)
        assert T[op.outputs[0]].dtype == INT8
        vals[op.outputs[0]] = y
    return vals[g.outputs[0]], vals
