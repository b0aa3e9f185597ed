/*
 * metrics: kassad's counters and the request latency histogram, rendered
 * in the Prometheus text exposition format (version 0.0.4).
 *
 * Label values come from fixed sets only (route patterns, a fixed list of
 * status codes), so the number of series is bounded whatever clients send.
 */
#ifndef KASSAD_METRICS_H
#define KASSAD_METRICS_H

#include "base/base.h"

#include <stddef.h>
#include <stdint.h>

/* Upper bounds of the latency buckets, seconds (plus +Inf). */
#define KD_METRICS_BUCKETS 12
/* Status codes counted one by one; any other lands in "other". */
#define KD_METRICS_STATUSES 16

typedef struct kd_metrics kd_metrics;

/* The labels of one route's request counters (the strings are borrowed:
 * static strings). */
typedef struct kd_metrics_route {
    const char *route;  /* route pattern, "static" or "unmatched" */
    const char *method; /* "GET", ... or "any" */
} kd_metrics_route;

kd_metrics *kd_metrics_new(const kd_metrics_route *routes, size_t n_routes);
void kd_metrics_free(kd_metrics *m);

/* Counts one answered request of routes[route]. */
void kd_metrics_request(kd_metrics *m, size_t route, int status, uint64_t latency_us);
void kd_metrics_sale(kd_metrics *m);
void kd_metrics_group_commit(kd_metrics *m);

/* Gauges read when rendering. */
typedef struct kd_metrics_gauges {
    int64_t db_size_bytes;
    int64_t pending_operations;
    int64_t open_carts;
    int64_t sessions;
    int64_t uptime_s;
    /* Peer links (all 0 when they are off). */
    uint64_t peer_links_up;
    uint64_t peer_ops_sent, peer_ops_received;
    uint64_t peer_bytes_sent, peer_bytes_received;
    uint64_t peer_links_refused;
    /* Card payments (-1 when the database cannot be read). */
    int64_t card_pending;       /* stored offline, not yet forwarded */
    int64_t card_pending_minor; /* their amount */
    int64_t card_due;           /* everything waiting for the processor */
    int64_t card_processor_up;  /* 1 online, 0 offline or unknown */
} kd_metrics_gauges;

/* Appends the exposition text to out. */
void kd_metrics_render(const kd_metrics *m, const kd_metrics_gauges *g, kbuf *out);

#endif
