/*
 * kassad: the terminal daemon. Owns one terminal's data directory, serves
 * the local HTTP API (docs/api/openapi.yaml) and the cashier UI.
 *
 *   kassad [--config FILE] [--data DIR] [--api-listen HOST:PORT] [--log-level LEVEL]
 *
 * Settings: docs/CONFIGURATION.md. Flags override the file. SIGTERM or
 * SIGINT stop it cleanly (exit 0); it exits 1 when it cannot start and 2
 * on a usage error.
 */
#include "jlog/jlog.h"
#include "kassad/ai.h"
#include "kassad/batch.h"
#include "kassad/clock.h"
#include "kassad/coord.h"
#include "kassad/fraud.h"
#include "kassad/housekeeping.h"
#include "kassad/kassad.h"
#include "kassad/pay.h"
#include "kassad/uplink.h"
#include "kassad/voice.h"
#include "kassad/peers.h"
#include "kassad/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: kassad [--config FILE] [--data DIR] [--api-listen HOST:PORT] [--log-level LEVEL]\n"
    "\n"
    "  --config FILE          INI settings (docs/CONFIGURATION.md)\n"
    "  --data DIR             the terminal's data directory (made by `kassa init`)\n"
    "  --api-listen HOST:PORT where the API and UI listen (default 127.0.0.1:8080)\n"
    "  --log-level LEVEL      debug, info, warn or error (default info)\n";

enum { EXIT_USAGE = 2 };

/* Settings from the command line, applied over the file's. */
typedef struct flag {
    const char *name;
    const char *section;
    const char *key;
} flag;

static const flag FLAGS[] = {
    {"--data", "terminal", "data_dir"},
    {"--api-listen", "api", "listen"},
    {"--log-level", "log", "level"},
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "kassad: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", USAGE);
    return EXIT_USAGE;
}

/* Reads the command line into cfg; returns -1 to go on, else an exit code. */
static int parse_args(int argc, char **argv, kd_config *cfg)
{
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return EXIT_SUCCESS;
        }
        if (i + 1 >= argc)
            return usage_error("%s: missing value or unknown option", argv[i]);
        if (strcmp(argv[i], "--config") == 0)
            config_path = argv[++i];
        else
            i++; /* a flag: applied after the file */
    }
    kassa_err err;
    if (config_path && kd_config_load(cfg, config_path, &err) != KASSA_OK) {
        fprintf(stderr, "kassad: %s\n", err.msg);
        return EXIT_FAILURE;
    }
    for (int i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--config") == 0)
            continue;
        const flag *f = NULL;
        for (size_t k = 0; k < KASSA_ARRAY_LEN(FLAGS) && !f; k++)
            if (strcmp(argv[i], FLAGS[k].name) == 0)
                f = &FLAGS[k];
        if (!f)
            return usage_error("unknown option %s", argv[i]);
        if (kd_config_set(cfg, f->section, f->key, argv[i + 1], &err) != KASSA_OK) {
            fprintf(stderr, "kassad: %s: %s\n", f->name, err.msg);
            return EXIT_USAGE;
        }
    }
    if (kd_config_finish(cfg, &err) != KASSA_OK) {
        fprintf(stderr, "kassad: %s\n", err.msg);
        return EXIT_USAGE;
    }
    return -1;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    kd_app *app = arg;
    if (app->stopping) {
        /* A second signal: the operator does not want to wait. */
        jlog(JLOG_WARN, "kassad", "stopping_now", "{s:I}", "unsent_answers",
             (json_int_t)app->n_inflight);
        event_base_loopbreak(app->base);
        return;
    }
    jlog(JLOG_INFO, "kassad", "stopping", "{s:s,s:I}", "signal", sig == SIGTERM ? "TERM" : "INT",
         "unsent_answers", (json_int_t)app->n_inflight);
    kd_server_shutdown(app);
}

/* SIGHUP: reload what may change under a running terminal (the CRL, the
 * fraud model). */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    kd_peers_reload(arg);
    kd_ai_reload(arg); /* a model installed or rolled back meanwhile */
    kd_fraud_reload(arg);
}

#define LOCK_FILE "kassad.lock"

/* One daemon per data directory: it keeps sessions and carts in memory,
 * so a second one on the same terminal would split them. The lock goes
 * with the process (also on kill -9); `kassa` commands do not take it. */
static int lock_data_dir(const char *dir, int *fd_out, kassa_err *err)
{
    char path[KD_PATH_MAX_BYTES + sizeof LOCK_FILE + 1];
    snprintf(path, sizeof path, "%s/%s", dir, LOCK_FILE);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return kassa_fail(err, KASSA_EIO, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        return kassa_fail(err, KASSA_EBUSY, "%s: %s", dir,
                          e == EWOULDBLOCK ? "another kassad already serves this terminal"
                                           : strerror(e));
    }
    *fd_out = fd;
    return KASSA_OK;
}

/* Everything but the HTTP server: terminal, tables, scratch, loop. */
static int app_open(kd_app *app, int *lock_fd, kassa_err *err)
{
    int rc;
    if (sodium_init() < 0)
        return kassa_fail(err, KASSA_EIO, "libsodium failed to initialise");
    /* term_open first: it explains a directory that was never initialised. */
    if ((rc = term_open(app->cfg.data_dir, &app->t, err)) != KASSA_OK ||
        (rc = lock_data_dir(app->cfg.data_dir, lock_fd, err)) != KASSA_OK)
        return rc;
    app->t->max_pin_failures = (int)app->cfg.max_pin_failures;
    app->t->pin_lockout_ms = app->cfg.pin_lockout_s * 1000;
    if ((rc = kd_sessions_init(&app->sessions, (size_t)app->cfg.max_sessions,
                               app->cfg.session_ttl_s * 1000, err)) != KASSA_OK ||
        (rc = kd_carts_init(&app->carts, (size_t)app->cfg.max_open_carts,
                            app->cfg.cart_idle_timeout_s * 1000, err)) != KASSA_OK ||
        (rc = kd_webroot_init(&app->web, app->cfg.web_root, err)) != KASSA_OK)
        return rc;
    kbuf_init(&app->text);
    app->stage = malloc(sizeof *app->stage);
    app->priced = malloc(sizeof *app->priced);
    app->result = malloc(sizeof *app->result);
    app->sale = malloc(sizeof *app->sale);
    app->ret = malloc(sizeof *app->ret);
    app->base = event_base_new();
    if (!app->stage || !app->priced || !app->result || !app->sale || !app->ret || !app->base)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    static const int SIGNALS[] = {SIGTERM, SIGINT, SIGHUP};
    _Static_assert(KASSA_ARRAY_LEN(SIGNALS) == KASSA_ARRAY_LEN(app->signal_ev), "one event each");
    for (size_t i = 0; i < KASSA_ARRAY_LEN(SIGNALS); i++) {
        app->signal_ev[i] =
            evsignal_new(app->base, SIGNALS[i], SIGNALS[i] == SIGHUP ? on_hup : on_signal, app);
        if (!app->signal_ev[i] || event_add(app->signal_ev[i], NULL) != 0)
            return kassa_fail(err, KASSA_EIO, "cannot handle signal %d", SIGNALS[i]);
    }
    if ((rc = kd_batch_init(app, err)) != KASSA_OK ||
        (rc = kd_housekeeping_start(app, err)) != KASSA_OK)
        return rc;
    if ((rc = kd_peers_start(app, err)) != KASSA_OK || (rc = kd_pay_start(app, err)) != KASSA_OK)
        return rc;
    if ((rc = kd_fraud_start(app, err)) != KASSA_OK)
        return rc;
    if ((rc = kd_coord_start(app, err)) != KASSA_OK || (rc = kd_ai_start(app, err)) != KASSA_OK ||
        (rc = kd_voice_start(app, err)) != KASSA_OK)
        return rc;
    return kd_uplink_start(app, err);
}

static void app_close(kd_app *app)
{
    kd_uplink_free(app);
    kd_ai_free(app);
    kd_voice_free(app);
    kd_coord_free(app);
    kd_peers_free(app);
    /* TLS bufferevents freed above finish freeing in a deferred callback
     * (libevent holds a reference while a handshake or a close is under
     * way): one more non-blocking pass of the loop runs them. */
    if (app->base)
        event_base_loop(app->base, EVLOOP_NONBLOCK);
    kd_pay_free(app);
    kd_fraud_free(app);
    kd_batch_free(app);
    kd_server_free(app);
    kd_housekeeping_free(app);
    for (size_t i = 0; i < KASSA_ARRAY_LEN(app->signal_ev); i++)
        if (app->signal_ev[i])
            event_free(app->signal_ev[i]);
    if (app->base)
        event_base_free(app->base);
    kd_carts_free(&app->carts);
    kd_sessions_free(&app->sessions);
    free(app->stage);
    free(app->priced);
    free(app->result);
    free(app->sale);
    free(app->ret);
    kbuf_free(&app->text);
    /* Closing the last connection checkpoints the WAL into the database. */
    term_close(app->t);
}

int main(int argc, char **argv)
{
    static kd_app app; /* large (in-flight table): not on the stack */
    kd_config_defaults(&app.cfg);
    int code = parse_args(argc, argv, &app.cfg);
    if (code >= 0)
        return code;
    jlog_set_level(app.cfg.log_level);
    /* A client gone mid-answer must be an error on write, not a signal
     * that kills the terminal. */
    struct sigaction ign = {.sa_handler = SIG_IGN};
    if (sigaction(SIGPIPE, &ign, NULL) != 0) {
        jlog(JLOG_ERROR, "kassad", "start_failed", "{s:s}", "error", "cannot ignore SIGPIPE");
        return EXIT_FAILURE;
    }
    app.started_ms = kd_mono_ms();
    kassa_err err;
    int lock_fd = -1;
    if (app_open(&app, &lock_fd, &err) != KASSA_OK || kd_server_start(&app, &err) != KASSA_OK) {
        jlog(JLOG_ERROR, "kassad", "start_failed", "{s:s,s:s}", "data_dir", app.cfg.data_dir,
             "error", err.msg);
        app_close(&app);
        if (lock_fd >= 0)
            close(lock_fd);
        return EXIT_FAILURE;
    }
    if (!app.web.root[0])
        jlog(JLOG_WARN, "kassad", "no_web_root", "{s:s}", "web_root", app.cfg.web_root);
    jlog(JLOG_INFO, "kassad", "start", "{s:s,s:s,s:s,s:i,s:s,s:s}", "store", app.t->store_id,
         "node", app.t->node_id, "host", app.cfg.listen_host, "port", kd_server_port(&app),
         "data_dir", app.cfg.data_dir, "web_root", app.web.root);
    code = EXIT_SUCCESS;
    if (event_base_dispatch(app.base) != 0) {
        jlog(JLOG_ERROR, "kassad", "loop_failed", NULL);
        code = EXIT_FAILURE;
    }
    app_close(&app);
    close(lock_fd);
    jlog(JLOG_INFO, "kassad", "stop", "{s:i}", "exit_code", code);
    return code;
}
