/*
 * server.c: the reader's Unix socket on a libevent loop.
 *
 * One request per connection. A "read" becomes the one read in progress
 * (a second one at the same time is answered "busy"): it takes the oldest
 * queued present, else the default card after --read-delay-ms, else waits
 * for a present until its timeout_ms. A "present" is handed to a read that
 * is waiting for a card, else queued (at most RS_QUEUE_MAX). Answers are
 * written and the connection closed once they are out.
 *
 * A read whose client goes away (EOF, error) ends at once, so the reader
 * is free for the terminal's next attempt; clients must therefore not
 * shut down their writing side while they wait.
 */
#include "readersim/readersim.h"

#include "jlog/jlog.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct rs_server rs_server;

typedef struct rs_conn {
    rs_server *srv;
    struct bufferevent *bev;
    bool got_request; /* one request per connection: later input is dropped */
    bool answered;    /* the answer is queued: close once it is written */
    struct rs_conn *prev, *next;
} rs_conn;

typedef enum {
    READ_IDLE = 0,
    READ_WAIT_CARD,     /* nothing queued, no default card: wait for a present */
    READ_DELAY_DEFAULT, /* the default card, after the read delay */
    READ_WAIT_TIMEOUT,  /* a "timeout" present: answer timeout at the deadline */
} read_phase;

struct rs_server {
    rs_config *cfg;
    struct event_base *base;
    struct evconnlistener *listener;
    pay_sim_signals sigs;
    rs_conn *conns;
    size_t n_conns;
    /* The read in progress. */
    read_phase phase;
    rs_conn *reading;
    pay_read_req req;
    struct event *read_timer;
    /* Presents waiting for a read: a ring, FIFO. */
    rs_present queue[RS_QUEUE_MAX];
    size_t q_head, q_len;
};

/* ---- connections ---- */

static void conn_free(rs_conn *c)
{
    rs_server *s = c->srv;
    if (s->reading == c) {
        /* Its read ends with it. */
        evtimer_del(s->read_timer);
        s->reading = NULL;
        s->phase = READ_IDLE;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    bufferevent_free(c->bev);
    free(c);
}

/* Queues line as the connection's answer; it closes once written. */
static void conn_answer(rs_conn *c, const kbuf *line)
{
    c->answered = true;
    if (bufferevent_disable(c->bev, EV_READ) != 0 ||
        bufferevent_write(c->bev, line->data, line->len) != 0) {
        jlog(JLOG_WARN, "reader-sim", "write_failed", NULL);
        conn_free(c);
    }
}

static void log_read(const char *payment_id, const char *brand, const char *last4,
                     const char *outcome)
{
    jlog(JLOG_INFO, "reader-sim", "read", "{s:s,s:s,s:s,s:s}", "payment_id", payment_id, "brand",
         brand, "last4", last4, "outcome", outcome);
}

/* ---- the read in progress ---- */

static void read_done(rs_server *s)
{
    evtimer_del(s->read_timer);
    s->reading = NULL;
    s->phase = READ_IDLE;
}

static void read_answer(rs_server *s, const pay_read_reply *r)
{
    rs_conn *c = s->reading;
    kbuf line;
    kbuf_init(&line);
    kassa_err err;
    if (pay_read_reply_encode(r, &line, &err) != KASSA_OK) {
        jlog(JLOG_ERROR, "reader-sim", "encode_failed", "{s:s}", "error", err.msg);
        read_done(s);
        conn_free(c);
    } else {
        log_read(r->payment_id, r->ok ? r->card.brand : "", r->ok ? r->card.last4 : "",
                 r->ok ? "card" : r->reason);
        read_done(s);
        conn_answer(c, &line);
    }
    kbuf_free(&line);
}

static void read_error(rs_server *s, const char *reason, const char *message)
{
    pay_read_reply r;
    memset(&r, 0, sizeof r);
    snprintf(r.payment_id, sizeof r.payment_id, "%s", s->req.payment_id);
    snprintf(r.reason, sizeof r.reason, "%s", reason);
    snprintf(r.message, sizeof r.message, "%s", message);
    read_answer(s, &r);
}

static void arm_timer(rs_server *s, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    if (evtimer_add(s->read_timer, &tv) != 0) {
        /* Without a timer the read could wait forever: end it now. */
        jlog(JLOG_ERROR, "reader-sim", "timer_failed", NULL);
        read_error(s, PAY_READER_TIMEOUT, "the reader could not wait for a card");
    }
}

/* The read gets p (consumed and wiped here). */
static void read_take(rs_server *s, rs_present *p)
{
    switch (p->kind) {
    case RS_PRESENT_CARD: {
        pay_read_reply r;
        rs_card_read(&s->cfg->keys, p, &s->req, &r);
        read_answer(s, &r);
        sodium_memzero(&r, sizeof r);
        break;
    }
    case RS_PRESENT_TIMEOUT:
        s->phase = READ_WAIT_TIMEOUT;
        arm_timer(s, s->req.timeout_ms);
        break;
    case RS_PRESENT_DISCONNECT: {
        rs_conn *c = s->reading;
        log_read(s->req.payment_id, "", "", "disconnect");
        read_done(s);
        conn_free(c);
        break;
    }
    case RS_PRESENT_REMOVE:
        read_error(s, PAY_READER_CANCELLED, "the card was removed before the read ended");
        break;
    }
    rs_present_wipe(p);
}

static void on_read_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    rs_server *s = arg;
    if (!s->reading)
        return;
    if (s->phase == READ_DELAY_DEFAULT) {
        rs_present p = s->cfg->default_card;
        read_take(s, &p);
        return;
    }
    read_error(s, PAY_READER_TIMEOUT, "no card was presented in time");
}

static void read_start(rs_server *s, rs_conn *c, const pay_read_req *q)
{
    s->reading = c;
    s->req = *q;
    if (s->q_len > 0) {
        rs_present *p = &s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % RS_QUEUE_MAX;
        s->q_len--;
        read_take(s, p);
    } else if (s->cfg->has_default_card && s->cfg->read_delay_ms < q->timeout_ms) {
        s->phase = READ_DELAY_DEFAULT;
        arm_timer(s, s->cfg->read_delay_ms);
    } else {
        /* No card, or one that takes longer to read than the terminal
         * waits: the deadline decides. */
        s->phase = READ_WAIT_CARD;
        arm_timer(s, q->timeout_ms);
    }
}

/* ---- requests ---- */

static void control_answer(rs_conn *c, const char *error_message)
{
    kbuf line;
    kbuf_init(&line);
    kassa_err err;
    if (rs_control_reply_encode(error_message, &line, &err) == KASSA_OK)
        conn_answer(c, &line);
    else
        conn_free(c);
    kbuf_free(&line);
}

static void on_present(rs_server *s, rs_conn *c, const char *line, size_t n)
{
    rs_present p;
    kassa_err err;
    if (rs_present_decode(line, n, &p, &err) != KASSA_OK) {
        jlog(JLOG_WARN, "reader-sim", "bad_present", "{s:s}", "error", err.msg);
        control_answer(c, err.msg);
        return;
    }
    if (s->reading && s->phase == READ_WAIT_CARD) {
        evtimer_del(s->read_timer);
        read_take(s, &p);
        control_answer(c, NULL);
        return;
    }
    if (s->q_len == RS_QUEUE_MAX) {
        rs_present_wipe(&p);
        control_answer(c, "the reader's queue of presented cards is full");
        return;
    }
    s->queue[(s->q_head + s->q_len) % RS_QUEUE_MAX] = p;
    s->q_len++;
    rs_present_wipe(&p);
    control_answer(c, NULL);
}

static void on_read_request(rs_server *s, rs_conn *c, const char *line, size_t n)
{
    pay_read_req q;
    kassa_err err;
    if (pay_read_req_decode(line, n, &q, &err) != KASSA_OK) {
        /* No payment id to answer with: close. */
        jlog(JLOG_WARN, "reader-sim", "bad_request", "{s:s}", "error", err.msg);
        conn_free(c);
        return;
    }
    /* The request is in: the read itself may take up to timeout_ms. */
    if (bufferevent_set_timeouts(c->bev, NULL, NULL) != 0) {
        conn_free(c);
        return;
    }
    if (s->reading) {
        pay_read_reply r;
        memset(&r, 0, sizeof r);
        snprintf(r.payment_id, sizeof r.payment_id, "%s", q.payment_id);
        snprintf(r.reason, sizeof r.reason, "%s", PAY_READER_BUSY);
        snprintf(r.message, sizeof r.message, "another read is in progress");
        kbuf line_out;
        kbuf_init(&line_out);
        if (pay_read_reply_encode(&r, &line_out, &err) == KASSA_OK) {
            log_read(q.payment_id, "", "", PAY_READER_BUSY);
            conn_answer(c, &line_out);
        } else {
            conn_free(c);
        }
        kbuf_free(&line_out);
        return;
    }
    read_start(s, c, &q);
}

static void on_line(rs_server *s, rs_conn *c, const char *line, size_t n)
{
    char type[16];
    kassa_err err;
    if (rs_msg_type(line, n, type, sizeof type, &err) != KASSA_OK) {
        jlog(JLOG_WARN, "reader-sim", "bad_request", "{s:s}", "error", err.msg);
        conn_free(c);
    } else if (strcmp(type, "read") == 0) {
        on_read_request(s, c, line, n);
    } else if (strcmp(type, "present") == 0) {
        on_present(s, c, line, n);
    } else {
        jlog(JLOG_WARN, "reader-sim", "bad_request", "{s:s}", "error", "unknown message type");
        conn_free(c);
    }
}

static void on_conn_read(struct bufferevent *bev, void *arg)
{
    rs_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->got_request || c->answered) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
    if (eol.pos < 0) {
        if (evbuffer_get_length(in) >= PAY_LINE_MAX_BYTES) {
            jlog(JLOG_WARN, "reader-sim", "line_too_long", "{s:i}", "limit_bytes",
                 PAY_LINE_MAX_BYTES);
            conn_free(c);
        }
        return;
    }
    size_t n = (size_t)eol.pos + 1;
    if (n > PAY_LINE_MAX_BYTES) {
        jlog(JLOG_WARN, "reader-sim", "line_too_long", "{s:i}", "limit_bytes", PAY_LINE_MAX_BYTES);
        conn_free(c);
        return;
    }
    /* One request per connection: whatever follows the line is dropped. */
    char line[PAY_LINE_MAX_BYTES];
    if (evbuffer_remove(in, line, n) != (int)n) {
        conn_free(c);
        return;
    }
    evbuffer_drain(in, evbuffer_get_length(in));
    c->got_request = true;
    on_line(c->srv, c, line, n);
    sodium_memzero(line, sizeof line);
}

static void on_conn_write(struct bufferevent *bev, void *arg)
{
    rs_conn *c = arg;
    if (c->answered && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(c);
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    rs_conn *c = arg;
    rs_server *s = c->srv;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        if (s->reading == c)
            log_read(s->req.payment_id, "", "", "client_gone");
        conn_free(c);
    }
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    (void)l, (void)sa, (void)socklen;
    rs_server *s = arg;
    if (s->n_conns >= RS_CONN_MAX) {
        jlog(JLOG_WARN, "reader-sim", "too_many_connections", "{s:i}", "limit", RS_CONN_MAX);
        evutil_closesocket(fd);
        return;
    }
    rs_conn *c = calloc(1, sizeof *c);
    struct bufferevent *bev = c ? bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!bev) {
        jlog(JLOG_ERROR, "reader-sim", "out_of_memory", NULL);
        free(c);
        evutil_closesocket(fd);
        return;
    }
    c->srv = s;
    c->bev = bev;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    /* Reading stops at the line limit, so a client cannot make us buffer
     * more; the read callback then closes the connection. */
    bufferevent_setwatermark(bev, EV_READ, 0, PAY_LINE_MAX_BYTES);
    bufferevent_setcb(bev, on_conn_read, on_conn_write, on_conn_event, c);
    struct timeval tv = {RS_REQUEST_TIMEOUT_MS / 1000, (RS_REQUEST_TIMEOUT_MS % 1000) * 1000};
    if (bufferevent_set_timeouts(bev, &tv, NULL) != 0 ||
        bufferevent_enable(bev, EV_READ | EV_WRITE) != 0)
        conn_free(c);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    (void)l, (void)arg;
    /* EMFILE and the like: logged, the listener keeps going. */
    jlog(JLOG_WARN, "reader-sim", "accept_failed", "{s:s}", "error", strerror(errno));
}

/* ---- the socket ---- */

static int open_socket(const char *path, int *out_fd, kassa_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return kassa_fail(err, KASSA_EINVAL, "socket path longer than %zu bytes",
                          sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return kassa_fail(err, KASSA_EINVAL, "%s exists and is not a socket", path);
        /* A socket file: stale unless someone still listens on it. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
            return kassa_fail(err, KASSA_EIO, "socket: %s", strerror(errno));
        int live = connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(probe);
        if (live)
            return kassa_fail(err, KASSA_ECONFLICT, "another reader is listening on %s", path);
        if (unlink(path) != 0)
            return kassa_fail(err, KASSA_EIO, "cannot remove the stale socket %s: %s", path,
                              strerror(errno));
    } else if (errno != ENOENT) {
        return kassa_fail(err, KASSA_EIO, "cannot stat %s: %s", path, strerror(errno));
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return kassa_fail(err, KASSA_EIO, "socket: %s", strerror(errno));
    /* The umask makes the socket 0600 from its creation: no window in
     * which another user could connect. */
    mode_t old = umask(0177);
    int b = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    umask(old);
    if (b != 0) {
        close(fd);
        return kassa_fail(err, KASSA_EIO, "cannot bind %s: %s", path, strerror(e));
    }
    if (chmod(path, 0600) != 0 || listen(fd, RS_CONN_MAX) != 0) {
        e = errno;
        close(fd);
        unlink(path);
        return kassa_fail(err, KASSA_EIO, "cannot listen on %s: %s", path, strerror(e));
    }
    *out_fd = fd;
    return KASSA_OK;
}

static void server_free(rs_server *s)
{
    while (s->conns)
        conn_free(s->conns);
    if (s->listener)
        evconnlistener_free(s->listener);
    if (s->read_timer)
        event_free(s->read_timer);
    pay_sim_signals_free(&s->sigs);
    for (size_t i = 0; i < RS_QUEUE_MAX; i++)
        rs_present_wipe(&s->queue[i]);
    if (s->base)
        event_base_free(s->base);
}

int rs_serve(rs_config *cfg)
{
    rs_server *s = calloc(1, sizeof *s);
    if (!s) {
        jlog(JLOG_ERROR, "reader-sim", "out_of_memory", NULL);
        return 1;
    }
    s->cfg = cfg;
    int fd = -1, rc = 1;
    kassa_err err;
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        jlog(JLOG_ERROR, "reader-sim", "start_failed", "{s:s}", "error", "cannot ignore SIGPIPE");
        free(s);
        return 1;
    }
    if (open_socket(cfg->socket_path, &fd, &err) != KASSA_OK) {
        jlog(JLOG_ERROR, "reader-sim", "start_failed", "{s:s}", "error", err.msg);
        free(s);
        return 1;
    }
    s->base = event_base_new();
    if (s->base) {
        s->listener = evconnlistener_new(s->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE, -1, fd);
        if (s->listener)
            fd = -1; /* the listener owns it */
        s->read_timer = evtimer_new(s->base, on_read_timer, s);
    }
    if (!s->base || !s->listener || !s->read_timer ||
        !pay_sim_signals_add(&s->sigs, s->base, "reader-sim")) {
        jlog(JLOG_ERROR, "reader-sim", "start_failed", "{s:s}", "error",
             "cannot set up the event loop");
    } else {
        evconnlistener_set_error_cb(s->listener, on_accept_error);
        jlog(JLOG_INFO, "reader-sim", "start", "{s:s,s:b}", "socket", cfg->socket_path,
             "default_card", cfg->has_default_card);
        if (event_base_dispatch(s->base) < 0)
            jlog(JLOG_ERROR, "reader-sim", "loop_failed", NULL);
        else
            rc = 0;
    }
    if (fd >= 0)
        close(fd);
    server_free(s);
    free(s);
    if (unlink(cfg->socket_path) != 0 && errno != ENOENT)
        jlog(JLOG_WARN, "reader-sim", "unlink_failed", "{s:s}", "error", strerror(errno));
    jlog(JLOG_INFO, "reader-sim", "stop", NULL);
    return rc;
}
