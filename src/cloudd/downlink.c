/*
 * downlink.c: GET /v1/stores/{store}/changes?after=C&wait_ms=W.
 *
 * Changes for the store and chain-wide ones ('*') with cursor > C, oldest
 * first, at most CD_CHANGES_PAGE. With none and W > 0 the request waits:
 * while any request waits, one timer every CD_POLL_INTERVAL_MS asks the
 * database for the highest cursor (one cheap query whatever the number of
 * waiters) and, when it grew, re-runs each waiter's query; an admin change
 * made by this instance pokes the waiters at once. The database is the
 * only thing instances share, so a change appended through any instance
 * reaches a waiter on any other within one interval. A waiter is answered
 * with no changes when W has passed (its own timer), and at shutdown.
 *
 * Cursors grow in commit order: admin.c appends under a table lock, so a
 * reader that has seen cursor N has seen every change below N.
 */
#include "cloudd/cloudd.h"

#include "jlog/jlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAITERS_MAX 4096

struct cd_waiter {
    LIST_ENTRY(cd_waiter) link;
    cd_app *app;
    cd_req *req;
    char store[KASSA_ID_MAX + 1];
    int64_t after;
    struct event *deadline;
};

/* The page of changes after `after`: *out {"cursor", "changes"}. */
static int fetch(cd_db *db, const char *store, int64_t after, json_t **out, size_t *n,
                 kassa_err *err)
{
    char after_s[24], limit_s[16];
    snprintf(after_s, sizeof after_s, "%lld", (long long)after);
    snprintf(limit_s, sizeof limit_s, "%d", CD_CHANGES_PAGE);
    const char *params[] = {store, after_s, limit_s};
    PGresult *res = cd_db_query(db,
                                "SELECT cursor, kind, key, body::text FROM changes"
                                " WHERE store_id IN ($1, '*') AND cursor > $2"
                                " ORDER BY cursor LIMIT $3",
                                3, params, NULL, NULL, false, err);
    if (!res)
        return KASSA_EIO;
    json_t *list = json_array();
    int64_t last = after;
    for (int i = 0; list && i < PQntuples(res); i++) {
        last = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        json_t *body = json_loads(PQgetvalue(res, i, 3), 0, NULL);
        json_t *c =
            body ? json_pack("{s:I,s:s,s:s,s:o}", "cursor", (json_int_t)last, "kind",
                             PQgetvalue(res, i, 1), "key", PQgetvalue(res, i, 2), "body", body)
                 : NULL;
        if (!c || json_array_append_new(list, c) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    *n = (size_t)PQntuples(res);
    PQclear(res);
    *out = list ? json_pack("{s:I,s:o}", "cursor", (json_int_t)last, "changes", list) : NULL;
    if (!*out)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    return KASSA_OK;
}

static void waiter_free(cd_waiter *w)
{
    LIST_REMOVE(w, link);
    w->app->n_waiters--;
    if (w->deadline)
        event_free(w->deadline);
    cd_req_release(w->req);
    free(w);
    /* at shutdown the loop ends once the last answer is out */
}

static void answer_empty(cd_waiter *w)
{
    cd_reply_json(w->req, 200, json_pack("{s:I,s:[]}", "cursor", (json_int_t)w->after, "changes"));
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    cd_waiter *w = arg;
    answer_empty(w);
    waiter_free(w);
}

/* Re-runs each waiter's query when anything new was appended anywhere. */
static void poll_changes(cd_app *app)
{
    if (!app->n_waiters)
        return;
    kassa_err err;
    PGresult *res = NULL;
    if (cd_db_ready(&app->db, &err) == KASSA_OK)
        res = cd_db_query(&app->db, "SELECT coalesce(max(cursor), 0) FROM changes", 0, NULL, NULL,
                          NULL, false, &err);
    if (!res) {
        jlog(JLOG_WARN, CD_COMPONENT, "poll_failed", "{s:s}", "error", err.msg);
        return;
    }
    int64_t max = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (max <= app->seen_cursor)
        return;
    cd_waiter *w = LIST_FIRST(&app->waiters), *next;
    for (; w; w = next) {
        next = LIST_NEXT(w, link);
        if (w->after >= max)
            continue;
        json_t *page;
        size_t n;
        if (fetch(&app->db, w->store, w->after, &page, &n, &err) != KASSA_OK) {
            jlog(JLOG_WARN, CD_COMPONENT, "poll_failed", "{s:s}", "error", err.msg);
            return;
        }
        if (n == 0) {
            json_decref(page);
            continue;
        }
        cd_reply_json(w->req, 200, page);
        waiter_free(w);
    }
    /* only now: a failure above leaves the next tick to look again */
    app->seen_cursor = max;
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    cd_app *app = arg;
    poll_changes(app);
    if (!app->n_waiters)
        event_del(app->poll_ev);
}

void cd_downlink_poke(cd_app *app)
{
    poll_changes(app);
}

static int wait_for_change(cd_req *r, const char *store, int64_t after, int64_t wait_ms)
{
    cd_app *app = r->app;
    if (app->n_waiters >= WAITERS_MAX)
        return -1;
    if (!app->poll_ev && !(app->poll_ev = event_new(app->base, -1, EV_PERSIST, on_poll, app)))
        return -1;
    cd_waiter *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->app = app;
    w->after = after;
    snprintf(w->store, sizeof w->store, "%s", store);
    w->req = cd_req_keep(r);
    w->deadline = evtimer_new(app->base, on_deadline, w);
    struct timeval tv = {(time_t)(wait_ms / 1000), (suseconds_t)(wait_ms % 1000) * 1000};
    if (!w->req || !w->deadline || evtimer_add(w->deadline, &tv) != 0) {
        if (w->deadline)
            event_free(w->deadline);
        cd_req_release(w->req);
        free(w);
        return -1;
    }
    LIST_INSERT_HEAD(&app->waiters, w, link);
    app->n_waiters++;
    if (!event_pending(app->poll_ev, EV_TIMEOUT, NULL)) {
        struct timeval every = {0, CD_POLL_INTERVAL_MS * 1000};
        event_add(app->poll_ev, &every);
    }
    return 0;
}

void h_changes(cd_req *r)
{
    int64_t after, wait_ms;
    if (cd_req_query_i64(r, "after", 0, INT64_MAX, 0, &after) != 0 ||
        cd_req_query_i64(r, "wait_ms", 0, CD_WAIT_MS_MAX, 0, &wait_ms) != 0)
        return;
    const char *store = cd_req_param(r, 0);
    kassa_err err;
    json_t *page = NULL;
    size_t n = 0;
    if (cd_db_ready(&r->app->db, &err) != KASSA_OK ||
        fetch(&r->app->db, store, after, &page, &n, &err) != KASSA_OK) {
        cd_reply_kassa(r, &err);
        return;
    }
    if (n > 0 || wait_ms == 0 || r->app->stopping) {
        cd_reply_json(r, 200, page);
        return;
    }
    json_decref(page);
    if (wait_for_change(r, store, after, wait_ms) != 0)
        cd_reply_error(r, 503, CD_E_UNAVAILABLE, "too many requests waiting; ask again");
}

void cd_downlink_flush(cd_app *app)
{
    cd_waiter *w;
    while ((w = LIST_FIRST(&app->waiters)) != NULL) {
        answer_empty(w);
        waiter_free(w);
    }
}

void cd_downlink_free(cd_app *app)
{
    cd_waiter *w;
    while ((w = LIST_FIRST(&app->waiters)) != NULL)
        waiter_free(w); /* evhttp_free frees their requests */
    if (app->poll_ev)
        event_free(app->poll_ev);
    app->poll_ev = NULL;
}
