/* sim_trace.c: the bounded event trace (sim_trace.h). */
#include "sim_trace.h"

#include <stdarg.h>
#include <string.h>

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

void sim_trace_reset(sim_trace *t, bool live)
{
    t->live = live;
    t->lines = 0;
    t->notable_lines = 0;
    t->digest = FNV_OFFSET;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

static void print_line(const sim_trace_line *l, FILE *out)
{
    char who[8];
    if (l->node < 0)
        snprintf(who, sizeof who, "sim");
    else if (l->node == SIM_EP_CLOUD)
        snprintf(who, sizeof who, "cloud");
    else
        snprintf(who, sizeof who, "T%d", l->node + 1);
    fprintf(out, "%11.3f ms  %-5s  %s\n", (double)l->at_us / 1000.0, who, l->text);
}

void sim_trace_add(sim_trace *t, uint64_t at_us, int node, bool notable, const char *fmt, ...)
{
    SIM_ASSERT(node >= -1 && node <= SIM_EP_CLOUD);
    sim_trace_line *l = &t->ring[t->lines % SIM_TRACE_LINES];
    l->at_us = at_us;
    l->node = (int8_t)node;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->text, sizeof l->text, fmt, ap);
    va_end(ap);
    if (n < 0)
        l->text[0] = 0;
    t->lines++;
    t->digest = fnv(t->digest, &l->at_us, sizeof l->at_us);
    t->digest = fnv(t->digest, &l->node, sizeof l->node);
    t->digest = fnv(t->digest, l->text, strlen(l->text));
    if (notable)
        t->notable[t->notable_lines++ % SIM_TRACE_NOTABLE_LINES] = *l;
    if (t->live)
        print_line(l, stdout);
}

void sim_trace_dump(const sim_trace *t, bool notable, FILE *out)
{
    uint64_t lines = notable ? t->notable_lines : t->lines;
    uint64_t size = notable ? SIM_TRACE_NOTABLE_LINES : SIM_TRACE_LINES;
    const sim_trace_line *ring = notable ? t->notable : t->ring;
    uint64_t kept = lines < size ? lines : size;
    uint64_t first = lines - kept;
    if (first)
        fprintf(out, "  (%llu earlier lines not kept; --trace prints every event)\n",
                (unsigned long long)first);
    for (uint64_t i = first; i < lines; i++)
        print_line(&ring[i % size], out);
}
