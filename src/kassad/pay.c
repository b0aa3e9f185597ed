/* pay.c: the card path of kassad: reader, processor, offline limits,
 * forwarding (pay.h has the whole conversation). */
#include "kassad/pay.h"

#include "jlog/jlog.h"
#include "kassad/batch.h"
#include "kassad/clock.h"
#include "kassad/fraud.h"
#include "kassad/handlers.h"
#include "kassad/housekeeping.h"
#include "kassad/reply.h"
#include "pay/pay.h"

#include <errno.h>
#include <sodium.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

_Static_assert(PAY_ID_MAX == OPLOG_PAY_ID_MAX && PAY_TOKEN_MAX == OPLOG_TOKEN_MAX &&
                   PAY_BRAND_MAX == OPLOG_BRAND_MAX && PAY_REASON_MAX == OPLOG_REASON_MAX &&
                   PAY_AUTH_CODE_MAX == OPLOG_AUTH_CODE_MAX && PAY_BLOB_MAX == TERM_PAY_BLOB_MAX,
               "the card path's limits and the log's agree");

/* What the processor looked like at its last call. */
typedef enum { PROC_UNKNOWN = 0, PROC_ONLINE, PROC_OFFLINE } proc_state;

struct kd_pay;
typedef void (*proc_cb)(struct kd_pay *p, void *ctx, int status, const char *body, size_t len);

/* One processor call in flight: who gets the answer. */
typedef struct proc_call {
    struct kd_pay *pay;
    proc_cb cb;
    void *ctx;
    struct evhttp_request *req; /* NULL once answered */
} proc_call;

/* A card checkout in progress. */
typedef struct kd_paying {
    bool used;
    struct kd_pay *pay;
    struct evhttp_request *ev; /* the client's request; NULL once it went away */
    struct evhttp_connection *client;
    uint64_t started_us;
    size_t route;  /* for the metrics, counted when answered */
    kd_cart *cart; /* locked (paying) until the end */
    char cashier[KASSA_ID_MAX + 1];
    char id[OPLOG_PAY_ID_MAX + 1];
    int64_t cash, amount;
    char manager[KASSA_ID_MAX + 1];
    pay_card card;
    bool card_read;
    struct bufferevent *reader;
    proc_call call;
} kd_paying;

/* One answer of a forwarding chunk, committed with the others. */
typedef struct fwd_result {
    char id[OPLOG_PAY_ID_MAX + 1];
    bool finished; /* false: a failed attempt (error says why) */
    int outcome;
    char reason[OPLOG_REASON_MAX + 1];
    char auth_code[OPLOG_AUTH_CODE_MAX + 1];
    char error[128];
} fwd_result;

typedef struct kd_pay {
    kd_app *app;
    kd_paying active[KD_PAY_ACTIVE_MAX];
    /* Two connections, so a customer's authorisation never queues behind
     * a backlog being forwarded. */
    struct evhttp_connection *online, *forward;
    proc_state state;
    int64_t state_since_ms; /* wall */
    int64_t last_forward_ms;
    /* forwarder */
    struct event *timer;
    bool running;
    bool kicked;      /* work was added while a pass ran: run another */
    int64_t retry_ms; /* the current backoff; 0 while the processor answers */
    term_pay *chunk;  /* KD_PAY_FORWARD_CHUNK rows */
    size_t n_chunk, next;
    int64_t after_n; /* a pass goes on after this row (0: from the first due row) */
    bool pass_retry; /* this pass left a row due to retry later */
    fwd_result results[KD_PAY_FORWARD_CHUNK];
    size_t n_results;
    proc_call fwd_call;
    kbuf body;
    char path[128];
} kd_pay;

/* ---- small helpers ---- */

static void set_state(kd_pay *p, proc_state s)
{
    if (p->state == s)
        return;
    jlog(s == PROC_OFFLINE ? JLOG_WARN : JLOG_INFO, "pay", "processor_state", "{s:s}", "state",
         s == PROC_ONLINE ? "online" : "offline");
    p->state = s;
    p->state_since_ms = kd_wall_ms();
}

static const char *currency_of(kd_app *app, char out[PAY_CURRENCY_MAX + 1])
{
    char value[OPLOG_SETTING_VALUE_MAX + 1];
    bool found = false;
    kassa_err err;
    if (term_setting_get(app->t, "currency", value, sizeof value, &found, &err) != KASSA_OK ||
        !found || strlen(value) != PAY_CURRENCY_MAX)
        memcpy(value, "EUR", PAY_CURRENCY_MAX + 1);
    memcpy(out, value, PAY_CURRENCY_MAX); /* strlen(value) == PAY_CURRENCY_MAX here */
    out[PAY_CURRENCY_MAX] = '\0';
    return out;
}

static struct timeval tv_ms(int64_t ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

/* ---- processor calls ---- */

static void on_proc_done(struct evhttp_request *req, void *arg)
{
    proc_call *c = arg;
    c->req = NULL; /* libevent frees req after this callback */
    int status = req ? evhttp_request_get_response_code(req) : 0;
    static char body[PAY_BODY_MAX_BYTES + 1];
    size_t len = 0;
    struct evbuffer *in = req ? evhttp_request_get_input_buffer(req) : NULL;
    if (in && evbuffer_get_length(in) <= PAY_BODY_MAX_BYTES) {
        len = evbuffer_get_length(in);
        if (evbuffer_copyout(in, body, len) != (ev_ssize_t)len)
            len = 0;
    } else if (in) {
        status = status == 200 ? 299 : status; /* too long: garbage */
    }
    body[len] = '\0';
    c->cb(c->pay, c->ctx, status, body, len);
}

/* POSTs body to path; the answer (status 0: none) goes to call->cb. */
static int proc_post(kd_pay *p, struct evhttp_connection *conn, proc_call *call, const char *path,
                     const kbuf *body)
{
    struct evhttp_request *req = evhttp_request_new(on_proc_done, call);
    if (!req)
        return KASSA_ENOMEM;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const kd_config *cfg = &p->app->cfg;
    if (evhttp_add_header(h, "Host", cfg->processor_host) != 0 ||
        evhttp_add_header(h, "Content-Type", "application/json") != 0 ||
        evbuffer_add(evhttp_request_get_output_buffer(req), body->data, body->len) != 0) {
        evhttp_request_free(req);
        return KASSA_ENOMEM;
    }
    call->req = req;
    if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, path) != 0) {
        call->req = NULL; /* freed by libevent */
        return KASSA_EIO;
    }
    return KASSA_OK;
}

static struct evhttp_connection *proc_conn(kd_pay *p)
{
    const kd_config *cfg = &p->app->cfg;
    struct evhttp_connection *c =
        evhttp_connection_base_new(p->app->base, NULL, cfg->processor_host, cfg->processor_port);
    if (!c)
        return NULL;
    struct timeval tv = tv_ms(cfg->processor_timeout_ms);
    evhttp_connection_set_timeout_tv(c, &tv);
    evhttp_connection_set_retries(c, 0);
    return c;
}

/* ---- answering a card checkout ---- */

static void on_client_gone(struct evhttp_connection *c, void *arg)
{
    (void)c;
    kd_paying *py = arg;
    jlog(JLOG_WARN, "pay", "client_gone", "{s:s}", "payment_id", py->id);
    py->ev = NULL;
}

/* Answers the client's request with body, or with err when body is NULL
 * and err is not; counted in the metrics now that the answer is known. */
static void answer_with(kd_paying *py, int status, json_t *body, const kassa_err *err)
{
    if (!py->ev) {
        json_decref(body);
        return;
    }
    kd_app *app = py->pay->app;
    evhttp_connection_set_closecb(py->client, NULL, NULL);
    kd_req r = {.app = app, .ev = py->ev, .started_us = py->started_us};
    if (err && !body)
        kd_reply_kassa(&r, err);
    else
        kd_reply_json(&r, status, body);
    py->ev = NULL;
    kd_metrics_request(app->metrics, py->route, r.status, kd_mono_us() - py->started_us);
}

static void answer(kd_paying *py, int status, json_t *body)
{
    answer_with(py, status, body, NULL);
}

/* The error shape of the contract, with the card path's details. */
static void answer_error(kd_paying *py, int status, const char *code, const char *reason,
                         bool override_possible, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void answer_error(kd_paying *py, int status, const char *code, const char *reason,
                         bool override_possible, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jlog(JLOG_INFO, "pay", "card_refused", "{s:s,s:s,s:s,s:I}", "payment_id", py->id, "reason",
         reason, "message", msg, "amount_minor", (json_int_t)py->amount);
    /* A card attempt that did not become a sale (fraud.h). */
    kd_fraud_card_failed(py->pay->app, py->cart, py->cashier, py->card.token, py->amount,
                         status == 402, strcmp(reason, "offline_limit") == 0);
    json_t *e = json_pack("{s:s,s:s,s:s,s:s}", "code", code, "message", msg, "reason", reason,
                          "payment_id", py->id);
    if (e && override_possible)
        json_object_set_new(e, "override_possible", json_true());
    answer(py, status, e ? json_pack("{s:o}", "error", e) : NULL);
}

/* Ends a checkout: the cart unlocked (or closed by a sale), everything
 * the checkout held released. */
static void release(kd_paying *py)
{
    if (py->reader)
        bufferevent_free(py->reader);
    py->reader = NULL;
    if (py->call.req) {
        evhttp_cancel_request(py->call.req);
        py->call.req = NULL;
    }
    if (py->cart)
        py->cart->paying = false;
    if (py->ev)
        evhttp_connection_set_closecb(py->client, NULL, NULL);
    sodium_memzero(&py->card, sizeof py->card);
    py->used = false;
}

/* A step of the state machine failed to commit: the checkout cannot go on
 * (the row says what is owed; a restart settles it). */
static void fail_storage(kd_paying *py, const kassa_err *err)
{
    jlog(JLOG_ERROR, "pay", "state_failed", "{s:s,s:s}", "payment_id", py->id, "error", err->msg);
    answer_with(py, 0, NULL, err);
    release(py);
}

/* ---- the sale ---- */

static void complete_sale(kd_paying *py, int mode, const char *auth_code, const char *limit)
{
    kd_pay *p = py->pay;
    kd_app *app = p->app;
    kd_batch_commit(app); /* no other request's sale shares this transaction */
    /* The fraud scorer decides now that the card is known (fraud.h). */
    json_t *refusal;
    int refused = kd_fraud_card_sale(app, py->cart, py->cashier, py->id, py->card.token, py->amount,
                                     mode == OPLOG_CARD_OFFLINE, &refusal);
    if (refused) {
        kassa_err e2;
        if (term_pay_abandon(app->t, py->id, "fraud_refused", &e2) != KASSA_OK) {
            json_decref(refusal);
            fail_storage(py, &e2);
            return;
        }
        kd_fraud_card_failed(app, py->cart, py->cashier, py->card.token, py->amount, false,
                             mode == OPLOG_CARD_OFFLINE);
        answer(py, refused, refusal);
        release(py);
        kd_pay_nudge(app);
        return;
    }
    term_tender tender = {.cash = py->cash, .has_card = true};
    oplog_card_tender *c = &tender.card;
    snprintf(c->payment_id, sizeof c->payment_id, "%s", py->id);
    c->amount = py->amount;
    snprintf(c->token, sizeof c->token, "%s", py->card.token);
    snprintf(c->brand, sizeof c->brand, "%s", py->card.brand);
    snprintf(c->last4, sizeof c->last4, "%s", py->card.last4);
    c->exp_month = (uint8_t)py->card.exp_month;
    c->exp_year = (uint16_t)py->card.exp_year;
    c->mode = (uint8_t)mode;
    snprintf(c->auth_code, sizeof c->auth_code, "%s", auth_code);
    if (limit) {
        snprintf(tender.override_by, sizeof tender.override_by, "%s", py->manager);
        snprintf(tender.override_detail, sizeof tender.override_detail, "%s", limit);
    }
    snprintf(app->t->actor.cashier, sizeof app->t->actor.cashier, "%s", py->cashier);
    term_sale_result *res = app->result;
    kassa_err err;
    int rc = term_sale_tender(app->t, &py->cart->cart, &tender, res, &err);
    memset(&app->t->actor, 0, sizeof app->t->actor);
    kd_housekeeping_wrote(app);
    if (rc != KASSA_OK) {
        /* Not sold: whatever the processor holds for it is released. */
        kassa_err e2;
        if (term_pay_abandon(app->t, py->id, "sale_refused", &e2) != KASSA_OK)
            jlog(JLOG_ERROR, "pay", "abandon_failed", "{s:s,s:s}", "payment_id", py->id, "error",
                 e2.msg);
        answer_with(py, 0, NULL, &err);
        release(py);
        kd_pay_nudge(app);
        return;
    }
    kd_fraud_sold(app, py->cart, &res->ref);
    char id[KASSA_ID_MAX + 24];
    oplog_sale_id(&res->ref, id, sizeof id);
    jlog(JLOG_INFO, "sale", "sale", "{s:s,s:s,s:I,s:I,s:s,s:s,s:I}", "sale_id", id, "cashier",
         res->sale.cashier, "total_minor", (json_int_t)res->totals.total, "lines",
         (json_int_t)res->sale.n_lines, "payment_id", py->id, "card_mode",
         mode == OPLOG_CARD_ONLINE ? "online" : "offline", "card_minor", (json_int_t)py->amount);
    kd_metrics_sale(app->metrics);
    term_sale_info info = {.ref = res->ref, .hlc = res->hlc, .total = res->totals.total};
    json_t *sale = kd_json_sale(app, &res->ref, &info, &res->sale);
    kd_cart *cart = py->cart;
    py->cart = NULL;
    release(py);
    kd_carts_close(&app->carts, cart);
    answer(py, 201, sale);
    kd_pay_nudge(app); /* the capture */
}

/* ---- offline ---- */

static void go_offline(kd_paying *py, const char *why)
{
    kd_pay *p = py->pay;
    kd_app *app = p->app;
    const kd_config *cfg = &app->cfg;
    term_saf_totals tot;
    kassa_err err;
    if (term_saf_get(app->t, py->card.token, &tot, &err) != KASSA_OK) {
        fail_storage(py, &err);
        return;
    }
    char limit[OPLOG_AUDIT_DETAIL_MAX + 1] = "", money[MONEY_STR_SIZE];
    if (py->amount > cfg->offline_max_amount_minor) {
        money_format(cfg->offline_max_amount_minor, money);
        snprintf(limit, sizeof limit, "above the offline limit of %s per payment", money);
    } else if (tot.amount + py->amount > cfg->offline_max_pending_minor) {
        money_format(cfg->offline_max_pending_minor, money);
        snprintf(limit, sizeof limit, "stored offline payments would exceed %s", money);
    } else if ((int64_t)tot.token_count >= cfg->offline_max_per_card) {
        snprintf(limit, sizeof limit, "this card already has %zu stored offline payment%s",
                 tot.token_count, tot.token_count == 1 ? "" : "s");
    }
    jlog(JLOG_INFO, "pay", "offline", "{s:s,s:s,s:s}", "payment_id", py->id, "why", why, "limit",
         limit);
    if (limit[0] && !py->manager[0]) {
        /* The processor may have approved an authorisation whose answer was
         * lost: abandoning releases it. */
        if (term_pay_abandon(app->t, py->id, "declined:offline_limit", &err) != KASSA_OK) {
            fail_storage(py, &err);
            return;
        }
        answer_error(py, 402, KD_E_DECLINED, "offline_limit", true,
                     "The card network is unreachable and this payment is %s: take another "
                     "tender, or a manager may allow it",
                     limit);
        release(py);
        kd_pay_nudge(app);
        return;
    }
    complete_sale(py, OPLOG_CARD_OFFLINE, "", limit[0] ? limit : NULL);
}

/* ---- online ---- */

static void on_auth_answer(kd_pay *p, void *ctx, int status, const char *body, size_t len)
{
    kd_paying *py = ctx;
    kd_app *app = p->app;
    pay_result res;
    kassa_err err;
    if (status == 0 || status >= 500 ||
        (status == 200 && pay_result_decode(body, len, &res, &err) != KASSA_OK)) {
        char why[64];
        snprintf(why, sizeof why, status == 0 ? "no answer" : "answered %d%s", status,
                 status == 200 ? " with garbage" : "");
        set_state(p, PROC_OFFLINE);
        go_offline(py, why);
        return;
    }
    set_state(p, PROC_ONLINE);
    if (status != 200 || strcmp(res.id, py->id) != 0) {
        /* The processor refused the request itself (a 4xx): nothing to go
         * offline for; release whatever it may hold. */
        if (term_pay_abandon(app->t, py->id, "processor_refused", &err) != KASSA_OK) {
            fail_storage(py, &err);
            return;
        }
        answer_error(py, 502, KD_E_PAYMENT_ERROR, "processor_refused", false,
                     "The card processor refused the request (%d)", status);
        release(py);
        kd_pay_nudge(app);
        return;
    }
    if (res.status == PAY_ST_AUTHORIZED || res.status == PAY_ST_CAPTURED) {
        complete_sale(py, OPLOG_CARD_ONLINE, res.auth_code, NULL);
        return;
    }
    const char *reason = res.status == PAY_ST_DECLINED && res.reason[0] ? res.reason : "declined";
    if (term_pay_declined(app->t, py->id, reason, &err) != KASSA_OK) {
        fail_storage(py, &err);
        return;
    }
    char words[PAY_REASON_MAX + 1];
    snprintf(words, sizeof words, "%s", reason);
    for (char *c = words; *c; c++)
        *c = *c == '_' ? ' ' : *c;
    answer_error(py, 402, KD_E_DECLINED, reason, false, "Card declined: %s", words);
    release(py);
}

static void authorise(kd_paying *py)
{
    kd_pay *p = py->pay;
    kd_app *app = p->app;
    /* While the processor is known to be down (the forwarder keeps
     * probing it), customers do not wait for a timeout each. */
    if (!app->cfg.processor[0] || p->state == PROC_OFFLINE) {
        go_offline(py, app->cfg.processor[0] ? "processor offline" : "no processor configured");
        return;
    }
    pay_auth_req q = {.amount_minor = py->amount, .mode = PAY_MODE_ONLINE};
    snprintf(q.store_id, sizeof q.store_id, "%s", app->t->store_id);
    snprintf(q.payment_id, sizeof q.payment_id, "%s", py->id);
    currency_of(app, q.currency);
    snprintf(q.token, sizeof q.token, "%s", py->card.token);
    memcpy(q.blob, py->card.blob, py->card.blob_len);
    q.blob_len = py->card.blob_len;
    kassa_err err;
    kbuf_reset(&p->body);
    if (pay_auth_req_encode(&q, &p->body, &err) != KASSA_OK ||
        proc_post(p, p->online, &py->call, "/v1/payments", &p->body) != KASSA_OK) {
        set_state(p, PROC_OFFLINE);
        go_offline(py, "request not sent");
    }
}

/* ---- the reader ---- */

static bool card_expired(const pay_card *c)
{
    time_t now = (time_t)(kd_wall_ms() / 1000);
    struct tm tm;
    if (!gmtime_r(&now, &tm))
        return false;
    return pay_card_expired(c, tm.tm_year + 1900, tm.tm_mon + 1);
}

static void on_card(kd_paying *py, const char *line, size_t n)
{
    kd_app *app = py->pay->app;
    pay_read_reply rep;
    kassa_err err;
    if (pay_read_reply_decode(line, n, &rep, &err) != KASSA_OK ||
        strcmp(rep.payment_id, py->id) != 0) {
        jlog(JLOG_WARN, "pay", "reader_garbage", "{s:s}", "error",
             rep.payment_id[0] ? "answer for another payment" : err.msg);
        if (term_pay_abandon(app->t, py->id, "reader:garbage", &err) != KASSA_OK) {
            fail_storage(py, &err);
            return;
        }
        answer_error(py, 502, KD_E_PAYMENT_ERROR, "reader_error", false,
                     "The card reader gave an answer that makes no sense: try again");
        release(py);
        return;
    }
    if (!rep.ok) {
        char why[48];
        snprintf(why, sizeof why, "reader:%s", rep.reason);
        if (term_pay_abandon(app->t, py->id, why, &err) != KASSA_OK) {
            fail_storage(py, &err);
            return;
        }
        const char *msg = strcmp(rep.reason, PAY_READER_TIMEOUT) == 0
                              ? "No card was presented in time"
                          : strcmp(rep.reason, PAY_READER_UNREADABLE) == 0
                              ? "The card could not be read (check digit failed): try again or "
                                "use another card"
                          : strcmp(rep.reason, PAY_READER_CANCELLED) == 0
                              ? "The card was removed: payment cancelled"
                          : strcmp(rep.reason, PAY_READER_BUSY) == 0
                              ? "The card reader is busy with another payment"
                              : "The card reader could not take the card";
        answer_error(py, 502, KD_E_PAYMENT_ERROR, rep.reason, false, "%s", msg);
        release(py);
        return;
    }
    py->card = rep.card;
    sodium_memzero(&rep, sizeof rep);
    if (card_expired(&py->card)) {
        if (term_pay_abandon(app->t, py->id, "declined:expired_card", &err) != KASSA_OK) {
            fail_storage(py, &err);
            return;
        }
        answer_error(py, 402, KD_E_DECLINED, "expired_card", false,
                     "Card declined: the card expired at the end of %02d/%04d", py->card.exp_month,
                     py->card.exp_year);
        release(py);
        return;
    }
    if (term_pay_card_read(app->t, py->id, py->card.token, py->card.blob, py->card.blob_len,
                           &err) != KASSA_OK) {
        fail_storage(py, &err);
        return;
    }
    py->card_read = true;
    authorise(py);
}

static void reader_fail(kd_paying *py, const char *reason, const char *msg)
{
    kassa_err err;
    char why[48];
    snprintf(why, sizeof why, "reader:%s", reason);
    bufferevent_free(py->reader);
    py->reader = NULL;
    if (term_pay_abandon(py->pay->app->t, py->id, why, &err) != KASSA_OK) {
        fail_storage(py, &err);
        return;
    }
    answer_error(py, 502, KD_E_PAYMENT_ERROR, reason, false, "%s", msg);
    release(py);
}

static void on_reader_read(struct bufferevent *bev, void *arg)
{
    kd_paying *py = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n;
    char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
    if (!line) {
        if (evbuffer_get_length(in) > PAY_LINE_MAX_BYTES)
            reader_fail(py, "reader_error", "The card reader sent an over-long answer");
        return;
    }
    bufferevent_free(py->reader);
    py->reader = NULL;
    on_card(py, line, n);
    sodium_memzero(line, n);
    free(line);
}

static void on_reader_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    kd_paying *py = arg;
    if (what & BEV_EVENT_TIMEOUT)
        reader_fail(py, "reader_timeout", "The card reader did not answer in time");
    else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        reader_fail(py, "reader_disconnected",
                    "The card reader disconnected during the payment: nothing was charged");
}

static int reader_ask(kd_paying *py, kassa_err *err)
{
    kd_app *app = py->pay->app;
    const char *path = app->cfg.reader_socket;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return kassa_fail(err, KASSA_EINVAL, "reader socket path too long");
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return kassa_fail(err, KASSA_EIO, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        return kassa_fail(err, KASSA_EIO, "the card reader is not reachable (%s)", strerror(e));
    }
    py->reader = bufferevent_socket_new(app->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!py->reader) {
        close(fd);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    }
    /* The customer has reader_timeout_ms to present a card; the reader
     * answers "timeout" itself then, so wait a little longer. */
    struct timeval tv = tv_ms(app->cfg.reader_timeout_ms + 2000);
    bufferevent_set_timeouts(py->reader, &tv, &tv);
    bufferevent_setcb(py->reader, on_reader_read, NULL, on_reader_event, py);
    pay_read_req q = {.amount_minor = py->amount, .timeout_ms = app->cfg.reader_timeout_ms};
    snprintf(q.payment_id, sizeof q.payment_id, "%s", py->id);
    currency_of(app, q.currency);
    kbuf line;
    kbuf_init(&line);
    int rc = pay_read_req_encode(&q, &line, err);
    if (rc == KASSA_OK && (bufferevent_write(py->reader, line.data, line.len) != 0 ||
                           bufferevent_enable(py->reader, EV_READ | EV_WRITE) != 0))
        rc = kassa_fail(err, KASSA_EIO, "cannot write to the card reader");
    kbuf_free(&line);
    if (rc != KASSA_OK) {
        bufferevent_free(py->reader);
        py->reader = NULL;
    }
    return rc;
}

void kd_pay_checkout(kd_req *r, kd_cart *c, int64_t cash, int64_t card, const char *manager)
{
    kd_app *app = r->app;
    kd_pay *p = app->pay;
    kassa_err err;
    if (!app->cfg.reader_socket[0]) {
        kd_reply_error(r, 409, KD_E_CONFLICT, "this terminal has no card reader configured");
        return;
    }
    kd_paying *py = NULL;
    for (size_t i = 0; !py && i < KD_PAY_ACTIVE_MAX; i++)
        if (!p->active[i].used)
            py = &p->active[i];
    if (!py) {
        kd_reply_error(r, 409, KD_E_CONFLICT, "%d card payments are in progress: try again",
                       KD_PAY_ACTIVE_MAX);
        return;
    }
    /* Check the amounts now: the customer should not present a card for a
     * payment that cannot complete. */
    pricing_totals totals;
    int64_t cash_due;
    if (term_cart_price(app->t, &c->cart, app->priced, &totals, &err) != KASSA_OK ||
        (card > totals.total &&
         kassa_fail(&err, KASSA_ECONFLICT, "the card amount is more than the total") != 0) ||
        term_cash_round(app->t, totals.total - card, &cash_due, &err) != KASSA_OK ||
        (cash < cash_due &&
         kassa_fail(&err, KASSA_ECONFLICT, "cash and card together do not cover the total") != 0)) {
        kd_reply_kassa(r, &err);
        return;
    }
    kd_batch_commit(app);
    memset(py, 0, sizeof *py);
    py->pay = p;
    py->cash = cash;
    py->amount = card;
    snprintf(py->cashier, sizeof py->cashier, "%s", r->session->cashier.id);
    snprintf(py->manager, sizeof py->manager, "%s", manager ? manager : "");
    if (term_pay_reserve(app->t, card, py->id, &err) != KASSA_OK) {
        kd_reply_kassa(r, &err);
        return;
    }
    if (reader_ask(py, &err) != KASSA_OK) {
        kassa_err e2;
        if (term_pay_abandon(app->t, py->id, "reader:unavailable", &e2) != KASSA_OK)
            jlog(JLOG_ERROR, "pay", "abandon_failed", "{s:s,s:s}", "payment_id", py->id, "error",
                 e2.msg);
        jlog(JLOG_WARN, "pay", "reader_unavailable", "{s:s}", "error", err.msg);
        kd_reply_json(r, 502,
                      json_pack("{s:{s:s,s:s,s:s,s:s}}", "error", "code", KD_E_PAYMENT_ERROR,
                                "message", err.msg, "reason", "reader_unavailable", "payment_id",
                                py->id));
        return;
    }
    py->used = true;
    py->cart = c;
    c->paying = true;
    py->ev = r->ev;
    py->started_us = r->started_us;
    py->route = r->match.index;
    py->client = evhttp_request_get_connection(r->ev);
    py->call = (proc_call){.pay = p, .cb = on_auth_answer, .ctx = py};
    if (py->client)
        evhttp_connection_set_closecb(py->client, on_client_gone, py);
    jlog(JLOG_INFO, "pay", "card_requested", "{s:s,s:I,s:I}", "payment_id", py->id, "amount_minor",
         (json_int_t)card, "cash_minor", (json_int_t)cash);
    r->status = KD_STATUS_DEFERRED; /* answered (and counted) later, by answer() */
}

/* ---- the forwarder ---- */

static void fwd_schedule(kd_pay *p, int64_t delay_ms)
{
    struct timeval tv = tv_ms(delay_ms);
    evtimer_add(p->timer, &tv);
}

static void fwd_commit(kd_pay *p)
{
    kd_app *app = p->app;
    kassa_err err;
    if (p->n_results == 0)
        return;
    kd_batch_commit(app);
    int rc = term_batch_begin(app->t, &err);
    for (size_t i = 0; rc == KASSA_OK && i < p->n_results; i++) {
        const fwd_result *f = &p->results[i];
        kassa_err one;
        int r1 = f->finished
                     ? term_pay_finish(app->t, f->id, f->outcome, f->reason, f->auth_code, &one)
                     : term_pay_attempt_failed(app->t, f->id, f->error, &one);
        if (r1 != KASSA_OK) /* this row stays as it was: it will be sent again */
            jlog(JLOG_ERROR, "pay", "forward_record_failed", "{s:s,s:s}", "payment_id", f->id,
                 "error", one.msg);
    }
    if (rc == KASSA_OK)
        rc = term_batch_commit(app->t, &err);
    if (rc != KASSA_OK) {
        term_batch_rollback(app->t);
        jlog(JLOG_ERROR, "pay", "forward_commit_failed", "{s:s}", "error", err.msg);
    }
    kd_housekeeping_wrote(app);
    p->n_results = 0;
}

static fwd_result *fwd_add(kd_pay *p, const term_pay *row, bool finished, int outcome,
                           const char *reason, const char *auth_code, const char *error)
{
    fwd_result *f = &p->results[p->n_results++];
    memset(f, 0, sizeof *f);
    snprintf(f->id, sizeof f->id, "%s", row->id);
    f->finished = finished;
    f->outcome = outcome;
    snprintf(f->reason, sizeof f->reason, "%s", reason ? reason : "");
    snprintf(f->auth_code, sizeof f->auth_code, "%s", auth_code ? auth_code : "");
    /* They go into an outcome operation, which takes words only: a reason
     * the processor words otherwise must not leave the row due forever. */
    if (f->reason[0] && !oplog_word_ok(f->reason))
        snprintf(f->reason, sizeof f->reason, "declined");
    if (f->auth_code[0] && !oplog_word_ok(f->auth_code))
        f->auth_code[0] = '\0';
    snprintf(f->error, sizeof f->error, "%s", error ? error : "");
    return f;
}

static void fwd_next(kd_pay *p);

/* The pass stops: answers committed, the next pass scheduled. */
static void fwd_end(kd_pay *p, bool reached)
{
    /* A refund whose payment the processor lacks yet stays due. */
    for (size_t i = 0; i < p->n_results; i++)
        p->pass_retry = p->pass_retry || !p->results[i].finished;
    fwd_commit(p);
    p->running = false;
    const kd_config *cfg = &p->app->cfg;
    if (p->kicked) {
        /* A capture, refund or stored payment added during this pass: the
         * pass may have read the due rows before it existed. */
        p->kicked = false;
        p->after_n = 0;
        p->pass_retry = false;
        if (!reached)
            p->retry_ms = 0;
        fwd_schedule(p, 0);
        return;
    }
    if (reached) {
        p->retry_ms = 0;
        p->last_forward_ms = kd_wall_ms();
        /* A full chunk: more may wait, after the rows of this one (a row
         * left due, a refund to retry, is not taken again in this pass). */
        if (p->n_chunk == KD_PAY_FORWARD_CHUNK) {
            p->after_n = p->chunk[p->n_chunk - 1].n;
            fwd_schedule(p, 0);
            return;
        }
        p->after_n = 0;
        if (p->pass_retry)
            fwd_schedule(p, cfg->forward_retry_max_ms);
        p->pass_retry = false;
        return;
    }
    p->after_n = 0; /* the next pass starts again from the oldest */
    p->pass_retry = false;
    p->retry_ms = p->retry_ms ? p->retry_ms * 2 : cfg->forward_retry_min_ms;
    if (p->retry_ms > cfg->forward_retry_max_ms)
        p->retry_ms = cfg->forward_retry_max_ms;
    /* Jitter: terminals of a store that lost the processor together do not
     * all come back in the same millisecond. */
    int64_t delay = p->retry_ms - (int64_t)randombytes_uniform((uint32_t)(p->retry_ms / 4 + 1));
    fwd_schedule(p, delay);
}

static void on_fwd_answer(kd_pay *p, void *ctx, int status, const char *body, size_t len)
{
    (void)ctx;
    const term_pay *row = &p->chunk[p->next];
    pay_result res;
    kassa_err err;
    bool decoded = status == 200 && pay_result_decode(body, len, &res, &err) == KASSA_OK;
    if (status == 0 || status >= 500 || (status == 200 && !decoded)) {
        char why[64];
        snprintf(why, sizeof why, status == 0 ? "no answer" : "answered %d%s", status,
                 status == 200 ? " with garbage" : "");
        fwd_add(p, row, false, 0, NULL, NULL, why);
        set_state(p, PROC_OFFLINE);
        jlog(JLOG_WARN, "pay", "forward_failed", "{s:s,s:s}", "payment_id", row->id, "error", why);
        fwd_end(p, false);
        return;
    }
    set_state(p, PROC_ONLINE);
    p->retry_ms = 0;              /* answering again: no backoff for what comes next */
    bool refused = status != 200; /* a 4xx: the processor will not do it */
    switch (row->state) {
    case TERM_PAY_STORED:
        if (!refused && (res.status == PAY_ST_CAPTURED || res.status == PAY_ST_AUTHORIZED))
            fwd_add(p, row, true, OPLOG_PAY_APPROVED, NULL, res.auth_code, NULL);
        else
            fwd_add(p, row, true, OPLOG_PAY_DECLINED,
                    refused         ? "processor_refused"
                    : res.reason[0] ? res.reason
                                    : "declined",
                    NULL, NULL);
        break;
    case TERM_PAY_REFUND_DUE:
        if (status == 404 || status == 409) {
            /* The payment has not reached the processor yet, or not its
             * capture (it waits on another terminal): try again later,
             * without holding up the rest. */
            fwd_add(p, row, false, 0, NULL, NULL,
                    status == 404 ? "payment not at the processor yet"
                                  : "payment not captured yet");
        } else if (!refused && res.status == PAY_ST_REFUNDED) {
            fwd_add(p, row, true, OPLOG_PAY_REFUNDED, NULL, res.auth_code, NULL);
        } else {
            fwd_add(p, row, true, OPLOG_PAY_REFUND_DECLINED,
                    refused         ? "processor_refused"
                    : res.reason[0] ? res.reason
                                    : "declined",
                    NULL, NULL);
        }
        break;
    default: /* captures and reversals: done either way, a refusal logged */
        if (refused)
            jlog(JLOG_ERROR, "pay", "processor_refused", "{s:s,s:s,s:i}", "payment_id", row->id,
                 "step", term_pay_state_name(row->state), "status", status);
        fwd_add(p, row, true, 0, NULL, NULL, NULL);
        break;
    }
    p->next++;
    fwd_next(p);
}

/* Builds and sends the request for chunk[next]; false when it could not
 * be sent. */
static bool fwd_send(kd_pay *p, const term_pay *row)
{
    kd_app *app = p->app;
    kassa_err err;
    kbuf_reset(&p->body);
    int rc = KASSA_OK;
    const char *path = p->path;
    if (row->state == TERM_PAY_STORED) {
        pay_auth_req q = {.amount_minor = row->amount,
                          .mode = PAY_MODE_OFFLINE,
                          .capture = true,
                          .stored_at_ms = row->stored_ms};
        snprintf(q.store_id, sizeof q.store_id, "%s", app->t->store_id);
        snprintf(q.payment_id, sizeof q.payment_id, "%s", row->id);
        currency_of(app, q.currency);
        snprintf(q.token, sizeof q.token, "%s", row->token);
        memcpy(q.blob, row->blob, row->blob_len);
        q.blob_len = row->blob_len;
        rc = pay_auth_req_encode(&q, &p->body, &err);
        path = "/v1/payments";
    } else if (row->state == TERM_PAY_REFUND_DUE) {
        pay_refund_req q = {.amount_minor = row->amount};
        snprintf(q.store_id, sizeof q.store_id, "%s", app->t->store_id);
        snprintf(q.refund_id, sizeof q.refund_id, "%s", row->id);
        snprintf(q.payment_id, sizeof q.payment_id, "%s", row->payment_id);
        snprintf(q.token, sizeof q.token, "%s", row->token);
        rc = pay_refund_req_encode(&q, &p->body, &err);
        path = "/v1/refunds";
    } else {
        snprintf(p->path, sizeof p->path, "/v1/payments/%s/%s?store=%s", row->id,
                 row->state == TERM_PAY_CAPTURE_DUE ? "capture" : "reverse", app->t->store_id);
        kbuf_put(&p->body, "{}", 2);
    }
    if (rc == KASSA_OK && !p->body.oom) {
        p->fwd_call = (proc_call){.pay = p, .cb = on_fwd_answer};
        if (proc_post(p, p->forward, &p->fwd_call, path, &p->body) == KASSA_OK)
            return true;
    }
    jlog(JLOG_ERROR, "pay", "forward_not_sent", "{s:s}", "payment_id", row->id);
    return false;
}

/* A refund of a payment that ended declined or expired when its terminal
 * forwarded it (replicated here): nothing to refund at the processor. */
static bool refund_moot(kd_pay *p, const term_pay *row)
{
    term_card_payment cp;
    kassa_err err;
    return row->state == TERM_PAY_REFUND_DUE &&
           term_card_payment_get(p->app->t, row->payment_id, &cp, &err) == KASSA_OK &&
           (cp.outcome == OPLOG_PAY_DECLINED || cp.outcome == OPLOG_PAY_EXPIRED);
}

static void fwd_next(kd_pay *p)
{
    const kd_config *cfg = &p->app->cfg;
    int64_t now = kd_wall_ms();
    while (p->next < p->n_chunk) {
        const term_pay *row = &p->chunk[p->next];
        if (refund_moot(p, row)) {
            fwd_add(p, row, true, OPLOG_PAY_REFUND_DECLINED, "payment_declined", NULL, NULL);
            p->next++;
            continue;
        }
        if (row->state == TERM_PAY_STORED && now - row->stored_ms > cfg->offline_max_age_s * 1000) {
            /* Too old to send: the merchant bears it; it is for review. */
            fwd_add(p, row, true, OPLOG_PAY_EXPIRED, "too_old", NULL, NULL);
            p->next++;
            continue;
        }
        if (!cfg->processor[0] || !fwd_send(p, row)) {
            fwd_end(p, false);
            return;
        }
        return; /* on_fwd_answer goes on */
    }
    fwd_end(p, true);
}

static void fwd_pass(kd_pay *p)
{
    if (p->running)
        return;
    kassa_err err;
    p->next = 0;
    p->n_results = 0;
    if (term_pay_due(p->app->t, p->after_n, KD_PAY_FORWARD_CHUNK, p->chunk, &p->n_chunk, &err) !=
        KASSA_OK) {
        jlog(JLOG_ERROR, "pay", "forward_read_failed", "{s:s}", "error", err.msg);
        fwd_schedule(p, p->app->cfg.forward_retry_max_ms);
        return;
    }
    if (p->n_chunk == 0) {
        p->retry_ms = 0;
        p->after_n = 0;
        if (p->pass_retry)
            fwd_schedule(p, p->app->cfg.forward_retry_max_ms);
        p->pass_retry = false;
        return;
    }
    p->running = true;
    fwd_next(p);
}

static void on_fwd_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    fwd_pass(arg);
}

/* Runs a pass now, or right after the one running. */
static void fwd_soon(kd_pay *p)
{
    if (p->running) {
        p->kicked = true;
        return;
    }
    p->after_n = 0;
    fwd_schedule(p, 0);
}

void kd_pay_kick(kd_app *app)
{
    kd_pay *p = app->pay;
    if (!p)
        return;
    p->retry_ms = 0;
    fwd_soon(p);
}

void kd_pay_nudge(kd_app *app)
{
    kd_pay *p = app->pay;
    if (!p)
        return;
    /* A pass running may have read the due rows before this one: another
     * pass follows it. Idle and backing off (the processor did not answer
     * last time), the pending retry takes the new work too. */
    if (p->running)
        p->kicked = true;
    else if (p->retry_ms == 0)
        fwd_soon(p);
}

/* ---- status ---- */

int64_t kd_pay_processor_up(kd_app *app)
{
    return app->pay && app->pay->state == PROC_ONLINE;
}

json_t *kd_pay_status_json(kd_app *app)
{
    kd_pay *p = app->pay;
    term_saf_totals tot;
    size_t review = 0;
    kassa_err err;
    if (term_saf_get(app->t, NULL, &tot, &err) != KASSA_OK ||
        term_pay_review_count(app->t, &review, &err) != KASSA_OK)
        return NULL;
    const char *proc = !app->cfg.processor[0]     ? "none"
                       : p->state == PROC_ONLINE  ? "online"
                       : p->state == PROC_OFFLINE ? "offline"
                                                  : "unknown";
    return json_pack("{s:b,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "reader",
                     app->cfg.reader_socket[0] != '\0', "processor", proc, "pending_count",
                     (json_int_t)tot.count, "pending_amount_minor", (json_int_t)tot.amount,
                     "oldest_pending_ms", (json_int_t)tot.oldest_ms, "due_count",
                     (json_int_t)tot.due, "review_count", (json_int_t)review, "last_forward_ms",
                     (json_int_t)p->last_forward_ms, "retry_in_ms", (json_int_t)p->retry_ms);
}

/* ---- start and stop ---- */

int kd_pay_start(kd_app *app, kassa_err *err)
{
    kd_pay *p = calloc(1, sizeof *p);
    if (!p)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    app->pay = p;
    p->app = app;
    kbuf_init(&p->body);
    p->chunk = calloc(KD_PAY_FORWARD_CHUNK, sizeof *p->chunk);
    p->timer = evtimer_new(app->base, on_fwd_timer, p);
    if (!p->chunk || !p->timer)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory");
    if (app->cfg.processor[0] && (!(p->online = proc_conn(p)) || !(p->forward = proc_conn(p))))
        return kassa_fail(err, KASSA_ENOMEM, "cannot create the processor connections");
    /* What a crash interrupted: reads never sent are done, authorisations
     * without a sale are released. */
    size_t abandoned, to_reverse;
    int rc = term_pay_recover(app->t, &abandoned, &to_reverse, err);
    if (rc != KASSA_OK)
        return rc;
    if (abandoned || to_reverse)
        jlog(JLOG_WARN, "pay", "recovered", "{s:I,s:I}", "reads_abandoned", (json_int_t)abandoned,
             "authorisations_to_release", (json_int_t)to_reverse);
    jlog(JLOG_INFO, "pay", "card_path", "{s:s,s:s}", "reader", app->cfg.reader_socket, "processor",
         app->cfg.processor);
    fwd_schedule(p, 0);
    return KASSA_OK;
}

void kd_pay_shutdown(kd_app *app)
{
    kd_pay *p = app->pay;
    for (size_t i = 0; p && i < KD_PAY_ACTIVE_MAX; i++) {
        kd_paying *py = &p->active[i];
        if (!py->used)
            continue;
        /* Stopping mid-payment: no sale. A read is abandoned here; an
         * authorisation in flight is released at the next start. */
        kassa_err err;
        if (!py->card_read && term_pay_abandon(app->t, py->id, "reader:shutdown", &err) != KASSA_OK)
            jlog(JLOG_ERROR, "pay", "abandon_failed", "{s:s,s:s}", "payment_id", py->id, "error",
                 err.msg);
        answer_error(py, 503, KD_E_UNAVAILABLE, "shutdown", false,
                     "The terminal is stopping: payment not completed");
        release(py);
    }
}

void kd_pay_free(kd_app *app)
{
    kd_pay *p = app->pay;
    if (!p)
        return;
    kd_pay_shutdown(app);
    /* Freeing a connection drops its pending request without calling
     * back: the forwarder's answers not yet committed are sent again. */
    if (p->online)
        evhttp_connection_free(p->online);
    if (p->forward)
        evhttp_connection_free(p->forward);
    if (p->timer)
        event_free(p->timer);
    free(p->chunk);
    kbuf_free(&p->body);
    free(p);
    app->pay = NULL;
}
