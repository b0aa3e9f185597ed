"""The product model's preprocessing, exactly as src/recog/ does it in C.

  1. decode to RGB8 (PNG: 16-bit samples reduced to 8, palette and grey
     expanded, alpha dropped; JPEG: libjpeg's RGB output);
  2. centre-crop to a square: side = min(w, h), x0 = (w - side) // 2,
     y0 = (h - side) // 2;
  3. resize side x side -> S x S by exact area averaging: output pixel o
     covers input interval [o*side/S, (o+1)*side/S); each input pixel counts
     with the length of its overlap. In integers (units of 1/S of an input
     pixel) the weight of input i for output o is
         max(0, min((o+1)*side, (i+1)*S) - max(o*side, i*S))
     so every output's weights sum to side per axis, and
         out = (sum_y sum_x wy*wx*p + side*side/2) // (side*side)
     with no intermediate rounding (integer, so C and numpy agree exactly);
  4. quantize: q = clamp(round(p / 255 / scale) + zero_point, -128, 127) with
     the model input's scale and zero point (1/255 and -128: q = p - 128),
     round half away from zero.

Note: PIL's Image.BOX is *not* this filter for non-integer ratios (it gives
each input pixel weight 1 or 0 by where its centre falls, and rounds to 8
bits between the horizontal and vertical passes); for integer ratios the two
agree. The project uses its own definition above, in training and on the
terminal alike.
"""

import numpy as np

INPUT_SIZE = 64
INPUT_SCALE = 1.0 / 255.0
INPUT_ZERO_POINT = -128


def area_weights(n_in, n_out):
    """Integer weight matrix [n_out, n_in]; each row sums to n_in."""
    o = np.arange(n_out, dtype=np.int64)[:, None]
    i = np.arange(n_in, dtype=np.int64)[None, :]
    lo = np.maximum(o * n_in, i * n_out)
    hi = np.minimum((o + 1) * n_in, (i + 1) * n_out)
    return np.maximum(hi - lo, 0)


def center_crop(rgb):
    h, w = rgb.shape[:2]
    side = min(w, h)
    x0, y0 = (w - side) // 2, (h - side) // 2
    return rgb[y0:y0 + side, x0:x0 + side]


def resize_area(square, size):
    """uint8 [side, side, 3] -> uint8 [size, size, 3], exact area average."""
    side = square.shape[0]
    assert square.shape[1] == side
    wt = area_weights(side, size)  # [size, side]
    p = square.astype(np.int64)
    rows = np.einsum("xj,ijc->ixc", wt, p)  # horizontal: [side, size, 3]
    tot = np.einsum("yi,ixc->yxc", wt, rows)  # vertical: [size, size, 3]
    den = side * side
    return ((tot + den // 2) // den).astype(np.uint8)


def round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize(pixels, scale=INPUT_SCALE, zero_point=INPUT_ZERO_POINT):
    """uint8 pixels -> int8 model input (float64 arithmetic, as the C side)."""
    scale32 = float(np.float32(scale))  # the scale as the model file stores it
    q = round_half_away(pixels.astype(np.float64) / (255.0 * scale32)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def preprocess_rgb(rgb, size=INPUT_SIZE):
    """uint8 RGB [h, w, 3] -> int8 [size, size, 3] (NHWC without N)."""
    return quantize(resize_area(center_crop(rgb), size))


def preprocess_image(img, size=INPUT_SIZE):
    """A PIL image -> int8 [size, size, 3]."""
    return preprocess_rgb(np.asarray(img.convert("RGB")), size)


SPEC = {
    "format": 1,
    "input": {"dtype": "int8", "shape": [1, INPUT_SIZE, INPUT_SIZE, 3], "layout": "NHWC",
              "channels": "RGB", "scale": INPUT_SCALE, "zero_point": INPUT_ZERO_POINT},
    "decode": "RGB8: PNG 16-bit samples reduced to 8 (high byte), palette/grey expanded, "
              "alpha dropped; JPEG as libjpeg's RGB output",
    "crop": "center-square: side = min(w,h), x0 = (w-side)//2, y0 = (h-side)//2",
    "resize": "area-average: out = (sum wy*wx*p + side*side//2) // (side*side), "
              "w = overlap of [o*side,(o+1)*side) and [i*S,(i+1)*S)",
    "quantize": "q = clamp(round_half_away(p / 255 / scale) + zero_point, -128, 127)",
    "value_range": [0.0, 1.0],
}
