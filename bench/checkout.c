/*
 * bench/checkout: checkouts through kassad's HTTP API, end to end. One run:
 *
 *  1. sets up a terminal in a fresh working directory with the kassa CLI
 *     (init, the demo catalog, stock, one cashier per client) and starts
 *     build/bin/kassad on a free port (or, with --url, uses a running one);
 *  2. logs in C clients (--clients), each its own cashier session on its
 *     own keep-alive connection (plain sockets, HTTP/1.1, one thread each);
 *  3. for --seconds after a --warmup, each client runs checkouts back to
 *     back: open a cart, add 3 lines by barcode, pay cash. It times each
 *     whole checkout (5 requests) and each request;
 *  4. checks that the terminal holds exactly as many new sales as the
 *     clients were answered 201 for;
 *  5. runs wrk against GET /healthz of the same kassad with as many
 *     connections: the HTTP floor of the stack, for comparison.
 *
 * A benchmark, not a test: the targets (>= 2000 checkouts/s, checkout p99
 * <= 10 ms) are printed, not asserted. The exit status is 1 only when
 * something fails: a request answered with an unexpected status, the
 * daemon, the CLI, wrk's run or a system call. docs/BENCHMARKS.md explains
 * the figures and records the last measurements.
 */
#include <jansson.h>

#define BENCH_NAME "checkout"
#include "benchutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#define TARGET_CHECKOUTS_PER_S 2000.0
#define TARGET_P99_MS 10.0

#define CLIENTS_MAX 1024
#define LINES_PER_CHECKOUT 3
#define REQS_PER_CHECKOUT (2 + LINES_PER_CHECKOUT)
#define STOCK_RECEIVED 1000000 /* units per SKU sold, before the run */
#define IO_TIMEOUT_S 30
#define RBUF_MIN 65536
#define BODY_MAX (16u * 1024 * 1024)

/* Items with a barcode in data/demo/catalog.csv, one of each per checkout. */
static const struct {
    const char *sku;
    const char *barcode;
} ITEMS[LINES_PER_CHECKOUT] = {
    {"COF-250", "4006381333931"},
    {"MLK-1L", "4011800564125"},
    {"BAG-CL", "4099999000024"},
};

/* Request kinds timed separately. */
enum { REQ_CART, REQ_LINE, REQ_PAY, REQ_KINDS };
static const char *const REQ_NAMES[REQ_KINDS] = {
    "POST /api/v1/carts",
    "POST /api/v1/carts/{id}/lines",
    "POST /api/v1/carts/{id}/checkout",
};

typedef struct options {
    size_t clients;
    size_t seconds;
    size_t warmup;
    size_t wrk_seconds;  /* 0: no wrk */
    const char *url;     /* NULL: start our own kassad */
    const char *cashier; /* --url: who the clients log in as */
    const char *pin;
    const char *parent_dir; /* NULL: the build directory */
    const char *root;       /* NULL: found from the build directory */
    bool json;
    bool keep;
} options;

typedef struct samples {
    uint64_t *v; /* nanoseconds */
    size_t n, cap;
} samples;

typedef struct stats {
    size_t n;
    double p50_ms, p99_ms, max_ms, mean_ms;
} stats;

typedef struct client {
    size_t idx;
    pthread_t thread;
    char cashier[32];
    char pin[16];
    int fd;
    char *rbuf; /* bytes read, not yet consumed */
    size_t rlen, rcap;
    char *body; /* the last response body, NUL-terminated */
    size_t body_len, body_cap;
    int status;
    bool close_after;
    char token[160];
    samples checkout;
    samples req[REQ_KINDS];
    size_t checkouts_ok; /* answered 201, warm-up and edges included */
    char err[768];
} client;

typedef struct wrk_result {
    bool ran;
    double rps;
    double p50_ms, p99_ms, avg_ms, max_ms;
    long non_2xx;
    long socket_errors;
    size_t threads;
} wrk_result;

typedef struct bench {
    options opt;
    char build[BENCH_PATH_MAX];
    char root[BENCH_PATH_MAX];
    char dir[BENCH_PATH_MAX];
    char data[BENCH_PATH_MAX + 32];
    char cli_log[BENCH_PATH_MAX + 32];
    char kassad_log[BENCH_PATH_MAX + 32];
    bool dir_created;
    const char *fs_name;
    bool fs_is_ram;
    pid_t kassad;
    char host[256];
    int port;
    struct sockaddr_in addr;
    client *clients;
    uint64_t t0_ns, t1_ns; /* the timed window */
    int64_t sales_before, sales_after;
    double cpu_kassad, cpu_clients; /* CPU seconds used in the timed window; < 0: unknown */
    double loadavg;                 /* 1-minute load average before the run; < 0: unknown */
    wrk_result wrk;
} bench;

static bench B;
static atomic_int g_stop;
static atomic_int g_ready; /* clients logged in (or failed to) */
static atomic_int g_go;    /* the window is set: start */

/* ---- small helpers ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int samples_push(samples *s, uint64_t v)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        uint64_t *p = realloc(s->v, cap * sizeof *p);
        if (!p)
            return -1;
        s->v = p;
        s->cap = cap;
    }
    s->v[s->n++] = v;
    return 0;
}

/* Nearest-rank percentile (p in whole percent) of sorted values. */
static double pct_ms(const uint64_t *v, size_t n, unsigned p)
{
    if (n == 0)
        return 0;
    size_t rank = (n * p + 99) / 100; /* ceil(p / 100 * n) */
    if (rank < 1)
        rank = 1;
    return (double)v[rank - 1] / 1e6;
}

/* Merges one kind of samples of every client, sorted, into stats. */
/* Pools the samples of every client: the whole checkouts (checkout) and/or
 * the request kinds whose bit is set in kinds; sorts, summarises. */
static int merge_samples(const bench *b, bool checkout, unsigned kinds, stats *st)
{
    size_t n = 0;
    for (size_t i = 0; i < b->opt.clients; i++) {
        n += checkout ? b->clients[i].checkout.n : 0;
        for (int k = 0; k < REQ_KINDS; k++)
            n += kinds & (1u << k) ? b->clients[i].req[k].n : 0;
    }
    memset(st, 0, sizeof *st);
    if (n == 0)
        return 0;
    uint64_t *all = malloc(n * sizeof *all);
    if (!all)
        return fail("out of memory");
    size_t j = 0;
    for (size_t i = 0; i < b->opt.clients; i++) {
        for (int k = -1; k < REQ_KINDS; k++) {
            const samples *s = k < 0 ? &b->clients[i].checkout : &b->clients[i].req[k];
            if (k < 0 ? !checkout : !(kinds & (1u << k)))
                continue;
            memcpy(all + j, s->v, s->n * sizeof *all);
            j += s->n;
        }
    }
    qsort(all, n, sizeof *all, bench_cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)all[i];
    st->n = n;
    st->p50_ms = pct_ms(all, n, 50);
    st->p99_ms = pct_ms(all, n, 99);
    st->max_ms = (double)all[n - 1] / 1e6;
    st->mean_ms = sum / (double)n / 1e6;
    free(all);
    return 0;
}

/* kind < 0: whole checkouts; else one request kind. */
static int merge_stats(const bench *b, int kind, stats *st)
{
    return kind < 0 ? merge_samples(b, true, 0, st) : merge_samples(b, false, 1u << kind, st);
}

static int merge_all_requests(const bench *b, stats *st)
{
    return merge_samples(b, false, (1u << REQ_KINDS) - 1, st);
}

/* ---- options ---- */

static void usage(FILE *f)
{
    fputs("usage: checkout [--clients C] [--seconds S] [--warmup W] [--wrk-seconds N]\n"
          "                [--dir DIR] [--root DIR] [--url http://HOST:PORT [--cashier ID --pin "
          "PIN]]\n"
          "                [--json] [--keep]\n"
          "  --clients C       concurrent clients, each its own cashier session and\n"
          "                    keep-alive connection (8)\n"
          "  --seconds S       timed checkouts, after the warm-up (10)\n"
          "  --warmup W        untimed checkouts first, seconds (1)\n"
          "  --wrk-seconds N   wrk on GET /healthz afterwards, same connections; 0: none (3)\n"
          "  --dir DIR         parent of the fresh working directory holding the terminal\n"
          "                    (default: the build directory; its disk is what a sale waits on)\n"
          "  --root DIR        source tree: demo catalog and kassad's web root (default: the\n"
          "                    build directory's parent, else the current directory)\n"
          "  --url URL         use the kassad running at URL instead of starting one; the\n"
          "                    clients all log in as --cashier/--pin (ann/1111, as `make demo`),\n"
          "                    and its catalog must have the demo barcodes\n" BENCH_USAGE_COMMON,
          f);
}

/* One option taking a value (bench_parse_options). */
static int value_option(const char *a, const char *v, void *ctx)
{
    options *o = ctx;
    int rc = 0;
    if (strcmp(a, "--clients") == 0)
        rc = parse_size(a, v, 1, CLIENTS_MAX, &o->clients);
    else if (strcmp(a, "--seconds") == 0)
        rc = parse_size(a, v, 1, 3600, &o->seconds);
    else if (strcmp(a, "--warmup") == 0)
        rc = parse_size(a, v, 0, 600, &o->warmup);
    else if (strcmp(a, "--wrk-seconds") == 0)
        rc = parse_size(a, v, 0, 600, &o->wrk_seconds);
    else if (strcmp(a, "--dir") == 0)
        o->parent_dir = v;
    else if (strcmp(a, "--root") == 0)
        o->root = v;
    else if (strcmp(a, "--url") == 0)
        o->url = v;
    else if (strcmp(a, "--cashier") == 0)
        o->cashier = v;
    else if (strcmp(a, "--pin") == 0)
        o->pin = v;
    else
        return -1;
    return rc;
}

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.clients = 8,
                   .seconds = 10,
                   .warmup = 1,
                   .wrk_seconds = 3,
                   .cashier = "ann",
                   .pin = "1111"};
    if (bench_parse_options(argc, argv, &o->json, &o->keep, usage, value_option, o) != 0)
        return 1;
    if (strlen(o->cashier) >= sizeof B.clients->cashier || strlen(o->pin) >= sizeof B.clients->pin)
        return fail("--cashier or --pin too long");
    return 0;
}

/* ---- paths, files, processes ---- */

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int find_paths(bench *b)
{
    if (bench_build_dir(b->build, sizeof b->build, "") != 0)
        return 1;
    char probe[BENCH_PATH_MAX + 64];
    if (b->opt.root) {
        snprintf(b->root, sizeof b->root, "%s", b->opt.root);
    } else {
        char parent[BENCH_PATH_MAX];
        snprintf(parent, sizeof parent, "%s", b->build);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent)
            *slash = '\0';
        snprintf(probe, sizeof probe, "%s/data/demo/catalog.csv", parent);
        if (is_file(probe)) {
            snprintf(b->root, sizeof b->root, "%s", parent);
        } else if (getcwd(b->root, sizeof b->root) == NULL) {
            return fail("getcwd: %s", strerror(errno));
        }
    }
    snprintf(probe, sizeof probe, "%s/data/demo/catalog.csv", b->root);
    if (!b->opt.url && !is_file(probe))
        return fail("no %s: pass --root (the source tree)", probe);
    return 0;
}

static int make_dir(bench *b)
{
    const char *parent = b->opt.parent_dir ? b->opt.parent_dir : b->build;
    if ((size_t)snprintf(b->dir, sizeof b->dir, "%s/bench-checkout-XXXXXX", parent) >=
        sizeof b->dir)
        return fail("working directory path too long");
    if (!mkdtemp(b->dir))
        return fail("mkdtemp %s: %s", b->dir, strerror(errno));
    b->dir_created = true;
    snprintf(b->data, sizeof b->data, "%s/term", b->dir);
    snprintf(b->cli_log, sizeof b->cli_log, "%s/cli.log", b->dir);
    snprintf(b->kassad_log, sizeof b->kassad_log, "%s/kassad.log", b->dir);
    return bench_describe_fs(b->dir, &b->fs_name, &b->fs_is_ram);
}

/* Runs the kassa CLI on the bench terminal; any failure is fatal. */
static int kassa(bench *b, ...)
{
    char kassa_bin[BENCH_PATH_MAX + 16];
    snprintf(kassa_bin, sizeof kassa_bin, "%s/bin/kassa", b->build);
    char *argv[16] = {kassa_bin, "--data", b->data};
    int n = 3;
    va_list ap;
    va_start(ap, b);
    for (char *a; n < 15 && (a = va_arg(ap, char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    if (bench_run(argv, b->root, b->cli_log) != 0)
        return fail("kassa %s %s failed", argv[3], n > 4 ? argv[4] : "");
    return 0;
}

/* ---- HTTP/1.1 client: blocking, keep-alive, one connection per client ---- */

static int conn_open(client *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(c->err, sizeof c->err, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    struct timeval tv = {IO_TIMEOUT_S, 0};
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(c->fd, (const struct sockaddr *)&B.addr, sizeof B.addr) != 0) {
        snprintf(c->err, sizeof c->err, "connect %s:%d: %s", B.host, B.port, strerror(errno));
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->rlen = 0;
    c->rbuf[0] = '\0';
    return 0;
}

static void conn_close(client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->rlen = 0;
    if (c->rbuf)
        c->rbuf[0] = '\0';
}

static int send_all(client *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(c->err, sizeof c->err, "send: %s", w < 0 ? strerror(errno) : "closed");
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads more bytes into rbuf; 0 on EOF, -1 on error. */
static ssize_t fill(client *c)
{
    if (c->rcap - c->rlen < 4096) {
        size_t cap = c->rcap * 2;
        if (cap > BODY_MAX * 2) {
            snprintf(c->err, sizeof c->err, "response too large");
            return -1;
        }
        char *p = realloc(c->rbuf, cap);
        if (!p) {
            snprintf(c->err, sizeof c->err, "out of memory");
            return -1;
        }
        c->rbuf = p;
        c->rcap = cap;
    }
    for (;;) {
        /* One byte kept for a NUL after the data: the header parsing below
         * uses string functions. */
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(c->err, sizeof c->err, "recv: %s", strerror(errno));
            return -1;
        }
        c->rlen += (size_t)r;
        c->rbuf[c->rlen] = '\0';
        return r;
    }
}

static int body_put(client *c, const char *p, size_t n)
{
    if (c->body_len + n + 1 > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 4096;
        while (cap < c->body_len + n + 1)
            cap *= 2;
        if (cap > BODY_MAX) {
            snprintf(c->err, sizeof c->err, "response body too large");
            return -1;
        }
        char *q = realloc(c->body, cap);
        if (!q) {
            snprintf(c->err, sizeof c->err, "out of memory");
            return -1;
        }
        c->body = q;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, p, n);
    c->body_len += n;
    c->body[c->body_len] = '\0';
    return 0;
}

/* Drops the first n bytes of rbuf. */
static void consume(client *c, size_t n)
{
    memmove(c->rbuf, c->rbuf + n, c->rlen - n);
    c->rlen -= n;
    c->rbuf[c->rlen] = '\0';
}

static bool header_is(const char *line, size_t len, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return false;
    const char *v = line + n + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    *value = v;
    return true;
}

/* Reads one response: status, headers, body (Content-Length or chunked). */
static int read_response(client *c)
{
    char *end;
    while (!(end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4))) {
        ssize_t r = fill(c);
        if (r <= 0) {
            if (r == 0)
                snprintf(c->err, sizeof c->err, "connection closed before a response");
            return -1;
        }
    }
    size_t head_len = (size_t)(end - c->rbuf) + 4;
    int minor;
    if (sscanf(c->rbuf, "HTTP/1.%d %d", &minor, &c->status) != 2) {
        snprintf(c->err, sizeof c->err, "bad status line");
        return -1;
    }
    long long content_length = -1;
    bool chunked = false;
    c->close_after = minor == 0;
    for (char *line = strstr(c->rbuf, "\r\n") + 2; line < end;) {
        char *eol = strstr(line, "\r\n");
        size_t len = (size_t)(eol - line);
        const char *v;
        if (header_is(line, len, "Content-Length", &v))
            content_length = strtoll(v, NULL, 10);
        else if (header_is(line, len, "Transfer-Encoding", &v))
            chunked = strncasecmp(v, "chunked", 7) == 0;
        else if (header_is(line, len, "Connection", &v))
            c->close_after = strncasecmp(v, "close", 5) == 0;
        line = eol + 2;
    }
    consume(c, head_len);
    c->body_len = 0;
    if (body_put(c, "", 0) != 0)
        return -1;
    if (c->status == 204 || c->status == 304 || (c->status >= 100 && c->status < 200))
        return 0;
    if (chunked) {
        for (;;) {
            char *eol;
            while (!(eol = memmem(c->rbuf, c->rlen, "\r\n", 2)))
                if (fill(c) <= 0)
                    goto truncated;
            unsigned long long size = strtoull(c->rbuf, NULL, 16);
            size_t line = (size_t)(eol - c->rbuf) + 2;
            if (size > BODY_MAX) {
                snprintf(c->err, sizeof c->err, "chunk too large");
                return -1;
            }
            while (c->rlen < line + size + 2)
                if (fill(c) <= 0)
                    goto truncated;
            if (body_put(c, c->rbuf + line, (size_t)size) != 0)
                return -1;
            consume(c, line + (size_t)size + 2);
            if (size == 0)
                return 0; /* no trailers expected from kassad */
        }
    }
    if (content_length >= 0) {
        if ((unsigned long long)content_length > BODY_MAX) {
            snprintf(c->err, sizeof c->err, "body too large");
            return -1;
        }
        while (c->rlen < (size_t)content_length)
            if (fill(c) <= 0)
                goto truncated;
        if (body_put(c, c->rbuf, (size_t)content_length) != 0)
            return -1;
        consume(c, (size_t)content_length);
        return 0;
    }
    /* Neither: the body runs to the end of the connection. */
    for (;;) {
        ssize_t r = fill(c);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
    }
    c->close_after = true;
    if (body_put(c, c->rbuf, c->rlen) != 0)
        return -1;
    c->rlen = 0;
    c->rbuf[0] = '\0';
    return 0;
truncated:
    if (!c->err[0])
        snprintf(c->err, sizeof c->err, "connection closed inside a response");
    return -1;
}

/* One request and its response (status in c->status, body in c->body).
 * A connection the server closed between requests is reopened; a request
 * whose response did not arrive is an error (it is not retried: it may
 * have been applied). */
static int http(client *c, const char *method, const char *path, const char *json_body)
{
    char req[2048];
    size_t n = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int m_ = snprintf(req + n, sizeof req - n, __VA_ARGS__);                                   \
        if (m_ < 0 || (size_t)m_ >= sizeof req - n) {                                              \
            snprintf(c->err, sizeof c->err, "%s %s: request too long", method, path);              \
            return -1;                                                                             \
        }                                                                                          \
        n += (size_t)m_;                                                                           \
    } while (0)
    PUT("%s %s HTTP/1.1\r\nHost: %s:%d\r\n", method, path, B.host, B.port);
    if (c->token[0])
        PUT("Authorization: Bearer %s\r\n", c->token);
    if (json_body)
        PUT("Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(json_body),
            json_body);
    else
        PUT("\r\n");
#undef PUT
    if (c->fd < 0 && conn_open(c) != 0)
        return -1;
    if (send_all(c, req, n) != 0 || read_response(c) != 0) {
        char what[sizeof c->err];
        snprintf(what, sizeof what, "%s", c->err);
        snprintf(c->err, sizeof c->err, "%.8s %.200s: %.500s", method, path, what);
        conn_close(c);
        return -1;
    }
    if (c->close_after)
        conn_close(c);
    return 0;
}

/* The request must have answered `want`; else the error names it. */
static int expect(client *c, int want, const char *method, const char *path)
{
    if (c->status == want)
        return 0;
    snprintf(c->err, sizeof c->err, "%s %s: expected %d, got %d: %.400s", method, path, want,
             c->status, c->body ? c->body : "");
    return -1;
}

/* A JSON field of the last body: string copied to out, or integer. */
static int body_field(client *c, const char *key, char *out, size_t size, int64_t *num)
{
    json_error_t jerr;
    json_t *root = json_loadb(c->body, c->body_len, 0, &jerr);
    json_t *v = root ? json_object_get(root, key) : NULL;
    int rc = -1;
    if (out && json_is_string(v) && strlen(json_string_value(v)) < size) {
        snprintf(out, size, "%s", json_string_value(v));
        rc = 0;
    } else if (num && json_is_integer(v)) {
        *num = (int64_t)json_integer_value(v);
        rc = 0;
    }
    if (rc != 0)
        snprintf(c->err, sizeof c->err, "no usable \"%s\" in %.300s", key, c->body);
    json_decref(root);
    return rc;
}

static int login(client *c)
{
    char body[256];
    snprintf(body, sizeof body, "{\"cashier_id\":\"%s\",\"pin\":\"%s\"}", c->cashier, c->pin);
    c->token[0] = '\0';
    if (http(c, "POST", "/api/v1/sessions", body) != 0 ||
        expect(c, 201, "POST", "/api/v1/sessions") != 0)
        return -1;
    return body_field(c, "token", c->token, sizeof c->token, NULL);
}

/* One checkout; t[] gets each request's time (ns). */
static int checkout(client *c, uint64_t t[REQS_PER_CHECKOUT], int64_t *total)
{
    char cart[96], path[192], body[128];
    uint64_t s = now_ns();
    if (http(c, "POST", "/api/v1/carts", NULL) != 0 || expect(c, 201, "POST", "/api/v1/carts") != 0)
        return -1;
    t[0] = now_ns() - s;
    if (body_field(c, "cart_id", cart, sizeof cart, NULL) != 0)
        return -1;
    snprintf(path, sizeof path, "/api/v1/carts/%s/lines", cart);
    for (int i = 0; i < LINES_PER_CHECKOUT; i++) {
        snprintf(body, sizeof body, "{\"barcode\":\"%s\"}", ITEMS[i].barcode);
        s = now_ns();
        if (http(c, "POST", path, body) != 0 || expect(c, 200, "POST", path) != 0)
            return -1;
        t[1 + i] = now_ns() - s;
    }
    if (body_field(c, "total_minor", NULL, 0, total) != 0)
        return -1;
    snprintf(path, sizeof path, "/api/v1/carts/%s/checkout", cart);
    snprintf(body, sizeof body, "{\"tendered_minor\":%" PRId64 "}", *total);
    s = now_ns();
    if (http(c, "POST", path, body) != 0 || expect(c, 201, "POST", path) != 0)
        return -1;
    t[REQS_PER_CHECKOUT - 1] = now_ns() - s;
    int64_t paid;
    if (body_field(c, "total_minor", NULL, 0, &paid) != 0)
        return -1;
    if (paid != *total) {
        snprintf(c->err, sizeof c->err, "sale total %" PRId64 " differs from the cart's %" PRId64,
                 paid, *total);
        return -1;
    }
    return 0;
}

static void *client_main(void *arg)
{
    client *c = arg;
    c->fd = -1;
    int ok = login(c) == 0;
    if (!ok)
        atomic_store(&g_stop, 1);
    atomic_fetch_add(&g_ready, 1);
    while (!atomic_load(&g_go))
        sleep_ms(1);
    while (ok && !atomic_load(&g_stop)) {
        uint64_t t[REQS_PER_CHECKOUT];
        int64_t total;
        uint64_t s = now_ns();
        if (s >= B.t1_ns)
            break;
        if (checkout(c, t, &total) != 0) {
            atomic_store(&g_stop, 1);
            ok = 0;
            break;
        }
        uint64_t e = now_ns();
        c->checkouts_ok++;
        if (s >= B.t0_ns && e <= B.t1_ns) {
            int oom = samples_push(&c->checkout, e - s);
            oom |= samples_push(&c->req[REQ_CART], t[0]);
            for (int i = 0; i < LINES_PER_CHECKOUT; i++)
                oom |= samples_push(&c->req[REQ_LINE], t[1 + i]);
            oom |= samples_push(&c->req[REQ_PAY], t[REQS_PER_CHECKOUT - 1]);
            if (oom) {
                snprintf(c->err, sizeof c->err, "out of memory");
                atomic_store(&g_stop, 1);
                break;
            }
        }
    }
    conn_close(c);
    return NULL;
}

/* ---- the terminal ---- */

static int parse_url(bench *b, const char *url)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    const char *colon = strrchr(p, ':');
    if (!colon || colon == p || (size_t)(colon - p) >= sizeof b->host)
        return fail("--url %s: expected http://HOST:PORT", url);
    memcpy(b->host, p, (size_t)(colon - p));
    b->host[colon - p] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (port < 1 || port > 65535 || (*end && strcmp(end, "/") != 0))
        return fail("--url %s: expected http://HOST:PORT", url);
    b->port = (int)port;
    memset(&b->addr, 0, sizeof b->addr);
    b->addr.sin_family = AF_INET;
    b->addr.sin_port = htons((uint16_t)port);
    if (strcmp(b->host, "localhost") == 0)
        b->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, b->host, &b->addr.sin_addr) != 1)
        return fail("--url %s: the host must be an IPv4 address or localhost", url);
    return 0;
}

/* GET on a connection of its own; status and body in c. */
static int get_once(const char *path, client *c)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->rcap = RBUF_MIN;
    c->rbuf = malloc(c->rcap);
    if (!c->rbuf)
        return -1;
    int rc = http(c, "GET", path, NULL);
    conn_close(c);
    return rc;
}

static void client_free(client *c)
{
    free(c->rbuf);
    free(c->body);
    free(c->checkout.v);
    for (int k = 0; k < REQ_KINDS; k++)
        free(c->req[k].v);
}

static int terminal_sales(int64_t *sales)
{
    client c;
    int rc = get_once("/api/v1/status", &c);
    if (rc == 0 && expect(&c, 200, "GET", "/api/v1/status") == 0)
        rc = body_field(&c, "sales", NULL, 0, sales);
    else
        rc = -1;
    if (rc != 0)
        fail("%s", c.err);
    client_free(&c);
    return rc;
}

/* Polls GET /healthz until 200: up to 15 s for our kassad, 2 s for --url. */
static int wait_healthy(bench *b)
{
    unsigned limit_s = b->opt.url ? 2 : 15;
    uint64_t deadline = now_ns() + limit_s * 1000000000ull;
    for (;;) {
        int st;
        if (b->kassad > 0 && waitpid(b->kassad, &st, WNOHANG) == b->kassad) {
            b->kassad = 0;
            print_tail(b->kassad_log);
            return fail("kassad exited during start");
        }
        client c;
        int rc = get_once("/healthz", &c);
        int status = c.status;
        client_free(&c);
        if (rc == 0 && status == 200)
            return 0;
        if (now_ns() > deadline) {
            print_tail(b->kassad_log);
            return fail("kassad at %s:%d did not answer GET /healthz within %u s", b->host, b->port,
                        limit_s);
        }
        sleep_ms(20);
    }
}

static int start_terminal(bench *b)
{
    if (make_dir(b) != 0)
        return 1;
    char csv[BENCH_PATH_MAX + 32];
    snprintf(csv, sizeof csv, "%s/data/demo/catalog.csv", b->root);
    if (kassa(b, "init", "--store", "BENCH", "--node", "T1", NULL) != 0 ||
        kassa(b, "catalog", "import", csv, NULL) != 0)
        return 1;
    for (int i = 0; i < LINES_PER_CHECKOUT; i++) {
        char arg[64];
        snprintf(arg, sizeof arg, "%s:%d", ITEMS[i].sku, STOCK_RECEIVED);
        if (kassa(b, "stock", "receive", arg, NULL) != 0)
            return 1;
    }
    for (size_t i = 0; i < b->opt.clients; i++) {
        client *c = &b->clients[i];
        snprintf(c->cashier, sizeof c->cashier, "bench%04zu", i + 1);
        snprintf(c->pin, sizeof c->pin, "%06zu", 100000 + i);
        char name[64];
        snprintf(name, sizeof name, "Bench client %zu", i + 1);
        if (kassa(b, "cashier", "add", c->cashier, "--name", name, "--role", "cashier", "--pin",
                  c->pin, NULL) != 0)
            return 1;
    }
    /* Room for every client's session and cart. */
    char ini[BENCH_PATH_MAX + 16];
    snprintf(ini, sizeof ini, "%s/kassad.ini", b->dir);
    FILE *f = fopen(ini, "w");
    if (!f)
        return fail("cannot write %s: %s", ini, strerror(errno));
    fprintf(f, "[api]\nmax_sessions = %zu\nmax_open_carts = %zu\n",
            b->opt.clients + 64 > 10000 ? 10000 : b->opt.clients + 64, b->opt.clients * 4 + 1000);
    if (fclose(f) != 0)
        return fail("cannot write %s", ini);
    if (free_port(&b->port) != 0)
        return 1;
    snprintf(b->host, sizeof b->host, "127.0.0.1");
    memset(&b->addr, 0, sizeof b->addr);
    b->addr.sin_family = AF_INET;
    b->addr.sin_port = htons((uint16_t)b->port);
    b->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char kassad[BENCH_PATH_MAX + 16], listen[64];
    snprintf(kassad, sizeof kassad, "%s/bin/kassad", b->build);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", b->port);
    char *argv[] = {kassad, "--data", b->data, "--api-listen", listen, "--config", ini, NULL};
    b->kassad = spawn(argv, b->root, b->kassad_log);
    if (b->kassad < 0) {
        b->kassad = 0;
        return 1;
    }
    return wait_healthy(b);
}

/* Stops our kassad by its pid: SIGTERM, then SIGKILL after 10 s. */
static int stop_terminal(bench *b)
{
    if (b->kassad <= 0)
        return 0;
    kill(b->kassad, SIGTERM);
    int st = 0;
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(b->kassad, &st, WNOHANG);
        if (r == b->kassad) {
            b->kassad = 0;
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                return 0;
            print_tail(b->kassad_log);
            return fail("kassad exited with status %d on SIGTERM",
                        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        }
        sleep_ms(10);
    }
    kill(b->kassad, SIGKILL);
    waitpid(b->kassad, &st, 0);
    b->kassad = 0;
    return fail("kassad did not stop within 10 s of SIGTERM (killed)");
}

/* ---- the run ---- */

static double load_average(void)
{
    double v = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static void sleep_until(uint64_t t_ns)
{
    for (uint64_t now = now_ns(); now < t_ns && !atomic_load(&g_stop); now = now_ns()) {
        uint64_t left_ms = (t_ns - now) / 1000000u;
        sleep_ms(left_ms > 100 ? 100 : (long)left_ms + 1);
    }
}

static int run_clients(bench *b)
{
    size_t n = b->opt.clients, started = 0;
    int rc = 0;
    b->loadavg = load_average();
    for (; started < n; started++) {
        client *c = &b->clients[started];
        c->idx = started;
        if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
            rc = fail("pthread_create failed after %zu clients", started);
            atomic_store(&g_stop, 1);
            break;
        }
    }
    while ((size_t)atomic_load(&g_ready) < started)
        sleep_ms(1);
    uint64_t start = now_ns();
    b->t0_ns = start + (uint64_t)b->opt.warmup * 1000000000ull;
    b->t1_ns = b->t0_ns + (uint64_t)b->opt.seconds * 1000000000ull;
    atomic_store(&g_go, 1);
    /* CPU used in the timed window: kassad's, and ours (the clients). */
    sleep_until(b->t0_ns);
    double k0 = b->kassad > 0 ? proc_cpu_s(b->kassad) : -1, c0 = proc_cpu_s(getpid());
    sleep_until(b->t1_ns);
    double k1 = b->kassad > 0 ? proc_cpu_s(b->kassad) : -1, c1 = proc_cpu_s(getpid());
    b->cpu_kassad = k0 >= 0 && k1 >= 0 ? k1 - k0 : -1;
    b->cpu_clients = c0 >= 0 && c1 >= 0 ? c1 - c0 : -1;
    for (size_t i = 0; i < started; i++)
        pthread_join(b->clients[i].thread, NULL);
    for (size_t i = 0; i < started && rc == 0; i++)
        if (b->clients[i].err[0])
            rc = fail("client %zu (%s): %s", i + 1, b->clients[i].cashier, b->clients[i].err);
    return rc;
}

static bool find_in_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    char buf[BENCH_PATH_MAX];
    for (const char *p = path; *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len > 0 && len + strlen(name) + 2 < sizeof buf) {
            memcpy(buf, p, len);
            snprintf(buf + len, sizeof buf - len, "/%s", name);
            if (access(buf, X_OK) == 0)
                return true;
        }
        if (!colon)
            break;
        p = colon + 1;
    }
    return false;
}

/* "123.45us", "1.20ms", "2.00s", "1.00m" in milliseconds; < 0 if not one. */
static double wrk_ms(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s)
        return -1;
    if (strncmp(end, "us", 2) == 0)
        return v / 1000.0;
    if (strncmp(end, "ms", 2) == 0)
        return v;
    if (strncmp(end, "s", 1) == 0)
        return v * 1000.0;
    if (strncmp(end, "m", 1) == 0)
        return v * 60000.0;
    if (strncmp(end, "h", 1) == 0)
        return v * 3600000.0;
    return -1;
}

static int run_wrk(bench *b)
{
    wrk_result *w = &b->wrk;
    if (b->opt.wrk_seconds == 0)
        return 0;
    if (!find_in_path("wrk")) {
        fprintf(stderr, "bench/checkout: wrk is not installed (scripts/deps.sh installs it): "
                        "no peer figure\n");
        return 0;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    w->threads = cpus < 1 ? 1 : (size_t)cpus;
    if (w->threads > b->opt.clients)
        w->threads = b->opt.clients;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "wrk -t%zu -c%zu -d%zus --latency http://%s:%d/healthz 2>&1",
             w->threads, b->opt.clients, b->opt.wrk_seconds, b->host, b->port);
    FILE *p = popen(cmd, "r");
    if (!p)
        return fail("popen %s: %s", cmd, strerror(errno));
    char line[512], out[4096] = "";
    bool in_dist = false;
    w->p50_ms = w->p99_ms = w->avg_ms = w->max_ms = -1;
    while (fgets(line, sizeof line, p)) {
        if (strlen(out) + strlen(line) < sizeof out)
            strcat(out, line);
        char a[64], s2[64], m[64];
        double rps;
        long n1, n2, n3, n4;
        if (sscanf(line, " Latency %63s %63s %63s", a, s2, m) == 3 && !in_dist) {
            w->avg_ms = wrk_ms(a);
            w->max_ms = wrk_ms(m);
        } else if (strstr(line, "Latency Distribution")) {
            in_dist = true;
        } else if (in_dist && sscanf(line, " 50%% %63s", a) == 1) {
            w->p50_ms = wrk_ms(a);
        } else if (in_dist && sscanf(line, " 99%% %63s", a) == 1) {
            w->p99_ms = wrk_ms(a);
        } else if (sscanf(line, "Requests/sec: %lf", &rps) == 1) {
            w->rps = rps;
            w->ran = true;
        } else if (sscanf(line, " Non-2xx or 3xx responses: %ld", &n1) == 1) {
            w->non_2xx = n1;
        } else if (sscanf(line, " Socket errors: connect %ld, read %ld, write %ld, timeout %ld",
                          &n1, &n2, &n3, &n4) == 4) {
            w->socket_errors = n1 + n2 + n3 + n4;
        }
    }
    int st = pclose(p);
    if (st != 0 || !w->ran || w->p50_ms < 0 || w->p99_ms < 0) {
        fprintf(stderr, "%s", out);
        return fail("wrk failed or its output was not understood (%s)", cmd);
    }
    if (w->non_2xx > 0)
        return fail("wrk: %ld answers to GET /healthz were not 2xx", w->non_2xx);
    return 0;
}

/* ---- report ---- */

static void print_row(const char *name, const stats *s)
{
    printf("%-34s %8zu %8.2f %8.2f %8.2f %8.2f\n", name, s->n, s->p50_ms, s->p99_ms, s->mean_ms,
           s->max_ms);
}

static json_t *stats_json(const stats *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)s->n));
    json_object_set_new(o, "p50", json_real(s->p50_ms));
    json_object_set_new(o, "p99", json_real(s->p99_ms));
    json_object_set_new(o, "mean", json_real(s->mean_ms));
    json_object_set_new(o, "max", json_real(s->max_ms));
    return o;
}

static int report(bench *b)
{
    stats co, all, rq[REQ_KINDS];
    if (merge_stats(b, -1, &co) != 0 || merge_all_requests(b, &all) != 0)
        return 1;
    for (int k = 0; k < REQ_KINDS; k++)
        if (merge_stats(b, k, &rq[k]) != 0)
            return 1;
    double secs = (double)b->opt.seconds;
    double cps = (double)co.n / secs;
    double rps = (double)all.n / secs;
    size_t total_ok = 0;
    for (size_t i = 0; i < b->opt.clients; i++)
        total_ok += b->clients[i].checkouts_ok;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    bool cps_ok = cps >= TARGET_CHECKOUTS_PER_S, p99_ok = co.p99_ms <= TARGET_P99_MS;
    const wrk_result *w = &b->wrk;

    if (b->opt.json) {
        json_t *o = json_object();
        json_object_set_new(o, "bench", json_string("checkout"));
        json_object_set_new(o, "clients", json_integer((json_int_t)b->opt.clients));
        json_object_set_new(o, "seconds", json_integer((json_int_t)b->opt.seconds));
        json_object_set_new(o, "warmup_seconds", json_integer((json_int_t)b->opt.warmup));
        json_object_set_new(o, "cpus", json_integer(cpus));
        json_object_set_new(o, "fs", json_string(b->opt.url ? "remote" : b->fs_name));
        json_object_set_new(o, "loadavg", b->loadavg >= 0 ? json_real(b->loadavg) : json_null());
        json_object_set_new(o, "checkouts_per_s", json_real(cps));
        json_object_set_new(o, "requests_per_s", json_real(rps));
        json_object_set_new(o, "checkout_ms", stats_json(&co));
        json_object_set_new(o, "cart_ms", stats_json(&rq[REQ_CART]));
        json_object_set_new(o, "line_ms", stats_json(&rq[REQ_LINE]));
        json_object_set_new(o, "pay_ms", stats_json(&rq[REQ_PAY]));
        json_object_set_new(o, "request_ms", stats_json(&all));
        json_object_set_new(o, "checkouts_total", json_integer((json_int_t)total_ok));
        json_object_set_new(o, "sales_recorded", json_integer(b->sales_after - b->sales_before));
        json_object_set_new(o, "targets_met", json_boolean(cps_ok && p99_ok));
        json_object_set_new(o, "cpu_kassad_pct",
                            b->cpu_kassad >= 0 ? json_real(100 * b->cpu_kassad / secs)
                                               : json_null());
        json_object_set_new(o, "cpu_clients_pct",
                            b->cpu_clients >= 0 ? json_real(100 * b->cpu_clients / secs)
                                                : json_null());
        json_t *wj = json_null();
        if (w->ran) {
            wj = json_object();
            json_object_set_new(wj, "connections", json_integer((json_int_t)b->opt.clients));
            json_object_set_new(wj, "threads", json_integer((json_int_t)w->threads));
            json_object_set_new(wj, "seconds", json_integer((json_int_t)b->opt.wrk_seconds));
            json_object_set_new(wj, "requests_per_s", json_real(w->rps));
            json_object_set_new(wj, "p50_ms", json_real(w->p50_ms));
            json_object_set_new(wj, "p99_ms", json_real(w->p99_ms));
            json_object_set_new(wj, "avg_ms", json_real(w->avg_ms));
            json_object_set_new(wj, "max_ms", json_real(w->max_ms));
            json_object_set_new(wj, "socket_errors", json_integer(w->socket_errors));
        }
        json_object_set_new(o, "wrk_healthz", wj);
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        json_decref(o);
        if (!s)
            return fail("out of memory");
        puts(s);
        free(s);
        return 0;
    }

    printf("kassa bench/checkout  (kassad %s:%d%s%s, %zu clients, %zu s after %zu s warm-up, "
           "%ld CPUs, load average %.2f)\n",
           b->host, b->port, b->opt.url ? " (--url)" : ", dir: ", b->opt.url ? "" : b->dir,
           b->opt.clients, b->opt.seconds, b->opt.warmup, cpus, b->loadavg);
    if (!b->opt.url)
        printf("file system: %s%s\n", b->fs_name,
               b->fs_is_ram ? " (warning: in memory, fsync costs nothing; pass --dir)" : "");
    printf("%-34s %8s %8s %8s %8s %8s\n", "", "count", "p50 ms", "p99 ms", "mean ms", "max ms");
    print_row("checkout (cart, 3 lines, pay)", &co);
    for (int k = 0; k < REQ_KINDS; k++) {
        char name[64];
        snprintf(name, sizeof name, "  %s", REQ_NAMES[k]);
        print_row(name, &rq[k]);
    }
    print_row("  every request", &all);
    printf("throughput: %.0f checkouts/s, %.0f requests/s\n", cps, rps);
    if (b->cpu_kassad >= 0 && b->cpu_clients >= 0)
        printf(
            "CPU in the timed window (100 %% = one CPU): kassad %.0f %%, bench clients %.0f %%\n",
            100 * b->cpu_kassad / secs, 100 * b->cpu_clients / secs);
    else if (b->cpu_clients >= 0)
        printf("CPU in the timed window (100 %% = one CPU): bench clients %.0f %%\n",
               100 * b->cpu_clients / secs);
    if (w->ran)
        printf("peer: wrk GET /healthz, %zu connections, %zu threads, %zu s: %.0f requests/s, "
               "p50 %.2f ms, p99 %.2f ms, max %.2f ms%s\n",
               b->opt.clients, w->threads, b->opt.wrk_seconds, w->rps, w->p50_ms, w->p99_ms,
               w->max_ms, w->socket_errors ? " (socket errors)" : "");
    else
        printf("peer: wrk not run\n");
    if (w->ran && w->rps > 0)
        printf("checkout requests/s vs the /healthz floor: %.2f\n", rps / w->rps);
    printf("targets: >= %.0f checkouts/s [%s], checkout p99 <= %.0f ms [%s]\n",
           TARGET_CHECKOUTS_PER_S, cps_ok ? "ok" : "missed", TARGET_P99_MS,
           p99_ok ? "ok" : "missed");
    printf("(%zu checkouts in all, warm-up included; the terminal recorded %" PRId64
           " new sales)\n",
           total_ok, b->sales_after - b->sales_before);
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&g_stop, 1);
}

int main(int argc, char **argv)
{
    bench *b = &B;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (parse_args(argc, argv, &b->opt) != 0)
        return 1;
    json_object_seed(0);
    b->clients = calloc(b->opt.clients, sizeof *b->clients);
    if (!b->clients)
        return fail("out of memory");
    for (size_t i = 0; i < b->opt.clients; i++) {
        client *c = &b->clients[i];
        c->fd = -1;
        c->rcap = RBUF_MIN;
        if (!(c->rbuf = malloc(c->rcap)))
            return fail("out of memory");
        if (b->opt.url) {
            snprintf(c->cashier, sizeof c->cashier, "%s", b->opt.cashier);
            snprintf(c->pin, sizeof c->pin, "%s", b->opt.pin);
        }
    }
    int rc = find_paths(b);
    if (rc == 0)
        rc = b->opt.url ? parse_url(b, b->opt.url) : start_terminal(b);
    if (rc == 0 && b->opt.url)
        rc = wait_healthy(b);
    if (rc == 0)
        rc = terminal_sales(&b->sales_before);
    if (rc == 0)
        rc = run_clients(b);
    if (rc == 0 && atomic_load(&g_stop))
        rc = fail("interrupted");
    if (rc == 0)
        rc = terminal_sales(&b->sales_after);
    if (rc == 0) {
        size_t total_ok = 0;
        for (size_t i = 0; i < b->opt.clients; i++)
            total_ok += b->clients[i].checkouts_ok;
        /* With --url others may sell at the same time; our own terminal
         * must match exactly. */
        if (!b->opt.url && b->sales_after - b->sales_before != (int64_t)total_ok)
            rc = fail("the terminal recorded %" PRId64 " sales for %zu checkouts answered 201",
                      b->sales_after - b->sales_before, total_ok);
    }
    if (rc == 0)
        rc = run_wrk(b);
    if (rc == 0)
        rc = report(b);
    if (stop_terminal(b) != 0)
        rc = 1;
    if (bench_remove_dir(b->dir, b->dir_created, b->opt.keep) != 0)
        rc = 1;
    for (size_t i = 0; i < b->opt.clients; i++)
        client_free(&b->clients[i]);
    free(b->clients);
    return rc ? 1 : 0;
}
