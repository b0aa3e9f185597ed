/* recog: centre square crop, exact area-average resize and input
 * quantization, bit-identical to tools/product/preprocess.py.
 *
 * In units of 1/side_out of an input pixel, output pixel o spans
 * [o*side, (o+1)*side) and input pixel i spans [i*side_out, (i+1)*side_out);
 * the weight of i for o is the length of their overlap, so each output's
 * weights sum to `side` per axis and the result is
 *   (sum_y sum_x wy * wx * p + side*side/2) / (side*side)
 * computed exactly in integers: no rounding until the end. */
#include "recog/recog.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The input range [first, end) that output o overlaps, and the weight of
 * input i in it. */
static uint32_t foot_first(uint32_t o, uint32_t side, uint32_t n_out)
{
    return (uint32_t)(((uint64_t)o * side) / n_out);
}

static uint32_t foot_end(uint32_t o, uint32_t side, uint32_t n_out)
{
    return (uint32_t)(((uint64_t)(o + 1) * side + n_out - 1) / n_out);
}

static uint32_t foot_weight(uint32_t o, uint32_t i, uint32_t side, uint32_t n_out)
{
    uint64_t lo_o = (uint64_t)o * side, hi_o = (uint64_t)(o + 1) * side;
    uint64_t lo_i = (uint64_t)i * n_out, hi_i = (uint64_t)(i + 1) * n_out;
    uint64_t lo = lo_o > lo_i ? lo_o : lo_i, hi = hi_o < hi_i ? hi_o : hi_i;
    return hi > lo ? (uint32_t)(hi - lo) : 0;
}

int recog_resize_square(const recog_image *img, uint32_t side_out, uint8_t *out, kassa_err *err)
{
    assert(img && out);
    if (!img->rgb || img->width < 1 || img->height < 1 || img->width > RECOG_MAX_SIDE ||
        img->height > RECOG_MAX_SIDE)
        return kassa_fail(err, KASSA_EINVAL, "no image to resize");
    if (side_out < 1 || side_out > RECOG_MAX_INPUT_SIDE)
        return kassa_fail(err, KASSA_EINVAL, "output side %u out of range", side_out);
    uint32_t side = img->width < img->height ? img->width : img->height;
    uint32_t x0 = (img->width - side) / 2, y0 = (img->height - side) / 2;
    /* Horizontal pass over every row of the crop: sums of wx * p, each at
     * most side * 255 (fits 32 bits for side <= RECOG_MAX_SIDE). */
    size_t row_vals = (size_t)side_out * 3;
    uint32_t *rows = malloc((size_t)side * row_vals * sizeof *rows);
    if (!rows)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory resizing the image");
    for (uint32_t y = 0; y < side; y++) {
        const uint8_t *src = img->rgb + ((size_t)(y0 + y) * img->width + x0) * 3;
        uint32_t *dst = rows + (size_t)y * row_vals;
        for (uint32_t ox = 0; ox < side_out; ox++) {
            uint32_t acc[3] = {0, 0, 0};
            uint32_t end = foot_end(ox, side, side_out);
            for (uint32_t ix = foot_first(ox, side, side_out); ix < end; ix++) {
                uint32_t w = foot_weight(ox, ix, side, side_out);
                for (int c = 0; c < 3; c++)
                    acc[c] += w * src[(size_t)ix * 3 + c];
            }
            memcpy(dst + (size_t)ox * 3, acc, sizeof acc);
        }
    }
    /* Vertical pass: sums of wy * row sums, at most side^2 * 255 (64 bits). */
    const uint64_t den = (uint64_t)side * side;
    for (uint32_t oy = 0; oy < side_out; oy++) {
        uint32_t first = foot_first(oy, side, side_out), end = foot_end(oy, side, side_out);
        for (uint32_t v = 0; v < row_vals; v++) {
            uint64_t tot = 0;
            for (uint32_t iy = first; iy < end; iy++)
                tot +=
                    (uint64_t)foot_weight(oy, iy, side, side_out) * rows[(size_t)iy * row_vals + v];
            uint64_t q = (tot + den / 2) / den;
            assert(q <= 255);
            out[(size_t)oy * row_vals + v] = (uint8_t)q;
        }
    }
    free(rows);
    return KASSA_OK;
}

void recog_quantize(const uint8_t *pixels, size_t n, float scale, int32_t zero_point, int8_t *out)
{
    assert(pixels && out && scale > 0);
    int8_t lut[256];
    const double step = 255.0 * (double)scale;
    for (int p = 0; p < 256; p++) {
        double q = floor((double)p / step + 0.5) + zero_point; /* p >= 0: half away from zero */
        lut[p] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
    }
    for (size_t i = 0; i < n; i++)
        out[i] = lut[pixels[i]];
}
