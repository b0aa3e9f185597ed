/*
 * A model directory read into memory and checked: the signature over the
 * manifest's bytes first (unsigned bytes are not parsed), then the manifest,
 * then every file it names, by size and SHA-256. What is checked is what
 * the caller gets: nothing is read twice.
 */
#include "modelreg/modelreg_internal.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SIG_FILE_MAX_BYTES 256

static int split_path(const char *path, modelreg_bundle *b, kassa_err *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        int rc = mr_path(b->dir, sizeof b->dir, err, "%s", path);
        if (rc == KASSA_OK)
            rc = mr_path(b->manifest_path, sizeof b->manifest_path, err, "%s/manifest.json", path);
        return rc;
    }
    int rc = mr_path(b->manifest_path, sizeof b->manifest_path, err, "%s", path);
    const char *slash = strrchr(path, '/');
    if (rc != KASSA_OK)
        return rc;
    if (!slash)
        return mr_path(b->dir, sizeof b->dir, err, ".");
    if (slash == path)
        return mr_path(b->dir, sizeof b->dir, err, "/");
    return mr_path(b->dir, sizeof b->dir, err, "%.*s", (int)(slash - path), path);
}

static int read_sig(const modelreg_bundle *b, uint8_t sig[MODELREG_SIG_BYTES], kassa_err *err)
{
    char path[MODELREG_PATH_MAX];
    int rc = mr_path(path, sizeof path, err, "%s.sig", b->manifest_path);
    if (rc != KASSA_OK)
        return rc;
    uint8_t *text;
    size_t len;
    rc = mr_read_file(path, SIG_FILE_MAX_BYTES, false, &text, &len, err);
    if (rc == KASSA_ENOTFOUND)
        return kassa_fail(err, KASSA_EAUTH, "unsigned model: no signature file %s", path);
    if (rc == KASSA_ECORRUPT)
        return kassa_fail(err, KASSA_EAUTH, "signature file %s: larger than %d bytes", path,
                          SIG_FILE_MAX_BYTES);
    if (rc != KASSA_OK)
        return rc;
    rc = mr_b64_line(text, len, sig, MODELREG_SIG_BYTES, path, err);
    free(text);
    if (rc != KASSA_OK)
        err->code = rc = KASSA_EAUTH;
    return rc;
}

/* Reads dir/name, which must be exactly size bytes with the given hash. */
static int read_checked(const modelreg_bundle *b, const char *explicit_path, const char *name,
                        uint64_t size, bool size_known, size_t max_bytes,
                        const uint8_t sha[MODELREG_SHA256_BYTES], const char *what, uint8_t **data,
                        size_t *len, kassa_err *err)
{
    char path[MODELREG_PATH_MAX];
    int rc = explicit_path ? mr_path(path, sizeof path, err, "%s", explicit_path)
                           : mr_path(path, sizeof path, err, "%s/%s", b->dir, name);
    if (rc == KASSA_OK)
        rc = mr_read_file(path, max_bytes, false, data, len, err);
    if (rc == KASSA_ENOTFOUND)
        return kassa_fail(err, KASSA_ENOTFOUND, "%s: file %s missing", what, path);
    if (rc == KASSA_ECORRUPT)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: %s is larger than %zu bytes (altered?)", what,
                          name, max_bytes);
    if (rc != KASSA_OK)
        return rc;
    if (size_known && *len != size)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: %s is %zu bytes, the manifest says %llu (%s)",
                          what, name, *len, (unsigned long long)size,
                          *len < size ? "truncated" : "altered");
    uint8_t got[MODELREG_SHA256_BYTES];
    mr_sha256(*data, *len, got);
    if (sodium_memcmp(got, sha, sizeof got) != 0)
        return kassa_fail(err, KASSA_ECORRUPT,
                          "%s: %s does not match the manifest's SHA-256 (altered)", what, name);
    return KASSA_OK;
}

static int load_files(modelreg_bundle *b, const char *model_path, kassa_err *err)
{
    modelreg_manifest *m = &b->m;
    if (model_path) {
        const char *base = strrchr(model_path, '/');
        base = base ? base + 1 : model_path;
        if (strcmp(base, m->model_file) != 0)
            return kassa_fail(err, KASSA_EINVAL, "the manifest names the model \"%s\", not \"%s\"",
                              m->model_file, base);
    }
    size_t len = 0;
    int rc = read_checked(b, model_path, m->model_file, m->model_size_bytes, true,
                          MODELREG_MODEL_MAX_BYTES, m->model_sha256, "model", &b->model, &len, err);
    for (size_t i = 0; rc == KASSA_OK && i < m->canary_count; i++) {
        modelreg_canary *c = &m->canaries[i];
        if (!c->input_in_file)
            continue;
        char what[MODELREG_FILE_NAME_MAX + 16];
        snprintf(what, sizeof what, "canary %s", c->name);
        rc = read_checked(b, NULL, c->input_file, m->input.size_bytes, true, m->input.size_bytes,
                          c->input_sha256, what, &c->input, &len, err);
    }
    if (rc == KASSA_OK && m->labels_in_file)
        rc = read_checked(b, NULL, m->labels_file, 0, false, MODELREG_LABELS_FILE_MAX_BYTES,
                          m->labels_sha256, "labels", &b->labels_bytes, &b->labels_len, err);
    if (rc == KASSA_OK && m->labels_in_file) {
        rc = modelreg_labels_parse(b->labels_bytes, b->labels_len, m, err);
        if (rc == KASSA_OK && m->label_count != m->output.count)
            rc = kassa_fail(err, KASSA_ECORRUPT, "labels: %zu labels for %zu output elements",
                            m->label_count, m->output.count);
    }
    return rc;
}

int mr_bundle_load(const char *path, const modelreg_keyset *ks, const char *model_path,
                   modelreg_bundle *b, kassa_err *err)
{
    memset(b, 0, sizeof *b);
    int rc = split_path(path, b, err);
    if (rc == KASSA_OK)
        rc = mr_read_file(b->manifest_path, MODELREG_MANIFEST_MAX_BYTES, false, &b->manifest_bytes,
                          &b->manifest_len, err);
    if (rc == KASSA_ENOTFOUND)
        return kassa_fail(err, rc, "no manifest: %s is missing", b->manifest_path);
    if (rc != KASSA_OK)
        return rc;
    if (ks) {
        rc = read_sig(b, b->sig, err);
        if (rc == KASSA_OK)
            rc = mr_verify_sig(b->manifest_bytes, b->manifest_len, b->sig, ks, b->key_fp, err);
        if (rc != KASSA_OK)
            return rc;
    }
    rc = modelreg_manifest_parse(b->manifest_bytes, b->manifest_len, &b->m, err);
    if (rc == KASSA_OK)
        rc = load_files(b, model_path, err);
    return rc;
}

int modelreg_bundle_load(const char *path, const modelreg_keyset *ks, modelreg_bundle *b,
                         kassa_err *err)
{
    assert(ks);
    return mr_bundle_load(path, ks, NULL, b, err);
}

void modelreg_bundle_free(modelreg_bundle *b)
{
    if (!b)
        return;
    modelreg_manifest_free(&b->m);
    free(b->manifest_bytes);
    free(b->model);
    free(b->labels_bytes);
    memset(b, 0, sizeof *b);
}
