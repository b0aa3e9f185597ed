#include "kassad/batch.h"
#include "kassad/reply.h"

#include "jlog/jlog.h"

#include <stdlib.h>
#include <string.h>

static void on_commit(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    kd_batch_commit(arg);
}

int kd_batch_init(kd_app *app, kassa_err *err)
{
    app->batch = calloc(1, sizeof *app->batch);
    if (!app->batch)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    app->batch->commit_ev = event_new(app->base, -1, 0, on_commit, app);
    if (!app->batch->commit_ev)
        return kassa_fail(err, KASSA_ENOMEM, "cannot create the group commit event");
    return KASSA_OK;
}

void kd_batch_free(kd_app *app)
{
    if (!app->batch)
        return;
    kd_batch_commit(app); /* nothing written is left unanswered */
    if (app->batch->commit_ev)
        event_free(app->batch->commit_ev);
    free(app->batch);
    app->batch = NULL;
}

int kd_batch_join(kd_app *app, kassa_err *err)
{
    kd_batch *b = app->batch;
    if (b->open && b->n == KD_BATCH_MAX)
        kd_batch_commit(app);
    if (b->open)
        return KASSA_OK;
    int rc = term_batch_begin(app->t, err);
    if (rc != KASSA_OK)
        return rc;
    b->open = true;
    /* Active now, run after the callbacks already due in this pass: the
     * requests that arrived together join before it commits. */
    event_active(b->commit_ev, EV_TIMEOUT, 0);
    return KASSA_OK;
}

bool kd_batch_holds(const kd_app *app, const kd_cart *cart)
{
    const kd_batch *b = app->batch;
    for (size_t i = 0; b->open && i < b->n; i++)
        if (b->items[i].cart == cart)
            return true;
    return false;
}

void kd_batch_defer(kd_req *r, json_t *answer, kd_cart *cart)
{
    kd_batch *b = r->app->batch;
    b->items[b->n++] = (kd_deferred){
        .ev = r->ev,
        .answer = answer,
        .cart = cart,
        .started_us = r->started_us,
    };
    /* Answered, as far as the dispatcher is concerned: it leaves later. */
    r->status = 201;
}

void kd_batch_commit(kd_app *app)
{
    kd_batch *b = app->batch;
    if (!b || !b->open)
        return;
    b->open = false;
    event_del(b->commit_ev);
    kassa_err err;
    kassa_err_clear(&err);
    int rc = term_batch_commit(app->t, &err);
    if (rc == KASSA_OK && b->n > 0)
        kd_metrics_group_commit(app->metrics);
    if (rc != KASSA_OK)
        jlog(JLOG_ERROR, "sale", "group_commit_failed", "{s:s,s:I}", "reason", err.msg,
             "sales_refused", (json_int_t)b->n);
    for (size_t i = 0; i < b->n; i++) {
        kd_deferred *d = &b->items[i];
        kd_req r = {.app = app, .ev = d->ev, .started_us = d->started_us};
        if (rc == KASSA_OK) {
            /* Durable now: the cart is done, the answer may leave. */
            kd_carts_close(&app->carts, d->cart);
            kd_metrics_sale(app->metrics);
            kd_reply_json(&r, 201, d->answer);
        } else {
            /* Not recorded: the cart stays open for another try. */
            json_decref(d->answer);
            kd_reply_kassa(&r, &err);
        }
    }
    b->n = 0;
}
