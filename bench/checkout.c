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

#include <inttypes.h>
#include <pthread.h>

#define TARGET_CHECKOUTS_PER_S 2000.0
#define TARGET_P99_MS 10.0

#define CLIENTS_MAX 1024
#define LINES_PER_CHECKOUT 3
#define REQS_PER_CHECKOUT (2 + LINES_PER_CHECKOUT)
#define STOCK_RECEIVED 1000000 /* units per SKU sold, before the run */

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

typedef struct client {
    size_t idx;
    pthread_t thread;
    char cashier[32];
    char pin[16];
    bench_http h; /* its keep-alive connection; h.err: what failed */
    bench_samples checkout;
    bench_samples req[REQ_KINDS];
    size_t checkouts_ok; /* answered 201, warm-up and edges included */
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
    bench_term t; /* paths, working directory, our kassad (not with --url) */
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
static atomic_int g_ready; /* clients logged in (or failed to) */
static atomic_int g_go;    /* the window is set: start */

/* ---- samples ---- */

/* Pools the samples of every client: the whole checkouts (checkout) and/or
 * the request kinds whose bit is set in kinds; sorts, summarises. */
static int merge_samples(const bench *b, bool checkout, unsigned kinds, bench_stats *st)
{
    bench_samples all = {0};
    for (size_t i = 0; i < b->opt.clients; i++) {
        for (int k = -1; k < REQ_KINDS; k++) {
            const bench_samples *s = k < 0 ? &b->clients[i].checkout : &b->clients[i].req[k];
            if (k < 0 ? !checkout : !(kinds & (1u << k)))
                continue;
            for (size_t j = 0; j < s->n; j++)
                if (bench_samples_push(&all, s->v[j]) != 0) {
                    free(all.v);
                    return fail("out of memory");
                }
        }
    }
    bench_stats_in_place(all.v, all.n, st);
    free(all.v);
    return 0;
}

/* kind < 0: whole checkouts; else one request kind. */
static int merge_stats(const bench *b, int kind, bench_stats *st)
{
    return kind < 0 ? merge_samples(b, true, 0, st) : merge_samples(b, false, 1u << kind, st);
}

static int merge_all_requests(const bench *b, bench_stats *st)
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

/* ---- the clients ---- */

/* One checkout; t[] gets each request's time (ns). */
static int checkout(client *c, uint64_t t[REQS_PER_CHECKOUT], int64_t *total)
{
    bench_http *h = &c->h;
    char cart[96], path[192], body[128];
    uint64_t s = now_ns();
    if (bench_http_call(h, "POST", "/api/v1/carts", NULL, 201) != 0)
        return -1;
    t[0] = now_ns() - s;
    if (bench_http_field(h, "cart_id", cart, sizeof cart, NULL) != 0)
        return -1;
    snprintf(path, sizeof path, "/api/v1/carts/%s/lines", cart);
    for (int i = 0; i < LINES_PER_CHECKOUT; i++) {
        snprintf(body, sizeof body, "{\"barcode\":\"%s\"}", ITEMS[i].barcode);
        s = now_ns();
        if (bench_http_call(h, "POST", path, body, 200) != 0)
            return -1;
        t[1 + i] = now_ns() - s;
    }
    if (bench_http_field(h, "total_minor", NULL, 0, total) != 0)
        return -1;
    snprintf(path, sizeof path, "/api/v1/carts/%s/checkout", cart);
    snprintf(body, sizeof body, "{\"tendered_minor\":%" PRId64 "}", *total);
    s = now_ns();
    if (bench_http_call(h, "POST", path, body, 201) != 0)
        return -1;
    t[REQS_PER_CHECKOUT - 1] = now_ns() - s;
    int64_t paid;
    if (bench_http_field(h, "total_minor", NULL, 0, &paid) != 0)
        return -1;
    if (paid != *total) {
        snprintf(h->err, sizeof h->err, "sale total %" PRId64 " differs from the cart's %" PRId64,
                 paid, *total);
        return -1;
    }
    return 0;
}

static void *client_main(void *arg)
{
    client *c = arg;
    int ok = bench_http_login(&c->h, c->cashier, c->pin) == 0;
    if (!ok)
        bench_stop();
    atomic_fetch_add(&g_ready, 1);
    while (!atomic_load(&g_go))
        bench_sleep_ms(1);
    while (ok && !bench_stopping()) {
        uint64_t t[REQS_PER_CHECKOUT];
        int64_t total;
        uint64_t s = now_ns();
        if (s >= B.t1_ns)
            break;
        if (checkout(c, t, &total) != 0) {
            bench_stop();
            ok = 0;
            break;
        }
        uint64_t e = now_ns();
        c->checkouts_ok++;
        if (s >= B.t0_ns && e <= B.t1_ns) {
            int oom = bench_samples_push(&c->checkout, e - s);
            oom |= bench_samples_push(&c->req[REQ_CART], t[0]);
            for (int i = 0; i < LINES_PER_CHECKOUT; i++)
                oom |= bench_samples_push(&c->req[REQ_LINE], t[1 + i]);
            oom |= bench_samples_push(&c->req[REQ_PAY], t[REQS_PER_CHECKOUT - 1]);
            if (oom) {
                snprintf(c->h.err, sizeof c->h.err, "out of memory");
                bench_stop();
                break;
            }
        }
    }
    bench_http_close(&c->h);
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

static void client_free(client *c)
{
    bench_http_free(&c->h);
    free(c->checkout.v);
    for (int k = 0; k < REQ_KINDS; k++)
        free(c->req[k].v);
}

/* The terminal's sale count (GET /api/v1/status on a connection of its
 * own). */
static int terminal_sales(int64_t *sales)
{
    bench_http h;
    bench_http_init(&h, "kassad", &B.addr, B.host);
    int rc = bench_http_call(&h, "GET", "/api/v1/status", NULL, 200);
    if (rc == 0)
        rc = bench_http_field(&h, "sales", NULL, 0, sales);
    if (rc != 0)
        fail("%s", h.err);
    bench_http_free(&h);
    return rc;
}

/* Up to 15 s for our kassad, 2 s for --url. */
static int wait_healthy(bench *b)
{
    return bench_wait_healthy(&b->t.kassad, &b->addr, b->host, b->opt.url ? 2 : 15, false);
}

static int start_terminal(bench *b)
{
    bench_term *t = &b->t;
    if (bench_term_workdir(t, b->opt.parent_dir) != 0 || bench_term_init(t) != 0)
        return 1;
    for (int i = 0; i < LINES_PER_CHECKOUT; i++) {
        char arg[64];
        snprintf(arg, sizeof arg, "%s:%d", ITEMS[i].sku, STOCK_RECEIVED);
        if (bench_kassa(t, "stock", "receive", arg, NULL) != 0)
            return 1;
    }
    for (size_t i = 0; i < b->opt.clients; i++) {
        client *c = &b->clients[i];
        snprintf(c->cashier, sizeof c->cashier, "bench%04zu", i + 1);
        snprintf(c->pin, sizeof c->pin, "%06zu", 100000 + i);
        char name[64];
        snprintf(name, sizeof name, "Bench client %zu", i + 1);
        if (bench_kassa(t, "cashier", "add", c->cashier, "--name", name, "--role", "cashier",
                        "--pin", c->pin, NULL) != 0)
            return 1;
    }
    /* Room for every client's session and cart. */
    char ini[BENCH_PATH_MAX + 16];
    snprintf(ini, sizeof ini, "%s/kassad.ini", t->dir);
    FILE *f = fopen(ini, "w");
    if (!f)
        return fail("cannot write %s: %s", ini, strerror(errno));
    fprintf(f, "[api]\nmax_sessions = %zu\nmax_open_carts = %zu\n",
            b->opt.clients + 64 > 10000 ? 10000 : b->opt.clients + 64, b->opt.clients * 4 + 1000);
    if (fclose(f) != 0)
        return fail("cannot write %s", ini);
    if (bench_term_start(t, ini, t->root, &b->port) != 0)
        return 1;
    snprintf(b->host, sizeof b->host, "127.0.0.1");
    b->addr = bench_loopback(b->port);
    return wait_healthy(b);
}

/* ---- the run ---- */

static void sleep_until(uint64_t t_ns)
{
    for (uint64_t now = now_ns(); now < t_ns && !bench_stopping(); now = now_ns()) {
        uint64_t left_ms = (t_ns - now) / 1000000u;
        bench_sleep_ms(left_ms > 100 ? 100 : (long)left_ms + 1);
    }
}

static int run_clients(bench *b)
{
    size_t n = b->opt.clients, started = 0;
    int rc = 0;
    b->loadavg = bench_load_average();
    for (; started < n; started++) {
        client *c = &b->clients[started];
        c->idx = started;
        bench_http_init(&c->h, "kassad", &b->addr, b->host);
        if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
            rc = fail("pthread_create failed after %zu clients", started);
            bench_stop();
            break;
        }
    }
    while ((size_t)atomic_load(&g_ready) < started)
        bench_sleep_ms(1);
    uint64_t start = now_ns();
    b->t0_ns = start + (uint64_t)b->opt.warmup * 1000000000ull;
    b->t1_ns = b->t0_ns + (uint64_t)b->opt.seconds * 1000000000ull;
    atomic_store(&g_go, 1);
    /* CPU used in the timed window: kassad's, and ours (the clients). */
    sleep_until(b->t0_ns);
    double k0 = bench_proc_cpu(&b->t.kassad), c0 = proc_cpu_s(getpid());
    sleep_until(b->t1_ns);
    double k1 = bench_proc_cpu(&b->t.kassad), c1 = proc_cpu_s(getpid());
    b->cpu_kassad = bench_cpu_delta(k0, k1);
    b->cpu_clients = bench_cpu_delta(c0, c1);
    for (size_t i = 0; i < started; i++)
        pthread_join(b->clients[i].thread, NULL);
    for (size_t i = 0; i < started && rc == 0; i++)
        if (b->clients[i].h.err[0])
            rc = fail("client %zu (%s): %s", i + 1, b->clients[i].cashier, b->clients[i].h.err);
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

static const bench_table TABLE = {34, 8, 2};

static int report(bench *b)
{
    bench_stats co, all, rq[REQ_KINDS];
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
        json_object_set_new(o, "fs", json_string(b->opt.url ? "remote" : b->t.fs_name));
        json_object_set_new(o, "loadavg", b->loadavg >= 0 ? json_real(b->loadavg) : json_null());
        json_object_set_new(o, "checkouts_per_s", json_real(cps));
        json_object_set_new(o, "requests_per_s", json_real(rps));
        json_object_set_new(o, "checkout_ms", bench_stats_json(&co));
        json_object_set_new(o, "cart_ms", bench_stats_json(&rq[REQ_CART]));
        json_object_set_new(o, "line_ms", bench_stats_json(&rq[REQ_LINE]));
        json_object_set_new(o, "pay_ms", bench_stats_json(&rq[REQ_PAY]));
        json_object_set_new(o, "request_ms", bench_stats_json(&all));
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
        return bench_print_json(o);
    }

    printf("kassa bench/checkout  (kassad %s:%d%s%s, %zu clients, %zu s after %zu s warm-up, "
           "%ld CPUs, load average %.2f)\n",
           b->host, b->port, b->opt.url ? " (--url)" : ", dir: ", b->opt.url ? "" : b->t.dir,
           b->opt.clients, b->opt.seconds, b->opt.warmup, cpus, b->loadavg);
    if (!b->opt.url)
        bench_print_fs(b->t.fs_name, b->t.fs_is_ram);
    bench_table_head(&TABLE);
    bench_table_row(&TABLE, "checkout (cart, 3 lines, pay)", &co);
    for (int k = 0; k < REQ_KINDS; k++) {
        char name[64];
        snprintf(name, sizeof name, "  %s", REQ_NAMES[k]);
        bench_table_row(&TABLE, name, &rq[k]);
    }
    bench_table_row(&TABLE, "  every request", &all);
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

int main(int argc, char **argv)
{
    bench *b = &B;
    bench_catch_signals();
    if (parse_args(argc, argv, &b->opt) != 0)
        return 1;
    json_object_seed(0);
    b->clients = calloc(b->opt.clients, sizeof *b->clients);
    if (!b->clients)
        return fail("out of memory");
    for (size_t i = 0; i < b->opt.clients; i++) {
        client *c = &b->clients[i];
        c->h.fd = -1;
        if (b->opt.url) {
            snprintf(c->cashier, sizeof c->cashier, "%s", b->opt.cashier);
            snprintf(c->pin, sizeof c->pin, "%s", b->opt.pin);
        }
    }
    int rc = bench_term_paths(&b->t, b->opt.root, !b->opt.url);
    if (rc == 0)
        rc = b->opt.url ? parse_url(b, b->opt.url) : start_terminal(b);
    if (rc == 0 && b->opt.url)
        rc = wait_healthy(b);
    if (rc == 0)
        rc = terminal_sales(&b->sales_before);
    if (rc == 0)
        rc = run_clients(b);
    if (rc == 0 && bench_stopping())
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
    if (bench_proc_stop(&b->t.kassad, 10) != 0)
        rc = 1;
    if (bench_remove_dir(b->t.dir, b->t.dir_created, b->opt.keep) != 0)
        rc = 1;
    for (size_t i = 0; i < b->opt.clients; i++)
        client_free(&b->clients[i]);
    free(b->clients);
    return rc ? 1 : 0;
}
