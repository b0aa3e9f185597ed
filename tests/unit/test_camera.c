/*
 * Unit tests of the camera frame source (src/camera): the YUYV to RGB
 * conversion (BT.601 limited range: black, white, saturated red and blue,
 * strides, bounds), and camera_grab's refusals of what is not a V4L2
 * capture device. This machine has no camera, so the capture itself is
 * not exercised here (docs/AI.md says so).
 */
#include "testutil.h"
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "camera/camera.h"

static void assert_rgb_near(const uint8_t *got, int r, int g, int b)
{
    int want[3] = {r, g, b};
    for (int i = 0; i < 3; i++)
        if (abs((int)got[i] - want[i]) > 2)
            fail_msg("channel %d: got %d, want %d", i, got[i], want[i]);
}

static void test_yuyv_colours(void **state)
{
    (void)state;
    /* Two rows of two pixels, stride 6 (2 bytes of padding per row):
     * row 0: black, white (shared chroma neutral); row 1: red, red. */
    static const uint8_t FRAME[] = {16, 128, 235, 128, 0, 0, 81, 90, 81, 240, 0, 0};
    uint8_t rgb[2 * 2 * 3];
    kassa_err err;
    assert_int_equal(camera_yuyv_to_rgb(FRAME, sizeof FRAME, 2, 2, 6, rgb, &err), KASSA_OK);
    assert_rgb_near(rgb + 0, 0, 0, 0);
    assert_rgb_near(rgb + 3, 255, 255, 255);
    assert_rgb_near(rgb + 6, 255, 0, 0);
    assert_rgb_near(rgb + 9, 255, 0, 0);
    static const uint8_t BLUE[] = {41, 240, 41, 110};
    assert_int_equal(camera_yuyv_to_rgb(BLUE, sizeof BLUE, 2, 1, 4, rgb, &err), KASSA_OK);
    assert_rgb_near(rgb, 0, 0, 255);
}

static void test_yuyv_bounds(void **state)
{
    (void)state;
    uint8_t buf[64] = {0}, rgb[64 * 3];
    kassa_err err;
    /* odd width, short stride, frame shorter than its rows, zero sizes */
    assert_int_equal(camera_yuyv_to_rgb(buf, sizeof buf, 3, 1, 8, rgb, &err), KASSA_EINVAL);
    assert_int_equal(camera_yuyv_to_rgb(buf, sizeof buf, 4, 1, 6, rgb, &err), KASSA_EINVAL);
    assert_int_equal(camera_yuyv_to_rgb(buf, 15, 4, 2, 8, rgb, &err), KASSA_EINVAL);
    assert_int_equal(camera_yuyv_to_rgb(buf, sizeof buf, 0, 1, 8, rgb, &err), KASSA_EINVAL);
    assert_int_equal(camera_yuyv_to_rgb(buf, sizeof buf, 4, 0, 8, rgb, &err), KASSA_EINVAL);
    /* the last row needs only its pixels, not a whole stride */
    assert_int_equal(camera_yuyv_to_rgb(buf, 8 + 8, 4, 2, 8, rgb, &err), KASSA_OK);
}

static void test_grab_refuses_non_cameras(void **state)
{
    (void)state;
    camera_frame f;
    kassa_err err;
    assert_int_equal(camera_grab("/dev/null", 640, 480, &f, &err), KASSA_EIO);
    assert_non_null(strstr(err.msg, "not a V4L2 device"));
    assert_null(f.data);
    assert_int_equal(camera_grab("/nonexistent/video9", 640, 480, &f, &err), KASSA_EIO);
    assert_non_null(strstr(err.msg, "open"));
    assert_int_equal(camera_grab("/dev/null", 0, 480, &f, &err), KASSA_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yuyv_colours),
        cmocka_unit_test(test_yuyv_bounds),
        cmocka_unit_test(test_grab_refuses_non_cameras),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
