/* webroot.c: safe resolution of UI files. */
#include "kassad/webroot.h"

#include <errno.h>
#include <event2/http.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *ext;
    const char *type;
} TYPES[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".json", "application/json"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
};

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < KASSA_ARRAY_LEN(TYPES); i++)
            if (strcmp(dot, TYPES[i].ext) == 0)
                return TYPES[i].type;
    return "application/octet-stream";
}

int kd_webroot_init(kd_webroot *w, const char *dir, kassa_err *err)
{
    w->root[0] = '\0';
    char real[PATH_MAX];
    if (!realpath(dir, real)) {
        if (errno == ENOENT)
            return KASSA_OK;
        return kassa_fail(err, KASSA_EIO, "web root %s: %s", dir, strerror(errno));
    }
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return kassa_fail(err, KASSA_EINVAL, "web root %s is not a directory", dir);
    if (strlen(real) >= sizeof w->root)
        return kassa_fail(err, KASSA_EINVAL, "web root %s: path too long", dir);
    snprintf(w->root, sizeof w->root, "%s", real);
    return KASSA_OK;
}

/* Any ".." is refused, even inside a name, and so is any segment that
 * starts with a dot (".git", ".env"): the UI has no such files, and a rule
 * this blunt is easy to audit. Backslashes and NULs have no business in a
 * UI path either. */
static bool path_acceptable(const char *p, size_t len)
{
    return p[0] == '/' && strlen(p) == len && !strchr(p, '\\') && !strstr(p, "..") &&
           !strstr(p, "/.");
}

int kd_webroot_open(const kd_webroot *w, const char *url_path, kd_webfile *f, kassa_err *err)
{
    if (!w->root[0])
        return kassa_fail(err, KASSA_ENOTFOUND, "no web root: the UI is not installed");
    size_t len = 0;
    char *dec = evhttp_uridecode(url_path, 0, &len);
    if (!dec)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    int rc = KASSA_OK;
    char want[KD_WEBROOT_PATH_MAX_BYTES + 16], real[PATH_MAX];
    if (!path_acceptable(dec, len)) {
        rc = kassa_fail(err, KASSA_EINVAL, "path refused");
    } else {
        bool dir = dec[len - 1] == '/';
        int n = snprintf(want, sizeof want, "%s%s%s", w->root, dec, dir ? "index.html" : "");
        if (n < 0 || (size_t)n >= sizeof want)
            rc = kassa_fail(err, KASSA_ENOTFOUND, "path too long");
    }
    free(dec);
    if (rc != KASSA_OK)
        return rc;
    /* Resolving symlinks and checking the prefix again catches a link
     * inside the root that points outside it. */
    size_t root_len = strlen(w->root);
    if (!realpath(want, real))
        return kassa_fail(err, KASSA_ENOTFOUND, "no such file");
    if (strncmp(real, w->root, root_len) != 0 || real[root_len] != '/')
        return kassa_fail(err, KASSA_EINVAL, "path outside the web root");
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return kassa_fail(err, KASSA_ENOTFOUND, "cannot open file");
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > KD_WEBROOT_FILE_MAX_BYTES) {
        close(fd);
        return kassa_fail(err, KASSA_ENOTFOUND, "not a servable file");
    }
    f->fd = fd;
    f->size = st.st_size;
    f->content_type = content_type(real);
    return KASSA_OK;
}
