/* recog: the barcode fallback, zbar on the grey version of the same frame. */
#include "recog/recog.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zbar.h>

/* A symbol worth handing to the catalog: printable ASCII that fits. */
static bool symbol_ok(const zbar_symbol_t *s)
{
    const char *data = zbar_symbol_get_data(s);
    unsigned len = zbar_symbol_get_data_length(s);
    if (!data || len == 0 || len > KASSA_BARCODE_MAX)
        return false;
    for (unsigned i = 0; i < len; i++)
        if (data[i] < 0x20 || data[i] > 0x7e)
            return false;
    return true;
}

int recog_find_barcode(const recog_image *img, recog_barcode *out, kassa_err *err)
{
    assert(out);
    memset(out, 0, sizeof *out);
    if (!recog_image_ok(img))
        return kassa_fail(err, KASSA_EINVAL, "no image to scan");
    size_t n = (size_t)img->width * img->height;
    uint8_t *gray = malloc(n);
    if (!gray)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory scanning for a barcode");
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->rgb + i * 3;
        gray[i] = (uint8_t)((77u * p[0] + 150u * p[1] + 29u * p[2] + 128u) >> 8);
    }
    zbar_image_scanner_t *scanner = zbar_image_scanner_create();
    zbar_image_t *zimg = zbar_image_create();
    int rc = 0;
    if (!scanner || !zimg) {
        rc = kassa_fail(err, KASSA_ENOMEM, "out of memory scanning for a barcode");
    } else {
        zbar_image_set_format(zimg, zbar_fourcc('Y', '8', '0', '0'));
        zbar_image_set_size(zimg, img->width, img->height);
        zbar_image_set_data(zimg, gray, n, NULL); /* we free gray ourselves */
        int found = zbar_scan_image(scanner, zimg);
        if (found < 0) {
            rc = kassa_fail(err, KASSA_EIO, "zbar could not scan the image");
        } else {
            for (const zbar_symbol_t *s = zbar_image_first_symbol(zimg); s;
                 s = zbar_symbol_next(s)) {
                if (!symbol_ok(s))
                    continue;
                snprintf(out->data, sizeof out->data, "%s", zbar_symbol_get_data(s));
                snprintf(out->symbology, sizeof out->symbology, "%s",
                         zbar_get_symbol_name(zbar_symbol_get_type(s)));
                rc = 1;
                break;
            }
        }
    }
    if (zimg)
        zbar_image_destroy(zimg);
    if (scanner)
        zbar_image_scanner_destroy(scanner);
    free(gray);
    return rc;
}
