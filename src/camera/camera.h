/*
 * camera: one frame from a V4L2 camera, the terminal's optional frame
 * source for product recognition ([ai] camera in kassad.ini; docs/AI.md).
 *
 * The device is opened per capture (a checkout terminal grabs a frame when
 * the cashier asks, not a stream): query its capabilities, ask for MJPEG
 * (else YUYV) at the configured size, map CAMERA_BUFFERS buffers, stream
 * until the CAMERA_WARMUP_FRAMES-th frame (the first ones of many cameras
 * are dark or half exposed), copy it, stop. Every ioctl is bounded by a
 * poll timeout, so a camera that stops answering is an error, not a hang.
 *
 * The frame comes back as the encoded JPEG (MJPEG, decoded by the caller
 * like an uploaded photo) or as RGB8 converted from YUYV
 * (camera_yuyv_to_rgb, pure and unit-tested).
 */
#ifndef KASSA_CAMERA_H
#define KASSA_CAMERA_H

#include "base/base.h"

#include <stddef.h>
#include <stdint.h>

#define CAMERA_BUFFERS 2
#define CAMERA_WARMUP_FRAMES 3
#define CAMERA_TIMEOUT_MS 2000
#define CAMERA_MAX_SIDE 4096u
#define CAMERA_MAX_FRAME_BYTES (16u << 20)

typedef enum camera_format {
    CAMERA_JPEG = 1, /* data: one JPEG image */
    CAMERA_RGB8 = 2, /* data: width x height x 3, rows top to bottom */
} camera_format;

typedef struct camera_frame {
    camera_format format;
    uint32_t width, height;
    uint8_t *data; /* malloc'd; camera_frame_free */
    size_t size_bytes;
} camera_frame;

/* Captures one frame from the device at path (e.g. /dev/video0), asking
 * for width x height (the driver may choose another size: the frame says
 * which). KASSA_EIO naming the step that failed (not a capture device, no
 * usable format, timeout ...). */
int camera_grab(const char *path, uint32_t width, uint32_t height, camera_frame *out,
                kassa_err *err);
void camera_frame_free(camera_frame *f);

/* YUYV 4:2:2 (Y0 U Y1 V per two pixels, BT.601 limited range) to RGB8.
 * width must be even; stride_bytes >= 2 * width; rgb holds 3 * w * h. */
int camera_yuyv_to_rgb(const uint8_t *yuyv, size_t size_bytes, uint32_t width, uint32_t height,
                       uint32_t stride_bytes, uint8_t *rgb, kassa_err *err);

#endif
