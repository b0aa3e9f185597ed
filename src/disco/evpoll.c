/* disco/evpoll: AvahiPoll on libevent. See evpoll.h. */
#include "disco/evpoll.h"

#include "jlog/jlog.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* avahi declares these as opaque; each AvahiPoll implementation defines
 * them. */
struct AvahiWatch {
    disco_evpoll *p;
    struct event *ev;
    int fd;
    AvahiWatchEvent events;  /* what avahi asked for */
    AvahiWatchEvent revents; /* what happened, for watch_get_events */
    AvahiWatchCallback cb;
    void *userdata;
    AvahiWatch *prev, *next;
};

struct AvahiTimeout {
    disco_evpoll *p;
    struct event *ev;
    AvahiTimeoutCallback cb;
    void *userdata;
    AvahiTimeout *prev, *next;
};

static void log_fail(const char *what)
{
    jlog(JLOG_ERROR, "disco", "event_loop_failed", "{s:s}", "call", what);
}

/* ---- I/O watches ---- */

static short ev_flags(AvahiWatchEvent events)
{
    /* libevent has no separate error or hang-up interest: an fd in error is
     * reported readable (and writable), which is where avahi reads the
     * error anyway. */
    short f = 0;
    if (events & AVAHI_WATCH_IN)
        f |= EV_READ;
    if (events & AVAHI_WATCH_OUT)
        f |= EV_WRITE;
    return f;
}

static void watch_fired(evutil_socket_t fd, short what, void *arg)
{
    AvahiWatch *w = arg;
    AvahiWatchEvent ev = 0;
    if (what & EV_READ)
        ev |= AVAHI_WATCH_IN;
    if (what & EV_WRITE)
        ev |= AVAHI_WATCH_OUT;
    w->revents = ev;
    /* The callback may free w (watch_free is allowed from inside it), so w
     * is not touched afterwards. libevent does not touch the event after a
     * callback returns either, which makes event_free inside it safe. */
    w->cb(w, fd, ev, w->userdata);
}

/* (Re)arms w's event for w->events; an empty set leaves it unarmed. */
static int watch_arm(AvahiWatch *w)
{
    short f = ev_flags(w->events);
    if (f == 0)
        return 0;
    if (event_assign(w->ev, w->p->base, w->fd, f | EV_PERSIST, watch_fired, w) != 0) {
        log_fail("event_assign");
        return -1;
    }
    if (event_add(w->ev, NULL) != 0) {
        log_fail("event_add");
        return -1;
    }
    return 0;
}

static AvahiWatch *watch_new(const AvahiPoll *api, int fd, AvahiWatchEvent events,
                             AvahiWatchCallback cb, void *userdata)
{
    disco_evpoll *p = api->userdata;
    AvahiWatch *w = calloc(1, sizeof *w);
    if (!w) {
        log_fail("calloc");
        return NULL;
    }
    /* Allocated once with a placeholder interest; watch_arm re-assigns it
     * in place, so watch_update never needs to allocate. */
    w->ev = event_new(p->base, fd, EV_READ | EV_PERSIST, watch_fired, w);
    if (!w->ev) {
        log_fail("event_new");
        free(w);
        return NULL;
    }
    w->p = p;
    w->fd = fd;
    w->events = events;
    w->cb = cb;
    w->userdata = userdata;
    if (watch_arm(w) != 0) {
        event_free(w->ev);
        free(w);
        return NULL;
    }
    w->next = p->watches;
    if (p->watches)
        p->watches->prev = w;
    p->watches = w;
    p->n_watches++;
    return w;
}

static void watch_update(AvahiWatch *w, AvahiWatchEvent events)
{
    if (events == w->events)
        return;
    /* event_assign is only allowed on an event that is not pending. */
    if (event_del(w->ev) != 0)
        log_fail("event_del");
    w->events = events;
    (void)watch_arm(w);
}

static AvahiWatchEvent watch_get_events(AvahiWatch *w)
{
    return w->revents;
}

static void watch_free(AvahiWatch *w)
{
    disco_evpoll *p = w->p;
    if (w->prev)
        w->prev->next = w->next;
    else
        p->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    p->n_watches--;
    event_free(w->ev); /* also removes it from the loop */
    free(w);
}

/* ---- timeouts ---- */

static void timeout_fired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    AvahiTimeout *t = arg;
    /* One-shot: after firing the timeout is disabled until avahi calls
     * timeout_update, exactly as AvahiPoll specifies. t may be freed by the
     * callback. */
    t->cb(t, t->userdata);
}

/* Arms t for the absolute wall-clock time tv (what avahi_elapse_time
 * computes); a time already past fires on the next loop iteration. */
static void timeout_arm(AvahiTimeout *t, const struct timeval *tv)
{
    struct timeval now, delay = {0, 0};
    if (gettimeofday(&now, NULL) != 0) {
        jlog(JLOG_ERROR, "disco", "event_loop_failed", "{s:s,s:s}", "call", "gettimeofday", "error",
             strerror(errno));
        /* Fire at once rather than never: avahi re-arms from its own
         * clock reading. */
    } else if (timercmp(tv, &now, >)) {
        timersub(tv, &now, &delay);
    }
    if (event_add(t->ev, &delay) != 0)
        log_fail("event_add");
}

static AvahiTimeout *timeout_new(const AvahiPoll *api, const struct timeval *tv,
                                 AvahiTimeoutCallback cb, void *userdata)
{
    disco_evpoll *p = api->userdata;
    AvahiTimeout *t = calloc(1, sizeof *t);
    if (!t) {
        log_fail("calloc");
        return NULL;
    }
    t->ev = evtimer_new(p->base, timeout_fired, t);
    if (!t->ev) {
        log_fail("evtimer_new");
        free(t);
        return NULL;
    }
    t->p = p;
    t->cb = cb;
    t->userdata = userdata;
    t->next = p->timeouts;
    if (p->timeouts)
        p->timeouts->prev = t;
    p->timeouts = t;
    p->n_timeouts++;
    if (tv)
        timeout_arm(t, tv);
    return t;
}

static void timeout_update(AvahiTimeout *t, const struct timeval *tv)
{
    if (event_del(t->ev) != 0)
        log_fail("event_del");
    if (tv)
        timeout_arm(t, tv);
}

static void timeout_free(AvahiTimeout *t)
{
    disco_evpoll *p = t->p;
    if (t->prev)
        t->prev->next = t->next;
    else
        p->timeouts = t->next;
    if (t->next)
        t->next->prev = t->prev;
    p->n_timeouts--;
    event_free(t->ev);
    free(t);
}

/* ---- the adapter ---- */

void disco_evpoll_init(disco_evpoll *p, struct event_base *base)
{
    memset(p, 0, sizeof *p);
    p->base = base;
    p->api.userdata = p;
    p->api.watch_new = watch_new;
    p->api.watch_update = watch_update;
    p->api.watch_get_events = watch_get_events;
    p->api.watch_free = watch_free;
    p->api.timeout_new = timeout_new;
    p->api.timeout_update = timeout_update;
    p->api.timeout_free = timeout_free;
}

size_t disco_evpoll_done(disco_evpoll *p)
{
    size_t n = p->n_watches + p->n_timeouts;
    while (p->watches)
        watch_free(p->watches);
    while (p->timeouts)
        timeout_free(p->timeouts);
    return n;
}
