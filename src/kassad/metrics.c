/* metrics.c: counters, the latency histogram and their exposition text. */
#include "kassad/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seconds: 0.5 ms to 1 s, roughly 1-2.5-5 per decade. */
static const double BUCKET_BOUNDS_S[KD_METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0,
};

/* The codes kassad answers with; the last slot counts anything else. */
static const int STATUSES[KD_METRICS_STATUSES - 1] = {
    200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 423, 500, 503, 507, 304,
};

struct kd_metrics {
    kd_metrics_route *routes; /* a copy; the strings are borrowed */
    size_t n_routes;
    uint64_t *requests;                   /* n_routes x KD_METRICS_STATUSES */
    uint64_t buckets[KD_METRICS_BUCKETS]; /* non-cumulative; summed when rendered */
    uint64_t latency_count;
    uint64_t latency_sum_us;
    uint64_t sales;
    uint64_t group_commits;
};

kd_metrics *kd_metrics_new(const kd_metrics_route *routes, size_t n_routes)
{
    kd_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->requests = calloc(n_routes * KD_METRICS_STATUSES, sizeof *m->requests);
    m->routes = calloc(n_routes, sizeof *m->routes);
    if (!m->requests || !m->routes) {
        kd_metrics_free(m);
        return NULL;
    }
    memcpy(m->routes, routes, n_routes * sizeof *routes);
    m->n_routes = n_routes;
    return m;
}

void kd_metrics_free(kd_metrics *m)
{
    if (!m)
        return;
    free(m->requests);
    free(m->routes);
    free(m);
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < KASSA_ARRAY_LEN(STATUSES); i++)
        if (STATUSES[i] == status)
            return i;
    return KD_METRICS_STATUSES - 1;
}

void kd_metrics_request(kd_metrics *m, size_t route, int status, uint64_t latency_us)
{
    if (route >= m->n_routes)
        return;
    m->requests[route * KD_METRICS_STATUSES + status_slot(status)]++;
    size_t b = 0;
    while (b < KD_METRICS_BUCKETS && (double)latency_us / 1e6 > BUCKET_BOUNDS_S[b])
        b++;
    if (b < KD_METRICS_BUCKETS)
        m->buckets[b]++;
    m->latency_count++;
    m->latency_sum_us += latency_us;
}

void kd_metrics_sale(kd_metrics *m)
{
    m->sales++;
}

void kd_metrics_group_commit(kd_metrics *m)
{
    m->group_commits++;
}

static void put(kbuf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(kbuf *out, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        kbuf_put(out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void gauge(kbuf *out, const char *name, const char *help, int64_t v)
{
    put(out, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, (long long)v);
}

static void counter(kbuf *out, const char *name, const char *help, uint64_t v)
{
    put(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
        (unsigned long long)v);
}

void kd_metrics_render(const kd_metrics *m, const kd_metrics_gauges *g, kbuf *out)
{
    put(out,
        "# HELP kassa_sales_total Sales recorded through this daemon since it started.\n"
        "# TYPE kassa_sales_total counter\nkassa_sales_total %llu\n",
        (unsigned long long)m->sales);
    put(out,
        "# HELP kassa_sale_commits_total Group commits that made sales durable (one fsync "
        "each; several checkouts arriving together share one).\n"
        "# TYPE kassa_sale_commits_total counter\nkassa_sale_commits_total %llu\n",
        (unsigned long long)m->group_commits);

    put(out, "# HELP kassa_api_requests_total API requests answered, by route, method and "
             "status.\n# TYPE kassa_api_requests_total counter\n");
    for (size_t r = 0; r < m->n_routes; r++) {
        for (size_t s = 0; s < KD_METRICS_STATUSES; s++) {
            uint64_t n = m->requests[r * KD_METRICS_STATUSES + s];
            if (n == 0)
                continue;
            char status[8];
            if (s < KASSA_ARRAY_LEN(STATUSES))
                snprintf(status, sizeof status, "%d", STATUSES[s]);
            else
                snprintf(status, sizeof status, "other");
            put(out, "kassa_api_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
                m->routes[r].route, m->routes[r].method, status, (unsigned long long)n);
        }
    }

    put(out, "# HELP kassa_api_request_duration_seconds Time from a request's arrival to its "
             "answer being queued.\n# TYPE kassa_api_request_duration_seconds histogram\n");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < KD_METRICS_BUCKETS; b++) {
        cumulative += m->buckets[b];
        put(out, "kassa_api_request_duration_seconds_bucket{le=\"%g\"} %llu\n", BUCKET_BOUNDS_S[b],
            (unsigned long long)cumulative);
    }
    put(out,
        "kassa_api_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
        "kassa_api_request_duration_seconds_sum %.6f\n"
        "kassa_api_request_duration_seconds_count %llu\n",
        (unsigned long long)m->latency_count, (double)m->latency_sum_us / 1e6,
        (unsigned long long)m->latency_count);

    gauge(out, "kassa_db_size_bytes", "Size of the terminal's database file.", g->db_size_bytes);
    gauge(out, "kassa_pending_operations",
          "Operations received from other terminals that wait for a gap or a dependency.",
          g->pending_operations);
    gauge(out, "kassa_open_carts", "Carts open in this daemon.", g->open_carts);
    gauge(out, "kassa_sessions", "Cashier sessions logged in.", g->sessions);
    gauge(out, "kassa_uptime_seconds", "Seconds since the daemon started.", g->uptime_s);
    gauge(out, "kassa_peer_links_up", "Links to other terminals that are up.",
          (int64_t)g->peer_links_up);
    counter(out, "kassa_peer_ops_sent_total", "Operations sent to other terminals.",
            g->peer_ops_sent);
    counter(out, "kassa_peer_ops_received_total",
            "Operations from other terminals newly applied here.", g->peer_ops_received);
    counter(out, "kassa_peer_bytes_sent_total", "Bytes sent on peer links, TLS included.",
            g->peer_bytes_sent);
    counter(out, "kassa_peer_bytes_received_total", "Bytes received on peer links, TLS included.",
            g->peer_bytes_received);
    counter(out, "kassa_peer_links_refused_total",
            "Peer links refused: certificate, store, roster or Hello checks.",
            g->peer_links_refused);
    gauge(out, "kassa_card_payments_pending",
          "Card payments accepted offline and not yet forwarded to the processor.",
          g->card_pending);
    gauge(out, "kassa_card_payments_pending_minor",
          "Amount of the card payments accepted offline, in minor units.", g->card_pending_minor);
    gauge(out, "kassa_card_payments_due",
          "Captures, stored payments, reversals and card refunds waiting for the processor.",
          g->card_due);
    gauge(out, "kassa_card_processor_up", "1 when the payment processor answered last time.",
          g->card_processor_up);
}
