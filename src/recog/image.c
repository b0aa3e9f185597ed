/* recog: PNG (libpng) and JPEG (libjpeg) decoding of camera frames into RGB8,
 * bounded and with setjmp error handling. The setjmp of each library sits in
 * a function of its own whose state lives in a context struct owned by the
 * caller, so nothing the error path reads is a local modified after setjmp. */
#include "recog/recog.h"

#include <assert.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#define RECOG_MSG_MAX 200
#define RECOG_PNG_CHUNK_MAX_BYTES (8u << 20)     /* one ancillary chunk */
#define RECOG_PNG_CHUNK_CACHE_MAX 128            /* ancillary chunks kept */
#define RECOG_JPEG_MAX_SCANS 64                  /* progressive scans */
#define RECOG_JPEG_MAX_MEMORY_BYTES (256u << 20) /* libjpeg's own pools */

static const uint8_t PNG_SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

recog_format recog_sniff(const uint8_t *bytes, size_t size_bytes)
{
    if (bytes && size_bytes >= sizeof PNG_SIG && memcmp(bytes, PNG_SIG, sizeof PNG_SIG) == 0)
        return RECOG_FORMAT_PNG;
    if (bytes && size_bytes >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
        return RECOG_FORMAT_JPEG;
    return RECOG_FORMAT_UNKNOWN;
}

void recog_image_free(recog_image *img)
{
    if (!img)
        return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

/* Checks a frame's size against the limits; on refusal fills msg (when
 * not NULL) with the reason. */
static bool size_ok(uint32_t w, uint32_t h, char *msg, size_t msg_size)
{
    if (w < RECOG_MIN_SIDE || h < RECOG_MIN_SIDE) {
        if (msg)
            snprintf(msg, msg_size, "image %ux%u is smaller than %ux%u", w, h, RECOG_MIN_SIDE,
                     RECOG_MIN_SIDE);
        return false;
    }
    if (w > RECOG_MAX_SIDE || h > RECOG_MAX_SIDE || (uint64_t)w * h > RECOG_MAX_PIXELS) {
        if (msg)
            snprintf(msg, msg_size, "image %ux%u is too large (at most %u per side, %u pixels)", w,
                     h, RECOG_MAX_SIDE, RECOG_MAX_PIXELS);
        return false;
    }
    return true;
}

bool recog_image_ok(const recog_image *img)
{
    return img && img->rgb && size_ok(img->width, img->height, NULL, 0);
}

/* ---- PNG ---- */

typedef struct png_ctx {
    const uint8_t *src;
    size_t src_len;
    size_t src_pos;
    png_structp png;
    png_infop info;
    uint8_t *rgb;
    png_bytep *rows;
    uint32_t width, height;
    char msg[RECOG_MSG_MAX];
} png_ctx;

static void png_read_cb(png_structp png, png_bytep out, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->src_len - c->src_pos)
        png_error(png, "truncated");
    memcpy(out, c->src + c->src_pos, n);
    c->src_pos += n;
}

static void png_error_cb(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    if (c->msg[0] == '\0')
        snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "error");
    png_longjmp(png, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* warnings (e.g. a bad ancillary chunk) are not errors */
}

/* The libpng calls; 0 or -1 (c->msg says why). */
static int png_run(png_ctx *c)
{
    if (setjmp(png_jmpbuf(c->png)))
        return -1;
    png_set_chunk_cache_max(c->png, RECOG_PNG_CHUNK_CACHE_MAX);
    png_set_chunk_malloc_max(c->png, RECOG_PNG_CHUNK_MAX_BYTES);
    png_set_read_fn(c->png, c, png_read_cb);
    png_read_info(c->png, c->info); /* the chunks before the image data */
    c->width = png_get_image_width(c->png, c->info);
    c->height = png_get_image_height(c->png, c->info);
    if (!size_ok(c->width, c->height, c->msg, sizeof c->msg))
        return -1;
    png_set_strip_16(c->png);
    png_set_expand(c->png); /* palette -> RGB, grey < 8 bits -> 8, tRNS -> alpha */
    png_set_gray_to_rgb(c->png);
    png_set_strip_alpha(c->png);
    (void)png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);
    if (png_get_rowbytes(c->png, c->info) != (size_t)c->width * 3 ||
        png_get_channels(c->png, c->info) != 3 || png_get_bit_depth(c->png, c->info) != 8) {
        snprintf(c->msg, sizeof c->msg, "unexpected pixel layout after conversion");
        return -1;
    }
    c->rgb = malloc((size_t)c->width * c->height * 3);
    c->rows = malloc((size_t)c->height * sizeof *c->rows);
    if (!c->rgb || !c->rows) {
        snprintf(c->msg, sizeof c->msg, "out of memory");
        return -1;
    }
    for (uint32_t y = 0; y < c->height; y++)
        c->rows[y] = c->rgb + (size_t)y * c->width * 3;
    png_read_image(c->png, c->rows);
    png_read_end(c->png, NULL);
    return 0;
}

static int decode_png(const uint8_t *bytes, size_t n, recog_image *out, kassa_err *err)
{
    png_ctx c = {.src = bytes, .src_len = n};
    c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, png_error_cb, png_warning_cb);
    if (!c.png)
        return kassa_fail(err, KASSA_ENOMEM, "PNG: out of memory");
    c.info = png_create_info_struct(c.png);
    if (!c.info) {
        png_destroy_read_struct(&c.png, NULL, NULL);
        return kassa_fail(err, KASSA_ENOMEM, "PNG: out of memory");
    }
    int rc = png_run(&c);
    png_destroy_read_struct(&c.png, &c.info, NULL);
    free(c.rows);
    if (rc != 0) {
        free(c.rgb);
        int code = strcmp(c.msg, "out of memory") == 0 ? KASSA_ENOMEM : KASSA_EINVAL;
        return kassa_fail(err, code, "PNG: %s", c.msg[0] ? c.msg : "cannot decode");
    }
    out->width = c.width;
    out->height = c.height;
    out->rgb = c.rgb;
    return KASSA_OK;
}

/* ---- JPEG ---- */

typedef struct jpeg_ctx {
    struct jpeg_error_mgr jerr; /* first: libjpeg hands us back this pointer */
    struct jpeg_progress_mgr progress;
    struct jpeg_decompress_struct cinfo;
    jmp_buf jb;
    const uint8_t *src;
    size_t src_len;
    uint8_t *rgb;
    uint32_t width, height;
    bool created;
    char msg[RECOG_MSG_MAX];
} jpeg_ctx;

static void jpeg_fail_cb(j_common_ptr cinfo)
{
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    if (c->msg[0] == '\0') {
        char buf[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, buf);
        snprintf(c->msg, sizeof c->msg, "%s", buf);
    }
    longjmp(c->jb, 1);
}

/* Warnings (corrupt data, premature end: libjpeg would fill the rest with
 * grey) are errors for a frame we are about to classify; trace messages
 * are dropped. */
static void jpeg_emit_cb(j_common_ptr cinfo, int msg_level)
{
    if (msg_level < 0)
        jpeg_fail_cb(cinfo);
}

static void jpeg_silent_cb(j_common_ptr cinfo)
{
    (void)cinfo;
}

static void jpeg_progress_cb(j_common_ptr cinfo)
{
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    if (cinfo->is_decompressor && c->cinfo.input_scan_number > RECOG_JPEG_MAX_SCANS) {
        snprintf(c->msg, sizeof c->msg, "more than %d scans", RECOG_JPEG_MAX_SCANS);
        longjmp(c->jb, 1);
    }
}

static int jpeg_run(jpeg_ctx *c)
{
    if (setjmp(c->jb))
        return -1;
    jpeg_create_decompress(&c->cinfo);
    c->created = true;
    c->cinfo.mem->max_memory_to_use = RECOG_JPEG_MAX_MEMORY_BYTES;
    c->progress.progress_monitor = jpeg_progress_cb;
    c->cinfo.progress = &c->progress;
    jpeg_mem_src(&c->cinfo, c->src, (unsigned long)c->src_len);
    (void)jpeg_read_header(&c->cinfo, TRUE);
    c->width = c->cinfo.image_width;
    c->height = c->cinfo.image_height;
    if (!size_ok(c->width, c->height, c->msg, sizeof c->msg))
        return -1;
    if (c->cinfo.jpeg_color_space != JCS_GRAYSCALE && c->cinfo.jpeg_color_space != JCS_YCbCr &&
        c->cinfo.jpeg_color_space != JCS_RGB) {
        snprintf(c->msg, sizeof c->msg, "colour space %d not supported (CMYK?)",
                 (int)c->cinfo.jpeg_color_space);
        return -1;
    }
    c->cinfo.out_color_space = JCS_RGB;
    (void)jpeg_start_decompress(&c->cinfo);
    if (c->cinfo.output_components != 3 || c->cinfo.output_width != c->width ||
        c->cinfo.output_height != c->height) {
        snprintf(c->msg, sizeof c->msg, "unexpected output layout");
        return -1;
    }
    c->rgb = malloc((size_t)c->width * c->height * 3);
    if (!c->rgb) {
        snprintf(c->msg, sizeof c->msg, "out of memory");
        return -1;
    }
    while (c->cinfo.output_scanline < c->cinfo.output_height) {
        JSAMPROW row = c->rgb + (size_t)c->cinfo.output_scanline * c->width * 3;
        if (jpeg_read_scanlines(&c->cinfo, &row, 1) != 1) {
            snprintf(c->msg, sizeof c->msg, "truncated");
            return -1;
        }
    }
    (void)jpeg_finish_decompress(&c->cinfo);
    return 0;
}

static int decode_jpeg(const uint8_t *bytes, size_t n, recog_image *out, kassa_err *err)
{
    jpeg_ctx *c = calloc(1, sizeof *c); /* big (jmp_buf, cinfo): off the stack */
    if (!c)
        return kassa_fail(err, KASSA_ENOMEM, "JPEG: out of memory");
    c->src = bytes;
    c->src_len = n;
    c->cinfo.err = jpeg_std_error(&c->jerr);
    c->jerr.error_exit = jpeg_fail_cb;
    c->jerr.emit_message = jpeg_emit_cb;
    c->jerr.output_message = jpeg_silent_cb;
    int rc = jpeg_run(c);
    if (c->created)
        jpeg_destroy_decompress(&c->cinfo);
    if (rc != 0) {
        int code = strcmp(c->msg, "out of memory") == 0 ? KASSA_ENOMEM : KASSA_EINVAL;
        rc = kassa_fail(err, code, "JPEG: %s", c->msg[0] ? c->msg : "cannot decode");
        free(c->rgb);
        free(c);
        return rc;
    }
    out->width = c->width;
    out->height = c->height;
    out->rgb = c->rgb;
    free(c);
    return KASSA_OK;
}

int recog_image_decode(const uint8_t *bytes, size_t size_bytes, recog_image *out, kassa_err *err)
{
    assert(out);
    memset(out, 0, sizeof *out);
    if (!bytes || size_bytes == 0)
        return kassa_fail(err, KASSA_EINVAL, "empty image");
    if (size_bytes > RECOG_MAX_IMAGE_BYTES)
        return kassa_fail(err, KASSA_EINVAL, "image of %zu bytes is larger than %u bytes",
                          size_bytes, RECOG_MAX_IMAGE_BYTES);
    switch (recog_sniff(bytes, size_bytes)) {
    case RECOG_FORMAT_PNG:
        return decode_png(bytes, size_bytes, out, err);
    case RECOG_FORMAT_JPEG:
        return decode_jpeg(bytes, size_bytes, out, err);
    default:
        return kassa_fail(err, KASSA_EINVAL, "not a PNG or JPEG image");
    }
}

int recog_image_read_file(const char *path, recog_image *out, kassa_err *err)
{
    assert(path && out);
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return kassa_fail(err, KASSA_EIO, "%s: %s", path, strerror(errno));
    /* Read at most one byte more than the limit, to tell "too large". */
    size_t cap = 1u << 16, n = 0;
    const size_t limit = (size_t)RECOG_MAX_IMAGE_BYTES + 1;
    uint8_t *buf = malloc(cap);
    int rc = KASSA_OK;
    while (buf && n < limit) {
        if (n == cap) {
            size_t ncap = cap * 2 > limit ? limit : cap * 2;
            uint8_t *p = realloc(buf, ncap);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = kassa_fail(err, KASSA_EIO, "%s: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!buf)
        return kassa_fail(err, KASSA_ENOMEM, "%s: out of memory", path);
    if (rc == KASSA_OK && n > RECOG_MAX_IMAGE_BYTES)
        rc = kassa_fail(err, KASSA_EINVAL, "%s: larger than %u bytes", path, RECOG_MAX_IMAGE_BYTES);
    if (rc == KASSA_OK) {
        rc = recog_image_decode(buf, n, out, err);
        if (rc != KASSA_OK && err) {
            char msg[KASSA_ERR_MSG_SIZE];
            snprintf(msg, sizeof msg, "%s", err->msg);
            kassa_fail(err, rc, "%s: %s", path, msg);
        }
    }
    free(buf);
    return rc;
}
