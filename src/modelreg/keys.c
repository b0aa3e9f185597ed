/*
 * Ed25519 keys and signatures of the registry (libsodium): key files,
 * the trusted keys of a data directory, signing a manifest and checking a
 * signature against the trusted keys.
 */
#include "modelreg/modelreg_internal.h"

#include <assert.h>
#include <dirent.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY_FILE_MAX_BYTES 256
#define B64_LINE_MAX 128 /* base64 of 64 bytes is 88 characters */

static int need_sodium(kassa_err *err)
{
    if (sodium_init() < 0)
        return kassa_fail(err, KASSA_EIO, "libsodium cannot initialise");
    return KASSA_OK;
}

static void fingerprint(const uint8_t key[MODELREG_PUBKEY_BYTES], char fp[MODELREG_FP_LEN + 1])
{
    uint8_t h[MODELREG_SHA256_BYTES];
    mr_sha256(key, MODELREG_PUBKEY_BYTES, h);
    modelreg_hex(h, MODELREG_FP_LEN / 2, fp);
}

/* base64 of n bytes and a newline into out (B64_LINE_MAX). */
static size_t b64_line(const uint8_t *p, size_t n, char out[B64_LINE_MAX])
{
    assert(sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL) + 1 <= B64_LINE_MAX);
    sodium_bin2base64(out, B64_LINE_MAX, p, n, sodium_base64_VARIANT_ORIGINAL);
    size_t len = strlen(out);
    out[len++] = '\n';
    out[len] = '\0';
    return len;
}

int modelreg_keygen(const char *prefix, char *fp_out, kassa_err *err)
{
    char pub_path[MODELREG_PATH_MAX], key_path[MODELREG_PATH_MAX];
    int rc = need_sodium(err);
    if (rc == KASSA_OK)
        rc = mr_path(pub_path, sizeof pub_path, err, "%s.pub", prefix);
    if (rc == KASSA_OK)
        rc = mr_path(key_path, sizeof key_path, err, "%s.key", prefix);
    if (rc != KASSA_OK)
        return rc;
    uint8_t pk[MODELREG_PUBKEY_BYTES], sk[MODELREG_SECKEY_BYTES];
    crypto_sign_keypair(pk, sk);
    char line[B64_LINE_MAX];
    size_t n = b64_line(sk, sizeof sk, line);
    sodium_memzero(sk, sizeof sk);
    rc = mr_write_file_new(key_path, line, n, 0600, err);
    sodium_memzero(line, sizeof line);
    if (rc != KASSA_OK)
        return rc;
    n = b64_line(pk, sizeof pk, line);
    rc = mr_write_file_new(pub_path, line, n, 0644, err);
    if (rc != KASSA_OK) {
        unlink(key_path); /* no secret key without its public half */
        return rc;
    }
    fingerprint(pk, fp_out);
    return KASSA_OK;
}

static int pubkey_parse(const uint8_t *text, size_t len, const char *what, modelreg_pubkey *out,
                        kassa_err *err)
{
    int rc = mr_b64_line(text, len, out->key, sizeof out->key, what, err);
    if (rc == KASSA_OK)
        fingerprint(out->key, out->fp);
    return rc;
}

int modelreg_pubkey_read(const char *path, modelreg_pubkey *out, kassa_err *err)
{
    memset(out, 0, sizeof *out);
    uint8_t *text;
    size_t len;
    int rc = mr_read_file(path, KEY_FILE_MAX_BYTES, false, &text, &len, err);
    if (rc != KASSA_OK)
        return rc;
    rc = pubkey_parse(text, len, path, out, err);
    free(text);
    return rc;
}

static int trusted_dir(const char *data_dir, char *out, size_t size, bool create, kassa_err *err)
{
    char models[MODELREG_PATH_MAX];
    int rc = mr_path(models, sizeof models, err, "%s/models", data_dir);
    if (rc == KASSA_OK)
        rc = mr_path(out, size, err, "%s/trusted", models);
    if (rc == KASSA_OK && create)
        rc = mr_mkdir(models, 0700, err);
    if (rc == KASSA_OK && create)
        rc = mr_mkdir(out, 0700, err);
    return rc;
}

int modelreg_trust(const char *data_dir, const char *pubkey_path, modelreg_pubkey *out,
                   kassa_err *err)
{
    int rc = modelreg_pubkey_read(pubkey_path, out, err);
    if (rc != KASSA_OK)
        return rc;
    modelreg_keyset ks;
    rc = modelreg_trusted_load(data_dir, &ks, err);
    if (rc != KASSA_OK)
        return rc;
    for (size_t i = 0; i < ks.n; i++)
        if (sodium_memcmp(ks.keys[i].key, out->key, MODELREG_PUBKEY_BYTES) == 0)
            return KASSA_OK; /* already trusted */
    if (ks.n >= MODELREG_MAX_TRUSTED_KEYS)
        return kassa_fail(err, KASSA_EFULL, "already %d trusted model keys: remove one first",
                          MODELREG_MAX_TRUSTED_KEYS);
    char dir[MODELREG_PATH_MAX], path[MODELREG_PATH_MAX];
    rc = trusted_dir(data_dir, dir, sizeof dir, true, err);
    if (rc == KASSA_OK)
        rc = mr_path(path, sizeof path, err, "%s/%s.pub", dir, out->fp);
    char line[B64_LINE_MAX];
    size_t n = b64_line(out->key, sizeof out->key, line);
    if (rc == KASSA_OK)
        rc = mr_write_file_atomic(path, line, n, 0644, err);
    if (rc == KASSA_OK)
        rc = mr_fsync_dir(dir, err);
    return rc;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

int modelreg_trusted_load(const char *data_dir, modelreg_keyset *ks, kassa_err *err)
{
    memset(ks, 0, sizeof *ks);
    char dir[MODELREG_PATH_MAX];
    int rc = trusted_dir(data_dir, dir, sizeof dir, false, err);
    if (rc != KASSA_OK)
        return rc;
    DIR *d = opendir(dir);
    if (!d)
        return KASSA_OK; /* nothing trusted yet */
    struct dirent *e;
    while (rc == KASSA_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".pub"))
            continue;
        if (ks->n >= MODELREG_MAX_TRUSTED_KEYS) {
            rc = kassa_fail(err, KASSA_ECORRUPT, "%s: more than %d trusted keys", dir,
                            MODELREG_MAX_TRUSTED_KEYS);
            break;
        }
        char path[MODELREG_PATH_MAX];
        rc = mr_path(path, sizeof path, err, "%s/%s", dir, e->d_name);
        if (rc == KASSA_OK)
            rc = modelreg_pubkey_read(path, &ks->keys[ks->n], err);
        if (rc == KASSA_OK)
            ks->n++;
    }
    closedir(d);
    return rc;
}

int mr_verify_sig(const uint8_t *bytes, size_t len, const uint8_t sig[MODELREG_SIG_BYTES],
                  const modelreg_keyset *ks, char fp_out[MODELREG_FP_LEN + 1], kassa_err *err)
{
    int rc = need_sodium(err);
    if (rc != KASSA_OK)
        return rc;
    if (ks->n == 0)
        return kassa_fail(err, KASSA_EAUTH,
                          "no trusted model key: add one with `kassa model trust PUBKEY`");
    for (size_t i = 0; i < ks->n; i++) {
        if (crypto_sign_verify_detached(sig, bytes, len, ks->keys[i].key) == 0) {
            memcpy(fp_out, ks->keys[i].fp, MODELREG_FP_LEN + 1);
            return KASSA_OK;
        }
    }
    return kassa_fail(err, KASSA_EAUTH,
                      "manifest signature does not verify with any trusted key (%zu trusted): "
                      "wrong key, or the manifest was altered",
                      ks->n);
}

int modelreg_sign(const char *key_path, const char *model_path, const char *manifest_path,
                  kassa_err *err)
{
    int rc = need_sodium(err);
    if (rc != KASSA_OK)
        return rc;
    uint8_t sk[MODELREG_SECKEY_BYTES];
    uint8_t *text;
    size_t len;
    rc = mr_read_file(key_path, KEY_FILE_MAX_BYTES, true, &text, &len, err);
    if (rc != KASSA_OK)
        return rc;
    rc = mr_b64_line(text, len, sk, sizeof sk, key_path, err);
    sodium_memzero(text, len);
    free(text);
    if (rc != KASSA_OK)
        return rc;
    /* everything that install checks about the files, before signing */
    modelreg_bundle b;
    rc = mr_bundle_load(manifest_path, NULL, model_path, &b, err);
    char sig_path[MODELREG_PATH_MAX];
    if (rc == KASSA_OK)
        rc = mr_path(sig_path, sizeof sig_path, err, "%s.sig", manifest_path);
    if (rc == KASSA_OK) {
        uint8_t sig[MODELREG_SIG_BYTES];
        crypto_sign_detached(sig, NULL, b.manifest_bytes, b.manifest_len, sk);
        char line[B64_LINE_MAX];
        size_t n = b64_line(sig, sizeof sig, line);
        rc = mr_write_file_atomic(sig_path, line, n, 0644, err);
    }
    sodium_memzero(sk, sizeof sk);
    modelreg_bundle_free(&b);
    return rc;
}
