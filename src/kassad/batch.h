/*
 * batch: group commit of checkouts. Every sale is one durable transaction
 * with one fsync; at thousands of checkouts a second the single event loop
 * spends much of its time waiting for those fsyncs. So the checkouts that
 * arrive in the same pass of the event loop share one transaction: each
 * sale runs in its own savepoint (a refused one rolls back alone and is
 * answered at once), and the 201s leave only after the one COMMIT has
 * returned, so nothing is acknowledged before it is durable.
 *
 * Any other request commits an open batch first: no other answer may rest
 * on an uncommitted sale, and nothing else joins a batch.
 */
#ifndef KASSAD_BATCH_H
#define KASSAD_BATCH_H

#include "kassad/request.h"

/* Most checkouts in one transaction: a full batch commits at once. */
#define KD_BATCH_MAX 64

typedef struct kd_deferred {
    struct evhttp_request *ev;
    json_t *answer; /* the 201 body, sent after the commit */
    kd_cart *cart;  /* closed after the commit */
    size_t metric;  /* route index for the metrics */
    uint64_t started_us;
} kd_deferred;

typedef struct kd_batch {
    bool open;
    struct event *commit_ev; /* made active when a batch opens */
    size_t n;
    kd_deferred items[KD_BATCH_MAX];
} kd_batch;

int kd_batch_init(kd_app *app, kassa_err *err);
void kd_batch_free(kd_app *app);
/* Opens a batch if none is open (the commit runs at the end of this pass
 * of the event loop); commits a full one first. */
int kd_batch_join(kd_app *app, kassa_err *err);
/* Whether a checkout of this cart waits in the open batch. */
bool kd_batch_holds(const kd_app *app, const kd_cart *cart);
/* Holds a checkout's answer until the batch commits. */
void kd_batch_defer(kd_req *r, json_t *answer, kd_cart *cart);
/* Commits the open batch (if any) and sends or fails its answers. */
void kd_batch_commit(kd_app *app);

#endif
