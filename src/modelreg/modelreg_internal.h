/* modelreg internals shared by its files: file helpers and signatures. */
#ifndef KASSA_MODELREG_INTERNAL_H
#define KASSA_MODELREG_INTERNAL_H

#include "modelreg/modelreg.h"

#include <sys/types.h>

/* snprintf into buf, KASSA_EINVAL when it does not fit. */
int mr_path(char *buf, size_t size, kassa_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Puts "what[ name]: " before err's message; returns err's code. */
int mr_prefix(kassa_err *err, const char *what, const char *name);

/* Reads a whole regular file of at most max_bytes (a larger one is
 * KASSA_ECORRUPT, a missing one KASSA_ENOTFOUND). With private_only, a file
 * readable by group or others is refused (secret keys). */
int mr_read_file(const char *path, size_t max_bytes, bool private_only, uint8_t **data, size_t *len,
                 kassa_err *err);
/* Writes path through path.tmp, fsync and rename (the directory is not
 * fsync'd: see mr_fsync_dir). */
int mr_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         kassa_err *err);
/* Creates path (O_EXCL: never overwrites), writes and fsyncs it. */
int mr_write_file_new(const char *path, const void *data, size_t len, mode_t mode, kassa_err *err);
int mr_fsync_dir(const char *path, kassa_err *err);
/* mkdir that accepts an existing directory. */
int mr_mkdir(const char *path, mode_t mode, kassa_err *err);
/* Removes a directory and the plain files in it (no recursion deeper). */
void mr_remove_dir(const char *path);

/* Decodes one line of exactly n bytes of standard base64 (an optional final
 * '\n' and nothing else) from a key or signature file. */
int mr_b64_line(const uint8_t *text, size_t len, uint8_t *out, size_t n, const char *what,
                kassa_err *err);
/* Checks sig over bytes with ks's keys; fp_out receives the verifying key's
 * fingerprint. KASSA_EAUTH when none verifies. */
int mr_verify_sig(const uint8_t *bytes, size_t len, const uint8_t sig[MODELREG_SIG_BYTES],
                  const modelreg_keyset *ks, char fp_out[MODELREG_FP_LEN + 1], kassa_err *err);
void mr_sha256(const uint8_t *p, size_t n, uint8_t out[MODELREG_SHA256_BYTES]);

/* Loads the bundle's manifest, .sig and files; with ks NULL the signature
 * is not read or checked (signing), and model_path, when non-NULL, replaces
 * the model file next to the manifest. */
int mr_bundle_load(const char *path, const modelreg_keyset *ks, const char *model_path,
                   modelreg_bundle *b, kassa_err *err);

#endif
