/* h_web.c: serving the cashier UI's files from the web root. */
#include "kassad/handlers.h"
#include "kassad/reply.h"

void h_web(kd_req *r, const char *path)
{
    kd_webfile f;
    kassa_err err;
    int rc = kd_webroot_open(&r->app->web, path, &f, &err);
    if (rc == KASSA_EINVAL || rc == KASSA_ENOTFOUND)
        /* Refused and missing look the same from outside. */
        kd_reply_error(r, 404, KD_E_NOT_FOUND, "no such file");
    else if (rc != KASSA_OK)
        kd_reply_kassa(r, &err);
    else
        kd_reply_file(r, f.content_type, f.fd, f.size);
}
