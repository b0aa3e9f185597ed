/*
 * bench/failover: how fast a store's terminals agree on a new Raft leader
 * after the leader dies, and whether they elect spuriously in steady
 * operation, beside etcd doing the same in the same run.
 *
 *  1. Failover: 5 kassad terminals on loopback (static full mesh, TLS peer
 *     links). --kills times: find the leader, kill -9 it, and take the time
 *     until every survivor has agreed on the same new leader at a higher
 *     term. Each terminal logs one "raft"/"state" line per change of role,
 *     term or leader, with a millisecond wall-clock timestamp: agreement is
 *     the latest of the survivors' first lines naming the new leader, so
 *     the figure does not depend on a polling period. The killed terminal
 *     is then restarted from its data and the next round waits until all
 *     five agree again.
 *  2. Steady: --steady-s seconds of sales, --rate per terminal per second,
 *     no faults; every election started (a pre-candidate or candidate line)
 *     is a spurious one. The sales are committed by this program straight
 *     into each terminal's database, which its kassad notices (SQLite
 *     data_version) and replicates as it does a checkout's.
 *  3. etcd (bench/etcd_failover.sh, Debian's etcd-server) with 3 and 5
 *     members, --heartbeat-interval=60 --election-timeout=300, the same
 *     kills and steady time.
 *
 *   bench/failover [--kills N] [--steady-s S] [--rate R] [--no-etcd]
 *                  [--json] [--keep]
 */
#define BENCH_NAME "failover"
#include "benchutil.h"
#include "benchstore.h"

#include "jlog/jlog.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>

#define NODES 5
#define KILLS_MAX 1000

typedef struct options {
    size_t kills;
    size_t steady_s;
    size_t rate; /* sales per second per terminal */
    bool etcd;
    bool json;
    bool keep;
} options;

typedef struct bench {
    options opt;
    bench_store store;
    long log_offset[NODES]; /* where a terminal's log is read from */
} bench;

static bench B;

static void usage(FILE *f)
{
    fputs("usage: bench/failover [--kills N] [--steady-s S] [--rate R] [--no-etcd] [--json] "
          "[--keep]\n"
          "  --kills N      leader kills (50)\n"
          "  --steady-s S   seconds of sales without faults, counting elections (600)\n"
          "  --rate R       sales per second per terminal in the steady phase (50)\n"
          "  --no-etcd      skip etcd\n" BENCH_USAGE_COMMON,
          f);
}

static int value_option(const char *a, const char *v, void *ctx)
{
    options *o = ctx;
    if (strcmp(a, "--kills") == 0)
        return parse_size(a, v, 1, KILLS_MAX, &o->kills);
    if (strcmp(a, "--steady-s") == 0)
        return parse_size(a, v, 0, 86400, &o->steady_s);
    if (strcmp(a, "--rate") == 0)
        return parse_size(a, v, 1, 1000, &o->rate);
    return -1;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- reading the terminals' Raft lines ---- */

typedef struct raft_line {
    int64_t ts_ms;
    char role[16];
    uint64_t term;
    char leader[KASSA_ID_MAX + 1];
} raft_line;

/* "2026-11-29T03:17:58.683Z" to ms since the epoch; -1 if malformed. */
static int64_t iso_ms(const char *s)
{
    struct tm tm = {0};
    int ms;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Calls fn for each "raft"/"state" line of node i's log from byte from. */
static void scan_raft(bench *b, int i, long from, void (*fn)(const raft_line *, void *), void *ctx)
{
    FILE *f = fopen(b->store.nodes[i].log, "r");
    if (!f)
        return;
    if (fseek(f, from, SEEK_SET) != 0) {
        fclose(f);
        return;
    }
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"component\":\"raft\"") || !strstr(line, "\"event\":\"state\""))
            continue;
        json_t *o = json_loads(line, 0, NULL);
        raft_line r = {.ts_ms = iso_ms(json_string_value(json_object_get(o, "ts"))),
                       .term = (uint64_t)json_integer_value(json_object_get(o, "term"))};
        snprintf(r.role, sizeof r.role, "%s", json_string_value(json_object_get(o, "role")));
        snprintf(r.leader, sizeof r.leader, "%s",
                 json_string_value(json_object_get(o, "leader")) ?: "");
        json_decref(o);
        if (r.ts_ms >= 0)
            fn(&r, ctx);
    }
    fclose(f);
}

static void keep_last(const raft_line *r, void *ctx)
{
    *(raft_line *)ctx = *r;
}

typedef struct first_naming {
    const char *leader;
    uint64_t term;
    int64_t ts_ms; /* -1 until found */
} first_naming;

static void find_first(const raft_line *r, void *ctx)
{
    first_naming *fn = ctx;
    if (fn->ts_ms < 0 && r->term == fn->term && strcmp(r->leader, fn->leader) == 0)
        fn->ts_ms = r->ts_ms;
}

/* An election started by a timeout always begins with PreVote (the
 * pre-candidate line); a leadership transfer (the leader handing over to a
 * steadier terminal) goes straight to candidate and is counted apart. */
typedef struct elections {
    size_t timeouts, candidacies;
} elections;

static void count_elections(const raft_line *r, void *ctx)
{
    elections *e = ctx;
    if (strcmp(r->role, "pre-candidate") == 0)
        e->timeouts++;
    else if (strcmp(r->role, "candidate") == 0)
        e->candidacies++;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* The leader every running terminal names in the same term (with that
 * terminal saying it leads), or -1; *term gets the term. */
static int agreed_leader(bench *b, const bool *alive, uint64_t *term)
{
    raft_line last[NODES];
    int leader = -1;
    for (int i = 0; i < NODES; i++) {
        if (!alive[i])
            continue;
        memset(&last[i], 0, sizeof last[i]);
        scan_raft(b, i, 0, keep_last, &last[i]);
    }
    const raft_line *ref = NULL;
    for (int i = 0; i < NODES; i++) {
        if (!alive[i])
            continue;
        if (!last[i].leader[0])
            return -1;
        if (!ref)
            ref = &last[i];
        else if (strcmp(ref->leader, last[i].leader) != 0 || ref->term != last[i].term)
            return -1;
    }
    for (int i = 0; ref && i < NODES; i++)
        if (alive[i] && strcmp(b->store.nodes[i].name, ref->leader) == 0 &&
            strcmp(last[i].role, "leader") == 0)
            leader = i;
    if (leader >= 0)
        *term = ref->term;
    return leader;
}

static int wait_agreed(bench *b, const bool *alive, int exclude, uint64_t min_term, uint64_t *term,
                       int64_t timeout_ms)
{
    int64_t deadline = wall_ms() + timeout_ms;
    for (;;) {
        int l = agreed_leader(b, alive, term);
        if (l >= 0 && l != exclude && *term > min_term)
            return l;
        if (wall_ms() > deadline)
            return -1;
        sleep_ms(20);
    }
}

/* ---- the steady phase's sales ---- */

typedef struct seller {
    bench *b;
    int i;
    atomic_bool *stop;
    size_t made;
    int error;
} seller;

static void *seller_main(void *arg)
{
    seller *s = arg;
    kassa_err err;
    term *t;
    if (term_open(s->b->store.nodes[s->i].data, &t, &err) != KASSA_OK) {
        s->error = bench_fail_kassa("term_open", &err);
        return NULL;
    }
    static _Thread_local term_cart cart;
    static _Thread_local term_sale_result res;
    uint64_t rng = 0xfa11u + (uint64_t)s->i;
    long period_us = 1000000L / (long)s->b->opt.rate;
    uint64_t next = now_ns();
    while (!atomic_load(s->stop)) {
        cart.n_lines = 0;
        const char *sku = s->b->store.items[splitmix64(&rng) % 100].sku;
        if (term_cart_add(&cart, sku, 1, &err) != KASSA_OK ||
            term_sale(t, &cart, 100000, &res, &err) != KASSA_OK) {
            s->error = bench_fail_kassa("term_sale", &err);
            break;
        }
        s->made++;
        next += (uint64_t)period_us * 1000u;
        uint64_t now = now_ns();
        if (next > now)
            sleep_ms((long)((next - now) / 1000000u));
    }
    term_close(t);
    return NULL;
}

/* ---- the run ---- */

typedef struct result {
    size_t kills;
    double min_ms, p50_ms, p99_ms, max_ms;
    size_t steady_s, sales;
    elections el;
} result;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int run_kassa(bench *b, result *res)
{
    b->store.n_nodes = NODES;
    b->store.extra_ini = "anti_entropy_ms = 250\nreconnect_min_ms = 50\nreconnect_max_ms = 500\n"
                         "idle_timeout_ms = 2000\n";
    if (bench_store_make(&b->store, b->store.dir, "store", b->store.items, 100) != 0)
        return 1;
    bool alive[NODES];
    for (int i = 0; i < NODES; i++) {
        if (bench_store_start(&b->store, i) != 0)
            return 1;
        alive[i] = true;
    }
    uint64_t term = 0;
    int leader = wait_agreed(b, alive, -1, 0, &term, 15000);
    if (leader < 0)
        return fail("no leader agreed by the 5 terminals within 15 s");
    int64_t *ms = calloc(b->opt.kills, sizeof *ms);
    if (!ms)
        return fail("out of memory");
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < b->opt.kills; k++) {
        for (int i = 0; i < NODES; i++)
            b->log_offset[i] = file_size(b->store.nodes[i].log);
        int64_t t0 = wall_ms();
        bench_store_stop(&b->store, leader, SIGKILL);
        alive[leader] = false;
        uint64_t new_term;
        int next = wait_agreed(b, alive, leader, term, &new_term, 10000);
        if (next < 0) {
            rc = fail("kill %zu: no new leader agreed within 10 s", k + 1);
            break;
        }
        /* Agreement: the last survivor's first line naming the new leader. */
        int64_t agreed = 0;
        for (int i = 0; i < NODES; i++) {
            if (!alive[i])
                continue;
            first_naming fn = {b->store.nodes[next].name, new_term, -1};
            scan_raft(b, i, b->log_offset[i], find_first, &fn);
            if (fn.ts_ms > agreed)
                agreed = fn.ts_ms;
        }
        ms[k] = agreed - t0;
        if (bench_store_start(&b->store, leader) != 0) {
            rc = 1;
            break;
        }
        alive[leader] = true;
        if ((leader = wait_agreed(b, alive, -1, 0, &term, 10000)) < 0)
            rc = fail("kill %zu: the five did not agree again after the restart", k + 1);
        sleep_ms(300);
    }
    if (rc == 0) {
        qsort(ms, b->opt.kills, sizeof *ms, cmp_i64);
        size_t n = b->opt.kills;
        res->kills = n;
        res->min_ms = (double)ms[0];
        res->p50_ms = (double)ms[(n - 1) / 2];
        res->p99_ms = (double)ms[(n * 99 + 99) / 100 - 1];
        res->max_ms = (double)ms[n - 1];
    }
    free(ms);
    if (rc == 0 && b->opt.steady_s > 0) {
        /* Steady: sales on every terminal, no faults, count elections. */
        for (int i = 0; i < NODES; i++)
            b->log_offset[i] = file_size(b->store.nodes[i].log);
        atomic_bool stop = false;
        static seller s[NODES];
        pthread_t th[NODES];
        for (int i = 0; i < NODES; i++) {
            s[i] = (seller){.b = b, .i = i, .stop = &stop};
            if (pthread_create(&th[i], NULL, seller_main, &s[i]) != 0)
                return fail("pthread_create");
        }
        sleep_ms((long)b->opt.steady_s * 1000);
        atomic_store(&stop, true);
        res->steady_s = b->opt.steady_s;
        res->sales = 0;
        for (int i = 0; i < NODES; i++) {
            pthread_join(th[i], NULL);
            res->sales += s[i].made;
            if (s[i].error)
                rc = 1;
        }
        res->el = (elections){0};
        for (int i = 0; i < NODES; i++)
            scan_raft(b, i, b->log_offset[i], count_elections, &res->el);
    }
    bench_store_stop_all(&b->store);
    if (rc != 0)
        for (int i = 0; i < NODES; i++)
            print_tail(b->store.nodes[i].log);
    return rc;
}

static int run_etcd(bench *b, int nodes, json_t **out)
{
    char script[BENCH_PATH_MAX + 32], log[BENCH_PATH_MAX + 32], n[8], kills[24], steady[24],
        rate[24];
    snprintf(script, sizeof script, "%s/bench/etcd_failover.sh", b->store.root);
    snprintf(log, sizeof log, "%s/etcd-%d.out", b->store.dir, nodes);
    snprintf(n, sizeof n, "%d", nodes);
    snprintf(kills, sizeof kills, "%zu", b->opt.kills);
    snprintf(steady, sizeof steady, "%zu", b->opt.steady_s);
    snprintf(rate, sizeof rate, "%zu", b->opt.rate * NODES);
    char bash[] = "/bin/bash";
    char *argv[] = {bash,   script,   "--nodes", n,       "--kills",    kills, "--steady-s",
                    steady, "--rate", rate,      "--dir", b->store.dir, NULL};
    return bench_run_peer(argv, b->store.root, log, out);
}

static double jfail(json_t *o, const char *k)
{
    return json_number_value(json_object_get(json_object_get(o, "failover_ms"), k));
}

int main(int argc, char **argv)
{
    bench *b = &B;
    b->opt = (options){.kills = 50, .steady_s = 600, .rate = 50, .etcd = true};
    if (bench_take_flag(&argc, argv, "--no-etcd"))
        b->opt.etcd = false;
    if (bench_parse_options(argc, argv, &b->opt.json, &b->opt.keep, usage, value_option, &b->opt))
        return 2;
    if (sodium_init() < 0)
        return fail("libsodium");
    signal(SIGPIPE, SIG_IGN);
    jlog_set_level(JLOG_ERROR);
    if (bench_store_paths(&b->store) != 0)
        return 1;
    if (bench_make_workdir(NULL, b->store.dir, sizeof b->store.dir, &b->store.dir_created) != 0)
        return 1;
    b->store.items = bench_catalog(100, 100000000);
    if (!b->store.items)
        return fail("out of memory");
    result kr = {0};
    json_t *e3 = NULL, *e5 = NULL;
    int rc = run_kassa(b, &kr);
    if (rc == 0 && b->opt.etcd)
        rc = run_etcd(b, 3, &e3);
    if (rc == 0 && b->opt.etcd)
        rc = run_etcd(b, 5, &e5);
    if (rc == 0 && b->opt.json) {
        json_t *o = json_pack(
            "{s:s,s:{s:i,s:I,s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I},s:O,s:O}", "bench", "failover",
            "kassa", "terminals", NODES, "kills", (json_int_t)kr.kills, "min_ms", kr.min_ms,
            "p50_ms", kr.p50_ms, "p99_ms", kr.p99_ms, "max_ms", kr.max_ms, "steady_s",
            (json_int_t)kr.steady_s, "steady_sales", (json_int_t)kr.sales, "spurious_elections",
            (json_int_t)kr.el.timeouts, "candidacies", (json_int_t)kr.el.candidacies, "etcd3",
            e3 ? e3 : json_null(), "etcd5", e5 ? e5 : json_null());
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (s)
            puts(s);
        free(s);
        json_decref(o);
    } else if (rc == 0) {
        printf("bench/failover: leader killed %zu times, time until the survivors agree on a "
               "new leader (ms)\n",
               kr.kills);
        printf("  %-28s %8s %8s %8s %8s %10s\n", "", "min", "p50", "p99", "max", "elections");
        printf("  %-28s %8.0f %8.0f %8.0f %8.0f %10zu\n", "kassa, 5 terminals", kr.min_ms,
               kr.p50_ms, kr.p99_ms, kr.max_ms, kr.el.timeouts);
        json_t *es[] = {e3, e5};
        for (int i = 0; i < 2; i++)
            if (es[i])
                printf("  %-28s %8.0f %8.0f %8.0f %8.0f %10lld\n",
                       i == 0 ? "etcd, 3 members" : "etcd, 5 members", jfail(es[i], "min"),
                       jfail(es[i], "p50"), jfail(es[i], "p99"), jfail(es[i], "max"),
                       (long long)json_integer_value(json_object_get(es[i], "spurious_elections")));
        printf("  (elections: started by a timeout in %zu s of steady sales, %zu sales at %zu/s "
               "per terminal, no faults; %zu candidacies in all, the others from leadership "
               "transfers to a steadier terminal; targets for kassa: p50 <= 350, max <= 600, no "
               "election)\n",
               kr.steady_s, kr.sales, b->opt.rate, kr.el.candidacies);
        if (e3)
            printf("  (etcd %s: --heartbeat-interval=60 --election-timeout=300; its times are "
                   "polled every %.0f ms)\n",
                   json_string_value(json_object_get(e3, "version")),
                   json_number_value(json_object_get(e3, "poll_resolution_ms")));
    }
    json_decref(e3);
    json_decref(e5);
    bench_store_stop_all(&b->store);
    free(b->store.items);
    if (bench_remove_dir(b->store.dir, b->store.dir_created, b->opt.keep || rc != 0) != 0 &&
        rc == 0)
        rc = 1;
    return rc;
}
