/*
 * sim.c: what the two payment simulators (src/readersim, src/procsim)
 * share: their start (the wiping allocator, libsodium), their flags'
 * numbers, reading a short string field, and stopping on a signal.
 *
 * The wiping allocator: jansson and libevent get allocation functions that
 * clear each block before it goes back to malloc. Card records, "present"
 * lines and request bodies pass through both libraries' buffers; without
 * this a card number would stay readable in freed heap memory (and in a
 * core dump). The blocks come from malloc itself, so free() on one is
 * still correct; malloc_usable_size gives the size to clear.
 */
#include "pay/pay.h"

#include "jlog/jlog.h"

#include <event2/event.h>
#include <jansson.h>
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void wipe_free(void *p)
{
    if (!p)
        return;
    sodium_memzero(p, malloc_usable_size(p));
    free(p);
}

/* realloc would free the old block unwiped: copy, then wipe the old. */
static void *wipe_realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    if (n == 0) {
        wipe_free(p);
        return NULL;
    }
    void *q = malloc(n);
    if (!q)
        return NULL;
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    wipe_free(p);
    return q;
}

void pay_wipe_alloc_install(void)
{
    json_set_alloc_funcs(malloc, wipe_free);
    event_set_mem_functions(malloc, wipe_realloc, wipe_free);
}

bool pay_sim_start(const char *prog)
{
    pay_wipe_alloc_install();
    if (sodium_init() < 0) {
        fprintf(stderr, "%s: libsodium cannot start\n", prog);
        return false;
    }
    return true;
}

bool pay_parse_uint(const char *s, int64_t max, int64_t *out)
{
    if (!*s)
        return false;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (*s - '0');
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

const char *pay_json_str(const json_t *o, const char *key, size_t max)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    return n >= 1 && n <= max && strlen(s) == n ? s : NULL;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    pay_sim_signals *s = arg;
    jlog(JLOG_INFO, s->component, "signal", "{s:i}", "signal", (int)sig);
    event_base_loopbreak(s->base);
}

bool pay_sim_signals_add(pay_sim_signals *s, struct event_base *base, const char *component)
{
    s->base = base;
    s->component = component;
    s->term = evsignal_new(base, SIGTERM, on_signal, s);
    s->intr = evsignal_new(base, SIGINT, on_signal, s);
    return s->term && s->intr && evsignal_add(s->term, NULL) == 0 &&
           evsignal_add(s->intr, NULL) == 0;
}

void pay_sim_signals_free(pay_sim_signals *s)
{
    if (s->term)
        event_free(s->term);
    if (s->intr)
        event_free(s->intr);
    s->term = s->intr = NULL;
}
