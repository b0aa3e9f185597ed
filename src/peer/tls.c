/*
 * tls.c: the TLS 1.3 context of the peer links.
 *
 * Both sides present their device certificate and both verify the other's
 * with pki_verify_peer, in place of OpenSSL's own chain check
 * (SSL_CTX_set_cert_verify_callback): one check for both directions, with
 * the reason of a refusal (another CA, revoked, expired, another store,
 * not in the roster) kept for the log. A refusal fails the handshake, so a
 * refused peer never gets to send a frame.
 */
#include "jlog/jlog.h"
#include "peer/peer_internal.h"

#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

static int verify_cert(X509_STORE_CTX *xs, void *arg)
{
    peer_mesh *m = arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    peer_link *l = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *cert = X509_STORE_CTX_get0_cert(xs);
    if (!l || !cert) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    kassa_err err;
    pki_reject why;
    char node[KASSA_ID_MAX + 1];
    if (pki_verify_peer(m->cfg.id, cert, X509_STORE_CTX_get0_untrusted(xs), m->cfg.id->store,
                        peer_mesh_in_roster, m, node, &why, &err) != KASSA_OK) {
        snprintf(l->refusal, sizeof l->refusal, "%s: %.200s", pki_reject_name(why), err.msg);
        /* Who it claims to be, for the log only: unverified. */
        char store[KASSA_ID_MAX + 1], claimed[KASSA_ID_MAX + 1];
        kassa_err ignored;
        if (pki_cert_ids(cert, store, claimed, &ignored) == KASSA_OK) {
            snprintf(l->claimed, sizeof l->claimed, "%s/%s", store, claimed);
            memcpy(l->claimed_store, store, sizeof store);
            memcpy(l->claimed_node, claimed, sizeof claimed);
        }
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    memcpy(l->node, node, sizeof node);
    return 1;
}

int peer_tls_ctx_new(peer_mesh *m, kassa_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (!ctx)
        return kassa_fail(err, KASSA_ENOMEM, "cannot create a TLS context");
    /* TLS 1.3 only; no session resumption, so every link presents and
     * checks certificates afresh (a revoked terminal cannot resume). */
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_use_certificate(ctx, m->cfg.id->cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, m->cfg.id->key) != 1 || SSL_CTX_check_private_key(ctx) != 1 ||
        SSL_CTX_set_num_tickets(ctx, 0) != 1) {
        SSL_CTX_free(ctx);
        return kassa_fail(err, KASSA_EINVAL, "cannot set up TLS with the device certificate");
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, verify_cert, m);
    m->tls = ctx;
    return KASSA_OK;
}

SSL *peer_tls_new(peer_mesh *m, peer_link *l, kassa_err *err)
{
    SSL *ssl = SSL_new(m->tls);
    if (!ssl) {
        kassa_fail(err, KASSA_ENOMEM, "cannot create a TLS session");
        return NULL;
    }
    SSL_set_app_data(ssl, l);
    return ssl;
}

void peer_tls_error(peer_link *l, char *out, size_t n)
{
    out[0] = '\0';
    unsigned long e;
    /* The queue holds the reasons of this failure (one thread, drained
     * each time): keep the last, most specific one. */
    while ((e = ERR_get_error()) != 0)
        ERR_error_string_n(e, out, n);
    if (!out[0] && l->ssl) {
        long v = SSL_get_verify_result(l->ssl);
        if (v != X509_V_OK)
            snprintf(out, n, "%s", X509_verify_cert_error_string(v));
    }
}
