/*
 * present.c: `kassa-reader-sim present`, a client of the daemon's socket:
 * sends one control message, waits for the answer, exits 0 on "ok" and 1
 * with a one-line message otherwise.
 */
#include "readersim/readersim.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* How long the daemon has to answer a present. */
#define PRESENT_ANSWER_TIMEOUT_MS 10000

static int present_usage(void)
{
    fprintf(stderr, "usage: " RS_PROG " present --socket PATH (NUMBER MM/YY | --timeout | "
                    "--disconnect | --remove)\n");
    return 2;
}

static int fail(const char *what, const char *why)
{
    fprintf(stderr, RS_PROG ": %s: %s\n", what, why);
    return 1;
}

static int connect_to(const char *path, int *out)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return fail(path, "socket path too long");
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail("socket", strerror(errno));
    struct timeval tv = {PRESENT_ANSWER_TIMEOUT_MS / 1000, 0};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
        int e = errno;
        close(fd);
        return fail("setsockopt", strerror(e));
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        return fail(path, strerror(e));
    }
    *out = fd;
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one line (at most PAY_LINE_MAX_BYTES) into buf; its length or -1. */
static ssize_t read_line(int fd, char *buf, size_t size)
{
    size_t n = 0;
    while (n < size) {
        ssize_t r = recv(fd, buf + n, size - n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            errno = 0; /* closed without an answer */
        if (r <= 0)
            return -1;
        n += (size_t)r;
        if (memchr(buf, '\n', n))
            return (ssize_t)n;
    }
    return -1;
}

static int send_present(const char *path, const rs_present *p)
{
    kbuf line;
    kbuf_init(&line);
    kassa_err err;
    if (rs_present_encode(p, &line, &err) != KASSA_OK) {
        kbuf_free(&line);
        return fail("present", err.msg);
    }
    int fd = -1;
    int rc = connect_to(path, &fd);
    if (rc == 0 && write_all(fd, line.data, line.len) != 0)
        rc = fail("sending to the reader", strerror(errno));
    sodium_memzero(line.data, line.len);
    kbuf_free(&line);
    if (rc != 0) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    char answer[PAY_LINE_MAX_BYTES];
    ssize_t n = read_line(fd, answer, sizeof answer);
    int e = errno;
    close(fd);
    if (n < 0)
        return fail("waiting for the reader", e ? strerror(e) : "no answer");
    bool ok;
    char message[128];
    if (rs_control_reply_decode(answer, (size_t)n, &ok, message, sizeof message, &err) != KASSA_OK)
        return fail("the reader's answer", err.msg);
    if (!ok)
        return fail("the reader refused", message);
    return 0;
}

int rs_present_main(int argc, char **argv)
{
    const char *path = NULL, *expiry = NULL;
    rs_present p;
    memset(&p, 0, sizeof p);
    bool has_number = false;
    int rc = 0;
    for (int i = 0; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        rs_present_kind k = 0;
        if (strcmp(a, "--timeout") == 0)
            k = RS_PRESENT_TIMEOUT;
        else if (strcmp(a, "--disconnect") == 0)
            k = RS_PRESENT_DISCONNECT;
        else if (strcmp(a, "--remove") == 0)
            k = RS_PRESENT_REMOVE;
        if (k) {
            if (p.kind)
                rc = present_usage();
            p.kind = k;
        } else if (strcmp(a, "--socket") == 0 && i + 1 < argc && !path) {
            path = argv[++i];
        } else if (a[0] != '-' && !has_number) {
            if (!rs_take_number(argv[i], &p)) {
                fprintf(stderr, RS_PROG ": card number: expected at most %d digits\n",
                        RS_NUMBER_MAX);
                rc = 2;
            }
            has_number = true;
        } else if (a[0] != '-' && has_number && !expiry) {
            expiry = a;
        } else {
            rc = present_usage();
        }
    }
    if (rc == 0 && (!path || (has_number ? (p.kind || !expiry) : (!p.kind || expiry))))
        rc = present_usage();
    if (rc == 0 && has_number) {
        int m, y;
        if (!rs_parse_expiry(expiry, &m, &y)) {
            fprintf(stderr, RS_PROG ": expiry: expected MM/YY\n");
            rc = 2;
        } else {
            p.kind = RS_PRESENT_CARD;
            memcpy(p.expiry, expiry, 6);
        }
    }
    if (rc == 0)
        rc = send_present(path, &p);
    rs_present_wipe(&p);
    return rc;
}
