/*
 * File helpers of the registry: bounded whole-file reads, durable writes
 * (fsync before rename, directories fsync'd by the caller when it matters),
 * and the one-line base64 files of keys and signatures.
 */
#include "modelreg/modelreg_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mr_path(char *buf, size_t size, kassa_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        return kassa_fail(err, KASSA_EINVAL, "path too long (at most %zu bytes)", size - 1);
    return KASSA_OK;
}

int mr_prefix(kassa_err *err, const char *what, const char *name)
{
    char msg[KASSA_ERR_MSG_SIZE];
    memcpy(msg, err->msg, sizeof msg);
    msg[sizeof msg - 1] = '\0';
    return kassa_fail(err, err->code, "%s%s%s: %s", what, name ? " " : "", name ? name : "", msg);
}

static int io_code(int e)
{
    return e == ENOSPC || e == EDQUOT ? KASSA_EFULL : KASSA_EIO;
}

int mr_read_file(const char *path, size_t max_bytes, bool private_only, uint8_t **data, size_t *len,
                 kassa_err *err)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kassa_fail(err, errno == ENOENT ? KASSA_ENOTFOUND : KASSA_EIO, "cannot open %s: %s",
                          path, strerror(errno));
    struct stat st;
    int rc = KASSA_OK;
    if (fstat(fd, &st) != 0)
        rc = kassa_fail(err, KASSA_EIO, "cannot stat %s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = kassa_fail(err, KASSA_EINVAL, "%s is not a regular file", path);
    else if (private_only && (st.st_mode & 077))
        rc = kassa_fail(err, KASSA_EINVAL, "%s is readable by others (mode %04o): chmod 600", path,
                        (unsigned)(st.st_mode & 07777));
    else if ((uint64_t)st.st_size > max_bytes)
        rc = kassa_fail(err, KASSA_ECORRUPT, "%s: larger than %zu bytes", path, max_bytes);
    /* read one byte past the size seen, to notice a file that grew */
    size_t cap = rc == KASSA_OK ? (size_t)st.st_size + 1 : 0;
    uint8_t *buf = rc == KASSA_OK ? malloc(cap) : NULL;
    if (rc == KASSA_OK && !buf)
        rc = kassa_fail(err, KASSA_ENOMEM, "out of memory reading %s", path);
    size_t n = 0;
    while (rc == KASSA_OK && n < cap) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = kassa_fail(err, KASSA_EIO, "cannot read %s: %s", path, strerror(errno));
        else if (got == 0)
            break;
        else
            n += (size_t)got;
    }
    if (rc == KASSA_OK && n > (size_t)st.st_size)
        rc = kassa_fail(err, KASSA_EIO, "%s changed while being read", path);
    close(fd);
    if (rc != KASSA_OK) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = n;
    return KASSA_OK;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? (errno = EIO, -1) : -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes and fsyncs an opened file, then closes it; errno-style result. */
static int fill_fd(int fd, const void *data, size_t len, mode_t mode)
{
    int e = 0;
    errno = 0;
    if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0)
        e = errno ? errno : EIO;
    if (close(fd) != 0 && !e)
        e = errno;
    return e;
}

int mr_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         kassa_err *err)
{
    char tmp[MODELREG_PATH_MAX];
    int rc = mr_path(tmp, sizeof tmp, err, "%s.tmp", path);
    if (rc != KASSA_OK)
        return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return kassa_fail(err, io_code(errno), "cannot create %s: %s", tmp, strerror(errno));
    int e = fill_fd(fd, data, len, mode);
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        return kassa_fail(err, io_code(e), "cannot write %s: %s", path, strerror(e));
    }
    return KASSA_OK;
}

int mr_write_file_new(const char *path, const void *data, size_t len, mode_t mode, kassa_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return kassa_fail(err, errno == EEXIST ? KASSA_ECONFLICT : io_code(errno),
                          "cannot create %s: %s", path, strerror(errno));
    int e = fill_fd(fd, data, len, mode);
    if (e) {
        unlink(path);
        return kassa_fail(err, io_code(e), "cannot write %s: %s", path, strerror(e));
    }
    return KASSA_OK;
}

int mr_fsync_dir(const char *path, kassa_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return kassa_fail(err, KASSA_EIO, "cannot open directory %s: %s", path, strerror(errno));
    int e = fsync(fd) != 0 ? errno : 0;
    close(fd);
    if (e)
        return kassa_fail(err, KASSA_EIO, "cannot fsync directory %s: %s", path, strerror(e));
    return KASSA_OK;
}

int mr_mkdir(const char *path, mode_t mode, kassa_err *err)
{
    if (mkdir(path, mode) == 0)
        return KASSA_OK;
    struct stat st;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return KASSA_OK;
    return kassa_fail(err, io_code(errno), "cannot create directory %s: %s", path, strerror(errno));
}

void mr_remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        char p[MODELREG_PATH_MAX];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (mr_path(p, sizeof p, NULL, "%s/%s", path, e->d_name) == KASSA_OK)
                unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

int mr_b64_line(const uint8_t *text, size_t len, uint8_t *out, size_t n, const char *what,
                kassa_err *err)
{
    size_t want = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL) - 1;
    if (len == want + 1 && text[want] == '\n')
        len = want;
    size_t got = 0;
    const char *end = NULL;
    if (len != want ||
        sodium_base642bin(out, n, (const char *)text, len, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != n || end != (const char *)text + len)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: not one line of base64 of %zu bytes", what, n);
    return KASSA_OK;
}

void mr_sha256(const uint8_t *p, size_t n, uint8_t out[MODELREG_SHA256_BYTES])
{
    crypto_hash_sha256(out, p, n);
}
