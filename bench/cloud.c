/*
 * bench/cloud: what head office's kassa-cloud takes in (docs/CLOUD.md),
 * beside the floor PostgreSQL itself sets, in one run on a throwaway
 * cluster (scripts/pg-cluster.sh: fsync, synchronous_commit and
 * full_page_writes are off, and the run says so beside the figures).
 *
 *  1. Ingest: N operations (one-line sales made by the terminal core on a
 *     few terminals of one store, as bench/import makes them), read and
 *     encoded per origin as kassad's uplink does (term_ops_read,
 *     wire_encode_ops_fit: OpsBatch frames of up to 10,000 ops), then
 *     POSTed to /v1/stores/{store}/ops back to back on one TLS 1.3
 *     connection with a device certificate. ops/s over the requests, and
 *     each batch's latency (request sent to answer read). Then the same
 *     frames into fresh databases on a new connection per batch, as
 *     kassad's uplink sends them, with TCP_NODELAY and without it (the
 *     uplink's sockets do not set it), and the cost of a new connection
 *     alone (connect, TLS handshake, GET /healthz).
 *  2. Floor: one COPY (binary) of the same rows (store_id, origin, seq,
 *     hlc, kind, payload, hash) into the ops table of a fresh database
 *     migrated by `kassa-cloud --migrate-only`, through psql (timed by
 *     psql's \timing). The ratio ingest/COPY. Also one COPY per frame,
 *     each its own transaction, as the ingest batches them.
 *  Where the time goes: kassa-cloud's "ingested" log lines (decode,
 *  check, store, project, commit per batch), and what the store side's
 *  read and encode of a batch cost, measured here.
 *  3. Drain: a store terminal holding 5 origins' operations (5 terminals
 *     of --backlog / 5 each, merged into one by term_import), served by
 *     kassad with [cloud] url pointing at a kassa-cloud that is down; then
 *     kassa-cloud is started and the time runs until the cloud's version
 *     vector (GET /v1/stores/{store}/vv, polled) holds every operation.
 *     Then exactly once is checked in PostgreSQL: count(*), no (origin,
 *     seq) twice, each origin's count and max(seq). The uplink's probes
 *     back off to [cloud] probe_max_ms (set to PROBE_MAX_MS here) while
 *     the cloud is down, so the first batch comes up to that long after
 *     the cloud listens: both times are printed.
 *
 * A benchmark: it prints figures and targets, never fails on a timing. The
 * exit status is 1 when something fails (a call, a process, a check of
 * what the cloud holds). Every process it starts is stopped by its PID,
 * also on an error; the cluster by scripts/pg-cluster.sh stop.
 *
 *   bench/cloud [--ops N] [--backlog B] [--origins K] [--dir DIR] [--root DIR]
 *               [--json] [--keep]
 */
#include "pki/pki.h"
#include "term/term.h"
#include "wire/wire.h"

#define BENCH_NAME "cloud"
#include "benchutil.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sched.h>

#define CATALOG_SKUS 100
#define CATALOG_OPS (2 * CATALOG_SKUS) /* a catalog_set and a stock receipt each */
#define SALES_PER_TXN 1000
#define STORE_INGEST "S1"
#define STORE_DRAIN "S2"
#define DRAIN_ORIGINS 5
#define DRAIN_POLL_MS 20
#define DRAIN_LIMIT_S 900
#define PROBE_MIN_MS 250
#define PROBE_MAX_MS 1000
#define TARGET_OPS_S 100000.0
#define TARGET_RATIO 0.5
#define TARGET_DRAIN_S 60.0
#define HANDSHAKES 50
#define ADMIN_TOKEN "bench-cloud-admin-token-0123456789"

typedef struct options {
    const char *parent_dir; /* NULL: the build directory */
    const char *root;       /* NULL: found (the source tree) */
    size_t ops, backlog, origins;
    bool json, keep;
} options;

/* One OpsBatch frame of the ingest. */
typedef struct frame {
    uint8_t *data;
    size_t len, n_ops;
} frame;

/* The figures of the run. */
typedef struct results {
    double make_ingest_s, make_backlog_s, merge_s;
    /* 1: ingest */
    size_t n_frames, frame_bytes;
    double read_ms, encode_ms; /* store side, per batch: term_ops_read, wire_encode_ops_fit */
    bench_stats handshake;     /* new connection + TLS handshake + GET /healthz */
    double ingest_s, ingest_ops_s;
    bench_stats batch;
    double cloud_cpu_s, pg_cpu_s, client_cpu_s;
    size_t log_batches;
    double decode_ms, check_ms, store_ms, project_ms, commit_ms, server_ms; /* means */
    /* 2: floor */
    double copy_s, copy_ops_s, copy_timing_s, ratio;
    double batches_copy_s, batches_copy_ops_s, batches_ratio; /* one COPY per frame */
    /* 3: drain */
    size_t backlog_pending; /* what kassad said was pending before */
    double listen_s, first_s, done_s, kassad_zero_s;
    double drain_gap_ms; /* between one batch's answer and the next batch's handler */
    /* 1b: a new connection per batch, with TCP_NODELAY [0] and without [1] */
    double re_s[2], re_ops_s[2], re_server_ms[2];
    bench_stats re_batch[2];
    size_t drain_batches;
    double drain_server_s;
    double drain_kassad_cpu_s, drain_cloud_cpu_s, drain_pg_cpu_s;
    double drain_decode_ms, drain_check_ms, drain_store_ms, drain_project_ms, drain_commit_ms,
        drain_server_ms;
    bool exactly_once;
} results;

typedef struct bench {
    options opt;
    char build[BENCH_PATH_MAX], root[BENCH_PATH_MAX], dir[BENCH_PATH_MAX];
    bool dir_created;
    const char *fs_name;
    bool fs_is_ram;
    char psql[BENCH_PATH_MAX];
    char pg_dir[BENCH_PATH_MAX];
    bool pg_started;
    int pg_port;
    char pg_version[128], pg_settings[512];
    char ca[BENCH_PATH_MAX], cloud_tls[BENCH_PATH_MAX], ca_cert[BENCH_PATH_MAX],
        token_file[BENCH_PATH_MAX];
    bench_proc cloud, kassad;
    catalog_item *items;
    frame *frames;
    size_t n_frames;
    char copy_file[BENCH_PATH_MAX], copy_script[BENCH_PATH_MAX];
    size_t ingest_ops;            /* operations in the frames */
    oplog_vv ingest_vv, drain_vv; /* what was made, per origin */
    results r;
} bench;

static int fail_kassa(const char *what, const kassa_err *err)
{
    return fail("%s: %s (%s)", what, err->msg, kassa_strerror(err->code));
}

/* snprintf into a path; an error when it does not fit. */
static int pathf(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int pathf(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        return fail("path too long: %.200s...", out);
    return 0;
}

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_self_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return -1;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What nproc says: the CPUs this process may run on. */
static long cpus_usable(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    return sysconf(_SC_NPROCESSORS_ONLN);
}

/* "12,345,678" */
static const char *group(double v, char *buf, size_t size)
{
    char digits[64];
    snprintf(digits, sizeof digits, "%.0f", v < 0 ? 0 : v);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

static void usage(FILE *f)
{
    fputs("usage: cloud [--ops N] [--backlog B] [--origins K] [--dir DIR] [--root DIR]\n"
          "             [--json] [--keep]\n"
          "  --ops N           operations uploaded in the ingest run and copied by the floor\n"
          "                    (200000)\n"
          "  --backlog B       operations pending on the store terminal, 5 origins, for the\n"
          "                    drain (720000)\n"
          "  --origins K       terminals (origins) the ingest's operations come from (4)\n"
          "  --dir DIR         parent of the fresh working directory (default: the build\n"
          "                    directory; as root, every directory above it must be\n"
          "                    searchable by the postgres user)\n"
          "  --root DIR        the source tree (scripts/pg-cluster.sh); default: "
          "found\n" BENCH_USAGE_COMMON,
          f);
}

static int value_option(const char *a, const char *v, void *ctx)
{
    options *o = ctx;
    if (strcmp(a, "--dir") == 0) {
        o->parent_dir = v;
        return 0;
    }
    if (strcmp(a, "--root") == 0) {
        o->root = v;
        return 0;
    }
    if (strcmp(a, "--ops") == 0)
        return parse_size(a, v, 1000, 20000000, &o->ops);
    if (strcmp(a, "--backlog") == 0)
        return parse_size(a, v, DRAIN_ORIGINS * 1000, 20000000, &o->backlog);
    if (strcmp(a, "--origins") == 0)
        return parse_size(a, v, 1, 32, &o->origins);
    return -1;
}

/* ---- child processes with their own stdin and stdout ---- */

/* Runs argv with stdin from in_path (NULL: /dev/null), stdout to out_path
 * and stderr appended to log; waits. 0 when it exited 0. */
static int run_io(char *const argv[], const char *in_path, const char *out_path, const char *log)
{
    pid_t pid = fork();
    if (pid < 0)
        return fail("fork: %s", strerror(errno));
    if (pid == 0) {
        int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int errfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in < 0 || out < 0 || errfd < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
            dup2(errfd, 2) < 0)
            _exit(126);
        execv(argv[0], argv);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return fail("waitpid: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        print_tail(log);
        return fail("%s exited with %d", argv[0],
                    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    return 0;
}

/* A whole small file into out (NUL-terminated, trailing newlines cut). */
static int read_small(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fail("%s: %s", path, strerror(errno));
    size_t n = fread(out, 1, size - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    return 0;
}

/* ---- PostgreSQL: the cluster and psql ---- */

static void conninfo(const bench *b, const char *db, char *out, size_t size)
{
    snprintf(out, size, "host=127.0.0.1 port=%d user=postgres dbname=%s", b->pg_port, db);
}

/* psql -c sql on db (stdin from in_path, NULL: none); its unaligned,
 * tuples-only output in out (may be NULL). */
static int psql(bench *b, const char *db, const char *sql, const char *in_path, char *out,
                size_t size)
{
    char ci[256], out_path[BENCH_PATH_MAX], log[BENCH_PATH_MAX];
    conninfo(b, db, ci, sizeof ci);
    if (pathf(out_path, sizeof out_path, "%s/psql.out", b->dir) != 0 ||
        pathf(log, sizeof log, "%s/psql.log", b->dir) != 0)
        return 1;
    char *argv[] = {b->psql,           "-X", "-q", "-A", "-t",        "-v",
                    "ON_ERROR_STOP=1", "-d", ci,   "-c", (char *)sql, NULL};
    if (run_io(argv, in_path, out_path, log) != 0)
        return fail("psql: %.300s failed", sql);
    if (out)
        return read_small(out_path, out, size);
    return 0;
}

static int pg_start(bench *b)
{
    char script[BENCH_PATH_MAX], log[BENCH_PATH_MAX], port_file[BENCH_PATH_MAX], port[32];
    if (pathf(script, sizeof script, "%s/scripts/pg-cluster.sh", b->root) != 0 ||
        pathf(b->pg_dir, sizeof b->pg_dir, "%s/pg", b->dir) != 0 ||
        pathf(log, sizeof log, "%s/pg-cluster.log", b->dir) != 0 ||
        pathf(port_file, sizeof port_file, "%s/pg/port", b->dir) != 0)
        return 1;
    char *argv[] = {"/bin/bash", script, "start", b->pg_dir, NULL};
    b->pg_started = true; /* stop is harmless when start failed half way */
    if (bench_run(argv, b->root, log) != 0)
        return fail("scripts/pg-cluster.sh start %s failed", b->pg_dir);
    if (read_small(port_file, port, sizeof port) != 0)
        return 1;
    b->pg_port = atoi(port);
    if (b->pg_port <= 0)
        return fail("%s: no port", port_file);
    char settings[512];
    if (psql(b, "postgres", "SELECT current_setting('server_version')", NULL, b->pg_version,
             sizeof b->pg_version) != 0 ||
        psql(b, "postgres",
             "SELECT 'fsync=' || current_setting('fsync') || ' synchronous_commit=' ||"
             " current_setting('synchronous_commit') || ' full_page_writes=' ||"
             " current_setting('full_page_writes') || ' shared_buffers=' ||"
             " current_setting('shared_buffers')",
             NULL, settings, sizeof settings) != 0)
        return 1;
    snprintf(b->pg_settings, sizeof b->pg_settings, "%s", settings);
    return 0;
}

static int pg_stop(bench *b)
{
    if (!b->pg_started)
        return 0;
    b->pg_started = false;
    char script[BENCH_PATH_MAX], log[BENCH_PATH_MAX];
    if (pathf(script, sizeof script, "%s/scripts/pg-cluster.sh", b->root) != 0 ||
        pathf(log, sizeof log, "%s/pg-cluster.log", b->dir) != 0)
        return 1;
    char *argv[] = {"/bin/bash", script, "stop", b->pg_dir, NULL};
    if (bench_run(argv, b->root, log) != 0)
        return fail("scripts/pg-cluster.sh stop %s failed", b->pg_dir);
    return 0;
}

static int create_db(bench *b, const char *name)
{
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    return psql(b, "postgres", sql, NULL, NULL, 0);
}

/* The pid of kassa-cloud's backend on db; 0 when not found. */
static pid_t pg_backend_of_cloud(bench *b, const char *db)
{
    char sql[256], out[64];
    snprintf(sql, sizeof sql,
             "SELECT pid FROM pg_stat_activity WHERE application_name = 'kassa-cloud'"
             " AND datname = '%s' ORDER BY backend_start LIMIT 1",
             db);
    if (psql(b, db, sql, NULL, out, sizeof out) != 0)
        return 0;
    return (pid_t)atoi(out);
}

/* ---- certificates and kassa-cloud ---- */

static int make_pki(bench *b)
{
    kassa_err err;
    if (pathf(b->ca, sizeof b->ca, "%s/ca", b->dir) != 0 ||
        pathf(b->ca_cert, sizeof b->ca_cert, "%s/ca/ca.crt", b->dir) != 0 ||
        pathf(b->cloud_tls, sizeof b->cloud_tls, "%s/cloud-tls", b->dir) != 0 ||
        pathf(b->token_file, sizeof b->token_file, "%s/admin.token", b->dir) != 0)
        return 1;
    if (pki_ca_init(b->ca, &err) != KASSA_OK)
        return fail_kassa("ca init", &err);
    if (pki_ca_issue(b->ca, "CLOUD", "cloud-1", b->cloud_tls, &err) != KASSA_OK)
        return fail_kassa("ca issue CLOUD/cloud-1", &err);
    int fd = open(b->token_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dprintf(fd, "%s\n", ADMIN_TOKEN) < 0 || close(fd) != 0)
        return fail("%s: %s", b->token_file, strerror(errno));
    return 0;
}

/* The certificate directory of a terminal: DIR/certs/STORE-NODE. */
static int issue(bench *b, const char *store, const char *node, char *out, size_t size)
{
    if (pathf(out, size, "%s/certs-%s-%s", b->dir, store, node) != 0)
        return 1;
    kassa_err err;
    if (pki_ca_issue(b->ca, store, node, out, &err) != KASSA_OK)
        return fail_kassa("ca issue", &err);
    return 0;
}

/* Starts kassa-cloud on db at 127.0.0.1:port (or only migrates db); its
 * log is DIR/<log_name>. */
static int cloud_start(bench *b, bench_proc *p, const char *db, int port, const char *log_name,
                       bool migrate_only)
{
    char bin[BENCH_PATH_MAX], ci[256], listen[64];
    if (pathf(bin, sizeof bin, "%s/bin/kassa-cloud", b->build) != 0 ||
        pathf(p->log, sizeof p->log, "%s/%s", b->dir, log_name) != 0)
        return 1;
    conninfo(b, db, ci, sizeof ci);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    p->name = "kassa-cloud";
    if (migrate_only) {
        char *argv[] = {bin, "--pg", ci, "--migrate-only", NULL};
        return bench_run(argv, b->root, p->log) == 0 ? 0
                                                     : fail("kassa-cloud --migrate-only failed");
    }
    char *argv[] = {bin,        "--listen",           listen,        "--pg",
                    ci,         "--tls-dir",          b->cloud_tls,  "--ca-cert",
                    b->ca_cert, "--admin-token-file", b->token_file, NULL};
    return bench_proc_start(p, argv, b->root);
}

/* ---- kassa-cloud's log: one JSON object per line ---- */

/* RFC 3339 "2026-11-29T10:11:12.345Z" in milliseconds since the epoch. */
static double ts_ms(const char *ts)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int ms = 0;
    if (!ts || sscanf(ts, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) * 1e3 + ms;
}

typedef struct cloud_log {
    bool started;
    double start_ms;          /* the "start" line */
    double first_ms, last_ms; /* the first and last "ingested" */
    size_t batches, stored, duplicates;
    double decode_us, check_us, store_us, project_us, commit_us, total_us; /* sums */
    size_t refused;
    double gap_ms; /* sum over batches 2..n: handler start - previous answer */
    double prev_ms;
} cloud_log;

static double field_num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : 0;
}

static int read_cloud_log(const char *path, cloud_log *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0; /* not written yet */
    char line[16384];
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        const char *ev = o ? json_string_value(json_object_get(o, "event")) : NULL;
        double ts = o ? ts_ms(json_string_value(json_object_get(o, "ts"))) : -1;
        if (ev && strcmp(ev, "start") == 0) {
            out->started = true;
            out->start_ms = ts;
        } else if (ev && strcmp(ev, "ingested") == 0) {
            double total = field_num(o, "total_us");
            if (out->batches == 0)
                out->first_ms = ts;
            else
                out->gap_ms += ts - total / 1e3 - out->prev_ms;
            out->prev_ms = ts;
            out->last_ms = ts;
            out->batches++;
            out->stored += (size_t)field_num(o, "stored");
            out->duplicates += (size_t)field_num(o, "duplicates");
            out->decode_us += field_num(o, "decode_us");
            out->check_us += field_num(o, "check_us");
            out->store_us += field_num(o, "store_us");
            out->project_us += field_num(o, "project_us");
            out->commit_us += field_num(o, "commit_us");
            out->total_us += field_num(o, "total_us");
        } else if (ev && strcmp(ev, "refused") == 0) {
            out->refused++;
        }
        json_decref(o);
    }
    fclose(f);
    return 0;
}

/* Waits for kassa-cloud's "start" line. */
static int cloud_wait_started(bench_proc *p, unsigned limit_s)
{
    uint64_t deadline = now_ns() + limit_s * 1000000000ull;
    for (;;) {
        cloud_log l;
        read_cloud_log(p->log, &l);
        if (l.started)
            return 0;
        if (bench_proc_died(p))
            return fail("kassa-cloud exited during start");
        if (now_ns() > deadline || bench_stopping()) {
            print_tail(p->log);
            return fail("kassa-cloud did not log \"start\" within %u s", limit_s);
        }
        bench_sleep_ms(10);
    }
}

/* ---- HTTPS client: blocking, one connection, a device certificate ---- */

typedef struct tls_client {
    pki_identity id;
    bool id_loaded;
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;
    int port;
    char host[64];
    kbuf out;
    char *rbuf;
    size_t rlen, rcap;
    char *body; /* the last answer's body, NUL-terminated */
    size_t body_len, body_cap;
    size_t consumed; /* rbuf bytes of the last answer */
    int status;
    bool close_after;
    bool nagle; /* leave TCP_NODELAY off (kassad's uplink does not set it) */
    char err[512];
} tls_client;

/* The cloud's certificate must be our CA's, of store CLOUD (as kassad's
 * uplink checks it). */
static int verify_cloud(X509_STORE_CTX *xs, void *arg)
{
    tls_client *c = arg;
    X509 *cert = X509_STORE_CTX_get0_cert(xs);
    kassa_err err;
    pki_reject why;
    if (!cert || pki_verify_peer(&c->id, cert, X509_STORE_CTX_get0_untrusted(xs), "CLOUD", NULL,
                                 NULL, NULL, &why, &err) != KASSA_OK) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    return 1;
}

static int tls_init(tls_client *c, const char *cert_dir, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->port = port;
    snprintf(c->host, sizeof c->host, "127.0.0.1:%d", port);
    kbuf_init(&c->out);
    kassa_err err;
    if (pki_identity_load(cert_dir, &c->id, &err) != KASSA_OK)
        return fail_kassa("pki_identity_load", &err);
    c->id_loaded = true;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx || SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_use_certificate(c->ctx, c->id.cert) != 1 ||
        SSL_CTX_use_PrivateKey(c->ctx, c->id.key) != 1 || SSL_CTX_check_private_key(c->ctx) != 1)
        return fail("cannot set up TLS with %s", cert_dir);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(c->ctx, verify_cloud, c);
    return 0;
}

static void tls_close(tls_client *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->rlen = c->consumed = 0;
}

static void tls_free(tls_client *c)
{
    tls_close(c);
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    if (c->id_loaded)
        pki_identity_free(&c->id);
    kbuf_free(&c->out);
    free(c->rbuf);
    free(c->body);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static void tls_error(tls_client *c, const char *what)
{
    unsigned long e = ERR_get_error();
    char ebuf[256] = "";
    if (e)
        ERR_error_string_n(e, ebuf, sizeof ebuf);
    snprintf(c->err, sizeof c->err, "%s: %s", what, ebuf[0] ? ebuf : strerror(errno));
    ERR_clear_error();
}

static int tls_connect(tls_client *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(c->err, sizeof c->err, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    struct timeval tv = {120, 0};
    if (!c->nagle)
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = bench_loopback(c->port);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(c->err, sizeof c->err, "connect %s: %s", c->host, strerror(errno));
        tls_close(c);
        return -1;
    }
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
        tls_error(c, "TLS handshake");
        tls_close(c);
        return -1;
    }
    return 0;
}

/* Reads more bytes into rbuf: > 0 read, else -1 (closed or an error). */
static ssize_t tls_fill(tls_client *c)
{
    if (c->rlen + 65536 + 1 > c->rcap) {
        size_t cap = c->rcap ? c->rcap * 2 : 262144;
        while (cap < c->rlen + 65536 + 1)
            cap *= 2;
        char *p = realloc(c->rbuf, cap);
        if (!p) {
            snprintf(c->err, sizeof c->err, "out of memory");
            return -1;
        }
        c->rbuf = p;
        c->rcap = cap;
    }
    int n = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(c->rcap - c->rlen - 1));
    if (n <= 0) {
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_ZERO_RETURN)
            snprintf(c->err, sizeof c->err, "the server closed the connection");
        else
            tls_error(c, "TLS read");
        return -1;
    }
    c->rlen += (size_t)n;
    c->rbuf[c->rlen] = '\0';
    return n;
}

/* One request; the answer in c->status, c->body. A connection the server
 * closed is reopened before the request, never after it (an upload that
 * got no answer may have been stored). */
static int tls_request(tls_client *c, const char *method, const char *path, const void *body,
                       size_t body_len)
{
    c->err[0] = '\0';
    /* what is left of the last answer goes */
    if (c->consumed) {
        memmove(c->rbuf, c->rbuf + c->consumed, c->rlen - c->consumed);
        c->rlen -= c->consumed;
        c->consumed = 0;
    }
    if (!c->ssl && tls_connect(c) != 0)
        return -1;
    char head[512];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s\r\n%s", method, path, c->host,
                     body ? "Content-Type: application/octet-stream\r\n" : "");
    if (body)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", body_len);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    kbuf_reset(&c->out);
    kbuf_put(&c->out, head, (size_t)n);
    if (body)
        kbuf_put(&c->out, body, body_len);
    if (c->out.oom) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return -1;
    }
    if (SSL_write(c->ssl, c->out.data, (int)c->out.len) != (int)c->out.len) {
        tls_error(c, "TLS write");
        tls_close(c);
        return -1;
    }
    char *end = NULL;
    while (!(c->rbuf && (end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4))))
        if (tls_fill(c) < 0) {
            tls_close(c);
            return -1;
        }
    size_t head_len = (size_t)(end - c->rbuf) + 4;
    int minor;
    if (sscanf(c->rbuf, "HTTP/1.%d %d", &minor, &c->status) != 2) {
        snprintf(c->err, sizeof c->err, "bad status line");
        tls_close(c);
        return -1;
    }
    long long length = -1;
    c->close_after = minor == 0;
    for (char *line = strstr(c->rbuf, "\r\n") + 2; line < end;) {
        char *eol = strstr(line, "\r\n");
        const char *v;
        if (bench_header_is(line, (size_t)(eol - line), "Content-Length", &v))
            length = strtoll(v, NULL, 10);
        else if (bench_header_is(line, (size_t)(eol - line), "Connection", &v))
            c->close_after = strncasecmp(v, "close", 5) == 0;
        line = eol + 2;
    }
    if (length < 0) {
        snprintf(c->err, sizeof c->err, "an answer without Content-Length");
        tls_close(c);
        return -1;
    }
    while (c->rlen < head_len + (size_t)length)
        if (tls_fill(c) < 0) {
            tls_close(c);
            return -1;
        }
    /* the body, copied out NUL-terminated */
    if (c->body_cap < (size_t)length + 1) {
        char *p = realloc(c->body, (size_t)length + 1);
        if (!p) {
            snprintf(c->err, sizeof c->err, "out of memory");
            tls_close(c);
            return -1;
        }
        c->body = p;
        c->body_cap = (size_t)length + 1;
    }
    memcpy(c->body, c->rbuf + head_len, (size_t)length);
    c->body[length] = '\0';
    c->body_len = (size_t)length;
    c->consumed = head_len + (size_t)length;
    if (c->close_after)
        tls_close(c);
    return 0;
}

/* The body of the last answer as JSON (NULL when it is not). */
static json_t *tls_json(const tls_client *c)
{
    return json_loadb(c->body, c->body_len, 0, NULL);
}

/* Sum of a {"vv": {origin: seq}} answer; -1 when it is not one. */
static long long vv_sum(const tls_client *c)
{
    json_t *o = tls_json(c);
    json_t *vv = o ? json_object_get(o, "vv") : NULL;
    long long sum = json_is_object(vv) ? 0 : -1;
    const char *k;
    json_t *v;
    if (sum == 0)
        json_object_foreach(vv, k, v) sum += (long long)json_integer_value(v);
    json_decref(o);
    return sum;
}

/* ---- terminals: one-line sales made by the core ---- */

typedef struct maker {
    const catalog_item *items;
    char dir[BENCH_PATH_MAX];
    const kbuf *catalog; /* an export to import first (NULL: none) */
    size_t sales;
    uint64_t seed;
    int rc;
    char err[600];
} maker;

typedef struct maker_pool {
    maker *jobs;
    size_t n;
    atomic_size_t next;
} maker_pool;

static int make_sales(maker *m)
{
    kassa_err err;
    kassa_err_clear(&err);
    term *t = NULL;
    term_cart *cart = malloc(sizeof *cart);
    term_sale_result *res = malloc(sizeof *res);
    int rc = KASSA_OK;
    const char *what = "out of memory";
    if (!cart || !res) {
        rc = KASSA_ENOMEM;
        goto out;
    }
    what = "term_open";
    if ((rc = term_open(m->dir, &t, &err)) != KASSA_OK)
        goto out;
    term_import_report rep;
    what = "term_import (catalog)";
    if (m->catalog &&
        (rc = term_import(t, m->catalog->data, m->catalog->len, &rep, &err)) != KASSA_OK)
        goto out;
    uint64_t rng = m->seed;
    for (size_t done = 0; done < m->sales;) {
        what = "term_batch_begin";
        if ((rc = term_batch_begin(t, &err)) != KASSA_OK)
            goto out;
        for (size_t k = 0; k < SALES_PER_TXN && done < m->sales; k++, done++) {
            cart->n_lines = 0;
            const char *sku = m->items[splitmix64(&rng) % CATALOG_SKUS].sku;
            what = "term_sale";
            if ((rc = term_cart_add(cart, sku, 1, &err)) != KASSA_OK ||
                (rc = term_sale(t, cart, 100000, res, &err)) != KASSA_OK) {
                term_batch_rollback(t);
                goto out;
            }
        }
        what = "term_batch_commit";
        if ((rc = term_batch_commit(t, &err)) != KASSA_OK)
            goto out;
    }
out:
    if (rc != KASSA_OK)
        snprintf(m->err, sizeof m->err, "%.300s: %s: %.200s", m->dir, what,
                 rc == KASSA_ENOMEM && !err.msg[0] ? "out of memory" : err.msg);
    term_close(t);
    free(cart);
    free(res);
    return rc;
}

static void *maker_main(void *arg)
{
    maker_pool *p = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n || bench_stopping())
            return NULL;
        p->jobs[i].rc = make_sales(&p->jobs[i]);
    }
}

/* A store of n terminals DIR/<phase>/T1..Tn; origin i gets per_origin[i]
 * operations: T1 the catalog (CATALOG_OPS) and sales, the others the
 * catalog by import (T1's operations) and sales. The sales are made on up
 * to nproc threads. */
static int make_store(bench *b, const char *phase, const char *store, size_t n,
                      const size_t *per_origin, char (*dirs)[BENCH_PATH_MAX], oplog_vv *made)
{
    char base[BENCH_PATH_MAX];
    if (pathf(base, sizeof base, "%s/%s", b->dir, phase) != 0)
        return 1;
    if (mkdir(base, 0700) != 0)
        return fail("mkdir %s: %s", base, strerror(errno));
    kassa_err err;
    maker *jobs = calloc(n, sizeof *jobs);
    if (!jobs)
        return fail("out of memory");
    kbuf catalog;
    kbuf_init(&catalog);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char node[16];
        snprintf(node, sizeof node, "T%u", (unsigned)(i + 1) % 1000);
        if (pathf(dirs[i], BENCH_PATH_MAX, "%s/%s", base, node) != 0) {
            rc = 1;
            break;
        }
        if (term_init(dirs[i], store, node, &err) != KASSA_OK) {
            rc = fail_kassa("term_init", &err);
            break;
        }
        maker *m = &jobs[i];
        m->items = b->items;
        memcpy(m->dir, dirs[i], sizeof m->dir);
        m->seed = 0xc10d0000u + i * 7919u + strlen(phase);
        m->catalog = i == 0 ? NULL : &catalog;
        size_t own = i == 0 ? CATALOG_OPS : 0;
        if (per_origin[i] < own + 1) {
            rc = fail("origin %s: %zu operations is fewer than its catalog", node, per_origin[i]);
            break;
        }
        m->sales = per_origin[i] - own;
        if (i == 0) {
            term *t;
            if (term_open(dirs[0], &t, &err) != KASSA_OK) {
                rc = fail_kassa("term_open", &err);
                break;
            }
            if (term_catalog_import(t, b->items, CATALOG_SKUS, &err) != KASSA_OK ||
                term_export(t, NULL, &catalog, &err) != KASSA_OK)
                rc = fail_kassa("catalog", &err);
            term_close(t);
        }
    }
    if (rc == 0) {
        long cpus = cpus_usable();
        size_t workers = cpus > 0 ? (size_t)cpus : 1;
        if (workers > n)
            workers = n;
        maker_pool pool = {.jobs = jobs, .n = n};
        atomic_init(&pool.next, 0);
        pthread_t th[64];
        size_t started = 0;
        for (; started < workers && started < 64; started++)
            if (pthread_create(&th[started], NULL, maker_main, &pool) != 0)
                break;
        if (started == 0)
            maker_main(&pool);
        for (size_t i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (jobs[i].rc != KASSA_OK || bench_stopping())
                rc = jobs[i].err[0] ? fail("%s", jobs[i].err) : fail("interrupted");
    }
    /* each origin's operations, as made */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        term *t;
        oplog_vv vv;
        oplog_vv_init(&vv);
        if (term_open(dirs[i], &t, &err) != KASSA_OK) {
            rc = fail_kassa("term_open", &err);
            break;
        }
        if (term_vv(t, &vv, &err) != KASSA_OK)
            rc = fail_kassa("term_vv", &err);
        term_close(t);
        char node[16];
        snprintf(node, sizeof node, "T%u", (unsigned)(i + 1) % 1000);
        uint64_t got = oplog_vv_get(&vv, node);
        if (rc == 0 && got != per_origin[i])
            rc = fail("origin %s holds %llu operations, %zu were meant (one per sale?)", node,
                      (unsigned long long)got, per_origin[i]);
        if (rc == 0 && oplog_vv_set(made, node, got, &err) != KASSA_OK)
            rc = fail_kassa("oplog_vv_set", &err);
        oplog_vv_free(&vv);
    }
    kbuf_free(&catalog);
    free(jobs);
    return rc;
}

static void split(size_t total, size_t n, size_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = total / n + (i < total % n ? 1 : 0);
}

/* ---- 1 and 2: the frames and the COPY rows of the same operations ---- */

static void put_be(FILE *f, uint64_t v, int bytes)
{
    uint8_t out[8];
    for (int i = 0; i < bytes; i++)
        out[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    fwrite(out, 1, (size_t)bytes, f);
}

static void put_field(FILE *f, const void *p, size_t n)
{
    put_be(f, n, 4);
    fwrite(p, 1, n, f);
}

static const uint8_t COPY_SIGNATURE[] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};

/* A binary COPY file: its header. */
static FILE *copy_open(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fail("%s: %s", path, strerror(errno));
        return NULL;
    }
    fwrite(COPY_SIGNATURE, 1, sizeof COPY_SIGNATURE, f);
    put_be(f, 0, 4); /* flags */
    put_be(f, 0, 4); /* header extension */
    return f;
}

/* Its trailer; closes it. */
static int copy_close(FILE *f, const char *path)
{
    put_be(f, 0xffff, 2);
    if (ferror(f) || fclose(f) != 0)
        return fail("%s: write error", path);
    return 0;
}

/* Rows (store_id, origin, seq, hlc, kind, payload, hash). */
static void copy_rows(FILE *f, const char *store, const oplog_op *ops, size_t n)
{
    size_t store_len = strlen(store);
    for (size_t j = 0; j < n; j++) {
        const oplog_op *op = &ops[j];
        put_be(f, 7, 2);
        put_field(f, store, store_len);
        put_field(f, op->origin, strlen(op->origin));
        put_be(f, 8, 4);
        put_be(f, op->seq, 8);
        put_be(f, 8, 4);
        put_be(f, op->hlc, 8);
        put_be(f, 2, 4);
        put_be(f, op->kind, 2);
        put_field(f, op->payload, op->payload_len);
        put_field(f, op->hash, OPLOG_HASH_SIZE);
    }
}

/* Each origin's operations (its own terminal), read and framed as
 * kassad's uplink does (the time it takes is the store side's share of
 * an upload); every op also as a row of the one-COPY file, and each
 * frame's rows as a COPY file of their own with a psql script of them. */
static int encode_ingest(bench *b, char (*dirs)[BENCH_PATH_MAX], size_t n)
{
    char batches[BENCH_PATH_MAX];
    if (pathf(b->copy_file, sizeof b->copy_file, "%s/ops.copy", b->dir) != 0 ||
        pathf(b->copy_script, sizeof b->copy_script, "%s/batches.psql", b->dir) != 0 ||
        pathf(batches, sizeof batches, "%s/batches", b->dir) != 0)
        return 1;
    if (mkdir(batches, 0700) != 0)
        return fail("mkdir %s: %s", batches, strerror(errno));
    FILE *f = copy_open(b->copy_file), *sf = fopen(b->copy_script, "w");
    if (!f || !sf) {
        if (f)
            fclose(f);
        if (sf)
            fclose(sf);
        return fail("%s: %s", b->copy_script, strerror(errno));
    }
    fputs("\\timing on\n", sf);
    oplog_op *ops = calloc(WIRE_BATCH_MAX_OPS, sizeof *ops);
    size_t cap = b->opt.ops / 1000 + 64;
    b->frames = calloc(cap, sizeof *b->frames);
    kbuf payloads, fr;
    kbuf_init(&payloads);
    kbuf_init(&fr);
    kassa_err err;
    int rc = ops && b->frames ? 0 : fail("out of memory");
    uint64_t read_ns = 0, encode_ns = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char node[16];
        snprintf(node, sizeof node, "T%u", (unsigned)(i + 1) % 1000);
        term *t;
        if (term_open(dirs[i], &t, &err) != KASSA_OK) {
            rc = fail_kassa("term_open", &err);
            break;
        }
        for (uint64_t after = 0; rc == 0;) {
            size_t k = 0;
            uint64_t t0 = now_ns();
            if (term_ops_read(t, node, after, WIRE_BATCH_MAX_OPS, WIRE_BATCH_MAX_DECOMPRESSED / 2,
                              ops, &payloads, &k, &err) != KASSA_OK) {
                rc = fail_kassa("term_ops_read", &err);
                break;
            }
            if (k == 0)
                break;
            uint64_t t1 = now_ns();
            if (wire_encode_ops_fit(&fr, ops, &k, &err) != KASSA_OK) {
                rc = fail_kassa("wire_encode_ops_fit", &err);
                break;
            }
            read_ns += t1 - t0;
            encode_ns += now_ns() - t1;
            if (b->n_frames == cap) {
                rc = fail("more frames than expected");
                break;
            }
            frame *fm = &b->frames[b->n_frames];
            fm->data = malloc(fr.len);
            if (!fm->data) {
                rc = fail("out of memory");
                break;
            }
            memcpy(fm->data, fr.data, fr.len);
            fm->len = fr.len;
            fm->n_ops = k;
            b->r.frame_bytes += fr.len;
            copy_rows(f, STORE_INGEST, ops, k);
            char one[BENCH_PATH_MAX];
            if (pathf(one, sizeof one, "%s/batches/%zu.copy", b->dir, b->n_frames) != 0) {
                rc = 1;
                break;
            }
            FILE *bf = copy_open(one);
            if (!bf) {
                rc = 1;
                break;
            }
            copy_rows(bf, STORE_INGEST, ops, k);
            if ((rc = copy_close(bf, one)) != 0)
                break;
            fprintf(sf,
                    "\\copy ops (store_id, origin, seq, hlc, kind, payload, hash) FROM '%s'"
                    " (FORMAT binary)\n",
                    one);
            b->n_frames++;
            b->ingest_ops += k;
            after = ops[k - 1].seq;
        }
        term_close(t);
    }
    if (copy_close(f, b->copy_file) != 0)
        rc = 1;
    if (fclose(sf) != 0 && rc == 0)
        rc = fail("%s: %s", b->copy_script, strerror(errno));
    free(ops);
    kbuf_free(&payloads);
    kbuf_free(&fr);
    b->r.n_frames = b->n_frames;
    if (b->n_frames) {
        b->r.read_ms = (double)read_ns / 1e6 / (double)b->n_frames;
        b->r.encode_ms = (double)encode_ns / 1e6 / (double)b->n_frames;
    }
    return rc;
}

/* Exactly once in the cloud's database: every operation of want once,
 * each origin complete. */
static int check_held(bench *b, const char *db, const char *store, const oplog_vv *want)
{
    char sql[512], out[4096];
    size_t total = 0;
    for (size_t i = 0; i < want->n; i++)
        total += want->e[i].seq;
    snprintf(
        sql, sizeof sql,
        "SELECT count(*) || ' ' || count(DISTINCT (origin, seq)) FROM ops WHERE store_id = '%s'",
        store);
    if (psql(b, db, sql, NULL, out, sizeof out) != 0)
        return 1;
    unsigned long long count = 0, distinct = 0;
    if (sscanf(out, "%llu %llu", &count, &distinct) != 2 || count != total || distinct != total)
        return fail("store %s in the cloud: count %llu, distinct %llu; %zu expected", store, count,
                    distinct, total);
    snprintf(
        sql, sizeof sql,
        "SELECT o.origin || ' ' || count(*) || ' ' || min(o.seq) || ' ' || max(o.seq) || ' ' ||"
        " max(h.seq) FROM ops o JOIN heads h USING (store_id, origin) WHERE o.store_id = '%s'"
        " GROUP BY o.origin ORDER BY o.origin",
        store);
    if (psql(b, db, sql, NULL, out, sizeof out) != 0)
        return 1;
    size_t seen = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), seen++) {
        char origin[64];
        unsigned long long n, lo, hi, head;
        if (sscanf(line, "%63s %llu %llu %llu %llu", origin, &n, &lo, &hi, &head) != 5)
            return fail("unexpected line from psql: %s", line);
        uint64_t w = oplog_vv_get(want, origin);
        if (n != w || lo != 1 || hi != w || head != w)
            return fail("store %s origin %s in the cloud: count %llu, seq %llu..%llu, head %llu;"
                        " 1..%llu expected",
                        store, origin, n, lo, hi, head, (unsigned long long)w);
    }
    if (seen != want->n)
        return fail("store %s in the cloud: %zu origins, %zu expected", store, seen, want->n);
    return 0;
}

/* ---- 1: ingest ---- */

static int run_ingest(bench *b)
{
    results *r = &b->r;
    int port;
    char certs[BENCH_PATH_MAX];
    if (create_db(b, "cloud_ingest") != 0 || free_port(&port) != 0 ||
        issue(b, STORE_INGEST, "T1", certs, sizeof certs) != 0 ||
        cloud_start(b, &b->cloud, "cloud_ingest", port, "cloud-ingest.log", false) != 0 ||
        cloud_wait_started(&b->cloud, 60) != 0)
        return 1;
    tls_client c;
    int rc = tls_init(&c, certs, port);
    uint64_t *lat = calloc(b->n_frames ? b->n_frames : 1, sizeof *lat);
    char path[128];
    snprintf(path, sizeof path, "/v1/stores/%s/ops", STORE_INGEST);
    /* the handshake and the first query outside the measurement */
    if (rc == 0 && tls_request(&c, "GET", "/v1/stores/" STORE_INGEST "/vv", NULL, 0) != 0)
        rc = fail("GET vv: %s", c.err);
    if (rc == 0 && !lat)
        rc = fail("out of memory");
    pid_t backend = rc == 0 ? pg_backend_of_cloud(b, "cloud_ingest") : 0;
    double cloud0 = bench_proc_cpu(&b->cloud), pg0 = backend ? proc_cpu_s(backend) : -1,
           self0 = cpu_self_s();
    uint64_t t0 = now_ns();
    for (size_t i = 0; rc == 0 && i < b->n_frames; i++) {
        const frame *fm = &b->frames[i];
        uint64_t s = now_ns();
        if (tls_request(&c, "POST", path, fm->data, fm->len) != 0) {
            rc = fail("POST %s (batch %zu): %s", path, i + 1, c.err);
            break;
        }
        lat[i] = now_ns() - s;
        if (c.status != 200) {
            rc = fail("POST %s (batch %zu): status %d: %.*s", path, i + 1, c.status,
                      (int)(c.body_len < 400 ? c.body_len : 400), c.body);
            break;
        }
        json_t *o = tls_json(&c);
        json_int_t stored = json_integer_value(json_object_get(o, "stored"));
        json_decref(o);
        if ((size_t)stored != fm->n_ops)
            rc = fail("batch %zu: stored %lld of %zu", i + 1, (long long)stored, fm->n_ops);
        if (bench_stopping())
            rc = fail("interrupted");
    }
    uint64_t spent = now_ns() - t0;
    if (rc == 0) {
        r->cloud_cpu_s = bench_cpu_delta(cloud0, bench_proc_cpu(&b->cloud));
        r->pg_cpu_s = backend ? bench_cpu_delta(pg0, proc_cpu_s(backend)) : -1;
        r->client_cpu_s = bench_cpu_delta(self0, cpu_self_s());
    }
    /* what a new connection costs (kassad's uplink opens one per batch):
     * connect, TLS 1.3 handshake with the client certificate, GET /healthz */
    uint64_t hs[HANDSHAKES];
    for (size_t i = 0; rc == 0 && i < HANDSHAKES; i++) {
        tls_close(&c);
        uint64_t s = now_ns();
        if (tls_request(&c, "GET", "/healthz", NULL, 0) != 0 || c.status != 200)
            rc = fail("GET /healthz on a new connection: %s (status %d)", c.err, c.status);
        hs[i] = now_ns() - s;
    }
    if (rc == 0)
        bench_stats_in_place(hs, HANDSHAKES, &r->handshake);
    if (rc == 0) {
        r->ingest_s = (double)spent / 1e9;
        r->ingest_ops_s = (double)b->ingest_ops / r->ingest_s;
        bench_stats_in_place(lat, b->n_frames, &r->batch);
    }
    tls_free(&c);
    free(lat);
    if (rc == 0)
        rc = check_held(b, "cloud_ingest", STORE_INGEST, &b->ingest_vv);
    if (bench_proc_stop(&b->cloud, 30) != 0 && rc == 0)
        rc = 1;
    if (rc == 0) {
        cloud_log l;
        read_cloud_log(b->cloud.log, &l);
        size_t nb = l.batches ? l.batches : 1;
        r->log_batches = l.batches;
        r->decode_ms = l.decode_us / 1e3 / nb;
        r->check_ms = l.check_us / 1e3 / nb;
        r->store_ms = l.store_us / 1e3 / nb;
        r->project_ms = l.project_us / 1e3 / nb;
        r->commit_ms = l.commit_us / 1e3 / nb;
        r->server_ms = l.total_us / 1e3 / nb;
    }
    return rc;
}

/* 1b. The same frames into a fresh database, each on a new connection as
 * kassad's uplink sends them (one connection per request), with
 * TCP_NODELAY or without it (nagle: as the uplink's sockets are). */
static int run_ingest_reconnect(bench *b, int nagle)
{
    results *r = &b->r;
    const char *db = nagle ? "cloud_ingest_nagle" : "cloud_ingest_reconnect";
    char log_name[64];
    snprintf(log_name, sizeof log_name, "%s.log", db);
    int port;
    char certs[BENCH_PATH_MAX];
    if (create_db(b, db) != 0 || free_port(&port) != 0 ||
        pathf(certs, sizeof certs, "%s/certs-%s-T1", b->dir, STORE_INGEST) != 0 ||
        cloud_start(b, &b->cloud, db, port, log_name, false) != 0 ||
        cloud_wait_started(&b->cloud, 60) != 0)
        return 1;
    tls_client c;
    int rc = tls_init(&c, certs, port);
    c.nagle = nagle != 0;
    uint64_t *lat = calloc(b->n_frames ? b->n_frames : 1, sizeof *lat);
    if (rc == 0 && !lat)
        rc = fail("out of memory");
    const char *path = "/v1/stores/" STORE_INGEST "/ops";
    uint64_t t0 = now_ns();
    for (size_t i = 0; rc == 0 && i < b->n_frames; i++) {
        const frame *fm = &b->frames[i];
        tls_close(&c);
        uint64_t s = now_ns();
        if (tls_request(&c, "POST", path, fm->data, fm->len) != 0)
            rc = fail("POST %s (batch %zu, new connection): %s", path, i + 1, c.err);
        else if (c.status != 200)
            rc = fail("POST %s (batch %zu, new connection): status %d", path, i + 1, c.status);
        lat[i] = now_ns() - s;
        if (bench_stopping())
            rc = fail("interrupted");
    }
    uint64_t spent = now_ns() - t0;
    if (rc == 0) {
        r->re_s[nagle] = (double)spent / 1e9;
        r->re_ops_s[nagle] = (double)b->ingest_ops / r->re_s[nagle];
        bench_stats_in_place(lat, b->n_frames, &r->re_batch[nagle]);
    }
    tls_free(&c);
    free(lat);
    if (bench_proc_stop(&b->cloud, 30) != 0 && rc == 0)
        rc = 1;
    if (rc == 0) {
        cloud_log l;
        read_cloud_log(b->cloud.log, &l);
        r->re_server_ms[nagle] = l.batches ? l.total_us / 1e3 / (double)l.batches : 0;
        if (l.stored != b->ingest_ops)
            rc = fail("%s: %zu operations stored, %zu expected", db, l.stored, b->ingest_ops);
    }
    return rc;
}

/* ---- 2: the floor ---- */

static int run_floor(bench *b)
{
    results *r = &b->r;
    bench_proc migrate = {0};
    if (create_db(b, "cloud_floor") != 0 ||
        cloud_start(b, &migrate, "cloud_floor", 0, "cloud-migrate.log", true) != 0)
        return 1;
    char ci[256], out_path[BENCH_PATH_MAX], log[BENCH_PATH_MAX], out[4096];
    conninfo(b, "cloud_floor", ci, sizeof ci);
    if (pathf(out_path, sizeof out_path, "%s/psql-copy.out", b->dir) != 0 ||
        pathf(log, sizeof log, "%s/psql.log", b->dir) != 0)
        return 1;
    /* psql's own \timing of the COPY, besides the whole program's time
     * (its start and connection included) */
    char *argv[] = {b->psql,
                    "-X",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-d",
                    ci,
                    "-c",
                    "\\timing on",
                    "-c",
                    "COPY ops (store_id, origin, seq, hlc, kind, payload, hash) FROM STDIN"
                    " (FORMAT binary)",
                    NULL};
    uint64_t t0 = now_ns();
    if (run_io(argv, b->copy_file, out_path, log) != 0)
        return fail("psql COPY failed");
    r->copy_s = (double)(now_ns() - t0) / 1e9;
    if (read_small(out_path, out, sizeof out) != 0)
        return 1;
    const char *tm = strstr(out, "Time: ");
    r->copy_timing_s = tm ? atof(tm + 6) / 1e3 : -1;
    double s = r->copy_timing_s > 0 ? r->copy_timing_s : r->copy_s;
    r->copy_ops_s = (double)b->ingest_ops / s;
    r->ratio = r->ingest_ops_s / r->copy_ops_s;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM ops WHERE store_id = '%s'", STORE_INGEST);
    if (psql(b, "cloud_floor", sql, NULL, out, sizeof out) != 0)
        return 1;
    if (strtoull(out, NULL, 10) != b->ingest_ops)
        return fail("the floor's COPY stored %s rows, %zu expected", out, b->ingest_ops);
    /* the same rows in the ingest's batches: one COPY (one transaction)
     * per frame, one psql session, each COPY timed by psql */
    bench_proc migrate2 = {0};
    if (create_db(b, "cloud_floor_batches") != 0 ||
        cloud_start(b, &migrate2, "cloud_floor_batches", 0, "cloud-migrate.log", true) != 0)
        return 1;
    conninfo(b, "cloud_floor_batches", ci, sizeof ci);
    char *argv2[] = {b->psql, "-X", "-q", "-v",           "ON_ERROR_STOP=1",
                     "-d",    ci,   "-f", b->copy_script, NULL};
    if (run_io(argv2, NULL, out_path, log) != 0)
        return fail("psql -f %s failed", b->copy_script);
    FILE *f = fopen(out_path, "r");
    if (!f)
        return fail("%s: %s", out_path, strerror(errno));
    size_t timed = 0;
    double ms = 0;
    while (fgets(out, sizeof out, f))
        if (strncmp(out, "Time: ", 6) == 0) {
            ms += atof(out + 6);
            timed++;
        }
    fclose(f);
    if (timed != b->n_frames)
        return fail("psql timed %zu COPYs of %zu", timed, b->n_frames);
    r->batches_copy_s = ms / 1e3;
    r->batches_copy_ops_s = (double)b->ingest_ops / r->batches_copy_s;
    r->batches_ratio = r->ingest_ops_s / r->batches_copy_ops_s;
    if (psql(b, "cloud_floor_batches", sql, NULL, out, sizeof out) != 0)
        return 1;
    if (strtoull(out, NULL, 10) != b->ingest_ops)
        return fail("the floor's COPYs stored %s rows, %zu expected", out, b->ingest_ops);
    return 0;
}

/* ---- 3: the drain ---- */

/* Merges T2..Tn into T1 (export files, term_import): the store terminal
 * holding every origin. */
static int merge_into_first(char (*dirs)[BENCH_PATH_MAX], size_t n)
{
    kassa_err err;
    term *dst;
    if (term_open(dirs[0], &dst, &err) != KASSA_OK)
        return fail_kassa("term_open", &err);
    int rc = 0;
    kbuf file;
    kbuf_init(&file);
    for (size_t i = 1; rc == 0 && i < n; i++) {
        term *src;
        if (term_open(dirs[i], &src, &err) != KASSA_OK) {
            rc = fail_kassa("term_open", &err);
            break;
        }
        kbuf_reset(&file);
        if (term_export(src, NULL, &file, &err) != KASSA_OK)
            rc = fail_kassa("term_export", &err);
        term_close(src);
        term_import_report rep;
        if (rc == 0 && term_import(dst, file.data, file.len, &rep, &err) != KASSA_OK)
            rc = fail_kassa("term_import", &err);
        if (rc == 0 && rep.pending)
            rc = fail("term_import left %zu operations pending", rep.pending);
    }
    kbuf_free(&file);
    term_close(dst);
    return rc;
}

/* GET kassad's /api/v1/status: cloud.state and cloud.pending_upload_ops. */
static int kassad_cloud_status(bench_http *h, char *state, size_t size, long long *pending)
{
    if (bench_http_call(h, "GET", "/api/v1/status", NULL, 200) != 0)
        return fail("kassad: %s", h->err);
    json_t *o = json_loadb(h->body, h->body_len, 0, NULL);
    json_t *cloud = o ? json_object_get(o, "cloud") : NULL;
    const char *s = json_string_value(json_object_get(cloud, "state"));
    json_t *p = json_object_get(cloud, "pending_upload_ops");
    int rc = s && json_is_integer(p) ? 0 : fail("kassad status without cloud: %.300s", h->body);
    if (rc == 0) {
        snprintf(state, size, "%s", s);
        *pending = (long long)json_integer_value(p);
    }
    json_decref(o);
    return rc;
}

static int run_drain(bench *b, char (*dirs)[BENCH_PATH_MAX])
{
    results *r = &b->r;
    size_t total = 0;
    for (size_t i = 0; i < b->drain_vv.n; i++)
        total += b->drain_vv.e[i].seq;
    int cloud_port, api_port;
    char certs[BENCH_PATH_MAX], ini[BENCH_PATH_MAX], bin[BENCH_PATH_MAX], listen[64];
    bench_proc migrate = {0};
    if (create_db(b, "cloud_drain") != 0 ||
        cloud_start(b, &migrate, "cloud_drain", 0, "cloud-migrate.log", true) != 0 ||
        free_port(&cloud_port) != 0 || free_port(&api_port) != 0 ||
        issue(b, STORE_DRAIN, "T1", certs, sizeof certs) != 0 ||
        pathf(ini, sizeof ini, "%s/kassad.ini", b->dir) != 0 ||
        pathf(bin, sizeof bin, "%s/bin/kassad", b->build) != 0 ||
        pathf(b->kassad.log, sizeof b->kassad.log, "%s/kassad.log", b->dir) != 0)
        return 1;
    FILE *f = fopen(ini, "w");
    if (!f)
        return fail("%s: %s", ini, strerror(errno));
    fprintf(f,
            "[log]\nlevel = info\n[peer]\ncert_dir = %s\n[cloud]\nurl = 127.0.0.1:%d\n"
            "probe_min_ms = %d\nprobe_max_ms = %d\n",
            certs, cloud_port, PROBE_MIN_MS, PROBE_MAX_MS);
    if (fclose(f) != 0)
        return fail("%s: %s", ini, strerror(errno));
    snprintf(listen, sizeof listen, "127.0.0.1:%d", api_port);
    b->kassad.name = "kassad";
    char *argv[] = {bin, "--data", dirs[0], "--api-listen", listen, "--config", ini, NULL};
    if (bench_proc_start(&b->kassad, argv, b->root) != 0)
        return 1;
    struct sockaddr_in api = bench_loopback(api_port);
    if (bench_wait_healthy(&b->kassad, &api, "127.0.0.1", 60, true) != 0)
        return 1;
    bench_http h;
    bench_http_init(&h, "kassad", &api, "127.0.0.1");
    char state[32] = "";
    long long pending = -1;
    int rc = 0;
    /* until the uplink has found the cloud down, then long enough for its
     * probes to back off to probe_max_ms */
    for (uint64_t deadline = now_ns() + 30000000000ull; rc == 0;) {
        if ((rc = kassad_cloud_status(&h, state, sizeof state, &pending)) != 0)
            break;
        if (strcmp(state, "offline") == 0)
            break;
        if (now_ns() > deadline || bench_stopping())
            rc = fail("kassad's cloud state stayed \"%s\"", state);
        bench_sleep_ms(50);
    }
    if (rc == 0)
        bench_sleep_ms(PROBE_MIN_MS + 2 * PROBE_MAX_MS);
    if (rc == 0)
        rc = kassad_cloud_status(&h, state, sizeof state, &pending);
    r->backlog_pending = pending > 0 ? (size_t)pending : 0;
    if (rc == 0 && (size_t)pending != total)
        rc = fail("kassad says %lld operations are pending upload, %zu were made", pending, total);
    tls_client c;
    bool have_client = false;
    if (rc == 0) {
        rc = tls_init(&c, certs, cloud_port);
        have_client = true;
    }
    double kassad0 = bench_proc_cpu(&b->kassad);
    /* the cloud comes back */
    double t0_wall = wall_ms();
    uint64_t t0 = now_ns(), first = 0, done = 0;
    if (rc == 0)
        rc = cloud_start(b, &b->cloud, "cloud_drain", cloud_port, "cloud-drain.log", false);
    while (rc == 0 && !done) {
        if (bench_stopping())
            rc = fail("interrupted");
        else if (bench_proc_died(&b->cloud) || bench_proc_died(&b->kassad))
            rc = 1;
        else if (now_ns() - t0 > DRAIN_LIMIT_S * 1000000000ull)
            rc = fail("the cloud did not hold the backlog within %d s", DRAIN_LIMIT_S);
        if (rc != 0)
            break;
        if (tls_request(&c, "GET", "/v1/stores/" STORE_DRAIN "/vv", NULL, 0) == 0 &&
            c.status == 200) {
            long long sum = vv_sum(&c);
            uint64_t t = now_ns();
            if (sum > 0 && !first)
                first = t;
            if (sum >= (long long)total)
                done = t;
        }
        if (!done)
            bench_sleep_ms(DRAIN_POLL_MS);
    }
    double kassad1 = bench_proc_cpu(&b->kassad);
    /* kassad's own view: the answers' vectors committed */
    uint64_t zero = 0;
    for (uint64_t deadline = now_ns() + 30000000000ull; rc == 0 && !zero;) {
        if ((rc = kassad_cloud_status(&h, state, sizeof state, &pending)) != 0)
            break;
        if (pending == 0)
            zero = now_ns();
        else if (now_ns() > deadline)
            rc = fail("kassad still says %lld operations are pending upload", pending);
        else
            bench_sleep_ms(DRAIN_POLL_MS);
    }
    bench_http_free(&h);
    if (have_client)
        tls_free(&c);
    pid_t backend = rc == 0 ? pg_backend_of_cloud(b, "cloud_drain") : 0;
    if (rc == 0) {
        r->first_s = (double)(first - t0) / 1e9;
        r->done_s = (double)(done - t0) / 1e9;
        r->kassad_zero_s = (double)(zero - t0) / 1e9;
        r->drain_kassad_cpu_s = bench_cpu_delta(kassad0, kassad1);
        r->drain_cloud_cpu_s = bench_proc_cpu(&b->cloud);
        r->drain_pg_cpu_s = backend ? proc_cpu_s(backend) : -1;
        rc = check_held(b, "cloud_drain", STORE_DRAIN, &b->drain_vv);
        r->exactly_once = rc == 0;
    }
    if (bench_proc_stop(&b->kassad, 30) != 0 && rc == 0)
        rc = 1;
    if (bench_proc_stop(&b->cloud, 30) != 0 && rc == 0)
        rc = 1;
    if (rc == 0) {
        cloud_log l;
        read_cloud_log(b->cloud.log, &l);
        size_t nb = l.batches ? l.batches : 1;
        r->listen_s = l.started ? (l.start_ms - t0_wall) / 1e3 : -1;
        r->drain_batches = l.batches;
        r->drain_gap_ms = l.batches > 1 ? l.gap_ms / (double)(l.batches - 1) : 0;
        r->drain_server_s = l.total_us / 1e6;
        r->drain_decode_ms = l.decode_us / 1e3 / nb;
        r->drain_check_ms = l.check_us / 1e3 / nb;
        r->drain_store_ms = l.store_us / 1e3 / nb;
        r->drain_project_ms = l.project_us / 1e3 / nb;
        r->drain_commit_ms = l.commit_us / 1e3 / nb;
        r->drain_server_ms = l.total_us / 1e3 / nb;
        if (l.stored != total)
            rc = fail("kassa-cloud logged %zu operations stored, %zu expected", l.stored, total);
    }
    return rc;
}

/* ---- the report ---- */

static const char *mark(bool ok)
{
    return ok ? "[ok]" : "[below target]";
}

static void print_report(const bench *b, double load, double load_end)
{
    const results *r = &b->r;
    char g1[32], g2[32], g3[32];
    long cpus = cpus_usable();
    printf("kassa bench/cloud  (dir: %s, fs: %s, nproc %ld, load average %.2f at the start, %.2f at"
           " the end)\n",
           b->dir, b->fs_name, cpus, load, load_end);
    if (b->fs_is_ram)
        printf("warning: the working directory is in memory\n");
    printf("PostgreSQL %s: the throwaway test cluster of scripts/pg-cluster.sh, data in the working"
           " directory:\n  %s: no commit waits for a disk flush, on either side\n",
           b->pg_version, b->pg_settings);
    printf("made with the terminal core: %s ops for the ingest (%zu origins) in %.1f s; backlog %s"
           " ops (%d origins) in %.1f s, merged into one terminal in %.1f s\n",
           group((double)b->ingest_ops, g1, sizeof g1), b->opt.origins, r->make_ingest_s,
           group((double)b->opt.backlog, g2, sizeof g2), DRAIN_ORIGINS, r->make_backlog_s,
           r->merge_s);
    printf("\n1. ingest: %zu OpsBatch frames (<= %d ops, %s bytes in all), POST /v1/stores/%s/ops"
           " back to back on one TLS 1.3 connection (device certificate)\n",
           r->n_frames, WIRE_BATCH_MAX_OPS, group((double)r->frame_bytes, g1, sizeof g1),
           STORE_INGEST);
    printf("2. floor:  the same rows into ops of fresh databases migrated by kassa-cloud, through"
           " psql: one COPY (FORMAT binary); and one COPY per frame, each its own transaction\n\n");
    printf("%-40s %8s %8s %10s %12s\n", "", "ops", "time s", "ops/s", "ingest/this");
    printf("%-40s %8zu %8.3f %10s\n", "ingest (HTTPS, kassa-cloud, PostgreSQL)", b->ingest_ops,
           r->ingest_s, group(r->ingest_ops_s, g1, sizeof g1));
    printf("%-40s %8zu %8.3f %10s\n", "ingest, a new connection per batch", b->ingest_ops,
           r->re_s[0], group(r->re_ops_s[0], g1, sizeof g1));
    printf("%-40s %8zu %8.3f %10s\n", "  the same, no TCP_NODELAY (as kassad)", b->ingest_ops,
           r->re_s[1], group(r->re_ops_s[1], g1, sizeof g1));
    printf("%-40s %8zu %8.3f %10s %12.2f   (the psql process: %.3f s)\n",
           "floor: one COPY (psql \\timing)", b->ingest_ops,
           r->copy_timing_s > 0 ? r->copy_timing_s : r->copy_s, group(r->copy_ops_s, g1, sizeof g1),
           r->ratio, r->copy_s);
    char name[64];
    snprintf(name, sizeof name, "floor: %zu COPYs, one per frame", r->n_frames);
    printf("%-40s %8zu %8.3f %10s %12.2f\n", name, b->ingest_ops, r->batches_copy_s,
           group(r->batches_copy_ops_s, g1, sizeof g1), r->batches_ratio);
    printf("(every figure here with PostgreSQL's fsync=off, synchronous_commit=off: the test"
           " cluster)\n\n");
    bench_table t = {40, 6, 2};
    bench_table_head(&t);
    bench_table_row(&t, "ingest: one batch, POST to answer", &r->batch);
    bench_table_row(&t, "  a new connection per batch", &r->re_batch[0]);
    bench_table_row(&t, "  the same, no TCP_NODELAY", &r->re_batch[1]);
    bench_table_row(&t, "new connection, handshake, GET /healthz", &r->handshake);
    printf(
        "\nkassa-cloud per batch (its \"ingested\" log lines, %zu batches, mean ms): decode %.2f,"
        " check %.2f, store %.2f, project %.2f, commit %.2f; total %.2f\n",
        r->log_batches, r->decode_ms, r->check_ms, r->store_ms, r->project_ms, r->commit_ms,
        r->server_ms);
    printf("kassa-cloud's handler per batch, mean: %.2f ms (one connection), %.2f ms (a new one"
           " each), %.2f ms (a new one each, without TCP_NODELAY)\n",
           r->server_ms, r->re_server_ms[0], r->re_server_ms[1]);
    printf(
        "store side per batch (measured here, what kassad's uplink calls): term_ops_read %.2f ms,"
        " wire_encode_ops_fit %.2f ms\n",
        r->read_ms, r->encode_ms);
    printf("CPU during the ingest: kassa-cloud %.2f s, its PostgreSQL backend %.2f s, this client"
           " %.2f s (of %.3f s)\n",
           r->cloud_cpu_s, r->pg_cpu_s, r->client_cpu_s, r->ingest_s);
    printf("\n3. drain: kassad on store %s's terminal (%d origins x %s = %s ops pending upload,"
           " [cloud] probe_min_ms %d, probe_max_ms %d), kassa-cloud down, then started at t = 0; "
           "PostgreSQL fsync=off\n",
           STORE_DRAIN, DRAIN_ORIGINS, group((double)b->opt.backlog / DRAIN_ORIGINS, g1, sizeof g1),
           group((double)r->backlog_pending, g2, sizeof g2), PROBE_MIN_MS, PROBE_MAX_MS);
    printf("  kassa-cloud listening                        %7.2f s\n", r->listen_s);
    printf("  first batch held (vv polled every %2d ms)     %7.2f s\n", DRAIN_POLL_MS, r->first_s);
    double after_first = r->done_s - r->first_s > 0 ? r->done_s - r->first_s : 1;
    printf("  all %-9s held                         %7.2f s   (%s ops/s from t = 0; %s ops/s"
           " from the first batch)\n",
           group((double)b->opt.backlog, g1, sizeof g1), r->done_s,
           group((double)b->opt.backlog / r->done_s, g2, sizeof g2),
           group((double)b->opt.backlog / after_first, g3, sizeof g3));
    printf("  kassad pending_upload_ops = 0                %7.2f s\n", r->kassad_zero_s);
    printf("  %zu batches: kassa-cloud's handler %.2f ms each (decode %.2f, check %.2f, store %.2f,"
           " project %.2f, commit %.2f), then %.2f ms until the next one's handler starts"
           " (answer, kassad's ack commit, read, encode, new TLS connection); handlers: %.0f %% of"
           " the drain\n",
           r->drain_batches, r->drain_server_ms, r->drain_decode_ms, r->drain_check_ms,
           r->drain_store_ms, r->drain_project_ms, r->drain_commit_ms, r->drain_gap_ms,
           r->done_s > 0 ? 100.0 * r->drain_server_s / r->done_s : 0);
    printf("  CPU: kassad %.2f s, kassa-cloud %.2f s, its PostgreSQL backend %.2f s\n",
           r->drain_kassad_cpu_s, r->drain_cloud_cpu_s, r->drain_pg_cpu_s);
    printf("  exactly once: count(*) = count(DISTINCT (origin, seq)) = %s; each origin count ="
           " max(seq) = head = %s %s\n",
           group((double)b->opt.backlog, g1, sizeof g1),
           group((double)b->opt.backlog / DRAIN_ORIGINS, g2, sizeof g2),
           r->exactly_once ? "[ok]" : "[FAILED]");
    printf("\ntargets: ingest >= %s ops/s %s, ratio ingest/COPY >= %.1f %s, drain of %s <= %.0f s"
           " %s\n",
           group(TARGET_OPS_S, g1, sizeof g1), mark(r->ingest_ops_s >= TARGET_OPS_S), TARGET_RATIO,
           mark(r->ratio >= TARGET_RATIO), group((double)b->opt.backlog, g2, sizeof g2),
           TARGET_DRAIN_S, mark(r->done_s <= TARGET_DRAIN_S));
}

static int print_json(const bench *b, double load)
{
    const results *r = &b->r;
    json_t *o = json_object();
    if (!o)
        return fail("out of memory");
    struct {
        const char *key;
        double v;
    } nums[] = {
        {"load", load},
        {"ops", (double)b->ingest_ops},
        {"backlog", (double)b->opt.backlog},
        {"ingest_s", r->ingest_s},
        {"ingest_ops_s", r->ingest_ops_s},
        {"copy_ops_s", r->copy_ops_s},
        {"ratio", r->ratio},
        {"batches_copy_ops_s", r->batches_copy_ops_s},
        {"reconnect_ops_s", r->re_ops_s[0]},
        {"reconnect_nagle_ops_s", r->re_ops_s[1]},
        {"batches_ratio", r->batches_ratio},
        {"server_batch_ms", r->server_ms},
        {"store_ms", r->store_ms},
        {"project_ms", r->project_ms},
        {"read_ms", r->read_ms},
        {"encode_ms", r->encode_ms},
        {"drain_listen_s", r->listen_s},
        {"drain_first_s", r->first_s},
        {"drain_done_s", r->done_s},
        {"drain_kassad_zero_s", r->kassad_zero_s},
        {"drain_server_batch_ms", r->drain_server_ms},
        {"drain_gap_ms", r->drain_gap_ms},
        {"drain_kassad_cpu_s", r->drain_kassad_cpu_s},
        {"drain_cloud_cpu_s", r->drain_cloud_cpu_s},
        {"drain_pg_cpu_s", r->drain_pg_cpu_s},
    };
    json_object_set_new(o, "bench", json_string("cloud"));
    json_object_set_new(o, "fs", json_string(b->fs_name));
    json_object_set_new(o, "cpus", json_integer(cpus_usable()));
    json_object_set_new(o, "pg_version", json_string(b->pg_version));
    json_object_set_new(o, "pg_settings", json_string(b->pg_settings));
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        json_object_set_new(o, nums[i].key, json_real(nums[i].v));
    json_object_set_new(o, "batch", bench_stats_json(&r->batch));
    json_object_set_new(o, "handshake", bench_stats_json(&r->handshake));
    json_object_set_new(o, "reconnect_batch", bench_stats_json(&r->re_batch[0]));
    json_object_set_new(o, "reconnect_nagle_batch", bench_stats_json(&r->re_batch[1]));
    json_object_set_new(o, "exactly_once", json_boolean(r->exactly_once));
    return bench_print_json(o);
}

/* ---- the run ---- */

/* The source tree: --root, else the build directory's parent, else the
 * CMake cache's source directory, else the current directory. */
static int find_root(bench *b)
{
    char probe[BENCH_PATH_MAX];
    if (b->opt.root)
        return pathf(b->root, sizeof b->root, "%s", b->opt.root);
    char parent[BENCH_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", b->build);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    if (pathf(probe, sizeof probe, "%s/scripts/pg-cluster.sh", parent) == 0 && bench_is_file(probe))
        return pathf(b->root, sizeof b->root, "%s", parent);
    if (pathf(probe, sizeof probe, "%s/CMakeCache.txt", b->build) == 0) {
        FILE *f = fopen(probe, "r");
        char line[BENCH_PATH_MAX + 64];
        while (f && fgets(line, sizeof line, f)) {
            static const char KEY[] = "CMAKE_HOME_DIRECTORY:INTERNAL=";
            if (strncmp(line, KEY, sizeof KEY - 1) == 0) {
                line[strcspn(line, "\n")] = '\0';
                snprintf(b->root, sizeof b->root, "%.4000s", line + sizeof KEY - 1);
            }
        }
        if (f)
            fclose(f);
        if (b->root[0])
            return 0;
    }
    if (!getcwd(b->root, sizeof b->root))
        return fail("getcwd: %s", strerror(errno));
    return 0;
}

static int run(bench *b)
{
    double load = bench_load_average();
    if (bench_build_dir(b->build, sizeof b->build, "") != 0 || find_root(b) != 0)
        return 1;
    char probe[BENCH_PATH_MAX];
    if (pathf(probe, sizeof probe, "%s/scripts/pg-cluster.sh", b->root) != 0)
        return 1;
    if (!bench_is_file(probe))
        return fail("no %s: pass --root (the source tree)", probe);
    snprintf(b->psql, sizeof b->psql, "/usr/lib/postgresql/15/bin/psql");
    if (!bench_is_file(b->psql))
        snprintf(b->psql, sizeof b->psql, "/usr/bin/psql");
    if (!bench_is_file(b->psql))
        return fail("no psql (install postgresql-client-15)");
    if (bench_make_workdir(b->opt.parent_dir, b->dir, sizeof b->dir, &b->dir_created) != 0 ||
        bench_describe_fs(b->dir, &b->fs_name, &b->fs_is_ram) != 0)
        return 1;
    /* the cluster's directory lies below it: the postgres user must pass */
    if (chmod(b->dir, 0711) != 0)
        return fail("chmod %s: %s", b->dir, strerror(errno));
    b->items = bench_catalog(CATALOG_SKUS, 1000000);
    if (!b->items)
        return fail("out of memory");
    if (make_pki(b) != 0 || pg_start(b) != 0)
        return 1;

    /* the operations */
    size_t k = b->opt.origins, per[32], per_drain[DRAIN_ORIGINS];
    char(*dirs)[BENCH_PATH_MAX] = calloc(32, BENCH_PATH_MAX);
    char(*drain_dirs)[BENCH_PATH_MAX] = calloc(DRAIN_ORIGINS, BENCH_PATH_MAX);
    if (!dirs || !drain_dirs) {
        free(dirs);
        free(drain_dirs);
        return fail("out of memory");
    }
    int rc = 0;
    split(b->opt.ops, k, per);
    split(b->opt.backlog, DRAIN_ORIGINS, per_drain);
    uint64_t t = now_ns();
    rc = make_store(b, "ingest", STORE_INGEST, k, per, dirs, &b->ingest_vv);
    b->r.make_ingest_s = (double)(now_ns() - t) / 1e9;
    if (rc == 0)
        rc = encode_ingest(b, dirs, k);
    if (rc == 0 && b->ingest_ops != b->opt.ops)
        rc = fail("%zu operations framed, %zu made", b->ingest_ops, b->opt.ops);
    t = now_ns();
    if (rc == 0)
        rc = make_store(b, "backlog", STORE_DRAIN, DRAIN_ORIGINS, per_drain, drain_dirs,
                        &b->drain_vv);
    b->r.make_backlog_s = (double)(now_ns() - t) / 1e9;
    t = now_ns();
    if (rc == 0)
        rc = merge_into_first(drain_dirs, DRAIN_ORIGINS);
    b->r.merge_s = (double)(now_ns() - t) / 1e9;

    if (rc == 0)
        rc = run_ingest(b);
    if (rc == 0)
        rc = run_ingest_reconnect(b, 0);
    if (rc == 0)
        rc = run_ingest_reconnect(b, 1);
    if (rc == 0)
        rc = run_floor(b);
    if (rc == 0)
        rc = run_drain(b, drain_dirs);
    free(dirs);
    free(drain_dirs);
    if (rc != 0)
        return rc;
    if (b->opt.json)
        return print_json(b, load);
    print_report(b, load, bench_load_average());
    if (fflush(stdout) != 0)
        return fail("writing the results: %s", strerror(errno));
    return 0;
}

int main(int argc, char **argv)
{
    static bench b;
    b.opt = (options){.ops = 200000, .backlog = 720000, .origins = 4};
    if (bench_parse_options(argc, argv, &b.opt.json, &b.opt.keep, usage, value_option, &b.opt) != 0)
        return 1;
    bench_catch_signals();
    oplog_vv_init(&b.ingest_vv);
    oplog_vv_init(&b.drain_vv);
    int rc = run(&b);
    /* every process started here, by its pid; the cluster by its script */
    if (bench_proc_stop(&b.kassad, 30) != 0)
        rc = 1;
    if (bench_proc_stop(&b.cloud, 30) != 0)
        rc = 1;
    if (pg_stop(&b) != 0)
        rc = 1;
    for (size_t i = 0; i < b.n_frames; i++)
        free(b.frames[i].data);
    free(b.frames);
    free(b.items);
    oplog_vv_free(&b.ingest_vv);
    oplog_vv_free(&b.drain_vv);
    if (bench_remove_dir(b.dir, b.dir_created, b.opt.keep) != 0)
        rc = 1;
    return rc;
}
