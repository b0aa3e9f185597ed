/*
 * Unit tests for recog: PNG/JPEG decoding of the product fixtures and of
 * malformed images (truncated, huge, garbage: clear errors), the
 * preprocessing against the tensors tools/product/preprocess.py wrote
 * (tests/fixtures/products/NAME.input.raw) and against hand-computed area
 * averages, quantization, the zbar barcode fallback, recog_classify without
 * a model (always a fallback); then, with the committed model
 * (models/product) on the C runtime (src/ai): the canaries against the
 * numpy reference's expected int8 outputs (tools/product/tflite_ref.py),
 * every fixture classified as its SKU, unknown products and the barcode
 * image falling back (with the barcode), broken model directories refused.
 */
#include "testutil.h"
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recog/recog.h"

#define PATH_SIZE 1024
#define INPUT_SIDE 64
#define INPUT_BYTES (INPUT_SIDE * INPUT_SIDE * 3)
#define READ_MAX_BYTES (4u << 20) /* any file a test reads whole */

static const char *fixtures_dir(void)
{
    const char *d = getenv("KASSA_TEST_FIXTURES");
    return d ? d : "tests/fixtures";
}

static void fixture_path(char *out, const char *name)
{
    int n = snprintf(out, PATH_SIZE, "%s/products/%s", fixtures_dir(), name);
    assert_true(n > 0 && n < PATH_SIZE);
}

static json_t *load_index(void)
{
    char path[PATH_SIZE];
    fixture_path(path, "index.json");
    json_error_t jerr;
    json_t *idx = json_load_file(path, 0, &jerr);
    if (!idx)
        print_error("%s: %s\n", path, jerr.text);
    assert_non_null(idx);
    return idx;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        print_error("cannot open %s\n", path);
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0 && (unsigned long)n <= READ_MAX_BYTES);
    rewind(f);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void decode_fixture(const char *name, recog_image *img)
{
    char path[PATH_SIZE];
    fixture_path(path, name);
    kassa_err err;
    int rc = recog_image_read_file(path, img, &err);
    if (rc != KASSA_OK)
        print_error("%s: %s\n", path, err.msg);
    assert_int_equal(rc, KASSA_OK);
}

static void test_sniff(void **state)
{
    (void)state;
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0};
    static const uint8_t jpg[] = {0xFF, 0xD8, 0xFF, 0xE0};
    assert_int_equal(recog_sniff(png, sizeof png), RECOG_FORMAT_PNG);
    assert_int_equal(recog_sniff(png, 7), RECOG_FORMAT_UNKNOWN);
    assert_int_equal(recog_sniff(jpg, sizeof jpg), RECOG_FORMAT_JPEG);
    assert_int_equal(recog_sniff(jpg, 2), RECOG_FORMAT_UNKNOWN);
    assert_int_equal(recog_sniff((const uint8_t *)"GIF89a", 6), RECOG_FORMAT_UNKNOWN);
    assert_int_equal(recog_sniff(NULL, 0), RECOG_FORMAT_UNKNOWN);
}

/* Every fixture decodes, with the frame size the index gives. */
static void test_decode_fixtures(void **state)
{
    (void)state;
    json_t *idx = load_index();
    json_t *images = json_object_get(idx, "images");
    json_t *frame = json_object_get(idx, "frame");
    assert_true(json_array_size(images) >= 17);
    size_t i, n_png = 0, n_jpg = 0;
    json_t *it;
    json_array_foreach(images, i, it)
    {
        const char *file = json_string_value(json_object_get(it, "file"));
        assert_non_null(file);
        recog_image img;
        decode_fixture(file, &img);
        assert_non_null(img.rgb);
        if (!json_object_get(it, "barcode")) {
            assert_int_equal(img.width, json_integer_value(json_array_get(frame, 0)));
            assert_int_equal(img.height, json_integer_value(json_array_get(frame, 1)));
        }
        /* A rendered frame is not one flat colour. */
        size_t n = (size_t)img.width * img.height * 3, differ = 0;
        for (size_t k = 3; k < n; k++)
            differ += img.rgb[k] != img.rgb[k % 3];
        assert_true(differ > n / 2);
        if (strstr(file, ".png"))
            n_png++;
        else
            n_jpg++;
        recog_image_free(&img);
        assert_null(img.rgb);
    }
    assert_true(n_png >= 12 + 2 + 1);
    assert_int_equal(n_jpg, 2);
    json_decref(idx);
}

/* The C preprocessing equals the Python one (tools/product/preprocess.py)
 * on the committed tensors: a PNG and a JPEG fixture. */
static void test_preprocess_matches_python(void **state)
{
    (void)state;
    json_t *idx = load_index();
    json_t *tensors = json_object_get(idx, "input_tensors");
    assert_int_equal(json_array_size(tensors), 2);
    size_t i;
    json_t *t;
    json_array_foreach(tensors, i, t)
    {
        recog_image img;
        decode_fixture(json_string_value(json_object_get(t, "image")), &img);
        char path[PATH_SIZE];
        fixture_path(path, json_string_value(json_object_get(t, "file")));
        size_t len;
        uint8_t *want = read_all(path, &len);
        assert_int_equal(len, INPUT_BYTES);
        uint8_t px[INPUT_BYTES];
        int8_t q[INPUT_BYTES];
        kassa_err err;
        assert_int_equal(recog_resize_square(&img, INPUT_SIDE, px, &err), KASSA_OK);
        recog_quantize(px, sizeof px, 1.0f / 255.0f, -128, q);
        int max_diff = 0, n_diff = 0;
        for (size_t k = 0; k < INPUT_BYTES; k++) {
            int d = abs((int)q[k] - (int)(int8_t)want[k]);
            max_diff = d > max_diff ? d : max_diff;
            n_diff += d != 0;
        }
        print_message("%s: %d of %d values differ, max %d\n",
                      json_string_value(json_object_get(t, "image")), n_diff, INPUT_BYTES,
                      max_diff);
        assert_true(max_diff <= 1);
        assert_int_equal(n_diff, 0); /* integer arithmetic on both sides: exact */
        free(want);
        recog_image_free(&img);
    }
    json_decref(idx);
}

static recog_image make_image(uint32_t w, uint32_t h)
{
    recog_image img = {.width = w, .height = h, .rgb = malloc((size_t)w * h * 3)};
    assert_non_null(img.rgb);
    return img;
}

/* A w x h frame whose centre square holds 40*y + x + 1 (y, x within the
 * square) and 255 outside resizes to that square at its own size. */
static void check_centre_crop(uint32_t w, uint32_t h)
{
    recog_image img = make_image(w, h);
    uint32_t side = w < h ? w : h, x0 = (w - side) / 2, y0 = (h - side) / 2;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            bool in = x >= x0 && x < x0 + side && y >= y0 && y < y0 + side;
            memset(img.rgb + (y * w + x) * 3, in ? (int)(40 * (y - y0) + (x - x0) + 1) : 255, 3);
        }
    uint8_t out[8 * 8 * 3];
    kassa_err err;
    assert_true(side <= 8);
    assert_int_equal(recog_resize_square(&img, side, out, &err), KASSA_OK);
    for (uint32_t y = 0; y < side; y++)
        for (uint32_t x = 0; x < side; x++)
            assert_int_equal(out[(y * side + x) * 3 + 1], 40 * y + x + 1);
    recog_image_free(&img);
}

/* Area averages computed by hand: identity, 2x2 blocks, a 3 -> 2 ratio
 * with fractional weights, the centre crop of a wide and a tall frame, and
 * an upscale. */
static void test_resize_area(void **state)
{
    (void)state;
    kassa_err err;
    recog_image a = make_image(8, 8);
    for (size_t k = 0; k < 8 * 8 * 3; k++)
        a.rgb[k] = (uint8_t)(k * 7);
    uint8_t out[16 * 16 * 3];
    assert_int_equal(recog_resize_square(&a, 8, out, &err), KASSA_OK);
    assert_memory_equal(out, a.rgb, 8 * 8 * 3);
    /* 8 -> 4: each output is the rounded mean of a 2x2 block. */
    assert_int_equal(recog_resize_square(&a, 4, out, &err), KASSA_OK);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            for (int c = 0; c < 3; c++) {
                unsigned s = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        s += a.rgb[((2 * y + dy) * 8 + 2 * x + dx) * 3 + c];
                assert_int_equal(out[(y * 4 + x) * 3 + c], (s + 2) / 4);
            }
    /* Upscale 8 -> 16: every output lies inside one input pixel. */
    assert_int_equal(recog_resize_square(&a, 16, out, &err), KASSA_OK);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++)
            assert_int_equal(out[(y * 16 + x) * 3], a.rgb[((y / 2) * 8 + x / 2) * 3]);
    recog_image_free(&a);

    /* 3 -> 2 on one channel pattern: output 0 covers input 0 fully and
     * input 1 by half (weights 2 and 1 in units of 1/2): rows/cols 0,1,2
     * with values v(x, y) = 10*x + 70*y (red), 0 elsewhere. */
    recog_image b = make_image(3, 3);
    memset(b.rgb, 0, 27);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++)
            b.rgb[(y * 3 + x) * 3] = (uint8_t)(10 * x + 70 * y);
    assert_int_equal(recog_resize_square(&b, 2, out, &err), KASSA_OK);
    for (int oy = 0; oy < 2; oy++)
        for (int ox = 0; ox < 2; ox++) {
            static const unsigned W[2][3] = {{2, 1, 0}, {0, 1, 2}};
            unsigned s = 0;
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++)
                    s += W[oy][y] * W[ox][x] * b.rgb[(y * 3 + x) * 3];
            assert_int_equal(out[(oy * 2 + ox) * 3], (s + 4) / 9);
            assert_int_equal(out[(oy * 2 + ox) * 3 + 1], 0);
        }
    recog_image_free(&b);

    /* Wide 7x3 frame: the crop is columns 2..4; tall 3x8: rows 2..4. */
    check_centre_crop(7, 3);
    check_centre_crop(3, 8);
    recog_image t = make_image(3, 8);
    assert_int_equal(recog_resize_square(&t, 0, out, &err), KASSA_EINVAL);
    assert_int_equal(recog_resize_square(&t, RECOG_MAX_INPUT_SIDE + 1, out, &err), KASSA_EINVAL);
    recog_image_free(&t);
    recog_image none = {0};
    assert_int_equal(recog_resize_square(&none, 4, out, &err), KASSA_EINVAL);
}

static void test_quantize(void **state)
{
    (void)state;
    uint8_t px[256];
    int8_t q[256];
    for (int i = 0; i < 256; i++)
        px[i] = (uint8_t)i;
    recog_quantize(px, 256, 1.0f / 255.0f, -128, q);
    for (int i = 0; i < 256; i++)
        assert_int_equal(q[i], i - 128);
    /* Coarser scales; an exact half (255 / 510) rounds away from zero. */
    recog_quantize(px, 256, 2.0f / 255.0f, -100, q);
    assert_int_equal(q[0], -100);
    assert_int_equal(q[4], -98);
    assert_int_equal(q[100], -50);
    assert_int_equal(q[255], 27);
    recog_quantize(px, 256, 2.0f, 0, q);
    assert_int_equal(q[254], 0);
    assert_int_equal(q[255], 1);
    recog_quantize(px, 256, 0.5f / 255.0f, 0, q);
    assert_int_equal(q[63], 126);
    assert_int_equal(q[64], 127);
    assert_int_equal(q[200], 127); /* clamped */
}

/* Malformed images fail with KASSA_EINVAL and a message naming the cause. */
static void test_bad_images(void **state)
{
    (void)state;
    static const struct {
        const char *file, *msg;
    } cases[] = {
        {"bad/truncated.png", "PNG: "},
        {"bad/truncated_header.png", "PNG: truncated"},
        {"bad/truncated.jpg", "JPEG: "},
        {"bad/truncated_header.jpg", "JPEG: "},
        {"bad/huge_dims.png", "image 100000x100000 is too large"},
        {"bad/wide.png", "image 20000x10 is too large"},
        {"bad/huge_dims.jpg", "image 60000x60000 is too large"},
        {"bad/garbage.bin", "not a PNG or JPEG image"},
        {"bad/bad_crc.png", "CRC"},
        {"bad/empty.png", "empty image"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        char path[PATH_SIZE];
        fixture_path(path, cases[i].file);
        recog_image img;
        memset(&img, 0x5a, sizeof img);
        kassa_err err;
        int rc = recog_image_read_file(path, &img, &err);
        print_message("%s: %s\n", cases[i].file, err.msg);
        assert_int_equal(rc, KASSA_EINVAL);
        assert_int_equal(err.code, KASSA_EINVAL);
        assert_non_null(strstr(err.msg, cases[i].msg));
        assert_null(img.rgb);
        assert_int_equal(img.width, 0);
    }
    kassa_err err;
    recog_image img;
    char path[PATH_SIZE];
    fixture_path(path, "bad/no_such_file.png");
    assert_int_equal(recog_image_read_file(path, &img, &err), KASSA_EIO);
    /* Every prefix of a valid PNG and JPEG fails cleanly (ASan checks the
     * reads: each prefix sits in an exact-size allocation). */
    json_t *idx = load_index();
    json_t *tensors = json_object_get(idx, "input_tensors");
    for (size_t t = 0; t < 2; t++) {
        fixture_path(path, json_string_value(json_object_get(json_array_get(tensors, t), "image")));
        size_t len;
        uint8_t *all = read_all(path, &len);
        size_t step = len / 97 + 1;
        for (size_t n = 0; n < len; n += step) {
            uint8_t *p = malloc(n ? n : 1);
            assert_non_null(p);
            memcpy(p, all, n);
            int rc = recog_image_decode(p, n, &img, &err);
            if (rc != KASSA_EINVAL)
                print_error("%s: prefix of %zu bytes: rc %d\n", path, n, rc);
            assert_int_equal(rc, KASSA_EINVAL);
            assert_null(img.rgb);
            free(p);
        }
        assert_int_equal(recog_image_decode(all, len, &img, &err), KASSA_OK);
        recog_image_free(&img);
        free(all);
    }
    json_decref(idx);
    /* Over the byte limit without reading a byte of it. */
    uint8_t tiny[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_int_equal(recog_image_decode(tiny, (size_t)RECOG_MAX_IMAGE_BYTES + 1, &img, &err),
                     KASSA_EINVAL);
    assert_non_null(strstr(err.msg, "larger than"));
}

static json_t *find_image(json_t *idx, const char *key)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(idx, "images"), i,
                       it) if (json_object_get(it, key)) return it;
    return NULL;
}

static void test_barcode(void **state)
{
    (void)state;
    json_t *idx = load_index();
    json_t *bc = find_image(idx, "barcode");
    assert_non_null(bc);
    recog_image img;
    decode_fixture(json_string_value(json_object_get(bc, "file")), &img);
    recog_barcode out;
    kassa_err err;
    assert_int_equal(recog_find_barcode(&img, &out, &err), 1);
    assert_string_equal(out.data, json_string_value(json_object_get(bc, "barcode")));
    assert_string_equal(out.symbology, "EAN-13");
    recog_image_free(&img);
    /* A product view without a barcode: none found. */
    decode_fixture(json_string_value(
                       json_object_get(json_array_get(json_object_get(idx, "images"), 0), "file")),
                   &img);
    assert_int_equal(recog_find_barcode(&img, &out, &err), 0);
    assert_string_equal(out.data, "");
    recog_image_free(&img);
    json_decref(idx);
}

/* No model at all: every frame is a fallback, with the barcode if any. */
static void test_classify_without_model(void **state)
{
    (void)state;
    json_t *idx = load_index();
    json_t *bc = find_image(idx, "barcode");
    recog_image img;
    decode_fixture(json_string_value(json_object_get(bc, "file")), &img);
    recog_result r;
    kassa_err err;
    assert_int_equal(recog_classify(NULL, &img, 0.0f, &r, &err), KASSA_OK);
    assert_int_equal(r.kind, RECOG_FALLBACK);
    assert_int_equal(r.reason, RECOG_REASON_MODEL_ERROR);
    assert_int_equal(r.n_top, 0);
    assert_true(r.has_barcode);
    assert_string_equal(r.barcode.data, json_string_value(json_object_get(bc, "barcode")));
    assert_non_null(strstr(r.model_error, "no product model"));
    recog_image_free(&img);
    recog_image empty = {0};
    assert_int_equal(recog_classify(NULL, &empty, 0.0f, &r, &err), KASSA_EINVAL);
    json_decref(idx);
}

/* Model directories refused before the runtime is asked anything. */
static void test_model_dir_errors(void **state)
{
    (void)state;
    char dir[PATH_SIZE];
    assert_int_equal(tu_mkdtemp(dir, sizeof dir, "recog", false), 0);
    recog_model *m = (recog_model *)1;
    kassa_err err;
    assert_int_equal(recog_model_open(dir, &m, &err), KASSA_ENOTFOUND);
    assert_null(m);
    assert_non_null(strstr(err.msg, "labels.txt"));
    static const char *bad_labels[] = {"COF-250\n\nMLK-1L\n", "COF 250\n", "\n",
                                       "A234567890123456789012345678901234\n"};
    for (size_t i = 0; i < KASSA_ARRAY_LEN(bad_labels); i++) {
        /* The labels are checked first, before the model is looked at. */
        assert_int_equal(recog_model_open_parts(NULL, 0, bad_labels[i], strlen(bad_labels[i]), "{}",
                                                2, &m, &err),
                         KASSA_EINVAL);
        assert_null(m);
        print_message("labels %zu: %s\n", i, err.msg);
    }
    assert_int_equal(tu_seed_write(dir, "labels.txt", "COF-250\nMLK-1L", 14), 0);
    assert_int_equal(recog_model_open(dir, &m, &err), KASSA_ENOTFOUND); /* no product.tflite */
    assert_non_null(strstr(err.msg, "product.tflite"));
    assert_null(m);
    tu_rm_tree(dir);
}

static void model_dir(char *out)
{
    int n = snprintf(out, PATH_SIZE, "%s/../../models/product", fixtures_dir());
    assert_true(n > 0 && n < PATH_SIZE);
}

static recog_model *open_model(void)
{
    char dir[PATH_SIZE];
    model_dir(dir);
    recog_model *m = NULL;
    kassa_err err;
    int rc = recog_model_open(dir, &m, &err);
    if (rc != KASSA_OK)
        print_error("%s: %s\n", dir, err.msg);
    assert_int_equal(rc, KASSA_OK);
    assert_non_null(m);
    return m;
}

/* The canaries' outputs on the C runtime against the numpy reference. */
/* Runs every canary of canaries.json through ai (loaded from the model
 * directory's file); returns the largest |output - expected| and checks
 * each canary against its own tolerance. */
static int run_canaries(ai_model *ai, const char *label)
{
    char dir[PATH_SIZE], path[PATH_SIZE + 64];
    model_dir(dir);
    snprintf(path, sizeof path, "%s/canaries.json", dir);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    assert_non_null(doc);
    json_t *canaries = json_object_get(doc, "canaries");
    assert_int_equal(json_array_size(canaries), 3);
    ai_tensor_info in, out;
    kassa_err err;
    assert_int_equal(ai_model_input_info(ai, 0, &in, &err), KASSA_OK);
    assert_int_equal(ai_model_output_info(ai, 0, &out, &err), KASSA_OK);
    int worst = 0;
    size_t i;
    json_t *c;
    json_array_foreach(canaries, i, c)
    {
        snprintf(path, sizeof path, "%s/%s", dir,
                 json_string_value(json_object_get(json_object_get(c, "input"), "file")));
        size_t len;
        uint8_t *raw = read_all(path, &len);
        assert_int_equal(len, in.size_bytes);
        memcpy(ai_model_input(ai, 0), raw, len);
        free(raw);
        assert_int_equal(ai_model_invoke(ai, &err), KASSA_OK);
        const int8_t *got = ai_model_output(ai, 0);
        json_t *want = json_object_get(c, "expected");
        assert_int_equal(json_array_size(want), out.size_bytes);
        int tol = (int)json_integer_value(json_object_get(c, "tolerance_lsb"));
        int max_diff = 0;
        for (size_t k = 0; k < out.size_bytes; k++) {
            int d = abs((int)got[k] - (int)json_integer_value(json_array_get(want, k)));
            max_diff = d > max_diff ? d : max_diff;
        }
        print_message("%s, canary %s: max difference %d LSB (tolerance %d)\n", label,
                      json_string_value(json_object_get(c, "name")), max_diff, tol);
        assert_true(max_diff <= tol);
        worst = max_diff > worst ? max_diff : worst;
    }
    json_decref(doc);
    return worst;
}

/* The canaries on the C runtime against the numpy reference of TFLite's
 * kernels: within their tolerance on the default (XNNPACK) backend, and
 * exactly equal on the runtime's own TFLite-reference backend. */
static void test_canaries(void **state)
{
    (void)state;
    recog_model *m = open_model();
    int xnn = run_canaries(recog_model_ai(m), "XNNPACK");
    recog_model_free(m);
    char dir[PATH_SIZE], path[PATH_SIZE + 64];
    model_dir(dir);
    snprintf(path, sizeof path, "%s/product.tflite", dir);
    size_t len;
    uint8_t *tfl = read_all(path, &len);
    ai_load_opts opts = {.backend = AI_BACKEND_REFERENCE};
    ai_model *ref;
    kassa_err err;
    assert_int_equal(ai_model_load_opts(tfl, len, &opts, &ref, &err), KASSA_OK);
    free(tfl);
    int exact = run_canaries(ref, "reference");
    ai_model_free(ref);
    print_message("canaries vs numpy reference: XNNPACK max %d LSB, reference kernels max %d LSB\n",
                  xnn, exact);
    assert_int_equal(exact, 0);
}

/* Every fixture: the SKU for product views, a fallback for unknown
 * products and for the barcode image (with its barcode). */
static void test_classify_fixtures(void **state)
{
    (void)state;
    recog_model *m = open_model();
    assert_int_equal(recog_model_label_count(m), 36);
    assert_string_equal(recog_model_label(m, 0), "COF-250");
    assert_null(recog_model_label(m, 36));
    assert_true(recog_model_threshold(m) > 0.69f && recog_model_threshold(m) < 0.71f);
    json_t *idx = load_index();
    size_t i, n_product = 0, n_fallback = 0, n_barcode = 0;
    json_t *it;
    int worst = 0;
    json_array_foreach(json_object_get(idx, "images"), i, it)
    {
        const char *file = json_string_value(json_object_get(it, "file"));
        recog_image img;
        kassa_err err;
        decode_fixture(file, &img);
        recog_result r;
        assert_int_equal(recog_classify(m, &img, 0.0f, &r, &err), KASSA_OK);
        recog_image_free(&img);
        assert_int_equal(r.n_top, 3);
        /* The confidences are the reference's within the canary tolerance. */
        json_t *ref = json_object_get(it, "ref_output");
        for (int k = 0; k < r.n_top; k++) {
            size_t cls = 0;
            while (cls < recog_model_label_count(m) &&
                   strcmp(recog_model_label(m, cls), r.top[k].sku) != 0)
                cls++;
            int want = (int)json_integer_value(json_array_get(ref, cls));
            int got = (int)(r.top[k].confidence * 256.0f + 0.5f) - 128;
            worst = abs(got - want) > worst ? abs(got - want) : worst;
        }
        print_message("%-32s %-8s %.3f  %-8s %.3f  %s %s  (%.2f ms)\n", file, r.top[0].sku,
                      (double)r.top[0].confidence, r.top[1].sku, (double)r.top[1].confidence,
                      r.kind == RECOG_PRODUCT ? "product" : "fallback",
                      r.has_barcode ? r.barcode.data : "", r.model_ms);
        assert_true(r.top[0].confidence >= r.top[1].confidence);
        assert_true(r.top[1].confidence >= r.top[2].confidence);
        const char *expect = json_string_value(json_object_get(it, "expect"));
        if (strcmp(expect, "product") == 0) {
            assert_int_equal(r.kind, RECOG_PRODUCT);
            assert_int_equal(r.reason, RECOG_REASON_NONE);
            assert_string_equal(r.top[0].sku, json_string_value(json_object_get(it, "sku")));
            assert_true(r.top[0].confidence >= 0.70f);
            assert_false(r.has_barcode); /* zbar is not run for a product */
            n_product++;
        } else {
            assert_int_equal(r.kind, RECOG_FALLBACK);
            assert_int_equal(r.reason, RECOG_REASON_LOW_CONFIDENCE);
            assert_true(r.top[0].confidence < 0.70f);
            json_t *bc = json_object_get(it, "barcode");
            if (bc) {
                assert_true(r.has_barcode);
                assert_string_equal(r.barcode.data, json_string_value(bc));
                assert_string_equal(r.barcode.symbology, "EAN-13");
                n_barcode++;
            } else {
                assert_false(r.has_barcode);
            }
            n_fallback++;
        }
    }
    print_message("fixtures: C confidences vs reference, max %d LSB\n", worst);
    assert_true(worst <= 3);
    assert_int_equal(n_product, 14);
    assert_int_equal(n_fallback, 3);
    assert_int_equal(n_barcode, 1);
    /* A threshold above every confidence turns a product into a fallback. */
    recog_image img;
    kassa_err err;
    decode_fixture(json_string_value(
                       json_object_get(json_array_get(json_object_get(idx, "images"), 0), "file")),
                   &img);
    recog_result r;
    assert_int_equal(recog_classify(m, &img, 1.0f, &r, &err), KASSA_OK);
    if (r.top[0].confidence < 1.0f) {
        assert_int_equal(r.kind, RECOG_FALLBACK);
        assert_int_equal(r.reason, RECOG_REASON_LOW_CONFIDENCE);
    }
    recog_image_free(&img);
    json_decref(idx);
    recog_model_free(m);
}

/* Copies the model directory's files into dir, replacing one file's bytes. */
static void copy_model(const char *dir, const char *replace, const void *bytes, size_t n)
{
    static const char *files[] = {"product.tflite", "labels.txt", "preprocess.json"};
    char src[PATH_SIZE], path[PATH_SIZE + 64];
    model_dir(src);
    for (size_t i = 0; i < KASSA_ARRAY_LEN(files); i++) {
        if (replace && strcmp(files[i], replace) == 0) {
            assert_int_equal(tu_seed_write(dir, files[i], bytes, n), 0);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", src, files[i]);
        size_t len;
        uint8_t *data = read_all(path, &len);
        assert_int_equal(tu_seed_write(dir, files[i], data, len), 0);
        free(data);
    }
}

static void expect_refused(const char *what, const char *replace, const void *bytes, size_t n,
                           const char *msg)
{
    char dir[PATH_SIZE];
    assert_int_equal(tu_mkdtemp(dir, sizeof dir, "recog-model", false), 0);
    copy_model(dir, replace, bytes, n);
    recog_model *m = (recog_model *)1;
    kassa_err err;
    int rc = recog_model_open(dir, &m, &err);
    print_message("%s: %s\n", what, err.msg);
    assert_true(rc < 0);
    assert_null(m);
    assert_true(err.msg[0] != '\0');
    if (msg) /* the runtime's own words are its business */
        assert_non_null(strstr(err.msg, msg));
    tu_rm_tree(dir);
}

static void test_broken_models(void **state)
{
    (void)state;
    char dir[PATH_SIZE], path[PATH_SIZE + 64];
    model_dir(dir);
    snprintf(path, sizeof path, "%s/product.tflite", dir);
    size_t len;
    uint8_t *tfl = read_all(path, &len);
    expect_refused("truncated model", "product.tflite", tfl, len / 2, NULL);
    expect_refused("garbage model", "product.tflite", "TFL3 is not enough", 18, NULL);
    free(tfl);
    const char labels35[] = "COF-250\nCOF-1K\nMLK-1L\nBRD-SD\nMUF-BB\nCRS-BT\nMUG-KS\nBAG-CL\n"
                            "NEWS-D\nGFT-10\nCHS-GD\nYOG-NT\nBTR-250\nEGG-10\nAPL-1K\nBAN-1K\n"
                            "TOM-500\nPST-500\nRIC-1K\nOIL-OL\nTEA-GR\nCHO-DK\nJUI-OR\nWAT-15\n"
                            "COL-05\nBER-05\nWIN-RD\nSOP-HD\nTSP-4\nDET-1L\nBAT-AA\nPEN-BL\n"
                            "NBK-A5\nMAG-WK\nSTP-10\n";
    expect_refused("35 labels", "labels.txt", labels35, sizeof labels35 - 1, "one value per label");
    snprintf(path, sizeof path, "%s/preprocess.json", dir);
    uint8_t *spec = read_all(path, &len);
    spec[len] = '\0';
    char *bilinear = strstr((char *)spec, "area-average");
    assert_non_null(bilinear);
    memcpy(bilinear, "bilinear-xx!", 12);
    expect_refused("other resize", "preprocess.json", spec, len, "does not implement");
    free(spec);
    const char bad_json[] = "{\"format\": 1, ";
    expect_refused("bad json", "preprocess.json", bad_json, sizeof bad_json - 1, "JSON");
    const char shape[] =
        "{\"format\":1,\"input\":{\"shape\":[1,32,32,3],\"channels\":\"RGB\","
        "\"layout\":\"NHWC\"},\"crop\":\"center-square\",\"resize\":\"area-average\","
        "\"value_range\":[0,1]}";
    expect_refused("other shape", "preprocess.json", shape, sizeof shape - 1, "shape");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_decode_fixtures),
        cmocka_unit_test(test_preprocess_matches_python),
        cmocka_unit_test(test_resize_area),
        cmocka_unit_test(test_quantize),
        cmocka_unit_test(test_bad_images),
        cmocka_unit_test(test_barcode),
        cmocka_unit_test(test_classify_without_model),
        cmocka_unit_test(test_model_dir_errors),
        cmocka_unit_test(test_canaries),
        cmocka_unit_test(test_classify_fixtures),
        cmocka_unit_test(test_broken_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
