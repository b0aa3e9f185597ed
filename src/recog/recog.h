/*
 * recog: product recognition from a camera frame (DESIGN.md §6, docs/AI.md).
 *
 *   frame bytes (PNG or JPEG) -> RGB8 image -> centre square crop -> exact
 *   area-average resize to the model's input -> int8 -> the product model
 *   (src/ai) -> top SKU, confidence and the next alternatives.
 *
 * Below the confidence threshold (0.70 by default), or when the model is
 * missing or fails in any way, the result is a *fallback*: the same frame is
 * decoded with zbar and the barcode, if any, is returned so the terminal
 * asks the scanner instead of guessing. A recognition never fails because
 * of the model; only a frame that cannot be decoded is an error.
 *
 * Why here: decoding camera frames is parsing untrusted bytes, so both
 * decoders are bounded (bytes, width, height, pixels, JPEG scans and
 * memory) and turn every libpng/libjpeg error into a kassa error through
 * their setjmp error handlers; and the preprocessing must equal the
 * training tool's bit for bit (tools/product/preprocess.py,
 * models/product/preprocess.json), which is easiest in one place.
 *
 * A model directory holds product.tflite, labels.txt (one SKU per line,
 * line i = output i) and preprocess.json (the preprocessing the model was
 * trained with; a model asking for anything else is refused at open).
 */
#ifndef KASSA_RECOG_H
#define KASSA_RECOG_H

#include "ai/ai.h"
#include "base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECOG_MAX_IMAGE_BYTES (32u << 20) /* one encoded frame */
#define RECOG_MAX_SIDE 4096u              /* width and height each */
#define RECOG_MAX_PIXELS (8u << 20)       /* width x height */
#define RECOG_MIN_SIDE 8u                 /* smaller frames are refused */
#define RECOG_MAX_INPUT_SIDE 1024u        /* model input side */
#define RECOG_MAX_LABELS 4096u
#define RECOG_TOP_K 3
#define RECOG_DEFAULT_THRESHOLD 0.70f
#define RECOG_SYMBOLOGY_MAX 16

typedef enum recog_format {
    RECOG_FORMAT_UNKNOWN = 0,
    RECOG_FORMAT_PNG,
    RECOG_FORMAT_JPEG,
} recog_format;

/* A decoded frame: width x height RGB8 pixels, rows top to bottom, no
 * padding (stride = 3 * width). */
typedef struct recog_image {
    uint32_t width;
    uint32_t height;
    uint8_t *rgb;
} recog_image;

/* PNG or JPEG by their signatures. */
recog_format recog_sniff(const uint8_t *bytes, size_t size_bytes);

/* Decodes a PNG (any bit depth and colour type, interlaced or not: 16-bit
 * samples keep their high byte, grey and palette become RGB, alpha is
 * dropped) or a JPEG (grey or YCbCr, baseline or progressive; CMYK is
 * refused) into *out. A malformed, truncated, oversized or unsupported
 * image is KASSA_EINVAL with the reason; *out is then empty. */
int recog_image_decode(const uint8_t *bytes, size_t size_bytes, recog_image *out, kassa_err *err);
/* Whether img holds a frame within the limits above (as decoded). */
bool recog_image_ok(const recog_image *img);
/* Reads (at most RECOG_MAX_IMAGE_BYTES) and decodes a file. */
int recog_image_read_file(const char *path, recog_image *out, kassa_err *err);
void recog_image_free(recog_image *img);

/* The preprocessing's first half: centre square crop (side = min(w, h),
 * x0 = (w - side) / 2, y0 = (h - side) / 2) and exact area-average resize
 * to side_out x side_out RGB8 (out: 3 * side_out^2 bytes). */
int recog_resize_square(const recog_image *img, uint32_t side_out, uint8_t *out, kassa_err *err);
/* The second half: q = clamp(round(p / 255 / scale) + zero_point), int8. */
void recog_quantize(const uint8_t *pixels, size_t n, float scale, int32_t zero_point, int8_t *out);

/* A barcode found in a frame. */
typedef struct recog_barcode {
    char data[KASSA_BARCODE_MAX + 1];
    char symbology[RECOG_SYMBOLOGY_MAX]; /* zbar's name: "EAN-13", "CODE-128", ... */
} recog_barcode;

/* Scans the frame with zbar: 1 and *out when a barcode (printable, at most
 * KASSA_BARCODE_MAX characters) was found, 0 when none, < 0 on error. */
int recog_find_barcode(const recog_image *img, recog_barcode *out, kassa_err *err);

typedef struct recog_model recog_model;

/* Opens DIR/product.tflite, DIR/labels.txt and DIR/preprocess.json and
 * checks they fit together: one int8 input [1, S, S, 3], one int8 output
 * with one element per label, valid SKUs, and the preprocessing this module
 * implements. A model holds the runtime's buffers: one thread at a time. */
int recog_model_open(const char *dir, recog_model **out, kassa_err *err);
/* The same from the three files' contents (kassad has them from the signed
 * model registry): the .tflite bytes, the labels text and the preprocess
 * JSON text. Everything needed is copied. */
int recog_model_open_parts(const uint8_t *tflite, size_t tflite_len, const char *labels,
                           size_t labels_len, const char *spec, size_t spec_len, recog_model **out,
                           kassa_err *err);
void recog_model_free(recog_model *m);
size_t recog_model_label_count(const recog_model *m);
const char *recog_model_label(const recog_model *m, size_t i);
/* The model's own threshold (preprocess.json "threshold", else the default). */
float recog_model_threshold(const recog_model *m);
/* The runtime model, e.g. to run canaries on it. */
ai_model *recog_model_ai(recog_model *m);

typedef enum recog_kind {
    RECOG_PRODUCT = 1,  /* top[0] is the product */
    RECOG_FALLBACK = 2, /* ask the barcode: barcode/has_barcode from zbar */
} recog_kind;

typedef enum recog_reason {
    RECOG_REASON_NONE = 0,
    RECOG_REASON_LOW_CONFIDENCE, /* best confidence below the threshold */
    RECOG_REASON_MODEL_ERROR,    /* no model, or it failed: see model_error */
} recog_reason;

typedef struct recog_candidate {
    char sku[KASSA_SKU_MAX + 1];
    float confidence; /* dequantized softmax output, 0..1 */
} recog_candidate;

typedef struct recog_result {
    recog_kind kind;
    recog_reason reason;
    int n_top; /* candidates in top[], best first (0 after a model error) */
    recog_candidate top[RECOG_TOP_K];
    bool has_barcode; /* fallback only */
    recog_barcode barcode;
    char model_error[KASSA_ERR_MSG_SIZE];
    double model_ms;   /* preprocessing + inference */
    double barcode_ms; /* zbar, fallback only */
} recog_result;

/* Recognises the product in a frame. threshold <= 0 means the model's own.
 * m may be NULL (no model installed): the result is then a fallback with
 * RECOG_REASON_MODEL_ERROR. Returns KASSA_OK with *out filled for products
 * and fallbacks alike; an error only for a bad image or out of memory. */
int recog_classify(recog_model *m, const recog_image *img, float threshold, recog_result *out,
                   kassa_err *err);

#endif
