/*
 * pki: the company CA and device identities, on OpenSSL 3 (EVP/X509 APIs
 * only). See pki.h for the file layout.
 */
#include "pki/pki.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define PKI_PATH_MAX 4096
#define PKI_URI_PREFIX "urn:kassa:store:"
#define PKI_URI_NODE ":node:"
#define PKI_URI_MAX (sizeof PKI_URI_PREFIX + sizeof PKI_URI_NODE + 2 * KASSA_ID_MAX)
/* X.509's upper bound on a commonName (RFC 5280 ub-common-name). */
#define PKI_CN_MAX 64
/* Terminals' clocks drift: a certificate valid from "now" on the CA's clock
 * should not be refused by a terminal a few minutes behind. */
#define PKI_BACKDATE_SECS 300
#define PKI_INDEX_LINE_MAX 256

/* Fails with the reason OpenSSL queued (if any), and clears its queue so
 * the next failure does not report a stale reason. */
static int ossl_fail(kassa_err *err, int code, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    int rc = kassa_fail(err, code, "%s%s%s", what, reason ? ": " : "", reason ? reason : "");
    ERR_clear_error();
    return rc;
}

static int join(char *out, const char *dir, const char *name, kassa_err *err)
{
    int n = snprintf(out, PKI_PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= PKI_PATH_MAX)
        return kassa_fail(err, KASSA_EINVAL, "path too long: %s/%s", dir, name);
    return KASSA_OK;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int make_dir(const char *dir, kassa_err *err)
{
    if (mkdir(dir, 0700) == 0)
        return KASSA_OK;
    struct stat st;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return KASSA_OK;
    return kassa_fail(err, KASSA_EIO, "cannot create directory %s: %s", dir, strerror(errno));
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes path through a temporary file and rename, so a crash leaves the
 * old file or the new one, never half of one. fchmod because umask would
 * otherwise decide the mode. */
static int write_file(const char *path, const void *data, size_t len, mode_t mode, kassa_err *err)
{
    char tmp[PKI_PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return kassa_fail(err, KASSA_EINVAL, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return kassa_fail(err, KASSA_EIO, "cannot create %s: %s", tmp, strerror(errno));
    int e = 0;
    if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0)
        e = errno ? errno : EIO;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        return kassa_fail(err, e == ENOSPC ? KASSA_EFULL : KASSA_EIO, "cannot write %s: %s", path,
                          strerror(e));
    }
    return KASSA_OK;
}

/* Writes what a PEM writer put into a memory BIO. */
static int write_bio(const char *path, BIO *bio, mode_t mode, kassa_err *err)
{
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    if (len <= 0)
        return kassa_fail(err, KASSA_EIO, "nothing to write to %s", path);
    return write_file(path, data, (size_t)len, mode, err);
}

/* Reads a whole file of at most max bytes. With check_private, refuses a
 * file whose mode gives group or others any access: a key anyone on the
 * machine can read is no longer a device's secret. */
static int read_file(const char *path, size_t max, bool check_private, char **out, size_t *out_len,
                     kassa_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kassa_fail(err, errno == ENOENT ? KASSA_ENOTFOUND : KASSA_EIO, "cannot open %s: %s",
                          path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return kassa_fail(err, KASSA_EIO, "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return kassa_fail(err, KASSA_EINVAL, "%s is not a regular file", path);
    }
    if (check_private && (st.st_mode & 077)) {
        close(fd);
        const char *base = strrchr(path, '/');
        return kassa_fail(err, KASSA_EINVAL, "%s is %s by others (mode %04o): chmod 600",
                          base ? base + 1 : path, (st.st_mode & 044) ? "readable" : "writable",
                          (unsigned)(st.st_mode & 07777));
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return kassa_fail(err, KASSA_EINVAL, "%s is larger than %zu bytes", path, max);
    }
    size_t cap = (size_t)st.st_size;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory reading %s", path);
    }
    size_t len = 0;
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            OPENSSL_clear_free(buf, cap + 1);
            return kassa_fail(err, KASSA_EIO, "cannot read %s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return KASSA_OK;
}

static BIO *read_bio(const char *path, size_t max, bool check_private, char **buf, kassa_err *err)
{
    size_t len;
    if (read_file(path, max, check_private, buf, &len, err) != KASSA_OK)
        return NULL;
    BIO *bio = BIO_new_mem_buf(*buf, (int)len);
    if (!bio) {
        OPENSSL_clear_free(*buf, len + 1);
        *buf = NULL;
        ossl_fail(err, KASSA_ENOMEM, "out of memory");
    }
    return bio;
}

static void free_bio(BIO *bio, char *buf)
{
    BIO_free(bio);
    if (buf)
        OPENSSL_clear_free(buf, strlen(buf) + 1);
}

static EVP_PKEY *read_key(const char *path, kassa_err *err)
{
    char *buf = NULL;
    BIO *bio = read_bio(path, PKI_PEM_MAX, true, &buf, err);
    if (!bio)
        return NULL;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    free_bio(bio, buf);
    if (!key) {
        char what[PKI_PATH_MAX + 32];
        snprintf(what, sizeof what, "%s: not a PEM private key", path);
        ossl_fail(err, KASSA_ECORRUPT, what);
    }
    return key;
}

X509 *pki_read_cert(const char *path, kassa_err *err)
{
    char *buf = NULL;
    BIO *bio = read_bio(path, PKI_PEM_MAX, false, &buf, err);
    if (!bio)
        return NULL;
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    free_bio(bio, buf);
    if (!x) {
        char what[PKI_PATH_MAX + 32];
        snprintf(what, sizeof what, "%s: not a PEM certificate", path);
        ossl_fail(err, KASSA_ECORRUPT, what);
    }
    return x;
}

static X509_CRL *read_crl(const char *path, kassa_err *err)
{
    char *buf = NULL;
    BIO *bio = read_bio(path, PKI_CRL_MAX, false, &buf, err);
    if (!bio)
        return NULL;
    X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    free_bio(bio, buf);
    if (!crl) {
        char what[PKI_PATH_MAX + 32];
        snprintf(what, sizeof what, "%s: not a PEM CRL", path);
        ossl_fail(err, KASSA_ECORRUPT, what);
    }
    return crl;
}

/* ---- building certificates ---- */

/* A random positive 128-bit serial: unpredictable serials are what RFC 5280
 * and the CA/B rules ask for, and collisions are out of the question. */
static int random_serial(X509 *x, BIGNUM **out, kassa_err *err)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return ossl_fail(err, KASSA_EIO, "no random bytes for a serial");
    b[0] = (unsigned char)((b[0] & 0x7f) | 0x40); /* positive, always 16 bytes */
    BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
    ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    int ok = ai && X509_set_serialNumber(x, ai) == 1;
    ASN1_INTEGER_free(ai);
    if (!ok) {
        BN_free(bn);
        return ossl_fail(err, KASSA_ENOMEM, "cannot set the serial");
    }
    if (out)
        *out = bn;
    else
        BN_free(bn);
    return KASSA_OK;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value, kassa_err *err)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    int ok = ext && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    if (!ok)
        return ossl_fail(err, KASSA_ENOMEM, "cannot add a certificate extension");
    return KASSA_OK;
}

static EVP_PKEY *new_key(kassa_err *err)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key)
        ossl_fail(err, KASSA_ENOMEM, "cannot generate an EC P-256 key");
    return key;
}

static int set_validity(X509 *x, time_t not_before, time_t not_after, kassa_err *err)
{
    if (!ASN1_TIME_set(X509_getm_notBefore(x), not_before) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), not_after))
        return ossl_fail(err, KASSA_EINVAL, "cannot set the validity period");
    return KASSA_OK;
}

static int set_cn(X509_NAME *name, const char *cn, kassa_err *err)
{
    if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn,
                                   -1, -1, 0) != 1)
        return ossl_fail(err, KASSA_EINVAL, "cannot set the common name");
    return KASSA_OK;
}

static int key_pem(BIO **out, EVP_PKEY *key, kassa_err *err)
{
    *out = BIO_new(BIO_s_mem());
    if (!*out || PEM_write_bio_PrivateKey(*out, key, NULL, NULL, 0, NULL, NULL) != 1)
        return ossl_fail(err, KASSA_ENOMEM, "cannot encode the private key");
    return KASSA_OK;
}

static int cert_pem(BIO **out, X509 *x, kassa_err *err)
{
    *out = BIO_new(BIO_s_mem());
    if (!*out || PEM_write_bio_X509(*out, x) != 1)
        return ossl_fail(err, KASSA_ENOMEM, "cannot encode the certificate");
    return KASSA_OK;
}

/* ---- the CA index ---- */

typedef struct index_entry {
    char serial[80]; /* hex */
    char store[KASSA_ID_MAX + 1];
    char node[KASSA_ID_MAX + 1];
    int64_t not_after;
    int64_t revoked_at; /* 0: valid */
} index_entry;

typedef struct index_list {
    index_entry *v;
    size_t n;
} index_list;

static int index_load(const char *ca_dir, index_list *list, kassa_err *err)
{
    char path[PKI_PATH_MAX];
    int rc = join(path, ca_dir, "index.txt", err);
    if (rc != KASSA_OK)
        return rc;
    char *buf;
    size_t len;
    rc = read_file(path, PKI_INDEX_MAX, false, &buf, &len, err);
    if (rc != KASSA_OK)
        return rc;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    list->v = calloc(lines + 1, sizeof *list->v);
    list->n = 0;
    if (!list->v) {
        free(buf);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory reading %s", path);
    }
    size_t lineno = 0;
    for (char *line = buf, *next; line < buf + len; line = next) {
        char *nl = strchr(line, '\n');
        if (!nl) {
            rc = kassa_fail(err, KASSA_ECORRUPT, "%s: last line is not terminated", path);
            break;
        }
        *nl = '\0';
        next = nl + 1;
        lineno++;
        index_entry *e = &list->v[list->n];
        char end;
        if (strlen(line) > PKI_INDEX_LINE_MAX ||
            sscanf(line, "%79s %32s %32s %" SCNd64 " %" SCNd64 "%c", e->serial, e->store, e->node,
                   &e->not_after, &e->revoked_at, &end) != 5 ||
            !kassa_valid_id(e->store, KASSA_ID_MAX) || !kassa_valid_id(e->node, KASSA_ID_MAX) ||
            strspn(e->serial, "0123456789ABCDEF") != strlen(e->serial) || e->revoked_at < 0) {
            rc = kassa_fail(err, KASSA_ECORRUPT, "%s:%zu: malformed line", path, lineno);
            break;
        }
        list->n++;
    }
    free(buf);
    if (rc != KASSA_OK) {
        free(list->v);
        list->v = NULL;
        list->n = 0;
    }
    return rc;
}

static int index_format(const index_entry *e, char *line, size_t size)
{
    int n = snprintf(line, size, "%s %s %s %" PRId64 " %" PRId64 "\n", e->serial, e->store, e->node,
                     e->not_after, e->revoked_at);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

static int index_save(const char *ca_dir, const index_list *list, kassa_err *err)
{
    char path[PKI_PATH_MAX];
    int rc = join(path, ca_dir, "index.txt", err);
    if (rc != KASSA_OK)
        return rc;
    kbuf b;
    kbuf_init(&b);
    for (size_t i = 0; i < list->n; i++) {
        char line[PKI_INDEX_LINE_MAX + 2];
        int n = index_format(&list->v[i], line, sizeof line);
        if (n < 0) {
            kbuf_free(&b);
            return kassa_fail(err, KASSA_EINVAL, "index line too long");
        }
        kbuf_put(&b, line, (size_t)n);
    }
    if (b.oom) {
        kbuf_free(&b);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory writing %s", path);
    }
    rc = write_file(path, b.data ? (const void *)b.data : "", b.len, 0600, err);
    kbuf_free(&b);
    return rc;
}

/* Appends one entry; O_APPEND + fsync so the record of an issued serial is
 * durable before the certificate leaves the CA. */
static int index_append(const char *ca_dir, const index_entry *e, kassa_err *err)
{
    char path[PKI_PATH_MAX], line[PKI_INDEX_LINE_MAX + 2];
    int rc = join(path, ca_dir, "index.txt", err);
    if (rc != KASSA_OK)
        return rc;
    int n = index_format(e, line, sizeof line);
    if (n < 0)
        return kassa_fail(err, KASSA_EINVAL, "index line too long");
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return kassa_fail(err, KASSA_EIO, "cannot open %s: %s", path, strerror(errno));
    int e2 = 0;
    if (write_all(fd, line, (size_t)n) != 0 || fsync(fd) != 0)
        e2 = errno ? errno : EIO;
    if (close(fd) != 0 && !e2)
        e2 = errno;
    if (e2)
        return kassa_fail(err, e2 == ENOSPC ? KASSA_EFULL : KASSA_EIO, "cannot write %s: %s", path,
                          strerror(e2));
    return KASSA_OK;
}

/* ---- CA ---- */

typedef struct ca {
    EVP_PKEY *key;
    X509 *cert;
} ca;

static void ca_free(ca *c)
{
    EVP_PKEY_free(c->key);
    X509_free(c->cert);
    c->key = NULL;
    c->cert = NULL;
}

static int ca_load(const char *dir, ca *c, kassa_err *err)
{
    char kpath[PKI_PATH_MAX], cpath[PKI_PATH_MAX];
    c->key = NULL;
    c->cert = NULL;
    int rc = join(kpath, dir, "ca.key", err);
    if (rc == KASSA_OK)
        rc = join(cpath, dir, "ca.crt", err);
    if (rc != KASSA_OK)
        return rc;
    if (!exists(kpath) || !exists(cpath))
        return kassa_fail(err, KASSA_ENOTFOUND, "no CA in %s: run kassa ca init --dir %s", dir,
                          dir);
    c->key = read_key(kpath, err);
    if (!c->key)
        return err ? err->code : KASSA_EIO;
    c->cert = pki_read_cert(cpath, err);
    if (!c->cert) {
        ca_free(c);
        return err ? err->code : KASSA_EIO;
    }
    if (X509_check_private_key(c->cert, c->key) != 1) {
        ca_free(c);
        return ossl_fail(err, KASSA_ECORRUPT, "ca.key does not match ca.crt");
    }
    return KASSA_OK;
}

static int crl_write(const char *ca_dir, const ca *c, const index_list *list, kassa_err *err)
{
    char path[PKI_PATH_MAX];
    int rc = join(path, ca_dir, "crl.pem", err);
    if (rc != KASSA_OK)
        return rc;
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_new();
    BIO *bio = NULL;
    time_t now = time(NULL);
    rc = KASSA_OK;
    if (!crl || !t || X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(c->cert)) != 1 ||
        !ASN1_TIME_set(t, now) || X509_CRL_set1_lastUpdate(crl, t) != 1 ||
        !ASN1_TIME_set(t, now + (time_t)PKI_CRL_DAYS * 86400) ||
        X509_CRL_set1_nextUpdate(crl, t) != 1)
        rc = ossl_fail(err, KASSA_ENOMEM, "cannot build the CRL");
    for (size_t i = 0; rc == KASSA_OK && i < list->n; i++) {
        const index_entry *e = &list->v[i];
        if (!e->revoked_at)
            continue;
        BIGNUM *bn = NULL;
        ASN1_INTEGER *serial = NULL;
        X509_REVOKED *r = X509_REVOKED_new();
        bool ok = r && BN_hex2bn(&bn, e->serial) > 0 && (serial = BN_to_ASN1_INTEGER(bn, NULL)) &&
                  X509_REVOKED_set_serialNumber(r, serial) == 1 &&
                  ASN1_TIME_set(t, (time_t)e->revoked_at) &&
                  X509_REVOKED_set_revocationDate(r, t) == 1 && X509_CRL_add0_revoked(crl, r) == 1;
        BN_free(bn);
        ASN1_INTEGER_free(serial);
        if (!ok) {
            X509_REVOKED_free(r);
            rc = ossl_fail(err, KASSA_ENOMEM, "cannot add a revoked serial to the CRL");
        }
    }
    if (rc == KASSA_OK &&
        (X509_CRL_sort(crl) != 1 || X509_CRL_sign(crl, c->key, EVP_sha256()) <= 0))
        rc = ossl_fail(err, KASSA_EIO, "cannot sign the CRL");
    if (rc == KASSA_OK) {
        bio = BIO_new(BIO_s_mem());
        if (!bio || PEM_write_bio_X509_CRL(bio, crl) != 1)
            rc = ossl_fail(err, KASSA_ENOMEM, "cannot encode the CRL");
    }
    if (rc == KASSA_OK)
        rc = write_bio(path, bio, 0644, err);
    BIO_free(bio);
    ASN1_TIME_free(t);
    X509_CRL_free(crl);
    return rc;
}

int pki_ca_init(const char *dir, kassa_err *err)
{
    char kpath[PKI_PATH_MAX], cpath[PKI_PATH_MAX], ipath[PKI_PATH_MAX];
    int rc = join(kpath, dir, "ca.key", err);
    if (rc == KASSA_OK)
        rc = join(cpath, dir, "ca.crt", err);
    if (rc == KASSA_OK)
        rc = join(ipath, dir, "index.txt", err);
    if (rc != KASSA_OK)
        return rc;
    if (exists(kpath) || exists(cpath) || exists(ipath))
        return kassa_fail(err, KASSA_ECONFLICT, "%s already holds a CA", dir);
    rc = make_dir(dir, err);
    if (rc != KASSA_OK)
        return rc;

    ca c = {.key = new_key(err), .cert = X509_new()};
    BIO *kbio = NULL, *cbio = NULL;
    if (!c.key) {
        X509_free(c.cert);
        return err ? err->code : KASSA_ENOMEM;
    }
    time_t now = time(NULL);
    if (!c.cert || X509_set_version(c.cert, X509_VERSION_3) != 1)
        rc = ossl_fail(err, KASSA_ENOMEM, "cannot build the CA certificate");
    if (rc == KASSA_OK)
        rc = random_serial(c.cert, NULL, err);
    if (rc == KASSA_OK)
        rc = set_validity(c.cert, now - PKI_BACKDATE_SECS, now + (time_t)PKI_CA_DAYS * 86400, err);
    if (rc == KASSA_OK)
        rc = set_cn(X509_get_subject_name(c.cert), "kassa company CA", err);
    if (rc == KASSA_OK && (X509_set_issuer_name(c.cert, X509_get_subject_name(c.cert)) != 1 ||
                           X509_set_pubkey(c.cert, c.key) != 1))
        rc = ossl_fail(err, KASSA_ENOMEM, "cannot build the CA certificate");
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, c.cert, c.cert, NULL, NULL, 0);
    if (rc == KASSA_OK)
        rc = add_ext(c.cert, &ctx, NID_basic_constraints, "critical,CA:TRUE", err);
    if (rc == KASSA_OK)
        rc = add_ext(c.cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign", err);
    if (rc == KASSA_OK)
        rc = add_ext(c.cert, &ctx, NID_subject_key_identifier, "hash", err);
    if (rc == KASSA_OK)
        rc = add_ext(c.cert, &ctx, NID_authority_key_identifier, "keyid:always", err);
    if (rc == KASSA_OK && X509_sign(c.cert, c.key, EVP_sha256()) <= 0)
        rc = ossl_fail(err, KASSA_EIO, "cannot sign the CA certificate");
    if (rc == KASSA_OK)
        rc = key_pem(&kbio, c.key, err);
    if (rc == KASSA_OK)
        rc = cert_pem(&cbio, c.cert, err);
    /* The index first and the key last: ca.key's presence is what marks a
     * complete CA, and a crash before it leaves a directory init refuses
     * (index.txt) rather than a CA without its state. */
    if (rc == KASSA_OK)
        rc = write_file(ipath, "", 0, 0600, err);
    if (rc == KASSA_OK)
        rc = write_bio(cpath, cbio, 0644, err);
    if (rc == KASSA_OK) {
        index_list empty = {0};
        rc = crl_write(dir, &c, &empty, err);
    }
    if (rc == KASSA_OK)
        rc = write_bio(kpath, kbio, 0600, err);
    BIO_free(kbio);
    BIO_free(cbio);
    ca_free(&c);
    return rc;
}

static int copy_file(const char *from, const char *to, kassa_err *err)
{
    char *buf;
    size_t len;
    int rc = read_file(from, PKI_CRL_MAX, false, &buf, &len, err);
    if (rc != KASSA_OK)
        return rc;
    rc = write_file(to, buf, len, 0644, err);
    free(buf);
    return rc;
}

int pki_ca_issue_validity(const char *ca_dir, const char *store, const char *node,
                          const char *out_dir, time_t not_before, time_t not_after, kassa_err *err)
{
    if (!kassa_valid_id(store, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL,
                          "invalid store id \"%.40s\": 1..%d characters of A-Z a-z 0-9 . _ -",
                          store, KASSA_ID_MAX);
    if (!kassa_valid_id(node, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL,
                          "invalid node id \"%.40s\": 1..%d characters of A-Z a-z 0-9 . _ -", node,
                          KASSA_ID_MAX);
    char cn[2 * KASSA_ID_MAX + 2], uri[PKI_URI_MAX + 8];
    snprintf(cn, sizeof cn, "%s.%s", node, store);
    if (strlen(cn) > PKI_CN_MAX)
        return kassa_fail(err, KASSA_EINVAL,
                          "node.store \"%s\" is longer than %d characters (the X.509 common name "
                          "limit)",
                          cn, PKI_CN_MAX);
    snprintf(uri, sizeof uri, "URI:" PKI_URI_PREFIX "%s" PKI_URI_NODE "%s", store, node);
    if (not_after <= not_before)
        return kassa_fail(err, KASSA_EINVAL, "the validity period is empty");

    char kpath[PKI_PATH_MAX], cpath[PKI_PATH_MAX], capath[PKI_PATH_MAX], crlpath[PKI_PATH_MAX],
        src_ca[PKI_PATH_MAX], src_crl[PKI_PATH_MAX];
    int rc = join(kpath, out_dir, "device.key", err);
    if (rc == KASSA_OK)
        rc = join(cpath, out_dir, "device.crt", err);
    if (rc == KASSA_OK)
        rc = join(capath, out_dir, "ca.crt", err);
    if (rc == KASSA_OK)
        rc = join(crlpath, out_dir, "crl.pem", err);
    if (rc == KASSA_OK)
        rc = join(src_ca, ca_dir, "ca.crt", err);
    if (rc == KASSA_OK)
        rc = join(src_crl, ca_dir, "crl.pem", err);
    if (rc != KASSA_OK)
        return rc;

    ca c;
    rc = ca_load(ca_dir, &c, err);
    if (rc != KASSA_OK)
        return rc;
    /* Never overwrite a device's key: a terminal in service would lose its
     * identity. Re-issuing goes to a fresh directory. */
    if (exists(kpath)) {
        ca_free(&c);
        return kassa_fail(err, KASSA_ECONFLICT, "%s already exists: issue into a new directory",
                          kpath);
    }

    EVP_PKEY *key = new_key(err);
    X509 *x = X509_new();
    BIGNUM *serial = NULL;
    char *serial_hex = NULL;
    BIO *kbio = NULL, *cbio = NULL;
    if (!key)
        rc = err ? err->code : KASSA_ENOMEM;
    else if (!x || X509_set_version(x, X509_VERSION_3) != 1)
        rc = ossl_fail(err, KASSA_ENOMEM, "cannot build the device certificate");
    if (rc == KASSA_OK)
        rc = random_serial(x, &serial, err);
    if (rc == KASSA_OK)
        rc = set_validity(x, not_before, not_after, err);
    if (rc == KASSA_OK)
        rc = set_cn(X509_get_subject_name(x), cn, err);
    if (rc == KASSA_OK && (X509_set_issuer_name(x, X509_get_subject_name(c.cert)) != 1 ||
                           X509_set_pubkey(x, key) != 1))
        rc = ossl_fail(err, KASSA_ENOMEM, "cannot build the device certificate");
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, c.cert, x, NULL, NULL, 0);
    if (rc == KASSA_OK)
        rc = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE", err);
    if (rc == KASSA_OK)
        rc = add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature", err);
    if (rc == KASSA_OK)
        rc = add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth", err);
    if (rc == KASSA_OK)
        rc = add_ext(x, &ctx, NID_subject_alt_name, uri, err);
    if (rc == KASSA_OK)
        rc = add_ext(x, &ctx, NID_subject_key_identifier, "hash", err);
    if (rc == KASSA_OK)
        rc = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", err);
    if (rc == KASSA_OK && X509_sign(x, c.key, EVP_sha256()) <= 0)
        rc = ossl_fail(err, KASSA_EIO, "cannot sign the device certificate");
    if (rc == KASSA_OK && !(serial_hex = BN_bn2hex(serial)))
        rc = ossl_fail(err, KASSA_ENOMEM, "cannot format the serial");
    if (rc == KASSA_OK)
        rc = key_pem(&kbio, key, err);
    if (rc == KASSA_OK)
        rc = cert_pem(&cbio, x, err);
    if (rc == KASSA_OK)
        rc = make_dir(out_dir, err);
    if (rc == KASSA_OK) {
        index_entry e = {.not_after = (int64_t)not_after, .revoked_at = 0};
        snprintf(e.serial, sizeof e.serial, "%s", serial_hex);
        snprintf(e.store, sizeof e.store, "%s", store);
        snprintf(e.node, sizeof e.node, "%s", node);
        rc = index_append(ca_dir, &e, err);
    }
    if (rc == KASSA_OK)
        rc = write_bio(kpath, kbio, 0600, err);
    if (rc == KASSA_OK)
        rc = write_bio(cpath, cbio, 0644, err);
    if (rc == KASSA_OK)
        rc = copy_file(src_ca, capath, err);
    if (rc == KASSA_OK && exists(src_crl))
        rc = copy_file(src_crl, crlpath, err);
    BIO_free(kbio);
    BIO_free(cbio);
    OPENSSL_free(serial_hex);
    BN_free(serial);
    X509_free(x);
    EVP_PKEY_free(key);
    ca_free(&c);
    return rc;
}

int pki_ca_issue(const char *ca_dir, const char *store, const char *node, const char *out_dir,
                 kassa_err *err)
{
    time_t now = time(NULL);
    return pki_ca_issue_validity(ca_dir, store, node, out_dir, now - PKI_BACKDATE_SECS,
                                 now + (time_t)PKI_DEVICE_DAYS * 86400, err);
}

static int revoke_or_crl(const char *ca_dir, const char *store, const char *node, int *revoked,
                         kassa_err *err)
{
    ca c;
    int rc = ca_load(ca_dir, &c, err);
    if (rc != KASSA_OK)
        return rc;
    index_list list = {0};
    rc = index_load(ca_dir, &list, err);
    int found = 0, now_revoked = 0;
    if (rc == KASSA_OK && store) {
        int64_t now = (int64_t)time(NULL);
        for (size_t i = 0; i < list.n; i++) {
            index_entry *e = &list.v[i];
            if (strcmp(e->store, store) != 0 || strcmp(e->node, node) != 0)
                continue;
            found++;
            if (!e->revoked_at) {
                e->revoked_at = now;
                now_revoked++;
            }
        }
        if (!found)
            rc = kassa_fail(err, KASSA_ENOTFOUND,
                            "no certificate was issued to node %s of store %s", node, store);
        else if (now_revoked)
            rc = index_save(ca_dir, &list, err);
    }
    /* The CRL is rewritten even when nothing new was revoked: a repeated
     * revoke also repairs a CRL lost after the index was saved. */
    if (rc == KASSA_OK)
        rc = crl_write(ca_dir, &c, &list, err);
    if (rc == KASSA_OK && revoked)
        *revoked = now_revoked;
    free(list.v);
    ca_free(&c);
    return rc;
}

int pki_ca_revoke(const char *ca_dir, const char *store, const char *node, int *revoked,
                  kassa_err *err)
{
    if (!kassa_valid_id(store, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "invalid store id \"%.40s\"", store);
    if (!kassa_valid_id(node, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "invalid node id \"%.40s\"", node);
    return revoke_or_crl(ca_dir, store, node, revoked, err);
}

int pki_ca_crl(const char *ca_dir, kassa_err *err)
{
    return revoke_or_crl(ca_dir, NULL, NULL, NULL, err);
}

/* ---- identities and peers ---- */

int pki_cert_ids(X509 *cert, char store[KASSA_ID_MAX + 1], char node[KASSA_ID_MAX + 1],
                 kassa_err *err)
{
    int crit = -1;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    if (!names) {
        ERR_clear_error();
        return kassa_fail(err, KASSA_EINVAL, "%s",
                          crit == -2 ? "certificate has more than one subjectAltName extension"
                                     : "certificate has no subjectAltName");
    }
    int found = 0, rc = KASSA_OK;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type != GEN_URI)
            continue;
        const unsigned char *p = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
        int len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
        /* Only our URIs count; a certificate may carry others. */
        if (len < 10 || strncasecmp((const char *)p, "urn:kassa:", 10) != 0)
            continue;
        if (++found > 1) {
            rc = kassa_fail(err, KASSA_EINVAL, "certificate has more than one kassa URI");
            break;
        }
        char uri[PKI_URI_MAX];
        if ((size_t)len >= sizeof uri || memchr(p, '\0', (size_t)len)) {
            rc = kassa_fail(err, KASSA_EINVAL, "certificate has a malformed kassa URI");
            break;
        }
        memcpy(uri, p, (size_t)len);
        uri[len] = '\0';
        const size_t pre = sizeof PKI_URI_PREFIX - 1, mid = sizeof PKI_URI_NODE - 1;
        char *s = uri + pre, *colon = NULL;
        if (strncmp(uri, PKI_URI_PREFIX, pre) == 0)
            colon = strchr(s, ':');
        if (!colon || strncmp(colon, PKI_URI_NODE, mid) != 0) {
            rc = kassa_fail(err, KASSA_EINVAL, "certificate has a malformed kassa URI");
            break;
        }
        *colon = '\0';
        const char *t = colon + mid;
        if (!kassa_valid_id(s, KASSA_ID_MAX) || !kassa_valid_id(t, KASSA_ID_MAX)) {
            rc = kassa_fail(err, KASSA_EINVAL, "certificate's kassa URI has an invalid id");
            break;
        }
        /* Both fit: kassa_valid_id bounds them to KASSA_ID_MAX. */
        memcpy(store, s, strlen(s) + 1);
        memcpy(node, t, strlen(t) + 1);
    }
    GENERAL_NAMES_free(names);
    if (rc == KASSA_OK && !found)
        rc = kassa_fail(err, KASSA_EINVAL, "certificate has no urn:kassa:store:S:node:T URI");
    return rc;
}

void pki_identity_free(pki_identity *id)
{
    EVP_PKEY_free(id->key);
    X509_free(id->cert);
    X509_free(id->ca);
    X509_CRL_free(id->crl);
    memset(id, 0, sizeof *id);
}

int pki_identity_set_crl(pki_identity *id, const char *path, kassa_err *err)
{
    X509_CRL *crl = read_crl(path, err);
    if (!crl)
        return err ? err->code : KASSA_EIO;
    EVP_PKEY *ca_pub = X509_get0_pubkey(id->ca);
    if (!ca_pub || X509_CRL_verify(crl, ca_pub) != 1) {
        X509_CRL_free(crl);
        return ossl_fail(err, KASSA_ECORRUPT, "the CRL is not signed by our CA");
    }
    X509_CRL_free(id->crl);
    id->crl = crl;
    return KASSA_OK;
}

int pki_identity_load(const char *dir, pki_identity *id, kassa_err *err)
{
    memset(id, 0, sizeof *id);
    char kpath[PKI_PATH_MAX], cpath[PKI_PATH_MAX], capath[PKI_PATH_MAX], crlpath[PKI_PATH_MAX];
    int rc = join(kpath, dir, "device.key", err);
    if (rc == KASSA_OK)
        rc = join(cpath, dir, "device.crt", err);
    if (rc == KASSA_OK)
        rc = join(capath, dir, "ca.crt", err);
    if (rc == KASSA_OK)
        rc = join(crlpath, dir, "crl.pem", err);
    if (rc != KASSA_OK)
        return rc;
    if (!(id->key = read_key(kpath, err)) || !(id->cert = pki_read_cert(cpath, err)) ||
        !(id->ca = pki_read_cert(capath, err))) {
        rc = err ? err->code : KASSA_EIO;
    } else if (X509_check_private_key(id->cert, id->key) != 1) {
        rc = ossl_fail(err, KASSA_EINVAL, "device.key does not match device.crt");
    } else {
        EVP_PKEY *ca_pub = X509_get0_pubkey(id->ca);
        if (!ca_pub || X509_verify(id->cert, ca_pub) != 1)
            rc = ossl_fail(err, KASSA_EINVAL, "device.crt is not signed by ca.crt");
    }
    if (rc == KASSA_OK)
        rc = pki_cert_ids(id->cert, id->store, id->node, err);
    if (rc == KASSA_OK && exists(crlpath))
        rc = pki_identity_set_crl(id, crlpath, err);
    if (rc != KASSA_OK)
        pki_identity_free(id);
    return rc;
}

const char *pki_reject_name(pki_reject r)
{
    switch (r) {
    case PKI_REJECT_NONE:
        return "accepted";
    case PKI_REJECT_UNTRUSTED:
        return "not issued by our CA";
    case PKI_REJECT_REVOKED:
        return "revoked";
    case PKI_REJECT_EXPIRED:
        return "expired or not yet valid";
    case PKI_REJECT_BAD_CERT:
        return "bad certificate";
    case PKI_REJECT_STORE:
        return "another store";
    case PKI_REJECT_NOT_ROSTER:
        return "not in the store roster";
    }
    return "unknown";
}

static pki_reject classify(int verr)
{
    switch (verr) {
    case X509_V_ERR_CERT_REVOKED:
        return PKI_REJECT_REVOKED;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return PKI_REJECT_EXPIRED;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
        return PKI_REJECT_UNTRUSTED;
    default:
        return PKI_REJECT_BAD_CERT;
    }
}

static int reject(pki_reject r, pki_reject *why, kassa_err *err, const char *detail)
{
    if (why)
        *why = r;
    return kassa_fail(err, KASSA_EAUTH, "peer certificate refused: %s (%s)", pki_reject_name(r),
                      detail);
}

int pki_verify_peer(const pki_identity *self, X509 *peer, STACK_OF(X509) * chain,
                    const char *expected_store, pki_roster_fn in_roster, void *roster_ctx,
                    char node_out[KASSA_ID_MAX + 1], pki_reject *why, kassa_err *err)
{
    if (why)
        *why = PKI_REJECT_NONE;
    if (!self || !self->ca || !peer || !expected_store)
        return kassa_fail(err, KASSA_EINVAL, "pki_verify_peer: missing identity or certificate");
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = KASSA_OK;
    if (!store || !ctx || X509_STORE_add_cert(store, self->ca) != 1 ||
        (self->crl && (X509_STORE_add_crl(store, self->crl) != 1 ||
                       X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK) != 1)) ||
        X509_STORE_CTX_init(ctx, store, peer, chain) != 1) {
        rc = ossl_fail(err, KASSA_ENOMEM, "cannot set up certificate verification");
    } else if (X509_verify_cert(ctx) != 1) {
        int verr = X509_STORE_CTX_get_error(ctx);
        ERR_clear_error();
        rc = reject(classify(verr), why, err, X509_verify_cert_error_string(verr));
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    if (rc != KASSA_OK)
        return rc;

    char s[KASSA_ID_MAX + 1], n[KASSA_ID_MAX + 1];
    kassa_err id_err;
    if (pki_cert_ids(peer, s, n, &id_err) != KASSA_OK)
        return reject(PKI_REJECT_BAD_CERT, why, err, id_err.msg);
    if (strcmp(s, expected_store) != 0) {
        char detail[2 * KASSA_ID_MAX + 32];
        snprintf(detail, sizeof detail, "store %s, we are %s", s, expected_store);
        return reject(PKI_REJECT_STORE, why, err, detail);
    }
    if (in_roster && !in_roster(roster_ctx, s, n)) {
        char detail[KASSA_ID_MAX + 32];
        snprintf(detail, sizeof detail, "node %s", n);
        return reject(PKI_REJECT_NOT_ROSTER, why, err, detail);
    }
    if (node_out)
        snprintf(node_out, KASSA_ID_MAX + 1, "%s", n);
    return KASSA_OK;
}
