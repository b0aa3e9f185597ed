/* camera.c: one frame from a V4L2 device (camera.h). */
#include "camera/camera.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static uint8_t clamp_u8(int v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* BT.601 limited range in fixed point (coefficients x 256). */
static void yuv_to_rgb(int y, int u, int v, uint8_t *out)
{
    int c = 298 * (y - 16), d = u - 128, e = v - 128;
    out[0] = clamp_u8((c + 409 * e + 128) >> 8);
    out[1] = clamp_u8((c - 100 * d - 208 * e + 128) >> 8);
    out[2] = clamp_u8((c + 516 * d + 128) >> 8);
}

int camera_yuyv_to_rgb(const uint8_t *yuyv, size_t size_bytes, uint32_t width, uint32_t height,
                       uint32_t stride_bytes, uint8_t *rgb, kassa_err *err)
{
    if (width == 0 || height == 0 || width % 2 != 0 || width > CAMERA_MAX_SIDE ||
        height > CAMERA_MAX_SIDE || stride_bytes < 2 * width ||
        (size_t)stride_bytes * (height - 1) + 2 * (size_t)width > size_bytes)
        return kassa_fail(err, KASSA_EINVAL, "camera: a %ux%u YUYV frame of %zu bytes (stride %u)",
                          width, height, size_bytes, stride_bytes);
    for (uint32_t row = 0; row < height; row++) {
        const uint8_t *p = yuyv + (size_t)row * stride_bytes;
        uint8_t *o = rgb + (size_t)row * width * 3;
        for (uint32_t x = 0; x < width; x += 2, p += 4, o += 6) {
            yuv_to_rgb(p[0], p[1], p[3], o);
            yuv_to_rgb(p[2], p[1], p[3], o + 3);
        }
    }
    return KASSA_OK;
}

void camera_frame_free(camera_frame *f)
{
    free(f->data);
    memset(f, 0, sizeof *f);
}

/* ioctl, retried when a signal interrupted it. */
static int xioctl(int fd, unsigned long req, void *arg)
{
    int rc;
    do
        rc = ioctl(fd, req, arg);
    while (rc < 0 && errno == EINTR);
    return rc;
}

typedef struct capture {
    int fd;
    void *map[CAMERA_BUFFERS];
    size_t map_len[CAMERA_BUFFERS];
    uint32_t n_maps;
    bool streaming;
} capture;

static int fail_io(kassa_err *err, const char *path, const char *step)
{
    return kassa_fail(err, KASSA_EIO, "camera %s: %s: %s", path, step, strerror(errno));
}

static int set_format(capture *c, const char *path, uint32_t width, uint32_t height,
                      struct v4l2_format *fmt, kassa_err *err)
{
    static const uint32_t WANT[] = {V4L2_PIX_FMT_MJPEG, V4L2_PIX_FMT_YUYV};
    for (size_t i = 0; i < sizeof WANT / sizeof WANT[0]; i++) {
        memset(fmt, 0, sizeof *fmt);
        fmt->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        fmt->fmt.pix.width = width;
        fmt->fmt.pix.height = height;
        fmt->fmt.pix.pixelformat = WANT[i];
        fmt->fmt.pix.field = V4L2_FIELD_NONE;
        if (xioctl(c->fd, VIDIOC_S_FMT, fmt) == 0 && fmt->fmt.pix.pixelformat == WANT[i])
            return KASSA_OK;
    }
    return kassa_fail(err, KASSA_EIO, "camera %s: offers neither MJPEG nor YUYV", path);
}

static int start(capture *c, const char *path, kassa_err *err)
{
    struct v4l2_requestbuffers req = {
        .count = CAMERA_BUFFERS, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
    if (xioctl(c->fd, VIDIOC_REQBUFS, &req) < 0)
        return fail_io(err, path, "request buffers");
    if (req.count < 1 || req.count > CAMERA_BUFFERS)
        return kassa_fail(err, KASSA_EIO, "camera %s: %u buffers granted", path, req.count);
    for (uint32_t i = 0; i < req.count; i++) {
        struct v4l2_buffer b = {
            .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP, .index = i};
        if (xioctl(c->fd, VIDIOC_QUERYBUF, &b) < 0)
            return fail_io(err, path, "query buffer");
        void *m = mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, b.m.offset);
        if (m == MAP_FAILED)
            return fail_io(err, path, "map buffer");
        c->map[i] = m;
        c->map_len[i] = b.length;
        c->n_maps = i + 1;
        if (xioctl(c->fd, VIDIOC_QBUF, &b) < 0)
            return fail_io(err, path, "queue buffer");
    }
    enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (xioctl(c->fd, VIDIOC_STREAMON, &type) < 0)
        return fail_io(err, path, "start streaming");
    c->streaming = true;
    return KASSA_OK;
}

/* Dequeues the next filled buffer (index and bytes in *b). */
static int next_frame(capture *c, const char *path, struct v4l2_buffer *b, kassa_err *err)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int rc;
    do
        rc = poll(&pfd, 1, CAMERA_TIMEOUT_MS);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return fail_io(err, path, "wait for a frame");
    if (rc == 0)
        return kassa_fail(err, KASSA_EIO, "camera %s: no frame within %d ms", path,
                          CAMERA_TIMEOUT_MS);
    memset(b, 0, sizeof *b);
    b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b->memory = V4L2_MEMORY_MMAP;
    if (xioctl(c->fd, VIDIOC_DQBUF, b) < 0)
        return fail_io(err, path, "take a frame");
    if (b->index >= c->n_maps || b->bytesused > c->map_len[b->index])
        return kassa_fail(err, KASSA_EIO, "camera %s: the driver returned a bad buffer", path);
    return KASSA_OK;
}

static int copy_frame(const capture *c, const struct v4l2_format *fmt, const struct v4l2_buffer *b,
                      camera_frame *out, kassa_err *err)
{
    const uint8_t *src = c->map[b->index];
    uint32_t w = fmt->fmt.pix.width, h = fmt->fmt.pix.height;
    if (b->bytesused == 0 || b->bytesused > CAMERA_MAX_FRAME_BYTES || w == 0 || h == 0 ||
        w > CAMERA_MAX_SIDE || h > CAMERA_MAX_SIDE)
        return kassa_fail(err, KASSA_EIO, "camera: a frame of %u bytes at %ux%u", b->bytesused, w,
                          h);
    out->width = w;
    out->height = h;
    if (fmt->fmt.pix.pixelformat == V4L2_PIX_FMT_MJPEG) {
        out->format = CAMERA_JPEG;
        out->size_bytes = b->bytesused;
        if (!(out->data = malloc(out->size_bytes)))
            return kassa_fail(err, KASSA_ENOMEM, "out of memory");
        memcpy(out->data, src, out->size_bytes);
        return KASSA_OK;
    }
    out->format = CAMERA_RGB8;
    out->size_bytes = (size_t)w * h * 3;
    if (!(out->data = malloc(out->size_bytes)))
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    return camera_yuyv_to_rgb(src, b->bytesused, w, h, fmt->fmt.pix.bytesperline, out->data, err);
}

static void stop(capture *c)
{
    if (c->streaming) {
        enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        (void)xioctl(c->fd, VIDIOC_STREAMOFF, &type);
    }
    for (uint32_t i = 0; i < c->n_maps; i++)
        munmap(c->map[i], c->map_len[i]);
    if (c->fd >= 0)
        close(c->fd);
}

int camera_grab(const char *path, uint32_t width, uint32_t height, camera_frame *out,
                kassa_err *err)
{
    memset(out, 0, sizeof *out);
    if (width == 0 || height == 0 || width > CAMERA_MAX_SIDE || height > CAMERA_MAX_SIDE)
        return kassa_fail(err, KASSA_EINVAL, "camera: a size of %ux%u", width, height);
    capture c = {.fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)};
    if (c.fd < 0)
        return fail_io(err, path, "open");
    struct v4l2_capability cap;
    struct v4l2_format fmt;
    int rc = KASSA_OK;
    if (xioctl(c.fd, VIDIOC_QUERYCAP, &cap) < 0)
        rc = fail_io(err, path, "not a V4L2 device");
    else if (!(cap.capabilities & V4L2_CAP_VIDEO_CAPTURE) ||
             !(cap.capabilities & V4L2_CAP_STREAMING))
        rc = kassa_fail(err, KASSA_EIO, "camera %s: not a streaming capture device", path);
    if (rc == KASSA_OK)
        rc = set_format(&c, path, width, height, &fmt, err);
    if (rc == KASSA_OK)
        rc = start(&c, path, err);
    /* The warm-up frames go back to the driver; the last one is kept. */
    for (int i = 0; rc == KASSA_OK && i < CAMERA_WARMUP_FRAMES; i++) {
        struct v4l2_buffer b;
        if ((rc = next_frame(&c, path, &b, err)) != KASSA_OK)
            break;
        if (i == CAMERA_WARMUP_FRAMES - 1)
            rc = copy_frame(&c, &fmt, &b, out, err);
        else if (xioctl(c.fd, VIDIOC_QBUF, &b) < 0)
            rc = fail_io(err, path, "queue buffer");
    }
    stop(&c);
    if (rc != KASSA_OK)
        camera_frame_free(out);
    return rc;
}
