/*
 * Fuzz target for recog's image decoders (PNG through libpng, JPEG through
 * libjpeg): any bytes must decode within the limits or fail with a clean
 * one-line KASSA_EINVAL (or KASSA_ENOMEM) and an empty image, never crash,
 * leak or read outside the input. A decoded image is also preprocessed and,
 * when small, scanned for barcodes, so every pixel is read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recog/recog.h"
#include "testutil.h"

#define FUZZ_PREPROCESS_SIDE 16
#define FUZZ_BARCODE_MAX_PIXELS (128u * 128u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    recog_image img;
    kassa_err err;
    memset(&img, 0xa5, sizeof img); /* the decoder must not trust what was there */
    memset(&err, 0xa5, sizeof err);
    int rc = recog_image_decode(data, size, &img, &err);
    if (rc != KASSA_OK) {
        tu_check(rc == KASSA_EINVAL || rc == KASSA_ENOMEM);
        tu_check(err.code == rc);
        tu_check_msg(err.msg, sizeof err.msg);
        tu_check(img.rgb == NULL && img.width == 0 && img.height == 0);
        return 0;
    }
    tu_check(recog_sniff(data, size) != RECOG_FORMAT_UNKNOWN);
    tu_check(img.rgb != NULL);
    tu_check(img.width >= RECOG_MIN_SIDE && img.width <= RECOG_MAX_SIDE);
    tu_check(img.height >= RECOG_MIN_SIDE && img.height <= RECOG_MAX_SIDE);
    tu_check((uint64_t)img.width * img.height <= RECOG_MAX_PIXELS);
    uint8_t small[FUZZ_PREPROCESS_SIDE * FUZZ_PREPROCESS_SIDE * 3];
    tu_check(recog_resize_square(&img, FUZZ_PREPROCESS_SIDE, small, &err) == KASSA_OK);
    /* An area average lies between the smallest and largest sample. */
    uint8_t lo = 255, hi = 0;
    for (size_t i = 0; i < (size_t)img.width * img.height * 3; i++) {
        lo = img.rgb[i] < lo ? img.rgb[i] : lo;
        hi = img.rgb[i] > hi ? img.rgb[i] : hi;
    }
    for (size_t i = 0; i < sizeof small; i++)
        tu_check(small[i] >= lo && small[i] <= hi);
    if ((uint64_t)img.width * img.height <= FUZZ_BARCODE_MAX_PIXELS) {
        recog_barcode bc;
        int found = recog_find_barcode(&img, &bc, &err);
        tu_check(found == 0 || found == 1);
        if (found == 1)
            tu_check(bc.data[0] && strlen(bc.data) <= KASSA_BARCODE_MAX);
    }
    recog_image_free(&img);
    tu_check(img.rgb == NULL);
    return 0;
}
