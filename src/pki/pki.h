/*
 * pki: device certificates from the company CA (DESIGN.md §7).
 *
 * A company CA (EC P-256, self-signed, 10 years) issues each terminal a
 * device certificate (EC P-256, 2 years) whose identity is one SAN URI
 * urn:kassa:store:S:node:T. The CA directory holds:
 *
 *   ca.key     the CA private key, mode 0600 (PKCS#8 PEM)
 *   ca.crt     the CA certificate
 *   index.txt  one line per issued certificate:
 *              "SERIALHEX STORE NODE NOT_AFTER REVOKED_AT" (unix seconds,
 *              REVOKED_AT 0 while valid)
 *   crl.pem    the signed CRL (nextUpdate 30 days after it is written)
 *
 * A device directory holds device.key (0600), device.crt, ca.crt and
 * crl.pem; pki_identity_load reads it and refuses a key file readable or
 * writable by group or others.
 *
 * pki_verify_peer is what the peer links (TLS 1.3 mTLS) call on the peer's
 * certificate: chain to our CA, CRL checked, same store, node in the roster.
 */
#ifndef KASSA_PKI_H
#define KASSA_PKI_H

#include "base/base.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <time.h>

#define PKI_CA_DAYS 3650
#define PKI_DEVICE_DAYS 730
#define PKI_CRL_DAYS 30
/* Bounds on the files we read: a key or certificate is far smaller; the
 * CRL and index grow by ~40 bytes / ~100 bytes per certificate. */
#define PKI_PEM_MAX (64 * 1024)
#define PKI_CRL_MAX (4 * 1024 * 1024)
#define PKI_INDEX_MAX (4 * 1024 * 1024)

/* ---- CA operations (the `kassa ca` commands) ---- */

/* Creates the CA in dir (created 0700 when missing). KASSA_ECONFLICT when
 * dir already holds a CA. */
int pki_ca_init(const char *dir, kassa_err *err);

/* Issues a device key and certificate for store/node into out_dir (created
 * 0700; KASSA_ECONFLICT when it already holds a device.key), records the
 * serial in the CA index and copies ca.crt and crl.pem next to them. */
int pki_ca_issue(const char *ca_dir, const char *store, const char *node, const char *out_dir,
                 kassa_err *err);

/* pki_ca_issue with an explicit validity period: for tests (an expired
 * certificate) and for tooling that renews ahead of time. */
int pki_ca_issue_validity(const char *ca_dir, const char *store, const char *node,
                          const char *out_dir, time_t not_before, time_t not_after, kassa_err *err);

/* Marks every unrevoked certificate of store/node revoked and rewrites
 * crl.pem. *revoked (optional) gets how many were revoked now;
 * KASSA_ENOTFOUND when the CA never issued one to store/node. */
int pki_ca_revoke(const char *ca_dir, const char *store, const char *node, int *revoked,
                  kassa_err *err);

/* Rewrites crl.pem from the index (a fresh nextUpdate). */
int pki_ca_crl(const char *ca_dir, kassa_err *err);

/* ---- a terminal's identity ---- */

typedef struct pki_identity {
    EVP_PKEY *key;
    X509 *cert;
    X509 *ca;
    X509_CRL *crl; /* NULL when the directory has no crl.pem */
    char store[KASSA_ID_MAX + 1];
    char node[KASSA_ID_MAX + 1];
} pki_identity;

/* Loads device.key, device.crt, ca.crt and (when present) crl.pem from dir.
 * Refuses (KASSA_EINVAL) a device.key whose mode grants group or others any
 * access, a key that does not match the certificate, a certificate not
 * signed by ca.crt or without a valid kassa SAN URI. On failure *id is
 * left empty; on success free it with pki_identity_free. */
int pki_identity_load(const char *dir, pki_identity *id, kassa_err *err);

/* Replaces the identity's CRL with the one in path (a CRL pushed later);
 * the CRL must be signed by the identity's CA. */
int pki_identity_set_crl(pki_identity *id, const char *path, kassa_err *err);

void pki_identity_free(pki_identity *id);

/* Extracts store and node from the certificate's one urn:kassa:store:S:node:T
 * SAN URI. KASSA_EINVAL when there is none, more than one, or an id is not
 * valid. */
int pki_cert_ids(X509 *cert, char store[KASSA_ID_MAX + 1], char node[KASSA_ID_MAX + 1],
                 kassa_err *err);

/* Why pki_verify_peer refused a peer. */
typedef enum pki_reject {
    PKI_REJECT_NONE = 0,
    PKI_REJECT_UNTRUSTED,  /* not issued by our CA (another CA, bad signature) */
    PKI_REJECT_REVOKED,    /* listed in our CRL */
    PKI_REJECT_EXPIRED,    /* outside its validity period */
    PKI_REJECT_BAD_CERT,   /* no valid kassa SAN URI, or another chain error */
    PKI_REJECT_STORE,      /* issued to another store */
    PKI_REJECT_NOT_ROSTER, /* our store, but the node is not in the roster */
} pki_reject;

const char *pki_reject_name(pki_reject r);

/* The store roster: true when node belongs to store. */
typedef bool (*pki_roster_fn)(void *ctx, const char *store, const char *node);

/* Verifies a peer's certificate (chain: untrusted intermediates, may be
 * NULL) against self's CA and CRL (X509_V_FLAG_CRL_CHECK when self has a
 * CRL), then requires its store to be expected_store and its node to pass
 * in_roster (NULL: no roster check). On success node_out (optional) gets the
 * peer's node id. On refusal returns KASSA_EAUTH with a one-line reason and
 * *why (optional) says which check failed. */
int pki_verify_peer(const pki_identity *self, X509 *peer, STACK_OF(X509) * chain,
                    const char *expected_store, pki_roster_fn in_roster, void *roster_ctx,
                    char node_out[KASSA_ID_MAX + 1], pki_reject *why, kassa_err *err);

/* Reads a PEM certificate file (NULL on error, with err set). */
X509 *pki_read_cert(const char *path, kassa_err *err);

#endif
