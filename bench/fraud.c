/*
 * bench/fraud: fraud scoring latency in process (src/fraud), one thread.
 *
 * A synthetic store feeds the scorer as kassad would: three terminals,
 * nine cashiers in shifts, a customer every 20-90 s per terminal, baskets
 * of 1-12 items, 60 % paid by card (regular customers' tokens and fresh
 * ones, offline during outages), line voids, price overrides, declined
 * cards and tender switches in the cart, voids, returns with and without
 * receipt, no-sale openings, and now and then a card-testing burst. Every
 * scored event (sale, void, return, no-sale) is timed:
 *
 *   score     fraud_score_event: features + XGBoost margin, the checkout
 *             path (target: p99 <= 50 us)
 *   features  fraud_features alone
 *   margin    fraud_model_margin alone (XGBoost in-place prediction)
 *   explain   fraud_explain: contributions and reason codes, for
 *             decisions that are not "allow" (timed afterwards on every
 *             4th scored event's features)
 *   observe   fraud_observe, every event
 *
 * --events FILE replays a JSON-lines event file instead (e.g. one written
 * by tools/fraud/gen.py). The model is models/fraud/fraud.json under
 * $KASSA_SRC (else the current directory) unless --model says otherwise.
 *
 * A benchmark, not a test: no timing is asserted. Exit status 1 when the
 * model does not load or an event is refused.
 */
#define BENCH_NAME "fraud"
#include "benchutil.h"

#include "fraud/fraud.h"

#include <malloc.h>

#define FRAUD_BENCH_DEFAULT_SALES 20000
#define FRAUD_BENCH_DEFAULT_WARMUP 1000
#define FRAUD_BENCH_MAX_SALES 10000000
#define FRAUD_BENCH_EXPLAIN_EVERY 4
#define FRAUD_BENCH_TARGET_P99_US 50.0
#define MODEL_PATH "models/fraud/fraud.json"
#define N_TERMINALS 3
#define REGULAR_TOKENS 3000
#define T_START INT64_C(1709535600000) /* Monday 2024-03-04 07:00 */

enum { ST_SCORE, ST_FEATURES, ST_MARGIN, ST_EXPLAIN, ST_OBSERVE, ST_COUNT };
static const char *const STAGE_NAMES[ST_COUNT] = {"score (features + margin)", "  features",
                                                  "  margin (XGBoost)", "explain (contributions)",
                                                  "observe"};

/* Per call: wall-clock time and this thread's CPU time (which leaves out
 * the time other processes held the CPU: the machine may be shared). */
typedef struct samples {
    uint64_t *ns, *cpu_ns;
    size_t n, cap;
} samples;

typedef struct clock_pair {
    uint64_t wall, cpu;
} clock_pair;

static uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Starts a measurement: CPU clock outside, wall clock inside. */
static clock_pair tic(void)
{
    clock_pair c;
    c.cpu = cpu_now_ns();
    c.wall = now_ns();
    return c;
}

static clock_pair toc(clock_pair start)
{
    clock_pair c;
    c.wall = now_ns() - start.wall;
    c.cpu = cpu_now_ns() - start.cpu;
    return c;
}

typedef struct options {
    size_t sales, warmup;
    const char *model;
    const char *events;
} options;

typedef struct bench {
    options o;
    fraud_model *m;
    fraud_state *st;
    samples s[ST_COUNT];
    size_t scored, events, sales;
    bool timing;                     /* past the warm-up */
    float (*kept)[FRAUD_N_FEATURES]; /* vectors for the explain pass */
    size_t n_kept, cap_kept;
    uint64_t rng;
    kassa_err err;
} bench;

static void usage(FILE *f)
{
    fprintf(f, "usage: fraud [options]\n"
               "  --sales N         timed sales of the synthetic store (default 20000)\n"
               "  --warmup N        sales before timing starts (default 1000)\n"
               "  --model PATH      the model (default $KASSA_SRC/" MODEL_PATH ")\n"
               "  --events FILE     replay a JSON-lines event file instead\n" BENCH_USAGE_COMMON);
}

static int value_option(const char *a, const char *v, void *ctx)
{
    options *o = ctx;
    if (strcmp(a, "--sales") == 0)
        return parse_size(a, v, 1, FRAUD_BENCH_MAX_SALES, &o->sales);
    if (strcmp(a, "--warmup") == 0)
        return parse_size(a, v, 0, FRAUD_BENCH_MAX_SALES, &o->warmup);
    if (strcmp(a, "--model") == 0) {
        o->model = v;
        return 0;
    }
    if (strcmp(a, "--events") == 0) {
        o->events = v;
        return 0;
    }
    return -1;
}

static int sample_add(samples *s, clock_pair c)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4096;
        uint64_t *p = realloc(s->ns, cap * sizeof *p),
                 *q = p ? realloc(s->cpu_ns, cap * sizeof *q) : NULL;
        if (p)
            s->ns = p;
        if (!q)
            return fail("out of memory for samples");
        s->cpu_ns = q;
        s->cap = cap;
    }
    s->ns[s->n] = c.wall;
    s->cpu_ns[s->n++] = c.cpu;
    return 0;
}

static uint64_t rnd(bench *b, uint64_t n)
{
    return splitmix64(&b->rng) % n;
}

static bool chance(bench *b, unsigned per_mille)
{
    return rnd(b, 1000) < per_mille;
}

static int keep_vector(bench *b, const float *x)
{
    if (b->n_kept == b->cap_kept) {
        size_t cap = b->cap_kept ? 2 * b->cap_kept : 1024;
        float(*p)[FRAUD_N_FEATURES] = realloc(b->kept, cap * sizeof *p);
        if (!p)
            return fail("out of memory for vectors");
        b->kept = p;
        b->cap_kept = cap;
    }
    memcpy(b->kept[b->n_kept++], x, sizeof b->kept[0]);
    return 0;
}

/* Contributions and reason codes of the kept vectors, timed. */
static int explain_pass(bench *b)
{
    for (size_t i = 0; i < b->n_kept; i++) {
        fraud_score sc;
        memset(&sc, 0, sizeof sc);
        memcpy(sc.x, b->kept[i], sizeof sc.x);
        clock_pair c = tic();
        if (fraud_explain(b->m, &sc, &b->err) != KASSA_OK)
            return fail("explain: %s", b->err.msg);
        if (sample_add(&b->s[ST_EXPLAIN], toc(c)) != 0)
            return 1;
    }
    return 0;
}

/* Scores (timed) a scored event, then observes it (timed). */
static int feed(bench *b, const fraud_event *e)
{
    int rc = 0;
    if (fraud_event_scored(e->kind)) {
        fraud_score sc;
        float x[FRAUD_N_FEATURES], margin;
        clock_pair c = tic();
        if (fraud_score_event(b->m, b->st, e, &sc, &b->err) != KASSA_OK)
            return fail("score: %s", b->err.msg);
        clock_pair score = toc(c);
        c = tic();
        if (fraud_features(b->st, e, x, &b->err) != KASSA_OK)
            return fail("features: %s", b->err.msg);
        clock_pair features = toc(c);
        c = tic();
        if (fraud_model_margin(b->m, x, &margin, &b->err) != KASSA_OK)
            return fail("margin: %s", b->err.msg);
        clock_pair margin_t = toc(c);
        /* Every 4th vector is kept for the explain pass, run after the
         * scoring so that its large allocations do not disturb the
         * checkout path's timings (kassad explains only the ~1 % of
         * decisions that are not "allow"). */
        if (b->timing && b->scored % FRAUD_BENCH_EXPLAIN_EVERY == 0)
            rc |= keep_vector(b, sc.x);
        b->scored++;
        if (b->timing) {
            rc |= sample_add(&b->s[ST_SCORE], score);
            rc |= sample_add(&b->s[ST_FEATURES], features);
            rc |= sample_add(&b->s[ST_MARGIN], margin_t);
        }
    }
    clock_pair c = tic();
    if (fraud_observe(b->st, e, &b->err) != KASSA_OK)
        return fail("observe: %s", b->err.msg);
    clock_pair observe = toc(c);
    b->events++;
    if (b->timing)
        rc |= sample_add(&b->s[ST_OBSERVE], observe);
    return rc;
}

static fraud_event event(int kind, int64_t t, int term, const char *cashier)
{
    fraud_event e;
    char id[16];
    snprintf(id, sizeof id, "T%d", term + 1);
    fraud_event_make(&e, kind, t, id, cashier);
    return e;
}

/* ---- the synthetic store ---- */

typedef struct store {
    int64_t next_ms[N_TERMINALS];
    uint64_t seq[N_TERMINALS];
    uint64_t fresh;
    fraud_event last_sale[N_TERMINALS];
} store;

static int cart_and_sale(bench *b, store *s, int term, const char *cashier, bool offline)
{
    int64_t t = s->next_ms[term];
    int rc = 0;
    int n_voids = chance(b, 70) ? 1 + (int)rnd(b, 2) : 0;
    for (int i = 0; rc == 0 && i < n_voids; i++) {
        fraud_event lv = event(FRAUD_EV_LINE_VOID, t + 5000 * (i + 1), term, cashier);
        lv.amount = 100 + (int64_t)rnd(b, 900);
        lv.items = 1;
        rc = feed(b, &lv);
    }
    if (rc == 0 && chance(b, 12)) {
        fraud_event po = event(FRAUD_EV_PRICE_OVERRIDE, t + 20000, term, cashier);
        po.amount = 10 + (int64_t)rnd(b, 200);
        rc = feed(b, &po);
    }
    fraud_event e = event(FRAUD_EV_SALE, t + 30000 + (int64_t)rnd(b, 60000), term, cashier);
    snprintf(e.sale.origin, sizeof e.sale.origin, "T%d", term + 1);
    e.sale.seq = ++s->seq[term];
    e.items = 1 + (int64_t)rnd(b, 12);
    for (int64_t i = 0; i < e.items; i++)
        e.amount += 69 + (int64_t)rnd(b, 1000);
    if (chance(b, 40))
        e.discount = e.amount / 10;
    e.cash = e.amount;
    if (chance(b, 600)) {
        e.flags = FRAUD_EVF_CARD | (offline ? FRAUD_EVF_OFFLINE : 0);
        if (chance(b, 700))
            snprintf(e.token, sizeof e.token, "tok_r%d", (int)rnd(b, REGULAR_TOKENS));
        else
            snprintf(e.token, sizeof e.token, "tok_f%llu", (unsigned long long)++s->fresh);
        e.cash = chance(b, 40) ? e.amount / 2 : 0;
        if (rc == 0 && !offline && chance(b, 20)) {
            fraud_event a = event(FRAUD_EV_CARD_ATTEMPT, e.time_ms - 10000, term, cashier);
            a.amount = e.amount;
            a.flags = FRAUD_EVF_CARD | FRAUD_EVF_DECLINED;
            snprintf(a.token, sizeof a.token, "%s", e.token);
            fraud_event sw = event(FRAUD_EV_TENDER_SWITCH, e.time_ms - 5000, term, cashier);
            rc = feed(b, &a) || feed(b, &sw);
        }
    }
    if (rc == 0)
        rc = feed(b, &e);
    s->last_sale[term] = e;
    s->next_ms[term] = e.time_ms + 20000 + (int64_t)rnd(b, 70000);
    b->sales++;
    return rc;
}

static int after_sale(bench *b, store *s, int term, const char *cashier)
{
    int64_t t = s->next_ms[term] - 10000;
    const fraud_event *last = &s->last_sale[term];
    if (chance(b, 4)) {
        fraud_event v = event(FRAUD_EV_VOID, t, term, cashier);
        v.sale = last->sale;
        v.amount = last->amount;
        v.cash = last->cash;
        return feed(b, &v);
    }
    if (chance(b, 12)) {
        fraud_event r = event(FRAUD_EV_RETURN, t, term, cashier);
        r.sale = last->sale;
        r.sale.seq = last->sale.seq > 50 ? last->sale.seq - rnd(b, 50) : last->sale.seq;
        r.amount = last->amount / 3;
        r.cash = r.amount;
        r.items = 1;
        return feed(b, &r);
    }
    if (chance(b, 2)) {
        fraud_event r = event(FRAUD_EV_RETURN, t, term, cashier);
        r.flags = FRAUD_EVF_NO_RECEIPT;
        r.amount = 500 + (int64_t)rnd(b, 3000);
        r.cash = r.amount;
        r.items = 1;
        return feed(b, &r);
    }
    if (chance(b, 5)) {
        fraud_event ns = event(FRAUD_EV_NO_SALE, t, term, cashier);
        return feed(b, &ns);
    }
    return 0;
}

static int card_testing_burst(bench *b, store *s, int term, const char *cashier)
{
    for (int i = 0; i < 15; i++) {
        fraud_event a = event(FRAUD_EV_CARD_ATTEMPT, s->next_ms[term] + i * 20000, term, cashier);
        a.amount = 50 + (int64_t)rnd(b, 450);
        a.flags = FRAUD_EVF_CARD | FRAUD_EVF_DECLINED;
        snprintf(a.token, sizeof a.token, "tok_ct%llu", (unsigned long long)++s->fresh);
        if (feed(b, &a) != 0)
            return 1;
    }
    s->next_ms[term] += 15 * 20000;
    return 0;
}

static int run_store(bench *b)
{
    store *s = calloc(1, sizeof *s);
    if (!s)
        return fail("out of memory");
    for (int i = 0; i < N_TERMINALS; i++)
        s->next_ms[i] = T_START + i * 7000;
    size_t total = b->o.warmup + b->o.sales;
    int rc = 0;
    for (size_t n = 0; rc == 0 && n < total; n++) {
        b->timing = n >= b->o.warmup;
        int term = 0;
        for (int i = 1; i < N_TERMINALS; i++)
            if (s->next_ms[i] < s->next_ms[term])
                term = i;
        /* Three shifts a day; nine cashiers. */
        int64_t hour = (s->next_ms[term] / 3600000) % 24;
        char cashier[16];
        snprintf(cashier, sizeof cashier, "c%d", term * 3 + (int)(hour / 8) + 1);
        bool offline = (n / 500) % 10 == 3; /* an outage now and then */
        if (n % 2000 == 1999)
            rc = card_testing_burst(b, s, term, cashier);
        if (rc == 0)
            rc = cart_and_sale(b, s, term, cashier, offline);
        if (rc == 0)
            rc = after_sale(b, s, term, cashier);
    }
    free(s);
    return rc;
}

/* ---- replaying an event file ---- */

static int run_file(bench *b)
{
    FILE *f = fopen(b->o.events, "r");
    if (!f)
        return fail("%s: %s", b->o.events, strerror(errno));
    static char line[FRAUD_JSON_LINE_MAX + 2];
    int rc = 0;
    size_t lineno = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        fraud_event e;
        if (fraud_event_from_json(line, strlen(line), &e, NULL, 0, &b->err) != KASSA_OK) {
            rc = fail("%s:%zu: %s", b->o.events, lineno, b->err.msg);
            break;
        }
        b->timing = b->sales >= b->o.warmup;
        rc = feed(b, &e);
        b->sales += e.kind == FRAUD_EV_SALE;
    }
    fclose(f);
    return rc;
}

/* ---- report ---- */

typedef struct stat_line {
    size_t n;
    double p50_us, p99_us, mean_us, max_us, cpu_p50_us, cpu_p99_us;
} stat_line;

/* The smallest sample with at least pct % of the samples at or below it
 * (v sorted). */
static double percentile_us(const uint64_t *v, size_t n, size_t pct)
{
    return (double)v[(n * pct + 99) / 100 - 1] / 1000.0;
}

static stat_line summarize(samples *s)
{
    stat_line out = {.n = s->n};
    if (!s->n)
        return out;
    qsort(s->ns, s->n, sizeof *s->ns, bench_cmp_u64);
    qsort(s->cpu_ns, s->n, sizeof *s->cpu_ns, bench_cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += (double)s->ns[i];
    out.p50_us = percentile_us(s->ns, s->n, 50);
    out.p99_us = percentile_us(s->ns, s->n, 99);
    out.cpu_p50_us = percentile_us(s->cpu_ns, s->n, 50);
    out.cpu_p99_us = percentile_us(s->cpu_ns, s->n, 99);
    out.mean_us = sum / (double)s->n / 1000.0;
    out.max_us = (double)s->ns[s->n - 1] / 1000.0;
    return out;
}

int main(int argc, char **argv)
{
    bench *b = calloc(1, sizeof *b);
    if (!b)
        return fail("out of memory");
    b->o = (options){.sales = FRAUD_BENCH_DEFAULT_SALES, .warmup = FRAUD_BENCH_DEFAULT_WARMUP};
    b->rng = 0x5eed;
    bool json = false, keep = false;
    if (bench_parse_options(argc, argv, &json, &keep, usage, value_option, &b->o) != 0)
        return 1;
    (void)keep; /* nothing written to disk */
    char model[BENCH_PATH_MAX];
    if (b->o.model)
        snprintf(model, sizeof model, "%s", b->o.model);
    else
        snprintf(model, sizeof model, "%s/%s", getenv("KASSA_SRC") ? getenv("KASSA_SRC") : ".",
                 MODEL_PATH);
    uint64_t t0 = now_ns();
    if (fraud_model_load_file(model, &b->m, &b->err) != KASSA_OK)
        return fail("%s", b->err.msg);
    double load_ms = (double)(now_ns() - t0) / 1e6;
    if (fraud_state_new(NULL, &b->st, &b->err) != KASSA_OK)
        return fail("%s", b->err.msg);
    size_t heap_before = mallinfo2().uordblks;
    int rc = b->o.events ? run_file(b) : run_store(b);
    size_t heap_after = mallinfo2().uordblks;
    if (rc == 0)
        rc = explain_pass(b);
    if (rc != 0)
        return 1;
    stat_line st[ST_COUNT];
    for (int i = 0; i < ST_COUNT; i++)
        st[i] = summarize(&b->s[i]);
    double load[3] = {0};
    if (getloadavg(load, 3) < 1)
        load[0] = -1;
    bool met = st[ST_SCORE].p99_us <= FRAUD_BENCH_TARGET_P99_US;
    if (json) {
        printf("{\"bench\":\"fraud\",\"model\":\"%s\",\"trees\":%zu,\"features\":%d,"
               "\"sales\":%zu,\"scored\":%zu,\"events\":%zu,\"load_ms\":%.2f,\"loadavg\":%.2f,"
               "\"heap_growth_bytes\":%lld",
               model, fraud_model_trees(b->m), FRAUD_N_FEATURES, b->sales, st[ST_SCORE].n,
               b->events, load_ms, load[0], (long long)heap_after - (long long)heap_before);
        static const char *const keys[ST_COUNT] = {"score", "features", "margin", "explain",
                                                   "observe"};
        for (int i = 0; i < ST_COUNT; i++)
            printf(",\"%s\":{\"n\":%zu,\"p50_us\":%.2f,\"p99_us\":%.2f,\"mean_us\":%.2f,"
                   "\"max_us\":%.2f,\"cpu_p50_us\":%.2f,\"cpu_p99_us\":%.2f}",
                   keys[i], st[i].n, st[i].p50_us, st[i].p99_us, st[i].mean_us, st[i].max_us,
                   st[i].cpu_p50_us, st[i].cpu_p99_us);
        printf(",\"target_p99_us\":%.0f,\"target_met\":%s}\n", FRAUD_BENCH_TARGET_P99_US,
               met ? "true" : "false");
    } else {
        printf("fraud scoring in process, one thread: %s (%zu trees, %d features), loaded in "
               "%.1f ms\n",
               model, fraud_model_trees(b->m), FRAUD_N_FEATURES, load_ms);
        printf("workload: %s; %zu sales, %zu events; timed after %zu warm-up sales; load "
               "average %.2f\n\n",
               b->o.events ? b->o.events : "synthetic store (3 terminals, 9 cashiers)", b->sales,
               b->events, b->o.warmup, load[0]);
        printf("%-28s %8s %9s %9s %9s %9s %11s %11s\n", "stage", "calls", "p50 us", "p99 us",
               "mean us", "max us", "cpu p50 us", "cpu p99 us");
        for (int i = 0; i < ST_COUNT; i++)
            printf("%-28s %8zu %9.2f %9.2f %9.2f %9.2f %11.2f %11.2f\n", STAGE_NAMES[i], st[i].n,
                   st[i].p50_us, st[i].p99_us, st[i].mean_us, st[i].max_us, st[i].cpu_p50_us,
                   st[i].cpu_p99_us);
        printf("\nus: wall clock per call; cpu: this thread's CPU time per call (leaves out "
               "preemption by other processes)\n");
        printf("target: score p99 <= %.0f us (wall clock): %s\n", FRAUD_BENCH_TARGET_P99_US,
               met ? "met" : "MISSED");
        printf("heap in use (malloc) during the run: %+lld bytes (the samples' arrays "
               "included)\n",
               (long long)heap_after - (long long)heap_before);
    }
    for (int i = 0; i < ST_COUNT; i++) {
        free(b->s[i].ns);
        free(b->s[i].cpu_ns);
    }
    free(b->kept);
    fraud_state_free(b->st);
    fraud_model_free(b->m);
    free(b);
    return 0;
}
