/*
 * webroot: maps URL paths to files under the UI's web root, and nothing
 * else. A path with a ".." segment, a NUL, a backslash, or one that
 * resolves (symlinks included) outside the root is refused; "/" and
 * directory paths serve their index.html.
 */
#ifndef KASSAD_WEBROOT_H
#define KASSAD_WEBROOT_H

#include "base/base.h"

#include <stdbool.h>
#include <sys/types.h>

#define KD_WEBROOT_PATH_MAX_BYTES 4096
/* Largest file served: the UI is a few small files; anything bigger is a
 * mistake in the web root. */
#define KD_WEBROOT_FILE_MAX_BYTES (32 * 1024 * 1024)

typedef struct kd_webroot {
    char root[KD_WEBROOT_PATH_MAX_BYTES]; /* resolved; "" when absent */
} kd_webroot;

/* Resolves dir. A missing directory is not an error (the API still
 * works): w->root stays "" and every file is "not found". */
int kd_webroot_init(kd_webroot *w, const char *dir, kassa_err *err);

typedef struct kd_webfile {
    int fd;
    off_t size;
    const char *content_type;
} kd_webfile;

/* Opens the file for a URL path (percent-encoded, no query).
 * KASSA_EINVAL: a path that is refused; KASSA_ENOTFOUND: no such file. */
int kd_webroot_open(const kd_webroot *w, const char *url_path, kd_webfile *f, kassa_err *err);

#endif
