/*
 * Unit tests for pki: CA init / issue / revoke in temporary directories,
 * file modes, SAN parsing, and every reason pki_verify_peer refuses a peer
 * (another CA, revoked, expired, another store, not in the roster).
 */
#include "testutil.h"
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki/pki.h"

typedef struct fixture {
    char root[256];
    char ca[320];   /* the company CA */
    char self[320]; /* s1/t1: "our" terminal */
    char peer[320]; /* s1/t2: a peer in our store */
} fixture;

static void path_in(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < size);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || tu_mkdtemp(f->root, sizeof f->root, "kassa-pki", true) != 0)
        return -1;
    snprintf(f->ca, sizeof f->ca, "%s/CA", f->root);
    snprintf(f->self, sizeof f->self, "%s/t1", f->root);
    snprintf(f->peer, sizeof f->peer, "%s/t2", f->root);
    kassa_err err;
    if (pki_ca_init(f->ca, &err) != KASSA_OK ||
        pki_ca_issue(f->ca, "s1", "t1", f->self, &err) != KASSA_OK ||
        pki_ca_issue(f->ca, "s1", "t2", f->peer, &err) != KASSA_OK) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_rm_tree(f->root);
    free(f);
    return 0;
}

static mode_t mode_of(const char *dir, const char *name)
{
    char p[400];
    path_in(p, sizeof p, dir, name);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_mode & 07777;
}

static X509 *cert_in(const char *dir)
{
    char p[400];
    path_in(p, sizeof p, dir, "device.crt");
    kassa_err err;
    X509 *x = pki_read_cert(p, &err);
    assert_non_null(x);
    return x;
}

/* Verifies the certificate in peer_dir as seen by the identity in self_dir;
 * returns the reason (PKI_REJECT_NONE when accepted). */
static pki_reject verify_dir(const char *self_dir, const char *peer_dir, pki_roster_fn roster,
                             char *node_out)
{
    pki_identity id;
    kassa_err err;
    assert_int_equal(pki_identity_load(self_dir, &id, &err), KASSA_OK);
    X509 *peer = cert_in(peer_dir);
    pki_reject why = PKI_REJECT_BAD_CERT;
    char node[KASSA_ID_MAX + 1] = "";
    int rc = pki_verify_peer(&id, peer, NULL, "s1", roster, NULL, node, &why, &err);
    if (rc == KASSA_OK) {
        assert_int_equal(why, PKI_REJECT_NONE);
    } else {
        assert_int_equal(rc, KASSA_EAUTH);
        assert_true(tu_contains(err.msg, "peer certificate refused"));
        assert_true(why != PKI_REJECT_NONE);
    }
    if (node_out)
        strcpy(node_out, node);
    X509_free(peer);
    pki_identity_free(&id);
    return why;
}

static void test_init_files_and_reinit(void **state)
{
    fixture *f = *state;
    assert_int_equal(mode_of(f->ca, "ca.key"), 0600);
    char p[400];
    path_in(p, sizeof p, f->ca, "ca.crt");
    kassa_err err;
    X509 *ca = pki_read_cert(p, &err);
    assert_non_null(ca);
    assert_int_equal(X509_check_ca(ca), 1);
    char cn[80];
    assert_true(
        X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, cn, sizeof cn) > 0);
    assert_string_equal(cn, "kassa company CA");
    /* 10 years, give or take the backdating. */
    int days, secs;
    assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca), X509_get0_notAfter(ca)),
                     1);
    assert_in_range(days, PKI_CA_DAYS, PKI_CA_DAYS + 1);
    X509_free(ca);
    path_in(p, sizeof p, f->ca, "crl.pem");
    assert_int_equal(access(p, R_OK), 0);

    assert_int_equal(pki_ca_init(f->ca, &err), KASSA_ECONFLICT);
    assert_true(tu_contains(err.msg, "already holds a CA"));
}

static void test_issue_files_and_ids(void **state)
{
    fixture *f = *state;
    struct stat st;
    assert_int_equal(stat(f->self, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(mode_of(f->self, "device.key"), 0600);

    X509 *x = cert_in(f->self);
    char store[KASSA_ID_MAX + 1], node[KASSA_ID_MAX + 1];
    kassa_err err;
    assert_int_equal(pki_cert_ids(x, store, node, &err), KASSA_OK);
    assert_string_equal(store, "s1");
    assert_string_equal(node, "t1");
    char cn[80];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn) >
                0);
    assert_string_equal(cn, "t1.s1");
    assert_int_equal(X509_check_ca(x), 0);
    assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
    assert_true(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
    X509_free(x);

    pki_identity id;
    assert_int_equal(pki_identity_load(f->self, &id, &err), KASSA_OK);
    assert_string_equal(id.store, "s1");
    assert_string_equal(id.node, "t1");
    assert_non_null(id.crl);
    pki_identity_free(&id);

    /* The index records both serials. */
    char p[400], line[256];
    path_in(p, sizeof p, f->ca, "index.txt");
    FILE *fp = fopen(p, "r");
    assert_non_null(fp);
    int lines = 0;
    while (fgets(line, sizeof line, fp))
        lines++;
    fclose(fp);
    assert_int_equal(lines, 2);

    /* Never overwrite a device key. */
    assert_int_equal(pki_ca_issue(f->ca, "s1", "t1", f->self, &err), KASSA_ECONFLICT);
}

static void test_issue_bad_input(void **state)
{
    fixture *f = *state;
    char out[400], noca[400];
    path_in(out, sizeof out, f->root, "x");
    path_in(noca, sizeof noca, f->root, "noca");
    kassa_err err;
    assert_int_equal(pki_ca_issue(f->ca, "bad id", "t1", out, &err), KASSA_EINVAL);
    assert_true(tu_contains(err.msg, "invalid store id"));
    assert_int_equal(pki_ca_issue(f->ca, "s1", "", out, &err), KASSA_EINVAL);
    assert_true(tu_contains(err.msg, "invalid node id"));
    assert_int_equal(pki_ca_issue(noca, "s1", "t1", out, &err), KASSA_ENOTFOUND);
    assert_true(tu_contains(err.msg, "no CA in"));
    /* 32 + 1 + 32 exceeds the 64-character common name: refused clearly. */
    char id[KASSA_ID_MAX + 1];
    memset(id, 'a', KASSA_ID_MAX);
    id[KASSA_ID_MAX] = '\0';
    assert_int_equal(pki_ca_issue(f->ca, id, id, out, &err), KASSA_EINVAL);
    assert_true(tu_contains(err.msg, "common name"));
    assert_int_equal(access(out, F_OK), -1);
}

static void test_peer_accepted(void **state)
{
    fixture *f = *state;
    char node[KASSA_ID_MAX + 1];
    assert_int_equal(verify_dir(f->self, f->peer, NULL, node), PKI_REJECT_NONE);
    assert_string_equal(node, "t2");
}

static bool roster_t1_only(void *ctx, const char *store, const char *node)
{
    (void)ctx;
    return strcmp(store, "s1") == 0 && strcmp(node, "t1") == 0;
}

static bool roster_all(void *ctx, const char *store, const char *node)
{
    (void)ctx;
    (void)store;
    (void)node;
    return true;
}

static void test_peer_not_in_roster(void **state)
{
    fixture *f = *state;
    assert_int_equal(verify_dir(f->self, f->peer, roster_t1_only, NULL), PKI_REJECT_NOT_ROSTER);
    assert_int_equal(verify_dir(f->self, f->peer, roster_all, NULL), PKI_REJECT_NONE);
}

static void test_peer_other_store(void **state)
{
    fixture *f = *state;
    char other[400];
    path_in(other, sizeof other, f->root, "s2t1");
    kassa_err err;
    assert_int_equal(pki_ca_issue(f->ca, "s2", "t1", other, &err), KASSA_OK);
    assert_int_equal(verify_dir(f->self, other, roster_all, NULL), PKI_REJECT_STORE);
}

static void test_peer_other_ca(void **state)
{
    fixture *f = *state;
    char ca2[400], other[400];
    path_in(ca2, sizeof ca2, f->root, "CA2");
    path_in(other, sizeof other, f->root, "rogue");
    kassa_err err;
    /* Same subject name "kassa company CA", different key. */
    assert_int_equal(pki_ca_init(ca2, &err), KASSA_OK);
    assert_int_equal(pki_ca_issue(ca2, "s1", "t2", other, &err), KASSA_OK);
    assert_int_equal(verify_dir(f->self, other, roster_all, NULL), PKI_REJECT_UNTRUSTED);
    /* And the rogue terminal refuses ours. */
    assert_int_equal(verify_dir(other, f->peer, roster_all, NULL), PKI_REJECT_UNTRUSTED);
}

static void test_peer_revoked(void **state)
{
    fixture *f = *state;
    kassa_err err;
    int n = -1;
    assert_int_equal(pki_ca_revoke(f->ca, "s1", "t2", &n, &err), KASSA_OK);
    assert_int_equal(n, 1);
    /* The terminal still holds the old CRL: it accepts until it gets the
     * new one. */
    assert_int_equal(verify_dir(f->self, f->peer, NULL, NULL), PKI_REJECT_NONE);

    pki_identity id;
    assert_int_equal(pki_identity_load(f->self, &id, &err), KASSA_OK);
    char crl[400];
    path_in(crl, sizeof crl, f->ca, "crl.pem");
    assert_int_equal(pki_identity_set_crl(&id, crl, &err), KASSA_OK);
    X509 *peer = cert_in(f->peer);
    pki_reject why;
    assert_int_equal(pki_verify_peer(&id, peer, NULL, "s1", NULL, NULL, NULL, &why, &err),
                     KASSA_EAUTH);
    assert_int_equal(why, PKI_REJECT_REVOKED);
    assert_true(tu_contains(err.msg, "revoked"));
    X509_free(peer);
    pki_identity_free(&id);

    /* Again: nothing new; an unknown node: not found; regenerating keeps
     * the revocation. */
    assert_int_equal(pki_ca_revoke(f->ca, "s1", "t2", &n, &err), KASSA_OK);
    assert_int_equal(n, 0);
    assert_int_equal(pki_ca_revoke(f->ca, "s1", "t9", &n, &err), KASSA_ENOTFOUND);
    assert_int_equal(pki_ca_crl(f->ca, &err), KASSA_OK);
    assert_int_equal(pki_identity_load(f->self, &id, &err), KASSA_OK);
    assert_int_equal(pki_identity_set_crl(&id, crl, &err), KASSA_OK);
    peer = cert_in(f->peer);
    assert_int_equal(pki_verify_peer(&id, peer, NULL, "s1", NULL, NULL, NULL, &why, &err),
                     KASSA_EAUTH);
    assert_int_equal(why, PKI_REJECT_REVOKED);
    X509_free(peer);
    /* t1 itself is not revoked. */
    X509 *self = cert_in(f->self);
    assert_int_equal(pki_verify_peer(&id, self, NULL, "s1", NULL, NULL, NULL, &why, &err),
                     KASSA_OK);
    X509_free(self);
    pki_identity_free(&id);
}

static void test_crl_from_another_ca_refused(void **state)
{
    fixture *f = *state;
    char ca2[400], crl[400];
    path_in(ca2, sizeof ca2, f->root, "CA2");
    path_in(crl, sizeof crl, ca2, "crl.pem");
    kassa_err err;
    assert_int_equal(pki_ca_init(ca2, &err), KASSA_OK);
    pki_identity id;
    assert_int_equal(pki_identity_load(f->self, &id, &err), KASSA_OK);
    assert_int_equal(pki_identity_set_crl(&id, crl, &err), KASSA_ECORRUPT);
    pki_identity_free(&id);
}

static void test_peer_expired(void **state)
{
    fixture *f = *state;
    char old[400];
    path_in(old, sizeof old, f->root, "old");
    time_t now = time(NULL);
    kassa_err err;
    assert_int_equal(
        pki_ca_issue_validity(f->ca, "s1", "t3", old, now - 3 * 86400, now - 86400, &err),
        KASSA_OK);
    assert_int_equal(verify_dir(f->self, old, roster_all, NULL), PKI_REJECT_EXPIRED);
    assert_int_equal(pki_ca_issue_validity(f->ca, "s1", "t3", old, now, now, &err), KASSA_EINVAL);
}

static void test_identity_key_mode(void **state)
{
    fixture *f = *state;
    char key[400];
    path_in(key, sizeof key, f->self, "device.key");
    pki_identity id;
    kassa_err err;
    assert_int_equal(chmod(key, 0644), 0);
    assert_int_equal(pki_identity_load(f->self, &id, &err), KASSA_EINVAL);
    assert_string_equal(err.msg, "device.key is readable by others (mode 0644): chmod 600");
    assert_null(id.key);
    assert_int_equal(chmod(key, 0620), 0);
    assert_int_equal(pki_identity_load(f->self, &id, &err), KASSA_EINVAL);
    assert_true(tu_contains(err.msg, "writable by others (mode 0620)"));
    assert_int_equal(chmod(key, 0400), 0);
    assert_int_equal(pki_identity_load(f->self, &id, &err), KASSA_OK);
    pki_identity_free(&id);

    char missing[400];
    path_in(missing, sizeof missing, f->root, "missing");
    assert_int_equal(pki_identity_load(missing, &id, &err), KASSA_ENOTFOUND);
}

static void test_identity_mismatched_key(void **state)
{
    fixture *f = *state;
    char a[400], b[400];
    path_in(a, sizeof a, f->self, "device.crt");
    path_in(b, sizeof b, f->peer, "device.crt");
    assert_int_equal(rename(b, a), 0); /* t1's key with t2's certificate */
    pki_identity id;
    kassa_err err;
    assert_int_equal(pki_identity_load(f->self, &id, &err), KASSA_EINVAL);
    assert_true(tu_contains(err.msg, "does not match"));
}

/* A self-signed certificate carrying the given subjectAltName (NULL: none). */
static X509 *cert_with_san(const char *san)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(key);
    assert_non_null(x);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    if (san) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, NID_subject_alt_name, san);
        assert_non_null(ext);
        assert_int_equal(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    EVP_PKEY_free(key);
    return x;
}

static int ids_of(const char *san, char *store, char *node)
{
    X509 *x = cert_with_san(san);
    kassa_err err;
    int rc = pki_cert_ids(x, store, node, &err);
    if (rc != KASSA_OK)
        assert_true(err.msg[0] != '\0');
    X509_free(x);
    return rc;
}

static void test_san_parsing(void **state)
{
    (void)state;
    char s[KASSA_ID_MAX + 1], n[KASSA_ID_MAX + 1];
    assert_int_equal(ids_of("URI:urn:kassa:store:S-1:node:till.2", s, n), KASSA_OK);
    assert_string_equal(s, "S-1");
    assert_string_equal(n, "till.2");
    /* Other names are ignored. */
    assert_int_equal(
        ids_of("DNS:t1.example,URI:https://x.example/,URI:urn:kassa:store:a:node:b", s, n),
        KASSA_OK);
    assert_string_equal(s, "a");
    assert_string_equal(n, "b");
    assert_int_equal(ids_of(NULL, s, n), KASSA_EINVAL);
    assert_int_equal(ids_of("DNS:t1.example", s, n), KASSA_EINVAL);
    assert_int_equal(ids_of("URI:urn:kassa:store:a:node:b,URI:urn:kassa:store:a:node:c", s, n),
                     KASSA_EINVAL);
    assert_int_equal(ids_of("URI:urn:kassa:store:a:b", s, n), KASSA_EINVAL);
    assert_int_equal(ids_of("URI:urn:kassa:store::node:b", s, n), KASSA_EINVAL);
    assert_int_equal(ids_of("URI:urn:kassa:store:a:node:", s, n), KASSA_EINVAL);
    assert_int_equal(ids_of("URI:urn:kassa:store:a:node:b:c", s, n), KASSA_EINVAL);
    assert_int_equal(ids_of("URI:urn:kassa:store:a/b:node:c", s, n), KASSA_EINVAL);
    assert_int_equal(ids_of("URI:urn:kassa:node:b", s, n), KASSA_EINVAL);
    assert_int_equal(ids_of("URI:urn:kassa:store:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:node:b", s, n),
                     KASSA_EINVAL);
}

static void test_peer_without_kassa_uri(void **state)
{
    fixture *f = *state;
    /* Signed by our CA but without a kassa URI: e.g. the CA certificate
     * itself presented as a peer. */
    pki_identity id;
    kassa_err err;
    assert_int_equal(pki_identity_load(f->self, &id, &err), KASSA_OK);
    pki_reject why;
    assert_int_equal(pki_verify_peer(&id, id.ca, NULL, "s1", NULL, NULL, NULL, &why, &err),
                     KASSA_EAUTH);
    assert_int_equal(why, PKI_REJECT_BAD_CERT);
    pki_identity_free(&id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_files_and_reinit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue_files_and_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_not_in_roster, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_other_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_other_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crl_from_another_ca_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_key_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_mismatched_key, setup, teardown),
        cmocka_unit_test(test_san_parsing),
        cmocka_unit_test_setup_teardown(test_peer_without_kassa_uri, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
