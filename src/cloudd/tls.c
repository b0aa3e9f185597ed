/*
 * tls.c: TLS 1.3 for evhttp, and the client certificate of store routes.
 *
 * The server presents DIR/device.crt. It asks every client for a
 * certificate but does not require one (admin routes authenticate with a
 * token instead), and lets the handshake through whatever the client
 * sent: the TLS layer only proves the client holds the key of the
 * certificate it presents (CertificateVerify). Whether that certificate
 * is good enough is decided per request, by cd_tls_check_client with
 * pki_verify_peer's rules (our CA, the CRL, a kassa SAN URI; no roster:
 * the cloud takes any terminal of the store), and the store it names must
 * be the {store} of the path. That way a refused client gets a JSON
 * answer with the reason (401 without a certificate; 403 revoked, another
 * CA, expired, another store) instead of a bare TLS alert, and the
 * refusal is logged with the route.
 */
#include "cloudd/cloudd.h"

#include "jlog/jlog.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

/* Every certificate passes the handshake; see the file comment. */
static int accept_any(X509_STORE_CTX *xs, void *arg)
{
    (void)xs, (void)arg;
    return 1;
}

int cd_tls_start(cd_app *app, kassa_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return kassa_fail(err, KASSA_ENOMEM, "cannot create a TLS context");
    STACK_OF(X509_NAME) *cas = sk_X509_NAME_new_null();
    X509_NAME *ca_name = X509_NAME_dup(X509_get_subject_name(app->id.ca));
    bool ok = cas && ca_name && sk_X509_NAME_push(cas, ca_name) > 0;
    if (!ok) {
        X509_NAME_free(ca_name);
        sk_X509_NAME_free(cas);
        SSL_CTX_free(ctx);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory for TLS");
    }
    /* the CA named in the certificate request: clients pick their
     * certificate by it */
    SSL_CTX_set_client_CA_list(ctx, cas);
    /* TLS 1.3 only; no tickets, no session cache: every connection shows
     * its certificate afresh, so a revoked one cannot resume */
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_use_certificate(ctx, app->id.cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, app->id.key) != 1 || SSL_CTX_check_private_key(ctx) != 1 ||
        SSL_CTX_set_num_tickets(ctx, 0) != 1) {
        SSL_CTX_free(ctx);
        ERR_clear_error();
        return kassa_fail(err, KASSA_EINVAL, "cannot set up TLS with %s/device.crt",
                          app->cfg.tls_dir);
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, accept_any, NULL);
    app->tls = ctx;
    return KASSA_OK;
}

void cd_tls_free(cd_app *app)
{
    SSL_CTX_free(app->tls);
    app->tls = NULL;
}

struct bufferevent *cd_tls_bevcb(struct event_base *base, void *arg)
{
    cd_app *app = arg;
    SSL *ssl = SSL_new(app->tls);
    if (!ssl) {
        /* evhttp then makes a plain bufferevent: on_request refuses any
         * request on it (cd_tls_session is NULL) */
        jlog(JLOG_ERROR, CD_COMPONENT, "tls_session_failed", NULL);
        ERR_clear_error();
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    /* clients that close without close_notify are not an error */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

SSL *cd_tls_session(struct evhttp_request *ev)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(ev);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    return bev ? bufferevent_openssl_get_ssl(bev) : NULL;
}

int cd_tls_check_client(cd_req *r, const char *store)
{
    SSL *ssl = cd_tls_session(r->ev);
    X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
    if (!cert) {
        cd_reply_error(r, 401, CD_E_UNAUTHORIZED,
                       "store routes need a client certificate issued by the company CA");
        return -1;
    }
    char claimed_store[KASSA_ID_MAX + 1], node[KASSA_ID_MAX + 1];
    kassa_err err;
    if (pki_cert_ids(cert, claimed_store, node, &err) != KASSA_OK) {
        cd_reply_error(r, 403, CD_E_FORBIDDEN, "client certificate refused: %s", err.msg);
        return -1;
    }
    /* who it claims to be, for the log of a refusal (unverified) */
    snprintf(r->peer_store, sizeof r->peer_store, "%s", claimed_store);
    snprintf(r->peer_node, sizeof r->peer_node, "%s", node);
    pki_reject why;
    if (pki_verify_peer(&r->app->id, cert, SSL_get_peer_cert_chain(ssl),
                        store ? store : claimed_store, NULL, NULL, NULL, &why, &err) != KASSA_OK) {
        static const char PREFIX[] = "peer certificate refused: ";
        const char *reason = err.msg;
        if (strncmp(reason, PREFIX, sizeof PREFIX - 1) == 0)
            reason += sizeof PREFIX - 1;
        if (why == PKI_REJECT_STORE)
            cd_reply_error(r, 403, CD_E_FORBIDDEN, "the client certificate is of store %s, not %s",
                           claimed_store, store);
        else
            cd_reply_error(r, 403, CD_E_FORBIDDEN, "client certificate refused: %s", reason);
        return -1;
    }
    return 0;
}

int cd_tls_reload_crl(cd_app *app, kassa_err *err)
{
    if (!app->cfg.crl)
        return KASSA_OK;
    return pki_identity_set_crl(&app->id, app->cfg.crl, err);
}
