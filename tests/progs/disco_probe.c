/*
 * disco_probe: one terminal's discovery, alone, for tests/cli/test_disco_netns.sh.
 *
 *   disco_probe --store S --node N --port P [--addr A] --expect K --timeout-ms T
 *               [--expect-reports R] [--linger-ms L] [--log-level debug|info|warn|error]
 *
 * Starts src/disco on a libevent loop (publishing store S, node N, port P,
 * and address A or every usable interface address), prints
 * "found NODE ADDR PORT" on stdout for each peer disco reports (flushed at
 * once), and exits 0 once K distinct nodes of store S were found (and, with
 * --expect-reports, at least R found lines were printed: a peer reported
 * again at a new address counts), 1 when T ms pass first. --linger-ms keeps it running (and
 * published) L ms after that, so peers still resolving it are not cut short by its goodbye. SIGTERM
 * or SIGINT stops it cleanly (status 0 if K were found, else 1), so a sanitizer build checks leaks
 * for a killed probe too. On success it writes "disco_probe: found K node(s) after X ms" on stderr.
 * jlog lines (disco's and avahi's) go to stderr. Usage errors exit 2, a failed start 3.
 */
#include "disco/disco.h"
#include "jlog/jlog.h"

#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct probe {
    struct event_base *base;
    struct event *linger;
    struct timeval linger_tv;
    unsigned expect;
    unsigned long expect_reports;
    unsigned long reports;
    bool complete;
    bool out_failed;
    struct timespec t0;
    size_t n;
    char nodes[DISCO_PEERS_MAX][KASSA_ID_MAX + 1];
} probe;

static void usage(void)
{
    fprintf(stderr, "usage: disco_probe --store S --node N --port P [--addr A] --expect K "
                    "--timeout-ms T [--expect-reports R] [--linger-ms L] [--log-level LEVEL]\n");
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != 0 || v > max)
        return false;
    *out = v;
    return true;
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return -1;
    return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void found(void *ctx, const char *node, const char *addr, uint16_t port)
{
    probe *p = ctx;
    if (printf("found %s %s %u\n", node, addr, (unsigned)port) < 0 || fflush(stdout) != 0) {
        p->out_failed = true;
        event_base_loopbreak(p->base);
        return;
    }
    p->reports++;
    bool known = false;
    for (size_t i = 0; i < p->n && !known; i++)
        known = strcmp(p->nodes[i], node) == 0;
    if (!known && p->n < DISCO_PEERS_MAX)
        snprintf(p->nodes[p->n++], sizeof p->nodes[0], "%s", node);
    if (p->complete || p->n < p->expect || p->reports < p->expect_reports)
        return;
    p->complete = true;
    fprintf(stderr, "disco_probe: found %zu node(s) after %ld ms\n", p->n, elapsed_ms(&p->t0));
    if (p->linger_tv.tv_sec == 0 && p->linger_tv.tv_usec == 0) {
        event_base_loopbreak(p->base);
    } else if (event_add(p->linger, &p->linger_tv) != 0) {
        fprintf(stderr, "disco_probe: event_add failed\n");
        event_base_loopbreak(p->base);
    }
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    const char *store = NULL, *node = NULL, *addr = NULL;
    unsigned long port = 0, expect = 0, timeout_ms = 0, linger_ms = 0, expect_reports = 0;
    bool have_port = false, have_expect = false, have_timeout = false;
    jlog_level level = JLOG_INFO;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        if (strcmp(a, "--store") == 0)
            store = v;
        else if (strcmp(a, "--node") == 0)
            node = v;
        else if (strcmp(a, "--addr") == 0)
            addr = v;
        else if (strcmp(a, "--port") == 0)
            ok = (have_port = parse_uint(v, 65535, &port)) && port > 0;
        else if (strcmp(a, "--expect") == 0)
            ok = (have_expect = parse_uint(v, DISCO_PEERS_MAX, &expect)) && expect > 0;
        else if (strcmp(a, "--timeout-ms") == 0)
            ok = have_timeout = parse_uint(v, INT_MAX, &timeout_ms);
        else if (strcmp(a, "--expect-reports") == 0)
            ok = parse_uint(v, INT_MAX, &expect_reports);
        else if (strcmp(a, "--linger-ms") == 0)
            ok = parse_uint(v, INT_MAX, &linger_ms);
        else if (strcmp(a, "--log-level") == 0)
            ok = v && jlog_level_parse(v, &level) == 0;
        else
            ok = false;
        if (!ok) {
            usage();
            return 2;
        }
    }
    if (!store || !node || !have_port || !have_expect || !have_timeout) {
        usage();
        return 2;
    }
    jlog_set_level(level);
    /* A closed stdout must be an error on write, not a killing signal. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        fprintf(stderr, "disco_probe: signal: %s\n", strerror(errno));
        return 3;
    }

    static probe p; /* static: the node table is not small */
    p.expect = (unsigned)expect;
    p.expect_reports = expect_reports;
    p.linger_tv.tv_sec = (time_t)(linger_ms / 1000);
    p.linger_tv.tv_usec = (suseconds_t)(linger_ms % 1000) * 1000;
    if (clock_gettime(CLOCK_MONOTONIC, &p.t0) != 0) {
        fprintf(stderr, "disco_probe: clock_gettime: %s\n", strerror(errno));
        return 3;
    }

    int status = 3;
    disco *d = NULL;
    struct event *timeout = NULL, *sigterm = NULL, *sigint = NULL;
    p.base = event_base_new();
    if (!p.base) {
        fprintf(stderr, "disco_probe: event_base_new failed\n");
        return 3;
    }
    struct timeval tv = {.tv_sec = (time_t)(timeout_ms / 1000),
                         .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
    timeout = evtimer_new(p.base, stop_cb, p.base);
    p.linger = evtimer_new(p.base, stop_cb, p.base);
    sigterm = evsignal_new(p.base, SIGTERM, stop_cb, p.base);
    sigint = evsignal_new(p.base, SIGINT, stop_cb, p.base);
    if (!timeout || !p.linger || !sigterm || !sigint || evtimer_add(timeout, &tv) != 0 ||
        evsignal_add(sigterm, NULL) != 0 || evsignal_add(sigint, NULL) != 0) {
        fprintf(stderr, "disco_probe: cannot set up the event loop\n");
        goto out;
    }

    disco_config cfg = {
        .store = store, .node = node, .port = (uint16_t)port, .proto = 1, .publish_addr = addr};
    kassa_err err;
    if (disco_start(p.base, &cfg, found, &p, &d, &err) != KASSA_OK) {
        fprintf(stderr, "disco_probe: %s\n", err.msg);
        goto out;
    }
    if (event_base_dispatch(p.base) < 0) {
        fprintf(stderr, "disco_probe: event loop failed\n");
        goto out;
    }
    status = p.complete && !p.out_failed ? 0 : 1;
    if (p.out_failed)
        fprintf(stderr, "disco_probe: writing stdout failed\n");
    else if (!p.complete)
        fprintf(stderr, "disco_probe: found %zu of %lu node(s) after %ld ms\n", p.n, expect,
                elapsed_ms(&p.t0));

out:
    disco_free(d);
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (p.linger)
        event_free(p.linger);
    if (timeout)
        event_free(timeout);
    event_base_free(p.base);
    return status;
}
