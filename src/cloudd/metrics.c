/* metrics.c: what /metrics shows (Prometheus text format), and /healthz. */
#include "cloudd/cloudd.h"

#include <event2/buffer.h>
#include <stdio.h>

static const int COUNTED[CD_METRIC_STATUSES - 1] = {200, 400, 401, 403, 404, 405,
                                                    409, 413, 415, 500, 503};

static size_t slot(int status)
{
    size_t i = 0;
    while (i < KASSA_ARRAY_LEN(COUNTED) && COUNTED[i] != status)
        i++;
    return i; /* CD_METRIC_STATUSES - 1 for the others */
}

void cd_metrics_request(cd_metrics *m, size_t route, int status, uint64_t latency_us)
{
    size_t row = route < cd_routes_count() ? route : CD_ROUTES_MAX; /* else unmatched */
    m->requests[row][slot(status)]++;
    m->request_us[row] += latency_us;
}

void cd_metrics_ingest(cd_metrics *m, size_t stored, size_t duplicates, uint64_t latency_us)
{
    m->batches++;
    m->ops_stored += stored;
    m->ops_duplicate += duplicates;
    m->ingest_us += latency_us;
}

void cd_metrics_ingest_refused(cd_metrics *m, int status)
{
    m->refused[slot(status)]++;
}

static void status_label(size_t i, char *out, size_t size)
{
    if (i < KASSA_ARRAY_LEN(COUNTED))
        snprintf(out, size, "%d", COUNTED[i]);
    else
        snprintf(out, size, "other");
}

/* The exposition text, straight into the answer's buffer. */
static void render(const cd_app *app, struct evbuffer *b)
{
    const cd_metrics *m = &app->metrics;
    size_t n_routes = cd_routes_count();
    char st[8];
    evbuffer_add_printf(
        b, "# HELP kassa_cloud_requests_total HTTP requests answered, by route and status.\n"
           "# TYPE kassa_cloud_requests_total counter\n");
    for (size_t r = 0; r <= n_routes; r++) {
        const cd_route *route = cd_route_at(r);
        const uint64_t *row = m->requests[r < n_routes ? r : CD_ROUTES_MAX];
        for (size_t s = 0; s < CD_METRIC_STATUSES; s++) {
            uint64_t v = row[s];
            if (!v)
                continue;
            status_label(s, st, sizeof st);
            evbuffer_add_printf(b, "kassa_cloud_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                                route ? route->pattern : "unmatched", st, (unsigned long long)v);
        }
    }
    evbuffer_add_printf(b,
                        "# HELP kassa_cloud_request_seconds_total Time spent answering, by route.\n"
                        "# TYPE kassa_cloud_request_seconds_total counter\n");
    for (size_t r = 0; r <= n_routes; r++) {
        uint64_t us = m->request_us[r < n_routes ? r : CD_ROUTES_MAX];
        const cd_route *route = cd_route_at(r);
        if (us)
            evbuffer_add_printf(b, "kassa_cloud_request_seconds_total{route=\"%s\"} %.6f\n",
                                route ? route->pattern : "unmatched", (double)us / 1e6);
    }
    evbuffer_add_printf(
        b,
        "# HELP kassa_cloud_ingest_batches_total Upload batches stored (replays included).\n"
        "# TYPE kassa_cloud_ingest_batches_total counter\n"
        "kassa_cloud_ingest_batches_total %llu\n"
        "# HELP kassa_cloud_ingest_ops_total Operations in stored batches, new or duplicate.\n"
        "# TYPE kassa_cloud_ingest_ops_total counter\n"
        "kassa_cloud_ingest_ops_total{result=\"stored\"} %llu\n"
        "kassa_cloud_ingest_ops_total{result=\"duplicate\"} %llu\n"
        "# HELP kassa_cloud_ingest_seconds_total Time spent in stored batches' transactions.\n"
        "# TYPE kassa_cloud_ingest_seconds_total counter\n"
        "kassa_cloud_ingest_seconds_total %.6f\n"
        "# HELP kassa_cloud_ingest_refused_total Upload batches refused (nothing stored).\n"
        "# TYPE kassa_cloud_ingest_refused_total counter\n",
        (unsigned long long)m->batches, (unsigned long long)m->ops_stored,
        (unsigned long long)m->ops_duplicate, (double)m->ingest_us / 1e6);
    for (size_t s = 0; s < CD_METRIC_STATUSES; s++) {
        if (!m->refused[s])
            continue;
        status_label(s, st, sizeof st);
        evbuffer_add_printf(b, "kassa_cloud_ingest_refused_total{status=\"%s\"} %llu\n", st,
                            (unsigned long long)m->refused[s]);
    }
    evbuffer_add_printf(b,
                        "# HELP kassa_cloud_long_polls Change requests waiting for a change.\n"
                        "# TYPE kassa_cloud_long_polls gauge\n"
                        "kassa_cloud_long_polls %zu\n"
                        "# HELP kassa_cloud_db_up Whether the PostgreSQL connection is up.\n"
                        "# TYPE kassa_cloud_db_up gauge\n"
                        "kassa_cloud_db_up %d\n",
                        app->n_waiters,
                        app->db.conn && PQstatus(app->db.conn) == CONNECTION_OK ? 1 : 0);
}

void h_metrics(cd_req *r)
{
    render(r->app, evhttp_request_get_output_buffer(r->ev));
    cd_reply_written(r, 200, "text/plain; version=0.0.4; charset=utf-8");
}

/* Liveness: the process answers. Whether the database does is said, not
 * judged (a load balancer should not kill instances for a database
 * outage). */
void h_healthz(cd_req *r)
{
    bool db_up = r->app->db.conn && PQstatus(r->app->db.conn) == CONNECTION_OK;
    cd_reply_json(r, 200, json_pack("{s:s,s:s}", "status", "ok", "db", db_up ? "up" : "down"));
}
