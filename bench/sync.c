/*
 * bench/sync: store replication between 5 terminals on loopback, over the
 * real peer links (TLS 1.3, mutual certificate authentication), beside Yjs
 * doing the same catch-up in the same run.
 *
 *  1. Replication latency: a sale committed on T1 until it is applied on
 *     T5. T2..T4 are kassad processes; T1 and T5 run in this process, each
 *     on a thread of its own with its own event loop, database and peer
 *     mesh (the same src/peer code kassad runs), so the commit and the
 *     apply are timestamped where they happen, with no polling. T1 sells
 *     one sale every --interval-ms; the links form a full mesh, so T5 gets
 *     each sale straight from T1.
 *
 *  2. Catch-up: each of 5 terminals makes --sales one-line sales (1 unit
 *     of one of --skus SKUs: a counter per SKU and a sale record each)
 *     while apart; then 5 kassad processes start as a full mesh. Reported:
 *     time from start until every terminal holds every operation, and the
 *     bytes all links carried (TLS records included, from each kassad's
 *     peers.json totals) per sale made and per sale delivered (each sale
 *     reaches 4 terminals).
 *
 *  3. The same catch-up with Yjs (bench/yjs_sync.mjs: 5 Node processes,
 *     state-vector sync over loopback TCP, no TLS, no compression).
 *
 *   bench/sync [--sales N] [--skus S] [--latency-sales L] [--interval-ms I]
 *              [--no-yjs] [--json] [--keep]
 */
#define BENCH_NAME "sync"
#include "benchutil.h"
#include "benchstore.h"

#include "jlog/jlog.h"
#include "peer/peer.h"
#include "pki/pki.h"
#include "term/term.h"

#include <event2/event.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>

#define NODES 5

typedef struct options {
    size_t sales;         /* per terminal, catch-up */
    size_t skus;          /* catalog size */
    size_t latency_sales; /* sales timed T1 -> T5 */
    size_t interval_ms;   /* between latency sales */
    bool yjs;
    bool json;
    bool keep;
} options;

typedef struct bench {
    options opt;
    bench_store store;
} bench;

static bench B;

static void usage(FILE *f)
{
    fputs("usage: bench/sync [--sales N] [--skus S] [--latency-sales L] [--interval-ms I]\n"
          "                  [--no-yjs] [--json] [--keep]\n"
          "  --sales N          sales per terminal made apart, then caught up (100000)\n"
          "  --skus S           catalog size (1000)\n"
          "  --latency-sales L  sales timed from commit on T1 to apply on T5 (1000)\n"
          "  --interval-ms I    between two timed sales (5)\n"
          "  --no-yjs           skip the Yjs run\n" BENCH_USAGE_COMMON,
          f);
}

static int value_option(const char *a, const char *v, void *ctx)
{
    options *o = ctx;
    if (strcmp(a, "--sales") == 0)
        return parse_size(a, v, 1, 10000000, &o->sales);
    if (strcmp(a, "--skus") == 0)
        return parse_size(a, v, 1, 60000, &o->skus);
    if (strcmp(a, "--latency-sales") == 0)
        return parse_size(a, v, 10, 1000000, &o->latency_sales);
    if (strcmp(a, "--interval-ms") == 0)
        return parse_size(a, v, 0, 10000, &o->interval_ms);
    return -1;
}

/* ---- a store on disk: CA, certificates, terminals with one catalog ---- */

static int make_catalog(bench *b)
{
    b->store.items = bench_catalog(b->opt.skus, 1000000);
    return b->store.items ? 0 : fail("out of memory (catalog)");
}

static int make_store(bench *b, const char *phase)
{
    return bench_store_make(&b->store, b->store.dir, phase, b->store.items, b->opt.skus);
}

/* ---- one embedded terminal: a thread with its loop, term and mesh ---- */

typedef struct embedded {
    int index;
    term *t;
    pki_identity id;
    peer_mesh *mesh;
    struct event_base *base;
    struct event *timer;
    atomic_int links_up;
    atomic_bool stop;
    int error;
    /* T1: sells; T5: watches T1's ops arrive */
    bool seller;
    size_t sold, to_sell;
    uint64_t *commit_ns; /* by T1 seq - first_seq */
    uint64_t *apply_ns;
    uint64_t first_seq; /* T1's first timed seq */
    uint64_t seen_seq;  /* T5: T1's head seen so far */
    atomic_size_t applied;
    term_cart cart;
    term_sale_result res;
} embedded;

static char ROSTER[NODES][KASSA_ID_MAX + 1];

static void on_local_commit(void *ctx)
{
    embedded *e = ctx;
    peer_mesh_kick(e->mesh);
}

/* T5: operations arrived; timestamp every new seq of T1. */
static void on_applied(void *ctx, size_t n_ops)
{
    (void)n_ops;
    embedded *e = ctx;
    uint64_t now = now_ns();
    oplog_vv vv;
    kassa_err err;
    if (term_vv(e->t, &vv, &err) != KASSA_OK)
        return;
    uint64_t head = oplog_vv_get(&vv, "T1");
    oplog_vv_free(&vv);
    for (uint64_t s = e->seen_seq + 1; s <= head; s++)
        if (e->first_seq && s >= e->first_seq && s - e->first_seq < e->to_sell) {
            e->apply_ns[s - e->first_seq] = now;
            atomic_fetch_add(&e->applied, 1);
        }
    if (head > e->seen_seq)
        e->seen_seq = head;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    embedded *e = arg;
    peer_totals tot;
    peer_mesh_totals(e->mesh, &tot);
    atomic_store(&e->links_up, (int)tot.links_up);
    if (atomic_load(&e->stop)) {
        event_base_loopbreak(e->base);
        return;
    }
    if (!e->seller || !e->first_seq || e->sold >= e->to_sell)
        return;
    kassa_err err;
    e->cart.n_lines = 0;
    const char *sku = B.store.items[e->sold % B.opt.skus].sku;
    if (term_cart_add(&e->cart, sku, 1, &err) != KASSA_OK ||
        term_sale(e->t, &e->cart, 100000, &e->res, &err) != KASSA_OK) {
        e->error = bench_fail_kassa("term_sale", &err);
        event_base_loopbreak(e->base);
        return;
    }
    e->commit_ns[e->sold++] = now_ns();
}

static void *embedded_main(void *arg)
{
    embedded *e = arg;
    if (event_base_dispatch(e->base) != 0)
        e->error = fail("event loop failed");
    return NULL;
}

static int embedded_start(bench *b, embedded *e, int i, pthread_t *th)
{
    bench_node *n = &b->store.nodes[i];
    kassa_err err;
    e->index = i;
    if (term_open(n->data, &e->t, &err) != KASSA_OK ||
        pki_identity_load(n->cert, &e->id, &err) != KASSA_OK)
        return bench_fail_kassa(n->name, &err);
    e->base = event_base_new();
    if (!e->base)
        return fail("event_base_new");
    peer_config pc = {
        .listen_host = "127.0.0.1",
        .listen_port = (uint16_t)n->peer_port,
        .id = &e->id,
        .roster = (const char(*)[KASSA_ID_MAX + 1]) ROSTER,
        .n_roster = NODES,
        .anti_entropy_ms = 1000,
        .reconnect_min_ms = 100,
        .reconnect_max_ms = 2000,
        .idle_timeout_ms = 10000,
        .send_buffer_max_bytes = 4u << 20,
        .seed = (uint32_t)i + 1,
        .on_applied = e->seller ? NULL : on_applied,
        .ctx = e,
    };
    if (peer_mesh_start(e->base, e->t, &pc, &e->mesh, &err) != KASSA_OK)
        return bench_fail_kassa("peer_mesh_start", &err);
    for (int k = 0; k < NODES; k++)
        if (k != i &&
            peer_mesh_add_target(e->mesh, "127.0.0.1", (uint16_t)b->store.nodes[k].peer_port, NULL,
                                 &err) != KASSA_OK)
            return bench_fail_kassa("peer_mesh_add_target", &err);
    e->t->on_local_commit = on_local_commit;
    e->t->on_local_commit_ctx = e;
    struct timeval every = {0, (suseconds_t)(b->opt.interval_ms ? b->opt.interval_ms : 1) * 1000};
    e->timer = event_new(e->base, -1, EV_PERSIST, on_timer, e);
    if (!e->timer || event_add(e->timer, &every) != 0)
        return fail("timer");
    if (pthread_create(th, NULL, embedded_main, e) != 0)
        return fail("pthread_create");
    return 0;
}

static void embedded_free(embedded *e)
{
    if (e->timer)
        event_free(e->timer);
    peer_mesh_free(e->mesh);
    if (e->base)
        event_base_free(e->base);
    pki_identity_free(&e->id);
    term_close(e->t);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct latency {
    size_t n;
    double p50_ms, p99_ms, max_ms;
} latency;

static int run_latency(bench *b, latency *out)
{
    if (make_store(b, "latency") != 0)
        return 1;
    for (int i = 1; i < NODES - 1; i++)
        if (bench_store_start(&b->store, i) != 0)
            return 1;
    static embedded e1, e5;
    memset(&e1, 0, sizeof e1);
    memset(&e5, 0, sizeof e5);
    size_t n = b->opt.latency_sales;
    e1.seller = true;
    e1.to_sell = e5.to_sell = n;
    e1.commit_ns = calloc(n, sizeof(uint64_t));
    e5.apply_ns = calloc(n, sizeof(uint64_t));
    if (!e1.commit_ns || !e5.apply_ns)
        return fail("out of memory");
    pthread_t th1, th5;
    int rc = embedded_start(b, &e5, NODES - 1, &th5);
    bool t5 = rc == 0;
    if (rc == 0)
        rc = embedded_start(b, &e1, 0, &th1);
    bool t1 = t5 && rc == 0;
    /* Wait for the full mesh: 4 links on both embedded terminals. */
    for (int waited = 0; rc == 0; waited += 20) {
        if (atomic_load(&e1.links_up) == NODES - 1 && atomic_load(&e5.links_up) == NODES - 1)
            break;
        if (waited > 15000)
            rc = fail("the mesh did not form within 15 s (T1 %d links, T5 %d)",
                      atomic_load(&e1.links_up), atomic_load(&e5.links_up));
        sleep_ms(20);
    }
    if (rc == 0) {
        /* T1's next seq is the first timed one: set before selling starts
         * (the seller thread reads it on its next tick). */
        oplog_vv vv;
        kassa_err err;
        sqlite3 *db;
        char path[BENCH_PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/kassa.db", b->store.nodes[0].data);
        /* Read T1's head from a connection of our own: e1.t belongs to
         * its thread. */
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
            rc = fail("open %s", path);
        sqlite3_stmt *st = NULL;
        uint64_t head = 0;
        if (rc == 0 &&
            sqlite3_prepare_v2(db, "SELECT head_seq FROM origins WHERE name = 'T1'", -1, &st,
                               NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            head = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        (void)vv, (void)err;
        e5.first_seq = head + 1;
        e1.first_seq = head + 1;
        for (int waited = 0; rc == 0 && atomic_load(&e5.applied) < n; waited += 10) {
            if (e1.error || e5.error)
                rc = 1;
            else if (waited > (int)(n * (b->opt.interval_ms + 5)) + 20000)
                rc = fail("T5 applied %zu of %zu sales", atomic_load(&e5.applied), n);
            sleep_ms(10);
        }
    }
    atomic_store(&e1.stop, true);
    atomic_store(&e5.stop, true);
    if (t1)
        pthread_join(th1, NULL);
    if (t5)
        pthread_join(th5, NULL);
    embedded_free(&e1);
    embedded_free(&e5);
    bench_store_stop_all(&b->store);
    if (rc == 0) {
        uint64_t *d = calloc(n, sizeof *d);
        if (!d)
            return fail("out of memory");
        for (size_t i = 0; i < n; i++)
            d[i] = e5.apply_ns[i] - e1.commit_ns[i];
        qsort(d, n, sizeof *d, cmp_u64);
        out->n = n;
        out->p50_ms = (double)d[n / 2] / 1e6;
        out->p99_ms = (double)d[(n * 99) / 100] / 1e6;
        out->max_ms = (double)d[n - 1] / 1e6;
        free(d);
    }
    free(e1.commit_ns);
    free(e5.apply_ns);
    return rc;
}

/* ---- catch-up ---- */

typedef struct catchup {
    double make_s;     /* making the sales, all terminals */
    double converge_s; /* from starting the daemons to every op everywhere */
    double cpu_s;      /* CPU used by the 5 daemons until then */
    double rss_max_mb; /* the largest daemon's peak resident memory */
    uint64_t wire_bytes;
    uint64_t sales;
    double bytes_per_sale, bytes_per_delivered;
    uint64_t ops_total;
} catchup;

static int make_sales(bench *b, int i, uint64_t *head)
{
    kassa_err err;
    term *t;
    if (term_open(b->store.nodes[i].data, &t, &err) != KASSA_OK)
        return bench_fail_kassa("term_open", &err);
    static term_cart cart;
    static term_sale_result res;
    uint64_t rng = 0x5eed0000u + (uint64_t)i;
    int rc = 0;
    for (size_t s = 0; rc == 0 && s < b->opt.sales; s += 1000) {
        if (term_batch_begin(t, &err) != KASSA_OK) {
            rc = bench_fail_kassa("batch", &err);
            break;
        }
        for (size_t k = s; rc == 0 && k < s + 1000 && k < b->opt.sales; k++) {
            cart.n_lines = 0;
            const char *sku = b->store.items[splitmix64(&rng) % b->opt.skus].sku;
            if (term_cart_add(&cart, sku, 1, &err) != KASSA_OK ||
                term_sale(t, &cart, 100000, &res, &err) != KASSA_OK)
                rc = bench_fail_kassa("term_sale", &err);
        }
        if (rc == 0 && term_batch_commit(t, &err) != KASSA_OK)
            rc = bench_fail_kassa("batch commit", &err);
        else if (rc != 0)
            term_batch_rollback(t);
    }
    oplog_vv vv;
    if (rc == 0 && term_vv(t, &vv, &err) == KASSA_OK) {
        *head = oplog_vv_get(&vv, b->store.nodes[i].name);
        oplog_vv_free(&vv);
    }
    term_close(t);
    return rc;
}

/* A read-only connection to a terminal's database, held open while the
 * catch-up is watched (opening one per poll would cost the daemons CPU). */
typedef struct watcher {
    sqlite3 *db;
    sqlite3_stmt *held; /* sum of every origin's head */
} watcher;

static int watcher_open(watcher *w, const bench_node *n)
{
    char path[BENCH_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/kassa.db", n->data);
    if (sqlite3_open_v2(path, &w->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(w->db, "SELECT sum(head_seq) FROM origins", -1, &w->held, NULL) !=
            SQLITE_OK)
        return fail("%s: %s", path, sqlite3_errmsg(w->db));
    sqlite3_busy_timeout(w->db, 100);
    return 0;
}

static void watcher_close(watcher *w)
{
    sqlite3_finalize(w->held);
    sqlite3_close(w->db);
}

/* Operations the terminal holds (-1 when the database is busy). */
static int64_t ops_held(watcher *w)
{
    int64_t v = sqlite3_step(w->held) == SQLITE_ROW ? sqlite3_column_int64(w->held, 0) : -1;
    sqlite3_reset(w->held);
    return v;
}

/* bytes_sent from a kassad's peers.json totals (-1 when unreadable). */
static int64_t bytes_sent(const bench_node *n)
{
    char path[BENCH_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/peers.json", n->data);
    json_t *doc = json_load_file(path, 0, NULL);
    json_t *v = json_object_get(json_object_get(doc, "totals"), "bytes_sent");
    int64_t r = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
    json_decref(doc);
    return r;
}

static int run_catchup(bench *b, catchup *out)
{
    if (make_store(b, "catchup") != 0)
        return 1;
    uint64_t t0 = now_ns(), want = 0;
    for (int i = 0; i < NODES; i++) {
        uint64_t head = 0;
        if (make_sales(b, i, &head) != 0)
            return 1;
        want += head;
    }
    out->make_s = (double)(now_ns() - t0) / 1e9;
    out->ops_total = want;
    out->sales = (uint64_t)b->opt.sales * NODES;
    uint64_t start = now_ns();
    for (int i = 0; i < NODES; i++)
        if (bench_store_start(&b->store, i) != 0) {
            bench_store_stop_all(&b->store);
            return 1;
        }
    int rc = 0;
    static watcher w[NODES];
    for (int i = 0; rc == 0 && i < NODES; i++)
        rc = watcher_open(&w[i], &b->store.nodes[i]);
    while (rc == 0) {
        int done = 0;
        for (int i = 0; i < NODES; i++)
            done += ops_held(&w[i]) == (int64_t)want;
        if (done == NODES)
            break;
        if (now_ns() - start > 300ull * 1000000000ull) {
            rc = fail("not converged after 300 s");
            break;
        }
        sleep_ms(10);
    }
    for (int i = 0; i < NODES; i++)
        watcher_close(&w[i]);
    out->converge_s = (double)(now_ns() - start) / 1e9;
    out->cpu_s = 0;
    out->rss_max_mb = 0;
    for (int i = 0; i < NODES; i++) {
        out->cpu_s += proc_cpu_s(b->store.nodes[i].pid);
        double mb = proc_peak_rss_mb(b->store.nodes[i].pid);
        if (mb > out->rss_max_mb)
            out->rss_max_mb = mb;
    }
    /* peers.json is rewritten each second: wait for one written after. */
    sleep_ms(2100);
    out->wire_bytes = 0;
    for (int i = 0; rc == 0 && i < NODES; i++) {
        int64_t v = bytes_sent(&b->store.nodes[i]);
        if (v < 0)
            rc = fail("no totals in %s/peers.json", b->store.nodes[i].data);
        out->wire_bytes += (uint64_t)v;
    }
    bench_store_stop_all(&b->store);
    if (rc != 0) {
        for (int i = 0; i < NODES; i++)
            print_tail(b->store.nodes[i].log);
        return rc;
    }
    out->bytes_per_sale = (double)out->wire_bytes / (double)out->sales;
    out->bytes_per_delivered = out->bytes_per_sale / (NODES - 1);
    return 0;
}

/* ---- Yjs ---- */

static int run_yjs(bench *b, json_t **out)
{
    char script[BENCH_PATH_MAX + 32], log[BENCH_PATH_MAX + 16], sales[24], skus[24];
    snprintf(script, sizeof script, "%s/bench/yjs_sync.mjs", b->store.root);
    snprintf(log, sizeof log, "%s/yjs.out", b->store.dir);
    snprintf(sales, sizeof sales, "%zu", b->opt.sales);
    snprintf(skus, sizeof skus, "%zu", b->opt.skus);
    char node_bin[] = "/usr/bin/node";
    const char *nb = access(node_bin, X_OK) == 0 ? node_bin : "/usr/local/bin/node";
    char *argv[] = {(char *)nb, script, "--sales", sales, "--skus", skus, NULL};
    return bench_run_peer(argv, b->store.root, log, out);
}

static double jnum(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

int main(int argc, char **argv)
{
    bench *b = &B;
    b->opt = (options){
        .sales = 100000, .skus = 1000, .latency_sales = 1000, .interval_ms = 5, .yjs = true};
    if (bench_take_flag(&argc, argv, "--no-yjs"))
        b->opt.yjs = false;
    if (bench_parse_options(argc, argv, &b->opt.json, &b->opt.keep, usage, value_option, &b->opt))
        return 2;
    if (sodium_init() < 0)
        return fail("libsodium");
    signal(SIGPIPE, SIG_IGN);
    jlog_set_level(JLOG_ERROR);
    for (int i = 0; i < NODES; i++)
        snprintf(ROSTER[i], sizeof ROSTER[i], "T%d", i + 1);
    if (bench_store_paths(&b->store) != 0)
        return 1;
    if (bench_make_workdir(NULL, b->store.dir, sizeof b->store.dir, &b->store.dir_created) != 0)
        return 1;
    latency lat = {0};
    catchup cu = {0};
    json_t *yjs = NULL;
    b->store.n_nodes = NODES;
    int rc = make_catalog(b);
    if (rc == 0)
        rc = run_latency(b, &lat);
    if (rc == 0)
        rc = run_catchup(b, &cu);
    if (rc == 0 && b->opt.yjs)
        rc = run_yjs(b, &yjs);
    if (rc == 0 && b->opt.json) {
        json_t *o = json_pack(
            "{s:s,s:i,s:{s:I,s:f,s:f,s:f},s:{s:I,s:f,s:f,s:f,s:f,s:I,s:f,s:f},s:O}", "bench",
            "sync", "terminals", NODES, "latency", "sales", (json_int_t)lat.n, "p50_ms", lat.p50_ms,
            "p99_ms", lat.p99_ms, "max_ms", lat.max_ms, "catchup", "sales_per_terminal",
            (json_int_t)b->opt.sales, "make_s", cu.make_s, "converge_s", cu.converge_s, "cpu_s",
            cu.cpu_s, "rss_max_mb", cu.rss_max_mb, "wire_bytes", (json_int_t)cu.wire_bytes,
            "bytes_per_sale", cu.bytes_per_sale, "bytes_per_delivered_sale", cu.bytes_per_delivered,
            "yjs", yjs ? yjs : json_null());
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (s)
            puts(s);
        free(s);
        json_decref(o);
    } else if (rc == 0) {
        printf("bench/sync: %d terminals on loopback, TLS 1.3 with mutual authentication\n", NODES);
        printf("\nreplication latency, commit on T1 -> applied on T5 (%zu sales, one every %zu "
               "ms):\n  p50 %.2f ms   p99 %.2f ms   max %.2f ms   (target p99 <= 10 ms)\n",
               lat.n, b->opt.interval_ms, lat.p50_ms, lat.p99_ms, lat.max_ms);
        printf("\ncatch-up: %d terminals x %zu one-line sales made apart (%zu SKUs), then a full "
               "mesh\n",
               NODES, b->opt.sales, b->opt.skus);
        printf("  %-34s %14s %14s\n", "", "kassa", yjs ? "yjs" : "");
        if (yjs)
            printf("  %-34s %14s %14s\n", "version", "",
                   json_string_value(json_object_get(yjs, "version")));
        printf("  %-34s %14.2f", "time to converge (s, target <= 3)", cu.converge_s);
        if (yjs)
            printf(" %14.2f", jnum(yjs, "catchup_ms") / 1000.0);
        printf("\n  %-34s %14llu", "bytes on the wire", (unsigned long long)cu.wire_bytes);
        if (yjs)
            printf(" %14.0f", jnum(yjs, "wire_bytes"));
        printf("\n  %-34s %14.1f", "bytes per sale made", cu.bytes_per_sale);
        if (yjs)
            printf(" %14.1f", jnum(yjs, "bytes_per_sale"));
        printf("\n  %-34s %14.1f", "bytes per sale delivered (target <= 40)",
               cu.bytes_per_delivered);
        if (yjs)
            printf(" %14.1f", jnum(yjs, "bytes_per_delivered_sale"));
        printf("\n  %-34s %14.2f", "CPU of the 5 replicas (s)", cu.cpu_s);
        printf("\n  %-34s %14.1f", "peak memory of a replica (MB)", cu.rss_max_mb);
        if (yjs)
            printf(" %14.1f", jnum(yjs, "rss_max_mb"));
        printf("\n  %-34s %14.2f", "making the sales (s)", cu.make_s);
        if (yjs)
            printf(" %14.2f", jnum(yjs, "local_ms") / 1000.0);
        printf("\n");
    }
    json_decref(yjs);
    bench_store_stop_all(&b->store);
    free(b->store.items);
    if (bench_remove_dir(b->store.dir, b->store.dir_created, b->opt.keep || rc != 0) != 0 &&
        rc == 0)
        rc = 1;
    return rc;
}
