"""The product classifier: a small depthwise-separable CNN in torch, its
batch-norm folding, INT8 post-training quantization (TFLite's quantization
spec) and its conversion into a tflite_io.Graph.

Network (input [1,64,64,3] int8, NHWC; TF "SAME" padding everywhere):
  conv 3x3/2 3->16, ReLU6                        32x32x16
  dw 3x3/1, ReLU6; conv 1x1 16->32, ReLU6        32x32x32
  dw 3x3/2, ReLU6; conv 1x1 32->64, ReLU6        16x16x64
  dw 3x3/1, ReLU6; conv 1x1 64->64, ReLU6        16x16x64
  max pool 2x2/2                                 8x8x64
  dw 3x3/1, ReLU6; conv 1x1 64->128, ReLU6       8x8x128
  average pool 8x8 (global)                      1x1x128
  reshape                                        [1,128]
  fully connected 128->N                         [1,N] logits
  softmax                                        [1,N] int8, scale 1/256, zp -128
About 3.5 M multiply-accumulates per image.

Quantization (TFLite spec): conv and depthwise weights int8 symmetric per
output channel in [-127, 127]; fully connected weights int8 symmetric per
tensor; biases int32 with scale input_scale * weight_scale and zero point
0; activations int8 asymmetric per tensor from the min/max seen on
calibration images (the range always contains 0); max/average pool and
reshape keep their input's quantization; softmax output 1/256, -128.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from tflite_io import INT8, INT32, Graph, Op, Tensor
import preprocess


def same_pad(x, k, s):
    """Pads like TensorFlow's SAME: the extra pixel goes after."""
    h, w = x.shape[2], x.shape[3]

    def pads(n):
        out = (n + s - 1) // s
        total = max((out - 1) * s + k - n, 0)
        return total // 2, total - total // 2

    pt, pb = pads(h)
    pl, pr = pads(w)
    if pt or pb or pl or pr:
        x = F.pad(x, (pl, pr, pt, pb))
    return x


class ConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride, groups=1):
        super().__init__()
        self.k, self.stride = k, stride
        # Stride 1 with an odd kernel: SAME is symmetric, the conv pads.
        self.pad_in_conv = stride == 1 and k % 2 == 1
        pad = k // 2 if self.pad_in_conv else 0
        self.conv = nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        if not self.pad_in_conv:
            x = same_pad(x, self.k, self.stride)
        return F.relu6(self.bn(self.conv(x)))


def _sep(cin, cout, stride):
    return [ConvBN(cin, cin, 3, stride, groups=cin), ConvBN(cin, cout, 1, 1)]


class ProductNet(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.stem = ConvBN(3, 16, 3, 2)
        self.b1 = nn.Sequential(*_sep(16, 32, 1))
        self.b2 = nn.Sequential(*_sep(32, 64, 2))
        self.b3 = nn.Sequential(*_sep(64, 64, 1))
        self.b4 = nn.Sequential(*_sep(64, 128, 1))
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(128, n_classes)

    def features(self, x):
        x = self.b3(self.b2(self.b1(self.stem(x))))
        x = F.max_pool2d(x, 2, 2)
        x = self.b4(x)
        return F.avg_pool2d(x, x.shape[2]).flatten(1)

    def forward(self, x):
        return self.fc(self.drop(self.features(x)))

    def layers(self):
        """The ConvBN layers in execution order, with where the max pool is."""
        seq = [self.stem] + list(self.b1) + list(self.b2) + list(self.b3) + ["maxpool"] + list(self.b4)
        return seq


def fold(layer):
    """ConvBN -> (weight [O, I/g, kh, kw], bias [O]) with the BN folded."""
    w = layer.conv.weight.detach().double()
    bn = layer.bn
    g = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
    wf = w * g[:, None, None, None]
    bf = bn.bias.detach().double() - bn.running_mean.double() * g
    return wf.numpy(), bf.numpy()


class FoldedFloat:
    """The folded float network in numpy-friendly torch (eval), returning
    every quantization point's activations for calibration."""

    def __init__(self, net):
        self.items = []
        for layer in net.layers():
            if layer == "maxpool":
                self.items.append(("maxpool", None))
            else:
                w, b = fold(layer)
                self.items.append((layer, (torch.from_numpy(w).float(), torch.from_numpy(b).float())))
        self.fc_w = net.fc.weight.detach().float()
        self.fc_b = net.fc.bias.detach().float()

    @torch.no_grad()
    def run(self, x):
        """x float NCHW in [0,1] -> (logits, [activation after each conv])."""
        acts = []
        for layer, wb in self.items:
            if layer == "maxpool":
                x = F.max_pool2d(x, 2, 2)
                continue
            w, b = wb
            if not layer.pad_in_conv:
                x = same_pad(x, layer.k, layer.stride)
            x = F.relu6(F.conv2d(x, w, b, layer.stride, layer.conv.padding, groups=layer.conv.groups))
            acts.append(x)
        x = F.avg_pool2d(x, x.shape[2]).flatten(1)
        logits = F.linear(x, self.fc_w, self.fc_b)
        return logits, acts


def act_qparams(lo, hi):
    """Asymmetric int8 (scale, zero_point) for the float range [lo, hi]."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    scale = np.float32((hi - lo) / 255.0)
    zp = int(np.clip(np.round(-128 - lo / float(scale)), -128, 127))
    return float(scale), zp


def _round_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize_weights_per_channel(w, axis):
    """Symmetric int8 per channel along axis; returns (q, scales)."""
    red = tuple(i for i in range(w.ndim) if i != axis)
    m = np.max(np.abs(w), axis=red)
    scales = np.maximum(m, 1e-12) / 127.0
    scales = scales.astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(_round_away(w / scales.astype(np.float64).reshape(shape)), -127, 127).astype(np.int8)
    return q, scales


def quantize_bias(b, in_scale, w_scales):
    s = np.float64(np.float32(in_scale)) * np.asarray(w_scales, np.float32).astype(np.float64)
    q = _round_away(np.asarray(b, np.float64) / s)
    assert np.all(np.abs(q) < 2 ** 31)
    return q.astype(np.int32), s.astype(np.float32)


@torch.no_grad()
def calibrate(folded, images):
    """images: uint8 [N,64,64,3] -> per-activation (min, max) and logits range."""
    mins, maxs = None, None
    lmin, lmax = np.inf, -np.inf
    for i in range(0, len(images), 256):
        x = torch.from_numpy(images[i:i + 256]).float().permute(0, 3, 1, 2) / 255.0
        logits, acts = folded.run(x)
        amin = [float(a.min()) for a in acts]
        amax = [float(a.max()) for a in acts]
        mins = amin if mins is None else [min(a, b) for a, b in zip(mins, amin)]
        maxs = amax if maxs is None else [max(a, b) for a, b in zip(maxs, amax)]
        lmin, lmax = min(lmin, float(logits.min())), max(lmax, float(logits.max()))
    return list(zip(mins, maxs)), (lmin, lmax)


def to_graph(net, calib_images, n_classes, description):
    """Folds, quantizes (calibrating on calib_images, uint8 NHWC) and builds
    the int8 TFLite graph."""
    folded = FoldedFloat(net)
    ranges, (lmin, lmax) = calibrate(folded, calib_images)
    g = Graph(description)
    s = preprocess.INPUT_SIZE
    x = g.add(Tensor("input", [1, s, s, 3], INT8, scale=[preprocess.INPUT_SCALE],
                     zero_point=[preprocess.INPUT_ZERO_POINT]))
    g.inputs = [x]
    cur, cur_shape = x, [1, s, s, 3]
    ri = 0
    for li, (layer, wb) in enumerate(folded.items):
        tin = g.tensors[cur]
        if layer == "maxpool":
            shape = [1, cur_shape[1] // 2, cur_shape[2] // 2, cur_shape[3]]
            y = g.add(Tensor("maxpool", shape, INT8, scale=tin.scale, zero_point=tin.zero_point))
            g.ops.append(Op("MAX_POOL_2D", [cur], [y], padding="VALID", stride_w=2, stride_h=2,
                            filter_w=2, filter_h=2, activation="NONE"))
            cur, cur_shape = y, shape
            continue
        w, b = wb[0].double().numpy(), wb[1].double().numpy()  # [O, I/g, kh, kw]
        lo, hi = ranges[ri]
        ri += 1
        o_scale, o_zp = act_qparams(0.0, min(hi, 6.0))
        st = layer.stride
        ho = (cur_shape[1] + st - 1) // st
        cout = w.shape[0]
        depthwise = layer.conv.groups > 1
        if depthwise:
            wt = w.transpose(1, 2, 3, 0)  # [1, kh, kw, C]
            qw, ws = quantize_weights_per_channel(wt, 3)
            qdim, name, op = 3, "dw%d" % li, "DEPTHWISE_CONV_2D"
        else:
            wt = w.transpose(0, 2, 3, 1)  # [O, kh, kw, I]
            qw, ws = quantize_weights_per_channel(wt, 0)
            qdim, name, op = 0, "conv%d" % li, "CONV_2D"
        qb, bs = quantize_bias(b, tin.scale[0], ws)
        wi = g.add(Tensor(name + "/weights", qw.shape, INT8, qw, ws, np.zeros(len(ws), np.int64), qdim))
        bi = g.add(Tensor(name + "/bias", [cout], INT32, qb, bs, np.zeros(len(bs), np.int64), 0))
        shape = [1, ho, ho, cout]
        y = g.add(Tensor(name + "/relu6", shape, INT8, scale=[o_scale], zero_point=[o_zp]))
        opts = dict(padding="SAME", stride_w=st, stride_h=st, activation="RELU6")
        if depthwise:
            opts["depth_multiplier"] = 1
        g.ops.append(Op(op, [cur, wi, bi], [y], **opts))
        cur, cur_shape = y, shape
    tin = g.tensors[cur]
    k = cur_shape[1]
    pooled = g.add(Tensor("avgpool", [1, 1, 1, cur_shape[3]], INT8, scale=tin.scale, zero_point=tin.zero_point))
    g.ops.append(Op("AVERAGE_POOL_2D", [cur], [pooled], padding="VALID", stride_w=k, stride_h=k,
                    filter_w=k, filter_h=k, activation="NONE"))
    nfeat = cur_shape[3]
    shape_t = g.add(Tensor("flatten/shape", [2], INT32, np.array([1, nfeat], np.int32)))
    flat = g.add(Tensor("flatten", [1, nfeat], INT8, scale=tin.scale, zero_point=tin.zero_point))
    g.ops.append(Op("RESHAPE", [pooled, shape_t], [flat], new_shape=[1, nfeat]))
    fw = net.fc.weight.detach().double().numpy()  # [N, 128]
    fb = net.fc.bias.detach().double().numpy()
    m = max(np.max(np.abs(fw)), 1e-12)
    fscale = np.float32(m / 127.0)
    qfw = np.clip(_round_away(fw / np.float64(fscale)), -127, 127).astype(np.int8)
    qfb, fbs = quantize_bias(fb, tin.scale[0], [fscale])
    l_scale, l_zp = act_qparams(lmin, lmax)
    wi = g.add(Tensor("fc/weights", qfw.shape, INT8, qfw, [fscale], [0], 0))
    bi = g.add(Tensor("fc/bias", [n_classes], INT32, qfb, fbs, [0], 0))
    logits = g.add(Tensor("logits", [1, n_classes], INT8, scale=[l_scale], zero_point=[l_zp]))
    g.ops.append(Op("FULLY_CONNECTED", [flat, wi, bi], [logits], activation="NONE",
                    weights_format=0, keep_num_dims=False))
    probs = g.add(Tensor("probabilities", [1, n_classes], INT8, scale=[1.0 / 256.0], zero_point=[-128]))
    g.ops.append(Op("SOFTMAX", [logits], [probs], beta=1.0))
    g.outputs = [probs]
    return g, folded


def mac_count(input_size=64, n_classes=36):
    net = ProductNet(n_classes)
    total = 0
    s = input_size
    for layer in net.layers():
        if layer == "maxpool":
            s //= 2
            continue
        s = (s + layer.stride - 1) // layer.stride
        c = layer.conv
        total += s * s * c.out_channels * (c.in_channels // c.groups) * c.kernel_size[0] * c.kernel_size[1]
    return total + 128 * n_classes

