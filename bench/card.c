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
#include <sys/un.h>

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
    bench_term t; /* paths, working directory, terminal, kassad */
    char keys[BENCH_PATH_MAX + 32];
    char socket[BENCH_PATH_MAX + 32];
    char ini[BENCH_PATH_MAX + 32];
    bench_proc processor, reader;
    int api_port, proc_port;
    bench_http api, pp; /* kassad (logged in), the processor */
    double loadavg;
    int64_t price; /* the cart total of one line */
    uint64_t card_seq;
    phase ph[PH_COUNT];
    double capture_wait_s; /* after the online phase, until due_count = 0 */
    size_t stored;         /* offline card payments made */
    double fill_s;         /* the untimed offline checkouts after the timed ones */
    size_t fill_n;
    double forward_s;
    bench_samples polls; /* GET /api/v1/status while forwarding, ns */
    double forward_cpu_kassad, forward_cpu_proc;
    int64_t captures, double_captures, ledger_payments, review;
    bool ledger_ok;
} bench;

static bench B;

/* ---- small helpers ---- */

static uint64_t sum_ns(const uint64_t *v, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
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

/* ---- HTTP (benchutil.h's client) ---- */

/* A connection to a server on a loopback port. */
static void http_init(bench_http *c, const char *name, int port)
{
    struct sockaddr_in a = bench_loopback(port);
    bench_http_init(c, name, &a, "127.0.0.1");
}

/* Reports the last failure on c. */
static int http_failed(const bench_http *c)
{
    return fail("%s: %s", c->name, c->err);
}

/* A request (body: JSON, or NULL) that must answer want; else reported. */
static int call(bench_http *c, const char *method, const char *path, const char *body, int want)
{
    return bench_http_call(c, method, path, body, want) == 0 ? 0 : http_failed(c);
}

/* The last body as JSON (NULL, reported, when it is not). */
static json_t *body_json(const bench_http *c)
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
    struct timeval tv = {BENCH_IO_TIMEOUT_S, 0};
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
    if (bench_send_all(fd, line, n) != 0) {
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
    if (call(&b->api, "GET", "/api/v1/status", NULL, 200) != 0)
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

typedef enum { PAY_CASH, PAY_CARD_ONLINE, PAY_CARD_OFFLINE } pay_kind;

/* One checkout: cart, line, pay. *pay_ns: the paying request; *whole_ns:
 * the three. The answer's card mode must be the expected one. */
static int checkout(bench *b, pay_kind kind, uint64_t *pay_ns, uint64_t *whole_ns)
{
    bench_http *c = &b->api;
    char cart[96], path[192], body[160];
    uint64_t t0 = now_ns();
    if (call(c, "POST", "/api/v1/carts", NULL, 201) != 0)
        return 1;
    if (bench_http_field(c, "cart_id", cart, sizeof cart, NULL) != 0)
        return http_failed(c);
    snprintf(path, sizeof path, "/api/v1/carts/%s/lines", cart);
    if (call(c, "POST", path, "{\"barcode\":\"" ITEM_BARCODE "\"}", 200) != 0)
        return 1;
    int64_t total = 0;
    if (bench_http_field(c, "total_minor", NULL, 0, &total) != 0)
        return http_failed(c);
    b->price = total;
    snprintf(path, sizeof path, "/api/v1/carts/%s/checkout", cart);
    if (kind == PAY_CASH)
        snprintf(body, sizeof body, "{\"tendered_minor\":%" PRId64 "}", total);
    else
        snprintf(body, sizeof body, "{\"tendered_minor\":0,\"card_minor\":%" PRId64 "}", total);
    uint64_t t1 = now_ns();
    if (bench_http_request(c, "POST", path, body, strlen(body)) != 0)
        return http_failed(c);
    uint64_t t2 = now_ns();
    if (bench_http_expect(c, 201, "POST", path) != 0)
        return http_failed(c);
    *pay_ns = t2 - t1;
    *whole_ns = t2 - t0;
    json_t *root = body_json(c);
    if (!root)
        return 1;
    int64_t paid = -1;
    int rc = json_int_at(root, "total_minor", &paid);
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
    if (pay_auth_req_encode(&a, &body, &err) != KASSA_OK) {
        kbuf_free(&body);
        return fail("pay_auth_req_encode: %s", err.msg);
    }
    rc = bench_http_request(&b->pp, "POST", "/v1/payments", body.data, body.len);
    kbuf_free(&body);
    uint64_t t2 = now_ns();
    if (rc != 0 || bench_http_expect(&b->pp, 200, "POST", "/v1/payments") != 0)
        return http_failed(&b->pp);
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
    if (bench_term_paths(&b->t, b->opt.root, true) != 0)
        return 1;
    const char *bins[] = {"kassa", "kassad", "kassa-reader-sim", "kassa-processor-sim"};
    for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++) {
        char probe[BENCH_PATH_MAX + 64];
        snprintf(probe, sizeof probe, "%s/bin/%s", b->t.build, bins[i]);
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
    snprintf(bin, sizeof bin, "%s/bin/kassa-processor-sim", b->t.build);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    struct stat sb;
    off_t before = stat(b->processor.log, &sb) == 0 ? sb.st_size : 0;
    char *argv[] = {bin, "--listen", listen, "--key-dir", b->keys, NULL};
    if (bench_proc_start(&b->processor, argv, b->t.dir) != 0)
        return 1;
    uint64_t deadline = now_ns() + 10000000000ull;
    for (;;) {
        if (bench_proc_died(&b->processor))
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
        if (now_ns() > deadline || bench_stopping()) {
            print_tail(b->processor.log);
            return fail("the processor simulator did not log its start within 10 s");
        }
        bench_sleep_ms(5);
    }
}

static int start_reader(bench *b)
{
    char bin[BENCH_PATH_MAX + 32], pub[BENCH_PATH_MAX + 64], tok[BENCH_PATH_MAX + 32];
    snprintf(bin, sizeof bin, "%s/bin/kassa-reader-sim", b->t.build);
    snprintf(pub, sizeof pub, "%s/processor.pub", b->keys);
    snprintf(tok, sizeof tok, "%s/token.key", b->t.dir);
    char card[] = DEFAULT_CARD; /* the reader wipes its argv copy, not ours */
    char *argv[] = {bin, "--socket", b->socket, "--processor-key", pub,         "--token-key",
                    tok, "--card",   card,      "--expiry",        CARD_EXPIRY, NULL};
    if (bench_proc_start(&b->reader, argv, b->t.dir) != 0)
        return 1;
    uint64_t deadline = now_ns() + 10000000000ull;
    for (;;) {
        struct stat sb;
        if (stat(b->socket, &sb) == 0 && S_ISSOCK(sb.st_mode))
            return 0;
        if (bench_proc_died(&b->reader))
            return fail("the reader simulator did not start");
        if (now_ns() > deadline || bench_stopping()) {
            print_tail(b->reader.log);
            return fail("the reader simulator made no socket within 10 s");
        }
        bench_sleep_ms(5);
    }
}

static int wait_healthy(bench *b)
{
    struct sockaddr_in a = bench_loopback(b->api_port);
    return bench_wait_healthy(&b->t.kassad, &a, "127.0.0.1", 15, true);
}

static int setup(bench *b)
{
    bench_term *t = &b->t;
    if (bench_term_workdir(t, b->opt.parent_dir) != 0)
        return 1;
    snprintf(b->keys, sizeof b->keys, "%s/processor-keys", t->dir);
    snprintf(b->socket, sizeof b->socket, "%s/reader.sock", t->dir);
    snprintf(b->ini, sizeof b->ini, "%s/kassad.ini", t->dir);
    b->processor.name = "kassa-processor-sim";
    b->reader.name = "kassa-reader-sim";
    snprintf(b->processor.log, sizeof b->processor.log, "%s/processor.log", t->dir);
    snprintf(b->reader.log, sizeof b->reader.log, "%s/reader.log", t->dir);
    struct sockaddr_un sa;
    if (strlen(b->socket) >= sizeof sa.sun_path)
        return fail("%s: too long for a Unix socket (pass a shorter --dir)", b->socket);

    if (bench_term_init(t) != 0 ||
        bench_kassa(t, "stock", "receive", ITEM_SKU ":" STOCK_RECEIVED, NULL) != 0 ||
        bench_kassa(t, "cashier", "add", CASHIER, "--name", "Bench cashier", "--role", "cashier",
                    "--pin", CASHIER_PIN, NULL) != 0)
        return 1;
    char bin[BENCH_PATH_MAX + 32];
    snprintf(bin, sizeof bin, "%s/bin/kassa-processor-sim", t->build);
    char *keygen[] = {bin, "keygen", "--out", b->keys, NULL};
    if (bench_run(keygen, t->dir, b->processor.log) != 0)
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

    if (bench_term_start(t, b->ini, t->dir, &b->api_port) != 0 || wait_healthy(b) != 0)
        return 1;
    http_init(&b->api, "kassad", b->api_port);
    http_init(&b->pp, "kassa-processor-sim", b->proc_port);
    return bench_http_login(&b->api, CASHIER, CASHIER_PIN) == 0 ? 0 : http_failed(&b->api);
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
    if (bench_stopping()) {
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
    return (cpu_mark){bench_proc_cpu(&b->t.kassad), bench_proc_cpu(&b->processor),
                      bench_proc_cpu(&b->reader), now_ns()};
}

static void phase_cpu(bench *b, phase *p, const cpu_mark *m0)
{
    cpu_mark m1 = mark(b);
    p->cpu_kassad = bench_cpu_delta(m0->kassad, m1.kassad);
    p->cpu_proc = bench_cpu_delta(m0->processor, m1.processor);
    p->cpu_reader = bench_cpu_delta(m0->reader, m1.reader);
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
            bench_proc_died(&b->t.kassad);
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
            if (bench_samples_push(&b->polls, now_ns() - s0) != 0)
                return fail("out of memory");
        }
        if (pending == 0 && due == 0) {
            *secs = (double)(now_ns() - t0) / 1e9;
            return 0;
        }
        if (now_ns() > deadline)
            return fail("after %u s, %" PRId64 " payments still pending and %" PRId64 " due",
                        limit_s, pending, due);
        if (bench_proc_died(&b->t.kassad) || bench_proc_died(&b->processor))
            return 1;
        bench_sleep_ms((long)b->opt.poll_ms);
    }
}

static int run_offline(bench *b)
{
    /* The processor goes away; kassad finds out at its next call. */
    bench_http_close(&b->pp);
    if (bench_proc_stop(&b->processor, 10) != 0)
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
    if (call(&b->api, "POST", "/api/v1/payments/forward", "{}", 202) != 0)
        return 1;
    double secs;
    int64_t review = 0;
    if (wait_drained(b, FORWARD_WAIT_S, &secs, &review, true) != 0)
        return 1;
    b->forward_s = (double)(now_ns() - t0) / 1e9;
    cpu_mark m1 = mark(b);
    b->forward_cpu_kassad = bench_cpu_delta(m0.kassad, m1.kassad);
    b->forward_cpu_proc = bench_cpu_delta(m0.processor, m1.processor);
    bench_http_close(&b->pp);
    if (call(&b->pp, "GET", "/v1/ledger", NULL, 200) != 0)
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
    b->loadavg = bench_load_average();
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

static const bench_table TABLE = {44, 7, 3};

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
    bench_stats online, offline, cash, flo, rd, au, w_on, w_off, w_cash, tail, polls;
    if (bench_stats_of(b->polls.v, b->polls.n, &polls) != 0)
        return 1;
    phase *ph = b->ph;
    /* The last offline checkouts of the backlog, as many as were timed. */
    size_t tail_n = ph[PH_FILL].n < b->opt.n ? ph[PH_FILL].n : b->opt.n;
    if (bench_stats_of(ph[PH_FILL].pay + (ph[PH_FILL].n - tail_n), tail_n, &tail) != 0)
        return 1;
    if (bench_stats_of(ph[PH_ONLINE].pay, ph[PH_ONLINE].n, &online) != 0 ||
        bench_stats_of(ph[PH_OFFLINE].pay, ph[PH_OFFLINE].n, &offline) != 0 ||
        bench_stats_of(ph[PH_CASH].pay, ph[PH_CASH].n, &cash) != 0 ||
        bench_stats_of(ph[PH_FLOOR].pay, ph[PH_FLOOR].n, &flo) != 0 ||
        bench_stats_of(ph[PH_FLOOR].read, ph[PH_FLOOR].n, &rd) != 0 ||
        bench_stats_of(ph[PH_FLOOR].auth, ph[PH_FLOOR].n, &au) != 0 ||
        bench_stats_of(ph[PH_ONLINE].whole, ph[PH_ONLINE].n, &w_on) != 0 ||
        bench_stats_of(ph[PH_OFFLINE].whole, ph[PH_OFFLINE].n, &w_off) != 0 ||
        bench_stats_of(ph[PH_CASH].whole, ph[PH_CASH].n, &w_cash) != 0)
        return 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double fwd_rate = b->forward_s > 0 ? (double)b->stored / b->forward_s : 0;
    double fill_rate = b->fill_s > 0 ? (double)b->fill_n / b->fill_s : 0;
    if (b->opt.json) {
        json_t *o =
            json_pack("{s:s,s:I,s:I,s:I,s:I,s:s,s:f,s:I}", "bench", "card", "cpus",
                      (json_int_t)cpus, "n", (json_int_t)b->opt.n, "warmup",
                      (json_int_t)b->opt.warmup, "backlog", (json_int_t)b->stored, "fs",
                      b->t.fs_name, "loadavg", b->loadavg, "price_minor", (json_int_t)b->price);
        if (!o)
            return fail("out of memory");
        json_object_set_new(o, "card_online_ms", bench_stats_json(&online));
        json_object_set_new(o, "card_offline_ms", bench_stats_json(&offline));
        json_object_set_new(o, "card_offline_backlog_tail_ms", bench_stats_json(&tail));
        json_object_set_new(o, "cash_ms", bench_stats_json(&cash));
        json_object_set_new(o, "floor_ms", bench_stats_json(&flo));
        json_object_set_new(o, "floor_read_ms", bench_stats_json(&rd));
        json_object_set_new(o, "floor_auth_ms", bench_stats_json(&au));
        json_object_set_new(o, "checkout_online_ms", bench_stats_json(&w_on));
        json_object_set_new(o, "checkout_offline_ms", bench_stats_json(&w_off));
        json_object_set_new(o, "checkout_cash_ms", bench_stats_json(&w_cash));
        json_object_set_new(o, "online_per_s", json_real(per_s(&ph[PH_ONLINE])));
        json_object_set_new(o, "offline_per_s", json_real(per_s(&ph[PH_OFFLINE])));
        json_object_set_new(o, "cash_per_s", json_real(per_s(&ph[PH_CASH])));
        json_object_set_new(o, "overhead_online_p50_ms", json_real(online.p50_ms - flo.p50_ms));
        json_object_set_new(o, "capture_wait_s", json_real(b->capture_wait_s));
        json_object_set_new(o, "forward_s", json_real(b->forward_s));
        json_object_set_new(o, "forward_per_s", json_real(fwd_rate));
        json_object_set_new(o, "forward_status_poll_ms", bench_stats_json(&polls));
        json_object_set_new(o, "review_count", json_integer(b->review));
        json_object_set_new(o, "captures", json_integer(b->captures));
        json_object_set_new(o, "double_captures", json_integer(b->double_captures));
        json_object_set_new(o, "ledger_ok", json_boolean(b->ledger_ok));
        if (bench_print_json(o) != 0)
            return 1;
    } else {
        printf("kassa bench/card  (kassad 127.0.0.1:%d, processor 127.0.0.1:%d, dir: %s, "
               "N=%zu after %zu warm-up, backlog %zu, %ld CPUs, load average %.2f)\n",
               b->api_port, b->proc_port, b->t.dir, b->opt.n, b->opt.warmup, b->stored, cpus,
               b->loadavg);
        bench_print_fs(b->t.fs_name, b->t.fs_is_ram);
        printf("config: one cashier, one keep-alive connection, checkouts one after another; "
               "1 line of %s (%" PRId64 " minor);\n"
               "        [payments] processor_timeout_ms 1000, offline_max_per_card %d, "
               "offline limits 10^13, forward_retry 100..1000 ms;\n"
               "        each card read is of a new card presented to the reader just before "
               "(untimed)\n",
               ITEM_SKU, b->price, PER_CARD_MAX);
        bench_table_head(&TABLE);
        bench_table_row(&TABLE, "card online  POST .../checkout", &online);
        bench_table_row(&TABLE, "card offline POST .../checkout", &offline);
        if (tail.n) {
            char name[64];
            snprintf(name, sizeof name, "  the same, backlog %zu..%zu", b->stored - tail.n + 1,
                     b->stored);
            bench_table_row(&TABLE, name, &tail);
        }
        bench_table_row(&TABLE, "cash         POST .../checkout", &cash);
        bench_table_row(&TABLE, "floor: reader read + processor authorise", &flo);
        bench_table_row(&TABLE, "  reader read (Unix socket)", &rd);
        bench_table_row(&TABLE, "  processor POST /v1/payments", &au);
        bench_table_row(&TABLE, "whole checkout, card online (cart,line,pay)", &w_on);
        bench_table_row(&TABLE, "whole checkout, card offline", &w_off);
        bench_table_row(&TABLE, "whole checkout, cash", &w_cash);
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

int main(int argc, char **argv)
{
    bench *b = &B;
    bench_catch_signals();
    b->api.fd = b->pp.fd = -1;
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
    bench_http_free(&b->api);
    bench_http_free(&b->pp);
    if (bench_proc_stop(&b->t.kassad, 10) != 0)
        rc = 1;
    if (bench_proc_stop(&b->reader, 5) != 0)
        rc = 1;
    if (bench_proc_stop(&b->processor, 5) != 0)
        rc = 1;
    if (bench_remove_dir(b->t.dir, b->t.dir_created, b->opt.keep || rc != 0) != 0)
        rc = 1;
    for (int k = 0; k < PH_COUNT; k++)
        phase_free(&b->ph[k]);
    free(b->polls.v);
    return rc ? 1 : 0;
}
