/*
 * modelreg: the terminal's signed model registry (docs/MODELS.md).
 *
 * A model arrives as a directory: a .tflite file (or an XGBoost fraud
 * model, docs/FRAUD.md), a JSON manifest (name, monotonic version, the
 * model's size and SHA-256, input and output tensor specs, labels, canary
 * inputs with expected outputs, a latency budget) and
 * an Ed25519 signature over the manifest's exact bytes. Because the manifest
 * holds every other file's SHA-256, one signature covers them all.
 *
 * Install = signature with a trusted key (<data_dir>/models/trusted/<fp>.pub)
 * → strict manifest parse → every size and checksum → health check on the
 * terminal (the ai runtime loads the model, its specs equal the manifest's,
 * every canary within tolerance, p99 latency within budget) → atomic
 * activation: files fsync'd into <data_dir>/models/installed/<name>/<version>/, then
 * the ACTIVE pointer file replaced by rename(2) and the directory fsync'd.
 * Anything failing leaves the previous model active and says why. The last
 * MODELREG_KEEP_VERSIONS versions are kept for rollback (health-checked
 * too). Every install, refusal and rollback is appended to
 * <data_dir>/models/audit.jsonl and returned in a modelreg_result.
 *
 * Why: a model decides what a terminal charges or flags (DESIGN.md §6). A
 * tampered, truncated or broken model must never become active, and a bad
 * new one must not take the terminal's AI down with it.
 *
 * The manifest parser is a decoder of untrusted bytes (fuzzed by
 * tests/fuzz/fuzz_manifest.c); installs and rollbacks of one data directory
 * are serialised by an flock, so concurrent `kassa model install` runs are
 * safe. Library code: nothing is printed.
 */
#ifndef KASSA_MODELREG_H
#define KASSA_MODELREG_H

#include "ai/ai.h"
#include "base/base.h"
#include "fraud/fraud.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define MODELREG_FORMAT 1
#define MODELREG_MANIFEST_MAX_BYTES (1024u * 1024u)
#define MODELREG_MODEL_MAX_BYTES (64u * 1024u * 1024u)
#define MODELREG_TENSOR_MAX_BYTES (64u * 1024u * 1024u)
#define MODELREG_DIM_MAX 1048576
#define MODELREG_LABELS_FILE_MAX_BYTES (256u * 1024u)
#define MODELREG_MAX_LABELS 4096
#define MODELREG_LABEL_MAX 96
#define MODELREG_MAX_CANARIES 16
#define MODELREG_TOLERANCE_LSB_MAX 255
#define MODELREG_FILE_NAME_MAX 64
#define MODELREG_CREATED_AT_LEN 20 /* YYYY-MM-DDTHH:MM:SSZ */
#define MODELREG_VERSION_MAX INT32_MAX
#define MODELREG_LATENCY_BUDGET_MAX_MS 60000.0
#define MODELREG_KEEP_VERSIONS 3
#define MODELREG_MAX_TRUSTED_KEYS 16
#define MODELREG_DEFAULT_RUNS 100
#define MODELREG_MAX_RUNS 10000
#define MODELREG_PATH_MAX 1024
#define MODELREG_MAX_NAMES 256 /* model names listed at most */

#define MODELREG_SHA256_BYTES 32
#define MODELREG_PUBKEY_BYTES 32
#define MODELREG_SECKEY_BYTES 64
#define MODELREG_SIG_BYTES 64
#define MODELREG_FP_LEN 16 /* hex digits of a key fingerprint */

/* ---- the manifest ---- */

typedef struct modelreg_tensor_spec {
    ai_dtype dtype;
    int rank;
    int32_t dims[AI_MAX_RANK];
    size_t count;      /* elements: product of dims */
    size_t size_bytes; /* count × dtype size */
    double scale;      /* 0 without quantization */
    int32_t zero_point;
} modelreg_tensor_spec;

typedef struct modelreg_canary {
    char name[MODELREG_FILE_NAME_MAX + 1];
    bool input_in_file;
    char input_file[MODELREG_FILE_NAME_MAX + 1];
    uint8_t input_sha256[MODELREG_SHA256_BYTES];
    /* The input tensor's bytes: decoded from base64 at parse time, or read
     * from input_file (checked against input_sha256) by the bundle loader;
     * NULL until then. Always input.size_bytes long. */
    uint8_t *input;
    size_t expected_count;  /* == output.count */
    int64_t *expected_int;  /* integer outputs */
    double *expected_float; /* float32 outputs */
    int32_t tolerance_lsb;  /* integer outputs */
    double tolerance_abs;   /* float32 outputs */
} modelreg_canary;

typedef struct modelreg_manifest {
    int format;
    char name[KASSA_ID_MAX + 1];
    int64_t version;
    char created_at[MODELREG_CREATED_AT_LEN + 1];
    char model_file[MODELREG_FILE_NAME_MAX + 1];
    uint64_t model_size_bytes;
    uint8_t model_sha256[MODELREG_SHA256_BYTES];
    modelreg_tensor_spec input;
    modelreg_tensor_spec output;
    json_t *preprocess; /* owned; a JSON object, not interpreted here */
    bool labels_in_file;
    char labels_file[MODELREG_FILE_NAME_MAX + 1];
    uint8_t labels_sha256[MODELREG_SHA256_BYTES];
    /* label_count NUL-terminated strings of at most MODELREG_LABEL_MAX
     * bytes; for the file form filled by modelreg_labels_parse. */
    size_t label_count;
    char (*labels)[MODELREG_LABEL_MAX + 1];
    size_t canary_count;
    modelreg_canary canaries[MODELREG_MAX_CANARIES];
    double latency_budget_ms;
} modelreg_manifest;

/* Parses and checks a manifest (docs/MODELS.md, strict: unknown fields,
 * missing fields, wrong types, out-of-range values, duplicate keys and
 * trailing bytes are KASSA_ECORRUPT; a newer format KASSA_EVERSION). On
 * failure *m is zeroed. Free with modelreg_manifest_free either way. */
int modelreg_manifest_parse(const uint8_t *bytes, size_t len, modelreg_manifest *m, kassa_err *err);
/* Parses a labels file (one label per line, a final newline optional) into
 * m's labels, replacing any: 1..MODELREG_MAX_LABELS labels of 1..96 bytes
 * without control characters. On failure m has no labels. */
int modelreg_labels_parse(const uint8_t *bytes, size_t len, modelreg_manifest *m, kassa_err *err);
void modelreg_manifest_free(modelreg_manifest *m);

/* ---- keys and signatures ---- */

typedef struct modelreg_pubkey {
    uint8_t key[MODELREG_PUBKEY_BYTES];
    char fp[MODELREG_FP_LEN + 1]; /* first 16 hex digits of SHA-256(key) */
} modelreg_pubkey;

typedef struct modelreg_keyset {
    size_t n;
    modelreg_pubkey keys[MODELREG_MAX_TRUSTED_KEYS];
} modelreg_keyset;

/* Writes PREFIX.key (0600, never overwritten) and PREFIX.pub; fp_out
 * (MODELREG_FP_LEN + 1) receives the new key's fingerprint. */
int modelreg_keygen(const char *prefix, char *fp_out, kassa_err *err);
int modelreg_pubkey_read(const char *path, modelreg_pubkey *out, kassa_err *err);
/* Copies a public key file into <data_dir>/models/trusted/<fp>.pub. */
int modelreg_trust(const char *data_dir, const char *pubkey_path, modelreg_pubkey *out,
                   kassa_err *err);
/* The keys in <data_dir>/models/trusted/ (none is not an error: n = 0). */
int modelreg_trusted_load(const char *data_dir, modelreg_keyset *ks, kassa_err *err);

/* Checks a manifest (strictly), that model_path is its model (name, size,
 * SHA-256) and that its canary and labels files match, then writes
 * MANIFEST.sig with the secret key in key_path (refused if group or others
 * can read it). */
int modelreg_sign(const char *key_path, const char *model_path, const char *manifest_path,
                  kassa_err *err);

/* ---- a model directory in memory ---- */

typedef struct modelreg_bundle {
    char dir[MODELREG_PATH_MAX];           /* where the files are */
    char manifest_path[MODELREG_PATH_MAX]; /* dir/<manifest file> */
    uint8_t *manifest_bytes;
    size_t manifest_len;
    uint8_t sig[MODELREG_SIG_BYTES];
    char key_fp[MODELREG_FP_LEN + 1]; /* the trusted key that verified it */
    modelreg_manifest m;
    uint8_t *model; /* model_size_bytes, checked against the SHA-256 */
    uint8_t *labels_bytes;
    size_t labels_len;
} modelreg_bundle;

/* Loads DIR/manifest.json or a manifest path with its .sig: the signature
 * must verify with one of ks's keys before the manifest is parsed; then
 * every file is read into memory and its size and SHA-256 checked. A
 * failure is KASSA_EAUTH (signature), KASSA_ECORRUPT (format, size,
 * checksum), KASSA_EVERSION, KASSA_ENOTFOUND or KASSA_EIO, with the reason.
 * Free with modelreg_bundle_free either way. */
int modelreg_bundle_load(const char *path, const modelreg_keyset *ks, modelreg_bundle *b,
                         kassa_err *err);
void modelreg_bundle_free(modelreg_bundle *b);

/* ---- health check ---- */

typedef struct modelreg_health {
    size_t runs;
    double latency_p50_ms;
    double latency_p99_ms;
    double latency_max_ms;
    size_t memory_bytes; /* ai_model_memory_bytes */
} modelreg_health;

/* Loads the bundle's model with the ai runtime and checks it against the
 * manifest: one input and one output whose dtype, shape, scale and zero
 * point equal the spec, labels count, every canary within tolerance, and
 * the p99 of `runs` invokes within the latency budget. A failure is
 * KASSA_ECONFLICT (the model disagrees with its manifest or its budget) or
 * the runtime's error, with the reason.
 *
 * A fraud model (input.preprocess.kind "fraud_features", docs/FRAUD.md)
 * runs in src/fraud's XGBoost scorer instead: preprocess.runtime
 * "xgboost-1.7-json", float32 input of FRAUD_N_FEATURES features named
 * as fraud_feature_names, one float32 output, a policy fraud_policy_check
 * accepts (when given); fraud_model_load must accept the file, each
 * canary's probability 1 / (1 + e^-margin) must be within tolerance_abs,
 * and the p99 of fraud_model_margin within the budget (memory_bytes 0). */
int modelreg_health_check(const modelreg_bundle *b, int runs, modelreg_health *out, kassa_err *err);

/* The decision thresholds of a fraud model's manifest
 * (input.preprocess.policy: review_at, supervisor_at,
 * refuse_offline_card_at); fraud_policy_default when it has none.
 * KASSA_ECONFLICT for a policy fraud_policy_check refuses. */
int modelreg_fraud_policy(const modelreg_manifest *m, fraud_policy *out, kassa_err *err);

/* ---- the registry of a data directory ---- */

typedef struct modelreg_options {
    int latency_runs; /* 0: MODELREG_DEFAULT_RUNS */
} modelreg_options;

/* What an install or rollback did, for the caller's own audit; the same
 * facts are appended to <data_dir>/models/audit.jsonl. */
typedef struct modelreg_result {
    char event[16]; /* "install" or "rollback" */
    bool ok;
    char name[KASSA_ID_MAX + 1]; /* "" when refused before the manifest was read */
    int64_t version;             /* installed / rolled back to (0: none) */
    int64_t previous;            /* active before (0: none) */
    char key_fp[MODELREG_FP_LEN + 1];
    modelreg_health health;
    char reason[KASSA_ERR_MSG_SIZE]; /* why it was refused; "" when ok */
} modelreg_result;

/* Installs the model at path (a directory holding manifest.json, or a
 * manifest file) into data_dir (docs/MODELS.md, "Install"). On any failure
 * the active model is unchanged, res->ok is false with the reason, and the
 * error is returned. */
int modelreg_install(const char *data_dir, const char *path, const modelreg_options *opt,
                     modelreg_result *res, kassa_err *err);

/* Signature, checksums and health check of the model at path with the keys
 * trusted in data_dir (or only `only_key` when non-NULL); nothing changes. */
int modelreg_verify(const char *data_dir, const char *path, const modelreg_pubkey *only_key,
                    const modelreg_options *opt, modelreg_result *res, kassa_err *err);

/* Activates the highest kept version of name below the active one that
 * passes the install checks again (signature with the keys trusted now,
 * checksums, health check). `why` (may be NULL) goes into the audit line,
 * e.g. kassad's reason for an automatic rollback. With no such version the
 * active model stays and KASSA_ENOTFOUND (nothing kept) or the last
 * candidate's error is returned. */
int modelreg_rollback(const char *data_dir, const char *name, const char *why,
                      const modelreg_options *opt, modelreg_result *res, kassa_err *err);

typedef struct modelreg_entry {
    char name[KASSA_ID_MAX + 1];
    int64_t version;
    bool active;
    char created_at[MODELREG_CREATED_AT_LEN + 1];
    uint64_t model_size_bytes;
    char model_sha256_hex[2 * MODELREG_SHA256_BYTES + 1];
} modelreg_entry;

/* Every kept version of every name, sorted by name then version (manifests
 * parsed, not re-verified). *out is malloc'd (free it); n may be 0. */
int modelreg_list(const char *data_dir, modelreg_entry **out, size_t *n, kassa_err *err);

/* The active model of a name, for kassad: re-verified on every call
 * (signature with the keys trusted now, size, SHA-256), not loaded. */
typedef struct modelreg_active {
    char model_path[MODELREG_PATH_MAX];
    int64_t version;
    modelreg_bundle bundle; /* .m is the parsed manifest, .model the checked bytes */
} modelreg_active;

/* KASSA_ENOTFOUND when no version of name is active. */
int modelreg_resolve(const char *data_dir, const char *name, modelreg_active *out, kassa_err *err);
void modelreg_active_free(modelreg_active *a);

/* ---- small shared helpers ---- */

/* Lower-case hex of n bytes into out (2n + 1). */
void modelreg_hex(const uint8_t *p, size_t n, char *out);
/* A file name a manifest may name: 1..64 of [A-Za-z0-9._-], no leading '.'. */
bool modelreg_valid_file_name(const char *s);
/* The size in bytes of one element of a dtype; 0 for an unknown one. */
size_t modelreg_dtype_size(ai_dtype t);

#endif
