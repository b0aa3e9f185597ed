/*
 * kassa-cloud: head office's service (docs/CLOUD.md).
 *
 *   kassa-cloud --listen HOST:PORT --pg CONNINFO --tls-dir DIR --ca-cert FILE
 *               [--crl FILE] --admin-token-file FILE [--max-body-bytes N]
 *               [--log-level LEVEL] [--migrate-only]
 *
 * Runs the schema migrations, then serves until SIGTERM or SIGINT (exit
 * 0). SIGHUP reads the --crl file again. Exits 1 when it cannot start, 2
 * on a usage error. The "start" log line carries the port really bound
 * (--listen 127.0.0.1:0 picks a free one).
 */
#include "cloudd/cloudd.h"

#include "jlog/jlog.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char USAGE[] =
    "usage: kassa-cloud --listen HOST:PORT --pg CONNINFO --tls-dir DIR --ca-cert FILE\n"
    "                   [--crl FILE] --admin-token-file FILE [--max-body-bytes N]\n"
    "                   [--log-level LEVEL] [--migrate-only]\n"
    "\n"
    "  --listen HOST:PORT       where the HTTPS API listens (port 0: any free port)\n"
    "  --pg CONNINFO            the PostgreSQL database (libpq connection string)\n"
    "  --tls-dir DIR            this service's device.crt and device.key (kassa ca issue)\n"
    "  --ca-cert FILE           the company CA that issued the stores' certificates\n"
    "  --crl FILE               the CA's revocation list (read again on SIGHUP)\n"
    "  --admin-token-file FILE  the admin bearer token: the file's first line (mode 0600)\n"
    "  --max-body-bytes N       the largest upload (default 2 MiB)\n"
    "  --log-level LEVEL        debug, info, warn or error (default info)\n"
    "  --migrate-only           run the schema migrations and exit\n";

enum { EXIT_USAGE = 2 };

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "kassa-cloud: %s%s%s\n%s", what, arg ? " " : "", arg ? arg : "", USAGE);
    return EXIT_USAGE;
}

static int parse_listen(cd_config *cfg)
{
    const char *colon = strrchr(cfg->listen, ':');
    if (!colon || colon == cfg->listen)
        return -1;
    const char *host = cfg->listen;
    size_t n = (size_t)(colon - host);
    if (host[0] == '[' && n >= 2 && host[n - 1] == ']')
        host++, n -= 2;
    if (n == 0 || n >= sizeof cfg->listen_host)
        return -1;
    memcpy(cfg->listen_host, host, n);
    cfg->listen_host[n] = '\0';
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || port < 0 || port > 65535)
        return -1;
    cfg->listen_port = (int)port;
    return 0;
}

/* -1 to go on, else an exit code. */
static int parse_args(int argc, char **argv, cd_config *cfg, jlog_level *level)
{
    struct {
        const char *name;
        const char **slot;
    } strings[] = {
        {"--listen", &cfg->listen},   {"--pg", &cfg->pg},
        {"--tls-dir", &cfg->tls_dir}, {"--ca-cert", &cfg->ca_cert},
        {"--crl", &cfg->crl},         {"--admin-token-file", &cfg->admin_token_file},
    };
    const char *max_body = NULL, *log_level = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(USAGE, stdout);
            return EXIT_SUCCESS;
        }
        if (strcmp(a, "--migrate-only") == 0) {
            cfg->migrate_only = true;
            continue;
        }
        const char **slot = NULL;
        for (size_t k = 0; k < KASSA_ARRAY_LEN(strings) && !slot; k++)
            if (strcmp(a, strings[k].name) == 0)
                slot = strings[k].slot;
        if (strcmp(a, "--max-body-bytes") == 0)
            slot = &max_body;
        else if (strcmp(a, "--log-level") == 0)
            slot = &log_level;
        if (!slot)
            return usage_error("unknown option", a);
        if (i + 1 >= argc)
            return usage_error("missing value for", a);
        if (*slot)
            return usage_error("given twice:", a);
        *slot = argv[++i];
    }
    if (log_level && jlog_level_parse(log_level, level) != 0)
        return usage_error("unknown log level", log_level);
    if (max_body) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(max_body, &end, 10);
        if (!*max_body || *end || errno || *max_body == '-' || v < 1 || v > 64ull * 1024 * 1024)
            return usage_error("--max-body-bytes must be from 1 to 67108864, not", max_body);
        cfg->max_body_bytes = (size_t)v;
    }
    if (!cfg->pg)
        return usage_error("--pg is required", NULL);
    if (cfg->migrate_only)
        return -1;
    if (!cfg->listen || !cfg->tls_dir || !cfg->ca_cert || !cfg->admin_token_file)
        return usage_error("--listen, --tls-dir, --ca-cert and --admin-token-file are required",
                           NULL);
    if (parse_listen(cfg) != 0)
        return usage_error("--listen must be HOST:PORT, not", cfg->listen);
    return -1;
}

static int read_token(cd_app *app, kassa_err *err)
{
    const char *path = app->cfg.admin_token_file;
    FILE *f = fopen(path, "r");
    if (!f)
        return kassa_fail(err, KASSA_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    char line[CD_TOKEN_MAX + 3];
    int rc = KASSA_OK;
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0)
        rc = kassa_fail(err, KASSA_EINVAL, "%s: group or others may read it (chmod 600)", path);
    else if (!fgets(line, sizeof line, f))
        rc = kassa_fail(err, KASSA_EINVAL, "%s: empty", path);
    fclose(f);
    if (rc != KASSA_OK)
        return rc;
    size_t n = strcspn(line, "\r\n");
    if (n > CD_TOKEN_MAX)
        return kassa_fail(err, KASSA_EINVAL, "%s: the token is longer than %d bytes", path,
                          CD_TOKEN_MAX);
    if (n < 16)
        return kassa_fail(err, KASSA_EINVAL, "%s: the token must be at least 16 bytes", path);
    memcpy(app->admin_token, line, n);
    app->admin_token[n] = '\0';
    return KASSA_OK;
}

/* Our certificate from --tls-dir; clients are checked against --ca-cert
 * and --crl (else the crl.pem of --tls-dir, when it is the same CA). */
static int load_identity(cd_app *app, kassa_err *err)
{
    int rc = pki_identity_load(app->cfg.tls_dir, &app->id, err);
    if (rc != KASSA_OK)
        return kassa_fail(err, rc, "%s: %s", app->cfg.tls_dir, err->msg);
    X509 *ca = pki_read_cert(app->cfg.ca_cert, err);
    if (!ca)
        return err->code;
    if (X509_cmp(ca, app->id.ca) != 0) {
        jlog(JLOG_WARN, CD_COMPONENT, "other_client_ca", "{s:s,s:s}", "ca_cert", app->cfg.ca_cert,
             "tls_dir", app->cfg.tls_dir);
        X509_CRL_free(app->id.crl);
        app->id.crl = NULL;
    }
    X509_free(app->id.ca);
    app->id.ca = ca;
    if (app->cfg.crl && (rc = pki_identity_set_crl(&app->id, app->cfg.crl, err)) != KASSA_OK)
        return kassa_fail(err, rc, "%s: %s", app->cfg.crl, err->msg);
    return KASSA_OK;
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    cd_app *app = arg;
    if (app->stopping) {
        event_base_loopbreak(app->base);
        return;
    }
    jlog(JLOG_INFO, CD_COMPONENT, "stopping", "{s:s}", "signal", sig == SIGTERM ? "TERM" : "INT");
    cd_http_shutdown(app);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    cd_app *app = arg;
    kassa_err err;
    if (cd_tls_reload_crl(app, &err) != KASSA_OK)
        jlog(JLOG_ERROR, CD_COMPONENT, "crl_reload_failed", "{s:s}", "error", err.msg);
    else if (app->cfg.crl)
        jlog(JLOG_INFO, CD_COMPONENT, "crl_reloaded", "{s:s}", "crl", app->cfg.crl);
}

static int start(cd_app *app, kassa_err *err)
{
    int rc;
    if ((rc = read_token(app, err)) != KASSA_OK || (rc = load_identity(app, err)) != KASSA_OK ||
        (rc = cd_tls_start(app, err)) != KASSA_OK)
        return rc;
    app->base = event_base_new();
    if (!app->base)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    static const struct {
        int sig;
        event_callback_fn fn;
    } HANDLERS[] = {{SIGTERM, on_stop}, {SIGINT, on_stop}, {SIGHUP, on_hup}};
    _Static_assert(KASSA_ARRAY_LEN(HANDLERS) == KASSA_ARRAY_LEN(app->signals), "one each");
    for (; app->n_signals < KASSA_ARRAY_LEN(HANDLERS); app->n_signals++) {
        struct event *ev = &app->signals[app->n_signals];
        int sig = HANDLERS[app->n_signals].sig;
        if (evsignal_assign(ev, app->base, sig, HANDLERS[app->n_signals].fn, app) != 0 ||
            event_add(ev, NULL) != 0)
            return kassa_fail(err, KASSA_EIO, "cannot handle signal %d", sig);
    }
    return cd_http_start(app, err);
}

static void app_free(cd_app *app)
{
    cd_downlink_free(app);
    cd_http_free(app);
    while (app->n_signals > 0)
        event_del(&app->signals[--app->n_signals]);
    if (app->base)
        event_base_free(app->base);
    cd_tls_free(app);
    pki_identity_free(&app->id);
    cd_db_close(&app->db);
}

int main(int argc, char **argv)
{
    static cd_app app;
    app.cfg.max_body_bytes = CD_DEFAULT_MAX_BODY_BYTES;
    LIST_INIT(&app.waiters);
    jlog_level level = JLOG_INFO;
    int code = parse_args(argc, argv, &app.cfg, &level);
    if (code >= 0)
        return code;
    jlog_set_level(level);
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigaction(SIGPIPE, &ign, NULL);
    kassa_err err;
    if (cd_db_open(&app.db, app.cfg.pg, &err) != KASSA_OK ||
        cd_migrate(&app.db, &err) != KASSA_OK) {
        jlog(JLOG_ERROR, CD_COMPONENT, "start_failed", "{s:s}", "error", err.msg);
        app_free(&app);
        return EXIT_FAILURE;
    }
    if (app.cfg.migrate_only) {
        jlog(JLOG_INFO, CD_COMPONENT, "migrate_only", NULL);
        app_free(&app);
        return EXIT_SUCCESS;
    }
    if (start(&app, &err) != KASSA_OK) {
        jlog(JLOG_ERROR, CD_COMPONENT, "start_failed", "{s:s}", "error", err.msg);
        app_free(&app);
        return EXIT_FAILURE;
    }
    jlog(JLOG_INFO, CD_COMPONENT, "start", "{s:s,s:i,s:s,s:s,s:I}", "host", app.cfg.listen_host,
         "port", cd_http_port(&app), "store", app.id.store, "node", app.id.node, "max_body_bytes",
         (json_int_t)app.cfg.max_body_bytes);
    code = EXIT_SUCCESS;
    if (event_base_dispatch(app.base) != 0) {
        jlog(JLOG_ERROR, CD_COMPONENT, "loop_failed", NULL);
        code = EXIT_FAILURE;
    }
    app_free(&app);
    jlog(JLOG_INFO, CD_COMPONENT, "stop", "{s:i}", "exit_code", code);
    return code;
}
