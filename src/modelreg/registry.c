/*
 * The registry of one data directory (docs/MODELS.md):
 *
 *   <data_dir>/models/trusted/<fp>.pub          trusted public keys
 *   <data_dir>/models/audit.jsonl               one line per install/rollback
 *   <data_dir>/models/.lock                     flock: one writer at a time
 *   <data_dir>/models/installed/<name>/ACTIVE   "active N\nhighest M\n"
 *   <data_dir>/models/installed/<name>/<N>/     manifest.json(.sig) + files
 *
 * Activation is a rename of a fully written, fsync'd version directory and
 * then of the ACTIVE file, each followed by an fsync of the directory, so a
 * crash leaves the old model active or the new one, never a mix.
 */
#include "modelreg/modelreg_internal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define STATE_FILE_MAX_BYTES 64
#define MAX_VERSION_DIRS 64 /* version directories looked at per name */
#define STAGING_NAME ".staging"
#define SIG_LINE_MAX 128

typedef struct reg_state {
    int64_t active;  /* 0: none */
    int64_t highest; /* highest version ever installed */
} reg_state;

static int models_path(const char *data_dir, const char *sub, char *out, size_t size,
                       kassa_err *err)
{
    if (!data_dir || !*data_dir)
        return kassa_fail(err, KASSA_EINVAL, "no data directory");
    return sub ? mr_path(out, size, err, "%s/models/%s", data_dir, sub)
               : mr_path(out, size, err, "%s/models", data_dir);
}

/* A model name is a directory name: an id that does not start with '.'. */
static bool valid_name(const char *name)
{
    return kassa_valid_id(name, KASSA_ID_MAX) && name[0] != '.';
}

static int name_dir(const char *data_dir, const char *name, char *out, size_t size, kassa_err *err)
{
    if (!valid_name(name))
        return kassa_fail(err, KASSA_EINVAL, "invalid model name");
    if (!data_dir || !*data_dir)
        return kassa_fail(err, KASSA_EINVAL, "no data directory");
    return mr_path(out, size, err, "%s/models/installed/%s", data_dir, name);
}

/* ---- the lock ---- */

/* LOCK_EX creates the models directory and the lock file; LOCK_SH (a
 * reader) creates nothing: without a lock file nothing was ever installed,
 * and *fd_out is -1. */
static int lock_take(const char *data_dir, int how, int *fd_out, kassa_err *err)
{
    char dir[MODELREG_PATH_MAX], path[MODELREG_PATH_MAX];
    bool writer = how == LOCK_EX;
    *fd_out = -1;
    int rc = models_path(data_dir, NULL, dir, sizeof dir, err);
    if (rc == KASSA_OK && writer)
        rc = mr_mkdir(dir, 0700, err);
    if (rc == KASSA_OK)
        rc = mr_path(path, sizeof path, err, "%s/.lock", dir);
    if (rc != KASSA_OK)
        return rc;
    int fd =
        writer ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && !writer && errno == ENOENT)
        return KASSA_OK;
    if (fd < 0)
        return kassa_fail(err, KASSA_EIO, "cannot open %s: %s", path, strerror(errno));
    while (flock(fd, how) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        return kassa_fail(err, KASSA_EIO, "cannot lock %s: %s", path, strerror(e));
    }
    *fd_out = fd;
    return KASSA_OK;
}

static void lock_release(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/* ---- ACTIVE ---- */

static bool parse_version(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 10 || s[0] == '0')
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > MODELREG_VERSION_MAX)
        return false;
    *out = v;
    return true;
}

static int state_read(const char *ndir, reg_state *st, kassa_err *err)
{
    memset(st, 0, sizeof *st);
    char path[MODELREG_PATH_MAX];
    int rc = mr_path(path, sizeof path, err, "%s/ACTIVE", ndir);
    uint8_t *text = NULL;
    size_t len = 0;
    if (rc == KASSA_OK)
        rc = mr_read_file(path, STATE_FILE_MAX_BYTES, false, &text, &len, err);
    if (rc == KASSA_ENOTFOUND)
        return KASSA_OK; /* nothing installed under this name yet */
    if (rc != KASSA_OK)
        return rc;
    char buf[STATE_FILE_MAX_BYTES + 1];
    memcpy(buf, text, len);
    buf[len] = '\0';
    free(text);
    char a[16], h[16];
    int used = 0;
    bool ok = strlen(buf) == len &&
              sscanf(buf, "active %15[0-9]\nhighest %15[0-9]\n%n", a, h, &used) == 2 &&
              (size_t)used == len && parse_version(a, strlen(a), &st->active) &&
              parse_version(h, strlen(h), &st->highest) && st->active <= st->highest;
    if (!ok)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: not \"active N\\nhighest M\\n\"", path);
    return KASSA_OK;
}

static int state_write(const char *ndir, const reg_state *st, kassa_err *err)
{
    char path[MODELREG_PATH_MAX], text[STATE_FILE_MAX_BYTES];
    int rc = mr_path(path, sizeof path, err, "%s/ACTIVE", ndir);
    int n = snprintf(text, sizeof text, "active %lld\nhighest %lld\n", (long long)st->active,
                     (long long)st->highest);
    assert(n > 0 && (size_t)n < sizeof text);
    if (rc == KASSA_OK)
        rc = mr_write_file_atomic(path, text, (size_t)n, 0600, err);
    if (rc == KASSA_OK)
        rc = mr_fsync_dir(ndir, err);
    return rc;
}

/* ---- version directories ---- */

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* The version directories under ndir, highest first. */
static int versions_list(const char *ndir, int64_t *out, size_t *n, kassa_err *err)
{
    *n = 0;
    DIR *d = opendir(ndir);
    if (!d)
        return errno == ENOENT
                   ? KASSA_OK
                   : kassa_fail(err, KASSA_EIO, "cannot read %s: %s", ndir, strerror(errno));
    struct dirent *e;
    int rc = KASSA_OK;
    while ((e = readdir(d)) != NULL) {
        int64_t v;
        if (!parse_version(e->d_name, strlen(e->d_name), &v))
            continue;
        if (*n >= MAX_VERSION_DIRS) {
            rc = kassa_fail(err, KASSA_ECORRUPT, "%s: more than %d version directories", ndir,
                            MAX_VERSION_DIRS);
            break;
        }
        out[(*n)++] = v;
    }
    closedir(d);
    qsort(out, *n, sizeof *out, cmp_desc);
    return rc;
}

static int version_dir(const char *ndir, int64_t v, char *out, size_t size, kassa_err *err)
{
    return mr_path(out, size, err, "%s/%lld", ndir, (long long)v);
}

/* Keeps the MODELREG_KEEP_VERSIONS highest versions and the active one. */
static void prune(const char *ndir, int64_t active)
{
    int64_t v[MAX_VERSION_DIRS];
    size_t n = 0;
    if (versions_list(ndir, v, &n, NULL) != KASSA_OK)
        return;
    for (size_t i = MODELREG_KEEP_VERSIONS; i < n; i++) {
        char dir[MODELREG_PATH_MAX];
        if (v[i] != active && version_dir(ndir, v[i], dir, sizeof dir, NULL) == KASSA_OK)
            mr_remove_dir(dir);
    }
}

static int write_into(const char *dir, const char *name, const void *p, size_t n, kassa_err *err)
{
    char path[MODELREG_PATH_MAX];
    int rc = mr_path(path, sizeof path, err, "%s/%s", dir, name);
    if (rc == KASSA_OK)
        rc = mr_write_file_new(path, p, n, 0600, err);
    return rc;
}

/* Writes the bundle's files (the bytes that were checked) into a staging
 * directory, then renames it to the version directory. */
static int store_version(const char *ndir, const modelreg_bundle *b, kassa_err *err)
{
    const modelreg_manifest *m = &b->m;
    char staging[MODELREG_PATH_MAX], final[MODELREG_PATH_MAX];
    int rc = mr_path(staging, sizeof staging, err, "%s/%s", ndir, STAGING_NAME);
    if (rc == KASSA_OK)
        rc = version_dir(ndir, m->version, final, sizeof final, err);
    if (rc != KASSA_OK)
        return rc;
    mr_remove_dir(staging); /* left by a crash; we hold the lock */
    mr_remove_dir(final);   /* above "highest": left by a crash before ACTIVE moved */
    rc = mr_mkdir(staging, 0700, err);
    char sig[SIG_LINE_MAX];
    sodium_bin2base64(sig, sizeof sig, b->sig, sizeof b->sig, sodium_base64_VARIANT_ORIGINAL);
    size_t sig_len = strlen(sig);
    sig[sig_len++] = '\n';
    if (rc == KASSA_OK)
        rc = write_into(staging, "manifest.json", b->manifest_bytes, b->manifest_len, err);
    if (rc == KASSA_OK)
        rc = write_into(staging, "manifest.json.sig", sig, sig_len, err);
    if (rc == KASSA_OK)
        rc = write_into(staging, m->model_file, b->model, (size_t)m->model_size_bytes, err);
    for (size_t i = 0; rc == KASSA_OK && i < m->canary_count; i++)
        if (m->canaries[i].input_in_file)
            rc = write_into(staging, m->canaries[i].input_file, m->canaries[i].input,
                            m->input.size_bytes, err);
    if (rc == KASSA_OK && m->labels_in_file)
        rc = write_into(staging, m->labels_file, b->labels_bytes, b->labels_len, err);
    if (rc == KASSA_OK)
        rc = mr_fsync_dir(staging, err);
    if (rc == KASSA_OK && rename(staging, final) != 0)
        rc = kassa_fail(err, KASSA_EIO, "cannot rename %s: %s", staging, strerror(errno));
    if (rc == KASSA_OK)
        rc = mr_fsync_dir(ndir, err);
    if (rc != KASSA_OK)
        mr_remove_dir(staging);
    return rc;
}

/* ---- audit ---- */

static void utc_now(char out[MODELREG_CREATED_AT_LEN + 1])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, MODELREG_CREATED_AT_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int audit_append(const char *data_dir, const modelreg_result *res, const char *why,
                        kassa_err *err)
{
    char ts[MODELREG_CREATED_AT_LEN + 1], dir[MODELREG_PATH_MAX], path[MODELREG_PATH_MAX];
    utc_now(ts);
    int rc = models_path(data_dir, NULL, dir, sizeof dir, err);
    if (rc == KASSA_OK)
        rc = mr_mkdir(dir, 0700, err);
    if (rc == KASSA_OK)
        rc = mr_path(path, sizeof path, err, "%s/audit.jsonl", dir);
    if (rc != KASSA_OK)
        return rc;
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:b,s:s}", "ts", ts, "event", res->event,
                          "name", res->name, "version", (json_int_t)res->version, "previous",
                          (json_int_t)res->previous, "key", res->key_fp, "ok", res->ok, "reason",
                          res->reason);
    if (o && res->ok && res->health.runs)
        json_object_set_new(o, "latency_p99_ms", json_real(res->health.latency_p99_ms));
    if (o && why && *why)
        json_object_set_new(o, "why", json_string(why));
    /* reasons may quote file names: JSON_ENSURE_ASCII keeps one line of ASCII */
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    if (!line)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory writing the model audit");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int e = fd < 0 ? errno : 0;
    size_t n = strlen(line);
    line[n] = '\n'; /* json_dumps's NUL becomes the newline */
    if (!e && (write(fd, line, n + 1) != (ssize_t)(n + 1) || fsync(fd) != 0))
        e = errno ? errno : EIO;
    if (fd >= 0)
        close(fd);
    free(line);
    if (e)
        return kassa_fail(err, KASSA_EIO, "cannot append to %s: %s", path, strerror(e));
    return KASSA_OK;
}

/* Records the outcome in res and the audit file. A failed audit write of a
 * completed action is reported as the call's error. */
static int finish(const char *data_dir, modelreg_result *res, int rc, const char *why,
                  kassa_err *err)
{
    res->ok = rc == KASSA_OK;
    if (rc != KASSA_OK)
        snprintf(res->reason, sizeof res->reason, "%s", err->msg);
    kassa_err aerr;
    int arc = audit_append(data_dir, res, why, &aerr);
    if (arc != KASSA_OK && rc == KASSA_OK) {
        if (err)
            *err = aerr;
        return arc;
    }
    return rc;
}

static void result_start(modelreg_result *res, const char *event)
{
    memset(res, 0, sizeof *res);
    snprintf(res->event, sizeof res->event, "%s", event);
}

static int runs_of(const modelreg_options *opt)
{
    return opt && opt->latency_runs > 0 ? opt->latency_runs : MODELREG_DEFAULT_RUNS;
}

/* ---- install, verify ---- */

static int install_locked(const char *data_dir, modelreg_bundle *b, const modelreg_options *opt,
                          modelreg_result *res, kassa_err *err)
{
    const modelreg_manifest *m = &b->m;
    char models[MODELREG_PATH_MAX], inst[MODELREG_PATH_MAX], ndir[MODELREG_PATH_MAX];
    int rc = models_path(data_dir, NULL, models, sizeof models, err);
    if (rc == KASSA_OK)
        rc = models_path(data_dir, "installed", inst, sizeof inst, err);
    if (rc == KASSA_OK)
        rc = name_dir(data_dir, m->name, ndir, sizeof ndir, err);
    reg_state st;
    if (rc == KASSA_OK)
        rc = state_read(ndir, &st, err);
    if (rc != KASSA_OK)
        return rc;
    res->previous = st.active;
    if (m->version <= st.highest)
        return kassa_fail(err, KASSA_ECONFLICT,
                          "%s version %lld is not above version %lld, the highest installed (a "
                          "new model needs a new version; to go back use rollback)",
                          m->name, (long long)m->version, (long long)st.highest);
    rc = modelreg_health_check(b, runs_of(opt), &res->health, err);
    if (rc != KASSA_OK)
        return mr_prefix(err, "health check failed", NULL);
    rc = mr_mkdir(inst, 0700, err);
    if (rc == KASSA_OK)
        rc = mr_mkdir(ndir, 0700, err);
    if (rc == KASSA_OK)
        rc = mr_fsync_dir(inst, err);
    if (rc == KASSA_OK)
        rc = store_version(ndir, b, err);
    reg_state next = {.active = m->version, .highest = m->version};
    if (rc == KASSA_OK)
        rc = state_write(ndir, &next, err);
    if (rc == KASSA_OK)
        prune(ndir, next.active);
    return rc;
}

int modelreg_install(const char *data_dir, const char *path, const modelreg_options *opt,
                     modelreg_result *res, kassa_err *err)
{
    kassa_err local;
    if (!err)
        err = &local; /* the reason goes into res either way */
    result_start(res, "install");
    modelreg_keyset ks;
    modelreg_bundle b;
    memset(&b, 0, sizeof b);
    int lock = -1;
    int rc = lock_take(data_dir, LOCK_EX, &lock, err);
    if (rc == KASSA_OK)
        rc = modelreg_trusted_load(data_dir, &ks, err);
    if (rc == KASSA_OK)
        rc = modelreg_bundle_load(path, &ks, &b, err);
    /* what is known of a refused model, for the audit and the caller */
    if (b.m.name[0]) {
        snprintf(res->name, sizeof res->name, "%s", b.m.name);
        res->version = b.m.version;
        char ndir[MODELREG_PATH_MAX];
        reg_state st;
        if (name_dir(data_dir, b.m.name, ndir, sizeof ndir, NULL) == KASSA_OK &&
            state_read(ndir, &st, NULL) == KASSA_OK)
            res->previous = st.active;
    }
    snprintf(res->key_fp, sizeof res->key_fp, "%s", b.key_fp);
    if (rc == KASSA_OK)
        rc = install_locked(data_dir, &b, opt, res, err);
    rc = finish(data_dir, res, rc, NULL, err);
    lock_release(lock);
    modelreg_bundle_free(&b);
    return rc;
}

int modelreg_verify(const char *data_dir, const char *path, const modelreg_pubkey *only_key,
                    const modelreg_options *opt, modelreg_result *res, kassa_err *err)
{
    kassa_err local;
    if (!err)
        err = &local; /* the reason goes into res either way */
    result_start(res, "verify");
    modelreg_keyset ks = {0};
    int rc = KASSA_OK;
    if (only_key) {
        ks.n = 1;
        ks.keys[0] = *only_key;
    } else {
        rc = modelreg_trusted_load(data_dir, &ks, err);
    }
    modelreg_bundle b;
    memset(&b, 0, sizeof b);
    if (rc == KASSA_OK)
        rc = modelreg_bundle_load(path, &ks, &b, err);
    snprintf(res->name, sizeof res->name, "%s", b.m.name);
    res->version = b.m.version;
    snprintf(res->key_fp, sizeof res->key_fp, "%s", b.key_fp);
    if (rc == KASSA_OK) {
        rc = modelreg_health_check(&b, runs_of(opt), &res->health, err);
        if (rc != KASSA_OK)
            mr_prefix(err, "health check failed", NULL);
    }
    res->ok = rc == KASSA_OK;
    if (rc != KASSA_OK)
        snprintf(res->reason, sizeof res->reason, "%s", err->msg);
    modelreg_bundle_free(&b);
    return rc;
}

/* ---- rollback ---- */

/* Loads version v of name with the keys trusted now; the installed manifest
 * must be that name and version. */
static int load_installed(const char *ndir, const char *name, int64_t v, const modelreg_keyset *ks,
                          modelreg_bundle *b, kassa_err *err)
{
    char dir[MODELREG_PATH_MAX];
    memset(b, 0, sizeof *b);
    int rc = version_dir(ndir, v, dir, sizeof dir, err);
    if (rc == KASSA_OK)
        rc = modelreg_bundle_load(dir, ks, b, err);
    if (rc == KASSA_OK && (strcmp(b->m.name, name) != 0 || b->m.version != v))
        rc = kassa_fail(err, KASSA_ECORRUPT, "%s holds another model (%s version %lld)", dir,
                        b->m.name, (long long)b->m.version);
    return rc;
}

static int rollback_locked(const char *data_dir, const char *name, const modelreg_options *opt,
                           modelreg_result *res, kassa_err *err)
{
    char ndir[MODELREG_PATH_MAX];
    reg_state st;
    modelreg_keyset ks;
    int rc = name_dir(data_dir, name, ndir, sizeof ndir, err);
    if (rc == KASSA_OK)
        rc = state_read(ndir, &st, err);
    if (rc == KASSA_OK)
        rc = modelreg_trusted_load(data_dir, &ks, err);
    if (rc != KASSA_OK)
        return rc;
    res->previous = st.active;
    if (st.active == 0)
        return kassa_fail(err, KASSA_ENOTFOUND, "%s: no model of that name is installed", name);
    int64_t v[MAX_VERSION_DIRS];
    size_t n = 0;
    rc = versions_list(ndir, v, &n, err);
    if (rc != KASSA_OK)
        return rc;
    bool tried = false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] >= st.active)
            continue;
        tried = true;
        modelreg_bundle b;
        rc = load_installed(ndir, name, v[i], &ks, &b, err);
        if (rc == KASSA_OK) {
            rc = modelreg_health_check(&b, runs_of(opt), &res->health, err);
            if (rc != KASSA_OK)
                mr_prefix(err, "health check failed", NULL);
        }
        snprintf(res->key_fp, sizeof res->key_fp, "%s", b.key_fp);
        modelreg_bundle_free(&b);
        if (rc == KASSA_OK) {
            res->version = v[i];
            reg_state next = {.active = v[i], .highest = st.highest};
            return state_write(ndir, &next, err);
        }
        char what[48];
        snprintf(what, sizeof what, "cannot roll back to version %lld", (long long)v[i]);
        mr_prefix(err, what, NULL);
    }
    if (!tried)
        return kassa_fail(err, KASSA_ENOTFOUND, "%s: no previous version to roll back to", name);
    return rc;
}

int modelreg_rollback(const char *data_dir, const char *name, const char *why,
                      const modelreg_options *opt, modelreg_result *res, kassa_err *err)
{
    kassa_err local;
    if (!err)
        err = &local; /* the reason goes into res either way */
    result_start(res, "rollback");
    if (!valid_name(name))
        return kassa_fail(err, KASSA_EINVAL, "invalid model name");
    snprintf(res->name, sizeof res->name, "%s", name);
    int lock = -1;
    int rc = lock_take(data_dir, LOCK_EX, &lock, err);
    if (rc == KASSA_OK)
        rc = rollback_locked(data_dir, name, opt, res, err);
    rc = finish(data_dir, res, rc, why, err);
    lock_release(lock);
    return rc;
}

/* ---- list, resolve ---- */

static int cmp_entry(const void *a, const void *b)
{
    const modelreg_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->version > y->version) - (x->version < y->version);
}

static int list_name(const char *inst, const char *name, modelreg_entry **out, size_t *n,
                     size_t *cap, kassa_err *err)
{
    char ndir[MODELREG_PATH_MAX];
    int rc = mr_path(ndir, sizeof ndir, err, "%s/%s", inst, name);
    reg_state st;
    int64_t v[MAX_VERSION_DIRS];
    size_t nv = 0;
    if (rc == KASSA_OK)
        rc = state_read(ndir, &st, err);
    if (rc == KASSA_OK)
        rc = versions_list(ndir, v, &nv, err);
    for (size_t i = 0; rc == KASSA_OK && i < nv; i++) {
        if (v[i] > st.highest)
            continue; /* left by an install that crashed before activation */
        char path[MODELREG_PATH_MAX];
        uint8_t *text = NULL;
        size_t len = 0;
        rc = mr_path(path, sizeof path, err, "%s/%lld/manifest.json", ndir, (long long)v[i]);
        if (rc == KASSA_OK)
            rc = mr_read_file(path, MODELREG_MANIFEST_MAX_BYTES, false, &text, &len, err);
        modelreg_manifest m;
        if (rc == KASSA_OK)
            rc = modelreg_manifest_parse(text, len, &m, err);
        free(text);
        if (rc == KASSA_OK && (strcmp(m.name, name) != 0 || m.version != v[i])) {
            rc = kassa_fail(err, KASSA_ECORRUPT, "holds another model (%s version %lld)", m.name,
                            (long long)m.version);
            modelreg_manifest_free(&m);
        }
        if (rc != KASSA_OK)
            return mr_prefix(err, path, NULL);
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 8;
            modelreg_entry *p = realloc(*out, ncap * sizeof *p);
            if (!p) {
                modelreg_manifest_free(&m);
                return kassa_fail(err, KASSA_ENOMEM, "out of memory listing models");
            }
            *out = p;
            *cap = ncap;
        }
        modelreg_entry *e = &(*out)[(*n)++];
        memset(e, 0, sizeof *e);
        memcpy(e->name, m.name, sizeof e->name);
        e->version = v[i];
        e->active = v[i] == st.active;
        memcpy(e->created_at, m.created_at, sizeof e->created_at);
        e->model_size_bytes = m.model_size_bytes;
        modelreg_hex(m.model_sha256, sizeof m.model_sha256, e->model_sha256_hex);
        modelreg_manifest_free(&m);
    }
    return rc;
}

int modelreg_list(const char *data_dir, modelreg_entry **out, size_t *n, kassa_err *err)
{
    *out = NULL;
    *n = 0;
    char inst[MODELREG_PATH_MAX];
    int rc = models_path(data_dir, "installed", inst, sizeof inst, err);
    if (rc != KASSA_OK)
        return rc;
    DIR *d = opendir(inst);
    if (!d)
        return errno == ENOENT
                   ? KASSA_OK
                   : kassa_fail(err, KASSA_EIO, "cannot read %s: %s", inst, strerror(errno));
    size_t cap = 0, names = 0;
    struct dirent *e;
    while (rc == KASSA_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !kassa_valid_id(e->d_name, KASSA_ID_MAX))
            continue;
        if (++names > MODELREG_MAX_NAMES) {
            rc = kassa_fail(err, KASSA_ECORRUPT, "more than %d model names", MODELREG_MAX_NAMES);
            break;
        }
        rc = list_name(inst, e->d_name, out, n, &cap, err);
    }
    closedir(d);
    if (rc != KASSA_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
        return rc;
    }
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_entry);
    return KASSA_OK;
}

int modelreg_resolve(const char *data_dir, const char *name, modelreg_active *out, kassa_err *err)
{
    memset(out, 0, sizeof *out);
    char ndir[MODELREG_PATH_MAX];
    reg_state st;
    modelreg_keyset ks;
    int lock = -1;
    int rc = name_dir(data_dir, name, ndir, sizeof ndir, err);
    if (rc == KASSA_OK)
        rc = lock_take(data_dir, LOCK_SH, &lock, err);
    if (rc == KASSA_OK)
        rc = state_read(ndir, &st, err);
    if (rc == KASSA_OK && st.active == 0)
        rc = kassa_fail(err, KASSA_ENOTFOUND, "no active model named %s", name);
    if (rc == KASSA_OK)
        rc = modelreg_trusted_load(data_dir, &ks, err);
    if (rc == KASSA_OK)
        rc = load_installed(ndir, name, st.active, &ks, &out->bundle, err);
    if (rc == KASSA_OK)
        rc = mr_path(out->model_path, sizeof out->model_path, err, "%s/%lld/%s", ndir,
                     (long long)st.active, out->bundle.m.model_file);
    lock_release(lock);
    if (rc != KASSA_OK) {
        modelreg_active_free(out);
        return rc;
    }
    out->version = st.active;
    return KASSA_OK;
}

void modelreg_active_free(modelreg_active *a)
{
    if (!a)
        return;
    modelreg_bundle_free(&a->bundle);
    memset(a, 0, sizeof *a);
}
