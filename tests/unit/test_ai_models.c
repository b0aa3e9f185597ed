/*
 * Conformance of the edge AI runtime (src/ai) on real TensorFlow Lite Micro
 * example models (tests/fixtures/tflm, see its README.md), on both backends:
 * XNNPACK (AI_BACKEND_AUTO) and the C kernels with TFLite's reference
 * integer arithmetic (AI_BACKEND_REFERENCE).
 *
 * - person_detect: the person image must score person > not-person, the
 *   no-person image the reverse (upstream person_detection_test.cc). The
 *   reference backend must give (-113, 113) on the person image: the
 *   output TFLite Micro's reference kernels give for this model and image,
 *   as published in tflite-micro issue #395 (a MicroPython build of TFLite
 *   Micro printing 'not a person' = -113, 'person' = 113).
 * - hello_world int8 (inputs -96, -63, -34, 0) and float (x = 0, 1, 3, 5):
 *   |sin(x) - y| <= 0.05 (upstream hello_world_test.cc).
 * - micro_speech: on the 49x40 yes (no) feature map the yes (no) score
 *   beats each of the other three (the legacy upstream micro_speech_test).
 * - the audio preprocessors use TFLM's custom signal ops: refused, naming
 *   them.
 * - XNNPACK and the reference agree within the LSB bounds documented in
 *   docs/AI.md; every output is printed so the figures can be reported.
 * - an invoke allocates nothing (a malloc counter around ai_model_invoke).
 *
 * KASSA_TEST_FIXTURES points at tests/fixtures.
 */
#include "testutil.h"
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/ai.h"

/* Largest |XNNPACK - reference| in output LSBs measured per model (see
 * docs/AI.md); the test fails if XNNPACK drifts further. */
#define PERSON_MAX_LSB 4
#define HELLO_MAX_LSB 1
#define SPEECH_MAX_LSB 1
#define HELLO_FLOAT_MAX_DIFF 1e-4f

/* ---- a malloc counter for the no-allocation check ---- */

static volatile int alloc_counting;
static volatile long alloc_count;

#if defined(__SANITIZE_ADDRESS__)
/* From the sanitizer runtime (sanitizer/allocator_interface.h, which gcc
 * does not install). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
static void count_malloc(const volatile void *p, size_t n)
{
    (void)p;
    (void)n;
    if (alloc_counting)
        alloc_count++;
}
static void count_free(const volatile void *p)
{
    (void)p;
}
static void alloc_counter_install(void)
{
    __sanitizer_install_malloc_and_free_hooks(count_malloc, count_free);
}
#else
/* The program's own allocation functions (interposed over glibc's for the
 * whole process, XNNPACK included) forward to glibc and count. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

void *malloc(size_t n)
{
    if (alloc_counting)
        alloc_count++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    if (alloc_counting)
        alloc_count++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    if (alloc_counting)
        alloc_count++;
    return __libc_realloc(p, n);
}
void *memalign(size_t a, size_t n)
{
    if (alloc_counting)
        alloc_count++;
    return __libc_memalign(a, n);
}
void *aligned_alloc(size_t a, size_t n)
{
    return memalign(a, n);
}
int posix_memalign(void **out, size_t a, size_t n)
{
    void *p = memalign(a, n);
    if (!p)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}
void free(void *p)
{
    __libc_free(p);
}
static void alloc_counter_install(void) {}
#endif

/* ---- fixtures ---- */

static uint8_t *read_fixture(const char *rel, size_t *len)
{
    const char *dir = getenv("KASSA_TEST_FIXTURES");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/tflm/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static ai_model *load(const char *rel, ai_backend backend)
{
    size_t len;
    uint8_t *bytes = read_fixture(rel, &len);
    ai_model *m = NULL;
    kassa_err err = {0};
    ai_load_opts opts = {.backend = backend};
    int rc = ai_model_load_opts(bytes, len, &opts, &m, &err);
    free(bytes);
    if (rc != KASSA_OK)
        fail_msg("%s: %s", rel, err.msg);
    assert_non_null(m);
    return m;
}

static void expect_io(ai_model *m, int i, bool input, ai_dtype dtype, int rank, const int32_t *dims)
{
    ai_tensor_info info;
    kassa_err err;
    int rc =
        input ? ai_model_input_info(m, i, &info, &err) : ai_model_output_info(m, i, &info, &err);
    assert_int_equal(rc, KASSA_OK);
    assert_int_equal(info.dtype, dtype);
    assert_int_equal(info.rank, rank);
    size_t count = 1;
    for (int d = 0; d < rank; d++) {
        assert_int_equal(info.dims[d], dims[d]);
        count *= (size_t)dims[d];
    }
    assert_int_equal(info.size_bytes, count * (dtype == AI_FLOAT32 ? 4 : 1));
}

static void invoke(ai_model *m)
{
    kassa_err err = {0};
    if (ai_model_invoke(m, &err) != KASSA_OK)
        fail_msg("invoke: %s", err.msg);
}

/* Runs input bytes through both backends; out_x / out_r get n int8
 * outputs; returns the largest difference in LSBs. */
static int run_both_s8(ai_model *x, ai_model *r, const void *in, size_t in_len, int8_t *out_x,
                       int8_t *out_r, size_t n)
{
    memcpy(ai_model_input(x, 0), in, in_len);
    memcpy(ai_model_input(r, 0), in, in_len);
    invoke(x);
    invoke(r);
    memcpy(out_x, ai_model_output(x, 0), n);
    memcpy(out_r, ai_model_output(r, 0), n);
    int worst = 0;
    for (size_t i = 0; i < n; i++)
        if (abs(out_x[i] - out_r[i]) > worst)
            worst = abs(out_x[i] - out_r[i]);
    return worst;
}

static void print_scores(const char *what, const int8_t *x, const int8_t *r, size_t n)
{
    printf("%-34s xnnpack:", what);
    for (size_t i = 0; i < n; i++)
        printf(" %4d", x[i]);
    printf("   reference:");
    for (size_t i = 0; i < n; i++)
        printf(" %4d", r[i]);
    printf("\n");
}

/* ---- person detection ---- */

static void test_person_detect(void **state)
{
    (void)state;
    ai_model *x = load("person_detection/person_detect.tflite", AI_BACKEND_AUTO);
    ai_model *r = load("person_detection/person_detect.tflite", AI_BACKEND_REFERENCE);
    const int32_t in_dims[] = {1, 96, 96, 1}, out_dims[] = {1, 2};
    expect_io(x, 0, true, AI_INT8, 4, in_dims);
    expect_io(x, 0, false, AI_INT8, 2, out_dims);
    expect_io(r, 0, true, AI_INT8, 4, in_dims);
    assert_int_equal(ai_model_op_count(x), 31);
    assert_true(ai_model_xnn_op_count(x) >= 28); /* all but AVERAGE_POOL_2D and SOFTMAX */
    assert_int_equal(ai_model_xnn_op_count(r), 0);
    assert_true(ai_model_memory_bytes(x) > 250000); /* weights alone are ~250 KB */

    const char *images[] = {"person_detection/person_96x96_int8.raw",
                            "person_detection/no_person_96x96_int8.raw"};
    int worst = 0;
    for (int k = 0; k < 2; k++) {
        size_t len;
        uint8_t *img = read_fixture(images[k], &len);
        assert_int_equal(len, 96 * 96);
        int8_t ox[2], orf[2];
        int d = run_both_s8(x, r, img, len, ox, orf, 2);
        worst = d > worst ? d : worst;
        print_scores(k == 0 ? "person_detect person [not, person]"
                            : "person_detect no_person [not, person]",
                     ox, orf, 2);
        bool person = k == 0;
        assert_true(person ? ox[1] > ox[0] : ox[0] > ox[1]);
        assert_true(person ? orf[1] > orf[0] : orf[0] > orf[1]);
        if (person) { /* TFLite Micro's published output for this image */
            assert_int_equal(orf[0], -113);
            assert_int_equal(orf[1], 113);
        }
        /* Inputs survive an invoke: running again gives the same scores. */
        invoke(x);
        assert_memory_equal(ai_model_output(x, 0), ox, 2);
        free(img);
    }
    printf("person_detect: max |xnnpack - reference| = %d LSB\n", worst);
    assert_true(worst <= PERSON_MAX_LSB);
    ai_model_free(x);
    ai_model_free(r);
}

/* ---- hello world ---- */

static void test_hello_world_int8(void **state)
{
    (void)state;
    ai_model *x = load("hello_world/hello_world_int8.tflite", AI_BACKEND_AUTO);
    ai_model *r = load("hello_world/hello_world_int8.tflite", AI_BACKEND_REFERENCE);
    const int32_t dims[] = {1, 1};
    expect_io(x, 0, true, AI_INT8, 2, dims);
    expect_io(x, 0, false, AI_INT8, 2, dims);
    ai_tensor_info in, out;
    assert_int_equal(ai_model_input_info(x, 0, &in, NULL), KASSA_OK);
    assert_int_equal(ai_model_output_info(x, 0, &out, NULL), KASSA_OK);
    assert_float_equal(in.scale, 0.024480116f, 1e-7f);
    assert_int_equal(in.zero_point, -128);
    assert_float_equal(out.scale, 0.008290957f, 1e-7f);
    assert_int_equal(out.zero_point, 5);
    /* expected_outputs.json: int8 inputs for x = 0.77, 1.57, 2.3, 3.14. */
    const int8_t inputs[] = {-96, -63, -34, 0};
    const float xs[] = {0.77f, 1.57f, 2.3f, 3.14f};
    int worst = 0;
    for (int k = 0; k < 4; k++) {
        int8_t ox, orf;
        int d = run_both_s8(x, r, &inputs[k], 1, &ox, &orf, 1);
        worst = d > worst ? d : worst;
        float yx = (float)(ox - out.zero_point) * out.scale;
        float yr = (float)(orf - out.zero_point) * out.scale;
        printf("hello_world int8 x=%.2f (in %4d): xnnpack %4d (%.4f) reference %4d (%.4f) "
               "sin %.4f\n",
               xs[k], inputs[k], ox, yx, orf, yr, sinf(xs[k]));
        assert_true(fabsf(sinf(xs[k]) - yx) <= 0.05f);
        assert_true(fabsf(sinf(xs[k]) - yr) <= 0.05f);
    }
    printf("hello_world int8: max |xnnpack - reference| = %d LSB\n", worst);
    assert_true(worst <= HELLO_MAX_LSB);
    ai_model_free(x);
    ai_model_free(r);
}

static void test_hello_world_float(void **state)
{
    (void)state;
    ai_model *x = load("hello_world/hello_world_float.tflite", AI_BACKEND_AUTO);
    ai_model *r = load("hello_world/hello_world_float.tflite", AI_BACKEND_REFERENCE);
    const int32_t dims[] = {1, 1};
    expect_io(x, 0, true, AI_FLOAT32, 2, dims);
    expect_io(x, 0, false, AI_FLOAT32, 2, dims);
    assert_int_equal(ai_model_xnn_op_count(x), 3);
    const float xs[] = {0.0f, 1.0f, 3.0f, 5.0f};
    float worst = 0.0f;
    for (int k = 0; k < 4; k++) {
        memcpy(ai_model_input(x, 0), &xs[k], sizeof(float));
        memcpy(ai_model_input(r, 0), &xs[k], sizeof(float));
        invoke(x);
        invoke(r);
        float yx, yr;
        memcpy(&yx, ai_model_output(x, 0), sizeof yx);
        memcpy(&yr, ai_model_output(r, 0), sizeof yr);
        printf("hello_world float x=%.0f: xnnpack %.6f reference %.6f sin %.6f\n", xs[k], yx, yr,
               sinf(xs[k]));
        assert_true(fabsf(sinf(xs[k]) - yx) <= 0.05f);
        assert_true(fabsf(sinf(xs[k]) - yr) <= 0.05f);
        worst = fabsf(yx - yr) > worst ? fabsf(yx - yr) : worst;
    }
    printf("hello_world float: max |xnnpack - reference| = %g\n", worst);
    assert_true(worst <= HELLO_FLOAT_MAX_DIFF);
    ai_model_free(x);
    ai_model_free(r);
}

/* ---- micro speech ---- */

static void test_micro_speech(void **state)
{
    (void)state;
    ai_model *x = load("micro_speech/micro_speech_quantized.tflite", AI_BACKEND_AUTO);
    ai_model *r = load("micro_speech/micro_speech_quantized.tflite", AI_BACKEND_REFERENCE);
    const int32_t in_dims[] = {1, 1960}, out_dims[] = {1, 4};
    expect_io(x, 0, true, AI_INT8, 2, in_dims);
    expect_io(x, 0, false, AI_INT8, 2, out_dims);
    const char *maps[] = {"micro_speech/features/yes_micro_features_49x40_int8.raw",
                          "micro_speech/features/no_micro_features_49x40_int8.raw"};
    const int want[] = {2, 3}; /* labels: silence, unknown, yes, no */
    int worst = 0;
    for (int k = 0; k < 2; k++) {
        size_t len;
        uint8_t *feat = read_fixture(maps[k], &len);
        assert_int_equal(len, 1960);
        int8_t ox[4], orf[4];
        int d = run_both_s8(x, r, feat, len, ox, orf, 4);
        worst = d > worst ? d : worst;
        print_scores(k == 0 ? "micro_speech yes [sil, unk, yes, no]"
                            : "micro_speech no  [sil, unk, yes, no]",
                     ox, orf, 4);
        for (int c = 0; c < 4; c++) {
            if (c == want[k])
                continue;
            assert_true(ox[want[k]] > ox[c]);
            assert_true(orf[want[k]] > orf[c]);
        }
        free(feat);
    }
    printf("micro_speech: max |xnnpack - reference| = %d LSB\n", worst);
    assert_true(worst <= SPEECH_MAX_LSB);
    ai_model_free(x);
    ai_model_free(r);
}

/* ---- refusals ---- */

static void test_audio_preprocessors_refused(void **state)
{
    (void)state;
    const char *models[] = {"micro_speech/audio_preprocessor_int8.tflite",
                            "micro_speech/audio_preprocessor_float.tflite"};
    for (int k = 0; k < 2; k++) {
        size_t len;
        uint8_t *bytes = read_fixture(models[k], &len);
        ai_model *m = (ai_model *)0x1;
        kassa_err err = {0};
        int rc = ai_model_load(bytes, len, &m, &err);
        printf("%s: %s\n", models[k], err.msg);
        assert_int_equal(rc, KASSA_EINVAL);
        assert_int_equal(err.code, KASSA_EINVAL);
        assert_null(m);
        assert_true(tu_contains(err.msg, "unsupported operator"));
        assert_true(tu_contains(err.msg, "custom 'SignalWindow'"));
        assert_true(tu_contains(err.msg, "custom 'SignalRfft'"));
        free(bytes);
    }
}

static void test_load_file_errors(void **state)
{
    (void)state;
    ai_model *m = NULL;
    kassa_err err;
    assert_int_equal(ai_model_load_file("/nonexistent/model.tflite", &m, &err), KASSA_ENOTFOUND);
    assert_null(m);
    assert_true(tu_contains(err.msg, "/nonexistent/model.tflite"));
    char path[1024];
    snprintf(path, sizeof path, "%s/tflm/hello_world/hello_world_int8.tflite",
             getenv("KASSA_TEST_FIXTURES"));
    assert_int_equal(ai_model_load_file(path, &m, &err), KASSA_OK);
    assert_int_equal(ai_model_input_count(m), 1);
    assert_int_equal(ai_model_output_count(m), 1);
    ai_tensor_info info;
    assert_int_equal(ai_model_input_info(m, 1, &info, &err), KASSA_EINVAL);
    assert_int_equal(ai_model_output_info(m, -1, &info, &err), KASSA_EINVAL);
    assert_null(ai_model_input(m, 1));
    assert_null(ai_model_output(m, 1));
    assert_string_equal(ai_dtype_name(AI_INT8), "int8");
    assert_string_equal(ai_dtype_name(AI_FLOAT32), "float32");
    ai_model_free(m);
}

/* ---- no allocation per inference ---- */

static void test_invoke_allocates_nothing(void **state)
{
    (void)state;
    alloc_counter_install();
    const char *models[] = {"person_detection/person_detect.tflite",
                            "micro_speech/micro_speech_quantized.tflite",
                            "hello_world/hello_world_float.tflite"};
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < 2; b++) {
            ai_model *m = load(models[k], b ? AI_BACKEND_REFERENCE : AI_BACKEND_AUTO);
            invoke(m); /* first run */
            /* Make sure the counter itself works: an allocation counts. */
            alloc_count = 0;
            alloc_counting = 1;
            void *volatile probe = malloc(16);
            alloc_counting = 0;
            free(probe);
            assert_int_equal(alloc_count, 1);
            alloc_count = 0;
            alloc_counting = 1;
            kassa_err err;
            int rc = KASSA_OK;
            for (int i = 0; i < 3 && rc == KASSA_OK; i++)
                rc = ai_model_invoke(m, &err);
            alloc_counting = 0;
            assert_int_equal(rc, KASSA_OK);
            if (alloc_count != 0)
                fail_msg("%s backend %d: %ld allocations in 3 invokes", models[k], b, alloc_count);
            ai_model_free(m);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_person_detect),
        cmocka_unit_test(test_hello_world_int8),
        cmocka_unit_test(test_hello_world_float),
        cmocka_unit_test(test_micro_speech),
        cmocka_unit_test(test_audio_preprocessors_refused),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_invoke_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
