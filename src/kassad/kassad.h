/*
 * kassad: the terminal daemon's shared state. One kd_app per process,
 * built by main.c, handed to every handler through its kd_req.
 *
 * Everything runs on one libevent loop in one thread: a handler runs to
 * completion (term calls included, each one SQLite transaction) before the
 * next event is looked at, so the tables below need no locking.
 */
#ifndef KASSAD_KASSAD_H
#define KASSAD_KASSAD_H

#include "kassad/cart.h"
#include "kassad/config.h"
#include "kassad/metrics.h"
#include "kassad/session.h"
#include "kassad/webroot.h"
#include "peer/peer.h"
#include "pki/pki.h"
#include "term/term.h"

#include <event2/event.h>
#include <event2/http.h>
#include <stdbool.h>

/* Responses being written, tracked so a shutdown can let them finish:
 * at most one per connection, so the table is sized like a generous
 * connection count; beyond it a response is simply not waited for. */
#define KD_INFLIGHT_MAX 1024

typedef struct kd_app {
    kd_config cfg;
    term *t;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *listener;
    kd_sessions sessions;
    kd_carts carts;
    kd_metrics *metrics;
    kd_webroot web;
    int64_t started_ms; /* monotonic */
    bool stopping;

    struct evhttp_connection *inflight[KD_INFLIGHT_MAX];
    size_t n_inflight;

    struct event *checkpoint_ev; /* one-shot: checkpoint_idle_ms after the last write */
    struct event *sweep_ev;      /* periodic: expired sessions and idle carts */
    struct event *drain_ev;      /* shutdown deadline */
    struct event *signal_ev[3];  /* SIGTERM, SIGINT, SIGHUP */

    /* Scratch space for one request at a time (carts and sales are large:
     * up to OPLOG_SALE_LINES_MAX lines), allocated once at start. */
    term_cart *stage;         /* a cart being changed, kept only if it prices */
    oplog_sale *priced;       /* a cart's priced lines */
    term_sale_result *result; /* a checkout's sale */
    oplog_sale *sale;         /* a sale read back */
    term_return_req *ret;     /* a return being built */
    kbuf text;                /* receipts, metrics */

    struct kd_batch *batch;   /* checkouts waiting for their group commit */
    struct kd_pay *pay;       /* the card path (pay.h) */
    struct kd_uplink *uplink; /* uploads to the cloud (uplink.h); NULL: off */
    struct kd_ai *ai;         /* product recognition (ai.h) */
    struct kd_voice *voice;   /* voice ordering (voice.h) */
    struct kd_fraud *fraud;   /* the fraud scorer (fraud.h) */
    /* Local compaction (records.c, compact.c), since start. */
    uint64_t compacted_ops;
    int64_t compacted_at_ms; /* wall clock; 0: none */
    int64_t next_compact_ms; /* monotonic: the leader's next proposal */

    /* Links to the store's other terminals (NULL when [peer] is off). */
    pki_identity id;
    bool have_id;
    peer_mesh *peers;
    struct disco *disco;           /* mDNS ([peer] mdns = 1) */
    struct kd_coord *coord;        /* the store's Raft group (NULL: links off) */
    struct event *peers_status_ev; /* writes peers.json */
} kd_app;

#endif
