/*
 * bench/card: card checkouts through kassad with both payment simulators,
 * beside what the external devices cost without kassad, in one run. All on
 * loopback; every process is started here and stopped by its pid.
 *
 *  1. Sets up a terminal (the kassa CLI: init, the demo catalog, stock, one
 *     cashier), the processor's keys (kassa-processor-sim keygen), starts
 *     kassa-processor-sim (port 0, read from its start line),
 *     kassa-reader-sim (a Unix socket) and kassad with [payments]
 *     configured, and logs the cashier in (one keep-alive connection).
 *  2. floor: --n reader reads + processor authorisations done directly by
 *     the benchmark (pay_read_req on the reader's socket, then POST
 *     /v1/payments with the sealed blob on a keep-alive connection).
 *  3. card online: --n checkouts, each: open a cart, add one line, POST
 *     checkout with card_minor = the total. The checkout request is timed
 *     (client side). Then waits until the captures are forwarded.
 *  4. cash: the same with tendered_minor = the total.
 *  5. card offline: the processor is stopped; --n card checkouts stored
 *     for forwarding (the offline limits are raised in the INI); then more
 *     until --backlog payments are stored (the last --n of them are shown
 *     too: an offline checkout's cost grows with the payments stored).
 *  6. forwarding: the processor is started again on its port, "Forward
 *     now" is asked (POST /api/v1/payments/forward, so no retry backoff is
 *     measured), and GET /api/v1/status is polled every 20 ms (--poll-ms) until
 *     payments.pending_count and due_count are 0. Then the processor's
 *     GET /v1/ledger must show captures == backlog and no double capture:
 *     otherwise the run prints FAILED and exits 1 (a correctness failure).
 *
 * Every card read is of a card presented to the reader just before (an
 * untimed control message): each checkout is a different customer's card.
 * kassad caps stored offline payments per card at 1000 (offline_max_per_card
 * cannot go higher), so a backlog of 10,000 needs more than one card.
 *
 * A benchmark, not a test: no timing is asserted. The exit status is 1 when
 * something fails (a request answered with an unexpected status, a process,
 * a system call) or the ledger check fails.
 */
#define BENCH_NAME "card"
#include "benchutil.h"

#include "pay/pay.h"

#include <inttypes.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/un.h>

#define IO_TIMEOUT_S 30
#define RBUF_MIN 65536
#define BODY_MAX (16u * 1024 * 1024)
#define STOCK_RECEIVED "1000000"
#define FORWARD_WAIT_S 600
#define CAPTURE_WAIT_S 120
#define CARD_EXPIRY "12/39"
#define DEFAULT_CARD "4111111111111111"
#define PER_CARD_MAX 1000 /* kassad's ceiling for offline_max_per_card */
#define FLOOR_STORE "FLOOR"
#define CASHIER "bench0001"
#define CASHIER_PIN "100001"

/* The item sold: one line per checkout (data/demo/catalog.csv). */
#define ITEM_SKU "COF-250"
#define ITEM_BARCODE "4006381333931"

typedef struct options {
    size_t n;
    size_t warmup;
    size_t backlog;
    size_t poll_ms;
    const char *parent_dir;
    const char *root;
    bool json;
    bool keep;
} options;

typedef struct stats {
    size_t n;
    double p50_ms, p99_ms, mean_ms, max_ms;
} stats;

/* A blocking HTTP/1.1 keep-alive connection. */
typedef struct hconn {
    const char *name;
    struct sockaddr_in addr;
    char hostport[64];
    int fd;
    char *rbuf;
    size_t rlen, rcap;
    char *body;
    size_t body_len, body_cap;
    int status;
    bool close_after;
    char token[160];
} hconn;

typedef struct proc {
    const char *name;
    pid_t pid;
    char log[BENCH_PATH_MAX + 32];
} proc;

typedef struct phase {
    uint64_t *pay;   /* the paying request (or the floor's read + auth), ns */
    uint64_t *whole; /* cart, line, pay (floor: read + auth), ns */
    uint64_t *read;  /* floor: the reader read */
    uint64_t *auth;  /* floor: the authorisation */
    size_t n;
    double cpu_kassad, cpu_proc, cpu_reader; /* seconds in the phase; < 0 unknown */
    double wall_s;
} phase;

enum { PH_FLOOR, PH_ONLINE, PH_CASH, PH_OFFLINE, PH_FILL, PH_COUNT };

typedef struct bench {
    options opt;
    char build[BENCH_PATH_MAX];
    char root[BENCH_PATH_MAX];
    char dir[BENCH_PATH_MAX];
    bool dir_created;
    const char *fs_name;
    bool fs_is_ram;
    char data[BENCH_PATH_MAX + 32];
    char keys[BENCH_PATH_MAX + 32];
    char socket[BENCH_PATH_MAX + 32];
    char ini[BENCH_PATH_MAX + 32];
    char cli_log[BENCH_PATH_MAX + 32];
    proc kassad, processor, reader;
    int api_port, proc_port;
    hconn api, pp; /* kassad (logged in), the processor */
    double loadavg;
    int64_t price; /* the cart total of one line */
    uint64_t card_seq;
    phase ph[PH_COUNT];
    double capture_wait_s; /* after the online phase, until due_count = 0 */
    size_t stored;         /* offline card payments made */
    double fill_s;         /* the untimed offline checkouts after the timed ones */
    size_t fill_n;
    double forward_s;
    uint64_t *polls; /* GET /api/v1/status while forwarding, ns */
    size_t n_polls, cap_polls;
    double forward_cpu_kassad, forward_cpu_proc;
    int64_t captures, double_captures, ledger_payments, review;
    bool ledger_ok;
} bench;

static bench B;
static atomic_int g_stop;

/* ---- small helpers ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static double pct_ms(const uint64_t *sorted, size_t n, unsigned p)
{
    if (n == 0)
        return 0;
    size_t rank = (n * p + 99) / 100;
    if (rank < 1)
        rank = 1;
    return (double)sorted[rank - 1] / 1e6;
}

static int summarise(const uint64_t *v, size_t n, stats *st)
{
    memset(st, 0, sizeof *st);
    if (n == 0)
        return 0;
    uint64_t *s = malloc(n * sizeof *s);
    if (!s)
        return fail("out of memory");
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, bench_cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)s[i];
    st->n = n;
    st->p50_ms = pct_ms(s, n, 50);
    st->p99_ms = pct_ms(s, n, 99);
    st->max_ms = (double)s[n - 1] / 1e6;
    st->mean_ms = sum / (double)n / 1e6;
    free(s);
    return 0;
}

static uint64_t sum_ns(const uint64_t *v, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

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

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static double cpu_of(const proc *p)
{
    return p->pid > 0 ? proc_cpu_s(p->pid) : -1;
}

static double cpu_delta(double a, double b)
{
    return a >= 0 && b >= 0 ? b - a : -1;
}

/* ---- options ---- */

static void usage(FILE *f)
{
    fputs("usage: card [--n N] [--warmup W] [--backlog B] [--poll-ms P] [--dir DIR] [--root DIR]\n"
          "            [--json] [--keep]\n"
          "  --n N          timed checkouts of each kind, and floor reads + authorisations "
          "(2000)\n"
          "  --warmup W     untimed ones before each timed series (20)\n"
          "  --backlog B    stored offline payments forwarded at the end (10000; at least\n"
          "                 the offline checkouts made, W + N)\n"
          "  --poll-ms P    GET /api/v1/status period while forwarding (20)\n"
          "  --dir DIR      parent of the fresh working directory (default: the build\n"
          "                 directory; its disk is what a sale waits on)\n"
          "  --root DIR     source tree (the demo catalog; default: the build directory's "
          "parent)\n" BENCH_USAGE_COMMON
          "A failed run keeps its working directory (the logs of all three processes).\n",
          f);
}

static int value_option(const char *a, const char *v, void *ctx)
{
    options *o = ctx;
    if (strcmp(a, "--n") == 0)
        return parse_size(a, v, 1, 10000000, &o->n);
    if (strcmp(a, "--warmup") == 0)
        return parse_size(a, v, 0, 100000, &o->warmup);
    if (strcmp(a, "--backlog") == 0)
        return parse_size(a, v, 0, 10000000, &o->backlog);
    if (strcmp(a, "--poll-ms") == 0)
        return parse_size(a, v, 1, 10000, &o->poll_ms);
    if (strcmp(a, "--dir") == 0) {
        o->parent_dir = v;
        return 0;
    }
    if (strcmp(a, "--root") == 0) {
        o->root = v;
        return 0;
    }
    return -1;
}

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.n = 2000, .warmup = 20, .backlog = 10000, .poll_ms = 20};
    if (bench_parse_options(argc, argv, &o->json, &o->keep, usage, value_option, o) != 0)
        return 1;
    if (o->backlog < o->n + o->warmup)
        o->backlog = o->n + o->warmup;
    return 0;
}

/* ---- processes ---- */

static int proc_start(proc *p, char *const argv[])
{
    p->pid = spawn(argv, B.dir, p->log);
    if (p->pid < 0) {
        p->pid = 0;
        return fail("cannot start %s", p->name);
    }
    return 0;
}

/* Whether p has exited (reaped here); reports it. */
static bool proc_died(proc *p)
{
    int st;
    if (p->pid > 0 && waitpid(p->pid, &st, WNOHANG) == p->pid) {
        p->pid = 0;
        print_tail(p->log);
        fail("%s exited unexpectedly (%s %d)", p->name, WIFEXITED(st) ? "status" : "signal",
             WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        return true;
    }
    return false;
}

/* SIGTERM to p's pid, SIGKILL after limit_s; 0 when it exited 0 on
 * SIGTERM. */
static int proc_stop(proc *p, unsigned limit_s)
{
    if (p->pid <= 0)
        return 0;
    kill(p->pid, SIGTERM);
    int st = 0;
    for (unsigned i = 0; i < limit_s * 100; i++) {
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid || (r < 0 && errno == ECHILD)) {
            p->pid = 0;
            if (r < 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
                (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM))
                return 0;
            print_tail(p->log);
            return fail("%s exited with status %d on SIGTERM", p->name,
                        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        }
        sleep_ms(10);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
    return fail("%s did not stop within %u s of SIGTERM (killed)", p->name, limit_s);
}

/* Runs the kassa CLI on the bench terminal; any failure is fatal. */
static int kassa(const char *a1, ...)
{
    char bin[BENCH_PATH_MAX + 16];
    snprintf(bin, sizeof bin, "%s/bin/kassa", B.build);
    char *argv[16] = {bin, "--data", B.data, (char *)a1};
    int n = 4;
    va_list ap;
    va_start(ap, a1);
    for (char *a; n < 15 && (a = va_arg(ap, char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    if (bench_run(argv, B.root, B.cli_log) != 0)
        return fail("kassa %s %s failed", argv[3], n > 4 ? argv[4] : "");
    return 0;
}

/* ---- HTTP/1.1 client: blocking, keep-alive ---- */

static void hconn_init(hconn *c, const char *name, int port)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->fd = -1;
    c->addr.sin_family = AF_INET;
    c->addr.sin_port = htons((uint16_t)port);
    c->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    snprintf(c->hostport, sizeof c->hostport, "127.0.0.1:%d", port);
}

static void hconn_close(hconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->rlen = 0;
}

static void hconn_free(hconn *c)
{
    hconn_close(c);
    free(c->rbuf);
    free(c->body);
    c->rbuf = c->body = NULL;
    c->rcap = c->body_cap = 0;
}

static int hconn_open(hconn *c)
{
    if (!c->rbuf) {
        c->rcap = RBUF_MIN;
        if (!(c->rbuf = malloc(c->rcap)))
            return fail("out of memory");
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return fail("socket: %s", strerror(errno));
    int one = 1;
    struct timeval tv = {IO_TIMEOUT_S, 0};
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(c->fd, (const struct sockaddr *)&c->addr, sizeof c->addr) != 0) {
        int e = errno;
        close(c->fd);
        c->fd = -1;
        return fail("connect %s (%s): %s", c->hostport, c->name, strerror(e));
    }
    c->rlen = 0;
    return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* More bytes into rbuf: > 0 read, 0 EOF, -1 error. */
static ssize_t fill(hconn *c)
{
    if (c->rcap - c->rlen < 4096) {
        size_t cap = c->rcap * 2;
        char *p = cap <= BODY_MAX * 2 ? realloc(c->rbuf, cap) : NULL;
        if (!p)
            return -1;
        c->rbuf = p;
        c->rcap = cap;
    }
    for (;;) {
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        c->rlen += (size_t)r;
        c->rbuf[c->rlen] = '\0';
        return r;
    }
}

static int body_put(hconn *c, const char *p, size_t n)
{
    if (c->body_len + n + 1 > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 4096;
        while (cap < c->body_len + n + 1)
            cap *= 2;
        char *q = cap <= BODY_MAX ? realloc(c->body, cap) : NULL;
        if (!q)
            return -1;
        c->body = q;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, p, n);
    c->body_len += n;
    c->body[c->body_len] = '\0';
    return 0;
}

static void consume(hconn *c, size_t n)
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

/* One response: status, headers, body (Content-Length or chunked). */
static int read_response(hconn *c)
{
    char *end;
    while (!(end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4)))
        if (fill(c) <= 0)
            return -1;
    size_t head_len = (size_t)(end - c->rbuf) + 4;
    int minor;
    if (sscanf(c->rbuf, "HTTP/1.%d %d", &minor, &c->status) != 2)
        return -1;
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
                    return -1;
            unsigned long long size = strtoull(c->rbuf, NULL, 16);
            size_t line = (size_t)(eol - c->rbuf) + 2;
            if (size > BODY_MAX)
                return -1;
            while (c->rlen < line + size + 2)
                if (fill(c) <= 0)
                    return -1;
            if (body_put(c, c->rbuf + line, (size_t)size) != 0)
                return -1;
            consume(c, line + (size_t)size + 2);
            if (size == 0)
                return 0;
        }
    }
    if (content_length >= 0) {
        if ((unsigned long long)content_length > BODY_MAX)
            return -1;
        while (c->rlen < (size_t)content_length)
            if (fill(c) <= 0)
                return -1;
        if (body_put(c, c->rbuf, (size_t)content_length) != 0)
            return -1;
        consume(c, (size_t)content_length);
        return 0;
    }
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
    return 0;
}

/* One request and its response (c->status, c->body). A request whose
 * answer did not arrive is an error, never retried: it may have been
 * applied. */
static int http(hconn *c, const char *method, const char *path, const char *body, size_t body_len)
{
    char head[1024];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s%s", method, path,
                     c->hostport, c->token[0] ? "Authorization: Bearer " : "", c->token,
                     c->token[0] ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof head - 128)
        return fail("%s %s: request too long", method, path);
    if (body)
        n += snprintf(head + n, sizeof head - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", body_len);
    else
        n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    if (c->fd < 0 && hconn_open(c) != 0)
        return 1;
    /* One send for the small bodies of this benchmark. */
    char req[8192 + 1024];
    const char *out = head;
    size_t out_len = (size_t)n;
    if (body && (size_t)n + body_len <= sizeof req) {
        memcpy(req, head, (size_t)n);
        memcpy(req + n, body, body_len);
        out = req;
        out_len = (size_t)n + body_len;
    }
    int rc = send_all(c->fd, out, out_len);
    if (rc == 0 && body && out == head)
        rc = send_all(c->fd, body, body_len);
    if (rc != 0 || read_response(c) != 0) {
        int e = errno;
        hconn_close(c);
        return fail("%s %s (%s): no answer (%s)", method, path, c->name,
                    e ? strerror(e) : "connection closed");
    }
    if (c->close_after)
        hconn_close(c);
    return 0;
}

static int http_json(hconn *c, const char *method, const char *path, const char *body)
{
    return http(c, method, path, body, body ? strlen(body) : 0);
}

static int expect(const hconn *c, int want, const char *method, const char *path)
{
    if (c->status == want)
        return 0;
    return fail("%s %s (%s): expected %d, got %d: %.400s", method, path, c->name, want, c->status,
                c->body ? c->body : "");
}

/* The last body as JSON (NULL, reported, when it is not). */
static json_t *body_json(const hconn *c)
{
    json_error_t jerr;
    json_t *root = json_loadb(c->body, c->body_len, 0, &jerr);
    if (!root)
        fail("%s: not JSON: %.300s", c->name, c->body);
    return root;
}

static int json_int_at(json_t *o, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return fail("no integer \"%s\"", key);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* ---- the card reader's socket ---- */

static int unix_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fail("socket path too long: %s", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail("socket: %s", strerror(errno));
        return -1;
    }
    struct timeval tv = {IO_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fail("connect %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends line and reads one line back (with its '\n') into buf. */
static int unix_exchange(const char *path, const void *line, size_t n, char *buf, size_t size,
                         size_t *got)
{
    int fd = unix_connect(path);
    if (fd < 0)
        return 1;
    if (send_all(fd, line, n) != 0) {
        close(fd);
        return fail("send to %s: %s", path, strerror(errno));
    }
    size_t have = 0;
    for (;;) {
        if (have == size - 1) {
            close(fd);
            return fail("%s: answer longer than %zu bytes", path, size - 1);
        }
        ssize_t r = recv(fd, buf + have, size - 1 - have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(fd);
            return fail("%s: %s before a whole answer", path,
                        r < 0 ? strerror(errno) : "connection closed");
        }
        have += (size_t)r;
        if (memchr(buf, '\n', have))
            break;
    }
    close(fd);
    buf[have] = '\0';
    *got = (size_t)((char *)memchr(buf, '\n', have) - buf) + 1;
    return 0;
}

/* A Luhn-valid 16-digit test number "49" + 13 digits of seq + check: no
 * test card of docs/PAYMENTS.md starts with 49, so every one is approved. */
static void card_number(uint64_t seq, char out[17])
{
    snprintf(out, 17, "49%013" PRIu64 "0", (uint64_t)(seq % 10000000000000ull));
    int sum = 0;
    for (int i = 14, dbl = 1; i >= 0; i--, dbl = !dbl) {
        int d = out[i] - '0';
        if (dbl) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    out[15] = (char)('0' + (10 - sum % 10) % 10);
    out[16] = '\0';
}

/* Presents the next customer's card to the reader: what the next read
 * gets. */
static int present_next_card(bench *b)
{
    char number[17], line[256], ans[512];
    card_number(++b->card_seq, number);
    int n = snprintf(line, sizeof line,
                     "{\"v\":1,\"type\":\"present\",\"number\":\"%s\",\"expiry\":\"%s\"}\n", number,
                     CARD_EXPIRY);
    size_t got;
    if (unix_exchange(b->socket, line, (size_t)n, ans, sizeof ans, &got) != 0)
        return 1;
    if (!strstr(ans, "\"ok\""))
        return fail("the reader refused a present: %.200s", ans);
    return 0;
}

/* ---- the kassad API ---- */

static int status_payments(bench *b, int64_t *pending, int64_t *due, int64_t *review)
{
    if (http_json(&b->api, "GET", "/api/v1/status", NULL) != 0 ||
        expect(&b->api, 200, "GET", "/api/v1/status") != 0)
        return 1;
    json_t *root = body_json(&b->api);
    json_t *p = root ? json_object_get(root, "payments") : NULL;
    int rc = 1;
    if (!json_is_object(p))
        fail("GET /api/v1/status: no payments object: %.300s", b->api.body);
    else if (json_int_at(p, "pending_count", pending) == 0 && json_int_at(p, "due_count", due) == 0)
        rc = review ? json_int_at(p, "review_count", review) : 0;
    json_decref(root);
    return rc;
}

static int login(bench *b)
{
    b->api.token[0] = '\0';
    if (http_json(&b->api, "POST", "/api/v1/sessions",
                  "{\"cashier_id\":\"" CASHIER "\",\"pin\":\"" CASHIER_PIN "\"}") != 0 ||
        expect(&b->api, 201, "POST", "/api/v1/sessions") != 0)
        return 1;
    json_t *root = body_json(&b->api);
    json_t *t = root ? json_object_get(root, "token") : NULL;
    int rc = 0;
    if (!json_is_string(t) || strlen(json_string_value(t)) >= sizeof b->api.token)
        rc = fail("no token in %.300s", b->api.body);
    else
        snprintf(b->api.token, sizeof b->api.token, "%s", json_string_value(t));
    json_decref(root);
    return rc;
}

typedef enum { PAY_CASH, PAY_CARD_ONLINE, PAY_CARD_OFFLINE } pay_kind;

/* One checkout: cart, line, pay. *pay_ns: the paying request; *whole_ns:
 * the three. The answer's card mode must be the expected one. */
static int checkout(bench *b, pay_kind kind, uint64_t *pay_ns, uint64_t *whole_ns)
{
    hconn *c = &b->api;
    char cart[96], path[192], body[160];
    uint64_t t0 = now_ns();
    if (http_json(c, "POST", "/api/v1/carts", NULL) != 0 ||
        expect(c, 201, "POST", "/api/v1/carts") != 0)
        return 1;
    json_t *root = body_json(c);
    json_t *id = root ? json_object_get(root, "cart_id") : NULL;
    if (!json_is_string(id) || strlen(json_string_value(id)) >= sizeof cart) {
        json_decref(root);
        return fail("no cart_id in %.300s", c->body);
    }
    snprintf(cart, sizeof cart, "%s", json_string_value(id));
    json_decref(root);
    snprintf(path, sizeof path, "/api/v1/carts/%s/lines", cart);
    if (http_json(c, "POST", path, "{\"barcode\":\"" ITEM_BARCODE "\"}") != 0 ||
        expect(c, 200, "POST", path) != 0)
        return 1;
    int64_t total = 0;
    root = body_json(c);
    int rc = root ? json_int_at(root, "total_minor", &total) : 1;
    json_decref(root);
    if (rc != 0)
        return 1;
    b->price = total;
    snprintf(path, sizeof path, "/api/v1/carts/%s/checkout", cart);
    if (kind == PAY_CASH)
        snprintf(body, sizeof body, "{\"tendered_minor\":%" PRId64 "}", total);
    else
        snprintf(body, sizeof body, "{\"tendered_minor\":0,\"card_minor\":%" PRId64 "}", total);
    uint64_t t1 = now_ns();
    if (http_json(c, "POST", path, body) != 0)
        return 1;
    uint64_t t2 = now_ns();
    if (expect(c, 201, "POST", path) != 0)
        return 1;
    *pay_ns = t2 - t1;
    *whole_ns = t2 - t0;
    root = body_json(c);
    if (!root)
        return 1;
    int64_t paid = -1;
    rc = json_int_at(root, "total_minor", &paid);
    if (rc == 0 && paid != total)
        rc = fail("sale total %" PRId64 " differs from the cart's %" PRId64, paid, total);
    json_t *card = json_object_get(root, "card");
    if (rc == 0 && kind != PAY_CASH) {
        json_t *mode = json_object_get(card, "mode");
        const char *want = kind == PAY_CARD_ONLINE ? "online" : "offline";
        if (!json_is_string(mode) || strcmp(json_string_value(mode), want) != 0)
            rc = fail("expected a card payment %s, got %.300s", want, c->body);
    }
    json_decref(root);
    return rc;
}

/* ---- the floor: the devices without kassad ---- */

static int floor_one(bench *b, uint64_t seq, uint64_t *read_ns, uint64_t *auth_ns)
{
    kassa_err err;
    pay_read_req q = {.amount_minor = b->price, .timeout_ms = 5000};
    snprintf(q.payment_id, sizeof q.payment_id, "%s.P%" PRIu64, FLOOR_STORE, seq);
    snprintf(q.currency, sizeof q.currency, "EUR");
    kbuf line;
    kbuf_init(&line);
    char ans[PAY_LINE_MAX_BYTES + 1];
    size_t got = 0;
    pay_read_reply rep;
    uint64_t t0 = now_ns();
    int rc = pay_read_req_encode(&q, &line, &err) == KASSA_OK
                 ? unix_exchange(b->socket, line.data, line.len, ans, sizeof ans, &got)
                 : fail("pay_read_req_encode: %s", err.msg);
    kbuf_free(&line);
    if (rc != 0)
        return 1;
    if (pay_read_reply_decode(ans, got, &rep, &err) != KASSA_OK)
        return fail("reader answer: %s", err.msg);
    if (!rep.ok || strcmp(rep.payment_id, q.payment_id) != 0)
        return fail("reader: no card (%s: %s)", rep.reason, rep.message);
    uint64_t t1 = now_ns();
    pay_auth_req a = {.amount_minor = q.amount_minor, .mode = PAY_MODE_ONLINE};
    snprintf(a.store_id, sizeof a.store_id, "%s", FLOOR_STORE);
    snprintf(a.payment_id, sizeof a.payment_id, "%s", q.payment_id);
    snprintf(a.currency, sizeof a.currency, "EUR");
    snprintf(a.token, sizeof a.token, "%s", rep.card.token);
    memcpy(a.blob, rep.card.blob, rep.card.blob_len);
    a.blob_len = rep.card.blob_len;
    kbuf body;
    kbuf_init(&body);
    rc = pay_auth_req_encode(&a, &body, &err) == KASSA_OK
             ? http(&b->pp, "POST", "/v1/payments", (const char *)body.data, body.len)
             : fail("pay_auth_req_encode: %s", err.msg);
    kbuf_free(&body);
    uint64_t t2 = now_ns();
    if (rc != 0 || expect(&b->pp, 200, "POST", "/v1/payments") != 0)
        return 1;
    pay_result res;
    if (pay_result_decode(b->pp.body, b->pp.body_len, &res, &err) != KASSA_OK)
        return fail("processor answer: %s", err.msg);
    if (res.status != PAY_ST_AUTHORIZED || strcmp(res.id, a.payment_id) != 0)
        return fail("processor: %s not authorised (%s %s)", a.payment_id,
                    pay_status_name(res.status), res.reason);
    *read_ns = t1 - t0;
    *auth_ns = t2 - t1;
    return 0;
}

/* ---- starting things ---- */

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
        if (is_file(probe))
            snprintf(b->root, sizeof b->root, "%s", parent);
        else if (!getcwd(b->root, sizeof b->root))
            return fail("getcwd: %s", strerror(errno));
    }
    snprintf(probe, sizeof probe, "%s/data/demo/catalog.csv", b->root);
    if (!is_file(probe))
        return fail("no %s: pass --root (the source tree)", probe);
    const char *bins[] = {"kassa", "kassad", "kassa-reader-sim", "kassa-processor-sim"};
    for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++) {
        snprintf(probe, sizeof probe, "%s/bin/%s", b->build, bins[i]);
        if (access(probe, X_OK) != 0)
            return fail("no %s: build it first", probe);
    }
    return 0;
}

/* Starts the processor on port (0: any) and reads its port from the
 * "start" line it logs. */
static int start_processor(bench *b, int port)
{
    char bin[BENCH_PATH_MAX + 32], listen[64];
    snprintf(bin, sizeof bin, "%s/bin/kassa-processor-sim", b->build);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    struct stat sb;
    off_t before = stat(b->processor.log, &sb) == 0 ? sb.st_size : 0;
    char *argv[] = {bin, "--listen", listen, "--key-dir", b->keys, NULL};
    if (proc_start(&b->processor, argv) != 0)
        return 1;
    uint64_t deadline = now_ns() + 10000000000ull;
    for (;;) {
        if (proc_died(&b->processor))
            return fail("the processor simulator did not start");
        FILE *f = fopen(b->processor.log, "r");
        char line[1024];
        int found = 0;
        if (f && fseeko(f, before, SEEK_SET) == 0)
            while (!found && fgets(line, sizeof line, f)) {
                const char *p;
                if (strstr(line, "\"event\":\"start\"") && (p = strstr(line, "\"port\":")) &&
                    sscanf(p + 7, "%d", &found) != 1)
                    found = 0;
            }
        if (f)
            fclose(f);
        if (found > 0) {
            b->proc_port = found;
            return 0;
        }
        if (now_ns() > deadline || atomic_load(&g_stop)) {
            print_tail(b->processor.log);
            return fail("the processor simulator did not log its start within 10 s");
        }
        sleep_ms(5);
    }
}

static int start_reader(bench *b)
{
    char bin[BENCH_PATH_MAX + 32], pub[BENCH_PATH_MAX + 64], tok[BENCH_PATH_MAX + 32];
    snprintf(bin, sizeof bin, "%s/bin/kassa-reader-sim", b->build);
    snprintf(pub, sizeof pub, "%s/processor.pub", b->keys);
    snprintf(tok, sizeof tok, "%s/token.key", b->dir);
    char card[] = DEFAULT_CARD; /* the reader wipes its argv copy, not ours */
    char *argv[] = {bin, "--socket", b->socket, "--processor-key", pub,         "--token-key",
                    tok, "--card",   card,      "--expiry",        CARD_EXPIRY, NULL};
    if (proc_start(&b->reader, argv) != 0)
        return 1;
    uint64_t deadline = now_ns() + 10000000000ull;
    for (;;) {
        struct stat sb;
        if (stat(b->socket, &sb) == 0 && S_ISSOCK(sb.st_mode))
            return 0;
        if (proc_died(&b->reader))
            return fail("the reader simulator did not start");
        if (now_ns() > deadline || atomic_load(&g_stop)) {
            print_tail(b->reader.log);
            return fail("the reader simulator made no socket within 10 s");
        }
        sleep_ms(5);
    }
}

static int wait_healthy(bench *b)
{
    uint64_t deadline = now_ns() + 15000000000ull;
    hconn h;
    hconn_init(&h, "kassad", b->api_port);
    for (;;) {
        if (proc_died(&b->kassad))
            return fail("kassad exited during start");
        int ok = 0;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (const struct sockaddr *)&h.addr, sizeof h.addr) == 0) {
            close(fd);
            fd = -1;
            ok = http_json(&h, "GET", "/healthz", NULL) == 0 && h.status == 200;
        }
        if (fd >= 0)
            close(fd);
        hconn_free(&h);
        if (ok)
            return 0;
        if (now_ns() > deadline || atomic_load(&g_stop)) {
            print_tail(b->kassad.log);
            return fail("kassad did not answer GET /healthz within 15 s");
        }
        sleep_ms(20);
    }
}

static int setup(bench *b)
{
    if (bench_make_workdir(b->opt.parent_dir, b->dir, sizeof b->dir, &b->dir_created) != 0 ||
        bench_describe_fs(b->dir, &b->fs_name, &b->fs_is_ram) != 0)
        return 1;
    snprintf(b->data, sizeof b->data, "%s/term", b->dir);
    snprintf(b->keys, sizeof b->keys, "%s/processor-keys", b->dir);
    snprintf(b->socket, sizeof b->socket, "%s/reader.sock", b->dir);
    snprintf(b->ini, sizeof b->ini, "%s/kassad.ini", b->dir);
    snprintf(b->cli_log, sizeof b->cli_log, "%s/cli.log", b->dir);
    b->kassad.name = "kassad";
    b->processor.name = "kassa-processor-sim";
    b->reader.name = "kassa-reader-sim";
    snprintf(b->kassad.log, sizeof b->kassad.log, "%s/kassad.log", b->dir);
    snprintf(b->processor.log, sizeof b->processor.log, "%s/processor.log", b->dir);
    snprintf(b->reader.log, sizeof b->reader.log, "%s/reader.log", b->dir);
    struct sockaddr_un sa;
    if (strlen(b->socket) >= sizeof sa.sun_path)
        return fail("%s: too long for a Unix socket (pass a shorter --dir)", b->socket);

    char csv[BENCH_PATH_MAX + 32];
    snprintf(csv, sizeof csv, "%s/data/demo/catalog.csv", b->root);
    if (kassa("init", "--store", "BENCH", "--node", "T1", NULL) != 0 ||
        kassa("catalog", "import", csv, NULL) != 0 ||
        kassa("stock", "receive", ITEM_SKU ":" STOCK_RECEIVED, NULL) != 0 ||
        kassa("cashier", "add", CASHIER, "--name", "Bench cashier", "--role", "cashier", "--pin",
              CASHIER_PIN, NULL) != 0)
        return 1;
    char bin[BENCH_PATH_MAX + 32];
    snprintf(bin, sizeof bin, "%s/bin/kassa-processor-sim", b->build);
    char *keygen[] = {bin, "keygen", "--out", b->keys, NULL};
    if (bench_run(keygen, b->dir, b->processor.log) != 0)
        return fail("kassa-processor-sim keygen failed");
    if (start_processor(b, 0) != 0 || start_reader(b) != 0)
        return 1;

    FILE *f = fopen(b->ini, "w");
    if (!f)
        return fail("cannot write %s: %s", b->ini, strerror(errno));
    fprintf(f,
            "[payments]\n"
            "reader_socket = %s\n"
            "processor = 127.0.0.1:%d\n"
            "reader_timeout_ms = 5000\n"
            "processor_timeout_ms = 1000\n"
            "offline_max_amount_minor = 10000000000000\n"
            "offline_max_pending_minor = 10000000000000\n"
            "offline_max_per_card = %d\n"
            "forward_retry_min_ms = 100\n"
            "forward_retry_max_ms = 1000\n",
            b->socket, b->proc_port, PER_CARD_MAX);
    if (fclose(f) != 0)
        return fail("cannot write %s", b->ini);

    if (free_port(&b->api_port) != 0)
        return 1;
    char kassad[BENCH_PATH_MAX + 16], listen[64];
    snprintf(kassad, sizeof kassad, "%s/bin/kassad", b->build);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", b->api_port);
    char *argv[] = {kassad, "--data", b->data, "--api-listen", listen, "--config", b->ini, NULL};
    if (proc_start(&b->kassad, argv) != 0 || wait_healthy(b) != 0)
        return 1;
    hconn_init(&b->api, "kassad", b->api_port);
    hconn_init(&b->pp, "kassa-processor-sim", b->proc_port);
    return login(b);
}

/* ---- the phases ---- */

static int phase_alloc(phase *p, size_t n, bool floor)
{
    p->pay = calloc(n, sizeof *p->pay);
    p->whole = calloc(n, sizeof *p->whole);
    if (floor) {
        p->read = calloc(n, sizeof *p->read);
        p->auth = calloc(n, sizeof *p->auth);
    }
    if (!p->pay || !p->whole || (floor && (!p->read || !p->auth)))
        return fail("out of memory");
    return 0;
}

static void phase_free(phase *p)
{
    free(p->pay);
    free(p->whole);
    free(p->read);
    free(p->auth);
}

static bool stopped(void)
{
    if (atomic_load(&g_stop)) {
        fail("interrupted");
        return true;
    }
    return false;
}

typedef struct cpu_mark {
    double kassad, processor, reader;
    uint64_t t;
} cpu_mark;

static cpu_mark mark(bench *b)
{
    return (cpu_mark){cpu_of(&b->kassad), cpu_of(&b->processor), cpu_of(&b->reader), now_ns()};
}

static void phase_cpu(bench *b, phase *p, const cpu_mark *m0)
{
    cpu_mark m1 = mark(b);
    p->cpu_kassad = cpu_delta(m0->kassad, m1.kassad);
    p->cpu_proc = cpu_delta(m0->processor, m1.processor);
    p->cpu_reader = cpu_delta(m0->reader, m1.reader);
    p->wall_s = (double)(m1.t - m0->t) / 1e9;
}

static int run_floor(bench *b)
{
    phase *p = &b->ph[PH_FLOOR];
    size_t total = b->opt.warmup + b->opt.n;
    cpu_mark m0 = {0};
    for (size_t i = 0; i < total; i++) {
        if (i == b->opt.warmup)
            m0 = mark(b);
        uint64_t r, a;
        if (stopped() || present_next_card(b) != 0 || floor_one(b, i + 1, &r, &a) != 0)
            return 1;
        if (i >= b->opt.warmup) {
            size_t k = p->n++;
            p->read[k] = r;
            p->auth[k] = a;
            p->pay[k] = p->whole[k] = r + a;
        }
    }
    phase_cpu(b, p, &m0);
    return 0;
}

/* count checkouts of kind, the first warmup untimed; the timed ones go to
 * p (NULL: none timed). */
static int run_checkouts(bench *b, pay_kind kind, size_t warmup, size_t count, phase *p)
{
    cpu_mark m0 = {0};
    for (size_t i = 0; i < warmup + count; i++) {
        if (p && i == warmup)
            m0 = mark(b);
        uint64_t pay, whole;
        if (stopped() || (kind != PAY_CASH && present_next_card(b) != 0) ||
            checkout(b, kind, &pay, &whole) != 0) {
            proc_died(&b->kassad);
            return 1;
        }
        if (kind == PAY_CARD_OFFLINE)
            b->stored++;
        if (p && i >= warmup) {
            p->pay[p->n] = pay;
            p->whole[p->n] = whole;
            p->n++;
        }
    }
    if (p)
        phase_cpu(b, p, &m0);
    return 0;
}

/* Polls the status every --poll-ms until nothing is pending or due; the
 * seconds it took in *secs. */
static int wait_drained(bench *b, unsigned limit_s, double *secs, int64_t *review, bool timed)
{
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)limit_s * 1000000000ull;
    for (;;) {
        int64_t pending, due;
        uint64_t s0 = now_ns();
        if (stopped() || status_payments(b, &pending, &due, review) != 0)
            return 1;
        if (timed) {
            if (b->n_polls == b->cap_polls) {
                size_t cap = b->cap_polls ? b->cap_polls * 2 : 1024;
                uint64_t *v = realloc(b->polls, cap * sizeof *v);
                if (!v)
                    return fail("out of memory");
                b->polls = v;
                b->cap_polls = cap;
            }
            b->polls[b->n_polls++] = now_ns() - s0;
        }
        if (pending == 0 && due == 0) {
            *secs = (double)(now_ns() - t0) / 1e9;
            return 0;
        }
        if (now_ns() > deadline)
            return fail("after %u s, %" PRId64 " payments still pending and %" PRId64 " due",
                        limit_s, pending, due);
        if (proc_died(&b->kassad) || proc_died(&b->processor))
            return 1;
        sleep_ms((long)b->opt.poll_ms);
    }
}

static int run_offline(bench *b)
{
    /* The processor goes away; kassad finds out at its next call. */
    hconn_close(&b->pp);
    if (proc_stop(&b->processor, 10) != 0)
        return 1;
    if (run_checkouts(b, PAY_CARD_OFFLINE, b->opt.warmup, b->opt.n, &b->ph[PH_OFFLINE]) != 0)
        return 1;
    b->fill_n = b->opt.backlog - b->stored;
    if (phase_alloc(&b->ph[PH_FILL], b->fill_n ? b->fill_n : 1, false) != 0)
        return 1;
    uint64_t t0 = now_ns();
    if (run_checkouts(b, PAY_CARD_OFFLINE, 0, b->fill_n, &b->ph[PH_FILL]) != 0)
        return 1;
    b->fill_s = (double)(now_ns() - t0) / 1e9;
    int64_t pending, due;
    if (status_payments(b, &pending, &due, NULL) != 0)
        return 1;
    if (pending != (int64_t)b->stored)
        return fail("kassad holds %" PRId64 " stored payments, %zu were made", pending, b->stored);
    return 0;
}

static int run_forward(bench *b)
{
    if (start_processor(b, b->proc_port) != 0)
        return 1;
    cpu_mark m0 = mark(b);
    uint64_t t0 = m0.t;
    /* "Forward now", so the retry backoff is not what is measured. */
    if (http_json(&b->api, "POST", "/api/v1/payments/forward", "{}") != 0 ||
        expect(&b->api, 202, "POST", "/api/v1/payments/forward") != 0)
        return 1;
    double secs;
    int64_t review = 0;
    if (wait_drained(b, FORWARD_WAIT_S, &secs, &review, true) != 0)
        return 1;
    b->forward_s = (double)(now_ns() - t0) / 1e9;
    cpu_mark m1 = mark(b);
    b->forward_cpu_kassad = cpu_delta(m0.kassad, m1.kassad);
    b->forward_cpu_proc = cpu_delta(m0.processor, m1.processor);
    hconn_close(&b->pp);
    if (http_json(&b->pp, "GET", "/v1/ledger", NULL) != 0 ||
        expect(&b->pp, 200, "GET", "/v1/ledger") != 0)
        return 1;
    json_t *root = body_json(&b->pp);
    if (!root || json_int_at(root, "captures", &b->captures) != 0 ||
        json_int_at(root, "double_captures", &b->double_captures) != 0 ||
        json_int_at(root, "payments", &b->ledger_payments) != 0) {
        json_decref(root);
        return 1;
    }
    json_decref(root);
    b->ledger_ok = b->captures == (int64_t)b->stored && b->double_captures == 0 && review == 0;
    b->review = review;
    return 0;
}

static int run(bench *b)
{
    b->loadavg = load_average();
    for (int k = 0; k < PH_FILL; k++)
        if (phase_alloc(&b->ph[k], b->opt.n, k == PH_FLOOR) != 0)
            return 1;
    /* The price comes from the first cart: one cash checkout, untimed. */
    uint64_t x, y;
    if (checkout(b, PAY_CASH, &x, &y) != 0)
        return 1;
    if (run_floor(b) != 0 ||
        run_checkouts(b, PAY_CARD_ONLINE, b->opt.warmup, b->opt.n, &b->ph[PH_ONLINE]) != 0)
        return 1;
    /* The captures of the online payments, before anything else is timed. */
    if (wait_drained(b, CAPTURE_WAIT_S, &b->capture_wait_s, NULL, false) != 0)
        return 1;
    if (run_checkouts(b, PAY_CASH, b->opt.warmup, b->opt.n, &b->ph[PH_CASH]) != 0)
        return 1;
    if (run_offline(b) != 0)
        return 1;
    return run_forward(b);
}

/* ---- report ---- */

static void print_row(const char *name, const stats *s)
{
    printf("%-44s %7zu %8.3f %8.3f %8.3f %8.3f\n", name, s->n, s->p50_ms, s->p99_ms, s->mean_ms,
           s->max_ms);
}

static json_t *stats_json(const stats *s)
{
    return json_pack("{s:I,s:f,s:f,s:f,s:f}", "n", (json_int_t)s->n, "p50", s->p50_ms, "p99",
                     s->p99_ms, "mean", s->mean_ms, "max", s->max_ms);
}

/* Whole checkouts (cart, line, pay) per second of their summed time. */
static double per_s(const phase *p)
{
    uint64_t t = sum_ns(p->whole, p->n);
    return t ? (double)p->n / ((double)t / 1e9) : 0;
}

static double pct_of(double cpu, double wall)
{
    return cpu >= 0 && wall > 0 ? 100 * cpu / wall : -1;
}

static int report(bench *b)
{
    stats online, offline, cash, flo, rd, au, w_on, w_off, w_cash, tail, polls;
    if (summarise(b->polls, b->n_polls, &polls) != 0)
        return 1;
    phase *ph = b->ph;
    /* The last offline checkouts of the backlog, as many as were timed. */
    size_t tail_n = ph[PH_FILL].n < b->opt.n ? ph[PH_FILL].n : b->opt.n;
    if (summarise(ph[PH_FILL].pay + (ph[PH_FILL].n - tail_n), tail_n, &tail) != 0)
        return 1;
    if (summarise(ph[PH_ONLINE].pay, ph[PH_ONLINE].n, &online) != 0 ||
        summarise(ph[PH_OFFLINE].pay, ph[PH_OFFLINE].n, &offline) != 0 ||
        summarise(ph[PH_CASH].pay, ph[PH_CASH].n, &cash) != 0 ||
        summarise(ph[PH_FLOOR].pay, ph[PH_FLOOR].n, &flo) != 0 ||
        summarise(ph[PH_FLOOR].read, ph[PH_FLOOR].n, &rd) != 0 ||
        summarise(ph[PH_FLOOR].auth, ph[PH_FLOOR].n, &au) != 0 ||
        summarise(ph[PH_ONLINE].whole, ph[PH_ONLINE].n, &w_on) != 0 ||
        summarise(ph[PH_OFFLINE].whole, ph[PH_OFFLINE].n, &w_off) != 0 ||
        summarise(ph[PH_CASH].whole, ph[PH_CASH].n, &w_cash) != 0)
        return 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double fwd_rate = b->forward_s > 0 ? (double)b->stored / b->forward_s : 0;
    double fill_rate = b->fill_s > 0 ? (double)b->fill_n / b->fill_s : 0;
    if (b->opt.json) {
        json_t *o =
            json_pack("{s:s,s:I,s:I,s:I,s:I,s:s,s:f,s:I}", "bench", "card", "cpus",
                      (json_int_t)cpus, "n", (json_int_t)b->opt.n, "warmup",
                      (json_int_t)b->opt.warmup, "backlog", (json_int_t)b->stored, "fs", b->fs_name,
                      "loadavg", b->loadavg, "price_minor", (json_int_t)b->price);
        if (!o)
            return fail("out of memory");
        json_object_set_new(o, "card_online_ms", stats_json(&online));
        json_object_set_new(o, "card_offline_ms", stats_json(&offline));
        json_object_set_new(o, "card_offline_backlog_tail_ms", stats_json(&tail));
        json_object_set_new(o, "cash_ms", stats_json(&cash));
        json_object_set_new(o, "floor_ms", stats_json(&flo));
        json_object_set_new(o, "floor_read_ms", stats_json(&rd));
        json_object_set_new(o, "floor_auth_ms", stats_json(&au));
        json_object_set_new(o, "checkout_online_ms", stats_json(&w_on));
        json_object_set_new(o, "checkout_offline_ms", stats_json(&w_off));
        json_object_set_new(o, "checkout_cash_ms", stats_json(&w_cash));
        json_object_set_new(o, "online_per_s", json_real(per_s(&ph[PH_ONLINE])));
        json_object_set_new(o, "offline_per_s", json_real(per_s(&ph[PH_OFFLINE])));
        json_object_set_new(o, "cash_per_s", json_real(per_s(&ph[PH_CASH])));
        json_object_set_new(o, "overhead_online_p50_ms", json_real(online.p50_ms - flo.p50_ms));
        json_object_set_new(o, "capture_wait_s", json_real(b->capture_wait_s));
        json_object_set_new(o, "forward_s", json_real(b->forward_s));
        json_object_set_new(o, "forward_per_s", json_real(fwd_rate));
        json_object_set_new(o, "forward_status_poll_ms", stats_json(&polls));
        json_object_set_new(o, "review_count", json_integer(b->review));
        json_object_set_new(o, "captures", json_integer(b->captures));
        json_object_set_new(o, "double_captures", json_integer(b->double_captures));
        json_object_set_new(o, "ledger_ok", json_boolean(b->ledger_ok));
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        json_decref(o);
        if (!s)
            return fail("out of memory");
        puts(s);
        free(s);
    } else {
        printf("kassa bench/card  (kassad 127.0.0.1:%d, processor 127.0.0.1:%d, dir: %s, "
               "N=%zu after %zu warm-up, backlog %zu, %ld CPUs, load average %.2f)\n",
               b->api_port, b->proc_port, b->dir, b->opt.n, b->opt.warmup, b->stored, cpus,
               b->loadavg);
        printf("file system: %s%s\n", b->fs_name,
               b->fs_is_ram ? " (warning: in memory, fsync costs nothing; pass --dir)" : "");
        printf("config: one cashier, one keep-alive connection, checkouts one after another; "
               "1 line of %s (%" PRId64 " minor);\n"
               "        [payments] processor_timeout_ms 1000, offline_max_per_card %d, "
               "offline limits 10^13, forward_retry 100..1000 ms;\n"
               "        each card read is of a new card presented to the reader just before "
               "(untimed)\n",
               ITEM_SKU, b->price, PER_CARD_MAX);
        printf("%-44s %7s %8s %8s %8s %8s\n", "", "count", "p50 ms", "p99 ms", "mean ms", "max ms");
        print_row("card online  POST .../checkout", &online);
        print_row("card offline POST .../checkout", &offline);
        if (tail.n) {
            char name[64];
            snprintf(name, sizeof name, "  the same, backlog %zu..%zu", b->stored - tail.n + 1,
                     b->stored);
            print_row(name, &tail);
        }
        print_row("cash         POST .../checkout", &cash);
        print_row("floor: reader read + processor authorise", &flo);
        print_row("  reader read (Unix socket)", &rd);
        print_row("  processor POST /v1/payments", &au);
        print_row("whole checkout, card online (cart,line,pay)", &w_on);
        print_row("whole checkout, card offline", &w_off);
        print_row("whole checkout, cash", &w_cash);
        printf("throughput (one client, whole checkouts): card online %.0f/s, card offline "
               "%.0f/s, cash %.0f/s; floor %.0f read+auth/s\n",
               per_s(&ph[PH_ONLINE]), per_s(&ph[PH_OFFLINE]), per_s(&ph[PH_CASH]),
               per_s(&ph[PH_FLOOR]));
        printf("kassad's overhead on a card payment: online p50 %.3f - floor p50 %.3f = "
               "%.3f ms (p99 %.3f - %.3f = %.3f ms); vs cash p50 +%.3f ms\n",
               online.p50_ms, flo.p50_ms, online.p50_ms - flo.p50_ms, online.p99_ms, flo.p99_ms,
               online.p99_ms - flo.p99_ms, online.p50_ms - cash.p50_ms);
        printf("CPU in the timed phases (100 %% = one CPU): kassad online %.0f %%, offline "
               "%.0f %%, cash %.0f %%; processor online %.0f %%, floor %.0f %%; reader floor "
               "%.0f %%\n",
               pct_of(ph[PH_ONLINE].cpu_kassad, ph[PH_ONLINE].wall_s),
               pct_of(ph[PH_OFFLINE].cpu_kassad, ph[PH_OFFLINE].wall_s),
               pct_of(ph[PH_CASH].cpu_kassad, ph[PH_CASH].wall_s),
               pct_of(ph[PH_ONLINE].cpu_proc, ph[PH_ONLINE].wall_s),
               pct_of(ph[PH_FLOOR].cpu_proc, ph[PH_FLOOR].wall_s),
               pct_of(ph[PH_FLOOR].cpu_reader, ph[PH_FLOOR].wall_s));
        printf("captures of the online payments drained %.2f s after the last checkout\n",
               b->capture_wait_s);
        printf("backlog: %zu stored payments (%zu more offline checkouts after the timed ones: "
               "%.0f checkouts/s)\n",
               b->stored, b->fill_n, fill_rate);
        printf("forwarding: %zu stored payments in %.2f s from the processor's start: %.0f "
               "payments/s (kassad CPU %.0f %%, processor %.0f %%)\n",
               b->stored, b->forward_s, fwd_rate, pct_of(b->forward_cpu_kassad, b->forward_s),
               pct_of(b->forward_cpu_proc, b->forward_s));
        printf("  meanwhile GET /api/v1/status every %zu ms: %zu polls, p50 %.2f ms, max %.2f ms "
               "(on kassad's event loop, like the forwarder)\n",
               b->opt.poll_ms, polls.n, polls.p50_ms, polls.max_ms);
        printf("processor ledger: %" PRId64 " payments, captures %" PRId64
               " (expected %zu), double captures %" PRId64 "; kassad review list %" PRId64
               " [%s]\n",
               b->ledger_payments, b->captures, b->stored, b->double_captures, b->review,
               b->ledger_ok ? "ok" : "FAILED");
    }
    if (!b->ledger_ok)
        printf("FAILED: the processor captured %" PRId64 " of %zu stored payments, %" PRId64
               " twice; %" PRId64 " in kassad's review list\n",
               b->captures, b->stored, b->double_captures, b->review);
    return b->ledger_ok ? 0 : 1;
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
    int rc = find_paths(b);
    if (rc == 0)
        rc = setup(b);
    if (rc == 0)
        rc = run(b);
    if (rc == 0)
        rc = report(b);
    hconn_free(&b->api);
    hconn_free(&b->pp);
    if (proc_stop(&b->kassad, 10) != 0)
        rc = 1;
    if (proc_stop(&b->reader, 5) != 0)
        rc = 1;
    if (proc_stop(&b->processor, 5) != 0)
        rc = 1;
    if (bench_remove_dir(b->dir, b->dir_created, b->opt.keep || rc != 0) != 0)
        rc = 1;
    for (int k = 0; k < PH_COUNT; k++)
        phase_free(&b->ph[k]);
    free(b->polls);
    return rc ? 1 : 0;
}
